/*
 * pcr_signer_log: the result log on SQLite. Rows are only ever inserted
 * (wd_db_append_only triggers refuse UPDATE and DELETE); the Merkle tree is
 * not stored, only each row's leaf hash (for listing and proofs) and the
 * signed checkpoints — verification recomputes the tree from the
 * envelopes and never trusts a stored hash.
 */
#include "pcr_signer_log.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_merkle.h"
#include "wd_codec.h"
#include "wd_db.h"
#include "wd_envelope.h"
#include "wd_hash.h"

static const char *const s_schema[] = {
    "CREATE TABLE entries ("
    " idx INTEGER PRIMARY KEY,"
    " received_ms INTEGER NOT NULL,"
    " channel TEXT NOT NULL,"
    " seq INTEGER,"
    " name TEXT NOT NULL,"
    " sha256 BLOB NOT NULL,"
    " size INTEGER NOT NULL,"
    " parsed INTEGER NOT NULL,"
    " envelope BLOB NOT NULL,"
    " leaf BLOB NOT NULL,"
    " raw BLOB);"
    "CREATE INDEX entries_channel ON entries (channel, seq);"
    "CREATE TABLE checkpoints ("
    " size INTEGER PRIMARY KEY,"
    " root BLOB NOT NULL,"
    " note TEXT NOT NULL);",
};

struct capsule_pcr_log {
    sqlite3 *db;
    bool read_only;
    char origin[CAPSULE_ORIGIN_MAX + 1];
    capsule_merkle_hash_t *leaves;
    size_t size, cap; /* leaves appended (committed + in the open group) */
    size_t committed; /* leaves committed */
    capsule_merkle_range_t range, committed_range;
    bool in_group;
    sqlite3_stmt *insert;
};

static int
s_db_fail (capsule_pcr_log_t *self, char *why, size_t why_len, const char *what)
{
    wd_err_why (why, why_len, "%s: %s", what, sqlite3_errmsg (self->db));
    return WD_ERR_DB;
}

static void
s_leaf_push (capsule_pcr_log_t *self, const capsule_merkle_hash_t leaf)
{
    if (self->size == self->cap) {
        size_t cap = self->cap ? self->cap * 2 : 1024;
        capsule_merkle_hash_t *l = realloc (self->leaves, cap * sizeof *l);
        if (!l)
            abort ();
        self->leaves = l;
        self->cap = cap;
    }
    memcpy (self->leaves[self->size++], leaf, sizeof (capsule_merkle_hash_t));
    capsule_merkle_range_append (&self->range, leaf);
}

int
capsule_pcr_log_open (const char *path, bool read_only, const char *origin, capsule_pcr_log_t **out,
                      char *why, size_t why_len)
{
    *out = NULL;
    capsule_pcr_log_t *self = calloc (1, sizeof *self);
    if (!self)
        abort ();
    self->read_only = read_only;
    capsule_merkle_range_init (&self->range);
    int rc;
    if (read_only) {
        if (sqlite3_open_v2 (path, &self->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, NULL) !=
            SQLITE_OK) {
            wd_err_why (why, why_len, "%s: %s", path,
                        self->db ? sqlite3_errmsg (self->db) : "out of memory");
            rc = WD_ERR_DB;
            goto out_fail;
        }
        sqlite3_busy_timeout (self->db, WD_DB_BUSY_TIMEOUT_MS);
    } else {
        assert (origin);
        snprintf (self->origin, sizeof self->origin, "%s", origin);
        rc = wd_db_open (path, WD_DB_SYNC_FULL, &self->db, why, why_len);
        if (rc != WD_OK)
            goto out_fail;
        /* keep -wal and -shm after close: a reader with read access only
           (wardenctl results as a results-reader) cannot create them */
        int persist = 1;
        sqlite3_file_control (self->db, "main", SQLITE_FCNTL_PERSIST_WAL, &persist);
        rc = wd_db_migrate (self->db, s_schema, sizeof s_schema / sizeof s_schema[0], why, why_len);
        if (rc == WD_OK)
            rc = wd_db_append_only (self->db, "entries", why, why_len);
        if (rc == WD_OK)
            rc = wd_db_append_only (self->db, "checkpoints", why, why_len);
        if (rc != WD_OK)
            goto out_fail;
        if (sqlite3_prepare_v2 (self->db,
                                "INSERT INTO entries (idx, received_ms, channel, seq, name, "
                                "sha256, size, parsed, envelope, leaf, raw) VALUES "
                                "(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)",
                                -1, &self->insert, NULL) != SQLITE_OK) {
            rc = s_db_fail (self, why, why_len, "prepare insert");
            goto out_fail;
        }
        /* the leaf hashes, for the tree head and for proofs */
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2 (self->db, "SELECT idx, leaf FROM entries ORDER BY idx", -1, &st,
                                NULL) != SQLITE_OK) {
            rc = s_db_fail (self, why, why_len, "load leaves");
            goto out_fail;
        }
        while (sqlite3_step (st) == SQLITE_ROW) {
            if ((uint64_t)sqlite3_column_int64 (st, 0) != self->size ||
                sqlite3_column_bytes (st, 1) != 32) {
                wd_err_why (why, why_len,
                            "%s: entry %zu is missing or damaged (run wardenctl "
                            "results verify)",
                            path, self->size);
                sqlite3_finalize (st);
                rc = CAPSULE_ERR_LOG_MISSING;
                goto out_fail;
            }
            s_leaf_push (self, sqlite3_column_blob (st, 1));
        }
        sqlite3_finalize (st);
        self->committed = self->size;
        self->committed_range = self->range;
    }
    *out = self;
    return WD_OK;
out_fail:
    capsule_pcr_log_close (&self);
    return rc;
}

void
capsule_pcr_log_close (capsule_pcr_log_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        capsule_pcr_log_t *self = *self_p;
        sqlite3_finalize (self->insert);
        if (self->in_group)
            sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        if (self->read_only)
            sqlite3_close (self->db);
        else
            wd_db_close (&self->db);
        free (self->leaves);
        free (self);
        *self_p = NULL;
    }
}

uint64_t
capsule_pcr_log_size (const capsule_pcr_log_t *self)
{
    return self->size;
}

bool
capsule_pcr_log_last_seq (capsule_pcr_log_t *self, const char *channel, uint64_t *seq)
{
    sqlite3_stmt *st;
    bool found = false;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT max(seq) FROM entries WHERE channel = ?1 AND seq IS NOT NULL",
                            -1, &st, NULL) != SQLITE_OK)
        return false;
    sqlite3_bind_text (st, 1, channel, -1, SQLITE_STATIC);
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_type (st, 0) == SQLITE_INTEGER) {
        *seq = (uint64_t)sqlite3_column_int64 (st, 0);
        found = true;
    }
    sqlite3_finalize (st);
    return found;
}

int
capsule_pcr_log_begin (capsule_pcr_log_t *self, char *why, size_t why_len)
{
    assert (!self->read_only && !self->in_group);
    if (sqlite3_exec (self->db, "BEGIN IMMEDIATE", NULL, NULL, NULL) != SQLITE_OK)
        return s_db_fail (self, why, why_len, "begin");
    self->in_group = true;
    return WD_OK;
}

int
capsule_pcr_log_append (capsule_pcr_log_t *self, const capsule_pcr_entry_t *e, uint64_t *index,
                        char *why, size_t why_len)
{
    assert (self->in_group);
    capsule_merkle_hash_t leaf;
    capsule_merkle_leaf (leaf, e->envelope, e->envelope_len);
    sqlite3_stmt *st = self->insert;
    sqlite3_reset (st);
    sqlite3_clear_bindings (st);
    sqlite3_bind_int64 (st, 1, (sqlite3_int64)self->size);
    sqlite3_bind_int64 (st, 2, (sqlite3_int64)e->received_ms);
    sqlite3_bind_text (st, 3, e->channel, -1, SQLITE_STATIC);
    if (e->has_seq)
        sqlite3_bind_int64 (st, 4, (sqlite3_int64)e->seq);
    sqlite3_bind_text (st, 5, e->name, -1, SQLITE_STATIC);
    sqlite3_bind_blob (st, 6, e->sha256, 32, SQLITE_STATIC);
    sqlite3_bind_int64 (st, 7, (sqlite3_int64)e->size);
    sqlite3_bind_int (st, 8, e->parsed);
    sqlite3_bind_blob (st, 9, e->envelope, (int)e->envelope_len, SQLITE_STATIC);
    sqlite3_bind_blob (st, 10, leaf, 32, SQLITE_STATIC);
    if (e->raw)
        sqlite3_bind_blob (st, 11, e->raw_len ? (const void *)e->raw : "", (int)e->raw_len,
                           SQLITE_STATIC);
    if (sqlite3_step (st) != SQLITE_DONE)
        return s_db_fail (self, why, why_len, "insert");
    sqlite3_reset (st);
    if (index)
        *index = self->size;
    s_leaf_push (self, leaf);
    return WD_OK;
}

int
capsule_pcr_log_commit (capsule_pcr_log_t *self, char *why, size_t why_len)
{
    assert (self->in_group);
    self->in_group = false;
    if (sqlite3_exec (self->db, "COMMIT", NULL, NULL, NULL) != SQLITE_OK) {
        int rc = s_db_fail (self, why, why_len, "commit");
        sqlite3_exec (self->db, "ROLLBACK", NULL, NULL, NULL);
        self->size = self->committed;
        self->range = self->committed_range;
        return rc;
    }
    self->committed = self->size;
    self->committed_range = self->range;
    return WD_OK;
}

size_t
capsule_pcr_log_checkpoint_body (capsule_pcr_log_t *self, char *out, uint64_t *size,
                                 uint8_t root[32])
{
    capsule_merkle_range_root (&self->range, root);
    *size = self->size;
    return capsule_checkpoint_body (out, CAPSULE_CHECKPOINT_BODY_MAX + 1, self->origin, self->size,
                                    root);
}

int
capsule_pcr_log_add_checkpoint (capsule_pcr_log_t *self, uint64_t size, const uint8_t root[32],
                                const char *note, size_t note_len, char *why, size_t why_len)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "INSERT OR IGNORE INTO checkpoints (size, root, note) VALUES "
                            "(?1, ?2, ?3)",
                            -1, &st, NULL) != SQLITE_OK)
        return s_db_fail (self, why, why_len, "prepare checkpoint");
    sqlite3_bind_int64 (st, 1, (sqlite3_int64)size);
    sqlite3_bind_blob (st, 2, root, 32, SQLITE_STATIC);
    sqlite3_bind_text (st, 3, note, (int)note_len, SQLITE_STATIC);
    int rc = sqlite3_step (st) == SQLITE_DONE ? WD_OK
                                              : s_db_fail (self, why, why_len, "insert checkpoint");
    sqlite3_finalize (st);
    return rc;
}

static void
s_row_entry (sqlite3_stmt *st, capsule_pcr_entry_t *e)
{
    /* columns: idx, received_ms, channel, seq, name, sha256, size, parsed,
       envelope, raw */
    memset (e, 0, sizeof *e);
    e->index = (uint64_t)sqlite3_column_int64 (st, 0);
    e->received_ms = (uint64_t)sqlite3_column_int64 (st, 1);
    e->channel = (const char *)sqlite3_column_text (st, 2);
    e->has_seq = sqlite3_column_type (st, 3) == SQLITE_INTEGER;
    e->seq = (uint64_t)sqlite3_column_int64 (st, 3);
    e->name = (const char *)sqlite3_column_text (st, 4);
    if (sqlite3_column_bytes (st, 5) == 32)
        memcpy (e->sha256, sqlite3_column_blob (st, 5), 32);
    e->size = (uint64_t)sqlite3_column_int64 (st, 6);
    e->parsed = sqlite3_column_int (st, 7) != 0;
    e->envelope = sqlite3_column_blob (st, 8);
    e->envelope_len = (size_t)sqlite3_column_bytes (st, 8);
    if (sqlite3_column_type (st, 9) != SQLITE_NULL) {
        e->raw = sqlite3_column_blob (st, 9);
        e->raw_len = (size_t)sqlite3_column_bytes (st, 9);
        if (!e->raw)
            e->raw = (const uint8_t *)"";
    }
    if (!e->channel)
        e->channel = "";
    if (!e->name)
        e->name = "";
}

#define S_COLUMNS "idx, received_ms, channel, seq, name, sha256, size, parsed, envelope, raw"

int
capsule_pcr_log_list (capsule_pcr_log_t *self, uint64_t first, uint64_t limit,
                      capsule_pcr_entry_fn *fn, void *arg)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT " S_COLUMNS " FROM entries WHERE idx >= ?1 ORDER BY idx "
                            "LIMIT ?2",
                            -1, &st, NULL) != SQLITE_OK)
        return WD_ERR_DB;
    sqlite3_bind_int64 (st, 1, (sqlite3_int64)first);
    sqlite3_bind_int64 (st, 2, limit > INT64_MAX ? INT64_MAX : (sqlite3_int64)limit);
    int rc;
    while ((rc = sqlite3_step (st)) == SQLITE_ROW) {
        capsule_pcr_entry_t e;
        s_row_entry (st, &e);
        fn (arg, &e);
    }
    sqlite3_finalize (st);
    return rc == SQLITE_DONE ? WD_OK : WD_ERR_DB;
}

typedef struct {
    bool found;
    void (*fn) (void *, const capsule_pcr_entry_t *);
    void *arg;
} s_get_t;

static void
s_get_one (void *arg, const capsule_pcr_entry_t *e)
{
    s_get_t *g = arg;
    g->found = true;
    g->fn (g->arg, e);
}

int
capsule_pcr_log_get (capsule_pcr_log_t *self, uint64_t index, capsule_pcr_entry_fn *fn, void *arg)
{
    s_get_t g = { false, fn, arg };
    int rc = capsule_pcr_log_list (self, index, 1, s_get_one, &g);
    if (rc != WD_OK)
        return rc;
    return g.found ? WD_OK : CAPSULE_ERR_LOG_NO_ENTRY;
}

/* Reads all leaf hashes of a read-only log (writers keep them). */
static int
s_load_leaves (capsule_pcr_log_t *self, char *why, size_t why_len)
{
    if (!self->read_only)
        return WD_OK;
    self->size = 0;
    capsule_merkle_range_init (&self->range);
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, "SELECT idx, leaf FROM entries ORDER BY idx", -1, &st,
                            NULL) != SQLITE_OK)
        return s_db_fail (self, why, why_len, "load leaves");
    int rc = WD_OK;
    while (sqlite3_step (st) == SQLITE_ROW) {
        if ((uint64_t)sqlite3_column_int64 (st, 0) != self->size ||
            sqlite3_column_bytes (st, 1) != 32) {
            wd_err_why (why, why_len, "entry %zu is missing or damaged", self->size);
            rc = CAPSULE_ERR_LOG_MISSING;
            break;
        }
        s_leaf_push (self, sqlite3_column_blob (st, 1));
    }
    sqlite3_finalize (st);
    return rc;
}

typedef struct {
    const uint8_t *envelope, *raw;
    size_t envelope_len, raw_len;
    bool has_raw;
    uint8_t *copy;
} s_bundle_src_t;

static void
s_copy_entry (void *arg, const capsule_pcr_entry_t *e)
{
    s_bundle_src_t *b = arg;
    size_t n = e->envelope_len + (e->raw ? e->raw_len : 0);
    b->copy = malloc (n ? n : 1);
    if (!b->copy)
        abort ();
    memcpy (b->copy, e->envelope, e->envelope_len);
    b->envelope = b->copy;
    b->envelope_len = e->envelope_len;
    if (e->raw) {
        memcpy (b->copy + e->envelope_len, e->raw, e->raw_len);
        b->raw = b->copy + e->envelope_len;
        b->raw_len = e->raw_len;
        b->has_raw = true;
    }
}

int
capsule_pcr_log_bundle (capsule_pcr_log_t *self, uint64_t index, bool with_raw, const uint8_t *cert,
                        size_t cert_len, uint8_t **out, size_t *out_len, char *why, size_t why_len)
{
    *out = NULL;
    int rc = s_load_leaves (self, why, why_len);
    if (rc != WD_OK)
        return rc;
    s_bundle_src_t src = { 0 };
    rc = capsule_pcr_log_get (self, index, s_copy_entry, &src);
    if (rc != WD_OK) {
        wd_err_why (why, why_len, "entry %llu: %s", (unsigned long long)index,
                    capsule_strerror (rc));
        return rc;
    }
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db,
                            "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1", -1,
                            &st, NULL) != SQLITE_OK) {
        free (src.copy);
        return s_db_fail (self, why, why_len, "checkpoint");
    }
    uint64_t size = 0;
    char *note = NULL;
    size_t note_len = 0;
    if (sqlite3_step (st) == SQLITE_ROW) {
        size = (uint64_t)sqlite3_column_int64 (st, 0);
        note_len = (size_t)sqlite3_column_bytes (st, 1);
        note = strndup ((const char *)sqlite3_column_text (st, 1), note_len);
    }
    sqlite3_finalize (st);
    if (size <= index || size > self->size) {
        wd_err_why (why, why_len, "entry %llu: newest checkpoint covers %llu of %zu entries",
                    (unsigned long long)index, (unsigned long long)size, self->size);
        free (note);
        free (src.copy);
        return size > self->size ? CAPSULE_ERR_LOG_SHORT : CAPSULE_ERR_LOG_NO_CHECKPOINT;
    }
    capsule_merkle_hash_t proof[CAPSULE_MERKLE_PROOF_MAX];
    size_t count = capsule_merkle_inclusion_proof ((const capsule_merkle_hash_t *)self->leaves,
                                                   (size_t)size, (size_t)index, proof);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8);
    wd_writer_key (w, "cert");
    wd_writer_bin (w, cert, cert_len);
    wd_writer_key (w, "checkpoint");
    wd_writer_str (w, note, note_len);
    wd_writer_key (w, "envelope");
    wd_writer_bin (w, src.envelope, src.envelope_len);
    wd_writer_key (w, "index");
    wd_writer_uint (w, index);
    wd_writer_key (w, "proof");
    wd_writer_array (w, count);
    for (size_t i = 0; i < count; i++)
        wd_writer_bin (w, proof[i], 32);
    wd_writer_key (w, "raw");
    if (with_raw && src.has_raw)
        wd_writer_bin (w, src.raw, src.raw_len);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, CAPSULE_BUNDLE_TYPE);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CAPSULE_BUNDLE_VERSION);
    *out = wd_writer_take (w, out_len);
    wd_writer_destroy (&w);
    free (note);
    free (src.copy);
    return WD_OK;
}

/* The note of the checkpoint of size (0: the newest), malloc'ed, or NULL. */
static char *
s_checkpoint_note (capsule_pcr_log_t *self, uint64_t size, uint64_t *size_out)
{
    sqlite3_stmt *st;
    const char *sql = size ? "SELECT size, note FROM checkpoints WHERE size = ?1"
                           : "SELECT size, note FROM checkpoints ORDER BY size DESC LIMIT 1";
    if (sqlite3_prepare_v2 (self->db, sql, -1, &st, NULL) != SQLITE_OK)
        return NULL;
    if (size)
        sqlite3_bind_int64 (st, 1, (sqlite3_int64)size);
    char *note = NULL;
    if (sqlite3_step (st) == SQLITE_ROW && sqlite3_column_text (st, 1)) {
        *size_out = (uint64_t)sqlite3_column_int64 (st, 0);
        note = strndup ((const char *)sqlite3_column_text (st, 1),
                        (size_t)sqlite3_column_bytes (st, 1));
    }
    sqlite3_finalize (st);
    return note;
}

int
capsule_pcr_log_newest_checkpoint (capsule_pcr_log_t *self, uint64_t *size, char **note)
{
    *size = 0;
    *note = s_checkpoint_note (self, 0, size);
    return WD_OK;
}

int
capsule_pcr_log_head_at (capsule_pcr_log_t *self, uint64_t size, uint8_t root[32], char *why,
                         size_t why_len)
{
    int rc = s_load_leaves (self, why, why_len);
    if (rc != WD_OK)
        return rc;
    if (size > self->size) {
        wd_err_why (why, why_len, "the log holds %zu entries, not %llu", self->size,
                    (unsigned long long)size);
        return CAPSULE_ERR_LOG_SHORT;
    }
    capsule_merkle_root (root, (const capsule_merkle_hash_t *)self->leaves, (size_t)size);
    return WD_OK;
}

int
capsule_pcr_log_consistency (capsule_pcr_log_t *self, uint64_t old_size, uint64_t new_size,
                             uint8_t (*proof)[32], size_t *count, char **old_note, char **new_note,
                             uint64_t *new_size_out, char *why, size_t why_len)
{
    *old_note = *new_note = NULL;
    *count = 0;
    int rc = s_load_leaves (self, why, why_len);
    if (rc != WD_OK)
        return rc;
    uint64_t got_old = 0, got_new = 0;
    *old_note = old_size ? s_checkpoint_note (self, old_size, &got_old) : NULL;
    *new_note = s_checkpoint_note (self, new_size, &got_new);
    if (!*old_note || !*new_note || got_old > got_new || got_new > self->size) {
        wd_err_why (why, why_len, "no signed checkpoints of sizes %llu and %llu%s",
                    (unsigned long long)old_size, (unsigned long long)new_size,
                    new_size ? "" : " (newest)");
        free (*old_note);
        free (*new_note);
        *old_note = *new_note = NULL;
        return CAPSULE_ERR_LOG_NO_CHECKPOINT;
    }
    *new_size_out = got_new;
    *count = capsule_merkle_consistency_proof ((const capsule_merkle_hash_t *)self->leaves,
                                               (size_t)got_old, (size_t)got_new,
                                               (capsule_merkle_hash_t *)proof);
    /* a self-check against the heads of the stored leaves; the caller
       checks the proof against the roots the signed notes state */
    capsule_merkle_hash_t old_root, new_root;
    capsule_merkle_root (old_root, (const capsule_merkle_hash_t *)self->leaves, (size_t)got_old);
    capsule_merkle_root (new_root, (const capsule_merkle_hash_t *)self->leaves, (size_t)got_new);
    if (!capsule_merkle_consistency_verify (got_old, got_new, old_root, new_root,
                                            (const capsule_merkle_hash_t *)proof, *count)) {
        wd_err_why (why, why_len, "consistency proof %llu -> %llu does not verify",
                    (unsigned long long)got_old, (unsigned long long)got_new);
        return CAPSULE_ERR_LOG_ROOT;
    }
    return WD_OK;
}

int
capsule_pcr_statement_subject (const uint8_t *body, size_t len, char *name, size_t name_size,
                               uint8_t sha256[32])
{
    wd_reader_t r;
    size_t n;
    const char *s;
    size_t sl;
    const uint8_t *skip;
    size_t skip_len;
    char hex[WD_HASH_HEX_LEN + 1];
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "_type");
    wd_read_str (&r, &s, &sl, 64);
    wd_read_key (&r, "predicate");
    wd_read_raw (&r, &skip, &skip_len);
    wd_read_key (&r, "predicateType");
    wd_read_str (&r, &s, &sl, 64);
    wd_read_key (&r, "subject");
    wd_read_array (&r, &n);
    if (n != 1 && r.err == WD_OK)
        return WD_ERR_BAD_LENGTH;
    wd_read_map (&r, &n);
    wd_read_key (&r, "digest");
    wd_read_map (&r, &n);
    wd_read_key (&r, "sha256");
    wd_read_cstr (&r, hex, sizeof hex);
    wd_read_end (&r);
    wd_read_key (&r, "name");
    wd_read_cstr (&r, name, name_size);
    wd_read_end (&r);
    wd_read_end (&r);
    wd_read_end (&r);
    int rc = wd_reader_finish (&r);
    if (rc == WD_OK && (strlen (hex) != 64 || !wd_hex_decode (sha256, 32, hex)))
        rc = WD_ERR_BAD_VALUE;
    return rc;
}

int
capsule_pcr_log_verify (capsule_pcr_log_t *self, const uint8_t sign_pk[32],
                        capsule_pcr_verify_report_t *report, char *why, size_t why_len)
{
    memset (report, 0, sizeof *report);
    /* checkpoints first: each note must verify and agree with its columns */
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (self->db, "SELECT size, root, note FROM checkpoints ORDER BY size", -1,
                            &st, NULL) != SQLITE_OK)
        return s_db_fail (self, why, why_len, "checkpoints");
    size_t ncp = 0, cap = 0;
    capsule_checkpoint_t *cps = NULL;
    int rc = WD_OK;
    while (rc == WD_OK && sqlite3_step (st) == SQLITE_ROW) {
        capsule_checkpoint_t cp;
        uint64_t size = (uint64_t)sqlite3_column_int64 (st, 0);
        const char *note = (const char *)sqlite3_column_text (st, 2);
        size_t note_len = (size_t)sqlite3_column_bytes (st, 2);
        capsule_verify_t v = note ? capsule_checkpoint_open (note, note_len, sign_pk, &cp)
                                  : CAPSULE_VERIFY_CHECKPOINT_FORMAT;
        if (v != CAPSULE_VERIFY_OK || cp.size != size || sqlite3_column_bytes (st, 1) != 32 ||
            memcmp (sqlite3_column_blob (st, 1), cp.root, 32) != 0) {
            report->bad_index = size;
            wd_err_why (why, why_len, "checkpoint of size %llu: %s", (unsigned long long)size,
                        v != CAPSULE_VERIFY_OK ? capsule_verify_strerror (v)
                                               : "columns disagree with the signed note");
            rc = CAPSULE_ERR_LOG_CHECKPOINT;
            break;
        }
        if (ncp == cap) {
            cap = cap ? cap * 2 : 64;
            capsule_checkpoint_t *c = realloc (cps, cap * sizeof *c);
            if (!c)
                abort ();
            cps = c;
        }
        cps[ncp++] = cp;
    }
    sqlite3_finalize (st);
    report->checkpoints = ncp;
    if (rc != WD_OK) {
        free (cps);
        return rc;
    }
    if (sqlite3_prepare_v2 (self->db, "SELECT " S_COLUMNS ", leaf FROM entries ORDER BY idx", -1,
                            &st, NULL) != SQLITE_OK) {
        free (cps);
        return s_db_fail (self, why, why_len, "entries");
    }
    capsule_merkle_range_t range;
    capsule_merkle_range_init (&range);
    size_t next_cp = 0;
    while (next_cp < ncp && cps[next_cp].size == 0)
        next_cp++;
    uint64_t i = 0;
    while (rc == WD_OK && sqlite3_step (st) == SQLITE_ROW) {
        capsule_pcr_entry_t e;
        s_row_entry (st, &e);
        report->bad_index = i;
        if (e.index != i) {
            wd_err_why (why, why_len, "entry %llu is missing (next is %llu)", (unsigned long long)i,
                        (unsigned long long)e.index);
            rc = CAPSULE_ERR_LOG_MISSING;
            break;
        }
        capsule_merkle_hash_t leaf;
        capsule_merkle_leaf (leaf, e.envelope, e.envelope_len);
        if (sqlite3_column_bytes (st, 10) != 32 ||
            memcmp (sqlite3_column_blob (st, 10), leaf, 32) != 0) {
            wd_err_why (why, why_len, "entry %llu: stored leaf hash differs",
                        (unsigned long long)i);
            rc = CAPSULE_ERR_LOG_LEAF;
            break;
        }
        wd_envelope_t env;
        static const uint8_t zero_chain[32];
        int err = e.envelope ? wd_envelope_open (e.envelope, e.envelope_len, zero_chain,
                                                 CAPSULE_PCR_TYPE, &env)
                             : WD_ERR_TRUNCATED;
        if (err == WD_OK && sodium_memcmp (env.from, sign_pk, 32) != 0)
            err = WD_ERR_KEY_MISMATCH;
        if (err != WD_OK) {
            wd_err_why (why, why_len, "entry %llu: %s", (unsigned long long)i, wd_strerror (err));
            rc = CAPSULE_ERR_LOG_SIGNATURE;
            break;
        }
        char name[CAPSULE_ORIGIN_MAX * 2 + 1];
        uint8_t sha[32];
        err = capsule_pcr_statement_subject (env.body, env.body_len, name, sizeof name, sha);
        if (err != WD_OK || strcmp (name, e.name) != 0 || sodium_memcmp (sha, e.sha256, 32) != 0) {
            wd_err_why (why, why_len,
                        "entry %llu: name or sha256 column differs from the statement",
                        (unsigned long long)i);
            rc = CAPSULE_ERR_LOG_COLUMN;
            break;
        }
        if (e.raw) {
            uint8_t h[32];
            crypto_hash_sha256 (h, e.raw, e.raw_len);
            if (sodium_memcmp (h, sha, 32) != 0 || e.raw_len != e.size) {
                wd_err_why (why, why_len, "entry %llu: raw bytes do not match the statement",
                            (unsigned long long)i);
                rc = CAPSULE_ERR_LOG_DIGEST;
                break;
            }
        }
        capsule_merkle_range_append (&range, leaf);
        i++;
        while (next_cp < ncp && cps[next_cp].size == i) {
            capsule_merkle_hash_t root;
            capsule_merkle_range_root (&range, root);
            if (sodium_memcmp (root, cps[next_cp].root, 32) != 0) {
                report->bad_index = i;
                wd_err_why (why, why_len,
                            "the first %llu entries do not hash to their signed checkpoint",
                            (unsigned long long)i);
                rc = CAPSULE_ERR_LOG_ROOT;
                break;
            }
            next_cp++;
        }
    }
    sqlite3_finalize (st);
    report->entries = i;
    capsule_merkle_range_root (&range, report->root);
    if (rc == WD_OK && next_cp < ncp) {
        report->bad_index = cps[next_cp].size;
        wd_err_why (why, why_len, "checkpoint covers %llu entries, the log holds %llu",
                    (unsigned long long)cps[next_cp].size, (unsigned long long)i);
        rc = CAPSULE_ERR_LOG_SHORT;
    }
    free (cps);
    return rc;
}
