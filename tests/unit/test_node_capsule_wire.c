/*
 * Unit tests for node_capsule_wire: the capsule records on the ledger
 * (post, claim, failed), the channel 5 messages, the control bodies and
 * the parent<->engine sandbox bodies round-trip, and malformed ones are
 * refused with their exact reasons. The engine side runs for real in the
 * capsule_names scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule_err.h"
#include "node_capsule_wire.h"
#include "wd_codec.h"

static void
test_post_claim_failed (void **state)
{
    (void)state;
    uint8_t task[40], pol[3][8];
    memset (task, 0x42, sizeof task);
    node_capsule_post_t post = { .task = task, .task_len = sizeof task, .policy_count = 3 };
    for (int i = 0; i < 3; i++) {
        memset (pol[i], i, sizeof pol[i]);
        post.policies[i] = pol[i];
        post.policy_lens[i] = sizeof pol[i];
    }
    size_t len;
    uint8_t *body = node_capsule_encode_post (&post, &len);
    node_capsule_post_t back;
    assert_int_equal (node_capsule_decode_post (body, len, &back), WD_OK);
    assert_int_equal (back.policy_count, 3);
    assert_memory_equal (back.task, task, sizeof task);
    assert_memory_equal (back.policies[2], pol[2], sizeof pol[2]);
    body[len - 1] = 2; /* v: 2 */
    assert_int_equal (node_capsule_decode_post (body, len, &back), WD_ERR_BAD_VERSION);
    free (body);
    post.policy_count = 1; /* code and env at least */
    body = node_capsule_encode_post (&post, &len);
    assert_int_equal (node_capsule_decode_post (body, len, &back), WD_ERR_OUT_OF_RANGE);
    free (body);

    node_capsule_claim_t claim = { .height = 12, .round = 1 };
    claim.claim.count = 1;
    memset (claim.claim.priority, 0x07, sizeof claim.claim.priority);
    memset (claim.claim.proof, 0x09, sizeof claim.claim.proof);
    memset (claim.task, 0x33, sizeof claim.task);
    body = node_capsule_encode_claim (&claim, &len);
    node_capsule_claim_t cb;
    assert_int_equal (node_capsule_decode_claim (body, len, &cb), WD_OK);
    assert_memory_equal (&cb, &claim, sizeof claim);
    assert_int_equal (node_capsule_decode_claim (body, len - 1, &cb), WD_ERR_TRUNCATED);
    free (body);

    node_capsule_failed_t f = { .code = CAPSULE_ERR_POLICY_CODE, .refusal_count = 1 };
    snprintf (f.reason, sizeof f.reason, "n1 refused the key");
    f.refusals[0] = task;
    f.refusal_lens[0] = 10;
    memset (f.task, 0x44, sizeof f.task);
    body = node_capsule_encode_failed (&f, &len);
    node_capsule_failed_t fb;
    assert_int_equal (node_capsule_decode_failed (body, len, &fb), WD_OK);
    assert_int_equal (fb.code, CAPSULE_ERR_POLICY_CODE);
    assert_string_equal (fb.reason, f.reason);
    assert_int_equal (fb.refusal_lens[0], 10);
    free (body);
    f.code = 3; /* failures carry negative codes */
    body = node_capsule_encode_failed (&f, &len);
    assert_int_equal (node_capsule_decode_failed (body, len, &fb), WD_ERR_OUT_OF_RANGE);
    free (body);
    f.code = -1;
    snprintf (f.reason, sizeof f.reason, "bad\nline");
    body = node_capsule_encode_failed (&f, &len);
    assert_int_equal (node_capsule_decode_failed (body, len, &fb), WD_ERR_BAD_VALUE);
    free (body);
}

static void
test_channel_messages (void **state)
{
    (void)state;
    uint8_t data[100];
    memset (data, 0x5a, sizeof data);
    node_capsule_msg_t m = { .type = NODE_CAPSULE_MSG_CHUNK,
                             .rid = 9,
                             .offset = 100,
                             .total = 200,
                             .data = data,
                             .data_len = sizeof data };
    memset (m.id, 0x01, sizeof m.id);
    size_t len;
    uint8_t *body = node_capsule_encode_msg (&m, &len);
    assert_int_equal (body[0], NODE_CAPSULE_MSG_CHUNK);
    node_capsule_msg_t b;
    assert_int_equal (node_capsule_decode_msg (body, len, &b), WD_OK);
    assert_int_equal (b.rid, 9);
    assert_int_equal (b.offset, 100);
    assert_int_equal (b.data_len, sizeof data);
    free (body);
    m.total = 150; /* data beyond the capsule's end */
    body = node_capsule_encode_msg (&m, &len);
    assert_int_equal (node_capsule_decode_msg (body, len, &b), WD_ERR_OUT_OF_RANGE);
    body[0] = 9; /* unknown type */
    assert_int_equal (node_capsule_decode_msg (body, len, &b), WD_ERR_BAD_VALUE);
    body[0] = NODE_CAPSULE_MSG_FETCH_REQ; /* a chunk's map is not a request's */
    assert_int_equal (node_capsule_decode_msg (body, len, &b), WD_ERR_UNKNOWN_KEY);
    free (body);
    assert_int_equal (node_capsule_decode_msg (NULL, 0, &b), WD_ERR_TRUNCATED);

    node_capsule_msg_t e = { .type = NODE_CAPSULE_MSG_ERROR, .rid = 3, .code = -4 };
    snprintf (e.reason, sizeof e.reason, "no such capsule");
    body = node_capsule_encode_msg (&e, &len);
    assert_int_equal (node_capsule_decode_msg (body, len, &b), WD_OK);
    assert_int_equal (b.code, -4);
    assert_string_equal (b.reason, "no such capsule");
    free (body);
}

static void
test_control_bodies (void **state)
{
    (void)state;
    node_capsule_status_t st = {
        .height = 5, .round = 1, .code = CAPSULE_ERR_POLICY_CODE, .refusal_count = 1
    };
    snprintf (st.state, sizeof st.state, "failed");
    snprintf (st.reason, sizeof st.reason, "refused");
    st.refusals[0].code = CAPSULE_ERR_POLICY_CODE;
    snprintf (st.refusals[0].reason, sizeof st.refusals[0].reason, "code not allowed");
    size_t len;
    uint8_t *body = node_capsule_encode_status (&st, &len);
    node_capsule_status_t *b = calloc (1, sizeof *b);
    assert_int_equal (node_capsule_decode_status (body, len, b), WD_OK);
    assert_string_equal (b->state, "failed");
    assert_int_equal (b->refusals[0].code, CAPSULE_ERR_POLICY_CODE);
    free (body);
    free (b);

    uint8_t id[32], holder[32], id2[32], holder2[32];
    memset (id, 1, sizeof id);
    memset (holder, 2, sizeof holder);
    bool has = false;
    body = node_capsule_encode_get (id, holder, &len);
    assert_int_equal (node_capsule_decode_get (body, len, id2, &has, holder2), WD_OK);
    assert_true (has);
    assert_memory_equal (holder2, holder, 32);
    free (body);
    body = node_capsule_encode_get (id, NULL, &len);
    assert_int_equal (node_capsule_decode_get (body, len, id2, &has, holder2), WD_OK);
    assert_false (has);
    free (body);

    node_capsule_node_t nodes[2] = { 0 };
    snprintf (nodes[1].name, sizeof nodes[1].name, "n1");
    node_capsule_info_t info = { .node_count = 2, .nodes = nodes };
    snprintf (info.self.name, sizeof info.self.name, "n0");
    body = node_capsule_encode_info (&info, &len);
    node_capsule_info_t ib;
    assert_int_equal (node_capsule_decode_info (body, len, &ib), WD_OK);
    assert_int_equal (ib.node_count, 2);
    assert_string_equal (ib.nodes[1].name, "n1");
    free (ib.nodes);
    free (body);
}

static void
test_sandbox_bodies (void **state)
{
    (void)state;
    node_capsule_run_t run = { .argc = 1,
                               .limits = { .cpu_ms = 1000,
                                           .mem_bytes = 64 << 20,
                                           .output_bytes = 1 << 20,
                                           .pids = 16,
                                           .wall_ms = 2000 } };
    run.argv[0] = "/code/main";
    run.arg_lens[0] = strlen (run.argv[0]);
    snprintf (run.work, sizeof run.work, "/dev/shm/w/abc");
    size_t len;
    uint8_t *body = node_capsule_encode_run (&run, &len);
    node_capsule_run_t rb;
    assert_int_equal (node_capsule_decode_run (body, len, &rb), WD_OK);
    assert_int_equal (rb.limits.pids, 16);
    assert_string_equal (rb.work, run.work);
    free (body);
    run.limits.wall_ms = 0; /* a limit of 0 never reaches the parent */
    body = node_capsule_encode_run (&run, &len);
    assert_int_equal (node_capsule_decode_run (body, len, &rb), WD_ERR_OUT_OF_RANGE);
    free (body);

    node_capsule_done_t d = { .exit_code = -1, .signal = 9, .degraded_count = 1, .wall_us = 7 };
    snprintf (d.killed, sizeof d.killed, "wall");
    snprintf (d.degraded[0], sizeof d.degraded[0], "rlimit-only");
    snprintf (d.reason, sizeof d.reason, "killed: wall-clock limit");
    body = node_capsule_encode_done (&d, &len);
    node_capsule_done_t db;
    assert_int_equal (node_capsule_decode_done (body, len, &db), WD_OK);
    assert_string_equal (db.killed, "wall");
    assert_int_equal (db.signal, 9);
    assert_string_equal (db.degraded[0], "rlimit-only");
    free (body);
    d.signal = 200;
    body = node_capsule_encode_done (&d, &len);
    assert_int_equal (node_capsule_decode_done (body, len, &db), WD_ERR_OUT_OF_RANGE);
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_post_claim_failed),
        cmocka_unit_test (test_channel_messages),
        cmocka_unit_test (test_control_bodies),
        cmocka_unit_test (test_sandbox_bodies),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
