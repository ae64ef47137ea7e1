/*
 * Unit tests for cons_member (SWIM + Lifeguard membership): the message
 * codec (a known answer from python3-msgpack, every rejection with its exact
 * code), the receive-level rejections, the probe cycle with its exact timer
 * values, indirect probes and nacks, the local health multiplier,
 * refutation, the incarnation ordering rules, the suspicion timeout formula,
 * piggyback limits, graceful leave and determinism for a seed.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_err.h"
#include "cons_member.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define S_N 5 /* members in the small test group: ids 0x11.., 0x22.., ... */

static uint8_t s_ids[S_N][CONS_MEMBER_ID_LEN];

static void
s_ids_init (void)
{
    for (int i = 0; i < S_N; i++)
        memset (s_ids[i], 0x11 * (i + 1), CONS_MEMBER_ID_LEN);
}

static const uint8_t *
s_id (int i)
{
    return s_ids[i];
}

static int
s_index (const uint8_t *id)
{
    for (int i = 0; i < S_N; i++)
        if (memcmp (id, s_ids[i], CONS_MEMBER_ID_LEN) == 0)
            return i;
    return -1;
}

/* A machine for member `me` of the test group, with explicit parameters so
   the expected times do not depend on the defaults. */
static cons_member_t *
s_new (int me, uint64_t seed, uint64_t incarnation)
{
    s_ids_init ();
    cons_member_config_t cfg = { 0 };
    cfg.self = s_id (me);
    cfg.members = &s_ids[0][0];
    cfg.count = S_N;
    cfg.seed = seed;
    cfg.incarnation = incarnation;
    cfg.probe_ms = 1000;
    cfg.probe_timeout_ms = 500;
    cfg.indirect = 3;
    cfg.suspicion_mult = 2;
    cfg.suspicion_max_mult = 6;
    cfg.confirmations = 3;
    cons_member_t *m = NULL;
    assert_int_equal (cons_member_new (&cfg, &m), WD_OK);
    return m;
}

/* Outputs of the last input. */
typedef struct {
    size_t count;
    struct {
        cons_member_out_kind_t kind;
        int peer;
        cons_member_msg_t msg; /* SEND: decoded; pointers into body */
        uint8_t body[CONS_MEMBER_BODY_MAX];
        size_t len;
        cons_member_state_t state;
        uint64_t inc;
        uint64_t at;
    } o[64];
} s_outs_t;

static void
s_drain (cons_member_t *m, s_outs_t *outs)
{
    memset (outs, 0, sizeof *outs);
    cons_member_output_t out;
    while (cons_member_poll (m, &out)) {
        assert_true (outs->count < 64);
        size_t i = outs->count++;
        outs->o[i].kind = out.kind;
        outs->o[i].peer = s_index (out.peer);
        if (out.kind == CONS_MEMBER_OUT_SEND) {
            assert_true (out.len <= CONS_MEMBER_BODY_MAX);
            memcpy (outs->o[i].body, out.body, out.len);
            outs->o[i].len = out.len;
            assert_int_equal (cons_member_msg_decode (outs->o[i].body, out.len, &outs->o[i].msg),
                              WD_OK);
        } else {
            outs->o[i].state = out.state;
            outs->o[i].inc = out.incarnation;
            outs->o[i].at = out.at_ms;
        }
    }
}

/* Encodes and feeds a message from member `from`. */
static int
s_feed (cons_member_t *m, uint64_t now, int from, const cons_member_msg_t *msg)
{
    size_t len;
    uint8_t *body = cons_member_msg_encode (msg, &len);
    int rc = cons_member_receive (m, now, s_id (from), body, len);
    free (body);
    return rc;
}

static int
s_push_update (cons_member_t *m, uint64_t now, int from, cons_member_state_t state, int about,
               uint64_t inc, int by)
{
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PUSH;
    msg.count = 1;
    msg.updates[0].state = state;
    msg.updates[0].id = s_id (about);
    msg.updates[0].incarnation = inc;
    msg.updates[0].by = state == CONS_MEMBER_SUSPECT ? s_id (by) : NULL;
    return s_feed (m, now, from, &msg);
}

static void
s_state_of (cons_member_t *m, int who, cons_member_state_t *state, uint64_t *inc)
{
    cons_member_info_t info;
    assert_true (cons_member_find (m, s_id (who), &info));
    *state = info.state;
    *inc = info.incarnation;
}

/* Ticks until the machine's first probe goes out; returns its time and
   fills the ping's output. */
static uint64_t
s_first_ping (cons_member_t *m, s_outs_t *outs)
{
    cons_member_tick (m, 0);
    s_drain (m, outs);
    assert_int_equal (outs->count, 0);
    uint64_t t = cons_member_next_deadline (m);
    assert_true (t < 1000);
    cons_member_tick (m, t);
    s_drain (m, outs);
    assert_int_equal (outs->count, 1);
    assert_int_equal (outs->o[0].kind, CONS_MEMBER_OUT_SEND);
    assert_int_equal (outs->o[0].msg.type, CONS_MEMBER_PING);
    assert_memory_equal (outs->o[0].msg.target, s_id (outs->o[0].peer), CONS_MEMBER_ID_LEN);
    return t;
}

/* ---- codec ------------------------------------------------------------- */

/* python3-msgpack: packb({'seq':7,'t':1,'target':b'\xbb'*32,
   'up':[[2,b'\xcc'*32,3,b'\xaa'*32]],'v':1}, use_bin_type=True) */
static const char s_ping_hex[] =
    "85a373657107a17401a6746172676574c420bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
    "bbbbbbbbbbbba27570919402c420cccccccccccccccccccccccccccccccccccccccccccccccccccccccccccc"
    "cccc03c420aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa17601";
/* packb({'seq':7,'t':2,'up':[],'v':1}) */
static const char s_ack_hex[] = "84a373657107a17402a2757090a17601";

static void
test_known_answers (void **state)
{
    (void)state;
    uint8_t a[32], b[32], c[32];
    memset (a, 0xaa, 32);
    memset (b, 0xbb, 32);
    memset (c, 0xcc, 32);
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PING;
    msg.seq = 7;
    msg.target = b;
    msg.count = 1;
    msg.updates[0] = (cons_member_update_t){ CONS_MEMBER_SUSPECT, c, 3, a };
    size_t len;
    uint8_t *body = cons_member_msg_encode (&msg, &len);
    uint8_t want[128];
    assert_int_equal (len, sizeof want);
    assert_true (wd_hex_decode (want, sizeof want, s_ping_hex));
    assert_memory_equal (body, want, len);

    cons_member_msg_t back;
    assert_int_equal (cons_member_msg_decode (body, len, &back), WD_OK);
    assert_int_equal (back.type, CONS_MEMBER_PING);
    assert_int_equal (back.seq, 7);
    assert_memory_equal (back.target, b, 32);
    assert_int_equal (back.count, 1);
    assert_int_equal (back.updates[0].state, CONS_MEMBER_SUSPECT);
    assert_memory_equal (back.updates[0].id, c, 32);
    assert_int_equal (back.updates[0].incarnation, 3);
    assert_memory_equal (back.updates[0].by, a, 32);
    free (body);

    memset (&msg, 0, sizeof msg);
    msg.type = CONS_MEMBER_ACK;
    msg.seq = 7;
    body = cons_member_msg_encode (&msg, &len);
    uint8_t want_ack[16];
    assert_int_equal (len, sizeof want_ack);
    assert_true (wd_hex_decode (want_ack, sizeof want_ack, s_ack_hex));
    assert_memory_equal (body, want_ack, len);
    free (body);
}

static void
test_roundtrip_every_type (void **state)
{
    (void)state;
    s_ids_init ();
    /* The largest body: a ping-req with 32 suspicions at the largest
       incarnation, within CONS_MEMBER_BODY_MAX. */
    uint8_t many[CONS_MEMBER_UPDATES][CONS_MEMBER_ID_LEN];
    cons_member_msg_t big = { 0 };
    big.type = CONS_MEMBER_PING_REQ;
    big.seq = UINT32_MAX;
    big.target = s_id (1);
    big.count = CONS_MEMBER_UPDATES;
    for (int k = 0; k < CONS_MEMBER_UPDATES; k++) {
        memset (many[k], k, CONS_MEMBER_ID_LEN);
        big.updates[k] =
            (cons_member_update_t){ CONS_MEMBER_SUSPECT, many[k], CONS_MEMBER_INC_MAX, s_id (0) };
    }
    size_t big_len;
    uint8_t *big_body = cons_member_msg_encode (&big, &big_len);
    assert_int_equal (big_len, 2591);
    assert_true (big_len <= CONS_MEMBER_BODY_MAX);
    cons_member_msg_t big_back;
    assert_int_equal (cons_member_msg_decode (big_body, big_len, &big_back), WD_OK);
    assert_int_equal (big_back.count, CONS_MEMBER_UPDATES);
    free (big_body);
    for (int t = CONS_MEMBER_PING; t <= CONS_MEMBER_PUSH; t++) {
        cons_member_msg_t msg = { 0 };
        msg.type = (cons_member_type_t)t;
        msg.seq = t == CONS_MEMBER_PUSH ? 0 : UINT32_MAX;
        msg.target = (t == CONS_MEMBER_PING || t == CONS_MEMBER_PING_REQ) ? s_id (1) : NULL;
        msg.count = 4;
        for (int k = 0; k < 4; k++) {
            msg.updates[k].state = (cons_member_state_t)(k + 1);
            msg.updates[k].id = s_id (k);
            msg.updates[k].incarnation = k == 3 ? CONS_MEMBER_INC_MAX : (uint64_t)k * 1000;
            msg.updates[k].by = k == 1 ? s_id (4) : NULL;
        }
        size_t len;
        uint8_t *body = cons_member_msg_encode (&msg, &len);
        cons_member_msg_t back;
        assert_int_equal (cons_member_msg_decode (body, len, &back), WD_OK);
        size_t len2;
        uint8_t *again = cons_member_msg_encode (&back, &len2);
        assert_int_equal (len, len2);
        assert_memory_equal (body, again, len);
        free (body);
        free (again);
    }
}

/* Builders for malformed bodies. */
typedef struct {
    bool no_seq, no_t, no_up, no_v, extra_key;
    bool seq, target; /* present */
    uint64_t seq_value, t, v;
    size_t target_len;
    bool t_as_str;
    /* one update unless count given */
    size_t updates;
    size_t fields;
    uint64_t state, inc;
    size_t id_len, by_len;
    bool duplicate;
} s_bad_t;

static uint8_t *
s_bad_body (const s_bad_t *b, size_t *len)
{
    uint8_t id[64], other[64];
    memset (id, 0x22, sizeof id);
    memset (other, 0x33, sizeof other);
    wd_writer_t *w = wd_writer_new ();
    size_t n = (b->seq ? 1 : 0) + (b->no_t ? 0 : 1) + (b->target ? 1 : 0) + (b->no_up ? 0 : 1) +
               (b->no_v ? 0 : 1) + (b->extra_key ? 1 : 0);
    wd_writer_map (w, n);
    if (b->seq) {
        wd_writer_key (w, "seq");
        wd_writer_uint (w, b->seq_value);
    }
    if (!b->no_t) {
        wd_writer_key (w, "t");
        if (b->t_as_str)
            wd_writer_cstr (w, "ping");
        else
            wd_writer_uint (w, b->t);
    }
    if (b->target) {
        wd_writer_key (w, "target");
        wd_writer_bin (w, id, b->target_len);
    }
    if (!b->no_up) {
        wd_writer_key (w, "up");
        wd_writer_array (w, b->updates);
        for (size_t i = 0; i < b->updates; i++) {
            wd_writer_array (w, b->fields);
            if (b->fields > 0)
                wd_writer_uint (w, b->state);
            if (b->fields > 1)
                wd_writer_bin (w, (b->duplicate || i == 0) ? id : other, b->id_len);
            if (b->fields > 2)
                wd_writer_uint (w, b->inc + (b->duplicate ? 0 : i));
            if (b->fields > 3)
                wd_writer_bin (w, other, b->by_len);
            for (size_t f = 4; f < b->fields; f++)
                wd_writer_nil (w);
        }
    }
    if (!b->no_v) {
        wd_writer_key (w, "v");
        wd_writer_uint (w, b->v);
    }
    if (b->extra_key) {
        wd_writer_key (w, "x");
        wd_writer_uint (w, 0);
    }
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static s_bad_t
s_good_ping (void)
{
    return (s_bad_t){ .seq = true,
                      .seq_value = 5,
                      .t = CONS_MEMBER_PING,
                      .target = true,
                      .target_len = 32,
                      .v = 1,
                      .updates = 1,
                      .fields = 3,
                      .state = CONS_MEMBER_ALIVE,
                      .inc = 1,
                      .id_len = 32,
                      .by_len = 32 };
}

static int
s_decode_bad (s_bad_t b)
{
    size_t len;
    uint8_t *body = s_bad_body (&b, &len);
    cons_member_msg_t msg;
    int rc = cons_member_msg_decode (body, len, &msg);
    free (body);
    return rc;
}

static void
test_decode_rejections (void **state)
{
    (void)state;
    s_bad_t b = s_good_ping ();
    assert_int_equal (s_decode_bad (b), WD_OK);

    b = s_good_ping ();
    b.t = 9;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_TYPE);
    b.t = 0;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_TYPE);
    b = s_good_ping ();
    b.t_as_str = true;
    assert_int_equal (s_decode_bad (b), WD_ERR_WRONG_TYPE);
    b = s_good_ping ();
    b.seq = false;
    assert_int_equal (s_decode_bad (b), WD_ERR_MISSING_KEY);
    b = s_good_ping ();
    b.target = false;
    assert_int_equal (s_decode_bad (b), WD_ERR_MISSING_KEY);
    b = s_good_ping ();
    b.t = CONS_MEMBER_ACK;
    assert_int_equal (s_decode_bad (b), WD_ERR_UNKNOWN_KEY); /* an ack has no target */
    b.target = false;
    assert_int_equal (s_decode_bad (b), WD_OK);
    b.t = CONS_MEMBER_PUSH;
    assert_int_equal (s_decode_bad (b), WD_ERR_UNKNOWN_KEY); /* a push has no seq */
    b.seq = false;
    assert_int_equal (s_decode_bad (b), WD_OK);
    b = s_good_ping ();
    b.no_t = true;
    assert_int_equal (s_decode_bad (b), WD_ERR_MISSING_KEY);
    b = s_good_ping ();
    b.no_up = true;
    assert_int_equal (s_decode_bad (b), WD_ERR_MISSING_KEY);
    b = s_good_ping ();
    b.no_v = true;
    assert_int_equal (s_decode_bad (b), WD_ERR_MISSING_KEY);
    b = s_good_ping ();
    b.extra_key = true;
    assert_int_equal (s_decode_bad (b), WD_ERR_UNKNOWN_KEY);
    b = s_good_ping ();
    b.v = 2;
    assert_int_equal (s_decode_bad (b), WD_ERR_BAD_VERSION);
    b = s_good_ping ();
    b.seq_value = UINT64_C (1) << 32;
    assert_int_equal (s_decode_bad (b), WD_ERR_OUT_OF_RANGE);
    b = s_good_ping ();
    b.target_len = 31;
    assert_int_equal (s_decode_bad (b), WD_ERR_BAD_LENGTH);
    b.target_len = 33;
    assert_int_equal (s_decode_bad (b), WD_ERR_OVERSIZE);

    /* Updates. */
    b = s_good_ping ();
    b.state = 0;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_STATE);
    b.state = 5;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_STATE);
    b = s_good_ping ();
    b.state = CONS_MEMBER_SUSPECT; /* without its accuser */
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_UPDATE);
    b.fields = 4;
    assert_int_equal (s_decode_bad (b), WD_OK);
    b.by_len = 16;
    assert_int_equal (s_decode_bad (b), WD_ERR_BAD_LENGTH);
    b = s_good_ping ();
    b.fields = 4; /* an accuser on an alive update */
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_UPDATE);
    b.fields = 2;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_UPDATE);
    b.fields = 5;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_UPDATE);
    b.fields = 0;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_UPDATE);
    b = s_good_ping ();
    b.id_len = 31;
    assert_int_equal (s_decode_bad (b), WD_ERR_BAD_LENGTH);
    b = s_good_ping ();
    b.inc = CONS_MEMBER_INC_MAX + 1;
    assert_int_equal (s_decode_bad (b), WD_ERR_OUT_OF_RANGE);
    b = s_good_ping ();
    b.updates = 2;
    b.duplicate = true;
    assert_int_equal (s_decode_bad (b), CONS_ERR_MEMBER_DUPLICATE);
    b = s_good_ping ();
    b.updates = CONS_MEMBER_UPDATES + 1;
    assert_int_equal (s_decode_bad (b), WD_ERR_OVERSIZE);

    /* Codec-level rejections come first. */
    static const uint8_t float_body[] = { 0x81, 0xa1, 't', 0xca, 0, 0, 0, 0 };
    cons_member_msg_t msg;
    assert_int_equal (cons_member_msg_decode (float_body, sizeof float_body, &msg), WD_ERR_FLOAT);
    static const uint8_t long_int[] = { 0x81, 0xa1, 't', 0xcc, 0x01 };
    assert_int_equal (cons_member_msg_decode (long_int, sizeof long_int, &msg),
                      WD_ERR_INT_NONCANONICAL);
    assert_int_equal (cons_member_msg_decode (long_int, 0, &msg), WD_ERR_TRUNCATED);
    static uint8_t big[CONS_MEMBER_BODY_MAX + 1];
    assert_int_equal (cons_member_msg_decode (big, sizeof big, &msg), WD_ERR_OVERSIZE);
    static const uint8_t not_map[] = { 0x90 };
    assert_int_equal (cons_member_msg_decode (not_map, sizeof not_map, &msg), WD_ERR_WRONG_TYPE);
}

/* ---- receive-level rejections -------------------------------------------- */

static void
test_receive_rejections (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 1, 0);
    s_outs_t outs;
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PING;
    msg.seq = 1;
    msg.target = s_id (0);
    assert_int_equal (s_feed (m, 10, 0, &msg), CONS_ERR_MEMBER_SELF);
    uint8_t stranger[32];
    memset (stranger, 0x99, sizeof stranger);
    size_t len;
    uint8_t *body = cons_member_msg_encode (&msg, &len);
    assert_int_equal (cons_member_receive (m, 10, stranger, body, len), CONS_ERR_MEMBER_UNKNOWN);
    free (body);
    assert_int_equal (cons_member_receive (m, 10, s_id (1), (const uint8_t *)"\xc1", 1),
                      WD_ERR_BAD_TYPE);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 0);

    /* A ping for another member is refused and not answered. */
    msg.target = s_id (2);
    assert_int_equal (s_feed (m, 10, 1, &msg), CONS_ERR_MEMBER_TARGET);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 0);
    /* The right target: answered with the same seq. */
    msg.target = s_id (0);
    msg.seq = 77;
    assert_int_equal (s_feed (m, 10, 1, &msg), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].peer, 1);
    assert_int_equal (outs.o[0].msg.type, CONS_MEMBER_ACK);
    assert_int_equal (outs.o[0].msg.seq, 77);

    /* Ping-reqs naming this node, their sender, or a stranger. */
    msg.type = CONS_MEMBER_PING_REQ;
    msg.target = s_id (0);
    assert_int_equal (s_feed (m, 10, 1, &msg), CONS_ERR_MEMBER_TARGET);
    msg.target = s_id (1);
    assert_int_equal (s_feed (m, 10, 1, &msg), CONS_ERR_MEMBER_TARGET);
    msg.target = stranger;
    assert_int_equal (s_feed (m, 10, 1, &msg), CONS_ERR_MEMBER_UNKNOWN);

    /* Acks and nacks for no pending probe. */
    msg.type = CONS_MEMBER_ACK;
    msg.target = NULL;
    assert_int_equal (s_feed (m, 10, 2, &msg), CONS_ERR_STALE);
    msg.type = CONS_MEMBER_NACK;
    assert_int_equal (s_feed (m, 10, 2, &msg), CONS_ERR_STALE);

    /* The relay table is bounded. */
    msg.type = CONS_MEMBER_PING_REQ;
    msg.target = s_id (3);
    int busy = 0, ok = 0;
    for (int i = 0; i < 100; i++) {
        msg.seq = (uint32_t)i;
        int rc = s_feed (m, 20, 1 + (i % 2), &msg);
        if (rc == CONS_ERR_MEMBER_BUSY)
            busy++;
        else if (rc == WD_OK)
            ok++;
        s_drain (m, &outs);
    }
    assert_int_equal (ok, 64);
    assert_int_equal (busy, 36);
    cons_member_stats_t st;
    cons_member_stats (m, &st);
    assert_int_equal (st.relay_dropped, 36);
    assert_int_equal (st.stale, 2);
    cons_member_destroy (&m);
    assert_null (m);
}

/* ---- probing ----------------------------------------------------------- */

static void
test_probe_ack_and_rtt (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 7, 0);
    s_outs_t outs;
    uint64_t t0 = s_first_ping (m, &outs);
    int target = outs.o[0].peer;
    uint32_t seq = outs.o[0].msg.seq;
    assert_int_equal (cons_member_next_deadline (m), t0 + 500);

    /* An ack with another seq, or from another member, does not count. */
    cons_member_msg_t ack = { 0 };
    ack.type = CONS_MEMBER_ACK;
    ack.seq = seq + 1;
    assert_int_equal (s_feed (m, t0 + 30, target, &ack), CONS_ERR_STALE);
    ack.seq = seq;
    assert_int_equal (s_feed (m, t0 + 30, target == 1 ? 2 : 1, &ack), CONS_ERR_STALE);
    assert_int_equal (s_feed (m, t0 + 42, target, &ack), WD_OK);
    /* Acked twice: the second is stale. */
    assert_int_equal (s_feed (m, t0 + 43, target, &ack), CONS_ERR_STALE);
    cons_member_info_t info;
    assert_true (cons_member_find (m, s_id (target), &info));
    assert_int_equal (info.rtt_ms, 42);
    assert_int_equal (info.state, CONS_MEMBER_ALIVE);
    /* No indirect probe after an ack: the next deadline is the next period. */
    assert_int_equal (cons_member_next_deadline (m), t0 + 1000);
    cons_member_tick (m, t0 + 1000);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].msg.type, CONS_MEMBER_PING);
    assert_true (outs.o[0].peer != target); /* round-robin */
    /* A late ack for the first probe no longer counts. */
    assert_int_equal (s_feed (m, t0 + 1001, target, &ack), CONS_ERR_STALE);
    cons_member_destroy (&m);
}

/* A probe that fails: ping-reqs after the timeout, suspicion at the end of
   the period, dead after the suspicion timeout. nacks says how many relays
   answer with a nack; the local health grows by the missed ones. */
static void
s_failed_probe (int nacks)
{
    cons_member_t *m = s_new (0, 3, 0);
    s_outs_t outs;
    uint64_t t0 = s_first_ping (m, &outs);
    int target = outs.o[0].peer;
    uint32_t seq = outs.o[0].msg.seq;
    cons_member_tick (m, t0 + 499);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 0);
    cons_member_tick (m, t0 + 500);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 3);
    int relays[3];
    for (int i = 0; i < 3; i++) {
        assert_int_equal (outs.o[i].msg.type, CONS_MEMBER_PING_REQ);
        assert_int_equal (outs.o[i].msg.seq, seq);
        assert_memory_equal (outs.o[i].msg.target, s_id (target), 32);
        assert_true (outs.o[i].peer != target && outs.o[i].peer != 0);
        relays[i] = outs.o[i].peer;
    }
    cons_member_msg_t nack = { 0 };
    nack.type = CONS_MEMBER_NACK;
    nack.seq = seq;
    for (int i = 0; i < nacks; i++) {
        assert_int_equal (s_feed (m, t0 + 900, relays[i], &nack), WD_OK);
        assert_int_equal (s_feed (m, t0 + 900, relays[i], &nack), CONS_ERR_STALE); /* once */
    }
    assert_int_equal (cons_member_next_deadline (m), t0 + 1000);
    cons_member_tick (m, t0 + 1000);
    s_drain (m, &outs);
    /* An event (suspect), then the next ping, which carries the
       suspicion. */
    assert_int_equal (outs.o[0].kind, CONS_MEMBER_OUT_EVENT);
    assert_int_equal (outs.o[0].peer, target);
    assert_int_equal (outs.o[0].state, CONS_MEMBER_SUSPECT);
    assert_int_equal (outs.o[0].inc, 0);
    assert_int_equal (outs.o[0].at, t0 + 1000);
    assert_int_equal (cons_member_health (m), (uint32_t)(3 - nacks));
    assert_int_equal (outs.o[1].kind, CONS_MEMBER_OUT_SEND);
    const cons_member_msg_t *ping = &outs.o[1].msg;
    assert_int_equal (ping->type, CONS_MEMBER_PING);
    /* A relay that stayed silent is probed next. */
    if (nacks < 3) {
        bool silent_relay = false;
        for (int i = nacks; i < 3; i++)
            silent_relay |= outs.o[1].peer == relays[i];
        assert_true (silent_relay);
    }
    bool carried = false;
    for (size_t i = 0; i < ping->count; i++)
        if (memcmp (ping->updates[i].id, s_id (target), 32) == 0) {
            carried = true;
            assert_int_equal (ping->updates[i].state, CONS_MEMBER_SUSPECT);
            assert_memory_equal (ping->updates[i].by, s_id (0), 32);
        }
    assert_true (carried);
    /* The period is scaled by the health multiplier. */
    assert_int_equal (cons_member_next_deadline (m), t0 + 1000 + 500 * (uint64_t)(3 - nacks + 1));
    /* Dead after the suspicion timeout with no confirmation: 5 members,
       min 2000, max 12000. */
    cons_member_info_t info;
    assert_true (cons_member_find (m, s_id (target), &info));
    assert_int_equal (info.suspect_dead_ms, t0 + 1000 + 12000);
    cons_member_destroy (&m);
}

static void
test_failed_probe_all_nacks (void **state)
{
    (void)state;
    s_failed_probe (3);
}

static void
test_failed_probe_missed_nacks (void **state)
{
    (void)state;
    s_failed_probe (1);
    s_failed_probe (0);
}

/* Ping-req relay: the relay pings the target with a seq of its own,
   forwards the ack with the origin's seq, or nacks at 80% of the timeout. */
static void
test_relay (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 5, 0);
    s_outs_t outs;
    cons_member_tick (m, 0);
    s_drain (m, &outs);
    cons_member_msg_t req = { 0 };
    req.type = CONS_MEMBER_PING_REQ;
    req.seq = 1234;
    req.target = s_id (2);
    assert_int_equal (s_feed (m, 100, 1, &req), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].peer, 2);
    assert_int_equal (outs.o[0].msg.type, CONS_MEMBER_PING);
    assert_memory_equal (outs.o[0].msg.target, s_id (2), 32);
    uint32_t relay_seq = outs.o[0].msg.seq;
    cons_member_msg_t ack = { 0 };
    ack.type = CONS_MEMBER_ACK;
    ack.seq = relay_seq;
    /* From the wrong member: not forwarded. */
    assert_int_equal (s_feed (m, 150, 3, &ack), CONS_ERR_STALE);
    assert_int_equal (s_feed (m, 160, 2, &ack), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].peer, 1);
    assert_int_equal (outs.o[0].msg.type, CONS_MEMBER_ACK);
    assert_int_equal (outs.o[0].msg.seq, 1234);

    /* A silent target: nack at 100 + 400. */
    req.seq = 99;
    req.target = s_id (3);
    assert_int_equal (s_feed (m, 200, 4, &req), WD_OK);
    s_drain (m, &outs);
    cons_member_tick (m, 599);
    s_drain (m, &outs);
    for (size_t i = 0; i < outs.count; i++)
        assert_false (outs.o[i].kind == CONS_MEMBER_OUT_SEND &&
                      outs.o[i].msg.type == CONS_MEMBER_NACK);
    cons_member_tick (m, 600);
    s_drain (m, &outs);
    bool nacked = false;
    for (size_t i = 0; i < outs.count; i++)
        if (outs.o[i].kind == CONS_MEMBER_OUT_SEND && outs.o[i].msg.type == CONS_MEMBER_NACK) {
            nacked = true;
            assert_int_equal (outs.o[i].peer, 4);
            assert_int_equal (outs.o[i].msg.seq, 99);
        }
    assert_true (nacked);
    cons_member_destroy (&m);
}

/* ---- updates ------------------------------------------------------------ */

static void
test_refutation (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 9, 4);
    s_outs_t outs;
    assert_int_equal (cons_member_incarnation (m), 4);
    /* An old suspicion (incarnation 3) needs no answer. */
    assert_int_equal (s_push_update (m, 10, 1, CONS_MEMBER_SUSPECT, 0, 3, 2), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 4);
    assert_int_equal (cons_member_health (m), 0);
    /* A current one is refuted: incarnation + 1, health + 1. */
    assert_int_equal (s_push_update (m, 10, 1, CONS_MEMBER_SUSPECT, 0, 4, 2), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 5);
    assert_int_equal (cons_member_health (m), 1);
    /* So is a death, and a "left" this node never announced. */
    assert_int_equal (s_push_update (m, 10, 1, CONS_MEMBER_DEAD, 0, 5, 0), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 6);
    assert_int_equal (s_push_update (m, 10, 1, CONS_MEMBER_LEFT, 0, 6, 0), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 7);
    cons_member_stats_t st;
    cons_member_stats (m, &st);
    assert_int_equal (st.refutations, 3);
    /* No event about itself; the next message carries alive(7). */
    s_drain (m, &outs);
    assert_int_equal (outs.count, 0);
    cons_member_msg_t ping = { 0 };
    ping.type = CONS_MEMBER_PING;
    ping.seq = 1;
    ping.target = s_id (0);
    assert_int_equal (s_feed (m, 20, 3, &ping), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    const cons_member_msg_t *ack = &outs.o[0].msg;
    assert_int_equal (ack->type, CONS_MEMBER_ACK);
    assert_true (ack->count >= 1);
    assert_memory_equal (ack->updates[0].id, s_id (0), 32);
    assert_int_equal (ack->updates[0].state, CONS_MEMBER_ALIVE);
    assert_int_equal (ack->updates[0].incarnation, 7);
    /* Alive at a higher incarnation (an earlier instance of this node got
       further): caught up without a refutation. */
    assert_int_equal (s_push_update (m, 30, 1, CONS_MEMBER_ALIVE, 0, 50, 0), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 50);
    cons_member_stats (m, &st);
    assert_int_equal (st.refutations, 3);
    cons_member_destroy (&m);
}

/* A member declared dead is pinged now and then (every `reclaim` periods,
   8 by default) with its own death piggybacked first; no relay is asked
   for it, and its answer (a refutation at a higher incarnation) brings it
   back: how the two sides of a healed partition find each other. */
static void
test_reclaim_dead_member (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 21, 1);
    s_outs_t outs;
    assert_int_equal (s_push_update (m, 0, 2, CONS_MEMBER_DEAD, 1, 0, 0), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].state, CONS_MEMBER_DEAD);
    cons_member_tick (m, 0);
    s_drain (m, &outs);
    uint32_t seq = 0;
    uint64_t now = 0;
    bool pinged = false;
    while (!pinged && now < 12000) {
        now = cons_member_next_deadline (m);
        cons_member_tick (m, now);
        s_drain (m, &outs);
        for (size_t i = 0; i < outs.count; i++) {
            const cons_member_msg_t *msg = &outs.o[i].msg;
            if (outs.o[i].kind != CONS_MEMBER_OUT_SEND)
                continue;
            if (msg->type == CONS_MEMBER_PING_REQ)
                assert_memory_not_equal (msg->target, s_id (1), CONS_MEMBER_ID_LEN);
            if (msg->type != CONS_MEMBER_PING)
                continue;
            if (outs.o[i].peer == 1) {
                pinged = true;
                seq = msg->seq;
                assert_true (msg->count >= 1);
                assert_int_equal (msg->updates[0].state, CONS_MEMBER_DEAD);
                assert_memory_equal (msg->updates[0].id, s_id (1), CONS_MEMBER_ID_LEN);
            } else {
                cons_member_msg_t ack = { .type = CONS_MEMBER_ACK, .seq = msg->seq };
                assert_int_equal (s_feed (m, now, outs.o[i].peer, &ack), WD_OK);
            }
        }
    }
    assert_true (pinged);
    /* Within reclaim + 1 periods of 1000 ms (the first is staggered). */
    assert_true (now < 10000);
    cons_member_msg_t ack = { .type = CONS_MEMBER_ACK, .seq = seq, .count = 1 };
    ack.updates[0] =
        (cons_member_update_t){ .state = CONS_MEMBER_ALIVE, .id = s_id (1), .incarnation = 1 };
    assert_int_equal (s_feed (m, now + 1, 1, &ack), WD_OK);
    cons_member_state_t st;
    uint64_t inc;
    s_state_of (m, 1, &st, &inc);
    assert_int_equal (st, CONS_MEMBER_ALIVE);
    assert_int_equal (inc, 1);
    assert_int_equal (cons_member_health (m), 0);
    cons_member_destroy (&m);
}

/* A ping that carries an old death of the receiver (the sender missed its
   refutation, e.g. across a partition) is answered with the receiver's
   current alive, so the sender catches up instead of holding it dead. */
static void
test_stale_death_answered (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 5, 5);
    s_outs_t outs;
    s_drain (m, &outs);
    /* Let the start-up announcement of alive(5) run out first. */
    for (int k = 0; k < 40; k++) {
        assert_int_equal (s_push_update (m, 10, 1, CONS_MEMBER_ALIVE, 2, 0, 0), WD_OK);
        cons_member_msg_t ping = { .type = CONS_MEMBER_PING,
                                   .seq = (uint32_t)k,
                                   .target = s_id (0) };
        assert_int_equal (s_feed (m, 10, 3, &ping), WD_OK);
        s_drain (m, &outs);
    }
    cons_member_msg_t ping = {
        .type = CONS_MEMBER_PING, .seq = 99, .target = s_id (0), .count = 1
    };
    ping.updates[0] =
        (cons_member_update_t){ .state = CONS_MEMBER_DEAD, .id = s_id (0), .incarnation = 3 };
    assert_int_equal (s_feed (m, 20, 1, &ping), WD_OK);
    assert_int_equal (cons_member_incarnation (m), 5); /* no refutation needed */
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    const cons_member_msg_t *ack = &outs.o[0].msg;
    assert_int_equal (ack->type, CONS_MEMBER_ACK);
    bool told = false;
    for (size_t i = 0; i < ack->count; i++)
        told |= memcmp (ack->updates[i].id, s_id (0), CONS_MEMBER_ID_LEN) == 0 &&
                ack->updates[i].state == CONS_MEMBER_ALIVE && ack->updates[i].incarnation == 5;
    assert_true (told);
    cons_member_destroy (&m);
}

/* (current state, incarnation) + update -> expected state, incarnation. */
static void
test_incarnation_ordering (void **state)
{
    (void)state;
    static const struct {
        cons_member_state_t from;
        uint64_t from_inc;
        cons_member_state_t upd;
        uint64_t upd_inc;
        cons_member_state_t want;
        uint64_t want_inc;
    } cases[] = {
        /* Alive is only taken at a higher incarnation. */
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_ALIVE, 4, CONS_MEMBER_ALIVE, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_ALIVE, 6, CONS_MEMBER_ALIVE, 6 },
        { CONS_MEMBER_SUSPECT, 5, CONS_MEMBER_ALIVE, 5, CONS_MEMBER_SUSPECT, 5 },
        { CONS_MEMBER_SUSPECT, 5, CONS_MEMBER_ALIVE, 6, CONS_MEMBER_ALIVE, 6 },
        { CONS_MEMBER_DEAD, 5, CONS_MEMBER_ALIVE, 5, CONS_MEMBER_DEAD, 5 },
        { CONS_MEMBER_DEAD, 5, CONS_MEMBER_ALIVE, 6, CONS_MEMBER_ALIVE, 6 },
        { CONS_MEMBER_LEFT, 5, CONS_MEMBER_ALIVE, 6, CONS_MEMBER_ALIVE, 6 },
        /* Suspect overrides alive of the same or a lower incarnation. */
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_SUSPECT, 4, CONS_MEMBER_ALIVE, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_SUSPECT, 5, CONS_MEMBER_SUSPECT, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_SUSPECT, 7, CONS_MEMBER_SUSPECT, 7 },
        { CONS_MEMBER_DEAD, 5, CONS_MEMBER_SUSPECT, 5, CONS_MEMBER_DEAD, 5 },
        { CONS_MEMBER_DEAD, 5, CONS_MEMBER_SUSPECT, 6, CONS_MEMBER_SUSPECT, 6 },
        /* Dead overrides alive and suspect of the same incarnation. */
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_DEAD, 5, CONS_MEMBER_DEAD, 5 },
        { CONS_MEMBER_SUSPECT, 5, CONS_MEMBER_DEAD, 5, CONS_MEMBER_DEAD, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_DEAD, 4, CONS_MEMBER_ALIVE, 5 },
        { CONS_MEMBER_LEFT, 5, CONS_MEMBER_DEAD, 5, CONS_MEMBER_LEFT, 5 },
        /* Left overrides everything of the same incarnation. */
        { CONS_MEMBER_DEAD, 5, CONS_MEMBER_LEFT, 5, CONS_MEMBER_LEFT, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_LEFT, 5, CONS_MEMBER_LEFT, 5 },
        { CONS_MEMBER_ALIVE, 5, CONS_MEMBER_LEFT, 4, CONS_MEMBER_ALIVE, 5 },
    };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        cons_member_t *m = s_new (0, 11, 0);
        /* Bring member 1 to the starting state through updates from 2. */
        assert_int_equal (s_push_update (m, 10, 2, CONS_MEMBER_ALIVE, 1, cases[c].from_inc, 0),
                          WD_OK);
        if (cases[c].from != CONS_MEMBER_ALIVE)
            assert_int_equal (s_push_update (m, 10, 2, cases[c].from, 1, cases[c].from_inc, 3),
                              WD_OK);
        cons_member_state_t st;
        uint64_t inc;
        s_state_of (m, 1, &st, &inc);
        assert_int_equal (st, cases[c].from);
        assert_int_equal (inc, cases[c].from_inc);
        assert_int_equal (s_push_update (m, 20, 2, cases[c].upd, 1, cases[c].upd_inc, 4), WD_OK);
        s_state_of (m, 1, &st, &inc);
        if (st != cases[c].want || inc != cases[c].want_inc)
            fail_msg ("case %zu: got %s/%llu", c, cons_member_state_name (st),
                      (unsigned long long)inc);
        cons_member_destroy (&m);
    }
}

static void
test_confirmations_shorten_suspicion (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 13, 0);
    s_outs_t outs;
    cons_member_tick (m, 0);
    s_drain (m, &outs);
    /* Member 1 suspected by 2 at t=1000: 5 members, max 12000. */
    assert_int_equal (s_push_update (m, 1000, 3, CONS_MEMBER_SUSPECT, 1, 0, 2), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].kind, CONS_MEMBER_OUT_EVENT);
    assert_int_equal (outs.o[0].state, CONS_MEMBER_SUSPECT);
    cons_member_info_t info;
    assert_true (cons_member_find (m, s_id (1), &info));
    assert_int_equal (info.suspect_dead_ms, 1000 + 12000);
    assert_int_equal (info.confirmations, 0);
    /* The same accuser again: nothing. */
    assert_int_equal (s_push_update (m, 1500, 4, CONS_MEMBER_SUSPECT, 1, 0, 2), WD_OK);
    assert_true (cons_member_find (m, s_id (1), &info));
    assert_int_equal (info.suspect_dead_ms, 1000 + 12000);
    /* New accusers: 7000, 4075, then the minimum 2000 (k = 3). */
    assert_int_equal (s_push_update (m, 2000, 4, CONS_MEMBER_SUSPECT, 1, 0, 3), WD_OK);
    assert_true (cons_member_find (m, s_id (1), &info));
    assert_int_equal (info.confirmations, 1);
    assert_int_equal (info.suspect_dead_ms, 1000 + 7000);
    assert_int_equal (s_push_update (m, 2000, 4, CONS_MEMBER_SUSPECT, 1, 0, 4), WD_OK);
    assert_true (cons_member_find (m, s_id (1), &info));
    assert_int_equal (info.suspect_dead_ms, 1000 + 4075);
    assert_int_equal (s_push_update (m, 2100, 4, CONS_MEMBER_SUSPECT, 1, 0, 0), WD_OK);
    assert_true (cons_member_find (m, s_id (1), &info));
    assert_int_equal (info.confirmations, 3);
    assert_int_equal (info.suspect_dead_ms, 1000 + 2000);
    /* Dead at 3000, with an event carrying the time. */
    cons_member_tick (m, 2999);
    s_drain (m, &outs);
    for (size_t i = 0; i < outs.count; i++)
        assert_false (outs.o[i].kind == CONS_MEMBER_OUT_EVENT);
    cons_member_tick (m, 3000);
    s_drain (m, &outs);
    bool dead = false;
    for (size_t i = 0; i < outs.count; i++)
        if (outs.o[i].kind == CONS_MEMBER_OUT_EVENT) {
            dead = true;
            assert_int_equal (outs.o[i].peer, 1);
            assert_int_equal (outs.o[i].state, CONS_MEMBER_DEAD);
            assert_int_equal (outs.o[i].at, 3000);
        }
    assert_true (dead);
    /* A suspicion by an unknown accuser is ignored and counted. */
    cons_member_msg_t msg = { 0 };
    uint8_t stranger[32];
    memset (stranger, 0x99, 32);
    msg.type = CONS_MEMBER_PUSH;
    msg.count = 2;
    msg.updates[0] = (cons_member_update_t){ CONS_MEMBER_SUSPECT, s_id (2), 0, stranger };
    msg.updates[1] = (cons_member_update_t){ CONS_MEMBER_ALIVE, stranger, 9, NULL };
    assert_int_equal (s_feed (m, 3100, 3, &msg), WD_OK);
    cons_member_state_t st;
    uint64_t inc;
    s_state_of (m, 2, &st, &inc);
    assert_int_equal (st, CONS_MEMBER_ALIVE);
    cons_member_stats_t stats;
    cons_member_stats (m, &stats);
    assert_int_equal (stats.unknown_updates, 2);
    cons_member_destroy (&m);
}

static void
test_suspicion_timeout_formula (void **state)
{
    (void)state;
    cons_member_config_t cfg = { 0 };
    cfg.suspicion_mult = 2;
    cfg.suspicion_max_mult = 6;
    cfg.confirmations = 3;
    /* Values from python3: floor(max - (max - min) * ln(c + 1) / ln(k + 1)). */
    static const uint64_t n16[] = { 14448, 8428, 4906, 2408, 2408 };
    static const uint64_t n5[] = { 12000, 7000, 4075, 2000, 2000 };
    static const uint64_t n100[] = { 24000, 14000, 8150, 4000, 4000 };
    for (uint32_t c = 0; c < 5; c++) {
        assert_int_equal (cons_member_suspicion_timeout (&cfg, 16, c), n16[c]);
        assert_int_equal (cons_member_suspicion_timeout (&cfg, 5, c), n5[c]);
        assert_int_equal (cons_member_suspicion_timeout (&cfg, 100, c), n100[c]);
        /* Fewer than k + 2 members: no confirmations are expected. */
        assert_int_equal (cons_member_suspicion_timeout (&cfg, 4, c), 2000);
    }
    /* The defaults: alpha 1, beta 6, k 2, period 1000. */
    cons_member_config_t def = { 0 };
    assert_int_equal (cons_member_suspicion_timeout (&def, 16, 0), 7224);
    assert_int_equal (cons_member_suspicion_timeout (&def, 16, 2), 1204);
    assert_int_equal (cons_member_suspicion_timeout (&def, 10, 2), 1000);
}

static void
test_piggyback_limit (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 17, 0);
    s_outs_t outs;
    /* One update about member 1 (alive at 3); 5 members: the limit is
       4 * ceil(log10(6)) = 4 transmissions. */
    assert_int_equal (s_push_update (m, 10, 2, CONS_MEMBER_ALIVE, 1, 3, 0), WD_OK);
    s_drain (m, &outs);
    int carried = 0;
    cons_member_msg_t ping = { 0 };
    ping.type = CONS_MEMBER_PING;
    ping.target = s_id (0);
    for (int i = 0; i < 10; i++) {
        ping.seq = (uint32_t)i;
        assert_int_equal (s_feed (m, 20, 3, &ping), WD_OK);
        s_drain (m, &outs);
        assert_int_equal (outs.count, 1);
        for (size_t u = 0; u < outs.o[0].msg.count; u++)
            carried += memcmp (outs.o[0].msg.updates[u].id, s_id (1), 32) == 0;
    }
    assert_int_equal (carried, 4);
    cons_member_destroy (&m);
}

static void
test_buddy_update_to_suspect (void **state)
{
    (void)state;
    /* A message to a member this node holds dead carries that verdict, so
       the member learns it must refute. */
    cons_member_t *m = s_new (0, 19, 0);
    s_outs_t outs;
    assert_int_equal (s_push_update (m, 10, 2, CONS_MEMBER_DEAD, 1, 0, 0), WD_OK);
    s_drain (m, &outs);
    cons_member_msg_t ping = { 0 };
    ping.type = CONS_MEMBER_PING;
    ping.target = s_id (0);
    for (int i = 0; i < 10; i++) {
        assert_int_equal (s_feed (m, 20, 1, &ping), WD_OK);
        s_drain (m, &outs);
        assert_int_equal (outs.o[0].peer, 1);
        assert_true (outs.o[0].msg.count >= 1);
        assert_memory_equal (outs.o[0].msg.updates[0].id, s_id (1), 32);
        assert_int_equal (outs.o[0].msg.updates[0].state, CONS_MEMBER_DEAD);
    }
    /* The refutation brings it back, with an event. */
    assert_int_equal (s_push_update (m, 30, 1, CONS_MEMBER_ALIVE, 1, 1, 0), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].kind, CONS_MEMBER_OUT_EVENT);
    assert_int_equal (outs.o[0].state, CONS_MEMBER_ALIVE);
    assert_int_equal (outs.o[0].inc, 1);
    cons_member_destroy (&m);
}

static void
test_leave (void **state)
{
    (void)state;
    cons_member_t *m = s_new (0, 23, 2);
    s_outs_t outs;
    cons_member_tick (m, 0);
    s_drain (m, &outs);
    cons_member_leave (m, 100);
    s_drain (m, &outs);
    assert_int_equal (outs.count, S_N - 1);
    for (size_t i = 0; i < outs.count; i++) {
        assert_int_equal (outs.o[i].msg.type, CONS_MEMBER_PUSH);
        bool left = false;
        for (size_t u = 0; u < outs.o[i].msg.count; u++)
            left |= memcmp (outs.o[i].msg.updates[u].id, s_id (0), 32) == 0 &&
                    outs.o[i].msg.updates[u].state == CONS_MEMBER_LEFT &&
                    outs.o[i].msg.updates[u].incarnation == 2;
        assert_true (left);
    }
    assert_int_equal (cons_member_next_deadline (m), UINT64_MAX);
    /* Pings are still answered; anything else is refused. */
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PING;
    msg.target = s_id (0);
    assert_int_equal (s_feed (m, 200, 1, &msg), WD_OK);
    msg.type = CONS_MEMBER_PUSH;
    msg.target = NULL;
    assert_int_equal (s_feed (m, 200, 1, &msg), CONS_ERR_MEMBER_LEFT);
    cons_member_destroy (&m);

    /* The receiving side records LEFT. */
    m = s_new (1, 29, 0);
    assert_int_equal (s_push_update (m, 10, 0, CONS_MEMBER_LEFT, 0, 2, 0), WD_OK);
    s_drain (m, &outs);
    assert_int_equal (outs.count, 1);
    assert_int_equal (outs.o[0].state, CONS_MEMBER_LEFT);
    assert_int_equal (outs.o[0].inc, 2);
    cons_member_destroy (&m);
}

/* The same seed and inputs give the same outputs, byte for byte. */
static void
s_script (uint64_t seed, uint8_t *log, size_t *log_len, size_t cap)
{
    cons_member_t *m = s_new (0, seed, 0);
    *log_len = 0;
    for (uint64_t t = 0; t < 20000; t += 100) {
        cons_member_tick (m, t);
        cons_member_output_t out;
        while (cons_member_poll (m, &out)) {
            uint8_t head[2] = { (uint8_t)out.kind, out.peer[0] };
            assert_true (*log_len + 2 + out.len <= cap);
            memcpy (log + *log_len, head, 2);
            *log_len += 2;
            if (out.len) {
                memcpy (log + *log_len, out.body, out.len);
                *log_len += out.len;
            }
        }
    }
    cons_member_destroy (&m);
}

/* Start-up grace: a failed probe of a member not heard from yet accuses no
   one until grace_ms after the first tick; a member that has spoken is
   accused as usual, and after the grace everyone is. */
static int
s_first_suspicion_at (bool hear_everyone)
{
    s_ids_init ();
    cons_member_config_t cfg = { 0 };
    cfg.self = s_id (0);
    cfg.members = &s_ids[0][0];
    cfg.count = S_N;
    cfg.seed = 5;
    cfg.probe_ms = 1000;
    cfg.probe_timeout_ms = 500;
    cfg.grace_ms = 5000;
    cons_member_t *m = NULL;
    assert_int_equal (cons_member_new (&cfg, &m), WD_OK);
    s_outs_t outs;
    cons_member_tick (m, 0); /* the grace runs until 5000 */
    s_drain (m, &outs);
    if (hear_everyone) {
        cons_member_msg_t push = { 0 };
        push.type = CONS_MEMBER_PUSH;
        for (int i = 1; i < S_N; i++)
            assert_int_equal (s_feed (m, 1, i, &push), WD_OK);
    }
    int at = -1;
    for (uint64_t now = 0; now < 100000 && at < 0;) {
        now = cons_member_next_deadline (m);
        cons_member_tick (m, now);
        s_drain (m, &outs);
        for (size_t i = 0; i < outs.count && at < 0; i++)
            if (outs.o[i].kind == CONS_MEMBER_OUT_EVENT && outs.o[i].state == CONS_MEMBER_SUSPECT)
                at = (int)now;
    }
    cons_member_destroy (&m);
    return at;
}

static void
test_start_up_grace (void **state)
{
    (void)state;
    int silent = s_first_suspicion_at (false);
    int heard = s_first_suspicion_at (true);
    assert_true (silent >= 5000);
    assert_true (heard >= 0 && heard < 5000);
}

static void
test_deterministic (void **state)
{
    (void)state;
    static uint8_t a[1 << 16], b[1 << 16], c[1 << 16];
    size_t la, lb, lc;
    s_script (42, a, &la, sizeof a);
    s_script (42, b, &lb, sizeof b);
    s_script (43, c, &lc, sizeof c);
    assert_true (la > 0);
    assert_int_equal (la, lb);
    assert_memory_equal (a, b, la);
    assert_false (la == lc && memcmp (a, c, la) == 0);
}

static void
test_new_rejections (void **state)
{
    (void)state;
    s_ids_init ();
    cons_member_t *m = NULL;
    cons_member_config_t cfg = { 0 };
    cfg.members = &s_ids[0][0];
    cfg.count = S_N;
    assert_int_equal (cons_member_new (&cfg, &m), WD_ERR_BAD_VALUE); /* no self */
    cfg.self = s_id (0);
    cfg.probe_ms = 400;
    cfg.probe_timeout_ms = 400;
    assert_int_equal (cons_member_new (&cfg, &m), WD_ERR_OUT_OF_RANGE);
    cfg.probe_ms = 0;
    cfg.probe_timeout_ms = 0;
    cfg.piggyback = CONS_MEMBER_UPDATES + 1;
    assert_int_equal (cons_member_new (&cfg, &m), WD_ERR_OUT_OF_RANGE);
    cfg.piggyback = 0;
    uint8_t dup[2][32];
    memset (dup, 0x44, sizeof dup);
    cfg.members = &dup[0][0];
    cfg.count = 2;
    assert_int_equal (cons_member_new (&cfg, &m), WD_ERR_BAD_VALUE);
    /* Self not listed: added. */
    cfg.members = &s_ids[1][0];
    cfg.count = S_N - 1;
    assert_int_equal (cons_member_new (&cfg, &m), WD_OK);
    assert_int_equal (cons_member_count (m), S_N);
    cons_member_destroy (&m);
    cons_member_destroy (&m); /* safe on NULL */
}

/* The ledger adds and removes members: kept members keep their state, a
   removed one is unknown at once (its messages refused, its probe
   forgotten), an added one starts alive at incarnation 0. */
static void
test_set_members (void **state)
{
    (void)state;
    s_ids_init ();
    cons_member_config_t cfg = { 0 };
    cfg.self = s_id (0);
    cfg.members = &s_ids[0][0];
    cfg.count = 3; /* members 0, 1, 2 */
    cfg.probe_ms = 1000;
    cfg.probe_timeout_ms = 500;
    cons_member_t *m = NULL;
    assert_int_equal (cons_member_new (&cfg, &m), WD_OK);
    s_outs_t outs;
    (void)s_first_ping (m, &outs);
    assert_int_equal (s_push_update (m, 900, 1, CONS_MEMBER_ALIVE, 1, 7, 0), WD_OK);
    s_drain (m, &outs);
    uint8_t next[3][CONS_MEMBER_ID_LEN];
    memcpy (next[0], s_id (1), CONS_MEMBER_ID_LEN);
    memcpy (next[1], s_id (3), CONS_MEMBER_ID_LEN);
    memcpy (next[2], s_id (1), CONS_MEMBER_ID_LEN);
    assert_int_equal (cons_member_set_members (m, &next[0][0], 3, 1000), WD_ERR_BAD_VALUE);
    assert_int_equal (cons_member_count (m), 3);
    /* {1, 3} and self (not listed, kept) */
    assert_int_equal (cons_member_set_members (m, &next[0][0], 2, 1000), WD_OK);
    assert_int_equal (cons_member_count (m), 3);
    cons_member_info_t info;
    assert_false (cons_member_find (m, s_id (2), &info));
    assert_true (cons_member_find (m, s_id (0), &info));
    assert_true (info.self);
    cons_member_state_t st;
    uint64_t inc;
    s_state_of (m, 1, &st, &inc);
    assert_int_equal (st, CONS_MEMBER_ALIVE);
    assert_int_equal (inc, 7);
    s_state_of (m, 3, &st, &inc);
    assert_int_equal (st, CONS_MEMBER_ALIVE);
    assert_int_equal (inc, 0);
    assert_int_equal (s_push_update (m, 1001, 2, CONS_MEMBER_ALIVE, 2, 1, 0),
                      CONS_ERR_MEMBER_UNKNOWN);
    assert_int_equal (s_push_update (m, 1002, 3, CONS_MEMBER_ALIVE, 3, 5, 0), WD_OK);
    s_state_of (m, 3, &st, &inc);
    assert_int_equal (inc, 5);
    /* Probes from now on only go to members of the new set. */
    for (uint64_t now = 1003; now < 20000; now = cons_member_next_deadline (m)) {
        cons_member_tick (m, now);
        s_drain (m, &outs);
        for (size_t i = 0; i < outs.count; i++)
            assert_true (outs.o[i].peer == 1 || outs.o[i].peer == 3);
    }
    cons_member_destroy (&m);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_answers),
        cmocka_unit_test (test_roundtrip_every_type),
        cmocka_unit_test (test_decode_rejections),
        cmocka_unit_test (test_receive_rejections),
        cmocka_unit_test (test_probe_ack_and_rtt),
        cmocka_unit_test (test_failed_probe_all_nacks),
        cmocka_unit_test (test_failed_probe_missed_nacks),
        cmocka_unit_test (test_relay),
        cmocka_unit_test (test_refutation),
        cmocka_unit_test (test_reclaim_dead_member),
        cmocka_unit_test (test_stale_death_answered),
        cmocka_unit_test (test_incarnation_ordering),
        cmocka_unit_test (test_confirmations_shorten_suspicion),
        cmocka_unit_test (test_suspicion_timeout_formula),
        cmocka_unit_test (test_piggyback_limit),
        cmocka_unit_test (test_buddy_update_to_suspect),
        cmocka_unit_test (test_leave),
        cmocka_unit_test (test_start_up_grace),
        cmocka_unit_test (test_deterministic),
        cmocka_unit_test (test_new_rejections),
        cmocka_unit_test (test_set_members),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
