/*
 * wd_keyfile: writes key files atomically enough for a one-time creation
 * (O_EXCL, fsync) and reads them with ownership and mode checks done on the
 * opened descriptor, so the checked file is the file that is read.
 */
#include "wd_keyfile.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "wd_codec.h"

#define KEYFILE_MAX 128 /* a key file is about 60 bytes */

static int
s_write_all (int fd, const uint8_t *data, size_t len)
{
    while (len > 0) {
        ssize_t n = write (fd, data, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0)
            return -1;
        data += n;
        len -= (size_t)n;
    }
    return 0;
}

static int
s_fsync_dir_of (const char *path)
{
    char copy[PATH_MAX];
    if (snprintf (copy, sizeof copy, "%s", path) >= (int)sizeof copy) {
        errno = ENAMETOOLONG;
        return -1;
    }
    int dfd = open (dirname (copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0)
        return -1;
    int rc = fsync (dfd);
    close (dfd);
    return rc;
}

wd_err_t
wd_keyfile_write (const char *path, const char *alg, const uint8_t seed[WD_SEED_LEN])
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "alg");
    wd_writer_cstr (w, alg);
    wd_writer_key (w, "seed");
    wd_writer_bin (w, seed, WD_SEED_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t len;
    uint8_t *data = wd_writer_take (w, &len);
    wd_writer_destroy (&w);

    wd_err_t err = WD_OK;
    int fd = open (path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        err = errno == EEXIST ? WD_ERR_EXISTS : WD_ERR_IO;
        goto out_wipe;
    }
    /* The umask may have narrowed 0600 but never widened it; make it exact. */
    if (fchmod (fd, 0600) != 0 || s_write_all (fd, data, len) != 0 || fsync (fd) != 0) {
        int saved = errno;
        close (fd);
        unlink (path);
        errno = saved;
        err = WD_ERR_IO;
        goto out_wipe;
    }
    if (close (fd) != 0 || s_fsync_dir_of (path) != 0)
        err = WD_ERR_IO;
out_wipe:
    sodium_memzero (data, len);
    free (data);
    return err;
}

wd_err_t
wd_keyfile_read (const char *path, const char *alg, uint8_t seed[WD_SEED_LEN])
{
    int fd = open (path, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return WD_ERR_NOT_FOUND;
        return errno == ELOOP ? WD_ERR_NOT_REGULAR : WD_ERR_IO;
    }
    wd_err_t err = WD_OK;
    uint8_t *buf = NULL;
    struct stat st;
    if (fstat (fd, &st) != 0) {
        err = WD_ERR_IO;
        goto out_close;
    }
    if (!S_ISREG (st.st_mode))
        err = WD_ERR_NOT_REGULAR;
    else if (st.st_uid != geteuid ())
        err = WD_ERR_KEY_OWNER;
    else if (st.st_mode & 077)
        err = WD_ERR_KEY_PERMISSIONS;
    else if (st.st_size > KEYFILE_MAX)
        err = WD_ERR_OVERSIZE;
    if (err != WD_OK)
        goto out_close;

    buf = sodium_malloc (KEYFILE_MAX + 1);
    if (!buf) {
        err = WD_ERR_NOMEM;
        goto out_close;
    }
    size_t len = 0;
    for (;;) {
        ssize_t n = read (fd, buf + len, KEYFILE_MAX + 1 - len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            err = WD_ERR_IO;
            goto out_free;
        }
        if (n == 0)
            break;
        len += (size_t)n;
        if (len > KEYFILE_MAX) {
            err = WD_ERR_OVERSIZE;
            goto out_free;
        }
    }

    err = wd_codec_check (buf, len, KEYFILE_MAX, NULL);
    if (err != WD_OK)
        goto out_free;
    wd_reader_t r;
    size_t count;
    char found_alg[32];
    uint64_t version;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "alg");
    wd_read_cstr (&r, found_alg, sizeof found_alg);
    wd_read_key (&r, "seed");
    wd_read_bin_fixed (&r, seed, WD_SEED_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && version != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && strcmp (found_alg, alg) != 0)
        err = WD_ERR_BAD_VALUE;
    if (err != WD_OK)
        sodium_memzero (seed, WD_SEED_LEN);
out_free:
    sodium_free (buf);
out_close:
    close (fd);
    return err;
}
