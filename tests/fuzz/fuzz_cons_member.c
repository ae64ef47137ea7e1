/*
 * Fuzz harness for the membership messages (cons_member.h): the decoder
 * must not crash or read out of bounds, whatever it accepts must be
 * canonical (encoding the decoded message gives back the input bytes), and
 * the state machine fed the same bytes from a member must keep every
 * message it sends decodable. The known-answer ping of the unit tests must
 * decode, so a decoder that rejects everything cannot pass unnoticed.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_member.h"
#include "wd_err.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_N 5

static uint8_t s_ids[S_N][CONS_MEMBER_ID_LEN];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    /* The corpus uses ids 0x11.., 0x22.., ... as the unit tests do. */
    for (int i = 0; i < S_N; i++)
        memset (s_ids[i], 0x11 * (i + 1), CONS_MEMBER_ID_LEN);
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PING;
    msg.seq = 7;
    msg.target = s_ids[0];
    msg.count = 1;
    msg.updates[0] = (cons_member_update_t){ CONS_MEMBER_SUSPECT, s_ids[2], 3, s_ids[1] };
    size_t len;
    uint8_t *body = cons_member_msg_encode (&msg, &len);
    cons_member_msg_t back;
    if (cons_member_msg_decode (body, len, &back) != WD_OK || back.count != 1)
        abort ();
    free (body);
    return 0;
}

static void
s_check_outputs (cons_member_t *m)
{
    cons_member_output_t out;
    while (cons_member_poll (m, &out)) {
        if (out.kind != CONS_MEMBER_OUT_SEND)
            continue;
        cons_member_msg_t msg;
        assert (cons_member_msg_decode (out.body, out.len, &msg) == WD_OK);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    cons_member_msg_t msg;
    if (cons_member_msg_decode (data, size, &msg) == WD_OK) {
        size_t len;
        uint8_t *out = cons_member_msg_encode (&msg, &len);
        assert (len == size && memcmp (out, data, size) == 0);
        free (out);
    }

    /* The same bytes into member 0's machine, from member 1, while a probe
       is pending, then through the timers. */
    cons_member_config_t cfg = { 0 };
    cfg.self = s_ids[0];
    cfg.members = &s_ids[0][0];
    cfg.count = S_N;
    cfg.seed = 1;
    cons_member_t *m = NULL;
    if (cons_member_new (&cfg, &m) != WD_OK)
        abort ();
    cons_member_tick (m, 0);
    cons_member_tick (m, cons_member_next_deadline (m));
    s_check_outputs (m);
    (void)cons_member_receive (m, 1000, s_ids[1], data, size);
    s_check_outputs (m);
    for (int i = 0; i < 40; i++) {
        uint64_t d = cons_member_next_deadline (m);
        if (d == UINT64_MAX)
            break;
        cons_member_tick (m, d);
        s_check_outputs (m);
    }
    cons_member_destroy (&m);
    return 0;
}
