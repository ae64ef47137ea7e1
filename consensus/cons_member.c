/*
 * cons_member: the SWIM + Lifeguard state machine behind cons_member.h.
 *
 * Storage, all allocated by cons_member_new: the members sorted by id (self
 * among them), each with its state, incarnation, suspicion bookkeeping and
 * its slot in the piggyback queue (one pending update per member: a newer
 * one replaces it); the probe order (a shuffled list of the other members);
 * the current probe; a small table of probes relayed for others
 * (ping-reqs); and the output queue. Lookups by id are binary searches.
 *
 * One protocol period (scaled by the local health multiplier h: period
 * probe_ms * (h + 1), timeout probe_timeout_ms * (h + 1)):
 *   t0            ping the next target;
 *   t0 + timeout  no ack yet: ping-req through `indirect` random members;
 *   t0 + period   no ack yet: suspect the target, h += missed nacks (or 1
 *                 when no relay was asked); an ack brings h -= 1.
 * Updates are ordered by (incarnation, state) with state rank
 * alive < suspect < dead < left: an update is taken when it is larger than
 * what the member has. A suspect update of the same incarnation from a new
 * accuser is a confirmation that shortens the suspicion (Lifeguard).
 */
#include "cons_member.h"

#include <assert.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "cons_err.h"
#include "wd_codec.h"
#include "wd_rand.h"

#define S_ACCUSERS_MAX 16 /* accusers remembered per suspicion (k + 1 at most) */
#define S_INDIRECT_MAX 8
#define S_RELAY_MAX    64
#define S_NACK_PERCENT 80 /* a relay nacks at this share of the probe timeout */
#define S_MAX_FIELD    32 /* the largest bin (an id) and array (updates) */
#define S_TYPES        6

typedef struct {
    uint8_t id[CONS_MEMBER_ID_LEN];
    cons_member_state_t state;
    uint64_t inc;
    uint64_t since_ms;
    uint32_t rtt_ms;
    /* While suspect. */
    uint64_t suspect_start;
    uint64_t suspect_deadline;
    uint32_t accusers;
    uint8_t accuser[S_ACCUSERS_MAX][CONS_MEMBER_ID_LEN];
    /* Probe it next: someone else suspects it (confirm or clear that), or
       it was asked to relay a probe and answered neither ack nor nack. */
    bool probe_soon;
    /* The pending piggyback update about this member. */
    bool queued;
    uint32_t transmits;
    uint64_t queued_order;
    cons_member_state_t q_state;
    uint64_t q_inc;
    uint8_t q_by[CONS_MEMBER_ID_LEN];
    uint64_t in_msg; /* s_send's stamp: already in the message being built */
    bool heard;      /* a valid message from it reached this instance */
} s_member_t;

typedef struct {
    bool used;
    uint32_t seq; /* ours, in the ping to the target */
    size_t origin;
    uint32_t origin_seq;
    size_t target;
    uint64_t nack_at;
    uint64_t expire_at;
    bool nacked;
} s_relay_t;

typedef struct {
    cons_member_out_kind_t kind;
    size_t peer;
    uint8_t *body;
    size_t len;
    cons_member_state_t state;
    uint64_t inc;
    uint64_t at_ms;
} s_out_t;

struct cons_member {
    cons_member_config_t cfg; /* defaults applied; pointers cleared */
    s_member_t *m;
    size_t n;
    size_t me;
    uint64_t inc;
    bool left;
    bool started;
    uint32_t health;
    wd_rand_t rng;
    uint32_t seq;
    size_t *order;
    size_t order_len, order_pos;
    size_t *scratch; /* n entries */
    uint64_t msg_stamp;
    struct {
        bool active;
        size_t target;
        uint32_t seq;
        uint64_t start, timeout_at, end;
        bool acked, indirect_sent;
        bool reclaim; /* a ping to a dead member: no relays, no blame */
        size_t relays;
        size_t relay[S_INDIRECT_MAX];
        bool nacked[S_INDIRECT_MAX];
        uint32_t nacks;
    } probe;
    uint64_t next_probe;
    uint64_t grace_until;   /* start-up grace: see cons_member_config_t.grace_ms */
    uint32_t since_reclaim; /* periods since the last ping to a dead member */
    s_relay_t relay[S_RELAY_MAX];
    s_out_t *outs;
    size_t outs_len, outs_cap, outs_head;
    wd_writer_t *writer;
    uint64_t queue_clock;
    cons_member_stats_t stats;
};

/* ---- messages ------------------------------------------------------------ */

static bool
s_has_seq (cons_member_type_t type)
{
    return type != CONS_MEMBER_PUSH;
}

static bool
s_has_target (cons_member_type_t type)
{
    return type == CONS_MEMBER_PING || type == CONS_MEMBER_PING_REQ;
}

static void
s_write_msg (wd_writer_t *w, const cons_member_msg_t *msg)
{
    assert (msg->type >= CONS_MEMBER_PING && msg->type <= CONS_MEMBER_PUSH);
    assert (msg->count <= CONS_MEMBER_UPDATES);
    bool seq = s_has_seq (msg->type), target = s_has_target (msg->type);
    wd_writer_map (w, 3 + (seq ? 1 : 0) + (target ? 1 : 0));
    if (seq) {
        wd_writer_key (w, "seq");
        wd_writer_uint (w, msg->seq);
    }
    wd_writer_key (w, "t");
    wd_writer_uint (w, msg->type);
    if (target) {
        assert (msg->target);
        wd_writer_key (w, "target");
        wd_writer_bin (w, msg->target, CONS_MEMBER_ID_LEN);
    }
    wd_writer_key (w, "up");
    wd_writer_array (w, msg->count);
    for (size_t i = 0; i < msg->count; i++) {
        const cons_member_update_t *u = &msg->updates[i];
        bool suspect = u->state == CONS_MEMBER_SUSPECT;
        assert (u->state >= CONS_MEMBER_ALIVE && u->state <= CONS_MEMBER_LEFT);
        assert (u->incarnation <= CONS_MEMBER_INC_MAX);
        wd_writer_array (w, suspect ? 4 : 3);
        wd_writer_uint (w, u->state);
        wd_writer_bin (w, u->id, CONS_MEMBER_ID_LEN);
        wd_writer_uint (w, u->incarnation);
        if (suspect)
            wd_writer_bin (w, u->by, CONS_MEMBER_ID_LEN);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_MEMBER_VERSION);
}

uint8_t *
cons_member_msg_encode (const cons_member_msg_t *msg, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    s_write_msg (w, msg);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
s_first (int *err, int code)
{
    if (*err == WD_OK)
        *err = code;
}

int
cons_member_msg_decode (const uint8_t *buf, size_t len, cons_member_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    if (len > CONS_MEMBER_BODY_MAX)
        return WD_ERR_OVERSIZE;
    int err = wd_codec_check (buf, len, S_MAX_FIELD, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count, ups = 0, target_len = 0;
    uint64_t seq = 0, type = 0, version = 0;
    int local = WD_OK; /* the first problem inside an update, in order */
    bool has_seq, has_target;
    const uint8_t *target = NULL;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    has_seq = wd_read_key_opt (&r, "seq");
    if (has_seq)
        wd_read_uint (&r, &seq, UINT32_MAX);
    wd_read_key (&r, "t");
    wd_read_uint (&r, &type, UINT64_MAX);
    has_target = wd_read_key_opt (&r, "target");
    if (has_target)
        wd_read_bin (&r, &target, &target_len, S_MAX_FIELD);
    wd_read_key (&r, "up");
    if (wd_read_array (&r, &ups)) {
        /* wd_codec_check bounded ups by S_MAX_FIELD == CONS_MEMBER_UPDATES. */
        for (size_t i = 0; i < ups && i < CONS_MEMBER_UPDATES; i++) {
            cons_member_update_t *u = &msg->updates[i];
            size_t fields = 0, id_len = 0, by_len = 0;
            uint64_t state = 0;
            if (!wd_read_array (&r, &fields))
                break;
            if (fields < 3 || fields > 4) {
                for (size_t f = 0; f < fields; f++) {
                    const uint8_t *raw;
                    size_t raw_len;
                    wd_read_raw (&r, &raw, &raw_len);
                }
                s_first (&local, CONS_ERR_MEMBER_UPDATE);
                wd_read_end (&r);
                continue;
            }
            wd_read_uint (&r, &state, UINT64_MAX);
            wd_read_bin (&r, &u->id, &id_len, S_MAX_FIELD);
            wd_read_uint (&r, &u->incarnation, CONS_MEMBER_INC_MAX);
            if (fields == 4)
                wd_read_bin (&r, &u->by, &by_len, S_MAX_FIELD);
            wd_read_end (&r);
            if (state < CONS_MEMBER_ALIVE || state > CONS_MEMBER_LEFT)
                s_first (&local, CONS_ERR_MEMBER_STATE);
            else if ((state == CONS_MEMBER_SUSPECT) != (fields == 4))
                s_first (&local, CONS_ERR_MEMBER_UPDATE);
            else if (id_len != CONS_MEMBER_ID_LEN || (fields == 4 && by_len != CONS_MEMBER_ID_LEN))
                s_first (&local, WD_ERR_BAD_LENGTH);
            u->state = (cons_member_state_t)state;
        }
        wd_read_end (&r);
    }
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);

    err = wd_reader_finish (&r);
    if (err == WD_OK && version != CONS_MEMBER_VERSION)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && (type < CONS_MEMBER_PING || type > CONS_MEMBER_PUSH))
        err = CONS_ERR_MEMBER_TYPE;
    if (err == WD_OK) {
        cons_member_type_t t = (cons_member_type_t)type;
        if ((s_has_seq (t) && !has_seq) || (s_has_target (t) && !has_target))
            err = WD_ERR_MISSING_KEY;
        else if ((!s_has_seq (t) && has_seq) || (!s_has_target (t) && has_target))
            err = WD_ERR_UNKNOWN_KEY;
        else if (has_target && target_len != CONS_MEMBER_ID_LEN)
            err = WD_ERR_BAD_LENGTH;
        else
            err = local;
    }
    for (size_t i = 0; err == WD_OK && i < ups; i++)
        for (size_t j = 0; j < i; j++)
            if (memcmp (msg->updates[i].id, msg->updates[j].id, CONS_MEMBER_ID_LEN) == 0) {
                err = CONS_ERR_MEMBER_DUPLICATE;
                break;
            }
    if (err != WD_OK) {
        memset (msg, 0, sizeof *msg);
        return err;
    }
    msg->type = (cons_member_type_t)type;
    msg->seq = (uint32_t)seq;
    msg->target = target;
    msg->count = ups;
    return WD_OK;
}

/* ---- parameters ---------------------------------------------------------- */

static void
s_defaults (cons_member_config_t *c)
{
    if (!c->probe_ms)
        c->probe_ms = 1000;
    if (!c->probe_timeout_ms)
        c->probe_timeout_ms = 500;
    if (!c->indirect)
        c->indirect = 3;
    if (!c->suspicion_mult)
        c->suspicion_mult = 1;
    if (!c->suspicion_max_mult)
        c->suspicion_max_mult = 6;
    if (!c->confirmations)
        c->confirmations = 2;
    if (!c->retransmit_mult)
        c->retransmit_mult = 4;
    if (!c->health_max)
        c->health_max = 8;
    if (!c->piggyback)
        c->piggyback = 8;
    if (!c->reclaim)
        c->reclaim = 8;
}

uint64_t
cons_member_suspicion_timeout (const cons_member_config_t *config, size_t n, uint32_t c)
{
    cons_member_config_t cfg = *config;
    s_defaults (&cfg);
    double scale = n > 10 ? log10 ((double)n) : 1.0;
    double min = floor ((double)cfg.suspicion_mult * scale * (double)cfg.probe_ms);
    double max = (double)cfg.suspicion_max_mult * min;
    uint32_t k = cfg.confirmations;
    if (n < 2 || n - 2 < k)
        k = 0;
    if (k == 0)
        return (uint64_t)min;
    double frac = log ((double)c + 1.0) / log ((double)k + 1.0);
    double t = floor (max - frac * (max - min));
    return (uint64_t)(t < min ? min : t);
}

const char *
cons_member_state_name (cons_member_state_t state)
{
    switch (state) {
        case CONS_MEMBER_ALIVE:
            return "alive";
        case CONS_MEMBER_SUSPECT:
            return "suspect";
        case CONS_MEMBER_DEAD:
            return "dead";
        case CONS_MEMBER_LEFT:
            return "left";
    }
    return "?";
}

/* ---- members ------------------------------------------------------------- */

static int
s_id_cmp (const void *a, const void *b)
{
    return memcmp (a, b, CONS_MEMBER_ID_LEN);
}

/* Index of id, or SIZE_MAX. */
static size_t
s_find (const cons_member_t *self, const uint8_t *id)
{
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp (self->m[mid].id, id, CONS_MEMBER_ID_LEN);
        if (c == 0)
            return mid;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

static bool
s_gone (cons_member_state_t state)
{
    return state == CONS_MEMBER_DEAD || state == CONS_MEMBER_LEFT;
}

/* Members not dead or left, self included. */
static size_t
s_live_count (const cons_member_t *self)
{
    size_t live = 0;
    for (size_t i = 0; i < self->n; i++)
        if (!s_gone (self->m[i].state))
            live++;
    return live;
}

static uint32_t
s_retransmit_limit (const cons_member_t *self)
{
    /* lambda * ceil(log10(n + 1)), in integers. */
    uint64_t n1 = (uint64_t)s_live_count (self) + 1, p = 1;
    uint32_t digits = 0;
    while (p < n1) {
        p *= 10;
        digits++;
    }
    if (digits == 0)
        digits = 1;
    return self->cfg.retransmit_mult * digits;
}

static uint64_t
s_scaled (const cons_member_t *self, uint32_t ms)
{
    return (uint64_t)ms * (self->cfg.health_off ? 1 : self->health + 1);
}

static void
s_health_add (cons_member_t *self, int delta)
{
    if (self->cfg.health_off)
        return;
    int64_t h = (int64_t)self->health + delta;
    if (h < 0)
        h = 0;
    if (h > (int64_t)self->cfg.health_max)
        h = self->cfg.health_max;
    self->health = (uint32_t)h;
}

/* ---- outputs ------------------------------------------------------------- */

static s_out_t *
s_out_push (cons_member_t *self)
{
    if (self->outs_len == self->outs_cap) {
        size_t cap = self->outs_cap ? self->outs_cap * 2 : 32;
        s_out_t *outs = realloc (self->outs, cap * sizeof *outs);
        if (!outs)
            abort ();
        self->outs = outs;
        self->outs_cap = cap;
    }
    s_out_t *o = &self->outs[self->outs_len++];
    memset (o, 0, sizeof *o);
    return o;
}

/* Frees the outputs already taken; keeps the others. */
static void
s_outs_compact (cons_member_t *self)
{
    if (self->outs_head == 0)
        return;
    for (size_t i = 0; i < self->outs_head; i++)
        free (self->outs[i].body);
    memmove (self->outs, self->outs + self->outs_head,
             (self->outs_len - self->outs_head) * sizeof *self->outs);
    self->outs_len -= self->outs_head;
    self->outs_head = 0;
}

static void
s_event (cons_member_t *self, size_t i, uint64_t now)
{
    s_out_t *o = s_out_push (self);
    o->kind = CONS_MEMBER_OUT_EVENT;
    o->peer = i;
    o->state = self->m[i].state;
    o->inc = self->m[i].inc;
    o->at_ms = now;
}

/* Queues update (state, inc, by) about member i for piggybacking. */
static void
s_enqueue (cons_member_t *self, size_t i, cons_member_state_t state, uint64_t inc,
           const uint8_t *by)
{
    s_member_t *m = &self->m[i];
    m->queued = true;
    m->transmits = 0;
    m->queued_order = ++self->queue_clock;
    m->q_state = state;
    m->q_inc = inc;
    memset (m->q_by, 0, sizeof m->q_by);
    if (by)
        memcpy (m->q_by, by, CONS_MEMBER_ID_LEN);
}

/* Builds and queues a message to peer, with piggybacked updates: first what
   this node believes of peer when that is not "alive" (Lifeguard's buddy
   system, and how a node declared dead learns it must refute), then the
   queued updates sent the fewest times, newest first. */
static void
s_send (cons_member_t *self, size_t peer, cons_member_type_t type, uint32_t seq, size_t target)
{
    cons_member_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.type = type;
    msg.seq = seq;
    if (s_has_target (type))
        msg.target = self->m[target].id;
    s_member_t *p = &self->m[peer];
    size_t limit = self->cfg.piggyback;
    uint64_t stamp = ++self->msg_stamp;
    if (p->state != CONS_MEMBER_ALIVE && limit > 0) {
        p->in_msg = stamp;
        cons_member_update_t *u = &msg.updates[msg.count++];
        u->state = p->state;
        u->id = p->id;
        u->incarnation = p->inc;
        u->by = p->state == CONS_MEMBER_SUSPECT ? p->accuser[0] : NULL;
    }
    uint32_t max_tx = s_retransmit_limit (self);
    while (msg.count < limit) {
        size_t best = SIZE_MAX;
        for (size_t i = 0; i < self->n; i++) {
            const s_member_t *m = &self->m[i];
            if (!m->queued || m->in_msg == stamp)
                continue;
            if (best == SIZE_MAX || m->transmits < self->m[best].transmits ||
                (m->transmits == self->m[best].transmits &&
                 m->queued_order > self->m[best].queued_order))
                best = i;
        }
        if (best == SIZE_MAX)
            break;
        s_member_t *m = &self->m[best];
        m->in_msg = stamp;
        cons_member_update_t *u = &msg.updates[msg.count++];
        u->state = m->q_state;
        u->id = m->id;
        u->incarnation = m->q_inc;
        u->by = m->q_state == CONS_MEMBER_SUSPECT ? m->q_by : NULL;
        if (++m->transmits >= max_tx)
            m->queued = false;
    }
    wd_writer_reset (self->writer);
    s_write_msg (self->writer, &msg);
    s_out_t *o = s_out_push (self);
    o->kind = CONS_MEMBER_OUT_SEND;
    o->peer = peer;
    o->body = wd_writer_take (self->writer, &o->len);
    self->stats.sent[type]++;
}

/* ---- state changes ------------------------------------------------------- */

static void
s_set_state (cons_member_t *self, size_t i, cons_member_state_t state, uint64_t inc, uint64_t now)
{
    s_member_t *m = &self->m[i];
    bool changed = m->state != state;
    m->state = state;
    m->inc = inc;
    if (state != CONS_MEMBER_SUSPECT) {
        m->accusers = 0;
        m->suspect_deadline = 0;
    }
    if (state != CONS_MEMBER_SUSPECT)
        m->probe_soon = false; /* dead, left, or cleared by a refutation */
    if (changed) {
        m->since_ms = now;
        s_event (self, i, now);
    }
}

static void
s_suspicion_deadline (cons_member_t *self, size_t i)
{
    s_member_t *m = &self->m[i];
    uint32_t c = m->accusers > 0 ? m->accusers - 1 : 0;
    m->suspect_deadline =
        m->suspect_start + cons_member_suspicion_timeout (&self->cfg, s_live_count (self), c);
}

/* Member i (not self) is suspected at incarnation inc by accuser `by`. */
static void
s_suspect (cons_member_t *self, size_t i, uint64_t inc, const uint8_t *by, uint64_t now)
{
    s_member_t *m = &self->m[i];
    if (m->state == CONS_MEMBER_SUSPECT && m->inc == inc) {
        /* A confirmation, when the accuser is new. */
        for (uint32_t a = 0; a < m->accusers; a++)
            if (memcmp (m->accuser[a], by, CONS_MEMBER_ID_LEN) == 0)
                return;
        if (m->accusers >= S_ACCUSERS_MAX || m->accusers > self->cfg.confirmations)
            return;
        memcpy (m->accuser[m->accusers++], by, CONS_MEMBER_ID_LEN);
        s_suspicion_deadline (self, i);
        s_enqueue (self, i, CONS_MEMBER_SUSPECT, inc, by);
        return;
    }
    s_set_state (self, i, CONS_MEMBER_SUSPECT, inc, now);
    m->accusers = 1;
    memcpy (m->accuser[0], by, CONS_MEMBER_ID_LEN);
    m->suspect_start = now;
    s_suspicion_deadline (self, i);
    m->probe_soon = memcmp (by, self->m[self->me].id, CONS_MEMBER_ID_LEN) != 0;
    s_enqueue (self, i, CONS_MEMBER_SUSPECT, inc, by);
    self->stats.suspicions++;
}

/* This node is said to be suspect, dead or left at inc: refute. */
static void
s_refute (cons_member_t *self, uint64_t inc)
{
    if (inc < self->inc || inc >= CONS_MEMBER_INC_MAX)
        return;
    self->inc = inc + 1;
    self->m[self->me].inc = self->inc;
    s_enqueue (self, self->me, CONS_MEMBER_ALIVE, self->inc, NULL);
    s_health_add (self, 1);
    self->stats.refutations++;
}

static int
s_rank (cons_member_state_t state)
{
    return (int)state;
}

/* Applies one piggybacked update. */
static void
s_apply (cons_member_t *self, const cons_member_update_t *u, uint64_t now)
{
    size_t i = s_find (self, u->id);
    if (i == SIZE_MAX || (u->state == CONS_MEMBER_SUSPECT && s_find (self, u->by) == SIZE_MAX)) {
        self->stats.unknown_updates++;
        return;
    }
    if (i == self->me) {
        if (self->left)
            return;
        if (u->state == CONS_MEMBER_ALIVE) {
            /* A previous instance of this node got further: catch up. */
            if (u->incarnation > self->inc) {
                self->inc = u->incarnation;
                self->m[i].inc = self->inc;
                s_enqueue (self, i, CONS_MEMBER_ALIVE, self->inc, NULL);
            }
        } else if (u->incarnation < self->inc) {
            /* The sender still holds an old suspicion or death of this
               node (it missed the refutation, e.g. across a partition):
               tell it again, as for any member it is behind on. */
            if (!self->m[i].queued) {
                s_enqueue (self, i, CONS_MEMBER_ALIVE, self->inc, NULL);
                self->stats.resent++;
            }
        } else {
            s_refute (self, u->incarnation);
        }
        return;
    }
    s_member_t *m = &self->m[i];
    if (u->state == CONS_MEMBER_SUSPECT && m->state == CONS_MEMBER_SUSPECT &&
        u->incarnation == m->inc) {
        s_suspect (self, i, u->incarnation, u->by, now);
        return;
    }
    bool newer = u->incarnation > m->inc ||
                 (u->incarnation == m->inc && s_rank (u->state) > s_rank (m->state));
    bool older = u->incarnation < m->inc ||
                 (u->incarnation == m->inc && s_rank (u->state) < s_rank (m->state));
    if (older && !m->queued) {
        /* The sender is behind: gossip what this node knows again. */
        s_enqueue (self, i, m->state, m->inc,
                   m->state == CONS_MEMBER_SUSPECT ? m->accuser[0] : NULL);
        self->stats.resent++;
    }
    if (!newer)
        return;
    if (u->state == CONS_MEMBER_SUSPECT) {
        s_suspect (self, i, u->incarnation, u->by, now);
        return;
    }
    s_set_state (self, i, u->state, u->incarnation, now);
    s_enqueue (self, i, u->state, u->incarnation, NULL);
}

/* ---- probing ------------------------------------------------------------- */

static void
s_shuffle (cons_member_t *self)
{
    for (size_t i = self->order_len; i > 1; i--) {
        size_t j = (size_t)wd_rand_below (&self->rng, i);
        size_t t = self->order[i - 1];
        self->order[i - 1] = self->order[j];
        self->order[j] = t;
    }
    self->order_pos = 0;
}

/* The next member to probe, or SIZE_MAX when none is probeable. */
static size_t
s_next_target (cons_member_t *self)
{
    for (size_t k = 0; k < self->order_len; k++) {
        size_t i = self->order[(self->order_pos + k) % self->order_len];
        if (self->m[i].probe_soon && !s_gone (self->m[i].state)) {
            self->m[i].probe_soon = false;
            return i;
        }
    }
    for (size_t tries = 0; tries <= self->order_len; tries++) {
        if (self->order_pos >= self->order_len)
            s_shuffle (self);
        if (self->order_len == 0)
            return SIZE_MAX;
        size_t i = self->order[self->order_pos++];
        if (!s_gone (self->m[i].state))
            return i;
    }
    return SIZE_MAX;
}

/* Closes the current probe at the end of its period. */
static void
s_probe_finish (cons_member_t *self, uint64_t now)
{
    if (!self->probe.active)
        return;
    self->probe.active = false;
    if (self->probe.acked || self->probe.reclaim)
        return; /* a dead member that stays silent is no news */
    self->stats.probes_failed++;
    /* Lifeguard: a relay that neither acked nor nacked suggests the fault
       is here; with no relay to ask, the failure itself counts. */
    if (self->probe.relays > 0)
        s_health_add (self, (int)(self->probe.relays - self->probe.nacks));
    else
        s_health_add (self, 1);
    /* A silent relay may be down itself: check it soon. */
    for (size_t r = 0; r < self->probe.relays; r++)
        if (!self->probe.nacked[r])
            self->m[self->probe.relay[r]].probe_soon = true;
    size_t t = self->probe.target;
    s_member_t *m = &self->m[t];
    if (now < self->grace_until && !m->heard)
        return;
    if (m->state == CONS_MEMBER_ALIVE || m->state == CONS_MEMBER_SUSPECT) {
        if (m->state == CONS_MEMBER_ALIVE)
            self->stats.accusations++;
        s_suspect (self, t, m->inc, self->m[self->me].id, now);
    }
}

/* A random dead member (not one that left), or SIZE_MAX. */
static size_t
s_reclaim_target (cons_member_t *self)
{
    size_t *cand = self->scratch;
    size_t nc = 0;
    for (size_t i = 0; i < self->n; i++)
        if (i != self->me && self->m[i].state == CONS_MEMBER_DEAD)
            cand[nc++] = i;
    return nc ? cand[wd_rand_below (&self->rng, nc)] : SIZE_MAX;
}

static void
s_probe_start (cons_member_t *self, uint64_t now)
{
    self->next_probe = now + s_scaled (self, self->cfg.probe_ms);
    /* Every `reclaim` periods (or when no one else is left to probe) a dead
       member is pinged: the ping tells it that it was declared dead, so a
       node that was only cut off (a healed partition) refutes in its ack
       and rejoins. */
    bool reclaim = false;
    size_t t = SIZE_MAX;
    if (++self->since_reclaim >= self->cfg.reclaim) {
        t = s_reclaim_target (self);
        reclaim = t != SIZE_MAX;
    }
    if (t == SIZE_MAX)
        t = s_next_target (self);
    if (t == SIZE_MAX) {
        t = s_reclaim_target (self);
        reclaim = t != SIZE_MAX;
    }
    if (t == SIZE_MAX)
        return;
    if (reclaim)
        self->since_reclaim = 0;
    memset (&self->probe, 0, sizeof self->probe);
    self->probe.reclaim = reclaim;
    self->probe.active = true;
    self->probe.target = t;
    self->probe.seq = ++self->seq;
    self->probe.start = now;
    self->probe.timeout_at = now + s_scaled (self, self->cfg.probe_timeout_ms);
    self->probe.end = self->next_probe;
    self->stats.probes++;
    s_send (self, t, CONS_MEMBER_PING, self->probe.seq, t);
}

static void
s_probe_indirect (cons_member_t *self)
{
    self->probe.indirect_sent = true;
    size_t want = self->cfg.indirect;
    if (want > S_INDIRECT_MAX)
        want = S_INDIRECT_MAX;
    /* Candidates: alive members other than self and the target; pick
       `want` of them by a partial Fisher-Yates over a scratch list. */
    size_t *cand = self->scratch;
    size_t nc = 0;
    for (size_t i = 0; i < self->n; i++)
        if (i != self->me && i != self->probe.target && self->m[i].state == CONS_MEMBER_ALIVE)
            cand[nc++] = i;
    for (size_t k = 0; k < want && k < nc; k++) {
        size_t j = k + (size_t)wd_rand_below (&self->rng, nc - k);
        size_t r = cand[j];
        cand[j] = cand[k];
        cand[k] = r;
        self->probe.relay[self->probe.relays++] = r;
        s_send (self, r, CONS_MEMBER_PING_REQ, self->probe.seq, self->probe.target);
    }
}

/* ---- public -------------------------------------------------------------- */

int
cons_member_new (const cons_member_config_t *config, cons_member_t **out)
{
    assert (config && out);
    *out = NULL;
    if (!config->self || (config->count > 0 && !config->members))
        return WD_ERR_BAD_VALUE;
    cons_member_config_t cfg = *config;
    s_defaults (&cfg);
    if (config->count > CONS_MEMBER_MAX || cfg.probe_timeout_ms >= cfg.probe_ms ||
        cfg.piggyback > CONS_MEMBER_UPDATES || cfg.incarnation > CONS_MEMBER_INC_MAX ||
        cfg.indirect > S_INDIRECT_MAX || cfg.confirmations >= S_ACCUSERS_MAX)
        return WD_ERR_OUT_OF_RANGE;

    cons_member_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->m = calloc (config->count + 1, sizeof *self->m);
    self->order = calloc (config->count + 1, sizeof *self->order);
    self->scratch = calloc (config->count + 1, sizeof *self->scratch);
    if (!self->m || !self->order || !self->scratch) {
        cons_member_destroy (&self);
        return WD_ERR_NOMEM;
    }
    bool self_listed = false;
    for (size_t i = 0; i < config->count; i++) {
        const uint8_t *id = config->members + i * CONS_MEMBER_ID_LEN;
        memcpy (self->m[self->n++].id, id, CONS_MEMBER_ID_LEN);
        self_listed |= memcmp (id, config->self, CONS_MEMBER_ID_LEN) == 0;
    }
    if (!self_listed)
        memcpy (self->m[self->n++].id, config->self, CONS_MEMBER_ID_LEN);
    if (self->n > CONS_MEMBER_MAX) {
        cons_member_destroy (&self);
        return WD_ERR_OUT_OF_RANGE;
    }
    qsort (self->m, self->n, sizeof *self->m, s_id_cmp);
    for (size_t i = 1; i < self->n; i++)
        if (memcmp (self->m[i - 1].id, self->m[i].id, CONS_MEMBER_ID_LEN) == 0) {
            cons_member_destroy (&self);
            return WD_ERR_BAD_VALUE;
        }
    for (size_t i = 0; i < self->n; i++) {
        self->m[i].state = CONS_MEMBER_ALIVE;
        self->m[i].rtt_ms = CONS_MEMBER_NO_RTT;
    }
    self->me = s_find (self, config->self);
    cfg.self = NULL;
    cfg.members = NULL;
    cfg.count = 0;
    self->cfg = cfg;
    self->inc = cfg.incarnation;
    self->m[self->me].inc = self->inc;
    self->writer = wd_writer_new ();

    self->rng = wd_rand_seeded (cfg.seed);
    self->seq = (uint32_t)wd_rand_next (&self->rng);
    for (size_t i = 0; i < self->n; i++)
        if (i != self->me)
            self->order[self->order_len++] = i;
    s_shuffle (self);
    /* A restarted node announces its incarnation from the start. */
    if (self->inc > 0)
        s_enqueue (self, self->me, CONS_MEMBER_ALIVE, self->inc, NULL);
    *out = self;
    return WD_OK;
}

void
cons_member_destroy (cons_member_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cons_member_t *self = *self_p;
        for (size_t i = self->outs_head; i < self->outs_len; i++)
            free (self->outs[i].body);
        self->outs_len = self->outs_head;
        s_outs_compact (self);
        free (self->outs);
        wd_writer_destroy (&self->writer);
        free (self->order);
        free (self->scratch);
        free (self->m);
        free (self);
        *self_p = NULL;
    }
}

static s_relay_t *
s_relay_by_seq (cons_member_t *self, uint32_t seq)
{
    for (size_t i = 0; i < S_RELAY_MAX; i++)
        if (self->relay[i].used && self->relay[i].seq == seq)
            return &self->relay[i];
    return NULL;
}

static int
s_on_ping_req (cons_member_t *self, uint64_t now, size_t from, uint32_t seq, size_t target)
{
    s_relay_t *slot = NULL;
    for (size_t i = 0; i < S_RELAY_MAX && !slot; i++)
        if (!self->relay[i].used)
            slot = &self->relay[i];
    if (!slot) {
        self->stats.relay_dropped++;
        return CONS_ERR_MEMBER_BUSY;
    }
    memset (slot, 0, sizeof *slot);
    slot->used = true;
    slot->seq = ++self->seq;
    slot->origin = from;
    slot->origin_seq = seq;
    slot->target = target;
    slot->nack_at = now + (uint64_t)self->cfg.probe_timeout_ms * S_NACK_PERCENT / 100;
    slot->expire_at = now + self->cfg.probe_ms;
    s_send (self, target, CONS_MEMBER_PING, slot->seq, target);
    return WD_OK;
}

static int
s_on_ack (cons_member_t *self, uint64_t now, size_t from, uint32_t seq)
{
    s_relay_t *relay = s_relay_by_seq (self, seq);
    if (relay && relay->target == from) {
        s_send (self, relay->origin, CONS_MEMBER_ACK, relay->origin_seq, 0);
        relay->used = false;
        return WD_OK;
    }
    if (!self->probe.active || self->probe.acked || seq != self->probe.seq) {
        self->stats.stale++;
        return CONS_ERR_STALE;
    }
    if (from == self->probe.target) {
        uint64_t rtt = now - self->probe.start;
        self->m[from].rtt_ms = rtt >= CONS_MEMBER_NO_RTT ? CONS_MEMBER_NO_RTT - 1 : (uint32_t)rtt;
    } else {
        bool relayed = false;
        for (size_t i = 0; i < self->probe.relays; i++)
            relayed |= self->probe.relay[i] == from;
        if (!relayed) {
            self->stats.stale++;
            return CONS_ERR_STALE;
        }
    }
    self->probe.acked = true;
    s_health_add (self, -1);
    return WD_OK;
}

static int
s_on_nack (cons_member_t *self, size_t from, uint32_t seq)
{
    if (self->probe.active && !self->probe.acked && seq == self->probe.seq)
        for (size_t i = 0; i < self->probe.relays; i++)
            if (self->probe.relay[i] == from && !self->probe.nacked[i]) {
                self->probe.nacked[i] = true;
                self->probe.nacks++;
                return WD_OK;
            }
    self->stats.stale++;
    return CONS_ERR_STALE;
}

int
cons_member_receive (cons_member_t *self, uint64_t now_ms, const uint8_t *peer, const uint8_t *body,
                     size_t len)
{
    assert (self && peer && (body || len == 0));
    s_outs_compact (self);
    int rc = WD_OK;
    cons_member_msg_t msg;
    size_t from = SIZE_MAX, target = SIZE_MAX;
    if (memcmp (peer, self->m[self->me].id, CONS_MEMBER_ID_LEN) == 0) {
        rc = CONS_ERR_MEMBER_SELF;
        goto out;
    }
    from = s_find (self, peer);
    if (from == SIZE_MAX) {
        rc = CONS_ERR_MEMBER_UNKNOWN;
        goto out;
    }
    rc = cons_member_msg_decode (body, len, &msg);
    if (rc != WD_OK)
        goto out;
    self->m[from].heard = true;
    if (msg.type == CONS_MEMBER_PING &&
        memcmp (msg.target, self->m[self->me].id, CONS_MEMBER_ID_LEN) != 0) {
        rc = CONS_ERR_MEMBER_TARGET;
        goto out;
    }
    if (msg.type == CONS_MEMBER_PING_REQ) {
        target = s_find (self, msg.target);
        if (target == SIZE_MAX)
            rc = CONS_ERR_MEMBER_UNKNOWN;
        else if (target == self->me || target == from)
            rc = CONS_ERR_MEMBER_TARGET;
        if (rc != WD_OK)
            goto out;
    }
    if (self->left) {
        /* Keep answering pings so the LEFT announcement spreads. */
        if (msg.type == CONS_MEMBER_PING) {
            s_send (self, from, CONS_MEMBER_ACK, msg.seq, 0);
            self->stats.received[msg.type]++;
            return WD_OK;
        }
        rc = CONS_ERR_MEMBER_LEFT;
        goto out;
    }
    for (size_t i = 0; i < msg.count; i++)
        s_apply (self, &msg.updates[i], now_ms);
    switch (msg.type) {
        case CONS_MEMBER_PING:
            s_send (self, from, CONS_MEMBER_ACK, msg.seq, 0);
            break;
        case CONS_MEMBER_PING_REQ:
            rc = s_on_ping_req (self, now_ms, from, msg.seq, target);
            break;
        case CONS_MEMBER_ACK:
            rc = s_on_ack (self, now_ms, from, msg.seq);
            break;
        case CONS_MEMBER_NACK:
            rc = s_on_nack (self, from, msg.seq);
            break;
        case CONS_MEMBER_PUSH:
            break;
    }
    if (rc == WD_OK) {
        self->stats.received[msg.type]++;
        return WD_OK;
    }
out:
    self->stats.rejected++;
    return rc;
}

void
cons_member_tick (cons_member_t *self, uint64_t now_ms)
{
    assert (self);
    s_outs_compact (self);
    if (!self->started) {
        self->started = true;
        self->grace_until = now_ms + self->cfg.grace_ms;
        /* Stagger the first period so nodes started together do not probe
           in lockstep. */
        self->next_probe = now_ms + (size_t)wd_rand_below (&self->rng, self->cfg.probe_ms);
    }
    /* Relayed probes: nack when the target stayed silent, then forget. */
    for (size_t i = 0; i < S_RELAY_MAX; i++) {
        s_relay_t *r = &self->relay[i];
        if (!r->used)
            continue;
        if (!r->nacked && now_ms >= r->nack_at && !self->left) {
            r->nacked = true;
            s_send (self, r->origin, CONS_MEMBER_NACK, r->origin_seq, 0);
        }
        if (now_ms >= r->expire_at)
            r->used = false;
    }
    if (self->left)
        return;
    if (self->probe.active && !self->probe.acked && !self->probe.indirect_sent &&
        !self->probe.reclaim && now_ms >= self->probe.timeout_at && now_ms < self->probe.end)
        s_probe_indirect (self);
    if (now_ms >= self->next_probe) {
        s_probe_finish (self, now_ms);
        s_probe_start (self, now_ms);
    }
    /* Suspicions that ran out (last: a confirmation by the probe just
       finished may have brought a deadline forward to now). */
    for (size_t i = 0; i < self->n; i++) {
        s_member_t *m = &self->m[i];
        if (m->state == CONS_MEMBER_SUSPECT && now_ms >= m->suspect_deadline) {
            s_set_state (self, i, CONS_MEMBER_DEAD, m->inc, now_ms);
            s_enqueue (self, i, CONS_MEMBER_DEAD, m->inc, NULL);
            self->stats.deaths++;
        }
    }
}

uint64_t
cons_member_next_deadline (const cons_member_t *self)
{
    assert (self);
    if (!self->started)
        return 0;
    uint64_t d = UINT64_MAX;
    for (size_t i = 0; i < S_RELAY_MAX; i++) {
        const s_relay_t *r = &self->relay[i];
        if (!r->used)
            continue;
        if (!r->nacked && !self->left && r->nack_at < d)
            d = r->nack_at;
        if (r->expire_at < d)
            d = r->expire_at;
    }
    if (self->left)
        return d;
    if (self->next_probe < d)
        d = self->next_probe;
    if (self->probe.active && !self->probe.acked && !self->probe.indirect_sent &&
        !self->probe.reclaim && self->probe.timeout_at < d)
        d = self->probe.timeout_at;
    for (size_t i = 0; i < self->n; i++)
        if (self->m[i].state == CONS_MEMBER_SUSPECT && self->m[i].suspect_deadline < d)
            d = self->m[i].suspect_deadline;
    return d;
}

void
cons_member_leave (cons_member_t *self, uint64_t now_ms)
{
    assert (self);
    s_outs_compact (self);
    if (self->left)
        return;
    self->left = true;
    self->probe.active = false;
    self->m[self->me].state = CONS_MEMBER_LEFT;
    self->m[self->me].since_ms = now_ms;
    s_enqueue (self, self->me, CONS_MEMBER_LEFT, self->inc, NULL);
    for (size_t i = 0; i < self->n; i++)
        if (i != self->me && !s_gone (self->m[i].state))
            s_send (self, i, CONS_MEMBER_PUSH, 0, 0);
}

bool
cons_member_poll (cons_member_t *self, cons_member_output_t *out)
{
    assert (self && out);
    if (self->outs_head >= self->outs_len)
        return false;
    const s_out_t *o = &self->outs[self->outs_head++];
    memset (out, 0, sizeof *out);
    out->kind = o->kind;
    out->peer = self->m[o->peer].id;
    out->body = o->body;
    out->len = o->len;
    out->state = o->state;
    out->incarnation = o->inc;
    out->at_ms = o->at_ms;
    return true;
}

size_t
cons_member_count (const cons_member_t *self)
{
    return self->n;
}

void
cons_member_info (const cons_member_t *self, size_t i, cons_member_info_t *info)
{
    assert (i < self->n);
    const s_member_t *m = &self->m[i];
    memset (info, 0, sizeof *info);
    info->id = m->id;
    info->self = i == self->me;
    info->state = m->state;
    info->incarnation = m->inc;
    info->since_ms = m->since_ms;
    info->rtt_ms = m->rtt_ms;
    if (m->state == CONS_MEMBER_SUSPECT) {
        info->confirmations = m->accusers > 0 ? m->accusers - 1 : 0;
        info->suspect_dead_ms = m->suspect_deadline;
    }
}

bool
cons_member_find (const cons_member_t *self, const uint8_t *id, cons_member_info_t *info)
{
    size_t i = s_find (self, id);
    if (i == SIZE_MAX)
        return false;
    cons_member_info (self, i, info);
    return true;
}

uint64_t
cons_member_incarnation (const cons_member_t *self)
{
    return self->inc;
}

uint32_t
cons_member_health (const cons_member_t *self)
{
    return self->health;
}

void
cons_member_stats (const cons_member_t *self, cons_member_stats_t *stats)
{
    *stats = self->stats;
}

/* ---- changing the member set ---------------------------------------------- */

int
cons_member_set_members (cons_member_t *self, const uint8_t *members, size_t count, uint64_t now_ms)
{
    assert (self && (members || count == 0));
    if (count > CONS_MEMBER_MAX)
        return WD_ERR_OUT_OF_RANGE;
    s_outs_compact (self);
    s_member_t *m = calloc (count + 1, sizeof *m);
    size_t *order = calloc (count + 1, sizeof *order);
    size_t *scratch = calloc (count + 1, sizeof *scratch);
    size_t *map = calloc (self->n, sizeof *map); /* old index -> new, SIZE_MAX: removed */
    if (!m || !order || !scratch || !map) {
        free (m);
        free (order);
        free (scratch);
        free (map);
        return WD_ERR_NOMEM;
    }
    size_t n = 0;
    bool self_listed = false;
    for (size_t i = 0; i < count; i++) {
        const uint8_t *id = members + i * CONS_MEMBER_ID_LEN;
        memcpy (m[n++].id, id, CONS_MEMBER_ID_LEN);
        self_listed |= memcmp (id, self->m[self->me].id, CONS_MEMBER_ID_LEN) == 0;
    }
    if (!self_listed)
        memcpy (m[n++].id, self->m[self->me].id, CONS_MEMBER_ID_LEN);
    qsort (m, n, sizeof *m, s_id_cmp);
    for (size_t i = 1; i < n; i++)
        if (memcmp (m[i - 1].id, m[i].id, CONS_MEMBER_ID_LEN) == 0) {
            free (m);
            free (order);
            free (scratch);
            free (map);
            return WD_ERR_BAD_VALUE;
        }
    /* Kept members keep everything; new ones start alive at incarnation 0. */
    bool added = false;
    for (size_t i = 0; i < n; i++) {
        size_t old = s_find (self, m[i].id);
        if (old != SIZE_MAX) {
            m[i] = self->m[old];
            continue;
        }
        m[i].state = CONS_MEMBER_ALIVE;
        m[i].rtt_ms = CONS_MEMBER_NO_RTT;
        m[i].since_ms = now_ms;
        added = true;
    }
    for (size_t i = 0; i < self->n; i++) {
        map[i] = SIZE_MAX;
        size_t lo = 0, hi = n;
        while (lo < hi) {
            size_t mid = lo + (hi - lo) / 2;
            int c = memcmp (m[mid].id, self->m[i].id, CONS_MEMBER_ID_LEN);
            if (c == 0) {
                map[i] = mid;
                break;
            }
            if (c < 0)
                lo = mid + 1;
            else
                hi = mid;
        }
    }
    /* Indices held elsewhere: the probe, relayed probes, queued outputs. */
    if (self->probe.active) {
        if (map[self->probe.target] == SIZE_MAX)
            self->probe.active = false;
        else {
            self->probe.target = map[self->probe.target];
            size_t k = 0;
            for (size_t r = 0; r < self->probe.relays; r++)
                if (map[self->probe.relay[r]] != SIZE_MAX) {
                    self->probe.nacked[k] = self->probe.nacked[r];
                    self->probe.relay[k++] = map[self->probe.relay[r]];
                }
            self->probe.relays = k;
        }
    }
    for (size_t i = 0; i < S_RELAY_MAX; i++) {
        s_relay_t *r = &self->relay[i];
        if (!r->used)
            continue;
        if (map[r->origin] == SIZE_MAX || map[r->target] == SIZE_MAX)
            r->used = false;
        else {
            r->origin = map[r->origin];
            r->target = map[r->target];
        }
    }
    size_t k = 0;
    for (size_t i = 0; i < self->outs_len; i++) {
        s_out_t o = self->outs[i];
        if (map[o.peer] == SIZE_MAX) {
            free (o.body);
            continue;
        }
        o.peer = map[o.peer];
        self->outs[k++] = o;
    }
    self->outs_len = k;
    self->me = map[self->me];
    free (self->m);
    free (self->order);
    free (self->scratch);
    free (map);
    self->m = m;
    self->n = n;
    self->order = order;
    self->scratch = scratch;
    self->order_len = 0;
    for (size_t i = 0; i < n; i++)
        if (i != self->me)
            self->order[self->order_len++] = i;
    s_shuffle (self);
    /* A member just added has had no chance to hear of this node yet: the
       start-up grace covers it like a member at start. */
    if (added && self->started && self->grace_until < now_ms + self->cfg.grace_ms)
        self->grace_until = now_ms + self->cfg.grace_ms;
    return WD_OK;
}
