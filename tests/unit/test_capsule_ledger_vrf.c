/*
 * Unit tests of capsule_ledger (`warden-verify ledger`) on VRF chains
 * (genesis proposer_vrf = 1, block v2): the known-answer chain of
 * tests/vectors/ledger_vrf.txt (written by the independent
 * tests/vectors/ledger_vectors.py --vrf) verifies; then blocks of it are
 * rebuilt with one thing wrong and certified again with the vector nodes'
 * keys (their seeds are public: ledger_vectors.node), and each must be
 * refused with its exact verdict and height: a block version that does
 * not match the chain's mode, a claim that does not decode, a proof that
 * does not verify, a count that does not follow from weight 1 (a node
 * that was not selected claiming it was), a priority that does not follow,
 * the v1 seed rule in a v2 block, a certificate of an earlier round than
 * the claim. A VRF chain built by cons_ledger past its genesis epochs
 * verifies with those blocks counted as weights_unchecked, where a
 * claim's count is not re-derived but its proof and priority are.
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

#define S_VEC      "ledger_vrf.txt"
#define S_VEC_V1   "ledger.txt"
#define S_H        5
#define S_N        4
#define S_TAU      3 /* the vectors' `proposers` */
#define S_MAX_SIZE (1u << 20)

static uint8_t *s_genesis, *s_block[S_H + 1], *s_cert[S_H + 1];
static size_t s_genesis_len, s_block_len[S_H + 1], s_cert_len[S_H + 1];
static uint8_t s_chain[32];
static uint8_t s_pk[S_N][32], s_sk[S_N][64]; /* genesis order */
static wd_vrf_key_t *s_vrf[S_N];

static int
s_setup (void **state)
{
    (void)state;
    s_genesis = test_vector_hex (S_VEC, "genesis", &s_genesis_len);
    size_t len;
    uint8_t *chain = test_vector_hex (S_VEC, "chain_id", &len);
    assert_int_equal (len, 32);
    memcpy (s_chain, chain, 32);
    free (chain);
    for (int h = 1; h <= S_H; h++) {
        char name[32];
        snprintf (name, sizeof name, "block_%d", h);
        s_block[h] = test_vector_hex (S_VEC, name, &s_block_len[h]);
        snprintf (name, sizeof name, "cert_%d", h);
        s_cert[h] = test_vector_hex (S_VEC, name, &s_cert_len[h]);
    }
    /* ledger_vectors.node(i): sign seed bytes([i]) * 32, VRF seed
       bytes([0x40 + i]) * 32; placed in genesis order */
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (s_genesis, s_genesis_len, &g), WD_OK);
    assert_int_equal (wd_genesis_node_count (g), S_N);
    for (int i = 1; i <= S_N; i++) {
        uint8_t seed[32], pk[32], sk[64];
        memset (seed, i, 32);
        crypto_sign_seed_keypair (pk, sk, seed);
        size_t at = S_N;
        for (size_t k = 0; k < S_N; k++)
            if (memcmp (wd_genesis_node (g, k)->sign_pk, pk, 32) == 0)
                at = k;
        assert_true (at < S_N);
        memcpy (s_pk[at], pk, 32);
        memcpy (s_sk[at], sk, 64);
        memset (seed, 0x40 + i, 32);
        s_vrf[at] = wd_vrf_key_new (seed);
        assert_non_null (s_vrf[at]);
        assert_memory_equal (wd_vrf_key_public (s_vrf[at]), wd_genesis_node (g, at)->vrf_pk, 32);
    }
    wd_genesis_destroy (&g);
    return 0;
}

static int
s_teardown (void **state)
{
    for (int h = 1; h <= S_H; h++) {
        free (s_block[h]);
        free (s_cert[h]);
    }
    for (int i = 0; i < S_N; i++)
        wd_vrf_key_destroy (&s_vrf[i]);
    free (s_genesis);
    return test_tmpdir_teardown (state);
}

/* ---- helpers ------------------------------------------------------------------------------- */

/* An export of n entries (blocks[1..n], certs[1..n]) of chain and genesis. */
static uint8_t *
s_export (const uint8_t *const *blocks, const size_t *block_lens, const uint8_t *const *certs,
          const size_t *cert_lens, uint64_t n, const uint8_t chain[32], const uint8_t *genesis,
          size_t genesis_len, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "blocks");
    wd_writer_array (w, n);
    for (uint64_t h = 1; h <= n; h++) {
        wd_writer_array (w, 2);
        wd_writer_bin (w, blocks[h], block_lens[h]);
        wd_writer_bin (w, certs[h], cert_lens[h]);
    }
    wd_writer_key (w, "chain");
    wd_writer_bin (w, chain, 32);
    wd_writer_key (w, "genesis");
    wd_writer_bin (w, genesis, genesis_len);
    wd_writer_key (w, "height");
    wd_writer_uint (w, n);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* A certificate of (height, round) for block, signed by all n keys
   (set order = their order). Caller frees. */
static uint8_t *
s_sign_cert (const uint8_t chain[32], uint8_t (*sk)[64], size_t n, uint64_t height, uint32_t round,
             const uint8_t *block, size_t block_len, size_t *len)
{
    cons_cert_sig_t sigs[TCHAIN_NODES_MAX];
    cons_cert_t cert = { .height = height, .round = round, .sigs = sigs, .count = n };
    cons_block_id (block, block_len, cert.block_id);
    cons_msg_t msg = { .kind = CONS_PRECOMMIT, .height = height, .round = round };
    memcpy (msg.block_id, cert.block_id, 32);
    uint8_t digest[32];
    cons_msg_digest (&msg, chain, digest);
    for (size_t i = 0; i < n; i++) {
        sigs[i].index = (uint32_t)i;
        crypto_sign_detached (sigs[i].sig, NULL, digest, 32, sk[i]);
    }
    return cons_cert_encode (&cert, len);
}

static void
s_check (const uint8_t *x, size_t len, const uint8_t *genesis, size_t genesis_len,
         capsule_ledger_verdict_t want, uint64_t bad_height, capsule_ledger_info_t *info)
{
    char detail[256];
    capsule_ledger_verdict_t v =
        capsule_ledger_verify (x, len, genesis, genesis_len, info, detail, sizeof detail);
    if (v != want || info->bad_height != bad_height)
        fprintf (stderr, "got %s at %llu (%s)\n", capsule_ledger_name (v),
                 (unsigned long long)info->bad_height, detail);
    assert_int_equal (v, want);
    assert_int_equal (info->bad_height, bad_height);
    if (want != CAPSULE_LEDGER_OK)
        assert_int_equal (info->blocks, bad_height - 1);
}

/* The vector chain up to height h with block h replaced by block (its
   certificate signed again for round) must give want at h. */
static void
s_expect_at (uint64_t h, const uint8_t *block, size_t block_len, uint32_t round,
             capsule_ledger_verdict_t want)
{
    const uint8_t *blocks[S_H + 1], *certs[S_H + 1];
    size_t block_lens[S_H + 1], cert_lens[S_H + 1];
    for (uint64_t k = 1; k < h; k++) {
        blocks[k] = s_block[k], block_lens[k] = s_block_len[k];
        certs[k] = s_cert[k], cert_lens[k] = s_cert_len[k];
    }
    uint8_t *cert = s_sign_cert (s_chain, s_sk, S_N, h, round, block, block_len, &cert_lens[h]);
    blocks[h] = block, block_lens[h] = block_len, certs[h] = cert;
    size_t len;
    uint8_t *x =
        s_export (blocks, block_lens, certs, cert_lens, h, s_chain, s_genesis, s_genesis_len, &len);
    capsule_ledger_info_t info;
    s_check (x, len, s_genesis, s_genesis_len, want, want == CAPSULE_LEDGER_OK ? 0 : h, &info);
    if (want == CAPSULE_LEDGER_OK)
        assert_int_equal (info.blocks, h);
    free (x);
    free (cert);
}

/* The claim's canonical bytes. Caller frees. */
static uint8_t *
s_claim_bytes (const cons_sortition_claim_t *c, size_t *len)
{
    uint8_t *out = malloc (CONS_SORTITION_CLAIM_MAX);
    assert_non_null (out);
    *len = cons_sortition_claim_encode (c, out);
    return out;
}

/* Vector block h decoded, with its claim decoded into *claim; release b. */
static void
s_decode (uint64_t h, cons_block_t *b, cons_sortition_claim_t *claim)
{
    assert_int_equal (cons_block_decode (s_block[h], s_block_len[h], S_MAX_SIZE, b), WD_OK);
    assert_int_equal (b->claim.bytes.len > 0, true);
    assert_int_equal (cons_sortition_claim_decode (b->claim.bytes.data, b->claim.bytes.len, claim),
                      WD_OK);
}

/* Re-encodes b with claim as its claim (NULL: as a v1 block) and expects
   want at its height, the certificate signed for round. */
static void
s_expect_block (cons_block_t *b, const cons_sortition_claim_t *claim, uint32_t round,
                capsule_ledger_verdict_t want)
{
    size_t claim_len = 0, len;
    uint8_t *claim_bytes = claim ? s_claim_bytes (claim, &claim_len) : NULL;
    b->claim.bytes = (cons_bytes_t){ claim_bytes, claim_len };
    uint8_t *block = cons_block_encode (b, &len);
    s_expect_at (b->height, block, len, round, want);
    free (block);
    free (claim_bytes);
}

/* The seed of vector block h. */
static void
s_seed_of (uint64_t h, uint8_t seed[32])
{
    if (h == 0) {
        memcpy (seed, s_chain, 32);
        return;
    }
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (h, &b, &c);
    memcpy (seed, b.seed, 32);
    cons_block_release (&b);
}

/* ---- the vector chain ---------------------------------------------------------------------- */

static void
test_vectors (void **state)
{
    (void)state;
    size_t len;
    uint8_t *x =
        s_export ((const uint8_t *const *)s_block, s_block_len, (const uint8_t *const *)s_cert,
                  s_cert_len, S_H, s_chain, s_genesis, s_genesis_len, &len);
    capsule_ledger_info_t info;
    s_check (x, len, s_genesis, s_genesis_len, CAPSULE_LEDGER_OK, 0, &info);
    assert_int_equal (info.blocks, S_H);
    assert_int_equal (info.records, 3);
    assert_int_equal (info.weights_unchecked, 0);
    assert_int_equal (info.nodes, S_N);
    uint8_t tip[32];
    cons_block_id (s_block[S_H], s_block_len[S_H], tip);
    assert_memory_equal (info.tip, tip, 32);
    free (x);
    /* the claims are the vectors' (priority_h), and the certificate helper
       signs what the vectors' nodes sign: block 3 (claim round 1) again */
    for (uint64_t h = 1; h <= S_H; h++) {
        char name[32];
        snprintf (name, sizeof name, "priority_%llu", (unsigned long long)h);
        uint8_t *want = test_vector_hex (S_VEC, name, &len);
        cons_block_t b;
        cons_sortition_claim_t c;
        s_decode (h, &b, &c);
        assert_memory_equal (c.priority, want, 32);
        cons_block_release (&b);
        free (want);
    }
    s_expect_at (3, s_block[3], s_block_len[3], 1, CAPSULE_LEDGER_OK);
}

/* v1 in a VRF chain; v2 in a round-robin chain (the round-robin vector
   chain's first block given a claim). */
static void
test_version (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (2, &b, &c);
    s_expect_block (&b, NULL, 0, CAPSULE_LEDGER_BLOCK_VERSION);
    cons_block_release (&b);

    size_t glen, clen, blen, len;
    uint8_t *g = test_vector_hex (S_VEC_V1, "genesis", &glen);
    uint8_t *chain = test_vector_hex (S_VEC_V1, "chain_id", &clen);
    uint8_t *v1 = test_vector_hex (S_VEC_V1, "block_1", &blen);
    assert_int_equal (cons_block_decode (v1, blen, S_MAX_SIZE, &b), WD_OK);
    cons_block_t vrf_b;
    s_decode (1, &vrf_b, &c);
    b.claim = vrf_b.claim;
    uint8_t *block = cons_block_encode (&b, &len);
    const uint8_t *blocks[2] = { NULL, block }, *certs[2] = { NULL, s_cert[1] };
    size_t block_lens[2] = { 0, len }, cert_lens[2] = { 0, s_cert_len[1] };
    size_t xlen;
    uint8_t *x = s_export (blocks, block_lens, certs, cert_lens, 1, chain, g, glen, &xlen);
    capsule_ledger_info_t info;
    s_check (x, xlen, g, glen, CAPSULE_LEDGER_BLOCK_VERSION, 1, &info);
    free (x);
    free (block);
    cons_block_release (&b);
    cons_block_release (&vrf_b);
    free (v1);
    free (chain);
    free (g);
}

/* A claim with count 0, and one with a byte after the map. */
static void
test_claim_format (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (2, &b, &c);
    c.count = 0;
    s_expect_block (&b, &c, 0, CAPSULE_LEDGER_CLAIM_FORMAT);
    c.count = 1;
    size_t len, blen;
    uint8_t *bytes = s_claim_bytes (&c, &len);
    uint8_t padded[CONS_BLOCK_CLAIM_MAX] = { 0 };
    memcpy (padded, bytes, len);
    padded[len] = 0x00; /* one more value after the map */
    b.claim.bytes = (cons_bytes_t){ padded, len + 1 };
    uint8_t *block = cons_block_encode (&b, &blen);
    s_expect_at (2, block, blen, 0, CAPSULE_LEDGER_CLAIM_FORMAT);
    free (block);
    free (bytes);
    cons_block_release (&b);
}

/* The proof's s changed (beta and so the seed unchanged), the claim moved
   to another round, the block credited to another node, a Gamma that is
   not a point. */
static void
test_claim_proof (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c, orig;
    s_decode (3, &b, &orig);
    c = orig;
    c.proof[48] ^= 0x01;
    s_expect_block (&b, &c, b.claim.round, CAPSULE_LEDGER_CLAIM_PROOF);
    uint32_t round = b.claim.round;
    b.claim.round = round + 1;
    s_expect_block (&b, &orig, round + 1, CAPSULE_LEDGER_CLAIM_PROOF);
    b.claim.round = round;
    uint8_t proposer[32];
    memcpy (proposer, b.proposer, 32);
    memcpy (b.proposer, memcmp (proposer, s_pk[0], 32) == 0 ? s_pk[1] : s_pk[0], 32);
    s_expect_block (&b, &orig, round, CAPSULE_LEDGER_CLAIM_PROOF);
    memcpy (b.proposer, proposer, 32);
    c = orig;
    memset (c.proof, 0, 32);
    c.proof[0] = 0x02; /* y = 2 is not on the curve */
    s_expect_block (&b, &c, round, CAPSULE_LEDGER_CLAIM_PROOF);
    cons_block_release (&b);
}

/* The count raised with a priority that follows from it; and a node that
   was not selected (count 0 for weight 1 of 4, tau 3) claiming count 1
   with its genuine proof, the block's seed from that proof. */
static void
test_claim_count (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (3, &b, &c);
    uint8_t beta[WD_VRF_BETA_LEN];
    assert_int_equal (wd_vrf_proof_to_hash (c.proof, sizeof c.proof, beta), WD_OK);
    c.count = 2;
    cons_sortition_priority (beta, c.count, c.priority);
    s_expect_block (&b, &c, b.claim.round, CAPSULE_LEDGER_CLAIM_COUNT);

    cons_sortition_input_t in = {
        .role = CONS_ROLE_PROPOSER, .height = 3, .weight = 1, .total_weight = S_N, .tau = S_TAU
    };
    memcpy (in.chain_id, s_chain, 32);
    s_seed_of (3 - 2, in.seed); /* seed_lookback 2 */
    bool found = false;
    for (uint32_t r = 0; r < 64 && !found; r++)
        for (size_t i = 0; i < S_N && !found; i++) {
            in.round = r;
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, s_vrf[i], &c), 0);
            if (c.count != 0)
                continue;
            found = true;
            assert_int_equal (wd_vrf_proof_to_hash (c.proof, sizeof c.proof, beta), WD_OK);
            c.count = 1;
            cons_sortition_priority (beta, 1, c.priority);
            memcpy (b.proposer, s_pk[i], 32);
            b.claim.round = r;
            uint8_t prev_seed[32];
            s_seed_of (2, prev_seed);
            cons_block_seed_vrf (prev_seed, 3, beta, b.seed);
            s_expect_block (&b, &c, r, CAPSULE_LEDGER_CLAIM_COUNT);
        }
    assert_true (found);
    cons_block_release (&b);
}

static void
test_claim_priority (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (4, &b, &c);
    c.priority[31] ^= 0x01;
    s_expect_block (&b, &c, b.claim.round, CAPSULE_LEDGER_CLAIM_PRIORITY);
    cons_block_release (&b);
}

/* A v2 block whose seed follows the v1 rule (prev folded in, no beta). */
static void
test_seed (void **state)
{
    (void)state;
    cons_block_t b;
    cons_sortition_claim_t c;
    s_decode (3, &b, &c);
    uint8_t prev_seed[32];
    s_seed_of (2, prev_seed);
    cons_block_seed (prev_seed, b.prev, 3, b.seed);
    s_expect_block (&b, &c, b.claim.round, CAPSULE_LEDGER_BLOCK_SEED);
    cons_block_release (&b);
}

/* Block 3's claim is for round 1: a certificate of round 0 is refused,
   one of round 7 is fine. */
static void
test_block_round (void **state)
{
    (void)state;
    s_expect_at (3, s_block[3], s_block_len[3], 0, CAPSULE_LEDGER_BLOCK_ROUND);
    s_expect_at (3, s_block[3], s_block_len[3], 7, CAPSULE_LEDGER_OK);
}

/* ---- a VRF chain past its genesis epochs, built by cons_ledger ------------------------------ */

/* t's genesis switched to VRF mode with `proposers` tau (t->chain follows). */
static void
s_vrf_mode (tchain_t *t, uint64_t tau)
{
    char value[32];
    snprintf (value, sizeof value, "%llu", (unsigned long long)tau);
    assert_int_equal (wd_genesis_set_param (t->genesis, "proposer_vrf", "1"), WD_OK);
    assert_int_equal (wd_genesis_set_param (t->genesis, "proposers", value), WD_OK);
    uint8_t *bytes;
    size_t len;
    assert_int_equal (wd_genesis_encode (t->genesis, &bytes, &len), WD_OK);
    wd_genesis_destroy (&t->genesis);
    assert_int_equal (wd_genesis_decode (bytes, len, &t->genesis), WD_OK);
    free (bytes);
    wd_genesis_chain_id (t->genesis, t->chain);
}

/* The claim of the first node selected for the next height, in round 0
   upwards; *node gets its index. */
static void
s_next_claim (tchain_t *t, cons_ledger_t *l, cons_sortition_claim_t *c, uint32_t *round,
              size_t *node)
{
    uint64_t h = cons_ledger_height (l) + 1;
    for (uint32_t r = 0; r < 64; r++)
        for (size_t i = 0; i < t->n; i++) {
            cons_sortition_input_t in;
            if (cons_ledger_proposer_input (l, h, r, t->pk[i], &in) != WD_OK)
                continue;
            wd_vrf_key_t *k = wd_vrf_key_new (t->vrf_seed[i]);
            assert_int_equal (cons_sortition_prove (&in, wd_vrf_prove_fn_key, k, c), 0);
            wd_vrf_key_destroy (&k);
            if (c->count > 0) {
                *round = r;
                *node = i;
                return;
            }
        }
    fail_msg ("no node selected at height %llu", (unsigned long long)h);
}

/* The next block of l with claim (its round) by node, certified by the
   set of its height in that round. Caller frees both. */
static void
s_next_block (tchain_t *t, cons_ledger_t *l, const cons_sortition_claim_t *c, uint32_t round,
              size_t node, uint64_t time_ms, uint8_t **block, size_t *len, uint8_t **cert,
              size_t *cert_len)
{
    uint64_t h = cons_ledger_height (l) + 1;
    size_t claim_len;
    uint8_t *claim_bytes = s_claim_bytes (c, &claim_len);
    cons_block_claim_t claim = { .round = round, .bytes = { claim_bytes, claim_len } };
    assert_int_equal (cons_ledger_propose (l, time_ms, t->pk[node], &claim, NULL, 0, block, len),
                      WD_OK);
    free (claim_bytes);
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, h, &set, &n), WD_OK);
    uint8_t sk[TCHAIN_NODES_MAX][64];
    for (size_t i = 0; i < n; i++) {
        int k = tchain_index (t, set[i].pk);
        assert_true (k >= 0);
        memcpy (sk[i], t->sk[k], 64);
    }
    *cert = s_sign_cert (t->chain, sk, n, h, round, *block, *len, cert_len);
}

typedef struct {
    const uint8_t *blocks[16], *certs[16];
    size_t block_lens[16], cert_lens[16];
    uint8_t *owned[32];
    size_t nowned;
} s_entries_t;

static int
s_collect (void *ctx, uint64_t height, const uint8_t *block, size_t block_len, const uint8_t *cert,
           size_t cert_len)
{
    s_entries_t *e = ctx;
    uint8_t *b = malloc (block_len), *c = malloc (cert_len);
    memcpy (b, block, block_len);
    memcpy (c, cert, cert_len);
    e->blocks[height] = e->owned[e->nowned++] = b;
    e->certs[height] = e->owned[e->nowned++] = c;
    e->block_lens[height] = block_len;
    e->cert_lens[height] = cert_len;
    return 0;
}

/* epoch_blocks 2, seed_lookback 1: heights 1 and 2 have the genesis set,
   3.. the reputation's weights. Six blocks by cons_ledger verify, four
   counted as weights_unchecked; then a seventh whose claim count is raised
   (the priority following it) still verifies, as its count is not
   re-derived there, while one whose priority is wrong does not. */
static void
test_later_epochs (void **state)
{
    (void)state;
    tchain_t t;
    tchain_init (&t, 4, 0xf, 2, 1);
    s_vrf_mode (&t, 2);
    uint8_t *g;
    size_t glen;
    assert_int_equal (wd_genesis_encode (t.genesis, &g, &glen), WD_OK);
    char db[512], why[256];
    snprintf (db, sizeof db, "%s/vrf-epochs.db", test_tmpdir ());
    cons_ledger_t *l;
    assert_int_equal (cons_ledger_open (db, t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
                      WD_OK);
    assert_true (cons_ledger_proposer_vrf (l));
    for (uint64_t h = 1; h <= 6; h++) {
        cons_sortition_claim_t c;
        uint32_t round;
        size_t node, len, cert_len;
        uint8_t *block, *cert;
        s_next_claim (&t, l, &c, &round, &node);
        s_next_block (&t, l, &c, round, node, 1000 * h, &block, &len, &cert, &cert_len);
        assert_int_equal (cons_ledger_append (l, block, len, cert, cert_len), WD_OK);
        free (block);
        free (cert);
    }
    s_entries_t e = { .nowned = 0 };
    assert_int_equal (cons_ledger_iterate (l, 1, s_collect, &e), WD_OK);
    size_t xlen;
    uint8_t *x =
        s_export (e.blocks, e.block_lens, e.certs, e.cert_lens, 6, t.chain, g, glen, &xlen);
    capsule_ledger_info_t info;
    s_check (x, xlen, g, glen, CAPSULE_LEDGER_OK, 0, &info);
    assert_int_equal (info.blocks, 6);
    assert_int_equal (info.weights_unchecked, 4);
    free (x);

    for (int wrong_priority = 0; wrong_priority <= 1; wrong_priority++) {
        cons_sortition_claim_t c;
        uint32_t round;
        size_t node;
        s_next_claim (&t, l, &c, &round, &node);
        uint8_t beta[WD_VRF_BETA_LEN];
        assert_int_equal (wd_vrf_proof_to_hash (c.proof, sizeof c.proof, beta), WD_OK);
        c.count++;
        cons_sortition_priority (beta, c.count, c.priority);
        if (wrong_priority)
            c.priority[0] ^= 0x80;
        uint8_t *block, *cert;
        s_next_block (&t, l, &c, round, node, 7000, &block, &e.block_lens[7], &cert,
                      &e.cert_lens[7]);
        e.blocks[7] = block;
        e.certs[7] = cert;
        x = s_export (e.blocks, e.block_lens, e.certs, e.cert_lens, 7, t.chain, g, glen, &xlen);
        s_check (x, xlen, g, glen,
                 wrong_priority ? CAPSULE_LEDGER_CLAIM_PRIORITY : CAPSULE_LEDGER_OK,
                 wrong_priority ? 7 : 0, &info);
        free (x);
        free (block);
        free (cert);
    }
    for (size_t i = 0; i < e.nowned; i++)
        free (e.owned[i]);
    cons_ledger_destroy (&l);
    free (g);
    tchain_fini (&t);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vectors),      cmocka_unit_test (test_version),
        cmocka_unit_test (test_claim_format), cmocka_unit_test (test_claim_proof),
        cmocka_unit_test (test_claim_count),  cmocka_unit_test (test_claim_priority),
        cmocka_unit_test (test_seed),         cmocka_unit_test (test_block_round),
        cmocka_unit_test (test_later_epochs),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
