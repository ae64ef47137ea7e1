/*
 * bench_ima_replay: parse and replay an IMA measurement list with attest_ima
 * against the replay lower bound, measured in the same run.
 *
 * The list has --entries ima-ng SHA-256 entries (100,000 by default; one in
 * a thousand a violation) with realistic path lengths, built in memory in
 * the kernel's binary and ASCII forms. Timed, best of --rounds:
 *
 *   bound     a bare loop over the template data at offsets found before
 *             timing: SHA-1 and SHA-256 of each entry's template data, the
 *             two hashes any replay of both PCR banks must compute
 *   sha1      the same loop with SHA-1 only (what a SHA-1-bank replay needs)
 *   floor     the bound plus the two PCR extends per entry (SHA-1 of 40
 *             bytes, SHA-256 of 64): all the hashing a two-bank replay does,
 *             so binary/floor is what parsing and checking add
 *   binary    attest_ima_parser_feed over the binary list in 64 KiB chunks:
 *             parse, check every template hash, extend both banks
 *   ascii     the same over the ASCII list (hex decoding, template data
 *             rebuilt from the fields)
 *
 * and prints each time, entries per second and the ratio to `bound`. Both
 * loops use libcrypto with one reused context, as the parser does.
 *
 * Answers are checked, never timings: both forms must replay all entries to
 * the same registers, equal to a plain recomputation from the entries made
 * before timing (exit 1 otherwise).
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
#include "attest_ima.h"

#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3
#define S_CHUNK       65536

typedef struct {
    uint8_t *bin;
    size_t bin_len;
    char *ascii;
    size_t ascii_len;
    size_t *data_off; /* template data of entry i in bin */
    uint32_t *data_len;
    size_t count;
    uint8_t sha1[20]; /* expected registers */
    uint8_t sha256[32];
} s_list_t;

static void
s_extend (attest_ima_hash_t alg, uint8_t *reg, const uint8_t *value)
{
    size_t n = attest_ima_hash_len (alg);
    uint8_t buf[64];
    memcpy (buf, reg, n);
    memcpy (buf + n, value, n);
    attest_ima_digest (alg, buf, 2 * n, reg);
}

/* Builds the list and the registers it must replay to. */
static void
s_build (s_list_t *l, size_t count)
{
    size_t bin_cap = count * 160, ascii_cap = count * 200;
    l->bin = bench_alloc (bin_cap);
    l->ascii = bench_alloc (ascii_cap);
    l->data_off = bench_alloc (count * sizeof *l->data_off);
    l->data_len = bench_alloc (count * sizeof *l->data_len);
    l->count = count;
    l->bin_len = l->ascii_len = 0;
    memset (l->sha1, 0, sizeof l->sha1);
    memset (l->sha256, 0, sizeof l->sha256);
    uint8_t data[256];
    static const uint8_t ff[32] = { 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
                                    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff };
    for (size_t i = 0; i < count; i++) {
        char name[96];
        int name_len = snprintf (name, sizeof name,
                                 "/usr/lib/x86_64-linux-gnu/pkg%05zu/lib%zu.so.1", i % 5000, i);
        uint8_t digest[32];
        uint32_t seed = (uint32_t)i;
        attest_ima_digest (ATTEST_IMA_SHA256, &seed, sizeof seed, digest);
        attest_ima_entry_t e;
        size_t dl = attest_ima_entry_make_ng (&e, data, sizeof data, 10, ATTEST_IMA_SHA256, digest,
                                              name, (size_t)name_len);
        if (dl == 0)
            exit (S_EXIT_INTERN);
        if (i % 1000 == 999) { /* a violation */
            e.violation = true;
            memset (e.template_hash, 0, sizeof e.template_hash);
        }
        size_t rec = attest_ima_entry_binary (&e, l->bin + l->bin_len, bin_cap - l->bin_len);
        size_t line =
            attest_ima_entry_ascii (&e, l->ascii + l->ascii_len, ascii_cap - l->ascii_len);
        if (l->bin_len + rec > bin_cap || l->ascii_len + line > ascii_cap)
            exit (S_EXIT_INTERN);
        l->data_off[i] = l->bin_len + rec - dl;
        l->data_len[i] = (uint32_t)dl;
        l->bin_len += rec;
        l->ascii_len += line;
        s_extend (ATTEST_IMA_SHA1, l->sha1, e.violation ? ff : e.sha1);
        s_extend (ATTEST_IMA_SHA256, l->sha256, e.violation ? ff : e.sha256);
    }
}

/* The lower bound: hash every entry's template data (and, for the floor,
   extend two registers with the results), nothing else. */
static double
s_run_bound (const s_list_t *l, bool with_sha256, bool extend, uint8_t *sink)
{
    EVP_MD_CTX *ctx = EVP_MD_CTX_new ();
    EVP_MD *sha1 = EVP_MD_fetch (NULL, "SHA1", NULL);
    EVP_MD *sha256 = EVP_MD_fetch (NULL, "SHA256", NULL);
    if (!ctx || !sha1 || !sha256)
        exit (S_EXIT_INTERN);
    uint8_t out[32], reg1[40] = { 0 }, reg256[64] = { 0 };
    unsigned out_len;
    double t0 = bench_now ();
    for (size_t i = 0; i < l->count; i++) {
        const uint8_t *d = l->bin + l->data_off[i];
        EVP_DigestInit_ex2 (ctx, sha1, NULL);
        EVP_DigestUpdate (ctx, d, l->data_len[i]);
        EVP_DigestFinal_ex (ctx, extend ? reg1 + 20 : out, &out_len);
        sink[0] ^= out[0];
        if (extend) {
            EVP_DigestInit_ex2 (ctx, sha1, NULL);
            EVP_DigestUpdate (ctx, reg1, 40);
            EVP_DigestFinal_ex (ctx, reg1, &out_len);
        }
        if (with_sha256) {
            EVP_DigestInit_ex2 (ctx, sha256, NULL);
            EVP_DigestUpdate (ctx, d, l->data_len[i]);
            EVP_DigestFinal_ex (ctx, extend ? reg256 + 32 : out, &out_len);
            sink[0] ^= out[0];
        }
        if (extend) {
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

/* attest_ima over one form; *st gets the final state. */
static double
s_run_parser (const void *list, size_t len, attest_ima_format_t format, attest_ima_state_t *st)
{
    attest_ima_state_t start;
    attest_ima_state_init (&start, format, 10, 0);
    double t0 = bench_now ();
    attest_ima_parser_t *p = attest_ima_parser_new (&start);
    if (!p)
        exit (S_EXIT_INTERN);
    const uint8_t *bytes = list;
    int rc = WD_OK;
    for (size_t off = 0; off < len && rc == WD_OK; off += S_CHUNK)
        rc = attest_ima_parser_feed (p, bytes + off, len - off < S_CHUNK ? len - off : S_CHUNK,
                                     NULL, NULL);
    if (rc == WD_OK)
        rc = attest_ima_parser_finish (p);
    double t = bench_now () - t0;
    if (rc != WD_OK) {
        fprintf (stderr, "bench_ima_replay: %s: %s\n", attest_err_name (rc),
                 attest_ima_parser_why (p));
        exit (S_EXIT_BAD);
    }
    *st = *attest_ima_parser_state (p);
    attest_ima_parser_destroy (&p);
    return t;
}

static bool
s_check (const s_list_t *l, const attest_ima_state_t *st, const char *what)
{
    if (st->entries == l->count && memcmp (st->sha1, l->sha1, 20) == 0 &&
        memcmp (st->sha256, l->sha256, 32) == 0)
        return true;
    fprintf (stderr, "bench_ima_replay: %s replay gives wrong registers or count\n", what);
    return false;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: bench_ima_replay [--entries N] [--rounds R]\n"
                  "  parse+replay of an IMA list against re-hashing its template data\n");
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
                if (*end || entries == 0 || entries > 10000000) {
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

    s_list_t list;
    s_build (&list, entries);
    printf ("list: %zu entries, binary %.1f MB, ascii %.1f MB\n", entries, list.bin_len / 1e6,
            list.ascii_len / 1e6);

    double best[5] = { 1e30, 1e30, 1e30, 1e30, 1e30 };
    uint8_t sink[1] = { 0 };
    bool ok = true;
    for (int r = 0; r < rounds; r++) {
        attest_ima_state_t st;
        double t = s_run_bound (&list, true, false, sink);
        best[0] = t < best[0] ? t : best[0];
        t = s_run_bound (&list, false, false, sink);
        best[1] = t < best[1] ? t : best[1];
        t = s_run_bound (&list, true, true, sink);
        best[4] = t < best[4] ? t : best[4];
        t = s_run_parser (list.bin, list.bin_len, ATTEST_IMA_BINARY, &st);
        best[2] = t < best[2] ? t : best[2];
        ok = s_check (&list, &st, "binary") && ok;
        t = s_run_parser (list.ascii, list.ascii_len, ATTEST_IMA_ASCII, &st);
        best[3] = t < best[3] ? t : best[3];
        ok = s_check (&list, &st, "ascii") && ok;
    }
    static const char *const names[] = { "bound (sha1+sha256 of data)", "sha1 of data only",
                                         "attest_ima binary", "attest_ima ascii",
                                         "floor (bound + extends)" };
    for (int i = 0; i < 5; i++)
        printf ("%-28s %8.1f ms  %9.0f entries/s  ratio %.2f\n", names[i], best[i] * 1e3,
                (double)entries / best[i], best[i] / best[0]);
    printf ("ratio binary/bound %.2f  ascii/bound %.2f  binary/floor %.2f  (best of %d, sink "
            "%02x)\n",
            best[2] / best[0], best[3] / best[0], best[2] / best[4], rounds, sink[0]);
    free (list.bin);
    free (list.ascii);
    free (list.data_off);
    free (list.data_len);
    return ok ? 0 : S_EXIT_BAD;
}
