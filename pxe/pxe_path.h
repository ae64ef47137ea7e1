/*
 * pxe_path: confinement of requested boot file names to the boot
 * directory, shared by the HTTP boot server (pxe_http) and the approved
 * image set (pxe_images). A name is checked as text first (one leading '/'
 * dropped, nothing else absolute, no '..' component, no control
 * character), then opened relative to the boot directory's descriptor with
 * openat2(RESOLVE_BENEATH | RESOLVE_NO_MAGICLINKS): a symlink inside the
 * directory is followed, one that leads out of it is refused. Where openat2
 * is missing or refused by a seccomp filter the path is walked one
 * component at a time with O_NOFOLLOW (no symlink followed at all). These
 * are the rules pxe_tftp applies too (see the "TFTP" section of
 * docs/PROTOCOL.md, "Path confinement").
 */
#ifndef PXE_PATH_H
#define PXE_PATH_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>

#include "pxe_err.h"

#define PXE_PATH_MAX 255 /* longest relative path accepted */

/* Checks a requested name and writes the relative path to open beneath
   the boot directory into out (out_len bytes). Returns 0 or
   PXE_ERR_PATH_NAME / _ABSOLUTE / _DOTDOT. */
int __attribute__ ((warn_unused_result))
pxe_path_check (const char *name, char *out, size_t out_len);

/* Opens path (already through pxe_path_check) read-only beneath root_fd
   and checks that it is a regular file; *st gets its fstat. *no_openat2 is
   set to true when openat2 is unavailable (and then used for later calls).
   Returns 0 with *fd_out open (caller closes), or PXE_ERR_PATH_NOT_FOUND /
   _ESCAPE / _NOT_REGULAR / WD_ERR_IO. */
int __attribute__ ((warn_unused_result))
pxe_path_open (int root_fd, const char *path, bool *no_openat2, int *fd_out, struct stat *st);

#endif
