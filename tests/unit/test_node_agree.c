/*
 * Unit tests for node_agree's bodies: the channel 4 sync request (its exact
 * bytes, as docs/PROTOCOL.md "Block sync" gives them) and the control
 * body of `wardenctl agree status`, with refusals and their exact reasons.
 * The driver itself (machine, timers, signing, ledger, catch-up) runs with
 * real wardend processes in tests/scenarios/ledger_cluster.sh.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node_agree.h"
#include "wd_codec.h"

static void
test_sync_request_bytes (void **state)
{
    (void)state;
    size_t len;
    uint8_t *body = node_agree_encode_sync_request (53, &len);
    static const uint8_t expected[] = { 0x82, 0xa4, 'f', 'r', 'o', 'm', 0x35, 0xa1, 'v', 0x01 };
    assert_int_equal (len, sizeof expected);
    assert_memory_equal (body, expected, sizeof expected);
    uint64_t from = 0;
    assert_int_equal (node_agree_decode_sync_request (body, len, &from), WD_OK);
    assert_int_equal (from, 53);
    free (body);
}

static void
test_sync_request_refusals (void **state)
{
    (void)state;
    uint64_t from;
    /* v: 2 */
    static const uint8_t v2[] = { 0x82, 0xa4, 'f', 'r', 'o', 'm', 0x01, 0xa1, 'v', 0x02 };
    assert_int_equal (node_agree_decode_sync_request (v2, sizeof v2, &from), WD_ERR_OUT_OF_RANGE);
    /* a height above 2^63 - 1 */
    static const uint8_t big[] = { 0x82, 0xa4, 'f',  'r',  'o',  'm',  0xcf, 0xff, 0xff,
                                   0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xa1, 'v',  0x01 };
    assert_int_equal (node_agree_decode_sync_request (big, sizeof big, &from), WD_ERR_OUT_OF_RANGE);
    /* a reply is not a request */
    static const uint8_t reply[] = { 0x83, 0xa6, 'b', 'l', 'o',  'c',  'k', 's', 0x90,
                                     0xa3, 't',  'i', 'p', 0x00, 0xa1, 'v', 0x01 };
    assert_int_equal (node_agree_decode_sync_request (reply, sizeof reply, &from),
                      WD_ERR_UNKNOWN_KEY);
    /* missing v */
    static const uint8_t nov[] = { 0x81, 0xa4, 'f', 'r', 'o', 'm', 0x01 };
    assert_int_equal (node_agree_decode_sync_request (nov, sizeof nov, &from), WD_ERR_MISSING_KEY);
    /* trailing byte */
    static const uint8_t trail[] = { 0x82, 0xa4, 'f', 'r', 'o', 'm', 0x01, 0xa1, 'v', 0x01, 0x00 };
    assert_int_equal (node_agree_decode_sync_request (trail, sizeof trail, &from), WD_ERR_TRAILING);
}

static void
test_sync_reply (void **state)
{
    (void)state;
    static const uint8_t b1[] = { 1, 2, 3 }, c1[] = { 0x80 }, b2[] = { 4, 5 }, c2[] = { 0x81 };
    node_agree_synced_t in[2] = { { b1, sizeof b1, c1, sizeof c1 },
                                  { b2, sizeof b2, c2, sizeof c2 } };
    size_t len;
    uint8_t *body = node_agree_encode_sync_reply (in, 2, 77, &len);
    /* {blocks: [[bin 010203, bin 80], [bin 0405, bin 81]], tip: 77, v: 1} */
    static const uint8_t expected[] = { 0x83, 0xa6, 'b',  'l',  'o',  'c',  'k',  's',  0x92,
                                        0x92, 0xc4, 0x03, 0x01, 0x02, 0x03, 0xc4, 0x01, 0x80,
                                        0x92, 0xc4, 0x02, 0x04, 0x05, 0xc4, 0x01, 0x81, 0xa3,
                                        't',  'i',  'p',  0x4d, 0xa1, 'v',  0x01 };
    assert_int_equal (len, sizeof expected);
    assert_memory_equal (body, expected, sizeof expected);
    node_agree_synced_t out[NODE_AGREE_SYNC_MAX];
    size_t count;
    uint64_t tip;
    assert_int_equal (node_agree_decode_sync_reply (body, len, 4096, out, &count, &tip), WD_OK);
    assert_int_equal (count, 2);
    assert_int_equal (tip, 77);
    assert_int_equal (out[1].block_len, 2);
    assert_memory_equal (out[1].block, b2, 2);
    /* a block above block_max */
    assert_int_equal (node_agree_decode_sync_reply (body, len, 2, out, &count, &tip),
                      WD_ERR_OVERSIZE);
    assert_int_equal (count, 0);
    free (body);
    /* an entry that is not a pair */
    static const uint8_t triple[] = { 0x83, 0xa6, 'b',  'l',  'o',  'c',  'k',  's',
                                      0x91, 0x93, 0xc4, 0x00, 0xc4, 0x00, 0xc4, 0x00,
                                      0xa3, 't',  'i',  'p',  0x00, 0xa1, 'v',  0x01 };
    assert_int_equal (node_agree_decode_sync_reply (triple, sizeof triple, 4096, out, &count, &tip),
                      WD_ERR_BAD_LENGTH);
    /* more than NODE_AGREE_SYNC_MAX blocks */
    node_agree_synced_t many[NODE_AGREE_SYNC_MAX];
    for (size_t i = 0; i < NODE_AGREE_SYNC_MAX; i++)
        many[i] = in[0];
    body = node_agree_encode_sync_reply (many, NODE_AGREE_SYNC_MAX, 1, &len);
    assert_int_equal (node_agree_decode_sync_reply (body, len, 4096, out, &count, &tip), WD_OK);
    assert_int_equal (count, NODE_AGREE_SYNC_MAX);
    free (body);
    /* 17 by hand */
    uint8_t big[64 + 17 * 6];
    size_t k = 0;
    static const uint8_t head[] = { 0x83, 0xa6, 'b', 'l', 'o', 'c', 'k', 's', 0xdc, 0x00, 17 };
    memcpy (big, head, sizeof head);
    k = sizeof head;
    for (int i = 0; i < 17; i++) {
        static const uint8_t pair[] = { 0x92, 0xc4, 0x00, 0xc4, 0x00 };
        memcpy (big + k, pair, sizeof pair);
        k += sizeof pair;
    }
    static const uint8_t tail[] = { 0xa3, 't', 'i', 'p', 0x00, 0xa1, 'v', 0x01 };
    memcpy (big + k, tail, sizeof tail);
    k += sizeof tail;
    assert_int_equal (node_agree_decode_sync_reply (big, k, 4096, out, &count, &tip),
                      WD_ERR_OVERSIZE);
}

static void
test_status_roundtrip (void **state)
{
    (void)state;
    node_agree_status_t st = { .running = true,
                               .validator = true,
                               .tip = 116,
                               .height = 117,
                               .round = 2,
                               .step = 3,
                               .lock_round = 1,
                               .validators = 4,
                               .last_commit = 1763746000123,
                               .commits = 116,
                               .synced = 9,
                               .pending = 5,
                               .latency_p50 = 12,
                               .latency_p99 = 824 };
    size_t len;
    uint8_t *body = node_agree_encode_status (&st, &len);
    node_agree_status_t back;
    assert_int_equal (node_agree_decode_status (body, len, &back), WD_OK);
    assert_true (back.running && back.validator);
    assert_int_equal (back.tip, 116);
    assert_int_equal (back.height, 117);
    assert_int_equal (back.round, 2);
    assert_int_equal (back.step, 3);
    assert_int_equal (back.lock_round, 1);
    assert_int_equal (back.validators, 4);
    assert_int_equal (back.last_commit, 1763746000123);
    assert_int_equal (back.commits, 116);
    assert_int_equal (back.synced, 9);
    assert_int_equal (back.pending, 5);
    assert_int_equal (back.latency_p50, 12);
    assert_int_equal (back.latency_p99, 824);
    free (body);

    st.lock_round = -1;
    st.step = 0;
    st.running = false;
    body = node_agree_encode_status (&st, &len);
    assert_int_equal (node_agree_decode_status (body, len, &back), WD_OK);
    assert_int_equal (back.lock_round, -1);
    assert_false (back.running);
    /* step 5 does not exist */
    st.step = 5;
    free (body);
    body = node_agree_encode_status (&st, &len);
    assert_int_equal (node_agree_decode_status (body, len, &back), WD_ERR_OUT_OF_RANGE);
    free (body);
    assert_int_equal (node_agree_decode_status ((const uint8_t *)"\x80", 1, &back),
                      WD_ERR_MISSING_KEY);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sync_request_bytes),
        cmocka_unit_test (test_sync_request_refusals),
        cmocka_unit_test (test_sync_reply),
        cmocka_unit_test (test_status_roundtrip),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
