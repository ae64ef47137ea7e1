/*
 * node_tpm: the engine's TPM (issue 11 item 2; docs/ARCHITECTURE.md "TPM
 * in the engine"). With `tpm/tcti` set the engine opens the TPM at start
 * and keeps it for its lifetime:
 *
 *   - it binds the AK to the EK (attest_tpm_bind: MakeCredential for its
 *     own EK and AK, ActivateCredential in the TPM) and keeps the
 *     AK-binding body the driver seals once with the node key;
 *   - it anchors the engine's measurement log in the resettable PCR
 *     `tpm/pcr`: reset at start, every log entry extended in order, and
 *     entries appended since extended before each quote — so the quoted
 *     PCR equals the log's SHA-256 register unless something else extended
 *     it;
 *   - it quotes `tpm/pcrs` plus that PCR with the evidence nonce as
 *     qualifying data, and attaches the sealed AK-binding record.
 *
 * Failure at start (no TPM, a TCTI that does not load, a binding the TPM
 * refuses, an EK certificate that does not chain to `tpm/ek_ca`) stops the
 * engine with a reason: never a silent fallback to evidence without a TPM.
 */
#ifndef NODE_TPM_H
#define NODE_TPM_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_log.h"
#include "attest_quote.h"
#include "wd_config.h"
#include "wd_err.h"

typedef struct node_tpm node_tpm_t;

/* The PCR the engine's measurement log extends: `tpm/pcr` when `tpm/tcti`
   is set, else ATTEST_IMA_PCR_DEFAULT. */
uint32_t
node_tpm_log_pcr (const wd_config_t *cfg);

/* Opens the TPM named by `tpm/tcti` (unset: *out NULL, WD_OK), reads its
   EK certificate (required and checked against `tpm/ek_ca` when that is
   set), binds the AK for node and anchors log (borrowed; must outlive the
   object) in `tpm/pcr`. Returns WD_OK or WD_ERR_CONFIG_VALUE with a line in
   why. */
wd_err_t __attribute__ ((warn_unused_result))
node_tpm_new (const wd_config_t *cfg, const uint8_t node[32], const attest_log_t *log,
              node_tpm_t **out, char *why, size_t why_len);

/* Closes the TPM. Safe on NULL. */
void
node_tpm_destroy (node_tpm_t **self_p);

/* The AK-binding body to seal as an ATTEST_QUOTE_BINDING_TYPE envelope.
   Borrowed. */
const uint8_t *
node_tpm_binding_body (const node_tpm_t *self, size_t *len);

/* Keeps the sealed AK-binding envelope (copied; at most
   ATTEST_QUOTE_BINDING_MAX bytes, else refused with WD_ERR_BAD_LENGTH). */
int __attribute__ ((warn_unused_result))
node_tpm_set_binding (node_tpm_t *self, const uint8_t *envelope, size_t len);

/* True once node_tpm_set_binding succeeded. */
bool
node_tpm_has_binding (const node_tpm_t *self);

/* Extends the log entries not yet in the PCR, quotes with nonce and fills
   *out, the binding attached. Returns WD_OK or ATTEST_ERR_TPM_COMMAND with a
   line in why. */
int __attribute__ ((warn_unused_result))
node_tpm_quote (node_tpm_t *self, const uint8_t nonce[32], attest_quote_t *out, char *why,
                size_t why_len);

#endif
