/*
 * wd_rand: the small deterministic generator (splitmix64) that the pure
 * state machines (membership, gossip) and the simulators and benches draw
 * from, so a run is a function of its seed. Not for secrets or for anything
 * an adversary must not predict: use libsodium's randombytes there (the
 * challenge scheduler keys ChaCha20 with a random seed).
 */
#ifndef WD_RAND_H
#define WD_RAND_H

#include <stdint.h>

typedef struct {
    uint64_t state;
} wd_rand_t;

static inline wd_rand_t
wd_rand_seeded (uint64_t seed)
{
    return (wd_rand_t){ .state = seed };
}

static inline uint64_t
wd_rand_next (wd_rand_t *r)
{
    uint64_t z = (r->state += UINT64_C (0x9e3779b97f4a7c15));
    z = (z ^ (z >> 30)) * UINT64_C (0xbf58476d1ce4e5b9);
    z = (z ^ (z >> 27)) * UINT64_C (0x94d049bb133111eb);
    return z ^ (z >> 31);
}

/* Uniform in [0, n) by a 128-bit multiply (no modulo bias worth the name);
   0 when n is 0. */
static inline uint64_t
wd_rand_below (wd_rand_t *r, uint64_t n)
{
    return (uint64_t)(((unsigned __int128)wd_rand_next (r) * n) >> 64);
}

#endif
