/*
 * node_ctl_mesh: `wardenctl peers` and `wardenctl mesh publish|records|peers`
 * — the operator's view of the running node's mesh (node_mesh in the
 * engine). Each asks the engine over the control socket with one
 * WD_MSG_CTL_MESH_* request and prints the reply, decoded by node_mesh's own
 * decoders, as a table or (--json) as JSON.
 */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "node_ctl.h"
#include "node_mesh.h"
#include "wd_chan.h"
#include "wd_hash.h"
#include "wd_msg.h"

#define S_TIMEOUT_MS 5000

static const char s_peers_help[] =
    "usage: wardenctl [--state DIR | --socket PATH] peers [--json]\n\n"
    "Lists every node of the genesis as the running wardend sees it: id, name,\n"
    "address, membership state and incarnation, gossip score, last probe round\n"
    "trip, messages in and out, and whether it is graylisted or banned.\n";

static const char s_mesh_help[] =
    "usage: wardenctl [--state DIR | --socket PATH] mesh publish --text TEXT [--json]\n"
    "       wardenctl [--state DIR | --socket PATH] mesh records [--json]\n"
    "       wardenctl [--state DIR | --socket PATH] mesh peers [--json]\n\n"
    "publish has the node seal a `notice` record {text, time} with its identity key\n"
    "(through its keys process) and gossip it to the cluster; it prints the record\n"
    "id. records lists the records the node has delivered or published (the last\n"
    "mesh/records_keep). peers is `wardenctl peers`.\n";

/* Sends one request and waits for its reply (node_ctl_request). Returns 0
   with *reply of want_type, or an exit status after reporting the
   problem. */
static int
s_request (uint32_t type, const uint8_t *body, size_t len, uint32_t want_type, wd_chan_msg_t *reply)
{
    int status = node_ctl_request (type, body, len, S_TIMEOUT_MS, reply);
    if (status != 0)
        return status;
    if (reply->type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        if (wd_msg_decode_error (reply->body, reply->body_len, &code, message) != WD_OK)
            snprintf (message, sizeof message, "malformed error reply");
        wd_chan_msg_clear (reply);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "wardend: %s", message);
    }
    if (reply->type != want_type) {
        uint32_t got = reply->type;
        wd_chan_msg_clear (reply);
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "unexpected %s reply", wd_msg_name (got));
    }
    return 0;
}

static json_t *
s_hex_json (const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];
    return json_string (wd_hex_encode (hex, bin, len));
}

static const char *
s_time_text (char out[32], uint64_t ms)
{
    if (ms == 0)
        return "-";
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    snprintf (out, 32, "%02d:%02d:%02d.%03dZ", tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(ms % 1000));
    return out;
}

/* ---- peers ---------------------------------------------------------------- */

static json_t *
s_peer_json (const node_mesh_peer_t *p)
{
    json_t *o = json_object ();
    json_object_set_new (o, "id", s_hex_json (p->id, WD_PUBKEY_LEN));
    json_object_set_new (o, "name", json_string (p->name));
    json_object_set_new (o, "address", json_string (p->address));
    json_object_set_new (o, "self", json_boolean (p->self));
    json_object_set_new (o, "state", json_string (p->state));
    json_object_set_new (o, "incarnation", json_integer ((json_int_t)p->incarnation));
    json_object_set_new (o, "since_ms", json_integer ((json_int_t)p->since_ms));
    json_object_set_new (o, "link", json_string (p->link));
    json_object_set_new (o, "score", json_integer ((json_int_t)p->score));
    json_object_set_new (o, "rtt_ms",
                         p->rtt_ms < 0 ? json_null () : json_integer ((json_int_t)p->rtt_ms));
    json_object_set_new (o, "msgs_in", json_integer ((json_int_t)p->msgs_in));
    json_object_set_new (o, "msgs_out", json_integer ((json_int_t)p->msgs_out));
    json_object_set_new (o, "records_in", json_integer ((json_int_t)p->records_in));
    json_object_set_new (o, "rejected", json_integer ((json_int_t)p->rejected));
    json_object_set_new (o, "invalid", json_integer ((json_int_t)p->invalid));
    json_object_set_new (o, "in_mesh", json_boolean (p->in_mesh));
    json_object_set_new (o, "graylisted", json_boolean (p->graylisted));
    json_object_set_new (o, "banned", json_boolean (p->banned_for_ms > 0));
    json_object_set_new (o, "banned_for_ms", json_integer ((json_int_t)p->banned_for_ms));
    json_object_set_new (o, "suspicions", json_integer ((json_int_t)p->suspicions));
    json_object_set_new (o, "deaths", json_integer ((json_int_t)p->deaths));
    return o;
}

static json_t *
s_summary_json (const node_mesh_summary_t *s)
{
    return json_pack (
        "{s:o, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}", "chain",
        s_hex_json (s->chain, WD_CHAIN_ID_LEN), "endpoint", s->endpoint, "incarnation",
        (json_int_t)s->incarnation, "health", (json_int_t)s->health, "zap_allowed",
        (json_int_t)s->zap_allowed, "zap_unknown", (json_int_t)s->zap_unknown, "zap_banned",
        (json_int_t)s->zap_banned, "rejected", (json_int_t)s->rejected, "published",
        (json_int_t)s->published, "delivered", (json_int_t)s->delivered, "duplicates",
        (json_int_t)s->duplicates, "gossip_msgs_out", (json_int_t)s->gossip_msgs_out, "records_out",
        (json_int_t)s->records_out, "control_out", (json_int_t)s->control_out);
}

static void
s_peers_print (const node_mesh_summary_t *s, const node_mesh_peer_t *peers, size_t count)
{
    printf ("mesh        %s, chain %s, incarnation %llu, health %llu\n", s->endpoint,
            wd_short_id (s->chain).s, (unsigned long long)s->incarnation,
            (unsigned long long)s->health);
    printf ("handshakes  %llu admitted, %llu refused (unknown key), %llu refused (banned); "
            "%llu frames rejected\n",
            (unsigned long long)s->zap_allowed, (unsigned long long)s->zap_unknown,
            (unsigned long long)s->zap_banned, (unsigned long long)s->rejected);
    printf ("records     %llu published, %llu delivered, %llu duplicates; sent %llu copies, "
            "%llu control messages\n\n",
            (unsigned long long)s->published, (unsigned long long)s->delivered,
            (unsigned long long)s->duplicates, (unsigned long long)s->records_out,
            (unsigned long long)s->control_out);
    printf ("%-16s %-8s %-24s %-8s %-14s %6s %6s %8s %8s  %s\n", "NAME", "ID", "ADDRESS", "STATE",
            "INCARNATION", "SCORE", "RTT", "IN", "OUT", "FLAGS");
    for (size_t i = 0; i < count; i++) {
        const node_mesh_peer_t *p = &peers[i];
        char rtt[32], flags[96];
        if (p->rtt_ms < 0)
            snprintf (rtt, sizeof rtt, "-");
        else
            snprintf (rtt, sizeof rtt, "%lldms", (long long)p->rtt_ms);
        snprintf (flags, sizeof flags, "%s%s%s%s%s", p->self ? "self " : "",
                  p->in_mesh ? "mesh " : "", p->graylisted ? "graylisted " : "",
                  p->banned_for_ms ? "banned " : "", p->self ? "" : p->link);
        printf ("%-16s %-8s %-24s %-8s %-14llu %6lld %6s %8llu %8llu  %s\n", p->name,
                wd_short_id (p->id).s, p->address[0] ? p->address : "-", p->state,
                (unsigned long long)p->incarnation, (long long)p->score, rtt,
                (unsigned long long)p->msgs_in, (unsigned long long)p->msgs_out, flags);
    }
}

static int
s_cmd_peers (int argc, char **argv)
{
    bool json = false;
    int status = node_ctl_parse_json_option (argc, argv, &json, s_peers_help);
    if (status >= 0)
        return status;
    if (optind != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "peers: unexpected argument '%s'", argv[optind]);
    node_mesh_summary_t summary;
    node_mesh_peer_t *peers = NULL;
    size_t count = 0;
    bool more = true;
    while (more) {
        size_t len;
        uint8_t *body = node_mesh_encode_start (count, &len);
        wd_chan_msg_t reply;
        status = s_request (WD_MSG_CTL_MESH_PEERS, body, len, WD_MSG_CTL_MESH_PEERS_REPLY, &reply);
        free (body);
        if (status != 0) {
            free (peers);
            return status;
        }
        size_t before = count;
        wd_err_t err =
            node_mesh_decode_peers (reply.body, reply.body_len, &summary, &peers, &count, &more);
        wd_chan_msg_clear (&reply);
        if (err == WD_OK && more && count == before)
            err = WD_ERR_BAD_VALUE; /* a page without progress */
        if (err != WD_OK) {
            free (peers);
            return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed peers reply: %s",
                                  wd_strerror (err));
        }
    }
    if (json) {
        json_t *list = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (list, s_peer_json (&peers[i]));
        node_ctl_print_json (
            json_pack ("{s:o, s:o}", "self", s_summary_json (&summary), "peers", list));
    } else
        s_peers_print (&summary, peers, count);
    free (peers);
    return 0;
}

int
node_ctl_peers (int argc, char **argv)
{
    return s_cmd_peers (argc, argv);
}

/* ---- mesh publish | records ----------------------------------------------- */

static int
s_cmd_publish (int argc, char **argv)
{
    static const struct option options[] = {
        { "text", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *text = NULL;
    bool json = false;
    int opt;
    while ((opt = getopt_long (argc, argv, "t:jh", options, NULL)) != -1) {
        switch (opt) {
            case 't':
                text = optarg;
                break;
            case 'j':
                json = true;
                break;
            case 'h':
                fputs (s_mesh_help, stdout);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "mesh publish: unexpected argument '%s'",
                              argv[optind]);
    if (!text)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "mesh publish: --text TEXT is required");
    if (strlen (text) > NODE_MESH_TEXT_MAX)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "mesh publish: the text is longer than %d bytes",
                              NODE_MESH_TEXT_MAX);
    size_t len;
    uint8_t *body = node_mesh_encode_publish (text, &len);
    wd_chan_msg_t reply;
    int status =
        s_request (WD_MSG_CTL_MESH_PUBLISH, body, len, WD_MSG_CTL_MESH_PUBLISH_REPLY, &reply);
    free (body);
    if (status != 0)
        return status;
    /* {id: bin(32)} */
    const uint8_t expect_prefix[] = { 0x81, 0xa2, 'i', 'd', 0xc4, 0x20 };
    bool ok = reply.body_len == sizeof expect_prefix + 32 &&
              memcmp (reply.body, expect_prefix, sizeof expect_prefix) == 0;
    uint8_t id[32];
    if (ok)
        memcpy (id, reply.body + sizeof expect_prefix, 32);
    wd_chan_msg_clear (&reply);
    if (!ok)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed publish reply");
    char hex[65];
    if (json)
        node_ctl_print_json (json_pack ("{s:s}", "id", wd_hex_encode (hex, id, 32)));
    else
        printf ("%s\n", wd_hex_encode (hex, id, 32));
    return 0;
}

static int
s_cmd_records (int argc, char **argv)
{
    bool json = false;
    int status = node_ctl_parse_json_option (argc, argv, &json, s_mesh_help);
    if (status >= 0)
        return status;
    if (optind != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "mesh records: unexpected argument '%s'",
                              argv[optind]);
    node_mesh_record_t *records = NULL;
    size_t count = 0;
    bool more = true;
    while (more) {
        size_t len;
        uint8_t *body = node_mesh_encode_start (count ? records[count - 1].seq + 1 : 0, &len);
        wd_chan_msg_t reply;
        status =
            s_request (WD_MSG_CTL_MESH_RECORDS, body, len, WD_MSG_CTL_MESH_RECORDS_REPLY, &reply);
        free (body);
        if (status != 0) {
            free (records);
            return status;
        }
        size_t before = count;
        wd_err_t err =
            node_mesh_decode_records (reply.body, reply.body_len, &records, &count, &more);
        wd_chan_msg_clear (&reply);
        if (err == WD_OK && more && count == before)
            err = WD_ERR_BAD_VALUE;
        if (err != WD_OK) {
            free (records);
            return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "malformed records reply: %s",
                                  wd_strerror (err));
        }
    }
    if (json) {
        json_t *list = json_array ();
        for (size_t i = 0; i < count; i++) {
            const node_mesh_record_t *r = &records[i];
            json_array_append_new (
                list,
                json_pack ("{s:o, s:s, s:o, s:I, s:I, s:s, s:b, s:I}", "id", s_hex_json (r->id, 32),
                           "type", r->type, "from", s_hex_json (r->from, WD_PUBKEY_LEN), "time_ms",
                           (json_int_t)r->time_ms, "received_ms", (json_int_t)r->received_ms,
                           "text", r->text, "own", r->own, "seq", (json_int_t)r->seq));
        }
        node_ctl_print_json (list);
    } else {
        printf ("%-8s %-8s %-8s %-13s %-13s %s\n", "ID", "TYPE", "FROM", "TIME", "RECEIVED",
                "TEXT");
        for (size_t i = 0; i < count; i++) {
            const node_mesh_record_t *r = &records[i];
            char t1[32], t2[32];
            printf ("%-8s %-8s %-8s %-13s %-13s %s\n", wd_short_id (r->id).s, r->type,
                    wd_short_id (r->from).s, s_time_text (t1, r->time_ms),
                    s_time_text (t2, r->received_ms), r->text);
        }
    }
    free (records);
    return 0;
}

int
node_ctl_mesh (int argc, char **argv)
{
    if (argc < 2 || strcmp (argv[1], "--help") == 0 || strcmp (argv[1], "-h") == 0) {
        fputs (s_mesh_help, argc < 2 ? stderr : stdout);
        return argc < 2 ? NODE_CTL_EXIT_USAGE : 0;
    }
    const char *sub = argv[1];
    int sub_argc = argc - 1;
    char **sub_argv = argv + 1;
    optind = 0;
    if (strcmp (sub, "publish") == 0)
        return s_cmd_publish (sub_argc, sub_argv);
    if (strcmp (sub, "records") == 0)
        return s_cmd_records (sub_argc, sub_argv);
    if (strcmp (sub, "peers") == 0)
        return s_cmd_peers (sub_argc, sub_argv);
    return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                          "mesh: unknown subcommand '%s' (publish, records, "
                          "peers)",
                          sub);
}
