/*
 * node_keys: a poll loop over the parent channel, the current engine
 * channel (replaced whenever the parent hands over a new pair) and a
 * signalfd. Requests are answered in order, one signature or VRF proof
 * each. Besides the identity keystore it holds the node's VRF key
 * (<state>/keys/vrf.key, in sodium_malloc memory), whose public key must be
 * the vrf_pk of node.cert: the engine asks it for sortition proofs
 * (WD_MSG_VRF_PROVE) and never sees the secret.
 *
 * Agreement votes and proposals come as WD_MSG_SIGN_STEP and pass the
 * double-sign guard first (node_guard.h, <state>/keys/sign.state, opened at
 * start): a refusal is answered with WD_MSG_ERROR carrying
 * WD_ERR_SIGN_CONFLICT or WD_ERR_SIGN_REGRESS, and logged here too.
 */
#include "node_keys.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <sodium.h>
#include <stdio.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "node_child.h"
#include "node_config.h"
#include "node_guard.h"
#include "wd_keyfile.h"
#include "wd_keystore.h"
#include "wd_log.h"
#include "wd_hash.h"
#include "wd_msg.h"
#include "wd_vrf.h"

static void
s_reply_status (wd_chan_t *engine, uint32_t peer, wd_keystore_t *ks)
{
    wd_keystore_status_t st;
    wd_keystore_status (ks, &st);
    wd_msg_keys_status_t msg = { .healthy = st.healthy, .signatures = st.signatures };
    snprintf (msg.backend, sizeof msg.backend, "%s", st.backend);
    snprintf (msg.key_protection, sizeof msg.key_protection, "%s", st.key_protection);
    snprintf (msg.tamper, sizeof msg.tamper, "%s", st.tamper);
    memcpy (msg.public_key, wd_keystore_public_key (ks), WD_PUBKEY_LEN);
    size_t len;
    uint8_t *body = wd_msg_encode_keys_status (&msg, &len);
    node_child_send (engine, WD_MSG_KEYS_STATUS, peer, body, len, NULL, 0);
    free (body);
}

/* Answers a VRF proof request; false when the engine channel closed. */
static bool
s_reply_vrf (wd_chan_t *engine, const wd_chan_msg_t *msg, const wd_vrf_key_t *vrf)
{
    const uint8_t *alpha;
    size_t alpha_len;
    wd_err_t err = wd_msg_decode_vrf_prove (msg->body, msg->body_len, &alpha, &alpha_len);
    if (err != WD_OK)
        wd_fatalx ("engine sent a bad vrf-prove request: %s", wd_strerror (err));
    uint8_t pi[WD_VRF_PROOF_LEN];
    err = wd_vrf_prove (vrf, alpha, alpha_len, pi);
    if (err != WD_OK) {
        wd_log_warnx ("VRF proof failed: %s", wd_strerror (err));
        size_t len;
        uint8_t *body = wd_msg_encode_error (err, wd_strerror (err), &len);
        bool open = node_child_send (engine, WD_MSG_ERROR, msg->peer, body, len, NULL, 0);
        free (body);
        return open;
    }
    uint8_t body[WD_MSG_SMALL_MAX];
    size_t len = wd_msg_encode_vrf_proof (body, pi);
    return node_child_send (engine, WD_MSG_VRF_PROOF, msg->peer, body, len, NULL, 0);
}

/* Reads <state>/keys/vrf.key; fails the process when it is unreadable or
   is not the VRF key node.cert names (a node must never prove with a key
   its peers do not know). */
static wd_vrf_key_t *
s_load_vrf (const wd_config_t *cfg, wd_chan_t *parent, const wd_cert_t *cert)
{
    char path[PATH_MAX];
    if (node_path_state (cfg, "keys/vrf.key", path, sizeof path) != 0)
        node_child_fail (parent, WD_ERR_CONFIG_VALUE, "VRF key path is too long");
    uint8_t *seed = sodium_malloc (WD_SEED_LEN);
    if (!seed)
        wd_fatalx ("out of memory");
    wd_err_t err = wd_keyfile_read (path, WD_KEYFILE_ECVRF, seed);
    if (err != WD_OK) {
        sodium_free (seed);
        node_child_fail (parent, err, "VRF key %s: %s%s%s (run wardenctl init)", path,
                         wd_strerror (err), err == WD_ERR_IO ? ": " : "",
                         err == WD_ERR_IO ? strerror (errno) : "");
    }
    wd_vrf_key_t *vrf = wd_vrf_key_new (seed);
    sodium_free (seed);
    if (!vrf)
        wd_fatalx ("out of memory");
    if (cert && sodium_memcmp (wd_vrf_key_public (vrf), cert->vrf_pk, WD_VRF_PK_LEN) != 0)
        node_child_fail (parent, WD_ERR_KEY_MISMATCH, "VRF key %s is not the vrf_pk of node.cert",
                         path);
    return vrf;
}

static const char *const s_step_names[] = { "?", "proposal", "prevote", "precommit" };

/* Opens <state>/keys/sign.state; fails the process when it cannot (a
   damaged file is left for the operator: see OPERATIONS.md). */
static node_guard_t *
s_open_guard (const wd_config_t *cfg, wd_chan_t *parent)
{
    char path[PATH_MAX];
    if (node_path_state (cfg, "keys/sign.state", path, sizeof path) != 0)
        node_child_fail (parent, WD_ERR_CONFIG_VALUE, "sign.state path is too long");
    node_guard_t *guard = NULL;
    wd_err_t err = node_guard_open (path, &guard);
    if (err != WD_OK)
        node_child_fail (parent, err, "double-sign guard %s: %s%s%s", path, wd_strerror (err),
                         err == WD_ERR_IO ? ": " : "", err == WD_ERR_IO ? strerror (errno) : "");
    wd_msg_sign_step_t last;
    if (node_guard_last (guard, &last))
        wd_log_info ("double-sign guard: last signed %s at height %llu round %u",
                     s_step_names[last.step], (unsigned long long)last.height, last.round);
    return guard;
}

/* Sends an error reply; false when the engine channel closed. */
static bool
s_reply_error (wd_chan_t *engine, uint32_t peer, int code, const char *message)
{
    size_t len;
    uint8_t *body = wd_msg_encode_error (code, message, &len);
    bool open = node_child_send (engine, WD_MSG_ERROR, peer, body, len, NULL, 0);
    free (body);
    return open;
}

/* Signs digest and replies with the signature or the keystore's reason. */
static bool
s_reply_sign (wd_chan_t *engine, uint32_t peer, wd_keystore_t *ks,
              const uint8_t digest[WD_DIGEST_LEN])
{
    uint8_t sig[WD_SIG_LEN];
    int rc = wd_keystore_sign (ks, digest, sig);
    if (rc != 0) {
        wd_log_warnx ("signing failed: %s", wd_strerror (rc));
        return s_reply_error (engine, peer, rc, wd_strerror (rc));
    }
    uint8_t body[WD_MSG_SMALL_MAX];
    size_t len = wd_msg_encode_signature (body, sig);
    return node_child_send (engine, WD_MSG_SIGNATURE, peer, body, len, NULL, 0);
}

/* A vote or proposal: the guard first, its record on disk before the
   signature goes out. */
static bool
s_reply_sign_step (wd_chan_t *engine, const wd_chan_msg_t *msg, wd_keystore_t *ks,
                   node_guard_t *guard)
{
    wd_msg_sign_step_t req;
    wd_err_t err = wd_msg_decode_sign_step (msg->body, msg->body_len, &req);
    if (err != WD_OK)
        wd_fatalx ("engine sent a bad sign-step request: %s", wd_strerror (err));
    wd_msg_sign_step_t last;
    bool had = node_guard_last (guard, &last);
    err = node_guard_check (guard, &req);
    if (err == WD_OK)
        return s_reply_sign (engine, msg->peer, ks, req.digest);
    char why[WD_MSG_ERROR_MAX];
    if (err == WD_ERR_IO)
        snprintf (why, sizeof why, "%s: sign.state: %s", wd_strerror (err), strerror (errno));
    else
        snprintf (why, sizeof why, "%s (asked %s h=%llu r=%u, last signed %s h=%llu r=%u)",
                  wd_strerror (err), s_step_names[req.step], (unsigned long long)req.height,
                  req.round, had ? s_step_names[last.step] : "?",
                  (unsigned long long)(had ? last.height : 0), had ? last.round : 0);
    wd_log_warnx ("%s: %s", wd_err_name (err), why);
    return s_reply_error (engine, msg->peer, err, why);
}

/* Answers one engine request. Returns false when the engine channel closed. */
static bool
s_engine_request (wd_chan_t *engine, wd_keystore_t *ks, const wd_vrf_key_t *vrf,
                  node_guard_t *guard)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (engine, &msg);
    if (err == WD_ERR_CLOSED)
        return false;
    if (err == WD_ERR_AGAIN)
        return true;
    if (err != WD_OK)
        wd_fatalx ("engine channel: %s", wd_strerror (err));

    bool open = true;
    if (msg.type == WD_MSG_SIGN) {
        uint8_t digest[WD_DIGEST_LEN];
        err = wd_msg_decode_digest (msg.body, msg.body_len, digest);
        if (err != WD_OK)
            wd_fatalx ("engine sent a bad sign request: %s", wd_strerror (err));
        open = s_reply_sign (engine, msg.peer, ks, digest);
    } else if (msg.type == WD_MSG_SIGN_STEP)
        open = s_reply_sign_step (engine, &msg, ks, guard);
    else if (msg.type == WD_MSG_KEYS_INFO)
        s_reply_status (engine, msg.peer, ks);
    else if (msg.type == WD_MSG_VRF_PROVE)
        open = s_reply_vrf (engine, &msg, vrf);
    else
        wd_fatalx ("engine sent an unexpected %s message", wd_msg_name (msg.type));
    wd_chan_msg_clear (&msg);
    return open;
}

/* Handles a parent message: a new engine channel. Returns false when the
   parent has gone. */
static bool
s_parent_message (wd_chan_t *parent, wd_chan_t **engine)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (parent, &msg);
    if (err == WD_ERR_CLOSED)
        return false;
    if (err != WD_OK)
        wd_fatalx ("parent channel: %s", wd_strerror (err));
    if (msg.type != WD_MSG_KEYS_CHANNEL || msg.nfds != 1)
        wd_fatalx ("parent sent an unexpected %s message", wd_msg_name (msg.type));
    wd_chan_destroy (engine);
    *engine = wd_chan_new (msg.fds[0]);
    msg.fds[0] = -1;
    wd_chan_msg_clear (&msg);
    if (!*engine)
        wd_fatalx ("out of memory");
    wd_log_debug ("new engine channel");
    return true;
}

int
node_keys_main (void)
{
    wd_chan_t *parent;
    wd_config_t *cfg = node_child_start (NODE_PROC_KEYS, &parent);
    int sigfd = node_child_signalfd ();

    char key_path[PATH_MAX], where[PATH_MAX + 128];
    wd_keystore_params_t params;
    if (node_keystore_params (cfg, &params, key_path, sizeof key_path) != 0)
        node_child_fail (parent, WD_ERR_CONFIG_VALUE, "identity key path is too long");
    const char *backend = wd_config_str (cfg, "keystore/backend");
    /* A device that lost or replaced its key must not sign as this node
       (a missing or broken certificate is the engine's to report). */
    wd_cert_t cert;
    bool have_cert = node_config_read_cert (cfg, &cert);
    if (have_cert)
        params.expected_public_key = cert.sign_pk;
    wd_keystore_t *ks = NULL;
    wd_err_t err = wd_keystore_open (backend, &params, &ks);
    if (err != WD_OK) {
        wd_keystore_describe (backend, &params, where, sizeof where);
        node_child_fail (parent, err, "keystore %s: %s (%s; %s)", backend, wd_strerror (err),
                         wd_err_name (err), where);
    }
    /* nor claim a protection its key does not have */
    wd_keystore_status_t ks_status;
    wd_keystore_status (ks, &ks_status);
    if (have_cert && strcmp (cert.key_protection, ks_status.key_protection) != 0)
        node_child_fail (parent, WD_ERR_KEY_MISMATCH,
                         "node.cert claims key protection %s, but keystore %s provides %s",
                         cert.key_protection, backend, ks_status.key_protection);
    wd_vrf_key_t *vrf = s_load_vrf (cfg, parent, have_cert ? &cert : NULL);
    node_guard_t *guard = s_open_guard (cfg, parent);
    wd_log_info ("keystore %s open, identity %s, VRF key %s", backend,
                 wd_short_id (wd_keystore_public_key (ks)).s,
                 wd_short_id (wd_vrf_key_public (vrf)).s);
    if (!node_child_send (parent, WD_MSG_READY, 0, NULL, 0, NULL, 0))
        return 0;

    wd_chan_t *engine = NULL;
    bool running = true;
    while (running) {
        struct pollfd fds[3] = {
            { .fd = sigfd, .events = POLLIN },
            { .fd = wd_chan_fd (parent), .events = POLLIN },
            { .fd = engine ? wd_chan_fd (engine) : -1, .events = POLLIN },
        };
        if (poll (fds, 3, -1) < 0) {
            if (errno == EINTR)
                continue;
            wd_fatal ("poll");
        }
        struct signalfd_siginfo info;
        if (fds[0].revents && read (sigfd, &info, sizeof info) == (ssize_t)sizeof info &&
            info.ssi_signo != SIGHUP) {
            wd_log_debug ("stopping on signal %u", info.ssi_signo);
            running = false;
        }
        /* The engine first: a parent message may replace its channel. */
        if (running && engine && fds[2].revents && !s_engine_request (engine, ks, vrf, guard)) {
            wd_log_debug ("engine channel closed");
            wd_chan_destroy (&engine);
        }
        if (running && fds[1].revents && !s_parent_message (parent, &engine)) {
            wd_log_info ("parent has gone; stopping");
            running = false;
        }
    }
    wd_chan_destroy (&engine);
    wd_chan_destroy (&parent);
    wd_keystore_destroy (&ks);
    wd_vrf_key_destroy (&vrf);
    node_guard_destroy (&guard);
    wd_config_destroy (&cfg);
    close (sigfd);
    return 0;
}
