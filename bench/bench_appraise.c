/*
 * bench_appraise: replay and appraise an IMA list against a runtime policy
 * with attest_appraise (issue 4 item 8), against the replay lower bound
 * measured in the same run.
 *
 * Built in memory before timing: a list of --entries ima-ng SHA-256
 * entries (100,000 by default) in binary and ASCII form, with a
 * boot_aggregate first, one entry in a thousand a violation and one in a
 * thousand (offset by 500) measuring a digest the policy does not allow;
 * and a Keylime runtime policy (JSON, compiled with attest_policy) that
 * lists one digest for each entry's path, --entries digests in all. Timed,
 * best of --rounds:
 *
 *   bound    a bare loop that re-hashes every entry's template data with
 *            SHA-1 and SHA-256 (what any two-bank replay must compute),
 *            at offsets found before timing
 *   floor    the bound plus the two PCR extends per entry (SHA-1 of 40
 *            bytes, SHA-256 of 64): all the hashing a replay does, so
 *            appraise/floor is what parsing, checking and appraising add
 *   replay   attest_ima alone over the binary list, no callback
 *   binary   attest_appraise_buffer over the binary list: parse, check,
 *            replay, appraise every entry, collect the failures
 *   ascii    the same over the ASCII list
 *
 * and prints each time, entries per second and the ratio to `bound` (the
 * goal: binary within 2x). `replay` against `bound` and `floor` is the
 * figure for attest_ima's parse-and-replay on its own.
 *
 * Answers are checked, never timings: both forms must replay every entry
 * to the registers recomputed while building, count each verdict as built,
 * and report exactly the entries made to fail (exit 1 otherwise).
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <getopt.h>
#include <openssl/evp.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_support.h"
#include "attest_appraise.h"
#include "wd_hash.h"

#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3

typedef struct {
    uint8_t *bin;
    size_t bin_len;
    char *ascii;
    size_t ascii_len;
    size_t *data_off; /* template data of entry i in bin */
    uint32_t *data_len;
    size_t count;
    char *policy_json;
    size_t policy_len;
    size_t violations, failing; /* as built */
    uint8_t sha1[20];           /* expected registers */
    uint8_t sha256[32];
} s_bench_t;

static void
s_extend (attest_ima_hash_t alg, uint8_t *reg, const uint8_t *value)
{
    size_t n = attest_ima_hash_len (alg);
    uint8_t buf[128];
    memcpy (buf, reg, n);
    memcpy (buf + n, value, n);
    attest_ima_digest (alg, buf, 2 * n, reg);
}

static bool
s_is_violation (size_t i)
{
    return i % 1000 == 999;
}

static bool
s_is_failing (size_t i)
{
    return i % 1000 == 500;
}

/* Builds the list, the policy JSON and the registers the list replays to. */
static void
s_build (s_bench_t *b, size_t count)
{
    size_t bin_cap = count * 160, ascii_cap = count * 200, json_cap = count * 160 + 1024;
    b->bin = bench_alloc (bin_cap);
    b->ascii = bench_alloc (ascii_cap);
    b->policy_json = bench_alloc (json_cap);
    b->data_off = bench_alloc (count * sizeof *b->data_off);
    b->data_len = bench_alloc (count * sizeof *b->data_len);
    b->count = count;
    b->bin_len = b->ascii_len = 0;
    b->violations = b->failing = 0;
    memset (b->sha1, 0, sizeof b->sha1);
    memset (b->sha256, 0, sizeof b->sha256);
    size_t jl = (size_t)snprintf (b->policy_json, json_cap,
                                  "{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 1, "
                                  "\"digests\": {");
    uint8_t data[256], ff[32];
    memset (ff, 0xff, sizeof ff);
    for (size_t i = 0; i < count; i++) {
        char name[96];
        int name_len =
            i == 0 ? snprintf (name, sizeof name, "boot_aggregate")
                   : snprintf (name, sizeof name, "/usr/lib/x86_64-linux-gnu/pkg%05zu/lib%zu.so.1",
                               i % 5000, i);
        uint8_t digest[32], allowed[32];
        uint32_t seed = (uint32_t)i;
        attest_ima_digest (ATTEST_IMA_SHA256, &seed, sizeof seed, allowed);
        memcpy (digest, allowed, 32);
        if (i > 0 && s_is_failing (i)) {
            digest[0] ^= 1;
            b->failing++;
        }
        attest_ima_entry_t e;
        size_t dl = attest_ima_entry_make_ng (&e, data, sizeof data, 10, ATTEST_IMA_SHA256, digest,
                                              name, (size_t)name_len);
        if (dl == 0)
            exit (S_EXIT_INTERN);
        if (i > 0 && s_is_violation (i)) {
            e.violation = true;
            memset (e.template_hash, 0, sizeof e.template_hash);
            b->violations++;
        }
        size_t rec = attest_ima_entry_binary (&e, b->bin + b->bin_len, bin_cap - b->bin_len);
        size_t line =
            attest_ima_entry_ascii (&e, b->ascii + b->ascii_len, ascii_cap - b->ascii_len);
        if (b->bin_len + rec > bin_cap || b->ascii_len + line > ascii_cap)
            exit (S_EXIT_INTERN);
        b->data_off[i] = b->bin_len + rec - dl;
        b->data_len[i] = (uint32_t)dl;
        b->bin_len += rec;
        b->ascii_len += line;
        s_extend (ATTEST_IMA_SHA1, b->sha1, e.violation ? ff : e.sha1);
        s_extend (ATTEST_IMA_SHA256, b->sha256, e.violation ? ff : e.sha256);
        /* the policy lists the allowed digest of every path, boot_aggregate
           included (Keylime's generator lists it too) */
        char hex[65];
        wd_hex_encode (hex, allowed, 32);
        jl += (size_t)snprintf (b->policy_json + jl, json_cap - jl, "%s\"%s\": [\"%s\"]",
                                i ? ", " : "", name, hex);
        if (jl >= json_cap)
            exit (S_EXIT_INTERN);
    }
    jl += (size_t)snprintf (b->policy_json + jl, json_cap - jl,
                            "}, \"excludes\": [\"/tmp/\"], \"keyrings\": {}, \"ima\": "
                            "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
                            "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"}");
    if (jl >= json_cap)
        exit (S_EXIT_INTERN);
    b->policy_len = jl;
}

/* The lower bound: SHA-1 and SHA-256 of every entry's template data;
   with extend, also the two register extends (the floor). */
static double
s_run_bound (const s_bench_t *b, bool extend, uint8_t *sink)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    EVP_MD *sha1 = EVP_MD_fetch (NULL, "SHA1", NULL);
    EVP_MD *sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
    if (!ctx || !sha1 || !sha256)
        exit (S_EXIT_INTERN);
    uint8_t out[32], reg1[40] = { 0 }, reg256[64] = { 0 };
    unsigned out_len;
    double t0 = bench_now ();
    for (size_t i = 0; i < b->count; i++) {
        const uint8_t *d = b->bin + b->data_off[i];
        EVP_DigestInit_ex2 (ctx, sha1, NULL);
        EVP_DigestUpdate (ctx, d, b->data_len[i]);
        EVP_DigestFinal_ex (ctx, extend ? reg1 + 20 : out, &out_len);
        sink[0] ^= out[0];
        EVP_DigestInit_ex2 (ctx, sha256, NULL);
        EVP_DigestUpdate (ctx, d, b->data_len[i]);
        EVP_DigestFinal_ex (ctx, extend ? reg256 + 32 : out, &out_len);
        sink[0] ^= out[0];
        if (extend) {
            EVP_DigestInit_ex2 (ctx, sha1, NULL);
            EVP_DigestUpdate (ctx, reg1, 40);
            EVP_DigestFinal_ex (ctx, reg1, &out_len);
            EVP_DigestInit_ex2 (ctx, sha256, NULL);
            EVP_DigestUpdate (ctx, reg256, 64);
            EVP_DigestFinal_ex (ctx, reg256, &out_len);
        }
    }
    double t = bench_now () - t0;
    sink[0] ^= reg1[0] ^ reg256[0];
    EVP_MD_free (sha1);
    EVP_MD_free (sha256);
    EVP_MD_CTX_free (ctx);
    return t;
}

/* attest_ima alone over the binary list. */
static double
s_run_replay (const s_bench_t *b, bool *ok)
{
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, 10, 0);
    double t0 = bench_now ();
    int rc = attest_ima_replay_buffer (b->bin, b->bin_len, &st, NULL, NULL, NULL, 0);
    double t = bench_now () - t0;
    if (rc != WD_OK || st.entries != b->count || memcmp (st.sha1, b->sha1, 20) != 0 ||
        memcmp (st.sha256, b->sha256, 32) != 0) {
        fprintf (stderr, "bench_appraise: replay gives %s or wrong registers\n",
                 attest_err_name (rc));
        *ok = false;
    }
    return t;
}

/* Checks one appraisal's answers against what was built. */
static bool
s_check (const s_bench_t *b, const attest_appraise_t *ap, const char *what)
{
    const attest_ima_state_t *st = attest_appraise_state (ap);
    const attest_appraise_counts_t *c = attest_appraise_counts (ap);
    const attest_policy_report_t *r = attest_appraise_report (ap);
    size_t appraised = b->count - 1 - b->violations;
    bool ok = st->entries == b->count && memcmp (st->sha1, b->sha1, 20) == 0 &&
              memcmp (st->sha256, b->sha256, 32) == 0 && c->entries == b->count &&
              c->violations == b->violations && c->boot_aggregate == 1 &&
              attest_policy_report_total (r) == appraised &&
              attest_policy_report_count (r, ATTEST_VERDICT_PASS) == appraised - b->failing &&
              attest_policy_report_failure_count (r) == b->failing &&
              attest_appraise_alg_matches (ap) && attest_appraise_passed (ap) == (b->failing == 0);
    for (size_t i = 0; ok && i < b->failing; i++) {
        const attest_policy_failure_t *f = attest_policy_report_failure (r, i);
        ok = f->index == 500 + 1000 * i && f->verdict == ATTEST_VERDICT_DIGEST_NOT_ALLOWED;
    }
    if (!ok)
        fprintf (stderr, "bench_appraise: %s appraisal gives wrong registers, counts or failures\n",
                 what);
    return ok;
}

static double
s_run_appraise (const s_bench_t *b, const attest_policy_t *policy, attest_ima_format_t format,
                bool *ok)
{
    const void *list = format == ATTEST_IMA_BINARY ? (const void *)b->bin : b->ascii;
    size_t len = format == ATTEST_IMA_BINARY ? b->bin_len : b->ascii_len;
    char why[256];
    double t0 = bench_now ();
    attest_appraise_t *ap = attest_appraise_new (policy, (int)format);
    if (!ap)
        exit (S_EXIT_INTERN);
    int rc = attest_appraise_buffer (ap, list, len, why, sizeof why);
    double t = bench_now () - t0;
    const char *what = format == ATTEST_IMA_BINARY ? "binary" : "ascii";
    if (rc != WD_OK) {
        fprintf (stderr, "bench_appraise: %s: %s: %s\n", what, attest_err_name (rc), why);
        *ok = false;
    } else if (!s_check (b, ap, what))
        *ok = false;
    attest_appraise_destroy (&ap);
    return t;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: bench_appraise [--entries N] [--rounds R]\n"
                  "  replay + appraisal of an IMA list against a policy with N digests,\n"
                  "  against re-hashing the list's template data\n");
}

int
main (int argc, char **argv)
{
    size_t entries = 100000;
    int rounds = 5;
    static const struct option options[] = { { "entries", required_argument, NULL, 'n' },
                                             { "rounds", required_argument, NULL, 'r' },
                                             { "help", no_argument, NULL, 'h' },
                                             { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "n:r:h", options, NULL)) != -1) {
        char *end;
        switch (c) {
            case 'n':
                entries = strtoul (optarg, &end, 10);
                if (*end || entries < 2 || entries > ATTEST_POLICY_DIGESTS_MAX) {
                    s_usage (stderr);
                    return S_EXIT_USAGE;
                }
                break;
            case 'r':
                rounds = (int)strtol (optarg, &end, 10);
                if (*end || rounds < 1 || rounds > 100) {
                    s_usage (stderr);
                    return S_EXIT_USAGE;
                }
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }

    s_bench_t b;
    s_build (&b, entries);
    attest_policy_t *policy = NULL;
    char why[256];
    double t0 = bench_now ();
    int rc =
        attest_policy_from_json (b.policy_json, b.policy_len, "bench", 0, &policy, why, sizeof why);
    double t_compile = bench_now () - t0;
    if (rc != WD_OK) {
        fprintf (stderr, "bench_appraise: policy: %s: %s\n", attest_err_name (rc), why);
        return S_EXIT_INTERN;
    }
    printf ("list: %zu entries (%zu violations, %zu failing), binary %.1f MB, ascii %.1f MB\n",
            entries, b.violations, b.failing, b.bin_len / 1e6, b.ascii_len / 1e6);
    printf ("policy: %zu digests, %.1f MB JSON, compiled in %.1f ms (not in the ratios)\n",
            attest_policy_digest_count (policy), b.policy_len / 1e6, t_compile * 1e3);

    double best[5] = { 1e30, 1e30, 1e30, 1e30, 1e30 };
    uint8_t sink[1] = { 0 };
    bool ok = true;
    for (int r = 0; r < rounds; r++) {
        double t = s_run_bound (&b, false, sink);
        best[0] = t < best[0] ? t : best[0];
        t = s_run_bound (&b, true, sink);
        best[4] = t < best[4] ? t : best[4];
        t = s_run_replay (&b, &ok);
        best[1] = t < best[1] ? t : best[1];
        t = s_run_appraise (&b, policy, ATTEST_IMA_BINARY, &ok);
        best[2] = t < best[2] ? t : best[2];
        t = s_run_appraise (&b, policy, ATTEST_IMA_ASCII, &ok);
        best[3] = t < best[3] ? t : best[3];
    }
    static const char *const names[] = { "bound (sha1+sha256 of data)", "replay only (binary)",
                                         "appraise binary", "appraise ascii",
                                         "floor (bound + extends)" };
    for (int i = 0; i < 5; i++)
        printf ("%-28s %8.1f ms  %9.0f entries/s  ratio %.2f\n", names[i], best[i] * 1e3,
                (double)entries / best[i], best[i] / best[0]);
    printf ("ratio appraise-binary/bound %.2f (goal <= 2)  ascii/bound %.2f  "
            "appraise/floor %.2f  appraise/replay %.2f  (best of %d, sink %02x)\n",
            best[2] / best[0], best[3] / best[0], best[2] / best[4], best[2] / best[1], rounds,
            sink[0]);
    attest_policy_destroy (&policy);
    free (b.bin);
    free (b.ascii);
    free (b.policy_json);
    free (b.data_off);
    free (b.data_len);
    return ok ? 0 : S_EXIT_BAD;
}
