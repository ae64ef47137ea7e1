/*
 * attest_serve: a test-only host-attestation server around attest_server,
 * for the agent_challenge.sh scenario. It makes a CURVE key pair, binds
 * --endpoint, prints {"event":"ready","server_key":HEX} and then one JSON
 * line per outcome ({"event":"outcome",...}) and per rejected message
 * ({"event":"reject",...}) on standard output, flushed at once. SIGUSR1 asks
 * every admitted host for a challenge on demand. On SIGTERM it prints a
 * {"event":"status",...} line per host and exits. Not installed: wardend
 * runs attest_server inside its engine.
 *
 * Reference values are taken when it starts: --file and --range digests
 * from the files themselves (the reference copies), the expected command
 * line from --cmdline-expected.
 *
 * Usage: attest_serve --endpoint URL --token TOKEN[:HOST] ... [--file PATH]...
 *        [--range PATH:OFF:LEN]... [--cmdline-expected FILE] [--modules]
 *        [--procs] [--ima] [--policy JSON] [--mean-ms N] [--deadline-ms N]
 *        [--min-items N] [--max-items N] [--hook CMD] [--untrusted]
 */
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <czmq.h>

#include "attest_collect.h"
#include "attest_server.h"
#include "wd_hash.h"
#include "wd_log.h"

static volatile sig_atomic_t s_demand;

static void
s_on_usr1 (int sig)
{
    (void)sig;
    s_demand = 1;
}

static void
s_json_str (FILE *out, const char *s)
{
    fputc ('"', out);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf (out, "\\%c", c);
        else if (c < 0x20)
            fprintf (out, "\\u%04x", c);
        else
            fputc (c, out);
    }
    fputc ('"', out);
}

static void
s_print_outcome (FILE *out, const char *host, const attest_server_outcome_t *o)
{
    char hex[65];
    fprintf (out, "{\"event\":\"outcome\",\"host\":");
    s_json_str (out, host);
    fprintf (out, ",\"seq\":%" PRIu64 ",\"outcome\":\"%s\",\"on_demand\":%s,\"nonce\":\"%s\"",
             o->seq, attest_outcome_name (o->challenge.outcome), o->on_demand ? "true" : "false",
             wd_hex_encode (hex, o->challenge.nonce, 32));
    fprintf (out, ",\"response_bytes\":%zu,\"items\":[", o->response_len);
    for (size_t i = 0; i < o->challenge.item_count; i++) {
        const attest_evidence_item_t *ci = &o->challenge.items[i];
        fprintf (out, "%s{\"item\":", i ? "," : "");
        s_json_str (out, ci->item);
        fprintf (out, ",\"result\":\"%s\",\"why\":", attest_outcome_name (ci->result));
        s_json_str (out, ci->why);
        fputc ('}', out);
    }
    fprintf (out, "]}\n");
    fflush (out);
}

static void
s_on_outcome (void *arg, const attest_server_outcome_t *o)
{
    s_print_outcome (arg, o->host, o);
}

static void
s_on_reject (void *arg, const char *host, int reason)
{
    FILE *out = arg;
    fprintf (out, "{\"event\":\"reject\",\"host\":");
    if (host)
        s_json_str (out, host);
    else
        fprintf (out, "null");
    fprintf (out, ",\"reason\":\"%s\"}\n", attest_err_name (reason));
    fflush (out);
}

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    if (s_demand) {
        s_demand = 0;
        attest_server_demand (arg, NULL);
        attest_server_tick (arg, (uint64_t)zclock_mono ());
    }
    return 0;
}

static uint64_t
s_number (const char *s)
{
    char *end;
    unsigned long long v = strtoull (s, &end, 10);
    if (*s == '\0' || *end != '\0') {
        fprintf (stderr, "attest_serve: bad number: %s\n", s);
        exit (2);
    }
    return (uint64_t)v;
}

static void
s_usage_exit (void)
{
    fprintf (stderr,
             "usage: attest_serve --endpoint URL --token TOKEN[:HOST] ... (see the source)\n");
    exit (2);
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        { "endpoint", required_argument, NULL, 'e' },
        { "token", required_argument, NULL, 't' },
        { "file", required_argument, NULL, 'f' },
        { "range", required_argument, NULL, 'r' },
        { "cmdline-expected", required_argument, NULL, 'c' },
        { "modules", no_argument, NULL, 'M' },
        { "procs", no_argument, NULL, 'P' },
        { "ima", no_argument, NULL, 'I' },
        { "policy", required_argument, NULL, 'p' },
        { "mean-ms", required_argument, NULL, 'm' },
        { "deadline-ms", required_argument, NULL, 'd' },
        { "min-items", required_argument, NULL, 'n' },
        { "max-items", required_argument, NULL, 'x' },
        { "hook", required_argument, NULL, 'k' },
        { "untrusted", no_argument, NULL, 'u' },
        { NULL, 0, NULL, 0 },
    };
    wd_log_init ("attest_serve", WD_LOG_INFO);
    if (sodium_init () < 0)
        return 3;
    attest_server_config_t cfg = {
        .mean_interval_ms = 200,
        .deadline_ms = 2000,
        .actions = ATTEST_ACTION_LOG,
        .on_outcome = s_on_outcome,
        .on_reject = s_on_reject,
        .arg = stdout,
    };
    const char *tokens[16];
    size_t token_count = 0;
    attest_item_t items[ATTEST_AGENT_ITEMS_MAX];
    uint8_t expected[ATTEST_AGENT_ITEMS_MAX][32];
    bool has_expected[ATTEST_AGENT_ITEMS_MAX] = { false };
    size_t item_count = 0;
    uint8_t *cmdline = NULL;
    attest_policy_t *policy = NULL;
    int ch;
    while ((ch = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        if (item_count == ATTEST_AGENT_ITEMS_MAX)
            s_usage_exit ();
        attest_item_t *it = &items[item_count];
        memset (it, 0, sizeof *it);
        switch (ch) {
            case 'e':
                cfg.endpoint = optarg;
                break;
            case 't':
                if (token_count == 16)
                    s_usage_exit ();
                tokens[token_count++] = optarg;
                break;
            case 'f':
                it->kind = ATTEST_ITEM_FILE;
                it->path = optarg;
                if (attest_collect_file (optarg, expected[item_count]) != ATTEST_ANSWER_OK) {
                    fprintf (stderr, "attest_serve: cannot hash %s\n", optarg);
                    return 2;
                }
                has_expected[item_count++] = true;
                break;
            case 'r': {
                char *c1 = strrchr (optarg, ':');
                if (!c1)
                    s_usage_exit ();
                *c1 = 0;
                char *c2 = strrchr (optarg, ':');
                if (!c2)
                    s_usage_exit ();
                *c2 = 0;
                it->kind = ATTEST_ITEM_RANGE;
                it->path = optarg;
                it->off = s_number (c2 + 1);
                it->len = s_number (c1 + 1);
                if (attest_collect_range (optarg, it->off, it->len, expected[item_count]) !=
                    ATTEST_ANSWER_OK) {
                    fprintf (stderr, "attest_serve: cannot hash the range of %s\n", optarg);
                    return 2;
                }
                has_expected[item_count++] = true;
                break;
            }
            case 'c': {
                FILE *f = fopen (optarg, "rb");
                if (!f)
                    s_usage_exit ();
                cmdline = malloc (ATTEST_AGENT_DATA_MAX);
                if (!cmdline)
                    abort ();
                cfg.cmdline = cmdline;
                cfg.cmdline_len = fread (cmdline, 1, ATTEST_AGENT_DATA_MAX, f);
                fclose (f);
                it->kind = ATTEST_ITEM_CMDLINE;
                item_count++;
                break;
            }
            case 'M':
                it->kind = ATTEST_ITEM_MODULES;
                item_count++;
                break;
            case 'P':
                it->kind = ATTEST_ITEM_PROCS;
                item_count++;
                break;
            case 'I':
                it->kind = ATTEST_ITEM_IMA;
                item_count++;
                break;
            case 'p': {
                char why[256] = "";
                if (attest_policy_from_json_file (optarg, "test", 0, &policy, why, sizeof why) !=
                    WD_OK) {
                    fprintf (stderr, "attest_serve: %s: %s\n", optarg, why);
                    return 2;
                }
                cfg.policy = policy;
                break;
            }
            case 'm':
                cfg.mean_interval_ms = s_number (optarg);
                break;
            case 'd':
                cfg.deadline_ms = s_number (optarg);
                break;
            case 'n':
                cfg.min_items = (size_t)s_number (optarg);
                break;
            case 'x':
                cfg.max_items = (size_t)s_number (optarg);
                break;
            case 'k':
                cfg.hook = optarg;
                cfg.actions |= ATTEST_ACTION_HOOK;
                break;
            case 'u':
                cfg.actions |= ATTEST_ACTION_UNTRUSTED;
                break;
            default:
                s_usage_exit ();
        }
    }
    if (!cfg.endpoint || token_count == 0 || item_count == 0 || optind != argc)
        s_usage_exit ();

    uint8_t pk[32], sk[32];
    crypto_box_keypair (pk, sk);
    cfg.curve_public = pk;
    cfg.curve_secret = sk;
    zsys_init ();
    attest_server_t *server = attest_server_new (&cfg);
    if (!server) {
        fprintf (stderr, "attest_serve: cannot bind %s\n", cfg.endpoint);
        return 2;
    }
    for (size_t i = 0; i < item_count; i++)
        attest_server_add_item (server, &items[i], has_expected[i] ? expected[i] : NULL);
    for (size_t i = 0; i < token_count; i++) {
        char tok[256];
        snprintf (tok, sizeof tok, "%s", tokens[i]);
        char *colon = strchr (tok, ':');
        if (colon)
            *colon = 0;
        int err = attest_server_add_token (server, tok, colon ? colon + 1 : NULL);
        if (err != WD_OK) {
            fprintf (stderr, "attest_serve: token %s: %s\n", tok, attest_strerror (err));
            return 2;
        }
    }
    signal (SIGUSR1, s_on_usr1);
    char hex[65];
    printf ("{\"event\":\"ready\",\"server_key\":\"%s\"}\n", wd_hex_encode (hex, pk, 32));
    fflush (stdout);

    zloop_t *loop = zloop_new ();
    if (attest_server_attach (server, loop) != 0 ||
        zloop_timer (loop, 50, 0, s_on_tick, server) < 0)
        return 3;
    zloop_start (loop);

    attest_host_status_t *st = malloc (sizeof *st);
    if (!st)
        abort ();
    for (size_t i = 0; i < attest_server_host_count (server); i++) {
        attest_server_host_status (server, i, st);
        printf ("{\"event\":\"status\",\"host\":");
        s_json_str (stdout, st->host);
        printf (",\"state\":\"%s\",\"passed\":%" PRIu64 ",\"failed\":%" PRIu64
                ",\"missed\":%" PRIu64 ",\"rejected\":%" PRIu64 ",\"history\":%zu}\n",
                attest_host_state_name (st->state), st->passed, st->failed, st->missed,
                st->rejected, st->history_count);
    }
    /* The control-socket form must be canonical msgpack. */
    wd_writer_t *w = wd_writer_new ();
    attest_server_status_write (server, w, (uint64_t)zclock_mono ());
    size_t len;
    const uint8_t *data = wd_writer_data (w, &len);
    int check = wd_codec_check (data, len, ATTEST_AGENT_MSG_MAX, NULL);
    printf ("{\"event\":\"status_msgpack\",\"bytes\":%zu,\"canonical\":%s}\n", len,
            check == WD_OK ? "true" : "false");
    fflush (stdout);
    wd_writer_destroy (&w);
    free (st);
    attest_server_destroy (&server);
    zloop_destroy (&loop);
    attest_policy_destroy (&policy);
    free (cmdline);
    sodium_memzero (sk, sizeof sk);
    return 0;
}
