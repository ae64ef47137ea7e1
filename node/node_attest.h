/*
 * node_attest: the engine's host-attestation part (DESIGN.md §7 "Host
 * attestation"; docs/ARCHITECTURE.md "Host attestation in the engine").
 *
 * It runs an attest_server on the engine's zloop when `attest/listen` is
 * set, with the node's X25519 key (<state>/keys/curve.key) as the CURVE
 * server key and challenge items and reference values from the attest
 * keys. Every outcome (pass, fail, missed) becomes an "evidence" envelope
 * (attest_evidence, subject the host) sealed with the node's identity key
 * through node_sign_seal and appended to <state>/attest.db (SQLite, WAL,
 * synchronous=FULL, append-only: triggers refuse UPDATE and DELETE). Failed
 * and missed outcomes also log, mark the host untrusted and run the
 * `attest/hook` command.
 *
 * Boot tokens come from the pxe child (node_attest_add_token) or from an
 * operator (`wardenctl attest token`). The control messages
 * WD_MSG_CTL_ATTEST_* (docs/PROTOCOL.md "Control socket") are answered by
 * node_attest_control.
 *
 * The evidence store is opened even when `attest/listen` is unset, so
 * `wardenctl attest evidence` still lists what earlier runs recorded.
 */
#ifndef NODE_ATTEST_H
#define NODE_ATTEST_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_sign.h"
#include "wd_cert.h"
#include "wd_config.h"

#define NODE_ATTEST_DB          "attest.db" /* under the state directory */
#define NODE_ATTEST_DB_VERSION  1           /* PRAGMA user_version of attest.db */
#define NODE_ATTEST_PORT        7420        /* the documented default port */
#define NODE_ATTEST_TOKEN_BYTES 16          /* random bytes of a token wardenctl asks for */
#define NODE_ATTEST_LIMIT_MAX   1000        /* evidence records in one control reply */

typedef struct node_attest node_attest_t;

/* The component for the engine whose configuration is cfg, certificate
   cert (borrowed, must outlive it) and signer (borrowed). Opens the
   evidence store and, when `attest/listen` is set, binds the server and
   attaches it to loop. Returns NULL and a reason in why when anything
   configured cannot be used (bad policy file, unreadable curve key,
   endpoint in use, database that does not open). */
node_attest_t *
node_attest_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *cert, node_sign_t *signer,
                 char *why, size_t why_len);

/* Stops the server, waits for nothing: evidence still being sealed is
   dropped with a log line. Sets *self_p to NULL. */
void
node_attest_destroy (node_attest_t **self_p);

/* Called with every evidence envelope once it is stored (borrowed for the
   call): the engine gossips host evidence to the verifier committees. */
typedef void (node_attest_evidence_fn) (void *arg, const uint8_t *envelope, size_t len);

/* Sets (fn NULL: clears) the stored-evidence hook. */
void
node_attest_set_evidence_hook (node_attest_t *self, node_attest_evidence_fn *fn, void *arg);

/* True when the attestation server runs (`attest/listen` set). */
bool
node_attest_serving (const node_attest_t *self);

/* Adds a one-time boot token for host (label of 1..64 [A-Za-z0-9._-]).
   token_hex is the token as the host will present it (the pxe child's
   32-byte tokens in lowercase hex). Returns WD_OK, WD_ERR_UNAVAILABLE when
   the server does not run, or attest_server_add_token's reasons. */
int __attribute__ ((warn_unused_result))
node_attest_add_token (node_attest_t *self, const char *token_hex, const char *host);

/* True when type is one of the control requests node_attest_control
   answers (WD_MSG_CTL_ATTEST_*). */
bool
node_attest_handles (uint32_t type);

/* Answers a control request. Returns WD_OK with *reply_type and *reply
   (caller frees) set, or an error code and a message in what (at most
   what_len bytes) for the engine's WD_MSG_ERROR reply. */
int
node_attest_control (node_attest_t *self, uint32_t type, const uint8_t *body, size_t len,
                     uint32_t *reply_type, uint8_t **reply, size_t *reply_len, char *what,
                     size_t what_len);

#endif
