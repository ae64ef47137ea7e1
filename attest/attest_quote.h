/*
 * attest_quote: TPM 2.0 quotes as they travel in evidence, and everything a
 * verifier does with them (DESIGN.md §7; docs/PROTOCOL.md "TPM quote").
 *
 * A node with a TPM adds to its evidence a quote: the TPMS_ATTEST bytes its
 * attestation key (AK) signed, the ECDSA P-256 signature, the AK's public
 * area (TPMT_PUBLIC), the SHA-256 PCR selection and the values of the
 * selected PCRs. The node side (attest_tpm, through tpm2-tss) produces it;
 * this class needs no TPM and no tpm2-tss: it parses the TPM's big-endian
 * structures itself, strictly, because they come from outside, and checks
 * signatures with OpenSSL's libcrypto (libsodium has no P-256).
 *
 * The verifier trusts an AK only after binding it to the node's
 * endorsement key (EK) with the credential protocol: it calls
 * attest_quote_make_credential with the EK's public area and the AK's name,
 * sends the blob and secret to the node, whose TPM releases the credential
 * (TPM2_ActivateCredential) only when the AK is loaded in the same TPM as
 * the EK; when the node answers with the credential, the verifier records
 * the AK name as bound for that node. Quotes are then checked against that
 * name (attest_quote_verify).
 *
 * Supported: AKs that are primary ECC P-256 restricted signing keys
 * (ECDSA, SHA-256) of the endorsement hierarchy (their qualified name is
 * SHA-256(TPM_RH_ENDORSEMENT ‖ name)); EKs that are RSA-2048 restricted
 * decryption keys with AES-128-CFB (the TCG default EK template); the
 * SHA-256 PCR bank.
 */
#ifndef ATTEST_QUOTE_H
#define ATTEST_QUOTE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "attest_err.h"
#include "wd_codec.h"

#define ATTEST_QUOTE_AK_MAX          256 /* bytes of the AK's TPMT_PUBLIC */
#define ATTEST_QUOTE_ATTEST_MAX      512 /* bytes of a TPMS_ATTEST */
#define ATTEST_QUOTE_SIG_LEN         64  /* ECDSA P-256 r ‖ s, 32 bytes each, big-endian */
#define ATTEST_QUOTE_PCR_COUNT       24  /* PCRs 0..23 of the SHA-256 bank */
#define ATTEST_QUOTE_PCR_LEN         32
#define ATTEST_QUOTE_NAME_LEN        34  /* a SHA-256 TPM name: 0x000b ‖ digest */
#define ATTEST_QUOTE_NAME_MAX        66  /* TPMU_NAME: any name algorithm */
#define ATTEST_QUOTE_DATA_MAX        64  /* TPM2B_DATA / TPM2B_DIGEST bodies */
#define ATTEST_QUOTE_BANKS_MAX       16  /* selections in a TPML_PCR_SELECTION */
#define ATTEST_QUOTE_EK_MAX          512 /* bytes of an EK's TPMT_PUBLIC */
#define ATTEST_QUOTE_CRED_MAX        64  /* bytes of a credential (TPM2B_DIGEST) */
#define ATTEST_QUOTE_BLOB_MAX        (2 + 32 + 2 + ATTEST_QUOTE_CRED_MAX) /* TPM2B_ID_OBJECT body */
#define ATTEST_QUOTE_SECRET_MAX      512          /* the RSA-OAEP encrypted seed */
#define ATTEST_QUOTE_SEED_LEN        32           /* the MakeCredential seed */
#define ATTEST_QUOTE_CERT_MAX        2048         /* bytes of a DER EK certificate */
#define ATTEST_QUOTE_BINDING_MAX     4096         /* bytes of an AK-binding envelope */
#define ATTEST_QUOTE_BINDING_TYPE    "ak-binding" /* its envelope type */
#define ATTEST_QUOTE_BINDING_VERSION 1            /* its body "v" */

#define ATTEST_QUOTE_MAGIC 0xff544347u /* TPM_GENERATED_VALUE */
#define ATTEST_QUOTE_TYPE  0x8018u     /* TPM_ST_ATTEST_QUOTE */

/* The quote field of an evidence body (docs/PROTOCOL.md "TPM quote"). */
typedef struct {
    uint8_t ak[ATTEST_QUOTE_AK_MAX];         /* the AK's TPMT_PUBLIC */
    size_t ak_len;                           /* 1..ATTEST_QUOTE_AK_MAX */
    uint8_t attest[ATTEST_QUOTE_ATTEST_MAX]; /* the TPMS_ATTEST, as signed */
    size_t attest_len;                       /* 1..ATTEST_QUOTE_ATTEST_MAX */
    uint32_t select;                         /* bit i: PCR i of the SHA-256 bank; 1..2^24-1 */
    /* The selected PCRs' values in ascending index order: pcrs[k] is the
       k-th set bit's PCR (use attest_quote_pcr to find one by index). */
    uint8_t pcrs[ATTEST_QUOTE_PCR_COUNT][ATTEST_QUOTE_PCR_LEN];
    uint8_t sig[ATTEST_QUOTE_SIG_LEN];
    /* The node's AK-binding record (an "ak-binding" envelope, see below)
       that binds ak to the TPM's EK; 0 bytes when the quote carries none
       (then a verifier needs the AK name from elsewhere). */
    uint8_t binding[ATTEST_QUOTE_BINDING_MAX];
    size_t binding_len;
} attest_quote_t;

/* One TPMS_PCR_SELECTION. */
typedef struct {
    uint16_t hash; /* TPM_ALG_ID of the bank */
    uint8_t size;  /* sizeofSelect, 1..4 */
    uint8_t bits[4];
} attest_quote_bank_t;

/* A TPMS_ATTEST of type quote, parsed. */
typedef struct {
    uint8_t signer[ATTEST_QUOTE_NAME_MAX]; /* qualifiedSigner */
    size_t signer_len;
    uint8_t extra[ATTEST_QUOTE_DATA_MAX]; /* extraData: the nonce */
    size_t extra_len;
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
    bool safe;
    uint64_t firmware;
    size_t bank_count;
    attest_quote_bank_t banks[ATTEST_QUOTE_BANKS_MAX];
    uint8_t digest[ATTEST_QUOTE_DATA_MAX]; /* pcrDigest */
    size_t digest_len;
} attest_quote_attest_t;

/* The TPM clock values a verifier keeps per node between quotes. */
typedef struct {
    uint64_t clock;
    uint32_t reset_count;
    uint32_t restart_count;
} attest_quote_clock_t;

/* Trusted EK certificate issuers (a PEM bundle), opaque (OpenSSL inside). */
typedef struct attest_quote_ca attest_quote_ca_t;

/* What a verifier expects of a node's quote. Pointers borrowed. */
typedef struct {
    /* The name of the AK bound to this node's EK (ATTEST_QUOTE_NAME_LEN
       bytes), or NULL when none is bound: then every quote is refused,
       unless from_binding. */
    const uint8_t *ak_name;
    /* With ak_name NULL: take the AK name from the quote's own AK-binding
       record (attest_quote_binding_open under chain and node, with ca and
       ek_name below); a quote without one is ATTEST_ERR_QUOTE_AK_UNBOUND. */
    bool from_binding;
    const uint8_t *chain; /* 32 bytes: the cluster's chain id */
    const uint8_t *node;  /* 32 bytes: the node the quote is about */
    /* EK certificate issuers: when set, the binding must carry an EK
       certificate that chains to them. NULL: the EK is trusted on first use. */
    const attest_quote_ca_t *ca;
    /* The EK name the node's last decided quote was bound to (NULL when
       unknown): a binding for another EK is ATTEST_ERR_QUOTE_EK_CHANGED. */
    const uint8_t *ek_name;
    /* The quoted log PCR is not compared with the log's claimed register
       here (step 10 below is skipped): the caller does it and turns a
       mismatch into a verdict (attest_verdict_appraise). */
    bool defer_pcr_log;
    /* The PCRs a quote must cover (bit i = PCR i; 0 = no requirement). */
    uint32_t required;
    /* Evidence without a quote is refused (ATTEST_ERR_QUOTE_MISSING). */
    bool require_quote;
    /* The clock values of the node's last accepted quote, NULL before the
       first: the new quote must not go back from them. */
    const attest_quote_clock_t *last;
} attest_quote_expect_t;

/* ---- parsing ----------------------------------------------------------- */

/* Parses a TPMS_ATTEST strictly: every length bounded, no trailing byte.
   Returns WD_OK, ATTEST_ERR_QUOTE_MALFORMED (truncated, trailing bytes, a
   field past its limit, safe not 0 or 1), ATTEST_ERR_QUOTE_MAGIC or
   ATTEST_ERR_QUOTE_TYPE. */
int __attribute__ ((warn_unused_result))
attest_quote_parse_attest (const uint8_t *buf, size_t len, attest_quote_attest_t *out);

/* Parses an AK's TPMT_PUBLIC: it must be an ECC NIST P-256 restricted
   signing key (fixedTPM, fixedParent, sensitiveDataOrigin, not decrypt)
   with scheme ECDSA-SHA256, name algorithm SHA-256, no symmetric cipher or
   KDF, and 32-byte coordinates, nothing after them. x, y (may be NULL) get
   the point. ATTEST_ERR_QUOTE_AK otherwise. */
int __attribute__ ((warn_unused_result))
attest_quote_parse_ak (const uint8_t *pub, size_t len, uint8_t x[32], uint8_t y[32]);

/* The TPM name of a public area with name algorithm SHA-256:
   0x000b ‖ SHA-256(pub). */
void
attest_quote_name (const uint8_t *pub, size_t len, uint8_t name[ATTEST_QUOTE_NAME_LEN]);

/* The value of PCR pcr in q, or NULL when q does not select it. */
const uint8_t *
attest_quote_pcr (const attest_quote_t *q, uint32_t pcr);

/* SHA-256 of the selected PCR values in ascending order: the pcrDigest a
   SHA-256 quote over them carries. */
void
attest_quote_pcr_digest (const attest_quote_t *q, uint8_t digest[32]);

/* ---- the evidence field ------------------------------------------------ */

/* True when q keeps the field's rules (lengths in range, select non-zero
   and below 2^24). */
bool
attest_quote_valid (const attest_quote_t *q);

/* Writes q as the canonical map {ak, attest, pcrs, select, sig}. */
void
attest_quote_write (wd_writer_t *w, const attest_quote_t *q);

/* Reads that map. Reader errors are sticky; *ok turns false for a
   well-typed value the rules do not allow (more or fewer PCR values than
   select names, select out of range, an empty ak or attest). */
void
attest_quote_read (wd_reader_t *r, attest_quote_t *q, bool *ok);

/* ---- verification ------------------------------------------------------ */

/* Checks a quote carried by evidence whose nonce is nonce. log_sha256 (may
   be NULL) is the evidence log's claimed SHA-256 register for PCR log_pcr,
   which attest_evidence has replayed (or will: see its defer_replay).
   Checks, in this order (first failure wins):
     no bound AK (ATTEST_ERR_QUOTE_AK_UNBOUND), the AK's public area
     (ATTEST_ERR_QUOTE_AK), its name = the bound one
     (ATTEST_ERR_QUOTE_AK_UNBOUND), the TPMS_ATTEST parses
     (attest_quote_parse_attest's reasons), the signature over it
     (ATTEST_ERR_QUOTE_SIGNATURE), qualifiedSigner
     (ATTEST_ERR_QUOTE_SIGNER), extraData = nonce (ATTEST_ERR_QUOTE_NONCE),
     the selection is exactly select on the SHA-256 bank and covers
     x->required (ATTEST_ERR_QUOTE_SELECTION), pcrDigest = SHA-256 of the
     values (ATTEST_ERR_QUOTE_PCR_DIGEST), the safe flag
     (ATTEST_ERR_QUOTE_UNSAFE), resetCount, restartCount and clock not
     behind x->last (ATTEST_ERR_QUOTE_RESET, ATTEST_ERR_QUOTE_RESTART,
     ATTEST_ERR_QUOTE_CLOCK: the same counts need a later clock), and the
     quoted log PCR = log_sha256 when the quote selects it
     (ATTEST_ERR_QUOTE_PCR_LOG).
   On WD_OK, *clock (may be NULL) gets the values to keep for the node. */
int __attribute__ ((warn_unused_result))
attest_quote_verify (const attest_quote_t *q, const uint8_t nonce[32], const uint8_t *log_sha256,
                     uint32_t log_pcr, const attest_quote_expect_t *x, attest_quote_clock_t *clock);

/* The clock values of a quote's TPMS_ATTEST, to keep as the node's `last`
   once the evidence carrying it is accepted. Returns
   attest_quote_parse_attest's reasons. */
int __attribute__ ((warn_unused_result))
attest_quote_clock_of (const attest_quote_t *q, attest_quote_clock_t *clock);

/* ---- binding the AK: the verifier's half of the credential protocol ---- */

/* attest_quote_make_credential with a given seed instead of a random one:
   deterministic, so a verifier that learns the seed can recompute blob and
   secret byte for byte. The RSA-OAEP padding's own random bytes are
   KDFa(SHA-256, seed, "WARDEN-OAEP", "", "", 256) (RFC 8017 EME-OAEP with
   SHA-256, MGF1-SHA-256, label "IDENTITY\0"), so the TPM decrypts secret
   exactly as it decrypts any MakeCredential seed. Same results as
   attest_quote_make_credential. */
int __attribute__ ((warn_unused_result))
attest_quote_make_credential_seeded (const uint8_t *ek, size_t ek_len,
                                     const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN],
                                     const uint8_t *cred, size_t cred_len,
                                     const uint8_t seed[ATTEST_QUOTE_SEED_LEN], uint8_t *blob,
                                     size_t *blob_len, uint8_t *secret, size_t *secret_len);

/* TPM2_MakeCredential in software (OpenSSL): protects cred (1..64 bytes)
   for the TPM holding the EK whose TPMT_PUBLIC is ek, so that only
   TPM2_ActivateCredential with the object named ak_name loaded next to
   that EK releases it. A fresh random seed is RSA-OAEP(SHA-256, label
   "IDENTITY") encrypted to the EK; the credential is AES-128-CFB encrypted
   under KDFa(seed, "STORAGE", ak_name) and MACed with HMAC-SHA256 under
   KDFa(seed, "INTEGRITY"). blob (ATTEST_QUOTE_BLOB_MAX bytes) gets the
   TPM2B_ID_OBJECT body (TPM2B outer HMAC ‖ encrypted TPM2B credential),
   secret (ATTEST_QUOTE_SECRET_MAX bytes) the TPM2B_ENCRYPTED_SECRET body.
   Returns WD_OK, ATTEST_ERR_QUOTE_EK (ek is not an RSA-2048 restricted
   decryption key with AES-128-CFB and name algorithm SHA-256) or
   WD_ERR_INTERNAL (libcrypto failed). */
int __attribute__ ((warn_unused_result))
attest_quote_make_credential (const uint8_t *ek, size_t ek_len,
                              const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN], const uint8_t *cred,
                              size_t cred_len, uint8_t *blob, size_t *blob_len, uint8_t *secret,
                              size_t *secret_len);

/* ---- the AK-binding record (docs/PROTOCOL.md "AK-binding record") ------- */

/* The body of an "ak-binding" envelope, signed by the node key: the node
   ran MakeCredential against its own EK for its AK, with the credential
   attest_quote_binding_credential (node, EK, AK), had its TPM activate it
   (the node refuses to start otherwise) and then published the seed, so
   any verifier can recompute blob and secret. Plain value. */
typedef struct {
    uint8_t node[32];                /* the node's id (sign_pk); = the envelope's signer */
    uint8_t ek[ATTEST_QUOTE_EK_MAX]; /* the EK's TPMT_PUBLIC */
    size_t ek_len;
    uint8_t ek_cert[ATTEST_QUOTE_CERT_MAX]; /* DER X.509 of the EK, or 0 bytes */
    size_t ek_cert_len;
    uint8_t ak[ATTEST_QUOTE_AK_MAX]; /* the AK's TPMT_PUBLIC */
    size_t ak_len;
    uint8_t seed[ATTEST_QUOTE_SEED_LEN];
    uint8_t blob[ATTEST_QUOTE_BLOB_MAX]; /* TPM2B_ID_OBJECT body */
    size_t blob_len;
    uint8_t secret[ATTEST_QUOTE_SECRET_MAX]; /* TPM2B_ENCRYPTED_SECRET body */
    size_t secret_len;
} attest_quote_binding_t;

/* The credential a binding protects: SHA-256("warden-ak-binding-v1" ‖ 0x00
   ‖ node ‖ EK name ‖ AK name), 32 bytes. */
void
attest_quote_binding_credential (const uint8_t node[32],
                                 const uint8_t ek_name[ATTEST_QUOTE_NAME_LEN],
                                 const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN], uint8_t cred[32]);

/* Fills blob and secret of *b (node, ek, ak, seed set by the caller) by
   attest_quote_make_credential_seeded. Returns its reasons, or
   ATTEST_ERR_QUOTE_AK when ak does not parse. */
int __attribute__ ((warn_unused_result)) attest_quote_binding_make (attest_quote_binding_t *b);

/* The canonical body {ak, blob, ek, ek_cert (when not empty), node, secret,
   seed, v}. Returns WD_OK and *out (caller frees), or WD_ERR_BAD_LENGTH
   when a length is out of range. */
int __attribute__ ((warn_unused_result))
attest_quote_binding_encode (const attest_quote_binding_t *b, uint8_t **out, size_t *out_len);

/* Decodes a body strictly: the codec's reasons (non-canonical msgpack,
   WD_ERR_MISSING_KEY / UNKNOWN_KEY / WRONG_TYPE / BAD_LENGTH / OVERSIZE /
   TRAILING / TRUNCATED), WD_ERR_BAD_VERSION (v is not 1), then
   ATTEST_ERR_QUOTE_EK (ek is not the supported EK), ATTEST_ERR_QUOTE_AK
   (ak does not parse), ATTEST_ERR_QUOTE_BINDING (blob and secret are not
   the seeded MakeCredential of the credential for node, EK and AK). The
   EK certificate is not examined here (attest_quote_binding_check_cert).
   Encoding the result gives back the input. */
int __attribute__ ((warn_unused_result))
attest_quote_binding_decode (const uint8_t *body, size_t len, attest_quote_binding_t *b);

/* Opens an "ak-binding" envelope from outside: envelope decode (codec
   reasons), chain (WD_ERR_WRONG_CHAIN), type (WD_ERR_UNEXPECTED_TYPE),
   signer = node (ATTEST_ERR_QUOTE_BINDING), signature
   (WD_ERR_BAD_SIGNATURE), attest_quote_binding_decode's reasons, body node
   = signer (ATTEST_ERR_QUOTE_BINDING), then ca (may be NULL: skipped)
   through attest_quote_binding_check_cert, and ek_name (may be NULL: not
   pinned) = the EK's name (ATTEST_ERR_QUOTE_EK_CHANGED). *b (may be NULL)
   gets the body, ak_name / ek_name_out (may be NULL) the names. */
int __attribute__ ((warn_unused_result))
attest_quote_binding_open (const uint8_t *buf, size_t len, const uint8_t chain[32],
                           const uint8_t node[32], const attest_quote_ca_t *ca,
                           const uint8_t *ek_name, attest_quote_binding_t *b,
                           uint8_t ak_name[ATTEST_QUOTE_NAME_LEN],
                           uint8_t ek_name_out[ATTEST_QUOTE_NAME_LEN]);

/* ---- EK certificates ------------------------------------------------------ */

/* Loads the trusted issuers from a PEM file (one or more certificates: a
   root and its intermediates). NULL and a line in why when the file does
   not load or holds no certificate. */
attest_quote_ca_t *
attest_quote_ca_new (const char *path, char *why, size_t why_len);

void
attest_quote_ca_destroy (attest_quote_ca_t **self_p);

/* Checks a DER EK certificate (cert_len 0: none) against ca: it must be
   present, chain to ca (critical TCG extensions such as the TPM's subject
   directory attributes are accepted), and certify exactly the RSA key of
   ek. Returns WD_OK or ATTEST_ERR_QUOTE_EK_CERT. */
int __attribute__ ((warn_unused_result))
attest_quote_check_ek_cert (const attest_quote_ca_t *ca, const uint8_t *cert, size_t cert_len,
                            const uint8_t *ek, size_t ek_len);

#endif
