/*
 * Unit tests of the PCR checkpoint anchors (capsule_verify.h "ledger
 * anchors"; docs/PROTOCOL.md "Checkpoint anchors"): the anchor body, the
 * reading of a `pcr-checkpoint` record (and of every record that is not an
 * anchor of the log), the check of a checkpoint against the anchors — exact,
 * linked by a consistency proof, contradicted, missing — and the strict
 * decoding of the consistency-proof file. The cluster round trip (records
 * committed by real nodes, an exported ledger) is tests/scenarios/pcr_anchor.sh.
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

#include "capsule_merkle.h"
#include "capsule_task.h"
#include "capsule_verify.h"
#include "wd_codec.h"
#include "wd_envelope.h"

#define S_ORIGIN "warden-pcr/lab-a/0011223344556677"

static uint8_t s_pk[32], s_sk[64];
static uint8_t s_chain[32] = { 7 };
static capsule_merkle_hash_t s_leaves[8];

static int
s_setup (void **state)
{
    (void)state;
    uint8_t seed[32] = { 1, 2, 3 };
    crypto_sign_seed_keypair (s_pk, s_sk, seed);
    for (int i = 0; i < 8; i++) {
        char in[16];
        snprintf (in, sizeof in, "entry %d", i);
        capsule_merkle_leaf (s_leaves[i], in, strlen (in));
    }
    return 0;
}

/* A signed note over the first n leaves (root overridable). */
static size_t
s_note (char *out, size_t size, uint64_t n, const uint8_t *root_override)
{
    uint8_t root[32];
    capsule_merkle_root (root, (const capsule_merkle_hash_t *)s_leaves, n);
    if (root_override)
        memcpy (root, root_override, 32);
    char body[CAPSULE_CHECKPOINT_BODY_MAX + 1];
    size_t blen = capsule_checkpoint_body (body, sizeof body, S_ORIGIN, n, root);
    uint8_t digest[32], sig[64];
    capsule_checkpoint_digest (digest, body, blen);
    crypto_sign_detached (sig, NULL, digest, 32, s_sk);
    return capsule_checkpoint_note (out, size, body, blen, S_ORIGIN, s_pk, sig);
}

/* The anchor record of a note: type, signer and chain as given. */
static uint8_t *
s_record (const char *type, const char *note, size_t note_len, size_t *len)
{
    uint8_t body[CAPSULE_ANCHOR_BODY_MAX];
    size_t blen = capsule_anchor_body (body, sizeof body, note, note_len);
    assert_true (blen > 0);
    uint8_t *out;
    assert_int_equal (wd_envelope_seal (type, s_chain, s_pk, body, blen, capsule_sign_secret_key,
                                        s_sk, &out, len),
                      WD_OK);
    return out;
}

static void
test_body_canonical (void **state)
{
    (void)state;
    char note[CAPSULE_CHECKPOINT_MAX + 1];
    size_t nlen = s_note (note, sizeof note, 3, NULL);
    uint8_t body[CAPSULE_ANCHOR_BODY_MAX];
    size_t blen = capsule_anchor_body (body, sizeof body, note, nlen);
    /* the same map through the project's own canonical writer */
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "note");
    wd_writer_str (w, note, nlen);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t wlen;
    const uint8_t *wbuf = wd_writer_data (w, &wlen);
    assert_int_equal (blen, wlen);
    assert_memory_equal (body, wbuf, wlen);
    wd_writer_destroy (&w);
    assert_int_equal (capsule_anchor_body (body, 10, note, nlen), 0); /* does not fit */
}

static void
test_open (void **state)
{
    (void)state;
    char note[CAPSULE_CHECKPOINT_MAX + 1];
    size_t nlen = s_note (note, sizeof note, 5, NULL);
    size_t len;
    uint8_t *rec = s_record (CAPSULE_ANCHOR_TYPE, note, nlen, &len);
    capsule_checkpoint_t cp;
    assert_true (capsule_anchor_open (rec, len, s_pk, S_ORIGIN, &cp));
    assert_int_equal (cp.size, 5);
    uint8_t root[32];
    capsule_merkle_root (root, (const capsule_merkle_hash_t *)s_leaves, 5);
    assert_memory_equal (cp.root, root, 32);
    /* another log, another key, a flipped byte: not an anchor of this log */
    assert_false (capsule_anchor_open (rec, len, s_pk, "warden-pcr/lab-b/0011223344556677", &cp));
    uint8_t other[32] = { 9 };
    assert_false (capsule_anchor_open (rec, len, other, S_ORIGIN, &cp));
    for (size_t i = 0; i < len; i++) {
        rec[i] ^= 0x01;
        assert_false (capsule_anchor_open (rec, len, s_pk, S_ORIGIN, &cp));
        rec[i] ^= 0x01;
    }
    free (rec);
    /* another record type with the same body */
    rec = s_record ("notice", note, nlen, &len);
    assert_false (capsule_anchor_open (rec, len, s_pk, S_ORIGIN, &cp));
    free (rec);
}

static capsule_anchor_t
s_anchor (uint64_t height, uint64_t n)
{
    capsule_anchor_t a = { .height = height };
    snprintf (a.cp.origin, sizeof a.cp.origin, "%s", S_ORIGIN);
    a.cp.size = n;
    capsule_merkle_root (a.cp.root, (const capsule_merkle_hash_t *)s_leaves, n);
    return a;
}

static void
test_check (void **state)
{
    (void)state;
    capsule_anchor_t anchors[3] = { s_anchor (4, 2), s_anchor (9, 5), s_anchor (12, 7) };
    uint8_t root[32];
    capsule_anchor_report_t rep;
    char detail[256];

    /* exact */
    capsule_merkle_root (root, (const capsule_merkle_hash_t *)s_leaves, 5);
    assert_int_equal (
        capsule_anchor_check (anchors, 3, 5, root, NULL, 0, 0, &rep, detail, sizeof detail),
        CAPSULE_VERIFY_OK);
    assert_true (rep.exact);
    assert_int_equal (rep.height, 9);
    assert_int_equal (rep.newest_size, 7);
    assert_int_equal (rep.newest_height, 12);

    /* not anchored itself: missing, naming the later anchor */
    capsule_merkle_root (root, (const capsule_merkle_hash_t *)s_leaves, 3);
    assert_int_equal (
        capsule_anchor_check (anchors, 3, 3, root, NULL, 0, 0, &rep, detail, sizeof detail),
        CAPSULE_VERIFY_ANCHOR_MISSING);
    assert_non_null (strstr (detail, "consistency 3 7"));

    /* linked by a consistency proof to the anchor of 7 */
    capsule_merkle_hash_t proof[CAPSULE_MERKLE_PROOF_MAX];
    size_t count =
        capsule_merkle_consistency_proof ((const capsule_merkle_hash_t *)s_leaves, 3, 7, proof);
    assert_int_equal (capsule_anchor_check (anchors, 3, 3, root, (const uint8_t (*)[32])proof,
                                            count, 7, &rep, detail, sizeof detail),
                      CAPSULE_VERIFY_OK);
    assert_false (rep.exact);
    assert_int_equal (rep.height, 12);
    assert_int_equal (rep.anchored_size, 7);
    /* a wrong proof, and a proof to a size nobody anchored */
    proof[0][0] ^= 1;
    assert_int_equal (capsule_anchor_check (anchors, 3, 3, root, (const uint8_t (*)[32])proof,
                                            count, 7, &rep, detail, sizeof detail),
                      CAPSULE_VERIFY_CONSISTENCY);
    assert_int_equal (capsule_anchor_check (anchors, 3, 3, root, (const uint8_t (*)[32])proof,
                                            count, 6, &rep, detail, sizeof detail),
                      CAPSULE_VERIFY_ANCHOR_MISSING);

    /* the same size with another root: a named failure, even with a proof */
    uint8_t forged[32] = { 0xee };
    assert_int_equal (
        capsule_anchor_check (anchors, 3, 5, forged, NULL, 0, 0, &rep, detail, sizeof detail),
        CAPSULE_VERIFY_ANCHOR_CONFLICT);
    assert_non_null (strstr (detail, "height 9"));

    /* no anchors at all */
    assert_int_equal (
        capsule_anchor_check (NULL, 0, 5, root, NULL, 0, 0, &rep, detail, sizeof detail),
        CAPSULE_VERIFY_ANCHOR_MISSING);
}

static void
test_consistency_file (void **state)
{
    (void)state;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "new_size");
    wd_writer_uint (w, 7);
    wd_writer_key (w, "old_size");
    wd_writer_uint (w, 3);
    wd_writer_key (w, "proof");
    wd_writer_array (w, 2);
    wd_writer_bin (w, s_leaves[0], 32);
    wd_writer_bin (w, s_leaves[1], 32);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, CAPSULE_CONSISTENCY_TYPE);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t len;
    const uint8_t *buf = wd_writer_data (w, &len);
    uint8_t proof[4][32];
    size_t count;
    uint64_t a, b;
    assert_true (capsule_consistency_decode (buf, len, &a, &b, proof, 4, &count));
    assert_int_equal (a, 3);
    assert_int_equal (b, 7);
    assert_int_equal (count, 2);
    assert_memory_equal (proof[1], s_leaves[1], 32);
    assert_false (capsule_consistency_decode (buf, len, &a, &b, proof, 1, &count)); /* too long */
    assert_false (capsule_consistency_decode (buf, len - 1, &a, &b, proof, 4, &count));
    uint8_t *copy = malloc (len);
    for (size_t i = 0; i < len; i++) { /* no flipped byte is read as another valid file */
        memcpy (copy, buf, len);
        copy[i] ^= 0x80;
        uint64_t x, y;
        if (capsule_consistency_decode (copy, len, &x, &y, proof, 4, &count))
            assert_true (x != 3 || y != 7 || memcmp (proof[1], s_leaves[1], 32) != 0 ||
                         memcmp (proof[0], s_leaves[0], 32) != 0);
    }
    free (copy);
    wd_writer_destroy (&w);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_body_canonical),
        cmocka_unit_test (test_open),
        cmocka_unit_test (test_check),
        cmocka_unit_test (test_consistency_file),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
