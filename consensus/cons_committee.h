/*
 * cons_committee: verifier committees (DESIGN.md §8, issue 8 item 4;
 * docs/PROTOCOL.md "Verifier committees").
 *
 * For every evidence record, VRF sortition (cons_sortition.h, role
 * CONS_ROLE_VERIFIER, subject = the evidence id) picks about `verifiers`
 * (a chain parameter) of the nodes, weighted by the validator weights of a
 * committee epoch. A selected node appraises the evidence and publishes a
 * committee verdict: an envelope of type "committee-verdict" whose body
 * wraps the attest_verdict body with its sortition claim:
 *
 *   {claim: {count, priority, proof},  optional: absent in an escalation
 *                                      verdict (the signer is a validator)
 *    epoch: uint,                      the committee epoch e
 *    v: 1,
 *    verdict: bin}                     the attest_verdict body's bytes
 *
 * The sortition input of evidence E in epoch e: the chain id, role 2, the
 * seed of block e * epoch_blocks + 1 (the first block of e), height
 * e * epoch_blocks + 1, round 0, subject E, the verifier's weight in the
 * validator set of e and that set's total, tau = `verifiers`.
 *
 * The rule (cons_committee_decide), over an evidence record's verdicts in
 * chain order: ACCEPT is a verdict whose tier is affirming or warning,
 * REJECT contraindicated. With no committee REJECT, two committee ACCEPTs
 * certify the record. One committee REJECT escalates it: from then on every
 * verdict counts with its signer's validator weight, and the record is
 * certified when the accepting weight is more than 2/3 of the total weight
 * of the set's validators other than the subject node (which may not vote
 * on its own evidence), rejected when the rejecting weight is. A decided
 * record takes no more verdicts. A record that never gets two ACCEPTs nor a
 * REJECT (fewer than two verifiers selected, or verdicts lost) is never
 * decided: its case expires and the attester publishes new evidence.
 *
 * This file holds the record format, the claim check, the rule, and a pure
 * tracker (cons_committee_t) that the engine feeds with evidence, verdicts,
 * committed records and time, and that says what is decided and which
 * records a proposer should put in the next block. Like cons_agree and
 * cons_gossip it does no I/O and reads no clock. The chain side of the rule
 * (what blocks may hold, reputation, node status) is in cons_reputation and
 * cons_ledger, built on the same functions.
 */
#ifndef CONS_COMMITTEE_H
#define CONS_COMMITTEE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_verdict.h"
#include "cons_block.h"
#include "cons_err.h"
#include "cons_sortition.h"
#include "cons_vote.h"
#include "wd_envelope.h"
#include "wd_genesis.h"

#define CONS_COMMITTEE_VERDICT_TYPE "committee-verdict" /* envelope type */
#define CONS_COMMITTEE_VERSION      1                   /* body "v" */
#define CONS_COMMITTEE_ACCEPT_MIN   2                   /* committee ACCEPTs that certify */
#define CONS_COMMITTEE_VERDICT_MAX  8192                /* bytes of the wrapped verdict body */
/* An evidence record's case lives in the epoch of the block that carried
   it and this many more; then the chain refuses verdicts about it. */
#define CONS_COMMITTEE_CASE_EPOCHS 2

/* ---- the record ---------------------------------------------------------- */

/* A committee verdict body, a plain value. */
typedef struct {
    uint64_t epoch;                /* the committee epoch */
    bool has_claim;                /* false: an escalation verdict */
    cons_sortition_claim_t claim;  /* the signer's sortition claim */
    attest_verdict_body_t verdict; /* verdict.evidence names the evidence */
} cons_committee_verdict_t;

/* Whether a verdict is an ACCEPT (tier affirming or warning). */
bool
cons_committee_accepts (const attest_verdict_body_t *verdict);

/* The canonical body; *out (caller frees). attest_verdict_encode's
   reasons (ATTEST_ERR_VERDICT_FIELD). */
int __attribute__ ((warn_unused_result))
cons_committee_verdict_encode (const cons_committee_verdict_t *cv, uint8_t **out, size_t *len);

/* Decodes a body strictly: the codec's canonical and schema reasons,
   WD_ERR_BAD_VERSION, WD_ERR_OVERSIZE (verdict above
   CONS_COMMITTEE_VERDICT_MAX), the claim's reasons
   (cons_sortition_claim_read), then attest_verdict_decode's reasons for the
   wrapped body. Encoding the result gives back the input. *cv is zeroed on
   failure. */
int __attribute__ ((warn_unused_result))
cons_committee_verdict_decode (const uint8_t *body, size_t len, cons_committee_verdict_t *cv);

/* Seals the body in a "committee-verdict" envelope on chain signed by
   verifier_pk through sign; *out (caller frees). */
int __attribute__ ((warn_unused_result))
cons_committee_verdict_seal (const cons_committee_verdict_t *cv,
                             const uint8_t chain[WD_CHAIN_ID_LEN],
                             const uint8_t verifier_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                             void *sign_ctx, uint8_t **out, size_t *len);

/* ---- selection --------------------------------------------------------- */

/* What a committee epoch is drawn from. Borrowed values. */
typedef struct {
    uint64_t epoch;
    uint64_t height;                    /* epoch * epoch_blocks + 1 */
    uint8_t seed[CONS_BLOCK_HASH_LEN];  /* the seed of block `height` */
    const cons_validator_t *validators; /* the validator set of the epoch */
    size_t count;
} cons_committee_epoch_t;

/* The sortition input of verifier (its weight in the epoch's set, 0 when
   absent) for evidence in epoch ep, with expected committee size tau. */
void
cons_committee_input (const uint8_t chain[WD_CHAIN_ID_LEN], const cons_committee_epoch_t *ep,
                      const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN],
                      const uint8_t verifier[WD_PUBKEY_LEN], uint64_t tau,
                      cons_sortition_input_t *in);

/* Checks the claim of a decoded committee verdict (has_claim must be true,
   asserted) signed by signer, against ep (cv->epoch must be ep->epoch,
   asserted): the signer is a genesis node (CONS_ERR_BLOCK_SIGNER), holds
   weight in the epoch's set (CONS_ERR_COMMITTEE_WEIGHT), and the claim
   verifies against its certificate's vrf_pk for this evidence
   (cons_sortition_verify's reasons). */
int __attribute__ ((warn_unused_result))
cons_committee_check_claim (const uint8_t chain[WD_CHAIN_ID_LEN], const wd_genesis_t *genesis,
                            const cons_committee_epoch_t *ep, uint64_t tau,
                            const uint8_t signer[WD_PUBKEY_LEN],
                            const cons_committee_verdict_t *cv);

/* cons_committee_check_claim with the signer's VRF key given (a node that
   joined through the ledger is not in the genesis): the weight and claim
   checks only. */
int __attribute__ ((warn_unused_result))
cons_committee_check_claim_key (const uint8_t chain[WD_CHAIN_ID_LEN],
                                const uint8_t vrf_pk[WD_PUBKEY_LEN],
                                const cons_committee_epoch_t *ep, uint64_t tau,
                                const uint8_t signer[WD_PUBKEY_LEN],
                                const cons_committee_verdict_t *cv);

/* ---- the rule ----------------------------------------------------------- */

typedef enum {
    CONS_COMMITTEE_OPEN = 0,  /* fewer than two ACCEPTs, no REJECT */
    CONS_COMMITTEE_ESCALATED, /* a REJECT: the validators decide */
    CONS_COMMITTEE_CERTIFIED, /* decided: ACCEPT */
    CONS_COMMITTEE_REJECTED,  /* decided by the validators: REJECT */
} cons_committee_state_t;

/* "open", "escalated", "certified", "rejected". Static. */
const char *
cons_committee_state_name (cons_committee_state_t state);

/* One verdict as the rule sees it. */
typedef struct {
    uint8_t signer[WD_PUBKEY_LEN];
    bool accept;
    bool committee;      /* carries a claim (selected verifier) */
    attest_trust_t tier; /* the verdict's tier */
} cons_committee_vote_t;

/* The state after votes (in chain order, at most one per signer): see the
   file comment. set is the validator set whose weights count in
   escalation (signers outside it weigh 0); subject (may be NULL: none) is
   the evidence's subject node, whose weight is left out of the total an
   escalated record needs more than 2/3 of (3 * w > 2 * (W - w_subject));
   with nothing left (the subject is the whole set) it stays ESCALATED.
   *tier (may be NULL) gets the outcome's tier: for CERTIFIED the lowest of
   the accepting votes' tiers (WARNING if any is, else AFFIRMING),
   CONTRAINDICATED for REJECTED, NONE otherwise. Pure. */
cons_committee_state_t
cons_committee_decide (const cons_committee_vote_t *votes, size_t count,
                       const cons_validator_t *set, size_t set_count,
                       const uint8_t subject[WD_PUBKEY_LEN], attest_trust_t *tier);

/* ---- the tracker ------------------------------------------------------- */

typedef struct cons_committee cons_committee_t;

typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    const wd_genesis_t *genesis; /* borrowed: members and their vrf_pk */
    uint64_t tau;                /* the genesis `verifiers` */
    uint64_t expire_ms;          /* a case is dropped this long after it was first seen */
    size_t cases_max;            /* cases kept at most (the oldest go first) */
    /* The certificate of a current member (NULL: not one), for verdict
       signers and their vrf_pk; NULL function: the genesis nodes. The
       engine passes the mesh's admitted set, which follows the ledger. */
    const wd_cert_t *(*find_node) (void *ctx, const uint8_t id[WD_PUBKEY_LEN]);
    void *find_ctx;
} cons_committee_config_t;

/* Defaults for what the caller leaves 0. */
#define CONS_COMMITTEE_EXPIRE_MS 600000 /* ten minutes */
#define CONS_COMMITTEE_CASES_MAX 4096

/* A new tracker (NULL on out-of-memory). cfg is copied; genesis must
   outlive the tracker. */
cons_committee_t *
cons_committee_new (const cons_committee_config_t *cfg);

void
cons_committee_destroy (cons_committee_t **self_p);

/* Gives the tracker a committee epoch (copied). It keeps the two highest
   epochs it was given: verdicts of other epochs are refused
   (CONS_ERR_COMMITTEE_EPOCH). The highest epoch's set weighs escalation
   votes. Call it at each epoch start with the new epoch (and once at
   start-up with the previous one too). CONS_ERR_STALE when ep is older than
   both kept epochs; WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
cons_committee_set_epoch (cons_committee_t *self, const cons_committee_epoch_t *ep);

/* An evidence record the caller has opened and accepted (its signature is
   not checked again). Copies the bytes. WD_OK (a new case, or the
   evidence of a case that had only verdicts: verdicts whose subject is not
   the evidence's are dropped then), CONS_ERR_DUPLICATE (known),
   CONS_ERR_BLOCK_RECORD (not an evidence envelope of this chain, or its
   body does not decode), WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
cons_committee_add_evidence (cons_committee_t *self, const uint8_t *env, size_t len,
                             uint64_t now_ms);

/* A committee verdict envelope from the network or from this node. Checks,
   in order: envelope decode and chain (CONS_ERR_BLOCK_RECORD,
   WD_ERR_WRONG_CHAIN), type (WD_ERR_UNEXPECTED_TYPE), the signer a genesis
   node or, with cfg.find_node, a member (CONS_ERR_BLOCK_SIGNER), the signature
   (WD_ERR_BAD_SIGNATURE), the body (cons_committee_verdict_decode's reasons), the epoch is kept
   (CONS_ERR_COMMITTEE_EPOCH); with a claim cons_committee_check_claim's
   reasons; without, the signer is a validator of the highest epoch
   (CONS_ERR_UNKNOWN_VALIDATOR) and the case is escalated
   (CONS_ERR_COMMITTEE_NOT_ESCALATED); the signer is not the evidence's
   subject node (CONS_ERR_COMMITTEE_SELF) and the subject matches the
   evidence's (CONS_ERR_COMMITTEE_SUBJECT, when the evidence is known); the
   case is not decided (CONS_ERR_COMMITTEE_DECIDED); no verdict of the
   signer for this evidence yet (CONS_ERR_COMMITTEE_TWICE). A verdict for
   evidence not seen yet opens a case that waits for it. WD_OK when
   kept. */
int __attribute__ ((warn_unused_result))
cons_committee_add_verdict (cons_committee_t *self, const uint8_t *env, size_t len,
                            uint64_t now_ms);

/* A record of the committed block at height (every record, in block
   order; others than evidence and committee verdicts are ignored): it is
   not proposed again, and the case follows the chain's decision. The
   height of an evidence record fixes when the chain expires its case
   (its epoch + CONS_COMMITTEE_CASE_EPOCHS). */
void
cons_committee_committed (cons_committee_t *self, uint64_t height, const uint8_t *env, size_t len);

/* Drops cases first seen more than expire_ms before now_ms (emitting
   CONS_COMMITTEE_OUT_EXPIRED for undecided ones). */
void
cons_committee_tick (cons_committee_t *self, uint64_t now_ms);

typedef enum {
    CONS_COMMITTEE_OUT_ESCALATED = 1, /* appraise it as a validator */
    CONS_COMMITTEE_OUT_CERTIFIED,     /* decided (locally: ready to propose) */
    CONS_COMMITTEE_OUT_REJECTED,
    CONS_COMMITTEE_OUT_EXPIRED, /* dropped undecided */
} cons_committee_out_kind_t;

typedef struct {
    cons_committee_out_kind_t kind;
    uint8_t evidence[ATTEST_EVIDENCE_ID_LEN];
} cons_committee_out_t;

/* Takes the next output (false: none). Each state change is reported
   once, in the order it happened. */
bool
cons_committee_next (cons_committee_t *self, cons_committee_out_t *out);

/* What the tracker knows about one evidence record. */
typedef struct {
    cons_committee_state_t state; /* by the verdicts held (committed or not) */
    bool chain_decided;           /* a committed block decided it */
    bool has_evidence;
    attest_subject_t subject; /* when has_evidence */
    size_t accepts, rejects;  /* committee verdicts held */
    size_t escalation_votes;  /* verdicts without a claim */
} cons_committee_status_t;

/* WD_ERR_NOT_FOUND when no case is kept for evidence. */
int __attribute__ ((warn_unused_result))
cons_committee_status (const cons_committee_t *self, const uint8_t evidence[ATTEST_EVIDENCE_ID_LEN],
                       cons_committee_status_t *out);

/* The records a proposer should put into the block at height (the tip +
   1; epoch E = (height - 1) / epoch_blocks of the genesis), in order, at
   most max records and max_bytes bytes: for each case (oldest first) whose
   state is not OPEN, whose evidence is held and whose case the chain has
   not expired at height (committed evidence of an epoch below E -
   CONS_COMMITTEE_CASE_EPOCHS is skipped), the evidence unless committed,
   then its uncommitted verdicts in the order the rule needs (REJECTs
   first, then the others), stopping at the one that decides it. Only
   verdicts the block rules take at height go in: epoch E or E - 1 (a claim
   of epoch E not in the epoch's first block), and an escalation verdict
   only once the records before it escalate the case and when its signer
   is a validator of the highest epoch given (the set of height - 1). The
   bytes are borrowed until the next call that changes the tracker.
   Returns the count. */
size_t
cons_committee_propose (cons_committee_t *self, uint64_t height, cons_bytes_t *out, size_t max,
                        size_t max_bytes);

/* Number of cases kept. */
size_t
cons_committee_size (const cons_committee_t *self);

#endif
