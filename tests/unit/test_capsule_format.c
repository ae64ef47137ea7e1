/*
 * Unit tests for capsule_format and capsule_policy: capsules made by an
 * independent Python implementation (tests/vectors/capsule/) accepted,
 * opened or rejected with their exact reasons; key wraps; the policy's
 * encoding and every release decision.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_err.h"
#include "capsule_format.h"
#include "capsule_policy.h"
#include "capsule_seal.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define KEYS "capsule/keys.txt"

static uint8_t s_chain[32], s_rcpt_sk[2][32], s_rcpt_pk[2][32], s_out_sk[32], s_out_pk[32];

static void
s_key (const char *name, uint8_t out[32])
{
    size_t len;
    uint8_t *v = test_vector_hex (KEYS, name, &len);
    assert_int_equal (len, 32);
    memcpy (out, v, 32);
    free (v);
}

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    s_key ("chain", s_chain);
    s_key ("recipient0_sk", s_rcpt_sk[0]);
    s_key ("recipient1_sk", s_rcpt_sk[1]);
    s_key ("outsider_sk", s_out_sk);
    for (int i = 0; i < 2; i++)
        crypto_scalarmult_base (s_rcpt_pk[i], s_rcpt_sk[i]);
    crypto_scalarmult_base (s_out_pk, s_out_sk);
    return 0;
}

static uint8_t *
s_pattern (size_t n)
{
    uint8_t *p = malloc (n ? n : 1);
    assert_non_null (p);
    for (size_t i = 0; i < n; i++)
        p[i] = (uint8_t)(31 * i + 7);
    return p;
}

/* Opens h (from buf) with recipient r's key; returns the result code and
   checks the plaintext when it succeeds. */
static int
s_open_as (const capsule_header_t *h, const uint8_t *buf, size_t len, int r)
{
    capsule_key_t *key = NULL;
    int rc = capsule_unwrap (h, s_rcpt_pk[r], s_rcpt_sk[r], &key);
    if (rc != 0)
        return rc;
    uint8_t *plain = NULL;
    size_t plain_len = 0;
    rc = capsule_open_mem (h, buf, len, key, &plain, &plain_len);
    capsule_key_destroy (&key);
    assert_null (key);
    if (rc == 0) {
        uint8_t *want = s_pattern (plain_len);
        assert_int_equal (plain_len, h->plain_len);
        assert_memory_equal (plain, want, plain_len);
        free (want);
    }
    free (plain);
    return rc;
}

static void
test_python_vectors (void **state)
{
    (void)state;
    char path[4096];
    snprintf (path, sizeof path, "%s/capsule/cases.txt", WARDEN_VECTORS_DIR);
    FILE *f = fopen (path, "r");
    assert_non_null (f);
    char line[512];
    int n_ok = 0, n_reject = 0, n_open = 0;
    capsule_header_t *h = malloc (sizeof *h);
    assert_non_null (h);
    while (fgets (line, sizeof line, f)) {
        if (line[0] == '#' || line[0] == '\n')
            continue;
        char expect[64], name[64], sha[65];
        unsigned long long plain_len, max_len;
        assert_int_equal (
            sscanf (line, "%63s %63s %llu %llu %64s", expect, name, &plain_len, &max_len, sha), 5);
        snprintf (path, sizeof path, "%s/capsule/%s.capsule", WARDEN_VECTORS_DIR, name);
        size_t len;
        uint8_t *buf = test_read_file (path, &len);
        int rc = capsule_parse (buf, len, s_chain, max_len, h);
        const char *got = rc == 0 ? "ok" : capsule_err_name (rc);
        if (strncmp (expect, "open:", 5) == 0) {
            if (rc != 0)
                fail_msg ("%s: parse failed with %s", name, got);
            rc = s_open_as (h, buf, len, 0);
            if (strcmp (capsule_err_name (rc), expect + 5) != 0)
                fail_msg ("%s: open gave %s, want %s", name, capsule_err_name (rc), expect + 5);
            n_open++;
        } else if (strcmp (expect, "ok") == 0) {
            if (rc != 0)
                fail_msg ("%s: parse failed with %s", name, got);
            char hex[65];
            assert_string_equal (wd_hex_encode (hex, h->id, 32), sha);
            assert_int_equal (h->plain_len, plain_len);
            assert_int_equal (h->total_len, len);
            assert_int_equal (s_open_as (h, buf, len, 0), 0);
            assert_int_equal (s_open_as (h, buf, len, 1), 0);
            capsule_key_t *key = NULL;
            assert_int_equal (capsule_unwrap (h, s_out_pk, s_out_sk, &key),
                              CAPSULE_ERR_NOT_RECIPIENT);
            assert_null (key);
            /* The same through a file. */
            char dir_path[4096];
            snprintf (dir_path, sizeof dir_path, "%s/v.capsule", test_tmpdir ());
            test_write_file (test_tmpdir (), "v.capsule", buf, len);
            FILE *cf = fopen (dir_path, "r");
            assert_non_null (cf);
            capsule_header_t *h2 = malloc (sizeof *h2);
            assert_int_equal (capsule_parse_fd (fileno (cf), s_chain, 0, h2), 0);
            assert_memory_equal (h2, h, sizeof *h);
            free (h2);
            fclose (cf);
            n_ok++;
        } else {
            if (strcmp (got, expect) != 0)
                fail_msg ("%s: parse gave %s, want %s", name, got, expect);
            /* A file gives the same reason. */
            test_write_file (test_tmpdir (), "v.capsule", buf, len);
            char fpath[4096];
            snprintf (fpath, sizeof fpath, "%s/v.capsule", test_tmpdir ());
            FILE *cf = fopen (fpath, "r");
            assert_non_null (cf);
            rc = capsule_parse_fd (fileno (cf), s_chain, max_len, h);
            fclose (cf);
            if (strcmp (capsule_err_name (rc), expect) != 0)
                fail_msg ("%s: parse_fd gave %s, want %s", name, capsule_err_name (rc), expect);
            n_reject++;
        }
        free (buf);
    }
    fclose (f);
    free (h);
    assert_true (n_ok >= 4 && n_reject >= 20 && n_open >= 4);
}

static void
test_kinds_and_lengths (void **state)
{
    (void)state;
    capsule_kind_t k;
    for (int i = CAPSULE_KIND_DATA; i <= CAPSULE_KIND_RESULT; i++) {
        const char *name = capsule_kind_name ((capsule_kind_t)i);
        assert_true (capsule_kind_parse (name, strlen (name), &k));
        assert_int_equal (k, i);
    }
    assert_false (capsule_kind_parse ("dat", 3, &k));
    assert_false (capsule_kind_parse ("datas", 5, &k));
    assert_int_equal (capsule_ciphertext_len (0), 17);
    assert_int_equal (capsule_ciphertext_len (1), 18);
    assert_int_equal (capsule_ciphertext_len (65536), 65553);
    assert_int_equal (capsule_ciphertext_len (65537), 65537 + 34);
    assert_true (capsule_ciphertext_len (CAPSULE_PLAIN_MAX) <= UINT32_MAX);
}

static void
test_wraps (void **state)
{
    (void)state;
    capsule_key_t *key = capsule_key_new ();
    assert_non_null (key);
    uint8_t wrap[CAPSULE_WRAP_LEN];
    assert_int_equal (capsule_wrap_seal (key, s_rcpt_pk[0], wrap), 0);
    capsule_key_t *back = NULL;
    assert_int_equal (capsule_wrap_open (wrap, s_rcpt_pk[1], s_rcpt_sk[1], &back),
                      CAPSULE_ERR_UNWRAP);
    assert_null (back);
    assert_int_equal (capsule_wrap_open (wrap, s_rcpt_pk[0], s_rcpt_sk[0], &back), 0);
    assert_memory_equal (capsule_key_bytes (back), capsule_key_bytes (key), CAPSULE_KEY_LEN);
    /* A holder re-wraps to the executor. */
    uint8_t rewrap[CAPSULE_WRAP_LEN];
    assert_int_equal (capsule_wrap_seal (back, s_out_pk, rewrap), 0);
    capsule_key_t *exec = NULL;
    assert_int_equal (capsule_wrap_open (rewrap, s_out_pk, s_out_sk, &exec), 0);
    assert_memory_equal (capsule_key_bytes (exec), capsule_key_bytes (key), CAPSULE_KEY_LEN);
    wrap[40] ^= 1;
    capsule_key_t *bad = NULL;
    assert_int_equal (capsule_wrap_open (wrap, s_rcpt_pk[0], s_rcpt_sk[0], &bad),
                      CAPSULE_ERR_UNWRAP);
    /* A small-order point is no recipient. */
    uint8_t zero[32] = { 0 };
    assert_int_equal (capsule_wrap_seal (key, zero, wrap), CAPSULE_ERR_WRAP_KEY);
    capsule_key_destroy (&key);
    capsule_key_destroy (&back);
    capsule_key_destroy (&exec);
    capsule_key_destroy (&exec); /* safe on NULL */
    assert_null (key);
}

static void
s_fill (uint8_t d[32], uint8_t v)
{
    memset (d, v, 32);
}

static void
test_policy_roundtrip (void **state)
{
    (void)state;
    capsule_policy_t *p = malloc (sizeof *p), *q = malloc (sizeof *q);
    capsule_policy_init (p);
    p->n_nodes = 3;
    s_fill (p->nodes[0], 9);
    s_fill (p->nodes[1], 2);
    s_fill (p->nodes[2], 9);
    p->n_key_protection = 3;
    strcpy (p->key_protection[0], "tpm");
    strcpy (p->key_protection[1], "pkcs11");
    strcpy (p->key_protection[2], "tp");
    p->min_tier = CAPSULE_TIER_WARNING;
    p->expires_ms = 1234;
    capsule_policy_normalize (p);
    assert_int_equal (p->n_nodes, 2);
    assert_int_equal (p->nodes[0][0], 2);
    assert_string_equal (p->key_protection[0], "pkcs11");
    assert_string_equal (p->key_protection[1], "tp");
    assert_string_equal (p->key_protection[2], "tpm");
    wd_writer_t *w = wd_writer_new ();
    capsule_policy_write (w, p);
    size_t len;
    const uint8_t *bytes = wd_writer_data (w, &len);
    assert_int_equal (wd_codec_check (bytes, len, 4096, NULL), WD_OK);
    wd_reader_t r;
    wd_reader_init (&r, bytes, len);
    assert_int_equal (capsule_policy_read (&r, q), 0);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_memory_equal (p, q, sizeof *p);
    wd_writer_destroy (&w);

    /* A list out of order is a policy error, not a codec error. */
    w = wd_writer_new ();
    wd_writer_map (w, 6);
    wd_writer_key (w, "code");
    wd_writer_array (w, 0);
    wd_writer_key (w, "expires");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "key_protection");
    wd_writer_array (w, 2);
    wd_writer_cstr (w, "tpm");
    wd_writer_cstr (w, "tpm");
    wd_writer_key (w, "measurements");
    wd_writer_array (w, 0);
    wd_writer_key (w, "min_tier");
    wd_writer_cstr (w, "none");
    wd_writer_key (w, "nodes");
    wd_writer_array (w, 0);
    bytes = wd_writer_data (w, &len);
    wd_reader_init (&r, bytes, len);
    assert_int_equal (capsule_policy_read (&r, q), CAPSULE_ERR_POLICY);
    wd_writer_destroy (&w);
    free (p);
    free (q);
}

static void
test_policy_check (void **state)
{
    (void)state;
    capsule_policy_t *p = malloc (sizeof *p);
    capsule_policy_init (p);
    capsule_executor_t ex = { .tier = CAPSULE_TIER_NONE };
    s_fill (ex.node_id, 1);
    uint8_t code[32];
    s_fill (code, 5);
    assert_int_equal (capsule_policy_check (p, &ex, code, 99), 0);

    p->expires_ms = 100;
    assert_int_equal (capsule_policy_check (p, &ex, code, 99), 0);
    assert_int_equal (capsule_policy_check (p, &ex, code, 100), CAPSULE_ERR_POLICY_EXPIRED);
    p->expires_ms = 0;

    p->min_tier = CAPSULE_TIER_AFFIRMING;
    ex.tier = CAPSULE_TIER_WARNING;
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_TIER);
    ex.tier = CAPSULE_TIER_AFFIRMING;
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), 0);

    p->n_key_protection = 1;
    strcpy (p->key_protection[0], "tpm");
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_KEY_PROTECTION);
    ex.key_protection = "pkcs11";
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_KEY_PROTECTION);
    ex.key_protection = "tpm";
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), 0);

    p->n_measurements = 1;
    s_fill (p->measurements[0], 7);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_MEASUREMENT);
    ex.has_measurement = true;
    s_fill (ex.measurement, 8);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_MEASUREMENT);
    s_fill (ex.measurement, 7);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), 0);

    p->n_nodes = 1;
    s_fill (p->nodes[0], 2);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_NODE);
    s_fill (ex.node_id, 2);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), 0);

    p->n_code = 1;
    s_fill (p->code[0], 6);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), CAPSULE_ERR_POLICY_CODE);
    assert_int_equal (capsule_policy_check (p, &ex, NULL, 0), 0); /* no task yet */
    s_fill (code, 6);
    assert_int_equal (capsule_policy_check (p, &ex, code, 0), 0);

    /* First failure wins: expiry before tier. */
    p->expires_ms = 1;
    ex.tier = CAPSULE_TIER_NONE;
    assert_int_equal (capsule_policy_check (p, &ex, code, 5), CAPSULE_ERR_POLICY_EXPIRED);
    free (p);
}

static void
test_tiers_and_names (void **state)
{
    (void)state;
    capsule_tier_t t;
    assert_true (capsule_tier_parse ("warning", 7, &t));
    assert_int_equal (t, CAPSULE_TIER_WARNING);
    assert_string_equal (capsule_tier_name (CAPSULE_TIER_AFFIRMING), "affirming");
    assert_false (capsule_tier_parse ("Warning", 7, &t));
    assert_true (capsule_keyprot_valid ("pkcs11", 6));
    assert_false (capsule_keyprot_valid ("", 0));
    assert_false (capsule_keyprot_valid ("TPM", 3));
    assert_false (capsule_keyprot_valid ("a234567890abcdefg", 17));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_python_vectors), cmocka_unit_test (test_kinds_and_lengths),
        cmocka_unit_test (test_wraps),          cmocka_unit_test (test_policy_roundtrip),
        cmocka_unit_test (test_policy_check),   cmocka_unit_test (test_tiers_and_names),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
