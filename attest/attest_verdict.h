/*
 * attest_verdict: the verifier's signed appraisal of one evidence record
 * (DESIGN.md §7 "Appraisal"; docs/PROTOCOL.md "Evidence and verdicts").
 *
 * A verdict is a wd_envelope of type "verdict" signed by the verifier,
 * whose canonical msgpack body names the evidence (its id), the subject,
 * the reference-value policy (attest_policy id) it was appraised against,
 * a per-claim trust vector in the spirit of RFC 9334 / AR4SI
 * trustworthiness claims (draft-ietf-rats-ar4si) — executables,
 * configuration, boot image, key protection, freshness, each none /
 * affirming / warning / contraindicated — a tier computed from the vector
 * by a pure rule (attest_verdict_tier), a summary of the failing entries
 * (count and the first few) and the time.
 *
 * Appraisal (attest_verdict_appraise) replays and appraises the evidence's
 * log delta with attest_appraise against the named policy, from the
 * verifier's saved state, and folds in the challenge outcome, the key
 * protection and tamper state. attest_verdict_open_appraise does the whole
 * verifier step — open the evidence, replay once, appraise, check the
 * registers — and is what a verifier normally calls.
 *
 * Trust vector rules (pure functions of the evidence and the appraisal; the
 * table is in docs/PROTOCOL.md "Trust vector"):
 *   - an appraised log entry is a boot entry when its name is
 *     "boot_aggregate" or starts with "boot:", a configuration entry when it
 *     starts with "/etc/" or "warden:config" or ends with ".conf", else an
 *     executable; a challenge item is boot for kinds cmdline and disk,
 *     configuration for "file:/etc/...", else executables;
 *   - executables / configuration / boot: contraindicated when an entry or
 *     item of that class failed; else executables is warning for
 *     violations or a template-hash algorithm that is not the policy's;
 *     else affirming when there was a log or a challenge, none otherwise —
 *     except boot, which is affirming only with a (verified) TPM quote or a
 *     challenge, none otherwise ("no TPM": lower assurance), and
 *     contraindicated (failure "tpm:pcrN", reason "quote-pcr-log") when the
 *     quoted log PCR is not the log's register;
 *   - key protection: contraindicated when tamper is "tampered", none for
 *     "software" (no hardware claim), else affirming;
 *   - freshness: contraindicated for a missed challenge, else affirming
 *     (stale or replayed evidence never gets this far: it is rejected).
 * Tier: contraindicated when any claim is; else affirming when executables
 * and freshness are affirming and no claim is warning; else warning.
 */
#ifndef ATTEST_VERDICT_H
#define ATTEST_VERDICT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "attest_evidence.h"
#include "attest_policy.h"
#include "wd_envelope.h"

#define ATTEST_VERDICT_TYPE       "verdict" /* envelope type */
#define ATTEST_VERDICT_VERSION    1         /* body "v" */
#define ATTEST_VERDICT_FIRST_MAX  8         /* failing entries listed in a verdict */
#define ATTEST_VERDICT_PATH_MAX   255 /* bytes of a listed path (longer ones are cut at UTF-8) */
#define ATTEST_VERDICT_REASON_MAX 31  /* bytes of a reason name */

/* A trustworthiness value (AR4SI's tiers, plus none = no claim). */
typedef enum {
    ATTEST_TRUST_NONE = 0,        /* "none" */
    ATTEST_TRUST_AFFIRMING,       /* "affirming" */
    ATTEST_TRUST_WARNING,         /* "warning" */
    ATTEST_TRUST_CONTRAINDICATED, /* "contraindicated" */
} attest_trust_t;

/* The claims of the trust vector, in the body's key order. */
typedef enum {
    ATTEST_CLAIM_BOOT = 0,       /* "boot" */
    ATTEST_CLAIM_CONFIGURATION,  /* "configuration" */
    ATTEST_CLAIM_EXECUTABLES,    /* "executables" */
    ATTEST_CLAIM_FRESHNESS,      /* "freshness" */
    ATTEST_CLAIM_KEY_PROTECTION, /* "key_protection" */
    ATTEST_CLAIM_COUNT
} attest_claim_t;

/* One failing entry: a log entry (index = its index in the subject's list,
   reason = attest_verdict_name of its policy verdict, e.g. "unknown-path")
   or a challenge item (index = its position in the challenge, reason
   "challenge-fail" or "challenge-missed"). */
typedef struct {
    uint64_t index;
    char path[ATTEST_VERDICT_PATH_MAX + 1];
    char reason[ATTEST_VERDICT_REASON_MAX + 1];
} attest_verdict_failure_t;

/* The verdict body, a plain value. */
typedef struct {
    uint8_t evidence[ATTEST_EVIDENCE_ID_LEN]; /* id of the evidence appraised */
    attest_subject_t subject;
    uint8_t policy[ATTEST_POLICY_ID_LEN]; /* attest_policy_id of the policy */
    attest_trust_t claims[ATTEST_CLAIM_COUNT];
    attest_trust_t tier;    /* never NONE; = attest_verdict_tier (claims) */
    uint64_t failure_count; /* all failing entries and items */
    size_t first_count;     /* how many are listed: min(count, FIRST_MAX) */
    attest_verdict_failure_t first[ATTEST_VERDICT_FIRST_MAX];
    uint64_t time; /* Unix seconds of the appraisal */
} attest_verdict_body_t;

/* ---- names and the tier rule --------------------------------------------- */

/* "none", "affirming", "warning", "contraindicated". Static. */
const char *
attest_trust_name (attest_trust_t trust);
/* "boot", "configuration", "executables", "freshness", "key_protection". */
const char *
attest_claim_name (attest_claim_t claim);

/* The tier of a trust vector: CONTRAINDICATED when any claim is; else
   AFFIRMING when executables and freshness are AFFIRMING and no claim is
   WARNING; else WARNING. Pure. */
attest_trust_t
attest_verdict_tier (const attest_trust_t claims[ATTEST_CLAIM_COUNT]);

/* ---- appraisal ------------------------------------------------------------- */

/* Appraises evidence that attest_evidence_open accepted: finds policy_id
   among the policy_count policies (ATTEST_ERR_VERDICT_UNKNOWN_POLICY when
   none has that id), appraises the log delta from *saved (NULL: from the
   list's start) with attest_appraise, folds in the challenge, key
   protection and tamper state, and fills *out (time = now). A delta the
   replay rejects returns its reason (ATTEST_ERR_TEMPLATE_HASH,
   ATTEST_ERR_IMA_*); a delta that does not replay to the claimed registers
   ATTEST_ERR_EVIDENCE_REGISTERS. *after (may be NULL) gets the state after
   the delta. why (may be NULL) gets a reason line. */
int __attribute__ ((warn_unused_result))
attest_verdict_appraise (const attest_evidence_t *ev,
                         const uint8_t evidence_id[ATTEST_EVIDENCE_ID_LEN],
                         const attest_ima_state_t *saved, const attest_policy_t *const *policies,
                         size_t policy_count, const uint8_t policy_id[ATTEST_POLICY_ID_LEN],
                         uint64_t now, attest_verdict_body_t *out, attest_ima_state_t *after,
                         char *why, size_t why_len);

/* The verifier's whole step on evidence bytes: attest_evidence_open with
   expect (its defer_replay is forced on, so the delta is replayed once, by
   the appraisal), then attest_verdict_appraise at expect->now. Returns the
   first rejection of either. On WD_OK: *out is the verdict body, *ev (may
   be NULL) the evidence (records borrowed from buf), *after (may be NULL)
   the state to save for the subject. */
int __attribute__ ((warn_unused_result))
attest_verdict_open_appraise (const uint8_t *buf, size_t len,
                              const attest_evidence_expect_t *expect,
                              const attest_policy_t *const *policies, size_t policy_count,
                              const uint8_t policy_id[ATTEST_POLICY_ID_LEN],
                              attest_verdict_body_t *out, attest_evidence_t *ev,
                              attest_ima_state_t *after, char *why, size_t why_len);

/* ---- encoding -------------------------------------------------------------- */

/* The canonical body. Returns WD_OK and *out (caller frees), or
   ATTEST_ERR_VERDICT_FIELD when a field breaks the schema (a claim or tier
   out of range, a tier that is not attest_verdict_tier (claims), more
   listed failures than counted, a bad path or reason string). */
int __attribute__ ((warn_unused_result))
attest_verdict_encode (const attest_verdict_body_t *v, uint8_t **out, size_t *out_len);

/* Decodes a body strictly: the codec's reasons, WD_ERR_BAD_VERSION,
   ATTEST_ERR_VERDICT_FIELD (unknown trust string, first_count above
   FIRST_MAX or the count, a subject that breaks its rules) and
   ATTEST_ERR_VERDICT_TIER (the tier is not the rule's for the claims).
   Encoding the result gives back the input. */
int __attribute__ ((warn_unused_result))
attest_verdict_decode (const uint8_t *body, size_t len, attest_verdict_body_t *v);

/* Seals the body in a "verdict" envelope on chain signed by verifier_pk
   through sign. *out (caller frees) gets the envelope bytes. */
int __attribute__ ((warn_unused_result))
attest_verdict_seal (const attest_verdict_body_t *v, const uint8_t chain[WD_CHAIN_ID_LEN],
                     const uint8_t verifier_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                     uint8_t **out, size_t *out_len);

/* Opens a verdict: envelope decode (codec reasons), chain, type "verdict",
   the signer known to key_fn (ATTEST_ERR_VERDICT_UNKNOWN_VERIFIER; key_fn
   may be NULL to accept any signer, e.g. when the caller checks *verifier
   itself), signature (WD_ERR_BAD_SIGNATURE), then attest_verdict_decode's
   reasons. verifier (may be NULL) gets the signer's key. */
int __attribute__ ((warn_unused_result))
attest_verdict_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                     attest_evidence_key_fn key_fn, void *key_ctx, attest_verdict_body_t *v,
                     uint8_t verifier[WD_PUBKEY_LEN]);

#endif
