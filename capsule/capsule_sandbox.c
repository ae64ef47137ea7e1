/*
 * capsule_sandbox: the executor sandbox (see capsule_sandbox.h).
 *
 * Parent side (this process, normally root): validates the spec, prepares
 * every string and the seccomp BPF program before the child exists (the
 * child must not allocate: it is a raw clone of a possibly multi-threaded
 * process), creates the cgroups, clones the child into fresh namespaces,
 * writes its uid/gid maps, moves it into the cgroups and lets it go. It then
 * waits on an error pipe that closes when the program is exec'ed (or carries
 * the failing setup stage and errno). While the program runs, one epoll fd
 * (pidfd, capture pipes, wall deadline timer, limit-check tick) tells the
 * parent's poll loop when capsule_sandbox_collect has work.
 *
 * Child side (between clone and execve): mounts (read-only root, tmpfs,
 * binds, /dev, /proc), pivot_root, hostname, then after the parent's go:
 * supplementary groups cleared, uid/gid switched to the mapped unprivileged
 * id, bounding/ambient/permitted capabilities dropped, PR_SET_PDEATHSIG,
 * no_new_privs, rlimits, stdio, seccomp, execve. Only system calls, no libc
 * state: glibc's set*id wrappers broadcast to threads copied from the parent
 * and are therefore called as raw system calls.
 */
#include "capsule_sandbox.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <poll.h>
#include <pthread.h>
#include <sched.h>
#include <seccomp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/syscall.h>
#include <sys/timerfd.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <linux/filter.h>
#include <linux/seccomp.h>

#include "capsule_env.h"
#include "wd_log.h"

#ifndef CLONE_NEWCGROUP
#define CLONE_NEWCGROUP 0x02000000
#endif
#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#define S_PATH_MAX   4096
#define S_TICK_MS    20 /* limit-check period while the program runs */
#define S_DEV_COUNT  5  /* /dev entries bound from the host */
#define S_MAX_MOUNTS 32 /* child mount plan entries */

static const char *s_dev_names[S_DEV_COUNT] = { "null", "zero", "full", "random", "urandom" };

/* ---- Host facts, probed once ------------------------------------------ */

typedef enum { S_CG_NONE = 0, S_CG_V1, S_CG_V2 } s_cg_mode_t;

typedef struct {
    s_cg_mode_t mode;
    char v2_base[S_PATH_MAX];  /* cgroup v2 directory to create under */
    char mem_base[S_PATH_MAX]; /* cgroup v1 per-controller bases ("" = none) */
    char pids_base[S_PATH_MAX];
    char cpu_base[S_PATH_MAX]; /* cpuacct */
    unsigned degraded;
    char desc[128];
} s_host_t;

static s_host_t s_host;
static pthread_once_t s_host_once = PTHREAD_ONCE_INIT;

/* ---- Seccomp program, built once -------------------------------------- */

static struct sock_fprog s_filter;
static int s_filter_rc = -1;
static pthread_once_t s_filter_once = PTHREAD_ONCE_INIT;

/* ---- The child's plan: every byte the child reads, prepared before clone */

typedef enum {
    S_MNT_TMPFS, /* mount tmpfs at target with data */
    S_MNT_BIND,  /* bind src on target, then remount with flags (RDONLY...) */
    S_MNT_PROC,
} s_mnt_kind_t;

typedef struct {
    s_mnt_kind_t kind;
    const char *src;
    const char *target;
    const char *data;
    unsigned long remount; /* extra MS_* for the bind remount */
} s_mnt_t;

typedef enum {
    S_STAGE_NONE = 0,
    S_STAGE_MOUNT_PRIVATE,
    S_STAGE_MOUNT_ROOT,
    S_STAGE_MOUNT,
    S_STAGE_PIVOT,
    S_STAGE_HOSTNAME,
    S_STAGE_SYNC,
    S_STAGE_GROUPS,
    S_STAGE_GID,
    S_STAGE_CAPS,
    S_STAGE_UID,
    S_STAGE_PRCTL,
    S_STAGE_RLIMIT,
    S_STAGE_STDIO,
    S_STAGE_CWD,
    S_STAGE_SECCOMP,
    S_STAGE_EXEC
} s_stage_t;

typedef struct {
    const char *root;
    s_mnt_t mounts[S_MAX_MOUNTS];
    size_t mount_count;
    const char *cwd;
    char *const *argv;
    char *const *envp;
    int stdio[3];
    int sync_fd;  /* read end: parent's go */
    int error_fd; /* write end: {stage, errno} on failure */
    bool set_groups;
    struct rlimit rl_cpu, rl_as, rl_nproc;
    bool use_cpu, use_as, use_nproc;
} s_plan_t;

typedef struct {
    int32_t stage;
    int32_t err;
    int32_t index;
} s_child_report_t;

/* ---- The handle -------------------------------------------------------- */

struct capsule_sandbox {
    pid_t pid;
    int pidfd;
    int epfd;
    int wall_fd;
    int tick_fd;
    int cap_fd[3]; /* capture read ends (index 1, 2) */
    uint8_t *cap_buf[3];
    size_t cap_len[3];
    size_t cap_max[3];
    capsule_sandbox_limits_t limits;
    uint64_t t0_ns;
    uint64_t end_ns;
    s_cg_mode_t cg_mode;
    char cg_v2[S_PATH_MAX];
    char cg_mem[S_PATH_MAX];
    char cg_pids[S_PATH_MAX];
    char cg_cpu[S_PATH_MAX];
    unsigned degraded;
    char *workdir;                            /* host directory for the /dev skeleton */
    int export_fd[CAPSULE_SANDBOX_MAX_TMPFS]; /* exported tmpfs roots, or -1 */
    char export_path[CAPSULE_SANDBOX_MAX_TMPFS][32];
    capsule_sandbox_limit_t killed;
    bool killed_by_node;
    bool reaped;
    bool status_lost;
    bool done;
    bool wiped;
    int status;
    struct rusage rusage;
    capsule_sandbox_result_t result;
};

static atomic_uint s_sequence;

/* ---- Small helpers ----------------------------------------------------- */

static uint64_t
s_now_ns (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

static void
s_why (char *why, size_t why_size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static void
s_why (char *why, size_t why_size, const char *fmt, ...)
{
    if (!why || why_size == 0)
        return;
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (why, why_size, fmt, ap);
    va_end (ap);
}

static bool
s_join (char *out, size_t size, const char *a, const char *b)
{
    int n = snprintf (out, size, "%s%s", a, b);
    return n > 0 && (size_t)n < size;
}

/* Writes a string to dir/name. Returns 0 or -errno. */
static int
s_write_file (const char *dir, const char *name, const char *text)
{
    char path[S_PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open (path, O_WRONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t len = strlen (text);
    ssize_t n = write (fd, text, len);
    int rc = n == (ssize_t)len ? 0 : (n < 0 ? -errno : -EIO);
    close (fd);
    return rc;
}

/* Reads up to size-1 bytes of dir/name into buf (NUL-terminated). */
static int
s_read_file (const char *dir, const char *name, char *buf, size_t size)
{
    char path[S_PATH_MAX];
    if (snprintf (path, sizeof path, "%s/%s", dir, name) >= (int)sizeof path)
        return -ENAMETOOLONG;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -errno;
    size_t got = 0;
    while (got + 1 < size) {
        ssize_t n = read (fd, buf + got, size - 1 - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close (fd);
    buf[got] = '\0';
    return 0;
}

/* The number after `key ` on a line of dir/name ("oom_kill 3"), or after
   nothing when key is NULL (a file holding one number). 0 when absent. */
static uint64_t
s_read_u64 (const char *dir, const char *name, const char *key)
{
    char buf[2048];
    if (!dir[0] || s_read_file (dir, name, buf, sizeof buf) < 0)
        return 0;
    const char *p = buf;
    if (key) {
        size_t klen = strlen (key);
        p = NULL;
        for (const char *line = buf; line && *line;) {
            if (strncmp (line, key, klen) == 0 && line[klen] == ' ') {
                p = line + klen + 1;
                break;
            }
            line = strchr (line, '\n');
            if (line)
                line++;
        }
        if (!p)
            return 0;
    }
    return strtoull (p, NULL, 10);
}

/* ---- Host probe: which cgroup controllers can we write? ---------------- */

/* Mount point of the cgroup hierarchy whose super options include `opt`
   (v1), or of the cgroup2 file system when opt is NULL. */
static bool
s_find_cgroup_mount (const char *opt, char *out, size_t size)
{
    FILE *f = fopen ("/proc/self/mountinfo", "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets (line, sizeof line, f)) {
        /* id parent maj:min root mountpoint opts [optional...] - fstype source super */
        char *sep = strstr (line, " - ");
        if (!sep)
            continue;
        *sep = '\0';
        char mountpoint[512], fstype[32], source[256], super[512];
        if (sscanf (line, "%*s %*s %*s %*s %511s", mountpoint) != 1 ||
            sscanf (sep + 3, "%31s %255s %511s", fstype, source, super) != 3)
            continue;
        if (!opt)
            found = strcmp (fstype, "cgroup2") == 0;
        else if (strcmp (fstype, "cgroup") == 0) {
            char *save = NULL;
            for (char *o = strtok_r (super, ",", &save); o; o = strtok_r (NULL, ",", &save))
                if (strcmp (o, opt) == 0)
                    found = true;
        }
        if (found && snprintf (out, size, "%s", mountpoint) >= (int)size)
            found = false;
    }
    fclose (f);
    return found;
}

/* Our own cgroup path in the hierarchy with controller `ctl` ("" for v2). */
static bool
s_own_cgroup (const char *ctl, char *out, size_t size)
{
    FILE *f = fopen ("/proc/self/cgroup", "re");
    if (!f)
        return false;
    char line[1024];
    bool found = false;
    while (!found && fgets (line, sizeof line, f)) {
        char *c1 = strchr (line, ':');
        char *c2 = c1 ? strchr (c1 + 1, ':') : NULL;
        if (!c2)
            continue;
        *c2 = '\0';
        char *path = c2 + 1;
        path[strcspn (path, "\n")] = '\0';
        const char *ctls = c1 + 1;
        bool match = false;
        if (!ctl[0])
            match = ctls[0] == '\0';
        else {
            char copy[256];
            snprintf (copy, sizeof copy, "%s", ctls);
            char *s2 = NULL;
            for (char *o = strtok_r (copy, ",", &s2); o; o = strtok_r (NULL, ",", &s2))
                if (strcmp (o, ctl) == 0)
                    match = true;
        }
        if (match) {
            found = snprintf (out, size, "%s", strcmp (path, "/") == 0 ? "" : path) < (int)size;
        }
    }
    fclose (f);
    return found;
}

/* True when we can create (and remove) a child cgroup under base. */
static bool
s_cgroup_writable (const char *base)
{
    char probe[S_PATH_MAX];
    if (snprintf (probe, sizeof probe, "%s/warden-sbx-probe-%d", base, (int)getpid ()) >=
        (int)sizeof probe)
        return false;
    if (mkdir (probe, 0755) < 0 && errno != EEXIST)
        return false;
    rmdir (probe);
    return true;
}

static bool
s_v1_base (const char *ctl, char *out, size_t size)
{
    char mnt[S_PATH_MAX], own[S_PATH_MAX];
    if (!s_find_cgroup_mount (ctl, mnt, sizeof mnt) || !s_own_cgroup (ctl, own, sizeof own))
        return false;
    if (snprintf (out, size, "%s%s", mnt, own) >= (int)size)
        return false;
    if (!s_cgroup_writable (out)) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* cgroup v2 is usable when base offers memory and pids to its children (we
   enable them in its subtree_control if needed). */
static bool
s_v2_usable (const char *base)
{
    char buf[512];
    if (s_read_file (base, "cgroup.subtree_control", buf, sizeof buf) < 0)
        return false;
    bool mem = strstr (buf, "memory") != NULL, pids = strstr (buf, "pids") != NULL;
    if (!mem || !pids) {
        if (s_read_file (base, "cgroup.controllers", buf, sizeof buf) < 0)
            return false;
        if (!strstr (buf, "memory") || !strstr (buf, "pids"))
            return false;
        if (s_write_file (base, "cgroup.subtree_control", "+memory +pids") < 0)
            return false;
    }
    return s_cgroup_writable (base);
}

static void
s_probe_host (void)
{
    s_host_t *h = &s_host;
    memset (h, 0, sizeof *h);
    char mnt[S_PATH_MAX], own[S_PATH_MAX];
    if (s_find_cgroup_mount (NULL, mnt, sizeof mnt) && s_own_cgroup ("", own, sizeof own) &&
        snprintf (h->v2_base, sizeof h->v2_base, "%s%s", mnt, own) < (int)sizeof h->v2_base &&
        s_v2_usable (h->v2_base))
        h->mode = S_CG_V2;
    if (h->mode == S_CG_V2) {
        snprintf (h->desc, sizeof h->desc, "cgroup v2 (memory pids cpu.stat)");
        return;
    }
    h->v2_base[0] = '\0';
    bool mem = s_v1_base ("memory", h->mem_base, sizeof h->mem_base);
    bool pids = s_v1_base ("pids", h->pids_base, sizeof h->pids_base);
    bool cpu = s_v1_base ("cpuacct", h->cpu_base, sizeof h->cpu_base);
    if (!mem && !pids && !cpu) {
        h->degraded = CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY;
        snprintf (h->desc, sizeof h->desc, "rlimit-only (no writable cgroup controller)");
        return;
    }
    h->mode = S_CG_V1;
    if (!mem)
        h->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY;
    if (!pids)
        h->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS;
    if (!cpu)
        h->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU;
    snprintf (h->desc, sizeof h->desc, "cgroup v1 (%s%s%s)", mem ? "memory " : "",
              pids ? "pids " : "", cpu ? "cpuacct" : "");
}

unsigned
capsule_sandbox_probe (char *desc, size_t desc_size)
{
    pthread_once (&s_host_once, s_probe_host);
    if (desc && desc_size)
        snprintf (desc, desc_size, "%s", s_host.desc);
    return s_host.degraded;
}

/* ---- Seccomp ------------------------------------------------------------ */

/* What ordinary programs need (a static C program; busybox sh, sort, comm,
   cat). Anything not listed fails with EPERM; the hostile list below kills
   the process (SIGSYS). */
static const char *s_allowed[] = {
    "read", "write", "readv", "writev", "pread64", "pwrite64", "preadv", "pwritev", "preadv2",
    "pwritev2", "open", "openat", "openat2", "close", "close_range", "creat", "lseek", "stat",
    "fstat", "lstat", "newfstatat", "statx", "statfs", "fstatfs", "access", "faccessat",
    "faccessat2", "readlink", "readlinkat", "getdents", "getdents64", "getcwd", "chdir", "fchdir",
    "mkdir", "mkdirat", "rmdir", "unlink", "unlinkat", "rename", "renameat", "renameat2", "link",
    "linkat", "symlink", "symlinkat", "chmod", "fchmod", "fchmodat", "umask", "truncate",
    "ftruncate", "fsync", "fdatasync", "sync_file_range", "fallocate", "fadvise64", "utime",
    "utimes", "utimensat", "futimesat", "flock", "fcntl", "dup", "dup2", "dup3", "pipe", "pipe2",
    "select", "pselect6", "poll", "ppoll", "epoll_create", "epoll_create1", "epoll_ctl",
    "epoll_wait", "epoll_pwait", "epoll_pwait2", "eventfd", "eventfd2", "timerfd_create",
    "timerfd_settime", "timerfd_gettime", "signalfd", "signalfd4", "sendfile", "copy_file_range",
    "splice", "tee", "mmap", "munmap", "mprotect", "mremap", "msync", "mincore", "madvise", "brk",
    "rt_sigaction", "rt_sigprocmask", "rt_sigreturn", "rt_sigpending", "rt_sigtimedwait",
    "rt_sigsuspend", "sigaltstack", "pause", "nanosleep", "clock_nanosleep", "clock_gettime",
    "clock_getres", "gettimeofday", "time", "getitimer", "setitimer", "alarm", "getpid", "getppid",
    "gettid", "getuid", "geteuid", "getgid", "getegid", "getresuid", "getresgid", "getgroups",
    "getpgrp", "getpgid", "setpgid", "getsid", "setsid", "fork", "vfork", "execve", "execveat",
    "exit", "exit_group", "wait4", "waitid", "kill", "tkill", "tgkill", "uname", "sysinfo", "times",
    "getrusage", "getrlimit", "setrlimit", "prlimit64", "arch_prctl", "set_tid_address",
    "set_robust_list", "get_robust_list", "futex", "futex_waitv", "rseq", "sched_yield",
    "sched_getaffinity", "sched_setaffinity", "sched_getparam", "sched_getscheduler",
    "sched_get_priority_max", "sched_get_priority_min", "getpriority", "setpriority", "getrandom",
    "memfd_create", "membarrier", "getcpu", "capget", "restart_syscall",
    /* AF_UNIX only: socket and socketpair are filtered on the family below */
    "connect", "bind", "listen", "accept", "accept4", "sendto", "recvfrom", "sendmsg", "recvmsg",
    "shutdown", "getsockname", "getpeername", "getsockopt", "setsockopt"
};

/* Never needed by an ordinary program; a call is an escape attempt: kill. */
static const char *s_killed[] = { "ptrace",
                                  "mount",
                                  "umount2",
                                  "pivot_root",
                                  "chroot",
                                  "unshare",
                                  "setns",
                                  "bpf",
                                  "perf_event_open",
                                  "keyctl",
                                  "add_key",
                                  "request_key",
                                  "kexec_load",
                                  "kexec_file_load",
                                  "init_module",
                                  "finit_module",
                                  "delete_module",
                                  "reboot",
                                  "swapon",
                                  "swapoff",
                                  "process_vm_readv",
                                  "process_vm_writev",
                                  "userfaultfd",
                                  "open_by_handle_at",
                                  "name_to_handle_at",
                                  "iopl",
                                  "ioperm",
                                  "acct",
                                  "quotactl",
                                  "syslog",
                                  "settimeofday",
                                  "clock_settime",
                                  "clock_adjtime",
                                  "adjtimex",
                                  "fanotify_init",
                                  "io_uring_setup",
                                  "io_uring_enter",
                                  "io_uring_register",
                                  "fsopen",
                                  "fsmount",
                                  "fsconfig",
                                  "fspick",
                                  "move_mount",
                                  "open_tree",
                                  "mount_setattr",
                                  "kcmp",
                                  "pidfd_getfd",
                                  "lookup_dcookie",
                                  "vhangup",
                                  "uselib" };

static int
s_rule (scmp_filter_ctx ctx, uint32_t action, const char *name, unsigned argc,
        const struct scmp_arg_cmp *args)
{
    int nr = seccomp_syscall_resolve_name (name);
    if (nr == __NR_SCMP_ERROR)
        return 0; /* not on this architecture */
    return seccomp_rule_add_array (ctx, action, nr, argc, args);
}

static void
s_build_filter (void)
{
    scmp_filter_ctx ctx = seccomp_init (SCMP_ACT_ERRNO (EPERM));
    if (!ctx)
        return;
    int rc = 0;
    for (size_t i = 0; rc == 0 && i < sizeof s_allowed / sizeof s_allowed[0]; i++)
        rc = s_rule (ctx, SCMP_ACT_ALLOW, s_allowed[i], 0, NULL);
    for (size_t i = 0; rc == 0 && i < sizeof s_killed / sizeof s_killed[0]; i++)
        rc = s_rule (ctx, SCMP_ACT_KILL_PROCESS, s_killed[i], 0, NULL);
    /* clone without any namespace flag; clone3 cannot be inspected (its
       flags are behind a pointer): ENOSYS makes libc fall back to clone. */
    const uint64_t ns_flags = CLONE_NEWNS | CLONE_NEWCGROUP | CLONE_NEWUTS | CLONE_NEWIPC |
                              CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNET | CLONE_NEWTIME;
    struct scmp_arg_cmp clone_ok = SCMP_A0 (SCMP_CMP_MASKED_EQ, ns_flags, 0);
    if (rc == 0)
        rc = s_rule (ctx, SCMP_ACT_ALLOW, "clone", 1, &clone_ok);
    if (rc == 0)
        rc = s_rule (ctx, SCMP_ACT_ERRNO (ENOSYS), "clone3", 0, NULL);
    /* Sockets: AF_UNIX only (there is no network: the namespace has only a
       downed loopback; this refuses even trying). */
    struct scmp_arg_cmp unix_only = SCMP_A0 (SCMP_CMP_EQ, AF_UNIX, 0);
    if (rc == 0)
        rc = s_rule (ctx, SCMP_ACT_ALLOW, "socket", 1, &unix_only);
    if (rc == 0)
        rc = s_rule (ctx, SCMP_ACT_ALLOW, "socketpair", 1, &unix_only);
    /* ioctl: terminal queries and fd flags only (no TIOCSTI and friends). */
    static const unsigned long ioctls[] = { TCGETS,  TIOCGWINSZ, TIOCGPGRP, FIONREAD,
                                            FIONBIO, FIOCLEX,    FIONCLEX };
    for (size_t i = 0; rc == 0 && i < sizeof ioctls / sizeof ioctls[0]; i++) {
        struct scmp_arg_cmp cmd = SCMP_A1 (SCMP_CMP_MASKED_EQ, 0xffffffffu, ioctls[i]);
        rc = s_rule (ctx, SCMP_ACT_ALLOW, "ioctl", 1, &cmd);
    }
    static const int prctls[] = { PR_SET_NAME,    PR_GET_NAME,         PR_GET_DUMPABLE,
                                  PR_GET_SECCOMP, PR_GET_NO_NEW_PRIVS, PR_CAPBSET_READ };
    for (size_t i = 0; rc == 0 && i < sizeof prctls / sizeof prctls[0]; i++) {
        struct scmp_arg_cmp opt = SCMP_A0 (SCMP_CMP_EQ, (uint64_t)prctls[i], 0);
        rc = s_rule (ctx, SCMP_ACT_ALLOW, "prctl", 1, &opt);
    }
    if (rc == 0)
        rc = seccomp_attr_set (ctx, SCMP_FLTATR_CTL_NNP, 0); /* we set it ourselves */
    if (rc == 0) {
        int fd = memfd_create ("capsule-seccomp", MFD_CLOEXEC);
        if (fd >= 0 && seccomp_export_bpf (ctx, fd) == 0) {
            off_t size = lseek (fd, 0, SEEK_END);
            if (size > 0 && size % (off_t)sizeof (struct sock_filter) == 0 && size < 65536) {
                struct sock_filter *prog = malloc ((size_t)size);
                if (prog && pread (fd, prog, (size_t)size, 0) == size) {
                    s_filter.filter = prog;
                    s_filter.len = (unsigned short)((size_t)size / sizeof *prog);
                    s_filter_rc = 0;
                } else
                    free (prog);
            }
        }
        if (fd >= 0)
            close (fd);
    }
    seccomp_release (ctx);
}

/* ---- Child side (async-signal-safe: system calls only) ----------------- */

static void __attribute__ ((noreturn))
s_child_fail (const s_plan_t *plan, s_stage_t stage, int index)
{
    s_child_report_t report = { (int32_t)stage, errno, index };
    ssize_t n = write (plan->error_fd, &report, sizeof report);
    (void)n;
    _exit (127);
}

/* Mount flags that a remount inside a user namespace must keep. */
static unsigned long
s_locked_flags (const char *path)
{
    struct statvfs sv;
    if (statvfs (path, &sv) < 0)
        return 0;
    unsigned long fl = 0;
    if (sv.f_flag & ST_NOSUID)
        fl |= MS_NOSUID;
    if (sv.f_flag & ST_NODEV)
        fl |= MS_NODEV;
    if (sv.f_flag & ST_NOEXEC)
        fl |= MS_NOEXEC;
    if (sv.f_flag & ST_NOATIME)
        fl |= MS_NOATIME;
    if (sv.f_flag & ST_NODIRATIME)
        fl |= MS_NODIRATIME;
    if (sv.f_flag & ST_RELATIME)
        fl |= MS_RELATIME;
    return fl;
}

static int
s_bind (const char *src, const char *target, unsigned long flags)
{
    if (mount (src, target, NULL, MS_BIND, NULL) < 0)
        return -1;
    return mount (NULL, target, NULL, MS_REMOUNT | MS_BIND | flags | s_locked_flags (target), NULL);
}

static void __attribute__ ((noreturn)) s_child (const s_plan_t *plan)
{
    if (mount (NULL, "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0)
        s_child_fail (plan, S_STAGE_MOUNT_PRIVATE, 0);
    if (s_bind (plan->root, plan->root, MS_RDONLY | MS_NOSUID | MS_NODEV) < 0)
        s_child_fail (plan, S_STAGE_MOUNT_ROOT, 0);
    for (size_t i = 0; i < plan->mount_count; i++) {
        const s_mnt_t *m = &plan->mounts[i];
        int rc = 0;
        if (m->kind == S_MNT_TMPFS)
            rc = mount ("tmpfs", m->target, "tmpfs", MS_NOSUID | MS_NODEV, m->data);
        else if (m->kind == S_MNT_PROC)
            rc = mount ("proc", m->target, "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, NULL);
        else
            rc = s_bind (m->src, m->target, m->remount);
        if (rc < 0)
            s_child_fail (plan, S_STAGE_MOUNT, (int)i);
    }
    if (chdir (plan->root) < 0 || syscall (SYS_pivot_root, ".", ".") < 0 ||
        umount2 (".", MNT_DETACH) < 0 || chdir ("/") < 0)
        s_child_fail (plan, S_STAGE_PIVOT, 0);
    if (sethostname ("capsule", 7) < 0)
        s_child_fail (plan, S_STAGE_HOSTNAME, 0);

    /* Mounted: the parent opens the exported tmpfs roots through
       /proc/<pid>/root, writes our uid/gid maps, moves us into the cgroups. */
    s_child_report_t ready = { S_STAGE_NONE, 0, 0 };
    if (write (plan->error_fd, &ready, sizeof ready) != (ssize_t)sizeof ready)
        s_child_fail (plan, S_STAGE_SYNC, 0);
    char go = 0;
    if (read (plan->sync_fd, &go, 1) != 1 || go != 'g') {
        errno = EPIPE;
        s_child_fail (plan, S_STAGE_SYNC, 0);
    }

    /* Raw system calls: glibc's wrappers would signal threads that only
       existed in the parent. */
    if (plan->set_groups && syscall (SYS_setgroups, 0, NULL) < 0)
        s_child_fail (plan, S_STAGE_GROUPS, 0);
    gid_t gid = CAPSULE_SANDBOX_INNER_ID;
    uid_t uid = CAPSULE_SANDBOX_INNER_ID;
    if (syscall (SYS_setresgid, gid, gid, gid) < 0)
        s_child_fail (plan, S_STAGE_GID, 0);
    for (int cap = 0; cap < 64; cap++)
        if (prctl (PR_CAPBSET_DROP, cap, 0, 0, 0) < 0 && errno != EINVAL)
            s_child_fail (plan, S_STAGE_CAPS, cap);
    if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0)
        s_child_fail (plan, S_STAGE_CAPS, 64);
    if (syscall (SYS_setresuid, uid, uid, uid) < 0)
        s_child_fail (plan, S_STAGE_UID, 0);
    struct __user_cap_header_struct hdr = { _LINUX_CAPABILITY_VERSION_3, 0 };
    struct __user_cap_data_struct data[2];
    memset (data, 0, sizeof data);
    if (syscall (SYS_capset, &hdr, data) < 0)
        s_child_fail (plan, S_STAGE_CAPS, 65);
    /* After the uid change (a credential change clears the death signal). */
    if (prctl (PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0) < 0 ||
        prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 || prctl (PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
        s_child_fail (plan, S_STAGE_PRCTL, 0);
    struct rlimit zero = { 0, 0 };
    if (setrlimit (RLIMIT_CORE, &zero) < 0 ||
        (plan->use_cpu && setrlimit (RLIMIT_CPU, &plan->rl_cpu) < 0) ||
        (plan->use_as && setrlimit (RLIMIT_AS, &plan->rl_as) < 0) ||
        (plan->use_nproc && setrlimit (RLIMIT_NPROC, &plan->rl_nproc) < 0))
        s_child_fail (plan, S_STAGE_RLIMIT, 0);

    /* stdio: move sources out of 0..2 first so dup2 cannot clobber one. */
    int src[3];
    for (int i = 0; i < 3; i++) {
        src[i] = plan->stdio[i];
        if (src[i] < 3 && src[i] != i) {
            src[i] = fcntl (src[i], F_DUPFD_CLOEXEC, 3);
            if (src[i] < 0)
                s_child_fail (plan, S_STAGE_STDIO, i);
        }
    }
    for (int i = 0; i < 3; i++) {
        if (src[i] == i) {
            if (fcntl (i, F_SETFD, 0) < 0)
                s_child_fail (plan, S_STAGE_STDIO, i);
        } else if (dup2 (src[i], i) < 0)
            s_child_fail (plan, S_STAGE_STDIO, i);
    }
    if (syscall (SYS_close_range, 3u, ~0u, CLOSE_RANGE_CLOEXEC) < 0)
        s_child_fail (plan, S_STAGE_STDIO, 3);
    if (chdir (plan->cwd) < 0)
        s_child_fail (plan, S_STAGE_CWD, 0);
    if (prctl (PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &s_filter, 0, 0) < 0)
        s_child_fail (plan, S_STAGE_SECCOMP, 0);
    execve (plan->argv[0], plan->argv, plan->envp);
    s_child_fail (plan, S_STAGE_EXEC, 0);
}

/* ---- Spec validation ---------------------------------------------------- */

/* dst must be absolute, free of "." and ".." components, and name a
   directory (or, when want_file, a regular file) under root reached without
   following any symlink (the root comes from a user's env capsule). */
static bool
s_check_dst (const char *root, const char *dst, bool want_file, char *path, size_t size)
{
    if (!dst || dst[0] != '/' || !s_join (path, size, root, dst))
        return false;
    size_t rl = strlen (root);
    for (size_t i = rl; path[i];) {
        size_t j = i + 1;
        while (path[j] && path[j] != '/')
            j++;
        size_t clen = j - i - 1;
        if (clen == 0 && path[j]) { /* "//" */
            i = j;
            continue;
        }
        if ((clen == 1 && path[i + 1] == '.') ||
            (clen == 2 && path[i + 1] == '.' && path[i + 2] == '.'))
            return false;
        char save = path[j];
        path[j] = '\0';
        struct stat st;
        bool ok = clen == 0 || lstat (path, &st) == 0;
        if (ok && clen) {
            bool last = save == '\0';
            ok = S_ISDIR (st.st_mode) || (last && want_file && S_ISREG (st.st_mode));
        }
        path[j] = save;
        if (!ok)
            return false;
        i = j;
    }
    return true;
}

/* ---- Parent side -------------------------------------------------------- */

static void
s_cgroups_remove (capsule_sandbox_t *self)
{
    char *dirs[4] = { self->cg_v2, self->cg_mem, self->cg_pids, self->cg_cpu };
    for (int i = 0; i < 4; i++) {
        if (!dirs[i][0])
            continue;
        for (int tries = 0; tries < 50; tries++) {
            if (rmdir (dirs[i]) == 0 || errno == ENOENT)
                break;
            if (errno != EBUSY)
                break;
            struct timespec ts = { 0, 2000000 };
            nanosleep (&ts, NULL);
        }
        dirs[i][0] = '\0';
    }
}

static bool
s_cg_create (const char *base, const char *name, char *out, size_t size)
{
    if (!base[0])
        return false;
    if (snprintf (out, size, "%s/%s", base, name) >= (int)size || mkdir (out, 0755) < 0) {
        out[0] = '\0';
        return false;
    }
    return true;
}

/* Creates and configures the cgroups; records degraded modes. */
static void
s_cgroups_create (capsule_sandbox_t *self, const char *cgroup_parent)
{
    pthread_once (&s_host_once, s_probe_host);
    s_host_t delegated;
    const s_host_t *host = &s_host;
    if (cgroup_parent && cgroup_parent[0]) {
        /* A cgroup v2 directory the operator delegated to wardend: used as
           given (controllers enabled below it on each run). */
        memset (&delegated, 0, sizeof delegated);
        delegated.mode = S_CG_V2;
        snprintf (delegated.v2_base, sizeof delegated.v2_base, "%s", cgroup_parent);
        (void)s_write_file (cgroup_parent, "cgroup.subtree_control", "+memory +pids");
        host = &delegated;
    }
    self->degraded |= host->degraded;
    self->cg_mode = host->mode;
    if (host->mode == S_CG_NONE)
        return;
    char name[64];
    snprintf (name, sizeof name, "warden-sbx-%d-%u", (int)getpid (),
              atomic_fetch_add (&s_sequence, 1));
    char num[32];
    const capsule_sandbox_limits_t *l = &self->limits;
    if (host->mode == S_CG_V2) {
        if (!s_cg_create (host->v2_base, name, self->cg_v2, sizeof self->cg_v2)) {
            self->cg_mode = S_CG_NONE;
            self->degraded |= CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY;
            return;
        }
        if (l->mem_bytes) {
            snprintf (num, sizeof num, "%llu", (unsigned long long)l->mem_bytes);
            if (s_write_file (self->cg_v2, "memory.max", num) < 0)
                self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY;
            (void)s_write_file (self->cg_v2, "memory.swap.max", "0");
            (void)s_write_file (self->cg_v2, "memory.oom.group", "1");
        }
        if (l->pids) {
            snprintf (num, sizeof num, "%llu", (unsigned long long)l->pids);
            if (s_write_file (self->cg_v2, "pids.max", num) < 0)
                self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS;
        }
        return;
    }
    if (s_cg_create (host->mem_base, name, self->cg_mem, sizeof self->cg_mem) && l->mem_bytes) {
        snprintf (num, sizeof num, "%llu", (unsigned long long)l->mem_bytes);
        if (s_write_file (self->cg_mem, "memory.limit_in_bytes", num) < 0)
            self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY;
        (void)s_write_file (self->cg_mem, "memory.memsw.limit_in_bytes", num);
    }
    if (s_cg_create (host->pids_base, name, self->cg_pids, sizeof self->cg_pids) && l->pids) {
        snprintf (num, sizeof num, "%llu", (unsigned long long)l->pids);
        if (s_write_file (self->cg_pids, "pids.max", num) < 0)
            self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS;
    }
    (void)s_cg_create (host->cpu_base, name, self->cg_cpu, sizeof self->cg_cpu);
    if (!self->cg_mem[0])
        self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY;
    if (!self->cg_pids[0])
        self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS;
    if (!self->cg_cpu[0])
        self->degraded |= CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU;
    if (!self->cg_mem[0] && !self->cg_pids[0] && !self->cg_cpu[0]) {
        self->cg_mode = S_CG_NONE;
        self->degraded &=
            ~(CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY | CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS |
              CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU);
        self->degraded |= CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY;
    }
}

static bool
s_has_cg_memory (const capsule_sandbox_t *self)
{
    return (self->cg_v2[0] || self->cg_mem[0]) &&
           !(self->degraded & CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY);
}

static bool
s_has_cg_pids (const capsule_sandbox_t *self)
{
    return (self->cg_v2[0] || self->cg_pids[0]) &&
           !(self->degraded & CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS);
}

static bool
s_has_cg_cpu (const capsule_sandbox_t *self)
{
    return self->cg_v2[0] || self->cg_cpu[0];
}

static int
s_cgroups_attach (capsule_sandbox_t *self)
{
    char pid[32];
    snprintf (pid, sizeof pid, "%d", (int)self->pid);
    char *dirs[4] = { self->cg_v2, self->cg_mem, self->cg_pids, self->cg_cpu };
    for (int i = 0; i < 4; i++)
        if (dirs[i][0] && s_write_file (dirs[i], "cgroup.procs", pid) < 0)
            return -1;
    return 0;
}

/* CPU time used so far in µs (cgroup), split when asked. */
static uint64_t
s_cg_cpu_us (const capsule_sandbox_t *self, uint64_t *user_us, uint64_t *sys_us)
{
    if (self->cg_v2[0]) {
        if (user_us)
            *user_us = s_read_u64 (self->cg_v2, "cpu.stat", "user_usec");
        if (sys_us)
            *sys_us = s_read_u64 (self->cg_v2, "cpu.stat", "system_usec");
        return s_read_u64 (self->cg_v2, "cpu.stat", "usage_usec");
    }
    if (self->cg_cpu[0]) {
        if (user_us)
            *user_us = s_read_u64 (self->cg_cpu, "cpuacct.usage_user", NULL) / 1000;
        if (sys_us)
            *sys_us = s_read_u64 (self->cg_cpu, "cpuacct.usage_sys", NULL) / 1000;
        return s_read_u64 (self->cg_cpu, "cpuacct.usage", NULL) / 1000;
    }
    return 0;
}

static bool
s_cg_oom (const capsule_sandbox_t *self)
{
    if (self->cg_v2[0])
        return s_read_u64 (self->cg_v2, "memory.events", "oom_kill") > 0;
    if (self->cg_mem[0])
        return s_read_u64 (self->cg_mem, "memory.oom_control", "oom_kill") > 0;
    return false;
}

static bool
s_cg_pids_max (const capsule_sandbox_t *self)
{
    const char *dir = self->cg_v2[0] ? self->cg_v2 : self->cg_pids;
    return dir[0] && s_read_u64 (dir, "pids.events", "max") > 0;
}

static uint64_t
s_cg_peak (const capsule_sandbox_t *self)
{
    if (self->cg_v2[0])
        return s_read_u64 (self->cg_v2, "memory.peak", NULL);
    if (self->cg_mem[0])
        return s_read_u64 (self->cg_mem, "memory.max_usage_in_bytes", NULL);
    return 0;
}

static void
s_trip (capsule_sandbox_t *self, capsule_sandbox_limit_t limit)
{
    if (self->reaped)
        return;
    if (self->killed == CAPSULE_SANDBOX_LIMIT_NONE && !self->killed_by_node)
        self->killed = limit;
    /* Killing PID 1 of the namespace kills every process in it. */
    if (syscall (SYS_pidfd_send_signal, self->pidfd, SIGKILL, NULL, 0) < 0)
        kill (self->pid, SIGKILL);
}

void
capsule_sandbox_kill (capsule_sandbox_t *self)
{
    assert (self);
    if (self->reaped)
        return;
    if (self->killed == CAPSULE_SANDBOX_LIMIT_NONE)
        self->killed_by_node = true;
    s_trip (self, CAPSULE_SANDBOX_LIMIT_NONE);
}

static void
s_close (int *fd)
{
    if (*fd >= 0) {
        close (*fd);
        *fd = -1;
    }
}

/* Reads what is available on the capture pipes; trips "output" on
   overflow. */
static void
s_drain (capsule_sandbox_t *self)
{
    for (int s = 1; s <= 2; s++) {
        while (self->cap_fd[s] >= 0) {
            uint8_t chunk[16384];
            ssize_t n = read (self->cap_fd[s], chunk, sizeof chunk);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0 && errno == EAGAIN)
                break;
            if (n <= 0) {
                epoll_ctl (self->epfd, EPOLL_CTL_DEL, self->cap_fd[s], NULL);
                s_close (&self->cap_fd[s]);
                break;
            }
            size_t room = self->cap_max[s] - self->cap_len[s];
            size_t take = (size_t)n < room ? (size_t)n : room;
            memcpy (self->cap_buf[s] + self->cap_len[s], chunk, take);
            self->cap_len[s] += take;
            if ((size_t)n > room) {
                s_trip (self, CAPSULE_SANDBOX_LIMIT_OUTPUT);
                epoll_ctl (self->epfd, EPOLL_CTL_DEL, self->cap_fd[s], NULL);
                s_close (&self->cap_fd[s]);
            }
        }
    }
}

static void
s_check_limits (capsule_sandbox_t *self, bool tick)
{
    if (self->reaped)
        return;
    const capsule_sandbox_limits_t *l = &self->limits;
    if (l->wall_ms && s_now_ns () >= self->t0_ns + l->wall_ms * 1000000u)
        s_trip (self, CAPSULE_SANDBOX_LIMIT_WALL);
    if (!tick)
        return; /* cgroup files are read on the tick only */
    if (l->mem_bytes && s_has_cg_memory (self) && s_cg_oom (self))
        s_trip (self, CAPSULE_SANDBOX_LIMIT_MEMORY);
    if (l->pids && s_has_cg_pids (self) && s_cg_pids_max (self))
        s_trip (self, CAPSULE_SANDBOX_LIMIT_PIDS);
    if (l->cpu_ms && s_has_cg_cpu (self) && s_cg_cpu_us (self, NULL, NULL) >= l->cpu_ms * 1000u)
        s_trip (self, CAPSULE_SANDBOX_LIMIT_CPU);
}

static void
s_reason (capsule_sandbox_t *self)
{
    capsule_sandbox_result_t *r = &self->result;
    const capsule_sandbox_limits_t *l = &self->limits;
    char base[64];
    if (r->exited)
        snprintf (base, sizeof base, "exited %d", r->exit_code);
    else if (r->signal == SIGSYS)
        snprintf (base, sizeof base, "killed by SIGSYS: forbidden system call (seccomp)");
    else {
        const char *abbrev = sigabbrev_np (r->signal);
        snprintf (base, sizeof base, "killed by signal %d (SIG%s)", r->signal,
                  abbrev ? abbrev : "?");
    }
    switch (r->killed) {
        case CAPSULE_SANDBOX_LIMIT_WALL:
            snprintf (r->reason, sizeof r->reason, "killed: wall-clock limit (%llu ms)",
                      (unsigned long long)l->wall_ms);
            break;
        case CAPSULE_SANDBOX_LIMIT_CPU:
            snprintf (r->reason, sizeof r->reason, "killed: cpu limit (%llu ms)",
                      (unsigned long long)l->cpu_ms);
            break;
        case CAPSULE_SANDBOX_LIMIT_MEMORY:
            snprintf (r->reason, sizeof r->reason, "killed: memory limit (%llu bytes)",
                      (unsigned long long)l->mem_bytes);
            break;
        case CAPSULE_SANDBOX_LIMIT_PIDS:
            snprintf (r->reason, sizeof r->reason, "pids limit (%llu) reached; %s",
                      (unsigned long long)l->pids, base);
            break;
        case CAPSULE_SANDBOX_LIMIT_OUTPUT:
            snprintf (r->reason, sizeof r->reason, "output limit (%llu bytes) reached; %s",
                      (unsigned long long)l->output_bytes, base);
            break;
        case CAPSULE_SANDBOX_LIMIT_NONE:
            if (self->status_lost)
                snprintf (r->reason, sizeof r->reason,
                          "exit status lost: reaped elsewhere in the node process");
            else if (self->killed_by_node)
                snprintf (r->reason, sizeof r->reason, "killed by the node");
            else
                snprintf (r->reason, sizeof r->reason, "%s", base);
            break;
    }
}

static void
s_finish (capsule_sandbox_t *self)
{
    s_drain (self);
    capsule_sandbox_result_t *r = &self->result;
    memset (r, 0, sizeof *r);
    r->exited = !self->status_lost && WIFEXITED (self->status);
    r->exit_code = r->exited ? WEXITSTATUS (self->status) : 0;
    r->signal = !self->status_lost && WIFSIGNALED (self->status) ? WTERMSIG (self->status) : 0;
    r->wall_us = (self->end_ns - self->t0_ns) / 1000u;
    const capsule_sandbox_limits_t *l = &self->limits;
    uint64_t user = 0, sys = 0;
    if (s_has_cg_cpu (self) && s_cg_cpu_us (self, &user, &sys) > 0) {
        r->cpu_user_us = user;
        r->cpu_sys_us = sys;
    } else {
        r->cpu_user_us = (uint64_t)self->rusage.ru_utime.tv_sec * 1000000u +
                         (uint64_t)self->rusage.ru_utime.tv_usec;
        r->cpu_sys_us = (uint64_t)self->rusage.ru_stime.tv_sec * 1000000u +
                        (uint64_t)self->rusage.ru_stime.tv_usec;
    }
    r->peak_mem_bytes = s_has_cg_memory (self) ? s_cg_peak (self) : 0;
    if (r->peak_mem_bytes == 0)
        r->peak_mem_bytes = (uint64_t)self->rusage.ru_maxrss * 1024u;
    /* Limits that tripped without our kill (kernel OOM kill, refused forks,
       RLIMIT_CPU's SIGKILL, a full output tmpfs). */
    if (self->killed == CAPSULE_SANDBOX_LIMIT_NONE && !self->killed_by_node) {
        if (l->mem_bytes && s_has_cg_memory (self) && s_cg_oom (self))
            self->killed = CAPSULE_SANDBOX_LIMIT_MEMORY;
        else if (l->pids && s_has_cg_pids (self) && s_cg_pids_max (self))
            self->killed = CAPSULE_SANDBOX_LIMIT_PIDS;
        else if (l->cpu_ms && r->signal == SIGKILL &&
                 r->cpu_user_us + r->cpu_sys_us >= l->cpu_ms * 1000u)
            self->killed = CAPSULE_SANDBOX_LIMIT_CPU;
        else if (l->cpu_ms && r->signal == SIGXCPU)
            self->killed = CAPSULE_SANDBOX_LIMIT_CPU;
    }
    if (self->killed == CAPSULE_SANDBOX_LIMIT_NONE && !self->killed_by_node) {
        for (size_t i = 0; i < CAPSULE_SANDBOX_MAX_TMPFS; i++) {
            struct statvfs sv;
            if (self->export_fd[i] >= 0 && fstatvfs (self->export_fd[i], &sv) == 0 &&
                sv.f_bavail == 0)
                self->killed = CAPSULE_SANDBOX_LIMIT_OUTPUT;
        }
    }
    r->killed = self->killed;
    r->degraded = self->degraded;
    s_reason (self);
    s_cgroups_remove (self);
    s_close (&self->wall_fd);
    s_close (&self->tick_fd);
    self->done = true;
}

int
capsule_sandbox_collect (capsule_sandbox_t *self, capsule_sandbox_result_t *result)
{
    assert (self);
    assert (result);
    if (!self->done) {
        uint64_t ticks;
        if (self->wall_fd >= 0 && read (self->wall_fd, &ticks, sizeof ticks) < 0) {
            /* EAGAIN: not expired */
        }
        bool tick = self->tick_fd >= 0 && read (self->tick_fd, &ticks, sizeof ticks) > 0;
        s_drain (self);
        s_check_limits (self, tick);
        if (!self->reaped) {
            pid_t got = wait4 (self->pid, &self->status, WNOHANG | __WALL, &self->rusage);
            if (got == self->pid || (got < 0 && errno == ECHILD)) {
                /* ECHILD: someone else in this process reaped it. */
                self->status_lost = got < 0;
                self->reaped = true;
                self->end_ns = s_now_ns ();
            }
        }
        if (!self->reaped)
            return 1;
        s_finish (self);
    }
    *result = self->result;
    return 0;
}

int
capsule_sandbox_wait (capsule_sandbox_t *self, capsule_sandbox_result_t *result)
{
    assert (self);
    while (capsule_sandbox_collect (self, result) == 1) {
        struct pollfd p = { self->epfd, POLLIN, 0 };
        if (poll (&p, 1, S_TICK_MS) < 0 && errno != EINTR) {
            struct timespec ts = { 0, 1000000 };
            nanosleep (&ts, NULL); /* ENOMEM: retry; collect never blocks */
        }
    }
    return 0;
}

int
capsule_sandbox_fd (capsule_sandbox_t *self)
{
    assert (self);
    return self->epfd;
}

pid_t
capsule_sandbox_pid (capsule_sandbox_t *self)
{
    assert (self);
    return self->pid;
}

const uint8_t *
capsule_sandbox_captured (capsule_sandbox_t *self, int stream, size_t *len_p)
{
    assert (self);
    assert (stream == 1 || stream == 2);
    if (len_p)
        *len_p = self->cap_buf[stream] ? self->cap_len[stream] : 0;
    return self->cap_buf[stream];
}

const char *
capsule_sandbox_export_path (capsule_sandbox_t *self, size_t index)
{
    assert (self);
    return index < CAPSULE_SANDBOX_MAX_TMPFS && self->export_fd[index] >= 0
               ? self->export_path[index]
               : NULL;
}

int
capsule_sandbox_export_fd (capsule_sandbox_t *self, size_t index)
{
    assert (self);
    return index < CAPSULE_SANDBOX_MAX_TMPFS ? self->export_fd[index] : -1;
}

void
capsule_sandbox_wipe (capsule_sandbox_t *self)
{
    assert (self);
    if (self->wiped)
        return;
    if (!self->reaped && self->pid > 0) {
        s_trip (self, CAPSULE_SANDBOX_LIMIT_NONE);
        if (wait4 (self->pid, &self->status, __WALL, &self->rusage) == self->pid) {
            self->reaped = true;
            self->end_ns = s_now_ns ();
        }
    }
    if (self->reaped && !self->done)
        s_finish (self);
    s_cgroups_remove (self);
    for (size_t i = 0; i < CAPSULE_SANDBOX_MAX_TMPFS; i++) {
        /* The last reference to the tmpfs: the kernel frees it. */
        s_close (&self->export_fd[i]);
        self->export_path[i][0] = '\0';
    }
    if (self->workdir) {
        char why[256];
        if (capsule_env_remove_tree (self->workdir, why, sizeof why) != WD_OK)
            wd_log_warnx ("sandbox wipe: %s", why);
        free (self->workdir);
        self->workdir = NULL;
    }
    for (int s = 1; s <= 2; s++) {
        s_close (&self->cap_fd[s]);
        if (self->cap_buf[s]) {
            explicit_bzero (self->cap_buf[s], self->cap_max[s]);
            free (self->cap_buf[s]);
            self->cap_buf[s] = NULL;
        }
        self->cap_len[s] = 0;
    }
    s_close (&self->wall_fd);
    s_close (&self->tick_fd);
    s_close (&self->pidfd);
    s_close (&self->epfd);
    self->wiped = true;
}

void
capsule_sandbox_destroy (capsule_sandbox_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        capsule_sandbox_t *self = *self_p;
        capsule_sandbox_wipe (self);
        free (self);
        *self_p = NULL;
    }
}

const char *
capsule_sandbox_limit_name (capsule_sandbox_limit_t limit)
{
    switch (limit) {
        case CAPSULE_SANDBOX_LIMIT_WALL:
            return "wall";
        case CAPSULE_SANDBOX_LIMIT_CPU:
            return "cpu";
        case CAPSULE_SANDBOX_LIMIT_MEMORY:
            return "memory";
        case CAPSULE_SANDBOX_LIMIT_PIDS:
            return "pids";
        case CAPSULE_SANDBOX_LIMIT_OUTPUT:
            return "output";
        case CAPSULE_SANDBOX_LIMIT_NONE:
            break;
    }
    return NULL;
}

size_t
capsule_sandbox_degraded_names (unsigned degraded, const char **names, size_t max)
{
    static const struct {
        unsigned bit;
        const char *name;
    } table[] = { { CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY, "rlimit-only" },
                  { CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY, "no-cgroup-memory" },
                  { CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS, "no-cgroup-pids" },
                  { CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU, "no-cgroup-cpu" } };
    size_t n = 0;
    for (size_t i = 0; i < sizeof table / sizeof table[0]; i++)
        if ((degraded & table[i].bit) && n < max)
            names[n++] = table[i].name;
    return n;
}

static const char *
s_stage_name (s_stage_t stage)
{
    switch (stage) {
        case S_STAGE_MOUNT_PRIVATE:
            return "making mounts private";
        case S_STAGE_MOUNT_ROOT:
            return "mounting the root read-only";
        case S_STAGE_MOUNT:
            return "mounting";
        case S_STAGE_PIVOT:
            return "pivot_root";
        case S_STAGE_HOSTNAME:
            return "sethostname";
        case S_STAGE_SYNC:
            return "waiting for the parent";
        case S_STAGE_GROUPS:
            return "clearing supplementary groups";
        case S_STAGE_GID:
            return "setresgid";
        case S_STAGE_CAPS:
            return "dropping capabilities";
        case S_STAGE_UID:
            return "setresuid";
        case S_STAGE_PRCTL:
            return "prctl (no_new_privs, death signal)";
        case S_STAGE_RLIMIT:
            return "setrlimit";
        case S_STAGE_STDIO:
            return "stdio";
        case S_STAGE_CWD:
            return "chdir to the working directory";
        case S_STAGE_SECCOMP:
            return "installing the seccomp filter";
        case S_STAGE_EXEC:
            return "execve";
        case S_STAGE_NONE:
            break;
    }
    return "setup";
}

static int
s_stage_code (s_stage_t stage)
{
    switch (stage) {
        case S_STAGE_MOUNT_PRIVATE:
        case S_STAGE_MOUNT_ROOT:
        case S_STAGE_MOUNT:
        case S_STAGE_PIVOT:
            return CAPSULE_ERR_SANDBOX_MOUNT;
        case S_STAGE_GROUPS:
        case S_STAGE_GID:
        case S_STAGE_CAPS:
        case S_STAGE_UID:
        case S_STAGE_PRCTL:
            return CAPSULE_ERR_SANDBOX_CREDS;
        case S_STAGE_SECCOMP:
            return CAPSULE_ERR_SANDBOX_SECCOMP;
        case S_STAGE_EXEC:
        case S_STAGE_CWD:
            return CAPSULE_ERR_SANDBOX_EXEC;
        default:
            return CAPSULE_ERR_SANDBOX_SYSTEM;
    }
}

static int
s_write_map (pid_t pid, const char *file, const char *text)
{
    char dir[64];
    snprintf (dir, sizeof dir, "/proc/%d", (int)pid);
    return s_write_file (dir, file, text);
}

/* The host-side piece: the /dev skeleton (empty files the device nodes are
   bound onto; the sandbox cannot create them itself before its ids are
   mapped). */
static int
s_prepare_host (capsule_sandbox_t *self, const capsule_sandbox_spec_t *spec, char *why,
                size_t why_size)
{
    if (!spec->dev)
        return 0;
    const char *tmp = getenv ("TMPDIR");
    char tmpl[S_PATH_MAX];
    snprintf (tmpl, sizeof tmpl, "%s/warden-sbx-XXXXXX", tmp && tmp[0] == '/' ? tmp : "/tmp");
    if (!mkdtemp (tmpl) || !(self->workdir = strdup (tmpl))) {
        s_why (why, why_size, "mkdtemp %s: %s", tmpl, strerror (errno));
        return CAPSULE_ERR_SANDBOX_SYSTEM;
    }
    char path[S_PATH_MAX];
    snprintf (path, sizeof path, "%s/dev", self->workdir);
    if (chmod (self->workdir, 0755) < 0 || mkdir (path, 0755) < 0) {
        s_why (why, why_size, "mkdir %s: %s", path, strerror (errno));
        return CAPSULE_ERR_SANDBOX_SYSTEM;
    }
    for (int i = 0; i < S_DEV_COUNT; i++) {
        snprintf (path, sizeof path, "%s/dev/%s", self->workdir, s_dev_names[i]);
        int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
        if (fd < 0) {
            s_why (why, why_size, "create %s: %s", path, strerror (errno));
            return CAPSULE_ERR_SANDBOX_SYSTEM;
        }
        close (fd);
    }
    return 0;
}

/* All strings of the child's plan live in one arena freed after start. */
typedef struct {
    char *buf;
    size_t used, size;
} s_arena_t;

static const char *
s_arena_join (s_arena_t *a, const char *x, const char *y)
{
    size_t n = strlen (x) + strlen (y) + 1;
    if (a->used + n > a->size)
        return NULL;
    char *p = a->buf + a->used;
    snprintf (p, n, "%s%s", x, y);
    a->used += n;
    return p;
}

static int
s_add_mount (s_plan_t *plan, s_mnt_kind_t kind, const char *src, const char *target,
             const char *data, unsigned long remount)
{
    if (!target || plan->mount_count >= S_MAX_MOUNTS)
        return -1;
    plan->mounts[plan->mount_count++] = (s_mnt_t){ kind, src, target, data, remount };
    return 0;
}

static int
s_validate (const capsule_sandbox_spec_t *spec, char *why, size_t why_size)
{
    struct stat st;
    char path[S_PATH_MAX];
    if (!spec->root || spec->root[0] != '/' || stat (spec->root, &st) < 0 ||
        !S_ISDIR (st.st_mode) || strlen (spec->root) + 256 > S_PATH_MAX) {
        s_why (why, why_size, "root %s is not an absolute directory",
               spec->root ? spec->root : "(null)");
        return CAPSULE_ERR_SANDBOX_SPEC;
    }
    if (!spec->argv || !spec->argv[0] || spec->argv[0][0] != '/') {
        s_why (why, why_size, "argv[0] must be an absolute path inside the sandbox");
        return CAPSULE_ERR_SANDBOX_SPEC;
    }
    if (spec->cwd && spec->cwd[0] != '/') {
        s_why (why, why_size, "cwd %s is not absolute", spec->cwd);
        return CAPSULE_ERR_SANDBOX_SPEC;
    }
    if (spec->bind_count > CAPSULE_SANDBOX_MAX_BINDS ||
        spec->tmpfs_count > CAPSULE_SANDBOX_MAX_TMPFS || (spec->bind_count && !spec->binds) ||
        (spec->tmpfs_count && !spec->tmpfs)) {
        s_why (why, why_size, "too many mounts");
        return CAPSULE_ERR_SANDBOX_SPEC;
    }
    for (size_t i = 0; i < spec->bind_count; i++) {
        const capsule_sandbox_bind_t *b = &spec->binds[i];
        if (!b->src || b->src[0] != '/' || stat (b->src, &st) < 0) {
            s_why (why, why_size, "bind source %s does not exist", b->src ? b->src : "(null)");
            return CAPSULE_ERR_SANDBOX_SPEC;
        }
        if (!s_check_dst (spec->root, b->dst, !S_ISDIR (st.st_mode), path, sizeof path)) {
            s_why (why, why_size,
                   "bind mount point %s is missing in the root, not a directory, "
                   "or reached through a symlink",
                   b->dst ? b->dst : "(null)");
            return CAPSULE_ERR_SANDBOX_SPEC;
        }
    }
    for (size_t i = 0; i < spec->tmpfs_count; i++) {
        const capsule_sandbox_tmpfs_t *t = &spec->tmpfs[i];
        if (t->size_bytes == 0 || !s_check_dst (spec->root, t->dst, false, path, sizeof path)) {
            s_why (why, why_size, "tmpfs %s: zero size, or mount point missing in the root",
                   t->dst ? t->dst : "(null)");
            return CAPSULE_ERR_SANDBOX_SPEC;
        }
    }
    if ((spec->proc && !s_check_dst (spec->root, "/proc", false, path, sizeof path)) ||
        (spec->dev && !s_check_dst (spec->root, "/dev", false, path, sizeof path))) {
        s_why (why, why_size, "/proc or /dev requested but missing in the root");
        return CAPSULE_ERR_SANDBOX_SPEC;
    }
    const capsule_sandbox_stream_t *streams[2] = { &spec->out, &spec->err };
    for (int i = 0; i < 2; i++) {
        if (streams[i]->mode == CAPSULE_SANDBOX_STREAM_FD && streams[i]->fd < 0) {
            s_why (why, why_size, "stream fd is negative");
            return CAPSULE_ERR_SANDBOX_SPEC;
        }
        if (streams[i]->mode == CAPSULE_SANDBOX_STREAM_CAPTURE && streams[i]->capture_max == 0 &&
            spec->limits.output_bytes == 0) {
            s_why (why, why_size, "capture needs a bound (capture_max or limits.output_bytes)");
            return CAPSULE_ERR_SANDBOX_SPEC;
        }
    }
    return 0;
}

int
capsule_sandbox_start (const capsule_sandbox_spec_t *spec, capsule_sandbox_t **self_p, char *why,
                       size_t why_size)
{
    assert (spec);
    assert (self_p);
    *self_p = NULL;
    s_why (why, why_size, "%s", "");
    int rc = s_validate (spec, why, why_size);
    if (rc)
        return rc;
    pthread_once (&s_filter_once, s_build_filter);
    if (s_filter_rc != 0) {
        s_why (why, why_size, "libseccomp could not build the filter");
        return CAPSULE_ERR_SANDBOX_SECCOMP;
    }
    bool privileged = geteuid () == 0;
    uid_t host_uid = spec->host_uid ? spec->host_uid : CAPSULE_SANDBOX_DEFAULT_HOST_ID;
    gid_t host_gid = spec->host_gid ? spec->host_gid : CAPSULE_SANDBOX_DEFAULT_HOST_ID;
    if (!privileged) {
        /* An unprivileged parent can only map itself. */
        host_uid = geteuid ();
        host_gid = getegid ();
    }

    capsule_sandbox_t *self = calloc (1, sizeof *self);
    s_plan_t *plan = calloc (1, sizeof *plan);
    s_arena_t arena = { calloc (1, 65536), 0, 65536 };
    if (!self || !plan || !arena.buf) {
        free (self);
        free (plan);
        free (arena.buf);
        s_why (why, why_size, "out of memory");
        return CAPSULE_ERR_SANDBOX_SYSTEM;
    }
    self->pid = -1;
    self->pidfd = self->epfd = self->wall_fd = self->tick_fd = -1;
    self->cap_fd[0] = self->cap_fd[1] = self->cap_fd[2] = -1;
    self->limits = spec->limits;
    int sync_pipe[2] = { -1, -1 }, error_pipe[2] = { -1, -1 }, cap_w[3] = { -1, -1, -1 };
    int devnull = -1;

    for (size_t i = 0; i < CAPSULE_SANDBOX_MAX_TMPFS; i++)
        self->export_fd[i] = -1;
    rc = s_prepare_host (self, spec, why, why_size);
    if (rc)
        goto out_fail;

    /* The plan. */
    rc = CAPSULE_ERR_SANDBOX_SPEC;
    plan->root = s_arena_join (&arena, spec->root, "");
    plan->cwd = spec->cwd ? spec->cwd : "/";
    plan->argv = spec->argv;
    static char *const empty_env[] = { NULL };
    plan->envp = spec->envp ? spec->envp : empty_env;
    plan->set_groups = privileged;
    for (size_t i = 0; i < spec->tmpfs_count; i++) {
        const capsule_sandbox_tmpfs_t *t = &spec->tmpfs[i];
        const char *target = s_arena_join (&arena, spec->root, t->dst);
        char data[64];
        snprintf (data, sizeof data, "size=%llu,mode=%s", (unsigned long long)t->size_bytes,
                  t->exported ? "0777" : "1777");
        if (s_add_mount (plan, S_MNT_TMPFS, NULL, target, s_arena_join (&arena, data, ""), 0) < 0)
            goto out_fail;
    }
    for (size_t i = 0; i < spec->bind_count; i++) {
        const capsule_sandbox_bind_t *b = &spec->binds[i];
        unsigned long fl = MS_NOSUID | MS_NODEV | (b->writable ? 0 : MS_RDONLY);
        if (s_add_mount (plan, S_MNT_BIND, s_arena_join (&arena, b->src, ""),
                         s_arena_join (&arena, spec->root, b->dst), NULL, fl) < 0)
            goto out_fail;
    }
    if (spec->dev) {
        const char *skel = s_arena_join (&arena, self->workdir, "/dev");
        const char *target = s_arena_join (&arena, spec->root, "/dev");
        if (s_add_mount (plan, S_MNT_BIND, skel, target, NULL, MS_RDONLY | MS_NOSUID | MS_NOEXEC) <
            0)
            goto out_fail;
        for (int i = 0; i < S_DEV_COUNT; i++) {
            char host[32], inner[32];
            snprintf (host, sizeof host, "/dev/%s", s_dev_names[i]);
            snprintf (inner, sizeof inner, "/dev/%s", s_dev_names[i]);
            if (s_add_mount (plan, S_MNT_BIND, s_arena_join (&arena, host, ""),
                             s_arena_join (&arena, spec->root, inner), NULL,
                             MS_NOSUID | MS_NOEXEC) < 0)
                goto out_fail;
        }
    }
    if (spec->proc && s_add_mount (plan, S_MNT_PROC, NULL,
                                   s_arena_join (&arena, spec->root, "/proc"), NULL, 0) < 0)
        goto out_fail;
    if (!plan->root)
        goto out_fail;

    /* Limits the child applies itself (rlimits) where no cgroup does. */
    const capsule_sandbox_limits_t *l = &spec->limits;
    s_cgroups_create (self, spec->cgroup_parent);
    if (l->cpu_ms) {
        rlim_t secs = (rlim_t)((l->cpu_ms + 999) / 1000);
        if (s_has_cg_cpu (self))
            secs += 1; /* backstop only: the cgroup check trips first */
        plan->rl_cpu = (struct rlimit){ secs, secs };
        plan->use_cpu = true;
    }
    if (l->mem_bytes && !s_has_cg_memory (self)) {
        plan->rl_as = (struct rlimit){ l->mem_bytes, l->mem_bytes };
        plan->use_as = true;
    }
    if (l->pids && !s_has_cg_pids (self)) {
        plan->rl_nproc = (struct rlimit){ l->pids, l->pids };
        plan->use_nproc = true;
    }

    /* Pipes and stdio. */
    rc = CAPSULE_ERR_SANDBOX_SYSTEM;
    devnull = open ("/dev/null", O_RDWR | O_CLOEXEC);
    if (devnull < 0 || pipe2 (sync_pipe, O_CLOEXEC) < 0 || pipe2 (error_pipe, O_CLOEXEC) < 0) {
        s_why (why, why_size, "pipe: %s", strerror (errno));
        goto out_fail;
    }
    plan->stdio[0] = devnull;
    const capsule_sandbox_stream_t *streams[3] = { NULL, &spec->out, &spec->err };
    for (int s = 1; s <= 2; s++) {
        const capsule_sandbox_stream_t *st = streams[s];
        if (st->mode == CAPSULE_SANDBOX_STREAM_FD)
            plan->stdio[s] = st->fd;
        else if (st->mode == CAPSULE_SANDBOX_STREAM_CAPTURE) {
            int p[2];
            if (pipe2 (p, O_CLOEXEC) < 0) {
                s_why (why, why_size, "pipe: %s", strerror (errno));
                goto out_fail;
            }
            self->cap_fd[s] = p[0];
            cap_w[s] = p[1];
            fcntl (p[0], F_SETFL, O_NONBLOCK);
            self->cap_max[s] = st->capture_max ? st->capture_max : (size_t)l->output_bytes;
            self->cap_buf[s] = malloc (self->cap_max[s] ? self->cap_max[s] : 1);
            if (!self->cap_buf[s])
                goto out_fail;
            plan->stdio[s] = p[1];
        } else
            plan->stdio[s] = devnull;
    }
    plan->sync_fd = sync_pipe[0];
    plan->error_fd = error_pipe[1];

    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    if (self->epfd < 0)
        goto out_fail;
    self->t0_ns = s_now_ns ();
    long pid = syscall (SYS_clone,
                        CLONE_NEWUSER | CLONE_NEWPID | CLONE_NEWNS | CLONE_NEWIPC | CLONE_NEWUTS |
                            CLONE_NEWNET | CLONE_NEWCGROUP,
                        NULL, NULL, NULL, 0);
    if (pid == 0)
        s_child (plan);
    if (pid < 0) {
        s_why (why, why_size, "clone (user, pid, mount, ipc, uts, net namespaces): %s",
               strerror (errno));
        goto out_fail;
    }
    self->pid = (pid_t)pid;
    s_close (&sync_pipe[0]);
    s_close (&error_pipe[1]);
    for (int s = 1; s <= 2; s++)
        s_close (&cap_w[s]);
    self->pidfd = (int)syscall (SYS_pidfd_open, self->pid, 0);

    /* Maps: the inner id maps to the host id; host root is never mapped. */
    char map[64];
    snprintf (map, sizeof map, "%u %u 1\n", CAPSULE_SANDBOX_INNER_ID, (unsigned)host_uid);
    int map_rc = s_write_map (self->pid, "uid_map", map);
    if (map_rc == 0 && !privileged)
        map_rc = s_write_map (self->pid, "setgroups", "deny");
    snprintf (map, sizeof map, "%u %u 1\n", CAPSULE_SANDBOX_INNER_ID, (unsigned)host_gid);
    if (map_rc == 0)
        map_rc = s_write_map (self->pid, "gid_map", map);
    if (self->pidfd < 0) {
        s_why (why, why_size, "pidfd_open: %s", strerror (errno));
        goto out_reap;
    }
    if (map_rc < 0) {
        s_why (why, why_size, "writing the uid/gid maps: %s", strerror (-map_rc));
        goto out_reap;
    }
    if (s_cgroups_attach (self) < 0) {
        s_why (why, why_size, "moving the sandbox into its cgroups: %s", strerror (errno));
        goto out_reap;
    }
    /* The child's "mounted" report (or its failure). */
    s_child_report_t report;
    ssize_t n;
    do
        n = read (error_pipe[0], &report, sizeof report);
    while (n < 0 && errno == EINTR);
    bool released = false;
    if (n == (ssize_t)sizeof report && report.stage == S_STAGE_NONE) {
        released = true;
        for (size_t i = 0; i < spec->tmpfs_count; i++) {
            if (!spec->tmpfs[i].exported)
                continue;
            char path[S_PATH_MAX];
            snprintf (path, sizeof path, "/proc/%d/root%s", (int)self->pid, spec->tmpfs[i].dst);
            self->export_fd[i] = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (self->export_fd[i] < 0) {
                s_why (why, why_size, "opening the exported %s: %s", spec->tmpfs[i].dst,
                       strerror (errno));
                goto out_reap;
            }
            snprintf (self->export_path[i], sizeof self->export_path[i], "/proc/self/fd/%d",
                      self->export_fd[i]);
        }
        if (write (sync_pipe[1], "g", 1) != 1) {
            s_why (why, why_size, "releasing the sandbox: %s", strerror (errno));
            goto out_reap;
        }
        do
            n = read (error_pipe[0], &report, sizeof report);
        while (n < 0 && errno == EINTR);
    }
    s_close (&sync_pipe[1]);
    if (n != 0 || !released) {
        if (n == 0)
            s_why (why, why_size, "sandbox ended during setup");
        else if (n == (ssize_t)sizeof report && report.stage == S_STAGE_NONE)
            s_why (why, why_size, "sandbox setup failed (duplicate ready report)");
        else if (n == (ssize_t)sizeof report) {
            rc = s_stage_code ((s_stage_t)report.stage);
            if (report.stage == S_STAGE_MOUNT && report.index >= 0 &&
                (size_t)report.index < plan->mount_count)
                s_why (why, why_size, "sandbox setup failed at %s %s: %s",
                       s_stage_name ((s_stage_t)report.stage),
                       plan->mounts[report.index].target + strlen (spec->root),
                       strerror (report.err));
            else if (report.stage == S_STAGE_EXEC)
                s_why (why, why_size, "execve %s: %s", spec->argv[0], strerror (report.err));
            else
                s_why (why, why_size, "sandbox setup failed at %s: %s",
                       s_stage_name ((s_stage_t)report.stage), strerror (report.err));
        } else
            s_why (why, why_size, "sandbox setup failed (short report)");
        goto out_reap;
    }
    s_close (&error_pipe[0]);

    /* Running: the poll set. */
    struct epoll_event ev = { .events = EPOLLIN };
    ev.data.fd = self->pidfd;
    epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->pidfd, &ev);
    for (int s = 1; s <= 2; s++) {
        if (self->cap_fd[s] >= 0) {
            ev.data.fd = self->cap_fd[s];
            epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->cap_fd[s], &ev);
        }
    }
    if (l->wall_ms) {
        self->wall_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        uint64_t deadline = self->t0_ns + l->wall_ms * 1000000u;
        struct itimerspec its = {
            { 0, 0 }, { (time_t)(deadline / 1000000000u), (long)(deadline % 1000000000u) }
        };
        if (self->wall_fd < 0 || timerfd_settime (self->wall_fd, TFD_TIMER_ABSTIME, &its, NULL) < 0)
            goto out_reap_system;
        ev.data.fd = self->wall_fd;
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->wall_fd, &ev);
    }
    if ((l->cpu_ms && s_has_cg_cpu (self)) || (l->mem_bytes && s_has_cg_memory (self)) ||
        (l->pids && s_has_cg_pids (self))) {
        self->tick_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
        struct itimerspec its = { { 0, S_TICK_MS * 1000000L }, { 0, S_TICK_MS * 1000000L } };
        if (self->tick_fd < 0 || timerfd_settime (self->tick_fd, 0, &its, NULL) < 0)
            goto out_reap_system;
        ev.data.fd = self->tick_fd;
        epoll_ctl (self->epfd, EPOLL_CTL_ADD, self->tick_fd, &ev);
    }
    s_close (&devnull);
    free (plan);
    explicit_bzero (arena.buf, arena.size);
    free (arena.buf);
    *self_p = self;
    return 0;

out_reap_system:
    rc = CAPSULE_ERR_SANDBOX_SYSTEM;
    s_why (why, why_size, "timerfd: %s", strerror (errno));
out_reap:
    if (rc == CAPSULE_ERR_SANDBOX_SPEC)
        rc = CAPSULE_ERR_SANDBOX_SYSTEM;
    kill (self->pid, SIGKILL);
    while (wait4 (self->pid, &self->status, __WALL, NULL) < 0 && errno == EINTR)
        ;
    self->reaped = true;
    self->done = true;
out_fail:
    if (rc == CAPSULE_ERR_SANDBOX_SPEC && why && !why[0])
        s_why (why, why_size, "too many mounts or paths too long");
    s_close (&sync_pipe[0]);
    s_close (&sync_pipe[1]);
    s_close (&error_pipe[0]);
    s_close (&error_pipe[1]);
    for (int s = 1; s <= 2; s++)
        s_close (&cap_w[s]);
    s_close (&devnull);
    self->reaped = true;
    self->done = true;
    capsule_sandbox_destroy (&self);
    free (plan);
    free (arena.buf);
    return rc;
}

int
capsule_sandbox_run (const capsule_sandbox_spec_t *spec, capsule_sandbox_t **self_p,
                     capsule_sandbox_result_t *result, char *why, size_t why_size)
{
    assert (result);
    int rc = capsule_sandbox_start (spec, self_p, why, why_size);
    if (rc)
        return rc;
    return capsule_sandbox_wait (*self_p, result);
}
