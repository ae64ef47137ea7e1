/*
 * Fuzz harness for attest_ima's binary parser: the first input byte picks the
 * chunk size, the rest is a kernel binary list (binary_runtime_measurements).
 * The checks are shared with the other form (fuzz_attest_ima_common.h):
 * documented codes only, chunking and incremental replay change nothing,
 * and what the writers give back replays to the same registers.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_attest_ima_common.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    s_fuzz_list (ATTEST_IMA_BINARY, data, size);
    return 0;
}
