/*
 * node_status: the report is a canonical map
 *   {keystore?: keys-status map,
 *    measurements: {entries, sha1: bin(20), sha256: bin(32)},
 *    node: bin (the node certificate),
 *    nonce: bin(32), now, pid, processes: [proc-state map], state_dir,
 *    version}
 * so a reader re-verifies the certificate it carries and then the report's
 * signature under the certificate's key.
 */
#include "node_status.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <sodium.h>

#include "wd_codec.h"
#include "wd_hash.h"

uint8_t *
node_status_build (const wd_config_t *cfg, const uint8_t *cert_bytes, size_t cert_len,
                   const uint8_t nonce[WD_MSG_NONCE_LEN], const node_status_procs_t *procs,
                   const wd_msg_keys_status_t *keys, const attest_ima_state_t *measured,
                   size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 8 + (keys != NULL));
    if (keys) {
        size_t keys_len;
        uint8_t *keys_body = wd_msg_encode_keys_status (keys, &keys_len);
        wd_writer_key (w, "keystore");
        wd_writer_raw (w, keys_body, keys_len);
        free (keys_body);
    }
    wd_writer_key (w, "measurements");
    wd_writer_map (w, 3);
    wd_writer_key (w, "entries");
    wd_writer_uint (w, measured->entries);
    wd_writer_key (w, "sha1");
    wd_writer_bin (w, measured->sha1, sizeof measured->sha1);
    wd_writer_key (w, "sha256");
    wd_writer_bin (w, measured->sha256, sizeof measured->sha256);
    wd_writer_key (w, "node");
    wd_writer_bin (w, cert_bytes, cert_len);
    wd_writer_key (w, "nonce");
    wd_writer_bin (w, nonce, WD_MSG_NONCE_LEN);
    wd_writer_key (w, "now");
    wd_writer_uint (w, (uint64_t)time (NULL));
    wd_writer_key (w, "pid");
    wd_writer_uint (w, (uint64_t)getppid ());
    wd_writer_key (w, "processes");
    /* The pxe process is listed only once the parent reported it (it runs
       only with pxe/enable). */
    bool pxe_listed = procs->procs[NODE_PROC_PXE].name[0] != '\0';
    wd_writer_array (w, NODE_PROC_COUNT - !pxe_listed);
    for (int i = 0; i < NODE_PROC_COUNT; i++) {
        wd_msg_proc_state_t state = procs->procs[i];
        if (i == NODE_PROC_PXE && !pxe_listed)
            continue;
        if (!state.name[0]) {
            snprintf (state.name, sizeof state.name, "%s", node_proc_name (i));
            snprintf (state.state, sizeof state.state, "unknown");
        }
        size_t state_len;
        uint8_t *state_body = wd_msg_encode_proc_state (&state, &state_len);
        wd_writer_raw (w, state_body, state_len);
        free (state_body);
    }
    wd_writer_key (w, "state_dir");
    wd_writer_cstr (w, wd_config_str (cfg, "node/state"));
    wd_writer_key (w, "version");
    wd_writer_cstr (w, WARDEN_VERSION);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

uint8_t *
node_status_reply_signed (const uint8_t *envelope, size_t envelope_len, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "envelope");
    wd_writer_bin (w, envelope, envelope_len);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

uint8_t *
node_status_reply_unsigned (const uint8_t *status, size_t status_len, const char *reason,
                            size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "status");
    wd_writer_bin (w, status, status_len);
    wd_writer_key (w, "unsigned_reason");
    wd_writer_str (w, reason, strnlen (reason, WD_MSG_ERROR_MAX));
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static wd_err_t
s_status_decode (const uint8_t *buf, size_t len, node_status_t *st)
{
    wd_err_t err = wd_codec_check (buf, len, NODE_STATUS_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    const uint8_t *raw, *cert_bytes = NULL;
    size_t raw_len, cert_len = 0;
    wd_reader_init (&r, buf, len);
    wd_read_map (&r, &count);
    if (wd_read_key_opt (&r, "keystore") && wd_read_raw (&r, &raw, &raw_len)) {
        err = wd_msg_decode_keys_status (raw, raw_len, &st->keys);
        if (err != WD_OK)
            return err;
        st->has_keys = true;
    }
    wd_read_key (&r, "measurements");
    if (wd_read_map (&r, &count)) {
        wd_read_key (&r, "entries");
        wd_read_uint (&r, &st->measured.entries, UINT64_MAX);
        wd_read_key (&r, "sha1");
        wd_read_bin_fixed (&r, st->measured.sha1, sizeof st->measured.sha1);
        wd_read_key (&r, "sha256");
        wd_read_bin_fixed (&r, st->measured.sha256, sizeof st->measured.sha256);
        wd_read_end (&r);
    }
    wd_read_key (&r, "node");
    wd_read_bin (&r, &cert_bytes, &cert_len, WD_CERT_MAX_BYTES);
    wd_read_key (&r, "nonce");
    wd_read_bin_fixed (&r, st->nonce, WD_MSG_NONCE_LEN);
    wd_read_key (&r, "now");
    wd_read_uint (&r, &st->now, UINT64_MAX);
    wd_read_key (&r, "pid");
    wd_read_uint (&r, &st->pid, UINT32_MAX);
    wd_read_key (&r, "processes");
    if (wd_read_array (&r, &count)) {
        for (size_t i = 0; i < count && wd_read_raw (&r, &raw, &raw_len); i++) {
            wd_msg_proc_state_t state;
            err = wd_msg_decode_proc_state (raw, raw_len, &state);
            if (err != WD_OK)
                return err;
            int role = node_proc_role (state.name);
            if (role >= 0)
                st->procs.procs[role] = state;
        }
        wd_read_end (&r);
    }
    wd_read_key (&r, "state_dir");
    wd_read_cstr (&r, st->state_dir, sizeof st->state_dir);
    wd_read_key (&r, "version");
    wd_read_cstr (&r, st->version, sizeof st->version);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        return err;
    err = wd_cert_open (cert_bytes, cert_len, &st->cert);
    if (err == WD_OK)
        wd_hash_sha256 (st->cert_id, cert_bytes, cert_len);
    return err;
}

wd_err_t
node_status_reply_decode (const uint8_t *body, size_t len, node_status_t *status, bool *is_signed,
                          char reason[WD_MSG_ERROR_MAX + 1])
{
    memset (status, 0, sizeof *status);
    *is_signed = false;
    reason[0] = '\0';
    wd_err_t err = wd_codec_check (body, len, NODE_STATUS_MAX * 2, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t count;
    const uint8_t *data;
    size_t data_len;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &count);
    bool has_envelope = wd_read_key_opt (&r, "envelope");
    if (has_envelope)
        wd_read_bin (&r, &data, &data_len, NODE_STATUS_MAX * 2);
    else {
        wd_read_key (&r, "status");
        wd_read_bin (&r, &data, &data_len, NODE_STATUS_MAX);
        wd_read_key (&r, "unsigned_reason");
        wd_read_cstr (&r, reason, WD_MSG_ERROR_MAX + 1);
    }
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        return err;
    if (!has_envelope)
        return s_status_decode (data, data_len, status);

    wd_envelope_t env;
    err = wd_envelope_open (data, data_len, wd_cert_no_chain, NODE_STATUS_TYPE, &env);
    if (err == WD_OK)
        err = s_status_decode (env.body, env.body_len, status);
    if (err == WD_OK && sodium_memcmp (env.from, status->cert.sign_pk, WD_PUBKEY_LEN) != 0)
        err = WD_ERR_KEY_MISMATCH;
    *is_signed = err == WD_OK;
    return err;
}
