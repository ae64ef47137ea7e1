/*
 * Fuzz harness for the receipt decoder (capsule_receipt_decode) and opener
 * (capsule_receipt_open). Neither may crash, leak or read out of bounds;
 * whatever is accepted must pass the receipt's rules and be canonical
 * (encoding gives back the input body).
 *
 * Every input is tried as a body and as an envelope on the chain of
 * tests/vectors/capsule_records/records.txt; the killed-by-wall receipt
 * envelope of those known answers must open (asserted).
 *
 * Seeds (corpus/capsule_receipt/, written by records_vectors.py --corpus):
 * both receipts as bodies and envelopes, a receipt with both an exit code
 * and a signal, one with an unknown kill reason.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_receipt.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint8_t s_chain[32];
static uint8_t s_sample_id[32];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    memset (s_chain, 0xc7, sizeof s_chain);
    if (!wd_hex_decode (s_sample_id, 32,
                        "00bb0d0c0d561de2a58be23825f2473392febf7029c36fbbc47646ea2d794b29"))
        abort ();
    return 0;
}

static void
s_check (const capsule_receipt_t *rc, const uint8_t *data, size_t size)
{
    assert (capsule_receipt_check (rc, NULL, 0) == WD_OK);
    assert (rc->ended >= rc->started);
    assert (rc->exit.has_code || rc->exit.has_signal ||
            rc->exit.killed != CAPSULE_RECEIPT_KILL_NONE);
    uint8_t *body;
    size_t len;
    int err = capsule_receipt_encode (rc, &body, &len);
    assert (err == WD_OK);
    if (data)
        assert (len == size && memcmp (body, data, size) == 0);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    capsule_receipt_t rc;
    if (capsule_receipt_decode (data, size, &rc) == WD_OK)
        s_check (&rc, data, size);

    uint8_t who[32], hash[32];
    int err = capsule_receipt_open (data, size, s_chain, &rc, who);
    if (err == WD_OK)
        s_check (&rc, NULL, 0);
    wd_hash_sha256 (hash, data, size);
    if (memcmp (hash, s_sample_id, 32) == 0)
        assert (err == WD_OK);
    return 0;
}
