/*
 * Unit tests for cons_agree: scripted runs of one state machine among four
 * validators (equal weights unless said), with every other validator's
 * messages signed here: the rules of Tendermint one by one (proposal,
 * locking, the proof-of-lock unlock, nil paths, timeouts, round skipping,
 * the commit wait), evidence and the equivocator wildcard, every rejection
 * code, restarts from the persisted record, catch-up commits, the VRF filter
 * window, the round-robin proposer, and that a step never allocates (this
 * program is linked with --wrap=malloc,calloc,realloc).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_agree.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

/* ---- allocation counting (see the link options in CMakeLists.txt) ---- */

void *
__real_malloc (size_t size);
void *
__real_calloc (size_t n, size_t size);
void *
__real_realloc (void *p, size_t size);
void *
__wrap_malloc (size_t size);
void *
__wrap_calloc (size_t n, size_t size);
void *
__wrap_realloc (void *p, size_t size);

static bool s_counting;
static unsigned s_allocations;

void *
__wrap_malloc (size_t size)
{
    s_allocations += s_counting;
    return __real_malloc (size);
}

void *
__wrap_calloc (size_t n, size_t size)
{
    s_allocations += s_counting;
    return __real_calloc (n, size);
}

void *
__wrap_realloc (void *p, size_t size)
{
    s_allocations += s_counting;
    return __real_realloc (p, size);
}

/* ---- fixtures ------------------------------------------------------------- */

#define N 4

static uint8_t s_sk[N + 1][crypto_sign_SECRETKEYBYTES];
static uint8_t s_pk[N + 1][32]; /* index N: not a validator */
static cons_validator_t s_vals[N];
static uint8_t s_chain[32];
static cons_agree_outputs_t s_out;

static const uint8_t s_block_a[] = "ok-A";
static const uint8_t s_block_b[] = "ok-B";
static const uint8_t s_block_bad[] = "bad";
static uint8_t s_id_a[32], s_id_b[32], s_id_bad[32];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    for (int i = 0; i <= N; i++) {
        uint8_t seed[32];
        memset (seed, 0x40 + i, sizeof seed);
        crypto_sign_seed_keypair (s_pk[i], s_sk[i], seed);
        if (i < N) {
            memcpy (s_vals[i].pk, s_pk[i], 32);
            s_vals[i].weight = 1;
        }
    }
    memset (s_chain, 0x77, sizeof s_chain);
    crypto_hash_sha256 (s_id_a, s_block_a, sizeof s_block_a);
    crypto_hash_sha256 (s_id_b, s_block_b, sizeof s_block_b);
    crypto_hash_sha256 (s_id_bad, s_block_bad, sizeof s_block_bad);
    return 0;
}

static bool
s_valid (void *ctx, uint64_t height, const uint8_t *block, size_t len)
{
    (void)ctx;
    (void)height;
    return len >= 2 && block[0] == 'o' && block[1] == 'k';
}

/* VRF stand-in for these tests: the claim is one byte, the priority that
   byte followed by zeros; 0xff means "not selected". */
static int
s_claim (void *ctx, uint64_t height, uint32_t round, uint32_t validator, const uint8_t *claim,
         size_t claim_len, uint8_t priority[CONS_PRIORITY_LEN])
{
    (void)ctx;
    (void)height;
    (void)round;
    (void)validator;
    if (claim_len != 1 || claim[0] == 0xff)
        return -4242;
    memset (priority, 0, CONS_PRIORITY_LEN);
    priority[0] = claim[0];
    return 0;
}

static const cons_agree_params_t s_params = { .propose_ms = 100,
                                              .propose_delta_ms = 50,
                                              .prevote_ms = 60,
                                              .prevote_delta_ms = 10,
                                              .precommit_ms = 70,
                                              .precommit_delta_ms = 10,
                                              .commit_ms = 30,
                                              .timeout_max_ms = 300,
                                              .filter_ms = 20,
                                              .proposer_mode = CONS_PROPOSER_ROUND_ROBIN,
                                              .block_max = 64 };

static cons_agree_t *
s_new_mode (uint32_t self, uint64_t height, const cons_agree_saved_t *saved,
            cons_proposer_mode_t mode)
{
    cons_agree_config_t config = { .params = s_params,
                                   .validators = s_vals,
                                   .count = N,
                                   .self = self,
                                   .height = height,
                                   .saved = saved,
                                   .valid = s_valid,
                                   .claim = s_claim };
    config.params.proposer_mode = mode;
    memcpy (config.chain, s_chain, 32);
    cons_agree_t *a;
    assert_int_equal (cons_agree_new (&config, &a), WD_OK);
    s_counting = true;
    cons_agree_start (a, &s_out);
    s_counting = false;
    return a;
}

static cons_agree_t *
s_new (uint32_t self)
{
    return s_new_mode (self, 1, NULL, CONS_PROPOSER_ROUND_ROBIN);
}

static int
s_step (cons_agree_t *a, const cons_agree_input_t *in)
{
    s_counting = true;
    int rc = cons_agree_step (a, in, &s_out);
    s_counting = false;
    return rc;
}

static uint8_t *
s_seal_as (int signer, const uint8_t *from, const cons_msg_t *m, size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_msg_encode_body (m, &body_len);
    wd_envelope_t env = { .body = body, .body_len = body_len };
    snprintf (env.type, sizeof env.type, "%s", cons_kind_type (m->kind));
    memcpy (env.chain, s_chain, 32);
    memcpy (env.from, from, 32);
    uint8_t digest[32];
    wd_envelope_digest (digest, env.type, env.chain, body, body_len);
    crypto_sign_detached (env.sig, NULL, digest, 32, s_sk[signer]);
    uint8_t *out;
    wd_envelope_encode (&env, &out, len);
    free (body);
    return out;
}

static int
s_feed_msg (cons_agree_t *a, int signer, const cons_msg_t *m)
{
    size_t len;
    uint8_t *env = s_seal_as (signer, s_pk[signer], m, &len);
    cons_agree_input_t in = { .kind = CONS_AGREE_IN_MESSAGE, .data = env, .len = len };
    int rc = s_step (a, &in);
    free (env);
    return rc;
}

/* A vote from validator i; id NULL for nil. */
static int
s_vote (cons_agree_t *a, int i, cons_kind_t kind, uint64_t h, uint32_t r, const uint8_t *id)
{
    cons_msg_t m = { .kind = kind, .height = h, .round = r, .nil = id == NULL };
    if (id)
        memcpy (m.block_id, id, 32);
    return s_feed_msg (a, i, &m);
}

static int
s_proposal (cons_agree_t *a, int i, uint64_t h, uint32_t r, int32_t pol, const uint8_t *block,
            size_t len, int claim)
{
    uint8_t c = (uint8_t)claim;
    cons_msg_t m = { .kind = CONS_PROPOSAL,
                     .height = h,
                     .round = r,
                     .pol_round = pol,
                     .block = block,
                     .block_len = len,
                     .claim = claim >= 0 ? &c : NULL,
                     .claim_len = claim >= 0 ? 1 : 0 };
    return s_feed_msg (a, i, &m);
}

static int
s_timeout (cons_agree_t *a, cons_timer_t t, uint64_t h, uint32_t r)
{
    cons_agree_input_t in = { .kind = CONS_AGREE_IN_TIMEOUT, .timer = t, .height = h, .round = r };
    return s_step (a, &in);
}

static int
s_candidate (cons_agree_t *a, uint64_t h, const uint8_t *block, size_t len)
{
    cons_agree_input_t in = {
        .kind = CONS_AGREE_IN_CANDIDATE, .height = h, .data = block, .len = len
    };
    return s_step (a, &in);
}

/* The n-th output of a kind in the last step, or NULL. */
static const cons_agree_output_t *
s_find (cons_agree_out_kind_t kind, int n)
{
    for (size_t i = 0; i < s_out.count; i++)
        if (s_out.items[i].kind == kind && n-- == 0)
            return &s_out.items[i];
    return NULL;
}

static const cons_agree_output_t *
s_find_timer (cons_timer_t timer)
{
    for (size_t i = 0; i < s_out.count; i++)
        if (s_out.items[i].kind == CONS_AGREE_OUT_TIMER && s_out.items[i].timer.timer == timer)
            return &s_out.items[i];
    return NULL;
}

static int
s_index (cons_agree_out_kind_t kind)
{
    for (size_t i = 0; i < s_out.count; i++)
        if (s_out.items[i].kind == kind)
            return (int)i;
    return -1;
}

/* Asserts the last step asked for exactly one vote of this kind and value,
   preceded by a PERSIST that records it. */
static void
s_expect_vote (cons_kind_t kind, uint32_t round, const uint8_t *id)
{
    const cons_agree_output_t *v = s_find (CONS_AGREE_OUT_VOTE, 0);
    assert_non_null (v);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 1));
    assert_int_equal (v->msg.kind, kind);
    assert_int_equal (v->msg.round, round);
    assert_int_equal (v->msg.nil, id == NULL);
    if (id)
        assert_memory_equal (v->msg.block_id, id, 32);
    int p = s_index (CONS_AGREE_OUT_PERSIST);
    assert_true (p >= 0 && p < s_index (CONS_AGREE_OUT_VOTE));
    const cons_agree_saved_t *saved = &s_find (CONS_AGREE_OUT_PERSIST, 0)->saved;
    assert_int_equal (saved->signed_round, round);
    assert_int_equal (saved->signed_step, kind);
    assert_int_equal (saved->signed_nil, id == NULL);
}

/* Feeds the machine's own message of the last step back, signed as
   validator self, and returns the step's code. */
static int
s_feed_own (cons_agree_t *a, int self)
{
    const cons_agree_output_t *o = s_find (CONS_AGREE_OUT_VOTE, 0);
    if (!o)
        o = s_find (CONS_AGREE_OUT_PROPOSE, 0);
    assert_non_null (o);
    cons_msg_t m = o->msg;
    uint8_t block[64];
    if (m.kind == CONS_PROPOSAL) {
        memcpy (block, m.block, m.block_len);
        m.block = block;
    }
    return s_feed_msg (a, self, &m);
}

static void
s_status (cons_agree_t *a, uint64_t h, uint32_t r, uint8_t step)
{
    cons_agree_status_t st;
    cons_agree_status (a, &st);
    assert_int_equal (st.height, h);
    assert_int_equal (st.round, r);
    assert_int_equal (st.step, step);
}

/* ---- tests ---------------------------------------------------------------- */

static void
test_round_robin (void **state)
{
    (void)state;
    cons_validator_t v[3];
    memcpy (v, s_vals, sizeof v);
    v[0].weight = 1, v[1].weight = 2, v[2].weight = 3;
    unsigned count[3] = { 0 };
    for (uint64_t h = 1; h <= 6; h++) {
        uint32_t p = cons_agree_round_robin (v, 3, h, 0);
        count[p]++;
        assert_int_equal (p, cons_agree_round_robin (v, 3, h + 6, 0)); /* period W */
        assert_int_equal (p, cons_agree_round_robin (v, 3, 1, (uint32_t)h - 1));
    }
    assert_int_equal (count[0], 1);
    assert_int_equal (count[1], 2);
    assert_int_equal (count[2], 3);
    /* The heaviest goes first; ties go to the lower index. */
    assert_int_equal (cons_agree_round_robin (v, 3, 1, 0), 2);
    for (uint32_t r = 0; r < 8; r++)
        assert_int_equal (cons_agree_round_robin (s_vals, N, 1, r), r % N);
}

static void
test_timeouts_grow (void **state)
{
    (void)state;
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PROPOSE, 0), 100);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PROPOSE, 3), 250);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PROPOSE, 4), 300);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PROPOSE, UINT32_MAX), 300);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PREVOTE, 2), 80);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_PRECOMMIT, 2), 90);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_COMMIT, 9), 30);
    assert_int_equal (cons_agree_timeout (&s_params, CONS_TIMER_FILTER, 9), 20);
}

/* Validator 0 proposes at height 1, round 0 and the block is decided. */
static void
test_happy_path (void **state)
{
    (void)state;
    /* The counter sees allocations in the libraries (so a zero below
       means something). */
    cons_msg_t probe = { .kind = CONS_PREVOTE, .height = 1, .nil = true };
    size_t probe_len;
    s_allocations = 0;
    s_counting = true;
    free (cons_msg_encode_body (&probe, &probe_len));
    s_counting = false;
    assert_true (s_allocations > 0);
    s_allocations = 0;
    cons_agree_t *a = s_new (0);
    assert_int_equal (s_out.count, 1);
    assert_int_equal (s_out.items[0].kind, CONS_AGREE_OUT_TIMER);
    assert_int_equal (s_out.items[0].timer.timer, CONS_TIMER_PROPOSE);
    assert_int_equal (s_out.items[0].timer.ms, 100);

    /* No candidate yet: the proposal waits for it. */
    assert_int_equal (s_candidate (a, 1, s_block_a, sizeof s_block_a), WD_OK);
    const cons_agree_output_t *p = s_find (CONS_AGREE_OUT_PROPOSE, 0);
    assert_non_null (p);
    assert_true (s_index (CONS_AGREE_OUT_PERSIST) < s_index (CONS_AGREE_OUT_PROPOSE));
    assert_int_equal (p->msg.pol_round, -1);
    assert_memory_equal (p->msg.block_id, s_id_a, 32);
    assert_int_equal (s_find (CONS_AGREE_OUT_PERSIST, 0)->saved.signed_step, CONS_PROPOSAL);

    assert_int_equal (s_feed_own (a, 0), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, s_id_a);
    assert_int_equal (s_feed_own (a, 0), WD_OK);
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a), WD_OK);
    assert_int_equal (s_out.count, 0);
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, s_id_a), WD_OK);
    s_expect_vote (CONS_PRECOMMIT, 0, s_id_a);
    const cons_agree_saved_t *saved = &s_find (CONS_AGREE_OUT_PERSIST, 0)->saved;
    assert_int_equal (saved->lock_round, 0);
    assert_memory_equal (saved->lock_block, s_id_a, 32);
    assert_int_equal (saved->valid_round, 0);
    assert_int_equal (saved->valid_len, sizeof s_block_a);
    assert_non_null (s_find (CONS_AGREE_OUT_TIMER, 0)); /* L34: prevote timer */

    assert_int_equal (s_feed_own (a, 0), WD_OK);
    assert_int_equal (s_vote (a, 1, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_COMMIT, 0));
    assert_int_equal (s_vote (a, 3, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    const cons_agree_output_t *c = s_find (CONS_AGREE_OUT_COMMIT, 0);
    assert_non_null (c);
    assert_int_equal (c->commit.height, 1);
    assert_int_equal (c->commit.round, 0);
    assert_int_equal (c->commit.block_len, sizeof s_block_a);
    assert_memory_equal (c->commit.block, s_block_a, sizeof s_block_a);
    assert_int_equal (c->commit.cert.count, 3);
    assert_int_equal (c->commit.cert.sigs[2].index, 3);
    assert_int_equal (cons_cert_verify (&c->commit.cert, s_chain, s_vals, N, NULL, NULL), WD_OK);
    /* Not every precommit is in: the commit wait starts. */
    const cons_agree_output_t *t = s_find_timer (CONS_TIMER_COMMIT);
    assert_non_null (t);
    assert_int_equal (t->timer.ms, 30);
    s_status (a, 1, 0, 4);

    assert_int_equal (s_candidate (a, 2, s_block_b, sizeof s_block_b), WD_OK);
    assert_int_equal (s_candidate (a, 3, s_block_b, sizeof s_block_b), CONS_ERR_STALE);
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 2, 0, NULL), CONS_ERR_FUTURE_HEIGHT);
    /* The last precommit ends the wait at once. */
    assert_int_equal (s_vote (a, 2, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    const cons_agree_output_t *nh = s_find (CONS_AGREE_OUT_NEW_HEIGHT, 0);
    assert_non_null (nh);
    assert_int_equal (nh->height, 2);
    assert_null (s_find (CONS_AGREE_OUT_PROPOSE, 0)); /* validator 1 proposes at height 2 */
    s_status (a, 2, 0, 1);
    assert_int_equal (s_vote (a, 2, CONS_PRECOMMIT, 1, 0, s_id_a), CONS_ERR_OLD_HEIGHT);
    assert_int_equal (s_timeout (a, CONS_TIMER_COMMIT, 1, 0), CONS_ERR_STALE);
    /* Height 3's proposer is validator 2, height 5's validator 0 again. */
    assert_int_equal (s_proposal (a, 1, 2, 0, -1, s_block_b, sizeof s_block_b, -1), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, s_id_b);
    assert_int_equal (s_allocations, 0);
    cons_agree_destroy (&a);
    assert_null (a);
}

static void
test_commit_timer (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1), WD_OK);
    for (int i = 0; i < 3; i++)
        s_vote (a, i, CONS_PRECOMMIT, 1, 0, s_id_a);
    assert_non_null (s_find (CONS_AGREE_OUT_COMMIT, 0));
    /* In the commit wait nothing is skipped to, and a proposal is late. */
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 5, NULL), CONS_ERR_STALE);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_b, sizeof s_block_b, -1), CONS_ERR_STALE);
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    assert_int_equal (s_timeout (a, CONS_TIMER_COMMIT, 1, 0), WD_OK);
    assert_non_null (s_find (CONS_AGREE_OUT_NEW_HEIGHT, 0));
    s_status (a, 2, 0, 1);
    cons_agree_destroy (&a);
}

/* Nothing arrives: nil votes on timeouts, then the next round. */
static void
test_nil_round (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    assert_int_equal (s_timeout (a, CONS_TIMER_PREVOTE, 1, 0), CONS_ERR_STALE);
    assert_int_equal (s_timeout (a, CONS_TIMER_PROPOSE, 1, 0), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, NULL);
    assert_int_equal (s_feed_own (a, 3), WD_OK);
    assert_int_equal (s_timeout (a, CONS_TIMER_PROPOSE, 1, 0), CONS_ERR_STALE);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 0, NULL), WD_OK);
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 0, NULL), WD_OK); /* L44 */
    s_expect_vote (CONS_PRECOMMIT, 0, NULL);
    assert_int_equal (s_feed_own (a, 3), WD_OK);
    assert_int_equal (s_vote (a, 0, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_TIMER, 0));
    assert_int_equal (s_vote (a, 1, CONS_PRECOMMIT, 1, 0, NULL), WD_OK); /* L47 */
    const cons_agree_output_t *t = s_find (CONS_AGREE_OUT_TIMER, 0);
    assert_non_null (t);
    assert_int_equal (t->timer.timer, CONS_TIMER_PRECOMMIT);
    assert_int_equal (t->timer.ms, 70);
    assert_int_equal (s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 0), WD_OK); /* L65 */
    s_status (a, 1, 1, 1);
    t = s_find (CONS_AGREE_OUT_TIMER, 0);
    assert_int_equal (t->timer.timer, CONS_TIMER_PROPOSE);
    assert_int_equal (t->timer.round, 1);
    assert_int_equal (t->timer.ms, 150);
    /* Prevote timer (L34, L61): 2/3 of prevotes, for anything. */
    assert_int_equal (s_timeout (a, CONS_TIMER_PROPOSE, 1, 1), WD_OK);
    assert_int_equal (s_feed_own (a, 3), WD_OK);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 1, s_id_a), WD_OK);
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 1, s_id_b), WD_OK);
    t = s_find (CONS_AGREE_OUT_TIMER, 0);
    assert_non_null (t);
    assert_int_equal (t->timer.timer, CONS_TIMER_PREVOTE);
    assert_int_equal (s_timeout (a, CONS_TIMER_PREVOTE, 1, 1), WD_OK);
    s_expect_vote (CONS_PRECOMMIT, 1, NULL);
    cons_agree_destroy (&a);
}

/* Locked on A in round 0, the node prevotes nil on a fresh B, and B only
   after a proof of lock for B from a later round. */
static void
test_lock_rule (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, s_id_a);
    s_feed_own (a, 3);
    s_vote (a, 0, CONS_PREVOTE, 1, 0, s_id_a);
    s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a);
    s_expect_vote (CONS_PRECOMMIT, 0, s_id_a);
    assert_int_equal (s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 0), WD_OK);
    s_status (a, 1, 1, 1);

    assert_int_equal (s_proposal (a, 1, 1, 1, -1, s_block_b, sizeof s_block_b, -1), WD_OK);
    s_expect_vote (CONS_PREVOTE, 1, NULL);
    s_feed_own (a, 3);
    /* Others prevote B in round 1: a proof of lock for B (and, seen from
       the prevote step, not for this node's block: it is locked). */
    s_vote (a, 0, CONS_PREVOTE, 1, 1, s_id_b);
    s_vote (a, 1, CONS_PREVOTE, 1, 1, s_id_b);
    s_vote (a, 2, CONS_PREVOTE, 1, 1, s_id_b);
    /* L36 from the prevote step: this node precommits B and locks on it. */
    s_expect_vote (CONS_PRECOMMIT, 1, s_id_b);
    cons_agree_status_t st;
    cons_agree_status (a, &st);
    assert_int_equal (st.lock_round, 1);
    assert_int_equal (s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 1), WD_OK);
    /* Round 2: A again, justified by round 0. Locked on B in round 1 > 0:
       nil. */
    assert_int_equal (s_proposal (a, 2, 1, 2, 0, s_block_a, sizeof s_block_a, -1), WD_OK);
    s_expect_vote (CONS_PREVOTE, 2, NULL);
    cons_agree_destroy (&a);

    /* A node locked on A that never saw round 1's prevotes waits for the
       proof of lock before it prevotes B with pol_round 1. */
    a = s_new (3);
    s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1);
    s_feed_own (a, 3);
    s_vote (a, 0, CONS_PREVOTE, 1, 0, s_id_a);
    s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a);
    s_expect_vote (CONS_PRECOMMIT, 0, s_id_a);
    s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 0);
    s_timeout (a, CONS_TIMER_PROPOSE, 1, 1);
    s_expect_vote (CONS_PREVOTE, 1, NULL);
    s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 1);
    s_status (a, 1, 2, 1);
    assert_int_equal (s_proposal (a, 2, 1, 2, 1, s_block_b, sizeof s_block_b, -1), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    s_vote (a, 0, CONS_PREVOTE, 1, 1, s_id_b);
    s_vote (a, 1, CONS_PREVOTE, 1, 1, s_id_b);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    s_vote (a, 2, CONS_PREVOTE, 1, 1, s_id_b); /* the proof is complete */
    s_expect_vote (CONS_PREVOTE, 2, s_id_b);
    cons_agree_destroy (&a);
}

static void
test_evidence_wildcard (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1);
    s_feed_own (a, 3);
    assert_int_equal (s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a), WD_OK);
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, NULL), WD_OK);
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, NULL), CONS_ERR_DUPLICATE);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    /* Validator 2 signs B too: evidence, and from now on it counts for any
       value, so A has 3 of 4 and this node locks on A. */
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, s_id_b), CONS_ERR_EQUIVOCATION);
    const cons_agree_output_t *e = s_find (CONS_AGREE_OUT_EVIDENCE, 0);
    assert_non_null (e);
    assert_memory_equal (e->evidence.validator, s_pk[2], 32);
    assert_int_equal (e->evidence.kind, CONS_PREVOTE);
    assert_true (e->evidence.nil_a && !e->evidence.nil_b);
    assert_int_equal (cons_evidence_verify (&e->evidence, s_chain, NULL, NULL), WD_OK);
    s_expect_vote (CONS_PRECOMMIT, 0, s_id_a);
    /* A third value: still an equivocation, no second report. */
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, s_id_bad), CONS_ERR_EQUIVOCATION);
    assert_int_equal (s_out.count, 0);
    assert_int_equal (s_vote (a, 2, CONS_PREVOTE, 1, 0, s_id_b), CONS_ERR_DUPLICATE);
    /* Precommits: a decision needs signatures, not wildcards. */
    assert_int_equal (s_vote (a, 3, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    assert_int_equal (s_vote (a, 0, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    assert_int_equal (s_vote (a, 2, CONS_PRECOMMIT, 1, 0, NULL), WD_OK);
    assert_int_equal (s_vote (a, 2, CONS_PRECOMMIT, 1, 0, s_id_b), CONS_ERR_EQUIVOCATION);
    assert_null (s_find (CONS_AGREE_OUT_COMMIT, 0));
    assert_int_equal (s_vote (a, 1, CONS_PRECOMMIT, 1, 0, s_id_a), WD_OK);
    const cons_agree_output_t *c = s_find (CONS_AGREE_OUT_COMMIT, 0);
    assert_non_null (c);
    assert_int_equal (c->commit.cert.count, 3);
    assert_int_equal (cons_cert_verify (&c->commit.cert, s_chain, s_vals, N, NULL, NULL), WD_OK);
    cons_agree_destroy (&a);
}

static void
test_rejections (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    /* Not a validator. */
    assert_int_equal (s_vote (a, N, CONS_PREVOTE, 1, 0, NULL), CONS_ERR_UNKNOWN_VALIDATOR);
    /* Validator 1's key, validator 2's signature. */
    cons_msg_t m = { .kind = CONS_PREVOTE, .height = 1, .round = 0, .nil = true };
    size_t len;
    uint8_t *env = s_seal_as (2, s_pk[1], &m, &len);
    cons_agree_input_t in = { .kind = CONS_AGREE_IN_MESSAGE, .data = env, .len = len };
    assert_int_equal (s_step (a, &in), WD_ERR_BAD_SIGNATURE);
    in.len--;
    assert_int_equal (s_step (a, &in), WD_ERR_TRUNCATED);
    free (env);
    /* Proposals: from the wrong validator, with a claim in round-robin
       mode, an invalid block from the right one (voted against). */
    assert_int_equal (s_proposal (a, 2, 1, 0, -1, s_block_a, sizeof s_block_a, -1),
                      CONS_ERR_NOT_PROPOSER);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, 5), CONS_ERR_CLAIM);
    char big[65] = "ok";
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, (uint8_t *)big, sizeof big, -1), WD_ERR_OVERSIZE);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_bad, sizeof s_block_bad, -1),
                      CONS_ERR_INVALID_BLOCK);
    s_expect_vote (CONS_PREVOTE, 0, NULL);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_bad, sizeof s_block_bad, -1),
                      CONS_ERR_DUPLICATE);
    /* Heights and rounds out of reach. */
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 2, 0, NULL), CONS_ERR_FUTURE_HEIGHT);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 2, NULL), CONS_ERR_FUTURE_ROUND);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 1, NULL), WD_OK); /* round + 1 is kept */
    assert_int_equal (s_candidate (a, 2, s_block_a, sizeof s_block_a), CONS_ERR_STALE);
    assert_int_equal (s_candidate (a, 1, (uint8_t *)big, sizeof big), WD_ERR_OVERSIZE);
    assert_int_equal (s_timeout (a, CONS_TIMER_PROPOSE, 1, 1), CONS_ERR_STALE);
    cons_agree_input_t bogus = { .kind = 99 };
    assert_int_equal (s_step (a, &bogus), WD_ERR_BAD_VALUE);
    cons_agree_destroy (&a);

    /* Configurations. */
    cons_agree_config_t config = { .params = s_params,
                                   .validators = s_vals,
                                   .count = N,
                                   .self = N,
                                   .height = 1,
                                   .valid = s_valid };
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_OUT_OF_RANGE);
    config.self = 0;
    config.height = 0;
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_OUT_OF_RANGE);
    config.height = 1;
    config.valid = NULL;
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_BAD_VALUE);
    config.valid = s_valid;
    config.params.proposer_mode = CONS_PROPOSER_VRF; /* no claim callback */
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_BAD_VALUE);
    config.params.proposer_mode = CONS_PROPOSER_ROUND_ROBIN;
    config.rounds_kept = 1;
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_OUT_OF_RANGE);
    config.rounds_kept = 0;
    config.count = 0;
    assert_int_equal (cons_agree_new (&config, &a), WD_ERR_OUT_OF_RANGE);
    assert_null (a);
}

/* More than a third of the weight seen in later rounds: jump to the
   highest round that much weight has reached (L55). */
static void
test_round_skip (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (3);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 7, NULL), CONS_ERR_FUTURE_ROUND);
    s_status (a, 1, 0, 1);
    assert_int_equal (s_vote (a, 1, CONS_PRECOMMIT, 1, 5, NULL), CONS_ERR_FUTURE_ROUND);
    s_status (a, 1, 5, 1);
    const cons_agree_output_t *t = s_find (CONS_AGREE_OUT_TIMER, 0);
    assert_non_null (t);
    assert_int_equal (t->timer.round, 5);
    cons_agree_destroy (&a);
}

static void
test_restart (void **state)
{
    (void)state;
    /* Precommitted A in round 0, then crashed. */
    cons_agree_t *a = s_new (3);
    s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1);
    s_feed_own (a, 3);
    s_vote (a, 0, CONS_PREVOTE, 1, 0, s_id_a);
    s_vote (a, 1, CONS_PREVOTE, 1, 0, s_id_a);
    s_expect_vote (CONS_PRECOMMIT, 0, s_id_a);
    size_t len;
    uint8_t *rec = cons_agree_saved_encode (&s_find (CONS_AGREE_OUT_PERSIST, 0)->saved, &len);
    cons_agree_destroy (&a);

    cons_agree_saved_t saved;
    assert_int_equal (cons_agree_saved_decode (rec, len, 64, &saved), WD_OK);
    a = s_new_mode (3, 1, &saved, CONS_PROPOSER_ROUND_ROBIN);
    /* It sends the same precommit again, without a new record. */
    const cons_agree_output_t *v = s_find (CONS_AGREE_OUT_VOTE, 0);
    assert_non_null (v);
    assert_int_equal (v->msg.kind, CONS_PRECOMMIT);
    assert_memory_equal (v->msg.block_id, s_id_a, 32);
    assert_null (s_find (CONS_AGREE_OUT_PERSIST, 0));
    s_status (a, 1, 0, 3);
    cons_agree_status_t st;
    cons_agree_status (a, &st);
    assert_int_equal (st.lock_round, 0);
    assert_int_equal (st.valid_round, 0);
    /* Nothing makes it vote differently in round 0. */
    assert_int_equal (s_timeout (a, CONS_TIMER_PREVOTE, 1, 0), CONS_ERR_STALE);
    assert_int_equal (s_timeout (a, CONS_TIMER_PROPOSE, 1, 0), CONS_ERR_STALE);
    /* In round 1 it proposes its valid value if it is the proposer... it is
       not (validator 1 is); locked on A it prevotes nil on B. */
    s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 0);
    s_proposal (a, 1, 1, 1, -1, s_block_b, sizeof s_block_b, -1);
    s_expect_vote (CONS_PREVOTE, 1, NULL);
    cons_agree_destroy (&a);
    free (rec);

    /* A record of another height is ignored. */
    saved.height = 9;
    a = s_new_mode (3, 1, &saved, CONS_PROPOSER_ROUND_ROBIN);
    s_status (a, 1, 0, 1);
    cons_agree_destroy (&a);

    /* Crashed after recording a nil prevote (before sending it). */
    a = s_new (3);
    s_timeout (a, CONS_TIMER_PROPOSE, 1, 0);
    rec = cons_agree_saved_encode (&s_find (CONS_AGREE_OUT_PERSIST, 0)->saved, &len);
    cons_agree_destroy (&a);
    assert_int_equal (cons_agree_saved_decode (rec, len, 64, &saved), WD_OK);
    a = s_new_mode (3, 1, &saved, CONS_PROPOSER_ROUND_ROBIN);
    v = s_find (CONS_AGREE_OUT_VOTE, 0);
    assert_non_null (v);
    assert_true (v->msg.nil);
    /* The proposal arriving now does not change its prevote. */
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    cons_agree_destroy (&a);
    free (rec);

    /* The proposer crashed after recording its proposal: with another
       candidate after the restart it does not propose again in round 0. */
    a = s_new (0);
    s_candidate (a, 1, s_block_a, sizeof s_block_a);
    rec = cons_agree_saved_encode (&s_find (CONS_AGREE_OUT_PERSIST, 0)->saved, &len);
    cons_agree_destroy (&a);
    assert_int_equal (cons_agree_saved_decode (rec, len, 64, &saved), WD_OK);
    assert_int_equal (saved.signed_step, CONS_PROPOSAL);
    a = s_new_mode (0, 1, &saved, CONS_PROPOSER_ROUND_ROBIN);
    assert_int_equal (s_candidate (a, 1, s_block_b, sizeof s_block_b), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_PROPOSE, 0));
    cons_agree_destroy (&a);
    free (rec);
}

static void
test_saved_records (void **state)
{
    (void)state;
    const char *names[] = { "saved", "saved_fresh" };
    for (int k = 0; k < 2; k++) {
        size_t len;
        uint8_t *rec = test_vector_hex ("agree.txt", names[k], &len);
        cons_agree_saved_t s;
        assert_int_equal (cons_agree_saved_decode (rec, len, 64, &s), WD_OK);
        size_t out_len;
        uint8_t *out = cons_agree_saved_encode (&s, &out_len);
        assert_int_equal (out_len, len);
        assert_memory_equal (out, rec, len);
        free (out);
        if (k == 0) {
            assert_int_equal (s.height, 7);
            assert_int_equal (s.signed_step, CONS_PRECOMMIT);
            assert_int_equal (s.signed_round, 2);
            assert_int_equal (s.lock_round, 1);
            assert_int_equal (s.valid_len, 17);
            assert_int_equal (cons_agree_saved_decode (rec, len, 16, &s), WD_ERR_OVERSIZE);
        }
        free (rec);
    }
    /* Records that contradict themselves. */
    uint8_t block[] = "ok-x";
    cons_agree_saved_t good = { .height = 3,
                                .signed_round = 2,
                                .signed_step = CONS_PROPOSAL,
                                .signed_pol = 1,
                                .lock_round = 1,
                                .valid_round = 1,
                                .valid_block = block,
                                .valid_len = sizeof block };
    cons_agree_saved_t bad[5];
    for (int i = 0; i < 5; i++)
        bad[i] = good;
    bad[0].signed_pol = 2;             /* pol_round not below the round */
    bad[1].signed_step = 0;            /* a round without a step */
    bad[2].lock_round = 2;             /* lock above the valid round */
    bad[3].signed_step = CONS_PREVOTE; /* a vote with a pol_round */
    bad[4].signed_round = -1;          /* a step without a round */
    size_t len;
    uint8_t *rec = cons_agree_saved_encode (&good, &len);
    cons_agree_saved_t s;
    assert_int_equal (cons_agree_saved_decode (rec, len, 64, &s), WD_OK);
    free (rec);
    for (int i = 0; i < 5; i++) {
        rec = cons_agree_saved_encode (&bad[i], &len);
        assert_int_equal (cons_agree_saved_decode (rec, len, 64, &s), WD_ERR_BAD_VALUE);
        free (rec);
    }
    /* A round without its value, which the encoder cannot write. */
    for (int k = 0; k < 2; k++) {
        wd_writer_t *w = wd_writer_new ();
        wd_writer_map (w, 10);
        wd_writer_key (w, "height");
        wd_writer_uint (w, 3);
        wd_writer_key (w, "lock_block");
        wd_writer_nil (w);
        wd_writer_key (w, "lock_round");
        wd_writer_int (w, k == 0 ? 0 : -1);
        wd_writer_key (w, "signed_block");
        wd_writer_nil (w);
        wd_writer_key (w, "signed_pol");
        wd_writer_int (w, -1);
        wd_writer_key (w, "signed_round");
        wd_writer_int (w, -1);
        wd_writer_key (w, "signed_step");
        wd_writer_uint (w, 0);
        wd_writer_key (w, "v");
        wd_writer_uint (w, 1);
        wd_writer_key (w, "valid_block");
        wd_writer_nil (w);
        wd_writer_key (w, "valid_round");
        wd_writer_int (w, 0);
        rec = wd_writer_take (w, &len);
        wd_writer_destroy (&w);
        assert_int_equal (cons_agree_saved_decode (rec, len, 64, &s), WD_ERR_BAD_VALUE);
        free (rec);
    }
}

static void
test_catch_up (void **state)
{
    (void)state;
    cons_agree_t *a = s_new (CONS_AGREE_OBSERVER);
    cons_cert_sig_t sigs[3];
    for (int i = 0; i < 3; i++) {
        cons_msg_t pc = { .kind = CONS_PRECOMMIT, .height = 1, .round = 2 };
        memcpy (pc.block_id, s_id_a, 32);
        uint8_t digest[32];
        cons_msg_digest (&pc, s_chain, digest);
        sigs[i].index = (uint32_t)i;
        crypto_sign_detached (sigs[i].sig, NULL, digest, 32, s_sk[i]);
    }
    cons_cert_t cert = { .height = 1, .round = 2, .sigs = sigs, .count = 3 };
    memcpy (cert.block_id, s_id_a, 32);
    size_t cert_len;
    uint8_t *bytes = cons_cert_encode (&cert, &cert_len);
    cons_agree_input_t in = { .kind = CONS_AGREE_IN_COMMIT,
                              .data = s_block_b,
                              .len = sizeof s_block_b,
                              .cert = bytes,
                              .cert_len = cert_len };
    assert_int_equal (s_step (a, &in), CONS_ERR_CERT_BLOCK);
    in.data = s_block_a;
    in.len = sizeof s_block_a;
    in.cert_len--;
    assert_int_equal (s_step (a, &in), WD_ERR_TRUNCATED);
    in.cert_len++;
    assert_int_equal (s_step (a, &in), WD_OK);
    const cons_agree_output_t *c = s_find (CONS_AGREE_OUT_COMMIT, 0);
    assert_non_null (c);
    assert_int_equal (c->commit.round, 2);
    assert_int_equal (c->commit.cert.count, 3);
    assert_non_null (s_find (CONS_AGREE_OUT_NEW_HEIGHT, 0)); /* no commit wait */
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));           /* an observer never votes */
    s_status (a, 2, 0, 1);
    assert_int_equal (s_step (a, &in), CONS_ERR_OLD_HEIGHT);
    free (bytes);
    cons_agree_destroy (&a);

    a = s_new (3);
    cert.count = 2;
    bytes = cons_cert_encode (&cert, &cert_len);
    in.cert = bytes;
    in.cert_len = cert_len;
    assert_int_equal (s_step (a, &in), CONS_ERR_CERT_WEIGHT);
    free (bytes);
    cert.height = 2;
    cert.count = 3;
    bytes = cons_cert_encode (&cert, &cert_len);
    in.cert = bytes;
    in.cert_len = cert_len;
    assert_int_equal (s_step (a, &in), CONS_ERR_FUTURE_HEIGHT);
    free (bytes);
    cons_agree_destroy (&a);
}

static void
test_vrf_window (void **state)
{
    (void)state;
    cons_agree_t *a = s_new_mode (3, 1, NULL, CONS_PROPOSER_VRF);
    assert_non_null (s_find (CONS_AGREE_OUT_TIMER, 0));
    assert_non_null (s_find (CONS_AGREE_OUT_TIMER, 1)); /* filter and propose */
    assert_null (s_find (CONS_AGREE_OUT_PROPOSE, 0));   /* no candidate yet */
    /* Every validator may propose in VRF mode: this one too, once it has a
       candidate (the driver adds its claim, or drops it if not selected). */
    assert_int_equal (s_candidate (a, 1, s_block_bad, sizeof s_block_bad), WD_OK);
    assert_non_null (s_find (CONS_AGREE_OUT_PROPOSE, 0));

    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, -1), CONS_ERR_CLAIM);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, 0xff), -4242);
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, 9), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0)); /* the window is open */
    assert_int_equal (s_proposal (a, 2, 1, 0, -1, s_block_b, sizeof s_block_b, 3), WD_OK);
    assert_int_equal (s_proposal (a, 1, 1, 0, -1, s_block_bad, sizeof s_block_bad, 5),
                      CONS_ERR_INVALID_BLOCK);
    assert_int_equal (s_timeout (a, CONS_TIMER_FILTER, 1, 0), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, s_id_b); /* lowest priority: 3 */
    assert_int_equal (s_timeout (a, CONS_TIMER_FILTER, 1, 0), CONS_ERR_STALE);
    /* Any kept proposal can be decided. */
    s_vote (a, 0, CONS_PRECOMMIT, 1, 0, s_id_a);
    s_vote (a, 1, CONS_PRECOMMIT, 1, 0, s_id_a);
    s_vote (a, 2, CONS_PRECOMMIT, 1, 0, s_id_a);
    const cons_agree_output_t *c = s_find (CONS_AGREE_OUT_COMMIT, 0);
    assert_non_null (c);
    assert_memory_equal (c->commit.cert.block_id, s_id_a, 32);
    cons_agree_destroy (&a);

    /* A window that ends empty opens again with the first proposal: the
       lowest priority within that second window wins. */
    a = s_new_mode (3, 1, NULL, CONS_PROPOSER_VRF);
    assert_int_equal (s_timeout (a, CONS_TIMER_FILTER, 1, 0), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    assert_int_equal (s_proposal (a, 0, 1, 0, -1, s_block_a, sizeof s_block_a, 200), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_VOTE, 0));
    const cons_agree_output_t *t = s_find (CONS_AGREE_OUT_TIMER, 0);
    assert_non_null (t);
    assert_int_equal (t->timer.timer, CONS_TIMER_FILTER);
    assert_int_equal (s_proposal (a, 2, 1, 0, -1, s_block_b, sizeof s_block_b, 100), WD_OK);
    assert_null (s_find (CONS_AGREE_OUT_TIMER, 0)); /* armed once */
    assert_int_equal (s_timeout (a, CONS_TIMER_FILTER, 1, 0), WD_OK);
    s_expect_vote (CONS_PREVOTE, 0, s_id_b);
    cons_agree_destroy (&a);
}

/* Many rounds of nothing: slots are reused, rounds keep going. */
static void
test_many_rounds (void **state)
{
    (void)state;
    s_allocations = 0;
    cons_agree_t *a = s_new (3);
    for (uint32_t r = 0; r < 40; r++) {
        s_timeout (a, CONS_TIMER_PROPOSE, 1, r);
        s_vote (a, 0, CONS_PRECOMMIT, 1, r, NULL);
        s_vote (a, 1, CONS_PRECOMMIT, 1, r, NULL);
        s_vote (a, 2, CONS_PRECOMMIT, 1, r, NULL);
        assert_int_equal (s_timeout (a, CONS_TIMER_PRECOMMIT, 1, r), WD_OK);
        s_status (a, 1, r + 1, 1);
    }
    /* Late messages of an old round may take the slot of a round without a
       quorum. */
    assert_int_equal (s_vote (a, 0, CONS_PRECOMMIT, 1, 0, NULL), WD_OK);
    assert_int_equal (s_allocations, 0);
    cons_agree_destroy (&a);

    /* With two slots, held by the current round and the next, an old
       round has no place. */
    cons_agree_config_t config = { .params = s_params,
                                   .validators = s_vals,
                                   .count = N,
                                   .self = 3,
                                   .height = 1,
                                   .valid = s_valid,
                                   .rounds_kept = 2 };
    memcpy (config.chain, s_chain, 32);
    assert_int_equal (cons_agree_new (&config, &a), WD_OK);
    cons_agree_start (a, &s_out);
    s_timeout (a, CONS_TIMER_PRECOMMIT, 1, 0);
    s_status (a, 1, 1, 1);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 2, NULL), WD_OK);
    assert_int_equal (s_vote (a, 0, CONS_PREVOTE, 1, 0, NULL), CONS_ERR_OLD_ROUND);
    cons_agree_destroy (&a);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_robin),       cmocka_unit_test (test_timeouts_grow),
        cmocka_unit_test (test_happy_path),        cmocka_unit_test (test_commit_timer),
        cmocka_unit_test (test_nil_round),         cmocka_unit_test (test_lock_rule),
        cmocka_unit_test (test_evidence_wildcard), cmocka_unit_test (test_rejections),
        cmocka_unit_test (test_round_skip),        cmocka_unit_test (test_restart),
        cmocka_unit_test (test_saved_records),     cmocka_unit_test (test_catch_up),
        cmocka_unit_test (test_vrf_window),        cmocka_unit_test (test_many_rounds),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
