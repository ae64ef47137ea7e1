/*
 * Unit tests for attest_policy: the real Keylime runtime policies and the
 * Python-made known answers in tests/vectors/policy/, every verdict of the
 * appraisal, the report, sealing and opening, and every rejection of the
 * JSON loader and the policy-object decoder with its exact code.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attest_policy.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define S_VECTORS "policy/policy.txt"
#define S_CREATED 1767225600

/* Digests of tests/vectors/policy/warden-sample.json, by preimage. */
#define S_SHA256_TRUE  "b5bea41b6c623f7c09f1bf24dcae58ebab3c0cdd90ad966bc43a45b44867e12b"
#define S_SHA1_TRUE    "5ffe533b830f08a0326348a9160afafc8ada44db"
#define S_SHA256_FALSE "fcbcf165908dd18a9e49f7ff27810176db8e9f63b4352213741664245224f8aa"
#define S_SHA1_FALSE   "7cb6efb98ba5972a9b5090dc2e517fe14d12cb04"
#define S_SHA256_LIBC1 "f662ccb89b83280a1fd05086855860706739d9fc923cc684f67d95da88c99c77"
#define S_SHA256_LIBC2 "ef2ee6dd842826394f092475963441b65dce72b6a30d2143ceaad94a06f10aa6"
#define S_SHA1_ONLY    "06e31ff0957bf887a227f7d457315aab43da324b"
#define S_SHA384_CAFE                                                                              \
    "286ef187ce8fa0c9b3096a918ec6c4c96cb825267802c44f4e0d765728da7b1baf026fc292e273124d886911737e" \
    "3689"
#define S_SHA512_BIG                                                                               \
    "5a473dbfcc77861a88e197d0ddff25c7934b4e1a2deb30e08965a130a4a88181e34fe3d01347a2189e3df7d20797" \
    "be1d0b0bff44883e9ac164a18ec06befc101"
#define S_SHA256_EVIL "b5c1fb2efc6d6b4674c2fdcc48ce01b43a3b7c03763c0c3355de0099ee0f8c73"

static uint8_t s_pk[32], s_sk[64];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    test_keypair_from_vector (S_VECTORS, s_pk, s_sk);
    return 0;
}

static char *
s_read (const char *name, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/policy/%s", WARDEN_VECTORS_DIR, name);
    return (char *)test_read_file (path, len);
}

/* Loads a vector file; returns the loader's code. */
static int
s_load_file (const char *name, const char *policy_name, attest_policy_t **out, char *why,
             size_t why_len)
{
    size_t len;
    char *json = s_read (name, &len);
    int err = attest_policy_from_json (json, len, policy_name, S_CREATED, out, why, why_len);
    free (json);
    return err;
}

static void
s_assert_vector (const attest_policy_t *policy, const char *tag)
{
    char name[64];
    size_t len, id_len, source_len;
    snprintf (name, sizeof name, "%s_body", tag);
    uint8_t *expected = test_vector_hex (S_VECTORS, name, &len);
    snprintf (name, sizeof name, "%s_id", tag);
    uint8_t *id = test_vector_hex (S_VECTORS, name, &id_len);
    snprintf (name, sizeof name, "%s_source", tag);
    uint8_t *source = test_vector_hex (S_VECTORS, name, &source_len);
    size_t body_len;
    uint8_t *body = attest_policy_encode (policy, &body_len);
    assert_int_equal (body_len, len);
    assert_memory_equal (body, expected, len);
    assert_memory_equal (attest_policy_id (policy), id, 32);
    assert_memory_equal (attest_policy_source (policy), source, 32);
    free (body);
    free (expected);
    free (id);
    free (source);
}

static attest_policy_t *
s_sample (void)
{
    attest_policy_t *policy;
    char why[256];
    assert_int_equal (s_load_file ("warden-sample.json", "warden-sample", &policy, why, sizeof why),
                      WD_OK);
    return policy;
}

/* ---- the vectors ------------------------------------------------------------ */

static void
test_keylime_policies (void **state)
{
    (void)state;
    attest_policy_t *policy;
    char why[256];

    assert_int_equal (
        s_load_file ("keylime-runtime-policy.json", "keylime-sign", &policy, why, sizeof why),
        WD_OK);
    assert_string_equal (why, "ok");
    s_assert_vector (policy, "keylime");
    assert_int_equal (attest_policy_path_count (policy), 7);
    assert_int_equal (attest_policy_digest_count (policy), 7);
    assert_int_equal (attest_policy_exclude_count (policy), 0);
    assert_string_equal (attest_policy_log_hash_alg (policy), "sha1");
    assert_string_equal (attest_policy_name (policy), "keylime-sign");
    assert_int_equal (attest_policy_created (policy), S_CREATED);
    assert_int_equal (attest_policy_release (policy), 0);
    assert_int_equal (attest_policy_keyring_count (policy), 0);
    assert_int_equal (attest_policy_ima_buf_count (policy), 0);
    assert_false (attest_policy_has_verification_keys (policy));
    uint8_t empty[32];
    wd_hash_sha256 (empty, "", 0);
    attest_measurement_t m = {
        .path = "/usr/bin/foobar-bin", .alg = "sha256", .digest = empty, .digest_len = 32
    };
    attest_appraisal_t a;
    assert_int_equal (attest_policy_appraise (policy, &m, &a), ATTEST_VERDICT_PASS);
    /* the same digest under every path: another path is named when one
       is unknown */
    m.path = "/usr/bin/other";
    assert_int_equal (attest_policy_appraise (policy, &m, &a), ATTEST_VERDICT_UNKNOWN_PATH);
    assert_string_equal (a.other_path, "/home/foobar/non-root");
    attest_policy_destroy (&policy);
    assert_null (policy);

    assert_int_equal (s_load_file ("keylime-runtime-policy-empty.json", "keylime-empty", &policy,
                                   why, sizeof why),
                      WD_OK);
    s_assert_vector (policy, "empty");
    assert_int_equal (attest_policy_path_count (policy), 0);
    assert_int_equal (attest_policy_appraise (policy, &m, NULL), ATTEST_VERDICT_UNKNOWN_PATH);
    attest_policy_destroy (&policy);

    /* Keylime's own older test policy lists boot_aggregate as
       "sha256:<hex>", which Keylime's current schema (^[0-9a-f]{40,128}$)
       refuses too. */
    assert_int_equal (
        s_load_file ("keylime-runtime-policy-test.json", "t", &policy, why, sizeof why),
        ATTEST_ERR_POLICY_BAD_HEX);
    assert_null (policy);
    assert_non_null (strstr (why, "digests[\"boot_aggregate\"][0]"));

    assert_int_equal (
        s_load_file ("keylime-runtime-policy-test-signed.json", "t", &policy, why, sizeof why),
        ATTEST_ERR_POLICY_DSSE);
    assert_int_equal (
        s_load_file ("keylime-runtime-policy-bogus.json", "t", &policy, why, sizeof why),
        ATTEST_ERR_POLICY_JSON);
    assert_non_null (strstr (why, "line 2"));
}

static void
test_sample_vector (void **state)
{
    (void)state;
    attest_policy_t *policy = s_sample ();
    s_assert_vector (policy, "sample");
    assert_int_equal (attest_policy_path_count (policy), 8);
    assert_int_equal (attest_policy_digest_count (policy), 10); /* libc's duplicate dropped */
    assert_int_equal (attest_policy_release (policy), 7);
    assert_string_equal (attest_policy_log_hash_alg (policy), "sha256");
    assert_int_equal (attest_policy_exclude_count (policy), 4);
    assert_string_equal (attest_policy_exclude (policy, 3), "/home/[^/]+/\\.cache/");
    assert_int_equal (attest_policy_keyring_count (policy), 2);
    assert_string_equal (attest_policy_keyring (policy, 0), ".evm");
    assert_string_equal (attest_policy_keyring (policy, 1), ".ima");
    assert_int_equal (attest_policy_ima_buf_count (policy), 2);
    assert_string_equal (attest_policy_ima_buf (policy, 0), "dm_table_load");
    assert_string_equal (attest_policy_ima_buf (policy, 1), "selinux-state");
    assert_true (attest_policy_has_verification_keys (policy));
    attest_policy_destroy (&policy);
}

/* ---- appraisal ---------------------------------------------------------------- */

typedef struct {
    const char *path;
    const char *alg;
    const char *hex;
    attest_measurement_kind_t kind;
    attest_verdict_t verdict;
    size_t exclude;
    const char *other_path;
} s_case_t;

static const s_case_t s_cases[] = {
    { "/usr/bin/true", "sha256", S_SHA256_TRUE, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/usr/bin/true", "sha1", S_SHA1_TRUE, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/usr/local/bin/true", "sha256", S_SHA256_TRUE, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/usr/lib/libc.so.6", "sha256", S_SHA256_LIBC1, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/usr/lib/libc.so.6", "sha256", S_SHA256_LIBC2, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/opt/app/caf\xc3\xa9", "sha384", S_SHA384_CAFE, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "/opt/app/big", "sha512", S_SHA512_BIG, 0, ATTEST_VERDICT_PASS, 0, NULL },
    { "boot_aggregate", "sha256",
      "0000000000000000000000000000000000000000000000000000000000000000", 0, ATTEST_VERDICT_PASS, 0,
      NULL },
    /* a digest allowed elsewhere: the smallest such path is named */
    { "/usr/bin/false", "sha256", S_SHA256_TRUE, 0, ATTEST_VERDICT_DIGEST_NOT_ALLOWED, 0,
      "/usr/bin/true" },
    { "/usr/bin/false", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_DIGEST_NOT_ALLOWED, 0, NULL },
    { "/usr/bin/false", "sha1", S_SHA1_FALSE, 0, ATTEST_VERDICT_WRONG_ALG, 0, NULL },
    { "/usr/bin/sha1-only", "sha256", S_SHA256_TRUE, 0, ATTEST_VERDICT_WRONG_ALG, 0,
      "/usr/bin/true" },
    { "/usr/bin/evil", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/usr/bin/evil", "sha1", S_SHA1_ONLY, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0,
      "/usr/bin/sha1-only" },
    { "/usr/bin/tru", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/usr/bin/true/", "sha256", S_SHA256_TRUE, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0,
      "/usr/bin/true" },
    /* excludes, matched from the start of the path like Python's re.match */
    { "/tmp/x", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_EXCLUDED, 0, NULL },
    { "/tmp/", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_EXCLUDED, 0, NULL },
    { "/tmp", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/var/tmp/x", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/var/log/messages", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_EXCLUDED, 1, NULL },
    { "/proc/123/exe", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_EXCLUDED, 2, NULL },
    { "/proc/self/exe", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/home/al/.cache/x", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_EXCLUDED, 3, NULL },
    { "/home/al/xcache/x", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    { "/home/a/b/.cache/x", "sha256", S_SHA256_EVIL, 0, ATTEST_VERDICT_UNKNOWN_PATH, 0, NULL },
    /* buffers are not appraised, but excludes come first */
    { "selinux-state", "sha256", S_SHA256_EVIL, ATTEST_MEASUREMENT_BUFFER,
      ATTEST_VERDICT_NOT_APPRAISED, 0, NULL },
    { "/tmp/buf", "sha256", S_SHA256_EVIL, ATTEST_MEASUREMENT_BUFFER, ATTEST_VERDICT_EXCLUDED, 0,
      NULL },
    /* a malformed measurement is refused before anything else */
    { "/tmp/x", "md5", "0123456789abcdef0123456789abcdef", 0, ATTEST_VERDICT_BAD_MEASUREMENT, 0,
      NULL },
    { "/usr/bin/true", "sha256", S_SHA1_TRUE, 0, ATTEST_VERDICT_BAD_MEASUREMENT, 0, NULL },
    { "/usr/bin/true", "sm3_256", S_SHA256_TRUE, 0, ATTEST_VERDICT_BAD_MEASUREMENT, 0, NULL },
    { "/usr/bin/true", "SHA256", S_SHA256_TRUE, 0, ATTEST_VERDICT_BAD_MEASUREMENT, 0, NULL },
};

#define S_CASES (sizeof s_cases / sizeof s_cases[0])

static size_t
s_measurement (const s_case_t *c, uint8_t digest[64], attest_measurement_t *m)
{
    size_t len = strlen (c->hex) / 2;
    assert_true (len <= 64 && wd_hex_decode (digest, len, c->hex));
    *m = (attest_measurement_t){
        .path = c->path, .alg = c->alg, .digest = digest, .digest_len = len, .kind = c->kind
    };
    return len;
}

static void
s_check_cases (const attest_policy_t *policy)
{
    for (size_t i = 0; i < S_CASES; i++) {
        const s_case_t *c = &s_cases[i];
        uint8_t digest[64];
        attest_measurement_t m;
        s_measurement (c, digest, &m);
        attest_appraisal_t a;
        attest_verdict_t v = attest_policy_appraise (policy, &m, &a);
        if (v != c->verdict)
            fail_msg ("case %zu (%s %s): %s, expected %s", i, c->path, c->alg,
                      attest_verdict_name (v), attest_verdict_name (c->verdict));
        assert_int_equal (a.verdict, v);
        if (v == ATTEST_VERDICT_EXCLUDED)
            assert_int_equal (a.exclude, c->exclude);
        if (c->other_path)
            assert_string_equal (a.other_path, c->other_path);
        else
            assert_null (a.other_path);
        assert_int_equal (attest_policy_appraise (policy, &m, NULL), v);
    }
}

static void
test_verdicts (void **state)
{
    (void)state;
    attest_policy_t *policy = s_sample ();
    s_check_cases (policy);
    attest_policy_destroy (&policy);

    assert_int_equal (attest_policy_alg_len ("sha1"), 20);
    assert_int_equal (attest_policy_alg_len ("sha256"), 32);
    assert_int_equal (attest_policy_alg_len ("sha384"), 48);
    assert_int_equal (attest_policy_alg_len ("sha512"), 64);
    assert_int_equal (attest_policy_alg_len ("md5"), 0);
    assert_int_equal (attest_policy_alg_len (""), 0);

    static const char *const names[] = { "pass",           "excluded",           "not-appraised",
                                         "unknown-path",   "digest-not-allowed", "wrong-alg",
                                         "bad-measurement" };
    for (int v = 0; v < ATTEST_VERDICT_COUNT_; v++) {
        assert_string_equal (attest_verdict_name ((attest_verdict_t)v), names[v]);
        assert_true (strlen (attest_verdict_str ((attest_verdict_t)v)) > 10);
        assert_int_equal (attest_verdict_failed ((attest_verdict_t)v), v >= 3);
    }
    assert_string_equal (attest_verdict_name (ATTEST_VERDICT_COUNT_), "unknown");
}

/* The JSON -> object -> decode path gives the same bytes, id and verdicts. */
static void
test_object_round_trip (void **state)
{
    (void)state;
    attest_policy_t *policy = s_sample ();
    size_t len;
    uint8_t *body = attest_policy_encode (policy, &len);
    attest_policy_t *back;
    assert_int_equal (attest_policy_decode (body, len, &back), WD_OK);
    size_t again_len;
    uint8_t *again = attest_policy_encode (back, &again_len);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, body, len);
    assert_memory_equal (attest_policy_id (back), attest_policy_id (policy), 32);
    assert_string_equal (attest_policy_name (back), "warden-sample");
    assert_int_equal (attest_policy_created (back), S_CREATED);
    assert_int_equal (attest_policy_release (back), 7);
    assert_int_equal (attest_policy_digest_count (back), 10);
    assert_int_equal (attest_policy_keyring_count (back), 2);
    assert_true (attest_policy_has_verification_keys (back));
    s_check_cases (back);
    free (again);
    free (body);
    attest_policy_destroy (&back);
    attest_policy_destroy (&policy);
}

static void
test_report (void **state)
{
    (void)state;
    attest_policy_t *policy = s_sample ();
    attest_policy_report_t *report = attest_policy_report_new ();
    assert_true (attest_policy_report_passed (report));
    for (size_t i = 0; i < S_CASES; i++) {
        uint8_t digest[64];
        attest_measurement_t m;
        s_measurement (&s_cases[i], digest, &m);
        attest_appraisal_t a;
        assert_int_equal (attest_policy_report_add (report, policy, 100 + i, &m, &a),
                          s_cases[i].verdict);
    }
    assert_false (attest_policy_report_passed (report));
    assert_int_equal (attest_policy_report_total (report), S_CASES);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_PASS), 8);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_EXCLUDED), 6);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_NOT_APPRAISED), 1);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_UNKNOWN_PATH), 9);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_DIGEST_NOT_ALLOWED), 2);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_WRONG_ALG), 2);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_BAD_MEASUREMENT), 4);
    assert_int_equal (attest_policy_report_dropped (report), 0);

    /* every failing entry is kept, in order, with its index and reason */
    size_t kept = 0;
    for (size_t i = 0; i < S_CASES; i++) {
        if (!attest_verdict_failed (s_cases[i].verdict))
            continue;
        const attest_policy_failure_t *f = attest_policy_report_failure (report, kept++);
        assert_int_equal (f->index, 100 + i);
        assert_string_equal (f->path, s_cases[i].path);
        assert_int_equal (f->verdict, s_cases[i].verdict);
        if (s_cases[i].other_path)
            assert_string_equal (f->other_path, s_cases[i].other_path);
        else
            assert_null (f->other_path);
    }
    assert_int_equal (attest_policy_report_failure_count (report), kept);
    assert_int_equal (kept, 17);
    attest_policy_report_destroy (&report);
    assert_null (report);
    attest_policy_report_destroy (&report);

    /* a list that passes */
    report = attest_policy_report_new ();
    for (size_t i = 0; i < 8; i++) {
        uint8_t digest[64];
        attest_measurement_t m;
        s_measurement (&s_cases[i], digest, &m);
        attest_policy_report_add (report, policy, i, &m, NULL);
    }
    assert_true (attest_policy_report_passed (report));
    assert_int_equal (attest_policy_report_failure_count (report), 0);
    attest_policy_report_destroy (&report);
    attest_policy_destroy (&policy);
}

/* ---- sealing ------------------------------------------------------------------ */

static void
test_seal_and_open (void **state)
{
    (void)state;
    attest_policy_t *policy = s_sample ();
    size_t chain_len, vec_len, vec_id_len, pk_len;
    uint8_t *chain = test_vector_hex (S_VECTORS, "chain", &chain_len);
    uint8_t *vec = test_vector_hex (S_VECTORS, "sample_envelope", &vec_len);
    uint8_t *vec_id = test_vector_hex (S_VECTORS, "sample_envelope_id", &vec_id_len);
    uint8_t *pk = test_vector_hex (S_VECTORS, "public_key", &pk_len);
    assert_memory_equal (pk, s_pk, 32);

    uint8_t *env;
    size_t env_len;
    assert_int_equal (attest_policy_seal (policy, chain, s_pk, test_sign_fn, s_sk, &env, &env_len),
                      WD_OK);
    assert_int_equal (env_len, vec_len);
    assert_memory_equal (env, vec, vec_len);
    uint8_t id[32];
    wd_envelope_id (id, env, env_len);
    assert_memory_equal (id, vec_id, 32);

    uint8_t signers[3][WD_PUBKEY_LEN];
    memset (signers, 0x55, sizeof signers);
    memcpy (signers[2], s_pk, 32);
    attest_policy_t *opened;
    assert_int_equal (
        attest_policy_open (env, env_len, chain, (const uint8_t (*)[32])signers, 3, &opened),
        WD_OK);
    assert_memory_equal (attest_policy_id (opened), attest_policy_id (policy), 32);
    attest_policy_destroy (&opened);

    /* a valid signature from a key that is not a reference-value signer */
    assert_int_equal (
        attest_policy_open (env, env_len, chain, (const uint8_t (*)[32])signers, 2, &opened),
        ATTEST_ERR_POLICY_UNTRUSTED_SIGNER);
    assert_null (opened);
    assert_int_equal (attest_policy_open (env, env_len, chain, NULL, 0, &opened),
                      ATTEST_ERR_POLICY_UNTRUSTED_SIGNER);
    uint8_t other_chain[32] = { 0 };
    assert_int_equal (
        attest_policy_open (env, env_len, other_chain, (const uint8_t (*)[32])signers, 3, &opened),
        WD_ERR_WRONG_CHAIN);
    env[env_len - 40] ^= 1; /* a byte of the signature */
    wd_envelope_t parsed;
    assert_int_equal (wd_envelope_decode (env, env_len, &parsed), WD_OK);
    assert_int_equal (
        attest_policy_open (env, env_len, chain, (const uint8_t (*)[32])signers, 3, &opened),
        WD_ERR_BAD_SIGNATURE);
    free (env);

    /* the same body under another envelope type */
    size_t body_len;
    uint8_t *body = attest_policy_encode (policy, &body_len);
    assert_int_equal (wd_envelope_seal ("test-record", chain, s_pk, body, body_len, test_sign_fn,
                                        s_sk, &env, &env_len),
                      WD_OK);
    assert_int_equal (
        attest_policy_open (env, env_len, chain, (const uint8_t (*)[32])signers, 3, &opened),
        WD_ERR_UNEXPECTED_TYPE);
    free (env);

    /* a signed body that is not a policy: the decoder's reason */
    static const uint8_t not_policy[] = { 0x81, 0xa1, 'v', 0x01 };
    assert_int_equal (wd_envelope_seal (ATTEST_POLICY_TYPE, chain, s_pk, not_policy,
                                        sizeof not_policy, test_sign_fn, s_sk, &env, &env_len),
                      WD_OK);
    assert_int_equal (
        attest_policy_open (env, env_len, chain, (const uint8_t (*)[32])signers, 3, &opened),
        WD_ERR_MISSING_KEY);
    free (env);
    free (body);
    free (chain);
    free (vec);
    free (vec_id);
    free (pk);
    attest_policy_destroy (&policy);
}

/* ---- JSON rejections ----------------------------------------------------------- */

/* A runtime policy built from its fields: NULL takes the default, "-"
   leaves the field out, extra is appended as raw JSON members. */
typedef struct {
    const char *meta, *release, *digests, *excludes, *keyrings, *ima, *ima_buf, *vkeys, *extra;
} s_doc_t;

static char *
s_json (const s_doc_t *d)
{
    const char *names[] = { "meta",     "release", "digests", "excludes",
                            "keyrings", "ima",     "ima-buf", "verification-keys" };
    const char *values[] = {
        d->meta ? d->meta : "{\"version\": 1, \"generator\": 1}",
        d->release ? d->release : "0",
        d->digests ? d->digests : "{\"/usr/bin/true\": [\"" S_SHA256_TRUE "\"]}",
        d->excludes ? d->excludes : "[]",
        d->keyrings ? d->keyrings : "{}",
        d->ima ? d->ima
               : "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": null}",
        d->ima_buf ? d->ima_buf : "{}",
        d->vkeys ? d->vkeys : "\"\"",
    };
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream (&out, &len);
    assert_non_null (f);
    fputc ('{', f);
    bool first = true;
    for (size_t i = 0; i < 8; i++) {
        if (strcmp (values[i], "-") == 0)
            continue;
        fprintf (f, "%s\"%s\": %s", first ? "" : ", ", names[i], values[i]);
        first = false;
    }
    if (d->extra)
        fprintf (f, "%s%s", first ? "" : ", ", d->extra);
    fputc ('}', f);
    fclose (f);
    return out;
}

static int
s_load_doc (const s_doc_t *d, char *why, size_t why_len)
{
    char *json = s_json (d);
    attest_policy_t *policy = (attest_policy_t *)1;
    int err = attest_policy_from_json (json, strlen (json), "t", 1, &policy, why, why_len);
    if (err == WD_OK)
        attest_policy_destroy (&policy);
    else
        assert_null (policy);
    free (json);
    return err;
}

/* A path with more digests than are scanned in place (binary search over
   the run), given in reverse order and with repeats. */
static void
test_long_run (void **state)
{
    (void)state;
    char digests[2048], *p = digests;
    p += sprintf (p, "{\"/boot/vmlinuz\": [");
    for (int i = 11; i >= 0; i--)
        p += sprintf (p, "%s\"%064x\"", i == 11 ? "" : ", ", (unsigned)(i % 10) * 2 + 1);
    p += sprintf (p, ", \"%040x\"]}", 7u);
    char *json = s_json (&(s_doc_t){ .digests = digests });
    attest_policy_t *policy;
    char why[256];
    assert_int_equal (
        attest_policy_from_json (json, strlen (json), "t", 1, &policy, why, sizeof why), WD_OK);
    assert_int_equal (attest_policy_digest_count (policy), 11); /* 10 SHA-256, 1 SHA-1 */
    uint8_t digest[32] = { 0 };
    attest_measurement_t m = {
        .path = "/boot/vmlinuz", .alg = "sha256", .digest = digest, .digest_len = 32
    };
    for (unsigned v = 0; v < 24; v++) {
        digest[31] = (uint8_t)v;
        assert_int_equal (attest_policy_appraise (policy, &m, NULL),
                          v % 2 == 1 && v < 20 ? ATTEST_VERDICT_PASS
                                               : ATTEST_VERDICT_DIGEST_NOT_ALLOWED);
    }
    m.alg = "sha1";
    m.digest_len = 20;
    digest[19] = 7;
    assert_int_equal (attest_policy_appraise (policy, &m, NULL), ATTEST_VERDICT_PASS);
    m.alg = "sha512";
    uint8_t big[64] = { 0 };
    m.digest = big;
    m.digest_len = 64;
    assert_int_equal (attest_policy_appraise (policy, &m, NULL), ATTEST_VERDICT_WRONG_ALG);

    /* the run is stored sorted: the body decodes (strict order) */
    size_t len;
    uint8_t *body = attest_policy_encode (policy, &len);
    attest_policy_t *back;
    assert_int_equal (attest_policy_decode (body, len, &back), WD_OK);
    memset (digest, 0, sizeof digest);
    digest[31] = 5;
    m = (attest_measurement_t){
        .path = "/boot/vmlinuz", .alg = "sha256", .digest = digest, .digest_len = 32
    };
    assert_int_equal (attest_policy_appraise (back, &m, NULL), ATTEST_VERDICT_PASS);
    attest_policy_destroy (&back);
    free (body);
    attest_policy_destroy (&policy);
    free (json);
}

/* Excludes match from the start of the path, one character (not byte) at
   a time, as Python's re.match does on Keylime's str paths. */
static void
test_exclude_semantics (void **state)
{
    (void)state;
    char *json = s_json (&(s_doc_t){
        .excludes = "[\"/x/a.b\", \"/y/a[^/]b\", \"/z/\u00e9*q\", \"^/v/(log|cache)/\", "
                    "\"/w$\", \"/u/a.*\"]" });
    attest_policy_t *policy;
    char why[256];
    assert_int_equal (
        attest_policy_from_json (json, strlen (json), "t", 1, &policy, why, sizeof why), WD_OK);
    static const struct {
        const char *path;
        long exclude; /* -1: not excluded */
    } cases[] = {
        { "/x/aXb", 0 },
        { "/x/a\xc3\xa9"
          "b",
          0 },
        { "/x/a\xc3\xa9\xc3\xa9"
          "b",
          -1 },
        { "/x/a\xff"
          "b",
          -1 },
        { "/x/ab", -1 },
        { "/x/aXbmore", 0 },
        { "/y/a\xc3\xa9"
          "b",
          1 },
        { "/y/a/b", -1 },
        { "/z/q", 2 },
        { "/z/\xc3\xa9\xc3\xa9"
          "q",
          2 },
        { "/z/\xc3"
          "q",
          -1 },
        { "/v/log/x", 3 },
        { "/v/cache/", 3 },
        { "/v/tmp/", -1 },
        { "/w", 4 },
        { "/w/", -1 },
        { "/u/a", 5 },
        { "/u/b", -1 },
        { "x/x/aXb", -1 },
        { "/u/a\n", -1 },
        { "/x/aXb\n", -1 },
    };
    uint8_t digest[32] = { 0 };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        attest_measurement_t m = {
            .path = cases[i].path, .alg = "sha256", .digest = digest, .digest_len = 32
        };
        attest_appraisal_t a;
        attest_verdict_t v = attest_policy_appraise (policy, &m, &a);
        if (cases[i].exclude < 0) {
            if (v != ATTEST_VERDICT_UNKNOWN_PATH)
                fail_msg ("%s: %s, expected unknown-path", cases[i].path, attest_verdict_name (v));
        } else if (v != ATTEST_VERDICT_EXCLUDED || a.exclude != (size_t)cases[i].exclude) {
            fail_msg ("%s: %s (%zu), expected exclude %ld", cases[i].path, attest_verdict_name (v),
                      a.exclude, cases[i].exclude);
        }
    }
    attest_policy_destroy (&policy);
    free (json);
}

typedef struct {
    const char *label;
    s_doc_t doc;
    int code;
} s_reject_t;

#define S_HEX20 "0123456789abcdef0123456789abcdef01234567"

static const s_reject_t s_rejects[] = {
    { "default document is valid", { 0 }, WD_OK },
    { "unknown top-level field", { .extra = "\"rules\": \"\"" }, ATTEST_ERR_POLICY_UNKNOWN_FIELD },
    { "DSSE envelope",
      { .extra = "\"payload\": \"\", \"payloadType\": \"x\"" },
      ATTEST_ERR_POLICY_DSSE },
    { "duplicate key", { .extra = "\"release\": 0" }, ATTEST_ERR_POLICY_DUPLICATE_KEY },
    { "meta missing", { .meta = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "meta not an object", { .meta = "[]" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "meta unknown field",
      { .meta = "{\"version\": 1, \"generator\": 1, \"x\": 1}" },
      ATTEST_ERR_POLICY_UNKNOWN_FIELD },
    { "version missing", { .meta = "{\"generator\": 1}" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "version a string",
      { .meta = "{\"version\": \"1\", \"generator\": 1}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "version a real",
      { .meta = "{\"version\": 1.0, \"generator\": 1}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "version 2", { .meta = "{\"version\": 2, \"generator\": 1}" }, ATTEST_ERR_POLICY_VERSION },
    { "version 0", { .meta = "{\"version\": 0, \"generator\": 1}" }, ATTEST_ERR_POLICY_VERSION },
    { "generator missing", { .meta = "{\"version\": 1}" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "generator negative",
      { .meta = "{\"version\": 1, \"generator\": -1}" },
      ATTEST_ERR_POLICY_RANGE },
    { "timestamp a number",
      { .meta = "{\"version\": 1, \"generator\": 1, \"timestamp\": 5}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "release missing", { .release = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "release negative", { .release = "-1" }, ATTEST_ERR_POLICY_RANGE },
    { "release a string", { .release = "\"0\"" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "release too big for jansson",
      { .release = "99999999999999999999" },
      ATTEST_ERR_POLICY_JSON },
    { "digests missing", { .digests = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "digests an array", { .digests = "[]" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "digest list a string",
      { .digests = "{\"/a\": \"" S_HEX20 "\"}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "digest list empty", { .digests = "{\"/a\": []}" }, ATTEST_ERR_POLICY_EMPTY_LIST },
    { "empty path", { .digests = "{\"\": [\"" S_HEX20 "\"]}" }, ATTEST_ERR_POLICY_BAD_PATH },
    { "digest a number", { .digests = "{\"/a\": [5]}" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "digest not hex", { .digests = "{\"/a\": [\"xyz0\"]}" }, ATTEST_ERR_POLICY_BAD_HEX },
    { "digest upper case",
      { .digests = "{\"/a\": [\"0123456789ABCDEF0123456789abcdef01234567\"]}" },
      ATTEST_ERR_POLICY_BAD_HEX },
    { "digest odd length",
      { .digests = "{\"/a\": [\"" S_HEX20 "8\"]}" },
      ATTEST_ERR_POLICY_BAD_HEX },
    { "digest empty", { .digests = "{\"/a\": [\"\"]}" }, ATTEST_ERR_POLICY_BAD_HEX },
    { "digest with algorithm prefix",
      { .digests = "{\"/a\": [\"sha1:" S_HEX20 "\"]}" },
      ATTEST_ERR_POLICY_BAD_HEX },
    { "md5-sized digest",
      { .digests = "{\"/a\": [\"0123456789abcdef0123456789abcdef\"]}" },
      ATTEST_ERR_POLICY_DIGEST_LENGTH },
    { "sha224-sized digest",
      { .digests = "{\"/a\": [\"" S_HEX20 "0123456789abcdef\"]}" },
      ATTEST_ERR_POLICY_DIGEST_LENGTH },
    { "second digest bad",
      { .digests = "{\"/a\": [\"" S_HEX20 "\", \"00\"]}" },
      ATTEST_ERR_POLICY_DIGEST_LENGTH },
    { "excludes missing", { .excludes = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "excludes an object", { .excludes = "{}" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "exclude a number", { .excludes = "[1]" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "exclude empty", { .excludes = "[\"\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude unbalanced (", { .excludes = "[\"/tmp/(\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude unbalanced )", { .excludes = "[\"/tmp/)\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude a)|(b", { .excludes = "[\"a)|(b\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude unterminated [", { .excludes = "[\"/tmp/[a-z\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude trailing backslash", { .excludes = "[\"/tmp\\\\\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude leading *", { .excludes = "[\"*.so\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude bad range", { .excludes = "[\"[z-a]\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude \\d", { .excludes = "[\"/proc/\\\\d+\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude \\n", { .excludes = "[\"a\\\\nb\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude \\1", { .excludes = "[\"(a)\\\\1\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude \\<", { .excludes = "[\"\\\\<a\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude (?:", { .excludes = "[\"/(?:tmp)/\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude (?i)", { .excludes = "[\"(?i)/tmp\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude [\\.]", { .excludes = "[\"/a[\\\\.]b\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude [[:digit:]]",
      { .excludes = "[\"/proc/[[:digit:]]+\"]" },
      ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude escapes that agree",
      { .excludes = "[\"/a\\\\.b\\\\w\\\\s\\\\/\", \"x{1,3}\"]" },
      WD_OK },
    { "exclude interval too big", { .excludes = "[\"a{257}\"]" }, ATTEST_ERR_POLICY_TOO_LARGE },
    { "exclude intervals multiply",
      { .excludes = "[\"(a{20}){20}\"]" },
      ATTEST_ERR_POLICY_TOO_LARGE },
    { "exclude open interval", { .excludes = "[\"a{300,}\"]" }, ATTEST_ERR_POLICY_TOO_LARGE },
    { "exclude huge bound",
      { .excludes = "[\"a{99999999999999999999999}\"]" },
      ATTEST_ERR_POLICY_TOO_LARGE },
    { "exclude a**", { .excludes = "[\"/a**\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude a+*", { .excludes = "[\"/a+*\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude a{2}{3}", { .excludes = "[\"/a{2}{3}\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude a*??", { .excludes = "[\"/a*??\"]" }, ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude lazy a*? and a{1,2}?", { .excludes = "[\"/a*?b\", \"/a{1,2}?b\"]" }, WD_OK },
    { "exclude possessive a*+", { .excludes = "[\"/a*+b\"]" }, ATTEST_ERR_POLICY_REGEX_DIALECT },
    { "exclude many stars (found by fuzzing: minutes in regcomp)",
      { .excludes = "[\"/****************************************************************proc\"]" },
      ATTEST_ERR_POLICY_BAD_REGEX },
    { "exclude groups 8 deep", { .excludes = "[\"((((((((a*)*)*)*)*)*)*)*)\"]" }, WD_OK },
    { "exclude groups 9 deep",
      { .excludes = "[\"(((((((((a)))))))))\"]" },
      ATTEST_ERR_POLICY_TOO_LARGE },
    { "keyrings missing", { .keyrings = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "keyrings an array", { .keyrings = "[]" }, ATTEST_ERR_POLICY_FIELD_TYPE },
    { "keyring digest bad", { .keyrings = "{\".ima\": [\"0g\"]}" }, ATTEST_ERR_POLICY_BAD_HEX },
    { "keyring list empty", { .keyrings = "{\".ima\": []}" }, ATTEST_ERR_POLICY_EMPTY_LIST },
    { "ima missing", { .ima = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "ima unknown field",
      { .ima = "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": null, "
               "\"x\": 0}" },
      ATTEST_ERR_POLICY_UNKNOWN_FIELD },
    { "ignored_keyrings missing",
      { .ima = "{\"log_hash_alg\": \"sha1\", \"dm_policy\": null}" },
      ATTEST_ERR_POLICY_MISSING_FIELD },
    { "ignored_keyrings a string",
      { .ima = "{\"ignored_keyrings\": \"x\", \"log_hash_alg\": \"sha1\", \"dm_policy\": null}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "ignored keyring a number",
      { .ima = "{\"ignored_keyrings\": [1], \"log_hash_alg\": \"sha1\", \"dm_policy\": null}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "log_hash_alg md5",
      { .ima = "{\"ignored_keyrings\": [], \"log_hash_alg\": \"md5\", \"dm_policy\": null}" },
      ATTEST_ERR_POLICY_BAD_ALG },
    { "log_hash_alg a number",
      { .ima = "{\"ignored_keyrings\": [], \"log_hash_alg\": 1, \"dm_policy\": null}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "dm_policy missing",
      { .ima = "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\"}" },
      ATTEST_ERR_POLICY_MISSING_FIELD },
    { "dm_policy an object",
      { .ima = "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": {}}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "ima-buf missing", { .ima_buf = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "ima-buf list empty",
      { .ima_buf = "{\"selinux-state\": []}" },
      ATTEST_ERR_POLICY_EMPTY_LIST },
    { "ima-buf digest a list",
      { .ima_buf = "{\"selinux-state\": [[]]}" },
      ATTEST_ERR_POLICY_FIELD_TYPE },
    { "verification-keys missing", { .vkeys = "-" }, ATTEST_ERR_POLICY_MISSING_FIELD },
    { "verification-keys null", { .vkeys = "null" }, ATTEST_ERR_POLICY_FIELD_TYPE },
};

static void
test_json_rejections (void **state)
{
    (void)state;
    char why[256];
    for (size_t i = 0; i < sizeof s_rejects / sizeof s_rejects[0]; i++) {
        int err = s_load_doc (&s_rejects[i].doc, why, sizeof why);
        if (err != s_rejects[i].code)
            fail_msg ("%s: %s (%s), expected %s", s_rejects[i].label, attest_err_name (err), why,
                      attest_err_name (s_rejects[i].code));
    }

    /* the reason names the field */
    s_doc_t d = { .digests = "{\"/usr/bin/a\": [\"" S_HEX20 "\", \"ABCD\"]}" };
    assert_int_equal (s_load_doc (&d, why, sizeof why), ATTEST_ERR_POLICY_BAD_HEX);
    assert_non_null (strstr (why, "digests[\"/usr/bin/a\"][1]"));
    d = (s_doc_t){ .excludes = "[\"/tmp\", \"/proc/\\\\d\"]" };
    assert_int_equal (s_load_doc (&d, why, sizeof why), ATTEST_ERR_POLICY_REGEX_DIALECT);
    assert_non_null (strstr (why, "excludes[1]"));
    d = (s_doc_t){ .meta = "{\"version\": 1, \"generator\": true}" };
    assert_int_equal (s_load_doc (&d, why, sizeof why), ATTEST_ERR_POLICY_FIELD_TYPE);
    assert_string_equal (why, "meta.generator is a boolean, not an integer");

    /* not JSON, not an object */
    attest_policy_t *policy;
    static const struct {
        const char *json;
        int code;
    } raw[] = {
        { "", ATTEST_ERR_POLICY_JSON },
        { "{", ATTEST_ERR_POLICY_JSON },
        { "{} {}", ATTEST_ERR_POLICY_JSON },
        { "{\"a\": \"\\u0000\"}", ATTEST_ERR_POLICY_JSON },
        { "{\"a\": 1, \"a\": 1}", ATTEST_ERR_POLICY_DUPLICATE_KEY },
        { "[]", ATTEST_ERR_POLICY_NOT_OBJECT },
        { "\"policy\"", ATTEST_ERR_POLICY_JSON }, /* jansson wants an object or array */
        { "{}", ATTEST_ERR_POLICY_MISSING_FIELD },
    };
    for (size_t i = 0; i < sizeof raw / sizeof raw[0]; i++) {
        int err =
            attest_policy_from_json (raw[i].json, strlen (raw[i].json), "t", 1, &policy, why, 64);
        if (err != raw[i].code)
            fail_msg ("raw %zu: %s (%s)", i, attest_err_name (err), why);
        assert_true (strlen (why) < 64);
    }
    /* not even JSON text: bytes that are not UTF-8 */
    assert_int_equal (attest_policy_from_json ("{\"\xff\": 1}", 8, "t", 1, &policy, NULL, 0),
                      ATTEST_ERR_POLICY_JSON);

    /* the policy name */
    char *json = s_json (&(s_doc_t){ 0 });
    static const char *const bad_names[] = {
        "", "a b", "a/b", "x\n", "0123456789012345678901234567890123456789012345678901234567890123X"
    };
    for (size_t i = 0; i < sizeof bad_names / sizeof bad_names[0]; i++)
        assert_int_equal (attest_policy_from_json (json, strlen (json), bad_names[i], 1, &policy,
                                                   why, sizeof why),
                          ATTEST_ERR_POLICY_BAD_NAME);
    assert_int_equal (attest_policy_from_json (json, strlen (json),
                                               "0123456789012345678901234567890123456789012345678"
                                               "901234567890123",
                                               1, &policy, why, sizeof why),
                      WD_OK);
    attest_policy_destroy (&policy);
    free (json);
}

static void
test_json_limits (void **state)
{
    (void)state;
    char why[256];
    attest_policy_t *policy;

    /* the JSON itself */
    char *big = calloc (1, ATTEST_POLICY_JSON_MAX + 1);
    assert_non_null (big);
    assert_int_equal (
        attest_policy_from_json (big, ATTEST_POLICY_JSON_MAX + 1, "t", 1, &policy, why, sizeof why),
        ATTEST_ERR_POLICY_TOO_LARGE);
    free (big);

    /* a path */
    char *path = malloc (ATTEST_POLICY_PATH_MAX + 64);
    char *digests = malloc (ATTEST_POLICY_PATH_MAX + 128);
    memset (path, 'a', ATTEST_POLICY_PATH_MAX + 1);
    path[0] = '/';
    for (size_t len = ATTEST_POLICY_PATH_MAX; len <= ATTEST_POLICY_PATH_MAX + 1; len++) {
        snprintf (digests, ATTEST_POLICY_PATH_MAX + 128, "{\"%.*s\": [\"%s\"]}", (int)len, path,
                  S_HEX20);
        s_doc_t d = { .digests = digests, .keyrings = NULL };
        assert_int_equal (s_load_doc (&d, why, sizeof why),
                          len > ATTEST_POLICY_PATH_MAX ? ATTEST_ERR_POLICY_TOO_LARGE : WD_OK);
        d = (s_doc_t){ .ima_buf = digests };
        assert_int_equal (s_load_doc (&d, why, sizeof why),
                          len > ATTEST_POLICY_PATH_MAX ? ATTEST_ERR_POLICY_TOO_LARGE : WD_OK);
    }
    free (path);
    free (digests);

    /* an exclude's length, and how many excludes */
    char *excludes = malloc (ATTEST_POLICY_EXCLUDES * 8 + ATTEST_POLICY_REGEX_MAX + 64);
    for (size_t len = ATTEST_POLICY_REGEX_MAX; len <= ATTEST_POLICY_REGEX_MAX + 1; len++) {
        char *p = excludes;
        p += sprintf (p, "[\"");
        memset (p, 'x', len);
        p += len;
        sprintf (p, "\"]");
        s_doc_t d = { .excludes = excludes };
        assert_int_equal (s_load_doc (&d, why, sizeof why),
                          len > ATTEST_POLICY_REGEX_MAX ? ATTEST_ERR_POLICY_TOO_LARGE : WD_OK);
    }
    for (size_t count = ATTEST_POLICY_EXCLUDES; count <= ATTEST_POLICY_EXCLUDES + 1; count++) {
        char *p = excludes;
        *p++ = '[';
        for (size_t i = 0; i < count; i++)
            p += sprintf (p, "%s\"/x%zu\"", i ? "," : "", i % 1000);
        sprintf (p, "]");
        s_doc_t d = { .excludes = excludes };
        assert_int_equal (s_load_doc (&d, why, sizeof why),
                          count > ATTEST_POLICY_EXCLUDES ? ATTEST_ERR_POLICY_TOO_LARGE : WD_OK);
    }
    free (excludes);

    /* how many digests, counted over every section (ima-buf here, whose
       digests are checked but not kept) */
    size_t item = strlen (S_HEX20) + 3;
    char *list = malloc ((ATTEST_POLICY_DIGESTS_MAX + 1) * item + 64);
    char *p = list;
    p += sprintf (p, "{\"n\": [");
    for (size_t i = 0; i < ATTEST_POLICY_DIGESTS_MAX; i++)
        p += sprintf (p, "%s\"" S_HEX20 "\"", i ? "," : "");
    strcpy (p, "]}");
    s_doc_t d = { .ima_buf = list, .digests = "{}" };
    assert_int_equal (s_load_doc (&d, why, sizeof why), WD_OK);
    d.digests = NULL; /* the default has one digest more */
    assert_int_equal (s_load_doc (&d, why, sizeof why), ATTEST_ERR_POLICY_TOO_LARGE);
    free (list);
}

static void
test_json_file (void **state)
{
    (void)state;
    char why[256], path[512];
    attest_policy_t *policy;
    snprintf (path, sizeof path, "%s/policy/warden-sample.json", WARDEN_VECTORS_DIR);
    assert_int_equal (
        attest_policy_from_json_file (path, "warden-sample", S_CREATED, &policy, why, sizeof why),
        WD_OK);
    s_assert_vector (policy, "sample");
    attest_policy_destroy (&policy);

    snprintf (path, sizeof path, "%s/no-such-policy.json", test_tmpdir ());
    assert_int_equal (attest_policy_from_json_file (path, "t", 1, &policy, why, sizeof why),
                      WD_ERR_NOT_FOUND);
    assert_null (policy);
    assert_int_equal (
        attest_policy_from_json_file (test_tmpdir (), "t", 1, &policy, why, sizeof why),
        WD_ERR_NOT_REGULAR);
    /* a sparse file one byte over the limit is refused before it is read */
    snprintf (path, sizeof path, "%s/big.json", test_tmpdir ());
    int fd = open (path, O_CREAT | O_WRONLY | O_TRUNC, 0600);
    assert_true (fd >= 0);
    assert_int_equal (ftruncate (fd, (off_t)ATTEST_POLICY_JSON_MAX + 1), 0);
    close (fd);
    assert_int_equal (attest_policy_from_json_file (path, "t", 1, &policy, why, sizeof why),
                      ATTEST_ERR_POLICY_TOO_LARGE);
    unlink (path);
}

/* ---- object rejections --------------------------------------------------------- */

/* A policy body from its fields, written with the canonical writer so
   that only the field under test is wrong. */
typedef struct {
    const char *const *paths; /* path, then hex digests, "" ends a path, NULL ends */
    const char *const *excludes;
    const char *alg;
    const char *name;
    const char *const *keyrings;
    size_t source_len;
    uint64_t version;
    const char *omit; /* a top-level key left out */
    bool extra;       /* an unknown key "zzz" */
    bool created_str; /* "created" as a string */
    size_t pair_len;  /* values in each [path, digests] pair (default 2) */
} s_body_t;

static size_t
s_count (const char *const *list)
{
    size_t n = 0;
    while (list && list[n])
        n++;
    return n;
}

static uint8_t *
s_body (const s_body_t *b, size_t *len)
{
    static const char *const default_paths[] = { "/usr/bin/true", S_SHA256_TRUE, "", NULL };
    const char *const *paths = b->paths ? b->paths : default_paths;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9 - (b->omit ? 1 : 0) + (b->extra ? 1 : 0));
    if (!b->omit || strcmp (b->omit, "created") != 0) {
        wd_writer_key (w, "created");
        if (b->created_str)
            wd_writer_cstr (w, "now");
        else
            wd_writer_uint (w, S_CREATED);
    }
    wd_writer_key (w, "digests");
    size_t path_count = 0;
    for (size_t i = 0; paths[i]; path_count++) { /* path, digests..., "" */
        for (i++; paths[i][0] != '\0'; i++)
            ;
        i++;
    }
    wd_writer_array (w, path_count);
    for (size_t i = 0; paths[i];) {
        size_t pair = b->pair_len ? b->pair_len : 2;
        wd_writer_array (w, pair);
        wd_writer_cstr (w, paths[i++]);
        size_t n = 0;
        while (paths[i + n][0] != '\0')
            n++;
        if (pair >= 2) {
            wd_writer_array (w, n);
            for (size_t d = 0; d < n; d++) {
                uint8_t digest[64];
                size_t dlen = strlen (paths[i + d]) / 2;
                assert_true (wd_hex_decode (digest, dlen, paths[i + d]));
                wd_writer_bin (w, digest, dlen);
            }
        }
        for (size_t extra = 2; extra < pair; extra++)
            wd_writer_nil (w);
        i += n + 1;
    }
    wd_writer_key (w, "excludes");
    wd_writer_array (w, s_count (b->excludes));
    for (size_t i = 0; i < s_count (b->excludes); i++)
        wd_writer_cstr (w, b->excludes[i]);
    wd_writer_key (w, "log_hash_alg");
    wd_writer_cstr (w, b->alg ? b->alg : "sha1");
    wd_writer_key (w, "name");
    wd_writer_cstr (w, b->name ? b->name : "t");
    wd_writer_key (w, "not_appraised");
    wd_writer_map (w, 3);
    wd_writer_key (w, "ima-buf");
    wd_writer_array (w, 0);
    wd_writer_key (w, "keyrings");
    wd_writer_array (w, s_count (b->keyrings));
    for (size_t i = 0; i < s_count (b->keyrings); i++)
        wd_writer_cstr (w, b->keyrings[i]);
    wd_writer_key (w, "verification-keys");
    wd_writer_bool (w, false);
    wd_writer_key (w, "release");
    wd_writer_uint (w, 0);
    if (!b->omit || strcmp (b->omit, "source") != 0) {
        uint8_t source[33] = { 0 };
        wd_writer_key (w, "source");
        wd_writer_bin (w, source, b->source_len ? b->source_len : 32);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, b->version ? b->version : 1);
    if (b->extra) {
        wd_writer_key (w, "zzz");
        wd_writer_nil (w);
    }
    uint8_t *body = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return body;
}

static int
s_decode (const s_body_t *b)
{
    size_t len;
    uint8_t *body = s_body (b, &len);
    attest_policy_t *policy = (attest_policy_t *)1;
    int err = attest_policy_decode (body, len, &policy);
    if (err == WD_OK) {
        size_t again_len;
        uint8_t *again = attest_policy_encode (policy, &again_len);
        assert_int_equal (again_len, len);
        assert_memory_equal (again, body, len);
        free (again);
        attest_policy_destroy (&policy);
    } else {
        assert_null (policy);
    }
    free (body);
    return err;
}

static void
test_object_rejections (void **state)
{
    (void)state;
    static const char *const unsorted_paths[] = {
        "/b", S_SHA1_TRUE, "", "/a", S_SHA1_TRUE, "", NULL
    };
    static const char *const prefix_paths[] = {
        "/ab", S_SHA1_TRUE, "", "/a", S_SHA1_TRUE, "", NULL
    };
    static const char *const sorted_paths[] = { "/a", S_SHA1_TRUE, "",          "/ab", S_SHA1_TRUE,
                                                "",   "/b",        S_SHA1_TRUE, "",    NULL };
    static const char *const duplicate_paths[] = { "/a",        S_SHA1_TRUE, "",  "/a",
                                                   S_SHA1_TRUE, "",          NULL };
    static const char *const unsorted_run[] = { "/a", S_SHA256_FALSE, S_SHA256_TRUE, "", NULL };
    static const char *const long_first[] = { "/a", S_SHA256_TRUE, S_SHA1_TRUE, "", NULL };
    static const char *const sorted_run[] = {
        "/a", S_SHA1_TRUE, S_SHA256_TRUE, S_SHA256_FALSE, S_SHA512_BIG, "", NULL
    };
    static const char *const duplicate_run[] = { "/a", S_SHA1_TRUE, S_SHA1_TRUE, "", NULL };
    static const char *const md5_run[] = { "/a", "0123456789abcdef0123456789abcdef", "", NULL };
    static const char *const empty_run[] = { "/a", "", NULL };
    static const char *const empty_path[] = { "", S_SHA1_TRUE, "", NULL };
    static const char *const bad_exclude[] = { "(", NULL };
    static const char *const dialect_exclude[] = { "\\d", NULL };
    static const char *const good_excludes[] = { "/tmp/.*", "^/var/log/", NULL };
    static const char *const unsorted_names[] = { ".ima", ".evm", NULL };
    static const char *const duplicate_names[] = { ".ima", ".ima", NULL };
    static const char *const empty_name[] = { "", NULL };
    static const char *const sorted_names[] = { ".evm", ".ima", NULL };

    static const struct {
        const char *label;
        s_body_t body;
        int code;
    } cases[] = {
        { "default body", { 0 }, WD_OK },
        { "paths in order", { .paths = sorted_paths }, WD_OK },
        { "digests in order", { .paths = sorted_run }, WD_OK },
        { "excludes", { .excludes = good_excludes }, WD_OK },
        { "names in order", { .keyrings = sorted_names }, WD_OK },
        { "paths unsorted", { .paths = unsorted_paths }, ATTEST_ERR_POLICY_UNSORTED },
        { "longer path first", { .paths = prefix_paths }, ATTEST_ERR_POLICY_UNSORTED },
        { "path twice", { .paths = duplicate_paths }, ATTEST_ERR_POLICY_UNSORTED },
        { "digests unsorted", { .paths = unsorted_run }, ATTEST_ERR_POLICY_UNSORTED },
        { "longer digest first", { .paths = long_first }, ATTEST_ERR_POLICY_UNSORTED },
        { "digest twice", { .paths = duplicate_run }, ATTEST_ERR_POLICY_UNSORTED },
        { "md5-sized digest", { .paths = md5_run }, ATTEST_ERR_POLICY_DIGEST_LENGTH },
        { "no digests", { .paths = empty_run }, ATTEST_ERR_POLICY_EMPTY_LIST },
        { "empty path", { .paths = empty_path }, ATTEST_ERR_POLICY_BAD_PATH },
        { "pair of 3", { .pair_len = 3 }, WD_ERR_BAD_LENGTH },
        { "pair of 1", { .pair_len = 1 }, WD_ERR_BAD_LENGTH },
        { "bad exclude", { .excludes = bad_exclude }, ATTEST_ERR_POLICY_BAD_REGEX },
        { "Python exclude", { .excludes = dialect_exclude }, ATTEST_ERR_POLICY_REGEX_DIALECT },
        { "log_hash_alg md5", { .alg = "md5" }, ATTEST_ERR_POLICY_BAD_ALG },
        { "log_hash_alg too long", { .alg = "sha256sum" }, WD_ERR_OVERSIZE },
        { "bad name", { .name = "a b" }, ATTEST_ERR_POLICY_BAD_NAME },
        { "empty name", { .name = "" }, ATTEST_ERR_POLICY_BAD_NAME },
        { "name too long",
          { .name = "0123456789012345678901234567890123456789012345678901234567890123X" },
          WD_ERR_OVERSIZE },
        { "names unsorted", { .keyrings = unsorted_names }, ATTEST_ERR_POLICY_UNSORTED },
        { "name twice", { .keyrings = duplicate_names }, ATTEST_ERR_POLICY_UNSORTED },
        { "empty keyring name", { .keyrings = empty_name }, ATTEST_ERR_POLICY_BAD_PATH },
        { "source 31 bytes", { .source_len = 31 }, WD_ERR_BAD_LENGTH },
        { "source missing", { .omit = "source" }, WD_ERR_MISSING_KEY },
        { "created missing", { .omit = "created" }, WD_ERR_MISSING_KEY },
        { "created a string", { .created_str = true }, WD_ERR_WRONG_TYPE },
        { "version 2", { .version = 2 }, WD_ERR_BAD_VERSION },
        { "unknown key", { .extra = true }, WD_ERR_UNKNOWN_KEY },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        int err = s_decode (&cases[i].body);
        if (err != cases[i].code)
            fail_msg ("%s: %s, expected %s", cases[i].label, attest_err_name (err),
                      attest_err_name (cases[i].code));
    }

    /* a path with a NUL, and one past the limit */
    char long_path[ATTEST_POLICY_PATH_MAX + 2];
    memset (long_path, 'a', sizeof long_path - 1);
    long_path[sizeof long_path - 1] = '\0';
    const char *const long_paths[] = { long_path, S_SHA1_TRUE, "", NULL };
    assert_int_equal (s_decode (&(s_body_t){ .paths = long_paths }), WD_ERR_OVERSIZE);
    long_path[ATTEST_POLICY_PATH_MAX] = '\0';
    assert_int_equal (s_decode (&(s_body_t){ .paths = long_paths }), WD_OK);

    /* canonical-msgpack reasons come from the codec, before the schema */
    size_t len;
    uint8_t *body = s_body (&(s_body_t){ 0 }, &len);
    attest_policy_t *policy;
    assert_int_equal (attest_policy_decode (body, 0, &policy), WD_ERR_TRUNCATED);
    assert_int_equal (attest_policy_decode (body, len - 1, &policy), WD_ERR_TRUNCATED);
    uint8_t *longer = malloc (len + 4);
    memcpy (longer, body, len);
    longer[len] = 0xc0;
    assert_int_equal (attest_policy_decode (longer, len + 1, &policy), WD_ERR_TRAILING);
    /* "created" as uint64 instead of uint32: 89 a7 "created" ce XXXXXXXX */
    assert_int_equal (body[9], 0xce);
    memmove (longer + 14, body + 10, len - 10);
    memcpy (longer, body, 9);
    memcpy (longer + 9, "\xcf\x00\x00\x00\x00", 5);
    assert_int_equal (attest_policy_decode (longer, len + 4, &policy), WD_ERR_INT_NONCANONICAL);
    body[0] = 0x90; /* an array where the map should be */
    assert_int_equal (attest_policy_decode (body, 1, &policy), WD_ERR_WRONG_TYPE);
    assert_int_equal (attest_policy_decode (body, ATTEST_POLICY_OBJECT_MAX + 1, &policy),
                      WD_ERR_OVERSIZE);
    free (longer);
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_keylime_policies), cmocka_unit_test (test_sample_vector),
        cmocka_unit_test (test_verdicts),         cmocka_unit_test (test_exclude_semantics),
        cmocka_unit_test (test_long_run),         cmocka_unit_test (test_object_round_trip),
        cmocka_unit_test (test_report),           cmocka_unit_test (test_seal_and_open),
        cmocka_unit_test (test_json_rejections),  cmocka_unit_test (test_json_limits),
        cmocka_unit_test (test_json_file),        cmocka_unit_test (test_object_rejections),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
