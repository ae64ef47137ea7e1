/*
 * Fuzz harness for the decoders of signed data and process messages:
 * wd_envelope_decode / _verify / _open, wd_cert_open, and the fixed-shape
 * body decoders of wd_msg.h. None may crash or read out of bounds, and
 * whatever they accept must be canonical: encoding the decoded value again
 * gives back the input bytes exactly (decode then encode is the identity),
 * which is what lets an id or a signature over the bytes stand for the value.
 *
 * Every decoder runs on every input rather than one chosen by a leading
 * selector byte: the seeds stay plain envelopes, certificates and message
 * bodies (tests/vectors/envelope.txt, bodies wardend really sends), any
 * captured envelope can be dropped into the corpus as it is, and the decoders
 * share the canonical-msgpack front end, so what the fuzzer learns about one
 * shape helps the others. The cost is small: only inputs that decode as an
 * envelope reach a signature check.
 *
 * Verification uses a fixed chain, the known-answer chain of
 * tests/vectors/envelope.txt, and the certificates' all-zero chain; the
 * known-answer envelope itself must verify, so a verifier that rejects
 * everything cannot pass unnoticed.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "wd_cert.h"
#include "wd_envelope.h"
#include "wd_hash.h"
#include "wd_msg.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

/* tests/vectors/envelope.txt: chain and envelope. */
static const char s_chain_hex[] =
    "c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4";
static const char s_envelope_hex[] =
    "86a4626f6479c41f83a668656967687407a369647392c4020102d0d8a46e6f7465a568656c6c6fa5636861696e"
    "c420c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4c4a466726f6dc42079b5562e"
    "8fe654f94078b112e8a98ba7901f853ae695bed7e0e3910bad049664a3736967c440c491290aa5a3b1f65365a3"
    "f313724969139ed18c44dfaab202aa9edf7bda5f0b3fa23d6c113eedd658222a52e6226f4689aca428a3d877c9"
    "d9e20f422558de03a474797065ab746573742d7265636f7264a17601";

static uint8_t s_chain[WD_CHAIN_ID_LEN];
static uint8_t s_envelope[(sizeof s_envelope_hex - 1) / 2];

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    if (!wd_hex_decode (s_chain, sizeof s_chain, s_chain_hex) ||
        !wd_hex_decode (s_envelope, sizeof s_envelope, s_envelope_hex))
        abort ();
    return 0;
}

static void
s_assert_same (const uint8_t *data, size_t size, const uint8_t *out, size_t out_len)
{
    assert (out_len == size);
    assert (memcmp (out, data, size) == 0);
}

/* Decode, verify against both chains, open, re-encode. Returns whether the
   input decoded as an envelope (and fills *env). */
static bool
s_check_envelope (const uint8_t *data, size_t size, wd_envelope_t *env)
{
    wd_err_t err = wd_envelope_decode (data, size, env);
    if (err != WD_OK) {
        /* open must fail for the same reason, before any signature check */
        wd_envelope_t again;
        assert (wd_envelope_open (data, size, s_chain, NULL, &again) == err);
        return false;
    }
    assert (wd_envelope_type_valid (env->type));
    assert (env->body_len <= WD_ENVELOPE_BODY_MAX);
    assert (env->body >= data && env->body_len <= size &&
            (size_t)(env->body - data) <= size - env->body_len);

    uint8_t *out;
    size_t out_len;
    wd_envelope_encode (env, &out, &out_len);
    s_assert_same (data, size, out, out_len);
    free (out);

    bool on_chain = sodium_memcmp (env->chain, s_chain, WD_CHAIN_ID_LEN) == 0;
    bool no_chain = sodium_memcmp (env->chain, wd_cert_no_chain, WD_CHAIN_ID_LEN) == 0;
    wd_err_t verified = wd_envelope_verify (env, s_chain, NULL);
    assert (verified == WD_OK || verified == WD_ERR_WRONG_CHAIN ||
            verified == WD_ERR_BAD_SIGNATURE);
    assert ((verified == WD_ERR_WRONG_CHAIN) == !on_chain);
    if (size == sizeof s_envelope && memcmp (data, s_envelope, size) == 0)
        assert (verified == WD_OK);

    /* With an expected type: the chain is checked first, then the type. */
    wd_err_t typed = wd_envelope_verify (env, s_chain, "test-record");
    if (verified == WD_ERR_WRONG_CHAIN)
        assert (typed == WD_ERR_WRONG_CHAIN);
    else if (strcmp (env->type, "test-record") != 0)
        assert (typed == WD_ERR_UNEXPECTED_TYPE);
    else
        assert (typed == verified);

    /* open = decode + verify, with the same answer and the same fields. */
    wd_envelope_t opened;
    assert (wd_envelope_open (data, size, s_chain, NULL, &opened) == verified);
    if (verified == WD_OK) {
        assert (strcmp (opened.type, env->type) == 0 && opened.body == env->body &&
                opened.body_len == env->body_len);
        assert (memcmp (opened.chain, env->chain, WD_CHAIN_ID_LEN) == 0 &&
                memcmp (opened.from, env->from, WD_PUBKEY_LEN) == 0 &&
                memcmp (opened.sig, env->sig, WD_SIG_LEN) == 0);
    }

    wd_err_t zero = wd_envelope_verify (env, wd_cert_no_chain, NULL);
    assert ((zero == WD_ERR_WRONG_CHAIN) == !no_chain);
    return true;
}

static void
s_check_cert (const uint8_t *data, size_t size, bool is_envelope, const wd_envelope_t *env)
{
    wd_cert_t cert;
    wd_err_t err = wd_cert_open (data, size, &cert);
    if (err != WD_OK)
        return;
    /* Accepted: a self-signed node-cert envelope on the zero chain. */
    assert (size <= WD_CERT_MAX_BYTES);
    assert (is_envelope && strcmp (env->type, WD_CERT_TYPE) == 0);
    assert (sodium_memcmp (env->chain, wd_cert_no_chain, WD_CHAIN_ID_LEN) == 0);
    assert (sodium_memcmp (env->from, cert.sign_pk, WD_PUBKEY_LEN) == 0);
    assert (wd_envelope_verify (env, wd_cert_no_chain, WD_CERT_TYPE) == WD_OK);
    assert (wd_cert_name_valid (cert.name));
    assert (cert.created != 0 && cert.key_protection[0] != '\0');
}

/* The wd_msg.h body decoders; each accepted body must re-encode to itself. */
static void
s_check_messages (const uint8_t *data, size_t size)
{
    uint8_t small[WD_MSG_SMALL_MAX];
    uint8_t *out;
    size_t out_len;

    uint8_t digest[WD_DIGEST_LEN];
    if (wd_msg_decode_digest (data, size, digest) == WD_OK) {
        out_len = wd_msg_encode_digest (small, digest);
        s_assert_same (data, size, small, out_len);
    }

    uint8_t sig[WD_SIG_LEN];
    if (wd_msg_decode_signature (data, size, sig) == WD_OK) {
        out_len = wd_msg_encode_signature (small, sig);
        s_assert_same (data, size, small, out_len);
    }

    uint8_t nonce[WD_MSG_NONCE_LEN];
    if (wd_msg_decode_nonce (data, size, nonce) == WD_OK) {
        out_len = wd_msg_encode_nonce (small, nonce);
        s_assert_same (data, size, small, out_len);
    }

    int code;
    char message[WD_MSG_ERROR_MAX + 1];
    if (wd_msg_decode_error (data, size, &code, message) == WD_OK) {
        assert (strlen (message) <= WD_MSG_ERROR_MAX);
        out = wd_msg_encode_error (code, message, &out_len);
        s_assert_same (data, size, out, out_len);
        free (out);
    }

    wd_msg_keys_status_t keys;
    if (wd_msg_decode_keys_status (data, size, &keys) == WD_OK) {
        out = wd_msg_encode_keys_status (&keys, &out_len);
        s_assert_same (data, size, out, out_len);
        free (out);
    }

    wd_msg_proc_state_t state;
    if (wd_msg_decode_proc_state (data, size, &state) == WD_OK) {
        assert (state.pid <= UINT32_MAX);
        out = wd_msg_encode_proc_state (&state, &out_len);
        s_assert_same (data, size, out, out_len);
        free (out);
    }
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    wd_envelope_t env;
    bool is_envelope = s_check_envelope (data, size, &env);
    s_check_cert (data, size, is_envelope, &env);
    s_check_messages (data, size);
    return 0;
}
