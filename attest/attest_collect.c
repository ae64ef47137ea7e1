/*
 * attest_collect: measurements for the host agent's answers (see the
 * header). Files and devices are hashed with SHA-256 in 64 KiB reads;
 * /proc/<pid>/exe is opened through the magic link, so the digest is of the
 * executable the process runs even when its path was replaced or deleted.
 */
#include "attest_collect.h"

#include <assert.h>
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "attest_ima.h"

#define S_CHUNK 65536

static const attest_collect_roots_t s_default_roots = {
    .cmdline = "/proc/cmdline",
    .modules = "/proc/modules",
    .proc = "/proc",
    .ima = "/sys/kernel/security/ima",
};

static attest_answer_err_t
s_open_errno (int e)
{
    return e == ENOENT || e == ENOTDIR ? ATTEST_ANSWER_NOT_FOUND : ATTEST_ANSWER_IO;
}

/* Opens a regular file or block device for reading; *size gets its size. */
static attest_answer_err_t
s_open (const char *path, int *fd_out, uint64_t *size)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
    if (fd < 0)
        return s_open_errno (errno);
    struct stat st;
    if (fstat (fd, &st) != 0) {
        close (fd);
        return ATTEST_ANSWER_IO;
    }
    if (S_ISREG (st.st_mode))
        *size = (uint64_t)st.st_size;
    else if (S_ISBLK (st.st_mode)) {
        off_t end = lseek (fd, 0, SEEK_END);
        if (end < 0) {
            close (fd);
            return ATTEST_ANSWER_IO;
        }
        *size = (uint64_t)end;
    } else {
        close (fd);
        return ATTEST_ANSWER_NOT_REGULAR;
    }
    *fd_out = fd;
    return ATTEST_ANSWER_OK;
}

/* SHA-256 of len bytes from off, or to the end of input when len is
   UINT64_MAX. */
static attest_answer_err_t
s_hash_fd (int fd, uint64_t off, uint64_t len, uint8_t digest[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    uint8_t *buf = malloc (S_CHUNK);
    if (!buf)
        abort ();
    attest_answer_err_t err = ATTEST_ANSWER_OK;
    while (len > 0) {
        size_t want = len < S_CHUNK ? (size_t)len : S_CHUNK;
        ssize_t n = pread (fd, buf, want, (off_t)off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = ATTEST_ANSWER_IO;
            break;
        }
        if (n == 0) {
            if (len != UINT64_MAX)
                err = ATTEST_ANSWER_RANGE; /* the file shrank under us */
            break;
        }
        crypto_hash_sha256_update (&st, buf, (size_t)n);
        off += (uint64_t)n;
        if (len != UINT64_MAX)
            len -= (uint64_t)n;
    }
    free (buf);
    crypto_hash_sha256_final (&st, digest);
    return err;
}

attest_answer_err_t
attest_collect_file (const char *path, uint8_t digest[32])
{
    int fd;
    uint64_t size;
    attest_answer_err_t err = s_open (path, &fd, &size);
    if (err != ATTEST_ANSWER_OK)
        return err;
    err = s_hash_fd (fd, 0, UINT64_MAX, digest);
    close (fd);
    return err;
}

attest_answer_err_t
attest_collect_range (const char *path, uint64_t off, uint64_t len, uint8_t digest[32])
{
    int fd;
    uint64_t size;
    attest_answer_err_t err = s_open (path, &fd, &size);
    if (err != ATTEST_ANSWER_OK)
        return err;
    if (len == 0 || off > size || len > size - off)
        err = ATTEST_ANSWER_RANGE;
    else
        err = s_hash_fd (fd, off, len, digest);
    close (fd);
    return err;
}

/* Reads a whole small file (procfs files report size 0, so read to EOF)
   into *data; at most max bytes, else TOO_LARGE. */
static attest_answer_err_t
s_read_all (const char *path, size_t max, uint8_t **data, size_t *len)
{
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return s_open_errno (errno);
    size_t cap = 4096, n = 0;
    uint8_t *buf = malloc (cap);
    if (!buf)
        abort ();
    attest_answer_err_t err = ATTEST_ANSWER_OK;
    for (;;) {
        if (n == cap) {
            if (cap > max) {
                err = ATTEST_ANSWER_TOO_LARGE;
                break;
            }
            cap *= 2;
            buf = realloc (buf, cap);
            if (!buf)
                abort ();
        }
        ssize_t r = read (fd, buf + n, cap - n);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0) {
            err = ATTEST_ANSWER_IO;
            break;
        }
        if (r == 0)
            break;
        n += (size_t)r;
    }
    close (fd);
    if (err == ATTEST_ANSWER_OK && n > max)
        err = ATTEST_ANSWER_TOO_LARGE;
    if (err != ATTEST_ANSWER_OK) {
        free (buf);
        return err;
    }
    *data = buf;
    *len = n;
    return ATTEST_ANSWER_OK;
}

/* A copy of s[0..len) that is valid UTF-8 for the wire: every byte of an
   invalid sequence becomes '?', so a strange name still shows, changed, next
   to its digest. */
static char *
s_utf8_copy (const char *s, size_t len)
{
    char *out = malloc (len + 1);
    if (!out)
        abort ();
    const unsigned char *p = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        unsigned c = p[i];
        size_t n = c < 0x80             ? 1
                   : (c & 0xe0) == 0xc0 ? 2
                   : (c & 0xf0) == 0xe0 ? 3
                   : (c & 0xf8) == 0xf0 ? 4
                                        : 0;
        bool ok = n > 0 && i + n <= len && c != 0;
        for (size_t k = 1; ok && k < n; k++)
            ok = (p[i + k] & 0xc0) == 0x80;
        if (ok && n > 1) {
            uint32_t cp = c & (0x7f >> n);
            for (size_t k = 1; k < n; k++)
                cp = cp << 6 | (p[i + k] & 0x3f);
            static const uint32_t min[5] = { 0, 0, 0x80, 0x800, 0x10000 };
            ok = cp >= min[n] && cp <= 0x10ffff && !(cp >= 0xd800 && cp <= 0xdfff);
        }
        if (ok) {
            memcpy (out + i, s + i, n);
            i += n;
        } else
            out[i++] = '?';
    }
    out[len] = 0;
    return out;
}

static int
s_str_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static void
s_modules (const char *path, attest_answer_t *a)
{
    uint8_t *data;
    size_t len;
    attest_answer_err_t err = s_read_all (path, ATTEST_AGENT_DATA_MAX, &data, &len);
    if (err != ATTEST_ANSWER_OK) {
        /* A kernel without module support has no /proc/modules. */
        a->err = err == ATTEST_ANSWER_NOT_FOUND ? ATTEST_ANSWER_ABSENT : err;
        return;
    }
    size_t cap = 64;
    a->list = malloc (cap * sizeof *a->list);
    if (!a->list)
        abort ();
    for (size_t i = 0; i < len;) {
        size_t end = i;
        while (end < len && data[end] != '\n')
            end++;
        size_t name_end = i;
        while (name_end < end && data[name_end] != ' ')
            name_end++;
        if (name_end > i) {
            if (name_end - i > ATTEST_AGENT_MODULE_MAX ||
                a->list_count == ATTEST_AGENT_MODULES_MAX) {
                a->err = ATTEST_ANSWER_TOO_LARGE;
                break;
            }
            if (a->list_count == cap) {
                cap *= 2;
                a->list = realloc (a->list, cap * sizeof *a->list);
                if (!a->list)
                    abort ();
            }
            a->list[a->list_count++] = s_utf8_copy ((const char *)data + i, name_end - i);
        }
        i = end + 1;
    }
    free (data);
    if (a->err != ATTEST_ANSWER_OK) {
        attest_answer_clear (a);
        return;
    }
    qsort (a->list, a->list_count, sizeof *a->list, s_str_cmp);
    size_t k = 0;
    for (size_t i = 0; i < a->list_count; i++) {
        if (k > 0 && strcmp (a->list[k - 1], a->list[i]) == 0)
            free (a->list[i]);
        else
            a->list[k++] = a->list[i];
    }
    a->list_count = k;
}

static int
s_entry_cmp (const void *pa, const void *pb)
{
    const attest_proc_entry_t *a = pa, *b = pb;
    int c = strcmp (a->path, b->path);
    return c ? c : memcmp (a->digest, b->digest, 32);
}

static void
s_procs (const char *proc, attest_answer_t *a)
{
    DIR *dir = opendir (proc);
    if (!dir) {
        a->err = ATTEST_ANSWER_ABSENT;
        return;
    }
    size_t cap = 64;
    a->entries = malloc (cap * sizeof *a->entries);
    if (!a->entries)
        abort ();
    struct dirent *de;
    while ((de = readdir (dir)) != NULL) {
        if (!isdigit ((unsigned char)de->d_name[0]))
            continue;
        char link[512], target[ATTEST_AGENT_PATH_MAX + 1];
        snprintf (link, sizeof link, "%s/%s/exe", proc, de->d_name);
        ssize_t n = readlink (link, target, sizeof target);
        if (n <= 0 || (size_t)n > ATTEST_AGENT_PATH_MAX)
            continue; /* kernel threads have no executable; gone processes neither */
        uint8_t digest[32];
        if (attest_collect_file (link, digest) != ATTEST_ANSWER_OK)
            continue; /* the process exited between readdir and open */
        if (a->entry_count == ATTEST_AGENT_PROCS_MAX) {
            a->err = ATTEST_ANSWER_TOO_LARGE;
            break;
        }
        if (a->entry_count == cap) {
            cap *= 2;
            a->entries = realloc (a->entries, cap * sizeof *a->entries);
            if (!a->entries)
                abort ();
        }
        attest_proc_entry_t *e = &a->entries[a->entry_count++];
        e->path = s_utf8_copy (target, (size_t)n);
        memcpy (e->digest, digest, 32);
    }
    closedir (dir);
    if (a->err != ATTEST_ANSWER_OK) {
        attest_answer_clear (a);
        return;
    }
    qsort (a->entries, a->entry_count, sizeof *a->entries, s_entry_cmp);
    size_t k = 0;
    for (size_t i = 0; i < a->entry_count; i++) {
        if (k > 0 && s_entry_cmp (&a->entries[k - 1], &a->entries[i]) == 0)
            free (a->entries[i].path);
        else
            a->entries[k++] = a->entries[i];
    }
    a->entry_count = k;
}

typedef struct {
    uint64_t from;
    uint64_t start; /* offset of entry `from` */
    uint64_t end;   /* end of the last entry that fits */
    uint64_t n;
    bool found;
    bool too_large; /* a single entry is larger than the limit */
} s_ima_scan_t;

static int
s_ima_entry (const attest_ima_entry_t *e, const attest_ima_state_t *state, void *arg)
{
    (void)state;
    s_ima_scan_t *scan = arg;
    if (e->index < scan->from)
        return 0;
    if (!scan->found) {
        scan->found = true;
        scan->start = e->offset;
        scan->end = e->offset;
    }
    if (e->offset + e->size - scan->start > ATTEST_AGENT_DATA_MAX) {
        scan->too_large = scan->n == 0;
        return 1; /* the rest comes with the next challenge */
    }
    scan->end = e->offset + e->size;
    scan->n++;
    return 0;
}

static void
s_ima (const char *dir, uint64_t from, attest_answer_t *a)
{
    char path[512];
    snprintf (path, sizeof path, "%s/binary_runtime_measurements", dir);
    int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0) {
        a->err = errno == ENOENT || errno == ENOTDIR ? ATTEST_ANSWER_ABSENT : ATTEST_ANSWER_IO;
        return;
    }
    attest_ima_state_t state;
    attest_ima_state_init (&state, ATTEST_IMA_BINARY, ATTEST_IMA_PCR_DEFAULT, 0);
    s_ima_scan_t scan = { .from = from };
    int rc = attest_ima_replay_fd (fd, &state, s_ima_entry, &scan, NULL, 0);
    if (rc < 0 || scan.too_large) {
        a->err = scan.too_large ? ATTEST_ANSWER_TOO_LARGE : ATTEST_ANSWER_IO;
        goto out_close;
    }
    if (!scan.found) {
        /* Nothing new, or fewer entries than the node has seen (RANGE). */
        if (state.entries < from)
            a->err = ATTEST_ANSWER_RANGE;
        else {
            a->data = malloc (1);
            if (!a->data)
                abort ();
        }
        goto out_close;
    }
    size_t len = (size_t)(scan.end - scan.start);
    a->data = malloc (len ? len : 1);
    if (!a->data)
        abort ();
    if (lseek (fd, (off_t)scan.start, SEEK_SET) < 0) {
        a->err = ATTEST_ANSWER_IO;
        goto out_clear;
    }
    for (size_t got = 0; got < len;) {
        ssize_t r = read (fd, a->data + got, len - got);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            a->err = ATTEST_ANSWER_IO;
            goto out_clear;
        }
        got += (size_t)r;
    }
    a->data_len = len;
    a->n = scan.n;
    goto out_close;
out_clear:
    attest_answer_clear (a);
out_close:
    close (fd);
}

void
attest_collect_answer (const attest_item_t *item, const attest_collect_roots_t *roots,
                       attest_answer_t *a)
{
    assert (item && a);
    assert (item->kind < ATTEST_ITEM_KIND_COUNT_);
    const attest_collect_roots_t *r = roots ? roots : &s_default_roots;
    memset (a, 0, sizeof *a);
    a->kind = item->kind;
    switch (item->kind) {
        case ATTEST_ITEM_FILE:
            a->err = attest_collect_file (item->path, a->digest);
            break;
        case ATTEST_ITEM_RANGE:
            a->err = attest_collect_range (item->path, item->off, item->len, a->digest);
            break;
        case ATTEST_ITEM_CMDLINE:
            a->err = s_read_all (r->cmdline ? r->cmdline : s_default_roots.cmdline,
                                 ATTEST_AGENT_DATA_MAX, &a->data, &a->data_len);
            break;
        case ATTEST_ITEM_MODULES:
            s_modules (r->modules ? r->modules : s_default_roots.modules, a);
            break;
        case ATTEST_ITEM_PROCS:
            s_procs (r->proc ? r->proc : s_default_roots.proc, a);
            break;
        case ATTEST_ITEM_IMA:
            s_ima (r->ima ? r->ima : s_default_roots.ima, item->from, a);
            break;
        default:
            abort ();
    }
    if (a->err != ATTEST_ANSWER_OK)
        attest_answer_clear (a);
}
