/*
 * wd_db: opening, migrating and sealing Warden's SQLite databases.
 *
 * Connections are opened with SQLITE_OPEN_NOMUTEX ("multi-thread" mode): in
 * Warden every connection belongs to one thread of one process (DESIGN.md
 * §4), so SQLite's per-connection mutex would only cost time; sharing a
 * connection between threads is a bug in the caller, not something to
 * serialize here. Each setting is read back after it is made, because
 * SQLite ignores some PRAGMAs silently (journal_mode on :memory:,
 * foreign_keys inside a transaction).
 *
 * recursive_triggers is switched on as well: without it, INSERT OR REPLACE
 * deletes the conflicting row without firing DELETE triggers, which would
 * let a REPLACE rewrite an append-only table.
 *
 * Migrations take the write lock (BEGIN IMMEDIATE) before reading
 * user_version, so two processes migrating the same file at once apply each
 * step exactly once.
 */
#include "wd_db.h"

#include <assert.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static wd_err_t
s_db_err (sqlite3 *db, int rc)
{
    if (rc == SQLITE_NOMEM || (db && sqlite3_errcode (db) == SQLITE_NOMEM))
        return WD_ERR_NOMEM;
    return WD_ERR_DB;
}

/* Runs a statement that returns one row and copies its first column as text
   into out (empty when the statement returns no row). */
static int
s_query_text (sqlite3 *db, const char *sql, char *out, size_t out_size)
{
    sqlite3_stmt *stmt;
    out[0] = '\0';
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        const unsigned char *text = sqlite3_column_text (stmt, 0);
        snprintf (out, out_size, "%s", text ? (const char *)text : "");
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize (stmt);
    return rc;
}

static int
s_query_int (sqlite3 *db, const char *sql, sqlite3_int64 *value)
{
    sqlite3_stmt *stmt;
    *value = 0;
    int rc = sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL);
    if (rc != SQLITE_OK)
        return rc;
    rc = sqlite3_step (stmt);
    if (rc == SQLITE_ROW) {
        *value = sqlite3_column_int64 (stmt, 0);
        rc = SQLITE_OK;
    } else if (rc == SQLITE_DONE)
        rc = SQLITE_OK;
    sqlite3_finalize (stmt);
    return rc;
}

wd_err_t
wd_db_open (const char *path, wd_db_sync_t sync, sqlite3 **db, char *why, size_t why_len)
{
    assert (path && db);
    assert (sync == WD_DB_SYNC_NORMAL || sync == WD_DB_SYNC_FULL);
    *db = NULL;
    sqlite3 *conn = NULL;
    int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
#ifdef SQLITE_OPEN_EXRESCODE
    flags |= SQLITE_OPEN_EXRESCODE;
#endif
    int rc = sqlite3_open_v2 (path, &conn, flags, NULL);
    if (rc != SQLITE_OK) {
        /* conn may be NULL (out of memory) or hold the message */
        wd_err_why (why, why_len, "%s: %s", path,
                    conn ? sqlite3_errmsg (conn) : sqlite3_errstr (rc));
        wd_err_t err = conn ? s_db_err (conn, rc) : WD_ERR_NOMEM;
        sqlite3_close (conn);
        return err;
    }
    sqlite3_extended_result_codes (conn, 1);
    /* before journal_mode: switching to WAL takes a lock another opener may
       hold */
    sqlite3_busy_timeout (conn, WD_DB_BUSY_TIMEOUT_MS);

    char mode[16];
    sqlite3_int64 value;
    const char *sync_sql =
        sync == WD_DB_SYNC_FULL ? "PRAGMA synchronous = FULL" : "PRAGMA synchronous = NORMAL";
    sqlite3_int64 sync_want = sync == WD_DB_SYNC_FULL ? 2 : 1;
    wd_err_t err = WD_ERR_DB;
    if ((rc = s_query_text (conn, "PRAGMA journal_mode = WAL", mode, sizeof mode)) != SQLITE_OK)
        goto out_sqlite;
    if (strcmp (mode, "wal") != 0) {
        wd_err_why (why, why_len, "%s: journal_mode is '%s', not wal", path, mode);
        goto out_close;
    }
    if ((rc = sqlite3_exec (conn, sync_sql, NULL, NULL, NULL)) != SQLITE_OK ||
        (rc = s_query_int (conn, "PRAGMA synchronous", &value)) != SQLITE_OK)
        goto out_sqlite;
    if (value != sync_want) {
        wd_err_why (why, why_len, "%s: synchronous is %lld, not %lld", path, (long long)value,
                    (long long)sync_want);
        goto out_close;
    }
    if ((rc = sqlite3_exec (conn, "PRAGMA foreign_keys = ON; PRAGMA recursive_triggers = ON", NULL,
                            NULL, NULL)) != SQLITE_OK ||
        (rc = s_query_int (conn, "PRAGMA foreign_keys", &value)) != SQLITE_OK)
        goto out_sqlite;
    if (value != 1) {
        wd_err_why (why, why_len, "%s: foreign keys cannot be enabled", path);
        goto out_close;
    }
    *db = conn;
    return WD_OK;

out_sqlite:
    wd_err_why (why, why_len, "%s: %s", path, sqlite3_errmsg (conn));
    err = s_db_err (conn, rc);
out_close:
    sqlite3_close (conn);
    return err;
}

void
wd_db_close (sqlite3 **db)
{
    assert (db);
    if (*db) {
        /* sqlite3_close_v2 would leave a zombie behind unfinalized
           statements; a leak of ours should show, so use plain close */
        int rc = sqlite3_close (*db);
        assert (rc == SQLITE_OK && "statements left unfinalized");
        (void)rc;
        *db = NULL;
    }
}

/* Ends a failed migration step: rolls back if a transaction is open. */
static void
s_rollback (sqlite3 *db)
{
    if (!sqlite3_get_autocommit (db))
        sqlite3_exec (db, "ROLLBACK", NULL, NULL, NULL);
}

wd_err_t
wd_db_migrate (sqlite3 *db, const char *const *steps, size_t count, char *why, size_t why_len)
{
    assert (db && (steps || count == 0));
    assert (count <= INT32_MAX);
    assert (sqlite3_get_autocommit (db) && "migrate inside a transaction");
    for (;;) {
        int rc = sqlite3_exec (db, "BEGIN IMMEDIATE", NULL, NULL, NULL);
        if (rc != SQLITE_OK) {
            wd_err_why (why, why_len, "migration: %s", sqlite3_errmsg (db));
            return s_db_err (db, rc);
        }
        sqlite3_int64 version;
        if ((rc = s_query_int (db, "PRAGMA user_version", &version)) != SQLITE_OK) {
            wd_err_why (why, why_len, "migration: %s", sqlite3_errmsg (db));
            s_rollback (db);
            return s_db_err (db, rc);
        }
        if (version < 0) {
            wd_err_why (why, why_len, "user_version %lld is not a schema version",
                        (long long)version);
            s_rollback (db);
            return WD_ERR_DB;
        }
        if ((uint64_t)version > count) {
            wd_err_why (why, why_len, "schema version %lld is newer than this program's %zu",
                        (long long)version, count);
            s_rollback (db);
            return WD_ERR_DB_VERSION;
        }
        if ((uint64_t)version == count) {
            /* read-only transaction: nothing to keep */
            s_rollback (db);
            return WD_OK;
        }
        size_t step = (size_t)version; /* steps[step] brings version + 1 */
        char *msg = NULL;
        rc = sqlite3_exec (db, steps[step], NULL, NULL, &msg);
        if (rc == SQLITE_OK && sqlite3_get_autocommit (db)) {
            wd_err_why (why, why_len, "migration step %zu ended its transaction", step + 1);
            return WD_ERR_DB;
        }
        if (rc == SQLITE_OK) {
            char bump[48];
            snprintf (bump, sizeof bump, "PRAGMA user_version = %zu", step + 1);
            if ((rc = sqlite3_exec (db, bump, NULL, NULL, &msg)) == SQLITE_OK)
                rc = sqlite3_exec (db, "COMMIT", NULL, NULL, &msg);
        }
        if (rc != SQLITE_OK) {
            wd_err_why (why, why_len, "migration step %zu of %zu: %s", step + 1, count,
                        msg ? msg : sqlite3_errstr (rc));
            sqlite3_free (msg);
            wd_err_t err = s_db_err (db, rc);
            s_rollback (db);
            return err;
        }
    }
}

static bool
s_is_identifier (const char *name)
{
    if (!name || !*name || (*name >= '0' && *name <= '9'))
        return false;
    for (const char *p = name; *p; p++)
        if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z') || (*p >= '0' && *p <= '9') ||
              *p == '_'))
            return false;
    return true;
}

wd_err_t
wd_db_append_only (sqlite3 *db, const char *table, char *why, size_t why_len)
{
    assert (db);
    assert (s_is_identifier (table));
    /* table is a plain identifier (asserted), so quoting it cannot break out */
    char *sql =
        sqlite3_mprintf ("SAVEPOINT wd_append_only;"
                         "CREATE TRIGGER IF NOT EXISTS \"%w_no_update\" BEFORE UPDATE ON \"%w\""
                         " BEGIN SELECT RAISE(ABORT, '%q is append-only'); END;"
                         "CREATE TRIGGER IF NOT EXISTS \"%w_no_delete\" BEFORE DELETE ON \"%w\""
                         " BEGIN SELECT RAISE(ABORT, '%q is append-only'); END;"
                         "RELEASE wd_append_only;",
                         table, table, table, table, table, table);
    if (!sql) {
        wd_err_why (why, why_len, "out of memory");
        return WD_ERR_NOMEM;
    }
    char *msg = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &msg);
    sqlite3_free (sql);
    if (rc != SQLITE_OK) {
        wd_err_why (why, why_len, "%s: %s", table, msg ? msg : sqlite3_errstr (rc));
        sqlite3_free (msg);
        wd_err_t err = s_db_err (db, rc);
        sqlite3_exec (db, "ROLLBACK TO wd_append_only; RELEASE wd_append_only", NULL, NULL, NULL);
        return err;
    }
    return WD_OK;
}
