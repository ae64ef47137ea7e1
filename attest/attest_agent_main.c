/*
 * warden-agent: the host agent that runs on a compute host inside its PXE
 * image and answers its node's attestation challenges (DESIGN.md §7 "Host
 * attestation", docs/man/warden-agent.8, docs/PROTOCOL.md "Host agent
 * protocol").
 *
 * At start it makes a boot-session Ed25519 key (in sodium_malloc memory,
 * never written anywhere), connects to the node over CURVE with the node's
 * key pinned, and says hello with the one-time boot token the boot script
 * passed on the kernel command line. Then it waits for challenges, measures
 * what each asks for (attest_collect) and sends the answers signed with the
 * session key. It keeps no state on disk: a reboot needs a new token.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <czmq.h>

#include "attest_agent_proto.h"
#include "attest_collect.h"
#include "wd_hash.h"
#include "wd_log.h"

#define S_EXIT_OK       0
#define S_EXIT_REFUSED  1
#define S_EXIT_USAGE    2
#define S_EXIT_INTERNAL 3
#define S_CMDLINE_MAX   65536

typedef struct {
    char server[512];
    uint8_t server_pk[32];
    bool have_server, have_key, have_token;
    char token[ATTEST_AGENT_TOKEN_MAX + 1];
    char host[ATTEST_AGENT_HOST_MAX + 1];
} s_options_t;

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: warden-agent [--server tcp://HOST:PORT] [--server-key KEY] [--token TOKEN]\n"
             "                    [--cmdline FILE] [--host NAME] [--verbose] [--help] [--version]\n"
             "\n"
             "Answers the attestation challenges of this host's Warden node.\n"
             "\n"
             "  --server URL       the node's attestation endpoint (warden.server=)\n"
             "  --server-key KEY   the node's CURVE public key, 40 Z85 characters or 64 hex\n"
             "                     digits, pinned (warden.server_key=)\n"
             "  --token TOKEN      the one-time boot token (warden.token=)\n"
             "  --cmdline FILE     read the warden.* settings missing from the options from\n"
             "                     a kernel command line (default /proc/cmdline)\n"
             "  --host NAME        the name to report (default: the host name)\n"
             "  --verbose          log every challenge\n"
             "  --help             show this help\n"
             "  --version          show the version\n"
             "\n"
             "Exit status: 0 stopped by a signal, 1 refused by the node, 2 usage or input\n"
             "error, 3 internal error.\n");
}

/* Parses a 40-character Z85 or 64-digit hex CURVE key. */
static bool
s_parse_key (const char *text, uint8_t key[32])
{
    size_t len = strlen (text);
    if (len == 40)
        return zmq_z85_decode (key, text) != NULL;
    if (len == 64)
        return wd_hex_decode (key, 32, text);
    return false;
}

/* Takes the warden.* settings the options left open from a kernel command
   line. Returns false (with a message) when the file cannot be read or a
   value is malformed. */
static bool
s_from_cmdline (const char *path, s_options_t *o)
{
    FILE *f = fopen (path, "re");
    if (!f) {
        wd_log_warn ("cannot read %s", path);
        return false;
    }
    char *buf = malloc (S_CMDLINE_MAX + 1);
    if (!buf)
        abort ();
    size_t n = fread (buf, 1, S_CMDLINE_MAX, f);
    fclose (f);
    buf[n] = 0;
    bool ok = true;
    for (char *p = buf; *p && ok;) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        char *w = p;
        while (*p && *p != ' ' && *p != '\t' && *p != '\n')
            p++;
        if (*p)
            *p++ = 0;
        if (!*w)
            break;
        const char *v;
        if (!o->have_server && strncmp (w, "warden.server=", 14) == 0) {
            v = w + 14;
            if (strlen (v) >= sizeof o->server) {
                wd_log_warnx ("%s: warden.server is too long", path);
                ok = false;
            } else {
                snprintf (o->server, sizeof o->server, "%s", v);
                o->have_server = true;
            }
        } else if (!o->have_key && strncmp (w, "warden.server_key=", 18) == 0) {
            if (!(ok = s_parse_key (w + 18, o->server_pk)))
                wd_log_warnx ("%s: warden.server_key is not a Z85 or hex CURVE key", path);
            o->have_key = ok;
        } else if (!o->have_token && strncmp (w, "warden.token=", 13) == 0) {
            v = w + 13;
            if (!(ok = attest_agent_token_valid (v)))
                wd_log_warnx ("%s: warden.token is not 1-128 printable characters", path);
            else {
                snprintf (o->token, sizeof o->token, "%s", v);
                o->have_token = true;
            }
        }
    }
    sodium_memzero (buf, S_CMDLINE_MAX + 1);
    free (buf);
    return ok;
}

static void
s_default_host (char host[ATTEST_AGENT_HOST_MAX + 1])
{
    char name[256] = "";
    if (gethostname (name, sizeof name - 1) != 0)
        name[0] = 0;
    size_t k = 0;
    for (size_t i = 0; name[i] && k < ATTEST_AGENT_HOST_MAX; i++) {
        char c = name[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                  c == '.' || c == '_' || c == '-';
        host[k++] = ok ? c : '-';
    }
    host[k] = 0;
    if (k == 0)
        snprintf (host, ATTEST_AGENT_HOST_MAX + 1, "host");
}

static int
s_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    return crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, ctx) == 0 ? 0 : WD_ERR_IO;
}

static bool
s_send (zsock_t *sock, uint8_t *buf, size_t len)
{
    zframe_t *f = zframe_new (buf, len);
    free (buf);
    return zframe_send (&f, sock, 0) == 0;
}

/* Answers one challenge. */
static bool
s_answer (zsock_t *sock, const attest_agent_challenge_t *ch, const uint8_t server_pk[32],
          const uint8_t pk[32], uint8_t *sk, bool verbose)
{
    int64_t start = zclock_mono ();
    attest_agent_response_t *resp = calloc (1, sizeof *resp);
    if (!resp)
        abort ();
    resp->seq = ch->seq;
    memcpy (resp->nonce, ch->nonce, sizeof resp->nonce);
    resp->count = ch->count;
    for (size_t i = 0; i < ch->count; i++)
        attest_collect_answer (&ch->items[i], NULL, &resp->answers[i]);
    uint8_t *out;
    size_t len;
    wd_err_t err = attest_agent_response_seal (resp, server_pk, pk, s_sign, sk, &out, &len);
    attest_agent_response_clear (resp);
    free (resp);
    if (err != WD_OK) {
        /* Too large for an envelope: the node will record a missed challenge. */
        wd_log_warnx ("challenge %" PRIu64 ": cannot seal the response: %s", ch->seq,
                      wd_strerror (err));
        return true;
    }
    if (verbose)
        wd_log_info ("challenge %" PRIu64 ": %zu items answered in %" PRId64 " ms (%zu bytes)",
                     ch->seq, ch->count, zclock_mono () - start, len);
    return s_send (sock, out, len);
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        { "server", required_argument, NULL, 's' },
        { "server-key", required_argument, NULL, 'k' },
        { "token", required_argument, NULL, 't' },
        { "cmdline", required_argument, NULL, 'c' },
        { "host", required_argument, NULL, 'H' },
        { "verbose", no_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "version", no_argument, NULL, 'V' },
        { NULL, 0, NULL, 0 },
    };
    s_options_t o;
    memset (&o, 0, sizeof o);
    const char *cmdline = NULL;
    bool verbose = false;
    wd_log_init ("agent", WD_LOG_INFO);
    int ch;
    while ((ch = getopt_long (argc, argv, "s:k:t:c:H:vhV", longopts, NULL)) != -1) {
        switch (ch) {
            case 's':
                if (strlen (optarg) >= sizeof o.server) {
                    fprintf (stderr, "warden-agent: --server is too long\n");
                    return S_EXIT_USAGE;
                }
                snprintf (o.server, sizeof o.server, "%s", optarg);
                o.have_server = true;
                break;
            case 'k':
                if (!s_parse_key (optarg, o.server_pk)) {
                    fprintf (stderr, "warden-agent: --server-key is not 40 Z85 or 64 hex digits\n");
                    return S_EXIT_USAGE;
                }
                o.have_key = true;
                break;
            case 't':
                if (!attest_agent_token_valid (optarg)) {
                    fprintf (stderr, "warden-agent: --token is not 1-128 printable characters\n");
                    return S_EXIT_USAGE;
                }
                snprintf (o.token, sizeof o.token, "%s", optarg);
                o.have_token = true;
                break;
            case 'c':
                cmdline = optarg;
                break;
            case 'H':
                if (!attest_agent_host_valid (optarg)) {
                    fprintf (stderr, "warden-agent: --host is not 1-64 of [A-Za-z0-9._-]\n");
                    return S_EXIT_USAGE;
                }
                snprintf (o.host, sizeof o.host, "%s", optarg);
                break;
            case 'v':
                verbose = true;
                break;
            case 'h':
                s_usage (stdout);
                return S_EXIT_OK;
            case 'V':
                printf ("warden-agent %s\n", WARDEN_VERSION);
                return S_EXIT_OK;
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    if ((cmdline || !o.have_server || !o.have_key || !o.have_token) &&
        !s_from_cmdline (cmdline ? cmdline : "/proc/cmdline", &o))
        return S_EXIT_USAGE;
    if (!o.have_server || !o.have_key || !o.have_token) {
        fprintf (stderr, "warden-agent: no %s given (options or warden.* on the command line)\n",
                 !o.have_server ? "server"
                 : !o.have_key  ? "server key"
                                : "token");
        return S_EXIT_USAGE;
    }
    if (!o.host[0])
        s_default_host (o.host);

    if (sodium_init () < 0)
        wd_fatalx ("sodium_init failed");
    prctl (PR_SET_DUMPABLE, 0);
    uint8_t pk[32];
    uint8_t *sk = sodium_malloc (crypto_sign_SECRETKEYBYTES);
    if (!sk)
        wd_fatalx ("out of memory");
    crypto_sign_keypair (pk, sk);

    zsys_init ();
    zsock_t *sock = zsock_new (ZMQ_DEALER);
    zcert_t *cert = zcert_new ();
    if (!sock || !cert)
        wd_fatalx ("cannot create the socket");
    zcert_apply (cert, sock);
    zcert_destroy (&cert);
    zsock_set_curve_serverkey_bin (sock, o.server_pk);
    zsock_set_linger (sock, 0);
    /* A routing id derived from the session key lets the node's ROUTER hand
       the session over to the new connection when this one reconnects. */
    uint8_t rid[ATTEST_AGENT_ROUTING_ID_LEN];
    attest_agent_routing_id (pk, rid);
    if (zmq_setsockopt (zsock_resolve (sock), ZMQ_ROUTING_ID, rid, sizeof rid) != 0)
        wd_fatal ("ZMQ_ROUTING_ID");
    zsock_set_maxmsgsize (sock, (int64_t)ATTEST_AGENT_MSG_MAX + 64);
    if (zsock_connect (sock, "%s", o.server) < 0) {
        fprintf (stderr, "warden-agent: cannot connect to %s\n", o.server);
        return S_EXIT_USAGE;
    }

    attest_agent_hello_t hello;
    memset (&hello, 0, sizeof hello);
    snprintf (hello.host, sizeof hello.host, "%s", o.host);
    memcpy (hello.token, o.token, sizeof hello.token);
    memcpy (hello.pk, pk, 32);
    uint8_t *buf;
    size_t len;
    if (attest_agent_hello_seal (&hello, o.server_pk, s_sign, sk, &buf, &len) != WD_OK)
        wd_fatalx ("cannot seal the hello");
    sodium_memzero (&hello, sizeof hello);
    sodium_memzero (o.token, sizeof o.token);
    if (!s_send (sock, buf, len))
        wd_fatalx ("cannot send the hello");
    wd_log_info ("hello sent to %s as %s, session key %s", o.server, o.host, wd_short_id (pk).s);

    int rc = S_EXIT_OK;
    bool admitted = false;
    zpoller_t *poller = zpoller_new (sock, NULL);
    while (!zsys_interrupted) {
        void *which = zpoller_wait (poller, 30000);
        if (zpoller_terminated (poller))
            break;
        if (!which) {
            if (!admitted)
                wd_log_info ("still waiting for %s to answer the hello", o.server);
            continue;
        }
        zframe_t *f = zframe_recv (sock);
        if (!f)
            break;
        attest_agent_challenge_t *chal = calloc (1, sizeof *chal);
        if (!chal)
            abort ();
        int err = attest_agent_challenge_decode (zframe_data (f), zframe_size (f), chal);
        if (err == WD_OK) {
            if (!admitted)
                wd_log_warnx ("challenge before the hello was accepted");
            bool sent = s_answer (sock, chal, o.server_pk, pk, sk, verbose);
            attest_agent_challenge_clear (chal);
            free (chal);
            zframe_destroy (&f);
            if (!sent) {
                rc = S_EXIT_INTERNAL;
                break;
            }
            continue;
        }
        free (chal);
        attest_agent_result_t res;
        int err2 = attest_agent_result_decode (zframe_data (f), zframe_size (f), &res);
        zframe_destroy (&f);
        if (err2 != WD_OK) {
            wd_log_warnx ("malformed message from the node: %s / %s", attest_err_name (err),
                          attest_err_name (err2));
            continue;
        }
        if (res.status == ATTEST_AGENT_REFUSED) {
            wd_log_warnx ("the node refused this agent: %s", res.reason);
            rc = S_EXIT_REFUSED;
            break;
        }
        if (res.status == ATTEST_AGENT_ACCEPTED) {
            admitted = true;
            wd_log_info ("admitted by %s", o.server);
        } else if (res.status == ATTEST_AGENT_REJECTED)
            wd_log_warnx ("challenge %" PRIu64 ": response rejected: %s", res.seq, res.reason);
        else if (verbose || res.status != ATTEST_AGENT_PASS)
            wd_log_info ("challenge %" PRIu64 ": %s", res.seq,
                         attest_agent_status_name (res.status));
    }
    zpoller_destroy (&poller);
    zsock_destroy (&sock);
    sodium_free (sk);
    return rc;
}
