/*
 * capsule_sandbox: runs one capsule task's program in a throw-away sandbox
 * (DESIGN.md §9, issue 9 item 4). The wardend parent (root) calls it; the
 * program runs as an unprivileged uid in fresh user, PID, mount, IPC, UTS and
 * network namespaces (only a downed loopback), on a read-only root with
 * size-capped tmpfs mounts, with every capability dropped, no_new_privs and a
 * default-deny seccomp filter. Memory, process count and CPU time are limited
 * through cgroup v2, else writable cgroup v1 controllers, else rlimits (and
 * the result says "rlimit-only"); a wall-clock deadline kills the whole
 * process tree. The result carries the exit status or signal, which limit
 * tripped, measured usage and any degraded mode, for the capsule receipt.
 *
 * Two ways to drive it: capsule_sandbox_start + capsule_sandbox_fd +
 * capsule_sandbox_collect for the parent's poll loop (never blocks after
 * start), or capsule_sandbox_run (blocking) for tests and the bench.
 * capsule_sandbox_wipe (also done by destroy) removes everything the sandbox
 * created: the exported tmpfs (freed with its last fd), the /dev skeleton
 * directory, the cgroups, capture buffers (zeroed).
 *
 * Threads: one handle is used by one thread. Start from a thread that lives
 * at least as long as the sandbox (the program is killed when the thread
 * that started it exits: PR_SET_PDEATHSIG). The program is an ordinary
 * child once exec'ed (the kernel sends SIGCHLD when it ends): a reaper
 * elsewhere in the process must wait for its own pids only, never
 * waitpid (-1, ...), or the result says "exit status lost".
 */
#ifndef CAPSULE_SANDBOX_H
#define CAPSULE_SANDBOX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "capsule_err.h"

#define CAPSULE_SANDBOX_MAX_BINDS  16
#define CAPSULE_SANDBOX_MAX_TMPFS  8
#define CAPSULE_SANDBOX_REASON_MAX 160

/* Host uid/gid the program runs as when the spec names none: nobody. */
#define CAPSULE_SANDBOX_DEFAULT_HOST_ID 65534
/* The uid/gid the program sees inside its user namespace. */
#define CAPSULE_SANDBOX_INNER_ID 1000

/* A host path bound into the sandbox at dst (absolute, inside the root).
   Read-only unless writable. The mount point dst must exist in the root. */
typedef struct {
    const char *src;
    const char *dst;
    bool writable;
} capsule_sandbox_bind_t;

/* A tmpfs of size_bytes (> 0) at dst (absolute; the mount point must exist in
   the root), mounted inside the sandbox's own mount namespace. A private
   tmpfs is gone when the sandbox ends (use it for /tmp). An exported tmpfs
   is also held open by the parent (a directory fd taken before the program
   starts), so the parent can read what the program left there after it
   ended (capsule_sandbox_export_fd / _path) until the wipe frees it; nothing
   is mounted on the host. Use it for /out with size_bytes =
   limits.output_bytes. When an exported tmpfs is full at the end, the
   result says the "output" limit tripped. */
typedef struct {
    const char *dst;
    uint64_t size_bytes;
    bool exported;
} capsule_sandbox_tmpfs_t;

/* Limits; 0 means "no limit" for each (wall_ms 0 is allowed but a task
   should always carry one). output_bytes bounds each capture buffer whose
   own bound is 0. */
typedef struct {
    uint64_t wall_ms;
    uint64_t cpu_ms;
    uint64_t mem_bytes;
    uint64_t pids;
    uint64_t output_bytes;
} capsule_sandbox_limits_t;

typedef enum {
    CAPSULE_SANDBOX_STREAM_NULL = 0, /* /dev/null */
    CAPSULE_SANDBOX_STREAM_FD,       /* write to fd (borrowed; not bounded) */
    CAPSULE_SANDBOX_STREAM_CAPTURE   /* capture, bounded: over the bound the
                                        sandbox is killed, limit "output" */
} capsule_sandbox_stream_mode_t;

typedef struct {
    capsule_sandbox_stream_mode_t mode;
    int fd;             /* STREAM_FD: the caller's fd, dup'ed into the child */
    size_t capture_max; /* STREAM_CAPTURE: bytes kept; 0 = limits.output_bytes */
} capsule_sandbox_stream_t;

/* Everything the sandbox needs. Borrowed: capsule_sandbox_start copies what
   it keeps, so the spec and its strings may go away after it returns. */
typedef struct {
    const char *root; /* host directory mounted read-only as / */
    const capsule_sandbox_bind_t *binds;
    size_t bind_count; /* <= CAPSULE_SANDBOX_MAX_BINDS */
    const capsule_sandbox_tmpfs_t *tmpfs;
    size_t tmpfs_count; /* <= CAPSULE_SANDBOX_MAX_TMPFS */
    char *const *argv;  /* argv[0] = program path inside the sandbox */
    char *const *envp;  /* NULL = empty environment */
    const char *cwd;    /* inside the sandbox; NULL = "/" */
    capsule_sandbox_limits_t limits;
    capsule_sandbox_stream_t out; /* stdout */
    capsule_sandbox_stream_t err; /* stderr */
    /* stdin is always /dev/null. */
    bool proc;      /* mount a fresh procfs at /proc (must exist in root) */
    bool dev;       /* a minimal /dev (null zero full random urandom) on a
                       tmpfs at /dev (must exist in root) */
    uid_t host_uid; /* host uid the program runs as; 0 = nobody (65534).
                       Never root: the uid is only mapped, never real 0. */
    gid_t host_gid; /* likewise; 0 = nogroup (65534) */
    /* Optional: a delegated cgroup v2 directory (e.g. systemd Delegate=yes)
       to create the sandbox cgroups under; NULL = detect (see probe). */
    const char *cgroup_parent;
} capsule_sandbox_spec_t;

/* Which limit ended the run (the first one that tripped). */
typedef enum {
    CAPSULE_SANDBOX_LIMIT_NONE = 0,
    CAPSULE_SANDBOX_LIMIT_WALL,
    CAPSULE_SANDBOX_LIMIT_CPU,
    CAPSULE_SANDBOX_LIMIT_MEMORY,
    CAPSULE_SANDBOX_LIMIT_PIDS,
    CAPSULE_SANDBOX_LIMIT_OUTPUT
} capsule_sandbox_limit_t;

/* Degraded modes (bits). Names for the receipt's `degraded` list come from
   capsule_sandbox_degraded_names. Seccomp is never degraded: if the filter
   cannot be installed the program does not run. */
#define CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY                                                       \
    0x01u                                           /* "rlimit-only": no writable                  \
                                                       cgroup controller */
#define CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY 0x02u /* "no-cgroup-memory" */
#define CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS   0x04u /* "no-cgroup-pids" */
#define CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU    0x08u /* "no-cgroup-cpu" */

typedef struct {
    bool exited;                    /* true: exit_code is valid; false: signal is */
    int exit_code;                  /* of the program (PID 1 of the sandbox) */
    int signal;                     /* the signal that ended it, 0 if it exited */
    capsule_sandbox_limit_t killed; /* which limit tripped, or NONE */
    uint64_t cpu_user_us;
    uint64_t cpu_sys_us;
    uint64_t wall_us;
    uint64_t peak_mem_bytes;                 /* cgroup peak, else the largest process RSS */
    unsigned degraded;                       /* CAPSULE_SANDBOX_DEGRADED_* bits */
    char reason[CAPSULE_SANDBOX_REASON_MAX]; /* e.g. "exited 0", "killed:
                                                memory limit (64 MiB)" */
} capsule_sandbox_result_t;

typedef struct capsule_sandbox capsule_sandbox_t;

/* Starts the program. Returns 0 and a handle in *self_p once the program has
   been exec'ed inside the sandbox; or a CAPSULE_ERR_SANDBOX_* code with a
   sentence in why (if not NULL) and nothing left behind. Blocks only for
   the sandbox setup (milliseconds). */
int
capsule_sandbox_start (const capsule_sandbox_spec_t *spec, capsule_sandbox_t **self_p, char *why,
                       size_t why_size) __attribute__ ((warn_unused_result));

/* A file descriptor that polls readable (POLLIN) whenever
   capsule_sandbox_collect has work to do (program output, a limit check,
   the deadline, the end). Borrowed: valid until wipe or destroy. */
int
capsule_sandbox_fd (capsule_sandbox_t *self);

/* Non-blocking: drains captured output, enforces limits, and when the whole
   sandbox has ended fills *result and returns 0. Returns 1 while it is still
   running (poll capsule_sandbox_fd again). After 0, further calls return 0
   with the same result. */
int
capsule_sandbox_collect (capsule_sandbox_t *self, capsule_sandbox_result_t *result)
    __attribute__ ((warn_unused_result));

/* Blocks until the sandbox has ended; fills *result. Returns 0. */
int
capsule_sandbox_wait (capsule_sandbox_t *self, capsule_sandbox_result_t *result);

/* start + wait. On 0 the caller owns *self_p (captured output and exported
   directories stay readable until wipe or destroy). */
int
capsule_sandbox_run (const capsule_sandbox_spec_t *spec, capsule_sandbox_t **self_p,
                     capsule_sandbox_result_t *result, char *why, size_t why_size)
    __attribute__ ((warn_unused_result));

/* Kills the whole sandbox now (e.g. the node is shutting down). The result
   then says signal 9 with reason "killed by the node". Non-blocking. */
void
capsule_sandbox_kill (capsule_sandbox_t *self);

/* Host pid of the sandbox's PID 1 (the program). */
pid_t
capsule_sandbox_pid (capsule_sandbox_t *self);

/* Captured bytes of stdout (stream 1) or stderr (stream 2); *len_p gets the
   length. Borrowed: valid until wipe or destroy. NULL when not captured. */
const uint8_t *
capsule_sandbox_captured (capsule_sandbox_t *self, int stream, size_t *len_p);

/* A directory fd on the index-th tmpfs of the spec if it was exported, else
   -1 (use openat, or fdopendir on a dup). Borrowed: valid until wipe or
   destroy. Read it after the end. */
int
capsule_sandbox_export_fd (capsule_sandbox_t *self, size_t index);

/* The same directory as a path ("/proc/self/fd/N"), valid in this process
   only, or NULL. Borrowed: valid until wipe or destroy. */
const char *
capsule_sandbox_export_path (capsule_sandbox_t *self, size_t index);

/* Removes what the sandbox created: kills and reaps the program if it still
   runs (blocking briefly), closes the exported tmpfs (the kernel frees it),
   removes the /dev skeleton directory and the cgroups, zeroes and frees
   capture buffers. Idempotent. */
void
capsule_sandbox_wipe (capsule_sandbox_t *self);

/* Wipes and frees; safe on NULL. */
void
capsule_sandbox_destroy (capsule_sandbox_t **self_p);

/* The limit's receipt name ("wall", "cpu", "memory", "pids", "output"), or
   NULL for NONE. Static storage. */
const char *
capsule_sandbox_limit_name (capsule_sandbox_limit_t limit);

/* Fills names[] with the receipt names of the degraded bits (at most max,
   static storage) and returns how many. */
size_t
capsule_sandbox_degraded_names (unsigned degraded, const char **names, size_t max);

/* What this host offers, for the operator (wardend's start-up log): the
   degraded bits a run would get, and a one-line description such as
   "cgroup v1 (memory pids cpuacct)" or "rlimit-only". */
unsigned
capsule_sandbox_probe (char *desc, size_t desc_size);

#endif
