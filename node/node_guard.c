/*
 * node_guard: the double-sign guard's record and its two-slot state file
 * (see node_guard.h). The record is compared with each request in the order
 * (height, round, step); a write goes to the slot that does not hold the
 * record, with pwrite and fsync, so the slot holding the record is never
 * touched while it is the only copy.
 */
#include "node_guard.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wd_codec.h"

#define S_BODY_MAX (NODE_GUARD_SLOT - 1 - WD_DIGEST_LEN) /* 223 */
#define S_CHECKED  (NODE_GUARD_SLOT - WD_DIGEST_LEN)     /* bytes under the slot's hash */

struct node_guard {
    int fd;
    bool have;               /* a record exists */
    wd_msg_sign_step_t last; /* the record */
    uint64_t seq;            /* its sequence number */
    int slot;                /* the slot holding it (0 or 1) */
};

static void
s_slot_encode (uint8_t slot[NODE_GUARD_SLOT], const wd_msg_sign_step_t *rec, uint64_t seq)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 7);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, rec->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "digest");
    wd_writer_bin (w, rec->digest, WD_DIGEST_LEN);
    wd_writer_key (w, "height");
    wd_writer_uint (w, rec->height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, rec->round);
    wd_writer_key (w, "seq");
    wd_writer_uint (w, seq);
    wd_writer_key (w, "step");
    wd_writer_uint (w, rec->step);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t n;
    const uint8_t *body = wd_writer_data (w, &n);
    assert (n <= S_BODY_MAX);
    memset (slot, 0, NODE_GUARD_SLOT);
    slot[0] = (uint8_t)n;
    memcpy (slot + 1, body, n);
    wd_writer_destroy (&w);
    crypto_hash_sha256 (slot + S_CHECKED, slot, S_CHECKED);
}

/* 1: a valid record; 0: an all-zero (never written) slot; -1: damaged. */
static int
s_slot_decode (const uint8_t slot[NODE_GUARD_SLOT], wd_msg_sign_step_t *rec, uint64_t *seq)
{
    static const uint8_t zero[NODE_GUARD_SLOT];
    if (sodium_memcmp (slot, zero, NODE_GUARD_SLOT) == 0)
        return 0;
    uint8_t hash[WD_DIGEST_LEN];
    crypto_hash_sha256 (hash, slot, S_CHECKED);
    if (slot[0] == 0 || slot[0] > S_BODY_MAX ||
        sodium_memcmp (hash, slot + S_CHECKED, WD_DIGEST_LEN) != 0)
        return -1;
    wd_reader_t r;
    size_t count;
    uint64_t height = 0, round = 0, step = 0, v = 0;
    memset (rec, 0, sizeof *rec);
    wd_reader_init (&r, slot + 1, slot[0]);
    wd_read_map (&r, &count);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, rec->chain, WD_CHAIN_ID_LEN);
    wd_read_key (&r, "digest");
    wd_read_bin_fixed (&r, rec->digest, WD_DIGEST_LEN);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, WD_MSG_SIGN_HEIGHT_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, WD_MSG_SIGN_ROUND_MAX);
    wd_read_key (&r, "seq");
    wd_read_uint (&r, seq, UINT64_MAX);
    wd_read_key (&r, "step");
    wd_read_uint (&r, &step, WD_MSG_SIGN_STEP_LAST);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, 1);
    wd_read_end (&r);
    if (wd_reader_finish (&r) != WD_OK || v != 1 || height == 0 || step == 0)
        return -1;
    rec->height = height;
    rec->round = (uint32_t)round;
    rec->step = (uint8_t)step;
    return 1;
}

/* Reads both slots (a short file reads as zeros past its end). */
static wd_err_t
s_load (node_guard_t *self)
{
    struct stat st;
    if (fstat (self->fd, &st) != 0)
        return WD_ERR_IO;
    if (!S_ISREG (st.st_mode))
        return WD_ERR_NOT_REGULAR;
    if (st.st_size > NODE_GUARD_FILE_SIZE)
        return WD_ERR_SIGN_STATE;
    uint8_t buf[NODE_GUARD_FILE_SIZE] = { 0 };
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t n = pread (self->fd, buf + got, (size_t)st.st_size - got, (off_t)got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return WD_ERR_IO;
        got += (size_t)n;
    }
    wd_msg_sign_step_t rec[2];
    uint64_t seq[2] = { 0, 0 };
    int state[2];
    for (int i = 0; i < 2; i++)
        state[i] = s_slot_decode (buf + i * NODE_GUARD_SLOT, &rec[i], &seq[i]);
    /* Only the slot being written can be torn, and only while the other
       holds the record (or nothing yet). */
    if (state[0] < 0 && state[1] < 0)
        return WD_ERR_SIGN_STATE;
    for (int i = 0; i < 2; i++)
        if (state[i] == 1 && (!self->have || seq[i] > self->seq)) {
            self->have = true;
            self->last = rec[i];
            self->seq = seq[i];
            self->slot = i;
        }
    return WD_OK;
}

wd_err_t
node_guard_open (const char *path, node_guard_t **out)
{
    assert (path && out);
    *out = NULL;
    node_guard_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->slot = 1; /* so that the first record goes to slot 0 */
    self->fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (self->fd < 0) {
        int saved = errno;
        free (self);
        errno = saved;
        return errno == ELOOP ? WD_ERR_NOT_REGULAR : WD_ERR_IO;
    }
    wd_err_t err = s_load (self);
    if (err != WD_OK) {
        int saved = errno;
        node_guard_destroy (&self);
        errno = saved;
        return err;
    }
    *out = self;
    return WD_OK;
}

void
node_guard_destroy (node_guard_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_guard_t *self = *self_p;
        if (self->fd >= 0)
            close (self->fd);
        free (self);
        *self_p = NULL;
    }
}

/* -1, 0, 1 as (height, round, step) of a is before, equal to, after b's. */
static int
s_order (const wd_msg_sign_step_t *a, const wd_msg_sign_step_t *b)
{
    if (a->height != b->height)
        return a->height < b->height ? -1 : 1;
    if (a->round != b->round)
        return a->round < b->round ? -1 : 1;
    if (a->step != b->step)
        return a->step < b->step ? -1 : 1;
    return 0;
}

/* Writes rec to the slot that does not hold the record and fsyncs. */
static wd_err_t
s_write (node_guard_t *self, const wd_msg_sign_step_t *rec)
{
    uint8_t slot[NODE_GUARD_SLOT];
    uint64_t seq = self->have ? self->seq + 1 : 1;
    int target = 1 - self->slot;
    s_slot_encode (slot, rec, seq);
    size_t done = 0;
    while (done < sizeof slot) {
        ssize_t n = pwrite (self->fd, slot + done, sizeof slot - done,
                            (off_t)target * NODE_GUARD_SLOT + (off_t)done);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (n == 0)
                errno = EIO;
            return WD_ERR_IO;
        }
        done += (size_t)n;
    }
    if (fsync (self->fd) != 0)
        return WD_ERR_IO;
    self->have = true;
    self->last = *rec;
    self->seq = seq;
    self->slot = target;
    return WD_OK;
}

wd_err_t
node_guard_check (node_guard_t *self, const wd_msg_sign_step_t *req)
{
    assert (self && req);
    if (self->have && sodium_memcmp (self->last.chain, req->chain, WD_CHAIN_ID_LEN) == 0) {
        int order = s_order (req, &self->last);
        if (order < 0)
            return WD_ERR_SIGN_REGRESS;
        if (order == 0)
            return sodium_memcmp (req->digest, self->last.digest, WD_DIGEST_LEN) == 0
                       ? WD_OK
                       : WD_ERR_SIGN_CONFLICT;
    }
    return s_write (self, req);
}

bool
node_guard_last (const node_guard_t *self, wd_msg_sign_step_t *last)
{
    if (self->have)
        *last = self->last;
    return self->have;
}
