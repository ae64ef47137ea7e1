/*
 * Fuzz harness for sortition claims as they arrive from peers: the wire
 * decoder (cons_sortition_claim_decode) and then cons_sortition_verify on
 * whatever decodes, against a fixed input and a fixed VRF key. Neither may
 * crash or read out of bounds; whatever decodes must be canonical (writing
 * the decoded claim again gives back the input bytes); and the one claim
 * that is genuinely valid (made at start with the real VRF, also the seed
 * corpus file `valid`) must verify, so a verifier that rejects everything
 * cannot pass unnoticed.
 */
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_sortition.h"
#include "wd_codec.h"
#include "wd_vrf.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static cons_sortition_input_t s_in;
static uint8_t s_pk[WD_VRF_PK_LEN];
static cons_sortition_claim_t s_valid;

/* The input the corpus's valid claim was made for: key seed 32 x 0x01,
   verifier role, chain 32 x 0xc4, seed 0x20..0x3f, height 1000000, round
   0, subject 0xa0..0xbf, weight 500 of 1000, tau 7. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    uint8_t seed[WD_VRF_SEED_LEN];
    memset (seed, 0x01, sizeof seed);
    wd_vrf_key_t *key = wd_vrf_key_new (seed);
    if (!key)
        abort ();
    memcpy (s_pk, wd_vrf_key_public (key), sizeof s_pk);
    memset (s_in.chain_id, 0xc4, sizeof s_in.chain_id);
    for (int i = 0; i < 32; i++) {
        s_in.seed[i] = (uint8_t)(0x20 + i);
        s_in.subject[i] = (uint8_t)(0xa0 + i);
    }
    s_in.role = CONS_ROLE_VERIFIER;
    s_in.height = 1000000;
    s_in.round = 0;
    s_in.weight = 500;
    s_in.total_weight = 1000;
    s_in.tau = 7;
    if (cons_sortition_prove (&s_in, wd_vrf_prove_fn_key, key, &s_valid) != 0 ||
        s_valid.count == 0 || cons_sortition_verify (&s_in, s_pk, &s_valid) != 0)
        abort ();
    wd_vrf_key_destroy (&key);
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cons_sortition_claim_t claim;
    if (cons_sortition_claim_decode (data, size, &claim) != WD_OK)
        return 0;

    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (&claim, w);
    size_t len;
    const uint8_t *again = wd_writer_data (w, &len);
    if (len != size || memcmp (again, data, size) != 0)
        abort ();
    wd_writer_destroy (&w);

    int rc = cons_sortition_verify (&s_in, s_pk, &claim);
    bool is_valid = memcmp (&claim, &s_valid, sizeof claim) == 0;
    if ((rc == 0) != is_valid)
        abort ();
    return 0;
}
