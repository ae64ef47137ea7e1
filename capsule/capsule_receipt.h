/*
 * capsule_receipt: the executor's signed receipt of one task run (DESIGN.md
 * §9, docs/PROTOCOL.md "Capsule tasks, key release and receipts").
 *
 * A receipt is the body of a wd_envelope of type "capsule-receipt" signed
 * by the executor node and committed to the ledger. Body, canonical
 * msgpack, keys in this byte order:
 *   {code: bin(32), degraded: [str], ended: uint, env: bin(32),
 *    executor_evidence: bin(32),
 *    exit: {code: int|nil, killed: str|nil, signal: int|nil},
 *    inputs: [bin(32)], outputs: [bin(32)], proof: bin(80),
 *    started: uint, task: bin(32),
 *    usage: {cpu_sys_us, cpu_user_us, peak_mem_bytes, wall_us}, v: 1}
 * code, env and inputs repeat the task's digests (inputs in the task's
 * order), outputs are the result capsule ids, executor_evidence the
 * executor's latest attestation record id (32 zero bytes if none), proof
 * the VRF proof of its selection, started / ended ms since the epoch.
 */
#ifndef CAPSULE_RECEIPT_H
#define CAPSULE_RECEIPT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"
#include "capsule_task.h"
#include "wd_envelope.h"

#define CAPSULE_RECEIPT_TYPE         "capsule-receipt"
#define CAPSULE_RECEIPT_VERSION      1
#define CAPSULE_RECEIPT_INPUTS_MAX   CAPSULE_TASK_INPUTS_MAX
#define CAPSULE_RECEIPT_OUTPUTS_MAX  16
#define CAPSULE_RECEIPT_DEGRADED_MAX 8
#define CAPSULE_RECEIPT_DEGRADED_LEN 31 /* bytes of a degraded flag, [a-z0-9-] */
#define CAPSULE_RECEIPT_PROOF_LEN    80 /* WD_VRF_PROOF_LEN */
#define CAPSULE_RECEIPT_SIGNAL_MAX   127

/* Which limit killed the program; NONE is nil in the body. */
typedef enum {
    CAPSULE_RECEIPT_KILL_NONE = 0,
    CAPSULE_RECEIPT_KILL_WALL,   /* "wall" */
    CAPSULE_RECEIPT_KILL_CPU,    /* "cpu" */
    CAPSULE_RECEIPT_KILL_MEMORY, /* "memory" */
    CAPSULE_RECEIPT_KILL_PIDS,   /* "pids" */
    CAPSULE_RECEIPT_KILL_OUTPUT, /* "output" */
    CAPSULE_RECEIPT_KILL_COUNT_
} capsule_receipt_kill_t;

/* How the program ended: an exit code (0..255) or a signal
   (1..SIGNAL_MAX), never both; neither only when a limit killed it. */
typedef struct {
    bool has_code;
    int32_t code;
    bool has_signal;
    int32_t signal;
    capsule_receipt_kill_t killed;
} capsule_receipt_exit_t;

typedef struct {
    uint64_t cpu_sys_us;
    uint64_t cpu_user_us;
    uint64_t peak_mem_bytes;
    uint64_t wall_us;
} capsule_receipt_usage_t;

/* The receipt body, a plain value. */
typedef struct {
    uint8_t task[WD_DIGEST_LEN];
    uint8_t code[WD_DIGEST_LEN];
    uint8_t env[WD_DIGEST_LEN];
    uint8_t executor_evidence[WD_DIGEST_LEN]; /* zero: none */
    size_t input_count;
    uint8_t inputs[CAPSULE_RECEIPT_INPUTS_MAX][WD_DIGEST_LEN];
    size_t output_count;
    uint8_t outputs[CAPSULE_RECEIPT_OUTPUTS_MAX][WD_DIGEST_LEN];
    uint8_t proof[CAPSULE_RECEIPT_PROOF_LEN];
    capsule_receipt_exit_t exit;
    capsule_receipt_usage_t usage;
    size_t degraded_count;
    char degraded[CAPSULE_RECEIPT_DEGRADED_MAX][CAPSULE_RECEIPT_DEGRADED_LEN + 1];
    uint64_t started; /* ms since the Unix epoch */
    uint64_t ended;   /* ms, >= started */
} capsule_receipt_t;

/* "wall", "cpu", "memory", "pids", "output"; NULL for NONE or out of
   range. Static. */
const char *
capsule_receipt_kill_name (capsule_receipt_kill_t kill);

/* The kill reason named name (len bytes), or NONE when it is not one. */
capsule_receipt_kill_t
capsule_receipt_kill_parse (const char *name, size_t len);

/* Checks the receipt's own rules, in this order: counts
   (CAPSULE_ERR_RECEIPT_TOO_MANY), exit shape and ranges
   (CAPSULE_ERR_RECEIPT_EXIT), kill reason known
   (CAPSULE_ERR_RECEIPT_KILLED), degraded flags syntax and distinct
   (CAPSULE_ERR_RECEIPT_DEGRADED), ended >= started
   (CAPSULE_ERR_RECEIPT_TIME). why (may be NULL) says which. */
int __attribute__ ((warn_unused_result))
capsule_receipt_check (const capsule_receipt_t *receipt, char *why, size_t why_len);

/* Checks a receipt against its task (task_id = the task's envelope id):
   capsule_receipt_check's reasons, then task id
   (CAPSULE_ERR_RECEIPT_TASK), code digest (CAPSULE_ERR_RECEIPT_CODE), env
   digest (CAPSULE_ERR_RECEIPT_ENV), input ids in the task's order
   (CAPSULE_ERR_RECEIPT_INPUTS). */
int __attribute__ ((warn_unused_result))
capsule_receipt_check_task (const capsule_receipt_t *receipt, const capsule_task_t *task,
                            const uint8_t task_id[WD_DIGEST_LEN], char *why, size_t why_len);

/* The canonical body, or capsule_receipt_check's reason (nothing
   allocated). */
int __attribute__ ((warn_unused_result))
capsule_receipt_encode (const capsule_receipt_t *receipt, uint8_t **out, size_t *out_len);

/* Strict decode: the codec's reasons, CAPSULE_ERR_RECEIPT_TOO_MANY before
   reading past a bound, CAPSULE_ERR_RECEIPT_EXIT for an exit code or signal
   of the wrong type or range, CAPSULE_ERR_RECEIPT_KILLED for an unknown
   kill reason, WD_ERR_BAD_VERSION, then capsule_receipt_check's reasons.
   Encoding the result gives back the input. */
int __attribute__ ((warn_unused_result))
capsule_receipt_decode (const uint8_t *body, size_t len, capsule_receipt_t *receipt);

/* Seals a receipt signed by the executor node (executor_pk) through sign;
   id (may be NULL) gets the receipt's envelope id. */
int __attribute__ ((warn_unused_result))
capsule_receipt_seal (const capsule_receipt_t *receipt, const uint8_t chain[WD_CHAIN_ID_LEN],
                      const uint8_t executor_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                      uint8_t **out, size_t *out_len, uint8_t id[WD_DIGEST_LEN]);

/* Opens a receipt: wd_envelope_open's reasons (type "capsule-receipt"),
   then capsule_receipt_decode's. executor (may be NULL) gets the signer's
   key; whether it is the task's selected executor is the caller's check. */
int __attribute__ ((warn_unused_result))
capsule_receipt_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                      capsule_receipt_t *receipt, uint8_t executor[WD_PUBKEY_LEN]);

#endif
