/*
 * Unit tests for cons_vcache (the verified-envelope-id cache): a second
 * check of the same bytes is a hit with the same answer, a tampered copy
 * of a cached envelope has another id and is still refused, failures are
 * never remembered, and another chain never uses the cache. Agreement
 * signatures (cons_vcache_verify_sig): a triple that verified is a hit, a
 * changed signature, digest or key is verified again and refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "cons_vcache.h"
#include "test_support.h"
#include "wd_envelope.h"

static uint8_t s_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t s_pk[crypto_sign_PUBLICKEYBYTES];
static uint8_t s_chain[WD_CHAIN_ID_LEN];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    crypto_sign_keypair (s_pk, s_sk);
    memset (s_chain, 0x5a, sizeof s_chain);
    return 0;
}

/* A sealed envelope with body uint n (canonical msgpack), decoded into env
   and its id; *out is the bytes (caller frees). */
static void
s_make (uint8_t n, uint8_t **out, size_t *len, wd_envelope_t *env, uint8_t id[32])
{
    uint8_t body[1] = { (uint8_t)(n & 0x7f) };
    assert_int_equal (
        wd_envelope_seal ("test", s_chain, s_pk, body, sizeof body, test_sign_fn, s_sk, out, len),
        WD_OK);
    assert_int_equal (wd_envelope_decode (*out, *len, env), WD_OK);
    wd_envelope_id (id, *out, *len);
}

static void
test_hit_after_good (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    assert_non_null (c);
    uint8_t *buf, id[32];
    size_t len;
    wd_envelope_t env;
    s_make (1, &buf, &len, &env, id);
    assert_false (cons_vcache_has (c, id));
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    assert_true (cons_vcache_has (c, id));
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    uint64_t hits, misses;
    cons_vcache_stats (c, &hits, &misses);
    assert_int_equal (hits, 1);
    assert_int_equal (misses, 1);
    free (buf);
    cons_vcache_destroy (&c);
    assert_null (c);
}

/* An id noted by a caller that verified the envelope itself is a hit
   without a verification; a NULL cache ignores the note. */
static void
test_note (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    assert_non_null (c);
    uint8_t *buf, id[32];
    size_t len;
    wd_envelope_t env;
    s_make (3, &buf, &len, &env, id);
    cons_vcache_note (NULL, id);
    cons_vcache_note (c, id);
    cons_vcache_note (c, id); /* twice: still one entry */
    assert_true (cons_vcache_has (c, id));
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    uint64_t hits, misses;
    cons_vcache_stats (c, &hits, &misses);
    assert_int_equal (hits, 1);
    assert_int_equal (misses, 0);
    free (buf);
    cons_vcache_destroy (&c);
}

/* A cached good envelope with one signature bit flipped, re-encoded: the
   id changes with the bytes, so the copy is verified and refused. */
static void
test_tampered_copy_refused (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    uint8_t *buf, id[32], bad_id[32];
    size_t len;
    wd_envelope_t env, bad;
    s_make (2, &buf, &len, &env, id);
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);

    uint8_t *copy;
    size_t copy_len;
    bad = env;
    bad.sig[0] ^= 0x01;
    wd_envelope_encode (&bad, &copy, &copy_len);
    assert_int_equal (copy_len, len);
    assert_int_equal (wd_envelope_decode (copy, len, &bad), WD_OK);
    wd_envelope_id (bad_id, copy, len);
    assert_memory_not_equal (bad_id, id, 32);
    assert_false (cons_vcache_has (c, bad_id));
    for (int i = 0; i < 2; i++) /* refused, and never remembered */
        assert_int_equal (cons_vcache_verify (c, bad_id, &bad, s_chain), WD_ERR_BAD_SIGNATURE);
    assert_false (cons_vcache_has (c, bad_id));
    uint64_t hits, misses;
    cons_vcache_stats (c, &hits, &misses);
    assert_int_equal (hits, 0);
    assert_int_equal (misses, 3);
    /* The good one is still a hit. */
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    cons_vcache_stats (c, &hits, &misses);
    assert_int_equal (hits, 1);
    free (copy);
    free (buf);
    cons_vcache_destroy (&c);
}

/* A cache made for one chain is not consulted for another. */
static void
test_other_chain_not_cached (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    uint8_t *buf, id[32], other[WD_CHAIN_ID_LEN];
    size_t len;
    wd_envelope_t env;
    s_make (3, &buf, &len, &env, id);
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    memset (other, 0xa5, sizeof other);
    assert_int_equal (cons_vcache_verify (c, id, &env, other), WD_ERR_WRONG_CHAIN);
    /* No cache at all: always verifies. */
    assert_int_equal (cons_vcache_verify (NULL, id, &env, s_chain), WD_OK);
    assert_false (cons_vcache_has (NULL, id));
    free (buf);
    cons_vcache_destroy (&c);
    cons_vcache_destroy (NULL);
}

/* Bounded: after more than CONS_VCACHE_IDS other ids, answers stay right
   (an evicted id is verified again). */
static void
test_bounded (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    uint8_t *buf, id[32];
    size_t len;
    wd_envelope_t env;
    s_make (4, &buf, &len, &env, id);
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    /* Fake ids fill every bucket: they are only remembered when the check
       passes, so reuse the good envelope under other ids. */
    for (uint32_t i = 0; i < 2 * CONS_VCACHE_IDS; i++) {
        uint8_t fake[32];
        crypto_generichash (fake, sizeof fake, (const uint8_t *)&i, sizeof i, NULL, 0);
        assert_int_equal (cons_vcache_verify (c, fake, &env, s_chain), WD_OK);
    }
    assert_int_equal (cons_vcache_verify (c, id, &env, s_chain), WD_OK);
    free (buf);
    cons_vcache_destroy (&c);
}

static void
test_sig_memo (void **state)
{
    (void)state;
    cons_vcache_t *c = cons_vcache_new (s_chain);
    uint8_t digest[WD_DIGEST_LEN], sig[WD_SIG_LEN], other_pk[WD_PUBKEY_LEN], other_sk[64];
    memset (digest, 0x42, sizeof digest);
    crypto_sign_detached (sig, NULL, digest, sizeof digest, s_sk);
    crypto_sign_keypair (other_pk, other_sk);
    for (int i = 0; i < 2; i++)
        assert_true (cons_vcache_verify_sig (c, s_pk, digest, sig));
    uint64_t hits, misses;
    cons_vcache_sig_stats (c, &hits, &misses);
    assert_int_equal (hits, 1);
    assert_int_equal (misses, 1);
    cons_vcache_stats (c, &hits, &misses); /* envelopes are counted apart */
    assert_int_equal (hits + misses, 0);

    assert_false (cons_vcache_verify_sig (c, other_pk, digest, sig));
    digest[0] ^= 1;
    assert_false (cons_vcache_verify_sig (c, s_pk, digest, sig));
    digest[0] ^= 1;
    sig[5] ^= 1;
    for (int i = 0; i < 2; i++) /* refused, and never remembered */
        assert_false (cons_vcache_verify_sig (c, s_pk, digest, sig));
    sig[5] ^= 1;
    assert_true (cons_vcache_verify_sig (c, s_pk, digest, sig));
    cons_vcache_sig_stats (c, &hits, &misses);
    assert_int_equal (hits, 2);
    assert_int_equal (misses, 5);
    /* without a cache: the plain check */
    assert_true (cons_vcache_verify_sig (NULL, s_pk, digest, sig));
    assert_false (cons_vcache_verify_sig (NULL, other_pk, digest, sig));
    cons_vcache_destroy (&c);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_hit_after_good),
        cmocka_unit_test (test_note),
        cmocka_unit_test (test_tampered_copy_refused),
        cmocka_unit_test (test_other_chain_not_cached),
        cmocka_unit_test (test_bounded),
        cmocka_unit_test (test_sig_memo),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
