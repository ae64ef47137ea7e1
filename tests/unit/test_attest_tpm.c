/*
 * Tests for attest_tpm (the node's TPM client) together with attest_quote
 * (the verifier's checks), against Debian's swtpm started by this program
 * on Unix sockets in a temporary directory: EK and AK, binding the AK with
 * MakeCredential (OpenSSL, attest_quote) / ActivateCredential (the TPM),
 * a quote that verifies, then each rejection with its exact code (wrong
 * nonce, altered PCR value, altered TPMS_ATTEST bytes, a replayed older
 * clock, an unbound AK, a selection that misses a required PCR), PCR 10
 * extended like IMA and compared with an attest_ima replay, and whole
 * evidence records carrying a quote through attest_evidence_open.
 *
 * Exits 77 (ctest SKIP_RETURN_CODE) only when swtpm is not installed or
 * cannot start here, and says why.
 */
#include <setjmp.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <sodium.h>

#include "attest_evidence.h"
#include "attest_ima.h"
#include "attest_tpm.h"
#include "test_support.h"
#include "wd_hash.h"

#define S_NOW        1767225600u
#define S_BOOT_PCRS  0x0000ffu /* PCRs 0..7 */
#define S_IMA_PCR    10u
#define S_QUOTE_PCRS (S_BOOT_PCRS | (1u << S_IMA_PCR))

static pid_t s_swtpm = -1;
static attest_tpm_t *s_tpm;
static uint8_t s_ak_name[ATTEST_QUOTE_NAME_LEN];
static char s_skip[640];

/* ---- swtpm ------------------------------------------------------------------- */

static void
s_stop_swtpm (void)
{
    if (s_swtpm > 0) {
        kill (s_swtpm, SIGTERM);
        waitpid (s_swtpm, NULL, 0);
        s_swtpm = -1;
    }
}

/* Starts swtpm on dir/sock (+ dir/sock.ctrl) with a fresh state; returns
   false and fills s_skip when it cannot. */
static bool
s_start_swtpm (const char *dir, char *tcti, size_t tcti_len)
{
    char state[512], sock[512], ctrl[512], state_arg[600], sock_arg[600], ctrl_arg[600];
    snprintf (state, sizeof state, "%s/state", dir);
    snprintf (sock, sizeof sock, "%s/sock", dir);
    snprintf (ctrl, sizeof ctrl, "%s/sock.ctrl", dir);
    if (mkdir (state, 0700) != 0) {
        snprintf (s_skip, sizeof s_skip, "cannot create %s", state);
        return false;
    }
    snprintf (state_arg, sizeof state_arg, "dir=%s", state);
    snprintf (sock_arg, sizeof sock_arg, "type=unixio,path=%s", sock);
    snprintf (ctrl_arg, sizeof ctrl_arg, "type=unixio,path=%s", ctrl);
    char log[512];
    snprintf (log, sizeof log, "%s/swtpm.log", dir);
    s_swtpm = fork ();
    if (s_swtpm == 0) {
        /* swtpm logs every client disconnect on stderr: keep it in a file. */
        int fd = open (log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
        if (fd >= 0) {
            dup2 (fd, STDOUT_FILENO);
            dup2 (fd, STDERR_FILENO);
            close (fd);
        }
        execlp ("swtpm", "swtpm", "socket", "--tpm2", "--tpmstate", state_arg, "--server", sock_arg,
                "--ctrl", ctrl_arg, "--flags", "not-need-init,startup-clear", (char *)NULL);
        _exit (127);
    }
    if (s_swtpm < 0) {
        snprintf (s_skip, sizeof s_skip, "fork failed");
        return false;
    }
    /* Wait up to 5 s for both sockets. */
    for (int i = 0; i < 500; i++) {
        struct stat st;
        int status;
        if (stat (sock, &st) == 0 && stat (ctrl, &st) == 0)
            break;
        if (waitpid (s_swtpm, &status, WNOHANG) == s_swtpm) {
            s_swtpm = -1;
            snprintf (s_skip, sizeof s_skip, "swtpm exited with status %d (%s)",
                      WIFEXITED (status) ? WEXITSTATUS (status) : -1,
                      WIFEXITED (status) && WEXITSTATUS (status) == 127 ? "not installed"
                                                                        : "cannot run here");
            return false;
        }
        usleep (10000);
    }
    snprintf (tcti, tcti_len, "swtpm:path=%s", sock);
    return true;
}

/* ---- helpers ----------------------------------------------------------------- */

static attest_quote_expect_t
s_expect (const attest_quote_clock_t *last)
{
    attest_quote_expect_t x = { 0 };
    x.ak_name = s_ak_name;
    x.required = S_BOOT_PCRS;
    x.last = last;
    return x;
}

static void
s_quote (const uint8_t nonce[32], uint32_t select, attest_quote_t *q)
{
    int rc = attest_tpm_quote (s_tpm, nonce, select, q);
    if (rc != WD_OK)
        fprintf (stderr, "quote: %s\n", attest_tpm_why (s_tpm));
    assert_int_equal (rc, WD_OK);
}

/* Binds the AK: MakeCredential in software, ActivateCredential in the TPM. */
static void
s_bind (void)
{
    uint8_t ek[ATTEST_QUOTE_EK_MAX], ak[ATTEST_QUOTE_AK_MAX];
    size_t ek_len, ak_len;
    assert_int_equal (attest_tpm_ek_public (s_tpm, ek, sizeof ek, &ek_len), WD_OK);
    assert_int_equal (attest_tpm_ak_public (s_tpm, ak, sizeof ak, &ak_len, s_ak_name), WD_OK);
    assert_int_equal (attest_quote_parse_ak (ak, ak_len, NULL, NULL), WD_OK);

    uint8_t cred[32], blob[ATTEST_QUOTE_BLOB_MAX], secret[ATTEST_QUOTE_SECRET_MAX];
    uint8_t got[ATTEST_QUOTE_CRED_MAX];
    size_t blob_len, secret_len, got_len;
    randombytes_buf (cred, sizeof cred);
    assert_int_equal (attest_quote_make_credential (ek, ek_len, s_ak_name, cred, sizeof cred, blob,
                                                    &blob_len, secret, &secret_len),
                      WD_OK);
    int rc = attest_tpm_activate (s_tpm, blob, blob_len, secret, secret_len, got, &got_len);
    if (rc != WD_OK)
        fprintf (stderr, "activate: %s\n", attest_tpm_why (s_tpm));
    assert_int_equal (rc, WD_OK);
    assert_int_equal (got_len, sizeof cred);
    assert_memory_equal (got, cred, sizeof cred);
}

/* ---- tests ------------------------------------------------------------------- */

static void
test_bind_ak (void **state)
{
    (void)state;
    s_bind ();
    /* The same AK comes back from its template. */
    uint8_t again[ATTEST_QUOTE_NAME_LEN], ak[ATTEST_QUOTE_AK_MAX];
    size_t ak_len;
    assert_int_equal (attest_tpm_ak_public (s_tpm, ak, sizeof ak, &ak_len, again), WD_OK);
    assert_memory_equal (again, s_ak_name, sizeof again);
}

static void
test_activate_refuses_other_name (void **state)
{
    (void)state;
    uint8_t ek[ATTEST_QUOTE_EK_MAX], other[ATTEST_QUOTE_NAME_LEN];
    size_t ek_len;
    assert_int_equal (attest_tpm_ek_public (s_tpm, ek, sizeof ek, &ek_len), WD_OK);
    memcpy (other, s_ak_name, sizeof other);
    other[10] ^= 1; /* a credential for a key this TPM does not hold */
    uint8_t cred[16] = "credential-0123", blob[ATTEST_QUOTE_BLOB_MAX];
    uint8_t secret[ATTEST_QUOTE_SECRET_MAX], got[ATTEST_QUOTE_CRED_MAX];
    size_t blob_len, secret_len, got_len;
    assert_int_equal (attest_quote_make_credential (ek, ek_len, other, cred, sizeof cred, blob,
                                                    &blob_len, secret, &secret_len),
                      WD_OK);
    assert_int_equal (
        attest_tpm_activate (s_tpm, blob, blob_len, secret, secret_len, got, &got_len),
        ATTEST_ERR_TPM_COMMAND);
    /* An EK that is not one: the AK's public area. */
    uint8_t ak[ATTEST_QUOTE_AK_MAX];
    size_t ak_len;
    assert_int_equal (attest_tpm_ak_public (s_tpm, ak, sizeof ak, &ak_len, NULL), WD_OK);
    assert_int_equal (attest_quote_make_credential (ak, ak_len, s_ak_name, cred, sizeof cred, blob,
                                                    &blob_len, secret, &secret_len),
                      ATTEST_ERR_QUOTE_EK);
}

static void
test_quote_verifies (void **state)
{
    (void)state;
    uint8_t nonce[32];
    randombytes_buf (nonce, sizeof nonce);
    attest_quote_t q;
    s_quote (nonce, S_QUOTE_PCRS, &q);
    attest_quote_expect_t x = s_expect (NULL);
    attest_quote_clock_t clock;
    assert_int_equal (attest_quote_verify (&q, nonce, NULL, 0, &x, &clock), WD_OK);
    attest_quote_clock_t again;
    assert_int_equal (attest_quote_clock_of (&q, &again), WD_OK);
    assert_memory_equal (&again, &clock, sizeof clock);
    uint8_t pcr0[32];
    assert_int_equal (attest_tpm_pcr_read (s_tpm, 0, pcr0), WD_OK);
    assert_memory_equal (attest_quote_pcr (&q, 0), pcr0, 32);
    assert_null (attest_quote_pcr (&q, 11));
}

static void
test_quote_rejections (void **state)
{
    (void)state;
    uint8_t nonce[32], other[32];
    randombytes_buf (nonce, sizeof nonce);
    memcpy (other, nonce, 32);
    other[31] ^= 0x80;
    attest_quote_t q, bad;
    s_quote (nonce, S_QUOTE_PCRS, &q);
    attest_quote_expect_t x = s_expect (NULL);

    /* Another nonce than the evidence's. */
    assert_int_equal (attest_quote_verify (&q, other, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_NONCE);

    /* An altered PCR value. */
    bad = q;
    bad.pcrs[3][7] ^= 1;
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_PCR_DIGEST);

    /* An altered TPMS_ATTEST byte: each byte past the header breaks the
       signature or the structure; a header byte names its field. */
    for (size_t i = 6; i < q.attest_len; i++) {
        bad = q;
        bad.attest[i] ^= 0x01;
        int rc = attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL);
        if (rc != ATTEST_ERR_QUOTE_MALFORMED)
            assert_int_equal (rc, ATTEST_ERR_QUOTE_SIGNATURE);
    }
    bad = q;
    bad.attest[q.attest_len - 1] ^= 0x01; /* the last pcrDigest byte */
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SIGNATURE);
    bad = q;
    bad.attest[0] ^= 0x01;
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_MAGIC);
    bad = q;
    bad.attest[5] ^= 0x01;
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_TYPE);
    bad = q;
    bad.sig[40] ^= 0x01;
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SIGNATURE);

    /* No AK bound, or another one. */
    attest_quote_expect_t unbound = x;
    unbound.ak_name = NULL;
    assert_int_equal (attest_quote_verify (&q, nonce, NULL, 0, &unbound, NULL),
                      ATTEST_ERR_QUOTE_AK_UNBOUND);
    uint8_t other_name[ATTEST_QUOTE_NAME_LEN];
    memcpy (other_name, s_ak_name, sizeof other_name);
    other_name[20] ^= 1;
    unbound.ak_name = other_name;
    assert_int_equal (attest_quote_verify (&q, nonce, NULL, 0, &unbound, NULL),
                      ATTEST_ERR_QUOTE_AK_UNBOUND);

    /* A claimed selection other than the quoted one, and a required PCR
       the quote does not cover. */
    bad = q;
    bad.select = S_QUOTE_PCRS | (1u << 11);
    assert_int_equal (attest_quote_verify (&bad, nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SELECTION);
    attest_quote_t small;
    s_quote (nonce, 1u << S_IMA_PCR, &small);
    assert_int_equal (attest_quote_verify (&small, nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SELECTION);
}

static void
test_quote_clock_replay (void **state)
{
    (void)state;
    uint8_t n1[32], n2[32];
    randombytes_buf (n1, sizeof n1);
    randombytes_buf (n2, sizeof n2);
    attest_quote_t q1, q2;
    attest_quote_clock_t c1, c2;
    s_quote (n1, S_QUOTE_PCRS, &q1);
    usleep (20000); /* the TPM clock counts milliseconds */
    s_quote (n2, S_QUOTE_PCRS, &q2);
    attest_quote_expect_t x = s_expect (NULL);
    assert_int_equal (attest_quote_verify (&q1, n1, NULL, 0, &x, &c1), WD_OK);
    x = s_expect (&c1);
    assert_int_equal (attest_quote_verify (&q2, n2, NULL, 0, &x, &c2), WD_OK);
    assert_true (c2.clock > c1.clock);

    /* The older quote after the newer one, and the same one twice. */
    x = s_expect (&c2);
    assert_int_equal (attest_quote_verify (&q1, n1, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_CLOCK);
    assert_int_equal (attest_quote_verify (&q2, n2, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_CLOCK);
    /* Counts the verifier saw higher than the quote's. */
    attest_quote_clock_t later = c2;
    later.restart_count++;
    x = s_expect (&later);
    assert_int_equal (attest_quote_verify (&q2, n2, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_RESTART);
    later = c2;
    later.reset_count++;
    x = s_expect (&later);
    assert_int_equal (attest_quote_verify (&q2, n2, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_RESET);
}

/* Extends PCR 10 with n ima-ng entries like IMA, appending their binary
   records to buf; returns the new length. */
static size_t
s_measure (uint8_t *buf, size_t len, size_t cap, size_t first, size_t n)
{
    for (size_t i = first; i < first + n; i++) {
        char name[32];
        uint8_t digest[32], data[256];
        snprintf (name, sizeof name, "/usr/bin/tpm%zu", i);
        wd_hash_sha256 (digest, name, strlen (name));
        attest_ima_entry_t e;
        assert_true (attest_ima_entry_make_ng (&e, data, sizeof data, S_IMA_PCR, ATTEST_IMA_SHA256,
                                               digest, name, strlen (name)) > 0);
        uint8_t v1[20], v256[32];
        attest_ima_extend_values (&e, 0, v1, v256);
        assert_int_equal (attest_tpm_pcr_extend (s_tpm, S_IMA_PCR, v1, v256), WD_OK);
        size_t need = attest_ima_entry_binary (&e, buf + len, cap - len);
        assert_true (need <= cap - len);
        len += need;
    }
    return len;
}

static bool
s_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    (void)id;
    (void)ctx;
    snprintf (prot, WD_CERT_PROTECTION_MAX + 1, "software");
    return true;
}

static void
test_ima_pcr10_and_evidence (void **state)
{
    (void)state;
    /* PCR 10 is zero at start-up: the list from its first entry replays to
       the TPM's value. */
    static uint8_t list[16384];
    size_t len = s_measure (list, 0, sizeof list, 0, 5);
    attest_ima_state_t replay;
    attest_ima_state_init (&replay, ATTEST_IMA_BINARY, S_IMA_PCR, 0);
    assert_int_equal (attest_ima_replay_buffer (list, len, &replay, NULL, NULL, NULL, 0), WD_OK);
    uint8_t pcr10[32];
    assert_int_equal (attest_tpm_pcr_read (s_tpm, S_IMA_PCR, pcr10), WD_OK);
    assert_memory_equal (pcr10, replay.sha256, 32);

    /* Evidence with that delta and a quote over PCRs 0-7 and 10. */
    uint8_t pk[32], sk[64], chain[WD_CHAIN_ID_LEN], nonce[32];
    crypto_sign_keypair (pk, sk);
    randombytes_buf (chain, sizeof chain);
    randombytes_buf (nonce, sizeof nonce);
    attest_evidence_t ev;
    attest_evidence_init (&ev, pk, "software", "clear", S_NOW);
    memcpy (ev.nonce, nonce, 32);
    attest_evidence_set_log (&ev, list, len, 0, 0, &replay);
    ev.has_quote = true;
    s_quote (nonce, S_QUOTE_PCRS, &ev.quote);

    uint8_t *env = NULL;
    size_t env_len;
    assert_int_equal (attest_evidence_seal (&ev, chain, test_sign_fn, sk, &env, &env_len), WD_OK);
    attest_quote_expect_t qx = s_expect (NULL);
    qx.require_quote = true;
    attest_evidence_expect_t x = { 0 };
    x.chain = chain;
    x.key_fn = s_key_fn;
    x.subject = &ev.subject;
    x.nonce = nonce;
    x.now = S_NOW;
    x.max_age = 60;
    x.max_skew = 10;
    x.quote = &qx;
    attest_evidence_t out;
    attest_ima_state_t after;
    assert_int_equal (attest_evidence_open (env, env_len, &x, &out, NULL, &after), WD_OK);
    assert_true (out.has_quote);
    assert_memory_equal (attest_quote_pcr (&out.quote, S_IMA_PCR), after.sha256, 32);
    /* A verifier without a bound AK refuses it. */
    x.quote = NULL;
    assert_int_equal (attest_evidence_open (env, env_len, &x, &out, NULL, NULL),
                      ATTEST_ERR_QUOTE_AK_UNBOUND);
    free (env);

    /* The kernel measured one more file after the log was read: the quoted
       PCR 10 no longer matches the delta's registers. */
    len = s_measure (list, len, sizeof list, 5, 1);
    randombytes_buf (nonce, sizeof nonce);
    memcpy (ev.nonce, nonce, 32);
    s_quote (nonce, S_QUOTE_PCRS, &ev.quote);
    assert_int_equal (attest_evidence_seal (&ev, chain, test_sign_fn, sk, &env, &env_len), WD_OK);
    x.quote = &qx;
    assert_int_equal (attest_evidence_open (env, env_len, &x, &out, NULL, NULL),
                      ATTEST_ERR_QUOTE_PCR_LOG);
    free (env);

    /* Evidence without a quote where one is required. */
    ev.has_quote = false;
    assert_int_equal (attest_evidence_seal (&ev, chain, test_sign_fn, sk, &env, &env_len), WD_OK);
    assert_int_equal (attest_evidence_open (env, env_len, &x, &out, NULL, NULL),
                      ATTEST_ERR_QUOTE_MISSING);
    free (env);
}

/* Many calls in a row: transient objects are flushed (no TPM_RC_OBJECT_MEMORY). */
static void
test_no_object_leak (void **state)
{
    (void)state;
    uint8_t nonce[32] = { 1 };
    attest_quote_t q;
    for (int i = 0; i < 12; i++)
        s_quote (nonce, S_BOOT_PCRS, &q);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const char *dir = test_tmpdir ();
    char tcti[600], why[ATTEST_TPM_WHY_MAX] = "";
    if (!s_start_swtpm (dir, tcti, sizeof tcti)) {
        printf ("SKIP: swtpm cannot start: %s\n", s_skip);
        test_tmpdir_remove ();
        return 77;
    }
    s_tpm = attest_tpm_new (tcti, 0, why, sizeof why);
    if (!s_tpm) {
        printf ("SKIP: swtpm started but does not answer: %s\n", why);
        s_stop_swtpm ();
        test_tmpdir_remove ();
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_bind_ak),
        cmocka_unit_test (test_activate_refuses_other_name),
        cmocka_unit_test (test_quote_verifies),
        cmocka_unit_test (test_quote_rejections),
        cmocka_unit_test (test_quote_clock_replay),
        cmocka_unit_test (test_ima_pcr10_and_evidence),
        cmocka_unit_test (test_no_object_leak),
    };
    int rc = cmocka_run_group_tests (tests, NULL, NULL);
    attest_tpm_destroy (&s_tpm);
    s_stop_swtpm ();
    test_tmpdir_remove ();
    return rc;
}
