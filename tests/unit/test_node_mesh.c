/*
 * Unit tests for node_mesh's control bodies (the engine <-> wardenctl
 * contract of `wardenctl peers` and `wardenctl mesh`): round trips, paging
 * of replies that do not fit one control message, the notice body, the
 * hello of transport channel 7 and the member request and reply, and
 * refusals with their exact reasons. The engine side (transport,
 * membership, gossip on a real zloop) runs in the mesh scenarios.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_member_tx.h"
#include "node_mesh.h"
#include "wd_chan.h"
#include "wd_codec.h"

static void
test_peers_roundtrip (void **state)
{
    (void)state;
    node_mesh_summary_t sum = { .incarnation = 7, .zap_unknown = 2, .records_out = 99 };
    memset (sum.chain, 0xab, sizeof sum.chain);
    strcpy (sum.endpoint, "tcp://127.0.0.1:7400");
    node_mesh_peer_t peers[3] = { 0 };
    for (int i = 0; i < 3; i++) {
        memset (peers[i].id, 0x11 * (i + 1), WD_PUBKEY_LEN);
        snprintf (peers[i].name, sizeof peers[i].name, "n%d", i);
        strcpy (peers[i].state, i == 2 ? "dead" : "alive");
        strcpy (peers[i].link, "up");
        peers[i].score = -90 + i;
        peers[i].rtt_ms = i == 0 ? -1 : 3;
        peers[i].graylisted = i == 1;
        peers[i].deaths = (uint64_t)i;
    }
    size_t len;
    uint8_t *body = node_mesh_encode_peers (&sum, peers, 3, 0, &len);
    node_mesh_summary_t got_sum = { 0 };
    node_mesh_peer_t *got = NULL;
    size_t count = 0;
    bool more = true;
    assert_int_equal (node_mesh_decode_peers (body, len, &got_sum, &got, &count, &more), WD_OK);
    assert_false (more);
    assert_int_equal (count, 3);
    assert_memory_equal (got, peers, sizeof peers);
    assert_memory_equal (&got_sum, &sum, sizeof sum);
    free (got);
    free (body);
    /* From index 2 on: one peer. */
    body = node_mesh_encode_peers (&sum, peers, 3, 2, &len);
    got = NULL;
    count = 0;
    assert_int_equal (node_mesh_decode_peers (body, len, &got_sum, &got, &count, &more), WD_OK);
    assert_int_equal (count, 1);
    assert_string_equal (got[0].name, "n2");
    free (got);
    free (body);
}

static void
test_records_paged (void **state)
{
    (void)state;
    /* 200 records with 1000-byte texts cannot travel in one message. */
    size_t n = 200;
    node_mesh_record_t *recs = calloc (n, sizeof *recs);
    assert_non_null (recs);
    for (size_t i = 0; i < n; i++) {
        recs[i].seq = i + 1;
        strcpy (recs[i].type, "notice");
        memset (recs[i].text, 'a' + (int)(i % 26), 1000);
        recs[i].time_ms = 1000 + i;
        recs[i].id[0] = (uint8_t)i;
    }
    node_mesh_record_t *all = NULL;
    size_t count = 0, pages = 0;
    bool more = true;
    while (more) {
        /* what the engine does: records from seq `start` on */
        size_t start = count ? (size_t)all[count - 1].seq : 0, len;
        uint8_t *body = node_mesh_encode_records (recs + start, n - start, &len);
        assert_true (len <= WD_CHAN_MAX_BODY);
        assert_int_equal (node_mesh_decode_records (body, len, &all, &count, &more), WD_OK);
        free (body);
        pages++;
    }
    assert_int_equal (count, n);
    assert_true (pages > 1);
    assert_memory_equal (all, recs, n * sizeof *recs);
    free (all);
    free (recs);
}

static void
test_small_bodies (void **state)
{
    (void)state;
    size_t len;
    char text[NODE_MESH_TEXT_MAX + 1];
    uint8_t *body = node_mesh_encode_publish ("hello", &len);
    assert_int_equal (node_mesh_decode_publish (body, len, text), WD_OK);
    assert_string_equal (text, "hello");
    free (body);
    uint64_t start;
    body = node_mesh_encode_start (42, &len);
    assert_int_equal (node_mesh_decode_start (body, len, &start), WD_OK);
    assert_int_equal (start, 42);
    free (body);
    /* The notice: {text, time}, byte for byte. */
    body = node_mesh_encode_notice ("hi", 5, &len);
    static const uint8_t want[] = { 0x82, 0xa4, 't', 'e', 'x', 't', 0xa2, 'h',
                                    'i',  0xa4, 't', 'i', 'm', 'e', 0x05 };
    assert_int_equal (len, sizeof want);
    assert_memory_equal (body, want, sizeof want);
    uint64_t time_ms;
    assert_int_equal (node_mesh_decode_notice (body, len, text, &time_ms), WD_OK);
    assert_string_equal (text, "hi");
    assert_int_equal (time_ms, 5);
    free (body);
}

static void
test_refusals (void **state)
{
    (void)state;
    char text[NODE_MESH_TEXT_MAX + 1];
    uint64_t v;
    /* {} : the key is missing */
    static const uint8_t empty[] = { 0x80 };
    assert_int_equal (node_mesh_decode_start (empty, sizeof empty, &v), WD_ERR_MISSING_KEY);
    assert_int_equal (node_mesh_decode_publish (empty, sizeof empty, text), WD_ERR_MISSING_KEY);
    /* {time: 1, text: "x"}: keys out of order */
    static const uint8_t order[] = { 0x82, 0xa4, 't', 'i', 'm', 'e',  0x01,
                                     0xa4, 't',  'e', 'x', 't', 0xa1, 'x' };
    assert_int_equal (node_mesh_decode_notice (order, sizeof order, text, &v),
                      WD_ERR_KEYS_UNSORTED);
    /* {text: 1}: wrong type */
    static const uint8_t wrong[] = { 0x81, 0xa4, 't', 'e', 'x', 't', 0x01 };
    assert_int_equal (node_mesh_decode_publish (wrong, sizeof wrong, text), WD_ERR_WRONG_TYPE);
    /* a text one byte too long */
    char *big = malloc (NODE_MESH_TEXT_MAX + 2);
    memset (big, 'x', NODE_MESH_TEXT_MAX + 1);
    big[NODE_MESH_TEXT_MAX + 1] = 0;
    size_t len;
    uint8_t *body = node_mesh_encode_publish (big, &len);
    assert_int_equal (node_mesh_decode_publish (body, len, text), WD_ERR_OVERSIZE);
    free (body);
    free (big);
    /* a truncated peers reply */
    node_mesh_summary_t sum = { 0 };
    node_mesh_peer_t peer = { 0 };
    body = node_mesh_encode_peers (&sum, &peer, 1, 0, &len);
    node_mesh_peer_t *got = NULL;
    size_t count = 0;
    bool more;
    assert_int_equal (node_mesh_decode_peers (body, len - 1, &sum, &got, &count, &more),
                      WD_ERR_TRUNCATED);
    free (got);
    free (body);
}

/* ---- hello (channel 7) and the member control bodies ---------------------- */

static void
test_hello_roundtrip (void **state)
{
    (void)state;
    /* the largest hello: every peer, every endpoint at its limit */
    static node_mesh_hello_t hello, back;
    hello.ask = true;
    memset (hello.endpoint, 'e', NODE_MESH_ADDRESS_MAX);
    hello.count = NODE_MESH_HELLO_PEERS;
    for (size_t i = 0; i < hello.count; i++) {
        memset (hello.peers[i].id, (int)i + 1, WD_PUBKEY_LEN);
        memset (hello.peers[i].endpoint, 'a' + (int)(i % 26), NODE_MESH_ADDRESS_MAX);
    }
    size_t len;
    uint8_t *body = node_mesh_encode_hello (&hello, &len);
    assert_true (len <= NODE_MESH_HELLO_MAX);
    assert_int_equal (node_mesh_decode_hello (body, len, &back), WD_OK);
    assert_memory_equal (&back, &hello, sizeof hello);
    free (body);
    /* the smallest: no endpoint, no peers */
    memset (&hello, 0, sizeof hello);
    body = node_mesh_encode_hello (&hello, &len);
    static const uint8_t small[] = { 0x84, 0xa3, 'a', 's', 'k',  0xc2, 0xa8, 'e',  'n',
                                     'd',  'p',  'o', 'i', 'n',  't',  0xa0, 0xa5, 'p',
                                     'e',  'e',  'r', 's', 0x90, 0xa1, 'v',  0x01 };
    assert_int_equal (len, sizeof small);
    assert_memory_equal (body, small, len);
    back.count = 9;
    assert_int_equal (node_mesh_decode_hello (body, len, &back), WD_OK);
    assert_int_equal (back.count, 0);
    assert_false (back.ask);
    free (body);
}

/* A hello written key by key: skip names a key to leave out, extra adds
   a key "x" at the end, peers peers of id length id_len (a pair unless
   single), endpoint_len the sender's endpoint length, ask_type 0 bool,
   1 uint. */
typedef struct {
    const char *skip;
    bool extra, single;
    size_t peers, id_len, endpoint_len;
    int ask_type;
    uint64_t v;
} s_hello_spec_t;

static uint8_t *
s_hello_raw (const s_hello_spec_t *spec, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    size_t keys = 4 - (spec->skip != NULL) + spec->extra;
    wd_writer_map (w, keys);
    if (!spec->skip || strcmp (spec->skip, "ask") != 0) {
        wd_writer_key (w, "ask");
        if (spec->ask_type == 0)
            wd_writer_bool (w, true);
        else
            wd_writer_uint (w, 1);
    }
    if (!spec->skip || strcmp (spec->skip, "endpoint") != 0) {
        wd_writer_key (w, "endpoint");
        char *ep = calloc (1, spec->endpoint_len + 1);
        memset (ep, 'e', spec->endpoint_len);
        wd_writer_cstr (w, ep);
        free (ep);
    }
    if (!spec->skip || strcmp (spec->skip, "peers") != 0) {
        wd_writer_key (w, "peers");
        wd_writer_array (w, spec->peers);
        for (size_t i = 0; i < spec->peers; i++) {
            uint8_t id[64];
            memset (id, (int)i, sizeof id);
            wd_writer_array (w, spec->single ? 1 : 2);
            wd_writer_bin (w, id, spec->id_len);
            if (!spec->single)
                wd_writer_cstr (w, "tcp://127.0.0.1:1");
        }
    }
    if (!spec->skip || strcmp (spec->skip, "v") != 0) {
        wd_writer_key (w, "v");
        wd_writer_uint (w, spec->v);
    }
    if (spec->extra) {
        wd_writer_key (w, "x");
        wd_writer_uint (w, 0);
    }
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* What node_mesh_decode_hello says of spec; the hello is zeroed on a
   refusal. */
static int
s_hello_try (s_hello_spec_t spec)
{
    static node_mesh_hello_t hello;
    static const node_mesh_hello_t zero;
    size_t len;
    uint8_t *body = s_hello_raw (&spec, &len);
    memset (&hello, 0xff, sizeof hello);
    int err = node_mesh_decode_hello (body, len, &hello);
    if (err != WD_OK)
        assert_memory_equal (&hello, &zero, sizeof hello);
    free (body);
    return err;
}

/* Every reason a hello is refused (docs/PROTOCOL.md "Membership
   transactions": a bad hello is refused with its codec reason and
   changes nothing). */
static void
test_hello_refusals (void **state)
{
    (void)state;
    const s_hello_spec_t good = { .peers = 2, .id_len = 32, .endpoint_len = 20, .v = 1 };
    assert_int_equal (s_hello_try (good), WD_OK);
    s_hello_spec_t s = good;
    s.v = 2;
    assert_int_equal (s_hello_try (s), WD_ERR_BAD_VERSION);
    s = good;
    s.v = 0;
    assert_int_equal (s_hello_try (s), WD_ERR_BAD_VERSION);
    s = good;
    s.peers = NODE_MESH_HELLO_PEERS + 1;
    assert_int_equal (s_hello_try (s), WD_ERR_OVERSIZE);
    s = good;
    s.peers = NODE_MESH_HELLO_PEERS;
    assert_int_equal (s_hello_try (s), WD_OK);
    s = good;
    s.endpoint_len = NODE_MESH_ADDRESS_MAX + 1;
    assert_int_equal (s_hello_try (s), WD_ERR_OVERSIZE);
    s = good;
    s.id_len = 31;
    assert_int_equal (s_hello_try (s), WD_ERR_BAD_LENGTH);
    s = good;
    s.single = true; /* [id] instead of [id, endpoint] */
    assert_int_equal (s_hello_try (s), WD_ERR_BAD_LENGTH);
    s = good;
    s.ask_type = 1;
    assert_int_equal (s_hello_try (s), WD_ERR_WRONG_TYPE);
    s = good;
    s.skip = "ask";
    assert_int_equal (s_hello_try (s), WD_ERR_MISSING_KEY);
    s = good;
    s.skip = "peers";
    assert_int_equal (s_hello_try (s), WD_ERR_MISSING_KEY);
    s = good;
    s.skip = "v";
    assert_int_equal (s_hello_try (s), WD_ERR_MISSING_KEY);
    s = good;
    s.extra = true;
    assert_int_equal (s_hello_try (s), WD_ERR_UNKNOWN_KEY);

    /* codec reasons: truncated, trailing bytes, keys out of order, a
       body over the limit */
    static node_mesh_hello_t hello;
    size_t len;
    uint8_t *body = s_hello_raw (&good, &len);
    assert_int_equal (node_mesh_decode_hello (body, len - 1, &hello), WD_ERR_TRUNCATED);
    uint8_t *more = malloc (len + 1);
    memcpy (more, body, len);
    more[len] = 0xc0;
    assert_int_equal (node_mesh_decode_hello (more, len + 1, &hello), WD_ERR_TRAILING);
    free (more);
    free (body);
    /* {endpoint: "", ask: false, ...} */
    static const uint8_t order[] = { 0x84, 0xa8, 'e',  'n', 'd',  'p',  'o',  'i',  'n',
                                     't',  0xa0, 0xa3, 'a', 's',  'k',  0xc2, 0xa5, 'p',
                                     'e',  'e',  'r',  's', 0x90, 0xa1, 'v',  0x01 };
    assert_int_equal (node_mesh_decode_hello (order, sizeof order, &hello), WD_ERR_KEYS_UNSORTED);
    uint8_t *big = calloc (1, NODE_MESH_HELLO_MAX + 1);
    assert_int_equal (node_mesh_decode_hello (big, NODE_MESH_HELLO_MAX + 1, &hello),
                      WD_ERR_OVERSIZE);
    free (big);
}

static void
test_member_bodies (void **state)
{
    (void)state;
    static const char *ops[] = { "request", "admit", "leave" };
    uint8_t request[CONS_JOIN_REQUEST_MAX + 1];
    memset (request, 0x5a, sizeof request);
    for (size_t i = 0; i < 3; i++) {
        size_t rlen = i == 1 ? CONS_JOIN_REQUEST_MAX : 0, len;
        uint8_t *body = node_mesh_encode_member (ops[i], request, rlen, &len);
        char op[16];
        const uint8_t *got = NULL;
        size_t got_len = 99;
        assert_int_equal (node_mesh_decode_member (body, len, op, &got, &got_len), WD_OK);
        assert_string_equal (op, ops[i]);
        assert_int_equal (got_len, rlen);
        if (rlen)
            assert_memory_equal (got, request, rlen);
        assert_int_equal (node_mesh_decode_member (body, len - 1, op, &got, &got_len),
                          WD_ERR_TRUNCATED);
        free (body);
    }
    /* an op of 16 bytes, a request over CONS_JOIN_REQUEST_MAX */
    char op[16];
    const uint8_t *got;
    size_t got_len, len;
    uint8_t *body = node_mesh_encode_member ("admit-admit-admi", request, 1, &len);
    assert_int_equal (node_mesh_decode_member (body, len, op, &got, &got_len), WD_ERR_OVERSIZE);
    free (body);
    body = node_mesh_encode_member ("admit", request, sizeof request, &len);
    assert_int_equal (node_mesh_decode_member (body, len, op, &got, &got_len), WD_ERR_OVERSIZE);
    free (body);
    /* {op: "leave"}: no request */
    static const uint8_t no_request[] = { 0x81, 0xa2, 'o', 'p', 0xa5, 'l', 'e', 'a', 'v', 'e' };
    assert_int_equal (node_mesh_decode_member (no_request, sizeof no_request, op, &got, &got_len),
                      WD_ERR_MISSING_KEY);
    /* {op: 1, request: ""} */
    static const uint8_t op_type[] = { 0x82, 0xa2, 'o', 'p', 0x01, 0xa7, 'r', 'e',
                                       'q',  'u',  'e', 's', 't',  0xc4, 0x00 };
    assert_int_equal (node_mesh_decode_member (op_type, sizeof op_type, op, &got, &got_len),
                      WD_ERR_WRONG_TYPE);

    /* the reply */
    uint8_t id[32], back_id[32];
    memset (id, 0x77, sizeof id);
    body = node_mesh_encode_member_reply (
        request,
        NODE_MESH_MEMBER_REPLY_MAX < sizeof request ? NODE_MESH_MEMBER_REPLY_MAX : sizeof request,
        id, &len);
    const uint8_t *env;
    size_t env_len;
    assert_int_equal (node_mesh_decode_member_reply (body, len, &env, &env_len, back_id), WD_OK);
    assert_int_equal (env_len, sizeof request);
    assert_memory_equal (env, request, env_len);
    assert_memory_equal (back_id, id, 32);
    free (body);
    /* an id of 31 bytes */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "envelope");
    wd_writer_bin (w, request, 4);
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, 31);
    const uint8_t *raw = wd_writer_data (w, &len);
    assert_int_equal (node_mesh_decode_member_reply (raw, len, &env, &env_len, back_id),
                      WD_ERR_BAD_LENGTH);
    wd_writer_destroy (&w);
    /* an envelope over NODE_MESH_MEMBER_REPLY_MAX */
    uint8_t *huge = calloc (1, NODE_MESH_MEMBER_REPLY_MAX + 1);
    body = node_mesh_encode_member_reply (huge, NODE_MESH_MEMBER_REPLY_MAX + 1, id, &len);
    assert_int_equal (node_mesh_decode_member_reply (body, len, &env, &env_len, back_id),
                      WD_ERR_OVERSIZE);
    free (body);
    free (huge);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_peers_roundtrip), cmocka_unit_test (test_records_paged),
        cmocka_unit_test (test_small_bodies),    cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_hello_roundtrip), cmocka_unit_test (test_hello_refusals),
        cmocka_unit_test (test_member_bodies),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
