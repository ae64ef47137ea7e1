/*
 * wd_vrf: ECVRF-EDWARDS25519-SHA512-TAI (RFC 9381 §5, suite 0x03) on
 * libsodium's public edwards25519 API.
 *
 * libsodium's scalar multiplication only accepts points of the prime-order
 * subgroup, but RFC 9381 also works with points that carry a small-order
 * (torsion) component: try-and-increment candidates before their cofactor is
 * cleared, and public keys or Gammas that a dishonest prover builds with one.
 * So this file decodes points itself (RFC 8032 §5.1.3: y below p, no
 * negative zero, then libsodium's on-curve decoding inside
 * crypto_core_ed25519_add), clears cofactors by three doublings, and
 * multiplies a torsioned point Q = Q0 + T by splitting it: n*Q = n*Q0 +
 * (n mod 8)*T, where Q0 = 8^-1 * (8*Q) lies in the subgroup. Honest keys and
 * proofs take the fast path (libsodium's own multiplication) only.
 */
#include "wd_vrf.h"

#include <assert.h>
#include <stdbool.h>
#include <string.h>

#include <sodium.h>

#define SUITE_TAI       0x03 /* RFC 9381 §5.5: ECVRF-EDWARDS25519-SHA512-TAI */
#define POINT_LEN       32
#define SCALAR_LEN      32
#define CHALLENGE_LEN   16
#define HASH_TO_CURVE_1 0x01 /* encode_to_curve domain separator, front */
#define CHALLENGE_2     0x02 /* challenge_generation domain separator, front */
#define PROOF_TO_HASH_3 0x03 /* proof_to_hash domain separator, front */
#define DOMAIN_BACK     0x00 /* every domain separator, back */

/* The identity point (x = 0, y = 1). */
static const uint8_t s_identity[POINT_LEN] = { 1 };

struct wd_vrf_key {
    uint8_t scalar[SCALAR_LEN]; /* x mod L */
    uint8_t prefix[32];         /* the second half of SHA-512(seed), for nonces */
    uint8_t pk[WD_VRF_PK_LEN];
};

/* RFC 8032 §5.1.3 decoding checks that libsodium leaves out for points
   outside the subgroup: the y coordinate is below p = 2^255 - 19, and x = 0
   (y = 1 or y = p - 1) is not encoded with the sign bit set. */
static bool
s_is_canonical_encoding (const uint8_t p[POINT_LEN])
{
    bool top_all_ones = (p[31] & 0x7f) == 0x7f;
    for (int i = 30; i > 0 && top_all_ones; i--)
        top_all_ones = p[i] == 0xff;
    if (top_all_ones && p[0] >= 0xed)
        return false; /* y >= p */
    if (p[31] & 0x80) {
        /* y = 1 and y = p - 1 = 0x7fff...ffec are the two points with x = 0. */
        uint8_t y[POINT_LEN];
        memcpy (y, p, POINT_LEN);
        y[31] &= 0x7f;
        static const uint8_t minus_one[POINT_LEN] = { 0xec, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                      0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                                      0xff, 0xff, 0xff, 0x7f };
        if (memcmp (y, s_identity, POINT_LEN) == 0 || memcmp (y, minus_one, POINT_LEN) == 0)
            return false;
    }
    return true;
}

/* out = 8 * p for any point on the curve; false when p does not decode to
   one (crypto_core_ed25519_add decodes and checks both operands). */
static bool
s_times_cofactor (uint8_t out[POINT_LEN], const uint8_t p[POINT_LEN])
{
    uint8_t twice[POINT_LEN], four[POINT_LEN];
    return crypto_core_ed25519_add (twice, p, p) == 0 &&
           crypto_core_ed25519_add (four, twice, twice) == 0 &&
           crypto_core_ed25519_add (out, four, four) == 0;
}

/* string_to_point of RFC 9381 §5.5 (RFC 8032 decoding), for any point. */
static bool
s_decode_point (const uint8_t p[POINT_LEN])
{
    uint8_t same[POINT_LEN];
    return s_is_canonical_encoding (p) && crypto_core_ed25519_add (same, p, s_identity) == 0;
}

static bool
s_is_identity (const uint8_t p[POINT_LEN])
{
    return memcmp (p, s_identity, POINT_LEN) == 0;
}

/* out = n * q for q in the prime-order subgroup or the identity. libsodium
   refuses to return the identity; that refusal (with q valid) means the
   product is the identity. */
static void
s_mul_subgroup (uint8_t out[POINT_LEN], const uint8_t n[SCALAR_LEN], const uint8_t q[POINT_LEN])
{
    if (s_is_identity (q) || crypto_scalarmult_ed25519_noclamp (out, n, q) != 0)
        memcpy (out, s_identity, POINT_LEN);
}

/* out = n * q for any decoded point q; n is an integer below 2^255, used as
   is (not reduced), because its value mod 8 matters for q's torsion part. */
static void
s_mul_any (uint8_t out[POINT_LEN], const uint8_t n[SCALAR_LEN], const uint8_t q[POINT_LEN])
{
    if (crypto_scalarmult_ed25519_noclamp (out, n, q) == 0)
        return; /* q is in the subgroup: the fast path */
    if (crypto_core_ed25519_is_valid_point (q)) {
        memcpy (out, s_identity, POINT_LEN); /* n * q is the identity */
        return;
    }
    /* q = q0 + t with q0 = 8^-1 * (8 q) in the subgroup and t of order 1..8. */
    uint8_t eight[SCALAR_LEN] = { 8 }, inverse8[SCALAR_LEN], q8[POINT_LEN], q0[POINT_LEN];
    uint8_t torsion[POINT_LEN], n_torsion[POINT_LEN], n_q0[POINT_LEN];
    crypto_core_ed25519_scalar_invert (inverse8, eight);
    bool decoded = s_times_cofactor (q8, q);
    assert (decoded);
    s_mul_subgroup (q0, inverse8, q8);
    int ok = crypto_core_ed25519_sub (torsion, q, q0);
    assert (ok == 0);
    memcpy (n_torsion, s_identity, POINT_LEN);
    for (int i = 0; i < (n[0] & 7); i++) {
        ok = crypto_core_ed25519_add (n_torsion, n_torsion, torsion);
        assert (ok == 0);
    }
    s_mul_subgroup (n_q0, n, q0);
    ok = crypto_core_ed25519_add (out, n_q0, n_torsion);
    assert (ok == 0);
}

/* ECVRF_encode_to_curve_try_and_increment (RFC 9381 §5.4.1.1) with
   encode_to_curve_salt = PK_string. */
static wd_err_t
s_hash_to_curve (uint8_t h[POINT_LEN], const uint8_t pk[WD_VRF_PK_LEN], const uint8_t *alpha,
                 size_t alpha_len)
{
    static const uint8_t front[2] = { SUITE_TAI, HASH_TO_CURVE_1 };
    for (unsigned ctr = 0; ctr <= 255; ctr++) {
        uint8_t tail[2] = { (uint8_t)ctr, DOMAIN_BACK };
        uint8_t digest[crypto_hash_sha512_BYTES];
        crypto_hash_sha512_state state;
        crypto_hash_sha512_init (&state);
        crypto_hash_sha512_update (&state, front, sizeof front);
        crypto_hash_sha512_update (&state, pk, WD_VRF_PK_LEN);
        crypto_hash_sha512_update (&state, alpha, alpha_len);
        crypto_hash_sha512_update (&state, tail, sizeof tail);
        crypto_hash_sha512_final (&state, digest);
        if (s_is_canonical_encoding (digest) && s_times_cofactor (h, digest))
            return WD_OK;
    }
    return WD_ERR_VRF_NO_POINT;
}

/* ECVRF_challenge_generation (RFC 9381 §5.4.3): the first 16 bytes of
   SHA-512(suite || 0x02 || Y || H || Gamma || U || V || 0x00). */
static void
s_challenge (uint8_t c[CHALLENGE_LEN], const uint8_t *const points[5])
{
    static const uint8_t front[2] = { SUITE_TAI, CHALLENGE_2 };
    static const uint8_t back = DOMAIN_BACK;
    uint8_t digest[crypto_hash_sha512_BYTES];
    crypto_hash_sha512_state state;
    crypto_hash_sha512_init (&state);
    crypto_hash_sha512_update (&state, front, sizeof front);
    for (int i = 0; i < 5; i++)
        crypto_hash_sha512_update (&state, points[i], POINT_LEN);
    crypto_hash_sha512_update (&state, &back, 1);
    crypto_hash_sha512_final (&state, digest);
    memcpy (c, digest, CHALLENGE_LEN);
}

/* beta from a decoded Gamma (RFC 9381 §5.2). */
static void
s_gamma_to_hash (uint8_t beta[WD_VRF_BETA_LEN], const uint8_t gamma[POINT_LEN])
{
    static const uint8_t front[2] = { SUITE_TAI, PROOF_TO_HASH_3 };
    static const uint8_t back = DOMAIN_BACK;
    uint8_t cleared[POINT_LEN];
    bool decoded = s_times_cofactor (cleared, gamma);
    assert (decoded);
    crypto_hash_sha512_state state;
    crypto_hash_sha512_init (&state);
    crypto_hash_sha512_update (&state, front, sizeof front);
    crypto_hash_sha512_update (&state, cleared, POINT_LEN);
    crypto_hash_sha512_update (&state, &back, 1);
    crypto_hash_sha512_final (&state, beta);
}

/* ECVRF_decode_proof (RFC 9381 §5.4.4) without the arithmetic. */
static wd_err_t
s_decode_proof (const uint8_t *pi, size_t pi_len)
{
    if (pi_len != WD_VRF_PROOF_LEN)
        return WD_ERR_VRF_PROOF_LENGTH;
    if (!s_decode_point (pi))
        return WD_ERR_VRF_BAD_GAMMA;
    /* s < L exactly when reducing it mod L leaves it unchanged. */
    const uint8_t *s = pi + POINT_LEN + CHALLENGE_LEN;
    uint8_t wide[crypto_core_ed25519_NONREDUCEDSCALARBYTES] = { 0 }, reduced[SCALAR_LEN];
    memcpy (wide, s, SCALAR_LEN);
    crypto_core_ed25519_scalar_reduce (reduced, wide);
    if (memcmp (reduced, s, SCALAR_LEN) != 0)
        return WD_ERR_VRF_SCALAR_RANGE;
    return WD_OK;
}

wd_vrf_key_t *
wd_vrf_key_new (const uint8_t seed[WD_VRF_SEED_LEN])
{
    assert (seed);
    wd_vrf_key_t *self = sodium_malloc (sizeof *self);
    if (!self)
        return NULL;
    /* RFC 8032 §5.1.5: x is the clamped first half of SHA-512(seed). */
    uint8_t expanded[crypto_hash_sha512_BYTES];
    crypto_hash_sha512 (expanded, seed, WD_VRF_SEED_LEN);
    expanded[0] &= 248;
    expanded[31] &= 127;
    expanded[31] |= 64;
    int ok = crypto_scalarmult_ed25519_base_noclamp (self->pk, expanded);
    assert (ok == 0);
    memcpy (self->prefix, expanded + 32, sizeof self->prefix);
    memset (expanded + 32, 0, 32);
    crypto_core_ed25519_scalar_reduce (self->scalar, expanded);
    sodium_memzero (expanded, sizeof expanded);
    return self;
}

void
wd_vrf_key_destroy (wd_vrf_key_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_free (*self_p); /* sodium_free wipes before it unmaps */
        *self_p = NULL;
    }
}

const uint8_t *
wd_vrf_key_public (const wd_vrf_key_t *self)
{
    assert (self);
    return self->pk;
}

wd_err_t
wd_vrf_prove (const wd_vrf_key_t *self, const uint8_t *alpha, size_t alpha_len,
              uint8_t pi[WD_VRF_PROOF_LEN])
{
    assert (self);
    assert (alpha || alpha_len == 0);
    assert (pi);
    uint8_t h[POINT_LEN];
    wd_err_t rc = s_hash_to_curve (h, self->pk, alpha, alpha_len);
    if (rc != WD_OK)
        return rc;
    uint8_t gamma[POINT_LEN], u[POINT_LEN], v[POINT_LEN];
    s_mul_subgroup (gamma, self->scalar, h);

    /* ECVRF_nonce_generation_RFC8032 (§5.4.2.2): k = SHA-512(prefix || H) mod L. */
    uint8_t k_wide[crypto_hash_sha512_BYTES], k[SCALAR_LEN];
    crypto_hash_sha512_state state;
    crypto_hash_sha512_init (&state);
    crypto_hash_sha512_update (&state, self->prefix, sizeof self->prefix);
    crypto_hash_sha512_update (&state, h, POINT_LEN);
    crypto_hash_sha512_final (&state, k_wide);
    crypto_core_ed25519_scalar_reduce (k, k_wide);
    if (crypto_scalarmult_ed25519_base_noclamp (u, k) != 0)
        memcpy (u, s_identity, POINT_LEN); /* k = 0 */
    s_mul_subgroup (v, k, h);

    const uint8_t *points[5] = { self->pk, h, gamma, u, v };
    uint8_t c[SCALAR_LEN] = { 0 }, cx[SCALAR_LEN];
    s_challenge (c, points);
    crypto_core_ed25519_scalar_mul (cx, c, self->scalar);
    memcpy (pi, gamma, POINT_LEN);
    memcpy (pi + POINT_LEN, c, CHALLENGE_LEN);
    crypto_core_ed25519_scalar_add (pi + POINT_LEN + CHALLENGE_LEN, k, cx);

    sodium_memzero (k_wide, sizeof k_wide);
    sodium_memzero (k, sizeof k);
    sodium_memzero (cx, sizeof cx);
    sodium_memzero (&state, sizeof state);
    return WD_OK;
}

int
wd_vrf_prove_fn_key (void *key, const uint8_t *alpha, size_t alpha_len,
                     uint8_t pi[WD_VRF_PROOF_LEN])
{
    return wd_vrf_prove (key, alpha, alpha_len, pi);
}

wd_err_t
wd_vrf_verify (const uint8_t pk[WD_VRF_PK_LEN], const uint8_t *alpha, size_t alpha_len,
               const uint8_t *pi, size_t pi_len, uint8_t beta[WD_VRF_BETA_LEN])
{
    assert (pk);
    assert (alpha || alpha_len == 0);
    assert (pi || pi_len == 0);
    uint8_t c[SCALAR_LEN] = { 0 }, s[SCALAR_LEN], c_y[POINT_LEN];
    if (pi_len == WD_VRF_PROOF_LEN)
        memcpy (c, pi + POINT_LEN, CHALLENGE_LEN);
    /* ECVRF_validate_key: a decodable point that is not of small order.
       libsodium's multiplication checks exactly that for keys in the
       prime-order subgroup (every honest key), so c*Y, needed below anyway,
       doubles as the check; only a key it refuses is examined further. */
    bool key_in_subgroup =
        pi_len == WD_VRF_PROOF_LEN && crypto_scalarmult_ed25519_noclamp (c_y, c, pk) == 0;
    if (!key_in_subgroup) {
        uint8_t pk8[POINT_LEN];
        if (!s_decode_point (pk))
            return WD_ERR_VRF_BAD_KEY;
        if (s_times_cofactor (pk8, pk) && s_is_identity (pk8))
            return WD_ERR_VRF_SMALL_ORDER_KEY;
    }
    wd_err_t rc = s_decode_proof (pi, pi_len);
    if (rc != WD_OK)
        return rc;
    const uint8_t *gamma = pi;
    memcpy (s, pi + POINT_LEN + CHALLENGE_LEN, SCALAR_LEN);

    uint8_t h[POINT_LEN];
    rc = s_hash_to_curve (h, pk, alpha, alpha_len);
    if (rc != WD_OK)
        return rc;

    /* U = s*B - c*Y and V = s*H - c*Gamma. */
    uint8_t s_b[POINT_LEN], s_h[POINT_LEN], c_gamma[POINT_LEN];
    uint8_t u[POINT_LEN], v[POINT_LEN];
    if (crypto_scalarmult_ed25519_base_noclamp (s_b, s) != 0)
        memcpy (s_b, s_identity, POINT_LEN); /* s = 0 */
    if (!key_in_subgroup)
        s_mul_any (c_y, c, pk);
    s_mul_subgroup (s_h, s, h);
    s_mul_any (c_gamma, c, gamma);
    int ok = crypto_core_ed25519_sub (u, s_b, c_y);
    ok |= crypto_core_ed25519_sub (v, s_h, c_gamma);
    assert (ok == 0);

    const uint8_t *points[5] = { pk, h, gamma, u, v };
    uint8_t expected[CHALLENGE_LEN];
    s_challenge (expected, points);
    if (sodium_memcmp (expected, c, CHALLENGE_LEN) != 0)
        return WD_ERR_VRF_INVALID;
    if (beta)
        s_gamma_to_hash (beta, gamma);
    return WD_OK;
}

wd_err_t
wd_vrf_proof_to_hash (const uint8_t *pi, size_t pi_len, uint8_t beta[WD_VRF_BETA_LEN])
{
    assert (pi || pi_len == 0);
    assert (beta);
    wd_err_t rc = s_decode_proof (pi, pi_len);
    if (rc == WD_OK)
        s_gamma_to_hash (beta, pi);
    return rc;
}
