/*
 * node_verify: the engine's verifier-committee driver (issue 8 item 4;
 * docs/ARCHITECTURE.md "Verifier committees in the engine"). It runs the
 * pure tracker cons_committee on the engine's zloop, between the mesh (the
 * records gossip delivers, through node_agree's hooks), the keys process
 * (VRF proofs and signatures, through node_sign) and the agreement (the
 * records a proposer puts in its next block):
 *
 *   - self-evidence: at the first block of every epoch (and once after
 *     start-up) the node seals evidence about itself — its whole
 *     measurement log (node_measure), the epoch nonce from that block's
 *     seed — and gossips it; host evidence node_attest stores is gossiped
 *     too (node_verify_host_evidence);
 *   - for each evidence record of another node, the node runs its
 *     sortition (CONS_ROLE_VERIFIER, a VRF proof from the keys process);
 *     when selected it re-appraises the evidence against the node policy
 *     (attest/node_policy, the same Keylime runtime policy on every node)
 *     and gossips a committee verdict with its claim;
 *   - every verdict (its own included) goes to cons_committee; an
 *     escalated record is appraised by every validator (verdicts without a
 *     claim); certified and rejected records, with the verdicts that
 *     decided them, are handed to node_agree's proposer, so they land in
 *     blocks and the ledger decides each node's tier
 *     (cons_ledger_node_status).
 */
#ifndef NODE_VERIFY_H
#define NODE_VERIFY_H

#include <czmq.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_log.h"
#include "node_agree.h"
#include "node_mesh.h"
#include "node_sign.h"
#include "wd_cert.h"
#include "wd_config.h"
#include "wd_err.h"

typedef struct node_verify node_verify_t;

#define NODE_VERIFY_POLICY_NAME "node-policy" /* name given to attest/node_policy */
#define NODE_VERIFY_MAX_AGE_S   600           /* evidence older than this is not appraised */
#define NODE_VERIFY_MAX_SKEW_S  60            /* nor evidence from this far in the future */
#define NODE_VERIFY_FIRST_MS    1500          /* first self-evidence after start-up */
#define NODE_VERIFY_TICK_MS     1000          /* tracker expiry and retries */
#define NODE_VERIFY_KEEP        256           /* evidence envelopes kept for escalation */

/* Starts the driver when the agreement runs (agree NULL: *out NULL, WD_OK).
   Reads attest/node_policy when set (a policy that does not load stops the
   engine: WD_ERR_CONFIG_VALUE and why); without it the node produces
   evidence and tracks committees but appraises nothing. measurements is
   the engine's log (borrowed, must outlive the driver). Registers itself
   as node_agree's hooks. */
wd_err_t __attribute__ ((warn_unused_result))
node_verify_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                 node_sign_t *signer, node_mesh_t *mesh, node_agree_t *agree,
                 const attest_log_t *measurements, node_verify_t **out, char *why, size_t why_len);

/* Unhooks from node_agree, stops timers, frees the tracker. Destroy the
   signer first: its requests in flight are answered (and freed) then.
   Safe on NULL. */
void
node_verify_destroy (node_verify_t **self_p);

/* Gossips a host-evidence envelope node_attest has stored (borrowed). Safe
   on a NULL driver (no mesh: nothing is gossiped). */
void
node_verify_host_evidence (node_verify_t *self, const uint8_t *envelope, size_t len);

/* Measures the files named in attest/measure (space-separated absolute
   paths) into log under their paths, then saves the log at path. A file
   that does not exist is measured as empty (and fails any policy that
   names it). Returns WD_OK, WD_ERR_CONFIG_VALUE (a path that is not
   absolute) or attest_log's reasons, with a line in why. */
int __attribute__ ((warn_unused_result))
node_verify_measure_files (attest_log_t *log, const wd_config_t *cfg, const char *path, char *why,
                           size_t why_len);

#endif
