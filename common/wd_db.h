/*
 * wd_db: how Warden opens and evolves its SQLite databases (DESIGN.md §6).
 *
 * Every database is opened in WAL mode with a busy timeout and foreign keys
 * on; the caller chooses `synchronous` (FULL for the ledger and result log,
 * where a committed row must survive power loss). Schemas evolve by an
 * ordered list of migration scripts, tracked in PRAGMA user_version and
 * applied each in its own transaction. Append-only tables get triggers that
 * refuse UPDATE and DELETE.
 */
#ifndef WD_DB_H
#define WD_DB_H

#include <sqlite3.h>
#include <stddef.h>

#include "wd_err.h"

typedef enum {
    WD_DB_SYNC_NORMAL,
    WD_DB_SYNC_FULL,
} wd_db_sync_t;

#define WD_DB_BUSY_TIMEOUT_MS 5000

/* Opens (creating if needed) the database at path with the settings above.
   On failure returns WD_ERR_DB (or WD_ERR_NOMEM) with SQLite's message in
   why and leaves *db NULL. */
wd_err_t __attribute__ ((warn_unused_result))
wd_db_open (const char *path, wd_db_sync_t sync, sqlite3 **db, char *why, size_t why_len);

/* Closes the database and sets *db to NULL. Safe on NULL. */
void
wd_db_close (sqlite3 **db);

/* Brings the schema to version count by running steps[user_version ..
   count-1], each in one transaction that also sets user_version. A database
   whose user_version is above count was written by a newer program:
   WD_ERR_DB_VERSION. A failing step rolls back and leaves the version at
   the last step that succeeded (WD_ERR_DB, with the step number and SQLite's
   message in why). */
wd_err_t __attribute__ ((warn_unused_result))
wd_db_migrate (sqlite3 *db, const char *const *steps, size_t count, char *why, size_t why_len);

/* Installs triggers that make table append-only: any UPDATE or DELETE
   aborts with "<table> is append-only". Idempotent. table must be a plain
   identifier ([A-Za-z_][A-Za-z0-9_]*, asserted). */
wd_err_t __attribute__ ((warn_unused_result))
wd_db_append_only (sqlite3 *db, const char *table, char *why, size_t why_len);

#endif
