/*
 * Fuzz harness for node_capsule_wire (node_capsule_wire.h): the first byte
 * picks the decoder (the ledger records post, claim and failed, a channel 5
 * message, the control bodies, the parent's sandbox bodies), the rest is
 * the body. Decoders must not crash or read out of bounds, and whatever they
 * accept must be the one encoding of what they decoded.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_capsule_wire.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_same (uint8_t *again, size_t len, const uint8_t *body, size_t size)
{
    assert (len == size && memcmp (again, body, size) == 0);
    free (again);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1, len;
    switch (data[0] % 8) {
        case 0: {
            node_capsule_post_t p;
            if (node_capsule_decode_post (body, n, &p) == WD_OK)
                s_same (node_capsule_encode_post (&p, &len), len, body, n);
            break;
        }
        case 1: {
            node_capsule_claim_t c;
            if (node_capsule_decode_claim (body, n, &c) == WD_OK)
                s_same (node_capsule_encode_claim (&c, &len), len, body, n);
            break;
        }
        case 2: {
            node_capsule_failed_t f;
            if (node_capsule_decode_failed (body, n, &f) == WD_OK)
                s_same (node_capsule_encode_failed (&f, &len), len, body, n);
            break;
        }
        case 3: {
            node_capsule_msg_t m;
            if (node_capsule_decode_msg (body, n, &m) == WD_OK)
                s_same (node_capsule_encode_msg (&m, &len), len, body, n);
            break;
        }
        case 4: {
            node_capsule_status_t *st = malloc (sizeof *st);
            if (st && node_capsule_decode_status (body, n, st) == WD_OK)
                s_same (node_capsule_encode_status (st, &len), len, body, n);
            free (st);
            break;
        }
        case 5: {
            node_capsule_info_t info;
            if (node_capsule_decode_info (body, n, &info) == WD_OK) {
                s_same (node_capsule_encode_info (&info, &len), len, body, n);
                free (info.nodes);
            }
            break;
        }
        case 6: {
            node_capsule_run_t run;
            if (node_capsule_decode_run (body, n, &run) == WD_OK)
                s_same (node_capsule_encode_run (&run, &len), len, body, n);
            break;
        }
        default: {
            node_capsule_done_t d;
            if (node_capsule_decode_done (body, n, &d) == WD_OK)
                s_same (node_capsule_encode_done (&d, &len), len, body, n);
            break;
        }
    }
    return 0;
}
