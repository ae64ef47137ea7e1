/*
 * capsule_env: environment archives (DESIGN.md §9, docs/PROTOCOL.md
 * "Environment archives"). An environment is a root file system packed as
 * a POSIX tar (pax, ustar or GNU tar; plain or gzip-compressed) and carried
 * in an "env" capsule. The executor unpacks it into a fresh directory that
 * the sandbox mounts read-only as /.
 *
 * The archive is outside input. libarchive parses it; the files are created
 * by this class itself with openat/mkdirat/symlinkat/linkat relative to the
 * destination's directory descriptor, every path component opened with
 * O_NOFOLLOW, so extraction never follows a symlink and never depends on the
 * working directory. Refused, each with its own result code: absolute paths,
 * ".." components, overlong names, paths through a symlink or a file,
 * symlinks whose target leaves the root, hard links to anything but an
 * earlier regular file of the archive, device nodes, fifos, sockets, more
 * entries or more bytes than the limits, the same path twice. setuid and
 * setgid bits are stripped (counted in the stats) unless the limits ask to
 * refuse them. Owners, times, xattrs and ACLs in the archive are ignored:
 * files belong to the unpacking user, mtime is the unpack time.
 *
 * capsule_env_pack builds a deterministic archive from a directory (for
 * capsule-submit --env DIR and tests): pax tar, entries sorted by path
 * bytes, mtime 0, uid/gid 0, no user or group names, so the same tree gives
 * the same bytes and the same capsule digest.
 */
#ifndef CAPSULE_ENV_H
#define CAPSULE_ENV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "capsule_err.h"

/* Defaults used when a limit is 0. */
#define CAPSULE_ENV_DEFAULT_MAX_ENTRIES 100000
#define CAPSULE_ENV_DEFAULT_MAX_BYTES   (1ULL << 30) /* 1 GiB of file content */
#define CAPSULE_ENV_DEFAULT_MAX_PATH    1024         /* bytes in an entry path */
#define CAPSULE_ENV_MAX_COMPONENT       255          /* bytes in one path component */

typedef struct {
    uint64_t max_entries; /* archive entries (0: default) */
    uint64_t max_bytes;   /* sum of regular file sizes, sparse holes count (0: default) */
    size_t max_path;      /* entry path and link target length (0: default) */
    bool refuse_setid;    /* refuse setuid/setgid entries instead of stripping the bits */
} capsule_env_limits_t;

typedef struct {
    uint64_t entries;        /* entries read */
    uint64_t files;          /* regular files created (hard links included) */
    uint64_t dirs;           /* directories created */
    uint64_t symlinks;       /* symlinks created */
    uint64_t bytes;          /* file content bytes */
    uint64_t setid_stripped; /* entries whose setuid/setgid bits were removed */
} capsule_env_stats_t;

/* Unpacks the archive read from fd (tar, optionally gzip) into dest, which
   must not exist (it is created, mode 0755) or be an empty directory.
   limits and stats may be NULL. On failure everything created under dest
   is removed again (dest itself too when this call created it). Returns
   WD_OK or a CAPSULE_ERR_ENV_* reason, with the entry named in why;
   WD_ERR_IO for a local failure (disk full, permissions). */
int __attribute__ ((warn_unused_result))
capsule_env_unpack_fd (int fd, const char *dest, const capsule_env_limits_t *limits,
                       capsule_env_stats_t *stats, char *why, size_t why_len);

/* The same for an archive in memory. */
int __attribute__ ((warn_unused_result))
capsule_env_unpack_buf (const void *buf, size_t len, const char *dest,
                        const capsule_env_limits_t *limits, capsule_env_stats_t *stats, char *why,
                        size_t why_len);

/* Writes a deterministic uncompressed pax tar of the tree under dir to fd
   (regular files, directories and symlinks; paths relative to dir, without
   a leading "./"; setuid/setgid bits dropped). Symlinks are stored, never
   followed. Refuses what unpack would refuse (device nodes, fifos, sockets:
   CAPSULE_ERR_ENV_DEVICE / CAPSULE_ERR_ENV_FIFO / CAPSULE_ERR_ENV_TYPE;
   limits) so a packed tree always unpacks. digest_out (may be NULL)
   receives the SHA-256 of the bytes written. Returns WD_OK, a reason, or
   WD_ERR_IO, with the path in why. */
int __attribute__ ((warn_unused_result))
capsule_env_pack (const char *dir, int fd, const capsule_env_limits_t *limits,
                  uint8_t digest_out[32], char *why, size_t why_len);

/* Removes the tree at path (an unpacked environment, or any directory)
   without following symlinks. A missing path is not an error. Returns WD_OK
   or WD_ERR_IO with the path in why. */
int
capsule_env_remove_tree (const char *path, char *why, size_t why_len);

#endif
