/*
 * Fuzz harness for the Keylime runtime-policy loader
 * (attest_policy_from_json). It must never crash, leak or read out of
 * bounds, and it must return either WD_OK with a policy or a named
 * ATTEST_ERR_POLICY_* code with none.
 *
 * Whatever it accepts must survive the network path unchanged: the policy
 * encodes to a body that attest_policy_decode accepts, the decoded policy
 * encodes to the same bytes with the same id, and both give the same
 * verdict for a set of measurements (some built from the policy's own
 * excludes and buffer names, so that accepted regexes are exercised).
 *
 * Seeds (corpus/attest_policy_json/): the real Keylime policies and the
 * generated sample of tests/vectors/policy/, and small invalid documents.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_policy.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_same_verdict (const attest_policy_t *a, const attest_policy_t *b, const attest_measurement_t *m)
{
    attest_appraisal_t ra, rb;
    attest_verdict_t va = attest_policy_appraise (a, m, &ra);
    attest_verdict_t vb = attest_policy_appraise (b, m, &rb);
    assert (va == vb && va < ATTEST_VERDICT_COUNT_);
    assert (ra.exclude == rb.exclude);
    assert ((ra.other_path == NULL) == (rb.other_path == NULL));
    if (ra.other_path)
        assert (strcmp (ra.other_path, rb.other_path) == 0);
    if (va == ATTEST_VERDICT_EXCLUDED)
        assert (ra.exclude < attest_policy_exclude_count (a));
}

static void
s_check_accepted (const attest_policy_t *policy)
{
    size_t len;
    uint8_t *body = attest_policy_encode (policy, &len);
    attest_policy_t *back = NULL;
    int err = attest_policy_decode (body, len, &back);
    assert (err == WD_OK);
    size_t again_len;
    uint8_t *again = attest_policy_encode (back, &again_len);
    assert (again_len == len && memcmp (again, body, len) == 0);
    assert (memcmp (attest_policy_id (back), attest_policy_id (policy), ATTEST_POLICY_ID_LEN) == 0);
    assert (attest_policy_digest_count (policy) >= attest_policy_path_count (policy));

    static const uint8_t zero[64];
    static const char *const algs[] = { "sha1", "sha256", "sha384", "sha512", "md5" };
    static const char *const paths[] = { "/usr/bin/true", "/tmp/x", "boot_aggregate", "" };
    for (size_t p = 0; p < sizeof paths / sizeof paths[0]; p++)
        for (size_t a = 0; a < sizeof algs / sizeof algs[0]; a++) {
            attest_measurement_t m = { .path = paths[p],
                                       .alg = algs[a],
                                       .digest = zero,
                                       .digest_len = attest_policy_alg_len (algs[a]) };
            s_same_verdict (policy, back, &m);
        }
    /* each exclude's own text as a path, and each buffer name as a buffer */
    for (size_t i = 0; i < attest_policy_exclude_count (policy); i++) {
        attest_measurement_t m = { .path = attest_policy_exclude (policy, i),
                                   .alg = "sha256",
                                   .digest = zero,
                                   .digest_len = 32 };
        s_same_verdict (policy, back, &m);
    }
    for (size_t i = 0; i < attest_policy_ima_buf_count (policy); i++) {
        attest_measurement_t m = { .path = attest_policy_ima_buf (policy, i),
                                   .alg = "sha256",
                                   .digest = zero,
                                   .digest_len = 32,
                                   .kind = ATTEST_MEASUREMENT_BUFFER };
        attest_verdict_t v = attest_policy_appraise (policy, &m, NULL);
        assert (v == ATTEST_VERDICT_NOT_APPRAISED || v == ATTEST_VERDICT_EXCLUDED);
    }
    free (again);
    free (body);
    attest_policy_destroy (&back);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    attest_policy_t *policy = NULL;
    char why[128];
    int err = attest_policy_from_json (data, size, "fuzz", 1, &policy, why, sizeof why);
    assert (strlen (why) < sizeof why);
    if (err != WD_OK) {
        assert (policy == NULL);
        assert ((err >= ATTEST_ERR_POLICY_JSON && err <= ATTEST_ERR_POLICY_UNTRUSTED_SIGNER) ||
                err == WD_ERR_NOMEM);
        return 0;
    }
    assert (policy != NULL);
    s_check_accepted (policy);
    attest_policy_destroy (&policy);
    return 0;
}
