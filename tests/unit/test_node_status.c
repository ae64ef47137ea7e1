/*
 * Unit tests for node_status and node_config: the status report round-trips
 * signed and unsigned, a tampered or mis-signed reply is refused with its
 * reason, and the configuration checks and derived paths.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "node_config.h"
#include "node_status.h"
#include "test_support.h"
#include "wd_cert.h"

static uint8_t s_sk[64];
static const uint8_t s_nonce[WD_MSG_NONCE_LEN] = { 1, 2, 3 };
static uint8_t *s_cert;
static size_t s_cert_len;
static const attest_ima_state_t s_measured = { .entries = 4, .sha1 = { 0xa1 }, .sha256 = { 0xb2 } };

static int
s_setup (void **state)
{
    (void)state;
    if (sodium_init () < 0)
        return -1;
    wd_cert_t cert = { .name = "node-a", .key_protection = "software", .created = 1 };
    crypto_sign_keypair (cert.sign_pk, s_sk);
    return wd_cert_seal (&cert, test_sign_fn, s_sk, &s_cert, &s_cert_len) == WD_OK ? 0 : -1;
}

static int
s_teardown (void **state)
{
    (void)state;
    free (s_cert);
    return 0;
}

static wd_config_t *
s_config (void)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = wd_config_new (node_config_table);
    assert_non_null (cfg);
    assert_int_equal (wd_config_set (cfg, "node/name", "node-a", why, sizeof why), WD_OK);
    assert_int_equal (wd_config_set (cfg, "node/state", "/srv/warden", why, sizeof why), WD_OK);
    return cfg;
}

/* Builds a report and wraps it as the engine does: signed with key sk. */
static uint8_t *
s_signed_reply (const uint8_t *sk, const uint8_t from[32], size_t *len, bool tamper)
{
    wd_config_t *cfg = s_config ();
    node_status_procs_t procs = { 0 };
    snprintf (procs.procs[NODE_PROC_KEYS].name, WD_MSG_NAME_MAX, "keys");
    snprintf (procs.procs[NODE_PROC_KEYS].state, WD_MSG_NAME_MAX, "running");
    procs.procs[NODE_PROC_KEYS].restarts = 2;
    wd_msg_keys_status_t keys = { .backend = "file",
                                  .key_protection = "software",
                                  .tamper = "not-supported",
                                  .healthy = true,
                                  .signatures = 9 };
    size_t status_len;
    uint8_t *status = node_status_build (cfg, s_cert, s_cert_len, s_nonce, &procs, &keys,
                                         &s_measured, &status_len);
    uint8_t *env;
    size_t env_len;
    assert_int_equal (wd_envelope_seal (NODE_STATUS_TYPE, wd_cert_no_chain, from, status,
                                        status_len, test_sign_fn, (void *)sk, &env, &env_len),
                      WD_OK);
    if (tamper)
        env[env_len / 2] ^= 1;
    uint8_t *reply = node_status_reply_signed (env, env_len, len);
    free (env);
    free (status);
    wd_config_destroy (&cfg);
    return reply;
}

static void
test_signed_round_trip (void **state)
{
    (void)state;
    wd_cert_t cert;
    assert_int_equal (wd_cert_open (s_cert, s_cert_len, &cert), WD_OK);
    size_t len;
    uint8_t *reply = s_signed_reply (s_sk, cert.sign_pk, &len, false);
    node_status_t *st = malloc (sizeof *st);
    bool is_signed;
    char reason[WD_MSG_ERROR_MAX + 1];
    assert_int_equal (node_status_reply_decode (reply, len, st, &is_signed, reason), WD_OK);
    assert_true (is_signed);
    assert_string_equal (st->cert.name, "node-a");
    assert_string_equal (st->state_dir, "/srv/warden");
    assert_string_equal (st->version, WARDEN_VERSION);
    assert_memory_equal (st->nonce, s_nonce, WD_MSG_NONCE_LEN);
    assert_true (st->has_keys);
    assert_int_equal (st->keys.signatures, 9);
    assert_int_equal (st->measured.entries, 4);
    assert_memory_equal (st->measured.sha1, s_measured.sha1, sizeof s_measured.sha1);
    assert_memory_equal (st->measured.sha256, s_measured.sha256, sizeof s_measured.sha256);
    assert_int_equal (st->procs.procs[NODE_PROC_KEYS].restarts, 2);
    /* a process the parent has not reported yet is shown as unknown */
    assert_string_equal (st->procs.procs[NODE_PROC_ENGINE].state, "unknown");
    free (reply);

    /* one flipped bit anywhere in the envelope */
    reply = s_signed_reply (s_sk, cert.sign_pk, &len, true);
    assert_int_not_equal (node_status_reply_decode (reply, len, st, &is_signed, reason), WD_OK);
    free (reply);

    /* a valid signature by another key than the report's node */
    uint8_t other_pk[32], other_sk[64];
    crypto_sign_keypair (other_pk, other_sk);
    reply = s_signed_reply (other_sk, other_pk, &len, false);
    assert_int_equal (node_status_reply_decode (reply, len, st, &is_signed, reason),
                      WD_ERR_KEY_MISMATCH);
    free (reply);
    free (st);
}

static void
test_unsigned (void **state)
{
    (void)state;
    wd_config_t *cfg = s_config ();
    node_status_procs_t procs = { 0 };
    size_t status_len, len;
    uint8_t *status = node_status_build (cfg, s_cert, s_cert_len, s_nonce, &procs, NULL,
                                         &s_measured, &status_len);
    uint8_t *reply = node_status_reply_unsigned (status, status_len, "keys process exited", &len);
    node_status_t *st = malloc (sizeof *st);
    bool is_signed = true;
    char reason[WD_MSG_ERROR_MAX + 1];
    assert_int_equal (node_status_reply_decode (reply, len, st, &is_signed, reason), WD_OK);
    assert_false (is_signed);
    assert_false (st->has_keys);
    assert_string_equal (reason, "keys process exited");
    free (reply);
    /* a report whose certificate is damaged: its signature no longer verifies */
    uint8_t *cert_in_status = memmem (status, status_len, s_cert, s_cert_len);
    assert_non_null (cert_in_status);
    cert_in_status[s_cert_len - 10] ^= 1;
    reply = node_status_reply_unsigned (status, status_len, "x", &len);
    assert_int_not_equal (node_status_reply_decode (reply, len, st, &is_signed, reason), WD_OK);
    free (reply);
    free (status);
    free (st);
    wd_config_destroy (&cfg);
}

static void
test_config_checks_and_paths (void **state)
{
    (void)state;
    char why[WD_CONFIG_WHY_MAX], path[256];
    wd_config_t *cfg = wd_config_new (node_config_table);
    assert_int_equal (node_config_check (cfg, why, sizeof why), WD_ERR_CONFIG_VALUE);
    assert_non_null (strstr (why, "node/name is not set"));
    assert_int_equal (wd_config_set (cfg, "node/name", "node-a", why, sizeof why), WD_OK);
    assert_int_equal (node_config_check (cfg, why, sizeof why), WD_OK);
    assert_int_equal (wd_config_set (cfg, "keystore/backend", "zymbit", why, sizeof why), WD_OK);
    assert_int_equal (node_config_check (cfg, why, sizeof why), WD_ERR_CONFIG_VALUE);
    assert_non_null (strstr (why, "'zymbit' is not built into this wardend"));

    assert_int_equal (node_path_identity_key (cfg, path, sizeof path), 0);
    assert_string_equal (path, "/var/lib/warden/keys/identity.key");
    assert_int_equal (node_path_control (cfg, path, sizeof path), 0);
    assert_string_equal (path, "/var/lib/warden/control.sock");
    assert_int_equal (wd_config_set (cfg, "control/socket", "/run/warden.sock", why, sizeof why),
                      WD_OK);
    assert_int_equal (node_path_control (cfg, path, sizeof path), 0);
    assert_string_equal (path, "/run/warden.sock");
    assert_int_equal (node_path_state (cfg, "node.cert", path, 10), -1);
    wd_config_destroy (&cfg);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_signed_round_trip),
        cmocka_unit_test (test_unsigned),
        cmocka_unit_test (test_config_checks_and_paths),
    };
    return cmocka_run_group_tests (tests, s_setup, s_teardown);
}
