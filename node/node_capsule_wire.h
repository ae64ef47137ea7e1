/*
 * node_capsule_wire: the bodies node_capsule speaks (docs/PROTOCOL.md
 * "Capsules on the mesh", "Capsule control requests", "Capsule sandbox
 * messages"): the ledger records that drive a task (post, claim, failed),
 * the channel 5 messages between nodes (capsule head, chunked fetch, key
 * release), the control-socket bodies capsule-submit exchanges with the
 * engine, and the parent<->engine sandbox messages. Every decoder is strict
 * (canonical msgpack, exact keys, bounded lengths) and returns the codec's
 * reason or WD_ERR_BAD_VERSION / WD_ERR_BAD_VALUE.
 *
 * Encoders return a malloc'ed body (caller frees) and abort on
 * out-of-memory like the codec's writer. Decoded byte strings borrow from
 * the body unless the field is a fixed-size array.
 */
#ifndef NODE_CAPSULE_WIRE_H
#define NODE_CAPSULE_WIRE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_format.h"
#include "capsule_task.h"
#include "cons_sortition.h"
#include "wd_cert.h"
#include "wd_err.h"

/* Record types on the ledger (node-signed envelopes, gossiped). */
#define NODE_CAPSULE_POST_TYPE   "capsule-post"
#define NODE_CAPSULE_CLAIM_TYPE  "capsule-claim"
#define NODE_CAPSULE_FAILED_TYPE "capsule-failed"

#define NODE_CAPSULE_POLICIES_MAX (2 + CAPSULE_TASK_INPUTS_MAX) /* code, env, inputs */
#define NODE_CAPSULE_POLICY_MAX   8192                          /* bytes of one policy map */
#define NODE_CAPSULE_TASK_MAX     16384                         /* bytes of a task envelope */
#define NODE_CAPSULE_REFUSALS_MAX NODE_CAPSULE_POLICIES_MAX
#define NODE_CAPSULE_ANSWER_MAX   2048 /* bytes of a release answer envelope */
#define NODE_CAPSULE_REQUEST_MAX  2048 /* bytes of a release request envelope */
#define NODE_CAPSULE_REASON_MAX   255
#define NODE_CAPSULE_CHUNK        (256 * 1024) /* bytes of one fetched chunk, at most */
#define NODE_CAPSULE_STDERR_MAX   4096
#define NODE_CAPSULE_ARGV_MAX     16
#define NODE_CAPSULE_ARG_MAX      1024
#define NODE_CAPSULE_NODES_MAX    256

/* ---- ledger records --------------------------------------------------- */

/* "capsule-post" {policies: [bin], task: bin, v: 1}: the task envelope as
   the user signed it, and the release policies of its capsules as their
   holders reported them (code, env, then the inputs in task order), each
   the canonical policy map. */
typedef struct {
    const uint8_t *task;
    size_t task_len;
    size_t policy_count;
    const uint8_t *policies[NODE_CAPSULE_POLICIES_MAX];
    size_t policy_lens[NODE_CAPSULE_POLICIES_MAX];
} node_capsule_post_t;

uint8_t *
node_capsule_encode_post (const node_capsule_post_t *post, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_post (const uint8_t *body, size_t len, node_capsule_post_t *post);

/* "capsule-claim" {claim: {count, priority, proof}, height: uint, round:
   uint, task: bin(32), v: 1}: the signer's sortition claim to execute task
   (height = the block that committed the post). */
typedef struct {
    uint8_t task[WD_DIGEST_LEN];
    uint64_t height;
    uint32_t round;
    cons_sortition_claim_t claim;
} node_capsule_claim_t;

uint8_t *
node_capsule_encode_claim (const node_capsule_claim_t *claim, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_claim (const uint8_t *body, size_t len, node_capsule_claim_t *claim);

/* "capsule-failed" {code: int, reason: str, refusals: [bin], task: bin(32),
   v: 1}: the selected executor gives the task up; refusals are the
   holders' signed "capsule-release-refused" envelopes, when that is why. */
typedef struct {
    uint8_t task[WD_DIGEST_LEN];
    int32_t code;
    char reason[NODE_CAPSULE_REASON_MAX + 1];
    size_t refusal_count;
    const uint8_t *refusals[NODE_CAPSULE_REFUSALS_MAX];
    size_t refusal_lens[NODE_CAPSULE_REFUSALS_MAX];
} node_capsule_failed_t;

uint8_t *
node_capsule_encode_failed (const node_capsule_failed_t *failed, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_failed (const uint8_t *body, size_t len, node_capsule_failed_t *failed);

/* ---- channel 5 -------------------------------------------------------- */

/* A channel 5 body is one type byte followed by one canonical msgpack map. */
typedef enum {
    NODE_CAPSULE_MSG_HEAD_REQ = 1,    /* {id, rid} */
    NODE_CAPSULE_MSG_HEAD = 2,        /* {id, kind, owner, policy, rid, size} */
    NODE_CAPSULE_MSG_FETCH_REQ = 3,   /* {id, offset, rid} */
    NODE_CAPSULE_MSG_CHUNK = 4,       /* {data, id, offset, rid, total} */
    NODE_CAPSULE_MSG_RELEASE_REQ = 5, /* {request, rid} */
    NODE_CAPSULE_MSG_RELEASE = 6,     /* {answer, rid} */
    NODE_CAPSULE_MSG_ERROR = 7,       /* {code, reason, rid} */
} node_capsule_msg_type_t;

/* One channel 5 message, decoded. Which fields are set depends on type;
   data, policy, envelope and reason borrow from the body. */
typedef struct {
    uint8_t type;
    uint64_t rid; /* request number, chosen by the asking node, echoed */
    uint8_t id[CAPSULE_ID_LEN];
    uint64_t offset, total, size;
    char kind[8];
    uint8_t owner[WD_PUBKEY_LEN];
    const uint8_t *data; /* CHUNK data, HEAD policy, RELEASE_REQ / RELEASE envelope */
    size_t data_len;
    int32_t code;
    char reason[NODE_CAPSULE_REASON_MAX + 1];
} node_capsule_msg_t;

uint8_t *
node_capsule_encode_msg (const node_capsule_msg_t *msg, size_t *len);
/* WD_ERR_BAD_VALUE for an unknown type byte, else the codec's reasons. */
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_msg (const uint8_t *body, size_t len, node_capsule_msg_t *msg);

/* ---- control socket --------------------------------------------------- */

/* A node as capsule-submit sees it. */
typedef struct {
    uint8_t id[WD_PUBKEY_LEN];
    uint8_t curve[WD_PUBKEY_LEN];
    char name[WD_CERT_NAME_MAX + 1];
} node_capsule_node_t;

/* CAPSULE_INFO_REPLY {chain, curve, id, name, nodes: [{curve, id, name}]}:
   this node and every genesis node (nodes malloc'ed by the decoder, caller
   frees). */
typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    node_capsule_node_t self;
    size_t node_count;
    node_capsule_node_t *nodes;
} node_capsule_info_t;

uint8_t *
node_capsule_encode_info (const node_capsule_info_t *info, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_info (const uint8_t *body, size_t len, node_capsule_info_t *info);

/* CAPSULE_PUT_REPLY {id, kind, size}; CAPSULE_GET_REPLY {id, size} (kind
   ""). */
uint8_t *
node_capsule_encode_stored (const uint8_t id[CAPSULE_ID_LEN], const char *kind, uint64_t size,
                            size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_stored (const uint8_t *body, size_t len, uint8_t id[CAPSULE_ID_LEN],
                            char kind[8], uint64_t *size);

/* CAPSULE_SUBMIT {task: bin}: the envelope borrowed. */
uint8_t *
node_capsule_encode_submit (const uint8_t *task, size_t task_len, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_submit (const uint8_t *body, size_t len, const uint8_t **task,
                            size_t *task_len);

/* {task: bin(32)}: CAPSULE_SUBMIT_REPLY and CAPSULE_STATUS. */
uint8_t *
node_capsule_encode_id (const uint8_t id[WD_DIGEST_LEN], size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_id (const uint8_t *body, size_t len, uint8_t id[WD_DIGEST_LEN]);

/* CAPSULE_GET {holder?: bin(32), id: bin(32)}. */
uint8_t *
node_capsule_encode_get (const uint8_t id[CAPSULE_ID_LEN], const uint8_t *holder, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_get (const uint8_t *body, size_t len, uint8_t id[CAPSULE_ID_LEN],
                         bool *has_holder, uint8_t holder[WD_PUBKEY_LEN]);

/* One refusal as status reports it. */
typedef struct {
    uint8_t holder[WD_PUBKEY_LEN];
    uint8_t capsule[CAPSULE_ID_LEN];
    int32_t code;
    char reason[NODE_CAPSULE_REASON_MAX + 1];
} node_capsule_refusal_t;

/* CAPSULE_STATUS_REPLY {code, executor, height, reason, receipt, refusals:
   [{capsule, code, holder, reason}], round, state}. state: "unknown",
   "submitted", "posted", "selected", "running", "done", "failed";
   executor 32 zero bytes while none; receipt the committed receipt
   envelope or empty; code/reason the failure (0 / "" otherwise). */
typedef struct {
    char state[16];
    uint8_t executor[WD_PUBKEY_LEN];
    uint64_t height; /* block that committed the post, 0: not yet */
    uint32_t round;
    int32_t code;
    char reason[NODE_CAPSULE_REASON_MAX + 1];
    const uint8_t *receipt;
    size_t receipt_len;
    size_t refusal_count;
    node_capsule_refusal_t refusals[NODE_CAPSULE_REFUSALS_MAX];
} node_capsule_status_t;

uint8_t *
node_capsule_encode_status (const node_capsule_status_t *st, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_status (const uint8_t *body, size_t len, node_capsule_status_t *st);

/* ---- parent <-> engine ------------------------------------------------ */

/* SANDBOX_RUN {argv: [str], cpu_ms, mem_bytes, output_bytes, pids, v: 1,
   wall_ms, work: str}: run argv in the sandbox over the task work area
   `work` (root/, code/, in/; outputs are copied into out/). argv borrow
   from the body. */
typedef struct {
    size_t argc;
    const char *argv[NODE_CAPSULE_ARGV_MAX];
    size_t arg_lens[NODE_CAPSULE_ARGV_MAX];
    capsule_task_limits_t limits;
    char work[4096];
} node_capsule_run_t;

uint8_t *
node_capsule_encode_run (const node_capsule_run_t *run, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_run (const uint8_t *body, size_t len, node_capsule_run_t *run);

/* SANDBOX_DONE {cpu_sys_us, cpu_user_us, degraded: [str], error: int,
   exit: int, killed: str, outputs: uint, peak_mem_bytes, reason: str,
   signal: int, stderr: bin, v: 1, wall_us}. error 0: the program ran
   (exit -1 when a signal ended it, killed "" when no limit tripped);
   otherwise the sandbox's start failure and reason. */
#define NODE_CAPSULE_DEGRADED_MAX 8
typedef struct {
    int32_t error;
    int32_t exit_code; /* -1: none */
    int32_t signal;    /* 0: none */
    char killed[16];   /* "" or a receipt kill name */
    uint64_t cpu_user_us, cpu_sys_us, wall_us, peak_mem_bytes;
    uint64_t outputs; /* files copied into out/ */
    size_t degraded_count;
    char degraded[NODE_CAPSULE_DEGRADED_MAX][32];
    char reason[NODE_CAPSULE_REASON_MAX + 1];
    const uint8_t *err_text; /* captured stderr, borrowed */
    size_t err_len;
} node_capsule_done_t;

uint8_t *
node_capsule_encode_done (const node_capsule_done_t *done, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_decode_done (const uint8_t *body, size_t len, node_capsule_done_t *done);

/* The strerror of any module's code (wd, cons, capsule). */
const char *
node_capsule_strerror (int code);

#endif
