/*
 * Unit tests for cons_gossip: the messages (byte-exact encodings, round
 * trips and every decoding rejection with its exact code) and the state
 * machine driven input by input with real Ed25519-signed envelopes: delivery
 * and forwarding rules, the seen cache, validation before forwarding, peer
 * scores (invalid records, malformed messages, flooding, GRAFT during
 * backoff, broken IWANT promises), graylisting and banning, the mesh (full
 * and bounded), IHAVE/IWANT and the catch-up pair.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_gossip.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define NODES 24

static uint8_t s_pk[NODES][32];
static uint8_t s_sk[NODES][64];
static uint8_t s_chain[32];
static bool s_known[NODES];
static int s_verify_calls;
static bool s_ignore_all;

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    for (int i = 0; i < NODES; i++) {
        uint8_t seed[32];
        memset (seed, i + 1, sizeof seed);
        crypto_sign_seed_keypair (s_pk[i], s_sk[i], seed);
    }
    memset (s_chain, 0x5a, sizeof s_chain);
    return 0;
}

static int
s_accept (void *ctx, const wd_envelope_t *env, const uint8_t *record, size_t len)
{
    (void)ctx;
    (void)record;
    (void)len;
    if (s_ignore_all)
        return CONS_ERR_GOSSIP_IGNORE;
    for (int i = 0; i < NODES; i++)
        if (s_known[i] && memcmp (env->from, s_pk[i], 32) == 0)
            return WD_OK;
    return CONS_ERR_GOSSIP_UNKNOWN_SENDER;
}

/* The default check, counted: invalid records must not be verified twice. */
static int
s_verify (void *ctx, const wd_envelope_t *env)
{
    (void)ctx;
    s_verify_calls++;
    return wd_envelope_verify (env, s_chain, NULL);
}

static int
s_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, ctx);
    return 0;
}

/* A record {n: n} of type "test" signed by node author under chain. */
static uint8_t *
s_record_chain (int author, uint64_t n, const uint8_t chain[32], size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "n");
    wd_writer_uint (w, n);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    uint8_t *out;
    assert_int_equal (wd_envelope_seal ("test", chain, s_pk[author], body, body_len, s_sign,
                                        s_sk[author], &out, len),
                      WD_OK);
    wd_writer_destroy (&w);
    return out;
}

static uint8_t *
s_record (int author, uint64_t n, size_t *len)
{
    return s_record_chain (author, n, s_chain, len);
}

static void
s_config (cons_gossip_config_t *c)
{
    memset (c, 0, sizeof *c);
    memcpy (c->chain, s_chain, 32);
    memcpy (c->self, s_pk[0], 32);
    c->seed = 42;
    c->start_ms = 0;
    c->accept = s_accept;
    c->verify = s_verify;
}

/* Node 0 with peers 1..peers; every node is a known sender. */
static cons_gossip_t *
s_new_with (size_t peers, const cons_gossip_config_t *c)
{
    for (int i = 0; i < NODES; i++)
        s_known[i] = true;
    s_ignore_all = false;
    cons_gossip_t *g;
    assert_int_equal (cons_gossip_new (c, &g), WD_OK);
    assert_int_equal (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_pk[1], peers, 0), WD_OK);
    return g;
}

static cons_gossip_t *
s_new (size_t peers)
{
    cons_gossip_config_t c;
    s_config (&c);
    return s_new_with (peers, &c);
}

/* Outputs, copied out of the instance. */
typedef struct {
    cons_gossip_output_t o;
    uint8_t *data;
    int peer; /* node index */
} s_item_t;

typedef struct {
    size_t n;
    s_item_t items[4096];
} s_outs_t;

static s_outs_t s_outs;

static void
s_clear (void)
{
    for (size_t i = 0; i < s_outs.n; i++)
        free (s_outs.items[i].data);
    s_outs.n = 0;
}

static int
s_node (const uint8_t id[32])
{
    for (int i = 0; i < NODES; i++)
        if (memcmp (id, s_pk[i], 32) == 0)
            return i;
    return -1;
}

/* Replaces s_outs with what g has queued. */
static void
s_drain (cons_gossip_t *g)
{
    s_clear ();
    cons_gossip_output_t o;
    while (cons_gossip_output (g, &o)) {
        assert_true (s_outs.n < 4096);
        s_item_t *it = &s_outs.items[s_outs.n++];
        it->o = o;
        it->data = NULL;
        if (o.len) {
            it->data = malloc (o.len);
            memcpy (it->data, o.data, o.len);
            it->o.data = it->data;
        }
        it->peer = s_node (o.peer);
    }
}

static size_t
s_count (cons_gossip_out_kind_t kind, int peer)
{
    size_t n = 0;
    for (size_t i = 0; i < s_outs.n; i++)
        if (s_outs.items[i].o.kind == kind && (peer < 0 || s_outs.items[i].peer == peer))
            n++;
    return n;
}

/* Counts SEND outputs of a message kind (to peer, or any when -1); the last
   one found is decoded into *msg when msg is not NULL. */
static size_t
s_sent (cons_gossip_kind_t kind, int peer, cons_gossip_msg_t *msg)
{
    size_t n = 0;
    for (size_t i = 0; i < s_outs.n; i++) {
        s_item_t *it = &s_outs.items[i];
        if (it->o.kind != CONS_GOSSIP_OUT_SEND || (peer >= 0 && it->peer != peer))
            continue;
        cons_gossip_msg_t m;
        assert_int_equal (cons_gossip_msg_decode (it->data, it->o.len, 1 << 20, &m), WD_OK);
        if (m.kind != kind)
            continue;
        n++;
        if (msg)
            *msg = m;
    }
    return n;
}

static const s_item_t *
s_first (cons_gossip_out_kind_t kind)
{
    for (size_t i = 0; i < s_outs.n; i++)
        if (s_outs.items[i].o.kind == kind)
            return &s_outs.items[i];
    return NULL;
}

/* A PUBLISH body carrying the given records. */
static uint8_t *
s_publish_body (uint8_t **recs, size_t *lens, size_t n, size_t *len)
{
    cons_gossip_msg_t m;
    memset (&m, 0, sizeof m);
    m.kind = CONS_GOSSIP_PUBLISH;
    m.record_count = n;
    for (size_t i = 0; i < n; i++) {
        m.records[i] = recs[i];
        m.record_lens[i] = lens[i];
    }
    return cons_gossip_msg_encode (&m, len);
}

/* Feeds one record from peer in a PUBLISH; returns the input's code. */
static int
s_feed_record (cons_gossip_t *g, int peer, uint8_t *rec, size_t rec_len, uint64_t now)
{
    size_t len;
    uint8_t *body = s_publish_body (&rec, &rec_len, 1, &len);
    int rc = cons_gossip_input (g, s_pk[peer], body, len, now);
    free (body);
    s_drain (g);
    return rc;
}

static int
s_feed_msg (cons_gossip_t *g, int peer, const cons_gossip_msg_t *m, uint64_t now)
{
    size_t len;
    uint8_t *body = cons_gossip_msg_encode (m, &len);
    int rc = cons_gossip_input (g, s_pk[peer], body, len, now);
    free (body);
    s_drain (g);
    return rc;
}

static void
s_tick (cons_gossip_t *g, uint64_t now)
{
    cons_gossip_tick (g, now);
    s_drain (g);
}

static cons_gossip_peer_info_t
s_info (cons_gossip_t *g, int node)
{
    cons_gossip_peer_info_t info[NODES];
    size_t n = cons_gossip_snapshot (g, info, NODES);
    for (size_t i = 0; i < n && i < NODES; i++)
        if (memcmp (info[i].id, s_pk[node], 32) == 0)
            return info[i];
    fail_msg ("node %d not in the snapshot", node);
    return info[0];
}

/* ---- messages ------------------------------------------------------------ */

static int
s_decode_hex (const char *hex, size_t record_max)
{
    size_t n = strlen (hex) / 2;
    uint8_t *buf = malloc (n + 1);
    assert_true (wd_hex_decode (buf, n, hex));
    cons_gossip_msg_t m;
    int rc = cons_gossip_msg_decode (buf, n, record_max, &m);
    free (buf);
    return rc;
}

static void
test_msg_known_answers (void **state)
{
    (void)state;
    cons_gossip_msg_t m;
    memset (&m, 0, sizeof m);
    m.kind = CONS_GOSSIP_GRAFT;
    size_t len;
    uint8_t *out = cons_gossip_msg_encode (&m, &len);
    char hex[256];
    assert_string_equal (wd_hex_encode (hex, out, len), "82a17404a17601");
    free (out);
    m.kind = CONS_GOSSIP_PRUNE;
    m.backoff_s = 60;
    out = cons_gossip_msg_encode (&m, &len);
    assert_string_equal (wd_hex_encode (hex, out, len), "83a76261636b6f66663ca17405a17601");
    free (out);
    uint8_t id[32];
    memset (id, 0xab, sizeof id);
    memset (&m, 0, sizeof m);
    m.kind = CONS_GOSSIP_IHAVE;
    m.ids = (cons_gossip_ids_t){ id, 1, 32 };
    out = cons_gossip_msg_encode (&m, &len);
    assert_string_equal (wd_hex_encode (hex, out, len),
                         "83a369647391c420abababababababababababababababababababababababababababab"
                         "ababababa17402a17601");
    free (out);
    memset (&m, 0, sizeof m);
    m.kind = CONS_GOSSIP_CATCHUP_REQ;
    m.ids.stride = 32;
    m.since_ms = 60000;
    out = cons_gossip_msg_encode (&m, &len);
    assert_string_equal (wd_hex_encode (hex, out, len),
                         "84a369647390a573696e6365cdea60a17406a17601");
    free (out);
}

static void
test_msg_round_trip (void **state)
{
    (void)state;
    uint8_t ids[3][32];
    memset (ids, 0x11, sizeof ids);
    ids[1][0] = 0x22;
    ids[2][0] = 0x33;
    uint8_t rec_a[] = { 0x81, 0xa1, 0x6e, 0x01 }, rec_b[] = { 0xc0 };
    for (int k = CONS_GOSSIP_PUBLISH; k <= CONS_GOSSIP_CATCHUP_RSP; k++) {
        cons_gossip_msg_t m;
        memset (&m, 0, sizeof m);
        m.kind = (cons_gossip_kind_t)k;
        m.ids = (cons_gossip_ids_t){ (const uint8_t *)ids, 3, 32 };
        m.have = (cons_gossip_ids_t){ (const uint8_t *)ids, 2, 32 };
        m.record_count = 2;
        m.records[0] = rec_a;
        m.record_lens[0] = sizeof rec_a;
        m.records[1] = rec_b;
        m.record_lens[1] = sizeof rec_b;
        m.backoff_s = 7;
        m.since_ms = 1234;
        m.more = true;
        size_t len;
        uint8_t *out = cons_gossip_msg_encode (&m, &len);
        cons_gossip_msg_t d;
        assert_int_equal (cons_gossip_msg_decode (out, len, 64, &d), WD_OK);
        assert_int_equal (d.kind, k);
        size_t len2;
        uint8_t *again = cons_gossip_msg_encode (&d, &len2);
        assert_int_equal (len, len2);
        assert_memory_equal (out, again, len);
        if (k == CONS_GOSSIP_IHAVE || k == CONS_GOSSIP_IWANT || k == CONS_GOSSIP_CATCHUP_REQ) {
            assert_int_equal (d.ids.count, 3);
            assert_memory_equal (cons_gossip_ids_at (&d.ids, 2), ids[2], 32);
        }
        if (k == CONS_GOSSIP_CATCHUP_RSP) {
            assert_int_equal (d.have.count, 2);
            assert_memory_equal (cons_gossip_ids_at (&d.have, 1), ids[1], 32);
            assert_true (d.more);
            assert_int_equal (d.record_count, 2);
            assert_memory_equal (d.records[0], rec_a, sizeof rec_a);
        }
        free (out);
        free (again);
    }
}

static void
test_msg_rejections (void **state)
{
    (void)state;
    /* {t: 8, v: 1} */
    assert_int_equal (s_decode_hex ("82a17408a17601", 64), CONS_ERR_GOSSIP_KIND);
    assert_int_equal (s_decode_hex ("82a17400a17601", 64), CONS_ERR_GOSSIP_KIND);
    /* {t: 4, v: 2} */
    assert_int_equal (s_decode_hex ("82a17404a17602", 64), WD_ERR_BAD_VERSION);
    /* {v: 1}; {t: 4} */
    assert_int_equal (s_decode_hex ("81a17601", 64), WD_ERR_MISSING_KEY);
    assert_int_equal (s_decode_hex ("81a17404", 64), WD_ERR_MISSING_KEY);
    /* {t: "x", v: 1} */
    assert_int_equal (s_decode_hex ("82a174a178a17601", 64), WD_ERR_WRONG_TYPE);
    /* GRAFT carrying another type's key: {backoff: 1, t: 4, v: 1} */
    assert_int_equal (s_decode_hex ("83a76261636b6f666601a17404a17601", 64), WD_ERR_UNKNOWN_KEY);
    /* A key no type has: {t: 4, u: 1, v: 1} */
    assert_int_equal (s_decode_hex ("83a17404a17501a17601", 64), WD_ERR_UNKNOWN_KEY);
    /* PRUNE without backoff: {t: 5, v: 1} */
    assert_int_equal (s_decode_hex ("82a17405a17601", 64), WD_ERR_MISSING_KEY);
    /* PRUNE backoff 3601 */
    assert_int_equal (s_decode_hex ("83a76261636b6f6666cd0e11a17405a17601", 64),
                      WD_ERR_OUT_OF_RANGE);
    /* PUBLISH {records: [], t: 1, v: 1} */
    assert_int_equal (s_decode_hex ("83a77265636f72647390a17401a17601", 64), CONS_ERR_GOSSIP_EMPTY);
    /* PUBLISH with a record that is a string, not bytes */
    assert_int_equal (s_decode_hex ("83a77265636f72647391a178a17401a17601", 64), WD_ERR_WRONG_TYPE);
    /* PUBLISH with a 5-byte record against record_max 4 */
    assert_int_equal (s_decode_hex ("83a77265636f72647391c4050102030405a17401a17601", 4),
                      WD_ERR_OVERSIZE);
    /* IHAVE {ids: []} */
    assert_int_equal (s_decode_hex ("83a369647390a17402a17601", 64), CONS_ERR_GOSSIP_EMPTY);
    /* IWANT with a 2-byte id */
    assert_int_equal (s_decode_hex ("83a369647391c4020102a17403a17601", 64), WD_ERR_BAD_LENGTH);
    /* CATCHUP_REQ {ids: [], since: 0} */
    assert_int_equal (s_decode_hex ("84a369647390a573696e636500a17406a17601", 64),
                      CONS_ERR_GOSSIP_EMPTY);
    /* CATCHUP_REQ since above one day (ce 05265c01 = 86400001) */
    assert_int_equal (s_decode_hex ("84a369647390a573696e6365ce05265c01a17406a17601", 64),
                      WD_ERR_OUT_OF_RANGE);
    /* CATCHUP_RSP with more as an integer */
    assert_int_equal (s_decode_hex ("85a46861766590a46d6f726501a77265636f72647390a17407a17601", 64),
                      WD_ERR_WRONG_TYPE);
    /* Canonical-form violations: keys out of order, trailing byte, non-shortest int. */
    assert_int_equal (s_decode_hex ("82a17601a17404", 64), WD_ERR_KEYS_UNSORTED);
    assert_int_equal (s_decode_hex ("82a17404a1760100", 64), WD_ERR_TRAILING);
    assert_int_equal (s_decode_hex ("82a174cc04a17601", 64), WD_ERR_INT_NONCANONICAL);
    assert_int_equal (s_decode_hex ("", 64), WD_ERR_TRUNCATED);
    assert_int_equal (s_decode_hex ("93010203", 64), WD_ERR_WRONG_TYPE);

    /* Too many ids (4097) and too many records (65). */
    cons_gossip_msg_t m;
    memset (&m, 0, sizeof m);
    static uint8_t ids[CONS_GOSSIP_IDS_MAX][32];
    m.kind = CONS_GOSSIP_IWANT;
    m.ids = (cons_gossip_ids_t){ (const uint8_t *)ids, CONS_GOSSIP_IDS_MAX, 32 };
    size_t len;
    uint8_t *out = cons_gossip_msg_encode (&m, &len);
    /* Patch the array header dc 1000 -> dc 1001 and append one more id. */
    uint8_t *big = malloc (len + 34);
    size_t at = 4; /* 83 a3 "ids" */
    assert_int_equal (out[at + 1], 0xdc);
    size_t end = at + 1 + 3 + (size_t)CONS_GOSSIP_IDS_MAX * 34;
    memcpy (big, out, end);
    big[at + 3] = 0x01;
    big[end] = 0xc4;
    big[end + 1] = 0x20;
    memset (big + end + 2, 0, 32);
    memcpy (big + end + 34, out + end, len - end);
    cons_gossip_msg_t d;
    assert_int_equal (cons_gossip_msg_decode (out, len, 64, &d), WD_OK);
    assert_int_equal (cons_gossip_msg_decode (big, len + 34, 64, &d), WD_ERR_OVERSIZE);
    free (out);
    free (big);
    /* CATCHUP_REQ takes at most 256 ids. */
    m.kind = CONS_GOSSIP_CATCHUP_REQ;
    m.ids.count = CONS_GOSSIP_REQ_IDS_MAX;
    out = cons_gossip_msg_encode (&m, &len);
    assert_int_equal (cons_gossip_msg_decode (out, len, 64, &d), WD_OK);
    free (out);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "ids");
    wd_writer_array (w, CONS_GOSSIP_REQ_IDS_MAX + 1);
    for (int i = 0; i <= CONS_GOSSIP_REQ_IDS_MAX; i++)
        wd_writer_bin (w, ids[i], 32);
    wd_writer_key (w, "since");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "t");
    wd_writer_uint (w, CONS_GOSSIP_CATCHUP_REQ);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    const uint8_t *data = wd_writer_data (w, &len);
    assert_int_equal (cons_gossip_msg_decode (data, len, 64, &d), WD_ERR_OVERSIZE);
    wd_writer_reset (w);
    wd_writer_map (w, 3);
    wd_writer_key (w, "records");
    wd_writer_array (w, CONS_GOSSIP_RECORDS_MAX + 1);
    for (int i = 0; i <= CONS_GOSSIP_RECORDS_MAX; i++)
        wd_writer_bin (w, "x", 1);
    wd_writer_key (w, "t");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    data = wd_writer_data (w, &len);
    assert_int_equal (cons_gossip_msg_decode (data, len, 64, &d), WD_ERR_OVERSIZE);
    wd_writer_destroy (&w);
}

/* ---- the state machine ----------------------------------------------------- */

static void
test_config_rejected (void **state)
{
    (void)state;
    cons_gossip_config_t c;
    cons_gossip_t *g;
    s_config (&c);
    c.accept = NULL;
    assert_int_equal (cons_gossip_new (&c, &g), WD_ERR_BAD_VALUE);
    s_config (&c);
    c.d_lo = 7; /* above d */
    assert_int_equal (cons_gossip_new (&c, &g), WD_ERR_BAD_VALUE);
    s_config (&c);
    c.history_ms = 200000; /* above seen_ttl */
    assert_int_equal (cons_gossip_new (&c, &g), WD_ERR_BAD_VALUE);
    s_config (&c);
    c.score_set = true;
    cons_gossip_score_defaults (&c.score);
    c.score.ban_threshold = -10; /* above graylist */
    assert_int_equal (cons_gossip_new (&c, &g), WD_ERR_BAD_VALUE);
    assert_null (g);
}

static void
test_full_mesh_and_bounded_mesh (void **state)
{
    (void)state;
    /* N = 12: every peer in the mesh. */
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    assert_int_equal (s_sent (CONS_GOSSIP_GRAFT, -1, NULL), 11);
    for (int i = 1; i <= 11; i++)
        assert_true (s_info (g, i).in_mesh);
    cons_gossip_destroy (&g);
    /* N = 13: a mesh of degree D = 6. */
    g = s_new (12);
    s_tick (g, 1000);
    assert_int_equal (s_sent (CONS_GOSSIP_GRAFT, -1, NULL), 6);
    cons_gossip_destroy (&g);
    /* N = 15: GRAFTs are accepted up to D_hi = 12, then answered with PRUNE. */
    g = s_new (14);
    s_tick (g, 1000);
    assert_int_equal (s_sent (CONS_GOSSIP_GRAFT, -1, NULL), 6);
    cons_gossip_msg_t graft = { .kind = CONS_GOSSIP_GRAFT };
    int accepted = 0, pruned = 0;
    for (int i = 1; i <= 14; i++) {
        bool was = s_info (g, i).in_mesh;
        assert_int_equal (s_feed_msg (g, i, &graft, 1100), WD_OK);
        if (!was && s_info (g, i).in_mesh)
            accepted++;
        if (!s_info (g, i).in_mesh) {
            assert_int_equal (s_sent (CONS_GOSSIP_PRUNE, i, NULL), 1);
            pruned++;
        }
    }
    assert_int_equal (accepted, 6);
    assert_int_equal (pruned, 2);
    /* The mesh stays within D_lo..D_hi across heartbeats. */
    for (uint64_t t = 2000; t <= 5000; t += 1000) {
        s_tick (g, t);
        size_t in = 0;
        for (int i = 1; i <= 14; i++)
            in += s_info (g, i).in_mesh;
        assert_int_equal (in, 12);
    }
    cons_gossip_destroy (&g);
}

static void
test_deliver_and_forward (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    /* A record authored by node 5, forwarded to us by node 1: delivered once,
       forwarded to every mesh peer except 1 (the source) and 5 (the author). */
    size_t len;
    uint8_t *rec = s_record (5, 1, &len);
    assert_int_equal (s_feed_record (g, 1, rec, len, 1100), WD_OK);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 1), 1);
    const s_item_t *d = s_first (CONS_GOSSIP_OUT_DELIVER);
    assert_int_equal (d->o.len, len);
    assert_memory_equal (d->o.data, rec, len);
    uint8_t id[32];
    wd_envelope_id (id, rec, len);
    assert_memory_equal (d->o.id, id, 32);
    assert_true (cons_gossip_seen (g, id));
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 9);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 1, NULL), 0);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 5, NULL), 0);
    /* The same record again, from anyone: a duplicate, nothing out. */
    assert_int_equal (s_feed_record (g, 2, rec, len, 1200), CONS_ERR_DUPLICATE);
    assert_int_equal (s_outs.n, 0);
    free (rec);
    /* A record straight from its author is not forwarded eagerly: the author
       flooded it; it goes out in IHAVE at the next heartbeat. */
    rec = s_record (3, 2, &len);
    assert_int_equal (s_feed_record (g, 3, rec, len, 1300), WD_OK);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 3), 1);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 0);
    s_tick (g, 2000);
    cons_gossip_msg_t ihave;
    /* Every peer but the author (node 3) hears of it; the first record is not
       announced to its source (node 1) or its author (node 5). */
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, 3, &ihave), 1);
    assert_int_equal (ihave.ids.count, 1);
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, 2, &ihave), 1);
    assert_int_equal (ihave.ids.count, 2);
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, 1, &ihave), 1);
    assert_int_equal (ihave.ids.count, 1);
    wd_envelope_id (id, rec, len);
    assert_memory_equal (cons_gossip_ids_at (&ihave.ids, 0), id, 32);
    free (rec);
    /* Windows 1..3 are announced, not the 4th. */
    s_tick (g, 3000);
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, 2, NULL), 1);
    s_tick (g, 4000);
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, 2, NULL), 1);
    s_tick (g, 5000);
    assert_int_equal (s_sent (CONS_GOSSIP_IHAVE, -1, NULL), 0);
    cons_gossip_stats_t st;
    cons_gossip_stats (g, &st);
    assert_int_equal (st.delivered, 2);
    assert_int_equal (st.duplicates, 1);
    cons_gossip_destroy (&g);
}

/* A copy of rec with one signature bit flipped. */
static uint8_t *
s_bad_sig (const uint8_t *rec, size_t len)
{
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (rec, len, &env), WD_OK);
    env.sig[10] ^= 0x40;
    uint8_t *out;
    size_t out_len;
    wd_envelope_encode (&env, &out, &out_len);
    assert_int_equal (out_len, len);
    return out;
}

static void
test_publish_own (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (20);
    size_t len;
    uint8_t *rec = s_record (0, 7, &len);
    assert_int_equal (cons_gossip_publish (g, rec, len, 10), WD_OK);
    s_drain (g);
    /* Flooded to all 20 peers, mesh or not; never delivered back. */
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 20);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, -1), 0);
    assert_int_equal (cons_gossip_publish (g, rec, len, 20), CONS_ERR_DUPLICATE);
    uint8_t *bad = s_bad_sig (rec, len);
    assert_int_equal (cons_gossip_publish (g, bad, len, 30), WD_ERR_BAD_SIGNATURE);
    s_drain (g);
    assert_int_equal (s_outs.n, 0);
    free (bad);
    free (rec);
    cons_gossip_destroy (&g);
}

/* Records published later wait for a flush and leave together: one
   PUBLISH per peer with all of them, in order. */
static void
test_publish_later_batches (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (3);
    uint8_t *recs[5];
    size_t lens[5];
    for (int i = 0; i < 5; i++) {
        recs[i] = s_record (0, (uint8_t)(20 + i), &lens[i]);
        assert_int_equal (cons_gossip_publish_later (g, recs[i], lens[i], 10), WD_OK);
    }
    s_drain (g);
    assert_int_equal (s_outs.n, 0); /* nothing sent yet, nothing delivered */
    assert_int_equal (cons_gossip_publish_later (g, recs[2], lens[2], 11), CONS_ERR_DUPLICATE);
    cons_gossip_flush (g);
    s_drain (g);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 3);
    for (int peer = 1; peer <= 3; peer++) {
        cons_gossip_msg_t m;
        assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, peer, &m), 1);
        assert_int_equal (m.record_count, 5);
        for (int i = 0; i < 5; i++) {
            assert_int_equal (m.record_lens[i], lens[i]);
            assert_memory_equal (m.records[i], recs[i], lens[i]);
        }
    }
    cons_gossip_flush (g); /* nothing waits: nothing sent */
    s_drain (g);
    assert_int_equal (s_outs.n, 0);
    /* a bad record is refused at once and does not wait */
    uint8_t *bad = s_bad_sig (recs[0], lens[0]);
    assert_int_equal (cons_gossip_publish_later (g, bad, lens[0], 12), WD_ERR_BAD_SIGNATURE);
    free (bad);
    cons_gossip_flush (g);
    s_drain (g);
    assert_int_equal (s_outs.n, 0);
    for (int i = 0; i < 5; i++)
        free (recs[i]);
    cons_gossip_destroy (&g);
}

/* Waiting records leave before any other input is handled (here a tick),
   and at once when CONS_GOSSIP_RECORDS_MAX wait. */
static void
test_publish_later_flushed_by_input_and_cap (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (2);
    size_t len;
    uint8_t *rec = s_record (0, 50, &len);
    assert_int_equal (cons_gossip_publish_later (g, rec, len, 10), WD_OK);
    free (rec);
    s_drain (g);
    assert_int_equal (s_outs.n, 0);
    s_tick (g, 20);
    cons_gossip_msg_t m;
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 1, &m), 1);
    assert_int_equal (m.record_count, 1);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 2, NULL), 1);

    for (int i = 0; i < CONS_GOSSIP_RECORDS_MAX; i++) {
        rec = s_record (0, 100 + (uint64_t)i, &len);
        assert_int_equal (cons_gossip_publish_later (g, rec, len, 30), WD_OK);
        free (rec);
        s_drain (g);
        if (i + 1 < CONS_GOSSIP_RECORDS_MAX)
            assert_int_equal (s_outs.n, 0);
    }
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 1, &m), 1);
    assert_int_equal (m.record_count, CONS_GOSSIP_RECORDS_MAX);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 2, NULL), 1);
    cons_gossip_destroy (&g);
}

static void
test_invalid_records (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    size_t len;
    uint8_t *good = s_record (5, 1, &len);
    uint8_t *bad = s_bad_sig (good, len);
    /* Bad signature: not delivered, not forwarded, the sender penalised. */
    assert_int_equal (s_feed_record (g, 1, bad, len, 1100), WD_ERR_BAD_SIGNATURE);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, -1), 0);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 0);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 1), 1);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_PENALTY)->o.reason, WD_ERR_BAD_SIGNATURE);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_PENALTY)->o.score, -10);
    assert_int_equal (cons_gossip_score (g, s_pk[1]), -10);
    assert_int_equal (s_info (g, 1).invalid, 1);
    /* The same bytes from another peer: remembered as invalid, and that
       peer is blamed too (it should have checked before forwarding). */
    int calls = s_verify_calls;
    assert_int_equal (s_feed_record (g, 2, bad, len, 1100), WD_ERR_BAD_SIGNATURE);
    assert_int_equal (s_verify_calls, calls);
    assert_int_equal (cons_gossip_score (g, s_pk[2]), -10);
    /* The genuine record is still accepted; no one else was blamed. */
    assert_int_equal (s_feed_record (g, 3, good, len, 1100), WD_OK);
    assert_int_equal (cons_gossip_score (g, s_pk[3]), 1); /* a first delivery */
    assert_int_equal (cons_gossip_score (g, s_pk[4]), 0);
    free (bad);
    free (good);

    /* Wrong chain. */
    uint8_t other[32];
    memset (other, 0x77, sizeof other);
    uint8_t *rec = s_record_chain (5, 2, other, &len);
    assert_int_equal (s_feed_record (g, 4, rec, len, 1200), WD_ERR_WRONG_CHAIN);
    free (rec);
    /* Non-canonical encoding: a trailing byte after the envelope. */
    rec = s_record (5, 3, &len);
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, rec, len);
    longer[len] = 0xc0;
    assert_int_equal (s_feed_record (g, 6, longer, len + 1, 1200), WD_ERR_TRAILING);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 6), 1);
    free (longer);
    /* Unknown sender: penalised but not remembered, so the record is taken
       once its sender becomes known. */
    s_known[5] = false;
    assert_int_equal (s_feed_record (g, 7, rec, len, 1200), CONS_ERR_GOSSIP_UNKNOWN_SENDER);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 7), 1);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 0);
    s_known[5] = true;
    assert_int_equal (s_feed_record (g, 8, rec, len, 1200), WD_OK);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 8), 1);
    free (rec);
    /* Ignored by the validator: dropped, nobody blamed. */
    s_ignore_all = true;
    rec = s_record (5, 4, &len);
    assert_int_equal (s_feed_record (g, 9, rec, len, 1200), CONS_ERR_GOSSIP_IGNORE);
    assert_int_equal (s_outs.n, 0);
    assert_int_equal (cons_gossip_score (g, s_pk[9]), 0);
    free (rec);
    /* A malformed message is the sender's fault as well. */
    const uint8_t junk[] = { 0x82, 0xa1, 0x74, 0x09, 0xa1, 0x76, 0x01 };
    assert_int_equal (cons_gossip_input (g, s_pk[10], junk, sizeof junk, 1300),
                      CONS_ERR_GOSSIP_KIND);
    s_drain (g);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 10), 1);
    /* A node outside the peer set is not listened to at all. */
    assert_int_equal (cons_gossip_input (g, s_pk[20], junk, sizeof junk, 1300),
                      CONS_ERR_GOSSIP_UNKNOWN_PEER);
    cons_gossip_destroy (&g);
}

static void
test_graylist_then_ban (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    uint64_t now = 1000;
    int n = 0;
    /* Three invalid records: -10, -40, -90 -> below the graylist at -80. */
    for (int i = 0; i < 3; i++) {
        size_t len;
        uint8_t *rec = s_record (5, (uint64_t)++n, &len);
        uint8_t *bad = s_bad_sig (rec, len);
        assert_int_equal (s_feed_record (g, 1, bad, len, ++now), WD_ERR_BAD_SIGNATURE);
        free (rec);
        free (bad);
    }
    assert_int_equal (s_count (CONS_GOSSIP_OUT_GRAYLIST, 1), 1);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_GRAYLIST)->o.score, -90);
    assert_true (s_info (g, 1).graylisted);
    /* Graylisted: control messages are ignored; of its records one per
       heartbeat is still checked. */
    cons_gossip_msg_t graft = { .kind = CONS_GOSSIP_GRAFT };
    assert_int_equal (s_feed_msg (g, 1, &graft, ++now), CONS_ERR_GOSSIP_GRAYLISTED);
    s_tick (g, 2000);
    assert_false (s_info (g, 1).in_mesh);
    bool banned = false;
    uint64_t invalid = 3;
    for (now = 2000; !banned && now < 20000; now += 1000) {
        s_tick (g, now);
        size_t len;
        uint8_t *recs[2], *bad[2];
        size_t lens[2];
        for (int k = 0; k < 2; k++) {
            recs[k] = s_record (5, (uint64_t)++n, &len);
            bad[k] = s_bad_sig (recs[k], len);
            lens[k] = len;
        }
        size_t body_len;
        uint8_t *body = s_publish_body (bad, lens, 2, &body_len);
        int rc = cons_gossip_input (g, s_pk[1], body, body_len, now + 1);
        s_drain (g);
        assert_int_equal (rc, WD_ERR_BAD_SIGNATURE);
        assert_int_equal (s_info (g, 1).invalid, ++invalid); /* one of the two is checked */
        banned = s_count (CONS_GOSSIP_OUT_BAN, 1) == 1;
        if (banned) {
            const s_item_t *b = s_first (CONS_GOSSIP_OUT_BAN);
            assert_true (b->o.score <= -400);
            assert_int_equal (b->o.until_ms, now + 1 + 600000);
        }
        free (body);
        for (int k = 0; k < 2; k++) {
            free (recs[k]);
            free (bad[k]);
        }
    }
    assert_true (banned);
    assert_int_equal (cons_gossip_input (g, s_pk[1], (const uint8_t *)"", 0, now),
                      CONS_ERR_GOSSIP_BANNED);
    /* Banned peers stay banned across leaving and rejoining. */
    assert_int_equal (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_pk[2], 10, now), WD_OK);
    assert_int_equal (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_pk[1], 11, now + 1),
                      WD_OK);
    assert_int_equal (cons_gossip_input (g, s_pk[1], (const uint8_t *)"", 0, now + 2),
                      CONS_ERR_GOSSIP_BANNED);
    assert_true (s_info (g, 1).banned_until_ms > now);
    /* Nothing is sent to a banned peer, not even own records. */
    size_t len;
    uint8_t *rec = s_record (0, 999, &len);
    assert_int_equal (cons_gossip_publish (g, rec, len, now + 3), WD_OK);
    s_drain (g);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 1, NULL), 0);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 10);
    free (rec);
    cons_gossip_destroy (&g);
}

static void
test_rate_limit (void **state)
{
    (void)state;
    cons_gossip_config_t c;
    s_config (&c);
    c.rate_per_s = 10;
    c.rate_burst = 5;
    cons_gossip_t *g = s_new_with (11, &c);
    uint8_t *recs[8];
    size_t lens[8];
    for (int i = 0; i < 8; i++)
        recs[i] = s_record (5, (uint64_t)i, &lens[i]);
    size_t len;
    uint8_t *body = s_publish_body (recs, lens, 8, &len);
    assert_int_equal (cons_gossip_input (g, s_pk[1], body, len, 0), CONS_ERR_GOSSIP_RATE);
    s_drain (g);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 1), 5);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_PENALTY)->o.reason, CONS_ERR_GOSSIP_RATE);
    assert_int_equal (s_info (g, 1).flooded, 3);
    /* +5 for first deliveries, -3 for the flood. */
    assert_int_equal (cons_gossip_score (g, s_pk[1]), 2);
    /* Another peer has a bucket of its own. */
    free (body);
    body = s_publish_body (recs + 3, lens + 3, 5, &len);
    assert_int_equal (cons_gossip_input (g, s_pk[2], body, len, 500), WD_OK);
    s_drain (g);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 2), 3);
    free (body);
    for (int i = 0; i < 8; i++)
        free (recs[i]);
    cons_gossip_destroy (&g);
}

static void
test_graft_prune_backoff (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    assert_true (s_info (g, 1).in_mesh);
    cons_gossip_msg_t prune = { .kind = CONS_GOSSIP_PRUNE, .backoff_s = 10 };
    assert_int_equal (s_feed_msg (g, 1, &prune, 1500), WD_OK);
    assert_false (s_info (g, 1).in_mesh);
    /* Not grafted again during the backoff, even in a full mesh. */
    s_tick (g, 2000);
    assert_int_equal (s_sent (CONS_GOSSIP_GRAFT, 1, NULL), 0);
    /* A GRAFT from it during the backoff is a behaviour penalty and gets a PRUNE. */
    cons_gossip_msg_t graft = { .kind = CONS_GOSSIP_GRAFT };
    assert_int_equal (s_feed_msg (g, 1, &graft, 2500), CONS_ERR_GOSSIP_BACKOFF);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_PENALTY)->o.reason, CONS_ERR_GOSSIP_BACKOFF);
    cons_gossip_msg_t m;
    assert_int_equal (s_sent (CONS_GOSSIP_PRUNE, 1, &m), 1);
    assert_int_equal (m.backoff_s, 9); /* the time left of the backoff */
    assert_false (s_info (g, 1).in_mesh);
    /* The same backoff is blamed once (its PRUNE may have been lost); the
       PRUNE is sent again. */
    assert_int_equal (s_feed_msg (g, 1, &graft, 3600), CONS_ERR_GOSSIP_BACKOFF);
    assert_null (s_first (CONS_GOSSIP_OUT_PENALTY));
    assert_int_equal (s_sent (CONS_GOSSIP_PRUNE, 1, &m), 1);
    assert_int_equal (m.backoff_s, 8);
    /* After the backoff, a GRAFT is accepted. */
    s_tick (g, 62000);
    assert_int_equal (s_feed_msg (g, 1, &graft, 62600), WD_OK);
    assert_true (s_info (g, 1).in_mesh);
    cons_gossip_destroy (&g);
}

/* A peer killed with IWANTs outstanding breaks them all at once: it is
   blamed once in that heartbeat, not once per record. */
static void
test_broken_promises_blamed_once_per_heartbeat (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    size_t len_a, len_b;
    uint8_t *a = s_record (6, 3, &len_a), *b = s_record (6, 4, &len_b);
    uint8_t ids[2][32];
    wd_envelope_id (ids[0], a, len_a);
    wd_envelope_id (ids[1], b, len_b);
    cons_gossip_msg_t ihave = { .kind = CONS_GOSSIP_IHAVE };
    ihave.ids = (cons_gossip_ids_t){ (const uint8_t *)ids, 2, 32 };
    assert_int_equal (s_feed_msg (g, 1, &ihave, 1100), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_IWANT, 1, NULL), 1);
    s_tick (g, 4000);
    s_tick (g, 5000);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 1), 1);
    assert_int_equal (s_info (g, 1).broken_promises, 1);
    free (a);
    free (b);
    cons_gossip_destroy (&g);
}

static void
test_ihave_iwant_and_promises (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    size_t len_a, len_b;
    uint8_t *a = s_record (6, 1, &len_a), *b = s_record (6, 2, &len_b);
    uint8_t ids[2][32];
    wd_envelope_id (ids[0], a, len_a);
    wd_envelope_id (ids[1], b, len_b);
    cons_gossip_msg_t ihave = { .kind = CONS_GOSSIP_IHAVE };
    ihave.ids = (cons_gossip_ids_t){ (const uint8_t *)ids, 2, 32 };
    assert_int_equal (s_feed_msg (g, 1, &ihave, 1100), WD_OK);
    cons_gossip_msg_t iwant;
    assert_int_equal (s_sent (CONS_GOSSIP_IWANT, 1, &iwant), 1);
    assert_int_equal (iwant.ids.count, 2);
    /* Another peer announcing the same ids is not asked while the promise runs. */
    assert_int_equal (s_feed_msg (g, 2, &ihave, 1200), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_IWANT, -1, NULL), 0);
    /* Peer 1 keeps half its promise. */
    assert_int_equal (s_feed_record (g, 1, a, len_a, 1300), WD_OK);
    s_tick (g, 4000);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 1), 0);
    s_tick (g, 5000);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_PENALTY, 1), 1);
    assert_int_equal (s_first (CONS_GOSSIP_OUT_PENALTY)->o.reason, CONS_ERR_GOSSIP_PROMISE);
    assert_int_equal (s_info (g, 1).broken_promises, 1);
    /* Below the behaviour threshold (3) a broken promise costs nothing yet;
       the first delivery still counts (decayed). */
    assert_true (cons_gossip_score (g, s_pk[1]) >= 0);
    /* Now peer 2 is asked. */
    assert_int_equal (s_feed_msg (g, 2, &ihave, 5100), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_IWANT, 2, &iwant), 1);
    assert_int_equal (iwant.ids.count, 1);
    assert_memory_equal (cons_gossip_ids_at (&iwant.ids, 0), ids[1], 32);
    assert_int_equal (s_feed_record (g, 2, b, len_b, 5200), WD_OK);
    /* Serving IWANT: records of the last mcache_len windows only. */
    cons_gossip_msg_t want = { .kind = CONS_GOSSIP_IWANT };
    want.ids = (cons_gossip_ids_t){ (const uint8_t *)ids, 2, 32 };
    assert_int_equal (s_feed_msg (g, 3, &want, 5300), WD_OK);
    cons_gossip_msg_t pub;
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 3, &pub), 1);
    assert_int_equal (pub.record_count, 2);
    s_tick (g, 9000); /* a arrived in window 1, now 9: gone from the cache */
    assert_int_equal (s_feed_msg (g, 3, &want, 9100), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, 3, &pub), 1);
    assert_int_equal (pub.record_count, 1);
    assert_memory_equal (pub.records[0], b, len_b);
    free (a);
    free (b);
    cons_gossip_destroy (&g);
}

static void
test_catchup (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000);
    size_t len;
    uint8_t *own = s_record (0, 1, &len);
    assert_int_equal (cons_gossip_publish (g, own, len, 1100), WD_OK);
    uint8_t id[32];
    wd_envelope_id (id, own, len);
    /* since: the ids of what arrived within that many ms. */
    cons_gossip_msg_t req = { .kind = CONS_GOSSIP_CATCHUP_REQ, .since_ms = 30000 };
    req.ids.stride = 32;
    assert_int_equal (s_feed_msg (g, 2, &req, 20000), WD_OK);
    cons_gossip_msg_t rsp;
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_RSP, 2, &rsp), 1);
    assert_int_equal (rsp.have.count, 1);
    assert_memory_equal (cons_gossip_ids_at (&rsp.have, 0), id, 32);
    assert_int_equal (rsp.record_count, 0);
    assert_false (rsp.more);
    req.since_ms = 5000;
    assert_int_equal (s_feed_msg (g, 2, &req, 20000), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_RSP, 2, &rsp), 1);
    assert_int_equal (rsp.have.count, 0);
    /* ids: the records themselves, long after the message cache. */
    req.since_ms = 0;
    req.ids = (cons_gossip_ids_t){ id, 1, 32 };
    assert_int_equal (s_feed_msg (g, 2, &req, 20000), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_RSP, 2, &rsp), 1);
    assert_int_equal (rsp.record_count, 1);
    assert_memory_equal (rsp.records[0], own, len);
    /* At most catchup_serve_max (4) requests per peer per heartbeat. */
    assert_int_equal (s_feed_msg (g, 2, &req, 20000), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_RSP, 2, NULL), 1);
    assert_int_equal (s_feed_msg (g, 2, &req, 20000), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_RSP, 2, NULL), 0);
    free (own);
    /* A response listing an unknown id: asked for by id from that peer. */
    size_t len_x;
    uint8_t *x = s_record (7, 9, &len_x);
    uint8_t xid[32];
    wd_envelope_id (xid, x, len_x);
    cons_gossip_msg_t have = { .kind = CONS_GOSSIP_CATCHUP_RSP };
    have.have = (cons_gossip_ids_t){ xid, 1, 32 };
    have.ids.stride = 32;
    assert_int_equal (s_feed_msg (g, 3, &have, 20100), WD_OK);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_REQ, 3, &req), 1);
    assert_int_equal (req.ids.count, 1);
    assert_memory_equal (cons_gossip_ids_at (&req.ids, 0), xid, 32);
    /* The answer is validated, delivered and (not from its author)
       forwarded to the mesh. */
    cons_gossip_msg_t ans = { .kind = CONS_GOSSIP_CATCHUP_RSP, .record_count = 1 };
    ans.records[0] = x;
    ans.record_lens[0] = len_x;
    ans.have.stride = 32;
    assert_int_equal (s_feed_msg (g, 3, &ans, 20200), WD_OK);
    assert_int_equal (s_count (CONS_GOSSIP_OUT_DELIVER, 3), 1);
    assert_int_equal (s_sent (CONS_GOSSIP_PUBLISH, -1, NULL), 9);
    free (x);
    /* An id announced by IHAVE that never arrives is asked for by catch-up
       once IHAVE would no longer show it. */
    uint8_t *y = s_record (8, 1, &len);
    uint8_t yid[32];
    wd_envelope_id (yid, y, len);
    cons_gossip_msg_t ihave = { .kind = CONS_GOSSIP_IHAVE };
    ihave.ids = (cons_gossip_ids_t){ yid, 1, 32 };
    assert_int_equal (s_feed_msg (g, 4, &ihave, 20300), WD_OK);
    bool asked = false;
    for (uint64_t t = 21000; t <= 26000 && !asked; t += 1000) {
        s_tick (g, t);
        for (int p = 1; p <= 11; p++)
            if (s_sent (CONS_GOSSIP_CATCHUP_REQ, p, &req) && req.ids.count == 1 &&
                memcmp (cons_gossip_ids_at (&req.ids, 0), yid, 32) == 0) {
                assert_int_equal (p, 4); /* the peer that announced it */
                asked = true;
            }
    }
    assert_true (asked);
    free (y);
    cons_gossip_destroy (&g);
}

static void
test_returning_peer_is_asked (void **state)
{
    (void)state;
    cons_gossip_t *g = s_new (11);
    s_tick (g, 1000); /* the first heartbeat asks two of the new peers */
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_REQ, -1, NULL), 2);
    s_tick (g, 2000);
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_REQ, -1, NULL), 0);
    /* Peer 11 leaves and comes back: it is asked what it saw meanwhile. */
    assert_int_equal (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_pk[1], 10, 2100), WD_OK);
    assert_false (s_info (g, 11).present);
    assert_int_equal (cons_gossip_set_peers (g, (const uint8_t (*)[32])s_pk[1], 11, 2200), WD_OK);
    s_tick (g, 3000);
    cons_gossip_msg_t req;
    assert_int_equal (s_sent (CONS_GOSSIP_CATCHUP_REQ, 11, &req), 1);
    assert_int_equal (req.since_ms, 60000);
    assert_int_equal (req.ids.count, 0);
    cons_gossip_destroy (&g);
}

/* Same seed, same inputs: the same outputs, byte for byte. */
static void
test_deterministic (void **state)
{
    (void)state;
    uint8_t *streams[2] = { NULL, NULL };
    for (int run = 0; run < 2; run++) {
        cons_gossip_t *g = s_new (20);
        crypto_hash_sha256_state h;
        crypto_hash_sha256_init (&h);
        for (uint64_t t = 1000; t <= 8000; t += 1000) {
            cons_gossip_tick (g, t);
            size_t len;
            uint8_t *rec = s_record ((int)(t / 1000) % 20 + 1, t, &len);
            size_t body_len;
            uint8_t *body = s_publish_body (&rec, &len, 1, &body_len);
            int rc = cons_gossip_input (g, s_pk[(t / 1000) % 19 + 1], body, body_len, t + 1);
            (void)rc;
            free (body);
            free (rec);
            cons_gossip_output_t o;
            while (cons_gossip_output (g, &o)) {
                crypto_hash_sha256_update (&h, (const uint8_t *)&o.kind, sizeof o.kind);
                crypto_hash_sha256_update (&h, o.peer, 32);
                if (o.len)
                    crypto_hash_sha256_update (&h, o.data, o.len);
            }
        }
        streams[run] = malloc (32);
        crypto_hash_sha256_final (&h, streams[run]);
        cons_gossip_destroy (&g);
    }
    assert_memory_equal (streams[0], streams[1], 32);
    free (streams[0]);
    free (streams[1]);
}

static int
s_teardown (void **state)
{
    (void)state;
    s_clear ();
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_msg_known_answers),
        cmocka_unit_test (test_msg_round_trip),
        cmocka_unit_test (test_msg_rejections),
        cmocka_unit_test (test_config_rejected),
        cmocka_unit_test (test_full_mesh_and_bounded_mesh),
        cmocka_unit_test (test_deliver_and_forward),
        cmocka_unit_test (test_publish_own),
        cmocka_unit_test (test_publish_later_batches),
        cmocka_unit_test (test_publish_later_flushed_by_input_and_cap),
        cmocka_unit_test (test_invalid_records),
        cmocka_unit_test (test_graylist_then_ban),
        cmocka_unit_test (test_rate_limit),
        cmocka_unit_test (test_graft_prune_backoff),
        cmocka_unit_test (test_ihave_iwant_and_promises),
        cmocka_unit_test (test_broken_promises_blamed_once_per_heartbeat),
        cmocka_unit_test (test_catchup),
        cmocka_unit_test (test_returning_peer_is_asked),
        cmocka_unit_test (test_deterministic),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
