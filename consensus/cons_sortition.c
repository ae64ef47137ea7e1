/*
 * cons_sortition: VRF-driven sortition (see cons_sortition.h and
 * docs/PROTOCOL.md "Sortition", which states every step below so that
 * another implementation can reproduce it bit for bit; the independent one
 * is tests/vectors/sortition_vectors.py).
 *
 * Why a software float: the binomial CDF needs (1 - p)^w, which for large
 * w * p falls far below any fixed-point resolution (2^-5000 is ordinary),
 * while the terms near the mean are large. A value m * 2^e with a 128-bit
 * mantissa m (2^127 <= m < 2^128) and a 64-bit exponent keeps 127 bits of
 * relative precision at any magnitude. Every operation truncates, so each
 * computed value is at most the exact one and below it by a relative
 * 2^-127 per operation; the error bound follows by counting operations.
 * Only 64x64->128-bit products and 128/64-bit divisions are used, which
 * unsigned __int128 gives on x86-64 and arm64 alike; nothing depends on
 * the floating-point unit or on libm.
 *
 * This file needs libsodium and wd_vrf only (library warden_sortition, which
 * warden-verify links too); the claim's wire form is cons_sortition_claim.c.
 */
#include "cons_sortition.h"
#include "wd_bytes.h"

#include <assert.h>
#include <sodium.h>
#include <string.h>

typedef unsigned __int128 s_u128;

/* value = m * 2^e, 2^127 <= m < 2^128. All values here are positive. */
typedef struct {
    s_u128 m;
    int64_t e;
} s_xf_t;

static const uint8_t s_alpha_tag[] = "warden/1\0sortition"; /* with its final NUL */
_Static_assert(sizeof s_alpha_tag == 19, "alpha tag is 19 bytes");

static unsigned
s_clz128 (s_u128 v)
{
    uint64_t hi = (uint64_t)(v >> 64);
    uint64_t lo = (uint64_t)v;
    return hi ? (unsigned)__builtin_clzll (hi) : 64u + (unsigned)__builtin_clzll (lo);
}

/* An integer n >= 1, exactly. */
static s_xf_t
s_from_u64 (uint64_t n)
{
    assert (n > 0);
    unsigned z = s_clz128 ((s_u128)n);
    return (s_xf_t){ (s_u128)n << z, -(int64_t)z };
}

/* a * b: the 256-bit product of the mantissas, its top 128 bits kept. */
static s_xf_t
s_mul (s_xf_t a, s_xf_t b)
{
    uint64_t a1 = (uint64_t)(a.m >> 64), a0 = (uint64_t)a.m;
    uint64_t b1 = (uint64_t)(b.m >> 64), b0 = (uint64_t)b.m;
    s_u128 p00 = (s_u128)a0 * b0;
    s_u128 p01 = (s_u128)a0 * b1;
    s_u128 p10 = (s_u128)a1 * b0;
    s_u128 p11 = (s_u128)a1 * b1;
    /* middle column: bits 64..191 of the product, with carries */
    s_u128 mid = (p00 >> 64) + (uint64_t)p01 + (uint64_t)p10;
    s_u128 hi = p11 + (p01 >> 64) + (p10 >> 64) + (mid >> 64);
    uint64_t lo_top = (uint64_t)mid; /* bits 64..127 */
    /* Both mantissas are >= 2^127, so the product is >= 2^254: its top bit
       is bit 255 or bit 254. */
    if (hi >> 127)
        return (s_xf_t){ hi, a.e + b.e + 128 };
    return (s_xf_t){ (hi << 1) | (lo_top >> 63), a.e + b.e + 127 };
}

/* a / n for an integer n >= 1: floor(m * 2^64 / n), a quotient of 128 to
   192 bits, truncated to its top 128. */
static s_xf_t
s_div_u64 (s_xf_t a, uint64_t n)
{
    assert (n > 0);
    uint64_t a1 = (uint64_t)(a.m >> 64), a0 = (uint64_t)a.m;
    /* schoolbook division by one 64-bit digit: digits a1, a0, 0 */
    uint64_t q2 = a1 / n;
    s_u128 cur = ((s_u128)(a1 % n) << 64) | a0;
    uint64_t q1 = (uint64_t)(cur / n);
    cur = ((s_u128)(uint64_t)(cur % n) << 64);
    uint64_t q0 = (uint64_t)(cur / n);
    s_u128 low = ((s_u128)q1 << 64) | q0;
    if (q2 == 0) {
        /* m * 2^64 / n >= 2^127 because n < 2^64: already normalised */
        assert (low >> 127);
        return (s_xf_t){ low, a.e - 64 };
    }
    unsigned s = 64u - (unsigned)__builtin_clzll (q2); /* 1..64 */
    s_u128 m = ((s_u128)q2 << (128 - s)) | (low >> s);
    return (s_xf_t){ m, a.e - 64 + (int64_t)s };
}

/* x^n, n >= 1: bits of n from the least significant, squaring the base
   only while bits remain (the document fixes this operation sequence). */
static s_xf_t
s_pow (s_xf_t x, uint64_t n)
{
    assert (n > 0);
    s_xf_t r = { 0, 0 };
    bool have = false;
    s_xf_t b = x;
    for (;;) {
        if (n & 1) {
            r = have ? s_mul (r, b) : b;
            have = true;
        }
        n >>= 1;
        if (n == 0)
            return r;
        b = s_mul (b, b);
    }
}

/* floor(a * 2^128) for a < 1 (so e <= -128). */
static s_u128
s_fix (s_xf_t a)
{
    int64_t sh = -(a.e + 128);
    assert (sh >= 0);
    return sh >= 128 ? 0 : a.m >> sh;
}

static int
s_check_weights (uint64_t weight, uint64_t total_weight, uint64_t tau)
{
    if (total_weight == 0 || weight > total_weight)
        return CONS_ERR_SORTITION_WEIGHT;
    if (tau == 0 || tau > CONS_SORTITION_TAU_MAX)
        return CONS_ERR_SORTITION_TAU;
    return 0;
}

static int
s_check_role (const cons_sortition_input_t *in)
{
    if (in->role != CONS_ROLE_PROPOSER && in->role != CONS_ROLE_VERIFIER &&
        in->role != CONS_ROLE_EXECUTOR)
        return CONS_ERR_SORTITION_ROLE;
    if (in->role == CONS_ROLE_PROPOSER && !sodium_is_zero (in->subject, sizeof in->subject))
        return CONS_ERR_SORTITION_SUBJECT;
    return 0;
}

int
cons_sortition_check (const cons_sortition_input_t *in)
{
    assert (in);
    int rc = s_check_role (in);
    if (rc == 0)
        rc = s_check_weights (in->weight, in->total_weight, in->tau);
    return rc;
}

int
cons_sortition_alpha (const cons_sortition_input_t *in, uint8_t alpha[CONS_SORTITION_ALPHA_LEN])
{
    assert (in && alpha);
    int rc = s_check_role (in);
    if (rc != 0)
        return rc;
    uint8_t *p = alpha;
    memcpy (p, s_alpha_tag, sizeof s_alpha_tag);
    p += sizeof s_alpha_tag;
    memcpy (p, in->chain_id, CONS_SORTITION_ID_LEN);
    p += CONS_SORTITION_ID_LEN;
    *p++ = (uint8_t)in->role;
    memcpy (p, in->seed, CONS_SORTITION_ID_LEN);
    p += CONS_SORTITION_ID_LEN;
    wd_put_be (p, in->height, 8);
    p += 8;
    wd_put_be (p, in->round, 4);
    p += 4;
    memcpy (p, in->subject, CONS_SORTITION_ID_LEN);
    p += CONS_SORTITION_ID_LEN;
    assert (p == alpha + CONS_SORTITION_ALPHA_LEN);
    return 0;
}

int
cons_sortition_count (uint64_t weight, uint64_t total_weight, uint64_t tau,
                      const uint8_t beta[WD_VRF_BETA_LEN], uint64_t *count)
{
    assert (beta && count);
    *count = 0;
    int rc = s_check_weights (weight, total_weight, tau);
    if (rc != 0)
        return rc;
    if (weight == 0)
        return 0;
    if (tau >= total_weight) {
        /* p = tau / W >= 1: every sub-user is selected */
        *count = weight;
        return 0;
    }
    s_u128 u = 0;
    for (int i = 0; i < 16; i++)
        u = (u << 8) | beta[i];

    /* P(0) = (1-p)^w with 1-p = (W-tau)/W; the ratio of successive terms is
       P(k+1)/P(k) = q (w-k)/(k+1) with q = tau/(W-tau). */
    s_xf_t x = s_div_u64 (s_from_u64 (total_weight - tau), total_weight);
    s_xf_t q = s_div_u64 (s_from_u64 (tau), total_weight - tau);
    uint64_t cap = 2 * tau + 64;
    uint64_t last = weight < cap ? weight : cap;
    s_xf_t pk = s_pow (x, weight);
    s_u128 cdf = 0;
    for (uint64_t k = 0; k < last; k++) {
        s_u128 f = s_fix (pk);
        /* The sum of truncated terms never exceeds 2^128 CDF(k) < 2^128
           (docs/PROTOCOL.md); an overflow would be a bug here. */
        assert (cdf + f >= cdf);
        cdf += f;
        if (u < cdf) {
            *count = k;
            return 0;
        }
        if (k + 1 < last)
            pk = s_div_u64 (s_mul (s_mul (pk, q), s_from_u64 (weight - k)), k + 1);
    }
    *count = last;
    return 0;
}

void
cons_sortition_priority (const uint8_t beta[WD_VRF_BETA_LEN], uint64_t count,
                         uint8_t priority[CONS_SORTITION_PRIORITY_LEN])
{
    assert (beta && priority);
    memset (priority, 0xff, CONS_SORTITION_PRIORITY_LEN);
    /* beta is exactly one SHA-256 block: absorb it once, then each
       sub-user costs one more compression. */
    crypto_hash_sha256_state after_beta, st;
    crypto_hash_sha256_init (&after_beta);
    crypto_hash_sha256_update (&after_beta, beta, WD_VRF_BETA_LEN);
    uint8_t index[8];
    uint8_t h[CONS_SORTITION_PRIORITY_LEN];
    for (uint64_t i = 1; i <= count; i++) {
        wd_put_be (index, i, sizeof index);
        st = after_beta;
        crypto_hash_sha256_update (&st, index, sizeof index);
        crypto_hash_sha256_final (&st, h);
        if (memcmp (h, priority, sizeof h) < 0)
            memcpy (priority, h, sizeof h);
    }
}

int
cons_sortition_priority_cmp (const uint8_t a[CONS_SORTITION_PRIORITY_LEN],
                             const uint8_t b[CONS_SORTITION_PRIORITY_LEN])
{
    assert (a && b);
    return memcmp (a, b, CONS_SORTITION_PRIORITY_LEN);
}

int
cons_sortition_prove (const cons_sortition_input_t *in, wd_vrf_prove_fn prove, void *prove_ctx,
                      cons_sortition_claim_t *claim)
{
    assert (in && prove && claim);
    memset (claim, 0, sizeof *claim);
    int rc = cons_sortition_check (in);
    if (rc != 0)
        return rc;
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    uint8_t beta[WD_VRF_BETA_LEN];
    rc = cons_sortition_alpha (in, alpha);
    assert (rc == 0); /* checked above */
    rc = prove (prove_ctx, alpha, sizeof alpha, claim->proof);
    assert (rc <= 0);
    if (rc == 0)
        rc = wd_vrf_proof_to_hash (claim->proof, WD_VRF_PROOF_LEN, beta);
    if (rc == 0)
        rc = cons_sortition_count (in->weight, in->total_weight, in->tau, beta, &claim->count);
    if (rc == 0)
        cons_sortition_priority (beta, claim->count, claim->priority);
    else
        memset (claim, 0, sizeof *claim);
    /* beta of an unselected node is nobody's business: do not leave it */
    sodium_memzero (beta, sizeof beta);
    return rc;
}

int
cons_sortition_verify (const cons_sortition_input_t *in, const uint8_t pk[WD_VRF_PK_LEN],
                       const cons_sortition_claim_t *claim)
{
    assert (in && pk && claim);
    int rc = cons_sortition_check (in);
    if (rc != 0)
        return rc;
    if (claim->count == 0)
        return CONS_ERR_SORTITION_NOT_SELECTED;
    uint8_t alpha[CONS_SORTITION_ALPHA_LEN];
    uint8_t beta[WD_VRF_BETA_LEN];
    uint8_t priority[CONS_SORTITION_PRIORITY_LEN];
    uint64_t count;
    rc = cons_sortition_alpha (in, alpha);
    assert (rc == 0);
    rc = wd_vrf_verify (pk, alpha, sizeof alpha, claim->proof, WD_VRF_PROOF_LEN, beta);
    if (rc != 0)
        return rc;
    rc = cons_sortition_count (in->weight, in->total_weight, in->tau, beta, &count);
    assert (rc == 0); /* inputs checked above */
    if (count != claim->count)
        return CONS_ERR_SORTITION_COUNT;
    cons_sortition_priority (beta, count, priority);
    if (sodium_memcmp (priority, claim->priority, sizeof priority) != 0)
        return CONS_ERR_SORTITION_PRIORITY;
    return 0;
}
