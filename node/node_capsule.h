/*
 * node_capsule: the engine's capsule component (issue 9; docs/ARCHITECTURE.md
 * "Capsules in the engine", docs/PROTOCOL.md "Capsules on the mesh" and
 * "Capsule control requests").
 *
 * It holds the node's capsule store (<state>/capsules) and follows the
 * ledger block by block: a committed "capsule-post" starts a task on every
 * node, eligible nodes publish VRF sortition claims ("capsule-claim"), and
 * the lowest priority among the claims committed within a fixed window of
 * blocks is the executor — every node computes the same answer from its
 * ledger. The executor fetches the task's capsules over mesh channel 5,
 * asks each holder to release the content key (holders check the
 * executor's ledger status, reputation and the capsule's policy first),
 * decrypts into a tmpfs work area, has the wardend parent run the sandbox,
 * seals the outputs to the task's recipients, stores them and publishes a
 * signed "capsule-receipt" (or a "capsule-failed" record with the holders'
 * signed refusals). capsule-submit talks to it over the control socket.
 *
 * The identity key never enters the engine: every signature (records,
 * release answers, result capsules) is made by the keys process through
 * node_sign.
 */
#ifndef NODE_CAPSULE_H
#define NODE_CAPSULE_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_agree.h"
#include "node_capsule_rules.h"
#include "node_mesh.h"
#include "node_sign.h"
#include "wd_cert.h"
#include "wd_chan.h"
#include "wd_config.h"
#include "wd_err.h"

typedef struct node_capsule node_capsule_t;

/* Replies to a control client (the engine's; see node_mesh_reply_fn), with
   an optional descriptor (-1: none) passed along and then closed. */
typedef void (node_capsule_reply_fn) (void *client, uint32_t peer, uint32_t type,
                                      const uint8_t *body, size_t len, int fd);

/* Starts the component when capsule/enable is set and the agreement runs
   (agree NULL or disabled: *out NULL, WD_OK). Opens the store, reads the
   node's X25519 key, creates the work area (a tmpfs directory) and hooks
   channel 5. parent is the engine's channel to the wardend parent
   (borrowed), for sandbox runs. Returns WD_OK and *out, or an error with
   why. */
wd_err_t __attribute__ ((warn_unused_result))
node_capsule_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
                  node_sign_t *signer, node_mesh_t *mesh, node_agree_t *agree, wd_chan_t *parent,
                  node_capsule_reply_fn *reply, node_capsule_t **out, char *why, size_t why_len);

/* Stops timers, joins the sealing thread, wipes the work areas, frees
   everything (the X25519 key is wiped). Must run before the signer, the
   agreement and the mesh are destroyed. Safe on NULL. */
void
node_capsule_destroy (node_capsule_t **self_p);

/* True for the control request types this component answers. */
bool
node_capsule_handles (uint32_t type);

/* Handles one control request (the message's descriptors are taken). */
void
node_capsule_request (node_capsule_t *self, void *client, wd_chan_msg_t *msg);

/* The client has gone: replies still pending for it are dropped. Safe on
   NULL. */
void
node_capsule_client_gone (node_capsule_t *self, void *client);

/* The parent's SANDBOX_DONE for job `peer`. */
void
node_capsule_sandbox_done (node_capsule_t *self, uint32_t peer, const uint8_t *body, size_t len);

/* The default work area of a configuration: capsule/work_dir, or
   /dev/shm/warden-<node/name>. Returns 0, or -1 when it does not fit. */
int
node_capsule_work_dir (const wd_config_t *cfg, char *out, size_t size);

#endif
