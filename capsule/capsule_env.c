/*
 * capsule_env: unpacking and packing environment archives (contract in
 * capsule_env.h, rules in docs/PROTOCOL.md "Environment archives").
 *
 * libarchive only parses here (tar formats, gzip filter); the tree is made
 * with *at() calls from a descriptor of the destination, one O_NOFOLLOW
 * openat per path component, so a symlink in the archive can never redirect
 * a later entry and the process's working directory is never used (wardend
 * runs other work in the same process).
 */
#include "capsule_env.h"

#include <archive.h>
#include <archive_entry.h>
#include <assert.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define S_BLOCK 65536

typedef struct {
    char *path; /* normalized, relative to the root */
    mode_t mode;
    size_t depth;
} s_dirmode_t;

typedef struct {
    struct archive *a;
    int rootfd;
    uint64_t max_entries;
    uint64_t max_bytes;
    size_t max_path;
    bool refuse_setid;
    capsule_env_stats_t stats;
    s_dirmode_t *dirs; /* final modes, applied at the end */
    size_t ndirs, capdirs;
    char *why;
    size_t why_len;
} s_unpack_t;

static void
s_limits (const capsule_env_limits_t *limits, uint64_t *entries, uint64_t *bytes, size_t *path,
          bool *refuse_setid)
{
    *entries =
        limits && limits->max_entries ? limits->max_entries : CAPSULE_ENV_DEFAULT_MAX_ENTRIES;
    *bytes = limits && limits->max_bytes ? limits->max_bytes : CAPSULE_ENV_DEFAULT_MAX_BYTES;
    *path = limits && limits->max_path ? limits->max_path : CAPSULE_ENV_DEFAULT_MAX_PATH;
    *refuse_setid = limits && limits->refuse_setid;
}

/* --- Path rules ----------------------------------------------------------- */

/* Normalizes an entry path into out (max_path + 1 bytes): drops empty and
   "." components (so "./a//b/" is "a/b"). Refuses absolute paths, ".."
   components, and overlong paths or components. An empty result is the
   root itself. */
static int
s_norm_path (const char *in, char *out, size_t max_path)
{
    if (!in || !*in)
        return CAPSULE_ERR_ENV_NAME;
    /* The raw name is bounded too ("./" repeated costs work, not space). */
    if (strlen (in) > 2 * max_path + 2)
        return CAPSULE_ERR_ENV_NAME;
    if (in[0] == '/')
        return CAPSULE_ERR_ENV_ABSOLUTE;
    size_t o = 0;
    const char *p = in;
    while (*p) {
        const char *slash = strchr (p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen (p);
        if (n == 2 && p[0] == '.' && p[1] == '.')
            return CAPSULE_ERR_ENV_DOTDOT;
        if (n > CAPSULE_ENV_MAX_COMPONENT)
            return CAPSULE_ERR_ENV_NAME;
        if (n > 0 && !(n == 1 && p[0] == '.')) {
            if (o + (o ? 1 : 0) + n > max_path)
                return CAPSULE_ERR_ENV_NAME;
            if (o)
                out[o++] = '/';
            memcpy (out + o, p, n);
            o += n;
        }
        p += n;
        if (*p == '/')
            p++;
    }
    out[o] = '\0';
    return WD_OK;
}

static size_t
s_depth (const char *rel)
{
    size_t d = *rel ? 1 : 0;
    for (; *rel; rel++)
        d += *rel == '/';
    return d;
}

/* Whether a symlink at rel (normalized) with this target stays inside the
   root. Absolute targets are resolved against the environment root (the
   sandbox mounts it as /) and may hold no "..". Relative targets may only
   climb first: "../../x/y" with no ".." after the first other component,
   and no higher than the link's directory is deep. The directories above
   the link are real directories (entries never pass through symlinks), so
   climbing stays inside; descending can only meet other checked links. */
static bool
s_symlink_ok (const char *rel, const char *target, size_t max_path)
{
    if (!target || !*target || strlen (target) > max_path)
        return false;
    bool absolute = target[0] == '/';
    size_t up = 0;
    bool descended = false;
    const char *p = target;
    while (*p) {
        const char *slash = strchr (p, '/');
        size_t n = slash ? (size_t)(slash - p) : strlen (p);
        if (n > CAPSULE_ENV_MAX_COMPONENT)
            return false;
        if (n == 2 && p[0] == '.' && p[1] == '.') {
            if (absolute || descended)
                return false;
            up++;
        } else if (n > 0 && !(n == 1 && p[0] == '.'))
            descended = true;
        p += n;
        if (*p == '/')
            p++;
    }
    size_t depth = s_depth (rel);
    return up <= (depth ? depth - 1 : 0);
}

/* --- Walking without following -------------------------------------------- */

/* Opens the directory that holds rel's last component, creating missing
   directories when create is set. Returns a descriptor (caller closes)
   with *base pointing into rel, or a negative code: ENV_THROUGH_LINK when
   a component is a symlink or not a directory, WD_ERR_NOT_FOUND when one
   is missing and create is not set. */
static int
s_open_parent (int rootfd, const char *rel, bool create, const char **base)
{
    int cur = dup (rootfd);
    if (cur < 0)
        return WD_ERR_IO;
    const char *p = rel;
    for (;;) {
        const char *slash = strchr (p, '/');
        if (!slash)
            break;
        char comp[CAPSULE_ENV_MAX_COMPONENT + 1];
        size_t n = (size_t)(slash - p);
        assert (n > 0 && n <= CAPSULE_ENV_MAX_COMPONENT);
        memcpy (comp, p, n);
        comp[n] = '\0';
        int next = openat (cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (next < 0 && errno == ENOENT && create) {
            /* Implicit parents (not listed in the archive) get 0755. */
            if (mkdirat (cur, comp, 0755) != 0 && errno != EEXIST) {
                close (cur);
                return WD_ERR_IO;
            }
            next = openat (cur, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        }
        int err = errno;
        close (cur);
        if (next < 0) {
            if (err == ENOENT)
                return WD_ERR_NOT_FOUND;
            if (err == ELOOP || err == ENOTDIR)
                return CAPSULE_ERR_ENV_THROUGH_LINK;
            return WD_ERR_IO;
        }
        cur = next;
        p = slash + 1;
    }
    *base = p;
    return cur;
}

/* Removes everything inside the directory dirfd (not the directory). */
static int
s_clear_dir (int dirfd)
{
    int fd = dup (dirfd);
    DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close (fd);
        return WD_ERR_IO;
    }
    rewinddir (d);
    int rc = WD_OK;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
            continue;
        if (unlinkat (dirfd, e->d_name, 0) == 0)
            continue;
        if (errno != EISDIR && errno != EPERM) {
            rc = WD_ERR_IO;
            continue;
        }
        int sub = openat (dirfd, e->d_name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0) {
            rc = WD_ERR_IO;
            continue;
        }
        (void)fchmod (sub, 0700); /* a read-only directory could not be emptied */
        if (s_clear_dir (sub) != WD_OK)
            rc = WD_ERR_IO;
        close (sub);
        if (unlinkat (dirfd, e->d_name, AT_REMOVEDIR) != 0)
            rc = WD_ERR_IO;
    }
    closedir (d);
    return rc;
}

int
capsule_env_remove_tree (const char *path, char *why, size_t why_len)
{
    assert (path);
    int fd = open (path, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) {
        if (errno == ENOENT)
            return WD_OK;
        if (errno == ENOTDIR || errno == ELOOP) {
            if (unlink (path) == 0)
                return WD_OK;
        }
        wd_err_why (why, why_len, "%s: %s", path, strerror (errno));
        return WD_ERR_IO;
    }
    (void)fchmod (fd, 0700);
    int rc = s_clear_dir (fd);
    close (fd);
    if (rc == WD_OK && rmdir (path) != 0)
        rc = WD_ERR_IO;
    if (rc != WD_OK)
        wd_err_why (why, why_len, "cannot remove all of %s", path);
    return rc;
}

/* --- Unpacking -------------------------------------------------------------- */

static int
s_fail (s_unpack_t *u, int rc, const char *path, const char *detail)
{
    wd_err_why (u->why, u->why_len, "entry %llu \"%.200s\": %s%s%s",
                (unsigned long long)u->stats.entries, path ? path : "", capsule_strerror (rc),
                detail ? ": " : "", detail ? detail : "");
    return rc;
}

static int
s_note_dir (s_unpack_t *u, const char *rel, mode_t mode)
{
    for (size_t i = 0; i < u->ndirs; i++)
        if (strcmp (u->dirs[i].path, rel) == 0) {
            u->dirs[i].mode = mode;
            return WD_OK;
        }
    if (u->ndirs == u->capdirs) {
        size_t ncap = u->capdirs ? u->capdirs * 2 : 64;
        s_dirmode_t *n = realloc (u->dirs, ncap * sizeof *n);
        if (!n)
            return WD_ERR_NOMEM;
        u->dirs = n;
        u->capdirs = ncap;
    }
    char *copy = strdup (rel);
    if (!copy)
        return WD_ERR_NOMEM;
    u->dirs[u->ndirs++] = (s_dirmode_t){ .path = copy, .mode = mode, .depth = s_depth (rel) };
    return WD_OK;
}

static int
s_dir_deeper_first (const void *a, const void *b)
{
    const s_dirmode_t *x = a, *y = b;
    return x->depth < y->depth ? 1 : x->depth > y->depth ? -1 : 0;
}

/* Applies the directories' modes, deepest first so a read-only parent
   never blocks a child's fixup for an unprivileged unpacker. */
static int
s_apply_dir_modes (s_unpack_t *u)
{
    if (u->ndirs)
        qsort (u->dirs, u->ndirs, sizeof *u->dirs, s_dir_deeper_first);
    for (size_t i = 0; i < u->ndirs; i++) {
        const char *base;
        int parent = s_open_parent (u->rootfd, u->dirs[i].path, false, &base);
        if (parent < 0)
            return s_fail (u, WD_ERR_IO, u->dirs[i].path, "directory vanished");
        int fd = openat (parent, base, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        close (parent);
        if (fd < 0 || fchmod (fd, u->dirs[i].mode) != 0) {
            if (fd >= 0)
                close (fd);
            return s_fail (u, WD_ERR_IO, u->dirs[i].path, strerror (errno));
        }
        close (fd);
    }
    return WD_OK;
}

/* Final permission bits of an entry: setuid/setgid stripped (or refused),
   sticky kept. */
static int
s_mode (s_unpack_t *u, struct archive_entry *e, const char *rel, mode_t *mode)
{
    mode_t m = archive_entry_perm (e) & 07777;
    if (m & (S_ISUID | S_ISGID)) {
        if (u->refuse_setid)
            return s_fail (u, CAPSULE_ERR_ENV_SETID, rel, NULL);
        m &= ~(mode_t)(S_ISUID | S_ISGID);
        u->stats.setid_stripped++;
    }
    *mode = m;
    return WD_OK;
}

static int
s_unpack_file (s_unpack_t *u, struct archive_entry *e, const char *rel, int parent,
               const char *base)
{
    mode_t mode;
    int rc = s_mode (u, e, rel, &mode);
    if (rc != WD_OK)
        return rc;
    uint64_t size = archive_entry_size_is_set (e) && archive_entry_size (e) > 0
                        ? (uint64_t)archive_entry_size (e)
                        : 0;
    if (size > u->max_bytes - u->stats.bytes)
        return s_fail (u, CAPSULE_ERR_ENV_TOO_BIG, rel, NULL);
    int fd = openat (parent, base, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
    if (fd < 0) {
        if (errno == EEXIST)
            return s_fail (u, CAPSULE_ERR_ENV_DUPLICATE, rel, NULL);
        return s_fail (u, WD_ERR_IO, rel, strerror (errno));
    }
    uint64_t end = 0;
    for (;;) {
        const void *block;
        size_t len;
        la_int64_t off;
        int r = archive_read_data_block (u->a, &block, &len, &off);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            rc = s_fail (u, CAPSULE_ERR_ENV_CORRUPT, rel, archive_error_string (u->a));
            goto out_close;
        }
        if (off < 0 || (uint64_t)off > u->max_bytes || len > u->max_bytes - (uint64_t)off ||
            (uint64_t)off + len > u->max_bytes - u->stats.bytes) {
            rc = s_fail (u, CAPSULE_ERR_ENV_TOO_BIG, rel, NULL);
            goto out_close;
        }
        const uint8_t *p = block;
        size_t left = len;
        off_t at = (off_t)off;
        while (left > 0) {
            ssize_t n = pwrite (fd, p, left, at);
            if (n < 0 && errno == EINTR)
                continue;
            if (n < 0) {
                rc = s_fail (u, WD_ERR_IO, rel, strerror (errno));
                goto out_close;
            }
            p += n;
            left -= (size_t)n;
            at += n;
        }
        if ((uint64_t)off + len > end)
            end = (uint64_t)off + len;
    }
    if (end < size)
        end = size;
    if (ftruncate (fd, (off_t)end) != 0 || fchmod (fd, mode) != 0) {
        rc = s_fail (u, WD_ERR_IO, rel, strerror (errno));
        goto out_close;
    }
    u->stats.bytes += end;
    u->stats.files++;
    rc = WD_OK;

out_close:
    close (fd);
    return rc;
}

static int
s_unpack_hardlink (s_unpack_t *u, const char *rel, const char *target, int parent, const char *base)
{
    char *t = malloc (u->max_path + 1);
    if (!t)
        return WD_ERR_NOMEM;
    int rc = s_norm_path (target, t, u->max_path);
    if (rc != WD_OK || !*t) {
        rc = s_fail (u, CAPSULE_ERR_ENV_HARDLINK, rel, "target leaves the root");
        goto out_free;
    }
    const char *tbase;
    int tparent = s_open_parent (u->rootfd, t, false, &tbase);
    if (tparent < 0) {
        rc = s_fail (u, CAPSULE_ERR_ENV_HARDLINK, rel, "target is not an earlier file");
        goto out_free;
    }
    struct stat st;
    if (fstatat (tparent, tbase, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISREG (st.st_mode)) {
        close (tparent);
        rc = s_fail (u, CAPSULE_ERR_ENV_HARDLINK, rel, "target is not an earlier regular file");
        goto out_free;
    }
    if (linkat (tparent, tbase, parent, base, 0) != 0) {
        int err = errno;
        close (tparent);
        rc = s_fail (u, err == EEXIST ? CAPSULE_ERR_ENV_DUPLICATE : WD_ERR_IO, rel,
                     err == EEXIST ? NULL : strerror (err));
        goto out_free;
    }
    close (tparent);
    u->stats.files++;
    rc = WD_OK;

out_free:
    free (t);
    return rc;
}

static int
s_unpack_entry (s_unpack_t *u, struct archive_entry *e, char *rel)
{
    const char *name = archive_entry_pathname (e);
    int rc = s_norm_path (name, rel, u->max_path);
    if (rc != WD_OK)
        return s_fail (u, rc, name, NULL);
    const char *hardlink = archive_entry_hardlink (e);
    mode_t type = archive_entry_filetype (e);
    if (!hardlink) {
        if (type == AE_IFCHR || type == AE_IFBLK)
            return s_fail (u, CAPSULE_ERR_ENV_DEVICE, rel, NULL);
        if (type == AE_IFIFO)
            return s_fail (u, CAPSULE_ERR_ENV_FIFO, rel, NULL);
        if (type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK)
            return s_fail (u, CAPSULE_ERR_ENV_TYPE, rel, NULL);
    }
    if (!*rel) {
        /* The root itself ("./"): its mode is ours, not the archive's. */
        if (!hardlink && type == AE_IFDIR)
            return WD_OK;
        return s_fail (u, CAPSULE_ERR_ENV_NAME, name, "names the root");
    }
    if (type == AE_IFLNK && !hardlink) {
        const char *target = archive_entry_symlink (e);
        if (!s_symlink_ok (rel, target, u->max_path))
            return s_fail (u, CAPSULE_ERR_ENV_SYMLINK, rel, NULL);
    }
    const char *base;
    int parent = s_open_parent (u->rootfd, rel, true, &base);
    if (parent < 0)
        return s_fail (u, parent == WD_ERR_NOT_FOUND ? WD_ERR_IO : parent, rel, NULL);
    if (hardlink)
        rc = s_unpack_hardlink (u, rel, hardlink, parent, base);
    else if (type == AE_IFREG)
        rc = s_unpack_file (u, e, rel, parent, base);
    else if (type == AE_IFLNK) {
        if (symlinkat (archive_entry_symlink (e), parent, base) == 0) {
            u->stats.symlinks++;
            rc = WD_OK;
        } else if (errno == EEXIST)
            rc = s_fail (u, CAPSULE_ERR_ENV_DUPLICATE, rel, NULL);
        else
            rc = s_fail (u, WD_ERR_IO, rel, strerror (errno));
    } else {
        mode_t mode;
        rc = s_mode (u, e, rel, &mode);
        if (rc == WD_OK && mkdirat (parent, base, 0700) != 0) {
            struct stat st;
            if (errno != EEXIST)
                rc = s_fail (u, WD_ERR_IO, rel, strerror (errno));
            else if (fstatat (parent, base, &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISDIR (st.st_mode))
                rc = s_fail (u, CAPSULE_ERR_ENV_DUPLICATE, rel, NULL);
            /* else: made earlier as a parent, or listed twice: harmless */
        } else if (rc == WD_OK)
            u->stats.dirs++;
        if (rc == WD_OK)
            rc = s_note_dir (u, rel, mode);
    }
    close (parent);
    return rc;
}

static int
s_unpack (struct archive *a, const char *dest, const capsule_env_limits_t *limits,
          capsule_env_stats_t *stats, char *why, size_t why_len)
{
    s_unpack_t u = { .a = a, .rootfd = -1, .why = why, .why_len = why_len };
    s_limits (limits, &u.max_entries, &u.max_bytes, &u.max_path, &u.refuse_setid);
    if (stats)
        memset (stats, 0, sizeof *stats);

    bool created = false;
    if (mkdir (dest, 0755) == 0)
        created = true;
    else if (errno != EEXIST) {
        wd_err_why (why, why_len, "mkdir %s: %s", dest, strerror (errno));
        return WD_ERR_IO;
    }
    u.rootfd = open (dest, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (u.rootfd < 0) {
        wd_err_why (why, why_len, "%s: %s", dest, strerror (errno));
        return errno == ENOTDIR || errno == ELOOP ? CAPSULE_ERR_ENV_DEST : WD_ERR_IO;
    }
    int rc;
    if (!created) {
        int fd = dup (u.rootfd);
        DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
        if (!d) {
            if (fd >= 0)
                close (fd);
            close (u.rootfd);
            return WD_ERR_IO;
        }
        struct dirent *de;
        bool empty = true;
        while ((de = readdir (d)))
            if (strcmp (de->d_name, ".") != 0 && strcmp (de->d_name, "..") != 0)
                empty = false;
        closedir (d);
        if (!empty) {
            close (u.rootfd);
            wd_err_why (why, why_len, "%s is not empty", dest);
            return CAPSULE_ERR_ENV_DEST;
        }
    }

    char *rel = malloc (u.max_path + 1);
    rc = WD_ERR_NOMEM;
    if (!rel)
        goto out_fail;
    for (;;) {
        struct archive_entry *e;
        int r = archive_read_next_header (a, &e);
        if (r == ARCHIVE_EOF)
            break;
        if (r < ARCHIVE_WARN) {
            /* Nothing recognised at all: not a tar (or not gzip of one). */
            bool first = u.stats.entries == 0 && archive_format (a) == 0;
            rc = s_fail (&u, first ? CAPSULE_ERR_ENV_FORMAT : CAPSULE_ERR_ENV_CORRUPT, NULL,
                         archive_error_string (a));
            goto out_fail;
        }
        if (++u.stats.entries > u.max_entries) {
            rc = s_fail (&u, CAPSULE_ERR_ENV_ENTRIES, archive_entry_pathname (e), NULL);
            goto out_fail;
        }
        rc = s_unpack_entry (&u, e, rel);
        if (rc != WD_OK)
            goto out_fail;
    }
    rc = s_apply_dir_modes (&u);
    if (rc != WD_OK)
        goto out_fail;
    if (stats)
        *stats = u.stats;
    goto out_free;

out_fail:
    if (created) {
        close (u.rootfd);
        u.rootfd = -1;
        (void)capsule_env_remove_tree (dest, NULL, 0);
    } else
        (void)s_clear_dir (u.rootfd);
out_free:
    free (rel);
    for (size_t i = 0; i < u.ndirs; i++)
        free (u.dirs[i].path);
    free (u.dirs);
    if (u.rootfd >= 0)
        close (u.rootfd);
    return rc;
}

static struct archive *
s_reader (void)
{
    struct archive *a = archive_read_new ();
    if (!a)
        return NULL;
    if (archive_read_support_format_tar (a) != ARCHIVE_OK ||
        archive_read_support_filter_gzip (a) < ARCHIVE_WARN) {
        archive_read_free (a);
        return NULL;
    }
    return a;
}

int
capsule_env_unpack_fd (int fd, const char *dest, const capsule_env_limits_t *limits,
                       capsule_env_stats_t *stats, char *why, size_t why_len)
{
    assert (dest);
    struct archive *a = s_reader ();
    if (!a)
        return WD_ERR_NOMEM;
    int rc;
    if (archive_read_open_fd (a, fd, S_BLOCK) != ARCHIVE_OK) {
        rc = CAPSULE_ERR_ENV_FORMAT;
        wd_err_why (why, why_len, "%s: %s", capsule_strerror (rc), archive_error_string (a));
    } else
        rc = s_unpack (a, dest, limits, stats, why, why_len);
    archive_read_free (a);
    return rc;
}

int
capsule_env_unpack_buf (const void *buf, size_t len, const char *dest,
                        const capsule_env_limits_t *limits, capsule_env_stats_t *stats, char *why,
                        size_t why_len)
{
    assert (dest);
    assert (buf || len == 0);
    struct archive *a = s_reader ();
    if (!a)
        return WD_ERR_NOMEM;
    int rc;
    if (archive_read_open_memory (a, len ? buf : "", len) != ARCHIVE_OK) {
        rc = CAPSULE_ERR_ENV_FORMAT;
        wd_err_why (why, why_len, "%s: %s", capsule_strerror (rc), archive_error_string (a));
    } else
        rc = s_unpack (a, dest, limits, stats, why, why_len);
    archive_read_free (a);
    return rc;
}

/* --- Packing ------------------------------------------------------------------ */

typedef struct {
    struct archive *a;
    struct archive_entry *e;
    int outfd;
    crypto_hash_sha256_state hash;
    uint64_t max_entries, max_bytes, entries, bytes;
    size_t max_path;
    uint8_t *buf;
    char *why;
    size_t why_len;
} s_pack_t;

static la_ssize_t
s_pack_write (struct archive *a, void *arg, const void *buf, size_t len)
{
    s_pack_t *p = arg;
    const uint8_t *b = buf;
    size_t left = len;
    while (left > 0) {
        ssize_t n = write (p->outfd, b, left);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0) {
            archive_set_error (a, errno, "write: %s", strerror (errno));
            return -1;
        }
        b += n;
        left -= (size_t)n;
    }
    crypto_hash_sha256_update (&p->hash, buf, len);
    return (la_ssize_t)len;
}

static int
s_name_cmp (const void *a, const void *b)
{
    return strcmp (*(char *const *)a, *(char *const *)b);
}

static int
s_pack_fail (s_pack_t *p, int rc, const char *rel, const char *detail)
{
    wd_err_why (p->why, p->why_len, "%s: %s%s%s", rel, capsule_strerror (rc), detail ? ": " : "",
                detail ? detail : "");
    return rc;
}

static int
s_pack_dir (s_pack_t *p, int dirfd, char *rel, size_t rel_len);

static int
s_pack_header (s_pack_t *p, const char *rel, mode_t type, mode_t perm, uint64_t size,
               const char *symlink)
{
    archive_entry_clear (p->e);
    archive_entry_set_pathname (p->e, rel);
    archive_entry_set_filetype (p->e, type);
    archive_entry_set_perm (p->e, perm & 01777);
    archive_entry_set_uid (p->e, 0);
    archive_entry_set_gid (p->e, 0);
    archive_entry_set_mtime (p->e, 0, 0);
    archive_entry_set_size (p->e, (la_int64_t)size);
    if (symlink)
        archive_entry_set_symlink (p->e, symlink);
    if (archive_write_header (p->a, p->e) < ARCHIVE_WARN)
        return s_pack_fail (p, WD_ERR_IO, rel, archive_error_string (p->a));
    return WD_OK;
}

static int
s_pack_one (s_pack_t *p, int dirfd, const char *name, char *rel, size_t rel_len)
{
    size_t n = strlen (name);
    if (n > CAPSULE_ENV_MAX_COMPONENT || rel_len + (rel_len ? 1 : 0) + n > p->max_path)
        return s_pack_fail (p, CAPSULE_ERR_ENV_NAME, name, NULL);
    size_t len = rel_len;
    if (len)
        rel[len++] = '/';
    memcpy (rel + len, name, n + 1);
    len += n;
    if (++p->entries > p->max_entries)
        return s_pack_fail (p, CAPSULE_ERR_ENV_ENTRIES, rel, NULL);
    struct stat st;
    if (fstatat (dirfd, name, &st, AT_SYMLINK_NOFOLLOW) != 0)
        return s_pack_fail (p, WD_ERR_IO, rel, strerror (errno));
    int rc;
    if (S_ISDIR (st.st_mode)) {
        rc = s_pack_header (p, rel, AE_IFDIR, st.st_mode, 0, NULL);
        if (rc != WD_OK)
            return rc;
        int sub = openat (dirfd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (sub < 0)
            return s_pack_fail (p, WD_ERR_IO, rel, strerror (errno));
        rc = s_pack_dir (p, sub, rel, len);
        close (sub);
        return rc;
    }
    if (S_ISLNK (st.st_mode)) {
        char target[CAPSULE_ENV_DEFAULT_MAX_PATH * 4 + 1];
        ssize_t tn = readlinkat (dirfd, name, target, sizeof target);
        if (tn < 0)
            return s_pack_fail (p, WD_ERR_IO, rel, strerror (errno));
        if ((size_t)tn >= sizeof target)
            return s_pack_fail (p, CAPSULE_ERR_ENV_NAME, rel, "symlink target too long");
        target[tn] = '\0';
        if (!s_symlink_ok (rel, target, p->max_path))
            return s_pack_fail (p, CAPSULE_ERR_ENV_SYMLINK, rel, target);
        return s_pack_header (p, rel, AE_IFLNK, 0777, 0, target);
    }
    if (S_ISCHR (st.st_mode) || S_ISBLK (st.st_mode))
        return s_pack_fail (p, CAPSULE_ERR_ENV_DEVICE, rel, NULL);
    if (S_ISFIFO (st.st_mode))
        return s_pack_fail (p, CAPSULE_ERR_ENV_FIFO, rel, NULL);
    if (!S_ISREG (st.st_mode))
        return s_pack_fail (p, CAPSULE_ERR_ENV_TYPE, rel, NULL);

    uint64_t size = (uint64_t)st.st_size;
    if (size > p->max_bytes - p->bytes)
        return s_pack_fail (p, CAPSULE_ERR_ENV_TOO_BIG, rel, NULL);
    p->bytes += size;
    int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0)
        return s_pack_fail (p, WD_ERR_IO, rel, strerror (errno));
    rc = s_pack_header (p, rel, AE_IFREG, st.st_mode, size, NULL);
    uint64_t done = 0;
    while (rc == WD_OK && done < size) {
        size_t want = size - done < S_BLOCK ? (size_t)(size - done) : S_BLOCK;
        ssize_t r = read (fd, p->buf, want);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            rc = s_pack_fail (p, WD_ERR_IO, rel, r < 0 ? strerror (errno) : "file shrank");
            break;
        }
        if (archive_write_data (p->a, p->buf, (size_t)r) != r)
            rc = s_pack_fail (p, WD_ERR_IO, rel, archive_error_string (p->a));
        done += (uint64_t)r;
    }
    close (fd);
    return rc;
}

static int
s_pack_dir (s_pack_t *p, int dirfd, char *rel, size_t rel_len)
{
    int fd = dup (dirfd);
    DIR *d = fd >= 0 ? fdopendir (fd) : NULL;
    if (!d) {
        if (fd >= 0)
            close (fd);
        return s_pack_fail (p, WD_ERR_IO, rel_len ? rel : ".", strerror (errno));
    }
    char **names = NULL;
    size_t count = 0, cap = 0;
    int rc = WD_OK;
    struct dirent *e;
    while ((e = readdir (d))) {
        if (strcmp (e->d_name, ".") == 0 || strcmp (e->d_name, "..") == 0)
            continue;
        if (count == cap) {
            size_t ncap = cap ? cap * 2 : 32;
            char **nn = realloc (names, ncap * sizeof *nn);
            if (!nn) {
                rc = WD_ERR_NOMEM;
                break;
            }
            names = nn;
            cap = ncap;
        }
        if (!(names[count] = strdup (e->d_name))) {
            rc = WD_ERR_NOMEM;
            break;
        }
        count++;
    }
    closedir (d);
    if (rc == WD_OK && count)
        qsort (names, count, sizeof *names, s_name_cmp);
    for (size_t i = 0; i < count && rc == WD_OK; i++) {
        rc = s_pack_one (p, dirfd, names[i], rel, rel_len);
        rel[rel_len] = '\0';
    }
    for (size_t i = 0; i < count; i++)
        free (names[i]);
    free (names);
    return rc;
}

int
capsule_env_pack (const char *dir, int fd, const capsule_env_limits_t *limits,
                  uint8_t digest_out[32], char *why, size_t why_len)
{
    assert (dir);
    s_pack_t p = { .outfd = fd, .why = why, .why_len = why_len };
    bool refuse_setid;
    s_limits (limits, &p.max_entries, &p.max_bytes, &p.max_path, &refuse_setid);
    crypto_hash_sha256_init (&p.hash);
    int dirfd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dirfd < 0) {
        wd_err_why (why, why_len, "%s: %s", dir, strerror (errno));
        return WD_ERR_IO;
    }
    int rc = WD_ERR_NOMEM;
    char *rel = malloc (p.max_path + CAPSULE_ENV_MAX_COMPONENT + 2);
    p.buf = malloc (S_BLOCK);
    p.a = archive_write_new ();
    p.e = archive_entry_new ();
    if (!rel || !p.buf || !p.a || !p.e)
        goto out_free;
    rel[0] = '\0';
    rc = WD_ERR_IO;
    if (archive_write_set_format_pax_restricted (p.a) != ARCHIVE_OK ||
        archive_write_add_filter_none (p.a) != ARCHIVE_OK ||
        archive_write_open (p.a, &p, NULL, s_pack_write, NULL) != ARCHIVE_OK) {
        wd_err_why (why, why_len, "%s", archive_error_string (p.a));
        goto out_free;
    }
    rc = s_pack_dir (&p, dirfd, rel, 0);
    if (archive_write_close (p.a) != ARCHIVE_OK && rc == WD_OK)
        rc = s_pack_fail (&p, WD_ERR_IO, dir, archive_error_string (p.a));
    if (rc == WD_OK && digest_out)
        crypto_hash_sha256_final (&p.hash, digest_out);

out_free:
    if (p.e)
        archive_entry_free (p.e);
    if (p.a)
        archive_write_free (p.a);
    free (p.buf);
    free (rel);
    close (dirfd);
    return rc;
}
