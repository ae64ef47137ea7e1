/*
 * Unit tests for attest_log: a log built from the buffers in
 * make_ima_lists.py's LOG_SAMPLE is byte for byte the Python generator's
 * log-sample list and replays to its registers; a verifier continuing from
 * any saved state with the log's delta reaches the log's own state; files
 * are measured by their bytes; save/load round-trip; and bad names and
 * foreign lists are refused with their exact codes.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <cmocka.h>

#include "attest_log.h"
#include "test_support.h"
#include "wd_hash.h"

/* The same measurements as LOG_SAMPLE in tests/vectors/ima/make_ima_lists.py. */
static const struct {
    const char *name;
    const char *data;
    size_t len;
} s_sample[] = {
    { "/usr/sbin/wardend",
      "\x7f"
      "ELF wardend stand-in",
      21 },
    { "/etc/warden/warden.conf", "node\n    name = n1\n", 19 },
    { "genesis", "\x82\xa1v\x01", 4 },
    { "keystore backend", "file", 4 },
    { "status", "", 0 },
};
#define S_SAMPLE_COUNT (sizeof s_sample / sizeof s_sample[0])

static void
s_write (const char *path, const void *data, size_t len)
{
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (data, 1, len, f), len);
    assert_int_equal (fclose (f), 0);
}

static attest_log_t *
s_sample_log (void)
{
    attest_log_t *log = attest_log_new (10);
    assert_non_null (log);
    for (size_t i = 0; i < S_SAMPLE_COUNT; i++)
        assert_int_equal (
            attest_log_measure_buffer (log, s_sample[i].name, s_sample[i].data, s_sample[i].len),
            WD_OK);
    return log;
}

static void
test_matches_python (void **state)
{
    (void)state;
    attest_log_t *log = s_sample_log ();
    assert_int_equal (attest_log_count (log), S_SAMPLE_COUNT);

    char path[512];
    size_t want_len, got_len;
    snprintf (path, sizeof path, "%s/ima/log-sample.bin", WARDEN_VECTORS_DIR);
    uint8_t *want = test_read_file (path, &want_len);
    const uint8_t *got = attest_log_binary (log, 0, &got_len);
    assert_int_equal (got_len, want_len);
    assert_memory_equal (got, want, want_len);
    size_t bin_len = got_len;
    free (want);

    snprintf (path, sizeof path, "%s/ima/log-sample.ascii", WARDEN_VECTORS_DIR);
    want = test_read_file (path, &want_len);
    char *ascii = attest_log_ascii (log, 0, &got_len);
    assert_int_equal (got_len, want_len);
    assert_memory_equal (ascii, want, want_len);
    assert_int_equal (strlen (ascii), got_len);
    free (want);
    free (ascii);

    const attest_ima_state_t *st = attest_log_state (log);
    size_t len;
    uint8_t *sha1 = test_vector_hex ("ima/expected.txt", "log-sample.pcr10.sha1", &len);
    uint8_t *sha256 = test_vector_hex ("ima/expected.txt", "log-sample.pcr10.sha256", &len);
    assert_memory_equal (st->sha1, sha1, 20);
    assert_memory_equal (st->sha256, sha256, 32);
    assert_int_equal (st->entries, S_SAMPLE_COUNT);
    assert_int_equal (st->offset, bin_len);
    free (sha1);
    free (sha256);

    /* entries: digest of the bytes, the name with '_' for the space */
    attest_log_entry_t e;
    assert_true (attest_log_entry (log, 3, &e));
    assert_int_equal (e.index, 3);
    assert_int_equal (e.pcr, 10);
    assert_string_equal (e.name, "keystore_backend");
    assert_int_equal (e.name_len, 16);
    uint8_t digest[32];
    wd_hash_sha256 (digest, "file", 4);
    assert_memory_equal (e.digest, digest, 32);
    assert_true (attest_log_entry (log, 4, &e));
    wd_hash_sha256 (digest, "", 0);
    assert_memory_equal (e.digest, digest, 32);
    assert_false (attest_log_entry (log, 5, &e));
    attest_log_destroy (&log);
    assert_null (log);
    attest_log_destroy (&log);
}

/* A verifier that saved its state after k entries gets the delta from the
   log and reaches the log's state, from binary and from ASCII. */
static void
test_incremental_delta (void **state)
{
    (void)state;
    attest_log_t *log = attest_log_new (10);
    attest_ima_state_t saved[S_SAMPLE_COUNT + 1];
    attest_ima_state_init (&saved[0], ATTEST_IMA_BINARY, 10, 0);
    for (size_t i = 0; i < S_SAMPLE_COUNT; i++) {
        assert_int_equal (
            attest_log_measure_buffer (log, s_sample[i].name, s_sample[i].data, s_sample[i].len),
            WD_OK);
        saved[i + 1] = *attest_log_state (log);
    }
    for (size_t k = 0; k <= S_SAMPLE_COUNT; k++) {
        attest_ima_state_t verifier = saved[k];
        size_t len;
        const uint8_t *delta = attest_log_binary (log, k, &len);
        assert_non_null (delta);
        assert_int_equal (attest_ima_replay_buffer (delta, len, &verifier, NULL, NULL, NULL, 0),
                          WD_OK);
        assert_memory_equal (&verifier, attest_log_state (log), sizeof verifier);
    }
    size_t len;
    char *ascii = attest_log_ascii (log, 0, &len);
    attest_ima_state_t from_ascii;
    attest_ima_state_init (&from_ascii, ATTEST_IMA_ASCII, 10, 0);
    assert_int_equal (attest_ima_replay_buffer (ascii, len, &from_ascii, NULL, NULL, NULL, 0),
                      WD_OK);
    assert_memory_equal (from_ascii.sha1, attest_log_state (log)->sha1, 20);
    assert_memory_equal (from_ascii.sha256, attest_log_state (log)->sha256, 32);
    free (ascii);
    /* the ASCII tail from entry 2 on is the tail of the whole */
    char *tail = attest_log_ascii (log, 2, NULL);
    ascii = attest_log_ascii (log, 0, &len);
    assert_non_null (strstr (ascii, tail));
    assert_string_equal (ascii + len - strlen (tail), tail);
    free (tail);
    free (ascii);
    attest_log_destroy (&log);
}

static void
test_measure_file (void **state)
{
    (void)state;
    char path[512];
    snprintf (path, sizeof path, "%s/blob", test_tmpdir ());
    uint8_t *blob = malloc (200000);
    assert_non_null (blob);
    for (size_t i = 0; i < 200000; i++)
        blob[i] = (uint8_t)(i * 7);
    s_write (path, blob, 200000);

    attest_log_t *log = attest_log_new (11);
    assert_int_equal (attest_log_measure_file (log, path, NULL), WD_OK);
    assert_int_equal (attest_log_measure_file (log, path, "wardend binary"), WD_OK);
    assert_int_equal (attest_log_measure_buffer (log, "copy", blob, 200000), WD_OK);
    attest_log_entry_t a, b, c;
    assert_true (attest_log_entry (log, 0, &a));
    assert_true (attest_log_entry (log, 1, &b));
    assert_true (attest_log_entry (log, 2, &c));
    assert_string_equal (a.name, path);
    assert_string_equal (b.name, "wardend_binary");
    assert_memory_equal (a.digest, c.digest, 32);
    assert_memory_equal (b.digest, c.digest, 32);
    assert_int_equal (a.pcr, 11);
    assert_int_equal (attest_log_state (log)->pcr, 11);

    /* refusals leave the log as it was */
    char missing[600];
    snprintf (missing, sizeof missing, "%s/missing", test_tmpdir ());
    assert_int_equal (attest_log_measure_file (log, missing, NULL), WD_ERR_NOT_FOUND);
    assert_int_equal (attest_log_measure_file (log, test_tmpdir (), NULL), WD_ERR_NOT_REGULAR);
    assert_int_equal (attest_log_measure_file (log, path, "bad\tname"), ATTEST_ERR_LOG_NAME);
    assert_int_equal (attest_log_count (log), 3);
    free (blob);
    attest_log_destroy (&log);
}

static void
test_names (void **state)
{
    (void)state;
    attest_log_t *log = attest_log_new (10);
    assert_int_equal (attest_log_measure_buffer (log, "", "x", 1), ATTEST_ERR_LOG_NAME);
    assert_int_equal (attest_log_measure_buffer (log, "a\nb", "x", 1), ATTEST_ERR_LOG_NAME);
    assert_int_equal (attest_log_measure_buffer (log, "a\x7f", "x", 1), ATTEST_ERR_LOG_NAME);
    char *name = malloc (ATTEST_IMA_NAME_MAX + 2);
    memset (name, 'n', ATTEST_IMA_NAME_MAX + 1);
    name[ATTEST_IMA_NAME_MAX + 1] = '\0';
    assert_int_equal (attest_log_measure_buffer (log, name, "x", 1), ATTEST_ERR_LOG_NAME);
    name[ATTEST_IMA_NAME_MAX] = '\0';
    assert_int_equal (attest_log_measure_buffer (log, name, "x", 1), WD_OK);
    assert_int_equal (attest_log_measure_buffer (log, "caf\xc3\xa9 au lait", "x", 1), WD_OK);
    uint8_t digest[32] = { 1, 2, 3 };
    assert_int_equal (attest_log_append_digest (log, "image 00:11:22:33:44:55", digest), WD_OK);
    attest_log_entry_t e;
    assert_true (attest_log_entry (log, 0, &e));
    assert_int_equal (e.name_len, ATTEST_IMA_NAME_MAX);
    assert_true (attest_log_entry (log, 1, &e));
    assert_string_equal (e.name, "caf\xc3\xa9_au_lait");
    assert_true (attest_log_entry (log, 2, &e));
    assert_string_equal (e.name, "image_00:11:22:33:44:55");
    assert_memory_equal (e.digest, digest, 32);
    assert_int_equal (attest_log_count (log), 3);
    free (name);
    attest_log_destroy (&log);
}

static void
test_save_load (void **state)
{
    (void)state;
    attest_log_t *log = s_sample_log ();
    char path[512], why[256];
    snprintf (path, sizeof path, "%s/warden.ima", test_tmpdir ());
    assert_int_equal (attest_log_save (log, path), WD_OK);
    attest_log_t *back = NULL;
    assert_int_equal (attest_log_load_file (path, 10, &back, why, sizeof why), WD_OK);
    assert_non_null (back);
    assert_memory_equal (attest_log_state (back), attest_log_state (log),
                         sizeof (attest_ima_state_t));
    /* and it keeps growing like the original */
    assert_int_equal (attest_log_measure_buffer (back, "after reload", "y", 1), WD_OK);
    assert_int_equal (attest_log_measure_buffer (log, "after reload", "y", 1), WD_OK);
    assert_memory_equal (attest_log_state (back), attest_log_state (log),
                         sizeof (attest_ima_state_t));
    size_t a_len, b_len;
    const uint8_t *a = attest_log_binary (log, 0, &a_len);
    const uint8_t *b = attest_log_binary (back, 0, &b_len);
    assert_int_equal (a_len, b_len);
    assert_memory_equal (a, b, a_len);
    attest_log_destroy (&back);

    /* from memory, and the empty log */
    assert_int_equal (attest_log_load (a, a_len, 10, &back, why, sizeof why), WD_OK);
    assert_int_equal (attest_log_count (back), S_SAMPLE_COUNT + 1);
    attest_log_destroy (&back);
    assert_int_equal (attest_log_load (NULL, 0, 10, &back, why, sizeof why), WD_OK);
    assert_int_equal (attest_log_count (back), 0);
    size_t empty_len;
    assert_non_null (attest_log_binary (back, 0, &empty_len));
    assert_int_equal (empty_len, 0);
    attest_log_destroy (&back);

    /* refusals */
    assert_int_equal (attest_log_load (a, a_len, 11, &back, why, sizeof why), ATTEST_ERR_LOG_ENTRY);
    assert_null (back);
    assert_non_null (strstr (why, "entry 0"));
    assert_int_equal (attest_log_load (a, a_len - 1, 10, &back, why, sizeof why),
                      ATTEST_ERR_IMA_TRUNCATED);
    uint8_t *bad = malloc (a_len);
    memcpy (bad, a, a_len);
    bad[a_len - 3] ^= 1;
    assert_int_equal (attest_log_load (bad, a_len, 10, &back, why, sizeof why),
                      ATTEST_ERR_TEMPLATE_HASH);
    assert_non_null (strstr (why, "entry 5"));
    free (bad);
    snprintf (path, sizeof path, "%s/ima/gen-mixed.bin", WARDEN_VECTORS_DIR);
    assert_int_equal (attest_log_load_file (path, 10, &back, why, sizeof why),
                      ATTEST_ERR_LOG_ENTRY);
    assert_non_null (strstr (why, "entry 1")); /* the `ima` template entry */
    snprintf (path, sizeof path, "%s/ima/gen-ng-sha256.bin", WARDEN_VECTORS_DIR);
    assert_int_equal (attest_log_load_file (path, 10, &back, why, sizeof why),
                      ATTEST_ERR_LOG_ENTRY); /* its violations */
    assert_non_null (strstr (why, "entry 17"));
    snprintf (path, sizeof path, "%s/ima/gen-ng-sha256.ascii", WARDEN_VECTORS_DIR);
    assert_int_equal (attest_log_load_file (path, 10, &back, why, sizeof why),
                      ATTEST_ERR_IMA_PCR_RANGE); /* ASCII is not the log's form */
    snprintf (path, sizeof path, "%s/nothing-here", test_tmpdir ());
    assert_int_equal (attest_log_load_file (path, 10, &back, why, sizeof why), WD_ERR_NOT_FOUND);

    /* a name the log would not write */
    attest_ima_entry_t e;
    uint8_t data[128], record[256], digest[32] = { 0 };
    attest_ima_entry_make_ng (&e, data, sizeof data, 10, ATTEST_IMA_SHA256, digest, "a\tb", 3);
    size_t n = attest_ima_entry_binary (&e, record, sizeof record);
    assert_int_equal (attest_log_load (record, n, 10, &back, why, sizeof why), ATTEST_ERR_LOG_NAME);
    attest_log_destroy (&log);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_matches_python), cmocka_unit_test (test_incremental_delta),
        cmocka_unit_test (test_measure_file),   cmocka_unit_test (test_names),
        cmocka_unit_test (test_save_load),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
