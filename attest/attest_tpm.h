/*
 * attest_tpm: the node's TPM 2.0 client (tpm2-tss ESAPI), producing the
 * quote an evidence record carries (attest_quote.h; docs/OPERATIONS.md
 * "TPM quotes").
 *
 * The TPM is reached through a TCTI configuration string, e.g.
 * "device:/dev/tpmrm0" (the kernel's resource manager) or
 * "swtpm:path=/run/swtpm/sock" (a software TPM; its control socket is then
 * <path>.ctrl). Three keys are involved:
 *
 *   - the endorsement key (EK), the TCG default RSA-2048 EK, re-created on
 *     demand from the standard template under the endorsement hierarchy
 *     (the TPM derives the same key every time; its certificate, if the
 *     vendor provided one, certifies exactly that key);
 *   - the attestation key (AK): an ECC P-256 restricted signing key
 *     (ECDSA-SHA256), a primary key of the endorsement hierarchy made from
 *     a fixed template, so it too is the same key on every call and needs
 *     no storage; or, when the caller names a persistent handle, the key
 *     there (it must be such a primary: tpm2_createprimary -C e with the
 *     same template, then tpm2_evictcontrol);
 *   - the verifier binds the AK to the EK (attest_quote_make_credential);
 *     the node answers with attest_tpm_activate.
 *
 * No resource manager is assumed: every transient object and session is
 * flushed before a call returns, whatever the outcome, so the TPM never
 * runs out of object slots (TPM_RC_OBJECT_MEMORY, 0x902). The object is
 * not thread-safe; one per process is enough.
 */
#ifndef ATTEST_TPM_H
#define ATTEST_TPM_H

#include <stddef.h>
#include <stdint.h>

#include "attest_quote.h"

#define ATTEST_TPM_WHY_MAX 160

typedef struct attest_tpm attest_tpm_t;

/* Opens the TPM named by tcti (see above). ak_handle is 0 to use the
   template AK, or a persistent handle (0x81xxxxxx) holding the AK.
   Returns NULL when the TCTI cannot be loaded or the TPM does not answer;
   why (may be NULL, why_len bytes) then says why. */
attest_tpm_t *
attest_tpm_new (const char *tcti, uint32_t ak_handle, char *why, size_t why_len);

/* Closes the TPM; sets *self_p to NULL. Safe on NULL. */
void
attest_tpm_destroy (attest_tpm_t **self_p);

/* One line about the last failure ("" when none). Borrowed: valid until
   the next call. */
const char *
attest_tpm_why (const attest_tpm_t *self);

/* The EK's TPMT_PUBLIC (cap bytes at out; ATTEST_QUOTE_EK_MAX is enough),
   for the verifier's attest_quote_make_credential. Returns WD_OK or
   ATTEST_ERR_TPM_COMMAND. */
int __attribute__ ((warn_unused_result))
attest_tpm_ek_public (attest_tpm_t *self, uint8_t *out, size_t cap, size_t *len);

/* The AK's TPMT_PUBLIC (cap bytes; ATTEST_QUOTE_AK_MAX is enough) and its
   name (may be NULL). Returns WD_OK or ATTEST_ERR_TPM_COMMAND. */
int __attribute__ ((warn_unused_result))
attest_tpm_ak_public (attest_tpm_t *self, uint8_t *out, size_t cap, size_t *len,
                      uint8_t name[ATTEST_QUOTE_NAME_LEN]);

/* TPM2_ActivateCredential: releases the credential a verifier protected
   for this TPM's EK and AK (blob and secret from
   attest_quote_make_credential). cred gets it (ATTEST_QUOTE_CRED_MAX
   bytes). Returns WD_OK, ATTEST_ERR_TPM_COMMAND (the TPM refused: blob
   made for another EK or AK name, or altered) or WD_ERR_BAD_LENGTH. */
int __attribute__ ((warn_unused_result))
attest_tpm_activate (attest_tpm_t *self, const uint8_t *blob, size_t blob_len,
                     const uint8_t *secret, size_t secret_len, uint8_t *cred, size_t *cred_len);

/* Quotes the SHA-256 PCRs in select (bit i = PCR i, non-zero, below 2^24)
   with nonce as qualifying data, and fills *out: the AK's public area, the
   TPMS_ATTEST, the signature and the PCR values (read before the quote and
   checked against its pcrDigest; when a PCR changes in between, the
   quote is taken again, up to three times). Returns WD_OK or
   ATTEST_ERR_TPM_COMMAND. */
int __attribute__ ((warn_unused_result))
attest_tpm_quote (attest_tpm_t *self, const uint8_t nonce[32], uint32_t select,
                  attest_quote_t *out);

/* Reads PCR pcr (0..23) of the SHA-256 bank. */
int __attribute__ ((warn_unused_result))
attest_tpm_pcr_read (attest_tpm_t *self, uint32_t pcr, uint8_t value[32]);

/* Extends PCR pcr (0..23) the way IMA does: the SHA-256 bank with
   sha256, and the SHA-1 bank with sha1 when it is not NULL (a bank the
   TPM does not have is an error). For tests and for Warden's own
   measurements; the kernel extends PCR 10 itself. */
int __attribute__ ((warn_unused_result))
attest_tpm_pcr_extend (attest_tpm_t *self, uint32_t pcr, const uint8_t sha1[20],
                       const uint8_t sha256[32]);

/* Resets PCR pcr of every bank (TPM2_PCR_Reset). Only resettable PCRs
   allow it at locality 0 (16 and 23 on PC-client TPMs); others fail with
   ATTEST_ERR_TPM_COMMAND. */
int __attribute__ ((warn_unused_result)) attest_tpm_pcr_reset (attest_tpm_t *self, uint32_t pcr);

/* The EK certificate the vendor (or swtpm_setup --create-ek-cert) stored
   in NV index 0x01c00002 (RSA-2048 EK), trimmed to its DER length: WD_OK
   and cert (cap bytes; ATTEST_QUOTE_CERT_MAX is enough), WD_ERR_NOT_FOUND
   when the TPM has no such index, ATTEST_ERR_TPM_COMMAND when reading
   fails, WD_ERR_BAD_LENGTH when it is not one DER SEQUENCE of at most cap
   bytes. */
int __attribute__ ((warn_unused_result))
attest_tpm_ek_cert (attest_tpm_t *self, uint8_t *cert, size_t cap, size_t *len);

/* The node's half of binding its AK (docs/PROTOCOL.md "AK-binding
   record"): fills *out with node, the EK and AK public areas, ek_cert
   (may be NULL with ek_cert_len 0), a fresh random seed and the seeded
   MakeCredential of attest_quote_binding_credential, then has the TPM
   activate it and checks that the credential comes back. Returns WD_OK,
   attest_quote_binding_make's reasons, ATTEST_ERR_TPM_COMMAND (the TPM
   refused), or ATTEST_ERR_QUOTE_BINDING (it released another credential);
   attest_tpm_why says more. */
int __attribute__ ((warn_unused_result))
attest_tpm_bind (attest_tpm_t *self, const uint8_t node[32], const uint8_t *ek_cert,
                 size_t ek_cert_len, attest_quote_binding_t *out);

#endif
