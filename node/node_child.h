/*
 * node_child: what the keys and engine processes share — receiving the
 * parent's INIT, a signalfd for SIGTERM/SIGINT, and treating a malformed
 * message from another wardend process as fatal (DESIGN.md §4).
 */
#ifndef NODE_CHILD_H
#define NODE_CHILD_H

#include "node_proc.h"
#include "wd_chan.h"
#include "wd_config.h"

/* Locks the process down, opens the parent channel on NODE_PROC_CHAN_FD and
   waits for INIT; returns the configuration (the log level is applied).
   Exits on any failure. *parent gets the channel. */
wd_config_t *
node_child_start (node_proc_role_t role, wd_chan_t **parent);

/* Blocks SIGTERM, SIGINT and SIGHUP and returns a signalfd for them. */
int
node_child_signalfd (void);

/* Sends WD_MSG_ERROR {code, message} to the parent and exits with status 3:
   a start-up failure the parent reports to the operator. */
void
node_child_fail (wd_chan_t *parent, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4), noreturn));

/* Sends a message with a body, or exits: losing the channel to a sibling
   or the parent is not recoverable inside a child. Returns false only when
   the other end has closed the channel. */
bool
node_child_send (wd_chan_t *chan, uint32_t type, uint32_t peer, const void *body, size_t len,
                 const int *fds, size_t nfds);

#endif
