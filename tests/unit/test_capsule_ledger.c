/*
 * Unit tests of capsule_ledger (`warden-verify ledger`): a real certified
 * chain is built with the consensus library (cons_test_chain), exported
 * with cons_ledger_export, and re-checked by the libsodium-only verifier;
 * then single changes to the export — a block, a certificate, a record,
 * the block order, the genesis, the chain id, the signer weight — must each
 * be rejected with their exact verdict and height. A chain with a join and
 * a leave verifies, and certified blocks holding membership records the
 * rules refuse are rejected with theirs.
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
#include "wd_codec.h"

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

static int
s_sign_sk (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
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

/* ---- membership: join and leave records (docs/PROTOCOL.md "Membership
   transactions", warden-verify's part) ----------------------------------- */

/* An export being written: the map's blocks array entries. */
typedef struct {
    wd_writer_t *w;
    size_t count;
} s_entries_t;

static int
s_entry (void *ctx, uint64_t height, const uint8_t *block, size_t block_len, const uint8_t *cert,
         size_t cert_len)
{
    (void)height;
    s_entries_t *e = ctx;
    wd_writer_array (e->w, 2);
    wd_writer_bin (e->w, block, block_len);
    wd_writer_bin (e->w, cert, cert_len);
    e->count++;
    return 0;
}

/* The export of l's blocks followed by one more block on its tip, holding
   records (whatever the ledger would say of them: proposed, not checked)
   and certified by every validator of its height. Caller frees. */
static uint8_t *
s_export_plus (cons_ledger_t *l, const cons_bytes_t *records, size_t count, size_t *len)
{
    uint64_t h = cons_ledger_height (l) + 1, t;
    cons_ledger_tip (l, NULL, NULL, &t);
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, h, &set, &n), WD_OK);
    uint8_t *block, *cert;
    size_t block_len, cert_len;
    assert_int_equal (
        cons_ledger_propose (l, t + 1000, set[0].pk, NULL, records, count, &block, &block_len),
        WD_OK);
    cert = tchain_cert (&s_t, set, n, h, block, block_len, 0, &cert_len);
    s_entries_t e = { wd_writer_new (), 0 };
    wd_writer_map (e.w, 5);
    wd_writer_key (e.w, "blocks");
    wd_writer_array (e.w, h);
    if (h > 1)
        assert_int_equal (cons_ledger_iterate (l, 1, s_entry, &e), WD_OK);
    s_entry (&e, h, block, block_len, cert, cert_len);
    assert_int_equal (e.count, h);
    wd_writer_key (e.w, "chain");
    wd_writer_bin (e.w, s_t.chain, 32);
    wd_writer_key (e.w, "genesis");
    wd_writer_bin (e.w, s_genesis, s_genesis_len);
    wd_writer_key (e.w, "height");
    wd_writer_uint (e.w, h);
    wd_writer_key (e.w, "v");
    wd_writer_uint (e.w, 1);
    uint8_t *out = wd_writer_take (e.w, len);
    wd_writer_destroy (&e.w);
    free (block);
    free (cert);
    return out;
}

/* Any envelope of type "note" signed by (pk, sk). Caller frees. */
static uint8_t *
s_note_by (const uint8_t *pk, const uint8_t *sk, uint64_t n, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "n");
    wd_writer_uint (w, n);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    uint8_t *out;
    assert_int_equal (
        wd_envelope_seal ("note", s_t.chain, pk, body, body_len, s_sign_sk, (void *)sk, &out, len),
        WD_OK);
    wd_writer_destroy (&w);
    return out;
}

/* A next block of l holding the records (taken) must be refused with want
   at its height. */
static void
s_expect_next (cons_ledger_t *l, uint8_t **recs, const size_t *lens, size_t count,
               capsule_ledger_verdict_t want)
{
    cons_bytes_t r[4];
    assert_true (count <= 4);
    for (size_t i = 0; i < count; i++)
        r[i] = (cons_bytes_t){ recs[i], lens[i] };
    size_t len;
    uint8_t *x = s_export_plus (l, r, count, &len);
    s_expect (x, len, s_genesis, s_genesis_len, want, cons_ledger_height (l) + 1);
    free (x);
    for (size_t i = 0; i < count; i++)
        free (recs[i]);
}

/* A chain where a node joins (sponsored by a member), publishes a record
   and leaves verifies; then each refusal with its verdict: a record of the
   newcomer in its join's block, a join signed by a non-member, a join
   whose request is for another chain, a join of a key that has a row, a
   leave by a non-member (never one, or one that left), a leave naming
   another node, a record of a node after its leave. */
static void
test_membership (void **state)
{
    (void)state;
    char db[512], why[256];
    snprintf (db, sizeof db, "%s/members.db", test_tmpdir ());
    cons_ledger_t *l;
    assert_int_equal (
        cons_ledger_open (db, s_t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why), WD_OK);
    tchain_newcomer_t a, b;
    tchain_newcomer (&a, "joiner-a", 0x61);
    tchain_newcomer (&b, "joiner-b", 0x71);
    uint8_t *recs[4];
    size_t lens[4];
    static const uint8_t other_chain[32] = { 0xee };

    /* height 1: the newcomer's own record in the block of its join */
    recs[0] = tchain_join (&s_t, &a, s_t.pk[1], s_t.sk[1], NULL, &lens[0]);
    recs[1] = s_note_by (a.pk, a.sk, 1, &lens[1]);
    s_expect_next (l, recs, lens, 2, CAPSULE_LEDGER_RECORD_SIGNER);

    /* the good chain: 1 join of a, 2 a's note, 3 a's leave */
    size_t len;
    uint8_t *r = tchain_join (&s_t, &a, s_t.pk[1], s_t.sk[1], NULL, &len);
    cons_bytes_t one = { r, len };
    assert_int_equal (tchain_commit (&s_t, l, &one, 1, 0, 1000), WD_OK);
    free (r);
    /* height 2: a join sponsored by a non-member (b itself), a join-request
       of another chain, a join of a key that has a row */
    recs[0] = tchain_join (&s_t, &b, b.pk, b.sk, NULL, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_SIGNER);
    recs[0] = tchain_join (&s_t, &b, s_t.pk[2], s_t.sk[2], other_chain, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_FORMAT);
    recs[0] = tchain_join (&s_t, &a, s_t.pk[2], s_t.sk[2], NULL, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_FORMAT);
    /* ... a leave by a non-member, a leave naming another node */
    recs[0] = tchain_leave (&s_t, b.pk, b.sk, b.pk, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_SIGNER);
    recs[0] = tchain_leave (&s_t, a.pk, a.sk, s_t.pk[3], &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_FORMAT);

    r = s_note_by (a.pk, a.sk, 2, &len);
    one = (cons_bytes_t){ r, len };
    assert_int_equal (tchain_commit (&s_t, l, &one, 1, 0, 2000), WD_OK);
    free (r);
    r = tchain_leave (&s_t, a.pk, a.sk, a.pk, &len);
    one = (cons_bytes_t){ r, len };
    assert_int_equal (tchain_commit (&s_t, l, &one, 1, 0, 3000), WD_OK);
    free (r);
    char path[512];
    snprintf (path, sizeof path, "%s/members.export", test_tmpdir ());
    assert_int_equal (cons_ledger_export (l, path), WD_OK);
    uint8_t *x = s_slurp (path, &len);
    capsule_ledger_info_t info;
    char detail[256];
    capsule_ledger_verdict_t v =
        capsule_ledger_verify (x, len, s_genesis, s_genesis_len, &info, detail, sizeof detail);
    if (v != CAPSULE_LEDGER_OK)
        fprintf (stderr, "got %s (%s)\n", capsule_ledger_name (v), detail);
    assert_int_equal (v, CAPSULE_LEDGER_OK);
    assert_int_equal (info.blocks, 3);
    assert_int_equal (info.records, 3);
    free (x);

    /* height 4: a's record after its leave; a leave by a node that left */
    recs[0] = s_note_by (a.pk, a.sk, 3, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_SIGNER);
    recs[0] = tchain_leave (&s_t, a.pk, a.sk, a.pk, &lens[0]);
    s_expect_next (l, recs, lens, 1, CAPSULE_LEDGER_RECORD_SIGNER);
    /* and the good case at the same height, through the same helper: a
       join of b sponsored by a member */
    recs[0] = tchain_join (&s_t, &b, s_t.pk[0], s_t.sk[0], NULL, &lens[0]);
    cons_bytes_t rb = { recs[0], lens[0] };
    x = s_export_plus (l, &rb, 1, &len);
    assert_int_equal (
        capsule_ledger_verify (x, len, s_genesis, s_genesis_len, &info, detail, sizeof detail),
        CAPSULE_LEDGER_OK);
    assert_int_equal (info.blocks, 4);
    free (x);
    free (recs[0]);

    cons_ledger_destroy (&l);
    tchain_newcomer_fini (&a);
    tchain_newcomer_fini (&b);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_ok),         cmocka_unit_test (test_block_byte),
        cmocka_unit_test (test_cert_byte),  cmocka_unit_test (test_record_byte),
        cmocka_unit_test (test_reordered),  cmocka_unit_test (test_genesis),
        cmocka_unit_test (test_weight),     cmocka_unit_test (test_later_epochs),
        cmocka_unit_test (test_membership),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
