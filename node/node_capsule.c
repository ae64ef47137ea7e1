/*
 * node_capsule: tasks from the ledger, executor selection, fetch and key
 * release over channel 5, execution through the parent, receipts (see
 * node_capsule.h and docs/ARCHITECTURE.md "Capsules in the engine").
 *
 * Everything a task's fate depends on is read from committed blocks, which
 * every node holds identically: the post (with the holders' policies), the
 * claims, the receipt or the failure. One 100 ms tick follows new blocks,
 * retries and times out channel 5 requests, and starts what the new state
 * asks of this node (a claim, an execution). Asynchronous work — the keys
 * process's signatures and VRF proofs, channel 5 answers, the sandbox —
 * refers to tasks by id, never by pointer, so a task may finish or the
 * component stop while an answer is still on its way.
 */
#include "node_capsule.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <linux/magic.h>
#include <pthread.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include "capsule_env.h"
#include "capsule_err.h"
#include "capsule_format.h"
#include "capsule_receipt.h"
#include "capsule_release.h"
#include "capsule_sandbox.h"
#include "capsule_seal.h"
#include "capsule_store.h"
#include "capsule_task.h"
#include "cons_block.h"
#include "cons_ledger.h"
#include "cons_reputation.h"
#include "cons_sortition.h"
#include "cons_transport.h"
#include "node_capsule_wire.h"
#include "node_config.h"
#include "wd_codec.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_keyfile.h"
#include "wd_log.h"
#include "wd_msg.h"

#define TICK_MS          100
#define MREQ_TIMEOUT_MS  3000
#define MREQ_TRIES       4
#define RELEASE_RETRY_MS 300
#define RELEASE_WAIT_MS  20000
#define FD_CACHE         8
#define FD_CACHE_IDLE_MS 30000
#define BLOCK_MAX        (64u << 20)

typedef enum {
    S_POSTED = 0, /* claim rounds open */
    S_SELECTED,   /* executor decided */
    S_DONE,       /* receipt committed */
    S_FAILED,     /* failure committed, or no executor */
} s_state_t;

static const char *const s_state_names[] = { "posted", "selected", "done", "failed" };

typedef enum { NEED_CODE = 0, NEED_ENV, NEED_INPUT } s_need_kind_t;

/* One capsule the executor needs: its bytes and its content key. */
typedef struct {
    s_need_kind_t kind;
    uint8_t id[CAPSULE_ID_LEN];
    uint8_t holder[WD_PUBKEY_LEN];
    char name[CAPSULE_TASK_NAME_MAX + 1];
    bool have_capsule, fetching;
    capsule_key_t *key;
    bool releasing;
    uint64_t retry_at, give_up_at;
} s_need_t;

typedef enum { X_IDLE = 0, X_GATHER, X_RUNNING, X_SEALING, X_FINISHING, X_OVER } s_exec_t;

typedef struct s_task s_task_t;
struct s_task {
    s_task_t *next;
    uint8_t id[WD_DIGEST_LEN];
    capsule_task_t task;
    uint8_t origin[WD_PUBKEY_LEN];
    uint8_t *post; /* the post body (policies borrow from it) */
    size_t post_len;
    node_capsule_post_t p;
    uint64_t height; /* block that committed the post */
    uint8_t seed[CONS_BLOCK_HASH_LEN];
    uint32_t round;
    bool considered[NODE_CAPSULE_CLAIM_ROUNDS]; /* this node's claim decided */
    bool have_best;
    uint8_t best_from[WD_PUBKEY_LEN];
    cons_sortition_claim_t best;
    s_state_t state;
    uint8_t executor[WD_PUBKEY_LEN];
    uint8_t proof[WD_VRF_PROOF_LEN];
    uint8_t *receipt;
    size_t receipt_len;
    int32_t code;
    char reason[NODE_CAPSULE_REASON_MAX + 1];
    size_t refusal_count;
    node_capsule_refusal_t refusals[NODE_CAPSULE_REFUSALS_MAX];
    /* executor side */
    s_exec_t exec;
    size_t need_count;
    s_need_t needs[NODE_CAPSULE_POLICIES_MAX];
    uint8_t *refused[NODE_CAPSULE_REFUSALS_MAX]; /* refusal envelopes received */
    size_t refused_lens[NODE_CAPSULE_REFUSALS_MAX];
    size_t refused_count;
    char work[PATH_MAX];
    uint32_t job;
    uint64_t started_ms, ended_ms;
    node_capsule_done_t done;
    char done_degraded[NODE_CAPSULE_DEGRADED_MAX][32];
};

/* A request on channel 5 waiting for its answer. */
typedef struct s_mreq s_mreq_t;
typedef void (s_mreq_fn) (node_capsule_t *self, s_mreq_t *req, const node_capsule_msg_t *answer);
struct s_mreq {
    s_mreq_t *next;
    uint64_t rid;
    uint8_t peer[WD_PUBKEY_LEN];
    uint8_t *body;
    size_t len;
    uint64_t deadline;
    int tries;
    s_mreq_fn *done; /* answer NULL: timed out */
    /* what it is for */
    uint8_t task[WD_DIGEST_LEN];
    size_t index;
    void *ctx;
};

/* A fetch of one capsule from a holder, chunk by chunk. */
typedef struct s_fetch s_fetch_t;
typedef void (s_fetch_fn) (node_capsule_t *self, s_fetch_t *fetch, int rc);
struct s_fetch {
    uint8_t id[CAPSULE_ID_LEN];
    uint8_t holder[WD_PUBKEY_LEN];
    capsule_store_writer_t *writer;
    uint64_t offset;
    s_fetch_fn *done;
    uint8_t task[WD_DIGEST_LEN];
    size_t index;
    void *ctx;
};

/* A submit waiting for the holders' policies. */
typedef struct s_submit s_submit_t;
struct s_submit {
    s_submit_t *next;
    void *client;
    uint32_t peer;
    uint8_t id[WD_DIGEST_LEN];
    uint8_t *envelope;
    size_t envelope_len;
    capsule_task_t task;
    size_t count, have;
    uint8_t *policies[NODE_CAPSULE_POLICIES_MAX];
    size_t policy_lens[NODE_CAPSULE_POLICIES_MAX];
    bool failed, posted;
};

/* A control request waiting for a fetch (GET). */
typedef struct s_get s_get_t;
struct s_get {
    s_get_t *next;
    void *client;
    uint32_t peer;
};

/* An asynchronous call into the keys process; owner NULL once the
   component has gone (the callback then only frees it). */
typedef struct s_op s_op_t;
struct s_op {
    s_op_t *next;
    node_capsule_t *owner;
    uint8_t task[WD_DIGEST_LEN];
    uint32_t round;
    size_t index;
    uint8_t peer[WD_PUBKEY_LEN];
    uint64_t rid;
    s_submit_t *submit;
};

/* The thread that seals a task's outputs (capsule_seal_fd signs
   synchronously; the thread's signer asks the main loop, which asks the
   keys process). */
typedef struct {
    node_capsule_t *owner;
    pthread_t thread;
    int sv[2];
    zmq_pollitem_t item;
    bool sign_pending;
    uint8_t task[WD_DIGEST_LEN];
    char work[PATH_MAX];
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t owner_pk[WD_PUBKEY_LEN];
    size_t recipient_count;
    uint8_t recipients[CAPSULE_TASK_RECIPIENTS_MAX][CAPSULE_CURVE_LEN];
    size_t count;
    char names[CAPSULE_RECEIPT_OUTPUTS_MAX][256];
    int rc;
    char why[256];
} s_sealer_t;

typedef struct {
    uint8_t id[CAPSULE_ID_LEN];
    int fd;
    uint64_t size;
    uint64_t used_ms;
} s_cached_t;

struct node_capsule {
    zloop_t *loop;
    const wd_config_t *cfg;
    const wd_cert_t *cert;
    node_sign_t *signer;
    node_mesh_t *mesh;
    node_agree_t *agree;
    wd_chan_t *parent;
    node_capsule_reply_fn *reply;
    const wd_genesis_t *genesis;
    uint8_t chain[WD_CHAIN_ID_LEN];
    capsule_store_t *store;
    uint8_t *curve_sk; /* sodium_malloc */
    uint8_t curve_pk[CAPSULE_CURVE_LEN];
    char work_dir[PATH_MAX];
    bool can_execute; /* the work area is on a tmpfs */
    uint64_t max_capsule;
    int timer;
    uint64_t scanned;
    s_task_t *tasks;
    size_t task_count;
    s_mreq_t *mreqs;
    uint64_t next_rid;
    s_submit_t *submits;
    s_get_t *gets;
    s_op_t *ops;
    s_sealer_t *sealer; /* one sealing at a time */
    s_cached_t cache[FD_CACHE];
    uint32_t next_job;
};

/* ---- small helpers ------------------------------------------------------------ */

/* snprintf that says whether out held it all (0) or not (-1): paths and
   reasons are cut, never overrun. */
static int __attribute__ ((format (printf, 3, 4)))
s_fmt (char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (out, size, fmt, ap);
    va_end (ap);
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static uint64_t
s_now_ms (void)
{
    return (uint64_t)zclock_time ();
}

static uint64_t
s_mono_ms (void)
{
    return (uint64_t)zclock_mono ();
}

static const char *
s_name (node_capsule_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    const wd_cert_t *cert = wd_genesis_find_node (self->genesis, id);
    return cert ? cert->name : "?";
}

static s_task_t *
s_task_find (node_capsule_t *self, const uint8_t id[WD_DIGEST_LEN])
{
    for (s_task_t *t = self->tasks; t; t = t->next)
        if (memcmp (t->id, id, WD_DIGEST_LEN) == 0)
            return t;
    return NULL;
}

static bool
s_is_self (node_capsule_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    return memcmp (id, self->cert->sign_pk, WD_PUBKEY_LEN) == 0;
}

static s_op_t *
s_op_new (node_capsule_t *self)
{
    s_op_t *op = calloc (1, sizeof *op);
    if (!op)
        wd_fatalx ("out of memory");
    op->owner = self;
    op->next = self->ops;
    self->ops = op;
    return op;
}

/* Unlinks op; returns its owner (NULL: the component has gone). The caller
   frees op. */
static node_capsule_t *
s_op_end (s_op_t *op)
{
    node_capsule_t *self = op->owner;
    if (self)
        for (s_op_t **p = &self->ops; *p; p = &(*p)->next)
            if (*p == op) {
                *p = op->next;
                break;
            }
    return self;
}

static void
s_send (node_capsule_t *self, const uint8_t to[WD_PUBKEY_LEN], const node_capsule_msg_t *m)
{
    size_t len;
    uint8_t *body = node_capsule_encode_msg (m, &len);
    int rc = node_mesh_send (self->mesh, to, CONS_CHANNEL_CAPSULE, body, len);
    if (rc != WD_OK)
        wd_log_debug ("capsule: message to %s not sent: %s", s_name (self, to),
                      node_capsule_strerror (rc));
    free (body);
}

static void
s_send_error (node_capsule_t *self, const uint8_t to[WD_PUBKEY_LEN], uint64_t rid, int code)
{
    node_capsule_msg_t m = { .type = NODE_CAPSULE_MSG_ERROR, .rid = rid, .code = code };
    snprintf (m.reason, sizeof m.reason, "%s", node_capsule_strerror (code));
    s_send (self, to, &m);
}

/* Sends a request and waits for its answer (retried on silence). */
static s_mreq_t *
s_mreq_send (node_capsule_t *self, const uint8_t to[WD_PUBKEY_LEN], node_capsule_msg_t *m,
             s_mreq_fn *done)
{
    s_mreq_t *req = calloc (1, sizeof *req);
    if (!req)
        wd_fatalx ("out of memory");
    req->rid = m->rid = ++self->next_rid;
    memcpy (req->peer, to, WD_PUBKEY_LEN);
    req->body = node_capsule_encode_msg (m, &req->len);
    req->deadline = s_mono_ms () + MREQ_TIMEOUT_MS;
    req->tries = 1;
    req->done = done;
    req->next = self->mreqs;
    self->mreqs = req;
    int rc = node_mesh_send (self->mesh, to, CONS_CHANNEL_CAPSULE, req->body, req->len);
    if (rc != WD_OK)
        wd_log_debug ("capsule: request to %s not sent yet: %s", s_name (self, to),
                      node_capsule_strerror (rc));
    return req;
}

static void
s_mreq_unlink (node_capsule_t *self, s_mreq_t *req)
{
    for (s_mreq_t **p = &self->mreqs; *p; p = &(*p)->next)
        if (*p == req) {
            *p = req->next;
            break;
        }
}

static void
s_mreq_free (s_mreq_t *req)
{
    free (req->body);
    free (req);
}

/* A verified, open descriptor of a stored capsule (cached so that a fetch
   in many chunks re-hashes the file once). Borrowed. */
static int
s_cached_fd (node_capsule_t *self, const uint8_t id[CAPSULE_ID_LEN], uint64_t *size, int *rc)
{
    uint64_t now = s_mono_ms ();
    s_cached_t *slot = NULL;
    for (size_t i = 0; i < FD_CACHE; i++) {
        s_cached_t *c = &self->cache[i];
        if (c->fd > 0 && memcmp (c->id, id, CAPSULE_ID_LEN) == 0) {
            c->used_ms = now;
            *size = c->size;
            return c->fd;
        }
        if (!slot || c->fd <= 0 || (slot->fd > 0 && c->used_ms < slot->used_ms))
            slot = c;
    }
    int fd = -1;
    *rc = capsule_store_get_fd (self->store, id, &fd, size);
    if (*rc != WD_OK)
        return -1;
    if (slot->fd > 0)
        close (slot->fd);
    memcpy (slot->id, id, CAPSULE_ID_LEN);
    slot->fd = fd;
    slot->size = *size;
    slot->used_ms = now;
    return fd;
}

static void
s_cache_expire (node_capsule_t *self, bool all)
{
    uint64_t now = s_mono_ms ();
    for (size_t i = 0; i < FD_CACHE; i++)
        if (self->cache[i].fd > 0 && (all || now - self->cache[i].used_ms > FD_CACHE_IDLE_MS)) {
            close (self->cache[i].fd);
            self->cache[i].fd = 0;
        }
}

/* Parses a stored capsule's header into *h (heap: it is large). */
static int
s_stored_header (node_capsule_t *self, const uint8_t id[CAPSULE_ID_LEN], capsule_header_t *h)
{
    uint64_t size;
    int rc = WD_OK;
    int fd = s_cached_fd (self, id, &size, &rc);
    if (fd < 0)
        return rc;
    return capsule_parse_fd (fd, self->chain, self->max_capsule, h);
}

/* The canonical bytes of a policy (caller frees). */
static uint8_t *
s_policy_bytes (const capsule_policy_t *policy, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    capsule_policy_write (w, policy);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static int
s_policy_decode (const uint8_t *buf, size_t len, capsule_policy_t *policy)
{
    wd_reader_t r;
    wd_reader_init (&r, buf, len);
    int rc = capsule_policy_read (&r, policy);
    wd_err_t err = wd_reader_finish (&r);
    return rc != WD_OK ? rc : err;
}

/* ---- ledger facts about a node ---------------------------------------------------- */

static cons_ledger_t *
s_ledger (node_capsule_t *self)
{
    return node_agree_ledger (self->agree);
}

/* What the ledger says about node as an executor: *ex filled, or a refusal
   code (not a member, quarantined, contraindicated). */
static int
s_facts (node_capsule_t *self, const uint8_t node[WD_PUBKEY_LEN], capsule_executor_t *ex,
         uint8_t evidence[32])
{
    memset (ex, 0, sizeof *ex);
    const wd_cert_t *cert = wd_genesis_find_node (self->genesis, node);
    if (!cert)
        return CAPSULE_ERR_EXEC_NOT_SELECTED;
    cons_ledger_t *ledger = s_ledger (self);
    cons_node_status_t st;
    if (cons_ledger_node_status (ledger, node, &st) != WD_OK)
        return CAPSULE_ERR_EXEC_NOT_SELECTED;
    if (st.tier == ATTEST_TRUST_CONTRAINDICATED)
        return CAPSULE_ERR_EXEC_UNTRUSTED;
    const cons_reputation_t *rep = cons_ledger_reputation (ledger);
    uint64_t epoch = cons_reputation_epoch (rep, cons_ledger_height (ledger) + 1);
    for (size_t i = 0; i < cons_reputation_count (rep); i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        if (memcmp (e->id, node, WD_PUBKEY_LEN) == 0 && cons_reputation_quarantined (e, epoch))
            return CAPSULE_ERR_EXEC_QUARANTINED;
    }
    memcpy (ex->node_id, node, WD_PUBKEY_LEN);
    ex->tier = st.tier == ATTEST_TRUST_AFFIRMING ? CAPSULE_TIER_AFFIRMING
               : st.tier == ATTEST_TRUST_WARNING ? CAPSULE_TIER_WARNING
                                                 : CAPSULE_TIER_NONE;
    ex->key_protection = cert->key_protection;
    ex->has_measurement = st.has_digest;
    memcpy (ex->measurement, st.digest, sizeof ex->measurement);
    if (evidence)
        memcpy (evidence, st.evidence, 32);
    return 0;
}

/* Whether node may execute a task with these policies (the code digest is
   the holders' check, not the selection's). */
static bool
s_eligible (node_capsule_t *self, const uint8_t node[WD_PUBKEY_LEN],
            const uint8_t *const policies[], const size_t *lens, size_t count)
{
    capsule_executor_t ex;
    if (s_facts (self, node, &ex, NULL) != 0)
        return false;
    capsule_policy_t *policy = malloc (sizeof *policy);
    if (!policy)
        wd_fatalx ("out of memory");
    bool ok = true;
    for (size_t i = 0; i < count && ok; i++)
        ok = s_policy_decode (policies[i], lens[i], policy) == WD_OK &&
             capsule_policy_check (policy, &ex, NULL, s_now_ms ()) == 0;
    free (policy);
    return ok;
}

/* ---- tasks from the ledger --------------------------------------------------------- */

static void
s_sortition_input (node_capsule_t *self, const s_task_t *t, uint32_t round,
                   cons_sortition_input_t *in)
{
    size_t n = wd_genesis_node_count (self->genesis);
    memset (in, 0, sizeof *in);
    memcpy (in->chain_id, self->chain, sizeof in->chain_id);
    memcpy (in->seed, t->seed, sizeof in->seed);
    in->role = CONS_ROLE_EXECUTOR;
    in->height = t->height;
    in->round = round;
    memcpy (in->subject, t->id, sizeof in->subject);
    in->weight = 1;
    in->total_weight = n;
    in->tau = n < NODE_CAPSULE_EXECUTOR_TAU ? n : NODE_CAPSULE_EXECUTOR_TAU;
}

static void
s_task_fail (node_capsule_t *self, s_task_t *t, int code, const char *reason)
{
    t->state = S_FAILED;
    t->code = code;
    snprintf (t->reason, sizeof t->reason, "%s", reason);
    wd_log_info ("capsule: task %s failed: %s", wd_short_id (t->id).s, reason);
    (void)self;
}

static void
s_on_post (node_capsule_t *self, uint64_t height, const uint8_t seed[32], const wd_envelope_t *env)
{
    node_capsule_post_t post;
    if (node_capsule_decode_post (env->body, env->body_len, &post) != WD_OK)
        return;
    s_task_t *t = calloc (1, sizeof *t);
    if (!t)
        wd_fatalx ("out of memory");
    int rc = capsule_task_open (post.task, post.task_len, self->chain, &t->task, NULL, t->id);
    if (rc != WD_OK || post.policy_count != 2 + t->task.input_count || s_task_find (self, t->id)) {
        if (rc != WD_OK)
            wd_log_warnx ("capsule: post from %s with a bad task: %s", s_name (self, env->from),
                          node_capsule_strerror (rc));
        free (t);
        return;
    }
    t->post = malloc (env->body_len);
    if (!t->post)
        wd_fatalx ("out of memory");
    memcpy (t->post, env->body, env->body_len);
    t->post_len = env->body_len;
    if (node_capsule_decode_post (t->post, t->post_len, &t->p) != WD_OK)
        wd_fatalx ("capsule: post decodes once but not twice");
    memcpy (t->origin, env->from, WD_PUBKEY_LEN);
    t->height = height;
    memcpy (t->seed, seed, 32);
    t->next = self->tasks;
    self->tasks = t;
    self->task_count++;
    wd_log_info ("capsule: task %s posted by %s at height %llu", wd_short_id (t->id).s,
                 s_name (self, t->origin), (unsigned long long)height);
}

static void
s_on_claim (node_capsule_t *self, uint64_t height, const wd_envelope_t *env)
{
    node_capsule_claim_t c;
    if (node_capsule_decode_claim (env->body, env->body_len, &c) != WD_OK)
        return;
    s_task_t *t = s_task_find (self, c.task);
    if (!t || t->state != S_POSTED || c.height != t->height || c.round != t->round)
        return;
    /* a claim of round r counts when committed in (h + K r, h + K (r + 1)] */
    if (height > t->height + (uint64_t)NODE_CAPSULE_CLAIM_BLOCKS * (c.round + 1))
        return;
    const wd_cert_t *cert = wd_genesis_find_node (self->genesis, env->from);
    if (!cert)
        return;
    cons_sortition_input_t in;
    s_sortition_input (self, t, c.round, &in);
    int rc = cons_sortition_verify (&in, cert->vrf_pk, &c.claim);
    if (rc != 0) {
        wd_log_warnx ("capsule: claim of %s for task %s refused: %s", cert->name,
                      wd_short_id (t->id).s, node_capsule_strerror (rc));
        return;
    }
    int cmp = t->have_best ? cons_sortition_priority_cmp (c.claim.priority, t->best.priority) : -1;
    if (cmp < 0 || (cmp == 0 && memcmp (env->from, t->best_from, WD_PUBKEY_LEN) < 0)) {
        t->have_best = true;
        t->best = c.claim;
        memcpy (t->best_from, env->from, WD_PUBKEY_LEN);
    }
}

static void
s_on_receipt (node_capsule_t *self, const wd_envelope_t *env, const uint8_t *record, size_t len)
{
    capsule_receipt_t *r = malloc (sizeof *r);
    if (!r)
        wd_fatalx ("out of memory");
    if (capsule_receipt_decode (env->body, env->body_len, r) == WD_OK) {
        s_task_t *t = s_task_find (self, r->task);
        if (t && t->state == S_SELECTED && memcmp (env->from, t->executor, WD_PUBKEY_LEN) == 0) {
            t->receipt = malloc (len);
            if (!t->receipt)
                wd_fatalx ("out of memory");
            memcpy (t->receipt, record, len);
            t->receipt_len = len;
            t->state = S_DONE;
            wd_log_info ("capsule: task %s done: receipt of %s committed", wd_short_id (t->id).s,
                         s_name (self, env->from));
        }
    }
    free (r);
}

static void
s_on_failed (node_capsule_t *self, const wd_envelope_t *env)
{
    node_capsule_failed_t f;
    if (node_capsule_decode_failed (env->body, env->body_len, &f) != WD_OK)
        return;
    s_task_t *t = s_task_find (self, f.task);
    if (!t || t->state != S_SELECTED || memcmp (env->from, t->executor, WD_PUBKEY_LEN) != 0)
        return;
    t->refusal_count = 0;
    for (size_t i = 0; i < f.refusal_count; i++) {
        capsule_release_answer_t a;
        uint8_t holder[WD_PUBKEY_LEN];
        if (capsule_release_answer_open (f.refusals[i], f.refusal_lens[i], self->chain, &a,
                                         holder) != WD_OK ||
            a.kind != CAPSULE_RELEASE_REFUSED)
            continue;
        node_capsule_refusal_t *out = &t->refusals[t->refusal_count++];
        memcpy (out->holder, holder, WD_PUBKEY_LEN);
        memcpy (out->capsule, a.capsule, CAPSULE_ID_LEN);
        out->code = a.code;
        snprintf (out->reason, sizeof out->reason, "%s", a.reason);
    }
    s_task_fail (self, t, f.code, f.reason);
}

/* One committed record. */
static void
s_on_record (node_capsule_t *self, uint64_t height, const uint8_t seed[32], const uint8_t *record,
             size_t len)
{
    wd_envelope_t env;
    if (wd_envelope_decode (record, len, &env) != WD_OK)
        return;
    if (strcmp (env.type, NODE_CAPSULE_POST_TYPE) == 0)
        s_on_post (self, height, seed, &env);
    else if (strcmp (env.type, NODE_CAPSULE_CLAIM_TYPE) == 0)
        s_on_claim (self, height, &env);
    else if (strcmp (env.type, CAPSULE_RECEIPT_TYPE) == 0)
        s_on_receipt (self, &env, record, len);
    else if (strcmp (env.type, NODE_CAPSULE_FAILED_TYPE) == 0)
        s_on_failed (self, &env);
}

/* After block `height`: close the claim rounds that end there. */
static void
s_after_block (node_capsule_t *self, uint64_t height)
{
    for (s_task_t *t = self->tasks; t; t = t->next) {
        if (t->state != S_POSTED)
            continue;
        uint64_t end = t->height + (uint64_t)NODE_CAPSULE_CLAIM_BLOCKS * (t->round + 1);
        if (height < end)
            continue;
        if (t->have_best) {
            t->state = S_SELECTED;
            memcpy (t->executor, t->best_from, WD_PUBKEY_LEN);
            memcpy (t->proof, t->best.proof, WD_VRF_PROOF_LEN);
            wd_log_info ("capsule: task %s: executor %s (round %u)", wd_short_id (t->id).s,
                         s_name (self, t->executor), t->round);
        } else if (t->round + 1 < NODE_CAPSULE_CLAIM_ROUNDS)
            t->round++;
        else
            s_task_fail (self, t, CAPSULE_ERR_EXEC_NO_EXECUTOR,
                         "no eligible executor claimed the task");
    }
}

/* ---- claims ------------------------------------------------------------------------ */

static void
s_claim_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    if (self) {
        if (!envelope)
            wd_log_warnx ("capsule: claim for task %s not signed: %s", wd_short_id (op->task).s,
                          reason);
        else {
            int rc = node_mesh_publish_record (self->mesh, envelope, len);
            if (rc != WD_OK)
                wd_log_warnx ("capsule: claim not published: %s", node_capsule_strerror (rc));
        }
    }
    free (op);
}

static void
s_claim_proved (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN], const uint8_t beta[WD_VRF_BETA_LEN],
                const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = op->owner;
    s_task_t *t = self ? s_task_find (self, op->task) : NULL;
    if (!self || !t || !pi) {
        if (self && !pi)
            wd_log_warnx ("capsule: no VRF proof for task %s: %s", wd_short_id (op->task).s,
                          reason);
        s_op_end (op);
        free (op);
        return;
    }
    cons_sortition_input_t in;
    s_sortition_input (self, t, op->round, &in);
    node_capsule_claim_t c = { .height = t->height, .round = op->round };
    memcpy (c.task, t->id, WD_DIGEST_LEN);
    if (cons_sortition_count (in.weight, in.total_weight, in.tau, beta, &c.claim.count) != 0 ||
        c.claim.count == 0) {
        wd_log_debug ("capsule: not selected for task %s round %u", wd_short_id (t->id).s,
                      op->round);
        s_op_end (op);
        free (op);
        return;
    }
    cons_sortition_priority (beta, c.claim.count, c.claim.priority);
    memcpy (c.claim.proof, pi, WD_VRF_PROOF_LEN);
    size_t len;
    uint8_t *body = node_capsule_encode_claim (&c, &len);
    node_sign_seal (self->signer, NODE_CAPSULE_CLAIM_TYPE, self->chain, body, len, s_claim_sealed,
                    op);
    free (body);
}

static void
s_claim_start (node_capsule_t *self, s_task_t *t)
{
    t->considered[t->round] = true;
    if (!self->can_execute)
        return;
    if (!s_eligible (self, self->cert->sign_pk, t->p.policies, t->p.policy_lens,
                     t->p.policy_count)) {
        wd_log_info ("capsule: not eligible to execute task %s", wd_short_id (t->id).s);
        return;
    }
    cons_sortition_input_t in;
    s_sortition_input (self, t, t->round, &in);
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    if (cons_sortition_alpha (&in, alpha) != 0)
        return;
    s_op_t *op = s_op_new (self);
    memcpy (op->task, t->id, WD_DIGEST_LEN);
    op->round = t->round;
    node_sign_vrf (self->signer, alpha, sizeof alpha, s_claim_proved, op);
}

/* ---- execution ---------------------------------------------------------------------- */

static void
s_exec_step (node_capsule_t *self, s_task_t *t);

static void
s_wipe_work (s_task_t *t)
{
    if (!t->work[0])
        return;
    char why[256];
    if (capsule_env_remove_tree (t->work, why, sizeof why) != WD_OK)
        wd_log_warnx ("capsule: work area not removed: %s", why);
    t->work[0] = 0;
}

static void
s_needs_free (s_task_t *t)
{
    for (size_t i = 0; i < t->need_count; i++)
        capsule_key_destroy (&t->needs[i].key);
    for (size_t i = 0; i < t->refused_count; i++)
        free (t->refused[i]);
    t->refused_count = 0;
}

static void
s_failed_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    if (self) {
        if (!envelope)
            wd_log_warnx ("capsule: failure of task %s not signed: %s", wd_short_id (op->task).s,
                          reason);
        else if (node_mesh_publish_record (self->mesh, envelope, len) != WD_OK)
            wd_log_warnx ("capsule: failure of task %s not published", wd_short_id (op->task).s);
    }
    free (op);
}

/* The executor gives the task up: publishes "capsule-failed" with the
   refusals received. */
static void
s_exec_fail (node_capsule_t *self, s_task_t *t, int code, const char *reason)
{
    if (t->exec == X_OVER)
        return;
    wd_log_warnx ("capsule: giving task %s up: %s", wd_short_id (t->id).s, reason);
    t->exec = X_OVER;
    node_capsule_failed_t f = { .code = code < 0 ? code : CAPSULE_ERR_EXEC_SANDBOX };
    memcpy (f.task, t->id, WD_DIGEST_LEN);
    snprintf (f.reason, sizeof f.reason, "%s", reason);
    for (size_t i = 0; i < t->refused_count; i++) {
        f.refusals[i] = t->refused[i];
        f.refusal_lens[i] = t->refused_lens[i];
    }
    f.refusal_count = t->refused_count;
    size_t len;
    uint8_t *body = node_capsule_encode_failed (&f, &len);
    s_op_t *op = s_op_new (self);
    memcpy (op->task, t->id, WD_DIGEST_LEN);
    node_sign_seal (self->signer, NODE_CAPSULE_FAILED_TYPE, self->chain, body, len, s_failed_sealed,
                    op);
    free (body);
    s_needs_free (t);
    s_wipe_work (t);
}

/* Whether the task names capsule with holder. */
static bool
s_names (const s_task_t *t, const uint8_t capsule[CAPSULE_ID_LEN],
         const uint8_t holder[WD_PUBKEY_LEN])
{
    if (memcmp (holder, t->origin, WD_PUBKEY_LEN) == 0 &&
        (memcmp (capsule, t->task.code, CAPSULE_ID_LEN) == 0 ||
         memcmp (capsule, t->task.env, CAPSULE_ID_LEN) == 0))
        return true;
    for (size_t i = 0; i < t->task.input_count; i++)
        if (memcmp (capsule, t->task.inputs[i].id, CAPSULE_ID_LEN) == 0 &&
            memcmp (holder, t->task.inputs[i].holder, WD_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* The holder's decision on a release request from executor (0: release),
   with the content key in *key on 0. */
static int
s_release_decide (node_capsule_t *self, const capsule_release_req_t *req,
                  const uint8_t executor[WD_PUBKEY_LEN], capsule_key_t **key)
{
    *key = NULL;
    s_task_t *t = s_task_find (self, req->task);
    if (!t || t->state == S_POSTED)
        return CAPSULE_ERR_EXEC_PENDING;
    if (t->state != S_SELECTED || memcmp (executor, t->executor, WD_PUBKEY_LEN) != 0 ||
        sodium_memcmp (req->proof, t->proof, WD_VRF_PROOF_LEN) != 0)
        return CAPSULE_ERR_EXEC_NOT_SELECTED;
    if (!s_names (t, req->capsule, self->cert->sign_pk))
        return CAPSULE_ERR_EXEC_NOT_NAMED;
    const wd_cert_t *cert = wd_genesis_find_node (self->genesis, executor);
    if (!cert || memcmp (cert->curve_pk, req->executor_curve, CAPSULE_CURVE_LEN) != 0)
        return CAPSULE_ERR_EXEC_CURVE;
    capsule_executor_t ex;
    int rc = s_facts (self, executor, &ex, NULL);
    if (rc != 0)
        return rc;
    capsule_header_t *h = malloc (sizeof *h);
    if (!h)
        wd_fatalx ("out of memory");
    rc = s_stored_header (self, req->capsule, h);
    if (rc == WD_OK)
        rc = capsule_policy_check (&h->policy, &ex, t->task.code, s_now_ms ());
    if (rc == WD_OK)
        rc = capsule_unwrap (h, self->curve_pk, self->curve_sk, key);
    free (h);
    return rc;
}

/* A key the executor got (from a holder's wrap, or its own store). */
static void
s_need_key (node_capsule_t *self, s_task_t *t, size_t index, capsule_key_t *key)
{
    t->needs[index].key = key;
    t->needs[index].releasing = false;
    s_exec_step (self, t);
}

static void
s_release_answered (node_capsule_t *self, s_mreq_t *req, const node_capsule_msg_t *m)
{
    s_task_t *t = s_task_find (self, req->task);
    if (!t || t->exec != X_GATHER)
        return;
    s_need_t *need = &t->needs[req->index];
    need->releasing = false;
    if (!m || m->type != NODE_CAPSULE_MSG_RELEASE) {
        need->retry_at = s_mono_ms () + RELEASE_RETRY_MS; /* asked again by the tick */
        return;
    }
    capsule_release_answer_t a;
    uint8_t holder[WD_PUBKEY_LEN];
    int rc = capsule_release_answer_open (m->data, m->data_len, self->chain, &a, holder);
    if (rc != WD_OK || memcmp (holder, need->holder, WD_PUBKEY_LEN) != 0 ||
        memcmp (a.capsule, need->id, CAPSULE_ID_LEN) != 0 ||
        memcmp (a.task, t->id, WD_DIGEST_LEN) != 0) {
        wd_log_warnx ("capsule: bad release answer from %s", s_name (self, req->peer));
        need->retry_at = s_mono_ms () + RELEASE_RETRY_MS;
        return;
    }
    if (a.kind == CAPSULE_RELEASE_REFUSED) {
        if (a.code == CAPSULE_ERR_EXEC_PENDING && s_mono_ms () < need->give_up_at) {
            need->retry_at = s_mono_ms () + RELEASE_RETRY_MS;
            return;
        }
        if (t->refused_count < NODE_CAPSULE_REFUSALS_MAX) {
            t->refused[t->refused_count] = malloc (m->data_len);
            if (!t->refused[t->refused_count])
                wd_fatalx ("out of memory");
            memcpy (t->refused[t->refused_count], m->data, m->data_len);
            t->refused_lens[t->refused_count++] = m->data_len;
        }
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        (void)s_fmt (reason, sizeof reason, "%s refused the key of %s: %s", s_name (self, holder),
                     need->name, a.reason);
        s_exec_fail (self, t, a.code, reason);
        return;
    }
    capsule_key_t *key = NULL;
    rc = capsule_wrap_open (a.wrap, self->curve_pk, self->curve_sk, &key);
    if (rc != WD_OK) {
        s_exec_fail (self, t, rc, "a holder's key wrap does not open");
        return;
    }
    s_need_key (self, t, req->index, key);
}

static void
s_release_req_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    s_task_t *t = self ? s_task_find (self, op->task) : NULL;
    if (t && t->exec == X_GATHER) {
        if (!envelope) {
            wd_log_warnx ("capsule: release request not signed: %s", reason);
            t->needs[op->index].releasing = false;
            t->needs[op->index].retry_at = s_mono_ms () + RELEASE_RETRY_MS;
        } else {
            node_capsule_msg_t m = { .type = NODE_CAPSULE_MSG_RELEASE_REQ,
                                     .data = envelope,
                                     .data_len = len };
            s_mreq_t *req = s_mreq_send (self, t->needs[op->index].holder, &m, s_release_answered);
            memcpy (req->task, t->id, WD_DIGEST_LEN);
            req->index = op->index;
        }
    }
    free (op);
}

static void
s_release_answer (node_capsule_t *self, const capsule_release_req_t *request,
                  const uint8_t executor[WD_PUBKEY_LEN], const uint8_t from[WD_PUBKEY_LEN],
                  uint64_t rid, size_t local_index);

/* Asks need's holder (or this node's own store) for the content key. */
static void
s_release_ask (node_capsule_t *self, s_task_t *t, size_t index)
{
    s_need_t *need = &t->needs[index];
    capsule_release_req_t req = { 0 };
    memcpy (req.capsule, need->id, CAPSULE_ID_LEN);
    memcpy (req.executor_curve, self->curve_pk, CAPSULE_CURVE_LEN);
    memcpy (req.proof, t->proof, sizeof req.proof);
    memcpy (req.task, t->id, WD_DIGEST_LEN);
    need->releasing = true;
    if (s_is_self (self, need->holder)) {
        /* the same decision and signed answer a remote holder makes */
        s_release_answer (self, &req, self->cert->sign_pk, self->cert->sign_pk, 0, index);
        return;
    }
    uint8_t *body;
    size_t len;
    if (capsule_release_req_encode (&req, &body, &len) != WD_OK)
        wd_fatalx ("capsule: release request does not encode");
    s_op_t *op = s_op_new (self);
    memcpy (op->task, t->id, WD_DIGEST_LEN);
    op->index = index;
    node_sign_seal (self->signer, CAPSULE_RELEASE_REQ_TYPE, self->chain, body, len,
                    s_release_req_sealed, op);
    free (body);
}

/* ---- fetching --------------------------------------------------------------------- */

static void
s_fetch_next (node_capsule_t *self, s_fetch_t *f);

static void
s_fetch_end (node_capsule_t *self, s_fetch_t *f, int rc)
{
    capsule_store_abort (&f->writer);
    f->done (self, f, rc);
    free (f);
}

static void
s_fetch_chunk (node_capsule_t *self, s_mreq_t *req, const node_capsule_msg_t *m)
{
    s_fetch_t *f = req->ctx;
    if (!m || m->type != NODE_CAPSULE_MSG_CHUNK) {
        s_fetch_end (self, f, m ? m->code : CAPSULE_ERR_EXEC_FETCH);
        return;
    }
    if (memcmp (m->id, f->id, CAPSULE_ID_LEN) != 0 || m->offset != f->offset ||
        m->total > self->max_capsule || (m->data_len == 0 && m->offset < m->total)) {
        s_fetch_end (self, f, CAPSULE_ERR_EXEC_FETCH);
        return;
    }
    int rc = capsule_store_write (f->writer, m->data, m->data_len);
    if (rc != WD_OK) {
        s_fetch_end (self, f, rc);
        return;
    }
    f->offset += m->data_len;
    if (f->offset < m->total) {
        s_fetch_next (self, f);
        return;
    }
    rc = capsule_store_commit (&f->writer, f->id, NULL);
    f->done (self, f, rc);
    free (f);
}

static void
s_fetch_next (node_capsule_t *self, s_fetch_t *f)
{
    node_capsule_msg_t m = { .type = NODE_CAPSULE_MSG_FETCH_REQ, .offset = f->offset };
    memcpy (m.id, f->id, CAPSULE_ID_LEN);
    s_mreq_t *req = s_mreq_send (self, f->holder, &m, s_fetch_chunk);
    req->ctx = f;
}

/* Fetches capsule id from holder into the store; done runs once. */
static void
s_fetch_start (node_capsule_t *self, const uint8_t id[CAPSULE_ID_LEN],
               const uint8_t holder[WD_PUBKEY_LEN], s_fetch_fn *done, const uint8_t *task,
               size_t index, void *ctx)
{
    s_fetch_t *f = calloc (1, sizeof *f);
    if (!f)
        wd_fatalx ("out of memory");
    memcpy (f->id, id, CAPSULE_ID_LEN);
    memcpy (f->holder, holder, WD_PUBKEY_LEN);
    f->done = done;
    if (task)
        memcpy (f->task, task, WD_DIGEST_LEN);
    f->index = index;
    f->ctx = ctx;
    int rc = capsule_store_begin (self->store, &f->writer);
    if (rc != WD_OK) {
        f->done (self, f, rc);
        free (f);
        return;
    }
    s_fetch_next (self, f);
}

static void
s_need_fetched (node_capsule_t *self, s_fetch_t *f, int rc)
{
    s_task_t *t = s_task_find (self, f->task);
    if (!t || t->exec != X_GATHER)
        return;
    s_need_t *need = &t->needs[f->index];
    need->fetching = false;
    if (rc != WD_OK) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        snprintf (reason, sizeof reason, "%s from %s: %s", need->name, s_name (self, need->holder),
                  node_capsule_strerror (rc));
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_FETCH, reason);
        return;
    }
    need->have_capsule = true;
    s_exec_step (self, t);
}

/* ---- preparing the work area and running -------------------------------------------- */

/* Decrypts a stored capsule (with its released key) into path. */
static int
s_decrypt (node_capsule_t *self, const s_need_t *need, const char *path, mode_t mode,
           capsule_kind_t kind)
{
    capsule_header_t *h = malloc (sizeof *h);
    if (!h)
        wd_fatalx ("out of memory");
    int rc = s_stored_header (self, need->id, h);
    if (rc == WD_OK && h->kind != kind)
        rc = CAPSULE_ERR_CAPSULE_KIND;
    if (rc == WD_OK) {
        uint64_t size;
        int in = s_cached_fd (self, need->id, &size, &rc);
        int out =
            in >= 0 ? open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode) : -1;
        if (in >= 0 && out < 0)
            rc = WD_ERR_IO;
        if (out >= 0) {
            rc = capsule_open_fd (h, in, need->key, out);
            if (close (out) != 0 && rc == WD_OK)
                rc = WD_ERR_IO;
            if (rc == WD_OK &&
                chown (path, CAPSULE_SANDBOX_DEFAULT_HOST_ID, CAPSULE_SANDBOX_DEFAULT_HOST_ID) != 0)
                rc = WD_ERR_IO;
        }
    }
    free (h);
    return rc;
}

/* The file name of the code beside the environment: the entry's last
   component when the entry is /code/<name>, else "main". */
static const char *
s_code_name (const capsule_task_t *task)
{
    const char *e = task->entry;
    if (strncmp (e, "/code/", 6) == 0 && e[6] && !strchr (e + 6, '/'))
        return e + 6;
    return "main";
}

static int
s_mkdir (const char *dir, const char *name, char *out, size_t size)
{
    int n = snprintf (out, size, "%s/%s", dir, name);
    if (n < 0 || (size_t)n >= size)
        return WD_ERR_OVERSIZE;
    if (mkdir (out, 0755) != 0 && errno != EEXIST)
        return WD_ERR_IO;
    struct stat st;
    if (lstat (out, &st) != 0 || !S_ISDIR (st.st_mode))
        return CAPSULE_ERR_ENV_TYPE;
    return WD_OK;
}

/* Decrypts everything into the work area and asks the parent to run. */
static void
s_exec_run (node_capsule_t *self, s_task_t *t)
{
    char why[256] = "";
    char path[PATH_MAX], dir[PATH_MAX];
    int rc = WD_OK;
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hex_encode (hex, t->id, WD_DIGEST_LEN);
    (void)s_fmt (t->work, sizeof t->work, "%s/%s", self->work_dir, hex);
    capsule_env_remove_tree (t->work, why, sizeof why);
    if ((mkdir (self->work_dir, 0711) != 0 && errno != EEXIST) || mkdir (t->work, 0755) != 0) {
        t->work[0] = 0;
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_WORK, "cannot create the task's work area");
        return;
    }
    /* the environment: decrypted to a tar on the tmpfs, unpacked, removed */
    (void)s_fmt (path, sizeof path, "%s/env.tar", t->work);
    rc = s_decrypt (self, &t->needs[1], path, 0600, CAPSULE_KIND_ENV);
    if (rc == WD_OK) {
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        (void)s_fmt (dir, sizeof dir, "%s/root", t->work);
        rc = fd < 0 ? WD_ERR_IO : capsule_env_unpack_fd (fd, dir, NULL, NULL, why, sizeof why);
        if (fd >= 0)
            close (fd);
        unlink (path);
    }
    static const char *const mounts[] = { "code", "in", "out", "tmp", "proc", "dev" };
    for (size_t i = 0; i < 6 && rc == WD_OK; i++)
        rc = s_mkdir (dir, mounts[i], path, sizeof path);
    if (rc == WD_OK)
        rc = s_mkdir (t->work, "code", dir, sizeof dir);
    if (rc == WD_OK) {
        (void)s_fmt (path, sizeof path, "%s/%s", dir, s_code_name (&t->task));
        rc = s_decrypt (self, &t->needs[0], path, 0500, CAPSULE_KIND_CODE);
    }
    if (rc == WD_OK)
        rc = s_mkdir (t->work, "in", dir, sizeof dir);
    for (size_t i = 2; i < t->need_count && rc == WD_OK; i++) {
        (void)s_fmt (path, sizeof path, "%s/%s", dir, t->needs[i].name);
        capsule_kind_t kind = CAPSULE_KIND_DATA;
        capsule_header_t *h = malloc (sizeof *h);
        if (!h)
            wd_fatalx ("out of memory");
        if (s_stored_header (self, t->needs[i].id, h) == WD_OK && h->kind == CAPSULE_KIND_RESULT)
            kind = CAPSULE_KIND_RESULT; /* a result may feed a later task */
        free (h);
        rc = s_decrypt (self, &t->needs[i], path, 0400, kind);
    }
    if (rc == WD_OK)
        rc = s_mkdir (t->work, "out", dir, sizeof dir);
    s_needs_free (t); /* keys are not needed any more */
    if (rc != WD_OK) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        snprintf (reason, sizeof reason, "preparing the work area: %s%s%s",
                  node_capsule_strerror (rc), why[0] ? ": " : "", why);
        s_exec_fail (self, t, rc, reason);
        return;
    }
    node_capsule_run_t run = { .argc = 1, .limits = t->task.limits };
    run.argv[0] = t->task.entry;
    run.arg_lens[0] = strlen (t->task.entry);
    snprintf (run.work, sizeof run.work, "%s", t->work);
    size_t len;
    uint8_t *body = node_capsule_encode_run (&run, &len);
    t->job = ++self->next_job;
    t->exec = X_RUNNING;
    t->started_ms = s_now_ms ();
    wd_err_t err = wd_chan_send (self->parent, WD_MSG_SANDBOX_RUN, t->job, body, len, NULL, 0);
    free (body);
    if (err != WD_OK)
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_SANDBOX, "cannot reach the wardend parent");
    else
        wd_log_info ("capsule: running task %s (%s)", wd_short_id (t->id).s, t->task.entry);
}

/* Moves the gathering on: fetches and key requests, then the run. */
static void
s_exec_step (node_capsule_t *self, s_task_t *t)
{
    if (t->exec != X_GATHER)
        return;
    bool ready = true;
    uint64_t now = s_mono_ms ();
    for (size_t i = 0; i < t->need_count && t->exec == X_GATHER; i++) {
        s_need_t *need = &t->needs[i];
        if (!need->have_capsule && !need->fetching) {
            if (capsule_store_has (self->store, need->id))
                need->have_capsule = true;
            else {
                need->fetching = true;
                s_fetch_start (self, need->id, need->holder, s_need_fetched, t->id, i, NULL);
            }
        }
        if (t->exec != X_GATHER)
            return;
        if (!need->key && !need->releasing && now >= need->retry_at) {
            if (now >= need->give_up_at) {
                s_exec_fail (self, t, CAPSULE_ERR_EXEC_RELEASE, "a holder did not release a key");
                return;
            }
            s_release_ask (self, t, i);
        }
        ready = ready && need->have_capsule && need->key;
    }
    if (ready && t->exec == X_GATHER)
        s_exec_run (self, t);
}

static void
s_exec_start (node_capsule_t *self, s_task_t *t)
{
    wd_log_info ("capsule: this node executes task %s", wd_short_id (t->id).s);
    t->exec = X_GATHER;
    uint64_t give_up = s_mono_ms () + RELEASE_WAIT_MS;
    t->need_count = 2 + t->task.input_count;
    for (size_t i = 0; i < t->need_count; i++) {
        s_need_t *need = &t->needs[i];
        memset (need, 0, sizeof *need);
        need->give_up_at = give_up;
        if (i < 2) {
            need->kind = i == 0 ? NEED_CODE : NEED_ENV;
            memcpy (need->id, i == 0 ? t->task.code : t->task.env, CAPSULE_ID_LEN);
            memcpy (need->holder, t->origin, WD_PUBKEY_LEN);
            snprintf (need->name, sizeof need->name, "%s", i == 0 ? "the code" : "the environment");
        } else {
            const capsule_task_input_t *in = &t->task.inputs[i - 2];
            need->kind = NEED_INPUT;
            memcpy (need->id, in->id, CAPSULE_ID_LEN);
            memcpy (need->holder, in->holder, WD_PUBKEY_LEN);
            snprintf (need->name, sizeof need->name, "%s", in->name);
        }
    }
    s_exec_step (self, t);
}

/* ---- sealing the outputs (a thread) -------------------------------------------------- */

static int
s_bridge_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    s_sealer_t *job = ctx;
    uint8_t answer[1 + WD_SIG_LEN];
    if (send (job->sv[1], digest, WD_DIGEST_LEN, 0) != WD_DIGEST_LEN ||
        recv (job->sv[1], answer, sizeof answer, 0) != (ssize_t)sizeof answer || answer[0] != 1)
        return WD_ERR_UNAVAILABLE;
    memcpy (sig, answer + 1, WD_SIG_LEN);
    return WD_OK;
}

static void *
s_sealer_main (void *arg)
{
    s_sealer_t *job = arg;
    capsule_seal_params_t params = {
        .kind = CAPSULE_KIND_RESULT,
        .chain = job->chain,
        .owner = job->owner_pk,
        .sign = s_bridge_sign,
        .sign_ctx = job,
        .recipients = (const uint8_t (*)[CAPSULE_CURVE_LEN])job->recipients,
        .n_recipients = job->recipient_count,
    };
    job->rc = WD_OK;
    char path[PATH_MAX + 300];
    for (size_t i = 0; i < job->count && job->rc == WD_OK; i++) {
        snprintf (path, sizeof path, "%s/out/%s", job->work, job->names[i]);
        int in = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        snprintf (path, sizeof path, "%s/sealed-%zu", job->work, i);
        int out = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
        uint8_t id[CAPSULE_ID_LEN];
        if (in < 0 || out < 0)
            job->rc = WD_ERR_IO;
        else
            job->rc = capsule_seal_fd (&params, in, out, id);
        if (in >= 0)
            close (in);
        if (out >= 0 && close (out) != 0 && job->rc == WD_OK)
            job->rc = WD_ERR_IO;
        if (job->rc != WD_OK)
            snprintf (job->why, sizeof job->why, "sealing %s: %s", job->names[i],
                      capsule_strerror (job->rc));
    }
    uint8_t done = 0;
    (void)!send (job->sv[1], &done, 1, 0);
    return NULL;
}

static void
s_receipt_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    s_task_t *t = self ? s_task_find (self, op->task) : NULL;
    if (t) {
        if (!envelope)
            s_exec_fail (self, t, CAPSULE_ERR_EXEC_OUTPUT, reason);
        else {
            t->exec = X_OVER;
            int rc = node_mesh_publish_record (self->mesh, envelope, len);
            if (rc != WD_OK)
                wd_log_warnx ("capsule: receipt not published: %s", node_capsule_strerror (rc));
            else
                wd_log_info ("capsule: task %s finished; receipt published", wd_short_id (t->id).s);
            s_wipe_work (t);
        }
    }
    free (op);
}

/* The sealer has finished: store the results, sign and publish the receipt. */
static void
s_exec_finish (node_capsule_t *self, s_task_t *t, s_sealer_t *job)
{
    capsule_receipt_t *r = calloc (1, sizeof *r);
    if (!r)
        wd_fatalx ("out of memory");
    int rc = job->rc;
    char path[PATH_MAX + 32];
    for (size_t i = 0; i < job->count && rc == WD_OK; i++) {
        snprintf (path, sizeof path, "%s/sealed-%zu", t->work, i);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        rc = fd < 0 ? WD_ERR_IO : capsule_store_put_fd (self->store, fd, NULL, r->outputs[i]);
        if (fd >= 0)
            close (fd);
    }
    if (rc != WD_OK) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        (void)s_fmt (reason, sizeof reason, "outputs: %s",
                     job->why[0] ? job->why : node_capsule_strerror (rc));
        free (r);
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_OUTPUT, reason);
        return;
    }
    r->output_count = job->count;
    memcpy (r->task, t->id, WD_DIGEST_LEN);
    memcpy (r->code, t->task.code, WD_DIGEST_LEN);
    memcpy (r->env, t->task.env, WD_DIGEST_LEN);
    r->input_count = t->task.input_count;
    for (size_t i = 0; i < t->task.input_count; i++)
        memcpy (r->inputs[i], t->task.inputs[i].id, WD_DIGEST_LEN);
    memcpy (r->proof, t->proof, sizeof r->proof);
    capsule_executor_t ex;
    (void)s_facts (self, self->cert->sign_pk, &ex, r->executor_evidence);
    const node_capsule_done_t *d = &t->done;
    r->exit.killed = d->killed[0] ? capsule_receipt_kill_parse (d->killed, strlen (d->killed))
                                  : CAPSULE_RECEIPT_KILL_NONE;
    if (d->exit_code >= 0) {
        r->exit.has_code = true;
        r->exit.code = d->exit_code;
    } else if (d->signal > 0) {
        r->exit.has_signal = true;
        r->exit.signal = d->signal;
    }
    r->usage.cpu_sys_us = d->cpu_sys_us;
    r->usage.cpu_user_us = d->cpu_user_us;
    r->usage.peak_mem_bytes = d->peak_mem_bytes;
    r->usage.wall_us = d->wall_us;
    for (size_t i = 0; i < d->degraded_count && i < CAPSULE_RECEIPT_DEGRADED_MAX; i++)
        snprintf (r->degraded[r->degraded_count++], sizeof r->degraded[0], "%s",
                  t->done_degraded[i]);
    r->started = t->started_ms;
    r->ended = t->ended_ms > t->started_ms ? t->ended_ms : t->started_ms;
    uint8_t *body;
    size_t len;
    char why[256] = "";
    rc = capsule_receipt_encode (r, &body, &len);
    if (rc != WD_OK) {
        if (capsule_receipt_check (r, why, sizeof why) == WD_OK)
            snprintf (why, sizeof why, "?");
        free (r);
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        snprintf (reason, sizeof reason, "receipt: %s: %s", node_capsule_strerror (rc), why);
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_OUTPUT, reason);
        return;
    }
    free (r);
    t->exec = X_FINISHING;
    s_op_t *op = s_op_new (self);
    memcpy (op->task, t->id, WD_DIGEST_LEN);
    node_sign_seal (self->signer, CAPSULE_RECEIPT_TYPE, self->chain, body, len, s_receipt_sealed,
                    op);
    free (body);
}

static void
s_sealer_free (s_sealer_t *job)
{
    if (job->sv[0] >= 0)
        close (job->sv[0]);
    if (job->sv[1] >= 0)
        close (job->sv[1]);
    free (job);
}

static void
s_bridge_signed (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason)
{
    s_sealer_t *job = arg;
    job->sign_pending = false;
    if (!job->owner) {
        s_sealer_free (job); /* the component has gone and joined the thread */
        return;
    }
    uint8_t answer[1 + WD_SIG_LEN] = { 0 };
    if (sig) {
        answer[0] = 1;
        memcpy (answer + 1, sig, WD_SIG_LEN);
    } else
        wd_log_warnx ("capsule: result capsule not signed: %s", reason);
    (void)!send (job->sv[0], answer, sizeof answer, 0);
}

static int
s_on_sealer (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)item;
    s_sealer_t *job = arg;
    node_capsule_t *self = job->owner;
    uint8_t buf[64];
    ssize_t n = recv (job->sv[0], buf, sizeof buf, MSG_DONTWAIT);
    if (n == WD_DIGEST_LEN) {
        job->sign_pending = true;
        node_sign_digest (self->signer, buf, s_bridge_signed, job);
        return 0;
    }
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return 0;
    /* the thread has finished */
    zloop_poller_end (loop, &job->item);
    pthread_join (job->thread, NULL);
    self->sealer = NULL;
    s_task_t *t = s_task_find (self, job->task);
    if (t && t->exec == X_SEALING)
        s_exec_finish (self, t, job);
    s_sealer_free (job);
    return 0;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (a, b);
}

/* The sandbox has ended: seal what it left in out/. */
static void
s_exec_seal (node_capsule_t *self, s_task_t *t)
{
    if (self->sealer) { /* one at a time: try again on the next tick */
        t->exec = X_SEALING;
        return;
    }
    s_sealer_t *job = calloc (1, sizeof *job);
    if (!job)
        wd_fatalx ("out of memory");
    job->owner = self;
    memcpy (job->task, t->id, WD_DIGEST_LEN);
    snprintf (job->work, sizeof job->work, "%s", t->work);
    memcpy (job->chain, self->chain, WD_CHAIN_ID_LEN);
    memcpy (job->owner_pk, self->cert->sign_pk, WD_PUBKEY_LEN);
    job->recipient_count = t->task.recipient_count;
    memcpy (job->recipients, t->task.recipients, sizeof job->recipients);
    char dir[PATH_MAX + 8];
    snprintf (dir, sizeof dir, "%s/out", t->work);
    DIR *d = opendir (dir);
    struct dirent *e;
    while (d && (e = readdir (d)) && job->count < CAPSULE_RECEIPT_OUTPUTS_MAX)
        if (e->d_type == DT_REG && strlen (e->d_name) < sizeof job->names[0])
            snprintf (job->names[job->count++], sizeof job->names[0], "%s", e->d_name);
    if (d)
        closedir (d);
    qsort (job->names, job->count, sizeof job->names[0], s_name_cmp);
    job->sv[0] = job->sv[1] = -1;
    if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, job->sv) != 0)
        wd_fatal ("socketpair");
    job->item = (zmq_pollitem_t){ .fd = job->sv[0], .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &job->item, s_on_sealer, job) != 0)
        wd_fatal ("zloop_poller");
    if (pthread_create (&job->thread, NULL, s_sealer_main, job) != 0)
        wd_fatal ("pthread_create");
    self->sealer = job;
    t->exec = X_SEALING;
}

void
node_capsule_sandbox_done (node_capsule_t *self, uint32_t peer, const uint8_t *body, size_t len)
{
    s_task_t *t = NULL;
    for (s_task_t *it = self ? self->tasks : NULL; it && !t; it = it->next)
        if (it->exec == X_RUNNING && it->job == peer)
            t = it;
    if (!t)
        return;
    t->ended_ms = s_now_ms ();
    wd_err_t err = node_capsule_decode_done (body, len, &t->done);
    if (err != WD_OK) {
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_SANDBOX, "the parent's sandbox report is malformed");
        return;
    }
    for (size_t i = 0; i < t->done.degraded_count; i++)
        snprintf (t->done_degraded[i], sizeof t->done_degraded[i], "%s", t->done.degraded[i]);
    if (t->done.err_len)
        wd_log_info ("capsule: task %s stderr: %.*s", wd_short_id (t->id).s,
                     (int)(t->done.err_len > 512 ? 512 : t->done.err_len), t->done.err_text);
    t->done.err_text = NULL;
    t->done.err_len = 0;
    if (t->done.error != 0) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        (void)s_fmt (reason, sizeof reason, "sandbox: %s", t->done.reason);
        s_exec_fail (self, t, t->done.error, reason);
        return;
    }
    wd_log_info ("capsule: task %s ended: %s", wd_short_id (t->id).s, t->done.reason);
    s_exec_seal (self, t);
}

/* ---- serving channel 5 ----------------------------------------------------------------- */

static void
s_serve_head (node_capsule_t *self, const uint8_t from[WD_PUBKEY_LEN], const node_capsule_msg_t *m)
{
    capsule_header_t *h = malloc (sizeof *h);
    if (!h)
        wd_fatalx ("out of memory");
    int rc = s_stored_header (self, m->id, h);
    if (rc != WD_OK)
        s_send_error (self, from, m->rid, rc);
    else {
        size_t plen;
        uint8_t *policy = s_policy_bytes (&h->policy, &plen);
        node_capsule_msg_t a = { .type = NODE_CAPSULE_MSG_HEAD,
                                 .rid = m->rid,
                                 .data = policy,
                                 .data_len = plen,
                                 .size = h->total_len };
        memcpy (a.id, m->id, CAPSULE_ID_LEN);
        memcpy (a.owner, h->owner, WD_PUBKEY_LEN);
        snprintf (a.kind, sizeof a.kind, "%s", capsule_kind_name (h->kind));
        s_send (self, from, &a);
        free (policy);
    }
    free (h);
}

static void
s_serve_fetch (node_capsule_t *self, const uint8_t from[WD_PUBKEY_LEN], const node_capsule_msg_t *m)
{
    uint64_t size;
    int rc = WD_OK;
    int fd = s_cached_fd (self, m->id, &size, &rc);
    if (fd < 0) {
        s_send_error (self, from, m->rid, rc);
        return;
    }
    if (m->offset > size) {
        s_send_error (self, from, m->rid, WD_ERR_OUT_OF_RANGE);
        return;
    }
    size_t want =
        size - m->offset < NODE_CAPSULE_CHUNK ? (size_t)(size - m->offset) : NODE_CAPSULE_CHUNK;
    uint8_t *buf = malloc (want ? want : 1);
    if (!buf)
        wd_fatalx ("out of memory");
    ssize_t n = want ? pread (fd, buf, want, (off_t)m->offset) : 0;
    if (n != (ssize_t)want)
        s_send_error (self, from, m->rid, WD_ERR_IO);
    else {
        node_capsule_msg_t a = { .type = NODE_CAPSULE_MSG_CHUNK,
                                 .rid = m->rid,
                                 .offset = m->offset,
                                 .total = size,
                                 .data = buf,
                                 .data_len = want };
        memcpy (a.id, m->id, CAPSULE_ID_LEN);
        s_send (self, from, &a);
    }
    free (buf);
}

static void
s_answer_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    if (self && envelope && op->index != SIZE_MAX) {
        /* this node's own capsule: the answer goes straight to its executor side */
        s_mreq_t local = { .index = op->index };
        memcpy (local.task, op->task, WD_DIGEST_LEN);
        memcpy (local.peer, self->cert->sign_pk, WD_PUBKEY_LEN);
        node_capsule_msg_t a = { .type = NODE_CAPSULE_MSG_RELEASE,
                                 .data = envelope,
                                 .data_len = len };
        s_release_answered (self, &local, &a);
    } else if (self) {
        if (!envelope)
            wd_log_warnx ("capsule: release answer not signed: %s", reason);
        else {
            node_capsule_msg_t a = {
                .type = NODE_CAPSULE_MSG_RELEASE, .rid = op->rid, .data = envelope, .data_len = len
            };
            s_send (self, op->peer, &a);
        }
    }
    free (op);
}

/* Decides a release request and sends the signed answer to `from` (rid),
   or, for this node's own executor side (local_index != SIZE_MAX), hands it
   to s_release_answered. */
static void
s_release_answer (node_capsule_t *self, const capsule_release_req_t *request,
                  const uint8_t executor[WD_PUBKEY_LEN], const uint8_t from[WD_PUBKEY_LEN],
                  uint64_t rid, size_t local_index)
{
    capsule_release_req_t req = *request;
    int rc;
    capsule_release_answer_t a = { 0 };
    memcpy (a.capsule, req.capsule, CAPSULE_ID_LEN);
    memcpy (a.task, req.task, WD_DIGEST_LEN);
    capsule_key_t *key = NULL;
    rc = s_release_decide (self, &req, executor, &key);
    if (rc == 0)
        rc = capsule_wrap_seal (key, req.executor_curve, a.wrap);
    capsule_key_destroy (&key);
    if (rc == 0) {
        a.kind = CAPSULE_RELEASE_GRANTED;
        wd_log_info ("capsule: key of %s released to %s for task %s", wd_short_id (req.capsule).s,
                     s_name (self, executor), wd_short_id (req.task).s);
    } else {
        a.kind = CAPSULE_RELEASE_REFUSED;
        a.code = rc < CAPSULE_RELEASE_CODE_MIN || rc >= 0 ? CAPSULE_ERR_EXEC_NOT_SELECTED : rc;
        snprintf (a.reason, sizeof a.reason, "%s", node_capsule_strerror (rc));
        if (rc != CAPSULE_ERR_EXEC_PENDING)
            wd_log_info ("capsule: key of %s refused to %s for task %s: %s",
                         wd_short_id (req.capsule).s, s_name (self, executor),
                         wd_short_id (req.task).s, a.reason);
    }
    uint8_t *body;
    size_t len;
    rc = capsule_release_answer_encode (&a, &body, &len);
    sodium_memzero (a.wrap, sizeof a.wrap);
    if (rc != WD_OK) {
        if (local_index == SIZE_MAX)
            s_send_error (self, from, rid, rc);
        return;
    }
    s_op_t *op = s_op_new (self);
    memcpy (op->peer, from, WD_PUBKEY_LEN);
    memcpy (op->task, req.task, WD_DIGEST_LEN);
    op->rid = rid;
    op->index = local_index;
    node_sign_seal (self->signer, capsule_release_answer_type (a.kind), self->chain, body, len,
                    s_answer_sealed, op);
    free (body);
}

static void
s_serve_release (node_capsule_t *self, const uint8_t from[WD_PUBKEY_LEN],
                 const node_capsule_msg_t *m)
{
    capsule_release_req_t req;
    uint8_t executor[WD_PUBKEY_LEN];
    int rc = capsule_release_req_open (m->data, m->data_len, self->chain, &req, executor);
    if (rc != WD_OK || memcmp (executor, from, WD_PUBKEY_LEN) != 0) {
        s_send_error (self, from, m->rid, rc != WD_OK ? rc : WD_ERR_KEY_MISMATCH);
        return;
    }
    s_release_answer (self, &req, executor, from, m->rid, SIZE_MAX);
}

static void
s_on_channel (void *arg, const uint8_t from[WD_PUBKEY_LEN], uint8_t channel, const uint8_t *body,
              size_t len)
{
    (void)channel;
    node_capsule_t *self = arg;
    node_capsule_msg_t m;
    wd_err_t err = node_capsule_decode_msg (body, len, &m);
    if (err != WD_OK) {
        wd_log_debug ("capsule: message from %s: %s", s_name (self, from), wd_strerror (err));
        return;
    }
    switch (m.type) {
        case NODE_CAPSULE_MSG_HEAD_REQ:
            s_serve_head (self, from, &m);
            return;
        case NODE_CAPSULE_MSG_FETCH_REQ:
            s_serve_fetch (self, from, &m);
            return;
        case NODE_CAPSULE_MSG_RELEASE_REQ:
            s_serve_release (self, from, &m);
            return;
        default:
            break;
    }
    for (s_mreq_t *req = self->mreqs; req; req = req->next)
        if (req->rid == m.rid && memcmp (req->peer, from, WD_PUBKEY_LEN) == 0) {
            s_mreq_unlink (self, req);
            req->done (self, req, &m);
            s_mreq_free (req);
            return;
        }
}

/* ---- control requests ----------------------------------------------------------------- */

static void
s_reply_error (node_capsule_t *self, void *client, uint32_t peer, int code, const char *what)
{
    char message[WD_MSG_ERROR_MAX + 1];
    snprintf (message, sizeof message, "%s", what ? what : node_capsule_strerror (code));
    size_t len;
    uint8_t *body = wd_msg_encode_error (code, message, &len);
    self->reply (client, peer, WD_MSG_ERROR, body, len, -1);
    free (body);
}

static void
s_ctl_info (node_capsule_t *self, void *client, uint32_t peer)
{
    node_capsule_info_t info = { .node_count = wd_genesis_node_count (self->genesis) };
    memcpy (info.chain, self->chain, WD_CHAIN_ID_LEN);
    memcpy (info.self.id, self->cert->sign_pk, WD_PUBKEY_LEN);
    memcpy (info.self.curve, self->cert->curve_pk, WD_PUBKEY_LEN);
    snprintf (info.self.name, sizeof info.self.name, "%s", self->cert->name);
    info.nodes = calloc (info.node_count ? info.node_count : 1, sizeof *info.nodes);
    if (!info.nodes)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < info.node_count; i++) {
        const wd_cert_t *c = wd_genesis_node (self->genesis, i);
        memcpy (info.nodes[i].id, c->sign_pk, WD_PUBKEY_LEN);
        memcpy (info.nodes[i].curve, c->curve_pk, WD_PUBKEY_LEN);
        snprintf (info.nodes[i].name, sizeof info.nodes[i].name, "%s", c->name);
    }
    size_t len;
    uint8_t *body = node_capsule_encode_info (&info, &len);
    self->reply (client, peer, WD_MSG_CTL_CAPSULE_INFO_REPLY, body, len, -1);
    free (body);
    free (info.nodes);
}

static void
s_ctl_put (node_capsule_t *self, void *client, uint32_t peer, int fd)
{
    capsule_header_t *h = malloc (sizeof *h);
    if (!h)
        wd_fatalx ("out of memory");
    uint8_t id[CAPSULE_ID_LEN];
    int rc = capsule_parse_fd (fd, self->chain, self->max_capsule, h);
    if (rc == WD_OK && h->kind != CAPSULE_KIND_RESULT && !capsule_is_recipient (h, self->curve_pk))
        rc = CAPSULE_ERR_NOT_RECIPIENT;
    if (rc == WD_OK)
        rc = lseek (fd, 0, SEEK_SET) == 0 ? capsule_store_put_fd (self->store, fd, h->id, id)
                                          : WD_ERR_IO;
    if (rc != WD_OK) {
        char what[WD_MSG_ERROR_MAX + 1];
        snprintf (what, sizeof what, "capsule refused: %s%s", node_capsule_strerror (rc),
                  rc == CAPSULE_ERR_NOT_RECIPIENT ? " (seal it with a wrap to this node's key)"
                                                  : "");
        s_reply_error (self, client, peer, rc, what);
    } else {
        size_t len;
        uint8_t *body =
            node_capsule_encode_stored (id, capsule_kind_name (h->kind), h->total_len, &len);
        self->reply (client, peer, WD_MSG_CTL_CAPSULE_PUT_REPLY, body, len, -1);
        free (body);
        wd_log_info ("capsule: stored %s capsule %s (%llu bytes)", capsule_kind_name (h->kind),
                     wd_short_id (id).s, (unsigned long long)h->total_len);
    }
    free (h);
}

static void
s_get_fetched (node_capsule_t *self, s_fetch_t *f, int rc)
{
    s_get_t *get = f->ctx;
    if (get->client) {
        int fd = -1;
        uint64_t size = 0;
        if (rc == WD_OK)
            rc = capsule_store_get_fd (self->store, f->id, &fd, &size);
        if (rc != WD_OK)
            s_reply_error (self, get->client, get->peer, rc, NULL);
        else {
            size_t len;
            uint8_t *body = node_capsule_encode_stored (f->id, "", size, &len);
            self->reply (get->client, get->peer, WD_MSG_CTL_CAPSULE_GET_REPLY, body, len, fd);
            free (body);
        }
    }
    for (s_get_t **p = &self->gets; *p; p = &(*p)->next)
        if (*p == get) {
            *p = get->next;
            break;
        }
    free (get);
}

static void
s_ctl_get (node_capsule_t *self, void *client, uint32_t peer, const uint8_t *body, size_t len)
{
    uint8_t id[CAPSULE_ID_LEN], holder[WD_PUBKEY_LEN];
    bool has_holder;
    wd_err_t err = node_capsule_decode_get (body, len, id, &has_holder, holder);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "get request");
        return;
    }
    if (capsule_store_has (self->store, id) || !has_holder || s_is_self (self, holder)) {
        int fd = -1;
        uint64_t size = 0;
        int rc = capsule_store_get_fd (self->store, id, &fd, &size);
        if (rc != WD_OK) {
            s_reply_error (self, client, peer, rc, NULL);
            return;
        }
        size_t blen;
        uint8_t *reply = node_capsule_encode_stored (id, "", size, &blen);
        self->reply (client, peer, WD_MSG_CTL_CAPSULE_GET_REPLY, reply, blen, fd);
        free (reply);
        return;
    }
    if (!wd_genesis_find_node (self->genesis, holder)) {
        s_reply_error (self, client, peer, WD_ERR_NOT_FOUND, "the holder is not a node");
        return;
    }
    s_get_t *get = calloc (1, sizeof *get);
    if (!get)
        wd_fatalx ("out of memory");
    get->client = client;
    get->peer = peer;
    get->next = self->gets;
    self->gets = get;
    s_fetch_start (self, id, holder, s_get_fetched, NULL, 0, get);
}

/* ---- submit ---------------------------------------------------------------------- */

static void
s_submit_free (node_capsule_t *self, s_submit_t *s)
{
    for (s_submit_t **p = &self->submits; *p; p = &(*p)->next)
        if (*p == s) {
            *p = s->next;
            break;
        }
    for (size_t i = 0; i < s->count; i++)
        free (s->policies[i]);
    free (s->envelope);
    free (s);
}

static void
s_post_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_op_t *op = arg;
    node_capsule_t *self = s_op_end (op);
    s_submit_t *s = op->submit;
    free (op);
    if (!self) { /* the component has gone and left s to this callback */
        for (size_t i = 0; i < s->count; i++)
            free (s->policies[i]);
        free (s->envelope);
        free (s);
        return;
    }
    int rc = envelope ? node_mesh_publish_record (self->mesh, envelope, len) : WD_ERR_UNAVAILABLE;
    if (s->client) {
        if (rc != WD_OK) {
            char what[WD_MSG_ERROR_MAX + 1];
            snprintf (what, sizeof what, "task not posted: %s",
                      envelope ? node_capsule_strerror (rc) : reason);
            s_reply_error (self, s->client, s->peer, rc, what);
        } else {
            size_t blen;
            uint8_t *body = node_capsule_encode_id (s->id, &blen);
            self->reply (s->client, s->peer, WD_MSG_CTL_CAPSULE_SUBMIT_REPLY, body, blen, -1);
            free (body);
        }
    }
    if (rc == WD_OK) {
        s->posted = true; /* kept until the ledger has the post: status says "submitted" */
        wd_log_info ("capsule: task %s submitted", wd_short_id (s->id).s);
    } else
        s_submit_free (self, s);
}

/* Every policy is in: check that someone may execute, then post. */
static void
s_submit_post (node_capsule_t *self, s_submit_t *s)
{
    bool any = false;
    for (size_t i = 0; i < wd_genesis_node_count (self->genesis) && !any; i++)
        any = s_eligible (self, wd_genesis_node (self->genesis, i)->sign_pk,
                          (const uint8_t *const *)s->policies, s->policy_lens, s->count);
    if (!any) {
        if (s->client)
            s_reply_error (self, s->client, s->peer, CAPSULE_ERR_EXEC_NO_EXECUTOR,
                           "no eligible executor: no node's ledger status satisfies every "
                           "capsule's release policy");
        s->failed = true; /* freed by the caller once no head is awaited */
        return;
    }
    node_capsule_post_t post = { .task = s->envelope,
                                 .task_len = s->envelope_len,
                                 .policy_count = s->count };
    for (size_t i = 0; i < s->count; i++) {
        post.policies[i] = s->policies[i];
        post.policy_lens[i] = s->policy_lens[i];
    }
    size_t len;
    uint8_t *body = node_capsule_encode_post (&post, &len);
    s_op_t *op = s_op_new (self);
    op->submit = s;
    node_sign_seal (self->signer, NODE_CAPSULE_POST_TYPE, self->chain, body, len, s_post_sealed,
                    op);
    free (body);
}

static void
s_submit_policy (node_capsule_t *self, s_submit_t *s, size_t index, int rc, const char *kind,
                 const uint8_t *policy, size_t plen)
{
    if (s->failed)
        return;
    capsule_kind_t want = index == 0   ? CAPSULE_KIND_CODE
                          : index == 1 ? CAPSULE_KIND_ENV
                                       : CAPSULE_KIND_DATA;
    capsule_kind_t got = CAPSULE_KIND_DATA;
    if (rc == WD_OK && (!capsule_kind_parse (kind, strlen (kind), &got) ||
                        (got != want && !(index >= 2 && got == CAPSULE_KIND_RESULT))))
        rc = CAPSULE_ERR_CAPSULE_KIND;
    if (rc != WD_OK) {
        s->failed = true;
        if (s->client) {
            char what[WD_MSG_ERROR_MAX + 1];
            const char *which = index == 0 ? "code" : index == 1 ? "environment" : NULL;
            snprintf (what, sizeof what, "%s capsule%s%s: %s", which ? which : "input",
                      which ? "" : " ", which ? "" : s->task.inputs[index - 2].name,
                      node_capsule_strerror (rc));
            s_reply_error (self, s->client, s->peer, rc, what);
        }
        return;
    }
    s->policies[index] = malloc (plen);
    if (!s->policies[index])
        wd_fatalx ("out of memory");
    memcpy (s->policies[index], policy, plen);
    s->policy_lens[index] = plen;
    if (++s->have == s->count)
        s_submit_post (self, s);
}

static void
s_submit_head (node_capsule_t *self, s_mreq_t *req, const node_capsule_msg_t *m)
{
    s_submit_t *s = req->ctx;
    int rc = !m                                  ? CAPSULE_ERR_EXEC_FETCH
             : m->type == NODE_CAPSULE_MSG_ERROR ? m->code
             : m->type != NODE_CAPSULE_MSG_HEAD || memcmp (m->id, req->task, CAPSULE_ID_LEN) != 0
                 ? WD_ERR_BAD_VALUE
                 : WD_OK;
    capsule_policy_t *policy = malloc (sizeof *policy);
    if (!policy)
        wd_fatalx ("out of memory");
    if (rc == WD_OK)
        rc = s_policy_decode (m->data, m->data_len, policy);
    free (policy);
    s_submit_policy (self, s, req->index, rc, rc == WD_OK ? m->kind : "",
                     rc == WD_OK ? m->data : NULL, rc == WD_OK ? m->data_len : 0);
    bool waiting = false;
    for (s_mreq_t *r = self->mreqs; r; r = r->next)
        waiting = waiting || r->ctx == s;
    if (s->failed && !waiting)
        s_submit_free (self, s);
}

static void
s_ctl_submit (node_capsule_t *self, void *client, uint32_t peer, const uint8_t *body, size_t len)
{
    const uint8_t *envelope;
    size_t envelope_len;
    wd_err_t err = node_capsule_decode_submit (body, len, &envelope, &envelope_len);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "submit request");
        return;
    }
    s_submit_t *s = calloc (1, sizeof *s);
    if (!s)
        wd_fatalx ("out of memory");
    int rc = capsule_task_open (envelope, envelope_len, self->chain, &s->task, NULL, s->id);
    if (rc != WD_OK) {
        char what[WD_MSG_ERROR_MAX + 1];
        snprintf (what, sizeof what, "task refused: %s", node_capsule_strerror (rc));
        s_reply_error (self, client, peer, rc, what);
        free (s);
        return;
    }
    if (s_task_find (self, s->id)) {
        size_t blen;
        uint8_t *reply = node_capsule_encode_id (s->id, &blen);
        self->reply (client, peer, WD_MSG_CTL_CAPSULE_SUBMIT_REPLY, reply, blen, -1);
        free (reply);
        free (s);
        return;
    }
    s->client = client;
    s->peer = peer;
    s->envelope = malloc (envelope_len);
    if (!s->envelope)
        wd_fatalx ("out of memory");
    memcpy (s->envelope, envelope, envelope_len);
    s->envelope_len = envelope_len;
    s->count = 2 + s->task.input_count;
    s->next = self->submits;
    self->submits = s;
    capsule_header_t *h = malloc (sizeof *h);
    if (!h)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < s->count && !s->failed; i++) {
        const uint8_t *id = i == 0 ? s->task.code : i == 1 ? s->task.env : s->task.inputs[i - 2].id;
        const uint8_t *holder = i < 2 ? self->cert->sign_pk : s->task.inputs[i - 2].holder;
        if (s_is_self (self, holder)) {
            rc = s_stored_header (self, id, h);
            size_t plen = 0;
            uint8_t *policy = rc == WD_OK ? s_policy_bytes (&h->policy, &plen) : NULL;
            s_submit_policy (self, s, i, rc, rc == WD_OK ? capsule_kind_name (h->kind) : "", policy,
                             plen);
            free (policy);
        } else if (!wd_genesis_find_node (self->genesis, holder)) {
            s_submit_policy (self, s, i, CAPSULE_ERR_EXEC_NOT_NAMED, "", NULL, 0);
        } else {
            node_capsule_msg_t m = { .type = NODE_CAPSULE_MSG_HEAD_REQ };
            memcpy (m.id, id, CAPSULE_ID_LEN);
            s_mreq_t *req = s_mreq_send (self, holder, &m, s_submit_head);
            memcpy (req->task, id, CAPSULE_ID_LEN);
            req->index = i;
            req->ctx = s;
        }
    }
    free (h);
    bool waiting = false;
    for (s_mreq_t *r = self->mreqs; r; r = r->next)
        waiting = waiting || r->ctx == s;
    if (s->failed && !waiting)
        s_submit_free (self, s);
}

static void
s_ctl_status (node_capsule_t *self, void *client, uint32_t peer, const uint8_t *body, size_t len)
{
    uint8_t id[WD_DIGEST_LEN];
    wd_err_t err = node_capsule_decode_id (body, len, id);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "status request");
        return;
    }
    node_capsule_status_t *st = calloc (1, sizeof *st);
    if (!st)
        wd_fatalx ("out of memory");
    s_task_t *t = s_task_find (self, id);
    if (t) {
        snprintf (st->state, sizeof st->state, "%s", s_state_names[t->state]);
        if (t->state == S_SELECTED && s_is_self (self, t->executor) && t->exec != X_OVER)
            snprintf (st->state, sizeof st->state, "running");
        if (t->state != S_POSTED)
            memcpy (st->executor, t->executor, WD_PUBKEY_LEN);
        st->height = t->height;
        st->round = t->round;
        st->code = t->state == S_FAILED ? t->code : 0;
        snprintf (st->reason, sizeof st->reason, "%s", t->state == S_FAILED ? t->reason : "");
        st->receipt = t->receipt;
        st->receipt_len = t->receipt_len;
        st->refusal_count = t->refusal_count;
        memcpy (st->refusals, t->refusals, sizeof st->refusals);
    } else {
        bool submitted = false;
        for (s_submit_t *s = self->submits; s && !submitted; s = s->next)
            submitted = s->posted && memcmp (s->id, id, WD_DIGEST_LEN) == 0;
        snprintf (st->state, sizeof st->state, "%s", submitted ? "submitted" : "unknown");
    }
    size_t blen;
    uint8_t *reply = node_capsule_encode_status (st, &blen);
    self->reply (client, peer, WD_MSG_CTL_CAPSULE_STATUS_REPLY, reply, blen, -1);
    free (reply);
    free (st);
}

bool
node_capsule_handles (uint32_t type)
{
    return type == WD_MSG_CTL_CAPSULE_INFO || type == WD_MSG_CTL_CAPSULE_PUT ||
           type == WD_MSG_CTL_CAPSULE_SUBMIT || type == WD_MSG_CTL_CAPSULE_STATUS ||
           type == WD_MSG_CTL_CAPSULE_GET;
}

void
node_capsule_request (node_capsule_t *self, void *client, wd_chan_msg_t *msg)
{
    bool wants_fd = msg->type == WD_MSG_CTL_CAPSULE_PUT;
    if (msg->nfds != (wants_fd ? 1u : 0u)) {
        s_reply_error (self, client, msg->peer, WD_ERR_FDS,
                       wants_fd ? "put request without its capsule descriptor"
                                : "request carries a descriptor");
        return;
    }
    switch (msg->type) {
        case WD_MSG_CTL_CAPSULE_INFO:
            s_ctl_info (self, client, msg->peer);
            break;
        case WD_MSG_CTL_CAPSULE_PUT:
            s_ctl_put (self, client, msg->peer, msg->fds[0]);
            break;
        case WD_MSG_CTL_CAPSULE_SUBMIT:
            s_ctl_submit (self, client, msg->peer, msg->body, msg->body_len);
            break;
        case WD_MSG_CTL_CAPSULE_STATUS:
            s_ctl_status (self, client, msg->peer, msg->body, msg->body_len);
            break;
        case WD_MSG_CTL_CAPSULE_GET:
            s_ctl_get (self, client, msg->peer, msg->body, msg->body_len);
            break;
    }
}

void
node_capsule_client_gone (node_capsule_t *self, void *client)
{
    if (!self)
        return;
    for (s_submit_t *s = self->submits; s; s = s->next)
        if (s->client == client)
            s->client = NULL;
    for (s_get_t *get = self->gets; get; get = get->next)
        if (get->client == client)
            get->client = NULL;
}

/* ---- the tick ------------------------------------------------------------------ */

static void
s_scan (node_capsule_t *self)
{
    cons_ledger_t *ledger = s_ledger (self);
    uint64_t tip = cons_ledger_height (ledger);
    while (self->scanned < tip) {
        uint64_t h = self->scanned + 1;
        uint8_t *bytes = NULL;
        size_t len = 0;
        cons_block_t block;
        if (cons_ledger_get (ledger, h, &bytes, &len, NULL, NULL) != WD_OK ||
            cons_block_decode (bytes, len, BLOCK_MAX, &block) != WD_OK) {
            wd_log_warnx ("capsule: block %llu unreadable", (unsigned long long)h);
            free (bytes);
            return;
        }
        for (size_t i = 0; i < block.record_count; i++)
            s_on_record (self, h, block.seed, block.records[i].data, block.records[i].len);
        cons_block_release (&block);
        free (bytes);
        self->scanned = h;
        s_after_block (self, h);
    }
    /* what the new state asks of this node */
    for (s_task_t *t = self->tasks; t; t = t->next) {
        uint64_t end = t->height + (uint64_t)NODE_CAPSULE_CLAIM_BLOCKS * (t->round + 1);
        if (t->state == S_POSTED && !t->considered[t->round] && tip < end)
            s_claim_start (self, t);
        else if (t->state == S_SELECTED && s_is_self (self, t->executor) && t->exec == X_IDLE)
            s_exec_start (self, t);
        else if ((t->state == S_DONE || t->state == S_FAILED) && t->exec != X_IDLE &&
                 t->exec != X_OVER && t->exec != X_SEALING && t->exec != X_FINISHING) {
            s_needs_free (t); /* decided elsewhere (a restart) */
            s_wipe_work (t);
            t->exec = X_OVER;
        }
    }
    /* submits whose post the ledger now holds */
    for (s_submit_t *s = self->submits, *next; s; s = next) {
        next = s->next;
        if (s->posted && s_task_find (self, s->id))
            s_submit_free (self, s);
    }
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_capsule_t *self = arg;
    s_scan (self);
    uint64_t now = s_mono_ms ();
    for (s_mreq_t *req = self->mreqs, *next; req; req = next) {
        next = req->next;
        if (now < req->deadline)
            continue;
        if (req->tries < MREQ_TRIES) {
            req->tries++;
            req->deadline = now + MREQ_TIMEOUT_MS;
            (void)node_mesh_send (self->mesh, req->peer, CONS_CHANNEL_CAPSULE, req->body, req->len);
            continue;
        }
        s_mreq_unlink (self, req);
        req->done (self, req, NULL);
        s_mreq_free (req);
        next = self->mreqs; /* the callback may have changed the list */
    }
    for (s_task_t *t = self->tasks; t; t = t->next) {
        if (t->exec == X_GATHER)
            s_exec_step (self, t);
        else if (t->exec == X_SEALING && !self->sealer && t->state == S_SELECTED)
            s_exec_seal (self, t);
    }
    s_cache_expire (self, false);
    return 0;
}

/* ---- life -------------------------------------------------------------------- */

int
node_capsule_work_dir (const wd_config_t *cfg, char *out, size_t size)
{
    const char *dir = wd_config_str (cfg, "capsule/work_dir");
    int n = dir ? snprintf (out, size, "%s", dir)
                : snprintf (out, size, "/dev/shm/warden-%s", wd_config_str (cfg, "node/name"));
    return n < 0 || (size_t)n >= size ? -1 : 0;
}

static wd_err_t
s_read_curve (node_capsule_t *self, char *why, size_t why_len)
{
    char path[PATH_MAX];
    if (node_path_state (self->cfg, "keys/curve.key", path, sizeof path) != 0) {
        wd_err_why (why, why_len, "state path is too long");
        return WD_ERR_CONFIG_VALUE;
    }
    self->curve_sk = sodium_malloc (WD_SEED_LEN);
    if (!self->curve_sk)
        wd_fatalx ("out of memory");
    wd_err_t err = wd_keyfile_read (path, WD_KEYFILE_X25519, self->curve_sk);
    if (err != WD_OK) {
        wd_err_why (why, why_len, "%s: %s", path, wd_strerror (err));
        return err;
    }
    crypto_scalarmult_base (self->curve_pk, self->curve_sk);
    if (sodium_memcmp (self->curve_pk, self->cert->curve_pk, CAPSULE_CURVE_LEN) != 0) {
        wd_err_why (why, why_len, "%s is not the key of node.cert's curve_pk", path);
        return WD_ERR_KEY_MISMATCH;
    }
    return WD_OK;
}

wd_err_t
node_capsule_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                  node_sign_t *signer, node_mesh_t *mesh, node_agree_t *agree, wd_chan_t *parent,
                  node_capsule_reply_fn *reply, node_capsule_t **out, char *why, size_t why_len)
{
    *out = NULL;
    if (!agree || !mesh || !wd_config_bool (cfg, "capsule/enable"))
        return WD_OK;
    node_capsule_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    self->cfg = cfg;
    self->cert = self_cert;
    self->signer = signer;
    self->mesh = mesh;
    self->agree = agree;
    self->parent = parent;
    self->reply = reply;
    self->genesis = node_mesh_genesis (mesh);
    wd_genesis_chain_id (self->genesis, self->chain);
    self->max_capsule = wd_config_uint (cfg, "capsule/max_capsule");
    self->timer = -1;
    wd_err_t err = s_read_curve (self, why, why_len);
    char path[PATH_MAX];
    if (err == WD_OK && node_path_state (cfg, "capsules", path, sizeof path) != 0) {
        wd_err_why (why, why_len, "state path is too long");
        err = WD_ERR_CONFIG_VALUE;
    }
    if (err == WD_OK) {
        char swhy[256];
        int rc = capsule_store_open (path, wd_config_uint (cfg, "capsule/store_quota"),
                                     &self->store, swhy, sizeof swhy);
        if (rc != WD_OK) {
            wd_err_why (why, why_len, "capsule store: %s", swhy);
            err = WD_ERR_IO;
        }
    }
    if (err == WD_OK && node_capsule_work_dir (cfg, self->work_dir, sizeof self->work_dir) != 0) {
        wd_err_why (why, why_len, "capsule/work_dir is too long");
        err = WD_ERR_CONFIG_VALUE;
    }
    if (err == WD_OK) {
        /* the work area is made when a task runs; its file system is checked
           now: without a tmpfs this node holds and releases capsules but
           never claims a task */
        char above[PATH_MAX];
        snprintf (above, sizeof above, "%s", self->work_dir);
        char *slash = strrchr (above, '/');
        if (slash && slash != above)
            *slash = 0;
        struct statfs fs;
        const char *probe = access (self->work_dir, F_OK) == 0 ? self->work_dir : above;
        self->can_execute = statfs (probe, &fs) == 0 && fs.f_type == TMPFS_MAGIC;
        if (!self->can_execute)
            wd_log_warnx ("capsule: work area %s is not on a tmpfs: this node will not execute "
                          "tasks (set capsule/work_dir)",
                          self->work_dir);
    }
    if (err != WD_OK) {
        node_capsule_destroy (&self);
        return err;
    }
    self->timer = zloop_timer (loop, TICK_MS, 0, s_on_tick, self);
    if (self->timer < 0)
        wd_fatal ("zloop_timer");
    node_mesh_set_capsule_hook (mesh, s_on_channel, self);
    wd_log_info ("capsule: store %s (%llu capsules), work area %s", path,
                 (unsigned long long)capsule_store_count (self->store), self->work_dir);
    *out = self;
    return WD_OK;
}

void
node_capsule_destroy (node_capsule_t **self_p)
{
    node_capsule_t *self = *self_p;
    if (!self)
        return;
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    if (self->mesh)
        node_mesh_set_capsule_hook (self->mesh, NULL, NULL);
    if (self->sealer) {
        s_sealer_t *job = self->sealer;
        zloop_poller_end (self->loop, &job->item);
        shutdown (job->sv[0], SHUT_RDWR); /* a thread waiting for a signature gives up */
        pthread_join (job->thread, NULL);
        job->owner = NULL;
        if (!job->sign_pending)
            s_sealer_free (job);
    }
    for (s_op_t *op = self->ops; op; op = op->next)
        op->owner = NULL;
    while (self->mreqs) {
        s_mreq_t *req = self->mreqs;
        self->mreqs = req->next;
        if (req->done == s_fetch_chunk) {
            s_fetch_t *f = req->ctx;
            capsule_store_abort (&f->writer);
            free (f);
        }
        s_mreq_free (req);
    }
    while (self->gets) {
        s_get_t *get = self->gets;
        self->gets = get->next;
        free (get);
    }
    while (self->submits) {
        s_submit_t *s = self->submits;
        bool signing = false;
        for (s_op_t *op = self->ops; op && !signing; op = op->next)
            signing = op->submit == s;
        self->submits = s->next;
        if (!signing) {
            for (size_t i = 0; i < s->count; i++)
                free (s->policies[i]);
            free (s->envelope);
            free (s);
        }
    }
    while (self->tasks) {
        s_task_t *t = self->tasks;
        self->tasks = t->next;
        s_needs_free (t);
        s_wipe_work (t);
        free (t->post);
        free (t->receipt);
        free (t);
    }
    s_cache_expire (self, true);
    if (self->work_dir[0])
        rmdir (self->work_dir); /* only when empty: never another run's areas */
    capsule_store_close (&self->store);
    if (self->curve_sk)
        sodium_free (self->curve_sk);
    free (self);
    *self_p = NULL;
}
