/*
 * Unit tests for wd_vrf: every RFC 9381 Appendix B.3 (TAI) example, the
 * extra known answers and torsion cases of the independent Python
 * implementation (tests/vectors/vrf_vectors.py), and the rejections:
 * every bit of a valid proof flipped, s + L, wrong-length proofs,
 * non-canonical and small-order points, swapped alpha and public key.
 */
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "test_support.h"
#include "wd_vrf.h"

#define RFC   "vrf_rfc9381.txt"
#define EXTRA "vrf.txt"

/* The group order L, little-endian. */
static const uint8_t s_order[32] = { 0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58,
                                     0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00,
                                     0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x10 };

typedef struct {
    uint8_t *sk, *pk, *alpha, *pi, *beta;
    size_t sk_len, pk_len, alpha_len, pi_len, beta_len;
} vector_t;

static uint8_t *
s_field (const char *file, const char *prefix, const char *field, size_t *len)
{
    char name[96];
    snprintf (name, sizeof name, "%s.%s", prefix, field);
    return test_vector_hex (file, name, len);
}

/* A vector's fields; sk only for known answers, beta only where the proof
   is valid. */
static vector_t
s_vector (const char *file, const char *prefix, bool known_answer)
{
    vector_t v = { 0 };
    if (known_answer)
        v.sk = s_field (file, prefix, "sk", &v.sk_len);
    v.pk = s_field (file, prefix, "pk", &v.pk_len);
    v.alpha = s_field (file, prefix, "alpha", &v.alpha_len);
    v.pi = s_field (file, prefix, "pi", &v.pi_len);
    if (known_answer || strstr (prefix, "accept"))
        v.beta = s_field (file, prefix, "beta", &v.beta_len);
    return v;
}

static void
s_vector_free (vector_t *v)
{
    free (v->sk);
    free (v->pk);
    free (v->alpha);
    free (v->pi);
    free (v->beta);
}

/* Prove from the seed and verify: pk, pi and beta must all match. */
static void
s_check_known_answer (const char *file, const char *prefix)
{
    vector_t v = s_vector (file, prefix, true);
    assert_int_equal (v.sk_len, WD_VRF_SEED_LEN);
    wd_vrf_key_t *key = wd_vrf_key_new (v.sk);
    assert_non_null (key);
    assert_memory_equal (wd_vrf_key_public (key), v.pk, WD_VRF_PK_LEN);

    uint8_t pi[WD_VRF_PROOF_LEN], beta[WD_VRF_BETA_LEN];
    assert_int_equal (wd_vrf_prove (key, v.alpha, v.alpha_len, pi), WD_OK);
    assert_memory_equal (pi, v.pi, WD_VRF_PROOF_LEN);
    assert_int_equal (wd_vrf_proof_to_hash (pi, sizeof pi, beta), WD_OK);
    assert_memory_equal (beta, v.beta, WD_VRF_BETA_LEN);
    memset (beta, 0, sizeof beta);
    assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, pi, sizeof pi, beta), WD_OK);
    assert_memory_equal (beta, v.beta, WD_VRF_BETA_LEN);
    wd_vrf_key_destroy (&key);
    assert_null (key);
    s_vector_free (&v);
}

static void
test_rfc9381_examples (void **state)
{
    (void)state;
    s_check_known_answer (RFC, "example16");
    s_check_known_answer (RFC, "example17");
    s_check_known_answer (RFC, "example18");
}

static void
test_python_known_answers (void **state)
{
    (void)state;
    for (int i = 0; i < 7; i++) {
        char prefix[16];
        snprintf (prefix, sizeof prefix, "honest%d", i);
        s_check_known_answer (EXTRA, prefix);
    }
}

/* RFC 9381 accepts a torsioned key or Gamma when c is a multiple of the
   torsion's order; the Python side built one accepted and one rejected
   proof of each kind. */
static void
test_torsion_components (void **state)
{
    (void)state;
    const char *cases[] = { "torsion_key", "torsion_gamma" };
    for (size_t i = 0; i < 2; i++) {
        char prefix[48];
        snprintf (prefix, sizeof prefix, "%s_accept", cases[i]);
        vector_t v = s_vector (EXTRA, prefix, false);
        uint8_t beta[WD_VRF_BETA_LEN];
        assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, v.pi, v.pi_len, beta), WD_OK);
        assert_memory_equal (beta, v.beta, WD_VRF_BETA_LEN);
        s_vector_free (&v);

        snprintf (prefix, sizeof prefix, "%s_reject", cases[i]);
        v = s_vector (EXTRA, prefix, false);
        assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, v.pi, v.pi_len, NULL),
                          WD_ERR_VRF_INVALID);
        s_vector_free (&v);
    }
}

/* Little-endian compare of a 32-byte integer with L. */
static bool
s_at_least_order (const uint8_t s[32])
{
    for (int i = 31; i >= 0; i--)
        if (s[i] != s_order[i])
            return s[i] > s_order[i];
    return true;
}

static void
test_every_bit_flipped (void **state)
{
    (void)state;
    vector_t v = s_vector (RFC, "example18", true);
    for (size_t byte = 0; byte < WD_VRF_PROOF_LEN; byte++) {
        for (int bit = 0; bit < 8; bit++) {
            uint8_t pi[WD_VRF_PROOF_LEN];
            memcpy (pi, v.pi, sizeof pi);
            pi[byte] ^= (uint8_t)(1u << bit);
            wd_err_t rc = wd_vrf_verify (v.pk, v.alpha, v.alpha_len, pi, sizeof pi, NULL);
            if (byte < 32) {
                /* Gamma: either no longer a point, or the wrong one. */
                if (rc != WD_ERR_VRF_BAD_GAMMA)
                    assert_int_equal (rc, WD_ERR_VRF_INVALID);
            } else if (byte < 48) {
                assert_int_equal (rc, WD_ERR_VRF_INVALID);
            } else {
                assert_int_equal (rc, s_at_least_order (pi + 48) ? WD_ERR_VRF_SCALAR_RANGE
                                                                 : WD_ERR_VRF_INVALID);
            }
        }
    }
    s_vector_free (&v);
}

static void
test_s_plus_order (void **state)
{
    (void)state;
    vector_t v = s_vector (RFC, "example16", true);
    uint8_t pi[WD_VRF_PROOF_LEN];
    memcpy (pi, v.pi, sizeof pi);
    unsigned carry = 0;
    for (int i = 0; i < 32; i++) {
        carry += pi[48 + i] + s_order[i];
        pi[48 + i] = (uint8_t)carry;
        carry >>= 8;
    }
    assert_int_equal (carry, 0); /* s + L still fits in 32 bytes */
    assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, pi, sizeof pi, NULL),
                      WD_ERR_VRF_SCALAR_RANGE);
    uint8_t beta[WD_VRF_BETA_LEN];
    assert_int_equal (wd_vrf_proof_to_hash (pi, sizeof pi, beta), WD_ERR_VRF_SCALAR_RANGE);
    s_vector_free (&v);
}

static void
test_wrong_lengths (void **state)
{
    (void)state;
    vector_t v = s_vector (RFC, "example17", true);
    uint8_t long_pi[WD_VRF_PROOF_LEN + 1] = { 0 }, beta[WD_VRF_BETA_LEN];
    memcpy (long_pi, v.pi, WD_VRF_PROOF_LEN);
    const size_t lengths[] = { 0, 1, 79, 81 };
    for (size_t i = 0; i < 4; i++) {
        assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, long_pi, lengths[i], NULL),
                          WD_ERR_VRF_PROOF_LENGTH);
        assert_int_equal (wd_vrf_proof_to_hash (long_pi, lengths[i], beta),
                          WD_ERR_VRF_PROOF_LENGTH);
    }
    s_vector_free (&v);
}

static void
s_expect_key_rejected (const char *name, wd_err_t expected)
{
    vector_t v = s_vector (RFC, "example16", true);
    size_t len;
    uint8_t *pk = test_vector_hex (EXTRA, name, &len);
    assert_int_equal (wd_vrf_verify (pk, v.alpha, v.alpha_len, v.pi, v.pi_len, NULL), expected);
    free (pk);
    s_vector_free (&v);
}

static void
s_expect_gamma_rejected (const char *name, wd_err_t expected)
{
    vector_t v = s_vector (RFC, "example16", true);
    size_t len;
    uint8_t *gamma = test_vector_hex (EXTRA, name, &len);
    memcpy (v.pi, gamma, 32);
    uint8_t beta[WD_VRF_BETA_LEN];
    assert_int_equal (wd_vrf_verify (v.pk, v.alpha, v.alpha_len, v.pi, v.pi_len, NULL), expected);
    if (expected == WD_ERR_VRF_BAD_GAMMA)
        assert_int_equal (wd_vrf_proof_to_hash (v.pi, v.pi_len, beta), expected);
    free (gamma);
    s_vector_free (&v);
}

static void
test_bad_points (void **state)
{
    (void)state;
    s_expect_key_rejected ("small_order.identity", WD_ERR_VRF_SMALL_ORDER_KEY);
    s_expect_key_rejected ("small_order.order4", WD_ERR_VRF_SMALL_ORDER_KEY);
    s_expect_key_rejected ("small_order.order8", WD_ERR_VRF_SMALL_ORDER_KEY);
    s_expect_key_rejected ("noncanonical.negative_zero", WD_ERR_VRF_BAD_KEY);
    s_expect_key_rejected ("noncanonical.y_plus_p", WD_ERR_VRF_BAD_KEY);
    s_expect_key_rejected ("not_on_curve", WD_ERR_VRF_BAD_KEY);

    s_expect_gamma_rejected ("noncanonical.negative_zero", WD_ERR_VRF_BAD_GAMMA);
    s_expect_gamma_rejected ("noncanonical.y_plus_p", WD_ERR_VRF_BAD_GAMMA);
    s_expect_gamma_rejected ("not_on_curve", WD_ERR_VRF_BAD_GAMMA);
    /* A small-order Gamma decodes; the proof is simply wrong. */
    s_expect_gamma_rejected ("small_order.order8", WD_ERR_VRF_INVALID);
}

static void
test_swapped_inputs (void **state)
{
    (void)state;
    vector_t a = s_vector (RFC, "example17", true);
    vector_t b = s_vector (RFC, "example18", true);
    /* a's proof with b's alpha, and under b's key. */
    assert_int_equal (wd_vrf_verify (a.pk, b.alpha, b.alpha_len, a.pi, a.pi_len, NULL),
                      WD_ERR_VRF_INVALID);
    assert_int_equal (wd_vrf_verify (b.pk, a.alpha, a.alpha_len, a.pi, a.pi_len, NULL),
                      WD_ERR_VRF_INVALID);
    /* One more byte of alpha. */
    uint8_t longer[3] = { 0xaf, 0x82, 0x00 };
    assert_int_equal (wd_vrf_verify (b.pk, longer, 3, b.pi, b.pi_len, NULL), WD_ERR_VRF_INVALID);
    s_vector_free (&a);
    s_vector_free (&b);
}

/* Proofs from fresh random keys verify, and a VRF is a function: proving the
   same alpha twice gives the same proof. */
static void
test_round_trip_random_keys (void **state)
{
    (void)state;
    for (int i = 0; i < 20; i++) {
        uint8_t seed[WD_VRF_SEED_LEN], alpha[40], pi[WD_VRF_PROOF_LEN], again[WD_VRF_PROOF_LEN];
        uint8_t beta[WD_VRF_BETA_LEN], beta_verified[WD_VRF_BETA_LEN];
        randombytes_buf (seed, sizeof seed);
        randombytes_buf (alpha, sizeof alpha);
        wd_vrf_key_t *key = wd_vrf_key_new (seed);
        assert_non_null (key);
        assert_int_equal (wd_vrf_prove_fn_key (key, alpha, (size_t)i, pi), 0);
        assert_int_equal (wd_vrf_prove (key, alpha, (size_t)i, again), WD_OK);
        assert_memory_equal (pi, again, sizeof pi);
        assert_int_equal (wd_vrf_proof_to_hash (pi, sizeof pi, beta), WD_OK);
        assert_int_equal (
            wd_vrf_verify (wd_vrf_key_public (key), alpha, (size_t)i, pi, sizeof pi, beta_verified),
            WD_OK);
        assert_memory_equal (beta, beta_verified, sizeof beta);
        wd_vrf_key_destroy (&key);
    }
    wd_vrf_key_t *none = NULL;
    wd_vrf_key_destroy (&none);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_rfc9381_examples),
        cmocka_unit_test (test_python_known_answers),
        cmocka_unit_test (test_torsion_components),
        cmocka_unit_test (test_every_bit_flipped),
        cmocka_unit_test (test_s_plus_order),
        cmocka_unit_test (test_wrong_lengths),
        cmocka_unit_test (test_bad_points),
        cmocka_unit_test (test_swapped_inputs),
        cmocka_unit_test (test_round_trip_random_keys),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
