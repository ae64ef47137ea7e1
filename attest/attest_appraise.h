/*
 * attest_appraise: replay an IMA measurement list and appraise every entry
 * against a compiled reference-value policy in one pass (docs/OPERATIONS.md
 * "Appraising an IMA log offline"; `wardenctl attest appraise` is its
 * command-line face).
 *
 * It joins attest_ima (streaming parser, template-hash checks, PCR replay,
 * incremental state) and attest_policy (verdicts, reports): the parser's
 * entry callback turns each entry into an attest_measurement_t and adds it
 * to an attest_policy_report_t, so a list of any length is read once, in
 * constant memory apart from the failing entries the report keeps.
 *
 * How entries are treated (Keylime's verifier is the model):
 *
 *   - file entries (ima, ima-ng, ima-sig) are appraised: path, file digest
 *     algorithm and digest go to attest_policy_report_add;
 *   - violations (all-zero template hash) extend the PCRs with 0xFF as the
 *     kernel does, are counted, and are not appraised: their file digest is
 *     zeros, not a measurement. They do not fail the appraisal; whoever
 *     turns it into a verdict decides what a violation costs;
 *   - `boot_aggregate` (the event name the kernel gives its first entry, a
 *     digest of PCRs 0-7/0-9) is not appraised against the policy's file
 *     digests: it is checked against a TPM quote of those PCRs elsewhere. It
 *     is counted and its digest kept (attest_appraise_boot_aggregate);
 *   - ima-buf entries are appraised as buffers, which attest_policy reports
 *     as `not-appraised` (the policy keeps only the names of its ima-buf
 *     section);
 *   - entries for a PCR other than the replayed one (10) are appraised too,
 *     and replayed into their own registers.
 *
 * The appraisal passes when no entry failed and the list's template-hash
 * algorithm is the policy's log_hash_alg. A list the parser rejects (bad
 * template hash, malformed entry) is not appraised any further: the run
 * returns the rejection and the state stops before the bad entry.
 */
#ifndef ATTEST_APPRAISE_H
#define ATTEST_APPRAISE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_ima.h"
#include "attest_policy.h"

/* The format argument of attest_appraise_new: ATTEST_IMA_ASCII,
   ATTEST_IMA_BINARY, or this to detect it from the list's first byte (an
   ASCII list starts with a digit or space, a binary one with a PCR index
   below 24). */
#define ATTEST_APPRAISE_AUTO (-1)

/* The event name of the kernel's first entry. */
#define ATTEST_APPRAISE_BOOT_AGGREGATE "boot_aggregate"

typedef struct attest_appraise attest_appraise_t;

/* What one run counted, besides the report's per-verdict counts. */
typedef struct {
    uint64_t entries;        /* entries read in this run (appraised or not) */
    uint64_t violations;     /* all-zero template hash: counted, not appraised */
    uint64_t boot_aggregate; /* entries named boot_aggregate: not appraised */
    uint64_t buffers;        /* ima-buf entries (not-appraised verdicts) */
    uint64_t other_pcr;      /* entries for a PCR other than the replayed one */
} attest_appraise_counts_t;

/* An appraisal of a whole list, from its first entry, against policy
   (borrowed: it must outlive the appraisal). format is ATTEST_IMA_ASCII,
   ATTEST_IMA_BINARY or ATTEST_APPRAISE_AUTO; the list replays PCR 10 for
   kernels >= 5.8. Returns NULL on out-of-memory. */
attest_appraise_t *
attest_appraise_new (const attest_policy_t *policy, int format);

/* An appraisal that continues a saved replay state (copied): only the
   entries after start->offset are read and appraised, in start->format.
   The other PCRs' registers are not in the state, so a continuation
   reports the replayed PCR only (attest_appraise_pcr is false for the
   others; their entries are still appraised and counted). Returns NULL on
   out-of-memory. An invalid state is refused by the run
   (ATTEST_ERR_IMA_STATE). */
attest_appraise_t *
attest_appraise_continue (const attest_policy_t *policy, const attest_ima_state_t *start);

/* Frees the appraisal and its report; sets *self_p to NULL. Safe on NULL. */
void
attest_appraise_destroy (attest_appraise_t **self_p);

/* Reads the list from fd (from the state's offset on, to the end of input)
   and appraises it. Call once per appraisal (asserted). Returns WD_OK when
   the whole list was read (whether or not it passed: see
   attest_appraise_passed), else the list's rejection as from
   attest_ima_replay_fd (ATTEST_ERR_TEMPLATE_HASH, ATTEST_ERR_IMA_*,
   WD_ERR_IO), or WD_ERR_BAD_VALUE when the format is to be detected but fd
   is not seekable. why (may be NULL) gets one line naming the entry. The
   entries before a rejection stay appraised and counted; the state stops
   after the last valid one, so attest_appraise_state (self)->entries is the
   index of the rejected entry. */
int __attribute__ ((warn_unused_result))
attest_appraise_fd (attest_appraise_t *self, int fd, char *why, size_t why_len);

/* attest_appraise_fd on a file (WD_ERR_NOT_FOUND when missing). */
int __attribute__ ((warn_unused_result))
attest_appraise_file (attest_appraise_t *self, const char *path, char *why, size_t why_len);

/* attest_appraise_fd on bytes in memory that continue the list at the
   state's offset. */
int __attribute__ ((warn_unused_result))
attest_appraise_buffer (attest_appraise_t *self, const void *data, size_t len, char *why,
                        size_t why_len);

/* ---- results (borrowed, valid while the appraisal lives) ---------------- */

/* The replay state after the last valid entry: save it to continue later. */
const attest_ima_state_t *
attest_appraise_state (const attest_appraise_t *self);

/* The list's form as read (detected or given). */
attest_ima_format_t
attest_appraise_format (const attest_appraise_t *self);

/* The registers of PCR pcr after the run: true and both banks filled for
   the replayed PCR (always) and, in an appraisal from the list's start, for
   every other PCR an entry used; false otherwise. */
bool
attest_appraise_pcr (const attest_appraise_t *self, uint32_t pcr, uint8_t sha1[20],
                     uint8_t sha256[32]);

const attest_appraise_counts_t *
attest_appraise_counts (const attest_appraise_t *self);

/* The verdicts of the appraised entries and every failing one (index in
   the whole list, path, verdict, other allowed path). */
const attest_policy_report_t *
attest_appraise_report (const attest_appraise_t *self);

/* The template-hash algorithm of the list's non-violation entries, as a
   name ("sha1", or "sha256" for `sha256:` ASCII lists), "mixed" when they
   differ, or NULL when there was none. */
const char *
attest_appraise_log_hash_alg (const attest_appraise_t *self);

/* True unless the list's template-hash algorithm is known and differs from
   the policy's log_hash_alg. */
bool
attest_appraise_alg_matches (const attest_appraise_t *self);

/* The last boot_aggregate entry's file digest and its algorithm: true when
   the run saw one. digest gets up to ATTEST_IMA_DIGEST_MAX bytes. */
bool
attest_appraise_boot_aggregate (const attest_appraise_t *self, attest_ima_hash_t *alg,
                                uint8_t digest[ATTEST_IMA_DIGEST_MAX], size_t *digest_len);

/* True when the run read the whole list (WD_OK), no appraised entry failed
   and the template-hash algorithm matches the policy. */
bool
attest_appraise_passed (const attest_appraise_t *self);

#endif
