/*
 * attest_ima: Linux IMA measurement lists, parsed and replayed as a stream.
 *
 * Reads the two forms the kernel exports under /sys/kernel/security/ima:
 * `ascii_runtime_measurements` (one line per entry) and
 * `binary_runtime_measurements` (little-endian records), for the templates
 * `ima`, `ima-ng`, `ima-sig` and `ima-buf`, with sha1/sha256/sha384/sha512
 * file digests. Every entry's template hash is checked against its template
 * data, and the entries are replayed into one PCR (10 for the kernel's list)
 * for the SHA-1 and the SHA-256 bank, the way the kernel extends them
 * (docs/PROTOCOL.md "Measurement log and IMA"):
 *
 *   SHA-1 bank:   r = SHA-1(r || template hash)
 *   SHA-256 bank: r = SHA-256(r || SHA-256(template data))   (kernel >= 5.8)
 *   violation (all-zero template hash): the digest is all 0xFF in every bank.
 *
 * The parser is a push parser: feed it the list in chunks of any size and it
 * calls back once per entry, holding at most one entry in memory, so a
 * 100 MB list streams in constant space. The running state (entries and
 * bytes consumed, both registers) is a plain struct that a verifier saves
 * (canonical msgpack, attest_ima_state_write) and later hands back to a new
 * parser, which then continues with the bytes after the saved offset and
 * never re-reads the old prefix.
 *
 * attest_log uses the entry builders and writers here to keep Warden's own
 * measurement log in the same binary format.
 */
#ifndef ATTEST_IMA_H
#define ATTEST_IMA_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "wd_codec.h"

/* Limits a list must keep; a larger field is ATTEST_ERR_IMA_OVERSIZE. */
#define ATTEST_IMA_PCR_COUNT         24    /* PCR indices 0..23 */
#define ATTEST_IMA_PCR_DEFAULT       10    /* the kernel's CONFIG_IMA_MEASURE_PCR_IDX */
#define ATTEST_IMA_TEMPLATE_NAME_MAX 15    /* the kernel's IMA_TEMPLATE_NAME_LEN_MAX */
#define ATTEST_IMA_DATA_MAX          65536 /* template data bytes of one entry */
#define ATTEST_IMA_NAME_MAX          4096  /* event name bytes, without its NUL */
#define ATTEST_IMA_OLD_NAME_MAX      255   /* event name of the `ima` template */
#define ATTEST_IMA_LINE_MAX          (2 * ATTEST_IMA_DATA_MAX + 256) /* one ASCII line */
#define ATTEST_IMA_DIGEST_MAX        64
#define ATTEST_IMA_WHY_MAX           192

typedef enum {
    ATTEST_IMA_ASCII = 0,
    ATTEST_IMA_BINARY = 1,
} attest_ima_format_t;

typedef enum {
    ATTEST_IMA_TEMPLATE_IMA = 0, /* d|n: SHA-1 digest, name padded to 256 bytes */
    ATTEST_IMA_TEMPLATE_IMA_NG,  /* d-ng|n-ng */
    ATTEST_IMA_TEMPLATE_IMA_SIG, /* d-ng|n-ng|sig */
    ATTEST_IMA_TEMPLATE_IMA_BUF, /* d-ng|n-ng|buf */
} attest_ima_template_t;

typedef enum {
    ATTEST_IMA_SHA1 = 0,
    ATTEST_IMA_SHA256,
    ATTEST_IMA_SHA384,
    ATTEST_IMA_SHA512,
} attest_ima_hash_t;

/* Replay flags, kept in the state so a continuation replays the same way. */
enum {
    /* Kernels before 5.8 extended every non-SHA-1 bank with the SHA-1
       template hash padded with zeros instead of the bank's own hash. */
    ATTEST_IMA_SHA256_PADDED_SHA1 = 1u << 0,
};
#define ATTEST_IMA_FLAGS_ALL (ATTEST_IMA_SHA256_PADDED_SHA1)

/* Where a replay stands: a value type, saved and restored by the caller.
   offset counts bytes of the list in `format`, so a state only continues a
   list of the same form. */
typedef struct {
    uint64_t entries;   /* entries consumed */
    uint64_t offset;    /* bytes consumed */
    uint32_t pcr;       /* the PCR replayed; entries for other PCRs are checked only */
    uint32_t flags;     /* ATTEST_IMA_* replay flags */
    uint8_t format;     /* attest_ima_format_t */
    uint8_t sha1[20];   /* the PCR's SHA-1 bank */
    uint8_t sha256[32]; /* the PCR's SHA-256 bank */
} attest_ima_state_t;

/* One entry, as the callback sees it. Pointers are borrowed from the parser
   and valid only during the callback. */
typedef struct {
    uint64_t index;  /* position in the list, from 0 (ASCII line index + 1) */
    uint64_t offset; /* byte offset of the entry's first byte */
    uint64_t size;   /* bytes the entry takes in the list */
    uint32_t pcr;
    attest_ima_template_t template_id;
    bool violation;                      /* all-zero template hash */
    attest_ima_hash_t template_hash_alg; /* SHA-1 except in `sha256:`-prefixed ASCII */
    uint8_t template_hash[32];           /* as listed */
    uint8_t sha1[20];                    /* SHA-1 of the template data */
    uint8_t sha256[32];                  /* SHA-256 of the template data */
    attest_ima_hash_t digest_alg;        /* file digest */
    const uint8_t *digest;
    size_t digest_len;
    const char *name; /* event name (file path), NUL-terminated */
    size_t name_len;
    const uint8_t *sig; /* ima-sig signature, sig_len 0 when absent */
    size_t sig_len;
    const uint8_t *buf; /* ima-buf buffer */
    size_t buf_len;
    const uint8_t *data; /* the template data as hashed (`ima`: name padded) */
    size_t data_len;
} attest_ima_entry_t;

/* Called once per entry, after the entry has been checked and replayed;
   state is the state after it. Return 0 to go on; any other value stops
   the feed, which returns that value (the entry counts as consumed). */
typedef int (*attest_ima_entry_fn) (const attest_ima_entry_t *entry,
                                    const attest_ima_state_t *state, void *arg);

/* ---- hashes --------------------------------------------------------------- */

/* Digest size in bytes (20, 32, 48, 64) and kernel name ("sha1", ...). */
size_t
attest_ima_hash_len (attest_ima_hash_t alg);
const char *
attest_ima_hash_name (attest_ima_hash_t alg);

/* out = alg(data[0..len)); out holds attest_ima_hash_len(alg) bytes. */
void
attest_ima_digest (attest_ima_hash_t alg, const void *data, size_t len, uint8_t *out);

/* The values an entry extends its PCR's SHA-1 and SHA-256 registers with,
   as the kernel does: 0xFF bytes for a violation; else the SHA-1 template
   hash, and SHA-256 of the template data (or, with
   ATTEST_IMA_SHA256_PADDED_SHA1 in flags, the SHA-1 hash padded with zeros,
   as kernels before 5.8 did). */
void
attest_ima_extend_values (const attest_ima_entry_t *e, uint32_t flags, uint8_t sha1_value[20],
                          uint8_t sha256_value[32]);

/* ---- state ---------------------------------------------------------------- */

/* A fresh state: nothing consumed, both registers zero. pcr must be below
   ATTEST_IMA_PCR_COUNT and flags within ATTEST_IMA_FLAGS_ALL (asserted). */
void
attest_ima_state_init (attest_ima_state_t *state, attest_ima_format_t format, uint32_t pcr,
                       uint32_t flags);

/* The state as one canonical msgpack map {entries, flags, format, offset,
   pcr, sha1, sha256} (docs/PROTOCOL.md). */
void
attest_ima_state_write (wd_writer_t *w, const attest_ima_state_t *state);

/* Reads a map written by attest_ima_state_write at the reader's position.
   Errors are the reader's sticky ones (WD_ERR_OUT_OF_RANGE for a PCR,
   format or flag value outside the limits above). */
bool
attest_ima_state_read (wd_reader_t *r, attest_ima_state_t *state);

/* ---- streaming parser ----------------------------------------------------- */

typedef struct attest_ima_parser attest_ima_parser_t;

/* A parser that continues from *start (copied): a state from
   attest_ima_state_init for a whole list, or a saved one to feed only the
   bytes after start->offset. Returns NULL when start is not a valid state
   (format, PCR or flags out of range, or an offset without entries). */
attest_ima_parser_t *
attest_ima_parser_new (const attest_ima_state_t *start);

/* Frees the parser; sets *self_p to NULL. Safe on NULL. */
void
attest_ima_parser_destroy (attest_ima_parser_t **self_p);

/* Parses the next len bytes of the list, calling fn (may be NULL) for each
   complete entry. Returns WD_OK, the callback's non-zero value, or a
   rejection: ATTEST_ERR_IMA_* or ATTEST_ERR_TEMPLATE_HASH, after which the
   parser is stuck on that error and attest_ima_parser_why says where. */
int __attribute__ ((warn_unused_result))
attest_ima_parser_feed (attest_ima_parser_t *self, const void *data, size_t len,
                        attest_ima_entry_fn fn, void *arg);

/* Ends the input: ATTEST_ERR_IMA_TRUNCATED if it stopped inside an entry,
   else the sticky error or WD_OK. */
int __attribute__ ((warn_unused_result)) attest_ima_parser_finish (attest_ima_parser_t *self);

/* The state after the last complete, valid entry. Borrowed. */
const attest_ima_state_t *
attest_ima_parser_state (const attest_ima_parser_t *self);

/* One line naming the entry, line or field of the last rejection ("" when
   none, and after a stop by the callback, whose reason is its own; the
   attest_ima_replay_* functions then leave the caller's why as the callback
   left it). Borrowed: valid until the next call. */
const char *
attest_ima_parser_why (const attest_ima_parser_t *self);

/* ---- whole lists ---------------------------------------------------------- */

/* Replays the list read from fd, from state->offset on (the fd is seeked
   there; a regular file shorter than that is ATTEST_ERR_IMA_STATE), in
   chunks, to the end of input. *state is updated to the last valid entry
   whatever the result. Returns like attest_ima_parser_feed/finish, or
   WD_ERR_IO, ATTEST_ERR_IMA_STATE (bad state). why (may be NULL) gets a
   reason. */
int __attribute__ ((warn_unused_result))
attest_ima_replay_fd (int fd, attest_ima_state_t *state, attest_ima_entry_fn fn, void *arg,
                      char *why, size_t why_len);

/* attest_ima_replay_fd on a file opened read-only (WD_ERR_NOT_FOUND when
   missing). */
int __attribute__ ((warn_unused_result))
attest_ima_replay_file (const char *path, attest_ima_state_t *state, attest_ima_entry_fn fn,
                        void *arg, char *why, size_t why_len);

/* attest_ima_replay_fd on bytes in memory that continue the list at
   state->offset. */
int __attribute__ ((warn_unused_result))
attest_ima_replay_buffer (const void *data, size_t len, attest_ima_state_t *state,
                          attest_ima_entry_fn fn, void *arg, char *why, size_t why_len);

/* ---- building and writing entries ---------------------------------------- */

/* Fills *entry as an ima-ng entry for pcr with file digest (alg, digest)
   and event name (name_len bytes, no NUL, space or newline; asserted), its
   template data written into data (cap bytes; needs 4 + 8 + digest + 4 +
   name_len + 1). Computes both template hashes; index and offset are 0.
   Returns the template data size, or 0 when cap is too small. */
size_t
attest_ima_entry_make_ng (attest_ima_entry_t *entry, uint8_t *data, size_t cap, uint32_t pcr,
                          attest_ima_hash_t alg, const uint8_t *digest, const char *name,
                          size_t name_len);

/* Writes the entry as the kernel's binary record (SHA-1 template hash, all
   zero for a violation) into out when it fits in cap bytes; returns the
   record's size either way. */
size_t
attest_ima_entry_binary (const attest_ima_entry_t *entry, uint8_t *out, size_t cap);

/* Writes the entry as the kernel's ASCII line, '\n' included and no NUL,
   into out when it fits in cap bytes; returns the line's length either way.
   Event names holding spaces or newlines do not survive the ASCII form
   (the kernel never writes them; it turns spaces into '_'). */
size_t
attest_ima_entry_ascii (const attest_ima_entry_t *entry, char *out, size_t cap);

#endif
