/*
 * wd_hash: thin, allocation-free helpers over libsodium's SHA-256.
 */
#include "wd_hash.h"

#include <sodium.h>
#include <string.h>

void
wd_hash_sha256 (uint8_t out[WD_HASH_LEN], const void *data, size_t len)
{
    crypto_hash_sha256 (out, data, len);
}

char *
wd_hex_encode (char *out, const uint8_t *bin, size_t len)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < len; i++) {
        out[2 * i] = digits[bin[i] >> 4];
        out[2 * i + 1] = digits[bin[i] & 0x0f];
    }
    out[2 * len] = '\0';
    return out;
}

static int
s_nibble (char c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    if (c >= 'a' && c <= 'f')
        return c - 'a' + 10;
    if (c >= 'A' && c <= 'F')
        return c - 'A' + 10;
    return -1;
}

bool
wd_hex_decode (uint8_t *bin, size_t len, const char *hex)
{
    if (strlen (hex) != 2 * len)
        return false;
    for (size_t i = 0; i < len; i++) {
        int hi = s_nibble (hex[2 * i]);
        int lo = s_nibble (hex[2 * i + 1]);
        if (hi < 0 || lo < 0)
            return false;
        bin[i] = (uint8_t)(hi << 4 | lo);
    }
    return true;
}

wd_short_id_t
wd_short_id (const uint8_t id[WD_HASH_LEN])
{
    wd_short_id_t out;
    wd_hex_encode (out.s, id, WD_HASH_SHORT_HEX / 2);
    return out;
}
