/*
 * node_sign: a fixed table of requests (signatures, keystore status,
 * sealed envelopes, VRF proofs), each with its own timeout timer;
 * replies are matched by the channel header's peer field, which carries the
 * request id. A request whose send fails is failed from a zero-delay timer,
 * so a callback never runs inside the call that asked — unless all
 * NODE_SIGN_MAX slots are taken, which is answered at once.
 */
#include "node_sign.h"

#include <assert.h>
#include <poll.h>
#include <sodium.h>
#include <stdlib.h>
#include <string.h>

#include "wd_log.h"

#define S_DRAIN_MAX 64 /* keys replies handled in one turn of the reactor, at most */

typedef enum {
    S_FREE = 0,
    S_DIGEST,
    S_INFO,
    S_SEAL,
    S_VRF,
    S_STEP, /* a guarded agreement signature */
} s_kind_t;

typedef struct {
    s_kind_t kind;
    uint32_t id;
    int timer;
    const char *pending_failure; /* set when the request failed before it was sent */
    uint8_t digest[WD_DIGEST_LEN];
    wd_envelope_t envelope; /* S_SEAL: everything but the signature; body owned */
    node_sign_done_fn *done;
    node_sign_info_fn *info;
    node_sign_sealed_fn *sealed;
    node_sign_vrf_fn *vrf;
    node_sign_step_fn *step;
    int refused;    /* S_STEP: the guard's code from an error reply */
    uint8_t *alpha; /* S_VRF: owned copy */
    size_t alpha_len;
    void *arg;
} s_request_t;

struct node_sign {
    zloop_t *loop;
    uint8_t sign_pk[WD_PUBKEY_LEN];
    uint8_t vrf_pk[WD_VRF_PK_LEN];
    bool has_vrf_pk;
    wd_chan_t *keys;
    zmq_pollitem_t item;
    s_request_t requests[NODE_SIGN_MAX];
    uint32_t next_id;
};

/* Frees the slot first, then answers, so the callback may ask again. For
   S_VRF, sig is pi and beta its checked output. */
static void
s_finish_vrf (node_sign_t *self, s_request_t *req, const uint8_t *sig,
              const wd_msg_keys_status_t *keys, const uint8_t *beta, const char *reason)
{
    if (req->timer >= 0)
        zloop_timer_end (self->loop, req->timer);
    s_request_t done = *req;
    memset (req, 0, sizeof *req);
    req->timer = -1;
    switch (done.kind) {
        case S_DIGEST:
            done.done (done.arg, sig, sig ? NULL : reason);
            break;
        case S_INFO:
            done.info (done.arg, keys, keys ? NULL : reason);
            break;
        case S_SEAL: {
            uint8_t *bytes = NULL;
            size_t len = 0;
            if (sig) {
                memcpy (done.envelope.sig, sig, WD_SIG_LEN);
                wd_envelope_encode (&done.envelope, &bytes, &len);
            }
            done.sealed (done.arg, bytes, len, sig ? NULL : reason);
            free (bytes);
            free ((void *)done.envelope.body);
            break;
        }
        case S_VRF:
            done.vrf (done.arg, sig, sig ? beta : NULL, sig ? NULL : reason);
            free (done.alpha);
            break;
        case S_STEP:
            done.step (done.arg, sig, sig ? 0 : done.refused, sig ? NULL : reason);
            break;
        case S_FREE:
            break;
    }
}

static void
s_finish (node_sign_t *self, s_request_t *req, const uint8_t *sig, const wd_msg_keys_status_t *keys,
          const char *reason)
{
    s_finish_vrf (self, req, sig, keys, NULL, reason);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    node_sign_t *self = arg;
    for (size_t i = 0; i < NODE_SIGN_MAX; i++) {
        s_request_t *req = &self->requests[i];
        if (req->kind != S_FREE && req->timer == timer_id) {
            req->timer = -1; /* a one-shot timer ends itself */
            s_finish (self, req, NULL, NULL,
                      req->pending_failure ? req->pending_failure
                                           : "keys process did not answer in time");
        }
    }
    return 0;
}

static void
s_fail_all (node_sign_t *self, const char *reason)
{
    for (size_t i = 0; i < NODE_SIGN_MAX; i++)
        if (self->requests[i].kind != S_FREE)
            s_finish (self, &self->requests[i], NULL, NULL, reason);
}

static void
s_drop_channel (node_sign_t *self, const char *why)
{
    if (!self->keys)
        return;
    zloop_poller_end (self->loop, &self->item);
    wd_chan_destroy (&self->keys);
    wd_log_info ("keys channel closed (%s)", why);
    s_fail_all (self, "keys process exited");
}

static s_request_t *
s_find (node_sign_t *self, uint32_t id)
{
    for (size_t i = 0; i < NODE_SIGN_MAX; i++)
        if (self->requests[i].kind != S_FREE && self->requests[i].id == id)
            return &self->requests[i];
    return NULL;
}

static void
s_on_signature (node_sign_t *self, s_request_t *req, const wd_chan_msg_t *msg)
{
    uint8_t sig[WD_SIG_LEN];
    wd_err_t err = wd_msg_decode_signature (msg->body, msg->body_len, sig);
    if (err != WD_OK)
        wd_fatalx ("keys sent a bad signature message: %s", wd_strerror (err));
    if (crypto_sign_verify_detached (sig, req->digest, WD_DIGEST_LEN, self->sign_pk) != 0)
        s_finish (self, req, NULL, NULL, "the keys process returned a bad signature");
    else
        s_finish (self, req, sig, NULL, NULL);
}

static void
s_on_vrf_proof (node_sign_t *self, s_request_t *req, const wd_chan_msg_t *msg)
{
    uint8_t pi[WD_VRF_PROOF_LEN], beta[WD_VRF_BETA_LEN];
    wd_err_t err = wd_msg_decode_vrf_proof (msg->body, msg->body_len, pi);
    if (err != WD_OK)
        wd_fatalx ("keys sent a bad vrf-proof message: %s", wd_strerror (err));
    if (wd_vrf_verify (self->vrf_pk, req->alpha, req->alpha_len, pi, sizeof pi, beta) != WD_OK)
        s_finish (self, req, NULL, NULL, "the keys process returned a bad VRF proof");
    else
        s_finish_vrf (self, req, pi, NULL, beta, NULL);
}

static void
s_on_keys_one (node_sign_t *self)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->keys, &msg);
    if (err == WD_ERR_AGAIN)
        return;
    if (err == WD_ERR_CLOSED) {
        s_drop_channel (self, "end of file");
        return;
    }
    if (err != WD_OK)
        wd_fatalx ("keys channel: %s", wd_strerror (err));

    s_request_t *req = s_find (self, msg.peer);
    bool wants_signature =
        req && (req->kind == S_DIGEST || req->kind == S_SEAL || req->kind == S_STEP);
    if (!req)
        wd_log_debug ("late %s reply for request %u", wd_msg_name (msg.type), msg.peer);
    else if (msg.type == WD_MSG_KEYS_STATUS && req->kind == S_INFO) {
        wd_msg_keys_status_t keys;
        err = wd_msg_decode_keys_status (msg.body, msg.body_len, &keys);
        if (err != WD_OK)
            wd_fatalx ("keys sent a bad keys-status: %s", wd_strerror (err));
        s_finish (self, req, NULL, &keys, NULL);
    } else if (msg.type == WD_MSG_SIGNATURE && wants_signature)
        s_on_signature (self, req, &msg);
    else if (msg.type == WD_MSG_VRF_PROOF && req->kind == S_VRF)
        s_on_vrf_proof (self, req, &msg);
    else if (msg.type == WD_MSG_ERROR) {
        int code;
        char message[WD_MSG_ERROR_MAX + 1];
        err = wd_msg_decode_error (msg.body, msg.body_len, &code, message);
        if (err != WD_OK)
            wd_fatalx ("keys sent a bad error message: %s", wd_strerror (err));
        if (req->kind == S_STEP &&
            (code == WD_ERR_SIGN_CONFLICT || code == WD_ERR_SIGN_REGRESS || code == WD_ERR_IO))
            req->refused = code;
        s_finish (self, req, NULL, NULL, message);
    } else
        wd_fatalx ("keys sent an unexpected %s message", wd_msg_name (msg.type));
    wd_chan_msg_clear (&msg);
}

/* Handles every reply the keys process has queued (the channel is
   blocking: each further one only after a poll says it is there), so that
   the records one turn of the reactor seals leave in one gossip message
   per peer (node_mesh). */
static int
s_on_keys (zloop_t *loop, zmq_pollitem_t *item, void *arg)
{
    (void)loop;
    (void)item;
    node_sign_t *self = arg;
    for (int i = 0; i < S_DRAIN_MAX && self->keys; i++) {
        if (i > 0) {
            struct pollfd pfd = { .fd = wd_chan_fd (self->keys), .events = POLLIN };
            if (poll (&pfd, 1, 0) != 1 || !(pfd.revents & POLLIN))
                break;
        }
        s_on_keys_one (self);
    }
    return 0;
}

node_sign_t *
node_sign_new (zloop_t *loop, const uint8_t sign_pk[WD_PUBKEY_LEN])
{
    node_sign_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    memcpy (self->sign_pk, sign_pk, WD_PUBKEY_LEN);
    for (size_t i = 0; i < NODE_SIGN_MAX; i++)
        self->requests[i].timer = -1;
    return self;
}

void
node_sign_destroy (node_sign_t **self_p)
{
    if (!self_p || !*self_p)
        return;
    node_sign_t *self = *self_p;
    s_fail_all (self, "engine stopping");
    if (self->keys) {
        zloop_poller_end (self->loop, &self->item);
        wd_chan_destroy (&self->keys);
    }
    free (self);
    *self_p = NULL;
}

void
node_sign_connect (node_sign_t *self, wd_chan_t *keys)
{
    s_drop_channel (self, "replaced");
    self->keys = keys;
    self->item = (zmq_pollitem_t){ .fd = wd_chan_fd (keys), .events = ZMQ_POLLIN };
    if (zloop_poller (self->loop, &self->item, s_on_keys, self) != 0)
        wd_fatal ("zloop_poller");
    wd_log_debug ("keys channel connected");
}

/* Takes a free slot and sends the request; a request that cannot be sent
   (or that fails before sending: refuse not NULL) is failed from a
   zero-delay timer. Returns NULL when the table is full. */
static s_request_t *
s_start_or_refuse (node_sign_t *self, s_kind_t kind, uint32_t type, const uint8_t *body, size_t len,
                   const char *refuse)
{
    s_request_t *req = NULL;
    for (size_t i = 0; i < NODE_SIGN_MAX && !req; i++)
        if (self->requests[i].kind == S_FREE)
            req = &self->requests[i];
    if (!req)
        return NULL;
    req->kind = kind;
    if (++self->next_id == 0)
        ++self->next_id;
    req->id = self->next_id;
    unsigned delay = NODE_SIGN_TIMEOUT_MS;
    wd_err_t err = WD_OK;
    if (refuse) {
        req->pending_failure = refuse;
        delay = 0;
    } else if (!self->keys)
        err = WD_ERR_CLOSED;
    else
        err = wd_chan_send (self->keys, type, req->id, body, len, NULL, 0);
    if (err != WD_OK) {
        req->pending_failure = "keys process is not running";
        delay = 0;
        if (self->keys)
            wd_log_warnx ("keys channel: %s", wd_strerror (err));
    }
    req->timer = zloop_timer (self->loop, delay, 1, s_on_timer, self);
    if (req->timer < 0)
        wd_fatal ("zloop_timer");
    return req;
}

static s_request_t *
s_start (node_sign_t *self, s_kind_t kind, uint32_t type, const uint8_t *body, size_t len)
{
    return s_start_or_refuse (self, kind, type, body, len, NULL);
}

static const char s_full[] = "too many signing requests in flight";

void
node_sign_digest (node_sign_t *self, const uint8_t digest[WD_DIGEST_LEN], node_sign_done_fn *done,
                  void *arg)
{
    uint8_t body[WD_MSG_SMALL_MAX];
    size_t len = wd_msg_encode_digest (body, digest);
    s_request_t *req = s_start (self, S_DIGEST, WD_MSG_SIGN, body, len);
    if (!req) {
        done (arg, NULL, s_full);
        return;
    }
    memcpy (req->digest, digest, WD_DIGEST_LEN);
    req->done = done;
    req->arg = arg;
}

void
node_sign_step (node_sign_t *self, const wd_msg_sign_step_t *step, node_sign_step_fn *done,
                void *arg)
{
    uint8_t body[WD_MSG_SIGN_STEP_MAX];
    size_t len = wd_msg_encode_sign_step (body, step);
    s_request_t *req = s_start (self, S_STEP, WD_MSG_SIGN_STEP, body, len);
    if (!req) {
        done (arg, NULL, 0, s_full);
        return;
    }
    memcpy (req->digest, step->digest, WD_DIGEST_LEN);
    req->step = done;
    req->arg = arg;
}

void
node_sign_info (node_sign_t *self, node_sign_info_fn *done, void *arg)
{
    s_request_t *req = s_start (self, S_INFO, WD_MSG_KEYS_INFO, NULL, 0);
    if (!req) {
        done (arg, NULL, s_full);
        return;
    }
    req->info = done;
    req->arg = arg;
}

void
node_sign_seal (node_sign_t *self, const char *type, const uint8_t chain[WD_CHAIN_ID_LEN],
                const uint8_t *body, size_t body_len, node_sign_sealed_fn *done, void *arg)
{
    uint8_t digest[WD_DIGEST_LEN], msg[WD_MSG_SMALL_MAX];
    wd_envelope_digest (digest, type, chain, body, body_len);
    size_t len = wd_msg_encode_digest (msg, digest);
    s_request_t *req = s_start (self, S_SEAL, WD_MSG_SIGN, msg, len);
    if (!req) {
        done (arg, NULL, 0, s_full);
        return;
    }
    memcpy (req->digest, digest, WD_DIGEST_LEN);
    snprintf (req->envelope.type, sizeof req->envelope.type, "%s", type);
    memcpy (req->envelope.chain, chain, WD_CHAIN_ID_LEN);
    memcpy (req->envelope.from, self->sign_pk, WD_PUBKEY_LEN);
    uint8_t *copy = malloc (body_len ? body_len : 1);
    if (!copy)
        wd_fatalx ("out of memory");
    memcpy (copy, body, body_len);
    req->envelope.body = copy;
    req->envelope.body_len = body_len;
    req->sealed = done;
    req->arg = arg;
}

void
node_sign_set_vrf_key (node_sign_t *self, const uint8_t vrf_pk[WD_VRF_PK_LEN])
{
    memcpy (self->vrf_pk, vrf_pk, WD_VRF_PK_LEN);
    self->has_vrf_pk = true;
}

void
node_sign_vrf (node_sign_t *self, const uint8_t *alpha, size_t alpha_len, node_sign_vrf_fn *done,
               void *arg)
{
    assert (alpha && alpha_len > 0 && alpha_len <= WD_MSG_VRF_ALPHA_MAX);
    uint8_t body[WD_MSG_VRF_PROVE_MAX];
    size_t len = wd_msg_encode_vrf_prove (body, alpha, alpha_len);
    s_request_t *req = s_start_or_refuse (self, S_VRF, WD_MSG_VRF_PROVE, body, len,
                                          self->has_vrf_pk ? NULL : "no VRF key");
    if (!req) {
        done (arg, NULL, NULL, s_full);
        return;
    }
    req->alpha = malloc (alpha_len);
    if (!req->alpha)
        wd_fatalx ("out of memory");
    memcpy (req->alpha, alpha, alpha_len);
    req->alpha_len = alpha_len;
    req->vrf = done;
    req->arg = arg;
}
