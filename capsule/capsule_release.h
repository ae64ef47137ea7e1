/*
 * capsule_release: the signed messages of attestation-gated key release
 * (DESIGN.md §9, docs/PROTOCOL.md "Capsule tasks, key release and
 * receipts").
 *
 * The executor node asks each input's holder node for the capsule's content
 * key with a "capsule-release-req" envelope it signs:
 *   {capsule: bin(32), executor_curve: bin(32), proof: bin(80),
 *    task: bin(32), v: 1}
 * (proof = the VRF proof of its selection as executor for the task). The
 * holder checks the executor's ledger status and the capsule's policy and
 * answers with an envelope it signs, one of two types:
 *   "capsule-release"         {capsule, task, v: 1, wrap: bin(80)}
 *        wrap = crypto_box_seal(content key, executor_curve)
 *   "capsule-release-refused" {capsule, code: int, reason: str, task, v: 1}
 *        code = the holder's result code (negative), reason = its text
 * Two types rather than one with optional fields: each decoder stays
 * strict, and a grant's signature can never be read as a refusal's.
 */
#ifndef CAPSULE_RELEASE_H
#define CAPSULE_RELEASE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"
#include "wd_envelope.h"

#define CAPSULE_RELEASE_REQ_TYPE     "capsule-release-req"
#define CAPSULE_RELEASE_GRANT_TYPE   "capsule-release"
#define CAPSULE_RELEASE_REFUSED_TYPE "capsule-release-refused"
#define CAPSULE_RELEASE_VERSION      1
#define CAPSULE_RELEASE_PROOF_LEN    80       /* WD_VRF_PROOF_LEN */
#define CAPSULE_RELEASE_WRAP_LEN     80       /* crypto_box_SEALBYTES + 32-byte key */
#define CAPSULE_RELEASE_REASON_MAX   255      /* bytes of a refusal's reason */
#define CAPSULE_RELEASE_CODE_MIN     (-99999) /* refusal codes: MIN .. -1 */

/* The executor's request. */
typedef struct {
    uint8_t capsule[WD_DIGEST_LEN];           /* the input capsule's id */
    uint8_t executor_curve[WD_PUBKEY_LEN];    /* X25519 key to wrap the content key to */
    uint8_t proof[CAPSULE_RELEASE_PROOF_LEN]; /* VRF proof of the executor's selection */
    uint8_t task[WD_DIGEST_LEN];              /* task id */
} capsule_release_req_t;

typedef enum {
    CAPSULE_RELEASE_GRANTED = 1, /* "capsule-release" */
    CAPSULE_RELEASE_REFUSED,     /* "capsule-release-refused" */
} capsule_release_kind_t;

/* The holder's answer: a grant (wrap set) or a refusal (code, reason set);
   the other fields are zero. */
typedef struct {
    capsule_release_kind_t kind;
    uint8_t capsule[WD_DIGEST_LEN];
    uint8_t task[WD_DIGEST_LEN];
    uint8_t wrap[CAPSULE_RELEASE_WRAP_LEN];      /* granted */
    int32_t code;                                /* refused: CODE_MIN .. -1 */
    char reason[CAPSULE_RELEASE_REASON_MAX + 1]; /* refused: 1..255 bytes, no control chars */
} capsule_release_answer_t;

/* ---- request ------------------------------------------------------------- */

int __attribute__ ((warn_unused_result))
capsule_release_req_encode (const capsule_release_req_t *req, uint8_t **out, size_t *out_len);

/* Strict decode: the codec's reasons and WD_ERR_BAD_VERSION. */
int __attribute__ ((warn_unused_result))
capsule_release_req_decode (const uint8_t *body, size_t len, capsule_release_req_t *req);

/* Seals a request signed by the executor node (executor_pk) through sign. */
int __attribute__ ((warn_unused_result))
capsule_release_req_seal (const capsule_release_req_t *req, const uint8_t chain[WD_CHAIN_ID_LEN],
                          const uint8_t executor_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                          uint8_t **out, size_t *out_len);

/* Opens a request: wd_envelope_open's reasons (type "capsule-release-req"),
   then the body's. executor (may be NULL) gets the signer's key. */
int __attribute__ ((warn_unused_result))
capsule_release_req_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                          capsule_release_req_t *req, uint8_t executor[WD_PUBKEY_LEN]);

/* ---- answer -------------------------------------------------------------- */

/* The body of the answer's kind. A refusal whose code is not in
   CODE_MIN..-1 or whose reason is empty, too long or holds a control
   character fails with CAPSULE_ERR_RELEASE_REFUSAL (nothing allocated). */
int __attribute__ ((warn_unused_result))
capsule_release_answer_encode (const capsule_release_answer_t *answer, uint8_t **out,
                               size_t *out_len);

/* Strict decode of an answer body of the given kind: the codec's reasons,
   WD_ERR_BAD_VERSION, CAPSULE_ERR_RELEASE_REFUSAL. */
int __attribute__ ((warn_unused_result))
capsule_release_answer_decode (capsule_release_kind_t kind, const uint8_t *body, size_t len,
                               capsule_release_answer_t *answer);

/* The envelope type of a kind. Static. */
const char *
capsule_release_answer_type (capsule_release_kind_t kind);

/* Seals an answer signed by the holder node (holder_pk) through sign, with
   the envelope type of answer->kind. */
int __attribute__ ((warn_unused_result))
capsule_release_answer_seal (const capsule_release_answer_t *answer,
                             const uint8_t chain[WD_CHAIN_ID_LEN],
                             const uint8_t holder_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                             void *sign_ctx, uint8_t **out, size_t *out_len);

/* Opens an answer of either type: wd_envelope_open's reasons (a type other
   than the two is WD_ERR_UNEXPECTED_TYPE), then the body's. holder (may be
   NULL) gets the signer's key; the caller checks it is the input's holder. */
int __attribute__ ((warn_unused_result))
capsule_release_answer_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                             capsule_release_answer_t *answer, uint8_t holder[WD_PUBKEY_LEN]);

/* WD_OK when the answer is for the request's capsule and task, else
   CAPSULE_ERR_RELEASE_MISMATCH. */
int __attribute__ ((warn_unused_result))
capsule_release_answer_matches (const capsule_release_req_t *req,
                                const capsule_release_answer_t *answer);

#endif
