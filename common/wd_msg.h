/*
 * wd_msg: the messages that travel over wd_chan channels — between wardend's
 * processes and on the control socket (docs/PROTOCOL.md "Process messages"
 * and "Control socket"). Modules meet through these types, not through each
 * other's internals (DESIGN.md §3).
 *
 * Bodies are canonical msgpack maps; the encoders and decoders of the small
 * fixed-shape bodies live here so every process reads them the same way.
 * Decoders return a wd_err_t naming the first problem.
 */
#ifndef WD_MSG_H
#define WD_MSG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_envelope.h"
#include "wd_err.h"

typedef enum {
    /* parent -> child */
    WD_MSG_INIT = 1,         /* body: wd_config_pack() of the validated configuration */
    WD_MSG_KEYS_CHANNEL = 2, /* no body; fds[0]: this process's end of a new engine<->keys pair */
    WD_MSG_PROC_STATE = 3,   /* parent -> engine: {name, pid, restarts, since, state} */
    WD_MSG_PING = 4,         /* parent -> engine, no body; answered by WD_MSG_PONG */
    /* child -> parent */
    WD_MSG_READY = 10, /* no body: initialised and serving */
    WD_MSG_PONG = 11,  /* no body */
    /* engine <-> keys; peer = request id, echoed in the reply */
    WD_MSG_SIGN = 20,      /* {digest: bin(32)} */
    WD_MSG_SIGNATURE = 21, /* {sig: bin(64)} */
    WD_MSG_KEYS_INFO = 22, /* no body */
    /* {backend, healthy, key_protection, public_key, signatures, tamper} */
    WD_MSG_KEYS_STATUS = 23,
    WD_MSG_VRF_PROVE = 24, /* {alpha: bin(1..WD_MSG_VRF_ALPHA_MAX)} */
    WD_MSG_VRF_PROOF = 25, /* {pi: bin(80)} */
    /* {chain: bin(32), digest: bin(32), height, round, step}: a vote or proposal to sign,
       checked by the double-sign guard (node_guard.h); answered like WD_MSG_SIGN */
    WD_MSG_SIGN_STEP = 26,
    /* any direction: a request failed */
    WD_MSG_ERROR = 30, /* {code: int, message: str} */
    /* control socket: wardenctl -> engine, replies echo peer */
    WD_MSG_CTL_STATUS = 100,       /* {nonce: bin(32)}, echoed inside the signed report */
    WD_MSG_CTL_STATUS_REPLY = 101, /* {envelope: bin} or {status: bin, unsigned_reason: str} */
    /* the `pxe` child (node_pxe.h encodes and decodes the bodies) */
    WD_MSG_PXE_SOCKETS = 40, /* parent -> pxe: {sockets: [str]}, fds[i] named by sockets[i] */
    WD_MSG_PXE_CHANNEL = 41, /* parent -> engine and pxe, no body; fds[0]: end of a new pair */
    WD_MSG_PXE_SERVED = 42,  /* pxe -> engine: one completed transfer (a served-file record) */
    WD_MSG_PXE_TOKEN = 43,   /* pxe -> engine: {host: str, token: bin(32)} a boot token issued */
    WD_MSG_PXE_STATUS = 44,  /* pxe -> engine: counters and leases, sent when they change */
    /* parent <-> engine: capsule sandboxes (node_capsule_wire.h encodes the bodies;
       peer = the engine's job number, echoed) */
    WD_MSG_SANDBOX_RUN = 50,  /* engine -> parent: {argv, ..., work}: run one sandbox */
    WD_MSG_SANDBOX_DONE = 51, /* parent -> engine: {exit, killed, usage, ...} or an error */
    WD_MSG_SANDBOX_KILL = 52, /* engine -> parent, no body: stop the job now */
    /* control socket: wardenctl pxe */
    WD_MSG_CTL_PXE = 110,       /* no body */
    WD_MSG_CTL_PXE_REPLY = 111, /* {served: [bin], status: bin or nil} */
    /* control socket: wardenctl attest (requests wd_msg_attest_req_t; node_attest.c
       writes the replies, docs/PROTOCOL.md "Host attestation requests") */
    WD_MSG_CTL_ATTEST_HOST = 120,            /* {host?, limit?}: host states, last challenges */
    WD_MSG_CTL_ATTEST_HOST_REPLY = 121,      /* {chain, evidence, hosts: [map], ...} */
    WD_MSG_CTL_ATTEST_EVIDENCE = 122,        /* {host?, limit?}: stored evidence, newest */
    WD_MSG_CTL_ATTEST_EVIDENCE_REPLY = 123,  /* {chain, more, records: [{envelope, row}]} */
    WD_MSG_CTL_ATTEST_TOKEN = 124,           /* {host}: issue a one-time boot token */
    WD_MSG_CTL_ATTEST_TOKEN_REPLY = 125,     /* {endpoint, host, server_key, token} */
    WD_MSG_CTL_ATTEST_CHALLENGE = 126,       /* {host?}: challenge now (every host without) */
    WD_MSG_CTL_ATTEST_CHALLENGE_REPLY = 127, /* {asked: uint} */
    /* control socket: the mesh (node_mesh.h encodes and decodes the bodies) */
    WD_MSG_CTL_MESH_PEERS = 130,         /* no body */
    WD_MSG_CTL_MESH_PEERS_REPLY = 131,   /* {peers: [map], summary: map} */
    WD_MSG_CTL_MESH_PUBLISH = 132,       /* {text: str}: seal and publish a notice */
    WD_MSG_CTL_MESH_PUBLISH_REPLY = 133, /* {id: bin(32)} */
    WD_MSG_CTL_MESH_RECORDS = 134,       /* no body */
    WD_MSG_CTL_MESH_RECORDS_REPLY = 135, /* {records: [map]} */
    WD_MSG_CTL_MEMBER = 136,             /* {op: str, request: bin}: join, admit, rotate, leave */
    WD_MSG_CTL_MEMBER_REPLY = 137,       /* {envelope: bin, id: bin(32)} */
    /* control socket: the agreement (node_agree.h encodes and decodes the bodies) */
    WD_MSG_CTL_AGREE_STATUS = 150,       /* no body */
    WD_MSG_CTL_AGREE_STATUS_REPLY = 151, /* {commits, height, tip, round, step, ...} */
    /* control socket: capsule-submit (node_capsule_wire.h encodes and decodes the bodies) */
    WD_MSG_CTL_CAPSULE_INFO = 170,         /* no body */
    WD_MSG_CTL_CAPSULE_INFO_REPLY = 171,   /* {chain, curve, id, name, nodes: [map]} */
    WD_MSG_CTL_CAPSULE_PUT = 172,          /* no body; fds[0]: a sealed capsule file */
    WD_MSG_CTL_CAPSULE_PUT_REPLY = 173,    /* {id: bin(32), kind: str, size: uint} */
    WD_MSG_CTL_CAPSULE_SUBMIT = 174,       /* {task: bin}: a signed capsule-task envelope */
    WD_MSG_CTL_CAPSULE_SUBMIT_REPLY = 175, /* {task: bin(32)} */
    WD_MSG_CTL_CAPSULE_STATUS = 176,       /* {task: bin(32)} */
    WD_MSG_CTL_CAPSULE_STATUS_REPLY = 177, /* {state, executor, receipt, refusals, ...} */
    WD_MSG_CTL_CAPSULE_GET = 178,          /* {holder: bin(32) or nil, id: bin(32)} */
    WD_MSG_CTL_CAPSULE_GET_REPLY = 179,    /* {id, size}; fds[0]: the capsule, read-only */
} wd_msg_type_t;

/* Short name of a message type for logs ("sign", "ctl-status"). */
const char *
wd_msg_name (uint32_t type);

/* {digest: bin(32)} and {sig: bin(64)}: single-field bodies. Encoders write
   into a caller buffer of at least WD_MSG_SMALL_MAX bytes and return the
   length. */
#define WD_MSG_SMALL_MAX 96
size_t
wd_msg_encode_digest (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t digest[WD_DIGEST_LEN]);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_digest (const uint8_t *body, size_t len, uint8_t digest[WD_DIGEST_LEN]);
size_t
wd_msg_encode_signature (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t sig[WD_SIG_LEN]);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_signature (const uint8_t *body, size_t len, uint8_t sig[WD_SIG_LEN]);

/* {alpha: bin}: a VRF proof request, alpha 1..WD_MSG_VRF_ALPHA_MAX bytes
   (a sortition alpha is 128). The encoder writes into a caller buffer of at
   least WD_MSG_VRF_PROVE_MAX bytes and returns the length; it asserts the
   bound (our own API). The decoder borrows *alpha from body:
   WD_ERR_BAD_LENGTH for an empty alpha, WD_ERR_OVERSIZE above the bound,
   otherwise the codec's reasons. */
#define WD_MSG_VRF_ALPHA_MAX 256
#define WD_MSG_VRF_PROVE_MAX (WD_MSG_VRF_ALPHA_MAX + 16)
size_t
wd_msg_encode_vrf_prove (uint8_t out[WD_MSG_VRF_PROVE_MAX], const uint8_t *alpha, size_t alpha_len);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_vrf_prove (const uint8_t *body, size_t len, const uint8_t **alpha, size_t *alpha_len);

/* {pi: bin(80)}: a VRF proof (WD_VRF_PROOF_LEN), into a WD_MSG_SMALL_MAX
   buffer. */
#define WD_MSG_VRF_PI_LEN 80
size_t
wd_msg_encode_vrf_proof (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t pi[WD_MSG_VRF_PI_LEN]);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_vrf_proof (const uint8_t *body, size_t len, uint8_t pi[WD_MSG_VRF_PI_LEN]);

/* WD_MSG_SIGN_STEP: {chain: bin(32), digest: bin(32), height: uint, round:
   uint, step: uint}. digest is what is signed (the signing rule's output);
   the rest says which agreement message it is, for the keys process's
   double-sign guard: height 1..2^63-1, round 0..2^31-1, step 1 (proposal),
   2 (prevote) or 3 (precommit). The encoder writes into a caller buffer of
   at least WD_MSG_SIGN_STEP_MAX bytes, returns the length, and asserts the
   ranges (our own API); the decoder answers the codec's reasons and
   WD_ERR_OUT_OF_RANGE. */
#define WD_MSG_SIGN_STEP_MAX   160
#define WD_MSG_SIGN_HEIGHT_MAX ((uint64_t)INT64_MAX)
#define WD_MSG_SIGN_ROUND_MAX  ((uint64_t)INT32_MAX)
#define WD_MSG_SIGN_STEP_LAST  3
typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t digest[WD_DIGEST_LEN];
    uint64_t height;
    uint32_t round;
    uint8_t step;
} wd_msg_sign_step_t;

size_t
wd_msg_encode_sign_step (uint8_t out[WD_MSG_SIGN_STEP_MAX], const wd_msg_sign_step_t *req);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_sign_step (const uint8_t *body, size_t len, wd_msg_sign_step_t *req);

/* {nonce: bin(32)}: a CTL_STATUS request. */
#define WD_MSG_NONCE_LEN 32
size_t
wd_msg_encode_nonce (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t nonce[WD_MSG_NONCE_LEN]);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_nonce (const uint8_t *body, size_t len, uint8_t nonce[WD_MSG_NONCE_LEN]);

/* {code: int, message: str}: message at most WD_MSG_ERROR_MAX bytes. The
   encoder returns a malloc'ed body (caller frees). */
#define WD_MSG_ERROR_MAX 256
uint8_t *
wd_msg_encode_error (int code, const char *message, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_error (const uint8_t *body, size_t len, int *code,
                     char message[WD_MSG_ERROR_MAX + 1]);

/* WD_MSG_KEYS_STATUS: {backend, healthy, key_protection, public_key,
   signatures, tamper}. */
#define WD_MSG_NAME_MAX 16
typedef struct {
    char backend[WD_MSG_NAME_MAX + 1];
    char key_protection[WD_MSG_NAME_MAX + 1];
    char tamper[WD_MSG_NAME_MAX + 1];
    bool healthy;
    uint64_t signatures;
    uint8_t public_key[WD_PUBKEY_LEN];
} wd_msg_keys_status_t;

uint8_t *
wd_msg_encode_keys_status (const wd_msg_keys_status_t *status, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_keys_status (const uint8_t *body, size_t len, wd_msg_keys_status_t *status);

/* WD_MSG_PROC_STATE: {name, pid, restarts, since, state}; since is Unix
   time in seconds, state one of "starting", "running", "restarting",
   "stopped". */
typedef struct {
    char name[WD_MSG_NAME_MAX + 1];
    char state[WD_MSG_NAME_MAX + 1];
    uint64_t pid;
    uint64_t restarts;
    uint64_t since;
} wd_msg_proc_state_t;

uint8_t *
wd_msg_encode_proc_state (const wd_msg_proc_state_t *state, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_proc_state (const uint8_t *body, size_t len, wd_msg_proc_state_t *state);

/* The body of the WD_MSG_CTL_ATTEST_* requests: {host?: str, limit?: uint},
   both keys optional; host 1..64 bytes, limit 1..65535 when present (limit
   0 in the struct: absent, the request's default). */
#define WD_MSG_HOST_MAX 64
typedef struct {
    bool has_host;
    char host[WD_MSG_HOST_MAX + 1];
    uint32_t limit;
} wd_msg_attest_req_t;

uint8_t *
wd_msg_encode_attest_req (const wd_msg_attest_req_t *req, size_t *len);
/* The codec's reasons; WD_ERR_BAD_LENGTH for an empty host,
   WD_ERR_OUT_OF_RANGE for limit 0 or above 65535. An empty body means the
   same as the empty map: no host, no limit. */
wd_err_t __attribute__ ((warn_unused_result))
wd_msg_decode_attest_req (const uint8_t *body, size_t len, wd_msg_attest_req_t *req);

#endif
