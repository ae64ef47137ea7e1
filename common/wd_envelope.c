/*
 * wd_envelope: sealing, decoding and verifying signed envelopes. Decoding
 * first runs the canonical-form check on the whole envelope and on its body,
 * then reads the fixed schema; verification recomputes the signing-rule
 * digest and checks it with libsodium.
 */
#include "wd_envelope.h"

#include <assert.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"
#include "wd_hash.h"

static const char s_domain[] = "warden/1";

bool
wd_envelope_type_valid (const char *type)
{
    size_t len = strlen (type);
    if (len == 0 || len > WD_ENVELOPE_TYPE_MAX || type[0] < 'a' || type[0] > 'z')
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = type[i];
        if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '.' || c == '-'))
            return false;
    }
    return true;
}

void
wd_envelope_digest (uint8_t digest[WD_DIGEST_LEN], const char *type,
                    const uint8_t chain[WD_CHAIN_ID_LEN], const uint8_t *body, size_t body_len)
{
    assert (wd_envelope_type_valid (type));
    static const uint8_t zero = 0;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, (const uint8_t *)s_domain, sizeof s_domain - 1);
    crypto_hash_sha256_update (&st, &zero, 1);
    crypto_hash_sha256_update (&st, (const uint8_t *)type, strlen (type));
    crypto_hash_sha256_update (&st, &zero, 1);
    crypto_hash_sha256_update (&st, chain, WD_CHAIN_ID_LEN);
    crypto_hash_sha256_update (&st, body, body_len);
    crypto_hash_sha256_final (&st, digest);
}

wd_err_t
wd_envelope_seal (const char *type, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const uint8_t from[WD_PUBKEY_LEN], const uint8_t *body, size_t body_len,
                  wd_sign_fn sign, void *sign_ctx, uint8_t **out, size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    assert (wd_envelope_type_valid (type));
    wd_err_t err = wd_codec_check (body, body_len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        return err;

    wd_envelope_t env = { .body = body, .body_len = body_len };
    snprintf (env.type, sizeof env.type, "%s", type);
    memcpy (env.chain, chain, WD_CHAIN_ID_LEN);
    memcpy (env.from, from, WD_PUBKEY_LEN);
    uint8_t digest[WD_DIGEST_LEN];
    wd_envelope_digest (digest, type, chain, body, body_len);
    int rc = sign (sign_ctx, digest, env.sig);
    if (rc != 0)
        return (wd_err_t)rc;
    wd_envelope_encode (&env, out, out_len);
    return WD_OK;
}

void
wd_envelope_encode (const wd_envelope_t *env, uint8_t **out, size_t *out_len)
{
    assert (wd_envelope_type_valid (env->type));
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 6);
    wd_writer_key (w, "body");
    wd_writer_bin (w, env->body, env->body_len);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, env->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "from");
    wd_writer_bin (w, env->from, WD_PUBKEY_LEN);
    wd_writer_key (w, "sig");
    wd_writer_bin (w, env->sig, WD_SIG_LEN);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, env->type);
    wd_writer_key (w, "v");
    wd_writer_uint (w, WD_ENVELOPE_VERSION);
    *out = wd_writer_take (w, out_len);
    wd_writer_destroy (&w);
}

wd_err_t
wd_envelope_decode (const uint8_t *buf, size_t len, wd_envelope_t *env)
{
    memset (env, 0, sizeof *env);
    /* The body is the only large field; everything else is bounded below. */
    wd_err_t err = wd_codec_check (buf, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count;
    uint64_t version;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "body");
    wd_read_bin (&r, &env->body, &env->body_len, WD_ENVELOPE_BODY_MAX);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, env->chain, WD_CHAIN_ID_LEN);
    wd_read_key (&r, "from");
    wd_read_bin_fixed (&r, env->from, WD_PUBKEY_LEN);
    wd_read_key (&r, "sig");
    wd_read_bin_fixed (&r, env->sig, WD_SIG_LEN);
    wd_read_key (&r, "type");
    wd_read_cstr (&r, env->type, sizeof env->type);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && version != WD_ENVELOPE_VERSION)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && !wd_envelope_type_valid (env->type))
        err = WD_ERR_BAD_VALUE;
    if (err == WD_OK)
        err = wd_codec_check (env->body, env->body_len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        memset (env, 0, sizeof *env);
    return err;
}

wd_err_t
wd_envelope_verify (const wd_envelope_t *env, const uint8_t chain[WD_CHAIN_ID_LEN],
                    const char *expected_type)
{
    if (sodium_memcmp (env->chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (expected_type && strcmp (env->type, expected_type) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    uint8_t digest[WD_DIGEST_LEN];
    wd_envelope_digest (digest, env->type, env->chain, env->body, env->body_len);
    if (crypto_sign_verify_detached (env->sig, digest, sizeof digest, env->from) != 0)
        return WD_ERR_BAD_SIGNATURE;
    return WD_OK;
}

wd_err_t
wd_envelope_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const char *expected_type, wd_envelope_t *env)
{
    wd_err_t err = wd_envelope_decode (buf, len, env);
    if (err == WD_OK)
        err = wd_envelope_verify (env, chain, expected_type);
    return err;
}

void
wd_envelope_id (uint8_t id[32], const uint8_t *buf, size_t len)
{
    wd_hash_sha256 (id, buf, len);
}
