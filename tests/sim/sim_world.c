/*
 * sim_world: the simulated validator set, network and byzantine drivers
 * around consensus/cons_agree (see sim_world.h).
 *
 * Each node is a driver around one real cons_agree instance, doing what
 * wardend's engine will do: it persists PERSIST records before anything
 * that follows them, signs the machine's unsigned messages (Ed25519 over the
 * signing-rule digest, as the keys process does), feeds its own signed
 * messages back to its machine and sends them, runs timers on the virtual
 * clock, keeps its ledger of decided blocks with their certificates, keeps
 * messages for the next height and feeds them after NEW_HEIGHT, answers a
 * peer that is behind with catch-up commits, and, when its height has not
 * moved for a while, sends again its own messages of the height and the
 * messages it accepted for the recent rounds (a stand-in for the gossip
 * layer's repair, which the agreement's liveness assumes).
 *
 * Byzantine roles (the machine underneath stays the real one):
 *   twin       two nodes with one key, each running the honest driver
 *   equivocate signs two proposals (one of them sometimes invalid) and two
 *              votes per step, and sends each to a different part of the
 *              network
 *   silent     never sends anything
 *   forge      sends its messages with corrupted signatures to some peers,
 *              and messages under other validators' keys signed with its own
 *   unknown    votes for random block ids nobody proposed
 *   split      the attack the lock rule exists for. In each round it picks
 *              a victim: its proposal (always a fresh block, pol_round -1,
 *              never its valid value) and its prevotes for a block go to
 *              every node but the victim, so the victim misses the proof
 *              of lock the others see; its precommit for a block goes to
 *              one other node only (nil to the rest), so that node decides
 *              while the others, locked or not, move on to a round whose
 *              fresh block only the lock rule keeps them from deciding
 *
 * Invariants, checked as the run goes:
 *   agreement  no two honest nodes decide different blocks at one height
 *   validity   a decided block is well formed for its height, extends the
 *              decided chain, and was proposed in a signed proposal
 *   certificate every decision's certificate verifies with more than 2/3
 *              of the weight, for that block, height and round
 *   evidence   every evidence verifies, and accuses only byzantine keys
 *   no double signing by honest nodes, across crashes and restarts
 *   forgeries  a message with a bad signature is never accepted, and a
 *              message an honest node signed is never refused as forged
 *   termination every honest node decides options->heights heights before
 *              a deadline after GST
 *
 * Signatures: see sim_sig_mode_t in sim_world.h. The memo is keyed by the
 * whole (key, digest, signature) triple, so no answer is reused for
 * anything but that exact triple.
 */
#include "sim_world.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_agree.h"
#include "cons_sortition.h"
#include "wd_bytes.h"
#include "wd_envelope.h"
#include "wd_hash.h"
#include "wd_rand.h"

#define S_BLOCK_LEN    56 /* "SIMB" height(8) proposer(4) nonce(8) prev(32) */
#define S_GOSSIP_MS    700
#define S_FUTURE_MAX   4096 /* messages kept for the next height, per node */
#define S_CATCHUP_MAX  16   /* commits sent to a peer at once */
#define S_RELAY_ROUNDS 3    /* recent rounds whose accepted messages are sent again */

typedef enum {
    S_HONEST,
    S_TWIN,
    S_EQUIVOCATE,
    S_SILENT,
    S_FORGE,
    S_UNKNOWN,
    S_SPLIT,
} s_role_t;

static const char *const s_role_names[] = { "honest", "twin",    "equivocate", "silent",
                                            "forge",  "unknown", "split" };

typedef enum { S_MSG_ENVELOPE, S_MSG_COMMIT, S_MSG_CANDIDATE } s_msg_kind_t;

/* A message on the wire or in a queue, shared by reference. */
typedef struct {
    int refs;
    s_msg_kind_t kind;
    uint64_t height;
    uint32_t round;
    bool forged; /* carries a bad signature */
    bool honest; /* signed by an honest node */
    uint8_t *data;
    size_t len;
    uint8_t *cert;
    size_t cert_len;
} s_msg_t;

typedef enum {
    S_EV_DELIVER,
    S_EV_TIMER,
    S_EV_GOSSIP,
    S_EV_CRASH,
    S_EV_RESTART,
    S_EV_PARTITION,
    S_EV_HEAL,
    S_EV_GST,
} s_ev_kind_t;

typedef struct {
    uint64_t time;
    uint64_t seq;
    s_ev_kind_t kind;
    int node;
    int from;
    uint32_t incarnation;
    bool torn;
    bool repair; /* sent by the gossip repair of a node that is stuck */
    s_msg_t *msg;
    cons_timer_t timer;
    uint64_t height;
    uint32_t round;
} s_event_t;

typedef struct {
    uint8_t id[32];
    uint8_t *block;
    size_t block_len;
    uint8_t *cert;
    size_t cert_len;
} s_entry_t;

typedef struct {
    s_msg_t *msg;
    uint32_t round;
    bool own;
} s_logged_t;

typedef struct sim_world s_world_t;

typedef struct {
    s_world_t *world;
    int index;
    uint32_t validator;
    s_role_t role;
    bool honest;
    cons_agree_t *agree;
    bool alive;
    bool torn; /* crash right after the next PERSIST */
    uint32_t incarnation;
    uint8_t sk[crypto_sign_SECRETKEYBYTES];
    uint8_t *saved;
    size_t saved_len;
    s_entry_t *ledger;
    size_t ledger_len, ledger_cap;
    s_logged_t *log; /* messages of the current height */
    size_t log_len, log_cap;
    s_msg_t **future;
    size_t future_len, future_cap;
    uint64_t gossip_height;
    uint64_t *catchup_at;  /* per node: time of the last catch-up sent */
    int group;             /* partition group */
    uint64_t fresh_height; /* split role: its last fresh proposal */
    uint32_t fresh_round;
    uint8_t fresh_id[32];
} s_node_t;

/* An open-addressing table of fixed-size entries, each a used byte, a key
   of key_len bytes and a value of value_len bytes: the memo of signature
   checks (key: public key, digest, signature; value: the answer) and the
   honest signatures (key: validator, height, round and step; value: nil
   and block id). */
typedef struct {
    uint8_t *slots;
    size_t cap, len, key_len, value_len;
} s_table_t;

struct sim_world {
    sim_options_t opt;
    sim_stats_t *stats;
    char *why;
    size_t why_len;
    bool failed;

    wd_rand_t rng;
    uint64_t now;
    uint64_t seq;
    bool repairing; /* inside s_gossip */
    uint8_t chain[WD_CHAIN_ID_LEN];
    cons_agree_params_t params;
    wd_vrf_key_t **vrf; /* per validator, with options.sortition */

    size_t nvals;
    cons_validator_t *vals;
    s_role_t *val_role;
    size_t nnodes;
    s_node_t *nodes;

    /* network */
    bool stable;
    uint64_t gst;
    unsigned drop_pm, dup_pm; /* per mille */
    uint32_t delay_max;
    uint32_t stable_delay_max;

    s_event_t *heap;
    size_t heap_len, heap_cap;

    /* local inputs of the node being stepped */
    struct s_local {
        int node;
        int from;
        bool repair;
        s_msg_t *msg;
    } * fifo;
    size_t fifo_head, fifo_len, fifo_cap;

    /* invariants */
    s_entry_t *decided; /* id only */
    bool *decided_set;
    size_t decided_cap;
    uint8_t (*proposed)[32];
    size_t proposed_len, proposed_cap;
    s_table_t signed_tab;
    s_table_t memo;
};

/* ---- utilities ----------------------------------------------------------- */

static uint64_t
s_rand (s_world_t *w)
{
    return wd_rand_next (&w->rng);
}

static uint64_t
s_below (s_world_t *w, uint64_t n)
{
    return n ? s_rand (w) % n : 0;
}

static uint64_t
s_between (s_world_t *w, uint64_t lo, uint64_t hi)
{
    return lo + s_below (w, hi - lo + 1);
}

static void
s_random_bytes (s_world_t *w, uint8_t *out, size_t len)
{
    for (size_t i = 0; i < len; i++)
        out[i] = (uint8_t)(s_rand (w) >> 56);
}

static bool
s_chance (s_world_t *w, unsigned per_mille)
{
    return s_below (w, 1000) < per_mille;
}

static void *
s_grow (void *p, size_t *cap, size_t need, size_t size)
{
    if (need <= *cap)
        return p;
    size_t c = *cap ? *cap : 16;
    while (c < need)
        c *= 2;
    void *q = realloc (p, c * size);
    assert (q);
    *cap = c;
    return q;
}

static void __attribute__ ((format (printf, 2, 3))) s_fail (s_world_t *w, const char *fmt, ...)
{
    if (w->failed)
        return;
    w->failed = true;
    char msg[512];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (msg, sizeof msg, fmt, ap);
    va_end (ap);
    snprintf (w->why, w->why_len, "t=%llu ms: %s", (unsigned long long)w->now, msg);
}

static void __attribute__ ((format (printf, 2, 3))) s_trace (s_world_t *w, const char *fmt, ...)
{
    if (!w->opt.trace)
        return;
    va_list ap;
    fprintf (stderr, "%8llu ", (unsigned long long)w->now);
    va_start (ap, fmt);
    vfprintf (stderr, fmt, ap);
    va_end (ap);
    fputc ('\n', stderr);
}

/* ---- messages and events ----------------------------------------------------- */

static s_msg_t *
s_msg_new (s_msg_kind_t kind, uint64_t height, uint32_t round, uint8_t *data, size_t len)
{
    s_msg_t *m = calloc (1, sizeof *m);
    assert (m);
    m->refs = 1;
    m->kind = kind;
    m->height = height;
    m->round = round;
    m->data = data;
    m->len = len;
    return m;
}

static s_msg_t *
s_msg_ref (s_msg_t *m)
{
    m->refs++;
    return m;
}

static void
s_msg_unref (s_msg_t **mp)
{
    s_msg_t *m = *mp;
    if (m && --m->refs == 0) {
        free (m->data);
        free (m->cert);
        free (m);
    }
    *mp = NULL;
}

static bool
s_ev_before (const s_event_t *a, const s_event_t *b)
{
    return a->time < b->time || (a->time == b->time && a->seq < b->seq);
}

static void
s_push (s_world_t *w, s_event_t ev)
{
    ev.seq = w->seq++;
    w->heap = s_grow (w->heap, &w->heap_cap, w->heap_len + 1, sizeof *w->heap);
    size_t i = w->heap_len++;
    while (i > 0) {
        size_t parent = (i - 1) / 2;
        if (!s_ev_before (&ev, &w->heap[parent]))
            break;
        w->heap[i] = w->heap[parent];
        i = parent;
    }
    w->heap[i] = ev;
}

static s_event_t
s_pop (s_world_t *w)
{
    s_event_t top = w->heap[0];
    s_event_t last = w->heap[--w->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= w->heap_len)
            break;
        if (c + 1 < w->heap_len && s_ev_before (&w->heap[c + 1], &w->heap[c]))
            c++;
        if (!s_ev_before (&w->heap[c], &last))
            break;
        w->heap[i] = w->heap[c];
        i = c;
    }
    if (w->heap_len > 0)
        w->heap[i] = last;
    return top;
}

/* ---- signatures ----------------------------------------------------------------- */

static uint64_t
s_table_hash (const uint8_t *key, size_t len)
{
    uint64_t h = 1469598103934665603ull; /* FNV-1a */
    for (size_t i = 0; i < len; i++)
        h = (h ^ key[i]) * 1099511628211ull;
    return h;
}

/* The entry of key: found (*fresh false), or new with a zero value
   (*fresh true). Returns a pointer to its value. */
static uint8_t *
s_table_get (s_table_t *t, const uint8_t *key, bool *fresh)
{
    size_t entry = 1 + t->key_len + t->value_len;
    if (2 * (t->len + 1) > t->cap) {
        s_table_t old = *t;
        t->cap = old.cap ? old.cap * 2 : 1024;
        t->slots = calloc (t->cap, entry);
        assert (t->slots);
        t->len = 0;
        for (size_t i = 0; i < old.cap; i++) {
            uint8_t *e = old.slots + i * entry;
            if (!e[0])
                continue;
            size_t j = s_table_hash (e + 1, t->key_len) % t->cap;
            while (t->slots[j * entry])
                j = (j + 1) % t->cap;
            memcpy (t->slots + j * entry, e, entry);
            t->len++;
        }
        free (old.slots);
    }
    size_t j = s_table_hash (key, t->key_len) % t->cap;
    uint8_t *e;
    while ((e = t->slots + j * entry)[0]) {
        if (memcmp (e + 1, key, t->key_len) == 0) {
            *fresh = false;
            return e + 1 + t->key_len;
        }
        j = (j + 1) % t->cap;
    }
    e[0] = 1;
    memcpy (e + 1, key, t->key_len);
    t->len++;
    *fresh = true;
    return e + 1 + t->key_len;
}

/* The memo's answer for a triple: 1 valid, 2 invalid, 0 not known yet. */
static uint8_t *
s_memo_slot (s_world_t *w, const uint8_t pk[32], const uint8_t digest[32], const uint8_t sig[64])
{
    uint8_t key[128];
    memcpy (key, pk, 32);
    memcpy (key + 32, digest, 32);
    memcpy (key + 64, sig, 64);
    bool fresh;
    return s_table_get (&w->memo, key, &fresh);
}

static bool
s_verify (void *ctx, const uint8_t pk[32], const uint8_t digest[32], const uint8_t sig[64])
{
    s_node_t *node = ctx;
    s_world_t *w = node->world;
    if (w->opt.signatures == SIM_SIG_EVERY) {
        w->stats->verifications++;
        return crypto_sign_verify_detached (sig, digest, 32, pk) == 0;
    }
    uint8_t *answer = s_memo_slot (w, pk, digest, sig);
    if (*answer == 0) {
        w->stats->verifications++;
        *answer = crypto_sign_verify_detached (sig, digest, 32, pk) == 0 ? 1 : 2;
    }
    return *answer == 1;
}

/* Makes an envelope of msg signed with sk under `from` (normally sk's own
   public key; a forger passes another). */
static s_msg_t *
s_seal (s_world_t *w, const cons_msg_t *msg, const uint8_t *sk, const uint8_t from[32])
{
    size_t body_len;
    uint8_t *body = cons_msg_encode_body (msg, &body_len);
    wd_envelope_t env = { .body = body, .body_len = body_len };
    snprintf (env.type, sizeof env.type, "%s", cons_kind_type (msg->kind));
    memcpy (env.chain, w->chain, 32);
    memcpy (env.from, from, 32);
    uint8_t digest[32];
    wd_envelope_digest (digest, env.type, env.chain, body, body_len);
    crypto_sign_detached (env.sig, NULL, digest, 32, sk);
    w->stats->signatures++;
    if (w->opt.signatures == SIM_SIG_TRUSTED && memcmp (sk + 32, from, 32) == 0) {
        /* Made just now with the signer's own key (libsodium keeps the
           public key in the second half of the secret key). */
        *s_memo_slot (w, from, digest, env.sig) = 1;
    }
    uint8_t *out;
    size_t out_len;
    wd_envelope_encode (&env, &out, &out_len);
    free (body);
    return s_msg_new (S_MSG_ENVELOPE, msg->height, msg->round, out, out_len);
}

/* A copy of an envelope with one bit of its signature flipped. The
   signature is the 64 bytes after "sig" c4 40 in the canonical map. */
static s_msg_t *
s_corrupt (s_world_t *w, const s_msg_t *m)
{
    uint8_t *copy = malloc (m->len);
    assert (copy);
    memcpy (copy, m->data, m->len);
    static const uint8_t tag[] = { 0xa3, 's', 'i', 'g', 0xc4, 0x40 };
    for (size_t i = 0; i + sizeof tag + 64 <= m->len; i++)
        if (memcmp (copy + i, tag, sizeof tag) == 0) {
            copy[i + sizeof tag + s_below (w, 64)] ^= (uint8_t)(1u << s_below (w, 8));
            break;
        }
    s_msg_t *c = s_msg_new (S_MSG_ENVELOPE, m->height, m->round, copy, m->len);
    c->forged = true;
    return c;
}

/* ---- blocks ------------------------------------------------------------------------ */

static void
s_block (uint8_t out[S_BLOCK_LEN], uint64_t height, uint32_t proposer, uint64_t nonce,
         const uint8_t prev[32])
{
    memcpy (out, "SIMB", 4);
    wd_put_be (out + 4, height, 8);
    wd_put_be (out + 12, proposer, 4);
    wd_put_be (out + 16, nonce, 8);
    memcpy (out + 24, prev, 32);
}

static const uint8_t *
s_prev_id (s_node_t *node, uint64_t height)
{
    static const uint8_t zero[32];
    if (height <= 1)
        return zero;
    assert (node->ledger_len >= height - 1);
    return node->ledger[height - 2].id;
}

/* The ledger's rule: a block for this height on top of this node's chain. */
static bool
s_valid (void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    s_node_t *node = ctx;
    if (len != S_BLOCK_LEN || memcmp (block, "SIMB", 4) != 0 || wd_get_be (block + 4, 8) != height)
        return false;
    if (node->ledger_len < height - 1)
        return false;
    return memcmp (block + 24, s_prev_id (node, height), 32) == 0;
}

/* Real sortition (options.sortition): the proposer role of cons_sortition
   with tau = 2 on the simulator's chain id as the seed, so about two
   validators propose each round, as with the stand-in below. */
#define S_SORTITION_TAU 2

static void
s_sortition_input (s_world_t *w, uint32_t validator, uint64_t height, uint32_t round,
                   cons_sortition_input_t *in)
{
    memset (in, 0, sizeof *in);
    memcpy (in->chain_id, w->chain, sizeof in->chain_id);
    memcpy (in->seed, w->chain, sizeof in->seed);
    in->role = CONS_ROLE_PROPOSER;
    in->height = height;
    in->round = round;
    in->weight = w->vals[validator].weight;
    in->total_weight = cons_validators_total (w->vals, w->nvals);
    in->tau = S_SORTITION_TAU;
}

/* Proves this validator's claim; false when it is not selected. */
static bool
s_sortition_claim (s_world_t *w, uint32_t validator, uint64_t height, uint32_t round,
                   uint8_t claim[CONS_CLAIM_MAX], size_t *claim_len)
{
    cons_sortition_input_t in;
    cons_sortition_claim_t c;
    s_sortition_input (w, validator, height, round, &in);
    int rc = cons_sortition_prove (&in, wd_vrf_prove_fn_key, w->vrf[validator], &c);
    assert (rc == 0);
    if (c.count == 0)
        return false;
    wd_writer_t *writer = wd_writer_new ();
    cons_sortition_claim_write (&c, writer);
    const uint8_t *bytes = wd_writer_data (writer, claim_len);
    assert (*claim_len <= CONS_CLAIM_MAX);
    memcpy (claim, bytes, *claim_len);
    wd_writer_destroy (&writer);
    return true;
}

static int
s_sortition_check (s_world_t *w, uint64_t height, uint32_t round, uint32_t validator,
                   const uint8_t *claim, size_t claim_len, uint8_t priority[CONS_PRIORITY_LEN])
{
    cons_sortition_input_t in;
    cons_sortition_claim_t c;
    wd_err_t err = cons_sortition_claim_decode (claim, claim_len, &c);
    if (err != WD_OK)
        return err;
    s_sortition_input (w, validator, height, round, &in);
    int rc = cons_sortition_verify (&in, wd_vrf_key_public (w->vrf[validator]), &c);
    if (rc == 0)
        memcpy (priority, c.priority, CONS_PRIORITY_LEN);
    return rc;
}

/* TEST STAND-IN for VRF sortition (cons_sortition will replace it in
   wardend): a validator's claim for (height, round) is SHA-256 of a tag,
   the chain, its index, the height and the round, and it is selected when
   the first byte falls under a threshold proportional to its weight (about
   two proposers a round). Deterministic and unforgeable only because every
   node can recompute it: it is no VRF, it exists to drive the filter-window
   logic of cons_agree in the simulator. */
static bool
s_standin_claim (s_world_t *w, uint32_t validator, uint64_t height, uint32_t round,
                 uint8_t claim[32])
{
    uint8_t in[8 + 32 + 4 + 8 + 4];
    memcpy (in, "simclaim", 8);
    memcpy (in + 8, w->chain, 32);
    wd_put_be (in + 40, validator, 4);
    wd_put_be (in + 44, height, 8);
    wd_put_be (in + 52, round, 4);
    crypto_hash_sha256 (claim, in, sizeof in);
    uint64_t total = cons_validators_total (w->vals, w->nvals);
    uint64_t threshold = 2 * 256 * w->vals[validator].weight / total;
    return claim[0] < threshold;
}

static int
s_check_claim (void *ctx, uint64_t height, uint32_t round, uint32_t validator, const uint8_t *claim,
               size_t claim_len, uint8_t priority[CONS_PRIORITY_LEN])
{
    s_node_t *node = ctx;
    if (node->world->opt.sortition)
        return s_sortition_check (node->world, height, round, validator, claim, claim_len,
                                  priority);
    uint8_t expect[32];
    if (!s_standin_claim (node->world, validator, height, round, expect) || claim_len != 32 ||
        memcmp (claim, expect, 32) != 0)
        return CONS_ERR_CLAIM;
    memcpy (priority, expect, 32);
    return 0;
}

/* ---- invariants -------------------------------------------------------------------- */

static void
s_proposed_add (s_world_t *w, const uint8_t id[32])
{
    w->proposed = s_grow (w->proposed, &w->proposed_cap, w->proposed_len + 1, 32);
    memcpy (w->proposed[w->proposed_len++], id, 32);
}

static bool
s_proposed_has (s_world_t *w, const uint8_t id[32])
{
    for (size_t i = w->proposed_len; i-- > 0;)
        if (memcmp (w->proposed[i], id, 32) == 0)
            return true;
    return false;
}

/* No honest validator signs two different messages for one (height, round,
   step); checked when the driver signs. */
static void
s_check_sign (s_world_t *w, s_node_t *node, const cons_msg_t *msg)
{
    if (!node->honest)
        return;
    uint8_t key[24];
    wd_put_be (key, node->validator, 8);
    wd_put_be (key + 8, msg->height, 8);
    wd_put_be (key + 16, (uint64_t)msg->round << 8 | msg->kind, 8);
    bool fresh;
    uint8_t *value = s_table_get (&w->signed_tab, key, &fresh);
    if (fresh) {
        value[0] = msg->nil;
        memcpy (value + 1, msg->block_id, 32);
    } else if (value[0] != msg->nil || (!msg->nil && memcmp (value + 1, msg->block_id, 32) != 0)) {
        s_fail (w, "honest node %d (validator %u) signed two different %ss at height %llu round %u",
                node->index, node->validator, cons_kind_type (msg->kind),
                (unsigned long long)msg->height, msg->round);
    }
}

static void
s_check_commit (s_world_t *w, s_node_t *node, const cons_agree_output_t *o)
{
    uint64_t h = o->commit.height;
    uint8_t id[32];
    crypto_hash_sha256 (id, o->commit.block, o->commit.block_len);
    const cons_cert_t *cert = &o->commit.cert;
    if (memcmp (id, cert->block_id, 32) != 0 || cert->height != h || cert->round != o->commit.round)
        s_fail (w, "node %d: certificate at height %llu is not for the decided block", node->index,
                (unsigned long long)h);
    int rc = cons_cert_verify (cert, w->chain, w->vals, w->nvals, s_verify, node);
    if (rc != 0)
        s_fail (w, "node %d: certificate at height %llu does not verify: %s", node->index,
                (unsigned long long)h, cons_err_name (rc));
    /* Validity: well formed for h, on top of the decided chain, proposed. */
    const uint8_t *b = o->commit.block;
    if (o->commit.block_len != S_BLOCK_LEN || memcmp (b, "SIMB", 4) != 0 ||
        wd_get_be (b + 4, 8) != h)
        s_fail (w, "node %d decided a malformed block at height %llu", node->index,
                (unsigned long long)h);
    else if (h > 1 && (h - 2 >= w->decided_cap || !w->decided_set[h - 2] ||
                       memcmp (b + 24, w->decided[h - 2].id, 32) != 0))
        s_fail (w, "node %d decided a block at height %llu that does not extend the chain",
                node->index, (unsigned long long)h);
    if (!s_proposed_has (w, id))
        s_fail (w, "node %d decided a block at height %llu that nobody proposed", node->index,
                (unsigned long long)h);
    /* Agreement, over every node: a decision rests on a certificate of more
       than 2/3 of the weight, so even a byzantine validator's machine (a
       twin, an equivocator's) can only decide what the honest ones do. */
    if (h - 1 >= w->decided_cap) {
        size_t old = w->decided_cap;
        w->decided = s_grow (w->decided, &w->decided_cap, h, sizeof *w->decided);
        size_t cap = old;
        w->decided_set = s_grow (w->decided_set, &cap, w->decided_cap, sizeof *w->decided_set);
        memset (w->decided_set + old, 0, (w->decided_cap - old) * sizeof *w->decided_set);
    }
    if (w->decided_set[h - 1]) {
        if (memcmp (w->decided[h - 1].id, id, 32) != 0)
            s_fail (w, "agreement: node %d decided another block at height %llu (round %u)",
                    node->index, (unsigned long long)h, o->commit.round);
    } else {
        w->decided_set[h - 1] = true;
        memcpy (w->decided[h - 1].id, id, 32);
    }
    if (o->commit.round > w->stats->max_round)
        w->stats->max_round = o->commit.round;
}

static void
s_check_evidence (s_world_t *w, s_node_t *node, const cons_evidence_t *ev)
{
    w->stats->evidence++;
    int rc = cons_evidence_verify (ev, w->chain, s_verify, node);
    if (rc != 0)
        s_fail (w, "node %d output evidence that does not verify: %s", node->index,
                cons_err_name (rc));
    for (size_t i = 0; i < w->nvals; i++)
        if (memcmp (w->vals[i].pk, ev->validator, 32) == 0 && w->val_role[i] == S_HONEST)
            s_fail (w, "node %d accused honest validator %zu of equivocation", node->index, i);
}

/* ---- network ------------------------------------------------------------------------ */

static void
s_send (s_world_t *w, int from, int to, s_msg_t *m)
{
    s_node_t *src = &w->nodes[from], *dst = &w->nodes[to];
    if (dst->role == S_SILENT)
        return;
    if (!w->stable && (src->group != dst->group || s_chance (w, w->drop_pm)))
        return;
    int copies = s_chance (w, w->dup_pm) ? 2 : 1;
    for (int c = 0; c < copies; c++) {
        uint32_t max = w->stable ? w->stable_delay_max : w->delay_max;
        s_event_t ev = { .time = w->now + s_between (w, 1, max),
                         .kind = S_EV_DELIVER,
                         .node = to,
                         .from = from,
                         .repair = w->repairing,
                         .msg = s_msg_ref (m) };
        s_push (w, ev);
        w->stats->messages++;
        if (m->kind == S_MSG_ENVELOPE && m->height <= w->opt.heights)
            w->stats->decided_messages++;
    }
}

static void
s_broadcast (s_world_t *w, int from, s_msg_t *m)
{
    for (size_t i = 0; i < w->nnodes; i++)
        if ((int)i != from)
            s_send (w, from, (int)i, m);
}

static void
s_local (s_world_t *w, int node, int from, s_msg_t *m)
{
    w->fifo = s_grow (w->fifo, &w->fifo_cap, w->fifo_head + w->fifo_len + 1, sizeof *w->fifo);
    w->fifo[w->fifo_head + w->fifo_len++] = (struct s_local){ node, from, false, m };
}

/* Keeps a message of the height for repair gossip, once: a message that
   keeps coming back (a third value of an equivocator is refused with
   CONS_ERR_EQUIVOCATION every time) must not be kept, and so sent, again
   each time, or the repair traffic multiplies. */
static void
s_log (s_node_t *node, s_msg_t *m, bool own)
{
    for (size_t i = 0; i < node->log_len; i++) {
        const s_msg_t *l = node->log[i].msg;
        if (l == m || (l->len == m->len && memcmp (l->data, m->data, m->len) == 0))
            return;
    }
    node->log = s_grow (node->log, &node->log_cap, node->log_len + 1, sizeof *node->log);
    node->log[node->log_len++] = (s_logged_t){ s_msg_ref (m), m->round, own };
}

static void
s_log_clear (s_node_t *node)
{
    for (size_t i = 0; i < node->log_len; i++)
        s_msg_unref (&node->log[i].msg);
    node->log_len = 0;
}

/* ---- the driver ------------------------------------------------------------------------ */

static void
s_crash (s_world_t *w, s_node_t *node, bool torn);

/* The split role's sending (see the top of this file). m is the message
   the machine asked for, signed. */
static void
s_split (s_world_t *w, s_node_t *node, const cons_msg_t *msg, s_msg_t *m)
{
    size_t n = w->nnodes;
    size_t victim = (size_t)(msg->height * 31 + msg->round * 7) % n;
    if ((int)victim == node->index)
        victim = (victim + 1) % n;
    size_t lucky = (victim + 1) % n;
    if ((int)lucky == node->index)
        lucky = (lucky + 1) % n;
    cons_msg_t out = *msg;
    uint8_t block[S_BLOCK_LEN];
    if (msg->kind == CONS_PROPOSAL) {
        /* Always a fresh block, never the valid value. */
        s_block (block, msg->height, node->validator, s_rand (w), s_prev_id (node, msg->height));
        out.block = block;
        out.block_len = sizeof block;
        out.pol_round = -1;
        crypto_hash_sha256 (out.block_id, block, sizeof block);
        s_proposed_add (w, out.block_id);
        node->fresh_height = msg->height;
        node->fresh_round = msg->round;
        memcpy (node->fresh_id, out.block_id, 32);
    } else if (node->fresh_height == msg->height && node->fresh_round == msg->round) {
        /* In a round where it proposed a fresh block, it votes for that
           block, whatever its own (locked) machine says. */
        out.nil = false;
        memcpy (out.block_id, node->fresh_id, 32);
    }
    s_msg_t *sent = s_seal (w, &out, node->sk, w->vals[node->validator].pk);
    s_msg_t *nil = NULL;
    if (out.kind == CONS_PRECOMMIT && !out.nil) {
        cons_msg_t n_msg = out;
        n_msg.nil = true;
        memset (n_msg.block_id, 0, 32);
        nil = s_seal (w, &n_msg, node->sk, w->vals[node->validator].pk);
    }
    (void)m;
    for (size_t i = 0; i < n; i++) {
        if ((int)i == node->index)
            continue;
        if (out.nil)
            s_send (w, node->index, (int)i, sent);
        else if (out.kind != CONS_PRECOMMIT && i != victim)
            s_send (w, node->index, (int)i, sent); /* proposal, prevote: not to the victim */
        else if (out.kind == CONS_PRECOMMIT)
            s_send (w, node->index, (int)i, i == lucky ? sent : nil); /* one node only */
    }
    s_msg_unref (&sent);
    if (nil)
        s_msg_unref (&nil);
}

/* Signs and sends a message the machine asked for, as the node's role
   dictates. */
static void
s_emit (s_world_t *w, s_node_t *node, const cons_msg_t *asked)
{
    cons_msg_t msg = *asked;
    uint8_t claim[CONS_CLAIM_MAX];
    if (msg.kind == CONS_PROPOSAL && w->params.proposer_mode == CONS_PROPOSER_VRF) {
        size_t claim_len = 32;
        bool selected =
            w->opt.sortition
                ? s_sortition_claim (w, node->validator, msg.height, msg.round, claim, &claim_len)
                : s_standin_claim (w, node->validator, msg.height, msg.round, claim);
        if (!selected)
            return; /* not selected this round */
        msg.claim = claim;
        msg.claim_len = claim_len;
    }
    if (node->role == S_UNKNOWN && msg.kind != CONS_PROPOSAL && !msg.nil)
        s_random_bytes (w, msg.block_id, 32);
    s_check_sign (w, node, &msg);
    s_msg_t *m = s_seal (w, &msg, node->sk, w->vals[node->validator].pk);
    m->honest = node->honest;
    if (msg.kind == CONS_PROPOSAL)
        s_proposed_add (w, msg.block_id);
    s_trace (w, "node %d signs %s h=%llu r=%u %s", node->index, cons_kind_type (msg.kind),
             (unsigned long long)msg.height, msg.round,
             msg.nil ? "nil" : wd_short_id (msg.block_id).s);
    s_log (node, m, true);
    s_local (w, node->index, node->index, s_msg_ref (m));

    if (node->role == S_EQUIVOCATE) {
        /* A second, conflicting message for half of the network. */
        cons_msg_t other = msg;
        uint8_t block[S_BLOCK_LEN];
        if (msg.kind == CONS_PROPOSAL) {
            s_block (block, msg.height, node->validator, s_rand (w), s_prev_id (node, msg.height));
            if (s_chance (w, 250))
                wd_put_be (block + 4, msg.height + 1, 8); /* invalid: wrong height */
            other.block = block;
            other.block_len = sizeof block;
            other.pol_round = -1;
            crypto_hash_sha256 (other.block_id, block, sizeof block);
        } else if (msg.nil) {
            other.nil = false;
            s_random_bytes (w, other.block_id, 32);
        } else {
            other.nil = true;
            memset (other.block_id, 0, 32);
        }
        s_msg_t *m2 = s_seal (w, &other, node->sk, w->vals[node->validator].pk);
        if (other.kind == CONS_PROPOSAL)
            s_proposed_add (w, other.block_id);
        for (size_t i = 0; i < w->nnodes; i++)
            if ((int)i != node->index)
                s_send (w, node->index, (int)i, s_chance (w, 500) ? m : m2);
        s_msg_unref (&m2);
    } else if (node->role == S_FORGE) {
        /* One corrupted copy per message, sent to some of the peers. */
        s_msg_t *bad = s_corrupt (w, m);
        for (size_t i = 0; i < w->nnodes; i++)
            if ((int)i != node->index)
                s_send (w, node->index, (int)i, s_chance (w, 400) ? bad : m);
        s_msg_unref (&bad);
        /* The same vote under an honest validator's key, signed with ours. */
        uint32_t victim = (uint32_t)s_below (w, w->nvals);
        if (victim != node->validator) {
            s_msg_t *posing = s_seal (w, &msg, node->sk, w->vals[victim].pk);
            posing->forged = true;
            s_broadcast (w, node->index, posing);
            s_msg_unref (&posing);
        }
    } else if (node->role == S_SPLIT) {
        s_split (w, node, &msg, m);
    } else {
        s_broadcast (w, node->index, m);
    }
    s_msg_unref (&m);
}

static void
s_candidate (s_world_t *w, s_node_t *node, uint64_t height)
{
    uint8_t *block = malloc (S_BLOCK_LEN);
    assert (block);
    s_block (block, height, node->validator, s_rand (w), s_prev_id (node, height));
    s_local (w, node->index, node->index,
             s_msg_new (S_MSG_CANDIDATE, height, 0, block, S_BLOCK_LEN));
}

static void
s_ledger_append (s_node_t *node, const cons_agree_output_t *o)
{
    node->ledger =
        s_grow (node->ledger, &node->ledger_cap, node->ledger_len + 1, sizeof *node->ledger);
    s_entry_t *e = &node->ledger[node->ledger_len++];
    crypto_hash_sha256 (e->id, o->commit.block, o->commit.block_len);
    e->block = malloc (o->commit.block_len);
    assert (e->block);
    memcpy (e->block, o->commit.block, o->commit.block_len);
    e->block_len = o->commit.block_len;
    e->cert = cons_cert_encode (&o->commit.cert, &e->cert_len);
}

/* Carries out a step's outputs in order. Returns false when the node
   crashed part-way (a torn crash right after a PERSIST). */
static bool
s_outputs (s_world_t *w, s_node_t *node, const cons_agree_outputs_t *out)
{
    for (size_t i = 0; i < out->count; i++) {
        const cons_agree_output_t *o = &out->items[i];
        switch (o->kind) {
            case CONS_AGREE_OUT_PERSIST:
                free (node->saved);
                node->saved = cons_agree_saved_encode (&o->saved, &node->saved_len);
                if (node->torn) {
                    s_trace (w, "node %d crashes after persisting", node->index);
                    s_crash (w, node, false);
                    return false;
                }
                break;
            case CONS_AGREE_OUT_PROPOSE:
            case CONS_AGREE_OUT_VOTE:
                s_emit (w, node, &o->msg);
                break;
            case CONS_AGREE_OUT_TIMER: {
                s_event_t ev = { .time = w->now + o->timer.ms,
                                 .kind = S_EV_TIMER,
                                 .node = node->index,
                                 .incarnation = node->incarnation,
                                 .timer = o->timer.timer,
                                 .height = o->timer.height,
                                 .round = o->timer.round };
                s_push (w, ev);
                break;
            }
            case CONS_AGREE_OUT_COMMIT:
                s_trace (w, "node %d decides h=%llu r=%u %s (%zu sigs)", node->index,
                         (unsigned long long)o->commit.height, o->commit.round,
                         wd_short_id (o->commit.cert.block_id).s, o->commit.cert.count);
                s_check_commit (w, node, o);
                s_ledger_append (node, o);
                s_candidate (w, node, o->commit.height + 1);
                break;
            case CONS_AGREE_OUT_EVIDENCE:
                s_check_evidence (w, node, &o->evidence);
                break;
            case CONS_AGREE_OUT_NEW_HEIGHT: {
                s_log_clear (node);
                /* Feed what was kept for this height; keep what is further on. */
                size_t keep = 0;
                for (size_t k = 0; k < node->future_len; k++) {
                    s_msg_t *m = node->future[k];
                    if (m->height == o->height)
                        s_local (w, node->index, -1, m);
                    else if (m->height > o->height)
                        node->future[keep++] = m;
                    else
                        s_msg_unref (&m);
                }
                node->future_len = keep;
                break;
            }
        }
    }
    return true;
}

/* Whether rc says the machine used a message (which a forged one must
   never be). */
static bool
s_accepted (int rc)
{
    return rc == 0 || rc == CONS_ERR_EQUIVOCATION || rc == CONS_ERR_INVALID_BLOCK ||
           rc == CONS_ERR_FUTURE_ROUND;
}

static void
s_catch_up (s_world_t *w, s_node_t *node, int peer, uint64_t height)
{
    if (peer < 0 || peer == node->index || !node->honest)
        return;
    if (node->catchup_at[peer] && w->now < node->catchup_at[peer] + S_GOSSIP_MS)
        return;
    node->catchup_at[peer] = w->now;
    for (uint64_t h = height; h <= node->ledger_len && h < height + S_CATCHUP_MAX; h++) {
        const s_entry_t *e = &node->ledger[h - 1];
        uint8_t *block = malloc (e->block_len);
        uint8_t *cert = malloc (e->cert_len);
        assert (block && cert);
        memcpy (block, e->block, e->block_len);
        memcpy (cert, e->cert, e->cert_len);
        s_msg_t *m = s_msg_new (S_MSG_COMMIT, h, 0, block, e->block_len);
        m->cert = cert;
        m->cert_len = e->cert_len;
        m->honest = true;
        s_send (w, node->index, peer, m);
        s_msg_unref (&m);
        w->stats->catchups++;
    }
}

/* Feeds one input to a node's machine and carries out the outputs. */
static void
s_feed (s_world_t *w, s_node_t *node, int from, bool repair, s_msg_t *m)
{
    if (!node->alive)
        return;
    cons_agree_input_t in = { .data = m->data, .len = m->len, .height = m->height };
    if (m->kind == S_MSG_ENVELOPE) {
        in.kind = CONS_AGREE_IN_MESSAGE;
    } else if (m->kind == S_MSG_COMMIT) {
        in.kind = CONS_AGREE_IN_COMMIT;
        in.cert = m->cert;
        in.cert_len = m->cert_len;
    } else {
        in.kind = CONS_AGREE_IN_CANDIDATE;
    }
    cons_agree_outputs_t out;
    int rc = cons_agree_step (node->agree, &in, &out);
    w->stats->steps++;
    if (w->opt.trace && m->kind == S_MSG_ENVELOPE) {
        wd_envelope_t env;
        cons_msg_t msg;
        if (cons_msg_decode (m->data, m->len, w->chain, w->params.block_max, &env, &msg) == 0)
            s_trace (w, "  node %d <- node %d %s h=%llu r=%u %s: %s", node->index, from, env.type,
                     (unsigned long long)msg.height, msg.round,
                     msg.nil ? "nil" : wd_short_id (msg.block_id).s, cons_err_name (rc));
    }
    if (m->forged && s_accepted (rc))
        s_fail (w, "node %d accepted a message with a bad signature (%s)", node->index,
                cons_err_name (rc));
    if (m->forged && rc == WD_ERR_BAD_SIGNATURE)
        w->stats->rejected_forged++;
    if (!m->forged && m->honest && rc == WD_ERR_BAD_SIGNATURE)
        s_fail (w, "node %d refused an honest message as forged", node->index);
    if ((rc == 0 || rc == CONS_ERR_EQUIVOCATION) && m->kind == S_MSG_ENVELOPE &&
        from != node->index)
        s_log (node, m, false);
    if (rc == CONS_ERR_FUTURE_HEIGHT && node->future_len < S_FUTURE_MAX) {
        node->future =
            s_grow (node->future, &node->future_cap, node->future_len + 1, sizeof *node->future);
        node->future[node->future_len++] = s_msg_ref (m);
    }
    /* A node that is stuck says so through its repair gossip; only then is
       it sent the commits it misses (a node merely a step behind decides
       by itself, and answering every late vote would only add traffic). */
    if (rc == CONS_ERR_OLD_HEIGHT && m->kind == S_MSG_ENVELOPE && repair)
        s_catch_up (w, node, from, m->height);
    s_outputs (w, node, &out);
}

static void
s_drain (s_world_t *w)
{
    while (w->fifo_len > 0 && !w->failed) {
        struct s_local item = w->fifo[w->fifo_head++];
        w->fifo_len--;
        s_feed (w, &w->nodes[item.node], item.from, item.repair, item.msg);
        s_msg_unref (&item.msg);
    }
    while (w->fifo_len > 0) {
        s_msg_unref (&w->fifo[w->fifo_head++].msg);
        w->fifo_len--;
    }
    w->fifo_head = 0;
}

static void
s_start_node (s_world_t *w, s_node_t *node)
{
    cons_agree_saved_t saved, *sp = NULL;
    if (node->saved) {
        int rc =
            cons_agree_saved_decode (node->saved, node->saved_len, w->params.block_max, &saved);
        if (rc != 0) {
            s_fail (w, "node %d: its own saved state does not decode: %s", node->index,
                    cons_err_name (rc));
            return;
        }
        sp = &saved;
    }
    cons_agree_config_t config = { .params = w->params,
                                   .validators = w->vals,
                                   .count = w->nvals,
                                   .self = node->validator,
                                   .height = node->ledger_len + 1,
                                   .saved = sp,
                                   .valid = s_valid,
                                   .claim = s_check_claim,
                                   .verify = s_verify,
                                   .ctx = node };
    memcpy (config.chain, w->chain, 32);
    int rc = cons_agree_new (&config, &node->agree);
    if (rc != 0) {
        s_fail (w, "node %d: cons_agree_new: %s", node->index, cons_err_name (rc));
        return;
    }
    node->alive = true;
    node->torn = false;
    node->gossip_height = 0;
    cons_agree_outputs_t out;
    cons_agree_start (node->agree, &out);
    if (s_outputs (w, node, &out)) {
        s_candidate (w, node, node->ledger_len + 1);
        /* Like a write-ahead log, the driver keeps its own signed messages
           of the height across a crash: the restarted machine counts them
           again, and repair gossip sends them again. Without that, a vote
           sent just before a crash and lost on the way is lost for good,
           and with it perhaps the quorum every timer is waiting for. */
        size_t keep = 0;
        for (size_t k = 0; k < node->log_len; k++) {
            s_logged_t l = node->log[k];
            if (l.msg->height == node->ledger_len + 1) {
                node->log[keep++] = l;
                s_local (w, node->index, node->index, s_msg_ref (l.msg));
            } else {
                s_msg_unref (&l.msg);
            }
        }
        node->log_len = keep;
    }
    s_drain (w);
}

static void
s_crash (s_world_t *w, s_node_t *node, bool torn)
{
    if (!node->alive)
        return;
    if (torn) {
        node->torn = true; /* takes effect at the next PERSIST */
        return;
    }
    s_trace (w, "node %d crashes", node->index);
    cons_agree_destroy (&node->agree);
    node->alive = false;
    node->torn = false;
    node->incarnation++;
    /* What it received is lost; what it signed is on disk (see
       s_start_node). */
    size_t own = 0;
    for (size_t k = 0; k < node->log_len; k++) {
        if (node->log[k].own)
            node->log[own++] = node->log[k];
        else
            s_msg_unref (&node->log[k].msg);
    }
    node->log_len = own;
    for (size_t k = 0; k < node->future_len; k++)
        s_msg_unref (&node->future[k]);
    node->future_len = 0;
    /* Inputs queued for it in this step are lost with it. */
    size_t keep = 0;
    for (size_t k = 0; k < w->fifo_len; k++) {
        struct s_local item = w->fifo[w->fifo_head + k];
        if (item.node == node->index)
            s_msg_unref (&item.msg);
        else
            w->fifo[w->fifo_head + keep++] = item;
    }
    w->fifo_len = keep;
}

/* Sends again what a node that has not moved for a while has: its own
   messages of the height, and what it accepted for the recent rounds, its
   lock round and its valid round. */
static void
s_gossip (s_world_t *w, s_node_t *node)
{
    cons_agree_status_t st;
    cons_agree_status (node->agree, &st);
    if (st.height != node->gossip_height) {
        node->gossip_height = st.height;
        return;
    }
    w->repairing = true;
    for (size_t i = 0; i < node->log_len; i++) {
        const s_logged_t *l = &node->log[i];
        bool recent = l->round + S_RELAY_ROUNDS > st.round || (int64_t)l->round == st.lock_round ||
                      (int64_t)l->round == st.valid_round;
        if (l->own || recent)
            s_broadcast (w, node->index, l->msg);
    }
    w->repairing = false;
}

/* ---- scenario ---------------------------------------------------------------------------- */

static void
s_scenario (s_world_t *w)
{
    const sim_options_t *o = &w->opt;
    w->nvals = s_between (w, o->min_validators, o->max_validators);
    w->vals = calloc (w->nvals, sizeof *w->vals);
    w->val_role = calloc (w->nvals, sizeof *w->val_role);
    assert (w->vals && w->val_role);
    bool equal = s_chance (w, 500);
    uint64_t total = 0;
    for (size_t i = 0; i < w->nvals; i++) {
        w->vals[i].weight = equal ? 1 : s_between (w, 1, 4);
        total += w->vals[i].weight;
    }
    /* Byzantine validators: random ones while their weight stays below a
       third of the total. */
    uint64_t byz_weight = 0;
    unsigned nbyz = 0, ntwins = 0;
    if (o->byzantine && s_chance (w, 800)) {
        unsigned want = (unsigned)s_between (w, 1, w->nvals);
        for (unsigned tries = 0; tries < 4 * w->nvals && nbyz < want; tries++) {
            size_t v = s_below (w, w->nvals);
            if (w->val_role[v] != S_HONEST || 3 * (byz_weight + w->vals[v].weight) >= total)
                continue;
            w->val_role[v] = (s_role_t)s_between (w, S_TWIN, S_SPLIT);
            byz_weight += w->vals[v].weight;
            nbyz++;
            ntwins += w->val_role[v] == S_TWIN;
        }
    }
    w->params = (cons_agree_params_t){ .propose_ms = 200,
                                       .propose_delta_ms = 50,
                                       .prevote_ms = 100,
                                       .prevote_delta_ms = 50,
                                       .precommit_ms = 100,
                                       .precommit_delta_ms = 50,
                                       .commit_ms = 50,
                                       .timeout_max_ms = 2000,
                                       .filter_ms = 100,
                                       .block_max = 1024 };
    int mode = o->mode >= 0 ? o->mode : s_chance (w, 300);
    w->params.proposer_mode = (cons_proposer_mode_t)mode;

    w->nnodes = w->nvals + ntwins;
    if (o->sortition) {
        w->vrf = calloc (w->nvals, sizeof *w->vrf);
        assert (w->vrf);
    }
    w->nodes = calloc (w->nnodes, sizeof *w->nodes);
    assert (w->nodes);
    size_t k = 0;
    for (size_t v = 0; v < w->nvals; v++) {
        uint8_t seed[32];
        uint8_t in[16];
        wd_put_be (in, o->seed, 8);
        wd_put_be (in + 8, v, 8);
        crypto_hash_sha256 (seed, in, sizeof in);
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        crypto_sign_seed_keypair (w->vals[v].pk, sk, seed);
        if (o->sortition) {
            seed[0] ^= 0x5a; /* a VRF key separate from the signing key */
            w->vrf[v] = wd_vrf_key_new (seed);
            assert (w->vrf[v]);
        }
        for (int twin = 0; twin < (w->val_role[v] == S_TWIN ? 2 : 1); twin++) {
            s_node_t *node = &w->nodes[k];
            node->world = w;
            node->index = (int)k++;
            node->validator = (uint32_t)v;
            node->role = w->val_role[v];
            node->honest = node->role == S_HONEST;
            memcpy (node->sk, sk, sizeof sk);
            node->catchup_at = calloc (w->nnodes, sizeof *node->catchup_at);
            assert (node->catchup_at);
        }
        sodium_memzero (sk, sizeof sk);
    }

    /* Faults before GST. */
    w->stable_delay_max = (uint32_t)s_between (w, 2, 40);
    w->dup_pm = (unsigned)s_between (w, 0, 50);
    if (o->clean) {
        w->stable_delay_max = 10;
        w->dup_pm = 0;
    }
    bool faults = o->faults && s_chance (w, 850);
    w->gst = faults ? s_between (w, 1000, 12000) : 0;
    w->stable = !faults;
    unsigned nparts = 0, ncrash = 0;
    if (faults) {
        w->drop_pm = (unsigned)s_between (w, 0, 300);
        w->dup_pm = (unsigned)s_between (w, 0, 100);
        w->delay_max = (uint32_t)s_between (w, 20, 1500);
        nparts = (unsigned)s_between (w, 0, 3);
        for (unsigned p = 0; p < nparts; p++) {
            uint64_t at = s_below (w, w->gst);
            s_push (w, (s_event_t){ .time = at, .kind = S_EV_PARTITION });
            s_push (w, (s_event_t){ .time = s_between (w, at, w->gst), .kind = S_EV_HEAL });
        }
        ncrash = (unsigned)s_between (w, 0, 3);
        for (unsigned c = 0; c < ncrash; c++) {
            int victim = (int)s_below (w, w->nnodes);
            if (w->nodes[victim].role == S_SILENT)
                continue;
            uint64_t at = s_below (w, w->gst);
            s_push (
                w, (s_event_t){
                       .time = at, .kind = S_EV_CRASH, .node = victim, .torn = s_chance (w, 500) });
            s_push (w, (s_event_t){ .time = s_between (w, at + 1, w->gst),
                                    .kind = S_EV_RESTART,
                                    .node = victim });
        }
        s_push (w, (s_event_t){ .time = w->gst, .kind = S_EV_GST });
    }

    char roles[128] = "";
    size_t used = 0;
    for (size_t v = 0; v < w->nvals; v++)
        if (w->val_role[v] != S_HONEST && used + 16 < sizeof roles)
            used += (size_t)snprintf (roles + used, sizeof roles - used, " %s",
                                      s_role_names[w->val_role[v]]);
    char fault_desc[96] = "no faults";
    if (faults)
        snprintf (fault_desc, sizeof fault_desc,
                  "gst=%llu drop=%u%% delay<=%u partitions=%u crashes=%u",
                  (unsigned long long)w->gst, w->drop_pm / 10, w->delay_max, nparts, ncrash);
    snprintf (w->stats->scenario, sizeof w->stats->scenario,
              "n=%zu %s weights, %s, byzantine:%s; %s", w->nvals, equal ? "equal" : "mixed",
              mode ? "vrf" : "round-robin", nbyz ? roles : " none", fault_desc);
    w->stats->validators = (unsigned)w->nvals;
}

/* ---- the run ------------------------------------------------------------------------------- */

static uint64_t
s_min_height (s_world_t *w)
{
    uint64_t min = UINT64_MAX;
    for (size_t i = 0; i < w->nnodes; i++)
        if (w->nodes[i].honest && w->nodes[i].ledger_len < min)
            min = w->nodes[i].ledger_len;
    return min;
}

static void
s_event (s_world_t *w, s_event_t *ev)
{
    s_node_t *node = ev->node >= 0 && (size_t)ev->node < w->nnodes ? &w->nodes[ev->node] : NULL;
    switch (ev->kind) {
        case S_EV_DELIVER:
            if (node->alive) {
                s_local (w, ev->node, ev->from, ev->msg);
                w->fifo[w->fifo_head + w->fifo_len - 1].repair = ev->repair;
                ev->msg = NULL;
                s_drain (w);
            }
            break;
        case S_EV_TIMER:
            if (node->alive && ev->incarnation == node->incarnation) {
                cons_agree_input_t in = { .kind = CONS_AGREE_IN_TIMEOUT,
                                          .timer = ev->timer,
                                          .height = ev->height,
                                          .round = ev->round };
                cons_agree_outputs_t out;
                cons_agree_step (node->agree, &in, &out);
                w->stats->steps++;
                s_outputs (w, node, &out);
                s_drain (w);
            }
            break;
        case S_EV_GOSSIP:
            if (node->alive)
                s_gossip (w, node);
            s_push (w, (s_event_t){
                           .time = w->now + S_GOSSIP_MS, .kind = S_EV_GOSSIP, .node = ev->node });
            break;
        case S_EV_CRASH:
            if (!w->stable)
                s_crash (w, node, ev->torn);
            break;
        case S_EV_RESTART:
            if (!node->alive && node->role != S_SILENT) {
                s_trace (w, "node %d restarts at height %zu", node->index, node->ledger_len + 1);
                w->stats->restarts++;
                s_start_node (w, node);
            }
            node->torn = false;
            break;
        case S_EV_PARTITION:
            for (size_t i = 0; i < w->nnodes; i++)
                w->nodes[i].group = (int)s_below (w, 2);
            s_trace (w, "partition");
            break;
        case S_EV_HEAL:
        case S_EV_GST:
            for (size_t i = 0; i < w->nnodes; i++)
                w->nodes[i].group = 0;
            if (ev->kind == S_EV_GST) {
                w->stable = true;
                s_trace (w, "GST");
                for (size_t i = 0; i < w->nnodes; i++) {
                    w->nodes[i].torn = false;
                    if (!w->nodes[i].alive && w->nodes[i].role != S_SILENT) {
                        w->stats->restarts++;
                        s_start_node (w, &w->nodes[i]);
                    }
                }
            }
            break;
    }
    s_msg_unref (&ev->msg);
}

static void
s_free (s_world_t *w)
{
    for (size_t i = 0; i < w->nnodes; i++) {
        s_node_t *node = &w->nodes[i];
        cons_agree_destroy (&node->agree);
        free (node->saved);
        for (size_t k = 0; k < node->ledger_len; k++) {
            free (node->ledger[k].block);
            free (node->ledger[k].cert);
        }
        free (node->ledger);
        s_log_clear (node);
        free (node->log);
        for (size_t k = 0; k < node->future_len; k++)
            s_msg_unref (&node->future[k]);
        free (node->future);
        free (node->catchup_at);
        sodium_memzero (node->sk, sizeof node->sk);
    }
    for (size_t v = 0; w->vrf && v < w->nvals; v++)
        wd_vrf_key_destroy (&w->vrf[v]);
    free (w->vrf);
    while (w->heap_len > 0) {
        s_event_t ev = s_pop (w);
        s_msg_unref (&ev.msg);
    }
    for (size_t k = 0; k < w->fifo_len; k++)
        s_msg_unref (&w->fifo[w->fifo_head + k].msg);
    free (w->fifo);
    free (w->heap);
    free (w->nodes);
    free (w->vals);
    free (w->val_role);
    free (w->decided);
    free (w->decided_set);
    free (w->proposed);
    free (w->signed_tab.slots);
    free (w->memo.slots);
}

int
sim_run (const sim_options_t *options, sim_stats_t *stats, char *why, size_t why_len)
{
    s_world_t world = { .opt = *options,
                        .stats = stats,
                        .why = why,
                        .why_len = why_len,
                        .memo = { .key_len = 128, .value_len = 1 },
                        .signed_tab = { .key_len = 24, .value_len = 33 } };
    s_world_t *w = &world;
    memset (stats, 0, sizeof *stats);
    if (why_len)
        why[0] = '\0';
    uint8_t in[16] = "sim-seed";
    wd_put_be (in + 8, options->seed, 8);
    uint8_t h[32];
    crypto_hash_sha256 (h, in, sizeof in);
    w->rng = wd_rand_seeded (wd_get_be (h, 8));
    memcpy (in, "simchain", 8);
    crypto_hash_sha256 (w->chain, in, sizeof in);

    s_scenario (w);
    for (size_t i = 0; i < w->nnodes; i++) {
        if (w->nodes[i].role != S_SILENT)
            s_start_node (w, &w->nodes[i]);
        s_push (w, (s_event_t){ .time = s_between (w, 1, S_GOSSIP_MS),
                                .kind = S_EV_GOSSIP,
                                .node = (int)i });
    }
    uint64_t deadline = w->gst + 20000 + 1500 * (uint64_t)options->heights;
    while (!w->failed && w->heap_len > 0) {
        if (s_min_height (w) >= options->heights)
            break;
        s_event_t ev = s_pop (w);
        if (ev.time > deadline) {
            s_msg_unref (&ev.msg);
            break;
        }
        w->now = ev.time;
        s_event (w, &ev);
    }
    stats->heights = s_min_height (w);
    stats->virtual_ms = w->now;
    if (!w->failed && stats->heights < options->heights) {
        for (size_t i = 0; i < w->nnodes; i++) {
            s_node_t *node = &w->nodes[i];
            if (!node->honest || node->ledger_len >= options->heights)
                continue;
            cons_agree_status_t st = { 0 };
            if (node->agree)
                cons_agree_status (node->agree, &st);
            s_fail (w,
                    "termination: honest node %zu stuck at height %llu round %u step %u "
                    "(%s) %llu ms after GST",
                    i, (unsigned long long)st.height, st.round, st.step,
                    node->alive ? "running" : "down", (unsigned long long)(w->now - w->gst));
            break;
        }
    }
    bool failed = w->failed;
    s_free (w);
    return failed ? 1 : 0;
}
