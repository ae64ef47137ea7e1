/*
 * node_pcr: intake -> statement -> seal (keys process) -> group commit ->
 * signed checkpoint, on the engine's zloop. Items own their bytes until
 * their entry is committed; a sealing request whose component is gone
 * (engine stopping) frees its item when it is answered.
 */
#include "node_pcr.h"

#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "capsule_err.h"
#include "capsule_verify.h"
#include "node_config.h"
#include "pcr_signer.h"
#include "pcr_signer_frame.h"
#include "pcr_signer_log.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_log.h"

#define S_IN_FLIGHT_MAX 128  /* sealing requests at once (node_sign allows 256) */
#define S_RETRY_MS      1000 /* after a failed seal, and to reopen a serial device */
#define S_READ_CHUNK    65536
#define S_CHANNEL_MAX   (PATH_MAX + 16)

typedef struct s_item s_item_t;
struct s_item {
    node_pcr_t *owner; /* NULL once the component is gone */
    s_item_t *next;
    char name[CAPSULE_PCR_FRAME_NAME_MAX + 1];
    const char *channel; /* one of the component's channel names */
    bool from_dir;
    bool has_seq;
    uint64_t seq;
    uint64_t received_ms;
    uint8_t sha256[32];
    uint8_t *data;
    size_t len;
    bool parsed;
    uint8_t *envelope;
    size_t envelope_len;
};

typedef struct {
    node_pcr_t *owner;
    uint64_t size;
    uint8_t root[32];
    char body[CAPSULE_CHECKPOINT_BODY_MAX + 1];
    size_t body_len;
} s_checkpoint_t;

/* A checkpoint note being sealed as a ledger anchor. */
typedef struct {
    node_pcr_t *owner;
    uint64_t size;
    size_t note_len;
    char note[CAPSULE_CHECKPOINT_MAX + 1];
} s_anchor_t;

/* A framed byte stream: a serial device or standard input. */
typedef struct {
    node_pcr_t *owner;
    char channel[S_CHANNEL_MAX];
    char path[PATH_MAX]; /* "" for standard input */
    int fd;
    zmq_pollitem_t item;
    bool polled;
    capsule_pcr_frame_dec_t *dec;
    uint64_t last_rx_ms;
} s_stream_t;

struct node_pcr {
    zloop_t *loop;
    node_sign_t *signer;
    const wd_cert_t *cert;
    capsule_pcr_log_t *log;
    char origin[CAPSULE_ORIGIN_MAX + 1];
    size_t max_size;
    bool keep_raw;
    unsigned baud;
    size_t batch;
    uint64_t batch_delay_ms, idle_ms, scan_ms;
    s_stream_t serial, input;
    char drop_dir[PATH_MAX], done_dir[PATH_MAX], dir_channel[S_CHANNEL_MAX];
    int drop_fd, done_fd;
    s_item_t *waiting, *waiting_tail; /* not yet sent to be sealed */
    s_item_t *flying;                 /* being sealed */
    size_t in_flight;
    s_checkpoint_t *cp_flying;
    s_item_t *sealed, *sealed_tail; /* sealed, not yet committed */
    size_t sealed_count;
    int batch_timer, tick_timer;
    bool checkpoint_busy, checkpoint_again;
    bool checkpoint_retry; /* sign one on the next tick (failed, or at start) */
    node_mesh_t *mesh;     /* NULL: no cluster, nothing is anchored */
    uint8_t chain[WD_CHAIN_ID_LEN];
    s_anchor_t *anchor_flying; /* being sealed; one at a time */
    s_anchor_t *anchor_next;   /* the newest checkpoint waiting for its turn */
    uint64_t anchor_last;      /* size of the last checkpoint queued for the ledger */
    node_pcr_stats_t stats;
};

void
node_pcr_origin (char *out, size_t size, const char *node_name, const uint8_t sign_pk[32])
{
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hex_encode (hex, sign_pk, 32);
    snprintf (out, size, "warden-pcr/%s/%.16s", node_name, hex);
}

const node_pcr_stats_t *
node_pcr_stats (const node_pcr_t *self)
{
    return &self->stats;
}

static void
s_item_free (s_item_t *item)
{
    if (item) {
        free (item->data);
        free (item->envelope);
        free (item);
    }
}

/* ---- ledger anchors ---------------------------------------------------------------------------
 */

static void
s_anchor_send (node_pcr_t *self, s_anchor_t *a);

static void
s_anchor_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_anchor_t *a = arg;
    node_pcr_t *self = a->owner;
    if (!self) {
        free (a);
        return;
    }
    self->anchor_flying = NULL;
    if (!envelope) {
        wd_log_warnx ("pcr: checkpoint of %llu entries not anchored: %s (retrying)",
                      (unsigned long long)a->size, reason);
        if (!self->anchor_next)
            self->anchor_next = a; /* the tick retries it */
        else
            free (a);
        return;
    }
    int rc = node_mesh_publish_record (self->mesh, envelope, len);
    uint8_t id[32];
    crypto_hash_sha256 (id, envelope, len);
    if (rc != WD_OK)
        wd_log_warnx ("pcr: anchor of the checkpoint of %llu entries not published (%d)",
                      (unsigned long long)a->size, rc);
    else {
        self->stats.anchors++;
        wd_log_info ("pcr: checkpoint of %llu entries published for the ledger (record %s)",
                     (unsigned long long)a->size, wd_short_id (id).s);
    }
    free (a);
    if (self->anchor_next) {
        s_anchor_t *next = self->anchor_next;
        self->anchor_next = NULL;
        s_anchor_send (self, next);
    }
}

static void
s_anchor_send (node_pcr_t *self, s_anchor_t *a)
{
    uint8_t body[CAPSULE_ANCHOR_BODY_MAX];
    size_t len = capsule_anchor_body (body, sizeof body, a->note, a->note_len);
    if (len == 0) {
        wd_log_warnx ("pcr: checkpoint note of %zu bytes does not fit an anchor", a->note_len);
        free (a);
        return;
    }
    self->anchor_flying = a;
    node_sign_seal (self->signer, CAPSULE_ANCHOR_TYPE, self->chain, body, len, s_anchor_sealed, a);
}

/* Queues a signed checkpoint note for the ledger: sealed now, or after the
   one being sealed (a newer note replaces one still waiting). */
static void
s_anchor (node_pcr_t *self, uint64_t size, const char *note, size_t note_len)
{
    if (!self->mesh || note_len > CAPSULE_CHECKPOINT_MAX || size == self->anchor_last)
        return;
    self->anchor_last = size;
    s_anchor_t *a = calloc (1, sizeof *a);
    if (!a)
        wd_fatalx ("out of memory");
    a->owner = self;
    a->size = size;
    a->note_len = note_len;
    memcpy (a->note, note, note_len);
    if (self->anchor_flying) {
        free (self->anchor_next);
        self->anchor_next = a;
        return;
    }
    s_anchor_send (self, a);
}

void
node_pcr_set_mesh (node_pcr_t *self, node_mesh_t *mesh)
{
    if (!self || !mesh)
        return;
    self->mesh = mesh;
    wd_genesis_chain_id (node_mesh_genesis (mesh), self->chain);
    /* the newest checkpoint may never have reached the ledger (a crash, a
       node that joined a cluster later): anchor it again; the same note
       makes the same record, which the ledger keeps once */
    char *note = NULL;
    uint64_t size = 0;
    if (capsule_pcr_log_newest_checkpoint (self->log, &size, &note) == WD_OK && note) {
        s_anchor (self, size, note, strlen (note));
        free (note);
    }
}

/* ---- checkpoints ------------------------------------------------------------------------------
 */

static void
s_checkpoint (node_pcr_t *self);

static void
s_checkpoint_signed (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason)
{
    s_checkpoint_t *cp = arg;
    node_pcr_t *self = cp->owner;
    if (!self) {
        free (cp);
        return;
    }
    self->checkpoint_busy = false;
    self->cp_flying = NULL;
    if (!sig) {
        wd_log_warnx ("pcr: checkpoint of %llu entries not signed: %s (retrying)",
                      (unsigned long long)cp->size, reason);
        self->checkpoint_retry = true;
    } else {
        char note[CAPSULE_CHECKPOINT_MAX + 1];
        size_t len = capsule_checkpoint_note (note, sizeof note, cp->body, cp->body_len,
                                              self->origin, self->cert->sign_pk, sig);
        char why[256];
        if (len == 0 || capsule_pcr_log_add_checkpoint (self->log, cp->size, cp->root, note, len,
                                                        why, sizeof why) != WD_OK)
            wd_log_warnx ("pcr: checkpoint of %llu entries not stored: %s",
                          (unsigned long long)cp->size, len ? why : "note too long");
        else {
            self->stats.checkpoints++;
            s_anchor (self, cp->size, note, len); /* only once it is durable here */
        }
    }
    free (cp);
    if (self->checkpoint_again) {
        self->checkpoint_again = false;
        s_checkpoint (self);
    }
}

/* Signs a checkpoint over everything committed; one at a time. */
static void
s_checkpoint (node_pcr_t *self)
{
    if (self->checkpoint_busy) {
        self->checkpoint_again = true;
        return;
    }
    s_checkpoint_t *cp = calloc (1, sizeof *cp);
    if (!cp)
        wd_fatalx ("out of memory");
    cp->owner = self;
    cp->body_len = capsule_pcr_log_checkpoint_body (self->log, cp->body, &cp->size, cp->root);
    if (cp->body_len == 0) {
        wd_log_warnx ("pcr: origin '%s' does not make a checkpoint", self->origin);
        free (cp);
        return;
    }
    uint8_t digest[32];
    capsule_checkpoint_digest (digest, cp->body, cp->body_len);
    self->checkpoint_busy = true;
    self->cp_flying = cp;
    node_sign_digest (self->signer, digest, s_checkpoint_signed, cp);
}

/* ---- group commit -----------------------------------------------------------------------------
 */

static void
s_move_done (node_pcr_t *self, const s_item_t *item, uint64_t index)
{
    if (renameat2 (self->drop_fd, item->name, self->done_fd, item->name, RENAME_NOREPLACE) == 0)
        return;
    if (errno == EEXIST) {
        char alt[CAPSULE_PCR_FRAME_NAME_MAX + 32];
        snprintf (alt, sizeof alt, "%s.%llu", item->name, (unsigned long long)index);
        if (renameat2 (self->drop_fd, item->name, self->done_fd, alt, RENAME_NOREPLACE) == 0)
            return;
    }
    wd_log_warn ("pcr: %s logged as entry %llu but not moved to %s", item->name,
                 (unsigned long long)index, self->done_dir);
}

static void
s_commit (node_pcr_t *self)
{
    if (self->batch_timer) {
        zloop_timer_end (self->loop, self->batch_timer);
        self->batch_timer = 0;
    }
    if (!self->sealed)
        return;
    char why[256];
    int rc = capsule_pcr_log_begin (self->log, why, sizeof why);
    uint64_t first = capsule_pcr_log_size (self->log);
    for (s_item_t *it = self->sealed; it && rc == WD_OK; it = it->next) {
        capsule_pcr_entry_t e = {
            .received_ms = it->received_ms,
            .channel = it->channel,
            .has_seq = it->has_seq,
            .seq = it->seq,
            .name = it->name,
            .size = it->len,
            .parsed = it->parsed,
            .envelope = it->envelope,
            .envelope_len = it->envelope_len,
            .raw = self->keep_raw ? it->data : NULL,
            .raw_len = it->len,
        };
        memcpy (e.sha256, it->sha256, 32);
        rc = capsule_pcr_log_append (self->log, &e, NULL, why, sizeof why);
    }
    if (rc == WD_OK)
        rc = capsule_pcr_log_commit (self->log, why, sizeof why);
    if (rc != WD_OK) {
        /* the statements stay sealed in memory; the next group retries */
        wd_log_warnx ("pcr: result log: %s; %zu results kept for the next commit", why,
                      self->sealed_count);
        return;
    }
    uint64_t index = first;
    while (self->sealed) {
        s_item_t *it = self->sealed;
        self->sealed = it->next;
        wd_log_info ("pcr: %s (%zu bytes, sha256 %.16s..., %s) logged as entry %llu", it->name,
                     it->len, wd_short_id (it->sha256).s, it->channel, (unsigned long long)index);
        if (it->from_dir)
            s_move_done (self, it, index);
        index++;
        self->stats.logged++;
        s_item_free (it);
    }
    self->sealed_tail = NULL;
    self->sealed_count = 0;
    s_checkpoint (self);
}

static int
s_on_batch_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_pcr_t *self = arg;
    self->batch_timer = 0; /* a one-shot timer ends itself */
    s_commit (self);
    return 0;
}

/* ---- sealing ----------------------------------------------------------------------------------
 */

static void
s_pump (node_pcr_t *self);

static void
s_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_item_t *it = arg;
    node_pcr_t *self = it->owner;
    if (!self) {
        s_item_free (it);
        return;
    }
    self->in_flight--;
    for (s_item_t **pp = &self->flying; *pp; pp = &(*pp)->next)
        if (*pp == it) {
            *pp = it->next;
            break;
        }
    it->next = NULL;
    if (!envelope) {
        /* keys process down or slow: back to the front of the queue */
        self->stats.sign_failures++;
        wd_log_warnx ("pcr: %s not signed yet: %s (retrying)", it->name, reason);
        it->next = self->waiting;
        self->waiting = it;
        if (!self->waiting_tail)
            self->waiting_tail = it;
        return;
    }
    it->envelope = malloc (len);
    if (!it->envelope)
        wd_fatalx ("out of memory");
    memcpy (it->envelope, envelope, len);
    it->envelope_len = len;
    it->next = NULL;
    if (self->sealed_tail)
        self->sealed_tail->next = it;
    else
        self->sealed = it;
    self->sealed_tail = it;
    self->sealed_count++;
    if (self->sealed_count >= self->batch)
        s_commit (self);
    else if (!self->batch_timer) {
        self->batch_timer =
            zloop_timer (self->loop, self->batch_delay_ms, 1, s_on_batch_timer, self);
        if (self->batch_timer < 0)
            wd_fatal ("zloop_timer");
    }
    s_pump (self);
}

/* Sends waiting items to be sealed, up to S_IN_FLIGHT_MAX at once. */
static void
s_pump (node_pcr_t *self)
{
    static const uint8_t zero_chain[WD_CHAIN_ID_LEN];
    while (self->waiting && self->in_flight < S_IN_FLIGHT_MAX) {
        s_item_t *it = self->waiting;
        self->waiting = it->next;
        if (!self->waiting)
            self->waiting_tail = NULL;
        it->next = NULL;
        capsule_pcr_meta_t meta;
        int rc = capsule_pcr_meta_parse (it->name, it->data, it->len, &meta);
        it->parsed = rc == 0;
        if (rc != 0)
            wd_log_info ("pcr: %s: not parsed (%s: %s); signed as received", it->name,
                         capsule_err_name (rc), meta.reason);
        capsule_pcr_result_t r = {
            .name = it->name,
            .size = it->len,
            .channel = it->channel,
            .has_seq = it->has_seq,
            .seq = it->seq,
            .received_ms = it->received_ms,
            .node = self->cert->name,
            .key_protection = self->cert->key_protection,
        };
        memcpy (r.sha256, it->sha256, 32);
        memcpy (r.node_id, self->cert->sign_pk, 32);
        size_t body_len;
        uint8_t *body = capsule_pcr_statement (&r, &meta, &body_len);
        capsule_pcr_meta_clear (&meta);
        self->in_flight++;
        it->next = self->flying;
        self->flying = it;
        node_sign_seal (self->signer, CAPSULE_PCR_TYPE, zero_chain, body, body_len, s_sealed, it);
        free (body);
        if (self->waiting == it) /* failed at once and was queued again: wait for the retry */
            break;
    }
}

/* Takes ownership of data. */
static void
s_submit (node_pcr_t *self, const char *name, const char *channel, bool from_dir, bool has_seq,
          uint64_t seq, uint8_t *data, size_t len, const uint8_t *sha256)
{
    s_item_t *it = calloc (1, sizeof *it);
    if (!it)
        wd_fatalx ("out of memory");
    it->owner = self;
    snprintf (it->name, sizeof it->name, "%s", name);
    it->channel = channel;
    it->from_dir = from_dir;
    it->has_seq = has_seq;
    it->seq = seq;
    it->received_ms = capsule_pcr_now_ms ();
    it->data = data;
    it->len = len;
    if (sha256)
        memcpy (it->sha256, sha256, 32);
    else
        crypto_hash_sha256 (it->sha256, data, len);
    if (self->waiting_tail)
        self->waiting_tail->next = it;
    else
        self->waiting = it;
    self->waiting_tail = it;
    self->stats.received++;
    s_pump (self);
}

/* ---- framed streams ---------------------------------------------------------------------------
 */

static void
s_on_frame (void *arg, const capsule_pcr_frame_event_t *ev)
{
    s_stream_t *s = arg;
    node_pcr_t *self = s->owner;
    if (ev->code == 0) {
        uint8_t *copy = malloc (ev->data_len ? ev->data_len : 1);
        if (!copy)
            wd_fatalx ("out of memory");
        memcpy (copy, ev->data, ev->data_len);
        s_submit (self, ev->name, s->channel, false, true, ev->seq, copy, ev->data_len, ev->sha256);
        return;
    }
    if (ev->code == CAPSULE_ERR_FRAME_GAP)
        self->stats.gaps++;
    else
        self->stats.rejected++;
    if (ev->has_seq)
        wd_log_warnx ("pcr: %s: frame %llu: %s (%s): %s", s->channel, (unsigned long long)ev->seq,
                      capsule_strerror (ev->code), capsule_err_name (ev->code), ev->detail);
    else
        wd_log_warnx ("pcr: %s: %s (%s): %s", s->channel, capsule_strerror (ev->code),
                      capsule_err_name (ev->code), ev->detail);
}

static void
s_stream_close (s_stream_t *s);

static int
s_on_stream (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_stream_t *s = arg;
    uint8_t buf[S_READ_CHUNK];
    for (;;) {
        ssize_t n = read (s->fd, buf, sizeof buf);
        if (n > 0) {
            s->last_rx_ms = capsule_pcr_now_ms ();
            capsule_pcr_frame_dec_push (s->dec, buf, (size_t)n);
            continue;
        }
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return 0;
        /* end of stream (stdin closed), or the line hung up (EIO: the
           other end of a pseudo-terminal closed) */
        wd_log_info ("pcr: %s: %s; %s", s->channel, n == 0 ? "end of input" : strerror (errno),
                     s->path[0] ? "reopening" : "closed");
        capsule_pcr_frame_dec_flush (s->dec);
        s_stream_close (s);
        return 0;
    }
}

static void
s_stream_close (s_stream_t *s)
{
    if (s->polled) {
        zloop_poller_end (s->owner->loop, &s->item);
        s->polled = false;
    }
    if (s->fd >= 0 && s->path[0])
        close (s->fd);
    s->fd = -1;
}

/* Opens (or reopens) a stream's device. Returns 0 or -1 with why. */
static int
s_stream_open (s_stream_t *s, char *why, size_t why_len)
{
    node_pcr_t *self = s->owner;
    if (s->path[0]) {
        s->fd = capsule_pcr_serial_open (s->path, self->baud, why, why_len);
        if (s->fd < 0)
            return -1;
    } else {
        s->fd = STDIN_FILENO;
        int fl = fcntl (s->fd, F_GETFL);
        if (fl < 0 || fcntl (s->fd, F_SETFL, fl | O_NONBLOCK) != 0) {
            snprintf (why, why_len, "standard input: %s", strerror (errno));
            return -1;
        }
    }
    s->item = (zmq_pollitem_t){ .fd = s->fd, .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &s->item, s_on_stream, s) != 0)
        wd_fatal ("zloop_poller");
    s->polled = true;
    return 0;
}

static int
s_stream_init (node_pcr_t *self, s_stream_t *s, const char *path, char *why, size_t why_len)
{
    s->owner = self;
    s->fd = -1;
    snprintf (s->path, sizeof s->path, "%s", path ? path : "");
    snprintf (s->channel, sizeof s->channel, path ? "serial:%s" : "stdin", path);
    uint64_t last = 0;
    bool has_last = capsule_pcr_log_last_seq (self->log, s->channel, &last);
    s->dec = capsule_pcr_frame_dec_new (self->max_size, has_last, last, s_on_frame, s);
    return s_stream_open (s, why, why_len);
}

/* ---- drop directory ---------------------------------------------------------------------------
 */

static bool
s_dir_busy (const node_pcr_t *self, const char *name)
{
    const s_item_t *lists[] = { self->waiting, self->flying, self->sealed };
    for (size_t i = 0; i < 3; i++)
        for (const s_item_t *it = lists[i]; it; it = it->next)
            if (it->from_dir && strcmp (it->name, name) == 0)
                return true;
    return false;
}

static void
s_scan (node_pcr_t *self)
{
    int fd = dup (self->drop_fd);
    DIR *dir = fd >= 0 ? fdopendir (fd) : NULL;
    if (!dir) {
        if (fd >= 0)
            close (fd);
        wd_log_warn ("pcr: %s", self->drop_dir);
        return;
    }
    rewinddir (dir);
    struct dirent *de;
    while ((de = readdir (dir))) {
        const char *name = de->d_name;
        if (name[0] == '.' || !capsule_pcr_name_valid (name, strlen (name)) ||
            s_dir_busy (self, name))
            continue;
        uint8_t *data;
        size_t len;
        int rc =
            capsule_pcr_dir_read (self->drop_fd, name, self->max_size, self->scan_ms, &data, &len);
        if (rc == 1)
            s_submit (self, name, self->dir_channel, true, false, 0, data, len, NULL);
        else if (rc == -2)
            wd_log_warnx ("pcr: %s/%s is larger than pcr/max_size (%zu bytes); left there",
                          self->drop_dir, name, self->max_size);
        else if (rc < 0 && errno != ENOENT)
            wd_log_warn ("pcr: %s/%s", self->drop_dir, name);
    }
    closedir (dir);
}

/* ---- the tick: idle streams, reopening, the drop directory ------------------------------------
 */

static int
s_on_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_pcr_t *self = arg;
    uint64_t now = capsule_pcr_now_ms ();
    s_stream_t *streams[] = { &self->serial, &self->input };
    for (size_t i = 0; i < 2; i++) {
        s_stream_t *s = streams[i];
        if (!s->dec)
            continue;
        if (capsule_pcr_frame_dec_pending (s->dec) && now - s->last_rx_ms >= self->idle_ms)
            capsule_pcr_frame_dec_flush (s->dec); /* a sender that stopped mid-frame */
        if (s->fd < 0 && s->path[0]) {
            char why[256];
            if (s_stream_open (s, why, sizeof why) != 0)
                wd_log_debug ("pcr: %s", why);
        }
    }
    if (self->drop_fd >= 0)
        s_scan (self);
    if (self->waiting && self->in_flight == 0)
        s_pump (self);                               /* retry after a failed seal */
    if (self->anchor_next && !self->anchor_flying) { /* retry after a failed seal */
        s_anchor_t *a = self->anchor_next;
        self->anchor_next = NULL;
        s_anchor_send (self, a);
    }
    if (self->checkpoint_retry && !self->checkpoint_busy && capsule_pcr_log_size (self->log) > 0) {
        self->checkpoint_retry = false;
        s_checkpoint (self);
    }
    return 0;
}

/* ---- life cycle -------------------------------------------------------------------------------
 */

static int
s_open_dir (const char *path, int *fd, char *why, size_t why_len)
{
    if (mkdir (path, 0750) != 0 && errno != EEXIST) {
        snprintf (why, why_len, "%s: %s", path, strerror (errno));
        return -1;
    }
    *fd = open (path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (*fd < 0) {
        snprintf (why, why_len, "%s: %s", path, strerror (errno));
        return -1;
    }
    return 0;
}

int
node_pcr_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *cert, node_sign_t *signer,
              node_pcr_t **out, char *why, size_t why_len)
{
    *out = NULL;
    if (!wd_config_bool (cfg, "pcr/enable"))
        return WD_OK;
    node_pcr_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    self->signer = signer;
    self->cert = cert;
    self->drop_fd = self->done_fd = -1;
    self->serial.fd = self->input.fd = -1;
    self->max_size = (size_t)wd_config_uint (cfg, "pcr/max_size");
    self->keep_raw = wd_config_bool (cfg, "pcr/keep_raw");
    self->baud = (unsigned)wd_config_uint (cfg, "pcr/baud");
    self->batch = (size_t)wd_config_uint (cfg, "pcr/batch");
    self->batch_delay_ms = wd_config_uint (cfg, "pcr/batch_delay");
    self->idle_ms = wd_config_uint (cfg, "pcr/idle");
    self->scan_ms = wd_config_uint (cfg, "pcr/scan");
    node_pcr_origin (self->origin, sizeof self->origin, cert->name, cert->sign_pk);
    int rc = WD_ERR_CONFIG_VALUE;
    if (!capsule_pcr_baud_valid (self->baud)) {
        snprintf (why, why_len, "pcr/baud %u is not a serial speed", self->baud);
        goto out_fail;
    }
    char path[PATH_MAX];
    const char *log_path = wd_config_str (cfg, "pcr/log");
    if (log_path)
        snprintf (path, sizeof path, "%s", log_path);
    else if (node_path_state (cfg, NODE_PCR_DB, path, sizeof path) != 0) {
        snprintf (why, why_len, "state path is too long");
        goto out_fail;
    }
    rc = capsule_pcr_log_open (path, false, self->origin, &self->log, why, why_len);
    if (rc != WD_OK)
        goto out_fail;
    /* entries committed before a crash may lack their checkpoint: sign one
       over the whole log on the first tick (a duplicate size is ignored) */
    self->checkpoint_retry = true;
    rc = WD_ERR_CONFIG_VALUE;
    const char *device = wd_config_str (cfg, "pcr/device");
    if (device && s_stream_init (self, &self->serial, device, why, why_len) != 0)
        goto out_fail;
    if (wd_config_bool (cfg, "pcr/stdin") &&
        s_stream_init (self, &self->input, NULL, why, why_len) != 0)
        goto out_fail;
    const char *drop = wd_config_str (cfg, "pcr/drop_dir");
    if (drop) {
        snprintf (self->drop_dir, sizeof self->drop_dir, "%s", drop);
        const char *done = wd_config_str (cfg, "pcr/done_dir");
        int n = done ? snprintf (self->done_dir, sizeof self->done_dir, "%s", done)
                     : snprintf (self->done_dir, sizeof self->done_dir, "%s/done", drop);
        if (n < 0 || (size_t)n >= sizeof self->done_dir) {
            snprintf (why, why_len, "pcr/done_dir is too long");
            goto out_fail;
        }
        snprintf (self->dir_channel, sizeof self->dir_channel, "dir:%s", drop);
        if (s_open_dir (self->drop_dir, &self->drop_fd, why, why_len) != 0 ||
            s_open_dir (self->done_dir, &self->done_fd, why, why_len) != 0)
            goto out_fail;
    }
    if (!device && !drop && !wd_config_bool (cfg, "pcr/stdin")) {
        snprintf (why, why_len,
                  "pcr/enable is set but no channel: set pcr/device, "
                  "pcr/drop_dir or pcr/stdin");
        goto out_fail;
    }
    uint64_t tick = self->scan_ms < self->idle_ms ? self->scan_ms : self->idle_ms;
    self->tick_timer = zloop_timer (loop, tick > 50 ? tick / 2 : 25, 0, s_on_tick, self);
    if (self->tick_timer < 0)
        wd_fatal ("zloop_timer");
    wd_log_info ("pcr: signing results from%s%s%s%s%s into %s (origin %s)", device ? " " : "",
                 device ? device : "", drop ? " " : "", drop ? drop : "",
                 wd_config_bool (cfg, "pcr/stdin") ? " stdin" : "", path, self->origin);
    *out = self;
    return WD_OK;
out_fail:
    node_pcr_destroy (&self);
    return rc;
}

void
node_pcr_destroy (node_pcr_t **self_p)
{
    assert (self_p);
    if (!*self_p)
        return;
    node_pcr_t *self = *self_p;
    if (self->log)
        s_commit (self);
    if (self->batch_timer)
        zloop_timer_end (self->loop, self->batch_timer);
    if (self->tick_timer > 0)
        zloop_timer_end (self->loop, self->tick_timer);
    s_stream_t *streams[] = { &self->serial, &self->input };
    for (size_t i = 0; i < 2; i++) {
        if (streams[i]->owner)
            s_stream_close (streams[i]);
        capsule_pcr_frame_dec_destroy (&streams[i]->dec);
    }
    size_t dropped = 0;
    while (self->waiting) {
        s_item_t *it = self->waiting;
        self->waiting = it->next;
        s_item_free (it);
        dropped++;
    }
    while (self->sealed) {
        s_item_t *it = self->sealed;
        self->sealed = it->next;
        s_item_free (it);
        dropped++;
    }
    if (dropped || self->in_flight)
        wd_log_warnx ("pcr: stopping with %zu results not logged (%zu being signed)",
                      dropped + self->in_flight, self->in_flight);
    /* items and checkpoints still being sealed free themselves when
       node_sign answers them; they must not find us */
    for (s_item_t *it = self->flying; it; it = it->next)
        it->owner = NULL;
    if (self->cp_flying)
        self->cp_flying->owner = NULL;
    if (self->anchor_flying)
        self->anchor_flying->owner = NULL;
    free (self->anchor_next);
    if (self->drop_fd >= 0)
        close (self->drop_fd);
    if (self->done_fd >= 0)
        close (self->done_fd);
    capsule_pcr_log_close (&self->log);
    free (self);
    *self_p = NULL;
}
