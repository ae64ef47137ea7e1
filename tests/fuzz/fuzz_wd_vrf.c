/*
 * Fuzz harness for VRF public-key and proof decoding (wd_vrf_verify,
 * wd_vrf_proof_to_hash). Input layout: 1 byte proof length n, a 32-byte
 * public key, n bytes of proof, the rest is alpha. Besides not crashing,
 * the two entry points must agree: a proof that verifies also hashes to the
 * same beta, and a proof that does not decode never verifies.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "wd_vrf.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1 + WD_VRF_PK_LEN || sodium_init () < 0)
        return 0;
    size_t pi_len = data[0];
    const uint8_t *pk = data + 1;
    if (size - 1 - WD_VRF_PK_LEN < pi_len)
        return 0;
    const uint8_t *pi = pk + WD_VRF_PK_LEN;
    const uint8_t *alpha = pi + pi_len;
    size_t alpha_len = size - 1 - WD_VRF_PK_LEN - pi_len;

    uint8_t beta[WD_VRF_BETA_LEN], hashed[WD_VRF_BETA_LEN];
    wd_err_t verified = wd_vrf_verify (pk, alpha, alpha_len, pi, pi_len, beta);
    wd_err_t decoded = wd_vrf_proof_to_hash (pi, pi_len, hashed);
    if (verified == WD_OK && (decoded != WD_OK || memcmp (beta, hashed, sizeof beta) != 0))
        abort ();
    if (decoded != WD_OK && verified == WD_OK)
        abort ();
    return 0;
}
