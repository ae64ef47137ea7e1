/*
 * bench_evidence: the verifier's whole step on one evidence record —
 * attest_verdict_open_appraise: envelope and body decoding, the Ed25519
 * signature, freshness and continuity checks, replay of the log delta from
 * the saved registers and appraisal of every entry against a policy —
 * against the raw bound measured in the same run.
 *
 * Built before timing: Warden's own log (attest_log) of --entries ima-ng
 * entries (1,000 by default), one of which (entry entries/2) measures
 * content the policy does not allow; a Keylime runtime policy listing one
 * digest per path; and the node's evidence carrying the whole log as its
 * delta, sealed with a fresh key. Timed, best of --rounds, each round
 * repeating the step --reps times:
 *
 *   bound    what any verifier of this record must compute: SHA-256 of the
 *            signing rule's input and one Ed25519 verify, plus SHA-1 and
 *            SHA-256 of every entry's template data (found before timing)
 *   verify   attest_verdict_open_appraise on the envelope bytes
 *
 * and prints both, records per second and the ratio verify/bound.
 *
 * Answers are checked, never timings: the verdict must be contraindicated
 * with exactly the one failing entry, and the state after the delta must be
 * the log's (exit 1 otherwise).
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_log.h"
#include "attest_verdict.h"
#include "bench_support.h"
#include "wd_hash.h"

#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3
#define S_NOW         1767225600u

static uint8_t s_pk[32];

static bool
s_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    (void)ctx;
    if (memcmp (id, s_pk, 32) != 0)
        return false;
    memcpy (prot, "software", 9);
    return true;
}

static int
s_sign (void *sk, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, sk);
    return 0;
}

static uint32_t
s_le32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: bench_evidence [--entries N] [--rounds R] [--reps K]\n"
                  "  verify and appraise one evidence record with an N-entry delta\n"
                  "  (default 1000) against Ed25519 verify + re-hashing the delta\n");
}

int
main (int argc, char **argv)
{
    size_t entries = 1000, rounds = 5, reps = 50;
    static const struct option options[] = { { "entries", required_argument, NULL, 'n' },
                                             { "rounds", required_argument, NULL, 'r' },
                                             { "reps", required_argument, NULL, 'k' },
                                             { "help", no_argument, NULL, 'h' },
                                             { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        char *end = NULL;
        unsigned long long v = 0;
        if (c == 'n' || c == 'r' || c == 'k') {
            v = strtoull (optarg, &end, 10);
            if (!end || *end || v == 0 || v > 10000000) {
                s_usage (stderr);
                return S_EXIT_USAGE;
            }
        }
        if (c == 'n')
            entries = (size_t)v;
        else if (c == 'r')
            rounds = (size_t)v;
        else if (c == 'k')
            reps = (size_t)v;
        else if (c == 'h') {
            s_usage (stdout);
            return 0;
        } else {
            s_usage (stderr);
            return S_EXIT_USAGE;
        }
    }
    if (optind != argc || entries < 2) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    if (sodium_init () < 0)
        return S_EXIT_INTERN;

    /* The log, and a policy allowing every entry but the one in the middle. */
    size_t bad = entries / 2;
    attest_log_t *log = attest_log_new (ATTEST_IMA_PCR_DEFAULT);
    size_t json_cap = 256 + entries * 160;
    char *json = bench_alloc (json_cap);
    size_t jl = (size_t)snprintf (json, json_cap,
                                  "{\"meta\": {\"version\": 1, \"generator\": 0}, "
                                  "\"release\": 0, \"digests\": {");
    for (size_t i = 0; i < entries && log; i++) {
        char name[96], hex[65];
        snprintf (name, sizeof name, "/usr/lib/x86_64-linux-gnu/pkg%05zu/lib%zu.so.1", i / 10, i);
        uint8_t d[32];
        wd_hash_sha256 (d, name, strlen (name));
        wd_hex_encode (hex, d, 32);
        const char *content = i == bad ? "tampered" : name;
        if (attest_log_measure_buffer (log, name, content, strlen (content)) != WD_OK)
            return S_EXIT_INTERN;
        jl += (size_t)snprintf (json + jl, json_cap - jl, "%s\"%s\": [\"%s\"]", i ? ", " : "", name,
                                hex);
    }
    if (!log)
        return S_EXIT_INTERN;
    jl += (size_t)snprintf (json + jl, json_cap - jl,
                            "}, \"excludes\": [], \"keyrings\": {}, \"ima\": "
                            "{\"ignored_keyrings\": [], \"log_hash_alg\": \"sha1\", "
                            "\"dm_policy\": null}, \"ima-buf\": {}, \"verification-keys\": \"\"}");
    attest_policy_t *policy = NULL;
    char why[256];
    int rc = attest_policy_from_json (json, jl, "bench", S_NOW, &policy, why, sizeof why);
    if (rc != WD_OK) {
        fprintf (stderr, "bench_evidence: policy: %s: %s\n", attest_err_name (rc), why);
        return S_EXIT_INTERN;
    }
    free (json);

    /* The evidence, sealed. */
    uint8_t *sk = sodium_malloc (64);
    if (!sk)
        return S_EXIT_INTERN;
    crypto_sign_keypair (s_pk, sk);
    uint8_t chain[32], nonce[32];
    randombytes_buf (chain, sizeof chain);
    randombytes_buf (nonce, sizeof nonce);
    attest_evidence_t *ev = bench_alloc (sizeof *ev);
    attest_evidence_init (ev, s_pk, "software", "clear", S_NOW);
    memcpy (ev->nonce, nonce, 32);
    size_t rlen;
    const uint8_t *records = attest_log_binary (log, 0, &rlen);
    attest_evidence_set_log (ev, records, rlen, 0, 0, attest_log_state (log));
    uint8_t *env;
    size_t env_len;
    rc = attest_evidence_seal (ev, chain, s_sign, sk, &env, &env_len);
    if (rc != WD_OK)
        return S_EXIT_INTERN;
    wd_envelope_t parsed;
    if (wd_envelope_decode (env, env_len, &parsed) != WD_OK)
        return S_EXIT_INTERN;

    /* Template data offsets and template hashes, for the bound. */
    size_t *off = bench_alloc (entries * sizeof *off);
    size_t *hash_off = bench_alloc (entries * sizeof *hash_off);
    uint32_t *dlen = bench_alloc (entries * sizeof *dlen);
    size_t p = 0;
    for (size_t i = 0; i < entries; i++) {
        hash_off[i] = p + 4;
        p += 4 + 20;
        p += 4 + s_le32 (records + p);
        dlen[i] = s_le32 (records + p);
        off[i] = p + 4;
        p = off[i] + dlen[i];
    }
    if (p != rlen)
        return S_EXIT_INTERN;

    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_pk, 32);
    attest_evidence_expect_t x = { .chain = chain,
                                   .key_fn = s_key_fn,
                                   .subject = &subject,
                                   .nonce = nonce,
                                   .now = S_NOW,
                                   .max_age = 60,
                                   .max_skew = 60 };
    const attest_policy_t *list[] = { policy };

    double best_bound = 1e30, best_verify = 1e30;
    /* The bound's answers are checked too (every signature verifies, every
       SHA-1 is the listed template hash), which also keeps its work from
       being optimized away. */
    size_t bound_bad = 0;
    for (size_t r = 0; r < rounds; r++) {
        double t0 = bench_now ();
        for (size_t k = 0; k < reps; k++) {
            uint8_t digest[32], h1[20], h256[32];
            wd_envelope_digest (digest, parsed.type, parsed.chain, parsed.body, parsed.body_len);
            bound_bad += crypto_sign_verify_detached (parsed.sig, digest, 32, parsed.from) != 0;
            for (size_t i = 0; i < entries; i++) {
                attest_ima_digest (ATTEST_IMA_SHA1, records + off[i], dlen[i], h1);
                attest_ima_digest (ATTEST_IMA_SHA256, records + off[i], dlen[i], h256);
                bound_bad += memcmp (h1, records + hash_off[i], 20) != 0;
            }
        }
        double t1 = bench_now ();
        if (bound_bad) {
            fprintf (stderr, "bench_evidence: the bound computes wrong answers\n");
            return S_EXIT_BAD;
        }
        for (size_t k = 0; k < reps; k++) {
            attest_verdict_body_t v;
            attest_ima_state_t after;
            rc = attest_verdict_open_appraise (env, env_len, &x, list, 1, attest_policy_id (policy),
                                               &v, NULL, &after, why, sizeof why);
            const attest_ima_state_t *st = attest_log_state (log);
            if (rc != WD_OK || v.tier != ATTEST_TRUST_CONTRAINDICATED || v.failure_count != 1 ||
                v.first[0].index != bad || after.entries != entries ||
                memcmp (after.sha256, st->sha256, 32) != 0 ||
                memcmp (after.sha1, st->sha1, 20) != 0) {
                fprintf (stderr, "bench_evidence: wrong answer: %s %s\n", attest_err_name (rc),
                         why);
                return S_EXIT_BAD;
            }
        }
        double t2 = bench_now ();
        if (t1 - t0 < best_bound)
            best_bound = t1 - t0;
        if (t2 - t1 < best_verify)
            best_verify = t2 - t1;
    }
    best_bound /= (double)reps;
    best_verify /= (double)reps;
    printf ("evidence: %zu-entry delta, %.1f KB envelope\n", entries, (double)env_len / 1024);
    printf ("%-40s %8.3f ms  %8.0f records/s\n", "bound (Ed25519 verify + sha1+sha256)",
            best_bound * 1e3, 1 / best_bound);
    printf ("%-40s %8.3f ms  %8.0f records/s\n", "verify+appraise (open_appraise)",
            best_verify * 1e3, 1 / best_verify);
    printf ("ratio verify+appraise/bound %.2f\n", best_verify / best_bound);

    free (off);
    free (hash_off);
    free (dlen);
    free (env);
    free (ev);
    sodium_free (sk);
    attest_policy_destroy (&policy);
    attest_log_destroy (&log);
    return 0;
}
