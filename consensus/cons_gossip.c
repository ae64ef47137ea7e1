/*
 * cons_gossip: the gossip state machine and its messages (see
 * cons_gossip.h for the contract, docs/PROTOCOL.md "Gossip" for the wire
 * format and every rule with its parameter).
 *
 * Layout. Peers live in an array that only grows (up to peers_max) so that a
 * peer's index is stable and its score survives leaving and coming back.
 * Record ids live in a hash table keyed by the envelope id, in one of three
 * states: WANTED (announced by a peer, not yet received), SEEN (received and
 * valid) and INVALID (permanently invalid: bad encoding, wrong chain, bad
 * signature). Every entry is on the age list in order of its last change,
 * which is what the seen cache expires; SEEN entries that still hold their
 * bytes are also on the history list in order of arrival, which serves
 * IWANT (the last mcache_len heartbeats), IHAVE (the last mcache_gossip)
 * and catch-up (history_ms). Records to forward collect in per-peer outboxes
 * during one call and leave as one PUBLISH per peer at its end.
 */
#include "cons_gossip.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"
#include "wd_rand.h"

#define S_IDS_STRIDE    34        /* c4 20 + 32 bytes: a canonical bin(32) */
#define S_MSG_BYTES     (1 << 20) /* records packed into one PUBLISH/CATCHUP_RSP, at most */
#define S_COUNTER_MAX   10000000  /* score counters, thousandths: 10 000 events */
#define S_CATCHUP_PEERS 2         /* returning peers asked per heartbeat */
#define S_RETRY_HB      5         /* heartbeats before a catch-up by ids is asked again */
#define S_ASK_MAX       512       /* ids asked of one peer by IWANT per heartbeat */

/* ---- messages ------------------------------------------------------------ */

const uint8_t *
cons_gossip_ids_at (const cons_gossip_ids_t *ids, size_t i)
{
    assert (i < ids->count);
    return ids->base + i * ids->stride;
}

static void
s_write_ids (wd_writer_t *w, const cons_gossip_ids_t *ids, size_t max)
{
    assert (ids->count <= max);
    wd_writer_array (w, ids->count);
    for (size_t i = 0; i < ids->count; i++)
        wd_writer_bin (w, cons_gossip_ids_at (ids, i), CONS_GOSSIP_ID_LEN);
}

static void
s_write_records (wd_writer_t *w, const cons_gossip_msg_t *msg)
{
    assert (msg->record_count <= CONS_GOSSIP_RECORDS_MAX);
    wd_writer_array (w, msg->record_count);
    for (size_t i = 0; i < msg->record_count; i++)
        wd_writer_bin (w, msg->records[i], msg->record_lens[i]);
}

uint8_t *
cons_gossip_msg_encode (const cons_gossip_msg_t *msg, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    switch (msg->kind) {
        case CONS_GOSSIP_PUBLISH:
            wd_writer_map (w, 3);
            wd_writer_key (w, "records");
            s_write_records (w, msg);
            break;
        case CONS_GOSSIP_IHAVE:
        case CONS_GOSSIP_IWANT:
            wd_writer_map (w, 3);
            wd_writer_key (w, "ids");
            s_write_ids (w, &msg->ids, CONS_GOSSIP_IDS_MAX);
            break;
        case CONS_GOSSIP_GRAFT:
            wd_writer_map (w, 2);
            break;
        case CONS_GOSSIP_PRUNE:
            assert (msg->backoff_s <= CONS_GOSSIP_BACKOFF_MAX);
            wd_writer_map (w, 3);
            wd_writer_key (w, "backoff");
            wd_writer_uint (w, msg->backoff_s);
            break;
        case CONS_GOSSIP_CATCHUP_REQ:
            assert (msg->since_ms <= CONS_GOSSIP_SINCE_MAX);
            wd_writer_map (w, 4);
            wd_writer_key (w, "ids");
            s_write_ids (w, &msg->ids, CONS_GOSSIP_REQ_IDS_MAX);
            wd_writer_key (w, "since");
            wd_writer_uint (w, msg->since_ms);
            break;
        case CONS_GOSSIP_CATCHUP_RSP:
            wd_writer_map (w, 5);
            wd_writer_key (w, "have");
            s_write_ids (w, &msg->have, CONS_GOSSIP_IDS_MAX);
            wd_writer_key (w, "more");
            wd_writer_bool (w, msg->more);
            wd_writer_key (w, "records");
            s_write_records (w, msg);
            break;
        default:
            assert (!"unknown gossip message kind");
    }
    wd_writer_key (w, "t");
    wd_writer_uint (w, (uint64_t)msg->kind);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_GOSSIP_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* The union of every type's keys, in byte order, and which types use each
   (bit kind). */
enum { K_BACKOFF, K_HAVE, K_IDS, K_MORE, K_RECORDS, K_SINCE, K_T, K_V, K_COUNT };
static const char *const s_keys[K_COUNT] = { "backoff", "have",  "ids", "more",
                                             "records", "since", "t",   "v" };
#define B(k) (1u << (k))
static const unsigned s_key_kinds[K_COUNT] = {
    [K_BACKOFF] = B (CONS_GOSSIP_PRUNE),
    [K_HAVE] = B (CONS_GOSSIP_CATCHUP_RSP),
    [K_IDS] = B (CONS_GOSSIP_IHAVE) | B (CONS_GOSSIP_IWANT) | B (CONS_GOSSIP_CATCHUP_REQ),
    [K_MORE] = B (CONS_GOSSIP_CATCHUP_RSP),
    [K_RECORDS] = B (CONS_GOSSIP_PUBLISH) | B (CONS_GOSSIP_CATCHUP_RSP),
    [K_SINCE] = B (CONS_GOSSIP_CATCHUP_REQ),
};
#undef B

typedef struct {
    const uint8_t *p;
    size_t len;
} s_slice_t;

static int
s_read_uint (s_slice_t s, uint64_t *value, uint64_t max)
{
    wd_reader_t r;
    wd_reader_init (&r, s.p, s.len);
    wd_read_uint (&r, value, max);
    return wd_reader_finish (&r);
}

static int
s_read_ids (s_slice_t s, cons_gossip_ids_t *ids, size_t max)
{
    wd_reader_t r;
    wd_reader_init (&r, s.p, s.len);
    size_t count = 0;
    if (wd_read_array (&r, &count) && count > max)
        return WD_ERR_OVERSIZE;
    ids->count = count;
    ids->stride = S_IDS_STRIDE;
    ids->base = NULL;
    for (size_t i = 0; i < count && r.err == WD_OK; i++) {
        const uint8_t *data;
        size_t len;
        if (!wd_read_bin (&r, &data, &len, SIZE_MAX))
            break;
        if (len != CONS_GOSSIP_ID_LEN)
            return WD_ERR_BAD_LENGTH;
        if (i == 0)
            ids->base = data;
        else if (data != ids->base + i * S_IDS_STRIDE)
            return WD_ERR_BAD_LENGTH; /* cannot happen in canonical input */
    }
    if (r.err == WD_OK)
        wd_read_end (&r);
    return wd_reader_finish (&r);
}

static int
s_read_records (s_slice_t s, cons_gossip_msg_t *msg, size_t record_max)
{
    wd_reader_t r;
    wd_reader_init (&r, s.p, s.len);
    size_t count = 0;
    if (wd_read_array (&r, &count) && count > CONS_GOSSIP_RECORDS_MAX)
        return WD_ERR_OVERSIZE;
    msg->record_count = count;
    for (size_t i = 0; i < count && r.err == WD_OK; i++)
        wd_read_bin (&r, &msg->records[i], &msg->record_lens[i], record_max);
    if (r.err == WD_OK)
        wd_read_end (&r);
    return wd_reader_finish (&r);
}

int
cons_gossip_msg_decode (const uint8_t *buf, size_t len, size_t record_max, cons_gossip_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    size_t max_field = record_max > CONS_GOSSIP_IDS_MAX ? record_max : CONS_GOSSIP_IDS_MAX;
    int rc = wd_codec_check (buf, len, max_field, NULL);
    if (rc != WD_OK)
        return rc;
    s_slice_t slot[K_COUNT] = { { NULL, 0 } };
    wd_reader_t r;
    wd_reader_init (&r, buf, len);
    size_t count;
    wd_read_map (&r, &count);
    for (int k = 0; k < K_COUNT; k++)
        if (wd_read_key_opt (&r, s_keys[k]))
            wd_read_raw (&r, &slot[k].p, &slot[k].len);
    wd_read_end (&r);
    rc = wd_reader_finish (&r);
    if (rc != WD_OK)
        return rc;
    if (!slot[K_V].p || !slot[K_T].p)
        return WD_ERR_MISSING_KEY;
    uint64_t v, t;
    if ((rc = s_read_uint (slot[K_V], &v, UINT64_MAX)) != WD_OK)
        return rc;
    if (v != CONS_GOSSIP_VERSION)
        return WD_ERR_BAD_VERSION;
    if ((rc = s_read_uint (slot[K_T], &t, UINT64_MAX)) != WD_OK)
        return rc;
    if (t < CONS_GOSSIP_PUBLISH || t > CONS_GOSSIP_CATCHUP_RSP)
        return CONS_ERR_GOSSIP_KIND;
    msg->kind = (cons_gossip_kind_t)t;
    for (int k = 0; k < K_T; k++) {
        bool wanted = (s_key_kinds[k] >> t) & 1;
        if (slot[k].p && !wanted)
            return WD_ERR_UNKNOWN_KEY;
        if (!slot[k].p && wanted)
            return WD_ERR_MISSING_KEY;
    }
    uint64_t u;
    if (slot[K_BACKOFF].p) {
        if ((rc = s_read_uint (slot[K_BACKOFF], &u, CONS_GOSSIP_BACKOFF_MAX)) != WD_OK)
            return rc;
        msg->backoff_s = (uint32_t)u;
    }
    if (slot[K_HAVE].p &&
        (rc = s_read_ids (slot[K_HAVE], &msg->have, CONS_GOSSIP_IDS_MAX)) != WD_OK)
        return rc;
    if (slot[K_IDS].p) {
        size_t max = t == CONS_GOSSIP_CATCHUP_REQ ? CONS_GOSSIP_REQ_IDS_MAX : CONS_GOSSIP_IDS_MAX;
        if ((rc = s_read_ids (slot[K_IDS], &msg->ids, max)) != WD_OK)
            return rc;
    }
    if (slot[K_MORE].p) {
        wd_reader_init (&r, slot[K_MORE].p, slot[K_MORE].len);
        wd_read_bool (&r, &msg->more);
        if ((rc = wd_reader_finish (&r)) != WD_OK)
            return rc;
    }
    if (slot[K_RECORDS].p && (rc = s_read_records (slot[K_RECORDS], msg, record_max)) != WD_OK)
        return rc;
    if (slot[K_SINCE].p &&
        (rc = s_read_uint (slot[K_SINCE], &msg->since_ms, CONS_GOSSIP_SINCE_MAX)) != WD_OK)
        return rc;
    switch (msg->kind) {
        case CONS_GOSSIP_PUBLISH:
            return msg->record_count ? WD_OK : CONS_ERR_GOSSIP_EMPTY;
        case CONS_GOSSIP_IHAVE:
        case CONS_GOSSIP_IWANT:
            return msg->ids.count ? WD_OK : CONS_ERR_GOSSIP_EMPTY;
        case CONS_GOSSIP_CATCHUP_REQ:
            return msg->ids.count || msg->since_ms ? WD_OK : CONS_ERR_GOSSIP_EMPTY;
        default:
            return WD_OK;
    }
}

/* ---- state --------------------------------------------------------------- */

typedef struct {
    size_t refs;
    size_t len;
    uint8_t data[];
} s_blob_t;

typedef enum { S_WANTED = 1, S_SEEN, S_INVALID } s_state_t;

typedef struct s_rec s_rec_t;
struct s_rec {
    uint8_t id[CONS_GOSSIP_ID_LEN];
    uint8_t author[CONS_GOSSIP_NODE_LEN]; /* SEEN */
    s_state_t state;
    int reason;              /* INVALID: why */
    s_rec_t *hnext;          /* hash chain */
    s_rec_t *aprev, *anext;  /* age list */
    s_rec_t *hprev, *hnext2; /* history list (SEEN with bytes) */
    uint64_t stamp_ms;       /* last change of state */
    uint64_t hb;             /* SEEN: heartbeat window it arrived in */
    uint8_t *bytes;          /* SEEN, within history */
    size_t len;
    int source;   /* SEEN: peer it came from, -1 own */
    int promiser; /* WANTED: peer with an outstanding IWANT, or -1 */
    uint64_t promise_due;
    int advertiser;    /* WANTED: last peer that announced it, or -1 */
    uint64_t asked_ms; /* WANTED: last catch-up request by id, 0 none */
};

typedef struct {
    uint8_t id[CONS_GOSSIP_NODE_LEN];
    bool present, in_mesh, graylisted, want_catchup, gray_sampled;
    uint64_t backoff_until, banned_until, absent_since;
    uint64_t blamed_backoff; /* the backoff_until a GRAFT was last blamed for */
    uint64_t blamed_promise; /* the heartbeat a broken promise was last blamed in */
    uint64_t c_first, c_invalid, c_behaviour, c_flood; /* thousandths */
    int64_t score;
    uint64_t tokens; /* thousandths of a record */
    uint64_t refill_ms;
    unsigned ihave_hb, iwant_hb, catchup_hb, ask_hb;
    uint64_t msgs_in, msgs_out, records_in, records_out, invalid, broken, flooded;
    s_rec_t **outbox;
    size_t outbox_n, outbox_cap;
} s_peer_t;

typedef struct {
    cons_gossip_out_kind_t kind;
    int peer;
    uint8_t id[CONS_GOSSIP_ID_LEN];
    s_blob_t *blob;
    int reason;
    int64_t score;
    uint64_t until_ms;
} s_out_t;

struct cons_gossip {
    cons_gossip_config_t cfg;
    cons_gossip_score_params_t sp;
    wd_rand_t rng;
    uint64_t hash_key;
    uint64_t hb;         /* heartbeats done */
    uint64_t next_hb_ms; /* when the next one is due */
    uint64_t now_max;    /* the latest now_ms seen: heartbeats never run earlier */
    bool full_mesh;
    size_t waiting; /* own records cons_gossip_publish_later left in the outboxes */
    s_peer_t *peers;
    size_t peer_count;
    s_rec_t **buckets;
    size_t bucket_mask;
    size_t rec_count;
    s_rec_t *age_head, *age_tail;
    s_rec_t *hist_head, *hist_tail;
    size_t hist_bytes;
    s_out_t *outq;
    size_t outq_n, outq_head, outq_cap;
    s_blob_t *lent;
    int *scratch; /* peers_max indices */
    cons_gossip_stats_t stats;
};

static void
s_shuffle (cons_gossip_t *self, int *v, size_t n)
{
    for (size_t i = n; i > 1; i--) {
        size_t j = (size_t)(wd_rand_next (&self->rng) % i);
        int t = v[i - 1];
        v[i - 1] = v[j];
        v[j] = t;
    }
}

static void *
s_grow (void *p, size_t *cap, size_t need, size_t item)
{
    if (need <= *cap)
        return p;
    size_t n = *cap ? *cap * 2 : 16;
    while (n < need)
        n *= 2;
    void *q = realloc (p, n * item);
    if (!q)
        abort ();
    *cap = n;
    return q;
}

/* ---- outputs ------------------------------------------------------------- */

/* A blob holding a copy of data, with one reference. */
static s_blob_t *
s_blob (const uint8_t *data, size_t len)
{
    s_blob_t *b = malloc (sizeof *b + len);
    if (!b)
        abort ();
    b->refs = 1;
    b->len = len;
    memcpy (b->data, data, len);
    return b;
}

static void
s_blob_release (s_blob_t **b_p)
{
    if (*b_p && --(*b_p)->refs == 0)
        free (*b_p);
    *b_p = NULL;
}

static s_out_t *
s_out (cons_gossip_t *self, cons_gossip_out_kind_t kind, int peer)
{
    self->outq = s_grow (self->outq, &self->outq_cap, self->outq_n + 1, sizeof *self->outq);
    s_out_t *o = &self->outq[self->outq_n++];
    memset (o, 0, sizeof *o);
    o->kind = kind;
    o->peer = peer;
    return o;
}

/* Queues a body for peer; takes one reference to blob. */
static void
s_send_blob (cons_gossip_t *self, int peer, s_blob_t *blob, bool control)
{
    blob->refs++;
    s_out (self, CONS_GOSSIP_OUT_SEND, peer)->blob = blob;
    self->peers[peer].msgs_out++;
    self->stats.msgs_out++;
    self->stats.bytes_out += blob->len;
    if (control)
        self->stats.control_out++;
}

static void
s_send_msg (cons_gossip_t *self, int peer, const cons_gossip_msg_t *msg)
{
    size_t len;
    uint8_t *body = cons_gossip_msg_encode (msg, &len);
    s_blob_t *b = s_blob (body, len);
    free (body);
    s_send_blob (self, peer, b, msg->kind != CONS_GOSSIP_PUBLISH);
    s_blob_release (&b);
    if (msg->record_count) {
        self->peers[peer].records_out += msg->record_count;
        self->stats.records_out += msg->record_count;
    }
}

static void
s_send_simple (cons_gossip_t *self, int peer, cons_gossip_kind_t kind, uint32_t backoff_s)
{
    cons_gossip_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.kind = kind;
    msg.backoff_s = backoff_s;
    s_send_msg (self, peer, &msg);
}

/* ---- peers and scores ------------------------------------------------------ */

static int
s_peer_find (const cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_NODE_LEN])
{
    for (size_t i = 0; i < self->peer_count; i++)
        if (memcmp (self->peers[i].id, id, CONS_GOSSIP_NODE_LEN) == 0)
            return (int)i;
    return -1;
}

static bool
s_banned (const s_peer_t *p, uint64_t now)
{
    return p->banned_until && p->banned_until > now;
}

static uint64_t
s_sq_milli (uint64_t c)
{
    return c * c / 1000; /* thousandths of c^2 */
}

static int64_t
s_score_of (const cons_gossip_t *self, const s_peer_t *p)
{
    const cons_gossip_score_params_t *sp = &self->sp;
    uint64_t first =
        p->c_first < (uint64_t)sp->first_cap * 1000 ? p->c_first : (uint64_t)sp->first_cap * 1000;
    uint64_t t7 = (uint64_t)sp->behaviour_threshold * 1000;
    uint64_t excess = p->c_behaviour > t7 ? p->c_behaviour - t7 : 0;
    int64_t s = (int64_t)first * sp->first_weight / 1000;
    s -= (int64_t)s_sq_milli (p->c_invalid) * sp->invalid_weight / 1000;
    s -= (int64_t)s_sq_milli (excess) * sp->behaviour_weight / 1000;
    s -= (int64_t)p->c_flood * sp->flood_weight / 1000;
    return s;
}

static void
s_bump (uint64_t *c, uint64_t events)
{
    *c = *c + events * 1000 > S_COUNTER_MAX ? S_COUNTER_MAX : *c + events * 1000;
}

static void
s_decay (uint64_t *c, uint32_t permille)
{
    *c = *c * permille / 1000;
    if (*c < 10)
        *c = 0; /* below 0.01: zero */
}

/* Recomputes the score and reports threshold crossings. */
static void
s_rescore (cons_gossip_t *self, int pi, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    p->score = s_score_of (self, p);
    if (!p->graylisted && p->score < self->sp.graylist_threshold) {
        p->graylisted = true;
        s_out (self, CONS_GOSSIP_OUT_GRAYLIST, pi)->score = p->score;
    } else if (p->graylisted && p->score >= self->sp.graylist_threshold) {
        p->graylisted = false;
        s_out (self, CONS_GOSSIP_OUT_UNGRAYLIST, pi)->score = p->score;
    }
    if (!s_banned (p, now) && p->score <= self->sp.ban_threshold) {
        p->banned_until = now + self->sp.ban_ms;
        p->in_mesh = false;
        s_out_t *o = s_out (self, CONS_GOSSIP_OUT_BAN, pi);
        o->score = p->score;
        o->until_ms = p->banned_until;
    }
}

typedef enum { S_P_INVALID, S_P_BEHAVIOUR, S_P_FLOOD } s_penalty_t;

static void
s_penalise (cons_gossip_t *self, int pi, s_penalty_t what, int reason, uint64_t events,
            uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    switch (what) {
        case S_P_INVALID:
            s_bump (&p->c_invalid, events);
            p->invalid += events;
            break;
        case S_P_BEHAVIOUR:
            s_bump (&p->c_behaviour, events);
            if (reason == CONS_ERR_GOSSIP_PROMISE)
                p->broken += events;
            break;
        case S_P_FLOOD:
            s_bump (&p->c_flood, events);
            p->flooded += events;
            break;
    }
    p->score = s_score_of (self, p);
    s_out_t *o = s_out (self, CONS_GOSSIP_OUT_PENALTY, pi);
    o->reason = reason;
    o->score = p->score;
    s_rescore (self, pi, now);
}

/* ---- the record table ------------------------------------------------------ */

static size_t
s_bucket (const cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_ID_LEN])
{
    uint64_t h;
    memcpy (&h, id, sizeof h);
    h = (h ^ self->hash_key) * 0x9e3779b97f4a7c15ULL;
    return (size_t)(h >> 17) & self->bucket_mask;
}

static s_rec_t *
s_find (const cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_ID_LEN])
{
    for (s_rec_t *r = self->buckets[s_bucket (self, id)]; r; r = r->hnext)
        if (memcmp (r->id, id, CONS_GOSSIP_ID_LEN) == 0)
            return r;
    return NULL;
}

static void
s_age_unlink (cons_gossip_t *self, s_rec_t *r)
{
    if (r->aprev)
        r->aprev->anext = r->anext;
    else
        self->age_head = r->anext;
    if (r->anext)
        r->anext->aprev = r->aprev;
    else
        self->age_tail = r->aprev;
    r->aprev = r->anext = NULL;
}

static void
s_age_append (cons_gossip_t *self, s_rec_t *r, uint64_t now)
{
    r->stamp_ms = now;
    r->aprev = self->age_tail;
    r->anext = NULL;
    if (self->age_tail)
        self->age_tail->anext = r;
    else
        self->age_head = r;
    self->age_tail = r;
}

/* Frees a record's bytes and takes it off the history list. */
static void
s_hist_drop (cons_gossip_t *self, s_rec_t *r)
{
    if (!r->bytes)
        return;
    if (r->hprev)
        r->hprev->hnext2 = r->hnext2;
    else
        self->hist_head = r->hnext2;
    if (r->hnext2)
        r->hnext2->hprev = r->hprev;
    else
        self->hist_tail = r->hprev;
    r->hprev = r->hnext2 = NULL;
    self->hist_bytes -= r->len;
    free (r->bytes);
    r->bytes = NULL;
}

static void
s_rec_remove (cons_gossip_t *self, s_rec_t *r)
{
    s_hist_drop (self, r);
    s_age_unlink (self, r);
    s_rec_t **pp = &self->buckets[s_bucket (self, r->id)];
    while (*pp != r)
        pp = &(*pp)->hnext;
    *pp = r->hnext;
    self->rec_count--;
    free (r);
}

static s_rec_t *
s_rec_new (cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_ID_LEN], s_state_t state, uint64_t now)
{
    if (self->rec_count >= self->cfg.records_max)
        s_rec_remove (self, self->age_head); /* full: forget the oldest */
    s_rec_t *r = calloc (1, sizeof *r);
    if (!r)
        abort ();
    memcpy (r->id, id, CONS_GOSSIP_ID_LEN);
    r->state = state;
    r->source = r->promiser = r->advertiser = -1;
    size_t b = s_bucket (self, id);
    r->hnext = self->buckets[b];
    self->buckets[b] = r;
    self->rec_count++;
    s_age_append (self, r, now);
    return r;
}

/* ---- records in ------------------------------------------------------------ */

static void
s_outbox_add (cons_gossip_t *self, int pi, s_rec_t *r)
{
    s_peer_t *p = &self->peers[pi];
    p->outbox = s_grow (p->outbox, &p->outbox_cap, p->outbox_n + 1, sizeof *p->outbox);
    p->outbox[p->outbox_n++] = r;
}

/* Sends every outbox as PUBLISH messages of at most RECORDS_MAX records and
   about S_MSG_BYTES bytes. */
static void
s_flush (cons_gossip_t *self)
{
    self->waiting = 0;
    for (size_t pi = 0; pi < self->peer_count; pi++) {
        s_peer_t *p = &self->peers[pi];
        size_t i = 0;
        while (i < p->outbox_n) {
            cons_gossip_msg_t msg;
            memset (&msg, 0, sizeof msg);
            msg.kind = CONS_GOSSIP_PUBLISH;
            size_t bytes = 0;
            while (i < p->outbox_n && msg.record_count < CONS_GOSSIP_RECORDS_MAX &&
                   (msg.record_count == 0 || bytes + p->outbox[i]->len <= S_MSG_BYTES)) {
                s_rec_t *r = p->outbox[i++];
                if (!r->bytes)
                    continue; /* dropped by the history byte cap meanwhile */
                msg.records[msg.record_count] = r->bytes;
                msg.record_lens[msg.record_count++] = r->len;
                bytes += r->len;
            }
            if (msg.record_count)
                s_send_msg (self, (int)pi, &msg);
        }
        p->outbox_n = 0;
    }
}

/* Sends what cons_gossip_publish_later left waiting before anything else
   changes the outboxes or the peer table (an outbox holds record
   pointers, valid only until records are forgotten). */
static void
s_flush_waiting (cons_gossip_t *self)
{
    if (self->waiting)
        s_flush (self);
}

static bool
s_usable (const cons_gossip_t *self, const s_peer_t *p, uint64_t now)
{
    (void)self;
    return p->present && !s_banned (p, now) && !p->graylisted;
}

/* Takes a record in: from peer pi (-1: own). Returns WD_OK when it was new
   and valid. */
static int
s_record (cons_gossip_t *self, int pi, const uint8_t *bytes, size_t len, uint64_t now)
{
    uint8_t id[CONS_GOSSIP_ID_LEN];
    wd_envelope_id (id, bytes, len);
    s_rec_t *r = s_find (self, id);
    if (r && r->state == S_SEEN) {
        self->stats.duplicates++;
        return CONS_ERR_DUPLICATE;
    }
    if (r && r->state == S_INVALID) {
        if (pi >= 0)
            s_penalise (self, pi, S_P_INVALID, r->reason, 1, now);
        return r->reason;
    }
    wd_envelope_t env;
    bool permanent = true;
    int rc = len > self->cfg.record_max ? WD_ERR_OVERSIZE : wd_envelope_decode (bytes, len, &env);
    if (rc == WD_OK && memcmp (env.chain, self->cfg.chain, WD_CHAIN_ID_LEN) != 0)
        rc = WD_ERR_WRONG_CHAIN;
    if (rc == WD_OK)
        rc = self->cfg.verify ? self->cfg.verify (self->cfg.ctx, &env)
                              : cons_vcache_verify (self->cfg.vcache, id, &env, self->cfg.chain);
    if (rc == WD_OK) {
        permanent = false;
        rc = self->cfg.accept (self->cfg.ctx, &env, bytes, len);
    }
    if (rc == CONS_ERR_GOSSIP_IGNORE)
        return rc;
    if (rc != WD_OK) {
        if (permanent) {
            if (!r)
                r = s_rec_new (self, id, S_INVALID, now);
            else {
                s_age_unlink (self, r);
                s_age_append (self, r, now);
            }
            r->state = S_INVALID;
            r->reason = rc;
        }
        if (pi >= 0)
            s_penalise (self, pi, S_P_INVALID, rc, 1, now);
        return rc;
    }
    /* Valid: remember it, deliver it, forward it. */
    if (!r)
        r = s_rec_new (self, id, S_SEEN, now);
    else {
        s_age_unlink (self, r);
        s_age_append (self, r, now);
    }
    r->state = S_SEEN;
    r->promiser = r->advertiser = -1;
    r->hb = self->hb;
    r->source = pi;
    memcpy (r->author, env.from, CONS_GOSSIP_NODE_LEN);
    r->bytes = malloc (len);
    if (!r->bytes)
        abort ();
    memcpy (r->bytes, bytes, len);
    r->len = len;
    r->hprev = self->hist_tail;
    r->hnext2 = NULL;
    if (self->hist_tail)
        self->hist_tail->hnext2 = r;
    else
        self->hist_head = r;
    self->hist_tail = r;
    self->hist_bytes += len;
    while (self->hist_bytes > self->cfg.history_bytes && self->hist_head != r)
        s_hist_drop (self, self->hist_head);
    if (pi < 0)
        return WD_OK;

    s_peer_t *src = &self->peers[pi];
    s_bump (&src->c_first, 1);
    if (src->c_first > (uint64_t)self->sp.first_cap * 1000)
        src->c_first = (uint64_t)self->sp.first_cap * 1000;
    src->score = s_score_of (self, src);
    s_out_t *o = s_out (self, CONS_GOSSIP_OUT_DELIVER, pi);
    memcpy (o->id, id, sizeof o->id);
    o->blob = s_blob (bytes, len);
    self->stats.delivered++;
    /* A copy straight from its author was flooded by the author to every
       peer: it is announced lazily (IHAVE), not forwarded. */
    if (memcmp (src->id, env.from, CONS_GOSSIP_NODE_LEN) == 0)
        return WD_OK;
    for (size_t qi = 0; qi < self->peer_count; qi++) {
        s_peer_t *q = &self->peers[qi];
        if ((int)qi == pi || !q->in_mesh || !s_usable (self, q, now) ||
            memcmp (q->id, env.from, CONS_GOSSIP_NODE_LEN) == 0)
            continue;
        s_outbox_add (self, (int)qi, r);
    }
    return WD_OK;
}

static void
s_refill (cons_gossip_t *self, s_peer_t *p, uint64_t now)
{
    uint64_t cap = (uint64_t)self->cfg.rate_burst * 1000;
    if (now > p->refill_ms) {
        uint64_t add = (now - p->refill_ms) * self->cfg.rate_per_s; /* thousandths */
        p->tokens = p->tokens + add > cap ? cap : p->tokens + add;
        p->refill_ms = now;
    }
}

static int
s_records_in (cons_gossip_t *self, int pi, const cons_gossip_msg_t *msg, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    int first = WD_OK;
    bool any_new = false;
    s_refill (self, p, now);
    size_t take = msg->record_count;
    if (take > p->tokens / 1000)
        take = (size_t)(p->tokens / 1000);
    p->tokens -= (uint64_t)take * 1000;
    for (size_t i = 0; i < take; i++) {
        if (p->graylisted) {
            /* One record per heartbeat is still checked, so that evidence
               keeps accumulating towards a ban at a bounded cost. */
            if (p->gray_sampled) {
                if (first == WD_OK)
                    first = CONS_ERR_GOSSIP_GRAYLISTED;
                break;
            }
            p->gray_sampled = true;
        }
        p->records_in++;
        int rc = s_record (self, pi, msg->records[i], msg->record_lens[i], now);
        if (rc == WD_OK)
            any_new = true;
        else if (first == WD_OK && rc != CONS_ERR_DUPLICATE)
            first = rc;
        if (s_banned (p, now))
            return first;
    }
    if (take < msg->record_count) {
        s_penalise (self, pi, S_P_FLOOD, CONS_ERR_GOSSIP_RATE, msg->record_count - take, now);
        if (first == WD_OK)
            first = CONS_ERR_GOSSIP_RATE;
    }
    if (first == WD_OK && !any_new)
        first = CONS_ERR_DUPLICATE;
    return first;
}

/* ---- control in ------------------------------------------------------------ */

static void
s_send_ids (cons_gossip_t *self, int pi, cons_gossip_kind_t kind, const uint8_t *ids, size_t n)
{
    cons_gossip_msg_t msg;
    memset (&msg, 0, sizeof msg);
    msg.kind = kind;
    msg.ids = (cons_gossip_ids_t){ ids, n, CONS_GOSSIP_ID_LEN };
    s_send_msg (self, pi, &msg);
    if (kind == CONS_GOSSIP_IWANT)
        self->stats.iwant_sent_ids += n;
    if (kind == CONS_GOSSIP_CATCHUP_REQ)
        self->stats.catchup_sent++;
}

/* Learns ids a peer has (IHAVE, CATCHUP_RSP have) and collects the ones to
   ask for into want (at most max). */
static size_t
s_learn (cons_gossip_t *self, int pi, const cons_gossip_ids_t *ids, bool promise, uint8_t *want,
         size_t max, uint64_t now)
{
    size_t n = 0;
    for (size_t i = 0; i < ids->count && n < max; i++) {
        const uint8_t *id = cons_gossip_ids_at (ids, i);
        s_rec_t *r = s_find (self, id);
        if (r && r->state != S_WANTED)
            continue;
        if (!r)
            r = s_rec_new (self, id, S_WANTED, now);
        r->advertiser = pi;
        if (promise) {
            if (r->promiser >= 0 && r->promise_due > now)
                continue; /* already asked someone */
            r->promiser = pi;
            r->promise_due = now + self->cfg.iwant_followup_ms;
        } else
            r->asked_ms = now;
        memcpy (want + n * CONS_GOSSIP_ID_LEN, id, CONS_GOSSIP_ID_LEN);
        n++;
    }
    return n;
}

static void
s_on_ihave (cons_gossip_t *self, int pi, const cons_gossip_msg_t *msg, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    if (p->score < self->sp.gossip_threshold || ++p->ihave_hb > self->cfg.ihave_max ||
        p->ask_hb >= S_ASK_MAX)
        return;
    uint8_t want[S_ASK_MAX * CONS_GOSSIP_ID_LEN];
    size_t n = s_learn (self, pi, &msg->ids, true, want, S_ASK_MAX - p->ask_hb, now);
    p->ask_hb += (unsigned)n;
    if (n)
        s_send_ids (self, pi, CONS_GOSSIP_IWANT, want, n);
}

static void
s_on_iwant (cons_gossip_t *self, int pi, const cons_gossip_msg_t *msg)
{
    s_peer_t *p = &self->peers[pi];
    if (p->score < self->sp.gossip_threshold)
        return;
    for (size_t i = 0; i < msg->ids.count && p->iwant_hb < self->cfg.iwant_serve_max; i++) {
        s_rec_t *r = s_find (self, cons_gossip_ids_at (&msg->ids, i));
        if (r && r->state == S_SEEN && r->bytes && self->hb - r->hb < self->cfg.mcache_len) {
            s_outbox_add (self, pi, r);
            p->iwant_hb++;
        }
    }
}

static size_t
s_mesh_count (const cons_gossip_t *self)
{
    size_t n = 0;
    for (size_t i = 0; i < self->peer_count; i++)
        n += self->peers[i].in_mesh;
    return n;
}

static void
s_prune (cons_gossip_t *self, int pi, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    p->in_mesh = false;
    p->backoff_until = now + (uint64_t)self->cfg.prune_backoff_s * 1000;
    s_send_simple (self, pi, CONS_GOSSIP_PRUNE, self->cfg.prune_backoff_s);
}

static int
s_on_graft (cons_gossip_t *self, int pi, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    if (p->in_mesh)
        return WD_OK;
    if (p->backoff_until > now) {
        /* Blamed once per backoff: over a best-effort transport the PRUNE
           that started it may have been lost, and a peer that restarted
           knows nothing of it, so an honest peer can GRAFT at every
           heartbeat until a PRUNE arrives. Each GRAFT gets the PRUNE again,
           with the time left (the backoff is not extended). */
        if (p->blamed_backoff != p->backoff_until) {
            p->blamed_backoff = p->backoff_until;
            s_penalise (self, pi, S_P_BEHAVIOUR, CONS_ERR_GOSSIP_BACKOFF, 1, now);
        }
        if (!s_banned (p, now))
            s_send_simple (self, pi, CONS_GOSSIP_PRUNE,
                           (uint32_t)((p->backoff_until - now + 999) / 1000));
        return CONS_ERR_GOSSIP_BACKOFF;
    }
    if (p->score < 0 || (!self->full_mesh && s_mesh_count (self) >= self->cfg.d_hi)) {
        s_prune (self, pi, now);
        return WD_OK;
    }
    p->in_mesh = true;
    return WD_OK;
}

static void
s_on_catchup_req (cons_gossip_t *self, int pi, const cons_gossip_msg_t *msg, uint64_t now)
{
    s_peer_t *p = &self->peers[pi];
    if (p->score < self->sp.gossip_threshold || ++p->catchup_hb > self->cfg.catchup_serve_max)
        return;
    cons_gossip_msg_t rsp;
    memset (&rsp, 0, sizeof rsp);
    rsp.kind = CONS_GOSSIP_CATCHUP_RSP;
    size_t bytes = 0;
    for (size_t i = 0; i < msg->ids.count; i++) {
        s_rec_t *r = s_find (self, cons_gossip_ids_at (&msg->ids, i));
        if (!r || r->state != S_SEEN || !r->bytes)
            continue;
        if (rsp.record_count == CONS_GOSSIP_RECORDS_MAX ||
            (rsp.record_count && bytes + r->len > S_MSG_BYTES)) {
            rsp.more = true;
            break;
        }
        rsp.records[rsp.record_count] = r->bytes;
        rsp.record_lens[rsp.record_count++] = r->len;
        bytes += r->len;
    }
    uint8_t *have = NULL;
    size_t n = 0;
    if (msg->since_ms) {
        have = malloc (CONS_GOSSIP_IDS_MAX * CONS_GOSSIP_ID_LEN);
        if (!have)
            abort ();
        for (s_rec_t *r = self->hist_tail; r && r->stamp_ms + msg->since_ms >= now; r = r->hprev) {
            if (n == CONS_GOSSIP_IDS_MAX) {
                rsp.more = true;
                break;
            }
            memcpy (have + n++ * CONS_GOSSIP_ID_LEN, r->id, CONS_GOSSIP_ID_LEN);
        }
    }
    rsp.have = (cons_gossip_ids_t){ have, n, CONS_GOSSIP_ID_LEN };
    s_send_msg (self, pi, &rsp);
    free (have);
}

static void
s_on_catchup_rsp (cons_gossip_t *self, int pi, const cons_gossip_msg_t *msg, uint64_t now)
{
    if (msg->have.count == 0 || self->peers[pi].graylisted)
        return;
    uint8_t want[CONS_GOSSIP_REQ_IDS_MAX * CONS_GOSSIP_ID_LEN];
    size_t n = s_learn (self, pi, &msg->have, false, want, CONS_GOSSIP_REQ_IDS_MAX, now);
    if (n)
        s_send_ids (self, pi, CONS_GOSSIP_CATCHUP_REQ, want, n);
}

/* ---- public: life cycle ---------------------------------------------------- */

void
cons_gossip_score_defaults (cons_gossip_score_params_t *sp)
{
    memset (sp, 0, sizeof *sp);
    sp->first_weight = 1;
    sp->first_cap = 20;
    sp->first_decay = 900;
    sp->invalid_weight = 10;
    sp->invalid_decay = 990;
    sp->behaviour_weight = 10;
    sp->behaviour_threshold = 3;
    sp->behaviour_decay = 900;
    sp->flood_weight = 1;
    sp->flood_decay = 900;
    sp->gossip_threshold = -20;
    sp->publish_threshold = -40;
    sp->graylist_threshold = -80;
    sp->ban_threshold = -400;
    sp->ban_ms = 600000;
}

#define S_DEFAULT(field, value)                                                                    \
    if (!c->field)                                                                                 \
    c->field = (value)

int
cons_gossip_new (const cons_gossip_config_t *config, cons_gossip_t **out)
{
    *out = NULL;
    cons_gossip_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->cfg = *config;
    cons_gossip_config_t *c = &self->cfg;
    S_DEFAULT (d, 6);
    S_DEFAULT (d_lo, 4);
    S_DEFAULT (d_hi, 12);
    S_DEFAULT (d_score, 4);
    S_DEFAULT (d_lazy, 6);
    S_DEFAULT (full_mesh_max, 12);
    S_DEFAULT (heartbeat_ms, 1000);
    S_DEFAULT (mcache_len, 5);
    S_DEFAULT (mcache_gossip, 3);
    S_DEFAULT (prune_backoff_s, 60);
    S_DEFAULT (iwant_followup_ms, 3000);
    S_DEFAULT (seen_ttl_ms, 120000);
    S_DEFAULT (history_ms, 60000);
    S_DEFAULT (history_bytes, (size_t)64 << 20);
    S_DEFAULT (records_max, 65536);
    S_DEFAULT (record_max, (size_t)256 << 10);
    S_DEFAULT (peers_max, 1024);
    S_DEFAULT (rate_per_s, 1000);
    S_DEFAULT (rate_burst, 2000);
    S_DEFAULT (ihave_max, 10);
    S_DEFAULT (iwant_serve_max, 1024);
    S_DEFAULT (catchup_serve_max, 4);
    S_DEFAULT (antientropy_hb, 10);
    if (c->score_set)
        self->sp = c->score;
    else
        cons_gossip_score_defaults (&self->sp);
    const cons_gossip_score_params_t *sp = &self->sp;
    if (!c->accept || c->d_lo > c->d || c->d > c->d_hi || c->d_score > c->d ||
        c->mcache_gossip > c->mcache_len || c->history_ms > c->seen_ttl_ms ||
        c->prune_backoff_s > CONS_GOSSIP_BACKOFF_MAX || c->records_max < 1024 ||
        sp->gossip_threshold > 0 || sp->publish_threshold > sp->gossip_threshold ||
        sp->graylist_threshold > sp->publish_threshold ||
        sp->ban_threshold > sp->graylist_threshold || sp->first_decay > 1000 ||
        sp->invalid_decay > 1000 || sp->behaviour_decay > 1000 || sp->flood_decay > 1000 ||
        sp->first_weight < 0 || sp->invalid_weight < 0 || sp->behaviour_weight < 0 ||
        sp->flood_weight < 0) {
        free (self);
        return WD_ERR_BAD_VALUE;
    }
    size_t nb = 16;
    while (nb < c->records_max)
        nb *= 2;
    self->buckets = calloc (nb, sizeof *self->buckets);
    self->peers = calloc (c->peers_max, sizeof *self->peers);
    self->scratch = calloc (c->peers_max, sizeof *self->scratch);
    if (!self->buckets || !self->peers || !self->scratch) {
        free (self->buckets);
        free (self->peers);
        free (self->scratch);
        free (self);
        return WD_ERR_NOMEM;
    }
    self->bucket_mask = nb - 1;
    self->rng = wd_rand_seeded (c->seed);
    self->hash_key = wd_rand_next (&self->rng);
    self->next_hb_ms = c->start_ms + c->heartbeat_ms;
    *out = self;
    return WD_OK;
}

void
cons_gossip_destroy (cons_gossip_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cons_gossip_t *self = *self_p;
        while (self->age_head)
            s_rec_remove (self, self->age_head);
        for (size_t i = 0; i < self->peer_count; i++)
            free (self->peers[i].outbox);
        for (size_t i = self->outq_head; i < self->outq_n; i++)
            s_blob_release (&self->outq[i].blob);
        s_blob_release (&self->lent);
        free (self->outq);
        free (self->buckets);
        free (self->peers);
        free (self->scratch);
        free (self);
        *self_p = NULL;
    }
}

/* Every public call starts here: what the last output lent is returned. */
static void
s_enter (cons_gossip_t *self, uint64_t now)
{
    s_blob_release (&self->lent);
    if (now > self->now_max)
        self->now_max = now;
}

bool
cons_gossip_output (cons_gossip_t *self, cons_gossip_output_t *out)
{
    s_enter (self, 0);
    if (self->outq_head == self->outq_n) {
        self->outq_head = self->outq_n = 0;
        return false;
    }
    s_out_t *o = &self->outq[self->outq_head++];
    memset (out, 0, sizeof *out);
    out->kind = o->kind;
    memcpy (out->peer, self->peers[o->peer].id, CONS_GOSSIP_NODE_LEN);
    memcpy (out->id, o->id, CONS_GOSSIP_ID_LEN);
    if (o->blob) {
        out->data = o->blob->data;
        out->len = o->blob->len;
    }
    out->reason = o->reason;
    out->score = o->score;
    out->until_ms = o->until_ms;
    self->lent = o->blob;
    return true;
}

static int
s_peer_slot (cons_gossip_t *self, uint64_t now)
{
    if (self->peer_count < self->cfg.peers_max)
        return (int)self->peer_count++;
    /* Full: reuse the absent peer with a non-negative score absent longest. */
    int best = -1;
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        if (!p->present && p->score >= 0 && !s_banned (p, now) &&
            (best < 0 || p->absent_since < self->peers[best].absent_since))
            best = (int)i;
    }
    if (best < 0)
        return -1;
    for (s_rec_t *r = self->age_head; r; r = r->anext) {
        if (r->source == best)
            r->source = -1;
        if (r->promiser == best)
            r->promiser = -1;
        if (r->advertiser == best)
            r->advertiser = -1;
    }
    free (self->peers[best].outbox);
    return best;
}

int
cons_gossip_set_peers (cons_gossip_t *self, const uint8_t (*ids)[CONS_GOSSIP_NODE_LEN],
                       size_t count, uint64_t now_ms)
{
    s_enter (self, now_ms);
    s_flush_waiting (self);
    int rc = WD_OK;
    bool *keep = calloc (self->cfg.peers_max, sizeof *keep);
    if (!keep)
        abort ();
    size_t present = 0;
    for (size_t i = 0; i < count; i++) {
        if (memcmp (ids[i], self->cfg.self, CONS_GOSSIP_NODE_LEN) == 0)
            continue;
        int pi = s_peer_find (self, ids[i]);
        if (pi < 0) {
            pi = s_peer_slot (self, now_ms);
            if (pi < 0) {
                rc = CONS_ERR_NO_SPACE;
                continue;
            }
            s_peer_t *p = &self->peers[pi];
            memset (p, 0, sizeof *p);
            memcpy (p->id, ids[i], CONS_GOSSIP_NODE_LEN);
            p->tokens = (uint64_t)self->cfg.rate_burst * 1000;
            p->refill_ms = now_ms;
        }
        if (keep[pi])
            continue;
        keep[pi] = true;
        present++;
        s_peer_t *p = &self->peers[pi];
        if (!p->present) {
            p->present = true;
            p->want_catchup = true;
        }
    }
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->present && !keep[i]) {
            p->present = false;
            p->in_mesh = false;
            p->want_catchup = false;
            p->absent_since = now_ms;
        }
    }
    free (keep);
    self->full_mesh = present + 1 <= self->cfg.full_mesh_max;
    return rc;
}

/* An own record into every eligible peer's outbox. */
static int
s_publish (cons_gossip_t *self, const uint8_t *record, size_t len, uint64_t now_ms)
{
    /* a full seen table forgets its oldest entry, which may be waiting */
    if (self->rec_count >= self->cfg.records_max)
        s_flush_waiting (self);
    int rc = s_record (self, -1, record, len, now_ms);
    if (rc != WD_OK)
        return rc;
    s_rec_t *r = self->hist_tail;
    for (size_t qi = 0; qi < self->peer_count; qi++) {
        s_peer_t *q = &self->peers[qi];
        if (q->present && !s_banned (q, now_ms) && q->score >= self->sp.publish_threshold)
            s_outbox_add (self, (int)qi, r);
    }
    return WD_OK;
}

int
cons_gossip_publish (cons_gossip_t *self, const uint8_t *record, size_t len, uint64_t now_ms)
{
    s_enter (self, now_ms);
    int rc = s_publish (self, record, len, now_ms);
    s_flush_waiting (self);
    if (rc != WD_OK)
        return rc;
    s_flush (self);
    return WD_OK;
}

int
cons_gossip_publish_later (cons_gossip_t *self, const uint8_t *record, size_t len, uint64_t now_ms)
{
    s_enter (self, now_ms);
    int rc = s_publish (self, record, len, now_ms);
    if (rc != WD_OK)
        return rc;
    if (++self->waiting >= CONS_GOSSIP_RECORDS_MAX)
        s_flush (self);
    return WD_OK;
}

void
cons_gossip_flush (cons_gossip_t *self)
{
    s_enter (self, 0);
    s_flush_waiting (self);
}

int
cons_gossip_input (cons_gossip_t *self, const uint8_t peer[CONS_GOSSIP_NODE_LEN],
                   const uint8_t *body, size_t len, uint64_t now_ms)
{
    s_enter (self, now_ms);
    s_flush_waiting (self);
    int pi = s_peer_find (self, peer);
    if (pi < 0 || !self->peers[pi].present)
        return CONS_ERR_GOSSIP_UNKNOWN_PEER;
    s_peer_t *p = &self->peers[pi];
    if (s_banned (p, now_ms))
        return CONS_ERR_GOSSIP_BANNED;
    p->msgs_in++;
    cons_gossip_msg_t msg;
    int rc = cons_gossip_msg_decode (body, len, self->cfg.record_max, &msg);
    if (rc != WD_OK) {
        s_penalise (self, pi, S_P_INVALID, rc, 1, now_ms);
        return rc;
    }
    bool records = msg.kind == CONS_GOSSIP_PUBLISH || msg.kind == CONS_GOSSIP_CATCHUP_RSP;
    if (p->graylisted && !records)
        return CONS_ERR_GOSSIP_GRAYLISTED;
    switch (msg.kind) {
        case CONS_GOSSIP_PUBLISH:
            rc = s_records_in (self, pi, &msg, now_ms);
            break;
        case CONS_GOSSIP_IHAVE:
            s_on_ihave (self, pi, &msg, now_ms);
            break;
        case CONS_GOSSIP_IWANT:
            s_on_iwant (self, pi, &msg);
            break;
        case CONS_GOSSIP_GRAFT:
            rc = s_on_graft (self, pi, now_ms);
            break;
        case CONS_GOSSIP_PRUNE: {
            p->in_mesh = false;
            uint64_t until = now_ms + (uint64_t)msg.backoff_s * 1000;
            if (until > p->backoff_until)
                p->backoff_until = until;
            break;
        }
        case CONS_GOSSIP_CATCHUP_REQ:
            s_on_catchup_req (self, pi, &msg, now_ms);
            break;
        case CONS_GOSSIP_CATCHUP_RSP:
            if (msg.record_count)
                rc = s_records_in (self, pi, &msg, now_ms);
            if (!s_banned (p, now_ms))
                s_on_catchup_rsp (self, pi, &msg, now_ms);
            break;
    }
    s_flush (self);
    return rc;
}

/* ---- the heartbeat ---------------------------------------------------------- */

static void
s_hb_scores (cons_gossip_t *self, uint64_t now)
{
    const cons_gossip_score_params_t *sp = &self->sp;
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        p->ihave_hb = p->iwant_hb = p->catchup_hb = p->ask_hb = 0;
        p->gray_sampled = false;
        if (p->banned_until && p->banned_until <= now)
            p->banned_until = 0;
        s_decay (&p->c_first, sp->first_decay);
        s_decay (&p->c_invalid, sp->invalid_decay);
        s_decay (&p->c_behaviour, sp->behaviour_decay);
        s_decay (&p->c_flood, sp->flood_decay);
        s_rescore (self, (int)i, now);
    }
}

/* Broken promises, and catch-up by ids for what IHAVE no longer shows. */
static void
s_hb_wanted (cons_gossip_t *self, uint64_t now)
{
    uint64_t gone = (uint64_t)(self->cfg.mcache_gossip + 1) * self->cfg.heartbeat_ms;
    uint64_t retry = (uint64_t)S_RETRY_HB * self->cfg.heartbeat_ms;
    uint8_t want[CONS_GOSSIP_REQ_IDS_MAX * CONS_GOSSIP_ID_LEN];
    size_t n = 0;
    int target = -1;
    for (s_rec_t *r = self->age_head; r; r = r->anext) {
        if (r->state != S_WANTED)
            continue;
        if (r->promiser >= 0 && r->promise_due <= now) {
            /* One blame per peer per heartbeat, however many promises
               broke: a peer killed with IWANTs outstanding breaks them all
               at once, and a crash is not misbehaviour; a peer that never
               answers is still blamed at every heartbeat. */
            s_peer_t *p = &self->peers[r->promiser];
            if (p->present && p->blamed_promise != now) {
                p->blamed_promise = now;
                s_penalise (self, r->promiser, S_P_BEHAVIOUR, CONS_ERR_GOSSIP_PROMISE, 1, now);
            }
            r->promiser = -1;
        }
        if (r->promiser >= 0 || n == CONS_GOSSIP_REQ_IDS_MAX || r->stamp_ms + gone > now ||
            (r->asked_ms && r->asked_ms + retry > now))
            continue;
        if (target < 0) {
            int a = r->advertiser;
            if (a >= 0 && s_usable (self, &self->peers[a], now) &&
                self->peers[a].score >= self->sp.gossip_threshold)
                target = a;
            else {
                size_t m = 0;
                for (size_t i = 0; i < self->peer_count; i++)
                    if (s_usable (self, &self->peers[i], now) &&
                        self->peers[i].score >= self->sp.gossip_threshold)
                        self->scratch[m++] = (int)i;
                if (m == 0)
                    continue;
                target = self->scratch[wd_rand_next (&self->rng) % m];
            }
        }
        r->asked_ms = now;
        memcpy (want + n++ * CONS_GOSSIP_ID_LEN, r->id, CONS_GOSSIP_ID_LEN);
    }
    if (n)
        s_send_ids (self, target, CONS_GOSSIP_CATCHUP_REQ, want, n);
}

static bool
s_graftable (const cons_gossip_t *self, const s_peer_t *p, uint64_t now)
{
    return s_usable (self, p, now) && !p->in_mesh && p->score >= 0 && p->backoff_until <= now;
}

static void
s_hb_mesh (cons_gossip_t *self, uint64_t now)
{
    const cons_gossip_config_t *c = &self->cfg;
    size_t count = 0;
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        if (!p->in_mesh)
            continue;
        if (!s_usable (self, p, now) || p->score < 0) {
            if (s_banned (p, now) || !p->present)
                p->in_mesh = false;
            else
                s_prune (self, (int)i, now);
        } else
            count++;
    }
    size_t m = 0;
    if (self->full_mesh || count < c->d_lo) {
        for (size_t i = 0; i < self->peer_count; i++)
            if (s_graftable (self, &self->peers[i], now))
                self->scratch[m++] = (int)i;
        s_shuffle (self, self->scratch, m);
        size_t add = self->full_mesh ? m : (c->d - count < m ? c->d - count : m);
        for (size_t k = 0; k < add; k++) {
            self->peers[self->scratch[k]].in_mesh = true;
            s_send_simple (self, self->scratch[k], CONS_GOSSIP_GRAFT, 0);
        }
    } else if (count > c->d_hi) {
        for (size_t i = 0; i < self->peer_count; i++)
            if (self->peers[i].in_mesh)
                self->scratch[m++] = (int)i;
        s_shuffle (self, self->scratch, m);
        /* Insertion sort by score, highest first; ties keep the shuffled order. */
        for (size_t i = 1; i < m; i++) {
            int v = self->scratch[i];
            size_t j = i;
            while (j > 0 && self->peers[self->scratch[j - 1]].score < self->peers[v].score) {
                self->scratch[j] = self->scratch[j - 1];
                j--;
            }
            self->scratch[j] = v;
        }
        s_shuffle (self, self->scratch + c->d_score, m - c->d_score);
        for (size_t k = c->d; k < m; k++)
            s_prune (self, self->scratch[k], now);
    }
}

static void
s_hb_ihave (cons_gossip_t *self, uint64_t now)
{
    size_t m = 0;
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->present && !s_banned (p, now) && p->score >= self->sp.gossip_threshold)
            self->scratch[m++] = (int)i;
    }
    size_t targets = m;
    if (!self->full_mesh) {
        targets = self->cfg.d_lazy > m / 4 ? self->cfg.d_lazy : m / 4;
        if (targets > m)
            targets = m;
    }
    s_shuffle (self, self->scratch, m);
    uint8_t *ids = NULL;
    for (size_t k = 0; k < targets; k++) {
        int qi = self->scratch[k];
        const s_peer_t *q = &self->peers[qi];
        size_t n = 0;
        for (s_rec_t *r = self->hist_tail; r && self->hb - r->hb <= self->cfg.mcache_gossip;
             r = r->hprev) {
            if (r->source == qi || memcmp (r->author, q->id, CONS_GOSSIP_NODE_LEN) == 0)
                continue;
            if (!ids) {
                ids = malloc (CONS_GOSSIP_IDS_MAX * CONS_GOSSIP_ID_LEN);
                if (!ids)
                    abort ();
            }
            memcpy (ids + n++ * CONS_GOSSIP_ID_LEN, r->id, CONS_GOSSIP_ID_LEN);
            if (n == CONS_GOSSIP_IDS_MAX)
                break;
        }
        if (n)
            s_send_ids (self, qi, CONS_GOSSIP_IHAVE, ids, n);
    }
    free (ids);
}

static void
s_hb_catchup (cons_gossip_t *self, uint64_t now)
{
    size_t m = 0;
    for (size_t i = 0; i < self->peer_count; i++) {
        s_peer_t *p = &self->peers[i];
        if (p->want_catchup && s_usable (self, p, now))
            self->scratch[m++] = (int)i;
        p->want_catchup = false;
    }
    s_shuffle (self, self->scratch, m);
    cons_gossip_msg_t req;
    memset (&req, 0, sizeof req);
    req.kind = CONS_GOSSIP_CATCHUP_REQ;
    req.ids.stride = CONS_GOSSIP_ID_LEN;
    req.since_ms = self->cfg.history_ms;
    for (size_t k = 0; k < m && k < S_CATCHUP_PEERS; k++) {
        s_send_msg (self, self->scratch[k], &req);
        self->stats.catchup_sent++;
    }
    if (m || !self->cfg.antientropy_hb || self->hb % self->cfg.antientropy_hb)
        return;
    for (size_t i = 0; i < self->peer_count; i++)
        if (s_usable (self, &self->peers[i], now) &&
            self->peers[i].score >= self->sp.gossip_threshold)
            self->scratch[m++] = (int)i;
    if (!m)
        return;
    req.since_ms =
        (uint64_t)(self->cfg.antientropy_hb + self->cfg.mcache_gossip) * self->cfg.heartbeat_ms;
    s_send_msg (self, self->scratch[wd_rand_next (&self->rng) % m], &req);
    self->stats.catchup_sent++;
}

static void
s_hb_expire (cons_gossip_t *self, uint64_t now)
{
    while (self->age_head && self->age_head->stamp_ms + self->cfg.seen_ttl_ms <= now)
        s_rec_remove (self, self->age_head);
    while (self->hist_head && self->hist_head->stamp_ms + self->cfg.history_ms <= now)
        s_hist_drop (self, self->hist_head);
}

void
cons_gossip_tick (cons_gossip_t *self, uint64_t now_ms)
{
    s_enter (self, now_ms);
    s_flush_waiting (self);
    while (self->next_hb_ms <= now_ms) {
        uint64_t now = self->next_hb_ms > self->now_max ? self->next_hb_ms : self->now_max;
        self->next_hb_ms += self->cfg.heartbeat_ms;
        self->hb++;
        s_hb_scores (self, now);
        s_hb_wanted (self, now);
        s_hb_mesh (self, now);
        s_hb_ihave (self, now);
        s_hb_catchup (self, now);
        s_flush (self);
        s_hb_expire (self, now);
    }
}

uint64_t
cons_gossip_next_deadline (const cons_gossip_t *self)
{
    return self->next_hb_ms;
}

/* ---- observation --------------------------------------------------------------- */

static void
s_info (const cons_gossip_t *self, const s_peer_t *p, cons_gossip_peer_info_t *info)
{
    (void)self;
    memset (info, 0, sizeof *info);
    memcpy (info->id, p->id, CONS_GOSSIP_NODE_LEN);
    info->present = p->present;
    info->in_mesh = p->in_mesh;
    info->graylisted = p->graylisted;
    info->banned_until_ms = p->banned_until;
    info->score = p->score;
    info->msgs_in = p->msgs_in;
    info->msgs_out = p->msgs_out;
    info->records_in = p->records_in;
    info->records_out = p->records_out;
    info->invalid = p->invalid;
    info->broken_promises = p->broken;
    info->flooded = p->flooded;
}

size_t
cons_gossip_snapshot (const cons_gossip_t *self, cons_gossip_peer_info_t *peers, size_t max)
{
    size_t n = 0;
    for (int pass = 0; pass < 2; pass++)
        for (size_t i = 0; i < self->peer_count; i++) {
            const s_peer_t *p = &self->peers[i];
            if (p->present != (pass == 0))
                continue;
            if (n < max)
                s_info (self, p, &peers[n]);
            n++;
        }
    return n;
}

void
cons_gossip_stats (const cons_gossip_t *self, cons_gossip_stats_t *stats)
{
    *stats = self->stats;
}

int64_t
cons_gossip_score (const cons_gossip_t *self, const uint8_t peer[CONS_GOSSIP_NODE_LEN])
{
    int pi = s_peer_find (self, peer);
    return pi < 0 ? 0 : self->peers[pi].score;
}

bool
cons_gossip_seen (const cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_ID_LEN])
{
    const s_rec_t *r = s_find (self, id);
    return r && r->state == S_SEEN;
}
