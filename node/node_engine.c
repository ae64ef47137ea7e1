/*
 * node_engine: a czmq zloop reactor over the parent channel, the keys
 * channel (through node_sign), the control socket and its clients, and a
 * signalfd.
 *
 * A status request runs in two steps through the keys process: KEYS_INFO
 * (the keystore's live status goes into the report), then SIGN over the
 * report's signing-rule digest. The reply is a "node-status" envelope, or,
 * when the keys process is down, slow (NODE_SIGN_TIMEOUT_MS per step) or
 * failing, the unsigned report with the reason — status must work best
 * exactly when something is wrong.
 */
#include "node_engine.h"

#include <czmq.h>
#include <errno.h>
#include <grp.h>
#include <limits.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <linux/sockios.h>
#include <sys/ioctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "node_agree.h"
#include "node_capsule.h"
#include "node_child.h"
#include "node_config.h"
#include "node_measure.h"
#include "node_mesh.h"
#include "node_attest.h"
#include "node_pcr.h"
#include "node_pxe_link.h"
#include "node_sign.h"
#include "node_status.h"
#include "node_verify.h"
#include "wd_cert.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_log.h"
#include "wd_msg.h"

#define MAX_CLIENTS  16
#define MAX_REQUESTS 64
/* Bounds that keep a client which never reads its replies from filling the
   socket buffer, so a reply never blocks the engine: a few requests in
   flight, and no new request while much of the last replies is unread. */
#define CLIENT_MAX_IN_FLIGHT 4
#define CLIENT_MAX_UNREAD    (64 * 1024)

typedef struct s_engine s_engine_t;

typedef struct {
    s_engine_t *engine;
    wd_chan_t *chan;
    zmq_pollitem_t item;
    pid_t pid;
} s_client_t;

/* A status request on its way through the keys process: KEYS_INFO, then
   SIGN over the report's digest. */
typedef struct {
    s_engine_t *engine;
    bool busy;
    s_client_t *client; /* NULL once the client has left */
    uint32_t client_peer;
    uint8_t nonce[WD_MSG_NONCE_LEN];
    uint8_t *status; /* the report, once built */
    size_t status_len;
    wd_msg_keys_status_t keys;
} s_request_t;

struct s_engine {
    zloop_t *loop;
    wd_config_t *cfg;
    wd_chan_t *parent;
    node_sign_t *signer;
    zmq_pollitem_t parent_item;
    zmq_pollitem_t listen_item;
    zmq_pollitem_t signal_item;
    char control_path[PATH_MAX];
    gid_t control_gid;
    bool has_control_group;
    uint8_t *cert_bytes;
    size_t cert_len;
    wd_cert_t cert;
    attest_log_t *measurements;
    node_mesh_t *mesh;     /* the peer mesh; NULL when not configured */
    node_agree_t *agree;   /* the agreement and the ledger; NULL without the mesh */
    node_verify_t *verify; /* verifier committees; NULL without the agreement */
    node_pxe_link_t *pxe;  /* the pxe child's channel, served records, status */
    node_attest_t *attest; /* host attestation server and evidence store */
    node_pcr_t *pcr;       /* the PCR signer; NULL unless pcr/enable */
    /* capsule tasks; NULL without the agreement or with capsule/enable false */
    node_capsule_t *capsule;
    node_status_procs_t procs;
    s_client_t *clients[MAX_CLIENTS];
    s_request_t requests[MAX_REQUESTS];
};

/* ---- status requests --------------------------------------------------------- */

static void
s_request_free (s_request_t *req)
{
    free (req->status);
    memset (req, 0, sizeof *req);
}

static void
s_client_send (s_client_t *client, uint32_t type, uint32_t peer, const uint8_t *body, size_t len)
{
    wd_err_t err = wd_chan_send (client->chan, type, peer, body, len, NULL, 0);
    if (err != WD_OK)
        wd_log_debug ("control client pid %d: reply not sent: %s", (int)client->pid,
                      wd_strerror (err));
}

/* Replies WD_MSG_ERROR {code, "what: reason"} to a control client. */
static void
s_client_error (s_client_t *client, uint32_t peer, int code, const char *what)
{
    char message[WD_MSG_ERROR_MAX + 1];
    snprintf (message, sizeof message, "%s: %s", what, wd_strerror (code));
    size_t len;
    uint8_t *body = wd_msg_encode_error (code, message, &len);
    s_client_send (client, WD_MSG_ERROR, peer, body, len);
    free (body);
}

static void
s_build_status (s_request_t *req, const wd_msg_keys_status_t *keys)
{
    s_engine_t *self = req->engine;
    req->status =
        node_status_build (self->cfg, self->cert_bytes, self->cert_len, req->nonce, &self->procs,
                           keys, attest_log_state (self->measurements), &req->status_len);
}

/* Replies with the unsigned report and the reason, then frees req. */
static void
s_finish_unsigned (s_request_t *req, const wd_msg_keys_status_t *keys, const char *reason)
{
    if (req->client) {
        if (!req->status)
            s_build_status (req, keys);
        size_t len;
        uint8_t *body = node_status_reply_unsigned (req->status, req->status_len, reason, &len);
        s_client_send (req->client, WD_MSG_CTL_STATUS_REPLY, req->client_peer, body, len);
        free (body);
    }
    s_request_free (req);
}

static void
s_status_signed (void *arg, const uint8_t sig[WD_SIG_LEN], const char *reason)
{
    s_request_t *req = arg;
    if (!sig) {
        s_finish_unsigned (req, &req->keys, reason);
        return;
    }
    if (req->client) {
        wd_envelope_t env = { .body = req->status, .body_len = req->status_len };
        snprintf (env.type, sizeof env.type, "%s", NODE_STATUS_TYPE);
        memcpy (env.chain, wd_cert_no_chain, WD_CHAIN_ID_LEN);
        memcpy (env.from, req->engine->cert.sign_pk, WD_PUBKEY_LEN);
        memcpy (env.sig, sig, WD_SIG_LEN);
        uint8_t *envelope;
        size_t envelope_len;
        wd_envelope_encode (&env, &envelope, &envelope_len);
        size_t len;
        uint8_t *body = node_status_reply_signed (envelope, envelope_len, &len);
        s_client_send (req->client, WD_MSG_CTL_STATUS_REPLY, req->client_peer, body, len);
        free (body);
        free (envelope);
    }
    s_request_free (req);
}

/* The keystore answered: build the report and ask for its signature. */
static void
s_status_info (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    s_request_t *req = arg;
    if (!keys) {
        s_finish_unsigned (req, NULL, reason);
        return;
    }
    req->keys = *keys;
    s_build_status (req, keys);
    if (sodium_memcmp (keys->public_key, req->engine->cert.sign_pk, WD_PUBKEY_LEN) != 0) {
        s_finish_unsigned (req, keys, "the keystore's key is not the key of node.cert");
        return;
    }
    uint8_t digest[WD_DIGEST_LEN];
    wd_envelope_digest (digest, NODE_STATUS_TYPE, wd_cert_no_chain, req->status, req->status_len);
    node_sign_digest (req->engine->signer, digest, s_status_signed, req);
}

static void
s_status_start (s_engine_t *self, s_client_t *client, uint32_t peer,
                const uint8_t nonce[WD_MSG_NONCE_LEN])
{
    s_request_t *req = NULL;
    for (size_t i = 0; i < MAX_REQUESTS && !req; i++)
        if (!self->requests[i].busy)
            req = &self->requests[i];
    if (!req) {
        s_client_error (client, peer, WD_ERR_UNAVAILABLE, "too many requests");
        return;
    }
    *req = (s_request_t){ .engine = self, .busy = true, .client = client, .client_peer = peer };
    memcpy (req->nonce, nonce, WD_MSG_NONCE_LEN);
    node_sign_info (self->signer, s_status_info, req);
}

/* A keys process that (re)connects reports its keystore into the node's
   measurement log. */
static void
s_measure_keystore (void *arg, const wd_msg_keys_status_t *keys, const char *reason)
{
    s_engine_t *self = arg;
    if (!keys) {
        wd_log_warnx ("keystore measurement: %s", reason);
        return;
    }
    int rc = node_measure_keystore (self->measurements, self->cfg, keys);
    if (rc != WD_OK)
        wd_log_warnx ("keystore measurement: %s", attest_strerror (rc));
}

/* ---- parent channel ---------------------------------------------------------- */

static int
s_on_parent (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_engine_t *self = arg;
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->parent, &msg);
    if (err == WD_ERR_AGAIN)
        return 0;
    if (err == WD_ERR_CLOSED) {
        wd_log_info ("parent has gone; stopping");
        return -1;
    }
    if (err != WD_OK)
        wd_fatalx ("parent channel: %s", wd_strerror (err));

    switch (msg.type) {
        case WD_MSG_KEYS_CHANNEL:
            if (msg.nfds != 1)
                wd_fatalx ("keys-channel message without a descriptor");
            {
                wd_chan_t *keys = wd_chan_new (msg.fds[0]);
                msg.fds[0] = -1;
                if (!keys)
                    wd_fatalx ("out of memory");
                node_sign_connect (self->signer, keys);
                node_sign_info (self->signer, s_measure_keystore, self);
                break;
            }
        case WD_MSG_PROC_STATE: {
            wd_msg_proc_state_t state;
            err = wd_msg_decode_proc_state (msg.body, msg.body_len, &state);
            if (err != WD_OK)
                wd_fatalx ("parent sent a bad proc-state: %s", wd_strerror (err));
            int role = node_proc_role (state.name);
            if (role < 0)
                wd_fatalx ("parent sent proc-state for unknown process '%s'", state.name);
            self->procs.procs[role] = state;
            break;
        }
        case WD_MSG_PING:
            node_child_send (self->parent, WD_MSG_PONG, msg.peer, NULL, 0, NULL, 0);
            break;
        case WD_MSG_SANDBOX_DONE:
            node_capsule_sandbox_done (self->capsule, msg.peer, msg.body, msg.body_len);
            break;
        case WD_MSG_PXE_CHANNEL:
            if (msg.nfds != 1)
                wd_fatalx ("pxe-channel message without a descriptor");
            node_pxe_link_set_channel (self->pxe, msg.fds[0]);
            msg.fds[0] = -1;
            break;
        default:
            wd_fatalx ("parent sent an unexpected %s message", wd_msg_name (msg.type));
    }
    wd_chan_msg_clear (&msg);
    return 0;
}

/* A boot token the pxe child issued: the attestation server admits the
   host's agent with it once. */
static void
s_pxe_token (void *arg, const char *token_hex, const char *host)
{
    s_engine_t *self = arg;
    int rc = node_attest_add_token (self->attest, token_hex, host);
    if (rc != WD_OK)
        wd_log_warnx ("boot token for %s dropped: %s", host, attest_strerror (rc));
}

/* Host evidence node_attest stored goes to the verifier committees. */
static void
s_host_evidence (void *arg, const uint8_t *envelope, size_t len)
{
    s_engine_t *self = arg;
    node_verify_host_evidence (self->verify, envelope, len);
}

/* node_mesh's replies to control clients. */
static void
s_mesh_reply (void *client, uint32_t peer, uint32_t type, const uint8_t *body, size_t len)
{
    s_client_send (client, type, peer, body, len);
}

/* node_capsule's replies to control clients, with a descriptor when fd >= 0
   (closed here). */
static void
s_capsule_reply (void *client, uint32_t peer, uint32_t type, const uint8_t *body, size_t len,
                 int fd)
{
    s_client_t *c = client;
    wd_err_t err = wd_chan_send (c->chan, type, peer, body, len, fd >= 0 ? &fd : NULL, fd >= 0);
    if (err != WD_OK)
        wd_log_debug ("control client pid %d: reply not sent: %s", (int)c->pid, wd_strerror (err));
    if (fd >= 0)
        close (fd);
}

/* ---- control socket ---------------------------------------------------------- */

static void
s_client_remove (s_engine_t *self, s_client_t *client)
{
    node_mesh_client_gone (self->mesh, client);
    node_capsule_client_gone (self->capsule, client);
    for (size_t i = 0; i < MAX_REQUESTS; i++)
        if (self->requests[i].client == client)
            self->requests[i].client = NULL;
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (self->clients[i] == client)
            self->clients[i] = NULL;
    zloop_poller_end (self->loop, &client->item);
    wd_chan_destroy (&client->chan);
    free (client);
}

static int
s_on_client (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    s_client_t *client = arg;
    s_engine_t *self = client->engine;
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (client->chan, &msg);
    if (err == WD_ERR_AGAIN)
        return 0;
    if (err != WD_OK) {
        if (err != WD_ERR_CLOSED)
            wd_log_warnx ("control client pid %d: %s; disconnected", (int)client->pid,
                          wd_strerror (err));
        s_client_remove (self, client);
        return 0;
    }
    int unread = 0;
    if (ioctl (wd_chan_fd (client->chan), SIOCOUTQ, &unread) == 0 && unread > CLIENT_MAX_UNREAD) {
        wd_log_warnx ("control client pid %d does not read its replies; disconnected",
                      (int)client->pid);
        wd_chan_msg_clear (&msg);
        s_client_remove (self, client);
        return 0;
    }
    size_t in_flight = 0;
    for (size_t i = 0; i < MAX_REQUESTS; i++)
        in_flight += self->requests[i].busy && self->requests[i].client == client;
    if (in_flight >= CLIENT_MAX_IN_FLIGHT)
        s_client_error (client, msg.peer, WD_ERR_UNAVAILABLE, "too many requests in flight");
    else if (msg.type == WD_MSG_CTL_STATUS && msg.nfds == 0) {
        uint8_t nonce[WD_MSG_NONCE_LEN];
        wd_err_t bad = wd_msg_decode_nonce (msg.body, msg.body_len, nonce);
        if (bad == WD_OK)
            s_status_start (self, client, msg.peer, nonce);
        else
            s_client_error (client, msg.peer, bad, "status request");
    } else if (msg.type == WD_MSG_CTL_PXE && msg.nfds == 0 && msg.body_len == 0) {
        size_t len;
        uint8_t *body = node_pxe_link_reply (self->pxe, &len);
        s_client_send (client, WD_MSG_CTL_PXE_REPLY, msg.peer, body, len);
        free (body);
    } else if (node_attest_handles (msg.type) && msg.nfds == 0) {
        uint32_t type;
        uint8_t *body = NULL;
        size_t len = 0;
        char what[WD_MSG_ERROR_MAX + 1];
        int rc = node_attest_control (self->attest, msg.type, msg.body, msg.body_len, &type, &body,
                                      &len, what, sizeof what);
        if (rc == WD_OK)
            s_client_send (client, type, msg.peer, body, len);
        else {
            size_t elen;
            uint8_t *ebody = wd_msg_encode_error (rc, what, &elen);
            s_client_send (client, WD_MSG_ERROR, msg.peer, ebody, elen);
            free (ebody);
        }
        free (body);
    } else if (node_agree_handles (msg.type) && msg.nfds == 0) {
        if (self->agree)
            node_agree_request (self->agree, client, msg.peer, msg.type, msg.body, msg.body_len);
        else
            s_client_error (client, msg.peer, WD_ERR_UNAVAILABLE,
                            "agreement is not running (no mesh)");
    } else if (node_mesh_handles (msg.type) && msg.nfds == 0) {
        if (self->mesh)
            node_mesh_request (self->mesh, client, msg.peer, msg.type, msg.body, msg.body_len);
        else
            s_client_error (client, msg.peer, WD_ERR_UNAVAILABLE,
                            "mesh is not running (no genesis, or mesh/listen unset)");
    } else if (node_capsule_handles (msg.type)) {
        if (self->capsule)
            node_capsule_request (self->capsule, client, &msg);
        else
            s_client_error (client, msg.peer, WD_ERR_UNAVAILABLE,
                            "capsules are not running (no agreement, or capsule/enable false)");
    } else
        s_client_error (client, msg.peer, WD_ERR_BAD_VALUE, "unsupported request");
    wd_chan_msg_clear (&msg);
    return 0;
}

/* Root, wardend's own user and members of the configured control group may
   connect. SO_PEERCRED carries only the primary group, so supplementary
   groups come from SO_PEERGROUPS (the peer's groups when it connected). */
static bool
s_client_allowed (const s_engine_t *self, int fd, uid_t uid, gid_t gid)
{
    if (uid == 0 || uid == geteuid ())
        return true;
    if (!self->has_control_group)
        return false;
    if (gid == self->control_gid)
        return true;
    gid_t groups[256];
    socklen_t len = sizeof groups;
    if (getsockopt (fd, SOL_SOCKET, SO_PEERGROUPS, groups, &len) != 0)
        return false; /* more groups than we look at, or no SO_PEERGROUPS: refuse */
    for (size_t i = 0; i < len / sizeof groups[0]; i++)
        if (groups[i] == self->control_gid)
            return true;
    return false;
}

static int
s_on_listen (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    s_engine_t *self = arg;
    uid_t uid;
    gid_t gid;
    pid_t pid;
    wd_chan_t *chan = wd_chan_accept (item->fd, &uid, &gid, &pid);
    if (!chan) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            wd_log_warn ("control socket: accept");
        return 0;
    }
    if (!s_client_allowed (self, wd_chan_fd (chan), uid, gid)) {
        wd_log_warnx ("control socket: refused pid %d (uid %u, gid %u)", (int)pid, (unsigned)uid,
                      (unsigned)gid);
        wd_chan_destroy (&chan);
        return 0;
    }
    size_t slot = MAX_CLIENTS;
    for (size_t i = 0; i < MAX_CLIENTS && slot == MAX_CLIENTS; i++)
        if (!self->clients[i])
            slot = i;
    s_client_t *client = slot < MAX_CLIENTS ? calloc (1, sizeof *client) : NULL;
    if (!client) {
        wd_log_warnx ("control socket: too many clients; refused pid %d", (int)pid);
        wd_chan_destroy (&chan);
        return 0;
    }
    client->engine = self;
    client->chan = chan;
    client->pid = pid;
    client->item = (zmq_pollitem_t){ .fd = wd_chan_fd (chan), .events = ZMQ_POLLIN };
    if (zloop_poller (loop, &client->item, s_on_client, client) != 0)
        wd_fatal ("zloop_poller");
    self->clients[slot] = client;
    wd_log_debug ("control client pid %d (uid %u) connected", (int)pid, (unsigned)uid);
    return 0;
}

static int
s_on_signal (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)arg;
    struct signalfd_siginfo info;
    if (read (item->fd, &info, sizeof info) != (ssize_t)sizeof info)
        return 0;
    if (info.ssi_signo == SIGHUP)
        return 0; /* the parent reloads by restarting its children */
    wd_log_debug ("stopping on signal %u", info.ssi_signo);
    return -1;
}

/* ---- start-up ---------------------------------------------------------------- */

static void
s_load_cert (s_engine_t *self)
{
    char path[PATH_MAX];
    if (node_path_state (self->cfg, "node.cert", path, sizeof path) != 0)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "state path is too long");
    zchunk_t *chunk = NULL;
    zfile_t *file = zfile_new (NULL, path);
    if (file && zfile_is_regular (file) && zfile_input (file) == 0)
        chunk = zfile_read (file, WD_CERT_MAX_BYTES + 1, 0);
    zfile_destroy (&file);
    if (!chunk)
        node_child_fail (self->parent, WD_ERR_NOT_FOUND,
                         "cannot read node certificate %s (run wardenctl init)", path);
    self->cert_len = zchunk_size (chunk);
    self->cert_bytes = malloc (self->cert_len ? self->cert_len : 1);
    if (!self->cert_bytes)
        wd_fatalx ("out of memory");
    memcpy (self->cert_bytes, zchunk_data (chunk), self->cert_len);
    zchunk_destroy (&chunk);
    wd_err_t err = wd_cert_open (self->cert_bytes, self->cert_len, &self->cert);
    if (err != WD_OK)
        node_child_fail (self->parent, err, "node certificate %s: %s", path, wd_strerror (err));
    if (strcmp (self->cert.name, wd_config_str (self->cfg, "node/name")) != 0)
        node_child_fail (self->parent, WD_ERR_KEY_MISMATCH,
                         "node certificate %s is for '%s', configuration says '%s'", path,
                         self->cert.name, wd_config_str (self->cfg, "node/name"));
}

static void
s_open_control (s_engine_t *self)
{
    if (node_path_control (self->cfg, self->control_path, sizeof self->control_path) != 0)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "control socket path is too long");
    const char *group = wd_config_str (self->cfg, "control/group");
    if (group) {
        struct group *gr = getgrnam (group);
        if (!gr)
            node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "control/group '%s' does not exist",
                             group);
        self->control_gid = gr->gr_gid;
        self->has_control_group = true;
    }
    int fd = wd_chan_listen (self->control_path, 0660);
    if (fd < 0)
        node_child_fail (self->parent, WD_ERR_IO, "control socket %s: %s", self->control_path,
                         strerror (errno));
    if (self->has_control_group && chown (self->control_path, (uid_t)-1, self->control_gid) != 0)
        node_child_fail (self->parent, WD_ERR_IO, "control socket %s: chown: %s",
                         self->control_path, strerror (errno));
    self->listen_item = (zmq_pollitem_t){ .fd = fd, .events = ZMQ_POLLIN };
}

int
node_engine_main (void)
{
    /* czmq must not take over SIGINT/SIGTERM: the signalfd handles them. */
    zsys_handler_set (NULL);
    s_engine_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->cfg = node_child_start (NODE_PROC_ENGINE, &self->parent);
    int sigfd = node_child_signalfd ();
    s_load_cert (self);
    char why[256];
    self->measurements = node_measure_start (self->cfg, why, sizeof why);
    if (!self->measurements)
        node_child_fail (self->parent, WD_ERR_IO, "%s", why);
    char log_path[PATH_MAX];
    if (node_path_state (self->cfg, NODE_MEASURE_FILE, log_path, sizeof log_path) != 0)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "state path is too long");
    int measured =
        node_verify_measure_files (self->measurements, self->cfg, log_path, why, sizeof why);
    if (measured != WD_OK)
        node_child_fail (self->parent, measured, "%s", why);
    s_open_control (self);

    self->loop = zloop_new ();
    if (!self->loop)
        wd_fatalx ("out of memory");
    self->signer = node_sign_new (self->loop, self->cert.sign_pk);
    node_sign_set_vrf_key (self->signer, self->cert.vrf_pk);
    if (node_mesh_new (self->loop, self->cfg, &self->cert, self->signer, s_mesh_reply, &self->mesh,
                       why, sizeof why) != WD_OK)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "mesh: %s", why);
    if (node_agree_new (self->loop, self->cfg, &self->cert, self->signer, self->mesh, s_mesh_reply,
                        &self->agree, why, sizeof why) != WD_OK)
        node_child_fail (self->parent, WD_ERR_IO, "agreement: %s", why);
    node_mesh_set_ledger (self->mesh, self->agree ? node_agree_ledger (self->agree) : NULL);
    if (node_verify_new (self->loop, self->cfg, &self->cert, self->signer, self->mesh, self->agree,
                         self->measurements, &self->verify, why, sizeof why) != WD_OK)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "verifier committees: %s", why);
    self->pxe = node_pxe_link_new (self->loop, self->measurements, self->cfg, s_pxe_token, self);
    if (!self->pxe)
        wd_fatalx ("out of memory");
    self->attest =
        node_attest_new (self->loop, self->cfg, &self->cert, self->signer, why, sizeof why);
    if (!self->attest)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "host attestation: %s", why);
    if (self->verify)
        node_attest_set_evidence_hook (self->attest, s_host_evidence, self);
    if (node_pcr_new (self->loop, self->cfg, &self->cert, self->signer, &self->pcr, why,
                      sizeof why) != WD_OK)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "pcr: %s", why);
    node_pcr_set_mesh (self->pcr, self->mesh); /* anchors checkpoints in a cluster's ledger */
    if (node_capsule_new (self->loop, self->cfg, &self->cert, self->signer, self->mesh, self->agree,
                          self->parent, s_capsule_reply, &self->capsule, why, sizeof why) != WD_OK)
        node_child_fail (self->parent, WD_ERR_CONFIG_VALUE, "capsule: %s", why);
    self->parent_item = (zmq_pollitem_t){ .fd = wd_chan_fd (self->parent), .events = ZMQ_POLLIN };
    self->signal_item = (zmq_pollitem_t){ .fd = sigfd, .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &self->parent_item, s_on_parent, self) != 0 ||
        zloop_poller (self->loop, &self->signal_item, s_on_signal, self) != 0 ||
        zloop_poller (self->loop, &self->listen_item, s_on_listen, self) != 0)
        wd_fatal ("zloop_poller");

    wd_log_info ("node %s (%s) serving control socket %s", self->cert.name,
                 wd_short_id (self->cert.sign_pk).s, self->control_path);
    if (node_child_send (self->parent, WD_MSG_READY, 0, NULL, 0, NULL, 0))
        zloop_start (self->loop);

    node_attest_destroy (&self->attest); /* before the signer: it answers its requests */
    node_pcr_destroy (&self->pcr);       /* likewise */
    /* likewise, and before the agreement and the mesh */
    node_capsule_destroy (&self->capsule);
    node_sign_destroy (&self->signer);   /* answers the requests still in flight */
    node_verify_destroy (&self->verify); /* after the signer, before the agreement */
    node_agree_destroy (&self->agree);   /* after the signer, before the mesh it uses */
    node_mesh_destroy (&self->mesh);     /* after the signer: it answers its publishes */
    node_pxe_link_destroy (&self->pxe);
    for (size_t i = 0; i < MAX_CLIENTS; i++)
        if (self->clients[i])
            s_client_remove (self, self->clients[i]);
    zloop_destroy (&self->loop);
    close (self->listen_item.fd);
    unlink (self->control_path);
    wd_chan_destroy (&self->parent);
    wd_config_destroy (&self->cfg);
    free (self->cert_bytes);
    attest_log_destroy (&self->measurements);
    free (self);
    close (sigfd);
    return 0;
}
