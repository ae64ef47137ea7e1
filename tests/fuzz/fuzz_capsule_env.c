/*
 * Fuzz harness for capsule_env_unpack_buf: every input is an environment
 * archive (tar, pax, GNU tar, or gzip of one) unpacked into <tmp>/root with
 * small limits. It must return WD_OK or one of the capsule codes with a
 * reason; on a refusal <tmp>/root must be gone again; and whatever the
 * archive says, nothing may ever appear beside <tmp>/root (where the seed
 * corpus's "../outside" escapes aim). An
 * accepted tree is packed with capsule_env_pack and the result must unpack
 * again (what the packer makes is always acceptable).
 *
 * The temporary directory is made once and removed at exit.
 */
#include <assert.h>
#include <dirent.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "capsule_env.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static char s_dir[] = "/tmp/fuzz-capsule-env-XXXXXX";
static char s_root[64], s_again[64], s_packed[64];

static void
s_cleanup (void)
{
    (void)capsule_env_remove_tree (s_dir, NULL, 0);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (!mkdtemp (s_dir))
        abort ();
    snprintf (s_root, sizeof s_root, "%s/root", s_dir);
    snprintf (s_again, sizeof s_again, "%s/again", s_dir);
    snprintf (s_packed, sizeof s_packed, "%s/packed.tar", s_dir);
    atexit (s_cleanup);
    return 0;
}

/* Names in s_dir other than the ones this harness makes. */
static size_t
s_strangers (void)
{
    DIR *d = opendir (s_dir);
    assert (d);
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir (d)))
        n += strcmp (e->d_name, ".") != 0 && strcmp (e->d_name, "..") != 0 &&
             strcmp (e->d_name, "root") != 0 && strcmp (e->d_name, "packed.tar") != 0;
    closedir (d);
    return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    const capsule_env_limits_t limits = { .max_entries = 64,
                                          .max_bytes = 1 << 20,
                                          .max_path = 256 };
    capsule_env_stats_t stats;
    char why[256] = "";
    int rc = capsule_env_unpack_buf (data, size, s_root, &limits, &stats, why, sizeof why);
    assert (rc == WD_OK || (rc > CAPSULE_ERR_FIRST_ && rc < CAPSULE_ERR_LAST_));
    assert (rc == WD_OK || why[0]);
    assert (s_strangers () == 0);
    if (rc != WD_OK) {
        assert (access (s_root, F_OK) != 0);
        return 0;
    }
    assert (stats.entries <= limits.max_entries && stats.bytes <= limits.max_bytes);

    int fd = open (s_packed, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    assert (fd >= 0);
    rc = capsule_env_pack (s_root, fd, &limits, NULL, why, sizeof why);
    /* The unpacked tree's directory modes may forbid reading it back (0000
       directories are the archive's right); anything else must pack. */
    if (rc == WD_OK) {
        assert (lseek (fd, 0, SEEK_SET) == 0);
        rc = capsule_env_unpack_fd (fd, s_again, &limits, NULL, why, sizeof why);
        if (rc != WD_OK) {
            fprintf (stderr, "repack refused: %s\n", why);
            abort ();
        }
        (void)capsule_env_remove_tree (s_again, NULL, 0);
    }
    close (fd);
    (void)capsule_env_remove_tree (s_root, NULL, 0);
    assert (access (s_root, F_OK) != 0);
    return 0;
}
