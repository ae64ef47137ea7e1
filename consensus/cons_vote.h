/*
 * cons_vote: the signed messages of the agreement (proposal, prevote,
 * precommit), the commit certificate and the equivocation evidence built
 * from them, and the validator set they are checked against (DESIGN.md §5,
 * §8; docs/PROTOCOL.md "Agreement messages and rules").
 *
 * Every message is a signed envelope (wd_envelope.h) whose type is
 * "proposal", "prevote" or "precommit" and whose body is one canonical
 * msgpack map:
 *
 *   vote     {block: bin(32) | nil, height: uint, round: uint, v: 1}
 *   proposal {block: bin, claim: bin, height: uint, pol_round: int,
 *             round: uint, v: 1}
 *
 * A vote's block is the id of the block voted for (nil: no block). A
 * proposal carries the block itself (opaque bytes, at most the chain's
 * block_max); its id is SHA-256 of those bytes. pol_round is -1 or the
 * earlier round whose prevotes justify re-proposing the block; claim is the
 * proposer's sortition claim in VRF mode and empty in round-robin mode.
 *
 * A vote body is a function of (kind, height, round, block id) alone, so a
 * certificate or a piece of evidence only needs to keep the signatures: a
 * verifier rebuilds the bodies. This file has no state and allocates only in
 * the encoders (which return malloc'ed bytes); the decoders borrow from
 * their input and allocate nothing, so the agreement state machine can call
 * them inside its step.
 */
#ifndef CONS_VOTE_H
#define CONS_VOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_err.h"
#include "wd_codec.h"
#include "wd_envelope.h"

#define CONS_VOTE_VERSION     1
#define CONS_BLOCK_ID_LEN     32
#define CONS_CLAIM_MAX        256                   /* bytes of a sortition claim */
#define CONS_PRIORITY_LEN     32                    /* sortition priority, lower wins */
#define CONS_ROUND_MAX        ((uint32_t)INT32_MAX) /* so that pol_round fits an int32 */
#define CONS_HEIGHT_MAX       ((uint64_t)INT64_MAX)
#define CONS_VALIDATORS_MAX   1024
#define CONS_WEIGHT_TOTAL_MAX (UINT64_MAX / 4) /* 3 * total weight must not overflow */
#define CONS_VOTE_BODY_MAX    71               /* bytes of an encoded vote body, at most */

/* The three messages, in the order of the steps of a round. The values are
   also the `signed_step` of the saved state (cons_agree.h). */
typedef enum {
    CONS_PROPOSAL = 1,
    CONS_PREVOTE = 2,
    CONS_PRECOMMIT = 3,
} cons_kind_t;

/* One validator: its signing key and its voting weight (at least 1). */
typedef struct {
    uint8_t pk[WD_PUBKEY_LEN];
    uint64_t weight;
} cons_validator_t;

/* A decoded message. For a proposal, block and claim borrow from the buffer
   it was decoded from (or from the caller's memory when encoding); block_id
   is always SHA-256 of the block. For a vote, nil says "no block" and
   block_id is then all zero; pol_round, block and claim are unused. */
typedef struct {
    cons_kind_t kind;
    uint64_t height;
    uint32_t round;
    bool nil;
    uint8_t block_id[CONS_BLOCK_ID_LEN];
    int32_t pol_round;
    const uint8_t *block;
    size_t block_len;
    const uint8_t *claim;
    size_t claim_len;
} cons_msg_t;

/* Checks a signature over a 32-byte digest. Must be a pure function of its
   arguments (the simulator passes a memoising one); cons_verify_ed25519 is
   the real thing. */
typedef bool (*cons_verify_fn) (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                                const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN]);

/* crypto_sign_verify_detached over the digest; ctx is unused. */
bool
cons_verify_ed25519 (void *ctx, const uint8_t pk[WD_PUBKEY_LEN],
                     const uint8_t digest[WD_DIGEST_LEN], const uint8_t sig[WD_SIG_LEN]);

/* ---- validator set ------------------------------------------------------ */

/* Checks a validator set: 1..CONS_VALIDATORS_MAX validators, each weight at
   least 1 (WD_ERR_OUT_OF_RANGE), total at most CONS_WEIGHT_TOTAL_MAX
   (WD_ERR_OUT_OF_RANGE), no key twice (CONS_ERR_VALIDATOR_DUPLICATE). */
int __attribute__ ((warn_unused_result))
cons_validators_check (const cons_validator_t *validators, size_t count);

/* The sum of the weights (the set must have passed cons_validators_check). */
uint64_t
cons_validators_total (const cons_validator_t *validators, size_t count);

/* More than two thirds of total: 3 * weight > 2 * total, in integers. */
bool
cons_weight_quorum (uint64_t weight, uint64_t total);

/* More than one third of total (so at least one honest validator, when
   fewer than a third of the weight is faulty): 3 * weight > total. */
bool
cons_weight_one_third (uint64_t weight, uint64_t total);

/* ---- fields shared by the agreement's records ----------------------------- */

/* Writes a block id, or nil. */
void
cons_write_block_id (wd_writer_t *w, bool nil, const uint8_t id[CONS_BLOCK_ID_LEN]);

/* Reads a value that is a bin of at most max bytes, or nil (*data NULL),
   at r's position; borrowed from r's buffer. The reader has no way to be
   told of a wrong form found here, so that reason (WD_ERR_WRONG_TYPE,
   WD_ERR_OVERSIZE) goes to *err if *err is still WD_OK: decoders report the
   reader's own error first, then *err. */
void
cons_read_opt_bin (wd_reader_t *r, const uint8_t **data, size_t *len, size_t max, int *err);

/* Reads a block id or nil (bin(32) or nil) like cons_read_opt_bin; another
   length is WD_ERR_BAD_LENGTH. */
void
cons_read_block_id (wd_reader_t *r, bool *nil, uint8_t id[CONS_BLOCK_ID_LEN], int *err);

/* ---- messages ------------------------------------------------------------ */

/* The envelope type of a kind: "proposal", "prevote" or "precommit". */
const char *
cons_kind_type (cons_kind_t kind);

/* The body of msg in canonical msgpack; the caller frees it. msg must be
   well formed (asserted: kind, round and height ranges, pol_round, claim
   length). For a proposal, block_id is not read (the id follows from the
   block). */
uint8_t *
cons_msg_encode_body (const cons_msg_t *msg, size_t *len);

/* The digest a signer signs for msg under chain (the signing rule over the
   encoded body), for a driver that signs through the keys process. */
void
cons_msg_digest (const cons_msg_t *msg, const uint8_t chain[WD_CHAIN_ID_LEN],
                 uint8_t digest[WD_DIGEST_LEN]);

/* Decodes a body of the given kind. block_max bounds a proposal's block
   (WD_ERR_OVERSIZE). Reasons: the canonical-msgpack and schema codes of
   wd_codec.h, WD_ERR_BAD_VERSION, WD_ERR_OUT_OF_RANGE (height or round above
   its maximum), CONS_ERR_POL_ROUND (pol_round not in -1..round-1). Pointers
   in msg borrow from body. */
int __attribute__ ((warn_unused_result))
cons_msg_decode_body (cons_kind_t kind, const uint8_t *body, size_t len, size_t block_max,
                      cons_msg_t *msg);

/* Decodes a message envelope without checking its signature: the envelope
   (wd_envelope_decode reasons), its chain (WD_ERR_WRONG_CHAIN), its type
   (WD_ERR_UNEXPECTED_TYPE unless one of the three) and its body
   (cons_msg_decode_body reasons). env and msg borrow from buf. */
int __attribute__ ((warn_unused_result))
cons_msg_decode (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                 size_t block_max, wd_envelope_t *env, cons_msg_t *msg);

/* Checks the signature of a decoded envelope under env->from with verify
   (NULL: cons_verify_ed25519). WD_ERR_BAD_SIGNATURE when it fails. */
int __attribute__ ((warn_unused_result))
cons_msg_verify (const wd_envelope_t *env, cons_verify_fn verify, void *verify_ctx);

/* ---- commit certificate ---------------------------------------------------- */

/* One precommit signature of a certificate: the signer's index in the
   validator set and its signature over the precommit for the certificate's
   height, round and block. */
typedef struct {
    uint32_t index;
    uint8_t sig[WD_SIG_LEN];
} cons_cert_sig_t;

/* A commit certificate: the precommits of more than 2/3 of the weight for
   one block at one height and round. sigs is borrowed, ordered by strictly
   ascending index. Encoded as
   {block: bin(32), height: uint, round: uint, sigs: [[index, sig], ...], v: 1}. */
typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t block_id[CONS_BLOCK_ID_LEN];
    const cons_cert_sig_t *sigs;
    size_t count;
} cons_cert_t;

/* The certificate in canonical msgpack; the caller frees it. The
   signatures must be in strictly ascending index order (asserted). */
uint8_t *
cons_cert_encode (const cons_cert_t *cert, size_t *len);

/* Decodes a certificate into cert, copying at most sigs_max signatures into
   sigs (more: WD_ERR_OVERSIZE). Reasons: codec and schema codes,
   WD_ERR_BAD_VERSION, WD_ERR_OUT_OF_RANGE, CONS_ERR_CERT_ORDER (indices not
   strictly ascending). cert->sigs points to sigs. */
int __attribute__ ((warn_unused_result))
cons_cert_decode (const uint8_t *buf, size_t len, cons_cert_t *cert, cons_cert_sig_t *sigs,
                  size_t sigs_max);

/* Checks a certificate against a validator set and chain: every index is in
   the set (CONS_ERR_UNKNOWN_VALIDATOR), the indices ascend
   (CONS_ERR_CERT_ORDER), every signature verifies as a precommit for the
   certificate's height, round and block (WD_ERR_BAD_SIGNATURE), and the
   signers hold more than 2/3 of the weight (CONS_ERR_CERT_WEIGHT). */
int __attribute__ ((warn_unused_result))
cons_cert_verify (const cons_cert_t *cert, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const cons_validator_t *validators, size_t count, cons_verify_fn verify,
                  void *verify_ctx);

/* ---- equivocation evidence ----------------------------------------------- */

/* Two votes of one kind by one validator at one height and round for
   different blocks (one of them may be nil). In canonical form vote a sorts
   before vote b (nil first, then by block id), so one equivocation has one
   encoding:
   {block_a: bin(32) | nil, block_b: bin(32) | nil, height: uint, round: uint,
    sig_a: bin(64), sig_b: bin(64), type: str, v: 1, validator: bin(32)}. */
typedef struct {
    cons_kind_t kind; /* CONS_PREVOTE or CONS_PRECOMMIT */
    uint64_t height;
    uint32_t round;
    uint8_t validator[WD_PUBKEY_LEN];
    bool nil_a, nil_b;
    uint8_t block_a[CONS_BLOCK_ID_LEN], block_b[CONS_BLOCK_ID_LEN];
    uint8_t sig_a[WD_SIG_LEN], sig_b[WD_SIG_LEN];
} cons_evidence_t;

/* Puts the two votes of ev in canonical order (swaps a and b if needed). */
void
cons_evidence_normalise (cons_evidence_t *ev);

/* The evidence in canonical msgpack (normalised first); caller frees. */
uint8_t *
cons_evidence_encode (const cons_evidence_t *ev, size_t *len);

/* Decodes evidence. Reasons: codec and schema codes, WD_ERR_BAD_VERSION,
   WD_ERR_OUT_OF_RANGE, WD_ERR_BAD_VALUE (type not a vote type),
   CONS_ERR_EVIDENCE (the votes do not differ, or are not in canonical
   order). */
int __attribute__ ((warn_unused_result))
cons_evidence_decode (const uint8_t *buf, size_t len, cons_evidence_t *ev);

/* Checks that both signatures verify under ev->validator for their votes
   (WD_ERR_BAD_SIGNATURE) and that the votes differ (CONS_ERR_EVIDENCE). */
int __attribute__ ((warn_unused_result))
cons_evidence_verify (const cons_evidence_t *ev, const uint8_t chain[WD_CHAIN_ID_LEN],
                      cons_verify_fn verify, void *verify_ctx);

#endif
