/*
 * Fuzz harness for the offline verifier (capsule_verify, what
 * warden-verify runs): bundles and checkpoint notes from anyone. Nothing
 * may crash or read out of bounds; an accepted bundle must have passed
 * every step (its summary is complete); the same input gives the same
 * verdict twice (warden-verify's verdict is deterministic). The same bytes
 * are also read as a ledger anchor record (`pcr-checkpoint`) and as a
 * consistency-proof file (warden-verify --consistency). The seed corpus
 * holds real bundles written by wardend, an anchor record and a proof file.
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
    /* as a ledger anchor record and as a consistency-proof file */
    if (capsule_anchor_open (data, size, pk, "warden-pcr/n0/0102030405060708", &cp))
        assert (strcmp (cp.origin, "warden-pcr/n0/0102030405060708") == 0);
    uint8_t proof[64][32];
    size_t count = 0;
    uint64_t old_size, new_size;
    if (capsule_consistency_decode (data, size, &old_size, &new_size, proof, 64, &count))
        assert (old_size > 0 && old_size <= new_size && count <= 64);
    (void)capsule_msgpack_canonical (data, size);
    return 0;
}
