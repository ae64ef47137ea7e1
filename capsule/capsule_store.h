/*
 * capsule_store: the node's content-addressed store of capsules on disk
 * (DESIGN.md §9, docs/PROTOCOL.md "Capsule store"). The engine keeps it
 * under <state>/capsules; every capsule is one read-only file named by the
 * lowercase hex of its id (SHA-256 of its bytes).
 *
 * Writes stream through a temporary file in the same directory, hashed
 * while written, fsynced, renamed to the id name and the directory fsynced:
 * a crash (kill -9, power loss) never leaves a partial file under an id
 * name. Temporary files are held under an flock(2) by their writer; at open
 * the store deletes every temporary file nobody holds (stale after a crash),
 * so several processes may open the same directory.
 *
 * Reads re-check the SHA-256 before handing anything out: a file whose bytes
 * do not match its name is renamed into quarantine/ (never served, never
 * deleted: the operator looks at it) and reported as CAPSULE_ERR_STORE_CORRUPT.
 *
 * Memory use is constant whatever the capsule size (64 KiB buffers). The
 * quota is checked per handle against the usage counted at open plus this
 * handle's writes (other processes' writes are seen at the next open).
 */
#ifndef CAPSULE_STORE_H
#define CAPSULE_STORE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"

#define CAPSULE_STORE_ID_LEN 32

typedef struct capsule_store capsule_store_t;
typedef struct capsule_store_writer capsule_store_writer_t;

/* Opens the store in dir, creating the directory (mode 0700) and its
   quarantine/ subdirectory if missing. Deletes stale temporary files,
   counts usage. quota_bytes caps the total size of stored capsules (0: no
   quota). Returns WD_OK with *out set, or WD_ERR_IO / WD_ERR_NOT_REGULAR
   with the path and step in why. */
int __attribute__ ((warn_unused_result))
capsule_store_open (const char *dir, uint64_t quota_bytes, capsule_store_t **out, char *why,
                    size_t why_len);

/* Closes the store. Safe on NULL; sets *self_p to NULL. Writers still open
   must be finished (commit or abort) first. */
void
capsule_store_close (capsule_store_t **self_p);

/* --- Putting capsules ------------------------------------------------- */

/* Starts a streaming put: a new temporary file in the store. Feed bytes
   with capsule_store_write, then capsule_store_commit or capsule_store_abort
   (exactly one of them; both free the writer and set *writer_p to NULL).
   Returns WD_OK or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
capsule_store_begin (capsule_store_t *self, capsule_store_writer_t **writer_p);

/* Appends len bytes. Returns WD_OK, CAPSULE_ERR_STORE_FULL when the quota
   would be exceeded (the writer stays usable only for abort), or
   WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
capsule_store_write (capsule_store_writer_t *writer, const void *data, size_t len);

/* Finishes the put: fsync, rename to the id name, fsync the directory.
   expect_id (NULL: any) is the id the caller asked for; when the bytes hash
   to another id the file is deleted and CAPSULE_ERR_STORE_MISMATCH is
   returned. id_out (may be NULL) receives the id. Putting a capsule that is
   already stored succeeds and keeps the existing file. Always frees the
   writer. Returns WD_OK, CAPSULE_ERR_STORE_MISMATCH, CAPSULE_ERR_STORE_FULL
   (an earlier write was refused) or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
capsule_store_commit (capsule_store_writer_t **writer_p, const uint8_t *expect_id,
                      uint8_t id_out[CAPSULE_STORE_ID_LEN]);

/* Deletes the temporary file and frees the writer. Safe on NULL. */
void
capsule_store_abort (capsule_store_writer_t **writer_p);

/* Puts everything read from fd until end of file (begin, write, commit).
   Same results as capsule_store_commit, plus WD_ERR_IO when fd fails. */
int __attribute__ ((warn_unused_result))
capsule_store_put_fd (capsule_store_t *self, int fd, const uint8_t *expect_id,
                      uint8_t id_out[CAPSULE_STORE_ID_LEN]);

/* Puts len bytes from memory. Same results as capsule_store_commit. */
int __attribute__ ((warn_unused_result))
capsule_store_put (capsule_store_t *self, const void *data, size_t len, const uint8_t *expect_id,
                   uint8_t id_out[CAPSULE_STORE_ID_LEN]);

/* --- Getting capsules ------------------------------------------------- */

/* Opens the capsule for reading after re-checking its SHA-256 over the
   whole file. On WD_OK *fd_out is a new read-only descriptor positioned at
   offset 0 (caller closes it) and *size_out (may be NULL) its size. Returns
   CAPSULE_ERR_STORE_NOT_FOUND, CAPSULE_ERR_STORE_CORRUPT (the file was
   moved into quarantine/) or WD_ERR_IO. The check and the caller's reads
   are separate passes: the store's files are read-only and owned by the
   node, so only someone who already holds the node's state could change
   them in between. */
int __attribute__ ((warn_unused_result))
capsule_store_get_fd (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN], int *fd_out,
                      uint64_t *size_out);

/* Reads the capsule into memory in one pass and checks it. Refuses
   capsules larger than max_len with WD_ERR_OVERSIZE. On WD_OK *buf_out is
   malloc'd (caller frees) and *len_out its length. Other results as
   capsule_store_get_fd. */
int __attribute__ ((warn_unused_result))
capsule_store_get (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN], size_t max_len,
                   uint8_t **buf_out, size_t *len_out);

/* True when a file for id exists (its content is checked only on get). */
bool
capsule_store_has (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN]);

/* The stored size of id. Returns WD_OK or CAPSULE_ERR_STORE_NOT_FOUND. */
int
capsule_store_size (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN],
                    uint64_t *size_out);

/* Deletes the capsule (and fsyncs the directory). Returns WD_OK,
   CAPSULE_ERR_STORE_NOT_FOUND or WD_ERR_IO. */
int
capsule_store_remove (capsule_store_t *self, const uint8_t id[CAPSULE_STORE_ID_LEN]);

/* The ids of all stored capsules, sorted ascending, as one malloc'd array
   of *count_out * CAPSULE_STORE_ID_LEN bytes (caller frees; NULL when the
   store is empty). Names that are not 64 lowercase hex digits are skipped.
   Returns WD_OK, WD_ERR_IO or WD_ERR_NOMEM. */
int
capsule_store_list (capsule_store_t *self, uint8_t **ids_out, size_t *count_out);

/* --- Usage and quota -------------------------------------------------- */

/* Bytes in stored capsules (as counted by this handle). */
uint64_t
capsule_store_usage (const capsule_store_t *self);

/* Number of stored capsules (as counted by this handle). */
uint64_t
capsule_store_count (const capsule_store_t *self);

/* The quota in bytes (0: none). */
uint64_t
capsule_store_quota (const capsule_store_t *self);

/* Changes the quota (0: none). Existing capsules stay even above it. */
void
capsule_store_set_quota (capsule_store_t *self, uint64_t quota_bytes);

/* The store's directory. Borrowed: valid until close. */
const char *
capsule_store_dir (const capsule_store_t *self);

#endif
