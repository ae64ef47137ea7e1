/*
 * wd_codec: canonical msgpack writer (over msgpack-c) and strict reader.
 * The rules are listed in wd_codec.h and docs/PROTOCOL.md; every rejection
 * below maps to one named wd_err_t.
 */
#include "wd_codec.h"

#include <assert.h>
#include <msgpack.h>
#include <stdlib.h>
#include <string.h>

/* ---- writer ------------------------------------------------------------ */

struct wd_writer {
    msgpack_sbuffer buffer;
    msgpack_packer packer;
    unsigned depth;
    struct {
        size_t remaining; /* values (arrays) or keys (maps) still to write */
        bool is_map;
        bool want_value;     /* map: a key was written, its value is next */
        size_t last_key_off; /* offset of the previous key's bytes */
        size_t last_key_len;
        bool has_key;
    } stack[WD_CODEC_MAX_DEPTH];
};

static void
s_packed (int rc)
{
    /* msgpack-c's sbuffer only fails when realloc does. */
    if (rc != 0)
        abort ();
}

wd_writer_t *
wd_writer_new (void)
{
    wd_writer_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    msgpack_sbuffer_init (&self->buffer);
    msgpack_packer_init (&self->packer, &self->buffer, msgpack_sbuffer_write);
    return self;
}

void
wd_writer_destroy (wd_writer_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wd_writer_t *self = *self_p;
        msgpack_sbuffer_destroy (&self->buffer);
        free (self);
        *self_p = NULL;
    }
}

void
wd_writer_reset (wd_writer_t *self)
{
    msgpack_sbuffer_clear (&self->buffer);
    self->depth = 0;
}

/* Accounts for one value about to be written in the current container. */
static void
s_writer_value (wd_writer_t *self)
{
    if (self->depth == 0)
        return;
    __typeof__ (self->stack[0]) *top = &self->stack[self->depth - 1];
    if (top->is_map) {
        assert (top->want_value && "map value written without a key");
        top->want_value = false;
    } else {
        assert (top->remaining > 0 && "more array values than declared");
        top->remaining--;
    }
}

/* Closes every container whose last value has been written. */
static void
s_writer_close_done (wd_writer_t *self)
{
    while (self->depth > 0) {
        __typeof__ (self->stack[0]) *top = &self->stack[self->depth - 1];
        if (top->remaining > 0 || top->want_value)
            break;
        self->depth--;
    }
}

static void
s_writer_open (wd_writer_t *self, size_t count, bool is_map)
{
    s_writer_value (self);
    assert (self->depth < WD_CODEC_MAX_DEPTH && "nesting too deep");
    __typeof__ (self->stack[0]) *top = &self->stack[self->depth++];
    memset (top, 0, sizeof *top);
    top->remaining = count;
    top->is_map = is_map;
    s_writer_close_done (self);
}

void
wd_writer_map (wd_writer_t *self, size_t count)
{
    assert (count <= UINT32_MAX);
    s_packed (msgpack_pack_map (&self->packer, count));
    s_writer_open (self, count, true);
}

void
wd_writer_array (wd_writer_t *self, size_t count)
{
    assert (count <= UINT32_MAX);
    s_packed (msgpack_pack_array (&self->packer, count));
    s_writer_open (self, count, false);
}

static int
s_key_cmp (const uint8_t *a, size_t alen, const uint8_t *b, size_t blen)
{
    int c = memcmp (a, b, alen < blen ? alen : blen);
    if (c != 0)
        return c;
    return alen < blen ? -1 : alen > blen;
}

void
wd_writer_key (wd_writer_t *self, const char *key)
{
    assert (self->depth > 0);
    __typeof__ (self->stack[0]) *top = &self->stack[self->depth - 1];
    assert (top->is_map && !top->want_value && top->remaining > 0);
    size_t len = strlen (key);
    s_packed (msgpack_pack_str (&self->packer, len));
    size_t off = self->buffer.size;
    s_packed (msgpack_pack_str_body (&self->packer, key, len));
    assert ((!top->has_key || s_key_cmp ((const uint8_t *)self->buffer.data + top->last_key_off,
                                         top->last_key_len, (const uint8_t *)key, len) < 0) &&
            "map keys must be written in ascending order");
    top->last_key_off = off;
    top->last_key_len = len;
    top->has_key = true;
    top->remaining--;
    top->want_value = true;
}

/* Every scalar goes through here: account, then close finished containers. */
#define WRITE_SCALAR(self, call)                                                                   \
    do {                                                                                           \
        s_writer_value (self);                                                                     \
        s_packed (call);                                                                           \
        s_writer_close_done (self);                                                                \
    } while (0)

void
wd_writer_uint (wd_writer_t *self, uint64_t value)
{
    WRITE_SCALAR (self, msgpack_pack_uint64 (&self->packer, value));
}

void
wd_writer_int (wd_writer_t *self, int64_t value)
{
    WRITE_SCALAR (self, msgpack_pack_int64 (&self->packer, value));
}

void
wd_writer_bool (wd_writer_t *self, bool value)
{
    WRITE_SCALAR (self,
                  value ? msgpack_pack_true (&self->packer) : msgpack_pack_false (&self->packer));
}

void
wd_writer_nil (wd_writer_t *self)
{
    WRITE_SCALAR (self, msgpack_pack_nil (&self->packer));
}

void
wd_writer_str (wd_writer_t *self, const char *str, size_t len)
{
    assert (len <= UINT32_MAX);
    WRITE_SCALAR (self, msgpack_pack_str_with_body (&self->packer, str, len));
}

void
wd_writer_cstr (wd_writer_t *self, const char *str)
{
    wd_writer_str (self, str, strlen (str));
}

void
wd_writer_bin (wd_writer_t *self, const void *data, size_t len)
{
    assert (len <= UINT32_MAX);
    WRITE_SCALAR (self, msgpack_pack_bin_with_body (&self->packer, data, len));
}

void
wd_writer_raw (wd_writer_t *self, const void *value, size_t len)
{
    WRITE_SCALAR (self, msgpack_sbuffer_write (&self->buffer, value, len));
}

const uint8_t *
wd_writer_data (wd_writer_t *self, size_t *len)
{
    assert (self->depth == 0 && "container not complete");
    *len = self->buffer.size;
    return (const uint8_t *)self->buffer.data;
}

uint8_t *
wd_writer_take (wd_writer_t *self, size_t *len)
{
    assert (self->depth == 0 && "container not complete");
    *len = self->buffer.size;
    uint8_t *data = (uint8_t *)msgpack_sbuffer_release (&self->buffer);
    if (!data) {
        /* An empty sbuffer has no allocation; hand out a valid pointer. */
        data = malloc (1);
        if (!data)
            abort ();
    }
    return data;
}

/* ---- header parsing (shared by check and the schema reader) --------------- */

typedef enum {
    H_NIL,
    H_BOOL,
    H_UINT,
    H_INT, /* negative */
    H_STR,
    H_BIN,
    H_ARRAY,
    H_MAP,
} s_kind_t;

typedef struct {
    s_kind_t kind;
    uint64_t u; /* H_UINT value, H_BOOL value, or length/count */
    int64_t i;  /* H_INT value */
} s_header_t;

static bool
s_fail (wd_reader_t *r, wd_err_t err, const uint8_t *at)
{
    if (r->err == WD_OK) {
        r->err = err;
        r->err_offset = (size_t)(at - r->start);
    }
    return false;
}

static uint64_t
s_be (const uint8_t *p, size_t n)
{
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v = v << 8 | p[i];
    return v;
}

/* The type bytes 0xc0..0xdf. Forms with a length or value in the next
   `extra` big-endian bytes carry `min`, the smallest value they may hold:
   anything smaller has a shorter form. Signed forms are checked apart
   (they may only hold negative values no narrower form can). */
typedef struct {
    wd_err_t err; /* non-zero: the type byte is refused for this reason */
    s_kind_t kind;
    uint8_t extra;
    uint64_t min;
} s_form_t;

static const s_form_t s_forms[0x20] = {
    [0x00] = { .kind = H_NIL },
    [0x01] = { .err = WD_ERR_BAD_TYPE },
    [0x02] = { .kind = H_BOOL },
    [0x03] = { .kind = H_BOOL },
    [0x04] = { .kind = H_BIN, .extra = 1, .min = 0 }, /* bin has no fixed form */
    [0x05] = { .kind = H_BIN, .extra = 2, .min = 0x100 },
    [0x06] = { .kind = H_BIN, .extra = 4, .min = 0x10000 },
    [0x07] = { .err = WD_ERR_EXT },
    [0x08] = { .err = WD_ERR_EXT },
    [0x09] = { .err = WD_ERR_EXT },
    [0x0a] = { .err = WD_ERR_FLOAT },
    [0x0b] = { .err = WD_ERR_FLOAT },
    [0x0c] = { .kind = H_UINT, .extra = 1, .min = 0x80 },
    [0x0d] = { .kind = H_UINT, .extra = 2, .min = 0x100 },
    [0x0e] = { .kind = H_UINT, .extra = 4, .min = 0x10000 },
    [0x0f] = { .kind = H_UINT, .extra = 8, .min = 0x100000000 },
    [0x10] = { .kind = H_INT, .extra = 1 },
    [0x11] = { .kind = H_INT, .extra = 2 },
    [0x12] = { .kind = H_INT, .extra = 4 },
    [0x13] = { .kind = H_INT, .extra = 8 },
    [0x14] = { .err = WD_ERR_EXT },
    [0x15] = { .err = WD_ERR_EXT },
    [0x16] = { .err = WD_ERR_EXT },
    [0x17] = { .err = WD_ERR_EXT },
    [0x18] = { .err = WD_ERR_EXT },
    [0x19] = { .kind = H_STR, .extra = 1, .min = 32 },
    [0x1a] = { .kind = H_STR, .extra = 2, .min = 0x100 },
    [0x1b] = { .kind = H_STR, .extra = 4, .min = 0x10000 },
    [0x1c] = { .kind = H_ARRAY, .extra = 2, .min = 16 },
    [0x1d] = { .kind = H_ARRAY, .extra = 4, .min = 0x10000 },
    [0x1e] = { .kind = H_MAP, .extra = 2, .min = 16 },
    [0x1f] = { .kind = H_MAP, .extra = 4, .min = 0x10000 },
};

/* Reads one value header at r->pos, enforcing shortest forms. On success
   r->pos points at the value's payload (string bytes, first element). */
static bool
s_header (wd_reader_t *r, s_header_t *h)
{
    const uint8_t *at = r->pos;
    if (r->err != WD_OK)
        return false;
    if (at >= r->end)
        return s_fail (r, WD_ERR_TRUNCATED, at);
    uint8_t b = *at;
    r->pos = at + 1;

    /* The fixed forms hold their value in the type byte itself. */
    if (b <= 0x7f || b >= 0xe0) {
        h->kind = b <= 0x7f ? H_UINT : H_INT;
        h->u = b;
        h->i = (int8_t)b;
        return true;
    }
    if (b <= 0xbf) {
        h->kind = b <= 0x8f ? H_MAP : b <= 0x9f ? H_ARRAY : H_STR;
        h->u = b <= 0x9f ? b & 0x0f : b & 0x1f;
        return true;
    }

    const s_form_t *form = &s_forms[b - 0xc0];
    if (form->err != WD_OK)
        return s_fail (r, form->err, at);
    h->kind = form->kind;
    h->u = b == 0xc3; /* the value of a bool; 0 for nil */
    if (form->extra == 0)
        return true;
    if ((size_t)(r->end - r->pos) < form->extra)
        return s_fail (r, WD_ERR_TRUNCATED, at);
    uint64_t raw = s_be (r->pos, form->extra);
    r->pos += form->extra;

    if (h->kind == H_INT) {
        /* Sign-extend, then require a negative value that no shorter form
           (negative fixint, or a narrower signed type) could carry. */
        unsigned bits = form->extra * 8u;
        uint64_t sign = 1ull << (bits - 1);
        int64_t v = bits == 64 ? (int64_t)raw : (int64_t)(raw ^ sign) - (int64_t)sign;
        int64_t narrower_min = bits == 8 ? -32 : -(int64_t)(1ull << (bits / 2 - 1));
        if (v >= narrower_min)
            return s_fail (r, WD_ERR_INT_NONCANONICAL, at);
        h->i = v;
        return true;
    }
    if (raw < form->min)
        return s_fail (r, h->kind == H_UINT ? WD_ERR_INT_NONCANONICAL : WD_ERR_LEN_NONCANONICAL,
                       at);
    h->u = raw;
    return true;
}

/* ---- UTF-8 ----------------------------------------------------------------- */

/* Strict UTF-8 (RFC 3629): no overlong forms, no surrogates, <= U+10FFFF. */
static bool
s_utf8_valid (const uint8_t *s, size_t len)
{
    size_t i = 0;
    while (i < len) {
        uint8_t c = s[i];
        size_t n;
        uint32_t cp;
        if (c < 0x80) {
            i++;
            continue;
        } else if (c >= 0xc2 && c <= 0xdf)
            n = 1, cp = c & 0x1f;
        else if (c >= 0xe0 && c <= 0xef)
            n = 2, cp = c & 0x0f;
        else if (c >= 0xf0 && c <= 0xf4)
            n = 3, cp = c & 0x07;
        else
            return false;
        if (len - i - 1 < n)
            return false;
        for (size_t k = 1; k <= n; k++) {
            if ((s[i + k] & 0xc0) != 0x80)
                return false;
            cp = cp << 6 | (s[i + k] & 0x3f);
        }
        if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
            (cp >= 0xd800 && cp <= 0xdfff))
            return false;
        i += n + 1;
    }
    return true;
}

/* ---- generic validation ---------------------------------------------------- */

/* Takes len payload bytes after a str/bin header. */
static bool
s_payload (wd_reader_t *r, const uint8_t *at, uint64_t len, const uint8_t **out)
{
    if ((uint64_t)(r->end - r->pos) < len)
        return s_fail (r, WD_ERR_TRUNCATED, at);
    *out = r->pos;
    r->pos += len;
    return true;
}

static bool
s_skip_value (wd_reader_t *r, unsigned depth, size_t max_field)
{
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_header (r, &h))
        return false;
    const uint8_t *payload;
    switch (h.kind) {
        case H_NIL:
        case H_BOOL:
        case H_UINT:
        case H_INT:
            return true;
        case H_STR:
            if (h.u > max_field)
                return s_fail (r, WD_ERR_OVERSIZE, at);
            if (!s_payload (r, at, h.u, &payload))
                return false;
            if (!s_utf8_valid (payload, h.u))
                return s_fail (r, WD_ERR_BAD_UTF8, at);
            return true;
        case H_BIN:
            if (h.u > max_field)
                return s_fail (r, WD_ERR_OVERSIZE, at);
            return s_payload (r, at, h.u, &payload);
        case H_ARRAY:
        case H_MAP:
            break;
    }
    if (depth >= WD_CODEC_MAX_DEPTH)
        return s_fail (r, WD_ERR_TOO_DEEP, at);
    if (h.u > max_field)
        return s_fail (r, WD_ERR_OVERSIZE, at);
    /* Each element takes at least one byte: a count the input cannot hold
       is rejected before any work is done for it. */
    uint64_t min_bytes = h.kind == H_MAP ? 2 * h.u : h.u;
    if ((uint64_t)(r->end - r->pos) < min_bytes)
        return s_fail (r, WD_ERR_TRUNCATED, at);

    const uint8_t *prev_key = NULL;
    uint64_t prev_len = 0;
    for (uint64_t i = 0; i < h.u; i++) {
        if (h.kind == H_MAP) {
            const uint8_t *key_at = r->pos;
            s_header_t k;
            if (!s_header (r, &k))
                return false;
            if (k.kind != H_STR)
                return s_fail (r, WD_ERR_KEY_TYPE, key_at);
            if (k.u > max_field)
                return s_fail (r, WD_ERR_OVERSIZE, key_at);
            const uint8_t *key;
            if (!s_payload (r, key_at, k.u, &key))
                return false;
            if (!s_utf8_valid (key, k.u))
                return s_fail (r, WD_ERR_BAD_UTF8, key_at);
            if (prev_key) {
                int c = s_key_cmp (prev_key, prev_len, key, k.u);
                if (c == 0)
                    return s_fail (r, WD_ERR_KEY_DUPLICATE, key_at);
                if (c > 0)
                    return s_fail (r, WD_ERR_KEYS_UNSORTED, key_at);
            }
            prev_key = key;
            prev_len = k.u;
        }
        if (!s_skip_value (r, depth + 1, max_field))
            return false;
    }
    return true;
}

wd_err_t
wd_codec_check (const void *buf, size_t len, size_t max_field, size_t *offset)
{
    wd_reader_t r;
    wd_reader_init (&r, buf, len);
    if (s_skip_value (&r, 0, max_field) && r.pos != r.end)
        s_fail (&r, WD_ERR_TRAILING, r.pos);
    if (offset)
        *offset = r.err_offset;
    return r.err;
}

/* ---- schema reader --------------------------------------------------------- */

void
wd_reader_init (wd_reader_t *r, const void *buf, size_t len)
{
    /* An empty body is often NULL (wd_chan_msg_t), and NULL + 0 is
       undefined: read an empty buffer instead. */
    static const uint8_t empty[1];
    if (!buf) {
        assert (len == 0);
        buf = empty;
    }
    memset (r, 0, sizeof *r);
    r->start = buf;
    r->pos = buf;
    r->end = r->start + len;
}

wd_err_t
wd_reader_finish (wd_reader_t *r)
{
    if (r->err == WD_OK) {
        assert (r->depth == 0 && "container not left with wd_read_end");
        if (r->pos != r->end)
            s_fail (r, WD_ERR_TRAILING, r->pos);
    }
    return r->err;
}

size_t
wd_reader_error_offset (const wd_reader_t *r)
{
    return r->err == WD_OK ? 0 : r->err_offset;
}

/* Called before reading any value: counts it against an enclosing array. A
   map value needs no accounting: wd_read_key counted the entry. A decoder
   that reads a fixed number of elements from an array the input made shorter
   gets WD_ERR_BAD_LENGTH: the array's length is input, not our API's use. */
static bool
s_reader_value (wd_reader_t *r)
{
    if (r->depth > 0 && !r->stack[r->depth - 1].is_map) {
        if (r->stack[r->depth - 1].remaining == 0)
            return s_fail (r, WD_ERR_BAD_LENGTH, r->pos);
        r->stack[r->depth - 1].remaining--;
    }
    return true;
}

/* Reads a header of the wanted kind. */
static bool
s_expect (wd_reader_t *r, s_kind_t kind, s_header_t *h)
{
    if (r->err != WD_OK)
        return false;
    const uint8_t *at = r->pos;
    if (!s_reader_value (r) || !s_header (r, h))
        return false;
    if (h->kind != kind && !(kind == H_UINT && h->kind == H_INT) &&
        !(kind == H_INT && h->kind == H_UINT)) {
        r->pos = at;
        return s_fail (r, WD_ERR_WRONG_TYPE, at);
    }
    return true;
}

static bool
s_enter (wd_reader_t *r, s_kind_t kind, size_t *count)
{
    *count = 0;
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_expect (r, kind, &h))
        return false;
    if (r->depth >= WD_CODEC_MAX_DEPTH)
        return s_fail (r, WD_ERR_TOO_DEEP, at);
    uint64_t min_bytes = kind == H_MAP ? 2 * h.u : h.u;
    if ((uint64_t)(r->end - r->pos) < min_bytes)
        return s_fail (r, WD_ERR_TRUNCATED, at);
    __typeof__ (r->stack[0]) *top = &r->stack[r->depth++];
    memset (top, 0, sizeof *top);
    top->remaining = h.u;
    top->is_map = kind == H_MAP;
    *count = (size_t)h.u;
    return true;
}

bool
wd_read_map (wd_reader_t *r, size_t *count)
{
    return s_enter (r, H_MAP, count);
}

bool
wd_read_array (wd_reader_t *r, size_t *count)
{
    return s_enter (r, H_ARRAY, count);
}

bool
wd_read_end (wd_reader_t *r)
{
    if (r->err != WD_OK)
        return false;
    assert (r->depth > 0);
    __typeof__ (r->stack[0]) *top = &r->stack[r->depth - 1];
    if (top->remaining > 0)
        return s_fail (r, top->is_map ? WD_ERR_UNKNOWN_KEY : WD_ERR_BAD_LENGTH, r->pos);
    r->depth--;
    return true;
}

/* Looks at the next key of the current map. Returns 1 and consumes it when it
   equals key, 0 when key is absent (no error), -1 on an error. */
static int
s_key (wd_reader_t *r, const char *key)
{
    if (r->err != WD_OK)
        return -1;
    assert (r->depth > 0 && r->stack[r->depth - 1].is_map);
    __typeof__ (r->stack[0]) *top = &r->stack[r->depth - 1];
    if (top->remaining == 0)
        return 0;
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_header (r, &h))
        return -1;
    if (h.kind != H_STR)
        return s_fail (r, WD_ERR_KEY_TYPE, at), -1;
    const uint8_t *found;
    if (!s_payload (r, at, h.u, &found))
        return -1;
    if (top->last_key) {
        int order = s_key_cmp (top->last_key, top->last_key_len, found, h.u);
        if (order == 0)
            return s_fail (r, WD_ERR_KEY_DUPLICATE, at), -1;
        if (order > 0)
            return s_fail (r, WD_ERR_KEYS_UNSORTED, at), -1;
    }
    int c = s_key_cmp (found, h.u, (const uint8_t *)key, strlen (key));
    if (c < 0)
        return s_fail (r, WD_ERR_UNKNOWN_KEY, at), -1;
    if (c > 0) {
        r->pos = at; /* leave the larger key for a later call */
        return 0;
    }
    top->last_key = found;
    top->last_key_len = h.u;
    top->remaining--;
    return 1;
}

bool
wd_read_key (wd_reader_t *r, const char *key)
{
    int found = s_key (r, key);
    if (found == 0)
        return s_fail (r, WD_ERR_MISSING_KEY, r->pos);
    return found == 1;
}

bool
wd_read_key_opt (wd_reader_t *r, const char *key)
{
    return s_key (r, key) == 1;
}

bool
wd_read_uint (wd_reader_t *r, uint64_t *value, uint64_t max)
{
    *value = 0;
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_expect (r, H_UINT, &h))
        return false;
    if (h.kind != H_UINT || h.u > max)
        return s_fail (r, WD_ERR_OUT_OF_RANGE, at);
    *value = h.u;
    return true;
}

bool
wd_read_int (wd_reader_t *r, int64_t *value, int64_t min, int64_t max)
{
    *value = 0;
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_expect (r, H_INT, &h))
        return false;
    if (h.kind == H_UINT) {
        if (max < 0 || h.u > (uint64_t)max)
            return s_fail (r, WD_ERR_OUT_OF_RANGE, at);
        h.i = (int64_t)h.u;
    }
    if (h.i < min || h.i > max)
        return s_fail (r, WD_ERR_OUT_OF_RANGE, at);
    *value = h.i;
    return true;
}

bool
wd_read_bool (wd_reader_t *r, bool *value)
{
    *value = false;
    s_header_t h;
    if (!s_expect (r, H_BOOL, &h))
        return false;
    *value = h.u != 0;
    return true;
}

/* Reads a str or bin of at most max bytes. */
static bool
s_read_bytes (wd_reader_t *r, s_kind_t kind, const uint8_t **data, size_t *len, size_t max)
{
    *data = NULL;
    *len = 0;
    const uint8_t *at = r->pos;
    s_header_t h;
    if (!s_expect (r, kind, &h))
        return false;
    if (h.u > max)
        return s_fail (r, WD_ERR_OVERSIZE, at);
    const uint8_t *payload;
    if (!s_payload (r, at, h.u, &payload))
        return false;
    if (kind == H_STR && !s_utf8_valid (payload, h.u))
        return s_fail (r, WD_ERR_BAD_UTF8, at);
    *data = payload;
    *len = (size_t)h.u;
    return true;
}

bool
wd_read_str (wd_reader_t *r, const char **str, size_t *len, size_t max)
{
    return s_read_bytes (r, H_STR, (const uint8_t **)str, len, max);
}

bool
wd_read_cstr (wd_reader_t *r, char *buf, size_t size)
{
    assert (size > 0);
    buf[0] = '\0';
    const uint8_t *at = r->pos;
    const uint8_t *data;
    size_t len;
    if (!s_read_bytes (r, H_STR, &data, &len, size - 1))
        return false;
    if (memchr (data, 0, len))
        return s_fail (r, WD_ERR_BAD_VALUE, at);
    memcpy (buf, data, len);
    buf[len] = '\0';
    return true;
}

bool
wd_read_bin (wd_reader_t *r, const uint8_t **data, size_t *len, size_t max)
{
    return s_read_bytes (r, H_BIN, data, len, max);
}

bool
wd_read_bin_fixed (wd_reader_t *r, uint8_t *out, size_t len)
{
    const uint8_t *at = r->pos;
    const uint8_t *data;
    size_t got;
    if (!s_read_bytes (r, H_BIN, &data, &got, SIZE_MAX))
        return false;
    if (got != len)
        return s_fail (r, WD_ERR_BAD_LENGTH, at);
    memcpy (out, data, len);
    return true;
}

bool
wd_read_raw (wd_reader_t *r, const uint8_t **value, size_t *len)
{
    *value = NULL;
    *len = 0;
    if (r->err != WD_OK)
        return false;
    if (!s_reader_value (r))
        return false;
    const uint8_t *at = r->pos;
    if (!s_skip_value (r, r->depth, SIZE_MAX))
        return false;
    *value = at;
    *len = (size_t)(r->pos - at);
    return true;
}
