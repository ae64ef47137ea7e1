/*
 * Unit tests for node_capsule_rules: every refusal of the holder's key
 * release decision, of executor eligibility and of the facts check with
 * its exact code; the claim rounds (lowest priority wins, ties to the
 * lower node id, the 4-block window, 3 rounds then no executor); and the
 * executor sortition input (reputation weights, tau), including a run of
 * real VRF sortitions showing that a heavier node executes proportionally
 * more often. The engine around these functions runs in the capsule_names
 * scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "capsule_err.h"
#include "cons_err.h"
#include "node_capsule_rules.h"
#include "wd_codec.h"
#include "wd_vrf.h"

#define NOW 1700000000000ull

static const uint8_t s_origin[32] = { 0x0a };
static const uint8_t s_holder[32] = { 0x0b };
static const uint8_t s_exec[32] = { 0x0e };
static const uint8_t s_other[32] = { 0x0f };
static const uint8_t s_curve[32] = { 0xc0 };
static const uint8_t s_code[32] = { 0x01 };
static const uint8_t s_env[32] = { 0x02 };
static const uint8_t s_input[32] = { 0x03 };

/* ---- a holder's world -------------------------------------------------- */

typedef struct {
    capsule_task_t task;
    uint8_t proof[CAPSULE_RELEASE_PROOF_LEN];
    node_capsule_facts_t facts;
    capsule_policy_t policy;
    int store_rc;
    int policy_calls;
    node_capsule_release_in_t in;
    capsule_release_req_t req;
} s_world_t;

static int
s_policy_fn (void *ctx, const uint8_t capsule[CAPSULE_ID_LEN], const capsule_policy_t **policy)
{
    (void)capsule;
    s_world_t *w = ctx;
    w->policy_calls++;
    if (w->store_rc != WD_OK)
        return w->store_rc;
    *policy = &w->policy;
    return WD_OK;
}

/* A task with code and env at the origin and one input held by s_holder,
   executor s_exec decided, asking for the input; everything in order. */
static s_world_t *
s_world (void)
{
    s_world_t *w = calloc (1, sizeof *w);
    assert_non_null (w);
    memcpy (w->task.code, s_code, 32);
    memcpy (w->task.env, s_env, 32);
    w->task.input_count = 1;
    memcpy (w->task.inputs[0].id, s_input, 32);
    memcpy (w->task.inputs[0].holder, s_holder, 32);
    snprintf (w->task.inputs[0].name, sizeof w->task.inputs[0].name, "list.txt");
    memset (w->proof, 0x77, sizeof w->proof);
    w->facts = (node_capsule_facts_t){ .member = true,
                                       .tier = ATTEST_TRUST_AFFIRMING,
                                       .key_protection = "pkcs11" };
    capsule_policy_init (&w->policy);
    w->in = (node_capsule_release_in_t){
        .state = NODE_CAPSULE_TASK_SELECTED,
        .task = &w->task,
        .origin = s_origin,
        .executor = s_exec,
        .proof = w->proof,
        .holder = s_holder,
        .executor_curve = s_curve,
        .facts = &w->facts,
        .policy_fn = s_policy_fn,
        .policy_ctx = w,
        .now_ms = NOW,
    };
    memcpy (w->req.capsule, s_input, 32);
    memcpy (w->req.executor_curve, s_curve, 32);
    memcpy (w->req.proof, w->proof, sizeof w->req.proof);
    memset (w->req.task, 0x55, 32);
    return w;
}

static int
s_decide (s_world_t *w)
{
    return node_capsule_release_decide (&w->in, &w->req, s_exec);
}

static void
test_release_granted (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    assert_int_equal (s_decide (w), 0);
    assert_int_equal (w->policy_calls, 1);
    /* the origin releases the code and the environment */
    w->in.holder = s_origin;
    memcpy (w->req.capsule, s_code, 32);
    assert_int_equal (s_decide (w), 0);
    memcpy (w->req.capsule, s_env, 32);
    assert_int_equal (s_decide (w), 0);
    /* a policy that allows exactly this code, node, tier and protection */
    w->policy.n_code = 1;
    memcpy (w->policy.code[0], s_code, 32);
    w->policy.n_nodes = 1;
    memcpy (w->policy.nodes[0], s_exec, 32);
    w->policy.min_tier = CAPSULE_TIER_AFFIRMING;
    w->policy.n_key_protection = 1;
    snprintf (w->policy.key_protection[0], sizeof w->policy.key_protection[0], "pkcs11");
    w->policy.expires_ms = NOW + 1;
    assert_int_equal (s_decide (w), 0);
    free (w);
}

static void
test_release_pending (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    w->in.state = NODE_CAPSULE_TASK_UNKNOWN;
    w->in.task = NULL;
    w->in.origin = w->in.executor = w->in.proof = NULL;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_PENDING);
    free (w);
    w = s_world ();
    w->in.state = NODE_CAPSULE_TASK_POSTED;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_PENDING);
    assert_int_equal (w->policy_calls, 0);
    free (w);
}

static void
test_release_not_selected (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    w->in.state = NODE_CAPSULE_TASK_DONE;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_SELECTED);
    w->in.state = NODE_CAPSULE_TASK_FAILED;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_SELECTED);
    w->in.state = NODE_CAPSULE_TASK_SELECTED;
    /* another node asks */
    assert_int_equal (node_capsule_release_decide (&w->in, &w->req, s_other),
                      CAPSULE_ERR_EXEC_NOT_SELECTED);
    /* the executor with another proof than its counted claim's */
    w->req.proof[79] ^= 1;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_SELECTED);
    assert_int_equal (w->policy_calls, 0);
    free (w);
}

static void
test_release_not_named (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    /* a capsule the task does not name */
    memset (w->req.capsule, 0x99, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_NAMED);
    /* the code, but this holder is not the origin */
    memcpy (w->req.capsule, s_code, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_NAMED);
    /* the input, asked of the origin, which does not hold it */
    memcpy (w->req.capsule, s_input, 32);
    w->in.holder = s_origin;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_NAMED);
    /* named-ness comes before the curve */
    w->req.executor_curve[0] ^= 1;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_NAMED);
    free (w);
}

static void
test_release_curve (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    w->req.executor_curve[31] ^= 1;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_CURVE);
    w->req.executor_curve[31] ^= 1;
    w->in.executor_curve = NULL; /* no certificate */
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_CURVE);
    /* the curve comes before the ledger facts */
    w->facts.quarantined = true;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_CURVE);
    free (w);
}

static void
test_release_ledger_facts (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    w->facts.member = false;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_NOT_SELECTED);
    w->facts.member = true;
    w->facts.tier = ATTEST_TRUST_CONTRAINDICATED;
    w->facts.quarantined = true;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_UNTRUSTED);
    w->facts.tier = ATTEST_TRUST_AFFIRMING;
    assert_int_equal (s_decide (w), CAPSULE_ERR_EXEC_QUARANTINED);
    assert_int_equal (w->policy_calls, 0);
    free (w);
}

static void
test_release_store (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    w->store_rc = CAPSULE_ERR_STORE_NOT_FOUND;
    assert_int_equal (s_decide (w), CAPSULE_ERR_STORE_NOT_FOUND);
    w->store_rc = CAPSULE_ERR_STORE_CORRUPT;
    assert_int_equal (s_decide (w), CAPSULE_ERR_STORE_CORRUPT);
    free (w);
}

static void
test_release_policy (void **state)
{
    (void)state;
    s_world_t *w = s_world ();
    /* expiry: the policy holds while now < expires */
    w->policy.expires_ms = NOW;
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_EXPIRED);
    w->policy.expires_ms = 0;
    /* key protection */
    w->policy.n_key_protection = 1;
    snprintf (w->policy.key_protection[0], sizeof w->policy.key_protection[0], "tpm");
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_KEY_PROTECTION);
    w->facts.key_protection = NULL; /* unknown fails any list */
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_KEY_PROTECTION);
    w->facts.key_protection = "pkcs11";
    w->policy.n_key_protection = 0;
    /* tier */
    w->facts.tier = ATTEST_TRUST_WARNING;
    w->policy.min_tier = CAPSULE_TIER_AFFIRMING;
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_TIER);
    w->facts.tier = ATTEST_TRUST_NONE;
    w->policy.min_tier = CAPSULE_TIER_WARNING;
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_TIER);
    w->policy.min_tier = CAPSULE_TIER_NONE;
    /* measurement: none known fails a list; another one too */
    w->policy.n_measurements = 1;
    memset (w->policy.measurements[0], 0x33, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_MEASUREMENT);
    w->facts.has_measurement = true;
    memset (w->facts.measurement, 0x34, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_MEASUREMENT);
    memset (w->facts.measurement, 0x33, 32);
    assert_int_equal (s_decide (w), 0);
    /* node */
    w->policy.n_nodes = 1;
    memcpy (w->policy.nodes[0], s_other, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_NODE);
    w->policy.n_nodes = 0;
    /* code digest: the task's code capsule id */
    w->policy.n_code = 1;
    memset (w->policy.code[0], 0x44, 32);
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_CODE);
    /* expiry is checked first */
    w->policy.expires_ms = 1;
    assert_int_equal (s_decide (w), CAPSULE_ERR_POLICY_EXPIRED);
    free (w);
}

/* ---- facts and eligibility --------------------------------------------- */

static void
test_facts (void **state)
{
    (void)state;
    node_capsule_facts_t f = { .member = true, .tier = ATTEST_TRUST_WARNING };
    capsule_executor_t ex;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), 0);
    assert_int_equal (ex.tier, CAPSULE_TIER_WARNING);
    assert_memory_equal (ex.node_id, s_exec, 32);
    f.tier = ATTEST_TRUST_AFFIRMING;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), 0);
    assert_int_equal (ex.tier, CAPSULE_TIER_AFFIRMING);
    f.tier = ATTEST_TRUST_NONE;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), 0);
    assert_int_equal (ex.tier, CAPSULE_TIER_NONE);
    f.quarantined = true;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), CAPSULE_ERR_EXEC_QUARANTINED);
    f.tier = ATTEST_TRUST_CONTRAINDICATED;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), CAPSULE_ERR_EXEC_UNTRUSTED);
    f.member = false;
    assert_int_equal (node_capsule_facts_check (&f, s_exec, &ex), CAPSULE_ERR_EXEC_NOT_SELECTED);
}

static uint8_t *
s_policy_bytes (const capsule_policy_t *policy, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    capsule_policy_write (w, policy);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
test_eligible (void **state)
{
    (void)state;
    node_capsule_facts_t f = { .member = true, .tier = ATTEST_TRUST_WARNING };
    capsule_policy_t *p = calloc (1, sizeof *p);
    assert_non_null (p);
    capsule_policy_init (p);
    size_t any_len, strict_len, code_len;
    uint8_t *any = s_policy_bytes (p, &any_len);
    p->min_tier = CAPSULE_TIER_AFFIRMING;
    uint8_t *strict = s_policy_bytes (p, &strict_len);
    capsule_policy_init (p);
    p->n_code = 1;
    memset (p->code[0], 0x44, 32);
    uint8_t *code_only = s_policy_bytes (p, &code_len);
    const uint8_t *pols[3] = { any, code_only, strict };
    size_t lens[3] = { any_len, code_len, strict_len };

    /* the code digest is the holders' check, not the selection's */
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 2, NOW), 0);
    /* the third policy's reason, after two that hold */
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 3, NOW),
                      CAPSULE_ERR_POLICY_TIER);
    /* no tmpfs work area comes first */
    assert_int_equal (node_capsule_eligible (&f, s_exec, false, pols, lens, 3, NOW),
                      CAPSULE_ERR_EXEC_WORK);
    /* then the facts */
    f.quarantined = true;
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 3, NOW),
                      CAPSULE_ERR_EXEC_QUARANTINED);
    f.quarantined = false;
    f.tier = ATTEST_TRUST_CONTRAINDICATED;
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 1, NOW),
                      CAPSULE_ERR_EXEC_UNTRUSTED);
    f.member = false;
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 1, NOW),
                      CAPSULE_ERR_EXEC_NOT_SELECTED);
    f = (node_capsule_facts_t){ .member = true, .tier = ATTEST_TRUST_AFFIRMING };
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, pols, lens, 3, NOW), 0);
    /* an expired policy makes nobody eligible */
    capsule_policy_init (p);
    p->expires_ms = NOW;
    size_t exp_len;
    uint8_t *expired = s_policy_bytes (p, &exp_len);
    const uint8_t *one[1] = { expired };
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, one, &exp_len, 1, NOW),
                      CAPSULE_ERR_POLICY_EXPIRED);
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, one, &exp_len, 1, NOW - 1), 0);
    /* a policy that does not decode: its reason */
    size_t cut = any_len - 1;
    one[0] = any;
    assert_int_not_equal (node_capsule_eligible (&f, s_exec, true, one, &cut, 1, NOW), 0);
    uint8_t trailing[256];
    memcpy (trailing, any, any_len);
    trailing[any_len] = 0xc0;
    size_t tlen = any_len + 1;
    one[0] = trailing;
    assert_int_equal (node_capsule_eligible (&f, s_exec, true, one, &tlen, 1, NOW),
                      WD_ERR_TRAILING);
    free (any);
    free (strict);
    free (code_only);
    free (expired);
    free (p);
}

/* ---- claim rounds ------------------------------------------------------ */

static cons_sortition_claim_t
s_claim (uint8_t first)
{
    cons_sortition_claim_t c = { .count = 1 };
    memset (c.priority, 0x80, sizeof c.priority);
    c.priority[0] = first;
    return c;
}

/* Blocks 1 s apart (block h at h seconds) and a budget no test below
   reaches, unless it says otherwise. */
#define S_TIME(h) ((uint64_t)(h)*1000)
#define S_BUDGET  1000000

static void
test_claims_lowest_wins (void **state)
{
    (void)state;
    node_capsule_claims_t c;
    node_capsule_claims_init (&c, 10, S_BUDGET);
    assert_int_equal (node_capsule_claims_end (&c), 14);
    cons_sortition_claim_t a = s_claim (0x50), b = s_claim (0x20), d = s_claim (0x30);
    assert_int_equal (node_capsule_claims_offer (&c, 11, 10, 0, s_origin, &a),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_offer (&c, 12, 10, 0, s_other, &b),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_offer (&c, 14, 10, 0, s_exec, &d),
                      NODE_CAPSULE_CLAIM_COUNTED); /* the window's last block counts */
    assert_int_equal (node_capsule_claims_after_block (&c, 13, S_TIME (13)),
                      NODE_CAPSULE_ROUND_OPEN);
    assert_int_equal (node_capsule_claims_after_block (&c, 14, S_TIME (14)),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_memory_equal (c.best_from, s_other, 32);
    assert_memory_equal (c.best.priority, b.priority, 32);
    /* decided: later claims and blocks change nothing */
    cons_sortition_claim_t z = s_claim (0x00);
    assert_int_equal (node_capsule_claims_offer (&c, 14, 10, 0, s_exec, &z),
                      NODE_CAPSULE_CLAIM_DECIDED);
    assert_int_equal (node_capsule_claims_after_block (&c, 15, S_TIME (15)),
                      NODE_CAPSULE_ROUND_OPEN);
    assert_memory_equal (c.best_from, s_other, 32);
}

static void
test_claims_tie_lower_id (void **state)
{
    (void)state;
    node_capsule_claims_t c;
    cons_sortition_claim_t x = s_claim (0x10);
    /* either order: the lower node id wins the tie */
    node_capsule_claims_init (&c, 1, S_BUDGET);
    assert_int_equal (node_capsule_claims_offer (&c, 2, 1, 0, s_exec, &x),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_offer (&c, 2, 1, 0, s_holder, &x),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 5, S_TIME (5)),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_memory_equal (c.best_from, s_holder, 32);
    node_capsule_claims_init (&c, 1, S_BUDGET);
    assert_int_equal (node_capsule_claims_offer (&c, 2, 1, 0, s_holder, &x),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_offer (&c, 3, 1, 0, s_exec, &x),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 5, S_TIME (5)),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_memory_equal (c.best_from, s_holder, 32);
}

static void
test_claims_ignored (void **state)
{
    (void)state;
    node_capsule_claims_t c;
    node_capsule_claims_init (&c, 10, S_BUDGET);
    cons_sortition_claim_t a = s_claim (0x01);
    assert_int_equal (node_capsule_claims_offer (&c, 11, 9, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_HEIGHT);
    assert_int_equal (node_capsule_claims_offer (&c, 11, 10, 1, s_exec, &a),
                      NODE_CAPSULE_CLAIM_ROUND);
    assert_int_equal (node_capsule_claims_offer (&c, 15, 10, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_LATE);
    assert_false (c.have_best);
    assert_int_equal (node_capsule_claims_after_block (&c, 14, S_TIME (14)),
                      NODE_CAPSULE_ROUND_NEXT);
}

static void
test_claims_rounds (void **state)
{
    (void)state;
    node_capsule_claims_t c;
    node_capsule_claims_init (&c, 100, S_BUDGET);
    /* round 0: (100, 104] with no claim */
    for (uint64_t h = 101; h < 104; h++)
        assert_int_equal (node_capsule_claims_after_block (&c, h, S_TIME (h)),
                          NODE_CAPSULE_ROUND_OPEN);
    assert_int_equal (node_capsule_claims_after_block (&c, 104, S_TIME (104)),
                      NODE_CAPSULE_ROUND_NEXT);
    assert_int_equal (c.round, 1);
    assert_int_equal (node_capsule_claims_end (&c), 108);
    /* a round 0 claim now is for the wrong round */
    cons_sortition_claim_t a = s_claim (0x01);
    assert_int_equal (node_capsule_claims_offer (&c, 105, 100, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_ROUND);
    assert_int_equal (node_capsule_claims_after_block (&c, 108, S_TIME (108)),
                      NODE_CAPSULE_ROUND_NEXT);
    assert_int_equal (c.round, 2);
    /* round 2 is the last: nobody by block 112, no executor */
    assert_int_equal (node_capsule_claims_after_block (&c, 111, S_TIME (111)),
                      NODE_CAPSULE_ROUND_OPEN);
    assert_int_equal (node_capsule_claims_after_block (&c, 112, S_TIME (112)),
                      NODE_CAPSULE_ROUND_NONE);
    assert_true (c.decided);
    assert_int_equal (node_capsule_claims_offer (&c, 112, 100, 2, s_exec, &a),
                      NODE_CAPSULE_CLAIM_DECIDED);

    /* a claim in round 1 wins there */
    node_capsule_claims_init (&c, 100, S_BUDGET);
    assert_int_equal (node_capsule_claims_after_block (&c, 104, S_TIME (104)),
                      NODE_CAPSULE_ROUND_NEXT);
    assert_int_equal (node_capsule_claims_offer (&c, 106, 100, 1, s_exec, &a),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 107, S_TIME (107)),
                      NODE_CAPSULE_ROUND_OPEN);
    assert_int_equal (node_capsule_claims_after_block (&c, 108, S_TIME (108)),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_memory_equal (c.best_from, s_exec, 32);
}

/* An executor that misses its deadline (the selecting block's time plus
   the budget, by block time) is passed over: the next round opens from that
   block, its claims never count again, and after the last round the task
   has no executor with missed_count telling why. */
static void
test_claims_deadline (void **state)
{
    (void)state;
    node_capsule_claims_t c;
    node_capsule_claims_init (&c, 100, 5000);
    cons_sortition_claim_t a = s_claim (0x01), b = s_claim (0x02), d = s_claim (0x03);
    assert_int_equal (node_capsule_claims_offer (&c, 101, 100, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 104, 104000),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_int_equal (c.deadline_ms, 109000);
    /* a block just before the deadline changes nothing, however high */
    assert_int_equal (node_capsule_claims_after_block (&c, 150, 108999), NODE_CAPSULE_ROUND_OPEN);
    assert_false (node_capsule_claims_missed (&c, s_exec));
    /* the block that reaches it passes s_exec over: round 1 opens there */
    assert_int_equal (node_capsule_claims_after_block (&c, 151, 109000), NODE_CAPSULE_ROUND_MISSED);
    assert_int_equal (c.round, 1);
    assert_false (c.decided);
    assert_false (c.have_best);
    assert_int_equal (node_capsule_claims_end (&c), 155);
    assert_true (node_capsule_claims_missed (&c, s_exec));
    assert_false (node_capsule_claims_missed (&c, s_holder));
    /* its claim for the new round does not count; another's does */
    assert_int_equal (node_capsule_claims_offer (&c, 152, 100, 1, s_exec, &a),
                      NODE_CAPSULE_CLAIM_MISSED);
    assert_int_equal (node_capsule_claims_offer (&c, 153, 100, 1, s_holder, &b),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 154, 154000), NODE_CAPSULE_ROUND_OPEN);
    assert_int_equal (node_capsule_claims_after_block (&c, 155, 155000),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_memory_equal (c.best_from, s_holder, 32);
    assert_int_equal (c.deadline_ms, 160000);
    /* s_holder misses too: round 2, the last, goes to s_other; when it
       misses as well, the rounds are over */
    assert_int_equal (node_capsule_claims_after_block (&c, 160, 160000), NODE_CAPSULE_ROUND_MISSED);
    assert_int_equal (node_capsule_claims_offer (&c, 161, 100, 2, s_other, &d),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 164, 164000),
                      NODE_CAPSULE_ROUND_SELECTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 170, 169000), NODE_CAPSULE_ROUND_NONE);
    assert_int_equal (c.missed_count, 3);
    assert_memory_equal (c.missed[2], s_other, 32);
    assert_true (c.decided);
    assert_int_equal (node_capsule_claims_after_block (&c, 171, 999999), NODE_CAPSULE_ROUND_OPEN);

    /* a round that ends empty after a missed deadline: no executor, and
       missed_count says one timed out */
    node_capsule_claims_init (&c, 1, 10);
    assert_int_equal (node_capsule_claims_offer (&c, 2, 1, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 5, 5000), NODE_CAPSULE_ROUND_SELECTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 6, 5010), NODE_CAPSULE_ROUND_MISSED);
    assert_int_equal (node_capsule_claims_after_block (&c, 10, 6000), NODE_CAPSULE_ROUND_NEXT);
    assert_int_equal (node_capsule_claims_after_block (&c, 14, 7000), NODE_CAPSULE_ROUND_NONE);
    assert_int_equal (c.missed_count, 1);

    /* the deadline saturates */
    node_capsule_claims_init (&c, 1, UINT64_MAX);
    assert_int_equal (node_capsule_claims_offer (&c, 2, 1, 0, s_exec, &a),
                      NODE_CAPSULE_CLAIM_COUNTED);
    assert_int_equal (node_capsule_claims_after_block (&c, 5, 5000), NODE_CAPSULE_ROUND_SELECTED);
    assert_int_equal (c.deadline_ms, UINT64_MAX);
}

/* ---- sortition --------------------------------------------------------- */

static void
test_sortition_input (void **state)
{
    (void)state;
    uint8_t chain[32] = { 1 }, seed[32] = { 2 }, task[32] = { 3 };
    cons_validator_t set[20];
    memset (set, 0, sizeof set);
    for (size_t i = 0; i < 20; i++) {
        set[i].pk[0] = (uint8_t)(i + 1);
        set[i].weight = i + 1; /* total of the first n: n (n + 1) / 2 */
    }
    cons_sortition_input_t in;
    assert_int_equal (
        node_capsule_sortition_input (chain, seed, 7, 1, task, set, 3, set[2].pk, &in), 0);
    assert_int_equal (in.role, CONS_ROLE_EXECUTOR);
    assert_int_equal (in.height, 7);
    assert_int_equal (in.round, 1);
    assert_memory_equal (in.subject, task, 32);
    assert_int_equal (in.weight, 3);
    assert_int_equal (in.total_weight, 6);
    assert_int_equal (in.tau, 6); /* up to 16 nodes: tau = W, all weight selected */
    assert_int_equal (cons_sortition_check (&in), 0);
    /* a node outside the set weighs 0 */
    assert_int_equal (node_capsule_sortition_input (chain, seed, 7, 0, task, set, 3, s_exec, &in),
                      0);
    assert_int_equal (in.weight, 0);
    /* more than 16 nodes: tau = W * 16 / n */
    assert_int_equal (
        node_capsule_sortition_input (chain, seed, 7, 0, task, set, 20, set[19].pk, &in), 0);
    assert_int_equal (in.weight, 20);
    assert_int_equal (in.total_weight, 210);
    assert_int_equal (in.tau, 210 * 16 / 20);
    /* capped at the sortition's maximum */
    for (size_t i = 0; i < 3; i++)
        set[i].weight = 3000;
    assert_int_equal (
        node_capsule_sortition_input (chain, seed, 7, 0, task, set, 3, set[0].pk, &in), 0);
    assert_int_equal (in.tau, CONS_SORTITION_TAU_MAX);
    /* an empty set or one weighing nothing */
    assert_int_equal (
        node_capsule_sortition_input (chain, seed, 7, 0, task, set, 0, set[0].pk, &in),
        CONS_ERR_SORTITION_WEIGHT);
    for (size_t i = 0; i < 3; i++)
        set[i].weight = 0;
    assert_int_equal (
        node_capsule_sortition_input (chain, seed, 7, 0, task, set, 3, set[0].pk, &in),
        CONS_ERR_SORTITION_WEIGHT);
}

/* Real sortitions over many task ids: weights 1, 2 and 5 win about 1/8,
   2/8 and 5/8 of them (fixed keys and ids: the counts are always the
   same; the bounds are wide only to say what the counts mean). */
static void
test_sortition_weighted (void **state)
{
    (void)state;
    enum { NODES = 3, TASKS = 240 };
    static const uint64_t weights[NODES] = { 1, 2, 5 };
    wd_vrf_key_t *keys[NODES];
    cons_validator_t set[NODES];
    memset (set, 0, sizeof set);
    for (size_t i = 0; i < NODES; i++) {
        uint8_t seed[WD_VRF_SEED_LEN];
        memset (seed, (int)(0x40 + i), sizeof seed);
        keys[i] = wd_vrf_key_new (seed);
        assert_non_null (keys[i]);
        memset (set[i].pk, (int)(0x10 + i), sizeof set[i].pk);
        set[i].weight = weights[i];
    }
    uint8_t chain[32], seed[32];
    memset (chain, 0xc1, sizeof chain);
    memset (seed, 0x5e, sizeof seed);
    size_t wins[NODES] = { 0 };
    for (uint32_t n = 0; n < TASKS; n++) {
        uint8_t task[32] = { 0 };
        memcpy (task, &n, sizeof n);
        size_t best = NODES;
        cons_sortition_claim_t claims[NODES];
        for (size_t i = 0; i < NODES; i++) {
            cons_sortition_input_t in;
            assert_int_equal (
                node_capsule_sortition_input (chain, seed, 9, 0, task, set, NODES, set[i].pk, &in),
                0);
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, keys[i], &claims[i]),
                              0);
            /* tau = W: every sub-user is selected */
            assert_int_equal (claims[i].count, weights[i]);
            if (n == 0)
                assert_int_equal (
                    cons_sortition_verify (&in, wd_vrf_key_public (keys[i]), &claims[i]), 0);
            if (best == NODES ||
                cons_sortition_priority_cmp (claims[i].priority, claims[best].priority) < 0)
                best = i;
        }
        wins[best]++;
    }
    for (size_t i = 0; i < NODES; i++)
        wd_vrf_key_destroy (&keys[i]);
    printf ("wins of weights 1, 2, 5 over %d tasks: %zu %zu %zu\n", TASKS, wins[0], wins[1],
            wins[2]);
    assert_true (wins[0] < wins[1] && wins[1] < wins[2]);
    assert_in_range (wins[0], 10, 50);   /* expected 30 */
    assert_in_range (wins[1], 35, 85);   /* expected 60 */
    assert_in_range (wins[2], 120, 180); /* expected 150 */
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_release_granted),
        cmocka_unit_test (test_release_pending),
        cmocka_unit_test (test_release_not_selected),
        cmocka_unit_test (test_release_not_named),
        cmocka_unit_test (test_release_curve),
        cmocka_unit_test (test_release_ledger_facts),
        cmocka_unit_test (test_release_store),
        cmocka_unit_test (test_release_policy),
        cmocka_unit_test (test_facts),
        cmocka_unit_test (test_eligible),
        cmocka_unit_test (test_claims_lowest_wins),
        cmocka_unit_test (test_claims_tie_lower_id),
        cmocka_unit_test (test_claims_ignored),
        cmocka_unit_test (test_claims_rounds),
        cmocka_unit_test (test_claims_deadline),
        cmocka_unit_test (test_sortition_input),
        cmocka_unit_test (test_sortition_weighted),
    };
    if (sodium_init () < 0)
        return 1;
    return cmocka_run_group_tests (tests, NULL, NULL);
}
