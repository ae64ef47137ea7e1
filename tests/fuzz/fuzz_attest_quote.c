/*
 * Fuzz harness for attest_quote's parsers of outside input: the TPMS_ATTEST
 * parser, the AK TPMT_PUBLIC parser, the evidence body's quote map, and
 * attest_quote_verify on whatever parses. None may crash or read out of
 * bounds; the TPMS_ATTEST parser must be strict — whatever it accepts,
 * marshalled again from the parsed fields, gives back the input exactly —
 * and the quote map must round-trip through attest_quote_write.
 *
 * The first byte picks the target (0: TPMS_ATTEST, 1: TPMT_PUBLIC, 2: quote
 * map); the rest is the input. Seeds (corpus/attest_quote/): the vector's
 * TPMS_ATTEST, AK and quote map (tests/vectors/evidence/evidence.txt,
 * quote_body), and broken variants.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_quote.h"
#include "wd_codec.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static size_t
s_put (uint8_t *out, size_t off, uint64_t v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        out[off + i] = (uint8_t)(v >> (8 * (n - 1 - i)));
    return off + n;
}

static size_t
s_put2b (uint8_t *out, size_t off, const uint8_t *p, size_t n)
{
    off = s_put (out, off, n, 2);
    memcpy (out + off, p, n);
    return off + n;
}

/* Marshals a parsed TPMS_ATTEST back (TPM 2.0 Part 2 layout). */
static size_t
s_marshal (const attest_quote_attest_t *a, uint8_t *out)
{
    size_t off = 0;
    off = s_put (out, off, ATTEST_QUOTE_MAGIC, 4);
    off = s_put (out, off, ATTEST_QUOTE_TYPE, 2);
    off = s_put2b (out, off, a->signer, a->signer_len);
    off = s_put2b (out, off, a->extra, a->extra_len);
    off = s_put (out, off, a->clock, 8);
    off = s_put (out, off, a->reset_count, 4);
    off = s_put (out, off, a->restart_count, 4);
    off = s_put (out, off, a->safe, 1);
    off = s_put (out, off, a->firmware, 8);
    off = s_put (out, off, a->bank_count, 4);
    for (size_t i = 0; i < a->bank_count; i++) {
        off = s_put (out, off, a->banks[i].hash, 2);
        off = s_put (out, off, a->banks[i].size, 1);
        memcpy (out + off, a->banks[i].bits, a->banks[i].size);
        off += a->banks[i].size;
    }
    return s_put2b (out, off, a->digest, a->digest_len);
}

static void
s_attest (const uint8_t *data, size_t size)
{
    attest_quote_attest_t a;
    if (attest_quote_parse_attest (data, size, &a) != WD_OK)
        return;
    static uint8_t again[4096];
    size_t len = s_marshal (&a, again);
    assert (len == size && memcmp (again, data, size) == 0);

    /* Verification on it: a fixed AK, so it must stop at the signature. */
    if (size > ATTEST_QUOTE_ATTEST_MAX)
        return;
    static attest_quote_t q;
    memset (&q, 0, sizeof q);
    memcpy (q.attest, data, size);
    q.attest_len = size;
    q.select = 1;
    uint8_t name[ATTEST_QUOTE_NAME_LEN] = { 0 };
    attest_quote_expect_t x = { .ak_name = name };
    uint8_t nonce[32] = { 0 };
    (void)attest_quote_verify (&q, nonce, NULL, 0, &x, NULL);
}

static void
s_ak (const uint8_t *data, size_t size)
{
    uint8_t x[32], y[32];
    if (attest_quote_parse_ak (data, size, x, y) != WD_OK || size > ATTEST_QUOTE_AK_MAX)
        return;
    /* A parsed AK reaches the curve check and the signature. */
    static attest_quote_t q;
    memset (&q, 0, sizeof q);
    memcpy (q.ak, data, size);
    q.ak_len = size;
    q.attest_len = 1;
    q.select = 1;
    uint8_t name[ATTEST_QUOTE_NAME_LEN], nonce[32] = { 0 };
    attest_quote_name (data, size, name);
    attest_quote_expect_t ex = { .ak_name = name };
    int rc = attest_quote_verify (&q, nonce, NULL, 0, &ex, NULL);
    assert (rc == ATTEST_ERR_QUOTE_MALFORMED || rc == ATTEST_ERR_QUOTE_MAGIC);
}

static void
s_map (const uint8_t *data, size_t size)
{
    if (wd_codec_check (data, size, ATTEST_QUOTE_ATTEST_MAX, NULL) != WD_OK)
        return;
    static attest_quote_t q;
    memset (&q, 0, sizeof q);
    wd_reader_t r;
    bool ok = true;
    wd_reader_init (&r, data, size);
    attest_quote_read (&r, &q, &ok);
    if (wd_reader_finish (&r) != WD_OK || !ok)
        return;
    assert (attest_quote_valid (&q));
    wd_writer_t *w = wd_writer_new ();
    attest_quote_write (w, &q);
    size_t len;
    const uint8_t *again = wd_writer_data (w, &len);
    assert (len == size && memcmp (again, data, size) == 0);
    wd_writer_destroy (&w);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    switch (data[0] % 3) {
        case 0:
            s_attest (data + 1, size - 1);
            break;
        case 1:
            s_ak (data + 1, size - 1);
            break;
        default:
            s_map (data + 1, size - 1);
            break;
    }
    return 0;
}
