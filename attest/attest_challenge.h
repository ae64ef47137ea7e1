/*
 * attest_challenge: when to challenge one host agent and with what — a pure
 * state machine (DESIGN.md §7 "Host attestation").
 *
 * Challenges come at unpredictable times: after each challenge closes
 * (answered or missed), the next is due after an exponentially distributed
 * interval with the configured mean, so the agent cannot tell from the past
 * when the next will come (the process is memoryless). An on-demand request
 * makes a challenge due at once, or as soon as the open one closes. Each
 * challenge asks for a random subset of the configured items (its size
 * uniform in [min_items, max_items]) and carries a fresh 32-byte nonce and
 * a deadline.
 *
 * All randomness comes from a ChaCha20 stream keyed by a seed the caller
 * gives the instance (randombytes in production, a fixed seed in tests), and
 * the machine never reads a clock: every call takes now_ms from the caller.
 * At most one challenge is open at a time.
 */
#ifndef ATTEST_CHALLENGE_H
#define ATTEST_CHALLENGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_agent_proto.h"

#define ATTEST_CHALLENGE_SEED_LEN 32

typedef struct attest_challenge attest_challenge_t;

typedef struct {
    uint64_t mean_interval_ms; /* mean of the exponential intervals, >= 1 */
    uint64_t deadline_ms;      /* time an agent has to answer, 1..ATTEST_AGENT_DEADLINE_MAX */
    size_t item_count;         /* items to choose from, 1..ATTEST_AGENT_ITEMS_MAX */
    size_t min_items;          /* items per challenge, 1 <= min <= max <= item_count */
    size_t max_items;
} attest_challenge_config_t;

/* A new machine, stopped, with its PRNG keyed by seed. The configuration
   must be valid (asserted). Aborts on out-of-memory. */
attest_challenge_t *
attest_challenge_new (const attest_challenge_config_t *config,
                      const uint8_t seed[ATTEST_CHALLENGE_SEED_LEN]);

/* Frees the machine and wipes its PRNG key; sets *self_p to NULL. */
void
attest_challenge_destroy (attest_challenge_t **self_p);

/* Starts scheduling (an agent was admitted): the first challenge is due
   after one interval from now_ms. */
void
attest_challenge_start (attest_challenge_t *self, uint64_t now_ms);

/* Stops scheduling and forgets the open challenge, if any. */
void
attest_challenge_stop (attest_challenge_t *self);

/* Asks for a challenge now, or as soon as the open one closes. Ignored
   while stopped. */
void
attest_challenge_demand (attest_challenge_t *self);

typedef enum {
    ATTEST_CHALLENGE_NONE = 0, /* nothing to do before attest_challenge_next_ms */
    ATTEST_CHALLENGE_ISSUE,    /* send this new challenge */
    ATTEST_CHALLENGE_MISSED,   /* the open challenge passed its deadline unanswered */
} attest_challenge_event_kind_t;

typedef struct {
    attest_challenge_event_kind_t kind;
    uint64_t seq; /* 1, 2, ... */
    uint8_t nonce[ATTEST_AGENT_NONCE_LEN];
    uint64_t issued_ms;   /* when it was issued */
    uint64_t deadline_ms; /* absolute: issued_ms + the configured deadline */
    bool on_demand;       /* issued because of attest_challenge_demand */
    size_t count;         /* ISSUE: items chosen, indices into the item list, ascending */
    uint16_t items[ATTEST_AGENT_ITEMS_MAX];
} attest_challenge_event_t;

/* Advances the machine to now_ms and returns the first thing that is due
   (missed before issue). Call again until it returns NONE. *ev gets the
   details (for NONE, only kind). */
attest_challenge_event_kind_t
attest_challenge_poll (attest_challenge_t *self, uint64_t now_ms, attest_challenge_event_t *ev);

/* When the machine next has something to do (absolute ms): the open
   challenge's deadline or the next challenge's due time; UINT64_MAX while
   stopped. */
uint64_t
attest_challenge_next_ms (const attest_challenge_t *self);

/* Matches an answer to the open challenge and closes it: WD_OK;
   ATTEST_ERR_AGENT_NONCE when no challenge is open or seq/nonce are not the
   open one's (a replayed or stale response); ATTEST_ERR_AGENT_LATE when now_ms
   is past its deadline (the challenge stays open until poll reports it
   missed). The nonce is compared in constant time. */
int __attribute__ ((warn_unused_result))
attest_challenge_answer (attest_challenge_t *self, uint64_t seq, const uint8_t nonce[32],
                         uint64_t now_ms);

/* The open challenge, or NULL (borrowed, valid until the next call). */
const attest_challenge_event_t *
attest_challenge_open (const attest_challenge_t *self);

/* One draw of the interval distribution (advances the PRNG): exposed for
   the distribution test. */
uint64_t
attest_challenge_draw_interval (attest_challenge_t *self);

#endif
