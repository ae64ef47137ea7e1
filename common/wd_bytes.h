/*
 * wd_bytes: big-endian integers in byte buffers, as the channel header,
 * the sortition input and other fixed layouts write them (docs/PROTOCOL.md
 * "Conventions": every multi-byte integer outside msgpack is big-endian).
 */
#ifndef WD_BYTES_H
#define WD_BYTES_H

#include <stddef.h>
#include <stdint.h>

/* Writes the low len bytes of v (len <= 8) to out, most significant first. */
static inline void
wd_put_be (uint8_t *out, uint64_t v, size_t len)
{
    for (size_t i = len; i > 0; i--, v >>= 8)
        out[i - 1] = (uint8_t)v;
}

/* Reads len bytes (len <= 8), most significant first. */
static inline uint64_t
wd_get_be (const uint8_t *in, size_t len)
{
    uint64_t v = 0;
    for (size_t i = 0; i < len; i++)
        v = v << 8 | in[i];
    return v;
}

#endif
