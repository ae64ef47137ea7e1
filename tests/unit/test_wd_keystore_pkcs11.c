/*
 * Unit tests for the `pkcs11` keystore backend against Debian's SoftHSM2 in
 * a temporary token directory (SOFTHSM2_CONF, softhsm2-util --init-token):
 * generated keys sign digests libsodium verifies, the private key cannot be
 * read out, and every start-up refusal (PIN, token, key, module, PIN file,
 * extractable key, wrong key) has its named code. A lost session fails one
 * request with WD_ERR_KEYSTORE_LOST and is re-opened on the next.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dlfcn.h>
#include <p11-kit/pkcs11.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "test_support.h"
#include "wd_keystore.h"

#define MODULE "/usr/lib/softhsm/libsofthsm2.so"
#define TOKEN  "warden-unit"
#define PIN    "24681357"

static char s_pin_path[256], s_bad_pin_path[256], s_cred_dir[256];

static const char *
s_tmp (char *out, size_t size, const char *name)
{
    snprintf (out, size, "%s/%s", test_tmpdir (), name);
    return out;
}

static void
s_write (const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen (path, "w");
    if (!f || fputs (text, f) < 0 || fclose (f) != 0 || chmod (path, mode) != 0)
        abort ();
}

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    if (access (MODULE, R_OK) != 0) {
        fprintf (stderr, "SoftHSM2 is not installed (%s): run scripts/install-deps\n", MODULE);
        return -1;
    }
    char conf[256], tokens[256], cmd[1024];
    s_tmp (tokens, sizeof tokens, "tokens");
    if (mkdir (tokens, 0700) != 0)
        return -1;
    s_tmp (conf, sizeof conf, "softhsm2.conf");
    snprintf (cmd, sizeof cmd,
              "directories.tokendir = %s\nobjectstore.backend = file\nlog.level = ERROR\n", tokens);
    s_write (conf, cmd, 0600);
    setenv ("SOFTHSM2_CONF", conf, 1);
    snprintf (cmd, sizeof cmd,
              "softhsm2-util --init-token --free --label %s --so-pin 13572468 --pin %s "
              ">/dev/null",
              TOKEN, PIN);
    if (system (cmd) != 0)
        return -1;
    s_write (s_tmp (s_pin_path, sizeof s_pin_path, "pin"), PIN "\n", 0600);
    s_write (s_tmp (s_bad_pin_path, sizeof s_bad_pin_path, "bad-pin"), "11111111\n", 0600);
    s_tmp (s_cred_dir, sizeof s_cred_dir, "credentials");
    if (mkdir (s_cred_dir, 0700) != 0)
        return -1;
    char cred[300];
    snprintf (cred, sizeof cred, "%s/warden-pin", s_cred_dir);
    s_write (cred, PIN, 0400);
    return 0;
}

static wd_keystore_params_t
s_params (const char *key_label)
{
    return (wd_keystore_params_t){
        .module = MODULE, .token = TOKEN, .key_label = key_label, .pin_file = s_pin_path
    };
}

/* The test's own view of the token, through the same module: C_Initialize
   tolerates a module the keystore initialised, and is never finalised here. */
static CK_FUNCTION_LIST_PTR
s_module (void)
{
    void *dl = dlopen (MODULE, RTLD_NOW | RTLD_LOCAL);
    assert_non_null (dl);
    CK_C_GetFunctionList get_list;
    *(void **)&get_list = dlsym (dl, "C_GetFunctionList");
    assert_non_null (get_list);
    CK_FUNCTION_LIST_PTR p11;
    assert_int_equal (get_list (&p11), CKR_OK);
    CK_C_INITIALIZE_ARGS args = { .flags = CKF_OS_LOCKING_OK };
    CK_RV rv = p11->C_Initialize (&args);
    assert_true (rv == CKR_OK || rv == CKR_CRYPTOKI_ALREADY_INITIALIZED);
    return p11; /* the dlopen reference is kept for the process */
}

/* A logged-in read-write session on the test token. */
static CK_SESSION_HANDLE
s_session (CK_FUNCTION_LIST_PTR p11, CK_SLOT_ID *slot_out)
{
    CK_SLOT_ID slots[8];
    CK_ULONG count = 8;
    assert_int_equal (p11->C_GetSlotList (CK_TRUE, slots, &count), CKR_OK);
    for (CK_ULONG i = 0; i < count; i++) {
        CK_TOKEN_INFO info;
        assert_int_equal (p11->C_GetTokenInfo (slots[i], &info), CKR_OK);
        if (memcmp (info.label, TOKEN, strlen (TOKEN)) == 0 && info.label[strlen (TOKEN)] == ' ') {
            CK_SESSION_HANDLE session;
            assert_int_equal (p11->C_OpenSession (slots[i], CKF_SERIAL_SESSION | CKF_RW_SESSION,
                                                  NULL, NULL, &session),
                              CKR_OK);
            CK_RV rv = p11->C_Login (session, CKU_USER, (CK_UTF8CHAR_PTR)PIN, strlen (PIN));
            assert_true (rv == CKR_OK || rv == CKR_USER_ALREADY_LOGGED_IN);
            if (slot_out)
                *slot_out = slots[i];
            return session;
        }
    }
    fail_msg ("token %s not found", TOKEN);
    return 0;
}

static void
test_generate_open_sign (void **state)
{
    (void)state;
    wd_keystore_params_t params = s_params ("node-a");
    assert_int_equal (wd_keystore_generate ("pkcs11", &params), WD_OK);
    assert_int_equal (wd_keystore_generate ("pkcs11", &params), WD_ERR_EXISTS);

    wd_keystore_t *ks;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_OK);
    for (int i = 0; i < 3; i++) {
        uint8_t digest[32], sig[64];
        randombytes_buf (digest, sizeof digest);
        assert_int_equal (wd_keystore_sign (ks, digest, sig), 0);
        assert_int_equal (
            crypto_sign_verify_detached (sig, digest, 32, wd_keystore_public_key (ks)), 0);
        digest[0] ^= 1;
        assert_int_not_equal (
            crypto_sign_verify_detached (sig, digest, 32, wd_keystore_public_key (ks)), 0);
    }
    wd_keystore_status_t status;
    wd_keystore_status (ks, &status);
    assert_string_equal (status.backend, "pkcs11");
    /* SoftHSM2's slot is no hardware slot (no CKF_HW_SLOT) */
    assert_string_equal (status.key_protection, "pkcs11-software");
    assert_string_equal (status.tamper, "not-supported");
    assert_true (status.healthy);
    assert_int_equal (status.signatures, 3);

    /* The same key opens again, and only with the expected public key. */
    uint8_t pk[32];
    memcpy (pk, wd_keystore_public_key (ks), 32);
    wd_keystore_destroy (&ks);
    assert_null (ks);
    params.expected_public_key = pk;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_OK);
    assert_memory_equal (wd_keystore_public_key (ks), pk, 32);
    wd_keystore_destroy (&ks);
    uint8_t other[32];
    memcpy (other, pk, 32);
    other[5] ^= 0x40;
    params.expected_public_key = other;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_KEY_MISMATCH);
    assert_null (ks);
}

/* The token refuses CKA_VALUE of the generated private key. */
static void
test_key_cannot_be_exported (void **state)
{
    (void)state;
    wd_keystore_params_t params = s_params ("node-b");
    assert_int_equal (wd_keystore_generate ("pkcs11", &params), WD_OK);
    CK_FUNCTION_LIST_PTR p11 = s_module ();
    CK_SESSION_HANDLE session = s_session (p11, NULL);
    CK_OBJECT_CLASS cls = CKO_PRIVATE_KEY;
    CK_ATTRIBUTE query[] = { { CKA_CLASS, &cls, sizeof cls }, { CKA_LABEL, "node-b", 6 } };
    CK_OBJECT_HANDLE key;
    CK_ULONG count = 0;
    assert_int_equal (p11->C_FindObjectsInit (session, query, 2), CKR_OK);
    assert_int_equal (p11->C_FindObjects (session, &key, 1, &count), CKR_OK);
    p11->C_FindObjectsFinal (session);
    assert_int_equal (count, 1);

    uint8_t value[64];
    CK_ATTRIBUTE attr = { CKA_VALUE, value, sizeof value };
    assert_int_equal (p11->C_GetAttributeValue (session, key, &attr, 1), CKR_ATTRIBUTE_SENSITIVE);
    assert_true (attr.ulValueLen == CK_UNAVAILABLE_INFORMATION);
    CK_BBOOL sensitive = CK_FALSE, extractable = CK_TRUE, on_token = CK_FALSE;
    CK_ATTRIBUTE flags[] = { { CKA_SENSITIVE, &sensitive, sizeof sensitive },
                             { CKA_EXTRACTABLE, &extractable, sizeof extractable },
                             { CKA_TOKEN, &on_token, sizeof on_token } };
    assert_int_equal (p11->C_GetAttributeValue (session, key, flags, 3), CKR_OK);
    assert_true (sensitive && !extractable && on_token);
    p11->C_CloseSession (session);
}

/* A key pair made extractable (by another tool) is refused: that is not the
   protection "pkcs11" claims. */
static void
test_extractable_key_refused (void **state)
{
    (void)state;
    CK_FUNCTION_LIST_PTR p11 = s_module ();
    CK_SESSION_HANDLE session = s_session (p11, NULL);
    static const uint8_t oid[] = { 0x06, 0x03, 0x2b, 0x65, 0x70 };
    CK_BBOOL yes = CK_TRUE, no = CK_FALSE;
    CK_ATTRIBUTE pub[] = { { CKA_TOKEN, &yes, sizeof yes },
                           { CKA_EC_PARAMS, (void *)oid, sizeof oid },
                           { CKA_LABEL, "loose", 5 } };
    CK_ATTRIBUTE priv[] = { { CKA_TOKEN, &yes, sizeof yes },
                            { CKA_SENSITIVE, &no, sizeof no },
                            { CKA_EXTRACTABLE, &yes, sizeof yes },
                            { CKA_SIGN, &yes, sizeof yes },
                            { CKA_LABEL, "loose", 5 } };
    CK_MECHANISM mech = { CKM_EC_EDWARDS_KEY_PAIR_GEN, NULL, 0 };
    CK_OBJECT_HANDLE h_pub, h_priv;
    assert_int_equal (p11->C_GenerateKeyPair (session, &mech, pub, 3, priv, 5, &h_pub, &h_priv),
                      CKR_OK);
    p11->C_CloseSession (session);
    wd_keystore_params_t params = s_params ("loose");
    wd_keystore_t *ks;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_EXPORTABLE);
    assert_null (ks);
}

static void
test_refusals (void **state)
{
    (void)state;
    wd_keystore_params_t params = s_params ("node-c");
    assert_int_equal (wd_keystore_generate ("pkcs11", &params), WD_OK);
    wd_keystore_t *ks = NULL;

    params.pin_file = s_bad_pin_path;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_PIN);
    assert_int_equal (wd_keystore_generate ("pkcs11", &params), WD_ERR_PKCS11_PIN);
    params = s_params ("node-c");

    params.token = "no-such-token";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_TOKEN);
    params.token = "a-label-longer-than-32-bytes-is-no-label";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_TOKEN);
    params = s_params ("no-such-key");
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_KEY);
    params = s_params ("node-c");

    params.module = "/nonexistent/libpkcs11.so";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_MODULE);
    params.module = NULL;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_MODULE);
    /* A shared object that is not a PKCS#11 module. */
    params.module = "libm.so.6";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_MODULE);
    params = s_params ("node-c");

    /* PIN files are checked like key files. */
    char path[256];
    params.pin_file = s_tmp (path, sizeof path, "no-pin");
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_NOT_FOUND);
    s_write (s_tmp (path, sizeof path, "loose-pin"), PIN, 0644);
    params.pin_file = path;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_KEY_PERMISSIONS);
    s_write (s_tmp (path, sizeof path, "empty-pin"), "\n", 0600);
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_PIN);
    char link[256];
    s_tmp (link, sizeof link, "pin-link");
    assert_int_equal (symlink (s_pin_path, link), 0);
    params.pin_file = link;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_NOT_REGULAR);
    params.pin_file = NULL;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_PIN);
    assert_null (ks);
}

/* The PIN from a systemd credential: $CREDENTIALS_DIRECTORY/<name>. */
static void
test_pin_credential (void **state)
{
    (void)state;
    wd_keystore_params_t params = s_params ("node-c");
    params.pin_file = NULL;
    params.pin_credential = "warden-pin";
    wd_keystore_t *ks = NULL;
    unsetenv ("CREDENTIALS_DIRECTORY");
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_PIN);
    setenv ("CREDENTIALS_DIRECTORY", s_cred_dir, 1);
    params.pin_credential = "../pin";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_PKCS11_PIN);
    params.pin_credential = "missing";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_ERR_NOT_FOUND);
    params.pin_credential = "warden-pin";
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_OK);
    uint8_t digest[32] = { 7 }, sig[64];
    assert_int_equal (wd_keystore_sign (ks, digest, sig), 0);
    wd_keystore_destroy (&ks);
    unsetenv ("CREDENTIALS_DIRECTORY");
}

/* Sessions closed under the keystore (as when a token is pulled): the
   request that meets the loss fails with its reason, the next one re-opens
   the session, logs in again and signs with the same key. */
static void
test_lost_session_reopened (void **state)
{
    (void)state;
    wd_keystore_params_t params = s_params ("node-c");
    wd_keystore_t *ks;
    assert_int_equal (wd_keystore_open ("pkcs11", &params, &ks), WD_OK);
    uint8_t digest[32] = { 1, 2, 3 }, sig[64];
    assert_int_equal (wd_keystore_sign (ks, digest, sig), 0);

    CK_FUNCTION_LIST_PTR p11 = s_module ();
    CK_SLOT_ID slot;
    CK_SESSION_HANDLE session = s_session (p11, &slot);
    (void)session;
    assert_int_equal (p11->C_CloseAllSessions (slot), CKR_OK);

    assert_int_equal (wd_keystore_sign (ks, digest, sig), WD_ERR_KEYSTORE_LOST);
    wd_keystore_status_t status;
    wd_keystore_status (ks, &status);
    assert_false (status.healthy);
    assert_int_equal (status.signatures, 1);

    assert_int_equal (wd_keystore_sign (ks, digest, sig), 0);
    assert_int_equal (crypto_sign_verify_detached (sig, digest, 32, wd_keystore_public_key (ks)),
                      0);
    wd_keystore_status (ks, &status);
    assert_true (status.healthy);
    assert_int_equal (status.signatures, 2);
    wd_keystore_destroy (&ks);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_generate_open_sign),
        cmocka_unit_test (test_key_cannot_be_exported),
        cmocka_unit_test (test_extractable_key_refused),
        cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_pin_credential),
        cmocka_unit_test (test_lost_session_reopened),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
