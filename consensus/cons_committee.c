/*
 * cons_committee: the committee verdict record, the claim check, the
 * certification rule and the tracker the engine drives (cons_committee.h;
 * docs/PROTOCOL.md "Verifier committees").
 *
 * The tracker keeps one case per evidence id: the evidence bytes (once
 * seen) and the verdicts held, each marked when a committed block carried
 * it. The rule is always evaluated over one order, the one a proposer must
 * use: the committed verdicts in chain order, then the uncommitted REJECTs,
 * then the other uncommitted verdicts in arrival order. Cases live at most
 * expire_ms, and at most cases_max of them (oldest dropped first).
 */
#include "cons_committee.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "attest_evidence.h"

/* ---- the record ---------------------------------------------------------- */

bool
cons_committee_accepts (const attest_verdict_body_t *verdict)
{
    return verdict->tier == ATTEST_TRUST_AFFIRMING || verdict->tier == ATTEST_TRUST_WARNING;
}

int
cons_committee_verdict_encode (const cons_committee_verdict_t *cv, uint8_t **out, size_t *len)
{
    assert (cv && out && len);
    uint8_t *inner;
    size_t inner_len;
    int err = attest_verdict_encode (&cv->verdict, &inner, &inner_len);
    if (err != WD_OK)
        return err;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, cv->has_claim ? 4 : 3);
    if (cv->has_claim) {
        wd_writer_key (w, "claim");
        cons_sortition_claim_write (&cv->claim, w);
    }
    wd_writer_key (w, "epoch");
    wd_writer_uint (w, cv->epoch);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_COMMITTEE_VERSION);
    wd_writer_key (w, "verdict");
    wd_writer_bin (w, inner, inner_len);
    free (inner);
    *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return WD_OK;
}

int
cons_committee_verdict_decode (const uint8_t *body, size_t len, cons_committee_verdict_t *cv)
{
    assert (cv);
    memset (cv, 0, sizeof *cv);
    wd_err_t err = wd_codec_check (body, len, CONS_COMMITTEE_VERDICT_MAX, NULL);
    const uint8_t *inner = NULL;
    size_t inner_len = 0;
    if (err == WD_OK) {
        wd_reader_t r;
        size_t count;
        uint64_t v = 0;
        wd_reader_init (&r, body, len);
        if (wd_read_map (&r, &count)) {
            if (wd_read_key_opt (&r, "claim")) {
                cv->has_claim = true;
                (void)cons_sortition_claim_read (&r, &cv->claim);
            }
            (void)(wd_read_key (&r, "epoch") && wd_read_uint (&r, &cv->epoch, UINT64_MAX));
            (void)(wd_read_key (&r, "v") && wd_read_uint (&r, &v, UINT64_MAX));
            (void)(wd_read_key (&r, "verdict") &&
                   wd_read_bin (&r, &inner, &inner_len, CONS_COMMITTEE_VERDICT_MAX));
            (void)wd_read_end (&r);
        }
        err = wd_reader_finish (&r);
        if (err == WD_OK && v != CONS_COMMITTEE_VERSION)
            err = WD_ERR_BAD_VERSION;
    }
    int rc = err;
    if (rc == WD_OK)
        rc = attest_verdict_decode (inner, inner_len, &cv->verdict);
    if (rc != WD_OK)
        memset (cv, 0, sizeof *cv);
    return rc;
}

int
cons_committee_verdict_seal (const cons_committee_verdict_t *cv,
                             const uint8_t chain[WD_CHAIN_ID_LEN],
                             const uint8_t verifier_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                             void *sign_ctx, uint8_t **out, size_t *len)
{
    uint8_t *body;
    size_t body_len;
    int err = cons_committee_verdict_encode (cv, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (CONS_COMMITTEE_VERDICT_TYPE, chain, verifier_pk, body, body_len, sign,
                            sign_ctx, out, len);
    free (body);
    return err;
}

/* ---- selection --------------------------------------------------------- */

static uint64_t
s_weight_of (const cons_validator_t *set, size_t count, const uint8_t pk[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < count; i++)
        if (memcmp (set[i].pk, pk, WD_PUBKEY_LEN) == 0)
            return set[i].weight;
    return 0;
}

static uint64_t
s_total (const cons_validator_t *set, size_t count)
{
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++)
        total += set[i].weight;
    return total;
}

void
cons_committee_input (const uint8_t chain[WD_CHAIN_ID_LEN], const cons_committee_epoch_t *ep,
                      const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN],
                      const uint8_t verifier[WD_PUBKEY_LEN], uint64_t tau,
                      cons_sortition_input_t *in)
{
    assert (chain && ep && evidence && verifier && in);
    memset (in, 0, sizeof *in);
    memcpy (in->chain_id, chain, CONS_SORTITION_ID_LEN);
    memcpy (in->seed, ep->seed, CONS_SORTITION_ID_LEN);
    in->role = CONS_ROLE_VERIFIER;
    in->height = ep->height;
    in->round = 0;
    memcpy (in->subject, evidence, CONS_SORTITION_ID_LEN);
    in->weight = s_weight_of (ep->validators, ep->count, verifier);
    in->total_weight = s_total (ep->validators, ep->count);
    in->tau = tau;
}

int
cons_committee_check_claim (const uint8_t chain[WD_CHAIN_ID_LEN], const wd_genesis_t *genesis,
                            const cons_committee_epoch_t *ep, uint64_t tau,
                            const uint8_t signer[WD_PUBKEY_LEN], const cons_committee_verdict_t *cv)
{
    const wd_cert_t *cert = wd_genesis_find_node (genesis, signer);
    if (!cert)
        return CONS_ERR_BLOCK_SIGNER;
    return cons_committee_check_claim_key (chain, cert->vrf_pk, ep, tau, signer, cv);
}

int
cons_committee_check_claim_key (const uint8_t chain[WD_CHAIN_ID_LEN],
                                const uint8_t vrf_pk[WD_PUBKEY_LEN],
                                const cons_committee_epoch_t *ep, uint64_t tau,
                                const uint8_t signer[WD_PUBKEY_LEN],
                                const cons_committee_verdict_t *cv)
{
    assert (cv->has_claim && cv->epoch == ep->epoch);
    cons_sortition_input_t in;
    cons_committee_input (chain, ep, cv->verdict.evidence, signer, tau, &in);
    if (in.weight == 0)
        return CONS_ERR_COMMITTEE_WEIGHT;
    return cons_sortition_verify (&in, vrf_pk, &cv->claim);
}

/* ---- the rule ----------------------------------------------------------- */

const char *
cons_committee_state_name (cons_committee_state_t state)
{
    switch (state) {
        case CONS_COMMITTEE_OPEN:
            return "open";
        case CONS_COMMITTEE_ESCALATED:
            return "escalated";
        case CONS_COMMITTEE_CERTIFIED:
            return "certified";
        case CONS_COMMITTEE_REJECTED:
            return "rejected";
    }
    return "?";
}

cons_committee_state_t
cons_committee_decide (const cons_committee_vote_t *votes, size_t count,
                       const cons_validator_t *set, size_t set_count,
                       const uint8_t subject[WD_PUBKEY_LEN], attest_trust_t *tier)
{
    size_t accepts = 0, rejects = 0;
    for (size_t i = 0; i < count; i++)
        if (votes[i].committee) {
            if (votes[i].accept)
                accepts++;
            else
                rejects++;
        }
    cons_committee_state_t state = CONS_COMMITTEE_OPEN;
    if (rejects == 0) {
        if (accepts >= CONS_COMMITTEE_ACCEPT_MIN)
            state = CONS_COMMITTEE_CERTIFIED;
    } else {
        /* Weights are at most CONS_REP_WEIGHT_CAP-sized values times at most
           CONS_VALIDATORS_MAX validators in practice; 3 * w stays far below
           2^64 for any set cons_validators_check accepts. The subject may
           not vote on its own evidence, so its weight is not in the total
           the others need more than 2/3 of. */
        uint64_t total = s_total (set, set_count), acc = 0, rej = 0;
        if (subject)
            total -= s_weight_of (set, set_count, subject);
        for (size_t i = 0; i < count; i++) {
            uint64_t w = s_weight_of (set, set_count, votes[i].signer);
            if (votes[i].accept)
                acc += w;
            else
                rej += w;
        }
        state = CONS_COMMITTEE_ESCALATED;
        if (total > 0 && 3 * acc > 2 * total)
            state = CONS_COMMITTEE_CERTIFIED;
        else if (total > 0 && 3 * rej > 2 * total)
            state = CONS_COMMITTEE_REJECTED;
    }
    if (tier) {
        *tier = ATTEST_TRUST_NONE;
        if (state == CONS_COMMITTEE_REJECTED)
            *tier = ATTEST_TRUST_CONTRAINDICATED;
        else if (state == CONS_COMMITTEE_CERTIFIED) {
            *tier = ATTEST_TRUST_AFFIRMING;
            for (size_t i = 0; i < count; i++)
                if (votes[i].accept && votes[i].tier == ATTEST_TRUST_WARNING)
                    *tier = ATTEST_TRUST_WARNING;
        }
    }
    return state;
}

/* ---- the tracker ------------------------------------------------------- */

typedef struct {
    uint8_t *bytes;
    size_t len;
    bool committed;
    uint64_t commit_seq; /* order in the chain, when committed */
    uint64_t epoch;      /* the verdict's committee epoch */
    cons_committee_vote_t vote;
    attest_subject_t subject;
} s_verdict_t;

typedef struct {
    uint8_t evidence[ATTEST_EVIDENCE_ID_LEN];
    uint64_t first_ms;
    bool has_evidence;
    uint8_t *ev_bytes; /* NULL when the evidence was only seen committed */
    size_t ev_len;
    bool ev_committed;
    uint64_t ev_epoch; /* when ev_committed: the epoch of its block */
    attest_subject_t subject;
    s_verdict_t *verdicts;
    size_t count, cap;
    cons_committee_state_t state; /* over every verdict held */
    /* over the committed verdicts, with the weights in force when the last
       of them was committed (as the ledger judged it) */
    cons_committee_state_t chain_state;
    bool chain_decided;
} s_case_t;

typedef struct {
    bool used;
    uint64_t epoch, height;
    uint8_t seed[CONS_BLOCK_HASH_LEN];
    cons_validator_t *validators;
    size_t count;
} s_epoch_t;

struct cons_committee {
    cons_committee_config_t cfg;
    uint64_t epoch_blocks; /* the genesis parameter */
    s_case_t **cases;      /* oldest first */
    size_t case_count, case_cap;
    s_epoch_t epochs[2]; /* [0] the highest */
    cons_committee_out_t *outs;
    size_t out_head, out_count, out_cap;
    uint64_t commit_seq;
    uint64_t now_ms; /* the latest time an input carried */
    /* scratch for cons_committee_propose and the rule */
    cons_committee_vote_t *votes;
    size_t *order;
    size_t scratch_cap;
};

cons_committee_t *
cons_committee_new (const cons_committee_config_t *cfg)
{
    assert (cfg && cfg->genesis);
    cons_committee_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->cfg = *cfg;
    if (self->cfg.expire_ms == 0)
        self->cfg.expire_ms = CONS_COMMITTEE_EXPIRE_MS;
    if (self->cfg.cases_max == 0)
        self->cfg.cases_max = CONS_COMMITTEE_CASES_MAX;
    self->epoch_blocks = wd_genesis_param (cfg->genesis, "epoch_blocks");
    if (self->epoch_blocks == 0)
        self->epoch_blocks = 1; /* a genesis always has it (at least 1) */
    return self;
}

static void
s_case_free (s_case_t *c)
{
    for (size_t i = 0; i < c->count; i++)
        free (c->verdicts[i].bytes);
    free (c->verdicts);
    free (c->ev_bytes);
    free (c);
}

void
cons_committee_destroy (cons_committee_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cons_committee_t *self = *self_p;
        for (size_t i = 0; i < self->case_count; i++)
            s_case_free (self->cases[i]);
        free (self->cases);
        for (size_t i = 0; i < 2; i++)
            free (self->epochs[i].validators);
        free (self->outs);
        free (self->votes);
        free (self->order);
        free (self);
        *self_p = NULL;
    }
}

int
cons_committee_set_epoch (cons_committee_t *self, const cons_committee_epoch_t *ep)
{
    assert (self && ep);
    s_epoch_t *slot = NULL;
    for (size_t i = 0; i < 2; i++)
        if (self->epochs[i].used && self->epochs[i].epoch == ep->epoch)
            slot = &self->epochs[i];
    if (!slot) {
        if (self->epochs[0].used && ep->epoch < self->epochs[0].epoch) {
            if (self->epochs[1].used && ep->epoch < self->epochs[1].epoch)
                return CONS_ERR_STALE;
            slot = &self->epochs[1];
        } else {
            /* the new highest: the old highest becomes the second */
            free (self->epochs[1].validators);
            self->epochs[1] = self->epochs[0];
            memset (&self->epochs[0], 0, sizeof self->epochs[0]);
            slot = &self->epochs[0];
        }
    }
    cons_validator_t *copy = malloc ((ep->count ? ep->count : 1) * sizeof *copy);
    if (!copy)
        return WD_ERR_NOMEM;
    if (ep->count)
        memcpy (copy, ep->validators, ep->count * sizeof *copy);
    free (slot->validators);
    slot->used = true;
    slot->epoch = ep->epoch;
    slot->height = ep->height;
    memcpy (slot->seed, ep->seed, sizeof slot->seed);
    slot->validators = copy;
    slot->count = ep->count;
    return WD_OK;
}

static const s_epoch_t *
s_epoch_find (const cons_committee_t *self, uint64_t epoch)
{
    for (size_t i = 0; i < 2; i++)
        if (self->epochs[i].used && self->epochs[i].epoch == epoch)
            return &self->epochs[i];
    return NULL;
}

static s_case_t *
s_case_find (const cons_committee_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN],
             size_t *index)
{
    for (size_t i = self->case_count; i-- > 0;)
        if (memcmp (self->cases[i]->evidence, evidence, ATTEST_EVIDENCE_ID_LEN) == 0) {
            if (index)
                *index = i;
            return self->cases[i];
        }
    return NULL;
}

static void
s_emit (cons_committee_t *self, cons_committee_out_kind_t kind,
        const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN])
{
    if (self->out_head + self->out_count == self->out_cap) {
        if (self->out_head > 0) {
            memmove (self->outs, self->outs + self->out_head, self->out_count * sizeof *self->outs);
            self->out_head = 0;
        }
        if (self->out_count == self->out_cap) {
            size_t cap = self->out_cap ? self->out_cap * 2 : 16;
            cons_committee_out_t *outs = realloc (self->outs, cap * sizeof *outs);
            if (!outs)
                return; /* an output lost to out-of-memory: status still answers */
            self->outs = outs;
            self->out_cap = cap;
        }
    }
    cons_committee_out_t *o = &self->outs[self->out_head + self->out_count++];
    o->kind = kind;
    memcpy (o->evidence, evidence, ATTEST_EVIDENCE_ID_LEN);
}

bool
cons_committee_next (cons_committee_t *self, cons_committee_out_t *out)
{
    assert (self && out);
    if (self->out_count == 0)
        return false;
    *out = self->outs[self->out_head++];
    self->out_count--;
    if (self->out_count == 0)
        self->out_head = 0;
    return true;
}

static void
s_remove (cons_committee_t *self, size_t index, bool report)
{
    s_case_t *c = self->cases[index];
    if (report && c->state != CONS_COMMITTEE_CERTIFIED && c->state != CONS_COMMITTEE_REJECTED &&
        !c->chain_decided)
        s_emit (self, CONS_COMMITTEE_OUT_EXPIRED, c->evidence);
    memmove (self->cases + index, self->cases + index + 1,
             (self->case_count - index - 1) * sizeof *self->cases);
    self->case_count--;
    s_case_free (c);
}

static s_case_t *
s_case_new (cons_committee_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN], uint64_t now)
{
    while (self->case_count >= self->cfg.cases_max)
        s_remove (self, 0, true);
    if (self->case_count == self->case_cap) {
        size_t cap = self->case_cap ? self->case_cap * 2 : 64;
        s_case_t **cases = realloc (self->cases, cap * sizeof *cases);
        if (!cases)
            return NULL;
        self->cases = cases;
        self->case_cap = cap;
    }
    s_case_t *c = calloc (1, sizeof *c);
    if (!c)
        return NULL;
    memcpy (c->evidence, evidence, ATTEST_EVIDENCE_ID_LEN);
    c->first_ms = now;
    self->cases[self->case_count++] = c;
    return c;
}

static bool
s_scratch (cons_committee_t *self, size_t n)
{
    if (n <= self->scratch_cap)
        return true;
    cons_committee_vote_t *votes = realloc (self->votes, n * sizeof *votes);
    if (!votes)
        return false;
    self->votes = votes;
    size_t *order = realloc (self->order, n * sizeof *order);
    if (!order)
        return false;
    self->order = order;
    self->scratch_cap = n;
    return true;
}

static const cons_validator_t *
s_weights (const cons_committee_t *self, size_t *count)
{
    *count = self->epochs[0].used ? self->epochs[0].count : 0;
    return self->epochs[0].used ? self->epochs[0].validators : NULL;
}

/* Fills self->order with the rule's order of c's verdicts: committed ones
   by commit_seq, then uncommitted REJECTs, then the other uncommitted. */
static size_t
s_order (cons_committee_t *self, const s_case_t *c)
{
    size_t n = 0;
    for (size_t i = 0; i < c->count; i++)
        if (c->verdicts[i].committed) {
            size_t j = n++;
            while (j > 0 &&
                   c->verdicts[self->order[j - 1]].commit_seq > c->verdicts[i].commit_seq) {
                self->order[j] = self->order[j - 1];
                j--;
            }
            self->order[j] = i;
        }
    for (size_t i = 0; i < c->count; i++)
        if (!c->verdicts[i].committed && !c->verdicts[i].vote.accept &&
            c->verdicts[i].vote.committee)
            self->order[n++] = i;
    for (size_t i = 0; i < c->count; i++)
        if (!c->verdicts[i].committed &&
            (c->verdicts[i].vote.accept || !c->verdicts[i].vote.committee))
            self->order[n++] = i;
    return n;
}

/* The subject node the rule leaves out of escalation weights: the
   evidence's, or before it arrives the first verdict's (NULL: none). */
static const uint8_t *
s_subject_node (const s_case_t *c)
{
    if (c->has_evidence)
        return c->subject.node;
    return c->count ? c->verdicts[0].subject.node : NULL;
}

/* The state after the first k verdicts of the order. */
static cons_committee_state_t
s_state_prefix (cons_committee_t *self, const s_case_t *c, size_t k)
{
    for (size_t i = 0; i < k; i++)
        self->votes[i] = c->verdicts[self->order[i]].vote;
    size_t wn;
    const cons_validator_t *w = s_weights (self, &wn);
    return cons_committee_decide (self->votes, k, w, wn, s_subject_node (c), NULL);
}

/* Recomputes c's state (held verdicts; stopping at the first decision)
   and, when commit (a verdict of c was just committed), the chain's
   (committed ones only), and reports changes. The chain's state is only
   evaluated at commit time: the ledger weighs an escalated case with the
   set of the committing block's height - 1, which is the highest epoch's
   set then, and a later epoch's weights must not re-decide (or undecide)
   what the chain did. */
static void
s_update (cons_committee_t *self, s_case_t *c, bool commit)
{
    if (!s_scratch (self, c->count ? c->count : 1))
        return;
    size_t n = s_order (self, c);
    size_t committed = 0;
    while (committed < n && c->verdicts[self->order[committed]].committed)
        committed++;
    if (commit && !c->chain_decided) {
        c->chain_state = s_state_prefix (self, c, committed);
        if (c->chain_state == CONS_COMMITTEE_CERTIFIED || c->chain_state == CONS_COMMITTEE_REJECTED)
            c->chain_decided = true;
    }
    cons_committee_state_t chain = c->chain_state;
    cons_committee_state_t st = CONS_COMMITTEE_OPEN;
    for (size_t k = 0; k <= n; k++) {
        st = s_state_prefix (self, c, k);
        if (st == CONS_COMMITTEE_CERTIFIED || st == CONS_COMMITTEE_REJECTED)
            break;
    }
    if (c->chain_decided)
        st = chain;
    if (st != c->state) {
        c->state = st;
        if (st == CONS_COMMITTEE_ESCALATED)
            s_emit (self, CONS_COMMITTEE_OUT_ESCALATED, c->evidence);
        else if (st == CONS_COMMITTEE_CERTIFIED)
            s_emit (self, CONS_COMMITTEE_OUT_CERTIFIED, c->evidence);
        else if (st == CONS_COMMITTEE_REJECTED)
            s_emit (self, CONS_COMMITTEE_OUT_REJECTED, c->evidence);
    }
}

/* Decodes an evidence envelope's subject. */
static int
s_evidence_subject (const cons_committee_t *self, const uint8_t *env_bytes, size_t len,
                    attest_subject_t *subject)
{
    wd_envelope_t env;
    if (wd_envelope_decode (env_bytes, len, &env) != WD_OK ||
        strcmp (env.type, ATTEST_EVIDENCE_TYPE) != 0)
        return CONS_ERR_BLOCK_RECORD;
    if (memcmp (env.chain, self->cfg.chain, WD_CHAIN_ID_LEN) != 0)
        return CONS_ERR_BLOCK_RECORD;
    attest_evidence_t *ev = malloc (sizeof *ev);
    if (!ev)
        return WD_ERR_NOMEM;
    int err = attest_evidence_decode (env.body, env.body_len, ev);
    if (err == WD_OK)
        *subject = ev->subject;
    free (ev);
    return err == WD_OK ? WD_OK : CONS_ERR_BLOCK_RECORD;
}

static void
s_attach_evidence (cons_committee_t *self, s_case_t *c, const attest_subject_t *subject)
{
    c->has_evidence = true;
    c->subject = *subject;
    /* verdicts that came first and do not fit the evidence go */
    size_t k = 0;
    for (size_t i = 0; i < c->count; i++) {
        s_verdict_t *v = &c->verdicts[i];
        bool bad = !v->committed && (!attest_subject_equal (&v->subject, subject) ||
                                     memcmp (v->vote.signer, subject->node, WD_PUBKEY_LEN) == 0);
        if (bad)
            free (v->bytes);
        else
            c->verdicts[k++] = *v;
    }
    c->count = k;
    s_update (self, c, false);
}

int
cons_committee_add_evidence (cons_committee_t *self, const uint8_t *env, size_t len,
                             uint64_t now_ms)
{
    assert (self && env);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    attest_subject_t subject;
    int err = s_evidence_subject (self, env, len, &subject);
    if (err != WD_OK)
        return err;
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    wd_envelope_id (id, env, len);
    s_case_t *c = s_case_find (self, id, NULL);
    if (c && c->has_evidence)
        return CONS_ERR_DUPLICATE;
    if (!c && !(c = s_case_new (self, id, now_ms)))
        return WD_ERR_NOMEM;
    c->ev_bytes = malloc (len);
    if (!c->ev_bytes)
        return WD_ERR_NOMEM;
    memcpy (c->ev_bytes, env, len);
    c->ev_len = len;
    s_attach_evidence (self, c, &subject);
    return WD_OK;
}

static s_verdict_t *
s_verdict_find (s_case_t *c, const uint8_t signer[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < c->count; i++)
        if (memcmp (c->verdicts[i].vote.signer, signer, WD_PUBKEY_LEN) == 0)
            return &c->verdicts[i];
    return NULL;
}

static s_verdict_t *
s_verdict_add (s_case_t *c, const uint8_t *bytes, size_t len, const wd_envelope_t *env,
               const cons_committee_verdict_t *cv)
{
    if (c->count == c->cap) {
        size_t cap = c->cap ? c->cap * 2 : 8;
        s_verdict_t *vs = realloc (c->verdicts, cap * sizeof *vs);
        if (!vs)
            return NULL;
        c->verdicts = vs;
        c->cap = cap;
    }
    s_verdict_t *v = &c->verdicts[c->count];
    memset (v, 0, sizeof *v);
    if (!(v->bytes = malloc (len)))
        return NULL;
    memcpy (v->bytes, bytes, len);
    v->len = len;
    memcpy (v->vote.signer, env->from, WD_PUBKEY_LEN);
    v->vote.accept = cons_committee_accepts (&cv->verdict);
    v->vote.committee = cv->has_claim;
    v->vote.tier = cv->verdict.tier;
    v->subject = cv->verdict.subject;
    v->epoch = cv->epoch;
    c->count++;
    return v;
}

int
cons_committee_add_verdict (cons_committee_t *self, const uint8_t *bytes, size_t len,
                            uint64_t now_ms)
{
    assert (self && bytes);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    wd_envelope_t env;
    if (wd_envelope_decode (bytes, len, &env) != WD_OK)
        return CONS_ERR_BLOCK_RECORD;
    if (memcmp (env.chain, self->cfg.chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env.type, CONS_COMMITTEE_VERDICT_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    const wd_cert_t *signer = self->cfg.find_node
                                  ? self->cfg.find_node (self->cfg.find_ctx, env.from)
                                  : wd_genesis_find_node (self->cfg.genesis, env.from);
    if (!signer)
        return CONS_ERR_BLOCK_SIGNER;
    int err = wd_envelope_verify (&env, self->cfg.chain, CONS_COMMITTEE_VERDICT_TYPE);
    if (err != WD_OK)
        return err;
    cons_committee_verdict_t *cv = malloc (sizeof *cv);
    if (!cv)
        return WD_ERR_NOMEM;
    err = cons_committee_verdict_decode (env.body, env.body_len, cv);
    const s_epoch_t *ep = err == WD_OK ? s_epoch_find (self, cv->epoch) : NULL;
    if (err == WD_OK && !ep)
        err = CONS_ERR_COMMITTEE_EPOCH;
    s_case_t *c = err == WD_OK ? s_case_find (self, cv->verdict.evidence, NULL) : NULL;
    if (err == WD_OK && cv->has_claim) {
        cons_committee_epoch_t e = { ep->epoch, ep->height, { 0 }, ep->validators, ep->count };
        memcpy (e.seed, ep->seed, sizeof e.seed);
        err = cons_committee_check_claim_key (self->cfg.chain, signer->vrf_pk, &e, self->cfg.tau,
                                              env.from, cv);
    } else if (err == WD_OK) {
        size_t wn;
        const cons_validator_t *w = s_weights (self, &wn);
        if (s_weight_of (w, wn, env.from) == 0)
            err = CONS_ERR_UNKNOWN_VALIDATOR;
        else if (!c || c->state == CONS_COMMITTEE_OPEN)
            err = CONS_ERR_COMMITTEE_NOT_ESCALATED;
    }
    if (err == WD_OK && memcmp (cv->verdict.subject.node, env.from, WD_PUBKEY_LEN) == 0)
        err = CONS_ERR_COMMITTEE_SELF;
    if (err == WD_OK && c && c->has_evidence &&
        !attest_subject_equal (&cv->verdict.subject, &c->subject))
        err = CONS_ERR_COMMITTEE_SUBJECT;
    if (err == WD_OK && c &&
        (c->state == CONS_COMMITTEE_CERTIFIED || c->state == CONS_COMMITTEE_REJECTED ||
         c->chain_decided))
        err = CONS_ERR_COMMITTEE_DECIDED;
    if (err == WD_OK && c && s_verdict_find (c, env.from))
        err = CONS_ERR_COMMITTEE_TWICE;
    if (err == WD_OK && !c && !(c = s_case_new (self, cv->verdict.evidence, now_ms)))
        err = WD_ERR_NOMEM;
    if (err == WD_OK && !s_verdict_add (c, bytes, len, &env, cv))
        err = WD_ERR_NOMEM;
    if (err == WD_OK)
        s_update (self, c, false);
    free (cv);
    return err;
}

void
cons_committee_committed (cons_committee_t *self, uint64_t height, const uint8_t *bytes, size_t len)
{
    assert (self && bytes && height >= 1);
    wd_envelope_t env;
    if (wd_envelope_decode (bytes, len, &env) != WD_OK)
        return;
    if (strcmp (env.type, ATTEST_EVIDENCE_TYPE) == 0) {
        uint8_t id[ATTEST_EVIDENCE_ID_LEN];
        wd_envelope_id (id, bytes, len);
        s_case_t *c = s_case_find (self, id, NULL);
        attest_subject_t subject;
        if (!c) {
            if (s_evidence_subject (self, bytes, len, &subject) != WD_OK ||
                !(c = s_case_new (self, id, self->now_ms)))
                return;
            s_attach_evidence (self, c, &subject);
        }
        c->ev_committed = true;
        c->ev_epoch = (height - 1) / self->epoch_blocks;
        if (!c->has_evidence && s_evidence_subject (self, bytes, len, &subject) == WD_OK)
            s_attach_evidence (self, c, &subject);
        return;
    }
    if (strcmp (env.type, CONS_COMMITTEE_VERDICT_TYPE) != 0)
        return;
    cons_committee_verdict_t *cv = malloc (sizeof *cv);
    if (!cv)
        return;
    if (cons_committee_verdict_decode (env.body, env.body_len, cv) == WD_OK) {
        s_case_t *c = s_case_find (self, cv->verdict.evidence, NULL);
        if (!c)
            c = s_case_new (self, cv->verdict.evidence, self->now_ms);
        s_verdict_t *v = c ? s_verdict_find (c, env.from) : NULL;
        if (c && !v)
            v = s_verdict_add (c, bytes, len, &env, cv);
        if (v) {
            v->committed = true;
            v->commit_seq = ++self->commit_seq;
            s_update (self, c, true);
        }
    }
    free (cv);
}

void
cons_committee_tick (cons_committee_t *self, uint64_t now_ms)
{
    assert (self);
    if (now_ms > self->now_ms)
        self->now_ms = now_ms;
    for (size_t i = 0; i < self->case_count;) {
        s_case_t *c = self->cases[i];
        if (now_ms >= c->first_ms && now_ms - c->first_ms >= self->cfg.expire_ms)
            s_remove (self, i, true);
        else
            i++;
    }
}

int
cons_committee_status (const cons_committee_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN],
                       cons_committee_status_t *out)
{
    assert (self && evidence && out);
    memset (out, 0, sizeof *out);
    const s_case_t *c = s_case_find (self, evidence, NULL);
    if (!c)
        return WD_ERR_NOT_FOUND;
    out->state = c->state;
    out->chain_decided = c->chain_decided;
    out->has_evidence = c->has_evidence;
    out->subject = c->subject;
    for (size_t i = 0; i < c->count; i++) {
        const cons_committee_vote_t *v = &c->verdicts[i].vote;
        if (!v->committee)
            out->escalation_votes++;
        else if (v->accept)
            out->accepts++;
        else
            out->rejects++;
    }
    return WD_OK;
}

/* Whether the block at height (in epoch `epoch`) may take verdict v of a case
   after the records before it, whose state is `state`: the rules of
   docs/PROTOCOL.md "Block rules for committee verdicts" that depend on the
   height (the arrival checks covered the rest). */
static bool
s_usable (const cons_committee_t *self, const s_verdict_t *v, uint64_t height, uint64_t epoch,
          cons_committee_state_t state)
{
    if (v->epoch != epoch && v->epoch + 1 != epoch)
        return false; /* CONS_ERR_COMMITTEE_EPOCH */
    if (v->vote.committee)
        /* a claim of epoch E needs E's first block committed */
        return v->epoch < epoch || height > epoch * self->epoch_blocks + 1;
    size_t wn;
    const cons_validator_t *w = s_weights (self, &wn);
    /* an escalation verdict: the case escalated, the signer a validator of
       height - 1 (CONS_ERR_COMMITTEE_NOT_ESCALATED, _UNKNOWN_VALIDATOR) */
    return state == CONS_COMMITTEE_ESCALATED && s_weight_of (w, wn, v->vote.signer) > 0;
}

size_t
cons_committee_propose (cons_committee_t *self, uint64_t height, cons_bytes_t *out, size_t max,
                        size_t max_bytes)
{
    assert (self && (out || max == 0) && height >= 1);
    uint64_t epoch = (height - 1) / self->epoch_blocks;
    size_t wn;
    const cons_validator_t *w = s_weights (self, &wn);
    size_t n = 0, bytes = 0;
    for (size_t i = 0; i < self->case_count && n < max; i++) {
        s_case_t *c = self->cases[i];
        if (c->state == CONS_COMMITTEE_OPEN || !c->has_evidence || c->chain_decided)
            continue;
        if (!c->ev_committed && !c->ev_bytes)
            continue;
        if (c->ev_committed && c->ev_epoch + CONS_COMMITTEE_CASE_EPOCHS < epoch)
            continue; /* the chain has expired the case (CONS_ERR_COMMITTEE_EXPIRED) */
        if (!s_scratch (self, c->count ? c->count : 1))
            break;
        size_t k = s_order (self, c);
        /* The chain's votes (the committed prefix of the order), then the
           uncommitted verdicts this block may take, up to the decision:
           self->votes holds them in that order, and the taken ones are
           compacted into self->order right after the prefix (j never
           falls behind held + taken, so nothing is overwritten unread). */
        size_t held = 0, taken = 0;
        while (held < k && c->verdicts[self->order[held]].committed) {
            self->votes[held] = c->verdicts[self->order[held]].vote;
            held++;
        }
        cons_committee_state_t st =
            cons_committee_decide (self->votes, held, w, wn, c->subject.node, NULL);
        for (size_t j = held; j < k; j++) {
            if (st == CONS_COMMITTEE_CERTIFIED || st == CONS_COMMITTEE_REJECTED)
                break;
            const s_verdict_t *v = &c->verdicts[self->order[j]];
            if (!s_usable (self, v, height, epoch, st))
                continue;
            self->order[held + taken] = self->order[j];
            self->votes[held + taken] = v->vote;
            taken++;
            st = cons_committee_decide (self->votes, held + taken, w, wn, c->subject.node, NULL);
        }
        if (taken == 0 && c->ev_committed)
            continue; /* nothing new */
        size_t need = c->ev_committed ? 0 : c->ev_len;
        for (size_t j = held; j < held + taken; j++)
            need += c->verdicts[self->order[j]].len;
        size_t recs = taken + (c->ev_committed ? 0 : 1);
        if (n + recs > max || bytes + need > max_bytes)
            continue; /* a case goes whole or not at all */
        if (!c->ev_committed)
            out[n++] = (cons_bytes_t){ c->ev_bytes, c->ev_len };
        for (size_t j = held; j < held + taken; j++) {
            const s_verdict_t *v = &c->verdicts[self->order[j]];
            out[n++] = (cons_bytes_t){ v->bytes, v->len };
        }
        bytes += need;
    }
    return n;
}

size_t
cons_committee_size (const cons_committee_t *self)
{
    return self->case_count;
}
