/*
 * Fuzz harness for the peer transport's frame decoder
 * (cons_transport_frame_decode): every frame a peer's ROUTER connection
 * delivers goes through it before anything else looks at the bytes. It must
 * not read out of bounds, and its verdict must be the one the rules of
 * docs/PROTOCOL.md "Peer transport" give, checked here independently: the
 * size cap first, then the two-byte header, the version, the channel; an
 * accepted frame's body is exactly the bytes after the header.
 *
 * The first input byte picks the size cap (so inputs can probe the cap
 * without being megabytes long); the rest is the frame. The same bytes
 * also go through the LAN announcement decoder
 * (cons_transport_beacon_decode), whose accepted inputs must re-encode to
 * themselves.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_transport.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    size_t max_frame = (size_t)data[0] * 16;
    /* A copy of exactly the frame's length, so ASan sees any over-read. */
    size_t len = size - 1;
    uint8_t *frame = malloc (len ? len : 1);
    assert (frame);
    memcpy (frame, data + 1, len);

    uint8_t channel = 0xff;
    const uint8_t *body = frame;
    size_t body_len = 12345;
    int rc = cons_transport_frame_decode (frame, len, max_frame, &channel, &body, &body_len);

    int want = 0;
    if (len > max_frame)
        want = CONS_ERR_FRAME_SIZE;
    else if (len < 2)
        want = CONS_ERR_FRAME_SHORT;
    else if (frame[0] != 1)
        want = CONS_ERR_FRAME_VERSION;
    else if (frame[1] < 1 || frame[1] > CONS_CHANNEL_HELLO)
        want = CONS_ERR_FRAME_CHANNEL;
    assert (rc == want);
    if (rc == 0) {
        assert (channel == frame[1] && cons_transport_channel_valid (channel));
        assert (body == frame + 2 && body_len == len - 2);
    } else {
        assert (channel == 0 && body == NULL && body_len == 0);
    }

    uint8_t node_id[WD_PUBKEY_LEN], again[CONS_TRANSPORT_BEACON_LEN];
    uint16_t port;
    rc = cons_transport_beacon_decode (frame, len, node_id, &port);
    bool valid = len == CONS_TRANSPORT_BEACON_LEN && memcmp (frame, "WDN\x01", 4) == 0 &&
                 (frame[36] | frame[37]) != 0;
    assert (rc == (valid ? 0 : CONS_ERR_BEACON));
    if (rc == 0) {
        cons_transport_beacon_encode (node_id, port, again);
        assert (memcmp (again, frame, sizeof again) == 0);
    }
    free (frame);
    return 0;
}
