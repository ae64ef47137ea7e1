/*
 * Fuzz harness for the membership transaction bodies (cons_member_tx.h;
 * docs/PROTOCOL.md "Membership transactions"): the first byte picks the
 * decoder (join record body, join-request envelope, leave record body), the
 * rest is its input, judged for the chain 0xc4... of the seed corpus.
 * Decoders must not crash or read out of bounds; whatever they accept must
 * be the one encoding of what they decoded (a join body and a leave body
 * encode back to the input; a join-request's certificate is its own
 * signer's), a refusal leaves no certificate behind, and an input accepted
 * with signatures checked is accepted without. The seeds hold a valid join
 * (sponsor 0x01.., newcomer 0x05..) and its request, a leave, and
 * variants refused for each reason.
 */
#include <assert.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <sodium.h>

#include "cons_member_tx.h"
#include "wd_err.h"

int
LLVMFuzzerInitialize (int *argc, char ***argv);
int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static const uint8_t s_chain[WD_CHAIN_ID_LEN] = {
    0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4,
    0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4, 0xc4,
};

static bool
s_zero (const void *p, size_t len)
{
    const uint8_t *b = p;
    for (size_t i = 0; i < len; i++)
        if (b[i])
            return false;
    return true;
}

static void
s_same (uint8_t *again, size_t len, const uint8_t *body, size_t size)
{
    assert (again && len == size && memcmp (again, body, size) == 0);
    free (again);
}

/* open: cons_join_open or cons_join_request_open, with and without
   signatures. */
static void
s_join (const uint8_t *body, size_t n, bool request)
{
    wd_cert_t cert, nosig;
    int with = request ? cons_join_request_open (body, n, s_chain, true, &cert)
                       : cons_join_open (body, n, s_chain, true, &cert);
    int without = request ? cons_join_request_open (body, n, s_chain, false, &nosig)
                          : cons_join_open (body, n, s_chain, false, &nosig);
    if (with != WD_OK)
        assert (s_zero (&cert, sizeof cert));
    if (without != WD_OK)
        assert (s_zero (&nosig, sizeof nosig));
    if (with == WD_OK) {
        assert (without == WD_OK);
        assert (memcmp (cert.sign_pk, nosig.sign_pk, WD_PUBKEY_LEN) == 0);
    }
    if (without == WD_OK && !request) {
        /* the body is {request: bin, v: 1}: the request it holds, wrapped
           again, gives back the body */
        const uint8_t *req = body + 1 + 8; /* fixmap 2, fixstr 7 "request" */
        size_t req_len = 0;
        if (req[0] == 0xc4) {
            req_len = req[1];
            req += 2;
        } else {
            assert (req[0] == 0xc5);
            req_len = ((size_t)req[1] << 8) | req[2];
            req += 3;
        }
        size_t len;
        s_same (cons_join_body (req, req_len, &len), len, body, n);
    }
}

static int
s_sign (void *ctx, const uint8_t digest[32], uint8_t sig[64])
{
    crypto_sign_detached (sig, NULL, digest, 32, ctx);
    return 0;
}

/* A join made here must open, so that a decoder that refuses everything
   cannot pass unnoticed. */
int
LLVMFuzzerInitialize (int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    if (sodium_init () < 0)
        abort ();
    uint8_t seed[32], pk[32], sk[64];
    memset (seed, 0x05, sizeof seed);
    crypto_sign_seed_keypair (pk, sk, seed);
    wd_cert_t c = { .created = 1767225605 };
    memcpy (c.name, "node-5", 7);
    memcpy (c.key_protection, "software", 9);
    memcpy (c.sign_pk, pk, 32);
    memset (c.vrf_pk, 0x45, 32);
    memset (c.curve_pk, 0x85, 32);
    uint8_t *cert, *req, *rbody, *body;
    size_t cert_len, req_len, rbody_len, body_len;
    if (wd_cert_seal (&c, s_sign, sk, &cert, &cert_len) != WD_OK)
        abort ();
    rbody = cons_join_request_body (cert, cert_len, &rbody_len);
    if (wd_envelope_seal (CONS_JOIN_REQUEST_TYPE, s_chain, pk, rbody, rbody_len, s_sign, sk, &req,
                          &req_len) != WD_OK)
        abort ();
    body = cons_join_body (req, req_len, &body_len);
    wd_cert_t back;
    if (cons_join_open (body, body_len, s_chain, true, &back) != WD_OK ||
        memcmp (back.sign_pk, pk, 32) != 0)
        abort ();
    sodium_memzero (sk, sizeof sk);
    free (cert);
    free (rbody);
    free (req);
    free (body);
    return 0;
}

/* rotate: cons_rotate_request_open (request) or cons_rotate_open for the
   signer the request names, with and without signatures; a failure
   leaves the certificate zeroed, a success without signatures is one with
   them or a signature reason. */
static void
s_rotate (const uint8_t *body, size_t n, bool request)
{
    wd_cert_t cert, nosig;
    uint8_t node[WD_PUBKEY_LEN] = { 0 }, node2[WD_PUBKEY_LEN] = { 0 };
    int with, without;
    if (request) {
        with = cons_rotate_request_open (body, n, s_chain, true, &cert, node);
        without = cons_rotate_request_open (body, n, s_chain, false, &nosig, node2);
        if (with == WD_OK)
            assert (memcmp (node, node2, WD_PUBKEY_LEN) == 0);
    } else {
        static const uint8_t signer[WD_PUBKEY_LEN] = { 0x11 };
        with = cons_rotate_open (body, n, s_chain, signer, true, &cert);
        without = cons_rotate_open (body, n, s_chain, signer, false, &nosig);
    }
    if (with != WD_OK)
        assert (s_zero (&cert, sizeof cert));
    if (without != WD_OK)
        assert (s_zero (&nosig, sizeof nosig));
    if (with == WD_OK) {
        assert (without == WD_OK);
        assert (memcmp (cert.sign_pk, nosig.sign_pk, WD_PUBKEY_LEN) == 0);
    }
    if (without == WD_OK && with != WD_OK)
        assert (with == WD_ERR_BAD_SIGNATURE);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    const uint8_t *body = data + 1;
    size_t n = size - 1;
    switch (data[0] % 5) {
        case 3:
            s_rotate (body, n, true);
            break;
        case 4:
            s_rotate (body, n, false);
            break;
        case 0:
            s_join (body, n, false);
            break;
        case 1:
            s_join (body, n, true);
            break;
        default: {
            uint8_t node[WD_PUBKEY_LEN];
            if (cons_leave_decode (body, n, node) == WD_OK) {
                size_t len;
                s_same (cons_leave_body (node, &len), len, body, n);
            }
            break;
        }
    }
    return 0;
}
