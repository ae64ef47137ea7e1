/*
 * node_ctl_ledger: `wardenctl ledger show|verify|export` and `wardenctl
 * reputation`, the operator's view of the chain (cons_ledger,
 * cons_reputation; docs/OPERATIONS.md "Reading and verifying the ledger").
 *
 * These commands read <state>/ledger.db directly, read-only, with the
 * node's genesis (<state>/genesis unless --genesis names another): no
 * daemon is needed, and they work the same on a copy of the database.
 * Opening replays the chain to rebuild the reputation table; `verify`
 * re-checks everything from scratch (hash chain, certificates, record
 * signatures, reputation replay, integrity_check) and exits 1 naming the
 * first bad block.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cons_ledger.h"
#include "cons_reputation.h"
#include "cons_sortition.h"
#include "node_ctl.h"
#include "wd_genesis.h"
#include "wd_hash.h"

static const char s_ledger_help[] =
    "usage: wardenctl ledger show [--from H] [--limit N] [--json] [--genesis FILE] [--db FILE]\n"
    "       wardenctl ledger verify [--json] [--genesis FILE] [--db FILE]\n"
    "       wardenctl ledger export FILE [--genesis FILE] [--db FILE]\n\n"
    "show lists the committed blocks (height, id, time, proposer, records,\n"
    "certificate signers; on VRF-proposer chains also the round of the\n"
    "proposer's claim and the first bytes of its priority) from height H;\n"
    "verify re-checks the whole chain from scratch and exits 1 with the first\n"
    "bad block; export writes the chain and its genesis as one canonical\n"
    "msgpack file for offline verification.\n"
    "The database is <state>/ledger.db and the genesis <state>/genesis; they are\n"
    "read directly (read-only), so wardend need not run.\n";

static const char s_rep_help[] =
    "usage: wardenctl reputation [--json] [--genesis FILE] [--db FILE]\n\n"
    "prints the reputation table after the ledger's last block: per node its\n"
    "key-protection tier, score (basis points), attestations passed and failed,\n"
    "precommits made of possible, the height it was last seen at, its\n"
    "quarantine and its weight in the next epoch's validator set (--json\n"
    "adds deciding_weight: its weight in the set deciding the next height).\n";

typedef struct {
    bool json;
    uint64_t from, limit;
    const char *genesis, *db;
} s_opts_t;

static json_t *
s_hex (const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];
    return json_string (wd_hex_encode (hex, bin, len));
}

int
node_ctl_ledger_open (const char *genesis, const char *db, const char *cmd, wd_genesis_t **g,
                      cons_ledger_t **l)
{
    char gpath[4096], dpath[4096];
    if (genesis)
        snprintf (gpath, sizeof gpath, "%s", genesis);
    else if (node_ctl_state_path ("genesis", gpath, sizeof gpath) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: state path too long", cmd);
    if (db)
        snprintf (dpath, sizeof dpath, "%s", db);
    else if (node_ctl_state_path (CONS_LEDGER_FILE, dpath, sizeof dpath) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: state path too long", cmd);
    int err = wd_genesis_load (gpath, g);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: genesis %s: %s", cmd, gpath,
                              wd_strerror (err));
    char why[512] = "";
    err = cons_ledger_open (dpath, *g, CONS_LEDGER_READ_ONLY, l, why, sizeof why);
    if (err != WD_OK) {
        wd_genesis_destroy (g);
        return node_ctl_fail (err == CONS_ERR_LEDGER_CHAIN ? NODE_CTL_EXIT_NO : NODE_CTL_EXIT_USAGE,
                              "%s: %s: %s (%s)", cmd, dpath, cons_strerror (err), why);
    }
    return -1;
}

/* Opens the genesis and ledger read-only. Returns -1 or an exit status. */
static int
s_open (const s_opts_t *o, const char *cmd, wd_genesis_t **g, cons_ledger_t **l)
{
    return node_ctl_ledger_open (o->genesis, o->db, cmd, g, l);
}

static const char *
s_node_name (const wd_genesis_t *g, const cons_reputation_t *rep, const uint8_t id[WD_PUBKEY_LEN])
{
    /* the ledger's rows name joined nodes too; a key rotated away is found
       only among the genesis certificates */
    const cons_rep_entry_t *row = cons_reputation_find (rep, id);
    if (row)
        return row->name;
    const wd_cert_t *c = wd_genesis_find_node (g, id);
    return c ? c->name : "?";
}

typedef struct {
    const s_opts_t *o;
    const wd_genesis_t *g;
    const cons_reputation_t *rep;
    json_t *list;
    uint64_t shown;
    cons_cert_sig_t *sigs;
} s_show_t;

static int
s_show_visit (void *ctx, uint64_t height, const uint8_t *block, size_t block_len,
              const uint8_t *cert_bytes, size_t cert_len)
{
    s_show_t *s = ctx;
    if (s->o->limit && s->shown >= s->o->limit)
        return 1; /* stop */
    cons_block_t b;
    int err = cons_block_decode (block, block_len, SIZE_MAX, &b);
    if (err != WD_OK) {
        fprintf (stderr, "wardenctl: ledger show: block %" PRIu64 ": %s\n", height,
                 cons_strerror (err));
        return err;
    }
    cons_cert_t cert = { 0 };
    int cerr = cons_cert_decode (cert_bytes, cert_len, &cert, s->sigs, CONS_VALIDATORS_MAX);
    /* a v2 block (VRF proposer mode): its claim's round and priority (the
       decoder has checked that the claim decodes) */
    bool v2 = b.claim.bytes.len > 0;
    cons_sortition_claim_t claim = { 0 };
    char prio[17] = "";
    if (v2 && cons_sortition_claim_decode (b.claim.bytes.data, b.claim.bytes.len, &claim) == WD_OK)
        wd_hex_encode (prio, claim.priority, 8);
    uint8_t id[CONS_BLOCK_ID_LEN];
    cons_block_id (block, block_len, id);
    time_t secs = (time_t)(b.time / 1000);
    struct tm tm;
    char when[40];
    gmtime_r (&secs, &tm);
    strftime (when, sizeof when, "%Y-%m-%dT%H:%M:%S", &tm);
    char stamp[48];
    snprintf (stamp, sizeof stamp, "%s.%03uZ", when, (unsigned)(b.time % 1000));
    if (s->o->json) {
        json_t *recs = json_array ();
        for (size_t i = 0; i < b.record_count; i++) {
            wd_envelope_t env;
            uint8_t rid[32];
            wd_envelope_id (rid, b.records[i].data, b.records[i].len);
            json_t *r = json_pack ("{s:o}", "id", s_hex (rid, 32));
            if (wd_envelope_decode (b.records[i].data, b.records[i].len, &env) == WD_OK) {
                json_object_set_new (r, "type", json_string (env.type));
                json_object_set_new (r, "signer", s_hex (env.from, 32));
                json_object_set_new (r, "signer_name",
                                     json_string (s_node_name (s->g, s->rep, env.from)));
            }
            json_array_append_new (recs, r);
        }
        json_array_append_new (
            s->list,
            json_pack (
                "{s:I, s:o, s:o, s:I, s:s, s:o, s:s, s:o, s:o, s:o, s:o, s:o, s:I, s:I}", "height",
                (json_int_t)height, "id", s_hex (id, 32), "prev", s_hex (b.prev, 32), "time_ms",
                (json_int_t)b.time, "time", stamp, "proposer", s_hex (b.proposer, 32),
                "proposer_name", s_node_name (s->g, s->rep, b.proposer), "seed", s_hex (b.seed, 32),
                "records_root", s_hex (b.records_root, 32), "validators_hash",
                s_hex (b.validators_hash, 32), "reputation_hash", s_hex (b.reputation_hash, 32),
                "records", recs, "cert_round", (json_int_t)(cerr == WD_OK ? cert.round : 0),
                "cert_signers", (json_int_t)(cerr == WD_OK ? cert.count : 0)));
        json_t *last = json_array_get (s->list, json_array_size (s->list) - 1);
        json_object_set_new (last, "v",
                             json_integer (v2 ? CONS_BLOCK_VERSION_VRF : CONS_BLOCK_VERSION));
        if (v2) {
            json_object_set_new (last, "claim_round", json_integer ((json_int_t)b.claim.round));
            json_object_set_new (last, "claim_priority", json_string (prio));
        }
    } else {
        char hex[65];
        printf ("%8" PRIu64 "  %.16s  %s  %-16s  %5zu  ", height, wd_hex_encode (hex, id, 32),
                stamp, s_node_name (s->g, s->rep, b.proposer), b.record_count);
        if (v2)
            printf ("%7zu  %5" PRIu32 "  %s\n", cerr == WD_OK ? cert.count : 0, b.claim.round,
                    prio);
        else
            printf ("%zu\n", cerr == WD_OK ? cert.count : 0);
    }
    cons_block_release (&b);
    s->shown++;
    return WD_OK;
}

static int
s_show (const s_opts_t *o)
{
    wd_genesis_t *g;
    cons_ledger_t *l;
    int status = s_open (o, "ledger show", &g, &l);
    if (status >= 0)
        return status;
    s_show_t s = { o,
                   g,
                   cons_ledger_reputation (l),
                   json_array (),
                   0,
                   malloc (CONS_VALIDATORS_MAX * sizeof (cons_cert_sig_t)) };
    if (!s.sigs)
        abort ();
    if (!o->json)
        printf ("%8s  %-16s  %-24s  %-16s  %5s  %s%s\n", "HEIGHT", "ID", "TIME (UTC)", "PROPOSER",
                "RECS", "SIGNERS", wd_genesis_param (g, "proposer_vrf") ? "  ROUND  PRIORITY" : "");
    int err = cons_ledger_iterate (l, o->from ? o->from : 1, s_show_visit, &s);
    if (err != WD_OK && err != 1)
        status = NODE_CTL_EXIT_INTERNAL;
    else
        status = 0;
    if (o->json && status == 0) {
        uint8_t tip[32];
        cons_ledger_tip (l, tip, NULL, NULL);
        node_ctl_print_json (json_pack (
            "{s:o, s:I, s:o, s:o}", "chain", s_hex (cons_ledger_chain (l), 32), "height",
            (json_int_t)cons_ledger_height (l), "tip", s_hex (tip, 32), "blocks", s.list));
        s.list = NULL;
    }
    json_decref (s.list);
    free (s.sigs);
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return status;
}

static int
s_verify (const s_opts_t *o)
{
    wd_genesis_t *g;
    cons_ledger_t *l;
    int status = s_open (o, "ledger verify", &g, &l);
    if (status >= 0)
        return status;
    uint64_t bad = 0;
    char why[512] = "";
    int err = cons_ledger_verify_all (l, &bad, why, sizeof why);
    uint8_t tip[32];
    cons_ledger_tip (l, tip, NULL, NULL);
    if (o->json) {
        json_t *j = json_pack ("{s:b, s:I, s:o}", "ok", err == WD_OK, "height",
                               (json_int_t)cons_ledger_height (l), "tip", s_hex (tip, 32));
        if (err != WD_OK) {
            json_object_set_new (j, "bad_height", json_integer ((json_int_t)bad));
            json_object_set_new (j, "reason", json_string (cons_err_name (err)));
            json_object_set_new (j, "detail", json_string (why));
        }
        node_ctl_print_json (j);
    }
    if (err != WD_OK) {
        if (!o->json)
            fprintf (stderr, "wardenctl: ledger verify: block %" PRIu64 ": %s (%s)\n", bad,
                     cons_err_name (err), why);
        status = NODE_CTL_EXIT_NO;
    } else {
        if (!o->json) {
            char hex[65];
            printf ("ledger ok: %" PRIu64 " blocks, tip %s\n", cons_ledger_height (l),
                    wd_hex_encode (hex, tip, 32));
        }
        status = 0;
    }
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return status;
}

static int
s_export (const s_opts_t *o, const char *file)
{
    wd_genesis_t *g;
    cons_ledger_t *l;
    int status = s_open (o, "ledger export", &g, &l);
    if (status >= 0)
        return status;
    int err = cons_ledger_export (l, file);
    if (err != WD_OK)
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "ledger export: %s: %s", file,
                                cons_strerror (err));
    else {
        printf ("exported %" PRIu64 " blocks to %s\n", cons_ledger_height (l), file);
        status = 0;
    }
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return status;
}

/* Parses the shared options; returns -1 to go on or an exit status. */
static int
s_parse (int argc, char **argv, s_opts_t *o, const char *help)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "from", required_argument, NULL, 'f' },
        { "limit", required_argument, NULL, 'n' },
        { "genesis", required_argument, NULL, 'g' },
        { "db", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "jf:n:g:d:h", options, NULL)) != -1) {
        char *end;
        switch (opt) {
            case 'j':
                o->json = true;
                break;
            case 'f':
            case 'n':
                errno = 0;
                uint64_t v = strtoull (optarg, &end, 10);
                if (*optarg == '\0' || *end != '\0' || errno != 0 || optarg[0] == '-')
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE, "--%s: not a number: %s",
                                          opt == 'f' ? "from" : "limit", optarg);
                if (opt == 'f')
                    o->from = v;
                else
                    o->limit = v;
                break;
            case 'g':
                o->genesis = optarg;
                break;
            case 'd':
                o->db = optarg;
                break;
            case 'h':
                fputs (help, stdout);
                return 0;
            default:
                fputs (help, stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    return -1;
}

int
node_ctl_ledger (int argc, char **argv)
{
    s_opts_t o = { 0 };
    int status = s_parse (argc, argv, &o, s_ledger_help);
    if (status >= 0)
        return status;
    const char *action = optind < argc ? argv[optind] : "";
    int rest = argc - optind - 1;
    if (strcmp (action, "show") == 0 && rest == 0)
        return s_show (&o);
    if (strcmp (action, "verify") == 0 && rest == 0)
        return s_verify (&o);
    if (strcmp (action, "export") == 0 && rest == 1)
        return s_export (&o, argv[optind + 1]);
    fputs (s_ledger_help, stderr);
    return NODE_CTL_EXIT_USAGE;
}

int
node_ctl_reputation (int argc, char **argv)
{
    s_opts_t o = { 0 };
    int status = s_parse (argc, argv, &o, s_rep_help);
    if (status >= 0)
        return status;
    if (optind != argc) {
        fputs (s_rep_help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    wd_genesis_t *g;
    cons_ledger_t *l;
    status = s_open (&o, "reputation", &g, &l);
    if (status >= 0)
        return status;
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    uint64_t height = cons_ledger_height (l);
    uint64_t epoch = cons_reputation_epoch (rep, height + 1);
    /* weights of the next epoch as this table gives them */
    size_t n = cons_reputation_count (rep);
    cons_validator_t *w = calloc (n ? n : 1, sizeof *w);
    if (!w)
        abort ();
    size_t wn = cons_reputation_weights (rep, epoch, w);
    /* and the set deciding the next height, fixed earlier (--json only) */
    const cons_validator_t *set = NULL;
    size_t set_count = 0;
    if (cons_ledger_validators (l, height + 1, &set, &set_count) != WD_OK)
        set_count = 0;
    uint8_t hash[32];
    cons_reputation_hash (rep, hash);
    json_t *rows = json_array ();
    if (!o.json)
        printf ("%-16s  %-10s  %5s  %6s  %6s  %11s  %9s  %-10s  %s\n", "NODE", "TIER", "SCORE",
                "PASSED", "FAILED", "PRECOMMITS", "LAST SEEN", "QUARANTINE", "WEIGHT");
    for (size_t i = 0; i < n; i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        uint64_t weight = 0;
        for (size_t k = 0; k < wn; k++)
            if (memcmp (w[k].pk, e->id, 32) == 0)
                weight = w[k].weight;
        uint64_t deciding = 0;
        for (size_t k = 0; k < set_count; k++)
            if (memcmp (set[k].pk, e->id, 32) == 0)
                deciding = set[k].weight;
        bool q = cons_reputation_quarantined (e, epoch);
        uint32_t score = cons_reputation_score (e, epoch);
        if (o.json) {
            json_array_append_new (
                rows,
                json_pack (
                    "{s:o, s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I}",
                    "id", s_hex (e->id, 32), "name", e->name, "key_protection",
                    e->cert.key_protection, "tier_bp", (json_int_t)e->tier_bp, "score_bp",
                    (json_int_t)score, "passed", (json_int_t)e->passed, "failed",
                    (json_int_t)e->failed, "precommits_made", (json_int_t)e->precommits_made,
                    "precommits_possible", (json_int_t)e->precommits_possible, "last_seen",
                    (json_int_t)e->last_seen, "quarantined", q, "quarantine_until_epoch",
                    (json_int_t)e->quarantine_until, "weight", (json_int_t)weight, "slashes",
                    (json_int_t)e->slashes, "deciding_weight", (json_int_t)deciding));
        } else {
            char made[32], quarantine[24];
            snprintf (made, sizeof made, "%" PRIu64 "/%" PRIu64, e->precommits_made,
                      e->precommits_possible);
            if (q)
                snprintf (quarantine, sizeof quarantine, "to ep %" PRIu64, e->quarantine_until);
            else
                snprintf (quarantine, sizeof quarantine, "-");
            printf ("%-16s  %-10s  %5u  %6" PRIu64 "  %6" PRIu64 "  %11s  %9" PRIu64
                    "  %-10s  %" PRIu64 "\n",
                    e->name, e->cert.key_protection, score, e->passed, e->failed, made,
                    e->last_seen, quarantine, weight);
        }
    }
    if (o.json)
        node_ctl_print_json (json_pack ("{s:I, s:I, s:o, s:o}", "height", (json_int_t)height,
                                        "epoch", (json_int_t)epoch, "reputation_hash",
                                        s_hex (hash, 32), "nodes", rows));
    else {
        char hex[65];
        printf ("height %" PRIu64 ", next epoch %" PRIu64 ", reputation_hash %s\n", height, epoch,
                wd_hex_encode (hex, hash, 32));
        json_decref (rows);
    }
    free (w);
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return 0;
}
