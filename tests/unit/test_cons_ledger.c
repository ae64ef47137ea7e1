/*
 * Unit tests for cons_ledger: appending the known-answer chain of
 * tests/vectors/ledger_vectors.py (and building the same bytes with
 * cons_ledger_propose), every rule of cons_ledger_check_block and
 * cons_ledger_append with its exact code, the append-only triggers,
 * reopening (replay), cons_ledger_verify_all on tampered databases, and
 * export; in VRF proposer mode, the Python chain of
 * tests/vectors/ledger_vrf.txt and every v2 rule with its exact code.
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
#include <unistd.h>

#include <cmocka.h>

#include "cons_ledger.h"
#include "cons_test_chain.h"
#include "test_support.h"
#include "wd_codec.h"
#include "wd_hash.h"

#define VEC          "ledger.txt"
#define VEC_VRF      "ledger_vrf.txt"
#define S_VRF_BLOCKS 5  /* blocks in the VRF vectors */
#define S_VEC_BLOCKS 17 /* blocks in the vectors */

static char s_path[512];
static int s_counter;

/* A fresh database path in the test directory. */
static const char *
s_fresh (void)
{
    snprintf (s_path, sizeof s_path, "%s/ledger-%d.db", test_tmpdir (), ++s_counter);
    return s_path;
}

/* The vector named what_h (what: "block" or "cert"). */
static uint8_t *
s_vec (const char *what, int h, size_t *len)
{
    char name[32];
    snprintf (name, sizeof name, "%s_%d", what, h);
    return test_vector_hex (VEC, name, len);
}

/* The Python chain: every block and certificate is accepted, propose
   builds the very same bytes, and the reputation table matches. */
static void
test_vectors (void **state)
{
    (void)state;
    size_t glen;
    uint8_t *gbytes = test_vector_hex (VEC, "genesis", &glen);
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (gbytes, glen, &g), WD_OK);
    cons_ledger_t *l;
    char why[256];
    const char *path = s_fresh ();
    assert_int_equal (cons_ledger_open (path, g, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
                      WD_OK);
    for (int h = 1; h <= S_VEC_BLOCKS; h++) {
        size_t len, cert_len;
        uint8_t *block = s_vec ("block", h, &len);
        uint8_t *cert = s_vec ("cert", h, &cert_len);
        cons_block_t b;
        assert_int_equal (cons_block_decode (block, len, len, &b), WD_OK);
        uint8_t *mine;
        size_t mine_len;
        assert_int_equal (cons_ledger_propose (l, b.time, b.proposer, NULL, b.records,
                                               b.record_count, &mine, &mine_len),
                          WD_OK);
        assert_int_equal (mine_len, len);
        assert_memory_equal (mine, block, len);
        assert_true (cons_ledger_valid_cb (l, (uint64_t)h, block, len));
        assert_false (cons_ledger_valid_cb (l, (uint64_t)h + 1, block, len));
        assert_int_equal (cons_ledger_append (l, block, len, cert, cert_len), WD_OK);
        assert_int_equal (cons_ledger_height (l), (uint64_t)h);
        for (size_t i = 0; i < b.record_count; i++) {
            uint8_t id[32];
            wd_envelope_id (id, b.records[i].data, b.records[i].len);
            assert_true (cons_ledger_seen (l, id));
        }
        cons_block_release (&b);
        free (mine);
        free (block);
        free (cert);
    }
    /* the node rejected in block 3 is out of epoch 2 (heights 5, 6, with
       the quarantined one: two validators left) and back in epoch 3 */
    const cons_validator_t *set;
    size_t set_count;
    assert_int_equal (cons_ledger_validators (l, 5, &set, &set_count), WD_OK);
    assert_int_equal (set_count, 2);
    assert_int_equal (cons_ledger_validators (l, 7, &set, &set_count), WD_OK);
    assert_int_equal (set_count, 3);
    /* the fifth node joined in block 8 and was certified in block 9: a
       validator of epoch 5 (heights 11, 12, with the quarantine over: all
       five), not of epoch 6 (its leave in block 11); the host failure of
       block 8 left its node in the set */
    const cons_reputation_t *rt = cons_ledger_reputation (l);
    assert_int_equal (cons_reputation_count (rt), 5);
    assert_int_equal (cons_reputation_entry (rt, 4)->joined, 8);
    assert_int_equal (cons_reputation_entry (rt, 4)->left, 11);
    assert_int_equal (cons_ledger_validators (l, 9, &set, &set_count), WD_OK);
    assert_int_equal (set_count, 3);
    assert_int_equal (cons_ledger_validators (l, 11, &set, &set_count), WD_OK);
    assert_int_equal (set_count, 5);
    assert_memory_equal (set[4].pk, cons_reputation_entry (rt, 4)->id, 32);
    assert_int_equal (cons_ledger_validators (l, 13, &set, &set_count), WD_OK);
    assert_int_equal (set_count, 4);
    /* a genesis node rotated its keys in block 14: the same row under the
       new key (its counters kept, the tier of its new certificate), the
       old key in the set fixed before (epoch 7, heights 15, 16), the new
       key from epoch 8 (height 17) on */
    size_t rot = 0;
    while (rot < 4 && cons_reputation_entry (rt, rot)->rotated == 0)
        rot++;
    assert_true (rot < 4);
    const cons_rep_entry_t *re = cons_reputation_entry (rt, rot);
    assert_int_equal (re->rotated, 14);
    assert_int_equal (re->tier_bp, CONS_REP_BP);
    assert_true (re->passed >= 1);
    assert_memory_equal (re->cert.sign_pk, re->id, 32);
    assert_int_equal (cons_ledger_validators (l, 17, &set, &set_count), WD_OK);
    bool new_in = false;
    for (size_t i = 0; i < set_count; i++)
        new_in |= memcmp (set[i].pk, re->id, 32) == 0;
    assert_true (new_in);
    assert_int_equal (cons_ledger_validators (l, 15, &set, &set_count), WD_OK);
    for (size_t i = 0; i < set_count; i++)
        assert_memory_not_equal (set[i].pk, re->id, 32);
    size_t rlen, want_len;
    uint8_t *rep = cons_reputation_encode (cons_ledger_reputation (l), &rlen);
    uint8_t *want = test_vector_hex (VEC, "reputation", &want_len);
    assert_int_equal (rlen, want_len);
    assert_memory_equal (rep, want, rlen);
    free (rep);

    /* reopen: the replay gives the same state */
    cons_ledger_destroy (&l);
    assert_int_equal (cons_ledger_open (path, g, CONS_LEDGER_READ_ONLY, &l, why, sizeof why),
                      WD_OK);
    assert_int_equal (cons_ledger_height (l), S_VEC_BLOCKS);
    rep = cons_reputation_encode (cons_ledger_reputation (l), &rlen);
    assert_int_equal (rlen, want_len);
    assert_memory_equal (rep, want, rlen);
    uint64_t bad = 99;
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    assert_int_equal (bad, 0);

    /* get, find */
    uint8_t *block, *cert;
    size_t len, cert_len;
    assert_int_equal (cons_ledger_get (l, 3, &block, &len, &cert, &cert_len), WD_OK);
    size_t vlen;
    uint8_t *v3 = s_vec ("block", 3, &vlen);
    assert_int_equal (len, vlen);
    assert_memory_equal (block, v3, len);
    uint8_t id[32];
    cons_block_id (block, len, id);
    uint64_t height = 0;
    assert_int_equal (cons_ledger_find (l, id, &height), WD_OK);
    assert_int_equal (height, 3);
    id[0] ^= 1;
    assert_int_equal (cons_ledger_find (l, id, &height), WD_ERR_NOT_FOUND);
    assert_int_equal (cons_ledger_get (l, S_VEC_BLOCKS + 1, &block, &len, NULL, NULL),
                      WD_ERR_NOT_FOUND);
    free (v3);
    free (block);
    free (cert);
    free (rep);
    free (want);
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    free (gbytes);
}

static tchain_t s_t;

static int
s_setup (void **state)
{
    (void)state;
    tchain_init (&s_t, 4, 0x1, 3, 1);
    return 0;
}

static int
s_teardown (void **state)
{
    tchain_fini (&s_t);
    return test_tmpdir_teardown (state);
}

static cons_ledger_t *
s_open (void)
{
    cons_ledger_t *l;
    char why[256];
    assert_int_equal (
        cons_ledger_open (s_fresh (), s_t.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
        WD_OK);
    return l;
}

/* Proposes a block with one note, lets mutate change it, re-encodes it and
   returns what check and append say (with a full certificate). */
static int
s_try (cons_ledger_t *l, void (*mutate) (cons_block_t *, void *), void *ctx)
{
    size_t rlen;
    uint8_t *rec = tchain_note (&s_t, 2, "note", 1000 + cons_ledger_height (l), &rlen);
    cons_bytes_t r = { rec, rlen };
    uint8_t *bytes;
    size_t len;
    assert_int_equal (cons_ledger_propose (l, 5000, s_t.pk[0], NULL, &r, 1, &bytes, &len), WD_OK);
    cons_block_t b;
    assert_int_equal (cons_block_decode (bytes, len, len, &b), WD_OK);
    cons_bytes_t *decoded = b.records; /* a mutation may point elsewhere */
    if (mutate)
        mutate (&b, ctx);
    uint8_t *proposed = bytes; /* b borrows from it */
    bytes = cons_block_encode (&b, &len);
    free (proposed);
    int check = cons_ledger_check_block (l, bytes, len);
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, b.height > 0 ? b.height : 1, &set, &n), WD_OK);
    size_t cert_len;
    uint8_t *cert = tchain_cert (&s_t, set, n, b.height, bytes, len, 0, &cert_len);
    int append = cons_ledger_append (l, bytes, len, cert, cert_len);
    assert_int_equal (check, append);
    b.records = decoded;
    cons_block_release (&b);
    free (cert);
    free (bytes);
    free (rec);
    return append;
}

static void
m_height (cons_block_t *b, void *ctx)
{
    (void)ctx;
    b->height++;
}
static void
m_prev (cons_block_t *b, void *ctx)
{
    (void)ctx;
    b->prev[5] ^= 1;
}
static void
m_time (cons_block_t *b, void *ctx)
{
    b->time = *(uint64_t *)ctx;
}
static void
m_seed (cons_block_t *b, void *ctx)
{
    (void)ctx;
    b->seed[0] ^= 1;
}
static void
m_validators (cons_block_t *b, void *ctx)
{
    (void)ctx;
    b->validators_hash[0] ^= 1;
}
static void
m_reputation (cons_block_t *b, void *ctx)
{
    (void)ctx;
    b->reputation_hash[0] ^= 1;
}
static void
m_proposer (cons_block_t *b, void *ctx)
{
    (void)ctx;
    memset (b->proposer, 0x55, 32);
}
static void
m_records (cons_block_t *b, void *ctx)
{
    cons_bytes_t *r = ctx;
    b->records = r;
    b->record_count = 1;
    cons_block_records_root (r, 1, b->records_root);
}
static void
m_last_cert (cons_block_t *b, void *ctx)
{
    b->last_cert = *(cons_bytes_t *)ctx;
}

static void
test_rules (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open ();
    assert_int_equal (s_try (l, NULL, NULL), WD_OK);
    assert_int_equal (s_try (l, NULL, NULL), WD_OK);
    uint64_t tip_time;
    cons_ledger_tip (l, NULL, NULL, &tip_time);

    assert_int_equal (s_try (l, m_height, NULL), CONS_ERR_BLOCK_HEIGHT);
    assert_int_equal (s_try (l, m_prev, NULL), CONS_ERR_BLOCK_PREV);
    assert_int_equal (s_try (l, m_time, &tip_time), CONS_ERR_BLOCK_TIME);
    assert_int_equal (s_try (l, m_seed, NULL), CONS_ERR_BLOCK_SEED);
    assert_int_equal (s_try (l, m_validators, NULL), CONS_ERR_BLOCK_VALIDATORS);
    assert_int_equal (s_try (l, m_reputation, NULL), CONS_ERR_BLOCK_REPUTATION);
    assert_int_equal (s_try (l, m_proposer, NULL), CONS_ERR_UNKNOWN_VALIDATOR);

    /* last_cert: of another height, or not a certificate */
    uint8_t *old;
    size_t old_len;
    assert_int_equal (cons_ledger_get (l, 1, NULL, NULL, &old, &old_len), WD_OK);
    cons_bytes_t c = { old, old_len };
    assert_int_equal (s_try (l, m_last_cert, &c), CONS_ERR_CERT_BLOCK);
    c.len = 3;
    assert_int_equal (s_try (l, m_last_cert, &c), WD_ERR_TRUNCATED);
    free (old);

    /* records: already in the chain, another chain, unknown signer, bad
       signature, a verdict whose body is not a verdict */
    size_t len;
    uint8_t *dup = tchain_note (&s_t, 2, "note", 1000, &len); /* in block 1 */
    cons_bytes_t r = { dup, len };
    assert_int_equal (s_try (l, m_records, &r), CONS_ERR_BLOCK_DUPLICATE);
    free (dup);

    tchain_t other;
    tchain_init (&other, 2, 0, 0, 0);
    uint8_t *foreign = tchain_note (&other, 0, "note", 1, &len);
    r = (cons_bytes_t){ foreign, len };
    assert_int_equal (s_try (l, m_records, &r), WD_ERR_WRONG_CHAIN);
    free (foreign);
    tchain_fini (&other);

    uint8_t stranger_pk[32], stranger_sk[64];
    crypto_sign_keypair (stranger_pk, stranger_sk);
    static const uint8_t body[] = { 0x80 };
    uint8_t *rec;
    assert_int_equal (wd_envelope_seal ("note", s_t.chain, stranger_pk, body, 1, test_sign_fn,
                                        stranger_sk, &rec, &len),
                      WD_OK);
    r = (cons_bytes_t){ rec, len };
    assert_int_equal (s_try (l, m_records, &r), CONS_ERR_BLOCK_SIGNER);
    free (rec);

    rec = tchain_note (&s_t, 1, "note", 77, &len);
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (rec, len, &env), WD_OK);
    env.sig[0] ^= 1;
    uint8_t *forged;
    size_t forged_len;
    wd_envelope_encode (&env, &forged, &forged_len);
    r = (cons_bytes_t){ forged, forged_len };
    assert_int_equal (s_try (l, m_records, &r), WD_ERR_BAD_SIGNATURE);
    free (forged);
    free (rec);

    rec = tchain_note (&s_t, 1, "verdict", 78, &len);
    r = (cons_bytes_t){ rec, len };
    assert_int_equal (s_try (l, m_records, &r), CONS_ERR_BLOCK_RECORD);
    free (rec);
    rec = tchain_note (&s_t, 1, CONS_REP_EQUIVOCATION_TYPE, 79, &len);
    r = (cons_bytes_t){ rec, len };
    assert_int_equal (s_try (l, m_records, &r), CONS_ERR_BLOCK_RECORD);
    free (rec);

    /* nothing was written by the refused blocks */
    assert_int_equal (cons_ledger_height (l), 2);
    assert_int_equal (s_try (l, NULL, NULL), WD_OK);
    cons_ledger_destroy (&l);
}

/* With a verified-id cache: a good record is verified once (the append
   of the very bytes check_block passed at this tip does not check them
   again), a forged one (its id is another hash) is still refused by both
   and not remembered, and verify_all re-checks from scratch. */
static void
test_vcache (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open ();
    cons_vcache_t *cache = cons_vcache_new (s_t.chain);
    assert_non_null (cache);
    cons_ledger_set_vcache (l, cache);
    uint64_t hits, misses;
    assert_int_equal (s_try (l, NULL, NULL), WD_OK);
    cons_vcache_stats (cache, &hits, &misses);
    assert_int_equal (misses, 1); /* check_block */
    assert_int_equal (hits, 0);   /* append: these bytes passed check_block */
    /* the certificate's signatures are verified at the append; the next
       block carries it as its last certificate: hits */
    uint64_t sig_hits, sig_misses;
    cons_vcache_sig_stats (cache, &sig_hits, &sig_misses);
    assert_int_equal (sig_hits, 0);
    assert_true (sig_misses > 0);
    uint64_t cert_sigs = sig_misses;

    size_t len;
    uint8_t *rec = tchain_note (&s_t, 1, "note", 90, &len), good[32], bad[32];
    wd_envelope_id (good, rec, len);
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (rec, len, &env), WD_OK);
    assert_int_equal (cons_vcache_verify (cache, good, &env, s_t.chain), WD_OK);
    env.sig[0] ^= 1;
    uint8_t *forged;
    size_t forged_len;
    wd_envelope_encode (&env, &forged, &forged_len);
    wd_envelope_id (bad, forged, forged_len);
    assert_memory_not_equal (good, bad, 32);
    cons_bytes_t r = { forged, forged_len };
    assert_int_equal (s_try (l, m_records, &r), WD_ERR_BAD_SIGNATURE);
    assert_true (cons_vcache_has (cache, good));
    assert_false (cons_vcache_has (cache, bad));
    r = (cons_bytes_t){ rec, len };
    assert_int_equal (s_try (l, m_records, &r), WD_OK);
    assert_int_equal (cons_ledger_height (l), 2);
    cons_vcache_sig_stats (cache, &sig_hits, &sig_misses);
    assert_true (sig_hits >= cert_sigs); /* block 2's last certificate */

    uint64_t bad_height = 99;
    char why[256];
    assert_int_equal (cons_ledger_verify_all (l, &bad_height, why, sizeof why), WD_OK);
    free (forged);
    free (rec);
    cons_ledger_destroy (&l);
    cons_vcache_destroy (&cache);
}

static void
test_certificates (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open ();
    uint8_t *bytes, *other;
    size_t len, other_len, cert_len;
    assert_int_equal (cons_ledger_propose (l, 10, s_t.pk[0], NULL, NULL, 0, &bytes, &len), WD_OK);
    assert_int_equal (cons_ledger_propose (l, 11, s_t.pk[0], NULL, NULL, 0, &other, &other_len),
                      WD_OK);
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, 1, &set, &n), WD_OK);
    assert_int_equal (n, 4);
    /* two of four: not more than 2/3 */
    uint8_t *cert = tchain_cert (&s_t, set, n, 1, bytes, len, 0x3, &cert_len);
    assert_int_equal (cons_ledger_append (l, bytes, len, cert, cert_len), CONS_ERR_CERT_WEIGHT);
    free (cert);
    /* a certificate for another block */
    cert = tchain_cert (&s_t, set, n, 1, other, other_len, 0, &cert_len);
    assert_int_equal (cons_ledger_append (l, bytes, len, cert, cert_len), CONS_ERR_CERT_BLOCK);
    free (cert);
    /* a certificate with a bad signature */
    cert = tchain_cert (&s_t, set, n, 1, bytes, len, 0, &cert_len);
    cert[cert_len - 20] ^= 1;
    assert_int_equal (cons_ledger_append (l, bytes, len, cert, cert_len), WD_ERR_BAD_SIGNATURE);
    cert[cert_len - 20] ^= 1;
    assert_int_equal (cons_ledger_append (l, bytes, len, cert, cert_len), WD_OK);
    /* the same block again */
    assert_int_equal (cons_ledger_append (l, bytes, len, cert, cert_len), CONS_ERR_BLOCK_HEIGHT);
    free (cert);
    free (bytes);
    free (other);
    cons_ledger_destroy (&l);
}

static int
s_sql (const char *path, const char *sql)
{
    sqlite3 *db;
    assert_int_equal (sqlite3_open (path, &db), SQLITE_OK);
    int rc = sqlite3_exec (db, sql, NULL, NULL, NULL);
    sqlite3_close (db);
    return rc;
}

/* Builds a chain of count blocks with a few records; returns its path
   (static). */
static const char *
s_chain (size_t count)
{
    cons_ledger_t *l = s_open ();
    static char path[512];
    snprintf (path, sizeof path, "%s", s_path);
    for (size_t h = 1; h <= count; h++) {
        size_t a, b;
        uint8_t *r1 = tchain_verdict (&s_t, 0, h % 4, h % 3 != 0, h, &a);
        uint8_t *r2 = tchain_note (&s_t, 1, "note", h, &b);
        cons_bytes_t recs[2] = { { r1, a }, { r2, b } };
        assert_int_equal (tchain_commit (&s_t, l, recs, 2, 0, 1000 * h), WD_OK);
        free (r1);
        free (r2);
    }
    cons_ledger_destroy (&l);
    return path;
}

static int
s_verify (const char *path, uint64_t *bad)
{
    cons_ledger_t *l;
    char why[256];
    int err = cons_ledger_open (path, s_t.genesis, CONS_LEDGER_READ_ONLY, &l, why, sizeof why);
    if (err != WD_OK)
        return err;
    err = cons_ledger_verify_all (l, bad, why, sizeof why);
    cons_ledger_destroy (&l);
    return err;
}

static void
test_append_only_and_verify (void **state)
{
    (void)state;
    const char *path = s_chain (8);
    uint64_t bad = 0;
    assert_int_equal (s_verify (path, &bad), WD_OK);

    /* the triggers refuse changes */
    assert_int_not_equal (s_sql (path, "UPDATE blocks SET time = 1 WHERE height = 2"), SQLITE_OK);
    assert_int_not_equal (s_sql (path, "DELETE FROM blocks WHERE height = 8"), SQLITE_OK);
    assert_int_not_equal (s_sql (path, "DELETE FROM records"), SQLITE_OK);
    assert_int_equal (s_verify (path, &bad), WD_OK);

    /* with the triggers dropped, verify_all finds a certificate swapped
       for another height's */
    assert_int_equal (s_sql (path, "DROP TRIGGER blocks_no_update;"
                                   " UPDATE blocks SET cert = (SELECT cert FROM blocks WHERE"
                                   " height = 4) WHERE height = 5"),
                      SQLITE_OK);
    assert_int_equal (s_verify (path, &bad), CONS_ERR_CERT_BLOCK);
    assert_int_equal (bad, 5);
}

/* A ledger whose stored columns or records rows disagree with its blocks. */
static void
test_verify_tampered (void **state)
{
    (void)state;
    static const char *const tamper[] = {
        "UPDATE blocks SET time = time + 1 WHERE height = 3",
        "UPDATE records SET type = 'other' WHERE height = 4 AND idx = 1",
        "DELETE FROM records WHERE height = 2 AND idx = 0",
        "DELETE FROM blocks WHERE height = 6",
    };
    /* reasons and heights (0: only the count check sees it) */
    static const int want[] = { CONS_ERR_LEDGER_CORRUPT, WD_OK, CONS_ERR_LEDGER_CORRUPT,
                                CONS_ERR_BLOCK_HEIGHT };
    static const uint64_t want_height[] = { 3, 0, 2, 6 };
    for (size_t i = 0; i < sizeof tamper / sizeof *tamper; i++) {
        const char *path = s_chain (7);
        char sql[512];
        snprintf (sql, sizeof sql,
                  "DROP TRIGGER blocks_no_update; DROP TRIGGER blocks_no_delete;"
                  " DROP TRIGGER records_no_update; DROP TRIGGER records_no_delete; %s",
                  tamper[i]);
        assert_int_equal (s_sql (path, sql), SQLITE_OK);
        uint64_t bad = 0;
        int err = s_verify (path, &bad);
        if (want[i] == WD_OK)
            continue; /* type column is informative: not covered */
        assert_int_equal (err, want[i]);
        assert_int_equal (bad, want_height[i]);
    }
}

static void
test_open_errors (void **state)
{
    (void)state;
    cons_ledger_t *l;
    char why[256];
    assert_int_equal (cons_ledger_open ("/nonexistent/dir/ledger.db", s_t.genesis,
                                        CONS_LEDGER_READ_ONLY, &l, why, sizeof why),
                      WD_ERR_NOT_FOUND);
    const char *path = s_chain (2);
    tchain_t other;
    tchain_init (&other, 3, 0, 0, 0);
    assert_int_equal (
        cons_ledger_open (path, other.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
        CONS_ERR_LEDGER_CHAIN);
    tchain_fini (&other);
    /* read-only refuses appends */
    assert_int_equal (
        cons_ledger_open (path, s_t.genesis, CONS_LEDGER_READ_ONLY, &l, why, sizeof why), WD_OK);
    uint8_t *bytes;
    size_t len;
    assert_int_equal (cons_ledger_propose (l, 1, s_t.pk[0], NULL, NULL, 0, &bytes, &len), WD_OK);
    assert_int_equal (cons_ledger_append (l, bytes, len, bytes, len), WD_ERR_BAD_VALUE);
    free (bytes);
    cons_ledger_destroy (&l);
}

static void
test_export (void **state)
{
    (void)state;
    const char *path = s_chain (5);
    cons_ledger_t *l;
    char why[256];
    assert_int_equal (
        cons_ledger_open (path, s_t.genesis, CONS_LEDGER_READ_ONLY, &l, why, sizeof why), WD_OK);
    char out[600];
    snprintf (out, sizeof out, "%s/export.msgpack", test_tmpdir ());
    assert_int_equal (cons_ledger_export (l, out), WD_OK);
    cons_ledger_destroy (&l);
    size_t len;
    uint8_t *data = test_read_file (out, &len);
    assert_int_equal (wd_codec_check (data, len, len, NULL), WD_OK);
    wd_reader_t r;
    size_t count, blocks;
    wd_reader_init (&r, data, len);
    wd_read_map (&r, &count);
    assert_int_equal (count, 5);
    wd_read_key (&r, "blocks");
    wd_read_array (&r, &blocks);
    assert_int_equal (blocks, 5);
    for (size_t i = 0; i < blocks; i++) {
        size_t pair;
        const uint8_t *b, *c;
        size_t bl, cl;
        wd_read_array (&r, &pair);
        wd_read_bin (&r, &b, &bl, len);
        wd_read_bin (&r, &c, &cl, len);
        wd_read_end (&r);
        cons_block_t blk;
        assert_int_equal (cons_block_decode (b, bl, bl, &blk), WD_OK);
        assert_int_equal (blk.height, i + 1);
        cons_block_release (&blk);
    }
    wd_read_end (&r);
    wd_read_key (&r, "chain");
    uint8_t chain[32];
    wd_read_bin_fixed (&r, chain, 32);
    assert_memory_equal (chain, s_t.chain, 32);
    const uint8_t *gen;
    size_t glen;
    wd_read_key (&r, "genesis");
    wd_read_bin (&r, &gen, &glen, len);
    uint8_t gid[32];
    wd_hash_sha256 (gid, gen, glen);
    assert_memory_equal (gid, s_t.chain, 32);
    uint64_t height, v;
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, UINT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, UINT64_MAX);
    wd_read_end (&r);
    assert_int_equal (wd_reader_finish (&r), WD_OK);
    assert_int_equal (height, 5);
    free (data);
}

/* ---- VRF proposer mode ------------------------------------------------- */

/* The vector of the VRF chain named what_h. */
static uint8_t *
s_vvec (const char *what, int h, size_t *len)
{
    char name[32];
    snprintf (name, sizeof name, "%s_%d", what, h);
    return test_vector_hex (VEC_VRF, name, len);
}

/* The Python VRF chain: every claim verifies with the priority and on the
   sortition seed Python gives, propose builds the same v2 bytes from the
   claim, every block appends, verify_all and a reopened ledger agree. */
static void
test_vrf_vectors (void **state)
{
    (void)state;
    size_t glen;
    uint8_t *gbytes = test_vector_hex (VEC_VRF, "genesis", &glen);
    wd_genesis_t *g;
    assert_int_equal (wd_genesis_decode (gbytes, glen, &g), WD_OK);
    assert_int_equal (wd_genesis_param (g, "proposers"), 3);
    cons_ledger_t *l;
    char why[256];
    const char *path = s_fresh ();
    assert_int_equal (cons_ledger_open (path, g, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
                      WD_OK);
    assert_true (cons_ledger_proposer_vrf (l));
    for (int h = 1; h <= S_VRF_BLOCKS; h++) {
        size_t len, cert_len, plen, slen;
        uint8_t *block = s_vvec ("block", h, &len);
        uint8_t *cert = s_vvec ("cert", h, &cert_len);
        uint8_t *prio = s_vvec ("priority", h, &plen);
        uint8_t *sseed = s_vvec ("sortition_seed", h, &slen);
        cons_block_t b;
        assert_int_equal (cons_block_decode (block, len, len, &b), WD_OK);
        cons_sortition_input_t in;
        assert_int_equal (
            cons_ledger_proposer_input (l, (uint64_t)h, b.claim.round, b.proposer, &in), WD_OK);
        assert_memory_equal (in.seed, sseed, 32);
        assert_int_equal (in.weight, 1);
        assert_int_equal (in.total_weight, 4);
        assert_int_equal (in.tau, 3);
        assert_int_equal (in.role, CONS_ROLE_PROPOSER);
        uint8_t mine_prio[CONS_SORTITION_PRIORITY_LEN];
        assert_int_equal (cons_ledger_check_claim (l, (uint64_t)h, b.claim.round, b.proposer,
                                                   b.claim.bytes.data, b.claim.bytes.len,
                                                   mine_prio),
                          WD_OK);
        assert_memory_equal (mine_prio, prio, 32);
        uint8_t *mine;
        size_t mine_len;
        assert_int_equal (cons_ledger_propose (l, b.time, b.proposer, &b.claim, b.records,
                                               b.record_count, &mine, &mine_len),
                          WD_OK);
        assert_int_equal (mine_len, len);
        assert_memory_equal (mine, block, len);
        free (mine);
        /* a round-robin block has no place here */
        assert_int_equal (cons_ledger_propose (l, b.time, b.proposer, NULL, b.records,
                                               b.record_count, &mine, &mine_len),
                          WD_ERR_BAD_VALUE);
        assert_null (mine);
        assert_int_equal (cons_ledger_append (l, block, len, cert, cert_len), WD_OK);
        cons_block_release (&b);
        free (block);
        free (cert);
        free (prio);
        free (sseed);
    }
    uint8_t hash[32];
    size_t want_len;
    uint8_t *want = test_vector_hex (VEC_VRF, "reputation_hash", &want_len);
    cons_reputation_hash (cons_ledger_reputation (l), hash);
    assert_memory_equal (hash, want, 32);
    free (want);
    uint64_t bad = 99;
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    assert_int_equal (bad, 0);
    uint8_t tip[32], seed[32];
    cons_ledger_tip (l, tip, seed, NULL);
    cons_ledger_destroy (&l);
    /* the replay at open rebuilds the same tip and seeds */
    assert_int_equal (cons_ledger_open (path, g, CONS_LEDGER_READ_ONLY, &l, why, sizeof why),
                      WD_OK);
    assert_int_equal (cons_ledger_height (l), S_VRF_BLOCKS);
    uint8_t tip2[32], seed2[32];
    cons_ledger_tip (l, tip2, seed2, NULL);
    assert_memory_equal (tip, tip2, 32);
    assert_memory_equal (seed, seed2, 32);
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    cons_ledger_destroy (&l);
    wd_genesis_destroy (&g);
    free (gbytes);
}

static tchain_t s_v; /* the VRF chain of test_vrf_rules */

/* Node i's proposer claim on input in: its canonical bytes in buf (at
   most CONS_BLOCK_CLAIM_MAX); returns its count. */
static uint64_t
s_vprove (const cons_sortition_input_t *in, size_t i, uint8_t *buf, size_t *len,
          cons_sortition_claim_t *out)
{
    wd_vrf_key_t *k = wd_vrf_key_new (s_v.vrf_seed[i]);
    assert_non_null (k);
    cons_sortition_claim_t c;
    assert_int_equal (cons_sortition_prove (in, wd_vrf_prove_fn_key, k, &c), WD_OK);
    wd_vrf_key_destroy (&k);
    *len = cons_sortition_claim_encode (&c, buf);
    if (out)
        *out = c;
    return c.count;
}

/* Node i's claim for (tip + 1, round) on l. */
static uint64_t
s_vclaim (cons_ledger_t *l, size_t i, uint32_t round, uint8_t *buf, size_t *len)
{
    cons_sortition_input_t in;
    assert_int_equal (
        cons_ledger_proposer_input (l, cons_ledger_height (l) + 1, round, s_v.pk[i], &in), WD_OK);
    return s_vprove (&in, i, buf, len, NULL);
}

/* A commit certificate of this round for block, signed by the whole set of
   its height. */
static uint8_t *
s_vcert (cons_ledger_t *l, uint64_t height, const uint8_t *block, size_t len, uint32_t round,
         size_t *cert_len)
{
    const cons_validator_t *set;
    size_t n;
    assert_int_equal (cons_ledger_validators (l, height, &set, &n), WD_OK);
    cons_cert_sig_t sigs[TCHAIN_NODES_MAX];
    cons_cert_t cert = { .height = height, .round = round, .sigs = sigs, .count = n };
    cons_block_id (block, len, cert.block_id);
    for (size_t i = 0; i < n; i++) {
        int node = tchain_index (&s_v, set[i].pk);
        assert_true (node >= 0);
        cons_msg_t msg = { .kind = CONS_PRECOMMIT, .height = height, .round = round };
        memcpy (msg.block_id, cert.block_id, 32);
        uint8_t digest[32];
        cons_msg_digest (&msg, s_v.chain, digest);
        sigs[i].index = (uint32_t)i;
        crypto_sign_detached (sigs[i].sig, NULL, digest, 32, s_v.sk[node]);
    }
    return cons_cert_encode (&cert, cert_len);
}

/* The good v2 block for the tip + 1 with one note, claimed in the lowest
   round >= *round in which a node is selected (*round and *who get them);
   b is decoded from the bytes (free both). */
static uint8_t *
s_vpropose (cons_ledger_t *l, uint32_t *round, size_t *who, uint8_t *claim, size_t *claim_len,
            cons_block_t *b, size_t *len)
{
    for (;; (*round)++) {
        assert_true (*round < 64);
        for (size_t i = 0; i < s_v.n; i++) {
            if (s_vclaim (l, i, *round, claim, claim_len) == 0)
                continue;
            *who = i;
            size_t rlen;
            uint8_t *rec = tchain_note (&s_v, 2, "note", 100 + cons_ledger_height (l), &rlen);
            cons_bytes_t r = { rec, rlen };
            cons_block_claim_t c = { *round, { claim, *claim_len } };
            uint8_t *bytes;
            int why = -1;
            assert_int_equal (cons_ledger_propose_valid (l, 1000 * (cons_ledger_height (l) + 1),
                                                         s_v.pk[i], &c, &r, 1, &why, &bytes, len),
                              WD_OK);
            assert_int_equal (why, WD_OK);
            free (rec);
            assert_int_equal (cons_block_decode (bytes, *len, *len, b), WD_OK);
            return bytes;
        }
    }
}

/* Re-encodes b, then what check_block says; the append (with a
   certificate of cert_round signed by all) goes to *append. */
static int
s_vsubmit (cons_ledger_t *l, const cons_block_t *b, uint32_t cert_round, int *append)
{
    size_t len, cert_len;
    uint8_t *bytes = cons_block_encode (b, &len);
    int check = cons_ledger_check_block (l, bytes, len);
    uint8_t *cert = s_vcert (l, cons_ledger_height (l) + 1, bytes, len, cert_round, &cert_len);
    *append = cons_ledger_append (l, bytes, len, cert, cert_len);
    free (cert);
    free (bytes);
    return check;
}

/* b with claim bytes replaced, check and append (round 0 certificate)
   must agree; returns the code. */
static int
s_vclaim_try (cons_ledger_t *l, const cons_block_t *good, const uint8_t *claim, size_t len,
              uint32_t round, const uint8_t *proposer)
{
    cons_block_t b = *good;
    b.claim.bytes = (cons_bytes_t){ claim, len };
    b.claim.round = round;
    if (proposer)
        memcpy (b.proposer, proposer, 32);
    int append, check = s_vsubmit (l, &b, 63, &append);
    assert_int_equal (check, append);
    return check;
}

/* Every v2 rule with its exact code, on a VRF chain of four nodes
   (proposers = 2, so that some nodes are not selected). */
static void
test_vrf_rules (void **state)
{
    (void)state;
    tchain_init (&s_v, 4, 0x1, 0, 0);
    assert_int_equal (wd_genesis_set_param (s_v.genesis, "proposer_vrf", "1"), WD_OK);
    assert_int_equal (wd_genesis_set_param (s_v.genesis, "proposers", "2"), WD_OK);
    wd_genesis_chain_id (s_v.genesis, s_v.chain);
    cons_ledger_t *l;
    char why[256];
    assert_int_equal (
        cons_ledger_open (s_fresh (), s_v.genesis, CONS_LEDGER_READ_WRITE, &l, why, sizeof why),
        WD_OK);
    assert_true (cons_ledger_proposer_vrf (l));
    uint8_t claim[CONS_BLOCK_CLAIM_MAX], other[CONS_BLOCK_CLAIM_MAX];
    size_t claim_len, other_len, len, who;
    cons_block_t b;
    int append;

    /* a good chain of four blocks (past seed_lookback: the sortition seed
       comes from the chain), one claimed in round 1 or later */
    for (uint64_t h = 1; h <= 4; h++) {
        uint32_t round = h == 3 ? 1 : 0;
        uint8_t *bytes = s_vpropose (l, &round, &who, claim, &claim_len, &b, &len);
        assert_int_equal (s_vsubmit (l, &b, round, &append), WD_OK);
        assert_int_equal (append, WD_OK);
        assert_int_equal (cons_ledger_height (l), h);
        cons_block_release (&b);
        free (bytes);
    }
    /* the input: height must be tip + 1, pk a validator */
    cons_sortition_input_t in;
    assert_int_equal (cons_ledger_proposer_input (l, 4, 0, s_v.pk[0], &in), CONS_ERR_BLOCK_HEIGHT);
    uint8_t stranger[32];
    memset (stranger, 0x55, 32);
    assert_int_equal (cons_ledger_proposer_input (l, 5, 0, stranger, &in),
                      CONS_ERR_UNKNOWN_VALIDATOR);
    assert_int_equal (in.weight, 0);
    assert_int_equal (in.total_weight, 4);
    uint8_t seed3[32];
    uint8_t *b3;
    size_t b3_len;
    cons_block_t blk3;
    assert_int_equal (cons_ledger_get (l, 3, &b3, &b3_len, NULL, NULL), WD_OK);
    assert_int_equal (cons_block_decode (b3, b3_len, b3_len, &blk3), WD_OK);
    memcpy (seed3, blk3.seed, 32);
    cons_block_release (&blk3);
    free (b3);
    assert_int_equal (cons_ledger_proposer_input (l, 5, 0, s_v.pk[0], &in), WD_OK);
    assert_memory_equal (in.seed, seed3, 32); /* block 5 - seed_lookback 2 */
    assert_int_equal (in.tau, 2);

    uint32_t round = 0;
    uint8_t *good = s_vpropose (l, &round, &who, claim, &claim_len, &b, &len);
    assert_int_equal (cons_ledger_check_block (l, good, len), WD_OK);
    assert_int_equal (cons_ledger_check_claim (l, 5, round, s_v.pk[who], claim, claim_len, NULL),
                      WD_OK);
    assert_int_equal (cons_ledger_check_claim (l, 6, round, s_v.pk[who], claim, claim_len, NULL),
                      CONS_ERR_BLOCK_HEIGHT);
    assert_int_equal (cons_ledger_check_claim (l, 5, round, stranger, claim, claim_len, NULL),
                      CONS_ERR_UNKNOWN_VALIDATOR);
    /* proposing: a v1 block in VRF mode, a claim that is no claim */
    uint8_t *bytes;
    size_t blen;
    assert_int_equal (cons_ledger_propose (l, 9000, s_v.pk[who], NULL, NULL, 0, &bytes, &blen),
                      WD_ERR_BAD_VALUE);
    cons_block_claim_t junk = { 0, { (const uint8_t *)"\x80", 1 } };
    assert_int_equal (cons_ledger_propose (l, 9000, s_v.pk[who], &junk, NULL, 0, &bytes, &blen),
                      WD_ERR_BAD_VALUE);

    /* v1 in VRF mode, even with the v1 seed */
    cons_block_t v = b;
    v.claim.bytes.len = 0;
    uint8_t tip[32], tip_seed[32];
    cons_ledger_tip (l, tip, tip_seed, NULL);
    cons_block_seed (tip_seed, tip, 5, v.seed);
    assert_int_equal (s_vsubmit (l, &v, 0, &append), WD_ERR_BAD_VERSION);
    assert_int_equal (append, WD_ERR_BAD_VERSION);
    /* the v1 seed rule in a v2 block, a flipped seed */
    v = b;
    cons_block_seed (tip_seed, tip, 5, v.seed);
    assert_int_equal (s_vsubmit (l, &v, 0, &append), CONS_ERR_BLOCK_SEED);
    v = b;
    v.seed[7] ^= 1;
    assert_int_equal (s_vsubmit (l, &v, 0, &append), CONS_ERR_BLOCK_SEED);
    assert_int_equal (append, CONS_ERR_BLOCK_SEED);

    /* the claim proven for another round, another height, by another key */
    assert_int_equal (s_vclaim_try (l, &b, claim, claim_len, round + 1, NULL), WD_ERR_VRF_INVALID);
    assert_int_equal (cons_ledger_proposer_input (l, 5, round, s_v.pk[who], &in), WD_OK);
    /* (a later height at which the node is selected: a zero count would
       be refused before the proof is looked at) */
    for (in.height = 6; s_vprove (&in, who, other, &other_len, NULL) == 0; in.height++)
        assert_true (in.height < 100);
    assert_int_equal (s_vclaim_try (l, &b, other, other_len, round, NULL), WD_ERR_VRF_INVALID);
    size_t j = (who + 1) % s_v.n;
    assert_int_equal (s_vclaim_try (l, &b, claim, claim_len, round, s_v.pk[j]), WD_ERR_VRF_INVALID);
    /* a node not selected: its own claim (count 0), or one that says 1 */
    size_t idle = 0;
    cons_sortition_claim_t c;
    for (; idle < s_v.n; idle++) {
        assert_int_equal (cons_ledger_proposer_input (l, 5, round, s_v.pk[idle], &in), WD_OK);
        if (s_vprove (&in, idle, other, &other_len, &c) == 0)
            break;
    }
    assert_true (idle < s_v.n); /* with tau 2 of W 4, someone is not */
    assert_int_equal (s_vclaim_try (l, &b, other, other_len, round, s_v.pk[idle]),
                      CONS_ERR_SORTITION_NOT_SELECTED);
    c.count = 1;
    other_len = cons_sortition_claim_encode (&c, other);
    assert_int_equal (s_vclaim_try (l, &b, other, other_len, round, s_v.pk[idle]),
                      CONS_ERR_SORTITION_COUNT);
    /* the good claim mangled: its priority, its proof, cut short */
    assert_int_equal (cons_sortition_claim_decode (claim, claim_len, &c), WD_OK);
    c.priority[0] ^= 1;
    other_len = cons_sortition_claim_encode (&c, other);
    assert_int_equal (s_vclaim_try (l, &b, other, other_len, round, NULL),
                      CONS_ERR_SORTITION_PRIORITY);
    c.priority[0] ^= 1;
    c.proof[40] ^= 1; /* inside c */
    other_len = cons_sortition_claim_encode (&c, other);
    assert_int_equal (s_vclaim_try (l, &b, other, other_len, round, NULL), WD_ERR_VRF_INVALID);
    assert_int_equal (s_vclaim_try (l, &b, claim, claim_len - 1, round, NULL), WD_ERR_TRUNCATED);
    assert_int_equal (cons_ledger_height (l), 4); /* nothing got in */

    /* the commit's round below the claim's: only the append refuses */
    cons_block_release (&b);
    free (good);
    round = 1;
    good = s_vpropose (l, &round, &who, claim, &claim_len, &b, &len);
    assert_int_equal (s_vsubmit (l, &b, round - 1, &append), WD_OK);
    assert_int_equal (append, CONS_ERR_BLOCK_ROUND);
    assert_int_equal (s_vsubmit (l, &b, round + 1, &append), WD_OK);
    assert_int_equal (append, WD_OK);
    cons_block_release (&b);
    free (good);

    uint64_t bad = 99;
    assert_int_equal (cons_ledger_verify_all (l, &bad, why, sizeof why), WD_OK);
    cons_ledger_destroy (&l);
    tchain_fini (&s_v);
}

/* A round-robin chain refuses v2 blocks and claims to propose with. */
static void
test_vrf_in_rr (void **state)
{
    (void)state;
    cons_ledger_t *l = s_open ();
    assert_false (cons_ledger_proposer_vrf (l));
    uint8_t *bytes;
    size_t len;
    assert_int_equal (cons_ledger_propose (l, 10, s_t.pk[0], NULL, NULL, 0, &bytes, &len), WD_OK);
    cons_block_t b;
    assert_int_equal (cons_block_decode (bytes, len, len, &b), WD_OK);
    cons_sortition_claim_t c;
    memset (&c, 0, sizeof c);
    c.count = 1;
    wd_writer_t *w = wd_writer_new ();
    cons_sortition_claim_write (&c, w);
    size_t claim_len;
    const uint8_t *claim = wd_writer_data (w, &claim_len);
    b.claim = (cons_block_claim_t){ 0, { claim, claim_len } };
    uint8_t *v2;
    size_t v2_len;
    assert_int_equal (cons_ledger_propose (l, 10, s_t.pk[0], &b.claim, NULL, 0, &v2, &v2_len),
                      WD_ERR_BAD_VALUE);
    v2 = cons_block_encode (&b, &v2_len);
    assert_int_equal (cons_ledger_check_block (l, v2, v2_len), WD_ERR_BAD_VERSION);
    assert_int_equal (cons_ledger_check_block (l, bytes, len), WD_OK);
    free (v2);
    wd_writer_destroy (&w);
    cons_block_release (&b);
    free (bytes);
    cons_ledger_destroy (&l);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vectors),         cmocka_unit_test (test_rules),
        cmocka_unit_test (test_certificates),    cmocka_unit_test (test_append_only_and_verify),
        cmocka_unit_test (test_verify_tampered), cmocka_unit_test (test_open_errors),
        cmocka_unit_test (test_export),          cmocka_unit_test (test_vcache),
        cmocka_unit_test (test_vrf_vectors),     cmocka_unit_test (test_vrf_rules),
        cmocka_unit_test (test_vrf_in_rr),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
