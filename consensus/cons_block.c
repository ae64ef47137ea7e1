/*
 * cons_block: encoding and strict decoding of ledger blocks, the RFC 6962
 * Merkle root of their records, the seed rules (v1 and the VRF chains' v2)
 * and the validator-set hash (cons_block.h; docs/PROTOCOL.md "Blocks and
 * the ledger").
 */
#include "cons_block.h"

#include <assert.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cons_sortition.h"
#include "wd_codec.h"
#include "wd_hash.h"

static const uint8_t s_zero[CONS_BLOCK_HASH_LEN];

uint8_t *
cons_block_encode (const cons_block_t *b, size_t *len)
{
    assert (b && len);
    assert (b->height >= 1 && b->height <= CONS_HEIGHT_MAX);
    assert (b->record_count <= CONS_BLOCK_RECORDS_MAX);
    assert (b->claim.bytes.len <= CONS_BLOCK_CLAIM_MAX);
    assert (b->claim.bytes.len == 0 || b->claim.round <= CONS_ROUND_MAX);
    bool v2 = b->claim.bytes.len > 0;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, v2 ? 13 : 11);
    if (v2) {
        wd_writer_key (w, "claim");
        wd_writer_bin (w, b->claim.bytes.data, b->claim.bytes.len);
    }
    wd_writer_key (w, "height");
    wd_writer_uint (w, b->height);
    wd_writer_key (w, "last_cert");
    wd_writer_bin (w, b->last_cert.data, b->last_cert.len);
    wd_writer_key (w, "prev");
    wd_writer_bin (w, b->prev, CONS_BLOCK_HASH_LEN);
    wd_writer_key (w, "proposer");
    wd_writer_bin (w, b->proposer, WD_PUBKEY_LEN);
    wd_writer_key (w, "records");
    wd_writer_array (w, b->record_count);
    for (size_t i = 0; i < b->record_count; i++)
        wd_writer_bin (w, b->records[i].data, b->records[i].len);
    wd_writer_key (w, "records_root");
    wd_writer_bin (w, b->records_root, CONS_BLOCK_HASH_LEN);
    wd_writer_key (w, "reputation_hash");
    wd_writer_bin (w, b->reputation_hash, CONS_BLOCK_HASH_LEN);
    if (v2) {
        wd_writer_key (w, "round");
        wd_writer_uint (w, b->claim.round);
    }
    wd_writer_key (w, "seed");
    wd_writer_bin (w, b->seed, CONS_BLOCK_HASH_LEN);
    wd_writer_key (w, "time");
    wd_writer_uint (w, b->time);
    wd_writer_key (w, "v");
    wd_writer_uint (w, v2 ? CONS_BLOCK_VERSION_VRF : CONS_BLOCK_VERSION);
    wd_writer_key (w, "validators_hash");
    wd_writer_bin (w, b->validators_hash, CONS_BLOCK_HASH_LEN);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* Ids sorted for the duplicate check. */
static int
s_id_cmp (const void *a, const void *b)
{
    return memcmp (a, b, 32);
}

int
cons_block_decode (const uint8_t *buf, size_t len, size_t block_max, cons_block_t *block)
{
    assert (buf || len == 0);
    assert (block);
    memset (block, 0, sizeof *block);
    if (len > block_max)
        return WD_ERR_OVERSIZE;
    int err = wd_codec_check (buf, len, len, NULL);
    if (err != WD_OK)
        return err;

    wd_reader_t r;
    size_t count = 0, n = 0;
    uint64_t height = 0, version = 0, time = 0, round = 0;
    cons_block_t b = { 0 };
    int local = WD_OK;
    wd_reader_init (&r, buf, len);
    /* v1 has 11 keys, v2 adds claim and round: the map's size says which
       keys to expect, and v must then agree with it. */
    wd_read_map (&r, &count);
    bool v2 = count == 13;
    if (v2) {
        wd_read_key (&r, "claim");
        wd_read_bin (&r, &b.claim.bytes.data, &b.claim.bytes.len, CONS_BLOCK_CLAIM_MAX);
    }
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, CONS_HEIGHT_MAX);
    wd_read_key (&r, "last_cert");
    wd_read_bin (&r, &b.last_cert.data, &b.last_cert.len, len);
    wd_read_key (&r, "prev");
    wd_read_bin_fixed (&r, b.prev, CONS_BLOCK_HASH_LEN);
    wd_read_key (&r, "proposer");
    wd_read_bin_fixed (&r, b.proposer, WD_PUBKEY_LEN);
    wd_read_key (&r, "records");
    if (wd_read_array (&r, &n)) {
        if (n > CONS_BLOCK_RECORDS_MAX) {
            local = WD_ERR_OUT_OF_RANGE;
            for (size_t i = 0; i < n; i++) {
                const uint8_t *raw;
                size_t raw_len;
                wd_read_raw (&r, &raw, &raw_len);
            }
            n = 0;
        } else if (n > 0) {
            b.records = calloc (n, sizeof *b.records);
            if (!b.records)
                return WD_ERR_NOMEM;
        }
    }
    for (size_t i = 0; i < n; i++)
        wd_read_bin (&r, &b.records[i].data, &b.records[i].len, len);
    wd_read_end (&r);
    b.record_count = n;
    wd_read_key (&r, "records_root");
    wd_read_bin_fixed (&r, b.records_root, CONS_BLOCK_HASH_LEN);
    wd_read_key (&r, "reputation_hash");
    wd_read_bin_fixed (&r, b.reputation_hash, CONS_BLOCK_HASH_LEN);
    if (v2) {
        wd_read_key (&r, "round");
        wd_read_uint (&r, &round, CONS_ROUND_MAX);
    }
    wd_read_key (&r, "seed");
    wd_read_bin_fixed (&r, b.seed, CONS_BLOCK_HASH_LEN);
    wd_read_key (&r, "time");
    wd_read_uint (&r, &time, UINT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_key (&r, "validators_hash");
    wd_read_bin_fixed (&r, b.validators_hash, CONS_BLOCK_HASH_LEN);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK)
        err = local;
    if (err == WD_OK && version != (v2 ? CONS_BLOCK_VERSION_VRF : CONS_BLOCK_VERSION))
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && v2) {
        cons_sortition_claim_t claim;
        if (b.claim.bytes.len == 0)
            err = WD_ERR_BAD_LENGTH;
        else
            err = cons_sortition_claim_decode (b.claim.bytes.data, b.claim.bytes.len, &claim);
        if (err == WD_OK && claim.count == 0)
            err = CONS_ERR_SORTITION_NOT_SELECTED;
        b.claim.round = (uint32_t)round;
    }
    if (err == WD_OK && height == 0)
        err = WD_ERR_OUT_OF_RANGE;
    if (err == WD_OK && height == 1 &&
        (memcmp (b.prev, s_zero, sizeof s_zero) != 0 || b.last_cert.len != 0))
        err = CONS_ERR_BLOCK_PREV;
    b.height = height;
    b.time = time;

    /* Records: each an envelope, no id twice, and the root over the ids. */
    uint8_t (*ids)[32] = NULL;
    if (err == WD_OK && b.record_count > 0) {
        ids = malloc (b.record_count * sizeof *ids);
        if (!ids)
            err = WD_ERR_NOMEM;
    }
    for (size_t i = 0; err == WD_OK && i < b.record_count; i++) {
        wd_envelope_t env;
        if (wd_envelope_decode (b.records[i].data, b.records[i].len, &env) != WD_OK)
            err = CONS_ERR_BLOCK_RECORD;
        else
            wd_envelope_id (ids[i], b.records[i].data, b.records[i].len);
    }
    if (err == WD_OK) {
        uint8_t root[CONS_BLOCK_HASH_LEN];
        cons_block_merkle_root ((const uint8_t (*)[32])ids, b.record_count, root);
        if (sodium_memcmp (root, b.records_root, sizeof root) != 0)
            err = CONS_ERR_BLOCK_ROOT;
    }
    if (err == WD_OK && b.record_count > 1) {
        qsort (ids, b.record_count, sizeof *ids, s_id_cmp);
        for (size_t i = 1; i < b.record_count; i++)
            if (memcmp (ids[i - 1], ids[i], 32) == 0) {
                err = CONS_ERR_BLOCK_DUPLICATE;
                break;
            }
    }
    free (ids);
    if (err != WD_OK) {
        free (b.records);
        return err;
    }
    *block = b;
    return WD_OK;
}

void
cons_block_release (cons_block_t *block)
{
    if (!block)
        return;
    free (block->records);
    memset (block, 0, sizeof *block);
}

void
cons_block_id (const uint8_t *buf, size_t len, uint8_t id[CONS_BLOCK_ID_LEN])
{
    wd_hash_sha256 (id, buf, len);
}

/* RFC 6962 §2.1 MTH over ids[0..n), n >= 1. */
static void
s_mth (const uint8_t (*ids)[32], size_t n, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    if (n == 1) {
        const uint8_t leaf = 0x00;
        crypto_hash_sha256_update (&st, &leaf, 1);
        crypto_hash_sha256_update (&st, ids[0], 32);
        crypto_hash_sha256_final (&st, out);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    uint8_t left[32], right[32];
    s_mth (ids, k, left);
    s_mth (ids + k, n - k, right);
    const uint8_t node = 0x01;
    crypto_hash_sha256_update (&st, &node, 1);
    crypto_hash_sha256_update (&st, left, 32);
    crypto_hash_sha256_update (&st, right, 32);
    crypto_hash_sha256_final (&st, out);
}

void
cons_block_merkle_root (const uint8_t (*ids)[32], size_t count, uint8_t root[CONS_BLOCK_HASH_LEN])
{
    if (count == 0) {
        wd_hash_sha256 (root, NULL, 0);
        return;
    }
    s_mth (ids, count, root);
}

void
cons_block_records_root (const cons_bytes_t *records, size_t count,
                         uint8_t root[CONS_BLOCK_HASH_LEN])
{
    if (count == 0) {
        cons_block_merkle_root (NULL, 0, root);
        return;
    }
    uint8_t (*ids)[32] = malloc (count * sizeof *ids);
    if (!ids)
        abort ();
    for (size_t i = 0; i < count; i++)
        wd_envelope_id (ids[i], records[i].data, records[i].len);
    cons_block_merkle_root ((const uint8_t (*)[32])ids, count, root);
    free (ids);
}

/* SHA-256(a || b || c) over three parts (a part may be empty). */
static void
s_sha256_3 (const uint8_t *a, size_t a_len, const uint8_t *b, size_t b_len, const uint8_t *c,
            size_t c_len, uint8_t out[32])
{
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    crypto_hash_sha256_update (&st, a, a_len);
    crypto_hash_sha256_update (&st, b, b_len);
    crypto_hash_sha256_update (&st, c, c_len);
    crypto_hash_sha256_final (&st, out);
}

static void
s_be64 (uint64_t v, uint8_t be[8])
{
    for (int i = 0; i < 8; i++)
        be[i] = (uint8_t)(v >> (56 - 8 * i));
}

void
cons_block_seed (const uint8_t prev_seed[32], const uint8_t prev[CONS_BLOCK_ID_LEN],
                 uint64_t height, uint8_t seed[CONS_BLOCK_HASH_LEN])
{
    uint8_t be[8];
    s_be64 (height, be);
    s_sha256_3 (prev_seed, 32, prev, CONS_BLOCK_ID_LEN, be, sizeof be, seed);
}

void
cons_block_seed_vrf (const uint8_t prev_seed[32], uint64_t height,
                     const uint8_t beta[WD_VRF_BETA_LEN], uint8_t seed[CONS_BLOCK_HASH_LEN])
{
    uint8_t be[8];
    s_be64 (height, be);
    s_sha256_3 (prev_seed, 32, be, sizeof be, beta, WD_VRF_BETA_LEN, seed);
}

void
cons_block_validators_hash (const cons_validator_t *validators, size_t count,
                            uint8_t hash[CONS_BLOCK_HASH_LEN])
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_array (w, count);
    for (size_t i = 0; i < count; i++) {
        wd_writer_array (w, 2);
        wd_writer_bin (w, validators[i].pk, WD_PUBKEY_LEN);
        wd_writer_uint (w, validators[i].weight);
    }
    size_t len;
    const uint8_t *data = wd_writer_data (w, &len);
    wd_hash_sha256 (hash, data, len);
    wd_writer_destroy (&w);
}
