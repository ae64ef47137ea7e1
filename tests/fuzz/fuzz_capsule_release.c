/*
 * Fuzz harness for the key release decoders (capsule_release_req_decode,
 * capsule_release_answer_decode for both kinds) and openers. None may
 * crash, leak or read out of bounds; whatever is accepted must be canonical
 * (encoding gives back the input body) and a refusal must keep its rule.
 *
 * Every input is tried as each body and as an envelope on the chain of
 * tests/vectors/capsule_records/records.txt; the request and grant
 * envelopes of those known answers must open (asserted).
 *
 * Seeds (corpus/capsule_release/, written by records_vectors.py --corpus):
 * request, grant and refusal bodies and envelopes, a refusal with code 0.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_release.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint8_t s_chain[32];
static uint8_t s_req_id[32], s_grant_id[32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    memset (s_chain, 0xc7, sizeof s_chain);
    if (!wd_hex_decode (s_req_id, 32,
                        "db8870823614e0b9407d22e0be6caec2cd044d91622062ad127a196a90069a44") ||
        !wd_hex_decode (s_grant_id, 32,
                        "e0442524b244645f42fe3f899cba7b35005ca088a4a524ffc2ce85c9d7bb202e"))
        abort ();
    return 0;
}

static void
s_check_answer (const capsule_release_answer_t *a, const uint8_t *data, size_t size)
{
    if (a->kind == CAPSULE_RELEASE_REFUSED)
        assert (a->code < 0 && a->reason[0] != '\0');
    uint8_t *body;
    size_t len;
    int rc = capsule_release_answer_encode (a, &body, &len);
    assert (rc == WD_OK);
    if (data)
        assert (len == size && memcmp (body, data, size) == 0);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    capsule_release_req_t req;
    uint8_t *body;
    size_t len;
    if (capsule_release_req_decode (data, size, &req) == WD_OK) {
        int rc = capsule_release_req_encode (&req, &body, &len);
        assert (rc == WD_OK && len == size && memcmp (body, data, size) == 0);
        free (body);
    }
    capsule_release_answer_t a;
    if (capsule_release_answer_decode (CAPSULE_RELEASE_GRANTED, data, size, &a) == WD_OK)
        s_check_answer (&a, data, size);
    if (capsule_release_answer_decode (CAPSULE_RELEASE_REFUSED, data, size, &a) == WD_OK)
        s_check_answer (&a, data, size);

    uint8_t who[32], hash[32];
    wd_hash_sha256 (hash, data, size);
    int rc = capsule_release_req_open (data, size, s_chain, &req, who);
    if (memcmp (hash, s_req_id, 32) == 0)
        assert (rc == WD_OK);
    rc = capsule_release_answer_open (data, size, s_chain, &a, who);
    if (rc == WD_OK)
        s_check_answer (&a, NULL, 0);
    if (memcmp (hash, s_grant_id, 32) == 0)
        assert (rc == WD_OK && a.kind == CAPSULE_RELEASE_GRANTED);
    return 0;
}
