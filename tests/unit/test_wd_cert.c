/*
 * Unit tests for wd_cert: the Python-made certificate vector, round trips,
 * and the refusals (not self-signed, bad name, wrong envelope type).
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
#include "wd_cert.h"
#include "wd_hash.h"

static uint8_t s_sk[64], s_pk[32];
static uint8_t s_other_sk[64], s_other_pk[32];

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    test_keypair_from_vector ("envelope.txt", s_pk, s_sk);
    crypto_sign_keypair (s_other_pk, s_other_sk);
    return 0;
}

static wd_cert_t
s_sample (void)
{
    wd_cert_t cert = { .name = "node-a", .key_protection = "software", .created = 1767225600 };
    memcpy (cert.sign_pk, s_pk, 32);
    memset (cert.vrf_pk, 0x11, 32);
    memset (cert.curve_pk, 0x22, 32);
    return cert;
}

static void
test_vector_and_round_trip (void **state)
{
    (void)state;
    wd_cert_t cert = s_sample ();
    uint8_t *buf;
    size_t len, vec_len, id_len;
    assert_int_equal (wd_cert_seal (&cert, test_sign_fn, s_sk, &buf, &len), WD_OK);
    uint8_t *vec = test_vector_hex ("envelope.txt", "cert", &vec_len);
    uint8_t *id = test_vector_hex ("envelope.txt", "cert_id", &id_len);
    assert_int_equal (len, vec_len);
    assert_memory_equal (buf, vec, len);
    uint8_t got_id[32];
    wd_hash_sha256 (got_id, buf, len);
    assert_memory_equal (got_id, id, 32);

    wd_cert_t back;
    assert_int_equal (wd_cert_open (buf, len, &back), WD_OK);
    assert_memory_equal (&back, &cert, sizeof cert);
    free (buf);
    free (vec);
    free (id);
}

static void
test_refusals (void **state)
{
    (void)state;
    wd_cert_t cert = s_sample ();
    uint8_t *buf;
    size_t len;
    wd_cert_t back;

    /* signed by a key other than the one it names */
    assert_int_equal (wd_cert_seal (&cert, test_sign_fn, s_other_sk, &buf, &len), WD_OK);
    assert_int_equal (wd_cert_open (buf, len, &back), WD_ERR_BAD_SIGNATURE);
    free (buf);

    /* a valid envelope from another key whose body names our key */
    wd_cert_t forged = cert;
    memcpy (forged.sign_pk, s_other_pk, 32);
    assert_int_equal (wd_cert_seal (&forged, test_sign_fn, s_other_sk, &buf, &len), WD_OK);
    assert_int_equal (wd_cert_open (buf, len, &back), WD_OK);
    free (buf);

    wd_cert_t bad = cert;
    snprintf (bad.name, sizeof bad.name, "bad name");
    assert_int_equal (wd_cert_seal (&bad, test_sign_fn, s_sk, &buf, &len), WD_ERR_BAD_VALUE);
    bad = cert;
    snprintf (bad.key_protection, sizeof bad.key_protection, "Software");
    assert_int_equal (wd_cert_seal (&bad, test_sign_fn, s_sk, &buf, &len), WD_ERR_BAD_VALUE);
    bad = cert;
    bad.created = 0;
    assert_int_equal (wd_cert_seal (&bad, test_sign_fn, s_sk, &buf, &len), WD_ERR_BAD_VALUE);

    /* an envelope of another type holding a certificate body */
    size_t vec_len;
    uint8_t *vec = test_vector_hex ("envelope.txt", "envelope", &vec_len);
    assert_int_equal (wd_cert_open (vec, vec_len, &back), WD_ERR_WRONG_CHAIN);
    free (vec);

    uint8_t huge[WD_CERT_MAX_BYTES + 1] = { 0 };
    assert_int_equal (wd_cert_open (huge, sizeof huge, &back), WD_ERR_OVERSIZE);
}

static void
test_not_self_signed (void **state)
{
    (void)state;
    /* Build a "node-cert" envelope by hand: body names s_pk, signer is other. */
    wd_cert_t cert = s_sample ();
    uint8_t *good;
    size_t good_len;
    assert_int_equal (wd_cert_seal (&cert, test_sign_fn, s_sk, &good, &good_len), WD_OK);
    wd_envelope_t env;
    assert_int_equal (wd_envelope_decode (good, good_len, &env), WD_OK);
    uint8_t *resigned;
    size_t resigned_len;
    assert_int_equal (wd_envelope_seal (WD_CERT_TYPE, wd_cert_no_chain, s_other_pk, env.body,
                                        env.body_len, test_sign_fn, s_other_sk, &resigned,
                                        &resigned_len),
                      WD_OK);
    wd_cert_t back;
    assert_int_equal (wd_cert_open (resigned, resigned_len, &back), WD_ERR_NOT_SELF_SIGNED);
    free (resigned);
    free (good);
}

/* Which key protections count as software (reputation tier, the verdict's
   key_protection claim). */
static void
test_protection_is_software (void **state)
{
    (void)state;
    assert_true (wd_cert_protection_is_software ("software"));
    assert_true (wd_cert_protection_is_software ("pkcs11-software"));
    assert_false (wd_cert_protection_is_software ("pkcs11"));
    assert_false (wd_cert_protection_is_software ("zymbit"));
    assert_false (wd_cert_protection_is_software ("-software"));
    assert_false (wd_cert_protection_is_software ("softwares"));
    assert_false (wd_cert_protection_is_software (""));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_vector_and_round_trip),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_not_self_signed),
        cmocka_unit_test (test_protection_is_software),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
