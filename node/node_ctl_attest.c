/*
 * node_ctl_attest: `wardenctl attest appraise`, the offline face of
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
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "attest_appraise.h"
#include "node_ctl.h"
#include "wd_hash.h"

#define S_WHY_MAX 512

static const char s_help[] =
    "usage: wardenctl attest appraise --log FILE --policy FILE [--format ascii|binary] [--json]\n\n"
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

int
node_ctl_attest (int argc, char **argv)
{
    static const struct option options[] = {
        { "log", required_argument, NULL, 'l' },    { "policy", required_argument, NULL, 'p' },
        { "format", required_argument, NULL, 'f' }, { "json", no_argument, NULL, 'j' },
        { "help", no_argument, NULL, 'h' },         { NULL, 0, NULL, 0 },
    };
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
