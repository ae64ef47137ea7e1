/*
 * Fuzz harness for the verdict decoder (attest_verdict_decode) and opener
 * (attest_verdict_open). Neither may crash, leak or read out of bounds;
 * whatever the decoder accepts must be canonical (encoding gives back the
 * input) and carry the tier its trust vector gives.
 *
 * Every input is tried as a body and as an envelope on the chain of
 * tests/vectors/evidence/evidence.txt, accepting any signer; the sealed
 * verdict of the known answers must open (asserted).
 *
 * Seeds (corpus/attest_verdict/, written by evidence_vectors.py --corpus):
 * the verdict body and envelope and a few broken bodies.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_verdict.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint8_t s_chain[32];
static uint8_t s_sample_id[32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    memset (s_chain, 0xc4, sizeof s_chain);
    if (!wd_hex_decode (s_sample_id, 32,
                        "e4bd3b5c27784ecc1882f24b6b361dde64b01be7786ef8b0a660a6f35fcea3eb"))
        abort ();
    return 0;
}

static void
s_check (const attest_verdict_body_t *v, const uint8_t *data, size_t size)
{
    assert (v->tier == attest_verdict_tier (v->claims));
    assert (v->first_count <= ATTEST_VERDICT_FIRST_MAX && v->first_count <= v->failure_count);
    uint8_t *body;
    size_t len;
    int rc = attest_verdict_encode (v, &body, &len);
    assert (rc == WD_OK);
    if (data)
        assert (len == size && memcmp (body, data, size) == 0);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    attest_verdict_body_t v;
    if (attest_verdict_decode (data, size, &v) == WD_OK)
        s_check (&v, data, size);

    uint8_t who[32], hash[32];
    int rc = attest_verdict_open (data, size, s_chain, NULL, NULL, &v, who);
    if (rc == WD_OK)
        s_check (&v, NULL, 0);
    wd_hash_sha256 (hash, data, size);
    if (memcmp (hash, s_sample_id, 32) == 0)
        assert (rc == WD_OK);
    return 0;
}
