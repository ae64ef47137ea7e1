/*
 * Unit tests for cons_transport: real CURVE sockets on 127.0.0.1 with
 * ephemeral ports. Two and three transports exchange messages on every
 * channel; a client with an unknown CURVE key, a key whose certificate was
 * withdrawn and a banned peer are refused and counted; malformed frames
 * sent by a raw libzmq DEALER holding a known key are rejected with their
 * exact codes; a DEALER reconnects to a transport destroyed and re-created
 * on the same port; a full send queue drops instead of blocking; and the
 * zloop path works with a ban made from inside the receive callback.
 * Observers: admitted by key with their own User-Id, refused on any channel
 * but 6 and by on_observe's reason, pushed to on a DEALER pinned to their
 * key; unlisted keys are refused at ZAP.
 *
 * Waits are bounded (S_WAIT_MS) and only ever wait for an event: nothing
 * asserts on timing.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include <cmocka.h>

#include "cons_transport.h"
#include "test_support.h"

#define S_NODES    4
#define S_WAIT_MS  10000
#define S_INBOX    64
#define S_BODY_MAX 64

typedef struct {
    wd_cert_t cert;
    uint8_t sign_sk[crypto_sign_SECRETKEYBYTES];
    uint8_t curve_sk[32];
} s_node_t;

typedef struct {
    uint8_t from[32];
    uint8_t channel;
    uint8_t body[S_BODY_MAX];
    size_t body_len;
    int64_t at_ms;
} s_msg_t;

typedef struct {
    s_msg_t msgs[S_INBOX];
    size_t count;
    cons_transport_t *self; /* for callbacks that act on their transport */
    const uint8_t *ban;     /* ban this node on its first message */
    uint64_t ban_until;
} s_inbox_t;

static s_node_t s_nodes[S_NODES];
static wd_cert_t s_certs[S_NODES];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    for (int i = 0; i < S_NODES; i++) {
        s_node_t *node = &s_nodes[i];
        wd_cert_t cert = { .created = 1 };
        snprintf (cert.name, sizeof cert.name, "node-%d", i);
        snprintf (cert.key_protection, sizeof cert.key_protection, "software");
        crypto_sign_keypair (cert.sign_pk, node->sign_sk);
        randombytes_buf (cert.vrf_pk, sizeof cert.vrf_pk);
        randombytes_buf (node->curve_sk, sizeof node->curve_sk);
        crypto_scalarmult_base (cert.curve_pk, node->curve_sk);
        /* Go through the real encoding, as genesis certs will. */
        uint8_t *buf;
        size_t len;
        if (wd_cert_seal (&cert, test_sign_fn, node->sign_sk, &buf, &len) != WD_OK)
            return -1;
        wd_err_t err = wd_cert_open (buf, len, &node->cert);
        free (buf);
        if (err != WD_OK)
            return -1;
        s_certs[i] = node->cert;
    }
    return 0;
}

static void
s_on_recv (void *arg, const uint8_t from[32], uint8_t channel, const uint8_t *body, size_t body_len)
{
    s_inbox_t *inbox = arg;
    if (inbox->count < S_INBOX) {
        s_msg_t *msg = &inbox->msgs[inbox->count];
        memcpy (msg->from, from, 32);
        msg->channel = channel;
        msg->body_len = body_len;
        memcpy (msg->body, body, body_len < S_BODY_MAX ? body_len : S_BODY_MAX);
        msg->at_ms = zclock_mono ();
    }
    inbox->count++;
    if (inbox->ban && inbox->count == 1)
        assert_int_equal (cons_transport_ban (inbox->self, inbox->ban, inbox->ban_until), 0);
}

static cons_transport_t *
s_new (int node, size_t cert_count, const char *bind, size_t max_frame, s_inbox_t *inbox)
{
    cons_transport_config_t config = {
        .self = &s_nodes[node].cert,
        .curve_sk = s_nodes[node].curve_sk,
        .certs = s_certs,
        .cert_count = cert_count,
        .bind = bind ? bind : "tcp://127.0.0.1:*",
        .max_frame = max_frame,
        .reconnect_ms = 20,
        .reconnect_max_ms = 200,
        .on_recv = s_on_recv,
        .on_recv_arg = inbox,
    };
    cons_transport_t *self = cons_transport_new (&config);
    assert_non_null (self);
    if (inbox)
        inbox->self = self;
    return self;
}

/* Polls every transport until done() holds or S_WAIT_MS pass; returns
   done()'s last answer. */
typedef bool (s_done_fn) (void *arg);

static bool
s_pump (cons_transport_t **all, size_t n, s_done_fn *done, void *arg)
{
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (!done (arg) && zclock_mono () < deadline)
        for (size_t i = 0; i < n; i++)
            if (all[i])
                cons_transport_poll (all[i], 2);
    return done (arg);
}

/* Polls for a fixed while (used to give a refused message its chance). */
static void
s_pump_for (cons_transport_t **all, size_t n, int ms)
{
    int64_t until = zclock_mono () + ms;
    while (zclock_mono () < until)
        for (size_t i = 0; i < n; i++)
            cons_transport_poll (all[i], 2);
}

typedef struct {
    s_inbox_t *inbox;
    size_t want;
} s_count_t;

static bool
s_have (void *arg)
{
    s_count_t *c = arg;
    return c->inbox->count >= c->want;
}

/* Sends from -> node `to` again and again until inbox holds a message
   (for peers that are not reachable yet: refused, restarting, unknown). */
typedef struct {
    cons_transport_t *from;
    int to;
    s_inbox_t *inbox;
} s_retry_t;

static bool
s_delivered (void *arg)
{
    s_retry_t *r = arg;
    if (r->inbox->count > 0)
        return true;
    (void)cons_transport_send (r->from, s_nodes[r->to].cert.sign_pk, CONS_CHANNEL_AGREE,
                               (const uint8_t *)"again", 5);
    zclock_sleep (5);
    return false;
}

/* Points from's DEALER for node `to` at transport to. */
static void
s_connect (cons_transport_t *from, int to, cons_transport_t *to_transport)
{
    assert_int_equal (cons_transport_set_endpoint (from, s_nodes[to].cert.sign_pk,
                                                   cons_transport_endpoint (to_transport)),
                      0);
}

static const s_msg_t *
s_find (const s_inbox_t *inbox, int from, uint8_t channel)
{
    for (size_t i = 0; i < inbox->count && i < S_INBOX; i++)
        if (memcmp (inbox->msgs[i].from, s_nodes[from].cert.sign_pk, 32) == 0 &&
            inbox->msgs[i].channel == channel)
            return &inbox->msgs[i];
    return NULL;
}

static void
s_body (char *out, size_t size, int from, int to, uint8_t channel)
{
    snprintf (out, size, "from %d to %d on %u", from, to, channel);
}

static const cons_transport_peer_t *
s_peer_info (cons_transport_t *self, int node, cons_transport_peer_t *all, size_t max)
{
    size_t n = cons_transport_peers (self, all, max);
    for (size_t i = 0; i < n && i < max; i++)
        if (memcmp (all[i].node_id, s_nodes[node].cert.sign_pk, 32) == 0)
            return &all[i];
    return NULL;
}

/* ---- a raw libzmq client, to play unknown or misbehaving peers ------------- */

typedef struct {
    void *ctx;
    void *dealer;
} s_raw_t;

static void
s_raw_open (s_raw_t *raw, const uint8_t curve_pk[32], const uint8_t curve_sk[32],
            const uint8_t server_pk[32], const char *endpoint)
{
    raw->ctx = zmq_ctx_new ();
    assert_non_null (raw->ctx);
    raw->dealer = zmq_socket (raw->ctx, ZMQ_DEALER);
    assert_non_null (raw->dealer);
    int zero = 0;
    assert_int_equal (zmq_setsockopt (raw->dealer, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal (zmq_setsockopt (raw->dealer, ZMQ_CURVE_SERVERKEY, server_pk, 32), 0);
    assert_int_equal (zmq_setsockopt (raw->dealer, ZMQ_CURVE_PUBLICKEY, curve_pk, 32), 0);
    assert_int_equal (zmq_setsockopt (raw->dealer, ZMQ_CURVE_SECRETKEY, curve_sk, 32), 0);
    assert_int_equal (zmq_connect (raw->dealer, endpoint), 0);
}

static void
s_raw_send (s_raw_t *raw, const void *data, size_t len, int flags)
{
    assert_int_equal (zmq_send (raw->dealer, data, len, flags), (int)len);
}

static void
s_raw_close (s_raw_t *raw)
{
    zmq_close (raw->dealer);
    zmq_ctx_term (raw->ctx);
}

/* ---- tests --------------------------------------------------------------------- */

static void
test_frame_decode (void **state)
{
    (void)state;
    uint8_t frame[8] = { 1, CONS_CHANNEL_GOSSIP, 'a', 'b' };
    uint8_t channel;
    const uint8_t *body;
    size_t len;
    assert_int_equal (cons_transport_frame_decode (frame, 4, 64, &channel, &body, &len), 0);
    assert_int_equal (channel, CONS_CHANNEL_GOSSIP);
    assert_ptr_equal (body, frame + 2);
    assert_int_equal (len, 2);
    assert_int_equal (cons_transport_frame_decode (frame, 2, 64, &channel, &body, &len), 0);
    assert_int_equal (len, 0);
    assert_int_equal (cons_transport_frame_decode (frame, 4, 3, &channel, &body, &len),
                      CONS_ERR_FRAME_SIZE);
    assert_int_equal (cons_transport_frame_decode (frame, 1, 64, &channel, &body, &len),
                      CONS_ERR_FRAME_SHORT);
    assert_int_equal (cons_transport_frame_decode (frame, 0, 64, &channel, &body, &len),
                      CONS_ERR_FRAME_SHORT);
    frame[0] = 2;
    assert_int_equal (cons_transport_frame_decode (frame, 4, 64, &channel, &body, &len),
                      CONS_ERR_FRAME_VERSION);
    frame[0] = 1;
    frame[1] = 0;
    assert_int_equal (cons_transport_frame_decode (frame, 4, 64, &channel, &body, &len),
                      CONS_ERR_FRAME_CHANNEL);
    frame[1] = CONS_CHANNEL_HELLO + 1;
    assert_int_equal (cons_transport_frame_decode (frame, 4, 64, &channel, &body, &len),
                      CONS_ERR_FRAME_CHANNEL);
    assert_null (body);
    assert_string_equal (cons_err_name (CONS_ERR_FRAME_CHANNEL), "CONS_ERR_FRAME_CHANNEL");
}

static void
test_bad_config (void **state)
{
    (void)state;
    uint8_t wrong[32];
    memset (wrong, 7, sizeof wrong);
    cons_transport_config_t config = { .self = &s_nodes[0].cert,
                                       .curve_sk = wrong,
                                       .bind = "tcp://127.0.0.1:*" };
    assert_null (cons_transport_new (&config)); /* key does not match the cert */
    config.curve_sk = s_nodes[0].curve_sk;
    config.bind = "tcp://no-such-host.invalid:1";
    assert_null (cons_transport_new (&config));
}

/* n transports, every one sends to every other on every channel. */
static void
s_exchange (size_t n)
{
    s_inbox_t inbox[3] = { { .count = 0 } };
    cons_transport_t *t[3] = { NULL };
    for (size_t i = 0; i < n; i++)
        t[i] = s_new ((int)i, n, NULL, 0, &inbox[i]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            if (i != j)
                s_connect (t[i], (int)j, t[j]);
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            for (uint8_t ch = CONS_CHANNEL_MEMBER; ch <= CONS_CHANNEL_SYNC && i != j; ch++) {
                char body[S_BODY_MAX];
                s_body (body, sizeof body, (int)i, (int)j, ch);
                assert_int_equal (cons_transport_send (t[i], s_nodes[j].cert.sign_pk, ch,
                                                       (const uint8_t *)body, strlen (body)),
                                  0);
            }
    for (size_t j = 0; j < n; j++) {
        s_count_t c = { &inbox[j], 4 * (n - 1) };
        assert_true (s_pump (t, n, s_have, &c));
    }
    for (size_t j = 0; j < n; j++) {
        assert_int_equal (inbox[j].count, 4 * (n - 1));
        for (size_t i = 0; i < n; i++)
            for (uint8_t ch = CONS_CHANNEL_MEMBER; ch <= CONS_CHANNEL_SYNC && i != j; ch++) {
                char body[S_BODY_MAX];
                s_body (body, sizeof body, (int)i, (int)j, ch);
                const s_msg_t *msg = s_find (&inbox[j], (int)i, ch);
                assert_non_null (msg);
                assert_int_equal (msg->body_len, strlen (body));
                assert_memory_equal (msg->body, body, msg->body_len);
            }
    }
    /* Counters, as wardenctl peers shows them. */
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (t[0], 1, all, S_NODES);
    assert_non_null (p);
    assert_int_equal (cons_transport_peers (t[0], NULL, 0), n - 1);
    assert_int_equal (p->msgs_in, 4);
    assert_int_equal (p->msgs_out, 4);
    assert_int_equal (p->bytes_out, 4 * strlen ("from 0 to 1 on 1"));
    assert_int_equal (p->bytes_in, 4 * strlen ("from 1 to 0 on 1"));
    assert_true (p->last_seen_ms > 0);
    assert_string_equal (p->name, "node-1");
    assert_string_equal (p->endpoint, cons_transport_endpoint (t[1]));
    assert_int_equal (p->rejected, 0);
    cons_transport_stats_t stats;
    cons_transport_stats (t[0], &stats);
    assert_int_equal (stats.zap_unknown, 0);
    assert_true (stats.zap_allowed >= n - 1);
    for (size_t i = 0; i < n; i++)
        cons_transport_destroy (&t[i]);
    assert_null (t[0]);
}

static void
test_two_transports (void **state)
{
    (void)state;
    s_exchange (2);
}

static void
test_three_transports (void **state)
{
    (void)state;
    s_exchange (3);
}

typedef struct {
    cons_transport_t *self;
    int node;
    cons_peer_state_t state;
} s_state_wait_t;

static bool
s_in_state (void *arg)
{
    s_state_wait_t *w = arg;
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (w->self, w->node, all, S_NODES);
    return p && p->state == w->state;
}

static void
test_send_errors_and_state (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 }, ib = { .count = 0 };
    cons_transport_t *t[2] = { s_new (0, 3, NULL, 256, &ia), s_new (1, 3, NULL, 0, &ib) };
    uint8_t body[300] = { 0 };
    uint8_t stranger[32];
    memset (stranger, 0x5a, sizeof stranger);
    const uint8_t *b = s_nodes[1].cert.sign_pk;
    assert_int_equal (cons_transport_send (t[0], b, CONS_CHANNEL_GOSSIP, body, 1),
                      CONS_ERR_PEER_NO_ENDPOINT);
    assert_int_equal (cons_transport_send (t[0], stranger, CONS_CHANNEL_GOSSIP, body, 1),
                      CONS_ERR_PEER_UNKNOWN);
    assert_int_equal (
        cons_transport_send (t[0], s_nodes[0].cert.sign_pk, CONS_CHANNEL_GOSSIP, body, 1),
        CONS_ERR_PEER_UNKNOWN); /* ourselves */
    assert_int_equal (cons_transport_send (t[0], b, 0, body, 1), CONS_ERR_FRAME_CHANNEL);
    assert_int_equal (cons_transport_send (t[0], b, 6, body, 1), CONS_ERR_FRAME_CHANNEL);
    assert_int_equal (cons_transport_send (t[0], b, CONS_CHANNEL_MEMBER, body, 255),
                      CONS_ERR_FRAME_SIZE);
    assert_int_equal (cons_transport_set_endpoint (t[0], stranger, "tcp://127.0.0.1:1"),
                      CONS_ERR_PEER_UNKNOWN);
    assert_int_equal (cons_transport_set_endpoint (t[0], b, "bogus://x"), WD_ERR_BAD_VALUE);
    assert_int_equal (cons_transport_set_endpoint (t[0], b, cons_transport_endpoint (t[1])), 0);
    s_state_wait_t w = { t[0], 1, CONS_PEER_UP };
    assert_true (s_pump (t, 2, s_in_state, &w));
    /* 254 bytes of body is exactly the 256-byte cap. */
    assert_int_equal (cons_transport_send (t[0], b, CONS_CHANNEL_MEMBER, body, 254), 0);
    s_count_t c = { &ib, 1 };
    assert_true (s_pump (t, 2, s_have, &c));
    assert_int_equal (ib.msgs[0].body_len, 254);
    assert_string_equal (cons_peer_state_name (CONS_PEER_UP), "up");
    cons_transport_destroy (&t[0]);
    cons_transport_destroy (&t[1]);
}

static void
test_unknown_key_refused (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 };
    cons_transport_t *t[1] = { s_new (0, 2, NULL, 0, &ia) };
    uint8_t pk[32], sk[32];
    randombytes_buf (sk, sizeof sk);
    crypto_scalarmult_base (pk, sk);
    s_raw_t raw;
    s_raw_open (&raw, pk, sk, s_nodes[0].cert.curve_pk, cons_transport_endpoint (t[0]));
    const uint8_t frame[] = { 1, CONS_CHANNEL_GOSSIP, 'x' };
    s_raw_send (&raw, frame, sizeof frame, 0);
    cons_transport_stats_t stats = { 0 };
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (stats.zap_unknown == 0 && zclock_mono () < deadline) {
        cons_transport_poll (t[0], 5);
        cons_transport_stats (t[0], &stats);
    }
    assert_true (stats.zap_unknown >= 1);
    assert_int_equal (stats.zap_allowed, 0);
    s_pump_for (t, 1, 100);
    assert_int_equal (ia.count, 0);
    s_raw_close (&raw);
    cons_transport_destroy (&t[0]);
}

static void
test_malformed_frames (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 };
    cons_transport_t *t[1] = { s_new (0, 3, NULL, 1024, &ia) };
    /* Node 2 is known; a raw socket holding its key misbehaves. */
    s_raw_t raw;
    s_raw_open (&raw, s_nodes[2].cert.curve_pk, s_nodes[2].curve_sk, s_nodes[0].cert.curve_pk,
                cons_transport_endpoint (t[0]));
    static uint8_t big[1025];
    big[0] = 1;
    big[1] = CONS_CHANNEL_GOSSIP;
    const uint8_t version[] = { 2, CONS_CHANNEL_GOSSIP, 'v' };
    const uint8_t channel[] = { 1, 9, 'c' };
    const uint8_t shorty[] = { 1 };
    const uint8_t part[] = { 1, CONS_CHANNEL_MEMBER };
    const uint8_t good[] = { 1, CONS_CHANNEL_SYNC, 'o', 'k' };
    s_raw_send (&raw, big, sizeof big, 0);
    s_raw_send (&raw, version, sizeof version, 0);
    s_raw_send (&raw, channel, sizeof channel, 0);
    s_raw_send (&raw, shorty, sizeof shorty, 0);
    s_raw_send (&raw, part, sizeof part, ZMQ_SNDMORE);
    s_raw_send (&raw, part, sizeof part, 0);
    s_raw_send (&raw, big, 1024, 0); /* exactly the cap: accepted */
    s_raw_send (&raw, good, sizeof good, 0);
    s_count_t c = { &ia, 2 };
    assert_true (s_pump (t, 1, s_have, &c));
    assert_int_equal (ia.count, 2);
    assert_int_equal (ia.msgs[0].body_len, 1022);
    assert_memory_equal (ia.msgs[1].from, s_nodes[2].cert.sign_pk, 32);
    assert_int_equal (ia.msgs[1].channel, CONS_CHANNEL_SYNC);
    assert_memory_equal (ia.msgs[1].body, "ok", 2);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_FRAME_SIZE), 1);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_FRAME_VERSION), 1);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_FRAME_CHANNEL), 1);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_FRAME_SHORT), 1);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_FRAME_PARTS), 1);
    assert_int_equal (cons_transport_rejections (t[0], CONS_ERR_PEER_UNKNOWN), 0);
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (t[0], 2, all, S_NODES);
    assert_non_null (p);
    assert_int_equal (p->rejected, 5);
    assert_int_equal (p->last_reject, CONS_ERR_FRAME_PARTS);
    assert_int_equal (p->msgs_in, 2);
    cons_transport_stats_t stats;
    cons_transport_stats (t[0], &stats);
    assert_int_equal (stats.rejected, 5);
    s_raw_close (&raw);
    cons_transport_destroy (&t[0]);
}

static bool
s_rejected_unknown (void *arg)
{
    return cons_transport_rejections (arg, CONS_ERR_PEER_UNKNOWN) >= 1;
}

static void
test_withdrawn_cert_refused (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 }, ib = { .count = 0 };
    cons_transport_t *t[2] = { s_new (0, 2, NULL, 0, &ia), s_new (1, 2, NULL, 0, &ib) };
    const uint8_t hi[] = "hi";
    s_connect (t[1], 0, t[0]);
    assert_int_equal (
        cons_transport_send (t[1], s_nodes[0].cert.sign_pk, CONS_CHANNEL_MEMBER, hi, 2), 0);
    s_count_t c = { &ia, 1 };
    assert_true (s_pump (t, 2, s_have, &c));

    /* The set now lacks node 1 (ledger removed it): its open connection's
       messages are refused, and so is its next handshake. */
    assert_int_equal (cons_transport_set_certs (t[0], s_certs, 1), 0);
    assert_int_equal (cons_transport_peers (t[0], NULL, 0), 0);
    assert_int_equal (
        cons_transport_send (t[1], s_nodes[0].cert.sign_pk, CONS_CHANNEL_MEMBER, hi, 2), 0);
    assert_true (s_pump (t, 2, s_rejected_unknown, t[0]));
    assert_int_equal (ia.count, 1);
    s_raw_t raw;
    s_raw_open (&raw, s_nodes[1].cert.curve_pk, s_nodes[1].curve_sk, s_nodes[0].cert.curve_pk,
                cons_transport_endpoint (t[0]));
    s_raw_send (&raw, "\x01\x01x", 3, 0);
    cons_transport_stats_t stats = { 0 };
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (stats.zap_unknown == 0 && zclock_mono () < deadline) {
        cons_transport_poll (t[0], 5);
        cons_transport_stats (t[0], &stats);
    }
    assert_true (stats.zap_unknown >= 1);
    assert_int_equal (ia.count, 1);
    s_raw_close (&raw);

    /* Put back: node 1 is admitted again (its DEALER reconnects on its
       own only after a disconnect, so use a fresh handshake). */
    assert_int_equal (cons_transport_set_certs (t[0], s_certs, 2), 0);
    s_raw_open (&raw, s_nodes[1].cert.curve_pk, s_nodes[1].curve_sk, s_nodes[0].cert.curve_pk,
                cons_transport_endpoint (t[0]));
    s_raw_send (&raw, "\x01\x01x", 3, 0);
    c.want = 2;
    assert_true (s_pump (t, 2, s_have, &c));
    assert_memory_equal (ia.msgs[1].from, s_nodes[1].cert.sign_pk, 32);
    s_raw_close (&raw);
    cons_transport_destroy (&t[0]);
    cons_transport_destroy (&t[1]);
}

static void
test_ban (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 }, ib = { .count = 0 };
    cons_transport_t *t[2] = { s_new (0, 2, NULL, 0, &ia), s_new (1, 2, NULL, 0, &ib) };
    s_connect (t[0], 1, t[1]);
    s_connect (t[1], 0, t[0]);
    s_state_wait_t w = { t[1], 0, CONS_PEER_UP };
    assert_true (s_pump (t, 2, s_in_state, &w));

    uint64_t until = (uint64_t)zclock_mono () + 700;
    uint8_t stranger[32] = { 0 };
    assert_int_equal (cons_transport_ban (t[0], stranger, until), CONS_ERR_PEER_UNKNOWN);
    assert_int_equal (cons_transport_ban (t[0], s_nodes[1].cert.sign_pk, until), 0);
    assert_int_equal (cons_transport_send (t[0], s_nodes[1].cert.sign_pk, CONS_CHANNEL_GOSSIP,
                                           (const uint8_t *)"x", 1),
                      CONS_ERR_PEER_BANNED);
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (t[0], 1, all, S_NODES);
    assert_int_equal (p->state, CONS_PEER_BANNED);
    assert_int_equal (p->banned_until_ms, until);

    /* B's connection was cut; its reconnects are refused at ZAP, and B
       sees the refusal. */
    w = (s_state_wait_t){ t[1], 0, CONS_PEER_REFUSED };
    assert_true (s_pump (t, 2, s_in_state, &w));
    p = s_peer_info (t[0], 1, all, S_NODES);
    assert_true (p->zap_refused >= 1);
    cons_transport_stats_t stats;
    cons_transport_stats (t[0], &stats);
    assert_true (stats.zap_banned >= 1);
    assert_int_equal (stats.router_rebinds, 1);

    /* Whatever B sends is delivered only after the ban ran out. */
    s_retry_t r = { t[1], 0, &ia };
    assert_true (s_pump (t, 2, s_delivered, &r));
    assert_true ((uint64_t)ia.msgs[0].at_ms >= until);
    assert_memory_equal (ia.msgs[0].from, s_nodes[1].cert.sign_pk, 32);
    /* And A may send to B again. */
    assert_int_equal (cons_transport_send (t[0], s_nodes[1].cert.sign_pk, CONS_CHANNEL_GOSSIP,
                                           (const uint8_t *)"back", 4),
                      0);
    s_count_t c = { &ib, 1 };
    assert_true (s_pump (t, 2, s_have, &c));
    cons_transport_destroy (&t[0]);
    cons_transport_destroy (&t[1]);
}

static void
test_reconnect (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 }, ib = { .count = 0 };
    cons_transport_t *t[2] = { s_new (0, 2, NULL, 0, &ia), s_new (1, 2, NULL, 0, &ib) };
    char endpoint[CONS_TRANSPORT_ENDPOINT_MAX + 1];
    snprintf (endpoint, sizeof endpoint, "%s", cons_transport_endpoint (t[1]));
    assert_int_equal (cons_transport_set_endpoint (t[0], s_nodes[1].cert.sign_pk, endpoint), 0);
    s_retry_t r = { t[0], 1, &ib };
    assert_true (s_pump (t, 2, s_delivered, &r));

    cons_transport_destroy (&t[1]);
    s_state_wait_t w = { t[0], 1, CONS_PEER_CONNECTING };
    assert_true (s_pump (t, 1, s_in_state, &w));
    ib.count = 0;
    t[1] = s_new (1, 2, endpoint, 0, &ib);
    assert_string_equal (cons_transport_endpoint (t[1]), endpoint);
    assert_true (s_pump (t, 2, s_delivered, &r));
    assert_memory_equal (ib.msgs[0].from, s_nodes[0].cert.sign_pk, 32);
    w.state = CONS_PEER_UP;
    assert_true (s_pump (t, 2, s_in_state, &w));
    cons_transport_destroy (&t[0]);
    cons_transport_destroy (&t[1]);
}

static void
test_queue_full_drops (void **state)
{
    (void)state;
    cons_transport_config_t config = {
        .self = &s_nodes[0].cert,
        .curve_sk = s_nodes[0].curve_sk,
        .certs = s_certs,
        .cert_count = 2,
        .bind = "tcp://127.0.0.1:*",
        .sndhwm = 4,
    };
    cons_transport_t *t = cons_transport_new (&config);
    assert_non_null (t);
    /* Nobody listens on port 1: everything queues until the queue is full. */
    assert_int_equal (cons_transport_set_endpoint (t, s_nodes[1].cert.sign_pk, "tcp://127.0.0.1:1"),
                      0);
    uint64_t full = 0, sent = 0;
    for (int i = 0; i < 100; i++) {
        int rc = cons_transport_send (t, s_nodes[1].cert.sign_pk, CONS_CHANNEL_GOSSIP,
                                      (const uint8_t *)"q", 1);
        if (rc == CONS_ERR_QUEUE_FULL)
            full++;
        else {
            assert_int_equal (rc, 0);
            sent++;
        }
    }
    assert_true (full > 0);
    assert_true (sent >= 1);
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (t, 1, all, S_NODES);
    assert_int_equal (p->drops, full);
    assert_int_equal (p->msgs_out, sent);
    cons_transport_destroy (&t);
}

/* ---- the zloop path ---------------------------------------------------------------- */

typedef struct {
    cons_transport_t *b;
    s_inbox_t *inbox;
    int ticks;
} s_loop_t;

static int
s_loop_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    s_loop_t *l = arg;
    if (l->inbox->count > 0 || ++l->ticks > S_WAIT_MS / 10)
        return -1;
    (void)cons_transport_send (l->b, s_nodes[0].cert.sign_pk, CONS_CHANNEL_MEMBER,
                               (const uint8_t *)"loop", 4);
    return 0;
}

static void
test_zloop_and_ban_in_callback (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 };
    cons_transport_t *a = s_new (0, 2, NULL, 0, &ia);
    cons_transport_t *b = s_new (1, 2, NULL, 0, NULL);
    ia.ban = s_nodes[1].cert.sign_pk;
    ia.ban_until = (uint64_t)zclock_mono () + 60000;
    s_connect (b, 0, a);
    zloop_t *loop = zloop_new ();
    assert_non_null (loop);
    assert_int_equal (cons_transport_attach (a, loop), 0);
    assert_int_equal (cons_transport_attach (b, loop), 0);
    s_loop_t l = { b, &ia, 0 };
    assert_true (zloop_timer (loop, 10, 0, s_loop_tick, &l) >= 0);
    zloop_start (loop);
    assert_true (ia.count >= 1);
    cons_transport_stats_t stats;
    cons_transport_stats (a, &stats);
    assert_int_equal (stats.router_rebinds, 1); /* made after the callback returned */
    cons_transport_detach (a);
    cons_transport_destroy (&b); /* still attached: destroy detaches */
    zloop_destroy (&loop);
    cons_transport_destroy (&a);
}

/* ---- LAN discovery --------------------------------------------------------------- */

static void
test_beacon_codec (void **state)
{
    (void)state;
    uint8_t buf[CONS_TRANSPORT_BEACON_LEN], id[32];
    uint16_t port;
    cons_transport_beacon_encode (s_nodes[1].cert.sign_pk, 7400, buf);
    assert_memory_equal (buf, "WDN\x01", 4);
    assert_int_equal (buf[36], 0x1c);
    assert_int_equal (buf[37], 0xe8);
    assert_int_equal (cons_transport_beacon_decode (buf, sizeof buf, id, &port), 0);
    assert_memory_equal (id, s_nodes[1].cert.sign_pk, 32);
    assert_int_equal (port, 7400);
    assert_int_equal (cons_transport_beacon_decode (buf, sizeof buf - 1, id, &port),
                      CONS_ERR_BEACON);
    buf[3] = 2;
    assert_int_equal (cons_transport_beacon_decode (buf, sizeof buf, id, &port), CONS_ERR_BEACON);
    cons_transport_beacon_encode (s_nodes[1].cert.sign_pk, 0, buf);
    assert_int_equal (cons_transport_beacon_decode (buf, sizeof buf, id, &port), CONS_ERR_BEACON);
}

static void
test_beacon_discovery (void **state)
{
    (void)state;
    s_inbox_t ia = { .count = 0 }, ib = { .count = 0 };
    /* Announcements come from the broadcast interface's address. */
    cons_transport_t *t[2] = { s_new (0, 2, "tcp://0.0.0.0:*", 0, &ia),
                               s_new (1, 2, "tcp://0.0.0.0:*", 0, &ib) };
    int udp_port = 20000 + (int)randombytes_uniform (20000);
    if (cons_transport_beacon_start (t[0], udp_port, 50) != 0) {
        cons_transport_destroy (&t[0]);
        cons_transport_destroy (&t[1]);
        skip (); /* no interface that can broadcast */
    }
    assert_int_equal (cons_transport_beacon_start (t[1], udp_port, 50), 0);
    s_retry_t r = { t[0], 1, &ib }; /* A knows B only from its announcements */
    assert_true (s_pump (t, 2, s_delivered, &r));
    cons_transport_peer_t all[S_NODES];
    const cons_transport_peer_t *p = s_peer_info (t[0], 1, all, S_NODES);
    assert_non_null (strstr (p->endpoint, "tcp://"));
    cons_transport_stats_t stats;
    cons_transport_stats (t[0], &stats);
    assert_true (stats.beacons_used >= 1);
    /* A caller's endpoint is never replaced by an announcement. */
    assert_int_equal (
        cons_transport_set_endpoint (t[1], s_nodes[0].cert.sign_pk, "tcp://127.0.0.1:1"), 0);
    cons_transport_stats (t[1], &stats);
    uint64_t ignored = stats.beacons_ignored;
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (stats.beacons_ignored == ignored && zclock_mono () < deadline) {
        cons_transport_poll (t[1], 10);
        cons_transport_stats (t[1], &stats);
    }
    assert_true (stats.beacons_ignored > ignored);
    p = s_peer_info (t[1], 0, all, S_NODES);
    assert_string_equal (p->endpoint, "tcp://127.0.0.1:1");
    cons_transport_beacon_stop (t[0]);
    cons_transport_destroy (&t[0]);
    cons_transport_destroy (&t[1]); /* stops its beacon */
}

/* ---- observers --------------------------------------------------------------- */

typedef struct {
    size_t count;
    uint8_t key[32];
    uint8_t body[S_BODY_MAX];
    size_t body_len;
} s_observed_t;

/* on_observe: takes "sub", refuses anything else with WD_ERR_BAD_VALUE. */
static int
s_on_observe (void *arg, const uint8_t key[32], const uint8_t *body, size_t body_len)
{
    s_observed_t *o = arg;
    o->count++;
    memcpy (o->key, key, 32);
    o->body_len = body_len < S_BODY_MAX ? body_len : S_BODY_MAX;
    memcpy (o->body, body, o->body_len);
    return body_len == 3 && memcmp (body, "sub", 3) == 0 ? 0 : WD_ERR_BAD_VALUE;
}

typedef struct {
    cons_transport_t *self;
    int reason;
    uint64_t want;
} s_reject_wait_t;

static bool
s_rejected_for (void *arg)
{
    s_reject_wait_t *w = arg;
    return cons_transport_rejections (w->self, w->reason) >= w->want;
}

typedef struct {
    s_observed_t *seen;
    size_t want;
} s_observed_wait_t;

static bool
s_observed (void *arg)
{
    s_observed_wait_t *w = arg;
    return w->seen->count >= w->want;
}

static void
test_observers (void **state)
{
    (void)state;
    s_observed_t seen = { 0 };
    cons_transport_config_t config = {
        .self = &s_nodes[0].cert,
        .curve_sk = s_nodes[0].curve_sk,
        .certs = s_certs,
        .cert_count = 2,
        .bind = "tcp://127.0.0.1:*",
        .reconnect_ms = 20,
        .reconnect_max_ms = 200,
        .on_observe = s_on_observe,
        .on_observe_arg = &seen,
    };
    cons_transport_t *t[1] = { cons_transport_new (&config) };
    assert_non_null (t[0]);
    uint8_t obs_sk[32], obs_pk[32], other_sk[32], other_pk[32];
    randombytes_buf (obs_sk, 32);
    crypto_scalarmult_base (obs_pk, obs_sk);
    randombytes_buf (other_sk, 32);
    crypto_scalarmult_base (other_pk, other_sk);
    const uint8_t (*keys)[32] = (const uint8_t (*)[32])obs_pk;
    assert_int_equal (cons_transport_set_observers (t[0], keys, 1), 0);
    assert_int_equal (cons_transport_observer_endpoint (t[0], other_pk, "tcp://127.0.0.1:1"),
                      CONS_ERR_PEER_UNKNOWN);
    assert_int_equal (cons_transport_observer_endpoint (t[0], obs_pk, "ipc:///tmp/x"),
                      WD_ERR_BAD_VALUE);
    assert_int_equal (cons_transport_send (t[0], s_nodes[1].cert.sign_pk, CONS_CHANNEL_OBSERVE,
                                           (const uint8_t *)"x", 1),
                      CONS_ERR_FRAME_CHANNEL);

    /* The observer's frames: another channel is refused before on_observe,
       a subscription reaches it with the authenticated key, a bad body is
       refused with on_observe's reason. */
    s_raw_t raw;
    s_raw_open (&raw, obs_pk, obs_sk, s_nodes[0].cert.curve_pk, cons_transport_endpoint (t[0]));
    const uint8_t graft[] = { 1, CONS_CHANNEL_GOSSIP, 0x82, 0xa1, 't', 4, 0xa1, 'v', 1 };
    s_raw_send (&raw, graft, sizeof graft, 0);
    s_reject_wait_t rw = { t[0], CONS_ERR_OBSERVER_SEND, 1 };
    assert_true (s_pump (t, 1, s_rejected_for, &rw));
    assert_int_equal (seen.count, 0);
    const uint8_t sub[] = { 1, CONS_CHANNEL_OBSERVE, 's', 'u', 'b' };
    s_raw_send (&raw, sub, sizeof sub, 0);
    s_observed_wait_t c = { &seen, 1 };
    assert_true (s_pump (t, 1, s_observed, &c));
    assert_memory_equal (seen.key, obs_pk, 32);
    const uint8_t bad[] = { 1, CONS_CHANNEL_OBSERVE, 'x' };
    s_raw_send (&raw, bad, sizeof bad, 0);
    c.want = 2;
    assert_true (s_pump (t, 1, s_observed, &c));
    cons_transport_stats_t stats;
    cons_transport_stats (t[0], &stats);
    assert_int_equal (stats.observer_rejected, 2);
    assert_int_equal (stats.zap_observers, 1);
    cons_transport_peer_t info;
    assert_int_equal (cons_transport_observers (t[0], &info, 1), 1);
    assert_memory_equal (info.node_id, obs_pk, 32);
    assert_int_equal (info.msgs_in, 2);
    assert_int_equal (info.rejected, 2);
    assert_int_equal (info.last_reject, WD_ERR_BAD_VALUE);

    /* Pushes reach the observer's ROUTER on a DEALER pinned to its key. */
    void *router = zmq_socket (raw.ctx, ZMQ_ROUTER);
    int one = 1, zero = 0;
    assert_int_equal (zmq_setsockopt (router, ZMQ_LINGER, &zero, sizeof zero), 0);
    assert_int_equal (zmq_setsockopt (router, ZMQ_CURVE_SERVER, &one, sizeof one), 0);
    assert_int_equal (zmq_setsockopt (router, ZMQ_CURVE_SECRETKEY, obs_sk, 32), 0);
    assert_int_equal (zmq_bind (router, "tcp://127.0.0.1:*"), 0);
    char ep[64];
    size_t ep_len = sizeof ep;
    assert_int_equal (zmq_getsockopt (router, ZMQ_LAST_ENDPOINT, ep, &ep_len), 0);
    assert_int_equal (cons_transport_observer_endpoint (t[0], obs_pk, ep), 0);
    assert_int_equal (cons_transport_observer_send (t[0], obs_pk, (const uint8_t *)"push", 4), 0);
    assert_int_equal (cons_transport_observer_send (t[0], other_pk, (const uint8_t *)"push", 4),
                      CONS_ERR_PEER_UNKNOWN);
    uint8_t got[16] = { 0 };
    int n = -1;
    int64_t deadline = zclock_mono () + S_WAIT_MS;
    while (n < 0 && zclock_mono () < deadline) {
        cons_transport_poll (t[0], 2);
        if (zmq_recv (router, got, sizeof got, ZMQ_DONTWAIT) >= 0) /* routing id */
            n = zmq_recv (router, got, sizeof got, 0);
    }
    assert_int_equal (n, 6);
    assert_memory_equal (got, "\x01\x06push", 6);

    /* A key that is not admitted is refused at ZAP; dropping the observer
       refuses it too. */
    s_raw_t stranger;
    s_raw_open (&stranger, other_pk, other_sk, s_nodes[0].cert.curve_pk,
                cons_transport_endpoint (t[0]));
    s_raw_send (&stranger, sub, sizeof sub, ZMQ_DONTWAIT);
    s_pump_for (t, 1, 200);
    cons_transport_stats (t[0], &stats);
    assert_true (stats.zap_unknown >= 1);
    assert_int_equal (seen.count, 2);
    assert_int_equal (cons_transport_set_observers (t[0], NULL, 0), 0);
    assert_int_equal (cons_transport_observers (t[0], &info, 1), 0);
    s_raw_close (&stranger);
    zmq_close (router);
    s_raw_close (&raw);
    cons_transport_destroy (&t[0]);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_frame_decode),
        cmocka_unit_test (test_bad_config),
        cmocka_unit_test (test_two_transports),
        cmocka_unit_test (test_three_transports),
        cmocka_unit_test (test_send_errors_and_state),
        cmocka_unit_test (test_unknown_key_refused),
        cmocka_unit_test (test_malformed_frames),
        cmocka_unit_test (test_withdrawn_cert_refused),
        cmocka_unit_test (test_ban),
        cmocka_unit_test (test_reconnect),
        cmocka_unit_test (test_queue_full_drops),
        cmocka_unit_test (test_zloop_and_ban_in_callback),
        cmocka_unit_test (test_beacon_codec),
        cmocka_unit_test (test_beacon_discovery),
        cmocka_unit_test (test_observers),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
