/*
 * cons_member_tx: encoding and stateless checks of the `join`,
 * `join-request`, `leave`, `rotate` and `rotate-request` bodies (cons_member_tx.h; docs/PROTOCOL.md
 * "Membership transactions").
 */
#include "cons_member_tx.h"

#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "cons_err.h"
#include "wd_codec.h"

static uint8_t *
s_one_bin (const char *key, const uint8_t *data, size_t data_len, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, key);
    wd_writer_bin (w, data, data_len);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_MEMBER_TX_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

uint8_t *
cons_join_request_body (const uint8_t *cert, size_t cert_len, size_t *len)
{
    return s_one_bin ("cert", cert, cert_len, len);
}

uint8_t *
cons_join_body (const uint8_t *request, size_t request_len, size_t *len)
{
    return s_one_bin ("request", request, request_len, len);
}

uint8_t *
cons_leave_body (const uint8_t node[WD_PUBKEY_LEN], size_t *len)
{
    return s_one_bin ("node", node, WD_PUBKEY_LEN, len);
}

/* {key: bin (<= max), v: 1}: WD_OK with *data borrowed from body. */
static int
s_read_one_bin (const uint8_t *body, size_t len, const char *key, size_t max, const uint8_t **data,
                size_t *data_len)
{
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, key);
    wd_read_bin (&r, data, data_len, max);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    int err = wd_reader_finish (&r);
    if (err == WD_OK && version != CONS_MEMBER_TX_VERSION)
        err = WD_ERR_BAD_VERSION;
    return err;
}

int
cons_join_request_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                        bool sigs, wd_cert_t *cert)
{
    memset (cert, 0, sizeof *cert);
    wd_envelope_t env;
    int err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env.chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env.type, CONS_JOIN_REQUEST_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    const uint8_t *cert_bytes = NULL;
    size_t cert_len = 0;
    err =
        s_read_one_bin (env.body, env.body_len, "cert", WD_CERT_MAX_BYTES, &cert_bytes, &cert_len);
    if (err == WD_OK)
        err = wd_cert_open (cert_bytes, cert_len, cert);
    if (err == WD_OK && memcmp (env.from, cert->sign_pk, WD_PUBKEY_LEN) != 0)
        err = CONS_ERR_TX_SIGNER;
    if (err == WD_OK && sigs)
        err = wd_envelope_verify (&env, chain, CONS_JOIN_REQUEST_TYPE);
    if (err != WD_OK)
        memset (cert, 0, sizeof *cert);
    return err;
}

int
cons_join_open (const uint8_t *body, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN], bool sigs,
                wd_cert_t *cert)
{
    memset (cert, 0, sizeof *cert);
    const uint8_t *request = NULL;
    size_t request_len = 0;
    int err = s_read_one_bin (body, len, "request", CONS_JOIN_REQUEST_MAX, &request, &request_len);
    if (err != WD_OK)
        return err;
    return cons_join_request_open (request, request_len, chain, sigs, cert);
}

int
cons_leave_decode (const uint8_t *body, size_t len, uint8_t node[WD_PUBKEY_LEN])
{
    const uint8_t *data = NULL;
    size_t data_len = 0;
    int err = s_read_one_bin (body, len, "node", WD_PUBKEY_LEN, &data, &data_len);
    if (err == WD_OK && data_len != WD_PUBKEY_LEN)
        err = WD_ERR_BAD_LENGTH;
    if (err == WD_OK)
        memcpy (node, data, WD_PUBKEY_LEN);
    return err;
}

uint8_t *
cons_rotate_request_body (const uint8_t *cert, size_t cert_len, const uint8_t node[WD_PUBKEY_LEN],
                          size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "cert");
    wd_writer_bin (w, cert, cert_len);
    wd_writer_key (w, "node");
    wd_writer_bin (w, node, WD_PUBKEY_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CONS_MEMBER_TX_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

uint8_t *
cons_rotate_body (const uint8_t *request, size_t request_len, size_t *len)
{
    return s_one_bin ("request", request, request_len, len);
}

/* The request up to its signature: *env decoded from buf. */
static int
s_rotate_request_read (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                       wd_envelope_t *env, wd_cert_t *cert, uint8_t node[WD_PUBKEY_LEN])
{
    memset (cert, 0, sizeof *cert);
    int err = wd_envelope_decode (buf, len, env);
    if (err != WD_OK)
        return err;
    if (sodium_memcmp (env->chain, chain, WD_CHAIN_ID_LEN) != 0)
        return WD_ERR_WRONG_CHAIN;
    if (strcmp (env->type, CONS_ROTATE_REQUEST_TYPE) != 0)
        return WD_ERR_UNEXPECTED_TYPE;
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    const uint8_t *cert_bytes = NULL, *node_bytes = NULL;
    size_t cert_len = 0, node_len = 0;
    wd_reader_init (&r, env->body, env->body_len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "cert");
    wd_read_bin (&r, &cert_bytes, &cert_len, WD_CERT_MAX_BYTES);
    wd_read_key (&r, "node");
    wd_read_bin (&r, &node_bytes, &node_len, WD_PUBKEY_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && node_len != WD_PUBKEY_LEN)
        err = WD_ERR_BAD_LENGTH;
    if (err == WD_OK && version != CONS_MEMBER_TX_VERSION)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK)
        err = wd_cert_open (cert_bytes, cert_len, cert);
    if (err == WD_OK && memcmp (env->from, cert->sign_pk, WD_PUBKEY_LEN) != 0)
        err = CONS_ERR_TX_SIGNER;
    if (err == WD_OK)
        memcpy (node, node_bytes, WD_PUBKEY_LEN);
    else
        memset (cert, 0, sizeof *cert);
    return err;
}

int
cons_rotate_request_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                          bool sigs, wd_cert_t *cert, uint8_t node[WD_PUBKEY_LEN])
{
    wd_envelope_t env;
    int err = s_rotate_request_read (buf, len, chain, &env, cert, node);
    if (err == WD_OK && sigs)
        err = wd_envelope_verify (&env, chain, CONS_ROTATE_REQUEST_TYPE);
    if (err != WD_OK)
        memset (cert, 0, sizeof *cert);
    return err;
}

int
cons_rotate_open (const uint8_t *body, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                  const uint8_t signer[WD_PUBKEY_LEN], bool sigs, wd_cert_t *cert)
{
    memset (cert, 0, sizeof *cert);
    const uint8_t *request = NULL;
    size_t request_len = 0;
    int err = s_read_one_bin (body, len, "request", CONS_JOIN_REQUEST_MAX, &request, &request_len);
    if (err != WD_OK)
        return err;
    wd_envelope_t env;
    uint8_t node[WD_PUBKEY_LEN];
    err = s_rotate_request_read (request, request_len, chain, &env, cert, node);
    if (err == WD_OK && memcmp (node, signer, WD_PUBKEY_LEN) != 0)
        err = CONS_ERR_TX_SIGNER;
    if (err == WD_OK && sigs)
        err = wd_envelope_verify (&env, chain, CONS_ROTATE_REQUEST_TYPE);
    if (err != WD_OK)
        memset (cert, 0, sizeof *cert);
    return err;
}
