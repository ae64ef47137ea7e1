/*
 * Unit tests for the PCR signer's Merkle tree (capsule_merkle), result log
 * (pcr_signer_log) and offline bundle verification (capsule_verify): CT
 * reference tree heads, every inclusion and consistency proof of small
 * trees against a naive recursive definition, a log on a real SQLite file
 * with signed checkpoints, bundles that verify and fail for every flipped
 * byte with the reason of the part it is in, and every tamper case of the
 * database file (edit, delete, reorder, forged checkpoint) found by verify.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "capsule_merkle.h"
#include "capsule_verify.h"
#include "pcr_signer.h"
#include "pcr_signer_log.h"
#include "test_support.h"
#include "wd_cert.h"
#include "wd_envelope.h"

static uint8_t s_sk[64], s_pk[32];
static uint8_t *s_cert;
static size_t s_cert_len;
static const uint8_t s_zero_chain[32];
#define S_ORIGIN "warden-pcr/lab-node/0011223344556677"

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    crypto_sign_keypair (s_pk, s_sk);
    wd_cert_t cert = { .name = "lab-node", .key_protection = "software", .created = 1767225600 };
    memcpy (cert.sign_pk, s_pk, 32);
    memset (cert.vrf_pk, 0x11, 32);
    memset (cert.curve_pk, 0x22, 32);
    return wd_cert_seal (&cert, test_sign_fn, s_sk, &s_cert, &s_cert_len) == WD_OK ? 0 : -1;
}

static int
s_teardown (void **state)
{
    free (s_cert);
    return test_tmpdir_teardown (state);
}

/* ---- Merkle tree ------------------------------------------------------------------------------
 */

static void
s_naive (capsule_merkle_hash_t out, const capsule_merkle_hash_t *l, size_t n)
{
    if (n == 1) {
        memcpy (out, l[0], 32);
        return;
    }
    size_t k = 1;
    while (k * 2 < n)
        k *= 2;
    capsule_merkle_hash_t a, b;
    s_naive (a, l, k);
    s_naive (b, l + k, n - k);
    capsule_merkle_node (out, a, b);
}

static void
test_merkle_reference_roots (void **state)
{
    (void)state;
    static const uint8_t in[] = { 0x00, 0x10, 0x20, 0x21, 0x30, 0x31, 0x40, 0x41, 0x42,
                                  0x43, 0x50, 0x51, 0x52, 0x53, 0x54, 0x55, 0x56, 0x57,
                                  0x60, 0x61, 0x62, 0x63, 0x64, 0x65, 0x66, 0x67, 0x68,
                                  0x69, 0x6a, 0x6b, 0x6c, 0x6d, 0x6e, 0x6f };
    static const size_t lens[] = { 0, 1, 1, 2, 2, 4, 8, 16 };
    capsule_merkle_hash_t leaves[8];
    size_t off = 0;
    for (size_t i = 0; i < 8; i++) {
        capsule_merkle_leaf (leaves[i], in + off, lens[i]);
        off += lens[i];
    }
    for (size_t n = 1; n <= 8; n++) {
        char name[8];
        size_t len;
        snprintf (name, sizeof name, "root%zu", n);
        uint8_t *want = test_vector_hex ("pcr/merkle.txt", name, &len);
        capsule_merkle_hash_t got;
        capsule_merkle_root (got, leaves, n);
        assert_memory_equal (got, want, 32);
        free (want);
    }
    capsule_merkle_hash_t empty, sha_empty;
    capsule_merkle_root (empty, leaves, 0);
    crypto_hash_sha256 (sha_empty, (const uint8_t *)"", 0);
    assert_memory_equal (empty, sha_empty, 32);
}

static void
test_merkle_proofs (void **state)
{
    (void)state;
    enum { N = 37 };
    capsule_merkle_hash_t leaves[N], roots[N + 1], proof[CAPSULE_MERKLE_PROOF_MAX];
    for (size_t i = 0; i < N; i++)
        capsule_merkle_leaf (leaves[i], &i, sizeof i);
    capsule_merkle_range_t range;
    capsule_merkle_range_init (&range);
    for (size_t n = 1; n <= N; n++) {
        s_naive (roots[n], leaves, n);
        capsule_merkle_range_append (&range, leaves[n - 1]);
        capsule_merkle_hash_t r;
        capsule_merkle_range_root (&range, r);
        assert_memory_equal (r, roots[n], 32);
    }
    for (size_t n = 1; n <= N; n++) {
        for (size_t i = 0; i < n; i++) {
            size_t c = capsule_merkle_inclusion_proof (leaves, n, i, proof);
            assert_true (capsule_merkle_inclusion_verify (leaves[i], i, n, proof, c, roots[n]));
            /* wrong index, wrong leaf, a flipped proof hash */
            if (n > 1)
                assert_false (capsule_merkle_inclusion_verify (leaves[i], (i + 1) % n, n, proof, c,
                                                               roots[n]));
            /* (the size is not checked against the root here: RFC 9162
               proofs bind only the path's shape; the signed checkpoint binds
               the size to the root) */
            assert_false (
                capsule_merkle_inclusion_verify (leaves[(i + 1) % N], i, n, proof, c, roots[n]));
            if (c) {
                proof[c - 1][5] ^= 1;
                assert_false (
                    capsule_merkle_inclusion_verify (leaves[i], i, n, proof, c, roots[n]));
            }
        }
        for (size_t m = 1; m <= n; m++) {
            size_t c = capsule_merkle_consistency_proof (leaves, m, n, proof);
            assert_true (capsule_merkle_consistency_verify (m, n, roots[m], roots[n], proof, c));
            if (m < n) {
                assert_false (
                    capsule_merkle_consistency_verify (m, n, roots[m], roots[m], proof, c));
                proof[0][0] ^= 1;
                assert_false (
                    capsule_merkle_consistency_verify (m, n, roots[m], roots[n], proof, c));
            }
        }
    }
}

/* ---- the log ----------------------------------------------------------------------------------
 */

static void
s_checkpoint (capsule_pcr_log_t *log)
{
    char body[CAPSULE_CHECKPOINT_BODY_MAX + 1], note[CAPSULE_CHECKPOINT_MAX + 1];
    uint64_t size;
    uint8_t root[32], digest[32], sig[64];
    size_t len = capsule_pcr_log_checkpoint_body (log, body, &size, root);
    assert_true (len > 0);
    capsule_checkpoint_digest (digest, body, len);
    crypto_sign_detached (sig, NULL, digest, 32, s_sk);
    size_t nlen = capsule_checkpoint_note (note, sizeof note, body, len, S_ORIGIN, s_pk, sig);
    assert_true (nlen > 0);
    assert_int_equal (capsule_pcr_log_add_checkpoint (log, size, root, note, nlen, NULL, 0), WD_OK);
}

/* Appends n results "result <i>" in groups of group, a checkpoint after
   each group. */
static void
s_fill (capsule_pcr_log_t *log, size_t count, size_t group)
{
    size_t base = (size_t)capsule_pcr_log_size (log), n = base + count;
    for (size_t i = base; i < n;) {
        assert_int_equal (capsule_pcr_log_begin (log, NULL, 0), WD_OK);
        for (size_t g = 0; g < group && i < n; g++, i++) {
            char name[32], data[64];
            snprintf (name, sizeof name, "run-%03zu.txt", i);
            int dlen = snprintf (data, sizeof data, "result %zu", i);
            capsule_pcr_meta_t meta;
            assert_int_not_equal (
                capsule_pcr_meta_parse (name, (const uint8_t *)data, (size_t)dlen, &meta), 0);
            capsule_pcr_result_t r = { .name = name,
                                       .size = (size_t)dlen,
                                       .channel = "serial:/dev/ttyS0",
                                       .has_seq = true,
                                       .seq = i + 1,
                                       .received_ms = 1767225600123 + i,
                                       .node = "lab-node",
                                       .key_protection = "software" };
            crypto_hash_sha256 (r.sha256, (const uint8_t *)data, (size_t)dlen);
            memcpy (r.node_id, s_pk, 32);
            size_t blen, elen;
            uint8_t *body = capsule_pcr_statement (&r, &meta, &blen), *env;
            capsule_pcr_meta_clear (&meta);
            assert_int_equal (wd_envelope_seal (CAPSULE_PCR_TYPE, s_zero_chain, s_pk, body, blen,
                                                test_sign_fn, s_sk, &env, &elen),
                              WD_OK);
            capsule_pcr_entry_t e = { .received_ms = r.received_ms,
                                      .channel = r.channel,
                                      .has_seq = true,
                                      .seq = r.seq,
                                      .name = name,
                                      .size = (size_t)dlen,
                                      .envelope = env,
                                      .envelope_len = elen,
                                      .raw = (const uint8_t *)data,
                                      .raw_len = (size_t)dlen };
            memcpy (e.sha256, r.sha256, 32);
            uint64_t index;
            assert_int_equal (capsule_pcr_log_append (log, &e, &index, NULL, 0), WD_OK);
            assert_int_equal (index, i);
            free (body);
            free (env);
        }
        assert_int_equal (capsule_pcr_log_commit (log, NULL, 0), WD_OK);
        s_checkpoint (log);
    }
}

static char s_path[512];

static capsule_pcr_log_t *
s_new_log (const char *name, size_t n, size_t group)
{
    snprintf (s_path, sizeof s_path, "%s/%s", test_tmpdir (), name);
    capsule_pcr_log_t *log;
    char why[256];
    assert_int_equal (capsule_pcr_log_open (s_path, false, S_ORIGIN, &log, why, sizeof why), WD_OK);
    s_fill (log, n, group);
    return log;
}

static int
s_verify (const char *path, uint64_t *bad)
{
    capsule_pcr_log_t *log;
    assert_int_equal (capsule_pcr_log_open (path, true, NULL, &log, NULL, 0), WD_OK);
    capsule_pcr_verify_report_t rep;
    char why[256];
    int rc = capsule_pcr_log_verify (log, s_pk, &rep, why, sizeof why);
    if (bad)
        *bad = rep.bad_index;
    capsule_pcr_log_close (&log);
    return rc;
}

static void
s_sql (const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    char *err = NULL;
    int rc = sqlite3_exec (db, sql, NULL, NULL, &err);
    if (rc != SQLITE_OK)
        fail_msg ("%s: %s", sql, err);
    sqlite3_close (db);
}

static void
test_signing_rule_matches_common (void **state)
{
    (void)state;
    uint8_t a[32], b[32], chain[32];
    randombytes_buf (chain, sizeof chain);
    const uint8_t body[] = { 0x81, 0xa1, 0x61, 0x01 };
    capsule_signing_digest (a, "pcr-result", chain, body, sizeof body);
    wd_envelope_digest (b, "pcr-result", chain, body, sizeof body);
    assert_memory_equal (a, b, 32);
}

static void
test_log_verifies_and_reopens (void **state)
{
    (void)state;
    capsule_pcr_log_t *log = s_new_log ("ok.db", 23, 5);
    assert_int_equal (capsule_pcr_log_size (log), 23);
    uint64_t seq;
    assert_true (capsule_pcr_log_last_seq (log, "serial:/dev/ttyS0", &seq));
    assert_int_equal (seq, 23);
    assert_false (capsule_pcr_log_last_seq (log, "stdin", &seq));
    capsule_pcr_log_close (&log);
    assert_int_equal (s_verify (s_path, NULL), WD_OK);
    /* reopened, the tree continues where it was */
    assert_int_equal (capsule_pcr_log_open (s_path, false, S_ORIGIN, &log, NULL, 0), WD_OK);
    s_fill (log, 4, 4);
    assert_int_equal (capsule_pcr_log_size (log), 27);
    capsule_pcr_log_close (&log);
    assert_int_equal (s_verify (s_path, NULL), WD_OK);
    /* the triggers refuse changes */
    sqlite3 *db;
    assert_int_equal (sqlite3_open (s_path, &db), SQLITE_OK);
    assert_int_not_equal (
        sqlite3_exec (db, "UPDATE entries SET name = 'x' WHERE idx = 3", NULL, NULL, NULL),
        SQLITE_OK);
    assert_int_not_equal (sqlite3_exec (db, "DELETE FROM checkpoints", NULL, NULL, NULL),
                          SQLITE_OK);
    sqlite3_close (db);
    assert_int_equal (s_verify (s_path, NULL), WD_OK);
}

#define S_UNLOCK "DROP TRIGGER entries_no_update; DROP TRIGGER entries_no_delete; "

static void
test_log_tampering_detected (void **state)
{
    (void)state;
    static const struct {
        const char *sql;
        int code;
        uint64_t at;
    } cases[] = {
        /* edit the raw bytes */
        { S_UNLOCK "UPDATE entries SET raw = CAST('result X' AS BLOB) WHERE idx = 7",
          CAPSULE_ERR_LOG_DIGEST, 7 },
        /* edit a listing column */
        { S_UNLOCK "UPDATE entries SET name = 'other.txt' WHERE idx = 4", CAPSULE_ERR_LOG_COLUMN,
          4 },
        /* edit the envelope, not the stored leaf */
        { S_UNLOCK "UPDATE entries SET envelope = envelope || x'00' WHERE idx = 2",
          CAPSULE_ERR_LOG_LEAF, 2 },
        /* a changed envelope with a recomputed leaf hash: the signature */
        { S_UNLOCK "UPDATE entries SET envelope = (SELECT envelope FROM entries WHERE idx = 3), "
                   "leaf = (SELECT leaf FROM entries WHERE idx = 3) WHERE idx = 2",
          CAPSULE_ERR_LOG_COLUMN, 2 },
        /* delete a row in the middle */
        { S_UNLOCK "DELETE FROM entries WHERE idx = 5", CAPSULE_ERR_LOG_MISSING, 5 },
        /* delete the newest rows: the checkpoint still counts them */
        { S_UNLOCK "DELETE FROM entries WHERE idx >= 10", CAPSULE_ERR_LOG_SHORT, 12 },
        /* reorder: swap rows 8 and 9, each self-consistent */
        { S_UNLOCK "CREATE TEMP TABLE t AS SELECT * FROM entries WHERE idx IN (8, 9);"
                   "DELETE FROM entries WHERE idx IN (8, 9);"
                   "INSERT INTO entries SELECT 17 - idx, received_ms, channel, seq, name, sha256,"
                   " size, parsed, envelope, leaf, raw FROM t;",
          CAPSULE_ERR_LOG_ROOT, 10 },
        /* a checkpoint whose note was changed */
        { "DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET note = replace(note, "
          "'\n5\n', '\n6\n') WHERE size = 5",
          CAPSULE_ERR_LOG_CHECKPOINT, 5 },
        /* a checkpoint root column changed */
        { "DROP TRIGGER checkpoints_no_update; UPDATE checkpoints SET root = zeroblob(32) "
          "WHERE size = 10",
          CAPSULE_ERR_LOG_CHECKPOINT, 10 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf (name, sizeof name, "tamper-%zu.db", i);
        capsule_pcr_log_t *log = s_new_log (name, 12, 5); /* checkpoints at 5, 10, 12 */
        capsule_pcr_log_close (&log);
        s_sql (s_path, cases[i].sql);
        uint64_t at;
        int rc = s_verify (s_path, &at);
        if (rc != cases[i].code || at != cases[i].at)
            fail_msg ("case %zu: %s at %llu, wanted %s at %llu", i, capsule_err_name (rc),
                      (unsigned long long)at, capsule_err_name (cases[i].code),
                      (unsigned long long)cases[i].at);
    }
}

static void
test_log_consistency (void **state)
{
    (void)state;
    capsule_pcr_log_t *log = s_new_log ("consistency.db", 12, 5); /* checkpoints 5, 10, 12 */
    capsule_pcr_log_close (&log);
    assert_int_equal (capsule_pcr_log_open (s_path, true, NULL, &log, NULL, 0), WD_OK);
    static const uint64_t pairs[][2] = { { 5, 0 }, { 5, 10 }, { 10, 12 }, { 12, 12 } };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        uint8_t proof[CAPSULE_MERKLE_PROOF_MAX][32];
        size_t count;
        char *a_note, *b_note;
        uint64_t got;
        assert_int_equal (capsule_pcr_log_consistency (log, pairs[i][0], pairs[i][1], proof, &count,
                                                       &a_note, &b_note, &got, NULL, 0),
                          WD_OK);
        capsule_checkpoint_t a, b;
        assert_int_equal (capsule_checkpoint_open (a_note, strlen (a_note), s_pk, &a),
                          CAPSULE_VERIFY_OK);
        assert_int_equal (capsule_checkpoint_open (b_note, strlen (b_note), s_pk, &b),
                          CAPSULE_VERIFY_OK);
        assert_int_equal (b.size, pairs[i][1] ? pairs[i][1] : 12);
        assert_int_equal (got, b.size);
        assert_true (capsule_merkle_consistency_verify (
            a.size, b.size, a.root, b.root, (const capsule_merkle_hash_t *)proof, count));
        free (a_note);
        free (b_note);
    }
    uint8_t proof[CAPSULE_MERKLE_PROOF_MAX][32];
    size_t count;
    char *a_note, *b_note;
    uint64_t got;
    assert_int_equal (
        capsule_pcr_log_consistency (log, 7, 0, proof, &count, &a_note, &b_note, &got, NULL, 0),
        CAPSULE_ERR_LOG_NO_CHECKPOINT);
    assert_int_equal (
        capsule_pcr_log_consistency (log, 10, 5, proof, &count, &a_note, &b_note, &got, NULL, 0),
        CAPSULE_ERR_LOG_NO_CHECKPOINT);
    capsule_pcr_log_close (&log);
}

/* ---- bundles ----------------------------------------------------------------------------------
 */

static const uint8_t *
s_find (const uint8_t *hay, size_t n, const uint8_t *needle, size_t m)
{
    for (size_t i = 0; i + m <= n; i++)
        if (memcmp (hay + i, needle, m) == 0)
            return hay + i;
    return NULL;
}

static void
test_bundle_verifies (void **state)
{
    (void)state;
    capsule_pcr_log_t *log = s_new_log ("bundle.db", 11, 4);
    for (uint64_t idx = 0; idx < 11; idx++) {
        uint8_t *b;
        size_t len;
        assert_int_equal (
            capsule_pcr_log_bundle (log, idx, idx % 2 == 0, s_cert, s_cert_len, &b, &len, NULL, 0),
            WD_OK);
        capsule_bundle_info_t info;
        char detail[256];
        char raw[32];
        int rlen = snprintf (raw, sizeof raw, "result %llu", (unsigned long long)idx);
        assert_int_equal (capsule_bundle_verify (b, len, (const uint8_t *)raw, (size_t)rlen, NULL,
                                                 0, &info, detail, sizeof detail),
                          CAPSULE_VERIFY_OK);
        assert_int_equal (info.index, idx);
        assert_int_equal (info.tree_size, 11);
        assert_int_equal (info.seq, idx + 1);
        assert_true (info.raw_included == (idx % 2 == 0));
        assert_true (info.original_checked);
        assert_string_equal (info.node, "lab-node");
        assert_string_equal (info.origin, S_ORIGIN);
        /* the wrong original, an unpinned key, a pinned key */
        assert_int_equal (
            capsule_bundle_verify (b, len, (const uint8_t *)"result", 6, NULL, 0, NULL, NULL, 0),
            CAPSULE_VERIFY_ORIGINAL_MISMATCH);
        uint8_t other[1][32];
        randombytes_buf (other[0], 32);
        assert_int_equal (
            capsule_bundle_verify (b, len, NULL, 0, (const uint8_t (*)[32])other, 1, NULL, NULL, 0),
            CAPSULE_VERIFY_KEY_UNTRUSTED);
        assert_int_equal (capsule_bundle_verify (b, len, NULL, 0, (const uint8_t (*)[32]) & s_pk, 1,
                                                 &info, NULL, 0),
                          CAPSULE_VERIFY_OK);
        assert_true (info.key_pinned);
        free (b);
    }
    /* an entry past the newest checkpoint has no bundle yet */
    assert_int_equal (capsule_pcr_log_begin (log, NULL, 0), WD_OK);
    capsule_pcr_log_close (&log);
    uint8_t *b;
    size_t len;
    assert_int_equal (capsule_pcr_log_open (s_path, true, NULL, &log, NULL, 0), WD_OK);
    assert_int_equal (capsule_pcr_log_bundle (log, 11, true, s_cert, s_cert_len, &b, &len, NULL, 0),
                      CAPSULE_ERR_LOG_NO_ENTRY);
    capsule_pcr_log_close (&log);
}

/* Every byte of a bundle flipped: never accepted, and a byte inside a part
   fails with that part's reason. */
static void
test_bundle_every_flip (void **state)
{
    (void)state;
    capsule_pcr_log_t *log = s_new_log ("flip.db", 6, 6);
    uint8_t *b;
    size_t len;
    assert_int_equal (capsule_pcr_log_bundle (log, 3, true, s_cert, s_cert_len, &b, &len, NULL, 0),
                      WD_OK);
    /* find each part inside the bundle */
    const uint8_t *cert = s_find (b, len, s_cert, s_cert_len);
    assert_non_null (cert);
    const uint8_t *note = s_find (b, len, (const uint8_t *)"warden-pcr/lab-node/", 20);
    assert_non_null (note);
    const uint8_t *raw = s_find (b, len, (const uint8_t *)"result 3", 8);
    assert_non_null (raw);
    /* the statement envelope: the bin right after the "envelope" key */
    const uint8_t *ekey = s_find (b, len,
                                  (const uint8_t *)"\xa8"
                                                   "envelope",
                                  9);
    assert_non_null (ekey);
    const uint8_t *env = ekey + 9;
    size_t env_hdr = env[0] == 0xc4 ? 2 : env[0] == 0xc5 ? 3 : 5;
    size_t env_len = env[0] == 0xc4 ? env[1] : env[0] == 0xc5 ? (size_t)(env[1] << 8 | env[2]) : 0;
    assert_true (env_len > 0);
    env += env_hdr;
    const uint8_t *pkey = s_find (b, len, (const uint8_t *)"\xa5proof", 6);
    assert_non_null (pkey);
    size_t nproof = pkey[6] & 0x0f;
    assert_true (nproof >= 2);
    const uint8_t *proof = pkey + 7; /* nproof times c4 20 <32 bytes> */
    size_t checked = 0;
    for (size_t i = 0; i < len; i++) {
        b[i] ^= 0x01;
        int rc = capsule_bundle_verify (b, len, NULL, 0, NULL, 0, NULL, NULL, 0);
        b[i] ^= 0x01;
        const uint8_t *p = b + i;
        if (rc == CAPSULE_VERIFY_OK)
            fail_msg ("flipped byte %zu of %zu accepted", i, len);
        if (p >= cert && p < cert + s_cert_len)
            assert_int_equal (rc, CAPSULE_VERIFY_CERT_INVALID);
        else if (p >= env && p < env + env_len)
            assert_true (
                rc == CAPSULE_VERIFY_STATEMENT_FORMAT || rc == CAPSULE_VERIFY_STATEMENT_TYPE ||
                rc == CAPSULE_VERIFY_STATEMENT_SIGNER || rc == CAPSULE_VERIFY_STATEMENT_SIGNATURE);
        else if (p >= raw && p < raw + 8)
            assert_int_equal (rc, CAPSULE_VERIFY_RAW_MISMATCH);
        else if (p >= note && p < note + 100)
            assert_true (rc == CAPSULE_VERIFY_CHECKPOINT_FORMAT ||
                         rc == CAPSULE_VERIFY_CHECKPOINT_KEY ||
                         rc == CAPSULE_VERIFY_CHECKPOINT_SIGNATURE);
        else if (p >= proof && p < proof + nproof * 34 && (size_t)(p - proof) % 34 >= 2)
            assert_int_equal (rc, CAPSULE_VERIFY_INCLUSION);
        else
            continue;
        checked++;
    }
    assert_true (checked > len / 2);
    /* cut short anywhere */
    for (size_t cut = 0; cut < len; cut++)
        assert_int_equal (capsule_bundle_verify (b, cut, NULL, 0, NULL, 0, NULL, NULL, 0),
                          CAPSULE_VERIFY_BUNDLE_FORMAT);
    free (b);
    capsule_pcr_log_close (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_merkle_reference_roots),
        cmocka_unit_test (test_merkle_proofs),
        cmocka_unit_test (test_signing_rule_matches_common),
        cmocka_unit_test (test_log_verifies_and_reopens),
        cmocka_unit_test (test_log_tampering_detected),
        cmocka_unit_test (test_log_consistency),
        cmocka_unit_test (test_bundle_verifies),
        cmocka_unit_test (test_bundle_every_flip),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
