/*
 * cons_agree: the Tendermint state machine. The rules of Algorithm 1 of
 * arXiv 1807.04938 are named by their line numbers there (L22 prevote on a
 * fresh proposal, L28 prevote on a re-proposal with a proof of lock, L34
 * prevote timer, L36 lock and precommit, L44 precommit nil, L47 precommit
 * timer, L49 decide, L55 skip to a round that more than a third of the
 * weight has reached, L57/L61/L65 the three timeouts).
 *
 * Storage, all allocated by cons_agree_new:
 *   - round slots (rounds_kept): per round, every validator's prevote and
 *     precommit with its signature, a tally of weight per block id, the
 *     proposals kept (proposals_per_round) and which one-time rules fired.
 *     Slots exist for rounds up to the current one plus one; a message for
 *     a round further ahead only counts towards L55 (per-validator highest
 *     round seen). Which slot gives way when none is free: s_round_get.
 *   - a block pool (rounds_kept * proposals_per_round + 4 blocks of
 *     block_max bytes), reference-counted and shared by id: the blocks of
 *     kept proposals, the valid value, the candidate and the decided block.
 *
 * After every input the rules are evaluated to a fixed point (s_run): one
 * rule firing can enable another (a vote arriving may decide, which starts
 * the next height, which proposes).
 */
#include "cons_agree.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"

enum { S_PROPOSE = 1, S_PREVOTE = 2, S_PRECOMMIT = 3, S_DECIDED = 4 };

typedef struct {
    bool nil;
    uint8_t id[CONS_BLOCK_ID_LEN];
    uint8_t sig[WD_SIG_LEN];
} s_signed_vote_t;

/* A validator's votes of one kind in one round: the first, and the first
   conflicting one (which proves it equivocated). Later ones are dropped. */
typedef struct {
    bool present;
    bool equivocated;
    s_signed_vote_t first, second;
} s_vote_t;

typedef struct {
    bool nil;
    uint8_t id[CONS_BLOCK_ID_LEN];
    uint64_t weight; /* signers of this value, equivocators included */
    uint64_t equiv;  /* the part of weight from equivocators */
} s_tally_t;

/* The votes of one kind in one round. Two weights per value:
     signed  the validators that signed it (s_tally_signed): what a
             certificate can show, used to decide (L49);
     wild    the validators that signed it plus every proven equivocator
             of this round and step (s_tally_wild), used for the prevote
             quorums (L28, L36, L44).
   Counting a proven equivocator for every value keeps quorum
   intersection: two quorums for different values still share more than a
   third of the weight, so an honest validator that voted twice, which
   honest validators never do. It restores liveness when a byzantine
   validator shows one value to some nodes and another to the rest: a node
   that later hears both can count the one the others locked on. */
typedef struct {
    s_vote_t *votes;  /* by validator index */
    s_tally_t *tally; /* one entry per distinct value, at most 2 * count */
    size_t tally_len;
    uint64_t total; /* weight of all voters, whatever their value */
    uint64_t equiv; /* weight of proven equivocators */
} s_votes_t;

typedef struct {
    uint32_t validator;
    int block; /* pool index */
    int32_t pol_round;
    uint8_t priority[CONS_PRIORITY_LEN];
} s_proposal_t;

typedef struct {
    bool used;
    uint32_t round;
    uint32_t proposer; /* round-robin */
    s_votes_t prevotes, precommits;
    s_proposal_t *proposals;
    size_t n_proposals;
    bool prevote_timer;   /* L34 fired */
    bool precommit_timer; /* L47 fired */
    bool locked_here;     /* L36 fired */
    bool window_closed;   /* VRF filter window over */
    bool window_waits;    /* VRF: it ended empty and opens again with the first proposal */
} s_round_t;

typedef struct {
    int refs;
    int8_t valid; /* -1 unknown, 0, 1: valid at the current height */
    uint8_t id[CONS_BLOCK_ID_LEN];
    size_t len;
    uint8_t *data;
} s_block_t;

typedef struct {
    int64_t round;
    uint64_t weight;
} s_seen_t;

struct cons_agree {
    /* configuration */
    uint8_t chain[WD_CHAIN_ID_LEN];
    cons_agree_params_t params;
    cons_validator_t *vals;
    size_t n;
    uint64_t total;
    uint32_t *by_pk; /* indices sorted by public key */
    uint32_t self;
    cons_agree_valid_fn valid_fn;
    cons_agree_claim_fn claim_fn;
    cons_verify_fn verify_fn;
    void *ctx;
    size_t rounds_kept, per_round;

    /* round-robin priorities at the start of this height, and scratch */
    int64_t *rr_base;
    int64_t *rr_tmp;

    /* the height */
    uint64_t height;
    uint32_t round;
    int step;
    int32_t lock_round;
    uint8_t lock_id[CONS_BLOCK_ID_LEN];
    int32_t valid_round;
    int valid_block;
    int candidate;
    uint64_t candidate_height;
    int64_t propose_pending; /* round waiting for a candidate, or -1 */
    int32_t signed_round;
    uint8_t signed_step;
    bool signed_nil;
    uint8_t signed_id[CONS_BLOCK_ID_LEN];
    int32_t signed_pol;
    bool restored;

    /* decision */
    uint32_t decided_round;
    int decided_block;
    cons_cert_sig_t *cert; /* count entries */
    size_t cert_len;

    /* storage */
    s_round_t *rounds;
    int64_t *seen;   /* highest round seen per validator, -1 none (L55) */
    bool seen_dirty; /* a validator was seen above the current round */
    s_seen_t *seen_scratch;
    s_block_t *blocks;
    size_t n_blocks;
    uint8_t *arena;

    cons_agree_outputs_t *out;
};

/* ---- small helpers ------------------------------------------------------- */

static cons_agree_output_t *
s_out (cons_agree_t *self, cons_agree_out_kind_t kind)
{
    assert (self->out && self->out->count < CONS_AGREE_OUT_MAX);
    cons_agree_output_t *o = &self->out->items[self->out->count++];
    memset (o, 0, sizeof *o);
    o->kind = kind;
    return o;
}

uint32_t
cons_agree_timeout (const cons_agree_params_t *params, cons_timer_t timer, uint32_t round)
{
    uint64_t base = 0, delta = 0;
    switch (timer) {
        case CONS_TIMER_PROPOSE:
            base = params->propose_ms, delta = params->propose_delta_ms;
            break;
        case CONS_TIMER_PREVOTE:
            base = params->prevote_ms, delta = params->prevote_delta_ms;
            break;
        case CONS_TIMER_PRECOMMIT:
            base = params->precommit_ms, delta = params->precommit_delta_ms;
            break;
        case CONS_TIMER_COMMIT:
            base = params->commit_ms;
            break;
        case CONS_TIMER_FILTER:
            base = params->filter_ms;
            break;
    }
    uint64_t ms = base + delta * round;
    return ms > params->timeout_max_ms ? params->timeout_max_ms : (uint32_t)ms;
}

static void
s_timer (cons_agree_t *self, cons_timer_t timer, uint32_t round)
{
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_TIMER);
    o->timer.timer = timer;
    o->timer.height = self->height;
    o->timer.round = round;
    o->timer.ms = cons_agree_timeout (&self->params, timer, round);
}

static int
s_pk_cmp (cons_agree_t *self, uint32_t index, const uint8_t *pk)
{
    return memcmp (self->vals[index].pk, pk, WD_PUBKEY_LEN);
}

/* The validator index of a public key, or -1. */
static int64_t
s_lookup (cons_agree_t *self, const uint8_t pk[WD_PUBKEY_LEN])
{
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = s_pk_cmp (self, self->by_pk[mid], pk);
        if (c == 0)
            return self->by_pk[mid];
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return -1;
}

/* ---- round-robin proposer -------------------------------------------------- */

/* One pick of the proposer-priority algorithm: returns the chosen index. */
static uint32_t
s_rr_pick (const cons_validator_t *vals, size_t n, uint64_t total, int64_t *prio)
{
    uint32_t best = 0;
    for (size_t i = 0; i < n; i++) {
        prio[i] += (int64_t)vals[i].weight;
        if (prio[i] > prio[best])
            best = (uint32_t)i;
    }
    prio[best] -= (int64_t)total;
    return best;
}

uint32_t
cons_agree_round_robin (const cons_validator_t *vals, size_t n, uint64_t height, uint32_t round)
{
    assert (height >= 1 && n >= 1);
    uint64_t total = cons_validators_total (vals, n);
    int64_t *prio = calloc (n, sizeof *prio);
    assert (prio);
    /* After `total` picks every validator has been picked `weight` times
       and the priorities are back at zero: the sequence has period total. */
    uint64_t picks = (height - 1 + round) % total;
    for (uint64_t k = 0; k < picks; k++)
        s_rr_pick (vals, n, total, prio);
    uint32_t who = s_rr_pick (vals, n, total, prio);
    free (prio);
    return who;
}

static uint32_t
s_rr_proposer (cons_agree_t *self, uint32_t round)
{
    memcpy (self->rr_tmp, self->rr_base, self->n * sizeof *self->rr_tmp);
    uint64_t picks = round % self->total;
    for (uint64_t k = 0; k < picks; k++)
        s_rr_pick (self->vals, self->n, self->total, self->rr_tmp);
    return s_rr_pick (self->vals, self->n, self->total, self->rr_tmp);
}

/* ---- block pool ------------------------------------------------------------ */

static void
s_block_release (cons_agree_t *self, int *index)
{
    if (*index >= 0) {
        s_block_t *b = &self->blocks[*index];
        assert (b->refs > 0);
        b->refs--;
        *index = -1;
    }
}

static int
s_block_ref (cons_agree_t *self, int index)
{
    if (index >= 0)
        self->blocks[index].refs++;
    return index;
}

/* Finds or stores a block and takes a reference to it. -1 when the pool is
   full. */
static int
s_block_store (cons_agree_t *self, const uint8_t id[CONS_BLOCK_ID_LEN], const uint8_t *data,
               size_t len)
{
    int free_slot = -1;
    for (size_t i = 0; i < self->n_blocks; i++) {
        s_block_t *b = &self->blocks[i];
        if (b->refs > 0 && memcmp (b->id, id, CONS_BLOCK_ID_LEN) == 0)
            return s_block_ref (self, (int)i);
        if (b->refs == 0 && free_slot < 0)
            free_slot = (int)i;
    }
    if (free_slot < 0)
        return -1;
    s_block_t *b = &self->blocks[free_slot];
    assert (len <= self->params.block_max);
    memcpy (b->id, id, CONS_BLOCK_ID_LEN);
    memcpy (b->data, data, len);
    b->len = len;
    b->valid = -1;
    b->refs = 1;
    return free_slot;
}

static bool
s_block_valid (cons_agree_t *self, int index)
{
    s_block_t *b = &self->blocks[index];
    if (b->valid < 0)
        b->valid = self->valid_fn (self->ctx, self->height, b->data, b->len) ? 1 : 0;
    return b->valid == 1;
}

/* ---- round slots ----------------------------------------------------------- */

static void
s_votes_clear (cons_agree_t *self, s_votes_t *v)
{
    memset (v->votes, 0, self->n * sizeof *v->votes);
    v->tally_len = 0;
    v->total = 0;
    v->equiv = 0;
}

static void
s_round_free (cons_agree_t *self, s_round_t *slot)
{
    for (size_t i = 0; i < slot->n_proposals; i++)
        s_block_release (self, &slot->proposals[i].block);
    slot->n_proposals = 0;
    slot->used = false;
}

static void
s_round_init (cons_agree_t *self, s_round_t *slot, uint32_t round)
{
    s_votes_clear (self, &slot->prevotes);
    s_votes_clear (self, &slot->precommits);
    slot->n_proposals = 0;
    slot->used = true;
    slot->round = round;
    slot->prevote_timer = slot->precommit_timer = false;
    slot->locked_here = slot->window_closed = slot->window_waits = false;
    slot->proposer =
        self->params.proposer_mode == CONS_PROPOSER_ROUND_ROBIN ? s_rr_proposer (self, round) : 0;
}

static s_round_t *
s_round_find (cons_agree_t *self, uint32_t round)
{
    for (size_t i = 0; i < self->rounds_kept; i++)
        if (self->rounds[i].used && self->rounds[i].round == round)
            return &self->rounds[i];
    return NULL;
}

static bool
s_round_important (cons_agree_t *self, const s_round_t *slot);

/* The slot of a round, allocated if needed (rounds up to the current one
   plus one). NULL when the round is too old to be given a slot.

   Which slot gives way: a free one; else the lowest past round that is not
   important (s_round_important), even one above the round asked for, so
   that prevotes of an old round that proved a lock can still arrive late
   and be counted (without them, nodes that missed that proof could never
   accept the locked nodes' re-proposal); else the lowest important past
   round, if it is below the round asked for. The current round and the
   next are never evicted. */
static s_round_t *
s_round_get (cons_agree_t *self, uint32_t round)
{
    s_round_t *slot = s_round_find (self, round);
    if (slot)
        return slot;
    assert ((uint64_t)round <= (uint64_t)self->round + 1);
    s_round_t *victim = NULL, *plain = NULL;
    for (size_t i = 0; i < self->rounds_kept && !victim; i++) {
        s_round_t *s = &self->rounds[i];
        if (!s->used)
            victim = s;
        else if (s->round >= self->round)
            continue;
        else if (!s_round_important (self, s)) {
            if (!plain || s->round < plain->round)
                plain = s;
        }
    }
    if (!victim)
        victim = plain;
    for (size_t i = 0; i < self->rounds_kept && !victim; i++) {
        s_round_t *s = &self->rounds[i];
        if (s->round < round && s->round < self->round && (!victim || s->round < victim->round))
            victim = s;
    }
    if (!victim)
        return NULL;
    if (victim->used)
        s_round_free (self, victim);
    s_round_init (self, victim, round);
    return victim;
}

static bool
s_same (bool nil_a, const uint8_t *a, bool nil_b, const uint8_t *b)
{
    return nil_a == nil_b && (nil_a || memcmp (a, b, CONS_BLOCK_ID_LEN) == 0);
}

static s_tally_t *
s_tally_find (const s_votes_t *v, bool nil, const uint8_t *id)
{
    for (size_t i = 0; i < v->tally_len; i++)
        if (s_same (v->tally[i].nil, v->tally[i].id, nil, id))
            return &v->tally[i];
    return NULL;
}

static uint64_t
s_tally_signed (const s_votes_t *v, bool nil, const uint8_t *id)
{
    const s_tally_t *t = s_tally_find (v, nil, id);
    return t ? t->weight : 0;
}

static uint64_t
s_tally_wild (const s_votes_t *v, bool nil, const uint8_t *id)
{
    const s_tally_t *t = s_tally_find (v, nil, id);
    return (t ? t->weight - t->equiv : 0) + v->equiv;
}

/* Adds weight (of which equiv from an equivocator) to a value. */
static void
s_tally_add (cons_agree_t *self, s_votes_t *v, bool nil, const uint8_t *id, uint64_t weight,
             uint64_t equiv)
{
    s_tally_t *t = s_tally_find (v, nil, id);
    if (!t) {
        /* A first vote per validator and a second per equivocator: at most
           2n distinct values. */
        assert (v->tally_len < 2 * self->n);
        t = &v->tally[v->tally_len++];
        t->nil = nil;
        memcpy (t->id, id, CONS_BLOCK_ID_LEN);
        t->weight = t->equiv = 0;
    }
    t->weight += weight;
    t->equiv += equiv;
}

static bool
s_quorum (cons_agree_t *self, uint64_t weight)
{
    return cons_weight_quorum (weight, self->total);
}

/* A round worth keeping: this node's lock or valid round, or a round with
   a quorum of prevotes (a proof of lock) or of precommits for a block. */
static bool
s_round_important (cons_agree_t *self, const s_round_t *slot)
{
    if ((int64_t)slot->round == self->lock_round || (int64_t)slot->round == self->valid_round)
        return true;
    for (size_t i = 0; i < slot->prevotes.tally_len; i++) {
        const s_tally_t *t = &slot->prevotes.tally[i];
        if (!t->nil && s_quorum (self, s_tally_wild (&slot->prevotes, false, t->id)))
            return true;
    }
    for (size_t i = 0; i < slot->precommits.tally_len; i++) {
        const s_tally_t *t = &slot->precommits.tally[i];
        if (!t->nil && s_quorum (self, t->weight))
            return true;
    }
    return false;
}

/* ---- own messages ---------------------------------------------------------- */

static void
s_fill_saved (cons_agree_t *self, cons_agree_saved_t *s)
{
    s->height = self->height;
    s->signed_round = self->signed_round;
    s->signed_step = self->signed_step;
    s->signed_nil = self->signed_nil;
    memcpy (s->signed_block, self->signed_id, CONS_BLOCK_ID_LEN);
    s->signed_pol = self->signed_pol;
    s->lock_round = self->lock_round;
    memcpy (s->lock_block, self->lock_id, CONS_BLOCK_ID_LEN);
    s->valid_round = self->valid_round;
    if (self->valid_block >= 0) {
        s->valid_block = self->blocks[self->valid_block].data;
        s->valid_len = self->blocks[self->valid_block].len;
    }
}

static void
s_persist (cons_agree_t *self)
{
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_PERSIST);
    s_fill_saved (self, &o->saved);
}

/* Compares (round, step) with the last signed message: <0, 0, >0. */
static int
s_signed_cmp (cons_agree_t *self, uint32_t round, uint8_t step)
{
    if (self->signed_round < 0 || (int64_t)round > self->signed_round)
        return 1;
    if ((int64_t)round < self->signed_round)
        return -1;
    return (int)step - (int)self->signed_step;
}

/* Asks for a prevote or precommit in the current round. The double-sign
   guard: never at an earlier (round, step) than already signed, and at the
   same one only the value already signed. */
static void
s_vote (cons_agree_t *self, cons_kind_t kind, bool nil, const uint8_t *id)
{
    if (self->self == CONS_AGREE_OBSERVER)
        return;
    int c = s_signed_cmp (self, self->round, (uint8_t)kind);
    if (c < 0)
        return;
    if (c == 0) {
        nil = self->signed_nil;
        id = self->signed_id;
    } else {
        self->signed_round = (int32_t)self->round;
        self->signed_step = (uint8_t)kind;
        self->signed_nil = nil;
        if (nil)
            memset (self->signed_id, 0, CONS_BLOCK_ID_LEN);
        else
            memcpy (self->signed_id, id, CONS_BLOCK_ID_LEN);
        self->signed_pol = -1;
        s_persist (self);
    }
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_VOTE);
    o->msg.kind = kind;
    o->msg.height = self->height;
    o->msg.round = self->round;
    o->msg.nil = nil;
    if (!nil)
        memcpy (o->msg.block_id, id, CONS_BLOCK_ID_LEN);
    o->msg.pol_round = -1;
}

/* Asks for this node's proposal in the current round: the valid value if
   there is one (with its round as pol_round), else the candidate. */
static void
s_propose (cons_agree_t *self)
{
    if (self->self == CONS_AGREE_OBSERVER)
        return;
    if (s_signed_cmp (self, self->round, CONS_PROPOSAL) <= 0)
        return;
    int block;
    int32_t pol;
    if (self->valid_block >= 0) {
        block = self->valid_block;
        pol = self->valid_round;
    } else if (self->candidate >= 0 && self->candidate_height == self->height) {
        block = self->candidate;
        pol = -1;
    } else {
        self->propose_pending = self->round;
        return;
    }
    self->propose_pending = -1;
    const s_block_t *b = &self->blocks[block];
    self->signed_round = (int32_t)self->round;
    self->signed_step = CONS_PROPOSAL;
    self->signed_nil = false;
    memcpy (self->signed_id, b->id, CONS_BLOCK_ID_LEN);
    self->signed_pol = pol;
    s_persist (self);
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_PROPOSE);
    o->msg.kind = CONS_PROPOSAL;
    o->msg.height = self->height;
    o->msg.round = self->round;
    memcpy (o->msg.block_id, b->id, CONS_BLOCK_ID_LEN);
    o->msg.pol_round = pol;
    o->msg.block = b->data;
    o->msg.block_len = b->len;
}

/* ---- rounds and heights ---------------------------------------------------- */

static void
s_start_round (cons_agree_t *self, uint32_t round)
{
    self->round = round;
    self->step = S_PROPOSE;
    self->propose_pending = -1;
    s_round_t *slot = s_round_get (self, round);
    assert (slot); /* a round above every kept one can always evict */
    if (self->params.proposer_mode == CONS_PROPOSER_VRF) {
        s_propose (self);
        s_timer (self, CONS_TIMER_FILTER, round);
    } else if (slot->proposer == self->self) {
        s_propose (self);
    }
    /* Also on the proposer: if its own proposal never comes back signed,
       it must still move on. */
    s_timer (self, CONS_TIMER_PROPOSE, round);
}

static void
s_reset_height (cons_agree_t *self)
{
    for (size_t i = 0; i < self->rounds_kept; i++)
        if (self->rounds[i].used)
            s_round_free (self, &self->rounds[i]);
    s_block_release (self, &self->valid_block);
    /* Released blocks keep their bytes until the next step: a step stores
       at most one block, and always before the rules run, so the pointers
       in this step's outputs stay good. */
    s_block_release (self, &self->decided_block);
    if (self->candidate >= 0 && self->candidate_height != self->height)
        s_block_release (self, &self->candidate);
    for (size_t i = 0; i < self->n_blocks; i++)
        self->blocks[i].valid = -1;
    for (size_t i = 0; i < self->n; i++)
        self->seen[i] = -1;
    self->seen_dirty = false;
    self->round = 0;
    self->step = S_PROPOSE;
    self->lock_round = -1;
    memset (self->lock_id, 0, CONS_BLOCK_ID_LEN);
    self->valid_round = -1;
    self->signed_round = -1;
    self->signed_step = 0;
    self->signed_nil = false;
    memset (self->signed_id, 0, CONS_BLOCK_ID_LEN);
    self->signed_pol = -1;
    self->propose_pending = -1;
    self->cert_len = 0;
}

static void
s_new_height (cons_agree_t *self)
{
    self->height++;
    s_rr_pick (self->vals, self->n, self->total, self->rr_base);
    s_reset_height (self);
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_NEW_HEIGHT);
    o->height = self->height;
    s_start_round (self, 0);
}

/* L49 and catch-up: output the decision, then wait for the remaining
   precommits unless they are all in (or the decision came from a
   certificate, which means this node is behind). */
static void
s_decide (cons_agree_t *self, uint32_t round, int block, bool wait)
{
    self->step = S_DECIDED;
    self->decided_round = round;
    self->decided_block = s_block_ref (self, block);
    const s_block_t *b = &self->blocks[block];
    cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_COMMIT);
    o->commit.height = self->height;
    o->commit.round = round;
    o->commit.block = b->data;
    o->commit.block_len = b->len;
    o->commit.cert.height = self->height;
    o->commit.cert.round = round;
    memcpy (o->commit.cert.block_id, b->id, CONS_BLOCK_ID_LEN);
    o->commit.cert.sigs = self->cert;
    o->commit.cert.count = self->cert_len;
    s_round_t *slot = s_round_find (self, round);
    if (!wait || (slot && slot->precommits.total == self->total))
        s_new_height (self);
    else
        s_timer (self, CONS_TIMER_COMMIT, round);
}

/* Builds the certificate from a round's precommits for a block. */
static void
s_collect_cert (cons_agree_t *self, const s_round_t *slot, const uint8_t *id)
{
    self->cert_len = 0;
    for (uint32_t i = 0; i < self->n; i++) {
        const s_vote_t *v = &slot->precommits.votes[i];
        const s_signed_vote_t *sv = NULL;
        if (v->present && s_same (v->first.nil, v->first.id, false, id))
            sv = &v->first;
        else if (v->equivocated && s_same (v->second.nil, v->second.id, false, id))
            sv = &v->second;
        if (sv) {
            self->cert[self->cert_len].index = i;
            memcpy (self->cert[self->cert_len].sig, sv->sig, WD_SIG_LEN);
            self->cert_len++;
        }
    }
}

/* ---- the rules --------------------------------------------------------------- */

/* L49 for one kept round: a kept, valid proposal whose block has precommits
   of more than 2/3 of the weight. */
static bool
s_try_decide (cons_agree_t *self, s_round_t *slot)
{
    for (size_t i = 0; i < slot->n_proposals; i++) {
        const s_proposal_t *p = &slot->proposals[i];
        const s_block_t *b = &self->blocks[p->block];
        if (s_quorum (self, s_tally_signed (&slot->precommits, false, b->id)) &&
            s_block_valid (self, p->block)) {
            s_collect_cert (self, slot, b->id);
            s_decide (self, slot->round, p->block, true);
            return true;
        }
    }
    return false;
}

/* L55: the highest round r above the current one such that validators with
   more than a third of the weight have sent a message for a round >= r. */
static bool
s_try_skip (cons_agree_t *self)
{
    if (!self->seen_dirty)
        return false;
    self->seen_dirty = false;
    /* Insertion sort, highest round first: no library sort, which may
       allocate. Usually only a few validators are ahead. */
    size_t k = 0;
    for (size_t i = 0; i < self->n; i++) {
        if (self->seen[i] <= (int64_t)self->round)
            continue;
        s_seen_t e = { .round = self->seen[i], .weight = self->vals[i].weight };
        size_t j = k++;
        while (j > 0 && self->seen_scratch[j - 1].round < e.round) {
            self->seen_scratch[j] = self->seen_scratch[j - 1];
            j--;
        }
        self->seen_scratch[j] = e;
    }
    uint64_t weight = 0;
    for (size_t i = 0; i < k; i++) {
        weight += self->seen_scratch[i].weight;
        if (cons_weight_one_third (weight, self->total)) {
            s_start_round (self, (uint32_t)self->seen_scratch[i].round);
            return true;
        }
    }
    return false;
}

/* The proposal this node acts on in the current round (L22, L28): in
   round-robin mode the first one kept (all come from the round's
   proposer); in VRF mode, once the filter window is over, the lowest
   priority kept. NULL when there is none yet. */
static const s_proposal_t *
s_chosen (cons_agree_t *self, const s_round_t *slot)
{
    if (slot->n_proposals == 0)
        return NULL;
    if (self->params.proposer_mode == CONS_PROPOSER_ROUND_ROBIN)
        return &slot->proposals[0];
    if (!slot->window_closed)
        return NULL;
    const s_proposal_t *best = &slot->proposals[0];
    for (size_t i = 1; i < slot->n_proposals; i++) {
        const s_proposal_t *p = &slot->proposals[i];
        int c = memcmp (p->priority, best->priority, CONS_PRIORITY_LEN);
        if (c < 0 || (c == 0 && p->validator < best->validator))
            best = p;
    }
    return best;
}

/* L22 and L28: the prevote on the chosen proposal. Returns whether this
   node prevoted. */
static bool
s_try_prevote (cons_agree_t *self, s_round_t *slot)
{
    const s_proposal_t *p = s_chosen (self, slot);
    if (!p)
        return false;
    const s_block_t *b = &self->blocks[p->block];
    bool lock_ok;
    if (p->pol_round < 0) {
        /* L22 */
        lock_ok = self->lock_round < 0 || memcmp (self->lock_id, b->id, CONS_BLOCK_ID_LEN) == 0;
    } else {
        /* L28: only with a proof of lock from the earlier round */
        const s_round_t *pol = s_round_find (self, (uint32_t)p->pol_round);
        if (!pol || !s_quorum (self, s_tally_wild (&pol->prevotes, false, b->id)))
            return false;
        lock_ok = self->lock_round <= p->pol_round ||
                  memcmp (self->lock_id, b->id, CONS_BLOCK_ID_LEN) == 0;
    }
#ifdef CONS_AGREE_BROKEN_NO_LOCK
    /* The deliberately broken variant (tests/sim, sim.broken_is_caught):
       the lock rule is ignored, so a node that locked on a block prevotes
       for another one in a later round. */
    lock_ok = true;
#endif
    self->step = S_PREVOTE;
    if (s_block_valid (self, p->block) && lock_ok)
        s_vote (self, CONS_PREVOTE, false, b->id);
    else
        s_vote (self, CONS_PREVOTE, true, NULL);
    return true;
}

/* L36: a valid proposal of the current round with prevotes of more than
   2/3 for its block: lock on it and precommit it (step prevote), or only
   remember it as the valid value (step precommit). Once per round. */
static bool
s_try_lock (cons_agree_t *self, s_round_t *slot)
{
    if (slot->locked_here || self->step < S_PREVOTE)
        return false;
    for (size_t i = 0; i < slot->n_proposals; i++) {
        const s_proposal_t *p = &slot->proposals[i];
        const s_block_t *b = &self->blocks[p->block];
        if (!s_quorum (self, s_tally_wild (&slot->prevotes, false, b->id)) ||
            !s_block_valid (self, p->block))
            continue;
        slot->locked_here = true;
        s_block_release (self, &self->valid_block);
        self->valid_block = s_block_ref (self, p->block);
        self->valid_round = (int32_t)self->round;
        if (self->step == S_PREVOTE) {
            self->lock_round = (int32_t)self->round;
            memcpy (self->lock_id, b->id, CONS_BLOCK_ID_LEN);
            self->step = S_PRECOMMIT;
            s_vote (self, CONS_PRECOMMIT, false, b->id); /* persists lock and valid too */
        } else if (self->self != CONS_AGREE_OBSERVER) {
            s_persist (self);
        }
        return true;
    }
    return false;
}

/* Evaluates every rule until none fires. */
static void
s_run (cons_agree_t *self)
{
    bool fired = true;
    while (fired && self->step != S_DECIDED) {
        fired = false;
        for (size_t i = 0; i < self->rounds_kept; i++)
            if (self->rounds[i].used && s_try_decide (self, &self->rounds[i])) {
                fired = true;
                break;
            }
        if (fired)
            continue; /* a new height, or the commit wait */
        if (s_try_skip (self)) {
            fired = true;
            continue;
        }
        s_round_t *slot = s_round_find (self, self->round);
        assert (slot);
        if (self->step == S_PROPOSE && s_try_prevote (self, slot))
            fired = true;
        if (self->step == S_PREVOTE && !slot->prevote_timer &&
            s_quorum (self, slot->prevotes.total)) {
            /* L34 */
            slot->prevote_timer = true;
            s_timer (self, CONS_TIMER_PREVOTE, self->round);
        }
        if (s_try_lock (self, slot))
            fired = true;
        if (self->step == S_PREVOTE &&
            s_quorum (self, s_tally_wild (&slot->prevotes, true, NULL))) {
            /* L44 */
            self->step = S_PRECOMMIT;
            s_vote (self, CONS_PRECOMMIT, true, NULL);
            fired = true;
        }
        if (!slot->precommit_timer && s_quorum (self, slot->precommits.total)) {
            /* L47 */
            slot->precommit_timer = true;
            s_timer (self, CONS_TIMER_PRECOMMIT, self->round);
        }
    }
}

/* ---- inputs ------------------------------------------------------------------ */

static void
s_note_round (cons_agree_t *self, uint32_t validator, uint32_t round)
{
    if ((int64_t)round > self->seen[validator]) {
        self->seen[validator] = round;
        if (round > self->round)
            self->seen_dirty = true;
    }
}

static int
s_on_vote (cons_agree_t *self, const wd_envelope_t *env, const cons_msg_t *msg, uint32_t who,
           s_round_t *slot)
{
    s_votes_t *votes = msg->kind == CONS_PREVOTE ? &slot->prevotes : &slot->precommits;
    s_vote_t *v = &votes->votes[who];
    uint64_t weight = self->vals[who].weight;
    if (v->present &&
        (s_same (v->first.nil, v->first.id, msg->nil, msg->block_id) ||
         (v->equivocated && s_same (v->second.nil, v->second.id, msg->nil, msg->block_id))))
        return CONS_ERR_DUPLICATE;
    int err = cons_msg_verify (env, self->verify_fn, self->ctx);
    if (err != WD_OK)
        return err;
    s_signed_vote_t sv = { .nil = msg->nil };
    memcpy (sv.id, msg->block_id, CONS_BLOCK_ID_LEN);
    memcpy (sv.sig, env->sig, WD_SIG_LEN);
    if (v->present) {
        if (v->equivocated)
            return CONS_ERR_EQUIVOCATION; /* a third value: proven already */
        v->equivocated = true;
        v->second = sv;
        /* From now on the validator counts for every value (s_votes_t). */
        s_tally_add (self, votes, v->first.nil, v->first.id, 0, weight);
        s_tally_add (self, votes, sv.nil, sv.id, weight, weight);
        votes->equiv += weight;
        cons_agree_output_t *o = s_out (self, CONS_AGREE_OUT_EVIDENCE);
        cons_evidence_t *ev = &o->evidence;
        ev->kind = msg->kind;
        ev->height = msg->height;
        ev->round = msg->round;
        memcpy (ev->validator, env->from, WD_PUBKEY_LEN);
        ev->nil_a = v->first.nil;
        memcpy (ev->block_a, v->first.id, CONS_BLOCK_ID_LEN);
        memcpy (ev->sig_a, v->first.sig, WD_SIG_LEN);
        ev->nil_b = sv.nil;
        memcpy (ev->block_b, sv.id, CONS_BLOCK_ID_LEN);
        memcpy (ev->sig_b, sv.sig, WD_SIG_LEN);
        cons_evidence_normalise (ev);
        if (self->step != S_DECIDED)
            s_run (self);
        return CONS_ERR_EQUIVOCATION;
    }
    v->present = true;
    v->first = sv;
    votes->total += weight;
    s_tally_add (self, votes, msg->nil, msg->block_id, weight, 0);
    s_note_round (self, who, msg->round);
    if (self->step == S_DECIDED) {
        /* The commit wait ends early once every precommit is in. */
        if (msg->kind == CONS_PRECOMMIT && msg->round == self->decided_round &&
            votes->total == self->total)
            s_new_height (self);
        return WD_OK;
    }
    s_run (self);
    return WD_OK;
}

/* Keeps a proposal in its round's slot: round-robin keeps the first ones
   up to the limit; VRF mode replaces the worst priority with a better one
   (never the one already acted on, which in the current round is the
   chosen one of a closed window). */
static int
s_keep_proposal (cons_agree_t *self, s_round_t *slot, const s_proposal_t *p)
{
    if (slot->n_proposals < self->per_round) {
        slot->proposals[slot->n_proposals++] = *p;
        return WD_OK;
    }
    if (self->params.proposer_mode == CONS_PROPOSER_ROUND_ROBIN)
        return CONS_ERR_NO_SPACE;
    const s_proposal_t *keep =
        slot->round == self->round && self->step > S_PROPOSE ? s_chosen (self, slot) : NULL;
    s_proposal_t *worst = NULL;
    for (size_t i = 0; i < slot->n_proposals; i++) {
        s_proposal_t *q = &slot->proposals[i];
        if (q == keep)
            continue;
        if (!worst || memcmp (q->priority, worst->priority, CONS_PRIORITY_LEN) > 0)
            worst = q;
    }
    if (!worst || memcmp (p->priority, worst->priority, CONS_PRIORITY_LEN) >= 0)
        return CONS_ERR_NO_SPACE;
    s_block_release (self, &worst->block);
    *worst = *p;
    return WD_OK;
}

static int
s_on_proposal (cons_agree_t *self, const wd_envelope_t *env, const cons_msg_t *msg, uint32_t who,
               s_round_t *slot)
{
    if (self->step == S_DECIDED)
        return CONS_ERR_STALE;
    bool vrf = self->params.proposer_mode == CONS_PROPOSER_VRF;
    if (!vrf && who != slot->proposer)
        return CONS_ERR_NOT_PROPOSER;
    if (vrf != (msg->claim_len > 0))
        return CONS_ERR_CLAIM;
    for (size_t i = 0; i < slot->n_proposals; i++) {
        const s_proposal_t *q = &slot->proposals[i];
        if (q->validator == who &&
            memcmp (self->blocks[q->block].id, msg->block_id, CONS_BLOCK_ID_LEN) == 0)
            return CONS_ERR_DUPLICATE;
    }
    int err = cons_msg_verify (env, self->verify_fn, self->ctx);
    if (err != WD_OK)
        return err;
    s_proposal_t p = { .validator = who, .pol_round = msg->pol_round };
    if (vrf) {
        int rc = self->claim_fn (self->ctx, msg->height, msg->round, who, msg->claim,
                                 msg->claim_len, p.priority);
        if (rc != 0)
            return rc;
    }
    p.block = s_block_store (self, msg->block_id, msg->block, msg->block_len);
    if (p.block < 0)
        return CONS_ERR_NO_SPACE;
    int rc = s_keep_proposal (self, slot, &p);
    if (rc != WD_OK) {
        s_block_release (self, &p.block);
        return rc;
    }
    s_note_round (self, who, msg->round);
    if (slot->window_waits && slot->round == self->round) {
        /* the first proposal after an empty window: the others selected
           usually follow within the window, so wait for them too */
        slot->window_waits = false;
        s_timer (self, CONS_TIMER_FILTER, slot->round);
    }
    bool valid = s_block_valid (self, p.block);
    s_run (self);
    return valid ? WD_OK : CONS_ERR_INVALID_BLOCK;
}

static int
s_on_message (cons_agree_t *self, const uint8_t *buf, size_t len)
{
    wd_envelope_t env;
    cons_msg_t msg;
    int err = cons_msg_decode (buf, len, self->chain, self->params.block_max, &env, &msg);
    if (err != WD_OK)
        return err;
    int64_t who = s_lookup (self, env.from);
    if (who < 0)
        return CONS_ERR_UNKNOWN_VALIDATOR;
    if (msg.height < self->height)
        return CONS_ERR_OLD_HEIGHT;
    if (msg.height > self->height)
        return CONS_ERR_FUTURE_HEIGHT;
    if ((uint64_t)msg.round > (uint64_t)self->round + 1) {
        if (self->step == S_DECIDED)
            return CONS_ERR_STALE; /* nothing to skip to: the height is decided */
        err = cons_msg_verify (&env, self->verify_fn, self->ctx);
        if (err != WD_OK)
            return err;
        s_note_round (self, (uint32_t)who, msg.round);
        s_run (self);
        return CONS_ERR_FUTURE_ROUND;
    }
    s_round_t *slot = s_round_get (self, msg.round);
    if (!slot)
        return CONS_ERR_OLD_ROUND;
    if (msg.kind == CONS_PROPOSAL)
        return s_on_proposal (self, &env, &msg, (uint32_t)who, slot);
    return s_on_vote (self, &env, &msg, (uint32_t)who, slot);
}

static int
s_on_timeout (cons_agree_t *self, const cons_agree_input_t *in)
{
    if (in->height != self->height)
        return CONS_ERR_STALE;
    if (in->timer == CONS_TIMER_COMMIT) {
        if (self->step != S_DECIDED)
            return CONS_ERR_STALE;
        s_new_height (self);
        return WD_OK;
    }
    if (in->round != self->round || self->step == S_DECIDED)
        return CONS_ERR_STALE;
    switch (in->timer) {
        case CONS_TIMER_FILTER: {
            s_round_t *slot = s_round_find (self, self->round);
            if (!slot || slot->window_closed)
                return CONS_ERR_STALE;
            if (slot->n_proposals == 0) {
                slot->window_waits = true;
                return WD_OK;
            }
            slot->window_closed = true;
            break;
        }
        case CONS_TIMER_PROPOSE:
            /* L57 */
            if (self->step != S_PROPOSE)
                return CONS_ERR_STALE;
            self->step = S_PREVOTE;
            s_vote (self, CONS_PREVOTE, true, NULL);
            break;
        case CONS_TIMER_PREVOTE:
            /* L61 */
            if (self->step != S_PREVOTE)
                return CONS_ERR_STALE;
            self->step = S_PRECOMMIT;
            s_vote (self, CONS_PRECOMMIT, true, NULL);
            break;
        case CONS_TIMER_PRECOMMIT:
            /* L65 */
            if (self->round >= CONS_ROUND_MAX)
                return CONS_ERR_STALE;
            s_start_round (self, self->round + 1);
            break;
        default:
            return CONS_ERR_STALE;
    }
    s_run (self);
    return WD_OK;
}

static int
s_on_candidate (cons_agree_t *self, const cons_agree_input_t *in)
{
    bool now = in->height == self->height && self->step != S_DECIDED;
    bool next = in->height == self->height + 1 && self->step == S_DECIDED;
    if (!now && !next)
        return CONS_ERR_STALE;
    if (in->len > self->params.block_max)
        return WD_ERR_OVERSIZE;
    uint8_t id[CONS_BLOCK_ID_LEN];
    crypto_hash_sha256 (id, in->data, in->len);
    s_block_release (self, &self->candidate);
    self->candidate = s_block_store (self, id, in->data, in->len);
    if (self->candidate < 0)
        return CONS_ERR_NO_SPACE;
    self->candidate_height = in->height;
    if (now && self->step == S_PROPOSE && self->propose_pending == (int64_t)self->round) {
        s_propose (self);
        s_run (self);
    }
    return WD_OK;
}

static int
s_on_commit (cons_agree_t *self, const cons_agree_input_t *in)
{
    cons_cert_t cert;
    int err = cons_cert_decode (in->cert, in->cert_len, &cert, self->cert, self->n);
    if (err != WD_OK)
        return err;
    if (cert.height < self->height)
        return CONS_ERR_OLD_HEIGHT;
    if (cert.height > self->height)
        return CONS_ERR_FUTURE_HEIGHT;
    if (self->step == S_DECIDED)
        return CONS_ERR_STALE;
    if (in->len > self->params.block_max)
        return WD_ERR_OVERSIZE;
    uint8_t id[CONS_BLOCK_ID_LEN];
    crypto_hash_sha256 (id, in->data, in->len);
    if (memcmp (id, cert.block_id, CONS_BLOCK_ID_LEN) != 0)
        return CONS_ERR_CERT_BLOCK;
    err = cons_cert_verify (&cert, self->chain, self->vals, self->n, self->verify_fn, self->ctx);
    if (err != WD_OK)
        return err;
    int block = s_block_store (self, id, in->data, in->len);
    if (block < 0)
        return CONS_ERR_NO_SPACE;
    if (!s_block_valid (self, block)) {
        s_block_release (self, &block);
        return CONS_ERR_INVALID_BLOCK;
    }
    self->cert_len = cert.count;
    s_decide (self, cert.round, block, false);
    s_block_release (self, &block);
    return WD_OK;
}

int
cons_agree_step (cons_agree_t *self, const cons_agree_input_t *in, cons_agree_outputs_t *out)
{
    assert (self && in && out);
    out->count = 0;
    self->out = out;
    int rc;
    switch (in->kind) {
        case CONS_AGREE_IN_MESSAGE:
            rc = s_on_message (self, in->data, in->len);
            break;
        case CONS_AGREE_IN_TIMEOUT:
            rc = s_on_timeout (self, in);
            break;
        case CONS_AGREE_IN_CANDIDATE:
            rc = s_on_candidate (self, in);
            break;
        case CONS_AGREE_IN_COMMIT:
            rc = s_on_commit (self, in);
            break;
        default:
            rc = WD_ERR_BAD_VALUE;
            break;
    }
    self->out = NULL;
    return rc;
}

void
cons_agree_status (const cons_agree_t *self, cons_agree_status_t *status)
{
    status->height = self->height;
    status->round = self->round;
    status->step = (uint8_t)self->step;
    status->lock_round = self->lock_round;
    status->valid_round = self->valid_round;
}

/* ---- life cycle ---------------------------------------------------------------- */

static int
s_check_saved (const cons_agree_config_t *config)
{
    const cons_agree_saved_t *s = config->saved;
    if (s->valid_len > config->params.block_max)
        return WD_ERR_BAD_VALUE;
    if (s->lock_round > s->valid_round || s->signed_round < -1)
        return WD_ERR_BAD_VALUE;
    if ((s->valid_round >= 0) != (s->valid_block != NULL))
        return WD_ERR_BAD_VALUE;
    if ((s->signed_round >= 0) != (s->signed_step != 0) || s->signed_step > CONS_PRECOMMIT)
        return WD_ERR_BAD_VALUE;
    return WD_OK;
}

void
cons_agree_destroy (cons_agree_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cons_agree_t *self = *self_p;
        if (self->rounds)
            for (size_t i = 0; i < self->rounds_kept; i++) {
                s_round_t *s = &self->rounds[i];
                free (s->prevotes.votes);
                free (s->prevotes.tally);
                free (s->precommits.votes);
                free (s->precommits.tally);
                free (s->proposals);
            }
        free (self->rounds);
        free (self->blocks);
        free (self->arena);
        free (self->vals);
        free (self->by_pk);
        free (self->rr_base);
        free (self->rr_tmp);
        free (self->seen);
        free (self->seen_scratch);
        free (self->cert);
        free (self);
        *self_p = NULL;
    }
}

static bool
s_alloc_rounds (cons_agree_t *self)
{
    self->rounds = calloc (self->rounds_kept, sizeof *self->rounds);
    if (!self->rounds)
        return false;
    for (size_t i = 0; i < self->rounds_kept; i++) {
        s_round_t *s = &self->rounds[i];
        s->prevotes.votes = calloc (self->n, sizeof (s_vote_t));
        s->prevotes.tally = calloc (2 * self->n, sizeof (s_tally_t));
        s->precommits.votes = calloc (self->n, sizeof (s_vote_t));
        s->precommits.tally = calloc (2 * self->n, sizeof (s_tally_t));
        s->proposals = calloc (self->per_round, sizeof (s_proposal_t));
        if (!s->prevotes.votes || !s->prevotes.tally || !s->precommits.votes ||
            !s->precommits.tally || !s->proposals)
            return false;
    }
    return true;
}

int
cons_agree_new (const cons_agree_config_t *config, cons_agree_t **out)
{
    *out = NULL;
    int err = cons_validators_check (config->validators, config->count);
    if (err != WD_OK)
        return err;
    if ((config->self >= config->count && config->self != CONS_AGREE_OBSERVER) ||
        config->height < 1 || config->height > CONS_HEIGHT_MAX || config->params.block_max == 0 ||
        config->params.block_max > WD_ENVELOPE_BODY_MAX ||
        (config->rounds_kept != 0 && config->rounds_kept < 2) || config->rounds_kept > 1024 ||
        config->proposals_per_round > 64)
        return WD_ERR_OUT_OF_RANGE;
    if (!config->valid || (config->params.proposer_mode == CONS_PROPOSER_VRF && !config->claim) ||
        config->params.proposer_mode > CONS_PROPOSER_VRF)
        return WD_ERR_BAD_VALUE;
    bool restore = config->saved && config->saved->height == config->height;
    if (restore && (err = s_check_saved (config)) != WD_OK)
        return err;

    cons_agree_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    memcpy (self->chain, config->chain, WD_CHAIN_ID_LEN);
    self->params = config->params;
    self->n = config->count;
    self->total = cons_validators_total (config->validators, config->count);
    self->self = config->self;
    self->valid_fn = config->valid;
    self->claim_fn = config->claim;
    self->verify_fn = config->verify ? config->verify : cons_verify_ed25519;
    self->ctx = config->ctx;
    self->rounds_kept = config->rounds_kept ? config->rounds_kept : CONS_AGREE_ROUNDS_DEFAULT;
    self->per_round =
        config->proposals_per_round ? config->proposals_per_round : CONS_AGREE_PROPOSALS_DEFAULT;
    self->n_blocks = self->rounds_kept * self->per_round + 4;
    self->vals = malloc (self->n * sizeof *self->vals);
    self->by_pk = malloc (self->n * sizeof *self->by_pk);
    self->rr_base = calloc (self->n, sizeof *self->rr_base);
    self->rr_tmp = calloc (self->n, sizeof *self->rr_tmp);
    self->seen = malloc (self->n * sizeof *self->seen);
    self->seen_scratch = malloc (self->n * sizeof *self->seen_scratch);
    self->cert = malloc (self->n * sizeof *self->cert);
    self->blocks = calloc (self->n_blocks, sizeof *self->blocks);
    self->arena = malloc (self->n_blocks * self->params.block_max);
    if (!self->vals || !self->by_pk || !self->rr_base || !self->rr_tmp || !self->seen ||
        !self->seen_scratch || !self->cert || !self->blocks || !self->arena ||
        !s_alloc_rounds (self)) {
        cons_agree_destroy (&self);
        return WD_ERR_NOMEM;
    }
    memcpy (self->vals, config->validators, self->n * sizeof *self->vals);
    for (uint32_t i = 0; i < self->n; i++) {
        size_t j = i;
        while (j > 0 && s_pk_cmp (self, self->by_pk[j - 1], self->vals[i].pk) > 0) {
            self->by_pk[j] = self->by_pk[j - 1];
            j--;
        }
        self->by_pk[j] = i;
    }
    for (size_t i = 0; i < self->n_blocks; i++)
        self->blocks[i].data = self->arena + i * self->params.block_max;

    self->height = config->height;
    uint64_t picks = (config->height - 1) % self->total;
    for (uint64_t k = 0; k < picks; k++)
        s_rr_pick (self->vals, self->n, self->total, self->rr_base);
    self->valid_block = self->candidate = self->decided_block = -1;
    s_reset_height (self);

    if (restore) {
        const cons_agree_saved_t *s = config->saved;
        self->restored = true;
        self->signed_round = s->signed_round;
        self->signed_step = s->signed_step;
        self->signed_nil = s->signed_nil;
        memcpy (self->signed_id, s->signed_block, CONS_BLOCK_ID_LEN);
        self->signed_pol = s->signed_pol;
        self->lock_round = s->lock_round;
        memcpy (self->lock_id, s->lock_block, CONS_BLOCK_ID_LEN);
        if (s->valid_round >= 0) {
            uint8_t id[CONS_BLOCK_ID_LEN];
            crypto_hash_sha256 (id, s->valid_block, s->valid_len);
            self->valid_block = s_block_store (self, id, s->valid_block, s->valid_len);
            self->valid_round = s->valid_round;
        }
    }
    *out = self;
    return WD_OK;
}

void
cons_agree_start (cons_agree_t *self, cons_agree_outputs_t *out)
{
    out->count = 0;
    self->out = out;
    if (!self->restored) {
        s_start_round (self, 0);
    } else {
        int64_t round = self->signed_round;
        if (self->lock_round > round)
            round = self->lock_round;
        if (self->valid_round > round)
            round = self->valid_round;
        if (round < 0)
            round = 0;
        if (round == self->signed_round && self->signed_step >= CONS_PREVOTE) {
            /* Resume after the vote already signed in this round and send it
               again (the guard in s_vote makes it the same vote). */
            self->round = (uint32_t)round;
            self->step = self->signed_step;
            s_round_t *slot = s_round_get (self, self->round);
            assert (slot);
            (void)slot;
            s_vote (self, (cons_kind_t)self->signed_step, self->signed_nil, self->signed_id);
        } else {
            s_start_round (self, (uint32_t)round);
        }
    }
    s_run (self);
    self->out = NULL;
}

/* ---- saved state ------------------------------------------------------------------ */

uint8_t *
cons_agree_saved_encode (const cons_agree_saved_t *s, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 10);
    wd_writer_key (w, "height");
    wd_writer_uint (w, s->height);
    wd_writer_key (w, "lock_block");
    cons_write_block_id (w, s->lock_round < 0, s->lock_block);
    wd_writer_key (w, "lock_round");
    wd_writer_int (w, s->lock_round);
    wd_writer_key (w, "signed_block");
    cons_write_block_id (w, s->signed_step == 0 || s->signed_nil, s->signed_block);
    wd_writer_key (w, "signed_pol");
    wd_writer_int (w, s->signed_pol);
    wd_writer_key (w, "signed_round");
    wd_writer_int (w, s->signed_round);
    wd_writer_key (w, "signed_step");
    wd_writer_uint (w, s->signed_step);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "valid_block");
    if (s->valid_round >= 0)
        wd_writer_bin (w, s->valid_block, s->valid_len);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "valid_round");
    wd_writer_int (w, s->valid_round);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

int
cons_agree_saved_decode (const uint8_t *buf, size_t len, size_t block_max, cons_agree_saved_t *s)
{
    memset (s, 0, sizeof *s);
    int err = wd_codec_check (buf, len, block_max > 64 ? block_max : 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    bool lock_nil = true, signed_nil = true;
    int local = WD_OK;
    uint64_t height = 0, step = 0, version = 0;
    int64_t lock_round = -1, signed_pol = -1, signed_round = -1, valid_round = -1;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, CONS_HEIGHT_MAX);
    wd_read_key (&r, "lock_block");
    cons_read_block_id (&r, &lock_nil, s->lock_block, &local);
    wd_read_key (&r, "lock_round");
    wd_read_int (&r, &lock_round, -1, CONS_ROUND_MAX);
    wd_read_key (&r, "signed_block");
    cons_read_block_id (&r, &signed_nil, s->signed_block, &local);
    wd_read_key (&r, "signed_pol");
    wd_read_int (&r, &signed_pol, -1, CONS_ROUND_MAX);
    wd_read_key (&r, "signed_round");
    wd_read_int (&r, &signed_round, -1, CONS_ROUND_MAX);
    wd_read_key (&r, "signed_step");
    wd_read_uint (&r, &step, CONS_PRECOMMIT);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_key (&r, "valid_block");
    cons_read_opt_bin (&r, &s->valid_block, &s->valid_len, block_max, &local);
    wd_read_key (&r, "valid_round");
    wd_read_int (&r, &valid_round, -1, CONS_ROUND_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK)
        err = local;
    if (err == WD_OK && version != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK) {
        bool ok = (lock_round >= 0) == !lock_nil &&
                  (valid_round >= 0) == (s->valid_block != NULL) &&
                  (signed_round >= 0) == (step != 0) && lock_round <= valid_round &&
                  (step != 0 || signed_nil) && (step != CONS_PROPOSAL || !signed_nil) &&
                  (step == CONS_PROPOSAL ? signed_pol < signed_round : signed_pol == -1);
        if (!ok)
            err = WD_ERR_BAD_VALUE;
    }
    if (err != WD_OK) {
        memset (s, 0, sizeof *s);
        return err;
    }
    s->height = height;
    s->lock_round = (int32_t)lock_round;
    s->signed_round = (int32_t)signed_round;
    s->signed_step = (uint8_t)step;
    s->signed_nil = signed_nil;
    s->signed_pol = (int32_t)signed_pol;
    s->valid_round = (int32_t)valid_round;
    return WD_OK;
}
