/*
 * node_status: the node's status report — built by the engine, signed as a
 * "node-status" envelope through the keys process, and decoded and shown by
 * wardenctl (docs/PROTOCOL.md "Control socket").
 */
#ifndef NODE_STATUS_H
#define NODE_STATUS_H

#include <limits.h>
#include <stdbool.h>
#include <stdint.h>

#include "attest_ima.h"
#include "node_proc.h"
#include "wd_cert.h"
#include "wd_config.h"
#include "wd_msg.h"

#define NODE_STATUS_TYPE "node-status"
#define NODE_STATUS_MAX  4096

typedef struct {
    wd_msg_proc_state_t procs[NODE_PROC_COUNT];
} node_status_procs_t;

/* A decoded report. */
typedef struct {
    char version[32];
    uint64_t pid; /* the wardend parent */
    uint64_t now; /* Unix time when the report was made */
    char state_dir[PATH_MAX];
    wd_cert_t cert;
    uint8_t cert_id[32];
    uint8_t nonce[WD_MSG_NONCE_LEN]; /* the requester's, echoed */
    attest_ima_state_t measured;     /* the node's measurement log: entries and registers */
    bool has_keys;                   /* the keys process answered */
    wd_msg_keys_status_t keys;
    node_status_procs_t procs;
} node_status_t;

/* Builds the report's canonical bytes (caller frees), echoing the
   requester's nonce. keys may be NULL when the keys process did not
   answer; measured is the node's measurement log state (node_measure). */
uint8_t *
node_status_build (const wd_config_t *cfg, const uint8_t *cert_bytes, size_t cert_len,
                   const uint8_t nonce[WD_MSG_NONCE_LEN], const node_status_procs_t *procs,
                   const wd_msg_keys_status_t *keys, const attest_ima_state_t *measured,
                   size_t *len);

/* Reply bodies: {envelope: bin} or {status: bin, unsigned_reason: str}. */
uint8_t *
node_status_reply_signed (const uint8_t *envelope, size_t envelope_len, size_t *len);
uint8_t *
node_status_reply_unsigned (const uint8_t *status, size_t status_len, const char *reason,
                            size_t *len);

/* Decodes a reply. On WD_OK, *status holds the report; *is_signed says
   whether it came in a "node-status" envelope whose signature verified
   under the report's own node id (report.cert.sign_pk); otherwise reason
   holds why the node could not sign. */
wd_err_t __attribute__ ((warn_unused_result))
node_status_reply_decode (const uint8_t *body, size_t len, node_status_t *status, bool *is_signed,
                          char reason[WD_MSG_ERROR_MAX + 1]);

#endif
