/*
 * node_agree: the engine's agreement driver (see node_agree.h).
 *
 * Everything runs on the engine's zloop. Inputs wait in one FIFO queue and
 * are fed by s_pump, which first carries out every output of the previous
 * step. A proposal or vote output starts a signature through the keys
 * process and stops the pump until the signature is back: the machine is
 * not called while outputs are outstanding, so the pointers they borrow
 * from it stay valid. A machine serves one epoch (one validator set): at
 * the first height of another epoch it is replaced by a new one.
 *
 * In VRF proposer mode (genesis proposer_vrf = 1) the machine proposes in
 * every round; the driver sends a proposal only with this node's sortition
 * claim for that round (proven by the keys process, kept per round), and
 * builds its candidate with the claim of the first round that selects it
 * (the block carries it: docs/PROTOCOL.md "Block").
 */
#include "node_agree.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_agree.h"
#include "cons_block.h"
#include "cons_ledger.h"
#include "cons_reputation.h"
#include "cons_sortition.h"
#include "cons_transport.h"
#include "cons_vote.h"
#include "node_config.h"
#include "wd_codec.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_log.h"
#include "wd_msg.h"

#define QUEUE_MAX         8192  /* inputs waiting, at most (peer messages beyond are dropped) */
#define FUTURE_MAX        512   /* messages kept for a later height */
#define SEEN_MAX          1024  /* accepted peer messages of the height kept for repair */
#define OWN_MAX           64    /* own signed messages of the height */
#define TIMERS_MAX        32    /* agreement timers armed at once */
#define SYNC_KEEP         64    /* fetched blocks waiting for their height */
#define PENDING_MAX       20000 /* records waiting for a block */
#define HOOK_RECORDS_MAX  4096  /* committee records in one candidate */
#define RELAY_ROUNDS      3     /* repair sends what was accepted for the last rounds */
#define SYNC_GAP_MS       250   /* between two sync requests, unless a reply asks for more */
#define SYNC_SERVE_GAP_MS 50    /* between two answers to one peer */
#define SERVED_MAX        2048  /* admitted nodes whose sync answers are paced */
#define SIGN_RETRY_MS     250
#define SIGN_TRIES        20
#define START_RETRY_MS    500
#define LATENCIES         1024
#define STATE_MAX_BYTES   (64 << 20)
#define CANDIDATE_MAX     (512 * 1024) /* block bytes we propose: a proposal must fit a frame */
#define SYNC_REPLY_MAX    (768 * 1024) /* bytes of blocks in one sync reply */
#define CLAIM_ROUNDS      8 /* VRF mode: own claims kept, and rounds searched for a candidate */

typedef enum {
    S_IN_MESSAGE = 1, /* an envelope from a peer */
    S_IN_OWN,         /* an envelope this node signed */
    S_IN_TIMEOUT,
    S_IN_CANDIDATE,
    S_IN_COMMIT, /* block + certificate fetched from a peer */
} s_in_kind_t;

typedef struct s_input {
    s_in_kind_t kind;
    uint8_t from[WD_PUBKEY_LEN];
    uint8_t *data;
    size_t len;
    uint8_t *cert;
    size_t cert_len;
    cons_timer_t timer;
    uint64_t height;
    uint32_t round;
    struct s_input *next;
} s_input_t;

/* A kept message: a signed envelope with its height and round. */
typedef struct {
    uint8_t *data;
    size_t len;
    uint64_t height;
    uint32_t round;
    uint8_t from[WD_PUBKEY_LEN]; /* the peer it came from (future messages) */
} s_kept_t;

typedef struct {
    node_agree_t *owner;
    int id; /* zloop timer id, -1: free */
    cons_timer_t timer;
    uint64_t height;
    uint32_t round;
    uint64_t idle_due; /* mono ms: a round-0 propose timeout lengthened by agree_idle_ms, 0: not */
} s_timer_t;

typedef struct {
    uint8_t id[32];
    uint8_t *data;
    size_t len;
} s_record_t;

/* A precommit this node accepted from a peer, kept until the next block
   brings the certificate of its height. */
typedef struct {
    uint8_t validator[WD_PUBKEY_LEN];
    uint32_t round;
    bool nil;
    uint8_t block[CONS_BLOCK_ID_LEN];
    uint8_t sig[WD_SIG_LEN];
} s_precommit_t;

/* VRF mode: this node's proposer sortition at one (height, round). */
typedef struct {
    uint64_t height; /* 0: none */
    uint32_t round;
    bool selected;
    uint8_t bytes[CONS_SORTITION_CLAIM_MAX]; /* the claim's wire form, when selected */
    size_t len;
} s_claim_t;

typedef struct {
    uint64_t height; /* 0: free */
    uint8_t *block, *cert;
    size_t block_len, cert_len;
    uint8_t from[WD_PUBKEY_LEN];
} s_synced_t;

struct node_agree {
    zloop_t *loop;
    node_sign_t *signer;
    node_mesh_t *mesh;
    node_agree_reply_fn *reply;
    const wd_genesis_t *genesis;
    cons_ledger_t *ledger;
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t self_id[WD_PUBKEY_LEN];
    char state_path[PATH_MAX];
    cons_agree_params_t params;
    uint64_t epoch_blocks;
    uint32_t idle_ms; /* agree_idle_ms */
    size_t candidate_max;

    /* the machine of the current epoch */
    cons_agree_t *agree;
    uint64_t epoch; /* epoch of the machine */
    bool validator;
    uint64_t validators;
    bool rebuild; /* replace the machine once the outputs are done */
    cons_agree_outputs_t out;
    size_t out_next;
    bool pumping;

    /* the signature in flight */
    bool signing;
    uint8_t sign_digest[WD_DIGEST_LEN];
    cons_kind_t sign_kind;
    uint64_t sign_height;
    uint32_t sign_round;
    uint8_t *sign_body;
    size_t sign_body_len;
    int sign_tries;
    int sign_timer;

    /* VRF mode: own proposer claims (slot = round % CLAIM_ROUNDS), the proof
       in flight, and a proposal that waits for its claim */
    bool vrf;
    s_claim_t claims[CLAIM_ROUNDS];
    bool proving;
    bool claim_wait;
    cons_msg_t claim_msg;            /* borrows from the machine: the pump is stopped */
    cons_sortition_input_t prove_in; /* of the proof in flight */

    /* durable state: the last PERSIST record and own envelopes of its height */
    uint8_t *saved;
    size_t saved_len;
    uint64_t saved_height;
    s_kept_t own[OWN_MAX];
    size_t own_len;

    /* inputs */
    s_input_t *head, *tail;
    size_t queued;
    s_kept_t future[FUTURE_MAX];
    size_t future_len;
    s_kept_t seen[SEEN_MAX];
    size_t seen_len;
    s_precommit_t *precommits; /* SEEN_MAX, of height precommits_height */
    size_t precommits_len;
    uint64_t precommits_height;
    s_synced_t synced[SYNC_KEEP];
    uint64_t sync_last_ms;
    uint64_t *served_ms; /* per admitted node (by index, SERVED_MAX): last sync answer */

    s_timer_t timers[TIMERS_MAX];
    int repair_timer, candidate_timer, start_timer;
    uint64_t repair_height;
    uint32_t repair_round;
    bool candidate_due; /* a candidate for tip + 1 is still to be fed */

    s_record_t *pending;
    size_t pending_len;
    node_agree_hooks_t hooks; /* node_verify's */
    void *hooks_arg;
    cons_bytes_t *hook_recs;    /* scratch for hooks.propose */
    cons_cert_sig_t *cert_sigs; /* scratch for decoding fetched certificates */

    /* figures */
    uint64_t height_start_ms;
    uint64_t last_commit_ms;
    uint64_t commits, synced_commits;
    uint32_t latencies[LATENCIES];
    size_t latency_count;
};

static void
s_pump (node_agree_t *self);

/* ---- small helpers ------------------------------------------------------ */

static uint8_t *
s_dup (const uint8_t *data, size_t len)
{
    uint8_t *p = malloc (len ? len : 1);
    if (!p)
        wd_fatalx ("out of memory");
    if (len)
        memcpy (p, data, len);
    return p;
}

static void
s_kept_clear (s_kept_t *k, size_t *count)
{
    for (size_t i = 0; i < *count; i++)
        free (k[i].data);
    *count = 0;
}

static void
s_enqueue (node_agree_t *self, s_input_t *in, bool front)
{
    if (front) {
        in->next = self->head;
        self->head = in;
        if (!self->tail)
            self->tail = in;
    } else {
        in->next = NULL;
        if (self->tail)
            self->tail->next = in;
        else
            self->head = in;
        self->tail = in;
    }
    self->queued++;
}

static s_input_t *
s_input_new (s_in_kind_t kind, const uint8_t *data, size_t len)
{
    s_input_t *in = calloc (1, sizeof *in);
    if (!in)
        wd_fatalx ("out of memory");
    in->kind = kind;
    if (data)
        in->data = s_dup (data, len);
    in->len = len;
    return in;
}

static void
s_input_free (s_input_t *in)
{
    free (in->data);
    free (in->cert);
    free (in);
}

/* Sends body on channel to every node the mesh admits (the members by the
   ledger, docs/PROTOCOL.md "Membership transactions") but this one: the
   validators vote, the others follow the heights and fetch blocks. */
static void
s_broadcast (node_agree_t *self, uint8_t channel, const uint8_t *body, size_t len)
{
    for (size_t i = 0; i < node_mesh_node_count (self->mesh); i++) {
        const wd_cert_t *c = node_mesh_node (self->mesh, i);
        if (memcmp (c->sign_pk, self->self_id, WD_PUBKEY_LEN) == 0)
            continue;
        int rc = node_mesh_send (self->mesh, c->sign_pk, channel, body, len);
        if (rc != WD_OK)
            wd_log_debug ("agree: to %s: %s", c->name, cons_strerror (rc));
    }
}

static const char *
s_name (node_agree_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    const wd_cert_t *c = node_mesh_find_node (self->mesh, id);
    return c ? c->name : "?";
}

/* ---- the state file ----------------------------------------------------- */

/* {own: [bin], saved: bin | nil, v: 1}, written to path.tmp, fsync'ed,
   renamed over path, and the directory fsync'ed. */
static int
s_state_write (node_agree_t *self)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "own");
    wd_writer_array (w, self->own_len);
    for (size_t i = 0; i < self->own_len; i++)
        wd_writer_bin (w, self->own[i].data, self->own[i].len);
    wd_writer_key (w, "saved");
    if (self->saved)
        wd_writer_bin (w, self->saved, self->saved_len);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t len;
    const uint8_t *data = wd_writer_data (w, &len);

    char tmp[PATH_MAX + 8];
    snprintf (tmp, sizeof tmp, "%s.tmp", self->state_path);
    int rc = -1;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        size_t off = 0;
        while (off < len) {
            ssize_t n = write (fd, data + off, len - off);
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                break;
            off += (size_t)n;
        }
        if (off == len && fsync (fd) == 0)
            rc = 0;
        if (close (fd) != 0)
            rc = -1;
    }
    if (rc == 0 && rename (tmp, self->state_path) != 0)
        rc = -1;
    if (rc == 0) {
        char dir[PATH_MAX];
        snprintf (dir, sizeof dir, "%s", self->state_path);
        char *slash = strrchr (dir, '/');
        if (slash)
            *slash = 0;
        int dfd = open (slash ? dir : ".", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (dfd < 0 || fsync (dfd) != 0)
            rc = -1;
        if (dfd >= 0)
            close (dfd);
    }
    if (rc != 0)
        wd_log_warn ("agree: writing %s", self->state_path);
    wd_writer_destroy (&w);
    return rc;
}

/* Reads the state file (missing: nothing saved). Keeps the saved record's
   bytes and the own envelopes of its height. */
static wd_err_t
s_state_read (node_agree_t *self, char *why, size_t why_len)
{
    FILE *f = fopen (self->state_path, "rb");
    if (!f)
        return errno == ENOENT ? WD_OK : WD_ERR_IO;
    uint8_t *buf = malloc (STATE_MAX_BYTES);
    if (!buf)
        wd_fatalx ("out of memory");
    size_t len = fread (buf, 1, STATE_MAX_BYTES, f);
    fclose (f);
    wd_err_t err = wd_codec_check (buf, len, STATE_MAX_BYTES, NULL);
    wd_reader_t r;
    size_t n, count = 0;
    const uint8_t *saved = NULL;
    size_t saved_len = 0;
    if (err == WD_OK) {
        wd_reader_init (&r, buf, len);
        wd_read_map (&r, &n);
        wd_read_key (&r, "own");
        wd_read_array (&r, &count);
        for (size_t i = 0; i < count; i++) {
            const uint8_t *e;
            size_t elen;
            if (!wd_read_bin (&r, &e, &elen, STATE_MAX_BYTES))
                break;
            if (self->own_len < OWN_MAX) {
                self->own[self->own_len].data = s_dup (e, elen);
                self->own[self->own_len++].len = elen;
            }
        }
        wd_read_end (&r);
        wd_read_key (&r, "saved");
        int serr = WD_OK;
        cons_read_opt_bin (&r, &saved, &saved_len, STATE_MAX_BYTES, &serr);
        uint64_t v = 0;
        wd_read_key (&r, "v");
        wd_read_uint (&r, &v, 1);
        wd_read_end (&r);
        err = wd_reader_finish (&r);
        if (err == WD_OK)
            err = serr;
    }
    if (err == WD_OK && saved) {
        cons_agree_saved_t s;
        int rc = cons_agree_saved_decode (saved, saved_len, self->params.block_max, &s);
        if (rc != WD_OK) {
            snprintf (why, why_len, "%s: saved record: %s", self->state_path, cons_strerror (rc));
            err = WD_ERR_BAD_VALUE;
        } else {
            self->saved = s_dup (saved, saved_len);
            self->saved_len = saved_len;
            self->saved_height = s.height;
        }
    } else if (err != WD_OK)
        snprintf (why, why_len, "%s: %s", self->state_path, wd_strerror (err));
    free (buf);
    /* the heights and rounds of the own envelopes */
    for (size_t i = 0; i < self->own_len; i++) {
        wd_envelope_t env;
        cons_msg_t msg;
        if (cons_msg_decode (self->own[i].data, self->own[i].len, self->chain,
                             self->params.block_max, &env, &msg) == WD_OK) {
            self->own[i].height = msg.height;
            self->own[i].round = msg.round;
        }
    }
    return err;
}

/* ---- timers --------------------------------------------------------------- */

static bool
s_records_wait (node_agree_t *self);

static int
s_on_agree_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_timer_t *t = arg;
    node_agree_t *self = t->owner;
    t->id = -1;
    s_input_t *in = s_input_new (S_IN_TIMEOUT, NULL, 0);
    in->timer = t->timer;
    in->height = t->height;
    in->round = t->round;
    s_enqueue (self, in, false);
    s_pump (self);
    return 0;
}

static void
s_arm (node_agree_t *self, cons_timer_t timer, uint64_t height, uint32_t round, uint32_t ms)
{
    s_timer_t *slot = NULL;
    for (size_t i = 0; i < TIMERS_MAX && !slot; i++)
        if (self->timers[i].id < 0)
            slot = &self->timers[i];
    if (!slot) {
        /* every slot busy: the oldest height's timer is the least useful */
        slot = &self->timers[0];
        for (size_t i = 1; i < TIMERS_MAX; i++)
            if (self->timers[i].height < slot->height ||
                (self->timers[i].height == slot->height && self->timers[i].round < slot->round))
                slot = &self->timers[i];
        zloop_timer_end (self->loop, slot->id);
    }
    slot->owner = self;
    slot->timer = timer;
    slot->height = height;
    slot->round = round;
    slot->idle_due = 0;
    if (timer == CONS_TIMER_PROPOSE && round == 0 && self->idle_ms > 0 && !s_records_wait (self)) {
        /* the proposer waits up to agree_idle_ms for a record before it
           proposes an empty block: give it that long (s_idle_end cuts it
           short when a record arrives) */
        ms += self->idle_ms;
        slot->idle_due = (uint64_t)zclock_mono () + ms;
    }
    slot->id = zloop_timer (self->loop, ms ? ms : 1, 1, s_on_agree_timer, slot);
    if (slot->id < 0)
        wd_fatalx ("zloop_timer");
}

/* A record arrived: a round-0 propose timeout lengthened while the chain
   was idle fires at most agree_propose_ms from now, as it would have if
   the record had been there when the height began (the proposer proposes
   at once now). */
static void
s_idle_end (node_agree_t *self)
{
    uint64_t now = (uint64_t)zclock_mono ();
    for (size_t i = 0; i < TIMERS_MAX; i++) {
        s_timer_t *t = &self->timers[i];
        if (t->id < 0 || !t->idle_due)
            continue;
        uint64_t due = t->idle_due;
        t->idle_due = 0;
        if (due <= now + self->params.propose_ms)
            continue; /* it fires sooner anyway */
        zloop_timer_end (self->loop, t->id);
        t->id = zloop_timer (self->loop, self->params.propose_ms, 1, s_on_agree_timer, t);
        if (t->id < 0)
            wd_fatalx ("zloop_timer");
    }
}

/* ---- proposer claims (VRF mode) -------------------------------------------- */

static void
s_feed_candidate (node_agree_t *self);
static void
s_sign (node_agree_t *self, const cons_msg_t *msg);
static void
s_claim_proved (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN], const uint8_t beta[WD_VRF_BETA_LEN],
                const char *reason);

/* This node's proposer claim for (height, round): the one kept, else one
   known at once (not a validator of the height: never selected), else NULL
   while the keys process proves it (s_claim_proved resumes the caller's
   work; at most one proof is in flight). */
static const s_claim_t *
s_claim_get (node_agree_t *self, uint64_t height, uint32_t round)
{
    s_claim_t *c = &self->claims[round % CLAIM_ROUNDS];
    if (c->height == height && c->round == round)
        return c;
    if (self->proving)
        return NULL;
    cons_sortition_input_t in;
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    int rc = cons_ledger_proposer_input (self->ledger, height, round, self->self_id, &in);
    if (rc == WD_OK)
        rc = cons_sortition_alpha (&in, alpha);
    if (rc != WD_OK) {
        if (rc != CONS_ERR_UNKNOWN_VALIDATOR)
            wd_log_warnx ("agree: proposer sortition of height %llu round %u: %s",
                          (unsigned long long)height, round, cons_strerror (rc));
        *c = (s_claim_t){ .height = height, .round = round };
        return c;
    }
    self->proving = true;
    self->prove_in = in;
    node_sign_vrf (self->signer, alpha, sizeof alpha, s_claim_proved, self);
    return NULL;
}

static void
s_claim_proved (void *arg, const uint8_t pi[WD_VRF_PROOF_LEN], const uint8_t beta[WD_VRF_BETA_LEN],
                const char *reason)
{
    node_agree_t *self = arg;
    const cons_sortition_input_t *in = &self->prove_in;
    self->proving = false;
    if (!pi) {
        /* nothing proposed this time; the next input or height asks again
           (not at once: the signer may be stopping) */
        wd_log_warnx ("agree: proposer sortition of height %llu round %u: %s",
                      (unsigned long long)in->height, in->round, reason);
        if (self->claim_wait) {
            self->claim_wait = false;
            self->signing = false;
        }
        return;
    }
    s_claim_t *c = &self->claims[in->round % CLAIM_ROUNDS];
    *c = (s_claim_t){ .height = in->height, .round = in->round };
    cons_sortition_claim_t claim = { 0 };
    int rc = cons_sortition_count (in->weight, in->total_weight, in->tau, beta, &claim.count);
    if (rc != WD_OK)
        wd_log_warnx ("agree: proposer sortition of height %llu round %u: %s",
                      (unsigned long long)in->height, in->round, cons_strerror (rc));
    c->selected = rc == WD_OK && claim.count > 0;
    if (c->selected) {
        cons_sortition_priority (beta, claim.count, claim.priority);
        memcpy (claim.proof, pi, WD_VRF_PROOF_LEN);
        c->len = cons_sortition_claim_encode (&claim, c->bytes);
    }
    /* resume: the proposal that waits for its claim, then the candidate */
    if (self->claim_wait) {
        self->claim_wait = false;
        self->signing = false;
        s_sign (self, &self->claim_msg); /* may prove again and wait */
    }
    if (!self->proving && self->candidate_due && self->candidate_timer < 0)
        s_feed_candidate (self);
    s_pump (self);
}

/* The claim a new candidate for height carries: this node's claim of the
   first round of 0 .. CLAIM_ROUNDS-1 that selects it. NULL with *wait set
   while a proof is in flight; NULL without it when none selects it. */
static const s_claim_t *
s_candidate_claim (node_agree_t *self, uint64_t height, bool *wait)
{
    *wait = false;
    for (uint32_t r = 0; r < CLAIM_ROUNDS; r++) {
        const s_claim_t *c = s_claim_get (self, height, r);
        if (!c) {
            *wait = true;
            return NULL;
        }
        if (c->selected)
            return c;
    }
    return NULL;
}

/* ---- records and candidates ---------------------------------------------- */

static void
s_on_record (void *arg, const uint8_t *record, size_t len);

/* Drops the pending records the ledger now holds. */
static void
s_pending_prune (node_agree_t *self)
{
    size_t keep = 0;
    for (size_t i = 0; i < self->pending_len; i++) {
        if (cons_ledger_seen (self->ledger, self->pending[i].id))
            free (self->pending[i].data);
        else
            self->pending[keep++] = self->pending[i];
    }
    self->pending_len = keep;
}

/* Drops the pending records marked bad. */
static void
s_pending_drop (node_agree_t *self, const bool *bad)
{
    size_t keep = 0;
    for (size_t i = 0; i < self->pending_len; i++) {
        if (bad[i])
            free (self->pending[i].data);
        else
            self->pending[keep++] = self->pending[i];
    }
    self->pending_len = keep;
}

/* Feeds the block this node would propose at tip + 1: the pending records
   that fit, in arrival order. */
static void
s_feed_candidate (node_agree_t *self)
{
    if (self->candidate_timer >= 0) {
        zloop_timer_end (self->loop, self->candidate_timer);
        self->candidate_timer = -1;
    }
    uint64_t height = cons_ledger_height (self->ledger) + 1;
    const s_claim_t *own = NULL;
    if (self->vrf) {
        bool wait;
        own = s_candidate_claim (self, height, &wait);
        if (wait)
            return; /* s_claim_proved feeds it (candidate_due stays set) */
        if (!own) {
            self->candidate_due = false;
            wd_log_debug ("agree: not selected to propose in rounds 0..%d of height %llu",
                          CLAIM_ROUNDS - 1, (unsigned long long)height);
            return;
        }
    }
    self->candidate_due = false;
    /* The committee's certified records first (recs[0 .. first)), then the
       pending ones (recs[first + i] is pending[i]). */
    size_t first = 0, bytes = 0;
    if (self->hooks.propose)
        first = self->hooks.propose (self->hooks_arg, self->hook_recs, HOOK_RECORDS_MAX,
                                     self->candidate_max / 2);
    cons_bytes_t *recs = calloc (first + self->pending_len + 1, sizeof *recs);
    if (!recs)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < first; i++) {
        recs[i] = self->hook_recs[i];
        bytes += recs[i].len + 8;
    }
    size_t count = first;
    for (size_t i = 0; i < self->pending_len && count < CONS_BLOCK_RECORDS_MAX; i++) {
        if (bytes + self->pending[i].len + 8 > self->candidate_max)
            break;
        recs[count].data = self->pending[i].data;
        recs[count++].len = self->pending[i].len;
        bytes += self->pending[i].len + 8;
    }
    uint8_t *block = NULL;
    size_t len = 0;
    bool *bad = NULL;
    uint64_t now = (uint64_t)zclock_time ();
    /* A record the block rules refuse would make every proposal of this
       node invalid: the ledger leaves such records out (one at a time, in
       block order, so a record that needs an earlier one of the block
       stays when that one does) and says why. */
    int *why = calloc (count ? count : 1, sizeof *why);
    if (!why)
        wd_fatalx ("out of memory");
    cons_block_claim_t claim = { 0 };
    if (own)
        claim = (cons_block_claim_t){ .round = own->round,
                                      .bytes = { .data = own->bytes, .len = own->len } };
    int rc = cons_ledger_propose_valid (self->ledger, now, self->self_id, own ? &claim : NULL, recs,
                                        count, why, &block, &len);
    for (size_t i = 0; i < count; i++) {
        if (why[i] == WD_OK)
            continue;
        if (!bad && !(bad = calloc (self->pending_len ? self->pending_len : 1, sizeof *bad)))
            wd_fatalx ("out of memory");
        uint8_t id[32];
        wd_envelope_id (id, recs[i].data, recs[i].len);
        if (i >= first)
            bad[i - first] = true; /* recs[i] is pending[i - first] */
        wd_log_warnx ("agree: record %s cannot go in block %llu: %s; %s", wd_short_id (id).s,
                      (unsigned long long)height, cons_strerror (why[i]),
                      i >= first ? "dropped" : "left out");
    }
    free (why);
    free (recs);
    if (bad) {
        s_pending_drop (self, bad);
        free (bad);
    }
    if (rc == CONS_ERR_UNKNOWN_VALIDATOR) {
        /* this node is out of the set of the next height (an epoch that
           leaves it out begins): nothing to propose */
        wd_log_debug ("agree: not a validator at height %llu; no candidate",
                      (unsigned long long)height);
        return;
    }
    if (rc != WD_OK) {
        wd_log_warnx ("agree: building a candidate: %s", cons_strerror (rc));
        return;
    }
    s_input_t *in = s_input_new (S_IN_CANDIDATE, NULL, 0);
    in->data = block;
    in->len = len;
    in->height = height;
    s_enqueue (self, in, false);
}

static int
s_on_candidate_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_agree_t *self = arg;
    self->candidate_timer = -1;
    s_feed_candidate (self);
    s_pump (self);
    return 0;
}

/* Whether records wait for a block: pending ones or the committee's. */
static bool
s_records_wait (node_agree_t *self)
{
    return self->pending_len > 0 ||
           (self->hooks.propose &&
            self->hooks.propose (self->hooks_arg, self->hook_recs, 1, self->candidate_max / 2) > 0);
}

/* A candidate is due for tip + 1: at once when records wait, else after
   agree_idle_ms (or as soon as a record arrives), so an idle chain makes
   about one empty block per agree_idle_ms instead of hundreds a second
   (the other nodes lengthen their round-0 propose timeout by as much:
   s_arm). */
static void
s_schedule_candidate (node_agree_t *self)
{
    if (!self->validator)
        return;
    self->candidate_due = true;
    if (s_records_wait (self)) {
        s_feed_candidate (self);
        return;
    }
    if (self->candidate_timer >= 0)
        zloop_timer_end (self->loop, self->candidate_timer);
    if (self->vrf) {
        bool wait; /* prove the claims while the chain idles */
        (void)s_candidate_claim (self, cons_ledger_height (self->ledger) + 1, &wait);
    }
    size_t delay = self->idle_ms;
    self->candidate_timer =
        zloop_timer (self->loop, delay ? delay : 1, 1, s_on_candidate_timer, self);
    if (self->candidate_timer < 0)
        wd_fatalx ("zloop_timer");
}

static void
s_on_record (void *arg, const uint8_t *record, size_t len)
{
    node_agree_t *self = arg;
    if (self->hooks.on_record && self->hooks.on_record (self->hooks_arg, record, len))
        return;
    uint8_t id[32];
    wd_envelope_id (id, record, len);
    if (cons_ledger_seen (self->ledger, id))
        return;
    for (size_t i = 0; i < self->pending_len; i++)
        if (memcmp (self->pending[i].id, id, 32) == 0)
            return;
    if (self->pending_len >= PENDING_MAX) {
        wd_log_warnx ("agree: %d records wait for a block; dropped one", PENDING_MAX);
        return;
    }
    s_record_t *r = &self->pending[self->pending_len++];
    memcpy (r->id, id, 32);
    r->data = s_dup (record, len);
    r->len = len;
    s_idle_end (self);
    if (self->candidate_due && self->candidate_timer >= 0 && self->agree) {
        s_feed_candidate (self);
        s_pump (self);
    }
}

/* ---- the machine -------------------------------------------------------------- */

/* Queues the fetched block of height, if one is kept, as a catch-up
   commit (front: before what is queued). */
static void
s_synced_feed (node_agree_t *self, uint64_t height, bool front)
{
    for (size_t k = 0; k < SYNC_KEEP; k++) {
        s_synced_t *s = &self->synced[k];
        if (s->height != height)
            continue;
        s_input_t *in = s_input_new (S_IN_COMMIT, NULL, 0);
        in->data = s->block;
        in->len = s->block_len;
        in->cert = s->cert;
        in->cert_len = s->cert_len;
        in->height = height;
        memcpy (in->from, s->from, WD_PUBKEY_LEN);
        memset (s, 0, sizeof *s);
        s_enqueue (self, in, front);
    }
}

/* cons_agree_claim_fn over the ledger (ctx): the claim of validator (an
   index into the set of height) checked by the ledger's rules. */
static int
s_check_claim (void *ctx, uint64_t height, uint32_t round, uint32_t validator, const uint8_t *claim,
               size_t claim_len, uint8_t priority[CONS_PRIORITY_LEN])
{
    cons_ledger_t *ledger = ctx;
    const cons_validator_t *vals;
    size_t count;
    int rc = cons_ledger_validators (ledger, height, &vals, &count);
    if (rc != WD_OK)
        return rc;
    if (validator >= count)
        return CONS_ERR_UNKNOWN_VALIDATOR;
    return cons_ledger_check_claim (ledger, height, round, vals[validator].pk, claim, claim_len,
                                    priority);
}

/* VRF mode: a proposal whose block carries a claim of a later round than
   the proposal's own is dropped before the machine sees it, so no block is
   decided in a round before its claim's (cons_ledger_append refuses that,
   CONS_ERR_BLOCK_ROUND). Whatever does not decode goes on: the machine
   says why it refuses it. */
static bool
s_claim_round_ok (node_agree_t *self, const s_input_t *in)
{
    wd_envelope_t env;
    cons_msg_t msg;
    cons_block_t block;
    if (cons_msg_decode (in->data, in->len, self->chain, self->params.block_max, &env, &msg) !=
            WD_OK ||
        msg.kind != CONS_PROPOSAL ||
        cons_block_decode (msg.block, msg.block_len, self->params.block_max, &block) != WD_OK)
        return true;
    uint32_t claimed = block.claim.round;
    cons_block_release (&block);
    if (claimed <= msg.round)
        return true;
    wd_log_warnx ("agree: proposal of %s for round %u carries a block claimed for round %u; "
                  "dropped",
                  s_name (self, env.from), msg.round, claimed);
    return false;
}

/* Creates the machine for height (the tip + 1) with the validator set of
   its epoch, starts it and queues the own envelopes of the height. */
static void
s_machine_start (node_agree_t *self)
{
    cons_agree_destroy (&self->agree);
    uint64_t height = cons_ledger_height (self->ledger) + 1;
    const cons_validator_t *vals;
    size_t count;
    int rc = cons_ledger_validators (self->ledger, height, &vals, &count);
    if (rc != WD_OK)
        wd_fatalx ("agree: validator set of height %llu: %s", (unsigned long long)height,
                   cons_strerror (rc));
    uint32_t me = CONS_AGREE_OBSERVER;
    for (size_t i = 0; i < count; i++)
        if (memcmp (vals[i].pk, self->self_id, WD_PUBKEY_LEN) == 0)
            me = (uint32_t)i;
    cons_agree_saved_t saved, *sp = NULL;
    if (self->saved && self->saved_height == height &&
        cons_agree_saved_decode (self->saved, self->saved_len, self->params.block_max, &saved) ==
            WD_OK)
        sp = &saved;
    cons_agree_config_t config = {
        .params = self->params,
        .validators = vals,
        .count = count,
        .self = me,
        .height = height,
        .saved = sp,
        .valid = cons_ledger_valid_cb,
        .claim = self->vrf ? s_check_claim : NULL,
        .verify = cons_ledger_verify_cb, /* precommits verified once: the certificates hit */
        .ctx = self->ledger,
    };
    memcpy (config.chain, self->chain, WD_CHAIN_ID_LEN);
    rc = cons_agree_new (&config, &self->agree);
    if (rc != WD_OK)
        wd_fatalx ("agree: cons_agree_new at height %llu: %s", (unsigned long long)height,
                   cons_strerror (rc));
    self->validator = me != CONS_AGREE_OBSERVER;
    self->validators = count;
    self->epoch = (height - 1) / self->epoch_blocks;
    self->height_start_ms = (uint64_t)zclock_mono ();
    self->out.count = 0;
    self->out_next = 0;
    cons_agree_start (self->agree, &self->out);
    if (sp)
        wd_log_info ("agree: resuming height %llu from %s (signed round %d step %u)",
                     (unsigned long long)height, self->state_path, (int)saved.signed_round,
                     (unsigned)saved.signed_step);
    /* Like a write-ahead log: the own messages of the height count again
       and go out again with the repair. */
    for (size_t i = 0; i < self->own_len; i++)
        if (self->own[i].height == height)
            s_enqueue (self, s_input_new (S_IN_OWN, self->own[i].data, self->own[i].len), false);
    s_synced_feed (self, height, false);
    s_schedule_candidate (self);
}

/* ---- signing ------------------------------------------------------------------- */

static void
s_sign_ask (node_agree_t *self);

static int
s_on_sign_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_agree_t *self = arg;
    self->sign_timer = -1;
    s_sign_ask (self);
    return 0;
}

static void
s_signed (void *arg, const uint8_t sig[WD_SIG_LEN], int refused, const char *reason)
{
    node_agree_t *self = arg;
    if (!sig && (refused == WD_ERR_SIGN_CONFLICT || refused == WD_ERR_SIGN_REGRESS)) {
        /* the keys process's guard: this node already signed another
           message at this step or a later one (its agree.state was lost or
           rolled back); asking again cannot help */
        wd_log_warnx ("agree: the keys process refused to sign %s h=%llu r=%u: %s; message "
                      "dropped",
                      cons_kind_type (self->sign_kind), (unsigned long long)self->sign_height,
                      self->sign_round, reason);
    } else if (!sig) {
        if (++self->sign_tries < SIGN_TRIES) {
            wd_log_warnx ("agree: signing %s h=%llu r=%u: %s; retrying",
                          cons_kind_type (self->sign_kind), (unsigned long long)self->sign_height,
                          self->sign_round, reason);
            self->sign_timer = zloop_timer (self->loop, SIGN_RETRY_MS, 1, s_on_sign_retry, self);
            if (self->sign_timer < 0)
                wd_fatalx ("zloop_timer");
            return;
        }
        wd_log_warnx ("agree: signing %s h=%llu r=%u: %s; message dropped",
                      cons_kind_type (self->sign_kind), (unsigned long long)self->sign_height,
                      self->sign_round, reason);
    } else {
        wd_envelope_t env = { .body = self->sign_body, .body_len = self->sign_body_len };
        snprintf (env.type, sizeof env.type, "%s", cons_kind_type (self->sign_kind));
        memcpy (env.chain, self->chain, WD_CHAIN_ID_LEN);
        memcpy (env.from, self->self_id, WD_PUBKEY_LEN);
        memcpy (env.sig, sig, WD_SIG_LEN);
        uint8_t *envelope;
        size_t len;
        wd_envelope_encode (&env, &envelope, &len);
        if (self->own_len == OWN_MAX) {
            free (self->own[0].data);
            memmove (self->own, self->own + 1, (OWN_MAX - 1) * sizeof self->own[0]);
            self->own_len--;
        }
        self->own[self->own_len++] = (s_kept_t){ .data = s_dup (envelope, len),
                                                 .len = len,
                                                 .height = self->sign_height,
                                                 .round = self->sign_round };
        if (s_state_write (self) != 0)
            wd_log_warnx ("agree: own message not kept on disk (sent anyway)");
        s_input_t *in = s_input_new (S_IN_OWN, NULL, 0);
        in->data = envelope;
        in->len = len;
        s_enqueue (self, in, true);
        s_broadcast (self, CONS_CHANNEL_AGREE, envelope, len);
    }
    free (self->sign_body);
    self->sign_body = NULL;
    self->signing = false;
    s_pump (self);
}

static void
s_sign_ask (node_agree_t *self)
{
    wd_msg_sign_step_t step = { .height = self->sign_height,
                                .round = self->sign_round,
                                .step = (uint8_t)self->sign_kind };
    memcpy (step.chain, self->chain, WD_CHAIN_ID_LEN);
    memcpy (step.digest, self->sign_digest, WD_DIGEST_LEN);
    node_sign_step (self->signer, &step, s_signed, self);
}

/* Starts the signature of msg (the machine's output). */
static void
s_sign (node_agree_t *self, const cons_msg_t *msg)
{
    cons_msg_t with_claim;
    if (msg->kind == CONS_PROPOSAL && self->vrf) {
        /* VRF mode: the machine proposes in every round; the proposal goes
           out only with this node's claim for the round */
        const s_claim_t *c = s_claim_get (self, msg->height, msg->round);
        if (!c) {
            self->claim_msg = *msg;
            self->claim_wait = true;
            self->signing = true; /* the pump waits, as for a signature */
            return;
        }
        if (!c->selected)
            return;
        with_claim = *msg;
        with_claim.claim = c->bytes;
        with_claim.claim_len = c->len;
        msg = &with_claim;
    }
    self->sign_kind = msg->kind;
    self->sign_height = msg->height;
    self->sign_round = msg->round;
    self->sign_body = cons_msg_encode_body (msg, &self->sign_body_len);
    cons_msg_digest (msg, self->chain, self->sign_digest);
    self->sign_tries = 0;
    self->signing = true;
    s_sign_ask (self);
}

/* ---- outputs ------------------------------------------------------------------- */

static void
s_evidence_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    node_agree_t *self = arg;
    if (!envelope) {
        wd_log_warnx ("agree: equivocation record not sealed: %s", reason);
        return;
    }
    int rc = node_mesh_publish_record (self->mesh, envelope, len);
    if (rc != WD_OK)
        wd_log_warnx ("agree: equivocation record not published: %s", cons_strerror (rc));
}

/* Publishes an "equivocation" record, sealed by this node and gossiped: it
   goes in a block like any record, and reputation slashes. */
static void
s_report (node_agree_t *self, const cons_evidence_t *ev, const char *how)
{
    wd_log_warnx ("agree: %s (%s) signed two different %ss at height %llu round %u%s",
                  s_name (self, ev->validator), wd_short_id (ev->validator).s,
                  cons_kind_type (ev->kind), (unsigned long long)ev->height, ev->round, how);
    size_t blen;
    uint8_t *body = cons_evidence_encode (ev, &blen);
    node_sign_seal (self->signer, CONS_REP_EQUIVOCATION_TYPE, self->chain, body, blen,
                    s_evidence_sealed, self);
    free (body);
}

/* Votes go straight to every validator and are relayed only while a height
   stalls, so a validator that sends one precommit to some and another to
   the rest is seen twice by nobody. The certificate of height h reaches
   everyone in block h + 1 (last_cert): each of its signatures is compared
   with the precommit this node accepted from that validator at height h
   and round, and a different one is reported. */
static void
s_precommits_keep (node_agree_t *self, uint64_t height)
{
    self->precommits_len = 0;
    self->precommits_height = height;
    for (size_t i = 0; i < self->seen_len; i++) {
        const s_kept_t *k = &self->seen[i];
        wd_envelope_t env;
        cons_msg_t msg;
        if (k->height != height ||
            cons_msg_decode (k->data, k->len, self->chain, self->params.block_max, &env, &msg) !=
                WD_OK ||
            msg.kind != CONS_PRECOMMIT)
            continue;
        s_precommit_t *p = &self->precommits[self->precommits_len++];
        memcpy (p->validator, env.from, WD_PUBKEY_LEN);
        p->round = msg.round;
        p->nil = msg.nil;
        memcpy (p->block, msg.block_id, CONS_BLOCK_ID_LEN);
        memcpy (p->sig, env.sig, WD_SIG_LEN);
    }
}

static void
s_precommits_check (node_agree_t *self, const uint8_t *block, size_t len)
{
    cons_block_t b;
    if (self->precommits_len == 0 ||
        cons_block_decode (block, len, self->params.block_max, &b) != WD_OK)
        return;
    cons_cert_t cert;
    const cons_validator_t *vals;
    size_t count;
    if (b.last_cert.len > 0 &&
        cons_cert_decode (b.last_cert.data, b.last_cert.len, &cert, self->cert_sigs,
                          CONS_VALIDATORS_MAX) == WD_OK &&
        cert.height == self->precommits_height &&
        cons_ledger_validators (self->ledger, cert.height, &vals, &count) == WD_OK) {
        for (size_t s = 0; s < cert.count; s++) {
            if (cert.sigs[s].index >= count)
                continue;
            const uint8_t *who = vals[cert.sigs[s].index].pk;
            for (size_t i = 0; i < self->precommits_len; i++) {
                const s_precommit_t *p = &self->precommits[i];
                if (p->round != cert.round || memcmp (p->validator, who, WD_PUBKEY_LEN) != 0 ||
                    (!p->nil && memcmp (p->block, cert.block_id, CONS_BLOCK_ID_LEN) == 0))
                    continue;
                cons_evidence_t ev = { .kind = CONS_PRECOMMIT,
                                       .height = cert.height,
                                       .round = cert.round,
                                       .nil_b = p->nil };
                memcpy (ev.validator, who, WD_PUBKEY_LEN);
                memcpy (ev.block_a, cert.block_id, CONS_BLOCK_ID_LEN);
                memcpy (ev.sig_a, cert.sigs[s].sig, WD_SIG_LEN);
                memcpy (ev.block_b, p->block, CONS_BLOCK_ID_LEN);
                memcpy (ev.sig_b, p->sig, WD_SIG_LEN);
                s_report (self, &ev, " (one in the certificate of the next block)");
            }
        }
    }
    self->precommits_len = 0;
    cons_block_release (&b);
}

static void
s_latency (node_agree_t *self, uint64_t ms)
{
    self->latencies[self->latency_count % LATENCIES] =
        (uint32_t)(ms > UINT32_MAX ? UINT32_MAX : ms);
    self->latency_count++;
}

static void
s_commit (node_agree_t *self, const cons_agree_output_t *o)
{
    size_t cert_len;
    uint8_t *cert = cons_cert_encode (&o->commit.cert, &cert_len);
    int rc =
        cons_ledger_append (self->ledger, o->commit.block, o->commit.block_len, cert, cert_len);
    free (cert);
    if (rc != WD_OK)
        wd_fatalx ("agree: appending block %llu to the ledger: %s (restarting to catch up)",
                   (unsigned long long)o->commit.height, cons_strerror (rc));
    uint64_t now = (uint64_t)zclock_mono ();
    s_latency (self, now - self->height_start_ms);
    s_precommits_check (self, o->commit.block, o->commit.block_len);
    self->last_commit_ms = (uint64_t)zclock_time ();
    self->commits++;
    node_mesh_ledger_changed (self->mesh); /* joins and leaves change who is admitted */
    if (self->hooks.on_commit)
        self->hooks.on_commit (self->hooks_arg, o->commit.height, o->commit.block,
                               o->commit.block_len);
    wd_log_debug ("agree: committed height %llu round %u, block %s, %zu signatures",
                  (unsigned long long)o->commit.height, o->commit.round,
                  wd_short_id (o->commit.cert.block_id).s, o->commit.cert.count);
    s_pending_prune (self);
    s_schedule_candidate (self);
}

static void
s_new_height (node_agree_t *self, uint64_t height)
{
    self->height_start_ms = (uint64_t)zclock_mono ();
    s_precommits_keep (self, height - 1);
    s_kept_clear (self->seen, &self->seen_len);
    size_t keep = 0;
    for (size_t i = 0; i < self->own_len; i++) {
        if (self->own[i].height >= height)
            self->own[keep++] = self->own[i];
        else
            free (self->own[i].data);
    }
    self->own_len = keep;
    if ((height - 1) / self->epoch_blocks != self->epoch) {
        self->rebuild = true; /* another validator set: a new machine */
        for (size_t i = 0; i < self->future_len; i++)
            free (self->future[i].data);
        self->future_len = 0;
    } else {
        /* feed what was kept for this height, keep what is further on */
        keep = 0;
        for (size_t i = 0; i < self->future_len; i++) {
            s_kept_t *k = &self->future[i];
            if (k->height == height) {
                s_input_t *in = s_input_new (S_IN_MESSAGE, NULL, 0);
                in->data = k->data;
                in->len = k->len;
                memcpy (in->from, k->from, WD_PUBKEY_LEN);
                s_enqueue (self, in, false);
            } else if (k->height > height)
                self->future[keep++] = *k;
            else
                free (k->data);
        }
        self->future_len = keep;
    }
    for (size_t i = 0; i < SYNC_KEEP; i++) {
        s_synced_t *s = &self->synced[i];
        if (s->height && s->height < height) {
            free (s->block);
            free (s->cert);
            memset (s, 0, sizeof *s);
        }
    }
    if (!self->rebuild)
        s_synced_feed (self, height, true);
}

static void
s_output (node_agree_t *self, const cons_agree_output_t *o)
{
    switch (o->kind) {
        case CONS_AGREE_OUT_PERSIST:
            free (self->saved);
            self->saved = cons_agree_saved_encode (&o->saved, &self->saved_len);
            self->saved_height = o->saved.height;
            if (s_state_write (self) != 0)
                wd_fatalx ("agree: cannot make the agreement state durable; not signing");
            break;
        case CONS_AGREE_OUT_PROPOSE:
        case CONS_AGREE_OUT_VOTE:
            s_sign (self, &o->msg);
            break;
        case CONS_AGREE_OUT_TIMER:
            s_arm (self, o->timer.timer, o->timer.height, o->timer.round, o->timer.ms);
            break;
        case CONS_AGREE_OUT_COMMIT:
            s_commit (self, o);
            break;
        case CONS_AGREE_OUT_EVIDENCE:
            s_report (self, &o->evidence, "");
            break;
        case CONS_AGREE_OUT_NEW_HEIGHT:
            s_new_height (self, o->height);
            break;
    }
}

/* ---- inputs -------------------------------------------------------------------- */

static void
s_sync_ask (node_agree_t *self, const uint8_t peer[WD_PUBKEY_LEN], bool now)
{
    uint64_t mono = (uint64_t)zclock_mono ();
    if (!now && self->sync_last_ms && mono < self->sync_last_ms + SYNC_GAP_MS)
        return;
    self->sync_last_ms = mono;
    size_t len;
    uint8_t *body = node_agree_encode_sync_request (cons_ledger_height (self->ledger) + 1, &len);
    int rc = node_mesh_send (self->mesh, peer, CONS_CHANNEL_SYNC, body, len);
    if (rc != WD_OK)
        wd_log_debug ("agree: sync request to %s: %s", s_name (self, peer), cons_strerror (rc));
    free (body);
}

static void
s_keep (s_kept_t *arr, size_t *count, size_t max, const s_input_t *in, uint64_t height,
        uint32_t round)
{
    if (*count >= max)
        return;
    s_kept_t *k = &arr[(*count)++];
    *k = (s_kept_t){
        .data = s_dup (in->data, in->len), .len = in->len, .height = height, .round = round
    };
    memcpy (k->from, in->from, WD_PUBKEY_LEN);
}

static void
s_feed (node_agree_t *self, s_input_t *in)
{
    if (in->kind == S_IN_MESSAGE && self->vrf && !s_claim_round_ok (self, in))
        return;
    cons_agree_input_t ai = { .data = in->data,
                              .len = in->len,
                              .cert = in->cert,
                              .cert_len = in->cert_len,
                              .timer = in->timer,
                              .height = in->height,
                              .round = in->round };
    switch (in->kind) {
        case S_IN_MESSAGE:
        case S_IN_OWN:
            ai.kind = CONS_AGREE_IN_MESSAGE;
            break;
        case S_IN_TIMEOUT:
            ai.kind = CONS_AGREE_IN_TIMEOUT;
            break;
        case S_IN_CANDIDATE:
            ai.kind = CONS_AGREE_IN_CANDIDATE;
            break;
        case S_IN_COMMIT:
            ai.kind = CONS_AGREE_IN_COMMIT;
            break;
    }
    self->out.count = 0;
    self->out_next = 0;
    int rc = cons_agree_step (self->agree, &ai, &self->out);
    if (in->kind == S_IN_MESSAGE) {
        wd_envelope_t env;
        cons_msg_t msg;
        bool ok = cons_msg_decode (in->data, in->len, self->chain, self->params.block_max, &env,
                                   &msg) == WD_OK;
        if (ok && (rc == WD_OK || rc == CONS_ERR_EQUIVOCATION))
            s_keep (self->seen, &self->seen_len, SEEN_MAX, in, msg.height, msg.round);
        else if (ok && rc == CONS_ERR_FUTURE_HEIGHT) {
            s_keep (self->future, &self->future_len, FUTURE_MAX, in, msg.height, msg.round);
            /* a peer is ahead: ask it for the blocks this node lacks */
            s_sync_ask (self, in->from, false);
        } else if (rc != WD_OK && rc != CONS_ERR_OLD_HEIGHT && rc != CONS_ERR_DUPLICATE &&
                   rc != CONS_ERR_OLD_ROUND && rc != CONS_ERR_FUTURE_ROUND)
            wd_log_debug ("agree: message from %s: %s", s_name (self, in->from),
                          cons_strerror (rc));
    } else if (in->kind == S_IN_COMMIT) {
        if (rc == WD_OK)
            self->synced_commits++;
        else if (rc != CONS_ERR_OLD_HEIGHT && rc != CONS_ERR_STALE)
            wd_log_warnx ("agree: block %llu from %s refused: %s", (unsigned long long)in->height,
                          s_name (self, in->from), cons_strerror (rc));
    } else if (in->kind == S_IN_OWN) {
        if (rc != WD_OK && rc != CONS_ERR_DUPLICATE && rc != CONS_ERR_OLD_HEIGHT &&
            rc != CONS_ERR_OLD_ROUND)
            wd_log_warnx ("agree: own message refused: %s", cons_strerror (rc));
    } else if (rc != WD_OK && rc != CONS_ERR_STALE)
        wd_log_debug ("agree: %s input: %s", in->kind == S_IN_CANDIDATE ? "candidate" : "timer",
                      cons_strerror (rc));
}

static void
s_pump (node_agree_t *self)
{
    if (self->pumping || !self->agree)
        return;
    self->pumping = true;
    while (!self->signing) {
        if (self->out_next < self->out.count) {
            const cons_agree_output_t *o = &self->out.items[self->out_next++];
            s_output (self, o);
            /* A NEW_HEIGHT into another epoch: what follows it (the new
               height's proposal, timers, saved state) was chosen with the
               old validator set; the new machine decides them again. */
            if (self->rebuild)
                self->out_next = self->out.count;
            continue;
        }
        if (self->rebuild) {
            self->rebuild = false;
            wd_log_info (
                "agree: epoch %llu begins at height %llu; new validator set",
                (unsigned long long)((cons_ledger_height (self->ledger)) / self->epoch_blocks),
                (unsigned long long)cons_ledger_height (self->ledger) + 1);
            s_machine_start (self);
            continue;
        }
        s_input_t *in = self->head;
        if (!in)
            break;
        self->head = in->next;
        if (!self->head)
            self->tail = NULL;
        self->queued--;
        s_feed (self, in);
        s_input_free (in);
    }
    self->pumping = false;
}

/* ---- the network ---------------------------------------------------------------- */

static void
s_sync_serve (node_agree_t *self, const uint8_t peer[WD_PUBKEY_LEN], uint64_t from)
{
    uint64_t tip = cons_ledger_height (self->ledger);
    if (from < 1 || from > tip)
        return;
    /* one answer per peer per SYNC_SERVE_GAP_MS: a peer cannot make this
       node read its ledger in a loop */
    uint64_t mono = (uint64_t)zclock_mono ();
    size_t who = SIZE_MAX;
    for (size_t i = 0; i < node_mesh_node_count (self->mesh) && i < SERVED_MAX; i++)
        if (memcmp (node_mesh_node (self->mesh, i)->sign_pk, peer, WD_PUBKEY_LEN) == 0)
            who = i;
    if (who == SIZE_MAX ||
        (self->served_ms[who] && mono < self->served_ms[who] + SYNC_SERVE_GAP_MS))
        return;
    self->served_ms[who] = mono;
    uint8_t *blocks[NODE_AGREE_SYNC_MAX], *certs[NODE_AGREE_SYNC_MAX];
    node_agree_synced_t out[NODE_AGREE_SYNC_MAX];
    size_t n = 0, bytes = 0;
    for (uint64_t h = from; h <= tip && n < NODE_AGREE_SYNC_MAX; h++) {
        node_agree_synced_t *e = &out[n];
        if (cons_ledger_get (self->ledger, h, &blocks[n], &e->block_len, &certs[n], &e->cert_len) !=
            WD_OK)
            break;
        if (n > 0 && bytes + e->block_len + e->cert_len > SYNC_REPLY_MAX) {
            free (blocks[n]);
            free (certs[n]);
            break;
        }
        e->block = blocks[n];
        e->cert = certs[n];
        bytes += e->block_len + e->cert_len;
        n++;
    }
    size_t len;
    uint8_t *body = node_agree_encode_sync_reply (out, n, tip, &len);
    for (size_t i = 0; i < n; i++) {
        free (blocks[i]);
        free (certs[i]);
    }
    int rc = node_mesh_send (self->mesh, peer, CONS_CHANNEL_SYNC, body, len);
    if (rc != WD_OK)
        wd_log_debug ("agree: sync reply to %s: %s", s_name (self, peer), cons_strerror (rc));
    free (body);
}

/* A sync reply: keeps the blocks by height and queues the current one. */
static void
s_sync_reply (node_agree_t *self, const uint8_t peer[WD_PUBKEY_LEN], const uint8_t *body,
              size_t len)
{
    node_agree_synced_t got[NODE_AGREE_SYNC_MAX];
    size_t count;
    uint64_t tip, last = 0;
    wd_err_t err =
        node_agree_decode_sync_reply (body, len, self->params.block_max, got, &count, &tip);
    if (err != WD_OK) {
        wd_log_warnx ("agree: sync reply from %s: %s", s_name (self, peer), wd_strerror (err));
        return;
    }
    uint64_t height = cons_ledger_height (self->ledger) + 1;
    for (size_t i = 0; i < count; i++) {
        /* the certificate names the height; the machine checks the rest */
        cons_cert_t c;
        if (cons_cert_decode (got[i].cert, got[i].cert_len, &c, self->cert_sigs,
                              CONS_VALIDATORS_MAX) != WD_OK)
            continue;
        if (c.height < height || c.height >= height + SYNC_KEEP)
            continue;
        last = c.height > last ? c.height : last;
        s_synced_t *slot = NULL;
        for (size_t k = 0; k < SYNC_KEEP && !slot; k++)
            if (self->synced[k].height == c.height)
                slot = &self->synced[k];
        for (size_t k = 0; k < SYNC_KEEP && !slot; k++)
            if (!self->synced[k].height)
                slot = &self->synced[k];
        if (!slot || slot->height == c.height)
            continue;
        slot->height = c.height;
        slot->block = s_dup (got[i].block, got[i].block_len);
        slot->block_len = got[i].block_len;
        slot->cert = s_dup (got[i].cert, got[i].cert_len);
        slot->cert_len = got[i].cert_len;
        memcpy (slot->from, peer, WD_PUBKEY_LEN);
    }
    s_synced_feed (self, height, false);
    if (last && tip > last)
        s_sync_ask (self, peer, true); /* more to fetch */
}

static void
s_on_channel (void *arg, const uint8_t from[WD_PUBKEY_LEN], uint8_t channel, const uint8_t *body,
              size_t len)
{
    node_agree_t *self = arg;
    if (!self->agree)
        return;
    if (channel == CONS_CHANNEL_AGREE) {
        if (self->queued >= QUEUE_MAX) {
            wd_log_debug ("agree: input queue full; message from %s dropped", s_name (self, from));
            return;
        }
        s_input_t *in = s_input_new (S_IN_MESSAGE, body, len);
        memcpy (in->from, from, WD_PUBKEY_LEN);
        s_enqueue (self, in, false);
    } else if (channel == CONS_CHANNEL_SYNC) {
        uint64_t start;
        /* a request is a map of 2, a reply a map of 3 */
        if (len > 0 && body[0] == 0x82) {
            wd_err_t err = node_agree_decode_sync_request (body, len, &start);
            if (err == WD_OK)
                s_sync_serve (self, from, start);
            else
                wd_log_debug ("agree: sync request from %s: %s", s_name (self, from),
                              wd_strerror (err));
        } else
            s_sync_reply (self, from, body, len);
    }
    s_pump (self);
}

/* Repair: when the height has not moved since the last tick, send again the
   own messages of the height and what was accepted for the last rounds and
   for the lock and valid rounds. */
static int
s_on_repair (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_agree_t *self = arg;
    if (!self->agree)
        return 0;
    cons_agree_status_t st;
    cons_agree_status (self->agree, &st);
    if (st.height != self->repair_height) {
        self->repair_height = st.height;
        return 0;
    }
    for (size_t i = 0; i < self->own_len; i++)
        if (self->own[i].height == st.height)
            s_broadcast (self, CONS_CHANNEL_AGREE, self->own[i].data, self->own[i].len);
    for (size_t i = 0; i < self->seen_len; i++) {
        const s_kept_t *k = &self->seen[i];
        bool recent = k->round + RELAY_ROUNDS > st.round || (int64_t)k->round == st.lock_round ||
                      (int64_t)k->round == st.valid_round;
        if (k->height == st.height && recent)
            s_broadcast (self, CONS_CHANNEL_AGREE, k->data, k->len);
    }
    return 0;
}

/* ---- start-up -------------------------------------------------------------------- */

static void
s_keys_ready (void *arg, const wd_msg_keys_status_t *keys, const char *reason);

static int
s_on_start_retry (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_agree_t *self = arg;
    self->start_timer = -1;
    node_sign_info (self->signer, s_keys_ready, self);
    return 0;
}

/* The machine starts once the keys process answers with the node's key:
   its first output may be a vote to sign. */
static void
s_keys_ready (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    node_agree_t *self = arg;
    if (self->agree)
        return;
    if (!keys || sodium_memcmp (keys->public_key, self->self_id, WD_PUBKEY_LEN) != 0) {
        wd_log_debug ("agree: waiting for the keys process: %s",
                      keys ? "its key is not this node's" : reason);
        self->start_timer = zloop_timer (self->loop, START_RETRY_MS, 1, s_on_start_retry, self);
        if (self->start_timer < 0)
            wd_fatalx ("zloop_timer");
        return;
    }
    s_machine_start (self);
    cons_agree_status_t st;
    cons_agree_status (self->agree, &st);
    wd_log_info ("agree: %s at height %llu (ledger tip %llu), %llu validators",
                 self->validator ? "validating" : "observing", (unsigned long long)st.height,
                 (unsigned long long)cons_ledger_height (self->ledger),
                 (unsigned long long)self->validators);
    s_pump (self);
}

wd_err_t
node_agree_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                node_sign_t *signer, node_mesh_t *mesh, node_agree_reply_fn *reply,
                node_agree_t **out, char *why, size_t why_len)
{
    *out = NULL;
    if (!mesh)
        return WD_OK;
    const wd_genesis_t *g = node_mesh_genesis (mesh);
    node_agree_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    self->signer = signer;
    self->mesh = mesh;
    self->reply = reply;
    self->genesis = g;
    self->repair_timer = self->candidate_timer = self->start_timer = self->sign_timer = -1;
    for (size_t i = 0; i < TIMERS_MAX; i++)
        self->timers[i].id = -1;
    wd_genesis_chain_id (g, self->chain);
    memcpy (self->self_id, self_cert->sign_pk, WD_PUBKEY_LEN);
    self->params = (cons_agree_params_t){
        .propose_ms = (uint32_t)wd_genesis_param (g, "agree_propose_ms"),
        .propose_delta_ms = (uint32_t)wd_genesis_param (g, "agree_propose_delta_ms"),
        .prevote_ms = (uint32_t)wd_genesis_param (g, "agree_prevote_ms"),
        .prevote_delta_ms = (uint32_t)wd_genesis_param (g, "agree_prevote_delta_ms"),
        .precommit_ms = (uint32_t)wd_genesis_param (g, "agree_precommit_ms"),
        .precommit_delta_ms = (uint32_t)wd_genesis_param (g, "agree_precommit_delta_ms"),
        .commit_ms = (uint32_t)wd_genesis_param (g, "agree_commit_ms"),
        .timeout_max_ms = (uint32_t)wd_genesis_param (g, "agree_timeout_max_ms"),
        .filter_ms = (uint32_t)wd_genesis_param (g, "agree_filter_ms"),
        .proposer_mode =
            wd_genesis_param (g, "proposer_vrf") ? CONS_PROPOSER_VRF : CONS_PROPOSER_ROUND_ROBIN,
        .block_max = (size_t)wd_genesis_param (g, "block_max_bytes"),
    };
    self->vrf = self->params.proposer_mode == CONS_PROPOSER_VRF;
    self->epoch_blocks = wd_genesis_param (g, "epoch_blocks");
    self->idle_ms = (uint32_t)wd_genesis_param (g, "agree_idle_ms");
    self->candidate_max = self->params.block_max - CONS_BLOCK_CERT_MAX - 1024;
    if (self->candidate_max > CANDIDATE_MAX)
        self->candidate_max = CANDIDATE_MAX;
    self->pending = calloc (PENDING_MAX, sizeof *self->pending);
    self->cert_sigs = calloc (CONS_VALIDATORS_MAX, sizeof *self->cert_sigs);
    self->served_ms = calloc (SERVED_MAX, sizeof *self->served_ms);
    self->hook_recs = calloc (HOOK_RECORDS_MAX, sizeof *self->hook_recs);
    self->precommits = calloc (SEEN_MAX, sizeof *self->precommits);
    if (!self->pending || !self->cert_sigs || !self->served_ms || !self->hook_recs ||
        !self->precommits)
        wd_fatalx ("out of memory");

    char path[PATH_MAX];
    wd_err_t err = WD_OK;
    if (node_path_state (cfg, CONS_LEDGER_FILE, path, sizeof path) != 0 ||
        node_path_state (cfg, NODE_AGREE_STATE_FILE, self->state_path, sizeof self->state_path) !=
            0) {
        snprintf (why, why_len, "state path is too long");
        err = WD_ERR_CONFIG_VALUE;
    }
    if (err == WD_OK) {
        int rc = cons_ledger_open (path, g, CONS_LEDGER_READ_WRITE, &self->ledger, why, why_len);
        if (rc != WD_OK) {
            size_t used = strlen (why);
            snprintf (why + used, why_len - used, "%sledger %s: %s", used ? "; " : "", path,
                      cons_strerror (rc));
            err = WD_ERR_IO;
        }
    }
    if (err == WD_OK)
        cons_ledger_set_vcache (self->ledger, node_mesh_vcache (mesh));
    if (err == WD_OK)
        err = s_state_read (self, why, why_len);
    if (err != WD_OK) {
        node_agree_destroy (&self);
        return err;
    }
    uint32_t repair = self->params.precommit_ms > 500 ? self->params.precommit_ms : 500;
    self->repair_timer = zloop_timer (loop, repair, 0, s_on_repair, self);
    if (self->repair_timer < 0)
        wd_fatalx ("zloop_timer");
    node_mesh_set_agree_hooks (mesh, s_on_channel, s_on_record, self);
    node_sign_info (signer, s_keys_ready, self);
    wd_log_info ("agree: ledger %s at height %llu", path,
                 (unsigned long long)cons_ledger_height (self->ledger));
    *out = self;
    return WD_OK;
}

cons_ledger_t *
node_agree_ledger (node_agree_t *self)
{
    return self->ledger;
}

void
node_agree_destroy (node_agree_t **self_p)
{
    node_agree_t *self = *self_p;
    if (!self)
        return;
    if (self->mesh)
        node_mesh_set_agree_hooks (self->mesh, NULL, NULL, NULL);
    int *loose[] = { &self->repair_timer, &self->candidate_timer, &self->start_timer,
                     &self->sign_timer };
    for (size_t i = 0; i < sizeof loose / sizeof loose[0]; i++)
        if (*loose[i] >= 0)
            zloop_timer_end (self->loop, *loose[i]);
    for (size_t i = 0; i < TIMERS_MAX; i++)
        if (self->timers[i].id >= 0)
            zloop_timer_end (self->loop, self->timers[i].id);
    while (self->head) {
        s_input_t *in = self->head;
        self->head = in->next;
        s_input_free (in);
    }
    s_kept_clear (self->own, &self->own_len);
    s_kept_clear (self->seen, &self->seen_len);
    s_kept_clear (self->future, &self->future_len);
    for (size_t i = 0; i < SYNC_KEEP; i++) {
        free (self->synced[i].block);
        free (self->synced[i].cert);
    }
    for (size_t i = 0; i < self->pending_len; i++)
        free (self->pending[i].data);
    free (self->pending);
    free (self->cert_sigs);
    free (self->served_ms);
    free (self->hook_recs);
    free (self->precommits);
    free (self->sign_body);
    free (self->saved);
    cons_agree_destroy (&self->agree);
    cons_ledger_destroy (&self->ledger);
    free (self);
    *self_p = NULL;
}

/* ---- control -------------------------------------------------------------------- */

bool
node_agree_handles (uint32_t type)
{
    return type == WD_MSG_CTL_AGREE_STATUS;
}

static int
s_cmp_u32 (const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

void
node_agree_request (node_agree_t *self, void *client, uint32_t peer, uint32_t type,
                    const uint8_t *body, size_t len)
{
    (void)type;
    (void)body;
    (void)len;
    node_agree_status_t st = {
        .running = self->agree != NULL,
        .validator = self->validator,
        .tip = cons_ledger_height (self->ledger),
        .lock_round = -1,
        .validators = self->validators,
        .last_commit = self->last_commit_ms,
        .commits = self->commits,
        .synced = self->synced_commits,
        .pending = self->pending_len,
    };
    if (self->agree) {
        cons_agree_status_t as;
        cons_agree_status (self->agree, &as);
        st.height = as.height;
        st.round = as.round;
        st.step = as.step;
        st.lock_round = as.lock_round;
    }
    size_t n = self->latency_count < LATENCIES ? self->latency_count : LATENCIES;
    if (n) {
        uint32_t sorted[LATENCIES];
        memcpy (sorted, self->latencies, n * sizeof sorted[0]);
        qsort (sorted, n, sizeof sorted[0], s_cmp_u32);
        st.latency_p50 = sorted[n / 2];
        st.latency_p99 = sorted[(n * 99) / 100 < n ? (n * 99) / 100 : n - 1];
    }
    size_t blen;
    uint8_t *reply = node_agree_encode_status (&st, &blen);
    self->reply (client, peer, WD_MSG_CTL_AGREE_STATUS_REPLY, reply, blen);
    free (reply);
}

uint8_t *
node_agree_encode_status (const node_agree_status_t *st, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 14);
    wd_writer_key (w, "commits");
    wd_writer_uint (w, st->commits);
    wd_writer_key (w, "height");
    wd_writer_uint (w, st->height);
    wd_writer_key (w, "last_commit");
    wd_writer_uint (w, st->last_commit);
    wd_writer_key (w, "latency_p50");
    wd_writer_uint (w, st->latency_p50);
    wd_writer_key (w, "latency_p99");
    wd_writer_uint (w, st->latency_p99);
    wd_writer_key (w, "lock_round");
    wd_writer_int (w, st->lock_round);
    wd_writer_key (w, "pending");
    wd_writer_uint (w, st->pending);
    wd_writer_key (w, "round");
    wd_writer_uint (w, st->round);
    wd_writer_key (w, "running");
    wd_writer_bool (w, st->running);
    wd_writer_key (w, "step");
    wd_writer_uint (w, st->step);
    wd_writer_key (w, "synced");
    wd_writer_uint (w, st->synced);
    wd_writer_key (w, "tip");
    wd_writer_uint (w, st->tip);
    wd_writer_key (w, "validator");
    wd_writer_bool (w, st->validator);
    wd_writer_key (w, "validators");
    wd_writer_uint (w, st->validators);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_agree_decode_status (const uint8_t *body, size_t len, node_agree_status_t *st)
{
    memset (st, 0, sizeof *st);
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    uint64_t round = 0, step = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "commits");
    wd_read_uint (&r, &st->commits, UINT64_MAX);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &st->height, UINT64_MAX);
    wd_read_key (&r, "last_commit");
    wd_read_uint (&r, &st->last_commit, UINT64_MAX);
    wd_read_key (&r, "latency_p50");
    wd_read_uint (&r, &st->latency_p50, UINT64_MAX);
    wd_read_key (&r, "latency_p99");
    wd_read_uint (&r, &st->latency_p99, UINT64_MAX);
    wd_read_key (&r, "lock_round");
    wd_read_int (&r, &st->lock_round, -1, INT32_MAX);
    wd_read_key (&r, "pending");
    wd_read_uint (&r, &st->pending, UINT64_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, CONS_ROUND_MAX);
    wd_read_key (&r, "running");
    wd_read_bool (&r, &st->running);
    wd_read_key (&r, "step");
    wd_read_uint (&r, &step, 4);
    wd_read_key (&r, "synced");
    wd_read_uint (&r, &st->synced, UINT64_MAX);
    wd_read_key (&r, "tip");
    wd_read_uint (&r, &st->tip, UINT64_MAX);
    wd_read_key (&r, "validator");
    wd_read_bool (&r, &st->validator);
    wd_read_key (&r, "validators");
    wd_read_uint (&r, &st->validators, UINT64_MAX);
    wd_read_end (&r);
    st->round = (uint32_t)round;
    st->step = (uint8_t)step;
    return wd_reader_finish (&r);
}

uint8_t *
node_agree_encode_sync_request (uint64_t from, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "from");
    wd_writer_uint (w, from);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_agree_decode_sync_request (const uint8_t *body, size_t len, uint64_t *from)
{
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    uint64_t v = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "from");
    wd_read_uint (&r, from, CONS_HEIGHT_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, 1);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && v != 1)
        err = WD_ERR_BAD_VERSION;
    return err;
}

uint8_t *
node_agree_encode_sync_reply (const node_agree_synced_t *blocks, size_t count, uint64_t tip,
                              size_t *len)
{
    assert (count <= NODE_AGREE_SYNC_MAX);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "blocks");
    wd_writer_array (w, count);
    for (size_t i = 0; i < count; i++) {
        wd_writer_array (w, 2);
        wd_writer_bin (w, blocks[i].block, blocks[i].block_len);
        wd_writer_bin (w, blocks[i].cert, blocks[i].cert_len);
    }
    wd_writer_key (w, "tip");
    wd_writer_uint (w, tip);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_agree_decode_sync_reply (const uint8_t *body, size_t len, size_t block_max,
                              node_agree_synced_t blocks[NODE_AGREE_SYNC_MAX], size_t *count,
                              uint64_t *tip)
{
    *count = 0;
    *tip = 0;
    size_t max_field = block_max > CONS_BLOCK_CERT_MAX ? block_max : CONS_BLOCK_CERT_MAX;
    wd_err_t err = wd_codec_check (body, len, max_field, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n, entries = 0;
    uint64_t v = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "blocks");
    if (wd_read_array (&r, &entries) && entries > NODE_AGREE_SYNC_MAX)
        return WD_ERR_OVERSIZE;
    for (size_t i = 0; i < entries; i++) {
        size_t two = 0;
        node_agree_synced_t *e = &blocks[i];
        if (wd_read_array (&r, &two) && two != 2)
            return WD_ERR_BAD_LENGTH;
        wd_read_bin (&r, &e->block, &e->block_len, block_max);
        wd_read_bin (&r, &e->cert, &e->cert_len, CONS_BLOCK_CERT_MAX);
        wd_read_end (&r);
    }
    wd_read_end (&r);
    wd_read_key (&r, "tip");
    wd_read_uint (&r, tip, CONS_HEIGHT_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, 1);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && v != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK)
        *count = entries;
    return err;
}

void
node_agree_set_hooks (node_agree_t *self, const node_agree_hooks_t *hooks, void *arg)
{
    if (hooks)
        self->hooks = *hooks;
    else
        memset (&self->hooks, 0, sizeof self->hooks);
    self->hooks_arg = hooks ? arg : NULL;
}

void
node_agree_records_ready (node_agree_t *self)
{
    s_idle_end (self);
    if (self->candidate_due && self->candidate_timer >= 0 && self->agree) {
        s_feed_candidate (self);
        s_pump (self);
    }
}
