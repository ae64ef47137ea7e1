/*
 * Fuzz harness for every host-agent protocol decoder: hello and response
 * (signed envelopes, decoded without a signature check so the fuzzer reaches
 * the bodies), challenge and result. None may crash, leak or read out of
 * bounds, and whatever they accept must be canonical: encoding the decoded
 * challenge or result gives back the input bytes, and re-sealing a decoded
 * hello or response with a test key gives a frame that decodes to the same
 * message.
 *
 * Seeds (corpus/attest_agent_proto/): a hello, a response answering all six
 * item kinds, a challenge with all six kinds, results, and broken frames.
 */
#include <assert.h>
#include <sodium.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "attest_agent_proto.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static uint8_t s_pk[32], s_sk[64], s_server[32];
static attest_agent_challenge_t *s_challenge;
static attest_agent_response_t *s_response, *s_response2;

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    (void)ctx;
    crypto_sign_detached (sig, NULL, digest, 32, s_sk);
    return 0;
}

int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    uint8_t seed[32] = { 5 };
    crypto_sign_seed_keypair (s_pk, s_sk, seed);
    memset (s_server, 0x33, sizeof s_server);
    s_challenge = calloc (1, sizeof *s_challenge);
    s_response = calloc (1, sizeof *s_response);
    s_response2 = calloc (1, sizeof *s_response2);
    if (!s_challenge || !s_response || !s_response2)
        abort ();
    return 0;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    uint8_t *out;
    size_t len;

    if (attest_agent_challenge_decode (data, size, s_challenge) == WD_OK) {
        out = attest_agent_challenge_encode (s_challenge, &len);
        assert (len == size && memcmp (out, data, size) == 0);
        free (out);
        attest_agent_challenge_clear (s_challenge);
    }

    attest_agent_result_t result;
    if (attest_agent_result_decode (data, size, &result) == WD_OK) {
        out = attest_agent_result_encode (&result, &len);
        assert (len == size && memcmp (out, data, size) == 0);
        free (out);
    }

    attest_agent_hello_t hello, hello2;
    if (attest_agent_hello_open (data, size, NULL, &hello) == WD_OK) {
        memcpy (hello.pk, s_pk, 32);
        if (attest_agent_hello_seal (&hello, s_server, s_sign, NULL, &out, &len) == WD_OK) {
            int err = attest_agent_hello_open (out, len, s_server, &hello2);
            assert (err == WD_OK);
            assert (strcmp (hello.host, hello2.host) == 0 &&
                    strcmp (hello.token, hello2.token) == 0);
            free (out);
        }
    }

    if (attest_agent_response_open (data, size, NULL, s_response) == WD_OK) {
        if (attest_agent_response_seal (s_response, s_server, s_pk, s_sign, NULL, &out, &len) ==
            WD_OK) {
            int err = attest_agent_response_open (out, len, s_server, s_response2);
            assert (err == WD_OK);
            assert (s_response2->count == s_response->count && s_response2->seq == s_response->seq);
            attest_agent_response_clear (s_response2);
            free (out);
        }
        attest_agent_response_clear (s_response);
    }
    return 0;
}
