/*
 * Unit tests of capsule_ledger (`warden-verify ledger`): a real certified
 * chain is built with the consensus library (cons_test_chain), exported
 * with cons_ledger_export, and re-checked by the libsodium-only verifier;
 * then single changes to the export — a block, a certificate, a record,
 * the block order, the genesis, the chain id, the signer weight — must each
 * be rejected with their exact verdict and height.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>
#include <sodium.h>

#include "capsule_ledger.h"
#include "cons_test_chain.h"
#include "test_support.h"

#define S_HEIGHT 5

typedef struct {
    uint8_t *block[S_HEIGHT + 1];
    size_t block_len[S_HEIGHT + 1];
    uint8_t *cert[S_HEIGHT + 1];
    size_t cert_len[S_HEIGHT + 1];
} s_blocks_t;

static tchain_t s_t;
static uint8_t *s_export, *s_genesis;
static size_t s_export_len, s_genesis_len;
static s_blocks_t s_b;
static uint8_t s_tip[32];

static int
s_collect (void *ctx, uint64_t height, const uint8_t *block, size_t block_len, const uint8_t *cert,
           size_t cert_len)
{
    s_blocks_t *b = ctx;
    b->block[height] = malloc (block_len);
    b->cert[height] = malloc (cert_len);
    memcpy (b->block[height], block, block_len);
    memcpy (b->cert[height], cert, cert_len);
    b->block_len[height] = block_len;
    b->cert_len[height] = cert_len;
    return 0;
}

static uint8_t *
s_slurp (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    assert_non_null (f);
    fseek (f, 0, SEEK_END);
    long n = ftell (f);
    fseek (f, 0, SEEK_SET);
    uint8_t *buf = malloc ((size_t)n);
    assert_int_equal (fread (buf, 1, (size_t)n, f), (size_t)n);
    fclose (f);
    *len = (size_t)n;
    return buf;
}

/* Commits height blocks to a fresh ledger of t and exports it to path. */
static void
s_build (tchain_t *t, const char *name, uint64_t height, uint32_t skip_mask, uint8_t **out,
         size_t *out_len, s_blocks_t *blocks, uint8_t tip[32])
{
    char db[512], path[512], why[256];
    snprintf (db, sizeof db, "%s/%s.db", test_tmpdir (), name);
    snprintf (path, sizeof path, "%s/%s.export", test_tmpdir (), name);
    cons_ledger_t *l;
    assert_int_equal (
        cons_ledger_open (db, t->genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why), WD_OK);
    for (uint64_t h = 1; h <= height; h++) {
        size_t a, b;
        uint8_t *r1 = tchain_verdict (t, 1 % t->n, 2 % t->n, h % 2 == 0, h, &a);
        uint8_t *r2 = tchain_note (t, 3 % t->n, "note", h, &b);
        cons_bytes_t recs[2] = { { r1, a }, { r2, b } };
        assert_int_equal (tchain_commit (t, l, recs, h % 3, h == 4 ? skip_mask : 0, 1000 * h),
                          WD_OK);
        free (r1);
        free (r2);
    }
    assert_int_equal (cons_ledger_export (l, path), WD_OK);
    if (blocks)
        assert_int_equal (cons_ledger_iterate (l, 1, s_collect, blocks), WD_OK);
    cons_ledger_tip (l, tip, NULL, NULL);
    cons_ledger_destroy (&l);
    *out = s_slurp (path, out_len);
}

static int
s_setup (void **state)
{
    (void)state;
    tchain_init (&s_t, 4, 0x1, 0, 0); /* epoch_blocks 100: the genesis set throughout */
    assert_int_equal (wd_genesis_encode (s_t.genesis, &s_genesis, &s_genesis_len), WD_OK);
    s_build (&s_t, "main", S_HEIGHT, 0x2, &s_export, &s_export_len, &s_b, s_tip);
    return 0;
}

static int
s_teardown (void **state)
{
    for (int h = 1; h <= S_HEIGHT; h++) {
        free (s_b.block[h]);
        free (s_b.cert[h]);
    }
    free (s_export);
    free (s_genesis);
    tchain_fini (&s_t);
    return test_tmpdir_teardown (state);
}

/* Offset of needle in hay (asserted to be there). */
static size_t
s_find (const uint8_t *hay, size_t hay_len, const uint8_t *needle, size_t len)
{
    const uint8_t *p = memmem (hay, hay_len, needle, len);
    assert_non_null (p);
    return (size_t)(p - hay);
}

/* Verifies buf against the genesis, expecting want at bad_height. */
static void
s_expect (const uint8_t *buf, size_t len, const uint8_t *genesis, size_t genesis_len,
          capsule_ledger_verdict_t want, uint64_t bad_height)
{
    capsule_ledger_info_t info;
    char detail[256];
    capsule_ledger_verdict_t v =
        capsule_ledger_verify (buf, len, genesis, genesis_len, &info, detail, sizeof detail);
    if (v != want)
        fprintf (stderr, "got %s (%s)\n", capsule_ledger_name (v), detail);
    assert_int_equal (v, want);
    assert_int_equal (info.bad_height, bad_height);
    if (want != CAPSULE_LEDGER_OK)
        assert_int_equal (info.blocks, bad_height ? bad_height - 1 : 0);
}

static void
test_ok (void **state)
{
    (void)state;
    capsule_ledger_info_t info;
    char detail[256];
    assert_int_equal (capsule_ledger_verify (s_export, s_export_len, s_genesis, s_genesis_len,
                                             &info, detail, sizeof detail),
                      CAPSULE_LEDGER_OK);
    assert_int_equal (info.blocks, S_HEIGHT);
    assert_int_equal (info.records, 1 + 2 + 0 + 1 + 2); /* h % 3 records each */
    assert_int_equal (info.weights_unchecked, 0);
    assert_int_equal (info.nodes, 4);
    assert_memory_equal (info.chain, s_t.chain, 32);
    assert_memory_equal (info.tip, s_tip, 32);
    assert_string_equal (capsule_ledger_name (CAPSULE_LEDGER_CERT_WEIGHT),
                         "CAPSULE_LEDGER_CERT_WEIGHT");
}

/* One byte of block 3's seed flipped. */
static void
test_block_byte (void **state)
{
    (void)state;
    uint8_t *x = malloc (s_export_len);
    memcpy (x, s_export, s_export_len);
    size_t at = s_find (x, s_export_len, s_b.block[3], s_b.block_len[3]);
    at += s_find (s_b.block[3], s_b.block_len[3], (const uint8_t *)"\xa4seed\xc4\x20", 7) + 7;
    x[at + 5] ^= 0x01;
    s_expect (x, s_export_len, s_genesis, s_genesis_len, CAPSULE_LEDGER_BLOCK_SEED, 3);
    free (x);
}

/* One byte of a signature in block 2's certificate flipped. */
static void
test_cert_byte (void **state)
{
    (void)state;
    uint8_t *x = malloc (s_export_len);
    memcpy (x, s_export, s_export_len);
    size_t at = s_find (x, s_export_len, s_b.cert[2], s_b.cert_len[2]);
    at += s_find (s_b.cert[2], s_b.cert_len[2], (const uint8_t *)"\xc4\x40", 2) + 2;
    x[at + 10] ^= 0x80;
    s_expect (x, s_export_len, s_genesis, s_genesis_len, CAPSULE_LEDGER_CERT_SIGNATURE, 2);
    free (x);
}

/* One byte of a record in block 2 flipped (its signature). */
static void
test_record_byte (void **state)
{
    (void)state;
    uint8_t *x = malloc (s_export_len);
    memcpy (x, s_export, s_export_len);
    size_t at = s_find (x, s_export_len, s_b.block[2], s_b.block_len[2]);
    at += s_find (s_b.block[2], s_b.block_len[2], (const uint8_t *)"\xa3sig\xc4\x40", 6) + 6;
    x[at + 3] ^= 0x04;
    s_expect (x, s_export_len, s_genesis, s_genesis_len, CAPSULE_LEDGER_BLOCK_ROOT, 2);
    free (x);
}

/* Start of the [block, cert] entry whose block is at offset at. */
static size_t
s_entry_start (size_t at, size_t block_len)
{
    return at - 1 - (block_len < 256 ? 2 : block_len < 65536 ? 3 : 5);
}

/* Blocks 2 and 3 swapped. */
static void
test_reordered (void **state)
{
    (void)state;
    uint8_t *x = malloc (s_export_len);
    memcpy (x, s_export, s_export_len);
    size_t b2 = s_entry_start (s_find (s_export, s_export_len, s_b.block[2], s_b.block_len[2]),
                               s_b.block_len[2]);
    size_t b3 = s_entry_start (s_find (s_export, s_export_len, s_b.block[3], s_b.block_len[3]),
                               s_b.block_len[3]);
    size_t end = s_find (s_export + b3, s_export_len - b3, s_b.cert[3], s_b.cert_len[3]) + b3 +
                 s_b.cert_len[3];
    memcpy (x + b2, s_export + b3, end - b3);
    memcpy (x + b2 + (end - b3), s_export + b2, b3 - b2);
    s_expect (x, s_export_len, s_genesis, s_genesis_len, CAPSULE_LEDGER_BLOCK_HEIGHT, 2);
    free (x);
}

/* The verifier is given another cluster's genesis, or a damaged one, or
   the export's chain field is wrong. */
static void
test_genesis (void **state)
{
    (void)state;
    tchain_t other;
    tchain_init (&other, 3, 0, 0, 0);
    uint8_t *g;
    size_t glen;
    assert_int_equal (wd_genesis_encode (other.genesis, &g, &glen), WD_OK);
    s_expect (s_export, s_export_len, g, glen, CAPSULE_LEDGER_GENESIS_MISMATCH, 0);
    free (g);
    tchain_fini (&other);

    uint8_t *bad = malloc (s_genesis_len);
    memcpy (bad, s_genesis, s_genesis_len);
    bad[s_genesis_len / 2] ^= 0x01; /* inside a node certificate */
    s_expect (s_export, s_export_len, bad, s_genesis_len, CAPSULE_LEDGER_GENESIS_FORMAT, 0);
    free (bad);

    uint8_t *x = malloc (s_export_len);
    memcpy (x, s_export, s_export_len);
    size_t after = s_find (x, s_export_len, s_b.cert[S_HEIGHT], s_b.cert_len[S_HEIGHT]) +
                   s_b.cert_len[S_HEIGHT]; /* the top-level chain key follows the blocks */
    x[after +
      s_find (x + after, s_export_len - after,
              (const uint8_t *)"\xa5"
                               "chain\xc4\x20",
              8) +
      8] ^= 0x01;
    s_expect (x, s_export_len, s_genesis, s_genesis_len, CAPSULE_LEDGER_CHAIN_ID, 0);
    free (x);

    s_expect (s_export, s_export_len - 1, s_genesis, s_genesis_len, CAPSULE_LEDGER_EXPORT_FORMAT,
              0);
}

/* The last block's certificate replaced by one with only 2 of 4 signers:
   2/3 of the weight is not reached. */
static void
test_weight (void **state)
{
    (void)state;
    cons_validator_t set[4];
    for (int i = 0; i < 4; i++)
        memcpy (set[i].pk, s_t.pk[i], 32), set[i].weight = 1;
    size_t clen;
    uint8_t *cert = tchain_cert (&s_t, set, 4, S_HEIGHT, s_b.block[S_HEIGHT],
                                 s_b.block_len[S_HEIGHT], 0x3, &clen);
    size_t at = s_find (s_export, s_export_len, s_b.cert[S_HEIGHT], s_b.cert_len[S_HEIGHT]);
    size_t old_len = s_b.cert_len[S_HEIGHT], old_hdr = old_len < 256 ? 2 : 3;
    size_t hdr = clen < 256 ? 2 : 3;
    size_t tail = s_export_len - at - old_len;
    uint8_t *x = malloc (s_export_len + clen + 3);
    memcpy (x, s_export, at - old_hdr);
    size_t n = at - old_hdr;
    if (hdr == 2)
        x[n++] = 0xc4, x[n++] = (uint8_t)clen;
    else
        x[n++] = 0xc5, x[n++] = (uint8_t)(clen >> 8), x[n++] = (uint8_t)clen;
    memcpy (x + n, cert, clen);
    memcpy (x + n + clen, s_export + at + old_len, tail);
    s_expect (x, n + clen + tail, s_genesis, s_genesis_len, CAPSULE_LEDGER_CERT_WEIGHT, S_HEIGHT);
    free (x);
    free (cert);
}

/* Epochs past seed_lookback: weights come from the reputation function,
   so the verifier checks signatures but counts the blocks as unchecked. */
static void
test_later_epochs (void **state)
{
    (void)state;
    tchain_t t;
    tchain_init (&t, 4, 0x1, 2, 1);
    uint8_t *g, *x, tip[32];
    size_t glen, xlen;
    assert_int_equal (wd_genesis_encode (t.genesis, &g, &glen), WD_OK);
    s_build (&t, "epochs", 6, 0x1, &x, &xlen, NULL, tip);
    capsule_ledger_info_t info;
    char detail[256];
    assert_int_equal (capsule_ledger_verify (x, xlen, g, glen, &info, detail, sizeof detail),
                      CAPSULE_LEDGER_OK);
    assert_int_equal (info.blocks, 6);
    assert_int_equal (info.weights_unchecked, 4); /* heights 3..6 */
    assert_memory_equal (info.tip, tip, 32);
    free (x);
    free (g);
    tchain_fini (&t);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ok),        cmocka_unit_test (test_block_byte),
        cmocka_unit_test (test_cert_byte), cmocka_unit_test (test_record_byte),
        cmocka_unit_test (test_reordered), cmocka_unit_test (test_genesis),
        cmocka_unit_test (test_weight),    cmocka_unit_test (test_later_epochs),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
