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
#include "wd_codec.h"
#include "wd_hash.h"

struct cons_reputation {
    const wd_genesis_t *genesis;
    uint64_t epoch_blocks;
    uint64_t height;
    size_t count;
    cons_rep_entry_t *entries; /* ascending id, as in the genesis */
};

cons_reputation_t *
cons_reputation_new (const wd_genesis_t *genesis)
{
    assert (genesis);
    cons_reputation_t *self = calloc (1, sizeof *self);
    size_t n = wd_genesis_node_count (genesis);
    if (!self || !(self->entries = calloc (n ? n : 1, sizeof *self->entries)))
        abort ();
    self->genesis = genesis;
    self->epoch_blocks = wd_genesis_param (genesis, "epoch_blocks");
    self->count = n;
    for (size_t i = 0; i < n; i++) {
        const wd_cert_t *cert = wd_genesis_node (genesis, i);
        cons_rep_entry_t *e = &self->entries[i];
        memcpy (e->id, cert->sign_pk, WD_PUBKEY_LEN);
        snprintf (e->name, sizeof e->name, "%s", cert->name);
        e->tier_bp = strcmp (cert->key_protection, "software") == 0 ? CONS_REP_TIER_SOFTWARE_BP
                                                                    : CONS_REP_BP;
    }
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
    copy->entries = malloc ((self->count ? self->count : 1) * sizeof *copy->entries);
    if (!copy->entries)
        abort ();
    memcpy (copy->entries, self->entries, self->count * sizeof *copy->entries);
    return copy;
}

void
cons_reputation_destroy (cons_reputation_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    free ((*self_p)->entries);
    free (*self_p);
    *self_p = NULL;
}

static int
s_entry_cmp (const void *key, const void *entry)
{
    return memcmp (key, ((const cons_rep_entry_t *)entry)->id, WD_PUBKEY_LEN);
}

static cons_rep_entry_t *
s_find (cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    return bsearch (id, self->entries, self->count, sizeof *self->entries, s_entry_cmp);
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

/* A verdict about a node subject: pass or fail. */
static void
s_apply_verdict (cons_reputation_t *self, const uint8_t *body, size_t len, uint64_t height)
{
    attest_verdict_body_t *v = malloc (sizeof *v);
    if (!v)
        abort ();
    if (attest_verdict_decode (body, len, v) == WD_OK && v->subject.kind == ATTEST_SUBJECT_NODE) {
        cons_rep_entry_t *e = s_find (self, v->subject.node);
        if (e) {
            if (v->tier == ATTEST_TRUST_CONTRAINDICATED)
                e->failed++;
            else
                e->passed++;
            e->last_seen = height;
        }
    }
    free (v);
}

static void
s_apply_evidence (cons_reputation_t *self, const uint8_t *body, size_t len, uint64_t height)
{
    attest_evidence_t *ev = malloc (sizeof *ev);
    if (!ev)
        abort ();
    if (attest_evidence_decode (body, len, ev) == WD_OK &&
        ev->subject.kind == ATTEST_SUBJECT_NODE) {
        cons_rep_entry_t *e = s_find (self, ev->subject.node);
        if (e)
            e->last_seen = height;
    }
    free (ev);
}

static void
s_apply_equivocation (cons_reputation_t *self, const uint8_t *body, size_t len, uint64_t height)
{
    cons_evidence_t ev;
    if (cons_evidence_decode (body, len, &ev) != WD_OK)
        return;
    cons_rep_entry_t *e = s_find (self, ev.validator);
    if (!e)
        return;
    e->passed = 0;
    e->precommits_made = 0;
    e->slashes++;
    uint64_t until = cons_reputation_epoch (self, height) + 1 + CONS_REP_QUARANTINE_EPOCHS;
    if (until > e->quarantine_until)
        e->quarantine_until = until;
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

void
cons_reputation_apply (cons_reputation_t *self, const cons_block_t *block,
                       const cons_validator_t *prev_validators, size_t prev_count)
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
        }
    if (h > 1 && block->last_cert.len > 0 && prev_validators)
        s_apply_cert (self, &block->last_cert, prev_validators, prev_count, h);
    for (size_t i = 0; i < block->record_count; i++) {
        wd_envelope_t env;
        if (wd_envelope_decode (block->records[i].data, block->records[i].len, &env) != WD_OK)
            continue;
        if (strcmp (env.type, ATTEST_VERDICT_TYPE) == 0)
            s_apply_verdict (self, env.body, env.body_len, h);
        else if (strcmp (env.type, ATTEST_EVIDENCE_TYPE) == 0)
            s_apply_evidence (self, env.body, env.body_len, h);
        else if (strcmp (env.type, CONS_REP_EQUIVOCATION_TYPE) == 0)
            s_apply_equivocation (self, env.body, env.body_len, h);
    }
    self->height = h;
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
    uint64_t score = pass * part / CONS_REP_BP * e->tier_bp / CONS_REP_BP;
    return (uint32_t)score;
}

size_t
cons_reputation_weights (const cons_reputation_t *self, uint64_t epoch, cons_validator_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < self->count; i++) {
        const cons_rep_entry_t *e = &self->entries[i];
        if (cons_reputation_quarantined (e, epoch))
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
    if (n == 0)
        for (size_t i = 0; i < self->count; i++) {
            memcpy (out[n].pk, self->entries[i].id, WD_PUBKEY_LEN);
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
        wd_writer_map (w, 9);
        wd_writer_key (w, "failed");
        wd_writer_uint (w, e->failed);
        wd_writer_key (w, "id");
        wd_writer_bin (w, e->id, WD_PUBKEY_LEN);
        wd_writer_key (w, "last_seen");
        wd_writer_uint (w, e->last_seen);
        wd_writer_key (w, "made");
        wd_writer_uint (w, e->precommits_made);
        wd_writer_key (w, "passed");
        wd_writer_uint (w, e->passed);
        wd_writer_key (w, "possible");
        wd_writer_uint (w, e->precommits_possible);
        wd_writer_key (w, "quarantine_until");
        wd_writer_uint (w, e->quarantine_until);
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
