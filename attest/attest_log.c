/*
 * attest_log: Warden's IMA-compatible measurement log (see attest_log.h).
 *
 * The log is the concatenation of the kernel binary records of its entries
 * plus the offset of each. Every record, appended or loaded, goes through
 * the log's own attest_ima parser, which checks it and extends the
 * registers; so the log can never report a state its bytes do not replay
 * to.
 */
#include "attest_log.h"

#include <assert.h>
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Template data of an ima-ng SHA-256 entry: "sha256:\0" digest, name, NUL. */
#define S_NG_DATA_MAX (4 + 8 + 32 + 4 + ATTEST_IMA_NAME_MAX + 1)
#define S_NG_DIGEST   (4 + 8)          /* offset of the digest in the data */
#define S_NG_NAME     (4 + 8 + 32 + 4) /* offset of the name in the data */
#define S_NG_HEAD     (28 + 6 + 4)     /* record bytes before the template data */

struct attest_log {
    uint32_t pcr;
    attest_ima_parser_t *replay; /* holds the running state */
    uint8_t *records;
    size_t len;
    size_t cap;
    uint64_t *offsets;
    size_t count;
    size_t offsets_cap;
};

attest_log_t *
attest_log_new (uint32_t pcr)
{
    assert (pcr < ATTEST_IMA_PCR_COUNT);
    attest_log_t *self = calloc (1, sizeof *self);
    if (!self)
        return NULL;
    self->pcr = pcr;
    attest_ima_state_t start;
    attest_ima_state_init (&start, ATTEST_IMA_BINARY, pcr, 0);
    self->replay = attest_ima_parser_new (&start);
    if (!self->replay)
        attest_log_destroy (&self);
    return self;
}

void
attest_log_destroy (attest_log_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_log_t *self = *self_p;
        attest_ima_parser_destroy (&self->replay);
        free (self->records);
        free (self->offsets);
        free (self);
        *self_p = NULL;
    }
}

/* Checks a name and copies it with spaces turned into '_' (as the kernel
   does) into out (ATTEST_IMA_NAME_MAX + 1 bytes). */
static bool
s_name_copy (const char *name, size_t len, char *out)
{
    if (len == 0 || len > ATTEST_IMA_NAME_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)name[i];
        if (c < 0x20 || c == 0x7f)
            return false;
        out[i] = c == ' ' ? '_' : (char)c;
    }
    out[len] = '\0';
    return true;
}

/* Appends one record to the byte store (the parser has accepted it). */
static void
s_store (attest_log_t *self, const attest_ima_entry_t *e)
{
    size_t size = attest_ima_entry_binary (e, NULL, 0);
    if (self->len + size > self->cap) {
        size_t cap = self->cap ? self->cap : 4096;
        while (cap < self->len + size)
            cap *= 2;
        uint8_t *grown = realloc (self->records, cap);
        if (!grown)
            abort ();
        self->records = grown;
        self->cap = cap;
    }
    if (self->count == self->offsets_cap) {
        size_t cap = self->offsets_cap ? self->offsets_cap * 2 : 64;
        uint64_t *grown = realloc (self->offsets, cap * sizeof *grown);
        if (!grown)
            abort ();
        self->offsets = grown;
        self->offsets_cap = cap;
    }
    self->offsets[self->count++] = self->len;
    self->len += attest_ima_entry_binary (e, self->records + self->len, size);
}

static int
s_append (attest_log_t *self, const char *name, const uint8_t digest[32])
{
    assert (self && name && digest);
    char clean[ATTEST_IMA_NAME_MAX + 1];
    size_t name_len = strlen (name);
    if (!s_name_copy (name, name_len, clean))
        return ATTEST_ERR_LOG_NAME;
    uint8_t data[S_NG_DATA_MAX];
    attest_ima_entry_t e;
    size_t data_len = attest_ima_entry_make_ng (&e, data, sizeof data, self->pcr, ATTEST_IMA_SHA256,
                                                digest, clean, name_len);
    assert (data_len > 0);
    (void)data_len;
    size_t record_len = attest_ima_entry_binary (&e, NULL, 0);
    uint8_t *record = malloc (record_len);
    if (!record)
        abort ();
    attest_ima_entry_binary (&e, record, record_len);
    int rc = attest_ima_parser_feed (self->replay, record, record_len, NULL, NULL);
    free (record);
    assert (rc == WD_OK); /* our own well-formed record */
    (void)rc;
    s_store (self, &e);
    return WD_OK;
}

int
attest_log_measure_buffer (attest_log_t *self, const char *name, const void *data, size_t len)
{
    assert (data || len == 0);
    uint8_t digest[32];
    crypto_hash_sha256 (digest, data, len);
    return s_append (self, name, digest);
}

int
attest_log_append_digest (attest_log_t *self, const char *name, const uint8_t digest[32])
{
    return s_append (self, name, digest);
}

int
attest_log_measure_file (attest_log_t *self, const char *path, const char *name)
{
    assert (self && path);
    const char *label = name ? name : path;
    char clean[ATTEST_IMA_NAME_MAX + 1];
    if (!s_name_copy (label, strlen (label), clean))
        return ATTEST_ERR_LOG_NAME;
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return errno == ENOENT ? WD_ERR_NOT_FOUND : WD_ERR_IO;
    int rc = WD_OK;
    struct stat st;
    if (fstat (fd, &st) != 0)
        rc = WD_ERR_IO;
    else if (!S_ISREG (st.st_mode))
        rc = WD_ERR_NOT_REGULAR;
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init (&hs);
    uint8_t buf[65536];
    while (rc == WD_OK) {
        ssize_t n = read (fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            rc = WD_ERR_IO;
        else if (n == 0)
            break;
        else
            crypto_hash_sha256_update (&hs, buf, (unsigned long long)n);
    }
    close (fd);
    uint8_t digest[32];
    crypto_hash_sha256_final (&hs, digest);
    if (rc != WD_OK)
        return rc;
    return s_append (self, label, digest);
}

uint64_t
attest_log_count (const attest_log_t *self)
{
    assert (self);
    return self->count;
}

const attest_ima_state_t *
attest_log_state (const attest_log_t *self)
{
    assert (self);
    return attest_ima_parser_state (self->replay);
}

/* A little-endian u32 of a stored record. */
static uint32_t
s_record_u32 (const uint8_t *p)
{
    uint32_t v;
    memcpy (&v, p, sizeof v);
    return le32toh (v);
}

bool
attest_log_entry (const attest_log_t *self, uint64_t index, attest_log_entry_t *entry)
{
    assert (self && entry);
    if (index >= self->count)
        return false;
    const uint8_t *r = self->records + self->offsets[index];
    const uint8_t *data = r + S_NG_HEAD;
    size_t data_len = s_record_u32 (r + S_NG_HEAD - 4);
    memset (entry, 0, sizeof *entry);
    entry->index = index;
    entry->pcr = s_record_u32 (r);
    memcpy (entry->template_sha1, r + 4, 20);
    memcpy (entry->digest, data + S_NG_DIGEST, 32);
    entry->name = (const char *)data + S_NG_NAME;
    entry->name_len = s_record_u32 (data + S_NG_NAME - 4) - 1;
    attest_ima_digest (ATTEST_IMA_SHA256, data, data_len, entry->template_sha256);
    return true;
}

const uint8_t *
attest_log_binary (const attest_log_t *self, uint64_t from, size_t *len)
{
    assert (self && len);
    static const uint8_t empty[1] = { 0 };
    if (from >= self->count) {
        *len = 0;
        return self->records ? self->records + self->len : empty;
    }
    *len = self->len - self->offsets[from];
    return self->records + self->offsets[from];
}

char *
attest_log_ascii (const attest_log_t *self, uint64_t from, size_t *len)
{
    assert (self);
    size_t total = 0, cap = 256;
    char *out = malloc (cap);
    if (!out)
        abort ();
    uint8_t data[S_NG_DATA_MAX];
    for (uint64_t i = from; i < self->count; i++) {
        attest_log_entry_t le;
        attest_log_entry (self, i, &le);
        attest_ima_entry_t e;
        size_t made = attest_ima_entry_make_ng (&e, data, sizeof data, le.pcr, ATTEST_IMA_SHA256,
                                                le.digest, le.name, le.name_len);
        assert (made > 0);
        (void)made;
        size_t line = attest_ima_entry_ascii (&e, NULL, 0);
        if (total + line + 1 > cap) {
            while (total + line + 1 > cap)
                cap *= 2;
            char *grown = realloc (out, cap);
            if (!grown)
                abort ();
            out = grown;
        }
        attest_ima_entry_ascii (&e, out + total, line);
        total += line;
    }
    out[total] = '\0';
    if (len)
        *len = total;
    return out;
}

int
attest_log_save (const attest_log_t *self, const char *path)
{
    assert (self && path);
    size_t tmp_len = strlen (path) + 16;
    char *tmp = malloc (tmp_len);
    if (!tmp)
        return WD_ERR_NOMEM;
    snprintf (tmp, tmp_len, "%s.tmp.%ld", path, (long)getpid ());
    int rc = WD_ERR_IO;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0)
        goto out_free;
    size_t done = 0;
    while (done < self->len) {
        ssize_t n = write (fd, self->records + done, self->len - done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        done += (size_t)n;
    }
    bool ok = done == self->len && fsync (fd) == 0;
    ok = close (fd) == 0 && ok;
    if (ok && rename (tmp, path) == 0)
        rc = WD_OK;
    else
        unlink (tmp);
out_free:
    free (tmp);
    return rc;
}

/* ---- loading --------------------------------------------------------------- */

typedef struct {
    attest_log_t *log;
    char *why;
    size_t why_len;
} s_load_t;

static int
s_load_entry (const attest_ima_entry_t *e, const attest_ima_state_t *state, void *arg)
{
    (void)state;
    s_load_t *load = arg;
    if (e->template_id != ATTEST_IMA_TEMPLATE_IMA_NG || e->digest_alg != ATTEST_IMA_SHA256 ||
        e->pcr != load->log->pcr || e->violation) {
        wd_err_why (load->why, load->why_len,
                    "entry %llu is not an ima-ng sha256 measurement for PCR %u",
                    (unsigned long long)e->index, load->log->pcr);
        return ATTEST_ERR_LOG_ENTRY;
    }
    char clean[ATTEST_IMA_NAME_MAX + 1];
    if (!s_name_copy (e->name, e->name_len, clean) || strcmp (clean, e->name) != 0) {
        wd_err_why (load->why, load->why_len, "entry %llu: event name is not allowed",
                    (unsigned long long)e->index);
        return ATTEST_ERR_LOG_NAME;
    }
    s_store (load->log, e);
    return WD_OK;
}

/* Loads from data (or, when data is NULL, the file at path) into a new log: the
   records are stored by the callback, and the log's replay then continues
   from the state the list ended in. */
static int
s_load (const void *data, size_t len, const char *path, uint32_t pcr, attest_log_t **out, char *why,
        size_t why_len)
{
    assert (out);
    *out = NULL;
    wd_err_why (why, why_len, "%s", "");
    attest_log_t *self = attest_log_new (pcr);
    if (!self)
        return WD_ERR_NOMEM;
    s_load_t load = { self, why, why_len };
    attest_ima_state_t st;
    attest_ima_state_init (&st, ATTEST_IMA_BINARY, pcr, 0);
    int rc = data ? attest_ima_replay_buffer (data, len, &st, s_load_entry, &load, why, why_len)
                  : attest_ima_replay_file (path, &st, s_load_entry, &load, why, why_len);
    if (rc == WD_OK) {
        attest_ima_parser_destroy (&self->replay);
        self->replay = attest_ima_parser_new (&st);
        if (!self->replay)
            rc = WD_ERR_NOMEM;
    }
    if (rc != WD_OK) {
        attest_log_destroy (&self);
        return rc;
    }
    *out = self;
    return WD_OK;
}

int
attest_log_load (const void *data, size_t len, uint32_t pcr, attest_log_t **out, char *why,
                 size_t why_len)
{
    static const uint8_t empty[1] = { 0 };
    return s_load (data ? data : empty, data ? len : 0, NULL, pcr, out, why, why_len);
}

int
attest_log_load_file (const char *path, uint32_t pcr, attest_log_t **out, char *why, size_t why_len)
{
    assert (path);
    return s_load (NULL, 0, path, pcr, out, why, why_len);
}
