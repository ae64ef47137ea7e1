/*
 * cons_transport: CURVE-authenticated ZeroMQ transport between nodes
 * (cons_transport.h explains the roles, the ZAP rule and why the sockets
 * live in a private libzmq context).
 *
 * Peers are keyed by node id (hex sign_pk) and, for the ZAP handler, by
 * CURVE key (hex curve_pk). Reactor callbacks get the transport as their
 * argument and find the peer from the socket, so a peer dropped by a
 * callback earlier in the same poll round is never touched again. The
 * ROUTER is only ever replaced at the end of a dispatch (a ban can be made
 * from inside the receive callback, which runs while the ROUTER is read).
 */
#include "cons_transport.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "wd_bytes.h"
#include "wd_log.h"

#define S_HEX_LEN         (2 * WD_PUBKEY_LEN + 1)
#define S_USER_LEN        (sizeof CONS_TRANSPORT_OBSERVER_USER - 1 + S_HEX_LEN)
#define S_BATCH           256         /* messages read per ROUTER wake-up */
#define S_MAXMSG_SLACK    (64 * 1024) /* ZMQ_MAXMSGSIZE = max_frame + this */
#define S_ZAP_PARTS       8
#define S_ZAP_PART_MAX    256
#define S_REBIND_TRIES    200
#define S_REBIND_SLEEP_MS 5
#define S_MON_EVENTS                                                                               \
    (ZMQ_EVENT_HANDSHAKE_SUCCEEDED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH |    \
     ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL)

/* Reasons counted by cons_transport_rejections, in this order. */
static const int s_reasons[] = {
    CONS_ERR_FRAME_SIZE,  CONS_ERR_FRAME_SHORT,  CONS_ERR_FRAME_VERSION, CONS_ERR_FRAME_CHANNEL,
    CONS_ERR_FRAME_PARTS, CONS_ERR_PEER_UNKNOWN, CONS_ERR_PEER_BANNED,   CONS_ERR_OBSERVER_SEND,
};
#define S_REASONS (sizeof s_reasons / sizeof s_reasons[0])

typedef struct {
    wd_cert_t cert;
    char id_hex[S_HEX_LEN];
    char curve_hex[S_HEX_LEN];
    void *dealer;          /* NULL until an endpoint is set (and while banned) */
    bool discovered;       /* the endpoint came from a LAN announcement */
    void *monitor;         /* PAIR reading the DEALER's events */
    uint64_t retry_at;     /* after a refusal: when to make a new DEALER */
    int retry_ms;          /* the backoff after refusals, 0 after a success */
    bool lost;             /* our link dropped; libzmq is backing off before it redials */
    bool redial;           /* the peer spoke to us while lost: make a new DEALER at the next send */
    bool observer;         /* an admitted observer (cert holds only its curve_pk) */
    char user[S_USER_LEN]; /* observers: the ZAP User-Id "observer:<hex>" */
    cons_transport_peer_t info;
} s_peer_t;

struct cons_transport {
    void *ctx;
    void *router;
    void *zap;
    char endpoint[CONS_TRANSPORT_ENDPOINT_MAX + 1];
    uint8_t *curve_sk; /* sodium_malloc, no access while unused */
    wd_cert_t self;
    cons_transport_config_t config; /* pointers in it are not kept */
    zhashx_t *peers;                /* id hex -> s_peer_t (owned) */
    zhashx_t *by_curve;             /* curve hex -> s_peer_t (borrowed) */
    zhashx_t *observers;            /* "observer:<curve hex>" -> s_peer_t (owned) */
    zloop_t *loop;
    zactor_t *beacon; /* optional LAN discovery */
    int dispatching;
    bool rebind_pending;
    unsigned monitor_seq;
    cons_transport_stats_t stats;
    uint64_t reasons[S_REASONS];
};

/* ---- the frame codec ------------------------------------------------------ */

bool
cons_transport_channel_valid (uint8_t channel)
{
    return channel >= CONS_CHANNEL_MEMBER && channel <= CONS_CHANNEL_HELLO;
}

int
cons_transport_frame_decode (const uint8_t *frame, size_t len, size_t max_frame, uint8_t *channel,
                             const uint8_t **body, size_t *body_len)
{
    *channel = 0;
    *body = NULL;
    *body_len = 0;
    if (len > max_frame)
        return CONS_ERR_FRAME_SIZE;
    if (len < CONS_TRANSPORT_HEADER)
        return CONS_ERR_FRAME_SHORT;
    if (frame[0] != CONS_TRANSPORT_VERSION)
        return CONS_ERR_FRAME_VERSION;
    if (!cons_transport_channel_valid (frame[1]))
        return CONS_ERR_FRAME_CHANNEL;
    *channel = frame[1];
    *body = frame + CONS_TRANSPORT_HEADER;
    *body_len = len - CONS_TRANSPORT_HEADER;
    return 0;
}

const char *
cons_peer_state_name (cons_peer_state_t state)
{
    switch (state) {
        case CONS_PEER_IDLE:
            return "idle";
        case CONS_PEER_CONNECTING:
            return "connecting";
        case CONS_PEER_UP:
            return "up";
        case CONS_PEER_REFUSED:
            return "refused";
        case CONS_PEER_BANNED:
            return "banned";
    }
    return "unknown";
}

/* ---- helpers --------------------------------------------------------------- */

static void
s_hex (char out[S_HEX_LEN], const uint8_t key[WD_PUBKEY_LEN])
{
    sodium_bin2hex (out, S_HEX_LEN, key, WD_PUBKEY_LEN);
}

static void
s_count_reject (cons_transport_t *self, s_peer_t *peer, int reason)
{
    self->stats.rejected++;
    for (size_t i = 0; i < S_REASONS; i++)
        if (s_reasons[i] == reason)
            self->reasons[i]++;
    if (peer) {
        peer->info.rejected++;
        peer->info.last_reject = reason;
    }
}

static bool
s_banned (const s_peer_t *peer, uint64_t now)
{
    return peer->info.banned_until_ms != 0 && now < peer->info.banned_until_ms;
}

static int
s_setopt_int (void *sock, int option, int value)
{
    return zmq_setsockopt (sock, option, &value, sizeof value);
}

/* Options common to the ROUTER and the DEALERs: no linger, heartbeats. */
static int
s_common_options (cons_transport_t *self, void *sock)
{
    int rc = s_setopt_int (sock, ZMQ_LINGER, 0);
    if (rc == 0 && self->config.heartbeat_ms > 0) {
        rc = s_setopt_int (sock, ZMQ_HEARTBEAT_IVL, self->config.heartbeat_ms);
        if (rc == 0)
            rc = s_setopt_int (sock, ZMQ_HEARTBEAT_TTL, self->config.heartbeat_ttl_ms);
        if (rc == 0)
            rc = s_setopt_int (sock, ZMQ_HEARTBEAT_TIMEOUT, self->config.heartbeat_ttl_ms);
    }
    return rc;
}

/* Hands the secret key to libzmq (which copies it). */
static int
s_set_secret (cons_transport_t *self, void *sock)
{
    sodium_mprotect_readonly (self->curve_sk);
    int rc = zmq_setsockopt (sock, ZMQ_CURVE_SECRETKEY, self->curve_sk, WD_PUBKEY_LEN);
    sodium_mprotect_noaccess (self->curve_sk);
    return rc;
}

/* ---- the reactor's items ---------------------------------------------------- */

static int
s_on_router (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int
s_on_zap (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int
s_on_monitor (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static int
s_on_beacon (zloop_t *loop, zmq_pollitem_t *item, void *arg);
static void
s_beacon_drain (cons_transport_t *self);

static void
s_watch (cons_transport_t *self, void *sock, zloop_fn *handler)
{
    if (!self->loop || !sock)
        return;
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &item, handler, self) != 0)
        wd_log_warnx ("transport: cannot add a socket to the reactor");
}

static void
s_unwatch (cons_transport_t *self, void *sock)
{
    if (!self->loop || !sock)
        return;
    zmq_pollitem_t item = { .socket = sock, .events = ZMQ_POLLIN };
    zloop_poller_end (self->loop, &item);
}

/* ---- peers --------------------------------------------------------------------- */

static void
s_dealer_close (cons_transport_t *self, s_peer_t *peer)
{
    if (peer->monitor) {
        s_unwatch (self, peer->monitor);
        zmq_socket_monitor (peer->dealer, NULL, 0);
        zmq_close (peer->monitor);
        peer->monitor = NULL;
    }
    if (peer->dealer) {
        zmq_close (peer->dealer);
        peer->dealer = NULL;
    }
    if (peer->info.state != CONS_PEER_BANNED)
        peer->info.state = CONS_PEER_IDLE;
}

/* Creates the DEALER (CURVE client of the peer's key) and its monitor and
   connects it to peer->info.endpoint. */
static int
s_dealer_open (cons_transport_t *self, s_peer_t *peer)
{
    assert (!peer->dealer && peer->info.endpoint[0]);
    void *dealer = zmq_socket (self->ctx, ZMQ_DEALER);
    if (!dealer)
        return WD_ERR_NOMEM;
    int rc = s_common_options (self, dealer);
    if (rc == 0)
        rc = s_setopt_int (dealer, ZMQ_SNDHWM, self->config.sndhwm);
    if (rc == 0)
        rc = s_setopt_int (dealer, ZMQ_RECONNECT_IVL, self->config.reconnect_ms);
    if (rc == 0)
        rc = s_setopt_int (dealer, ZMQ_RECONNECT_IVL_MAX, self->config.reconnect_max_ms);
    /* A connect() whose SYNs go unanswered (the peer's network is cut)
       would otherwise wait out the kernel's SYN backoff — over a minute —
       and reach a healed peer only at its next retransmission; give up
       after CONS_TRANSPORT_CONNECT_MS and retry on the reconnect backoff. */
    if (rc == 0)
        rc = s_setopt_int (dealer, ZMQ_CONNECT_TIMEOUT, CONS_TRANSPORT_CONNECT_MS);
    /* Nothing is ever sent back on this connection and it is never read:
       keep what a hostile server could park in it small. The limit also
       applies to handshake commands (WELCOME is 168 bytes). */
    if (rc == 0) {
        int64_t small = 4096;
        rc = zmq_setsockopt (dealer, ZMQ_MAXMSGSIZE, &small, sizeof small);
    }
    if (rc == 0)
        rc = s_setopt_int (dealer, ZMQ_RCVHWM, 1);
    if (rc == 0)
        rc = zmq_setsockopt (dealer, ZMQ_CURVE_SERVERKEY, peer->cert.curve_pk, WD_PUBKEY_LEN);
    if (rc == 0)
        rc = zmq_setsockopt (dealer, ZMQ_CURVE_PUBLICKEY, self->self.curve_pk, WD_PUBKEY_LEN);
    if (rc == 0)
        rc = s_set_secret (self, dealer);
    char monitor_ep[64];
    snprintf (monitor_ep, sizeof monitor_ep, "inproc://cons-transport-monitor-%u",
              self->monitor_seq++);
    void *monitor = NULL;
    if (rc == 0)
        rc = zmq_socket_monitor (dealer, monitor_ep, S_MON_EVENTS);
    if (rc == 0) {
        monitor = zmq_socket (self->ctx, ZMQ_PAIR);
        rc = monitor ? s_setopt_int (monitor, ZMQ_LINGER, 0) : -1;
        if (rc == 0)
            rc = zmq_connect (monitor, monitor_ep);
    }
    if (rc != 0) {
        wd_log_warnx ("transport: peer %.8s: cannot set up a socket: %s", peer->id_hex,
                      zmq_strerror (zmq_errno ()));
        goto out_close;
    }
    if (zmq_connect (dealer, peer->info.endpoint) != 0) {
        wd_log_warnx ("transport: peer %.8s: cannot connect to %s: %s", peer->id_hex,
                      peer->info.endpoint, zmq_strerror (zmq_errno ()));
        rc = WD_ERR_BAD_VALUE;
        goto out_close;
    }
    peer->dealer = dealer;
    peer->monitor = monitor;
    peer->info.state = CONS_PEER_CONNECTING;
    s_watch (self, monitor, s_on_monitor);
    return 0;

out_close:
    if (monitor) {
        zmq_socket_monitor (dealer, NULL, 0);
        zmq_close (monitor);
    }
    zmq_close (dealer);
    return rc == WD_ERR_BAD_VALUE ? WD_ERR_BAD_VALUE : WD_ERR_NOMEM;
}

static void
s_peer_destructor (void **item)
{
    free (*item);
    *item = NULL;
}

static s_peer_t *
s_peer_find (cons_transport_t *self, const uint8_t node_id[WD_PUBKEY_LEN])
{
    char hex[S_HEX_LEN];
    s_hex (hex, node_id);
    return zhashx_lookup (self->peers, hex);
}

static void
s_peer_remove (cons_transport_t *self, s_peer_t *peer)
{
    s_dealer_close (self, peer);
    zhashx_delete (self->by_curve, peer->curve_hex);
    zhashx_delete (self->peers, peer->id_hex); /* frees peer */
}

/* ---- the ROUTER ------------------------------------------------------------------- */

static void *
s_router_open (cons_transport_t *self, const char *endpoint)
{
    void *router = zmq_socket (self->ctx, ZMQ_ROUTER);
    if (!router)
        return NULL;
    int64_t maxmsg = (int64_t)(self->config.max_frame + S_MAXMSG_SLACK);
    int rc = s_common_options (self, router);
    if (rc == 0)
        rc = s_setopt_int (router, ZMQ_CURVE_SERVER, 1);
    if (rc == 0)
        rc = s_set_secret (self, router);
    if (rc == 0)
        rc = zmq_setsockopt (router, ZMQ_ZAP_DOMAIN, CONS_TRANSPORT_ZAP_DOMAIN,
                             strlen (CONS_TRANSPORT_ZAP_DOMAIN));
    if (rc == 0)
        rc = zmq_setsockopt (router, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    /* The listener of a closed ROUTER goes away asynchronously: retry. */
    for (int tries = 0; rc == 0; tries++) {
        rc = zmq_bind (router, endpoint);
        if (rc == 0 || zmq_errno () != EADDRINUSE || tries >= S_REBIND_TRIES)
            break;
        zclock_sleep (S_REBIND_SLEEP_MS);
        rc = 0;
    }
    if (rc != 0) {
        wd_log_warnx ("transport: cannot bind %s: %s", endpoint, zmq_strerror (zmq_errno ()));
        zmq_close (router);
        return NULL;
    }
    return router;
}

/* Replaces the ROUTER with a new one on the same endpoint, which cuts every
   inbound connection; honest peers reconnect, banned ones meet the ZAP
   refusal. Only called outside dispatch. */
static void
s_router_rebind (cons_transport_t *self)
{
    self->rebind_pending = false;
    s_unwatch (self, self->router);
    zmq_close (self->router);
    self->router = s_router_open (self, self->endpoint);
    if (!self->router)
        wd_fatalx ("transport: lost the inbound socket on %s", self->endpoint);
    self->stats.router_rebinds++;
    s_watch (self, self->router, s_on_router);
}

static void
s_dispatch_begin (cons_transport_t *self)
{
    self->dispatching++;
}

static void
s_dispatch_end (cons_transport_t *self)
{
    if (--self->dispatching == 0 && self->rebind_pending)
        s_router_rebind (self);
}

static void
s_observer_reject (cons_transport_t *self, s_peer_t *peer, int reason)
{
    self->stats.observer_rejected++;
    s_count_reject (self, peer, reason);
    wd_log_info ("transport: observer %.8s: frame refused: %s", peer ? peer->id_hex : "?",
                 cons_err_name (reason));
}

/* Hands an observer's channel-6 body to on_observe; its refusal is counted
   against the observer (looked up again: the callback may change the set). */
static int
s_observer_deliver (cons_transport_t *self, s_peer_t *peer, const uint8_t *body, size_t body_len,
                    uint64_t now)
{
    char user[S_USER_LEN];
    uint8_t key[WD_PUBKEY_LEN];
    memcpy (user, peer->user, sizeof user);
    memcpy (key, peer->cert.curve_pk, WD_PUBKEY_LEN);
    peer->info.msgs_in++;
    peer->info.bytes_in += body_len;
    peer->info.last_seen_ms = now;
    int reason = self->config.on_observe
                     ? self->config.on_observe (self->config.on_observe_arg, key, body, body_len)
                     : CONS_ERR_OBSERVER_SEND;
    if (reason != 0)
        s_observer_reject (self, zhashx_lookup (self->observers, user), reason);
    return reason;
}

/* Reads up to S_BATCH messages; returns how many were delivered. */
static int
s_router_drain (cons_transport_t *self)
{
    int delivered = 0;
    s_dispatch_begin (self);
    for (int n = 0; n < S_BATCH && !self->rebind_pending; n++) {
        zmq_msg_t routing, frame;
        zmq_msg_init (&routing);
        if (zmq_msg_recv (&routing, self->router, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&routing);
            break;
        }
        bool more = zmq_msg_more (&routing);
        zmq_msg_close (&routing);
        if (!more)
            continue; /* a ROUTER always has a routing id first */
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->router, 0) < 0) {
            zmq_msg_close (&frame);
            break;
        }
        int reason = 0;
        if (zmq_msg_more (&frame)) {
            reason = CONS_ERR_FRAME_PARTS;
            zmq_msg_t rest;
            zmq_msg_init (&rest);
            while (zmq_msg_recv (&rest, self->router, 0) >= 0 && zmq_msg_more (&rest))
                ;
            zmq_msg_close (&rest);
        }
        const char *user = zmq_msg_gets (&frame, "User-Id");
        s_peer_t *peer = user ? zhashx_lookup (self->peers, user) : NULL;
        if (!peer && user)
            peer = zhashx_lookup (self->observers, user);
        uint64_t now = (uint64_t)zclock_mono ();
        uint8_t channel = 0;
        const uint8_t *body = NULL;
        size_t body_len = 0;
        if (!peer)
            reason = CONS_ERR_PEER_UNKNOWN;
        else if (reason == 0 && s_banned (peer, now))
            reason = CONS_ERR_PEER_BANNED;
        if (reason == 0)
            reason =
                cons_transport_frame_decode (zmq_msg_data (&frame), zmq_msg_size (&frame),
                                             self->config.max_frame, &channel, &body, &body_len);
        /* Channel 6 is the observers' and only theirs. */
        if (reason == 0 && !peer->observer && channel == CONS_CHANNEL_OBSERVE)
            reason = CONS_ERR_FRAME_CHANNEL;
        if (reason == 0 && peer->observer && channel != CONS_CHANNEL_OBSERVE)
            reason = CONS_ERR_OBSERVER_SEND;
        if (peer && peer->observer) {
            if (reason == 0)
                reason = s_observer_deliver (self, peer, body, body_len, now);
            else
                s_observer_reject (self, peer, reason);
            zmq_msg_close (&frame);
            continue;
        }
        if (reason != 0) {
            s_count_reject (self, peer, reason);
            if (peer)
                wd_log_debug ("transport: peer %.8s: frame refused: %s", peer->id_hex,
                              cons_err_name (reason));
        } else {
            uint8_t from[WD_PUBKEY_LEN];
            memcpy (from, peer->cert.sign_pk, WD_PUBKEY_LEN);
            peer->info.msgs_in++;
            peer->info.bytes_in += body_len;
            peer->info.last_seen_ms = now;
            /* A peer we lost is back (it reached us): redial it now rather
               than after libzmq's backoff, up to reconnect_max_ms, during
               which our answers to it would be lost. */
            peer->redial = peer->redial || peer->lost;
            delivered++;
            if (self->config.on_recv)
                self->config.on_recv (self->config.on_recv_arg, from, channel, body, body_len);
        }
        zmq_msg_close (&frame);
    }
    s_dispatch_end (self);
    return delivered;
}

static int
s_on_router (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_router_drain (arg);
    return 0;
}

/* ---- ZAP (RFC 27) -------------------------------------------------------------------- */

static void
s_zap_reply (cons_transport_t *self, const char *request_id, size_t request_id_len,
             const char *status, const char *text, const char *user)
{
    zmq_send (self->zap, "1.0", 3, ZMQ_SNDMORE);
    zmq_send (self->zap, request_id, request_id_len, ZMQ_SNDMORE);
    zmq_send (self->zap, status, strlen (status), ZMQ_SNDMORE);
    zmq_send (self->zap, text, strlen (text), ZMQ_SNDMORE);
    zmq_send (self->zap, user, strlen (user), ZMQ_SNDMORE);
    zmq_send (self->zap, "", 0, 0);
}

/* Answers one ZAP request: 200 with the node id as User-Id for a CURVE key
   bound by a known, unbanned certificate; 400 for anything else. */
static bool
s_zap_handle (cons_transport_t *self)
{
    char parts[S_ZAP_PARTS][S_ZAP_PART_MAX];
    size_t sizes[S_ZAP_PARTS] = { 0 };
    size_t count = 0;
    int more = 1;
    while (more) {
        char scratch[S_ZAP_PART_MAX];
        char *into = count < S_ZAP_PARTS ? parts[count] : scratch;
        int n = zmq_recv (self->zap, into, S_ZAP_PART_MAX, count == 0 ? ZMQ_DONTWAIT : 0);
        if (n < 0)
            return false;
        if (count < S_ZAP_PARTS)
            sizes[count] = (size_t)n > S_ZAP_PART_MAX ? S_ZAP_PART_MAX + 1 : (size_t)n;
        count++;
        size_t more_size = sizeof more;
        if (zmq_getsockopt (self->zap, ZMQ_RCVMORE, &more, &more_size) != 0)
            more = 0;
    }
    /* version, request id, domain, address, routing id, mechanism, key */
    if (count < 6 || sizes[1] > S_ZAP_PART_MAX) {
        self->stats.zap_unknown++;
        s_zap_reply (self, "", 0, "400", "malformed ZAP request", "");
        return true;
    }
    bool curve = count == 7 && sizes[5] == 5 && memcmp (parts[5], "CURVE", 5) == 0 &&
                 sizes[6] == WD_PUBKEY_LEN && sizes[0] == 3 && memcmp (parts[0], "1.0", 3) == 0;
    s_peer_t *peer = NULL;
    if (curve) {
        char hex[S_HEX_LEN];
        s_hex (hex, (const uint8_t *)parts[6]);
        peer = zhashx_lookup (self->by_curve, hex);
        if (!peer) {
            char user[S_USER_LEN];
            snprintf (user, sizeof user, "%s%s", CONS_TRANSPORT_OBSERVER_USER, hex);
            peer = zhashx_lookup (self->observers, user);
        }
    }
    if (peer && peer->observer) {
        self->stats.zap_allowed++;
        self->stats.zap_observers++;
        s_zap_reply (self, parts[1], sizes[1], "200", "OK", peer->user);
    } else if (!peer) {
        self->stats.zap_unknown++;
        s_zap_reply (self, parts[1], sizes[1], "400", "unknown key", "");
    } else if (s_banned (peer, (uint64_t)zclock_mono ())) {
        self->stats.zap_banned++;
        peer->info.zap_refused++;
        s_zap_reply (self, parts[1], sizes[1], "400", "banned", "");
    } else {
        self->stats.zap_allowed++;
        s_zap_reply (self, parts[1], sizes[1], "200", "OK", peer->id_hex);
    }
    return true;
}

static void
s_zap_drain (cons_transport_t *self)
{
    s_dispatch_begin (self);
    for (int n = 0; n < S_BATCH && s_zap_handle (self); n++)
        ;
    s_dispatch_end (self);
}

static int
s_on_zap (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_zap_drain (arg);
    return 0;
}

/* ---- DEALER monitors ------------------------------------------------------------------- */

static s_peer_t *
s_peer_by_monitor (cons_transport_t *self, void *monitor)
{
    for (s_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        if (peer->monitor == monitor)
            return peer;
    for (s_peer_t *peer = zhashx_first (self->observers); peer;
         peer = zhashx_next (self->observers))
        if (peer->monitor == monitor)
            return peer;
    return NULL;
}

/* libzmq 4.3.4 never reconnects a DEALER whose handshake the server
   refused (ZAP 400): the connecter is terminated. So the refusal starts our
   own backoff, and cons_transport_send makes a new DEALER when it is over
   (a ban elsewhere expires, a cert set catches up). */
static void
s_monitor_drain (cons_transport_t *self, s_peer_t *peer)
{
    for (int n = 0; n < S_BATCH; n++) {
        uint8_t event[6];
        int size = zmq_recv (peer->monitor, event, sizeof event, ZMQ_DONTWAIT);
        if (size < 0)
            break;
        int more = 0;
        size_t more_size = sizeof more;
        char ignored[8];
        zmq_getsockopt (peer->monitor, ZMQ_RCVMORE, &more, &more_size);
        if (more)
            (void)zmq_recv (peer->monitor, ignored, sizeof ignored, 0); /* endpoint */
        if (size != (int)sizeof event || peer->info.state == CONS_PEER_BANNED)
            continue;
        uint16_t id; /* host byte order */
        memcpy (&id, event, sizeof id);
        if (id == ZMQ_EVENT_HANDSHAKE_SUCCEEDED) {
            peer->info.state = CONS_PEER_UP;
            peer->retry_ms = 0;
            peer->lost = false;
        } else if (id == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            peer->info.state = CONS_PEER_REFUSED;
            int max = self->config.reconnect_max_ms;
            peer->retry_ms = peer->retry_ms == 0
                                 ? self->config.reconnect_ms
                                 : (peer->retry_ms > max / 2 ? max : 2 * peer->retry_ms);
            peer->retry_at = (uint64_t)zclock_mono () + (uint64_t)peer->retry_ms;
        } else if (id == ZMQ_EVENT_DISCONNECTED && peer->info.state == CONS_PEER_UP) {
            peer->info.state = CONS_PEER_CONNECTING;
            peer->lost = true;
        } else if (id != ZMQ_EVENT_DISCONNECTED)
            peer->info.state = CONS_PEER_CONNECTING;
    }
}

static int
s_on_monitor (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    cons_transport_t *self = arg;
    s_peer_t *peer = s_peer_by_monitor (self, item->socket);
    if (peer)
        s_monitor_drain (self, peer);
    return 0;
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static int
s_peers_load (cons_transport_t *self, const wd_cert_t *certs, size_t count)
{
    for (size_t i = 0; i < count; i++) {
        if (sodium_memcmp (certs[i].sign_pk, self->self.sign_pk, WD_PUBKEY_LEN) == 0)
            continue;
        char hex[S_HEX_LEN];
        s_hex (hex, certs[i].sign_pk);
        s_peer_t *peer = zhashx_lookup (self->peers, hex);
        if (peer) {
            /* Already known (set_certs dropped peers whose CURVE key
               changed), or the same node twice in the list: first wins. */
            if (sodium_memcmp (peer->cert.curve_pk, certs[i].curve_pk, WD_PUBKEY_LEN) != 0)
                continue;
            peer->cert = certs[i];
            memcpy (peer->info.name, certs[i].name, sizeof peer->info.name);
            continue;
        }
        peer = calloc (1, sizeof *peer);
        if (!peer)
            return WD_ERR_NOMEM;
        peer->cert = certs[i];
        memcpy (peer->id_hex, hex, S_HEX_LEN);
        s_hex (peer->curve_hex, certs[i].curve_pk);
        memcpy (peer->info.node_id, certs[i].sign_pk, WD_PUBKEY_LEN);
        memcpy (peer->info.name, certs[i].name, sizeof peer->info.name);
        if (zhashx_insert (self->peers, hex, peer) != 0) {
            free (peer); /* the same cert twice: keep the first */
            continue;
        }
        /* Two certs with one CURVE key: the first one wins the ZAP lookup. */
        (void)zhashx_insert (self->by_curve, peer->curve_hex, peer);
    }
    return 0;
}

cons_transport_t *
cons_transport_new (const cons_transport_config_t *config)
{
    assert (config && config->self && config->curve_sk && config->bind);
    assert (config->certs || config->cert_count == 0);
    if (sodium_init () < 0)
        return NULL;
    cons_transport_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->config = *config;
    self->config.self = NULL;
    self->config.curve_sk = NULL;
    self->config.certs = NULL;
    self->config.bind = NULL;
    if (self->config.max_frame == 0)
        self->config.max_frame = CONS_TRANSPORT_MAX_FRAME;
    if (self->config.max_frame < 64)
        self->config.max_frame = 64;
    if (self->config.sndhwm <= 0)
        self->config.sndhwm = CONS_TRANSPORT_SNDHWM;
    if (self->config.reconnect_ms <= 0)
        self->config.reconnect_ms = CONS_TRANSPORT_RECONNECT_MS;
    if (self->config.reconnect_max_ms <= 0)
        self->config.reconnect_max_ms = CONS_TRANSPORT_RECONNECT_MAX;
    if (self->config.heartbeat_ms == 0)
        self->config.heartbeat_ms = CONS_TRANSPORT_HEARTBEAT_MS;
    if (self->config.heartbeat_ttl_ms <= 0)
        self->config.heartbeat_ttl_ms = CONS_TRANSPORT_HEARTBEAT_TTL;
    self->self = *config->self;

    uint8_t derived[WD_PUBKEY_LEN];
    self->curve_sk = sodium_malloc (WD_PUBKEY_LEN);
    self->peers = zhashx_new ();
    self->by_curve = zhashx_new ();
    self->observers = zhashx_new ();
    if (!self->curve_sk || !self->peers || !self->by_curve || !self->observers)
        goto out_fail;
    memcpy (self->curve_sk, config->curve_sk, WD_PUBKEY_LEN);
    if (crypto_scalarmult_base (derived, self->curve_sk) != 0 ||
        sodium_memcmp (derived, self->self.curve_pk, WD_PUBKEY_LEN) != 0) {
        wd_log_warnx ("transport: the CURVE secret key does not match the certificate");
        goto out_fail;
    }
    sodium_mprotect_noaccess (self->curve_sk);
    zhashx_set_destructor (self->peers, s_peer_destructor);
    zhashx_set_destructor (self->observers, s_peer_destructor);
    if (s_peers_load (self, config->certs, config->cert_count) != 0)
        goto out_fail;

    self->ctx = zmq_ctx_new ();
    if (!self->ctx || zmq_ctx_set (self->ctx, ZMQ_IO_THREADS, 1) != 0)
        goto out_fail;
    /* The ZAP handler must be bound before the ROUTER accepts anyone. */
    self->zap = zmq_socket (self->ctx, ZMQ_REP);
    if (!self->zap || s_setopt_int (self->zap, ZMQ_LINGER, 0) != 0 ||
        zmq_bind (self->zap, "inproc://zeromq.zap.01") != 0) {
        wd_log_warnx ("transport: cannot bind the ZAP handler: %s", zmq_strerror (zmq_errno ()));
        goto out_fail;
    }
    self->router = s_router_open (self, config->bind);
    if (!self->router)
        goto out_fail;
    size_t ep_len = sizeof self->endpoint;
    if (zmq_getsockopt (self->router, ZMQ_LAST_ENDPOINT, self->endpoint, &ep_len) != 0)
        goto out_fail;
    return self;

out_fail:
    cons_transport_destroy (&self);
    return NULL;
}

void
cons_transport_destroy (cons_transport_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        cons_transport_t *self = *self_p;
        cons_transport_beacon_stop (self);
        cons_transport_detach (self);
        if (self->peers) {
            for (s_peer_t *peer = zhashx_first (self->peers); peer;
                 peer = zhashx_next (self->peers))
                s_dealer_close (self, peer);
            zhashx_destroy (&self->peers);
        }
        if (self->observers) {
            for (s_peer_t *peer = zhashx_first (self->observers); peer;
                 peer = zhashx_next (self->observers))
                s_dealer_close (self, peer);
            zhashx_destroy (&self->observers);
        }
        zhashx_destroy (&self->by_curve);
        if (self->router)
            zmq_close (self->router);
        if (self->zap)
            zmq_close (self->zap);
        if (self->ctx)
            zmq_ctx_term (self->ctx);
        sodium_free (self->curve_sk); /* wipes */
        free (self);
        *self_p = NULL;
    }
}

const char *
cons_transport_endpoint (cons_transport_t *self)
{
    assert (self);
    return self->endpoint;
}

int
cons_transport_attach (cons_transport_t *self, zloop_t *loop)
{
    assert (self && loop && !self->loop);
    self->loop = loop;
    s_watch (self, self->zap, s_on_zap);
    s_watch (self, self->router, s_on_router);
    for (s_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        s_watch (self, peer->monitor, s_on_monitor);
    for (s_peer_t *peer = zhashx_first (self->observers); peer;
         peer = zhashx_next (self->observers))
        s_watch (self, peer->monitor, s_on_monitor);
    if (self->beacon)
        s_watch (self, zsock_resolve (self->beacon), s_on_beacon);
    return 0;
}

void
cons_transport_detach (cons_transport_t *self)
{
    assert (self);
    if (!self->loop)
        return;
    s_unwatch (self, self->zap);
    s_unwatch (self, self->router);
    for (s_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        s_unwatch (self, peer->monitor);
    for (s_peer_t *peer = zhashx_first (self->observers); peer;
         peer = zhashx_next (self->observers))
        s_unwatch (self, peer->monitor);
    if (self->beacon)
        s_unwatch (self, zsock_resolve (self->beacon));
    self->loop = NULL;
}

int
cons_transport_poll (cons_transport_t *self, int timeout_ms)
{
    assert (self);
    size_t count = 3 + zhashx_size (self->peers) + zhashx_size (self->observers);
    zmq_pollitem_t *items = calloc (count, sizeof *items);
    if (!items)
        return -1;
    items[0] = (zmq_pollitem_t){ .socket = self->zap, .events = ZMQ_POLLIN };
    items[1] = (zmq_pollitem_t){ .socket = self->router, .events = ZMQ_POLLIN };
    size_t n = 2;
    void *beacon = self->beacon ? zsock_resolve (self->beacon) : NULL;
    if (beacon)
        items[n++] = (zmq_pollitem_t){ .socket = beacon, .events = ZMQ_POLLIN };
    size_t first_monitor = n;
    for (s_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers))
        if (peer->monitor)
            items[n++] = (zmq_pollitem_t){ .socket = peer->monitor, .events = ZMQ_POLLIN };
    for (s_peer_t *peer = zhashx_first (self->observers); peer;
         peer = zhashx_next (self->observers))
        if (peer->monitor)
            items[n++] = (zmq_pollitem_t){ .socket = peer->monitor, .events = ZMQ_POLLIN };
    int rc = zmq_poll (items, (int)n, timeout_ms);
    int delivered = 0;
    if (rc < 0) {
        free (items);
        return zmq_errno () == EINTR ? -1 : 0;
    }
    if (items[0].revents & ZMQ_POLLIN)
        s_zap_drain (self);
    if (items[1].revents & ZMQ_POLLIN)
        delivered += s_router_drain (self);
    if (beacon && (items[2].revents & ZMQ_POLLIN))
        s_beacon_drain (self);
    for (size_t i = first_monitor; i < n; i++) {
        if (!(items[i].revents & ZMQ_POLLIN))
            continue;
        s_peer_t *peer = s_peer_by_monitor (self, items[i].socket);
        if (peer)
            s_monitor_drain (self, peer);
    }
    free (items);
    return delivered;
}

/* ---- commands ---------------------------------------------------------------------------- */

int
cons_transport_set_endpoint (cons_transport_t *self, const uint8_t node_id[WD_PUBKEY_LEN],
                             const char *endpoint)
{
    assert (self && node_id);
    s_peer_t *peer = s_peer_find (self, node_id);
    if (!peer)
        return CONS_ERR_PEER_UNKNOWN;
    if (endpoint && (endpoint[0] == '\0' || strlen (endpoint) > CONS_TRANSPORT_ENDPOINT_MAX))
        return WD_ERR_BAD_VALUE;
    if (endpoint && peer->dealer && strcmp (endpoint, peer->info.endpoint) == 0)
        return 0; /* unchanged: keep the connection and its queue */
    s_dealer_close (self, peer);
    if (!endpoint) {
        peer->info.endpoint[0] = '\0';
        return 0;
    }
    snprintf (peer->info.endpoint, sizeof peer->info.endpoint, "%s", endpoint);
    peer->discovered = false;
    if (s_banned (peer, (uint64_t)zclock_mono ()))
        return 0; /* connects when the ban has run out */
    int rc = s_dealer_open (self, peer);
    if (rc != 0)
        peer->info.endpoint[0] = '\0';
    return rc;
}

int
cons_transport_set_certs (cons_transport_t *self, const wd_cert_t *certs, size_t count)
{
    assert (self && (certs || count == 0));
    /* Drop peers whose node id or CURVE key is no longer certified. */
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return WD_ERR_NOMEM;
    for (s_peer_t *peer = zhashx_first (self->peers); peer; peer = zhashx_next (self->peers)) {
        bool kept = false;
        for (size_t i = 0; i < count && !kept; i++)
            kept = sodium_memcmp (certs[i].sign_pk, peer->cert.sign_pk, WD_PUBKEY_LEN) == 0 &&
                   sodium_memcmp (certs[i].curve_pk, peer->cert.curve_pk, WD_PUBKEY_LEN) == 0;
        if (!kept)
            zlistx_add_end (gone, peer);
    }
    for (s_peer_t *peer = zlistx_first (gone); peer; peer = zlistx_next (gone))
        s_peer_remove (self, peer);
    zlistx_destroy (&gone);
    return s_peers_load (self, certs, count);
}

/* Queues one frame on the peer's (or observer's) DEALER. */
static int
s_send (cons_transport_t *self, s_peer_t *peer, uint8_t channel, const uint8_t *body,
        size_t body_len)
{
    if (body_len > self->config.max_frame - CONS_TRANSPORT_HEADER)
        return CONS_ERR_FRAME_SIZE;
    uint64_t now = (uint64_t)zclock_mono ();
    if (s_banned (peer, now))
        return CONS_ERR_PEER_BANNED;
    if (peer->info.state == CONS_PEER_BANNED) {
        peer->info.state = CONS_PEER_IDLE; /* the ban ran out */
        peer->info.banned_until_ms = 0;
    }
    if (!peer->info.endpoint[0])
        return CONS_ERR_PEER_NO_ENDPOINT;
    if (peer->dealer &&
        ((peer->info.state == CONS_PEER_REFUSED && now >= peer->retry_at) || peer->redial))
        s_dealer_close (self, peer);
    peer->redial = false;
    peer->lost = false;
    if (!peer->dealer) {
        int rc = s_dealer_open (self, peer);
        if (rc != 0)
            return rc;
    }
    zmq_msg_t msg;
    if (zmq_msg_init_size (&msg, CONS_TRANSPORT_HEADER + body_len) != 0)
        return WD_ERR_NOMEM;
    uint8_t *data = zmq_msg_data (&msg);
    data[0] = CONS_TRANSPORT_VERSION;
    data[1] = channel;
    if (body_len)
        memcpy (data + CONS_TRANSPORT_HEADER, body, body_len);
    if (zmq_msg_send (&msg, peer->dealer, ZMQ_DONTWAIT) < 0) {
        zmq_msg_close (&msg);
        peer->info.drops++;
        return CONS_ERR_QUEUE_FULL;
    }
    peer->info.msgs_out++;
    peer->info.bytes_out += body_len;
    return 0;
}

int
cons_transport_send (cons_transport_t *self, const uint8_t to[WD_PUBKEY_LEN], uint8_t channel,
                     const uint8_t *body, size_t body_len)
{
    assert (self && to && (body || body_len == 0));
    if (!cons_transport_channel_valid (channel) || channel == CONS_CHANNEL_OBSERVE)
        return CONS_ERR_FRAME_CHANNEL;
    s_peer_t *peer = s_peer_find (self, to);
    if (!peer)
        return CONS_ERR_PEER_UNKNOWN;
    return s_send (self, peer, channel, body, body_len);
}

/* ---- observers ---------------------------------------------------------------------------- */

static s_peer_t *
s_observer_find (cons_transport_t *self, const uint8_t key[WD_PUBKEY_LEN])
{
    char hex[S_HEX_LEN], user[S_USER_LEN];
    s_hex (hex, key);
    snprintf (user, sizeof user, "%s%s", CONS_TRANSPORT_OBSERVER_USER, hex);
    return zhashx_lookup (self->observers, user);
}

int
cons_transport_set_observers (cons_transport_t *self, const uint8_t (*keys)[WD_PUBKEY_LEN],
                              size_t count)
{
    assert (self && (keys || count == 0));
    if (count > CONS_TRANSPORT_OBSERVERS_MAX)
        return WD_ERR_OUT_OF_RANGE;
    zlistx_t *gone = zlistx_new ();
    if (!gone)
        return WD_ERR_NOMEM;
    for (s_peer_t *peer = zhashx_first (self->observers); peer;
         peer = zhashx_next (self->observers)) {
        bool kept = false;
        for (size_t i = 0; i < count && !kept; i++)
            kept = sodium_memcmp (keys[i], peer->cert.curve_pk, WD_PUBKEY_LEN) == 0;
        if (!kept)
            zlistx_add_end (gone, peer);
    }
    for (s_peer_t *peer = zlistx_first (gone); peer; peer = zlistx_next (gone)) {
        s_dealer_close (self, peer);
        zhashx_delete (self->observers, peer->user); /* frees peer */
    }
    zlistx_destroy (&gone);
    for (size_t i = 0; i < count; i++) {
        if (s_observer_find (self, keys[i]))
            continue;
        s_peer_t *peer = calloc (1, sizeof *peer);
        if (!peer)
            return WD_ERR_NOMEM;
        peer->observer = true;
        memcpy (peer->cert.curve_pk, keys[i], WD_PUBKEY_LEN);
        snprintf (peer->cert.name, sizeof peer->cert.name, "observer");
        s_hex (peer->id_hex, keys[i]);
        memcpy (peer->curve_hex, peer->id_hex, S_HEX_LEN);
        snprintf (peer->user, sizeof peer->user, "%s%s", CONS_TRANSPORT_OBSERVER_USER,
                  peer->id_hex);
        memcpy (peer->info.node_id, keys[i], WD_PUBKEY_LEN);
        snprintf (peer->info.name, sizeof peer->info.name, "observer");
        if (zhashx_insert (self->observers, peer->user, peer) != 0)
            free (peer);
    }
    return 0;
}

int
cons_transport_observer_endpoint (cons_transport_t *self, const uint8_t key[WD_PUBKEY_LEN],
                                  const char *endpoint)
{
    assert (self && key);
    s_peer_t *peer = s_observer_find (self, key);
    if (!peer)
        return CONS_ERR_PEER_UNKNOWN;
    if (endpoint && (strncmp (endpoint, "tcp://", 6) != 0 || endpoint[6] == '\0' ||
                     strlen (endpoint) > CONS_TRANSPORT_ENDPOINT_MAX))
        return WD_ERR_BAD_VALUE;
    if (endpoint && peer->dealer && strcmp (endpoint, peer->info.endpoint) == 0)
        return 0; /* unchanged: keep the connection and its queue */
    s_dealer_close (self, peer);
    if (!endpoint) {
        peer->info.endpoint[0] = '\0';
        return 0;
    }
    snprintf (peer->info.endpoint, sizeof peer->info.endpoint, "%s", endpoint);
    int rc = s_dealer_open (self, peer);
    if (rc != 0)
        peer->info.endpoint[0] = '\0';
    return rc;
}

int
cons_transport_observer_send (cons_transport_t *self, const uint8_t key[WD_PUBKEY_LEN],
                              const uint8_t *body, size_t body_len)
{
    assert (self && key && (body || body_len == 0));
    s_peer_t *peer = s_observer_find (self, key);
    if (!peer)
        return CONS_ERR_PEER_UNKNOWN;
    return s_send (self, peer, CONS_CHANNEL_OBSERVE, body, body_len);
}

int
cons_transport_ban (cons_transport_t *self, const uint8_t node_id[WD_PUBKEY_LEN], uint64_t until_ms)
{
    assert (self && node_id);
    s_peer_t *peer = s_peer_find (self, node_id);
    if (!peer)
        return CONS_ERR_PEER_UNKNOWN;
    if (until_ms == 0) {
        peer->info.banned_until_ms = 0;
        if (peer->info.state == CONS_PEER_BANNED)
            peer->info.state = CONS_PEER_IDLE;
        return 0;
    }
    peer->info.banned_until_ms = until_ms;
    peer->info.state = CONS_PEER_BANNED;
    s_dealer_close (self, peer);
    wd_log_info ("transport: peer %.8s banned for %llu ms", peer->id_hex,
                 (unsigned long long)(until_ms - (uint64_t)zclock_mono ()));
    self->rebind_pending = true;
    if (self->dispatching == 0)
        s_router_rebind (self);
    return 0;
}

static int
s_peer_compare (const void *a, const void *b)
{
    const s_peer_t *pa = *(const s_peer_t *const *)a, *pb = *(const s_peer_t *const *)b;
    return memcmp (pa->info.node_id, pb->info.node_id, WD_PUBKEY_LEN);
}

/* The records of one table (peers or observers), ordered by id. */
static size_t
s_list (cons_transport_t *self, zhashx_t *table, cons_transport_peer_t *out, size_t max)
{
    size_t total = zhashx_size (table);
    if (max == 0 || total == 0)
        return total;
    s_peer_t **all = calloc (total, sizeof *all);
    if (!all)
        return 0;
    size_t n = 0;
    for (s_peer_t *peer = zhashx_first (table); peer; peer = zhashx_next (table))
        all[n++] = peer;
    qsort (all, n, sizeof *all, s_peer_compare);
    uint64_t now = (uint64_t)zclock_mono ();
    for (size_t i = 0; i < n && i < max; i++) {
        if (all[i]->monitor)
            s_monitor_drain (self, all[i]);
        out[i] = all[i]->info;
        if (out[i].state == CONS_PEER_BANNED && !s_banned (all[i], now))
            out[i].state = CONS_PEER_IDLE;
    }
    free (all);
    return total;
}

size_t
cons_transport_peers (cons_transport_t *self, cons_transport_peer_t *out, size_t max)
{
    assert (self && (out || max == 0));
    return s_list (self, self->peers, out, max);
}

size_t
cons_transport_observers (cons_transport_t *self, cons_transport_peer_t *out, size_t max)
{
    assert (self && (out || max == 0));
    return s_list (self, self->observers, out, max);
}

void
cons_transport_stats (cons_transport_t *self, cons_transport_stats_t *out)
{
    assert (self && out);
    *out = self->stats;
}

uint64_t
cons_transport_rejections (cons_transport_t *self, int reason)
{
    assert (self);
    for (size_t i = 0; i < S_REASONS; i++)
        if (s_reasons[i] == reason)
            return self->reasons[i];
    return 0;
}

/* ---- LAN discovery ------------------------------------------------------------------------ */

static const uint8_t s_beacon_magic[4] = { 'W', 'D', 'N', 1 };

void
cons_transport_beacon_encode (const uint8_t node_id[WD_PUBKEY_LEN], uint16_t port,
                              uint8_t out[CONS_TRANSPORT_BEACON_LEN])
{
    memcpy (out, s_beacon_magic, sizeof s_beacon_magic);
    memcpy (out + 4, node_id, WD_PUBKEY_LEN);
    wd_put_be (out + 4 + WD_PUBKEY_LEN, port, 2);
}

int
cons_transport_beacon_decode (const uint8_t *data, size_t len, uint8_t node_id[WD_PUBKEY_LEN],
                              uint16_t *port)
{
    memset (node_id, 0, WD_PUBKEY_LEN);
    *port = 0;
    if (len != CONS_TRANSPORT_BEACON_LEN || memcmp (data, s_beacon_magic, 4) != 0)
        return CONS_ERR_BEACON;
    uint16_t value = (uint16_t)wd_get_be (data + 4 + WD_PUBKEY_LEN, 2);
    if (value == 0)
        return CONS_ERR_BEACON;
    memcpy (node_id, data + 4, WD_PUBKEY_LEN);
    *port = value;
    return 0;
}

/* One announcement from address: sets the endpoint of a known peer that
   has none, or whose discovered endpoint changed and is not up. */
static void
s_beacon_use (cons_transport_t *self, const char *address, const uint8_t *data, size_t len)
{
    uint8_t node_id[WD_PUBKEY_LEN];
    uint16_t port;
    char endpoint[CONS_TRANSPORT_ENDPOINT_MAX + 1];
    s_peer_t *peer = NULL;
    if (cons_transport_beacon_decode (data, len, node_id, &port) == 0)
        peer = s_peer_find (self, node_id);
    int n = snprintf (endpoint, sizeof endpoint, "tcp://%s:%u", address, (unsigned)port);
    bool usable = peer && n > 0 && (size_t)n < sizeof endpoint && strchr (address, ':') == NULL;
    if (usable && peer->info.endpoint[0])
        usable = peer->discovered && peer->info.state != CONS_PEER_UP &&
                 strcmp (peer->info.endpoint, endpoint) != 0;
    if (!usable || cons_transport_set_endpoint (self, node_id, endpoint) != 0) {
        self->stats.beacons_ignored++;
        return;
    }
    peer->discovered = true;
    self->stats.beacons_used++;
    wd_log_info ("transport: peer %.8s announced at %s", peer->id_hex, endpoint);
}

static void
s_beacon_drain (cons_transport_t *self)
{
    for (int n = 0; n < S_BATCH; n++) {
        if (!(zsock_events (self->beacon) & ZMQ_POLLIN))
            break;
        zmsg_t *msg = zmsg_recv (self->beacon);
        if (!msg)
            break;
        char *address = zmsg_popstr (msg);
        zframe_t *data = zmsg_pop (msg);
        if (address && data)
            s_beacon_use (self, address, zframe_data (data), zframe_size (data));
        else
            self->stats.beacons_ignored++;
        zstr_free (&address);
        zframe_destroy (&data);
        zmsg_destroy (&msg);
    }
}

static int
s_on_beacon (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_beacon_drain (arg);
    return 0;
}

int
cons_transport_beacon_start (cons_transport_t *self, int udp_port, int interval_ms)
{
    assert (self && udp_port > 0 && udp_port < 65536 && interval_ms > 0);
    if (self->beacon)
        return 0;
    const char *colon = strrchr (self->endpoint, ':');
    char *end = NULL;
    unsigned long port = colon ? strtoul (colon + 1, &end, 10) : 0;
    if (strncmp (self->endpoint, "tcp://", 6) != 0 || port == 0 || port > 65535 || *end != '\0')
        return -1;
    self->beacon = zactor_new (zbeacon, NULL);
    if (!self->beacon)
        return -1;
    zsock_send (self->beacon, "si", "CONFIGURE", udp_port);
    char *hostname = zstr_recv (self->beacon);
    bool ok = hostname && *hostname;
    zstr_free (&hostname);
    if (!ok) {
        zactor_destroy (&self->beacon);
        return -1;
    }
    uint8_t announcement[CONS_TRANSPORT_BEACON_LEN];
    cons_transport_beacon_encode (self->self.sign_pk, (uint16_t)port, announcement);
    zsock_send (self->beacon, "sbi", "PUBLISH", announcement, sizeof announcement, interval_ms);
    zsock_send (self->beacon, "sb", "SUBSCRIBE", s_beacon_magic, sizeof s_beacon_magic);
    s_watch (self, zsock_resolve (self->beacon), s_on_beacon);
    return 0;
}

void
cons_transport_beacon_stop (cons_transport_t *self)
{
    assert (self);
    if (!self->beacon)
        return;
    s_unwatch (self, zsock_resolve (self->beacon));
    zactor_destroy (&self->beacon);
}
