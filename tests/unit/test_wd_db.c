/*
 * Unit tests for wd_db on real database files: the PRAGMAs really in force,
 * migrations (fresh, repeated, failing, too new) and append-only triggers.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_db.h"

static const char *
s_path (const char *name)
{
    static char path[512];
    snprintf (path, sizeof path, "%s/%s", test_tmpdir (), name);
    return path;
}

static sqlite3_int64
s_int (sqlite3 *db, const char *sql)
{
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    sqlite3_int64 v = sqlite3_column_int64 (stmt, 0);
    sqlite3_finalize (stmt);
    return v;
}

static void
s_text (sqlite3 *db, const char *sql, char *out, size_t size)
{
    sqlite3_stmt *stmt;
    assert_int_equal (sqlite3_prepare_v2 (db, sql, -1, &stmt, NULL), SQLITE_OK);
    assert_int_equal (sqlite3_step (stmt), SQLITE_ROW);
    snprintf (out, size, "%s", (const char *)sqlite3_column_text (stmt, 0));
    sqlite3_finalize (stmt);
}

static bool
s_table_exists (sqlite3 *db, const char *name)
{
    char sql[256];
    snprintf (sql, sizeof sql,
              "SELECT count(*) FROM sqlite_schema WHERE type = 'table' AND name = '%s'", name);
    return s_int (db, sql) == 1;
}

static void
test_open_settings (void **state)
{
    (void)state;
    char why[256], mode[16];
    sqlite3 *db = NULL;
    assert_int_equal (wd_db_open (s_path ("full.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_non_null (db);
    s_text (db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal (mode, "wal");
    assert_int_equal (s_int (db, "PRAGMA synchronous"), 2);
    assert_int_equal (s_int (db, "PRAGMA foreign_keys"), 1);
    assert_int_equal (s_int (db, "PRAGMA busy_timeout"), WD_DB_BUSY_TIMEOUT_MS);
    assert_int_equal (sqlite3_exec (db, "CREATE TABLE t (x)", NULL, NULL, NULL), SQLITE_OK);
    wd_db_close (&db);
    assert_null (db);
    wd_db_close (&db);

    /* WAL is a property of the file: a plain connection sees it too */
    assert_int_equal (sqlite3_open (s_path ("full.db"), &db), SQLITE_OK);
    s_text (db, "PRAGMA journal_mode", mode, sizeof mode);
    assert_string_equal (mode, "wal");
    sqlite3_close (db);

    db = NULL;
    assert_int_equal (wd_db_open (s_path ("normal.db"), WD_DB_SYNC_NORMAL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (s_int (db, "PRAGMA synchronous"), 1);
    wd_db_close (&db);

    /* foreign keys are enforced */
    assert_int_equal (wd_db_open (s_path ("fk.db"), WD_DB_SYNC_NORMAL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (sqlite3_exec (db,
                                    "CREATE TABLE p (id INTEGER PRIMARY KEY);"
                                    "CREATE TABLE c (p INTEGER REFERENCES p (id));",
                                    NULL, NULL, NULL),
                      SQLITE_OK);
    assert_int_not_equal (sqlite3_exec (db, "INSERT INTO c VALUES (7)", NULL, NULL, NULL),
                          SQLITE_OK);
    assert_non_null (strstr (sqlite3_errmsg (db), "FOREIGN KEY"));
    wd_db_close (&db);
}

static void
test_open_failures (void **state)
{
    (void)state;
    char why[256];
    sqlite3 *db = (sqlite3 *)1;
    const char *path = s_path ("no/such/dir/x.db");
    assert_int_equal (wd_db_open (path, WD_DB_SYNC_FULL, &db, why, sizeof why), WD_ERR_DB);
    assert_null (db);
    assert_non_null (strstr (why, path));
    assert_non_null (strstr (why, "unable to open"));

    /* an in-memory database cannot be in WAL mode */
    assert_int_equal (wd_db_open (":memory:", WD_DB_SYNC_FULL, &db, why, sizeof why), WD_ERR_DB);
    assert_null (db);
    assert_string_equal (why, ":memory:: journal_mode is 'memory', not wal");
}

static const char *const s_steps[] = {
    "CREATE TABLE a (id INTEGER PRIMARY KEY, v TEXT NOT NULL)",
    ("CREATE TABLE b (id INTEGER PRIMARY KEY, a INTEGER NOT NULL REFERENCES a (id));"
     "CREATE INDEX b_a ON b (a)"),
    "ALTER TABLE a ADD COLUMN w INTEGER NOT NULL DEFAULT 0",
};

static void
test_migrate (void **state)
{
    (void)state;
    char why[256];
    sqlite3 *db = NULL;
    assert_int_equal (wd_db_open (s_path ("migrate.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (s_int (db, "PRAGMA user_version"), 0);

    /* 0 -> 2, then 2 -> 3 */
    assert_int_equal (wd_db_migrate (db, s_steps, 2, why, sizeof why), WD_OK);
    assert_int_equal (s_int (db, "PRAGMA user_version"), 2);
    assert_true (s_table_exists (db, "b"));
    assert_int_equal (sqlite3_exec (db, "INSERT INTO a (v) VALUES ('x')", NULL, NULL, NULL),
                      SQLITE_OK);
    assert_int_equal (wd_db_migrate (db, s_steps, 3, why, sizeof why), WD_OK);
    assert_int_equal (s_int (db, "PRAGMA user_version"), 3);
    assert_int_equal (s_int (db, "SELECT w FROM a"), 0);

    /* running again is a no-op */
    assert_int_equal (wd_db_migrate (db, s_steps, 3, why, sizeof why), WD_OK);
    assert_int_equal (s_int (db, "PRAGMA user_version"), 3);
    assert_int_equal (s_int (db, "SELECT count(*) FROM a"), 1);
    assert_true (sqlite3_get_autocommit (db));
    wd_db_close (&db);

    /* a database from a newer program */
    assert_int_equal (wd_db_open (s_path ("migrate.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (wd_db_migrate (db, s_steps, 2, why, sizeof why), WD_ERR_DB_VERSION);
    assert_string_equal (why, "schema version 3 is newer than this program's 2");
    assert_int_equal (s_int (db, "PRAGMA user_version"), 3);
    assert_true (sqlite3_get_autocommit (db));
    wd_db_close (&db);
}

static void
test_migrate_failure_rolls_back (void **state)
{
    (void)state;
    static const char *const steps[] = {
        "CREATE TABLE one (x)",
        /* the first statement succeeds, the second fails: both must go */
        "CREATE TABLE two (x); INSERT INTO nowhere VALUES (1)",
        "CREATE TABLE three (x)",
    };
    char why[256];
    sqlite3 *db = NULL;
    assert_int_equal (wd_db_open (s_path ("fail.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (wd_db_migrate (db, steps, 3, why, sizeof why), WD_ERR_DB);
    assert_string_equal (why, "migration step 2 of 3: no such table: nowhere");
    assert_int_equal (s_int (db, "PRAGMA user_version"), 1);
    assert_true (s_table_exists (db, "one"));
    assert_false (s_table_exists (db, "two"));
    assert_false (s_table_exists (db, "three"));
    assert_true (sqlite3_get_autocommit (db));

    /* the same failure again after reopening: still version 1 */
    wd_db_close (&db);
    assert_int_equal (wd_db_open (s_path ("fail.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (wd_db_migrate (db, steps, 3, why, sizeof why), WD_ERR_DB);
    assert_int_equal (s_int (db, "PRAGMA user_version"), 1);
    assert_false (s_table_exists (db, "two"));

    /* a step may not end the migration's transaction itself */
    static const char *const committing[] = { "CREATE TABLE one (x)", "COMMIT" };
    assert_int_equal (wd_db_migrate (db, committing, 2, why, sizeof why), WD_ERR_DB);
    assert_non_null (strstr (why, "step 2"));
    assert_int_equal (s_int (db, "PRAGMA user_version"), 1);
    assert_true (sqlite3_get_autocommit (db));
    wd_db_close (&db);
}

static void
test_append_only (void **state)
{
    (void)state;
    char why[256];
    sqlite3 *db = NULL;
    assert_int_equal (wd_db_open (s_path ("ledger.db"), WD_DB_SYNC_FULL, &db, why, sizeof why),
                      WD_OK);
    assert_int_equal (sqlite3_exec (db,
                                    "CREATE TABLE ledger (seq INTEGER PRIMARY KEY, body TEXT);"
                                    "INSERT INTO ledger VALUES (1, 'genesis')",
                                    NULL, NULL, NULL),
                      SQLITE_OK);
    assert_int_equal (wd_db_append_only (db, "ledger", why, sizeof why), WD_OK);
    assert_int_equal (wd_db_append_only (db, "ledger", why, sizeof why), WD_OK); /* idempotent */
    assert_int_equal (s_int (db, "SELECT count(*) FROM sqlite_schema WHERE type = 'trigger' AND "
                                 "name IN ('ledger_no_update', 'ledger_no_delete')"),
                      2);

    assert_int_equal (sqlite3_exec (db, "INSERT INTO ledger VALUES (2, 'next')", NULL, NULL, NULL),
                      SQLITE_OK);
    static const char *const refused[] = {
        "UPDATE ledger SET body = 'forged' WHERE seq = 1",
        "DELETE FROM ledger WHERE seq = 2",
        "DELETE FROM ledger",
        /* REPLACE deletes the old row: refused because wd_db_open turns on
           recursive_triggers */
        "INSERT OR REPLACE INTO ledger VALUES (1, 'forged')",
        "INSERT INTO ledger VALUES (1, 'x') ON CONFLICT (seq) DO UPDATE SET body = 'forged'",
    };
    for (size_t i = 0; i < sizeof refused / sizeof refused[0]; i++) {
        char *msg = NULL;
        assert_int_equal (sqlite3_exec (db, refused[i], NULL, NULL, &msg),
                          SQLITE_CONSTRAINT_TRIGGER);
        assert_string_equal (msg, "ledger is append-only");
        sqlite3_free (msg);
    }
    assert_int_equal (s_int (db, "SELECT count(*) FROM ledger"), 2);
    char body[32];
    s_text (db, "SELECT body FROM ledger WHERE seq = 1", body, sizeof body);
    assert_string_equal (body, "genesis");

    /* a missing table is an error with SQLite's reason */
    assert_int_equal (wd_db_append_only (db, "nosuch", why, sizeof why), WD_ERR_DB);
    assert_non_null (strstr (why, "no such table"));
    assert_true (sqlite3_get_autocommit (db));
    wd_db_close (&db);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_open_settings), cmocka_unit_test (test_open_failures),
        cmocka_unit_test (test_migrate),       cmocka_unit_test (test_migrate_failure_rolls_back),
        cmocka_unit_test (test_append_only),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
