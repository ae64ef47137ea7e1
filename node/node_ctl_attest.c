/*
 * node_ctl_attest: the `wardenctl attest` group. `host`, `evidence`, `token`
 * and `challenge` ask the running node's engine over the control socket
 * (WD_MSG_CTL_ATTEST_*, node_attest.c); `evidence` re-verifies every stored
 * envelope against <state>/node.cert before showing it.
 *
 * `wardenctl attest appraise` is the offline face of
 * attest_appraise: replay an IMA measurement list (a copy of
 * /sys/kernel/security/ima/ascii_runtime_measurements, or a Warden log) and
 * appraise every entry against a Keylime runtime policy, without a running
 * node. It prints the replayed PCRs, the count of each verdict and every
 * failing entry, so an operator can check a policy against a host's list
 * before distributing it (docs/OPERATIONS.md "Appraising an IMA log
 * offline").
 *
 * Exit codes: 0 every entry passed; 1 an entry failed, the template-hash
 * algorithm is not the policy's, or the list was rejected (with its reason
 * code and entry); 2 usage or input errors (unreadable files, a policy
 * that does not load, with its reason code).
 */
#include <assert.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "attest_appraise.h"
#include "attest_evidence.h"
#include "attest_server.h"
#include "node_attest.h"
#include "node_ctl.h"
#include "wd_cert.h"
#include "wd_chan.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_msg.h"

#define S_WHY_MAX 512

static const char s_help[] =
    "usage: wardenctl [--state DIR] attest host [--host LABEL] [--history N] [--json]\n"
    "       wardenctl [--state DIR] attest evidence [--host LABEL] [--limit N] [--json]\n"
    "       wardenctl [--state DIR] attest token --host LABEL [--json]\n"
    "       wardenctl [--state DIR] attest challenge [--host LABEL] [--json]\n"
    "       wardenctl [--state DIR] attest node ID|NAME [--json]\n"
    "       wardenctl attest appraise --log FILE --policy FILE [--format ascii|binary] [--json]\n\n"
    "Replays an IMA measurement list (ASCII or binary, detected unless --format is\n"
    "given) and appraises every entry against a Keylime runtime policy (JSON).\n"
    "Prints the replayed PCR values, the count of each verdict and every failing\n"
    "entry. Violations are counted, boot_aggregate is left to the TPM quote check,\n"
    "ima-buf entries are not appraised. Exits 0 when every entry passes, 1 when an\n"
    "entry fails, the list's template-hash algorithm is not the policy's\n"
    "log_hash_alg, or the list is rejected (e.g. ATTEST_ERR_TEMPLATE_HASH), and 2\n"
    "on unreadable input or a policy that does not load.\n"
    "--json prints one object: pcrs, counts, failures[], passed.\n";

typedef struct {
    const char *log, *policy;
    int format;
    bool json;
} s_args_t;

static json_t *
s_hex_json (const uint8_t *bin, size_t len)
{
    char hex[2 * ATTEST_IMA_DIGEST_MAX + 1];
    wd_hex_encode (hex, bin, len);
    return json_string (hex);
}

/* The whole result as one JSON object. rc and why describe a rejection. */
static json_t *
s_result_json (const attest_appraise_t *ap, const attest_policy_t *policy, int rc, const char *why)
{
    const attest_ima_state_t *st = attest_appraise_state (ap);
    const attest_appraise_counts_t *c = attest_appraise_counts (ap);
    const attest_policy_report_t *report = attest_appraise_report (ap);
    json_t *pcrs = json_object ();
    for (uint32_t pcr = 0; pcr < ATTEST_IMA_PCR_COUNT; pcr++) {
        uint8_t sha1[20], sha256[32];
        char key[4];
        if (!attest_appraise_pcr (ap, pcr, sha1, sha256))
            continue;
        snprintf (key, sizeof key, "%u", pcr);
        json_object_set_new (pcrs, key,
                             json_pack ("{s:o, s:o}", "sha1", s_hex_json (sha1, 20), "sha256",
                                        s_hex_json (sha256, 32)));
    }
    json_t *counts =
        json_pack ("{s:I, s:I, s:I, s:I, s:I}", "entries", (json_int_t)c->entries, "violations",
                   (json_int_t)c->violations, "boot_aggregate", (json_int_t)c->boot_aggregate,
                   "buffers", (json_int_t)c->buffers, "other_pcr", (json_int_t)c->other_pcr);
    for (int v = 0; v < ATTEST_VERDICT_COUNT_; v++)
        json_object_set_new (
            counts, attest_verdict_name ((attest_verdict_t)v),
            json_integer ((json_int_t)attest_policy_report_count (report, (attest_verdict_t)v)));
    json_t *failures = json_array ();
    for (size_t i = 0; i < attest_policy_report_failure_count (report); i++) {
        const attest_policy_failure_t *f = attest_policy_report_failure (report, i);
        json_t *o = json_pack ("{s:I, s:s, s:s, s:s}", "index", (json_int_t)f->index, "path",
                               f->path, "verdict", attest_verdict_name (f->verdict), "reason",
                               attest_verdict_str (f->verdict));
        if (f->other_path)
            json_object_set_new (o, "other_path", json_string (f->other_path));
        json_array_append_new (failures, o);
    }
    const char *log_alg = attest_appraise_log_hash_alg (ap);
    json_t *root =
        json_pack ("{s:s, s:o, s:o, s:o, s:I, s:o, s:s, s:b, s:b}", "format",
                   attest_appraise_format (ap) == ATTEST_IMA_BINARY ? "binary" : "ascii", "pcrs",
                   pcrs, "counts", counts, "failures", failures, "failures_dropped",
                   (json_int_t)attest_policy_report_dropped (report), "log_hash_alg",
                   log_alg ? json_string (log_alg) : json_null (), "policy_log_hash_alg",
                   attest_policy_log_hash_alg (policy), "alg_matches",
                   attest_appraise_alg_matches (ap), "passed", attest_appraise_passed (ap));
    if (rc != WD_OK)
        json_object_set_new (root, "rejected",
                             json_pack ("{s:s, s:s, s:I, s:s}", "error", attest_err_name (rc),
                                        "reason", attest_strerror (rc), "entry",
                                        (json_int_t)st->entries, "detail", why));
    return root;
}

static void
s_print_text (const attest_appraise_t *ap, const attest_policy_t *policy)
{
    const attest_appraise_counts_t *c = attest_appraise_counts (ap);
    const attest_policy_report_t *report = attest_appraise_report (ap);
    printf ("format        %s, %llu entries\n",
            attest_appraise_format (ap) == ATTEST_IMA_BINARY ? "binary" : "ascii",
            (unsigned long long)c->entries);
    for (uint32_t pcr = 0; pcr < ATTEST_IMA_PCR_COUNT; pcr++) {
        uint8_t sha1[20], sha256[32];
        char h1[41], h256[65];
        if (!attest_appraise_pcr (ap, pcr, sha1, sha256))
            continue;
        wd_hex_encode (h1, sha1, 20);
        wd_hex_encode (h256, sha256, 32);
        printf ("pcr%-2u sha1    %s\n      sha256  %s\n", pcr, h1, h256);
    }
    const char *log_alg = attest_appraise_log_hash_alg (ap);
    printf ("log_hash_alg  %s (policy %s)%s\n", log_alg ? log_alg : "-",
            attest_policy_log_hash_alg (policy),
            attest_appraise_alg_matches (ap) ? "" : "  MISMATCH");
    printf ("verdicts     ");
    for (int v = 0; v < ATTEST_VERDICT_COUNT_; v++)
        printf (" %s %llu", attest_verdict_name ((attest_verdict_t)v),
                (unsigned long long)attest_policy_report_count (report, (attest_verdict_t)v));
    printf ("\nnot appraised violations %llu, boot_aggregate %llu, ima-buf %llu\n",
            (unsigned long long)c->violations, (unsigned long long)c->boot_aggregate,
            (unsigned long long)c->buffers);
    for (size_t i = 0; i < attest_policy_report_failure_count (report); i++) {
        const attest_policy_failure_t *f = attest_policy_report_failure (report, i);
        printf ("FAIL entry %llu  %s  %s", (unsigned long long)f->index, f->path,
                attest_verdict_name (f->verdict));
        if (f->other_path)
            printf (" (digest allowed for %s)", f->other_path);
        putchar ('\n');
    }
    if (attest_policy_report_dropped (report))
        printf ("... and %llu more failing entries\n",
                (unsigned long long)attest_policy_report_dropped (report));
}

static int
s_appraise (const s_args_t *args)
{
    char why[S_WHY_MAX];
    attest_policy_t *policy = NULL;
    int rc = attest_policy_from_json_file (args->policy, "offline", 0, &policy, why, sizeof why);
    if (rc != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest appraise: policy %s: %s (%s): %s",
                              args->policy, attest_strerror (rc), attest_err_name (rc), why);
    attest_appraise_t *ap = attest_appraise_new (policy, args->format);
    if (!ap) {
        attest_policy_destroy (&policy);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "attest appraise: out of memory");
    }
    int status = 0;
    rc = attest_appraise_file (ap, args->log, why, sizeof why);
    if (rc == WD_ERR_NOT_FOUND || rc == WD_ERR_IO || rc == WD_ERR_BAD_VALUE || rc == WD_ERR_NOMEM) {
        status = node_ctl_fail (rc == WD_ERR_NOMEM ? NODE_CTL_EXIT_INTERNAL : NODE_CTL_EXIT_USAGE,
                                "attest appraise: log %s: %s (%s): %s", args->log,
                                attest_strerror (rc), attest_err_name (rc), why);
        goto out_free;
    }
    if (args->json)
        node_ctl_print_json (s_result_json (ap, policy, rc, why));
    else
        s_print_text (ap, policy);
    if (rc != WD_OK)
        status = node_ctl_fail (
            NODE_CTL_EXIT_NO, "attest appraise: list rejected: %s at entry %llu (%s): %s",
            attest_err_name (rc), (unsigned long long)attest_appraise_state (ap)->entries,
            attest_strerror (rc), why);
    else if (!attest_appraise_passed (ap)) {
        status = NODE_CTL_EXIT_NO;
        if (!args->json)
            printf ("result        FAILED\n");
    } else if (!args->json)
        printf ("result        passed\n");
out_free:
    attest_appraise_destroy (&ap);
    attest_policy_destroy (&policy);
    return status;
}

/* ---- live commands: host, evidence, token, challenge ------------------------ */

#define S_TIMEOUT_MS 5000

static const char s_help_host[] =
    "usage: wardenctl [--state DIR] attest host [--host LABEL] [--history N] [--json]\n\n"
    "Shows the running node's host-attestation server: each host's state\n"
    "(waiting, attesting, trusted, failing, untrusted), its agent session and its\n"
    "last N challenges (default 8, at most 16) with every item's result, plus the\n"
    "evidence store's counters. Exits 1 when --host names no known host.\n";
static const char s_help_evidence[] =
    "usage: wardenctl [--state DIR] attest evidence [--host LABEL] [--limit N] [--json]\n\n"
    "Lists the newest N (default 20) evidence records the node stored in\n"
    "DIR/attest.db, oldest first. Each envelope is verified here against\n"
    "DIR/node.cert (signature, attester, key protection, body schema) and shown\n"
    "with its id, subject, outcome and failing items. Exits 1 when a record does\n"
    "not verify.\n";
static const char s_help_token[] =
    "usage: wardenctl [--state DIR] attest token --host LABEL [--json]\n\n"
    "Has the node issue a one-time boot token for host LABEL and prints it with\n"
    "the kernel command line that makes the host's warden-agent attest to this\n"
    "node (warden.server=... warden.server_key=... warden.token=...). A new\n"
    "token for a known host starts it again as waiting.\n";
static const char s_help_challenge[] =
    "usage: wardenctl [--state DIR] attest challenge [--host LABEL] [--json]\n\n"
    "Asks the node to challenge host LABEL (every admitted host without --host)\n"
    "now. Exits 1 when no host was asked.\n";

typedef struct {
    const char *host;
    uint64_t limit;
    bool json;
} s_live_args_t;

/* Parses --host, --limit/--history, --json and --help. Returns -1 to go on. */
static int
s_live_parse (int argc, char **argv, const char *help, bool want_limit, s_live_args_t *a)
{
    static const struct option options[] = {
        { "host", required_argument, NULL, 'H' },    { "limit", required_argument, NULL, 'l' },
        { "history", required_argument, NULL, 'l' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },          { NULL, 0, NULL, 0 },
    };
    optind = 0;
    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case 'H':
                if (!attest_agent_host_valid (optarg))
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                          "attest: --host is 1 to 64 of A-Z a-z 0-9 . _ -");
                a->host = optarg;
                break;
            case 'l': {
                char *end;
                errno = 0;
                unsigned long long v = strtoull (optarg, &end, 10);
                if (!want_limit || errno || *end || optarg[0] < '1' || optarg[0] > '9' ||
                    v > NODE_ATTEST_LIMIT_MAX)
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                          "attest: --limit/--history is 1 to %d",
                                          NODE_ATTEST_LIMIT_MAX);
                a->limit = v;
                break;
            }
            case 'j':
                a->json = true;
                break;
            case 'h':
                fputs (help, stdout);
                return 0;
            default:
                fputs (help, stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        fputs (help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    return -1;
}

/* Sends one attest request and waits for the reply of reply_type. Returns
   0 and *reply, or an exit status after reporting the problem. */
static int
s_request (uint32_t type, const s_live_args_t *a, wd_chan_msg_t *reply)
{
    wd_msg_attest_req_t req = { .has_host = a->host != NULL, .limit = (uint32_t)a->limit };
    if (a->host)
        snprintf (req.host, sizeof req.host, "%s", a->host);
    size_t len;
    uint8_t *body = wd_msg_encode_attest_req (&req, &len);
    int status = node_ctl_request (type, body, len, S_TIMEOUT_MS, reply);
    free (body);
    if (status != 0)
        return status;
    if (reply->type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply->body, reply->body_len, &code, message) != WD_OK) {
            code = WD_ERR_BAD_VALUE;
            snprintf (message, sizeof message, "malformed error reply");
        }
        wd_chan_msg_clear (reply);
        /* Not configured, or the node said no: 1; anything else: 3. */
        return node_ctl_fail (code == WD_ERR_UNAVAILABLE || code == ATTEST_ERR_AGENT_HOST ||
                                      code == ATTEST_ERR_AGENT_TOKEN || code == WD_ERR_OVERSIZE
                                  ? NODE_CTL_EXIT_NO
                                  : NODE_CTL_EXIT_INTERNAL,
                              "wardend refused: %s", message);
    }
    if (reply->type != type + 1 || reply->peer != 1) {
        wd_chan_msg_clear (reply);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "unexpected reply from wardend");
    }
    return 0;
}

static json_t *
s_time_json (uint64_t t)
{
    char out[32];
    time_t tt = (time_t)t;
    struct tm tm;
    gmtime_r (&tt, &tm);
    strftime (out, sizeof out, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return json_string (out);
}

/* A string or nil; NULL for nil (the reader's error is sticky). */
static json_t *
s_read_str_or_nil (wd_reader_t *r, size_t max)
{
    const uint8_t *raw;
    size_t raw_len;
    if (!wd_read_raw (r, &raw, &raw_len))
        return NULL;
    if (raw_len == 1 && raw[0] == 0xc0)
        return json_null ();
    wd_reader_t sub;
    wd_reader_init (&sub, raw, raw_len);
    const char *s;
    size_t len;
    wd_read_str (&sub, &s, &len, max);
    if (wd_reader_finish (&sub) != WD_OK)
        return NULL;
    return json_stringn (s, len);
}

static json_t *
s_read_hex_json (wd_reader_t *r, size_t len)
{
    uint8_t buf[64];
    assert (len <= sizeof buf);
    if (!wd_read_bin_fixed (r, buf, len))
        return json_null ();
    return s_hex_json (buf, len);
}

static json_t *
s_read_cstr_json (wd_reader_t *r, size_t max)
{
    char buf[ATTEST_EVIDENCE_ITEM_MAX + 1];
    assert (max < sizeof buf);
    if (!wd_read_cstr (r, buf, max + 1))
        return json_null ();
    return json_string (buf);
}

static json_t *
s_read_uint_json (wd_reader_t *r)
{
    uint64_t v = 0;
    wd_read_uint (r, &v, INT64_MAX);
    return json_integer ((json_int_t)v);
}

static json_t *
s_read_time_json (wd_reader_t *r)
{
    uint64_t v = 0;
    wd_read_uint (r, &v, INT64_MAX);
    return s_time_json (v);
}

static json_t *
s_read_bool_json (wd_reader_t *r)
{
    bool v = false;
    wd_read_bool (r, &v);
    return json_boolean (v);
}

static json_t *
s_read_outcome (wd_reader_t *r, uint64_t now)
{
    json_t *o = json_object ();
    size_t n;
    wd_read_map (r, &n);
    wd_read_key (r, "age_ms");
    json_t *age = s_read_uint_json (r);
    json_object_set (o, "age_ms", age);
    json_object_set_new (o, "time", s_time_json (now - (uint64_t)json_integer_value (age) / 1000));
    json_decref (age);
    wd_read_key (r, "deadline");
    json_object_set_new (o, "deadline", s_read_time_json (r));
    wd_read_key (r, "issued");
    json_object_set_new (o, "issued", s_read_time_json (r));
    wd_read_key (r, "items");
    json_t *items = json_array ();
    size_t count = 0;
    wd_read_array (r, &count);
    for (size_t i = 0; i < count && count <= ATTEST_EVIDENCE_ITEMS_MAX; i++) {
        json_t *it = json_object ();
        wd_read_map (r, &n);
        wd_read_key (r, "item");
        json_object_set_new (it, "item", s_read_cstr_json (r, ATTEST_EVIDENCE_ITEM_MAX));
        wd_read_key (r, "result");
        json_object_set_new (it, "result", s_read_cstr_json (r, 16));
        wd_read_key (r, "why");
        json_object_set_new (it, "why", s_read_cstr_json (r, ATTEST_EVIDENCE_WHY_MAX));
        wd_read_end (r);
        json_array_append_new (items, it);
    }
    wd_read_end (r);
    json_object_set_new (o, "items", items);
    wd_read_key (r, "nonce");
    json_object_set_new (o, "nonce", s_read_hex_json (r, 32));
    wd_read_key (r, "on_demand");
    json_object_set_new (o, "on_demand", s_read_bool_json (r));
    wd_read_key (r, "outcome");
    json_object_set_new (o, "outcome", s_read_cstr_json (r, 16));
    wd_read_key (r, "response_ms");
    json_object_set_new (o, "response_ms", s_read_uint_json (r));
    wd_read_key (r, "seq");
    json_object_set_new (o, "seq", s_read_uint_json (r));
    wd_read_end (r);
    return o;
}

static json_t *
s_read_host (wd_reader_t *r, uint64_t now)
{
    json_t *h = json_object ();
    size_t n;
    wd_read_map (r, &n);
    wd_read_key (r, "admitted");
    json_object_set_new (h, "admitted", s_read_bool_json (r));
    wd_read_key (r, "admitted_age_ms");
    json_object_set_new (h, "admitted_age_ms", s_read_uint_json (r));
    wd_read_key (r, "challenge_open");
    json_object_set_new (h, "challenge_open", s_read_bool_json (r));
    wd_read_key (r, "failed");
    json_object_set_new (h, "failed", s_read_uint_json (r));
    wd_read_key (r, "history");
    json_t *hist = json_array ();
    size_t count = 0;
    wd_read_array (r, &count);
    for (size_t i = 0; i < count && count <= ATTEST_SERVER_HISTORY; i++)
        json_array_append_new (hist, s_read_outcome (r, now));
    wd_read_end (r);
    json_object_set_new (h, "history", hist);
    wd_read_key (r, "host");
    json_object_set_new (h, "host", s_read_cstr_json (r, ATTEST_AGENT_HOST_MAX));
    wd_read_key (r, "ima_entries");
    json_object_set_new (h, "ima_entries", s_read_uint_json (r));
    wd_read_key (r, "missed");
    json_object_set_new (h, "missed", s_read_uint_json (r));
    wd_read_key (r, "passed");
    json_object_set_new (h, "passed", s_read_uint_json (r));
    wd_read_key (r, "rejected");
    json_object_set_new (h, "rejected", s_read_uint_json (r));
    wd_read_key (r, "session_pk");
    const uint8_t *raw;
    size_t raw_len;
    if (wd_read_raw (r, &raw, &raw_len)) {
        if (raw_len == 34 && raw[0] == 0xc4 && raw[1] == 32)
            json_object_set_new (h, "session_pk", s_hex_json (raw + 2, 32));
        else
            json_object_set_new (h, "session_pk", json_null ());
    }
    wd_read_key (r, "state");
    json_object_set_new (h, "state", s_read_cstr_json (r, 16));
    wd_read_end (r);
    return h;
}

static json_t *
s_decode_host_reply (const uint8_t *body, size_t len, wd_err_t *err)
{
    uint64_t now = (uint64_t)time (NULL);
    json_t *root = json_object ();
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "chain");
    json_object_set_new (root, "chain", s_read_hex_json (&r, 32));
    wd_read_key (&r, "evidence");
    json_t *ev = json_object ();
    wd_read_map (&r, &n);
    static const char *const counters[] = { "lost", "pending", "rows", "stored" };
    for (size_t i = 0; i < 4; i++) {
        wd_read_key (&r, counters[i]);
        json_object_set_new (ev, counters[i], s_read_uint_json (&r));
    }
    wd_read_end (&r);
    json_object_set_new (root, "evidence", ev);
    wd_read_key (&r, "hooks_run");
    json_object_set_new (root, "hooks_run", s_read_uint_json (&r));
    wd_read_key (&r, "hosts");
    json_t *hosts = json_array ();
    size_t count = 0;
    wd_read_array (&r, &count);
    for (size_t i = 0; i < count && count <= ATTEST_SERVER_HOSTS; i++)
        json_array_append_new (hosts, s_read_host (&r, now));
    wd_read_end (&r);
    json_object_set_new (root, "hosts", hosts);
    wd_read_key (&r, "listen");
    json_t *listen = s_read_str_or_nil (&r, 255);
    json_object_set_new (root, "listen", listen ? listen : json_null ());
    wd_read_key (&r, "rejected");
    json_object_set_new (root, "rejected", s_read_uint_json (&r));
    wd_read_key (&r, "rejected_unknown");
    json_object_set_new (root, "rejected_unknown", s_read_uint_json (&r));
    wd_read_key (&r, "server_key");
    json_object_set_new (root, "server_key", s_read_hex_json (&r, 32));
    wd_read_key (&r, "truncated");
    json_object_set_new (root, "truncated", s_read_bool_json (&r));
    wd_read_end (&r);
    *err = wd_reader_finish (&r);
    if (*err == WD_OK && !listen)
        *err = WD_ERR_WRONG_TYPE;
    return root;
}

static void
s_print_host_text (json_t *root)
{
    json_t *ev = json_object_get (root, "evidence");
    if (json_is_null (json_object_get (root, "listen")))
        printf ("attestation server  not running (attest/listen is not set)\n");
    else
        printf ("attestation server  %s\nserver key          %s\n",
                json_string_value (json_object_get (root, "listen")),
                json_string_value (json_object_get (root, "server_key")));
    printf ("evidence            %lld stored in attest.db (%lld this run), %lld pending, %lld "
            "lost\n",
            json_integer_value (json_object_get (ev, "rows")),
            json_integer_value (json_object_get (ev, "stored")),
            json_integer_value (json_object_get (ev, "pending")),
            json_integer_value (json_object_get (ev, "lost")));
    printf ("rejected messages   %lld (from unknown peers %lld); hooks run %lld\n",
            json_integer_value (json_object_get (root, "rejected")),
            json_integer_value (json_object_get (root, "rejected_unknown")),
            json_integer_value (json_object_get (root, "hooks_run")));
    size_t i;
    json_t *h;
    json_array_foreach (json_object_get (root, "hosts"), i, h)
    {
        json_t *pk = json_object_get (h, "session_pk");
        printf ("\nhost %s  %s\n", json_string_value (json_object_get (h, "host")),
                json_string_value (json_object_get (h, "state")));
        if (json_is_string (pk))
            printf ("  session   %.16s... admitted %llds ago%s\n", json_string_value (pk),
                    json_integer_value (json_object_get (h, "admitted_age_ms")) / 1000,
                    json_is_true (json_object_get (h, "challenge_open")) ? ", challenge open" : "");
        else
            printf ("  session   none (no agent admitted yet)\n");
        printf ("  counts    passed %lld, failed %lld, missed %lld, rejected %lld\n",
                json_integer_value (json_object_get (h, "passed")),
                json_integer_value (json_object_get (h, "failed")),
                json_integer_value (json_object_get (h, "missed")),
                json_integer_value (json_object_get (h, "rejected")));
        size_t j;
        json_t *o;
        json_array_foreach (json_object_get (h, "history"), j, o)
        {
            printf ("  #%-4lld %-6s %s%s\n", json_integer_value (json_object_get (o, "seq")),
                    json_string_value (json_object_get (o, "outcome")),
                    json_string_value (json_object_get (o, "issued")),
                    json_is_true (json_object_get (o, "on_demand")) ? " (on demand)" : "");
            size_t k;
            json_t *it;
            json_array_foreach (json_object_get (o, "items"), k, it)
            {
                const char *why = json_string_value (json_object_get (it, "why"));
                printf ("        %-6s %s%s%s\n", json_string_value (json_object_get (it, "result")),
                        json_string_value (json_object_get (it, "item")), why && *why ? ": " : "",
                        why ? why : "");
            }
        }
    }
    if (json_is_true (json_object_get (root, "truncated")))
        printf ("\n(more hosts than fit in one reply; use --host)\n");
}

static int
s_cmd_host (int argc, char **argv)
{
    s_live_args_t a = { 0 };
    int status = s_live_parse (argc, argv, s_help_host, true, &a);
    if (status >= 0)
        return status;
    wd_chan_msg_t reply;
    status = s_request (WD_MSG_CTL_ATTEST_HOST, &a, &reply);
    if (status != 0)
        return status;
    wd_err_t err;
    json_t *root = s_decode_host_reply (reply.body, reply.body_len, &err);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK) {
        json_decref (root);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed reply from wardend: %s",
                              wd_strerror (err));
    }
    bool found = !a.host || json_array_size (json_object_get (root, "hosts")) > 0;
    if (a.json)
        node_ctl_print_json (root);
    else {
        s_print_host_text (root);
        json_decref (root);
    }
    if (!found)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "attest host: no host %s", a.host);
    return 0;
}

/* ---- evidence ---- */

typedef struct {
    const wd_cert_t *cert;
} s_key_ctx_t;

static bool
s_key_fn (void *ctx, const uint8_t node_id[WD_PUBKEY_LEN],
          char key_protection[WD_CERT_PROTECTION_MAX + 1])
{
    const s_key_ctx_t *k = ctx;
    if (sodium_memcmp (node_id, k->cert->sign_pk, WD_PUBKEY_LEN) != 0)
        return false;
    snprintf (key_protection, WD_CERT_PROTECTION_MAX + 1, "%s", k->cert->key_protection);
    return true;
}

/* Verifies one stored envelope under cert: decoding, then
   attest_evidence_open with the record's own subject and nonce (the
   signature, attester, key protection and schema are what is checked;
   freshness was the node's business when it made the record). Records
   sealed before the node had a genesis carry the zero chain and stay valid;
   any other chain must be the node's current one. */
static int
s_verify_record (const uint8_t *buf, size_t len, const uint8_t chain[32], const wd_cert_t *cert,
                 attest_evidence_t *ev, uint8_t id[ATTEST_EVIDENCE_ID_LEN])
{
    wd_envelope_t env;
    wd_err_t err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    int rc = attest_evidence_decode (env.body, env.body_len, ev);
    if (rc != WD_OK)
        return rc;
    attest_subject_t subject = ev->subject;
    uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN];
    memcpy (nonce, ev->nonce, sizeof nonce);
    s_key_ctx_t k = { .cert = cert };
    bool before_genesis = sodium_memcmp (env.chain, wd_cert_no_chain, WD_CHAIN_ID_LEN) == 0;
    attest_evidence_expect_t expect = {
        .chain = before_genesis ? wd_cert_no_chain : chain,
        .key_fn = s_key_fn,
        .key_ctx = &k,
        .subject = &subject,
        .nonce = nonce,
        .now = ev->time,
    };
    if (ev->fresh.kind != ATTEST_FRESH_CHALLENGE)
        return ATTEST_ERR_EVIDENCE_FRESHNESS;
    return attest_evidence_open (buf, len, &expect, ev, id, NULL);
}

static int
s_cmd_evidence (int argc, char **argv)
{
    s_live_args_t a = { 0 };
    int status = s_live_parse (argc, argv, s_help_evidence, true, &a);
    if (status >= 0)
        return status;
    char cert_path[PATH_MAX];
    uint8_t cert_buf[WD_CERT_MAX_BYTES + 1];
    wd_cert_t cert;
    if (node_ctl_state_path ("node.cert", cert_path, sizeof cert_path) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "state path is too long");
    ssize_t cert_len = node_ctl_read_small (cert_path, cert_buf, sizeof cert_buf);
    if (cert_len < 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s (evidence is verified against it)",
                              cert_path, strerror (errno));
    wd_err_t err = wd_cert_open (cert_buf, (size_t)cert_len, &cert);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s", cert_path, wd_strerror (err));

    wd_chan_msg_t reply;
    status = s_request (WD_MSG_CTL_ATTEST_EVIDENCE, &a, &reply);
    if (status != 0)
        return status;
    wd_reader_t r;
    size_t n, count = 0;
    uint8_t chain[32] = { 0 };
    bool more = false;
    wd_reader_init (&r, reply.body, reply.body_len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, chain, 32);
    wd_read_key (&r, "more");
    wd_read_bool (&r, &more);
    wd_read_key (&r, "records");
    wd_read_array (&r, &count);
    json_t *records = json_array ();
    attest_evidence_t *ev = malloc (sizeof *ev);
    if (!ev)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "out of memory");
    size_t bad = 0;
    for (size_t i = 0; i < count && count <= NODE_ATTEST_LIMIT_MAX; i++) {
        const uint8_t *env;
        size_t env_len = 0;
        uint64_t row = 0;
        wd_read_map (&r, &n);
        wd_read_key (&r, "envelope");
        wd_read_bin (&r, &env, &env_len, WD_CHAN_MAX_BODY);
        wd_read_key (&r, "row");
        wd_read_uint (&r, &row, INT64_MAX);
        if (!wd_read_end (&r))
            break;
        uint8_t id[ATTEST_EVIDENCE_ID_LEN];
        memset (ev, 0, sizeof *ev);
        int rc = s_verify_record (env, env_len, chain, &cert, ev, id);
        json_t *rec = json_pack ("{s:I, s:b}", "row", (json_int_t)row, "verified", rc == WD_OK);
        if (rc != WD_OK) {
            bad++;
            attest_evidence_id (id, env, env_len);
            json_object_set_new (rec, "id", s_hex_json (id, 32));
            json_object_set_new (rec, "error", json_string (attest_err_name (rc)));
            json_object_set_new (rec, "reason", json_string (attest_strerror (rc)));
        } else {
            json_object_set_new (rec, "id", s_hex_json (id, 32));
            json_object_set_new (
                rec, "subject",
                json_pack ("{s:s, s:o, s:s}", "kind", attest_subject_kind_name (ev->subject.kind),
                           "node", s_hex_json (ev->subject.node, 32), "host", ev->subject.host));
            json_object_set_new (rec, "attester", s_hex_json (ev->attester, 32));
            json_object_set_new (rec, "time", s_time_json (ev->time));
            json_object_set_new (rec, "nonce", s_hex_json (ev->nonce, 32));
            json_object_set_new (rec, "key_protection", json_string (ev->key_protection));
            json_object_set_new (rec, "tamper", json_string (ev->tamper));
            if (ev->has_challenge) {
                const attest_evidence_challenge_t *c = &ev->challenge;
                json_t *items = json_array ();
                json_t *failing = json_array ();
                for (size_t k = 0; k < c->item_count; k++) {
                    json_t *it = json_pack ("{s:s, s:s, s:s}", "item", c->items[k].item, "result",
                                            attest_outcome_name (c->items[k].result), "why",
                                            c->items[k].why);
                    if (c->items[k].result != ATTEST_OUTCOME_PASS)
                        json_array_append (failing, it);
                    json_array_append_new (items, it);
                }
                json_object_set_new (rec, "outcome",
                                     json_string (attest_outcome_name (c->outcome)));
                json_object_set_new (rec, "issued", s_time_json (c->issued));
                json_object_set_new (rec, "deadline", s_time_json (c->deadline));
                json_object_set_new (rec, "items", items);
                json_object_set_new (rec, "failing", failing);
            }
        }
        json_array_append_new (records, rec);
    }
    free (ev);
    wd_read_end (&r);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK) {
        json_decref (records);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed reply from wardend: %s",
                              wd_strerror (err));
    }
    if (a.json)
        node_ctl_print_json (json_pack ("{s:o, s:b, s:o, s:I}", "chain", s_hex_json (chain, 32),
                                        "more", more, "records", records, "unverified",
                                        (json_int_t)bad));
    else {
        size_t i;
        json_t *rec;
        json_array_foreach (records, i, rec)
        {
            const char *id = json_string_value (json_object_get (rec, "id"));
            if (!json_is_true (json_object_get (rec, "verified"))) {
                printf ("row %-5lld %.16s  NOT VERIFIED: %s (%s)\n",
                        json_integer_value (json_object_get (rec, "row")), id,
                        json_string_value (json_object_get (rec, "reason")),
                        json_string_value (json_object_get (rec, "error")));
                continue;
            }
            json_t *subject = json_object_get (rec, "subject");
            printf ("row %-5lld %.16s  %s %s  %-6s %s  verified\n",
                    json_integer_value (json_object_get (rec, "row")), id,
                    json_string_value (json_object_get (subject, "kind")),
                    json_string_value (json_object_get (subject, "host")),
                    json_string_value (json_object_get (rec, "outcome")),
                    json_string_value (json_object_get (rec, "time")));
            size_t k;
            json_t *it;
            json_array_foreach (json_object_get (rec, "failing"), k, it)
            {
                const char *why = json_string_value (json_object_get (it, "why"));
                printf ("          %-6s %s%s%s\n",
                        json_string_value (json_object_get (it, "result")),
                        json_string_value (json_object_get (it, "item")), *why ? ": " : "", why);
            }
        }
        if (more)
            printf ("(older records not shown: --limit)\n");
        json_decref (records);
    }
    if (bad)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "attest evidence: %zu record(s) do not verify",
                              bad);
    return 0;
}

static int
s_cmd_token (int argc, char **argv)
{
    s_live_args_t a = { 0 };
    int status = s_live_parse (argc, argv, s_help_token, false, &a);
    if (status >= 0)
        return status;
    if (!a.host)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest token: --host LABEL is required");
    wd_chan_msg_t reply;
    status = s_request (WD_MSG_CTL_ATTEST_TOKEN, &a, &reply);
    if (status != 0)
        return status;
    char endpoint[256], host[ATTEST_AGENT_HOST_MAX + 1], token[ATTEST_AGENT_TOKEN_MAX + 1];
    uint8_t key[32];
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, reply.body, reply.body_len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "endpoint");
    wd_read_cstr (&r, endpoint, sizeof endpoint);
    wd_read_key (&r, "host");
    wd_read_cstr (&r, host, sizeof host);
    wd_read_key (&r, "server_key");
    wd_read_bin_fixed (&r, key, 32);
    wd_read_key (&r, "token");
    wd_read_cstr (&r, token, sizeof token);
    wd_read_end (&r);
    wd_err_t err = wd_reader_finish (&r);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed reply from wardend: %s",
                              wd_strerror (err));
    char key_hex[65], cmdline[512];
    wd_hex_encode (key_hex, key, 32);
    snprintf (cmdline, sizeof cmdline, "warden.server=%s warden.server_key=%s warden.token=%s",
              endpoint, key_hex, token);
    if (a.json)
        node_ctl_print_json (json_pack ("{s:s, s:s, s:s, s:s, s:s}", "host", host, "token", token,
                                        "server", endpoint, "server_key", key_hex, "cmdline",
                                        cmdline));
    else
        printf ("host        %s\ntoken       %s\nserver      %s\nserver key  %s\n"
                "kernel command line:\n%s\n",
                host, token, endpoint, key_hex, cmdline);
    sodium_memzero (token, sizeof token);
    sodium_memzero (cmdline, sizeof cmdline);
    return 0;
}

static int
s_cmd_challenge (int argc, char **argv)
{
    s_live_args_t a = { 0 };
    int status = s_live_parse (argc, argv, s_help_challenge, false, &a);
    if (status >= 0)
        return status;
    wd_chan_msg_t reply;
    status = s_request (WD_MSG_CTL_ATTEST_CHALLENGE, &a, &reply);
    if (status != 0)
        return status;
    uint64_t asked = 0;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, reply.body, reply.body_len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "asked");
    wd_read_uint (&r, &asked, ATTEST_SERVER_HOSTS);
    wd_read_end (&r);
    wd_err_t err = wd_reader_finish (&r);
    wd_chan_msg_clear (&reply);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed reply from wardend: %s",
                              wd_strerror (err));
    if (a.json)
        node_ctl_print_json (json_pack ("{s:I}", "asked", (json_int_t)asked));
    else
        printf ("challenged %llu host(s)\n", (unsigned long long)asked);
    if (asked == 0)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "attest challenge: no admitted host %s",
                              a.host ? a.host : "");
    return 0;
}

int
node_ctl_attest (int argc, char **argv)
{
    static const struct option options[] = {
        { "log", required_argument, NULL, 'l' },    { "policy", required_argument, NULL, 'p' },
        { "format", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    static const struct {
        const char *name;
        int (*run) (int, char **);
    } live[] = {
        { "host", s_cmd_host },           { "evidence", s_cmd_evidence },
        { "token", s_cmd_token },         { "challenge", s_cmd_challenge },
        { "node", node_ctl_attest_node }, /* node_ctl_verify.c */
    };
    for (size_t i = 0; argc >= 2 && i < sizeof live / sizeof live[0]; i++)
        if (strcmp (argv[1], live[i].name) == 0)
            return live[i].run (argc - 1, argv + 1);
    s_args_t args = { .format = ATTEST_APPRAISE_AUTO };
    int opt;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case 'l':
                args.log = optarg;
                break;
            case 'p':
                args.policy = optarg;
                break;
            case 'f':
                if (strcmp (optarg, "ascii") == 0)
                    args.format = ATTEST_IMA_ASCII;
                else if (strcmp (optarg, "binary") == 0)
                    args.format = ATTEST_IMA_BINARY;
                else
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                                          "attest appraise: --format is ascii or binary");
                break;
            case 'j':
                args.json = true;
                break;
            case 'h':
                fputs (s_help, stdout);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    const char *action = optind == argc - 1 ? argv[optind] : "";
    if (strcmp (action, "appraise") == 0 && args.log && args.policy)
        return s_appraise (&args);
    fputs (s_help, stderr);
    return NODE_CTL_EXIT_USAGE;
}
