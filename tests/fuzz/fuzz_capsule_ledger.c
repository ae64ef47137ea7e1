/*
 * Fuzz harness for the ledger export decoder of `warden-verify ledger`
 * (capsule_ledger): export files from anyone. The genesis the verifier is
 * given is the one the input itself embeds (when it has one), so mutations
 * reach the blocks, records and certificates. Nothing may crash or read out
 * of bounds; the verdict is in the table; an accepted export has every
 * block counted and its chain id is SHA-256 of the genesis; the same input
 * gives the same verdict twice. The seed corpus holds real exports made by
 * cons_ledger_export (tests/unit/test_capsule_ledger.c builds such chains),
 * a VRF chain of v2 blocks (vrf_*: tests/vectors/ledger_vrf.txt, whose
 * claims reach the VRF and sortition checks) and damaged copies.
 */
#include <assert.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include "capsule_ledger.h"
#include "capsule_mp.h"
#include "capsule_verify.h"

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (sodium_init () < 0)
        return 0;
    const uint8_t *genesis = data;
    size_t genesis_len = size;
    capsule_mp_t x = { data, data + size }, g;
    if (capsule_msgpack_canonical (data, size) && capsule_mp_get (x, "genesis", &g))
        (void)capsule_mp_bin (g, &genesis, &genesis_len);
    capsule_ledger_info_t info;
    char detail[256];
    capsule_ledger_verdict_t v =
        capsule_ledger_verify (data, size, genesis, genesis_len, &info, detail, sizeof detail);
    assert (v < CAPSULE_LEDGER_LAST_);
    assert (strlen (detail) < sizeof detail);
    if (v == CAPSULE_LEDGER_OK) {
        uint8_t chain[32];
        crypto_hash_sha256 (chain, genesis, genesis_len);
        assert (memcmp (chain, info.chain, 32) == 0);
        assert (info.bad_height == 0 && info.weights_unchecked <= info.blocks);
    } else
        assert (info.blocks == (info.bad_height ? info.bad_height - 1 : 0));
    assert (capsule_ledger_verify (data, size, genesis, genesis_len, NULL, NULL, 0) == v);
    return 0;
}
