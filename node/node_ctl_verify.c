/*
 * node_ctl_verify: `wardenctl attest node ID|NAME [--json]`, a node's
 * attestation status on the chain (issue 8 item 6; docs/OPERATIONS.md
 * "A node's attestation status").
 *
 * It reads the ledger directly (read-only, like `wardenctl ledger`), asks
 * cons_ledger_node_status for the latest decided evidence about the node
 * and lists the committee verdicts on that evidence found in the blocks
 * that may carry them (the deciding block and the few epochs before it).
 * Exit status: 0 when the node's tier is affirming or warning, 1 when it
 * is contraindicated or nothing is decided yet, 2 for an unknown node or
 * unreadable ledger.
 */
#include <getopt.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_block.h"
#include "cons_committee.h"
#include "cons_ledger.h"
#include "cons_reputation.h"
#include "node_ctl.h"
#include "wd_genesis.h"
#include "wd_hash.h"

static const char s_help[] =
    "usage: wardenctl [--state DIR] attest node ID|NAME [--json] [--genesis FILE] [--db FILE]\n\n"
    "prints a node's attestation status on the chain: the tier of its latest\n"
    "decided evidence (affirming, warning, contraindicated; none before any),\n"
    "whether the validators decided it after an escalation, the evidence id\n"
    "and time, the height of the block that decided it, the measurement log's\n"
    "SHA-256 register, and the verdicts on that evidence in the chain.\n"
    "ID is the node's id (64 hex digits) or its name: a genesis node or a node\n"
    "that joined through the ledger (also one that left). The ledger is read\n"
    "directly (read-only). Exits 0 for affirming or warning, 1 for\n"
    "contraindicated or none, 2 for an unknown node.\n";

typedef struct {
    const cons_reputation_t *rep; /* the member rows, for verifier names */
    const uint8_t *evidence;
    uint64_t last; /* stop after this height */
    size_t block_max;
    json_t *verdicts;
} s_scan_t;

static json_t *
s_hex (const uint8_t *bin, size_t len)
{
    char hex[2 * 64 + 1];
    return json_string (wd_hex_encode (hex, bin, len));
}

/* The certificate of node id in the ledger's member rows (genesis nodes
   and joined nodes, also those that left), or NULL. Borrowed from rep. */
static const wd_cert_t *
s_row_cert (const cons_reputation_t *rep, const uint8_t id[WD_PUBKEY_LEN])
{
    const cons_rep_entry_t *e = cons_reputation_find (rep, id);
    return e ? &e->cert : NULL;
}

static int
s_visit (void *ctx, uint64_t height, const uint8_t *block, size_t block_len, const uint8_t *cert,
         size_t cert_len)
{
    (void)cert;
    (void)cert_len;
    s_scan_t *scan = ctx;
    if (height > scan->last)
        return 1;
    cons_block_t b;
    if (cons_block_decode (block, block_len, scan->block_max, &b) != WD_OK)
        return 0;
    for (size_t i = 0; i < b.record_count; i++) {
        wd_envelope_t env;
        cons_committee_verdict_t cv;
        if (wd_envelope_decode (b.records[i].data, b.records[i].len, &env) != WD_OK ||
            strcmp (env.type, CONS_COMMITTEE_VERDICT_TYPE) != 0 ||
            cons_committee_verdict_decode (env.body, env.body_len, &cv) != WD_OK ||
            memcmp (cv.verdict.evidence, scan->evidence, ATTEST_EVIDENCE_ID_LEN) != 0)
            continue;
        const wd_cert_t *c = s_row_cert (scan->rep, env.from);
        json_t *reasons = json_array ();
        for (size_t k = 0; k < cv.verdict.first_count; k++)
            json_array_append_new (reasons, json_string (cv.verdict.first[k].reason));
        json_array_append_new (
            scan->verdicts,
            json_pack ("{s:o, s:s, s:s, s:b, s:I, s:I, s:I, s:s, s:o}", "verifier",
                       s_hex (env.from, WD_PUBKEY_LEN), "name", c ? c->name : "?", "tier",
                       attest_trust_name (cv.verdict.tier), "committee", cv.has_claim, "epoch",
                       (json_int_t)cv.epoch, "failures", (json_int_t)cv.verdict.failure_count,
                       "height", (json_int_t)height, "boot",
                       attest_trust_name (cv.verdict.claims[ATTEST_CLAIM_BOOT]), "reasons",
                       reasons));
    }
    cons_block_release (&b);
    return 0;
}

/* The node named by arg: 64 hex digits or a name, looked up in the
   ledger's member rows, so that nodes that joined through the ledger are
   found too (a name is unique among the rows: the join rules refuse a
   duplicate). Borrowed from rep. */
static const wd_cert_t *
s_find (const cons_reputation_t *rep, const char *arg)
{
    uint8_t id[WD_PUBKEY_LEN];
    if (strlen (arg) == 2 * WD_PUBKEY_LEN && wd_hex_decode (id, sizeof id, arg))
        return s_row_cert (rep, id);
    for (size_t i = 0; i < cons_reputation_count (rep); i++)
        if (strcmp (cons_reputation_entry (rep, i)->cert.name, arg) == 0)
            return &cons_reputation_entry (rep, i)->cert;
    return NULL;
}

int
node_ctl_attest_node (int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },
        { "genesis", required_argument, NULL, 'g' },
        { "db", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    bool json = false;
    const char *gfile = NULL, *dfile = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        switch (opt) {
            case 'j':
                json = true;
                break;
            case 'g':
                gfile = optarg;
                break;
            case 'd':
                dfile = optarg;
                break;
            case 'h':
                fputs (s_help, stdout);
                return 0;
            default:
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind != argc - 1) {
        fputs (s_help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    char gpath[4096], dpath[4096];
    if (gfile)
        snprintf (gpath, sizeof gpath, "%s", gfile);
    else if (node_ctl_state_path ("genesis", gpath, sizeof gpath) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest node: state path too long");
    if (dfile)
        snprintf (dpath, sizeof dpath, "%s", dfile);
    else if (node_ctl_state_path (CONS_LEDGER_FILE, dpath, sizeof dpath) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest node: state path too long");
    wd_genesis_t *g = NULL;
    int err = wd_genesis_load (gpath, &g);
    if (err != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest node: genesis %s: %s", gpath,
                              wd_strerror (err));
    char why[512] = "";
    cons_ledger_t *l = NULL;
    err = cons_ledger_open (dpath, g, CONS_LEDGER_READ_ONLY, &l, why, sizeof why);
    if (err != WD_OK) {
        wd_genesis_destroy (&g);
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest node: %s: %s (%s)", dpath,
                              cons_strerror (err), why);
    }
    const cons_reputation_t *rep = cons_ledger_reputation (l);
    const wd_cert_t *node = s_find (rep, argv[optind]);
    if (!node) {
        cons_ledger_destroy (&l);
        wd_genesis_destroy (&g);
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "attest node: no node '%s' in the genesis or the ledger's members",
                              argv[optind]);
    }
    cons_node_status_t st;
    err = cons_ledger_node_status (l, node->sign_pk, &st);
    if (err != WD_OK) {
        cons_ledger_destroy (&l);
        wd_genesis_destroy (&g);
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "attest node: %s: %s", argv[optind],
                              cons_strerror (err));
    }
    s_scan_t scan = { .rep = rep,
                      .evidence = st.evidence,
                      .last = st.height,
                      .block_max = (size_t)wd_genesis_param (g, "block_max_bytes"),
                      .verdicts = json_array () };
    if (st.tier != ATTEST_TRUST_NONE) {
        uint64_t back = (CONS_REP_CASE_EPOCHS + 1) * wd_genesis_param (g, "epoch_blocks");
        uint64_t from = st.height > back ? st.height - back : 1;
        (void)cons_ledger_iterate (l, from, s_visit, &scan);
    }
    json_t *digest = st.has_digest ? s_hex (st.digest, 32) : json_null ();
    json_t *evidence = st.tier != ATTEST_TRUST_NONE ? s_hex (st.evidence, 32) : json_null ();
    json_t *root = json_pack ("{s:o, s:s, s:s, s:b, s:o, s:I, s:I, s:o, s:I, s:o}", "node",
                              s_hex (node->sign_pk, WD_PUBKEY_LEN), "name", node->name, "tier",
                              attest_trust_name (st.tier), "escalated", st.escalated, "evidence",
                              evidence, "evidence_time", (json_int_t)st.evidence_time, "height",
                              (json_int_t)st.height, "digest", digest, "tip",
                              (json_int_t)cons_ledger_height (l), "verdicts", scan.verdicts);
    if (json)
        node_ctl_print_json (root);
    else {
        char hex[65];
        printf ("node        %s  %s\n", node->name, wd_hex_encode (hex, node->sign_pk, 32));
        printf ("tier        %s%s\n", attest_trust_name (st.tier),
                st.escalated ? " (decided by the validators)" : "");
        if (st.tier != ATTEST_TRUST_NONE) {
            printf ("evidence    %s  time %" PRIu64 "\n", wd_hex_encode (hex, st.evidence, 32),
                    st.evidence_time);
            printf ("decided at  height %" PRIu64 " (tip %" PRIu64 ")\n", st.height,
                    cons_ledger_height (l));
            if (st.has_digest)
                printf ("log sha256  %s\n", wd_hex_encode (hex, st.digest, 32));
            size_t n = json_array_size (scan.verdicts);
            printf ("verdicts    %zu\n", n);
            for (size_t i = 0; i < n; i++) {
                json_t *v = json_array_get (scan.verdicts, i);
                printf ("  %-16s %-16s %-10s failures %" PRIu64 "  height %" PRIu64 "\n",
                        json_string_value (json_object_get (v, "name")),
                        json_string_value (json_object_get (v, "tier")),
                        json_is_true (json_object_get (v, "committee")) ? "committee"
                                                                        : "escalation",
                        (uint64_t)json_integer_value (json_object_get (v, "failures")),
                        (uint64_t)json_integer_value (json_object_get (v, "height")));
            }
        }
        json_decref (root);
    }
    int status =
        st.tier == ATTEST_TRUST_AFFIRMING || st.tier == ATTEST_TRUST_WARNING ? 0 : NODE_CTL_EXIT_NO;
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    return status;
}
