/*
 * sim_world: a deterministic simulation of a Warden validator set running
 * the real agreement state machine (consensus/cons_agree), for the
 * simulator (sim_agree) and the bench (bench/bench_agree).
 *
 * One run is a pure function of its options: every random choice comes from
 * one PRNG seeded with options->seed, time is a virtual clock in
 * milliseconds, events are ordered by (time, sequence number), and
 * signatures are real deterministic Ed25519. So a failing seed replays
 * exactly.
 *
 * The world builds a validator set (4-10 validators by default, weights
 * equal or mixed), makes up to f of them byzantine (total byzantine weight
 * below a third), and drives one cons_agree instance per node through a
 * network that, before a global stabilisation time (GST), delays, drops,
 * duplicates and reorders messages, partitions and heals, and crashes and
 * restarts nodes from their persisted state (sometimes between persisting
 * and sending); after GST it only delays and duplicates. Invariants are
 * checked as the run goes (see sim_world.c) and termination at the end.
 */
#ifndef SIM_WORLD_H
#define SIM_WORLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How signatures are checked (every signature is a real Ed25519 signature
   made with libsodium in every mode):
     SIM_SIG_EVERY    every node verifies every message it receives, as
                      real nodes do (slow: one libsodium verify per copy)
     SIM_SIG_MEMO     each distinct (key, digest, signature) is verified once
                      with libsodium and the answer remembered
     SIM_SIG_TRUSTED  as MEMO, but a signature the simulator has just made
                      with the signer's own secret key is remembered as valid
                      without calling verify; forged, corrupted and
                      impersonating signatures are still verified (and
                      refused) by libsodium. The bulk CI runs use this. */
typedef enum {
    SIM_SIG_TRUSTED = 0,
    SIM_SIG_MEMO = 1,
    SIM_SIG_EVERY = 2,
} sim_sig_mode_t;

typedef struct {
    uint64_t seed;
    unsigned heights;        /* every honest node must decide this many */
    unsigned min_validators; /* the count is drawn from [min, max] */
    unsigned max_validators;
    bool faults;    /* network faults, partitions and crashes before GST */
    bool byzantine; /* up to f byzantine validators */
    bool clean;     /* no duplicates and short delays even without faults (bench) */
    int mode;       /* -1: drawn from the seed; else a cons_proposer_mode_t */
    /* VRF mode through cons_sortition with real ECVRF keys (RFC 9381)
       instead of the cheap stand-in claim. */
    bool sortition;
    sim_sig_mode_t signatures;
    bool trace; /* print every event to stderr */
} sim_options_t;

typedef struct {
    char scenario[256]; /* one line: validators, weights, roles, faults */
    unsigned validators;
    uint64_t heights;          /* heights decided by every honest node */
    uint64_t virtual_ms;       /* virtual time at the end */
    uint64_t steps;            /* cons_agree_step calls */
    uint64_t messages;         /* transmissions between nodes (copies counted) */
    uint64_t decided_messages; /* agreement messages (proposals, votes) for heights 1..heights,
                                  sent between nodes; catch-up commits not counted */
    uint64_t signatures;       /* Ed25519 signatures made */
    uint64_t verifications;    /* Ed25519 verifications actually run */
    uint64_t max_round;        /* highest round any decision took */
    uint64_t evidence;         /* equivocations reported */
    uint64_t rejected_forged;  /* forged or corrupted messages refused */
    uint64_t catchups;         /* catch-up commits sent */
    uint64_t restarts;         /* crashed nodes restarted */
} sim_stats_t;

/* Runs one simulation. Returns 0 when every invariant held and every honest
   node decided options->heights heights, 1 on a violation (why gets one
   line saying which invariant, where and when). */
int
sim_run (const sim_options_t *options, sim_stats_t *stats, char *why, size_t why_len);

#endif
