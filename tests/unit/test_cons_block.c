/*
 * Unit tests for cons_block: the block encoding against the known answers
 * of tests/vectors/ledger_vectors.py (an independent Python
 * implementation), the RFC 6962 Merkle root, the seed rule, and every
 * rejection reason of the strict decoder with its exact code; the same for
 * the v2 blocks of VRF chains (tests/vectors/ledger_vrf.txt).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_block.h"
#include "cons_sortition.h"
#include "cons_test_chain.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define VEC     "ledger.txt"
#define VEC_VRF "ledger_vrf.txt"

static void
test_merkle (void **state)
{
    (void)state;
    uint8_t ids[7][32];
    for (int i = 0; i < 7; i++) {
        uint8_t b = (uint8_t)i;
        wd_hash_sha256 (ids[i], &b, 1);
    }
    for (size_t n = 0; n < 8; n++) {
        char name[16];
        snprintf (name, sizeof name, "merkle_%zu", n);
        size_t len;
        uint8_t *want = test_vector_hex (VEC, name, &len);
        uint8_t root[32];
        cons_block_merkle_root ((const uint8_t (*)[32])ids, n, root);
        assert_int_equal (len, 32);
        assert_memory_equal (root, want, 32);
        free (want);
    }
}

static void
test_vectors_round_trip (void **state)
{
    (void)state;
    size_t chain_len;
    uint8_t *chain = test_vector_hex (VEC, "chain_id", &chain_len);
    for (int h = 1; h <= 5; h++) {
        char name[16];
        snprintf (name, sizeof name, "block_%d", h);
        size_t len, out_len;
        uint8_t *bytes = test_vector_hex (VEC, name, &len);
        cons_block_t b;
        assert_int_equal (cons_block_decode (bytes, len, len, &b), WD_OK);
        assert_int_equal (b.height, (uint64_t)h);
        uint8_t *again = cons_block_encode (&b, &out_len);
        assert_int_equal (out_len, len);
        assert_memory_equal (again, bytes, len);
        if (h == 1) {
            uint8_t seed[32], zero[32] = { 0 };
            cons_block_seed (chain, zero, 1, seed);
            assert_memory_equal (seed, b.seed, 32);
            assert_int_equal (b.last_cert.len, 0);
        }
        /* one byte short of the block is too large a block */
        cons_block_t unused;
        assert_int_equal (cons_block_decode (bytes, len, len - 1, &unused), WD_ERR_OVERSIZE);
        free (again);
        cons_block_release (&b);
        free (bytes);
    }
    free (chain);
}

/* A well-formed block of height with two note records. */
static tchain_t s_t;
static uint8_t *s_rec[2];
static size_t s_rec_len[2];

static int
s_setup (void **state)
{
    (void)state;
    tchain_init (&s_t, 4, 0, 0, 0);
    s_rec[0] = tchain_note (&s_t, 0, "note", 1, &s_rec_len[0]);
    s_rec[1] = tchain_note (&s_t, 1, "note", 2, &s_rec_len[1]);
    return 0;
}

static int
s_teardown (void **state)
{
    (void)state;
    free (s_rec[0]);
    free (s_rec[1]);
    tchain_fini (&s_t);
    return 0;
}

static void
s_make (cons_block_t *b, cons_bytes_t recs[2], uint64_t height)
{
    memset (b, 0, sizeof *b);
    b->height = height;
    recs[0] = (cons_bytes_t){ s_rec[0], s_rec_len[0] };
    recs[1] = (cons_bytes_t){ s_rec[1], s_rec_len[1] };
    b->records = recs;
    b->record_count = 2;
    cons_block_records_root (recs, 2, b->records_root);
    b->time = 1000;
    if (height > 1)
        memset (b->prev, 7, 32);
}

static int
s_decode_enc (const cons_block_t *b)
{
    size_t len;
    uint8_t *bytes = cons_block_encode (b, &len);
    cons_block_t out;
    int err = cons_block_decode (bytes, len, 1 << 20, &out);
    if (err == WD_OK)
        cons_block_release (&out);
    free (bytes);
    return err;
}

static void
test_rejections (void **state)
{
    (void)state;
    cons_block_t b;
    cons_bytes_t recs[2];
    s_make (&b, recs, 2);
    assert_int_equal (s_decode_enc (&b), WD_OK);

    /* height 1 must have a zero prev and no last_cert */
    s_make (&b, recs, 1);
    assert_int_equal (s_decode_enc (&b), WD_OK);
    b.prev[3] = 1;
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_PREV);
    s_make (&b, recs, 1);
    b.last_cert = (cons_bytes_t){ (const uint8_t *)"x", 1 };
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_PREV);

    s_make (&b, recs, 2);
    b.records_root[0] ^= 1;
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_ROOT);

    s_make (&b, recs, 2);
    recs[1] = recs[0];
    cons_block_records_root (recs, 2, b.records_root);
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_DUPLICATE);

    s_make (&b, recs, 2);
    static const uint8_t not_env[] = { 0x81, 0xa1, 0x61, 0x01 }; /* {a: 1} */
    recs[1] = (cons_bytes_t){ not_env, sizeof not_env };
    cons_block_records_root (recs, 2, b.records_root);
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_RECORD);

    /* a record whose bytes are not msgpack at all */
    s_make (&b, recs, 2);
    static const uint8_t junk[] = { 0xc1 };
    recs[0] = (cons_bytes_t){ junk, 1 };
    cons_block_records_root (recs, 2, b.records_root);
    assert_int_equal (s_decode_enc (&b), CONS_ERR_BLOCK_RECORD);
}

/* Hand-written variants of the schema. */
static void
test_schema (void **state)
{
    (void)state;
    cons_block_t b;
    cons_bytes_t recs[2];
    s_make (&b, recs, 2);
    size_t len;
    uint8_t *good = cons_block_encode (&b, &len);
    cons_block_t out;

    /* trailing byte */
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, good, len);
    longer[len] = 0xc0;
    assert_int_equal (cons_block_decode (longer, len + 1, 1 << 20, &out), WD_ERR_TRAILING);
    free (longer);
    /* truncated */
    assert_int_equal (cons_block_decode (good, len - 1, 1 << 20, &out), WD_ERR_TRUNCATED);
    free (good);

    /* version 2, height 0, missing key, unknown key */
    const char *keys[] = {
        "height",          "last_cert", "prev", "proposer", "records",         "records_root",
        "reputation_hash", "seed",      "time", "v",        "validators_hash", "zz"
    };
    static const uint8_t z[32];
    for (int variant = 0; variant < 4; variant++) {
        wd_writer_t *w = wd_writer_new ();
        size_t count = variant == 2 ? 10 : variant == 3 ? 12 : 11;
        wd_writer_map (w, count);
        for (size_t k = 0; k < 12; k++) {
            if (k == 11 && variant != 3)
                break;
            if (variant == 2 && k == 10)
                break;
            wd_writer_key (w, keys[k]);
            if (k == 0)
                wd_writer_uint (w, variant == 1 ? 0 : 2);
            else if (k == 1)
                wd_writer_bin (w, "", 0);
            else if (k == 4)
                wd_writer_array (w, 0);
            else if (k == 5) {
                uint8_t root[32];
                cons_block_merkle_root (NULL, 0, root);
                wd_writer_bin (w, root, 32);
            } else if (k == 8)
                wd_writer_uint (w, 5);
            else if (k == 9)
                wd_writer_uint (w, variant == 0 ? 2 : 1);
            else if (k == 11)
                wd_writer_uint (w, 0);
            else
                wd_writer_bin (w, z, 32);
        }
        size_t n;
        const uint8_t *data = wd_writer_data (w, &n);
        static const int want[] = { WD_ERR_BAD_VERSION, WD_ERR_OUT_OF_RANGE, WD_ERR_MISSING_KEY,
                                    WD_ERR_UNKNOWN_KEY };
        assert_int_equal (cons_block_decode (data, n, 1 << 20, &out), want[variant]);
        wd_writer_destroy (&w);
    }

    /* a prev of the wrong length */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "height");
    wd_writer_uint (w, 1);
    size_t n;
    const uint8_t *data = wd_writer_data (w, &n);
    assert_int_equal (cons_block_decode (data, n, 1 << 20, &out), WD_ERR_MISSING_KEY);
    wd_writer_destroy (&w);
}

/* The v2 blocks of the Python VRF chain: they decode to their claim and
   round, encode back to the same bytes, and block 1's seed is the v2 rule
   over the chain id and the claim's VRF output. */
static void
test_v2_vectors (void **state)
{
    (void)state;
    size_t chain_len;
    uint8_t *chain = test_vector_hex (VEC_VRF, "chain_id", &chain_len);
    static const uint32_t rounds[] = { 0, 0, 1, 0, 0 };
    for (int h = 1; h <= 5; h++) {
        char name[16];
        snprintf (name, sizeof name, "block_%d", h);
        size_t len, out_len;
        uint8_t *bytes = test_vector_hex (VEC_VRF, name, &len);
        cons_block_t b;
        assert_int_equal (cons_block_decode (bytes, len, len, &b), WD_OK);
        assert_int_equal (b.height, (uint64_t)h);
        assert_int_equal (b.claim.round, rounds[h - 1]);
        assert_true (b.claim.bytes.len > 0);
        uint8_t *again = cons_block_encode (&b, &out_len);
        assert_int_equal (out_len, len);
        assert_memory_equal (again, bytes, len);
        if (h == 1) {
            cons_sortition_claim_t claim;
            uint8_t beta[WD_VRF_BETA_LEN], seed[32];
            assert_int_equal (
                cons_sortition_claim_decode (b.claim.bytes.data, b.claim.bytes.len, &claim), WD_OK);
            assert_int_equal (wd_vrf_proof_to_hash (claim.proof, sizeof claim.proof, beta), WD_OK);
            cons_block_seed_vrf (chain, 1, beta, seed);
            assert_memory_equal (seed, b.seed, 32);
        }
        /* without its claim the same block is v1 */
        b.claim.bytes.len = 0;
        uint8_t *v1 = cons_block_encode (&b, &out_len);
        assert_true (out_len < len);
        cons_block_t back;
        assert_int_equal (cons_block_decode (v1, out_len, out_len, &back), WD_OK);
        assert_int_equal (back.claim.bytes.len, 0);
        cons_block_release (&back);
        free (v1);
        free (again);
        cons_block_release (&b);
        free (bytes);
    }
    free (chain);
}

/* A claim's canonical bytes (count, a fixed priority and proof). */
static uint8_t *
s_claim (uint64_t count, size_t *len)
{
    cons_sortition_claim_t c;
    memset (&c, 0, sizeof c);
    c.count = count;
    memset (c.priority, 0x11, sizeof c.priority);
    memset (c.proof, 0x22, sizeof c.proof);
    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (&c, w);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* A v2 block of 13 keys written by hand: v as given, claim and round. */
static uint8_t *
s_v2 (uint64_t v, const uint8_t *claim, size_t claim_len, uint64_t round, size_t *len)
{
    static const uint8_t z[32];
    uint8_t root[32];
    cons_block_merkle_root (NULL, 0, root);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 13);
    wd_writer_key (w, "claim");
    wd_writer_bin (w, claim, claim_len);
    wd_writer_key (w, "height");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "last_cert");
    wd_writer_bin (w, "", 0);
    wd_writer_key (w, "prev");
    wd_writer_bin (w, z, 32);
    wd_writer_key (w, "proposer");
    wd_writer_bin (w, z, 32);
    wd_writer_key (w, "records");
    wd_writer_array (w, 0);
    wd_writer_key (w, "records_root");
    wd_writer_bin (w, root, 32);
    wd_writer_key (w, "reputation_hash");
    wd_writer_bin (w, z, 32);
    wd_writer_key (w, "round");
    wd_writer_uint (w, round);
    wd_writer_key (w, "seed");
    wd_writer_bin (w, z, 32);
    wd_writer_key (w, "time");
    wd_writer_uint (w, 5);
    wd_writer_key (w, "v");
    wd_writer_uint (w, v);
    wd_writer_key (w, "validators_hash");
    wd_writer_bin (w, z, 32);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static int
s_v2_decode (uint64_t v, const uint8_t *claim, size_t claim_len, uint64_t round)
{
    size_t len;
    uint8_t *bytes = s_v2 (v, claim, claim_len, round, &len);
    cons_block_t out;
    int err = cons_block_decode (bytes, len, 1 << 20, &out);
    if (err == WD_OK)
        cons_block_release (&out);
    free (bytes);
    return err;
}

/* v2: claim and round both there with v = 2, a claim that decodes with a
   count of at least 1, a round up to CONS_ROUND_MAX; v1 keys with v = 2
   and v2 keys with v = 1 are refused. */
static void
test_v2_rejections (void **state)
{
    (void)state;
    size_t len;
    uint8_t *claim = s_claim (1, &len);
    assert_int_equal (s_v2_decode (2, claim, len, 0), WD_OK);
    assert_int_equal (s_v2_decode (2, claim, len, CONS_ROUND_MAX), WD_OK);
    assert_int_equal (s_v2_decode (2, claim, len, (uint64_t)CONS_ROUND_MAX + 1),
                      WD_ERR_OUT_OF_RANGE);
    assert_int_equal (s_v2_decode (1, claim, len, 0), WD_ERR_BAD_VERSION);
    assert_int_equal (s_v2_decode (3, claim, len, 0), WD_ERR_BAD_VERSION);
    /* the claim: empty, too long, not a claim, count 0, cut short */
    assert_int_equal (s_v2_decode (2, claim, 0, 0), WD_ERR_BAD_LENGTH);
    uint8_t big[CONS_BLOCK_CLAIM_MAX + 1];
    memset (big, 0, sizeof big);
    memcpy (big, claim, len);
    assert_int_equal (s_v2_decode (2, big, sizeof big, 0), WD_ERR_OVERSIZE);
    assert_int_equal (s_v2_decode (2, (const uint8_t *)"\x80", 1, 0), WD_ERR_MISSING_KEY);
    assert_int_equal (s_v2_decode (2, claim, len - 1, 0), WD_ERR_TRUNCATED);
    free (claim);
    claim = s_claim (0, &len);
    assert_int_equal (s_v2_decode (2, claim, len, 0), CONS_ERR_SORTITION_NOT_SELECTED);
    free (claim);

    /* an encoded v2 block decodes to the same claim and round */
    cons_block_t b, out;
    cons_bytes_t recs[2];
    s_make (&b, recs, 2);
    claim = s_claim (3, &len);
    b.claim.bytes = (cons_bytes_t){ claim, len };
    b.claim.round = 7;
    size_t blen;
    uint8_t *bytes = cons_block_encode (&b, &blen);
    assert_int_equal (cons_block_decode (bytes, blen, blen, &out), WD_OK);
    assert_int_equal (out.claim.round, 7);
    assert_int_equal (out.claim.bytes.len, len);
    assert_memory_equal (out.claim.bytes.data, claim, len);
    cons_block_release (&out);
    /* a map that says 12 entries but holds 13: the codec refuses it */
    bytes[0] = 0x8c;
    assert_int_equal (cons_block_decode (bytes, blen, blen, &out), WD_ERR_TRAILING);
    free (bytes);
    free (claim);
}

static void
test_validators_hash (void **state)
{
    (void)state;
    /* order and weight both matter */
    cons_validator_t v[2] = { { .weight = 1 }, { .weight = 1 } };
    memset (v[0].pk, 1, 32);
    memset (v[1].pk, 2, 32);
    uint8_t a[32], b[32], c[32];
    cons_block_validators_hash (v, 2, a);
    v[1].weight = 2;
    cons_block_validators_hash (v, 2, b);
    assert_memory_not_equal (a, b, 32);
    cons_validator_t swapped[2] = { v[1], v[0] };
    cons_block_validators_hash (swapped, 2, c);
    assert_memory_not_equal (b, c, 32);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_merkle),          cmocka_unit_test (test_vectors_round_trip),
        cmocka_unit_test (test_rejections),      cmocka_unit_test (test_schema),
        cmocka_unit_test (test_validators_hash), cmocka_unit_test (test_v2_vectors),
        cmocka_unit_test (test_v2_rejections),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
