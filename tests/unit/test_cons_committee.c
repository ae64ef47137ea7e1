/*
 * Unit tests for cons_committee and the committee rules of the ledger: the
 * record round trip, the certification and escalation rule, the tracker
 * (certify, escalate, propose, expire), and cons_ledger_check_block's
 * committee reasons with real VRF claims, node status and reputation
 * accuracy on a four-node chain.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_committee.h"
#include "cons_ledger.h"
#include "cons_test_chain.h"
#include "test_support.h"

static tchain_t s_t;
static char s_path[512];

static int
s_setup (void **state)
{
    (void)state;
    /* epoch_blocks 4, lookback 1: epoch 0 is heights 1..4 */
    tchain_init (&s_t, 4, 0, 4, 1);
    return 0;
}

static int
s_teardown (void **state)
{
    tchain_fini (&s_t);
    return test_tmpdir_teardown (state);
}

/* Node i's real sortition claim for evidence in epoch ep. */
static void
s_claim (size_t i, const cons_committee_epoch_t *ep, const uint8_t evidence[32],
         cons_sortition_claim_t *claim)
{
    wd_vrf_key_t *key = wd_vrf_key_new (s_t.vrf_seed[i]);
    assert_non_null (key);
    cons_sortition_input_t in;
    cons_committee_input (s_t.chain, ep, evidence, s_t.pk[i], 6, &in);
    assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, claim), WD_OK);
    assert_true (claim->count > 0);
    wd_vrf_key_destroy (&key);
}

static void
test_record_round_trip (void **state)
{
    (void)state;
    uint8_t id[32] = { 7 };
    cons_sortition_claim_t claim = { .count = 3 };
    size_t len;
    uint8_t *env = tchain_cverdict (&s_t, 1, id, 2, true, 5, &claim, &len);
    wd_envelope_t e;
    assert_int_equal (wd_envelope_decode (env, len, &e), WD_OK);
    assert_string_equal (e.type, CONS_COMMITTEE_VERDICT_TYPE);
    cons_committee_verdict_t cv;
    assert_int_equal (cons_committee_verdict_decode (e.body, e.body_len, &cv), WD_OK);
    assert_int_equal (cv.epoch, 5);
    assert_true (cv.has_claim);
    assert_int_equal (cv.claim.count, 3);
    assert_memory_equal (cv.verdict.evidence, id, 32);
    assert_true (cons_committee_accepts (&cv.verdict));
    uint8_t *again;
    size_t again_len;
    assert_int_equal (cons_committee_verdict_encode (&cv, &again, &again_len), WD_OK);
    assert_int_equal (again_len, e.body_len);
    assert_memory_equal (again, e.body, again_len);
    /* v 2 is refused; a truncated body too */
    uint8_t *bad = malloc (again_len);
    memcpy (bad, again, again_len);
    for (size_t i = 0; i + 2 < again_len; i++)
        if (bad[i] == 0xa1 && bad[i + 1] == 'v' && bad[i + 2] == 0x01)
            bad[i + 2] = 0x02;
    assert_int_equal (cons_committee_verdict_decode (bad, again_len, &cv), WD_ERR_BAD_VERSION);
    assert_int_equal (cons_committee_verdict_decode (again, again_len - 1, &cv), WD_ERR_TRUNCATED);
    free (bad);
    free (again);
    free (env);
    /* an escalation verdict has no claim key */
    env = tchain_cverdict (&s_t, 1, id, 2, false, 0, NULL, &len);
    assert_int_equal (wd_envelope_decode (env, len, &e), WD_OK);
    assert_int_equal (cons_committee_verdict_decode (e.body, e.body_len, &cv), WD_OK);
    assert_false (cv.has_claim);
    assert_false (cons_committee_accepts (&cv.verdict));
    free (env);
}

static void
test_rule (void **state)
{
    (void)state;
    cons_validator_t set[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (set[i].pk, s_t.pk[i], 32);
        set[i].weight = i == 0 ? 3 : 1; /* W = 6 */
    }
    cons_committee_vote_t v[4] = { 0 };
    for (size_t i = 0; i < 4; i++)
        memcpy (v[i].signer, s_t.pk[i], 32);
    attest_trust_t tier;
    v[1].committee = v[2].committee = true;
    v[1].accept = v[2].accept = true;
    v[1].tier = ATTEST_TRUST_AFFIRMING;
    v[2].tier = ATTEST_TRUST_WARNING;
    assert_int_equal (cons_committee_decide (v + 1, 1, set, 4, NULL, &tier), CONS_COMMITTEE_OPEN);
    assert_int_equal (tier, ATTEST_TRUST_NONE);
    assert_int_equal (cons_committee_decide (v + 1, 2, set, 4, NULL, &tier),
                      CONS_COMMITTEE_CERTIFIED);
    assert_int_equal (tier, ATTEST_TRUST_WARNING);
    /* one REJECT escalates; 3 + 1 + 1 = 5 of 6 accepting: 15 > 12 */
    v[3].committee = true;
    v[3].tier = ATTEST_TRUST_CONTRAINDICATED;
    cons_committee_vote_t order[4] = { v[3], v[1], v[2], v[0] };
    assert_int_equal (cons_committee_decide (order, 3, set, 4, NULL, NULL),
                      CONS_COMMITTEE_ESCALATED);
    order[3].accept = true;
    order[3].tier = ATTEST_TRUST_AFFIRMING;
    assert_int_equal (cons_committee_decide (order, 4, set, 4, NULL, &tier),
                      CONS_COMMITTEE_CERTIFIED);
    assert_int_equal (tier, ATTEST_TRUST_WARNING);
    /* node 0 (weight 3) and node 3 reject: 4 of 6, 12 > 12 is false */
    order[3].accept = false;
    order[3].tier = ATTEST_TRUST_CONTRAINDICATED;
    cons_committee_vote_t two[2] = { order[0], order[3] };
    assert_int_equal (cons_committee_decide (two, 2, set, 4, NULL, NULL), CONS_COMMITTEE_ESCALATED);
    set[3].weight = 2; /* W = 7, rejecting 5: 15 > 14 */
    assert_int_equal (cons_committee_decide (two, 2, set, 4, NULL, &tier), CONS_COMMITTEE_REJECTED);
    assert_int_equal (tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_string_equal (cons_committee_state_name (CONS_COMMITTEE_REJECTED), "rejected");
}

/* Escalation thresholds leave out the subject's weight: more than 2/3 of
   the weight of the validators other than the subject node. */
static void
test_rule_subject (void **state)
{
    (void)state;
    /* five nodes of weight 1 (pks made up: the rule is pure) */
    uint8_t pk[5][32];
    cons_validator_t set[5];
    for (size_t i = 0; i < 5; i++) {
        memset (pk[i], (int)(0x10 + i), 32);
        memcpy (set[i].pk, pk[i], 32);
        set[i].weight = 1;
    }
    /* subject node 0; node 1 REJECTs (escalates), nodes 2, 3 and 4 ACCEPT:
       3 of the 4 others, 9 > 8, certified; counting the subject's weight
       (the old rule) 9 > 10 would not decide */
    cons_committee_vote_t v[4] = { 0 };
    for (size_t i = 0; i < 4; i++) {
        memcpy (v[i].signer, pk[i + 1], 32);
        v[i].committee = true;
        v[i].accept = i > 0;
        v[i].tier = i > 0 ? ATTEST_TRUST_AFFIRMING : ATTEST_TRUST_CONTRAINDICATED;
    }
    attest_trust_t tier;
    assert_int_equal (cons_committee_decide (v, 3, set, 5, pk[0], NULL), CONS_COMMITTEE_ESCALATED);
    assert_int_equal (cons_committee_decide (v, 4, set, 5, pk[0], &tier), CONS_COMMITTEE_CERTIFIED);
    assert_int_equal (tier, ATTEST_TRUST_AFFIRMING);
    assert_int_equal (cons_committee_decide (v, 4, set, 5, NULL, NULL), CONS_COMMITTEE_ESCALATED);
    /* the mirror: three REJECTs of four, rejected */
    for (size_t i = 1; i < 4; i++) {
        v[i].accept = false;
        v[i].tier = ATTEST_TRUST_CONTRAINDICATED;
    }
    v[1].accept = true;
    v[1].tier = ATTEST_TRUST_AFFIRMING;
    assert_int_equal (cons_committee_decide (v, 4, set, 5, pk[0], &tier), CONS_COMMITTEE_REJECTED);
    assert_int_equal (tier, ATTEST_TRUST_CONTRAINDICATED);

    /* four nodes: the three others are all of it; 2 of 3 is exactly 2/3,
       not more (one dissent still blocks a decision), 3 of 3 decides */
    v[1].accept = v[2].accept = false;
    v[1].tier = v[2].tier = ATTEST_TRUST_CONTRAINDICATED;
    assert_int_equal (cons_committee_decide (v, 3, set, 4, pk[0], NULL), CONS_COMMITTEE_REJECTED);
    v[2].accept = true;
    v[2].tier = ATTEST_TRUST_AFFIRMING;
    assert_int_equal (cons_committee_decide (v, 3, set, 4, pk[0], NULL), CONS_COMMITTEE_ESCALATED);

    /* a heavy subject: weights 10 (subject), 1, 1, 1; the others' total is
       3, so all three decide (9 > 6) and two do not (6 > 6 is false);
       counting the subject (W = 13) nothing could ever decide */
    set[0].weight = 10;
    for (size_t i = 0; i < 3; i++) {
        v[i].accept = false;
        v[i].tier = ATTEST_TRUST_CONTRAINDICATED;
    }
    assert_int_equal (cons_committee_decide (v, 2, set, 4, pk[0], NULL), CONS_COMMITTEE_ESCALATED);
    assert_int_equal (cons_committee_decide (v, 3, set, 4, pk[0], NULL), CONS_COMMITTEE_REJECTED);
    assert_int_equal (cons_committee_decide (v, 3, set, 4, NULL, NULL), CONS_COMMITTEE_ESCALATED);
    /* weights 6 among the others (2, 2, 2) plus subject: 4 of 6 is 12 > 12,
       false; a subject outside the set leaves the total alone */
    for (size_t i = 1; i < 4; i++)
        set[i].weight = 2;
    assert_int_equal (cons_committee_decide (v, 2, set, 4, pk[0], NULL), CONS_COMMITTEE_ESCALATED);
    assert_int_equal (cons_committee_decide (v, 3, set, 4, pk[0], NULL), CONS_COMMITTEE_REJECTED);
    assert_int_equal (cons_committee_decide (v, 3, set, 4, pk[4], NULL), CONS_COMMITTEE_ESCALATED);
    /* the subject is the whole set: nobody else weighs anything, and an
       escalated record stays escalated */
    cons_validator_t alone[1];
    memcpy (alone[0].pk, pk[0], 32);
    alone[0].weight = 5;
    assert_int_equal (cons_committee_decide (v, 3, alone, 1, pk[0], NULL),
                      CONS_COMMITTEE_ESCALATED);
}

/* A ledger with one empty block (so epoch 0's first block is committed). */
static cons_ledger_t *
s_ledger (void)
{
    static int n;
    snprintf (s_path, sizeof s_path, "%s/committee-%d.db", test_tmpdir (), ++n);
    cons_ledger_t *l;
    char why[128];
    assert_int_equal (
        cons_ledger_open (s_path, s_t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why), WD_OK);
    assert_int_equal (tchain_commit (&s_t, l, NULL, 0, 0, 1000), WD_OK);
    return l;
}

/* Committee epoch e of l (its first block must be committed); the set is
   borrowed from the ledger until its next append. */
static void
s_epoch (cons_ledger_t *l, uint64_t e, cons_committee_epoch_t *ep)
{
    uint64_t first = e * 4 + 1;
    uint8_t *block;
    size_t len;
    assert_int_equal (cons_ledger_get (l, first, &block, &len, NULL, NULL), WD_OK);
    cons_block_t b;
    assert_int_equal (cons_block_decode (block, len, SIZE_MAX, &b), WD_OK);
    ep->epoch = e;
    ep->height = first;
    memcpy (ep->seed, b.seed, 32);
    cons_block_release (&b);
    free (block);
    assert_int_equal (cons_ledger_validators (l, first, &ep->validators, &ep->count), WD_OK);
}

static void
s_epoch0 (cons_ledger_t *l, cons_committee_epoch_t *ep)
{
    s_epoch (l, 0, ep);
}

/* A tracker of the test chain (tau 6) holding epoch ep; expire_ms and
   cases_max 0 for the defaults. */
static cons_committee_t *
s_tracker (const cons_committee_epoch_t *ep, uint64_t expire_ms, size_t cases_max)
{
    cons_committee_config_t cfg = {
        .genesis = s_t.genesis, .tau = 6, .expire_ms = expire_ms, .cases_max = cases_max
    };
    memcpy (cfg.chain, s_t.chain, 32);
    cons_committee_t *c = cons_committee_new (&cfg);
    assert_non_null (c);
    assert_int_equal (cons_committee_set_epoch (c, ep), WD_OK);
    return c;
}

/* Proposes records on l and returns check_block's answer. */
static int
s_try (cons_ledger_t *l, const cons_bytes_t *recs, size_t n)
{
    uint8_t *block;
    size_t len;
    assert_int_equal (cons_ledger_propose (l, 5000, s_t.pk[0], NULL, recs, n, &block, &len), WD_OK);
    int err = cons_ledger_check_block (l, block, len);
    free (block);
    return err;
}

static void
test_ledger_rules (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    size_t elen, len;
    uint8_t *ev = tchain_evidence (&s_t, 1, 1, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3, c1, c0;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    s_claim (1, &ep, id, &c1);
    s_claim (0, &ep, id, &c0);
    uint8_t *a2 = tchain_cverdict (&s_t, 2, id, 1, true, 0, &c2, &len);
    cons_bytes_t r[4] = { { ev, elen }, { a2, len } };

    /* the evidence must come first (or be in the chain) */
    cons_bytes_t only[1] = { { a2, len } };
    assert_int_equal (s_try (l, only, 1), CONS_ERR_COMMITTEE_EVIDENCE);
    cons_bytes_t swapped[2] = { r[1], r[0] };
    assert_int_equal (s_try (l, swapped, 2), CONS_ERR_COMMITTEE_EVIDENCE);
    /* a claim of another node's proof */
    uint8_t *forged = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c2, &len);
    r[2] = (cons_bytes_t){ forged, len };
    assert_int_equal (s_try (l, r, 3), WD_ERR_VRF_INVALID);
    free (forged);
    /* node 3's own proof with a count or a priority that beta does not give
       (W = 4 <= tau: every weight-1 node is selected exactly once) */
    cons_sortition_claim_t fake = c3;
    assert_int_equal (fake.count, 1);
    fake.count = 2;
    forged = tchain_cverdict (&s_t, 3, id, 1, true, 0, &fake, &len);
    r[2] = (cons_bytes_t){ forged, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_SORTITION_COUNT);
    free (forged);
    fake = c3;
    fake.priority[31] ^= 1;
    forged = tchain_cverdict (&s_t, 3, id, 1, true, 0, &fake, &len);
    r[2] = (cons_bytes_t){ forged, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_SORTITION_PRIORITY);
    free (forged);
    fake = c3;
    fake.count = 0;
    forged = tchain_cverdict (&s_t, 3, id, 1, true, 0, &fake, &len);
    r[2] = (cons_bytes_t){ forged, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_SORTITION_NOT_SELECTED);
    free (forged);
    /* a verdict about another subject than the evidence's */
    uint8_t *other = tchain_cverdict (&s_t, 3, id, 0, true, 0, &c3, &len);
    r[2] = (cons_bytes_t){ other, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_COMMITTEE_SUBJECT);
    free (other);
    /* the subject itself */
    uint8_t *self = tchain_cverdict (&s_t, 1, id, 1, true, 0, &c1, &len);
    r[2] = (cons_bytes_t){ self, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_COMMITTEE_SELF);
    free (self);
    /* twice by one signer */
    uint8_t *again = tchain_cverdict (&s_t, 2, id, 1, false, 0, &c2, &len);
    r[2] = (cons_bytes_t){ again, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_COMMITTEE_TWICE);
    free (again);
    /* an escalation verdict while not escalated */
    uint8_t *esc = tchain_cverdict (&s_t, 3, id, 1, true, 0, NULL, &len);
    r[2] = (cons_bytes_t){ esc, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_COMMITTEE_NOT_ESCALATED);
    free (esc);
    /* epoch 1 is not usable at height 2 */
    uint8_t *late = tchain_cverdict (&s_t, 3, id, 1, true, 1, &c3, &len);
    r[2] = (cons_bytes_t){ late, len };
    assert_int_equal (s_try (l, r, 3), CONS_ERR_COMMITTEE_EPOCH);
    free (late);

    /* two ACCEPTs certify; a third verdict is refused as decided */
    uint8_t *a3 = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c3, &len);
    r[2] = (cons_bytes_t){ a3, len };
    uint8_t *a0 = tchain_cverdict (&s_t, 0, id, 1, true, 0, &c0, &len);
    r[3] = (cons_bytes_t){ a0, len };
    assert_int_equal (s_try (l, r, 4), CONS_ERR_COMMITTEE_DECIDED);
    cons_node_status_t st;
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_NONE);
    assert_int_equal (tchain_commit (&s_t, l, r, 3, 0, 2000), WD_OK);
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_AFFIRMING);
    assert_false (st.escalated);
    assert_memory_equal (st.evidence, id, 32);
    assert_int_equal (st.height, 2);
    assert_true (st.has_digest);
    assert_int_equal (st.digest[0], 1);
    assert_int_equal (st.evidence_time, 1700000001);
    uint8_t stranger[32] = { 0 };
    assert_int_equal (cons_ledger_node_status (l, stranger, &st), WD_ERR_NOT_FOUND);
    /* in the chain, decided: a later verdict is refused */
    cons_bytes_t late0[1] = { r[3] };
    assert_int_equal (s_try (l, late0, 1), CONS_ERR_COMMITTEE_DECIDED);
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    for (size_t i = 0; i < cons_reputation_count (rep); i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        assert_int_equal (e->hits, i == 2 || i == 3 ? 1 : 0);
        assert_int_equal (e->passed, i == 1 ? 1 : 0);
    }
    /* the replay from scratch agrees */
    uint64_t bad;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    free (ev);
    free (a2);
    free (a3);
    free (a0);
    cons_ledger_destroy (&l);
}

static void
test_ledger_escalation (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    size_t elen, len;
    uint8_t *ev = tchain_evidence (&s_t, 1, 2, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2;
    s_claim (2, &ep, id, &c2);
    /* node 2 (a liar) accepts, node 3 rejects: escalated; 0, 2's verdict
       and 3: node 0 and 3 reject with 2 of 4 weight, not yet; node 1 is the
       subject and may not vote. */
    uint8_t *a2 = tchain_cverdict (&s_t, 2, id, 1, true, 0, &c2, &len);
    cons_bytes_t r[4] = { { ev, elen }, { a2, len } };
    cons_sortition_claim_t c3;
    s_claim (3, &ep, id, &c3);
    uint8_t *r3 = tchain_cverdict (&s_t, 3, id, 1, false, 0, &c3, &len);
    r[2] = (cons_bytes_t){ r3, len };
    assert_int_equal (tchain_commit (&s_t, l, r, 3, 0, 2000), WD_OK);
    cons_node_status_t st;
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_NONE);
    /* node 0's escalation REJECT: rejecting weight 2 of the 3 validators
       other than the subject is exactly 2/3, not more: one dissent (the
       liar) keeps a four-node record escalated */
    uint8_t *e0 = tchain_cverdict (&s_t, 0, id, 1, false, 0, NULL, &len);
    cons_bytes_t one[1] = { { e0, len } };
    assert_int_equal (tchain_commit (&s_t, l, one, 1, 0, 3000), WD_OK);
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_NONE);
    /* a verdict from a non-member is not a record of this chain's signers;
       an escalation verdict from the subject is SELF */
    uint8_t *e1 = tchain_cverdict (&s_t, 1, id, 1, true, 0, NULL, &len);
    cons_bytes_t s1[1] = { { e1, len } };
    assert_int_equal (s_try (l, s1, 1), CONS_ERR_COMMITTEE_SELF);
    free (e1);
    (void)st;
    free (ev);
    free (a2);
    free (r3);
    free (e0);
    cons_ledger_destroy (&l);
}

static void
test_tracker (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_committee_t *c = s_tracker (&ep, 1000, 0);
    size_t elen, len;
    uint8_t *ev = tchain_evidence (&s_t, 1, 3, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3, c0;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    s_claim (0, &ep, id, &c0);
    uint8_t *a2 = tchain_cverdict (&s_t, 2, id, 1, true, 0, &c2, &len);
    size_t a2_len = len;
    /* a verdict before its evidence opens a case that waits */
    assert_int_equal (cons_committee_add_verdict (c, a2, a2_len, 10), WD_OK);
    assert_int_equal (cons_committee_add_verdict (c, a2, a2_len, 10), CONS_ERR_COMMITTEE_TWICE);
    cons_bytes_t out[8];
    assert_int_equal (cons_committee_propose (c, 2, out, 8, 1 << 20), 0);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 20), WD_OK);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 20), CONS_ERR_DUPLICATE);
    /* a forged claim (node 3 with node 2's proof) */
    uint8_t *f3 = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c2, &len);
    assert_int_equal (cons_committee_add_verdict (c, f3, len, 30), WD_ERR_VRF_INVALID);
    free (f3);
    /* another subject than the evidence's */
    f3 = tchain_cverdict (&s_t, 3, id, 2, true, 0, &c3, &len);
    assert_int_equal (cons_committee_add_verdict (c, f3, len, 30), CONS_ERR_COMMITTEE_SUBJECT);
    free (f3);
    uint8_t *a3 = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c3, &len);
    size_t a3_len = len;
    assert_int_equal (cons_committee_add_verdict (c, a3, a3_len, 30), WD_OK);
    cons_committee_out_t o;
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_CERTIFIED);
    assert_memory_equal (o.evidence, id, 32);
    assert_false (cons_committee_next (c, &o));
    uint8_t *a0 = tchain_cverdict (&s_t, 0, id, 1, true, 0, &c0, &len);
    assert_int_equal (cons_committee_add_verdict (c, a0, len, 30), CONS_ERR_COMMITTEE_DECIDED);
    free (a0);
    /* the proposal is the evidence and the two ACCEPTs; the ledger takes it */
    size_t n = cons_committee_propose (c, 2, out, 8, 1 << 20);
    assert_int_equal (n, 3);
    assert_int_equal (out[0].len, elen);
    assert_int_equal (tchain_commit (&s_t, l, out, n, 0, 2000), WD_OK);
    for (size_t i = 0; i < n; i++)
        cons_committee_committed (c, 2, out[i].data, out[i].len);
    cons_committee_status_t st;
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK);
    assert_true (st.chain_decided);
    assert_int_equal (st.state, CONS_COMMITTEE_CERTIFIED);
    assert_int_equal (st.accepts, 2);
    assert_int_equal (cons_committee_propose (c, 3, out, 8, 1 << 20), 0);

    /* escalation: a REJECT is proposed first; expiry drops the case */
    uint8_t *ev2 = tchain_evidence (&s_t, 2, 4, &elen);
    uint8_t id2[32];
    wd_envelope_id (id2, ev2, elen);
    assert_int_equal (cons_committee_add_evidence (c, ev2, elen, 100), WD_OK);
    s_claim (3, &ep, id2, &c3);
    s_claim (0, &ep, id2, &c0);
    uint8_t *x0 = tchain_cverdict (&s_t, 0, id2, 2, true, 0, &c0, &len);
    size_t x0_len = len;
    uint8_t *x3 = tchain_cverdict (&s_t, 3, id2, 2, false, 0, &c3, &len);
    assert_int_equal (cons_committee_add_verdict (c, x0, x0_len, 110), WD_OK);
    assert_int_equal (cons_committee_add_verdict (c, x3, len, 120), WD_OK);
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_ESCALATED);
    n = cons_committee_propose (c, 3, out, 8, 1 << 20);
    assert_int_equal (n, 3);
    assert_int_equal (out[1].len, len); /* the REJECT */
    assert_memory_equal (out[1].data, x3, len);
    assert_int_equal (tchain_commit (&s_t, l, out, n, 0, 3000), WD_OK);
    assert_int_equal (cons_committee_size (c), 2);
    cons_committee_tick (c, 1050); /* the first case is over */
    assert_int_equal (cons_committee_size (c), 1);
    cons_committee_tick (c, 1100);
    assert_int_equal (cons_committee_size (c), 0);
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_EXPIRED);
    assert_int_equal (cons_committee_status (c, id2, &st), WD_ERR_NOT_FOUND);
    free (x0);
    free (x3);
    free (ev2);
    free (ev);
    free (a2);
    free (a3);
    cons_committee_destroy (&c);
    assert_null (c);
    cons_ledger_destroy (&l);
}

/* A case lives in the epoch of the block that carried its evidence and two
   more: at height 12 (epoch 2) a verdict still finds it open, at height 13
   (epoch 3) it is EXPIRED, not unknown. */
static void
test_ledger_expired (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    size_t elen, len;
    uint8_t *ev = tchain_evidence (&s_t, 1, 6, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_bytes_t r[1] = { { ev, elen } };
    assert_int_equal (tchain_commit (&s_t, l, r, 1, 0, 2000), WD_OK); /* height 2, epoch 0 */
    for (uint64_t h = 3; h <= 11; h++)
        assert_int_equal (tchain_commit (&s_t, l, NULL, 0, 0, h * 1000), WD_OK);
    uint8_t *esc = tchain_cverdict (&s_t, 0, id, 1, false, 2, NULL, &len);
    cons_bytes_t one[1] = { { esc, len } };
    assert_int_equal (s_try (l, one, 1), CONS_ERR_COMMITTEE_NOT_ESCALATED); /* height 12 */
    assert_int_equal (tchain_commit (&s_t, l, NULL, 0, 0, 12000), WD_OK);
    assert_int_equal (s_try (l, one, 1), CONS_ERR_COMMITTEE_EXPIRED); /* height 13 */
    /* evidence that was never in the chain is still EVIDENCE */
    uint8_t other[32] = { 1, 2, 3 };
    uint8_t *stray = tchain_cverdict (&s_t, 0, other, 1, false, 2, NULL, &len);
    cons_bytes_t two[1] = { { stray, len } };
    assert_int_equal (s_try (l, two, 1), CONS_ERR_COMMITTEE_EVIDENCE);
    free (stray);
    free (esc);
    free (ev);
    cons_ledger_destroy (&l);
}

/* A node quarantined for equivocation holds no weight in the next epoch's
   set: its committee verdicts are refused with CONS_ERR_COMMITTEE_WEIGHT
   before its claim is looked at, by the ledger, the tracker and
   cons_committee_check_claim. */
static void
test_weight (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    size_t len;
    /* height 2 (epoch 0): node 3 equivocated; quarantined until epoch 5 */
    uint8_t *eq = tchain_equivocation (&s_t, 0, 3, 1, &len);
    cons_bytes_t r[2] = { { eq, len } };
    assert_int_equal (tchain_commit (&s_t, l, r, 1, 0, 2000), WD_OK);
    free (eq);
    for (uint64_t h = 3; h <= 4; h++)
        assert_int_equal (tchain_commit (&s_t, l, NULL, 0, 0, h * 1000), WD_OK);
    size_t elen;
    uint8_t *ev = tchain_evidence (&s_t, 1, 7, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    r[0] = (cons_bytes_t){ ev, elen };
    assert_int_equal (tchain_commit (&s_t, l, r, 1, 0, 5000), WD_OK); /* height 5, epoch 1 */
    cons_committee_epoch_t ep;
    s_epoch (l, 1, &ep);
    assert_int_equal (ep.count, 3);
    for (size_t i = 0; i < ep.count; i++)
        assert_int_not_equal (tchain_index (&s_t, ep.validators[i].pk), 3);
    cons_sortition_claim_t claim = { .count = 1 };
    uint8_t *v3 = tchain_cverdict (&s_t, 3, id, 1, true, 1, &claim, &len);
    r[1] = (cons_bytes_t){ v3, len };
    assert_int_equal (s_try (l, r + 1, 1), CONS_ERR_COMMITTEE_WEIGHT);
    /* the same made-up claim from a member gets as far as the VRF */
    uint8_t *v2 = tchain_cverdict (&s_t, 2, id, 1, true, 1, &claim, &len);
    cons_bytes_t r2[1] = { { v2, len } };
    assert_int_equal (s_try (l, r2, 1), WD_ERR_VRF_INVALID);

    cons_committee_verdict_t cv = { .epoch = 1, .has_claim = true, .claim = claim };
    memcpy (cv.verdict.evidence, id, 32);
    assert_int_equal (cons_committee_check_claim (s_t.chain, s_t.genesis, &ep, 6, s_t.pk[3], &cv),
                      CONS_ERR_COMMITTEE_WEIGHT);
    uint8_t stranger[32] = { 9 };
    assert_int_equal (cons_committee_check_claim (s_t.chain, s_t.genesis, &ep, 6, stranger, &cv),
                      CONS_ERR_BLOCK_SIGNER);

    cons_committee_t *c = s_tracker (&ep, 0, 0);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 1), WD_OK);
    assert_int_equal (cons_committee_add_verdict (c, v3, r[1].len, 2), CONS_ERR_COMMITTEE_WEIGHT);
    assert_int_equal (cons_committee_add_verdict (c, v2, r2[0].len, 2), WD_ERR_VRF_INVALID);
    /* an escalation verdict of the quarantined node: not a validator */
    uint8_t *e3 = tchain_cverdict (&s_t, 3, id, 1, false, 1, NULL, &len);
    assert_int_equal (cons_committee_add_verdict (c, e3, len, 3), CONS_ERR_UNKNOWN_VALIDATOR);
    free (e3);
    cons_committee_destroy (&c);
    free (v2);
    free (v3);
    free (ev);
    cons_ledger_destroy (&l);
}

/* Two committee REJECTs escalate, one validator's escalation REJECT makes
   all 3 validators other than the subject: the tracker reports REJECTED and proposes the case, the
   ledger takes it and decides the same: a failure for the subject, a hit
   for every verifier, status contraindicated and escalated. */
static void
test_rejected (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_committee_t *c = s_tracker (&ep, 0, 0);
    size_t elen, len2, len3, len0;
    uint8_t *ev = tchain_evidence (&s_t, 1, 8, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    uint8_t *r2 = tchain_cverdict (&s_t, 2, id, 1, false, 0, &c2, &len2);
    uint8_t *r3 = tchain_cverdict (&s_t, 3, id, 1, false, 0, &c3, &len3);
    uint8_t *e0 = tchain_cverdict (&s_t, 0, id, 1, false, 0, NULL, &len0);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 1), WD_OK);
    /* an escalation verdict before any REJECT */
    assert_int_equal (cons_committee_add_verdict (c, e0, len0, 2),
                      CONS_ERR_COMMITTEE_NOT_ESCALATED);
    assert_int_equal (cons_committee_add_verdict (c, r2, len2, 2), WD_OK);
    cons_committee_out_t o;
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_ESCALATED);
    assert_int_equal (cons_committee_add_verdict (c, r3, len3, 3), WD_OK);
    assert_false (cons_committee_next (c, &o)); /* 2 of the 3 non-subjects: not yet */
    assert_int_equal (cons_committee_add_verdict (c, e0, len0, 4), WD_OK);
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_REJECTED);
    assert_memory_equal (o.evidence, id, 32);
    cons_committee_status_t st;
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK);
    assert_int_equal (st.state, CONS_COMMITTEE_REJECTED);
    assert_int_equal (st.rejects, 2);
    assert_int_equal (st.escalation_votes, 1);
    cons_bytes_t out[8];
    size_t n = cons_committee_propose (c, 2, out, 8, 1 << 20);
    assert_int_equal (n, 4);
    assert_memory_equal (out[0].data, ev, elen);
    assert_memory_equal (out[1].data, r2, len2);
    assert_memory_equal (out[2].data, r3, len3);
    assert_memory_equal (out[3].data, e0, len0);
    /* a case goes whole or not at all */
    assert_int_equal (cons_committee_propose (c, 2, out, 3, 1 << 20), 0);
    assert_int_equal (cons_committee_propose (c, 2, out, 8, elen + len2 + len3), 0);
    n = cons_committee_propose (c, 2, out, 8, 1 << 20);
    assert_int_equal (tchain_commit (&s_t, l, out, n, 0, 2000), WD_OK);
    for (size_t i = 0; i < n; i++)
        cons_committee_committed (c, 2, out[i].data, out[i].len);
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK);
    assert_true (st.chain_decided);
    assert_int_equal (cons_committee_propose (c, 3, out, 8, 1 << 20), 0);
    cons_committee_destroy (&c);

    cons_node_status_t ns;
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &ns), WD_OK);
    assert_int_equal (ns.tier, ATTEST_TRUST_CONTRAINDICATED);
    assert_true (ns.escalated);
    assert_memory_equal (ns.evidence, id, 32);
    assert_int_equal (ns.height, 2);
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    for (size_t i = 0; i < 4; i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        assert_int_equal (e->failed, i == 1 ? 1 : 0);
        assert_int_equal (e->passed, 0);
        assert_int_equal (e->hits, i == 1 ? 0 : 1);
        assert_int_equal (e->misses, 0);
    }
    /* decided: nobody may add to it (the same bytes again are a duplicate) */
    cons_bytes_t late[1] = { { r2, len2 } };
    assert_int_equal (s_try (l, late, 1), CONS_ERR_BLOCK_DUPLICATE);
    cons_sortition_claim_t c0;
    s_claim (0, &ep, id, &c0);
    size_t len;
    uint8_t *a0 = tchain_cverdict (&s_t, 0, id, 1, true, 0, &c0, &len);
    late[0] = (cons_bytes_t){ a0, len };
    assert_int_equal (s_try (l, late, 1), CONS_ERR_COMMITTEE_DECIDED);
    free (a0);
    uint64_t bad;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    free (ev);
    free (r2);
    free (r3);
    free (e0);
    cons_ledger_destroy (&l);
}

/* At cases_max the oldest case goes first: EXPIRED when it was undecided,
   silently when it was decided; a verdict for unseen evidence also opens
   (and may evict) a case. */
static void
test_tracker_eviction (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_committee_t *c = s_tracker (&ep, 0, 2);
    uint8_t *ev[4];
    size_t elen[4];
    uint8_t id[4][32];
    for (size_t i = 0; i < 4; i++) {
        ev[i] = tchain_evidence (&s_t, 1, 20 + i, &elen[i]);
        wd_envelope_id (id[i], ev[i], elen[i]);
    }
    cons_committee_out_t o;
    cons_committee_status_t st;
    assert_int_equal (cons_committee_add_evidence (c, ev[0], elen[0], 1), WD_OK);
    assert_int_equal (cons_committee_add_evidence (c, ev[1], elen[1], 2), WD_OK);
    assert_int_equal (cons_committee_size (c), 2);
    assert_int_equal (cons_committee_add_evidence (c, ev[2], elen[2], 3), WD_OK);
    assert_int_equal (cons_committee_size (c), 2);
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_EXPIRED);
    assert_memory_equal (o.evidence, id[0], 32);
    assert_false (cons_committee_next (c, &o));
    assert_int_equal (cons_committee_status (c, id[0], &st), WD_ERR_NOT_FOUND);
    assert_int_equal (cons_committee_status (c, id[1], &st), WD_OK);
    /* certify case 1, then a verdict for unseen evidence 3 evicts it */
    for (size_t v = 2; v <= 3; v++) {
        cons_sortition_claim_t claim;
        size_t len;
        s_claim (v, &ep, id[1], &claim);
        uint8_t *a = tchain_cverdict (&s_t, v, id[1], 1, true, 0, &claim, &len);
        assert_int_equal (cons_committee_add_verdict (c, a, len, 4), WD_OK);
        free (a);
    }
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_CERTIFIED);
    cons_sortition_claim_t claim;
    size_t len;
    s_claim (2, &ep, id[3], &claim);
    uint8_t *a = tchain_cverdict (&s_t, 2, id[3], 1, true, 0, &claim, &len);
    assert_int_equal (cons_committee_add_verdict (c, a, len, 5), WD_OK);
    free (a);
    assert_int_equal (cons_committee_size (c), 2);
    assert_false (cons_committee_next (c, &o)); /* a decided case leaves quietly */
    assert_int_equal (cons_committee_status (c, id[1], &st), WD_ERR_NOT_FOUND);
    assert_int_equal (cons_committee_status (c, id[3], &st), WD_OK);
    assert_false (st.has_evidence);
    assert_int_equal (st.accepts, 1);
    /* evidence 0 comes back: a new case, evicting case 2 (undecided) */
    assert_int_equal (cons_committee_add_evidence (c, ev[0], elen[0], 6), WD_OK);
    assert_true (cons_committee_next (c, &o));
    assert_int_equal (o.kind, CONS_COMMITTEE_OUT_EXPIRED);
    assert_memory_equal (o.evidence, id[2], 32);
    assert_int_equal (cons_committee_size (c), 2);
    for (size_t i = 0; i < 4; i++)
        free (ev[i]);
    cons_committee_destroy (&c);
    cons_ledger_destroy (&l);
}

/* The chain's decision is what the ledger decided when the verdicts were
   committed: an escalated case whose committed verdicts would certify it
   under a later epoch's weights stays undecided by the chain when
   something else about it changes (here its evidence arrives). */
static void
test_tracker_chain_weights (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_committee_t *c = s_tracker (&ep, 0, 0);
    size_t elen, len[3];
    uint8_t *ev = tchain_evidence (&s_t, 1, 30, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    uint8_t *v[3];
    v[0] = tchain_cverdict (&s_t, 2, id, 1, false, 0, &c2, &len[0]);
    v[1] = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c3, &len[1]);
    v[2] = tchain_cverdict (&s_t, 0, id, 1, true, 0, NULL, &len[2]);
    /* committed under epoch 0 (weights 1): 2 of 4 accept, escalated */
    for (size_t i = 0; i < 3; i++)
        cons_committee_committed (c, 2, v[i], len[i]);
    cons_committee_status_t st;
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK);
    assert_int_equal (st.state, CONS_COMMITTEE_ESCALATED);
    assert_false (st.chain_decided);
    /* epoch 1 weighs nodes 0 and 3 heavily: 20 of 22 would accept */
    cons_validator_t skewed[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (skewed[i].pk, s_t.pk[i], 32);
        skewed[i].weight = i == 0 || i == 3 ? 10 : 1;
    }
    cons_committee_epoch_t ep1 = { .epoch = 1, .height = 5, .validators = skewed, .count = 4 };
    assert_int_equal (cons_committee_set_epoch (c, &ep1), WD_OK);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 1), WD_OK);
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK);
    assert_false (st.chain_decided);
    /* what this node holds does certify under the weights of the next
       block: its proposal would be the evidence alone */
    assert_int_equal (st.state, CONS_COMMITTEE_CERTIFIED);
    cons_bytes_t out[4];
    assert_int_equal (cons_committee_propose (c, 6, out, 4, 1 << 20), 1);
    assert_memory_equal (out[0].data, ev, elen);
    for (size_t i = 0; i < 3; i++)
        free (v[i]);
    free (ev);
    cons_committee_destroy (&c);
    cons_ledger_destroy (&l);
}

/* Commits empty blocks on l up to height to. */
static void
s_empty_to (cons_ledger_t *l, uint64_t to)
{
    for (uint64_t h = cons_ledger_height (l) + 1; h <= to; h++)
        assert_int_equal (tchain_commit (&s_t, l, NULL, 0, 0, h * 1000), WD_OK);
}

/* Commits up to the first block of epoch e and gives it to the tracker. */
static void
s_enter_epoch (cons_committee_t *c, cons_ledger_t *l, uint64_t e)
{
    s_empty_to (l, e * 4 + 1);
    cons_committee_epoch_t ep;
    s_epoch (l, e, &ep);
    assert_int_equal (cons_committee_set_epoch (c, &ep), WD_OK);
}

/* The tracker's proposal for the block after l's tip is exactly the record
   given, and l's rules take it. */
static void
s_proposes_only (cons_committee_t *c, cons_ledger_t *l, const uint8_t *rec, size_t len)
{
    cons_bytes_t out[8];
    assert_int_equal (cons_committee_propose (c, cons_ledger_height (l) + 1, out, 8, 1 << 20), 1);
    assert_int_equal (out[0].len, len);
    assert_memory_equal (out[0].data, rec, len);
    assert_int_equal (s_try (l, out, 1), WD_OK);
}

/* The tracker proposes only what the block at the height given may take:
   at the first block of epoch e + 1 no verdict of epoch e - 1 (the ledger
   refuses it: CONS_ERR_COMMITTEE_EPOCH), and nothing of a case the chain
   has expired (CONS_ERR_COMMITTEE_EXPIRED), although the tracker still
   keeps both. */
static void
test_tracker_epochs (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_committee_t *c = s_tracker (&ep, 0, 0);
    size_t elen, len3, len0, len2;
    uint8_t *ev = tchain_evidence (&s_t, 1, 40, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c3;
    s_claim (3, &ep, id, &c3);
    uint8_t *r3 = tchain_cverdict (&s_t, 3, id, 1, false, 0, &c3, &len3);
    assert_int_equal (cons_committee_add_evidence (c, ev, elen, 1), WD_OK);
    assert_int_equal (cons_committee_add_verdict (c, r3, len3, 1), WD_OK);
    cons_bytes_t out[8];
    size_t n = cons_committee_propose (c, 2, out, 8, 1 << 20);
    assert_int_equal (n, 2);
    assert_int_equal (tchain_commit (&s_t, l, out, n, 0, 2000), WD_OK); /* height 2, epoch 0 */
    for (size_t i = 0; i < n; i++)
        cons_committee_committed (c, 2, out[i].data, out[i].len);
    s_enter_epoch (c, l, 1);
    /* node 0's escalation verdict made in epoch 0 arrives: usable in epoch 1 */
    uint8_t *e0 = tchain_cverdict (&s_t, 0, id, 1, false, 0, NULL, &len0);
    assert_int_equal (cons_committee_add_verdict (c, e0, len0, 2), WD_OK);
    s_proposes_only (c, l, e0, len0); /* height 6 */
    /* not committed; at height 9 (epoch 2) epoch 0 is too old */
    s_empty_to (l, 8);
    cons_bytes_t one[1] = { { e0, len0 } };
    assert_int_equal (s_try (l, one, 1), CONS_ERR_COMMITTEE_EPOCH);
    assert_int_equal (cons_committee_propose (c, 9, out, 8, 1 << 20), 0);
    /* in epoch 2, node 2's epoch-2 escalation verdict goes in */
    s_enter_epoch (c, l, 2);
    uint8_t *e2 = tchain_cverdict (&s_t, 2, id, 1, false, 2, NULL, &len2);
    assert_int_equal (cons_committee_add_verdict (c, e2, len2, 3), WD_OK);
    s_proposes_only (c, l, e2, len2); /* height 10 */
    /* at height 13 (epoch 3) the chain has expired the case (epoch 0 + 2) */
    s_empty_to (l, 12);
    one[0] = (cons_bytes_t){ e2, len2 };
    assert_int_equal (s_try (l, one, 1), CONS_ERR_COMMITTEE_EXPIRED);
    assert_int_equal (cons_committee_propose (c, 13, out, 8, 1 << 20), 0);
    cons_committee_status_t st;
    assert_int_equal (cons_committee_status (c, id, &st), WD_OK); /* still kept */
    assert_false (st.chain_decided);
    free (ev);
    free (r3);
    free (e0);
    free (e2);
    cons_committee_destroy (&c);
    cons_ledger_destroy (&l);
}

/* cons_ledger_propose_valid leaves out each record the block rules refuse
   (with its reason) and keeps the rest in order, records that need an
   earlier one of the block included. */
static void
test_propose_valid (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    size_t elen, len2, len3, lenx;
    uint8_t *ev = tchain_evidence (&s_t, 1, 41, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    uint8_t *a2 = tchain_cverdict (&s_t, 2, id, 1, true, 0, &c2, &len2);
    uint8_t *a3 = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c3, &len3);
    uint8_t *late = tchain_cverdict (&s_t, 0, id, 1, true, 1, &c3, &lenx); /* epoch 1 at 2 */
    /* a2 before its evidence, the epoch-1 verdict, a2 again */
    cons_bytes_t r[6] = { { a2, len2 }, { ev, elen }, { late, lenx },
                          { a2, len2 }, { a3, len3 }, { a2, len2 } };
    int why[6];
    uint8_t *block;
    size_t len;
    assert_int_equal (cons_ledger_propose_valid (l, 2000, s_t.pk[0], NULL, r, 6, why, &block, &len),
                      WD_OK);
    assert_int_equal (why[0], CONS_ERR_COMMITTEE_EVIDENCE);
    assert_int_equal (why[1], WD_OK);
    assert_int_equal (why[2], CONS_ERR_COMMITTEE_EPOCH);
    assert_int_equal (why[3], CONS_ERR_BLOCK_DUPLICATE); /* the same bytes as r[0] */
    assert_int_equal (why[4], WD_OK);
    assert_int_equal (why[5], CONS_ERR_BLOCK_DUPLICATE);
    cons_block_t b;
    assert_int_equal (cons_block_decode (block, len, SIZE_MAX, &b), WD_OK);
    assert_int_equal (b.record_count, 2);
    assert_memory_equal (b.records[0].data, ev, elen);
    assert_memory_equal (b.records[1].data, a3, len3);
    cons_block_release (&b);
    const cons_validator_t *set;
    size_t count, cert_len;
    assert_int_equal (cons_ledger_validators (l, 2, &set, &count), WD_OK);
    uint8_t *cert = tchain_cert (&s_t, set, count, 2, block, len, 0, &cert_len);
    assert_int_equal (cons_ledger_append (l, block, len, cert, cert_len), WD_OK);
    free (cert);
    free (block);
    /* the dropped ACCEPT in order now certifies */
    cons_bytes_t again[1] = { { a2, len2 } };
    assert_int_equal (
        cons_ledger_propose_valid (l, 3000, s_t.pk[0], NULL, again, 1, why, &block, &len), WD_OK);
    assert_int_equal (why[0], WD_OK);
    free (block);
    /* nothing to drop: the block of cons_ledger_propose */
    assert_int_equal (
        cons_ledger_propose_valid (l, 3000, s_t.pk[0], NULL, NULL, 0, NULL, &block, &len), WD_OK);
    free (block);
    free (ev);
    free (a2);
    free (a3);
    free (late);
    cons_ledger_destroy (&l);
}

/* Appends to r the evidence of subject and its rejection by the other
   three: two committee REJECTs (claims of ep) and an escalation REJECT
   (3 of the 3 others). owned gets what the caller frees. */
static void
s_reject_all (const cons_committee_epoch_t *ep, size_t subject, uint64_t nonce, cons_bytes_t *r,
              size_t *n, uint8_t **owned, size_t *owned_n)
{
    size_t elen;
    uint8_t *ev = tchain_evidence (&s_t, subject, nonce, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    owned[(*owned_n)++] = ev;
    r[(*n)++] = (cons_bytes_t){ ev, elen };
    size_t k = 0;
    for (size_t v = 0; v < 4; v++) {
        if (v == subject)
            continue;
        size_t len;
        cons_sortition_claim_t claim;
        if (k < 2)
            s_claim (v, ep, id, &claim);
        uint8_t *x =
            tchain_cverdict (&s_t, v, id, subject, false, ep->epoch, k < 2 ? &claim : NULL, &len);
        owned[(*owned_n)++] = x;
        r[(*n)++] = (cons_bytes_t){ x, len };
        k++;
    }
}

/* A node whose latest decided attestation is contraindicated is out of
   the validator set of the epochs whose table says so, until a later
   evidence record of it is certified; when every node is out, every node
   weighs 1. */
static void
test_contraindicated_leaves_set (void **state)
{
    (void)state;
    cons_ledger_t *l = s_ledger ();
    cons_committee_epoch_t ep;
    s_epoch0 (l, &ep);
    cons_bytes_t r[16];
    uint8_t *owned[16];
    size_t n = 0, owned_n = 0;
    s_reject_all (&ep, 1, 50, r, &n, owned, &owned_n);
    assert_int_equal (tchain_commit (&s_t, l, r, n, 0, 2000), WD_OK); /* height 2 */
    cons_node_status_t st;
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_CONTRAINDICATED);
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    assert_true (cons_reputation_excluded (rep, 1, 1));
    assert_false (cons_reputation_excluded (rep, 0, 1));
    /* epoch 1 comes from the table after block 3 (lookback 1) */
    s_empty_to (l, 3);
    const cons_validator_t *set;
    size_t count;
    assert_int_equal (cons_ledger_validators (l, 4, &set, &count), WD_OK);
    assert_int_equal (count, 4); /* epoch 0: the genesis set */
    assert_int_equal (cons_ledger_validators (l, 5, &set, &count), WD_OK);
    assert_int_equal (count, 3);
    for (size_t i = 0; i < count; i++)
        assert_int_not_equal (tchain_index (&s_t, set[i].pk), 1);
    /* new evidence of node 1 certified at height 4 (epoch-0 claims) */
    size_t elen, len2, len3;
    uint8_t *ev = tchain_evidence (&s_t, 1, 51, &elen);
    uint8_t id[32];
    wd_envelope_id (id, ev, elen);
    cons_sortition_claim_t c2, c3;
    s_claim (2, &ep, id, &c2);
    s_claim (3, &ep, id, &c3);
    uint8_t *a2 = tchain_cverdict (&s_t, 2, id, 1, true, 0, &c2, &len2);
    uint8_t *a3 = tchain_cverdict (&s_t, 3, id, 1, true, 0, &c3, &len3);
    cons_bytes_t ok[3] = { { ev, elen }, { a2, len2 }, { a3, len3 } };
    assert_int_equal (tchain_commit (&s_t, l, ok, 3, 0, 4000), WD_OK);
    assert_int_equal (cons_ledger_node_status (l, s_t.pk[1], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_AFFIRMING);
    assert_false (cons_reputation_excluded (cons_ledger_reputation (l), 1, 2));
    /* epoch 1 stays fixed without node 1; epoch 2 (table after block 7)
       has it back */
    s_empty_to (l, 7);
    assert_int_equal (cons_ledger_validators (l, 8, &set, &count), WD_OK);
    assert_int_equal (count, 3);
    assert_int_equal (cons_ledger_validators (l, 9, &set, &count), WD_OK);
    assert_int_equal (count, 4);
    uint64_t bad;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    for (size_t i = 0; i < owned_n; i++)
        free (owned[i]);
    free (ev);
    free (a2);
    free (a3);
    cons_ledger_destroy (&l);

    /* every node rejected in one block: nobody would be left, so every node
       weighs 1 */
    l = s_ledger ();
    s_epoch0 (l, &ep);
    n = owned_n = 0;
    for (size_t subject = 0; subject < 4; subject++) {
        s_reject_all (&ep, subject, 60 + subject, r, &n, owned, &owned_n);
        assert_int_equal (tchain_commit (&s_t, l, r, n, 0, 2000 + subject * 10), WD_OK);
        n = 0;
    }
    rep = cons_ledger_reputation (l);
    for (size_t i = 0; i < 4; i++)
        assert_true (cons_reputation_excluded (rep, i, 2));
    s_empty_to (l, 7);
    assert_int_equal (cons_ledger_validators (l, 9, &set, &count), WD_OK);
    assert_int_equal (count, 4);
    for (size_t i = 0; i < count; i++)
        assert_int_equal (set[i].weight, 1);
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    for (size_t i = 0; i < owned_n; i++)
        free (owned[i]);
    cons_ledger_destroy (&l);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_record_round_trip),
        cmocka_unit_test (test_rule),
        cmocka_unit_test (test_rule_subject),
        cmocka_unit_test (test_ledger_rules),
        cmocka_unit_test (test_ledger_escalation),
        cmocka_unit_test (test_tracker),
        cmocka_unit_test (test_ledger_expired),
        cmocka_unit_test (test_weight),
        cmocka_unit_test (test_rejected),
        cmocka_unit_test (test_tracker_eviction),
        cmocka_unit_test (test_tracker_chain_weights),
        cmocka_unit_test (test_tracker_epochs),
        cmocka_unit_test (test_propose_valid),
        cmocka_unit_test (test_contraindicated_leaves_set),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
