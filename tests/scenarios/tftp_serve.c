/*
 * tftp_serve: a test-only TFTP server around pxe_tftp, for the real-client
 * scenario (tftp_clients.sh) and the bench. It binds a loopback address,
 * prints the chosen port on standard output, serves --root until SIGTERM or
 * SIGINT, writes one line "NAME BYTES SHA256HEX BLKSIZE WINDOW" per
 * completed transfer to --served (flushed at once), and prints the
 * counters to standard error when it stops. Not installed: the node runs
 * pxe_tftp inside its `pxe` child.
 *
 * Usage: tftp_serve --root DIR [--addr 127.0.0.1] [--port 0] [--served FILE]
 *                   [--max N] [--per-client N] [--timeout-ms N]
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pxe_tftp.h"
#include "wd_hash.h"
#include "wd_log.h"

static volatile int s_stop;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_served (void *arg, const pxe_tftp_served_t *served)
{
    FILE *out = arg;
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hex_encode (hex, served->sha256, sizeof served->sha256);
    fprintf (out, "%s %llu %s %u %u %s\n", served->filename, (unsigned long long)served->bytes, hex,
             served->blksize, served->windowsize, served->confirmed ? "confirmed" : "unconfirmed");
    fflush (out);
}

static unsigned
s_number (const char *s)
{
    char *end;
    unsigned long v = strtoul (s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 65535) {
        fprintf (stderr, "tftp_serve: bad number: %s\n", s);
        exit (2);
    }
    return (unsigned)v;
}

int
main (int argc, char **argv)
{
    const char *root = NULL, *addr = "127.0.0.1", *served_path = NULL;
    unsigned port = 0;
    pxe_tftp_config_t config = { 0 };
    static const struct option opts[] = {
        { "root", required_argument, NULL, 'r' },
        { "addr", required_argument, NULL, 'a' },
        { "port", required_argument, NULL, 'p' },
        { "served", required_argument, NULL, 's' },
        { "max", required_argument, NULL, 'm' },
        { "per-client", required_argument, NULL, 'c' },
        { "timeout-ms", required_argument, NULL, 't' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'r':
                root = optarg;
                break;
            case 'a':
                addr = optarg;
                break;
            case 'p':
                port = s_number (optarg);
                break;
            case 's':
                served_path = optarg;
                break;
            case 'm':
                config.max_transfers = s_number (optarg);
                break;
            case 'c':
                config.max_per_client = s_number (optarg);
                break;
            case 't':
                config.timeout_ms = s_number (optarg);
                break;
            case 'h':
                printf ("usage: tftp_serve --root DIR [--addr A] [--port N] [--served FILE] "
                        "[--max N] [--per-client N] [--timeout-ms N]\n");
                return 0;
            default:
                return 2;
        }
    }
    if (!root) {
        fprintf (stderr, "tftp_serve: --root is required\n");
        return 2;
    }
    wd_log_init ("tftp", WD_LOG_INFO);
    FILE *served = served_path ? fopen (served_path, "a") : NULL;
    if (served_path && !served)
        wd_fatal ("open %s", served_path);
    int root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        wd_fatal ("open %s", root);
    uint16_t bound;
    int sock = pxe_tftp_bind (addr, (uint16_t)port, &bound);
    if (sock < 0)
        wd_fatal ("bind %s:%u", addr, port);
    int err = 0;
    pxe_tftp_t *server = pxe_tftp_new (sock, root_fd, &config, &err);
    if (!server)
        wd_fatalx ("pxe_tftp_new: %s", pxe_strerror (err));
    if (served)
        pxe_tftp_set_served (server, s_served, served);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    printf ("%u\n", bound);
    fflush (stdout);

    int rc = pxe_tftp_run (server, &s_stop);
    pxe_tftp_stats_t st;
    pxe_tftp_stats (server, &st);
    fprintf (stderr,
             "tftp_serve: requests=%llu malformed=%llu refused=%llu completed=%llu "
             "unconfirmed=%llu failed=%llu retransmits=%llu duplicate_acks=%llu wrong_tid=%llu "
             "active=%u\n",
             (unsigned long long)st.requests, (unsigned long long)st.malformed,
             (unsigned long long)st.refused, (unsigned long long)st.completed,
             (unsigned long long)st.unconfirmed, (unsigned long long)st.failed,
             (unsigned long long)st.retransmits, (unsigned long long)st.duplicate_acks,
             (unsigned long long)st.wrong_tid, st.active);
    pxe_tftp_destroy (&server);
    if (served)
        fclose (served);
    return rc ? 3 : 0;
}
