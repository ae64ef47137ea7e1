/*
 * warden-verify: checks a PCR-result bundle, or an exported ledger
 * (`ledger`: capsule_ledger.h), offline (DESIGN.md §2; docs/PROTOCOL.md
 * "PCR result bundle", "Export file"; warden-verify(1)). It reads files, never
 * the network, links libsodium only, and its verdict depends on nothing but
 * its inputs: exit 0 with a summary, 1 with the exact failure, 2 for a usage
 * or input error, 3 for an internal error.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_ledger.h"
#include "capsule_verify.h"

#define S_FILE_MAX    (256u << 20) /* bundles and originals read at most */
#define S_TRUSTED_MAX 1024

static const char *const s_usage =
    "usage: warden-verify bundle FILE [--raw ORIGINAL] [--trusted-keys FILE] [--json]\n"
    "                            [--ledger EXPORT [--genesis GENESIS] [--consistency PROOF]]\n"
    "       warden-verify ledger FILE --genesis GENESIS [--json]\n"
    "\n"
    "Verifies a PCR-result bundle offline: the node certificate, the signed\n"
    "statement, the raw bytes (when the bundle holds them, and ORIGINAL when\n"
    "given), the signed checkpoint and the inclusion proof.\n"
    "  --raw ORIGINAL       also check that ORIGINAL is the file the statement is about\n"
    "  --trusted-keys FILE  accept only node keys listed in FILE (64 hex digits a line,\n"
    "                       '#' comments)\n"
    "  --ledger EXPORT      also check that the bundle's checkpoint is anchored in the\n"
    "                       exported ledger (`wardenctl ledger export`), which is verified\n"
    "                       first; --genesis pins the cluster (else the export's own is used)\n"
    "  --consistency PROOF  link the checkpoint to a later anchored one with the proof file\n"
    "                       of `wardenctl results consistency OLD NEW --output PROOF`\n"
    "  --json               print the verdict and summary as JSON\n"
    "ledger re-checks a `wardenctl ledger export` file from scratch against\n"
    "GENESIS (the cluster's genesis file): hash chain, records, certificates and\n"
    "every signature.\n"
    "Exit status: 0 verified, 1 not verified (the reason is printed), 2 usage or\n"
    "input error, 3 internal error.\n";

static int
s_read (const char *path, uint8_t **out, size_t *len)
{
    FILE *f = strcmp (path, "-") == 0 ? stdin : fopen (path, "rb");
    if (!f)
        return -1;
    size_t cap = 65536, n = 0;
    uint8_t *buf = malloc (cap);
    if (!buf)
        exit (3);
    for (;;) {
        if (n == cap) {
            if (cap >= S_FILE_MAX) {
                free (buf);
                if (f != stdin)
                    fclose (f);
                errno = EFBIG;
                return -1;
            }
            cap *= 2;
            uint8_t *nb = realloc (buf, cap);
            if (!nb)
                exit (3);
            buf = nb;
        }
        size_t got = fread (buf + n, 1, cap - n, f);
        n += got;
        if (got == 0)
            break;
    }
    int err = ferror (f);
    if (f != stdin)
        fclose (f);
    if (err) {
        free (buf);
        errno = EIO;
        return -1;
    }
    *out = buf;
    *len = n;
    return 0;
}

static int
s_load_trusted (const char *path, uint8_t (*keys)[32], size_t *count)
{
    uint8_t *text;
    size_t len;
    if (s_read (path, &text, &len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", path, strerror (errno));
        return 2;
    }
    *count = 0;
    size_t lineno = 0;
    for (size_t i = 0; i < len;) {
        size_t e = i;
        while (e < len && text[e] != '\n')
            e++;
        lineno++;
        size_t a = i, b = e;
        while (a < b && (text[a] == ' ' || text[a] == '\t'))
            a++;
        while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r'))
            b--;
        if (a < b && text[a] != '#') {
            size_t tok = a;
            while (tok < b && text[tok] != ' ' && text[tok] != '\t')
                tok++;
            size_t got;
            if (*count >= S_TRUSTED_MAX || tok - a != 64 ||
                sodium_hex2bin (keys[*count], 32, (const char *)text + a, 64, NULL, &got, NULL) !=
                    0 ||
                got != 32) {
                fprintf (stderr, "warden-verify: %s:%zu: not a 64-hex-digit key\n", path, lineno);
                free (text);
                return 2;
            }
            (*count)++;
        }
        i = e + 1;
    }
    free (text);
    if (*count == 0) {
        fprintf (stderr, "warden-verify: %s: no keys\n", path);
        return 2;
    }
    return 0;
}

static void
s_json_str (const char *s)
{
    putchar ('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            printf ("\\%c", *p);
        else if (*p < 0x20)
            printf ("\\u%04x", *p);
        else
            putchar (*p);
    }
    putchar ('"');
}

static void
s_json_field (const char *key, const char *value, bool comma);

static int
s_ledger (const char *path, const char *genesis_path, bool json)
{
    uint8_t *buf, *genesis;
    size_t len, genesis_len;
    if (s_read (path, &buf, &len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", path, strerror (errno));
        return 2;
    }
    if (s_read (genesis_path, &genesis, &genesis_len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", genesis_path, strerror (errno));
        free (buf);
        return 2;
    }
    capsule_ledger_info_t in;
    char detail[256], chain[65], tip[65];
    capsule_ledger_verdict_t v =
        capsule_ledger_verify (buf, len, genesis, genesis_len, &in, detail, sizeof detail);
    sodium_bin2hex (chain, sizeof chain, in.chain, 32);
    sodium_bin2hex (tip, sizeof tip, in.tip, 32);
    if (json) {
        printf ("{\n");
        s_json_field ("verdict", v == CAPSULE_LEDGER_OK ? "verified" : "failed", true);
        s_json_field ("code", capsule_ledger_name (v), true);
        s_json_field ("reason", capsule_ledger_strerror (v), true);
        s_json_field ("detail", detail, true);
        if (v == CAPSULE_LEDGER_OK)
            printf ("  \"bad_height\": null,\n");
        else
            printf ("  \"bad_height\": %llu,\n", (unsigned long long)in.bad_height);
        printf ("  \"blocks\": %llu,\n  \"records\": %llu,\n  \"weights_unchecked\": %llu,\n",
                (unsigned long long)in.blocks, (unsigned long long)in.records,
                (unsigned long long)in.weights_unchecked);
        s_json_field ("chain", chain, true);
        s_json_field ("tip", tip, false);
        printf ("}\n");
    } else if (v != CAPSULE_LEDGER_OK) {
        printf ("FAILED at height %llu: %s: %s%s%s\n", (unsigned long long)in.bad_height,
                capsule_ledger_name (v), capsule_ledger_strerror (v), detail[0] ? ": " : "",
                detail);
    } else {
        printf ("verified: %llu blocks, %llu records\n", (unsigned long long)in.blocks,
                (unsigned long long)in.records);
        printf ("  chain   %s\n  tip     %s\n", chain, tip);
        if (in.weights_unchecked)
            printf ("  note    %llu block(s) past the genesis validator set: their signatures\n"
                    "          were checked, their validator weights were not (run `wardenctl\n"
                    "          ledger verify` for the reputation replay)\n",
                    (unsigned long long)in.weights_unchecked);
    }
    free (buf);
    free (genesis);
    return v == CAPSULE_LEDGER_OK ? 0 : 1;
}

/* What the --ledger step found. */
typedef struct {
    bool asked;
    bool genesis_pinned;
    capsule_ledger_info_t info;
    capsule_anchor_report_t rep;
} s_anchor_t;

/* The --ledger step, after the bundle verified: the export verifies, and
   the bundle's checkpoint (or a later one it links to with the proof) is
   anchored in it. Returns the verdict; 2 (with a message) for input
   errors. */
static int
s_anchor (const capsule_bundle_info_t *in, const char *ledger_path, const char *genesis_path,
          const char *proof_path, s_anchor_t *out, capsule_verify_t *v, char *detail,
          size_t detail_len)
{
    uint8_t *buf = NULL, *gbuf = NULL, *pbuf = NULL;
    size_t len, glen = 0, plen;
    const uint8_t *genesis;
    int status = 2;
    if (s_read (ledger_path, &buf, &len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", ledger_path, strerror (errno));
        return 2;
    }
    if (genesis_path) {
        if (s_read (genesis_path, &gbuf, &glen) != 0) {
            fprintf (stderr, "warden-verify: %s: %s\n", genesis_path, strerror (errno));
            goto out;
        }
        genesis = gbuf;
        out->genesis_pinned = true;
    } else if (!capsule_ledger_export_genesis (buf, len, &genesis, &glen)) {
        fprintf (stderr, "warden-verify: %s: not a ledger export\n", ledger_path);
        goto out;
    }
    static uint8_t proof[64][32];
    size_t count = 0;
    uint64_t old_size = 0, new_size = 0;
    if (proof_path) {
        if (s_read (proof_path, &pbuf, &plen) != 0) {
            fprintf (stderr, "warden-verify: %s: %s\n", proof_path, strerror (errno));
            goto out;
        }
        if (!capsule_consistency_decode (pbuf, plen, &old_size, &new_size, proof, 64, &count)) {
            fprintf (stderr, "warden-verify: %s: not a consistency proof file\n", proof_path);
            goto out;
        }
    }
    uint8_t pk[32], root[32];
    size_t got;
    if (sodium_hex2bin (pk, 32, in->sign_pk, 64, NULL, &got, NULL) != 0 || got != 32 ||
        sodium_hex2bin (root, 32, in->root, 64, NULL, &got, NULL) != 0 || got != 32)
        abort (); /* the bundle check wrote both */
    capsule_anchor_t *anchors;
    size_t n;
    char inner[192];
    capsule_ledger_verdict_t lv = capsule_ledger_anchors (
        buf, len, genesis, glen, pk, in->origin, &anchors, &n, &out->info, inner, sizeof inner);
    status = 0;
    if (lv != CAPSULE_LEDGER_OK) {
        *v = CAPSULE_VERIFY_LEDGER_INVALID;
        snprintf (detail, detail_len, "height %llu: %s: %s%s%s",
                  (unsigned long long)out->info.bad_height, capsule_ledger_name (lv),
                  capsule_ledger_strerror (lv), inner[0] ? ": " : "", inner);
    } else if (proof_path && old_size != in->tree_size) {
        *v = CAPSULE_VERIFY_CONSISTENCY;
        snprintf (detail, detail_len, "the proof starts at %llu entries, the checkpoint has %llu",
                  (unsigned long long)old_size, (unsigned long long)in->tree_size);
    } else
        *v = capsule_anchor_check (anchors, n, in->tree_size, root, proof_path ? proof : NULL,
                                   count, new_size, &out->rep, detail, detail_len);
    free (anchors);
out:
    free (buf);
    free (gbuf);
    free (pbuf);
    return status;
}

static void
s_json_field (const char *key, const char *value, bool comma)
{
    printf ("  ");
    s_json_str (key);
    printf (": ");
    s_json_str (value);
    printf ("%s\n", comma ? "," : "");
}

static void
s_print_json (capsule_verify_t v, const char *detail, const capsule_bundle_info_t *in,
              const s_anchor_t *an)
{
    char num[32];
    printf ("{\n");
    s_json_field ("verdict", v == CAPSULE_VERIFY_OK ? "verified" : "failed", true);
    s_json_field ("code", capsule_verify_name (v), true);
    s_json_field ("reason", capsule_verify_strerror (v), true);
    s_json_field ("detail", detail, true);
    s_json_field ("name", in->name, true);
    s_json_field ("sha256", in->sha256, true);
    s_json_field ("node", in->node, true);
    s_json_field ("sign_pk", in->sign_pk, true);
    s_json_field ("key_protection", in->key_protection, true);
    s_json_field ("received", in->received, true);
    s_json_field ("channel", in->channel, true);
    if (in->has_seq)
        printf ("  \"seq\": %llu,\n", (unsigned long long)in->seq);
    else
        printf ("  \"seq\": null,\n");
    s_json_field ("instrument_type", in->instrument_type, true);
    s_json_field ("instrument_serial", in->instrument_serial, true);
    s_json_field ("experiment_name", in->experiment_name, true);
    printf ("  \"parsed\": %s,\n", in->parsed ? "true" : "false");
    snprintf (num, sizeof num, "%llu", (unsigned long long)in->index);
    printf ("  \"index\": %s,\n", num);
    printf ("  \"tree_size\": %llu,\n", (unsigned long long)in->tree_size);
    s_json_field ("root", in->root, true);
    s_json_field ("origin", in->origin, true);
    printf ("  \"raw_included\": %s,\n", in->raw_included ? "true" : "false");
    printf ("  \"original_checked\": %s,\n", in->original_checked ? "true" : "false");
    printf ("  \"key_pinned\": %s%s\n", in->key_pinned ? "true" : "false", an->asked ? "," : "");
    if (an->asked) {
        char chain[65];
        sodium_bin2hex (chain, sizeof chain, an->info.chain, 32);
        s_json_field ("ledger_chain", chain, true);
        printf ("  \"genesis_pinned\": %s,\n", an->genesis_pinned ? "true" : "false");
        printf ("  \"anchors\": %zu,\n", an->rep.anchors);
        if (an->rep.height)
            printf ("  \"anchor_height\": %llu,\n  \"anchored_size\": %llu,\n",
                    (unsigned long long)an->rep.height, (unsigned long long)an->rep.anchored_size);
        else
            printf ("  \"anchor_height\": null,\n  \"anchored_size\": null,\n");
        printf ("  \"anchor_exact\": %s\n", an->rep.exact ? "true" : "false");
    }
    printf ("}\n");
}

static void
s_print_text (capsule_verify_t v, const char *detail, const capsule_bundle_info_t *in,
              const s_anchor_t *an)
{
    if (v != CAPSULE_VERIFY_OK) {
        printf ("FAILED %s: %s%s%s\n", capsule_verify_name (v), capsule_verify_strerror (v),
                detail[0] ? ": " : "", detail);
        return;
    }
    printf ("verified: %s\n", in->name);
    printf ("  sha256        %s (%s)\n", in->sha256,
            in->original_checked ? "original file checked"
            : in->raw_included   ? "raw bytes in the bundle checked"
                                 : "digest only");
    printf ("  signed by     node %s, key %s (%s)%s\n", in->node, in->sign_pk, in->key_protection,
            in->key_pinned ? ", trusted" : ", NOT pinned: pass --trusted-keys");
    printf ("  received      %s on %s", in->received, in->channel);
    if (in->has_seq)
        printf (", sequence %llu", (unsigned long long)in->seq);
    if (in->parsed)
        printf ("\n  instrument    %s %s, experiment \"%s\"\n", in->instrument_type,
                in->instrument_serial, in->experiment_name);
    else
        printf ("\n  instrument    (file not parsed: signed as received)\n");
    printf ("  result log    entry %llu of %llu, root %s\n  checkpoint    %s\n",
            (unsigned long long)in->index, (unsigned long long)in->tree_size, in->root, in->origin);
    if (an->asked) {
        char chain[65];
        sodium_bin2hex (chain, sizeof chain, an->info.chain, 32);
        if (an->rep.exact)
            printf ("  ledger        checkpoint anchored at height %llu",
                    (unsigned long long)an->rep.height);
        else
            printf ("  ledger        extended by the checkpoint of %llu entries anchored at height "
                    "%llu (consistency proof checked)",
                    (unsigned long long)an->rep.anchored_size, (unsigned long long)an->rep.height);
        printf ("\n                chain %.16s..., %llu blocks verified, genesis %s\n", chain,
                (unsigned long long)an->info.blocks,
                an->genesis_pinned ? "pinned" : "from the export (NOT pinned: pass --genesis)");
    }
}

int
main (int argc, char **argv)
{
    static const struct option opts[] = {
        { "raw", required_argument, NULL, 'r' },
        { "trusted-keys", required_argument, NULL, 't' },
        { "json", no_argument, NULL, 'j' },
        { "genesis", required_argument, NULL, 'g' },
        { "ledger", required_argument, NULL, 'L' },
        { "consistency", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *raw_path = NULL, *trusted_path = NULL, *genesis_path = NULL;
    const char *ledger_path = NULL, *proof_path = NULL;
    bool json = false;
    int c;
    while ((c = getopt_long (argc, argv, "r:t:g:L:c:jh", opts, NULL)) != -1) {
        switch (c) {
            case 'L':
                ledger_path = optarg;
                break;
            case 'c':
                proof_path = optarg;
                break;
            case 'r':
                raw_path = optarg;
                break;
            case 't':
                trusted_path = optarg;
                break;
            case 'j':
                json = true;
                break;
            case 'g':
                genesis_path = optarg;
                break;
            case 'h':
                fputs (s_usage, stdout);
                return 0;
            default:
                fputs (s_usage, stderr);
                return 2;
        }
    }
    bool ledger = argc - optind == 2 && strcmp (argv[optind], "ledger") == 0;
    if (argc - optind != 2 || (!ledger && strcmp (argv[optind], "bundle") != 0) ||
        (ledger && (!genesis_path || raw_path || trusted_path || ledger_path || proof_path)) ||
        (!ledger && !ledger_path && (genesis_path || proof_path))) {
        fputs (s_usage, stderr);
        return 2;
    }
    if (sodium_init () < 0)
        return 3;
    if (ledger)
        return s_ledger (argv[optind + 1], genesis_path, json);
    const char *path = argv[optind + 1];
    uint8_t *bundle = NULL, *original = NULL;
    size_t bundle_len = 0, original_len = 0, ntrusted = 0;
    static uint8_t trusted[S_TRUSTED_MAX][32];
    if (s_read (path, &bundle, &bundle_len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", path, strerror (errno));
        return 2;
    }
    if (raw_path && s_read (raw_path, &original, &original_len) != 0) {
        fprintf (stderr, "warden-verify: %s: %s\n", raw_path, strerror (errno));
        free (bundle);
        return 2;
    }
    if (trusted_path) {
        int rc = s_load_trusted (trusted_path, trusted, &ntrusted);
        if (rc != 0) {
            free (bundle);
            free (original);
            return rc;
        }
    }
    capsule_bundle_info_t info;
    char detail[512];
    capsule_verify_t v =
        capsule_bundle_verify (bundle, bundle_len, raw_path ? original : NULL, original_len,
                               trusted_path ? (const uint8_t (*)[32])trusted : NULL, ntrusted,
                               &info, detail, sizeof detail);
    s_anchor_t an = { .asked = ledger_path != NULL };
    if (v == CAPSULE_VERIFY_OK && ledger_path &&
        s_anchor (&info, ledger_path, genesis_path, proof_path, &an, &v, detail, sizeof detail) !=
            0) {
        free (bundle);
        free (original);
        return 2;
    }
    if (json)
        s_print_json (v, detail, &info, &an);
    else
        s_print_text (v, detail, &info, &an);
    free (bundle);
    free (original);
    return v == CAPSULE_VERIFY_OK ? 0 : 1;
}
