/*
 * Helpers shared by the unit tests: known-answer vector files and temporary
 * directories.
 */
#ifndef TEST_SUPPORT_H
#define TEST_SUPPORT_H

#include <stddef.h>
#include <stdint.h>

/* Reads the hex value of `name=...` from a vector file in tests/vectors into
   a malloc'ed buffer (caller frees); *len gets its size. Aborts the test
   program when the file or the name is missing. */
uint8_t *
test_vector_hex (const char *file, const char *name, size_t *len);

/* Reads a whole file into a malloc'ed, NUL-terminated buffer (caller
   frees); *len gets its size. Aborts the test program when it cannot. */
uint8_t *
test_read_file (const char *path, size_t *len);

/* Writes len bytes to dir/name (created or truncated). Aborts the test
   program when it cannot. */
void
test_write_file (const char *dir, const char *name, const void *data, size_t len);

/* A wd_sign_fn for tests: signs the digest with the 64-byte Ed25519
   secret key passed as ctx. Always returns 0. */
int
test_sign_fn (void *secret_key, const uint8_t digest[32], uint8_t sig[64]);

/* Derives an Ed25519 key pair from the 32-byte `seed` entry of a vector
   file (aborts like test_vector_hex when it is missing). */
void
test_keypair_from_vector (const char *file, uint8_t public_key[32], uint8_t secret_key[64]);

/* Creates a fresh directory under /tmp and returns its path (static
   storage, one per process); test_tmpdir_remove deletes it and everything
   in it. */
const char *
test_tmpdir (void);
void
test_tmpdir_remove (void);
/* A cmocka group teardown that removes the temporary directory. */
int
test_tmpdir_teardown (void **state);

#endif
