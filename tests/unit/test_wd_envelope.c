/*
 * Unit tests for wd_envelope: the signing rule against vectors made by an
 * independent Python implementation, and every rejection reason.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_codec.h"
#include "wd_envelope.h"
#include "wd_hash.h"

#define VEC "envelope.txt"

static uint8_t s_sk[crypto_sign_SECRETKEYBYTES];
static uint8_t s_pk[crypto_sign_PUBLICKEYBYTES];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    test_keypair_from_vector (VEC, s_pk, s_sk);
    return 0;
}

static void
test_known_answers (void **state)
{
    (void)state;
    size_t chain_len, body_len, digest_len, env_len, id_len, pk_len;
    uint8_t *chain = test_vector_hex (VEC, "chain", &chain_len);
    uint8_t *body = test_vector_hex (VEC, "body", &body_len);
    uint8_t *digest = test_vector_hex (VEC, "digest", &digest_len);
    uint8_t *expected = test_vector_hex (VEC, "envelope", &env_len);
    uint8_t *id = test_vector_hex (VEC, "envelope_id", &id_len);
    uint8_t *pk = test_vector_hex (VEC, "public_key", &pk_len);
    assert_memory_equal (pk, s_pk, 32);

    uint8_t got[32];
    wd_envelope_digest (got, "test-record", chain, body, body_len);
    assert_memory_equal (got, digest, 32);

    uint8_t *env;
    size_t len;
    assert_int_equal (wd_envelope_seal ("test-record", chain, s_pk, body, body_len, test_sign_fn,
                                        s_sk, &env, &len),
                      WD_OK);
    assert_int_equal (len, env_len);
    assert_memory_equal (env, expected, len);
    wd_envelope_id (got, env, len);
    assert_memory_equal (got, id, 32);

    wd_envelope_t e;
    assert_int_equal (wd_envelope_open (env, len, chain, "test-record", &e), WD_OK);
    assert_string_equal (e.type, "test-record");
    assert_int_equal (e.body_len, body_len);
    assert_memory_equal (e.body, body, body_len);
    assert_memory_equal (e.from, s_pk, 32);
    assert_int_equal (wd_envelope_open (env, len, chain, NULL, &e), WD_OK);

    free (env);
    free (chain);
    free (body);
    free (digest);
    free (expected);
    free (id);
    free (pk);
}

/* An envelope built field by field, so tests can break one field at a time. */
typedef struct {
    const char *body_key; /* "body", or another name */
    const uint8_t *body;
    size_t body_len;
    size_t chain_len;
    uint64_t version;
    const char *type;
    bool extra; /* add an unknown key "x" at the end */
} fields_t;

static uint8_t *
s_build (const fields_t *f, const uint8_t sig[64], size_t *len)
{
    uint8_t chain[40] = { 0 };
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 6 + f->extra);
    wd_writer_key (w, f->body_key);
    wd_writer_bin (w, f->body, f->body_len);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, chain, f->chain_len);
    wd_writer_key (w, "from");
    wd_writer_bin (w, s_pk, 32);
    wd_writer_key (w, "sig");
    wd_writer_bin (w, sig, 64);
    wd_writer_key (w, "type");
    wd_writer_cstr (w, f->type);
    wd_writer_key (w, "v");
    wd_writer_uint (w, f->version);
    if (f->extra) {
        wd_writer_key (w, "x");
        wd_writer_nil (w);
    }
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static wd_err_t
s_decode_fields (const fields_t *f)
{
    uint8_t sig[64] = { 0 };
    size_t len;
    uint8_t *buf = s_build (f, sig, &len);
    wd_envelope_t e;
    wd_err_t err = wd_envelope_decode (buf, len, &e);
    free (buf);
    return err;
}

static void
test_decode_rejections (void **state)
{
    (void)state;
    const uint8_t body[] = { 0x81, 0xa1, 'a', 0x01 };
    const uint8_t bad_body[] = { 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02 };
    const fields_t good = { "body", body, sizeof body, 32, 1, "test", false };
    assert_int_equal (s_decode_fields (&good), WD_OK);

    fields_t f = good;
    f.chain_len = 31;
    assert_int_equal (s_decode_fields (&f), WD_ERR_BAD_LENGTH);
    f = good;
    f.version = 2;
    assert_int_equal (s_decode_fields (&f), WD_ERR_BAD_VERSION);
    f = good;
    f.type = "Bad_Type";
    assert_int_equal (s_decode_fields (&f), WD_ERR_BAD_VALUE);
    f = good;
    f.type = "a-type-name-that-is-longer-than-32";
    assert_int_equal (s_decode_fields (&f), WD_ERR_OVERSIZE);
    f = good;
    f.extra = true;
    assert_int_equal (s_decode_fields (&f), WD_ERR_UNKNOWN_KEY);
    f = good;
    f.body_key = "bodz"; /* "body" missing, and "bodz" sorts after "body" */
    assert_int_equal (s_decode_fields (&f), WD_ERR_MISSING_KEY);
    f = good;
    f.body_key = "a"; /* sorts before "body": a key this version does not know */
    assert_int_equal (s_decode_fields (&f), WD_ERR_UNKNOWN_KEY);
    f = good;
    f.body = bad_body;
    f.body_len = sizeof bad_body;
    assert_int_equal (s_decode_fields (&f), WD_ERR_KEYS_UNSORTED);
    f = good;
    f.body_len = 0; /* an empty body is not one msgpack value */
    assert_int_equal (s_decode_fields (&f), WD_ERR_TRUNCATED);
}

static void
test_verify_rejections (void **state)
{
    (void)state;
    const uint8_t body[] = { 0x81, 0xa1, 'a', 0x01 };
    uint8_t chain[32] = { 0 };
    uint8_t other_chain[32] = { 1 };
    uint8_t *env;
    size_t len;
    assert_int_equal (
        wd_envelope_seal ("test", chain, s_pk, body, sizeof body, test_sign_fn, s_sk, &env, &len),
        WD_OK);
    wd_envelope_t e;
    assert_int_equal (wd_envelope_open (env, len, other_chain, NULL, &e), WD_ERR_WRONG_CHAIN);
    assert_int_equal (wd_envelope_open (env, len, chain, "vote", &e), WD_ERR_UNEXPECTED_TYPE);

    /* Flipping any bit of any byte must fail: either decoding names a
       reason or the signature no longer verifies. */
    for (size_t i = 0; i < len; i++) {
        for (int bit = 0; bit < 8; bit++) {
            env[i] ^= (uint8_t)(1 << bit);
            wd_err_t err = wd_envelope_open (env, len, chain, NULL, &e);
            assert_int_not_equal (err, WD_OK);
            env[i] ^= (uint8_t)(1 << bit);
        }
    }
    /* trailing bytes */
    uint8_t *longer = malloc (len + 1);
    memcpy (longer, env, len);
    longer[len] = 0;
    assert_int_equal (wd_envelope_open (longer, len + 1, chain, NULL, &e), WD_ERR_TRAILING);
    free (longer);

    /* a valid signature by another key, relabelled as ours */
    assert_int_equal (wd_envelope_decode (env, len, &e), WD_OK);
    e.from[0] ^= 1;
    assert_int_equal (wd_envelope_verify (&e, chain, NULL), WD_ERR_BAD_SIGNATURE);
    free (env);

    /* a body that is not canonical is refused before signing */
    const uint8_t bad_body[] = { 0xcc, 0x01 };
    assert_int_equal (wd_envelope_seal ("test", chain, s_pk, bad_body, sizeof bad_body,
                                        test_sign_fn, s_sk, &env, &len),
                      WD_ERR_INT_NONCANONICAL);
    assert_null (env);
}

static void
test_type_syntax (void **state)
{
    (void)state;
    assert_true (wd_envelope_type_valid ("node-cert"));
    assert_true (wd_envelope_type_valid ("a.b-9"));
    assert_false (wd_envelope_type_valid (""));
    assert_false (wd_envelope_type_valid ("9a"));
    assert_false (wd_envelope_type_valid ("Vote"));
    assert_false (wd_envelope_type_valid ("a b"));
    assert_false (wd_envelope_type_valid ("abcdefghijklmnopqrstuvwxyz0123456"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_known_answers),
        cmocka_unit_test (test_decode_rejections),
        cmocka_unit_test (test_verify_rejections),
        cmocka_unit_test (test_type_syntax),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
