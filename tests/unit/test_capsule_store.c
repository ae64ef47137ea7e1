/*
 * Unit tests for the capsule store (capsule_store) on real files in a
 * temporary directory: round trips by buffer and by fd (a 5 MiB capsule in
 * 64 KiB steps), the id naming, a refused expected id, a corrupted file that
 * is quarantined and never served, the quota, remove and list, stale
 * temporary files cleaned at open while a live writer's file survives, and
 * a crash test: a child killed with SIGKILL at random moments while it puts
 * capsules, after which the reopened store holds no temporary file and
 * every stored capsule matches its id.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_store.h"
#include "test_support.h"
#include "wd_hash.h"

static char s_dir[512];
static int s_case;

/* A fresh store directory for each test. */
static const char *
s_new_dir (void)
{
    snprintf (s_dir, sizeof s_dir, "%s/store%d", test_tmpdir (), ++s_case);
    return s_dir;
}

static capsule_store_t *
s_open (const char *dir, uint64_t quota)
{
    capsule_store_t *store = NULL;
    char why[256] = "";
    int rc = capsule_store_open (dir, quota, &store, why, sizeof why);
    if (rc != WD_OK)
        fail_msg ("capsule_store_open: %s %s", capsule_err_name (rc), why);
    return store;
}

/* Names in dir starting with prefix. */
static size_t
s_count_names (const char *dir, const char *prefix)
{
    DIR *d = opendir (dir);
    assert_non_null (d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        if (strncmp (e->d_name, prefix, strlen (prefix)) == 0)
            n++;
    closedir (d);
    return n;
}

static void
test_put_get (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    const char data[] = "a capsule's bytes";
    uint8_t id[32], want[32];
    wd_hash_sha256 (want, data, sizeof data);
    assert_int_equal (capsule_store_put (store, data, sizeof data, NULL, id), WD_OK);
    assert_memory_equal (id, want, 32);
    assert_true (capsule_store_has (store, id));
    assert_int_equal (capsule_store_count (store), 1);
    assert_int_equal (capsule_store_usage (store), sizeof data);

    /* Named by lowercase hex, read-only. */
    char hex[65], path[700];
    wd_hex_encode (hex, id, 32);
    snprintf (path, sizeof path, "%s/%s", dir, hex);
    struct stat st;
    assert_int_equal (stat (path, &st), 0);
    assert_int_equal (st.st_mode & 0777, 0400);

    uint8_t *buf;
    size_t len;
    assert_int_equal (capsule_store_get (store, id, 1024, &buf, &len), WD_OK);
    assert_int_equal (len, sizeof data);
    assert_memory_equal (buf, data, len);
    free (buf);
    assert_int_equal (capsule_store_get (store, id, sizeof data - 1, &buf, &len), WD_ERR_OVERSIZE);
    assert_null (buf);

    /* The same bytes again: one file, counted once. */
    assert_int_equal (capsule_store_put (store, data, sizeof data, want, NULL), WD_OK);
    assert_int_equal (capsule_store_count (store), 1);
    assert_int_equal (capsule_store_usage (store), sizeof data);

    uint64_t size;
    assert_int_equal (capsule_store_size (store, id, &size), WD_OK);
    assert_int_equal (size, sizeof data);

    uint8_t missing[32] = { 1 };
    assert_false (capsule_store_has (store, missing));
    assert_int_equal (capsule_store_get (store, missing, 1024, &buf, &len),
                      CAPSULE_ERR_STORE_NOT_FOUND);
    int fd;
    assert_int_equal (capsule_store_get_fd (store, missing, &fd, NULL),
                      CAPSULE_ERR_STORE_NOT_FOUND);
    assert_int_equal (fd, -1);
    assert_int_equal (capsule_store_size (store, missing, &size), CAPSULE_ERR_STORE_NOT_FOUND);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);
    capsule_store_close (&store);
    assert_null (store);

    /* Reopened: usage counted from disk. */
    store = s_open (dir, 0);
    assert_int_equal (capsule_store_count (store), 1);
    assert_int_equal (capsule_store_usage (store), sizeof data);
    capsule_store_close (&store);
}

static void
test_put_fd_large (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    char src[600];
    snprintf (src, sizeof src, "%s/source%d", test_tmpdir (), s_case);
    size_t len = 5 * 1024 * 1024 + 123;
    uint8_t *data = malloc (len);
    assert_non_null (data);
    randombytes_buf (data, len);
    test_write_file (test_tmpdir (), strrchr (src, '/') + 1, data, len);
    uint8_t want[32], id[32];
    wd_hash_sha256 (want, data, len);

    int in = open (src, O_RDONLY);
    assert_true (in >= 0);
    assert_int_equal (capsule_store_put_fd (store, in, want, id), WD_OK);
    close (in);
    assert_memory_equal (id, want, 32);

    int fd = -1;
    uint64_t size = 0;
    assert_int_equal (capsule_store_get_fd (store, id, &fd, &size), WD_OK);
    assert_int_equal (size, len);
    assert_int_equal (lseek (fd, 0, SEEK_CUR), 0);
    uint8_t *back = malloc (len + 1);
    size_t got = 0;
    ssize_t n;
    while ((n = read (fd, back + got, len + 1 - got)) > 0)
        got += (size_t)n;
    close (fd);
    assert_int_equal (got, len);
    assert_memory_equal (back, data, len);
    free (back);

    /* A streaming writer fed in odd-sized steps gives the same id. */
    capsule_store_writer_t *w;
    assert_int_equal (capsule_store_begin (store, &w), WD_OK);
    for (size_t off = 0; off < len; off += 7777) {
        size_t step = len - off < 7777 ? len - off : 7777;
        assert_int_equal (capsule_store_write (w, data + off, step), WD_OK);
    }
    uint8_t id2[32];
    assert_int_equal (capsule_store_commit (&w, NULL, id2), WD_OK);
    assert_null (w);
    assert_memory_equal (id2, want, 32);
    assert_int_equal (capsule_store_count (store), 1);
    free (data);
    capsule_store_close (&store);
}

static void
test_mismatch (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    uint8_t expect[32], id[32];
    wd_hash_sha256 (expect, "other bytes", 11);
    assert_int_equal (capsule_store_put (store, "these bytes", 11, expect, id),
                      CAPSULE_ERR_STORE_MISMATCH);
    assert_false (capsule_store_has (store, id));
    assert_false (capsule_store_has (store, expect));
    assert_int_equal (capsule_store_count (store), 0);
    assert_int_equal (capsule_store_usage (store), 0);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);

    /* Aborting a writer leaves nothing either. */
    capsule_store_writer_t *w;
    assert_int_equal (capsule_store_begin (store, &w), WD_OK);
    assert_int_equal (s_count_names (dir, ".tmp-"), 1);
    assert_int_equal (capsule_store_write (w, "x", 1), WD_OK);
    capsule_store_abort (&w);
    assert_null (w);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);
    capsule_store_close (&store);
}

static void
test_corrupt_quarantined (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    uint8_t data[4096];
    randombytes_buf (data, sizeof data);
    uint8_t id[32];
    assert_int_equal (capsule_store_put (store, data, sizeof data, NULL, id), WD_OK);
    uint8_t id2[32];
    assert_int_equal (capsule_store_put (store, "second", 6, NULL, id2), WD_OK);

    /* Flip one byte on disk. */
    char hex[65], path[700];
    wd_hex_encode (hex, id, 32);
    snprintf (path, sizeof path, "%s/%s", dir, hex);
    assert_int_equal (chmod (path, 0600), 0);
    int fd = open (path, O_WRONLY);
    assert_true (fd >= 0);
    uint8_t flipped = data[1000] ^ 0x01;
    assert_int_equal (pwrite (fd, &flipped, 1, 1000), 1);
    close (fd);

    int rfd = 123;
    assert_int_equal (capsule_store_get_fd (store, id, &rfd, NULL), CAPSULE_ERR_STORE_CORRUPT);
    assert_int_equal (rfd, -1);
    assert_false (capsule_store_has (store, id));
    assert_int_equal (access (path, F_OK), -1);
    char qdir[700];
    snprintf (qdir, sizeof qdir, "%s/quarantine", dir);
    assert_int_equal (s_count_names (qdir, hex), 1);
    assert_int_equal (capsule_store_count (store), 1);
    assert_int_equal (capsule_store_usage (store), 6);
    uint8_t *buf;
    size_t len;
    assert_int_equal (capsule_store_get (store, id, 1 << 20, &buf, &len),
                      CAPSULE_ERR_STORE_NOT_FOUND);

    /* Corrupted again (a truncated file), through the buffer path. */
    wd_hex_encode (hex, id2, 32);
    snprintf (path, sizeof path, "%s/%s", dir, hex);
    assert_int_equal (truncate (path, 3), 0);
    assert_int_equal (capsule_store_get (store, id2, 1 << 20, &buf, &len),
                      CAPSULE_ERR_STORE_CORRUPT);
    assert_null (buf);
    assert_int_equal (s_count_names (qdir, hex), 1);
    assert_int_equal (capsule_store_count (store), 0);

    /* A good copy can be put again and is served. */
    assert_int_equal (capsule_store_put (store, data, sizeof data, id, NULL), WD_OK);
    assert_int_equal (capsule_store_get (store, id, 1 << 20, &buf, &len), WD_OK);
    assert_memory_equal (buf, data, sizeof data);
    free (buf);

    /* A symlink under an id name is never followed. */
    char target[700];
    snprintf (target, sizeof target, "%s/%s", dir, hex);
    uint8_t id3[32];
    wd_hash_sha256 (id3, data, 10);
    char hex3[65], link[700];
    wd_hex_encode (hex3, id3, 32);
    snprintf (link, sizeof link, "%s/%s", dir, hex3);
    wd_hex_encode (hex, id, 32);
    snprintf (target, sizeof target, "%s/%s", dir, hex);
    assert_int_equal (symlink (target, link), 0);
    assert_false (capsule_store_has (store, id3));
    assert_int_not_equal (capsule_store_get (store, id3, 1 << 20, &buf, &len), WD_OK);
    assert_null (buf);
    capsule_store_close (&store);
}

static void
test_quota (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 1000);
    assert_int_equal (capsule_store_quota (store), 1000);
    uint8_t a[600], b[600];
    randombytes_buf (a, sizeof a);
    randombytes_buf (b, sizeof b);
    uint8_t id[32];
    assert_int_equal (capsule_store_put (store, a, sizeof a, NULL, id), WD_OK);
    assert_int_equal (capsule_store_put (store, b, sizeof b, NULL, NULL), CAPSULE_ERR_STORE_FULL);
    assert_int_equal (capsule_store_count (store), 1);
    assert_int_equal (capsule_store_usage (store), 600);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);

    /* Streaming: refused at the write that crosses the quota; commit
       repeats the reason. */
    int fds[2];
    assert_int_equal (pipe (fds), 0);
    assert_int_equal (write (fds[1], b, sizeof b), (ssize_t)sizeof b);
    close (fds[1]);
    assert_int_equal (capsule_store_put_fd (store, fds[0], NULL, NULL), CAPSULE_ERR_STORE_FULL);
    close (fds[0]);
    capsule_store_writer_t *w;
    assert_int_equal (capsule_store_begin (store, &w), WD_OK);
    assert_int_equal (capsule_store_write (w, b, 300), WD_OK);
    assert_int_equal (capsule_store_write (w, b + 300, 300), CAPSULE_ERR_STORE_FULL);
    assert_int_equal (capsule_store_commit (&w, NULL, NULL), CAPSULE_ERR_STORE_FULL);
    assert_null (w);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);

    /* Reopened with the same quota: still full. Raised: fits. */
    capsule_store_close (&store);
    store = s_open (dir, 1000);
    assert_int_equal (capsule_store_usage (store), 600);
    assert_int_equal (capsule_store_put (store, b, sizeof b, NULL, NULL), CAPSULE_ERR_STORE_FULL);
    capsule_store_set_quota (store, 1200);
    assert_int_equal (capsule_store_put (store, b, sizeof b, NULL, NULL), WD_OK);
    assert_int_equal (capsule_store_usage (store), 1200);
    /* Removing frees room. */
    assert_int_equal (capsule_store_remove (store, id), WD_OK);
    assert_int_equal (capsule_store_usage (store), 600);
    assert_int_equal (capsule_store_remove (store, id), CAPSULE_ERR_STORE_NOT_FOUND);
    assert_int_equal (capsule_store_put (store, a, sizeof a, NULL, NULL), WD_OK);
    capsule_store_close (&store);
}

static void
test_list (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    uint8_t *ids;
    size_t count;
    assert_int_equal (capsule_store_list (store, &ids, &count), WD_OK);
    assert_null (ids);
    assert_int_equal (count, 0);

    uint8_t want[20][32];
    for (int i = 0; i < 20; i++) {
        char body[16];
        int n = snprintf (body, sizeof body, "capsule %d", i);
        assert_int_equal (capsule_store_put (store, body, (size_t)n, NULL, want[i]), WD_OK);
    }
    /* Other names in the directory are not capsules. */
    test_write_file (dir, "README", "x", 1);
    test_write_file (dir, "ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789", "y",
                     1);
    assert_int_equal (capsule_store_list (store, &ids, &count), WD_OK);
    assert_int_equal (count, 20);
    for (size_t i = 1; i < count; i++)
        assert_true (memcmp (ids + (i - 1) * 32, ids + i * 32, 32) < 0);
    for (int i = 0; i < 20; i++) {
        bool found = false;
        for (size_t j = 0; j < count; j++)
            found |= memcmp (ids + j * 32, want[i], 32) == 0;
        assert_true (found);
    }
    free (ids);
    capsule_store_close (&store);
    store = s_open (dir, 0);
    assert_int_equal (capsule_store_count (store), 20);
    capsule_store_close (&store);
}

static void
test_stale_tmp (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    capsule_store_t *store = s_open (dir, 0);
    /* A live writer's temporary file. */
    capsule_store_writer_t *w;
    assert_int_equal (capsule_store_begin (store, &w), WD_OK);
    assert_int_equal (capsule_store_write (w, "live", 4), WD_OK);
    /* A dead writer's. */
    test_write_file (dir, ".tmp-0123456789abcdef0123456789abcdef", "half", 4);
    assert_int_equal (s_count_names (dir, ".tmp-"), 2);

    /* Another handle on the same directory cleans only the dead one. */
    capsule_store_t *other = s_open (dir, 0);
    assert_int_equal (s_count_names (dir, ".tmp-"), 1);
    uint8_t id[32];
    assert_int_equal (capsule_store_commit (&w, NULL, id), WD_OK);
    assert_int_equal (s_count_names (dir, ".tmp-"), 0);
    uint8_t *buf;
    size_t len;
    assert_int_equal (capsule_store_get (other, id, 100, &buf, &len), WD_OK);
    assert_int_equal (len, 4);
    assert_memory_equal (buf, "live", 4);
    free (buf);
    capsule_store_close (&other);
    capsule_store_close (&store);
}

/* The child puts capsules of 64 KiB .. 2 MiB forever; the parent kills it
   with SIGKILL after a random delay. */
static void
s_crash_child (const char *dir, int ready_fd)
{
    capsule_store_t *store = s_open (dir, 0);
    size_t max = 2 * 1024 * 1024;
    uint8_t *data = malloc (max);
    if (!store || !data)
        _exit (3);
    randombytes_buf (data, max);
    char one = 'r';
    if (write (ready_fd, &one, 1) != 1)
        _exit (3);
    for (uint32_t i = 0;; i++) {
        size_t len = 65536 + randombytes_uniform ((uint32_t)(max - 65536));
        memcpy (data, &i, sizeof i);
        if (capsule_store_put (store, data, len, NULL, NULL) != WD_OK)
            _exit (3);
    }
}

static void
test_crash_during_put (void **state)
{
    (void)state;
    const char *dir = s_new_dir ();
    uint64_t total_seen = 0;
    size_t stale_seen = 0;
    for (int round = 0; round < 8; round++) {
        int fds[2];
        assert_int_equal (pipe (fds), 0);
        pid_t pid = fork ();
        assert_true (pid >= 0);
        if (pid == 0) {
            close (fds[0]);
            s_crash_child (dir, fds[1]);
        }
        close (fds[1]);
        char one;
        assert_int_equal (read (fds[0], &one, 1), 1);
        close (fds[0]);
        usleep (1000 + randombytes_uniform (40000));
        assert_int_equal (kill (pid, SIGKILL), 0);
        int status;
        assert_int_equal (waitpid (pid, &status, 0), pid);
        assert_true (WIFSIGNALED (status) && WTERMSIG (status) == SIGKILL);

        stale_seen += s_count_names (dir, ".tmp-");
        /* Reopen: stale temporary files gone, every capsule whole. */
        capsule_store_t *store = s_open (dir, 0);
        assert_int_equal (s_count_names (dir, ".tmp-"), 0);
        uint8_t *ids;
        size_t count;
        assert_int_equal (capsule_store_list (store, &ids, &count), WD_OK);
        assert_int_equal (count, capsule_store_count (store));
        for (size_t i = 0; i < count; i++) {
            int fd;
            assert_int_equal (capsule_store_get_fd (store, ids + i * 32, &fd, NULL), WD_OK);
            close (fd);
        }
        char qdir[700];
        snprintf (qdir, sizeof qdir, "%s/quarantine", dir);
        assert_int_equal (s_count_names (qdir, ""), 2); /* "." and ".." */
        total_seen = count;
        free (ids);
        capsule_store_close (&store);
    }
    /* The kills did land inside puts (else this test proves nothing). */
    assert_true (stale_seen > 0);
    print_message ("crash test: %zu half-written temporary files cleaned, %llu whole capsules "
                   "after 8 kills\n",
                   stale_seen, (unsigned long long)total_seen);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_put_get),   cmocka_unit_test (test_put_fd_large),
        cmocka_unit_test (test_mismatch),  cmocka_unit_test (test_corrupt_quarantined),
        cmocka_unit_test (test_quota),     cmocka_unit_test (test_list),
        cmocka_unit_test (test_stale_tmp), cmocka_unit_test (test_crash_during_put),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
