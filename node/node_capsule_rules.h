/*
 * node_capsule_rules: the decisions of capsule execution as pure functions
 * (docs/PROTOCOL.md "Executor selection" and "Key release decision";
 * docs/ARCHITECTURE.md "Capsules in the engine").
 *
 * node_capsule reads the ledger, the store and the genesis and hands the
 * facts to these functions; they take no lock, read no clock and do no
 * I/O, so every node that holds the same ledger decides the same, and the
 * unit test (tests/unit/test_node_capsule_rules.c) can drive every refusal
 * with plain values and assert its exact code:
 *
 *   - what the ledger says about a node as an executor (member, not
 *     contraindicated, not quarantined) -> capsule_executor_t;
 *   - whether a node may execute a task (its work area, its facts, every
 *     capsule's policy without the code digest);
 *   - the holder's key release decision, in the documented order;
 *   - the claim rounds: which claims count, the lowest priority wins (ties
 *     to the lower node id), a round closes NODE_CAPSULE_CLAIM_BLOCKS after
 *     it opened, an executor that misses its deadline (by block time) is
 *     passed over and the next round opens, NODE_CAPSULE_CLAIM_ROUNDS
 *     rounds in all then no executor;
 *   - the sortition input of a node: its weight in the validator set of the
 *     post's height (reputation weights), the set's total, and tau.
 */
#ifndef NODE_CAPSULE_RULES_H
#define NODE_CAPSULE_RULES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_verdict.h"
#include "capsule_format.h"
#include "capsule_policy.h"
#include "capsule_release.h"
#include "capsule_task.h"
#include "cons_sortition.h"
#include "cons_vote.h"
#include "wd_err.h"

/* Executor selection (docs/PROTOCOL.md "Executor selection"). */
#define NODE_CAPSULE_CLAIM_BLOCKS 4  /* blocks a claim round stays open */
#define NODE_CAPSULE_CLAIM_ROUNDS 3  /* rounds before "no eligible executor" */
#define NODE_CAPSULE_EXECUTOR_TAU 16 /* up to this many nodes: every eligible node claims */

/* What the ledger says about a node as an executor. Plain values; the
   engine fills them from cons_ledger_node_status, the reputation table of
   the current epoch and the node's certificate. */
typedef struct {
    bool member;                /* a genesis node the ledger knows */
    attest_trust_t tier;        /* its latest decided attestation */
    bool quarantined;           /* by the reputation table, this epoch */
    const char *key_protection; /* its certificate's (borrowed), NULL: unknown */
    bool has_measurement;
    uint8_t measurement[32]; /* its latest evidence's log digest */
} node_capsule_facts_t;

/* The facts of node as a policy candidate: 0 with *ex filled, or
   CAPSULE_ERR_EXEC_NOT_SELECTED (not a member), CAPSULE_ERR_EXEC_UNTRUSTED
   (contraindicated), CAPSULE_ERR_EXEC_QUARANTINED, in that order. */
int __attribute__ ((warn_unused_result))
node_capsule_facts_check (const node_capsule_facts_t *facts, const uint8_t node[WD_PUBKEY_LEN],
                          capsule_executor_t *ex);

/* Whether node may execute a task whose capsules carry these policies (each
   the canonical policy map as its holder reported it; the code digest is
   the holders' check and is not looked at). Checks, in this order: a work
   area on a tmpfs (can_execute false: CAPSULE_ERR_EXEC_WORK), the facts
   (node_capsule_facts_check), then each policy in order: its bytes decode
   (CAPSULE_ERR_POLICY or the codec's reason) and capsule_policy_check at
   now_ms holds (its CAPSULE_ERR_POLICY_* reason). Returns 0 when eligible. */
int __attribute__ ((warn_unused_result))
node_capsule_eligible (const node_capsule_facts_t *facts, const uint8_t node[WD_PUBKEY_LEN],
                       bool can_execute, const uint8_t *const policies[], const size_t *lens,
                       size_t count, uint64_t now_ms);

/* A task as a holder's ledger has it. */
typedef enum {
    NODE_CAPSULE_TASK_UNKNOWN = 0, /* no committed post */
    NODE_CAPSULE_TASK_POSTED,      /* claim rounds open */
    NODE_CAPSULE_TASK_SELECTED,    /* executor decided */
    NODE_CAPSULE_TASK_DONE,        /* receipt committed */
    NODE_CAPSULE_TASK_FAILED,      /* failure committed, or no executor */
} node_capsule_task_state_t;

/* The capsule's release policy from the holder's store: WD_OK with *policy
   (borrowed until the next call), or the store or parse reason. */
typedef int (node_capsule_policy_fn) (void *ctx, const uint8_t capsule[CAPSULE_ID_LEN],
                                      const capsule_policy_t **policy);

/* Everything the holder knows when a release request arrives. */
typedef struct {
    node_capsule_task_state_t state;
    const capsule_task_t *task;        /* state != UNKNOWN */
    const uint8_t *origin;             /* the post's signer (holds code and env) */
    const uint8_t *executor;           /* the decided executor (state >= SELECTED) */
    const uint8_t *proof;              /* the proof of its counted claim */
    const uint8_t *holder;             /* this node */
    const uint8_t *executor_curve;     /* curve_pk of the requester's certificate, NULL: none */
    const node_capsule_facts_t *facts; /* the requester's */
    node_capsule_policy_fn *policy_fn;
    void *policy_ctx;
    uint64_t now_ms;
} node_capsule_release_in_t;

/* The holder's decision on req from requester (docs/PROTOCOL.md "Key
   release decision"), the first failure in this order:
   1. CAPSULE_ERR_EXEC_PENDING: no post, or claim rounds still open;
   2. CAPSULE_ERR_EXEC_NOT_SELECTED: the task is over, or requester is not
      the decided executor, or req's proof is not its counted claim's;
   3. CAPSULE_ERR_EXEC_NOT_NAMED: the task names req's capsule with another
      holder (inputs: their holder; code and env: the origin);
   4. CAPSULE_ERR_EXEC_CURVE: executor_curve is not the certificate's;
   5. the facts: CAPSULE_ERR_EXEC_NOT_SELECTED, _UNTRUSTED, _QUARANTINED;
   6. the store: policy_fn's reason;
   7. capsule_policy_check with the task's code digest at now_ms.
   Returns 0 when the key may be released (unwrapping it is the caller's). */
int __attribute__ ((warn_unused_result))
node_capsule_release_decide (const node_capsule_release_in_t *in, const capsule_release_req_t *req,
                             const uint8_t requester[WD_PUBKEY_LEN]);

/* Whether task names capsule with holder (origin holds code and env). */
bool
node_capsule_names (const capsule_task_t *task, const uint8_t origin[WD_PUBKEY_LEN],
                    const uint8_t capsule[CAPSULE_ID_LEN], const uint8_t holder[WD_PUBKEY_LEN]);

/* ---- claim rounds ------------------------------------------------------ */

typedef struct {
    uint64_t height; /* block that committed the post */
    uint32_t round;
    uint64_t opened; /* the open round's window is (opened, opened + CLAIM_BLOCKS] */
    bool decided;    /* an executor, or none after the last round */
    bool have_best;
    uint8_t best_from[WD_PUBKEY_LEN];
    cons_sortition_claim_t best;
    uint64_t budget_ms;   /* the task's wall limit + the chain's task_grace_ms */
    uint64_t deadline_ms; /* the executor's: its selecting block's time + budget */
    size_t missed_count;  /* executors passed over for a missed deadline */
    uint8_t missed[NODE_CAPSULE_CLAIM_ROUNDS][WD_PUBKEY_LEN];
} node_capsule_claims_t;

typedef enum {
    NODE_CAPSULE_CLAIM_COUNTED = 0, /* counted (best or not) */
    NODE_CAPSULE_CLAIM_DECIDED,     /* the rounds are over */
    NODE_CAPSULE_CLAIM_HEIGHT,      /* its height is not the post's */
    NODE_CAPSULE_CLAIM_ROUND,       /* for another round than the open one */
    NODE_CAPSULE_CLAIM_LATE,        /* committed after its round closed */
    NODE_CAPSULE_CLAIM_MISSED,      /* its signer missed this task's deadline before */
} node_capsule_claim_verdict_t;

typedef enum {
    NODE_CAPSULE_ROUND_OPEN = 0, /* the round goes on */
    NODE_CAPSULE_ROUND_SELECTED, /* best_from is the executor */
    NODE_CAPSULE_ROUND_NEXT,     /* no claim: round + 1 is open */
    NODE_CAPSULE_ROUND_NONE,     /* no claim in the last round: no executor */
    NODE_CAPSULE_ROUND_MISSED,   /* the executor missed its deadline: round + 1 is open */
} node_capsule_round_t;

/* Rounds of a post committed at post_height; round 0 open. budget_ms is
   the task's wall-time limit plus the chain's task_grace_ms: a decided
   executor's deadline is the time of the block that decided it plus the
   budget (saturating). */
void
node_capsule_claims_init (node_capsule_claims_t *self, uint64_t post_height, uint64_t budget_ms);

/* The last block of the open round: opened + NODE_CAPSULE_CLAIM_BLOCKS
   (opened is the post's height, then each round's end, or the block at
   which an executor missed its deadline). */
uint64_t
node_capsule_claims_end (const node_capsule_claims_t *self);

/* Whether node missed this task's deadline as its executor before (such
   a node is never counted again). */
bool
node_capsule_claims_missed (const node_capsule_claims_t *self, const uint8_t node[WD_PUBKEY_LEN]);

/* A claim from `from` committed at commit_height, for (claim_height,
   claim_round), whose VRF proof the caller has verified
   (cons_sortition_verify with node_capsule_sortition_input). Counts it or
   says why not (a signer that missed this task's deadline before:
   NODE_CAPSULE_CLAIM_MISSED); among counted claims the lowest priority is
   kept (cons_sortition_priority_cmp), equal priorities to the lower node
   id. */
node_capsule_claim_verdict_t
node_capsule_claims_offer (node_capsule_claims_t *self, uint64_t commit_height,
                           uint64_t claim_height, uint32_t claim_round,
                           const uint8_t from[WD_PUBKEY_LEN], const cons_sortition_claim_t *claim);

/* After the block at height with time time_ms (every record of it
   offered; the caller stops calling once the task has a receipt or a
   failure): closes the open round when height reaches its end (SELECTED:
   the deadline is set from time_ms; NEXT; NONE). Once decided, an
   executor whose deadline time_ms has reached is passed over: MISSED with
   round + 1 open from this block, or NONE when that was the last round
   (missed_count tells the two NONEs apart). */
node_capsule_round_t
node_capsule_claims_after_block (node_capsule_claims_t *self, uint64_t height, uint64_t time_ms);

/* ---- sortition --------------------------------------------------------- */

/* The sortition input of node for a task (docs/PROTOCOL.md "Executor
   selection"): role CONS_ROLE_EXECUTOR, subject the task id, the seed and
   height of the block that committed the post, round; weight = node's
   weight in set (the validator set of that height, i.e. the reputation
   weights of its epoch; 0 when absent), total = the set's sum, tau = total
   when the set has at most NODE_CAPSULE_EXECUTOR_TAU nodes (every eligible
   node is selected with all its weight, so the lowest priority picks
   among them in proportion to weight), else max(1, total *
   NODE_CAPSULE_EXECUTOR_TAU / nodes), both capped at
   CONS_SORTITION_TAU_MAX. Returns 0, or CONS_ERR_SORTITION_WEIGHT for an
   empty set or a zero total. */
int __attribute__ ((warn_unused_result))
node_capsule_sortition_input (const uint8_t chain[WD_CHAIN_ID_LEN],
                              const uint8_t seed[CONS_SORTITION_ID_LEN], uint64_t height,
                              uint32_t round, const uint8_t task[WD_DIGEST_LEN],
                              const cons_validator_t *set, size_t count,
                              const uint8_t node[WD_PUBKEY_LEN], cons_sortition_input_t *in);

#endif
