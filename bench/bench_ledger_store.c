/*
 * bench_ledger_store: how fast cons_ledger appends certified blocks (every
 * rule checked: record and certificate signatures, reputation hash, one
 * transaction and fsync per block: WAL, synchronous=FULL), against the
 * baseline of raw SQLite inserts of the same bytes (the same block, cert
 * and record rows, one transaction per block, same database settings) in
 * the same run. The blocks are made first by a ledger of the
 * cons_test_chain cluster (4 validators), untimed.
 *
 * Usage: bench_ledger_store [--blocks N] [--records R] [--dir DIR]
 * Exit 0 when the answers are right (the ledger holds N blocks and
 * verifies from scratch, the raw table holds N rows), 1 otherwise.
 */
#include <getopt.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_support.h"
#include "cons_ledger.h"
#include "cons_test_chain.h"
#include "wd_db.h"

typedef struct {
    uint8_t *block, *cert;
    size_t block_len, cert_len;
} s_item_t;

static void
s_path (char *out, size_t size, const char *dir, const char *name)
{
    snprintf (out, size, "%s/%s", dir, name);
    unlink (out);
    char extra[4200];
    snprintf (extra, sizeof extra, "%s-wal", out);
    unlink (extra);
    snprintf (extra, sizeof extra, "%s-shm", out);
    unlink (extra);
}

/* Makes n blocks of r records each with a scratch ledger. */
static s_item_t *
s_make (const tchain_t *t, const char *dir, size_t n, size_t r)
{
    char path[4096], why[256];
    s_path (path, sizeof path, dir, "make.db");
    cons_ledger_t *l;
    if (cons_ledger_open (path, t->genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why) != WD_OK) {
        fprintf (stderr, "bench_ledger_store: %s\n", why);
        exit (BENCH_EXIT_INTERNAL);
    }
    s_item_t *items = bench_alloc (n * sizeof *items);
    cons_bytes_t *recs = bench_alloc ((r ? r : 1) * sizeof *recs);
    for (size_t h = 1; h <= n; h++) {
        for (size_t i = 0; i < r; i++) {
            size_t len;
            uint8_t *data =
                i % 2 == 0 ? tchain_verdict (t, i % t->n, (h + i) % t->n, true, h * 1000 + i, &len)
                           : tchain_note (t, i % t->n, "note", h * 1000 + i, &len);
            recs[i] = (cons_bytes_t){ data, len };
        }
        if (tchain_commit (t, l, recs, r, 0, h) != WD_OK)
            exit (BENCH_EXIT_INTERNAL);
        for (size_t i = 0; i < r; i++)
            free ((void *)recs[i].data);
        s_item_t *it = &items[h - 1];
        if (cons_ledger_get (l, h, &it->block, &it->block_len, &it->cert, &it->cert_len) != WD_OK)
            exit (BENCH_EXIT_INTERNAL);
    }
    free (recs);
    cons_ledger_destroy (&l);
    return items;
}

/* Raw inserts of the same bytes: returns seconds, or -1. */
static double
s_raw (const char *dir, const s_item_t *items, size_t n, int64_t *rows)
{
    char path[4096], why[256];
    s_path (path, sizeof path, dir, "raw.db");
    sqlite3 *db;
    if (wd_db_open (path, WD_DB_SYNC_FULL, &db, why, sizeof why) != WD_OK)
        return -1;
    if (sqlite3_exec (db,
                      "CREATE TABLE blocks (height INTEGER PRIMARY KEY, block BLOB, cert BLOB);"
                      "CREATE TABLE records (height INTEGER, idx INTEGER, id BLOB UNIQUE,"
                      " envelope BLOB, PRIMARY KEY (height, idx));",
                      NULL, NULL, NULL) != SQLITE_OK)
        return -1;
    sqlite3_stmt *ins, *rec;
    sqlite3_prepare_v2 (db, "INSERT INTO blocks VALUES (?,?,?)", -1, &ins, NULL);
    sqlite3_prepare_v2 (db, "INSERT INTO records VALUES (?,?,?,?)", -1, &rec, NULL);
    double start = bench_now ();
    for (size_t h = 0; h < n; h++) {
        cons_block_t b;
        if (cons_block_decode (items[h].block, items[h].block_len, SIZE_MAX, &b) != WD_OK)
            return -1;
        sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        sqlite3_reset (ins);
        sqlite3_bind_int64 (ins, 1, (sqlite3_int64)h + 1);
        sqlite3_bind_blob (ins, 2, items[h].block, (int)items[h].block_len, SQLITE_STATIC);
        sqlite3_bind_blob (ins, 3, items[h].cert, (int)items[h].cert_len, SQLITE_STATIC);
        int ok = sqlite3_step (ins) == SQLITE_DONE;
        for (size_t i = 0; i < b.record_count; i++) {
            uint8_t id[32];
            wd_envelope_id (id, b.records[i].data, b.records[i].len);
            sqlite3_reset (rec);
            sqlite3_bind_int64 (rec, 1, (sqlite3_int64)h + 1);
            sqlite3_bind_int64 (rec, 2, (sqlite3_int64)i);
            sqlite3_bind_blob (rec, 3, id, 32, SQLITE_TRANSIENT);
            sqlite3_bind_blob (rec, 4, b.records[i].data, (int)b.records[i].len, SQLITE_STATIC);
            ok &= sqlite3_step (rec) == SQLITE_DONE;
        }
        ok &= sqlite3_exec (db, "COMMIT", NULL, NULL, NULL) == SQLITE_OK;
        cons_block_release (&b);
        if (!ok)
            return -1;
    }
    double secs = bench_now () - start;
    sqlite3_finalize (ins);
    sqlite3_finalize (rec);
    sqlite3_stmt *count;
    sqlite3_prepare_v2 (db, "SELECT COUNT(*) FROM blocks", -1, &count, NULL);
    *rows = sqlite3_step (count) == SQLITE_ROW ? sqlite3_column_int64 (count, 0) : -1;
    sqlite3_finalize (count);
    wd_db_close (&db);
    return secs;
}

int
main (int argc, char **argv)
{
    size_t blocks = 200, records = 16;
    const char *dir = NULL;
    static const struct option options[] = {
        { "blocks", required_argument, NULL, 'b' },
        { "records", required_argument, NULL, 'r' },
        { "dir", required_argument, NULL, 'd' },
        { NULL, 0, NULL, 0 },
    };
    int opt;
    while ((opt = getopt_long (argc, argv, "b:r:d:", options, NULL)) != -1) {
        if (opt == 'b')
            blocks = strtoul (optarg, NULL, 10);
        else if (opt == 'r')
            records = strtoul (optarg, NULL, 10);
        else if (opt == 'd')
            dir = optarg;
        else
            return 2;
    }
    if (blocks == 0 || records > 6000)
        return 2;
    char tmpl[] = "/var/tmp/bench-ledger-XXXXXX";
    if (!dir && !(dir = mkdtemp (tmpl)))
        return BENCH_EXIT_INTERNAL;

    tchain_t t;
    tchain_init (&t, 4, 0, 0, 0);
    s_item_t *items = s_make (&t, dir, blocks, records);

    int64_t rows = 0;
    double raw = s_raw (dir, items, blocks, &rows);

    char path[4096], why[256];
    s_path (path, sizeof path, dir, "ledger.db");
    cons_ledger_t *l;
    if (raw < 0 ||
        cons_ledger_open (path, t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why) != WD_OK)
        return BENCH_EXIT_INTERNAL;
    double start = bench_now ();
    for (size_t h = 0; h < blocks; h++)
        if (cons_ledger_append (l, items[h].block, items[h].block_len, items[h].cert,
                                items[h].cert_len) != WD_OK)
            return BENCH_EXIT_INTERNAL;
    double secs = bench_now () - start;
    uint64_t bad = 0;
    start = bench_now ();
    int verify = cons_ledger_verify_all (l, &bad, why, sizeof why);
    double vsecs = bench_now () - start;
    bool ok = verify == WD_OK && cons_ledger_height (l) == blocks && rows == (int64_t)blocks;
    cons_ledger_destroy (&l);

    printf ("bench_ledger_store: %zu blocks of %zu records, 4 validators, fsync per block\n",
            blocks, records);
    printf ("  raw SQLite inserts   %9.0f blocks/s  %9.0f records/s  (baseline)\n", blocks / raw,
            blocks * records / raw);
    printf ("  cons_ledger_append   %9.0f blocks/s  %9.0f records/s  %.2fx the baseline's time\n",
            blocks / secs, blocks * records / secs, secs / raw);
    printf ("  cons_ledger_verify_all %7.0f blocks/s  (from scratch, signatures included)\n",
            blocks / vsecs);
    printf ("answers: %s\n", ok ? "ok" : "WRONG");

    for (size_t h = 0; h < blocks; h++) {
        free (items[h].block);
        free (items[h].cert);
    }
    free (items);
    tchain_fini (&t);
    static const char *const names[] = { "make.db", "raw.db", "ledger.db" };
    for (size_t i = 0; i < 3; i++)
        s_path (path, sizeof path, dir, names[i]);
    if (dir == tmpl)
        rmdir (dir);
    return ok ? 0 : 1;
}
