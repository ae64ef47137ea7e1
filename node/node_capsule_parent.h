/*
 * node_capsule_parent: the wardend parent's side of capsule execution
 * (DESIGN.md §4: the parent spawns sandboxes; docs/ARCHITECTURE.md
 * "Capsules in the engine"). The engine prepares a task's work area on a
 * tmpfs and sends SANDBOX_RUN; the parent checks the request (the work
 * area must be a task directory directly under the configured
 * capsule/work_dir, the limits within the task bounds), starts the program
 * with capsule_sandbox (read-only root, /code and /in bound read-only, an
 * exported tmpfs of output_bytes at /out, a private /tmp), polls it in its
 * own loop, copies the regular files the program left in /out into the
 * work area's out/ and answers SANDBOX_DONE with the result. The parent
 * parses nothing but the engine's fixed-shape request.
 */
#ifndef NODE_CAPSULE_PARENT_H
#define NODE_CAPSULE_PARENT_H

#include <poll.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_chan.h"
#include "wd_config.h"

#define NODE_CAPSULE_PARENT_JOBS 4 /* sandboxes running at once */

typedef struct node_capsule_parent node_capsule_parent_t;

/* Aborts on out-of-memory. */
node_capsule_parent_t *
node_capsule_parent_new (void);

/* Kills and wipes every sandbox still running; frees. Safe on NULL. */
void
node_capsule_parent_destroy (node_capsule_parent_t **self_p);

/* True for the engine's messages handled here (SANDBOX_RUN, SANDBOX_KILL). */
bool
node_capsule_parent_handles (uint32_t type);

/* Handles one engine message under configuration cfg (borrowed for the
   call); answers on engine. */
void
node_capsule_parent_request (node_capsule_parent_t *self, const wd_config_t *cfg, wd_chan_t *engine,
                             const wd_chan_msg_t *msg);

/* Fills fds (room for NODE_CAPSULE_PARENT_JOBS) with the running
   sandboxes' descriptors; returns how many. */
size_t
node_capsule_parent_fds (node_capsule_parent_t *self, struct pollfd *fds);

/* After poll: collects the sandboxes whose descriptor is ready (fds as
   filled by node_capsule_parent_fds) and answers the finished ones on
   engine (NULL: the engine has gone; results are dropped). */
void
node_capsule_parent_dispatch (node_capsule_parent_t *self, const struct pollfd *fds, size_t count,
                              wd_chan_t *engine);

/* The engine has gone: kill every sandbox (results are dropped). */
void
node_capsule_parent_engine_gone (node_capsule_parent_t *self);

#endif
