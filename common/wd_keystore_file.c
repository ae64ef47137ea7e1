/*
 * wd_keystore_file: the `file` keystore backend. The Ed25519 secret key is
 * derived from the key file's seed into sodium_malloc memory that is
 * read-only after setup (guard pages, mlock, wiped on free). Key protection
 * is "software": nothing stops a root user from reading the file, which is
 * what the node certificate and evidence say.
 */
#include <sodium.h>

#include "wd_keyfile.h"
#include "wd_keystore.h"

typedef struct {
    uint8_t secret[crypto_sign_SECRETKEYBYTES];
} s_file_key_t;

static wd_err_t
s_generate (const wd_keystore_params_t *params)
{
    uint8_t seed[WD_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    wd_err_t err = wd_keyfile_write (params->path, WD_KEYFILE_ED25519, seed);
    sodium_memzero (seed, sizeof seed);
    return err;
}

static wd_err_t
s_open (const wd_keystore_params_t *params, void **state, uint8_t public_key[WD_PUBKEY_LEN])
{
    *state = NULL;
    if (!params->path)
        return WD_ERR_NOT_FOUND;
    s_file_key_t *key = sodium_malloc (sizeof *key);
    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    wd_err_t err = WD_ERR_NOMEM;
    if (!key || !seed)
        goto out_free;
    err = wd_keyfile_read (params->path, WD_KEYFILE_ED25519, seed);
    if (err != WD_OK)
        goto out_free;
    crypto_sign_seed_keypair (public_key, key->secret, seed);
    sodium_mprotect_readonly (key);
    *state = key;
    key = NULL;
out_free:
    sodium_free (seed);
    sodium_free (key);
    return err;
}

static wd_err_t
s_sign (void *state, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    s_file_key_t *key = state;
    crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, key->secret);
    return WD_OK;
}

static const char *
s_tamper (void *state)
{
    (void)state;
    return "not-supported";
}

static const char *
s_key_protection (void *state)
{
    (void)state;
    return "software";
}

static void
s_close (void **state)
{
    sodium_free (*state); /* wipes before unmapping */
    *state = NULL;
}

const wd_keystore_backend_t wd_keystore_file_backend = {
    .name = "file",
    .key_protection = s_key_protection,
    .generate = s_generate,
    .open = s_open,
    .sign = s_sign,
    .tamper = s_tamper,
    .close = s_close,
};
