/*
 * Tests for the AK-binding record (attest_quote_binding_*, docs/PROTOCOL.md
 * "AK-binding record"): a record made in software — an RSA-2048 EK public
 * area from an OpenSSL key, an AK public area, a fixed seed — encodes,
 * decodes and gives back the same bytes; every rejection of the decoder
 * and of attest_quote_binding_open has its exact code (codec reasons,
 * version, an empty field, an EK or AK that does not parse, each byte of
 * the exchange that does not recompute, envelope chain, type, signer,
 * signature, a pinned EK, a CA without a certificate). The TPM side
 * (attest_tpm_bind, activation by a real TPM) is in test_attest_tpm.c and
 * the tpm_quote scenario.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <sodium.h>

#include "attest_quote.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_envelope.h"

static attest_quote_binding_t s_b;
static uint8_t s_pk[32], s_sk[64], s_pk_other[32], s_sk_other[64];
static const uint8_t s_chain[32] = { 0xc4 };

static size_t
s_put (uint8_t *out, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[off + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return off + n;
}

/* The TCG default EK's TPMT_PUBLIC around modulus n (256 bytes). */
static size_t
s_ek_public (uint8_t *out, const uint8_t n[256], uint32_t attrs)
{
    static const uint8_t policy[32] = { 0x83, 0x71, 0x97, 0x67, 0x44, 0x84, 0xb3, 0xf8,
                                        0x1a, 0x90, 0xcc, 0x8d, 0x46, 0xa5, 0xd7, 0x24,
                                        0xfd, 0x52, 0xd7, 0x6e, 0x06, 0x52, 0x0b, 0x64,
                                        0xf2, 0xa1, 0xda, 0x1b, 0x33, 0x14, 0x69, 0xaa };
    size_t off = 0;
    off = s_put (out, off, 0x0001, 2); /* RSA */
    off = s_put (out, off, 0x000b, 2); /* SHA-256 */
    off = s_put (out, off, attrs, 4);
    off = s_put (out, off, 32, 2);
    memcpy (out + off, policy, 32);
    off += 32;
    off = s_put (out, off, 0x0006, 2); /* AES */
    off = s_put (out, off, 128, 2);
    off = s_put (out, off, 0x0043, 2); /* CFB */
    off = s_put (out, off, 0x0010, 2); /* scheme NULL */
    off = s_put (out, off, 2048, 2);
    off = s_put (out, off, 0, 4);
    off = s_put (out, off, 256, 2);
    memcpy (out + off, n, 256);
    return off + 256;
}

/* A restricted ECDSA-SHA256 P-256 signing key's TPMT_PUBLIC. */
static size_t
s_ak_public (uint8_t *out, uint32_t attrs)
{
    size_t off = 0;
    off = s_put (out, off, 0x0023, 2); /* ECC */
    off = s_put (out, off, 0x000b, 2);
    off = s_put (out, off, attrs, 4);
    off = s_put (out, off, 0, 2);      /* no policy */
    off = s_put (out, off, 0x0010, 2); /* symmetric NULL */
    off = s_put (out, off, 0x0018, 2); /* ECDSA */
    off = s_put (out, off, 0x000b, 2); /* SHA-256 */
    off = s_put (out, off, 0x0003, 2); /* NIST P-256 */
    off = s_put (out, off, 0x0010, 2); /* kdf NULL */
    off = s_put (out, off, 32, 2);
    memset (out + off, 0x11, 32);
    off += 32;
    off = s_put (out, off, 32, 2);
    memset (out + off, 0x22, 32);
    return off + 32;
}

#define S_EK_ATTRS 0x000300b2u /* fixedTPM fixedParent sdo adminWithPolicy restricted decrypt */
#define S_AK_ATTRS 0x00050472u /* fixedTPM fixedParent sdo userWithAuth noDA restricted sign */

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    crypto_sign_keypair (s_pk, s_sk);
    crypto_sign_keypair (s_pk_other, s_sk_other);
    EVP_PKEY *key = EVP_RSA_gen (2048);
    BIGNUM *n = NULL;
    uint8_t mod[256];
    if (!key || EVP_PKEY_get_bn_param (key, OSSL_PKEY_PARAM_RSA_N, &n) != 1 ||
        BN_bn2binpad (n, mod, sizeof mod) != 256)
        return -1;
    BN_free (n);
    EVP_PKEY_free (key);
    memset (&s_b, 0, sizeof s_b);
    memcpy (s_b.node, s_pk, 32);
    s_b.ek_len = s_ek_public (s_b.ek, mod, S_EK_ATTRS);
    s_b.ak_len = s_ak_public (s_b.ak, S_AK_ATTRS);
    memset (s_b.seed, 0x5e, sizeof s_b.seed);
    return attest_quote_binding_make (&s_b) == WD_OK ? 0 : -1;
}

static void
s_encode (const attest_quote_binding_t *b, uint8_t **body, size_t *len)
{
    assert_int_equal (attest_quote_binding_encode (b, body, len), WD_OK);
}

/* Decodes a copy of s_b changed by the caller and re-encoded. */
static int
s_decode_changed (const attest_quote_binding_t *b)
{
    uint8_t *body;
    size_t len;
    s_encode (b, &body, &len);
    attest_quote_binding_t out;
    int rc = attest_quote_binding_decode (body, len, &out);
    free (body);
    return rc;
}

static void
test_round_trip (void **state)
{
    (void)state;
    uint8_t *body, *again;
    size_t len, again_len;
    s_encode (&s_b, &body, &len);
    attest_quote_binding_t b;
    assert_int_equal (attest_quote_binding_decode (body, len, &b), WD_OK);
    assert_memory_equal (b.node, s_pk, 32);
    assert_int_equal (b.secret_len, 256);
    assert_int_equal (b.blob_len, 2 + 32 + 2 + 32);
    s_encode (&b, &again, &again_len);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, body, len);
    free (again);
    /* With a certificate: the optional key. */
    b.ek_cert_len = 3;
    memcpy (b.ek_cert, "\x30\x01\x00", 3);
    s_encode (&b, &again, &again_len);
    assert_int_equal (again_len, len + 1 + 7 + 2 + 3);
    attest_quote_binding_t c;
    assert_int_equal (attest_quote_binding_decode (again, again_len, &c), WD_OK);
    assert_int_equal (c.ek_cert_len, 3);
    free (again);
    free (body);
}

/* A body written by hand: every key of s_b, then one change. */
typedef enum {
    S_NONE,
    S_VERSION_2,
    S_EXTRA_KEY,
    S_NO_SEED,
    S_SEED_31,
    S_EMPTY_CERT,
    S_V_STR
} s_twist_t;

static int
s_decode_twisted (s_twist_t t)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 7 + (t == S_EXTRA_KEY) + (t == S_EMPTY_CERT) - (t == S_NO_SEED));
    wd_writer_key (w, "ak");
    wd_writer_bin (w, s_b.ak, s_b.ak_len);
    wd_writer_key (w, "blob");
    wd_writer_bin (w, s_b.blob, s_b.blob_len);
    wd_writer_key (w, "ek");
    wd_writer_bin (w, s_b.ek, s_b.ek_len);
    if (t == S_EMPTY_CERT) {
        wd_writer_key (w, "ek_cert");
        wd_writer_bin (w, s_b.ek, 0);
    }
    if (t == S_EXTRA_KEY) {
        wd_writer_key (w, "extra");
        wd_writer_uint (w, 1);
    }
    wd_writer_key (w, "node");
    wd_writer_bin (w, s_b.node, 32);
    wd_writer_key (w, "secret");
    wd_writer_bin (w, s_b.secret, s_b.secret_len);
    if (t != S_NO_SEED) {
        wd_writer_key (w, "seed");
        wd_writer_bin (w, s_b.seed, t == S_SEED_31 ? 31 : 32);
    }
    wd_writer_key (w, "v");
    if (t == S_V_STR)
        wd_writer_cstr (w, "1");
    else
        wd_writer_uint (w, t == S_VERSION_2 ? 2 : 1);
    size_t len;
    uint8_t *body = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    attest_quote_binding_t out;
    int rc = attest_quote_binding_decode (body, len, &out);
    free (body);
    return rc;
}

static void
test_decode_rejections (void **state)
{
    (void)state;
    attest_quote_binding_t b;
    assert_int_equal (s_decode_twisted (S_NONE), WD_OK);
    assert_int_equal (s_decode_twisted (S_VERSION_2), WD_ERR_BAD_VERSION);
    assert_int_equal (s_decode_twisted (S_EXTRA_KEY), WD_ERR_UNKNOWN_KEY);
    assert_int_equal (s_decode_twisted (S_NO_SEED), WD_ERR_MISSING_KEY);
    assert_int_equal (s_decode_twisted (S_SEED_31), WD_ERR_BAD_LENGTH);
    assert_int_equal (s_decode_twisted (S_EMPTY_CERT), WD_ERR_BAD_LENGTH);
    assert_int_equal (s_decode_twisted (S_V_STR), WD_ERR_WRONG_TYPE);

    /* Truncated and trailing bytes. */
    uint8_t *body;
    size_t len;
    s_encode (&s_b, &body, &len);
    assert_int_equal (attest_quote_binding_decode (body, len - 1, &b), WD_ERR_TRUNCATED);
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, body, len);
    longer[len] = 0xc0;
    assert_int_equal (attest_quote_binding_decode (longer, len + 1, &b), WD_ERR_TRAILING);
    free (longer);
    assert_int_equal (attest_quote_binding_decode (NULL, 0, &b), WD_ERR_TRUNCATED);
    free (body);

    /* An EK other than the TCG default (here: a signing key) and an AK
       that is not restricted. */
    attest_quote_binding_t x = s_b;
    x.ek[5] |= 0x04; /* TPMA_OBJECT sign (bit 18) */
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_EK);
    x = s_b;
    x.ak[5] &= (uint8_t)~0x01; /* restricted (bit 16) cleared */
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_AK);

    /* Every part of the exchange must recompute from the seed. */
    x = s_b;
    x.blob[2] ^= 1; /* outer HMAC */
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b;
    x.blob[x.blob_len - 1] ^= 1; /* encrypted credential */
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b;
    x.secret[100] ^= 1;
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b;
    x.secret_len = 255;
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b;
    x.seed[0] ^= 1;
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b; /* made for another node */
    memcpy (x.node, s_pk_other, 32);
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);
    x = s_b; /* another AK (the credential's name changes) */
    x.ak[x.ak_len - 1] ^= 1;
    assert_int_equal (s_decode_changed (&x), ATTEST_ERR_QUOTE_BINDING);

    /* The encoder refuses lengths out of range. */
    x = s_b;
    x.blob_len = 0;
    assert_int_equal (attest_quote_binding_encode (&x, &body, &len), WD_ERR_BAD_LENGTH);
    x = s_b;
    x.ek_cert_len = ATTEST_QUOTE_CERT_MAX + 1;
    assert_int_equal (attest_quote_binding_encode (&x, &body, &len), WD_ERR_BAD_LENGTH);
}

static void
s_seal (const char *type, const uint8_t *from, const uint8_t *sk, const uint8_t *body, size_t len,
        uint8_t **env, size_t *env_len)
{
    assert_int_equal (
        wd_envelope_seal (type, s_chain, from, body, len, test_sign_fn, (void *)sk, env, env_len),
        WD_OK);
}

static void
test_open (void **state)
{
    (void)state;
    uint8_t *body, *env;
    size_t len, env_len;
    s_encode (&s_b, &body, &len);
    s_seal (ATTEST_QUOTE_BINDING_TYPE, s_pk, s_sk, body, len, &env, &env_len);
    uint8_t ak[ATTEST_QUOTE_NAME_LEN], ek[ATTEST_QUOTE_NAME_LEN], want[ATTEST_QUOTE_NAME_LEN];
    attest_quote_binding_t b;
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, NULL, &b, ak, ek), WD_OK);
    attest_quote_name (s_b.ak, s_b.ak_len, want);
    assert_memory_equal (ak, want, sizeof want);
    attest_quote_name (s_b.ek, s_b.ek_len, want);
    assert_memory_equal (ek, want, sizeof want);
    /* The pinned EK, then another one. */
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, want, NULL, NULL, NULL),
        WD_OK);
    want[5] ^= 1;
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, want, NULL, NULL, NULL),
        ATTEST_ERR_QUOTE_EK_CHANGED);
    /* Another chain, another node expected, a broken signature. */
    uint8_t other_chain[32] = { 0x01 };
    assert_int_equal (
        attest_quote_binding_open (env, env_len, other_chain, s_pk, NULL, NULL, NULL, NULL, NULL),
        WD_ERR_WRONG_CHAIN);
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk_other, NULL, NULL, NULL, NULL, NULL),
        ATTEST_ERR_QUOTE_BINDING);
    free (env);
    /* from = the node, signed with another key */
    s_seal (ATTEST_QUOTE_BINDING_TYPE, s_pk, s_sk_other, body, len, &env, &env_len);
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, NULL, NULL, NULL, NULL),
        WD_ERR_BAD_SIGNATURE);
    free (env);
    /* Another envelope type. */
    s_seal ("evidence", s_pk, s_sk, body, len, &env, &env_len);
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, NULL, NULL, NULL, NULL),
        WD_ERR_UNEXPECTED_TYPE);
    free (env);
    /* Signed by the node it names, but the body names another. */
    attest_quote_binding_t x = s_b;
    memcpy (x.node, s_pk_other, 32);
    assert_int_equal (attest_quote_binding_make (&x), WD_OK);
    uint8_t *xbody;
    size_t xlen;
    s_encode (&x, &xbody, &xlen);
    s_seal (ATTEST_QUOTE_BINDING_TYPE, s_pk, s_sk, xbody, xlen, &env, &env_len);
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, NULL, NULL, NULL, NULL, NULL),
        ATTEST_ERR_QUOTE_BINDING);
    free (env);
    free (xbody);
    /* A CA is configured but the record has no EK certificate. */
    s_seal (ATTEST_QUOTE_BINDING_TYPE, s_pk, s_sk, body, len, &env, &env_len);
    char path[300], why[256];
    const char *dir = test_tmpdir ();
    snprintf (path, sizeof path, "%s/ca.pem", dir);
    /* a self-signed certificate (any will do: the record has none) */
    char cmd[700];
    snprintf (cmd, sizeof cmd,
              "openssl req -x509 -newkey rsa:2048 -nodes -keyout %s/k.pem -out %s -days 1 "
              "-subj /CN=test-ca > /dev/null 2>&1",
              dir, path);
    assert_int_equal (system (cmd), 0);
    attest_quote_ca_t *ca = attest_quote_ca_new (path, why, sizeof why);
    assert_non_null (ca);
    assert_int_equal (
        attest_quote_binding_open (env, env_len, s_chain, s_pk, ca, NULL, NULL, NULL, NULL),
        ATTEST_ERR_QUOTE_EK_CERT);
    /* A certificate from that CA for another key. */
    assert_int_equal (
        attest_quote_check_ek_cert (ca, (const uint8_t *)"\x30\x00", 2, s_b.ek, s_b.ek_len),
        ATTEST_ERR_QUOTE_EK_CERT);
    attest_quote_ca_destroy (&ca);
    snprintf (path, sizeof path, "%s/none.pem", dir);
    assert_null (attest_quote_ca_new (path, why, sizeof why));
    free (env);
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_decode_rejections),
        cmocka_unit_test (test_open),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
