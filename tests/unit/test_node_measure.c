/*
 * Unit tests for node_measure: the start-up measurements and their order,
 * the log growing across restarts with its prefix intact, a log that no
 * longer loads set aside and replaced, the genesis measured when there is
 * one and an invalid one refused, and the keystore measurement ignoring the
 * signature counter.
 */
#include <dirent.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "node_config.h"
#include "node_measure.h"
#include "test_support.h"
#include "wd_hash.h"

static wd_config_t *
s_config (void)
{
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = wd_config_new (node_config_table);
    assert_non_null (cfg);
    assert_int_equal (wd_config_set (cfg, "node/name", "node-a", why, sizeof why), WD_OK);
    assert_int_equal (wd_config_set (cfg, "node/state", test_tmpdir (), why, sizeof why), WD_OK);
    return cfg;
}

static void
s_write (const char *name, const char *text)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", test_tmpdir (), name);
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs (text, f);
    fclose (f);
}

static void
s_expect_name (const attest_log_t *log, uint64_t index, const char *name)
{
    attest_log_entry_t entry;
    assert_true (attest_log_entry (log, index, &entry));
    assert_string_equal (entry.name, name);
}

static void
test_start_and_restart (void **state)
{
    (void)state;
    wd_config_t *cfg = s_config ();
    s_write ("node.cert", "certificate bytes");
    char why[256], exe[4096], cert[4096];
    ssize_t n = readlink ("/proc/self/exe", exe, sizeof exe - 1);
    assert_true (n > 0);
    exe[n] = '\0';
    snprintf (cert, sizeof cert, "%s/node.cert", test_tmpdir ());

    attest_log_t *log = node_measure_start (cfg, why, sizeof why);
    assert_non_null (log);
    assert_int_equal (attest_log_count (log), 3);
    s_expect_name (log, 0, exe);
    s_expect_name (log, 1, NODE_MEASURE_CONFIG);
    s_expect_name (log, 2, cert);
    attest_log_entry_t entry;
    assert_true (attest_log_entry (log, 2, &entry));
    uint8_t want[32];
    wd_hash_sha256 (want, (const uint8_t *)"certificate bytes", 17);
    assert_memory_equal (entry.digest, want, 32);
    attest_ima_state_t first = *attest_log_state (log);
    attest_log_destroy (&log);

    /* a restart continues the saved log: same prefix, three more entries */
    log = node_measure_start (cfg, why, sizeof why);
    assert_non_null (log);
    assert_int_equal (attest_log_count (log), 6);
    s_expect_name (log, 3, exe);
    size_t len;
    attest_log_binary (log, 3, &len);
    assert_int_equal (attest_log_state (log)->offset - len, first.offset);
    attest_log_destroy (&log);
    wd_config_destroy (&cfg);
}

static void
test_genesis (void **state)
{
    (void)state;
    wd_config_t *cfg = s_config ();
    s_write ("node.cert", "certificate bytes");
    size_t len;
    uint8_t *genesis = test_vector_hex ("genesis.txt", "genesis", &len);
    char path[512], why[256];
    snprintf (path, sizeof path, "%s/genesis", test_tmpdir ());
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (genesis, 1, len, f), len);
    fclose (f);
    attest_log_t *log = node_measure_start (cfg, why, sizeof why);
    assert_non_null (log);
    assert_int_equal (attest_log_count (log), 4);
    s_expect_name (log, 3, path);
    attest_log_destroy (&log);

    /* one byte short: the engine must not start on it */
    f = fopen (path, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (genesis, 1, len - 1, f), len - 1);
    fclose (f);
    assert_null (node_measure_start (cfg, why, sizeof why));
    assert_non_null (strstr (why, "WD_ERR_TRUNCATED"));
    free (genesis);
    wd_config_destroy (&cfg);
}

static void
test_keystore_ignores_counter (void **state)
{
    (void)state;
    wd_config_t *cfg = s_config ();
    s_write ("node.cert", "certificate bytes");
    char why[256];
    attest_log_t *log = node_measure_start (cfg, why, sizeof why);
    assert_non_null (log);
    uint64_t base = attest_log_count (log);
    wd_msg_keys_status_t keys = { .backend = "file",
                                  .key_protection = "software",
                                  .tamper = "not-supported",
                                  .healthy = true,
                                  .signatures = 3 };
    assert_int_equal (node_measure_keystore (log, cfg, &keys), WD_OK);
    keys.signatures = 900;
    assert_int_equal (node_measure_keystore (log, cfg, &keys), WD_OK);
    keys.healthy = false;
    assert_int_equal (node_measure_keystore (log, cfg, &keys), WD_OK);
    attest_log_entry_t a, b, c;
    assert_true (attest_log_entry (log, base, &a));
    assert_true (attest_log_entry (log, base + 1, &b));
    assert_true (attest_log_entry (log, base + 2, &c));
    assert_string_equal (a.name, "warden:keystore:file");
    assert_memory_equal (a.digest, b.digest, 32);
    assert_memory_not_equal (a.digest, c.digest, 32);
    attest_log_destroy (&log);
    wd_config_destroy (&cfg);
}

static void
test_bad_log_is_set_aside (void **state)
{
    (void)state;
    wd_config_t *cfg = s_config ();
    s_write ("node.cert", "certificate bytes");
    s_write (NODE_MEASURE_FILE, "not a measurement list");
    char why[256];
    attest_log_t *log = node_measure_start (cfg, why, sizeof why);
    assert_non_null (log);
    assert_int_equal (attest_log_count (log), 4);
    s_expect_name (log, 0, NODE_MEASURE_LOG_RESET);
    attest_log_entry_t entry;
    assert_true (attest_log_entry (log, 0, &entry));
    uint8_t want[32];
    wd_hash_sha256 (want, (const uint8_t *)"not a measurement list", 22);
    assert_memory_equal (entry.digest, want, 32);
    attest_log_destroy (&log);

    /* the old bytes are kept beside the new log */
    DIR *dir = opendir (test_tmpdir ());
    assert_non_null (dir);
    int aside = 0;
    for (struct dirent *d; (d = readdir (dir));)
        aside +=
            strncmp (d->d_name, NODE_MEASURE_FILE ".bad-", strlen (NODE_MEASURE_FILE) + 5) == 0;
    closedir (dir);
    assert_int_equal (aside, 1);
    wd_config_destroy (&cfg);
}

static int
s_fresh (void **state)
{
    (void)state;
    test_tmpdir_remove ();
    return 0;
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_start_and_restart, s_fresh),
        cmocka_unit_test_setup (test_genesis, s_fresh),
        cmocka_unit_test_setup (test_keystore_ignores_counter, s_fresh),
        cmocka_unit_test_setup (test_bad_log_is_set_aside, s_fresh),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
