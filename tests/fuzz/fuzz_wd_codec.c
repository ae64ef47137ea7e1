/*
 * Fuzz harness for the canonical msgpack reader: wd_codec_check must never
 * crash or read out of bounds, and whatever it accepts must also decode
 * through the schema reader's generic path (wd_read_raw) to the same bytes.
 */
#include <assert.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "wd_codec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    size_t offset = 0;
    wd_err_t err = wd_codec_check (data, size, 1024, &offset);
    assert (err == WD_OK || offset <= size);
    if (err != WD_OK)
        return 0;

    wd_reader_t r;
    const uint8_t *raw;
    size_t raw_len;
    wd_reader_init (&r, data, size);
    wd_read_raw (&r, &raw, &raw_len);
    assert (wd_reader_finish (&r) == WD_OK);
    assert (raw == data && raw_len == size);
    return 0;
}
