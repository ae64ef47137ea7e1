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
#include "wd_bytes.h"
#include "wd_codec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

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
    if ((uint32_t)wd_get_be (data + 4, 4) != size - WD_CHAN_HEADER_LEN)
        assert (err == WD_ERR_FRAME || err == WD_ERR_FRAME_SIZE);
    if (err != WD_OK)
        return 0;

    assert (body_len == size - WD_CHAN_HEADER_LEN && body_len <= WD_CHAN_MAX_BODY);
    assert (body == data + WD_CHAN_HEADER_LEN);
    assert (type == (uint32_t)wd_get_be (data, 4) && peer == (uint32_t)wd_get_be (data + 8, 4));
    assert (body_len == 0 || wd_codec_check (body, body_len, WD_CHAN_MAX_BODY, NULL) == WD_OK);
    return 0;
}
