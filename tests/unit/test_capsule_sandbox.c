/*
 * Tests for capsule_sandbox: a sandbox root is built at test time in a
 * temporary directory (the static programs of tests/sandbox plus busybox
 * and its libraries), then real programs run in real namespaces: what they
 * see (uid, capabilities, seccomp, hostname, PID 1, mounts), ordinary work
 * (busybox sh | sort | comm), every escape attempt of issue 9 item 4 (each
 * must fail or be killed, and the result must say why), every limit, the
 * non-blocking API, spec errors, and the wipe. Needs root (CI runs as root);
 * expected limit outcomes follow the degraded modes capsule_sandbox_probe
 * reports for this host.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <netinet/in.h>
#include <poll.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_sandbox.h"
#include "test_support.h"

static char s_root[512];    /* the sandbox root */
static char s_ro[512];      /* host dir bound read-only at /ro */
static char s_rw[512];      /* host dir bound writable at /rw */
static char s_state[512];   /* host dir standing for the node's state: never mounted */
static unsigned s_degraded; /* what this host gives */

static void
s_path (char *out, size_t size, const char *fmt, ...) __attribute__ ((format (printf, 3, 4)));

static void
s_path (char *out, size_t size, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    int n = vsnprintf (out, size, fmt, ap);
    va_end (ap);
    assert_true (n > 0 && (size_t)n < size);
}

static void
s_mkdir (const char *path)
{
    assert_true (mkdir (path, 0755) == 0 || errno == EEXIST);
}

/* Copies host file src to root + dst (directories created), mode 0755. */
static void
s_copy_in (const char *src, const char *dst)
{
    char path[1024];
    s_path (path, sizeof path, "%s%s", s_root, dst);
    for (char *p = path + strlen (s_root) + 1; *p; p++) {
        if (*p == '/') {
            *p = '\0';
            s_mkdir (path);
            *p = '/';
        }
    }
    size_t len = 0;
    uint8_t *data = test_read_file (src, &len);
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC, 0755);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, len), (ssize_t)len);
    close (fd);
    free (data);
}

static void
s_symlink (const char *target, const char *dst)
{
    char path[1024];
    s_path (path, sizeof path, "%s%s", s_root, dst);
    assert_int_equal (symlink (target, path), 0);
}

/* A dynamic host program at the same path in the root, with the libraries
   ldd names. */
static void
s_install_dynamic (const char *program)
{
    s_copy_in (program, program);
    char cmd[256];
    s_path (cmd, sizeof cmd, "ldd %s", program);
    FILE *p = popen (cmd, "r");
    assert_non_null (p);
    char line[512];
    while (fgets (line, sizeof line, p)) {
        char *slash = strchr (line, '/');
        if (!slash)
            continue;
        slash[strcspn (slash, " \n")] = '\0';
        s_copy_in (slash, slash);
    }
    assert_int_equal (pclose (p), 0);
}

/* Ordinary programs: Debian's busybox (sh, sort, cat; it has no comm
   applet) and coreutils' comm, both dynamically linked. */
static void
s_install_shell (void)
{
    s_install_dynamic ("/bin/busybox");
    s_install_dynamic ("/usr/bin/comm");
    const char *applets[] = { "sh", "sort", "cat" };
    for (size_t i = 0; i < 3; i++) {
        char dst[64];
        s_path (dst, sizeof dst, "/bin/%s", applets[i]);
        s_symlink ("busybox", dst);
    }
}

static int
s_setup (void **state)
{
    (void)state;
    const char *tmp = test_tmpdir ();
    s_path (s_root, sizeof s_root, "%s/root", tmp);
    s_path (s_ro, sizeof s_ro, "%s/robind", tmp);
    s_path (s_rw, sizeof s_rw, "%s/rwbind", tmp);
    s_path (s_state, sizeof s_state, "%s/state", tmp);
    /* The test tmpdir is 0700: the sandbox's uid must be able to reach its
       root, like wardend's environment directory. */
    chmod (tmp, 0755);
    s_mkdir (s_root);
    const char *dirs[] = { "bin", "out", "tmp", "proc", "dev", "ro", "rw", "data", "etc" };
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        char path[1024];
        s_path (path, sizeof path, "%s/%s", s_root, dirs[i]);
        s_mkdir (path);
    }
    s_copy_in (SBX_ESCAPE_PATH, "/bin/sbx_escape");
    s_copy_in (SBX_TRUE_PATH, "/bin/sbx_true");
    s_install_shell ();
    s_symlink ("/etc", "/etc-link");
    s_mkdir (s_ro);
    s_mkdir (s_rw);
    chmod (s_rw, 0777);
    s_mkdir (s_state);
    test_write_file (s_ro, "names-a", "carol\nalice\nbob\n", 16);
    test_write_file (s_ro, "names-b", "dave\nbob\ncarol\n", 15);
    test_write_file (s_state, "secret", "state-secret", 12);
    s_degraded = capsule_sandbox_probe (NULL, 0);
    return 0;
}

/* One run's spec with the default mounts; tests adjust it. */
typedef struct {
    capsule_sandbox_spec_t spec;
    capsule_sandbox_bind_t binds[2];
    capsule_sandbox_tmpfs_t tmpfs[2];
    char *argv[8];
} s_run_t;

static void
s_spec (s_run_t *run, const char *a0, const char *a1, const char *a2, const char *a3)
{
    memset (run, 0, sizeof *run);
    run->binds[0] = (capsule_sandbox_bind_t){ s_ro, "/ro", false };
    run->binds[1] = (capsule_sandbox_bind_t){ s_rw, "/rw", true };
    run->tmpfs[0] = (capsule_sandbox_tmpfs_t){ "/tmp", 4u << 20, false };
    run->tmpfs[1] = (capsule_sandbox_tmpfs_t){ "/out", 64u << 10, true };
    run->argv[0] = (char *)a0;
    run->argv[1] = (char *)a1;
    run->argv[2] = a1 ? (char *)a2 : NULL;
    run->argv[3] = a1 && a2 ? (char *)a3 : NULL;
    capsule_sandbox_spec_t *s = &run->spec;
    s->root = s_root;
    s->binds = run->binds;
    s->bind_count = 2;
    s->tmpfs = run->tmpfs;
    s->tmpfs_count = 2;
    s->argv = run->argv;
    s->cwd = "/";
    s->limits = (capsule_sandbox_limits_t){ .wall_ms = 20000, .output_bytes = 64u << 10 };
    s->out.mode = CAPSULE_SANDBOX_STREAM_CAPTURE;
    s->err.mode = CAPSULE_SANDBOX_STREAM_CAPTURE;
    s->proc = true;
    s->dev = true;
}

/* Runs; returns the handle (caller destroys). stdout lands in out. */
static capsule_sandbox_t *
s_run (s_run_t *run, capsule_sandbox_result_t *result, char *out, size_t out_size)
{
    capsule_sandbox_t *sbx = NULL;
    char why[256];
    int rc = capsule_sandbox_run (&run->spec, &sbx, result, why, sizeof why);
    if (rc != 0)
        print_error ("capsule_sandbox_run: %s: %s\n", capsule_err_name (rc), why);
    assert_int_equal (rc, 0);
    size_t len = 0;
    const uint8_t *data = capsule_sandbox_captured (sbx, 1, &len);
    if (out) {
        size_t n = len < out_size - 1 ? len : out_size - 1;
        if (n)
            memcpy (out, data, n);
        out[n] = '\0';
    }
    return sbx;
}

static void
s_run_escape (const char *mode, const char *arg, capsule_sandbox_result_t *result, char *out,
              size_t out_size)
{
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", mode, arg, NULL);
    capsule_sandbox_t *sbx = s_run (&run, result, out, out_size);
    capsule_sandbox_destroy (&sbx);
}

static void
s_assert_refused (const capsule_sandbox_result_t *r, const char *out, const char *expect)
{
    if (!r->exited || r->exit_code != 3 || !strstr (out, expect))
        print_error ("result %s, output \"%s\"\n", r->reason, out);
    assert_true (r->exited);
    assert_int_equal (r->exit_code, 3);
    assert_int_equal (r->killed, CAPSULE_SANDBOX_LIMIT_NONE);
    assert_non_null (strstr (out, expect));
}

static void
s_assert_seccomp_kill (const capsule_sandbox_result_t *r)
{
    if (r->exited || r->signal != SIGSYS)
        print_error ("result %s\n", r->reason);
    assert_false (r->exited);
    assert_int_equal (r->signal, SIGSYS);
    assert_non_null (strstr (r->reason, "seccomp"));
}

/* ---- What the program sees ---------------------------------------------- */

static void
test_whoami (void **state)
{
    (void)state;
    capsule_sandbox_result_t r;
    char out[512];
    s_run_escape ("whoami", NULL, &r, out, sizeof out);
    assert_true (r.exited);
    assert_int_equal (r.exit_code, 0);
    assert_string_equal (r.reason, "exited 0");
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_NONE);
    /* Unprivileged uid, no capabilities at all, no_new_privs, seccomp
       filter mode (2), own hostname, PID 1 of its own namespace. */
    assert_string_equal (out, "uid=1000 gid=1000 capeff=000000000 capprm=000000000 nnp=1 "
                              "seccomp=2 host=capsule pid=1\n");
    assert_int_equal (r.degraded, s_degraded);
    assert_true (r.wall_us > 0);
}

static void
test_capture_and_usage (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_true", "hello from the capsule", NULL, NULL);
    capsule_sandbox_result_t r;
    char out[128];
    capsule_sandbox_t *sbx = s_run (&run, &r, out, sizeof out);
    assert_string_equal (out, "hello from the capsule\n");
    assert_true (r.exited);
    assert_int_equal (r.exit_code, 0);
    assert_true (r.peak_mem_bytes > 0);
    size_t len = 99;
    assert_non_null (capsule_sandbox_captured (sbx, 2, &len));
    assert_int_equal (len, 0);
    capsule_sandbox_destroy (&sbx);
    assert_null (sbx);
}

/* Ordinary work: busybox sh with sort, comm and cat on bound input. */
static void
test_busybox_pipeline (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sh", "-c",
            "sort /ro/names-a > /tmp/a && sort /ro/names-b > /tmp/b && "
            "comm -12 /tmp/a /tmp/b > /out/common && cat /out/common",
            NULL);
    char *envp[] = { "PATH=/bin:/usr/bin", NULL };
    run.spec.envp = envp;
    run.spec.limits.pids = 16;
    run.spec.limits.mem_bytes = 64u << 20;
    run.spec.limits.cpu_ms = 5000;
    capsule_sandbox_result_t r;
    char out[128];
    capsule_sandbox_t *sbx = s_run (&run, &r, out, sizeof out);
    if (!r.exited || r.exit_code != 0) {
        size_t len;
        const uint8_t *err = capsule_sandbox_captured (sbx, 2, &len);
        print_error ("%s: %.*s\n", r.reason, (int)len, (const char *)err);
    }
    assert_string_equal (out, "bob\ncarol\n");
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_NONE);
    /* The exported /out is readable on the host until the wipe. */
    const char *exported = capsule_sandbox_export_path (sbx, 1);
    assert_non_null (exported);
    assert_null (capsule_sandbox_export_path (sbx, 0));
    assert_int_equal (capsule_sandbox_export_fd (sbx, 0), -1);
    char path[1024];
    s_path (path, sizeof path, "%s/common", exported);
    size_t len = 0;
    uint8_t *data = test_read_file (path, &len);
    assert_int_equal (len, 10);
    assert_memory_equal (data, "bob\ncarol\n", 10);
    free (data);
    int fd = openat (capsule_sandbox_export_fd (sbx, 1), "common", O_RDONLY | O_CLOEXEC);
    assert_true (fd >= 0);
    struct stat st;
    assert_int_equal (fstat (fd, &st), 0);
    /* Written by the mapped unprivileged uid (host nobody), never root. */
    assert_int_equal (st.st_uid, CAPSULE_SANDBOX_DEFAULT_HOST_ID);
    close (fd);
    capsule_sandbox_wipe (sbx);
    assert_null (capsule_sandbox_export_path (sbx, 1));
    assert_int_equal (capsule_sandbox_export_fd (sbx, 1), -1);
    capsule_sandbox_destroy (&sbx);
}

/* ---- Escapes -------------------------------------------------------------- */

static int
s_listen (int *port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in sa = { .sin_family = AF_INET };
    sa.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (bind (fd, (struct sockaddr *)&sa, sizeof sa), 0);
    assert_int_equal (listen (fd, 4), 0);
    socklen_t sl = sizeof sa;
    assert_int_equal (getsockname (fd, (struct sockaddr *)&sa, &sl), 0);
    *port = ntohs (sa.sin_port);
    return fd;
}

static void
test_escape_network (void **state)
{
    (void)state;
    int port = 0;
    int fd = s_listen (&port);
    char arg[16];
    snprintf (arg, sizeof arg, "%d", port);
    capsule_sandbox_result_t r;
    char out[256];
    /* The filter refuses even the socket. */
    s_run_escape ("connect", arg, &r, out, sizeof out);
    s_assert_refused (&r, out, "refused socket: Operation not permitted");
    /* And the network namespace has no route to the host: the listener is
       not in its socket table and only a loopback exists. */
    s_run_escape ("nettab", arg, &r, out, sizeof out);
    s_assert_refused (&r, out, "listener not visible; interfaces 1 (lo)");
    close (fd);
}

static void
test_escape_raw_socket (void **state)
{
    (void)state;
    capsule_sandbox_result_t r;
    char out[256];
    s_run_escape ("raw", NULL, &r, out, sizeof out);
    s_assert_refused (&r, out, "refused raw: Operation not permitted");
}

static void
test_escape_mount_ptrace_unshare (void **state)
{
    (void)state;
    capsule_sandbox_result_t r;
    char out[256];
    s_run_escape ("mount", NULL, &r, out, sizeof out);
    s_assert_seccomp_kill (&r);
    assert_string_equal (out, "");
    s_run_escape ("ptrace", NULL, &r, out, sizeof out);
    s_assert_seccomp_kill (&r);
    s_run_escape ("unshare", NULL, &r, out, sizeof out);
    s_assert_seccomp_kill (&r);
}

static void
test_escape_write_outside_tmpfs (void **state)
{
    (void)state;
    capsule_sandbox_result_t r;
    char out[256];
    s_run_escape ("write", "/bin/planted", &r, out, sizeof out);
    s_assert_refused (&r, out, "Read-only file system");
    s_run_escape ("write", "/planted", &r, out, sizeof out);
    s_assert_refused (&r, out, "Read-only file system");
    s_run_escape ("write", "/ro/planted", &r, out, sizeof out);
    s_assert_refused (&r, out, "Read-only file system");
    s_run_escape ("write", "/dev/planted", &r, out, sizeof out);
    s_assert_refused (&r, out, "Read-only file system");
    /* Allowed places work, so the refusals above are the mounts' doing. */
    s_run_escape ("write", "/tmp/ok", &r, out, sizeof out);
    assert_int_equal (r.exit_code, 0);
    s_run_escape ("write", "/rw/ok", &r, out, sizeof out);
    assert_int_equal (r.exit_code, 0);
    char path[1024];
    s_path (path, sizeof path, "%s/planted", s_ro);
    struct stat st;
    assert_int_equal (stat (path, &st), -1);
    s_path (path, sizeof path, "%s/bin/planted", s_root);
    assert_int_equal (stat (path, &st), -1);
    s_path (path, sizeof path, "%s/ok", s_rw);
    assert_int_equal (stat (path, &st), 0);
    /* Written by the mapped unprivileged host uid, never by root. */
    assert_int_equal (st.st_uid, CAPSULE_SANDBOX_DEFAULT_HOST_ID);
    unlink (path);
}

static void
test_escape_read_state_dir (void **state)
{
    (void)state;
    capsule_sandbox_result_t r;
    char out[512], path[1024];
    s_path (path, sizeof path, "%s/secret", s_state);
    s_run_escape ("read", path, &r, out, sizeof out);
    s_assert_refused (&r, out, "No such file or directory");
    /* Nor through /proc: PID 1 is the program itself, the host's processes
       are not in its PID namespace. */
    s_path (path, sizeof path, "/proc/%d/root%s/secret", (int)getpid (), s_state);
    s_run_escape ("read", path, &r, out, sizeof out);
    s_assert_refused (&r, out, "No such file or directory");
    /* A symlink in the root resolves inside the root, not on the host. */
    s_run_escape ("read", "/etc-link/shadow", &r, out, sizeof out);
    s_assert_refused (&r, out, "No such file or directory");
}

/* ---- Limits ---------------------------------------------------------------- */

static void
test_limit_pids (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "forkbomb", NULL, NULL);
    run.spec.limits.pids = 16;
    run.spec.limits.wall_ms = 3000;
    capsule_sandbox_result_t r;
    capsule_sandbox_t *sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    if (s_degraded & (CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY | CAPSULE_SANDBOX_DEGRADED_NO_CG_PIDS))
        assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_WALL); /* RLIMIT_NPROC refuses */
    else {
        assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_PIDS);
        assert_non_null (strstr (r.reason, "pids limit (16) reached"));
    }
    assert_string_equal (capsule_sandbox_limit_name (r.killed),
                         r.killed == CAPSULE_SANDBOX_LIMIT_PIDS ? "pids" : "wall");
}

static void
test_limit_memory (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "memhog", NULL, NULL);
    run.spec.limits.mem_bytes = 32u << 20;
    capsule_sandbox_result_t r;
    char out[256];
    capsule_sandbox_t *sbx = s_run (&run, &r, out, sizeof out);
    capsule_sandbox_destroy (&sbx);
    if (s_degraded & (CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY | CAPSULE_SANDBOX_DEGRADED_NO_CG_MEMORY))
        s_assert_refused (&r, out, "malloc refused"); /* RLIMIT_AS */
    else {
        assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_MEMORY);
        assert_false (r.exited);
        assert_int_equal (r.signal, SIGKILL);
        assert_string_equal (r.reason, "killed: memory limit (33554432 bytes)");
        assert_true (r.peak_mem_bytes > (16u << 20));
        assert_true (r.peak_mem_bytes <= (32u << 20) + (1u << 20));
    }
}

static void
test_limit_cpu (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "spin", NULL, NULL);
    run.spec.limits.cpu_ms = 300;
    capsule_sandbox_result_t r;
    capsule_sandbox_t *sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_CPU);
    assert_string_equal (r.reason, "killed: cpu limit (300 ms)");
    assert_true (r.cpu_user_us + r.cpu_sys_us >= 300000);
}

static void
test_limit_wall (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "sleep", NULL, NULL);
    run.spec.limits.wall_ms = 200;
    capsule_sandbox_result_t r;
    capsule_sandbox_t *sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_WALL);
    assert_false (r.exited);
    assert_int_equal (r.signal, SIGKILL);
    assert_string_equal (r.reason, "killed: wall-clock limit (200 ms)");
    assert_true (r.wall_us >= 200000);
    /* An infinite loop with only a wall limit ends the same way. */
    s_spec (&run, "/bin/sbx_escape", "spin", NULL, NULL);
    run.spec.limits.wall_ms = 200;
    sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_WALL);
}

static void
test_limit_output (void **state)
{
    (void)state;
    /* Captured stdout over its bound: killed. */
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "output", "1000000", NULL);
    run.spec.limits.output_bytes = 1000;
    capsule_sandbox_result_t r;
    capsule_sandbox_t *sbx = s_run (&run, &r, NULL, 0);
    size_t len = 0;
    assert_non_null (capsule_sandbox_captured (sbx, 1, &len));
    assert_int_equal (len, 1000);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_OUTPUT);
    assert_non_null (strstr (r.reason, "output limit (1000 bytes) reached"));
    /* A file in /out past the exported tmpfs size: ENOSPC, and the result
       says the output limit tripped. */
    s_spec (&run, "/bin/sbx_escape", "output", "1048576", "/out/big");
    sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    assert_true (r.exited);
    assert_int_equal (r.exit_code, 3);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_OUTPUT);
    assert_string_equal (r.reason, "output limit (65536 bytes) reached; exited 3");
}

/* Where no cgroup controller is writable (here forced: the delegated cgroup
   directory does not exist), rlimits enforce the limits and the result says
   "rlimit-only". */
static void
test_rlimit_only (void **state)
{
    (void)state;
    s_run_t run;
    capsule_sandbox_result_t r;
    char out[256];
    s_spec (&run, "/bin/sbx_escape", "memhog", NULL, NULL);
    run.spec.cgroup_parent = "/nonexistent-warden-cgroup";
    run.spec.limits.mem_bytes = 32u << 20;
    capsule_sandbox_t *sbx = s_run (&run, &r, out, sizeof out);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.degraded, CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY);
    s_assert_refused (&r, out, "malloc refused after"); /* RLIMIT_AS */
    s_spec (&run, "/bin/sbx_escape", "forkbomb", NULL, NULL);
    run.spec.cgroup_parent = "/nonexistent-warden-cgroup";
    run.spec.limits.pids = 8;
    run.spec.limits.wall_ms = 500;
    sbx = s_run (&run, &r, out, sizeof out);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_WALL);
    assert_non_null (strstr (out, "fork refused after 7: Resource temporarily unavailable"));
    s_spec (&run, "/bin/sbx_escape", "spin", NULL, NULL);
    run.spec.cgroup_parent = "/nonexistent-warden-cgroup";
    run.spec.limits.cpu_ms = 300; /* RLIMIT_CPU counts whole seconds: 1 s */
    sbx = s_run (&run, &r, NULL, 0);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_CPU);
    assert_true (r.cpu_user_us + r.cpu_sys_us >= 300000);
    const char *names[4];
    assert_int_equal (capsule_sandbox_degraded_names (r.degraded, names, 4), 1);
    assert_string_equal (names[0], "rlimit-only");
}

/* ---- API -------------------------------------------------------------------- */

static void
test_nonblocking_and_kill (void **state)
{
    (void)state;
    s_run_t run;
    s_spec (&run, "/bin/sbx_escape", "sleep", NULL, NULL);
    capsule_sandbox_t *sbx = NULL;
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, NULL, 0), 0);
    assert_true (capsule_sandbox_pid (sbx) > 1);
    capsule_sandbox_result_t r;
    assert_int_equal (capsule_sandbox_collect (sbx, &r), 1);
    struct pollfd p = { capsule_sandbox_fd (sbx), POLLIN, 0 };
    assert_int_equal (poll (&p, 1, 50), 0); /* nothing to do while it sleeps */
    capsule_sandbox_kill (sbx);
    int rc;
    while ((rc = capsule_sandbox_collect (sbx, &r)) == 1)
        assert_true (poll (&p, 1, 5000) == 1);
    assert_int_equal (rc, 0);
    assert_false (r.exited);
    assert_int_equal (r.signal, SIGKILL);
    assert_int_equal (r.killed, CAPSULE_SANDBOX_LIMIT_NONE);
    assert_string_equal (r.reason, "killed by the node");
    capsule_sandbox_result_t again;
    assert_int_equal (capsule_sandbox_collect (sbx, &again), 0);
    assert_memory_equal (&again, &r, sizeof r);
    capsule_sandbox_destroy (&sbx);
    /* Status stolen by a waitpid elsewhere in the process: said so. */
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, NULL, 0), 0);
    int status;
    assert_int_equal (waitpid (capsule_sandbox_pid (sbx), &status, 0), capsule_sandbox_pid (sbx));
    assert_int_equal (capsule_sandbox_wait (sbx, &r), 0);
    assert_false (r.exited);
    assert_int_equal (r.signal, 0);
    assert_string_equal (r.reason, "exit status lost: reaped elsewhere in the node process");
    capsule_sandbox_destroy (&sbx);
    /* Destroying a running sandbox kills and reaps it. */
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, NULL, 0), 0);
    pid_t pid = capsule_sandbox_pid (sbx);
    capsule_sandbox_destroy (&sbx);
    assert_int_equal (kill (pid, 0), -1);
    assert_int_equal (errno, ESRCH);
}

static void
test_spec_errors (void **state)
{
    (void)state;
    s_run_t run;
    capsule_sandbox_t *sbx = NULL;
    char why[256];
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    run.tmpfs[0].dst = "/missing";
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_SPEC);
    assert_null (sbx);
    assert_non_null (strstr (why, "/missing"));
    /* A mount point reached through a symlink in the (user-supplied) root. */
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    run.tmpfs[0].dst = "/etc-link";
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_SPEC);
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    run.binds[0].dst = "/ro/../bin";
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_SPEC);
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    run.tmpfs[1].size_bytes = 0;
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_SPEC);
    s_spec (&run, "relative", NULL, NULL, NULL);
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_SPEC);
    /* A program that is not there fails at execve, with nothing left. */
    s_spec (&run, "/bin/absent", NULL, NULL, NULL);
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_EXEC);
    assert_null (sbx);
    assert_string_equal (why, "execve /bin/absent: No such file or directory");
    s_spec (&run, "/bin/sbx_true", NULL, NULL, NULL);
    run.spec.cwd = "/absent";
    assert_int_equal (capsule_sandbox_start (&run.spec, &sbx, why, sizeof why),
                      CAPSULE_ERR_SANDBOX_EXEC);
}

static int s_leftovers;

static int
s_find_leftover (const char *path, const struct stat *st, int type, struct FTW *ftw)
{
    (void)st;
    (void)ftw;
    char prefix[64];
    snprintf (prefix, sizeof prefix, "warden-sbx-%d-", (int)getpid ());
    const char *base = strrchr (path, '/');
    if (type == FTW_D && base && strncmp (base + 1, prefix, strlen (prefix)) == 0) {
        print_error ("left behind: %s\n", path);
        s_leftovers++;
    }
    return 0;
}

/* After everything above: no cgroup and no host directory left behind. */
static void
test_wiped (void **state)
{
    (void)state;
    s_leftovers = 0;
    assert_int_equal (nftw ("/sys/fs/cgroup", s_find_leftover, 16, FTW_PHYS | FTW_MOUNT), 0);
    assert_int_equal (s_leftovers, 0);
    const char *names[8];
    size_t n = capsule_sandbox_degraded_names (
        CAPSULE_SANDBOX_DEGRADED_RLIMIT_ONLY | CAPSULE_SANDBOX_DEGRADED_NO_CG_CPU, names, 8);
    assert_int_equal (n, 2);
    assert_string_equal (names[0], "rlimit-only");
    assert_string_equal (names[1], "no-cgroup-cpu");
    assert_null (capsule_sandbox_limit_name (CAPSULE_SANDBOX_LIMIT_NONE));
    char desc[128];
    capsule_sandbox_probe (desc, sizeof desc);
    print_message ("sandbox host: %s\n", desc);
}

int
main (void)
{
    if (geteuid () != 0) {
        fprintf (stderr, "test_capsule_sandbox needs root (user namespaces with mapped ids, "
                         "cgroups, tmpfs exports)\n");
        return 77;
    }
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_whoami),
        cmocka_unit_test (test_capture_and_usage),
        cmocka_unit_test (test_busybox_pipeline),
        cmocka_unit_test (test_escape_network),
        cmocka_unit_test (test_escape_raw_socket),
        cmocka_unit_test (test_escape_mount_ptrace_unshare),
        cmocka_unit_test (test_escape_write_outside_tmpfs),
        cmocka_unit_test (test_escape_read_state_dir),
        cmocka_unit_test (test_limit_pids),
        cmocka_unit_test (test_limit_memory),
        cmocka_unit_test (test_limit_cpu),
        cmocka_unit_test (test_limit_wall),
        cmocka_unit_test (test_limit_output),
        cmocka_unit_test (test_rlimit_only),
        cmocka_unit_test (test_nonblocking_and_kill),
        cmocka_unit_test (test_spec_errors),
        cmocka_unit_test (test_wiped),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
