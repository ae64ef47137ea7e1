/*
 * Unit tests for capsule_release: round trips of the request, the grant and
 * the refusal, the refusal rule (code range, reason text) on the struct and
 * on encoded bytes, the known-answer vectors of the independent Python
 * encoder, and opening with chain, signature and type checks (a grant or a
 * refusal is never a request, and no other type is an answer).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "capsule_records_test.h"
#include "capsule_release.h"
#include "test_support.h"

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_pk[32], s_sk[64];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    randombytes_buf (s_chain, sizeof s_chain);
    crypto_sign_keypair (s_pk, s_sk);
    return 0;
}

/* The records of the vector file, for task id task_id. */
static void
s_req (capsule_release_req_t *req, const uint8_t task_id[32])
{
    memset (req, 0, sizeof *req);
    memset (req->capsule, 0x11, 32);
    memset (req->executor_curve, 0x40, 32);
    for (size_t i = 0; i < 80; i++)
        req->proof[i] = (uint8_t)i;
    memcpy (req->task, task_id, 32);
}

static void
s_grant (capsule_release_answer_t *a, const uint8_t task_id[32])
{
    memset (a, 0, sizeof *a);
    a->kind = CAPSULE_RELEASE_GRANTED;
    memset (a->capsule, 0x11, 32);
    memcpy (a->task, task_id, 32);
    for (size_t i = 0; i < 80; i++)
        a->wrap[i] = (uint8_t)(100 + i);
}

static void
s_refused (capsule_release_answer_t *a, const uint8_t task_id[32])
{
    memset (a, 0, sizeof *a);
    a->kind = CAPSULE_RELEASE_REFUSED;
    memset (a->capsule, 0x21, 32);
    memcpy (a->task, task_id, 32);
    a->code = -5030;
    snprintf (a->reason, sizeof a->reason, "executor tier warning is below affirming");
}

static const uint8_t s_task_id[32] = { 1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11,
                                       12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                       23, 24, 25, 26, 27, 28, 29, 30, 31, 32 };

static void
test_round_trip (void **state)
{
    (void)state;
    capsule_release_req_t req, req2;
    s_req (&req, s_task_id);
    uint8_t *body;
    size_t len;
    assert_int_equal (capsule_release_req_encode (&req, &body, &len), WD_OK);
    assert_int_equal (capsule_release_req_decode (body, len, &req2), WD_OK);
    assert_memory_equal (&req, &req2, sizeof req);
    free (body);

    capsule_release_answer_t a, b;
    s_grant (&a, s_task_id);
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    assert_int_equal (capsule_release_answer_decode (CAPSULE_RELEASE_GRANTED, body, len, &b),
                      WD_OK);
    assert_memory_equal (&a, &b, sizeof a);
    /* A grant body is not a refusal body. */
    assert_int_equal (capsule_release_answer_decode (CAPSULE_RELEASE_REFUSED, body, len, &b),
                      WD_ERR_MISSING_KEY);
    free (body);

    s_refused (&a, s_task_id);
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    assert_int_equal (capsule_release_answer_decode (CAPSULE_RELEASE_REFUSED, body, len, &b),
                      WD_OK);
    assert_memory_equal (&a, &b, sizeof a);
    assert_int_equal (capsule_release_answer_decode (CAPSULE_RELEASE_GRANTED, body, len, &b),
                      WD_ERR_UNKNOWN_KEY);
    free (body);

    /* Bounds of the refusal rule. */
    a.code = CAPSULE_RELEASE_CODE_MIN;
    memset (a.reason, 'r', CAPSULE_RELEASE_REASON_MAX);
    a.reason[CAPSULE_RELEASE_REASON_MAX] = '\0';
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    assert_int_equal (capsule_release_answer_decode (CAPSULE_RELEASE_REFUSED, body, len, &b),
                      WD_OK);
    assert_memory_equal (&a, &b, sizeof a);
    free (body);
    a.code = -1;
    snprintf (a.reason, sizeof a.reason,
              "r\xc3\xa9"
              "fus\xc3\xa9");
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    free (body);

    assert_string_equal (capsule_release_answer_type (CAPSULE_RELEASE_GRANTED), "capsule-release");
    assert_string_equal (capsule_release_answer_type (CAPSULE_RELEASE_REFUSED),
                         "capsule-release-refused");
}

static void
s_expect_refusal_rule (const capsule_release_answer_t *a)
{
    uint8_t *body = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal (capsule_release_answer_encode (a, &body, &len), CAPSULE_ERR_RELEASE_REFUSAL);
    assert_null (body);
    assert_int_equal (len, 0);
    assert_int_equal (
        capsule_release_answer_seal (a, s_chain, s_pk, capsule_sign_secret_key, s_sk, &body, &len),
        CAPSULE_ERR_RELEASE_REFUSAL);
    assert_null (body);
}

static void
s_expect_decode (capsule_release_kind_t kind, const uint8_t *body, size_t len, int want)
{
    capsule_release_answer_t a;
    memset (&a, 0x77, sizeof a);
    assert_int_equal (capsule_release_answer_decode (kind, body, len, &a), want);
    if (want != WD_OK) {
        capsule_release_answer_t zero;
        memset (&zero, 0, sizeof zero);
        assert_memory_equal (&a, &zero, sizeof a);
    }
}

static void
test_refusal_rule (void **state)
{
    (void)state;
    capsule_release_answer_t a;
    s_refused (&a, s_task_id);
    a.code = 0;
    s_expect_refusal_rule (&a);
    a.code = 5;
    s_expect_refusal_rule (&a);
    a.code = CAPSULE_RELEASE_CODE_MIN - 1;
    s_expect_refusal_rule (&a);
    s_refused (&a, s_task_id);
    a.reason[0] = '\0';
    s_expect_refusal_rule (&a);
    snprintf (a.reason, sizeof a.reason, "two\nlines");
    s_expect_refusal_rule (&a);
    snprintf (a.reason, sizeof a.reason, "escape \x1b[31m");
    s_expect_refusal_rule (&a);
    snprintf (a.reason, sizeof a.reason, "bad utf-8 \xff");
    s_expect_refusal_rule (&a);

    /* The same on the wire. */
    s_refused (&a, s_task_id);
    uint8_t *body, *b;
    size_t len, n;
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, body, len, WD_OK);
    /* -5030 is int16 d1 ec 5a. */
    b = crt_splice (body, len,
                    "\xa4"
                    "code\xd1\xec\x5a",
                    8,
                    "\xa4"
                    "code\x00",
                    6, &n);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, n, CAPSULE_ERR_RELEASE_REFUSAL);
    free (b);
    b = crt_splice (body, len,
                    "\xa4"
                    "code\xd1\xec\x5a",
                    8,
                    "\xa4"
                    "code\xd2\xff\xfe\x79\x5f",
                    10, &n); /* -100001 */
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, n, CAPSULE_ERR_RELEASE_REFUSAL);
    free (b);
    b = crt_splice (body, len,
                    "\xa4"
                    "code\xd1\xec\x5a",
                    8,
                    "\xa4"
                    "code\xa1x",
                    7, &n);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, n, WD_ERR_WRONG_TYPE);
    free (b);
    b = malloc (len);
    memcpy (b, body, len);
    crt_patch (b, len, "below", "be\tow", 5);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, len, CAPSULE_ERR_RELEASE_REFUSAL);
    crt_patch (b, len, "be\tow", "be\x7fow", 5);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, len, CAPSULE_ERR_RELEASE_REFUSAL);
    free (b);
    /* An empty reason, and one of 256 bytes. */
    {
        size_t at = crt_find (body, len, "\xa6reason", 7) + 7;
        size_t rlen = 2 + strlen (a.reason);
        uint8_t *c = malloc (len);
        memcpy (c, body, at);
        c[at] = 0xa0;
        memcpy (c + at + 1, body + at + rlen, len - at - rlen);
        s_expect_decode (CAPSULE_RELEASE_REFUSED, c, len - rlen + 1, CAPSULE_ERR_RELEASE_REFUSAL);
        /* A reason of 256 bytes: the rule's reason, not the codec's. */
        uint8_t *d = malloc (len - rlen + 3 + 256);
        memcpy (d, body, at);
        d[at] = 0xda, d[at + 1] = 1, d[at + 2] = 0;
        memset (d + at + 3, 'r', 256);
        memcpy (d + at + 3 + 256, body + at + rlen, len - at - rlen);
        s_expect_decode (CAPSULE_RELEASE_REFUSED, d, len - rlen + 3 + 256,
                         CAPSULE_ERR_RELEASE_REFUSAL);
        free (d);
        free (c);
    }
    b = malloc (len);
    memcpy (b, body, len);
    crt_patch (b, len, "\xa1v\x01", "\xa1v\x02", 3);
    s_expect_decode (CAPSULE_RELEASE_REFUSED, b, len, WD_ERR_BAD_VERSION);
    free (b);
    free (body);

    /* The grant and the request: lengths and version. */
    capsule_release_answer_t g;
    s_grant (&g, s_task_id);
    assert_int_equal (capsule_release_answer_encode (&g, &body, &len), WD_OK);
    b = crt_splice (body, len, "\xa4wrap\xc4\x50", 7, "\xa4wrap\xc4\x4f", 7, &n);
    s_expect_decode (CAPSULE_RELEASE_GRANTED, b, n - 1, WD_ERR_BAD_LENGTH);
    free (b);
    free (body);

    capsule_release_req_t req;
    s_req (&req, s_task_id);
    assert_int_equal (capsule_release_req_encode (&req, &body, &len), WD_OK);
    b = crt_splice (body, len, "\xa5proof\xc4\x50\x00", 9, "\xa5proof\xc4\x4f", 8, &n);
    assert_int_equal (capsule_release_req_decode (b, n, &req), WD_ERR_BAD_LENGTH);
    free (b);
    b = malloc (len);
    memcpy (b, body, len);
    crt_patch (b, len, "\xa1v\x01", "\xa1v\x00", 3);
    assert_int_equal (capsule_release_req_decode (b, len, &req), WD_ERR_BAD_VERSION);
    crt_patch (b, len,
               "\xae"
               "executor_curve",
               "\xae"
               "executor_curvf",
               15);
    assert_int_equal (capsule_release_req_decode (b, len, &req), WD_ERR_MISSING_KEY);
    free (b);
    assert_int_equal (capsule_release_req_decode (body, len - 1, &req), WD_ERR_TRUNCATED);
    free (body);
}

static void
test_vectors (void **state)
{
    (void)state;
    size_t n, len, env_len;
    uint8_t *task_id = test_vector_hex (CRT_VECTORS, "task_id", &n);
    uint8_t *chain = test_vector_hex (CRT_VECTORS, "chain", &n);
    uint8_t pk[32], sk[64];
    test_keypair_from_vector (CRT_VECTORS, pk, sk);
    uint8_t *ours, who[32];
    size_t ours_len;

    capsule_release_req_t req, req2;
    s_req (&req, task_id);
    uint8_t *body = test_vector_hex (CRT_VECTORS, "release_req", &len);
    uint8_t *env = test_vector_hex (CRT_VECTORS, "release_req_envelope", &env_len);
    assert_int_equal (capsule_release_req_decode (body, len, &req2), WD_OK);
    assert_memory_equal (&req, &req2, sizeof req);
    assert_int_equal (capsule_release_req_encode (&req, &ours, &ours_len), WD_OK);
    assert_int_equal (ours_len, len);
    assert_memory_equal (ours, body, len);
    free (ours);
    assert_int_equal (
        capsule_release_req_seal (&req, chain, pk, capsule_sign_secret_key, sk, &ours, &ours_len),
        WD_OK);
    assert_int_equal (ours_len, env_len);
    assert_memory_equal (ours, env, env_len);
    free (ours);
    assert_int_equal (capsule_release_req_open (env, env_len, chain, &req2, who), WD_OK);
    assert_memory_equal (&req, &req2, sizeof req);
    assert_memory_equal (who, pk, 32);
    free (body);
    free (env);

    const struct {
        const char *body, *env;
        void (*fill) (capsule_release_answer_t *, const uint8_t *);
    } answers[] = {
        { "release_grant", "release_grant_envelope", s_grant },
        { "release_refused", "release_refused_envelope", s_refused },
    };
    for (size_t i = 0; i < 2; i++) {
        capsule_release_answer_t a, b;
        answers[i].fill (&a, task_id);
        body = test_vector_hex (CRT_VECTORS, answers[i].body, &len);
        env = test_vector_hex (CRT_VECTORS, answers[i].env, &env_len);
        assert_int_equal (capsule_release_answer_decode (a.kind, body, len, &b), WD_OK);
        assert_memory_equal (&a, &b, sizeof a);
        assert_int_equal (capsule_release_answer_encode (&a, &ours, &ours_len), WD_OK);
        assert_int_equal (ours_len, len);
        assert_memory_equal (ours, body, len);
        free (ours);
        assert_int_equal (capsule_release_answer_seal (&a, chain, pk, capsule_sign_secret_key, sk,
                                                       &ours, &ours_len),
                          WD_OK);
        assert_int_equal (ours_len, env_len);
        assert_memory_equal (ours, env, env_len);
        free (ours);
        assert_int_equal (capsule_release_answer_open (env, env_len, chain, &b, who), WD_OK);
        assert_memory_equal (&a, &b, sizeof a);
        assert_memory_equal (who, pk, 32);
        assert_int_equal (capsule_release_answer_matches (&req, &b),
                          i == 0 ? WD_OK : CAPSULE_ERR_RELEASE_MISMATCH);
        free (body);
        free (env);
    }
    free (task_id);
    free (chain);
}

static void
test_open (void **state)
{
    (void)state;
    capsule_release_req_t req, got_req;
    s_req (&req, s_task_id);
    capsule_release_answer_t a, got;
    s_grant (&a, s_task_id);
    uint8_t *req_env, *ans_env, who[32];
    size_t req_len, ans_len;
    assert_int_equal (capsule_release_req_seal (&req, s_chain, s_pk, capsule_sign_secret_key, s_sk,
                                                &req_env, &req_len),
                      WD_OK);
    assert_int_equal (capsule_release_answer_seal (&a, s_chain, s_pk, capsule_sign_secret_key, s_sk,
                                                   &ans_env, &ans_len),
                      WD_OK);

    /* Types never cross. */
    assert_int_equal (capsule_release_req_open (ans_env, ans_len, s_chain, &got_req, who),
                      WD_ERR_UNEXPECTED_TYPE);
    assert_int_equal (capsule_release_answer_open (req_env, req_len, s_chain, &got, who),
                      WD_ERR_UNEXPECTED_TYPE);

    /* Chain, then signature. */
    uint8_t other[WD_CHAIN_ID_LEN];
    memcpy (other, s_chain, sizeof other);
    other[31] ^= 0x80;
    assert_int_equal (capsule_release_req_open (req_env, req_len, other, &got_req, NULL),
                      WD_ERR_WRONG_CHAIN);
    assert_int_equal (capsule_release_answer_open (ans_env, ans_len, other, &got, NULL),
                      WD_ERR_WRONG_CHAIN);
    assert_int_equal (capsule_release_answer_open (req_env, req_len, other, &got, NULL),
                      WD_ERR_WRONG_CHAIN);
    wd_envelope_t e;
    assert_int_equal (wd_envelope_decode (ans_env, ans_len, &e), WD_OK);
    size_t at = crt_find (ans_env, ans_len, e.sig, WD_SIG_LEN);
    ans_env[at + 5] ^= 1;
    assert_int_equal (capsule_release_answer_open (ans_env, ans_len, s_chain, &got, NULL),
                      WD_ERR_BAD_SIGNATURE);
    ans_env[at + 5] ^= 1;
    assert_int_equal (capsule_release_answer_open (ans_env, ans_len, s_chain, &got, NULL), WD_OK);
    assert_int_equal (capsule_release_answer_matches (&req, &got), WD_OK);
    got.task[0] ^= 1;
    assert_int_equal (capsule_release_answer_matches (&req, &got), CAPSULE_ERR_RELEASE_MISMATCH);
    assert_int_equal (wd_envelope_decode (req_env, req_len, &e), WD_OK);
    at = crt_find (req_env, req_len, e.sig, WD_SIG_LEN);
    req_env[at] ^= 1;
    assert_int_equal (capsule_release_req_open (req_env, req_len, s_chain, &got_req, NULL),
                      WD_ERR_BAD_SIGNATURE);
    free (req_env);
    free (ans_env);

    /* A refusal body signed under the grant's type fails the grant's
       schema. */
    s_refused (&a, s_task_id);
    uint8_t *body;
    size_t len;
    assert_int_equal (capsule_release_answer_encode (&a, &body, &len), WD_OK);
    assert_int_equal (wd_envelope_seal (CAPSULE_RELEASE_GRANT_TYPE, s_chain, s_pk, body, len,
                                        capsule_sign_secret_key, s_sk, &ans_env, &ans_len),
                      WD_OK);
    assert_int_equal (capsule_release_answer_open (ans_env, ans_len, s_chain, &got, who),
                      WD_ERR_UNKNOWN_KEY);
    free (ans_env);
    free (body);
    assert_int_equal (capsule_release_answer_open ((const uint8_t *)"", 0, s_chain, &got, NULL),
                      WD_ERR_TRUNCATED);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_refusal_rule),
        cmocka_unit_test (test_vectors),
        cmocka_unit_test (test_open),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
