/*
 * bench_sign: signatures per second through the `keys` process (DESIGN.md
 * §4) against raw crypto_sign_detached, measured in the same run.
 *
 * The bench plays wardend's parent and engine itself: it makes a file
 * keystore in a temporary state directory, spawns the real wardend binary as
 * "wardend --child keys" (node_proc_spawn), sends it INIT, waits for READY,
 * hands it the keys end of a new engine<->keys pair (KEYS_CHANNEL) and then
 * sends WD_MSG_SIGN requests on the engine end. Four measurements, each for
 * a fixed time after a warm-up:
 *
 *   raw         crypto_sign_detached over 32-byte digests, in this process
 *   keystore    wd_keystore_sign in this process: the keys process's own
 *               work per request (sign, then verify-after-sign)
 *   serial      through the keys process, one request at a time
 *   pipelined   through the keys process, a window of requests in flight
 *   pkcs11      wd_keystore_sign in this process through the pkcs11 backend,
 *               on a SoftHSM2 token made in the temporary directory (skipped
 *               with a message when the module is missing, or --pkcs11 none)
 *
 * so the ratio keys/raw can be split into what the keystore's
 * verify-after-sign costs and what the IPC round trip costs; the IPC cost
 * does not depend on the backend, so pkcs11 through the keys process costs
 * about the pkcs11 case plus that round trip.
 *
 * Every answer is checked: Ed25519 is deterministic, so each digest's
 * signature is computed and verified (crypto_sign_verify_detached) before
 * timing starts, and every signature that comes back is compared with it; a
 * signature that differs is verified on the spot and counted as bad unless
 * it verifies. Any bad or missing answer fails the run (exit 1). The keys
 * process's own signature counter and public key (KEYS_INFO) are checked
 * too. Nothing asserts on timing.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <getopt.h>
#include <limits.h>
#include <math.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_support.h"
#include "node_config.h"
#include "node_proc.h"
#include "wd_chan.h"
#include "wd_config.h"
#include "wd_keyfile.h"
#include "wd_keystore.h"
#include "wd_msg.h"

#ifndef BENCH_WARDEND_PATH
#define BENCH_WARDEND_PATH NULL
#endif

#define S_CASES       5 /* raw, keystore, serial, pipelined, pkcs11 */
#define S_PKCS11      4 /* the pkcs11 case's index */
#define S_PKCS11_PIN  "20262026"
#define S_SOFTHSM     "/usr/lib/softhsm/libsofthsm2.so"
#define S_DIGESTS     256 /* distinct digests signed round-robin */
#define S_WINDOW_MAX  64  /* see s_run_pipelined */
#define S_ROUNDS_MAX  100
#define S_HIST_STEP   0.25 /* µs per latency histogram bucket */
#define S_HIST_SIZE   (1 << 16)
#define S_READY_MS    10000
#define S_STOP_MS     5000
#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3

/* Where the two processes run: --pin none|split|same. On a 2-vCPU KVM guest
   "split" made serial round trips slower and no steadier (every reply wakes
   an idle vCPU: ~80-150 us instead of ~10 us), and "none" flipped between
   the two; "same" measures the IPC's own cost and varied least, so it is
   the default. */
typedef enum {
    S_PIN_NONE,  /* the kernel decides */
    S_PIN_SPLIT, /* bench and keys on two different CPUs */
    S_PIN_SAME,  /* both on one CPU */
} s_pin_t;

static const char *const s_pin_names[] = { "none", "split", "same" };

typedef struct {
    double seconds;
    double warmup;
    unsigned window;
    unsigned rounds;
    s_pin_t pin;
    const char *wardend;
    const char *pkcs11; /* module, or NULL: no pkcs11 case */
} s_options_t;

typedef struct {
    uint64_t ops;
    double elapsed; /* seconds */
} s_result_t;

/* One case over all rounds: the totals and the slowest and fastest round. */
typedef struct {
    s_result_t total;
    double min_rate;
    double max_rate;
} s_case_t;

typedef struct {
    char dir[PATH_MAX];
    char key_path[PATH_MAX];
    bool have_dir;
    uint8_t *secret; /* sodium_malloc: crypto_sign_SECRETKEYBYTES */
    uint8_t public_key[WD_PUBKEY_LEN];
    wd_keystore_t *ks;
    wd_keystore_t *p11; /* NULL: the pkcs11 case is skipped */
    uint8_t p11_public_key[WD_PUBKEY_LEN];
    uint8_t p11_expected[S_DIGESTS][WD_SIG_LEN];
    uint8_t digests[S_DIGESTS][WD_DIGEST_LEN];
    uint8_t expected[S_DIGESTS][WD_SIG_LEN];
    size_t next_digest;
    pid_t child;
    wd_chan_t *parent;
    wd_chan_t *engine;
    uint32_t next_id;
    uint64_t requests;   /* WD_MSG_SIGN frames sent */
    uint64_t bad;        /* signatures that do not verify */
    uint64_t randomised; /* verify, but differ from the deterministic one */
    uint32_t *hist;      /* serial round trips, S_HIST_STEP µs buckets */
    int cpu_bench;
    int cpu_keys;
} s_bench_t;

static volatile sig_atomic_t s_interrupted;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_interrupted = 1;
}

/* ---- set-up and clean-up ------------------------------------------------- */

/* The keys process also loads <state>/keys/vrf.key (it proves sortition
   outputs); the bench has no node.cert, so any VRF key will do. */
static int
s_make_vrf_key (const s_bench_t *self)
{
    char path[sizeof self->dir + 16];
    snprintf (path, sizeof path, "%s/keys", self->dir);
    if (mkdir (path, 0700) != 0) {
        fprintf (stderr, "bench_sign: mkdir %s: %s\n", path, strerror (errno));
        return -1;
    }
    uint8_t seed[WD_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    snprintf (path, sizeof path, "%s/keys/vrf.key", self->dir);
    wd_err_t err = wd_keyfile_write (path, WD_KEYFILE_ECVRF, seed);
    sodium_memzero (seed, sizeof seed);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: %s: %s\n", path, wd_strerror (err));
        return -1;
    }
    return 0;
}

/* Makes the state directory and the identity key, and derives the same key
   into this process for the raw and keystore measurements. */
static int
s_make_key (s_bench_t *self)
{
    snprintf (self->dir, sizeof self->dir, "/tmp/warden-bench-XXXXXX");
    if (!mkdtemp (self->dir)) {
        fprintf (stderr, "bench_sign: mkdtemp: %s\n", strerror (errno));
        return -1;
    }
    self->have_dir = true;
    int n = snprintf (self->key_path, sizeof self->key_path, "%s/identity.key", self->dir);
    if (n < 0 || (size_t)n >= sizeof self->key_path)
        return -1; /* cannot happen: the directory name is short */
    wd_keystore_params_t params = { .path = self->key_path };
    wd_err_t err = wd_keystore_generate ("file", &params);
    if (err == WD_OK)
        err = wd_keystore_open ("file", &params, &self->ks);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: keystore: %s\n", wd_strerror (err));
        return -1;
    }
    memcpy (self->public_key, wd_keystore_public_key (self->ks), WD_PUBKEY_LEN);
    if (s_make_vrf_key (self) != 0)
        return -1;

    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    self->secret = sodium_malloc (crypto_sign_SECRETKEYBYTES);
    if (!seed || !self->secret) {
        sodium_free (seed);
        fprintf (stderr, "bench_sign: out of memory\n");
        return -1;
    }
    err = wd_keyfile_read (self->key_path, WD_KEYFILE_ED25519, seed);
    uint8_t pk[crypto_sign_PUBLICKEYBYTES];
    if (err == WD_OK)
        crypto_sign_seed_keypair (pk, self->secret, seed);
    sodium_free (seed);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: %s: %s\n", self->key_path, wd_strerror (err));
        return -1;
    }
    if (sodium_memcmp (pk, self->public_key, WD_PUBKEY_LEN) != 0) {
        fprintf (stderr, "bench_sign: keystore and key file disagree on the public key\n");
        return -1;
    }
    return 0;
}

/* The digests and their signatures, each verified once. */
static int
s_make_digests (s_bench_t *self)
{
    randombytes_buf (self->digests, sizeof self->digests);
    for (size_t i = 0; i < S_DIGESTS; i++) {
        crypto_sign_detached (self->expected[i], NULL, self->digests[i], WD_DIGEST_LEN,
                              self->secret);
        if (crypto_sign_verify_detached (self->expected[i], self->digests[i], WD_DIGEST_LEN,
                                         self->public_key) != 0) {
            fprintf (stderr, "bench_sign: libsodium made a signature that does not verify\n");
            return -1;
        }
    }
    return 0;
}

static int
s_remove_entry (const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    int rc = flag == FTW_DP ? rmdir (path) : unlink (path);
    if (rc != 0)
        fprintf (stderr, "bench_sign: cannot remove %s: %s\n", path, strerror (errno));
    return 0;
}

/* Reaps the keys process, politely first. */
static void
s_stop_child (s_bench_t *self)
{
    if (self->child <= 0)
        return;
    kill (self->child, SIGTERM);
    double deadline = bench_now () + S_STOP_MS / 1000.0;
    int status = 0;
    pid_t pid;
    while ((pid = waitpid (self->child, &status, WNOHANG)) == 0 && bench_now () < deadline)
        poll (NULL, 0, 10);
    if (pid == 0) {
        fprintf (stderr, "bench_sign: keys process ignored SIGTERM; killing it\n");
        kill (self->child, SIGKILL);
        pid = waitpid (self->child, &status, 0);
    }
    if (pid == self->child && WIFSIGNALED (status) && WTERMSIG (status) != SIGTERM)
        fprintf (stderr, "bench_sign: keys process died of signal %d\n", WTERMSIG (status));
    else if (pid == self->child && WIFEXITED (status) && WEXITSTATUS (status) != 0)
        fprintf (stderr, "bench_sign: keys process exited with status %d\n", WEXITSTATUS (status));
    self->child = 0;
}

static void
s_cleanup (s_bench_t *self)
{
    wd_chan_destroy (&self->engine);
    s_stop_child (self);
    wd_chan_destroy (&self->parent);
    wd_keystore_destroy (&self->ks);
    wd_keystore_destroy (&self->p11);
    sodium_free (self->secret);
    self->secret = NULL;
    free (self->hist);
    self->hist = NULL;
    if (self->have_dir)
        nftw (self->dir, s_remove_entry, 8, FTW_DEPTH | FTW_PHYS);
    self->have_dir = false;
}

/* ---- the keys process ---------------------------------------------------- */

/* The first two CPUs this process may run on, or -1 when there are fewer. */
static int
s_pick_cpus (int *bench, int *keys)
{
    cpu_set_t set;
    *bench = *keys = -1;
    if (sched_getaffinity (0, sizeof set, &set) != 0)
        return -1;
    for (int cpu = 0; cpu < CPU_SETSIZE && *keys < 0; cpu++) {
        if (!CPU_ISSET (cpu, &set))
            continue;
        if (*bench < 0)
            *bench = cpu;
        else
            *keys = cpu;
    }
    return *keys >= 0 ? 0 : -1;
}

static int
s_pin (pid_t pid, int cpu)
{
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (cpu, &set);
    return sched_setaffinity (pid, sizeof set, &set);
}

/* Waits up to ms for a frame on chan. */
static wd_err_t
s_recv_timeout (wd_chan_t *chan, wd_chan_msg_t *msg, int ms)
{
    struct pollfd pfd = { .fd = wd_chan_fd (chan), .events = POLLIN };
    int rc;
    while ((rc = poll (&pfd, 1, ms)) < 0 && errno == EINTR)
        if (s_interrupted)
            return WD_ERR_TIMEOUT;
    if (rc == 0)
        return WD_ERR_TIMEOUT;
    return wd_chan_recv (chan, msg);
}

/* Prints an unexpected frame: an ERROR with its message, or its name. */
static void
s_report_frame (const char *when, const wd_chan_msg_t *msg)
{
    int code;
    char message[WD_MSG_ERROR_MAX + 1];
    if (msg->type == WD_MSG_ERROR &&
        wd_msg_decode_error (msg->body, msg->body_len, &code, message) == WD_OK)
        fprintf (stderr, "bench_sign: %s: keys process: %s (%s)\n", when, message,
                 wd_err_name (code));
    else
        fprintf (stderr, "bench_sign: %s: unexpected %s message\n", when, wd_msg_name (msg->type));
}

/* Spawns wardend --child keys, sends INIT with a configuration naming our
   key, waits for READY and opens an engine channel to it. */
static int
s_start_keys (s_bench_t *self, s_options_t *opt)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = wd_config_new (node_config_table);
    if (!cfg) {
        fprintf (stderr, "bench_sign: out of memory\n");
        return -1;
    }
    wd_err_t err = wd_config_set (cfg, "node/name", "bench", why, sizeof why);
    if (err == WD_OK)
        err = wd_config_set (cfg, "node/state", self->dir, why, sizeof why);
    if (err == WD_OK)
        err = wd_config_set (cfg, "keystore/key_file", self->key_path, why, sizeof why);
    if (err == WD_OK) /* the keys process logs its start at info */
        err = wd_config_set (cfg, "log/level", "warning", why, sizeof why);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: configuration: %s\n", why);
        wd_config_destroy (&cfg);
        return -1;
    }
    size_t init_len;
    uint8_t *init = wd_config_pack (cfg, &init_len);
    wd_config_destroy (&cfg);

    int rc = -1;
    int pair[2];
    if (wd_chan_socketpair (pair) != 0) {
        fprintf (stderr, "bench_sign: socketpair: %s\n", strerror (errno));
        goto out_free_init;
    }
    self->child = node_proc_spawn (opt->wardend, NODE_PROC_KEYS, pair[1]);
    close (pair[1]);
    self->parent = wd_chan_new (pair[0]);
    if (self->child < 0) {
        fprintf (stderr, "bench_sign: fork: %s\n", strerror (errno));
        self->child = 0;
        goto out_free_init;
    }
    if (!self->parent) {
        fprintf (stderr, "bench_sign: out of memory\n");
        goto out_free_init;
    }
    if (opt->pin != S_PIN_NONE) {
        /* The child was forked unpinned; pin it, then ourselves. */
        if (s_pin (self->child, self->cpu_keys) != 0 || s_pin (0, self->cpu_bench) != 0) {
            fprintf (stderr, "bench_sign: sched_setaffinity: %s; not pinned\n", strerror (errno));
            opt->pin = S_PIN_NONE;
        }
    }

    err = wd_chan_send (self->parent, WD_MSG_INIT, 0, init, init_len, NULL, 0);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: init not sent: %s (did %s start?)\n", wd_strerror (err),
                 opt->wardend);
        goto out_free_init;
    }
    wd_chan_msg_t msg;
    err = s_recv_timeout (self->parent, &msg, S_READY_MS);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: waiting for the keys process to start: %s\n",
                 wd_strerror (err));
        goto out_free_init;
    }
    if (msg.type != WD_MSG_READY) {
        s_report_frame ("start-up", &msg);
        wd_chan_msg_clear (&msg);
        goto out_free_init;
    }
    wd_chan_msg_clear (&msg);

    if (wd_chan_socketpair (pair) != 0) {
        fprintf (stderr, "bench_sign: socketpair: %s\n", strerror (errno));
        goto out_free_init;
    }
    err = wd_chan_send (self->parent, WD_MSG_KEYS_CHANNEL, 0, NULL, 0, &pair[1], 1);
    close (pair[1]);
    self->engine = wd_chan_new (pair[0]);
    if (err != WD_OK || !self->engine) {
        fprintf (stderr, "bench_sign: keys channel not sent: %s\n",
                 err != WD_OK ? wd_strerror (err) : "out of memory");
        goto out_free_init;
    }
    rc = 0;
out_free_init:
    free (init);
    return rc;
}

/* Asks the keys process for its status: the public key must be ours. Its
   signature counter goes to *signatures. */
static int
s_keys_info (s_bench_t *self, uint64_t *signatures)
{
    uint32_t id = self->next_id++;
    wd_err_t err = wd_chan_send (self->engine, WD_MSG_KEYS_INFO, id, NULL, 0, NULL, 0);
    wd_chan_msg_t msg;
    if (err == WD_OK)
        err = s_recv_timeout (self->engine, &msg, S_READY_MS);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: keys-info: %s\n", wd_strerror (err));
        return -1;
    }
    int rc = -1;
    wd_msg_keys_status_t status;
    if (msg.type != WD_MSG_KEYS_STATUS || msg.peer != id)
        s_report_frame ("keys-info", &msg);
    else if ((err = wd_msg_decode_keys_status (msg.body, msg.body_len, &status)) != WD_OK)
        fprintf (stderr, "bench_sign: keys-status: %s\n", wd_strerror (err));
    else if (sodium_memcmp (status.public_key, self->public_key, WD_PUBKEY_LEN) != 0)
        fprintf (stderr, "bench_sign: the keys process holds another key\n");
    else {
        *signatures = status.signatures;
        rc = 0;
    }
    wd_chan_msg_clear (&msg);
    return rc;
}

/* ---- requests ------------------------------------------------------------ */

/* Counts a signature over digest i that is not the expected one. */
static void
s_check_with (s_bench_t *self, size_t i, const uint8_t sig[WD_SIG_LEN],
              const uint8_t (*expected)[WD_SIG_LEN], const uint8_t public_key[WD_PUBKEY_LEN])
{
    if (sodium_memcmp (sig, expected[i], WD_SIG_LEN) == 0)
        return;
    if (crypto_sign_verify_detached (sig, self->digests[i], WD_DIGEST_LEN, public_key) == 0)
        self->randomised++;
    else
        self->bad++;
}

static void
s_check (s_bench_t *self, size_t i, const uint8_t sig[WD_SIG_LEN])
{
    s_check_with (self, i, sig, self->expected, self->public_key);
}

static size_t
s_next_digest (s_bench_t *self)
{
    size_t i = self->next_digest;
    self->next_digest = (i + 1) % S_DIGESTS;
    return i;
}

/* Sends WD_MSG_SIGN for digest i with request id *id. */
static int
s_send_sign (s_bench_t *self, size_t i, uint32_t *id)
{
    uint8_t body[WD_MSG_SMALL_MAX];
    size_t len = wd_msg_encode_digest (body, self->digests[i]);
    *id = self->next_id++;
    wd_err_t err = wd_chan_send (self->engine, WD_MSG_SIGN, *id, body, len, NULL, 0);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: send sign: %s\n", wd_strerror (err));
        return -1;
    }
    self->requests++;
    return 0;
}

/* Receives one WD_MSG_SIGNATURE: *id gets its request id. */
static int
s_recv_signature (s_bench_t *self, uint32_t *id, uint8_t sig[WD_SIG_LEN])
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->engine, &msg);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: receive signature: %s\n", wd_strerror (err));
        return -1;
    }
    int rc = -1;
    if (msg.type != WD_MSG_SIGNATURE)
        s_report_frame ("sign", &msg);
    else if ((err = wd_msg_decode_signature (msg.body, msg.body_len, sig)) != WD_OK)
        fprintf (stderr, "bench_sign: signature body: %s\n", wd_strerror (err));
    else {
        *id = msg.peer;
        rc = 0;
    }
    wd_chan_msg_clear (&msg);
    return rc;
}

/* ---- the measurements ---------------------------------------------------- */

typedef int (*s_mode_fn) (s_bench_t *self, const s_options_t *opt, double seconds,
                          s_result_t *result);

static int
s_run_raw (s_bench_t *self, const s_options_t *opt, double seconds, s_result_t *result)
{
    (void)opt;
    uint8_t sig[WD_SIG_LEN];
    uint64_t ops = 0;
    double start = bench_now (), now = start, deadline = start + seconds;
    do {
        size_t i = s_next_digest (self);
        crypto_sign_detached (sig, NULL, self->digests[i], WD_DIGEST_LEN, self->secret);
        s_check (self, i, sig);
        ops++;
        now = bench_now ();
    } while (now < deadline && !s_interrupted);
    *result = (s_result_t){ ops, now - start };
    return 0;
}

/* wd_keystore_sign on ks in a loop; each answer is compared with expected
   (the deterministic signatures of ks's key, public_key). */
static int
s_run_in_process (s_bench_t *self, wd_keystore_t *ks, const uint8_t (*expected)[WD_SIG_LEN],
                  const uint8_t public_key[WD_PUBKEY_LEN], double seconds, s_result_t *result)
{
    uint8_t sig[WD_SIG_LEN];
    uint64_t ops = 0;
    double start = bench_now (), now = start, deadline = start + seconds;
    do {
        size_t i = s_next_digest (self);
        int rc = wd_keystore_sign (ks, self->digests[i], sig);
        if (rc != 0) {
            fprintf (stderr, "bench_sign: wd_keystore_sign: %s\n", wd_strerror (rc));
            return -1;
        }
        s_check_with (self, i, sig, expected, public_key);
        ops++;
        now = bench_now ();
    } while (now < deadline && !s_interrupted);
    *result = (s_result_t){ ops, now - start };
    return 0;
}

static int
s_run_keystore (s_bench_t *self, const s_options_t *opt, double seconds, s_result_t *result)
{
    (void)opt;
    return s_run_in_process (self, self->ks, self->expected, self->public_key, seconds, result);
}

/* Makes a SoftHSM2 token in the temporary directory, a key pair in it, and
   each digest's signature through the pkcs11 backend (verified here). A
   missing module skips the case; anything else failing is an error. */
static int
s_make_pkcs11 (s_bench_t *self, const s_options_t *opt)
{
    if (!opt->pkcs11)
        return 0;
    if (access (opt->pkcs11, R_OK) != 0) {
        printf ("bench_sign: pkcs11 case skipped: %s: %s\n", opt->pkcs11, strerror (errno));
        return 0;
    }
    char conf[PATH_MAX + 16], tokens[PATH_MAX + 16], pin[PATH_MAX + 16], cmd[PATH_MAX + 200];
    snprintf (conf, sizeof conf, "%s/softhsm2.conf", self->dir);
    snprintf (tokens, sizeof tokens, "%s/tokens", self->dir);
    snprintf (pin, sizeof pin, "%s/pin", self->dir);
    FILE *f = NULL;
    int fd = -1;
    if (mkdir (tokens, 0700) != 0 || !(f = fopen (conf, "w")) ||
        fprintf (f, "directories.tokendir = %s\nobjectstore.backend = file\n", tokens) < 0 ||
        fclose (f) != 0 || (fd = open (pin, O_WRONLY | O_CREAT | O_EXCL, 0600)) < 0 ||
        write (fd, S_PKCS11_PIN, strlen (S_PKCS11_PIN)) != (ssize_t)strlen (S_PKCS11_PIN) ||
        close (fd) != 0) {
        fprintf (stderr, "bench_sign: pkcs11 token files: %s\n", strerror (errno));
        return -1;
    }
    setenv ("SOFTHSM2_CONF", conf, 1);
    snprintf (cmd, sizeof cmd,
              "softhsm2-util --init-token --free --label warden-bench --so-pin 1%s --pin %s "
              ">/dev/null",
              S_PKCS11_PIN, S_PKCS11_PIN);
    if (system (cmd) != 0) {
        fprintf (stderr, "bench_sign: softhsm2-util --init-token failed\n");
        return -1;
    }
    wd_keystore_params_t params = {
        .module = opt->pkcs11, .token = "warden-bench", .key_label = "bench", .pin_file = pin
    };
    wd_err_t err = wd_keystore_generate ("pkcs11", &params);
    if (err == WD_OK)
        err = wd_keystore_open ("pkcs11", &params, &self->p11);
    if (err != WD_OK) {
        fprintf (stderr, "bench_sign: pkcs11 keystore: %s (%s)\n", wd_strerror (err),
                 wd_err_name (err));
        return -1;
    }
    memcpy (self->p11_public_key, wd_keystore_public_key (self->p11), WD_PUBKEY_LEN);
    for (size_t i = 0; i < S_DIGESTS; i++)
        if (wd_keystore_sign (self->p11, self->digests[i], self->p11_expected[i]) != 0 ||
            crypto_sign_verify_detached (self->p11_expected[i], self->digests[i], WD_DIGEST_LEN,
                                         self->p11_public_key) != 0) {
            fprintf (stderr, "bench_sign: the token made a signature that does not verify\n");
            return -1;
        }
    return 0;
}

static int
s_run_pkcs11 (s_bench_t *self, const s_options_t *opt, double seconds, s_result_t *result)
{
    (void)opt;
    return s_run_in_process (self, self->p11, self->p11_expected, self->p11_public_key, seconds,
                             result);
}

static int
s_run_serial (s_bench_t *self, const s_options_t *opt, double seconds, s_result_t *result)
{
    (void)opt;
    uint8_t sig[WD_SIG_LEN];
    uint64_t ops = 0;
    double start = bench_now (), now = start, deadline = start + seconds;
    do {
        size_t i = s_next_digest (self);
        uint32_t id, got;
        double sent = now;
        if (s_send_sign (self, i, &id) != 0 || s_recv_signature (self, &got, sig) != 0)
            return -1;
        now = bench_now ();
        if (got != id) {
            fprintf (stderr, "bench_sign: reply to request %u while waiting for %u\n", got, id);
            return -1;
        }
        s_check (self, i, sig);
        double bucket = (now - sent) * 1e6 / S_HIST_STEP;
        self->hist[bucket < S_HIST_SIZE - 1 ? (size_t)bucket : S_HIST_SIZE - 1]++;
        ops++;
    } while (now < deadline && !s_interrupted);
    *result = (s_result_t){ ops, now - start };
    return 0;
}

/* Keeps opt->window requests in flight until the time is up, then drains
   them. Replies are matched by id, not by order. The window is capped so the
   requests and replies in flight always fit the socket buffers (a full
   buffer each way would deadlock two blocking senders). */
static int
s_run_pipelined (s_bench_t *self, const s_options_t *opt, double seconds, s_result_t *result)
{
    struct {
        uint32_t id;
        size_t digest;
        bool busy;
    } slots[S_WINDOW_MAX] = { { 0 } };
    unsigned inflight = 0;
    uint64_t ops = 0;
    double start = bench_now (), now = start, deadline = start + seconds;
    for (unsigned s = 0; s < opt->window; s++) {
        slots[s].digest = s_next_digest (self);
        if (s_send_sign (self, slots[s].digest, &slots[s].id) != 0)
            return -1;
        slots[s].busy = true;
        inflight++;
    }
    while (inflight > 0) {
        uint32_t id;
        uint8_t sig[WD_SIG_LEN];
        if (s_recv_signature (self, &id, sig) != 0)
            return -1;
        now = bench_now ();
        unsigned s = 0;
        while (s < opt->window && !(slots[s].busy && slots[s].id == id))
            s++;
        if (s == opt->window) {
            fprintf (stderr, "bench_sign: reply to request %u, which is not in flight\n", id);
            return -1;
        }
        s_check (self, slots[s].digest, sig);
        slots[s].busy = false;
        inflight--;
        ops++;
        if (now < deadline && !s_interrupted) {
            slots[s].digest = s_next_digest (self);
            if (s_send_sign (self, slots[s].digest, &slots[s].id) != 0)
                return -1;
            slots[s].busy = true;
            inflight++;
        }
    }
    *result = (s_result_t){ ops, now - start };
    return 0;
}

static double
s_rate (const s_result_t *r)
{
    return r->elapsed > 0 ? (double)r->ops / r->elapsed : 0;
}

/* Warms every case up, then measures them in interleaved rounds of
   seconds/rounds each, so a change in the machine's background load during
   the run falls on every case alike rather than on whichever ran then. */
static int
s_measure (s_bench_t *self, const s_options_t *opt, s_case_t cases[S_CASES])
{
    static const s_mode_fn modes[S_CASES] = { s_run_raw, s_run_keystore, s_run_serial,
                                              s_run_pipelined, s_run_pkcs11 };
    int n_cases = self->p11 ? S_CASES : S_PKCS11;
    s_result_t part;
    for (int m = 0; m < n_cases && opt->warmup > 0; m++)
        if (modes[m](self, opt, opt->warmup, &part) != 0)
            return -1;
    memset (self->hist, 0, S_HIST_SIZE * sizeof *self->hist);
    memset (cases, 0, S_CASES * sizeof *cases);
    for (unsigned r = 0; r < opt->rounds && !s_interrupted; r++) {
        for (int m = 0; m < n_cases && !s_interrupted; m++) {
            if (modes[m](self, opt, opt->seconds / opt->rounds, &part) != 0)
                return -1;
            double rate = s_rate (&part);
            cases[m].total.ops += part.ops;
            cases[m].total.elapsed += part.elapsed;
            if (r == 0 || rate < cases[m].min_rate)
                cases[m].min_rate = rate;
            if (r == 0 || rate > cases[m].max_rate)
                cases[m].max_rate = rate;
        }
    }
    if (s_interrupted) {
        fprintf (stderr, "bench_sign: interrupted\n");
        return -1;
    }
    return 0;
}

/* The q-quantile of the serial round-trip histogram, in µs. */
static double
s_quantile (const s_bench_t *self, uint64_t total, double q)
{
    uint64_t want = (uint64_t)ceil (q * (double)total), seen = 0;
    for (size_t b = 0; b < S_HIST_SIZE; b++) {
        seen += self->hist[b];
        if (seen >= want && seen > 0)
            return ((double)b + 0.5) * S_HIST_STEP;
    }
    return 0;
}

static void
s_print (const s_bench_t *self, const s_options_t *opt, const s_case_t cases[S_CASES])
{
    static const char *const names[S_CASES] = { "raw crypto_sign_detached", "keystore in-process",
                                                "keys process, serial", "keys process, pipelined",
                                                "pkcs11 in-process (SoftHSM2)" };
    double rate[S_CASES];
    int n_cases = self->p11 ? S_CASES : S_PKCS11;
    for (int m = 0; m < S_CASES; m++)
        rate[m] = s_rate (&cases[m].total);
    printf ("\n%-30s %10s %9s %8s %8s %10s\n", "", "sign/s", "us/sign", "vs raw", "spread",
            "signatures");
    for (int m = 0; m < n_cases; m++) {
        char name[40];
        if (m == 3)
            snprintf (name, sizeof name, "%s (%u)", names[m], opt->window);
        else
            snprintf (name, sizeof name, "%s", names[m]);
        /* spread: slowest to fastest round, relative to the overall rate */
        double spread = rate[m] > 0 ? (cases[m].max_rate - cases[m].min_rate) / rate[m] : 0;
        printf ("%-30s %10.0f %9.2f %8.3f %7.1f%% %10llu\n", name, rate[m],
                rate[m] > 0 ? 1e6 / rate[m] : 0, rate[0] > 0 ? rate[m] / rate[0] : 0, 100 * spread,
                (unsigned long long)cases[m].total.ops);
    }
    double raw_us = 1e6 / rate[0], ks_us = 1e6 / rate[1], serial_us = 1e6 / rate[2];
    uint64_t serial_ops = cases[2].total.ops;
    printf ("\nserial round trip: mean %.2f us, p50 %.2f us, p99 %.2f us\n", serial_us,
            s_quantile (self, serial_ops, 0.50), s_quantile (self, serial_ops, 0.99));
    printf ("  minus raw sign (%7.2f us)      = %7.2f us: IPC + verify-after-sign\n", raw_us,
            serial_us - raw_us);
    printf ("  minus keystore sign (%7.2f us) = %7.2f us: the IPC round trip alone\n", ks_us,
            serial_us - ks_us);
    if (self->p11)
        printf ("pkcs11 in-process vs file keystore in-process: %.3f (%.2f us vs %.2f us); "
                "expected through the keys process: ~%.2f us\n",
                rate[S_PKCS11] / rate[1], 1e6 / rate[S_PKCS11], ks_us,
                1e6 / rate[S_PKCS11] + serial_us - ks_us);
    printf ("bad signatures: %llu", (unsigned long long)self->bad);
    if (self->randomised)
        printf (" (%llu valid but not deterministic)", (unsigned long long)self->randomised);
    printf ("\n\n");
    printf ("bench_sign raw=%.0f keystore=%.0f keys_serial=%.0f keys_pipelined=%.0f "
            "ratio_serial=%.3f ratio_pipelined=%.3f rtt_us=%.2f ipc_us=%.2f window=%u pin=%s "
            "pkcs11=%.0f ratio_pkcs11=%.3f bad=%llu\n",
            rate[0], rate[1], rate[2], rate[3], rate[2] / rate[0], rate[3] / rate[0],
            serial_us - raw_us, serial_us - ks_us, opt->window, s_pin_names[opt->pin],
            rate[S_PKCS11], rate[S_PKCS11] / rate[0], (unsigned long long)self->bad);
}

/* ---- command line -------------------------------------------------------- */

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_sign [--seconds S] [--warmup S] [--rounds N] [--window N] [--pin MODE]\n"
             "                  [WARDEND]\n"
             "\n"
             "Signatures per second through wardend's keys process, against raw\n"
             "crypto_sign_detached and an in-process keystore in the same run. Spawns\n"
             "WARDEND (default: %s) as \"wardend --child keys\" on a\n"
             "throw-away key in /tmp.\n"
             "\n"
             "  --seconds S   measure each case for S seconds in all (default 2)\n"
             "  --rounds N    in N interleaved rounds of S/N seconds (default 4); the\n"
             "                spread column is the slowest to the fastest round\n"
             "  --warmup S    warm up each case for S seconds first (default: the\n"
             "                smaller of 0.5 and --seconds)\n"
             "  --window N    requests in flight when pipelined, 1..%d (default 32)\n"
             "  --pin MODE    same: this process and the keys process both on the first\n"
             "                allowed CPU (default; the steadiest figures); split: on the\n"
             "                first two allowed CPUs (adds cross-CPU wake-ups); none: the\n"
             "                kernel decides\n"
             "  --pkcs11 MODULE  the pkcs11 case's module, on a SoftHSM2 token made in\n"
             "                /tmp (default %s; none: skip the case)\n"
             "  -h, --help    show this help\n"
             "\n"
             "The last line is for scripts: bench_sign raw=... keys_serial=... ratio_serial=...\n"
             "Exit status: 0 ok, 1 a signature was wrong, 2 usage, 3 internal error.\n",
             BENCH_WARDEND_PATH ? BENCH_WARDEND_PATH : "none built in", S_WINDOW_MAX, S_SOFTHSM);
}

static bool
s_parse_seconds (const char *text, double *out)
{
    char *end;
    errno = 0;
    double value = strtod (text, &end);
    if (errno != 0 || end == text || *end != '\0' || !(value >= 0) || value > 3600)
        return false;
    *out = value;
    return true;
}

static bool
s_parse_count (const char *text, unsigned max, unsigned *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul (text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || n < 1 || n > max)
        return false;
    *out = (unsigned)n;
    return true;
}

static int
s_parse_args (int argc, char **argv, s_options_t *opt)
{
    static const struct option options[] = {
        { "seconds", required_argument, NULL, 's' }, { "warmup", required_argument, NULL, 'w' },
        { "window", required_argument, NULL, 'W' },  { "rounds", required_argument, NULL, 'r' },
        { "pin", required_argument, NULL, 'p' },     { "pkcs11", required_argument, NULL, 'P' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    *opt = (s_options_t){ .seconds = 2,
                          .warmup = -1,
                          .window = 32,
                          .rounds = 4,
                          .pin = S_PIN_SAME,
                          .wardend = BENCH_WARDEND_PATH,
                          .pkcs11 = S_SOFTHSM };
    int c;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (c) {
            case 's':
                if (!s_parse_seconds (optarg, &opt->seconds) || opt->seconds == 0) {
                    fprintf (stderr, "bench_sign: --seconds wants a number in (0, 3600]\n");
                    return S_EXIT_USAGE;
                }
                break;
            case 'w':
                if (!s_parse_seconds (optarg, &opt->warmup)) {
                    fprintf (stderr, "bench_sign: --warmup wants a number in [0, 3600]\n");
                    return S_EXIT_USAGE;
                }
                break;
            case 'W':
                if (!s_parse_count (optarg, S_WINDOW_MAX, &opt->window)) {
                    fprintf (stderr, "bench_sign: --window wants 1..%d\n", S_WINDOW_MAX);
                    return S_EXIT_USAGE;
                }
                break;
            case 'r':
                if (!s_parse_count (optarg, S_ROUNDS_MAX, &opt->rounds)) {
                    fprintf (stderr, "bench_sign: --rounds wants 1..%d\n", S_ROUNDS_MAX);
                    return S_EXIT_USAGE;
                }
                break;
            case 'p': {
                int mode = 0;
                while (mode <= S_PIN_SAME && strcmp (optarg, s_pin_names[mode]) != 0)
                    mode++;
                if (mode > S_PIN_SAME) {
                    fprintf (stderr, "bench_sign: --pin wants none, split or same\n");
                    return S_EXIT_USAGE;
                }
                opt->pin = (s_pin_t)mode;
                break;
            }
            case 'P':
                opt->pkcs11 = strcmp (optarg, "none") == 0 ? NULL : optarg;
                break;
            case 'h':
                s_usage (stdout);
                exit (0);
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
    }
    if (optind + 1 == argc)
        opt->wardend = argv[optind];
    else if (optind != argc) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    if (!opt->wardend) {
        fprintf (stderr, "bench_sign: name the wardend binary\n");
        return S_EXIT_USAGE;
    }
    if (access (opt->wardend, X_OK) != 0) {
        fprintf (stderr, "bench_sign: %s: %s\n", opt->wardend, strerror (errno));
        return S_EXIT_USAGE;
    }
    if (opt->warmup < 0)
        opt->warmup = opt->seconds < 0.5 ? opt->seconds : 0.5;
    return 0;
}

int
main (int argc, char **argv)
{
    s_options_t opt;
    int status = s_parse_args (argc, argv, &opt);
    if (status != 0)
        return status;
    if (sodium_init () < 0) {
        fprintf (stderr, "bench_sign: libsodium failed to initialise\n");
        return S_EXIT_INTERN;
    }
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigemptyset (&sa.sa_mask);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGTERM, &sa, NULL);

    s_bench_t *self = calloc (1, sizeof *self);
    if (!self || !(self->hist = calloc (S_HIST_SIZE, sizeof *self->hist))) {
        fprintf (stderr, "bench_sign: out of memory\n");
        free (self);
        return S_EXIT_INTERN;
    }
    if (opt.pin == S_PIN_SPLIT && s_pick_cpus (&self->cpu_bench, &self->cpu_keys) != 0) {
        fprintf (stderr, "bench_sign: fewer than two CPUs available; not pinning\n");
        opt.pin = S_PIN_NONE;
    }
    if (opt.pin == S_PIN_SAME) {
        (void)s_pick_cpus (&self->cpu_bench, &self->cpu_keys); /* one CPU is enough */
        self->cpu_keys = self->cpu_bench;
        if (self->cpu_bench < 0) {
            fprintf (stderr, "bench_sign: cannot read the CPU affinity; not pinning\n");
            opt.pin = S_PIN_NONE;
        }
    }

    status = S_EXIT_INTERN;
    uint64_t before, after;
    s_case_t cases[S_CASES];
    if (s_make_key (self) != 0 || s_make_digests (self) != 0 || s_make_pkcs11 (self, &opt) != 0 ||
        s_start_keys (self, &opt) != 0 || s_keys_info (self, &before) != 0)
        goto out_cleanup;
    printf ("bench_sign: %.2f s per case in %u interleaved rounds after %.2f s warm-up; keys "
            "process pid %d",
            opt.seconds, opt.rounds, opt.warmup, (int)self->child);
    if (opt.pin != S_PIN_NONE)
        printf ("; pinned: bench on CPU %d, keys on CPU %d\n", self->cpu_bench, self->cpu_keys);
    else
        printf ("; not pinned\n");
    fflush (stdout);

    uint64_t requests_before = self->requests;
    if (s_measure (self, &opt, cases) != 0)
        goto out_cleanup;
    if (s_keys_info (self, &after) != 0)
        goto out_cleanup;
    s_print (self, &opt, cases);

    status = 0;
    if (after - before != self->requests - requests_before) {
        fprintf (stderr, "bench_sign: keys process counted %llu signatures, we asked for %llu\n",
                 (unsigned long long)(after - before),
                 (unsigned long long)(self->requests - requests_before));
        status = S_EXIT_BAD;
    }
    if (self->bad > 0) {
        fprintf (stderr, "bench_sign: %llu signatures did not verify\n",
                 (unsigned long long)self->bad);
        status = S_EXIT_BAD;
    }
out_cleanup:
    s_cleanup (self);
    free (self);
    return status;
}
