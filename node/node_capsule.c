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
#include <stdatomic.h>
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
#define HEADER_CACHE     16
#define WORKERS_MAX      2
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

typedef enum {
    X_IDLE = 0,
    X_GATHER,
    X_PREPARING,
    X_RUNNING,
    X_SEALING,
    X_FINISHING,
    X_OVER
} s_exec_t;

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
    node_capsule_claims_t claims;
    bool considered[NODE_CAPSULE_CLAIM_ROUNDS]; /* this node's claim decided */
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
    bool final_forgotten; /* the kept final record is removed */
    bool receipt_out;     /* this node published the receipt */
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

/* A capsule a preparation worker decrypts, with its released key. */
typedef struct {
    uint8_t id[CAPSULE_ID_LEN];
    char name[CAPSULE_TASK_NAME_MAX + 1];
    capsule_key_t *key;
} s_wneed_t;

typedef enum { W_PUT = 0, W_PREPARE, W_SEAL } s_work_kind_t;

/* A job for a worker thread (see "the worker threads"). */
typedef struct s_worker s_worker_t;
struct s_worker {
    s_worker_t *next;
    node_capsule_t *owner; /* NULL once the component has gone */
    s_work_kind_t kind;
    void (*main) (s_worker_t *job);
    bool started;
    atomic_bool cancel;
    pthread_t thread;
    int sv[2];
    zmq_pollitem_t item;
    bool sign_pending;
    /* for every kind */
    uint8_t chain[WD_CHAIN_ID_LEN];
    char store_dir[PATH_MAX];
    uint64_t quota, max_capsule;
    int rc;
    char why[256];
    /* put: the client's descriptor, this node's X25519 key */
    void *client;
    uint32_t peer;
    int fd;
    uint8_t curve_pk[CAPSULE_CURVE_LEN];
    capsule_header_t *header;
    uint8_t id[CAPSULE_ID_LEN];
    /* prepare and seal: the task and its work area */
    uint8_t task[WD_DIGEST_LEN];
    char work[PATH_MAX];
    char work_dir[PATH_MAX];
    char code_name[CAPSULE_TASK_NAME_MAX + 1];
    size_t need_count;
    s_wneed_t needs[NODE_CAPSULE_POLICIES_MAX];
    /* seal */
    uint8_t owner_pk[WD_PUBKEY_LEN];
    size_t recipient_count;
    uint8_t recipients[CAPSULE_TASK_RECIPIENTS_MAX][CAPSULE_CURVE_LEN];
    size_t count;
    char names[CAPSULE_RECEIPT_OUTPUTS_MAX][256];
    uint8_t out_ids[CAPSULE_RECEIPT_OUTPUTS_MAX][CAPSULE_ID_LEN];
};

typedef struct {
    uint8_t id[CAPSULE_ID_LEN];
    int fd;
    uint64_t size;
    uint64_t used_ms;
} s_cached_t;

typedef struct {
    capsule_header_t *h; /* NULL: free */
    uint64_t used;
} s_hcache_t;

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
    s_worker_t *workers; /* running first come, then queued */
    s_cached_t cache[FD_CACHE];
    s_hcache_t headers[HEADER_CACHE];
    uint64_t header_tick;
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
    const wd_cert_t *cert = node_mesh_find_node (self->mesh, id);
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

/* Whether this node is still the task's decided executor (not decided
   elsewhere meanwhile, not passed over for a missed deadline). */
static bool
s_still_executor (node_capsule_t *self, const s_task_t *t)
{
    return t->state == S_SELECTED && s_is_self (self, t->executor);
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

/* The parsed and verified header of a stored capsule. Parsing hashes the
   whole capsule, so verified headers are kept (HEADER_CACHE, least
   recently used out): a capsule uploaded through the worker or parsed once
   is never hashed on the loop again for its policy, wraps or kind (its
   bytes are still re-checked by the store when they are read). Borrowed
   until the next call. */
static int
s_header (node_capsule_t *self, const uint8_t id[CAPSULE_ID_LEN], const capsule_header_t **out)
{
    s_hcache_t *slot = NULL;
    for (size_t i = 0; i < HEADER_CACHE; i++) {
        s_hcache_t *c = &self->headers[i];
        if (c->h && memcmp (c->h->id, id, CAPSULE_ID_LEN) == 0) {
            c->used = ++self->header_tick;
            *out = c->h;
            return WD_OK;
        }
        if (!slot || !c->h || (slot->h && c->used < slot->used))
            slot = c;
    }
    if (!capsule_store_has (self->store, id))
        return CAPSULE_ERR_STORE_NOT_FOUND;
    uint64_t size;
    int rc = WD_OK;
    int fd = s_cached_fd (self, id, &size, &rc);
    if (fd < 0)
        return rc;
    if (!slot->h && !(slot->h = malloc (sizeof *slot->h)))
        wd_fatalx ("out of memory");
    rc = capsule_parse_fd (fd, self->chain, self->max_capsule, slot->h);
    if (rc == WD_OK && memcmp (slot->h->id, id, CAPSULE_ID_LEN) != 0)
        rc = CAPSULE_ERR_STORE_MISMATCH;
    if (rc != WD_OK) {
        free (slot->h);
        slot->h = NULL;
        return rc;
    }
    slot->used = ++self->header_tick;
    *out = slot->h;
    return WD_OK;
}

/* Keeps a header verified elsewhere (the worker's upload). */
static void
s_header_remember (node_capsule_t *self, const capsule_header_t *h)
{
    s_hcache_t *slot = NULL;
    for (size_t i = 0; i < HEADER_CACHE; i++) {
        s_hcache_t *c = &self->headers[i];
        if (c->h && memcmp (c->h->id, h->id, CAPSULE_ID_LEN) == 0)
            return;
        if (!slot || !c->h || (slot->h && c->used < slot->used))
            slot = c;
    }
    if (!slot->h && !(slot->h = malloc (sizeof *slot->h)))
        wd_fatalx ("out of memory");
    *slot->h = *h;
    slot->used = ++self->header_tick;
}

/* A copy of a stored capsule's header (heap: it is large). */
static int
s_stored_header (node_capsule_t *self, const uint8_t id[CAPSULE_ID_LEN], capsule_header_t *h)
{
    const capsule_header_t *c;
    int rc = s_header (self, id, &c);
    if (rc == WD_OK)
        *h = *c;
    return rc;
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

/* What the ledger says about node as an executor (its certificate's key
   protection borrowed from the mesh's admitted set, which follows the ledger).
   evidence (may be NULL) gets its
   latest attestation record id. */
static void
s_facts (node_capsule_t *self, const uint8_t node[WD_PUBKEY_LEN], node_capsule_facts_t *facts,
         uint8_t evidence[32])
{
    memset (facts, 0, sizeof *facts);
    if (evidence)
        memset (evidence, 0, 32);
    const wd_cert_t *cert = node_mesh_find_node (self->mesh, node);
    cons_ledger_t *ledger = s_ledger (self);
    cons_node_status_t st;
    if (!cert || cons_ledger_node_status (ledger, node, &st) != WD_OK)
        return;
    facts->member = true;
    facts->tier = st.tier;
    facts->key_protection = cert->key_protection;
    facts->has_measurement = st.has_digest;
    memcpy (facts->measurement, st.digest, sizeof facts->measurement);
    const cons_reputation_t *rep = cons_ledger_reputation (ledger);
    uint64_t epoch = cons_reputation_epoch (rep, cons_ledger_height (ledger) + 1);
    for (size_t i = 0; i < cons_reputation_count (rep); i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        if (memcmp (e->id, node, WD_PUBKEY_LEN) == 0 && cons_reputation_quarantined (e, epoch))
            facts->quarantined = true;
    }
    if (evidence)
        memcpy (evidence, st.evidence, 32);
}

/* Whether node may execute a task with these policies: 0 or the reason
   (node_capsule_eligible). Only this node knows its own work area. */
static int
s_eligible (node_capsule_t *self, const uint8_t node[WD_PUBKEY_LEN],
            const uint8_t *const policies[], const size_t *lens, size_t count)
{
    node_capsule_facts_t facts;
    s_facts (self, node, &facts, NULL);
    bool can_execute = !s_is_self (self, node) || self->can_execute;
    return node_capsule_eligible (&facts, node, can_execute, policies, lens, count, s_now_ms ());
}

/* ---- tasks from the ledger --------------------------------------------------------- */

/* The sortition input of node for task t in round: its reputation weight
   in the validator set of the post's height (node_capsule_sortition_input). */
static int
s_sortition_input (node_capsule_t *self, const s_task_t *t, uint32_t round,
                   const uint8_t node[WD_PUBKEY_LEN], cons_sortition_input_t *in)
{
    const cons_validator_t *set = NULL;
    size_t count = 0;
    int rc = cons_ledger_validators (s_ledger (self), t->height, &set, &count);
    if (rc != WD_OK)
        return rc;
    return node_capsule_sortition_input (self->chain, t->seed, t->height, round, t->id, set, count,
                                         node, in);
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
    uint64_t grace = wd_genesis_param (self->genesis, "task_grace_ms");
    uint64_t wall = t->task.limits.wall_ms;
    node_capsule_claims_init (&t->claims, height,
                              wall > UINT64_MAX - grace ? UINT64_MAX : wall + grace);
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
    if (!t || t->state != S_POSTED || c.height != t->height || c.round != t->claims.round ||
        height > node_capsule_claims_end (&t->claims))
        return; /* the verify below is the costly part: skip what cannot count */
    const wd_cert_t *cert = node_mesh_find_node (self->mesh, env->from);
    if (!cert)
        return;
    cons_sortition_input_t in;
    int rc = s_sortition_input (self, t, c.round, env->from, &in);
    if (rc == 0)
        rc = cons_sortition_verify (&in, cert->vrf_pk, &c.claim);
    if (rc != 0) {
        wd_log_warnx ("capsule: claim of %s for task %s refused: %s", cert->name,
                      wd_short_id (t->id).s, node_capsule_strerror (rc));
        return;
    }
    (void)node_capsule_claims_offer (&t->claims, height, c.height, c.round, env->from, &c.claim);
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

/* After block `height` with time time_ms: close the claim rounds that end
   there, pass over the executors whose deadline it reaches. */
static void
s_after_block (node_capsule_t *self, uint64_t height, uint64_t time_ms)
{
    for (s_task_t *t = self->tasks; t; t = t->next) {
        if (t->state != S_POSTED && t->state != S_SELECTED)
            continue;
        switch (node_capsule_claims_after_block (&t->claims, height, time_ms)) {
            case NODE_CAPSULE_ROUND_SELECTED:
                t->state = S_SELECTED;
                memcpy (t->executor, t->claims.best_from, WD_PUBKEY_LEN);
                memcpy (t->proof, t->claims.best.proof, WD_VRF_PROOF_LEN);
                wd_log_info ("capsule: task %s: executor %s (round %u)", wd_short_id (t->id).s,
                             s_name (self, t->executor), t->claims.round);
                break;
            case NODE_CAPSULE_ROUND_MISSED:
                t->state = S_POSTED;
                wd_log_warnx ("capsule: task %s: executor %s missed its deadline at height %llu; "
                              "round %u open to the others",
                              wd_short_id (t->id).s, s_name (self, t->executor),
                              (unsigned long long)height, t->claims.round);
                break;
            case NODE_CAPSULE_ROUND_NONE:
                if (t->claims.missed_count) {
                    char reason[NODE_CAPSULE_REASON_MAX + 1];
                    (void)s_fmt (reason, sizeof reason,
                                 "executor %s did not end the task by its deadline (height "
                                 "%llu) and no other eligible executor claimed it",
                                 s_name (self, t->claims.missed[t->claims.missed_count - 1]),
                                 (unsigned long long)height);
                    s_task_fail (self, t, CAPSULE_ERR_EXEC_TIMEOUT, reason);
                } else
                    s_task_fail (self, t, CAPSULE_ERR_EXEC_NO_EXECUTOR,
                                 "no eligible executor claimed the task");
                break;
            case NODE_CAPSULE_ROUND_OPEN:
            case NODE_CAPSULE_ROUND_NEXT:
                break;
        }
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
    node_capsule_claim_t c = { .height = t->height, .round = op->round };
    memcpy (c.task, t->id, WD_DIGEST_LEN);
    if (s_sortition_input (self, t, op->round, self->cert->sign_pk, &in) != 0 ||
        cons_sortition_count (in.weight, in.total_weight, in.tau, beta, &c.claim.count) != 0 ||
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
    t->considered[t->claims.round] = true;
    if (node_capsule_claims_missed (&t->claims, self->cert->sign_pk)) {
        wd_log_info ("capsule: not claiming task %s again: this node missed its deadline",
                     wd_short_id (t->id).s);
        return;
    }
    int rc =
        s_eligible (self, self->cert->sign_pk, t->p.policies, t->p.policy_lens, t->p.policy_count);
    if (rc != 0) {
        wd_log_info ("capsule: not eligible to execute task %s: %s", wd_short_id (t->id).s,
                     node_capsule_strerror (rc));
        return;
    }
    cons_sortition_input_t in;
    if (s_sortition_input (self, t, t->claims.round, self->cert->sign_pk, &in) != 0 ||
        in.weight == 0)
        return;
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    if (cons_sortition_alpha (&in, alpha) != 0)
        return;
    s_op_t *op = s_op_new (self);
    memcpy (op->task, t->id, WD_DIGEST_LEN);
    op->round = t->claims.round;
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

/* ---- the executor's final record, kept across restarts -------------------------------- */

/* The receipt or failure this node signed as a task's executor is written
   to <state>/capsule-exec/<task hex> (temporary file, fsync, rename)
   before it is published. An executor that restarts before the ledger
   committed it finds the file and publishes the same bytes again (same
   record id: gossip and the ledger take it once) instead of running the
   task a second time, so a task never gets two receipts. The file goes
   when the ledger has the task's end. */
static int
s_final_path (node_capsule_t *self, const uint8_t task[WD_DIGEST_LEN], char *out, size_t size)
{
    char name[32 + WD_HASH_HEX_LEN];
    char hex[WD_HASH_HEX_LEN + 1];
    snprintf (name, sizeof name, "capsule-exec/%s", wd_hex_encode (hex, task, WD_DIGEST_LEN));
    return node_path_state (self->cfg, name, out, size);
}

static void
s_final_keep (node_capsule_t *self, const uint8_t task[WD_DIGEST_LEN], const uint8_t *envelope,
              size_t len)
{
    char path[PATH_MAX], tmp[PATH_MAX + 8], dir[PATH_MAX];
    if (s_final_path (self, task, path, sizeof path) != 0 ||
        node_path_state (self->cfg, "capsule-exec", dir, sizeof dir) != 0 ||
        s_fmt (tmp, sizeof tmp, "%s.tmp", path) != 0)
        return;
    (void)mkdir (dir, 0700);
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    bool ok = fd >= 0 && write (fd, envelope, len) == (ssize_t)len && fsync (fd) == 0;
    if (fd >= 0 && close (fd) != 0)
        ok = false;
    if (ok && rename (tmp, path) == 0) {
        int d = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (d >= 0) {
            (void)fsync (d);
            close (d);
        }
        return;
    }
    wd_log_warn ("capsule: cannot keep the final record of task %s in %s", wd_short_id (task).s,
                 path);
    unlink (tmp);
}

/* The kept final record of a task (caller frees), or NULL. */
static uint8_t *
s_final_load (node_capsule_t *self, const uint8_t task[WD_DIGEST_LEN], size_t *len)
{
    char path[PATH_MAX];
    if (s_final_path (self, task, path, sizeof path) != 0)
        return NULL;
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0)
        return NULL;
    struct stat st;
    uint8_t *buf = NULL;
    if (fstat (fd, &st) == 0 && st.st_size > 0 && st.st_size <= (off_t)NODE_CAPSULE_TASK_MAX * 4) {
        buf = malloc ((size_t)st.st_size);
        if (buf && read (fd, buf, (size_t)st.st_size) != st.st_size) {
            free (buf);
            buf = NULL;
        }
        *len = (size_t)st.st_size;
    }
    close (fd);
    return buf;
}

static void
s_final_forget (node_capsule_t *self, const uint8_t task[WD_DIGEST_LEN])
{
    char path[PATH_MAX];
    if (s_final_path (self, task, path, sizeof path) == 0)
        (void)unlink (path);
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
        else {
            s_final_keep (self, op->task, envelope, len);
            if (node_mesh_publish_record (self->mesh, envelope, len) != WD_OK)
                wd_log_warnx ("capsule: failure of task %s not published",
                              wd_short_id (op->task).s);
        }
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

static int
s_policy_of (void *ctx, const uint8_t capsule[CAPSULE_ID_LEN], const capsule_policy_t **policy)
{
    const capsule_header_t *h;
    int rc = s_header (ctx, capsule, &h);
    if (rc == WD_OK)
        *policy = &h->policy;
    return rc;
}

/* The holder's decision on a release request from executor
   (node_capsule_release_decide over this node's ledger and store), with
   the content key in *key on 0 (step 8: the holder's own wrap opens). */
static int
s_release_decide (node_capsule_t *self, const capsule_release_req_t *req,
                  const uint8_t executor[WD_PUBKEY_LEN], capsule_key_t **key)
{
    *key = NULL;
    s_task_t *t = s_task_find (self, req->task);
    static const node_capsule_task_state_t states[] = {
        [S_POSTED] = NODE_CAPSULE_TASK_POSTED,
        [S_SELECTED] = NODE_CAPSULE_TASK_SELECTED,
        [S_DONE] = NODE_CAPSULE_TASK_DONE,
        [S_FAILED] = NODE_CAPSULE_TASK_FAILED,
    };
    const wd_cert_t *cert = node_mesh_find_node (self->mesh, executor);
    node_capsule_facts_t facts;
    s_facts (self, executor, &facts, NULL);
    node_capsule_release_in_t in = {
        .state = t ? states[t->state] : NODE_CAPSULE_TASK_UNKNOWN,
        .task = t ? &t->task : NULL,
        .origin = t ? t->origin : NULL,
        .executor = t ? t->executor : NULL,
        .proof = t ? t->proof : NULL,
        .holder = self->cert->sign_pk,
        .executor_curve = cert ? cert->curve_pk : NULL,
        .facts = &facts,
        .policy_fn = s_policy_of,
        .policy_ctx = self,
        .now_ms = s_now_ms (),
    };
    int rc = node_capsule_release_decide (&in, req, executor);
    const capsule_header_t *h;
    if (rc == WD_OK)
        rc = s_header (self, req->capsule, &h);
    if (rc == WD_OK)
        rc = capsule_unwrap (h, self->curve_pk, self->curve_sk, key);
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

static void
s_reply_error (node_capsule_t *self, void *client, uint32_t peer, int code, const char *what);

/* ---- the worker threads ------------------------------------------------------------ */

/* Work that would stall the loop for seconds on a large capsule — an
   upload (hashed twice and copied into the store), a task's preparation
   (every capsule re-checked, decrypted and the environment unpacked) and
   the sealing of its outputs — runs in a thread of its own, at most
   WORKERS_MAX at once (the others wait in order). A thread talks to the
   loop over a socketpair: 32 bytes ask the loop to have a digest signed by
   the keys process (the answer comes back on the same socket), one byte
   says it has finished. It owns the job while it runs; the loop reads the
   result after the join. Threads never touch the component: they use their
   own store handle (capsule_store_t is not thread-safe; the quota is
   counted per handle) and copies of what they need. */

static void *
s_worker_trampoline (void *arg)
{
    s_worker_t *job = arg;
    job->main (job);
    uint8_t done = 0;
    (void)!send (job->sv[1], &done, 1, 0);
    return NULL;
}

static void
s_worker_free (s_worker_t *job)
{
    if (job->sv[0] >= 0)
        close (job->sv[0]);
    if (job->sv[1] >= 0)
        close (job->sv[1]);
    if (job->fd >= 0)
        close (job->fd);
    for (size_t i = 0; i < job->need_count; i++)
        capsule_key_destroy (&job->needs[i].key);
    free (job->header);
    free (job);
}

static s_worker_t *
s_worker_new (node_capsule_t *self, s_work_kind_t kind, void (*main) (s_worker_t *))
{
    s_worker_t *job = calloc (1, sizeof *job);
    if (!job)
        wd_fatalx ("out of memory");
    job->owner = self;
    job->kind = kind;
    job->main = main;
    job->sv[0] = job->sv[1] = job->fd = -1;
    memcpy (job->chain, self->chain, WD_CHAIN_ID_LEN);
    snprintf (job->store_dir, sizeof job->store_dir, "%s", capsule_store_dir (self->store));
    job->quota = capsule_store_quota (self->store);
    job->max_capsule = self->max_capsule;
    return job;
}

/* A store handle of the thread's own (why gets the reason on failure). */
static capsule_store_t *
s_worker_store (s_worker_t *job)
{
    capsule_store_t *store = NULL;
    char why[200];
    int rc = capsule_store_open (job->store_dir, job->quota, &store, why, sizeof why);
    if (rc != WD_OK) {
        job->rc = rc;
        snprintf (job->why, sizeof job->why, "capsule store: %s", why);
    }
    return store;
}

static int
s_on_worker (zloop_t *loop, zmq_pollitem_t *item, void *arg);

static void
s_workers_start (node_capsule_t *self)
{
    size_t running = 0;
    for (s_worker_t *j = self->workers; j; j = j->next)
        running += j->started;
    for (s_worker_t *j = self->workers; j && running < WORKERS_MAX; j = j->next) {
        if (j->started)
            continue;
        if (socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, j->sv) != 0)
            wd_fatal ("socketpair");
        j->item = (zmq_pollitem_t){ .fd = j->sv[0], .events = ZMQ_POLLIN };
        if (zloop_poller (self->loop, &j->item, s_on_worker, j) != 0)
            wd_fatal ("zloop_poller");
        if (pthread_create (&j->thread, NULL, s_worker_trampoline, j) != 0)
            wd_fatal ("pthread_create");
        j->started = true;
        running++;
    }
}

/* Queues job (started at once when fewer than WORKERS_MAX run). */
static void
s_worker_submit (node_capsule_t *self, s_worker_t *job)
{
    s_worker_t **p = &self->workers;
    while (*p)
        p = &(*p)->next;
    *p = job;
    s_workers_start (self);
}

static int
s_bridge_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    s_worker_t *job = ctx;
    uint8_t answer[1 + WD_SIG_LEN];
    if (send (job->sv[1], digest, WD_DIGEST_LEN, 0) != WD_DIGEST_LEN ||
        recv (job->sv[1], answer, sizeof answer, 0) != (ssize_t)sizeof answer || answer[0] != 1)
        return WD_ERR_UNAVAILABLE;
    memcpy (sig, answer + 1, WD_SIG_LEN);
    return WD_OK;
}

static void
s_bridge_signed (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason)
{
    s_worker_t *job = arg;
    job->sign_pending = false;
    if (!job->owner) {
        s_worker_free (job); /* the component has gone and joined the thread */
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

static void
s_put_done (node_capsule_t *self, s_worker_t *job);
static void
s_prepare_done (node_capsule_t *self, s_worker_t *job);
static void
s_seal_done (node_capsule_t *self, s_worker_t *job);

static int
s_on_worker (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)item;
    s_worker_t *job = arg;
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
    for (s_worker_t **p = &self->workers; *p; p = &(*p)->next)
        if (*p == job) {
            *p = job->next;
            break;
        }
    if (job->kind == W_PUT)
        s_put_done (self, job);
    else if (job->kind == W_PREPARE)
        s_prepare_done (self, job);
    else
        s_seal_done (self, job);
    s_worker_free (job);
    s_workers_start (self);
    return 0;
}

/* Stops every worker: the queued ones are dropped, the running ones told
   to stop (a thread waiting for a signature gives up at once; a
   preparation stops between files) and joined. */
static void
s_workers_stop (node_capsule_t *self)
{
    while (self->workers) {
        s_worker_t *job = self->workers;
        self->workers = job->next;
        if (!job->started) {
            s_worker_free (job);
            continue;
        }
        zloop_poller_end (self->loop, &job->item);
        atomic_store (&job->cancel, true);
        shutdown (job->sv[0], SHUT_RDWR);
        pthread_join (job->thread, NULL);
        job->owner = NULL;
        if (!job->sign_pending)
            s_worker_free (job);
    }
}

/* ---- uploads (a worker) ----------------------------------------------------------- */

static void
s_put_main (s_worker_t *job)
{
    capsule_store_t *store = s_worker_store (job);
    if (!store)
        return;
    job->header = malloc (sizeof *job->header);
    int rc = job->header ? capsule_parse_fd (job->fd, job->chain, job->max_capsule, job->header)
                         : WD_ERR_NOMEM;
    if (rc == WD_OK && job->header->kind != CAPSULE_KIND_RESULT &&
        !capsule_is_recipient (job->header, job->curve_pk))
        rc = CAPSULE_ERR_NOT_RECIPIENT;
    if (rc == WD_OK)
        rc = lseek (job->fd, 0, SEEK_SET) == 0
                 ? capsule_store_put_fd (store, job->fd, job->header->id, job->id)
                 : WD_ERR_IO;
    job->rc = rc;
    capsule_store_close (&store);
}

static void
s_put_done (node_capsule_t *self, s_worker_t *job)
{
    int rc = job->rc;
    if (rc == WD_OK)
        s_header_remember (self, job->header);
    if (!job->client)
        return;
    if (rc != WD_OK) {
        char what[WD_MSG_ERROR_MAX + 1];
        (void)s_fmt (what, sizeof what, "capsule refused: %s%s",
                     job->why[0] ? job->why : node_capsule_strerror (rc),
                     rc == CAPSULE_ERR_NOT_RECIPIENT ? " (seal it with a wrap to this node's key)"
                                                     : "");
        s_reply_error (self, job->client, job->peer, rc, what);
        return;
    }
    size_t len;
    uint8_t *body = node_capsule_encode_stored (job->id, capsule_kind_name (job->header->kind),
                                                job->header->total_len, &len);
    self->reply (job->client, job->peer, WD_MSG_CTL_CAPSULE_PUT_REPLY, body, len, -1);
    free (body);
    wd_log_info ("capsule: stored %s capsule %s (%llu bytes)",
                 capsule_kind_name (job->header->kind), wd_short_id (job->id).s,
                 (unsigned long long)job->header->total_len);
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

/* ---- preparing the work area (a worker) and running ------------------------------- */

/* Decrypts stored capsule id (with its released key) into path, after the
   store's and the format's checks; the kind must be one of kinds. */
static int
s_decrypt (s_worker_t *job, capsule_store_t *store, const s_wneed_t *need, const char *path,
           mode_t mode, capsule_kind_t kind, capsule_kind_t or_kind)
{
    int in = -1;
    uint64_t size;
    int rc = capsule_store_get_fd (store, need->id, &in, &size);
    capsule_header_t *h = rc == WD_OK ? malloc (sizeof *h) : NULL;
    if (rc == WD_OK && !h)
        rc = WD_ERR_NOMEM;
    if (rc == WD_OK)
        rc = capsule_parse_fd (in, job->chain, job->max_capsule, h);
    if (rc == WD_OK && h->kind != kind && h->kind != or_kind)
        rc = CAPSULE_ERR_CAPSULE_KIND;
    if (rc == WD_OK) {
        int out = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, mode);
        if (out < 0)
            rc = WD_ERR_IO;
        else {
            rc = capsule_open_fd (h, in, need->key, out);
            if (close (out) != 0 && rc == WD_OK)
                rc = WD_ERR_IO;
            if (rc == WD_OK &&
                chown (path, CAPSULE_SANDBOX_DEFAULT_HOST_ID, CAPSULE_SANDBOX_DEFAULT_HOST_ID) != 0)
                rc = WD_ERR_IO;
        }
    }
    if (in >= 0)
        close (in);
    free (h);
    if (rc != WD_OK)
        snprintf (job->why, sizeof job->why, "%s: %s", need->name, node_capsule_strerror (rc));
    return rc;
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

/* The thread: a fresh work area, the environment decrypted to a tar on
   the tmpfs, unpacked and removed, the code in code/, the inputs in in/;
   the keys are wiped as soon as they were used. */
static void
s_prepare_main (s_worker_t *job)
{
    char path[PATH_MAX], dir[PATH_MAX];
    char why[256] = "";
    capsule_store_t *store = s_worker_store (job);
    if (!store)
        return;
    int rc = WD_OK;
    capsule_env_remove_tree (job->work, why, sizeof why);
    why[0] = 0;
    if ((mkdir (job->work_dir, 0711) != 0 && errno != EEXIST) || mkdir (job->work, 0755) != 0) {
        rc = CAPSULE_ERR_EXEC_WORK;
        snprintf (job->why, sizeof job->why, "cannot create the task's work area");
        goto out;
    }
    (void)s_fmt (path, sizeof path, "%s/env.tar", job->work);
    rc = s_decrypt (job, store, &job->needs[1], path, 0600, CAPSULE_KIND_ENV, CAPSULE_KIND_ENV);
    capsule_key_destroy (&job->needs[1].key);
    if (rc == WD_OK && !atomic_load (&job->cancel)) {
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        (void)s_fmt (dir, sizeof dir, "%s/root", job->work);
        rc = fd < 0 ? WD_ERR_IO : capsule_env_unpack_fd (fd, dir, NULL, NULL, why, sizeof why);
        if (fd >= 0)
            close (fd);
        if (rc != WD_OK)
            snprintf (job->why, sizeof job->why, "the environment: %s%s%s",
                      node_capsule_strerror (rc), why[0] ? ": " : "", why);
    }
    unlink (path);
    static const char *const mounts[] = { "code", "in", "out", "tmp", "proc", "dev" };
    for (size_t i = 0; i < 6 && rc == WD_OK; i++)
        rc = s_mkdir (dir, mounts[i], path, sizeof path);
    if (rc == WD_OK)
        rc = s_mkdir (job->work, "code", dir, sizeof dir);
    if (rc == WD_OK && !atomic_load (&job->cancel)) {
        (void)s_fmt (path, sizeof path, "%s/%s", dir, job->code_name);
        rc = s_decrypt (job, store, &job->needs[0], path, 0500, CAPSULE_KIND_CODE,
                        CAPSULE_KIND_CODE);
    }
    capsule_key_destroy (&job->needs[0].key);
    if (rc == WD_OK)
        rc = s_mkdir (job->work, "in", dir, sizeof dir);
    for (size_t i = 2; i < job->need_count && rc == WD_OK; i++) {
        if (atomic_load (&job->cancel))
            rc = WD_ERR_UNAVAILABLE;
        (void)s_fmt (path, sizeof path, "%s/%s", dir, job->needs[i].name);
        /* a result capsule may feed a later task */
        if (rc == WD_OK)
            rc = s_decrypt (job, store, &job->needs[i], path, 0400, CAPSULE_KIND_DATA,
                            CAPSULE_KIND_RESULT);
        capsule_key_destroy (&job->needs[i].key);
    }
    if (rc == WD_OK)
        rc = s_mkdir (job->work, "out", dir, sizeof dir);
out:
    job->rc = rc;
    capsule_store_close (&store);
}

/* Hands the task's keys to a preparation worker. */
static void
s_exec_run (node_capsule_t *self, s_task_t *t)
{
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hex_encode (hex, t->id, WD_DIGEST_LEN);
    (void)s_fmt (t->work, sizeof t->work, "%s/%s", self->work_dir, hex);
    s_worker_t *job = s_worker_new (self, W_PREPARE, s_prepare_main);
    memcpy (job->task, t->id, WD_DIGEST_LEN);
    snprintf (job->work, sizeof job->work, "%s", t->work);
    snprintf (job->work_dir, sizeof job->work_dir, "%s", self->work_dir);
    snprintf (job->code_name, sizeof job->code_name, "%s", s_code_name (&t->task));
    job->need_count = t->need_count;
    for (size_t i = 0; i < t->need_count; i++) {
        memcpy (job->needs[i].id, t->needs[i].id, CAPSULE_ID_LEN);
        snprintf (job->needs[i].name, sizeof job->needs[i].name, "%s", t->needs[i].name);
        job->needs[i].key = t->needs[i].key; /* the worker wipes them */
        t->needs[i].key = NULL;
    }
    s_needs_free (t);
    t->exec = X_PREPARING;
    s_worker_submit (self, job);
}

static void
s_prepare_done (node_capsule_t *self, s_worker_t *job)
{
    s_task_t *t = s_task_find (self, job->task);
    if (!t || t->exec != X_PREPARING)
        return;
    if (!s_still_executor (self, t)) {
        s_wipe_work (t);
        t->exec = X_OVER;
        return;
    }
    if (job->rc != WD_OK) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        (void)s_fmt (reason, sizeof reason, "preparing the work area: %s",
                     job->why[0] ? job->why : node_capsule_strerror (job->rc));
        s_exec_fail (self, t, job->rc, reason);
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
    size_t kept_len = 0;
    uint8_t *kept = s_final_load (self, t->id, &kept_len);
    if (kept) {
        /* this node ended the task before a restart: the same record again */
        t->exec = X_OVER;
        wd_envelope_t env;
        t->receipt_out = wd_envelope_decode (kept, kept_len, &env) == WD_OK &&
                         strcmp (env.type, CAPSULE_RECEIPT_TYPE) == 0;
        int rc = node_mesh_publish_record (self->mesh, kept, kept_len);
        wd_log_info (
            "capsule: task %s ended before a restart: its final record published again%s%s",
            wd_short_id (t->id).s, rc == WD_OK ? "" : ": ",
            rc == WD_OK ? "" : node_capsule_strerror (rc));
        free (kept);
        return;
    }
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

/* ---- sealing the outputs (a worker) ------------------------------------------------ */

static void
s_seal_main (s_worker_t *job)
{
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
    /* into the store: hashed and copied here, not on the loop */
    capsule_store_t *store = job->rc == WD_OK && job->count ? s_worker_store (job) : NULL;
    for (size_t i = 0; store && i < job->count && job->rc == WD_OK; i++) {
        snprintf (path, sizeof path, "%s/sealed-%zu", job->work, i);
        int fd = open (path, O_RDONLY | O_CLOEXEC);
        job->rc = fd < 0 ? WD_ERR_IO : capsule_store_put_fd (store, fd, NULL, job->out_ids[i]);
        if (fd >= 0)
            close (fd);
        if (job->rc != WD_OK)
            snprintf (job->why, sizeof job->why, "storing %s: %s", job->names[i],
                      capsule_strerror (job->rc));
    }
    capsule_store_close (&store);
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
            t->receipt_out = true;
            s_final_keep (self, t->id, envelope, len);
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
s_exec_finish (node_capsule_t *self, s_task_t *t, s_worker_t *job)
{
    capsule_receipt_t *r = calloc (1, sizeof *r);
    if (!r)
        wd_fatalx ("out of memory");
    int rc = job->rc;
    if (rc != WD_OK) {
        char reason[NODE_CAPSULE_REASON_MAX + 1];
        (void)s_fmt (reason, sizeof reason, "outputs: %s",
                     job->why[0] ? job->why : node_capsule_strerror (rc));
        free (r);
        s_exec_fail (self, t, CAPSULE_ERR_EXEC_OUTPUT, reason);
        return;
    }
    r->output_count = job->count;
    memcpy (r->outputs, job->out_ids, sizeof r->outputs[0] * job->count);
    memcpy (r->task, t->id, WD_DIGEST_LEN);
    memcpy (r->code, t->task.code, WD_DIGEST_LEN);
    memcpy (r->env, t->task.env, WD_DIGEST_LEN);
    r->input_count = t->task.input_count;
    for (size_t i = 0; i < t->task.input_count; i++)
        memcpy (r->inputs[i], t->task.inputs[i].id, WD_DIGEST_LEN);
    memcpy (r->proof, t->proof, sizeof r->proof);
    node_capsule_facts_t facts;
    s_facts (self, self->cert->sign_pk, &facts, r->executor_evidence);
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

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (a, b);
}

/* The sandbox has ended: seal what it left in out/ (a worker). */
static void
s_exec_seal (node_capsule_t *self, s_task_t *t)
{
    s_worker_t *job = s_worker_new (self, W_SEAL, s_seal_main);
    memcpy (job->task, t->id, WD_DIGEST_LEN);
    snprintf (job->work, sizeof job->work, "%s", t->work);
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
    t->exec = X_SEALING;
    s_worker_submit (self, job);
}

static void
s_seal_done (node_capsule_t *self, s_worker_t *job)
{
    s_task_t *t = s_task_find (self, job->task);
    if (!t || t->exec != X_SEALING)
        return;
    if (s_still_executor (self, t))
        s_exec_finish (self, t, job);
    else {
        s_wipe_work (t); /* its results are sealed, but the task is another's now */
        t->exec = X_OVER;
    }
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
    node_capsule_info_t info = { .node_count = node_mesh_node_count (self->mesh) };
    memcpy (info.chain, self->chain, WD_CHAIN_ID_LEN);
    memcpy (info.self.id, self->cert->sign_pk, WD_PUBKEY_LEN);
    memcpy (info.self.curve, self->cert->curve_pk, WD_PUBKEY_LEN);
    snprintf (info.self.name, sizeof info.self.name, "%s", self->cert->name);
    info.nodes = calloc (info.node_count ? info.node_count : 1, sizeof *info.nodes);
    if (!info.nodes)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < info.node_count; i++) {
        const wd_cert_t *c = node_mesh_node (self->mesh, i);
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

/* An upload: parsed, checked and stored by a worker (a large capsule takes
   seconds to hash); the reply follows when it is done. Takes fd. */
static void
s_ctl_put (node_capsule_t *self, void *client, uint32_t peer, int fd)
{
    s_worker_t *job = s_worker_new (self, W_PUT, s_put_main);
    job->client = client;
    job->peer = peer;
    job->fd = fd;
    memcpy (job->curve_pk, self->curve_pk, CAPSULE_CURVE_LEN);
    s_worker_submit (self, job);
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
    if (!node_mesh_find_node (self->mesh, holder)) {
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
    for (size_t i = 0; i < node_mesh_node_count (self->mesh) && !any; i++)
        any = s_eligible (self, node_mesh_node (self->mesh, i)->sign_pk,
                          (const uint8_t *const *)s->policies, s->policy_lens, s->count) == 0;
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
        } else if (!node_mesh_find_node (self->mesh, holder)) {
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
        /* the executor tells its own progress (docs/PROTOCOL.md "Capsule
           control requests", status) */
        static const char *const stages[] = {
            [X_IDLE] = "selected",   [X_GATHER] = "releasing", [X_PREPARING] = "released",
            [X_RUNNING] = "running", [X_SEALING] = "sealing",  [X_FINISHING] = "sealing",
            [X_OVER] = "sealed",
        };
        if (s_still_executor (self, t))
            snprintf (st->state, sizeof st->state, "%s",
                      t->exec == X_OVER && !t->receipt_out ? "failing" : stages[t->exec]);
        if (t->state != S_POSTED)
            memcpy (st->executor, t->executor, WD_PUBKEY_LEN);
        st->height = t->height;
        st->round = t->claims.round;
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
            msg->fds[0] = -1; /* taken */
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
    for (s_worker_t *job = self->workers; job; job = job->next)
        if (job->client == client)
            job->client = NULL;
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
        uint64_t time_ms = block.time;
        cons_block_release (&block);
        free (bytes);
        self->scanned = h;
        s_after_block (self, h, time_ms);
    }
    /* what the new state asks of this node */
    for (s_task_t *t = self->tasks; t; t = t->next) {
        if (t->state == S_POSTED && !t->considered[t->claims.round] &&
            tip < node_capsule_claims_end (&t->claims))
            s_claim_start (self, t);
        else if (s_still_executor (self, t) && t->exec == X_IDLE)
            s_exec_start (self, t);
        else if (!s_still_executor (self, t) && t->exec != X_IDLE && t->exec != X_OVER &&
                 t->exec != X_PREPARING && t->exec != X_SEALING && t->exec != X_FINISHING) {
            /* decided elsewhere (a restart), or passed over for a missed
               deadline: the work stops here (workers check on their end) */
            s_needs_free (t);
            s_wipe_work (t);
            t->exec = X_OVER;
        }
        if ((t->state == S_DONE || t->state == S_FAILED) && !t->final_forgotten) {
            /* the ledger has the task's end: a record this node kept as one
               of its executors (a passed-over one too) is not needed now */
            s_final_forget (self, t->id);
            t->final_forgotten = true;
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
    s_workers_stop (self);
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
    for (size_t i = 0; i < HEADER_CACHE; i++)
        free (self->headers[i].h);
    if (self->work_dir[0])
        rmdir (self->work_dir); /* only when empty: never another run's areas */
    capsule_store_close (&self->store);
    if (self->curve_sk)
        sodium_free (self->curve_sk);
    free (self);
    *self_p = NULL;
}
