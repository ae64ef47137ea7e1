/*
 * wd_keystore_zymbit: the `zymbit` keystore backend — UNTESTED.
 *
 * Built only with -DWARDEN_ZYMBIT=ON; Zymbit's headers and library cannot be
 * installed on the machine this was written on, so this file has never been
 * built against them or run: it was only syntax-checked against a stand-in
 * header holding Zymbit's published prototypes. Keep it small;
 * docs/OPERATIONS.md (the zymbit backend) lists what must be checked on real
 * hardware before it is trusted.
 *
 * Only HSM6 / Secure Compute Module class devices hold Ed25519 keys (Zymkey
 * 4i and HSM4 have NIST P-256 only): the key is made with Zymbit's tools
 * (zkGenKeyPair with ZK_ED25519) and its slot named in keystore/zymbit_slot.
 * Signing goes through the native digest API, which is why Warden signs a
 * 32-byte digest; wd_keystore_sign verifies every signature with libsodium,
 * so a module that signed anything else is caught, not trusted.
 *
 * At open the slot's public key is exported and must be a 32-byte Ed25519
 * key; wd_keystore_open then compares it with the node certificate's key
 * (params->expected_public_key) and refuses to run on a mismatch (one SCM
 * firmware lost generated keys across a reboot). The tamper field reports
 * "tampered" when a perimeter channel has recorded a breach or the module is
 * not bound to this host, else "clear"; it is re-read on every status
 * request.
 */
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <zk_app_utils.h>

#include "wd_keystore.h"

typedef struct {
    zkCTX ctx;
    int slot;
} s_zk_t;

static wd_err_t
s_generate (const wd_keystore_params_t *params)
{
    /* The slot number is chosen by the module, so the key is made with
       Zymbit's tools and named in the configuration; init only checks it
       (open). */
    (void)params;
    return WD_OK;
}

static wd_err_t
s_open (const wd_keystore_params_t *params, void **state, uint8_t public_key[WD_PUBKEY_LEN])
{
    *state = NULL;
    if (params->slot < 0)
        return WD_ERR_CONFIG_VALUE;
    s_zk_t *self = calloc (1, sizeof *self);
    if (!self)
        return WD_ERR_NOMEM;
    self->slot = params->slot;
    if (zkOpen (&self->ctx) < 0) {
        free (self);
        return WD_ERR_ZYMBIT;
    }
    uint8_t *pk = NULL;
    int pk_len = 0;
    wd_err_t err = WD_OK;
    if (zkExportPubKey (self->ctx, &pk, &pk_len, self->slot, false) < 0 || !pk)
        err = WD_ERR_ZYMBIT;
    else if (pk_len != WD_PUBKEY_LEN)
        err = WD_ERR_KEY_MISMATCH; /* not an Ed25519 slot */
    else
        memcpy (public_key, pk, WD_PUBKEY_LEN);
    free (pk);
    if (err != WD_OK) {
        zkClose (self->ctx);
        free (self);
        return err;
    }
    *state = self;
    return WD_OK;
}

static wd_err_t
s_sign (void *state, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    s_zk_t *self = state;
    uint8_t *out = NULL;
    int out_len = 0;
    wd_err_t err = WD_OK;
    if (zkGenECDSASigFromDigest (self->ctx, digest, self->slot, &out, &out_len) < 0 || !out)
        err = WD_ERR_ZYMBIT;
    else if (out_len != WD_SIG_LEN)
        err = WD_ERR_ZYMBIT;
    else
        memcpy (sig, out, WD_SIG_LEN);
    free (out);
    return err;
}

/* "tampered" on a recorded perimeter breach or a module that is not bound;
   "clear" otherwise. A failing query is reported as tampered: the state
   cannot be vouched for. */
static const char *
s_tamper (void *state)
{
    s_zk_t *self = state;
    uint32_t *stamps = NULL;
    int count = 0;
    bool breached = false;
    if (zkGetPerimeterDetectInfo (self->ctx, &stamps, &count) < 0)
        return "tampered";
    for (int i = 0; i < count; i++)
        breached = breached || stamps[i] != 0;
    free (stamps);
    bool locked = false, bound = false;
    if (zkGetCurrentBindingInfo (self->ctx, &locked, &bound) < 0)
        return "tampered";
    return breached || !bound ? "tampered" : "clear";
}

static const char *
s_key_protection (void *state)
{
    (void)state;
    return "zymbit";
}

static void
s_close (void **state)
{
    s_zk_t *self = *state;
    if (self) {
        zkClose (self->ctx);
        free (self);
    }
    *state = NULL;
}

const wd_keystore_backend_t wd_keystore_zymbit_backend = {
    .name = "zymbit",
    .key_protection = s_key_protection,
    .generate = s_generate,
    .open = s_open,
    .sign = s_sign,
    .tamper = s_tamper,
    .close = s_close,
};
