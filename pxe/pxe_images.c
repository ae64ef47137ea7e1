/*
 * pxe_images: the approved boot set, verified into sealed memfds, and the
 * per-boot script generator (see pxe_images.h and "HTTP boot and approved
 * images" in docs/PROTOCOL.md).
 */
#include "pxe_images.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wd_hash.h"
#include "wd_log.h"

#define S_DEFAULT_SIZE_MAX   (1024ull * 1024 * 1024)
#define S_DEFAULT_TOKEN_TTL  600
#define S_DEFAULT_TOKENS_MAX 64
#define S_COPY_CHUNK         (256 * 1024)
#define S_MANIFEST_MAX       (64 * 1024)

typedef struct {
    pxe_image_role_t role;
    char name[PXE_PATH_MAX + 1];
    uint8_t approved[32];
    int memfd;          /* sealed verified copy, or -1 */
    uint64_t size;      /* of the copy */
    struct stat st;     /* the disk file the copy came from */
    int failure;        /* last verification failure (0: none) */
    bool failed_stat;   /* bad_st holds the file that failed */
    struct stat bad_st; /* not re-hashed until it changes */
    char *text;         /* the script template, NUL-terminated */
} s_entry_t;

typedef struct {
    uint8_t token[PXE_IMAGES_TOKEN_LEN];
    int64_t expires; /* 0: free slot */
} s_token_t;

struct pxe_images {
    int root_fd;
    bool no_openat2;
    pxe_images_config_t config;
    s_entry_t entries[PXE_IMAGES_MAX];
    size_t count;
    bool has_attest;
    char endpoint[PXE_IMAGES_ENDPOINT_MAX + 1];
    uint8_t server_key[32];
    s_token_t *tokens; /* sodium_malloc'ed, config.tokens_max */
    pxe_images_token_fn *token_fn;
    void *token_arg;
};

static const char *const s_role_names[] = { "script", "kernel", "initrd", "ipxe", "file" };

const char *
pxe_image_role_name (pxe_image_role_t role)
{
    return (unsigned)role < sizeof s_role_names / sizeof *s_role_names ? s_role_names[role] : "?";
}

/* ---- manifest ---------------------------------------------------------------------------- */

static bool
s_blank (char c)
{
    return c == ' ' || c == '\t';
}

/* The next blank-separated field of line[*pos..len); NULL when none. */
static const char *
s_field (const char *line, size_t len, size_t *pos, size_t *flen)
{
    while (*pos < len && s_blank (line[*pos]))
        (*pos)++;
    if (*pos >= len)
        return NULL;
    size_t start = *pos;
    while (*pos < len && !s_blank (line[*pos]))
        (*pos)++;
    *flen = *pos - start;
    return line + start;
}

static int
s_parse_line (const char *line, size_t len, pxe_images_entry_fn *fn, void *arg)
{
    if (len > PXE_IMAGES_LINE_MAX)
        return PXE_ERR_IMAGE_MANIFEST_SYNTAX;
    if (len && line[len - 1] == '\r')
        len--;
    for (size_t i = 0; i < len; i++)
        if (((unsigned char)line[i] < 0x20 && line[i] != '\t') || line[i] == 0x7f)
            return PXE_ERR_IMAGE_MANIFEST_SYNTAX;
    size_t pos = 0, rlen, nlen, dlen, xlen;
    const char *role = s_field (line, len, &pos, &rlen);
    if (!role || role[0] == '#')
        return 0;
    const char *name = s_field (line, len, &pos, &nlen);
    const char *hex = name ? s_field (line, len, &pos, &dlen) : NULL;
    if (!hex || s_field (line, len, &pos, &xlen))
        return PXE_ERR_IMAGE_MANIFEST_SYNTAX;
    int r = -1;
    for (size_t i = 0; i < sizeof s_role_names / sizeof *s_role_names; i++)
        if (strlen (s_role_names[i]) == rlen && memcmp (s_role_names[i], role, rlen) == 0)
            r = (int)i;
    if (r < 0)
        return PXE_ERR_IMAGE_ROLE;
    char nbuf[PXE_PATH_MAX + 2], path[PXE_PATH_MAX + 1], hbuf[2 * 32 + 1];
    if (nlen >= sizeof nbuf)
        return PXE_ERR_PATH_NAME;
    memcpy (nbuf, name, nlen);
    nbuf[nlen] = '\0';
    int rc = pxe_path_check (nbuf, path, sizeof path);
    if (rc)
        return rc;
    uint8_t sha[32];
    if (dlen != 64)
        return PXE_ERR_IMAGE_MANIFEST_SYNTAX;
    memcpy (hbuf, hex, 64);
    hbuf[64] = '\0';
    if (!wd_hex_decode (sha, sizeof sha, hbuf))
        return PXE_ERR_IMAGE_MANIFEST_SYNTAX;
    return fn ? fn (arg, (pxe_image_role_t)r, path, sha) : 0;
}

int
pxe_images_manifest_parse (const char *text, size_t len, pxe_images_entry_fn *fn, void *arg,
                           size_t *line_no)
{
    assert (text || len == 0);
    size_t at = 0, line = 0;
    int rc = 0;
    while (at < len) {
        line++;
        const char *nl = memchr (text + at, '\n', len - at);
        size_t llen = nl ? (size_t)(nl - (text + at)) : len - at;
        rc = s_parse_line (text + at, llen, fn, arg);
        if (rc)
            break;
        at += llen + (nl ? 1 : 0);
    }
    if (line_no)
        *line_no = rc ? line : 0;
    return rc;
}

/* ---- the set ----------------------------------------------------------------------------- */

pxe_images_t *
pxe_images_new (int root_fd, const pxe_images_config_t *config)
{
    pxe_images_t *self = sodium_init () < 0 ? NULL : calloc (1, sizeof *self);
    if (!self) {
        close (root_fd);
        return NULL;
    }
    self->root_fd = root_fd;
    if (config)
        self->config = *config;
    if (!self->config.size_max)
        self->config.size_max = S_DEFAULT_SIZE_MAX;
    if (!self->config.token_ttl_s)
        self->config.token_ttl_s = S_DEFAULT_TOKEN_TTL;
    if (!self->config.tokens_max)
        self->config.tokens_max = S_DEFAULT_TOKENS_MAX;
    self->tokens = sodium_allocarray (self->config.tokens_max, sizeof (s_token_t));
    if (!self->tokens) {
        close (root_fd);
        free (self);
        return NULL;
    }
    sodium_memzero (self->tokens, self->config.tokens_max * sizeof (s_token_t));
    return self;
}

static void
s_entry_clear_copy (s_entry_t *e)
{
    if (e->memfd >= 0)
        close (e->memfd);
    e->memfd = -1;
    free (e->text);
    e->text = NULL;
}

void
pxe_images_destroy (pxe_images_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pxe_images_t *self = *self_p;
        for (size_t i = 0; i < self->count; i++)
            s_entry_clear_copy (&self->entries[i]);
        sodium_free (self->tokens);
        sodium_memzero (self->server_key, sizeof self->server_key);
        close (self->root_fd);
        free (self);
        *self_p = NULL;
    }
}

static s_entry_t *
s_find (pxe_images_t *self, const char *path)
{
    for (size_t i = 0; i < self->count; i++)
        if (strcmp (self->entries[i].name, path) == 0)
            return &self->entries[i];
    return NULL;
}

static s_entry_t *
s_find_role (pxe_images_t *self, pxe_image_role_t role)
{
    for (size_t i = 0; i < self->count; i++)
        if (self->entries[i].role == role)
            return &self->entries[i];
    return NULL;
}

static bool
s_single_role (pxe_image_role_t role)
{
    return role == PXE_IMAGE_SCRIPT || role == PXE_IMAGE_KERNEL || role == PXE_IMAGE_INITRD;
}

int
pxe_images_approve (pxe_images_t *self, pxe_image_role_t role, const char *name,
                    const uint8_t sha256[32])
{
    assert (self && name && sha256);
    assert ((unsigned)role <= PXE_IMAGE_FILE);
    char path[PXE_PATH_MAX + 1];
    int rc = pxe_path_check (name, path, sizeof path);
    if (rc)
        return rc;
    if (s_find (self, path) || (s_single_role (role) && s_find_role (self, role)))
        return PXE_ERR_IMAGE_DUPLICATE;
    if (self->count == PXE_IMAGES_MAX)
        return WD_ERR_OVERSIZE;
    s_entry_t *e = &self->entries[self->count++];
    memset (e, 0, sizeof *e);
    e->role = role;
    memcpy (e->name, path, strlen (path) + 1);
    memcpy (e->approved, sha256, 32);
    e->memfd = -1;
    return 0;
}

static int
s_approve_cb (void *arg, pxe_image_role_t role, const char *name, const uint8_t sha256[32])
{
    return pxe_images_approve (arg, role, name, sha256);
}

int
pxe_images_load_manifest (pxe_images_t *self, const char *path, size_t *line_no)
{
    assert (self && path);
    if (line_no)
        *line_no = 0;
    FILE *f = fopen (path, "re");
    if (!f)
        return errno == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO;
    char *buf = malloc (S_MANIFEST_MAX + 1);
    size_t n = buf ? fread (buf, 1, S_MANIFEST_MAX + 1, f) : 0;
    int rc = !buf                 ? WD_ERR_NOMEM
             : ferror (f)         ? WD_ERR_IO
             : n > S_MANIFEST_MAX ? WD_ERR_OVERSIZE
                                  : 0;
    fclose (f);
    if (rc == 0) {
        size_t before = self->count;
        rc = pxe_images_manifest_parse (buf, n, s_approve_cb, self, line_no);
        if (rc)
            self->count = before; /* all or nothing (entries hold no copies yet) */
    }
    free (buf);
    return rc;
}

static bool
s_host_char (char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' ||
           c == '-';
}

int
pxe_images_set_attest (pxe_images_t *self, const char *endpoint, const uint8_t server_key[32])
{
    assert (self && endpoint && server_key);
    size_t len = strlen (endpoint);
    if (len > PXE_IMAGES_ENDPOINT_MAX || strncmp (endpoint, "tcp://", 6) != 0)
        return PXE_ERR_IMAGE_ENDPOINT;
    const char *host = endpoint + 6;
    const char *colon = strrchr (host, ':');
    if (!colon || colon == host)
        return PXE_ERR_IMAGE_ENDPOINT;
    if (host[0] == '[') {
        if (colon[-1] != ']' || colon - host < 3)
            return PXE_ERR_IMAGE_ENDPOINT;
        for (const char *p = host + 1; p < colon - 1; p++)
            if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f') ||
                  (*p >= 'A' && *p <= 'F') || *p == ':' || *p == '.'))
                return PXE_ERR_IMAGE_ENDPOINT;
    } else
        for (const char *p = host; p < colon; p++)
            if (!s_host_char (*p))
                return PXE_ERR_IMAGE_ENDPOINT;
    const char *port = colon + 1;
    size_t plen = strlen (port);
    if (plen == 0 || plen > 5 || port[0] == '0')
        return PXE_ERR_IMAGE_ENDPOINT;
    unsigned long v = 0;
    for (const char *p = port; *p; p++) {
        if (*p < '0' || *p > '9')
            return PXE_ERR_IMAGE_ENDPOINT;
        v = v * 10 + (unsigned long)(*p - '0');
    }
    if (v > 65535)
        return PXE_ERR_IMAGE_ENDPOINT;
    memcpy (self->endpoint, endpoint, len + 1);
    memcpy (self->server_key, server_key, 32);
    self->has_attest = true;
    return 0;
}

size_t
pxe_images_count (const pxe_images_t *self)
{
    assert (self);
    return self->count;
}

/* ---- verification ------------------------------------------------------------------------ */

static const char *const s_vars[] = { "server",   "server_key", "token",  "cmdline",
                                      "base_url", "kernel",     "initrd", "client" };
#define S_NVARS (sizeof s_vars / sizeof *s_vars)

/* The variable named at p ("{{name}}"), its index, and the length of the
   whole placeholder; -1 when p does not start a known placeholder. */
static int
s_var_at (const char *p, size_t left, size_t *plen)
{
    if (left < 4 || p[0] != '{' || p[1] != '{')
        return -1;
    for (size_t i = 0; i < S_NVARS; i++) {
        size_t n = strlen (s_vars[i]);
        if (left >= n + 4 && memcmp (p + 2, s_vars[i], n) == 0 && p[2 + n] == '}' &&
            p[3 + n] == '}') {
            *plen = n + 4;
            return (int)i;
        }
    }
    return -1;
}

static int
s_template_check (const char *text, size_t len)
{
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\0')
            return PXE_ERR_IMAGE_TEMPLATE;
        if (text[i] == '{' && i + 1 < len && text[i + 1] == '{') {
            size_t plen;
            if (s_var_at (text + i, len - i, &plen) < 0)
                return PXE_ERR_IMAGE_TEMPLATE;
            i += plen - 1;
        }
    }
    return 0;
}

static bool
s_same_file (const struct stat *a, const struct stat *b)
{
    return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
           a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec &&
           a->st_ctim.tv_sec == b->st_ctim.tv_sec && a->st_ctim.tv_nsec == b->st_ctim.tv_nsec;
}

/* Copies fd into a new memfd while hashing the bytes copied; keeps the
   copy (sealed) only when they match the approved digest. */
static int
s_verify_copy (pxe_images_t *self, s_entry_t *e, int fd, const struct stat *st)
{
    if ((uint64_t)st->st_size > self->config.size_max ||
        (e->role == PXE_IMAGE_SCRIPT && st->st_size > PXE_IMAGES_TEMPLATE_MAX))
        return PXE_ERR_IMAGE_TOO_LARGE;
    char label[32];
    snprintf (label, sizeof label, "warden-image-%s", pxe_image_role_name (e->role));
    int mfd = memfd_create (label, MFD_CLOEXEC | MFD_ALLOW_SEALING);
    uint8_t *buf = malloc (S_COPY_CHUNK);
    EVP_MD_CTX *sha = EVP_MD_CTX_new ();
    int rc = PXE_ERR_IMAGE_SEAL;
    uint64_t total = 0;
    uint8_t digest[32];
    if (mfd < 0 || !buf || !sha || EVP_DigestInit_ex (sha, EVP_sha256 (), NULL) != 1)
        goto out;
    for (;;) {
        ssize_t r = read (fd, buf, S_COPY_CHUNK);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            rc = WD_ERR_IO;
            goto out;
        }
        if (r == 0)
            break;
        total += (uint64_t)r;
        if (total > self->config.size_max ||
            (e->role == PXE_IMAGE_SCRIPT && total > PXE_IMAGES_TEMPLATE_MAX)) {
            rc = PXE_ERR_IMAGE_TOO_LARGE; /* it grew while being read */
            goto out;
        }
        if (EVP_DigestUpdate (sha, buf, (size_t)r) != 1)
            goto out;
        for (ssize_t w = 0; w < r;) {
            ssize_t n = write (mfd, buf + w, (size_t)(r - w));
            if (n < 0 && errno == EINTR)
                continue;
            if (n <= 0)
                goto out;
            w += n;
        }
    }
    if (EVP_DigestFinal_ex (sha, digest, NULL) != 1)
        goto out;
    if (sodium_memcmp (digest, e->approved, 32) != 0) {
        rc = PXE_ERR_IMAGE_DIGEST;
        goto out;
    }
    if (fcntl (mfd, F_ADD_SEALS, F_SEAL_WRITE | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_SEAL) < 0)
        goto out;
    char *text = NULL;
    if (e->role == PXE_IMAGE_SCRIPT) {
        text = malloc (total + 1);
        if (!text || pread (mfd, text, total, 0) != (ssize_t)total) {
            free (text);
            goto out;
        }
        text[total] = '\0';
        rc = s_template_check (text, total);
        if (rc) {
            free (text);
            goto out;
        }
    }
    s_entry_clear_copy (e);
    e->memfd = mfd;
    mfd = -1;
    e->text = text;
    e->size = total;
    e->st = *st;
    rc = 0;
out:
    if (mfd >= 0)
        close (mfd);
    free (buf);
    EVP_MD_CTX_free (sha);
    return rc;
}

static void
s_log_failure (const s_entry_t *e, int rc)
{
    wd_log_warnx ("image %s (%s) refused: %s (%s)", e->name, pxe_image_role_name (e->role),
                  pxe_strerror (rc), pxe_err_name (rc));
}

/* Makes sure e's copy stands for the file on disk now: re-verifies it when
   the file changed, refuses it when it is gone or no longer matches. */
static int
s_check (pxe_images_t *self, s_entry_t *e)
{
    int fd = -1;
    struct stat st;
    int rc = pxe_path_open (self->root_fd, e->name, &self->no_openat2, &fd, &st);
    if (rc == PXE_ERR_PATH_NOT_FOUND)
        rc = PXE_ERR_IMAGE_MISSING;
    if (rc == 0 && e->memfd >= 0 && s_same_file (&st, &e->st)) {
        close (fd);
        return 0;
    }
    if (rc == 0 && e->failed_stat && s_same_file (&st, &e->bad_st)) {
        close (fd);
        return e->failure; /* the same bad file: already logged */
    }
    if (rc == 0) {
        rc = s_verify_copy (self, e, fd, &st);
        close (fd);
        if (rc == 0) {
            if (e->failure)
                wd_log_info ("image %s verified again", e->name);
            e->failure = 0;
            e->failed_stat = false;
            return 0;
        }
        e->failed_stat = true;
        e->bad_st = st;
    } else
        e->failed_stat = false;
    /* A file that changed into something unapproved (or vanished) is
       refused: the sealed copy of its earlier content is dropped too. */
    s_entry_clear_copy (e);
    if (rc != e->failure)
        s_log_failure (e, rc);
    e->failure = rc;
    return rc;
}

int
pxe_images_verify (pxe_images_t *self)
{
    assert (self);
    int first = 0;
    if (!s_find_role (self, PXE_IMAGE_SCRIPT) || !s_find_role (self, PXE_IMAGE_KERNEL) ||
        !s_find_role (self, PXE_IMAGE_INITRD))
        first = PXE_ERR_IMAGE_INCOMPLETE;
    for (size_t i = 0; i < self->count; i++) {
        int rc = s_check (self, &self->entries[i]);
        if (rc && !first)
            first = rc;
    }
    return first;
}

/* ---- tokens and the boot script ---------------------------------------------------------- */

static int64_t
s_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec;
}

static void
s_token_issue (pxe_images_t *self, uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *client)
{
    int64_t now = s_now ();
    s_token_t *slot = &self->tokens[0];
    for (unsigned i = 0; i < self->config.tokens_max; i++) {
        s_token_t *t = &self->tokens[i];
        if (t->expires <= now) { /* free or expired */
            slot = t;
            break;
        }
        if (t->expires < slot->expires)
            slot = t; /* full: the oldest goes */
    }
    randombytes_buf (slot->token, sizeof slot->token);
    slot->expires = now + self->config.token_ttl_s;
    memcpy (token, slot->token, PXE_IMAGES_TOKEN_LEN);
    if (self->token_fn)
        self->token_fn (self->token_arg, token, client ? client : "");
}

int
pxe_images_token_redeem (pxe_images_t *self, const uint8_t token[PXE_IMAGES_TOKEN_LEN])
{
    assert (self && token);
    int64_t now = s_now ();
    s_token_t *found = NULL;
    for (unsigned i = 0; i < self->config.tokens_max; i++) {
        s_token_t *t = &self->tokens[i];
        bool live = t->expires > now;
        if (sodium_memcmp (t->token, token, PXE_IMAGES_TOKEN_LEN) == 0 && live)
            found = t;
    }
    if (!found)
        return PXE_ERR_IMAGE_TOKEN;
    sodium_memzero (found, sizeof *found);
    return 0;
}

void
pxe_images_set_token_fn (pxe_images_t *self, pxe_images_token_fn *fn, void *arg)
{
    assert (self);
    self->token_fn = fn;
    self->token_arg = arg;
}

typedef struct {
    char *buf;
    size_t len, cap;
    bool failed;
} s_out_t;

static void
s_put (s_out_t *o, const char *s, size_t n)
{
    if (o->failed)
        return;
    if (o->len + n + 1 > o->cap) {
        size_t cap = (o->len + n + 1) * 2;
        char *b = realloc (o->buf, cap);
        if (!b) {
            o->failed = true;
            return;
        }
        o->buf = b;
        o->cap = cap;
    }
    memcpy (o->buf + o->len, s, n);
    o->len += n;
    o->buf[o->len] = '\0';
}

static void
s_puts (s_out_t *o, const char *s)
{
    s_put (o, s, strlen (s));
}

static int
s_render (pxe_images_t *self, const s_entry_t *script, const char *client, const char *base_url,
          pxe_image_file_t *out)
{
    if (!self->has_attest)
        return PXE_ERR_IMAGE_NO_ATTEST;
    uint8_t token[PXE_IMAGES_TOKEN_LEN];
    char token_hex[2 * PXE_IMAGES_TOKEN_LEN + 1], key_hex[2 * 32 + 1];
    s_token_issue (self, token, client);
    wd_hex_encode (token_hex, token, sizeof token);
    wd_hex_encode (key_hex, self->server_key, sizeof self->server_key);
    const s_entry_t *kernel = s_find_role (self, PXE_IMAGE_KERNEL);
    const s_entry_t *initrd = s_find_role (self, PXE_IMAGE_INITRD);
    s_out_t o = { 0 };
    const char *t = script->text;
    size_t len = script->size;
    for (size_t i = 0; i < len;) {
        size_t plen;
        int v = t[i] == '{' ? s_var_at (t + i, len - i, &plen) : -1;
        if (v < 0) {
            const char *next = memchr (t + i + 1, '{', len - i - 1);
            size_t n = next ? (size_t)(next - (t + i)) : len - i;
            s_put (&o, t + i, n);
            i += n;
            continue;
        }
        i += plen;
        switch (v) {
            case 0:
                s_puts (&o, self->endpoint);
                break;
            case 1:
                s_puts (&o, key_hex);
                break;
            case 2:
                s_puts (&o, token_hex);
                break;
            case 3:
                s_puts (&o, "warden.server=");
                s_puts (&o, self->endpoint);
                s_puts (&o, " warden.server_key=");
                s_puts (&o, key_hex);
                s_puts (&o, " warden.token=");
                s_puts (&o, token_hex);
                break;
            case 4:
                s_puts (&o, base_url ? base_url : "");
                break;
            case 5:
                s_puts (&o, kernel ? kernel->name : "");
                break;
            case 6:
                s_puts (&o, initrd ? initrd->name : "");
                break;
            default:
                s_puts (&o, client ? client : "");
                break;
        }
    }
    sodium_memzero (token, sizeof token);
    sodium_memzero (token_hex, sizeof token_hex);
    if (o.failed || !o.buf) {
        free (o.buf);
        return o.failed ? WD_ERR_NOMEM : PXE_ERR_IMAGE_TEMPLATE;
    }
    out->data = (uint8_t *)o.buf;
    out->size = o.len;
    wd_hash_sha256 (out->sha256, out->data, o.len);
    return 0;
}

int
pxe_images_open (pxe_images_t *self, const char *name, const char *client, const char *base_url,
                 pxe_image_file_t *out)
{
    assert (self && name && out);
    char path[PXE_PATH_MAX + 1];
    int rc = pxe_path_check (name, path, sizeof path);
    if (rc)
        return rc;
    s_entry_t *e = s_find (self, path);
    if (!e)
        return PXE_ERR_IMAGE_UNAPPROVED;
    rc = s_check (self, e);
    if (rc)
        return rc;
    memset (out, 0, sizeof *out);
    out->fd = -1;
    out->role = e->role;
    memcpy (out->name, e->name, strlen (e->name) + 1);
    memcpy (out->approved_sha256, e->approved, 32);
    if (e->role == PXE_IMAGE_SCRIPT)
        return s_render (self, e, client, base_url, out);
    out->fd = fcntl (e->memfd, F_DUPFD_CLOEXEC, 0);
    if (out->fd < 0)
        return WD_ERR_IO;
    out->size = e->size;
    memcpy (out->sha256, e->approved, 32);
    return 0;
}

void
pxe_images_file_release (pxe_image_file_t *file)
{
    assert (file);
    if (file->fd >= 0)
        close (file->fd);
    file->fd = -1;
    if (file->data) {
        sodium_memzero (file->data, file->size); /* it carries a boot token */
        free (file->data);
    }
    file->data = NULL;
}

/* ---- served-file records ----------------------------------------------------------------- */

void
pxe_images_record (pxe_images_t *self, const char *protocol, const char *file, const char *client,
                   const uint8_t sha256[32], uint64_t offset, uint64_t bytes, bool whole,
                   pxe_served_record_t *rec)
{
    assert (protocol && file && sha256 && rec);
    memset (rec, 0, sizeof *rec);
    snprintf (rec->protocol, sizeof rec->protocol, "%s", protocol);
    snprintf (rec->file, sizeof rec->file, "%s", file);
    snprintf (rec->client, sizeof rec->client, "%s", client ? client : "");
    memcpy (rec->sha256, sha256, 32);
    rec->offset = offset;
    rec->bytes = bytes;
    rec->whole = whole;
    rec->time = (int64_t)time (NULL);
    char path[PXE_PATH_MAX + 1];
    const s_entry_t *e = NULL;
    if (self && pxe_path_check (file, path, sizeof path) == 0)
        e = s_find (self, path);
    if (e) {
        memcpy (rec->approved_sha256, e->approved, 32);
        /* Served bytes come only from the sealed copy or the generated
           script; a whole file must also carry the approved digest. */
        rec->approved =
            e->role == PXE_IMAGE_SCRIPT || !whole || sodium_memcmp (sha256, e->approved, 32) == 0;
    }
}

static void
s_sanitize (char *out, size_t len, const char *in)
{
    size_t i = 0;
    for (; in[i] && i + 1 < len; i++)
        out[i] = ((unsigned char)in[i] <= 0x20 || in[i] == 0x7f) ? '_' : in[i];
    out[i] = '\0';
}

size_t
pxe_served_record_event (const pxe_served_record_t *rec, char *buf, size_t len)
{
    assert (rec);
    char file[sizeof rec->file], client[sizeof rec->client], mac[18] = "-";
    s_sanitize (file, sizeof file, rec->file);
    s_sanitize (client, sizeof client, rec->client[0] ? rec->client : "-");
    if (rec->has_mac)
        snprintf (mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", rec->mac[0], rec->mac[1],
                  rec->mac[2], rec->mac[3], rec->mac[4], rec->mac[5]);
    int n = snprintf (buf, len,
                      "pxe-served proto=%s file=%s client=%s mac=%s offset=%" PRIu64
                      " bytes=%" PRIu64 " whole=%d approved=%d time=%" PRId64,
                      rec->protocol, file, client, mac, rec->offset, rec->bytes, rec->whole ? 1 : 0,
                      rec->approved ? 1 : 0, rec->time);
    return n < 0 ? 0 : (size_t)n;
}
