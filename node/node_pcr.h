/*
 * node_pcr: the engine's PCR signer (DESIGN.md §1, §9; issue 10;
 * docs/ARCHITECTURE.md "PCR signer"). It reads results from the configured
 * intake channels — a serial device or pseudo-terminal (`pcr/device`, raw
 * mode, `pcr/baud`, framed: capsule/workloads/pcr_signer_frame.h), the
 * engine's standard input (`pcr/stdin`, same framing) and a drop directory
 * (`pcr/drop_dir`, whole files, moved to `pcr/done_dir` once logged) —
 * builds a pcr-result statement about the bytes exactly as received, has
 * it sealed by the keys process through node_sign (the engine never holds
 * a key), and appends the envelopes to the result log <state>/results.db
 * in groups (`pcr/batch` entries or `pcr/batch_delay`, one fsync a group),
 * then signs a checkpoint over the new tree through node_sign as well.
 *
 * When the node runs in a cluster (the mesh is up), each newly signed
 * checkpoint is also sealed as a `pcr-checkpoint` record on the cluster's
 * chain and gossiped, so the agreement commits it to the ledger
 * (docs/PROTOCOL.md "Checkpoint anchors"): an anchored checkpoint cannot
 * be withdrawn by editing results.db.
 *
 * Nothing is ever written to an intake channel. Framing problems (gaps,
 * duplicates, truncation, digest mismatches, noise) are logged with their
 * code and counted.
 */
#ifndef NODE_PCR_H
#define NODE_PCR_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "node_mesh.h"
#include "node_sign.h"
#include "wd_cert.h"
#include "wd_config.h"

#define NODE_PCR_DB "results.db" /* under the state directory unless pcr/log is set */

typedef struct node_pcr node_pcr_t;

/* Counters, for logs and tests. */
typedef struct {
    uint64_t received; /* files taken in (all channels) */
    uint64_t logged;   /* entries committed */
    uint64_t rejected; /* framing reports other than GAP */
    uint64_t gaps;     /* GAP reports */
    uint64_t sign_failures;
    uint64_t checkpoints;
    uint64_t anchors; /* checkpoints published for the ledger */
} node_pcr_stats_t;

/* The component for the engine, or *out NULL when `pcr/enable` is false.
   cert_bytes/cert (borrowed, must outlive it) are the node certificate;
   signer is borrowed. Returns WD_OK, or a reason in why when a configured
   channel or the log cannot be used. */
int __attribute__ ((warn_unused_result))
node_pcr_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *cert, node_sign_t *signer,
              node_pcr_t **out, char *why, size_t why_len);

/* Commits what is already sealed, drops what is not (with a log line),
   and frees the component; call before node_sign_destroy. Safe on NULL. */
void
node_pcr_destroy (node_pcr_t **self_p);

const node_pcr_stats_t *
node_pcr_stats (const node_pcr_t *self);

/* Anchors checkpoints through mesh (borrowed; must outlive the component,
   which node_pcr_destroy before node_mesh_destroy ensures): the newest
   stored checkpoint at once, then each new one. Safe with either NULL (no
   PCR signer, or no cluster: nothing is anchored). */
void
node_pcr_set_mesh (node_pcr_t *self, node_mesh_t *mesh);

/* The log's origin line for a node: "warden-pcr/<name>/<first 16 hex
   digits of sign_pk>". */
void
node_pcr_origin (char *out, size_t size, const char *node_name, const uint8_t sign_pk[32]);

#endif
