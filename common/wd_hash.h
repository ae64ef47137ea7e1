/*
 * wd_hash: SHA-256 content ids and their lowercase-hex form.
 *
 * All content ids in Warden (records, envelopes, certificates, capsules,
 * blocks) are SHA-256 of canonical bytes (DESIGN.md §6), shown as lowercase
 * hex; peers are shown by the first WD_HASH_SHORT_HEX hex digits.
 */
#ifndef WD_HASH_H
#define WD_HASH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define WD_HASH_LEN       32
#define WD_HASH_HEX_LEN   64
#define WD_HASH_SHORT_HEX 8

/* out = SHA-256(data[0..len)). */
void
wd_hash_sha256 (uint8_t out[WD_HASH_LEN], const void *data, size_t len);

/* Writes 2*len lowercase hex digits and a NUL to out, which must hold
   2*len+1 bytes. Returns out. */
char *
wd_hex_encode (char *out, const uint8_t *bin, size_t len);

/* Parses exactly 2*len hex digits (either case) from a NUL-terminated string
   into bin. Returns false on a wrong length or a non-hex digit. */
bool __attribute__ ((warn_unused_result)) wd_hex_decode (uint8_t *bin, size_t len, const char *hex);

/* The short display form of a 32-byte id: the first 8 hex digits. */
typedef struct {
    char s[WD_HASH_SHORT_HEX + 1];
} wd_short_id_t;
wd_short_id_t
wd_short_id (const uint8_t id[WD_HASH_LEN]);

#endif
