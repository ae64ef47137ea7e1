/*
 * cons_gossip: record dissemination between nodes in the spirit of libp2p
 * gossipsub v1.1 (a mesh with GRAFT/PRUNE and backoff, IHAVE/IWANT repair
 * on a heartbeat, flood-publishing of own records, peer scores with
 * graylisting and banning), plus a pull-based catch-up for records older
 * than the message cache (DESIGN.md §8; docs/PROTOCOL.md "Gossip";
 * docs/ARCHITECTURE.md "Gossip").
 *
 * Records are signed envelopes (wd_envelope.h) and nothing else. A record is
 * decoded, checked against the chain, its signature verified and its sender
 * looked up (the config's accept callback) BEFORE it is delivered or
 * forwarded: one that fails is never passed on, its id is remembered when
 * the fault is permanent, and only the peer that sent it (the
 * transport-authenticated node id, never anything in the body) is
 * penalised. Peer scores belong to this layer alone; they are not the
 * ledger's reputation.
 *
 * Like cons_agree this is a pure state machine (the mesh contract shared
 * with cons_transport and cons_member): no
 * I/O, no clock (every input carries now_ms), no global state, randomness
 * from a splitmix64 generator seeded by the config. Inputs are one call
 * each (a body from a peer, an own record to publish, a new peer set, a
 * tick); outputs queue up inside the instance and the driver drains them
 * with cons_gossip_output after every input: send a body to a peer, deliver
 * a record to the engine, and score events (penalty, graylist, ban — the
 * driver asks the transport to disconnect a banned peer). The driver calls
 * cons_gossip_tick at cons_gossip_next_deadline (the 1 s heartbeat).
 */
#ifndef CONS_GOSSIP_H
#define CONS_GOSSIP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_err.h"
#include "cons_vcache.h"
#include "wd_envelope.h"

typedef struct cons_gossip cons_gossip_t;

#define CONS_GOSSIP_ID_LEN      32          /* envelope id: SHA-256 of its bytes */
#define CONS_GOSSIP_NODE_LEN    32          /* node id: the node's Ed25519 sign_pk */
#define CONS_GOSSIP_VERSION     1           /* the `v` of every message */
#define CONS_GOSSIP_RECORDS_MAX 64          /* records in one PUBLISH or CATCHUP_RSP */
#define CONS_GOSSIP_IDS_MAX     4096        /* ids in one IHAVE, IWANT or CATCHUP_RSP have */
#define CONS_GOSSIP_REQ_IDS_MAX 256         /* ids in one CATCHUP_REQ */
#define CONS_GOSSIP_BACKOFF_MAX 3600        /* seconds, PRUNE backoff */
#define CONS_GOSSIP_SINCE_MAX   86400000ULL /* ms, CATCHUP_REQ since: one day */

/* Message types (the `t` key). */
typedef enum {
    CONS_GOSSIP_PUBLISH = 1,
    CONS_GOSSIP_IHAVE = 2,
    CONS_GOSSIP_IWANT = 3,
    CONS_GOSSIP_GRAFT = 4,
    CONS_GOSSIP_PRUNE = 5,
    CONS_GOSSIP_CATCHUP_REQ = 6,
    CONS_GOSSIP_CATCHUP_RSP = 7,
} cons_gossip_kind_t;

/* A list of 32-byte ids: id i is at base + i * stride (stride 32 for a
   contiguous array, 34 for ids decoded in place from a message). */
typedef struct {
    const uint8_t *base;
    size_t count;
    size_t stride;
} cons_gossip_ids_t;

/* The i-th id of a list (asserted in range). */
const uint8_t *
cons_gossip_ids_at (const cons_gossip_ids_t *ids, size_t i);

/* One decoded message. Every pointer borrows from the decoded buffer (or
   from the caller's memory when encoding). Fields not used by a kind are
   zero. */
typedef struct {
    cons_gossip_kind_t kind;
    cons_gossip_ids_t ids;  /* IHAVE, IWANT, CATCHUP_REQ */
    cons_gossip_ids_t have; /* CATCHUP_RSP */
    size_t record_count;    /* PUBLISH, CATCHUP_RSP */
    const uint8_t *records[CONS_GOSSIP_RECORDS_MAX];
    size_t record_lens[CONS_GOSSIP_RECORDS_MAX];
    uint32_t backoff_s; /* PRUNE */
    uint64_t since_ms;  /* CATCHUP_REQ */
    bool more;          /* CATCHUP_RSP */
} cons_gossip_msg_t;

/* Encodes msg as canonical msgpack (caller frees). Counts and lengths must
   be within the limits above (asserted). */
uint8_t *
cons_gossip_msg_encode (const cons_gossip_msg_t *msg, size_t *len);

/* Decodes a message body; records are taken as byte strings of at most
   record_max bytes (their envelopes are checked by the state machine, one
   at a time). Reasons: wd_codec_check codes; schema codes
   (WD_ERR_MISSING_KEY, WD_ERR_UNKNOWN_KEY — including a key another type
   has —, WD_ERR_WRONG_TYPE, WD_ERR_BAD_LENGTH for an id that is not 32
   bytes); WD_ERR_BAD_VERSION; CONS_ERR_GOSSIP_KIND; WD_ERR_OVERSIZE (too
   many ids or records, a record above record_max); WD_ERR_OUT_OF_RANGE
   (backoff, since); CONS_ERR_GOSSIP_EMPTY (a PUBLISH without records, an
   IHAVE or IWANT without ids, a CATCHUP_REQ with neither ids nor since). */
int __attribute__ ((warn_unused_result))
cons_gossip_msg_decode (const uint8_t *buf, size_t len, size_t record_max, cons_gossip_msg_t *msg);

/* ---- the state machine --------------------------------------------------- */

/* Checks a decoded record whose signature has verified: returns WD_OK to
   accept it, CONS_ERR_GOSSIP_IGNORE to drop it without blame (e.g. a record
   for a later epoch), or another negative reason to reject it as the
   sending peer's fault (CONS_ERR_GOSSIP_UNKNOWN_SENDER for a signer that is
   not a known node). Must be a pure function of its arguments and of the
   caller's state. */
typedef int (*cons_gossip_accept_fn) (void *ctx, const wd_envelope_t *env, const uint8_t *record,
                                      size_t len);

/* Verifies env's signature (a simulator may memoise); NULL in the config
   means wd_envelope_verify with the config's chain and any type. */
typedef int (*cons_gossip_verify_fn) (void *ctx, const wd_envelope_t *env);

/* Score function and thresholds (docs/PROTOCOL.md "Gossip", "Peer score").
   Counters are kept in thousandths; decays are per heartbeat, in
   thousandths (900 = x0.9). Weights are positive; penalties are
   subtracted. */
typedef struct {
    int64_t first_weight;     /* P2: + weight per first delivery ... */
    uint32_t first_cap;       /*     ... counted up to this many */
    uint32_t first_decay;     /* ‰ per heartbeat */
    int64_t invalid_weight;   /* P4: - weight * invalid^2 */
    uint32_t invalid_decay;   /* ‰ */
    int64_t behaviour_weight; /* P7: - weight * max(0, behaviour - threshold)^2 */
    uint32_t behaviour_threshold;
    uint32_t behaviour_decay;   /* ‰ */
    int64_t flood_weight;       /* P8: - weight * records dropped over the rate limit */
    uint32_t flood_decay;       /* ‰ */
    int64_t gossip_threshold;   /* below: no IHAVE/IWANT to or from the peer */
    int64_t publish_threshold;  /* below: own records are not flooded to it */
    int64_t graylist_threshold; /* below: everything from it is ignored (records sampled) */
    int64_t ban_threshold;      /* at or below: BAN output, everything dropped for ban_ms */
    uint64_t ban_ms;
} cons_gossip_score_params_t;

/* The defaults every node uses unless the chain sets others. */
void
cons_gossip_score_defaults (cons_gossip_score_params_t *params);

typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t self[CONS_GOSSIP_NODE_LEN]; /* own node id, never a peer */
    uint64_t seed;                      /* the instance's PRNG */
    uint64_t start_ms;                  /* the first heartbeat is at start_ms + heartbeat_ms */
    cons_gossip_accept_fn accept;       /* required */
    cons_gossip_verify_fn verify;       /* NULL: wd_envelope_verify */
    cons_vcache_t *vcache; /* NULL, or ids verified before (borrowed; used when verify is NULL) */
    void *ctx;             /* passed to both callbacks */
    /* Mesh and gossip; 0 takes the default in brackets. */
    unsigned d;                 /* mesh degree [6] */
    unsigned d_lo;              /* graft below [4] */
    unsigned d_hi;              /* prune above [12] */
    unsigned d_score;           /* kept by score when pruning [4] */
    unsigned d_lazy;            /* IHAVE targets per heartbeat, at least [6] */
    unsigned full_mesh_max;     /* every peer is in the mesh when N = peers + 1 <= this [12] */
    uint32_t heartbeat_ms;      /* [1000] */
    unsigned mcache_len;        /* heartbeat windows kept for IWANT [5] */
    unsigned mcache_gossip;     /* windows announced in IHAVE [3] */
    uint32_t prune_backoff_s;   /* [60] */
    uint32_t iwant_followup_ms; /* an IWANT not answered by then is a broken promise [3000] */
    uint64_t seen_ttl_ms;       /* ids remembered [120000] */
    uint64_t history_ms;        /* records kept for catch-up [60000], <= seen_ttl_ms */
    size_t history_bytes;       /* bytes of records kept, at most [64 MiB] */
    size_t records_max;         /* ids tracked, at most [65536], at least 1024 */
    size_t record_max;          /* bytes of one record [256 KiB] */
    size_t peers_max;           /* peers tracked, present or not [1024] */
    uint32_t rate_per_s;        /* records accepted per peer per second [1000] */
    uint32_t rate_burst;        /* token bucket size [2000] */
    unsigned ihave_max;         /* IHAVE messages taken per peer per heartbeat [10] */
    unsigned iwant_serve_max;   /* records served by IWANT per peer per heartbeat [1024] */
    unsigned catchup_serve_max; /* CATCHUP_REQs served per peer per heartbeat [4] */
    unsigned antientropy_hb;    /* heartbeats between catch-ups from a random peer [10] */
    bool score_set;             /* false: cons_gossip_score_defaults */
    cons_gossip_score_params_t score;
} cons_gossip_config_t;

typedef enum {
    CONS_GOSSIP_OUT_SEND = 1,   /* peer, data: send this body on the gossip channel */
    CONS_GOSSIP_OUT_DELIVER,    /* peer (who sent it), id, data: a new valid record */
    CONS_GOSSIP_OUT_PENALTY,    /* peer, reason, score: the peer was blamed for a fault */
    CONS_GOSSIP_OUT_GRAYLIST,   /* peer, score: fell below the graylist threshold */
    CONS_GOSSIP_OUT_UNGRAYLIST, /* peer, score: back above it */
    CONS_GOSSIP_OUT_BAN,        /* peer, score, until_ms: disconnect until then */
} cons_gossip_out_kind_t;

/* One output. data borrows from the instance until the next call on it. */
typedef struct {
    cons_gossip_out_kind_t kind;
    uint8_t peer[CONS_GOSSIP_NODE_LEN];
    uint8_t id[CONS_GOSSIP_ID_LEN];
    const uint8_t *data;
    size_t len;
    int reason;
    int64_t score;
    uint64_t until_ms;
} cons_gossip_output_t;

/* One peer as operators see it (wardenctl peers). */
typedef struct {
    uint8_t id[CONS_GOSSIP_NODE_LEN];
    bool present; /* in the current peer set */
    bool in_mesh;
    bool graylisted;
    uint64_t banned_until_ms; /* 0: not banned */
    int64_t score;
    uint64_t msgs_in, msgs_out;       /* gossip messages */
    uint64_t records_in, records_out; /* record copies in PUBLISH and CATCHUP_RSP */
    uint64_t invalid;                 /* records and messages rejected as its fault */
    uint64_t broken_promises;         /* IWANTs it left unanswered */
    uint64_t flooded;                 /* records dropped over its rate limit */
} cons_gossip_peer_info_t;

/* Totals since creation, for tests, the simulator and the bench. */
typedef struct {
    uint64_t msgs_out, bytes_out;
    uint64_t records_out; /* record copies sent */
    uint64_t control_out; /* IHAVE, IWANT, GRAFT, PRUNE, CATCHUP_* sent */
    uint64_t delivered;   /* DELIVER outputs */
    uint64_t duplicates;  /* copies of records already seen */
    uint64_t iwant_sent_ids, catchup_sent;
} cons_gossip_stats_t;

/* Creates an instance with no peers. Returns WD_OK and *out, or
   WD_ERR_BAD_VALUE (missing accept callback, inconsistent degrees or
   windows, history longer than seen_ttl, thresholds out of order),
   WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
cons_gossip_new (const cons_gossip_config_t *config, cons_gossip_t **out);

/* Frees the instance and everything queued; sets *self_p to NULL. Safe on
   NULL. */
void
cons_gossip_destroy (cons_gossip_t **self_p);

/* Replaces the peer set (membership's alive nodes; own id is skipped).
   Peers that leave are pruned from the mesh but their scores are kept, so a
   banned peer stays banned when it comes back; peers that join or return
   are asked for what they have seen lately (CATCHUP_REQ with since) at the
   next heartbeat. Returns WD_OK, or CONS_ERR_NO_SPACE when
   more than peers_max distinct ids would be tracked (the extra ones are
   left out). */
int
cons_gossip_set_peers (cons_gossip_t *self, const uint8_t (*ids)[CONS_GOSSIP_NODE_LEN],
                       size_t count, uint64_t now_ms);

/* Publishes an own record (a signed envelope's bytes): it is checked like
   any other record (no one is blamed), remembered, and sent to every peer
   whose score is at least publish_threshold. It is not delivered back.
   Returns WD_OK, CONS_ERR_DUPLICATE (already seen), or the reason it is not
   valid. */
int
cons_gossip_publish (cons_gossip_t *self, const uint8_t *record, size_t len, uint64_t now_ms);

/* cons_gossip_publish without sending yet: the record waits in the peers'
   outboxes, so that records published in one burst leave as one PUBLISH
   per peer (up to CONS_GOSSIP_RECORDS_MAX records, the same message a
   forwarding node sends). Waiting records leave with the next
   cons_gossip_flush, cons_gossip_publish, input, tick or peer set, or at
   once when CONS_GOSSIP_RECORDS_MAX wait; the driver calls
   cons_gossip_flush before it waits for I/O. */
int
cons_gossip_publish_later (cons_gossip_t *self, const uint8_t *record, size_t len, uint64_t now_ms);

/* Sends the records cons_gossip_publish_later left waiting (no-op when
   none). */
void
cons_gossip_flush (cons_gossip_t *self);

/* Feeds a gossip body received from peer (the transport-authenticated
   node id). Returns WD_OK, or the first reason something in it was not
   used: CONS_ERR_GOSSIP_UNKNOWN_PEER (not in the peer set), CONS_ERR_GOSSIP_BANNED,
   CONS_ERR_GOSSIP_GRAYLISTED, a decoding reason (cons_gossip_msg_decode;
   the peer is penalised), a record's reason (wd_envelope_decode codes,
   WD_ERR_WRONG_CHAIN, WD_ERR_BAD_SIGNATURE, the accept callback's, all
   penalised), CONS_ERR_GOSSIP_RATE (records over the peer's rate limit,
   penalised), CONS_ERR_GOSSIP_BACKOFF (a GRAFT during backoff, penalised),
   CONS_ERR_GOSSIP_IGNORE, CONS_ERR_DUPLICATE (every record already seen).
   The outputs must be carried out whatever the result. */
int
cons_gossip_input (cons_gossip_t *self, const uint8_t peer[CONS_GOSSIP_NODE_LEN],
                   const uint8_t *body, size_t len, uint64_t now_ms);

/* Runs every heartbeat due at now_ms: score decay and threshold events,
   broken IWANT promises, mesh maintenance (GRAFT/PRUNE), IHAVE gossip,
   catch-up requests, expiry of the seen cache and the history. */
void
cons_gossip_tick (cons_gossip_t *self, uint64_t now_ms);

/* When cons_gossip_tick must next be called. */
uint64_t
cons_gossip_next_deadline (const cons_gossip_t *self);

/* Takes the next queued output into *out; false when none is left. out->data
   borrows until the next call on the instance. */
bool
cons_gossip_output (cons_gossip_t *self, cons_gossip_output_t *out);

/* Fills up to max peers (present first, then absent ones kept for their
   score) and returns how many there are in all. */
size_t
cons_gossip_snapshot (const cons_gossip_t *self, cons_gossip_peer_info_t *peers, size_t max);

/* The totals since creation. */
void
cons_gossip_stats (const cons_gossip_t *self, cons_gossip_stats_t *stats);

/* The current score of peer, or 0 for a peer never seen. */
int64_t
cons_gossip_score (const cons_gossip_t *self, const uint8_t peer[CONS_GOSSIP_NODE_LEN]);

/* True when id has been seen (valid) and not yet forgotten. */
bool
cons_gossip_seen (const cons_gossip_t *self, const uint8_t id[CONS_GOSSIP_ID_LEN]);

#endif
