/*
 * bench_http: HTTP download throughput of pxe_http over loopback, next to
 * peers measured in the same run with the same client (curl): busybox
 * httpd (or, when busybox is missing, python3 -m http.server) and a raw
 * sendfile bound (a bare loop in this program: accept, read the request,
 * write a fixed header, sendfile the file; no HTTP parsing at all, so
 * nothing real can beat it). pxe_http runs twice: serving the boot
 * directory (pread + SHA-256 of every byte it hands to libmicrohttpd) and
 * serving an approved image set (the sealed verified memfd, sent with
 * sendfile; MHD uses sendfile because SIGPIPE is ignored). Clients write
 * to /dev/shm when it exists. Servers are pinned to CPU 0 and single clients to CPU 1 when
 * there are two CPUs. Each figure is the median of --runs; servers take
 * turns within a round. Then --concurrent curl clients at once
 * (aggregate MiB/s, not pinned).
 *
 * Every fetched file is checked against the SHA-256 of the original; a
 * wrong answer from any server fails the run (exit 1). Nothing asserts on
 * timing. Exit codes: 0 ok, 1 wrong bytes or our server failed, 2 usage,
 * 3 internal error.
 *
 * Usage: bench_http [--size MIB] [--runs N] [--concurrent N] [--no-peers]
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sched.h>
#include <signal.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/sendfile.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "bench_support.h"
#include "pxe_http.h"
#include "pxe_images.h"

#define S_RUNS_MAX    15
#define S_CLIENTS_MAX 64
#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2

typedef enum { S_PLAIN, S_IMAGES, S_PEER, S_SENDFILE, S_SERVERS } s_server_id_t;

typedef struct {
    const char *name;
    pid_t pid;
    uint16_t port;
    bool up;
    double single[S_RUNS_MAX];
    double many[S_RUNS_MAX];
    bool failed;
} s_server_t;

static char s_dir[64];
static const char *s_out; /* where clients write */
static uint8_t s_digest[32];
static bool s_two_cpus;
static unsigned long s_wrong;
static volatile int s_stop;

static void
s_on_term (int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_pin (int cpu)
{
    if (!s_two_cpus || cpu < 0)
        return;
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (cpu, &set);
    (void)sched_setaffinity (0, sizeof set, &set);
}

static pid_t
s_spawn (char *const argv[], int cpu, const char *cwd)
{
    pid_t pid = fork ();
    if (pid == 0) {
        s_pin (cpu);
        int null = open ("/dev/null", O_RDWR);
        dup2 (null, 0);
        dup2 (null, 1);
        dup2 (null, 2);
        if (cwd && chdir (cwd) < 0)
            _exit (127);
        execvp (argv[0], argv);
        _exit (127);
    }
    return pid;
}

static pid_t
s_curl (uint16_t port, const char *local, int cpu)
{
    char url[128];
    snprintf (url, sizeof url, "http://127.0.0.1:%u/image", port);
    char *argv[] = { "curl", "-s", "-f", "--max-time", "120", "-o", (char *)local, url, NULL };
    return s_spawn (argv, cpu, NULL);
}

/* MiB/s of n clients fetching the file at once, or -1 when one failed. */
static double
s_measure (uint16_t port, size_t size, unsigned n)
{
    pid_t pids[S_CLIENTS_MAX];
    char locals[S_CLIENTS_MAX][96];
    double t0 = bench_now ();
    for (unsigned i = 0; i < n; i++) {
        snprintf (locals[i], sizeof locals[i], "%s/%u", s_out, i);
        pids[i] = s_curl (port, locals[i], n > 1 ? -1 : 1);
    }
    bool ok = true;
    for (unsigned i = 0; i < n; i++) {
        int status;
        if (pids[i] < 0 || waitpid (pids[i], &status, 0) < 0 || !WIFEXITED (status) ||
            WEXITSTATUS (status) != 0)
            ok = false;
    }
    double dt = bench_now () - t0;
    for (unsigned i = 0; i < n; i++) {
        if (ok && !bench_file_matches (locals[i], s_digest)) {
            s_wrong++;
            ok = false;
        }
        unlink (locals[i]);
    }
    return ok ? (double)size * n / (1024.0 * 1024.0) / dt : -1;
}

static bool
s_wait_ready (uint16_t port)
{
    char local[96];
    snprintf (local, sizeof local, "%s/probe", s_out);
    for (int i = 0; i < 50; i++) {
        pid_t pid = s_curl (port, local, -1);
        int status;
        if (pid > 0 && waitpid (pid, &status, 0) == pid && WIFEXITED (status) &&
            WEXITSTATUS (status) == 0) {
            unlink (local);
            return true;
        }
        usleep (100000);
    }
    return false;
}

/* pxe_http in a child process, on the boot directory or an image set. */
static pid_t
s_start_warden (bool images, uint16_t *port)
{
    int sock = pxe_http_bind ("127.0.0.1", 0, port);
    int root = open (s_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sock < 0 || root < 0)
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        s_pin (0);
        struct sigaction sa = { .sa_handler = s_on_term };
        sigaction (SIGTERM, &sa, NULL);
        signal (SIGPIPE, SIG_IGN);
        pxe_images_t *set = NULL;
        if (images) {
            set = pxe_images_new (dup (root), NULL);
            if (!set || pxe_images_approve (set, PXE_IMAGE_KERNEL, "image", s_digest) != 0 ||
                pxe_images_verify (set) != PXE_ERR_IMAGE_INCOMPLETE) /* no script: fine here */
                _exit (3);
        }
        pxe_http_config_t config = { .max_per_client = S_CLIENTS_MAX + 4 };
        pxe_http_t *server = pxe_http_new (sock, root, set, &config, NULL);
        if (!server)
            _exit (3);
        int rc = pxe_http_run (server, &s_stop);
        pxe_http_destroy (&server);
        pxe_images_destroy (&set);
        _exit (rc ? 3 : 0);
    }
    close (sock);
    close (root);
    return pid;
}

/* The bound: HTTP/1.0-style, one file, sendfile, a process per
   connection so concurrent clients are served at once. */
static pid_t
s_start_sendfile (uint16_t *port)
{
    int sock = pxe_http_bind ("127.0.0.1", 0, port);
    char path[128];
    snprintf (path, sizeof path, "%s/image", s_dir);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (sock < 0 || fd < 0 || fstat (fd, &st) < 0)
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        s_pin (0);
        signal (SIGCHLD, SIG_IGN);
        for (;;) {
            int c = accept (sock, NULL, NULL);
            if (c < 0)
                continue;
            if (fork () == 0) {
                char req[4096];
                size_t got = 0;
                while (got < sizeof req - 1) {
                    ssize_t r = recv (c, req + got, sizeof req - 1 - got, 0);
                    if (r <= 0)
                        _exit (0);
                    got += (size_t)r;
                    req[got] = '\0';
                    if (strstr (req, "\r\n\r\n"))
                        break;
                }
                char hdr[128];
                int n = snprintf (hdr, sizeof hdr,
                                  "HTTP/1.1 200 OK\r\nContent-Length: %lld\r\n"
                                  "Connection: close\r\n\r\n",
                                  (long long)st.st_size);
                if (send (c, hdr, (size_t)n, 0) == n) {
                    off_t off = 0;
                    while (off < st.st_size &&
                           sendfile (c, fd, &off, (size_t)(st.st_size - off)) > 0)
                        ;
                }
                _exit (0);
            }
            close (c);
        }
    }
    close (sock);
    close (fd);
    return pid;
}

static uint16_t
s_free_port (void)
{
    uint16_t port = 0;
    int fd = pxe_http_bind ("127.0.0.1", 0, &port);
    if (fd < 0)
        return 0;
    close (fd);
    return port;
}

static bool
s_in_path (const char *name)
{
    const char *path = getenv ("PATH");
    if (!path)
        return false;
    char buf[512];
    for (const char *p = path; *p;) {
        size_t n = strcspn (p, ":");
        snprintf (buf, sizeof buf, "%.*s/%s", (int)n, p, name);
        if (access (buf, X_OK) == 0)
            return true;
        p += n + (p[n] == ':');
    }
    return false;
}

static pid_t
s_start_peer (const char **name, uint16_t *port)
{
    *port = s_free_port ();
    char ps[32];
    if (s_in_path ("busybox")) {
        *name = "busybox httpd";
        snprintf (ps, sizeof ps, "127.0.0.1:%u", *port);
        char *argv[] = { "busybox", "httpd", "-f", "-p", ps, "-h", s_dir, NULL };
        return s_spawn (argv, 0, NULL);
    }
    if (s_in_path ("python3")) {
        *name = "python3 http.server";
        snprintf (ps, sizeof ps, "%u", *port);
        char *argv[] = { "python3", "-m", "http.server", "-b", "127.0.0.1", ps, NULL };
        return s_spawn (argv, 0, s_dir);
    }
    return -1;
}

static double
s_median (double *v, unsigned n)
{
    double tmp[S_RUNS_MAX];
    for (unsigned i = 0; i < n; i++)
        if (v[i] < 0)
            return -1;
    memcpy (tmp, v, n * sizeof *v);
    bench_sort (tmp, n);
    return n % 2 ? tmp[n / 2] : (tmp[n / 2 - 1] + tmp[n / 2]) / 2;
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: bench_http [--size MIB] [--runs N] [--concurrent N] [--no-peers]\n");
}

int
main (int argc, char **argv)
{
    unsigned size_mib = 64, runs = 5, concurrent = 8;
    bool peers = true;
    static const struct option opts[] = {
        { "size", required_argument, NULL, 's' },
        { "runs", required_argument, NULL, 'r' },
        { "concurrent", required_argument, NULL, 'c' },
        { "no-peers", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        unsigned long v = optarg ? strtoul (optarg, &end, 10) : 0;
        bool bad = optarg && (*optarg == '\0' || *end != '\0');
        switch (c) {
            case 's':
                if (bad || v < 1 || v > 4096)
                    return s_usage (), S_EXIT_USAGE;
                size_mib = (unsigned)v;
                break;
            case 'r':
                if (bad || v < 1 || v > S_RUNS_MAX)
                    return s_usage (), S_EXIT_USAGE;
                runs = (unsigned)v;
                break;
            case 'c':
                if (bad || v > S_CLIENTS_MAX)
                    return s_usage (), S_EXIT_USAGE;
                concurrent = (unsigned)v;
                break;
            case 'n':
                peers = false;
                break;
            case 'h':
                s_usage ();
                return 0;
            default:
                s_usage ();
                return S_EXIT_USAGE;
        }
    }
    if (sodium_init () < 0)
        return BENCH_EXIT_INTERNAL;
    if (!s_in_path ("curl")) {
        fprintf (stderr, "bench_http: curl is missing (scripts/install-deps)\n");
        return BENCH_EXIT_INTERNAL;
    }
    signal (SIGPIPE, SIG_IGN);
    s_two_cpus = sysconf (_SC_NPROCESSORS_ONLN) >= 2;
    snprintf (s_dir, sizeof s_dir, "/tmp/warden-bench-http.XXXXXX");
    if (!mkdtemp (s_dir))
        return BENCH_EXIT_INTERNAL;
    char path[128];
    /* Clients write to tmpfs when there is one: a disk under /tmp
       measured the disk, not the servers. */
    static char out_dir[96];
    snprintf (out_dir, sizeof out_dir, "/dev/shm/warden-bench-http.XXXXXX");
    if (!mkdtemp (out_dir)) {
        snprintf (out_dir, sizeof out_dir, "%s/out", s_dir);
        mkdir (out_dir, 0755);
    }
    s_out = out_dir;
    size_t size = (size_t)size_mib * 1024 * 1024;
    snprintf (path, sizeof path, "%s/image", s_dir);
    if (bench_write_random (path, size, s_digest) < 0)
        return BENCH_EXIT_INTERNAL;

    s_server_t servers[S_SERVERS] = {
        [S_PLAIN] = { .name = "warden (boot dir)" },
        [S_IMAGES] = { .name = "warden (image set)" },
        [S_PEER] = { .name = "peer" },
        [S_SENDFILE] = { .name = "raw sendfile" },
    };
    servers[S_PLAIN].pid = s_start_warden (false, &servers[S_PLAIN].port);
    servers[S_IMAGES].pid = s_start_warden (true, &servers[S_IMAGES].port);
    if (peers) {
        servers[S_PEER].pid = s_start_peer (&servers[S_PEER].name, &servers[S_PEER].port);
        if (servers[S_PEER].pid < 0)
            printf ("peer: skipped (neither busybox nor python3 found)\n");
        servers[S_SENDFILE].pid = s_start_sendfile (&servers[S_SENDFILE].port);
    }
    for (int s = 0; s < S_SERVERS; s++)
        if (servers[s].pid > 0) {
            servers[s].up = s_wait_ready (servers[s].port);
            if (!servers[s].up)
                printf ("%s: did not answer a probe fetch\n", servers[s].name);
        }
    int rc = 0;
    if (!servers[S_PLAIN].up || !servers[S_IMAGES].up)
        rc = S_EXIT_BAD;

    printf ("bench_http: %u MiB file over 127.0.0.1, curl, median of %u run(s)%s\n", size_mib, runs,
            s_two_cpus ? ", servers on CPU 0, clients on CPU 1" : "");
    for (unsigned r = 0; r < runs && rc == 0; r++)
        for (int s = 0; s < S_SERVERS; s++) {
            if (!servers[s].up)
                continue;
            servers[s].single[r] = s_measure (servers[s].port, size, 1);
            if (concurrent > 1) /* every client fetches the whole file */
                servers[s].many[r] = s_measure (servers[s].port, size, concurrent);
        }

    double single[S_SERVERS] = { 0 }, many[S_SERVERS] = { 0 };
    for (int s = 0; s < S_SERVERS && rc == 0; s++) {
        if (!servers[s].up)
            continue;
        single[s] = s_median (servers[s].single, runs);
        many[s] = concurrent > 1 ? s_median (servers[s].many, runs) : 0;
        if (single[s] < 0 || many[s] < 0) {
            printf ("%-22s failed\n", servers[s].name);
            if (s <= S_IMAGES)
                rc = S_EXIT_BAD;
            continue;
        }
        printf ("%-22s %9.1f MiB/s", servers[s].name, single[s]);
        if (concurrent > 1)
            printf ("   %u clients: %9.1f MiB/s aggregate", concurrent, many[s]);
        printf ("\n");
    }
    if (rc == 0)
        for (int base = S_PEER; base < S_SERVERS; base++) {
            if (!servers[base].up || single[base] <= 0)
                continue;
            for (int s = S_PLAIN; s <= S_IMAGES; s++) {
                printf ("ratio %s / %s: %.2f", servers[s].name, servers[base].name,
                        single[s] / single[base]);
                if (concurrent > 1 && many[base] > 0)
                    printf ("   (%u clients: %.2f)", concurrent, many[s] / many[base]);
                printf ("\n");
            }
        }
    for (int s = 0; s < S_SERVERS; s++)
        if (servers[s].pid > 0) {
            kill (servers[s].pid, SIGTERM);
            int status;
            waitpid (servers[s].pid, &status, 0);
            if (s <= S_IMAGES && (!WIFEXITED (status) || WEXITSTATUS (status) != 0)) {
                printf ("%s exited badly\n", servers[s].name);
                rc = S_EXIT_BAD;
            }
        }
    if (s_wrong) {
        printf ("bench_http: %lu fetched file(s) had wrong bytes\n", s_wrong);
        rc = S_EXIT_BAD;
    }
    snprintf (path, sizeof path, "%s/image", s_dir);
    unlink (path);
    rmdir (s_out);
    rmdir (s_dir);
    return rc;
}
