/*
 * attest_agent_proto: the messages between warden-agent on a compute host
 * and its node's attestation server (DESIGN.md §7 "Host attestation",
 * docs/PROTOCOL.md "Host agent protocol").
 *
 * One ZeroMQ frame carries one message. The agent's two messages are signed
 * envelopes (wd_envelope) made with its boot-session Ed25519 key, whose
 * "chain" slot holds the node's CURVE server public key, so a signature
 * binds a message to the node the agent pinned:
 *
 *   hello    envelope type "agent-hello",    body {host, token}
 *   response envelope type "agent-response", body {answers, nonce, seq}
 *
 * The node's two messages are plain canonical msgpack maps (the CURVE
 * transport authenticates the node; the agent pinned its key):
 *
 *   challenge {deadline_ms, items, nonce, seq, t: "challenge", v: 1}
 *   result    {reason, seq, status, t: "result", v: 1}
 *
 * Decoders are strict: canonical msgpack (wd_codec), exact schemas, bounded
 * sizes, and a named reason for every rejection. The decoded structures own
 * their strings and buffers (free with the matching _clear function), so
 * they outlive the frame they came from.
 */
#ifndef ATTEST_AGENT_PROTO_H
#define ATTEST_AGENT_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "wd_envelope.h"

#define ATTEST_AGENT_HELLO_TYPE    "agent-hello"    /* envelope type of a hello */
#define ATTEST_AGENT_RESPONSE_TYPE "agent-response" /* envelope type of a response */
#define ATTEST_AGENT_VERSION       1
#define ATTEST_AGENT_MSG_MAX       (8u << 20) /* bytes of one frame */
#define ATTEST_AGENT_ITEMS_MAX     64         /* items in one challenge */
#define ATTEST_AGENT_PATH_MAX      4096       /* bytes of a path */
#define ATTEST_AGENT_TOKEN_MAX     128        /* bytes of a boot token */
#define ATTEST_AGENT_HOST_MAX      64         /* bytes of a host name */
#define ATTEST_AGENT_REASON_MAX    64         /* bytes of a result reason */
#define ATTEST_AGENT_DATA_MAX      (4u << 20) /* bytes of cmdline or IMA delta data */
#define ATTEST_AGENT_MODULES_MAX   4096       /* module names in one answer */
#define ATTEST_AGENT_MODULE_MAX    64         /* bytes of one module name */
#define ATTEST_AGENT_PROCS_MAX     16384      /* executables in one answer */
#define ATTEST_AGENT_DEADLINE_MAX  3600000    /* ms a challenge may allow */
#define ATTEST_AGENT_NONCE_LEN     32

/* ---- items and answers ---------------------------------------------------- */

typedef enum {
    ATTEST_ITEM_FILE = 0, /* SHA-256 of a file: path */
    ATTEST_ITEM_CMDLINE,  /* the bytes of /proc/cmdline */
    ATTEST_ITEM_MODULES,  /* loaded module names (/proc/modules) */
    ATTEST_ITEM_PROCS,    /* running processes' executables and their SHA-256 */
    ATTEST_ITEM_IMA,      /* the IMA binary list from entry `from` on */
    ATTEST_ITEM_RANGE,    /* SHA-256 of bytes [off, off+len) of a file or device */
    ATTEST_ITEM_KIND_COUNT_
} attest_item_kind_t;

/* One challenge item. path is owned by whoever holds the item (a decoded
   challenge owns its items' paths). */
typedef struct {
    attest_item_kind_t kind;
    char *path;    /* FILE, RANGE; else NULL */
    uint64_t off;  /* RANGE */
    uint64_t len;  /* RANGE: 1 .. 2^40 */
    uint64_t from; /* IMA: entries the node has already seen */
} attest_item_t;

/* "file", "cmdline", "modules", "procs", "ima", "range". Static storage. */
const char *
attest_item_kind_name (attest_item_kind_t kind);
/* The kind of a name; false when it is none. */
bool
attest_item_kind_parse (const char *name, size_t len, attest_item_kind_t *kind);

/* Why the agent could not answer an item. */
typedef enum {
    ATTEST_ANSWER_OK = 0,
    ATTEST_ANSWER_NOT_FOUND,   /* "not-found": no such file */
    ATTEST_ANSWER_NOT_REGULAR, /* "not-regular": neither a file nor a block device */
    ATTEST_ANSWER_IO,          /* "io": reading failed */
    ATTEST_ANSWER_ABSENT,      /* "absent": the host has no such facility (IMA, modules) */
    ATTEST_ANSWER_RANGE,       /* "range": the range ends past the end of the file */
    ATTEST_ANSWER_TOO_LARGE,   /* "too-large": the answer exceeds a protocol limit */
    ATTEST_ANSWER_ERR_COUNT_
} attest_answer_err_t;

/* "ok", "not-found", ... Static storage. */
const char *
attest_answer_err_name (attest_answer_err_t err);

/* One running executable (PROCS). path is owned by the answer. */
typedef struct {
    char *path;
    uint8_t digest[32];
} attest_proc_entry_t;

/* One answer; the fields used depend on kind (docs/PROTOCOL.md), all owned
   by the answer. With err != OK only kind and err are meaningful. */
typedef struct {
    attest_item_kind_t kind;
    attest_answer_err_t err;
    uint8_t digest[32]; /* FILE, RANGE */
    uint8_t *data;      /* CMDLINE, IMA */
    size_t data_len;
    uint64_t n;  /* IMA: entries in data */
    char **list; /* MODULES: sorted, unique */
    size_t list_count;
    attest_proc_entry_t *entries; /* PROCS: sorted by path then digest, unique */
    size_t entry_count;
} attest_answer_t;

/* Frees what the answer owns and zeroes it (kind and err stay). */
void
attest_answer_clear (attest_answer_t *self);

/* ---- hello (agent -> node) ------------------------------------------------ */

typedef struct {
    char host[ATTEST_AGENT_HOST_MAX + 1];   /* [A-Za-z0-9._-]{1,64} */
    char token[ATTEST_AGENT_TOKEN_MAX + 1]; /* printable ASCII 0x21..0x7e, 1..128 */
    uint8_t pk[WD_PUBKEY_LEN];              /* boot-session key (envelope "from") */
} attest_agent_hello_t;

/* The ZeroMQ routing id an agent uses: 'w' followed by its session key,
   stable across reconnections of one session (ZMQ_ROUTER_HANDOVER on the
   node moves the session to the newest connection). */
#define ATTEST_AGENT_ROUTING_ID_LEN 33
void
attest_agent_routing_id (const uint8_t session_pk[WD_PUBKEY_LEN],
                         uint8_t id[ATTEST_AGENT_ROUTING_ID_LEN]);

/* True for a valid token / host name. */
bool
attest_agent_token_valid (const char *token);
bool
attest_agent_host_valid (const char *host);

/* Seals a hello for the node whose CURVE key is server_pk, signed by the
   boot-session key hello->pk through sign. *out (caller frees) gets the
   frame. Host and token must be valid (asserted). */
wd_err_t __attribute__ ((warn_unused_result))
attest_agent_hello_seal (const attest_agent_hello_t *hello, const uint8_t server_pk[32],
                         wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len);

/* Decodes a hello from a decoded envelope (type must be "agent-hello":
   WD_ERR_UNEXPECTED_TYPE) without checking the signature: the codec's
   reasons, ATTEST_ERR_AGENT_HOST, ATTEST_ERR_AGENT_TOKEN. */
int __attribute__ ((warn_unused_result))
attest_agent_hello_from_env (const wd_envelope_t *env, attest_agent_hello_t *hello);

/* Decodes and verifies a hello frame: wd_envelope_open's reasons (chain
   must be server_pk, signature must verify under the key the hello
   carries), then attest_agent_hello_from_env's. server_pk NULL skips the
   chain and signature checks (fuzzing, inspection). */
int __attribute__ ((warn_unused_result))
attest_agent_hello_open (const uint8_t *buf, size_t len, const uint8_t *server_pk,
                         attest_agent_hello_t *hello);

/* ---- challenge (node -> agent) -------------------------------------------- */

typedef struct {
    uint64_t seq; /* 1, 2, ... per session */
    uint8_t nonce[ATTEST_AGENT_NONCE_LEN];
    uint64_t deadline_ms; /* ms the agent has to answer, 1..ATTEST_AGENT_DEADLINE_MAX */
    size_t count;         /* 1..ATTEST_AGENT_ITEMS_MAX */
    attest_item_t items[ATTEST_AGENT_ITEMS_MAX];
} attest_agent_challenge_t;

/* The challenge frame; caller frees. Items must be well-formed
   (asserted). */
uint8_t *
attest_agent_challenge_encode (const attest_agent_challenge_t *self, size_t *len);

/* Decodes a challenge frame: the codec's reasons, WD_ERR_BAD_VERSION,
   ATTEST_ERR_AGENT_MSG_TYPE (t is not "challenge"), ATTEST_ERR_AGENT_ITEM,
   WD_ERR_OUT_OF_RANGE, WD_ERR_OVERSIZE. On failure *self holds nothing to
   free. */
int __attribute__ ((warn_unused_result))
attest_agent_challenge_decode (const uint8_t *buf, size_t len, attest_agent_challenge_t *self);

/* Frees the items' paths. */
void
attest_agent_challenge_clear (attest_agent_challenge_t *self);

/* ---- response (agent -> node) --------------------------------------------- */

typedef struct {
    uint64_t seq;
    uint8_t nonce[ATTEST_AGENT_NONCE_LEN];
    uint8_t pk[WD_PUBKEY_LEN]; /* signer (envelope "from"), filled by decoding */
    size_t count;
    attest_answer_t answers[ATTEST_AGENT_ITEMS_MAX];
} attest_agent_response_t;

/* Seals the response for server_pk, signed by session_pk through sign.
   Answers must be well-formed (asserted). *out (caller frees). */
wd_err_t __attribute__ ((warn_unused_result))
attest_agent_response_seal (const attest_agent_response_t *self, const uint8_t server_pk[32],
                            const uint8_t session_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                            void *sign_ctx, uint8_t **out, size_t *out_len);

/* Decodes a response from a decoded envelope (type must be
   "agent-response") without checking the signature: the codec's reasons,
   ATTEST_ERR_AGENT_ANSWER, ATTEST_ERR_AGENT_UNSORTED. On failure *self
   holds nothing to free. */
int __attribute__ ((warn_unused_result))
attest_agent_response_from_env (const wd_envelope_t *env, attest_agent_response_t *self);

/* Decodes and, when server_pk is not NULL, verifies a response frame
   (chain must be server_pk, signature must verify under its "from"). */
int __attribute__ ((warn_unused_result))
attest_agent_response_open (const uint8_t *buf, size_t len, const uint8_t *server_pk,
                            attest_agent_response_t *self);

/* Frees every answer. */
void
attest_agent_response_clear (attest_agent_response_t *self);

/* ---- result (node -> agent) ----------------------------------------------- */

typedef enum {
    ATTEST_AGENT_ACCEPTED = 0, /* "accepted": hello admitted (seq 0) */
    ATTEST_AGENT_REFUSED,      /* "refused": hello refused; the agent stops */
    ATTEST_AGENT_PASS,         /* "pass": every checked item matched */
    ATTEST_AGENT_FAIL,         /* "fail": an item did not match */
    ATTEST_AGENT_REJECTED,     /* "rejected": the response was not accepted */
    ATTEST_AGENT_STATUS_COUNT_
} attest_agent_status_t;

const char *
attest_agent_status_name (attest_agent_status_t status);

typedef struct {
    uint64_t seq;
    attest_agent_status_t status;
    char reason[ATTEST_AGENT_REASON_MAX + 1]; /* a result-code name, or "" */
} attest_agent_result_t;

/* The result frame; caller frees. */
uint8_t *
attest_agent_result_encode (const attest_agent_result_t *self, size_t *len);

/* Decodes a result frame: the codec's reasons, WD_ERR_BAD_VERSION,
   ATTEST_ERR_AGENT_MSG_TYPE, ATTEST_ERR_AGENT_STATUS. */
int __attribute__ ((warn_unused_result))
attest_agent_result_decode (const uint8_t *buf, size_t len, attest_agent_result_t *self);

#endif
