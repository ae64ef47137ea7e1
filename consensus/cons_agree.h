/*
 * cons_agree: the Tendermint agreement (propose, prevote, precommit with
 * locked and valid values; arXiv 1807.04938, Algorithm 1) as a pure state
 * machine (DESIGN.md §8; docs/PROTOCOL.md "Agreement messages and rules";
 * docs/ARCHITECTURE.md "Driving the agreement").
 *
 * One instance decides a sequence of heights for one validator set. The
 * driver (wardend's engine, the simulator in tests/sim, the bench) feeds it
 * inputs — message envelopes as received, timer expiries, the block to
 * propose, catch-up commits — one at a time with cons_agree_step, and carries
 * out the outputs in order: persist, sign and send, set timers, store
 * commits, report evidence. The step does no I/O, reads no clock, keeps no
 * global state and allocates nothing: everything it keeps is preallocated by
 * cons_agree_new from the validator count and the limits in the config, and
 * the only code it calls besides libsodium hashing is the driver's pure
 * callbacks (block validity, the VRF claim check, signature verification).
 * The same inputs in the same order always give the same outputs.
 *
 * Messages are decoded and their signatures verified inside the step
 * (cons_vote.h): a certificate or a piece of evidence the machine outputs
 * only ever holds signatures it has checked itself. Verification goes
 * through the config's verify callback so that a simulator can memoise it.
 *
 * Own messages: the machine never signs. It outputs an unsigned proposal or
 * vote, preceded by a PERSIST record of what it is about to sign (height,
 * round, step, value) and of its lock and valid value. The driver must make
 * that record durable, then sign, then feed the signed envelope back to the
 * machine as an ordinary message (that is how the node's own vote is
 * counted) and send it. A node restarted from its last record (config.saved)
 * resumes at the recorded round and step and never asks for a signature that
 * conflicts with one it may already have given: see cons_agree_new. The
 * driver also keeps its own signed envelopes of the height durably, feeds
 * them back after a restart and sends them again when the height stalls
 * (liveness needs every honest vote to arrive eventually).
 *
 * Proposer selection is a chain parameter: deterministic weighted
 * round-robin (Tendermint's proposer priorities, computed from the height
 * and round alone), or VRF sortition, where every validator may propose with
 * a claim (checked by the config's claim callback, cons_sortition's job) and
 * the lowest priority received within the filter window wins (a window
 * that ends empty opens again with the first proposal that arrives).
 */
#ifndef CONS_AGREE_H
#define CONS_AGREE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_vote.h"

typedef struct cons_agree cons_agree_t;

#define CONS_AGREE_OBSERVER          UINT32_MAX /* config.self of a node that does not vote */
#define CONS_AGREE_OUT_MAX           32         /* outputs of one step, at most */
#define CONS_AGREE_ROUNDS_DEFAULT    8          /* rounds whose messages are kept */
#define CONS_AGREE_PROPOSALS_DEFAULT 3          /* proposals kept per round */

typedef enum {
    CONS_PROPOSER_ROUND_ROBIN = 0,
    CONS_PROPOSER_VRF = 1,
} cons_proposer_mode_t;

/* Chain parameters: identical on every node of a chain. A timeout for round
   r is base + r * delta, capped at timeout_max_ms. */
typedef struct {
    uint32_t propose_ms, propose_delta_ms;
    uint32_t prevote_ms, prevote_delta_ms;
    uint32_t precommit_ms, precommit_delta_ms;
    uint32_t commit_ms;      /* wait after a decision, skipped once all precommits are in */
    uint32_t timeout_max_ms; /* cap on every round timeout */
    uint32_t filter_ms;      /* VRF mode: window for collecting proposals */
    cons_proposer_mode_t proposer_mode;
    size_t block_max; /* bytes of a block, at most */
} cons_agree_params_t;

typedef enum {
    CONS_TIMER_PROPOSE = 1,
    CONS_TIMER_PREVOTE = 2,
    CONS_TIMER_PRECOMMIT = 3,
    CONS_TIMER_COMMIT = 4,
    CONS_TIMER_FILTER = 5,
} cons_timer_t;

/* Whether block may be decided at height (the ledger's rules). Must be a
   pure function of its arguments and of committed state, identical on every
   honest node. */
typedef bool (*cons_agree_valid_fn) (void *ctx, uint64_t height, const uint8_t *block, size_t len);

/* VRF mode: checks validator's sortition claim for (height, round) and
   writes its priority (lower wins). Returns 0, or a negative reason (e.g. a
   CONS_ERR_SORTITION_* code) that the step passes back. */
typedef int (*cons_agree_claim_fn) (void *ctx, uint64_t height, uint32_t round, uint32_t validator,
                                    const uint8_t *claim, size_t claim_len,
                                    uint8_t priority[CONS_PRIORITY_LEN]);

/* What a node must persist before it sends what follows a PERSIST output,
   and what it restarts from. signed_* is the last message the node asked to
   have signed at this height (signed_round -1 and signed_step 0: none);
   lock_* and valid_* are Tendermint's locked and valid values (round -1:
   none). valid_block borrows (from the machine in an output, from the
   caller's buffer when decoded). */
typedef struct {
    uint64_t height;
    int32_t signed_round;
    uint8_t signed_step; /* 0, or a cons_kind_t */
    bool signed_nil;
    uint8_t signed_block[CONS_BLOCK_ID_LEN];
    int32_t signed_pol;
    int32_t lock_round;
    uint8_t lock_block[CONS_BLOCK_ID_LEN];
    int32_t valid_round;
    const uint8_t *valid_block;
    size_t valid_len;
} cons_agree_saved_t;

typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    cons_agree_params_t params;
    const cons_validator_t *validators; /* copied */
    size_t count;
    uint32_t self;   /* own index in validators, or CONS_AGREE_OBSERVER */
    uint64_t height; /* the first height not yet decided, at least 1 */
    /* The last PERSIST record, or NULL. Used only when its height equals
       height (an older record is about a decided height). */
    const cons_agree_saved_t *saved;
    cons_agree_valid_fn valid;    /* required */
    cons_agree_claim_fn claim;    /* required in VRF mode */
    cons_verify_fn verify;        /* NULL: cons_verify_ed25519 */
    void *ctx;                    /* passed to the three callbacks */
    unsigned rounds_kept;         /* 0: CONS_AGREE_ROUNDS_DEFAULT; at least 2 */
    unsigned proposals_per_round; /* 0: CONS_AGREE_PROPOSALS_DEFAULT */
} cons_agree_config_t;

typedef enum {
    CONS_AGREE_IN_MESSAGE = 1, /* data: a proposal, prevote or precommit envelope */
    CONS_AGREE_IN_TIMEOUT,     /* timer, height, round: a timer set by a TIMER output fired */
    CONS_AGREE_IN_CANDIDATE,   /* height, data: the block to propose at height */
    CONS_AGREE_IN_COMMIT,      /* data: a block, cert: its commit certificate (catch-up) */
} cons_agree_in_kind_t;

/* One input. Every pointer is borrowed for the duration of the step. */
typedef struct {
    cons_agree_in_kind_t kind;
    const uint8_t *data;
    size_t len;
    const uint8_t *cert;
    size_t cert_len;
    cons_timer_t timer;
    uint64_t height;
    uint32_t round;
} cons_agree_input_t;

typedef enum {
    CONS_AGREE_OUT_PERSIST = 1, /* saved: make durable before anything after it */
    CONS_AGREE_OUT_PROPOSE,     /* msg: an unsigned proposal to sign and send */
    CONS_AGREE_OUT_VOTE,        /* msg: an unsigned prevote or precommit to sign and send */
    CONS_AGREE_OUT_TIMER,       /* timer: call back with IN_TIMEOUT after ms */
    CONS_AGREE_OUT_COMMIT,      /* commit: a decided block and its certificate */
    CONS_AGREE_OUT_EVIDENCE,    /* evidence: a validator signed two different votes */
    CONS_AGREE_OUT_NEW_HEIGHT,  /* height: the machine moved to this height */
} cons_agree_out_kind_t;

/* One output. Pointers borrow from the machine until the next call on it. */
typedef struct {
    cons_agree_out_kind_t kind;
    union {
        cons_agree_saved_t saved;
        cons_msg_t msg;
        struct {
            cons_timer_t timer;
            uint64_t height;
            uint32_t round;
            uint32_t ms;
        } timer;
        struct {
            uint64_t height;
            uint32_t round;
            const uint8_t *block;
            size_t block_len;
            cons_cert_t cert;
        } commit;
        cons_evidence_t evidence;
        uint64_t height;
    };
} cons_agree_output_t;

typedef struct {
    size_t count;
    cons_agree_output_t items[CONS_AGREE_OUT_MAX];
} cons_agree_outputs_t;

/* Where the machine stands, for logs, status and tests. */
typedef struct {
    uint64_t height;
    uint32_t round;
    uint8_t step; /* 1 propose, 2 prevote, 3 precommit, 4 decided (commit wait) */
    int32_t lock_round;
    int32_t valid_round;
} cons_agree_status_t;

/* Creates a machine from config (copied; the caller keeps its buffers).
   Returns WD_OK and *out, or the reason the config is unusable:
   cons_validators_check codes, WD_ERR_OUT_OF_RANGE (self, height, limits),
   WD_ERR_BAD_VALUE (missing callback, saved state inconsistent with the
   validator set or parameters), WD_ERR_NOMEM. Creation costs
   O(((height - 1) mod total weight) * count) for the round-robin
   priorities.

   Restart: with config.saved at config.height the machine restores its lock
   and valid value and resumes at the highest round the record names; if the
   record says it already signed a prevote or precommit in that round, it
   resumes at that step and re-emits that same vote (Ed25519 is
   deterministic, so the driver sends the very same envelope again). It
   never asks for a signature at an earlier step, or a different one at the
   same step, than the record holds. */
int __attribute__ ((warn_unused_result))
cons_agree_new (const cons_agree_config_t *config, cons_agree_t **out);

/* Frees the machine; sets *self_p to NULL. Safe on NULL. */
void
cons_agree_destroy (cons_agree_t **self_p);

/* Starts (or, after a restart, resumes) round 0 of the configured height.
   Call once, before the first step. */
void
cons_agree_start (cons_agree_t *self, cons_agree_outputs_t *out);

/* Feeds one input and fills out (out->count may be 0). Returns WD_OK when
   the input was used, or a reason it was not (or not fully), which the
   driver may log and count; outputs are valid either way and must be
   carried out. Reasons: decoding and signature codes of cons_vote.h;
   CONS_ERR_UNKNOWN_VALIDATOR; CONS_ERR_OLD_HEIGHT / CONS_ERR_FUTURE_HEIGHT
   (the driver may answer a peer that is behind with a catch-up commit, and
   should keep messages for the next height to feed again after
   NEW_HEIGHT); CONS_ERR_FUTURE_ROUND (counted towards skipping ahead, not
   kept); CONS_ERR_OLD_ROUND; CONS_ERR_DUPLICATE; CONS_ERR_EQUIVOCATION (an
   EVIDENCE output goes with the first one); CONS_ERR_NOT_PROPOSER;
   CONS_ERR_CLAIM or the claim callback's reason; CONS_ERR_INVALID_BLOCK (a
   proposal kept, and voted against); CONS_ERR_NO_SPACE; CONS_ERR_STALE
   (a timer or candidate that no longer applies); for IN_COMMIT
   cons_cert_decode / cons_cert_verify codes and CONS_ERR_CERT_BLOCK; for
   IN_CANDIDATE WD_ERR_OVERSIZE. */
int
cons_agree_step (cons_agree_t *self, const cons_agree_input_t *in, cons_agree_outputs_t *out);

/* Where the machine stands. */
void
cons_agree_status (const cons_agree_t *self, cons_agree_status_t *status);

/* The round-robin proposer of (height, round) for a validator set: the
   (height - 1 + round)-th pick of Tendermint's proposer-priority algorithm
   started from all-zero priorities (each pick adds every weight to its
   validator's priority, takes the highest, lowest index on ties, and
   subtracts the total from it). Costs O(((height - 1 + round) mod total) *
   count); the machine itself keeps the priorities of its height. */
uint32_t
cons_agree_round_robin (const cons_validator_t *validators, size_t count, uint64_t height,
                        uint32_t round);

/* The timeout of a kind for round r under params (base + r * delta, capped;
   COMMIT and FILTER do not grow). */
uint32_t
cons_agree_timeout (const cons_agree_params_t *params, cons_timer_t timer, uint32_t round);

/* The saved state in canonical msgpack (caller frees):
   {height, lock_block: bin(32)|nil, lock_round: int, signed_block: bin(32)|nil,
    signed_pol: int, signed_round: int, signed_step: uint, v: 1,
    valid_block: bin|nil, valid_round: int}. */
uint8_t *
cons_agree_saved_encode (const cons_agree_saved_t *saved, size_t *len);

/* Decodes a saved state; valid_block borrows from buf. Reasons: codec and
   schema codes, WD_ERR_BAD_VERSION, WD_ERR_OUT_OF_RANGE, WD_ERR_OVERSIZE (a
   valid block above block_max), WD_ERR_BAD_VALUE (fields that contradict
   each other: a round without its value or the reverse, a step without a
   round, a lock above the valid round, signed_pol outside -1..round-1 of a
   proposal). */
int __attribute__ ((warn_unused_result))
cons_agree_saved_decode (const uint8_t *buf, size_t len, size_t block_max,
                         cons_agree_saved_t *saved);

#endif
