/*
 * node_capsule_rules: the pure decisions of capsule execution (see
 * node_capsule_rules.h). No I/O, no clock: the engine passes the facts.
 */
#include "node_capsule_rules.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_err.h"
#include "capsule_format.h"

int
node_capsule_facts_check (const node_capsule_facts_t *facts, const uint8_t node[WD_PUBKEY_LEN],
                          capsule_executor_t *ex)
{
    assert (facts && node && ex);
    memset (ex, 0, sizeof *ex);
    if (!facts->member)
        return CAPSULE_ERR_EXEC_NOT_SELECTED;
    if (facts->tier == ATTEST_TRUST_CONTRAINDICATED)
        return CAPSULE_ERR_EXEC_UNTRUSTED;
    if (facts->quarantined)
        return CAPSULE_ERR_EXEC_QUARANTINED;
    memcpy (ex->node_id, node, WD_PUBKEY_LEN);
    ex->tier = facts->tier == ATTEST_TRUST_AFFIRMING ? CAPSULE_TIER_AFFIRMING
               : facts->tier == ATTEST_TRUST_WARNING ? CAPSULE_TIER_WARNING
                                                     : CAPSULE_TIER_NONE;
    ex->key_protection = facts->key_protection;
    ex->has_measurement = facts->has_measurement;
    memcpy (ex->measurement, facts->measurement, sizeof ex->measurement);
    return 0;
}

int
node_capsule_eligible (const node_capsule_facts_t *facts, const uint8_t node[WD_PUBKEY_LEN],
                       bool can_execute, const uint8_t *const policies[], const size_t *lens,
                       size_t count, uint64_t now_ms)
{
    assert (facts && node && (count == 0 || (policies && lens)));
    if (!can_execute)
        return CAPSULE_ERR_EXEC_WORK;
    capsule_executor_t ex;
    int rc = node_capsule_facts_check (facts, node, &ex);
    if (rc != 0)
        return rc;
    /* the policy is about 10 KiB: one on the heap for the whole loop */
    capsule_policy_t *policy = malloc (sizeof *policy);
    if (!policy)
        return WD_ERR_NOMEM;
    for (size_t i = 0; i < count && rc == 0; i++) {
        wd_reader_t r;
        wd_reader_init (&r, policies[i], lens[i]);
        rc = capsule_policy_read (&r, policy);
        wd_err_t err = wd_reader_finish (&r);
        if (rc == WD_OK && err != WD_OK)
            rc = err;
        if (rc == WD_OK)
            rc = capsule_policy_check (policy, &ex, NULL, now_ms);
    }
    free (policy);
    return rc;
}

bool
node_capsule_names (const capsule_task_t *task, const uint8_t origin[WD_PUBKEY_LEN],
                    const uint8_t capsule[CAPSULE_ID_LEN], const uint8_t holder[WD_PUBKEY_LEN])
{
    if (memcmp (holder, origin, WD_PUBKEY_LEN) == 0 &&
        (memcmp (capsule, task->code, CAPSULE_ID_LEN) == 0 ||
         memcmp (capsule, task->env, CAPSULE_ID_LEN) == 0))
        return true;
    for (size_t i = 0; i < task->input_count; i++)
        if (memcmp (capsule, task->inputs[i].id, CAPSULE_ID_LEN) == 0 &&
            memcmp (holder, task->inputs[i].holder, WD_PUBKEY_LEN) == 0)
            return true;
    return false;
}

int
node_capsule_release_decide (const node_capsule_release_in_t *in, const capsule_release_req_t *req,
                             const uint8_t requester[WD_PUBKEY_LEN])
{
    assert (in && req && requester && in->facts && in->policy_fn && in->holder);
    if (in->state == NODE_CAPSULE_TASK_UNKNOWN || in->state == NODE_CAPSULE_TASK_POSTED)
        return CAPSULE_ERR_EXEC_PENDING;
    assert (in->task && in->origin && in->executor && in->proof);
    if (in->state != NODE_CAPSULE_TASK_SELECTED ||
        memcmp (requester, in->executor, WD_PUBKEY_LEN) != 0 ||
        sodium_memcmp (req->proof, in->proof, CAPSULE_RELEASE_PROOF_LEN) != 0)
        return CAPSULE_ERR_EXEC_NOT_SELECTED;
    if (!node_capsule_names (in->task, in->origin, req->capsule, in->holder))
        return CAPSULE_ERR_EXEC_NOT_NAMED;
    if (!in->executor_curve ||
        memcmp (in->executor_curve, req->executor_curve, CAPSULE_CURVE_LEN) != 0)
        return CAPSULE_ERR_EXEC_CURVE;
    capsule_executor_t ex;
    int rc = node_capsule_facts_check (in->facts, requester, &ex);
    if (rc != 0)
        return rc;
    const capsule_policy_t *policy = NULL;
    rc = in->policy_fn (in->policy_ctx, req->capsule, &policy);
    if (rc != WD_OK)
        return rc;
    return capsule_policy_check (policy, &ex, in->task->code, in->now_ms);
}

/* ---- claim rounds ------------------------------------------------------ */

void
node_capsule_claims_init (node_capsule_claims_t *self, uint64_t post_height, uint64_t budget_ms)
{
    memset (self, 0, sizeof *self);
    self->height = post_height;
    self->opened = post_height;
    self->budget_ms = budget_ms;
}

uint64_t
node_capsule_claims_end (const node_capsule_claims_t *self)
{
    return self->opened + NODE_CAPSULE_CLAIM_BLOCKS;
}

bool
node_capsule_claims_missed (const node_capsule_claims_t *self, const uint8_t node[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < self->missed_count; i++)
        if (memcmp (self->missed[i], node, WD_PUBKEY_LEN) == 0)
            return true;
    return false;
}

node_capsule_claim_verdict_t
node_capsule_claims_offer (node_capsule_claims_t *self, uint64_t commit_height,
                           uint64_t claim_height, uint32_t claim_round,
                           const uint8_t from[WD_PUBKEY_LEN], const cons_sortition_claim_t *claim)
{
    if (self->decided)
        return NODE_CAPSULE_CLAIM_DECIDED;
    if (claim_height != self->height)
        return NODE_CAPSULE_CLAIM_HEIGHT;
    if (claim_round != self->round)
        return NODE_CAPSULE_CLAIM_ROUND;
    /* a claim of the open round counts when committed in (opened, opened +
       K]; the lower end holds because a claim is offered once, at its
       commit height, and the round is open only after block `opened` */
    if (commit_height > node_capsule_claims_end (self))
        return NODE_CAPSULE_CLAIM_LATE;
    if (node_capsule_claims_missed (self, from))
        return NODE_CAPSULE_CLAIM_MISSED;
    int cmp =
        self->have_best ? cons_sortition_priority_cmp (claim->priority, self->best.priority) : -1;
    if (cmp < 0 || (cmp == 0 && memcmp (from, self->best_from, WD_PUBKEY_LEN) < 0)) {
        self->have_best = true;
        self->best = *claim;
        memcpy (self->best_from, from, WD_PUBKEY_LEN);
    }
    return NODE_CAPSULE_CLAIM_COUNTED;
}

/* Opens the next round after block height, or ends the rounds: NEXT or
   NONE (have_best cleared either way). */
static node_capsule_round_t
s_claims_next_round (node_capsule_claims_t *self, uint64_t height)
{
    self->have_best = false;
    if (self->round + 1 < NODE_CAPSULE_CLAIM_ROUNDS) {
        self->round++;
        self->opened = height;
        self->decided = false;
        return NODE_CAPSULE_ROUND_NEXT;
    }
    self->decided = true;
    return NODE_CAPSULE_ROUND_NONE;
}

node_capsule_round_t
node_capsule_claims_after_block (node_capsule_claims_t *self, uint64_t height, uint64_t time_ms)
{
    if (self->decided) {
        if (!self->have_best || time_ms < self->deadline_ms)
            return NODE_CAPSULE_ROUND_OPEN;
        memcpy (self->missed[self->missed_count++], self->best_from, WD_PUBKEY_LEN);
        node_capsule_round_t next = s_claims_next_round (self, height);
        return next == NODE_CAPSULE_ROUND_NEXT ? NODE_CAPSULE_ROUND_MISSED : next;
    }
    if (height < node_capsule_claims_end (self))
        return NODE_CAPSULE_ROUND_OPEN;
    if (self->have_best) {
        self->decided = true;
        self->deadline_ms =
            time_ms > UINT64_MAX - self->budget_ms ? UINT64_MAX : time_ms + self->budget_ms;
        return NODE_CAPSULE_ROUND_SELECTED;
    }
    return s_claims_next_round (self, height);
}

/* ---- sortition --------------------------------------------------------- */

int
node_capsule_sortition_input (const uint8_t chain[WD_CHAIN_ID_LEN],
                              const uint8_t seed[CONS_SORTITION_ID_LEN], uint64_t height,
                              uint32_t round, const uint8_t task[WD_DIGEST_LEN],
                              const cons_validator_t *set, size_t count,
                              const uint8_t node[WD_PUBKEY_LEN], cons_sortition_input_t *in)
{
    memset (in, 0, sizeof *in);
    memcpy (in->chain_id, chain, sizeof in->chain_id);
    memcpy (in->seed, seed, sizeof in->seed);
    in->role = CONS_ROLE_EXECUTOR;
    in->height = height;
    in->round = round;
    memcpy (in->subject, task, sizeof in->subject);
    uint64_t total = 0;
    for (size_t i = 0; i < count; i++) {
        if (memcmp (set[i].pk, node, WD_PUBKEY_LEN) == 0)
            in->weight = set[i].weight;
        total += set[i].weight;
    }
    if (count == 0 || total == 0)
        return CONS_ERR_SORTITION_WEIGHT;
    in->total_weight = total;
    uint64_t tau =
        count <= NODE_CAPSULE_EXECUTOR_TAU ? total : total * NODE_CAPSULE_EXECUTOR_TAU / count;
    if (tau < 1)
        tau = 1;
    in->tau = tau > CONS_SORTITION_TAU_MAX ? CONS_SORTITION_TAU_MAX : tau;
    return 0;
}
