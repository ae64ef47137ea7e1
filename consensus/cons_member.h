/*
 * cons_member: who is alive. SWIM (Das, Gupta, Motivala, DSN 2002) with the
 * Lifeguard refinements (Dadgar, Phillips, Currey 2018, as in HashiCorp
 * memberlist) as a pure state machine (docs/PROTOCOL.md "Membership
 * (SWIM)"; docs/ARCHITECTURE.md "Membership"; DESIGN.md §8).
 *
 * The member set is given by the caller (genesis, later the ledger): the
 * machine only tracks the liveness of known node ids (Ed25519 sign_pk, 32
 * bytes) and ignores — and counts — updates about any other id. Every
 * protocol period one peer is probed (round-robin over a list reshuffled
 * after each traversal): a ping, then after the probe timeout ping-reqs
 * through `indirect` other members, which answer with a nack when the target
 * stays silent. A peer that answers neither way by the end of the period is
 * suspected; a suspicion becomes dead after a timeout that scales with log N
 * and shrinks with independent confirmations (Lifeguard). A suspected node
 * refutes by raising its incarnation. The node's own local health (missed
 * nacks, refutations) stretches its period and timeouts, so a slow node
 * probes and accuses more slowly (Lifeguard). State changes travel
 * piggybacked on every message, each a limited number of times.
 *
 * Pure: no I/O, no clock, no global state, no global RNG. Time comes in as
 * now_ms on every input (any monotonic millisecond clock); randomness comes
 * from a generator seeded by config.seed, so the same inputs give the same
 * outputs. Outputs (bodies to send, membership events) queue inside the
 * machine and the driver takes them with cons_member_poll after each input,
 * and calls cons_member_tick at cons_member_next_deadline.
 */
#ifndef CONS_MEMBER_H
#define CONS_MEMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct cons_member cons_member_t;

#define CONS_MEMBER_ID_LEN   32
#define CONS_MEMBER_MAX      4096 /* members in a set, at most */
#define CONS_MEMBER_UPDATES  32   /* piggybacked updates in one message, at most */
#define CONS_MEMBER_BODY_MAX 4096 /* bytes of a message body, at most (the largest is 2591) */
#define CONS_MEMBER_INC_MAX  ((UINT64_C (1) << 63) - 1)
#define CONS_MEMBER_NO_RTT   UINT32_MAX
#define CONS_MEMBER_VERSION  1

/* Member states, in the order that breaks ties between updates of equal
   incarnation (a later state wins). */
typedef enum {
    CONS_MEMBER_ALIVE = 1,
    CONS_MEMBER_SUSPECT = 2,
    CONS_MEMBER_DEAD = 3,
    CONS_MEMBER_LEFT = 4,
} cons_member_state_t;

/* Message types (the `t` key). */
typedef enum {
    CONS_MEMBER_PING = 1,
    CONS_MEMBER_ACK = 2,
    CONS_MEMBER_PING_REQ = 3,
    CONS_MEMBER_NACK = 4,
    CONS_MEMBER_PUSH = 5,
} cons_member_type_t;

/* One piggybacked update. `by` (the accuser) only for SUSPECT. Pointers
   borrow from the decoded buffer or the caller. */
typedef struct {
    cons_member_state_t state;
    const uint8_t *id;
    uint64_t incarnation;
    const uint8_t *by;
} cons_member_update_t;

/* A decoded message. seq for PING, ACK, PING_REQ, NACK; target for PING
   (the member the ping is for) and PING_REQ (the member to probe). */
typedef struct {
    cons_member_type_t type;
    uint32_t seq;
    const uint8_t *target;
    size_t count;
    cons_member_update_t updates[CONS_MEMBER_UPDATES];
} cons_member_msg_t;

/* Encodes msg (which must be well formed: asserted). Caller owns the
   returned buffer (free()); *len gets its size. */
uint8_t *
cons_member_msg_encode (const cons_member_msg_t *msg, size_t *len);

/* Decodes a body. Returns WD_OK, a codec or schema code (WD_ERR_*: a body
   above CONS_MEMBER_BODY_MAX or more than CONS_MEMBER_UPDATES updates
   WD_ERR_OVERSIZE; seq above 2^32-1 or incarnation above 2^63-1
   WD_ERR_OUT_OF_RANGE; seq or target missing for a type that needs it
   WD_ERR_MISSING_KEY, present for one that does not WD_ERR_UNKNOWN_KEY; an
   id of another length WD_ERR_BAD_LENGTH; v other than 1
   WD_ERR_BAD_VERSION) or CONS_ERR_MEMBER_TYPE, CONS_ERR_MEMBER_STATE,
   CONS_ERR_MEMBER_UPDATE, CONS_ERR_MEMBER_DUPLICATE. Pointers in *msg
   borrow from buf. */
int __attribute__ ((warn_unused_result))
cons_member_msg_decode (const uint8_t *buf, size_t len, cons_member_msg_t *msg);

/* Protocol parameters. Zero fields take the defaults in brackets. */
typedef struct {
    const uint8_t *self; /* own node id, CONS_MEMBER_ID_LEN bytes, copied */
    /* The known members, count ids of CONS_MEMBER_ID_LEN bytes each,
       copied; self may be among them. Duplicates are refused. */
    const uint8_t *members;
    size_t count;
    uint64_t seed;               /* the instance's PRNG seed */
    uint64_t incarnation;        /* own starting incarnation (a restarted node: above the last) */
    uint32_t probe_ms;           /* protocol period [1000] */
    uint32_t probe_timeout_ms;   /* direct probe timeout [500], below probe_ms */
    uint32_t indirect;           /* ping-req relays per failed probe [3] */
    uint32_t suspicion_mult;     /* alpha in the minimum suspicion timeout [1] */
    uint32_t suspicion_max_mult; /* beta: maximum = beta * minimum [6] */
    uint32_t confirmations;      /* k: confirmations that bring the minimum [2] */
    uint32_t retransmit_mult;    /* lambda: piggyback limit = lambda * ceil(log10(n + 1)) [4] */
    uint32_t health_max;         /* local health multiplier ceiling [8] */
    bool health_off;             /* no local health awareness (plain SWIM; for comparisons) */
    uint32_t piggyback;          /* updates per message [8], at most CONS_MEMBER_UPDATES */
    uint32_t reclaim;            /* every reclaim-th period pings a dead member instead [8] */
    /* Start-up grace [0: none]: for this long after the first tick, a failed
       probe of a member this instance has not heard from yet accuses no one.
       A node that has just (re)started cannot tell a silent member from its
       own links still coming up; the rest of the cluster keeps detecting
       real failures meanwhile, and this node learns them as updates. */
    uint32_t grace_ms;
} cons_member_config_t;

typedef enum {
    CONS_MEMBER_OUT_SEND = 1, /* peer, body, len: send body to peer on the member channel */
    CONS_MEMBER_OUT_EVENT,    /* peer, state, incarnation, at_ms: a member changed state */
} cons_member_out_kind_t;

/* One output. body borrows from the machine until the next input call. */
typedef struct {
    cons_member_out_kind_t kind;
    const uint8_t *peer;
    const uint8_t *body;
    size_t len;
    cons_member_state_t state;
    uint64_t incarnation;
    uint64_t at_ms;
} cons_member_output_t;

/* One member as this node sees it, for operators (wardenctl peers). */
typedef struct {
    const uint8_t *id; /* borrowed from the machine */
    bool self;
    cons_member_state_t state;
    uint64_t incarnation;
    uint64_t since_ms;        /* when the state last changed (0: initial) */
    uint32_t rtt_ms;          /* round trip of the last direct ack, or CONS_MEMBER_NO_RTT */
    uint32_t confirmations;   /* while suspect: independent accusers seen */
    uint64_t suspect_dead_ms; /* while suspect: when it will be declared dead */
} cons_member_info_t;

/* Counters since creation. */
typedef struct {
    uint64_t sent[6];         /* by message type (index = cons_member_type_t) */
    uint64_t received[6];     /* accepted, by message type */
    uint64_t rejected;        /* receive calls returning an error */
    uint64_t stale;           /* acks and nacks for no pending probe (CONS_ERR_STALE) */
    uint64_t unknown_updates; /* updates about ids outside the member set */
    uint64_t probes, probes_failed;
    uint64_t suspicions;    /* members this node began to suspect (own probe or update) */
    uint64_t accusations;   /* suspicions raised by this node's own failed probes */
    uint64_t refutations;   /* times this node raised its incarnation to refute */
    uint64_t deaths;        /* members declared dead by this node's own timer */
    uint64_t relay_dropped; /* ping-reqs refused for lack of room */
    uint64_t resent;        /* updates gossiped again because a sender was behind */
} cons_member_stats_t;

/* Creates a machine. Returns WD_OK and *out, or WD_ERR_BAD_VALUE (no self,
   duplicate members, self not a valid pointer), WD_ERR_OUT_OF_RANGE (count
   above CONS_MEMBER_MAX, timeout not below the period, piggyback above
   CONS_MEMBER_UPDATES, incarnation above CONS_MEMBER_INC_MAX),
   WD_ERR_NOMEM. Every other member starts alive at incarnation 0; the first
   probe goes out at the first tick. */
int __attribute__ ((warn_unused_result))
cons_member_new (const cons_member_config_t *config, cons_member_t **out);

/* Replaces the member set (count ids, copied; self may be among them and
   is kept either way) when the ledger adds or removes members. Members in
   both sets keep their state, incarnation and pending updates; new ones
   start alive at incarnation 0 and are covered by the start-up grace
   (grace_ms from now) until heard from; removed ones are forgotten with
   their probes, relays and queued outputs. WD_OK, WD_ERR_OUT_OF_RANGE
   (above CONS_MEMBER_MAX), WD_ERR_BAD_VALUE (duplicates), WD_ERR_NOMEM
   (the set is unchanged on error). */
int __attribute__ ((warn_unused_result))
cons_member_set_members (cons_member_t *self, const uint8_t *members, size_t count,
                         uint64_t now_ms);

/* Frees the machine; sets *self_p to NULL. Safe on NULL. */
void
cons_member_destroy (cons_member_t **self_p);

/* Feeds a body received from peer on the member channel (peer is the
   transport-authenticated id). Returns WD_OK, a cons_member_msg_decode
   code, CONS_ERR_MEMBER_UNKNOWN (peer not a member, or a ping-req target
   not a member), CONS_ERR_MEMBER_SELF (peer is this node),
   CONS_ERR_MEMBER_TARGET (a ping for another member, or a ping-req naming
   this node or its sender), CONS_ERR_MEMBER_BUSY (no room for another
   relayed probe), CONS_ERR_STALE (an ack or nack that answers no pending
   probe of its sender: a late one; its updates are still applied) or
   CONS_ERR_MEMBER_LEFT (this node has left). Outputs may follow either
   way. */
int
cons_member_receive (cons_member_t *self, uint64_t now_ms, const uint8_t *peer, const uint8_t *body,
                     size_t len);

/* Runs the timers due at now_ms (probe, indirect probe, nacks, suspicion
   timeouts). Call at cons_member_next_deadline, or any time. */
void
cons_member_tick (cons_member_t *self, uint64_t now_ms);

/* When cons_member_tick must next be called (UINT64_MAX: never). */
uint64_t
cons_member_next_deadline (const cons_member_t *self);

/* Leaves the group gracefully: announces LEFT to every member not known
   dead or left, and stops probing. Later receives return
   CONS_ERR_MEMBER_LEFT, except pings, which are still answered so the
   announcement keeps spreading. */
void
cons_member_leave (cons_member_t *self, uint64_t now_ms);

/* Takes the next output; false when there is none. Outputs are in the
   order the machine made them. */
bool
cons_member_poll (cons_member_t *self, cons_member_output_t *out);

/* Members in the set (self included) and the i-th, ordered by id. */
size_t
cons_member_count (const cons_member_t *self);
void
cons_member_info (const cons_member_t *self, size_t i, cons_member_info_t *info);
/* The member with id, or false when it is not in the set. */
bool
cons_member_find (const cons_member_t *self, const uint8_t *id, cons_member_info_t *info);

/* Own incarnation and local health multiplier (0 = healthy). */
uint64_t
cons_member_incarnation (const cons_member_t *self);
uint32_t
cons_member_health (const cons_member_t *self);
void
cons_member_stats (const cons_member_t *self, cons_member_stats_t *stats);

/* The suspicion timeout after c independent confirmations with n members not
   dead or left, for the parameters in config (defaults applied):
   min = alpha * max(1, log10 n) * probe_ms, max = beta * min,
   timeout = max(min, max - (max - min) * ln(c + 1) / ln(k + 1)), with k
   the configured confirmations, or 0 (timeout = min) when n - 2 < k.
   Milliseconds, rounded down. */
uint64_t
cons_member_suspicion_timeout (const cons_member_config_t *config, size_t n, uint32_t c);

/* The state's name ("alive", ...), or "?". Static storage. */
const char *
cons_member_state_name (cons_member_state_t state);

#endif
