/*
 * Unit tests for wd_keyfile and the `file` keystore backend, on real files:
 * generation, signing, and every refusal (permissions, owner, symlink,
 * wrong algorithm, damaged file, unknown backend).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_keyfile.h"
#include "wd_keystore.h"

static char s_path[256];

static int
s_setup (void **state)
{
    (void)state;
    return sodium_init () < 0 ? -1 : 0;
}

static const char *
s_file (const char *name)
{
    snprintf (s_path, sizeof s_path, "%s/%s", test_tmpdir (), name);
    return s_path;
}

static void
test_generate_open_sign (void **state)
{
    (void)state;
    wd_keystore_params_t params = { .path = s_file ("identity.key") };
    assert_int_equal (wd_keystore_generate ("file", &params), WD_OK);
    struct stat st;
    assert_int_equal (stat (params.path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0600);
    assert_int_equal (wd_keystore_generate ("file", &params), WD_ERR_EXISTS);

    wd_keystore_t *ks;
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_OK);
    uint8_t digest[32], sig[64];
    randombytes_buf (digest, sizeof digest);
    assert_int_equal (wd_keystore_sign (ks, digest, sig), 0);
    assert_int_equal (crypto_sign_verify_detached (sig, digest, 32, wd_keystore_public_key (ks)),
                      0);

    wd_keystore_status_t status;
    wd_keystore_status (ks, &status);
    assert_string_equal (status.backend, "file");
    assert_string_equal (status.key_protection, "software");
    assert_string_equal (status.tamper, "not-supported");
    assert_true (status.healthy);
    assert_int_equal (status.signatures, 1);

    /* the same file opens to the same key */
    wd_keystore_t *again;
    assert_int_equal (wd_keystore_open ("file", &params, &again), WD_OK);
    assert_memory_equal (wd_keystore_public_key (ks), wd_keystore_public_key (again), 32);
    wd_keystore_destroy (&again);
    wd_keystore_destroy (&ks);
    assert_null (ks);
    wd_keystore_destroy (&ks);
}

static void
test_refusals (void **state)
{
    (void)state;
    wd_keystore_t *ks = NULL;
    wd_keystore_params_t params = { .path = s_file ("loose.key") };
    assert_int_equal (wd_keystore_generate ("file", &params), WD_OK);

    /* group- or world-accessible key files are refused, not used */
    assert_int_equal (chmod (params.path, 0640), 0);
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_KEY_PERMISSIONS);
    assert_null (ks);
    assert_int_equal (chmod (params.path, 0604), 0);
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_KEY_PERMISSIONS);
    assert_int_equal (chmod (params.path, 0400), 0);
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_OK);
    wd_keystore_destroy (&ks);

    /* another owner: only testable when we can chown (root) */
    if (geteuid () == 0) {
        assert_int_equal (chown (params.path, 65534, 65534), 0);
        assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_KEY_OWNER);
        assert_int_equal (chown (params.path, 0, 0), 0);
    }

    /* a symbolic link to a good key file is refused */
    char target[256];
    snprintf (target, sizeof target, "%s", params.path);
    const char *link_path = s_file ("link.key");
    assert_int_equal (symlink (target, link_path), 0);
    params.path = link_path;
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_NOT_REGULAR);

    /* a directory */
    params.path = test_tmpdir ();
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_NOT_REGULAR);

    params.path = s_file ("missing.key");
    assert_int_equal (wd_keystore_open ("file", &params, &ks), WD_ERR_NOT_FOUND);

    /* no silent fallback: an unknown backend is an error */
    params.path = target;
    assert_int_equal (wd_keystore_open ("pkcs11-missing", &params, &ks), WD_ERR_NO_BACKEND);
    assert_int_equal (wd_keystore_generate ("zymbit-missing", &params), WD_ERR_NO_BACKEND);
    assert_null (ks);
}

static void
s_write_raw (const char *path, const void *data, size_t len)
{
    unlink (path);
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL, 0600);
    assert_true (fd >= 0);
    assert_int_equal (write (fd, data, len), (ssize_t)len);
    close (fd);
}

static void
test_keyfile_content (void **state)
{
    (void)state;
    uint8_t seed[WD_SEED_LEN], back[WD_SEED_LEN];
    randombytes_buf (seed, sizeof seed);
    const char *path = s_file ("vrf.key");
    assert_int_equal (wd_keyfile_write (path, WD_KEYFILE_ECVRF, seed), WD_OK);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_ECVRF, back), WD_OK);
    assert_memory_equal (seed, back, sizeof seed);
    /* the right file for the wrong purpose */
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_ED25519, back), WD_ERR_BAD_VALUE);

    const uint8_t empty[1] = { 0 };
    s_write_raw (path, empty, 0);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_ECVRF, back), WD_ERR_TRUNCATED);

    uint8_t big[200];
    memset (big, 0xc0, sizeof big);
    s_write_raw (path, big, sizeof big);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_ECVRF, back), WD_ERR_OVERSIZE);

    /* {alg: "x25519", seed: bin(31), v: 1} */
    uint8_t short_seed[] = { 0x83, 0xa3, 'a', 'l', 'g', 0xa6, 'x',  '2', '5',         '5', '1',
                             '9',  0xa4, 's', 'e', 'e', 'd',  0xc4, 31,  [50] = 0xa1, 'v', 0x01 };
    s_write_raw (path, short_seed, sizeof short_seed);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_X25519, back), WD_ERR_BAD_LENGTH);

    /* {alg: "x25519", seed: bin(32), v: 2} */
    uint8_t v2[] = { 0x83, 0xa3, 'a', 'l', 'g', 0xa6, 'x',  '2', '5',         '5', '1',
                     '9',  0xa4, 's', 'e', 'e', 'd',  0xc4, 32,  [51] = 0xa1, 'v', 0x02 };
    s_write_raw (path, v2, sizeof v2);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_X25519, back), WD_ERR_BAD_VERSION);
    v2[sizeof v2 - 1] = 0x01;
    s_write_raw (path, v2, sizeof v2);
    assert_int_equal (wd_keyfile_read (path, WD_KEYFILE_X25519, back), WD_OK);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_generate_open_sign),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_keyfile_content),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
