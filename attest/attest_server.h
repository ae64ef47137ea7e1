/*
 * attest_server: the node's side of host attestation (DESIGN.md §7 "Host
 * attestation", docs/PROTOCOL.md "Host agent protocol"). Runs inside
 * wardend's engine on its zloop.
 *
 * A ZMQ_ROUTER socket in the CURVE server role (the node's curve key, which
 * the agent pins) admits one agent per one-time boot token: the agent's
 * hello carries the token and its boot-session Ed25519 key, signed with that
 * key. The token is consumed on admission. Each admitted host then gets
 * challenges from its own attest_challenge scheduler (exponential intervals,
 * random item subsets, deadlines, on demand). Responses must be signed by
 * the session key, answer the open challenge's nonce, and arrive before the
 * deadline; anything else is a rejection with a named reason (counted,
 * reported through on_reject, answered with a "rejected" result), never a
 * crash. Each accepted response is checked item by item against reference
 * values — a digest table (reference copies), the attest_policy, the
 * expected kernel command line and allowed modules — and becomes an
 * outcome: pass, fail, or missed when the deadline passes unanswered.
 *
 * Outcomes carry an attest_evidence_challenge_t (attest_evidence.h) ready to go into
 * evidence, plus the signed response. Failed and missed outcomes run the
 * configured actions: log a warning, mark the host untrusted (sticky until
 * a new boot token is added for it), and run an operator hook with the
 * outcome in its environment.
 *
 * The socket's ZAP domain is "warden-agent": a process that runs a ZAP
 * handler (zauth) must let any CURVE client key through for that domain,
 * since agents are admitted by boot token, not by transport key.
 *
 * Driving it from a zloop: attest_server_attach() registers the socket and
 * a timer and needs nothing else. Callers with their own loop use
 * attest_server_socket(), attest_server_handle() when it is readable,
 * attest_server_tick() and attest_server_next_ms(). Time is the caller's
 * monotonic milliseconds (zclock_mono); wall-clock seconds for evidence come
 * from time().
 */
#ifndef ATTEST_SERVER_H
#define ATTEST_SERVER_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_agent_proto.h"
#include "attest_evidence.h"
#include "attest_policy.h"
#include "wd_codec.h"

#define ATTEST_SERVER_HISTORY 16 /* outcomes kept per host for status */
#define ATTEST_SERVER_HOSTS   64 /* boot tokens (hosts) one server holds */

typedef struct attest_server attest_server_t;

/* Failure actions (bit set). */
enum {
    ATTEST_ACTION_LOG = 1u << 0,       /* wd_log_warnx the outcome */
    ATTEST_ACTION_UNTRUSTED = 1u << 1, /* mark the host untrusted */
    ATTEST_ACTION_HOOK = 1u << 2,      /* run the hook command */
};

typedef enum {
    ATTEST_HOST_WAITING = 0, /* "waiting": token known, no agent yet */
    ATTEST_HOST_ATTESTING,   /* "attesting": agent admitted, no outcome yet */
    ATTEST_HOST_TRUSTED,     /* "trusted": the last challenge passed */
    ATTEST_HOST_FAILING,     /* "failing": the last challenge failed or was missed */
    ATTEST_HOST_UNTRUSTED,   /* "untrusted": a failure with ATTEST_ACTION_UNTRUSTED; sticky */
    ATTEST_HOST_STATE_COUNT_
} attest_host_state_t;

const char *
attest_host_state_name (attest_host_state_t state);

/* One outcome. Pointers are borrowed for the callback only. */
typedef struct {
    const char *host;                      /* host label */
    uint8_t session_pk[32];                /* the agent's boot-session key */
    uint64_t seq;                          /* challenge number in the session */
    bool on_demand;                        /* asked for with attest_server_demand */
    uint64_t issued_ms;                    /* monotonic ms */
    uint64_t deadline_ms;                  /* monotonic ms */
    uint64_t answered_ms;                  /* monotonic ms; 0 when missed */
    attest_evidence_challenge_t challenge; /* outcome, Unix times, nonce, items with results */
    const uint8_t *response; /* the agent's signed response envelope; NULL when missed */
    size_t response_len;
    /* The IMA delta the agent sent, when the challenge asked for it: binary
       records of entries [ima_start, ima_start + ima_count). */
    const uint8_t *ima;
    size_t ima_len;
    uint64_t ima_start;
    uint64_t ima_count;
} attest_server_outcome_t;

typedef void (*attest_server_outcome_fn) (void *arg, const attest_server_outcome_t *outcome);

/* A rejected message: host is NULL when the peer was not admitted; reason is
   an ATTEST_ERR_* or WD_ERR_* code (attest_err_name names it). */
typedef void (*attest_server_reject_fn) (void *arg, const char *host, int reason);

/* Runs the operator hook for a failed or missed outcome. env is a
   NULL-terminated "NAME=value" list (WARDEN_HOST, WARDEN_OUTCOME, WARDEN_SEQ,
   WARDEN_NONCE, WARDEN_FAILED, WARDEN_HOST_STATE). Without one the server
   spawns `/bin/sh -c hook` itself; a sandboxed engine passes a function that
   asks its parent to run it. */
typedef void (*attest_server_hook_fn) (void *arg, const char *hook, char *const env[]);

typedef struct {
    const char *endpoint;        /* e.g. "tcp://0.0.0.0:7420"; bound */
    const uint8_t *curve_public; /* 32 bytes: the node's CURVE key (agents pin it) */
    const uint8_t *curve_secret; /* 32 bytes */
    uint64_t mean_interval_ms;   /* mean challenge interval, >= 1 */
    uint64_t deadline_ms;        /* time to answer, 1..ATTEST_AGENT_DEADLINE_MAX */
    size_t min_items;            /* items per challenge; 0 = 1 */
    size_t max_items;            /* 0 = all items */
    /* Reference values (all optional, borrowed for the server's life). */
    const attest_policy_t *policy; /* files without a table digest, processes, IMA */
    const uint8_t *cmdline;        /* the expected /proc/cmdline bytes */
    size_t cmdline_len;
    const char *const *modules; /* allowed module names, modules_count of them */
    size_t modules_count;
    unsigned actions; /* ATTEST_ACTION_* on fail and missed */
    const char *hook; /* command for ATTEST_ACTION_HOOK */
    attest_server_hook_fn hook_fn;
    void *hook_arg;
    attest_server_outcome_fn on_outcome;
    attest_server_reject_fn on_reject;
    void *arg; /* for on_outcome and on_reject */
} attest_server_config_t;

/* A new server bound to config->endpoint (ZMQ_ROUTER, CURVE server, ZAP
   domain "warden-agent"). Returns NULL when the endpoint cannot be bound
   (errno tells). The config's strings and tables are borrowed. */
attest_server_t *
attest_server_new (const attest_server_config_t *config);

/* Stops, detaches, closes the socket and frees; sets *self_p to NULL.
   Destroy the server before the zloop it is attached to. */
void
attest_server_destroy (attest_server_t **self_p);

/* Adds a challenge item (copied). expected (32 bytes, or NULL) is the
   reference SHA-256 for FILE and RANGE items: from a reference table or
   computed from a reference copy with attest_collect_file/range. Items must
   be added before the first agent is admitted (asserted); at most
   ATTEST_AGENT_ITEMS_MAX. */
void
attest_server_add_item (attest_server_t *self, const attest_item_t *item, const uint8_t *expected);

/* Adds a one-time boot token for a host label (1..64 bytes of
   [A-Za-z0-9._-]; NULL takes the host name from the agent's hello). A
   token for a label that already exists replaces that host's record (a new
   boot: the host starts again as waiting, history kept). Returns WD_OK,
   ATTEST_ERR_AGENT_TOKEN, ATTEST_ERR_AGENT_HOST or WD_ERR_OVERSIZE (too
   many hosts). */
int __attribute__ ((warn_unused_result))
attest_server_add_token (attest_server_t *self, const char *token, const char *host);

/* Asks for a challenge now: of the host with label host, or of every
   admitted host when host is NULL. Returns the number of hosts asked. */
size_t
attest_server_demand (attest_server_t *self, const char *host);

/* ---- driving ----------------------------------------------------------------- */

/* The ROUTER socket (borrowed), for a caller's own poll loop. */
zsock_t *
attest_server_socket (attest_server_t *self);

/* Handles every frame waiting on the socket (never blocks). */
void
attest_server_handle (attest_server_t *self, uint64_t now_ms);

/* Issues due challenges, reports missed ones, reaps finished hooks. */
void
attest_server_tick (attest_server_t *self, uint64_t now_ms);

/* When tick next has work (monotonic ms), UINT64_MAX for none. */
uint64_t
attest_server_next_ms (const attest_server_t *self);

/* Registers the socket and a timer on loop; the server then runs by itself
   (clock: zclock_mono). Returns 0, or -1 when zloop refuses. */
int
attest_server_attach (attest_server_t *self, zloop_t *loop);

/* Unregisters from the loop given to attach (also done by destroy). */
void
attest_server_detach (attest_server_t *self);

/* ---- status -------------------------------------------------------------------- */

/* A snapshot of one host. history holds the last history_count outcomes,
   oldest first, without response/ima (those pointers are NULL). */
typedef struct {
    char host[ATTEST_AGENT_HOST_MAX + 1];
    attest_host_state_t state;
    bool admitted;
    uint8_t session_pk[32];
    uint64_t admitted_ms;
    uint64_t passed, failed, missed, rejected;
    uint64_t ima_entries; /* IMA entries appraised so far */
    bool challenge_open;
    uint64_t next_ms; /* when the scheduler next acts (UINT64_MAX: idle) */
    size_t history_count;
    attest_server_outcome_t history[ATTEST_SERVER_HISTORY];
} attest_host_status_t;

size_t
attest_server_host_count (const attest_server_t *self);

/* Fills *out with host i (0..count-1). out is large (~300 KiB): heap it. */
void
attest_server_host_status (const attest_server_t *self, size_t i, attest_host_status_t *out);

/* Messages rejected from peers that were never admitted. */
uint64_t
attest_server_rejected_unknown (const attest_server_t *self);

/* The whole status as one canonical msgpack map, for the control socket
   (docs/PROTOCOL.md "Host agent protocol", status): {hosts: [...],
   rejected_unknown}. now_ms turns monotonic times into ages. */
void
attest_server_status_write (const attest_server_t *self, wd_writer_t *w, uint64_t now_ms);

#endif
