/*
 * capsule_store: the content-addressed capsule store on disk (see
 * capsule_store.h for the contract, docs/PROTOCOL.md "Capsule store" for the
 * layout). Everything goes through the directory descriptor opened at
 * capsule_store_open, so names are always relative to the store and never
 * pass through a symlink (O_NOFOLLOW on every open of a stored name).
 */
#include "capsule_store.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "wd_hash.h"
#include "wd_log.h"

#define S_BUF_LEN      (64 * 1024)
#define S_TMP_PREFIX   ".tmp-"
#define S_QUARANTINE   "quarantine"
#define S_TMP_NAME_LEN (sizeof S_TMP_PREFIX - 1 + 32 + 1)

struct capsule_store {
    char *dir;
    int dirfd;
    int qfd; /* quarantine/ */
    uint64_t quota;
    uint64_t usage;
    uint64_t count;
    uint64_t pending; /* bytes written by open writers */
    uint8_t *buf;     /* S_BUF_LEN, for hashing and put_fd */
};

struct capsule_store_writer {
    capsule_store_t *store;
    int fd;
    char tmp[S_TMP_NAME_LEN];
    EVP_MD_CTX *hash; /* libcrypto uses the SHA instructions: ~4x libsodium here */
    uint64_t written;
    int failed; /* WD_OK, or the first error: later writes and commit repeat it */
};

static bool
s_is_id_name (const char *name)
{
    size_t i;
    for (i = 0; name[i]; i++) {
        char c = name[i];
        if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')))
            return false;
    }
    return i == WD_HASH_HEX_LEN;
}

static void
s_id_name (char out[WD_HASH_HEX_LEN + 1], const uint8_t id[CAPSULE_STORE_ID_LEN])
{
    wd_hex_encode (out, id, CAPSULE_STORE_ID_LEN);
}

/* Deletes a temporary file left by a dead writer: a live writer holds an
   exclusive flock on it, so only unlocked ones go. */
static void
s_clean_tmp (capsule_store_t *self, const char *name)
{
    int fd = openat (self->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW | O_NONBLOCK);
    if (fd < 0)
        return;
    if (flock (fd, LOCK_EX | LOCK_NB) == 0) {
        if (unlinkat (self->dirfd, name, 0) == 0)
            wd_log_info ("capsule store: removed stale temporary file %s", name);
    }
    close (fd);
}

/* Counts the stored capsules and cleans stale temporary files. */
static int
s_scan (capsule_store_t *self, char *why, size_t why_len)
{
    int fd = dup (self->dirfd);
    DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close (fd);
        wd_err_why (why, why_len, "%s: %s", self->dir, strerror (errno));
        return WD_ERR_IO;
    }
    rewinddir (d);
    struct dirent *e;
    while ((e = readdir (d))) {
        if (strncmp (e->d_name, S_TMP_PREFIX, sizeof S_TMP_PREFIX - 1) == 0)
            s_clean_tmp (self, e->d_name);
        else if (s_is_id_name (e->d_name)) {
            struct stat st;
            if (fstatat (self->dirfd, e->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
                S_ISREG (st.st_mode)) {
                self->usage += (uint64_t)st.st_size;
                self->count++;
            }
        }
    }
    closedir (d);
    return WD_OK;
}

int
capsule_store_open (const char *dir, uint64_t quota_bytes, capsule_store_t **out, char *why,
                    size_t why_len)
{
    assert (dir);
    assert (out);
    *out = NULL;
    if (mkdir (dir, 0700) != 0 && errno != EEXIST) {
        wd_err_why (why, why_len, "mkdir %s: %s", dir, strerror (errno));
        return WD_ERR_IO;
    }
    capsule_store_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->dirfd = -1;
    self->qfd = -1;
    self->quota = quota_bytes;
    self->dir = strdup (dir);
    self->buf = malloc (S_BUF_LEN);
    int rc = WD_ERR_NOMEM;
    if (!self->dir || !self->buf)
        goto out_free;
    rc = WD_ERR_NOT_REGULAR;
    self->dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (self->dirfd < 0) {
        wd_err_why (why, why_len, "open %s: %s", dir, strerror (errno));
        rc = errno == ENOTDIR ? WD_ERR_NOT_REGULAR : WD_ERR_IO;
        goto out_free;
    }
    rc = WD_ERR_IO;
    if (mkdirat (self->dirfd, S_QUARANTINE, 0700) != 0 && errno != EEXIST) {
        wd_err_why (why, why_len, "mkdir %s/%s: %s", dir, S_QUARANTINE, strerror (errno));
        goto out_free;
    }
    self->qfd = openat (self->dirfd, S_QUARANTINE, O_RDONLY | O_DIRECTORY | O_CLOEXEC | O_NOFOLLOW);
    if (self->qfd < 0) {
        wd_err_why (why, why_len, "open %s/%s: %s", dir, S_QUARANTINE, strerror (errno));
        goto out_free;
    }
    rc = s_scan (self, why, why_len);
    if (rc != WD_OK)
        goto out_free;
    *out = self;
    return WD_OK;

out_free:
    capsule_store_close (&self);
    return rc;
}

void
capsule_store_close (capsule_store_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        capsule_store_t *self = *self_p;
        assert (self->pending == 0 || !"capsule_store_close with writers still open");
        if (self->dirfd >= 0)
            close (self->dirfd);
        if (self->qfd >= 0)
            close (self->qfd);
        free (self->buf);
        free (self->dir);
        free (self);
        *self_p = NULL;
    }
}

/* --- Putting ------------------------------------------------------------ */

int
capsule_store_begin (capsule_store_t *self, capsule_store_writer_t **writer_p)
{
    assert (self);
    assert (writer_p);
    *writer_p = NULL;
    capsule_store_writer_t *w = calloc (1, sizeof *w);
    if (!w)
        return WD_ERR_NOMEM;
    w->store = self;
    w->fd = -1;
    /* A cleaner in another process may see the file between its creation and
       our flock and delete it; a deleted file has no links left, so check
       after locking and try another name. */
    for (int attempt = 0; attempt < 8; attempt++) {
        uint8_t rnd[16];
        char hex[33];
        randombytes_buf (rnd, sizeof rnd);
        snprintf (w->tmp, sizeof w->tmp, "%s%s", S_TMP_PREFIX,
                  wd_hex_encode (hex, rnd, sizeof rnd));
        int fd =
            openat (self->dirfd, w->tmp, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
        if (fd < 0) {
            if (errno == EEXIST)
                continue;
            wd_log_warn ("capsule store: create %s/%s", self->dir, w->tmp);
            free (w);
            return WD_ERR_IO;
        }
        struct stat st;
        if (flock (fd, LOCK_EX) != 0 || fstat (fd, &st) != 0) {
            wd_log_warn ("capsule store: lock %s/%s", self->dir, w->tmp);
            close (fd);
            (void)unlinkat (self->dirfd, w->tmp, 0);
            free (w);
            return WD_ERR_IO;
        }
        if (st.st_nlink == 0) {
            close (fd);
            continue;
        }
        w->fd = fd;
        break;
    }
    w->hash = EVP_MD_CTX_new ();
    if (w->fd < 0 || !w->hash || EVP_DigestInit_ex (w->hash, EVP_sha256 (), NULL) != 1) {
        int rc = w->fd < 0 ? WD_ERR_IO : WD_ERR_NOMEM;
        if (w->fd >= 0) {
            (void)unlinkat (self->dirfd, w->tmp, 0);
            close (w->fd);
        }
        EVP_MD_CTX_free (w->hash);
        free (w);
        return rc;
    }
    *writer_p = w;
    return WD_OK;
}

static int
s_write_all (int fd, const uint8_t *p, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, p, len);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -1;
        }
        p += n;
        len -= (size_t)n;
    }
    return 0;
}

int
capsule_store_write (capsule_store_writer_t *w, const void *data, size_t len)
{
    assert (w);
    assert (data || len == 0);
    if (w->failed != WD_OK)
        return w->failed;
    capsule_store_t *s = w->store;
    if (s->quota && (s->usage + s->pending + len > s->quota || len > s->quota)) {
        w->failed = CAPSULE_ERR_STORE_FULL;
        return w->failed;
    }
    if (s_write_all (w->fd, data, len) != 0) {
        wd_log_warn ("capsule store: write %s/%s", s->dir, w->tmp);
        w->failed = WD_ERR_IO;
        return w->failed;
    }
    if (EVP_DigestUpdate (w->hash, data, len) != 1) {
        w->failed = WD_ERR_NOMEM;
        return w->failed;
    }
    w->written += len;
    s->pending += len;
    return WD_OK;
}

static void
s_writer_free (capsule_store_writer_t **writer_p, bool unlink_tmp)
{
    capsule_store_writer_t *w = *writer_p;
    if (unlink_tmp)
        (void)unlinkat (w->store->dirfd, w->tmp, 0);
    if (w->fd >= 0)
        close (w->fd); /* releases the flock */
    w->store->pending -= w->written;
    EVP_MD_CTX_free (w->hash);
    sodium_memzero (w, sizeof *w);
    free (w);
    *writer_p = NULL;
}

void
capsule_store_abort (capsule_store_writer_t **writer_p)
{
    assert (writer_p);
    if (*writer_p)
        s_writer_free (writer_p, true);
}

int
capsule_store_commit (capsule_store_writer_t **writer_p, const uint8_t *expect_id,
                      uint8_t id_out[CAPSULE_STORE_ID_LEN])
{
    assert (writer_p && *writer_p);
    capsule_store_writer_t *w = *writer_p;
    capsule_store_t *s = w->store;
    int rc = w->failed;
    if (rc != WD_OK)
        goto out_abort;
    uint8_t id[CAPSULE_STORE_ID_LEN];
    rc = WD_ERR_NOMEM;
    if (EVP_DigestFinal_ex (w->hash, id, NULL) != 1)
        goto out_abort;
    if (id_out)
        memcpy (id_out, id, sizeof id);
    rc = CAPSULE_ERR_STORE_MISMATCH;
    if (expect_id && crypto_verify_32 (id, expect_id) != 0)
        goto out_abort;
    char name[WD_HASH_HEX_LEN + 1];
    s_id_name (name, id);
    rc = WD_ERR_IO;
    struct stat st;
    if (fstatat (s->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode)) {
        /* Already stored: keep the existing file (get re-checks it). */
        rc = WD_OK;
        goto out_abort;
    }
    if (fchmod (w->fd, 0400) != 0 || fsync (w->fd) != 0) {
        wd_log_warn ("capsule store: fsync %s/%s", s->dir, w->tmp);
        goto out_abort;
    }
    if (renameat (s->dirfd, w->tmp, s->dirfd, name) != 0) {
        wd_log_warn ("capsule store: rename %s/%s to %s", s->dir, w->tmp, name);
        goto out_abort;
    }
    if (fsync (s->dirfd) != 0) {
        /* The file is complete under its name; only its durability is in
           doubt. Report it, but count it: it is there. */
        wd_log_warn ("capsule store: fsync %s", s->dir);
        rc = WD_ERR_IO;
    } else
        rc = WD_OK;
    s->usage += w->written;
    s->count++;
    s_writer_free (writer_p, false);
    return rc;

out_abort:
    s_writer_free (writer_p, true);
    return rc;
}

int
capsule_store_put_fd (capsule_store_t *self, int fd, const uint8_t *expect_id,
                      uint8_t id_out[CAPSULE_STORE_ID_LEN])
{
    assert (self);
    capsule_store_writer_t *w;
    int rc = capsule_store_begin (self, &w);
    if (rc != WD_OK)
        return rc;
    for (;;) {
        ssize_t n = read (fd, self->buf, S_BUF_LEN);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            wd_log_warn ("capsule store: read input");
            capsule_store_abort (&w);
            return WD_ERR_IO;
        }
        if (n == 0)
            break;
        rc = capsule_store_write (w, self->buf, (size_t)n);
        if (rc != WD_OK) {
            capsule_store_abort (&w);
            return rc;
        }
    }
    return capsule_store_commit (&w, expect_id, id_out);
}

int
capsule_store_put (capsule_store_t *self, const void *data, size_t len, const uint8_t *expect_id,
                   uint8_t id_out[CAPSULE_STORE_ID_LEN])
{
    assert (self);
    capsule_store_writer_t *w;
    int rc = capsule_store_begin (self, &w);
    if (rc != WD_OK)
        return rc;
    rc = capsule_store_write (w, data, len);
    if (rc != WD_OK) {
        capsule_store_abort (&w);
        return rc;
    }
    return capsule_store_commit (&w, expect_id, id_out);
}

/* --- Getting ------------------------------------------------------------ */

/* Opens a stored name for reading: NOT_FOUND, or a regular file. */
static int
s_open_id (capsule_store_t *self, const char *name, struct stat *st)
{
    int fd = openat (self->dirfd, name, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd < 0) {
        if (errno == ENOENT)
            return CAPSULE_ERR_STORE_NOT_FOUND;
        wd_log_warn ("capsule store: open %s/%s", self->dir, name);
        return WD_ERR_IO;
    }
    if (fstat (fd, st) != 0 || !S_ISREG (st->st_mode)) {
        close (fd);
        wd_log_warnx ("capsule store: %s/%s is not a regular file", self->dir, name);
        return WD_ERR_IO;
    }
    return fd;
}

/* Moves a file that does not match its name into quarantine/ and stops
   counting it. */
static int
s_quarantine (capsule_store_t *self, const char *name, uint64_t size)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    char qname[WD_HASH_HEX_LEN + 32];
    snprintf (qname, sizeof qname, "%s.%lld%03ld", name, (long long)ts.tv_sec,
              ts.tv_nsec / 1000000);
    if (renameat (self->dirfd, name, self->qfd, qname) != 0) {
        wd_log_warn ("capsule store: cannot quarantine %s/%s", self->dir, name);
        return CAPSULE_ERR_STORE_CORRUPT;
    }
    (void)fsync (self->qfd);
    (void)fsync (self->dirfd);
    self->usage = self->usage >= size ? self->usage - size : 0;
    self->count = self->count ? self->count - 1 : 0;
    wd_log_warnx ("capsule store: %s does not match its id: moved to %s/%s/%s", name, self->dir,
                  S_QUARANTINE, qname);
    return CAPSULE_ERR_STORE_CORRUPT;
}

/* Hashes size bytes of fd from offset 0 into the store's buffer, copying
   them to copy (size bytes) when not NULL. Returns WD_OK, or WD_ERR_IO
   also when the file is shorter or longer than size. */
static int
s_hash_file (capsule_store_t *self, int fd, uint64_t size, uint8_t *copy,
             uint8_t out[CAPSULE_STORE_ID_LEN])
{
    EVP_MD_CTX *st = EVP_MD_CTX_new ();
    if (!st || EVP_DigestInit_ex (st, EVP_sha256 (), NULL) != 1) {
        EVP_MD_CTX_free (st);
        return WD_ERR_NOMEM;
    }
    int rc = WD_ERR_IO;
    uint64_t off = 0;
    for (;;) {
        uint8_t *dst = copy ? copy + off : self->buf;
        size_t want = copy ? (size_t)(size - off) : S_BUF_LEN;
        if (copy && want == 0) {
            /* Read one more byte: the file must end here. */
            dst = self->buf;
            want = 1;
        }
        if (want > S_BUF_LEN)
            want = S_BUF_LEN;
        ssize_t n = pread (fd, dst, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            goto out_free;
        if (n == 0)
            break;
        if (off + (uint64_t)n > size)
            goto out_free; /* grew while we read */
        if (EVP_DigestUpdate (st, dst, (size_t)n) != 1)
            goto out_free;
        off += (uint64_t)n;
    }
    if (off == size && EVP_DigestFinal_ex (st, out, NULL) == 1)
        rc = WD_OK;

out_free:
    EVP_MD_CTX_free (st);
    return rc;
}

static int
s_get (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN], size_t max_len, int *fd_out,
       uint64_t *size_out, uint8_t **buf_out)
{
    char name[WD_HASH_HEX_LEN + 1];
    s_id_name (name, id);
    struct stat st;
    int fd = s_open_id (self, name, &st);
    if (fd < 0)
        return fd;
    uint64_t size = (uint64_t)st.st_size;
    uint8_t *copy = NULL;
    int rc = WD_ERR_OVERSIZE;
    if (buf_out) {
        if (size > max_len)
            goto out_close;
        rc = WD_ERR_NOMEM;
        copy = malloc (size ? (size_t)size : 1);
        if (!copy)
            goto out_close;
    }
    uint8_t got[CAPSULE_STORE_ID_LEN];
    rc = s_hash_file (self, fd, size, copy, got);
    if (rc != WD_OK) {
        wd_log_warnx ("capsule store: %s/%s changed size or cannot be read", self->dir, name);
        goto out_close;
    }
    if (crypto_verify_32 (got, id) != 0) {
        rc = s_quarantine (self, name, size);
        goto out_close;
    }
    if (size_out)
        *size_out = size;
    if (buf_out) {
        *buf_out = copy;
        close (fd);
    } else
        *fd_out = fd;
    return WD_OK;

out_close:
    free (copy);
    close (fd);
    return rc;
}

int
capsule_store_get_fd (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN], int *fd_out,
                      uint64_t *size_out)
{
    assert (self);
    assert (id);
    assert (fd_out);
    *fd_out = -1;
    return s_get (self, id, 0, fd_out, size_out, NULL);
}

int
capsule_store_get (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN], size_t max_len,
                   uint8_t **buf_out, size_t *len_out)
{
    assert (self);
    assert (id);
    assert (buf_out);
    assert (len_out);
    *buf_out = NULL;
    *len_out = 0;
    uint64_t size = 0;
    int rc = s_get (self, id, max_len, NULL, &size, buf_out);
    if (rc == WD_OK)
        *len_out = (size_t)size;
    return rc;
}

bool
capsule_store_has (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN])
{
    uint64_t size;
    return capsule_store_size (self, id, &size) == WD_OK;
}

int
capsule_store_size (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN],
                    uint64_t *size_out)
{
    assert (self);
    assert (id);
    assert (size_out);
    char name[WD_HASH_HEX_LEN + 1];
    s_id_name (name, id);
    struct stat st;
    if (fstatat (self->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
        return CAPSULE_ERR_STORE_NOT_FOUND;
    *size_out = (uint64_t)st.st_size;
    return WD_OK;
}

int
capsule_store_remove (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN])
{
    assert (self);
    assert (id);
    char name[WD_HASH_HEX_LEN + 1];
    s_id_name (name, id);
    struct stat st;
    if (fstatat (self->dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode))
        return CAPSULE_ERR_STORE_NOT_FOUND;
    if (unlinkat (self->dirfd, name, 0) != 0) {
        if (errno == ENOENT)
            return CAPSULE_ERR_STORE_NOT_FOUND;
        wd_log_warn ("capsule store: remove %s/%s", self->dir, name);
        return WD_ERR_IO;
    }
    uint64_t size = (uint64_t)st.st_size;
    self->usage = self->usage >= size ? self->usage - size : 0;
    self->count = self->count ? self->count - 1 : 0;
    if (fsync (self->dirfd) != 0) {
        wd_log_warn ("capsule store: fsync %s", self->dir);
        return WD_ERR_IO;
    }
    return WD_OK;
}

static int
s_id_cmp (const void *a, const void *b)
{
    return memcmp (a, b, CAPSULE_STORE_ID_LEN);
}

int
capsule_store_list (capsule_store_t *self, uint8_t **ids_out, size_t *count_out)
{
    assert (self);
    assert (ids_out);
    assert (count_out);
    *ids_out = NULL;
    *count_out = 0;
    int fd = dup (self->dirfd);
    DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close (fd);
        wd_log_warn ("capsule store: list %s", self->dir);
        return WD_ERR_IO;
    }
    rewinddir (d);
    uint8_t *ids = NULL;
    size_t count = 0, cap = 0;
    int rc = WD_OK;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (!s_is_id_name (e->d_name))
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 64;
            uint8_t *n = realloc (ids, ncap * CAPSULE_STORE_ID_LEN);
            if (!n) {
                rc = WD_ERR_NOMEM;
                break;
            }
            ids = n;
            cap = ncap;
        }
        if (wd_hex_decode (ids + count * CAPSULE_STORE_ID_LEN, CAPSULE_STORE_ID_LEN, e->d_name))
            count++;
    }
    closedir (d);
    if (rc != WD_OK) {
        free (ids);
        return rc;
    }
    if (count)
        qsort (ids, count, CAPSULE_STORE_ID_LEN, s_id_cmp);
    else {
        free (ids);
        ids = NULL;
    }
    *ids_out = ids;
    *count_out = count;
    return WD_OK;
}

/* --- Usage -------------------------------------------------------------- */

uint64_t
capsule_store_usage (const capsule_store_t *self)
{
    assert (self);
    return self->usage;
}

uint64_t
capsule_store_count (const capsule_store_t *self)
{
    assert (self);
    return self->count;
}

uint64_t
capsule_store_quota (const capsule_store_t *self)
{
    assert (self);
    return self->quota;
}

void
capsule_store_set_quota (capsule_store_t *self, uint64_t quota_bytes)
{
    assert (self);
    self->quota = quota_bytes;
}

const char *
capsule_store_dir (const capsule_store_t *self)
{
    assert (self);
    return self->dir;
}
