/*
 * Unit tests for environment archives (capsule_env) on real files. The
 * archives come from tools independent of libarchive: Python's tarfile
 * (tests/vectors/capsule_env_archives.py, one archive per thing to refuse)
 * and GNU tar run on a tree built here. Each refusal is asserted by its
 * exact code, and after each one the destination is gone again and nothing
 * appeared in the directory the escape archives aim at. The packer is
 * checked for determinism (same tree, other mtimes: same digest), for
 * fixed metadata as Python's tarfile reads it, and by a round trip.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_env.h"
#include "test_support.h"
#include "wd_hash.h"

static char s_archives[512]; /* archives made by the Python script */
static char s_outside[512];  /* what escape archives aim at: must stay empty */
static int s_case;

static int
s_setup (void **state)
{
    (void)state;
    snprintf (s_archives, sizeof s_archives, "%s/archives", test_tmpdir ());
    snprintf (s_outside, sizeof s_outside, "%s/outside", test_tmpdir ());
    if (mkdir (s_outside, 0755) != 0)
        return -1;
    char cmd[1400];
    snprintf (cmd, sizeof cmd, "/usr/bin/python3 '%s/capsule_env_archives.py' '%s' '%s'",
              WARDEN_VECTORS_DIR, s_archives, s_outside);
    return system (cmd) == 0 ? 0 : -1;
}

static const char *
s_dest (void)
{
    static char dest[600];
    snprintf (dest, sizeof dest, "%s/root%d", test_tmpdir (), ++s_case);
    return dest;
}

static size_t
s_entries_in (const char *dir)
{
    DIR *d = opendir (dir);
    if (!d)
        return 0;
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0;
    closedir (d);
    return n;
}

static int
s_unpack_file (const char *archive, const char *dest, const capsule_env_limits_t *limits,
               capsule_env_stats_t *stats, char *why, size_t why_len)
{
    char path[700];
    snprintf (path, sizeof path, "%s/%s", s_archives, archive);
    int fd = open (path, O_RDONLY);
    assert_true (fd >= 0);
    int rc = capsule_env_unpack_fd (fd, dest, limits, stats, why, why_len);
    close (fd);
    return rc;
}

static void
s_assert_file (const char *dir, const char *name, const char *content, mode_t mode)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    if (lstat (path, &st) != 0)
        fail_msg ("%s: %s", path, strerror (errno));
    assert_true (S_ISREG (st.st_mode));
    assert_int_equal (st.st_mode & 07777, mode);
    size_t len;
    uint8_t *data = test_read_file (path, &len);
    assert_int_equal (len, strlen (content));
    assert_memory_equal (data, content, len);
    free (data);
}

static void
s_assert_link (const char *dir, const char *name, const char *target)
{
    char path[1200], got[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    ssize_t n = readlink (path, got, sizeof got - 1);
    assert_true (n >= 0);
    got[n] = '\0';
    assert_string_equal (got, target);
}

static mode_t
s_mode (const char *dir, const char *name)
{
    char path[1200];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    struct stat st;
    assert_int_equal (lstat (path, &st), 0);
    return st.st_mode & 07777;
}

/* The tree of good_entries() in the Python script. */
static void
s_assert_good_tree (const char *dest)
{
    s_assert_file (dest, "bin/busybox",
                   "\x7f"
                   "ELF not really busybox\n",
                   0755);
    s_assert_link (dest, "bin/sh", "busybox");
    s_assert_link (dest, "bin/ls", "/bin/busybox");
    s_assert_file (dest, "bin/hardsh",
                   "\x7f"
                   "ELF not really busybox\n",
                   0755);
    char a[700], b[700];
    struct stat sa, sb;
    snprintf (a, sizeof a, "%s/bin/busybox", dest);
    snprintf (b, sizeof b, "%s/bin/hardsh", dest);
    assert_int_equal (stat (a, &sa), 0);
    assert_int_equal (stat (b, &sb), 0);
    assert_int_equal (sa.st_ino, sb.st_ino);
    s_assert_file (dest, "etc/motd", "hello from the environment\n", 0644);
    s_assert_file (dest, "usr/lib/deep/lib.so", "library", 0644);
    assert_int_equal (s_mode (dest, "usr"), 0755);
    assert_int_equal (s_mode (dest, "usr/lib/deep"), 0755);
    s_assert_link (dest, "usr/lib/deep/link", "../../../bin/busybox");
    char longname[400];
    memset (longname, 'd', 120);
    longname[120] = '/';
    memset (longname + 121, 'f', 150);
    longname[271] = '\0';
    s_assert_file (dest, longname, "long name (pax path record)", 0644);
    assert_int_equal (s_mode (dest, "ro"), 0555);
    s_assert_file (dest, "ro/file", "inside a read-only directory", 0444);
    assert_int_equal (s_mode (dest, "tmp"), 01777);
    assert_int_equal (s_mode (dest, "bin"), 0755);
}

static void
test_good (void **state)
{
    (void)state;
    const char *names[] = { "good.tar", "good.tar.gz", "good-gnu.tar" };
    for (size_t i = 0; i < sizeof names / sizeof *names; i++) {
        const char *dest = s_dest ();
        capsule_env_stats_t stats;
        char why[512] = "";
        int rc = s_unpack_file (names[i], dest, NULL, &stats, why, sizeof why);
        if (rc != WD_OK)
            fail_msg ("%s: %s %s", names[i], capsule_err_name (rc), why);
        s_assert_good_tree (dest);
        assert_int_equal (stats.entries, 14);
        assert_int_equal (stats.symlinks, 3);
        assert_int_equal (stats.files, 6); /* hard link included */
        assert_int_equal (stats.setid_stripped, 1);
        assert_int_equal (stats.bytes, 24 + 27 + 7 + 27 + 28);
        assert_int_equal (capsule_env_remove_tree (dest, why, sizeof why), WD_OK);
        assert_int_equal (access (dest, F_OK), -1);
    }

    /* From memory, into an existing empty directory. */
    char path[700];
    snprintf (path, sizeof path, "%s/good.tar.gz", s_archives);
    size_t len;
    uint8_t *buf = test_read_file (path, &len);
    const char *dest = s_dest ();
    assert_int_equal (mkdir (dest, 0700), 0);
    assert_int_equal (capsule_env_unpack_buf (buf, len, dest, NULL, NULL, NULL, 0), WD_OK);
    s_assert_good_tree (dest);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);
    free (buf);

    /* An archive with no entries gives an empty root. */
    dest = s_dest ();
    assert_int_equal (s_unpack_file ("empty.tar", dest, NULL, NULL, NULL, 0), WD_OK);
    assert_int_equal (s_entries_in (dest), 0);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);
}

typedef struct {
    const char *file;
    int code;
    capsule_env_limits_t limits;
} s_bad_t;

static void
test_refusals (void **state)
{
    (void)state;
    const s_bad_t cases[] = {
        { "absolute.tar", CAPSULE_ERR_ENV_ABSOLUTE, { 0 } },
        { "dotdot.tar", CAPSULE_ERR_ENV_DOTDOT, { 0 } },
        { "dotdot-lead.tar", CAPSULE_ERR_ENV_DOTDOT, { 0 } },
        { "symlink-up.tar", CAPSULE_ERR_ENV_SYMLINK, { 0 } },
        { "symlink-deep-up.tar", CAPSULE_ERR_ENV_SYMLINK, { 0 } },
        { "symlink-down-up.tar", CAPSULE_ERR_ENV_SYMLINK, { 0 } },
        { "symlink-abs-dotdot.tar", CAPSULE_ERR_ENV_SYMLINK, { 0 } },
        { "through-symlink.tar", CAPSULE_ERR_ENV_THROUGH_LINK, { 0 } },
        { "through-file.tar", CAPSULE_ERR_ENV_THROUGH_LINK, { 0 } },
        { "hardlink-abs.tar", CAPSULE_ERR_ENV_HARDLINK, { 0 } },
        { "hardlink-up.tar", CAPSULE_ERR_ENV_HARDLINK, { 0 } },
        { "hardlink-missing.tar", CAPSULE_ERR_ENV_HARDLINK, { 0 } },
        { "hardlink-symlink.tar", CAPSULE_ERR_ENV_HARDLINK, { 0 } },
        { "chardev.tar", CAPSULE_ERR_ENV_DEVICE, { 0 } },
        { "blockdev.tar", CAPSULE_ERR_ENV_DEVICE, { 0 } },
        { "fifo.tar", CAPSULE_ERR_ENV_FIFO, { 0 } },
        { "long-path.tar", CAPSULE_ERR_ENV_NAME, { 0 } },
        { "long-component.tar", CAPSULE_ERR_ENV_NAME, { 0 } },
        { "duplicate.tar", CAPSULE_ERR_ENV_DUPLICATE, { 0 } },
        { "dir-over-file.tar", CAPSULE_ERR_ENV_DUPLICATE, { 0 } },
        { "many.tar", CAPSULE_ERR_ENV_ENTRIES, { .max_entries = 10 } },
        { "big.tar", CAPSULE_ERR_ENV_TOO_BIG, { .max_bytes = 1024 * 1024 } },
        { "huge-header.tar", CAPSULE_ERR_ENV_TOO_BIG, { 0 } },
        { "good.tar", CAPSULE_ERR_ENV_SETID, { .refuse_setid = true } },
        { "good.tar", CAPSULE_ERR_ENV_NAME, { .max_path = 100 } },
        { "late-device.tar", CAPSULE_ERR_ENV_DEVICE, { 0 } },
        { "truncated.tar", CAPSULE_ERR_ENV_CORRUPT, { 0 } },
        { "not-tar.bin", CAPSULE_ERR_ENV_FORMAT, { 0 } },
        { "gzip-not-tar.gz", CAPSULE_ERR_ENV_FORMAT, { 0 } },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        const char *dest = s_dest ();
        char why[512] = "";
        int rc = s_unpack_file (cases[i].file, dest, &cases[i].limits, NULL, why, sizeof why);
        print_message ("%-24s %s (%s)\n", cases[i].file, capsule_err_name (rc), why);
        if (rc != cases[i].code)
            fail_msg ("%s: %s, want %s (%s)", cases[i].file, capsule_err_name (rc),
                      capsule_err_name (cases[i].code), why);
        assert_true (why[0] != '\0');
        /* Nothing left behind, nothing escaped. */
        assert_int_equal (access (dest, F_OK), -1);
        assert_int_equal (s_entries_in (s_outside), 0);
    }
    /* The same archives pass with the limits they exceeded raised. */
    const char *dest = s_dest ();
    assert_int_equal (s_unpack_file ("many.tar", dest, NULL, NULL, NULL, 0), WD_OK);
    assert_int_equal (s_entries_in (dest), 50);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);
    dest = s_dest ();
    assert_int_equal (s_unpack_file ("big.tar", dest, NULL, NULL, NULL, 0), WD_OK);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);
}

static void
test_dest (void **state)
{
    (void)state;
    /* Not empty: refused, left as it was. */
    const char *dest = s_dest ();
    assert_int_equal (mkdir (dest, 0755), 0);
    test_write_file (dest, "already", "x", 1);
    char why[512];
    assert_int_equal (s_unpack_file ("good.tar", dest, NULL, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_DEST);
    assert_int_equal (s_entries_in (dest), 1);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);

    /* A symlink as destination is not followed. */
    dest = s_dest ();
    assert_int_equal (symlink (s_outside, dest), 0);
    assert_int_equal (s_unpack_file ("good.tar", dest, NULL, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_DEST);
    assert_int_equal (s_entries_in (s_outside), 0);
    assert_int_equal (unlink (dest), 0);

    /* An empty directory given by the caller stays (emptied) on failure. */
    dest = s_dest ();
    assert_int_equal (mkdir (dest, 0700), 0);
    assert_int_equal (s_unpack_file ("late-device.tar", dest, NULL, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_DEVICE);
    assert_int_equal (access (dest, F_OK), 0);
    assert_int_equal (s_entries_in (dest), 0);
    assert_int_equal (rmdir (dest), 0);
}

/* A small root file system: busybox-style applet links, a nested tree. */
static void
s_make_tree (const char *root)
{
    char p[900];
    assert_int_equal (mkdir (root, 0755), 0);
    snprintf (p, sizeof p, "%s/bin", root);
    assert_int_equal (mkdir (p, 0755), 0);
    snprintf (p, sizeof p, "%s/bin", root);
    test_write_file (p, "busybox", "#!/bin/false\nbusybox\n", 21);
    snprintf (p, sizeof p, "%s/bin/busybox", root);
    assert_int_equal (chmod (p, 0755), 0);
    const char *applets[] = { "sh", "ls", "cat", "sort", "comm" };
    for (size_t i = 0; i < sizeof applets / sizeof *applets; i++) {
        snprintf (p, sizeof p, "%s/bin/%s", root, applets[i]);
        assert_int_equal (symlink ("busybox", p), 0);
    }
    snprintf (p, sizeof p, "%s/usr", root);
    assert_int_equal (mkdir (p, 0755), 0);
    snprintf (p, sizeof p, "%s/usr/bin", root);
    assert_int_equal (symlink ("../bin", p), 0);
    snprintf (p, sizeof p, "%s/etc", root);
    assert_int_equal (mkdir (p, 0750), 0);
    test_write_file (p, "hosts", "127.0.0.1 localhost\n", 20);
    test_write_file (p, "a-b", "sorts before a/ but after a", 27);
    snprintf (p, sizeof p, "%s/etc/a", root);
    assert_int_equal (mkdir (p, 0755), 0);
    test_write_file (p, "z", "", 0);
}

static void
s_sh (const char *cmd)
{
    if (system (cmd) != 0)
        fail_msg ("command failed: %s", cmd);
}

static void
test_gnu_tar (void **state)
{
    (void)state;
    char src[600], cmd[4000], archive[700], gz[700];
    snprintf (src, sizeof src, "%s/gnu-src", test_tmpdir ());
    s_make_tree (src);
    snprintf (archive, sizeof archive, "%s/gnu.tar", test_tmpdir ());
    snprintf (gz, sizeof gz, "%s/gnu.tar.gz", test_tmpdir ());
    snprintf (cmd, sizeof cmd,
              "tar --format=posix -C '%s' -cf '%s' . && tar --format=posix -C '%s' -czf '%s' .",
              src, archive, src, gz);
    s_sh (cmd);
    const char *files[] = { archive, gz };
    for (size_t i = 0; i < 2; i++) {
        const char *dest = s_dest ();
        int fd = open (files[i], O_RDONLY);
        assert_true (fd >= 0);
        char why[512] = "";
        int rc = capsule_env_unpack_fd (fd, dest, NULL, NULL, why, sizeof why);
        close (fd);
        if (rc != WD_OK)
            fail_msg ("%s: %s %s", files[i], capsule_err_name (rc), why);
        s_assert_file (dest, "bin/busybox", "#!/bin/false\nbusybox\n", 0755);
        s_assert_link (dest, "bin/comm", "busybox");
        s_assert_link (dest, "usr/bin", "../bin");
        s_assert_file (dest, "etc/hosts", "127.0.0.1 localhost\n", 0644);
        assert_int_equal (s_mode (dest, "etc"), 0750);
        assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);
    }

    /* GNU tar keeping an absolute name (-P). */
    snprintf (archive, sizeof archive, "%s/gnu-abs.tar", test_tmpdir ());
    snprintf (cmd, sizeof cmd, "tar --format=posix -P -cf '%s' '%s/etc/hosts'", archive, src);
    s_sh (cmd);
    const char *dest = s_dest ();
    int fd = open (archive, O_RDONLY);
    assert_int_equal (capsule_env_unpack_fd (fd, dest, NULL, NULL, NULL, 0),
                      CAPSULE_ERR_ENV_ABSOLUTE);
    close (fd);
    assert_int_equal (access (dest, F_OK), -1);
    assert_int_equal (capsule_env_remove_tree (src, NULL, 0), WD_OK);
}

static void
s_pack_to (const char *dir, const char *out, uint8_t digest[32])
{
    int fd = open (out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    assert_true (fd >= 0);
    char why[512] = "";
    int rc = capsule_env_pack (dir, fd, NULL, digest, why, sizeof why);
    close (fd);
    if (rc != WD_OK)
        fail_msg ("pack %s: %s %s", dir, capsule_err_name (rc), why);
}

static void
test_pack (void **state)
{
    (void)state;
    char src[600], out1[700], out2[700], p[900];
    snprintf (src, sizeof src, "%s/pack-src", test_tmpdir ());
    s_make_tree (src);
    snprintf (out1, sizeof out1, "%s/pack1.tar", test_tmpdir ());
    snprintf (out2, sizeof out2, "%s/pack2.tar", test_tmpdir ());
    uint8_t d1[32], d2[32], want[32];
    s_pack_to (src, out1, d1);

    /* The digest is that of the bytes written. */
    size_t len1, len2;
    uint8_t *b1 = test_read_file (out1, &len1);
    wd_hash_sha256 (want, b1, len1);
    assert_memory_equal (d1, want, 32);

    /* Other mtimes (and a setuid bit, dropped): the same bytes. */
    snprintf (p, sizeof p, "%s/etc/hosts", src);
    struct timeval tv[2] = { { 1000000, 0 }, { 2000000, 0 } };
    assert_int_equal (utimes (p, tv), 0);
    snprintf (p, sizeof p, "%s/bin/busybox", src);
    assert_int_equal (chmod (p, 04755), 0);
    s_pack_to (src, out2, d2);
    uint8_t *b2 = test_read_file (out2, &len2);
    assert_int_equal (len1, len2);
    assert_memory_equal (b1, b2, len1);
    assert_memory_equal (d1, d2, 32);
    free (b1);
    free (b2);

    /* As Python's tarfile reads it: fixed metadata, parents first, siblings
       in byte order. */
    char cmd[2400];
    snprintf (cmd, sizeof cmd,
              "/usr/bin/python3 -c \"import tarfile,sys\n"
              "t=tarfile.open(sys.argv[1])\n"
              "m=t.getmembers()\n"
              "assert all(x.mtime==0 and x.uid==0 and x.gid==0 and x.uname=='' and x.gname=='' "
              "for x in m), 'metadata'\n"
              "assert all(not (x.mode & 0o6000) for x in m), 'setid'\n"
              "n=[x.name for x in m]\n"
              "assert n[:4]==['bin','bin/busybox','bin/cat','bin/comm'], n\n"
              "assert n.index('etc/a') < n.index('etc/a/z') < n.index('etc/a-b'), n\n"
              "assert len(n)==14, n\n"
              "\" '%s'",
              out1);
    s_sh (cmd);

    /* Round trip. */
    const char *dest = s_dest ();
    int fd = open (out1, O_RDONLY);
    capsule_env_stats_t stats;
    assert_int_equal (capsule_env_unpack_fd (fd, dest, NULL, &stats, NULL, 0), WD_OK);
    close (fd);
    assert_int_equal (stats.entries, 14);
    s_assert_file (dest, "bin/busybox", "#!/bin/false\nbusybox\n", 0755);
    s_assert_link (dest, "bin/sort", "busybox");
    s_assert_file (dest, "etc/a-b", "sorts before a/ but after a", 0644);
    s_assert_file (dest, "etc/a/z", "", 0644);
    assert_int_equal (s_mode (dest, "etc"), 0750);
    assert_int_equal (capsule_env_remove_tree (dest, NULL, 0), WD_OK);

    /* What unpack would refuse is not packed. */
    snprintf (p, sizeof p, "%s/etc/fifo", src);
    assert_int_equal (mkfifo (p, 0644), 0);
    fd = open (out2, O_WRONLY | O_TRUNC);
    char why[512] = "";
    assert_int_equal (capsule_env_pack (src, fd, NULL, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_FIFO);
    assert_non_null (strstr (why, "etc/fifo"));
    assert_int_equal (unlink (p), 0);
    snprintf (p, sizeof p, "%s/etc/escape", src);
    assert_int_equal (symlink ("../../outside", p), 0);
    assert_int_equal (capsule_env_pack (src, fd, NULL, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_SYMLINK);
    assert_int_equal (unlink (p), 0);
    capsule_env_limits_t small = { .max_entries = 5 };
    assert_int_equal (capsule_env_pack (src, fd, &small, NULL, why, sizeof why),
                      CAPSULE_ERR_ENV_ENTRIES);
    close (fd);
    assert_int_equal (capsule_env_remove_tree (src, NULL, 0), WD_OK);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_good), cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_dest), cmocka_unit_test (test_gnu_tar),
        cmocka_unit_test (test_pack),
    };
    return cmocka_run_group_tests (tests, s_setup, test_tmpdir_teardown);
}
