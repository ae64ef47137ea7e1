/*
 * cons_reputation: the reputation table, a pure function of the ledger
 * (DESIGN.md §8; docs/PROTOCOL.md "Reputation").
 *
 * The table starts from the genesis nodes (in ascending order of node id)
 * and is folded over the blocks in height order with cons_reputation_apply.
 * Only integers are used, so every node that replays the same blocks holds
 * a bit-identical table, and cons_reputation_hash names it. What a block
 * contributes:
 *
 *   - at the first block of every epoch after the first (height h with
 *     (h - 1) mod epoch_blocks = 0, h > 1): time decay, every counter c
 *     becomes c - c / CONS_REP_DECAY_DIV;
 *   - each "verdict" record (attest_verdict.h) about a node subject: a pass
 *     for the subject when its tier is affirming or warning, a failure when
 *     contraindicated (the certified verdict is the outcome of the evidence
 *     it names); last_seen of the subject becomes h;
 *   - each "evidence" record about a node subject: last_seen becomes h;
 *   - last_cert (the certificate of block h - 1, checked by the ledger)
 *     against the validator set of h - 1: every validator of that set
 *     counts one possible precommit, every signer one made precommit, and a
 *     signer's last_seen becomes h;
 *   - each "equivocation" record (body: cons_vote evidence): the validator
 *     is slashed (passes and precommits made set to 0, slashes + 1) and
 *     quarantined for the rest of the epoch of h and CONS_REP_QUARANTINE_EPOCHS
 *     more (quarantine_until = epoch of h + 1 + CONS_REP_QUARANTINE_EPOCHS).
 *
 * score (basis points, 0..10000) = pass * participation / 10000 * tier /
 * 10000 with pass = (passed + 1) * 10000 / (passed + failed + 2),
 * participation = (made + 1) * 10000 / (possible + 2), tier from the
 * node certificate's key_protection: CONS_REP_TIER_SOFTWARE_BP for
 * "software", 10000 otherwise; 0 while quarantined.
 * weight = 0 while quarantined, else min(CONS_REP_WEIGHT_CAP,
 * max(CONS_REP_WEIGHT_FLOOR, score / 100)).
 */
#ifndef CONS_REPUTATION_H
#define CONS_REPUTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_block.h"
#include "cons_vote.h"
#include "wd_cert.h"
#include "wd_genesis.h"

#define CONS_REP_VERSION           1
#define CONS_REP_DECAY_DIV         4    /* each epoch keeps 3/4 of every counter */
#define CONS_REP_QUARANTINE_EPOCHS 4    /* epochs of quarantine after equivocation */
#define CONS_REP_TIER_SOFTWARE_BP  5000 /* key protection "software" */
#define CONS_REP_WEIGHT_FLOOR      1
#define CONS_REP_WEIGHT_CAP        100
#define CONS_REP_BP                10000          /* basis points: 100 % */
#define CONS_REP_EQUIVOCATION_TYPE "equivocation" /* envelope type of evidence */

/* One node's row. */
typedef struct {
    uint8_t id[WD_PUBKEY_LEN];
    char name[WD_CERT_NAME_MAX + 1];
    uint32_t tier_bp; /* key-protection factor */
    uint64_t passed, failed;
    uint64_t precommits_made, precommits_possible;
    uint64_t last_seen;        /* height, 0: never */
    uint64_t quarantine_until; /* first epoch no longer quarantined, 0: none */
    uint64_t slashes;
} cons_rep_entry_t;

typedef struct cons_reputation cons_reputation_t;

/* The table of a genesis before any block. Aborts on out-of-memory. The
   caller keeps genesis alive. */
cons_reputation_t *
cons_reputation_new (const wd_genesis_t *genesis);

/* A deep copy. */
cons_reputation_t *
cons_reputation_dup (const cons_reputation_t *self);

void
cons_reputation_destroy (cons_reputation_t **self_p);

/* Folds block (decoded; its height must be the table's height + 1,
   asserted) into the table. prev_validators is the validator set of height
   - 1 (ignored at height 1), whose indices last_cert uses. Records the
   rules do not know, bodies that do not decode and certificates that do not
   decode are ignored (the ledger refuses such blocks before they get
   here). */
void
cons_reputation_apply (cons_reputation_t *self, const cons_block_t *block,
                       const cons_validator_t *prev_validators, size_t prev_count);

/* Height of the last block folded in (0: none). */
uint64_t
cons_reputation_height (const cons_reputation_t *self);

size_t
cons_reputation_count (const cons_reputation_t *self);
const cons_rep_entry_t *
cons_reputation_entry (const cons_reputation_t *self, size_t index);

/* The epoch of a height: (height - 1) / epoch_blocks (0 for height 0). */
uint64_t
cons_reputation_epoch (const cons_reputation_t *self, uint64_t height);

/* Whether entry is quarantined in epoch. */
bool
cons_reputation_quarantined (const cons_rep_entry_t *entry, uint64_t epoch);

/* The score of entry in epoch, in basis points. */
uint32_t
cons_reputation_score (const cons_rep_entry_t *entry, uint64_t epoch);

/* The validator set for epoch from this table: every node whose weight in
   that epoch is above zero, in table order; when none is, every node with
   weight 1. out must hold cons_reputation_count entries; returns the
   count. */
size_t
cons_reputation_weights (const cons_reputation_t *self, uint64_t epoch, cons_validator_t *out);

/* The canonical table (caller frees):
   {height: uint, nodes: [{failed, id: bin(32), last_seen, made, passed,
    possible, quarantine_until, slashes, tier_bp}, ...], v: 1}. */
uint8_t *
cons_reputation_encode (const cons_reputation_t *self, size_t *len);

/* SHA-256 of cons_reputation_encode. */
void
cons_reputation_hash (const cons_reputation_t *self, uint8_t hash[32]);

#endif
