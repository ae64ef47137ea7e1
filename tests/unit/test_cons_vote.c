/*
 * Unit tests for cons_vote: the agreement's message bodies, envelopes,
 * commit certificates and equivocation evidence against the known answers
 * of tests/vectors/agree_vectors.py (an independent Python implementation),
 * and every rejection reason with its exact code.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_vote.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define VEC "agree.txt"

static uint8_t s_sk[4][crypto_sign_SECRETKEYBYTES];
static cons_validator_t s_vals[4];
static uint8_t s_chain[32];
static const uint8_t s_b11[32] = { 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                   0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11,
                                   0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11, 0x11 };

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    for (int i = 0; i < 4; i++) {
        uint8_t seed[32];
        memset (seed, i + 1, sizeof seed);
        crypto_sign_seed_keypair (s_vals[i].pk, s_sk[i], seed);
        s_vals[i].weight = 1;
    }
    memset (s_chain, 0xa5, sizeof s_chain);
    return 0;
}

static void
s_assert_vector (const char *name, const uint8_t *got, size_t got_len)
{
    size_t len;
    uint8_t *want = test_vector_hex (VEC, name, &len);
    assert_int_equal (got_len, len);
    assert_memory_equal (got, want, len);
    free (want);
}

static int
s_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, ctx);
    return 0;
}

/* Seals msg as validator i; caller frees. */
static uint8_t *
s_seal (int i, const cons_msg_t *msg, size_t *len)
{
    size_t body_len;
    uint8_t *body = cons_msg_encode_body (msg, &body_len);
    uint8_t *out;
    int rc = wd_envelope_seal (cons_kind_type (msg->kind), s_chain, s_vals[i].pk, body, body_len,
                               s_sign, s_sk[i], &out, len);
    assert_int_equal (rc, WD_OK);
    free (body);
    return out;
}

static void
s_sig (int i, const cons_msg_t *msg, uint8_t sig[64])
{
    uint8_t digest[32];
    cons_msg_digest (msg, s_chain, digest);
    crypto_sign_detached (sig, NULL, digest, 32, s_sk[i]);
}

static void
test_known_answers (void **state)
{
    (void)state;
    size_t len;
    uint8_t *pk = test_vector_hex (VEC, "pk3", &len);
    assert_memory_equal (pk, s_vals[3].pk, 32);
    free (pk);

    cons_msg_t prevote = { .kind = CONS_PREVOTE, .height = 7, .round = 1 };
    memcpy (prevote.block_id, s_b11, 32);
    uint8_t *body = cons_msg_encode_body (&prevote, &len);
    s_assert_vector ("prevote_body", body, len);
    free (body);
    uint8_t *env = s_seal (0, &prevote, &len);
    s_assert_vector ("prevote", env, len);
    free (env);

    cons_msg_t nil = { .kind = CONS_PRECOMMIT, .height = 300, .round = 200, .nil = true };
    body = cons_msg_encode_body (&nil, &len);
    s_assert_vector ("precommit_nil_body", body, len);
    free (body);
    env = s_seal (1, &nil, &len);
    s_assert_vector ("precommit_nil", env, len);
    free (env);

    size_t block_len;
    uint8_t *block = test_vector_hex (VEC, "block", &block_len);
    cons_msg_t prop = { .kind = CONS_PROPOSAL,
                        .height = 7,
                        .round = 2,
                        .pol_round = 1,
                        .block = block,
                        .block_len = block_len };
    body = cons_msg_encode_body (&prop, &len);
    s_assert_vector ("proposal_body", body, len);
    free (body);
    env = s_seal (2, &prop, &len);
    s_assert_vector ("proposal", env, len);

    /* Decoding gives back the fields, and the block id. */
    wd_envelope_t e;
    cons_msg_t got;
    assert_int_equal (cons_msg_decode (env, len, s_chain, 1024, &e, &got), WD_OK);
    assert_int_equal (cons_msg_verify (&e, NULL, NULL), WD_OK);
    assert_int_equal (got.kind, CONS_PROPOSAL);
    assert_int_equal (got.height, 7);
    assert_int_equal (got.round, 2);
    assert_int_equal (got.pol_round, 1);
    assert_int_equal (got.claim_len, 0);
    assert_int_equal (got.block_len, block_len);
    assert_memory_equal (got.block, block, block_len);
    s_assert_vector ("block_id", got.block_id, 32);
    free (env);

    uint8_t claim[32];
    memset (claim, 0x33, sizeof claim);
    prop = (cons_msg_t){ .kind = CONS_PROPOSAL,
                         .height = 7,
                         .round = 0,
                         .pol_round = -1,
                         .block = block,
                         .block_len = block_len,
                         .claim = claim,
                         .claim_len = sizeof claim };
    env = s_seal (3, &prop, &len);
    s_assert_vector ("proposal_claim", env, len);
    free (env);
    free (block);
}

/* The hand-packed vote bodies behind cons_msg_digest match the writer at
   every integer width. */
static void
test_vote_digest_widths (void **state)
{
    (void)state;
    static const uint64_t heights[] = { 0,   1,     127,   128,        255,
                                        256, 65535, 65536, 1ull << 32, CONS_HEIGHT_MAX };
    static const uint32_t rounds[] = { 0, 127, 128, 65535, 65536, CONS_ROUND_MAX };
    for (size_t h = 0; h < sizeof heights / sizeof *heights; h++)
        for (size_t r = 0; r < sizeof rounds / sizeof *rounds; r++)
            for (int nil = 0; nil < 2; nil++) {
                cons_msg_t m = {
                    .kind = CONS_PRECOMMIT, .height = heights[h], .round = rounds[r], .nil = nil
                };
                if (!nil)
                    memcpy (m.block_id, s_b11, 32);
                size_t len;
                uint8_t *body = cons_msg_encode_body (&m, &len);
                assert_true (len <= CONS_VOTE_BODY_MAX);
                uint8_t want[32], got[32];
                wd_envelope_digest (want, "precommit", s_chain, body, len);
                cons_msg_digest (&m, s_chain, got);
                assert_memory_equal (got, want, 32);
                cons_msg_t back;
                assert_int_equal (cons_msg_decode_body (CONS_PRECOMMIT, body, len, 16, &back),
                                  WD_OK);
                assert_int_equal (back.height, m.height);
                assert_int_equal (back.round, m.round);
                assert_int_equal (back.nil, m.nil);
                assert_memory_equal (back.block_id, m.block_id, 32);
                free (body);
            }
}

/* A body written field by field, to build malformed ones. */
typedef struct {
    const char *block_kind; /* "bin32", "bin31", "str", "nil", "blob" */
    size_t blob_len;
    bool claim;
    size_t claim_len;
    int64_t height, round, pol_round, v;
    bool extra;
    bool no_round;
} s_body_t;

static uint8_t *
s_body (const s_body_t *b, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    size_t n = 3 + (b->claim ? 2 : 0) + (b->extra ? 1 : 0) - (b->no_round ? 1 : 0) + 1;
    wd_writer_map (w, n);
    wd_writer_key (w, "block");
    uint8_t buf[4096] = { 0 };
    if (strcmp (b->block_kind, "bin32") == 0)
        wd_writer_bin (w, s_b11, 32);
    else if (strcmp (b->block_kind, "bin31") == 0)
        wd_writer_bin (w, s_b11, 31);
    else if (strcmp (b->block_kind, "str") == 0)
        wd_writer_cstr (w, "block");
    else if (strcmp (b->block_kind, "nil") == 0)
        wd_writer_nil (w);
    else
        wd_writer_bin (w, buf, b->blob_len);
    if (b->claim) {
        wd_writer_key (w, "claim");
        wd_writer_bin (w, buf, b->claim_len);
    }
    if (b->extra) {
        wd_writer_key (w, "extra");
        wd_writer_uint (w, 1);
    }
    wd_writer_key (w, "height");
    wd_writer_int (w, b->height);
    if (b->claim) {
        wd_writer_key (w, "pol_round");
        wd_writer_int (w, b->pol_round);
    }
    if (!b->no_round) {
        wd_writer_key (w, "round");
        wd_writer_int (w, b->round);
    }
    wd_writer_key (w, "v");
    wd_writer_int (w, b->v);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static int
s_decode (cons_kind_t kind, const s_body_t *b)
{
    size_t len;
    uint8_t *body = s_body (b, &len);
    cons_msg_t m;
    int rc = cons_msg_decode_body (kind, body, len, 64, &m);
    free (body);
    return rc;
}

static void
test_body_rejections (void **state)
{
    (void)state;
    s_body_t ok = { .block_kind = "bin32", .height = 5, .round = 2, .v = 1 };
    assert_int_equal (s_decode (CONS_PREVOTE, &ok), WD_OK);
    s_body_t b = ok;
    b.block_kind = "nil";
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_OK);
    b.block_kind = "bin31";
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_BAD_LENGTH);
    b.block_kind = "str";
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_WRONG_TYPE);
    b = ok;
    b.v = 2;
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_BAD_VERSION);
    b = ok;
    b.round = (int64_t)CONS_ROUND_MAX + 1;
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_OUT_OF_RANGE);
    b = ok;
    b.height = -1;
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_OUT_OF_RANGE);
    b = ok;
    b.no_round = true;
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_MISSING_KEY);
    b = ok;
    b.extra = true;
    assert_int_equal (s_decode (CONS_PREVOTE, &b), WD_ERR_UNKNOWN_KEY);
    /* A proposal's fields. */
    s_body_t p = { .block_kind = "blob",
                   .blob_len = 64,
                   .claim = true,
                   .height = 5,
                   .round = 2,
                   .pol_round = 1,
                   .v = 1 };
    assert_int_equal (s_decode (CONS_PROPOSAL, &p), WD_OK);
    b = p;
    b.pol_round = 2;
    assert_int_equal (s_decode (CONS_PROPOSAL, &b), CONS_ERR_POL_ROUND);
    b.pol_round = -2;
    assert_int_equal (s_decode (CONS_PROPOSAL, &b), WD_ERR_OUT_OF_RANGE);
    b = p;
    b.blob_len = 65; /* above block_max */
    assert_int_equal (s_decode (CONS_PROPOSAL, &b), WD_ERR_OVERSIZE);
    b = p;
    b.claim_len = CONS_CLAIM_MAX + 1;
    assert_int_equal (s_decode (CONS_PROPOSAL, &b), WD_ERR_OVERSIZE);
    b = p;
    b.block_kind = "nil";
    assert_int_equal (s_decode (CONS_PROPOSAL, &b), WD_ERR_WRONG_TYPE);
    /* A vote body is not a proposal body, nor the reverse. */
    assert_int_equal (s_decode (CONS_PROPOSAL, &ok), WD_ERR_MISSING_KEY);
    assert_int_equal (s_decode (CONS_PREVOTE, &p), WD_ERR_UNKNOWN_KEY);
    /* Non-canonical bytes are refused by the codec first. */
    uint8_t bad[] = { 0x84, 0xa5, 'b',  'l',  'o', 'c', 'k', 0xc0, 0xa6, 'h',  'e',  'i', 'g', 'h',
                      't',  0xcc, 0x05, 0xa5, 'r', 'o', 'u', 'n',  'd',  0x00, 0xa1, 'v', 0x01 };
    cons_msg_t m;
    assert_int_equal (cons_msg_decode_body (CONS_PREVOTE, bad, sizeof bad, 64, &m),
                      WD_ERR_INT_NONCANONICAL);
}

static bool
s_counting_verify (void *ctx, const uint8_t pk[32], const uint8_t digest[32], const uint8_t sig[64])
{
    (*(int *)ctx)++;
    return cons_verify_ed25519 (NULL, pk, digest, sig);
}

static void
test_envelope_rejections (void **state)
{
    (void)state;
    cons_msg_t v = { .kind = CONS_PREVOTE, .height = 3, .round = 0, .nil = true };
    size_t len;
    uint8_t *env = s_seal (1, &v, &len);
    wd_envelope_t e;
    cons_msg_t m;
    uint8_t other[32];
    memset (other, 0x5a, sizeof other);
    assert_int_equal (cons_msg_decode (env, len, other, 64, &e, &m), WD_ERR_WRONG_CHAIN);
    assert_int_equal (cons_msg_decode (env, len - 1, s_chain, 64, &e, &m), WD_ERR_TRUNCATED);
    assert_int_equal (cons_msg_decode (env, len, s_chain, 64, &e, &m), WD_OK);
    int calls = 0;
    assert_int_equal (cons_msg_verify (&e, s_counting_verify, &calls), WD_OK);
    assert_int_equal (calls, 1);
    e.sig[10] ^= 1;
    assert_int_equal (cons_msg_verify (&e, NULL, NULL), WD_ERR_BAD_SIGNATURE);
    free (env);

    /* Another record type under the same chain. */
    uint8_t body[] = { 0x80 };
    uint8_t *out;
    assert_int_equal (wd_envelope_seal ("test-record", s_chain, s_vals[0].pk, body, sizeof body,
                                        s_sign, s_sk[0], &out, &len),
                      WD_OK);
    assert_int_equal (cons_msg_decode (out, len, s_chain, 64, &e, &m), WD_ERR_UNEXPECTED_TYPE);
    free (out);
    /* A prevote body under the proposal type: its nil block is no bin. */
    cons_msg_t pv = { .kind = CONS_PREVOTE, .height = 3, .nil = true };
    uint8_t *vb = cons_msg_encode_body (&pv, &len);
    assert_int_equal (
        wd_envelope_seal ("proposal", s_chain, s_vals[0].pk, vb, len, s_sign, s_sk[0], &out, &len),
        WD_OK);
    assert_int_equal (cons_msg_decode (out, len, s_chain, 64, &e, &m), WD_ERR_WRONG_TYPE);
    free (out);
    free (vb);
}

static void
test_cert (void **state)
{
    (void)state;
    cons_msg_t pc = { .kind = CONS_PRECOMMIT, .height = 7, .round = 1 };
    memcpy (pc.block_id, s_b11, 32);
    cons_cert_sig_t sigs[4];
    int signers[] = { 0, 1, 3 };
    for (int k = 0; k < 3; k++) {
        sigs[k].index = (uint32_t)signers[k];
        s_sig (signers[k], &pc, sigs[k].sig);
    }
    cons_cert_t cert = { .height = 7, .round = 1, .sigs = sigs, .count = 3 };
    memcpy (cert.block_id, s_b11, 32);
    size_t len;
    uint8_t *bytes = cons_cert_encode (&cert, &len);
    s_assert_vector ("cert", bytes, len);
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL), WD_OK);

    cons_cert_t back;
    cons_cert_sig_t back_sigs[4];
    assert_int_equal (cons_cert_decode (bytes, len, &back, back_sigs, 4), WD_OK);
    assert_int_equal (back.count, 3);
    assert_int_equal (back.sigs[2].index, 3);
    assert_memory_equal (back.sigs[1].sig, sigs[1].sig, 64);
    assert_int_equal (cons_cert_decode (bytes, len, &back, back_sigs, 2), WD_ERR_OVERSIZE);
    free (bytes);

    /* 2 of 4 equal weights is not more than 2/3; 3 of 4 is. */
    cert.count = 2;
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL),
                      CONS_ERR_CERT_WEIGHT);
    /* Exactly 2/3 is not enough: 2 of 3. */
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 3, NULL, NULL),
                      CONS_ERR_CERT_WEIGHT);
    /* Weights: validator 3 alone holds 7 of 10. */
    cons_validator_t weighted[4];
    memcpy (weighted, s_vals, sizeof weighted);
    weighted[0].weight = weighted[1].weight = weighted[2].weight = 1;
    weighted[3].weight = 7;
    cons_cert_t one = cert;
    one.sigs = &sigs[2];
    one.count = 1;
    assert_int_equal (cons_cert_verify (&one, s_chain, weighted, 4, NULL, NULL), WD_OK);
    weighted[3].weight = 6; /* 6 of 9: exactly 2/3 */
    assert_int_equal (cons_cert_verify (&one, s_chain, weighted, 4, NULL, NULL),
                      CONS_ERR_CERT_WEIGHT);

    cert.count = 3;
    sigs[1].sig[0] ^= 1;
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL),
                      WD_ERR_BAD_SIGNATURE);
    sigs[1].sig[0] ^= 1;
    cert.round = 2; /* the signatures are for round 1 */
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL),
                      WD_ERR_BAD_SIGNATURE);
    cert.round = 1;
    sigs[2].index = 4;
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL),
                      CONS_ERR_UNKNOWN_VALIDATOR);
    sigs[2].index = 0;
    assert_int_equal (cons_cert_verify (&cert, s_chain, s_vals, 4, NULL, NULL),
                      CONS_ERR_CERT_ORDER);

    /* A certificate whose signers are not in ascending order. */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "block");
    wd_writer_bin (w, s_b11, 32);
    wd_writer_key (w, "height");
    wd_writer_uint (w, 7);
    wd_writer_key (w, "round");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "sigs");
    wd_writer_array (w, 2);
    for (int k = 1; k >= 0; k--) {
        wd_writer_array (w, 2);
        wd_writer_uint (w, (uint64_t)k);
        wd_writer_bin (w, sigs[k].sig, 64);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    bytes = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    assert_int_equal (cons_cert_decode (bytes, len, &back, back_sigs, 4), CONS_ERR_CERT_ORDER);
    free (bytes);

    /* A signer entry shorter than its [index, sig] pair (a peer's [[0]]):
       refused as input, never an abort. */
    w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "block");
    wd_writer_bin (w, s_b11, 32);
    wd_writer_key (w, "height");
    wd_writer_uint (w, 7);
    wd_writer_key (w, "round");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "sigs");
    wd_writer_array (w, 1);
    wd_writer_array (w, 1);
    wd_writer_uint (w, 0);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    bytes = wd_writer_take (w, &len);
    wd_writer_destroy (&w);
    assert_int_equal (cons_cert_decode (bytes, len, &back, back_sigs, 4), WD_ERR_BAD_LENGTH);
    free (bytes);
}

/* An evidence record written field by field (block NULL: nil), to build
   ones the encoder would not. Caller frees. */
static uint8_t *
s_evidence_raw (const uint8_t *block_a, const uint8_t *block_b, const char *type,
                const uint8_t *sig_a, const uint8_t *sig_b, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 9);
    wd_writer_key (w, "block_a");
    cons_write_block_id (w, block_a == NULL, block_a);
    wd_writer_key (w, "block_b");
    cons_write_block_id (w, block_b == NULL, block_b);
    wd_writer_key (w, "height");
    wd_writer_uint (w, 9);
    wd_writer_key (w, "round");
    wd_writer_uint (w, 0);
    wd_writer_key (w, "sig_a");
    wd_writer_bin (w, sig_a, 64);
    wd_writer_key (w, "sig_b");
    wd_writer_bin (w, sig_b, 64);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, type);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "validator");
    wd_writer_bin (w, s_vals[3].pk, 32);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static void
test_evidence (void **state)
{
    (void)state;
    uint8_t b22[32];
    memset (b22, 0x22, sizeof b22);
    cons_msg_t a = { .kind = CONS_PREVOTE, .height = 9, .round = 0 };
    memcpy (a.block_id, b22, 32);
    cons_msg_t nil = { .kind = CONS_PREVOTE, .height = 9, .round = 0, .nil = true };
    /* Given in the non-canonical order: the encoder puts nil first. */
    cons_evidence_t ev = { .kind = CONS_PREVOTE, .height = 9, .round = 0, .nil_b = true };
    memcpy (ev.validator, s_vals[3].pk, 32);
    memcpy (ev.block_a, b22, 32);
    s_sig (3, &a, ev.sig_a);
    s_sig (3, &nil, ev.sig_b);
    assert_int_equal (cons_evidence_verify (&ev, s_chain, NULL, NULL), WD_OK);
    size_t len;
    uint8_t *bytes = cons_evidence_encode (&ev, &len);
    s_assert_vector ("evidence", bytes, len);
    cons_evidence_t back;
    assert_int_equal (cons_evidence_decode (bytes, len, &back), WD_OK);
    assert_true (back.nil_a && !back.nil_b);
    assert_int_equal (cons_evidence_verify (&back, s_chain, NULL, NULL), WD_OK);
    free (bytes);

    /* The same vote twice is no equivocation. */
    cons_evidence_t same = ev;
    same.nil_b = false;
    memcpy (same.block_b, b22, 32);
    memcpy (same.sig_b, ev.sig_a, 64);
    assert_int_equal (cons_evidence_verify (&same, s_chain, NULL, NULL), CONS_ERR_EVIDENCE);
    /* Signatures of another validator. */
    cons_evidence_t forged = back;
    memcpy (forged.validator, s_vals[2].pk, 32);
    assert_int_equal (cons_evidence_verify (&forged, s_chain, NULL, NULL), WD_ERR_BAD_SIGNATURE);
    forged = back;
    forged.kind = CONS_PROPOSAL;
    assert_int_equal (cons_evidence_verify (&forged, s_chain, NULL, NULL), WD_ERR_BAD_VALUE);

    /* Decoding refuses the two votes out of order, and a proposal type. */
    bytes = s_evidence_raw (b22, NULL, "prevote", ev.sig_a, ev.sig_b, &len);
    assert_int_equal (cons_evidence_decode (bytes, len, &back), CONS_ERR_EVIDENCE);
    free (bytes);
    bytes = s_evidence_raw (NULL, b22, "proposal", ev.sig_a, ev.sig_b, &len);
    assert_int_equal (cons_evidence_decode (bytes, len, &back), WD_ERR_BAD_VALUE);
    free (bytes);
}

static void
test_validators (void **state)
{
    (void)state;
    cons_validator_t v[3];
    memcpy (v, s_vals, sizeof v);
    assert_int_equal (cons_validators_check (v, 3), WD_OK);
    assert_int_equal (cons_validators_total (v, 3), 3);
    assert_int_equal (cons_validators_check (v, 0), WD_ERR_OUT_OF_RANGE);
    v[1].weight = 0;
    assert_int_equal (cons_validators_check (v, 3), WD_ERR_OUT_OF_RANGE);
    v[1].weight = CONS_WEIGHT_TOTAL_MAX;
    assert_int_equal (cons_validators_check (v, 3), WD_ERR_OUT_OF_RANGE);
    v[1].weight = 1;
    memcpy (v[2].pk, v[0].pk, 32);
    assert_int_equal (cons_validators_check (v, 3), CONS_ERR_VALIDATOR_DUPLICATE);

    assert_false (cons_weight_quorum (2, 3));
    assert_true (cons_weight_quorum (3, 4));
    assert_false (cons_weight_quorum (6, 9));
    assert_true (cons_weight_quorum (7, 10));
    assert_false (cons_weight_one_third (1, 3));
    assert_true (cons_weight_one_third (2, 4));
    uint64_t big = CONS_WEIGHT_TOTAL_MAX;
    assert_true (cons_weight_quorum (big, big));
    assert_false (cons_weight_quorum (big / 3 * 2, big));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_answers),
        cmocka_unit_test (test_vote_digest_widths),
        cmocka_unit_test (test_body_rejections),
        cmocka_unit_test (test_envelope_rejections),
        cmocka_unit_test (test_cert),
        cmocka_unit_test (test_evidence),
        cmocka_unit_test (test_validators),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
