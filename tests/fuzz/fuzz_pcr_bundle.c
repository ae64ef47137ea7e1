/*
 * Fuzz harness for the offline verifier (capsule_verify, what
 * warden-verify runs): bundles and checkpoint notes from anyone. Nothing
 * may crash or read out of bounds; an accepted bundle must have passed
 * every step (its summary is complete); the same input gives the same
 * verdict twice (warden-verify's verdict is deterministic). The seed corpus
 * holds real bundles written by wardend.
 */
#include <assert.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capsule_verify.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sodium_init () < 0)
        return 0;
    capsule_bundle_info_t info;
    char detail[256];
    capsule_verify_t v =
        capsule_bundle_verify (data, size, NULL, 0, NULL, 0, &info, detail, sizeof detail);
    assert (v < CAPSULE_VERIFY_LAST_);
    if (v == CAPSULE_VERIFY_OK) {
        assert (info.tree_size > info.index);
        assert (strlen (info.sha256) == 64 && info.origin[0]);
    }
    assert (capsule_bundle_verify (data, size, NULL, 0, NULL, 0, NULL, NULL, 0) == v);
    /* the same bytes as a checkpoint note under an arbitrary key */
    static const uint8_t pk[32] = { 1 };
    capsule_checkpoint_t cp;
    capsule_verify_t c = capsule_checkpoint_open ((const char *)data, size, pk, &cp);
    assert (c == CAPSULE_VERIFY_OK || c == CAPSULE_VERIFY_CHECKPOINT_FORMAT ||
            c == CAPSULE_VERIFY_CHECKPOINT_KEY || c == CAPSULE_VERIFY_CHECKPOINT_SIGNATURE);
    (void)capsule_msgpack_canonical (data, size);
    return 0;
}
