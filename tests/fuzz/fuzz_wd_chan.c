/*
 * Fuzz harness for the channel frame validator: wd_chan_frame_parse must
 * never crash or read out of bounds, and whatever it accepts must be exactly
 * what the header says: a big-endian {type, len, peer} whose len is the rest
 * of the input, followed by an empty or canonical msgpack body in place.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wd_chan.h"
#include "wd_codec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint32_t
s_get_u32 (const uint8_t *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | (uint32_t)p[3];
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint32_t type, peer;
    const uint8_t *body;
    size_t body_len;
    wd_err_t err = wd_chan_frame_parse (data, size, &type, &peer, &body, &body_len);
    if (size < WD_CHAN_HEADER_LEN) {
        assert (err == WD_ERR_FRAME);
        return 0;
    }
    if (s_get_u32 (data + 4) != size - WD_CHAN_HEADER_LEN)
        assert (err == WD_ERR_FRAME || err == WD_ERR_FRAME_SIZE);
    if (err != WD_OK)
        return 0;

    assert (body_len == size - WD_CHAN_HEADER_LEN && body_len <= WD_CHAN_MAX_BODY);
    assert (body == data + WD_CHAN_HEADER_LEN);
    assert (type == s_get_u32 (data) && peer == s_get_u32 (data + 8));
    assert (body_len == 0 || wd_codec_check (body, body_len, WD_CHAN_MAX_BODY, NULL) == WD_OK);
    return 0;
}
