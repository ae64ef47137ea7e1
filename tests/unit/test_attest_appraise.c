/*
 * Unit tests for attest_appraise: the committed IMA lists
 * (tests/vectors/ima) replay to the PCR values of expected.txt through the
 * appraisal, in both forms and with the form detected; lists and policies
 * built here check every verdict, the treatment of violations,
 * boot_aggregate and ima-buf entries, the log_hash_alg check, rejections
 * with their entry, and that an incremental appraisal equals a full one.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "attest_appraise.h"
#include "test_support.h"
#include "wd_hash.h"

#define S_CAP 8192

/* ---- helpers ------------------------------------------------------------- */

static attest_policy_t *
s_policy (const char *json)
{
    attest_policy_t *p = NULL;
    char why[256];
    int rc = attest_policy_from_json (json, strlen (json), "test", 0, &p, why, sizeof why);
    if (rc != WD_OK)
        fail_msg ("policy: %s: %s", attest_err_name (rc), why);
    return p;
}

/* A Keylime runtime policy with the given digests object, excludes array
   and log_hash_alg. */
static attest_policy_t *
s_policy_with (const char *digests, const char *excludes, const char *alg)
{
    char json[4096];
    snprintf (json, sizeof json,
              "{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 0, \"digests\": %s, "
              "\"excludes\": %s, \"keyrings\": {}, \"ima\": {\"ignored_keyrings\": [], "
              "\"log_hash_alg\": \"%s\", \"dm_policy\": null}, \"ima-buf\": {}, "
              "\"verification-keys\": \"\"}",
              digests, excludes, alg);
    return s_policy (json);
}

/* A growing binary list built from ima-ng entries. */
typedef struct {
    uint8_t bytes[64 * 1024];
    size_t len;
    size_t offsets[64]; /* offset of entry i */
    size_t count;
} s_list_t;

/* The SHA-256 of a word, as a file digest. */
static void
s_word_digest (const char *word, uint8_t out[32])
{
    attest_ima_digest (ATTEST_IMA_SHA256, word, strlen (word), out);
}

static void
s_add (s_list_t *list, uint32_t pcr, attest_ima_hash_t alg, const uint8_t *digest, const char *name)
{
    attest_ima_entry_t e;
    uint8_t data[S_CAP];
    assert_true (attest_ima_entry_make_ng (&e, data, sizeof data, pcr, alg, digest, name,
                                           strlen (name)) > 0);
    list->offsets[list->count++] = list->len;
    list->len +=
        attest_ima_entry_binary (&e, list->bytes + list->len, sizeof list->bytes - list->len);
    assert_true (list->len <= sizeof list->bytes);
}

static void
s_add_word (s_list_t *list, const char *name, const char *word)
{
    uint8_t d[32];
    s_word_digest (word, d);
    s_add (list, 10, ATTEST_IMA_SHA256, d, name);
}

/* A violation: an ima-ng record with an all-zero template hash. */
static void
s_add_violation (s_list_t *list, const char *name)
{
    uint8_t zero[32] = { 0 };
    size_t at = list->len;
    s_add (list, 10, ATTEST_IMA_SHA256, zero, name);
    memset (list->bytes + at + 4, 0, 20);
}

static const char s_digests_json_fmt[] = "{\"/usr/bin/a\": [\"%s\"], \"/usr/bin/b\": [\"%s\"]}";

/* Policy: /usr/bin/a = sha256("a"), /usr/bin/b = sha256("b"), excludes
   /tmp/. */
static attest_policy_t *
s_ab_policy (const char *alg)
{
    uint8_t a[32], b[32];
    char ha[65], hb[65], digests[512];
    s_word_digest ("a", a);
    s_word_digest ("b", b);
    wd_hex_encode (ha, a, 32);
    wd_hex_encode (hb, b, 32);
    snprintf (digests, sizeof digests, s_digests_json_fmt, ha, hb);
    return s_policy_with (digests, "[\"/tmp/.*\"]", alg);
}

static attest_appraise_t *
s_run (const attest_policy_t *policy, const s_list_t *list, int expect_rc)
{
    attest_appraise_t *ap = attest_appraise_new (policy, ATTEST_APPRAISE_AUTO);
    assert_non_null (ap);
    char why[256];
    int rc = attest_appraise_buffer (ap, list->bytes, list->len, why, sizeof why);
    assert_int_equal (rc, expect_rc);
    assert_int_equal (attest_appraise_format (ap), ATTEST_IMA_BINARY);
    return ap;
}

/* ---- committed lists ------------------------------------------------------- */

static void
s_check_pcr (const attest_appraise_t *ap, const char *list, uint32_t pcr)
{
    char key[128];
    size_t len;
    uint8_t sha1[20], sha256[32];
    assert_true (attest_appraise_pcr (ap, pcr, sha1, sha256));
    snprintf (key, sizeof key, "%s.pcr%u.sha1", list, pcr);
    uint8_t *want = test_vector_hex ("ima/expected.txt", key, &len);
    assert_int_equal (len, 20);
    assert_memory_equal (sha1, want, 20);
    free (want);
    snprintf (key, sizeof key, "%s.pcr%u.sha256", list, pcr);
    want = test_vector_hex ("ima/expected.txt", key, &len);
    assert_int_equal (len, 32);
    assert_memory_equal (sha256, want, 32);
    free (want);
}

static void
test_vectors (void **state)
{
    (void)state;
    static const char *const lists[] = {
        "gen-mixed",
        "gen-ng-sha256",
        "log-sample",
        "real-keylime-openpower",
        "real-keylime-policy-sha1",
        "real-keylime-policy-sha256",
        "real-keylime-policy-sha384",
        "real-keylime-policy-sha512",
    };
    attest_policy_t *policy = s_policy_with ("{}", "[]", "sha1");
    for (size_t i = 0; i < sizeof lists / sizeof lists[0]; i++) {
        for (int form = 0; form < 4; form++) {
            /* forms: ascii given, binary given, ascii detected, binary detected */
            bool binary = form % 2 == 1;
            char path[512], key[128], why[256];
            snprintf (path, sizeof path, "%s/ima/%s.%s", WARDEN_VECTORS_DIR, lists[i],
                      binary ? "bin" : "ascii");
            attest_appraise_t *ap = attest_appraise_new (
                policy,
                form < 2 ? (binary ? ATTEST_IMA_BINARY : ATTEST_IMA_ASCII) : ATTEST_APPRAISE_AUTO);
            assert_non_null (ap);
            int rc = attest_appraise_file (ap, path, why, sizeof why);
            if (rc != WD_OK)
                fail_msg ("%s: %s %s", path, attest_err_name (rc), why);
            assert_int_equal (attest_appraise_format (ap),
                              binary ? ATTEST_IMA_BINARY : ATTEST_IMA_ASCII);
            size_t len;
            snprintf (key, sizeof key, "%s.entries", lists[i]);
            uint8_t *n = test_vector_hex ("ima/expected.txt", key, &len);
            uint64_t entries = 0;
            for (size_t k = 0; k < len; k++)
                entries = entries << 8 | n[k];
            free (n);
            const attest_appraise_counts_t *c = attest_appraise_counts (ap);
            assert_int_equal (c->entries, entries);
            assert_int_equal (attest_appraise_state (ap)->entries, entries);
            /* every entry is a violation, boot_aggregate, or appraised */
            const attest_policy_report_t *report = attest_appraise_report (ap);
            assert_int_equal (
                attest_policy_report_total (report) + c->violations + c->boot_aggregate, entries);
            /* the empty policy knows no path; ima-buf is not appraised */
            assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_NOT_APPRAISED),
                              c->buffers);
            assert_int_equal (attest_policy_report_failure_count (report),
                              attest_policy_report_total (report) - c->buffers);
            s_check_pcr (ap, lists[i], 10);
            if (strcmp (lists[i], "gen-mixed") == 0) {
                s_check_pcr (ap, lists[i], 9);
                s_check_pcr (ap, lists[i], 11);
                s_check_pcr (ap, lists[i], 23);
                assert_int_equal (c->other_pcr, 4);
            } else
                assert_int_equal (c->other_pcr, 0);
            uint8_t s1[20], s256[32];
            assert_false (attest_appraise_pcr (ap, 12, s1, s256));
            attest_appraise_destroy (&ap);
            assert_null (ap);
        }
    }
    attest_policy_destroy (&policy);
}

/* A real Keylime list's boot_aggregate is kept, not appraised. */
static void
test_boot_aggregate (void **state)
{
    (void)state;
    attest_policy_t *policy = s_policy_with ("{}", "[]", "sha1");
    attest_appraise_t *ap = attest_appraise_new (policy, ATTEST_APPRAISE_AUTO);
    char path[512];
    snprintf (path, sizeof path, "%s/ima/real-keylime-policy-sha256.ascii", WARDEN_VECTORS_DIR);
    assert_int_equal (attest_appraise_file (ap, path, NULL, 0), WD_OK);
    attest_ima_hash_t alg;
    uint8_t digest[ATTEST_IMA_DIGEST_MAX];
    size_t len = 0;
    assert_true (attest_appraise_boot_aggregate (ap, &alg, digest, &len));
    assert_int_equal (alg, ATTEST_IMA_SHA256);
    assert_int_equal (len, 32);
    assert_int_equal (digest[0], 0xf4);
    assert_int_equal (attest_appraise_counts (ap)->boot_aggregate, 1);
    /* /data is unknown to the empty policy */
    const attest_policy_report_t *report = attest_appraise_report (ap);
    assert_int_equal (attest_policy_report_failure_count (report), 1);
    assert_string_equal (attest_policy_report_failure (report, 0)->path, "/data");
    assert_int_equal (attest_policy_report_failure (report, 0)->index, 1);
    assert_true (attest_appraise_alg_matches (ap));
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    attest_policy_destroy (&policy);
}

/* ---- generated lists -------------------------------------------------------- */

static void
test_pass (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha1");
    s_list_t *list = calloc (1, sizeof *list);
    uint8_t ba[32];
    s_word_digest ("boot", ba);
    s_add (list, 10, ATTEST_IMA_SHA256, ba, "boot_aggregate");
    s_add_word (list, "/usr/bin/a", "a");
    s_add_word (list, "/usr/bin/b", "b");
    s_add_word (list, "/tmp/scratch", "anything");
    s_add_violation (list, "/usr/bin/c");
    attest_appraise_t *ap = s_run (policy, list, WD_OK);
    const attest_appraise_counts_t *c = attest_appraise_counts (ap);
    assert_int_equal (c->entries, 5);
    assert_int_equal (c->violations, 1);
    assert_int_equal (c->boot_aggregate, 1);
    const attest_policy_report_t *report = attest_appraise_report (ap);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_PASS), 2);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_EXCLUDED), 1);
    assert_string_equal (attest_appraise_log_hash_alg (ap), "sha1");
    assert_true (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    free (list);
    attest_policy_destroy (&policy);
}

static void
test_failures (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha1");
    s_list_t *list = calloc (1, sizeof *list);
    s_add_word (list, "/usr/bin/a", "a");
    s_add_word (list, "/usr/bin/x", "a");    /* 1: unknown path, digest allowed for a */
    s_add_word (list, "/usr/bin/b", "evil"); /* 2: digest not allowed */
    s_add_word (list, "/usr/bin/a", "b");    /* 3: not allowed, allowed for b */
    uint8_t d1[20];
    attest_ima_digest (ATTEST_IMA_SHA1, "a", 1, d1);
    s_add (list, 10, ATTEST_IMA_SHA1, d1, "/usr/bin/a"); /* 4: wrong algorithm */
    s_add_word (list, "/tmp/x", "evil");                 /* excluded */
    attest_appraise_t *ap = s_run (policy, list, WD_OK);
    const attest_policy_report_t *report = attest_appraise_report (ap);
    assert_int_equal (attest_policy_report_failure_count (report), 4);
    static const struct {
        uint64_t index;
        const char *path;
        attest_verdict_t verdict;
        const char *other;
    } want[] = {
        { 1, "/usr/bin/x", ATTEST_VERDICT_UNKNOWN_PATH, "/usr/bin/a" },
        { 2, "/usr/bin/b", ATTEST_VERDICT_DIGEST_NOT_ALLOWED, NULL },
        { 3, "/usr/bin/a", ATTEST_VERDICT_DIGEST_NOT_ALLOWED, "/usr/bin/b" },
        { 4, "/usr/bin/a", ATTEST_VERDICT_WRONG_ALG, NULL },
    };
    for (size_t i = 0; i < 4; i++) {
        const attest_policy_failure_t *f = attest_policy_report_failure (report, i);
        assert_int_equal (f->index, want[i].index);
        assert_string_equal (f->path, want[i].path);
        assert_int_equal (f->verdict, want[i].verdict);
        if (want[i].other)
            assert_string_equal (f->other_path, want[i].other);
        else
            assert_null (f->other_path);
    }
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_PASS), 1);
    assert_int_equal (attest_policy_report_count (report, ATTEST_VERDICT_EXCLUDED), 1);
    assert_true (attest_appraise_alg_matches (ap));
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    free (list);
    attest_policy_destroy (&policy);
}

/* A policy for SHA-256 template hashes does not pass a SHA-1 list, even
   when every entry passes. */
static void
test_log_hash_alg (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha256");
    s_list_t *list = calloc (1, sizeof *list);
    s_add_word (list, "/usr/bin/a", "a");
    attest_appraise_t *ap = s_run (policy, list, WD_OK);
    assert_true (attest_policy_report_passed (attest_appraise_report (ap)));
    assert_string_equal (attest_appraise_log_hash_alg (ap), "sha1");
    assert_false (attest_appraise_alg_matches (ap));
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    /* an empty list has no algorithm and passes */
    ap = attest_appraise_new (policy, ATTEST_APPRAISE_AUTO);
    assert_int_equal (attest_appraise_buffer (ap, "", 0, NULL, 0), WD_OK);
    assert_null (attest_appraise_log_hash_alg (ap));
    assert_true (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    free (list);
    attest_policy_destroy (&policy);
}

/* A tampered entry stops the run with ATTEST_ERR_TEMPLATE_HASH; the state
   names the entry and the entries before it stay appraised. */
static void
test_tampered (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha1");
    s_list_t *list = calloc (1, sizeof *list);
    s_add_word (list, "/usr/bin/a", "a");
    s_add_word (list, "/usr/bin/x", "x");
    s_add_word (list, "/usr/bin/b", "b");
    s_add_word (list, "/usr/bin/a", "a");
    list->bytes[list->offsets[3] - 2] ^= 1; /* the last name byte of entry 2 */
    attest_appraise_t *ap = attest_appraise_new (policy, ATTEST_IMA_BINARY);
    char why[256];
    assert_int_equal (attest_appraise_buffer (ap, list->bytes, list->len, why, sizeof why),
                      ATTEST_ERR_TEMPLATE_HASH);
    assert_non_null (strstr (why, "entry 2"));
    assert_int_equal (attest_appraise_state (ap)->entries, 2);
    assert_int_equal (attest_appraise_counts (ap)->entries, 2);
    assert_int_equal (attest_policy_report_failure_count (attest_appraise_report (ap)), 1);
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    free (list);
    attest_policy_destroy (&policy);
}

/* Appraising a prefix, then continuing from its saved state with only the
   rest, gives the full run's registers, counts and failures. */
static void
test_incremental (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha1");
    s_list_t *list = calloc (1, sizeof *list);
    char name[64];
    for (int i = 0; i < 30; i++) {
        snprintf (name, sizeof name, i % 7 == 3 ? "/usr/bin/x%d" : "/usr/bin/a", i);
        if (i == 11)
            s_add_violation (list, name);
        else
            s_add_word (list, name, "a");
    }
    attest_appraise_t *full = s_run (policy, list, WD_OK);
    const attest_policy_report_t *fr = attest_appraise_report (full);
    for (size_t cut = 0; cut <= list->count; cut++) {
        size_t at = cut < list->count ? list->offsets[cut] : list->len;
        attest_appraise_t *head = attest_appraise_new (policy, ATTEST_IMA_BINARY);
        assert_int_equal (attest_appraise_buffer (head, list->bytes, at, NULL, 0), WD_OK);
        attest_ima_state_t saved = *attest_appraise_state (head);
        assert_int_equal (saved.entries, cut);
        attest_appraise_t *tail = attest_appraise_continue (policy, &saved);
        assert_int_equal (attest_appraise_buffer (tail, list->bytes + at, list->len - at, NULL, 0),
                          WD_OK);
        assert_memory_equal (attest_appraise_state (tail), attest_appraise_state (full),
                             sizeof (attest_ima_state_t));
        assert_int_equal (attest_appraise_counts (tail)->entries, list->count - cut);
        const attest_policy_report_t *hr = attest_appraise_report (head);
        const attest_policy_report_t *tr = attest_appraise_report (tail);
        size_t hn = attest_policy_report_failure_count (hr);
        size_t tn = attest_policy_report_failure_count (tr);
        assert_int_equal (hn + tn, attest_policy_report_failure_count (fr));
        for (size_t i = 0; i < tn; i++)
            assert_int_equal (attest_policy_report_failure (tr, i)->index,
                              attest_policy_report_failure (fr, hn + i)->index);
        assert_int_equal (attest_appraise_counts (head)->violations +
                              attest_appraise_counts (tail)->violations,
                          1);
        attest_appraise_destroy (&head);
        attest_appraise_destroy (&tail);
    }
    attest_appraise_destroy (&full);
    free (list);
    attest_policy_destroy (&policy);
}

/* A bad saved state and a missing file are refused with their codes. */
static void
test_bad_input (void **state)
{
    (void)state;
    attest_policy_t *policy = s_ab_policy ("sha1");
    attest_ima_state_t bad;
    attest_ima_state_init (&bad, ATTEST_IMA_BINARY, 10, 0);
    bad.offset = 5; /* an offset without entries */
    attest_appraise_t *ap = attest_appraise_continue (policy, &bad);
    assert_int_equal (attest_appraise_buffer (ap, "", 0, NULL, 0), ATTEST_ERR_IMA_STATE);
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    ap = attest_appraise_new (policy, ATTEST_APPRAISE_AUTO);
    char why[256];
    assert_int_equal (attest_appraise_file (ap, "/nonexistent/ima.list", why, sizeof why),
                      WD_ERR_NOT_FOUND);
    assert_false (attest_appraise_passed (ap));
    attest_appraise_destroy (&ap);
    attest_appraise_destroy (&ap); /* safe on NULL */
    attest_policy_destroy (&policy);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vectors),      cmocka_unit_test (test_boot_aggregate),
        cmocka_unit_test (test_pass),         cmocka_unit_test (test_failures),
        cmocka_unit_test (test_log_hash_alg), cmocka_unit_test (test_tampered),
        cmocka_unit_test (test_incremental),  cmocka_unit_test (test_bad_input),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
