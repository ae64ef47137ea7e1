/*
 * attest_quote: strict parsing of the TPM structures a quote carries,
 * quote verification and the verifier's half of MakeCredential (see
 * attest_quote.h and docs/PROTOCOL.md "TPM quote").
 *
 * TPM structures are big-endian and length-prefixed (TPM 2.0 Library
 * Part 2). They are read with one bounded cursor, s_cur, whose errors are
 * sticky, so a parser reads every field and checks the cursor once: a
 * length past its limit, a short buffer or a byte left over all end as one
 * "malformed" answer. Signatures and the credential protection use
 * OpenSSL 3's EVP interface.
 */
#include "attest_quote.h"

#include <assert.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/param_build.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <openssl/x509_vfy.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wd_envelope.h"
#include "wd_hash.h"

/* TPM_ALG_ID and other constants of TPM 2.0 Part 2. */
enum {
    S_ALG_RSA = 0x0001,
    S_ALG_AES = 0x0006,
    S_ALG_SHA256 = 0x000b,
    S_ALG_NULL = 0x0010,
    S_ALG_ECDSA = 0x0018,
    S_ALG_ECC = 0x0023,
    S_ALG_CFB = 0x0043,
    S_ECC_NIST_P256 = 0x0003,
    S_RH_ENDORSEMENT = 0x4000000b,
};

/* TPMA_OBJECT bits. */
enum {
    S_OBJ_FIXED_TPM = 1u << 1,
    S_OBJ_FIXED_PARENT = 1u << 4,
    S_OBJ_SENSITIVE_ORIGIN = 1u << 5,
    S_OBJ_RESTRICTED = 1u << 16,
    S_OBJ_DECRYPT = 1u << 17,
    S_OBJ_SIGN = 1u << 18,
};

/* ---- a bounded big-endian cursor ------------------------------------------ */

typedef struct {
    const uint8_t *p;
    size_t len;
    size_t off;
    bool bad;
} s_cur_t;

static const uint8_t *
s_take (s_cur_t *c, size_t n)
{
    if (c->bad || c->len - c->off < n) {
        c->bad = true;
        return NULL;
    }
    const uint8_t *p = c->p + c->off;
    c->off += n;
    return p;
}

static uint64_t
s_uint (s_cur_t *c, size_t n)
{
    const uint8_t *p = s_take (c, n);
    uint64_t v = 0;
    for (size_t i = 0; p && i < n; i++)
        v = v << 8 | p[i];
    return v;
}

#define s_u8(c)  ((uint8_t)s_uint ((c), 1))
#define s_u16(c) ((uint16_t)s_uint ((c), 2))
#define s_u32(c) ((uint32_t)s_uint ((c), 4))
#define s_u64(c) s_uint ((c), 8)

/* A TPM2B: u16 size, then size bytes, at most max; copied to out when out
   is not NULL. Returns the size (0 after an error). */
static size_t
s_tpm2b (s_cur_t *c, uint8_t *out, size_t max)
{
    size_t n = s_u16 (c);
    if (n > max)
        c->bad = true;
    const uint8_t *p = s_take (c, c->bad ? 0 : n);
    if (c->bad)
        return 0;
    if (out && n)
        memcpy (out, p, n);
    return n;
}

/* True when the whole buffer was read without an error. */
static bool
s_done (const s_cur_t *c)
{
    return !c->bad && c->off == c->len;
}

/* ---- parsing ----------------------------------------------------------------- */

int
attest_quote_parse_attest (const uint8_t *buf, size_t len, attest_quote_attest_t *out)
{
    assert ((buf || len == 0) && out);
    memset (out, 0, sizeof *out);
    s_cur_t c = { buf, len, 0, false };
    uint32_t magic = s_u32 (&c);
    uint16_t type = s_u16 (&c);
    if (c.bad)
        return ATTEST_ERR_QUOTE_MALFORMED;
    if (magic != ATTEST_QUOTE_MAGIC)
        return ATTEST_ERR_QUOTE_MAGIC;
    if (type != ATTEST_QUOTE_TYPE)
        return ATTEST_ERR_QUOTE_TYPE;
    out->signer_len = s_tpm2b (&c, out->signer, sizeof out->signer);
    out->extra_len = s_tpm2b (&c, out->extra, sizeof out->extra);
    out->clock = s_u64 (&c);
    out->reset_count = s_u32 (&c);
    out->restart_count = s_u32 (&c);
    uint8_t safe = s_u8 (&c);
    out->safe = safe == 1;
    out->firmware = s_u64 (&c);
    /* TPMS_QUOTE_INFO: TPML_PCR_SELECTION, then TPM2B_DIGEST. */
    uint32_t count = s_u32 (&c);
    if (count > ATTEST_QUOTE_BANKS_MAX)
        c.bad = true;
    for (uint32_t i = 0; !c.bad && i < count; i++) {
        attest_quote_bank_t *b = &out->banks[i];
        b->hash = s_u16 (&c);
        b->size = s_u8 (&c);
        if (b->size < 1 || b->size > sizeof b->bits)
            c.bad = true;
        const uint8_t *bits = s_take (&c, c.bad ? 0 : b->size);
        if (bits)
            memcpy (b->bits, bits, b->size);
    }
    out->bank_count = c.bad ? 0 : count;
    out->digest_len = s_tpm2b (&c, out->digest, sizeof out->digest);
    if (!s_done (&c) || safe > 1) {
        memset (out, 0, sizeof *out);
        return ATTEST_ERR_QUOTE_MALFORMED;
    }
    return WD_OK;
}

/* Reads a TPMT_PUBLIC's header: type, nameAlg, objectAttributes and the
   authPolicy (skipped). */
static void
s_public_head (s_cur_t *c, uint16_t *type, uint16_t *name_alg, uint32_t *attrs)
{
    *type = s_u16 (c);
    *name_alg = s_u16 (c);
    *attrs = s_u32 (c);
    (void)s_tpm2b (c, NULL, ATTEST_QUOTE_DATA_MAX);
}

int
attest_quote_parse_ak (const uint8_t *pub, size_t len, uint8_t x[32], uint8_t y[32])
{
    assert (pub || len == 0);
    s_cur_t c = { pub, len, 0, false };
    uint16_t type, name_alg;
    uint32_t attrs;
    s_public_head (&c, &type, &name_alg, &attrs);
    /* TPMS_ECC_PARMS: symmetric (NULL for a signing key), scheme ECDSA
       with its hash, curve, KDF (NULL); then TPMS_ECC_POINT. */
    uint16_t sym = s_u16 (&c);
    uint16_t scheme = s_u16 (&c);
    uint16_t scheme_hash = scheme == S_ALG_NULL ? S_ALG_NULL : s_u16 (&c);
    uint16_t curve = s_u16 (&c);
    uint16_t kdf = s_u16 (&c);
    uint8_t px[32], py[32];
    size_t xl = s_tpm2b (&c, px, sizeof px);
    size_t yl = s_tpm2b (&c, py, sizeof py);
    const uint32_t need = S_OBJ_FIXED_TPM | S_OBJ_FIXED_PARENT | S_OBJ_SENSITIVE_ORIGIN |
                          S_OBJ_RESTRICTED | S_OBJ_SIGN;
    if (!s_done (&c) || type != S_ALG_ECC || name_alg != S_ALG_SHA256 || (attrs & need) != need ||
        (attrs & S_OBJ_DECRYPT) || sym != S_ALG_NULL || scheme != S_ALG_ECDSA ||
        scheme_hash != S_ALG_SHA256 || curve != S_ECC_NIST_P256 || kdf != S_ALG_NULL || xl != 32 ||
        yl != 32)
        return ATTEST_ERR_QUOTE_AK;
    if (x)
        memcpy (x, px, 32);
    if (y)
        memcpy (y, py, 32);
    return WD_OK;
}

void
attest_quote_name (const uint8_t *pub, size_t len, uint8_t name[ATTEST_QUOTE_NAME_LEN])
{
    name[0] = S_ALG_SHA256 >> 8;
    name[1] = S_ALG_SHA256 & 0xff;
    wd_hash_sha256 (name + 2, pub, len);
}

const uint8_t *
attest_quote_pcr (const attest_quote_t *q, uint32_t pcr)
{
    if (pcr >= ATTEST_QUOTE_PCR_COUNT || !(q->select & (1u << pcr)))
        return NULL;
    size_t k = (size_t)__builtin_popcount (q->select & ((1u << pcr) - 1));
    return q->pcrs[k];
}

void
attest_quote_pcr_digest (const attest_quote_t *q, uint8_t digest[32])
{
    size_t n = (size_t)__builtin_popcount (q->select & ((1u << ATTEST_QUOTE_PCR_COUNT) - 1));
    wd_hash_sha256 (digest, q->pcrs, n * ATTEST_QUOTE_PCR_LEN);
}

/* ---- the evidence field ------------------------------------------------------- */

bool
attest_quote_valid (const attest_quote_t *q)
{
    return q->ak_len >= 1 && q->ak_len <= ATTEST_QUOTE_AK_MAX && q->attest_len >= 1 &&
           q->attest_len <= ATTEST_QUOTE_ATTEST_MAX && q->select != 0 &&
           q->select < (1u << ATTEST_QUOTE_PCR_COUNT) && q->binding_len <= ATTEST_QUOTE_BINDING_MAX;
}

void
attest_quote_write (wd_writer_t *w, const attest_quote_t *q)
{
    size_t n = (size_t)__builtin_popcount (q->select);
    wd_writer_map (w, 5 + (q->binding_len > 0));
    wd_writer_key (w, "ak");
    wd_writer_bin (w, q->ak, q->ak_len);
    wd_writer_key (w, "attest");
    wd_writer_bin (w, q->attest, q->attest_len);
    if (q->binding_len > 0) {
        wd_writer_key (w, "binding");
        wd_writer_bin (w, q->binding, q->binding_len);
    }
    wd_writer_key (w, "pcrs");
    wd_writer_array (w, n);
    for (size_t i = 0; i < n && i < ATTEST_QUOTE_PCR_COUNT; i++)
        wd_writer_bin (w, q->pcrs[i], ATTEST_QUOTE_PCR_LEN);
    wd_writer_key (w, "select");
    wd_writer_uint (w, q->select);
    wd_writer_key (w, "sig");
    wd_writer_bin (w, q->sig, ATTEST_QUOTE_SIG_LEN);
}

void
attest_quote_read (wd_reader_t *r, attest_quote_t *q, bool *ok)
{
    size_t count, n = 0;
    const uint8_t *data = NULL;
    size_t len = 0;
    uint64_t select = 0;
    wd_read_map (r, &count);
    wd_read_key (r, "ak");
    if (wd_read_bin (r, &data, &len, ATTEST_QUOTE_AK_MAX)) {
        memcpy (q->ak, data, len);
        q->ak_len = len;
    }
    wd_read_key (r, "attest");
    if (wd_read_bin (r, &data, &len, ATTEST_QUOTE_ATTEST_MAX)) {
        memcpy (q->attest, data, len);
        q->attest_len = len;
    }
    if (wd_read_key_opt (r, "binding")) {
        if (wd_read_bin (r, &data, &len, ATTEST_QUOTE_BINDING_MAX)) {
            memcpy (q->binding, data, len);
            q->binding_len = len;
            if (len == 0)
                *ok = false; /* present means one record */
        }
    }
    wd_read_key (r, "pcrs");
    wd_read_array (r, &n);
    for (size_t i = 0; i < n; i++) {
        uint8_t scratch[ATTEST_QUOTE_PCR_LEN];
        wd_read_bin_fixed (r, i < ATTEST_QUOTE_PCR_COUNT ? q->pcrs[i] : scratch,
                           ATTEST_QUOTE_PCR_LEN);
    }
    wd_read_end (r);
    wd_read_key (r, "select");
    wd_read_uint (r, &select, (1u << ATTEST_QUOTE_PCR_COUNT) - 1);
    q->select = (uint32_t)select;
    wd_read_key (r, "sig");
    wd_read_bin_fixed (r, q->sig, ATTEST_QUOTE_SIG_LEN);
    wd_read_end (r);
    if (!attest_quote_valid (q) || n != (size_t)__builtin_popcount (q->select))
        *ok = false;
}

/* ---- verification -------------------------------------------------------------- */

/* An OpenSSL public key from an uncompressed P-256 point, checked to be on
   the curve; NULL otherwise. */
static EVP_PKEY *
s_p256_key (const uint8_t x[32], const uint8_t y[32])
{
    uint8_t point[65];
    point[0] = 0x04;
    memcpy (point + 1, x, 32);
    memcpy (point + 33, y, 32);
    char group[] = "prime256v1";
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_utf8_string (OSSL_PKEY_PARAM_GROUP_NAME, group, 0),
        OSSL_PARAM_construct_octet_string (OSSL_PKEY_PARAM_PUB_KEY, point, sizeof point),
        OSSL_PARAM_construct_end (),
    };
    EVP_PKEY *key = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "EC", NULL);
    if (!ctx || EVP_PKEY_fromdata_init (ctx) <= 0 ||
        EVP_PKEY_fromdata (ctx, &key, EVP_PKEY_PUBLIC_KEY, params) <= 0)
        goto out;
    EVP_PKEY_CTX_free (ctx);
    ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key, NULL);
    if (!ctx || EVP_PKEY_public_check (ctx) <= 0) {
        EVP_PKEY_free (key);
        key = NULL;
    }
out:
    EVP_PKEY_CTX_free (ctx);
    return key;
}

/* A DER ECDSA-Sig-Value from r ‖ s (32 bytes each); returns its length. */
static size_t
s_der_sig (const uint8_t sig[ATTEST_QUOTE_SIG_LEN], uint8_t der[72])
{
    uint8_t ints[2][34];
    size_t lens[2];
    for (int k = 0; k < 2; k++) {
        const uint8_t *v = sig + 32 * k;
        size_t skip = 0;
        while (skip < 31 && v[skip] == 0)
            skip++;
        size_t n = 0;
        if (v[skip] & 0x80)
            ints[k][n++] = 0;
        memcpy (ints[k] + n, v + skip, 32 - skip);
        lens[k] = n + 32 - skip;
    }
    size_t off = 0;
    der[off++] = 0x30;
    der[off++] = (uint8_t)(4 + lens[0] + lens[1]);
    for (int k = 0; k < 2; k++) {
        der[off++] = 0x02;
        der[off++] = (uint8_t)lens[k];
        memcpy (der + off, ints[k], lens[k]);
        off += lens[k];
    }
    return off;
}

static bool
s_signature_ok (const uint8_t x[32], const uint8_t y[32], const uint8_t *msg, size_t len,
                const uint8_t sig[ATTEST_QUOTE_SIG_LEN])
{
    EVP_PKEY *key = s_p256_key (x, y);
    if (!key)
        return false;
    uint8_t digest[32], der[72];
    wd_hash_sha256 (digest, msg, len);
    size_t der_len = s_der_sig (sig, der);
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key, NULL);
    bool ok = ctx && EVP_PKEY_verify_init (ctx) > 0 &&
              EVP_PKEY_CTX_set_signature_md (ctx, EVP_sha256 ()) > 0 &&
              EVP_PKEY_verify (ctx, der, der_len, digest, sizeof digest) == 1;
    EVP_PKEY_CTX_free (ctx);
    EVP_PKEY_free (key);
    return ok;
}

int
attest_quote_verify (const attest_quote_t *q, const uint8_t nonce[32], const uint8_t *log_sha256,
                     uint32_t log_pcr, const attest_quote_expect_t *x, attest_quote_clock_t *clock)
{
    assert (q && nonce && x);
    uint8_t bound[ATTEST_QUOTE_NAME_LEN];
    const uint8_t *ak_name = x->ak_name;
    int err;
    if (!ak_name && x->from_binding && q->binding_len > 0 && x->chain && x->node) {
        err = attest_quote_binding_open (q->binding, q->binding_len, x->chain, x->node, x->ca,
                                         x->ek_name, NULL, bound, NULL);
        if (err != WD_OK)
            return err;
        ak_name = bound;
    }
    if (!ak_name)
        return ATTEST_ERR_QUOTE_AK_UNBOUND;
    if (!attest_quote_valid (q))
        return ATTEST_ERR_QUOTE_MALFORMED;
    uint8_t ax[32], ay[32], name[ATTEST_QUOTE_NAME_LEN];
    err = attest_quote_parse_ak (q->ak, q->ak_len, ax, ay);
    if (err != WD_OK)
        return err;
    attest_quote_name (q->ak, q->ak_len, name);
    if (sodium_memcmp (name, ak_name, sizeof name) != 0)
        return ATTEST_ERR_QUOTE_AK_UNBOUND;

    attest_quote_attest_t a;
    err = attest_quote_parse_attest (q->attest, q->attest_len, &a);
    if (err != WD_OK)
        return err;
    if (!s_signature_ok (ax, ay, q->attest, q->attest_len, q->sig))
        return ATTEST_ERR_QUOTE_SIGNATURE;

    /* A primary key's qualified name: H(QN of its hierarchy = the handle ‖
       its name). */
    uint8_t qn_in[4 + ATTEST_QUOTE_NAME_LEN], qn[ATTEST_QUOTE_NAME_LEN];
    qn_in[0] = S_RH_ENDORSEMENT >> 24;
    qn_in[1] = (S_RH_ENDORSEMENT >> 16) & 0xff;
    qn_in[2] = (S_RH_ENDORSEMENT >> 8) & 0xff;
    qn_in[3] = S_RH_ENDORSEMENT & 0xff;
    memcpy (qn_in + 4, name, sizeof name);
    qn[0] = S_ALG_SHA256 >> 8;
    qn[1] = S_ALG_SHA256 & 0xff;
    wd_hash_sha256 (qn + 2, qn_in, sizeof qn_in);
    if (a.signer_len != sizeof qn || sodium_memcmp (a.signer, qn, sizeof qn) != 0)
        return ATTEST_ERR_QUOTE_SIGNER;

    if (a.extra_len != 32 || sodium_memcmp (a.extra, nonce, 32) != 0)
        return ATTEST_ERR_QUOTE_NONCE;

    /* Exactly one bank, SHA-256, three select bytes holding select. */
    if (a.bank_count != 1 || a.banks[0].hash != S_ALG_SHA256 || a.banks[0].size != 3)
        return ATTEST_ERR_QUOTE_SELECTION;
    uint32_t quoted = (uint32_t)a.banks[0].bits[0] | (uint32_t)a.banks[0].bits[1] << 8 |
                      (uint32_t)a.banks[0].bits[2] << 16;
    if (quoted != q->select || (q->select & x->required) != x->required)
        return ATTEST_ERR_QUOTE_SELECTION;
    uint8_t digest[32];
    attest_quote_pcr_digest (q, digest);
    if (a.digest_len != sizeof digest || sodium_memcmp (a.digest, digest, sizeof digest) != 0)
        return ATTEST_ERR_QUOTE_PCR_DIGEST;

    if (!a.safe)
        return ATTEST_ERR_QUOTE_UNSAFE;
    if (x->last) {
        const attest_quote_clock_t *l = x->last;
        if (a.reset_count < l->reset_count)
            return ATTEST_ERR_QUOTE_RESET;
        if (a.reset_count == l->reset_count && a.restart_count < l->restart_count)
            return ATTEST_ERR_QUOTE_RESTART;
        /* Clock survives resets (it is saved in NV); with safe set it never
           reports a value below one reported before. */
        if (a.clock < l->clock || (a.clock == l->clock && a.reset_count == l->reset_count &&
                                   a.restart_count == l->restart_count))
            return ATTEST_ERR_QUOTE_CLOCK;
    }
    if (log_sha256 && !x->defer_pcr_log) {
        const uint8_t *v = attest_quote_pcr (q, log_pcr);
        if (v && sodium_memcmp (v, log_sha256, ATTEST_QUOTE_PCR_LEN) != 0)
            return ATTEST_ERR_QUOTE_PCR_LOG;
    }
    if (clock) {
        clock->clock = a.clock;
        clock->reset_count = a.reset_count;
        clock->restart_count = a.restart_count;
    }
    return WD_OK;
}

int
attest_quote_clock_of (const attest_quote_t *q, attest_quote_clock_t *clock)
{
    assert (q && clock);
    attest_quote_attest_t a;
    memset (clock, 0, sizeof *clock);
    int err = attest_quote_parse_attest (q->attest, q->attest_len, &a);
    if (err == WD_OK) {
        clock->clock = a.clock;
        clock->reset_count = a.reset_count;
        clock->restart_count = a.restart_count;
    }
    return err;
}

/* ---- MakeCredential ------------------------------------------------------------ */

/* KDFa (TPM 2.0 Part 1, §11.4.10.2) with HMAC-SHA256: bits of output from
   key, label (its NUL included) and the two contexts. bits <= 256. */
static bool
s_kdfa (const uint8_t key[32], const char *label, const uint8_t *u, size_t u_len, uint32_t bits,
        uint8_t *out)
{
    uint8_t in[4 + 16 + ATTEST_QUOTE_NAME_LEN + 4];
    size_t label_len = strlen (label) + 1, off = 0;
    assert (label_len <= 16 && u_len <= ATTEST_QUOTE_NAME_LEN && bits <= 256);
    const uint8_t counter[4] = { 0, 0, 0, 1 };
    memcpy (in + off, counter, 4);
    off += 4;
    memcpy (in + off, label, label_len);
    off += label_len;
    if (u_len)
        memcpy (in + off, u, u_len);
    off += u_len;
    in[off++] = (uint8_t)(bits >> 24);
    in[off++] = (uint8_t)(bits >> 16);
    in[off++] = (uint8_t)(bits >> 8);
    in[off++] = (uint8_t)bits;
    uint8_t mac[32];
    unsigned mac_len = 0;
    if (!HMAC (EVP_sha256 (), key, 32, in, off, mac, &mac_len) || mac_len != 32)
        return false;
    memcpy (out, mac, bits / 8);
    sodium_memzero (mac, sizeof mac);
    return true;
}

/* The RSA public key of an EK's TPMT_PUBLIC, or NULL (not a supported EK). */
static EVP_PKEY *
s_ek_key (const uint8_t *ek, size_t len)
{
    s_cur_t c = { ek, len, 0, false };
    uint16_t type, name_alg;
    uint32_t attrs;
    s_public_head (&c, &type, &name_alg, &attrs);
    /* TPMS_RSA_PARMS: symmetric (AES, 128, CFB), scheme NULL, keyBits,
       exponent; then the modulus. */
    uint16_t sym = s_u16 (&c);
    uint16_t sym_bits = sym == S_ALG_NULL ? 0 : s_u16 (&c);
    uint16_t sym_mode = sym == S_ALG_NULL ? 0 : s_u16 (&c);
    uint16_t scheme = s_u16 (&c);
    uint16_t key_bits = s_u16 (&c);
    uint32_t exponent = s_u32 (&c);
    uint8_t n[256];
    size_t n_len = s_tpm2b (&c, n, sizeof n);
    const uint32_t need = S_OBJ_FIXED_TPM | S_OBJ_FIXED_PARENT | S_OBJ_RESTRICTED | S_OBJ_DECRYPT;
    if (!s_done (&c) || type != S_ALG_RSA || name_alg != S_ALG_SHA256 || (attrs & need) != need ||
        (attrs & S_OBJ_SIGN) || sym != S_ALG_AES || sym_bits != 128 || sym_mode != S_ALG_CFB ||
        scheme != S_ALG_NULL || key_bits != 2048 || n_len != 256 || (n[0] & 0x80) == 0)
        return NULL;
    if (exponent == 0)
        exponent = 65537;
    EVP_PKEY *key = NULL;
    BIGNUM *bn_n = BN_bin2bn (n, (int)n_len, NULL);
    BIGNUM *bn_e = BN_new ();
    OSSL_PARAM_BLD *bld = OSSL_PARAM_BLD_new ();
    OSSL_PARAM *params = NULL;
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_name (NULL, "RSA", NULL);
    /* key stays NULL unless every step succeeds. */
    if (bn_n && bn_e && bld && ctx && BN_set_word (bn_e, exponent) &&
        OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_N, bn_n) &&
        OSSL_PARAM_BLD_push_BN (bld, OSSL_PKEY_PARAM_RSA_E, bn_e) &&
        (params = OSSL_PARAM_BLD_to_param (bld)) && EVP_PKEY_fromdata_init (ctx) > 0)
        (void)EVP_PKEY_fromdata (ctx, &key, EVP_PKEY_PUBLIC_KEY, params);
    OSSL_PARAM_free (params);
    OSSL_PARAM_BLD_free (bld);
    EVP_PKEY_CTX_free (ctx);
    BN_free (bn_n);
    BN_free (bn_e);
    return key;
}

/* MGF1 with SHA-256 (RFC 8017 B.2.1): len bytes from seed into out. */
static void
s_mgf1 (const uint8_t *seed, size_t seed_len, uint8_t *out, size_t len)
{
    uint8_t in[256 + 4], block[32];
    assert (seed_len <= 256);
    memcpy (in, seed, seed_len);
    for (uint32_t counter = 0, off = 0; off < len; counter++) {
        in[seed_len] = (uint8_t)(counter >> 24);
        in[seed_len + 1] = (uint8_t)(counter >> 16);
        in[seed_len + 2] = (uint8_t)(counter >> 8);
        in[seed_len + 3] = (uint8_t)counter;
        wd_hash_sha256 (block, in, seed_len + 4);
        size_t n = len - off < 32 ? len - off : 32;
        memcpy (out + off, block, n);
        off += (uint32_t)n;
    }
}

/* RSA-OAEP-SHA256 with label "IDENTITY" (its NUL included) of the 32-byte
   seed, the padding's random bytes given (r): EME-OAEP encoding (RFC 8017
   7.1.1) by hand, then the raw RSA public operation, so the result is a
   function of (key, seed, r) that a verifier can recompute. */
static bool
s_oaep (EVP_PKEY *key, const uint8_t seed[32], const uint8_t r[32], uint8_t *out, size_t *out_len)
{
    static const char label[] = "IDENTITY";
    enum { K = 256, H = 32, DB = K - H - 1 };
    uint8_t em[K], db[DB], mask[DB];
    memset (db, 0, sizeof db);
    wd_hash_sha256 (db, label, sizeof label);
    db[DB - 32 - 1] = 0x01;
    memcpy (db + DB - 32, seed, 32);
    s_mgf1 (r, H, mask, DB);
    em[0] = 0;
    for (size_t i = 0; i < DB; i++)
        em[1 + H + i] = db[i] ^ mask[i];
    s_mgf1 (em + 1 + H, DB, mask, H);
    for (size_t i = 0; i < H; i++)
        em[1 + i] = r[i] ^ mask[i];
    EVP_PKEY_CTX *ctx = EVP_PKEY_CTX_new_from_pkey (NULL, key, NULL);
    size_t len = ATTEST_QUOTE_SECRET_MAX;
    bool ok = ctx && EVP_PKEY_encrypt_init (ctx) > 0 &&
              EVP_PKEY_CTX_set_rsa_padding (ctx, RSA_NO_PADDING) > 0 &&
              EVP_PKEY_encrypt (ctx, out, &len, em, sizeof em) > 0 && len == K;
    EVP_PKEY_CTX_free (ctx);
    sodium_memzero (em, sizeof em);
    sodium_memzero (db, sizeof db);
    *out_len = ok ? len : 0;
    return ok;
}

int
attest_quote_make_credential (const uint8_t *ek, size_t ek_len,
                              const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN], const uint8_t *cred,
                              size_t cred_len, uint8_t *blob, size_t *blob_len, uint8_t *secret,
                              size_t *secret_len)
{
    uint8_t seed[ATTEST_QUOTE_SEED_LEN];
    *blob_len = 0;
    *secret_len = 0;
    if (RAND_bytes (seed, sizeof seed) != 1)
        return ATTEST_ERR_QUOTE_CRYPTO;
    int err = attest_quote_make_credential_seeded (ek, ek_len, ak_name, cred, cred_len, seed, blob,
                                                   blob_len, secret, secret_len);
    sodium_memzero (seed, sizeof seed);
    return err;
}

int
attest_quote_make_credential_seeded (const uint8_t *ek, size_t ek_len,
                                     const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN],
                                     const uint8_t *cred, size_t cred_len,
                                     const uint8_t seed[ATTEST_QUOTE_SEED_LEN], uint8_t *blob,
                                     size_t *blob_len, uint8_t *secret, size_t *secret_len)
{
    assert (ek && ak_name && cred && seed && blob && blob_len && secret && secret_len);
    assert (cred_len >= 1 && cred_len <= ATTEST_QUOTE_CRED_MAX);
    *blob_len = 0;
    *secret_len = 0;
    EVP_PKEY *key = s_ek_key (ek, ek_len);
    if (!key)
        return ATTEST_ERR_QUOTE_EK;

    int err = ATTEST_ERR_QUOTE_CRYPTO;
    uint8_t r[32], sym[16], hmac_key[32];
    uint8_t plain[2 + ATTEST_QUOTE_CRED_MAX];
    uint8_t *enc = blob + 2 + 32;
    size_t enc_len = 2 + cred_len;
    static const uint8_t iv[16];
    EVP_CIPHER_CTX *cctx = NULL;
    int n1 = 0, n2 = 0;
    unsigned mac_len = 0;

    if (!s_kdfa (seed, "WARDEN-OAEP", NULL, 0, 256, r) ||
        !s_oaep (key, seed, r, secret, secret_len))
        goto out;
    if (!s_kdfa (seed, "STORAGE", ak_name, ATTEST_QUOTE_NAME_LEN, 128, sym) ||
        !s_kdfa (seed, "INTEGRITY", NULL, 0, 256, hmac_key))
        goto out;
    /* encIdentity = AES-128-CFB(sym, iv 0, TPM2B credential). */
    plain[0] = (uint8_t)(cred_len >> 8);
    plain[1] = (uint8_t)cred_len;
    memcpy (plain + 2, cred, cred_len);
    cctx = EVP_CIPHER_CTX_new ();
    if (!cctx || EVP_EncryptInit_ex (cctx, EVP_aes_128_cfb128 (), NULL, sym, iv) != 1 ||
        EVP_EncryptUpdate (cctx, enc, &n1, plain, (int)enc_len) != 1 ||
        EVP_EncryptFinal_ex (cctx, enc + n1, &n2) != 1 || (size_t)(n1 + n2) != enc_len)
        goto out;
    /* outerHMAC = HMAC(hmac_key, encIdentity ‖ AK name). */
    uint8_t mac_in[2 + ATTEST_QUOTE_CRED_MAX + ATTEST_QUOTE_NAME_LEN];
    memcpy (mac_in, enc, enc_len);
    memcpy (mac_in + enc_len, ak_name, ATTEST_QUOTE_NAME_LEN);
    blob[0] = 0;
    blob[1] = 32;
    if (!HMAC (EVP_sha256 (), hmac_key, sizeof hmac_key, mac_in, enc_len + ATTEST_QUOTE_NAME_LEN,
               blob + 2, &mac_len) ||
        mac_len != 32)
        goto out;
    *blob_len = 2 + 32 + enc_len;
    err = WD_OK;
out:
    if (err != WD_OK)
        *secret_len = 0;
    EVP_CIPHER_CTX_free (cctx);
    EVP_PKEY_free (key);
    sodium_memzero (r, sizeof r);
    sodium_memzero (sym, sizeof sym);
    sodium_memzero (hmac_key, sizeof hmac_key);
    sodium_memzero (plain, sizeof plain);
    return err;
}

/* ---- the AK-binding record --------------------------------------------------- */

void
attest_quote_binding_credential (const uint8_t node[32],
                                 const uint8_t ek_name[ATTEST_QUOTE_NAME_LEN],
                                 const uint8_t ak_name[ATTEST_QUOTE_NAME_LEN], uint8_t cred[32])
{
    static const char domain[] = "warden-ak-binding-v1"; /* its NUL included */
    uint8_t in[sizeof domain + 32 + 2 * ATTEST_QUOTE_NAME_LEN];
    memcpy (in, domain, sizeof domain);
    memcpy (in + sizeof domain, node, 32);
    memcpy (in + sizeof domain + 32, ek_name, ATTEST_QUOTE_NAME_LEN);
    memcpy (in + sizeof domain + 32 + ATTEST_QUOTE_NAME_LEN, ak_name, ATTEST_QUOTE_NAME_LEN);
    wd_hash_sha256 (cred, in, sizeof in);
}

/* blob and secret as the binding's seed makes them for its node, EK and AK.
   WD_OK, ATTEST_ERR_QUOTE_AK / _EK, or ATTEST_ERR_QUOTE_CRYPTO. */
static int
s_binding_exchange (const attest_quote_binding_t *b, uint8_t blob[ATTEST_QUOTE_BLOB_MAX],
                    size_t *blob_len, uint8_t secret[ATTEST_QUOTE_SECRET_MAX], size_t *secret_len)
{
    if (attest_quote_parse_ak (b->ak, b->ak_len, NULL, NULL) != WD_OK)
        return ATTEST_ERR_QUOTE_AK;
    uint8_t ek_name[ATTEST_QUOTE_NAME_LEN], ak_name[ATTEST_QUOTE_NAME_LEN], cred[32];
    attest_quote_name (b->ek, b->ek_len, ek_name);
    attest_quote_name (b->ak, b->ak_len, ak_name);
    attest_quote_binding_credential (b->node, ek_name, ak_name, cred);
    return attest_quote_make_credential_seeded (b->ek, b->ek_len, ak_name, cred, sizeof cred,
                                                b->seed, blob, blob_len, secret, secret_len);
}

int
attest_quote_binding_make (attest_quote_binding_t *b)
{
    assert (b);
    return s_binding_exchange (b, b->blob, &b->blob_len, b->secret, &b->secret_len);
}

static bool
s_binding_lengths_ok (const attest_quote_binding_t *b)
{
    return b->ek_len >= 1 && b->ek_len <= ATTEST_QUOTE_EK_MAX && b->ak_len >= 1 &&
           b->ak_len <= ATTEST_QUOTE_AK_MAX && b->ek_cert_len <= ATTEST_QUOTE_CERT_MAX &&
           b->blob_len >= 1 && b->blob_len <= ATTEST_QUOTE_BLOB_MAX && b->secret_len >= 1 &&
           b->secret_len <= ATTEST_QUOTE_SECRET_MAX;
}

int
attest_quote_binding_encode (const attest_quote_binding_t *b, uint8_t **out, size_t *out_len)
{
    assert (b && out && out_len);
    *out = NULL;
    *out_len = 0;
    if (!s_binding_lengths_ok (b))
        return WD_ERR_BAD_LENGTH;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 7 + (b->ek_cert_len > 0));
    wd_writer_key (w, "ak");
    wd_writer_bin (w, b->ak, b->ak_len);
    wd_writer_key (w, "blob");
    wd_writer_bin (w, b->blob, b->blob_len);
    wd_writer_key (w, "ek");
    wd_writer_bin (w, b->ek, b->ek_len);
    if (b->ek_cert_len > 0) {
        wd_writer_key (w, "ek_cert");
        wd_writer_bin (w, b->ek_cert, b->ek_cert_len);
    }
    wd_writer_key (w, "node");
    wd_writer_bin (w, b->node, sizeof b->node);
    wd_writer_key (w, "secret");
    wd_writer_bin (w, b->secret, b->secret_len);
    wd_writer_key (w, "seed");
    wd_writer_bin (w, b->seed, sizeof b->seed);
    wd_writer_key (w, "v");
    wd_writer_uint (w, ATTEST_QUOTE_BINDING_VERSION);
    *out = wd_writer_take (w, out_len);
    wd_writer_destroy (&w);
    return WD_OK;
}

/* Reads a bin of 1..max bytes into out. */
static void
s_read_bin_into (wd_reader_t *r, uint8_t *out, size_t *out_len, size_t max, bool *ok)
{
    const uint8_t *data = NULL;
    size_t len = 0;
    if (wd_read_bin (r, &data, &len, max)) {
        memcpy (out, data, len);
        *out_len = len;
        if (len == 0)
            *ok = false;
    }
}

int
attest_quote_binding_decode (const uint8_t *body, size_t len, attest_quote_binding_t *b)
{
    assert ((body || len == 0) && b);
    memset (b, 0, sizeof *b);
    int err = wd_codec_check (body, len, ATTEST_QUOTE_BINDING_MAX, NULL);
    if (err != WD_OK)
        goto out;
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    bool ok = true;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "ak");
    s_read_bin_into (&r, b->ak, &b->ak_len, ATTEST_QUOTE_AK_MAX, &ok);
    wd_read_key (&r, "blob");
    s_read_bin_into (&r, b->blob, &b->blob_len, ATTEST_QUOTE_BLOB_MAX, &ok);
    wd_read_key (&r, "ek");
    s_read_bin_into (&r, b->ek, &b->ek_len, ATTEST_QUOTE_EK_MAX, &ok);
    if (wd_read_key_opt (&r, "ek_cert"))
        s_read_bin_into (&r, b->ek_cert, &b->ek_cert_len, ATTEST_QUOTE_CERT_MAX, &ok);
    wd_read_key (&r, "node");
    wd_read_bin_fixed (&r, b->node, sizeof b->node);
    wd_read_key (&r, "secret");
    s_read_bin_into (&r, b->secret, &b->secret_len, ATTEST_QUOTE_SECRET_MAX, &ok);
    wd_read_key (&r, "seed");
    wd_read_bin_fixed (&r, b->seed, sizeof b->seed);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        goto out;
    if (!ok) {
        err = WD_ERR_BAD_LENGTH;
        goto out;
    }
    if (version != ATTEST_QUOTE_BINDING_VERSION) {
        err = WD_ERR_BAD_VERSION;
        goto out;
    }
    uint8_t blob[ATTEST_QUOTE_BLOB_MAX], secret[ATTEST_QUOTE_SECRET_MAX];
    size_t blob_len = 0, secret_len = 0;
    err = s_binding_exchange (b, blob, &blob_len, secret, &secret_len);
    if (err == WD_OK && (blob_len != b->blob_len || secret_len != b->secret_len ||
                         sodium_memcmp (blob, b->blob, blob_len) != 0 ||
                         sodium_memcmp (secret, b->secret, secret_len) != 0))
        err = ATTEST_ERR_QUOTE_BINDING;
    if (err == WD_OK)
        return WD_OK;
out:
    memset (b, 0, sizeof *b);
    return err;
}

int
attest_quote_binding_open (const uint8_t *buf, size_t len, const uint8_t chain[32],
                           const uint8_t node[32], const attest_quote_ca_t *ca,
                           const uint8_t *ek_name, attest_quote_binding_t *b,
                           uint8_t ak_name[ATTEST_QUOTE_NAME_LEN],
                           uint8_t ek_name_out[ATTEST_QUOTE_NAME_LEN])
{
    assert (buf && chain && node);
    wd_envelope_t env;
    int err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env.chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env.type, ATTEST_QUOTE_BINDING_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    if (sodium_memcmp (env.from, node, WD_PUBKEY_LEN) != 0)
        return ATTEST_ERR_QUOTE_BINDING;
    err = wd_envelope_verify (&env, chain, ATTEST_QUOTE_BINDING_TYPE);
    if (err != WD_OK)
        return err;
    attest_quote_binding_t *body = malloc (sizeof *body);
    if (!body)
        return WD_ERR_NOMEM;
    err = attest_quote_binding_decode (env.body, env.body_len, body);
    uint8_t ek[ATTEST_QUOTE_NAME_LEN];
    if (err == WD_OK && sodium_memcmp (body->node, env.from, WD_PUBKEY_LEN) != 0)
        err = ATTEST_ERR_QUOTE_BINDING;
    if (err == WD_OK && ca)
        err = attest_quote_check_ek_cert (ca, body->ek_cert, body->ek_cert_len, body->ek,
                                          body->ek_len);
    if (err == WD_OK) {
        attest_quote_name (body->ek, body->ek_len, ek);
        if (ek_name && sodium_memcmp (ek, ek_name, sizeof ek) != 0)
            err = ATTEST_ERR_QUOTE_EK_CHANGED;
    }
    if (err == WD_OK) {
        if (ak_name)
            attest_quote_name (body->ak, body->ak_len, ak_name);
        if (ek_name_out)
            memcpy (ek_name_out, ek, sizeof ek);
        if (b)
            *b = *body;
    }
    free (body);
    return err;
}

/* ---- EK certificates ----------------------------------------------------------- */

struct attest_quote_ca {
    X509_STORE *store;
};

attest_quote_ca_t *
attest_quote_ca_new (const char *path, char *why, size_t why_len)
{
    assert (path);
    attest_quote_ca_t *self = calloc (1, sizeof *self);
    if (!self || !(self->store = X509_STORE_new ())) {
        wd_err_why (why, why_len, "out of memory");
        attest_quote_ca_destroy (&self);
        return NULL;
    }
    if (X509_STORE_load_file (self->store, path) != 1) {
        wd_err_why (why, why_len, "%s: not a readable PEM file of certificates", path);
        attest_quote_ca_destroy (&self);
        return NULL;
    }
    STACK_OF (X509_OBJECT) *objs = X509_STORE_get0_objects (self->store);
    int certs = 0;
    for (int i = 0; objs && i < sk_X509_OBJECT_num (objs); i++)
        certs += X509_OBJECT_get_type (sk_X509_OBJECT_value (objs, i)) == X509_LU_X509;
    if (certs == 0) {
        wd_err_why (why, why_len, "%s: holds no certificate", path);
        attest_quote_ca_destroy (&self);
        return NULL;
    }
    return self;
}

void
attest_quote_ca_destroy (attest_quote_ca_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        X509_STORE_free ((*self_p)->store);
        free (*self_p);
        *self_p = NULL;
    }
}

/* EK certificates carry TCG extensions OpenSSL does not know (the TPM's
   subject directory attributes may be critical): that alone is accepted,
   every other verification error stands. */
static int
s_ek_verify_cb (int ok, X509_STORE_CTX *ctx)
{
    if (!ok && X509_STORE_CTX_get_error (ctx) == X509_V_ERR_UNHANDLED_CRITICAL_EXTENSION)
        return 1;
    return ok;
}

int
attest_quote_check_ek_cert (const attest_quote_ca_t *ca, const uint8_t *cert, size_t cert_len,
                            const uint8_t *ek, size_t ek_len)
{
    assert (ca && ek);
    if (!cert || cert_len == 0 || cert_len > ATTEST_QUOTE_CERT_MAX)
        return ATTEST_ERR_QUOTE_EK_CERT;
    const unsigned char *p = cert;
    X509 *x = d2i_X509 (NULL, &p, (long)cert_len);
    EVP_PKEY *key = s_ek_key (ek, ek_len);
    X509_STORE_CTX *ctx = X509_STORE_CTX_new ();
    bool ok = x && key && ctx && p == cert + cert_len &&
              X509_STORE_CTX_init (ctx, ca->store, x, NULL) == 1;
    if (ok) {
        X509_STORE_CTX_set_verify_cb (ctx, s_ek_verify_cb);
        ok = X509_verify_cert (ctx) == 1;
    }
    ok = ok && EVP_PKEY_eq (X509_get0_pubkey (x), key) == 1;
    X509_STORE_CTX_free (ctx);
    EVP_PKEY_free (key);
    X509_free (x);
    return ok ? WD_OK : ATTEST_ERR_QUOTE_EK_CERT;
}
