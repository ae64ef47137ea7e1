/*
 * Unit tests for node_mesh's control bodies (the engine <-> wardenctl
 * contract of `wardenctl peers` and `wardenctl mesh`): round trips, paging
 * of replies that do not fit one control message, the notice body, and
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

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_peers_roundtrip),
        cmocka_unit_test (test_records_paged),
        cmocka_unit_test (test_small_bodies),
        cmocka_unit_test (test_refusals),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
