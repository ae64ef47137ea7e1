/*
 * Unit tests for cons_reputation: each term of the documented formula with
 * exact integer answers (pass rate from verdicts, precommit participation
 * from last_cert, key-protection tier, decay at epoch starts, equivocation
 * slashing and quarantine, weights with floor, cap and fallback), and
 * bit-identical replay of one chain by independent ledgers.
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

#include "attest_evidence.h"
#include "cons_reputation.h"
#include "cons_test_chain.h"
#include "test_support.h"

static tchain_t s_t;

static int
s_setup (void **state)
{
    (void)state;
    tchain_init (&s_t, 4, 0x1, 3, 1); /* node 0 "software", epochs of 3 blocks */
    return 0;
}

static int
s_teardown (void **state)
{
    tchain_fini (&s_t);
    return test_tmpdir_teardown (state);
}

/* Records made by the test, freed at the end of a block. */
typedef struct {
    cons_bytes_t recs[80];
    size_t count;
} s_recs_t;

static void
s_add (s_recs_t *r, uint8_t *data, size_t len)
{
    assert_true (r->count < 80);
    r->recs[r->count++] = (cons_bytes_t){ data, len };
}

/* Adds a record made by an expression that also sets *len (taken after
   the call). */
static void
s_add_new (s_recs_t *r, uint8_t *data, const size_t *len)
{
    s_add (r, data, *len);
}

/* An evidence record of node subject and the committee verdicts that
   decide it: two ACCEPTs (pass), or a REJECT and the other nodes'
   escalation REJECTs (fail; the block needs the four-node set as prev).
   Claims are not checked by cons_reputation_apply. */
static void
s_outcome (s_recs_t *r, size_t subject, bool pass, uint64_t nonce)
{
    size_t len;
    uint8_t *ev = tchain_evidence (&s_t, subject, nonce, &len);
    uint8_t id[32];
    wd_envelope_id (id, ev, len);
    s_add (r, ev, len);
    cons_sortition_claim_t claim = { .count = 1 };
    size_t a = (subject + 1) % 4, b = (subject + 2) % 4, c = (subject + 3) % 4;
    s_add_new (r, tchain_cverdict (&s_t, a, id, subject, pass, 0, &claim, &len), &len);
    s_add_new (r, tchain_cverdict (&s_t, b, id, subject, pass, 0, pass ? &claim : NULL, &len),
               &len);
    if (!pass)
        s_add_new (r, tchain_cverdict (&s_t, c, id, subject, false, 0, NULL, &len), &len);
}

static void
s_apply (cons_reputation_t *rep, s_recs_t *r, const uint8_t *cert, size_t cert_len,
         const cons_validator_t *prev, size_t prev_count)
{
    cons_block_t b = { .height = cons_reputation_height (rep) + 1 };
    b.records = r ? r->recs : NULL;
    b.record_count = r ? r->count : 0;
    b.last_cert = (cons_bytes_t){ cert, cert_len };
    cons_reputation_apply (rep, &b, prev, prev_count);
    for (size_t i = 0; r && i < r->count; i++)
        free ((void *)r->recs[i].data);
    if (r)
        r->count = 0;
}

static const cons_rep_entry_t *
s_row (const cons_reputation_t *rep, size_t node)
{
    const cons_rep_entry_t *e = cons_reputation_entry (rep, node);
    assert_memory_equal (e->id, s_t.pk[node], 32);
    return e;
}

static void
test_fresh (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    assert_int_equal (cons_reputation_count (rep), 4);
    assert_int_equal (cons_reputation_height (rep), 0);
    /* pass 5000 and participation 5000 from the priors */
    assert_int_equal (cons_reputation_score (s_row (rep, 0), 0), 1250); /* software tier */
    assert_int_equal (cons_reputation_score (s_row (rep, 1), 0), 2500);
    cons_validator_t v[4];
    assert_int_equal (cons_reputation_weights (rep, 0, v), 4);
    assert_int_equal (v[0].weight, 12);
    assert_int_equal (v[1].weight, 25);
    cons_reputation_destroy (&rep);
    assert_null (rep);
}

static void
test_verdicts_participation_decay (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    s_recs_t r = { .count = 0 };
    size_t len;
    /* block 1: node 1 passes 7 times and fails once */
    cons_validator_t set4[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (set4[i].pk, s_t.pk[i], 32);
        set4[i].weight = 1;
    }
    for (uint64_t i = 0; i < 8; i++)
        s_outcome (&r, 1, i != 3, i);
    (void)len;
    s_apply (rep, &r, NULL, 0, set4, 4);
    const cons_rep_entry_t *e = s_row (rep, 1);
    assert_int_equal (e->passed, 7);
    assert_int_equal (e->failed, 1);
    assert_int_equal (e->last_seen, 1);
    /* pass = 8 * 10000 / 10 = 8000; x 5000 / 10000 = 4000 */
    assert_int_equal (cons_reputation_score (e, 0), 4000);

    /* block 2: last_cert signed by validators 0, 1, 2 of the genesis set */
    cons_validator_t set[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (set[i].pk, s_t.pk[i], 32);
        set[i].weight = 1;
    }
    static const uint8_t block1[] = { 0x01 };
    size_t cert_len;
    uint8_t *cert = tchain_cert (&s_t, set, 4, 1, block1, 1, 0x8, &cert_len);
    s_apply (rep, NULL, cert, cert_len, set, 4);
    free (cert);
    assert_int_equal (s_row (rep, 0)->precommits_made, 1);
    assert_int_equal (s_row (rep, 0)->precommits_possible, 1);
    assert_int_equal (s_row (rep, 0)->last_seen, 2);
    assert_int_equal (s_row (rep, 3)->precommits_made, 0);
    assert_int_equal (s_row (rep, 3)->precommits_possible, 1);
    /* node 1: 4000... participation (1+1) * 10000 / 3 = 6666 -> 8000 * 6666 / 10000 = 5332 */
    assert_int_equal (cons_reputation_score (s_row (rep, 1), 0), 5332);
    /* node 0, software: 5000 * 6666 / 10000 = 3333, x 5000 / 10000 = 1666 */
    assert_int_equal (cons_reputation_score (s_row (rep, 0), 0), 1666);

    /* block 3, then block 4 starts epoch 1: every counter keeps c - c / 4 */
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    assert_int_equal (s_row (rep, 1)->passed, 7);
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    assert_int_equal (s_row (rep, 1)->passed, 6);
    assert_int_equal (s_row (rep, 1)->failed, 1);
    assert_int_equal (s_row (rep, 0)->precommits_made, 1);

    /* a verdict about a host, or about a node outside the genesis, is not
       counted */
    tchain_t other;
    tchain_init (&other, 2, 0, 0, 0);
    uint8_t *stranger = tchain_verdict (&other, 0, 1, false, 9, &len);
    s_add (&r, stranger, len);
    uint8_t before[32], after[32];
    cons_reputation_hash (rep, before);
    s_apply (rep, &r, NULL, 0, NULL, 0);
    tchain_fini (&other);
    /* only the height changed */
    cons_reputation_hash (rep, after);
    assert_memory_not_equal (before, after, 32);
    assert_int_equal (s_row (rep, 1)->failed, 1);
    cons_reputation_destroy (&rep);
}

static int
s_sign_sk (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
}

/* An evidence record of node attester about its host "host-<attester>"
   (challenge freshness), unique per nonce; *subject gets its subject. */
static uint8_t *
s_host_evidence (size_t attester, uint64_t nonce, attest_subject_t *subject, size_t *len)
{
    attest_evidence_t *ev = calloc (1, sizeof *ev);
    assert_non_null (ev);
    attest_evidence_init (ev, s_t.pk[attester], "tpm", "clear", 1700000000 + nonce);
    ev->subject.kind = ATTEST_SUBJECT_HOST;
    snprintf (ev->subject.host, sizeof ev->subject.host, "host-%zu", attester);
    memcpy (ev->nonce, &nonce, sizeof nonce);
    *subject = ev->subject;
    uint8_t *body, *out;
    size_t body_len;
    assert_int_equal (attest_evidence_encode (ev, &body, &body_len), WD_OK);
    assert_int_equal (wd_envelope_seal (ATTEST_EVIDENCE_TYPE, s_t.chain, s_t.pk[attester], body,
                                        body_len, s_sign_sk, (void *)s_t.sk[attester], &out, len),
                      WD_OK);
    free (body);
    free (ev);
    return out;
}

/* Host evidence of node attester decided: two committee ACCEPTs (pass),
   or a committee REJECT and the other two nodes' escalation REJECTs
   (fail, against the four-node set). */
static void
s_host_outcome (s_recs_t *r, size_t attester, bool pass, uint64_t nonce)
{
    size_t len;
    attest_subject_t subject;
    uint8_t *ev = s_host_evidence (attester, nonce, &subject, &len);
    uint8_t id[32];
    wd_envelope_id (id, ev, len);
    s_add (r, ev, len);
    cons_sortition_claim_t claim = { .count = 1 };
    size_t a = (attester + 1) % 4, b = (attester + 2) % 4, c = (attester + 3) % 4;
    s_add_new (r, tchain_cverdict_about (&s_t, a, id, &subject, pass, 0, &claim, &len), &len);
    s_add_new (r,
               tchain_cverdict_about (&s_t, b, id, &subject, pass, 0, pass ? &claim : NULL, &len),
               &len);
    if (!pass)
        s_add_new (r, tchain_cverdict_about (&s_t, c, id, &subject, false, 0, NULL, &len), &len);
}

/* A decided host record counts in the pass rate of the node that attested
   it (docs/PROTOCOL.md "Reputation"), and in nothing else of that node: not
   its last_seen, not its status, so not its place in the validator set. */
static void
test_host_counts_for_node (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    cons_validator_t set[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (set[i].pk, s_t.pk[i], 32);
        set[i].weight = 1;
    }
    s_recs_t r = { .count = 0 };
    s_apply (rep, NULL, NULL, 0, NULL, 0); /* block 1 */
    uint64_t score_before = cons_reputation_score (s_row (rep, 2), 0);

    /* block 2: node 2's host fails, node 1's host passes */
    s_host_outcome (&r, 2, false, 1);
    s_host_outcome (&r, 1, true, 2);
    s_apply (rep, &r, NULL, 0, set, 4);
    assert_int_equal (s_row (rep, 2)->failed, 1);
    assert_int_equal (s_row (rep, 2)->passed, 0);
    assert_int_equal (s_row (rep, 1)->passed, 1);
    assert_int_equal (s_row (rep, 1)->failed, 0);
    /* pass rate (0 + 1) * 10000 / 3 = 3333 instead of 5000: the score falls */
    assert_true (cons_reputation_score (s_row (rep, 2), 0) < score_before);
    assert_int_equal (cons_reputation_score (s_row (rep, 2), 0), 3333 * 5000 / 10000);
    /* the verifiers agreed with the outcomes: hits, no misses */
    assert_int_equal (s_row (rep, 3)->hits, 2);
    assert_int_equal (s_row (rep, 3)->misses, 0);
    /* neither last_seen nor the status moves, so node 2 stays in the set */
    assert_int_equal (s_row (rep, 2)->last_seen, 0);
    assert_int_equal (s_row (rep, 1)->last_seen, 0);
    cons_node_status_t st;
    assert_int_equal (cons_reputation_node_status (rep, s_t.pk[2], &st), WD_OK);
    assert_int_equal (st.tier, ATTEST_TRUST_NONE);
    assert_false (cons_reputation_excluded (rep, 2, 0));
    cons_validator_t out[4];
    assert_int_equal (cons_reputation_weights (rep, 1, out), 4);

    /* the node's own rejected record, by contrast, leaves it out */
    s_outcome (&r, 2, false, 3);
    s_apply (rep, &r, NULL, 0, set, 4);
    assert_int_equal (s_row (rep, 2)->failed, 2);
    assert_int_equal (s_row (rep, 2)->last_seen, 3);
    assert_true (cons_reputation_excluded (rep, 2, 0));
    cons_reputation_destroy (&rep);
}

static void
test_equivocation (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    s_recs_t r = { .count = 0 };
    size_t len;
    for (uint64_t i = 0; i < 4; i++)
        s_outcome (&r, 2, true, i);
    s_apply (rep, &r, NULL, 0, NULL, 0); /* 1 */
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    s_apply (rep, NULL, NULL, 0, NULL, 0); /* 4: epoch 1 */
    assert_int_equal (s_row (rep, 2)->passed, 3);
    s_add_new (&r, tchain_equivocation (&s_t, 1, 2, 3, &len), &len);
    s_apply (rep, &r, NULL, 0, NULL, 0); /* 5: epoch 1 */
    const cons_rep_entry_t *e = s_row (rep, 2);
    assert_int_equal (e->passed, 0);
    assert_int_equal (e->slashes, 1);
    assert_int_equal (e->quarantine_until, 1 + 1 + CONS_REP_QUARANTINE_EPOCHS);
    for (uint64_t epoch = 1; epoch < 6; epoch++) {
        assert_true (cons_reputation_quarantined (e, epoch));
        assert_int_equal (cons_reputation_score (e, epoch), 0);
    }
    assert_false (cons_reputation_quarantined (e, 6));
    assert_int_not_equal (cons_reputation_score (e, 6), 0);
    cons_validator_t v[4];
    assert_int_equal (cons_reputation_weights (rep, 3, v), 3);
    for (size_t i = 0; i < 3; i++)
        assert_memory_not_equal (v[i].pk, s_t.pk[2], 32);
    assert_int_equal (cons_reputation_weights (rep, 6, v), 4);

    /* everyone quarantined: every node with weight 1 */
    for (size_t n = 0; n < 4; n++)
        if (n != 2)
            s_add_new (&r, tchain_equivocation (&s_t, 1, n, 4, &len), &len);
    s_apply (rep, &r, NULL, 0, NULL, 0);
    assert_int_equal (cons_reputation_weights (rep, 2, v), 4);
    for (size_t i = 0; i < 4; i++)
        assert_int_equal (v[i].weight, 1);
    cons_reputation_destroy (&rep);
}

/* One equivocation reported by every node that saw it (different
   envelopes, one (validator, height, round, type)) is one slash; another
   height or the other vote type is another. */
static void
test_equivocation_counted_once (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    s_recs_t r = { .count = 0 };
    size_t len;
    s_add_new (&r, tchain_equivocation (&s_t, 0, 2, 1, &len), &len);
    s_add_new (&r, tchain_equivocation (&s_t, 1, 2, 1, &len), &len);
    s_apply (rep, &r, NULL, 0, NULL, 0); /* 1: epoch 0, two reports */
    assert_int_equal (s_row (rep, 2)->slashes, 1);
    assert_int_equal (s_row (rep, 2)->quarantine_until, 1 + CONS_REP_QUARANTINE_EPOCHS);
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    s_apply (rep, NULL, NULL, 0, NULL, 0);
    s_add_new (&r, tchain_equivocation (&s_t, 3, 2, 1, &len), &len);
    s_apply (rep, &r, NULL, 0, NULL, 0); /* 4: epoch 1, a late third report */
    assert_int_equal (s_row (rep, 2)->slashes, 1);
    assert_int_equal (s_row (rep, 2)->quarantine_until, 1 + CONS_REP_QUARANTINE_EPOCHS);
    s_add_new (&r, tchain_equivocation (&s_t, 3, 2, 2, &len), &len);
    s_apply (rep, &r, NULL, 0, NULL, 0); /* 5: another height: a second slash */
    assert_int_equal (s_row (rep, 2)->slashes, 2);
    assert_int_equal (s_row (rep, 2)->quarantine_until, 1 + 1 + CONS_REP_QUARANTINE_EPOCHS);
    /* a copy keeps what was slashed */
    cons_reputation_t *copy = cons_reputation_dup (rep);
    s_add_new (&r, tchain_equivocation (&s_t, 0, 2, 2, &len), &len);
    s_apply (copy, &r, NULL, 0, NULL, 0);
    assert_int_equal (s_row (copy, 2)->slashes, 2);
    cons_reputation_destroy (&copy);
    cons_reputation_destroy (&rep);
}

static void
test_weights_cap (void **state)
{
    (void)state;
    cons_reputation_t *rep = cons_reputation_new (s_t.genesis);
    s_recs_t r = { .count = 0 };
    /* node 3 fails 48 times: pass = 10000 / 50 = 200, x 5000 / 10000 =
       score 100, weight 1 (the floor); after 16 failures the score is 277
       and the weight 2 */
    cons_validator_t set4[4];
    for (size_t i = 0; i < 4; i++) {
        memcpy (set4[i].pk, s_t.pk[i], 32);
        set4[i].weight = 1;
    }
    for (int block = 0; block < 3; block++) {
        for (uint64_t i = 0; i < 16; i++)
            s_outcome (&r, 3, false, 100 * (uint64_t)block + i);
        s_apply (rep, &r, NULL, 0, set4, 4);
        if (block == 0)
            assert_int_equal (cons_reputation_score (s_row (rep, 3), 0), 277);
    }
    assert_int_equal (cons_reputation_score (s_row (rep, 3), 0), 100);
    cons_validator_t v[4];
    /* its latest attestation is contraindicated: out of the set */
    assert_true (cons_reputation_excluded (rep, 3, 0));
    assert_int_equal (cons_reputation_weights (rep, 0, v), 3);
    for (size_t i = 0; i < 3; i++)
        assert_int_not_equal (tchain_index (&s_t, v[i].pk), 3);
    /* one certified pass brings it back, with the lowest weight */
    s_outcome (&r, 3, true, 1000);
    s_apply (rep, &r, NULL, 0, set4, 4);
    assert_false (cons_reputation_excluded (rep, 3, 0));
    assert_int_equal (cons_reputation_weights (rep, 0, v), 4);
    assert_true (v[3].weight >= CONS_REP_WEIGHT_FLOOR && v[3].weight < v[0].weight);
    /* every weight at most the cap */
    for (size_t i = 0; i < 4; i++)
        assert_true (v[i].weight <= CONS_REP_WEIGHT_CAP);
    cons_reputation_destroy (&rep);
}

/* Two ledgers fed the same blocks, and a third reopened from disk, hold
   bit-identical tables, and a dup follows the same path. */
static void
test_replay_identical (void **state)
{
    (void)state;
    char p1[600], p2[600];
    snprintf (p1, sizeof p1, "%s/rep-a.db", test_tmpdir ());
    snprintf (p2, sizeof p2, "%s/rep-b.db", test_tmpdir ());
    cons_ledger_t *a, *b;
    char why[256];
    assert_int_equal (
        cons_ledger_open (p1, s_t.genesis, CONS_LEDGER_READ_WRITE, &a, why, sizeof why), WD_OK);
    assert_int_equal (
        cons_ledger_open (p2, s_t.genesis, CONS_LEDGER_READ_WRITE, &b, why, sizeof why), WD_OK);
    for (uint64_t h = 1; h <= 14; h++) {
        s_recs_t r = { .count = 0 };
        size_t len;
        s_add_new (&r, tchain_verdict (&s_t, h % 4, (h * 7) % 4, h % 5 != 0, h, &len), &len);
        if (h == 6)
            s_add_new (&r, tchain_equivocation (&s_t, 0, 3, 5, &len), &len);
        /* leave one validator out when the rest still hold > 2/3 */
        const cons_validator_t *vs;
        size_t vn;
        assert_int_equal (cons_ledger_validators (a, h, &vs, &vn), WD_OK);
        uint64_t total = cons_validators_total (vs, vn);
        uint32_t skip = 0;
        if (cons_weight_quorum (total - vs[h % vn].weight, total))
            skip = 1u << (h % vn);
        assert_int_equal (tchain_commit (&s_t, a, r.recs, r.count, skip, h * 10), WD_OK);
        /* b gets the very same bytes */
        uint8_t *block, *cert;
        size_t bl, cl;
        assert_int_equal (cons_ledger_get (a, h, &block, &bl, &cert, &cl), WD_OK);
        assert_int_equal (cons_ledger_append (b, block, bl, cert, cl), WD_OK);
        free (block);
        free (cert);
        for (size_t i = 0; i < r.count; i++)
            free ((void *)r.recs[i].data);
    }
    uint8_t ha[32], hb[32], hc[32];
    cons_reputation_hash (cons_ledger_reputation (a), ha);
    cons_reputation_hash (cons_ledger_reputation (b), hb);
    assert_memory_equal (ha, hb, 32);
    /* node 3 equivocated in epoch 1 (block 6): not a validator in epoch 4 */
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (a, 14, &set, &n), WD_OK);
    assert_int_equal (n, 3);
    cons_ledger_destroy (&a);
    cons_ledger_t *c;
    assert_int_equal (
        cons_ledger_open (p1, s_t.genesis, CONS_LEDGER_READ_ONLY, &c, why, sizeof why), WD_OK);
    cons_reputation_hash (cons_ledger_reputation (c), hc);
    assert_memory_equal (ha, hc, 32);
    cons_reputation_t *copy = cons_reputation_dup (cons_ledger_reputation (c));
    uint8_t hd[32];
    cons_reputation_hash (copy, hd);
    assert_memory_equal (ha, hd, 32);
    cons_reputation_destroy (&copy);
    uint64_t bad;
    assert_int_equal (cons_ledger_verify_all (c, &bad, why, sizeof why), WD_OK);
    cons_ledger_destroy (&c);
    cons_ledger_destroy (&b);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_fresh),
        cmocka_unit_test (test_verdicts_participation_decay),
        cmocka_unit_test (test_equivocation),
        cmocka_unit_test (test_equivocation_counted_once),
        cmocka_unit_test (test_weights_cap),
        cmocka_unit_test (test_replay_identical),
        cmocka_unit_test (test_host_counts_for_node),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
