/*
 * Unit tests for cons_sortition: the alpha layout and the beta -> (count,
 * priority) function against the known answers of the independent Python
 * implementation (tests/vectors/sortition_vectors.py, which also proves the
 * fixed-point CDF against the exact rational one), input limits and edge
 * weights, claims proved with a real VRF key and every rejection of
 * cons_sortition_verify with its exact code, the claim's wire form, and the
 * statistics of issue 3 item 4.
 *
 * Statistics. A VRF prove costs about 0.5 ms, so 100,000 seeds x 10 nodes
 * through the real VRF would take minutes. The main run therefore feeds the
 * beta -> count function with betas SHA-512(u64 seed || u32 node) for
 * 100,000 seeds, which is exactly the function a VRF output drives (beta is
 * a uniform 64-byte string either way); a second, smaller run takes 200
 * seeds x 10 nodes = 2,000 proofs through the real VRF (prove, then verify
 * every selected claim) with the same tests at the same significance. Every
 * chi-square test rejects at alpha = 0.001 with critical values from the
 * chi-square table (re-derived by sortition_vectors.py --check); the mean
 * committee size must lie within 4 standard errors of tau (the standard
 * error from the binomial variance tau (1 - tau/W) / n; two-sided
 * probability of a false alarm 6.3e-5). The seeds are fixed, so each
 * outcome is deterministic: these tests cannot flicker. Statistics use
 * doubles; the code under test does not.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "cons_sortition.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define VEC "sortition.txt"

/* Upper 0.1% points of the chi-square distribution. */
#define CHI2_999_DF9  27.877
#define CHI2_999_DF10 29.588
#define Z_MEAN        4.0

#define NODES 10

static const uint64_t s_stat_weights[NODES] = { 1000,  2000,  3000,  5000,  8000,
                                                13000, 21000, 34000, 55000, 89000 };
#define STAT_TAU   7
#define STAT_SEEDS 100000
/* The Python digest covers the first seeds only (it is slow). */
#define DIGEST_SEEDS 1000

static uint8_t s_beta_zero[WD_VRF_BETA_LEN];

static int
s_setup (void **state)
{
    (void)state;
    return sodium_init () < 0 ? -1 : 0;
}

static void
s_stat_beta (uint64_t seed, uint32_t node, uint8_t beta[WD_VRF_BETA_LEN])
{
    uint8_t in[12];
    for (int i = 0; i < 8; i++)
        in[i] = (uint8_t)(seed >> (56 - 8 * i));
    for (int i = 0; i < 4; i++)
        in[8 + i] = (uint8_t)(node >> (24 - 8 * i));
    crypto_hash_sha512 (beta, in, sizeof in);
}

static uint64_t
s_count (uint64_t w, uint64_t W, uint64_t tau, const uint8_t *beta)
{
    uint64_t j = UINT64_MAX;
    assert_int_equal (cons_sortition_count (w, W, tau, beta, &j), 0);
    return j;
}

static void
s_input (cons_sortition_input_t *in, cons_role_t role, uint64_t w, uint64_t W, uint64_t tau)
{
    memset (in, 0, sizeof *in);
    memset (in->chain_id, 0xc4, sizeof in->chain_id);
    for (int i = 0; i < 32; i++)
        in->seed[i] = (uint8_t)(0x20 + i);
    in->role = role;
    in->height = 1000000;
    in->round = 3;
    if (role != CONS_ROLE_PROPOSER)
        for (int i = 0; i < 32; i++)
            in->subject[i] = (uint8_t)(0xa0 + i);
    in->weight = w;
    in->total_weight = W;
    in->tau = tau;
}

/* ---- known answers ---------------------------------------------------- */

static void
test_alpha_vectors (void **state)
{
    (void)state;
    static const struct {
        cons_role_t role;
        const char *name;
    } roles[] = { { CONS_ROLE_PROPOSER, "alpha_proposer" },
                  { CONS_ROLE_VERIFIER, "alpha_verifier" },
                  { CONS_ROLE_EXECUTOR, "alpha_executor" } };
    size_t len;
    uint8_t *chain = test_vector_hex (VEC, "chain", &len);
    uint8_t *seed = test_vector_hex (VEC, "seed", &len);
    uint8_t *subject = test_vector_hex (VEC, "subject", &len);
    for (size_t r = 0; r < sizeof roles / sizeof roles[0]; r++) {
        cons_sortition_input_t in;
        s_input (&in, roles[r].role, 1, 1, 1);
        assert_memory_equal (in.chain_id, chain, 32);
        assert_memory_equal (in.seed, seed, 32);
        if (roles[r].role != CONS_ROLE_PROPOSER)
            assert_memory_equal (in.subject, subject, 32);
        uint8_t *expected = test_vector_hex (VEC, roles[r].name, &len);
        assert_int_equal (len, CONS_SORTITION_ALPHA_LEN);
        uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
        assert_int_equal (cons_sortition_alpha (&in, alpha), 0);
        assert_memory_equal (alpha, expected, CONS_SORTITION_ALPHA_LEN);
        free (expected);
    }
    free (chain);
    free (seed);
    free (subject);
}

static void
test_count_and_priority_vectors (void **state)
{
    (void)state;
    char path[512];
    snprintf (path, sizeof path, "%s/%s", WARDEN_VECTORS_DIR, VEC);
    FILE *f = fopen (path, "r");
    assert_non_null (f);
    char line[1024];
    int cases = 0, selected = 0, capped = 0;
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, "case ", 5) != 0)
            continue;
        uint64_t w, W, tau, j;
        char beta_hex[129], prio_hex[65];
        int n = sscanf (line, "case %" SCNu64 " %" SCNu64 " %" SCNu64 " %128s %" SCNu64 " %64s", &w,
                        &W, &tau, beta_hex, &j, prio_hex);
        assert_int_equal (n, 6);
        uint8_t beta[WD_VRF_BETA_LEN], prio[32], got_prio[32];
        assert_true (wd_hex_decode (beta, sizeof beta, beta_hex));
        assert_true (wd_hex_decode (prio, sizeof prio, prio_hex));
        uint64_t got = s_count (w, W, tau, beta);
        if (got != j)
            fail_msg ("w=%" PRIu64 " W=%" PRIu64 " tau=%" PRIu64 " beta=%.32s: j=%" PRIu64
                      ", expected %" PRIu64,
                      w, W, tau, beta_hex, got, j);
        cons_sortition_priority (beta, got, got_prio);
        assert_memory_equal (got_prio, prio, 32);
        cases++;
        selected += j > 0;
        capped += j == 2 * tau + 64;
    }
    fclose (f);
    /* the file really held the vectors, of every kind */
    assert_true (cases >= 250);
    assert_true (selected >= 150);
    assert_true (capped >= 3);
}

/* The counts of the statistical run's first seeds, hashed, against the
   digest the Python implementation computed. */
static void
test_run_digest_matches_python (void **state)
{
    (void)state;
    uint64_t W = 0;
    for (int i = 0; i < NODES; i++)
        W += s_stat_weights[i];
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init (&h);
    for (uint64_t s = 0; s < DIGEST_SEEDS; s++)
        for (uint32_t i = 0; i < NODES; i++) {
            uint8_t beta[WD_VRF_BETA_LEN], be[8];
            s_stat_beta (s, i, beta);
            uint64_t j = s_count (s_stat_weights[i], W, STAT_TAU, beta);
            for (int b = 0; b < 8; b++)
                be[b] = (uint8_t)(j >> (56 - 8 * b));
            crypto_hash_sha256_update (&h, be, sizeof be);
        }
    uint8_t got[32];
    crypto_hash_sha256_final (&h, got);
    size_t len;
    uint8_t *expected = test_vector_hex (VEC, "stat_digest", &len);
    assert_int_equal (len, 32);
    assert_memory_equal (got, expected, 32);
    free (expected);
}

/* ---- limits and edge cases ---------------------------------------------- */

static void
test_input_limits (void **state)
{
    (void)state;
    uint64_t j = 99;
    const uint8_t *b = s_beta_zero;
    assert_int_equal (cons_sortition_count (1, 0, 1, b, &j), CONS_ERR_SORTITION_WEIGHT);
    assert_int_equal (j, 0);
    assert_int_equal (cons_sortition_count (0, 0, 1, b, &j), CONS_ERR_SORTITION_WEIGHT);
    assert_int_equal (cons_sortition_count (11, 10, 1, b, &j), CONS_ERR_SORTITION_WEIGHT);
    assert_int_equal (cons_sortition_count (UINT64_MAX, UINT64_MAX - 1, 1, b, &j),
                      CONS_ERR_SORTITION_WEIGHT);
    assert_int_equal (cons_sortition_count (1, 10, 0, b, &j), CONS_ERR_SORTITION_TAU);
    assert_int_equal (cons_sortition_count (1, 10, CONS_SORTITION_TAU_MAX + 1, b, &j),
                      CONS_ERR_SORTITION_TAU);
    assert_int_equal (cons_sortition_count (1, 10, UINT64_MAX, b, &j), CONS_ERR_SORTITION_TAU);
    /* the limits themselves are allowed */
    assert_int_equal (cons_sortition_count (UINT64_MAX, UINT64_MAX, CONS_SORTITION_TAU_MAX, b, &j),
                      0);
    assert_int_equal (cons_sortition_count (0, 1, 1, b, &j), 0);

    cons_sortition_input_t in;
    s_input (&in, CONS_ROLE_VERIFIER, 5, 10, 3);
    assert_int_equal (cons_sortition_check (&in), 0);
    in.role = (cons_role_t)0;
    assert_int_equal (cons_sortition_check (&in), CONS_ERR_SORTITION_ROLE);
    in.role = (cons_role_t)4;
    assert_int_equal (cons_sortition_check (&in), CONS_ERR_SORTITION_ROLE);
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    assert_int_equal (cons_sortition_alpha (&in, alpha), CONS_ERR_SORTITION_ROLE);
    in.role = CONS_ROLE_PROPOSER; /* with the verifier's subject */
    assert_int_equal (cons_sortition_check (&in), CONS_ERR_SORTITION_SUBJECT);
    assert_int_equal (cons_sortition_alpha (&in, alpha), CONS_ERR_SORTITION_SUBJECT);
    memset (in.subject, 0, sizeof in.subject);
    assert_int_equal (cons_sortition_check (&in), 0);
    in.total_weight = 4;
    assert_int_equal (cons_sortition_check (&in), CONS_ERR_SORTITION_WEIGHT);
    in.total_weight = 10;
    in.tau = 0;
    assert_int_equal (cons_sortition_check (&in), CONS_ERR_SORTITION_TAU);

    assert_string_equal (cons_err_name (CONS_ERR_SORTITION_PRIORITY),
                         "CONS_ERR_SORTITION_PRIORITY");
    assert_string_equal (cons_strerror (CONS_ERR_SORTITION_NOT_SELECTED),
                         "sortition claim has a zero count");
}

static void
test_edge_weights (void **state)
{
    (void)state;
    uint8_t beta[WD_VRF_BETA_LEN];
    uint64_t sum_huge = 0, sum_tiny = 0;
    for (uint32_t s = 0; s < 500; s++) {
        s_stat_beta (s, 77, beta);
        /* w = 0: never; tau >= W: all of w; p = 1/2 at w = W = 1 */
        assert_int_equal (s_count (0, 100, 7, beta), 0);
        assert_int_equal (s_count (0, 1, 1, beta), 0);
        assert_int_equal (s_count (3, 3, 3, beta), 3);
        assert_int_equal (s_count (3, 10, 10, beta), 3);
        assert_int_equal (s_count (1, 5, 4096, beta), 1);
        assert_true (s_count (1, 2, 1, beta) <= 1);
        /* w = W: one node holds everything, j ~ Binomial(W, tau/W) */
        uint64_t j = s_count (1000, 1000, 7, beta);
        assert_true (j <= 2 * 7 + 64);
        /* huge weights: mean tau, and the count never beyond the cap */
        j = s_count (UINT64_MAX, UINT64_MAX, CONS_SORTITION_TAU_MAX, beta);
        assert_true (j <= CONS_SORTITION_COUNT_MAX);
        sum_huge += j;
        /* tiny weight against a huge total: selected with p = 2^-64 */
        sum_tiny += s_count (1, UINT64_MAX, 1, beta);
    }
    /* 500 draws of mean 4096 and sd 64: the sum within 4 sd of the mean */
    assert_true (sum_huge > 500ull * 4096 - 4 * 1431 && sum_huge < 500ull * 4096 + 4 * 1431);
    assert_int_equal (sum_tiny, 0);

    /* the cap: at the top of the range, j = min(w, 2 tau + 64) */
    uint8_t top[WD_VRF_BETA_LEN];
    memset (top, 0xff, sizeof top);
    assert_int_equal (s_count (UINT64_MAX, UINT64_MAX, CONS_SORTITION_TAU_MAX, top),
                      CONS_SORTITION_COUNT_MAX);
    assert_int_equal (s_count (50, 1000, 7, top), 50);
    assert_int_equal (s_count (1000, 1000, 7, top), 78);
    /* at the bottom, the first non-empty interval */
    assert_int_equal (s_count (1000, 1000, 7, s_beta_zero), 0);
}

/* j never decreases as U grows: the intervals are in order. */
static void
test_count_monotone_in_beta (void **state)
{
    (void)state;
    static const uint64_t params[][3] = {
        { 10, 10, 9 }, { 100, 100, 7 }, { 89000, 231000, 7 }, { 1u << 20, 1u << 20, 2000 }
    };
    for (size_t p = 0; p < sizeof params / sizeof params[0]; p++) {
        uint64_t prev = 0;
        uint8_t beta[WD_VRF_BETA_LEN] = { 0 };
        for (unsigned v = 0; v < 4096; v += 7) {
            beta[0] = (uint8_t)(v >> 4);
            beta[1] = (uint8_t)(v << 4);
            uint64_t j = s_count (params[p][0], params[p][1], params[p][2], beta);
            assert_true (j >= prev);
            prev = j;
        }
    }
}

static void
test_priority (void **state)
{
    (void)state;
    uint8_t beta[WD_VRF_BETA_LEN], p0[32], p[32], prev[32], h[32], buf[72];
    s_stat_beta (42, 0, beta);
    cons_sortition_priority (beta, 0, p0);
    for (int i = 0; i < 32; i++)
        assert_int_equal (p0[i], 0xff);
    memset (prev, 0xff, sizeof prev);
    memcpy (buf, beta, 64);
    for (uint64_t j = 1; j <= 40; j++) {
        cons_sortition_priority (beta, j, p);
        memset (buf + 64, 0, 8);
        buf[71] = (uint8_t)j;
        wd_hash_sha256 (h, buf, sizeof buf);
        /* the best of 1..j is the best of 1..j-1 and sub-user j */
        const uint8_t *best = cons_sortition_priority_cmp (h, prev) < 0 ? h : prev;
        assert_memory_equal (p, best, 32);
        assert_true (cons_sortition_priority_cmp (p, p0) < 0);
        memcpy (prev, p, 32);
    }
    assert_int_equal (cons_sortition_priority_cmp (p, p), 0);
}

/* ---- claims with a real key ---------------------------------------------- */

static wd_vrf_key_t *
s_key (uint8_t tag)
{
    uint8_t seed[WD_VRF_SEED_LEN];
    memset (seed, tag, sizeof seed);
    wd_vrf_key_t *key = wd_vrf_key_new (seed);
    assert_non_null (key);
    return key;
}

/* A prover that fails, as a keys process that is gone would. */
static int
s_prove_unavailable (void *ctx, const uint8_t *alpha, size_t alpha_len,
                     uint8_t pi[WD_VRF_PROOF_LEN])
{
    (void)ctx;
    (void)alpha;
    (void)alpha_len;
    memset (pi, 0xab, WD_VRF_PROOF_LEN);
    return WD_ERR_UNAVAILABLE;
}

static void
test_prove_and_verify (void **state)
{
    (void)state;
    wd_vrf_key_t *key = s_key (0x01);
    const uint8_t *pk = wd_vrf_key_public (key);
    int accepted = 0, not_selected = 0;
    for (cons_role_t role = CONS_ROLE_PROPOSER; role <= CONS_ROLE_EXECUTOR; role++)
        for (uint32_t round = 0; round < 8; round++) {
            cons_sortition_input_t in;
            s_input (&in, role, 300, 1000, 3);
            in.round = round;
            cons_sortition_claim_t claim, again;
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, &claim), 0);
            /* deterministic: the same input gives the same claim */
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, &again), 0);
            assert_memory_equal (&claim, &again, sizeof claim);
            /* the count is the one beta gives */
            uint8_t alpha[CONS_SORTITION_ALPHA_LEN], beta[WD_VRF_BETA_LEN];
            assert_int_equal (cons_sortition_alpha (&in, alpha), 0);
            assert_int_equal (
                wd_vrf_verify (pk, alpha, sizeof alpha, claim.proof, WD_VRF_PROOF_LEN, beta), 0);
            assert_int_equal (claim.count, s_count (300, 1000, 3, beta));
            if (claim.count > 0) {
                assert_int_equal (cons_sortition_verify (&in, pk, &claim), 0);
                accepted++;
            } else {
                assert_int_equal (cons_sortition_verify (&in, pk, &claim),
                                  CONS_ERR_SORTITION_NOT_SELECTED);
                not_selected++;
            }
        }
    /* P(j = 0) = (1 - 3/1000)^300 = 0.41: both outcomes occur */
    assert_true (accepted > 0 && not_selected > 0);

    /* tau >= W: every sub-user, always */
    cons_sortition_input_t in;
    cons_sortition_claim_t claim;
    s_input (&in, CONS_ROLE_EXECUTOR, 4, 4, 5);
    assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, &claim), 0);
    assert_int_equal (claim.count, 4);
    assert_int_equal (cons_sortition_verify (&in, pk, &claim), 0);

    /* input errors come first, before any proving */
    s_input (&in, CONS_ROLE_VERIFIER, 5, 4, 1);
    assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, key, &claim),
                      CONS_ERR_SORTITION_WEIGHT);
    s_input (&in, CONS_ROLE_VERIFIER, 5, 10, 1);
    assert_int_equal (cons_sortition_prove (&in, s_prove_unavailable, NULL, &claim),
                      WD_ERR_UNAVAILABLE);
    assert_int_equal (claim.count, 0);
    wd_vrf_key_destroy (&key);
}

/* A selected claim (count >= 2) for the rejection tests. */
static void
s_selected_claim (wd_vrf_key_t *key, cons_sortition_input_t *in, cons_sortition_claim_t *claim)
{
    for (uint32_t round = 0;; round++) {
        s_input (in, CONS_ROLE_VERIFIER, 500, 1000, 7);
        in->round = round;
        assert_int_equal (cons_sortition_prove (in, wd_vrf_prove_fn_key, key, claim), 0);
        if (claim->count >= 2)
            return;
        assert_true (round < 100);
    }
}

static void
test_verify_rejections (void **state)
{
    (void)state;
    wd_vrf_key_t *key = s_key (0x02);
    wd_vrf_key_t *other = s_key (0x03);
    const uint8_t *pk = wd_vrf_key_public (key);
    cons_sortition_input_t in, bad;
    cons_sortition_claim_t claim, c;
    s_selected_claim (key, &in, &claim);
    assert_int_equal (cons_sortition_verify (&in, pk, &claim), 0);

    /* count: one more, one less, zero */
    c = claim;
    c.count++;
    assert_int_equal (cons_sortition_verify (&in, pk, &c), CONS_ERR_SORTITION_COUNT);
    c.count = claim.count - 1;
    assert_int_equal (cons_sortition_verify (&in, pk, &c), CONS_ERR_SORTITION_COUNT);
    c.count = 0;
    assert_int_equal (cons_sortition_verify (&in, pk, &c), CONS_ERR_SORTITION_NOT_SELECTED);
    /* a priority that is not the best of the claimed sub-users: every byte,
       and the priority of sub-user 1 alone (a real hash, just not the
       lowest unless sub-user 1 won) */
    for (size_t i = 0; i < sizeof c.priority; i++) {
        c = claim;
        c.priority[i] ^= 0x01;
        assert_int_equal (cons_sortition_verify (&in, pk, &c), CONS_ERR_SORTITION_PRIORITY);
    }
    /* the proof: c (bytes 32..47) altered verifies as a proof of nothing;
       every single-byte change is refused with some VRF reason */
    c = claim;
    c.proof[40] ^= 0x80;
    assert_int_equal (cons_sortition_verify (&in, pk, &c), WD_ERR_VRF_INVALID);
    for (size_t i = 0; i < WD_VRF_PROOF_LEN; i++) {
        c = claim;
        c.proof[i] ^= 0x10;
        int rc = cons_sortition_verify (&in, pk, &c);
        assert_true (rc == WD_ERR_VRF_INVALID || rc == WD_ERR_VRF_BAD_GAMMA ||
                     rc == WD_ERR_VRF_SCALAR_RANGE);
    }
    c = claim;
    c.proof[79] |= 0xf0; /* s far above L */
    assert_int_equal (cons_sortition_verify (&in, pk, &c), WD_ERR_VRF_SCALAR_RANGE);
    /* a proof from another key, and the right proof against another key */
    assert_int_equal (cons_sortition_verify (&in, wd_vrf_key_public (other), &claim),
                      WD_ERR_VRF_INVALID);
    cons_sortition_claim_t theirs;
    assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, other, &theirs), 0);
    c = claim;
    memcpy (c.proof, theirs.proof, sizeof c.proof);
    assert_int_equal (cons_sortition_verify (&in, pk, &c), WD_ERR_VRF_INVALID);
    uint8_t bad_pk[WD_VRF_PK_LEN];
    memset (bad_pk, 0xff, sizeof bad_pk); /* y >= p: not canonical */
    assert_int_equal (cons_sortition_verify (&in, bad_pk, &claim), WD_ERR_VRF_BAD_KEY);

    /* every field of alpha changes the VRF input */
    bad = in;
    bad.chain_id[0] ^= 1;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    bad = in;
    bad.seed[31] ^= 1;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    bad = in;
    bad.role = CONS_ROLE_EXECUTOR;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    bad = in;
    bad.height++;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    bad = in;
    bad.round++;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    bad = in;
    bad.subject[5] ^= 1;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), WD_ERR_VRF_INVALID);
    /* weights are not in alpha: a lower weight gives another count */
    bad = in;
    bad.weight = 1;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), CONS_ERR_SORTITION_COUNT);
    bad = in;
    bad.weight = 0;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), CONS_ERR_SORTITION_COUNT);
    /* and inputs out of range are named before the proof is looked at */
    bad = in;
    bad.role = (cons_role_t)7;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), CONS_ERR_SORTITION_ROLE);
    bad = in;
    bad.total_weight = 0;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), CONS_ERR_SORTITION_WEIGHT);
    bad = in;
    bad.tau = CONS_SORTITION_TAU_MAX + 1;
    assert_int_equal (cons_sortition_verify (&bad, pk, &claim), CONS_ERR_SORTITION_TAU);

    wd_vrf_key_destroy (&key);
    wd_vrf_key_destroy (&other);
}

/* ---- wire form ------------------------------------------------------------ */

static void
test_claim_wire_form (void **state)
{
    (void)state;
    cons_sortition_claim_t claim, back;
    claim.count = 3;
    for (int i = 0; i < 32; i++)
        claim.priority[i] = (uint8_t)i;
    for (int i = 0; i < WD_VRF_PROOF_LEN; i++)
        claim.proof[i] = (uint8_t)(0x80 + i);
    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (&claim, w);
    size_t len;
    const uint8_t *buf = wd_writer_data (w, &len);
    /* map of 3, "count" 3, "priority" bin8 32, "proof" bin8 80 */
    assert_int_equal (len, 1 + 6 + 1 + 9 + 2 + 32 + 6 + 2 + 80);
    assert_int_equal (buf[0], 0x83);
    assert_int_equal (cons_sortition_claim_decode (buf, len, &back), WD_OK);
    assert_memory_equal (&back, &claim, sizeof claim);
    assert_int_equal (cons_sortition_claim_decode (buf, len - 1, &back), WD_ERR_TRUNCATED);
    assert_int_equal (back.count, 0);

    /* trailing bytes */
    uint8_t longer[256];
    memcpy (longer, buf, len);
    longer[len] = 0xc0;
    assert_int_equal (cons_sortition_claim_decode (longer, len + 1, &back), WD_ERR_TRAILING);

    /* count above the limit */
    wd_writer_reset (w);
    claim.count = CONS_SORTITION_COUNT_MAX + 1;
    cons_sortition_claim_write (&claim, w);
    buf = wd_writer_data (w, &len);
    assert_int_equal (cons_sortition_claim_decode (buf, len, &back), WD_ERR_OUT_OF_RANGE);

    /* hand-made maps: a short priority, no priority, an extra key, a
       negative count */
    static const struct {
        int64_t count;
        int priority_len; /* -1: no priority key */
        bool extra;
        wd_err_t err;
    } bad[] = { { 1, 31, false, WD_ERR_BAD_LENGTH },
                { 1, -1, false, WD_ERR_MISSING_KEY },
                { 1, 32, true, WD_ERR_UNKNOWN_KEY },
                { -1, 32, false, WD_ERR_OUT_OF_RANGE } };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        wd_writer_reset (w);
        wd_writer_map (w, 2u + (bad[i].priority_len >= 0) + bad[i].extra);
        wd_writer_key (w, "count");
        wd_writer_int (w, bad[i].count);
        if (bad[i].extra) {
            wd_writer_key (w, "extra");
            wd_writer_uint (w, 1);
        }
        if (bad[i].priority_len >= 0) {
            wd_writer_key (w, "priority");
            wd_writer_bin (w, claim.priority, (size_t)bad[i].priority_len);
        }
        wd_writer_key (w, "proof");
        wd_writer_bin (w, claim.proof, sizeof claim.proof);
        buf = wd_writer_data (w, &len);
        assert_int_equal (cons_sortition_claim_decode (buf, len, &back), bad[i].err);
    }
    wd_writer_destroy (&w);
}

/* ---- statistics -------------------------------------------------------------- */

/* sum_i (S_i - E_i)^2 / Var_i over nodes, with E_i = n w_i p and Var_i =
   n w_i p (1 - p) (S_i is Binomial(n w_i, p)): chi-square with NODES
   degrees of freedom under the hypothesis that selections follow weight. */
static double
s_chi2_weights (const uint64_t *totals, const uint64_t *weights, uint64_t W, uint64_t tau,
                uint64_t n)
{
    double p = (double)tau / (double)W;
    double x2 = 0;
    for (int i = 0; i < NODES; i++) {
        double e = (double)n * (double)weights[i] * p;
        double d = (double)totals[i] - e;
        x2 += d * d / (e * (1 - p));
    }
    return x2;
}

/* (mean - tau)^2 <= z^2 Var / n with Var = tau (1 - tau / W), so no sqrt. */
static void
s_check_mean (uint64_t committee_total, uint64_t n, uint64_t W, uint64_t tau)
{
    double mean = (double)committee_total / (double)n;
    double var = (double)tau * (1 - (double)tau / (double)W);
    double d = mean - (double)tau;
    double z2 = d * d / (var / (double)n);
    print_message ("  mean committee size %.4f (tau %" PRIu64 "): z^2 = %.3f, limit %.0f\n", mean,
                   tau, z2, Z_MEAN * Z_MEAN);
    assert_true (z2 <= Z_MEAN * Z_MEAN);
}

/* One statistical pass; returns SHA-256 over every count, in order. */
static void
s_stat_pass (uint8_t digest[32], uint64_t totals[NODES], uint64_t hist[10], uint64_t *committee)
{
    uint64_t W = 0;
    for (int i = 0; i < NODES; i++)
        W += s_stat_weights[i];
    crypto_hash_sha256_state h;
    crypto_hash_sha256_init (&h);
    memset (totals, 0, NODES * sizeof totals[0]);
    memset (hist, 0, 10 * sizeof hist[0]);
    *committee = 0;
    for (uint64_t s = 0; s < STAT_SEEDS; s++)
        for (uint32_t i = 0; i < NODES; i++) {
            uint8_t beta[WD_VRF_BETA_LEN], be[8];
            s_stat_beta (s, i, beta);
            uint64_t j = s_count (s_stat_weights[i], W, STAT_TAU, beta);
            totals[i] += j;
            *committee += j;
            if (i == NODES - 1)
                hist[j < 9 ? j : 9]++;
            for (int b = 0; b < 8; b++)
                be[b] = (uint8_t)(j >> (56 - 8 * b));
            crypto_hash_sha256_update (&h, be, sizeof be);
        }
    crypto_hash_sha256_final (&h, digest);
}

static void
test_statistics_100k_seeds (void **state)
{
    (void)state;
    uint64_t W = 0;
    for (int i = 0; i < NODES; i++)
        W += s_stat_weights[i];
    uint64_t totals[NODES], hist[10], committee;
    uint8_t digest[32];
    s_stat_pass (digest, totals, hist, &committee);

    /* selections proportional to weight */
    double x2 = s_chi2_weights (totals, s_stat_weights, W, STAT_TAU, STAT_SEEDS);
    print_message ("  weights: chi-square %.3f, df %d, critical %.3f at alpha 0.001\n", x2, NODES,
                   CHI2_999_DF10);
    assert_true (x2 < CHI2_999_DF10);

    /* the shape: the heaviest node's counts against Binomial(w, p) */
    double p = (double)STAT_TAU / (double)W, pmf[10];
    uint64_t w = s_stat_weights[NODES - 1];
    double base = 1 - p, p0 = 1;
    for (uint64_t e = w; e; e >>= 1, base *= base)
        if (e & 1)
            p0 *= base;
    pmf[0] = p0;
    double tail = 1 - p0;
    for (int k = 1; k < 9; k++) {
        pmf[k] = pmf[k - 1] * (double)(w - (uint64_t)k + 1) / k * p / (1 - p);
        tail -= pmf[k];
    }
    pmf[9] = tail;
    double h2 = 0;
    for (int k = 0; k < 10; k++) {
        double e = pmf[k] * STAT_SEEDS;
        double d = (double)hist[k] - e;
        h2 += d * d / e;
    }
    print_message ("  count histogram: chi-square %.3f, df 9, critical %.3f at alpha 0.001\n", h2,
                   CHI2_999_DF9);
    assert_true (h2 < CHI2_999_DF9);

    s_check_mean (committee, STAT_SEEDS, W, STAT_TAU);

    /* a second run gives the same counts, every one */
    uint64_t totals2[NODES], hist2[10], committee2;
    uint8_t digest2[32];
    s_stat_pass (digest2, totals2, hist2, &committee2);
    assert_memory_equal (digest, digest2, 32);
    assert_memory_equal (totals, totals2, sizeof totals);
}

/* The same tests on 2,000 real proofs: 200 seeds x 10 nodes, each with its
   own VRF key; every selected claim must also verify. */
static void
test_statistics_real_vrf (void **state)
{
    (void)state;
    enum { SEEDS = 200 };
    static const uint64_t weights[NODES] = { 100, 200, 300, 400, 500, 600, 700, 800, 900, 1000 };
    uint64_t W = 5500, tau = 7;
    wd_vrf_key_t *keys[NODES];
    for (int i = 0; i < NODES; i++)
        keys[i] = s_key ((uint8_t)(0x40 + i));
    uint64_t totals[NODES] = { 0 }, committee = 0;
    int verified = 0;
    for (uint64_t s = 0; s < SEEDS; s++) {
        cons_sortition_input_t in;
        s_input (&in, CONS_ROLE_VERIFIER, 0, W, tau);
        uint8_t sb[8];
        for (int b = 0; b < 8; b++)
            sb[b] = (uint8_t)(s >> (56 - 8 * b));
        wd_hash_sha256 (in.seed, sb, sizeof sb);
        in.height = s;
        for (int i = 0; i < NODES; i++) {
            in.weight = weights[i];
            cons_sortition_claim_t claim;
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, keys[i], &claim), 0);
            totals[i] += claim.count;
            committee += claim.count;
            if (claim.count > 0) {
                assert_int_equal (cons_sortition_verify (&in, wd_vrf_key_public (keys[i]), &claim),
                                  0);
                verified++;
            }
        }
    }
    double x2 = s_chi2_weights (totals, weights, W, tau, SEEDS);
    print_message ("  real VRF: %d claims verified; weights chi-square %.3f, critical %.3f\n",
                   verified, x2, CHI2_999_DF10);
    assert_true (x2 < CHI2_999_DF10);
    s_check_mean (committee, SEEDS, W, tau);
    for (int i = 0; i < NODES; i++)
        wd_vrf_key_destroy (&keys[i]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_alpha_vectors),
        cmocka_unit_test (test_count_and_priority_vectors),
        cmocka_unit_test (test_run_digest_matches_python),
        cmocka_unit_test (test_input_limits),
        cmocka_unit_test (test_edge_weights),
        cmocka_unit_test (test_count_monotone_in_beta),
        cmocka_unit_test (test_priority),
        cmocka_unit_test (test_prove_and_verify),
        cmocka_unit_test (test_verify_rejections),
        cmocka_unit_test (test_claim_wire_form),
        cmocka_unit_test (test_statistics_100k_seeds),
        cmocka_unit_test (test_statistics_real_vrf),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
