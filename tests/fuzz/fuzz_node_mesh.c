/*
 * Fuzz harness for the mesh control bodies (node_mesh.h): the first byte
 * picks the decoder (peers reply, records reply, publish request, page
 * request, notice record body), the rest is the body. Decoders must not
 * crash or read out of bounds, and whatever they accept must be the one
 * encoding of what they decoded: encoding it again gives back the input.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_mesh.h"

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
    size_t n = size - 1, len, count = 0;
    bool more = false;
    switch (data[0] % 5) {
        case 0: {
            node_mesh_summary_t summary;
            node_mesh_peer_t *peers = NULL;
            if (node_mesh_decode_peers (body, n, &summary, &peers, &count, &more) == WD_OK && !more)
                s_same (node_mesh_encode_peers (&summary, peers, count, 0, &len), len, body, n);
            free (peers);
            break;
        }
        case 1: {
            node_mesh_record_t *records = NULL;
            if (node_mesh_decode_records (body, n, &records, &count, &more) == WD_OK && !more)
                s_same (node_mesh_encode_records (records, count, &len), len, body, n);
            free (records);
            break;
        }
        case 2: {
            char text[NODE_MESH_TEXT_MAX + 1];
            if (node_mesh_decode_publish (body, n, text) == WD_OK)
                s_same (node_mesh_encode_publish (text, &len), len, body, n);
            break;
        }
        case 3: {
            uint64_t start;
            if (node_mesh_decode_start (body, n, &start) == WD_OK)
                s_same (node_mesh_encode_start (start, &len), len, body, n);
            break;
        }
        default: {
            char text[NODE_MESH_TEXT_MAX + 1];
            uint64_t time_ms;
            if (node_mesh_decode_notice (body, n, text, &time_ms) == WD_OK)
                s_same (node_mesh_encode_notice (text, time_ms, &len), len, body, n);
            break;
        }
    }
    return 0;
}
