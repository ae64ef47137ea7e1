/*
 * bench_sandbox: runs a trivial static program (tests/sandbox/sbx_true)
 * --runs times in capsule_sandbox and --runs times under Debian's bubblewrap
 * (`bwrap --unshare-all --die-with-parent --ro-bind ROOT / --tmpfs /tmp
 * --tmpfs /out PROGRAM ok`), in the same run, alternating --rounds times,
 * and prints both rates and their ratio. Issue 9's goal: the sandbox no
 * slower than bubblewrap while it also enforces limits (cgroups or
 * rlimits), a seccomp filter, a wall-clock deadline, and measures usage;
 * bubblewrap here does none of those.
 *
 * Our spec per run: read-only root, a private 1 MiB /tmp tmpfs, an exported
 * 64 KiB /out tmpfs (mounted on the host, read back, wiped), stdout
 * captured, limits wall 10 s, cpu 1 s, memory 64 MiB, 16 pids, 64 KiB of
 * output. Every answer is checked (exit 0 and "ok\n" on stdout, both
 * sandboxes); nothing asserts on timing. Needs root.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error (or not root).
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_support.h"
#include "capsule_sandbox.h"

#define S_EXIT_BAD   1
#define S_EXIT_USAGE 2
#define S_ROUNDS_MAX 15

extern char **environ;

typedef struct {
    char root[512];
    const char *bwrap;
    unsigned long failures;
} s_bench_t;

static int
s_copy (const char *src, const char *dst)
{
    int in = open (src, O_RDONLY | O_CLOEXEC);
    int out = open (dst, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0755);
    int rc = in >= 0 && out >= 0 ? 0 : -1;
    char buf[65536];
    ssize_t n;
    while (rc == 0 && (n = read (in, buf, sizeof buf)) > 0)
        if (write (out, buf, (size_t)n) != n)
            rc = -1;
    if (in >= 0)
        close (in);
    if (out >= 0)
        close (out);
    return rc;
}

/* root/{bin/sbx_true, tmp, out} in a fresh temporary directory. */
static int
s_make_root (s_bench_t *self, const char *program)
{
    char tmpl[] = "/tmp/bench-sandbox-XXXXXX";
    if (!mkdtemp (tmpl) || chmod (tmpl, 0755) < 0)
        return -1;
    snprintf (self->root, sizeof self->root, "%s", tmpl);
    const char *dirs[] = { "bin", "tmp", "out" };
    char path[600];
    for (size_t i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s", self->root, dirs[i]);
        if (mkdir (path, 0755) < 0)
            return -1;
    }
    snprintf (path, sizeof path, "%s/bin/sbx_true", self->root);
    return s_copy (program, path);
}

static void
s_remove_root (s_bench_t *self)
{
    const char *names[] = { "bin/sbx_true", "bin", "tmp", "out", "" };
    char path[600];
    for (size_t i = 0; i < 5; i++) {
        snprintf (path, sizeof path, "%s/%s", self->root, names[i]);
        if (unlink (path) < 0)
            rmdir (path);
    }
}

/* One run in capsule_sandbox; checks the answer. */
static void
s_run_ours (s_bench_t *self)
{
    static char *argv[] = { "/bin/sbx_true", "ok", NULL };
    capsule_sandbox_tmpfs_t tmpfs[2] = { { "/tmp", 1u << 20, false }, { "/out", 64u << 10, true } };
    capsule_sandbox_spec_t spec = {
        .root = self->root,
        .tmpfs = tmpfs,
        .tmpfs_count = 2,
        .argv = argv,
        .limits = { .wall_ms = 10000,
                    .cpu_ms = 1000,
                    .mem_bytes = 64u << 20,
                    .pids = 16,
                    .output_bytes = 64u << 10 },
        .out = { .mode = CAPSULE_SANDBOX_STREAM_CAPTURE },
        .err = { .mode = CAPSULE_SANDBOX_STREAM_CAPTURE },
    };
    capsule_sandbox_t *sbx = NULL;
    capsule_sandbox_result_t result;
    char why[256];
    int rc = capsule_sandbox_run (&spec, &sbx, &result, why, sizeof why);
    if (rc != 0) {
        fprintf (stderr, "bench_sandbox: capsule_sandbox_run: %s\n", why);
        self->failures++;
        return;
    }
    size_t len = 0;
    const uint8_t *out = capsule_sandbox_captured (sbx, 1, &len);
    if (!result.exited || result.exit_code != 0 || len != 3 || memcmp (out, "ok\n", 3) != 0 ||
        !capsule_sandbox_export_path (sbx, 1)) {
        fprintf (stderr, "bench_sandbox: ours: %s\n", result.reason);
        self->failures++;
    }
    capsule_sandbox_destroy (&sbx);
}

/* One run under bubblewrap; checks the answer. */
static void
s_run_bwrap (s_bench_t *self)
{
    char *argv[] = { (char *)self->bwrap,
                     "--unshare-all",
                     "--die-with-parent",
                     "--ro-bind",
                     self->root,
                     "/",
                     "--tmpfs",
                     "/tmp",
                     "--tmpfs",
                     "/out",
                     "/bin/sbx_true",
                     "ok",
                     NULL };
    int p[2];
    if (pipe2 (p, O_CLOEXEC) < 0) {
        self->failures++;
        return;
    }
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init (&fa);
    posix_spawn_file_actions_adddup2 (&fa, p[1], 1);
    pid_t pid;
    int rc = posix_spawn (&pid, self->bwrap, &fa, NULL, argv, environ);
    posix_spawn_file_actions_destroy (&fa);
    close (p[1]);
    char buf[64];
    size_t got = 0;
    ssize_t n;
    while (rc == 0 && got < sizeof buf && (n = read (p[0], buf + got, sizeof buf - got)) > 0)
        got += (size_t)n;
    close (p[0]);
    int status = 0;
    if (rc != 0 || waitpid (pid, &status, 0) != pid || !WIFEXITED (status) ||
        WEXITSTATUS (status) != 0 || got != 3 || memcmp (buf, "ok\n", 3) != 0) {
        fprintf (stderr, "bench_sandbox: bwrap run failed (status %d)\n", status);
        self->failures++;
    }
}

static void
s_usage (FILE *f)
{
    fprintf (f, "usage: bench_sandbox [--runs N] [--rounds R] [--bwrap PATH] [--program PATH]\n"
                "  --runs N       runs per sandbox per round (default 200)\n"
                "  --rounds R     alternating rounds, the median counts (default 3)\n"
                "  --bwrap PATH   bubblewrap (default /usr/bin/bwrap; skipped if missing)\n"
                "  --program PATH the static trivial program (default: built sbx_true)\n");
}

int
main (int argc, char **argv)
{
    unsigned long runs = 200, rounds = 3;
    const char *program = BENCH_SBX_TRUE_PATH;
    s_bench_t self = { .bwrap = "/usr/bin/bwrap" };
    static const struct option opts[] = {
        { "runs", required_argument, NULL, 'n' },  { "rounds", required_argument, NULL, 'r' },
        { "bwrap", required_argument, NULL, 'b' }, { "program", required_argument, NULL, 'p' },
        { "help", no_argument, NULL, 'h' },        { NULL, 0, NULL, 0 }
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
            case 'n':
                runs = strtoul (optarg, &end, 10);
                if (!end || *end || runs == 0)
                    return s_usage (stderr), S_EXIT_USAGE;
                break;
            case 'r':
                rounds = strtoul (optarg, &end, 10);
                if (!end || *end || rounds == 0 || rounds > S_ROUNDS_MAX)
                    return s_usage (stderr), S_EXIT_USAGE;
                break;
            case 'b':
                self.bwrap = optarg;
                break;
            case 'p':
                program = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
    }
    if (geteuid () != 0) {
        fprintf (stderr, "bench_sandbox: needs root (as wardend's parent runs)\n");
        return BENCH_EXIT_INTERNAL;
    }
    bool have_bwrap = access (self.bwrap, X_OK) == 0;
    if (!have_bwrap)
        fprintf (stderr, "bench_sandbox: %s not found: bubblewrap skipped\n", self.bwrap);
    if (s_make_root (&self, program) < 0) {
        fprintf (stderr, "bench_sandbox: cannot build the sandbox root: %s\n", strerror (errno));
        return BENCH_EXIT_INTERNAL;
    }
    char desc[128];
    unsigned degraded = capsule_sandbox_probe (desc, sizeof desc);
    const char *names[8];
    size_t nd = capsule_sandbox_degraded_names (degraded, names, 8);
    printf ("sandbox limits: %s; degraded: ", desc);
    for (size_t i = 0; i < nd; i++)
        printf ("%s%s", i ? "," : "", names[i]);
    printf ("%s\n", nd ? "" : "none");

    /* One warm-up run each (page cache, the seccomp program, the probe). */
    s_run_ours (&self);
    if (have_bwrap)
        s_run_bwrap (&self);
    double ours[S_ROUNDS_MAX], theirs[S_ROUNDS_MAX];
    for (unsigned long r = 0; r < rounds; r++) {
        double t0 = bench_now ();
        for (unsigned long i = 0; i < runs; i++)
            s_run_ours (&self);
        double t1 = bench_now ();
        ours[r] = (double)runs / (t1 - t0);
        if (have_bwrap) {
            for (unsigned long i = 0; i < runs; i++)
                s_run_bwrap (&self);
            theirs[r] = (double)runs / (bench_now () - t1);
        }
    }
    s_remove_root (&self);
    bench_sort (ours, rounds);
    bench_sort (theirs, have_bwrap ? rounds : 0);
    double o = bench_quantile (ours, rounds, 0.5);
    printf ("capsule_sandbox: %lu runs x %lu rounds, median %.0f runs/s (%.2f ms/run; limits, "
            "seccomp, measurement, /out export)\n",
            runs, rounds, o, 1000.0 / o);
    if (have_bwrap) {
        double t = bench_quantile (theirs, rounds, 0.5);
        printf ("bwrap --unshare-all: %lu runs x %lu rounds, median %.0f runs/s (%.2f ms/run)\n",
                runs, rounds, t, 1000.0 / t);
        printf ("ratio capsule_sandbox/bwrap: %.2fx the rate (goal >= 1.00)\n", o / t);
    }
    double t = have_bwrap ? bench_quantile (theirs, rounds, 0.5) : 0;
    printf ("bench_sandbox runs_per_s=%.0f bwrap_runs_per_s=%.0f ratio=%.3f failures=%lu\n", o, t,
            t > 0 ? o / t : 0.0, self.failures);
    if (self.failures) {
        fprintf (stderr, "bench_sandbox: %lu wrong answers\n", self.failures);
        return S_EXIT_BAD;
    }
    return 0;
}
