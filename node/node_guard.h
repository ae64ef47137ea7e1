/*
 * node_guard: the keys process's double-sign guard (like Tendermint's
 * priv-validator state). The engine asks for agreement signatures with
 * WD_MSG_SIGN_STEP, naming the chain, height, round and step (1 proposal,
 * 2 prevote, 3 precommit) next to the digest; the guard remembers the last
 * one it let through and refuses, whatever the engine believes, a different
 * digest for the same (height, round, step) or anything at an earlier one.
 * The same digest again is allowed: a restarted engine asks again for the
 * vote it may already have sent, and Ed25519 gives the same signature.
 *
 * The record lives in <state>/keys/sign.state, opened once when the keys
 * process starts (the descriptor is kept; no path is opened afterwards), and
 * is written and fsync'ed before node_guard_check says yes, so a signature
 * never leaves the process without its record on disk: a crash between the
 * write and the reply cannot make the guard forget.
 *
 * What it protects against: an engine that lost or rolled back its
 * agreement state (agree.state deleted, a restored backup, a bug) asking
 * for a vote that conflicts with one already given. It cannot tell a vote
 * digest from any other: an engine that lies about the step, or asks for a
 * vote through plain WD_MSG_SIGN, is not stopped by it. A record of another
 * chain is replaced by the first request of the new chain.
 *
 * File format (docs/PROTOCOL.md "The double-sign guard's state"): two
 * 256-byte slots written alternately; a slot is [len: u8][body: len bytes]
 * [zeros][SHA-256 of the first 224 bytes: 32 bytes], body the canonical map
 * {chain: bin(32), digest: bin(32), height, round, seq, step, v: 1}. The
 * valid slot with the higher seq is the record; a torn write damages only
 * the slot being written, whose signature was never returned.
 */
#ifndef NODE_GUARD_H
#define NODE_GUARD_H

#include <stdbool.h>

#include "wd_err.h"
#include "wd_msg.h"

#define NODE_GUARD_SLOT      256
#define NODE_GUARD_FILE_SIZE (2 * NODE_GUARD_SLOT)

typedef struct node_guard node_guard_t;

/* Opens (creating it, mode 0600) the state file at path and reads the last
   record. Returns WD_OK and *out, or WD_ERR_IO (errno set),
   WD_ERR_NOT_REGULAR, WD_ERR_SIGN_STATE (larger than two slots, or both
   slots filled and neither passes its check), WD_ERR_NOMEM. */
wd_err_t __attribute__ ((warn_unused_result))
node_guard_open (const char *path, node_guard_t **out);

/* Closes the file and frees the guard; sets *self_p to NULL. Safe on NULL. */
void
node_guard_destroy (node_guard_t **self_p);

/* Whether req may be signed. WD_OK: it may, and the record now names it,
   durably (written and fsync'ed; nothing is written when req repeats the
   record). WD_ERR_SIGN_CONFLICT: the record holds the same chain, height,
   round and step with another digest. WD_ERR_SIGN_REGRESS: the record is of
   the same chain and at a later (height, round, step). WD_ERR_IO: the
   record could not be written (errno set): nothing is signed, and the
   record stays what it was. */
wd_err_t __attribute__ ((warn_unused_result))
node_guard_check (node_guard_t *self, const wd_msg_sign_step_t *req);

/* The last record, when there is one. */
bool
node_guard_last (const node_guard_t *self, wd_msg_sign_step_t *last);

#endif
