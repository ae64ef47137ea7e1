/*
 * Unit tests for attest_agent_proto: challenge and result frames match
 * bytes written by Python's msgpack from docs/PROTOCOL.md; every message
 * round-trips byte for byte; hello and response signatures bind the
 * session key and the node's key; and malformed frames are refused with
 * their exact codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "attest_agent_proto.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

static uint8_t s_pk[32], s_sk[64], s_other_pk[32], s_other_sk[64];
static uint8_t s_server[32], s_server2[32];

static int
s_setup (void **state)
{
    (void)state;
    assert_true (sodium_init () >= 0);
    uint8_t seed[32];
    memset (seed, 1, 32);
    crypto_sign_seed_keypair (s_pk, s_sk, seed);
    memset (seed, 2, 32);
    crypto_sign_seed_keypair (s_other_pk, s_other_sk, seed);
    memset (s_server, 0x33, 32);
    memset (s_server2, 0x44, 32);
    return 0;
}

static uint8_t *
s_hex (const char *hex, size_t *len)
{
    *len = strlen (hex) / 2;
    uint8_t *buf = malloc (*len);
    assert_non_null (buf);
    char pair[3] = { 0 };
    for (size_t i = 0; i < *len; i++) {
        memcpy (pair, hex + 2 * i, 2);
        assert_true (wd_hex_decode (buf + i, 1, pair));
    }
    return buf;
}

/* Written by Python: msgpack.packb({...}, use_bin_type=True) with sorted keys. */
static const char *s_challenge_hex =
    "86ab646561646c696e655f6d73cd05dca56974656d739281a46b696e64a7636d646c696e6582a46b696e64a466"
    "696c65a470617468aa2f6574632f686f737473a56e6f6e6365c42011111111111111111111111111111111111111"
    "11111111111111111111111111a373657107a174a96368616c6c656e6765a17601";
static const char *s_result_hex =
    "85a6726561736f6ea0a373657100a6737461747573a86163636570746564a174a6726573756c74a17601";

static void
test_challenge_vector (void **state)
{
    (void)state;
    attest_agent_challenge_t *c = calloc (1, sizeof *c);
    assert_non_null (c);
    c->seq = 7;
    memset (c->nonce, 0x11, 32);
    c->deadline_ms = 1500;
    c->count = 2;
    c->items[0].kind = ATTEST_ITEM_CMDLINE;
    c->items[1].kind = ATTEST_ITEM_FILE;
    c->items[1].path = "/etc/hosts";
    size_t len, want_len;
    uint8_t *buf = attest_agent_challenge_encode (c, &len);
    uint8_t *want = s_hex (s_challenge_hex, &want_len);
    assert_int_equal (len, want_len);
    assert_memory_equal (buf, want, len);

    attest_agent_challenge_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_int_equal (attest_agent_challenge_decode (want, want_len, d), WD_OK);
    assert_int_equal (d->seq, 7);
    assert_int_equal (d->deadline_ms, 1500);
    assert_int_equal (d->count, 2);
    assert_int_equal (d->items[0].kind, ATTEST_ITEM_CMDLINE);
    assert_null (d->items[0].path);
    assert_string_equal (d->items[1].path, "/etc/hosts");
    attest_agent_challenge_clear (d);
    free (d);
    free (c);
    free (buf);
    free (want);

    attest_agent_result_t r = { .seq = 0, .status = ATTEST_AGENT_ACCEPTED };
    buf = attest_agent_result_encode (&r, &len);
    want = s_hex (s_result_hex, &want_len);
    assert_int_equal (len, want_len);
    assert_memory_equal (buf, want, len);
    attest_agent_result_t r2;
    assert_int_equal (attest_agent_result_decode (buf, len, &r2), WD_OK);
    assert_int_equal (r2.status, ATTEST_AGENT_ACCEPTED);
    free (buf);
    free (want);
}

static void
test_challenge_all_kinds_roundtrip (void **state)
{
    (void)state;
    attest_agent_challenge_t *c = calloc (1, sizeof *c);
    assert_non_null (c);
    c->seq = 123456789;
    randombytes_buf (c->nonce, 32);
    c->deadline_ms = ATTEST_AGENT_DEADLINE_MAX;
    c->items[0] = (attest_item_t){ .kind = ATTEST_ITEM_FILE, .path = "/usr/bin/ls" };
    c->items[1] = (attest_item_t){ .kind = ATTEST_ITEM_CMDLINE };
    c->items[2] = (attest_item_t){ .kind = ATTEST_ITEM_MODULES };
    c->items[3] = (attest_item_t){ .kind = ATTEST_ITEM_PROCS };
    c->items[4] = (attest_item_t){ .kind = ATTEST_ITEM_IMA, .from = 4242 };
    c->items[5] =
        (attest_item_t){ .kind = ATTEST_ITEM_RANGE, .path = "/dev/sda", .off = 512, .len = 4096 };
    c->count = 6;
    size_t len, len2;
    uint8_t *buf = attest_agent_challenge_encode (c, &len);
    attest_agent_challenge_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_int_equal (attest_agent_challenge_decode (buf, len, d), WD_OK);
    assert_int_equal (d->items[4].from, 4242);
    assert_int_equal (d->items[5].off, 512);
    assert_int_equal (d->items[5].len, 4096);
    uint8_t *buf2 = attest_agent_challenge_encode (d, &len2);
    assert_int_equal (len, len2);
    assert_memory_equal (buf, buf2, len);
    attest_agent_challenge_clear (d);
    /* Every proper prefix is refused. */
    for (size_t cut = 0; cut < len; cut++) {
        int err = attest_agent_challenge_decode (buf, cut, d);
        assert_int_not_equal (err, WD_OK);
    }
    assert_int_equal (attest_agent_challenge_decode (buf, len - 1, d), WD_ERR_TRUNCATED);
    attest_agent_challenge_clear (d);
    free (d);
    free (c);
    free (buf);
    free (buf2);
}

/* Encodes a map given as Python-like key/value calls. */
static uint8_t *
s_challenge_with_item (void (*item) (wd_writer_t *), const char *t, uint64_t v, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    uint8_t nonce[32] = { 0 };
    wd_writer_map (w, 6);
    wd_writer_key (w, "deadline_ms");
    wd_writer_uint (w, 100);
    wd_writer_key (w, "items");
    if (item) {
        wd_writer_array (w, 1);
        item (w);
    } else
        wd_writer_array (w, 0);
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, nonce, 32);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "t");
    wd_writer_cstr (w, t);
    wd_writer_key (w, "v");
    wd_writer_uint (w, v);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
s_item_ok (wd_writer_t *w)
{
    wd_writer_map (w, 1);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "cmdline");
}
static void
s_item_file_no_path (wd_writer_t *w)
{
    wd_writer_map (w, 1);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "file");
}
static void
s_item_unknown_kind (wd_writer_t *w)
{
    wd_writer_map (w, 1);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "registry");
}
static void
s_item_cmdline_with_path (wd_writer_t *w)
{
    wd_writer_map (w, 2);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "cmdline");
    wd_writer_key (w, "path");
    wd_writer_cstr (w, "/x");
}
static void
s_item_range_zero (wd_writer_t *w)
{
    wd_writer_map (w, 4);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "range");
    wd_writer_key (w, "len");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "off");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "path");
    wd_writer_cstr (w, "/dev/sda");
}
static void
s_item_empty_path (wd_writer_t *w)
{
    wd_writer_map (w, 2);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "file");
    wd_writer_key (w, "path");
    wd_writer_cstr (w, "");
}
static void
s_item_extra_key (wd_writer_t *w)
{
    wd_writer_map (w, 2);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, "cmdline");
    wd_writer_key (w, "zzz");
    wd_writer_uint (w, 1);
}

static void
test_challenge_rejects (void **state)
{
    (void)state;
    static const struct {
        void (*item) (wd_writer_t *);
        const char *t;
        uint64_t v;
        int want;
    } cases[] = {
        { s_item_ok, "challenge", 1, WD_OK },
        { s_item_ok, "result", 1, ATTEST_ERR_AGENT_MSG_TYPE },
        { s_item_ok, "challenge", 2, WD_ERR_BAD_VERSION },
        { NULL, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_file_no_path, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_unknown_kind, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_cmdline_with_path, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_range_zero, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_empty_path, "challenge", 1, ATTEST_ERR_AGENT_ITEM },
        { s_item_extra_key, "challenge", 1, WD_ERR_UNKNOWN_KEY },
    };
    attest_agent_challenge_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        size_t len;
        uint8_t *buf = s_challenge_with_item (cases[i].item, cases[i].t, cases[i].v, &len);
        int err = attest_agent_challenge_decode (buf, len, d);
        if (err != cases[i].want)
            fail_msg ("case %zu: got %s, want %s", i, attest_err_name (err),
                      attest_err_name (cases[i].want));
        attest_agent_challenge_clear (d);
        /* A trailing byte is always refused. */
        uint8_t *longer = malloc (len + 1);
        assert_non_null (longer);
        memcpy (longer, buf, len);
        longer[len] = 0xc0;
        err = attest_agent_challenge_decode (longer, len + 1, d);
        if (cases[i].want == WD_OK)
            assert_int_equal (err, WD_ERR_TRAILING);
        attest_agent_challenge_clear (d);
        free (longer);
        free (buf);
    }
    free (d);
}

static void
test_hello (void **state)
{
    (void)state;
    attest_agent_hello_t h = { .host = "node-7.rack2", .token = "Zq8-t0k3n_value" };
    memcpy (h.pk, s_pk, 32);
    uint8_t *buf;
    size_t len;
    assert_int_equal (attest_agent_hello_seal (&h, s_server, test_sign_fn, s_sk, &buf, &len),
                      WD_OK);
    attest_agent_hello_t d;
    assert_int_equal (attest_agent_hello_open (buf, len, s_server, &d), WD_OK);
    assert_string_equal (d.host, "node-7.rack2");
    assert_string_equal (d.token, "Zq8-t0k3n_value");
    assert_memory_equal (d.pk, s_pk, 32);
    /* Bound to the node it was made for. */
    assert_int_equal (attest_agent_hello_open (buf, len, s_server2, &d), WD_ERR_WRONG_CHAIN);
    /* The signature covers the token. */
    uint8_t *p = memmem (buf, len, "Zq8", 3);
    assert_non_null (p);
    p[0] = 'Y';
    assert_int_equal (attest_agent_hello_open (buf, len, s_server, &d), WD_ERR_BAD_SIGNATURE);
    assert_int_equal (attest_agent_hello_open (buf, len, NULL, &d), WD_OK); /* unchecked decode */
    free (buf);

    /* A response is not a hello. */
    attest_agent_response_t *r = calloc (1, sizeof *r);
    assert_non_null (r);
    assert_int_equal (
        attest_agent_response_seal (r, s_server, s_pk, test_sign_fn, s_sk, &buf, &len), WD_OK);
    assert_int_equal (attest_agent_hello_open (buf, len, s_server, &d), WD_ERR_UNEXPECTED_TYPE);
    free (buf);
    free (r);

    /* Bad token and host, signed properly. */
    static const struct {
        const char *host, *token;
        int want;
    } cases[] = {
        { "h", "with space", ATTEST_ERR_AGENT_TOKEN },
        { "h", "", ATTEST_ERR_AGENT_TOKEN },
        { "bad host", "t", ATTEST_ERR_AGENT_HOST },
        { "", "t", ATTEST_ERR_AGENT_HOST },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_writer_t *w = wd_writer_new ();
        wd_writer_map (w, 2);
        wd_writer_key (w, "host");
        wd_writer_cstr (w, cases[i].host);
        wd_writer_key (w, "token");
        wd_writer_cstr (w, cases[i].token);
        size_t blen;
        const uint8_t *body = wd_writer_data (w, &blen);
        assert_int_equal (wd_envelope_seal (ATTEST_AGENT_HELLO_TYPE, s_server, s_pk, body, blen,
                                            test_sign_fn, s_sk, &buf, &len),
                          WD_OK);
        assert_int_equal (attest_agent_hello_open (buf, len, s_server, &d), cases[i].want);
        free (buf);
        wd_writer_destroy (&w);
    }
    assert_true (attest_agent_token_valid ("a"));
    assert_false (attest_agent_token_valid ("tab\there"));
    char longtok[ATTEST_AGENT_TOKEN_MAX + 2];
    memset (longtok, 'x', sizeof longtok - 1);
    longtok[sizeof longtok - 1] = 0;
    assert_false (attest_agent_token_valid (longtok));
    longtok[ATTEST_AGENT_TOKEN_MAX] = 0;
    assert_true (attest_agent_token_valid (longtok));
}

static char *
s_dup (const char *s)
{
    char *p = strdup (s);
    assert_non_null (p);
    return p;
}

/* A response answering all six kinds. */
static attest_agent_response_t *
s_full_response (void)
{
    attest_agent_response_t *r = calloc (1, sizeof *r);
    assert_non_null (r);
    r->seq = 9;
    memset (r->nonce, 0xab, 32);
    attest_answer_t *a = r->answers;
    a[0].kind = ATTEST_ITEM_FILE;
    memset (a[0].digest, 1, 32);
    a[1].kind = ATTEST_ITEM_CMDLINE;
    a[1].data = (uint8_t *)s_dup ("ro quiet\n");
    a[1].data_len = 9;
    a[2].kind = ATTEST_ITEM_MODULES;
    a[2].list = calloc (2, sizeof (char *));
    assert_non_null (a[2].list);
    a[2].list[0] = s_dup ("ext4");
    a[2].list[1] = s_dup ("xfs");
    a[2].list_count = 2;
    a[3].kind = ATTEST_ITEM_PROCS;
    a[3].entries = calloc (2, sizeof *a[3].entries);
    assert_non_null (a[3].entries);
    a[3].entries[0].path = s_dup ("/usr/bin/bash");
    a[3].entries[1].path = s_dup ("/usr/sbin/sshd");
    memset (a[3].entries[1].digest, 7, 32);
    a[3].entry_count = 2;
    a[4].kind = ATTEST_ITEM_IMA;
    a[4].data = malloc (1);
    assert_non_null (a[4].data);
    a[4].n = 0;
    a[5].kind = ATTEST_ITEM_RANGE;
    a[5].err = ATTEST_ANSWER_RANGE;
    r->count = 6;
    return r;
}

static void
test_response (void **state)
{
    (void)state;
    attest_agent_response_t *r = s_full_response ();
    uint8_t *buf, *buf2;
    size_t len, len2;
    assert_int_equal (
        attest_agent_response_seal (r, s_server, s_pk, test_sign_fn, s_sk, &buf, &len), WD_OK);
    attest_agent_response_t *d = calloc (1, sizeof *d);
    assert_non_null (d);
    assert_int_equal (attest_agent_response_open (buf, len, s_server, d), WD_OK);
    assert_int_equal (d->count, 6);
    assert_int_equal (d->seq, 9);
    assert_memory_equal (d->pk, s_pk, 32);
    assert_memory_equal (d->answers[0].digest, r->answers[0].digest, 32);
    assert_int_equal (d->answers[1].data_len, 9);
    assert_string_equal (d->answers[2].list[1], "xfs");
    assert_string_equal (d->answers[3].entries[1].path, "/usr/sbin/sshd");
    assert_int_equal (d->answers[5].err, ATTEST_ANSWER_RANGE);
    /* Re-sealing the decoded response gives the same bytes (Ed25519 is
       deterministic). */
    assert_int_equal (
        attest_agent_response_seal (d, s_server, s_pk, test_sign_fn, s_sk, &buf2, &len2), WD_OK);
    assert_int_equal (len, len2);
    assert_memory_equal (buf, buf2, len);
    free (buf2);
    attest_agent_response_clear (d);
    assert_int_equal (attest_agent_response_open (buf, len, s_server2, d), WD_ERR_WRONG_CHAIN);
    buf[len - 1] ^= 1; /* the last byte is v; flip a signature byte instead */
    buf[len - 1] ^= 1;
    uint8_t *sig = memmem (buf, len, "sig", 3);
    assert_non_null (sig);
    sig[5] ^= 0x80;
    assert_int_equal (attest_agent_response_open (buf, len, s_server, d), WD_ERR_BAD_SIGNATURE);
    free (buf);

    /* Unsorted modules, duplicate processes, an error answer with a value,
       a file answer without its digest. */
    char *t = r->answers[2].list[0];
    r->answers[2].list[0] = r->answers[2].list[1];
    r->answers[2].list[1] = t;
    assert_int_equal (
        attest_agent_response_seal (r, s_server, s_pk, test_sign_fn, s_sk, &buf, &len), WD_OK);
    assert_int_equal (attest_agent_response_open (buf, len, s_server, d),
                      ATTEST_ERR_AGENT_UNSORTED);
    free (buf);
    r->answers[2].list[1] = r->answers[2].list[0];
    r->answers[2].list[0] = t;
    memset (r->answers[3].entries[1].digest, 0, 32);
    free (r->answers[3].entries[1].path);
    r->answers[3].entries[1].path = s_dup ("/usr/bin/bash");
    assert_int_equal (
        attest_agent_response_seal (r, s_server, s_pk, test_sign_fn, s_sk, &buf, &len), WD_OK);
    assert_int_equal (attest_agent_response_open (buf, len, s_server, d),
                      ATTEST_ERR_AGENT_UNSORTED);
    free (buf);
    attest_agent_response_clear (r);
    free (r);

    static const struct {
        const char *keys[3];
        int want;
    } cases[] = {
        { { "digest", "err", "kind" }, ATTEST_ERR_AGENT_ANSWER },
        { { "kind", NULL, NULL }, ATTEST_ERR_AGENT_ANSWER },
        { { "err", "kind", NULL }, ATTEST_ERR_AGENT_ANSWER }, /* err "ok" is not an error */
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        wd_writer_t *w = wd_writer_new ();
        size_t n = 0;
        while (n < 3 && cases[i].keys[n])
            n++;
        uint8_t zero[32] = { 0 };
        wd_writer_map (w, 3);
        wd_writer_key (w, "answers");
        wd_writer_array (w, 1);
        wd_writer_map (w, n);
        for (size_t k = 0; k < n; k++) {
            const char *key = cases[i].keys[k];
            wd_writer_key (w, key);
            if (strcmp (key, "digest") == 0)
                wd_writer_bin (w, zero, 32);
            else if (strcmp (key, "err") == 0)
                wd_writer_cstr (w, i == 2 ? "ok" : "io");
            else
                wd_writer_cstr (w, "file");
        }
        wd_writer_key (w, "nonce");
        wd_writer_bin (w, zero, 32);
        wd_writer_key (w, "seq");
        wd_writer_uint (w, 1);
        size_t blen;
        const uint8_t *body = wd_writer_data (w, &blen);
        assert_int_equal (wd_envelope_seal (ATTEST_AGENT_RESPONSE_TYPE, s_server, s_pk, body, blen,
                                            test_sign_fn, s_sk, &buf, &len),
                          WD_OK);
        int err = attest_agent_response_open (buf, len, s_server, d);
        if (err != cases[i].want)
            fail_msg ("case %zu: got %s", i, attest_err_name (err));
        free (buf);
        wd_writer_destroy (&w);
    }
    free (d);
}

static void
test_result_rejects (void **state)
{
    (void)state;
    attest_agent_result_t r = { .seq = 3, .status = ATTEST_AGENT_REJECTED };
    snprintf (r.reason, sizeof r.reason, "ATTEST_ERR_AGENT_NONCE");
    size_t len;
    uint8_t *buf = attest_agent_result_encode (&r, &len);
    attest_agent_result_t d;
    assert_int_equal (attest_agent_result_decode (buf, len, &d), WD_OK);
    assert_string_equal (d.reason, "ATTEST_ERR_AGENT_NONCE");
    assert_int_equal (d.seq, 3);
    uint8_t *p = memmem (buf, len, "rejected", 8);
    assert_non_null (p);
    memcpy (p, "rejectex", 8);
    assert_int_equal (attest_agent_result_decode (buf, len, &d), ATTEST_ERR_AGENT_STATUS);
    free (buf);
    /* A challenge is not a result: its first key is unknown to the result
       schema. */
    size_t clen;
    uint8_t *c = s_challenge_with_item (s_item_ok, "challenge", 1, &clen);
    assert_int_equal (attest_agent_result_decode (c, clen, &d), WD_ERR_UNKNOWN_KEY);
    free (c);
    /* Non-canonical: a map with an unsorted key order. */
    uint8_t bad[] = { 0x82, 0xa1, 'v', 0x01, 0xa1, 't', 0xa0 };
    assert_int_equal (attest_agent_result_decode (bad, sizeof bad, &d), WD_ERR_KEYS_UNSORTED);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_challenge_vector),
        cmocka_unit_test (test_challenge_all_kinds_roundtrip),
        cmocka_unit_test (test_challenge_rejects),
        cmocka_unit_test (test_hello),
        cmocka_unit_test (test_response),
        cmocka_unit_test (test_result_rejects),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
