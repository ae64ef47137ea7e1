/*
 * cons_sortition: Algorand-style cryptographic sortition, the way Warden
 * picks what must be unpredictable yet checkable by anyone: the proposer of
 * each round, the verifiers of each evidence record and the executor of each
 * capsule task (DESIGN.md §8, docs/PROTOCOL.md "Sortition").
 *
 * A node with weight w out of a total W proves the VRF (wd_vrf.h) on a
 * fixed 128-byte alpha built from the chain, the role, a seed from a
 * committed block, the height, the round and a subject. Its output beta,
 * read as a uniform number, picks how many of the node's w sub-users are
 * selected: j follows Binomial(w, tau / W), where tau is the role's
 * expected count. The node's priority is the lowest SHA-256(beta || i) over
 * its selected sub-users i = 1..j; lowest wins. The claim {j, priority, pi}
 * is what the node publishes, and cons_sortition_verify is what every other
 * node runs on it.
 *
 * The count is computed with integers only (a 128-bit-mantissa software
 * float that always truncates), so every machine and every implementation
 * that follows the documented steps gets the same j bit for bit; the
 * distribution differs from the exact binomial by a total variation of at
 * most about 2^-62 (docs/PROTOCOL.md states the bound). No floating point,
 * no libm.
 */
#ifndef CONS_SORTITION_H
#define CONS_SORTITION_H

#include <stdint.h>

#include "cons_err.h"
#include "wd_codec.h"
#include "wd_vrf.h"

#define CONS_SORTITION_ID_LEN       32
#define CONS_SORTITION_ALPHA_LEN    128
#define CONS_SORTITION_PRIORITY_LEN 32
/* Largest expected count a role may ask for. */
#define CONS_SORTITION_TAU_MAX 4096
/* The search for j stops at min(w, 2 tau + 64): the last interval takes the
   binomial tail beyond it, whose mass is below 2^-117 for every allowed
   tau. Except when tau >= W (then j = w <= W <= tau), j is at most
   2 tau + 64, so no count exceeds this. */
#define CONS_SORTITION_COUNT_MAX (2 * CONS_SORTITION_TAU_MAX + 64)

typedef enum {
    CONS_ROLE_PROPOSER = 1,
    CONS_ROLE_VERIFIER = 2,
    CONS_ROLE_EXECUTOR = 3,
} cons_role_t;

/* What a sortition is about. Plain values, filled in by the caller. */
typedef struct {
    uint8_t chain_id[CONS_SORTITION_ID_LEN];
    uint8_t seed[CONS_SORTITION_ID_LEN]; /* from a committed block */
    cons_role_t role;
    uint64_t height;
    uint32_t round;
    /* The evidence record id (verifier) or capsule task id (executor); all
       zero for the proposer. */
    uint8_t subject[CONS_SORTITION_ID_LEN];
    uint64_t weight;       /* w: 0 <= w <= W */
    uint64_t total_weight; /* W: >= 1 */
    uint64_t tau;          /* 1 <= tau <= CONS_SORTITION_TAU_MAX */
} cons_sortition_input_t;

/* A node's claim to have been selected: a plain value (it travels in
   proposals, committee replies and receipts; see the wire form below). */
typedef struct {
    uint64_t count; /* j: how many of the node's sub-users were selected */
    uint8_t priority[CONS_SORTITION_PRIORITY_LEN];
    uint8_t proof[WD_VRF_PROOF_LEN]; /* pi */
} cons_sortition_claim_t;

/* Checks the input against the limits: CONS_ERR_SORTITION_ROLE,
   CONS_ERR_SORTITION_SUBJECT (a proposer input with a non-zero subject),
   CONS_ERR_SORTITION_WEIGHT (W = 0 or w > W), CONS_ERR_SORTITION_TAU
   (tau = 0 or above CONS_SORTITION_TAU_MAX), or 0. */
int __attribute__ ((warn_unused_result)) cons_sortition_check (const cons_sortition_input_t *in);

/* Writes the 128-byte VRF input: "warden/1" 0x00 "sortition" 0x00 ||
   chain_id || role (1 byte) || seed || height (u64 BE) || round (u32 BE) ||
   subject. Returns 0, CONS_ERR_SORTITION_ROLE or CONS_ERR_SORTITION_SUBJECT
   (weights are not part of alpha and are not checked). */
int __attribute__ ((warn_unused_result))
cons_sortition_alpha (const cons_sortition_input_t *in, uint8_t alpha[CONS_SORTITION_ALPHA_LEN]);

/* The pure math: *count = j for weight w of total W, expected count tau,
   and VRF output beta (only beta[0..16) is read, as a big-endian number U;
   j is the index of the fixed-point CDF interval holding U / 2^128).
   CONS_ERR_SORTITION_WEIGHT or CONS_ERR_SORTITION_TAU on inputs out of
   range, else 0. */
int __attribute__ ((warn_unused_result))
cons_sortition_count (uint64_t weight, uint64_t total_weight, uint64_t tau,
                      const uint8_t beta[WD_VRF_BETA_LEN], uint64_t *count);

/* The lowest SHA-256(beta || i as u64 BE) over i = 1..count; 32 bytes of
   0xff when count is 0 (never a winning priority). */
void
cons_sortition_priority (const uint8_t beta[WD_VRF_BETA_LEN], uint64_t count,
                         uint8_t priority[CONS_SORTITION_PRIORITY_LEN]);

/* Orders priorities: negative when a wins over b (a is lower), 0 when
   equal, positive when b wins. Priorities compare as big-endian numbers. */
int
cons_sortition_priority_cmp (const uint8_t a[CONS_SORTITION_PRIORITY_LEN],
                             const uint8_t b[CONS_SORTITION_PRIORITY_LEN]);

/* Runs the sortition for this node: builds alpha, asks prove (with
   prove_ctx; e.g. wd_vrf_prove_fn_key with a wd_vrf_key_t, or a call to the
   keys process) for pi, and fills *claim. Returns 0 with claim->count = 0
   when the node is not selected (the claim is then not to be published),
   an input code from cons_sortition_check, the prover's negative code, or
   a WD_ERR_VRF_* code when the prover's pi does not decode. The proof is
   not verified here: a prover that returns a wrong pi yields a claim that
   cons_sortition_verify rejects. */
int __attribute__ ((warn_unused_result))
cons_sortition_prove (const cons_sortition_input_t *in, wd_vrf_prove_fn prove, void *prove_ctx,
                      cons_sortition_claim_t *claim);

/* Checks another node's claim from its VRF public key and the same input
   (with that node's weight). Checks, in this order: the input
   (cons_sortition_check codes); a zero count (CONS_ERR_SORTITION_NOT_SELECTED:
   a claim is always a selection); the proof against pk and alpha (the
   WD_ERR_VRF_* reason from wd_vrf_verify); the count recomputed from beta
   (CONS_ERR_SORTITION_COUNT); the priority (CONS_ERR_SORTITION_PRIORITY).
   Returns 0 when the claim holds. */
int __attribute__ ((warn_unused_result))
cons_sortition_verify (const cons_sortition_input_t *in, const uint8_t pk[WD_VRF_PK_LEN],
                       const cons_sortition_claim_t *claim);

/* Wire form: the canonical msgpack map {"count": uint, "priority": bin 32,
   "proof": bin 80}. Writes it as one value into w. */
void
cons_sortition_claim_write (const cons_sortition_claim_t *claim, wd_writer_t *w);

/* Bytes of the wire form at most (a count of up to 64 bits). */
#define CONS_SORTITION_CLAIM_MAX 147

/* The wire form alone into out; returns its length. */
size_t
cons_sortition_claim_encode (const cons_sortition_claim_t *claim,
                             uint8_t out[CONS_SORTITION_CLAIM_MAX]);

/* Reads a claim written by cons_sortition_claim_write at the reader's
   position (so records can embed it), with the reader's sticky error:
   WD_ERR_MISSING_KEY / WD_ERR_UNKNOWN_KEY, WD_ERR_WRONG_TYPE,
   WD_ERR_BAD_LENGTH, WD_ERR_OUT_OF_RANGE (count above
   CONS_SORTITION_COUNT_MAX). A count of 0 decodes (verify rejects it).
   Returns false once the reader holds an error. */
bool
cons_sortition_claim_read (wd_reader_t *r, cons_sortition_claim_t *claim);

/* Decodes a claim that is the whole of buf (canonical-msgpack errors from
   wd_codec_check, then the codes of cons_sortition_claim_read,
   WD_ERR_TRAILING). *claim is zeroed on failure. */
wd_err_t __attribute__ ((warn_unused_result))
cons_sortition_claim_decode (const uint8_t *buf, size_t len, cons_sortition_claim_t *claim);

#endif
