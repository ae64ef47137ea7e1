/*
 * bench_policy: compiling and querying a large reference-value policy
 * (attest_policy), against baselines measured in the same run.
 *
 * It generates a Keylime runtime policy of N paths with one SHA-256 digest
 * each (default 100,000) and three excludes, as JSON in memory, and a list
 * of L measurements (default 100,000) of those paths in shuffled order.
 *
 *   compile    attest_policy_from_json: parse, validate, sort, index, encode
 *              and hash the body for the id
 *   parse      json_loadb and json_decref alone on the same text: what
 *              jansson costs before anything is checked, the floor for a
 *              loader built on it
 *   appraise   attest_policy_appraise for each measurement (excludes, path
 *              hash lookup, binary search in the path's digests)
 *   hash       a bare open-addressing table of entry indices over the
 *              (path pointer, digest) array (FNV-1a, linear probing, the
 *              same hash the policy uses): lookup, strcmp-like compare,
 *              memcmp of the digest, and nothing else (no excludes, no
 *              algorithm check)
 *   bsearch    bsearch over the (path, digest) pairs sorted by path
 *
 * The measurements carry their own copies of paths and digests, as a parsed
 * log would, so no lookup finds the table's bytes already cached because
 * the caller just read them.
 *
 * Each case runs --rounds times, and the best round counts (the least
 * disturbed by other work on the machine). Every answer is checked: every
 * measurement must pass in all three lookups, and a second list with one
 * digest byte flipped must fail in all three (DIGEST_NOT_ALLOWED for the
 * policy). A wrong answer exits 1; nothing asserts on timing.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <getopt.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_support.h"
#include "attest_policy.h"
#include "wd_rand.h"

#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3

typedef struct {
    char *path;
    size_t path_len;
    uint8_t digest[32];
} s_entry_t;

typedef struct {
    size_t digests;
    size_t lookups;
    unsigned rounds;
} s_options_t;

/* The same policy and list on every run. */
static wd_rand_t s_rng = { 0x9e3779b97f4a7c15ULL };

/* Paths look like a distribution's: a few hundred directories, file names
   of varying length. */
static void
s_make_entries (s_entry_t *entries, size_t n)
{
    static const char *const dirs[] = { "/usr/bin", "/usr/lib64", "/usr/libexec", "/usr/sbin",
                                        "/usr/lib/python3.12/site-packages" };
    for (size_t i = 0; i < n; i++) {
        char path[160];
        uint64_t r = wd_rand_next (&s_rng);
        int len = snprintf (path, sizeof path, "%s/pkg%03u/%.*s-%zu.so", dirs[r % 5],
                            (unsigned)((r >> 8) % 400), (int)(4 + (r >> 20) % 20),
                            "libcomponentfilenamepart", i);
        entries[i].path = strdup (path);
        entries[i].path_len = (size_t)len;
        for (size_t b = 0; b < 32; b += 8) {
            uint64_t v = wd_rand_next (&s_rng);
            memcpy (entries[i].digest + b, &v, 8);
        }
    }
}

static char *
s_make_json (const s_entry_t *entries, size_t n, size_t *len)
{
    char *out = NULL;
    FILE *f = open_memstream (&out, len);
    fputs ("{\"meta\": {\"version\": 1, \"generator\": 0}, \"release\": 0, \"digests\": {", f);
    for (size_t i = 0; i < n; i++) {
        fprintf (f, "%s\"%s\": [\"", i ? ", " : "", entries[i].path);
        for (size_t b = 0; b < 32; b++)
            fprintf (f, "%02x", entries[i].digest[b]);
        fputs ("\"]", f);
    }
    fputs ("}, \"excludes\": [\"/tmp/.*\", \"^/var/log/\", \"/proc/[0-9]+/\"], \"keyrings\": {}, "
           "\"ima\": {\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", \"dm_policy\": null}, "
           "\"ima-buf\": {}, \"verification-keys\": \"\"}",
           f);
    fclose (f);
    return out;
}

/* ---- the baselines ---------------------------------------------------------- */

typedef struct {
    uint32_t *slots; /* entry index + 1 */
    size_t mask;
    const s_entry_t *entries;
} s_table_t;

static uint64_t
s_fnv (const char *s, size_t len)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < len; i++) {
        h ^= (uint8_t)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

static void
s_table_build (s_table_t *t, const s_entry_t *entries, size_t n)
{
    size_t size = 16;
    while (size < 2 * n)
        size *= 2;
    t->slots = bench_alloc (size * sizeof (uint32_t));
    t->mask = size - 1;
    t->entries = entries;
    for (size_t i = 0; i < n; i++) {
        size_t slot = (size_t)s_fnv (entries[i].path, entries[i].path_len) & t->mask;
        while (t->slots[slot])
            slot = (slot + 1) & t->mask;
        t->slots[slot] = (uint32_t)i + 1;
    }
}

static bool
s_table_allows (const s_table_t *t, const char *path, const uint8_t *digest)
{
    size_t len = strlen (path);
    size_t slot = (size_t)s_fnv (path, len) & t->mask;
    for (uint32_t v; (v = t->slots[slot]) != 0; slot = (slot + 1) & t->mask) {
        const s_entry_t *e = &t->entries[v - 1];
        if (e->path_len == len && memcmp (e->path, path, len) == 0)
            return memcmp (e->digest, digest, 32) == 0;
    }
    return false;
}

static int
s_entry_order (const void *a, const void *b)
{
    return strcmp (((const s_entry_t *)a)->path, ((const s_entry_t *)b)->path);
}

static bool
s_bsearch_allows (const s_entry_t *sorted, size_t n, const char *path, const uint8_t *digest)
{
    s_entry_t key = { .path = (char *)path };
    const s_entry_t *e = bsearch (&key, sorted, n, sizeof key, s_entry_order);
    return e && memcmp (e->digest, digest, 32) == 0;
}

/* ---- the run ---------------------------------------------------------------- */

typedef struct {
    const s_options_t *opt;
    s_entry_t *entries;
    s_entry_t *sorted;
    attest_measurement_t *list; /* measurements that pass */
    attest_measurement_t *bad;  /* the same, one digest byte flipped */
    char **list_paths;
    uint8_t *list_digests;
    uint8_t *bad_digests;
    attest_policy_t *policy;
    s_table_t table;
    unsigned long wrong;
} s_bench_t;

static void
s_wrong (s_bench_t *self, const char *what, size_t i)
{
    if (self->wrong++ < 5)
        fprintf (stderr, "bench_policy: wrong answer: %s, entry %zu\n", what, i);
}

static double
s_run_appraise (s_bench_t *self, const attest_measurement_t *list, bool expect_pass)
{
    double start = bench_now ();
    for (size_t i = 0; i < self->opt->lookups; i++) {
        attest_verdict_t v = attest_policy_appraise (self->policy, &list[i], NULL);
        if (v != (expect_pass ? ATTEST_VERDICT_PASS : ATTEST_VERDICT_DIGEST_NOT_ALLOWED))
            s_wrong (self, "appraise", i);
    }
    return bench_now () - start;
}

static double
s_run_hash (s_bench_t *self, const attest_measurement_t *list, bool expect_pass)
{
    double start = bench_now ();
    for (size_t i = 0; i < self->opt->lookups; i++)
        if (s_table_allows (&self->table, list[i].path, list[i].digest) != expect_pass)
            s_wrong (self, "hash", i);
    return bench_now () - start;
}

static double
s_run_bsearch (s_bench_t *self, const attest_measurement_t *list, bool expect_pass)
{
    double start = bench_now ();
    for (size_t i = 0; i < self->opt->lookups; i++)
        if (s_bsearch_allows (self->sorted, self->opt->digests, list[i].path, list[i].digest) !=
            expect_pass)
            s_wrong (self, "bsearch", i);
    return bench_now () - start;
}

static int
s_bench (const s_options_t *opt)
{
    s_bench_t self = { .opt = opt };
    size_t n = opt->digests;
    self.entries = bench_alloc (n * sizeof (s_entry_t));
    s_make_entries (self.entries, n);
    size_t json_len;
    char *json = s_make_json (self.entries, n, &json_len);

    /* The measurement list: random entries (with repeats, like a log),
       with their own copies of paths and digests, laid out in list order as
       a parsed log would be: a lookup must not find the table's own bytes
       already in the cache because the caller just read them. */
    self.list = bench_alloc (opt->lookups * sizeof (attest_measurement_t));
    self.bad = bench_alloc (opt->lookups * sizeof (attest_measurement_t));
    self.list_paths = bench_alloc (opt->lookups * sizeof (char *));
    self.list_digests = bench_alloc (opt->lookups * 32);
    self.bad_digests = bench_alloc (opt->lookups * 32);
    for (size_t i = 0; i < opt->lookups; i++) {
        const s_entry_t *e = &self.entries[wd_rand_next (&s_rng) % n];
        self.list_paths[i] = strdup (e->path);
        memcpy (self.list_digests + 32 * i, e->digest, 32);
        self.list[i] = (attest_measurement_t){ .path = self.list_paths[i],
                                               .alg = "sha256",
                                               .digest = self.list_digests + 32 * i,
                                               .digest_len = 32 };
        memcpy (self.bad_digests + 32 * i, e->digest, 32);
        self.bad_digests[32 * i + wd_rand_next (&s_rng) % 32] ^= 0x01;
        self.bad[i] = self.list[i];
        self.bad[i].digest = self.bad_digests + 32 * i;
    }

    double best[5] = { 1e30, 1e30, 1e30, 1e30, 1e30 };
    char why[256];
    for (unsigned r = 0; r < opt->rounds; r++) {
        json_error_t jerr;
        double t = bench_now ();
        json_t *root = json_loadb (json, json_len, JSON_REJECT_DUPLICATES, &jerr);
        if (!root) {
            fprintf (stderr, "bench_policy: jansson: %s\n", jerr.text);
            return S_EXIT_INTERN;
        }
        json_decref (root);
        t = bench_now () - t;
        best[1] = t < best[1] ? t : best[1];

        attest_policy_destroy (&self.policy);
        t = bench_now ();
        int err =
            attest_policy_from_json (json, json_len, "bench", 1, &self.policy, why, sizeof why);
        t = bench_now () - t;
        if (err != WD_OK) {
            fprintf (stderr, "bench_policy: %s: %s\n", attest_err_name (err), why);
            return S_EXIT_INTERN;
        }
        best[0] = t < best[0] ? t : best[0];
    }
    if (attest_policy_digest_count (self.policy) != n ||
        attest_policy_path_count (self.policy) != n)
        s_wrong (&self, "digest count", 0);

    s_table_build (&self.table, self.entries, n);
    self.sorted = bench_alloc (n * sizeof (s_entry_t));
    memcpy (self.sorted, self.entries, n * sizeof (s_entry_t));
    qsort (self.sorted, n, sizeof (s_entry_t), s_entry_order);

    for (unsigned r = 0; r < opt->rounds; r++) {
        double t;
        t = s_run_appraise (&self, self.list, true);
        best[2] = t < best[2] ? t : best[2];
        t = s_run_hash (&self, self.list, true);
        best[3] = t < best[3] ? t : best[3];
        t = s_run_bsearch (&self, self.list, true);
        best[4] = t < best[4] ? t : best[4];
    }
    /* the failing list, once, for the answers only */
    s_run_appraise (&self, self.bad, false);
    s_run_hash (&self, self.bad, false);
    s_run_bsearch (&self, self.bad, false);

    double per = 1e9 / (double)opt->lookups;
    printf ("policy: %zu paths, %zu digests, %zu bytes of JSON, body id %02x%02x%02x%02x...\n", n,
            attest_policy_digest_count (self.policy), json_len, attest_policy_id (self.policy)[0],
            attest_policy_id (self.policy)[1], attest_policy_id (self.policy)[2],
            attest_policy_id (self.policy)[3]);
    printf ("%-28s %12s %10s\n", "case (best of rounds)", "total ms", "ratio");
    printf ("%-28s %12.2f %10.3f\n", "compile (from_json)", best[0] * 1e3, best[0] / best[1]);
    printf ("%-28s %12.2f %10.3f\n", "parse (jansson load + free)", best[1] * 1e3, 1.0);
    printf ("\n%-28s %12s %10s %10s\n", "lookups", "ns each", "vs hash", "vs bsearch");
    printf ("%-28s %12.1f %10.3f %10.3f\n", "appraise", best[2] * per, best[2] / best[3],
            best[2] / best[4]);
    printf ("%-28s %12.1f %10.3f %10.3f\n", "bare hash table", best[3] * per, 1.0,
            best[3] / best[4]);
    printf ("%-28s %12.1f %10.3f %10.3f\n", "bsearch", best[4] * per, best[4] / best[3], 1.0);
    printf ("wrong answers: %lu\n\n", self.wrong);
    printf ("bench_policy digests=%zu lookups=%zu compile_ms=%.2f parse_ms=%.2f "
            "ratio_compile=%.3f appraise_ns=%.1f hash_ns=%.1f bsearch_ns=%.1f ratio_hash=%.3f "
            "ratio_bsearch=%.3f wrong=%lu\n",
            n, opt->lookups, best[0] * 1e3, best[1] * 1e3, best[0] / best[1], best[2] * per,
            best[3] * per, best[4] * per, best[2] / best[3], best[2] / best[4], self.wrong);

    attest_policy_destroy (&self.policy);
    for (size_t i = 0; i < n; i++)
        free (self.entries[i].path);
    free (self.entries);
    free (self.sorted);
    free (self.table.slots);
    for (size_t i = 0; i < opt->lookups; i++)
        free (self.list_paths[i]);
    free (self.list_paths);
    free (self.list_digests);
    free (self.list);
    free (self.bad);
    free (self.bad_digests);
    free (json);
    return self.wrong ? S_EXIT_BAD : 0;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_policy [--digests N] [--lookups N] [--rounds N]\n"
             "\n"
             "Compiles a generated Keylime runtime policy of N paths (one SHA-256 digest\n"
             "each) and appraises a list of measurements, against jansson's parse alone\n"
             "and against a bare hash table and bsearch over the same pairs.\n"
             "\n"
             "  --digests N   policy size (default 100000, at most %d)\n"
             "  --lookups N   measurements appraised per round (default 100000)\n"
             "  --rounds N    rounds; the best counts (default 5)\n"
             "\n"
             "The last line is for scripts: bench_policy digests=... ratio_hash=...\n",
             ATTEST_POLICY_DIGESTS_MAX);
}

static bool
s_parse_count (const char *text, size_t min, size_t max, size_t *out)
{
    char *end;
    unsigned long long v = strtoull (text, &end, 10);
    if (*text == '\0' || *end != '\0' || text[0] == '-' || v < min || v > max)
        return false;
    *out = (size_t)v;
    return true;
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        { "digests", required_argument, NULL, 'd' },
        { "lookups", required_argument, NULL, 'l' },
        { "rounds", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    s_options_t opt = { .digests = 100000, .lookups = 100000, .rounds = 5 };
    size_t rounds = opt.rounds;
    int c;
    while ((c = getopt_long (argc, argv, "h", longopts, NULL)) != -1) {
        switch (c) {
            case 'd':
                if (!s_parse_count (optarg, 1, ATTEST_POLICY_DIGESTS_MAX, &opt.digests)) {
                    fprintf (stderr, "bench_policy: --digests wants 1..%d\n",
                             ATTEST_POLICY_DIGESTS_MAX);
                    return S_EXIT_USAGE;
                }
                break;
            case 'l':
                if (!s_parse_count (optarg, 1, 100000000, &opt.lookups)) {
                    fprintf (stderr, "bench_policy: --lookups wants 1..100000000\n");
                    return S_EXIT_USAGE;
                }
                break;
            case 'r':
                if (!s_parse_count (optarg, 1, 1000, &rounds)) {
                    fprintf (stderr, "bench_policy: --rounds wants 1..1000\n");
                    return S_EXIT_USAGE;
                }
                opt.rounds = (unsigned)rounds;
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
    return s_bench (&opt);
}
