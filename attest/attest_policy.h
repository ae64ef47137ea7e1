/*
 * attest_policy: reference-value policies (DESIGN.md §7 "Reference values",
 * docs/PROTOCOL.md "Reference-value policies").
 *
 * A policy says which file digests are allowed for which path, which paths
 * are not appraised at all (excludes, as regular expressions), and which IMA
 * template-hash algorithm the log uses. It comes in two forms:
 *
 *   - Keylime's runtime-policy JSON (meta, release, digests, excludes,
 *     keyrings, ima, ima-buf, verification-keys), so that Keylime's tooling
 *     (keylime-policy create runtime, keylime_create_policy) can produce
 *     Warden's reference values. attest_policy_from_json() loads it with
 *     jansson and rejects anything malformed with a named reason;
 *   - the policy object: a canonical msgpack body (attest_policy_encode)
 *     sealed in a signed envelope of type "policy" by a reference-value
 *     signer key, for distribution over the network. Its id is SHA-256 of
 *     the canonical body, so the same content has the same id whoever
 *     signed it.
 *
 * Both forms compile to the same attest_policy_t: per path a sorted list of
 * allowed digests, a hash index over the paths, a global table sorted by
 * digest (to say "this digest is allowed, but for another path"), and the
 * excludes compiled once as POSIX extended regular expressions. Appraising
 * one measurement is a hash lookup plus a binary search.
 *
 * The appraisal input is a plain attest_measurement_t (path, algorithm name,
 * digest bytes), so callers that parse IMA logs (attest_ima) need nothing
 * from this class's internals. attest_policy_report_t collects the verdicts
 * of a whole list and keeps every failing entry, not only the first.
 */
#ifndef ATTEST_POLICY_H
#define ATTEST_POLICY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "wd_envelope.h"

#define ATTEST_POLICY_TYPE        "policy" /* envelope type of a policy object */
#define ATTEST_POLICY_VERSION     1        /* body "v" */
#define ATTEST_POLICY_ID_LEN      32
#define ATTEST_POLICY_JSON_MAX    (32u << 20)          /* bytes of runtime-policy JSON */
#define ATTEST_POLICY_OBJECT_MAX  WD_ENVELOPE_BODY_MAX /* bytes of a policy body */
#define ATTEST_POLICY_DIGESTS_MAX 500000               /* digests in a policy, all sections */
#define ATTEST_POLICY_PATH_MAX    4096                 /* bytes of one path or buffer name */
#define ATTEST_POLICY_EXCLUDES    1024                 /* excludes in a policy */
#define ATTEST_POLICY_REGEX_MAX   1024                 /* bytes of one exclude */
#define ATTEST_POLICY_REPEAT_MAX  256        /* product of the interval bounds in one exclude */
#define ATTEST_POLICY_GROUPS_MAX  8          /* nesting of (...) in one exclude */
#define ATTEST_POLICY_NAME_MAX    64         /* bytes of a policy name: [A-Za-z0-9._-] */
#define ATTEST_POLICY_DIGEST_MAX  64         /* bytes of the longest digest (SHA-512) */
#define ATTEST_POLICY_FAILURES    (1u << 20) /* failing entries one report keeps */

typedef struct attest_policy attest_policy_t;

/* ---- loading ------------------------------------------------------------ */

/* Loads a Keylime runtime policy (JSON, len bytes, at most
   ATTEST_POLICY_JSON_MAX) and compiles it. name (1..ATTEST_POLICY_NAME_MAX
   bytes of [A-Za-z0-9._-]) and created (seconds since the epoch) go into the
   policy object. On success *out gets the policy (caller destroys) and the
   result is WD_OK; otherwise *out is NULL, the result names the reason
   (ATTEST_ERR_POLICY_*, see docs/PROTOCOL.md) and why (if not NULL) gets one
   line naming the field, e.g. `digests["/usr/bin/ls"][1]: ...`. */
int __attribute__ ((warn_unused_result))
attest_policy_from_json (const void *json, size_t len, const char *name, uint64_t created,
                         attest_policy_t **out, char *why, size_t why_len);

/* Like attest_policy_from_json, reading the JSON from a file: also
   WD_ERR_NOT_FOUND, WD_ERR_NOT_REGULAR, WD_ERR_IO, and
   ATTEST_ERR_POLICY_TOO_LARGE before reading a file that is too big. */
int __attribute__ ((warn_unused_result))
attest_policy_from_json_file (const char *path, const char *name, uint64_t created,
                              attest_policy_t **out, char *why, size_t why_len);

/* Frees the policy; sets *self_p to NULL. Safe on NULL. */
void
attest_policy_destroy (attest_policy_t **self_p);

/* ---- the policy object -------------------------------------------------- */

/* The canonical msgpack body (docs/PROTOCOL.md "Policy object"). Caller
   frees the returned buffer; *len gets its size. */
uint8_t *
attest_policy_encode (const attest_policy_t *self, size_t *len);

/* Decodes and compiles a policy body. Rejects with the codec's reasons
   (WD_ERR_*: non-canonical msgpack, unknown or missing keys, wrong types,
   WD_ERR_OVERSIZE past a limit, WD_ERR_BAD_VERSION) or a policy reason
   (ATTEST_ERR_POLICY_UNSORTED for lists out of canonical order or with
   duplicates, ..._DIGEST_LENGTH, ..._BAD_REGEX, ...). Decoding then
   encoding gives back the input bytes. */
int __attribute__ ((warn_unused_result))
attest_policy_decode (const uint8_t *body, size_t len, attest_policy_t **out);

/* The policy id: SHA-256 of the canonical body. Borrowed, 32 bytes. */
const uint8_t *
attest_policy_id (const attest_policy_t *self);

/* Seals the body in a signed envelope of type "policy" on chain, signed by
   signer_pk through sign. Returns the envelope's reasons (a body larger than
   WD_ENVELOPE_BODY_MAX is WD_ERR_OVERSIZE) or the signer's error; *out
   (caller frees) gets the envelope bytes. */
int __attribute__ ((warn_unused_result))
attest_policy_seal (const attest_policy_t *self, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const uint8_t signer_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                    uint8_t **out, size_t *out_len);

/* Opens a policy envelope: wd_envelope_open's reasons (type must be
   "policy", chain must be chain, signature must verify), then
   ATTEST_ERR_POLICY_UNTRUSTED_SIGNER unless the signer is one of the
   signer_count keys in signers (the reference-value signers of the
   genesis), then attest_policy_decode's reasons. */
int __attribute__ ((warn_unused_result))
attest_policy_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const uint8_t (*signers)[WD_PUBKEY_LEN], size_t signer_count,
                    attest_policy_t **out);

/* ---- what the policy holds (borrowed strings, valid while it lives) ------ */

const char *
attest_policy_name (const attest_policy_t *self);
uint64_t
attest_policy_created (const attest_policy_t *self);
/* Keylime's "release" number. */
uint64_t
attest_policy_release (const attest_policy_t *self);
/* SHA-256 of the JSON the policy was compiled from (Keylime's policy
   checksum), 32 bytes. */
const uint8_t *
attest_policy_source (const attest_policy_t *self);
/* The IMA log's template-hash algorithm: "sha1", "sha256", "sha384" or
   "sha512" (Keylime's ima.log_hash_alg). Not the file digests' algorithm. */
const char *
attest_policy_log_hash_alg (const attest_policy_t *self);
size_t
attest_policy_path_count (const attest_policy_t *self);
size_t
attest_policy_digest_count (const attest_policy_t *self);
size_t
attest_policy_exclude_count (const attest_policy_t *self);
const char *
attest_policy_exclude (const attest_policy_t *self, size_t index);

/* What the source policy held that Warden does not appraise (reported, never
   silently dropped): the names of its "keyrings" and "ima-buf" entries, and
   whether it carried IMA signature verification keys. */
size_t
attest_policy_keyring_count (const attest_policy_t *self);
const char *
attest_policy_keyring (const attest_policy_t *self, size_t index);
size_t
attest_policy_ima_buf_count (const attest_policy_t *self);
const char *
attest_policy_ima_buf (const attest_policy_t *self, size_t index);
bool
attest_policy_has_verification_keys (const attest_policy_t *self);

/* ---- appraisal ---------------------------------------------------------- */

/* The digest length of a file-digest algorithm name ("sha1" 20, "sha256" 32,
   "sha384" 48, "sha512" 64); 0 for any other name. */
size_t
attest_policy_alg_len (const char *alg);

typedef enum {
    ATTEST_MEASUREMENT_FILE = 0, /* ima, ima-ng, ima-sig: a file's digest */
    ATTEST_MEASUREMENT_BUFFER,   /* ima-buf: a buffer (key, dm table, ...) */
} attest_measurement_kind_t;

/* One measurement to appraise. All pointers are borrowed for the call. */
typedef struct {
    const char *path;      /* NUL-terminated path (or buffer name) */
    const char *alg;       /* digest algorithm name, e.g. "sha256" */
    const uint8_t *digest; /* digest bytes */
    size_t digest_len;
    attest_measurement_kind_t kind;
} attest_measurement_t;

typedef enum {
    ATTEST_VERDICT_PASS = 0,           /* the digest is allowed for the path */
    ATTEST_VERDICT_EXCLUDED,           /* the path matches an exclude */
    ATTEST_VERDICT_NOT_APPRAISED,      /* a buffer measurement (ima-buf) */
    ATTEST_VERDICT_UNKNOWN_PATH,       /* the policy does not list the path */
    ATTEST_VERDICT_DIGEST_NOT_ALLOWED, /* listed, but not with this digest */
    ATTEST_VERDICT_WRONG_ALG,          /* listed, with no digest of this algorithm */
    ATTEST_VERDICT_BAD_MEASUREMENT,    /* unknown algorithm, or a digest of the wrong length */
    ATTEST_VERDICT_COUNT_
} attest_verdict_t;

/* The verdict for one measurement and what explains it. */
typedef struct {
    attest_verdict_t verdict;
    size_t exclude; /* EXCLUDED: index of the first matching exclude */
    /* UNKNOWN_PATH, DIGEST_NOT_ALLOWED, WRONG_ALG: a path for which the
       policy does allow this digest (the smallest in byte order), or NULL.
       Borrowed from the policy. */
    const char *other_path;
} attest_appraisal_t;

/* True for the verdicts that fail an entry: UNKNOWN_PATH,
   DIGEST_NOT_ALLOWED, WRONG_ALG, BAD_MEASUREMENT. */
bool
attest_verdict_failed (attest_verdict_t verdict);
/* "pass", "excluded", "not-appraised", "unknown-path", "digest-not-allowed",
   "wrong-alg", "bad-measurement". Static storage. */
const char *
attest_verdict_name (attest_verdict_t verdict);
/* A short sentence for the verdict. Static storage. */
const char *
attest_verdict_str (attest_verdict_t verdict);

/* Appraises one measurement. The checks run in this order: the algorithm is
   known and the digest has its length (else BAD_MEASUREMENT); the path
   matches an exclude (EXCLUDED; Keylime checks excludes first too; a path
   holding a newline never matches one); a
   buffer is NOT_APPRAISED; the path is listed (else UNKNOWN_PATH); the
   digest is listed for it (PASS); the path lists no digest of this length
   (WRONG_ALG); else DIGEST_NOT_ALLOWED. out may be NULL. */
attest_verdict_t
attest_policy_appraise (const attest_policy_t *self, const attest_measurement_t *m,
                        attest_appraisal_t *out);

/* ---- appraisal report --------------------------------------------------- */

typedef struct attest_policy_report attest_policy_report_t;

/* One failing entry, owned by the report. */
typedef struct {
    uint64_t index; /* the entry's index in the caller's list */
    char *path;     /* copy of the measured path */
    attest_verdict_t verdict;
    char *other_path; /* copy of attest_appraisal_t.other_path, or NULL */
} attest_policy_failure_t;

/* A new, empty report. Aborts on out-of-memory. */
attest_policy_report_t *
attest_policy_report_new (void);

/* Frees the report and its entries; sets *self_p to NULL. Safe on NULL. */
void
attest_policy_report_destroy (attest_policy_report_t **self_p);

/* Appraises m (the caller's entry number index) against policy, counts the
   verdict and, when it fails, keeps the entry (up to ATTEST_POLICY_FAILURES
   of them; later ones are only counted, see _dropped). Returns the verdict;
   out (may be NULL) gets the details as from attest_policy_appraise. */
attest_verdict_t
attest_policy_report_add (attest_policy_report_t *self, const attest_policy_t *policy,
                          uint64_t index, const attest_measurement_t *m, attest_appraisal_t *out);

/* How many entries got the verdict. */
uint64_t
attest_policy_report_count (const attest_policy_report_t *self, attest_verdict_t verdict);
/* Entries appraised in all. */
uint64_t
attest_policy_report_total (const attest_policy_report_t *self);
/* The failing entries kept, in the order they were added. */
size_t
attest_policy_report_failure_count (const attest_policy_report_t *self);
const attest_policy_failure_t *
attest_policy_report_failure (const attest_policy_report_t *self, size_t i);
/* Failing entries counted but not kept (beyond ATTEST_POLICY_FAILURES). */
uint64_t
attest_policy_report_dropped (const attest_policy_report_t *self);
/* True when no entry failed. */
bool
attest_policy_report_passed (const attest_policy_report_t *self);

#endif
