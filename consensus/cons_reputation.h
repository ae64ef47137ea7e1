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
 *   - each "committee-verdict" record (cons_committee.h) that decides its
 *     evidence record: a pass (certified) or a failure (rejected) for the
 *     subject's node — for a host subject, the node that attested it
 *     (subject.node): the node answers for the host it boots; for a node
 *     subject also its last_seen becomes h and its status
 *     (cons_reputation_node_status) the outcome; a hit or a miss for every
 *     verifier of the record; plain "verdict" records change nothing;
 *   - each "evidence" record about a node subject: last_seen becomes h;
 *   - last_cert (the certificate of block h - 1, checked by the ledger)
 *     against the validator set of h - 1: every validator of that set
 *     counts one possible precommit, every signer one made precommit, and a
 *     signer's last_seen becomes h;
 *   - each "equivocation" record (body: cons_vote evidence) about an
 *     equivocation not slashed before (one slash per validator, height,
 *     round and vote type, however many nodes report it): the validator
 *     is slashed (passes and precommits made set to 0, slashes + 1) and
 *     quarantined for the rest of the epoch of h and CONS_REP_QUARANTINE_EPOCHS
 *     more (quarantine_until = epoch of h + 1 + CONS_REP_QUARANTINE_EPOCHS);
 *   - each "join" record (cons_member_tx.h) appends the new node's row, in
 *     commit order, and each "leave" record marks its signer's row as left;
 *   - each "rotate" record gives its signer's row the new certificate (id,
 *     keys, tier) and keeps every counter; the old keys are retired (never
 *     usable again; verdicts and equivocations they signed before still
 *     count for the row).
 *
 * score (basis points, 0..10000) = pass * participation / 10000 * tier /
 * 10000 with pass = (passed + 1) * 10000 / (passed + failed + 2),
 * participation = (made + 1) * 10000 / (possible + 2), tier from the
 * node certificate's key_protection: CONS_REP_TIER_SOFTWARE_BP for
 * "software" and "*-software" (wd_cert_protection_is_software), 10000
 * otherwise; 0 while quarantined.
 * weight = 0 (out of the validator set) while quarantined or while the
 * node's latest decided attestation (cons_reputation_node_status) is
 * contraindicated, else min(CONS_REP_WEIGHT_CAP, max(CONS_REP_WEIGHT_FLOOR,
 * score / 100)); when that leaves nobody, every node weighs 1.
 */
#ifndef CONS_REPUTATION_H
#define CONS_REPUTATION_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_verdict.h"
#include "cons_block.h"
#include "cons_committee.h"
#include "cons_vote.h"
#include "wd_cert.h"
#include "wd_genesis.h"

#define CONS_REP_VERSION           1
#define CONS_REP_DECAY_DIV         4    /* each epoch keeps 3/4 of every counter */
#define CONS_REP_QUARANTINE_EPOCHS 4    /* epochs of quarantine after equivocation */
#define CONS_REP_TIER_SOFTWARE_BP  5000 /* key protection "software", "*-software" */
#define CONS_REP_WEIGHT_FLOOR      1
#define CONS_REP_WEIGHT_CAP        100
#define CONS_REP_BP                10000          /* basis points: 100 % */
#define CONS_REP_EQUIVOCATION_TYPE "equivocation" /* envelope type of evidence */
/* An evidence record's case lives in the epoch of the block that carried
   it and this many more; then verdicts about it are refused. */
#define CONS_REP_CASE_EPOCHS CONS_COMMITTEE_CASE_EPOCHS

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
    /* verifier accuracy: this node's verdicts that agreed (hits) or
       disagreed (misses) with the final outcome of the evidence */
    uint64_t hits, misses;
    /* membership (docs/PROTOCOL.md "Membership transactions"): the node's
       certificate (from the genesis or its join record), the height of the
       block that committed its join (0: a genesis node) and its leave (0:
       still a member). Rows are never removed: a node that left keeps its
       row, its key can never join again. */
    wd_cert_t cert;
    uint64_t joined, left;
    /* the height of the block that committed the row's latest `rotate`
       (0: none): id and cert are then the new keys', the counters carry
       over */
    uint64_t rotated;
} cons_rep_entry_t;

/* A node's latest attestation outcome on the chain: the outcome of the
   latest decided evidence record about it (subject kind "node"), by the
   verifier-committee rules (docs/PROTOCOL.md "Verifier committees"). A
   plain value. */
typedef struct {
    /* ATTEST_TRUST_NONE: no evidence about the node has been decided yet
       (the other fields are zero). Certified evidence: the lowest tier
       among the accepting verdicts that decided it (AFFIRMING or WARNING);
       evidence rejected by the validators: CONTRAINDICATED. */
    attest_trust_t tier;
    bool escalated;                           /* decided by all validators */
    uint8_t evidence[ATTEST_EVIDENCE_ID_LEN]; /* the evidence record's id */
    uint64_t evidence_time;                   /* its body's time (Unix seconds) */
    uint64_t height;                          /* height of the block that decided it */
    bool has_digest;                          /* the evidence carries a log */
    uint8_t digest[32];                       /* its log's sha256 register */
} cons_node_status_t;

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

/* What the committee rules need from the ledger (cons_reputation_check). */
typedef struct {
    const uint8_t *chain; /* the chain id */
    uint64_t tau;         /* the genesis `verifiers` */
    bool claims;          /* verify sortition claims (false: a trusted replay) */
    /* The committee epoch e (seed of its first block and its validator set):
       false when that first block is not committed yet. */
    bool (*epoch_fn) (void *ctx, uint64_t epoch, cons_committee_epoch_t *out);
    /* Whether an "evidence" record with this id is in a block below height. */
    bool (*seen_fn) (void *ctx, const uint8_t id[32], uint64_t height);
    void *ctx;
} cons_rep_rules_t;

/* Checks the committee rules of block against the table (which it does not
   change): each "committee-verdict" record, in block order, after the ones
   before it (docs/PROTOCOL.md "Verifier committees"): its body decodes
   (CONS_ERR_BLOCK_RECORD); its epoch is the block's or the one before and
   rules->epoch_fn knows it (CONS_ERR_COMMITTEE_EPOCH); the evidence it
   names is open: CONS_ERR_COMMITTEE_EXPIRED when it is in the chain but
   its case is gone, CONS_ERR_COMMITTEE_EVIDENCE when neither in the chain
   nor earlier in the block; not decided (CONS_ERR_COMMITTEE_DECIDED); same
   subject (CONS_ERR_COMMITTEE_SUBJECT); not signed by the subject node
   (CONS_ERR_COMMITTEE_SELF); the signer's first verdict on it
   (CONS_ERR_COMMITTEE_TWICE); then with a claim cons_committee_check_claim's
   reasons (when rules->claims), without one the case is escalated
   (CONS_ERR_COMMITTEE_NOT_ESCALATED) and the signer a validator of
   prev_validators (CONS_ERR_UNKNOWN_VALIDATOR). *bad_index (may be NULL)
   gets the failing record's index. */
int __attribute__ ((warn_unused_result))
cons_reputation_check (const cons_reputation_t *self, const cons_block_t *block,
                       const cons_validator_t *prev_validators, size_t prev_count,
                       const cons_rep_rules_t *rules, size_t *bad_index);

/* The latest decided evidence about node: WD_OK (tier NONE when none yet)
   or WD_ERR_NOT_FOUND for a node outside the table (*out zeroed). */
int __attribute__ ((warn_unused_result))
cons_reputation_node_status (const cons_reputation_t *self, const uint8_t node[WD_PUBKEY_LEN],
                             cons_node_status_t *out);

/* Number of evidence cases open or decided and not yet expired. */
size_t
cons_reputation_cases (const cons_reputation_t *self);

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

/* The row of node id (a member, or a node that left), or NULL. */
const cons_rep_entry_t *
cons_reputation_find (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN]);

/* Whether id is a current member (a row that has not left, by its current
   key: a key rotated away is no member). */
bool
cons_reputation_is_member (const cons_reputation_t *self, const uint8_t id[WD_PUBKEY_LEN]);

/* A counter that changes whenever a join, leave or rotate is folded in (not part
   of the table's hash): a driver compares it to learn that the members
   changed. */
uint64_t
cons_reputation_members_version (const cons_reputation_t *self);

/* Whether entry is quarantined in epoch. */
bool
cons_reputation_quarantined (const cons_rep_entry_t *entry, uint64_t epoch);

/* The score of entry in epoch, in basis points. */
uint32_t
cons_reputation_score (const cons_rep_entry_t *entry, uint64_t epoch);

/* Whether the node at index is left out of the validator set of epoch by
   this table: it has left; quarantined in epoch; its latest decided
   attestation (cons_reputation_node_status) is contraindicated, until a
   later one of its evidence records is certified; or it joined through the
   ledger and none of its evidence has been decided yet (a joined node
   becomes a validator only once the table holds a certified evidence
   record about it). */
bool
cons_reputation_excluded (const cons_reputation_t *self, size_t index, uint64_t epoch);

/* The validator set for epoch from this table: every node not excluded
   (cons_reputation_excluded), in table order, weighted by its score; when
   every node is excluded, every node that has not left and is a genesis
   node or has a decided attestation, with weight 1 (or, when there is
   none, every node that has not left: a chain never loses its
   validators). out must hold cons_reputation_count entries; returns
   the count. */
size_t
cons_reputation_weights (const cons_reputation_t *self, uint64_t epoch, cons_validator_t *out);

/* The canonical table (caller frees):
   {height: uint, nodes: [{failed, id: bin(32), last_seen, made, passed,
    possible, quarantine_until, slashes, tier_bp}, ...], v: 1}, each node
   also with hits, joined, left, misses and rotated when not zero. */
uint8_t *
cons_reputation_encode (const cons_reputation_t *self, size_t *len);

/* SHA-256 of cons_reputation_encode. */
void
cons_reputation_hash (const cons_reputation_t *self, uint8_t hash[32]);

#endif
