/*
 * node_agree: the engine's agreement driver (issue 8; docs/ARCHITECTURE.md
 * "The agreement in the engine"). It runs consensus/cons_agree, the pure
 * Tendermint state machine, on the engine's zloop under the driver contract
 * of cons_agree.h:
 *
 *   - inputs are fed one at a time from a queue: agreement envelopes from
 *     peers (mesh channel 3), timer expiries (zloop timers armed from the
 *     genesis agree_* parameters), this node's candidate block, and
 *     catch-up commits (blocks with certificates fetched on channel 4);
 *   - outputs are carried out in order: PERSIST is written to
 *     <state>/agree.state and fsync'ed before anything after it; a proposal
 *     or vote is signed through the keys process (node_sign_digest), kept in
 *     the same file, fed back to the machine and sent to every validator;
 *     COMMIT appends the block and its certificate to the ledger
 *     (cons_ledger); while a signature is outstanding the machine is not
 *     called at all, so what its outputs borrow stays valid;
 *   - a node restarted from agree.state resumes at the recorded round and
 *     step and feeds back its own signed messages of the height;
 *   - a node whose height has not moved for a repair interval sends its own
 *     messages and those it accepted for the recent rounds again; a node
 *     that receives messages for a later height asks that peer for the
 *     blocks and certificates it lacks (channel 4) and applies them through
 *     CONS_AGREE_IN_COMMIT, which checks every certificate.
 *
 * Validators are the genesis nodes with equal weights (reputation-derived
 * weights come later). Block candidates carry the records gossip delivered
 * (and this node published) that the ledger does not hold yet.
 */
#ifndef NODE_AGREE_H
#define NODE_AGREE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_block.h"
#include "cons_ledger.h"
#include "node_mesh.h"
#include "node_sign.h"
#include "wd_cert.h"
#include "wd_config.h"
#include "wd_err.h"

typedef struct node_agree node_agree_t;

#define NODE_AGREE_STATE_FILE "agree.state"
#define NODE_AGREE_SYNC_MAX   16 /* blocks in one sync response, at most */

/* Replies to a control client (the engine's; see node_mesh_reply_fn). */
typedef void (node_agree_reply_fn) (void *client, uint32_t peer, uint32_t type, const uint8_t *body,
                                    size_t len);

/* Starts the agreement when the mesh runs (mesh NULL: *out NULL, WD_OK) and
   this node is a genesis validator. Opens the ledger <state>/ledger.db and
   reads agree.state; the machine starts once the keys process has answered
   (so that the first vote can be signed). Returns WD_OK and *out, or an
   error with why (ledger unreadable, saved state corrupt). */
wd_err_t __attribute__ ((warn_unused_result))
node_agree_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                node_sign_t *signer, node_mesh_t *mesh, node_agree_reply_fn *reply,
                node_agree_t **out, char *why, size_t why_len);

/* Stops timers, frees the machine, closes the ledger. Must run before the
   signer and the mesh are destroyed. Safe on NULL. */
void
node_agree_destroy (node_agree_t **self_p);

/* ---- the verifier committees' hooks (node_verify) ------------------------ */

/* A second consumer of records and blocks, on the same loop. Each function
   may be NULL. */
typedef struct {
    /* A record the mesh kept (published here or delivered). True: the
       consumer takes it, and it does not wait for a block here (evidence
       and committee verdicts enter blocks only through `propose`). */
    bool (*on_record) (void *arg, const uint8_t *record, size_t len);
    /* A block was appended at height (bytes borrowed for the call). Runs
       after the append, before the next candidate is built. */
    void (*on_commit) (void *arg, uint64_t height, const uint8_t *block, size_t len);
    /* The records to put first in this node's next candidate: fills at
       most max entries of out (borrowed until the next call into the
       consumer) within max_bytes, returns the count. */
    size_t (*propose) (void *arg, cons_bytes_t *out, size_t max, size_t max_bytes);
} node_agree_hooks_t;

/* Sets (hooks NULL: clears) the consumer; hooks is copied. */
void
node_agree_set_hooks (node_agree_t *self, const node_agree_hooks_t *hooks, void *arg);

/* The consumer has records to propose: a candidate that waits for records
   is built now. Never calls the hooks' on_record or on_commit. */
void
node_agree_records_ready (node_agree_t *self);

/* The ledger the agreement appends to (borrowed; lives as long as the
   agreement): node_capsule follows its blocks. */
cons_ledger_t *
node_agree_ledger (node_agree_t *self);

/* True for the control request types the agreement answers. */
bool
node_agree_handles (uint32_t type);

/* Answers one control request through the reply callback. */
void
node_agree_request (node_agree_t *self, void *client, uint32_t peer, uint32_t type,
                    const uint8_t *body, size_t len);

/* ---- control bodies (wardenctl <-> engine) ------------------------------ */

/* `wardenctl agree status`: where the machine and the ledger stand. */
typedef struct {
    bool running;         /* the machine has started */
    bool validator;       /* this node votes */
    uint64_t tip;         /* last committed height, 0: none */
    uint64_t height;      /* height being decided */
    uint32_t round;       /* its round */
    uint8_t step;         /* 1 propose, 2 prevote, 3 precommit, 4 commit wait */
    int64_t lock_round;   /* -1: none */
    uint64_t validators;  /* validator count */
    uint64_t last_commit; /* Unix ms of the last commit, 0: none */
    uint64_t commits;     /* blocks committed by this run (agreement and catch-up) */
    uint64_t synced;      /* of which through catch-up */
    uint64_t pending;     /* records waiting for a block */
    uint64_t latency_p50; /* ms from the height's start to its commit, this run */
    uint64_t latency_p99;
} node_agree_status_t;

/* {commits, height, last_commit, latency_p50, latency_p99, lock_round,
   pending, round, running, step, synced, tip, validator, validators}. */
uint8_t *
node_agree_encode_status (const node_agree_status_t *st, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_agree_decode_status (const uint8_t *body, size_t len, node_agree_status_t *st);

/* ---- channel 4 bodies (docs/PROTOCOL.md "Block sync") -------------------- */

/* A sync request {from: uint, v: 1}: the blocks from height `from` on. */
uint8_t *
node_agree_encode_sync_request (uint64_t from, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_agree_decode_sync_request (const uint8_t *body, size_t len, uint64_t *from);

/* One block of a sync reply with its commit certificate (borrowed). */
typedef struct {
    const uint8_t *block;
    size_t block_len;
    const uint8_t *cert;
    size_t cert_len;
} node_agree_synced_t;

/* A sync reply {blocks: [[block: bin, cert: bin], ...], tip: uint, v: 1}
   with count (at most NODE_AGREE_SYNC_MAX, asserted) blocks. */
uint8_t *
node_agree_encode_sync_reply (const node_agree_synced_t *blocks, size_t count, uint64_t tip,
                              size_t *len);

/* Decodes a sync reply strictly: codec and schema reasons,
   WD_ERR_BAD_VERSION, WD_ERR_OVERSIZE (more than NODE_AGREE_SYNC_MAX blocks,
   a block above block_max, a certificate above CONS_BLOCK_CERT_MAX),
   WD_ERR_BAD_LENGTH (an entry that is not a pair). The blocks borrow from
   body; nothing in them is checked here. */
wd_err_t __attribute__ ((warn_unused_result))
node_agree_decode_sync_reply (const uint8_t *body, size_t len, size_t block_max,
                              node_agree_synced_t blocks[NODE_AGREE_SYNC_MAX], size_t *count,
                              uint64_t *tip);

#endif
