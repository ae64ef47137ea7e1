/*
 * Unit tests for attest_quote without a TPM: the strict TPMS_ATTEST and
 * TPMT_PUBLIC parsers on hand-built structures (truncation, trailing
 * bytes, oversized fields, bad magic, type and safe byte), quote
 * verification against an AK made with OpenSSL (so the paths a software
 * TPM cannot produce — an unsafe clock, a wrong qualifiedSigner, a second
 * bank — are covered), and the evidence body's `quote` field: round trip
 * byte for byte, and its schema rejections. The same checks against a
 * real TPM stack (swtpm) are in test_attest_tpm.c.
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
#include <openssl/ec.h>
#include <openssl/evp.h>
#include <sodium.h>

#include "attest_evidence.h"
#include "attest_quote.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

/* ---- building TPM structures -------------------------------------------- */

typedef struct {
    uint8_t b[1024];
    size_t n;
} s_buf_t;

static void
s_put (s_buf_t *b, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        b->b[b->n++] = (uint8_t)(v >> (8 * (n - 1 - i)));
}

static void
s_put2b (s_buf_t *b, const uint8_t *data, size_t n)
{
    s_put (b, n, 2);
    if (n)
        memcpy (b->b + b->n, data, n);
    b->n += n;
}

static EVP_PKEY *s_key;
static uint8_t s_ak[ATTEST_QUOTE_AK_MAX];
static size_t s_ak_len;
static uint8_t s_name[ATTEST_QUOTE_NAME_LEN];

/* The AK's TPMT_PUBLIC for point (x, y) with attributes attrs. */
static size_t
s_ak_public (uint8_t *out, const uint8_t x[32], const uint8_t y[32], uint32_t attrs)
{
    s_buf_t b = { .n = 0 };
    s_put (&b, 0x0023, 2); /* ECC */
    s_put (&b, 0x000b, 2); /* SHA-256 */
    s_put (&b, attrs, 4);
    s_put2b (&b, NULL, 0); /* authPolicy */
    s_put (&b, 0x0010, 2); /* symmetric NULL */
    s_put (&b, 0x0018, 2); /* ECDSA */
    s_put (&b, 0x000b, 2); /* with SHA-256 */
    s_put (&b, 0x0003, 2); /* NIST P-256 */
    s_put (&b, 0x0010, 2); /* kdf NULL */
    s_put2b (&b, x, 32);
    s_put2b (&b, y, 32);
    memcpy (out, b.b, b.n);
    return b.n;
}

#define S_AK_ATTRS 0x00050472u /* fixedTPM fixedParent sdo userWithAuth noDA restricted sign */

typedef struct {
    uint32_t magic;
    uint16_t type;
    const uint8_t *signer; /* NULL: the AK's qualified name */
    uint8_t nonce[32];
    uint64_t clock;
    uint32_t reset, restart;
    uint8_t safe;
    uint32_t select;
    bool two_banks;
    uint8_t digest[32];
} s_attest_t;

static size_t
s_attest (uint8_t *out, const s_attest_t *a)
{
    uint8_t qn_in[4 + ATTEST_QUOTE_NAME_LEN], qn[ATTEST_QUOTE_NAME_LEN];
    const uint8_t rh[4] = { 0x40, 0, 0, 0x0b };
    memcpy (qn_in, rh, 4);
    memcpy (qn_in + 4, s_name, sizeof s_name);
    qn[0] = 0;
    qn[1] = 0x0b;
    wd_hash_sha256 (qn + 2, qn_in, sizeof qn_in);
    s_buf_t b = { .n = 0 };
    s_put (&b, a->magic, 4);
    s_put (&b, a->type, 2);
    s_put2b (&b, a->signer ? a->signer : qn, sizeof qn);
    s_put2b (&b, a->nonce, 32);
    s_put (&b, a->clock, 8);
    s_put (&b, a->reset, 4);
    s_put (&b, a->restart, 4);
    s_put (&b, a->safe, 1);
    s_put (&b, 0x2023112100000000ull, 8); /* firmwareVersion */
    s_put (&b, a->two_banks ? 2 : 1, 4);
    s_put (&b, 0x000b, 2);
    s_put (&b, 3, 1);
    s_put (&b, a->select & 0xff, 1);
    s_put (&b, (a->select >> 8) & 0xff, 1);
    s_put (&b, (a->select >> 16) & 0xff, 1);
    if (a->two_banks) {
        s_put (&b, 0x0004, 2); /* SHA-1 */
        s_put (&b, 3, 1);
        s_put (&b, 0, 3);
    }
    s_put2b (&b, a->digest, 32);
    memcpy (out, b.b, b.n);
    return b.n;
}

/* Signs q->attest with the OpenSSL AK (ECDSA P-256, SHA-256, r ‖ s). */
static void
s_sign (attest_quote_t *q)
{
    EVP_MD_CTX *md = EVP_MD_CTX_new ();
    uint8_t der[80];
    size_t der_len = sizeof der;
    assert_int_equal (EVP_DigestSignInit (md, NULL, EVP_sha256 (), NULL, s_key), 1);
    assert_int_equal (EVP_DigestSign (md, der, &der_len, q->attest, q->attest_len), 1);
    EVP_MD_CTX_free (md);
    const uint8_t *p = der;
    ECDSA_SIG *sig = d2i_ECDSA_SIG (NULL, &p, (long)der_len);
    assert_non_null (sig);
    assert_int_equal (BN_bn2binpad (ECDSA_SIG_get0_r (sig), q->sig, 32), 32);
    assert_int_equal (BN_bn2binpad (ECDSA_SIG_get0_s (sig), q->sig + 32, 32), 32);
    ECDSA_SIG_free (sig);
}

/* A valid quote over select, PCR i holding bytes i+1. */
static void
s_quote (attest_quote_t *q, s_attest_t *a, uint32_t select)
{
    memset (q, 0, sizeof *q);
    memcpy (q->ak, s_ak, s_ak_len);
    q->ak_len = s_ak_len;
    q->select = select;
    size_t k = 0;
    for (uint32_t i = 0; i < ATTEST_QUOTE_PCR_COUNT; i++)
        if (select & (1u << i))
            memset (q->pcrs[k++], (int)i + 1, 32);
    if (a->magic == 0) {
        a->magic = ATTEST_QUOTE_MAGIC;
        a->type = ATTEST_QUOTE_TYPE;
        a->clock = 5000;
        a->reset = 2;
        a->restart = 1;
        a->safe = 1;
        memset (a->nonce, 0x42, 32);
    }
    a->select = select;
    attest_quote_pcr_digest (q, a->digest);
    q->attest_len = s_attest (q->attest, a);
    s_sign (q);
}

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    s_key = EVP_PKEY_Q_keygen (NULL, NULL, "EC", "P-256");
    if (!s_key)
        return -1;
    BIGNUM *x = NULL, *y = NULL;
    uint8_t bx[32], by[32];
    if (!EVP_PKEY_get_bn_param (s_key, OSSL_PKEY_PARAM_EC_PUB_X, &x) ||
        !EVP_PKEY_get_bn_param (s_key, OSSL_PKEY_PARAM_EC_PUB_Y, &y) ||
        BN_bn2binpad (x, bx, 32) != 32 || BN_bn2binpad (y, by, 32) != 32)
        return -1;
    BN_free (x);
    BN_free (y);
    s_ak_len = s_ak_public (s_ak, bx, by, S_AK_ATTRS);
    attest_quote_name (s_ak, s_ak_len, s_name);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    EVP_PKEY_free (s_key);
    return 0;
}

static attest_quote_expect_t
s_expect (void)
{
    attest_quote_expect_t x = { 0 };
    x.ak_name = s_name;
    return x;
}

/* ---- parser ---------------------------------------------------------------- */

static void
test_parse_attest (void **state)
{
    (void)state;
    attest_quote_t q;
    s_attest_t a = { 0 };
    s_quote (&q, &a, 0x400ff);
    attest_quote_attest_t p;
    assert_int_equal (attest_quote_parse_attest (q.attest, q.attest_len, &p), WD_OK);
    assert_int_equal (p.clock, 5000);
    assert_int_equal (p.reset_count, 2);
    assert_int_equal (p.restart_count, 1);
    assert_true (p.safe);
    assert_int_equal (p.bank_count, 1);
    assert_int_equal (p.banks[0].hash, 0x000b);
    assert_int_equal (p.extra_len, 32);
    assert_int_equal (p.digest_len, 32);

    /* Every truncation and one trailing byte. */
    for (size_t n = 6; n < q.attest_len; n++)
        assert_int_equal (attest_quote_parse_attest (q.attest, n, &p), ATTEST_ERR_QUOTE_MALFORMED);
    assert_int_equal (attest_quote_parse_attest (q.attest, 3, &p), ATTEST_ERR_QUOTE_MALFORMED);
    uint8_t longer[ATTEST_QUOTE_ATTEST_MAX];
    memcpy (longer, q.attest, q.attest_len);
    longer[q.attest_len] = 0;
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len + 1, &p),
                      ATTEST_ERR_QUOTE_MALFORMED);

    /* Magic, type, an oversized TPM2B, too many banks, a bad select size,
       a safe byte that is not 0 or 1. */
    memcpy (longer, q.attest, q.attest_len);
    longer[3] ^= 1;
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p), ATTEST_ERR_QUOTE_MAGIC);
    memcpy (longer, q.attest, q.attest_len);
    longer[4] = 0x80;
    longer[5] = 0x14; /* TPM_ST_ATTEST_CERTIFY */
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p), ATTEST_ERR_QUOTE_TYPE);
    memcpy (longer, q.attest, q.attest_len);
    longer[6] = 0x01; /* qualifiedSigner size 0x0122 */
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p),
                      ATTEST_ERR_QUOTE_MALFORMED);
    size_t safe_at = 6 + 2 + 34 + 2 + 32 + 8 + 4 + 4;
    memcpy (longer, q.attest, q.attest_len);
    longer[safe_at] = 2;
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p),
                      ATTEST_ERR_QUOTE_MALFORMED);
    size_t count_at = safe_at + 1 + 8;
    memcpy (longer, q.attest, q.attest_len);
    longer[count_at + 3] = 17;
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p),
                      ATTEST_ERR_QUOTE_MALFORMED);
    memcpy (longer, q.attest, q.attest_len);
    longer[count_at + 4 + 2] = 5; /* sizeofSelect */
    assert_int_equal (attest_quote_parse_attest (longer, q.attest_len, &p),
                      ATTEST_ERR_QUOTE_MALFORMED);
    assert_int_equal (attest_quote_parse_attest (NULL, 0, &p), ATTEST_ERR_QUOTE_MALFORMED);
}

static void
test_parse_ak (void **state)
{
    (void)state;
    uint8_t x[32], y[32], pub[ATTEST_QUOTE_AK_MAX];
    assert_int_equal (attest_quote_parse_ak (s_ak, s_ak_len, x, y), WD_OK);
    /* Not restricted; decrypt too; truncated; trailing. */
    size_t n = s_ak_public (pub, x, y, S_AK_ATTRS & ~0x00010000u);
    assert_int_equal (attest_quote_parse_ak (pub, n, NULL, NULL), ATTEST_ERR_QUOTE_AK);
    n = s_ak_public (pub, x, y, S_AK_ATTRS | 0x00020000u);
    assert_int_equal (attest_quote_parse_ak (pub, n, NULL, NULL), ATTEST_ERR_QUOTE_AK);
    assert_int_equal (attest_quote_parse_ak (s_ak, s_ak_len - 1, NULL, NULL), ATTEST_ERR_QUOTE_AK);
    memcpy (pub, s_ak, s_ak_len);
    pub[s_ak_len] = 0;
    assert_int_equal (attest_quote_parse_ak (pub, s_ak_len + 1, NULL, NULL), ATTEST_ERR_QUOTE_AK);
    /* Another curve (P-384 id). */
    memcpy (pub, s_ak, s_ak_len);
    pub[17] = 0x04;
    assert_int_equal (attest_quote_parse_ak (pub, s_ak_len, NULL, NULL), ATTEST_ERR_QUOTE_AK);
}

/* ---- verification ------------------------------------------------------------ */

static void
test_verify (void **state)
{
    (void)state;
    attest_quote_t q;
    s_attest_t a = { 0 };
    s_quote (&q, &a, 0x4000ff);
    attest_quote_expect_t x = s_expect ();
    x.required = 0xff;
    attest_quote_clock_t c;
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, &c), WD_OK);
    assert_int_equal (c.clock, 5000);

    /* The log register matches the quoted PCR 22 value, or not. */
    uint8_t reg[32];
    memset (reg, 23, 32);
    assert_int_equal (attest_quote_verify (&q, a.nonce, reg, 22, &x, NULL), WD_OK);
    reg[0] ^= 1;
    assert_int_equal (attest_quote_verify (&q, a.nonce, reg, 22, &x, NULL),
                      ATTEST_ERR_QUOTE_PCR_LOG);
    /* A log PCR the quote does not select is not compared. */
    assert_int_equal (attest_quote_verify (&q, a.nonce, reg, 10, &x, NULL), WD_OK);

    /* A point that is not on the curve. */
    attest_quote_t bad = q;
    bad.ak[bad.ak_len - 1] ^= 1;
    uint8_t name[ATTEST_QUOTE_NAME_LEN];
    attest_quote_name (bad.ak, bad.ak_len, name);
    x.ak_name = name;
    assert_int_equal (attest_quote_verify (&bad, a.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SIGNATURE);
}

static void
test_verify_rejections (void **state)
{
    (void)state;
    attest_quote_expect_t x = s_expect ();
    attest_quote_t q;

    s_attest_t a = { 0 };
    a.safe = 0;
    a.magic = ATTEST_QUOTE_MAGIC;
    a.type = ATTEST_QUOTE_TYPE;
    a.clock = 7;
    s_quote (&q, &a, 0xff);
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_UNSAFE);

    uint8_t wrong[ATTEST_QUOTE_NAME_LEN];
    memcpy (wrong, s_name, sizeof wrong); /* the name, not the qualified name */
    a = (s_attest_t){ 0 };
    s_quote (&q, &a, 0xff);
    a.signer = wrong;
    q.attest_len = s_attest (q.attest, &a);
    s_sign (&q);
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SIGNER);

    a = (s_attest_t){ 0 };
    s_quote (&q, &a, 0xff);
    a.two_banks = true;
    q.attest_len = s_attest (q.attest, &a);
    s_sign (&q);
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SELECTION);

    /* Clock rules: same counts need a later clock; a new boot (reset
       count up) with a later clock is fine. */
    a = (s_attest_t){ 0 };
    s_quote (&q, &a, 0xff);
    attest_quote_clock_t last = { .clock = 4000, .reset_count = 1, .restart_count = 9 };
    x.last = &last;
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL), WD_OK);
    last = (attest_quote_clock_t){ .clock = 5000, .reset_count = 2, .restart_count = 1 };
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_CLOCK);
    last = (attest_quote_clock_t){ .clock = 6000, .reset_count = 1, .restart_count = 0 };
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_CLOCK);
    last = (attest_quote_clock_t){ .clock = 10, .reset_count = 3, .restart_count = 0 };
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL), ATTEST_ERR_QUOTE_RESET);
    last = (attest_quote_clock_t){ .clock = 10, .reset_count = 2, .restart_count = 2 };
    assert_int_equal (attest_quote_verify (&q, a.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_RESTART);
}

/* ---- the evidence field ------------------------------------------------------- */

static void
s_evidence (attest_evidence_t *ev)
{
    uint8_t pk[32];
    memset (pk, 0x11, sizeof pk);
    attest_evidence_init (ev, pk, "software", "clear", 1767225600u);
    memset (ev->nonce, 0x42, 32);
    ev->has_quote = true;
    s_attest_t a = { 0 };
    s_quote (&ev->quote, &a, 0x4007);
}

static void
test_evidence_round_trip (void **state)
{
    (void)state;
    static attest_evidence_t ev, out;
    s_evidence (&ev);
    uint8_t *body, *again;
    size_t len, again_len;
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), WD_OK);
    assert_int_equal (attest_evidence_decode (body, len, &out), WD_OK);
    assert_true (out.has_quote);
    assert_int_equal (out.quote.select, 0x4007);
    assert_int_equal (out.quote.attest_len, ev.quote.attest_len);
    assert_memory_equal (out.quote.attest, ev.quote.attest, ev.quote.attest_len);
    assert_memory_equal (out.quote.pcrs, ev.quote.pcrs, 4 * 32);
    assert_int_equal (attest_evidence_encode (&out, &again, &again_len), WD_OK);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, body, len);
    free (again);
    free (body);

    /* Without the quote the body is the old schema's. */
    ev.has_quote = false;
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), WD_OK);
    assert_int_equal (attest_evidence_decode (body, len, &out), WD_OK);
    assert_false (out.has_quote);
    free (body);
}

static uint8_t *
s_find (uint8_t *hay, size_t len, const uint8_t *needle, size_t n)
{
    for (size_t i = 0; i + n <= len; i++)
        if (memcmp (hay + i, needle, n) == 0)
            return hay + i;
    return NULL;
}

static void
test_evidence_schema (void **state)
{
    (void)state;
    static attest_evidence_t ev, out;
    uint8_t *body;
    size_t len;

    s_evidence (&ev);
    ev.quote.select = 0;
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);
    s_evidence (&ev);
    ev.quote.ak_len = 0;
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), ATTEST_ERR_EVIDENCE_FIELD);

    /* More PCR values than select names: rewrite select in the body (its
       value 0x4007 is "select" cd 4007). */
    s_evidence (&ev);
    assert_int_equal (attest_evidence_encode (&ev, &body, &len), WD_OK);
    uint8_t *at = s_find (body, len, (const uint8_t *)"\xa6select\xcd\x40\x07", 10);
    assert_non_null (at);
    at[9] = 0x03; /* 0x4003: three PCRs named, four values */
    assert_int_equal (attest_evidence_decode (body, len, &out), ATTEST_ERR_EVIDENCE_FIELD);
    at[8] = 0xff; /* 0xff03: ten PCRs named */
    assert_int_equal (attest_evidence_decode (body, len, &out), ATTEST_ERR_EVIDENCE_FIELD);
    free (body);
}

/* The Python vector (tests/vectors/evidence/evidence_vectors.py): node
   evidence with a quote over PCRs 0-7 and 10, PCR 10 = the log register.
   Decoding and re-encoding gives its bytes back; the quote's TPMS_ATTEST,
   built from the TPM 2.0 layouts independently, parses, carries the nonce
   and the digest of the claimed PCR values. */
static void
test_evidence_vector (void **state)
{
    (void)state;
    static attest_evidence_t ev;
    size_t len, sha_len, again_len;
    uint8_t *body = test_vector_hex ("evidence/evidence.txt", "quote_body", &len);
    uint8_t *sha256 = test_vector_hex ("evidence/evidence.txt", "node_sha256", &sha_len);
    assert_int_equal (attest_evidence_decode (body, len, &ev), WD_OK);
    assert_true (ev.has_quote && ev.has_log);
    assert_int_equal (ev.quote.select, 0x4ff);
    assert_memory_equal (attest_quote_pcr (&ev.quote, 10), sha256, 32);
    assert_memory_equal (ev.log.sha256, sha256, 32);
    attest_quote_attest_t a;
    assert_int_equal (attest_quote_parse_attest (ev.quote.attest, ev.quote.attest_len, &a), WD_OK);
    assert_int_equal (a.clock, 123456789);
    assert_int_equal (a.reset_count, 3);
    assert_int_equal (a.restart_count, 1);
    assert_true (a.safe);
    assert_int_equal (a.extra_len, 32);
    assert_memory_equal (a.extra, ev.nonce, 32);
    uint8_t digest[32];
    attest_quote_pcr_digest (&ev.quote, digest);
    assert_memory_equal (a.digest, digest, 32);
    assert_int_equal (attest_quote_parse_ak (ev.quote.ak, ev.quote.ak_len, NULL, NULL), WD_OK);
    uint8_t *again;
    assert_int_equal (attest_evidence_encode (&ev, &again, &again_len), WD_OK);
    assert_int_equal (again_len, len);
    assert_memory_equal (again, body, len);
    /* Everything up to the signature passes verification; the fixed
       signature bytes do not. */
    uint8_t name[ATTEST_QUOTE_NAME_LEN];
    attest_quote_name (ev.quote.ak, ev.quote.ak_len, name);
    attest_quote_expect_t x = { .ak_name = name };
    assert_int_equal (attest_quote_verify (&ev.quote, ev.nonce, NULL, 0, &x, NULL),
                      ATTEST_ERR_QUOTE_SIGNATURE);
    free (again);
    free (sha256);
    free (body);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_attest),
        cmocka_unit_test (test_parse_ak),
        cmocka_unit_test (test_verify),
        cmocka_unit_test (test_verify_rejections),
        cmocka_unit_test (test_evidence_round_trip),
        cmocka_unit_test (test_evidence_schema),
        cmocka_unit_test (test_evidence_vector),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
