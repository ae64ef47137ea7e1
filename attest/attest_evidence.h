/*
 * attest_evidence: signed evidence about a node or its compute host
 * (DESIGN.md §7 "Evidence"; docs/PROTOCOL.md "Evidence and verdicts").
 *
 * Evidence is a wd_envelope of type "evidence", signed by the attesting
 * node's key, whose body is one canonical msgpack map carrying:
 *
 *   - subject: what is attested — the node itself (kind "node", id = the
 *     node's sign_pk) or its compute host (kind "host": the node's id plus
 *     a host label, e.g. the host's MAC "52:54:00:12:34:56");
 *   - attester: the signer's node id (must equal the envelope's "from", and
 *     the subject's node id: a node attests itself and its own host);
 *   - log (optional): a delta of the subject's measurement log — kernel
 *     binary records (attest_log_binary / IMA binary_runtime_measurements)
 *     of entries [start, start + n), starting at byte offset `offset` of the
 *     list — and the running registers of one PCR after it (SHA-256 bank,
 *     SHA-1 bank where present);
 *   - key_protection (from the attester's certificate, e.g. "software") and
 *     tamper state (the keystore's: "clear", "tampered", "not-supported");
 *   - freshness: a 32-byte nonce, either a verifier's challenge nonce or the
 *     epoch nonce SHA-256(block_seed ‖ node_id ‖ prev_evidence_id) that any
 *     verifier recomputes (attest_evidence_epoch_nonce), and the time;
 *   - challenge (optional): the outcome of one challenge of the host —
 *     pass / fail / missed, when it was issued and due, the nonce sent to
 *     the host, and each challenged item with its result;
 *   - quote (optional): a TPM 2.0 quote over SHA-256 PCRs with the nonce as
 *     qualifying data (attest_quote.h); absent means "no TPM", a lower
 *     assurance that verifiers may refuse (attest_quote_expect_t).
 *
 * So the same record carries periodic self-evidence (subject node, epoch
 * nonce, the log delta since the last evidence) and challenge outcomes
 * (subject host, challenge, optionally the host's IMA delta).
 *
 * Producers fill an attest_evidence_t and seal it (attest_evidence_seal).
 * Verifiers open it (attest_evidence_open) with what they expect: chain,
 * a trusted-key lookup, subject, nonce or epoch inputs, a time window and
 * the running registers they saved for the subject; the delta must continue
 * exactly from them and replay to the claimed registers. Every rejection has
 * its own code (ATTEST_ERR_EVIDENCE_* or a WD_ERR_* passed up).
 *
 * attest_evidence_t is a plain value: strings are NUL-terminated copies in
 * fixed arrays; only log.records points elsewhere (borrowed: the producer's
 * buffer, or the decoded input).
 */
#ifndef ATTEST_EVIDENCE_H
#define ATTEST_EVIDENCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "attest_ima.h"
#include "attest_quote.h"
#include "wd_cert.h"
#include "wd_envelope.h"

#define ATTEST_EVIDENCE_TYPE        "evidence" /* envelope type */
#define ATTEST_EVIDENCE_VERSION     1          /* body "v" */
#define ATTEST_EVIDENCE_ID_LEN      32         /* SHA-256 of the envelope bytes */
#define ATTEST_EVIDENCE_NONCE_LEN   32
#define ATTEST_EVIDENCE_HOST_MAX    64         /* bytes of a host label, printable ASCII */
#define ATTEST_EVIDENCE_ITEMS_MAX   64         /* challenged items in one record */
#define ATTEST_EVIDENCE_ITEM_MAX    160        /* bytes of an item name, UTF-8, no NUL */
#define ATTEST_EVIDENCE_WHY_MAX     96         /* bytes of an item's failure note */
#define ATTEST_EVIDENCE_RECORDS_MAX (8u << 20) /* bytes of log records in one delta */

/* ---- the body -------------------------------------------------------------- */

typedef enum {
    ATTEST_SUBJECT_NODE = 0, /* "node" */
    ATTEST_SUBJECT_HOST,     /* "host" */
} attest_subject_kind_t;

typedef struct {
    attest_subject_kind_t kind;
    uint8_t node[WD_PUBKEY_LEN];             /* the node's id (sign_pk) */
    char host[ATTEST_EVIDENCE_HOST_MAX + 1]; /* kind host: 1..64 bytes of 0x21..0x7e; else "" */
} attest_subject_t;

typedef enum {
    ATTEST_FRESH_CHALLENGE = 0, /* "challenge": nonce chosen by the verifier */
    ATTEST_FRESH_EPOCH,         /* "epoch": nonce = attest_evidence_epoch_nonce(...) */
} attest_fresh_kind_t;

typedef struct {
    attest_fresh_kind_t kind;
    /* epoch only (zero for challenge): the height of the committed block
       whose seed went into the nonce, and the id of the subject's previous
       evidence (32 zero bytes for the first one). */
    uint64_t epoch;
    uint8_t prev[ATTEST_EVIDENCE_ID_LEN];
} attest_fresh_t;

typedef enum {
    ATTEST_OUTCOME_PASS = 0, /* "pass" */
    ATTEST_OUTCOME_FAIL,     /* "fail" */
    ATTEST_OUTCOME_MISSED,   /* "missed": no valid answer before the deadline */
} attest_outcome_t;

/* One challenged item. Item names are "kind" or "kind:argument"; the kinds
   the agent protocol uses are file, cmdline, modules, proc, ima and disk
   (e.g. "file:/usr/bin/ls", "cmdline", "disk:/dev/sda:0+4096"). The verdict
   sorts failures into claims by kind (docs/PROTOCOL.md "Trust vector"). */
typedef struct {
    char item[ATTEST_EVIDENCE_ITEM_MAX + 1]; /* 1..160 bytes of UTF-8 */
    attest_outcome_t result;
    char why[ATTEST_EVIDENCE_WHY_MAX + 1]; /* optional note, "" when none */
} attest_evidence_item_t;

/* Whole-challenge outcome: pass requires every item to pass, fail at least
   one item that did not pass (fail or missed: a partial answer); missed
   allows any results (checked by encode and decode). */
typedef struct {
    attest_outcome_t outcome;
    uint64_t issued;                          /* Unix seconds the challenge was sent */
    uint64_t deadline;                        /* Unix seconds it was due (>= issued) */
    uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN]; /* the nonce sent to the host */
    size_t item_count;                        /* 0..ATTEST_EVIDENCE_ITEMS_MAX */
    attest_evidence_item_t items[ATTEST_EVIDENCE_ITEMS_MAX];
} attest_evidence_challenge_t;

/* A log delta and the registers after it. */
typedef struct {
    uint32_t pcr;           /* the PCR the registers are of (0..23) */
    uint64_t start;         /* index of the first entry in records */
    uint64_t offset;        /* byte offset of that entry in the binary list */
    const uint8_t *records; /* kernel binary records; borrowed; may be empty */
    size_t records_len;     /* 0..ATTEST_EVIDENCE_RECORDS_MAX */
    bool has_sha1;          /* the SHA-1 bank is claimed too */
    uint8_t sha1[20];
    uint8_t sha256[32];
} attest_evidence_log_t;

typedef struct {
    attest_subject_t subject;
    uint8_t attester[WD_PUBKEY_LEN];
    bool has_log;
    attest_evidence_log_t log;
    char key_protection[WD_CERT_PROTECTION_MAX + 1]; /* 1..16 of [a-z0-9-] */
    char tamper[16];                                 /* "clear", "tampered" or "not-supported" */
    attest_fresh_t fresh;
    uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN];
    uint64_t time; /* Unix seconds when the evidence was made */
    bool has_challenge;
    attest_evidence_challenge_t challenge;
    bool has_quote;       /* a TPM quote (attest_tpm_quote) */
    attest_quote_t quote; /* its nonce must be the evidence nonce */
} attest_evidence_t;

/* ---- names --------------------------------------------------------------- */

/* "node"/"host", "challenge"/"epoch", "pass"/"fail"/"missed". Static. */
const char *
attest_subject_kind_name (attest_subject_kind_t kind);
const char *
attest_fresh_kind_name (attest_fresh_kind_t kind);
const char *
attest_outcome_name (attest_outcome_t outcome);

/* True when both name the same subject (kind, node and host label). */
bool
attest_subject_equal (const attest_subject_t *a, const attest_subject_t *b);

/* True when the subject keeps its rules: kind node without a host label,
   or kind host with a label of 1..ATTEST_EVIDENCE_HOST_MAX bytes of
   0x21..0x7e. */
bool
attest_subject_valid (const attest_subject_t *subject);

/* The subject as one canonical msgpack map {host (kind host only), kind,
   node}, for records that name a subject (verdicts). */
void
attest_subject_write (wd_writer_t *w, const attest_subject_t *subject);

/* Reads a map written by attest_subject_write. Reader errors are sticky;
   *ok turns false (and nothing else happens) when the map is well-typed but
   breaks the subject's rules (unknown kind, host label syntax, a label on
   a node subject or none on a host). */
void
attest_subject_read (wd_reader_t *r, attest_subject_t *subject, bool *ok);

/* Reads a string that must be one of the count names: returns its index,
   or -1 when it is none of them (no reader error: the caller reports its
   own FIELD code) or the read failed (the reader's error is sticky). For
   the enumerated strings of evidence and verdict bodies. */
int
attest_read_name (wd_reader_t *r, const char *const *names, size_t count);

/* ---- building -------------------------------------------------------------- */

/* Zeroes *ev and fills the fields every record needs: the subject is the
   attester itself (kind node), key protection and tamper are copied
   (left empty when too long, so encode refuses them), freshness kind challenge, time.
   The caller then sets nonce, fresh, log, a host subject (kind host and
   host label) and challenge as needed. */
void
attest_evidence_init (attest_evidence_t *ev, const uint8_t attester[WD_PUBKEY_LEN],
                      const char *key_protection, const char *tamper, uint64_t time);

/* Sets ev->log from a delta: the records, the state the delta starts from
   (entries and offset give start and offset, its pcr the PCR) and the state
   after it (both banks; has_sha1 true). records is borrowed. For Warden's
   own log: from = the verifier's last entry count,
     attest_log_binary (log, from, &len) and attest_log_state (log). */
void
attest_evidence_set_log (attest_evidence_t *ev, const uint8_t *records, size_t records_len,
                         uint64_t start, uint64_t offset, const attest_ima_state_t *after);

/* The epoch nonce: SHA-256(block_seed ‖ node_id ‖ prev_evidence_id), 32
   bytes each; prev is 32 zero bytes for a subject's first evidence. */
void
attest_evidence_epoch_nonce (uint8_t nonce[ATTEST_EVIDENCE_NONCE_LEN], const uint8_t seed[32],
                             const uint8_t node_id[WD_PUBKEY_LEN],
                             const uint8_t prev[ATTEST_EVIDENCE_ID_LEN]);

/* ---- encoding -------------------------------------------------------------- */

/* The canonical msgpack body. Returns WD_OK and *out (caller frees), or
   ATTEST_ERR_EVIDENCE_FIELD when a field breaks the schema's rules (string
   syntax or length, an item count or records length past its limit, an
   outcome that does not fit the items, deadline before issued). */
int __attribute__ ((warn_unused_result))
attest_evidence_encode (const attest_evidence_t *ev, uint8_t **out, size_t *out_len);

/* Decodes a body strictly: the codec's reasons (non-canonical msgpack,
   WD_ERR_MISSING_KEY / UNKNOWN_KEY / WRONG_TYPE / BAD_LENGTH / OVERSIZE /
   OUT_OF_RANGE / TRAILING / TRUNCATED), WD_ERR_BAD_VERSION when v is not
   1, ATTEST_ERR_EVIDENCE_FIELD for a value the schema does not allow
   (unknown enum string, bad host label or key protection, a host label on
   a node subject, epoch fields on challenge freshness, outcome/items
   mismatch). ev->log.records borrows from body. Encoding the result gives
   back the input. */
int __attribute__ ((warn_unused_result))
attest_evidence_decode (const uint8_t *body, size_t len, attest_evidence_t *ev);

/* Encodes ev and seals it in an "evidence" envelope on chain, signed as
   ev->attester through sign. Returns encode's or wd_envelope_seal's reason
   (or the signer's error); *out (caller frees) gets the envelope bytes. */
int __attribute__ ((warn_unused_result))
attest_evidence_seal (const attest_evidence_t *ev, const uint8_t chain[WD_CHAIN_ID_LEN],
                      wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len);

/* The evidence id: SHA-256 of the envelope bytes (wd_envelope_id). */
void
attest_evidence_id (uint8_t id[ATTEST_EVIDENCE_ID_LEN], const uint8_t *buf, size_t len);

/* ---- verification ---------------------------------------------------------- */

/* Trusted-key lookup: true when node_id is a known, current member; then
   writes its certified key protection (NUL-terminated). */
typedef bool (*attest_evidence_key_fn) (void *ctx, const uint8_t node_id[WD_PUBKEY_LEN],
                                        char key_protection[WD_CERT_PROTECTION_MAX + 1]);

/* Epoch seed lookup: true when the verifier accepts epoch `epoch` (e.g. the
   current or the previous one) and writes the seed of its block. */
typedef bool (*attest_evidence_seed_fn) (void *ctx, uint64_t epoch, uint8_t seed[32]);

/* What a verifier expects. All pointers borrowed for the call. */
typedef struct {
    const uint8_t *chain;          /* 32 bytes, required */
    attest_evidence_key_fn key_fn; /* required */
    void *key_ctx;
    const attest_subject_t *subject; /* required */
    /* Freshness: exactly one of nonce (challenge) or seed_fn (epoch). */
    const uint8_t *nonce;            /* the challenge nonce the verifier sent */
    attest_evidence_seed_fn seed_fn; /* epoch: seed lookup ... */
    void *seed_ctx;
    const uint8_t *prev; /* ... and the id of the subject's last accepted
                            evidence (32 zero bytes before the first) */
    /* Time window: accepted when now - max_age <= time <= now + max_skew. */
    uint64_t now;
    uint64_t max_age;
    uint64_t max_skew;
    /* The registers saved for the subject (the state after its last accepted
       delta), or NULL when the verifier has none yet: then a delta must
       start at entry 0, offset 0, from zero registers. A saved state is
       binary-format; a record without a log is refused when one is given. */
    const attest_ima_state_t *saved;
    /* When true, the delta's continuity is checked but its records are not
       replayed: the caller replays them (e.g. attest_appraise, which
       appraises in the same pass) and must then call
       attest_evidence_check_registers. attest_verdict_open_appraise does. */
    bool defer_replay;
    /* TPM quotes (NULL: no AK bound for the subject, so evidence carrying a
       quote is refused with ATTEST_ERR_QUOTE_AK_UNBOUND, and evidence
       without one is accepted as lower assurance). After WD_OK, keep
       attest_quote_clock_of (&ev->quote) as the next `last`. */
    const attest_quote_expect_t *quote;
} attest_evidence_expect_t;

/* Opens evidence from outside. Checks, in this order (first failure wins):
     envelope decode (codec reasons), chain (WD_ERR_WRONG_CHAIN), type
     (WD_ERR_UNEXPECTED_TYPE), signer known (ATTEST_ERR_EVIDENCE_UNKNOWN_ATTESTER),
     signature (WD_ERR_BAD_SIGNATURE), body (attest_evidence_decode's reasons),
     attester = signer (ATTEST_ERR_EVIDENCE_ATTESTER), key protection =
     certificate's (ATTEST_ERR_EVIDENCE_KEY_PROTECTION), subject = expected
     and subject.node = attester (ATTEST_ERR_EVIDENCE_SUBJECT), freshness
     kind (ATTEST_ERR_EVIDENCE_FRESHNESS), epoch accepted
     (ATTEST_ERR_EVIDENCE_EPOCH), prev = expected and nonce = expected
     (ATTEST_ERR_EVIDENCE_NONCE), time not in the future
     (ATTEST_ERR_EVIDENCE_FUTURE) nor too old (ATTEST_ERR_EVIDENCE_STALE),
     log present when registers are saved, PCR, start and offset continue
     them (ATTEST_ERR_EVIDENCE_DELTA_GAP), records replay (attest_ima's
     reasons: ATTEST_ERR_TEMPLATE_HASH, ATTEST_ERR_IMA_*) to the claimed
     registers (ATTEST_ERR_EVIDENCE_REGISTERS); then the quote: required
     but absent (ATTEST_ERR_QUOTE_MISSING), or present and rejected by
     attest_quote_verify (ATTEST_ERR_QUOTE_*, against ev->nonce and, with a
     log, its claimed SHA-256 register).
   On WD_OK: *ev is the body (records borrowed from buf), id (may be NULL)
   the evidence id, and *after (may be NULL) the state to save for the
   subject (with defer_replay, the saved state unchanged). */
int __attribute__ ((warn_unused_result))
attest_evidence_open (const uint8_t *buf, size_t len, const attest_evidence_expect_t *expect,
                      attest_evidence_t *ev, uint8_t id[ATTEST_EVIDENCE_ID_LEN],
                      attest_ima_state_t *after);

/* The last step of attest_evidence_open for callers that replayed the delta
   themselves: *replayed (the state after replaying ev's records from the
   saved state) must have consumed the records exactly
   (ATTEST_ERR_EVIDENCE_DELTA_GAP otherwise) and hold the claimed registers
   (ATTEST_ERR_EVIDENCE_REGISTERS). */
int __attribute__ ((warn_unused_result))
attest_evidence_check_registers (const attest_evidence_t *ev, const attest_ima_state_t *replayed);

/* The state a delta starts from: expect->saved, or a fresh binary state for
   ev->log.pcr when there is none. */
void
attest_evidence_start_state (const attest_evidence_t *ev, const attest_ima_state_t *saved,
                             attest_ima_state_t *start);

#endif
