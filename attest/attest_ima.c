/*
 * attest_ima: streaming parser and PCR replay for Linux IMA measurement
 * lists (see attest_ima.h; formats in docs/PROTOCOL.md "Measurement log and
 * IMA").
 *
 * Both forms go through one path: the binary parser points into the record,
 * the ASCII parser rebuilds the template data the kernel hashed from the
 * line's fields (into a scratch buffer), and then the same check-and-replay
 * step hashes the template data, compares the listed template hash and
 * extends the registers. Input arrives in chunks of any size: an entry that
 * straddles two chunks is carried over in `pending`, which never holds more
 * than one entry (the limits in attest_ima.h bound it), so memory stays
 * constant whatever the list's length.
 *
 * Hashes come from OpenSSL's libcrypto (libsodium has no SHA-1 or SHA-384);
 * the digest implementations are fetched once and each parser reuses one
 * context, so hashing a short template costs no allocation.
 */
#include "attest_ima.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Binary record header: pcr u32, SHA-1 template hash, template name length. */
#define S_BIN_HEAD     28
#define S_OLD_NAME_LEN (ATTEST_IMA_OLD_NAME_MAX + 1) /* `ima` names are hashed padded to this */
#define S_CHUNK        65536

static const char *const s_template_names[] = { "ima", "ima-ng", "ima-sig", "ima-buf" };
static const char *const s_hash_names[] = { "sha1", "sha256", "sha384", "sha512" };
static const size_t s_hash_lens[] = { 20, 32, 48, 64 };

struct attest_ima_parser {
    attest_ima_state_t state;
    int err; /* sticky: a rejection or a callback's stop */
    char why[ATTEST_IMA_WHY_MAX];
    uint8_t *pending; /* the start of an entry that the last feed cut */
    size_t pending_len;
    size_t pending_cap;
    uint8_t *scratch; /* template data rebuilt from ASCII or the `ima` template */
    /* One context per algorithm: re-initialising a context with the digest
       it already holds reuses its state, while switching digests frees and
       allocates OpenSSL's state on every entry. */
    EVP_MD_CTX *ctx[4];
};

/* ---- hashes --------------------------------------------------------------- */

static EVP_MD *s_md[4];
static pthread_once_t s_md_once = PTHREAD_ONCE_INIT;

static void
s_md_init (void)
{
    static const char *const fetch_names[] = { "SHA1", "SHA256", "SHA384", "SHA512" };
    for (int i = 0; i < 4; i++) {
        s_md[i] = EVP_MD_fetch (NULL, fetch_names[i], NULL);
        if (!s_md[i])
            abort (); /* libcrypto without its default provider */
    }
}

static const EVP_MD *
s_md_get (attest_ima_hash_t alg)
{
    assert ((unsigned)alg < 4);
    pthread_once (&s_md_once, s_md_init);
    return s_md[alg];
}

size_t
attest_ima_hash_len (attest_ima_hash_t alg)
{
    assert ((unsigned)alg < 4);
    return s_hash_lens[alg];
}

const char *
attest_ima_hash_name (attest_ima_hash_t alg)
{
    assert ((unsigned)alg < 4);
    return s_hash_names[alg];
}

void
attest_ima_digest (attest_ima_hash_t alg, const void *data, size_t len, uint8_t *out)
{
    unsigned out_len = 0;
    if (!EVP_Digest (data, len, out, &out_len, s_md_get (alg), NULL))
        abort ();
    assert (out_len == s_hash_lens[alg]);
}

/* One hash with the parser's reusable context for alg. */
static void
s_hash (attest_ima_parser_t *self, attest_ima_hash_t alg, const void *data, size_t len,
        uint8_t *out)
{
    unsigned out_len = 0;
    EVP_MD_CTX *ctx = self->ctx[alg];
    if (!EVP_DigestInit_ex2 (ctx, s_md_get (alg), NULL) || !EVP_DigestUpdate (ctx, data, len) ||
        !EVP_DigestFinal_ex (ctx, out, &out_len))
        abort ();
}

/* ---- small helpers --------------------------------------------------------- */

static uint32_t
s_le32 (const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
s_put_le32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static bool
s_template_lookup (const void *name, size_t len, attest_ima_template_t *out)
{
    for (unsigned i = 0; i < 4; i++)
        if (strlen (s_template_names[i]) == len && memcmp (s_template_names[i], name, len) == 0) {
            *out = (attest_ima_template_t)i;
            return true;
        }
    return false;
}

static bool
s_hash_lookup (const void *name, size_t len, attest_ima_hash_t *out)
{
    for (unsigned i = 0; i < 4; i++)
        if (strlen (s_hash_names[i]) == len && memcmp (s_hash_names[i], name, len) == 0) {
            *out = (attest_ima_hash_t)i;
            return true;
        }
    return false;
}

/* Hex digit values, -1 for anything else: decoding ASCII lists is mostly
   this, so it is a table rather than a chain of comparisons. */
static const int8_t s_hex_table[256] = {
    ['0'] = 0 + 1,  ['1'] = 1 + 1,  ['2'] = 2 + 1,  ['3'] = 3 + 1,  ['4'] = 4 + 1,  ['5'] = 5 + 1,
    ['6'] = 6 + 1,  ['7'] = 7 + 1,  ['8'] = 8 + 1,  ['9'] = 9 + 1,  ['a'] = 10 + 1, ['b'] = 11 + 1,
    ['c'] = 12 + 1, ['d'] = 13 + 1, ['e'] = 14 + 1, ['f'] = 15 + 1, ['A'] = 10 + 1, ['B'] = 11 + 1,
    ['C'] = 12 + 1, ['D'] = 13 + 1, ['E'] = 14 + 1, ['F'] = 15 + 1,
};

/* Decodes hex_len hex digits (an even number) into out; false on a bad
   digit or an odd count. The table holds value + 1 so that 0 means "not a
   digit". */
static bool
s_hex_decode (uint8_t *out, const char *hex, size_t hex_len)
{
    if (hex_len % 2)
        return false;
    int bad = 0;
    for (size_t i = 0; i < hex_len; i += 2) {
        int hi = s_hex_table[(unsigned char)hex[i]] - 1;
        int lo = s_hex_table[(unsigned char)hex[i + 1]] - 1;
        bad |= hi | lo; /* negative when either is not a digit */
        *out++ = (uint8_t)((unsigned)hi << 4 | (unsigned)lo);
    }
    return bad >= 0;
}

static bool
s_is_hex (const char *hex, size_t hex_len)
{
    int bad = 0;
    for (size_t i = 0; i < hex_len; i++)
        bad |= s_hex_table[(unsigned char)hex[i]] - 1;
    return bad >= 0 && hex_len % 2 == 0;
}

static bool
s_all_zero (const uint8_t *p, size_t len)
{
    uint8_t acc = 0;
    for (size_t i = 0; i < len; i++)
        acc |= p[i];
    return acc == 0;
}

/* Records a rejection of the entry at the parser's position. */
static int
s_fail (attest_ima_parser_t *self, int code, const char *fmt, ...)
    __attribute__ ((format (printf, 3, 4)));
static int
s_fail (attest_ima_parser_t *self, int code, const char *fmt, ...)
{
    char detail[ATTEST_IMA_WHY_MAX - 64]; /* room for the position prefix */
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (detail, sizeof detail, fmt, ap);
    va_end (ap);
    if (self->state.format == ATTEST_IMA_ASCII)
        snprintf (self->why, sizeof self->why, "line %llu: %s",
                  (unsigned long long)self->state.entries + 1, detail);
    else
        snprintf (self->why, sizeof self->why, "entry %llu at byte %llu: %s",
                  (unsigned long long)self->state.entries, (unsigned long long)self->state.offset,
                  detail);
    self->err = code;
    return code;
}

/* ---- state ---------------------------------------------------------------- */

void
attest_ima_state_init (attest_ima_state_t *state, attest_ima_format_t format, uint32_t pcr,
                       uint32_t flags)
{
    assert (state);
    assert (format == ATTEST_IMA_ASCII || format == ATTEST_IMA_BINARY);
    assert (pcr < ATTEST_IMA_PCR_COUNT);
    assert ((flags & ~(uint32_t)ATTEST_IMA_FLAGS_ALL) == 0);
    memset (state, 0, sizeof *state);
    state->format = (uint8_t)format;
    state->pcr = pcr;
    state->flags = flags;
}

void
attest_ima_state_write (wd_writer_t *w, const attest_ima_state_t *state)
{
    wd_writer_map (w, 7);
    wd_writer_key (w, "entries");
    wd_writer_uint (w, state->entries);
    wd_writer_key (w, "flags");
    wd_writer_uint (w, state->flags);
    wd_writer_key (w, "format");
    wd_writer_uint (w, state->format);
    wd_writer_key (w, "offset");
    wd_writer_uint (w, state->offset);
    wd_writer_key (w, "pcr");
    wd_writer_uint (w, state->pcr);
    wd_writer_key (w, "sha1");
    wd_writer_bin (w, state->sha1, sizeof state->sha1);
    wd_writer_key (w, "sha256");
    wd_writer_bin (w, state->sha256, sizeof state->sha256);
}

bool
attest_ima_state_read (wd_reader_t *r, attest_ima_state_t *state)
{
    size_t count;
    uint64_t entries = 0, flags = 0, format = 0, offset = 0, pcr = 0;
    memset (state, 0, sizeof *state);
    wd_read_map (r, &count);
    wd_read_key (r, "entries");
    wd_read_uint (r, &entries, UINT64_MAX);
    wd_read_key (r, "flags");
    wd_read_uint (r, &flags, ATTEST_IMA_FLAGS_ALL);
    wd_read_key (r, "format");
    wd_read_uint (r, &format, ATTEST_IMA_BINARY);
    wd_read_key (r, "offset");
    wd_read_uint (r, &offset, UINT64_MAX);
    wd_read_key (r, "pcr");
    wd_read_uint (r, &pcr, ATTEST_IMA_PCR_COUNT - 1);
    wd_read_key (r, "sha1");
    wd_read_bin_fixed (r, state->sha1, sizeof state->sha1);
    wd_read_key (r, "sha256");
    wd_read_bin_fixed (r, state->sha256, sizeof state->sha256);
    bool ok = wd_read_end (r);
    state->entries = entries;
    state->flags = (uint32_t)flags;
    state->format = (uint8_t)format;
    state->offset = offset;
    state->pcr = (uint32_t)pcr;
    return ok;
}

static bool
s_state_valid (const attest_ima_state_t *s)
{
    return (s->format == ATTEST_IMA_ASCII || s->format == ATTEST_IMA_BINARY) &&
           s->pcr < ATTEST_IMA_PCR_COUNT && (s->flags & ~(uint32_t)ATTEST_IMA_FLAGS_ALL) == 0 &&
           (s->entries > 0 || s->offset == 0) && s->offset >= s->entries;
}

/* ---- parser life ---------------------------------------------------------- */

attest_ima_parser_t *
attest_ima_parser_new (const attest_ima_state_t *start)
{
    assert (start);
    if (!s_state_valid (start))
        return NULL;
    attest_ima_parser_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->state = *start;
    /* the ASCII form rebuilds at most one template's data; the `ima`
       template's padded form is far smaller */
    self->scratch = malloc (ATTEST_IMA_DATA_MAX);
    bool contexts = true;
    for (int i = 0; i < 4; i++)
        contexts = (self->ctx[i] = EVP_MD_CTX_new ()) && contexts;
    if (!self->scratch || !contexts) {
        attest_ima_parser_destroy (&self);
        return NULL;
    }
    return self;
}

void
attest_ima_parser_destroy (attest_ima_parser_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_ima_parser_t *self = *self_p;
        for (int i = 0; i < 4; i++)
            EVP_MD_CTX_free (self->ctx[i]);
        free (self->scratch);
        free (self->pending);
        free (self);
        *self_p = NULL;
    }
}

const attest_ima_state_t *
attest_ima_parser_state (const attest_ima_parser_t *self)
{
    assert (self);
    return &self->state;
}

const char *
attest_ima_parser_why (const attest_ima_parser_t *self)
{
    assert (self);
    return self->why;
}

/* ---- check and replay ------------------------------------------------------ */

void
attest_ima_extend_values (const attest_ima_entry_t *e, uint32_t flags, uint8_t sha1_value[20],
                          uint8_t sha256_value[32])
{
    assert (e);
    if (e->violation) {
        memset (sha1_value, 0xff, 20);
        memset (sha256_value, 0xff, 32);
        return;
    }
    memcpy (sha1_value, e->sha1, 20);
    if (flags & ATTEST_IMA_SHA256_PADDED_SHA1) {
        memset (sha256_value, 0, 32);
        memcpy (sha256_value, e->sha1, 20);
    } else
        memcpy (sha256_value, e->sha256, 32);
}

static void
s_extend (attest_ima_parser_t *self, const uint8_t sha1_value[20], const uint8_t sha256_value[32])
{
    uint8_t buf[64];
    memcpy (buf, self->state.sha1, 20);
    memcpy (buf + 20, sha1_value, 20);
    s_hash (self, ATTEST_IMA_SHA1, buf, 40, self->state.sha1);
    memcpy (buf, self->state.sha256, 32);
    memcpy (buf + 32, sha256_value, 32);
    s_hash (self, ATTEST_IMA_SHA256, buf, 64, self->state.sha256);
}

/* Hashes the template data, checks the listed template hash, extends the
   registers, advances the state and calls back. */
static int
s_accept (attest_ima_parser_t *self, attest_ima_entry_t *e, attest_ima_entry_fn fn, void *arg)
{
    s_hash (self, ATTEST_IMA_SHA1, e->data, e->data_len, e->sha1);
    s_hash (self, ATTEST_IMA_SHA256, e->data, e->data_len, e->sha256);
    size_t th_len = attest_ima_hash_len (e->template_hash_alg);
    e->violation = s_all_zero (e->template_hash, th_len);
    if (!e->violation) {
        const uint8_t *expect = e->template_hash_alg == ATTEST_IMA_SHA1 ? e->sha1 : e->sha256;
        if (memcmp (expect, e->template_hash, th_len) != 0) {
            char listed[65], computed[65];
            for (size_t i = 0; i < 8; i++) {
                snprintf (listed + 2 * i, 3, "%02x", e->template_hash[i]);
                snprintf (computed + 2 * i, 3, "%02x", expect[i]);
            }
            return s_fail (self, ATTEST_ERR_TEMPLATE_HASH,
                           "template hash %s... but the template data hashes to %s... (%s)", listed,
                           computed, e->name);
        }
    }
    if (e->pcr == self->state.pcr) {
        uint8_t sha1_value[20], sha256_value[32];
        attest_ima_extend_values (e, self->state.flags, sha1_value, sha256_value);
        s_extend (self, sha1_value, sha256_value);
    }
    self->state.entries++;
    self->state.offset += e->size;
    if (fn) {
        int rc = fn (e, &self->state, arg);
        if (rc != 0) {
            self->err = rc;
            self->why[0] = '\0'; /* the callback's reason is its own */
            return rc;
        }
    }
    return WD_OK;
}

/* ---- template data ----------------------------------------------------------- */

/* Reads one length-prefixed field of the template data at *pos. */
static int
s_field (attest_ima_parser_t *self, const uint8_t *d, size_t dl, size_t *pos, const char *what,
         const uint8_t **f, size_t *flen)
{
    if (dl - *pos < 4)
        return s_fail (self, ATTEST_ERR_IMA_FIELD, "template data ends before field %s", what);
    uint32_t n = s_le32 (d + *pos);
    *pos += 4;
    if (n > dl - *pos)
        return s_fail (self, ATTEST_ERR_IMA_FIELD,
                       "field %s of %u bytes runs past the template data", what, n);
    *f = d + *pos;
    *flen = n;
    *pos += n;
    return WD_OK;
}

/* d-ng: "<algo>:" NUL digest. */
static int
s_digest_ng (attest_ima_parser_t *self, attest_ima_entry_t *e, const uint8_t *f, size_t flen)
{
    const uint8_t *colon = memchr (f, ':', flen < 16 ? flen : 16);
    if (!colon || (size_t)(colon - f) + 1 >= flen || colon[1] != '\0')
        return s_fail (self, ATTEST_ERR_IMA_FIELD, "field d-ng does not start with \"<algo>:\\0\"");
    size_t alg_len = (size_t)(colon - f);
    if (!s_hash_lookup (f, alg_len, &e->digest_alg))
        return s_fail (self, ATTEST_ERR_IMA_DIGEST_ALGO, "file digest algorithm \"%.*s\"",
                       (int)alg_len, (const char *)f);
    e->digest = colon + 2;
    e->digest_len = flen - alg_len - 2;
    if (e->digest_len != attest_ima_hash_len (e->digest_alg))
        return s_fail (self, ATTEST_ERR_IMA_DIGEST_LENGTH, "%s file digest of %zu bytes",
                       s_hash_names[e->digest_alg], e->digest_len);
    return WD_OK;
}

/* n-ng: the name and its NUL. */
static int
s_name_ng (attest_ima_parser_t *self, attest_ima_entry_t *e, const uint8_t *f, size_t flen)
{
    if (flen > ATTEST_IMA_NAME_MAX + 1)
        return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "event name of %zu bytes (limit %d)",
                       flen - 1, ATTEST_IMA_NAME_MAX);
    if (flen == 0 || f[flen - 1] != '\0' || memchr (f, '\0', flen - 1))
        return s_fail (self, ATTEST_ERR_IMA_FIELD, "field n-ng is not one NUL-terminated string");
    e->name = (const char *)f;
    e->name_len = flen - 1;
    return WD_OK;
}

/* The fields of the length-prefixed templates (all but `ima`). */
static int
s_parse_fields (attest_ima_parser_t *self, attest_ima_entry_t *e, const uint8_t *d, size_t dl)
{
    size_t pos = 0, flen;
    const uint8_t *f;
    int rc;
    e->data = d;
    e->data_len = dl;
    if ((rc = s_field (self, d, dl, &pos, "d-ng", &f, &flen)) ||
        (rc = s_digest_ng (self, e, f, flen)))
        return rc;
    if ((rc = s_field (self, d, dl, &pos, "n-ng", &f, &flen)) ||
        (rc = s_name_ng (self, e, f, flen)))
        return rc;
    if (e->template_id == ATTEST_IMA_TEMPLATE_IMA_SIG) {
        if ((rc = s_field (self, d, dl, &pos, "sig", &e->sig, &e->sig_len)))
            return rc;
    } else if (e->template_id == ATTEST_IMA_TEMPLATE_IMA_BUF) {
        if ((rc = s_field (self, d, dl, &pos, "buf", &e->buf, &e->buf_len)))
            return rc;
    }
    if (pos != dl)
        return s_fail (self, ATTEST_ERR_IMA_FIELD, "%zu bytes follow the last template field",
                       dl - pos);
    return WD_OK;
}

/* The `ima` template hashes its SHA-1 digest and the name padded with NULs
   to 256 bytes; builds that in scratch. */
static void
s_old_template_data (attest_ima_parser_t *self, attest_ima_entry_t *e, const uint8_t digest[20],
                     const void *name, size_t name_len)
{
    memcpy (self->scratch, digest, 20);
    memset (self->scratch + 20, 0, S_OLD_NAME_LEN);
    memcpy (self->scratch + 20, name, name_len);
    e->digest_alg = ATTEST_IMA_SHA1;
    e->digest = self->scratch;
    e->digest_len = 20;
    e->name = (const char *)self->scratch + 20;
    e->name_len = name_len;
    e->data = self->scratch;
    e->data_len = 20 + S_OLD_NAME_LEN;
}

/* ---- binary records -------------------------------------------------------- */

/* How many bytes the record at p needs: *complete when avail holds it all
   (*need is then its size), else *need is the next size worth waiting for. */
static int
s_binary_need (attest_ima_parser_t *self, const uint8_t *p, size_t avail, size_t *need,
               bool *complete)
{
    *complete = false;
    if (avail < S_BIN_HEAD) {
        *need = S_BIN_HEAD;
        return WD_OK;
    }
    uint32_t pcr = s_le32 (p);
    if (pcr >= ATTEST_IMA_PCR_COUNT)
        return s_fail (self, ATTEST_ERR_IMA_PCR_RANGE, "PCR %u (limit %d)", pcr,
                       ATTEST_IMA_PCR_COUNT - 1);
    uint32_t name_len = s_le32 (p + 24);
    if (name_len == 0 || name_len > ATTEST_IMA_TEMPLATE_NAME_MAX)
        return s_fail (self, ATTEST_ERR_IMA_TEMPLATE_NAME, "template name of %u bytes", name_len);
    size_t head = S_BIN_HEAD + name_len;
    if (avail < head + 4) {
        *need = head + 4;
        return WD_OK;
    }
    attest_ima_template_t id;
    if (!s_template_lookup (p + S_BIN_HEAD, name_len, &id))
        return s_fail (self, ATTEST_ERR_IMA_TEMPLATE_NAME, "template \"%.*s\"", (int)name_len,
                       (const char *)p + S_BIN_HEAD);
    if (id == ATTEST_IMA_TEMPLATE_IMA) {
        /* no template data length: SHA-1 digest, name length, name */
        if (avail < head + 24) {
            *need = head + 24;
            return WD_OK;
        }
        uint32_t n = s_le32 (p + head + 20);
        if (n > ATTEST_IMA_OLD_NAME_MAX)
            return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "event name of %u bytes (limit %d)", n,
                           ATTEST_IMA_OLD_NAME_MAX);
        *need = head + 24 + n;
    } else {
        uint32_t data_len = s_le32 (p + head);
        if (data_len > ATTEST_IMA_DATA_MAX)
            return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "template data of %u bytes (limit %d)",
                           data_len, ATTEST_IMA_DATA_MAX);
        *need = head + 4 + data_len;
    }
    *complete = avail >= *need;
    return WD_OK;
}

/* Fills *e from the complete record at p. */
static int
s_binary_entry (attest_ima_parser_t *self, const uint8_t *p, attest_ima_entry_t *e)
{
    e->pcr = s_le32 (p);
    e->template_hash_alg = ATTEST_IMA_SHA1;
    memcpy (e->template_hash, p + 4, 20);
    uint32_t name_len = s_le32 (p + 24);
    bool known = s_template_lookup (p + S_BIN_HEAD, name_len, &e->template_id);
    assert (known); /* s_binary_need checked it */
    (void)known;
    const uint8_t *body = p + S_BIN_HEAD + name_len;
    if (e->template_id != ATTEST_IMA_TEMPLATE_IMA)
        return s_parse_fields (self, e, body + 4, s_le32 (body));
    uint32_t n = s_le32 (body + 20);
    if (memchr (body + 24, '\0', n))
        return s_fail (self, ATTEST_ERR_IMA_FIELD, "event name holds a NUL byte");
    s_old_template_data (self, e, body, body + 24, n);
    return WD_OK;
}

/* ---- ASCII lines ----------------------------------------------------------- */

/* The next space-separated token of [*cur, end); *more when a space ended it. */
static void
s_token (const char **cur, const char *end, const char **tok, size_t *len, bool *more)
{
    const char *p = *cur;
    const char *space = memchr (p, ' ', (size_t)(end - p));
    const char *stop = space ? space : end;
    *tok = p;
    *len = (size_t)(stop - p);
    *more = space != NULL;
    *cur = space ? space + 1 : end;
}

static int
s_ascii_need (attest_ima_parser_t *self, const uint8_t *p, size_t avail, size_t *need,
              bool *complete)
{
    size_t scan = avail < ATTEST_IMA_LINE_MAX ? avail : ATTEST_IMA_LINE_MAX;
    const uint8_t *nl = memchr (p, '\n', scan);
    if (nl) {
        *need = (size_t)(nl - p) + 1;
        *complete = true;
        return WD_OK;
    }
    if (avail >= ATTEST_IMA_LINE_MAX)
        return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "line longer than %d bytes",
                       ATTEST_IMA_LINE_MAX);
    *need = avail + 1;
    *complete = false;
    return WD_OK;
}

/* "<algo>:<hex>" into e->digest_alg and the digest bytes at out. */
static int
s_ascii_digest (attest_ima_parser_t *self, attest_ima_entry_t *e, const char *tok, size_t len,
                const char **hex, size_t *hex_len)
{
    const char *colon = memchr (tok, ':', len);
    if (!colon)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 4 (file digest) has no \"<algo>:\"");
    if (!s_hash_lookup (tok, (size_t)(colon - tok), &e->digest_alg))
        return s_fail (self, ATTEST_ERR_IMA_DIGEST_ALGO, "file digest algorithm \"%.*s\"",
                       (int)(colon - tok < 32 ? colon - tok : 32), tok);
    *hex = colon + 1;
    *hex_len = len - (size_t)(colon - tok) - 1;
    if (!s_is_hex (*hex, *hex_len))
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 4 (file digest) is not hex");
    if (*hex_len / 2 != attest_ima_hash_len (e->digest_alg))
        return s_fail (self, ATTEST_ERR_IMA_DIGEST_LENGTH, "%s file digest of %zu bytes",
                       s_hash_names[e->digest_alg], *hex_len / 2);
    return WD_OK;
}

/* Fills *ep from the complete line (size bytes with its '\n'), rebuilding
   the template data in scratch. */
static int
s_ascii_entry (attest_ima_parser_t *self, const uint8_t *line, size_t size, attest_ima_entry_t *ep)
{
    attest_ima_entry_t e = *ep;
    const char *cur = (const char *)line;
    const char *end = cur + size - 1; /* the '\n' */
    if (memchr (line, '\0', size))
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "line holds a NUL byte");

    /* 1: PCR, printed "%2d": one leading space before a single digit */
    const char *tok;
    size_t len;
    bool more;
    bool padded = cur < end && *cur == ' ';
    if (padded)
        cur++;
    s_token (&cur, end, &tok, &len, &more);
    if (len == 0 || len > 9 || (padded && len != 1) || (len > 1 && tok[0] == '0'))
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 1 (PCR) is not a decimal number");
    uint32_t pcr = 0;
    for (size_t i = 0; i < len; i++) {
        if (tok[i] < '0' || tok[i] > '9')
            return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 1 (PCR) is not a decimal number");
        pcr = pcr * 10 + (uint32_t)(tok[i] - '0');
    }
    if (pcr >= ATTEST_IMA_PCR_COUNT)
        return s_fail (self, ATTEST_ERR_IMA_PCR_RANGE, "PCR %u (limit %d)", pcr,
                       ATTEST_IMA_PCR_COUNT - 1);
    e.pcr = pcr;
    if (!more)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "line ends after field 1 (PCR)");

    /* 2: template hash, hex SHA-1, or "sha256:" hex as an unmerged kernel
       proposal prints non-SHA-1 template hashes */
    s_token (&cur, end, &tok, &len, &more);
    e.template_hash_alg = ATTEST_IMA_SHA1;
    if (len > 7 && memcmp (tok, "sha256:", 7) == 0) {
        e.template_hash_alg = ATTEST_IMA_SHA256;
        tok += 7;
        len -= 7;
    } else if (len > 5 && memcmp (tok, "sha1:", 5) == 0) {
        tok += 5;
        len -= 5;
    }
    if (len != 2 * attest_ima_hash_len (e.template_hash_alg) ||
        !s_hex_decode (e.template_hash, tok, len))
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 2 (template hash) is not %zu hex digits",
                       2 * attest_ima_hash_len (e.template_hash_alg));
    if (!more)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "line ends after field 2 (template hash)");

    /* 3: template name */
    s_token (&cur, end, &tok, &len, &more);
    if (!s_template_lookup (tok, len, &e.template_id))
        return s_fail (self, ATTEST_ERR_IMA_TEMPLATE_NAME, "template \"%.*s\"",
                       (int)(len < 32 ? len : 32), tok);
    if (!more)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "line ends after field 3 (template name)");

    /* 4: file digest */
    const char *digest_hex = NULL;
    size_t digest_hex_len = 0;
    s_token (&cur, end, &tok, &len, &more);
    if (e.template_id == ATTEST_IMA_TEMPLATE_IMA) {
        if (!s_is_hex (tok, len))
            return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 4 (file digest) is not hex");
        if (len != 40)
            return s_fail (self, ATTEST_ERR_IMA_DIGEST_LENGTH, "sha1 file digest of %zu bytes",
                           len / 2);
        e.digest_alg = ATTEST_IMA_SHA1;
        digest_hex = tok;
        digest_hex_len = len;
    } else {
        int rc = s_ascii_digest (self, &e, tok, len, &digest_hex, &digest_hex_len);
        if (rc)
            return rc;
    }
    if (!more)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "line ends after field 4 (file digest)");

    /* 5: event name (the kernel turns spaces into '_', so it is one token) */
    const char *name;
    size_t name_len;
    s_token (&cur, end, &name, &name_len, &more);
    size_t name_max =
        e.template_id == ATTEST_IMA_TEMPLATE_IMA ? ATTEST_IMA_OLD_NAME_MAX : ATTEST_IMA_NAME_MAX;
    if (name_len > name_max)
        return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "event name of %zu bytes (limit %zu)",
                       name_len, name_max);

    /* 6: ima-sig signature or ima-buf buffer, hex, empty when absent. The
       kernel prints the separating space even then; lists that lost that
       trailing space are accepted as empty too. */
    const char *extra = NULL;
    size_t extra_len = 0;
    bool has_extra = e.template_id == ATTEST_IMA_TEMPLATE_IMA_SIG ||
                     e.template_id == ATTEST_IMA_TEMPLATE_IMA_BUF;
    if (more && has_extra) {
        s_token (&cur, end, &extra, &extra_len, &more);
        if (!s_is_hex (extra, extra_len))
            return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field 6 (%s) is not hex",
                           e.template_id == ATTEST_IMA_TEMPLATE_IMA_SIG ? "signature" : "buffer");
    }
    if (more)
        return s_fail (self, ATTEST_ERR_IMA_SYNTAX, "field %d is followed by another field",
                       has_extra ? 6 : 5);

    /* rebuild the template data the kernel hashed */
    if (e.template_id == ATTEST_IMA_TEMPLATE_IMA) {
        uint8_t digest[20];
        bool ok = s_hex_decode (digest, digest_hex, digest_hex_len);
        assert (ok);
        (void)ok;
        s_old_template_data (self, &e, digest, name, name_len);
        *ep = e;
        return WD_OK;
    }
    size_t alg_len = strlen (s_hash_names[e.digest_alg]);
    size_t digest_len = digest_hex_len / 2;
    size_t total =
        4 + alg_len + 2 + digest_len + 4 + name_len + 1 + (has_extra ? 4 : 0) + extra_len / 2;
    if (total > ATTEST_IMA_DATA_MAX)
        return s_fail (self, ATTEST_ERR_IMA_OVERSIZE, "template data of %zu bytes (limit %d)",
                       total, ATTEST_IMA_DATA_MAX);
    uint8_t *d = self->scratch;
    s_put_le32 (d, (uint32_t)(alg_len + 2 + digest_len));
    memcpy (d + 4, s_hash_names[e.digest_alg], alg_len);
    d[4 + alg_len] = ':';
    d[5 + alg_len] = '\0';
    e.digest = d + 6 + alg_len;
    e.digest_len = digest_len;
    bool ok = s_hex_decode (d + 6 + alg_len, digest_hex, digest_hex_len);
    d += 6 + alg_len + digest_len;
    s_put_le32 (d, (uint32_t)(name_len + 1));
    memcpy (d + 4, name, name_len);
    d[4 + name_len] = '\0';
    e.name = (const char *)d + 4;
    e.name_len = name_len;
    d += 4 + name_len + 1;
    if (has_extra) {
        s_put_le32 (d, (uint32_t)(extra_len / 2));
        ok = ok && s_hex_decode (d + 4, extra, extra_len);
        if (e.template_id == ATTEST_IMA_TEMPLATE_IMA_SIG) {
            e.sig = d + 4;
            e.sig_len = extra_len / 2;
        } else {
            e.buf = d + 4;
            e.buf_len = extra_len / 2;
        }
        d += 4 + extra_len / 2;
    }
    assert (ok && (size_t)(d - self->scratch) == total);
    (void)ok;
    e.data = self->scratch;
    e.data_len = total;
    *ep = e;
    return WD_OK;
}

/* ---- feeding --------------------------------------------------------------- */

static int
s_need (attest_ima_parser_t *self, const uint8_t *p, size_t avail, size_t *need, bool *complete)
{
    return self->state.format == ATTEST_IMA_ASCII ? s_ascii_need (self, p, avail, need, complete)
                                                  : s_binary_need (self, p, avail, need, complete);
}

/* Parses, checks and replays the complete entry at p. */
static int
s_entry (attest_ima_parser_t *self, const uint8_t *p, size_t size, attest_ima_entry_fn fn,
         void *arg)
{
    attest_ima_entry_t e = { 0 };
    e.index = self->state.entries;
    e.offset = self->state.offset;
    e.size = size;
    int rc = self->state.format == ATTEST_IMA_ASCII ? s_ascii_entry (self, p, size, &e)
                                                    : s_binary_entry (self, p, &e);
    return rc ? rc : s_accept (self, &e, fn, arg);
}

static int
s_pending_append (attest_ima_parser_t *self, const uint8_t *p, size_t n)
{
    if (self->pending_len + n > self->pending_cap) {
        size_t cap = self->pending_cap ? self->pending_cap : 4096;
        while (cap < self->pending_len + n)
            cap *= 2;
        uint8_t *grown = realloc (self->pending, cap);
        if (!grown) {
            self->err = WD_ERR_NOMEM;
            snprintf (self->why, sizeof self->why, "out of memory");
            return WD_ERR_NOMEM;
        }
        self->pending = grown;
        self->pending_cap = cap;
    }
    memcpy (self->pending + self->pending_len, p, n);
    self->pending_len += n;
    return WD_OK;
}

int
attest_ima_parser_feed (attest_ima_parser_t *self, const void *data, size_t len,
                        attest_ima_entry_fn fn, void *arg)
{
    assert (self);
    assert (data || len == 0);
    const uint8_t *p = data;
    size_t need;
    bool complete;
    int rc;
    if (self->err)
        return self->err;

    /* first finish the entry the last feed cut, taking only its bytes */
    while (self->pending_len > 0 && len > 0) {
        if ((rc = s_need (self, self->pending, self->pending_len, &need, &complete)))
            return rc;
        size_t take = need - self->pending_len;
        if (self->state.format == ATTEST_IMA_ASCII) {
            const uint8_t *nl = memchr (p, '\n', len);
            take = nl ? (size_t)(nl - p) + 1 : len;
            /* enough to see the line is too long, never more */
            if (self->pending_len + take > ATTEST_IMA_LINE_MAX)
                take = ATTEST_IMA_LINE_MAX - self->pending_len;
        }
        if (take > len)
            take = len;
        if ((rc = s_pending_append (self, p, take)))
            return rc;
        p += take;
        len -= take;
        if ((rc = s_need (self, self->pending, self->pending_len, &need, &complete)))
            return rc;
        if (complete) {
            assert (need == self->pending_len);
            self->pending_len = 0;
            if ((rc = s_entry (self, self->pending, need, fn, arg)))
                return rc;
        }
    }

    /* then whole entries straight from the input */
    while (len > 0) {
        if ((rc = s_need (self, p, len, &need, &complete)))
            return rc;
        if (!complete)
            return s_pending_append (self, p, len);
        if ((rc = s_entry (self, p, need, fn, arg)))
            return rc;
        p += need;
        len -= need;
    }
    return WD_OK;
}

int
attest_ima_parser_finish (attest_ima_parser_t *self)
{
    assert (self);
    if (self->err)
        return self->err;
    if (self->pending_len > 0)
        return s_fail (self, ATTEST_ERR_IMA_TRUNCATED, "the list ends %zu bytes into the entry",
                       self->pending_len);
    return WD_OK;
}

/* ---- whole lists ----------------------------------------------------------- */

int
attest_ima_replay_fd (int fd, attest_ima_state_t *state, attest_ima_entry_fn fn, void *arg,
                      char *why, size_t why_len)
{
    assert (state);
    wd_err_why (why, why_len, "%s", "");
    if (!s_state_valid (state)) {
        wd_err_why (why, why_len, "the saved state is not valid");
        return ATTEST_ERR_IMA_STATE;
    }
    struct stat st;
    if (fstat (fd, &st) != 0) {
        wd_err_why (why, why_len, "fstat: %s", strerror (errno));
        return WD_ERR_IO;
    }
    if (S_ISREG (st.st_mode) && (uint64_t)st.st_size < state->offset) {
        wd_err_why (why, why_len, "the list has %lld bytes, fewer than the saved offset %llu",
                    (long long)st.st_size, (unsigned long long)state->offset);
        return ATTEST_ERR_IMA_STATE;
    }
    if (state->offset > 0 && lseek (fd, (off_t)state->offset, SEEK_SET) < 0) {
        wd_err_why (why, why_len, "cannot seek to the saved offset: %s", strerror (errno));
        return ATTEST_ERR_IMA_STATE;
    }
    attest_ima_parser_t *parser = attest_ima_parser_new (state);
    uint8_t *chunk = malloc (S_CHUNK);
    int rc = WD_ERR_NOMEM;
    if (!parser || !chunk) {
        wd_err_why (why, why_len, "out of memory");
        goto out_free;
    }
    for (;;) {
        ssize_t n = read (fd, chunk, S_CHUNK);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wd_err_why (why, why_len, "read: %s", strerror (errno));
            rc = WD_ERR_IO;
            break;
        }
        if (n == 0) {
            rc = attest_ima_parser_finish (parser);
            break;
        }
        if ((rc = attest_ima_parser_feed (parser, chunk, (size_t)n, fn, arg)))
            break;
    }
    if (rc != WD_OK && rc != WD_ERR_IO && attest_ima_parser_why (parser)[0])
        wd_err_why (why, why_len, "%s", attest_ima_parser_why (parser));
    *state = *attest_ima_parser_state (parser);
out_free:
    free (chunk);
    attest_ima_parser_destroy (&parser);
    return rc;
}

int
attest_ima_replay_file (const char *path, attest_ima_state_t *state, attest_ima_entry_fn fn,
                        void *arg, char *why, size_t why_len)
{
    assert (path);
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int saved = errno;
        wd_err_why (why, why_len, "%s: %s", path, strerror (saved));
        return saved == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO;
    }
    int rc = attest_ima_replay_fd (fd, state, fn, arg, why, why_len);
    close (fd);
    return rc;
}

int
attest_ima_replay_buffer (const void *data, size_t len, attest_ima_state_t *state,
                          attest_ima_entry_fn fn, void *arg, char *why, size_t why_len)
{
    assert (state);
    wd_err_why (why, why_len, "%s", "");
    attest_ima_parser_t *parser = attest_ima_parser_new (state);
    if (!parser) {
        wd_err_why (why, why_len, "the saved state is not valid");
        return ATTEST_ERR_IMA_STATE;
    }
    int rc = attest_ima_parser_feed (parser, data, len, fn, arg);
    if (rc == WD_OK)
        rc = attest_ima_parser_finish (parser);
    if (rc != WD_OK && attest_ima_parser_why (parser)[0])
        wd_err_why (why, why_len, "%s", attest_ima_parser_why (parser));
    *state = *attest_ima_parser_state (parser);
    attest_ima_parser_destroy (&parser);
    return rc;
}

/* ---- building and writing entries ------------------------------------------- */

size_t
attest_ima_entry_make_ng (attest_ima_entry_t *entry, uint8_t *data, size_t cap, uint32_t pcr,
                          attest_ima_hash_t alg, const uint8_t *digest, const char *name,
                          size_t name_len)
{
    assert (entry && data && digest && name);
    assert (pcr < ATTEST_IMA_PCR_COUNT);
    assert (name_len <= ATTEST_IMA_NAME_MAX);
    assert (!memchr (name, '\0', name_len) && !memchr (name, ' ', name_len) &&
            !memchr (name, '\n', name_len));
    size_t alg_len = strlen (s_hash_names[alg]);
    size_t digest_len = attest_ima_hash_len (alg);
    size_t total = 4 + alg_len + 2 + digest_len + 4 + name_len + 1;
    if (total > cap)
        return 0;
    memset (entry, 0, sizeof *entry);
    s_put_le32 (data, (uint32_t)(alg_len + 2 + digest_len));
    memcpy (data + 4, s_hash_names[alg], alg_len);
    data[4 + alg_len] = ':';
    data[5 + alg_len] = '\0';
    memcpy (data + 6 + alg_len, digest, digest_len);
    uint8_t *n = data + 6 + alg_len + digest_len;
    s_put_le32 (n, (uint32_t)(name_len + 1));
    memcpy (n + 4, name, name_len);
    n[4 + name_len] = '\0';
    entry->pcr = pcr;
    entry->template_id = ATTEST_IMA_TEMPLATE_IMA_NG;
    entry->template_hash_alg = ATTEST_IMA_SHA1;
    entry->digest_alg = alg;
    entry->digest = data + 6 + alg_len;
    entry->digest_len = digest_len;
    entry->name = (const char *)n + 4;
    entry->name_len = name_len;
    entry->data = data;
    entry->data_len = total;
    attest_ima_digest (ATTEST_IMA_SHA1, data, total, entry->sha1);
    attest_ima_digest (ATTEST_IMA_SHA256, data, total, entry->sha256);
    memcpy (entry->template_hash, entry->sha1, 20);
    entry->size = attest_ima_entry_binary (entry, NULL, 0);
    return total;
}

size_t
attest_ima_entry_binary (const attest_ima_entry_t *e, uint8_t *out, size_t cap)
{
    assert (e);
    const char *tname = s_template_names[e->template_id];
    size_t tname_len = strlen (tname);
    bool old = e->template_id == ATTEST_IMA_TEMPLATE_IMA;
    size_t size = S_BIN_HEAD + tname_len + (old ? 24 + e->name_len : 4 + e->data_len);
    if (!out || size > cap)
        return size;
    s_put_le32 (out, e->pcr);
    if (e->violation)
        memset (out + 4, 0, 20);
    else
        memcpy (out + 4, e->sha1, 20);
    s_put_le32 (out + 24, (uint32_t)tname_len);
    memcpy (out + S_BIN_HEAD, tname, tname_len);
    uint8_t *body = out + S_BIN_HEAD + tname_len;
    if (old) {
        memcpy (body, e->digest, 20);
        s_put_le32 (body + 20, (uint32_t)e->name_len);
        memcpy (body + 24, e->name, e->name_len);
    } else {
        s_put_le32 (body, (uint32_t)e->data_len);
        memcpy (body + 4, e->data, e->data_len);
    }
    return size;
}

/* Appends to a bounded output, counting what did not fit. */
typedef struct {
    char *out;
    size_t cap;
    size_t len;
} s_text_t;

static void
s_text_put (s_text_t *t, const char *s, size_t n)
{
    if (t->out && t->len + n <= t->cap)
        memcpy (t->out + t->len, s, n);
    t->len += n;
}

static void
s_text_hex (s_text_t *t, const uint8_t *bin, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        char pair[2] = { digits[bin[i] >> 4], digits[bin[i] & 15] };
        s_text_put (t, pair, 2);
    }
}

size_t
attest_ima_entry_ascii (const attest_ima_entry_t *e, char *out, size_t cap)
{
    assert (e && e->pcr < ATTEST_IMA_PCR_COUNT);
    s_text_t t = { out, cap, 0 };
    char pcr[8];
    snprintf (pcr, sizeof pcr, "%2u ", e->pcr);
    s_text_put (&t, pcr, strlen (pcr));
    if (e->template_hash_alg != ATTEST_IMA_SHA1) {
        s_text_put (&t, s_hash_names[e->template_hash_alg],
                    strlen (s_hash_names[e->template_hash_alg]));
        s_text_put (&t, ":", 1);
    }
    s_text_hex (&t, e->template_hash, attest_ima_hash_len (e->template_hash_alg));
    s_text_put (&t, " ", 1);
    s_text_put (&t, s_template_names[e->template_id], strlen (s_template_names[e->template_id]));
    s_text_put (&t, " ", 1);
    if (e->template_id != ATTEST_IMA_TEMPLATE_IMA) {
        s_text_put (&t, s_hash_names[e->digest_alg], strlen (s_hash_names[e->digest_alg]));
        s_text_put (&t, ":", 1);
    }
    s_text_hex (&t, e->digest, e->digest_len);
    s_text_put (&t, " ", 1);
    s_text_put (&t, e->name, e->name_len);
    if (e->template_id == ATTEST_IMA_TEMPLATE_IMA_SIG) {
        s_text_put (&t, " ", 1);
        s_text_hex (&t, e->sig, e->sig_len);
    } else if (e->template_id == ATTEST_IMA_TEMPLATE_IMA_BUF) {
        s_text_put (&t, " ", 1);
        s_text_hex (&t, e->buf, e->buf_len);
    }
    s_text_put (&t, "\n", 1);
    return t.len;
}
