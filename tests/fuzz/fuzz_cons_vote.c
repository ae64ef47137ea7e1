/*
 * Fuzz harness for the agreement's decoders (cons_vote.h, cons_agree.h):
 * message envelopes (cons_msg_decode), the three message bodies, commit
 * certificates, equivocation evidence and the saved state. None may crash or
 * read out of bounds, and whatever they accept must be canonical: encoding
 * the decoded value again gives back the input bytes exactly.
 *
 * Every decoder runs on every input (as in fuzz_wd_envelope.c): the seeds
 * are plain records from tests/vectors/agree.txt plus a few broken ones, and
 * the decoders share the canonical-msgpack front end. An accepted envelope's
 * signature is also checked, under the chain of the known answers; the
 * known-answer prevote must decode and verify, so a decoder that rejects
 * everything cannot pass unnoticed.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cons_agree.h"
#include "cons_vote.h"
#include "wd_hash.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

#define S_BLOCK_MAX 1024

/* tests/vectors/agree.txt: chain and prevote. */
static const char s_chain_hex[] =
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5";
static const char s_prevote_hex[] =
    "86a4626f6479c43b84a5626c6f636bc42011111111111111111111111111111111111111111111111111111111"
    "11111111a668656967687407a5726f756e6401a17601a5636861696ec420a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5"
    "a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a5a466726f6dc4208a88e3dd7409f195fd52db2d3cba5d72ca6709bf1d"
    "94121bf3748801b40f6f5ca3736967c440f06477e9bf2368a0d80dc1cccc442b84ae34823c9c4434f0824b96c2"
    "9b0195b4dade31cce6c0845da401f661c1ff370f2a74c03b4446b9ec99f023cd6944960ea474797065a7707265"
    "766f7465a17601";

static uint8_t s_chain[WD_CHAIN_ID_LEN];

static void
s_same (const uint8_t *data, size_t size, uint8_t *out, size_t out_len)
{
    assert (out_len == size);
    assert (memcmp (out, data, size) == 0);
    free (out);
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    if (!wd_hex_decode (s_chain, sizeof s_chain, s_chain_hex))
        abort ();
    uint8_t prevote[(sizeof s_prevote_hex - 1) / 2];
    wd_envelope_t env;
    cons_msg_t msg;
    if (!wd_hex_decode (prevote, sizeof prevote, s_prevote_hex) ||
        cons_msg_decode (prevote, sizeof prevote, s_chain, S_BLOCK_MAX, &env, &msg) != WD_OK ||
        cons_msg_verify (&env, NULL, NULL) != WD_OK || msg.kind != CONS_PREVOTE)
        abort ();
    return 0;
}

static void
s_body (cons_kind_t kind, const uint8_t *data, size_t size)
{
    cons_msg_t msg;
    if (cons_msg_decode_body (kind, data, size, S_BLOCK_MAX, &msg) != WD_OK)
        return;
    assert (msg.kind == kind);
    size_t len;
    s_same (data, size, cons_msg_encode_body (&msg, &len), len);
    uint8_t want[32], got[32];
    cons_msg_digest (&msg, s_chain, got);
    wd_envelope_digest (want, cons_kind_type (kind), s_chain, data, size);
    assert (memcmp (want, got, 32) == 0);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    /* Envelopes. */
    wd_envelope_t env;
    cons_msg_t msg;
    if (cons_msg_decode (data, size, s_chain, S_BLOCK_MAX, &env, &msg) == WD_OK) {
        uint8_t *out;
        size_t len;
        wd_envelope_encode (&env, &out, &len);
        s_same (data, size, out, len);
        int rc = cons_msg_verify (&env, NULL, NULL);
        assert (rc == WD_OK || rc == WD_ERR_BAD_SIGNATURE);
    }
    /* Bodies of each kind. */
    for (int k = CONS_PROPOSAL; k <= CONS_PRECOMMIT; k++)
        s_body ((cons_kind_t)k, data, size);
    /* Certificates. */
    static cons_cert_sig_t sigs[CONS_VALIDATORS_MAX];
    cons_cert_t cert;
    if (cons_cert_decode (data, size, &cert, sigs, CONS_VALIDATORS_MAX) == WD_OK) {
        size_t len;
        s_same (data, size, cons_cert_encode (&cert, &len), len);
    }
    /* Evidence. */
    cons_evidence_t ev;
    if (cons_evidence_decode (data, size, &ev) == WD_OK) {
        size_t len;
        s_same (data, size, cons_evidence_encode (&ev, &len), len);
        int rc = cons_evidence_verify (&ev, s_chain, NULL, NULL);
        assert (rc == WD_OK || rc == WD_ERR_BAD_SIGNATURE);
    }
    /* Saved state. */
    cons_agree_saved_t saved;
    if (cons_agree_saved_decode (data, size, S_BLOCK_MAX, &saved) == WD_OK) {
        size_t len;
        s_same (data, size, cons_agree_saved_encode (&saved, &len), len);
    }
    return 0;
}
