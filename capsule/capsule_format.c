/*
 * capsule_format: content keys, key wraps, the capsule's byte layout and
 * the parser/verifier (capsule_format.h, capsule_layout.h; docs/PROTOCOL.md
 * "Capsules").
 *
 * The parser never holds the ciphertext: it reads the fixed head, skips the
 * ciphertext to the small fields after it (at most CAPSULE_META_MAX bytes),
 * checks those with the strict codec reader as if they were a map of their
 * own, re-encodes them to prove the bytes are the canonical form, and only
 * then streams the ciphertext through the two SHA-256 states (OpenSSL's
 * libcrypto: it uses the CPU's SHA instructions, several times faster than
 * libsodium's portable code on gigabyte payloads).
 */
#include "capsule_format.h"

#include <assert.h>
#include <errno.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule_err.h"
#include "capsule_layout.h"
#include "wd_codec.h"

static const char *const s_kind_names[] = { "data", "code", "env", "result" };

const char *
capsule_kind_name (capsule_kind_t kind)
{
    assert ((unsigned)kind <= CAPSULE_KIND_RESULT);
    return s_kind_names[kind];
}

bool
capsule_kind_parse (const char *str, size_t len, capsule_kind_t *kind)
{
    for (size_t i = 0; i < sizeof s_kind_names / sizeof s_kind_names[0]; i++)
        if (strlen (s_kind_names[i]) == len && memcmp (str, s_kind_names[i], len) == 0) {
            *kind = (capsule_kind_t)i;
            return true;
        }
    return false;
}

/* ---- content keys ------------------------------------------------------ */

struct capsule_key {
    uint8_t bytes[CAPSULE_KEY_LEN];
};

capsule_key_t *
capsule_key_new (void)
{
    capsule_key_t *self = sodium_malloc (sizeof *self);
    if (self)
        crypto_secretstream_xchacha20poly1305_keygen (self->bytes);
    return self;
}

capsule_key_t *
capsule_key_from_bytes (const uint8_t bytes[CAPSULE_KEY_LEN])
{
    capsule_key_t *self = sodium_malloc (sizeof *self);
    if (self)
        memcpy (self->bytes, bytes, CAPSULE_KEY_LEN);
    return self;
}

void
capsule_key_destroy (capsule_key_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        sodium_free (*self_p); /* wipes before freeing */
        *self_p = NULL;
    }
}

const uint8_t *
capsule_key_bytes (const capsule_key_t *self)
{
    assert (self);
    return self->bytes;
}

/* ---- wraps ------------------------------------------------------------- */

int
capsule_wrap_seal (const capsule_key_t *key, const uint8_t to[CAPSULE_CURVE_LEN],
                   uint8_t wrap[CAPSULE_WRAP_LEN])
{
    assert (key && to && wrap);
    if (crypto_box_seal (wrap, key->bytes, CAPSULE_KEY_LEN, to) != 0)
        return CAPSULE_ERR_WRAP_KEY;
    return 0;
}

int
capsule_wrap_open (const uint8_t wrap[CAPSULE_WRAP_LEN], const uint8_t curve_pk[CAPSULE_CURVE_LEN],
                   const uint8_t curve_sk[CAPSULE_CURVE_LEN], capsule_key_t **key_p)
{
    assert (wrap && curve_pk && curve_sk && key_p);
    *key_p = NULL;
    capsule_key_t *key = sodium_malloc (sizeof *key);
    if (!key)
        return WD_ERR_NOMEM;
    if (crypto_box_seal_open (key->bytes, wrap, CAPSULE_WRAP_LEN, curve_pk, curve_sk) != 0) {
        sodium_free (key);
        return CAPSULE_ERR_UNWRAP;
    }
    *key_p = key;
    return 0;
}

bool
capsule_is_recipient (const capsule_header_t *h, const uint8_t curve_pk[CAPSULE_CURVE_LEN])
{
    for (size_t i = 0; i < h->n_wraps; i++)
        if (sodium_memcmp (h->wraps[i].to, curve_pk, CAPSULE_CURVE_LEN) == 0)
            return true;
    return false;
}

int
capsule_unwrap (const capsule_header_t *h, const uint8_t curve_pk[CAPSULE_CURVE_LEN],
                const uint8_t curve_sk[CAPSULE_CURVE_LEN], capsule_key_t **key_p)
{
    assert (h && key_p);
    *key_p = NULL;
    for (size_t i = 0; i < h->n_wraps; i++)
        if (sodium_memcmp (h->wraps[i].to, curve_pk, CAPSULE_CURVE_LEN) == 0)
            return capsule_wrap_open (h->wraps[i].key, curve_pk, curve_sk, key_p);
    return CAPSULE_ERR_NOT_RECIPIENT;
}

/* ---- layout ------------------------------------------------------------ */

uint64_t
capsule_ciphertext_len (uint64_t plain_len)
{
    assert (plain_len <= CAPSULE_PLAIN_MAX);
    uint64_t chunks = plain_len == 0 ? 1 : (plain_len + CAPSULE_CHUNK - 1) / CAPSULE_CHUNK;
    return plain_len + chunks * CAPSULE_CHUNK_ABYTES;
}

static const uint8_t s_head_chain[] = { 0xa5, 'c', 'h', 'a', 'i', 'n', 0xc4, 0x20 };
static const uint8_t s_head_ct[] = { 0xaa, 'c', 'i', 'p', 'h', 'e', 'r', 't', 'e', 'x', 't' };
#define S_HEAD_FIXED (1 + sizeof s_head_chain + WD_CHAIN_ID_LEN + sizeof s_head_ct)

size_t
capsule_layout_head (uint8_t out[CAPSULE_HEAD_MAX], const uint8_t chain[WD_CHAIN_ID_LEN],
                     uint64_t ct_len)
{
    assert (ct_len <= UINT32_MAX);
    size_t n = 0;
    out[n++] = 0x89;
    memcpy (out + n, s_head_chain, sizeof s_head_chain);
    n += sizeof s_head_chain;
    memcpy (out + n, chain, WD_CHAIN_ID_LEN);
    n += WD_CHAIN_ID_LEN;
    memcpy (out + n, s_head_ct, sizeof s_head_ct);
    n += sizeof s_head_ct;
    if (ct_len <= 0xff) {
        out[n++] = 0xc4;
        out[n++] = (uint8_t)ct_len;
    } else if (ct_len <= 0xffff) {
        out[n++] = 0xc5;
        out[n++] = (uint8_t)(ct_len >> 8);
        out[n++] = (uint8_t)ct_len;
    } else {
        out[n++] = 0xc6;
        for (int shift = 24; shift >= 0; shift -= 8)
            out[n++] = (uint8_t)(ct_len >> shift);
    }
    return n;
}

uint8_t *
capsule_layout_meta (const capsule_header_t *h, size_t *mid_len, size_t *tail_len)
{
    /* Each part is written as a small map of its own; a fixmap header is
       one byte, so dropping it leaves exactly the entries. */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "enc");
    wd_writer_map (w, 4);
    wd_writer_key (w, "alg");
    wd_writer_cstr (w, CAPSULE_ENC_ALG);
    wd_writer_key (w, "chunk");
    wd_writer_uint (w, CAPSULE_CHUNK);
    wd_writer_key (w, "header");
    wd_writer_bin (w, h->stream_header, CAPSULE_STREAM_HEADER_LEN);
    wd_writer_key (w, "size");
    wd_writer_uint (w, h->plain_len);
    wd_writer_key (w, "kind");
    wd_writer_cstr (w, capsule_kind_name (h->kind));
    wd_writer_key (w, "owner");
    wd_writer_bin (w, h->owner, WD_PUBKEY_LEN);
    wd_writer_key (w, "policy");
    capsule_policy_write (w, &h->policy);
    size_t mid_n;
    const uint8_t *mid = wd_writer_data (w, &mid_n);

    wd_writer_t *t = wd_writer_new ();
    wd_writer_map (t, 2);
    wd_writer_key (t, "v");
    wd_writer_uint (t, CAPSULE_VERSION);
    wd_writer_key (t, "wraps");
    wd_writer_array (t, h->n_wraps);
    for (size_t i = 0; i < h->n_wraps; i++) {
        wd_writer_map (t, 2);
        wd_writer_key (t, "key");
        wd_writer_bin (t, h->wraps[i].key, CAPSULE_WRAP_LEN);
        wd_writer_key (t, "to");
        wd_writer_bin (t, h->wraps[i].to, CAPSULE_CURVE_LEN);
    }
    size_t tail_n;
    const uint8_t *tail = wd_writer_data (t, &tail_n);

    *mid_len = mid_n - 1;
    *tail_len = tail_n - 1;
    uint8_t *out = malloc (*mid_len + *tail_len);
    assert (out);
    memcpy (out, mid + 1, *mid_len);
    memcpy (out + *mid_len, tail + 1, *tail_len);
    wd_writer_destroy (&w);
    wd_writer_destroy (&t);
    return out;
}

void
capsule_layout_sig_entry (uint8_t out[CAPSULE_SIG_ENTRY_LEN], const uint8_t sig[WD_SIG_LEN])
{
    static const uint8_t key[] = { 0xa3, 's', 'i', 'g', 0xc4, 0x40 };
    memcpy (out, key, sizeof key);
    memcpy (out + sizeof key, sig, WD_SIG_LEN);
}

/* ---- hashing ----------------------------------------------------------- */

struct capsule_hasher {
    EVP_MD_CTX *digest;
    EVP_MD_CTX *id;
};

capsule_hasher_t *
capsule_hasher_new (const uint8_t chain[WD_CHAIN_ID_LEN])
{
    capsule_hasher_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->digest = EVP_MD_CTX_new ();
    self->id = EVP_MD_CTX_new ();
    if (!self->digest || !self->id || EVP_DigestInit_ex (self->digest, EVP_sha256 (), NULL) != 1 ||
        EVP_DigestInit_ex (self->id, EVP_sha256 (), NULL) != 1) {
        capsule_hasher_destroy (&self);
        return NULL;
    }
    /* The signing rule (wd_envelope.h): "warden/1" 0x00 type 0x00 chain. */
    static const char prefix[] = "warden/1\0" CAPSULE_SIG_TYPE;
    EVP_DigestUpdate (self->digest, prefix, sizeof prefix); /* with its NUL */
    EVP_DigestUpdate (self->digest, chain, WD_CHAIN_ID_LEN);
    return self;
}

void
capsule_hasher_destroy (capsule_hasher_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        EVP_MD_CTX_free ((*self_p)->digest);
        EVP_MD_CTX_free ((*self_p)->id);
        free (*self_p);
        *self_p = NULL;
    }
}

void
capsule_hasher_head (capsule_hasher_t *self, const uint8_t *head, size_t len)
{
    assert (len > 1 && head[0] == 0x89);
    static const uint8_t signed_map = 0x88;
    EVP_DigestUpdate (self->digest, &signed_map, 1);
    EVP_DigestUpdate (self->digest, head + 1, len - 1);
    EVP_DigestUpdate (self->id, head, len);
}

void
capsule_hasher_update (capsule_hasher_t *self, int which, const void *data, size_t len)
{
    if (which & CAPSULE_HASH_DIGEST)
        EVP_DigestUpdate (self->digest, data, len);
    if (which & CAPSULE_HASH_ID)
        EVP_DigestUpdate (self->id, data, len);
}

void
capsule_hasher_final (capsule_hasher_t *self, int which, uint8_t out[32])
{
    unsigned int n = 32;
    EVP_DigestFinal_ex (which == CAPSULE_HASH_DIGEST ? self->digest : self->id, out, &n);
    assert (n == 32);
}

/* ---- parsing ----------------------------------------------------------- */

/* Where the capsule bytes come from: memory or a regular file. */
typedef struct {
    const uint8_t *buf;
    int fd;
} s_src_t;

/* Reads exactly len bytes at off. Returns 0, CAPSULE_ERR_CAPSULE_TRUNCATED
   at end of file, or WD_ERR_IO. */
static int
s_src_read (const s_src_t *src, uint64_t off, uint8_t *dst, size_t len)
{
    if (src->buf) {
        memcpy (dst, src->buf + off, len);
        return 0;
    }
    while (len > 0) {
        ssize_t n = pread (src->fd, dst, len, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return WD_ERR_IO;
        if (n == 0)
            return CAPSULE_ERR_CAPSULE_TRUNCATED;
        dst += n;
        off += (uint64_t)n;
        len -= (size_t)n;
    }
    return 0;
}

/* Parses the head at the start of bytes (have of them available). */
static int
s_parse_head (const uint8_t *b, size_t have, capsule_header_t *h)
{
    if (have == 0)
        return CAPSULE_ERR_CAPSULE_TRUNCATED;
    if (b[0] != 0x89)
        return CAPSULE_ERR_CAPSULE_NONCANONICAL;
    size_t n = 1;
    static const struct {
        const uint8_t *bytes;
        size_t len;
    } lits[] = { { s_head_chain, sizeof s_head_chain },
                 { NULL, WD_CHAIN_ID_LEN },
                 { s_head_ct, sizeof s_head_ct } };
    for (size_t i = 0; i < 3; i++) {
        size_t cmp = have - n < lits[i].len ? have - n : lits[i].len;
        if (lits[i].bytes && memcmp (b + n, lits[i].bytes, cmp) != 0)
            return CAPSULE_ERR_CAPSULE_NONCANONICAL;
        if (cmp < lits[i].len)
            return CAPSULE_ERR_CAPSULE_TRUNCATED;
        n += lits[i].len;
    }
    memcpy (h->chain, b + 1 + sizeof s_head_chain, WD_CHAIN_ID_LEN);
    if (have - n < 1)
        return CAPSULE_ERR_CAPSULE_TRUNCATED;
    size_t width;
    uint64_t min;
    switch (b[n]) {
        case 0xc4:
            width = 1, min = 0;
            break;
        case 0xc5:
            width = 2, min = 0x100;
            break;
        case 0xc6:
            width = 4, min = 0x10000;
            break;
        default:
            return CAPSULE_ERR_CAPSULE_NONCANONICAL;
    }
    n++;
    if (have - n < width)
        return CAPSULE_ERR_CAPSULE_TRUNCATED;
    uint64_t len = 0;
    for (size_t i = 0; i < width; i++)
        len = (len << 8) | b[n + i];
    if (len < min)
        return CAPSULE_ERR_CAPSULE_NONCANONICAL;
    n += width;
    h->ct_offset = n;
    h->ct_len = len;
    return 0;
}

static int
s_codec_reason (wd_err_t err)
{
    return err == WD_ERR_TRUNCATED ? CAPSULE_ERR_CAPSULE_TRUNCATED
                                   : CAPSULE_ERR_CAPSULE_NONCANONICAL;
}

/* Parses the fields after the ciphertext (meta, meta_len bytes: exactly the
   rest of the capsule) into h. Returns 0 or the first reason, checked in
   the order the header comment of capsule_parse gives. */
static int
s_parse_meta (const uint8_t *meta, size_t meta_len, capsule_header_t *h, size_t *mid_len_out)
{
    /* The remaining 7 entries, read as a map of their own. */
    uint8_t *buf = malloc (meta_len + 1);
    if (!buf)
        return WD_ERR_NOMEM;
    buf[0] = 0x87;
    memcpy (buf + 1, meta, meta_len);
    int rc = 0;
    wd_err_t err = wd_codec_check (buf, meta_len + 1, CAPSULE_META_MAX, NULL);
    if (err != WD_OK) {
        rc = s_codec_reason (err);
        goto out;
    }
    wd_reader_t r;
    wd_reader_init (&r, buf, meta_len + 1);
    size_t count;
    const char *alg, *kind;
    size_t alg_len = 0, kind_len = 0, n_wraps = 0;
    uint64_t chunk = 0, v = 0;
    bool wraps_sorted = true;
    wd_read_map (&r, &count);
    wd_read_key (&r, "enc");
    wd_read_map (&r, &count);
    wd_read_key (&r, "alg");
    wd_read_str (&r, &alg, &alg_len, 64);
    wd_read_key (&r, "chunk");
    wd_read_uint (&r, &chunk, UINT64_MAX);
    wd_read_key (&r, "header");
    wd_read_bin_fixed (&r, h->stream_header, CAPSULE_STREAM_HEADER_LEN);
    wd_read_key (&r, "size");
    wd_read_uint (&r, &h->plain_len, UINT64_MAX);
    wd_read_end (&r);
    wd_read_key (&r, "kind");
    wd_read_str (&r, &kind, &kind_len, 64);
    wd_read_key (&r, "owner");
    wd_read_bin_fixed (&r, h->owner, WD_PUBKEY_LEN);
    if (wd_read_key (&r, "policy")) {
        int prc = capsule_policy_read (&r, &h->policy);
        if (prc == CAPSULE_ERR_POLICY) {
            rc = prc;
            goto out;
        }
    }
    wd_read_key (&r, "sig");
    wd_read_bin_fixed (&r, h->sig, WD_SIG_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, UINT64_MAX);
    wd_read_key (&r, "wraps");
    if (wd_read_array (&r, &count)) {
        if (count < 1 || count > CAPSULE_WRAPS_MAX) {
            rc = CAPSULE_ERR_CAPSULE_WRAPS;
            goto out;
        }
        for (size_t i = 0; i < count; i++) {
            size_t fields;
            wd_read_map (&r, &fields);
            wd_read_key (&r, "key");
            wd_read_bin_fixed (&r, h->wraps[i].key, CAPSULE_WRAP_LEN);
            wd_read_key (&r, "to");
            wd_read_bin_fixed (&r, h->wraps[i].to, CAPSULE_CURVE_LEN);
            wd_read_end (&r);
            if (i > 0 && memcmp (h->wraps[i - 1].to, h->wraps[i].to, CAPSULE_CURVE_LEN) >= 0)
                wraps_sorted = false;
        }
        n_wraps = count;
        wd_read_end (&r);
    }
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK) {
        rc = s_codec_reason (err);
        goto out;
    }
    h->n_wraps = n_wraps;
    if (v != CAPSULE_VERSION)
        rc = CAPSULE_ERR_CAPSULE_VERSION;
    else if (!capsule_kind_parse (kind, kind_len, &h->kind))
        rc = CAPSULE_ERR_CAPSULE_KIND;
    else if (alg_len != strlen (CAPSULE_ENC_ALG) || memcmp (alg, CAPSULE_ENC_ALG, alg_len) != 0 ||
             chunk != CAPSULE_CHUNK)
        rc = CAPSULE_ERR_CAPSULE_ENC;
    else if (h->plain_len > CAPSULE_PLAIN_MAX)
        rc = CAPSULE_ERR_CAPSULE_OVERSIZE;
    else if (h->ct_len != capsule_ciphertext_len (h->plain_len))
        rc = CAPSULE_ERR_CAPSULE_LENGTH;
    else if (!wraps_sorted)
        rc = CAPSULE_ERR_CAPSULE_WRAPS;
    if (rc != 0)
        goto out;

    /* Canonical values re-encode to the same bytes; this also proves the
       sig entry sits where capsule_layout says, which the digest relies
       on. */
    size_t mid_len, tail_len;
    uint8_t *again = capsule_layout_meta (h, &mid_len, &tail_len);
    uint8_t sig_entry[CAPSULE_SIG_ENTRY_LEN];
    capsule_layout_sig_entry (sig_entry, h->sig);
    if (mid_len + CAPSULE_SIG_ENTRY_LEN + tail_len != meta_len ||
        memcmp (again, meta, mid_len) != 0 ||
        memcmp (sig_entry, meta + mid_len, CAPSULE_SIG_ENTRY_LEN) != 0 ||
        memcmp (again + mid_len, meta + mid_len + CAPSULE_SIG_ENTRY_LEN, tail_len) != 0)
        rc = CAPSULE_ERR_CAPSULE_NONCANONICAL;
    *mid_len_out = mid_len;
    free (again);
out:
    free (buf);
    return rc;
}

static int
s_parse (const s_src_t *src, uint64_t total, const uint8_t chain[WD_CHAIN_ID_LEN], uint64_t max_len,
         capsule_header_t *h)
{
    memset (h, 0, sizeof *h);
    uint8_t head[CAPSULE_HEAD_MAX];
    size_t have = total < CAPSULE_HEAD_MAX ? (size_t)total : CAPSULE_HEAD_MAX;
    int rc = s_src_read (src, 0, head, have);
    if (rc != 0)
        return rc;
    rc = s_parse_head (head, have, h);
    if (rc != 0)
        return rc;
    uint64_t ct_end = h->ct_offset + h->ct_len;
    if (max_len != 0 && (total > max_len || ct_end > max_len))
        return CAPSULE_ERR_CAPSULE_OVERSIZE;
    if (ct_end > total)
        return CAPSULE_ERR_CAPSULE_TRUNCATED;
    uint64_t meta_len = total - ct_end;
    if (meta_len > CAPSULE_META_MAX)
        return CAPSULE_ERR_CAPSULE_OVERSIZE;
    size_t mid_len = 0;
    uint8_t *meta = malloc (meta_len ? (size_t)meta_len : 1);
    if (!meta)
        return WD_ERR_NOMEM;
    rc = s_src_read (src, ct_end, meta, (size_t)meta_len);
    if (rc == 0)
        rc = s_parse_meta (meta, (size_t)meta_len, h, &mid_len);
    if (rc == 0 && sodium_memcmp (h->chain, chain, WD_CHAIN_ID_LEN) != 0)
        rc = CAPSULE_ERR_CAPSULE_CHAIN;
    if (rc != 0)
        goto out_free_meta;
    h->total_len = total;

    capsule_hasher_t *hs = capsule_hasher_new (chain);
    if (!hs) {
        rc = WD_ERR_NOMEM;
        goto out_free_meta;
    }
    capsule_hasher_head (hs, head, (size_t)h->ct_offset);
    if (src->buf)
        capsule_hasher_update (hs, CAPSULE_HASH_BOTH, src->buf + h->ct_offset, (size_t)h->ct_len);
    else {
        enum { BLOCK = 1 << 20 };
        uint8_t *block = malloc (BLOCK);
        if (!block) {
            rc = WD_ERR_NOMEM;
            goto out_free_hasher;
        }
        for (uint64_t off = 0; rc == 0 && off < h->ct_len; off += BLOCK) {
            size_t n = h->ct_len - off < BLOCK ? (size_t)(h->ct_len - off) : BLOCK;
            rc = s_src_read (src, h->ct_offset + off, block, n);
            if (rc == 0)
                capsule_hasher_update (hs, CAPSULE_HASH_BOTH, block, n);
        }
        free (block);
        if (rc != 0)
            goto out_free_hasher;
    }
    const uint8_t *tail = meta + mid_len + CAPSULE_SIG_ENTRY_LEN;
    size_t tail_len = (size_t)meta_len - mid_len - CAPSULE_SIG_ENTRY_LEN;
    capsule_hasher_update (hs, CAPSULE_HASH_BOTH, meta, mid_len);
    capsule_hasher_update (hs, CAPSULE_HASH_DIGEST, tail, tail_len);
    capsule_hasher_update (hs, CAPSULE_HASH_ID, meta + mid_len, CAPSULE_SIG_ENTRY_LEN + tail_len);
    uint8_t digest[WD_DIGEST_LEN];
    capsule_hasher_final (hs, CAPSULE_HASH_DIGEST, digest);
    capsule_hasher_final (hs, CAPSULE_HASH_ID, h->id);
    if (crypto_sign_verify_detached (h->sig, digest, sizeof digest, h->owner) != 0)
        rc = CAPSULE_ERR_CAPSULE_SIGNATURE;
out_free_hasher:
    capsule_hasher_destroy (&hs);
out_free_meta:
    free (meta);
    return rc;
}

int
capsule_parse (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
               uint64_t max_len, capsule_header_t *h)
{
    assert ((buf || len == 0) && chain && h);
    s_src_t src = { .buf = buf ? buf : (const uint8_t *)"", .fd = -1 };
    return s_parse (&src, len, chain, max_len, h);
}

int
capsule_parse_fd (int fd, const uint8_t chain[WD_CHAIN_ID_LEN], uint64_t max_len,
                  capsule_header_t *h)
{
    assert (chain && h);
    memset (h, 0, sizeof *h);
    struct stat st;
    if (fstat (fd, &st) != 0)
        return WD_ERR_IO;
    if (!S_ISREG (st.st_mode))
        return CAPSULE_ERR_NOT_FILE;
    s_src_t src = { .buf = NULL, .fd = fd };
    return s_parse (&src, (uint64_t)st.st_size, chain, max_len, h);
}
