/*
 * Unit tests for capsule_receipt: kill reason names, every receipt rule on
 * the struct and on encoded bytes (exit shape and ranges, kill reason,
 * degraded flags, times, counts; each rejection by its exact code), the
 * checks against the task, round trips up to the bounds, the known-answer
 * vectors of the independent Python encoder, and sealing and opening.
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

#include "capsule_receipt.h"
#include "capsule_records_test.h"
#include "test_support.h"

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_pk[32], s_sk[64];
static const uint8_t s_task_id[32] = { [0] = 0x7a, [31] = 0x7b };

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

static uint8_t *
s_encode (const capsule_receipt_t *rc, size_t *len)
{
    uint8_t *body = NULL;
    assert_int_equal (capsule_receipt_encode (rc, &body, len), WD_OK);
    return body;
}

static void
s_expect_decode (const uint8_t *body, size_t len, int want)
{
    capsule_receipt_t rc;
    memset (&rc, 0x3c, sizeof rc);
    assert_int_equal (capsule_receipt_decode (body, len, &rc), want);
    if (want != WD_OK) {
        capsule_receipt_t zero;
        memset (&zero, 0, sizeof zero);
        assert_memory_equal (&rc, &zero, sizeof rc);
    }
}

/* The rule a mutated receipt breaks, through check, encode and seal. */
static void
s_expect_rule (const capsule_receipt_t *rc, int want)
{
    char why[160];
    assert_int_equal (capsule_receipt_check (rc, why, sizeof why), want);
    assert_true (why[0] != '\0');
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal (capsule_receipt_encode (rc, &out, &len), want);
    assert_null (out);
    assert_int_equal (len, 0);
    assert_int_equal (
        capsule_receipt_seal (rc, s_chain, s_pk, capsule_sign_secret_key, s_sk, &out, &len, NULL),
        want);
    assert_null (out);
}

static void
test_kill_names (void **state)
{
    (void)state;
    const char *names[] = { NULL, "wall", "cpu", "memory", "pids", "output" };
    for (int k = 0; k < CAPSULE_RECEIPT_KILL_COUNT_; k++) {
        const char *name = capsule_receipt_kill_name ((capsule_receipt_kill_t)k);
        if (!names[k]) {
            assert_null (name);
            continue;
        }
        assert_string_equal (name, names[k]);
        assert_int_equal (capsule_receipt_kill_parse (name, strlen (name)), k);
    }
    assert_null (capsule_receipt_kill_name (CAPSULE_RECEIPT_KILL_COUNT_));
    assert_int_equal (capsule_receipt_kill_parse ("wal", 3), CAPSULE_RECEIPT_KILL_NONE);
    assert_int_equal (capsule_receipt_kill_parse ("walls", 5), CAPSULE_RECEIPT_KILL_NONE);
    assert_int_equal (capsule_receipt_kill_parse ("", 0), CAPSULE_RECEIPT_KILL_NONE);
    assert_int_equal (capsule_receipt_kill_parse ("Wall", 4), CAPSULE_RECEIPT_KILL_NONE);
}

static void
test_rules (void **state)
{
    (void)state;
    capsule_receipt_t rc;
    crt_receipt_killed (&rc, s_task_id);
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);
    crt_receipt_ok (&rc, s_task_id);
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);

    /* Counts. */
    crt_receipt_ok (&rc, s_task_id);
    rc.input_count = CAPSULE_RECEIPT_INPUTS_MAX + 1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_TOO_MANY);
    crt_receipt_ok (&rc, s_task_id);
    rc.output_count = CAPSULE_RECEIPT_OUTPUTS_MAX + 1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_TOO_MANY);
    crt_receipt_ok (&rc, s_task_id);
    rc.degraded_count = CAPSULE_RECEIPT_DEGRADED_MAX + 1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_TOO_MANY);

    /* Exit shape and ranges. */
    crt_receipt_ok (&rc, s_task_id);
    rc.exit.has_signal = true;
    rc.exit.signal = 9;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    crt_receipt_ok (&rc, s_task_id);
    rc.exit.has_code = false;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    rc.exit.killed = CAPSULE_RECEIPT_KILL_MEMORY; /* killed before any status: allowed */
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);
    crt_receipt_ok (&rc, s_task_id);
    rc.exit.code = 256;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    rc.exit.code = -1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    rc.exit.code = 255;
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);
    crt_receipt_killed (&rc, s_task_id);
    rc.exit.signal = 0;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    rc.exit.signal = CAPSULE_RECEIPT_SIGNAL_MAX + 1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_EXIT);
    rc.exit.signal = CAPSULE_RECEIPT_SIGNAL_MAX;
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);

    /* Kill reason. */
    crt_receipt_killed (&rc, s_task_id);
    rc.exit.killed = CAPSULE_RECEIPT_KILL_COUNT_;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_KILLED);

    /* Degraded flags. */
    crt_receipt_killed (&rc, s_task_id);
    snprintf (rc.degraded[0], sizeof rc.degraded[0], "Rlimit-only");
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_DEGRADED);
    rc.degraded[0][0] = '\0';
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_DEGRADED);
    snprintf (rc.degraded[0], sizeof rc.degraded[0], "no seccomp");
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_DEGRADED);
    crt_receipt_killed (&rc, s_task_id);
    rc.degraded_count = 2;
    snprintf (rc.degraded[1], sizeof rc.degraded[1], "rlimit-only");
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_DEGRADED);
    snprintf (rc.degraded[1], sizeof rc.degraded[1], "no-cgroup-cpu");
    assert_int_equal (capsule_receipt_check (&rc, NULL, 0), WD_OK);

    /* Times. */
    crt_receipt_killed (&rc, s_task_id);
    rc.ended = rc.started - 1;
    s_expect_rule (&rc, CAPSULE_ERR_RECEIPT_TIME);
}

static void
test_check_task (void **state)
{
    (void)state;
    capsule_task_t task;
    crt_task (&task);
    capsule_receipt_t rc;
    char why[160];
    crt_receipt_killed (&rc, s_task_id);
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why), WD_OK);

    /* The receipt's own rules come first. */
    rc.ended = 0;
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_TIME);

    crt_receipt_killed (&rc, s_task_id);
    rc.task[5] ^= 1;
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_TASK);
    crt_receipt_killed (&rc, s_task_id);
    rc.code[0] ^= 1;
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_CODE);
    crt_receipt_killed (&rc, s_task_id);
    rc.env[31] ^= 1;
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_ENV);
    crt_receipt_killed (&rc, s_task_id);
    rc.input_count = 1;
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_INPUTS);
    crt_receipt_killed (&rc, s_task_id);
    /* Same ids in the other order. */
    memset (rc.inputs[0], 0x21, 32);
    memset (rc.inputs[1], 0x11, 32);
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, why, sizeof why),
                      CAPSULE_ERR_RECEIPT_INPUTS);
    assert_non_null (strstr (why, "input 0"));
    /* The holder is not part of the receipt: another holder still matches. */
    crt_receipt_killed (&rc, s_task_id);
    memset (task.inputs[0].holder, 0xee, 32);
    assert_int_equal (capsule_receipt_check_task (&rc, &task, s_task_id, NULL, 0), WD_OK);
}

static void
s_round_trip (const capsule_receipt_t *rc)
{
    size_t len;
    uint8_t *body = s_encode (rc, &len);
    capsule_receipt_t back;
    assert_int_equal (capsule_receipt_decode (body, len, &back), WD_OK);
    assert_memory_equal (&back, rc, sizeof back);
    size_t len2;
    uint8_t *again = s_encode (&back, &len2);
    assert_int_equal (len2, len);
    assert_memory_equal (again, body, len);
    free (again);
    free (body);
}

static void
test_round_trip (void **state)
{
    (void)state;
    capsule_receipt_t rc;
    crt_receipt_killed (&rc, s_task_id);
    s_round_trip (&rc);
    crt_receipt_ok (&rc, s_task_id);
    s_round_trip (&rc);

    /* Every bound at once. */
    crt_receipt_ok (&rc, s_task_id);
    rc.exit = (capsule_receipt_exit_t){ .has_signal = true,
                                        .signal = CAPSULE_RECEIPT_SIGNAL_MAX,
                                        .killed = CAPSULE_RECEIPT_KILL_OUTPUT };
    rc.input_count = CAPSULE_RECEIPT_INPUTS_MAX;
    rc.output_count = CAPSULE_RECEIPT_OUTPUTS_MAX;
    rc.degraded_count = CAPSULE_RECEIPT_DEGRADED_MAX;
    for (size_t i = 0; i < 16; i++) {
        memset (rc.inputs[i], (int)i, 32);
        memset (rc.outputs[i], (int)(0x40 + i), 32);
    }
    for (size_t i = 0; i < CAPSULE_RECEIPT_DEGRADED_MAX; i++) {
        memset (rc.degraded[i], 'a' + (int)i, CAPSULE_RECEIPT_DEGRADED_LEN);
        rc.degraded[i][CAPSULE_RECEIPT_DEGRADED_LEN] = '\0';
    }
    rc.usage = (capsule_receipt_usage_t){ UINT64_MAX, UINT64_MAX, UINT64_MAX, UINT64_MAX };
    rc.started = 0;
    rc.ended = UINT64_MAX;
    s_round_trip (&rc);

    /* Each kill reason, code 255 with a kill. */
    for (int k = 1; k < CAPSULE_RECEIPT_KILL_COUNT_; k++) {
        crt_receipt_ok (&rc, s_task_id);
        rc.exit.code = 255;
        rc.exit.killed = (capsule_receipt_kill_t)k;
        s_round_trip (&rc);
        rc.exit.has_code = false;
        rc.exit.code = 0;
        s_round_trip (&rc);
    }
}

static void
test_decode_rejects (void **state)
{
    (void)state;
    capsule_receipt_t rc;
    size_t len, n;
    uint8_t *body, *b;

#define S_PATCHED(old, new, want)                                                                  \
    do {                                                                                           \
        b = malloc (len);                                                                          \
        memcpy (b, body, len);                                                                     \
        crt_patch (b, len, old, new, sizeof (old) - 1);                                            \
        s_expect_decode (b, len, want);                                                            \
        free (b);                                                                                  \
    } while (0)
#define S_SPLICED(old, new, want)                                                                  \
    do {                                                                                           \
        b = crt_splice (body, len, old, sizeof (old) - 1, new, sizeof (new) - 1, &n);              \
        s_expect_decode (b, n, want);                                                              \
        free (b);                                                                                  \
    } while (0)

    /* exit {code: 0, killed: nil, signal: nil} */
    crt_receipt_ok (&rc, s_task_id);
    body = s_encode (&rc, &len);
    s_expect_decode (body, len, WD_OK);
    S_PATCHED ("\xa6signal\xc0", "\xa6signal\x09", CAPSULE_ERR_RECEIPT_EXIT);
    S_PATCHED ("\xa4"
               "code\x00",
               "\xa4"
               "code\xc0",
               CAPSULE_ERR_RECEIPT_EXIT);
    S_PATCHED ("\xa4"
               "code\x00",
               "\xa4"
               "code\xff",
               CAPSULE_ERR_RECEIPT_EXIT);
    S_SPLICED ("\xa4"
               "code\x00",
               "\xa4"
               "code\xcd\x01\x00",
               CAPSULE_ERR_RECEIPT_EXIT);
    S_SPLICED ("\xa4"
               "code\x00",
               "\xa4"
               "code\xa1"
               "0",
               CAPSULE_ERR_RECEIPT_EXIT);
    S_SPLICED ("\xa4"
               "code\x00",
               "\xa4"
               "code\xc2",
               CAPSULE_ERR_RECEIPT_EXIT);
    /* killed: a string that is no limit, or no string at all. */
    S_SPLICED ("\xa6killed\xc0", "\xa6killed\xa4wali", CAPSULE_ERR_RECEIPT_KILLED);
    S_SPLICED ("\xa6killed\xc0", "\xa6killed\x01", CAPSULE_ERR_RECEIPT_KILLED);
    S_SPLICED ("\xa6killed\xc0", "\xa6killed\xa4wall", WD_OK);
    /* Codec reasons win over field reasons: a bad exit and a bad version. */
    {
        b = crt_splice (body, len, "\xa6signal\xc0", 8, "\xa6signal\x09", 8, &n);
        crt_patch (b, n, "\xa1v\x01", "\xa1v\x02", 3);
        s_expect_decode (b, n, WD_ERR_BAD_VERSION);
        free (b);
    }
    S_PATCHED ("\xa1v\x01", "\xa1v\x02", WD_ERR_BAD_VERSION);
    S_PATCHED ("\xa5proof", "\xa5prone", WD_ERR_UNKNOWN_KEY);
    S_PATCHED ("\xa5proof", "\xa5proog", WD_ERR_MISSING_KEY);
    S_PATCHED ("\xa7wall_us", "\xa7wall_ut", WD_ERR_MISSING_KEY);
    S_SPLICED ("\xa5proof\xc4\x50\x00", "\xa5proof\xc4\x4f", WD_ERR_BAD_LENGTH);
    s_expect_decode (body, len - 1, WD_ERR_TRUNCATED);
    free (body);

    /* exit {code: nil, killed: "wall", signal: 9}, degraded ["rlimit-only"] */
    crt_receipt_killed (&rc, s_task_id);
    body = s_encode (&rc, &len);
    s_expect_decode (body, len, WD_OK);
    S_PATCHED ("\xa4wall", "\xa4wali", CAPSULE_ERR_RECEIPT_KILLED);
    S_PATCHED ("\xa6signal\x09", "\xa6signal\x00", CAPSULE_ERR_RECEIPT_EXIT);
    S_PATCHED ("\xa6signal\x09", "\xa6signal\xf7", CAPSULE_ERR_RECEIPT_EXIT);
    S_SPLICED ("\xa6signal\x09", "\xa6signal\xcc\x80", CAPSULE_ERR_RECEIPT_EXIT);
    S_PATCHED ("\xa6signal\x09", "\xa6signal\x7f", WD_OK);
    S_PATCHED ("\xa6signal\x09", "\xa6signal\xc0", WD_OK); /* killed, no status */
    S_PATCHED ("rlimit-only", "rlimit_only", CAPSULE_ERR_RECEIPT_DEGRADED);
    S_SPLICED ("\x91\xabrlimit-only", "\x92\xabrlimit-only\xabrlimit-only",
               CAPSULE_ERR_RECEIPT_DEGRADED);
    S_SPLICED ("\x91\xabrlimit-only", "\x91\xa0", CAPSULE_ERR_RECEIPT_DEGRADED);
    S_SPLICED ("\x91\xabrlimit-only", "\x91\x05", WD_ERR_WRONG_TYPE);
    S_SPLICED ("\x91\xabrlimit-only", "\x90", WD_OK);
    {
        /* A flag of 32 bytes: the rule's reason. */
        uint8_t ins[3 + 32];
        ins[0] = 0x91, ins[1] = 0xd9, ins[2] = 32;
        memset (ins + 3, 'x', 32);
        b = crt_splice (body, len, "\x91\xabrlimit-only", 13, ins, sizeof ins, &n);
        s_expect_decode (b, n, CAPSULE_ERR_RECEIPT_DEGRADED);
        free (b);
    }
    /* ended before started: 1767225611000 -> 1767225600999. */
    {
        uint8_t old[1 + 5 + 9] = "\xa5"
                                 "ended\xcf";
        uint64_t v = 1767225611000ULL, w = 1767225600999ULL;
        for (int i = 0; i < 8; i++)
            old[7 + i] = (uint8_t)(v >> (56 - 8 * i));
        uint8_t new[sizeof old];
        memcpy (new, old, sizeof old);
        for (int i = 0; i < 8; i++)
            new[7 + i] = (uint8_t)(w >> (56 - 8 * i));
        b = malloc (len);
        memcpy (b, body, len);
        crt_patch (b, len, old, new, 15);
        s_expect_decode (b, len, CAPSULE_ERR_RECEIPT_TIME);
        free (b);
    }
    free (body);

    /* 17 outputs, 17 inputs, 9 degraded flags: the count alone decides. */
    crt_receipt_ok (&rc, s_task_id);
    rc.input_count = 16;
    rc.output_count = 16;
    rc.degraded_count = 8;
    for (size_t i = 0; i < 16; i++) {
        memset (rc.inputs[i], (int)(0x80 + i), 32);
        memset (rc.outputs[i], (int)(0xc0 + i), 32);
    }
    for (size_t i = 0; i < 8; i++)
        snprintf (rc.degraded[i], sizeof rc.degraded[i], "flag-%zu", i);
    body = s_encode (&rc, &len);
    s_expect_decode (body, len, WD_OK);
    {
        uint8_t one[34], two[68];
        one[0] = 0xc4, one[1] = 0x20;
        memset (one + 2, 0xcf, 32);
        memcpy (two, one, 34);
        memcpy (two + 34, one, 34);
        b = crt_splice (body, len, one, 34, two, 68, &n);
        crt_patch (b, n, "\xa7outputs\xdc\x00\x10", "\xa7outputs\xdc\x00\x11", 11);
        s_expect_decode (b, n, CAPSULE_ERR_RECEIPT_TOO_MANY);
        free (b);
        memset (one + 2, 0x8f, 32);
        memcpy (two, one, 34);
        memcpy (two + 34, one, 34);
        b = crt_splice (body, len, one, 34, two, 68, &n);
        crt_patch (b, n, "\xa6inputs\xdc\x00\x10", "\xa6inputs\xdc\x00\x11", 10);
        s_expect_decode (b, n, CAPSULE_ERR_RECEIPT_TOO_MANY);
        free (b);
        b = crt_splice (body, len,
                        "\x98\xa6"
                        "flag-0",
                        8,
                        "\x99\xa6"
                        "flag-9\xa6"
                        "flag-0",
                        15, &n);
        s_expect_decode (b, n, CAPSULE_ERR_RECEIPT_TOO_MANY);
        free (b);
    }
    free (body);
#undef S_PATCHED
#undef S_SPLICED
}

static void
test_vectors (void **state)
{
    (void)state;
    size_t n, len, env_len;
    uint8_t *task_id = test_vector_hex (CRT_VECTORS, "task_id", &n);
    uint8_t *chain = test_vector_hex (CRT_VECTORS, "chain", &n);
    uint8_t *task_env = test_vector_hex (CRT_VECTORS, "task_envelope", &n);
    capsule_task_t task;
    uint8_t id[32];
    assert_int_equal (capsule_task_open (task_env, n, chain, &task, NULL, id), WD_OK);
    uint8_t pk[32], sk[64];
    test_keypair_from_vector (CRT_VECTORS, pk, sk);

    const struct {
        const char *body, *env;
        void (*fill) (capsule_receipt_t *, const uint8_t *);
    } cases[] = {
        { "receipt_killed", "receipt_killed_envelope", crt_receipt_killed },
        { "receipt_ok", "receipt_ok_envelope", crt_receipt_ok },
    };
    for (size_t i = 0; i < 2; i++) {
        capsule_receipt_t want, got;
        cases[i].fill (&want, task_id);
        uint8_t *body = test_vector_hex (CRT_VECTORS, cases[i].body, &len);
        uint8_t *env = test_vector_hex (CRT_VECTORS, cases[i].env, &env_len);
        assert_int_equal (capsule_receipt_decode (body, len, &got), WD_OK);
        assert_memory_equal (&got, &want, sizeof got);
        uint8_t *ours, rid[32], who[32];
        size_t ours_len;
        assert_int_equal (capsule_receipt_encode (&want, &ours, &ours_len), WD_OK);
        assert_int_equal (ours_len, len);
        assert_memory_equal (ours, body, len);
        free (ours);
        assert_int_equal (capsule_receipt_seal (&want, chain, pk, capsule_sign_secret_key, sk,
                                                &ours, &ours_len, rid),
                          WD_OK);
        assert_int_equal (ours_len, env_len);
        assert_memory_equal (ours, env, env_len);
        uint8_t want_rid[32];
        wd_envelope_id (want_rid, env, env_len);
        assert_memory_equal (rid, want_rid, 32);
        free (ours);
        assert_int_equal (capsule_receipt_open (env, env_len, chain, &got, who), WD_OK);
        assert_memory_equal (&got, &want, sizeof got);
        assert_memory_equal (who, pk, 32);
        assert_int_equal (capsule_receipt_check_task (&got, &task, id, NULL, 0), WD_OK);
        free (body);
        free (env);
    }
    free (task_env);
    free (task_id);
    free (chain);
}

static void
test_seal_open (void **state)
{
    (void)state;
    capsule_receipt_t rc, got;
    crt_receipt_killed (&rc, s_task_id);
    uint8_t *env, id[32], who[32];
    size_t len;
    assert_int_equal (
        capsule_receipt_seal (&rc, s_chain, s_pk, capsule_sign_secret_key, s_sk, &env, &len, id),
        WD_OK);
    assert_int_equal (capsule_receipt_open (env, len, s_chain, &got, who), WD_OK);
    assert_memory_equal (&got, &rc, sizeof rc);
    assert_memory_equal (who, s_pk, 32);

    uint8_t other[WD_CHAIN_ID_LEN];
    memcpy (other, s_chain, sizeof other);
    other[9] ^= 2;
    assert_int_equal (capsule_receipt_open (env, len, other, &got, NULL), WD_ERR_WRONG_CHAIN);
    wd_envelope_t e;
    assert_int_equal (wd_envelope_decode (env, len, &e), WD_OK);
    size_t at = crt_find (env, len, e.sig, WD_SIG_LEN);
    env[at + 63] ^= 0x10;
    assert_int_equal (capsule_receipt_open (env, len, s_chain, &got, NULL), WD_ERR_BAD_SIGNATURE);
    free (env);

    /* A task envelope is not a receipt. */
    capsule_task_t task;
    crt_task (&task);
    assert_int_equal (capsule_task_seal_secret (&task, s_chain, s_sk, &env, &len, NULL), WD_OK);
    assert_int_equal (capsule_receipt_open (env, len, s_chain, &got, NULL), WD_ERR_UNEXPECTED_TYPE);
    free (env);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_kill_names),     cmocka_unit_test (test_rules),
        cmocka_unit_test (test_check_task),     cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_decode_rejects), cmocka_unit_test (test_vectors),
        cmocka_unit_test (test_seal_open),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
