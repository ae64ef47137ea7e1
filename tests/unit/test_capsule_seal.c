/*
 * Unit tests for capsule_seal: seal/open round trips at chunk boundaries
 * through buffers, files and pipes; our capsules checked by the independent
 * Python implementation (tests/vectors/capsule/capsule_vectors.py check);
 * tampering with each region of our own output, wrong recipients, signer
 * callbacks and bad parameters, each with its exact reason.
 */
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_err.h"
#include "capsule_format.h"
#include "capsule_seal.h"
#include "test_support.h"
#include "wd_hash.h"

static uint8_t s_chain[32], s_other_chain[32];
static uint8_t s_owner_pk[32], s_owner_sk[64];
static uint8_t s_rcpt_pk[2][32], s_rcpt_sk[2][32];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    memset (s_chain, 0xc1, 32);
    memset (s_other_chain, 0xc2, 32);
    crypto_sign_keypair (s_owner_pk, s_owner_sk);
    for (int i = 0; i < 2; i++) {
        randombytes_buf (s_rcpt_sk[i], 32);
        crypto_scalarmult_base (s_rcpt_pk[i], s_rcpt_sk[i]);
    }
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

static capsule_seal_params_t
s_params (void)
{
    capsule_seal_params_t p = {
        .kind = CAPSULE_KIND_DATA,
        .chain = s_chain,
        .owner_sk = s_owner_sk,
        .recipients = (const uint8_t (*)[32])s_rcpt_pk,
        .n_recipients = 2,
    };
    return p;
}

/* Opens a capsule in memory as recipient r; returns the code; on success
 *out holds the plaintext. */
static int
s_open_mem (const uint8_t *buf, size_t len, int r, uint8_t **out, size_t *out_len)
{
    capsule_header_t *h = malloc (sizeof *h);
    int rc = capsule_parse (buf, len, s_chain, 0, h);
    capsule_key_t *key = NULL;
    if (rc == 0)
        rc = capsule_unwrap (h, s_rcpt_pk[r], s_rcpt_sk[r], &key);
    if (rc == 0)
        rc = capsule_open_mem (h, buf, len, key, out, out_len);
    capsule_key_destroy (&key);
    free (h);
    return rc;
}

static char *
s_path (const char *name)
{
    static char path[4096];
    snprintf (path, sizeof path, "%s/%s", test_tmpdir (), name);
    return path;
}

static int
s_python_check (const char *file, size_t plain_len, const char *kind)
{
    char chain[65], sk[65], cmd[8192];
    snprintf (cmd, sizeof cmd,
              "/usr/bin/python3 '%s/capsule/capsule_vectors.py' check '%s' %s %s %zu %s >/dev/null",
              WARDEN_VECTORS_DIR, file, wd_hex_encode (chain, s_chain, 32),
              wd_hex_encode (sk, s_rcpt_sk[1], 32), plain_len, kind);
    int st = system (cmd);
    return WIFEXITED (st) ? WEXITSTATUS (st) : -1;
}

static const size_t s_sizes[] = { 0, 1, 65535, 65536, 65537, 3 * 65536 + 5 };

static void
test_roundtrip_mem_and_python (void **state)
{
    (void)state;
    for (size_t i = 0; i < sizeof s_sizes / sizeof s_sizes[0]; i++) {
        size_t n = s_sizes[i];
        uint8_t *plain = s_pattern (n), *cap = NULL, *back = NULL, id[32];
        size_t cap_len = 0, back_len = 0;
        capsule_seal_params_t p = s_params ();
        p.kind = CAPSULE_KIND_RESULT;
        assert_int_equal (capsule_seal_mem (&p, plain, n, &cap, &cap_len, id), 0);
        uint8_t want_id[32];
        crypto_hash_sha256 (want_id, cap, cap_len);
        assert_memory_equal (id, want_id, 32);
        assert_int_equal (s_open_mem (cap, cap_len, 0, &back, &back_len), 0);
        assert_int_equal (back_len, n);
        if (n)
            assert_memory_equal (back, plain, n);
        free (back);
        test_write_file (test_tmpdir (), "ours.capsule", cap, cap_len);
        assert_int_equal (s_python_check (s_path ("ours.capsule"), n, "result"), 0);
        free (cap);
        free (plain);
    }
}

static void
test_roundtrip_fd_and_pipe (void **state)
{
    (void)state;
    size_t n = 2 * 65536 + 77;
    uint8_t *plain = s_pattern (n), id_file[32], id_pipe[32], id_buf[32];
    test_write_file (test_tmpdir (), "plain", plain, n);
    capsule_seal_params_t p = s_params ();
    capsule_key_t *key = capsule_key_new ();
    p.key = key; /* the same key and header randomness differ: ids differ */

    /* Regular file in, file out, starting at an offset. */
    int in = open (s_path ("plain"), O_RDONLY);
    assert_true (in >= 0);
    assert_int_equal (lseek (in, 10, SEEK_SET), 10);
    int out = open (s_path ("a.capsule"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_int_equal (capsule_seal_fd (&p, in, out, id_file), 0);
    close (in);

    /* A pipe in: spooled. */
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    pid_t pid = fork ();
    assert_true (pid >= 0);
    if (pid == 0) {
        close (fds[0]);
        for (size_t off = 0; off < n;) {
            ssize_t w = write (fds[1], plain + off, n - off < 1000 ? n - off : 1000);
            if (w <= 0)
                _exit (1);
            off += (size_t)w;
        }
        _exit (0);
    }
    close (fds[1]);
    int out2 = open (s_path ("b.capsule"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_int_equal (capsule_seal_fd (&p, fds[0], out2, id_pipe), 0);
    close (fds[0]);
    int st;
    waitpid (pid, &st, 0);

    int out3 = open (s_path ("c.capsule"), O_RDWR | O_CREAT | O_TRUNC, 0600);
    assert_int_equal (capsule_seal_buf (&p, plain, n, out3, id_buf), 0);

    capsule_header_t *h = malloc (sizeof *h);
    struct {
        int fd;
        size_t skip;
        const uint8_t *id;
    } cases[] = { { out, 10, id_file }, { out2, 0, id_pipe }, { out3, 0, id_buf } };
    for (int i = 0; i < 3; i++) {
        assert_int_equal (capsule_parse_fd (cases[i].fd, s_chain, 0, h), 0);
        assert_memory_equal (h->id, cases[i].id, 32);
        assert_int_equal (h->plain_len, n - cases[i].skip);
        capsule_key_t *k = NULL;
        assert_int_equal (capsule_unwrap (h, s_rcpt_pk[1], s_rcpt_sk[1], &k), 0);
        assert_memory_equal (capsule_key_bytes (k), capsule_key_bytes (key), 32);
        int pl = open (s_path ("plain.out"), O_RDWR | O_CREAT | O_TRUNC, 0600);
        assert_int_equal (capsule_open_fd (h, cases[i].fd, k, pl), 0);
        capsule_key_destroy (&k);
        close (pl);
        size_t got_len;
        uint8_t *got = test_read_file (s_path ("plain.out"), &got_len);
        assert_int_equal (got_len, n - cases[i].skip);
        assert_memory_equal (got, plain + cases[i].skip, got_len);
        free (got);
        close (cases[i].fd);
    }
    free (h);
    capsule_key_destroy (&key);
    free (plain);
}

/* Flips one byte in each region of our own capsule and checks the reason. */
static void
test_tamper_our_output (void **state)
{
    (void)state;
    size_t n = 65536 + 100;
    uint8_t *plain = s_pattern (n), *cap = NULL, id[32];
    size_t len;
    capsule_seal_params_t p = s_params ();
    assert_int_equal (capsule_seal_mem (&p, plain, n, &cap, &len, id), 0);
    capsule_header_t *h = malloc (sizeof *h);
    assert_int_equal (capsule_parse (cap, len, s_chain, 0, h), 0);
    size_t ct = (size_t)h->ct_offset, tail = (size_t)(h->ct_offset + h->ct_len);
    struct {
        size_t at;
        int want;
    } flips[] = {
        { 0, CAPSULE_ERR_CAPSULE_NONCANONICAL },           /* map header */
        { 10, CAPSULE_ERR_CAPSULE_CHAIN },                 /* chain id */
        { ct - 1, CAPSULE_ERR_CAPSULE_NONCANONICAL },      /* bin length: 0xc6 → other len */
        { ct + 5, CAPSULE_ERR_CAPSULE_SIGNATURE },         /* first chunk */
        { ct + 65553 + 3, CAPSULE_ERR_CAPSULE_SIGNATURE }, /* last chunk */
        { len - 1, CAPSULE_ERR_CAPSULE_SIGNATURE },        /* last wrap's "to" */
        { tail + 65, CAPSULE_ERR_CAPSULE_SIGNATURE },      /* enc.header */
    };
    for (size_t i = 0; i < sizeof flips / sizeof flips[0]; i++) {
        cap[flips[i].at] ^= 0x01;
        int rc = capsule_parse (cap, len, s_chain, 0, h);
        cap[flips[i].at] ^= 0x01;
        if (rc != flips[i].want)
            fail_msg ("flip at %zu: %s, want %s", flips[i].at, capsule_err_name (rc),
                      capsule_err_name (flips[i].want));
    }
    assert_int_equal (capsule_parse (cap, len, s_other_chain, 0, h), CAPSULE_ERR_CAPSULE_CHAIN);
    assert_int_equal (capsule_parse (cap, len - 1, s_chain, 0, h), CAPSULE_ERR_CAPSULE_TRUNCATED);
    assert_int_equal (capsule_parse (cap, ct + 100, s_chain, 0, h), CAPSULE_ERR_CAPSULE_TRUNCATED);
    assert_int_equal (capsule_parse (cap, len, s_chain, len - 1, h), CAPSULE_ERR_CAPSULE_OVERSIZE);
    assert_int_equal (capsule_parse (cap, len, s_chain, len, h), 0);

    /* Content key of another capsule: the first chunk fails. */
    capsule_key_t *wrong = capsule_key_new ();
    uint8_t *out = NULL;
    size_t out_len;
    assert_int_equal (capsule_open_mem (h, cap, len, wrong, &out, &out_len),
                      CAPSULE_ERR_CHUNK_AUTH);
    assert_null (out);
    capsule_key_destroy (&wrong);

    /* A file cut short after parsing. */
    test_write_file (test_tmpdir (), "short.capsule", cap, ct + 60000);
    int fd = open (s_path ("short.capsule"), O_RDONLY);
    capsule_key_t *k = NULL;
    assert_int_equal (capsule_unwrap (h, s_rcpt_pk[0], s_rcpt_sk[0], &k), 0);
    int devnull = open ("/dev/null", O_WRONLY);
    assert_int_equal (capsule_open_fd (h, fd, k, devnull), CAPSULE_ERR_CAPSULE_TRUNCATED);
    assert_int_equal (capsule_parse_fd (fd, s_chain, 0, h), CAPSULE_ERR_CAPSULE_TRUNCATED);
    close (fd);
    /* Not a regular file. */
    assert_int_equal (capsule_parse_fd (devnull, s_chain, 0, h), CAPSULE_ERR_NOT_FILE);
    close (devnull);
    capsule_key_destroy (&k);
    free (h);
    free (cap);
    free (plain);
}

static int
s_sign_cb (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    int *calls = ctx;
    (*calls)++;
    crypto_sign_detached (sig, NULL, digest, 32, s_owner_sk);
    return 0;
}

static int
s_sign_fail (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    (void)ctx, (void)digest, (void)sig;
    return WD_ERR_UNAVAILABLE;
}

static void
test_signers_and_params (void **state)
{
    (void)state;
    uint8_t *cap = NULL, id[32];
    size_t len;
    int calls = 0;
    capsule_seal_params_t p = s_params ();
    p.owner_sk = NULL;
    p.owner = s_owner_pk;
    p.sign = s_sign_cb;
    p.sign_ctx = &calls;
    p.kind = CAPSULE_KIND_CODE;
    capsule_policy_t *pol = malloc (sizeof *pol);
    capsule_policy_init (pol);
    pol->n_key_protection = 2;
    strcpy (pol->key_protection[0], "zymbit");
    strcpy (pol->key_protection[1], "tpm");
    pol->min_tier = CAPSULE_TIER_AFFIRMING;
    p.policy = pol;
    assert_int_equal (capsule_seal_mem (&p, "hi", 2, &cap, &len, id), 0);
    assert_int_equal (calls, 1);
    capsule_header_t *h = malloc (sizeof *h);
    assert_int_equal (capsule_parse (cap, len, s_chain, 0, h), 0);
    assert_int_equal (h->kind, CAPSULE_KIND_CODE);
    assert_memory_equal (h->owner, s_owner_pk, 32);
    assert_int_equal (h->policy.min_tier, CAPSULE_TIER_AFFIRMING);
    assert_string_equal (h->policy.key_protection[0], "tpm"); /* normalized */
    assert_int_equal (h->n_wraps, 2);
    assert_true (memcmp (h->wraps[0].to, h->wraps[1].to, 32) < 0);
    assert_true (capsule_is_recipient (h, s_rcpt_pk[0]));
    free (cap);
    cap = NULL;

    /* The callback signs with another key than owner claims. */
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair (other_pk, other_sk);
    p.owner = other_pk;
    assert_int_equal (capsule_seal_mem (&p, "hi", 2, &cap, &len, id),
                      CAPSULE_ERR_CAPSULE_SIGNATURE);
    assert_null (cap);
    p.sign = s_sign_fail;
    assert_int_equal (capsule_seal_mem (&p, "hi", 2, &cap, &len, id), WD_ERR_UNAVAILABLE);

    /* Bad parameters. */
    capsule_seal_params_t q = s_params ();
    q.n_recipients = 0;
    assert_int_equal (capsule_seal_mem (&q, "hi", 2, &cap, &len, id), CAPSULE_ERR_SEAL_PARAMS);
    q = s_params ();
    strcpy (pol->key_protection[0], "Bad");
    q.policy = pol;
    assert_int_equal (capsule_seal_mem (&q, "hi", 2, &cap, &len, id), CAPSULE_ERR_SEAL_PARAMS);
    q = s_params ();
    uint8_t small_order[2][32] = { { 0 }, { 1 } };
    q.recipients = (const uint8_t (*)[32])small_order;
    assert_int_equal (capsule_seal_mem (&q, "hi", 2, &cap, &len, id), CAPSULE_ERR_WRAP_KEY);
    /* Duplicate recipients collapse to one wrap. */
    q = s_params ();
    uint8_t dup[3][32];
    memcpy (dup[0], s_rcpt_pk[0], 32);
    memcpy (dup[1], s_rcpt_pk[0], 32);
    memcpy (dup[2], s_rcpt_pk[0], 32);
    q.recipients = (const uint8_t (*)[32])dup;
    q.n_recipients = 3;
    assert_int_equal (capsule_seal_mem (&q, "", 0, &cap, &len, id), 0);
    assert_int_equal (capsule_parse (cap, len, s_chain, 0, h), 0);
    assert_int_equal (h->n_wraps, 1);
    uint8_t *out = (uint8_t *)"x";
    size_t out_len = 9;
    assert_int_equal (s_open_mem (cap, len, 1, &out, &out_len), CAPSULE_ERR_NOT_RECIPIENT);
    assert_int_equal (s_open_mem (cap, len, 0, &out, &out_len), 0);
    assert_null (out);
    assert_int_equal (out_len, 0);
    free (cap);
    free (h);
    free (pol);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_roundtrip_mem_and_python),
        cmocka_unit_test (test_roundtrip_fd_and_pipe),
        cmocka_unit_test (test_tamper_our_output),
        cmocka_unit_test (test_signers_and_params),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
