/*
 * attest_tpm: the node's TPM client through tpm2-tss ESAPI (see
 * attest_tpm.h). Each public call makes the keys it needs, uses them and
 * flushes them on its single exit path; the only handle kept between calls
 * is a persistent AK's ESYS_TR (which is not a TPM slot).
 */
#include "attest_tpm.h"

#include <assert.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <tss2/tss2_esys.h>
#include <tss2/tss2_mu.h>
#include <tss2/tss2_rc.h>
#include <tss2/tss2_tctildr.h>

struct attest_tpm {
    TSS2_TCTI_CONTEXT *tcti;
    ESYS_CONTEXT *esys;
    uint32_t ak_handle; /* persistent AK, or 0 */
    ESYS_TR ak_persistent;
    char why[ATTEST_TPM_WHY_MAX];
};

/* The TCG EK Credential Profile's default RSA-2048 EK template (L-1): its
   policy is PolicySecret(TPM_RH_ENDORSEMENT), the unique field 256 zero
   bytes. */
static const uint8_t s_ek_policy[32] = { 0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
                                         0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
                                         0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
                                         0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa };

static void
s_ek_template (TPM2B_PUBLIC *pub)
{
    memset (pub, 0, sizeof *pub);
    TPMT_PUBLIC *t = &pub->publicArea;
    t->type = TPM2_ALG_RSA;
    t->nameAlg = TPM2_ALG_SHA256;
    t->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_ADMINWITHPOLICY |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_DECRYPT;
    t->authPolicy.size = sizeof s_ek_policy;
    memcpy (t->authPolicy.buffer, s_ek_policy, sizeof s_ek_policy);
    t->parameters.rsaDetail.symmetric.algorithm = TPM2_ALG_AES;
    t->parameters.rsaDetail.symmetric.keyBits.aes = 128;
    t->parameters.rsaDetail.symmetric.mode.aes = TPM2_ALG_CFB;
    t->parameters.rsaDetail.scheme.scheme = TPM2_ALG_NULL;
    t->parameters.rsaDetail.keyBits = 2048;
    t->parameters.rsaDetail.exponent = 0;
    t->unique.rsa.size = 256;
}

/* The AK: a restricted ECDSA-SHA256 P-256 signing key, no policy, empty
   auth (the TPM's own; what guards the AK is that only this node's TPM can
   use it). */
static void
s_ak_template (TPM2B_PUBLIC *pub)
{
    memset (pub, 0, sizeof *pub);
    TPMT_PUBLIC *t = &pub->publicArea;
    t->type = TPM2_ALG_ECC;
    t->nameAlg = TPM2_ALG_SHA256;
    t->objectAttributes = TPMA_OBJECT_FIXEDTPM | TPMA_OBJECT_FIXEDPARENT |
                          TPMA_OBJECT_SENSITIVEDATAORIGIN | TPMA_OBJECT_USERWITHAUTH |
                          TPMA_OBJECT_RESTRICTED | TPMA_OBJECT_SIGN_ENCRYPT | TPMA_OBJECT_NODA;
    t->parameters.eccDetail.symmetric.algorithm = TPM2_ALG_NULL;
    t->parameters.eccDetail.scheme.scheme = TPM2_ALG_ECDSA;
    t->parameters.eccDetail.scheme.details.ecdsa.hashAlg = TPM2_ALG_SHA256;
    t->parameters.eccDetail.curveID = TPM2_ECC_NIST_P256;
    t->parameters.eccDetail.kdf.scheme = TPM2_ALG_NULL;
}

static void __attribute__ ((format (printf, 2, 3))) s_why (attest_tpm_t *self, const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (self->why, sizeof self->why, fmt, ap);
    va_end (ap);
}

/* Records a failed TSS call and returns ATTEST_ERR_TPM_COMMAND. */
static int
s_fail (attest_tpm_t *self, const char *what, TSS2_RC rc)
{
    s_why (self, "%s: 0x%x %s", what, (unsigned)rc, Tss2_RC_Decode (rc));
    return ATTEST_ERR_TPM_COMMAND;
}

static void
s_flush (attest_tpm_t *self, ESYS_TR *handle)
{
    if (*handle != ESYS_TR_NONE) {
        (void)Esys_FlushContext (self->esys, *handle);
        *handle = ESYS_TR_NONE;
    }
}

attest_tpm_t *
attest_tpm_new (const char *tcti, uint32_t ak_handle, char *why, size_t why_len)
{
    assert (tcti);
    attest_tpm_t *self = calloc (1, sizeof *self);
    if (!self) {
        if (why && why_len)
            snprintf (why, why_len, "out of memory");
        return NULL;
    }
    self->ak_handle = ak_handle;
    self->ak_persistent = ESYS_TR_NONE;
    TSS2_RC rc = Tss2_TctiLdr_Initialize (tcti, &self->tcti);
    if (rc != TSS2_RC_SUCCESS) {
        s_why (self, "TCTI \"%s\": 0x%x %s", tcti, (unsigned)rc, Tss2_RC_Decode (rc));
        goto out_fail;
    }
    rc = Esys_Initialize (&self->esys, self->tcti, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        s_fail (self, "Esys_Initialize", rc);
        goto out_fail;
    }
    /* A simulator started without startup-clear needs TPM2_Startup; a
       started TPM answers TPM_RC_INITIALIZE, and a resource manager may
       refuse the command. Neither is an error here: a TPM that is really
       not started fails the first real command, which then says so. */
    (void)Esys_Startup (self->esys, TPM2_SU_CLEAR);
    if (ak_handle) {
        rc = Esys_TR_FromTPMPublic (self->esys, ak_handle, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                    &self->ak_persistent);
        if (rc != TSS2_RC_SUCCESS) {
            s_fail (self, "AK handle", rc);
            goto out_fail;
        }
    }
    return self;
out_fail:
    if (why && why_len)
        snprintf (why, why_len, "%s", self->why);
    attest_tpm_destroy (&self);
    return NULL;
}

void
attest_tpm_destroy (attest_tpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        attest_tpm_t *self = *self_p;
        if (self->esys) {
            if (self->ak_persistent != ESYS_TR_NONE)
                (void)Esys_TR_Close (self->esys, &self->ak_persistent);
            Esys_Finalize (&self->esys);
        }
        if (self->tcti)
            Tss2_TctiLdr_Finalize (&self->tcti);
        free (self);
        *self_p = NULL;
    }
}

const char *
attest_tpm_why (const attest_tpm_t *self)
{
    assert (self);
    return self->why;
}

/* Makes a primary key of the endorsement hierarchy from tmpl. *pub (may be
   NULL) gets its public area (caller Esys_Free's it). */
static int
s_primary (attest_tpm_t *self, const char *what, const TPM2B_PUBLIC *tmpl, ESYS_TR *handle,
           TPM2B_PUBLIC **pub)
{
    TPM2B_SENSITIVE_CREATE sensitive = { 0 };
    TPM2B_DATA outside = { 0 };
    TPML_PCR_SELECTION creation_pcr = { 0 };
    TSS2_RC rc = Esys_CreatePrimary (self->esys, ESYS_TR_RH_ENDORSEMENT, ESYS_TR_PASSWORD,
                                     ESYS_TR_NONE, ESYS_TR_NONE, &sensitive, tmpl, &outside,
                                     &creation_pcr, handle, pub, NULL, NULL, NULL);
    return rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, what, rc);
}

/* The AK's handle: the persistent one, or a fresh primary the caller
   flushes (*flush set to it). */
static int
s_ak (attest_tpm_t *self, ESYS_TR *ak, ESYS_TR *flush)
{
    *flush = ESYS_TR_NONE;
    if (self->ak_persistent != ESYS_TR_NONE) {
        *ak = self->ak_persistent;
        return WD_OK;
    }
    TPM2B_PUBLIC tmpl;
    s_ak_template (&tmpl);
    int err = s_primary (self, "AK CreatePrimary", &tmpl, ak, NULL);
    if (err == WD_OK)
        *flush = *ak;
    return err;
}

static int
s_marshal_public (attest_tpm_t *self, const TPMT_PUBLIC *pub, uint8_t *out, size_t cap, size_t *len)
{
    size_t off = 0;
    TSS2_RC rc = Tss2_MU_TPMT_PUBLIC_Marshal (pub, out, cap, &off);
    *len = rc == TSS2_RC_SUCCESS ? off : 0;
    return rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "marshal TPMT_PUBLIC", rc);
}

int
attest_tpm_ek_public (attest_tpm_t *self, uint8_t *out, size_t cap, size_t *len)
{
    assert (self && out && len);
    *len = 0;
    TPM2B_PUBLIC tmpl, *pub = NULL;
    ESYS_TR ek = ESYS_TR_NONE;
    s_ek_template (&tmpl);
    int err = s_primary (self, "EK CreatePrimary", &tmpl, &ek, &pub);
    if (err == WD_OK)
        err = s_marshal_public (self, &pub->publicArea, out, cap, len);
    Esys_Free (pub);
    s_flush (self, &ek);
    return err;
}

int
attest_tpm_ak_public (attest_tpm_t *self, uint8_t *out, size_t cap, size_t *len,
                      uint8_t name[ATTEST_QUOTE_NAME_LEN])
{
    assert (self && out && len);
    *len = 0;
    ESYS_TR ak, flush;
    TPM2B_PUBLIC *pub = NULL;
    int err = s_ak (self, &ak, &flush);
    if (err == WD_OK) {
        TSS2_RC rc = Esys_ReadPublic (self->esys, ak, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                                      &pub, NULL, NULL);
        err = rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "AK ReadPublic", rc);
    }
    if (err == WD_OK)
        err = s_marshal_public (self, &pub->publicArea, out, cap, len);
    if (err == WD_OK && name)
        attest_quote_name (out, *len, name);
    Esys_Free (pub);
    s_flush (self, &flush);
    return err;
}

int
attest_tpm_activate (attest_tpm_t *self, const uint8_t *blob, size_t blob_len,
                     const uint8_t *secret, size_t secret_len, uint8_t *cred, size_t *cred_len)
{
    assert (self && blob && secret && cred && cred_len);
    *cred_len = 0;
    TPM2B_ID_OBJECT id = { 0 };
    TPM2B_ENCRYPTED_SECRET enc = { 0 };
    if (blob_len > sizeof id.credential || secret_len > sizeof enc.secret) {
        s_why (self, "credential blob or secret too long");
        return WD_ERR_BAD_LENGTH;
    }
    id.size = (UINT16)blob_len;
    memcpy (id.credential, blob, blob_len);
    enc.size = (UINT16)secret_len;
    memcpy (enc.secret, secret, secret_len);

    ESYS_TR ek = ESYS_TR_NONE, ak = ESYS_TR_NONE, ak_flush = ESYS_TR_NONE;
    ESYS_TR session = ESYS_TR_NONE;
    TPM2B_DIGEST *out = NULL;
    TPM2B_PUBLIC tmpl;
    TSS2_RC rc;
    s_ek_template (&tmpl);
    int err = s_primary (self, "EK CreatePrimary", &tmpl, &ek, NULL);
    if (err == WD_OK)
        err = s_ak (self, &ak, &ak_flush);
    if (err != WD_OK)
        goto out;
    /* The EK's policy: PolicySecret(TPM_RH_ENDORSEMENT) in a policy
       session. */
    TPMT_SYM_DEF sym = { .algorithm = TPM2_ALG_NULL };
    rc =
        Esys_StartAuthSession (self->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE,
                               ESYS_TR_NONE, NULL, TPM2_SE_POLICY, &sym, TPM2_ALG_SHA256, &session);
    if (rc != TSS2_RC_SUCCESS) {
        err = s_fail (self, "StartAuthSession", rc);
        goto out;
    }
    rc = Esys_PolicySecret (self->esys, ESYS_TR_RH_ENDORSEMENT, session, ESYS_TR_PASSWORD,
                            ESYS_TR_NONE, ESYS_TR_NONE, NULL, NULL, NULL, 0, NULL, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        err = s_fail (self, "PolicySecret", rc);
        goto out;
    }
    rc = Esys_ActivateCredential (self->esys, ak, ek, ESYS_TR_PASSWORD, session, ESYS_TR_NONE, &id,
                                  &enc, &out);
    if (rc != TSS2_RC_SUCCESS) {
        err = s_fail (self, "ActivateCredential", rc);
        goto out;
    }
    if (out->size > ATTEST_QUOTE_CRED_MAX) {
        s_why (self, "credential longer than %d bytes", ATTEST_QUOTE_CRED_MAX);
        err = WD_ERR_BAD_LENGTH;
        goto out;
    }
    memcpy (cred, out->buffer, out->size);
    *cred_len = out->size;
out:
    if (out)
        sodium_memzero (out, sizeof *out);
    Esys_Free (out);
    s_flush (self, &session);
    s_flush (self, &ak_flush);
    s_flush (self, &ek);
    return err;
}

static void
s_selection (TPML_PCR_SELECTION *sel, uint32_t select)
{
    memset (sel, 0, sizeof *sel);
    sel->count = 1;
    sel->pcrSelections[0].hash = TPM2_ALG_SHA256;
    sel->pcrSelections[0].sizeofSelect = 3;
    sel->pcrSelections[0].pcrSelect[0] = (uint8_t)select;
    sel->pcrSelections[0].pcrSelect[1] = (uint8_t)(select >> 8);
    sel->pcrSelections[0].pcrSelect[2] = (uint8_t)(select >> 16);
}

int
attest_tpm_pcr_read (attest_tpm_t *self, uint32_t pcr, uint8_t value[32])
{
    assert (self && value && pcr < ATTEST_QUOTE_PCR_COUNT);
    TPML_PCR_SELECTION sel, *sel_out = NULL;
    TPML_DIGEST *values = NULL;
    s_selection (&sel, 1u << pcr);
    TSS2_RC rc = Esys_PCR_Read (self->esys, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &sel, NULL,
                                &sel_out, &values);
    int err = rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "PCR_Read", rc);
    if (err == WD_OK && (values->count != 1 || values->digests[0].size != 32)) {
        s_why (self, "PCR_Read: the TPM has no SHA-256 value for PCR %u", (unsigned)pcr);
        err = ATTEST_ERR_TPM_COMMAND;
    }
    if (err == WD_OK)
        memcpy (value, values->digests[0].buffer, 32);
    Esys_Free (sel_out);
    Esys_Free (values);
    return err;
}

int
attest_tpm_pcr_extend (attest_tpm_t *self, uint32_t pcr, const uint8_t sha1[20],
                       const uint8_t sha256[32])
{
    assert (self && sha256 && pcr < ATTEST_QUOTE_PCR_COUNT);
    TPML_DIGEST_VALUES d = { 0 };
    d.digests[d.count].hashAlg = TPM2_ALG_SHA256;
    memcpy (d.digests[d.count].digest.sha256, sha256, 32);
    d.count++;
    if (sha1) {
        d.digests[d.count].hashAlg = TPM2_ALG_SHA1;
        memcpy (d.digests[d.count].digest.sha1, sha1, 20);
        d.count++;
    }
    TSS2_RC rc = Esys_PCR_Extend (self->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                  ESYS_TR_NONE, &d);
    return rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "PCR_Extend", rc);
}

/* Copies a TPM2B ECDSA coordinate into 32 bytes, left-padded. */
static bool
s_coord (const TPM2B_ECC_PARAMETER *p, uint8_t out[32])
{
    if (p->size > 32)
        return false;
    memset (out, 0, 32);
    memcpy (out + 32 - p->size, p->buffer, p->size);
    return true;
}

/* One quote attempt: reads the PCRs, quotes, and reports in *moved whether
   the quoted digest differs from the values read (a PCR was extended in
   between). */
static int
s_quote_once (attest_tpm_t *self, ESYS_TR ak, const uint8_t nonce[32], attest_quote_t *out,
              bool *moved)
{
    *moved = false;
    size_t k = 0;
    for (uint32_t pcr = 0; pcr < ATTEST_QUOTE_PCR_COUNT; pcr++) {
        if (!(out->select & (1u << pcr)))
            continue;
        int err = attest_tpm_pcr_read (self, pcr, out->pcrs[k++]);
        if (err != WD_OK)
            return err;
    }
    TPM2B_DATA qualifying = { .size = 32 };
    memcpy (qualifying.buffer, nonce, 32);
    TPMT_SIG_SCHEME scheme = { .scheme = TPM2_ALG_NULL }; /* the AK's own: ECDSA-SHA256 */
    TPML_PCR_SELECTION sel;
    s_selection (&sel, out->select);
    TPM2B_ATTEST *quoted = NULL;
    TPMT_SIGNATURE *sig = NULL;
    TSS2_RC rc = Esys_Quote (self->esys, ak, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE,
                             &qualifying, &scheme, &sel, &quoted, &sig);
    int err = rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "Quote", rc);
    if (err == WD_OK && (quoted->size > sizeof out->attest || sig->sigAlg != TPM2_ALG_ECDSA ||
                         !s_coord (&sig->signature.ecdsa.signatureR, out->sig) ||
                         !s_coord (&sig->signature.ecdsa.signatureS, out->sig + 32))) {
        s_why (self, "Quote: unexpected attestation size or signature algorithm");
        err = ATTEST_ERR_TPM_COMMAND;
    }
    if (err == WD_OK) {
        memcpy (out->attest, quoted->attestationData, quoted->size);
        out->attest_len = quoted->size;
        attest_quote_attest_t a;
        uint8_t digest[32];
        attest_quote_pcr_digest (out, digest);
        if (attest_quote_parse_attest (out->attest, out->attest_len, &a) != WD_OK) {
            s_why (self, "Quote: the TPM's TPMS_ATTEST does not parse");
            err = ATTEST_ERR_TPM_COMMAND;
        } else
            *moved = a.digest_len != 32 || memcmp (a.digest, digest, 32) != 0;
    }
    Esys_Free (quoted);
    Esys_Free (sig);
    return err;
}

int
attest_tpm_quote (attest_tpm_t *self, const uint8_t nonce[32], uint32_t select, attest_quote_t *out)
{
    assert (self && nonce && out);
    assert (select != 0 && select < (1u << ATTEST_QUOTE_PCR_COUNT));
    memset (out, 0, sizeof *out);
    out->select = select;
    ESYS_TR ak, flush;
    int err = attest_tpm_ak_public (self, out->ak, sizeof out->ak, &out->ak_len, NULL);
    if (err == WD_OK)
        err = s_ak (self, &ak, &flush);
    if (err != WD_OK)
        return err;
    bool moved = true;
    for (int attempt = 0; err == WD_OK && moved && attempt < 3; attempt++)
        err = s_quote_once (self, ak, nonce, out, &moved);
    if (err == WD_OK && moved) {
        s_why (self, "Quote: the PCRs kept changing while being quoted");
        err = ATTEST_ERR_TPM_COMMAND;
    }
    s_flush (self, &flush);
    if (err != WD_OK) {
        memset (out, 0, sizeof *out);
        out->select = select;
    }
    return err;
}

int
attest_tpm_pcr_reset (attest_tpm_t *self, uint32_t pcr)
{
    assert (self && pcr < ATTEST_QUOTE_PCR_COUNT);
    TSS2_RC rc = Esys_PCR_Reset (self->esys, ESYS_TR_PCR0 + pcr, ESYS_TR_PASSWORD, ESYS_TR_NONE,
                                 ESYS_TR_NONE);
    return rc == TSS2_RC_SUCCESS ? WD_OK : s_fail (self, "PCR_Reset", rc);
}

#define S_EK_CERT_NV 0x01c00002u /* TCG: RSA-2048 EK certificate */
#define S_NV_CHUNK   512u        /* below every TPM's NV buffer limit */

int
attest_tpm_ek_cert (attest_tpm_t *self, uint8_t *cert, size_t cap, size_t *len)
{
    assert (self && cert && len);
    *len = 0;
    ESYS_TR nv = ESYS_TR_NONE;
    TPM2B_NV_PUBLIC *pub = NULL;
    int err = WD_OK;
    TSS2_RC rc = Esys_TR_FromTPMPublic (self->esys, S_EK_CERT_NV, ESYS_TR_NONE, ESYS_TR_NONE,
                                        ESYS_TR_NONE, &nv);
    if (rc != TSS2_RC_SUCCESS) {
        s_why (self, "no EK certificate in NV index 0x%x", S_EK_CERT_NV);
        return WD_ERR_NOT_FOUND;
    }
    rc = Esys_NV_ReadPublic (self->esys, nv, ESYS_TR_NONE, ESYS_TR_NONE, ESYS_TR_NONE, &pub, NULL);
    if (rc != TSS2_RC_SUCCESS) {
        err = s_fail (self, "NV_ReadPublic (EK certificate)", rc);
        goto out;
    }
    size_t size = pub->nvPublic.dataSize, off = 0;
    uint8_t *buf = calloc (1, size ? size : 1);
    if (!buf) {
        err = WD_ERR_NOMEM;
        goto out;
    }
    while (err == WD_OK && off < size) {
        UINT16 n = (UINT16)(size - off < S_NV_CHUNK ? size - off : S_NV_CHUNK);
        TPM2B_MAX_NV_BUFFER *data = NULL;
        rc = Esys_NV_Read (self->esys, nv, nv, ESYS_TR_PASSWORD, ESYS_TR_NONE, ESYS_TR_NONE, n,
                           (UINT16)off, &data);
        if (rc != TSS2_RC_SUCCESS || data->size != n)
            err = s_fail (self, "NV_Read (EK certificate)", rc);
        else
            memcpy (buf + off, data->buffer, n);
        Esys_Free (data);
        off += n;
    }
    /* A vendor may pad the index: keep the DER SEQUENCE (long form, 2
       length bytes, as every EK certificate is between 256 and 64 KiB). */
    if (err == WD_OK) {
        size_t der =
            size >= 4 && buf[0] == 0x30 && buf[1] == 0x82 ? 4 + ((size_t)buf[2] << 8 | buf[3]) : 0;
        if (der == 0 || der > size || der > cap) {
            s_why (self, "EK certificate in NV is not one DER SEQUENCE of at most %zu bytes", cap);
            err = WD_ERR_BAD_LENGTH;
        } else {
            memcpy (cert, buf, der);
            *len = der;
        }
    }
    free (buf);
out:
    Esys_Free (pub);
    (void)Esys_TR_Close (self->esys, &nv);
    return err;
}

int
attest_tpm_bind (attest_tpm_t *self, const uint8_t node[32], const uint8_t *ek_cert,
                 size_t ek_cert_len, attest_quote_binding_t *out)
{
    assert (self && node && out && (ek_cert || ek_cert_len == 0));
    memset (out, 0, sizeof *out);
    if (ek_cert_len > sizeof out->ek_cert) {
        s_why (self, "EK certificate longer than %zu bytes", sizeof out->ek_cert);
        return WD_ERR_BAD_LENGTH;
    }
    memcpy (out->node, node, sizeof out->node);
    if (ek_cert_len)
        memcpy (out->ek_cert, ek_cert, ek_cert_len);
    out->ek_cert_len = ek_cert_len;
    int err = attest_tpm_ek_public (self, out->ek, sizeof out->ek, &out->ek_len);
    if (err == WD_OK)
        err = attest_tpm_ak_public (self, out->ak, sizeof out->ak, &out->ak_len, NULL);
    if (err != WD_OK)
        return err;
    randombytes_buf (out->seed, sizeof out->seed);
    err = attest_quote_binding_make (out);
    if (err != WD_OK) {
        s_why (self, "MakeCredential for the TPM's own EK and AK: %s", attest_strerror (err));
        return err;
    }
    uint8_t cred[ATTEST_QUOTE_CRED_MAX], want[32], ek_name[ATTEST_QUOTE_NAME_LEN],
        ak_name[ATTEST_QUOTE_NAME_LEN];
    size_t cred_len = 0;
    err = attest_tpm_activate (self, out->blob, out->blob_len, out->secret, out->secret_len, cred,
                               &cred_len);
    if (err != WD_OK)
        return err;
    attest_quote_name (out->ek, out->ek_len, ek_name);
    attest_quote_name (out->ak, out->ak_len, ak_name);
    attest_quote_binding_credential (node, ek_name, ak_name, want);
    if (cred_len != sizeof want || sodium_memcmp (cred, want, sizeof want) != 0) {
        s_why (self, "ActivateCredential released another credential than the one made");
        err = ATTEST_ERR_QUOTE_BINDING;
    }
    sodium_memzero (cred, sizeof cred);
    return err;
}
