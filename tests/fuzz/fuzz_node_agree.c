/*
 * Fuzz harness for node_agree's bodies from peers and for wardenctl: the
 * first byte picks the decoder (channel 4 sync request, channel 4 sync
 * reply, agree status reply), the rest is the body. Decoders must not
 * crash or read out of bounds, and whatever they accept must be the one
 * encoding of what they decoded: encoding it again gives back the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_agree.h"

#define S_BLOCK_MAX 4096 /* small, so that the size checks are reached */

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
    switch (data[0] % 3) {
        case 0: {
            uint64_t from;
            if (node_agree_decode_sync_request (body, n, &from) == WD_OK)
                s_same (node_agree_encode_sync_request (from, &len), len, body, n);
            break;
        }
        case 1: {
            node_agree_synced_t blocks[NODE_AGREE_SYNC_MAX];
            size_t count;
            uint64_t tip;
            if (node_agree_decode_sync_reply (body, n, S_BLOCK_MAX, blocks, &count, &tip) ==
                WD_OK) {
                assert (count <= NODE_AGREE_SYNC_MAX);
                for (size_t i = 0; i < count; i++)
                    assert (blocks[i].block_len <= S_BLOCK_MAX);
                s_same (node_agree_encode_sync_reply (blocks, count, tip, &len), len, body, n);
            }
            break;
        }
        default: {
            node_agree_status_t st;
            if (node_agree_decode_status (body, n, &st) == WD_OK)
                s_same (node_agree_encode_status (&st, &len), len, body, n);
            break;
        }
    }
    return 0;
}
