/*
 * node_parent: wardend's root parent (DESIGN.md §4). It parses no network
 * input: it starts the keys and engine children, hands them a fresh
 * socketpair to talk over whenever either starts, restarts a child that
 * dies (with backoff), reloads on SIGHUP by restarting its children with the
 * new configuration, and on SIGTERM stops them all within
 * NODE_PARENT_STOP_MS before exiting.
 */
#ifndef NODE_PARENT_H
#define NODE_PARENT_H

#include "wd_config.h"

#define NODE_PARENT_STOP_MS     4500
#define NODE_PARENT_START_MS    10000 /* a child must be ready within this */
#define NODE_PARENT_BACKOFF_MS  250   /* first restart delay, doubled per quick failure */
#define NODE_PARENT_BACKOFF_MAX 30000
#define NODE_PARENT_STABLE_MS   10000 /* a child up this long resets the backoff */

/* Runs the parent. Takes ownership of *cfg_p. config_path is re-read on
   SIGHUP, and log_level (the -l option, or NULL) applied again over it.
   Returns the exit status: 0 after a clean stop, 1 when start-up failed
   (the reason is logged). */
int
node_parent_main (const char *config_path, const char *log_level, wd_config_t **cfg_p);

#endif
