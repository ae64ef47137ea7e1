/*
 * wd_codec: canonical msgpack, the encoding of every Warden record and
 * message body (DESIGN.md §6, docs/PROTOCOL.md "Canonical msgpack").
 *
 * Canonical means: integers and length headers in their shortest form,
 * non-negative integers as unsigned types, map keys are UTF-8 strings in
 * strictly ascending byte order, no floats, no extension types, strings are
 * valid UTF-8, at most WD_CODEC_MAX_DEPTH nested containers, and exactly one
 * top-level value. One encoding per value means a hash or a signature over
 * the bytes is a hash or a signature over the value.
 *
 * The writer packs with msgpack-c (which already emits shortest forms) and
 * asserts that our own code writes map keys in order. The reader is a strict
 * pull parser of our own: msgpack-c's unpacker builds object trees that
 * forget how each value was encoded and allocates by declared counts, which a
 * validator of untrusted input cannot afford.
 *
 * Validating and decoding are two steps. wd_codec_check() enforces the
 * canonical rules on any value and names the first violation. Decoders for a
 * known schema then use the wd_read_* calls, which keep a sticky error: each
 * call is a no-op once an error is recorded, and wd_reader_finish() returns
 * the first error (schema errors: missing or unknown key, wrong type, wrong
 * length, out of range).
 */
#ifndef WD_CODEC_H
#define WD_CODEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wd_err.h"

#define WD_CODEC_MAX_DEPTH 16

/* ---- writer ------------------------------------------------------------ */

typedef struct wd_writer wd_writer_t;

/* Returns a new, empty writer. Aborts on out-of-memory, as every writer call
   does: encoding our own values has no other failure. */
wd_writer_t *
wd_writer_new (void);

/* Frees the writer and its buffer; sets *self_p to NULL. Safe on NULL. */
void
wd_writer_destroy (wd_writer_t **self_p);

/* Empties the writer for reuse. */
void
wd_writer_reset (wd_writer_t *self);

/* Starts a map of count entries; each entry is wd_writer_key() followed by
   one value. Keys must be written in strictly ascending byte order
   (asserted). */
void
wd_writer_map (wd_writer_t *self, size_t count);
void
wd_writer_key (wd_writer_t *self, const char *key);
/* Starts an array of count values. */
void
wd_writer_array (wd_writer_t *self, size_t count);

void
wd_writer_uint (wd_writer_t *self, uint64_t value);
void
wd_writer_int (wd_writer_t *self, int64_t value);
void
wd_writer_bool (wd_writer_t *self, bool value);
void
wd_writer_nil (wd_writer_t *self);
/* A UTF-8 string of len bytes (the caller guarantees valid UTF-8). */
void
wd_writer_str (wd_writer_t *self, const char *str, size_t len);
void
wd_writer_cstr (wd_writer_t *self, const char *str);
void
wd_writer_bin (wd_writer_t *self, const void *data, size_t len);
/* Appends one value that is already canonical msgpack (e.g. a record
   embedded in a message), counted as one value. */
void
wd_writer_raw (wd_writer_t *self, const void *value, size_t len);

/* The encoded bytes; every container must be complete (asserted).
   Borrowed: valid until the next call on the writer. */
const uint8_t *
wd_writer_data (wd_writer_t *self, size_t *len);

/* Like wd_writer_data, but the caller owns the returned buffer (free()) and
   the writer is left empty. */
uint8_t *
wd_writer_take (wd_writer_t *self, size_t *len);

/* ---- validation ---------------------------------------------------------- */

/* Checks that buf holds exactly one canonical msgpack value whose strings,
   byte strings and containers each hold at most max_field bytes or entries.
   Returns WD_OK or the first violation; *offset (if not NULL) gets the byte
   offset where it was found. */
wd_err_t __attribute__ ((warn_unused_result))
wd_codec_check (const void *buf, size_t len, size_t max_field, size_t *offset);

/* ---- schema reader ----------------------------------------------------- */

/* A pull reader over a borrowed buffer. Lives on the caller's stack; the
   fields are private. */
typedef struct {
    const uint8_t *start;
    const uint8_t *pos;
    const uint8_t *end;
    wd_err_t err;
    size_t err_offset;
    unsigned depth;
    struct {
        uint64_t remaining;
        bool is_map;
        const uint8_t *last_key;
        size_t last_key_len;
    } stack[WD_CODEC_MAX_DEPTH];
} wd_reader_t;

void
wd_reader_init (wd_reader_t *r, const void *buf, size_t len);

/* Returns the first error, or WD_ERR_TRAILING if bytes remain after the
   top-level value, or WD_OK. Every container must have been left with
   wd_read_end() (asserted when there is no error). */
wd_err_t __attribute__ ((warn_unused_result)) wd_reader_finish (wd_reader_t *r);

/* The byte offset of the first error (0 when there is none): where the
   rejected value, or the unknown key, starts. */
size_t
wd_reader_error_offset (const wd_reader_t *r);

/* Enters a map or an array; *count gets its number of entries or values. */
bool
wd_read_map (wd_reader_t *r, size_t *count);
bool
wd_read_array (wd_reader_t *r, size_t *count);
/* Leaves the current container: a map whose keys were not all read fails
   with WD_ERR_UNKNOWN_KEY, an array with values left with
   WD_ERR_BAD_LENGTH. */
bool
wd_read_end (wd_reader_t *r);

/* Reads the next map key, which must be key: a smaller key is unknown to
   this schema (WD_ERR_UNKNOWN_KEY), a larger one or none means key is
   missing (WD_ERR_MISSING_KEY). */
bool
wd_read_key (wd_reader_t *r, const char *key);
/* Like wd_read_key, for an optional key: returns false without an error
   when key is absent. */
bool
wd_read_key_opt (wd_reader_t *r, const char *key);

/* Integers within [0, max] or [min, max], else WD_ERR_OUT_OF_RANGE. */
bool
wd_read_uint (wd_reader_t *r, uint64_t *value, uint64_t max);
bool
wd_read_int (wd_reader_t *r, int64_t *value, int64_t min, int64_t max);
bool
wd_read_bool (wd_reader_t *r, bool *value);

/* A string of at most max bytes; *str is borrowed from the buffer and not
   NUL-terminated. */
bool
wd_read_str (wd_reader_t *r, const char **str, size_t *len, size_t max);
/* A string copied into buf (size bytes, NUL-terminated). Longer strings fail
   with WD_ERR_OVERSIZE, strings holding a NUL with WD_ERR_BAD_VALUE. */
bool
wd_read_cstr (wd_reader_t *r, char *buf, size_t size);
/* A byte string of at most max bytes, borrowed from the buffer. */
bool
wd_read_bin (wd_reader_t *r, const uint8_t **data, size_t *len, size_t max);
/* A byte string of exactly len bytes, copied to out (WD_ERR_BAD_LENGTH). */
bool
wd_read_bin_fixed (wd_reader_t *r, uint8_t *out, size_t len);
/* The bytes of the next whole value, whatever its type, borrowed. */
bool
wd_read_raw (wd_reader_t *r, const uint8_t **value, size_t *len);

#endif
