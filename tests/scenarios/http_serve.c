/*
 * http_serve: a test-only HTTP boot server around pxe_http (and, with
 * --manifest, pxe_images), for the curl scenario (http_boot.sh) and the
 * bench. It binds a loopback address, prints the chosen port on standard
 * output, serves until SIGTERM or SIGINT, writes one line per completed
 * GET to --served (flushed at once):
 *   "PATH STATUS OFFSET BYTES SHA256HEX whole|part approved|plain EVENT"
 * where EVENT is the served-file record as a measurement-log event name,
 * writes every boot token issued to --tokens (hex, one a line), and prints
 * the counters to standard error when it stops. Not installed: the node
 * runs pxe_http inside its `pxe` child.
 *
 * Usage: http_serve --root DIR [--manifest FILE --attest-endpoint tcp://H:P
 *                   --attest-key HEX64] [--addr 127.0.0.1] [--port 0]
 *                   [--served FILE] [--tokens FILE] [--max N] [--per-client N]
 */
#include <fcntl.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pxe_http.h"
#include "pxe_images.h"
#include "wd_hash.h"
#include "wd_log.h"

static volatile int s_stop;
static pxe_images_t *s_images;

static void
s_on_signal (int sig)
{
    (void)sig;
    s_stop = 1;
}

static void
s_served (void *arg, const pxe_http_served_t *served)
{
    FILE *out = arg;
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hex_encode (hex, served->sha256, sizeof served->sha256);
    pxe_served_record_t rec;
    pxe_images_record (s_images, "http", served->path, served->client, served->sha256,
                       served->offset, served->bytes, served->whole, &rec);
    char event[512];
    pxe_served_record_event (&rec, event, sizeof event);
    fprintf (out, "%s %d %llu %llu %s %s %s %s\n", served->path, served->status,
             (unsigned long long)served->offset, (unsigned long long)served->bytes, hex,
             served->whole ? "whole" : "part", served->approved ? "approved" : "plain", event);
    fflush (out);
}

static void
s_token (void *arg, const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *client)
{
    FILE *out = arg;
    char hex[2 * PXE_IMAGES_TOKEN_LEN + 1];
    wd_hex_encode (hex, token, PXE_IMAGES_TOKEN_LEN);
    fprintf (out, "%s %s\n", hex, client);
    fflush (out);
}

static unsigned
s_number (const char *s)
{
    char *end;
    unsigned long v = strtoul (s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 65535) {
        fprintf (stderr, "http_serve: bad number: %s\n", s);
        exit (2);
    }
    return (unsigned)v;
}

int
main (int argc, char **argv)
{
    const char *root = NULL, *addr = "127.0.0.1", *served_path = NULL, *manifest = NULL;
    const char *endpoint = NULL, *key_hex = NULL, *tokens_path = NULL;
    unsigned port = 0;
    pxe_http_config_t config = { 0 };
    static const struct option opts[] = {
        { "root", required_argument, NULL, 'r' },
        { "manifest", required_argument, NULL, 'M' },
        { "attest-endpoint", required_argument, NULL, 'e' },
        { "attest-key", required_argument, NULL, 'k' },
        { "addr", required_argument, NULL, 'a' },
        { "port", required_argument, NULL, 'p' },
        { "served", required_argument, NULL, 's' },
        { "tokens", required_argument, NULL, 'T' },
        { "max", required_argument, NULL, 'm' },
        { "per-client", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'r':
                root = optarg;
                break;
            case 'M':
                manifest = optarg;
                break;
            case 'e':
                endpoint = optarg;
                break;
            case 'k':
                key_hex = optarg;
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
            case 'T':
                tokens_path = optarg;
                break;
            case 'm':
                config.max_connections = s_number (optarg);
                break;
            case 'c':
                config.max_per_client = s_number (optarg);
                break;
            case 'h':
                printf ("usage: http_serve --root DIR [--manifest FILE --attest-endpoint E "
                        "--attest-key HEX] [--addr A] [--port N] [--served FILE] [--tokens FILE] "
                        "[--max N] [--per-client N]\n");
                return 0;
            default:
                return 2;
        }
    }
    if (!root) {
        fprintf (stderr, "http_serve: --root is required\n");
        return 2;
    }
    wd_log_init ("http", WD_LOG_INFO);
    signal (SIGPIPE, SIG_IGN); /* before pxe_http_new: lets MHD use sendfile */
    FILE *served = served_path ? fopen (served_path, "a") : NULL;
    if (served_path && !served)
        wd_fatal ("open %s", served_path);
    FILE *tokens = tokens_path ? fopen (tokens_path, "a") : NULL;
    if (tokens_path && !tokens)
        wd_fatal ("open %s", tokens_path);
    int root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root_fd < 0)
        wd_fatal ("open %s", root);
    if (manifest) {
        int images_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
        if (images_fd < 0)
            wd_fatal ("open %s", root);
        s_images = pxe_images_new (images_fd, NULL);
        if (!s_images)
            wd_fatalx ("pxe_images_new: out of memory");
        size_t line = 0;
        int rc = pxe_images_load_manifest (s_images, manifest, &line);
        if (rc)
            wd_fatalx ("%s:%zu: %s (%s)", manifest, line, pxe_strerror (rc), pxe_err_name (rc));
        uint8_t key[32] = { 0 };
        if (key_hex && !wd_hex_decode (key, sizeof key, key_hex))
            wd_fatalx ("--attest-key: not 64 hex digits");
        if (endpoint && (rc = pxe_images_set_attest (s_images, endpoint, key)) != 0)
            wd_fatalx ("--attest-endpoint: %s", pxe_strerror (rc));
        rc = pxe_images_verify (s_images);
        if (rc) /* keep serving: the refusals are what some tests check */
            wd_log_warnx ("image set: %s (%s)", pxe_strerror (rc), pxe_err_name (rc));
        if (tokens)
            pxe_images_set_token_fn (s_images, s_token, tokens);
    }
    uint16_t bound;
    int sock = pxe_http_bind (addr, (uint16_t)port, &bound);
    if (sock < 0)
        wd_fatal ("bind %s:%u", addr, port);
    int err = 0;
    pxe_http_t *server = pxe_http_new (sock, root_fd, s_images, &config, &err);
    if (!server)
        wd_fatalx ("pxe_http_new: %s", pxe_strerror (err));
    if (served)
        pxe_http_set_served (server, s_served, served);
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    printf ("%u\n", bound);
    fflush (stdout);

    int rc = pxe_http_run (server, &s_stop);
    pxe_http_stats_t st;
    pxe_http_stats (server, &st);
    fprintf (stderr,
             "http_serve: requests=%llu ok=%llu partial=%llu head=%llu not_found=%llu "
             "forbidden=%llu bad_method=%llu bad_range=%llu failed=%llu completed=%llu "
             "aborted=%llu bytes_sent=%llu active=%u\n",
             (unsigned long long)st.requests, (unsigned long long)st.ok,
             (unsigned long long)st.partial, (unsigned long long)st.head,
             (unsigned long long)st.not_found, (unsigned long long)st.forbidden,
             (unsigned long long)st.bad_method, (unsigned long long)st.bad_range,
             (unsigned long long)st.failed, (unsigned long long)st.completed,
             (unsigned long long)st.aborted, (unsigned long long)st.bytes_sent, st.active);
    pxe_http_destroy (&server);
    pxe_images_destroy (&s_images);
    if (served)
        fclose (served);
    if (tokens)
        fclose (tokens);
    return rc ? 3 : 0;
}
