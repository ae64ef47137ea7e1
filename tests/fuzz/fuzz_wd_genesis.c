/*
 * Fuzz harness for wd_genesis_decode: it must not crash or read out of
 * bounds, and whatever it accepts must be the genesis's one encoding —
 * encoding the decoded genesis again gives back the input exactly, so the
 * chain id (SHA-256 of the file) names one cluster definition.
 */
#include <assert.h>
#include <sodium.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wd_genesis.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    return sodium_init () < 0 ? 1 : 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    wd_genesis_t *g;
    if (wd_genesis_decode (data, size, &g) != WD_OK)
        return 0;
    uint8_t *again;
    size_t len;
    wd_err_t err = wd_genesis_encode (g, &again, &len);
    assert (err == WD_OK);
    assert (len == size && memcmp (again, data, size) == 0);
    for (size_t i = 0; i < wd_genesis_node_count (g); i++)
        assert (wd_genesis_find_node (g, wd_genesis_node (g, i)->sign_pk) ==
                wd_genesis_node (g, i));
    free (again);
    wd_genesis_destroy (&g);
    return 0;
}
