/*
 * cons_reputation: the reputation table folded over the ledger's blocks,
 * in integers only so that every node gets bit-identical results
 * (cons_reputation.h; docs/PROTOCOL.md "Reputation").
 */
#include "cons_reputation.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_evidence.h"
#include "attest_verdict.h"
#include "cons_member_tx.h"
#include "wd_codec.h"
#include "wd_hash.h"

/* One evidence record's case: what the committee rule needs until it
   expires. */
typedef struct {
    uint8_t id[ATTEST_EVIDENCE_ID_LEN];
    uint64_t epoch; /* of the block that carried the evidence */
    attest_subject_t subject;
    uint64_t time;
    bool has_digest;
    uint8_t digest[32];
    cons_committee_vote_t *votes; /* in chain order */
    size_t count, cap;
    cons_committee_state_t state;
} s_case_t;

/* Keys a row held before a rotate: they never return, and what they
   signed before still counts for (or against) that row. */
typedef struct {
    uint8_t sign_pk[WD_PUBKEY_LEN], vrf_pk[WD_PUBKEY_LEN], curve_pk[WD_PUBKEY_LEN];
    size_t row;
} s_retired_t;

/* The key of one equivocation (cons_vote evidence). */
typedef struct {
    uint8_t validator[WD_PUBKEY_LEN];
    uint64_t height;
    uint32_t round;
    cons_kind_t kind;
} s_slashed_t;

struct cons_reputation {
    const wd_genesis_t *genesis;
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint64_t epoch_blocks;
    uint64_t height;
    size_t count, cap;
    /* the genesis nodes in ascending id, then the joined nodes in commit
       order */
    cons_rep_entry_t *entries;
    cons_node_status_t *status; /* per entry */
    uint64_t members_version;   /* joins and leaves folded in */
    s_case_t **cases;           /* in the order the evidence was committed */
    size_t case_count, case_cap;
    /* equivocations already slashed: one slash per (validator, height,
       round, vote type), however many nodes report it */
    s_slashed_t *slashed;
    size_t slashed_count, slashed_cap;
    s_retired_t *retired; /* in rotation order */
    size_t retired_count, retired_cap;
};

/* The tier of a node certificate's key protection. */
static uint32_t
s_tier_bp (const wd_cert_t *cert)
{
    return wd_cert_protection_is_software (cert->key_protection) ? CONS_REP_TIER_SOFTWARE_BP
                                                                 : CONS_REP_BP;
}

static void
s_entry_init (cons_rep_entry_t *e, const wd_cert_t *cert)
{
    memset (e, 0, sizeof *e);
    memcpy (e->id, cert->sign_pk, WD_PUBKEY_LEN);
    snprintf (e->name, sizeof e->name, "%s", cert->name);
    e->tier_bp = s_tier_bp (cert);
    e->cert = *cert;
}

cons_reputation_t *
cons_reputation_new (const wd_genesis_t *genesis)
{
    assert (genesis);
    cons_reputation_t *self = calloc (1, sizeof *self);
    size_t n = wd_genesis_node_count (genesis);
    if (!self || !(self->entries = calloc (n ? n : 1, sizeof *self->entries)) ||
        !(self->status = calloc (n ? n : 1, sizeof *self->status)))
        abort ();
    self->genesis = genesis;
    wd_genesis_chain_id (genesis, self->chain);
    self->epoch_blocks = wd_genesis_param (genesis, "epoch_blocks");
    self->count = n;
    self->cap = n ? n : 1;
    for (size_t i = 0; i < n; i++)
        s_entry_init (&self->entries[i], wd_genesis_node (genesis, i));
    return self;
}

cons_reputation_t *
cons_reputation_dup (const cons_reputation_t *self)
{
    assert (self);
    cons_reputation_t *copy = malloc (sizeof *copy);
    if (!copy)
        abort ();
    *copy = *self;
    copy->entries = malloc (self->cap * sizeof *copy->entries);
    if (!copy->entries)
        abort ();
    memcpy (copy->entries, self->entries, self->count * sizeof *copy->entries);
    copy->status = malloc (self->cap * sizeof *copy->status);
    copy->cases = malloc ((self->case_cap ? self->case_cap : 1) * sizeof *copy->cases);
    if (!copy->status || !copy->cases)
        abort ();
    memcpy (copy->status, self->status, self->count * sizeof *copy->status);
    copy->slashed = malloc ((self->slashed_cap ? self->slashed_cap : 1) * sizeof *copy->slashed);
    if (!copy->slashed)
        abort ();
    if (self->slashed_count)
        memcpy (copy->slashed, self->slashed, self->slashed_count * sizeof *copy->slashed);
    copy->retired = malloc ((self->retired_cap ? self->retired_cap : 1) * sizeof *copy->retired);
    if (!copy->retired)
        abort ();
    if (self->retired_count)
        memcpy (copy->retired, self->retired, self->retired_count * sizeof *copy->retired);
    for (size_t i = 0; i < self->case_count; i++) {
        const s_case_t *c = self->cases[i];
        s_case_t *d = malloc (sizeof *d);
        if (!d || !(d->votes = malloc ((c->cap ? c->cap : 1) * sizeof *d->votes)))
            abort ();
        cons_committee_vote_t *votes = d->votes;
        *d = *c;
        d->votes = votes;
        if (c->count) /* a case without votes has none (NULL) to copy */
            memcpy (d->votes, c->votes, c->count * sizeof *d->votes);
        copy->cases[i] = d;
    }
    return copy;
}

void
cons_reputation_destroy (cons_reputation_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    cons_reputation_t *self = *self_p;
    for (size_t i = 0; i < self->case_count; i++) {
        free (self->cases[i]->votes);
        free (self->cases[i]);
    }
    free (self->cases);
    free (self->slashed);
    free (self->retired);
    free (self->status);
    free (self->entries);
    free (self);
    *self_p = NULL;
}

/* Rows are not sorted once nodes join (commit order); tables are small
   (at most CONS_VALIDATORS_MAX rows). */
static cons_rep_entry_t *
s_find (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < self->count; i++)
        if (memcmp (self->entries[i].id, id, WD_PUBKEY_LEN) == 0)
            return &self->entries[i];
    return NULL;
}

/* The row that holds id now or held it before a rotate, or NULL. */
static cons_rep_entry_t *
s_find_any (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    cons_rep_entry_t *e = s_find (self, id);
    for (size_t i = 0; !e && i < self->retired_count; i++)
        if (memcmp (self->retired[i].sign_pk, id, WD_PUBKEY_LEN) == 0)
            e = &self->entries[self->retired[i].row];
    return e;
}

/* Whether keys a and b are the same row's (now or before a rotate). */
static bool
s_same_row (const cons_reputation_t *self, const uint8_t a[WD_PUBKEY_LEN],
            const uint8_t b[WD_PUBKEY_LEN])
{
    if (memcmp (a, b, WD_PUBKEY_LEN) == 0)
        return true;
    const cons_rep_entry_t *ea = s_find_any (self, a);
    return ea && ea == s_find_any (self, b);
}

const cons_rep_entry_t *
cons_reputation_find (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    assert (self && id);
    return s_find (self, id);
}

bool
cons_reputation_is_member (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    const cons_rep_entry_t *e = s_find (self, id);
    return e && e->left == 0;
}

uint64_t
cons_reputation_members_version (const cons_reputation_t *self)
{
    return self->members_version;
}

uint64_t
cons_reputation_epoch (const cons_reputation_t *self, uint64_t height)
{
    return height == 0 ? 0 : (height - 1) / self->epoch_blocks;
}

static uint64_t
s_decay (uint64_t c)
{
    return c - c / CONS_REP_DECAY_DIV;
}

static s_case_t *
s_case_find (const cons_reputation_t *self, const uint8_t id[ATTEST_EVIDENCE_ID_LEN])
{
    for (size_t i = self->case_count; i-- > 0;)
        if (memcmp (self->cases[i]->id, id, ATTEST_EVIDENCE_ID_LEN) == 0)
            return self->cases[i];
    return NULL;
}

/* An evidence record: last_seen of a node subject, and a new case. */
static void
s_apply_evidence (cons_reputation_t *self, const uint8_t *env, size_t env_len, const uint8_t *body,
                  size_t len, uint64_t height)
{
    attest_evidence_t *ev = malloc (sizeof *ev);
    if (!ev)
        abort ();
    if (attest_evidence_decode (body, len, ev) == WD_OK) {
        if (ev->subject.kind == ATTEST_SUBJECT_NODE) {
            cons_rep_entry_t *e = s_find (self, ev->subject.node);
            if (e)
                e->last_seen = height;
        }
        if (self->case_count == self->case_cap) {
            size_t cap = self->case_cap ? self->case_cap * 2 : 16;
            s_case_t **cases = realloc (self->cases, cap * sizeof *cases);
            if (!cases)
                abort ();
            self->cases = cases;
            self->case_cap = cap;
        }
        s_case_t *c = calloc (1, sizeof *c);
        if (!c)
            abort ();
        wd_envelope_id (c->id, env, env_len);
        c->epoch = cons_reputation_epoch (self, height);
        c->subject = ev->subject;
        c->time = ev->time;
        c->has_digest = ev->has_log;
        if (ev->has_log)
            memcpy (c->digest, ev->log.sha256, sizeof c->digest);
        self->cases[self->case_count++] = c;
    }
    free (ev);
}

/* Drops the cases whose time is over at height. */
static void
s_expire (cons_reputation_t *self, uint64_t height)
{
    uint64_t epoch = cons_reputation_epoch (self, height);
    size_t k = 0;
    for (size_t i = 0; i < self->case_count; i++) {
        s_case_t *c = self->cases[i];
        if (c->epoch + CONS_REP_CASE_EPOCHS < epoch) {
            free (c->votes);
            free (c);
        } else
            self->cases[k++] = c;
    }
    self->case_count = k;
}

static bool
s_in_set (const cons_validator_t *set, size_t count, const uint8_t pk[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < count; i++)
        if (memcmp (set[i].pk, pk, WD_PUBKEY_LEN) == 0)
            return true;
    return false;
}

/* The case is decided at height: every voter's hit or miss, the pass or
   failure of the subject's node, and for a node subject its last_seen and
   status. A host subject counts in the pass rate of the node that attested
   it (subject.node is always the attester: the node boots and vouches for
   its host), but neither its last_seen nor its status, which say whether
   the node itself runs what it should (docs/PROTOCOL.md "Reputation"). */
static void
s_decided (cons_reputation_t *self, const s_case_t *c, attest_trust_t tier, uint64_t height)
{
    bool certified = c->state == CONS_COMMITTEE_CERTIFIED;
    for (size_t i = 0; i < c->count; i++) {
        cons_rep_entry_t *e = s_find_any (self, c->votes[i].signer);
        if (!e)
            continue;
        if (c->votes[i].accept == certified)
            e->hits++;
        else
            e->misses++;
    }
    cons_rep_entry_t *e = s_find_any (self, c->subject.node);
    if (!e)
        return;
    if (certified)
        e->passed++;
    else
        e->failed++;
    if (c->subject.kind != ATTEST_SUBJECT_NODE)
        return;
    e->last_seen = height;
    cons_node_status_t *st = &self->status[e - self->entries];
    memset (st, 0, sizeof *st);
    st->tier = tier;
    bool escalated = false;
    for (size_t i = 0; i < c->count; i++)
        if (c->votes[i].committee && !c->votes[i].accept)
            escalated = true;
    st->escalated = escalated;
    memcpy (st->evidence, c->id, sizeof st->evidence);
    st->evidence_time = c->time;
    st->height = height;
    st->has_digest = c->has_digest;
    memcpy (st->digest, c->digest, sizeof st->digest);
}

/* A committee verdict record (docs/PROTOCOL.md "Verifier committees"):
   checks it (rules NULL: only what the table itself knows) and adds its
   vote to the case, deciding it when the rule says so. Returns the first
   failed rule; a failed record changes nothing. */
static int
s_apply_committee (cons_reputation_t *self, const wd_envelope_t *env, uint64_t height,
                   const cons_validator_t *prev, size_t prev_count, const cons_rep_rules_t *rules)
{
    cons_committee_verdict_t *cv = malloc (sizeof *cv);
    if (!cv)
        abort ();
    int err = cons_committee_verdict_decode (env->body, env->body_len, cv) == WD_OK
                  ? WD_OK
                  : CONS_ERR_BLOCK_RECORD;
    uint64_t epoch = cons_reputation_epoch (self, height);
    cons_committee_epoch_t ep = { 0 };
    if (err == WD_OK && (cv->epoch > epoch || cv->epoch + 1 < epoch))
        err = CONS_ERR_COMMITTEE_EPOCH;
    if (err == WD_OK && rules && cv->has_claim && !rules->epoch_fn (rules->ctx, cv->epoch, &ep))
        err = CONS_ERR_COMMITTEE_EPOCH;
    s_case_t *c = err == WD_OK ? s_case_find (self, cv->verdict.evidence) : NULL;
    if (err == WD_OK && !c)
        err = rules && rules->seen_fn (rules->ctx, cv->verdict.evidence, height)
                  ? CONS_ERR_COMMITTEE_EXPIRED
                  : CONS_ERR_COMMITTEE_EVIDENCE;
    if (err == WD_OK &&
        (c->state == CONS_COMMITTEE_CERTIFIED || c->state == CONS_COMMITTEE_REJECTED))
        err = CONS_ERR_COMMITTEE_DECIDED;
    if (err == WD_OK && !attest_subject_equal (&cv->verdict.subject, &c->subject))
        err = CONS_ERR_COMMITTEE_SUBJECT;
    /* a node that rotated its keys is still the same node */
    if (err == WD_OK && s_same_row (self, c->subject.node, env->from))
        err = CONS_ERR_COMMITTEE_SELF;
    for (size_t i = 0; err == WD_OK && i < c->count; i++)
        if (s_same_row (self, c->votes[i].signer, env->from))
            err = CONS_ERR_COMMITTEE_TWICE;
    if (err == WD_OK && cv->has_claim) {
        if (rules && rules->claims) {
            /* the VRF key from the table: joined nodes are not in the genesis */
            const cons_rep_entry_t *se = s_find (self, env->from);
            err = se && se->left == 0
                      ? cons_committee_check_claim_key (rules->chain, se->cert.vrf_pk, &ep,
                                                        rules->tau, env->from, cv)
                      : CONS_ERR_BLOCK_SIGNER;
        }
    } else if (err == WD_OK) {
        if (c->state != CONS_COMMITTEE_ESCALATED)
            err = CONS_ERR_COMMITTEE_NOT_ESCALATED;
        else if (!s_in_set (prev, prev_count, env->from))
            err = CONS_ERR_UNKNOWN_VALIDATOR;
    }
    if (err == WD_OK) {
        if (c->count == c->cap) {
            size_t cap = c->cap ? c->cap * 2 : 8;
            cons_committee_vote_t *votes = realloc (c->votes, cap * sizeof *votes);
            if (!votes)
                abort ();
            c->votes = votes;
            c->cap = cap;
        }
        cons_committee_vote_t *v = &c->votes[c->count++];
        memcpy (v->signer, env->from, WD_PUBKEY_LEN);
        v->accept = cons_committee_accepts (&cv->verdict);
        v->committee = cv->has_claim;
        v->tier = cv->verdict.tier;
        attest_trust_t tier;
        c->state =
            cons_committee_decide (c->votes, c->count, prev, prev_count, c->subject.node, &tier);
        if (c->state == CONS_COMMITTEE_CERTIFIED || c->state == CONS_COMMITTEE_REJECTED)
            s_decided (self, c, tier, height);
    }
    free (cv);
    return err;
}
static void
s_apply_equivocation (cons_reputation_t *self, const uint8_t *body, size_t len, uint64_t height)
{
    cons_evidence_t ev;
    if (cons_evidence_decode (body, len, &ev) != WD_OK)
        return;
    /* an equivocation by a key its node has rotated away still slashes
       the node */
    cons_rep_entry_t *e = s_find_any (self, ev.validator);
    if (!e)
        return;
    /* Every honest node that sees one equivocation reports it under its
       own key: the later reports are stored but slash nothing more. */
    for (size_t i = 0; i < self->slashed_count; i++) {
        const s_slashed_t *k = &self->slashed[i];
        if (k->height == ev.height && k->round == ev.round && k->kind == ev.kind &&
            memcmp (k->validator, ev.validator, WD_PUBKEY_LEN) == 0)
            return;
    }
    if (self->slashed_count == self->slashed_cap) {
        size_t cap = self->slashed_cap ? self->slashed_cap * 2 : 8;
        s_slashed_t *keys = realloc (self->slashed, cap * sizeof *keys);
        if (!keys)
            abort ();
        self->slashed = keys;
        self->slashed_cap = cap;
    }
    s_slashed_t *k = &self->slashed[self->slashed_count++];
    memcpy (k->validator, ev.validator, WD_PUBKEY_LEN);
    k->height = ev.height;
    k->round = ev.round;
    k->kind = ev.kind;
    e->passed = 0;
    e->precommits_made = 0;
    e->slashes++;
    uint64_t until = cons_reputation_epoch (self, height) + 1 + CONS_REP_QUARANTINE_EPOCHS;
    if (until > e->quarantine_until)
        e->quarantine_until = until;
}

/* Whether any row holds or held (before a rotate) pk as its sign_pk
   (which 0), vrf_pk (1) or curve_pk (2). */
static bool
s_key_used (const cons_reputation_t *self, int which, const uint8_t pk[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < self->count; i++) {
        const wd_cert_t *c = &self->entries[i].cert;
        const uint8_t *k = which == 0 ? c->sign_pk : which == 1 ? c->vrf_pk : c->curve_pk;
        if (memcmp (k, pk, WD_PUBKEY_LEN) == 0)
            return true;
    }
    for (size_t i = 0; i < self->retired_count; i++) {
        const s_retired_t *r = &self->retired[i];
        const uint8_t *k = which == 0 ? r->sign_pk : which == 1 ? r->vrf_pk : r->curve_pk;
        if (memcmp (k, pk, WD_PUBKEY_LEN) == 0)
            return true;
    }
    return false;
}

/* A join record sealed by a current member (the sponsor): the new node's
   row is appended. Returns the first failed rule; a failed record changes
   nothing. */
static int
s_apply_join (cons_reputation_t *self, const wd_envelope_t *env, uint64_t height, bool sigs)
{
    wd_cert_t cert;
    int err = cons_join_open (env->body, env->body_len, self->chain, sigs, &cert);
    if (err != WD_OK)
        return err;
    if (!cons_reputation_is_member (self, env->from))
        return CONS_ERR_TX_NOT_MEMBER; /* the sponsor left earlier in this block */
    /* keys a row held before a rotate count too: a key never returns */
    if (s_key_used (self, 0, cert.sign_pk))
        return CONS_ERR_TX_EXISTS;
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries[i].cert.name, cert.name) == 0)
            return CONS_ERR_TX_DUPLICATE;
    if (s_key_used (self, 1, cert.vrf_pk) || s_key_used (self, 2, cert.curve_pk))
        return CONS_ERR_TX_DUPLICATE;
    if (self->count >= CONS_VALIDATORS_MAX)
        return CONS_ERR_TX_LIMIT;
    if (self->count == self->cap) {
        size_t cap = self->cap * 2;
        cons_rep_entry_t *entries = realloc (self->entries, cap * sizeof *entries);
        if (!entries)
            abort ();
        self->entries = entries;
        cons_node_status_t *status = realloc (self->status, cap * sizeof *status);
        if (!status)
            abort ();
        self->status = status;
        self->cap = cap;
    }
    s_entry_init (&self->entries[self->count], &cert);
    self->entries[self->count].joined = height;
    memset (&self->status[self->count], 0, sizeof self->status[self->count]);
    self->count++;
    self->members_version++;
    return WD_OK;
}

/* A rotate record sealed by a member's current key around a rotate-request
   signed by its new key: the row takes the new certificate and keeps its
   counters, status and quarantine; the old keys are retired. Returns the
   first failed rule; a failed record changes nothing. */
static int
s_apply_rotate (cons_reputation_t *self, const wd_envelope_t *env, uint64_t height, bool sigs)
{
    wd_cert_t cert;
    int err = cons_rotate_open (env->body, env->body_len, self->chain, env->from, sigs, &cert);
    if (err != WD_OK)
        return err;
    cons_rep_entry_t *e = s_find (self, env->from);
    if (!e || e->left)
        return CONS_ERR_TX_NOT_MEMBER; /* left or rotated earlier in this block */
    if (strcmp (e->name, cert.name) != 0)
        return CONS_ERR_TX_NAME;
    if (s_key_used (self, 0, cert.sign_pk))
        return CONS_ERR_TX_EXISTS;
    if (s_key_used (self, 1, cert.vrf_pk) || s_key_used (self, 2, cert.curve_pk))
        return CONS_ERR_TX_DUPLICATE;
    if (self->retired_count == self->retired_cap) {
        size_t cap = self->retired_cap ? self->retired_cap * 2 : 4;
        s_retired_t *retired = realloc (self->retired, cap * sizeof *retired);
        if (!retired)
            abort ();
        self->retired = retired;
        self->retired_cap = cap;
    }
    s_retired_t *r = &self->retired[self->retired_count++];
    memcpy (r->sign_pk, e->cert.sign_pk, WD_PUBKEY_LEN);
    memcpy (r->vrf_pk, e->cert.vrf_pk, WD_PUBKEY_LEN);
    memcpy (r->curve_pk, e->cert.curve_pk, WD_PUBKEY_LEN);
    r->row = (size_t)(e - self->entries);
    memcpy (e->id, cert.sign_pk, WD_PUBKEY_LEN);
    e->cert = cert;
    e->tier_bp = s_tier_bp (&cert);
    e->rotated = height;
    self->members_version++;
    return WD_OK;
}

/* A leave record signed by the leaving member. */
static int
s_apply_leave (cons_reputation_t *self, const wd_envelope_t *env, uint64_t height)
{
    uint8_t node[WD_PUBKEY_LEN];
    int err = cons_leave_decode (env->body, env->body_len, node);
    if (err != WD_OK)
        return err;
    if (memcmp (node, env->from, WD_PUBKEY_LEN) != 0)
        return CONS_ERR_TX_SIGNER;
    cons_rep_entry_t *e = s_find (self, node);
    if (!e || e->left)
        return CONS_ERR_TX_NOT_MEMBER;
    size_t members = 0;
    for (size_t i = 0; i < self->count; i++)
        members += self->entries[i].left == 0;
    if (members <= 1)
        return CONS_ERR_TX_LAST;
    e->left = height;
    self->members_version++;
    return WD_OK;
}

static void
s_apply_cert (cons_reputation_t *self, const cons_bytes_t *cert_bytes,
              const cons_validator_t *validators, size_t count, uint64_t height)
{
    cons_cert_sig_t *sigs = malloc (CONS_VALIDATORS_MAX * sizeof *sigs);
    if (!sigs)
        abort ();
    cons_cert_t cert;
    if (cons_cert_decode (cert_bytes->data, cert_bytes->len, &cert, sigs, CONS_VALIDATORS_MAX) ==
        WD_OK) {
        size_t s = 0;
        for (size_t i = 0; i < count; i++) {
            cons_rep_entry_t *e = s_find (self, validators[i].pk);
            while (s < cert.count && cert.sigs[s].index < i)
                s++;
            bool made = s < cert.count && cert.sigs[s].index == i;
            if (!e)
                continue;
            e->precommits_possible++;
            if (made) {
                e->precommits_made++;
                e->last_seen = height;
            }
        }
    }
    free (sigs);
}

/* Folds block into self; with rules, stops at the first record that breaks
   a committee rule and returns its reason (self is then half-folded: the
   caller works on a copy). */
static int
s_fold (cons_reputation_t *self, const cons_block_t *block, const cons_validator_t *prev_validators,
        size_t prev_count, const cons_rep_rules_t *rules, size_t *bad_index)
{
    assert (self && block);
    assert (block->height == self->height + 1);
    uint64_t h = block->height;
    if (h > 1 && (h - 1) % self->epoch_blocks == 0)
        for (size_t i = 0; i < self->count; i++) {
            cons_rep_entry_t *e = &self->entries[i];
            e->passed = s_decay (e->passed);
            e->failed = s_decay (e->failed);
            e->precommits_made = s_decay (e->precommits_made);
            e->precommits_possible = s_decay (e->precommits_possible);
            e->hits = s_decay (e->hits);
            e->misses = s_decay (e->misses);
        }
    s_expire (self, h);
    if (h > 1 && block->last_cert.len > 0 && prev_validators)
        s_apply_cert (self, &block->last_cert, prev_validators, prev_count, h);
    if (!prev_validators)
        prev_count = 0;
    for (size_t i = 0; i < block->record_count; i++) {
        wd_envelope_t env;
        if (wd_envelope_decode (block->records[i].data, block->records[i].len, &env) != WD_OK)
            continue;
        if (strcmp (env.type, CONS_COMMITTEE_VERDICT_TYPE) == 0) {
            int err = s_apply_committee (self, &env, h, prev_validators, prev_count, rules);
            if (err != WD_OK && rules) {
                if (bad_index)
                    *bad_index = i;
                return err;
            }
        } else if (strcmp (env.type, ATTEST_EVIDENCE_TYPE) == 0)
            s_apply_evidence (self, block->records[i].data, block->records[i].len, env.body,
                              env.body_len, h);
        else if (strcmp (env.type, CONS_REP_EQUIVOCATION_TYPE) == 0)
            s_apply_equivocation (self, env.body, env.body_len, h);
        else if (strcmp (env.type, CONS_JOIN_TYPE) == 0 ||
                 strcmp (env.type, CONS_LEAVE_TYPE) == 0 ||
                 strcmp (env.type, CONS_ROTATE_TYPE) == 0) {
            bool sigs = rules && rules->claims;
            int err = strcmp (env.type, CONS_JOIN_TYPE) == 0 ? s_apply_join (self, &env, h, sigs)
                      : strcmp (env.type, CONS_LEAVE_TYPE) == 0
                          ? s_apply_leave (self, &env, h)
                          : s_apply_rotate (self, &env, h, sigs);
            if (err != WD_OK && rules) {
                if (bad_index)
                    *bad_index = i;
                return err;
            }
        }
    }
    self->height = h;
    return WD_OK;
}

void
cons_reputation_apply (cons_reputation_t *self, const cons_block_t *block,
                       const cons_validator_t *prev_validators, size_t prev_count)
{
    (void)s_fold (self, block, prev_validators, prev_count, NULL, NULL);
}

int
cons_reputation_check (const cons_reputation_t *self, const cons_block_t *block,
                       const cons_validator_t *prev_validators, size_t prev_count,
                       const cons_rep_rules_t *rules, size_t *bad_index)
{
    assert (self && block && rules);
    bool any = false;
    for (size_t i = 0; i < block->record_count && !any; i++) {
        wd_envelope_t env;
        any = wd_envelope_decode (block->records[i].data, block->records[i].len, &env) == WD_OK &&
              (strcmp (env.type, CONS_COMMITTEE_VERDICT_TYPE) == 0 ||
               strcmp (env.type, CONS_JOIN_TYPE) == 0 || strcmp (env.type, CONS_LEAVE_TYPE) == 0 ||
               strcmp (env.type, CONS_ROTATE_TYPE) == 0);
    }
    if (!any)
        return WD_OK; /* nothing the committee rules judge */
    cons_reputation_t *copy = cons_reputation_dup (self);
    int err = s_fold (copy, block, prev_validators, prev_count, rules, bad_index);
    cons_reputation_destroy (&copy);
    return err;
}

int
cons_reputation_node_status (const cons_reputation_t *self, const uint8_t node[WD_PUBKEY_LEN],
                             cons_node_status_t *out)
{
    assert (self && node && out);
    memset (out, 0, sizeof *out);
    const cons_rep_entry_t *e = s_find (self, node);
    if (!e)
        return WD_ERR_NOT_FOUND;
    *out = self->status[e - self->entries];
    return WD_OK;
}

size_t
cons_reputation_cases (const cons_reputation_t *self)
{
    return self->case_count;
}

uint64_t
cons_reputation_height (const cons_reputation_t *self)
{
    return self->height;
}

size_t
cons_reputation_count (const cons_reputation_t *self)
{
    return self->count;
}

const cons_rep_entry_t *
cons_reputation_entry (const cons_reputation_t *self, size_t index)
{
    assert (index < self->count);
    return &self->entries[index];
}

bool
cons_reputation_quarantined (const cons_rep_entry_t *e, uint64_t epoch)
{
    return epoch < e->quarantine_until;
}

uint32_t
cons_reputation_score (const cons_rep_entry_t *e, uint64_t epoch)
{
    if (cons_reputation_quarantined (e, epoch))
        return 0;
    /* Counters are bounded by heights and records (far below 2^40), so
       these products stay well inside 64 bits. */
    uint64_t pass = (e->passed + 1) * CONS_REP_BP / (e->passed + e->failed + 2);
    uint64_t part = (e->precommits_made + 1) * CONS_REP_BP / (e->precommits_possible + 2);
    uint64_t acc = (e->hits + 1) * CONS_REP_BP / (e->hits + e->misses + 1);
    uint64_t score = pass * part / CONS_REP_BP * acc / CONS_REP_BP * e->tier_bp / CONS_REP_BP;
    return (uint32_t)score;
}

bool
cons_reputation_excluded (const cons_reputation_t *self, size_t index, uint64_t epoch)
{
    assert (index < self->count);
    const cons_rep_entry_t *e = &self->entries[index];
    return e->left != 0 || cons_reputation_quarantined (e, epoch) ||
           self->status[index].tier == ATTEST_TRUST_CONTRAINDICATED ||
           (e->joined != 0 && self->status[index].tier == ATTEST_TRUST_NONE);
}

size_t
cons_reputation_weights (const cons_reputation_t *self, uint64_t epoch, cons_validator_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++) {
        const cons_rep_entry_t *e = &self->entries[i];
        if (cons_reputation_excluded (self, i, epoch))
            continue;
        uint64_t w = cons_reputation_score (e, epoch) / 100;
        if (w < CONS_REP_WEIGHT_FLOOR)
            w = CONS_REP_WEIGHT_FLOOR;
        if (w > CONS_REP_WEIGHT_CAP)
            w = CONS_REP_WEIGHT_CAP;
        memcpy (out[n].pk, e->id, WD_PUBKEY_LEN);
        out[n].weight = w;
        n++;
    }
    /* nobody left: every member that is a genesis node or was appraised,
       else every member */
    for (int pass = 0; pass < 2 && n == 0; pass++)
        for (size_t i = 0; i < self->count; i++) {
            const cons_rep_entry_t *e = &self->entries[i];
            if (e->left || (pass == 0 && e->joined && self->status[i].tier == ATTEST_TRUST_NONE))
                continue;
            memcpy (out[n].pk, e->id, WD_PUBKEY_LEN);
            out[n].weight = 1;
            n++;
        }
    return n;
}

uint8_t *
cons_reputation_encode (const cons_reputation_t *self, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "height");
    wd_writer_uint (w, self->height);
    wd_writer_key (w, "nodes");
    wd_writer_array (w, self->count);
    for (size_t i = 0; i < self->count; i++) {
        const cons_rep_entry_t *e = &self->entries[i];
        /* hits and misses only when non-zero: a table without committee
           verdicts encodes (and hashes) as before */
        wd_writer_map (w, 9 + (e->hits > 0) + (e->misses > 0) + (e->joined > 0) + (e->left > 0) +
                              (e->rotated > 0));
        wd_writer_key (w, "failed");
        wd_writer_uint (w, e->failed);
        if (e->hits > 0) {
            wd_writer_key (w, "hits");
            wd_writer_uint (w, e->hits);
        }
        wd_writer_key (w, "id");
        wd_writer_bin (w, e->id, WD_PUBKEY_LEN);
        /* joined and left only when non-zero: a genesis-only chain hashes
           as before */
        if (e->joined > 0) {
            wd_writer_key (w, "joined");
            wd_writer_uint (w, e->joined);
        }
        wd_writer_key (w, "last_seen");
        wd_writer_uint (w, e->last_seen);
        if (e->left > 0) {
            wd_writer_key (w, "left");
            wd_writer_uint (w, e->left);
        }
        wd_writer_key (w, "made");
        wd_writer_uint (w, e->precommits_made);
        if (e->misses > 0) {
            wd_writer_key (w, "misses");
            wd_writer_uint (w, e->misses);
        }
        wd_writer_key (w, "passed");
        wd_writer_uint (w, e->passed);
        wd_writer_key (w, "possible");
        wd_writer_uint (w, e->precommits_possible);
        wd_writer_key (w, "quarantine_until");
        wd_writer_uint (w, e->quarantine_until);
        /* rotated only when non-zero: a chain without rotations hashes as
           before */
        if (e->rotated > 0) {
            wd_writer_key (w, "rotated");
            wd_writer_uint (w, e->rotated);
        }
        wd_writer_key (w, "slashes");
        wd_writer_uint (w, e->slashes);
        wd_writer_key (w, "tier_bp");
        wd_writer_uint (w, e->tier_bp);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_REP_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

void
cons_reputation_hash (const cons_reputation_t *self, uint8_t hash[32])
{
    size_t len;
    uint8_t *buf = cons_reputation_encode (self, &len);
    wd_hash_sha256 (hash, buf, len);
    free (buf);
}
