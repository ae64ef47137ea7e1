/*
 * capsule_seal: streaming seal and open of capsule payloads (capsule_seal.h;
 * the byte layout is capsule_layout.h, docs/PROTOCOL.md "Capsules").
 *
 * Memory stays constant whatever the payload: two 64 KiB plaintext buffers
 * (the next chunk is read before the current one is pushed, so the last
 * chunk gets TAG_FINAL without knowing the length in advance), one
 * ciphertext chunk, and the small fields after the ciphertext.
 */
#include "capsule_seal.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule_err.h"
#include "capsule_layout.h"

#define S_CT_CHUNK (CAPSULE_CHUNK + CAPSULE_CHUNK_ABYTES)

/* ---- output ------------------------------------------------------------ */

/* Where produced bytes go: an fd or a preallocated memory buffer, hashed
   on the way when hs is set. */
typedef struct {
    int fd;
    uint8_t *mem;
    size_t mem_len;
    size_t mem_cap;
    capsule_hasher_t *hs;
} s_sink_t;

static int
s_write_all (int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write (fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return WD_ERR_IO;
        p += w;
        n -= (size_t)w;
    }
    return 0;
}

static int
s_sink_put (s_sink_t *k, int which, const void *p, size_t n)
{
    if (k->hs && which)
        capsule_hasher_update (k->hs, which, p, n);
    if (k->mem) {
        assert (n <= k->mem_cap - k->mem_len);
        memcpy (k->mem + k->mem_len, p, n);
        k->mem_len += n;
        return 0;
    }
    return s_write_all (k->fd, p, n);
}

/* ---- plaintext input ------------------------------------------------------ */

typedef struct {
    int fd;             /* or -1 for buf */
    const uint8_t *buf; /* buffer input */
    size_t len;
    size_t pos;
    uint8_t *scratch[2]; /* fd input: two chunk buffers, used in turn */
    unsigned turn;
    uint64_t consumed;
} s_plain_t;

/* Reads up to n bytes, fewer only at end of input. Returns the count, or
   -1 with errno set. */
static ssize_t
s_read_full (int fd, uint8_t *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read (fd, p + got, n - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -1;
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

/* The next up to CAPSULE_CHUNK plaintext bytes: *data points into the
   caller's buffer or into a scratch buffer that stays valid until the call
   after next. Returns 0 or WD_ERR_IO. */
static int
s_plain_next (s_plain_t *src, const uint8_t **data, size_t *n)
{
    if (src->fd < 0) {
        size_t left = src->len - src->pos;
        *n = left < CAPSULE_CHUNK ? left : CAPSULE_CHUNK;
        *data = src->buf + src->pos;
        src->pos += *n;
    } else {
        uint8_t *buf = src->scratch[src->turn];
        src->turn ^= 1;
        ssize_t r = s_read_full (src->fd, buf, CAPSULE_CHUNK);
        if (r < 0)
            return WD_ERR_IO;
        *data = buf;
        *n = (size_t)r;
    }
    src->consumed += *n;
    return 0;
}

/* Encrypts all of src into sink. expected is the plaintext length already
   promised in the capsule head, or UINT64_MAX when unknown (spooling):
   reading more (or less) than promised is CAPSULE_ERR_INPUT_CHANGED, and
   more than CAPSULE_PLAIN_MAX is CAPSULE_ERR_CAPSULE_OVERSIZE. */
static int
s_encrypt (crypto_secretstream_xchacha20poly1305_state *st, s_plain_t *src, uint64_t expected,
           s_sink_t *sink, uint64_t *plain_len)
{
    uint8_t *ct = malloc (S_CT_CHUNK);
    if (!ct)
        return WD_ERR_NOMEM;
    const uint8_t *cur, *next;
    size_t cur_n, next_n = 0;
    int rc = s_plain_next (src, &cur, &cur_n);
    while (rc == 0) {
        bool final = cur_n < CAPSULE_CHUNK;
        if (!final) {
            rc = s_plain_next (src, &next, &next_n);
            if (rc != 0)
                break;
            final = next_n == 0;
        }
        uint64_t through = src->consumed - (final ? 0 : next_n);
        if (expected != UINT64_MAX && through > expected) {
            rc = CAPSULE_ERR_INPUT_CHANGED;
            break;
        }
        if (through > CAPSULE_PLAIN_MAX) {
            rc = CAPSULE_ERR_CAPSULE_OVERSIZE;
            break;
        }
        unsigned char tag = final ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        crypto_secretstream_xchacha20poly1305_push (st, ct, NULL, cur, cur_n, NULL, 0, tag);
        rc = s_sink_put (sink, CAPSULE_HASH_BOTH, ct, cur_n + CAPSULE_CHUNK_ABYTES);
        if (rc != 0 || final) {
            *plain_len = through;
            break;
        }
        cur = next;
        cur_n = next_n;
    }
    if (rc == 0 && expected != UINT64_MAX && *plain_len != expected)
        rc = CAPSULE_ERR_INPUT_CHANGED;
    free (ct);
    return rc;
}

/* ---- sealing ----------------------------------------------------------- */

static int
s_cmp_wrap (const void *a, const void *b)
{
    return memcmp (((const capsule_wrap_t *)a)->to, ((const capsule_wrap_t *)b)->to,
                   CAPSULE_CURVE_LEN);
}

static bool
s_policy_valid (const capsule_policy_t *p)
{
    if (p->n_code > CAPSULE_POLICY_LIST_MAX || p->n_nodes > CAPSULE_POLICY_LIST_MAX ||
        p->n_measurements > CAPSULE_POLICY_LIST_MAX ||
        p->n_key_protection > CAPSULE_POLICY_LIST_MAX ||
        (unsigned)p->min_tier > CAPSULE_TIER_AFFIRMING)
        return false;
    for (size_t i = 0; i < p->n_key_protection; i++)
        if (!capsule_keyprot_valid (p->key_protection[i],
                                    strnlen (p->key_protection[i], CAPSULE_KEYPROT_MAX + 1)))
            return false;
    return true;
}

/* Fills h's fields known before the payload: kind, chain, owner, policy,
   wraps. */
static int
s_prepare (const capsule_seal_params_t *p, const capsule_key_t *key, capsule_header_t *h)
{
    if (!p->recipients || p->n_recipients < 1 || p->n_recipients > CAPSULE_WRAPS_MAX ||
        (unsigned)p->kind > CAPSULE_KIND_RESULT || (p->policy && !s_policy_valid (p->policy)))
        return CAPSULE_ERR_SEAL_PARAMS;
    h->kind = p->kind;
    memcpy (h->chain, p->chain, WD_CHAIN_ID_LEN);
    memcpy (h->owner, p->owner_sk ? p->owner_sk + 32 : p->owner, WD_PUBKEY_LEN);
    if (p->policy)
        h->policy = *p->policy;
    else
        capsule_policy_init (&h->policy);
    capsule_policy_normalize (&h->policy);

    for (size_t i = 0; i < p->n_recipients; i++)
        memcpy (h->wraps[i].to, p->recipients[i], CAPSULE_CURVE_LEN);
    qsort (h->wraps, p->n_recipients, sizeof h->wraps[0], s_cmp_wrap);
    size_t n = 0;
    for (size_t i = 0; i < p->n_recipients; i++)
        if (n == 0 || memcmp (h->wraps[n - 1].to, h->wraps[i].to, CAPSULE_CURVE_LEN) != 0)
            memmove (h->wraps[n++].to, h->wraps[i].to, CAPSULE_CURVE_LEN);
    h->n_wraps = n;
    for (size_t i = 0; i < n; i++) {
        int rc = capsule_wrap_seal (key, h->wraps[i].to, h->wraps[i].key);
        if (rc != 0)
            return rc;
    }
    return 0;
}

/* An unlinked temporary file for spooled ciphertext, or -1. */
static int
s_spool_open (void)
{
    const char *dir = getenv ("TMPDIR");
    if (!dir || !*dir)
        dir = "/tmp";
    int fd = open (dir, O_TMPFILE | O_RDWR | O_EXCL | O_CLOEXEC, 0600);
    if (fd >= 0 || (errno != EOPNOTSUPP && errno != EISDIR && errno != EINVAL))
        return fd;
    char path[4096];
    int n = snprintf (path, sizeof path, "%s/capsule-spool-XXXXXX", dir);
    if (n < 0 || (size_t)n >= sizeof path)
        return -1;
    fd = mkostemp (path, O_CLOEXEC);
    if (fd >= 0)
        unlink (path);
    return fd;
}

/* Copies n spooled ciphertext bytes from spool (at offset 0) to sink. */
static int
s_copy_spool (int spool, uint64_t n, s_sink_t *sink)
{
    enum { BLOCK = 1 << 20 };
    uint8_t *block = malloc (BLOCK);
    if (!block)
        return WD_ERR_NOMEM;
    int rc = 0;
    for (uint64_t off = 0; rc == 0 && off < n; off += BLOCK) {
        size_t want = n - off < BLOCK ? (size_t)(n - off) : BLOCK;
        ssize_t r = pread (spool, block, want, (off_t)off);
        if (r < 0 && errno == EINTR) {
            off -= BLOCK;
            continue;
        }
        if (r != (ssize_t)want) {
            rc = WD_ERR_IO;
            break;
        }
        rc = s_sink_put (sink, CAPSULE_HASH_BOTH, block, want);
    }
    free (block);
    return rc;
}

/* The whole seal: src is the plaintext; the capsule goes to out_fd, or to
   memory (*mem_out) when out_fd is -1. */
static int
s_seal (const capsule_seal_params_t *p, s_plain_t *src, int out_fd, uint8_t **mem_out,
        size_t *mem_len, uint8_t id[CAPSULE_ID_LEN])
{
    assert (p && p->chain && (p->owner_sk || (p->owner && p->sign)) && id);
    int rc;
    int spool = -1;
    uint8_t *meta = NULL;
    capsule_hasher_t *hs = NULL;
    crypto_secretstream_xchacha20poly1305_state st;
    s_sink_t sink = { .fd = out_fd };
    capsule_header_t *h = calloc (1, sizeof *h);
    capsule_key_t *own_key = p->key ? NULL : capsule_key_new ();
    const capsule_key_t *key = p->key ? p->key : own_key;
    if (!h || !key) {
        rc = WD_ERR_NOMEM;
        goto out;
    }
    rc = s_prepare (p, key, h);
    if (rc != 0)
        goto out;
    crypto_secretstream_xchacha20poly1305_init_push (&st, h->stream_header,
                                                     capsule_key_bytes (key));

    /* The plaintext length decides the head: known for buffers and regular
       files, otherwise found by encrypting into the spool first. */
    uint64_t expected = UINT64_MAX;
    if (src->fd < 0)
        expected = src->len;
    else {
        struct stat sb;
        off_t pos;
        if (fstat (src->fd, &sb) != 0) {
            rc = WD_ERR_IO;
            goto out;
        }
        if (S_ISREG (sb.st_mode) && (pos = lseek (src->fd, 0, SEEK_CUR)) >= 0)
            expected = sb.st_size > pos ? (uint64_t)(sb.st_size - pos) : 0;
    }
    if (expected != UINT64_MAX && expected > CAPSULE_PLAIN_MAX) {
        rc = CAPSULE_ERR_CAPSULE_OVERSIZE;
        goto out;
    }
    if (expected == UINT64_MAX) {
        spool = s_spool_open ();
        if (spool < 0) {
            rc = WD_ERR_IO;
            goto out;
        }
        s_sink_t spool_sink = { .fd = spool };
        rc = s_encrypt (&st, src, UINT64_MAX, &spool_sink, &h->plain_len);
        if (rc != 0)
            goto out;
    } else
        h->plain_len = expected;
    h->ct_len = capsule_ciphertext_len (h->plain_len);

    uint8_t head[CAPSULE_HEAD_MAX];
    size_t head_len = capsule_layout_head (head, h->chain, h->ct_len);
    size_t mid_len, tail_len;
    meta = capsule_layout_meta (h, &mid_len, &tail_len);
    uint64_t total = head_len + h->ct_len + mid_len + CAPSULE_SIG_ENTRY_LEN + tail_len;
    hs = capsule_hasher_new (h->chain);
    if (!hs) {
        rc = WD_ERR_NOMEM;
        goto out;
    }
    sink.hs = hs;
    if (mem_out) {
        if (total > SIZE_MAX || !(sink.mem = malloc ((size_t)total))) {
            rc = WD_ERR_NOMEM;
            goto out;
        }
        sink.mem_cap = (size_t)total;
    }
    capsule_hasher_head (hs, head, head_len);
    rc = s_sink_put (&sink, 0, head, head_len);
    if (rc == 0) {
        if (spool >= 0)
            rc = s_copy_spool (spool, h->ct_len, &sink);
        else {
            uint64_t got = 0;
            rc = s_encrypt (&st, src, expected, &sink, &got);
        }
    }
    if (rc == 0)
        rc = s_sink_put (&sink, CAPSULE_HASH_BOTH, meta, mid_len);
    if (rc != 0)
        goto out;

    /* The signed body ends with the tail; the sig entry sits before it. */
    uint8_t digest[WD_DIGEST_LEN], sig_entry[CAPSULE_SIG_ENTRY_LEN];
    capsule_hasher_update (hs, CAPSULE_HASH_DIGEST, meta + mid_len, tail_len);
    capsule_hasher_final (hs, CAPSULE_HASH_DIGEST, digest);
    if (p->owner_sk)
        crypto_sign_detached (h->sig, NULL, digest, sizeof digest, p->owner_sk);
    else if ((rc = p->sign (p->sign_ctx, digest, h->sig)) != 0)
        goto out;
    if (crypto_sign_verify_detached (h->sig, digest, sizeof digest, h->owner) != 0) {
        rc = CAPSULE_ERR_CAPSULE_SIGNATURE; /* the signer holds another key than owner */
        goto out;
    }
    capsule_layout_sig_entry (sig_entry, h->sig);
    rc = s_sink_put (&sink, CAPSULE_HASH_ID, sig_entry, sizeof sig_entry);
    if (rc == 0)
        rc = s_sink_put (&sink, CAPSULE_HASH_ID, meta + mid_len, tail_len);
    if (rc != 0)
        goto out;
    capsule_hasher_final (hs, CAPSULE_HASH_ID, id);
    if (mem_out) {
        assert (sink.mem_len == total);
        *mem_out = sink.mem;
        *mem_len = sink.mem_len;
        sink.mem = NULL;
    }
out:
    sodium_memzero (&st, sizeof st);
    free (sink.mem);
    capsule_hasher_destroy (&hs);
    free (meta);
    if (spool >= 0)
        close (spool);
    capsule_key_destroy (&own_key);
    free (h);
    return rc;
}

int
capsule_seal_fd (const capsule_seal_params_t *params, int in_fd, int out_fd,
                 uint8_t id[CAPSULE_ID_LEN])
{
    s_plain_t src = { .fd = in_fd };
    src.scratch[0] = malloc (CAPSULE_CHUNK);
    src.scratch[1] = malloc (CAPSULE_CHUNK);
    int rc = WD_ERR_NOMEM;
    if (src.scratch[0] && src.scratch[1])
        rc = s_seal (params, &src, out_fd, NULL, NULL, id);
    /* The scratch buffers held plaintext. */
    for (int i = 0; i < 2; i++)
        if (src.scratch[i]) {
            sodium_memzero (src.scratch[i], CAPSULE_CHUNK);
            free (src.scratch[i]);
        }
    return rc;
}

int
capsule_seal_buf (const capsule_seal_params_t *params, const void *plain, size_t len, int out_fd,
                  uint8_t id[CAPSULE_ID_LEN])
{
    assert (plain || len == 0);
    s_plain_t src = { .fd = -1, .buf = plain, .len = len };
    return s_seal (params, &src, out_fd, NULL, NULL, id);
}

int
capsule_seal_mem (const capsule_seal_params_t *params, const void *plain, size_t len, uint8_t **out,
                  size_t *out_len, uint8_t id[CAPSULE_ID_LEN])
{
    assert ((plain || len == 0) && out && out_len);
    *out = NULL;
    *out_len = 0;
    s_plain_t src = { .fd = -1, .buf = plain, .len = len };
    return s_seal (params, &src, -1, out, out_len, id);
}

/* ---- opening ----------------------------------------------------------- */

static int
s_open (const capsule_header_t *h, const uint8_t *buf, size_t buf_len, int capsule_fd,
        const capsule_key_t *key, s_sink_t *sink)
{
    assert (h && key);
    if (buf && h->ct_offset + h->ct_len > buf_len)
        return CAPSULE_ERR_CAPSULE_TRUNCATED;
    crypto_secretstream_xchacha20poly1305_state st;
    if (crypto_secretstream_xchacha20poly1305_init_pull (&st, h->stream_header,
                                                         capsule_key_bytes (key)) != 0)
        return CAPSULE_ERR_CAPSULE_ENC;
    uint8_t *plain = malloc (CAPSULE_CHUNK);
    uint8_t *ct = buf ? NULL : malloc (S_CT_CHUNK);
    int rc = 0;
    if (!plain || (!buf && !ct)) {
        rc = WD_ERR_NOMEM;
        goto out;
    }
    uint64_t off = 0;
    while (off < h->ct_len) {
        uint64_t left = h->ct_len - off;
        size_t n = left < S_CT_CHUNK ? (size_t)left : S_CT_CHUNK;
        bool last = n == left;
        const uint8_t *c;
        if (buf)
            c = buf + h->ct_offset + off;
        else {
            size_t got = 0;
            while (got < n) {
                ssize_t r =
                    pread (capsule_fd, ct + got, n - got, (off_t)(h->ct_offset + off + got));
                if (r < 0 && errno == EINTR)
                    continue;
                if (r < 0) {
                    rc = WD_ERR_IO;
                    goto out;
                }
                if (r == 0) {
                    rc = CAPSULE_ERR_CAPSULE_TRUNCATED;
                    goto out;
                }
                got += (size_t)r;
            }
            c = ct;
        }
        unsigned long long plain_n;
        unsigned char tag;
        if (n < CAPSULE_CHUNK_ABYTES || crypto_secretstream_xchacha20poly1305_pull (
                                            &st, plain, &plain_n, &tag, c, n, NULL, 0) != 0) {
            rc = CAPSULE_ERR_CHUNK_AUTH;
            goto out;
        }
        unsigned char want = last ? crypto_secretstream_xchacha20poly1305_TAG_FINAL
                                  : crypto_secretstream_xchacha20poly1305_TAG_MESSAGE;
        if (tag != want) {
            rc = CAPSULE_ERR_STREAM_FINAL;
            goto out;
        }
        rc = s_sink_put (sink, 0, plain, (size_t)plain_n);
        if (rc != 0)
            goto out;
        off += n;
    }
out:
    sodium_memzero (&st, sizeof st);
    if (plain) {
        sodium_memzero (plain, CAPSULE_CHUNK);
        free (plain);
    }
    free (ct);
    return rc;
}

int
capsule_open_fd (const capsule_header_t *h, int capsule_fd, const capsule_key_t *key, int out_fd)
{
    s_sink_t sink = { .fd = out_fd };
    return s_open (h, NULL, 0, capsule_fd, key, &sink);
}

int
capsule_open_buf (const capsule_header_t *h, const uint8_t *buf, size_t len,
                  const capsule_key_t *key, int out_fd)
{
    assert (buf);
    s_sink_t sink = { .fd = out_fd };
    return s_open (h, buf, len, -1, key, &sink);
}

int
capsule_open_mem (const capsule_header_t *h, const uint8_t *buf, size_t len,
                  const capsule_key_t *key, uint8_t **out, size_t *out_len)
{
    assert (h && buf && out && out_len);
    *out = NULL;
    *out_len = 0;
    if (h->plain_len > SIZE_MAX)
        return WD_ERR_NOMEM;
    s_sink_t sink = { .fd = -1, .mem_cap = (size_t)h->plain_len };
    sink.mem = malloc (h->plain_len ? (size_t)h->plain_len : 1);
    if (!sink.mem)
        return WD_ERR_NOMEM;
    int rc = s_open (h, buf, len, -1, key, &sink);
    if (rc != 0 || sink.mem_len != h->plain_len) {
        sodium_memzero (sink.mem, sink.mem_cap);
        free (sink.mem);
        return rc != 0 ? rc : CAPSULE_ERR_CAPSULE_LENGTH;
    }
    if (h->plain_len == 0) {
        free (sink.mem);
        sink.mem = NULL;
    }
    *out = sink.mem;
    *out_len = sink.mem_len;
    return 0;
}
