/*
 * node_ctl_results: `wardenctl results list|get|bundle|verify`, the
 * read-only side of the PCR signer (issue 10). These commands open the
 * result log (<state>/results.db, or --log) read-only and never talk to
 * wardend: reading needs only read access to the log and the node
 * certificate, so a results-reader group (or the sshd ForceCommand account
 * of configs/sshd_warden_results.conf) can fetch bundles without any
 * control over the node, and `verify` re-checks the whole log from the file
 * alone, trusting nothing the daemon says; with --ledger it also checks the
 * log against the checkpoints a cluster's ledger anchors (an exported
 * ledger, verified from scratch first).
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule_ledger.h"
#include "capsule_merkle.h"
#include "capsule_verify.h"
#include "node_ctl.h"
#include "node_pcr.h"
#include "pcr_signer.h"
#include "pcr_signer_log.h"
#include "wd_cert.h"
#include "wd_envelope.h"
#include "wd_codec.h"
#include "wd_hash.h"

static const char *const s_help =
    "usage: wardenctl results list [--from N] [--limit N] [--json]\n"
    "       wardenctl results get INDEX [--json] [--output FILE]\n"
    "       wardenctl results bundle INDEX [--output FILE] [--digest-only]\n"
    "       wardenctl results verify [--ledger EXPORT [--genesis GENESIS]] [--json]\n"
    "       wardenctl results consistency OLD_SIZE [NEW_SIZE] [--json] [--output FILE]\n"
    "\n"
    "The PCR signer's result log, read-only (<state>/results.db, or --log PATH):\n"
    "  list     entries: index, time received, channel and sequence, name, sha256\n"
    "  get      one entry; --output writes its raw bytes to FILE ('-': standard output)\n"
    "  bundle   the entry's bundle for warden-verify (to FILE or standard output);\n"
    "           --digest-only leaves the raw bytes out\n"
    "  verify   re-check the whole log from scratch: rows, signatures, digests,\n"
    "           checkpoints and tree heads; exit 1 with the first problem; --ledger\n"
    "           also checks every checkpoint of this log anchored in EXPORT (from\n"
    "           `wardenctl ledger export`, verified first against GENESIS, default\n"
    "           <state>/genesis) against the log, and reports the newest anchor\n"
    "  consistency  the RFC 9162 proof that the signed checkpoint of NEW_SIZE entries\n"
    "           (default: the newest) extends the one of OLD_SIZE, checked against\n"
    "           both signed notes, for someone who kept an older checkpoint;\n"
    "           --output writes it as a proof file for warden-verify --consistency\n";

typedef struct {
    bool json;
    uint64_t from, limit;
    const char *output;
    const char *log;
    const char *ledger;
    const char *genesis;
    bool digest_only;
} s_opts_t;

static int
s_open (const s_opts_t *o, capsule_pcr_log_t **log)
{
    char path[PATH_MAX], why[256];
    if (o->log)
        snprintf (path, sizeof path, "%s", o->log);
    else if (node_ctl_state_path (NODE_PCR_DB, path, sizeof path) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "state path is too long");
    if (access (path, R_OK) != 0)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s", path, strerror (errno));
    if (capsule_pcr_log_open (path, true, NULL, log, why, sizeof why) != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s", why);
    return 0;
}

/* Reads and checks <state>/node.cert into buf; returns its length or -1
   after reporting. */
static ssize_t
s_cert (uint8_t *buf, size_t size, wd_cert_t *cert)
{
    char path[PATH_MAX];
    if (node_ctl_state_path ("node.cert", path, sizeof path) != 0) {
        node_ctl_fail (NODE_CTL_EXIT_USAGE, "state path is too long");
        return -1;
    }
    ssize_t len = node_ctl_read_small (path, buf, size);
    if (len < 0) {
        node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s", path, strerror (errno));
        return -1;
    }
    wd_err_t err = wd_cert_open (buf, (size_t)len, cert);
    if (err != WD_OK) {
        node_ctl_fail (NODE_CTL_EXIT_NO, "%s: %s", path, wd_strerror (err));
        return -1;
    }
    return len;
}

static json_t *
s_entry_json (const capsule_pcr_entry_t *e)
{
    char hex[WD_HASH_HEX_LEN + 1], when[32], id[WD_HASH_HEX_LEN + 1];
    uint8_t env_id[32];
    wd_envelope_id (env_id, e->envelope, e->envelope_len);
    capsule_pcr_time (when, e->received_ms);
    json_t *o = json_object ();
    json_object_set_new (o, "index", json_integer ((json_int_t)e->index));
    json_object_set_new (o, "received", json_string (when));
    json_object_set_new (o, "channel", json_string (e->channel));
    json_object_set_new (o, "seq", e->has_seq ? json_integer ((json_int_t)e->seq) : json_null ());
    json_object_set_new (o, "name", json_string (e->name));
    json_object_set_new (o, "sha256", json_string (wd_hex_encode (hex, e->sha256, 32)));
    json_object_set_new (o, "size", json_integer ((json_int_t)e->size));
    json_object_set_new (o, "parsed", json_boolean (e->parsed));
    json_object_set_new (o, "raw_kept", json_boolean (e->raw != NULL));
    json_object_set_new (o, "envelope_id", json_string (wd_hex_encode (id, env_id, 32)));
    return o;
}

typedef struct {
    bool json;
    json_t *array;
    const char *output;
    int status;
} s_list_t;

static void
s_list_one (void *arg, const capsule_pcr_entry_t *e)
{
    s_list_t *l = arg;
    if (l->json) {
        json_array_append_new (l->array, s_entry_json (e));
        return;
    }
    char hex[WD_HASH_HEX_LEN + 1], when[32], seq[24] = "-";
    capsule_pcr_time (when, e->received_ms);
    if (e->has_seq)
        snprintf (seq, sizeof seq, "%" PRIu64, e->seq);
    printf ("%-6" PRIu64 " %s  %-24s %-6s %-10" PRIu64 " %.16s  %s%s\n", e->index, when, e->channel,
            seq, e->size, wd_hex_encode (hex, e->sha256, 32), e->name,
            e->parsed ? "" : "  (not parsed)");
}

static void
s_get_one (void *arg, const capsule_pcr_entry_t *e)
{
    s_list_t *l = arg;
    if (l->output) {
        if (!e->raw) {
            l->status = node_ctl_fail (
                NODE_CTL_EXIT_NO, "entry %" PRIu64 ": raw bytes not kept (digest only)", e->index);
            return;
        }
        FILE *f = strcmp (l->output, "-") == 0 ? stdout : fopen (l->output, "wb");
        if (!f || fwrite (e->raw, 1, e->raw_len, f) != e->raw_len ||
            (f != stdout && fclose (f) != 0) || (f == stdout && fflush (f) != 0))
            l->status =
                node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: %s", l->output, strerror (errno));
        return;
    }
    json_t *o = s_entry_json (e);
    if (l->json) {
        node_ctl_print_json (o);
        return;
    }
    const char *key;
    json_t *v;
    json_object_foreach (o, key, v)
    {
        char *s = json_is_string (v) ? NULL : json_dumps (v, JSON_ENCODE_ANY);
        printf ("%-12s %s\n", key, s ? s : json_string_value (v));
        free (s);
    }
    json_decref (o);
}

static int
s_parse_index (const char *s, uint64_t *out)
{
    char *end;
    errno = 0;
    unsigned long long v = strtoull (s, &end, 10);
    if (errno || end == s || *end || s[0] == '-')
        return -1;
    *out = v;
    return 0;
}

/* `results consistency`: the proof, checked against both signed notes. */
/* Writes the proof file warden-verify --consistency reads
   (capsule_consistency_decode). */
static int
s_write_proof (const char *path, uint64_t old_size, uint64_t new_size, uint8_t (*proof)[32],
               size_t count)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "new_size");
    wd_writer_uint (w, new_size);
    wd_writer_key (w, "old_size");
    wd_writer_uint (w, old_size);
    wd_writer_key (w, "proof");
    wd_writer_array (w, count);
    for (size_t i = 0; i < count; i++)
        wd_writer_bin (w, proof[i], 32);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, CAPSULE_CONSISTENCY_TYPE);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t len;
    const uint8_t *buf = wd_writer_data (w, &len);
    FILE *f = strcmp (path, "-") == 0 ? stdout : fopen (path, "wb");
    int status = 0;
    if (!f || fwrite (buf, 1, len, f) != len || fflush (f) != 0 || (f != stdout && fclose (f) != 0))
        status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: %s", path, strerror (errno));
    wd_writer_destroy (&w);
    return status;
}

static int
s_consistency (capsule_pcr_log_t *log, const wd_cert_t *cert, uint64_t old_size, uint64_t new_size,
               bool json, const char *output)
{
    uint8_t proof[CAPSULE_MERKLE_PROOF_MAX][32];
    size_t count;
    char *old_note, *new_note, why[256];
    uint64_t got_new;
    int rc = capsule_pcr_log_consistency (log, old_size, new_size, proof, &count, &old_note,
                                          &new_note, &got_new, why, sizeof why);
    if (rc != WD_OK)
        return node_ctl_fail (NODE_CTL_EXIT_NO, "%s", why);
    capsule_checkpoint_t a, b;
    capsule_verify_t va = capsule_checkpoint_open (old_note, strlen (old_note), cert->sign_pk, &a);
    capsule_verify_t vb = capsule_checkpoint_open (new_note, strlen (new_note), cert->sign_pk, &b);
    int status = 0;
    if (va != CAPSULE_VERIFY_OK || vb != CAPSULE_VERIFY_OK)
        status = node_ctl_fail (NODE_CTL_EXIT_NO, "checkpoint: %s",
                                capsule_verify_strerror (va != CAPSULE_VERIFY_OK ? va : vb));
    else if (!capsule_merkle_consistency_verify (a.size, b.size, a.root, b.root,
                                                 (const capsule_merkle_hash_t *)proof, count))
        status = node_ctl_fail (NODE_CTL_EXIT_NO, "the signed checkpoints are not consistent");
    else if (output)
        status = s_write_proof (output, a.size, b.size, proof, count);
    else if (json) {
        char hex[WD_HASH_HEX_LEN + 1];
        json_t *j = json_object (), *arr = json_array ();
        for (size_t i = 0; i < count; i++)
            json_array_append_new (arr, json_string (wd_hex_encode (hex, proof[i], 32)));
        json_object_set_new (j, "old_size", json_integer ((json_int_t)a.size));
        json_object_set_new (j, "new_size", json_integer ((json_int_t)b.size));
        json_object_set_new (j, "old_checkpoint", json_string (old_note));
        json_object_set_new (j, "new_checkpoint", json_string (new_note));
        json_object_set_new (j, "proof", arr);
        node_ctl_print_json (j);
    } else {
        char hex[WD_HASH_HEX_LEN + 1];
        printf ("checkpoint of %" PRIu64 " entries extends the one of %" PRIu64
                " (RFC 9162 consistency proof, %zu hashes):\n",
                b.size, a.size, count);
        for (size_t i = 0; i < count; i++)
            printf ("  %s\n", wd_hex_encode (hex, proof[i], 32));
    }
    free (old_note);
    free (new_note);
    return status;
}

/* Reads a whole file (an exported ledger can be large). */
static uint8_t *
s_slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f)
        return NULL;
    size_t cap = 1 << 16, n = 0;
    uint8_t *buf = malloc (cap);
    while (buf) {
        if (n == cap) {
            uint8_t *nb = cap < (1u << 30) ? realloc (buf, cap * 2) : NULL;
            if (!nb) {
                free (buf);
                buf = NULL;
                errno = EFBIG;
                break;
            }
            buf = nb;
            cap *= 2;
        }
        size_t got = fread (buf + n, 1, cap - n, f);
        n += got;
        if (got == 0) {
            if (ferror (f)) {
                free (buf);
                buf = NULL;
                errno = EIO;
            }
            break;
        }
    }
    fclose (f);
    *len = n;
    return buf;
}

/* What `results verify --ledger` found. */
typedef struct {
    size_t anchors;
    uint64_t newest_size, newest_height;
    bool genesis_pinned;
    uint8_t chain[32];
} s_anchored_t;

/* Checks every anchor of this log in the export against the log (already
   verified): the same root at its size (CAPSULE_ERR_LOG_ANCHOR), and no
   anchor beyond the log's end (CAPSULE_ERR_LOG_ANCHOR_AHEAD). Returns
   WD_OK, such a code with why and *at, or -1 after reporting an input
   error (status in *status). */
static int
s_check_anchors (capsule_pcr_log_t *log, const wd_cert_t *cert, const s_opts_t *o, uint64_t entries,
                 s_anchored_t *out, uint64_t *at, char *why, size_t why_len, int *status)
{
    size_t len, glen = 0;
    uint8_t *buf = s_slurp (o->ledger, &len), *gbuf = NULL;
    if (!buf) {
        *status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s", o->ledger, strerror (errno));
        return -1;
    }
    const uint8_t *genesis = NULL;
    char gpath[PATH_MAX];
    if (o->genesis)
        snprintf (gpath, sizeof gpath, "%s", o->genesis);
    else if (node_ctl_state_path ("genesis", gpath, sizeof gpath) != 0 || access (gpath, R_OK))
        gpath[0] = '\0';
    if (gpath[0]) {
        gbuf = s_slurp (gpath, &glen);
        if (!gbuf) {
            *status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: %s", gpath, strerror (errno));
            free (buf);
            return -1;
        }
        genesis = gbuf;
        out->genesis_pinned = true;
    } else if (!capsule_ledger_export_genesis (buf, len, &genesis, &glen)) {
        *status = node_ctl_fail (NODE_CTL_EXIT_USAGE, "%s: not a ledger export", o->ledger);
        free (buf);
        return -1;
    }
    char origin[CAPSULE_ORIGIN_MAX + 1], detail[192];
    node_pcr_origin (origin, sizeof origin, cert->name, cert->sign_pk);
    capsule_anchor_t *anchors;
    size_t n;
    capsule_ledger_info_t info;
    capsule_ledger_verdict_t lv = capsule_ledger_anchors (
        buf, len, genesis, glen, cert->sign_pk, origin, &anchors, &n, &info, detail, sizeof detail);
    memcpy (out->chain, info.chain, 32);
    int rc = WD_OK;
    if (lv != CAPSULE_LEDGER_OK) {
        *status = node_ctl_fail (NODE_CTL_EXIT_NO, "%s: height %" PRIu64 ": %s: %s%s%s", o->ledger,
                                 info.bad_height, capsule_ledger_name (lv),
                                 capsule_ledger_strerror (lv), detail[0] ? ": " : "", detail);
        rc = -1;
    }
    out->anchors = n;
    for (size_t i = 0; rc == WD_OK && i < n; i++) {
        const capsule_anchor_t *a = &anchors[i];
        uint8_t root[32];
        *at = a->cp.size;
        if (a->cp.size > entries) {
            snprintf (why, why_len,
                      "the anchor at height %" PRIu64 " covers %" PRIu64 " entries, the log "
                      "holds %" PRIu64,
                      a->height, a->cp.size, entries);
            rc = CAPSULE_ERR_LOG_ANCHOR_AHEAD;
        } else if ((rc = capsule_pcr_log_head_at (log, a->cp.size, root, why, why_len)) != WD_OK)
            ;
        else if (sodium_memcmp (root, a->cp.root, 32) != 0) {
            snprintf (why, why_len,
                      "the anchor at height %" PRIu64 " holds another root for %" PRIu64 " entries",
                      a->height, a->cp.size);
            rc = CAPSULE_ERR_LOG_ANCHOR;
        } else if (a->cp.size > out->newest_size) {
            out->newest_size = a->cp.size;
            out->newest_height = a->height;
        }
    }
    free (anchors);
    free (buf);
    free (gbuf);
    return rc;
}

int
node_ctl_results (int argc, char **argv)
{
    static const struct option options[] = {
        { "json", no_argument, NULL, 'j' },         { "from", required_argument, NULL, 'f' },
        { "limit", required_argument, NULL, 'n' },  { "output", required_argument, NULL, 'o' },
        { "log", required_argument, NULL, 'l' },    { "digest-only", no_argument, NULL, 'd' },
        { "ledger", required_argument, NULL, 'L' }, { "genesis", required_argument, NULL, 'g' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
    s_opts_t o = { .limit = 100 };
    int opt;
    while ((opt = getopt_long (argc, argv, "jf:n:o:l:L:g:dh", options, NULL)) != -1) {
        switch (opt) {
            case 'L':
                o.ledger = optarg;
                break;
            case 'g':
                o.genesis = optarg;
                break;
            case 'j':
                o.json = true;
                break;
            case 'f':
                if (s_parse_index (optarg, &o.from) != 0)
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE, "--from: not a number");
                break;
            case 'n':
                if (s_parse_index (optarg, &o.limit) != 0)
                    return node_ctl_fail (NODE_CTL_EXIT_USAGE, "--limit: not a number");
                break;
            case 'o':
                o.output = optarg;
                break;
            case 'l':
                o.log = optarg;
                break;
            case 'd':
                o.digest_only = true;
                break;
            case 'h':
                fputs (s_help, stdout);
                return 0;
            default:
                fputs (s_help, stderr);
                return NODE_CTL_EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        fputs (s_help, stderr);
        return NODE_CTL_EXIT_USAGE;
    }
    const char *sub = argv[optind];
    bool needs_index = strcmp (sub, "get") == 0 || strcmp (sub, "bundle") == 0;
    bool consistency = strcmp (sub, "consistency") == 0;
    uint64_t index = 0, new_size = 0;
    if (needs_index && (optind + 2 != argc || s_parse_index (argv[optind + 1], &index) != 0))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "results %s needs one entry index", sub);
    if (consistency &&
        (optind + 2 > argc || optind + 3 < argc || s_parse_index (argv[optind + 1], &index) != 0 ||
         index == 0 || (optind + 3 == argc && s_parse_index (argv[optind + 2], &new_size) != 0)))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE,
                              "results consistency needs OLD_SIZE (above 0) [NEW_SIZE]");
    if (!needs_index && !consistency && optind + 1 != argc)
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "results %s takes no arguments", sub);
    if (strcmp (sub, "list") && !needs_index && !consistency && strcmp (sub, "verify"))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "results: unknown subcommand '%s'", sub);
    if ((o.ledger || o.genesis) && (strcmp (sub, "verify") != 0 || (o.genesis && !o.ledger)))
        return node_ctl_fail (NODE_CTL_EXIT_USAGE, "--ledger [--genesis] go with results verify");

    capsule_pcr_log_t *log;
    int status = s_open (&o, &log);
    if (status)
        return status;
    s_list_t l = { .json = o.json, .output = o.output };
    if (strcmp (sub, "list") == 0) {
        l.array = json_array ();
        int rc = capsule_pcr_log_list (log, o.from, o.limit, s_list_one, &l);
        if (rc != WD_OK)
            status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "list: %s", capsule_strerror (rc));
        else if (o.json)
            node_ctl_print_json (json_incref (l.array));
        json_decref (l.array);
    } else if (strcmp (sub, "get") == 0) {
        int rc = capsule_pcr_log_get (log, index, s_get_one, &l);
        status = rc == WD_OK
                     ? l.status
                     : node_ctl_fail (rc == CAPSULE_ERR_LOG_NO_ENTRY ? NODE_CTL_EXIT_NO
                                                                     : NODE_CTL_EXIT_INTERNAL,
                                      "entry %" PRIu64 ": %s", index, capsule_strerror (rc));
    } else {
        uint8_t cert_buf[WD_CERT_MAX_BYTES + 1];
        wd_cert_t cert;
        ssize_t cert_len = s_cert (cert_buf, sizeof cert_buf, &cert);
        if (cert_len < 0)
            status = NODE_CTL_EXIT_USAGE;
        else if (consistency)
            status = s_consistency (log, &cert, index, new_size, o.json, o.output);
        else if (strcmp (sub, "bundle") == 0) {
            uint8_t *bundle;
            size_t len;
            char why[256];
            int rc = capsule_pcr_log_bundle (log, index, !o.digest_only, cert_buf, (size_t)cert_len,
                                             &bundle, &len, why, sizeof why);
            if (rc != WD_OK)
                status = node_ctl_fail (NODE_CTL_EXIT_NO, "%s", why);
            else {
                FILE *f =
                    !o.output || strcmp (o.output, "-") == 0 ? stdout : fopen (o.output, "wb");
                if (!f || fwrite (bundle, 1, len, f) != len || fflush (f) != 0 ||
                    (f != stdout && fclose (f) != 0))
                    status = node_ctl_fail (NODE_CTL_EXIT_INTERNAL, "%s: %s",
                                            o.output ? o.output : "stdout", strerror (errno));
                free (bundle);
            }
        } else {
            capsule_pcr_verify_report_t rep;
            char why[256] = "";
            int rc = capsule_pcr_log_verify (log, cert.sign_pk, &rep, why, sizeof why);
            s_anchored_t an = { 0 };
            if (rc == WD_OK && o.ledger) {
                int in_status = 0;
                rc = s_check_anchors (log, &cert, &o, rep.entries, &an, &rep.bad_index, why,
                                      sizeof why, &in_status);
                if (rc < 0 && in_status) {
                    capsule_pcr_log_close (&log);
                    return in_status;
                }
            }
            char root[WD_HASH_HEX_LEN + 1];
            wd_hex_encode (root, rep.root, 32);
            if (o.json) {
                json_t *j = json_object ();
                json_object_set_new (j, "verified", json_boolean (rc == WD_OK));
                json_object_set_new (j, "code", json_string (capsule_err_name (rc)));
                json_object_set_new (j, "reason", json_string (rc == WD_OK ? "" : why));
                json_object_set_new (j, "entries", json_integer ((json_int_t)rep.entries));
                json_object_set_new (j, "checkpoints", json_integer ((json_int_t)rep.checkpoints));
                json_object_set_new (j, "root", json_string (root));
                if (rc != WD_OK)
                    json_object_set_new (j, "at", json_integer ((json_int_t)rep.bad_index));
                if (o.ledger) {
                    char chain[WD_HASH_HEX_LEN + 1];
                    json_t *lj = json_object ();
                    json_object_set_new (lj, "chain",
                                         json_string (wd_hex_encode (chain, an.chain, 32)));
                    json_object_set_new (lj, "genesis_pinned", json_boolean (an.genesis_pinned));
                    json_object_set_new (lj, "anchors", json_integer ((json_int_t)an.anchors));
                    json_object_set_new (lj, "anchored_size",
                                         json_integer ((json_int_t)an.newest_size));
                    json_object_set_new (lj, "anchor_height",
                                         an.newest_height
                                             ? json_integer ((json_int_t)an.newest_height)
                                             : json_null ());
                    json_object_set_new (j, "ledger", lj);
                }
                node_ctl_print_json (j);
            } else if (rc == WD_OK) {
                printf ("result log verified: %" PRIu64 " entries, %" PRIu64
                        " signed checkpoints, root %s\n",
                        rep.entries, rep.checkpoints, root);
                if (o.ledger && an.newest_height)
                    printf (
                        "ledger: %zu anchors of this log agree with it; the newest covers %" PRIu64
                        " of %" PRIu64 " entries (height %" PRIu64 ")%s\n",
                        an.anchors, an.newest_size, rep.entries, an.newest_height,
                        an.genesis_pinned ? "" : " [genesis from the export, not pinned]");
                else if (o.ledger)
                    printf ("ledger: no checkpoint of this log is anchored yet\n");
            } else
                printf ("result log FAILED %s: %s: %s\n", capsule_err_name (rc),
                        capsule_strerror (rc), why);
            status = rc == WD_OK ? 0 : NODE_CTL_EXIT_NO;
        }
    }
    capsule_pcr_log_close (&log);
    return status;
}
