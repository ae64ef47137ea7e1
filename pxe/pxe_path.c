/*
 * pxe_path: boot file names confined to the boot directory (see
 * pxe_path.h).
 */
#include "pxe_path.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/openat2.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

int
pxe_path_check (const char *name, char *out, size_t out_len)
{
    assert (name);
    assert (out && out_len);
    if (name[0] == '/')
        name++;
    if (name[0] == '/')
        return PXE_ERR_PATH_ABSOLUTE;
    size_t len = strlen (name);
    if (len == 0 || len > PXE_PATH_MAX || len >= out_len)
        return PXE_ERR_PATH_NAME;
    for (size_t i = 0; i < len; i++)
        if ((unsigned char)name[i] < 0x20 || (unsigned char)name[i] == 0x7f)
            return PXE_ERR_PATH_NAME;
    const char *p = name;
    for (;;) {
        const char *slash = strchr (p, '/');
        size_t clen = slash ? (size_t)(slash - p) : strlen (p);
        if (clen == 2 && p[0] == '.' && p[1] == '.')
            return PXE_ERR_PATH_DOTDOT;
        if (!slash)
            break;
        p = slash + 1;
    }
    memcpy (out, name, len + 1);
    return 0;
}

static int
s_errno_reason (int e)
{
    switch (e) {
        case ENOENT:
        case ENOTDIR:
            return PXE_ERR_PATH_NOT_FOUND;
        case ELOOP:
        case EXDEV:
            return PXE_ERR_PATH_ESCAPE;
        default:
            return WD_ERR_IO;
    }
}

/* Without openat2: every component opened with O_NOFOLLOW. */
static int
s_open_walk (int root_fd, const char *path, int *fd_out)
{
    char buf[PXE_PATH_MAX + 1];
    size_t len = strlen (path);
    if (len >= sizeof buf)
        return PXE_ERR_PATH_NAME;
    memcpy (buf, path, len + 1);
    int dir = root_fd, rc = 0;
    char *comp = buf;
    for (;;) {
        char *slash = strchr (comp, '/');
        if (!slash) {
            if (!*comp) {
                rc = PXE_ERR_PATH_NOT_REGULAR; /* a trailing '/' names a directory */
                break;
            }
            int fd = openat (dir, comp, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
            if (fd < 0)
                rc = s_errno_reason (errno);
            else
                *fd_out = fd;
            break;
        }
        *slash = '\0';
        if (*comp) {
            int next = openat (dir, comp, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
            if (next < 0) {
                rc = s_errno_reason (errno);
                break;
            }
            if (dir != root_fd)
                close (dir);
            dir = next;
        }
        comp = slash + 1;
    }
    if (dir != root_fd)
        close (dir);
    return rc;
}

int
pxe_path_open (int root_fd, const char *path, bool *no_openat2, int *fd_out, struct stat *st)
{
    assert (path && no_openat2 && fd_out && st);
    int fd = -1, rc = 0;
    if (!*no_openat2) {
        struct open_how how = {
            .flags = O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY,
            .resolve = RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS,
        };
        fd = (int)syscall (SYS_openat2, root_fd, path, &how, sizeof how);
        if (fd < 0 && (errno == ENOSYS || errno == EPERM)) /* EPERM: a seccomp filter */
            *no_openat2 = true;
        else if (fd < 0)
            rc = s_errno_reason (errno);
    }
    if (*no_openat2)
        rc = s_open_walk (root_fd, path, &fd);
    if (rc)
        return rc;
    if (fstat (fd, st) < 0 || !S_ISREG (st->st_mode)) {
        close (fd);
        return PXE_ERR_PATH_NOT_REGULAR;
    }
    *fd_out = fd;
    return 0;
}
