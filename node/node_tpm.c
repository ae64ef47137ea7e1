/*
 * node_tpm: the engine's TPM (see node_tpm.h). Everything is synchronous:
 * a quote costs tens of milliseconds on the engine's loop, once per epoch.
 */
#include "node_tpm.h"

#include <assert.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "attest_ima.h"
#include "attest_tpm.h"
#include "wd_hash.h"
#include "wd_log.h"

struct node_tpm {
    attest_tpm_t *tpm;
    const attest_log_t *log;
    uint32_t pcr;      /* the log's PCR */
    uint32_t select;   /* PCRs quoted: tpm/pcrs and pcr */
    uint64_t extended; /* log entries extended into pcr */
    uint8_t *body;     /* the AK-binding body */
    size_t body_len;
    uint8_t binding[ATTEST_QUOTE_BINDING_MAX]; /* the sealed envelope */
    size_t binding_len;
};

uint32_t
node_tpm_log_pcr (const wd_config_t *cfg)
{
    if (!wd_config_str (cfg, "tpm/tcti"))
        return ATTEST_IMA_PCR_DEFAULT;
    return (uint32_t)wd_config_uint (cfg, "tpm/pcr");
}

/* "0,1,7" -> bits; false on anything else than indices 0..23. */
static bool
s_parse_pcrs (const char *list, uint32_t *select)
{
    *select = 0;
    const char *p = list;
    while (*p) {
        while (*p == ' ' || *p == ',')
            p++;
        if (!*p)
            break;
        unsigned v = 0;
        size_t digits = 0;
        while (*p >= '0' && *p <= '9' && digits < 3) {
            v = v * 10 + (unsigned)(*p++ - '0');
            digits++;
        }
        if (digits == 0 || v >= ATTEST_QUOTE_PCR_COUNT || (*p && *p != ',' && *p != ' '))
            return false;
        *select |= 1u << v;
    }
    return true;
}

/* Extends the log entries [extended, count) into the PCR. */
static int
s_sync (node_tpm_t *self, char *why, size_t why_len)
{
    uint64_t count = attest_log_count (self->log);
    for (; self->extended < count; self->extended++) {
        attest_log_entry_t e;
        if (!attest_log_entry (self->log, self->extended, &e))
            break;
        int rc = attest_tpm_pcr_extend (self->tpm, self->pcr, NULL, e.template_sha256);
        if (rc != WD_OK) {
            wd_err_why (why, why_len, "extending PCR %u: %s", (unsigned)self->pcr,
                        attest_tpm_why (self->tpm));
            return rc;
        }
    }
    return WD_OK;
}

wd_err_t
node_tpm_new (const wd_config_t *cfg, const uint8_t node[32], const attest_log_t *log,
              node_tpm_t **out, char *why, size_t why_len)
{
    assert (cfg && node && log && out);
    *out = NULL;
    const char *tcti = wd_config_str (cfg, "tpm/tcti");
    if (!tcti)
        return WD_OK;
    node_tpm_t *self = calloc (1, sizeof *self);
    attest_quote_binding_t *b = calloc (1, sizeof *b);
    uint8_t *cert = malloc (ATTEST_QUOTE_CERT_MAX);
    attest_quote_ca_t *ca = NULL;
    if (!self || !b || !cert)
        wd_fatalx ("out of memory");
    self->log = log;
    self->pcr = (uint32_t)wd_config_uint (cfg, "tpm/pcr");
    const char *pcrs = wd_config_str (cfg, "tpm/pcrs");
    char sub[ATTEST_TPM_WHY_MAX] = "";
    wd_err_t err = WD_ERR_CONFIG_VALUE;
    if (attest_log_state (log)->pcr != self->pcr) {
        wd_err_why (why, why_len, "tpm: the measurement log is not on tpm/pcr %u",
                    (unsigned)self->pcr);
        goto out;
    }
    if (pcrs && !s_parse_pcrs (pcrs, &self->select)) {
        wd_err_why (why, why_len, "tpm/pcrs \"%s\": not a list of PCR indices 0..23", pcrs);
        goto out;
    }
    self->select |= 1u << self->pcr;
    self->tpm = attest_tpm_new (tcti, 0, sub, sizeof sub);
    if (!self->tpm) {
        wd_err_why (why, why_len, "tpm/tcti %s: %s", tcti, sub);
        goto out;
    }
    size_t cert_len = 0;
    int rc = attest_tpm_ek_cert (self->tpm, cert, ATTEST_QUOTE_CERT_MAX, &cert_len);
    if (rc != WD_OK && rc != WD_ERR_NOT_FOUND) {
        wd_err_why (why, why_len, "tpm: reading the EK certificate: %s",
                    attest_tpm_why (self->tpm));
        goto out;
    }
    rc = attest_tpm_bind (self->tpm, node, cert, cert_len, b);
    if (rc != WD_OK) {
        wd_err_why (why, why_len, "tpm: binding the AK to the EK: %s (%s)",
                    attest_tpm_why (self->tpm), attest_err_name (rc));
        goto out;
    }
    const char *ca_path = wd_config_str (cfg, "tpm/ek_ca");
    if (ca_path) {
        ca = attest_quote_ca_new (ca_path, sub, sizeof sub);
        if (!ca) {
            wd_err_why (why, why_len, "tpm/ek_ca %s", sub);
            goto out;
        }
        if (attest_quote_check_ek_cert (ca, b->ek_cert, b->ek_cert_len, b->ek, b->ek_len) !=
            WD_OK) {
            wd_err_why (why, why_len, "tpm: %s in %s",
                        cert_len ? "the EK certificate does not chain to the issuers"
                                 : "the TPM has no EK certificate, required by tpm/ek_ca",
                        ca_path);
            goto out;
        }
    }
    if (attest_quote_binding_encode (b, &self->body, &self->body_len) != WD_OK) {
        wd_err_why (why, why_len, "tpm: the AK-binding record does not encode");
        goto out;
    }
    /* Anchor the log: the PCR starts from zero and takes every entry. */
    if (attest_tpm_pcr_reset (self->tpm, self->pcr) != WD_OK) {
        wd_err_why (why, why_len, "tpm: resetting PCR %u (tpm/pcr must be resettable): %s",
                    (unsigned)self->pcr, attest_tpm_why (self->tpm));
        goto out;
    }
    if (s_sync (self, why, why_len) != WD_OK)
        goto out;
    uint8_t ek_name[ATTEST_QUOTE_NAME_LEN], ak_name[ATTEST_QUOTE_NAME_LEN];
    attest_quote_name (b->ek, b->ek_len, ek_name);
    attest_quote_name (b->ak, b->ak_len, ak_name);
    wd_log_info ("tpm: %s: EK %s (%s), AK %s bound; log anchored in PCR %u (%llu entries)", tcti,
                 wd_short_id (ek_name + 2).s,
                 cert_len ? (ca ? "certificate checked" : "certificate not checked")
                          : "no certificate: trusted on first use",
                 wd_short_id (ak_name + 2).s, (unsigned)self->pcr,
                 (unsigned long long)self->extended);
    err = WD_OK;
    *out = self;
out:
    attest_quote_ca_destroy (&ca);
    free (cert);
    free (b);
    if (err != WD_OK)
        node_tpm_destroy (&self);
    return err;
}

void
node_tpm_destroy (node_tpm_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        node_tpm_t *self = *self_p;
        attest_tpm_destroy (&self->tpm);
        free (self->body);
        free (self);
        *self_p = NULL;
    }
}

const uint8_t *
node_tpm_binding_body (const node_tpm_t *self, size_t *len)
{
    assert (self && len);
    *len = self->body_len;
    return self->body;
}

int
node_tpm_set_binding (node_tpm_t *self, const uint8_t *envelope, size_t len)
{
    assert (self && envelope);
    if (len == 0 || len > sizeof self->binding)
        return WD_ERR_BAD_LENGTH;
    memcpy (self->binding, envelope, len);
    self->binding_len = len;
    return WD_OK;
}

bool
node_tpm_has_binding (const node_tpm_t *self)
{
    return self && self->binding_len > 0;
}

int
node_tpm_quote (node_tpm_t *self, const uint8_t nonce[32], attest_quote_t *out, char *why,
                size_t why_len)
{
    assert (self && nonce && out);
    int rc = s_sync (self, why, why_len);
    if (rc != WD_OK)
        return rc;
    rc = attest_tpm_quote (self->tpm, nonce, self->select, out);
    if (rc != WD_OK) {
        wd_err_why (why, why_len, "%s", attest_tpm_why (self->tpm));
        return rc;
    }
    memcpy (out->binding, self->binding, self->binding_len);
    out->binding_len = self->binding_len;
    return WD_OK;
}
