/*
 * Unit tests for attest_collect, on real files in a temporary directory:
 * file and range digests equal SHA-256 of the bytes; missing files,
 * directories, FIFOs and ranges past the end get their answer errors; the
 * command line is read whole; module names come sorted and unique; process
 * executables are found through <proc>/<pid>/exe links (a fake proc tree,
 * and the real /proc, where this test's own executable must appear); and
 * the IMA delta from entry k is exactly the binary records after the k-th.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "attest_collect.h"
#include "attest_ima.h"
#include "test_support.h"
#include "wd_hash.h"

static char s_path[4096];

static const char *
s_at (const char *name)
{
    snprintf (s_path, sizeof s_path, "%s/%s", test_tmpdir (), name);
    return s_path;
}

static void
s_write (const char *path, const void *data, size_t len)
{
    FILE *f = fopen (path, "wb");
    assert_non_null (f);
    assert_int_equal (fwrite (data, 1, len, f), len);
    assert_int_equal (fclose (f), 0);
}

static void
test_file_and_range (void **state)
{
    (void)state;
    uint8_t data[100000];
    for (size_t i = 0; i < sizeof data; i++)
        data[i] = (uint8_t)(i * 7 + 3);
    s_write (s_at ("blob"), data, sizeof data);
    uint8_t want[32], got[32];
    wd_hash_sha256 (want, data, sizeof data);
    assert_int_equal (attest_collect_file (s_at ("blob"), got), ATTEST_ANSWER_OK);
    assert_memory_equal (got, want, 32);
    wd_hash_sha256 (want, data + 70000, 30000);
    assert_int_equal (attest_collect_range (s_at ("blob"), 70000, 30000, got), ATTEST_ANSWER_OK);
    assert_memory_equal (got, want, 32);
    assert_int_equal (attest_collect_range (s_at ("blob"), 70000, 30001, got), ATTEST_ANSWER_RANGE);
    assert_int_equal (attest_collect_range (s_at ("blob"), 100001, 1, got), ATTEST_ANSWER_RANGE);
    assert_int_equal (attest_collect_range (s_at ("blob"), UINT64_MAX, 2, got),
                      ATTEST_ANSWER_RANGE);
    assert_int_equal (attest_collect_file (s_at ("missing"), got), ATTEST_ANSWER_NOT_FOUND);
    assert_int_equal (attest_collect_file (s_at ("blob/x"), got), ATTEST_ANSWER_NOT_FOUND);
    assert_int_equal (attest_collect_file (test_tmpdir (), got), ATTEST_ANSWER_NOT_REGULAR);
    assert_int_equal (mkfifo (s_at ("fifo"), 0600), 0);
    assert_int_equal (attest_collect_file (s_at ("fifo"), got), ATTEST_ANSWER_NOT_REGULAR);
    /* An empty file has the empty digest. */
    s_write (s_at ("empty"), "", 0);
    wd_hash_sha256 (want, "", 0);
    assert_int_equal (attest_collect_file (s_at ("empty"), got), ATTEST_ANSWER_OK);
    assert_memory_equal (got, want, 32);

    /* Through attest_collect_answer. */
    char path[4096];
    snprintf (path, sizeof path, "%s", s_at ("blob"));
    attest_item_t it = { .kind = ATTEST_ITEM_RANGE, .path = path, .off = 0, .len = 10 };
    attest_answer_t a;
    attest_collect_answer (&it, NULL, &a);
    assert_int_equal (a.kind, ATTEST_ITEM_RANGE);
    assert_int_equal (a.err, ATTEST_ANSWER_OK);
    wd_hash_sha256 (want, data, 10);
    assert_memory_equal (a.digest, want, 32);
    attest_answer_clear (&a);
}

static void
test_cmdline_and_modules (void **state)
{
    (void)state;
    char cmdline[4096], modules[4096];
    snprintf (cmdline, sizeof cmdline, "%s", s_at ("cmdline"));
    snprintf (modules, sizeof modules, "%s", s_at ("modules"));
    s_write (cmdline, "BOOT_IMAGE=/vmlinuz ro quiet\n", 29);
    const char *mods = "xfs 1961984 1 - Live 0x0000000000000000\n"
                       "ext4 1007616 2 - Live 0x0000000000000000\n"
                       "crc32c_generic 16384 0 - Live 0x0000000000000000\n"
                       "xfs 1 1 - Live 0x0\n";
    s_write (modules, mods, strlen (mods));
    attest_collect_roots_t roots = { .cmdline = cmdline, .modules = modules };
    attest_item_t it = { .kind = ATTEST_ITEM_CMDLINE };
    attest_answer_t a;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_OK);
    assert_int_equal (a.data_len, 29);
    assert_memory_equal (a.data, "BOOT_IMAGE=/vmlinuz ro quiet\n", 29);
    attest_answer_clear (&a);

    it.kind = ATTEST_ITEM_MODULES;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_OK);
    assert_int_equal (a.list_count, 3);
    assert_string_equal (a.list[0], "crc32c_generic");
    assert_string_equal (a.list[1], "ext4");
    assert_string_equal (a.list[2], "xfs");
    attest_answer_clear (&a);
    assert_null (a.list);

    /* No module support: absent; no command line file: not found. */
    roots.modules = s_at ("no-modules");
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_ABSENT);
    roots.cmdline = s_at ("no-cmdline");
    it.kind = ATTEST_ITEM_CMDLINE;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_NOT_FOUND);
    assert_null (a.data);
}

static void
test_procs_fake_tree (void **state)
{
    (void)state;
    char proc[4096], bin1[4096], bin2[4096], link[4200];
    snprintf (proc, sizeof proc, "%s", s_at ("proc"));
    snprintf (bin1, sizeof bin1, "%s", s_at ("bin-one"));
    snprintf (bin2, sizeof bin2, "%s", s_at ("bin-two"));
    s_write (bin1, "one", 3);
    s_write (bin2, "two", 3);
    assert_int_equal (mkdir (proc, 0700), 0);
    static const struct {
        const char *pid;
        const char *target;
    } procs[] = { { "123", "bin-two" },
                  { "456", "bin-one" },
                  { "789", NULL },
                  { "999", "bin-one" },
                  { "self", "bin-two" } };
    for (size_t i = 0; i < sizeof procs / sizeof procs[0]; i++) {
        snprintf (link, sizeof link, "%s/%s", proc, procs[i].pid);
        assert_int_equal (mkdir (link, 0700), 0);
        if (procs[i].target) {
            char target[4200];
            snprintf (target, sizeof target, "%s/%s", test_tmpdir (), procs[i].target);
            snprintf (link, sizeof link, "%s/%s/exe", proc, procs[i].pid);
            assert_int_equal (symlink (target, link), 0);
        }
    }
    attest_collect_roots_t roots = { .proc = proc };
    attest_item_t it = { .kind = ATTEST_ITEM_PROCS };
    attest_answer_t a;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_OK);
    /* 456 and 999 run the same file; 789 has no executable (a kernel
       thread); "self" is not a pid. */
    assert_int_equal (a.entry_count, 2);
    assert_string_equal (a.entries[0].path, bin1);
    assert_string_equal (a.entries[1].path, bin2);
    uint8_t want[32];
    wd_hash_sha256 (want, "one", 3);
    assert_memory_equal (a.entries[0].digest, want, 32);
    wd_hash_sha256 (want, "two", 3);
    assert_memory_equal (a.entries[1].digest, want, 32);
    attest_answer_clear (&a);

    roots.proc = s_at ("no-proc");
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_ABSENT);
}

static void
test_procs_real (void **state)
{
    (void)state;
    char self[4097];
    ssize_t n = readlink ("/proc/self/exe", self, sizeof self - 1);
    assert_true (n > 0);
    self[n] = 0;
    uint8_t want[32];
    assert_int_equal (attest_collect_file (self, want), ATTEST_ANSWER_OK);
    attest_item_t it = { .kind = ATTEST_ITEM_PROCS };
    attest_answer_t a;
    attest_collect_answer (&it, NULL, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_OK);
    bool found = false;
    for (size_t i = 0; i < a.entry_count; i++) {
        if (i > 0)
            assert_true (strcmp (a.entries[i - 1].path, a.entries[i].path) <= 0);
        if (strcmp (a.entries[i].path, self) == 0 && memcmp (a.entries[i].digest, want, 32) == 0)
            found = true;
    }
    assert_true (found);
    attest_answer_clear (&a);
}

static void
test_ima_delta (void **state)
{
    (void)state;
    char dir[4096], list[4200];
    snprintf (dir, sizeof dir, "%s", s_at ("ima"));
    assert_int_equal (mkdir (dir, 0700), 0);
    uint8_t records[4096];
    size_t offsets[4], len = 0;
    for (int i = 0; i < 3; i++) {
        char name[32];
        uint8_t digest[32], tdata[256];
        int nlen = snprintf (name, sizeof name, "/usr/bin/tool%d", i);
        memset (digest, i + 1, sizeof digest);
        attest_ima_entry_t e;
        assert_true (attest_ima_entry_make_ng (&e, tdata, sizeof tdata, 10, ATTEST_IMA_SHA256,
                                               digest, name, (size_t)nlen) > 0);
        offsets[i] = len;
        len += attest_ima_entry_binary (&e, records + len, sizeof records - len);
        assert_true (len < sizeof records);
    }
    offsets[3] = len;
    snprintf (list, sizeof list, "%s/binary_runtime_measurements", dir);
    s_write (list, records, len);
    attest_collect_roots_t roots = { .ima = dir };
    for (uint64_t from = 0; from <= 3; from++) {
        attest_item_t it = { .kind = ATTEST_ITEM_IMA, .from = from };
        attest_answer_t a;
        attest_collect_answer (&it, &roots, &a);
        assert_int_equal (a.err, ATTEST_ANSWER_OK);
        assert_int_equal (a.n, 3 - from);
        assert_int_equal (a.data_len, len - offsets[from]);
        assert_non_null (a.data);
        if (a.data_len)
            assert_memory_equal (a.data, records + offsets[from], a.data_len);
        attest_answer_clear (&a);
    }
    attest_item_t it = { .kind = ATTEST_ITEM_IMA, .from = 4 };
    attest_answer_t a;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_RANGE); /* the list is shorter: a new boot */
    roots.ima = s_at ("no-ima");
    it.from = 0;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_ABSENT);
    /* A corrupt list is an I/O answer, never a crash. */
    records[offsets[1] + 5] ^= 0xff;
    s_write (list, records, len);
    roots.ima = dir;
    attest_collect_answer (&it, &roots, &a);
    assert_int_equal (a.err, ATTEST_ANSWER_IO);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_file_and_range),  cmocka_unit_test (test_cmdline_and_modules),
        cmocka_unit_test (test_procs_fake_tree), cmocka_unit_test (test_procs_real),
        cmocka_unit_test (test_ima_delta),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
