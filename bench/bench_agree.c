/*
 * bench_agree: the agreement state machine (consensus/cons_agree) run by the
 * deterministic simulator (tests/sim/sim_world) on a clean network with N
 * honest validators, for N = 4, 16, 64 by default: heights decided per
 * second of CPU time, and agreement messages sent per decision next to
 * Tendermint's bound N + 2N(N-1) (a proposal plus two all-to-all voting
 * steps).
 *
 * Baseline, measured in the same run: raw libsodium Ed25519 signing and
 * verification. A height takes 2N+1 signatures (one proposal, N prevotes,
 * N precommits) and, when every node checks every message as real nodes do
 * (--signatures every, the default), N(2N+1) verifications, plus the
 * simulator's own check of every node's certificate. The run counts the
 * signatures and verifications it actually made; their cost at the raw
 * rates is the least the run can take, and the ratio of the measured time
 * to it (time/crypto) is what the state machine, the codec and the
 * simulator add.
 *
 * Every run's answers are checked, never its timings: every invariant of
 * the simulator holds, every node decides every height, and in round-robin
 * mode no decision takes more messages than the bound (exit 1 otherwise).
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_world.h"

#define S_SIZES_MAX 8

static double
s_cpu (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Seconds per raw Ed25519 signature and verification over 32-byte
   digests, each measured for about `seconds`. */
static void
s_baseline (double seconds, double *sign_s, double *verify_s)
{
    uint8_t pk[32], sk[64], digest[32] = { 0 }, sig[64];
    crypto_sign_keypair (pk, sk);
    uint64_t n = 0;
    double start = s_cpu (), now;
    do {
        for (int k = 0; k < 64; k++, n++) {
            digest[0] = (uint8_t)n;
            crypto_sign_detached (sig, NULL, digest, 32, sk);
        }
    } while ((now = s_cpu ()) - start < seconds);
    *sign_s = (now - start) / (double)n;
    n = 0;
    int bad = 0;
    start = s_cpu ();
    do {
        for (int k = 0; k < 64; k++, n++)
            bad += crypto_sign_verify_detached (sig, digest, 32, pk) != 0;
    } while ((now = s_cpu ()) - start < seconds);
    *verify_s = (now - start) / (double)n;
    if (bad) {
        fprintf (stderr, "bench_agree: a fresh signature did not verify\n");
        exit (1);
    }
}

static void
s_usage (FILE *out)
{
    fprintf (out, "usage: bench_agree [--sizes 4,16,64] [--heights H] [--mode rr|vrf]\n"
                  "                   [--signatures every|memo|trusted] [--baseline SECONDS]\n");
}

int
main (int argc, char **argv)
{
    static const struct option longopts[] = {
        { "sizes", required_argument, NULL, 's' },
        { "heights", required_argument, NULL, 'h' },
        { "mode", required_argument, NULL, 'm' },
        { "signatures", required_argument, NULL, 'g' },
        { "baseline", required_argument, NULL, 'b' },
        { "help", no_argument, NULL, 'H' },
        { NULL, 0, NULL, 0 },
    };
    unsigned sizes[S_SIZES_MAX] = { 4, 16, 64 }, nsizes = 3, heights = 10;
    int mode = 0;
    sim_sig_mode_t sigs = SIM_SIG_EVERY;
    double base_seconds = 0.3;
    static const char *const sig_names[] = { "trusted", "memo", "every" };
    int c;
    while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
            case 's': {
                nsizes = 0;
                const char *p = optarg;
                for (;;) {
                    char *end;
                    unsigned long v = strtoul (p, &end, 10);
                    if (end == p || v < 1 || v > 128 || nsizes == S_SIZES_MAX ||
                        (*end != ',' && *end != '\0'))
                        goto usage;
                    sizes[nsizes++] = (unsigned)v;
                    if (*end == '\0')
                        break;
                    p = end + 1;
                }
                break;
            }
            case 'h': {
                char *end;
                unsigned long v = strtoul (optarg, &end, 10);
                if (*end || v < 1 || v > 100000)
                    goto usage;
                heights = (unsigned)v;
                break;
            }
            case 'm':
                if (strcmp (optarg, "rr") == 0)
                    mode = 0;
                else if (strcmp (optarg, "vrf") == 0)
                    mode = 1;
                else
                    goto usage;
                break;
            case 'g':
                for (sigs = 0; sigs < 3 && strcmp (optarg, sig_names[sigs]) != 0; sigs++)
                    ;
                if (sigs == 3)
                    goto usage;
                break;
            case 'b': {
                char *end;
                base_seconds = strtod (optarg, &end);
                if (*end || base_seconds <= 0 || base_seconds > 60)
                    goto usage;
                break;
            }
            case 'H':
                s_usage (stdout);
                return 0;
            default:
                goto usage;
        }
    }
    if (optind != argc)
        goto usage;
    if (sodium_init () < 0)
        return 3;

    double t_sign, t_verify;
    s_baseline (base_seconds, &t_sign, &t_verify);
    printf ("bench_agree: %s proposer, clean network, honest validators, signatures: %s\n",
            mode ? "VRF" : "round-robin", sig_names[sigs]);
    printf ("baseline (raw libsodium, this run): sign %.1f us, verify %.1f us\n", t_sign * 1e6,
            t_verify * 1e6);
    printf ("%4s %8s %10s %14s %8s %9s %8s %10s %12s %12s\n", "N", "heights", "heights/s",
            "msgs/decision", "bound", "msgs/bnd", "signs/h", "verifies/h", "crypto ms/h",
            "time/crypto");
    char summary[1024];
    int used = snprintf (summary, sizeof summary, "agree mode=%s signatures=%s",
                         mode ? "vrf" : "rr", sig_names[sigs]);
    int failed = 0;
    for (unsigned i = 0; i < nsizes; i++) {
        unsigned n = sizes[i];
        sim_options_t opt = { .seed = n,
                              .heights = heights,
                              .min_validators = n,
                              .max_validators = n,
                              .mode = mode,
                              .signatures = sigs,
                              .clean = true };
        sim_stats_t st;
        char why[512];
        double start = s_cpu ();
        int rc = sim_run (&opt, &st, why, sizeof why);
        double elapsed = s_cpu () - start;
        double per_decision = (double)st.decided_messages / heights;
        double bound = n + 2.0 * n * (n - 1);
        double signs = (double)st.signatures / heights;
        double verifies = (double)st.verifications / heights;
        double crypto = signs * t_sign + verifies * t_verify;
        double per_height = elapsed / heights;
        printf ("%4u %8" PRIu64 " %10.1f %14.1f %8.0f %9.3f %8.1f %10.1f %12.2f %12.2f\n", n,
                st.heights, heights / elapsed, per_decision, bound, per_decision / bound, signs,
                verifies, crypto * 1e3, per_height / crypto);
        if (rc != 0) {
            printf ("  WRONG: %s\n", why);
            failed = 1;
        } else if (st.heights < heights) {
            printf ("  WRONG: only %" PRIu64 " heights decided\n", st.heights);
            failed = 1;
        } else if (mode == 0 && per_decision > bound) {
            printf ("  WRONG: more messages per decision than the bound\n");
            failed = 1;
        }
        if (used < (int)sizeof summary)
            used +=
                snprintf (summary + used, sizeof summary - (size_t)used,
                          " n%u_heights_per_s=%.1f n%u_msgs_per_decision=%.1f n%u_bound=%.0f"
                          " n%u_time_over_crypto=%.2f",
                          n, heights / elapsed, n, per_decision, n, bound, n, per_height / crypto);
    }
    printf ("%s\n", summary);
    return failed;

usage:
    s_usage (stderr);
    return 2;
}
