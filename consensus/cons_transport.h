/*
 * cons_transport: the peer transport of the mesh (DESIGN.md §6, issue 6;
 * docs/PROTOCOL.md "Peer transport"; docs/ARCHITECTURE.md "The peer
 * transport").
 *
 * ZeroMQ over TCP with CURVE. Each node has one inbound ROUTER (CURVE
 * server, the node's own X25519 key pair) and one outbound DEALER per peer
 * (CURVE client; the server key is the curve_pk of the peer's certificate).
 * A node only ever sends on its DEALERs and only ever receives on its
 * ROUTER, so a peer pair uses two TCP connections, one each way. A message
 * is one ZeroMQ frame `[u8 version = 1][u8 channel][body]`; the body is
 * opaque to the transport (cons_member, cons_gossip, ... produce it). The
 * sender's node id on receipt is the one the handshake authenticated: the
 * ZAP handler puts the node id (hex sign_pk of the certificate that binds
 * the client's CURVE key) into the connection's User-Id, and every received
 * message is attributed through that property, never through its body.
 *
 * ZAP: our own handler, not czmq's zauth. libzmq asks the ZAP handler bound
 * at inproc://zeromq.zap.01 *of the socket's context*, so there is one per
 * context; zauth is an actor in another thread whose policy (a certificate
 * directory or "allow any") cannot express "only keys bound by this cert
 * set, minus banned peers, as of now", and czmq puts every zsock in one
 * process-wide context, so two transports in one process (tests, the bench,
 * a future second chain) would fight over the endpoint. Each transport
 * therefore owns a private libzmq context holding its ROUTER, DEALERs, ZAP
 * REP socket and connection monitors, and answers ZAP requests in the
 * caller's thread (zloop reactor or cons_transport_poll): the cert set and
 * the bans are read without locks, and replacing the cert set takes effect
 * at the next handshake. The sockets are plain libzmq sockets (zsock_t
 * cannot live outside czmq's context); czmq supplies zloop, zclock and
 * zbeacon (optional LAN discovery).
 *
 * Limits: frames above max_frame are read, counted and dropped with
 * CONS_ERR_FRAME_SIZE; above max_frame + 64 KiB libzmq cuts the connection
 * (ZMQ_MAXMSGSIZE). Each DEALER queues at most sndhwm messages; a send to a
 * full queue returns CONS_ERR_QUEUE_FULL and counts a drop — it never
 * blocks. DEALERs reconnect with exponential backoff (ZMQ_RECONNECT_IVL to
 * _MAX) and both sides send ZMTP heartbeats so a silent peer is noticed.
 *
 * Secrets: the CURVE secret key is copied into sodium_malloc memory that is
 * inaccessible (PROT_NONE) while unused and wiped on destroy. It must be
 * handed to libzmq (ZMQ_CURVE_SECRETKEY) for every socket, and libzmq keeps
 * copies in its socket options and per-connection CURVE state in ordinary
 * heap memory; those we cannot protect. czmq's zcert is not used, so there
 * are no further copies. The caller's own copy (config.curve_sk) is the
 * caller's to wipe.
 *
 * Observers (docs/PROTOCOL.md "Observers"): read-only parties admitted by
 * their CURVE key alone (cons_transport_set_observers). ZAP gives them the
 * User-Id "observer:<hex curve key>", so nothing they send is attributed to
 * a node; they may only send on CONS_CHANNEL_OBSERVE (anything else is
 * refused with CONS_ERR_OBSERVER_SEND), which goes to on_observe, not
 * on_recv; a node's frame on that channel is CONS_ERR_FRAME_CHANNEL. The
 * node pushes to an observer on a DEALER of its own, pinned to the
 * observer's key, at the endpoint the observer subscribed with.
 *
 * Time: bans, last-seen and expiry use zclock_mono () milliseconds.
 * Not thread-safe: one thread drives a transport.
 */
#ifndef CONS_TRANSPORT_H
#define CONS_TRANSPORT_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cons_err.h"
#include "wd_cert.h"

/* Channels (docs/PROTOCOL.md "Peer transport"): the byte after the version. */
#define CONS_CHANNEL_MEMBER  1
#define CONS_CHANNEL_GOSSIP  2
#define CONS_CHANNEL_AGREE   3
#define CONS_CHANNEL_SYNC    4
#define CONS_CHANNEL_CAPSULE 5 /* capsule fetch and key release (node_capsule) */
#define CONS_CHANNEL_OBSERVE 6 /* observers: subscription in, records and blocks out */
#define CONS_CHANNEL_HELLO   7 /* endpoints: where a node listens, whom it knows (node_mesh) */

#define CONS_TRANSPORT_VERSION       1
#define CONS_TRANSPORT_HEADER        2             /* version, channel */
#define CONS_TRANSPORT_MAX_FRAME     (1024 * 1024) /* default size cap, header included */
#define CONS_TRANSPORT_SNDHWM        1000          /* default messages queued per peer */
#define CONS_TRANSPORT_RECONNECT_MS  100           /* default first reconnect delay */
#define CONS_TRANSPORT_RECONNECT_MAX 5000          /* default backoff cap */
#define CONS_TRANSPORT_CONNECT_MS    2000          /* a TCP connect attempt, at most */
#define CONS_TRANSPORT_HEARTBEAT_MS  1000          /* default ZMTP PING interval */
#define CONS_TRANSPORT_HEARTBEAT_TTL 5000          /* default silence before a drop */
#define CONS_TRANSPORT_ENDPOINT_MAX  255
#define CONS_TRANSPORT_ZAP_DOMAIN    "warden"
#define CONS_TRANSPORT_OBSERVER_USER "observer:" /* ZAP User-Id prefix of an observer */
#define CONS_TRANSPORT_OBSERVERS_MAX 64

typedef struct cons_transport cons_transport_t;

/* Called for every accepted message. from is the authenticated node id
   (sign_pk); body is borrowed until the callback returns. The callback may
   call cons_transport_send, _ban and _set_certs. */
typedef void (cons_transport_recv_fn) (void *arg, const uint8_t from[WD_PUBKEY_LEN],
                                       uint8_t channel, const uint8_t *body, size_t body_len);

/* Called for every frame an admitted observer sends on CONS_CHANNEL_OBSERVE
   (anything else an observer sends is refused before it, with
   CONS_ERR_OBSERVER_SEND). key is the observer's authenticated CURVE public
   key. Returns 0, or the reason the body is refused, which is counted like
   a transport rejection. May call the observer functions below. */
typedef int (cons_transport_observe_fn) (void *arg, const uint8_t key[WD_PUBKEY_LEN],
                                         const uint8_t *body, size_t body_len);

typedef struct {
    const wd_cert_t *self;   /* own certificate (copied) */
    const uint8_t *curve_sk; /* own X25519 secret key, 32 bytes (copied) */
    const wd_cert_t *certs;  /* known certificates (copied; may include self) */
    size_t cert_count;
    const char *bind;     /* e.g. "tcp://0.0.0.0:7400", "tcp://127.0.0.1:*" */
    size_t max_frame;     /* 0: CONS_TRANSPORT_MAX_FRAME; at least 64 */
    int sndhwm;           /* 0: CONS_TRANSPORT_SNDHWM */
    int reconnect_ms;     /* 0: default */
    int reconnect_max_ms; /* 0: default */
    int heartbeat_ms;     /* 0: default; negative: no heartbeats */
    int heartbeat_ttl_ms; /* 0: default */
    cons_transport_recv_fn *on_recv;
    void *on_recv_arg;
    cons_transport_observe_fn *on_observe; /* NULL: observers' frames are refused */
    void *on_observe_arg;
} cons_transport_config_t;

typedef enum {
    CONS_PEER_IDLE = 0,       /* no endpoint known, or no message sent yet */
    CONS_PEER_CONNECTING = 1, /* DEALER exists, handshake not (yet) done */
    CONS_PEER_UP = 2,         /* handshake succeeded on our outbound connection */
    CONS_PEER_REFUSED = 3,    /* the peer refused our key at its ZAP handler */
    CONS_PEER_BANNED = 4,     /* banned here until banned_until_ms */
} cons_peer_state_t;

/* Per-peer counters (cons_transport_peers). */
typedef struct {
    uint8_t node_id[WD_PUBKEY_LEN];
    char name[WD_CERT_NAME_MAX + 1];
    char endpoint[CONS_TRANSPORT_ENDPOINT_MAX + 1]; /* empty when none */
    cons_peer_state_t state;
    uint64_t msgs_in, bytes_in;   /* accepted messages, body bytes */
    uint64_t msgs_out, bytes_out; /* messages queued for sending, body bytes */
    uint64_t drops;               /* sends refused because the queue was full */
    uint64_t rejected;            /* received frames refused (any reason) */
    uint64_t zap_refused;         /* handshakes refused here (banned) */
    int last_reject;              /* the last reason, 0 for none */
    uint64_t last_seen_ms;        /* zclock_mono of the last accepted message, 0 never */
    uint64_t banned_until_ms;     /* 0 when not banned */
} cons_transport_peer_t;

/* Transport-wide counters. */
typedef struct {
    uint64_t zap_allowed;       /* handshakes admitted */
    uint64_t zap_unknown;       /* handshakes with a key no known cert binds */
    uint64_t zap_banned;        /* handshakes of banned peers */
    uint64_t rejected;          /* received frames refused (any reason, any sender) */
    uint64_t router_rebinds;    /* inbound socket re-created to cut a banned peer */
    uint64_t beacons_used;      /* LAN announcements that set a peer's endpoint */
    uint64_t beacons_ignored;   /* malformed, unknown node, self, or peer already set */
    uint64_t zap_observers;     /* handshakes of admitted observers (also in zap_allowed) */
    uint64_t observer_rejected; /* observers' frames refused (also in rejected) */
} cons_transport_stats_t;

/* Creates the transport: copies the keys and certs, binds the ROUTER and
   the ZAP handler. NULL on failure (bad config, bind error: logged). */
cons_transport_t *
cons_transport_new (const cons_transport_config_t *config);

/* Closes every socket (linger 0: queued messages are lost), ends the
   private context, wipes the secret key. Detaches from a zloop first. */
void
cons_transport_destroy (cons_transport_t **self_p);

/* The bound endpoint with the port resolved ("tcp://127.0.0.1:41234").
   Borrowed. */
const char *
cons_transport_endpoint (cons_transport_t *self);

/* Registers the transport's sockets with loop (one reactor at a time).
   0 or -1. */
int
cons_transport_attach (cons_transport_t *self, zloop_t *loop);

/* Removes the sockets from the loop given to attach. */
void
cons_transport_detach (cons_transport_t *self);

/* Without a reactor: waits up to timeout_ms (0: do not wait, -1: forever)
   for activity, handles everything ready (ZAP requests, messages, monitor
   events), returns the number of messages delivered, or -1 when
   interrupted. */
int
cons_transport_poll (cons_transport_t *self, int timeout_ms);

/* Sets (or with NULL removes) the TCP endpoint of a known peer; the DEALER
   is (re)created and connects at once. CONS_ERR_PEER_UNKNOWN when no known
   cert has that node id (or it is our own), WD_ERR_BAD_VALUE for an
   endpoint libzmq refuses or longer than CONS_TRANSPORT_ENDPOINT_MAX. */
int __attribute__ ((warn_unused_result))
cons_transport_set_endpoint (cons_transport_t *self, const uint8_t node_id[WD_PUBKEY_LEN],
                             const char *endpoint);

/* Replaces the set of known certificates (copied). Peers no longer listed
   are dropped with their counters and connections; a connected peer whose
   cert disappeared is refused at its next handshake and its messages are
   rejected (CONS_ERR_PEER_UNKNOWN) meanwhile. Kept peers keep endpoints,
   counters and bans. 0, or WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
cons_transport_set_certs (cons_transport_t *self, const wd_cert_t *certs, size_t count);

/* Queues [1][channel][body] for the peer without blocking. 0, or
   CONS_ERR_PEER_UNKNOWN (no such peer), CONS_ERR_PEER_NO_ENDPOINT,
   CONS_ERR_PEER_BANNED, CONS_ERR_FRAME_CHANNEL, CONS_ERR_FRAME_SIZE,
   CONS_ERR_QUEUE_FULL (counted as a drop). */
int
cons_transport_send (cons_transport_t *self, const uint8_t to[WD_PUBKEY_LEN], uint8_t channel,
                     const uint8_t *body, size_t body_len);

/* Bans a peer until until_ms (zclock_mono time; 0 lifts a ban): closes the
   DEALER to it, drops its messages (CONS_ERR_PEER_BANNED) and refuses its
   handshakes, and re-creates the ROUTER on the same endpoint so that its
   open inbound connection is cut (other peers reconnect by themselves).
   CONS_ERR_PEER_UNKNOWN when not a known peer. */
int
cons_transport_ban (cons_transport_t *self, const uint8_t node_id[WD_PUBKEY_LEN],
                    uint64_t until_ms);

/* Copies up to max peer records into out (ordered by node id) and returns
   how many peers there are. */
size_t
cons_transport_peers (cons_transport_t *self, cons_transport_peer_t *out, size_t max);

/* Transport-wide counters. */
void
cons_transport_stats (cons_transport_t *self, cons_transport_stats_t *out);

/* How many received frames were refused for reason (a CONS_ERR_FRAME_*,
   CONS_ERR_PEER_UNKNOWN or CONS_ERR_PEER_BANNED code). */
uint64_t
cons_transport_rejections (cons_transport_t *self, int reason);

/* A name for a peer state ("up"). Static storage. */
const char *
cons_peer_state_name (cons_peer_state_t state);

/* ---- observers (docs/PROTOCOL.md "Observers") ---------------------------- */

/* Replaces the set of admitted observer CURVE keys (at most
   CONS_TRANSPORT_OBSERVERS_MAX; a key that is also a known node's curve_pk
   is admitted as the node). ZAP admits them with the User-Id
   "observer:<64 hex>"; they may only send on CONS_CHANNEL_OBSERVE. Kept keys
   keep their endpoint and counters; dropped ones lose their connection.
   0, WD_ERR_OUT_OF_RANGE (too many), or WD_ERR_NOMEM. */
int __attribute__ ((warn_unused_result))
cons_transport_set_observers (cons_transport_t *self, const uint8_t (*keys)[WD_PUBKEY_LEN],
                              size_t count);

/* Sets (or with NULL removes) where an admitted observer listens: a DEALER
   connects there as CURVE client of the observer's own key, so pushes only
   reach the holder of that key. Unchanged endpoints keep their connection.
   CONS_ERR_PEER_UNKNOWN (key not admitted), WD_ERR_BAD_VALUE (not
   "tcp://...", too long, or refused by libzmq). */
int __attribute__ ((warn_unused_result))
cons_transport_observer_endpoint (cons_transport_t *self, const uint8_t key[WD_PUBKEY_LEN],
                                  const char *endpoint);

/* Queues [1][CONS_CHANNEL_OBSERVE][body] for an observer, without blocking:
   cons_transport_send's codes. */
int
cons_transport_observer_send (cons_transport_t *self, const uint8_t key[WD_PUBKEY_LEN],
                              const uint8_t *body, size_t body_len);

/* Like cons_transport_peers for the admitted observers: node_id holds the
   CURVE key, name is "observer". */
size_t
cons_transport_observers (cons_transport_t *self, cons_transport_peer_t *out, size_t max);

/* ---- optional LAN discovery (czmq zbeacon) ---------------------------- */

/* The announcement: "WDN" 0x01, the node id (32 bytes), the ROUTER's TCP
   port (u16, big-endian): 38 bytes, within zbeacon's 255. */
#define CONS_TRANSPORT_BEACON_LEN 38

/* Starts broadcasting this node's announcement every interval_ms on UDP
   port udp_port (interface: ZSYS_INTERFACE / zsys_set_interface) and
   listening for others. An announcement only ever supplies the endpoint
   tcp://<sender address>:<port> of an already-known certificate, and never
   replaces an endpoint the caller set or a discovered one that is up:
   CURVE still pins the peer's key, so a forged announcement can at worst
   point at a dead address. 0, or -1 when there is no broadcast interface
   or the bound endpoint is not TCP. */
int __attribute__ ((warn_unused_result))
cons_transport_beacon_start (cons_transport_t *self, int udp_port, int interval_ms);

/* Stops the beacon (also done by destroy). */
void
cons_transport_beacon_stop (cons_transport_t *self);

/* Encodes this version's announcement into out. */
void
cons_transport_beacon_encode (const uint8_t node_id[WD_PUBKEY_LEN], uint16_t port,
                              uint8_t out[CONS_TRANSPORT_BEACON_LEN]);

/* Decodes an announcement: 0, or CONS_ERR_BEACON (wrong length or magic,
   port 0). */
int __attribute__ ((warn_unused_result))
cons_transport_beacon_decode (const uint8_t *data, size_t len, uint8_t node_id[WD_PUBKEY_LEN],
                              uint16_t *port);

/* ---- the frame codec (pure; fuzzed) ---------------------------------- */

/* Checks a received frame against max_frame and splits it. 0, or
   CONS_ERR_FRAME_SIZE (len > max_frame), CONS_ERR_FRAME_SHORT (under two
   bytes), CONS_ERR_FRAME_VERSION, CONS_ERR_FRAME_CHANNEL, in that order.
   *body points into frame. */
int __attribute__ ((warn_unused_result))
cons_transport_frame_decode (const uint8_t *frame, size_t len, size_t max_frame, uint8_t *channel,
                             const uint8_t **body, size_t *body_len);

/* True for the channels this version knows. */
bool
cons_transport_channel_valid (uint8_t channel);

#endif
