/*
 * Unit tests for capsule_task: the name, entry and limit rules at their
 * boundaries, every task rule on the struct and on encoded bytes (each
 * rejection asserted by its exact code), round trips up to the bounds, the
 * known-answer vectors of the independent Python encoder, and sealing and
 * opening with chain, signature and type checks.
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
#include "capsule_task.h"
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

/* Encodes t (which must pass) into *len bytes. */
static uint8_t *
s_encode (const capsule_task_t *t, size_t *len)
{
    uint8_t *body = NULL;
    assert_int_equal (capsule_task_encode (t, &body, len), WD_OK);
    assert_non_null (body);
    return body;
}

/* Decodes body and asserts the result code; a failed decode leaves the
   struct zeroed. */
static void
s_expect_decode (const uint8_t *body, size_t len, int want)
{
    capsule_task_t t;
    memset (&t, 0xa5, sizeof t);
    assert_int_equal (capsule_task_decode (body, len, &t), want);
    if (want != WD_OK) {
        capsule_task_t zero;
        memset (&zero, 0, sizeof zero);
        assert_memory_equal (&t, &zero, sizeof t);
    }
}

/* A task with 16 inputs named in00..in15 and 16 distinct recipients. */
static void
s_full_task (capsule_task_t *t)
{
    crt_task (t);
    memset (t->inputs, 0, sizeof t->inputs);
    t->input_count = CAPSULE_TASK_INPUTS_MAX;
    t->recipient_count = CAPSULE_TASK_RECIPIENTS_MAX;
    for (size_t i = 0; i < 16; i++) {
        memset (t->inputs[i].holder, (int)(0x80 + i), 32);
        memset (t->inputs[i].id, (int)(0xa0 + i), 32);
        snprintf (t->inputs[i].name, sizeof t->inputs[i].name, "in%02zu", i);
        memset (t->recipients[i], (int)(0xc0 + i), 32);
    }
}

/* ---- rules ------------------------------------------------------------------ */

static void
test_names (void **state)
{
    (void)state;
    char max[CAPSULE_TASK_NAME_MAX + 2];
    memset (max, 'n', sizeof max);
    max[CAPSULE_TASK_NAME_MAX] = '\0';
    assert_true (capsule_task_name_valid (max));
    max[CAPSULE_TASK_NAME_MAX] = 'n';
    max[CAPSULE_TASK_NAME_MAX + 1] = '\0';
    assert_false (capsule_task_name_valid (max));

    const char *good[] = { "a",   "names-a.txt",      ".hidden",    "...",
                           "..a", "na\xc3\xafve.txt", "with space", "-dash" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true (capsule_task_name_valid (good[i]));
    const char *bad[] = { "", ".", "..", "a/b", "/", "a/", "line\nbreak", "tab\t", "del\x7f" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false (capsule_task_name_valid (bad[i]));
}

static void
test_entry (void **state)
{
    (void)state;
    const char *good[] = { "/a",      "/code/intersect", "/usr/bin/python3",
                           "/bin/.x", "/a/...",          "/a/..b" };
    for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
        assert_true (capsule_task_entry_valid (good[i]));
    const char *bad[] = { "",         "/",   "bin/sh", "/bin//sh", "/bin/./sh", "/bin/../sh",
                          "/bin/sh/", "/..", "/.",     "/a\nb",    "//",        "/bin/sh/." };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        assert_false (capsule_task_entry_valid (bad[i]));
    char path[CAPSULE_TASK_ENTRY_MAX + 2];
    memset (path, 'p', sizeof path);
    path[0] = '/';
    path[CAPSULE_TASK_ENTRY_MAX] = '\0';
    assert_true (capsule_task_entry_valid (path));
    path[CAPSULE_TASK_ENTRY_MAX] = 'p';
    path[CAPSULE_TASK_ENTRY_MAX + 1] = '\0';
    assert_false (capsule_task_entry_valid (path));
}

static void
test_limits (void **state)
{
    (void)state;
    capsule_task_t t;
    crt_task (&t);
    char why[128];
    assert_int_equal (capsule_task_limits_check (&t.limits, why, sizeof why), WD_OK);

    /* Each limit at its bounds, below and above. */
    struct {
        uint64_t *field;
        const char *name;
        uint64_t min, max;
    } cases[] = {
        { &t.limits.cpu_ms, "cpu_ms", 1, CAPSULE_TASK_CPU_MS_MAX },
        { &t.limits.mem_bytes, "mem_bytes", CAPSULE_TASK_MEM_BYTES_MIN,
          CAPSULE_TASK_MEM_BYTES_MAX },
        { &t.limits.output_bytes, "output_bytes", 1, CAPSULE_TASK_OUTPUT_BYTES_MAX },
        { &t.limits.pids, "pids", 1, CAPSULE_TASK_PIDS_MAX },
        { &t.limits.wall_ms, "wall_ms", 1, CAPSULE_TASK_WALL_MS_MAX },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        uint64_t keep = *cases[i].field;
        *cases[i].field = cases[i].min;
        assert_int_equal (capsule_task_limits_check (&t.limits, why, sizeof why), WD_OK);
        *cases[i].field = cases[i].max;
        assert_int_equal (capsule_task_limits_check (&t.limits, why, sizeof why), WD_OK);
        *cases[i].field = 0;
        assert_int_equal (capsule_task_limits_check (&t.limits, why, sizeof why),
                          CAPSULE_ERR_TASK_LIMIT_ZERO);
        assert_non_null (strstr (why, cases[i].name));
        *cases[i].field = cases[i].min - 1;
        assert_int_equal (capsule_task_limits_check (&t.limits, NULL, 0),
                          CAPSULE_ERR_TASK_LIMIT_ZERO);
        *cases[i].field = cases[i].max + 1;
        assert_int_equal (capsule_task_limits_check (&t.limits, why, sizeof why),
                          CAPSULE_ERR_TASK_LIMIT_HIGH);
        assert_non_null (strstr (why, cases[i].name));
        *cases[i].field = UINT64_MAX;
        assert_int_equal (capsule_task_limits_check (&t.limits, NULL, 0),
                          CAPSULE_ERR_TASK_LIMIT_HIGH);
        *cases[i].field = keep;
    }
}

/* The rule a mutated task breaks, through check, encode and seal. */
static void
s_expect_rule (const capsule_task_t *t, int want)
{
    char why[160];
    assert_int_equal (capsule_task_check (t, why, sizeof why), want);
    assert_true (why[0] != '\0');
    uint8_t *out = (uint8_t *)1;
    size_t len = 1;
    assert_int_equal (capsule_task_encode (t, &out, &len), want);
    assert_null (out);
    assert_int_equal (len, 0);
    assert_int_equal (capsule_task_seal_secret (t, s_chain, s_sk, &out, &len, NULL), want);
    assert_null (out);
}

static void
test_check (void **state)
{
    (void)state;
    capsule_task_t t;
    crt_task (&t);
    assert_int_equal (capsule_task_check (&t, NULL, 0), WD_OK);

    crt_task (&t);
    snprintf (t.entry, sizeof t.entry, "code/intersect");
    s_expect_rule (&t, CAPSULE_ERR_TASK_ENTRY);

    s_full_task (&t);
    assert_int_equal (capsule_task_check (&t, NULL, 0), WD_OK);
    t.input_count = CAPSULE_TASK_INPUTS_MAX + 1;
    s_expect_rule (&t, CAPSULE_ERR_TASK_TOO_MANY);
    s_full_task (&t);
    t.recipient_count = CAPSULE_TASK_RECIPIENTS_MAX + 1;
    s_expect_rule (&t, CAPSULE_ERR_TASK_TOO_MANY);

    crt_task (&t);
    snprintf (t.inputs[1].name, sizeof t.inputs[1].name, "..");
    s_expect_rule (&t, CAPSULE_ERR_TASK_INPUT_NAME);
    crt_task (&t);
    t.inputs[0].name[0] = '\0';
    s_expect_rule (&t, CAPSULE_ERR_TASK_INPUT_NAME);
    crt_task (&t);
    snprintf (t.inputs[1].name, sizeof t.inputs[1].name, "names-a.txt");
    s_expect_rule (&t, CAPSULE_ERR_TASK_INPUT_DUPLICATE);

    crt_task (&t);
    t.limits.pids = 0;
    s_expect_rule (&t, CAPSULE_ERR_TASK_LIMIT_ZERO);
    crt_task (&t);
    t.limits.output_bytes = CAPSULE_TASK_OUTPUT_BYTES_MAX + 1;
    s_expect_rule (&t, CAPSULE_ERR_TASK_LIMIT_HIGH);

    crt_task (&t);
    t.recipient_count = 0;
    s_expect_rule (&t, CAPSULE_ERR_TASK_NO_RECIPIENT);
    crt_task (&t);
    memcpy (t.recipients[1], t.recipients[0], 32);
    s_expect_rule (&t, CAPSULE_ERR_TASK_RECIPIENT_DUPLICATE);

    /* No inputs at all is a valid task (code that needs none). */
    crt_task (&t);
    t.input_count = 0;
    assert_int_equal (capsule_task_check (&t, NULL, 0), WD_OK);

    /* Names are the caller's bytes: invalid UTF-8 is the codec's reason. */
    crt_task (&t);
    snprintf (t.inputs[0].name, sizeof t.inputs[0].name, "bad\xff");
    uint8_t *out = NULL;
    size_t len = 0;
    assert_int_equal (capsule_task_encode (&t, &out, &len), WD_ERR_BAD_UTF8);
    assert_null (out);
}

/* ---- encoding --------------------------------------------------------------- */

static void
s_round_trip (const capsule_task_t *t)
{
    size_t len;
    uint8_t *body = s_encode (t, &len);
    capsule_task_t back;
    assert_int_equal (capsule_task_decode (body, len, &back), WD_OK);
    assert_memory_equal (&back, t, sizeof back);
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
    capsule_task_t t;
    crt_task (&t);
    s_round_trip (&t);
    s_full_task (&t);
    s_round_trip (&t);
    crt_task (&t);
    t.input_count = 0;
    memset (t.inputs, 0, sizeof t.inputs);
    t.recipient_count = 1;
    memset (t.recipients[1], 0, 32);
    t.limits = (capsule_task_limits_t){ CAPSULE_TASK_CPU_MS_MAX, CAPSULE_TASK_MEM_BYTES_MAX,
                                        CAPSULE_TASK_OUTPUT_BYTES_MAX, CAPSULE_TASK_PIDS_MAX,
                                        CAPSULE_TASK_WALL_MS_MAX };
    t.submitted = UINT64_MAX;
    memset (t.entry, 'e', CAPSULE_TASK_ENTRY_MAX);
    t.entry[0] = '/';
    t.entry[CAPSULE_TASK_ENTRY_MAX] = '\0';
    s_round_trip (&t);
}

static void
test_decode_rejects (void **state)
{
    (void)state;
    capsule_task_t t;
    crt_task (&t);
    size_t len, n;
    uint8_t *body = s_encode (&t, &len), *b;
    s_expect_decode (body, len, WD_OK);

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

    /* Input names and the entry. */
    S_PATCHED ("names-a.txt", "names/a.txt", CAPSULE_ERR_TASK_INPUT_NAME);
    S_PATCHED ("names-a.txt", "names\na.txt", CAPSULE_ERR_TASK_INPUT_NAME);
    S_PATCHED ("\xabnames-a.txt", "\xab\x00ames-a.txt", CAPSULE_ERR_TASK_INPUT_NAME);
    S_SPLICED ("\xabnames-a.txt", "\xa1.", CAPSULE_ERR_TASK_INPUT_NAME);
    S_SPLICED ("\xabnames-a.txt", "\xa0", CAPSULE_ERR_TASK_INPUT_NAME);
    S_PATCHED ("names-b.txt", "names-a.txt", CAPSULE_ERR_TASK_INPUT_DUPLICATE);
    S_PATCHED ("/code/intersect", "/code/../intsct", CAPSULE_ERR_TASK_ENTRY);
    S_PATCHED ("/code/intersect", "code/intersect/", CAPSULE_ERR_TASK_ENTRY);
    /* A name a little too long is the rule's reason; a huge one the codec's. */
    {
        char name[2 + 65];
        name[0] = (char)0xd9;
        name[1] = 65;
        memset (name + 2, 'x', 65);
        b = crt_splice (body, len, "\xabnames-a.txt", 12, name, sizeof name, &n);
        s_expect_decode (b, n, CAPSULE_ERR_TASK_INPUT_NAME);
        free (b);
        size_t huge = 5000;
        char *big = malloc (3 + huge);
        big[0] = (char)0xda;
        big[1] = (char)(huge >> 8);
        big[2] = (char)(huge & 0xff);
        memset (big + 3, 'x', huge);
        b = crt_splice (body, len, "\xabnames-a.txt", 12, big, 3 + huge, &n);
        s_expect_decode (b, n, WD_ERR_OVERSIZE);
        free (b);
        /* An entry of 256 bytes. */
        big[0] = (char)0xda;
        big[1] = 1;
        big[2] = 0;
        big[3] = '/';
        b = crt_splice (body, len, "\xaf/code/intersect", 16, big, 3 + 256, &n);
        s_expect_decode (b, n, CAPSULE_ERR_TASK_ENTRY);
        free (b);
        free (big);
    }

    /* Limits. */
    S_SPLICED ("\xa6"
               "cpu_ms\xcd\x27\x10",
               "\xa6"
               "cpu_ms\x00",
               CAPSULE_ERR_TASK_LIMIT_ZERO);
    S_SPLICED ("\xa6"
               "cpu_ms\xcd\x27\x10",
               "\xa6"
               "cpu_ms\xce\x05\x26\x5c\x01",
               CAPSULE_ERR_TASK_LIMIT_HIGH);
    S_PATCHED ("\xa4pids\x40", "\xa4pids\x00", CAPSULE_ERR_TASK_LIMIT_ZERO);
    S_PATCHED ("\xa9mem_bytes\xce\x04\x00\x00\x00", "\xa9mem_bytes\xce\x00\x0f\xff\xff",
               CAPSULE_ERR_TASK_LIMIT_ZERO);
    S_SPLICED ("\xa7wall_ms\xcd\x27\x10", "\xa7wall_ms\xcf\x00\x00\x00\x01\x00\x00\x00\x00",
               CAPSULE_ERR_TASK_LIMIT_HIGH);
    S_SPLICED ("\xa7wall_ms\xcd\x27\x10", "\xa7wall_ms\xff", WD_ERR_OUT_OF_RANGE);

    /* Recipients. */
    {
        uint8_t r30[32], r31[32];
        memset (r30, 0x30, 32);
        memset (r31, 0x31, 32);
        b = malloc (len);
        memcpy (b, body, len);
        crt_patch (b, len, r31, r30, 32);
        s_expect_decode (b, len, CAPSULE_ERR_TASK_RECIPIENT_DUPLICATE);
        free (b);
        uint8_t two[1 + 11 + 2 * 34];
        memcpy (two, "\xaarecipients\x92", 12);
        two[12] = 0xc4, two[13] = 0x20;
        memcpy (two + 14, r30, 32);
        two[46] = 0xc4, two[47] = 0x20;
        memcpy (two + 48, r31, 32);
        b = crt_splice (body, len, two, 80, "\xaarecipients\x90", 12, &n);
        s_expect_decode (b, n, CAPSULE_ERR_TASK_NO_RECIPIENT);
        free (b);
        /* A recipient key of 31 bytes. */
        uint8_t short_key[33];
        short_key[0] = 0x1f;
        memcpy (short_key + 1, r31, 32);
        b = crt_splice (body, len, two + 47, 33, short_key, 32, &n);
        s_expect_decode (b, n, WD_ERR_BAD_LENGTH);
        free (b);
    }

    /* Schema and version. */
    S_PATCHED ("\xa1v\x01", "\xa1v\x02", WD_ERR_BAD_VERSION);
    S_PATCHED ("\xa5nonce", "\xa5nonbe", WD_ERR_UNKNOWN_KEY);
    S_PATCHED ("\xa5nonce", "\xa5nonde", WD_ERR_MISSING_KEY);
    {
        b = malloc (len + 1);
        memcpy (b, body, len);
        b[len] = 0xc0;
        s_expect_decode (b, len + 1, WD_ERR_TRAILING);
        free (b);
    }
    s_expect_decode (body, len - 1, WD_ERR_TRUNCATED);
    s_expect_decode (body, 0, WD_ERR_TRUNCATED);
    free (body);

    /* 17 inputs and 17 recipients: the count alone decides. */
    s_full_task (&t);
    body = s_encode (&t, &len);
    s_expect_decode (body, len, WD_OK);
    {
        /* {holder, id, name: "in15"}: 89 bytes, the name's 5 last. */
        size_t last = crt_find (body, len, "\xa4in15", 5) - (1 + 7 + 34 + 3 + 34 + 5);
        size_t map_len = 1 + 7 + 34 + 3 + 34 + 5 + 5;
        uint8_t *two = malloc (2 * map_len);
        memcpy (two, body + last, map_len);
        memcpy (two + map_len, body + last, map_len);
        b = crt_splice (body, len, body + last, map_len, two, 2 * map_len, &n);
        crt_patch (b, n, "\xa6inputs\xdc\x00\x10", "\xa6inputs\xdc\x00\x11", 10);
        s_expect_decode (b, n, CAPSULE_ERR_TASK_TOO_MANY);
        free (b);
        free (two);

        uint8_t key[34], dup[68];
        key[0] = 0xc4, key[1] = 0x20;
        memset (key + 2, 0xcf, 32);
        memcpy (dup, key, 34);
        memcpy (dup + 34, key, 34);
        b = crt_splice (body, len, key, 34, dup, 68, &n);
        crt_patch (b, n, "\xaarecipients\xdc\x00\x10", "\xaarecipients\xdc\x00\x11", 14);
        s_expect_decode (b, n, CAPSULE_ERR_TASK_TOO_MANY);
        free (b);
    }
    free (body);
#undef S_PATCHED
#undef S_SPLICED
}

/* ---- vectors and envelopes ------------------------------------------------- */

static void
test_vectors (void **state)
{
    (void)state;
    size_t body_len, env_len, n;
    uint8_t *body = test_vector_hex (CRT_VECTORS, "task", &body_len);
    uint8_t *env = test_vector_hex (CRT_VECTORS, "task_envelope", &env_len);
    uint8_t *want_id = test_vector_hex (CRT_VECTORS, "task_id", &n);
    uint8_t *chain = test_vector_hex (CRT_VECTORS, "chain", &n);
    uint8_t pk[32], sk[64];
    test_keypair_from_vector (CRT_VECTORS, pk, sk);

    capsule_task_t want, got;
    crt_task (&want);
    assert_int_equal (capsule_task_decode (body, body_len, &got), WD_OK);
    assert_memory_equal (&got, &want, sizeof got);

    uint8_t *ours;
    size_t ours_len;
    assert_int_equal (capsule_task_encode (&want, &ours, &ours_len), WD_OK);
    assert_int_equal (ours_len, body_len);
    assert_memory_equal (ours, body, body_len);
    free (ours);

    uint8_t id[32];
    assert_int_equal (capsule_task_seal_secret (&want, chain, sk, &ours, &ours_len, id), WD_OK);
    assert_int_equal (ours_len, env_len);
    assert_memory_equal (ours, env, env_len);
    assert_memory_equal (id, want_id, 32);
    free (ours);

    uint8_t submitter[32], id2[32];
    assert_int_equal (capsule_task_open (env, env_len, chain, &got, submitter, id2), WD_OK);
    assert_memory_equal (&got, &want, sizeof got);
    assert_memory_equal (submitter, pk, 32);
    assert_memory_equal (id2, want_id, 32);

    free (body);
    free (env);
    free (want_id);
    free (chain);
}

static void
test_seal_open (void **state)
{
    (void)state;
    capsule_task_t t, got;
    crt_task (&t);
    uint8_t *env;
    size_t len;
    uint8_t id[32], id2[32], who[32];
    assert_int_equal (
        capsule_task_seal (&t, s_chain, s_pk, capsule_sign_secret_key, s_sk, &env, &len, id),
        WD_OK);
    assert_int_equal (capsule_task_open (env, len, s_chain, &got, who, id2), WD_OK);
    assert_memory_equal (&got, &t, sizeof t);
    assert_memory_equal (who, s_pk, 32);
    assert_memory_equal (id, id2, 32);
    /* NULL outputs are allowed. */
    assert_int_equal (capsule_task_open (env, len, s_chain, &got, NULL, NULL), WD_OK);

    uint8_t other[WD_CHAIN_ID_LEN];
    memcpy (other, s_chain, sizeof other);
    other[0] ^= 1;
    assert_int_equal (capsule_task_open (env, len, other, &got, NULL, NULL), WD_ERR_WRONG_CHAIN);

    /* The signature is the last 64-byte bin before "type". */
    wd_envelope_t e;
    assert_int_equal (wd_envelope_decode (env, len, &e), WD_OK);
    size_t at = crt_find (env, len, e.sig, WD_SIG_LEN);
    env[at] ^= 0x40;
    assert_int_equal (capsule_task_open (env, len, s_chain, &got, NULL, NULL),
                      WD_ERR_BAD_SIGNATURE);
    env[at] ^= 0x40;

    /* The same body under another type is not a task. */
    uint8_t *body, *other_env;
    size_t body_len, other_len;
    assert_int_equal (capsule_task_encode (&t, &body, &body_len), WD_OK);
    assert_int_equal (wd_envelope_seal (CAPSULE_RECEIPT_TYPE, s_chain, s_pk, body, body_len,
                                        capsule_sign_secret_key, s_sk, &other_env, &other_len),
                      WD_OK);
    assert_int_equal (capsule_task_open (other_env, other_len, s_chain, &got, NULL, NULL),
                      WD_ERR_UNEXPECTED_TYPE);
    free (other_env);

    /* A signed envelope whose body breaks a rule: the rule's reason. */
    uint8_t *bad = malloc (body_len);
    memcpy (bad, body, body_len);
    crt_patch (bad, body_len, "\xa4pids\x40", "\xa4pids\x00", 6);
    assert_int_equal (wd_envelope_seal (CAPSULE_TASK_TYPE, s_chain, s_pk, bad, body_len,
                                        capsule_sign_secret_key, s_sk, &other_env, &other_len),
                      WD_OK);
    memset (&got, 0x5a, sizeof got);
    assert_int_equal (capsule_task_open (other_env, other_len, s_chain, &got, who, NULL),
                      CAPSULE_ERR_TASK_LIMIT_ZERO);
    free (other_env);
    free (bad);
    free (body);
    free (env);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_names),      cmocka_unit_test (test_entry),
        cmocka_unit_test (test_limits),     cmocka_unit_test (test_check),
        cmocka_unit_test (test_round_trip), cmocka_unit_test (test_decode_rejects),
        cmocka_unit_test (test_vectors),    cmocka_unit_test (test_seal_open),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
