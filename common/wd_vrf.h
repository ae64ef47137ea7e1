/*
 * wd_vrf: the verifiable random function ECVRF-EDWARDS25519-SHA512-TAI of
 * RFC 9381 (suite 0x03), built on libsodium's public low-level API.
 *
 * A VRF is a keyed hash whose output (beta, 64 bytes) only the holder of the
 * secret key can compute, and whose correctness anyone can check from the
 * public key and a proof (pi, 80 bytes). Warden uses it for everything that
 * must be unpredictable yet auditable: proposers, verifier committees and
 * capsule executors (cons_sortition). The VRF key is separate from the
 * identity key (DESIGN.md §5) and is derived from a 32-byte seed exactly as
 * an Ed25519 key is (RFC 8032 §5.1.5), so the public key equals the Ed25519
 * public key of the same seed.
 */
#ifndef WD_VRF_H
#define WD_VRF_H

#include <stddef.h>
#include <stdint.h>

#include "wd_err.h"

#define WD_VRF_SEED_LEN  32
#define WD_VRF_PK_LEN    32
#define WD_VRF_PROOF_LEN 80 /* Gamma (32) || c (16) || s (32) */
#define WD_VRF_BETA_LEN  64

/* A VRF secret key in sodium_malloc memory. */
typedef struct wd_vrf_key wd_vrf_key_t;

/* Derives the key pair from a 32-byte seed. The caller keeps (and wipes) its
   copy of the seed. NULL when out of memory. */
wd_vrf_key_t *
wd_vrf_key_new (const uint8_t seed[WD_VRF_SEED_LEN]);

/* Wipes and frees the key; sets *self_p to NULL. Safe on NULL. */
void
wd_vrf_key_destroy (wd_vrf_key_t **self_p);

/* The public key. Borrowed: valid while the key lives. */
const uint8_t *
wd_vrf_key_public (const wd_vrf_key_t *self);

/* pi = ECVRF_prove(SK, alpha). Fails only when no counter value in 0..255
   hashes alpha to a curve point (WD_ERR_VRF_NO_POINT; probability about
   2^-256). */
wd_err_t __attribute__ ((warn_unused_result))
wd_vrf_prove (const wd_vrf_key_t *self, const uint8_t *alpha, size_t alpha_len,
              uint8_t pi[WD_VRF_PROOF_LEN]);

/* ECVRF_verify with validate_key: checks pi against the public key and alpha
   and, when valid, writes beta (beta may be NULL). Reasons:
   WD_ERR_VRF_PROOF_LENGTH, WD_ERR_VRF_BAD_KEY, WD_ERR_VRF_SMALL_ORDER_KEY,
   WD_ERR_VRF_BAD_GAMMA, WD_ERR_VRF_SCALAR_RANGE, WD_ERR_VRF_NO_POINT,
   WD_ERR_VRF_INVALID. */
wd_err_t __attribute__ ((warn_unused_result))
wd_vrf_verify (const uint8_t pk[WD_VRF_PK_LEN], const uint8_t *alpha, size_t alpha_len,
               const uint8_t *pi, size_t pi_len, uint8_t beta[WD_VRF_BETA_LEN]);

/* beta = ECVRF_proof_to_hash(pi). This decodes pi but does not verify it:
   use it on proofs you made or have verified. WD_ERR_VRF_PROOF_LENGTH,
   WD_ERR_VRF_BAD_GAMMA or WD_ERR_VRF_SCALAR_RANGE when pi does not decode. */
wd_err_t __attribute__ ((warn_unused_result))
wd_vrf_proof_to_hash (const uint8_t *pi, size_t pi_len, uint8_t beta[WD_VRF_BETA_LEN]);

/* The shape of a prover for code that must not hold the key itself (the
   engine asks the keys process): writes pi for alpha, returns 0 or a
   negative wd_err_t. */
typedef int (*wd_vrf_prove_fn) (void *ctx, const uint8_t *alpha, size_t alpha_len,
                                uint8_t pi[WD_VRF_PROOF_LEN]);

/* wd_vrf_prove with a void * key, as a wd_vrf_prove_fn. */
int
wd_vrf_prove_fn_key (void *key, const uint8_t *alpha, size_t alpha_len,
                     uint8_t pi[WD_VRF_PROOF_LEN]);

#endif
