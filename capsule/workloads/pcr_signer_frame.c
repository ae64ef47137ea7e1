/*
 * pcr_signer_frame: the intake framing decoder. Bytes accumulate in one
 * buffer; the decoder looks for a magic, checks the header's own check
 * value, waits for the declared length, and only then looks at the data.
 * A digest mismatch is told apart from a cut-short frame by looking for a
 * valid header inside the declared data: a sender that restarted mid-file
 * leaves exactly that, and decoding resumes at the new header so the next
 * file is not lost as well.
 */
#include "pcr_signer_frame.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_err.h"
#include "capsule_verify.h"
#include "wd_bytes.h"

struct capsule_pcr_frame_dec {
    size_t max_data;
    bool has_last;
    uint64_t last_seq;
    capsule_pcr_frame_fn *fn;
    void *arg;
    uint8_t *buf;
    size_t len, cap;
    size_t scanned; /* headers looked for up to here inside the current frame */
    size_t noise;   /* bytes skipped since the last report */
};

capsule_pcr_frame_dec_t *
capsule_pcr_frame_dec_new (size_t max_data, bool has_last, uint64_t last_seq,
                           capsule_pcr_frame_fn *fn, void *arg)
{
    assert (fn && max_data <= CAPSULE_PCR_DATA_MAX);
    capsule_pcr_frame_dec_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->max_data = max_data;
    self->has_last = has_last;
    self->last_seq = last_seq;
    self->fn = fn;
    self->arg = arg;
    return self;
}

void
capsule_pcr_frame_dec_destroy (capsule_pcr_frame_dec_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        free ((*self_p)->buf);
        free (*self_p);
        *self_p = NULL;
    }
}

size_t
capsule_pcr_frame_dec_pending (const capsule_pcr_frame_dec_t *self)
{
    return self->len;
}

bool
capsule_pcr_name_valid (const char *name, size_t len)
{
    if (len == 0 || len > CAPSULE_PCR_FRAME_NAME_MAX)
        return false;
    if ((len == 1 && name[0] == '.') || (len == 2 && name[0] == '.' && name[1] == '.'))
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f || c == '/' || c == '\\')
            return false;
    }
    return capsule_utf8_valid ((const uint8_t *)name, len);
}

static void
s_header_check (uint8_t out[4], const uint8_t *hdr)
{
    uint8_t h[32];
    crypto_hash_sha256 (h, hdr, 51);
    memcpy (out, h, 4);
}

uint8_t *
capsule_pcr_frame_encode (uint64_t seq, const char *name, const uint8_t *data, size_t data_len,
                          size_t *out_len)
{
    size_t name_len = strlen (name);
    if (name_len == 0 || name_len > CAPSULE_PCR_FRAME_NAME_MAX || data_len > UINT32_MAX)
        return NULL;
    size_t total = CAPSULE_PCR_FRAME_HEADER + name_len + data_len;
    uint8_t *out = malloc (total);
    if (!out)
        abort ();
    memcpy (out, CAPSULE_PCR_FRAME_MAGIC, 4);
    out[4] = CAPSULE_PCR_FRAME_VERSION;
    wd_put_be (out + 5, seq, 8);
    wd_put_be (out + 13, name_len, 2);
    wd_put_be (out + 15, data_len, 4);
    crypto_hash_sha256 (out + 19, data, data_len);
    s_header_check (out + 51, out);
    memcpy (out + 55, name, name_len);
    if (data_len)
        memcpy (out + 55 + name_len, data, data_len);
    *out_len = total;
    return out;
}

static void
s_report (capsule_pcr_frame_dec_t *self, int code, bool has_seq, uint64_t seq, const char *fmt, ...)
    __attribute__ ((format (printf, 5, 6)));
static void
s_report (capsule_pcr_frame_dec_t *self, int code, bool has_seq, uint64_t seq, const char *fmt, ...)
{
    char detail[160];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, sizeof detail, fmt, ap);
    va_end (ap);
    capsule_pcr_frame_event_t ev = {
        .code = code, .has_seq = has_seq, .seq = seq, .detail = detail
    };
    self->fn (self->arg, &ev);
}

static void
s_drop (capsule_pcr_frame_dec_t *self, size_t n)
{
    assert (n <= self->len);
    memmove (self->buf, self->buf + n, self->len - n);
    self->len -= n;
    self->scanned = 0;
}

/* True when a header with a valid check starts at p (at least 55 bytes). */
static bool
s_header_valid (const uint8_t *p)
{
    uint8_t check[4];
    if (memcmp (p, CAPSULE_PCR_FRAME_MAGIC, 4) != 0 || p[4] != CAPSULE_PCR_FRAME_VERSION)
        return false;
    s_header_check (check, p);
    return memcmp (check, p + 51, 4) == 0;
}

/* The offset of the first valid header in buf[from..len), or 0. */
static size_t
s_find_header (const capsule_pcr_frame_dec_t *self, size_t from)
{
    for (size_t i = from; i + CAPSULE_PCR_FRAME_HEADER <= self->len; i++)
        if (self->buf[i] == 'W' && s_header_valid (self->buf + i))
            return i;
    return 0;
}

/* Decodes what the buffer holds. With at_end, a partial frame is reported
   and dropped instead of waited for. Returns when nothing more can be
   done. */
static void
s_decode (capsule_pcr_frame_dec_t *self, bool at_end)
{
    for (;;) {
        /* find a magic */
        size_t skip = 0;
        while (skip < self->len) {
            size_t rest = self->len - skip;
            size_t cmp = rest < 4 ? rest : 4;
            if (memcmp (self->buf + skip, CAPSULE_PCR_FRAME_MAGIC, cmp) == 0)
                break;
            skip++;
        }
        if (at_end && skip < self->len && self->len - skip < 4)
            skip = self->len; /* a lone partial magic at the end is noise */
        if (skip) {
            self->noise += skip;
            s_drop (self, skip);
        }
        /* one report for a run of noise, once a magic (or the end) ends it */
        if (self->noise && (self->len >= 4 || at_end)) {
            s_report (self, CAPSULE_ERR_FRAME_NOISE, false, 0, "%zu bytes skipped", self->noise);
            self->noise = 0;
        }
        if (self->len < CAPSULE_PCR_FRAME_HEADER) {
            if (at_end && self->len) {
                s_report (self, CAPSULE_ERR_FRAME_TRUNCATED, false, 0,
                          "stream ended inside a frame header (%zu bytes)", self->len);
                self->len = 0;
            }
            return;
        }
        const uint8_t *h = self->buf;
        if (!s_header_valid (h)) {
            s_report (self, CAPSULE_ERR_FRAME_HEADER, false, 0,
                      h[4] != CAPSULE_PCR_FRAME_VERSION ? "version %u"
                                                        : "header check (version %u)",
                      h[4]);
            s_drop (self, 1);
            continue;
        }
        uint64_t seq = wd_get_be (h + 5, 8);
        size_t name_len = (size_t)wd_get_be (h + 13, 2);
        size_t data_len = (size_t)wd_get_be (h + 15, 4);
        if (name_len == 0 || name_len > CAPSULE_PCR_FRAME_NAME_MAX) {
            s_report (self, CAPSULE_ERR_FRAME_NAME, true, seq, "name length %zu", name_len);
            s_drop (self, CAPSULE_PCR_FRAME_HEADER);
            continue;
        }
        if (data_len > self->max_data) {
            s_report (self, CAPSULE_ERR_FRAME_OVERSIZE, true, seq, "%zu bytes, limit %zu", data_len,
                      self->max_data);
            s_drop (self, CAPSULE_PCR_FRAME_HEADER);
            continue;
        }
        size_t total = CAPSULE_PCR_FRAME_HEADER + name_len + data_len;
        if (self->len < total && !at_end) {
            /* a header that started inside this frame's body means the
               sender gave up on it; don't wait for bytes that never come */
            size_t next = s_find_header (self, self->scanned > 1 ? self->scanned : 1);
            if (!next) {
                self->scanned = self->len - CAPSULE_PCR_FRAME_HEADER + 1;
                return;
            }
            s_report (self, CAPSULE_ERR_FRAME_TRUNCATED, true, seq,
                      "a new frame starts after %zu of %zu bytes", next, total);
            s_drop (self, next);
            continue;
        }
        if (self->len < total) {
            size_t next = s_find_header (self, 1);
            s_report (self, CAPSULE_ERR_FRAME_TRUNCATED, true, seq, "%zu of %zu bytes",
                      next ? next : self->len, total);
            s_drop (self, next ? next : self->len);
            continue;
        }
        uint8_t sha[32];
        const uint8_t *data = h + CAPSULE_PCR_FRAME_HEADER + name_len;
        crypto_hash_sha256 (sha, data, data_len);
        if (sodium_memcmp (sha, h + 19, 32) != 0) {
            size_t next = s_find_header (self, 1);
            if (next && next < total) {
                s_report (self, CAPSULE_ERR_FRAME_TRUNCATED, true, seq,
                          "a new frame starts after %zu of %zu bytes", next, total);
                s_drop (self, next);
            } else {
                s_report (self, CAPSULE_ERR_FRAME_DIGEST, true, seq, "%zu data bytes", data_len);
                s_drop (self, total);
            }
            continue;
        }
        char name[CAPSULE_PCR_FRAME_NAME_MAX + 1];
        memcpy (name, h + CAPSULE_PCR_FRAME_HEADER, name_len);
        name[name_len] = '\0';
        if (!capsule_pcr_name_valid (name, name_len)) {
            s_report (self, CAPSULE_ERR_FRAME_NAME, true, seq, "name not allowed");
            s_drop (self, total);
            continue;
        }
        if (self->has_last && seq <= self->last_seq) {
            s_report (self, CAPSULE_ERR_FRAME_DUPLICATE, true, seq, "last accepted %llu",
                      (unsigned long long)self->last_seq);
            s_drop (self, total);
            continue;
        }
        if (self->has_last && seq > self->last_seq + 1) {
            capsule_pcr_frame_event_t gap = { .code = CAPSULE_ERR_FRAME_GAP,
                                              .has_seq = true,
                                              .seq = seq,
                                              .gap_first = self->last_seq + 1,
                                              .gap_last = seq - 1 };
            char detail[96];
            snprintf (detail, sizeof detail, "missing %llu..%llu",
                      (unsigned long long)gap.gap_first, (unsigned long long)gap.gap_last);
            gap.detail = detail;
            self->fn (self->arg, &gap);
        }
        self->has_last = true;
        self->last_seq = seq;
        capsule_pcr_frame_event_t ev = { .code = 0,
                                         .has_seq = true,
                                         .seq = seq,
                                         .name = name,
                                         .data = data,
                                         .data_len = data_len,
                                         .detail = "" };
        memcpy (ev.sha256, sha, 32);
        self->fn (self->arg, &ev);
        s_drop (self, total);
    }
}

void
capsule_pcr_frame_dec_push (capsule_pcr_frame_dec_t *self, const uint8_t *buf, size_t len)
{
    size_t limit = CAPSULE_PCR_FRAME_HEADER + CAPSULE_PCR_FRAME_NAME_MAX + self->max_data;
    while (len) {
        /* never hold more than one largest frame: decode between chunks */
        size_t room = limit - self->len;
        size_t n = len < room ? len : room;
        if (self->len + n > self->cap) {
            size_t cap = self->cap ? self->cap : 4096;
            while (cap < self->len + n)
                cap *= 2;
            if (cap > limit)
                cap = limit;
            uint8_t *nb = realloc (self->buf, cap);
            if (!nb)
                abort ();
            self->buf = nb;
            self->cap = cap;
        }
        memcpy (self->buf + self->len, buf, n);
        self->len += n;
        buf += n;
        len -= n;
        s_decode (self, false);
        if (self->len == limit) /* full and still undecodable: cannot be */
            s_decode (self, true);
    }
}

void
capsule_pcr_frame_dec_flush (capsule_pcr_frame_dec_t *self)
{
    s_decode (self, true);
}
