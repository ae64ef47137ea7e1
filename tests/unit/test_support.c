/*
 * Helpers shared by the unit tests (see test_support.h).
 */
#include "test_support.h"

#include <sodium.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "wd_hash.h"

uint8_t *
test_vector_hex (const char *file, const char *name, size_t *len)
{
    char path[512];
    snprintf (path, sizeof path, "%s/%s", WARDEN_VECTORS_DIR, file);
    FILE *f = fopen (path, "r");
    if (!f) {
        fprintf (stderr, "cannot open %s\n", path);
        abort ();
    }
    char line[8192];
    size_t name_len = strlen (name);
    while (fgets (line, sizeof line, f)) {
        if (strncmp (line, name, name_len) != 0 || line[name_len] != '=')
            continue;
        char *hex = line + name_len + 1;
        hex[strcspn (hex, "\r\n")] = '\0';
        *len = strlen (hex) / 2;
        uint8_t *out = malloc (*len + 1);
        if (!out || !wd_hex_decode (out, *len, hex)) {
            fprintf (stderr, "%s: bad hex for %s\n", path, name);
            abort ();
        }
        fclose (f);
        return out;
    }
    fprintf (stderr, "%s: no entry %s\n", path, name);
    abort ();
}

uint8_t *
test_read_file (const char *path, size_t *len)
{
    FILE *f = fopen (path, "rb");
    if (!f || fseek (f, 0, SEEK_END) != 0) {
        fprintf (stderr, "cannot read %s\n", path);
        abort ();
    }
    long size = ftell (f);
    rewind (f);
    uint8_t *data = size >= 0 ? malloc ((size_t)size + 1) : NULL;
    if (!data || fread (data, 1, (size_t)size, f) != (size_t)size) {
        fprintf (stderr, "cannot read %s\n", path);
        abort ();
    }
    fclose (f);
    data[size] = '\0';
    *len = (size_t)size;
    return data;
}

void
test_write_file (const char *dir, const char *name, const void *data, size_t len)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen (path, "wb");
    if (!f || fwrite (data, 1, len, f) != len || fclose (f) != 0) {
        fprintf (stderr, "cannot write %s\n", path);
        abort ();
    }
}

int
test_sign_fn (void *secret_key, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, secret_key);
    return 0;
}

void
test_keypair_from_vector (const char *file, uint8_t public_key[32], uint8_t secret_key[64])
{
    size_t len;
    uint8_t *seed = test_vector_hex (file, "seed", &len);
    if (len != 32) {
        fprintf (stderr, "%s: seed is not 32 bytes\n", file);
        abort ();
    }
    crypto_sign_seed_keypair (public_key, secret_key, seed);
    free (seed);
}

static char s_tmpdir[64];

const char *
test_tmpdir (void)
{
    if (!s_tmpdir[0]) {
        snprintf (s_tmpdir, sizeof s_tmpdir, "/tmp/warden-test-XXXXXX");
        if (!mkdtemp (s_tmpdir))
            abort ();
    }
    return s_tmpdir;
}

void
test_tmpdir_remove (void)
{
    if (s_tmpdir[0]) {
        char cmd[128];
        snprintf (cmd, sizeof cmd, "rm -rf '%s'", s_tmpdir);
        if (system (cmd) != 0)
            fprintf (stderr, "could not remove %s\n", s_tmpdir);
        s_tmpdir[0] = '\0';
    }
}

int
test_tmpdir_teardown (void **state)
{
    (void)state;
    test_tmpdir_remove ();
    return 0;
}
