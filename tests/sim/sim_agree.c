/*
 * sim_agree: runs the deterministic simulation of the agreement
 * (sim_world.h) over a range of seeds, and stops at the first seed that
 * breaks an invariant, printing the seed and the command that replays it
 * exactly.
 *
 *   sim_agree --seeds 2000 --heights 50          the CI run (ctest sim.*)
 *   sim_agree --seed 1234 --heights 50 --trace   replay one seed, with events
 *   sim_agree --first 100000 --seeds 1000000     a soak run
 *   sim_agree_broken --expect-violation ...      the broken variant must fail
 *
 * Exit codes: 0 every seed passed (with --expect-violation: a violation was
 * found), 1 a violation (with --expect-violation: none was found), 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "sim_world.h"

static const char *const s_sig_names[] = { "", " --signatures memo", " --signatures every" };

static void
s_usage (FILE *out, const char *prog)
{
    fprintf (out,
             "usage: %s [options]\n"
             "  --seeds N            run N seeds (default 100)\n"
             "  --first S            first seed (default 0)\n"
             "  --seed S             run only seed S (same as --first S --seeds 1)\n"
             "  --heights H          heights every honest node must decide (default 50)\n"
             "  --validators MIN-MAX validator count range (default 4-10)\n"
             "  --mode any|rr|vrf|sortition  proposer selection (default any: drawn per\n"
             "                       seed; sortition: VRF mode with real RFC 9381 keys\n"
             "                       and cons_sortition claims)\n"
             "  --no-faults          no network faults, partitions or crashes\n"
             "  --no-byzantine       no byzantine validators\n"
             "  --signatures MODE    trusted (default), memo or every: see sim_world.h\n"
             "  --expect-violation   succeed only if some seed breaks an invariant\n"
             "  --keep-going         run every seed even after a violation, and count them\n"
             "  --trace              print every event of every run to stderr\n"
             "  --quiet              print only failures and the summary\n"
             "  --help\n",
             prog);
}

static bool
s_parse_u64 (const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull (s, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

static double
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int
main (int argc, char **argv)
{
    enum {
        O_SEEDS = 1,
        O_FIRST,
        O_SEED,
        O_HEIGHTS,
        O_VALIDATORS,
        O_MODE,
        O_NO_FAULTS,
        O_NO_BYZ,
        O_SIGNATURES,
        O_EXPECT,
        O_KEEP_GOING,
        O_TRACE,
        O_QUIET,
        O_HELP
    };
    static const struct option longopts[] = {
        { "seeds", required_argument, NULL, O_SEEDS },
        { "first", required_argument, NULL, O_FIRST },
        { "seed", required_argument, NULL, O_SEED },
        { "heights", required_argument, NULL, O_HEIGHTS },
        { "validators", required_argument, NULL, O_VALIDATORS },
        { "mode", required_argument, NULL, O_MODE },
        { "no-faults", no_argument, NULL, O_NO_FAULTS },
        { "no-byzantine", no_argument, NULL, O_NO_BYZ },
        { "signatures", required_argument, NULL, O_SIGNATURES },
        { "expect-violation", no_argument, NULL, O_EXPECT },
        { "keep-going", no_argument, NULL, O_KEEP_GOING },
        { "trace", no_argument, NULL, O_TRACE },
        { "quiet", no_argument, NULL, O_QUIET },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    sim_options_t opt = { .heights = 50,
                          .min_validators = 4,
                          .max_validators = 10,
                          .faults = true,
                          .byzantine = true,
                          .mode = -1 };
    uint64_t seeds = 100, first = 0, v;
    bool expect = false, quiet = false, keep_going = false;
    uint64_t violations = 0;
    int c;
    while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
            case O_SEEDS:
                if (!s_parse_u64 (optarg, &seeds) || seeds == 0)
                    goto usage;
                break;
            case O_FIRST:
                if (!s_parse_u64 (optarg, &first))
                    goto usage;
                break;
            case O_SEED:
                if (!s_parse_u64 (optarg, &first))
                    goto usage;
                seeds = 1;
                break;
            case O_HEIGHTS:
                if (!s_parse_u64 (optarg, &v) || v == 0 || v > 100000)
                    goto usage;
                opt.heights = (unsigned)v;
                break;
            case O_VALIDATORS: {
                unsigned lo, hi;
                char tail;
                if (sscanf (optarg, "%u-%u%c", &lo, &hi, &tail) != 2 || lo < 1 || hi < lo ||
                    hi > 128)
                    goto usage;
                opt.min_validators = lo;
                opt.max_validators = hi;
                break;
            }
            case O_MODE:
                if (strcmp (optarg, "any") == 0)
                    opt.mode = -1;
                else if (strcmp (optarg, "rr") == 0)
                    opt.mode = 0;
                else if (strcmp (optarg, "vrf") == 0)
                    opt.mode = 1;
                else if (strcmp (optarg, "sortition") == 0) {
                    opt.mode = 1;
                    opt.sortition = true;
                } else
                    goto usage;
                break;
            case O_NO_FAULTS:
                opt.faults = false;
                break;
            case O_NO_BYZ:
                opt.byzantine = false;
                break;
            case O_SIGNATURES:
                if (strcmp (optarg, "trusted") == 0)
                    opt.signatures = SIM_SIG_TRUSTED;
                else if (strcmp (optarg, "memo") == 0)
                    opt.signatures = SIM_SIG_MEMO;
                else if (strcmp (optarg, "every") == 0)
                    opt.signatures = SIM_SIG_EVERY;
                else
                    goto usage;
                break;
            case O_EXPECT:
                expect = true;
                break;
            case O_KEEP_GOING:
                keep_going = true;
                break;
            case O_TRACE:
                opt.trace = true;
                break;
            case O_QUIET:
                quiet = true;
                break;
            case O_HELP:
                s_usage (stdout, argv[0]);
                return 0;
            default:
                goto usage;
        }
    }
    if (optind != argc)
        goto usage;
    if (sodium_init () < 0) {
        fprintf (stderr, "sodium_init failed\n");
        return 3;
    }

    double start = s_now ();
    uint64_t heights = 0, messages = 0, verifications = 0, signatures = 0, evidence = 0;
    uint64_t forged = 0, catchups = 0, restarts = 0, max_round = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++) {
        opt.seed = seed;
        sim_stats_t st;
        char why[512];
        double seed_start = s_now ();
        int rc = sim_run (&opt, &st, why, sizeof why);
        heights += st.heights;
        messages += st.messages;
        verifications += st.verifications;
        signatures += st.signatures;
        evidence += st.evidence;
        forged += st.rejected_forged;
        catchups += st.catchups;
        restarts += st.restarts;
        if (st.max_round > max_round)
            max_round = st.max_round;
        if (!quiet)
            printf ("seed %" PRIu64 ": %s (%.2f s, %" PRIu64 " messages): %s\n", seed,
                    rc ? "FAIL" : "ok", s_now () - seed_start, st.messages, st.scenario);
        if (rc) {
            printf ("%s seed=%" PRIu64 " heights=%u (%s)\n  %s\n"
                    "  replay: %s --seed %" PRIu64 " --heights %u --validators %u-%u%s%s%s%s "
                    "--trace\n",
                    expect ? "violation found (expected)" : "INVARIANT VIOLATED", seed, opt.heights,
                    st.scenario, why, argv[0], seed, opt.heights, opt.min_validators,
                    opt.max_validators,
                    opt.mode < 0    ? ""
                    : opt.sortition ? " --mode sortition"
                    : opt.mode      ? " --mode vrf"
                                    : " --mode rr",
                    opt.faults ? "" : " --no-faults", opt.byzantine ? "" : " --no-byzantine",
                    s_sig_names[opt.signatures]);
            fflush (stdout);
            violations++;
            if (!keep_going)
                return expect ? 0 : 1;
        }
    }
    double elapsed = s_now () - start;
    printf ("%" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %" PRIu64
            " heights decided by every honest node, in %.1f s; %" PRIu64
            " seeds violated an invariant\n"
            "  %" PRIu64 " messages sent, %" PRIu64 " signatures, %" PRIu64
            " verifications, %" PRIu64 " equivocations reported, %" PRIu64
            " forgeries refused, %" PRIu64 " catch-up commits, %" PRIu64
            " restarts, highest deciding round %" PRIu64 "\n",
            seeds, first, first + seeds - 1, heights, elapsed, violations, messages, signatures,
            verifications, evidence, forged, catchups, restarts, max_round);
    if (expect && violations == 0)
        printf ("expected a violation and found none\n");
    return (violations > 0) == expect ? 0 : 1;

usage:
    s_usage (stderr, argv[0]);
    return 2;
}
