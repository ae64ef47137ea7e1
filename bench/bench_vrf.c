/*
 * bench_vrf: ECVRF prove and verify (wd_vrf, RFC 9381 TAI) per second next
 * to Ed25519 crypto_sign_detached and crypto_sign_verify_detached over the
 * same inputs, measured in the same run, with the cost ratios. The goal set
 * for Warden: a VRF verify within 10x of an Ed25519 verify.
 *
 * Each operation runs for --seconds after a warm-up, --rounds times in turn
 * (so drift hits all four alike); the median round counts. Every answer is
 * checked: each proof and signature made during the run is verified, and
 * every verification must succeed, or the run fails (exit 1). Nothing
 * asserts on timing.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage.
 */
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "bench_support.h"
#include "wd_vrf.h"

#define S_INPUTS     64 /* distinct alphas / messages, used round-robin */
#define S_INPUT_LEN  32 /* a 32-byte digest, as Warden's sortition and signatures use */
#define S_ROUNDS_MAX 25
#define S_EXIT_BAD   1
#define S_EXIT_USAGE 2

typedef enum { S_VRF_PROVE, S_VRF_VERIFY, S_SIGN, S_SIGN_VERIFY, S_OPS } s_op_t;

static const char *const s_op_names[S_OPS] = { "vrf prove", "vrf verify", "ed25519 sign",
                                               "ed25519 verify" };

typedef struct {
    wd_vrf_key_t *vrf;
    uint8_t sign_pk[crypto_sign_PUBLICKEYBYTES];
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];
    uint8_t inputs[S_INPUTS][S_INPUT_LEN];
    uint8_t proofs[S_INPUTS][WD_VRF_PROOF_LEN];
    uint8_t sigs[S_INPUTS][crypto_sign_BYTES];
    unsigned long failures;
} s_bench_t;

/* One operation on input i; counts a failure when an answer is wrong. */
static void
s_run_once (s_bench_t *self, s_op_t op, size_t i)
{
    uint8_t pi[WD_VRF_PROOF_LEN], beta[WD_VRF_BETA_LEN], sig[crypto_sign_BYTES];
    switch (op) {
        case S_VRF_PROVE:
            if (wd_vrf_prove (self->vrf, self->inputs[i], S_INPUT_LEN, pi) != WD_OK ||
                memcmp (pi, self->proofs[i], sizeof pi) != 0)
                self->failures++;
            break;
        case S_VRF_VERIFY:
            if (wd_vrf_verify (wd_vrf_key_public (self->vrf), self->inputs[i], S_INPUT_LEN,
                               self->proofs[i], WD_VRF_PROOF_LEN, beta) != WD_OK)
                self->failures++;
            break;
        case S_SIGN:
            crypto_sign_detached (sig, NULL, self->inputs[i], S_INPUT_LEN, self->sign_sk);
            if (memcmp (sig, self->sigs[i], sizeof sig) != 0)
                self->failures++;
            break;
        case S_SIGN_VERIFY:
            if (crypto_sign_verify_detached (self->sigs[i], self->inputs[i], S_INPUT_LEN,
                                             self->sign_pk) != 0)
                self->failures++;
            break;
        case S_OPS:
            break;
    }
}

/* Operations per second of op over about `seconds`. */
static double
s_rate (s_bench_t *self, s_op_t op, double seconds)
{
    unsigned long count = 0;
    double start = bench_now (), elapsed;
    do {
        for (int batch = 0; batch < 16; batch++)
            s_run_once (self, op, count++ % S_INPUTS);
        elapsed = bench_now () - start;
    } while (elapsed < seconds);
    return (double)count / elapsed;
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: bench_vrf [--seconds S] [--warmup S] [--rounds N]\n"
                  "ECVRF-EDWARDS25519-SHA512-TAI prove/verify per second next to Ed25519\n"
                  "sign/verify in the same run. Defaults: --seconds 1 --warmup 0.2 --rounds 3.\n");
}

int
main (int argc, char **argv)
{
    double seconds = 1.0, warmup = 0.2;
    int rounds = 3;
    static const struct option options[] = {
        { "seconds", required_argument, NULL, 's' },
        { "warmup", required_argument, NULL, 'w' },
        { "rounds", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long (argc, argv, "", options, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
            case 's':
                seconds = strtod (optarg, &end);
                break;
            case 'w':
                warmup = strtod (optarg, &end);
                break;
            case 'r':
                rounds = (int)strtol (optarg, &end, 10);
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
        if (!end || *end || seconds <= 0 || warmup < 0 || rounds < 1 || rounds > S_ROUNDS_MAX) {
            const char *name = c == 's' ? "seconds" : c == 'w' ? "warmup" : "rounds";
            fprintf (stderr, "bench_vrf: bad value for --%s: %s\n", name, optarg);
            return S_EXIT_USAGE;
        }
    }
    if (optind != argc || sodium_init () < 0) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }

    static s_bench_t bench;
    s_bench_t *self = &bench;
    uint8_t seed[WD_VRF_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    self->vrf = wd_vrf_key_new (seed);
    crypto_sign_seed_keypair (self->sign_pk, self->sign_sk, seed);
    sodium_memzero (seed, sizeof seed);
    if (!self->vrf)
        return S_EXIT_BAD;
    for (size_t i = 0; i < S_INPUTS; i++) {
        randombytes_buf (self->inputs[i], S_INPUT_LEN);
        if (wd_vrf_prove (self->vrf, self->inputs[i], S_INPUT_LEN, self->proofs[i]) != WD_OK)
            self->failures++;
        crypto_sign_detached (self->sigs[i], NULL, self->inputs[i], S_INPUT_LEN, self->sign_sk);
    }

    double rates[S_OPS][S_ROUNDS_MAX], median[S_OPS];
    for (s_op_t op = 0; op < S_OPS; op++)
        if (warmup > 0)
            s_rate (self, op, warmup);
    for (int round = 0; round < rounds; round++)
        for (s_op_t op = 0; op < S_OPS; op++)
            rates[op][round] = s_rate (self, op, seconds);
    for (s_op_t op = 0; op < S_OPS; op++) {
        qsort (rates[op], (size_t)rounds, sizeof (double), s_compare_double);
        median[op] = rates[op][rounds / 2];
    }

    printf ("bench_vrf: %d round(s) of %.2f s per operation, %d-byte inputs, median round\n",
            rounds, seconds, S_INPUT_LEN);
    for (s_op_t op = 0; op < S_OPS; op++)
        printf ("  %-15s %10.0f /s  %8.1f us\n", s_op_names[op], median[op], 1e6 / median[op]);
    double verify_cost = median[S_SIGN_VERIFY] / median[S_VRF_VERIFY];
    double prove_cost = median[S_SIGN] / median[S_VRF_PROVE];
    printf ("  vrf verify costs %.2fx an Ed25519 verify (goal: at most 10x)\n", verify_cost);
    printf ("  vrf prove costs %.2fx an Ed25519 sign\n", prove_cost);
    printf ("bench_vrf prove_per_s=%.0f verify_per_s=%.0f sign_per_s=%.0f sign_verify_per_s=%.0f "
            "verify_cost_ratio=%.3f prove_cost_ratio=%.3f failures=%lu\n",
            median[S_VRF_PROVE], median[S_VRF_VERIFY], median[S_SIGN], median[S_SIGN_VERIFY],
            verify_cost, prove_cost, self->failures);
    wd_vrf_key_destroy (&self->vrf);
    sodium_memzero (self->sign_sk, sizeof self->sign_sk);
    if (self->failures) {
        fprintf (stderr, "bench_vrf: %lu wrong answers\n", self->failures);
        return S_EXIT_BAD;
    }
    return 0;
}
