/*
 * wd_msg: names and the small fixed-shape bodies of process messages.
 */
#include "wd_msg.h"

#include <assert.h>
#include <string.h>

#include "wd_codec.h"

const char *
wd_msg_name (uint32_t type)
{
    switch ((wd_msg_type_t)type) {
        case WD_MSG_INIT:
            return "init";
        case WD_MSG_KEYS_CHANNEL:
            return "keys-channel";
        case WD_MSG_PROC_STATE:
            return "proc-state";
        case WD_MSG_PING:
            return "ping";
        case WD_MSG_READY:
            return "ready";
        case WD_MSG_PONG:
            return "pong";
        case WD_MSG_SIGN:
            return "sign";
        case WD_MSG_SIGNATURE:
            return "signature";
        case WD_MSG_KEYS_INFO:
            return "keys-info";
        case WD_MSG_KEYS_STATUS:
            return "keys-status";
        case WD_MSG_VRF_PROVE:
            return "vrf-prove";
        case WD_MSG_VRF_PROOF:
            return "vrf-proof";
        case WD_MSG_SIGN_STEP:
            return "sign-step";
        case WD_MSG_ERROR:
            return "error";
        case WD_MSG_CTL_STATUS:
            return "ctl-status";
        case WD_MSG_CTL_STATUS_REPLY:
            return "ctl-status-reply";
        case WD_MSG_PXE_SOCKETS:
            return "pxe-sockets";
        case WD_MSG_PXE_CHANNEL:
            return "pxe-channel";
        case WD_MSG_PXE_SERVED:
            return "pxe-served";
        case WD_MSG_PXE_TOKEN:
            return "pxe-token";
        case WD_MSG_PXE_STATUS:
            return "pxe-status";
        case WD_MSG_SANDBOX_RUN:
            return "sandbox-run";
        case WD_MSG_SANDBOX_DONE:
            return "sandbox-done";
        case WD_MSG_SANDBOX_KILL:
            return "sandbox-kill";
        case WD_MSG_CTL_PXE:
            return "ctl-pxe";
        case WD_MSG_CTL_PXE_REPLY:
            return "ctl-pxe-reply";
        case WD_MSG_CTL_ATTEST_HOST:
            return "ctl-attest-host";
        case WD_MSG_CTL_ATTEST_HOST_REPLY:
            return "ctl-attest-host-reply";
        case WD_MSG_CTL_ATTEST_EVIDENCE:
            return "ctl-attest-evidence";
        case WD_MSG_CTL_ATTEST_EVIDENCE_REPLY:
            return "ctl-attest-evidence-reply";
        case WD_MSG_CTL_ATTEST_TOKEN:
            return "ctl-attest-token";
        case WD_MSG_CTL_ATTEST_TOKEN_REPLY:
            return "ctl-attest-token-reply";
        case WD_MSG_CTL_ATTEST_CHALLENGE:
            return "ctl-attest-challenge";
        case WD_MSG_CTL_ATTEST_CHALLENGE_REPLY:
            return "ctl-attest-challenge-reply";
        case WD_MSG_CTL_MESH_PEERS:
            return "ctl-mesh-peers";
        case WD_MSG_CTL_MESH_PEERS_REPLY:
            return "ctl-mesh-peers-reply";
        case WD_MSG_CTL_MESH_PUBLISH:
            return "ctl-mesh-publish";
        case WD_MSG_CTL_MESH_PUBLISH_REPLY:
            return "ctl-mesh-publish-reply";
        case WD_MSG_CTL_MESH_RECORDS:
            return "ctl-mesh-records";
        case WD_MSG_CTL_MESH_RECORDS_REPLY:
            return "ctl-mesh-records-reply";
        case WD_MSG_CTL_MEMBER:
            return "ctl-member";
        case WD_MSG_CTL_MEMBER_REPLY:
            return "ctl-member-reply";
        case WD_MSG_CTL_AGREE_STATUS:
            return "ctl-agree-status";
        case WD_MSG_CTL_AGREE_STATUS_REPLY:
            return "ctl-agree-status-reply";
        case WD_MSG_CTL_CAPSULE_INFO:
            return "ctl-capsule-info";
        case WD_MSG_CTL_CAPSULE_INFO_REPLY:
            return "ctl-capsule-info-reply";
        case WD_MSG_CTL_CAPSULE_PUT:
            return "ctl-capsule-put";
        case WD_MSG_CTL_CAPSULE_PUT_REPLY:
            return "ctl-capsule-put-reply";
        case WD_MSG_CTL_CAPSULE_SUBMIT:
            return "ctl-capsule-submit";
        case WD_MSG_CTL_CAPSULE_SUBMIT_REPLY:
            return "ctl-capsule-submit-reply";
        case WD_MSG_CTL_CAPSULE_STATUS:
            return "ctl-capsule-status";
        case WD_MSG_CTL_CAPSULE_STATUS_REPLY:
            return "ctl-capsule-status-reply";
        case WD_MSG_CTL_CAPSULE_GET:
            return "ctl-capsule-get";
        case WD_MSG_CTL_CAPSULE_GET_REPLY:
            return "ctl-capsule-get-reply";
    }
    return "unknown";
}

/* Encodes {key: bin(len)} into out (fixmap, fixstr key, bin8). */
static size_t
s_encode_one_bin (uint8_t out[WD_MSG_SMALL_MAX], const char *key, const uint8_t *data, size_t len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, key);
    wd_writer_bin (w, data, len);
    size_t n;
    const uint8_t *bytes = wd_writer_data (w, &n);
    memcpy (out, bytes, n);
    wd_writer_destroy (&w);
    return n;
}

static wd_err_t
s_decode_one_bin (const uint8_t *body, size_t len, const char *key, uint8_t *out, size_t out_len)
{
    wd_err_t err = wd_codec_check (body, len, WD_MSG_SMALL_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, key);
    wd_read_bin_fixed (&r, out, out_len);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

size_t
wd_msg_encode_digest (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t digest[WD_DIGEST_LEN])
{
    return s_encode_one_bin (out, "digest", digest, WD_DIGEST_LEN);
}

wd_err_t
wd_msg_decode_digest (const uint8_t *body, size_t len, uint8_t digest[WD_DIGEST_LEN])
{
    return s_decode_one_bin (body, len, "digest", digest, WD_DIGEST_LEN);
}

size_t
wd_msg_encode_signature (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t sig[WD_SIG_LEN])
{
    return s_encode_one_bin (out, "sig", sig, WD_SIG_LEN);
}

wd_err_t
wd_msg_decode_signature (const uint8_t *body, size_t len, uint8_t sig[WD_SIG_LEN])
{
    return s_decode_one_bin (body, len, "sig", sig, WD_SIG_LEN);
}

size_t
wd_msg_encode_vrf_prove (uint8_t out[WD_MSG_VRF_PROVE_MAX], const uint8_t *alpha, size_t alpha_len)
{
    assert (alpha_len > 0 && alpha_len <= WD_MSG_VRF_ALPHA_MAX);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "alpha");
    wd_writer_bin (w, alpha, alpha_len);
    size_t n;
    const uint8_t *bytes = wd_writer_data (w, &n);
    assert (n <= WD_MSG_VRF_PROVE_MAX);
    memcpy (out, bytes, n);
    wd_writer_destroy (&w);
    return n;
}

wd_err_t
wd_msg_decode_vrf_prove (const uint8_t *body, size_t len, const uint8_t **alpha, size_t *alpha_len)
{
    *alpha = NULL;
    *alpha_len = 0;
    wd_err_t err = wd_codec_check (body, len, WD_MSG_VRF_ALPHA_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    const uint8_t *data = NULL;
    size_t data_len = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "alpha");
    wd_read_bin (&r, &data, &data_len, WD_MSG_VRF_ALPHA_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && data_len == 0)
        err = WD_ERR_BAD_LENGTH;
    if (err == WD_OK) {
        *alpha = data;
        *alpha_len = data_len;
    }
    return err;
}

size_t
wd_msg_encode_vrf_proof (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t pi[WD_MSG_VRF_PI_LEN])
{
    return s_encode_one_bin (out, "pi", pi, WD_MSG_VRF_PI_LEN);
}

wd_err_t
wd_msg_decode_vrf_proof (const uint8_t *body, size_t len, uint8_t pi[WD_MSG_VRF_PI_LEN])
{
    return s_decode_one_bin (body, len, "pi", pi, WD_MSG_VRF_PI_LEN);
}

size_t
wd_msg_encode_sign_step (uint8_t out[WD_MSG_SIGN_STEP_MAX], const wd_msg_sign_step_t *req)
{
    assert (req->height >= 1 && req->height <= WD_MSG_SIGN_HEIGHT_MAX);
    assert (req->round <= WD_MSG_SIGN_ROUND_MAX);
    assert (req->step >= 1 && req->step <= WD_MSG_SIGN_STEP_LAST);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "chain");
    wd_writer_bin (w, req->chain, WD_CHAIN_ID_LEN);
    wd_writer_key (w, "digest");
    wd_writer_bin (w, req->digest, WD_DIGEST_LEN);
    wd_writer_key (w, "height");
    wd_writer_uint (w, req->height);
    wd_writer_key (w, "round");
    wd_writer_uint (w, req->round);
    wd_writer_key (w, "step");
    wd_writer_uint (w, req->step);
    size_t n;
    const uint8_t *bytes = wd_writer_data (w, &n);
    assert (n <= WD_MSG_SIGN_STEP_MAX);
    memcpy (out, bytes, n);
    wd_writer_destroy (&w);
    return n;
}

wd_err_t
wd_msg_decode_sign_step (const uint8_t *body, size_t len, wd_msg_sign_step_t *req)
{
    memset (req, 0, sizeof *req);
    wd_err_t err = wd_codec_check (body, len, WD_MSG_SMALL_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    uint64_t height = 0, round = 0, step = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "chain");
    wd_read_bin_fixed (&r, req->chain, WD_CHAIN_ID_LEN);
    wd_read_key (&r, "digest");
    wd_read_bin_fixed (&r, req->digest, WD_DIGEST_LEN);
    wd_read_key (&r, "height");
    wd_read_uint (&r, &height, WD_MSG_SIGN_HEIGHT_MAX);
    wd_read_key (&r, "round");
    wd_read_uint (&r, &round, WD_MSG_SIGN_ROUND_MAX);
    wd_read_key (&r, "step");
    wd_read_uint (&r, &step, WD_MSG_SIGN_STEP_LAST);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && (height == 0 || step == 0))
        err = WD_ERR_OUT_OF_RANGE;
    req->height = height;
    req->round = (uint32_t)round;
    req->step = (uint8_t)step;
    return err;
}

size_t
wd_msg_encode_nonce (uint8_t out[WD_MSG_SMALL_MAX], const uint8_t nonce[WD_MSG_NONCE_LEN])
{
    return s_encode_one_bin (out, "nonce", nonce, WD_MSG_NONCE_LEN);
}

wd_err_t
wd_msg_decode_nonce (const uint8_t *body, size_t len, uint8_t nonce[WD_MSG_NONCE_LEN])
{
    return s_decode_one_bin (body, len, "nonce", nonce, WD_MSG_NONCE_LEN);
}

uint8_t *
wd_msg_encode_error (int code, const char *message, size_t *len)
{
    size_t message_len = strnlen (message, WD_MSG_ERROR_MAX);
    /* A cut message must still be valid UTF-8: back up to a lead byte. */
    while (message_len > 0 && message[message_len] != '\0' &&
           ((uint8_t)message[message_len] & 0xc0) == 0x80)
        message_len--;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "code");
    wd_writer_int (w, code);
    wd_writer_key (w, "message");
    wd_writer_str (w, message, message_len);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
wd_msg_decode_error (const uint8_t *body, size_t len, int *code, char message[WD_MSG_ERROR_MAX + 1])
{
    wd_err_t err = wd_codec_check (body, len, WD_MSG_ERROR_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    int64_t value;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "code");
    wd_read_int (&r, &value, INT32_MIN, INT32_MAX);
    wd_read_key (&r, "message");
    wd_read_cstr (&r, message, WD_MSG_ERROR_MAX + 1);
    wd_read_end (&r);
    *code = (int)value;
    return wd_reader_finish (&r);
}

uint8_t *
wd_msg_encode_keys_status (const wd_msg_keys_status_t *status, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 6);
    wd_writer_key (w, "backend");
    wd_writer_cstr (w, status->backend);
    wd_writer_key (w, "healthy");
    wd_writer_bool (w, status->healthy);
    wd_writer_key (w, "key_protection");
    wd_writer_cstr (w, status->key_protection);
    wd_writer_key (w, "public_key");
    wd_writer_bin (w, status->public_key, WD_PUBKEY_LEN);
    wd_writer_key (w, "signatures");
    wd_writer_uint (w, status->signatures);
    wd_writer_key (w, "tamper");
    wd_writer_cstr (w, status->tamper);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
wd_msg_decode_keys_status (const uint8_t *body, size_t len, wd_msg_keys_status_t *status)
{
    memset (status, 0, sizeof *status);
    wd_err_t err = wd_codec_check (body, len, WD_MSG_SMALL_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "backend");
    wd_read_cstr (&r, status->backend, sizeof status->backend);
    wd_read_key (&r, "healthy");
    wd_read_bool (&r, &status->healthy);
    wd_read_key (&r, "key_protection");
    wd_read_cstr (&r, status->key_protection, sizeof status->key_protection);
    wd_read_key (&r, "public_key");
    wd_read_bin_fixed (&r, status->public_key, WD_PUBKEY_LEN);
    wd_read_key (&r, "signatures");
    wd_read_uint (&r, &status->signatures, UINT64_MAX);
    wd_read_key (&r, "tamper");
    wd_read_cstr (&r, status->tamper, sizeof status->tamper);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
wd_msg_encode_proc_state (const wd_msg_proc_state_t *state, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 5);
    wd_writer_key (w, "name");
    wd_writer_cstr (w, state->name);
    wd_writer_key (w, "pid");
    wd_writer_uint (w, state->pid);
    wd_writer_key (w, "restarts");
    wd_writer_uint (w, state->restarts);
    wd_writer_key (w, "since");
    wd_writer_uint (w, state->since);
    wd_writer_key (w, "state");
    wd_writer_cstr (w, state->state);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
wd_msg_decode_proc_state (const uint8_t *body, size_t len, wd_msg_proc_state_t *state)
{
    memset (state, 0, sizeof *state);
    wd_err_t err = wd_codec_check (body, len, WD_MSG_SMALL_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    wd_read_key (&r, "name");
    wd_read_cstr (&r, state->name, sizeof state->name);
    wd_read_key (&r, "pid");
    wd_read_uint (&r, &state->pid, UINT32_MAX);
    wd_read_key (&r, "restarts");
    wd_read_uint (&r, &state->restarts, UINT64_MAX);
    wd_read_key (&r, "since");
    wd_read_uint (&r, &state->since, UINT64_MAX);
    wd_read_key (&r, "state");
    wd_read_cstr (&r, state->state, sizeof state->state);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
wd_msg_encode_attest_req (const wd_msg_attest_req_t *req, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, (size_t)req->has_host + (req->limit != 0));
    if (req->has_host) {
        wd_writer_key (w, "host");
        wd_writer_cstr (w, req->host);
    }
    if (req->limit) {
        wd_writer_key (w, "limit");
        wd_writer_uint (w, req->limit);
    }
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
wd_msg_decode_attest_req (const uint8_t *body, size_t len, wd_msg_attest_req_t *req)
{
    memset (req, 0, sizeof *req);
    if (len == 0)
        return WD_OK;
    wd_err_t err = wd_codec_check (body, len, WD_MSG_HOST_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    uint64_t limit = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    if (wd_read_key_opt (&r, "host")) {
        req->has_host = true;
        wd_read_cstr (&r, req->host, sizeof req->host);
    }
    bool has_limit = wd_read_key_opt (&r, "limit");
    if (has_limit)
        wd_read_uint (&r, &limit, UINT16_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && req->has_host && req->host[0] == 0)
        err = WD_ERR_BAD_LENGTH;
    if (err == WD_OK && has_limit && limit == 0)
        err = WD_ERR_OUT_OF_RANGE; /* absent means the default: one encoding only */
    req->limit = (uint32_t)limit;
    return err;
}
