/*
 * wd_cert: encodes the certificate body (a canonical msgpack map, keys in
 * byte order), seals it in a "node-cert" envelope and checks all of it on
 * the way back in.
 */
#include "wd_cert.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"

const uint8_t wd_cert_no_chain[WD_CHAIN_ID_LEN] = { 0 };

static bool
s_charset (const char *s, size_t max, const char *extra, bool upper)
{
    size_t len = strlen (s);
    if (len == 0 || len > max)
        return false;
    for (size_t i = 0; i < len; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                  (upper && c >= 'A' && c <= 'Z') || strchr (extra, c);
        if (!ok)
            return false;
    }
    return true;
}

bool
wd_cert_name_valid (const char *name)
{
    return s_charset (name, WD_CERT_NAME_MAX, "._-", true);
}

bool
wd_cert_protection_is_software (const char *key_protection)
{
    static const char suffix[] = "-software";
    size_t len = strlen (key_protection), slen = sizeof suffix - 1;
    return strcmp (key_protection, "software") == 0 ||
           (len > slen && strcmp (key_protection + len - slen, suffix) == 0);
}

static bool
s_protection_valid (const char *protection)
{
    return s_charset (protection, WD_CERT_PROTECTION_MAX, "-", false);
}

wd_err_t
wd_cert_seal (const wd_cert_t *cert, wd_sign_fn sign, void *sign_ctx, uint8_t **out,
              size_t *out_len)
{
    *out = NULL;
    *out_len = 0;
    if (!wd_cert_name_valid (cert->name) || !s_protection_valid (cert->key_protection) ||
        cert->created == 0)
        return WD_ERR_BAD_VALUE;

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 7);
    wd_writer_key (w, "created");
    wd_writer_uint (w, cert->created);
    wd_writer_key (w, "curve_pk");
    wd_writer_bin (w, cert->curve_pk, WD_PUBKEY_LEN);
    wd_writer_key (w, "key_protection");
    wd_writer_cstr (w, cert->key_protection);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, cert->name);
    wd_writer_key (w, "sign_pk");
    wd_writer_bin (w, cert->sign_pk, WD_PUBKEY_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "vrf_pk");
    wd_writer_bin (w, cert->vrf_pk, WD_PUBKEY_LEN);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    wd_err_t err = wd_envelope_seal (WD_CERT_TYPE, wd_cert_no_chain, cert->sign_pk, body, body_len,
                                     sign, sign_ctx, out, out_len);
    wd_writer_destroy (&w);
    return err;
}

wd_err_t
wd_cert_open (const uint8_t *buf, size_t len, wd_cert_t *cert)
{
    memset (cert, 0, sizeof *cert);
    if (len > WD_CERT_MAX_BYTES)
        return WD_ERR_OVERSIZE;
    wd_envelope_t env;
    wd_err_t err = wd_envelope_open (buf, len, wd_cert_no_chain, WD_CERT_TYPE, &env);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count;
    uint64_t version;
    wd_reader_init (&r, env.body, env.body_len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "created");
    wd_read_uint (&r, &cert->created, UINT64_MAX);
    wd_read_key (&r, "curve_pk");
    wd_read_bin_fixed (&r, cert->curve_pk, WD_PUBKEY_LEN);
    wd_read_key (&r, "key_protection");
    wd_read_cstr (&r, cert->key_protection, sizeof cert->key_protection);
    wd_read_key (&r, "name");
    wd_read_cstr (&r, cert->name, sizeof cert->name);
    wd_read_key (&r, "sign_pk");
    wd_read_bin_fixed (&r, cert->sign_pk, WD_PUBKEY_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_key (&r, "vrf_pk");
    wd_read_bin_fixed (&r, cert->vrf_pk, WD_PUBKEY_LEN);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && version != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && (!wd_cert_name_valid (cert->name) ||
                         !s_protection_valid (cert->key_protection) || cert->created == 0))
        err = WD_ERR_BAD_VALUE;
    if (err == WD_OK && sodium_memcmp (env.from, cert->sign_pk, WD_PUBKEY_LEN) != 0)
        err = WD_ERR_NOT_SELF_SIGNED;
    if (err != WD_OK)
        memset (cert, 0, sizeof *cert);
    return err;
}
