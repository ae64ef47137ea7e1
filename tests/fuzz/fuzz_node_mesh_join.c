/*
 * Fuzz harness for the mesh's membership inputs (node_mesh.h): the first
 * byte picks the decoder — the hello a peer sends on transport channel 7
 * (endpoints of the admitted nodes, docs/PROTOCOL.md "Membership
 * transactions"), the control member request `wardenctl member` sends to
 * the engine, or the engine's reply to it — the rest is the body. Decoders
 * must not crash or read out of bounds, a refused hello is left zeroed, and
 * whatever they accept must be the one encoding of what they decoded:
 * encoding it again gives back the input.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "node_mesh.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
s_same (uint8_t *again, size_t len, const uint8_t *body, size_t size)
{
    assert (again && len == size && memcmp (again, body, size) == 0);
    free (again);
}

/* A hello made here must decode (a decoder that refuses everything cannot
   pass unnoticed). */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    static node_mesh_hello_t hello, back;
    hello.ask = true;
    memcpy (hello.endpoint, "tcp://127.0.0.1:7100", 21);
    hello.count = 1;
    memset (hello.peers[0].id, 0x11, WD_PUBKEY_LEN);
    memcpy (hello.peers[0].endpoint, "tcp://127.0.0.1:7101", 21);
    size_t len;
    uint8_t *body = node_mesh_encode_hello (&hello, &len);
    if (node_mesh_decode_hello (body, len, &back) != WD_OK || back.count != 1 || !back.ask)
        abort ();
    free (body);
    return 0;
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
            static node_mesh_hello_t hello; /* 18 KiB: off the stack */
            static const node_mesh_hello_t zero;
            if (node_mesh_decode_hello (body, n, &hello) == WD_OK) {
                assert (hello.count <= NODE_MESH_HELLO_PEERS);
                s_same (node_mesh_encode_hello (&hello, &len), len, body, n);
            } else
                assert (memcmp (&hello, &zero, sizeof hello) == 0);
            break;
        }
        case 1: {
            char op[16];
            const uint8_t *request = NULL;
            size_t request_len = 0;
            if (node_mesh_decode_member (body, n, op, &request, &request_len) == WD_OK) {
                assert (strlen (op) < sizeof op);
                s_same (node_mesh_encode_member (op, request, request_len, &len), len, body, n);
            }
            break;
        }
        default: {
            const uint8_t *envelope = NULL;
            size_t envelope_len = 0;
            uint8_t id[32];
            if (node_mesh_decode_member_reply (body, n, &envelope, &envelope_len, id) == WD_OK) {
                assert (envelope_len <= NODE_MESH_MEMBER_REPLY_MAX);
                s_same (node_mesh_encode_member_reply (envelope, envelope_len, id, &len), len, body,
                        n);
            }
            break;
        }
    }
    return 0;
}
