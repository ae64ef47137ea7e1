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
