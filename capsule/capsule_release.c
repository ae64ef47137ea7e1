/*
 * capsule_release: encodes, seals and strictly opens the key release
 * request, grant and refusal envelopes (see capsule_release.h and
 * docs/PROTOCOL.md "Capsule tasks, key release and receipts"). The checks
 * that decide a release (ledger status, policy) live with the execution
 * flow; this file only carries the messages.
 */
#include "capsule_release.h"

#include <assert.h>
#include <stdlib.h>
#include <string.h>

#include "wd_codec.h"

/* Reasons up to this many bytes are read and then judged by the refusal
   rule; longer ones are a codec error (WD_ERR_OVERSIZE). */
#define S_REASON_READ_MAX 4096

/* Takes the writer's bytes into *out. Our own values are always canonical. */
static void
s_take (wd_writer_t **w, uint8_t **out, size_t *out_len)
{
    *out = wd_writer_take (*w, out_len);
    wd_writer_destroy (w);
}

/* ---- request --------------------------------------------------------------- */

int
capsule_release_req_encode (const capsule_release_req_t *req, uint8_t **out, size_t *out_len)
{
    assert (req && out && out_len);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "capsule");
    wd_writer_bin (w, req->capsule, WD_DIGEST_LEN);
    wd_writer_key (w, "executor_curve");
    wd_writer_bin (w, req->executor_curve, WD_PUBKEY_LEN);
    wd_writer_key (w, "proof");
    wd_writer_bin (w, req->proof, CAPSULE_RELEASE_PROOF_LEN);
    wd_writer_key (w, "task");
    wd_writer_bin (w, req->task, WD_DIGEST_LEN);
    wd_writer_key (w, "v");
    wd_writer_uint (w, CAPSULE_RELEASE_VERSION);
    s_take (&w, out, out_len);
    return WD_OK;
}

int
capsule_release_req_decode (const uint8_t *body, size_t len, capsule_release_req_t *req)
{
    assert ((body || len == 0) && req);
    memset (req, 0, sizeof *req);
    int err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "capsule");
    wd_read_bin_fixed (&r, req->capsule, WD_DIGEST_LEN);
    wd_read_key (&r, "executor_curve");
    wd_read_bin_fixed (&r, req->executor_curve, WD_PUBKEY_LEN);
    wd_read_key (&r, "proof");
    wd_read_bin_fixed (&r, req->proof, CAPSULE_RELEASE_PROOF_LEN);
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, req->task, WD_DIGEST_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && version != CAPSULE_RELEASE_VERSION)
        err = WD_ERR_BAD_VERSION;
    if (err != WD_OK)
        memset (req, 0, sizeof *req);
    return err;
}

int
capsule_release_req_seal (const capsule_release_req_t *req, const uint8_t chain[WD_CHAIN_ID_LEN],
                          const uint8_t executor_pk[WD_PUBKEY_LEN], wd_sign_fn sign, void *sign_ctx,
                          uint8_t **out, size_t *out_len)
{
    assert (req && chain && executor_pk && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = capsule_release_req_encode (req, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (CAPSULE_RELEASE_REQ_TYPE, chain, executor_pk, body, body_len, sign,
                            sign_ctx, out, out_len);
    free (body);
    return err;
}

int
capsule_release_req_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                          capsule_release_req_t *req, uint8_t executor[WD_PUBKEY_LEN])
{
    assert ((buf || len == 0) && chain && req);
    memset (req, 0, sizeof *req);
    wd_envelope_t env;
    int err = wd_envelope_open (buf, len, chain, CAPSULE_RELEASE_REQ_TYPE, &env);
    if (err != WD_OK)
        return err;
    err = capsule_release_req_decode (env.body, env.body_len, req);
    if (err == WD_OK && executor)
        memcpy (executor, env.from, WD_PUBKEY_LEN);
    return err;
}

/* ---- answer ---------------------------------------------------------------- */

const char *
capsule_release_answer_type (capsule_release_kind_t kind)
{
    switch (kind) {
        case CAPSULE_RELEASE_GRANTED:
            return CAPSULE_RELEASE_GRANT_TYPE;
        case CAPSULE_RELEASE_REFUSED:
            return CAPSULE_RELEASE_REFUSED_TYPE;
    }
    return NULL;
}

/* The refusal rule: code in CODE_MIN..-1, reason 1..REASON_MAX bytes
   without a control character (it is shown to a user). */
static bool
s_refusal_valid (int64_t code, const char *reason, size_t len)
{
    if (code < CAPSULE_RELEASE_CODE_MIN || code > -1)
        return false;
    if (len == 0 || len > CAPSULE_RELEASE_REASON_MAX)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned char c = (unsigned char)reason[i];
        if (c < 0x20 || c == 0x7f)
            return false;
    }
    return true;
}

int
capsule_release_answer_encode (const capsule_release_answer_t *a, uint8_t **out, size_t *out_len)
{
    assert (a && out && out_len);
    *out = NULL;
    *out_len = 0;
    wd_writer_t *w;
    switch (a->kind) {
        case CAPSULE_RELEASE_GRANTED:
            w = wd_writer_new ();
            wd_writer_map (w, 4);
            wd_writer_key (w, "capsule");
            wd_writer_bin (w, a->capsule, WD_DIGEST_LEN);
            wd_writer_key (w, "task");
            wd_writer_bin (w, a->task, WD_DIGEST_LEN);
            wd_writer_key (w, "v");
            wd_writer_uint (w, CAPSULE_RELEASE_VERSION);
            wd_writer_key (w, "wrap");
            wd_writer_bin (w, a->wrap, CAPSULE_RELEASE_WRAP_LEN);
            s_take (&w, out, out_len);
            return WD_OK;
        case CAPSULE_RELEASE_REFUSED: {
            size_t rlen = strnlen (a->reason, sizeof a->reason);
            if (!s_refusal_valid (a->code, a->reason, rlen))
                return CAPSULE_ERR_RELEASE_REFUSAL;
            w = wd_writer_new ();
            wd_writer_map (w, 5);
            wd_writer_key (w, "capsule");
            wd_writer_bin (w, a->capsule, WD_DIGEST_LEN);
            wd_writer_key (w, "code");
            wd_writer_int (w, a->code);
            wd_writer_key (w, "reason");
            wd_writer_str (w, a->reason, rlen);
            wd_writer_key (w, "task");
            wd_writer_bin (w, a->task, WD_DIGEST_LEN);
            wd_writer_key (w, "v");
            wd_writer_uint (w, CAPSULE_RELEASE_VERSION);
            size_t len;
            uint8_t *body = wd_writer_take (w, &len);
            wd_writer_destroy (&w);
            /* The reason is the caller's bytes: it must be UTF-8. */
            if (wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL) != WD_OK) {
                free (body);
                return CAPSULE_ERR_RELEASE_REFUSAL;
            }
            *out = body;
            *out_len = len;
            return WD_OK;
        }
    }
    assert (!"unknown release answer kind");
    return WD_ERR_BAD_VALUE;
}

int
capsule_release_answer_decode (capsule_release_kind_t kind, const uint8_t *body, size_t len,
                               capsule_release_answer_t *a)
{
    assert ((body || len == 0) && a);
    assert (kind == CAPSULE_RELEASE_GRANTED || kind == CAPSULE_RELEASE_REFUSED);
    memset (a, 0, sizeof *a);
    int err = wd_codec_check (body, len, WD_ENVELOPE_BODY_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    uint64_t version = 0;
    int64_t code = 0;
    const char *reason = NULL;
    size_t reason_len = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "capsule");
    wd_read_bin_fixed (&r, a->capsule, WD_DIGEST_LEN);
    if (kind == CAPSULE_RELEASE_REFUSED) {
        wd_read_key (&r, "code");
        wd_read_int (&r, &code, INT64_MIN, INT64_MAX);
        wd_read_key (&r, "reason");
        wd_read_str (&r, &reason, &reason_len, S_REASON_READ_MAX);
    }
    wd_read_key (&r, "task");
    wd_read_bin_fixed (&r, a->task, WD_DIGEST_LEN);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &version, UINT64_MAX);
    if (kind == CAPSULE_RELEASE_GRANTED) {
        wd_read_key (&r, "wrap");
        wd_read_bin_fixed (&r, a->wrap, CAPSULE_RELEASE_WRAP_LEN);
    }
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && version != CAPSULE_RELEASE_VERSION)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK && kind == CAPSULE_RELEASE_REFUSED) {
        if (!s_refusal_valid (code, reason, reason_len))
            err = CAPSULE_ERR_RELEASE_REFUSAL;
        else {
            a->code = (int32_t)code;
            memcpy (a->reason, reason, reason_len);
            a->reason[reason_len] = '\0';
        }
    }
    if (err != WD_OK) {
        memset (a, 0, sizeof *a);
        return err;
    }
    a->kind = kind;
    return WD_OK;
}

int
capsule_release_answer_seal (const capsule_release_answer_t *a,
                             const uint8_t chain[WD_CHAIN_ID_LEN],
                             const uint8_t holder_pk[WD_PUBKEY_LEN], wd_sign_fn sign,
                             void *sign_ctx, uint8_t **out, size_t *out_len)
{
    assert (a && chain && holder_pk && sign && out && out_len);
    *out = NULL;
    *out_len = 0;
    uint8_t *body;
    size_t body_len;
    int err = capsule_release_answer_encode (a, &body, &body_len);
    if (err != WD_OK)
        return err;
    err = wd_envelope_seal (capsule_release_answer_type (a->kind), chain, holder_pk, body, body_len,
                            sign, sign_ctx, out, out_len);
    free (body);
    return err;
}

int
capsule_release_answer_open (const uint8_t *buf, size_t len, const uint8_t chain[WD_CHAIN_ID_LEN],
                             capsule_release_answer_t *a, uint8_t holder[WD_PUBKEY_LEN])
{
    assert ((buf || len == 0) && chain && a);
    memset (a, 0, sizeof *a);
    wd_envelope_t env;
    int err = wd_envelope_decode (buf, len, &env);
    if (err != WD_OK)
        return err;
    capsule_release_kind_t kind;
    if (strcmp (env.type, CAPSULE_RELEASE_GRANT_TYPE) == 0)
        kind = CAPSULE_RELEASE_GRANTED;
    else if (strcmp (env.type, CAPSULE_RELEASE_REFUSED_TYPE) == 0)
        kind = CAPSULE_RELEASE_REFUSED;
    else {
        /* Chain first, as wd_envelope_verify orders its checks. */
        err = wd_envelope_verify (&env, chain, CAPSULE_RELEASE_GRANT_TYPE);
        return err;
    }
    err = wd_envelope_verify (&env, chain, env.type);
    if (err != WD_OK)
        return err;
    err = capsule_release_answer_decode (kind, env.body, env.body_len, a);
    if (err == WD_OK && holder)
        memcpy (holder, env.from, WD_PUBKEY_LEN);
    return err;
}

int
capsule_release_answer_matches (const capsule_release_req_t *req, const capsule_release_answer_t *a)
{
    assert (req && a);
    if (memcmp (req->capsule, a->capsule, WD_DIGEST_LEN) != 0 ||
        memcmp (req->task, a->task, WD_DIGEST_LEN) != 0)
        return CAPSULE_ERR_RELEASE_MISMATCH;
    return WD_OK;
}
