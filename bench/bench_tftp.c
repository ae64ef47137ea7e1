/*
 * bench_tftp: TFTP download throughput of pxe_tftp next to peer servers
 * measured in the same run with the same clients: dnsmasq (which serves
 * TFTP only on port 69, so it needs root and a free port 69 on the bench
 * address) and in.tftpd from tftpd-hpa (root, to drop to nobody), each
 * skipped with a message when it cannot run. Clients: curl at blksize 1468
 * and 65464 (curl never sends windowsize), atftp at blksize 1468 with
 * windowsize 16 (dnsmasq and tftp-hpa ignore it), then --concurrent curl
 * clients at once (aggregate MiB/s). Servers are pinned to CPU 0 and
 * single clients to CPU 1 when there are two CPUs; concurrent clients are
 * not pinned (32 of them on one CPU measured the scheduler, not the
 * servers). Each figure is the median of
 * --runs; the servers take turns within a round so drift hits all alike.
 *
 * Every fetched file is checked against the SHA-256 of the original; a
 * wrong answer from any server fails the run (exit 1). Nothing asserts on
 * timing. Exit codes: 0 ok, 1 wrong bytes or our server failed, 2 usage.
 *
 * Usage: bench_tftp [--size MIB] [--runs N] [--concurrent N] [--address A]
 *                   [--no-peers]
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
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "bench_support.h"
#include "pxe_tftp.h"

#define S_RUNS_MAX    15
#define S_CLIENTS_MAX 64
#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2

typedef enum { S_WARDEN, S_DNSMASQ, S_HPA, S_SERVERS } s_server_id_t;
static const char *const s_server_names[S_SERVERS] = { "warden", "dnsmasq", "tftp-hpa" };

typedef struct {
    pid_t pid;
    uint16_t port;
    bool up;
} s_server_t;

typedef struct {
    const char *label;
    const char *key;    /* for the summary line */
    const char *client; /* "curl" or "atftp" */
    unsigned blksize;
    unsigned window; /* 0: not sent */
    unsigned clients;
} s_case_t;

static char s_dir[64];
static const char *s_addr = "127.0.0.69";
static uint8_t s_digest[32], s_part_digest[32];
static bool s_two_cpus;
static unsigned long s_wrong;

static void
s_pin (int cpu)
{
    if (!s_two_cpus)
        return;
    cpu_set_t set;
    CPU_ZERO (&set);
    CPU_SET (cpu, &set);
    (void)sched_setaffinity (0, sizeof set, &set);
}

static int
s_write_random (const char *path, size_t len, uint8_t digest[32])
{
    FILE *fp = fopen (path, "wb");
    if (!fp)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    static uint8_t buf[1 << 16];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? len - done : sizeof buf;
        randombytes_buf (buf, n);
        crypto_hash_sha256_update (&st, buf, n);
        if (fwrite (buf, 1, n, fp) != n) {
            fclose (fp);
            return -1;
        }
        done += n;
    }
    crypto_hash_sha256_final (&st, digest);
    return fclose (fp) == 0 && chmod (path, 0644) == 0 ? 0 : -1;
}

static bool
s_file_matches (const char *path, const uint8_t want[32])
{
    FILE *fp = fopen (path, "rb");
    if (!fp)
        return false;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    static uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, fp)) > 0)
        crypto_hash_sha256_update (&st, buf, n);
    fclose (fp);
    uint8_t got[32];
    crypto_hash_sha256_final (&st, got);
    return sodium_memcmp (got, want, 32) == 0;
}

/* Starts argv pinned to cpu (-1: not pinned) with output discarded;
   returns the pid. */
static pid_t
s_spawn (char *const argv[], int cpu)
{
    pid_t pid = fork ();
    if (pid == 0) {
        if (cpu >= 0)
            s_pin (cpu);
        int null = open ("/dev/null", O_RDWR);
        dup2 (null, 0);
        dup2 (null, 1);
        dup2 (null, 2);
        execvp (argv[0], argv);
        _exit (127);
    }
    return pid;
}

static void
s_port_str (char *out, size_t len, uint16_t port)
{
    snprintf (out, len, "%u", port);
}

/* Starts one client fetching `remote` into `local`; returns its pid. */
static pid_t
s_fetch_start (const s_case_t *c, uint16_t port, const char *remote, const char *local)
{
    char url[160], bs[16], ps[8], opt_bs[32], opt_w[32];
    s_port_str (ps, sizeof ps, port);
    snprintf (bs, sizeof bs, "%u", c->blksize);
    if (strcmp (c->client, "curl") == 0) {
        snprintf (url, sizeof url, "tftp://%s:%u/%s", s_addr, port, remote);
        char *argv[] = { "curl", "-s", "--max-time",  "120", "--tftp-blksize",
                         bs,     "-o", (char *)local, url,   NULL };
        return s_spawn (argv, c->clients > 1 ? -1 : 1);
    }
    snprintf (opt_bs, sizeof opt_bs, "blksize %u", c->blksize);
    snprintf (opt_w, sizeof opt_w, "windowsize %u", c->window);
    char *argv[] = { "atftp",        "--option", opt_bs,        "--option",     opt_w, "-g", "-r",
                     (char *)remote, "-l",       (char *)local, (char *)s_addr, ps,    NULL };
    return s_spawn (argv, 1);
}

/* One measurement: MiB/s (aggregate for several clients), or -1 when a
   client failed; wrong bytes are counted in s_wrong. */
static double
s_measure (const s_case_t *c, uint16_t port, size_t size)
{
    unsigned n = c->clients ? c->clients : 1;
    const char *remote = n > 1 ? "part" : "image";
    const uint8_t *want = n > 1 ? s_part_digest : s_digest;
    size_t each = n > 1 ? size / n : size;
    pid_t pids[S_CLIENTS_MAX];
    char locals[S_CLIENTS_MAX][96];
    double t0 = bench_now ();
    for (unsigned i = 0; i < n; i++) {
        snprintf (locals[i], sizeof locals[i], "%s/out/%u", s_dir, i);
        pids[i] = s_fetch_start (c, port, remote, locals[i]);
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
        if (ok && !s_file_matches (locals[i], want)) {
            s_wrong++;
            ok = false;
        }
        unlink (locals[i]);
    }
    return ok ? (double)(each * n) / (1024.0 * 1024.0) / dt : -1;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static bool
s_wait_ready (uint16_t port)
{
    s_case_t probe = { "probe", "probe", "curl", 512, 0, 1 };
    char local[96];
    snprintf (local, sizeof local, "%s/out/probe", s_dir);
    for (int i = 0; i < 30; i++) {
        pid_t pid = s_fetch_start (&probe, port, "probe", local);
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

static volatile int s_stop;
static void
s_on_term (int sig)
{
    (void)sig;
    s_stop = 1;
}

static pid_t
s_start_warden (uint16_t *port)
{
    int sock = pxe_tftp_bind (s_addr, 0, port);
    int root = open (s_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (sock < 0 || root < 0)
        return -1;
    pid_t pid = fork ();
    if (pid == 0) {
        s_pin (0);
        struct sigaction sa = { .sa_handler = s_on_term };
        sigaction (SIGTERM, &sa, NULL);
        pxe_tftp_config_t config = { .max_per_client = S_CLIENTS_MAX };
        pxe_tftp_t *server = pxe_tftp_new (sock, root, &config, NULL);
        if (!server)
            _exit (3);
        int rc = pxe_tftp_run (server, &s_stop);
        pxe_tftp_stats_t st;
        pxe_tftp_stats (server, &st);
        printf ("warden server: completed=%llu failed=%llu retransmits=%llu duplicate_acks=%llu\n",
                (unsigned long long)st.completed, (unsigned long long)st.failed,
                (unsigned long long)st.retransmits, (unsigned long long)st.duplicate_acks);
        fflush (stdout);
        pxe_tftp_destroy (&server);
        _exit (rc ? 3 : 0);
    }
    close (sock);
    close (root);
    return pid;
}

static bool
s_have (const char *path)
{
    return access (path, X_OK) == 0;
}

/* A free UDP port on the bench address (a race with other programs is
   possible; the readiness probe catches it). */
static uint16_t
s_free_port (uint16_t want)
{
    uint16_t port = 0;
    int fd = pxe_tftp_bind (s_addr, want, &port);
    if (fd < 0)
        return 0;
    close (fd);
    return port;
}

static void
s_start_peers (s_server_t *servers)
{
    bool root = geteuid () == 0;
    char addrport[64], root_opt[96], listen[64];
    if (!root)
        printf ("peers: skipped (dnsmasq binds TFTP port 69 and in.tftpd drops to nobody: "
                "both need root)\n");
    else if (!s_have ("/usr/sbin/dnsmasq"))
        printf ("dnsmasq: skipped (not installed; scripts/install-deps)\n");
    else if (s_free_port (69) != 69)
        printf ("dnsmasq: skipped (port 69 on %s is taken)\n", s_addr);
    else {
        snprintf (root_opt, sizeof root_opt, "--tftp-root=%s", s_dir);
        snprintf (listen, sizeof listen, "--listen-address=%s", s_addr);
        char *argv[] = { "/usr/sbin/dnsmasq",
                         "-k",
                         "--conf-file=/dev/null",
                         "--port=0",
                         listen,
                         "--bind-interfaces",
                         "--enable-tftp",
                         root_opt,
                         "--user=nobody",
                         "--group=nogroup",
                         "--pid-file=",
                         "--log-facility=/dev/null",
                         NULL };
        servers[S_DNSMASQ].pid = s_spawn (argv, 0);
        servers[S_DNSMASQ].port = 69;
    }
    uint16_t port;
    if (root && !s_have ("/usr/sbin/in.tftpd"))
        printf ("tftp-hpa: skipped (in.tftpd not installed; scripts/install-deps)\n");
    else if (root && (port = s_free_port (0)) != 0) {
        snprintf (addrport, sizeof addrport, "%s:%u", s_addr, port);
        char *argv[] = {
            "/usr/sbin/in.tftpd", "-L", "-u", "nobody", "-s", s_dir, "-a", addrport, NULL
        };
        servers[S_HPA].pid = s_spawn (argv, 0);
        servers[S_HPA].port = port;
    }
    for (int s = S_DNSMASQ; s < S_SERVERS; s++)
        if (servers[s].pid > 0) {
            servers[s].up = s_wait_ready (servers[s].port);
            if (!servers[s].up)
                printf ("%s: skipped (did not answer a probe fetch)\n", s_server_names[s]);
        }
}

static void
s_usage (void)
{
    fprintf (stderr, "usage: bench_tftp [--size MIB] [--runs N] [--concurrent N] [--address A] "
                     "[--no-peers]\n");
}

int
main (int argc, char **argv)
{
    unsigned size_mib = 64, runs = 3, concurrent = 32;
    bool peers = true;
    static const struct option opts[] = {
        { "size", required_argument, NULL, 's' },
        { "runs", required_argument, NULL, 'r' },
        { "concurrent", required_argument, NULL, 'c' },
        { "address", required_argument, NULL, 'a' },
        { "no-peers", no_argument, NULL, 'n' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        char *end = NULL;
        switch (c) {
            case 's':
                size_mib = (unsigned)strtoul (optarg, &end, 10);
                break;
            case 'r':
                runs = (unsigned)strtoul (optarg, &end, 10);
                break;
            case 'c':
                concurrent = (unsigned)strtoul (optarg, &end, 10);
                break;
            case 'a':
                s_addr = optarg;
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
        if (end && (*end || end == optarg)) {
            s_usage ();
            return S_EXIT_USAGE;
        }
    }
    if (size_mib < 1 || size_mib > 4096 || runs < 1 || runs > S_RUNS_MAX ||
        concurrent > S_CLIENTS_MAX || concurrent == 1) {
        s_usage ();
        return S_EXIT_USAGE;
    }
    if (sodium_init () < 0)
        return S_EXIT_BAD;
    s_two_cpus = sysconf (_SC_NPROCESSORS_ONLN) >= 2;
    signal (SIGPIPE, SIG_IGN);

    snprintf (s_dir, sizeof s_dir, "/tmp/warden-bench-tftp.XXXXXX");
    if (!mkdtemp (s_dir) || chmod (s_dir, 0755) < 0)
        return S_EXIT_BAD;
    char path[128];
    size_t size = (size_t)size_mib << 20;
    snprintf (path, sizeof path, "%s/out", s_dir);
    mkdir (path, 0700);
    snprintf (path, sizeof path, "%s/image", s_dir);
    int rc = s_write_random (path, size, s_digest);
    snprintf (path, sizeof path, "%s/probe", s_dir);
    uint8_t unused[32];
    rc |= s_write_random (path, 1000, unused);
    if (concurrent) {
        snprintf (path, sizeof path, "%s/part", s_dir);
        rc |= s_write_random (path, size / concurrent, s_part_digest);
    }
    s_server_t servers[S_SERVERS] = { { 0 } };
    int exit_code = 0;
    char summary[1024] = "bench_tftp";
    size_t sum_len = strlen (summary);
    if (rc) {
        fprintf (stderr, "bench_tftp: cannot write the test files in %s\n", s_dir);
        exit_code = S_EXIT_BAD;
        goto out_clean;
    }

    servers[S_WARDEN].pid = s_start_warden (&servers[S_WARDEN].port);
    servers[S_WARDEN].up = servers[S_WARDEN].pid > 0 && s_wait_ready (servers[S_WARDEN].port);
    if (!servers[S_WARDEN].up) {
        fprintf (stderr, "bench_tftp: our server did not start\n");
        exit_code = S_EXIT_BAD;
        goto out_stop;
    }
    if (peers)
        s_start_peers (servers);
    else
        printf ("peers: skipped (--no-peers)\n");

    static const char *const keys[S_SERVERS] = { "warden", "dnsmasq", "hpa" };
    bool have_atftp = s_have ("/usr/bin/atftp");
    if (!have_atftp)
        printf ("atftp: not installed, its rows are skipped\n");
    s_case_t cases[] = {
        { "curl blksize 1468", "curl1468", "curl", 1468, 0, 0 },
        { "curl blksize 65464", "curl65464", "curl", 65464, 0, 0 },
        { "atftp blksize 1468 windowsize 16", "atftp1468w16", "atftp", 1468, 16, 0 },
        { "curl blksize 1468 concurrent", "concurrent", "curl", 1468, 0, concurrent },
    };
    printf ("%u MiB file, median of %u, address %s, %s\n", size_mib, runs, s_addr,
            s_two_cpus ? "server on CPU 0, clients on CPU 1" : "one CPU: no pinning");
    printf ("%-36s %10s %10s %8s %10s %8s\n", "case (MiB/s)", "warden", "dnsmasq", "ratio",
            "tftp-hpa", "ratio");
    for (size_t k = 0; k < sizeof cases / sizeof cases[0]; k++) {
        const s_case_t *cs = &cases[k];
        if ((cs->window && !have_atftp) || (k == 3 && !concurrent))
            continue;
        double samples[S_SERVERS][S_RUNS_MAX];
        for (unsigned r = 0; r < runs; r++)
            for (int s0 = 0; s0 < S_SERVERS; s0++) {
                int s = (s0 + (int)r) % S_SERVERS;
                samples[s][r] = servers[s].up ? s_measure (cs, servers[s].port, size) : -1;
                if (s == S_WARDEN && samples[s][r] < 0)
                    exit_code = S_EXIT_BAD;
            }
        double med[S_SERVERS];
        for (int s = 0; s < S_SERVERS; s++) {
            qsort (samples[s], runs, sizeof (double), s_cmp_double);
            med[s] = samples[s][0] < 0 ? -1 : samples[s][runs / 2];
        }
        char label[64];
        if (cs->clients)
            snprintf (label, sizeof label, "%s %u", cs->label, cs->clients);
        else
            snprintf (label, sizeof label, "%s", cs->label);
        printf ("%-36s %10.1f", label, med[S_WARDEN]);
        for (int s = S_DNSMASQ; s < S_SERVERS; s++) {
            if (med[s] > 0 && med[S_WARDEN] > 0)
                printf (" %10.1f %7.2fx", med[s], med[S_WARDEN] / med[s]);
            else
                printf (" %10s %8s", servers[s].up ? "failed" : "-", "-");
        }
        printf ("\n");
        fflush (stdout);
        for (int s = 0; s < S_SERVERS && sum_len < sizeof summary - 64; s++)
            if (med[s] > 0)
                sum_len += (size_t)snprintf (summary + sum_len, sizeof summary - sum_len,
                                             " %s_%s=%.1f", cs->key, keys[s], med[s]);
    }
    if (s_wrong) {
        fprintf (stderr, "bench_tftp: %lu fetches returned wrong bytes\n", s_wrong);
        exit_code = S_EXIT_BAD;
    }

out_stop:
    for (int s = 0; s < S_SERVERS; s++)
        if (servers[s].pid > 0) {
            kill (servers[s].pid, SIGTERM);
            int status;
            waitpid (servers[s].pid, &status, 0);
            if (s == S_WARDEN && (!WIFEXITED (status) || WEXITSTATUS (status) != 0))
                exit_code = S_EXIT_BAD;
        }
out_clean:;
    const char *names[] = { "image", "probe", "part" };
    for (size_t i = 0; i < 3; i++) {
        snprintf (path, sizeof path, "%s/%s", s_dir, names[i]);
        unlink (path);
    }
    snprintf (path, sizeof path, "%s/out", s_dir);
    rmdir (path);
    rmdir (s_dir);
    if (exit_code == 0)
        printf ("all fetched bytes verified\n%s\n", summary);
    return exit_code;
}
