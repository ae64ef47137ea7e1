/*
 * Fuzz harness for the capsule task decoder (capsule_task_decode) and
 * opener (capsule_task_open). Neither may crash, leak or read out of
 * bounds; whatever is accepted must pass every task rule and be canonical
 * (encoding gives back the input body).
 *
 * Every input is tried as a body and as an envelope on the chain of
 * tests/vectors/capsule_records/records.txt; the task envelope of those
 * known answers must open (asserted).
 *
 * Seeds (corpus/capsule_task/, written by records_vectors.py --corpus): the
 * task body and envelope and a few broken bodies.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "capsule_task.h"
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
                        "937cbce109322f4d8edb72306ee05960652555aa313ea9be0983ca4071798aa6"))
        abort ();
    return 0;
}

static void
s_check (const capsule_task_t *t, const uint8_t *data, size_t size)
{
    assert (capsule_task_check (t, NULL, 0) == WD_OK);
    uint8_t *body;
    size_t len;
    int rc = capsule_task_encode (t, &body, &len);
    assert (rc == WD_OK);
    if (data)
        assert (len == size && memcmp (body, data, size) == 0);
    free (body);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    capsule_task_t t;
    if (capsule_task_decode (data, size, &t) == WD_OK)
        s_check (&t, data, size);

    uint8_t who[32], id[32], hash[32];
    int rc = capsule_task_open (data, size, s_chain, &t, who, id);
    wd_hash_sha256 (hash, data, size);
    if (rc == WD_OK) {
        s_check (&t, NULL, 0);
        assert (memcmp (id, hash, 32) == 0);
    }
    if (memcmp (hash, s_sample_id, 32) == 0)
        assert (rc == WD_OK);
    return 0;
}
