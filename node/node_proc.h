/*
 * node_proc: how wardend's children are made (DESIGN.md §4). The parent
 * forks and re-executes its own binary with "--child ROLE", the channel to
 * the parent on descriptor NODE_PROC_CHAN_FD; the child then locks itself
 * down before touching any input.
 */
#ifndef NODE_PROC_H
#define NODE_PROC_H

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define NODE_PROC_CHAN_FD 3

typedef enum {
    NODE_PROC_KEYS,
    NODE_PROC_ENGINE,
    NODE_PROC_PXE, /* only when pxe/enable is true */
    NODE_PROC_COUNT,
} node_proc_role_t;

/* "keys", "engine", "pxe". */
const char *
node_proc_name (node_proc_role_t role);

/* Parses a role name; returns -1 for an unknown one. */
int
node_proc_role (const char *name);

/* Forks and executes exe as "wardend --child ROLE" with chan_fd as
   descriptor NODE_PROC_CHAN_FD and the signal mask cleared. Returns the
   child's pid or -1 with errno. chan_fd stays open in the caller. */
pid_t
node_proc_spawn (const char *exe, node_proc_role_t role, int chan_fd);

/* Called first thing in a child: dies with the parent (SIGTERM), may never
   gain privileges (no_new_privs), and is not dumpable (no core files, no
   ptrace by other users) since children hold keys and parse input. The
   seccomp filter of each role is applied here once the roles' system call
   sets are pinned down (see docs/ARCHITECTURE.md "Privilege separation").
   A parent that died before this call is noticed as end-of-file on the
   channel. */
void
node_proc_lockdown (node_proc_role_t role);

/* Blocks the count signals listed and returns a close-on-exec, non-blocking
   signalfd that delivers them. Exits on failure (start-up only). */
int
node_proc_signalfd (const int *signals, size_t count);

/* Monotonic clock in milliseconds. */
uint64_t
node_proc_now_ms (void);

#endif
