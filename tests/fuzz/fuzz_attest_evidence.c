/*
 * Fuzz harness for the evidence decoder (attest_evidence_decode) and the
 * verifier's entry point (attest_evidence_open). Neither may crash, leak or
 * read out of bounds; whatever the decoder accepts must be canonical
 * (encoding the decoded value gives back the input bytes), and whatever
 * opens must have replayed to the registers it claims.
 *
 * Every input is tried as a body and as an envelope. The envelope is opened
 * as the known answers of tests/vectors/evidence/evidence.txt expect it
 * (chain, attester, epoch 7 with its block seed, no saved state, any time),
 * so the sealed node evidence in the corpus opens (asserted: an opener that
 * rejects everything cannot pass unnoticed).
 *
 * Seeds (corpus/attest_evidence/, written by evidence_vectors.py --corpus):
 * the node and host bodies and envelopes, and a few broken bodies.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_evidence.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* tests/vectors/evidence/evidence.txt: chain, attester, block_seed, node_id. */
static const char s_chain_hex[] =
    "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4";
static const char s_block_seed_hex[] =
    "5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e5e";

static uint8_t s_chain[32], s_attester[32], s_block_seed[32], s_node_id[32];

static bool
s_key_fn (void *ctx, const uint8_t id[32], char prot[WD_CERT_PROTECTION_MAX + 1])
{
    (void)ctx;
    if (memcmp (id, s_attester, 32) != 0)
        return false;
    memcpy (prot, "software", 9);
    return true;
}

static bool
s_seed_fn (void *ctx, uint64_t epoch, uint8_t seed[32])
{
    (void)ctx;
    if (epoch != 7)
        return false;
    memcpy (seed, s_block_seed, 32);
    return true;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    uint8_t seed[32], sk[64];
    for (int i = 0; i < 32; i++)
        seed[i] = (uint8_t)(i + 1);
    crypto_sign_seed_keypair (s_attester, sk, seed);
    if (!wd_hex_decode (s_chain, 32, s_chain_hex) ||
        !wd_hex_decode (s_block_seed, 32, s_block_seed_hex) ||
        !wd_hex_decode (s_node_id, 32,
                        "97a49b165dd9463db50dc4e9121b5174293965bcc6ee6cf921b9d6eb1ca8b74c"))
        abort ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    attest_evidence_t *ev = malloc (sizeof *ev);
    if (!ev)
        abort ();
    if (attest_evidence_decode (data, size, ev) == WD_OK) {
        uint8_t *body;
        size_t len;
        int rc = attest_evidence_encode (ev, &body, &len);
        assert (rc == WD_OK && len == size && memcmp (body, data, size) == 0);
        free (body);
    }

    static const uint8_t zero[32];
    attest_subject_t subject = { .kind = ATTEST_SUBJECT_NODE };
    memcpy (subject.node, s_attester, 32);
    attest_evidence_expect_t x = { .chain = s_chain,
                                   .key_fn = s_key_fn,
                                   .subject = &subject,
                                   .seed_fn = s_seed_fn,
                                   .prev = zero,
                                   .now = 1767225600,
                                   .max_age = UINT64_MAX,
                                   .max_skew = UINT64_MAX };
    uint8_t id[32], hash[32];
    attest_ima_state_t after;
    int rc = attest_evidence_open (data, size, &x, ev, id, &after);
    wd_hash_sha256 (hash, data, size);
    if (rc == WD_OK) {
        assert (memcmp (id, hash, 32) == 0);
        if (ev->has_log) {
            assert (memcmp (after.sha256, ev->log.sha256, 32) == 0);
            assert (after.offset == ev->log.records_len);
        }
    }
    if (memcmp (hash, s_node_id, 32) == 0)
        assert (rc == WD_OK);
    free (ev);
    return 0;
}
