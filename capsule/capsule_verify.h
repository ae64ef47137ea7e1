/*
 * capsule_verify: the offline check of a PCR-result bundle and of the
 * result log's signed checkpoints (docs/PROTOCOL.md "PCR result bundle",
 * "Result log checkpoint"). A bundle holds the signed statement over the
 * raw export, the node certificate, the checkpoint (a C2SP tlog-checkpoint
 * signed note) and the RFC 9162 inclusion proof of the statement in it,
 * and optionally the raw bytes.
 *
 * This file depends on libsodium and libc only, so warden-verify links
 * nothing else: it carries its own small strict reader for canonical
 * msgpack and its own copy of the signing-rule digest (wd_envelope.h has
 * the same rule; the unit tests hold the two to the same answers). Every
 * rejection is a named verdict, the first problem found in a fixed order,
 * so the same bundle always gets the same answer.
 */
#ifndef CAPSULE_VERIFY_H
#define CAPSULE_VERIFY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CAPSULE_PCR_TYPE            "pcr-result"      /* envelope type of a statement */
#define CAPSULE_CHECKPOINT_TYPE     "tlog-checkpoint" /* signing-rule domain of a note */
#define CAPSULE_BUNDLE_TYPE         "warden-pcr-bundle"
#define CAPSULE_STATEMENT_TYPE      "https://in-toto.io/Statement/v1"
#define CAPSULE_PREDICATE_TYPE      "https://warden.invalid/pcr-result/v1"
#define CAPSULE_BUNDLE_VERSION      1
#define CAPSULE_ORIGIN_MAX          128
#define CAPSULE_CHECKPOINT_MAX      1024 /* bytes of a checkpoint note */
#define CAPSULE_CHECKPOINT_BODY_MAX 256
#define CAPSULE_NOTE_SIG_ALG        0xff /* C2SP signed-note: application-defined type */
#define CAPSULE_ANCHOR_TYPE         "pcr-checkpoint" /* envelope type of a ledger anchor */
#define CAPSULE_CONSISTENCY_TYPE    "warden-pcr-consistency"
#define CAPSULE_ANCHOR_BODY_MAX     (CAPSULE_CHECKPOINT_MAX + 16)

/* Verdicts, in the order the checks run. Append only; never renumber. */
#define CAPSULE_VERIFY_TABLE(X)                                                                    \
    X (CAPSULE_VERIFY_OK, "bundle verifies")                                                       \
    X (CAPSULE_VERIFY_BUNDLE_FORMAT, "bundle is not a canonical Warden PCR bundle")                \
    X (CAPSULE_VERIFY_BUNDLE_VERSION, "bundle format version is not supported")                    \
    X (CAPSULE_VERIFY_CERT_INVALID, "node certificate is malformed or not self-signed")            \
    X (CAPSULE_VERIFY_KEY_UNTRUSTED, "node key is not among the trusted keys")                     \
    X (CAPSULE_VERIFY_STATEMENT_FORMAT, "signed statement is malformed")                           \
    X (CAPSULE_VERIFY_STATEMENT_TYPE, "envelope is not a pcr-result statement")                    \
    X (CAPSULE_VERIFY_STATEMENT_SIGNER, "statement is signed by another key than the node's")      \
    X (CAPSULE_VERIFY_STATEMENT_SIGNATURE, "statement signature does not verify")                  \
    X (CAPSULE_VERIFY_RAW_MISMATCH, "raw bytes in the bundle do not match the subject digest")     \
    X (CAPSULE_VERIFY_ORIGINAL_MISMATCH, "original file does not match the subject digest")        \
    X (CAPSULE_VERIFY_CHECKPOINT_FORMAT, "checkpoint is not a well-formed signed note")            \
    X (CAPSULE_VERIFY_CHECKPOINT_KEY, "checkpoint carries no signature by the node's key")         \
    X (CAPSULE_VERIFY_CHECKPOINT_SIGNATURE, "checkpoint signature does not verify")                \
    X (CAPSULE_VERIFY_INCLUSION, "inclusion proof does not lead to the checkpoint's root")         \
    X (CAPSULE_VERIFY_LEDGER_INVALID, "ledger export does not verify")                             \
    X (CAPSULE_VERIFY_ANCHOR_CONFLICT,                                                             \
       "ledger anchors a checkpoint of the same size with another root")                           \
    X (CAPSULE_VERIFY_CONSISTENCY,                                                                 \
       "consistency proof does not link the checkpoint to the anchored one")                       \
    X (CAPSULE_VERIFY_ANCHOR_MISSING, "checkpoint is not anchored in the ledger")

typedef enum {
#define CAPSULE_VERIFY_ENUM(name, msg) name,
    CAPSULE_VERIFY_TABLE (CAPSULE_VERIFY_ENUM)
#undef CAPSULE_VERIFY_ENUM
        CAPSULE_VERIFY_LAST_
} capsule_verify_t;

/* "inclusion proof does not ..." / "CAPSULE_VERIFY_INCLUSION". Static. */
const char *
capsule_verify_strerror (int code);
const char *
capsule_verify_name (int code);

/* The signing rule (DESIGN.md §5):
   SHA-256("warden/1" 0x00 type 0x00 chain body). */
void
capsule_signing_digest (uint8_t out[32], const char *type, const uint8_t chain[32],
                        const uint8_t *body, size_t len);

/* ---- checkpoints (C2SP tlog-checkpoint signed notes) ------------------------------------------
 */

typedef struct {
    char origin[CAPSULE_ORIGIN_MAX + 1];
    uint64_t size;
    uint8_t root[32];
} capsule_checkpoint_t;

/* Writes the note body "<origin>\n<size>\n<base64 root>\n" to out (size
   bytes) and returns its length, or 0 when it does not fit or origin is
   empty, longer than CAPSULE_ORIGIN_MAX or holds a newline or space. */
size_t
capsule_checkpoint_body (char *out, size_t size, const char *origin, uint64_t tree_size,
                         const uint8_t root[32]);

/* The digest the node signs for a note body: the signing rule with type
   "tlog-checkpoint", the all-zero chain and the body as a canonical msgpack
   string. */
void
capsule_checkpoint_digest (uint8_t out[32], const char *body, size_t len);

/* The note key id: SHA-256(origin 0x0A 0xFF public_key)[0..4). */
void
capsule_checkpoint_key_id (uint8_t out[4], const char *origin, const uint8_t pk[32]);

/* The signed note: body, a blank line and the line
   "— <origin> <base64(key id || sig)>\n". Returns its length or 0 when it
   does not fit. */
size_t
capsule_checkpoint_note (char *out, size_t size, const char *body, size_t body_len,
                         const char *origin, const uint8_t pk[32], const uint8_t sig[64]);

/* Parses a note and checks the signature line by pk (named after the
   origin, with pk's key id). Returns CAPSULE_VERIFY_OK or
   CHECKPOINT_FORMAT / CHECKPOINT_KEY / CHECKPOINT_SIGNATURE. */
capsule_verify_t __attribute__ ((warn_unused_result))
capsule_checkpoint_open (const char *note, size_t len, const uint8_t pk[32],
                         capsule_checkpoint_t *out);

/* ---- bundles ------------------------------------------------------------------------------ */

typedef struct {
    char name[256];          /* subject name (the exported file's name) */
    char sha256[65];         /* subject digest, lowercase hex */
    char node[65];           /* node name from the certificate */
    char key_protection[17]; /* from the certificate */
    char sign_pk[65];        /* node key, hex */
    char received[40];       /* predicate.received */
    char channel[80];        /* predicate.channel */
    bool has_seq;
    uint64_t seq;             /* predicate.seq */
    char instrument_type[64]; /* predicate.instrument.* */
    char instrument_serial[64];
    char experiment_name[128];
    bool parsed;
    uint64_t index; /* entry index in the log */
    uint64_t tree_size;
    char root[65];
    char origin[CAPSULE_ORIGIN_MAX + 1];
    bool raw_included;
    bool original_checked;
    bool key_pinned; /* trusted keys were given and hold the node key */
} capsule_bundle_info_t;

/* Verifies a bundle offline. original (original_len bytes), when not NULL,
   is the file the statement is about, checked against the subject digest.
   trusted (ntrusted keys), when not NULL, pins the node key. info (may be
   NULL) gets the summary of what was checked, filled as far as the checks
   got. detail (may be NULL) gets one more line about the failure. */
capsule_verify_t __attribute__ ((warn_unused_result))
capsule_bundle_verify (const uint8_t *buf, size_t len, const uint8_t *original, size_t original_len,
                       const uint8_t (*trusted)[32], size_t ntrusted, capsule_bundle_info_t *info,
                       char *detail, size_t detail_len);

/* True when s (len bytes) is valid UTF-8: no overlong forms, surrogates
   or code points above U+10FFFF. */
bool
capsule_utf8_valid (const uint8_t *s, size_t len);

/* True when buf is exactly one canonical msgpack value (the rules of
   wd_codec.h, at most 16 levels deep). */
bool
capsule_msgpack_canonical (const uint8_t *buf, size_t len);

/* ---- ledger anchors (docs/PROTOCOL.md "Checkpoint anchors") ------------------------------------
 */

/* The body of a `pcr-checkpoint` ledger record: the canonical map
   {note: str, v: 1}. Writes it to out (size bytes) and returns its length,
   or 0 when it does not fit. */
size_t
capsule_anchor_body (uint8_t *out, size_t size, const char *note, size_t note_len);

/* True when record (an envelope's canonical bytes) is a `pcr-checkpoint`
   signed by pk whose body is an anchor body holding a checkpoint note of
   the log `origin` that verifies under pk; out gets the checkpoint. Any
   other record is simply not an anchor of that log (false). */
bool __attribute__ ((warn_unused_result))
capsule_anchor_open (const uint8_t *record, size_t len, const uint8_t pk[32], const char *origin,
                     capsule_checkpoint_t *out);

/* One anchor found in a ledger: its checkpoint and the block height. */
typedef struct capsule_anchor {
    uint64_t height;
    capsule_checkpoint_t cp;
} capsule_anchor_t;

/* How a checkpoint relates to the anchors of its log. */
typedef struct {
    size_t anchors;         /* anchors of the log in the ledger */
    uint64_t height;        /* block of the anchor that covers the checkpoint; 0: none */
    uint64_t anchored_size; /* that anchor's tree size */
    bool exact;             /* it is the checkpoint itself (same size and root) */
    uint64_t newest_size;   /* the largest anchored tree of the log (0: none) */
    uint64_t newest_height; /* and its height */
} capsule_anchor_report_t;

/* Checks the checkpoint (size, root) against anchors (n, any order), in
   this order: an anchor of the same size with another root is
   ANCHOR_CONFLICT (the log contradicts what the ledger holds); an anchor
   of the same size and root makes it anchored (OK, exact); otherwise a
   consistency proof (proof, count hashes, from size to new_size; proof
   NULL: none) to an anchored tree of new_size must hold (CONSISTENCY when
   it does not, OK when it does); without one the answer is ANCHOR_MISSING
   (detail names the newest anchor a proof could link to). report (may be
   NULL) gets the findings. */
capsule_verify_t __attribute__ ((warn_unused_result))
capsule_anchor_check (const capsule_anchor_t *anchors, size_t n, uint64_t size,
                      const uint8_t root[32], const uint8_t (*proof)[32], size_t count,
                      uint64_t new_size, capsule_anchor_report_t *report, char *detail,
                      size_t detail_len);

/* A consistency-proof file (`wardenctl results consistency ... --output`):
   the canonical map {new_size: uint, old_size: uint, proof: [bin(32)],
   type: "warden-pcr-consistency", v: 1}. Decodes it strictly into proof
   (room for max hashes) and *count; false when it is not such a file. */
bool __attribute__ ((warn_unused_result))
capsule_consistency_decode (const uint8_t *buf, size_t len, uint64_t *old_size, uint64_t *new_size,
                            uint8_t (*proof)[32], size_t max, size_t *count);

#endif
