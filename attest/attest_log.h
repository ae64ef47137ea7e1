/*
 * attest_log: Warden's own measurement log, kept the way the kernel keeps
 * IMA's (DESIGN.md §7).
 *
 * Each measurement is an `ima-ng` entry with a SHA-256 file digest, stored
 * as the kernel's binary record (docs/PROTOCOL.md "Measurement log and
 * IMA"), and extended into one PCR's SHA-1 and SHA-256 registers exactly as
 * the kernel extends PCR 10, so the serialized log is a valid
 * `binary_runtime_measurements` list that attest_ima (and Keylime, and any
 * IMA tool) parses and replays to the same registers. The log does its own
 * replay through an attest_ima parser, so the registers it reports are by
 * construction what a verifier computes.
 *
 * A verifier keeps an attest_ima_state_t per node (entries, byte offset,
 * registers). When a node sends the log's bytes after that offset
 * (attest_log_binary(log, state.entries, &len)), the verifier continues with
 * attest_ima_replay_buffer(delta, len, &state, ...) and never sees the old
 * prefix again.
 *
 * Event names are file paths or labels ("warden.conf", "status"): 1 to
 * ATTEST_IMA_NAME_MAX bytes, no control characters; spaces become '_' as
 * the kernel does, so the ASCII form stays one token per field.
 *
 * The log lives in memory (a few hundred entries for a node); save/load
 * write and read it as one binary list file.
 */
#ifndef ATTEST_LOG_H
#define ATTEST_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "attest_ima.h"

typedef struct attest_log attest_log_t;

/* One entry of the log. name is borrowed from the log: valid until the next
   append or the log's destruction. */
typedef struct {
    uint64_t index;
    uint32_t pcr;
    uint8_t digest[32]; /* SHA-256 of the measured bytes */
    const char *name;   /* event name, NUL-terminated */
    size_t name_len;
    uint8_t template_sha1[20];   /* the record's template hash */
    uint8_t template_sha256[32]; /* what the SHA-256 register was extended with */
} attest_log_entry_t;

/* An empty log extending PCR pcr (below ATTEST_IMA_PCR_COUNT; asserted).
   Returns NULL when out of memory. */
attest_log_t *
attest_log_new (uint32_t pcr);

/* Frees the log; sets *self_p to NULL. Safe on NULL. */
void
attest_log_destroy (attest_log_t **self_p);

/* Measures the regular file at path: its bytes are hashed with SHA-256 and
   logged under name (NULL: the path itself). Returns WD_OK,
   WD_ERR_NOT_FOUND, WD_ERR_NOT_REGULAR, WD_ERR_IO or ATTEST_ERR_LOG_NAME;
   nothing is logged on failure. */
int __attribute__ ((warn_unused_result))
attest_log_measure_file (attest_log_t *self, const char *path, const char *name);

/* Measures len bytes (a config, a status report) under name. Returns WD_OK
   or ATTEST_ERR_LOG_NAME. */
int __attribute__ ((warn_unused_result))
attest_log_measure_buffer (attest_log_t *self, const char *name, const void *data, size_t len);

/* Logs a SHA-256 digest the caller computed (e.g. a served boot image)
   under name. Returns WD_OK or ATTEST_ERR_LOG_NAME. */
int __attribute__ ((warn_unused_result))
attest_log_append_digest (attest_log_t *self, const char *name, const uint8_t digest[32]);

/* Number of entries. */
uint64_t
attest_log_count (const attest_log_t *self);

/* The running state: entries, bytes of binary list, both registers.
   Borrowed: valid until the next append. */
const attest_ima_state_t *
attest_log_state (const attest_log_t *self);

/* Fills *entry with entry index; false when index >= count. */
bool
attest_log_entry (const attest_log_t *self, uint64_t index, attest_log_entry_t *entry);

/* The kernel binary records of entries [from, count): the delta a verifier
   at entry `from` needs. Borrowed: valid until the next append; *len is 0
   (and the pointer not NULL) when from >= count. */
const uint8_t *
attest_log_binary (const attest_log_t *self, uint64_t from, size_t *len);

/* The kernel ASCII lines of entries [from, count), NUL-terminated; caller
   frees. *len (may be NULL) gets the length without the NUL. Aborts on
   out-of-memory. */
char *
attest_log_ascii (const attest_log_t *self, uint64_t from, size_t *len);

/* Writes the whole log as one binary list to path, atomically (a temporary
   file in the same directory, fsync, rename). Returns WD_OK or WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
attest_log_save (const attest_log_t *self, const char *path);

/* Rebuilds a log for pcr from a binary list: every entry must be an ima-ng
   SHA-256 measurement for pcr with a valid event name (ATTEST_ERR_LOG_ENTRY,
   ATTEST_ERR_LOG_NAME), on top of every attest_ima check. On success *out
   gets the log (caller owns); why (may be NULL) gets a reason otherwise. */
int __attribute__ ((warn_unused_result))
attest_log_load (const void *data, size_t len, uint32_t pcr, attest_log_t **out, char *why,
                 size_t why_len);

/* attest_log_load on a file, streamed (WD_ERR_NOT_FOUND when missing). */
int __attribute__ ((warn_unused_result))
attest_log_load_file (const char *path, uint32_t pcr, attest_log_t **out, char *why,
                      size_t why_len);

#endif
