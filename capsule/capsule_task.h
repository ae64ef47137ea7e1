/*
 * capsule_task: the signed task record of capsule execution (DESIGN.md §9,
 * docs/PROTOCOL.md "Capsule tasks, key release and receipts").
 *
 * A task is the body of a wd_envelope of type "capsule-task", signed by the
 * submitter (a user's Ed25519 key or a node). It names the code and the
 * environment capsules by id, the program to run (entry), the input capsules
 * with the node holding each one and the file name the program sees under
 * /in, the resource limits, the X25519 keys the outputs are sealed to, a
 * random nonce and the submission time. The task id is the envelope id
 * (SHA-256 of the whole envelope bytes).
 *
 * Body, canonical msgpack, keys in this byte order:
 *   {code: bin(32), entry: str, env: bin(32),
 *    inputs: [{holder: bin(32), id: bin(32), name: str}],
 *    limits: {cpu_ms, mem_bytes, output_bytes, pids, wall_ms},
 *    nonce: bin(16), recipients: [bin(32)], submitted: uint, v: 1}
 *
 * The structs are plain values with fixed arrays: no allocation rules.
 */
#ifndef CAPSULE_TASK_H
#define CAPSULE_TASK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"
#include "wd_envelope.h"

#define CAPSULE_TASK_TYPE           "capsule-task" /* envelope type */
#define CAPSULE_TASK_VERSION        1              /* body "v" */
#define CAPSULE_TASK_INPUTS_MAX     16
#define CAPSULE_TASK_RECIPIENTS_MAX 16
#define CAPSULE_TASK_NAME_MAX       64  /* bytes of an input file name */
#define CAPSULE_TASK_ENTRY_MAX      255 /* bytes of the entry path */
#define CAPSULE_TASK_NONCE_LEN      16

/* Bounds of each limit: every limit is at least 1 (its MIN for mem_bytes)
   and at most its MAX. */
#define CAPSULE_TASK_CPU_MS_MAX       86400000ULL   /* 24 h of CPU time */
#define CAPSULE_TASK_WALL_MS_MAX      86400000ULL   /* 24 h */
#define CAPSULE_TASK_MEM_BYTES_MIN    (1ULL << 20)  /* 1 MiB */
#define CAPSULE_TASK_MEM_BYTES_MAX    (64ULL << 30) /* 64 GiB */
#define CAPSULE_TASK_OUTPUT_BYTES_MAX (4ULL << 30)  /* 4 GiB (the /out tmpfs) */
#define CAPSULE_TASK_PIDS_MAX         4096

/* One input capsule: the node that holds it (and releases its key), its
   capsule id, and the file name the program sees (/in/<name>). */
typedef struct {
    uint8_t holder[WD_DIGEST_LEN];
    uint8_t id[WD_DIGEST_LEN];
    char name[CAPSULE_TASK_NAME_MAX + 1];
} capsule_task_input_t;

/* Resource limits, body key order. output_bytes is the size of /out. */
typedef struct {
    uint64_t cpu_ms;
    uint64_t mem_bytes;
    uint64_t output_bytes;
    uint64_t pids;
    uint64_t wall_ms;
} capsule_task_limits_t;

/* The task body, a plain value. */
typedef struct {
    uint8_t code[WD_DIGEST_LEN];            /* code capsule id */
    char entry[CAPSULE_TASK_ENTRY_MAX + 1]; /* program path: in the env or /code/<name> */
    uint8_t env[WD_DIGEST_LEN];             /* environment capsule id */
    size_t input_count;
    capsule_task_input_t inputs[CAPSULE_TASK_INPUTS_MAX];
    capsule_task_limits_t limits;
    uint8_t nonce[CAPSULE_TASK_NONCE_LEN];
    size_t recipient_count;                                         /* at least 1 */
    uint8_t recipients[CAPSULE_TASK_RECIPIENTS_MAX][WD_PUBKEY_LEN]; /* X25519 keys */
    uint64_t submitted;                                             /* ms since the Unix epoch */
} capsule_task_t;

/* ---- rules ------------------------------------------------------------------ */

/* True when name is an input file name: 1..CAPSULE_TASK_NAME_MAX bytes, no
   '/', no control character (below 0x20, 0x7f), neither "." nor "..". */
bool
capsule_task_name_valid (const char *name);

/* True when entry is an absolute path of 2..CAPSULE_TASK_ENTRY_MAX bytes
   whose components are non-empty, neither "." nor "..", without control
   characters, and with no trailing '/'. */
bool
capsule_task_entry_valid (const char *entry);

/* Checks the limits: CAPSULE_ERR_TASK_LIMIT_ZERO when one is 0 (or
   mem_bytes is below its MIN), CAPSULE_ERR_TASK_LIMIT_HIGH when one is
   above its MAX. why (may be NULL) names the limit. */
int __attribute__ ((warn_unused_result))
capsule_task_limits_check (const capsule_task_limits_t *limits, char *why, size_t why_len);

/* Checks every rule of a task, in this order: entry
   (CAPSULE_ERR_TASK_ENTRY), counts (CAPSULE_ERR_TASK_TOO_MANY), each input
   name (CAPSULE_ERR_TASK_INPUT_NAME), input names distinct
   (CAPSULE_ERR_TASK_INPUT_DUPLICATE), limits (as above), at least one
   recipient (CAPSULE_ERR_TASK_NO_RECIPIENT), recipients distinct
   (CAPSULE_ERR_TASK_RECIPIENT_DUPLICATE). why (may be NULL) says which. */
int __attribute__ ((warn_unused_result))
capsule_task_check (const capsule_task_t *task, char *why, size_t why_len);

/* ---- encoding --------------------------------------------------------------- */

/* The canonical body. Returns WD_OK and *out (caller frees), or
   capsule_task_check's reason (nothing allocated). */
int __attribute__ ((warn_unused_result))
capsule_task_encode (const capsule_task_t *task, uint8_t **out, size_t *out_len);

/* Decodes a body strictly: the codec's reasons (canonical form, missing or
   unknown keys, types, lengths, WD_ERR_OVERSIZE for a string far beyond its
   bound), CAPSULE_ERR_TASK_TOO_MANY before reading past 16 inputs or
   recipients, WD_ERR_BAD_VERSION, then capsule_task_check's reasons.
   Encoding the result gives back the input. *task is zeroed on failure. */
int __attribute__ ((warn_unused_result))
capsule_task_decode (const uint8_t *body, size_t len, capsule_task_t *task);

/* ---- envelopes ------------------------------------------------------------- */

/* Seals the task in a "capsule-task" envelope on chain, signed by
   submitter_pk through sign. *out (caller frees) gets the envelope, id (may
   be NULL) the task id. Returns WD_OK, capsule_task_check's reason or the
   signer's error. */
int __attribute__ ((warn_unused_result))
capsule_task_seal (const capsule_task_t *task, const uint8_t chain[WD_CHAIN_ID_LEN],
                   const uint8_t submitter_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                   uint8_t **out, size_t *out_len, uint8_t id[WD_DIGEST_LEN]);

/* A wd_sign_fn over an in-memory Ed25519 secret key: ctx points to the
   64-byte libsodium secret key (crypto_sign_SECRETKEYBYTES; keep it in
   sodium_malloc memory). Always returns WD_OK. */
int
capsule_sign_secret_key (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN]);

/* capsule_task_seal signed with the 64-byte Ed25519 secret key sk (the
   public key is taken from it), for capsule-submit and tests. */
int __attribute__ ((warn_unused_result))
capsule_task_seal_secret (const capsule_task_t *task, const uint8_t chain[WD_CHAIN_ID_LEN],
                          const uint8_t sk[64], uint8_t **out, size_t *out_len,
                          uint8_t id[WD_DIGEST_LEN]);

/* Opens a task envelope: wd_envelope_open's reasons (codec, chain, type
   "capsule-task", signature), then capsule_task_decode's. submitter (may be
   NULL) gets the signer's key, id (may be NULL) the task id. */
int __attribute__ ((warn_unused_result))
capsule_task_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                   capsule_task_t *task, uint8_t submitter[WD_PUBKEY_LEN],
                   uint8_t id[WD_DIGEST_LEN]);

#endif
