/*
 * Fuzz harness for the policy-object decoder (attest_policy_decode) and the
 * signed-envelope entry point (attest_policy_open). Neither may crash, leak
 * or read out of bounds, and whatever the decoder accepts must be canonical:
 * encoding the decoded policy gives back the input bytes exactly, and the
 * id is SHA-256 of them (what lets a policy id stand for its content).
 *
 * Every input is tried both as a body and as an envelope. The envelope is
 * checked against the known-answer chain and signer of
 * tests/vectors/policy/policy.txt, so the sealed sample in the corpus opens
 * (asserted: an opener that rejects everything cannot pass unnoticed), and
 * an opened envelope's body must decode on its own to the same policy.
 *
 * Seeds (corpus/attest_policy_object/): the bodies of the known answers, the
 * sealed sample envelope, and a few broken bodies.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_policy.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* tests/vectors/policy/policy.txt: chain, public_key, sample_id. */
static const char s_chain_hex[] =
    "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4";
static const char s_signer_hex[] =
    "79b5562e8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664";
static const char s_sample_id_hex[] =
    "e8cb2c88a7507fd89fa52df1a36e8be2f53438c027437279331ae79ed7d443e9";
static const char s_sample_envelope_id_hex[] =
    "820011b6bbc736baf8a57ca899f215779da22c5d786f039b1bfd48b71523a55a";

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_signer[1][WD_PUBKEY_LEN];
static uint8_t s_sample_id[32], s_sample_envelope_id[32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    if (!wd_hex_decode (s_chain, sizeof s_chain, s_chain_hex) ||
        !wd_hex_decode (s_signer[0], WD_PUBKEY_LEN, s_signer_hex) ||
        !wd_hex_decode (s_sample_id, 32, s_sample_id_hex) ||
        !wd_hex_decode (s_sample_envelope_id, 32, s_sample_envelope_id_hex))
        abort ();
    return 0;
}

static void
s_check_policy (const attest_policy_t *policy)
{
    static const uint8_t zero[64];
    static const char *const algs[] = { "sha1", "sha256", "sha384", "sha512" };
    for (size_t i = 0; i < attest_policy_path_count (policy) && i < 4; i++) {
        attest_measurement_t m = { .path = "/usr/bin/true",
                                   .alg = algs[i],
                                   .digest = zero,
                                   .digest_len = attest_policy_alg_len (algs[i]) };
        attest_appraisal_t a;
        attest_verdict_t v = attest_policy_appraise (policy, &m, &a);
        assert (v < ATTEST_VERDICT_COUNT_);
    }
    for (size_t i = 0; i < attest_policy_exclude_count (policy); i++) {
        attest_measurement_t m = { .path = attest_policy_exclude (policy, i),
                                   .alg = "sha1",
                                   .digest = zero,
                                   .digest_len = 20 };
        (void)attest_policy_appraise (policy, &m, NULL);
    }
    assert (attest_policy_alg_len (attest_policy_log_hash_alg (policy)) > 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    attest_policy_t *policy = NULL;
    int err = attest_policy_decode (data, size, &policy);
    if (err == WD_OK) {
        size_t len;
        uint8_t *body = attest_policy_encode (policy, &len);
        assert (len == size && memcmp (body, data, size) == 0);
        uint8_t id[32];
        wd_hash_sha256 (id, data, size);
        assert (memcmp (id, attest_policy_id (policy), 32) == 0);
        s_check_policy (policy);
        free (body);
        attest_policy_destroy (&policy);
    } else {
        assert (policy == NULL);
    }

    err = attest_policy_open (data, size, s_chain, (const uint8_t (*)[WD_PUBKEY_LEN])s_signer, 1,
                              &policy);
    uint8_t envelope_id[32];
    wd_hash_sha256 (envelope_id, data, size);
    if (memcmp (envelope_id, s_sample_envelope_id, 32) == 0)
        assert (err == WD_OK && memcmp (attest_policy_id (policy), s_sample_id, 32) == 0);
    if (err == WD_OK) {
        wd_envelope_t env;
        assert (wd_envelope_decode (data, size, &env) == WD_OK);
        attest_policy_t *body_policy = NULL;
        assert (attest_policy_decode (env.body, env.body_len, &body_policy) == WD_OK);
        assert (memcmp (attest_policy_id (body_policy), attest_policy_id (policy), 32) == 0);
        attest_policy_destroy (&body_policy);
        attest_policy_destroy (&policy);
    } else {
        assert (policy == NULL);
    }
    return 0;
}
