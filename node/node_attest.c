/*
 * node_attest: the engine's host-attestation part (see node_attest.h).
 *
 * Start-up reads the attest keys: the items file (what to challenge and
 * the reference digests given there), the Keylime policy (reference digests
 * for files), the expected command line, the CURVE secret from
 * <state>/keys/curve.key (sodium_malloc memory, wiped on destroy) and the
 * chain id (<state>/genesis, or the zero chain without one). Each outcome
 * of the attest_server goes through two asynchronous steps of node_sign —
 * keystore status (for the tamper state), then node_sign_seal — and its
 * envelope is appended to attest.db. A step that fails (keys process
 * restarting) is retried every second; outcomes beyond S_PENDING_MAX
 * waiting are dropped and counted as lost.
 */
#include "node_attest.h"

#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <spawn.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "attest_collect.h"
#include "attest_evidence.h"
#include "attest_policy.h"
#include "attest_server.h"
#include "node_config.h"
#include "wd_codec.h"
#include "wd_db.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_keyfile.h"
#include "wd_log.h"
#include "wd_msg.h"

#define S_PENDING_MAX 256  /* outcomes waiting for their evidence to be sealed */
#define S_HOOKS_MAX   8    /* hook commands running at once */
#define S_TIMER_MS    1000 /* retries and hook reaping */
#define S_REPLY_MAX   (WD_CHAN_MAX_BODY - 1024)
#define S_ITEMS_LINE  8192
#define S_MODULES_MAX ATTEST_AGENT_MODULES_MAX
#define S_HISTORY_DFL 8

extern char **environ;

typedef struct s_pending s_pending_t;

struct node_attest {
    zloop_t *loop;
    const wd_config_t *cfg;
    const wd_cert_t *cert;
    node_sign_t *signer;
    uint8_t chain[WD_CHAIN_ID_LEN];
    bool has_genesis;
    sqlite3 *db;
    sqlite3_stmt *insert;
    attest_server_t *server;
    attest_policy_t *policy;
    uint8_t *curve_secret; /* sodium_malloc */
    uint8_t *cmdline;
    size_t cmdline_len;
    char **modules;
    size_t modules_count;
    attest_item_t items[ATTEST_AGENT_ITEMS_MAX]; /* paths owned */
    uint8_t expected[ATTEST_AGENT_ITEMS_MAX][32];
    bool has_expected[ATTEST_AGENT_ITEMS_MAX];
    size_t item_count;
    char advertise[256];
    int timer_id;
    s_pending_t *pending[S_PENDING_MAX];
    pid_t hooks[S_HOOKS_MAX];
    uint64_t stored, lost, rejected, hooks_run;
    node_attest_evidence_fn *on_evidence; /* the engine's: gossip to the committees */
    void *on_evidence_arg;
};

/* One outcome on its way to the store. */
struct s_pending {
    node_attest_t *owner; /* NULL once the component is destroyed */
    bool in_flight;
    unsigned attempts;
    attest_evidence_t ev;
    uint64_t seq;
};

/* ---- the evidence store ------------------------------------------------------ */

static const char *const s_schema[] = {
    "CREATE TABLE evidence ("
    " row INTEGER PRIMARY KEY AUTOINCREMENT,"
    " id BLOB NOT NULL UNIQUE CHECK (length(id) = 32),"
    " host TEXT NOT NULL,"
    " outcome TEXT NOT NULL CHECK (outcome IN ('pass', 'fail', 'missed')),"
    " seq INTEGER NOT NULL,"
    " time INTEGER NOT NULL,"
    " envelope BLOB NOT NULL);"
    "CREATE INDEX evidence_host ON evidence (host, row);",
};

static int
s_db_open (node_attest_t *self, char *why, size_t why_len)
{
    char path[PATH_MAX];
    if (node_path_state (self->cfg, NODE_ATTEST_DB, path, sizeof path) != 0) {
        snprintf (why, why_len, "state path is too long");
        return WD_ERR_CONFIG_VALUE;
    }
    char sub[256] = "";
    wd_err_t err = wd_db_open (path, WD_DB_SYNC_FULL, &self->db, sub, sizeof sub);
    if (err == WD_OK)
        err = wd_db_migrate (self->db, s_schema, sizeof s_schema / sizeof s_schema[0], sub,
                             sizeof sub);
    if (err == WD_OK)
        err = wd_db_append_only (self->db, "evidence", sub, sizeof sub);
    if (err == WD_OK &&
        sqlite3_prepare_v2 (self->db,
                            "INSERT INTO evidence (id, host, outcome, seq, time, envelope) "
                            "VALUES (?, ?, ?, ?, ?, ?)",
                            -1, &self->insert, NULL) != SQLITE_OK) {
        snprintf (sub, sizeof sub, "%s", sqlite3_errmsg (self->db));
        err = WD_ERR_DB;
    }
    if (err != WD_OK) {
        snprintf (why, why_len, "%s: %s", path, sub);
        return err;
    }
    return WD_OK;
}

static void
s_store (node_attest_t *self, const s_pending_t *p, const uint8_t *envelope, size_t len)
{
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    attest_evidence_id (id, envelope, len);
    sqlite3_stmt *st = self->insert;
    sqlite3_bind_blob (st, 1, id, sizeof id, SQLITE_STATIC);
    sqlite3_bind_text (st, 2, p->ev.subject.host, -1, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, attest_outcome_name (p->ev.challenge.outcome), -1, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 4, (sqlite3_int64)p->seq);
    sqlite3_bind_int64 (st, 5, (sqlite3_int64)p->ev.time);
    sqlite3_bind_blob (st, 6, envelope, (int)len, SQLITE_STATIC);
    int rc = sqlite3_step (st);
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    if (rc != SQLITE_DONE) {
        self->lost++;
        wd_log_warnx ("attest: evidence for host %s challenge %" PRIu64 " not stored: %s",
                      p->ev.subject.host, p->seq, sqlite3_errmsg (self->db));
        return;
    }
    self->stored++;
    wd_log_debug ("attest: evidence %s stored (host %s, challenge %" PRIu64 ", %s)",
                  wd_short_id (id).s, p->ev.subject.host, p->seq,
                  attest_outcome_name (p->ev.challenge.outcome));
    if (self->on_evidence)
        self->on_evidence (self->on_evidence_arg, envelope, len);
}

void
node_attest_set_evidence_hook (node_attest_t *self, node_attest_evidence_fn *fn, void *arg)
{
    self->on_evidence = fn;
    self->on_evidence_arg = fn ? arg : NULL;
}

/* ---- sealing ----------------------------------------------------------------- */

static void
s_pending_remove (node_attest_t *self, s_pending_t *p)
{
    for (size_t i = 0; i < S_PENDING_MAX; i++)
        if (self->pending[i] == p)
            self->pending[i] = NULL;
    free (p);
}

/* A step failed: retried by the timer, or freed when the component is gone. */
static void
s_pending_failed (s_pending_t *p, const char *reason)
{
    p->in_flight = false;
    if (!p->owner) {
        free (p);
        return;
    }
    if (p->attempts++ == 0)
        wd_log_warnx ("attest: evidence for host %s challenge %" PRIu64 " not sealed yet: %s",
                      p->ev.subject.host, p->seq, reason);
}

static void
s_on_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_pending_t *p = arg;
    if (!envelope || !p->owner) {
        s_pending_failed (p, reason ? reason : "engine stopping");
        return;
    }
    s_store (p->owner, p, envelope, len);
    s_pending_remove (p->owner, p);
}

static void
s_on_info (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    s_pending_t *p = arg;
    if (!keys || !p->owner) {
        s_pending_failed (p, reason ? reason : "engine stopping");
        return;
    }
    node_attest_t *self = p->owner;
    size_t tamper_len = strnlen (keys->tamper, sizeof keys->tamper);
    if (tamper_len < sizeof p->ev.tamper) /* else left empty: encode refuses it */
        memcpy (p->ev.tamper, keys->tamper, tamper_len + 1);
    uint8_t *body;
    size_t body_len;
    int rc = attest_evidence_encode (&p->ev, &body, &body_len);
    if (rc != WD_OK) {
        /* Our own record breaks the schema: a bug, not something to retry. */
        self->lost++;
        wd_log_warnx ("attest: evidence for host %s challenge %" PRIu64 " does not encode: %s",
                      p->ev.subject.host, p->seq, attest_strerror (rc));
        s_pending_remove (self, p);
        return;
    }
    node_sign_seal (self->signer, ATTEST_EVIDENCE_TYPE, self->chain, body, body_len, s_on_sealed,
                    p);
    free (body);
}

static void
s_pending_start (s_pending_t *p)
{
    p->in_flight = true;
    node_sign_info (p->owner->signer, s_on_info, p);
}

static void
s_on_outcome (void *arg, const attest_server_outcome_t *o)
{
    node_attest_t *self = arg;
    size_t slot = S_PENDING_MAX;
    for (size_t i = 0; i < S_PENDING_MAX && slot == S_PENDING_MAX; i++)
        if (!self->pending[i])
            slot = i;
    if (slot == S_PENDING_MAX) {
        self->lost++;
        wd_log_warnx ("attest: %d evidence records wait to be sealed; host %s challenge %" PRIu64
                      " (%s) is not recorded",
                      S_PENDING_MAX, o->host, o->seq, attest_outcome_name (o->challenge.outcome));
        return;
    }
    s_pending_t *p = calloc (1, sizeof *p);
    if (!p)
        wd_fatalx ("out of memory");
    p->owner = self;
    p->seq = o->seq;
    /* The tamper state is filled in when the keystore answers. */
    attest_evidence_init (&p->ev, self->cert->sign_pk, self->cert->key_protection, "",
                          (uint64_t)time (NULL));
    p->ev.subject.kind = ATTEST_SUBJECT_HOST;
    snprintf (p->ev.subject.host, sizeof p->ev.subject.host, "%s", o->host);
    p->ev.fresh.kind = ATTEST_FRESH_CHALLENGE;
    memcpy (p->ev.nonce, o->challenge.nonce, ATTEST_EVIDENCE_NONCE_LEN);
    p->ev.has_challenge = true;
    p->ev.challenge = o->challenge;
    self->pending[slot] = p;
    s_pending_start (p);
}

static void
s_on_reject (void *arg, const char *host, int reason)
{
    node_attest_t *self = arg;
    self->rejected++;
    /* Anyone can reach the port: strangers' junk only at debug level. */
    if (host)
        wd_log_info ("attest: rejected a message from %s: %s (%s)", host, attest_strerror (reason),
                     attest_err_name (reason));
    else
        wd_log_debug ("attest: rejected a message from an unknown peer: %s (%s)",
                      attest_strerror (reason), attest_err_name (reason));
}

/* ---- hooks ------------------------------------------------------------------- */

/* Runs the hook with default signal dispositions and an empty mask: the
   engine blocks its signals for its signalfd, and a hook must not inherit
   that. */
static void
s_run_hook (void *arg, const char *hook, char *const env[])
{
    node_attest_t *self = arg;
    size_t slot = S_HOOKS_MAX;
    for (size_t i = 0; i < S_HOOKS_MAX && slot == S_HOOKS_MAX; i++)
        if (self->hooks[i] == 0)
            slot = i;
    if (slot == S_HOOKS_MAX) {
        wd_log_warnx ("attest: %d hooks still running, not starting another", S_HOOKS_MAX);
        return;
    }
    posix_spawnattr_t attr;
    posix_spawnattr_init (&attr);
    sigset_t none, all;
    sigemptyset (&none);
    sigfillset (&all);
    posix_spawnattr_setsigmask (&attr, &none);
    posix_spawnattr_setsigdefault (&attr, &all);
    posix_spawnattr_setflags (&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
    char *argv[] = { "sh", "-c", (char *)hook, NULL };
    pid_t pid;
    int rc = posix_spawn (&pid, "/bin/sh", NULL, &attr, argv, env);
    posix_spawnattr_destroy (&attr);
    if (rc != 0) {
        errno = rc;
        wd_log_warn ("attest: cannot run the hook");
        return;
    }
    self->hooks[slot] = pid;
    self->hooks_run++;
}

static void
s_reap_hooks (node_attest_t *self)
{
    for (size_t i = 0; i < S_HOOKS_MAX; i++) {
        if (self->hooks[i] == 0)
            continue;
        int status;
        pid_t r = waitpid (self->hooks[i], &status, WNOHANG);
        if (r == 0)
            continue;
        if (r == self->hooks[i] && !(WIFEXITED (status) && WEXITSTATUS (status) == 0))
            wd_log_warnx ("attest: the hook (pid %d) failed: %s %d", (int)r,
                          WIFEXITED (status) ? "exit status" : "signal",
                          WIFEXITED (status) ? WEXITSTATUS (status) : WTERMSIG (status));
        self->hooks[i] = 0;
    }
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_attest_t *self = arg;
    s_reap_hooks (self);
    for (size_t i = 0; i < S_PENDING_MAX; i++)
        if (self->pending[i] && !self->pending[i]->in_flight)
            s_pending_start (self->pending[i]);
    return 0;
}

/* ---- configuration ----------------------------------------------------------- */

static int
s_fail (char *why, size_t why_len, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 4, 5)));

static int
s_fail (char *why, size_t why_len, int code, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, why_len, fmt, ap);
    va_end (ap);
    return code;
}

static bool
s_parse_u64 (const char *s, uint64_t *out)
{
    if (!s || *s < '0' || *s > '9')
        return false;
    char *end;
    errno = 0;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno || *end)
        return false;
    *out = (uint64_t)v;
    return true;
}

/* Keeps one item (its path copied) until the server is created. */
static int
s_item_keep (node_attest_t *self, const attest_item_t *item, const uint8_t *expected,
             const char *where, char *why, size_t why_len)
{
    if (self->item_count == ATTEST_AGENT_ITEMS_MAX)
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: more than %d items", where,
                       ATTEST_AGENT_ITEMS_MAX);
    attest_item_t *it = &self->items[self->item_count];
    *it = *item;
    if (item->path && !(it->path = strdup (item->path)))
        wd_fatalx ("out of memory");
    if (expected)
        memcpy (self->expected[self->item_count], expected, 32);
    self->has_expected[self->item_count++] = expected != NULL;
    return WD_OK;
}

/* One line of the items file. Returns WD_OK, or a reason in why. */
static int
s_item_line (node_attest_t *self, char *line, const char *where, char *why, size_t why_len)
{
    char *save = NULL;
    char *kind = strtok_r (line, " \t", &save);
    if (!kind || *kind == '#')
        return WD_OK;
    char *args[4] = { NULL };
    size_t n = 0;
    char *tok;
    attest_item_t item = { 0 };
    uint8_t expected[32];
    bool has_expected = false;
    if (!attest_item_kind_parse (kind, strlen (kind), &item.kind))
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: unknown item kind '%s'", where,
                       kind);
    if (item.kind == ATTEST_ITEM_MODULES) {
        while ((tok = strtok_r (NULL, " \t", &save))) {
            if (self->modules_count == S_MODULES_MAX || strlen (tok) > ATTEST_AGENT_MODULE_MAX)
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                               "%s: too many or too long modules", where);
            char **grown = realloc (self->modules, (self->modules_count + 1) * sizeof *grown);
            if (!grown || !(grown[self->modules_count] = strdup (tok)))
                wd_fatalx ("out of memory");
            self->modules = grown;
            self->modules_count++;
        }
        return s_item_keep (self, &item, NULL, where, why, why_len);
    }
    while ((tok = strtok_r (NULL, " \t", &save)))
        if (n < 4)
            args[n++] = tok;
        else
            return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: too many fields", where);
    switch (item.kind) {
        case ATTEST_ITEM_FILE:
            if (n < 1 || n > 2 || args[0][0] != '/')
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                               "%s: expected 'file /PATH [SHA256HEX]'", where);
            item.path = args[0];
            if (n == 2) {
                if (strlen (args[1]) != 64 || !wd_hex_decode (expected, 32, args[1]))
                    return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                                   "%s: the digest is not 64 hex digits", where);
                has_expected = true;
            } else if (!self->policy)
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                               "%s: no digest for %s and no attest/policy to take it from", where,
                               args[0]);
            break;
        case ATTEST_ITEM_RANGE:
            if (n < 3 || args[0][0] != '/' || !s_parse_u64 (args[1], &item.off) ||
                !s_parse_u64 (args[2], &item.len) || item.len == 0 || item.len > (1ull << 40) ||
                item.off + item.len < item.off)
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                               "%s: expected 'range /PATH OFFSET LENGTH [SHA256HEX]'", where);
            item.path = args[0];
            if (n == 4) {
                if (strlen (args[3]) != 64 || !wd_hex_decode (expected, 32, args[3]))
                    return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                                   "%s: the digest is not 64 hex digits", where);
            } else {
                attest_answer_err_t e =
                    attest_collect_range (args[0], item.off, item.len, expected);
                if (e != ATTEST_ANSWER_OK)
                    return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                                   "%s: cannot hash the reference copy %s: %s", where, args[0],
                                   attest_answer_err_name (e));
            }
            has_expected = true;
            break;
        case ATTEST_ITEM_IMA:
            if (n > 1 || (n == 1 && !s_parse_u64 (args[0], &item.from)))
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: expected 'ima [FROM]'",
                               where);
            break;
        default: /* cmdline, procs */
            if (n != 0)
                return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: '%s' takes no arguments",
                               where, kind);
    }
    return s_item_keep (self, &item, has_expected ? expected : NULL, where, why, why_len);
}

static int
s_load_items (node_attest_t *self, char *why, size_t why_len)
{
    const char *path = wd_config_str (self->cfg, "attest/items");
    if (!path)
        return WD_OK;
    FILE *f = fopen (path, "r");
    if (!f)
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "attest/items %s: %s", path,
                       strerror (errno));
    char *line = malloc (S_ITEMS_LINE + 2);
    if (!line)
        wd_fatalx ("out of memory");
    int rc = WD_OK;
    for (unsigned lineno = 1; rc == WD_OK && fgets (line, S_ITEMS_LINE + 2, f); lineno++) {
        char where[PATH_MAX + 32];
        snprintf (where, sizeof where, "attest/items %s:%u", path, lineno);
        size_t len = strlen (line);
        if (len > S_ITEMS_LINE) {
            rc = s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "%s: line too long", where);
            break;
        }
        if (len && line[len - 1] == '\n')
            line[--len] = 0;
        rc = s_item_line (self, line, where, why, why_len);
    }
    if (rc == WD_OK && ferror (f))
        rc = s_fail (why, why_len, WD_ERR_IO, "attest/items %s: read error", path);
    free (line);
    fclose (f);
    return rc;
}

static int
s_load_chain (node_attest_t *self, char *why, size_t why_len)
{
    char path[PATH_MAX];
    if (node_path_genesis (self->cfg, path, sizeof path) != 0)
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "genesis path is too long");
    wd_genesis_t *genesis = NULL;
    wd_err_t err = wd_genesis_load (path, &genesis);
    if (err == WD_ERR_NOT_FOUND) {
        memcpy (self->chain, wd_cert_no_chain, WD_CHAIN_ID_LEN);
        return WD_OK;
    }
    if (err != WD_OK)
        return s_fail (why, why_len, err, "genesis %s: %s", path, wd_strerror (err));
    wd_genesis_chain_id (genesis, self->chain);
    wd_genesis_destroy (&genesis);
    self->has_genesis = true;
    return WD_OK;
}

static int
s_start_server (node_attest_t *self, char *why, size_t why_len)
{
    const wd_config_t *cfg = self->cfg;
    const char *listen = wd_config_str (cfg, "attest/listen");
    const char *policy_path = wd_config_str (cfg, "attest/policy");
    char sub[512] = "";
    if (policy_path) {
        int rc = attest_policy_from_json_file (policy_path, "attest-policy", 0, &self->policy, sub,
                                               sizeof sub);
        if (rc != WD_OK)
            return s_fail (why, why_len, rc, "attest/policy %s: %s (%s): %s", policy_path,
                           attest_strerror (rc), attest_err_name (rc), sub);
    }
    char key_path[PATH_MAX];
    if (node_path_state (cfg, "keys/curve.key", key_path, sizeof key_path) != 0)
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE, "state path is too long");
    self->curve_secret = sodium_malloc (WD_SEED_LEN);
    if (!self->curve_secret)
        wd_fatalx ("out of memory");
    wd_err_t err = wd_keyfile_read (key_path, WD_KEYFILE_X25519, self->curve_secret);
    if (err != WD_OK)
        return s_fail (why, why_len, err, "%s: %s", key_path, wd_strerror (err));
    uint8_t curve_pk[32];
    if (crypto_scalarmult_base (curve_pk, self->curve_secret) != 0 ||
        sodium_memcmp (curve_pk, self->cert->curve_pk, 32) != 0)
        return s_fail (why, why_len, WD_ERR_KEY_MISMATCH, "%s is not the curve key of node.cert",
                       key_path);
    const char *cmdline = wd_config_str (cfg, "attest/cmdline");
    if (cmdline) {
        /* /proc/cmdline ends with a newline; the key holds the line without it. */
        self->cmdline_len = strlen (cmdline) + 1;
        self->cmdline = malloc (self->cmdline_len);
        if (!self->cmdline)
            wd_fatalx ("out of memory");
        memcpy (self->cmdline, cmdline, self->cmdline_len - 1);
        self->cmdline[self->cmdline_len - 1] = '\n';
    }
    int rc = s_load_items (self, why, why_len);
    if (rc != WD_OK)
        return rc;
    if (cmdline) {
        attest_item_t item = { .kind = ATTEST_ITEM_CMDLINE };
        rc = s_item_keep (self, &item, NULL, "attest/cmdline", why, why_len);
        if (rc != WD_OK)
            return rc;
    }
    if (self->item_count == 0)
        return s_fail (why, why_len, WD_ERR_CONFIG_VALUE,
                       "attest/listen is set but there is nothing to challenge (set attest/items "
                       "or attest/cmdline)");
    const char *hook = wd_config_str (cfg, "attest/hook");
    attest_server_config_t sc = {
        .endpoint = listen,
        .curve_public = self->cert->curve_pk,
        .curve_secret = self->curve_secret,
        .mean_interval_ms = wd_config_uint (cfg, "attest/interval"),
        .deadline_ms = wd_config_uint (cfg, "attest/deadline"),
        .min_items = (size_t)wd_config_uint (cfg, "attest/min_items"),
        .max_items = (size_t)wd_config_uint (cfg, "attest/max_items"),
        .policy = self->policy,
        .cmdline = self->cmdline,
        .cmdline_len = self->cmdline_len,
        .modules = (const char *const *)self->modules,
        .modules_count = self->modules_count,
        .actions = ATTEST_ACTION_LOG |
                   (wd_config_bool (cfg, "attest/untrusted") ? ATTEST_ACTION_UNTRUSTED : 0u) |
                   (hook ? ATTEST_ACTION_HOOK : 0u),
        .hook = hook,
        .hook_fn = s_run_hook,
        .hook_arg = self,
        .on_outcome = s_on_outcome,
        .on_reject = s_on_reject,
        .arg = self,
    };
    self->server = attest_server_new (&sc);
    if (!self->server)
        return s_fail (why, why_len, WD_ERR_IO, "attest/listen %s: %s", listen, strerror (errno));
    for (size_t i = 0; i < self->item_count; i++)
        attest_server_add_item (self->server, &self->items[i],
                                self->has_expected[i] ? self->expected[i] : NULL);
    const char *advertise = wd_config_str (cfg, "attest/advertise");
    snprintf (self->advertise, sizeof self->advertise, "%s", advertise ? advertise : listen);
    if (attest_server_attach (self->server, self->loop) != 0)
        return s_fail (why, why_len, WD_ERR_IO, "attest: zloop refused the server");
    wd_log_info ("attest: serving host agents on %s (%zu items, chain %s%s)", listen,
                 self->item_count, wd_short_id (self->chain).s,
                 self->has_genesis ? "" : ", no genesis: zero chain");
    return WD_OK;
}

node_attest_t *
node_attest_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *cert, node_sign_t *signer,
                 char *why, size_t why_len)
{
    assert (loop && cfg && cert && signer && why);
    node_attest_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    self->cfg = cfg;
    self->cert = cert;
    self->signer = signer;
    self->timer_id = -1;
    int rc = s_load_chain (self, why, why_len);
    if (rc == WD_OK)
        rc = s_db_open (self, why, why_len);
    if (rc == WD_OK && wd_config_str (cfg, "attest/listen"))
        rc = s_start_server (self, why, why_len);
    if (rc == WD_OK) {
        self->timer_id = zloop_timer (loop, S_TIMER_MS, 0, s_on_timer, self);
        if (self->timer_id < 0)
            rc = s_fail (why, why_len, WD_ERR_IO, "attest: zloop refused a timer");
    }
    if (rc != WD_OK) {
        node_attest_destroy (&self);
        return NULL;
    }
    return self;
}

void
node_attest_destroy (node_attest_t **self_p)
{
    assert (self_p);
    node_attest_t *self = *self_p;
    if (!self)
        return;
    if (self->timer_id >= 0)
        zloop_timer_end (self->loop, self->timer_id);
    attest_server_destroy (&self->server);
    size_t dropped = 0;
    for (size_t i = 0; i < S_PENDING_MAX; i++) {
        s_pending_t *p = self->pending[i];
        if (!p)
            continue;
        dropped++;
        if (p->in_flight)
            p->owner = NULL; /* freed by its callback */
        else
            free (p);
    }
    if (dropped)
        wd_log_warnx ("attest: stopping with %zu evidence records not sealed", dropped);
    s_reap_hooks (self);
    sqlite3_finalize (self->insert);
    wd_db_close (&self->db);
    attest_policy_destroy (&self->policy);
    if (self->curve_secret)
        sodium_free (self->curve_secret); /* wipes */
    free (self->cmdline);
    for (size_t i = 0; i < self->modules_count; i++)
        free (self->modules[i]);
    free (self->modules);
    for (size_t i = 0; i < self->item_count; i++)
        free (self->items[i].path);
    free (self);
    *self_p = NULL;
}

bool
node_attest_serving (const node_attest_t *self)
{
    return self && self->server;
}

int
node_attest_add_token (node_attest_t *self, const char *token_hex, const char *host)
{
    assert (self && token_hex);
    if (!self->server)
        return WD_ERR_UNAVAILABLE;
    int rc = attest_server_add_token (self->server, token_hex, host);
    if (rc == WD_OK)
        wd_log_info ("attest: boot token issued for host %s", host ? host : "(named by its agent)");
    return rc;
}

/* ---- control requests -------------------------------------------------------- */

bool
node_attest_handles (uint32_t type)
{
    return type == WD_MSG_CTL_ATTEST_HOST || type == WD_MSG_CTL_ATTEST_EVIDENCE ||
           type == WD_MSG_CTL_ATTEST_TOKEN || type == WD_MSG_CTL_ATTEST_CHALLENGE;
}

static void
s_write_outcome (wd_writer_t *w, const attest_server_outcome_t *o, uint64_t now_ms)
{
    const attest_evidence_challenge_t *c = &o->challenge;
    wd_writer_map (w, 9);
    wd_writer_key (w, "age_ms");
    wd_writer_uint (w, now_ms > o->issued_ms ? now_ms - o->issued_ms : 0);
    wd_writer_key (w, "deadline");
    wd_writer_uint (w, c->deadline);
    wd_writer_key (w, "issued");
    wd_writer_uint (w, c->issued);
    wd_writer_key (w, "items");
    wd_writer_array (w, c->item_count);
    for (size_t i = 0; i < c->item_count; i++) {
        wd_writer_map (w, 3);
        wd_writer_key (w, "item");
        wd_writer_cstr (w, c->items[i].item);
        wd_writer_key (w, "result");
        wd_writer_cstr (w, attest_outcome_name (c->items[i].result));
        wd_writer_key (w, "why");
        wd_writer_cstr (w, c->items[i].why);
    }
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, c->nonce, sizeof c->nonce);
    wd_writer_key (w, "on_demand");
    wd_writer_bool (w, o->on_demand);
    wd_writer_key (w, "outcome");
    wd_writer_cstr (w, attest_outcome_name (c->outcome));
    wd_writer_key (w, "response_ms");
    wd_writer_uint (w, o->answered_ms > o->issued_ms ? o->answered_ms - o->issued_ms : 0);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, o->seq);
}

static void
s_write_host (wd_writer_t *w, const attest_host_status_t *st, size_t history, uint64_t now_ms)
{
    size_t first = st->history_count > history ? st->history_count - history : 0;
    wd_writer_map (w, 12);
    wd_writer_key (w, "admitted");
    wd_writer_bool (w, st->admitted);
    wd_writer_key (w, "admitted_age_ms");
    wd_writer_uint (w, st->admitted && now_ms > st->admitted_ms ? now_ms - st->admitted_ms : 0);
    wd_writer_key (w, "challenge_open");
    wd_writer_bool (w, st->challenge_open);
    wd_writer_key (w, "failed");
    wd_writer_uint (w, st->failed);
    wd_writer_key (w, "history");
    wd_writer_array (w, st->history_count - first);
    for (size_t i = first; i < st->history_count; i++)
        s_write_outcome (w, &st->history[i], now_ms);
    wd_writer_key (w, "host");
    wd_writer_cstr (w, st->host);
    wd_writer_key (w, "ima_entries");
    wd_writer_uint (w, st->ima_entries);
    wd_writer_key (w, "missed");
    wd_writer_uint (w, st->missed);
    wd_writer_key (w, "passed");
    wd_writer_uint (w, st->passed);
    wd_writer_key (w, "rejected");
    wd_writer_uint (w, st->rejected);
    wd_writer_key (w, "session_pk");
    if (st->admitted)
        wd_writer_bin (w, st->session_pk, 32);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "state");
    wd_writer_cstr (w, attest_host_state_name (st->state));
}

static uint64_t
s_count_rows (node_attest_t *self)
{
    sqlite3_stmt *st;
    uint64_t n = 0;
    if (sqlite3_prepare_v2 (self->db, "SELECT count(*) FROM evidence", -1, &st, NULL) ==
            SQLITE_OK &&
        sqlite3_step (st) == SQLITE_ROW)
        n = (uint64_t)sqlite3_column_int64 (st, 0);
    sqlite3_finalize (st);
    return n;
}

/* {chain, evidence: {lost, pending, rows, stored}, hooks_run, hosts: [...],
   listen, rejected, rejected_unknown, server_key, truncated} */
static uint8_t *
s_reply_host (node_attest_t *self, const wd_msg_attest_req_t *req, size_t *len)
{
    uint64_t now = (uint64_t)zclock_mono ();
    size_t history = req->limit ? req->limit : S_HISTORY_DFL;
    if (history > ATTEST_SERVER_HISTORY)
        history = ATTEST_SERVER_HISTORY;
    size_t count = self->server ? attest_server_host_count (self->server) : 0;
    attest_host_status_t *st = malloc (sizeof *st);
    if (!st)
        wd_fatalx ("out of memory");
    /* Host maps one by one, so the reply stays within a channel frame. */
    wd_writer_t **hosts = calloc (count ? count : 1, sizeof *hosts);
    if (!hosts)
        wd_fatalx ("out of memory");
    size_t shown = 0, total = 0;
    bool truncated = false;
    for (size_t i = 0; i < count; i++) {
        attest_server_host_status (self->server, i, st);
        if (req->has_host && strcmp (st->host, req->host) != 0)
            continue;
        wd_writer_t *one = wd_writer_new ();
        s_write_host (one, st, history, now);
        size_t one_len;
        wd_writer_data (one, &one_len);
        if (total + one_len > S_REPLY_MAX - 512) {
            truncated = true;
            wd_writer_destroy (&one);
        } else {
            total += one_len;
            hosts[shown++] = one;
        }
    }
    free (st);
    size_t pending = 0;
    for (size_t i = 0; i < S_PENDING_MAX; i++)
        pending += self->pending[i] != NULL;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, self->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "evidence");
    wd_writer_map (w, 4);
    wd_writer_key (w, "lost");
    wd_writer_uint (w, self->lost);
    wd_writer_key (w, "pending");
    wd_writer_uint (w, pending);
    wd_writer_key (w, "rows");
    wd_writer_uint (w, s_count_rows (self));
    wd_writer_key (w, "stored");
    wd_writer_uint (w, self->stored);
    wd_writer_key (w, "hooks_run");
    wd_writer_uint (w, self->hooks_run);
    wd_writer_key (w, "hosts");
    wd_writer_array (w, shown);
    for (size_t i = 0; i < shown; i++) {
        size_t l;
        const uint8_t *d = wd_writer_data (hosts[i], &l);
        wd_writer_raw (w, d, l);
        wd_writer_destroy (&hosts[i]);
    }
    free (hosts);
    wd_writer_key (w, "listen");
    if (self->server)
        wd_writer_cstr (w, wd_config_str (self->cfg, "attest/listen"));
    else
        wd_writer_nil (w);
    wd_writer_key (w, "rejected");
    wd_writer_uint (w, self->rejected);
    wd_writer_key (w, "rejected_unknown");
    wd_writer_uint (w, self->server ? attest_server_rejected_unknown (self->server) : 0);
    wd_writer_key (w, "server_key");
    wd_writer_bin (w, self->cert->curve_pk, 32);
    wd_writer_key (w, "truncated");
    wd_writer_bool (w, truncated);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* {chain, more, records: [{envelope, row}]} — the newest `limit` records
   (of host, when given), oldest first, as many as fit in one frame. */
static int
s_reply_evidence (node_attest_t *self, const wd_msg_attest_req_t *req, uint8_t **out, size_t *len,
                  char *what, size_t what_len)
{
    uint32_t limit = req->limit ? req->limit : 20;
    if (limit > NODE_ATTEST_LIMIT_MAX)
        limit = NODE_ATTEST_LIMIT_MAX;
    sqlite3_stmt *st;
    const char *sql = req->has_host
                          ? "SELECT row, envelope FROM evidence WHERE host = ?2 "
                            "ORDER BY row DESC LIMIT ?1"
                          : "SELECT row, envelope FROM evidence ORDER BY row DESC LIMIT ?1";
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK) {
        snprintf (what, what_len, "evidence: %s", sqlite3_errmsg (self->db));
        return WD_ERR_DB;
    }
    sqlite3_bind_int64 (st, 1, limit + 1);
    if (req->has_host)
        sqlite3_bind_text (st, 2, req->host, -1, SQLITE_STATIC);
    /* Newest first from SQLite; the reply lists them oldest first. */
    size_t n = 0, total = 0;
    wd_writer_t **rec = calloc (limit, sizeof *rec);
    if (!rec)
        wd_fatalx ("out of memory");
    bool more = false;
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        if (n == limit) {
            more = true;
            break;
        }
        const void *env = sqlite3_column_blob (st, 1);
        size_t env_len = (size_t)sqlite3_column_bytes (st, 1);
        if (total + env_len + 64 > S_REPLY_MAX) {
            more = true;
            break;
        }
        wd_writer_t *w = wd_writer_new ();
        wd_writer_map (w, 2);
        wd_writer_key (w, "envelope");
        wd_writer_bin (w, env, env_len);
        wd_writer_key (w, "row");
        wd_writer_uint (w, (uint64_t)sqlite3_column_int64 (st, 0));
        size_t l;
        wd_writer_data (w, &l);
        total += l;
        rec[n++] = w;
    }
    int status = WD_OK;
    if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
        snprintf (what, what_len, "evidence: %s", sqlite3_errmsg (self->db));
        status = WD_ERR_DB;
    }
    sqlite3_finalize (st);
    if (status == WD_OK) {
        wd_writer_t *w = wd_writer_new ();
        wd_writer_map (w, 3);
        wd_writer_key (w, "chain");
        wd_writer_bin (w, self->chain, WD_CHAIN_ID_LEN);
        wd_writer_key (w, "more");
        wd_writer_bool (w, more);
        wd_writer_key (w, "records");
        wd_writer_array (w, n);
        for (size_t i = n; i-- > 0;) {
            size_t l;
            const uint8_t *d = wd_writer_data (rec[i], &l);
            wd_writer_raw (w, d, l);
        }
        *out = wd_writer_take (w, len);
        wd_writer_destroy (&w);
    }
    for (size_t i = 0; i < n; i++)
        wd_writer_destroy (&rec[i]);
    free (rec);
    return status;
}

/* {endpoint, host, server_key, token} */
static int
s_reply_token (node_attest_t *self, const wd_msg_attest_req_t *req, uint8_t **out, size_t *len,
               char *what, size_t what_len)
{
    if (!req->has_host) {
        snprintf (what, what_len, "attest token: a host label is required");
        return WD_ERR_MISSING_KEY;
    }
    uint8_t raw[NODE_ATTEST_TOKEN_BYTES];
    char token[2 * NODE_ATTEST_TOKEN_BYTES + 1];
    randombytes_buf (raw, sizeof raw);
    wd_hex_encode (token, raw, sizeof raw);
    sodium_memzero (raw, sizeof raw);
    int rc = node_attest_add_token (self, token, req->host);
    if (rc != WD_OK) {
        snprintf (what, what_len, "attest token for %s: %s", req->host, attest_strerror (rc));
        sodium_memzero (token, sizeof token);
        return rc;
    }
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "endpoint");
    wd_writer_cstr (w, self->advertise);
    wd_writer_key (w, "host");
    wd_writer_cstr (w, req->host);
    wd_writer_key (w, "server_key");
    wd_writer_bin (w, self->cert->curve_pk, 32);
    wd_writer_key (w, "token");
    wd_writer_cstr (w, token);
    sodium_memzero (token, sizeof token);
    *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return WD_OK;
}

int
node_attest_control (node_attest_t *self, uint32_t type, const uint8_t *body, size_t len,
                     uint32_t *reply_type, uint8_t **reply, size_t *reply_len, char *what,
                     size_t what_len)
{
    assert (self && node_attest_handles (type));
    wd_msg_attest_req_t req;
    wd_err_t err = wd_msg_decode_attest_req (body, len, &req);
    if (err != WD_OK) {
        snprintf (what, what_len, "%s request: %s", wd_msg_name (type), wd_strerror (err));
        return err;
    }
    if (type != WD_MSG_CTL_ATTEST_EVIDENCE && type != WD_MSG_CTL_ATTEST_HOST && !self->server) {
        snprintf (what, what_len, "%s: host attestation is not configured (attest/listen)",
                  wd_msg_name (type));
        return WD_ERR_UNAVAILABLE;
    }
    *reply_type = type + 1;
    switch (type) {
        case WD_MSG_CTL_ATTEST_HOST:
            *reply = s_reply_host (self, &req, reply_len);
            return WD_OK;
        case WD_MSG_CTL_ATTEST_EVIDENCE:
            return s_reply_evidence (self, &req, reply, reply_len, what, what_len);
        case WD_MSG_CTL_ATTEST_TOKEN:
            return s_reply_token (self, &req, reply, reply_len, what, what_len);
        default: { /* WD_MSG_CTL_ATTEST_CHALLENGE: {asked} */
            size_t asked = attest_server_demand (self->server, req.has_host ? req.host : NULL);
            if (asked)
                attest_server_tick (self->server, (uint64_t)zclock_mono ());
            wd_writer_t *w = wd_writer_new ();
            wd_writer_map (w, 1);
            wd_writer_key (w, "asked");
            wd_writer_uint (w, asked);
            *reply = wd_writer_take (w, reply_len);
            wd_writer_destroy (&w);
            return WD_OK;
        }
    }
}
