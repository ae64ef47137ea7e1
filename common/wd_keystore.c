/*
 * wd_keystore: dispatch to the configured backend, plus what every backend
 * shares: the public key, health and counters, and a verify-after-sign
 * check (cheap next to the cost of a bad signature leaving the node).
 */
#include "wd_keystore.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct wd_keystore {
    const wd_keystore_backend_t *backend;
    void *state;
    uint8_t public_key[WD_PUBKEY_LEN];
    bool healthy;
    uint64_t signatures;
};

static const wd_keystore_backend_t *const s_backends[] = {
    &wd_keystore_file_backend,
    &wd_keystore_pkcs11_backend,
#ifdef WARDEN_ZYMBIT
    &wd_keystore_zymbit_backend,
#endif
};

const char *
wd_keystore_backend_names (void)
{
#ifdef WARDEN_ZYMBIT
    return "file, pkcs11, zymbit";
#else
    return "file, pkcs11";
#endif
}

void
wd_keystore_describe (const char *backend, const wd_keystore_params_t *params, char *out,
                      size_t size)
{
    if (strcmp (backend, "pkcs11") == 0)
        snprintf (out, size, "module %s, token '%s', key '%s', PIN %s %s",
                  params->module ? params->module : "(unset)",
                  params->token ? params->token : "(unset)",
                  params->key_label ? params->key_label : "(unset)",
                  params->pin_file ? "file" : "credential",
                  params->pin_file         ? params->pin_file
                  : params->pin_credential ? params->pin_credential
                                           : "(unset)");
    else if (strcmp (backend, "zymbit") == 0)
        snprintf (out, size, "slot %d", params->slot);
    else
        snprintf (out, size, "%s", params->path ? params->path : "(unset)");
}

const wd_keystore_backend_t *
wd_keystore_backend (const char *name)
{
    for (size_t i = 0; i < sizeof s_backends / sizeof s_backends[0]; i++)
        if (strcmp (s_backends[i]->name, name) == 0)
            return s_backends[i];
    return NULL;
}

wd_err_t
wd_keystore_generate (const char *backend, const wd_keystore_params_t *params)
{
    const wd_keystore_backend_t *b = wd_keystore_backend (backend);
    if (!b)
        return WD_ERR_NO_BACKEND;
    if (sodium_init () < 0)
        return WD_ERR_NOMEM;
    return b->generate (params);
}

wd_err_t
wd_keystore_open (const char *backend, const wd_keystore_params_t *params, wd_keystore_t **self_p)
{
    *self_p = NULL;
    const wd_keystore_backend_t *b = wd_keystore_backend (backend);
    if (!b)
        return WD_ERR_NO_BACKEND;
    if (sodium_init () < 0)
        return WD_ERR_NOMEM;
    wd_keystore_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->backend = b;
    wd_err_t err = b->open (params, &self->state, self->public_key);
    if (err != WD_OK) {
        free (self);
        return err;
    }
    if (params->expected_public_key &&
        sodium_memcmp (params->expected_public_key, self->public_key, WD_PUBKEY_LEN) != 0) {
        b->close (&self->state);
        free (self);
        return WD_ERR_KEY_MISMATCH;
    }
    self->healthy = true;
    *self_p = self;
    return WD_OK;
}

void
wd_keystore_destroy (wd_keystore_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wd_keystore_t *self = *self_p;
        self->backend->close (&self->state);
        free (self);
        *self_p = NULL;
    }
}

const uint8_t *
wd_keystore_public_key (const wd_keystore_t *self)
{
    return self->public_key;
}

int
wd_keystore_sign (wd_keystore_t *self, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    wd_err_t err = self->backend->sign (self->state, digest, sig);
    if (err == WD_OK &&
        crypto_sign_verify_detached (sig, digest, WD_DIGEST_LEN, self->public_key) != 0)
        err = WD_ERR_BAD_SIGNATURE;
    if (err != WD_OK)
        memset (sig, 0, WD_SIG_LEN);
    else
        self->signatures++;
    self->healthy = err == WD_OK;
    return err;
}

int
wd_keystore_sign_fn (void *keystore, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    return wd_keystore_sign (keystore, digest, sig);
}

void
wd_keystore_status (const wd_keystore_t *self, wd_keystore_status_t *status)
{
    status->backend = self->backend->name;
    status->key_protection = self->backend->key_protection (self->state);
    status->tamper = self->backend->tamper (self->state);
    status->healthy = self->healthy;
    status->signatures = self->signatures;
}
