/*
 * Unit tests for wd_hash: SHA-256 known answers (FIPS 180-2 examples) and
 * hex round trips.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "wd_hash.h"

static void
test_sha256_known_answers (void **state)
{
    (void)state;
    uint8_t digest[WD_HASH_LEN];
    char hex[WD_HASH_HEX_LEN + 1];
    wd_hash_sha256 (digest, "abc", 3);
    assert_string_equal (wd_hex_encode (hex, digest, sizeof digest),
                         "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
    wd_hash_sha256 (digest, "", 0);
    assert_string_equal (wd_hex_encode (hex, digest, sizeof digest),
                         "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    assert_string_equal (wd_short_id (digest).s, "e3b0c442");
}

static void
test_hex_decode (void **state)
{
    (void)state;
    uint8_t bin[3];
    assert_true (wd_hex_decode (bin, 3, "00aBff"));
    assert_int_equal (bin[0], 0x00);
    assert_int_equal (bin[1], 0xab);
    assert_int_equal (bin[2], 0xff);
    assert_false (wd_hex_decode (bin, 3, "00abf"));
    assert_false (wd_hex_decode (bin, 3, "00abfff"));
    assert_false (wd_hex_decode (bin, 3, "00abfg"));
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_sha256_known_answers),
        cmocka_unit_test (test_hex_decode),
    };
    return cmocka_run_group_tests (tests, NULL, NULL);
}
