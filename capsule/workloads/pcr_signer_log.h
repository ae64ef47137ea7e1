/*
 * pcr_signer_log: the PCR signer's append-only result log (DESIGN.md §6,
 * §9; docs/PROTOCOL.md "Result log"). One SQLite file (WAL,
 * synchronous=FULL) with two append-only tables: `entries`, one row per
 * signed result (the statement envelope, the raw bytes unless the node
 * keeps digests only, and columns for listing), and `checkpoints`, the
 * signed C2SP tlog-checkpoint notes over the RFC 9162 Merkle tree whose
 * leaves are the statement envelopes.
 *
 * Writes are grouped: capsule_pcr_log_begin, any number of appends,
 * capsule_pcr_log_commit (one fsync for the group). The tree head of the
 * committed entries is kept in a compact range; the leaf hashes stay in
 * memory (32 bytes an entry) for proofs.
 *
 * capsule_pcr_log_verify re-checks everything from the file alone: every
 * row present and in order, every stored leaf hash, every statement
 * signature under the node key, every digest and column against the signed
 * statement, every checkpoint note's signature, and the tree head at every
 * checkpoint — an edited, deleted or reordered row fails with its reason.
 */
#ifndef PCR_SIGNER_LOG_H
#define PCR_SIGNER_LOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"
#include "capsule_verify.h"

typedef struct capsule_pcr_log capsule_pcr_log_t;

/* One result, as appended and as read back. Pointers are borrowed. */
typedef struct {
    uint64_t index;
    uint64_t received_ms; /* Unix time, milliseconds */
    const char *channel;  /* "serial:/dev/ttyS0", "dir:/srv/drop", "stdin" */
    bool has_seq;
    uint64_t seq; /* channel sequence number (framed channels) */
    const char *name;
    uint8_t sha256[32];
    uint64_t size;
    bool parsed;
    const uint8_t *envelope;
    size_t envelope_len;
    const uint8_t *raw; /* NULL: digest only */
    size_t raw_len;
} capsule_pcr_entry_t;

/* Opens (creating unless read_only) the log at path. origin names the log
   in its checkpoints (writers only; NULL when read_only). Returns WD_OK or
   a WD_ERR_DB reason in why. */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_open (const char *path, bool read_only, const char *origin, capsule_pcr_log_t **out,
                      char *why, size_t why_len);

void
capsule_pcr_log_close (capsule_pcr_log_t **self_p);

/* Entries committed or appended so far. */
uint64_t
capsule_pcr_log_size (const capsule_pcr_log_t *self);

/* The last sequence number logged for channel, if any. */
bool
capsule_pcr_log_last_seq (capsule_pcr_log_t *self, const char *channel, uint64_t *seq);

/* Group commit: begin, append (each gets the next index), commit. Returns
   WD_OK or WD_ERR_DB with SQLite's message in why. A failed commit rolls
   the group back (the in-memory tree too). */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_begin (capsule_pcr_log_t *self, char *why, size_t why_len);
int __attribute__ ((warn_unused_result))
capsule_pcr_log_append (capsule_pcr_log_t *self, const capsule_pcr_entry_t *entry, uint64_t *index,
                        char *why, size_t why_len);
int __attribute__ ((warn_unused_result))
capsule_pcr_log_commit (capsule_pcr_log_t *self, char *why, size_t why_len);

/* The note body of a checkpoint over everything appended so far, into out
   (CAPSULE_CHECKPOINT_BODY_MAX + 1 bytes); returns its length, and the
   tree's size and head. */
size_t
capsule_pcr_log_checkpoint_body (capsule_pcr_log_t *self, char *out, uint64_t *size,
                                 uint8_t root[32]);

/* Stores a signed checkpoint note (in its own transaction unless a group
   is open). */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_add_checkpoint (capsule_pcr_log_t *self, uint64_t size, const uint8_t root[32],
                                const char *note, size_t note_len, char *why, size_t why_len);

/* Reads entry index; fn gets it (pointers valid during the call). Returns
   WD_OK, CAPSULE_ERR_LOG_NO_ENTRY or WD_ERR_DB. */
typedef void (capsule_pcr_entry_fn) (void *arg, const capsule_pcr_entry_t *entry);
int __attribute__ ((warn_unused_result))
capsule_pcr_log_get (capsule_pcr_log_t *self, uint64_t index, capsule_pcr_entry_fn *fn, void *arg);

/* Lists entries from index first (at most limit, newest last). */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_list (capsule_pcr_log_t *self, uint64_t first, uint64_t limit,
                      capsule_pcr_entry_fn *fn, void *arg);

/* Builds the bundle of entry index against the newest checkpoint (which
   must cover it: CAPSULE_ERR_LOG_NO_CHECKPOINT). with_raw: include the raw
   bytes (when stored). cert: the node certificate. *out is malloc'ed. */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_bundle (capsule_pcr_log_t *self, uint64_t index, bool with_raw, const uint8_t *cert,
                        size_t cert_len, uint8_t **out, size_t *out_len, char *why, size_t why_len);

/* The RFC 9162 consistency proof between the signed checkpoints of sizes
   old_size and new_size (new_size 0: the newest); both must exist
   (CAPSULE_ERR_LOG_NO_CHECKPOINT) and 0 < old_size <= new_size. proof gets
   up to CAPSULE_MERKLE_PROOF_MAX hashes, *count how many; old_note and
   new_note (malloc'ed, caller frees) the two notes, *new_size_out the
   newer size. The proof is verified against the two notes' roots before it
   is returned (CAPSULE_ERR_LOG_ROOT if it does not hold). */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_consistency (capsule_pcr_log_t *self, uint64_t old_size, uint64_t new_size,
                             uint8_t (*proof)[32], size_t *count, char **old_note, char **new_note,
                             uint64_t *new_size_out, char *why, size_t why_len);

/* The newest signed checkpoint's note (*note malloc'ed, caller frees; NULL
   and *size 0 when the log has none). */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_newest_checkpoint (capsule_pcr_log_t *self, uint64_t *size, char **note);

/* The tree head over the first size entries (their stored leaf hashes:
   run capsule_pcr_log_verify first to trust them). CAPSULE_ERR_LOG_SHORT
   when the log holds fewer. */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_head_at (capsule_pcr_log_t *self, uint64_t size, uint8_t root[32], char *why,
                         size_t why_len);

typedef struct {
    uint64_t entries;
    uint64_t checkpoints;
    uint64_t bad_index; /* the entry or checkpoint size that failed */
    uint8_t root[32];   /* head over all entries */
} capsule_pcr_verify_report_t;

/* Re-verifies the whole log from the file under the node key sign_pk.
   Returns WD_OK or the first failure (CAPSULE_ERR_LOG_*), with the place
   in report->bad_index and a line in why. */
int __attribute__ ((warn_unused_result))
capsule_pcr_log_verify (capsule_pcr_log_t *self, const uint8_t sign_pk[32],
                        capsule_pcr_verify_report_t *report, char *why, size_t why_len);

/* Decodes a pcr-result statement body (canonical msgpack) for its subject
   name and digest. Returns WD_OK or the codec's reason. */
int __attribute__ ((warn_unused_result))
capsule_pcr_statement_subject (const uint8_t *body, size_t len, char *name, size_t name_size,
                               uint8_t sha256[32]);

#endif
