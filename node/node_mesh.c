/*
 * node_mesh: the engine's mesh component (see node_mesh.h). One zloop timer
 * is kept armed at the earlier of cons_member_next_deadline and
 * cons_gossip_next_deadline; every input (a transport message, a timer, a
 * publish) is followed by draining both machines' outputs, which may change
 * gossip's peer set (membership events) and ban peers at the transport
 * (gossip bans), and then by re-arming the timer. All times are zclock_mono
 * milliseconds, the same clock the transport's bans use, so gossip's
 * until_ms goes to cons_transport_ban unchanged.
 */
#include "node_mesh.h"

#include <assert.h>
#include <fcntl.h>
#include <limits.h>
#include <sodium.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_gossip.h"
#include "cons_ledger.h"
#include "cons_member_tx.h"
#include "cons_member.h"
#include "cons_transport.h"
#include "node_config.h"
#include "wd_chan.h"
#include "wd_codec.h"
#include "wd_genesis.h"
#include "wd_hash.h"
#include "wd_keyfile.h"
#include "wd_log.h"
#include "wd_msg.h"

#define PENDING_MAX 64
/* Start-up grace of membership, in probe periods (cons_member grace_ms). */
#define NODE_MESH_GRACE_PERIODS 5
/* Observers: a subscription lasts this long unless renewed; blocks are
   pushed every tick, at most MSGS messages of at most BLOCKS blocks (and
   about BYTES) per observer per tick. */
#define NODE_MESH_OBSERVER_LEASE_MS 30000
#define NODE_MESH_OBSERVER_TICK_MS  100
#define NODE_MESH_OBSERVER_MSGS     4
#define NODE_MESH_OBSERVER_BLOCKS   16
#define NODE_MESH_OBSERVER_BYTES    (768 * 1024)

/* Hello (channel CONS_CHANNEL_HELLO): a node tells a peer where it listens
   and which endpoints it knows, so that a node that joined through the
   ledger, started with one member's endpoint (mesh/bootstrap), and the
   members that never had its endpoint in their configuration find each
   other. Sent every NODE_MESH_HELLO_MS to peers with an endpoint that have
   not been heard from yet, when a peer comes alive, and every
   NODE_MESH_HELLO_REFRESH_MS to all. */
#define NODE_MESH_HELLO_MS         1000
#define NODE_MESH_HELLO_REFRESH_MS 30000

/* What this node remembers about one admitted node beyond the machines. */
typedef struct {
    uint8_t id[WD_PUBKEY_LEN];
    uint64_t since_ms; /* Unix ms of the last membership event */
    uint64_t suspicions;
    uint64_t deaths;
} s_peer_t;

/* An admitted observer (mesh/observers) and its subscription. */
typedef struct {
    uint8_t key[WD_PUBKEY_LEN]; /* CURVE public key */
    bool subscribed;
    char endpoint[NODE_MESH_ADDRESS_MAX + 1];
    uint64_t lease_until; /* zclock_mono ms: forgotten after this without a renewal */
    uint64_t next;        /* the next block height to push */
} s_observer_t;

/* A publish or member request waiting for its signature. */
typedef struct {
    node_mesh_t *mesh;
    bool busy;
    void *client; /* NULL once the client has left */
    uint32_t peer;
    uint32_t reply_type; /* WD_MSG_CTL_MESH_PUBLISH_REPLY or WD_MSG_CTL_MEMBER_REPLY */
    bool publish;        /* gossip the sealed record (a join-request is only returned) */
} s_pending_t;

struct node_mesh {
    zloop_t *loop;
    node_sign_t *signer;
    node_mesh_reply_fn *reply;
    wd_genesis_t *genesis;
    uint8_t chain[WD_CHAIN_ID_LEN];
    uint8_t self_id[WD_PUBKEY_LEN];
    cons_transport_t *transport;
    cons_member_t *member;
    cons_gossip_t *gossip;
    cons_vcache_t *vcache; /* ids whose signature verified (gossip, agree's ledger) */
    /* The admitted nodes (docs/PROTOCOL.md "Membership transactions"): the
       genesis nodes until the ledger says otherwise, then the ledger's
       members plus the nodes that left but are still in the validator set
       of the next height; ascending sign_pk. */
    size_t n;
    wd_cert_t *certs;
    s_peer_t *peers;                 /* parallel to certs */
    uint8_t (*alive)[WD_PUBKEY_LEN]; /* gossip's peer set, scratch */
    wd_cert_t self_cert;
    char cert_path[PATH_MAX];                  /* <state>/node.cert, for join requests */
    bool is_member;                            /* this node is among the admitted */
    char *bootstrap;                           /* mesh/bootstrap entries not resolved yet */
    char advertise[NODE_MESH_ADDRESS_MAX + 1]; /* own endpoint told to peers, "" none */
    int hello_timer;
    uint64_t hello_refresh_at;
    bool draining; /* in s_drain: a commit from a delivered record must not drain again */
    bool peers_dirty;
    int timer;
    uint64_t armed_at;
    int flush_timer; /* sends own records published with cons_gossip_publish_later */
    /* delivered and own records, a ring of `keep` */
    node_mesh_record_t *records;
    size_t keep, head, count;
    uint64_t next_seq;
    uint64_t published, delivered;
    s_pending_t pending[PENDING_MAX];
    /* the agreement's hooks (node_mesh_set_agree_hooks) */
    node_mesh_channel_fn *on_channel;
    node_mesh_record_fn *on_record;
    void *hook_arg;
    node_mesh_channel_fn *on_capsule; /* channel 5 (node_mesh_set_capsule_hook) */
    void *capsule_arg;
    /* observers (mesh/observers; PROTOCOL.md "Observers") */
    s_observer_t *observers;
    size_t observer_count;
    int observer_timer;
    cons_ledger_t *ledger; /* borrowed from the agreement, NULL without it */
};

static void
s_hello_send (node_mesh_t *self, const uint8_t to[WD_PUBKEY_LEN], bool ask);

/* The admitted node's extra record (peers is parallel to certs), or NULL. */
static s_peer_t *
s_peer (node_mesh_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    const wd_cert_t *cert = node_mesh_find_node (self, id);
    return cert ? &self->peers[cert - self->certs] : NULL;
}

static const char *
s_name (node_mesh_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    const wd_cert_t *cert = node_mesh_find_node (self, id);
    return cert ? cert->name : "?";
}

const wd_cert_t *
node_mesh_find_node (const node_mesh_t *self, const uint8_t id[WD_PUBKEY_LEN])
{
    size_t lo = 0, hi = self->n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = memcmp (id, self->certs[mid].sign_pk, WD_PUBKEY_LEN);
        if (c == 0)
            return &self->certs[mid];
        if (c < 0)
            hi = mid;
        else
            lo = mid + 1;
    }
    return NULL;
}

size_t
node_mesh_node_count (const node_mesh_t *self)
{
    return self->n;
}

const wd_cert_t *
node_mesh_node (const node_mesh_t *self, size_t index)
{
    assert (index < self->n);
    return &self->certs[index];
}

bool
node_mesh_is_member (const node_mesh_t *self)
{
    return self->is_member;
}

/* ---- observers ------------------------------------------------------------------ */

static s_observer_t *
s_observer (node_mesh_t *self, const uint8_t key[WD_PUBKEY_LEN])
{
    for (size_t i = 0; i < self->observer_count; i++)
        if (memcmp (self->observers[i].key, key, WD_PUBKEY_LEN) == 0)
            return &self->observers[i];
    return NULL;
}

/* Pushes one kept record to every subscribed observer: {records, v}. */
static void
s_observers_record (node_mesh_t *self, const uint8_t *record, size_t len)
{
    bool any = false;
    for (size_t i = 0; i < self->observer_count && !any; i++)
        any = self->observers[i].subscribed;
    if (!any)
        return;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "records");
    wd_writer_array (w, 1);
    wd_writer_bin (w, record, len);
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    size_t blen;
    const uint8_t *body = wd_writer_data (w, &blen);
    for (size_t i = 0; i < self->observer_count; i++) {
        s_observer_t *o = &self->observers[i];
        int rc = o->subscribed ? cons_transport_observer_send (self->transport, o->key, body, blen)
                               : WD_OK;
        if (rc != WD_OK)
            wd_log_debug ("mesh: record to observer %s: %s", wd_short_id (o->key).s,
                          cons_strerror (rc));
    }
    wd_writer_destroy (&w);
}

/* Pushes the next committed blocks to one observer: {blocks, tip, v}
   messages of at most NODE_MESH_OBSERVER_BLOCKS blocks within
   NODE_MESH_OBSERVER_BYTES, a few messages per tick. */
static void
s_observer_blocks (node_mesh_t *self, s_observer_t *o)
{
    uint64_t tip = cons_ledger_height (self->ledger);
    for (int msgs = 0; msgs < NODE_MESH_OBSERVER_MSGS && o->next <= tip; msgs++) {
        uint8_t *blocks[NODE_MESH_OBSERVER_BLOCKS] = { NULL },
                *certs[NODE_MESH_OBSERVER_BLOCKS] = { NULL };
        size_t blens[NODE_MESH_OBSERVER_BLOCKS], clens[NODE_MESH_OBSERVER_BLOCKS];
        size_t k = 0, bytes = 0;
        while (k < NODE_MESH_OBSERVER_BLOCKS && o->next + k <= tip) {
            if (cons_ledger_get (self->ledger, o->next + k, &blocks[k], &blens[k], &certs[k],
                                 &clens[k]) != WD_OK) {
                wd_log_warnx ("mesh: observer: block %llu unreadable",
                              (unsigned long long)(o->next + k));
                break;
            }
            bytes += blens[k] + clens[k];
            k++;
            if (bytes >= NODE_MESH_OBSERVER_BYTES)
                break;
        }
        int rc = WD_ERR_NOT_FOUND;
        if (k > 0) {
            wd_writer_t *w = wd_writer_new ();
            wd_writer_map (w, 3);
            wd_writer_key (w, "blocks");
            wd_writer_array (w, k);
            for (size_t i = 0; i < k; i++) {
                wd_writer_array (w, 2);
                wd_writer_bin (w, blocks[i], blens[i]);
                wd_writer_bin (w, certs[i], clens[i]);
            }
            wd_writer_key (w, "tip");
            wd_writer_uint (w, tip);
            wd_writer_key (w, "v");
            wd_writer_uint (w, 1);
            size_t blen;
            const uint8_t *body = wd_writer_data (w, &blen);
            rc = cons_transport_observer_send (self->transport, o->key, body, blen);
            wd_writer_destroy (&w);
        }
        for (size_t i = 0; i < k; i++) {
            free (blocks[i]);
            free (certs[i]);
        }
        if (rc != WD_OK) {
            if (k > 0)
                wd_log_debug ("mesh: blocks to observer %s: %s", wd_short_id (o->key).s,
                              cons_strerror (rc));
            return; /* retried at the next tick */
        }
        o->next += k;
    }
}

static int
s_on_observer_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_mesh_t *self = arg;
    uint64_t now = (uint64_t)zclock_mono ();
    for (size_t i = 0; i < self->observer_count; i++) {
        s_observer_t *o = &self->observers[i];
        if (!o->subscribed)
            continue;
        if (now >= o->lease_until) {
            wd_log_info ("mesh: observer %s: subscription lapsed", wd_short_id (o->key).s);
            o->subscribed = false;
            o->endpoint[0] = 0;
            if (cons_transport_observer_endpoint (self->transport, o->key, NULL) != WD_OK)
                wd_log_debug ("mesh: observer %s: already gone", wd_short_id (o->key).s);
            continue;
        }
        if (self->ledger)
            s_observer_blocks (self, o);
    }
    return 0;
}

/* {endpoint: str, from: uint, v: 1}: an observer's subscription. */
static int
s_decode_subscribe (const uint8_t *body, size_t len, char endpoint[NODE_MESH_ADDRESS_MAX + 1],
                    uint64_t *from)
{
    wd_err_t err = wd_codec_check (body, len, NODE_MESH_ADDRESS_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    uint64_t v = 0;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "endpoint");
    wd_read_cstr (&r, endpoint, NODE_MESH_ADDRESS_MAX + 1);
    wd_read_key (&r, "from");
    wd_read_uint (&r, from, INT64_MAX);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err != WD_OK)
        return err;
    if (v != 1)
        return WD_ERR_BAD_VERSION;
    if (strncmp (endpoint, "tcp://", 6) != 0 || endpoint[6] == 0)
        return WD_ERR_BAD_VALUE;
    return WD_OK;
}

/* The transport's on_observe: a subscription (new, moved or renewed). */
static int
s_on_observe (void *arg, const uint8_t key[WD_PUBKEY_LEN], const uint8_t *body, size_t len)
{
    node_mesh_t *self = arg;
    s_observer_t *o = s_observer (self, key);
    if (!o)
        return CONS_ERR_PEER_UNKNOWN;
    char endpoint[NODE_MESH_ADDRESS_MAX + 1];
    uint64_t from = 0;
    int rc = s_decode_subscribe (body, len, endpoint, &from);
    if (rc != WD_OK)
        return rc;
    uint64_t now = (uint64_t)zclock_mono ();
    if (o->subscribed && strcmp (o->endpoint, endpoint) == 0) {
        o->lease_until = now + NODE_MESH_OBSERVER_LEASE_MS; /* a renewal */
        return WD_OK;
    }
    rc = cons_transport_observer_endpoint (self->transport, key, endpoint);
    if (rc != WD_OK)
        return rc;
    uint64_t tip = self->ledger ? cons_ledger_height (self->ledger) : 0;
    o->subscribed = true;
    snprintf (o->endpoint, sizeof o->endpoint, "%s", endpoint);
    o->lease_until = now + NODE_MESH_OBSERVER_LEASE_MS;
    o->next = from == 0 ? tip + 1 : from;
    wd_log_info ("mesh: observer %s subscribed at %s, blocks from height %llu", wd_short_id (key).s,
                 endpoint, (unsigned long long)o->next);
    return WD_OK;
}

typedef wd_err_t (s_token_fn) (node_mesh_t *self, char *tok, char *why, size_t why_len);

/* Calls fn for every blank- or comma-separated token of list (NULL: none)
   until one fails. */
static wd_err_t
s_tokens (node_mesh_t *self, const char *list, s_token_fn *fn, char *why, size_t why_len)
{
    if (!list)
        return WD_OK;
    char *copy = strdup (list);
    if (!copy)
        wd_fatalx ("out of memory");
    wd_err_t err = WD_OK;
    char *save = NULL;
    for (char *tok = strtok_r (copy, " \t\n,", &save); tok && err == WD_OK;
         tok = strtok_r (NULL, " \t\n,", &save))
        err = fn (self, tok, why, why_len);
    free (copy);
    return err;
}

/* One mesh/observers entry: 64 hex digits, an X25519 public key that is no
   genesis node's. */
static wd_err_t
s_observer_token (node_mesh_t *self, char *tok, char *why, size_t why_len)
{
    uint8_t key[WD_PUBKEY_LEN];
    size_t bin_len = 0;
    if (strlen (tok) != 2 * WD_PUBKEY_LEN ||
        sodium_hex2bin (key, sizeof key, tok, strlen (tok), NULL, &bin_len, NULL) != 0 ||
        bin_len != WD_PUBKEY_LEN) {
        snprintf (why, why_len, "mesh/observers: '%.70s' is not 64 hex digits", tok);
        return WD_ERR_CONFIG_VALUE;
    }
    for (size_t i = 0; i < self->n; i++)
        if (memcmp (self->certs[i].curve_pk, key, WD_PUBKEY_LEN) == 0) {
            snprintf (why, why_len, "mesh/observers: %.16s... is the CURVE key of node %s", tok,
                      self->certs[i].name);
            return WD_ERR_CONFIG_VALUE;
        }
    if (s_observer (self, key))
        return WD_OK;
    if (self->observer_count == CONS_TRANSPORT_OBSERVERS_MAX) {
        snprintf (why, why_len, "mesh/observers: more than %d keys", CONS_TRANSPORT_OBSERVERS_MAX);
        return WD_ERR_CONFIG_VALUE;
    }
    memcpy (self->observers[self->observer_count++].key, key, WD_PUBKEY_LEN);
    return WD_OK;
}

/* mesh/observers: admits the keys at the transport and starts the tick. */
static wd_err_t
s_set_observers (node_mesh_t *self, const char *list, char *why, size_t why_len)
{
    wd_err_t err = s_tokens (self, list, s_observer_token, why, why_len);
    if (err != WD_OK || self->observer_count == 0)
        return err;
    uint8_t (*keys)[WD_PUBKEY_LEN] = calloc (self->observer_count, sizeof *keys);
    if (!keys)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < self->observer_count; i++)
        memcpy (keys[i], self->observers[i].key, WD_PUBKEY_LEN);
    int rc = cons_transport_set_observers (self->transport, keys, self->observer_count);
    free (keys);
    if (rc != WD_OK) {
        snprintf (why, why_len, "mesh/observers: %s", cons_strerror (rc));
        return WD_ERR_CONFIG_VALUE;
    }
    self->observer_timer =
        zloop_timer (self->loop, NODE_MESH_OBSERVER_TICK_MS, 0, s_on_observer_tick, self);
    if (self->observer_timer < 0)
        wd_fatal ("zloop_timer");
    wd_log_info ("mesh: %zu observer key(s) admitted", self->observer_count);
    return WD_OK;
}

void
node_mesh_set_ledger (node_mesh_t *self, cons_ledger_t *ledger)
{
    if (self)
        self->ledger = ledger;
    node_mesh_ledger_changed (self);
}

/* ---- records ----------------------------------------------------------------- */

/* Keeps a record (already verified) in the ring; id is its envelope id
   (gossip's output carries it), NULL: computed here. */
static void
s_keep (node_mesh_t *self, const uint8_t *record, size_t len, const uint8_t *id, bool own)
{
    wd_envelope_t env;
    if (wd_envelope_decode (record, len, &env) != WD_OK)
        return; /* cannot happen: gossip checked it */
    if (self->on_record)
        self->on_record (self->hook_arg, record, len);
    s_observers_record (self, record, len);
    size_t slot = (self->head + self->count) % self->keep;
    if (self->count == self->keep)
        self->head = (self->head + 1) % self->keep;
    else
        self->count++;
    node_mesh_record_t *r = &self->records[slot];
    memset (r, 0, sizeof *r);
    if (id)
        memcpy (r->id, id, sizeof r->id);
    else
        wd_envelope_id (r->id, record, len);
    memcpy (r->from, env.from, WD_PUBKEY_LEN);
    snprintf (r->type, sizeof r->type, "%s", env.type);
    r->received_ms = (uint64_t)zclock_time ();
    r->own = own;
    r->seq = ++self->next_seq;
    if (strcmp (env.type, NODE_MESH_NOTICE_TYPE) == 0 &&
        node_mesh_decode_notice (env.body, env.body_len, r->text, &r->time_ms) != WD_OK) {
        r->text[0] = 0;
        r->time_ms = 0;
    }
}

/* gossip's accept callback: the signer must be an admitted node (a
   genesis node, or a member by the ledger), and a notice's body must be a
   notice. */
static int
s_accept (void *ctx, const wd_envelope_t *env, const uint8_t *record, size_t len)
{
    (void)record;
    (void)len;
    node_mesh_t *self = ctx;
    if (!node_mesh_find_node (self, env->from))
        return CONS_ERR_GOSSIP_UNKNOWN_SENDER;
    if (strcmp (env->type, NODE_MESH_NOTICE_TYPE) == 0) {
        char text[NODE_MESH_TEXT_MAX + 1];
        uint64_t time_ms;
        wd_err_t err = node_mesh_decode_notice (env->body, env->body_len, text, &time_ms);
        if (err != WD_OK)
            return err;
    }
    return WD_OK;
}

/* ---- driving the machines ------------------------------------------------------ */

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg);

static void
s_arm (node_mesh_t *self)
{
    uint64_t deadline = cons_member_next_deadline (self->member);
    uint64_t g = cons_gossip_next_deadline (self->gossip);
    if (g < deadline)
        deadline = g;
    if (self->timer >= 0 && deadline == self->armed_at)
        return;
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    self->timer = -1;
    if (deadline == UINT64_MAX)
        return;
    uint64_t now = (uint64_t)zclock_mono ();
    size_t delay = deadline > now ? (size_t)(deadline - now) : 1;
    self->timer = zloop_timer (self->loop, delay, 1, s_on_timer, self);
    if (self->timer < 0)
        wd_fatalx ("zloop_timer");
    self->armed_at = deadline;
}

/* The alive and suspect members become gossip's peer set. */
static void
s_update_peer_set (node_mesh_t *self, uint64_t now)
{
    size_t k = 0;
    for (size_t i = 0; i < cons_member_count (self->member); i++) {
        cons_member_info_t info;
        cons_member_info (self->member, i, &info);
        if (!info.self && (info.state == CONS_MEMBER_ALIVE || info.state == CONS_MEMBER_SUSPECT))
            memcpy (self->alive[k++], info.id, WD_PUBKEY_LEN);
    }
    int rc =
        cons_gossip_set_peers (self->gossip, (const uint8_t (*)[WD_PUBKEY_LEN])self->alive, k, now);
    if (rc != WD_OK)
        wd_log_warnx ("mesh: gossip peer set: %s", cons_strerror (rc));
    self->peers_dirty = false;
}

static void
s_member_event (node_mesh_t *self, const cons_member_output_t *out)
{
    s_peer_t *p = s_peer (self, out->peer);
    if (p) {
        p->since_ms = (uint64_t)zclock_time ();
        p->suspicions += out->state == CONS_MEMBER_SUSPECT;
        p->deaths += out->state == CONS_MEMBER_DEAD;
    }
    if (out->state == CONS_MEMBER_ALIVE)
        s_hello_send (self, out->peer, true); /* a restarted peer forgot learned endpoints */
    if (out->state == CONS_MEMBER_ALIVE)
        wd_log_info ("mesh: %s (%s) is alive, incarnation %llu", s_name (self, out->peer),
                     wd_short_id (out->peer).s, (unsigned long long)out->incarnation);
    else
        wd_log_warnx ("mesh: %s (%s) is %s, incarnation %llu", s_name (self, out->peer),
                      wd_short_id (out->peer).s, cons_member_state_name (out->state),
                      (unsigned long long)out->incarnation);
    self->peers_dirty = true;
}

static void
s_gossip_output (node_mesh_t *self, const cons_gossip_output_t *out)
{
    switch (out->kind) {
        case CONS_GOSSIP_OUT_SEND: {
            int rc = cons_transport_send (self->transport, out->peer, CONS_CHANNEL_GOSSIP,
                                          out->data, out->len);
            if (rc != WD_OK)
                wd_log_debug ("mesh: gossip to %s: %s", s_name (self, out->peer),
                              cons_strerror (rc));
            break;
        }
        case CONS_GOSSIP_OUT_DELIVER:
            self->delivered++;
            s_keep (self, out->data, out->len, out->id, false);
            break;
        case CONS_GOSSIP_OUT_PENALTY:
            wd_log_warnx ("mesh: %s (%s) penalised: %s, score %lld", s_name (self, out->peer),
                          wd_short_id (out->peer).s, cons_strerror (out->reason),
                          (long long)out->score);
            break;
        case CONS_GOSSIP_OUT_GRAYLIST:
            wd_log_warnx ("mesh: %s (%s) graylisted, score %lld", s_name (self, out->peer),
                          wd_short_id (out->peer).s, (long long)out->score);
            break;
        case CONS_GOSSIP_OUT_UNGRAYLIST:
            wd_log_info ("mesh: %s (%s) no longer graylisted, score %lld", s_name (self, out->peer),
                         wd_short_id (out->peer).s, (long long)out->score);
            break;
        case CONS_GOSSIP_OUT_BAN: {
            uint64_t now = (uint64_t)zclock_mono ();
            wd_log_warnx (
                "mesh: %s (%s) banned for %llu s, score %lld", s_name (self, out->peer),
                wd_short_id (out->peer).s,
                (unsigned long long)((out->until_ms > now ? out->until_ms - now : 0) / 1000),
                (long long)out->score);
            int rc = cons_transport_ban (self->transport, out->peer, out->until_ms);
            if (rc != WD_OK)
                wd_log_warnx ("mesh: ban: %s", cons_strerror (rc));
            break;
        }
    }
}

/* Carries out everything both machines have queued, then re-arms. */
static void
s_drain (node_mesh_t *self, uint64_t now)
{
    bool nested = self->draining;
    self->draining = true;
    for (int round = 0; round < 2; round++) {
        cons_member_output_t mo;
        while (cons_member_poll (self->member, &mo)) {
            if (mo.kind == CONS_MEMBER_OUT_SEND) {
                int rc = cons_transport_send (self->transport, mo.peer, CONS_CHANNEL_MEMBER,
                                              mo.body, mo.len);
                if (rc != WD_OK)
                    wd_log_debug ("mesh: member message to %s: %s", s_name (self, mo.peer),
                                  cons_strerror (rc));
            } else
                s_member_event (self, &mo);
        }
        if (self->peers_dirty)
            s_update_peer_set (self, now);
        cons_gossip_output_t go;
        while (cons_gossip_output (self->gossip, &go))
            s_gossip_output (self, &go);
    }
    self->draining = nested;
    s_arm (self);
}

static int
s_on_timer (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_mesh_t *self = arg;
    self->timer = -1;
    uint64_t now = (uint64_t)zclock_mono ();
    if (cons_member_next_deadline (self->member) <= now)
        cons_member_tick (self->member, now);
    if (cons_gossip_next_deadline (self->gossip) <= now)
        cons_gossip_tick (self->gossip, now);
    s_drain (self, now);
    return 0;
}

/* ---- hello: endpoints ---------------------------------------------------------- */

/* Tells peer `to` this node's endpoint and up to NODE_MESH_HELLO_PEERS
   endpoints it knows of other admitted nodes; ask: answer with a hello. */
static void
s_hello_send (node_mesh_t *self, const uint8_t to[WD_PUBKEY_LEN], bool ask)
{
    if (!self->transport)
        return;
    cons_transport_peer_t *tp = calloc (self->n ? self->n : 1, sizeof *tp);
    node_mesh_hello_t *hello = calloc (1, sizeof *hello);
    if (!tp || !hello)
        wd_fatalx ("out of memory");
    size_t tn = cons_transport_peers (self->transport, tp, self->n);
    if (tn > self->n)
        tn = self->n;
    hello->ask = ask;
    snprintf (hello->endpoint, sizeof hello->endpoint, "%s", self->advertise);
    for (size_t i = 0; i < tn && hello->count < NODE_MESH_HELLO_PEERS; i++)
        if (tp[i].endpoint[0] && memcmp (tp[i].node_id, to, WD_PUBKEY_LEN) != 0) {
            node_mesh_hello_peer_t *p = &hello->peers[hello->count++];
            memcpy (p->id, tp[i].node_id, WD_PUBKEY_LEN);
            snprintf (p->endpoint, sizeof p->endpoint, "%s", tp[i].endpoint);
        }
    size_t len;
    uint8_t *body = node_mesh_encode_hello (hello, &len);
    int rc = cons_transport_send (self->transport, to, CONS_CHANNEL_HELLO, body, len);
    if (rc != WD_OK)
        wd_log_debug ("mesh: hello to %s: %s", s_name (self, to), cons_strerror (rc));
    free (body);
    free (hello);
    free (tp);
}

/* Sets the endpoint of peer id when it has none (from a peer's list) or
   always (its own claim: the transport authenticated it). */
static void
s_endpoint_learn (node_mesh_t *self, const uint8_t id[WD_PUBKEY_LEN], const char *endpoint,
                  bool own)
{
    if (!endpoint[0] || memcmp (id, self->self_id, WD_PUBKEY_LEN) == 0 ||
        !node_mesh_find_node (self, id) || strncmp (endpoint, "tcp://", 6) != 0)
        return;
    cons_transport_peer_t tp[1];
    size_t tn = cons_transport_peers (self->transport, NULL, 0);
    cons_transport_peer_t *all = calloc (tn ? tn : 1, sizeof *all);
    if (!all)
        wd_fatalx ("out of memory");
    tn = cons_transport_peers (self->transport, all, tn);
    bool found = false;
    for (size_t i = 0; i < tn && !found; i++)
        if (memcmp (all[i].node_id, id, WD_PUBKEY_LEN) == 0) {
            tp[0] = all[i];
            found = true;
        }
    free (all);
    if (!found || strcmp (tp[0].endpoint, endpoint) == 0 || (tp[0].endpoint[0] && !own))
        return;
    int rc = cons_transport_set_endpoint (self->transport, id, endpoint);
    if (rc == WD_OK)
        wd_log_info ("mesh: %s (%s) is at %s", s_name (self, id), wd_short_id (id).s, endpoint);
    else
        wd_log_debug ("mesh: endpoint %.64s of %s: %s", endpoint, s_name (self, id),
                      cons_strerror (rc));
}

static int
s_hello_receive (node_mesh_t *self, const uint8_t from[WD_PUBKEY_LEN], const uint8_t *body,
                 size_t len)
{
    node_mesh_hello_t *hello = malloc (sizeof *hello);
    if (!hello)
        wd_fatalx ("out of memory");
    wd_err_t err = node_mesh_decode_hello (body, len, hello);
    if (err == WD_OK) {
        s_endpoint_learn (self, from, hello->endpoint, true);
        for (size_t i = 0; i < hello->count; i++)
            s_endpoint_learn (self, hello->peers[i].id, hello->peers[i].endpoint, false);
        if (hello->ask)
            s_hello_send (self, from, false);
    }
    free (hello);
    return err;
}

/* Every NODE_MESH_HELLO_MS: a hello to every admitted peer with an endpoint
   that this node has not heard from (it may not know this node's
   endpoint), and to all every NODE_MESH_HELLO_REFRESH_MS. */
static int
s_on_hello_tick (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_mesh_t *self = arg;
    uint64_t mono = (uint64_t)zclock_mono ();
    bool all = mono >= self->hello_refresh_at;
    if (all)
        self->hello_refresh_at = mono + NODE_MESH_HELLO_REFRESH_MS;
    cons_transport_peer_t *tp = calloc (self->n ? self->n : 1, sizeof *tp);
    if (!tp)
        wd_fatalx ("out of memory");
    size_t tn = cons_transport_peers (self->transport, tp, self->n);
    if (tn > self->n)
        tn = self->n;
    for (size_t i = 0; i < tn; i++)
        if (tp[i].endpoint[0] && (all || tp[i].last_seen_ms == 0))
            s_hello_send (self, tp[i].node_id, tp[i].last_seen_ms == 0);
    free (tp);
    return 0;
}

/* ---- the admitted set ----------------------------------------------------------- */

static int
s_cert_cmp (const void *a, const void *b)
{
    return memcmp (((const wd_cert_t *)a)->sign_pk, ((const wd_cert_t *)b)->sign_pk, WD_PUBKEY_LEN);
}

/* Replaces the admitted set with certs (copied, any order): the
   transport's known certificates (ZAP), the membership's members (and so
   gossip's peers), the peer table. Counters of kept nodes stay. */
static void
s_set_nodes (node_mesh_t *self, const wd_cert_t *certs, size_t count, uint64_t now)
{
    wd_cert_t *c = calloc (count ? count : 1, sizeof *c);
    s_peer_t *p = calloc (count ? count : 1, sizeof *p);
    uint8_t (*alive)[WD_PUBKEY_LEN] = calloc (count ? count : 1, sizeof *alive);
    uint8_t *ids = calloc (count ? count : 1, WD_PUBKEY_LEN);
    if (!c || !p || !alive || !ids)
        wd_fatalx ("out of memory");
    if (count)
        memcpy (c, certs, count * sizeof *c);
    qsort (c, count, sizeof *c, s_cert_cmp);
    bool member = false;
    for (size_t i = 0; i < count; i++) {
        const s_peer_t *old = self->peers ? s_peer (self, c[i].sign_pk) : NULL;
        if (old)
            p[i] = *old;
        else
            memcpy (p[i].id, c[i].sign_pk, WD_PUBKEY_LEN);
        memcpy (ids + i * WD_PUBKEY_LEN, c[i].sign_pk, WD_PUBKEY_LEN);
        member |= memcmp (c[i].sign_pk, self->self_id, WD_PUBKEY_LEN) == 0;
    }
    if (self->transport) {
        int rc = cons_transport_set_certs (self->transport, c, count);
        if (rc != WD_OK)
            wd_fatalx ("mesh: known certificates: %s", cons_strerror (rc));
    }
    if (self->member) {
        int rc = cons_member_set_members (self->member, ids, count, now);
        if (rc != WD_OK)
            wd_fatalx ("mesh: membership: %s", cons_strerror (rc));
    }
    free (ids);
    free (self->certs);
    free (self->peers);
    free (self->alive);
    self->certs = c;
    self->peers = p;
    self->alive = alive;
    self->n = count;
    self->is_member = member;
    self->peers_dirty = true;
}

static void
s_on_recv (void *arg, const uint8_t from[WD_PUBKEY_LEN], uint8_t channel, const uint8_t *body,
           size_t body_len)
{
    node_mesh_t *self = arg;
    uint64_t now = (uint64_t)zclock_mono ();
    int rc = WD_OK;
    if (channel == CONS_CHANNEL_MEMBER)
        rc = cons_member_receive (self->member, now, from, body, body_len);
    else if (channel == CONS_CHANNEL_GOSSIP)
        rc = cons_gossip_input (self->gossip, from, body, body_len, now);
    else if (channel == CONS_CHANNEL_HELLO)
        rc = s_hello_receive (self, from, body, body_len);
    else if (channel == CONS_CHANNEL_CAPSULE) {
        if (self->on_capsule)
            self->on_capsule (self->capsule_arg, from, channel, body, body_len);
        return;
    } else {
        if (self->on_channel)
            self->on_channel (self->hook_arg, from, channel, body, body_len);
        return;
    }
    if (rc != WD_OK && rc != CONS_ERR_STALE && rc != CONS_ERR_DUPLICATE)
        wd_log_debug ("mesh: %s message from %s: %s",
                      channel == CONS_CHANNEL_MEMBER  ? "member"
                      : channel == CONS_CHANNEL_HELLO ? "hello"
                                                      : "gossip",
                      s_name (self, from), cons_strerror (rc));
    s_drain (self, now);
}

void
node_mesh_set_agree_hooks (node_mesh_t *self, node_mesh_channel_fn *on_channel,
                           node_mesh_record_fn *on_record, void *arg)
{
    self->on_channel = on_channel;
    self->on_record = on_record;
    self->hook_arg = arg;
}

void
node_mesh_set_capsule_hook (node_mesh_t *self, node_mesh_channel_fn *on_channel, void *arg)
{
    self->on_capsule = on_channel;
    self->capsule_arg = arg;
}

int
node_mesh_send (node_mesh_t *self, const uint8_t to[WD_PUBKEY_LEN], uint8_t channel,
                const uint8_t *body, size_t len)
{
    return cons_transport_send (self->transport, to, channel, body, len);
}

int
node_mesh_publish_record (node_mesh_t *self, const uint8_t *envelope, size_t len)
{
    uint64_t now = (uint64_t)zclock_mono ();
    int rc = cons_gossip_publish (self->gossip, envelope, len, now);
    if (rc == WD_OK) {
        self->published++;
        s_keep (self, envelope, len, NULL, true);
    }
    s_drain (self, now);
    return rc;
}

const wd_genesis_t *
node_mesh_genesis (const node_mesh_t *self)
{
    return self->genesis;
}

cons_vcache_t *
node_mesh_vcache (node_mesh_t *self)
{
    return self->vcache;
}

/* ---- start-up ------------------------------------------------------------------ */

/* One mesh/peers entry "NAME=ENDPOINT"; own name is skipped so every node
   can carry the same list. */
static wd_err_t
s_peer_token (node_mesh_t *self, char *tok, char *why, size_t why_len)
{
    char *eq = strchr (tok, '=');
    if (!eq || eq == tok || !eq[1]) {
        snprintf (why, why_len, "mesh/peers: '%s' is not NAME=ENDPOINT", tok);
        return WD_ERR_CONFIG_VALUE;
    }
    *eq = 0;
    const wd_cert_t *cert = NULL;
    for (size_t i = 0; i < wd_genesis_node_count (self->genesis) && !cert; i++)
        if (strcmp (wd_genesis_node (self->genesis, i)->name, tok) == 0)
            cert = wd_genesis_node (self->genesis, i);
    if (!cert) {
        snprintf (why, why_len, "mesh/peers: no node '%s' in the genesis", tok);
        return WD_ERR_CONFIG_VALUE;
    }
    /* own name: skipped also when the genesis names this node's keys from
       before a rotate */
    if (memcmp (cert->sign_pk, self->self_id, WD_PUBKEY_LEN) == 0 ||
        strcmp (cert->name, self->self_cert.name) == 0)
        return WD_OK;
    int rc = cons_transport_set_endpoint (self->transport, cert->sign_pk, eq + 1);
    if (rc != WD_OK) {
        snprintf (why, why_len, "mesh/peers: %s=%s: %s", tok, eq + 1, cons_strerror (rc));
        return WD_ERR_CONFIG_VALUE;
    }
    return WD_OK;
}

/* One mesh/bootstrap entry "NAME=ENDPOINT": NAME may be a node that joined
   through the ledger; a name the admitted set does not hold yet is kept in
   self->bootstrap and tried again whenever the set changes. */
static wd_err_t
s_bootstrap_token (node_mesh_t *self, char *tok, char *why, size_t why_len)
{
    char *eq = strchr (tok, '=');
    if (!eq || eq == tok || !eq[1] || strlen (eq + 1) > NODE_MESH_ADDRESS_MAX) {
        snprintf (why, why_len, "mesh/bootstrap: '%.200s' is not NAME=ENDPOINT", tok);
        return WD_ERR_CONFIG_VALUE;
    }
    *eq = 0;
    const wd_cert_t *cert = NULL;
    for (size_t i = 0; i < self->n && !cert; i++)
        if (strcmp (self->certs[i].name, tok) == 0)
            cert = &self->certs[i];
    if (!cert) {
        *eq = '=';
        size_t used = self->bootstrap ? strlen (self->bootstrap) : 0;
        char *b = realloc (self->bootstrap, used + strlen (tok) + 2);
        if (!b)
            wd_fatalx ("out of memory");
        snprintf (b + used, strlen (tok) + 2, "%s%s", used ? " " : "", tok);
        self->bootstrap = b;
        return WD_OK;
    }
    if (memcmp (cert->sign_pk, self->self_id, WD_PUBKEY_LEN) == 0)
        return WD_OK;
    int rc = cons_transport_set_endpoint (self->transport, cert->sign_pk, eq + 1);
    if (rc != WD_OK) {
        snprintf (why, why_len, "mesh/bootstrap: %s=%s: %s", tok, eq + 1, cons_strerror (rc));
        return WD_ERR_CONFIG_VALUE;
    }
    wd_log_info ("mesh: bootstrap peer %s at %s", cert->name, eq + 1);
    return WD_OK;
}

/* Tries the mesh/bootstrap entries still waiting for their node. */
static void
s_bootstrap_retry (node_mesh_t *self)
{
    char *pending = self->bootstrap;
    self->bootstrap = NULL;
    if (!pending)
        return;
    char why[256];
    if (s_tokens (self, pending, s_bootstrap_token, why, sizeof why) != WD_OK)
        wd_log_warnx ("mesh: %s", why);
    free (pending);
}

void
node_mesh_ledger_changed (node_mesh_t *self)
{
    if (!self || !self->ledger)
        return;
    const cons_reputation_t *rep = cons_ledger_reputation (self->ledger);
    uint64_t height = cons_ledger_height (self->ledger);
    const cons_validator_t *set = NULL;
    size_t set_n = 0;
    if (cons_ledger_validators (self->ledger, height + 1, &set, &set_n) != WD_OK)
        set_n = 0;
    size_t rows = cons_reputation_count (rep);
    wd_cert_t *certs = calloc (rows ? rows : 1, sizeof *certs);
    if (!certs)
        wd_fatalx ("out of memory");
    size_t count = 0;
    for (size_t i = 0; i < rows; i++) {
        const cons_rep_entry_t *e = cons_reputation_entry (rep, i);
        bool keep = e->left == 0;
        /* a node that left keeps its key while it may still have to vote */
        for (size_t k = 0; k < set_n && !keep; k++)
            keep = memcmp (set[k].pk, e->id, WD_PUBKEY_LEN) == 0;
        if (keep)
            certs[count++] = e->cert;
    }
    qsort (certs, count, sizeof *certs, s_cert_cmp);
    bool same = count == self->n;
    for (size_t i = 0; i < count && same; i++)
        same = memcmp (certs[i].sign_pk, self->certs[i].sign_pk, WD_PUBKEY_LEN) == 0 &&
               memcmp (certs[i].curve_pk, self->certs[i].curve_pk, WD_PUBKEY_LEN) == 0;
    if (same) {
        free (certs);
        return;
    }
    for (size_t i = 0; i < count; i++)
        if (!node_mesh_find_node (self, certs[i].sign_pk))
            wd_log_info ("mesh: %s (%s) admitted by the ledger at height %llu", certs[i].name,
                         wd_short_id (certs[i].sign_pk).s, (unsigned long long)height);
    for (size_t i = 0; i < self->n; i++) {
        bool kept = false;
        for (size_t k = 0; k < count && !kept; k++)
            kept = memcmp (certs[k].sign_pk, self->certs[i].sign_pk, WD_PUBKEY_LEN) == 0;
        if (!kept)
            wd_log_info ("mesh: %s (%s) dropped by the ledger at height %llu", self->certs[i].name,
                         wd_short_id (self->certs[i].sign_pk).s, (unsigned long long)height);
    }
    bool was_member = self->is_member;
    uint64_t now = (uint64_t)zclock_mono ();
    s_set_nodes (self, certs, count, now);
    free (certs);
    if (self->is_member != was_member)
        wd_log_info ("mesh: this node is %s at height %llu",
                     self->is_member ? "a member" : "no longer a member",
                     (unsigned long long)height);
    s_bootstrap_retry (self);
    if (!self->draining)
        s_drain (self, now);
}

/* Reads <state>/keys/curve.key into sodium_malloc memory and checks it
   against the certificate. */
static uint8_t *
s_read_curve (const wd_config_t *cfg, const wd_cert_t *cert, char *why, size_t why_len)
{
    char path[PATH_MAX];
    if (node_path_state (cfg, "keys/curve.key", path, sizeof path) != 0) {
        snprintf (why, why_len, "state path is too long");
        return NULL;
    }
    uint8_t *sk = sodium_malloc (WD_SEED_LEN);
    if (!sk)
        wd_fatalx ("out of memory");
    wd_err_t err = wd_keyfile_read (path, WD_KEYFILE_X25519, sk);
    uint8_t pk[WD_PUBKEY_LEN];
    if (err == WD_OK && crypto_scalarmult_base (pk, sk) != 0)
        err = WD_ERR_BAD_VALUE;
    if (err != WD_OK) {
        snprintf (why, why_len, "CURVE key %s: %s", path, wd_strerror (err));
        sodium_free (sk);
        return NULL;
    }
    if (sodium_memcmp (pk, cert->curve_pk, WD_PUBKEY_LEN) != 0) {
        snprintf (why, why_len, "CURVE key %s is not the curve_pk of node.cert", path);
        sodium_free (sk);
        return NULL;
    }
    return sk;
}

/* Whether the local ledger (<state>/ledger.db, opened read-only and
   replayed) lists id as a current member: a node restarted on the keys a
   committed `rotate` gave its row, or a joined node restarted without
   mesh/bootstrap. */
static bool
s_ledger_member (const wd_config_t *cfg, const wd_genesis_t *genesis,
                 const uint8_t id[WD_PUBKEY_LEN])
{
    char path[PATH_MAX], why[256] = "";
    if (node_path_state (cfg, CONS_LEDGER_FILE, path, sizeof path) != 0)
        return false;
    cons_ledger_t *ledger = NULL;
    int rc = cons_ledger_open (path, genesis, CONS_LEDGER_READ_ONLY, &ledger, why, sizeof why);
    if (rc != WD_OK) {
        if (rc != WD_ERR_NOT_FOUND)
            wd_log_warnx ("mesh: ledger %s: %s (%s)", path, cons_strerror (rc), why);
        return false;
    }
    bool member = cons_reputation_is_member (cons_ledger_reputation (ledger), id);
    if (member)
        wd_log_info ("mesh: this node's key is a member by its ledger at height %llu",
                     (unsigned long long)cons_ledger_height (ledger));
    cons_ledger_destroy (&ledger);
    return member;
}

wd_err_t
node_mesh_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
               node_sign_t *signer, node_mesh_reply_fn *reply, node_mesh_t **out, char *why,
               size_t why_len)
{
    *out = NULL;
    const char *listen = wd_config_str (cfg, "mesh/listen");
    if (!listen) {
        wd_log_info ("mesh: off (mesh/listen is not set)");
        return WD_OK;
    }
    char path[PATH_MAX];
    if (node_path_genesis (cfg, path, sizeof path) != 0) {
        snprintf (why, why_len, "genesis path is too long");
        return WD_ERR_CONFIG_VALUE;
    }
    wd_genesis_t *genesis = NULL;
    wd_err_t err = wd_genesis_load (path, &genesis);
    if (err == WD_ERR_NOT_FOUND) {
        wd_log_warnx ("mesh: off: mesh/listen is set but there is no genesis at %s", path);
        return WD_OK;
    }
    if (err != WD_OK) {
        snprintf (why, why_len, "genesis %s: %s", path, wd_strerror (err));
        return err;
    }
    /* A node outside the genesis runs the mesh too when it names a member
       to start from (mesh/bootstrap): it joins through the ledger
       (docs/OPERATIONS.md "Add a node") and is admitted by the members
       once its join is committed. */
    const wd_cert_t *me = wd_genesis_find_node (genesis, self_cert->sign_pk);
    bool ledger_member = !me && s_ledger_member (cfg, genesis, self_cert->sign_pk);
    if (!me && !ledger_member && !wd_config_str (cfg, "mesh/bootstrap")) {
        snprintf (why, why_len,
                  "this node (%s) is not a node of the genesis %s nor a member by its ledger (to "
                  "join through the ledger, name a member in mesh/bootstrap)",
                  self_cert->name, path);
        wd_genesis_destroy (&genesis);
        return WD_ERR_KEY_MISMATCH;
    }
    if (me && memcmp (me->curve_pk, self_cert->curve_pk, WD_PUBKEY_LEN) != 0) {
        snprintf (why, why_len, "node.cert of %s does not match its genesis entry in %s",
                  self_cert->name, path);
        wd_genesis_destroy (&genesis);
        return WD_ERR_KEY_MISMATCH;
    }
    uint8_t *curve_sk = s_read_curve (cfg, self_cert, why, why_len);
    if (!curve_sk) {
        wd_genesis_destroy (&genesis);
        return WD_ERR_KEY_MISMATCH;
    }

    node_mesh_t *self = calloc (1, sizeof *self);
    if (!self)
        wd_fatalx ("out of memory");
    self->loop = loop;
    self->signer = signer;
    self->reply = reply;
    self->genesis = genesis;
    self->timer = -1;
    self->flush_timer = -1;
    self->observer_timer = -1;
    self->hello_timer = -1;
    self->self_cert = *self_cert;
    if (node_path_state (cfg, "node.cert", self->cert_path, sizeof self->cert_path) != 0)
        self->cert_path[0] = 0;
    self->observers = calloc (CONS_TRANSPORT_OBSERVERS_MAX, sizeof *self->observers);
    if (!self->observers)
        wd_fatalx ("out of memory");
    wd_genesis_chain_id (genesis, self->chain);
    memcpy (self->self_id, self_cert->sign_pk, WD_PUBKEY_LEN);
    size_t gn = wd_genesis_node_count (genesis);
    wd_cert_t *certs = calloc (gn, sizeof *certs);
    self->keep = (size_t)wd_config_uint (cfg, "mesh/records_keep");
    self->records = calloc (self->keep, sizeof *self->records);
    if (!certs || !self->records)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < gn; i++)
        certs[i] = *wd_genesis_node (genesis, i);
    s_set_nodes (self, certs, gn, (uint64_t)zclock_mono ()); /* until the ledger says more */
    free (certs);
    uint8_t *ids = calloc (self->n, WD_PUBKEY_LEN);
    if (!ids)
        wd_fatalx ("out of memory");
    for (size_t i = 0; i < self->n; i++)
        memcpy (ids + i * WD_PUBKEY_LEN, self->certs[i].sign_pk, WD_PUBKEY_LEN);

    cons_transport_config_t tc = {
        .self = self_cert,
        .curve_sk = curve_sk,
        .certs = self->certs,
        .cert_count = self->n,
        .bind = listen,
        .on_recv = s_on_recv,
        .on_recv_arg = self,
        .on_observe = s_on_observe,
        .on_observe_arg = self,
    };
    self->transport = cons_transport_new (&tc);
    sodium_free (curve_sk); /* the transport keeps its own guarded copy */
    if (!self->transport) {
        snprintf (why, why_len, "mesh/listen %s: the peer transport did not start (see log)",
                  listen);
        free (ids);
        node_mesh_destroy (&self);
        return WD_ERR_IO;
    }
    err = s_tokens (self, wd_config_str (cfg, "mesh/peers"), s_peer_token, why, why_len);
    if (err == WD_OK)
        err =
            s_tokens (self, wd_config_str (cfg, "mesh/bootstrap"), s_bootstrap_token, why, why_len);
    if (err == WD_OK)
        err = s_set_observers (self, wd_config_str (cfg, "mesh/observers"), why, why_len);
    if (err != WD_OK) {
        free (ids);
        node_mesh_destroy (&self);
        return err;
    }
    uint64_t now = (uint64_t)zclock_mono ();
    cons_member_config_t mc = {
        .self = self->self_id,
        .members = ids,
        .count = self->n,
        .incarnation = (uint64_t)zclock_time (), /* above any earlier run's */
        .probe_ms = (uint32_t)wd_config_uint (cfg, "mesh/probe"),
        .probe_timeout_ms = (uint32_t)wd_config_uint (cfg, "mesh/probe_timeout"),
        .indirect = (uint32_t)wd_config_uint (cfg, "mesh/indirect"),
    };
    /* A (re)started node gives its links NODE_MESH_GRACE_PERIODS probe
       periods to come up before its own failed probes accuse anyone. */
    mc.grace_ms = NODE_MESH_GRACE_PERIODS * mc.probe_ms;
    randombytes_buf (&mc.seed, sizeof mc.seed);
    int rc = cons_member_new (&mc, &self->member);
    free (ids);
    if (rc != WD_OK) {
        snprintf (why, why_len, "membership: %s (mesh/probe_timeout must be below mesh/probe)",
                  cons_strerror (rc));
        node_mesh_destroy (&self);
        return WD_ERR_CONFIG_VALUE;
    }
    self->vcache = cons_vcache_new (self->chain);
    if (!self->vcache) {
        node_mesh_destroy (&self);
        return WD_ERR_NOMEM;
    }
    cons_gossip_config_t gc = {
        .start_ms = now,
        .accept = s_accept,
        .vcache = self->vcache,
        .ctx = self,
        .heartbeat_ms = (uint32_t)wd_config_uint (cfg, "mesh/heartbeat"),
    };
    memcpy (gc.chain, self->chain, WD_CHAIN_ID_LEN);
    memcpy (gc.self, self->self_id, WD_PUBKEY_LEN);
    randombytes_buf (&gc.seed, sizeof gc.seed);
    rc = cons_gossip_new (&gc, &self->gossip);
    if (rc != WD_OK) {
        snprintf (why, why_len, "gossip: %s", cons_strerror (rc));
        node_mesh_destroy (&self);
        return WD_ERR_CONFIG_VALUE;
    }
    if (cons_transport_attach (self->transport, loop) != 0) {
        snprintf (why, why_len, "mesh: cannot attach the transport to the reactor");
        node_mesh_destroy (&self);
        return WD_ERR_IO;
    }
    if (wd_config_bool (cfg, "mesh/discovery") &&
        cons_transport_beacon_start (self->transport,
                                     (int)wd_config_uint (cfg, "mesh/discovery_port"),
                                     (int)wd_config_uint (cfg, "mesh/discovery_interval")) != 0)
        wd_log_warnx ("mesh: LAN discovery did not start (no broadcast interface?)");
    const char *advertise = wd_config_str (cfg, "mesh/advertise");
    const char *bound = cons_transport_endpoint (self->transport);
    if (advertise)
        snprintf (self->advertise, sizeof self->advertise, "%s", advertise);
    else if (strncmp (bound, "tcp://0.0.0.0:", 14) != 0 && strncmp (bound, "tcp://*:", 8) != 0 &&
             strncmp (bound, "tcp://[::]:", 11) != 0)
        snprintf (self->advertise, sizeof self->advertise, "%s", bound);
    self->hello_refresh_at = now + NODE_MESH_HELLO_REFRESH_MS;
    self->hello_timer = zloop_timer (loop, NODE_MESH_HELLO_MS, 0, s_on_hello_tick, self);
    if (self->hello_timer < 0)
        wd_fatalx ("zloop_timer");
    s_update_peer_set (self, now);
    s_drain (self, now);
    char chain_hex[WD_HASH_SHORT_HEX + 1];
    snprintf (chain_hex, sizeof chain_hex, "%s", wd_short_id (self->chain).s);
    wd_log_info ("mesh: %s on %s, %zu genesis nodes, chain %s%s", self_cert->name,
                 cons_transport_endpoint (self->transport), gn, chain_hex,
                 self->is_member ? ""
                 : ledger_member ? "; a member by its ledger (its keys were rotated or it joined)"
                                 : "; not a genesis node: waiting for the ledger to admit it");
    *out = self;
    return WD_OK;
}

void
node_mesh_destroy (node_mesh_t **self_p)
{
    node_mesh_t *self = *self_p;
    if (!self)
        return;
    if (self->timer >= 0)
        zloop_timer_end (self->loop, self->timer);
    if (self->flush_timer >= 0)
        zloop_timer_end (self->loop, self->flush_timer);
    if (self->observer_timer >= 0)
        zloop_timer_end (self->loop, self->observer_timer);
    if (self->hello_timer >= 0)
        zloop_timer_end (self->loop, self->hello_timer);
    cons_transport_destroy (&self->transport);
    cons_member_destroy (&self->member);
    cons_gossip_destroy (&self->gossip);
    cons_vcache_destroy (&self->vcache);
    wd_genesis_destroy (&self->genesis);
    free (self->certs);
    free (self->peers);
    free (self->alive);
    free (self->bootstrap);
    free (self->records);
    free (self->observers);
    free (self);
    *self_p = NULL;
}

/* ---- control requests --------------------------------------------------------- */

bool
node_mesh_handles (uint32_t type)
{
    return type == WD_MSG_CTL_MESH_PEERS || type == WD_MSG_CTL_MESH_PUBLISH ||
           type == WD_MSG_CTL_MESH_RECORDS || type == WD_MSG_CTL_MEMBER;
}

static void
s_reply_error (node_mesh_t *self, void *client, uint32_t peer, int code, const char *what)
{
    char message[WD_MSG_ERROR_MAX + 1];
    snprintf (message, sizeof message, "%s: %s", what, cons_strerror (code));
    size_t len;
    uint8_t *body = wd_msg_encode_error (code, message, &len);
    self->reply (client, peer, WD_MSG_ERROR, body, len);
    free (body);
}

static void
s_reply_peers (node_mesh_t *self, void *client, uint32_t peer, uint64_t start)
{
    uint64_t mono = (uint64_t)zclock_mono ();
    node_mesh_peer_t *rows = calloc (self->n, sizeof *rows);
    cons_transport_peer_t *tp = calloc (self->n, sizeof *tp);
    cons_gossip_peer_info_t *gp = calloc (self->n + 1, sizeof *gp);
    if (!rows || !tp || !gp)
        wd_fatalx ("out of memory");
    size_t tn = cons_transport_peers (self->transport, tp, self->n);
    size_t gn = cons_gossip_snapshot (self->gossip, gp, self->n + 1);
    if (tn > self->n)
        tn = self->n;
    if (gn > self->n + 1)
        gn = self->n + 1;
    for (size_t i = 0; i < self->n; i++) {
        node_mesh_peer_t *row = &rows[i];
        const wd_cert_t *cert = &self->certs[i];
        memcpy (row->id, cert->sign_pk, WD_PUBKEY_LEN);
        snprintf (row->name, sizeof row->name, "%s", cert->name);
        row->rtt_ms = -1;
        row->since_ms = self->peers[i].since_ms;
        row->suspicions = self->peers[i].suspicions;
        row->deaths = self->peers[i].deaths;
        cons_member_info_t mi;
        if (cons_member_find (self->member, cert->sign_pk, &mi)) {
            row->self = mi.self;
            snprintf (row->state, sizeof row->state, "%s", cons_member_state_name (mi.state));
            row->incarnation = mi.incarnation;
            if (mi.rtt_ms != CONS_MEMBER_NO_RTT)
                row->rtt_ms = mi.rtt_ms;
        }
        if (row->self) {
            snprintf (row->address, sizeof row->address, "%s",
                      cons_transport_endpoint (self->transport));
            snprintf (row->link, sizeof row->link, "self");
            continue;
        }
        for (size_t k = 0; k < tn; k++)
            if (memcmp (tp[k].node_id, cert->sign_pk, WD_PUBKEY_LEN) == 0) {
                snprintf (row->address, sizeof row->address, "%s", tp[k].endpoint);
                snprintf (row->link, sizeof row->link, "%s", cons_peer_state_name (tp[k].state));
                row->msgs_in = tp[k].msgs_in;
                row->msgs_out = tp[k].msgs_out;
                row->rejected = tp[k].rejected;
                if (tp[k].banned_until_ms > mono)
                    row->banned_for_ms = tp[k].banned_until_ms - mono;
            }
        for (size_t k = 0; k < gn; k++)
            if (memcmp (gp[k].id, cert->sign_pk, WD_PUBKEY_LEN) == 0) {
                row->score = gp[k].score;
                row->in_mesh = gp[k].in_mesh;
                row->graylisted = gp[k].graylisted;
                row->records_in = gp[k].records_in;
                row->invalid = gp[k].invalid;
                if (gp[k].banned_until_ms > mono &&
                    gp[k].banned_until_ms - mono > row->banned_for_ms)
                    row->banned_for_ms = gp[k].banned_until_ms - mono;
            }
    }
    node_mesh_summary_t sum = { .published = self->published, .delivered = self->delivered };
    memcpy (sum.chain, self->chain, WD_CHAIN_ID_LEN);
    snprintf (sum.endpoint, sizeof sum.endpoint, "%s", cons_transport_endpoint (self->transport));
    sum.incarnation = cons_member_incarnation (self->member);
    sum.health = cons_member_health (self->member);
    cons_transport_stats_t ts;
    cons_transport_stats (self->transport, &ts);
    sum.zap_allowed = ts.zap_allowed;
    sum.zap_unknown = ts.zap_unknown;
    sum.zap_banned = ts.zap_banned;
    sum.rejected = ts.rejected;
    cons_gossip_stats_t gs;
    cons_gossip_stats (self->gossip, &gs);
    sum.duplicates = gs.duplicates;
    sum.gossip_msgs_out = gs.msgs_out;
    sum.records_out = gs.records_out;
    sum.control_out = gs.control_out;
    size_t len;
    uint8_t *body = node_mesh_encode_peers (&sum, rows, self->n,
                                            start < self->n ? (size_t)start : self->n, &len);
    self->reply (client, peer, WD_MSG_CTL_MESH_PEERS_REPLY, body, len);
    free (body);
    free (rows);
    free (tp);
    free (gp);
}

static void
s_reply_records (node_mesh_t *self, void *client, uint32_t peer, uint64_t start)
{
    node_mesh_record_t *rows = calloc (self->count ? self->count : 1, sizeof *rows);
    if (!rows)
        wd_fatalx ("out of memory");
    size_t k = 0;
    for (size_t i = 0; i < self->count; i++) {
        const node_mesh_record_t *r = &self->records[(self->head + i) % self->keep];
        if (r->seq >= start)
            rows[k++] = *r;
    }
    size_t len;
    uint8_t *body = node_mesh_encode_records (rows, k, &len);
    self->reply (client, peer, WD_MSG_CTL_MESH_RECORDS_REPLY, body, len);
    free (body);
    free (rows);
}

/* Sends the own records sealed since the last turn of the reactor: the
   keys process's replies that one turn handles leave as one PUBLISH per
   peer instead of one each. */
static int
s_on_flush (zloop_t *loop, int timer_id, void *arg)
{
    (void)loop;
    (void)timer_id;
    node_mesh_t *self = arg;
    self->flush_timer = -1;
    cons_gossip_flush (self->gossip);
    s_drain (self, (uint64_t)zclock_mono ());
    return 0;
}

static void
s_sealed (void *arg, const uint8_t *envelope, size_t len, const char *reason)
{
    s_pending_t *p = arg;
    node_mesh_t *self = p->mesh;
    void *client = p->client;
    uint32_t peer = p->peer;
    if (!self) {
        memset (p, 0, sizeof *p);
        return; /* the mesh has gone */
    }
    uint32_t reply_type = p->reply_type;
    bool publish = p->publish;
    memset (p, 0, sizeof *p);
    if (!envelope) {
        wd_log_warnx ("mesh: publish: %s", reason);
        if (client) {
            char what[WD_MSG_ERROR_MAX];
            snprintf (what, sizeof what, "publish: %s", reason);
            size_t blen;
            uint8_t *body = wd_msg_encode_error (WD_ERR_UNAVAILABLE, what, &blen);
            self->reply (client, peer, WD_MSG_ERROR, body, blen);
            free (body);
        }
        return;
    }
    uint8_t id[32];
    wd_envelope_id (id, envelope, len);
    /* node_sign verified the keys process's signature over this very
       envelope's digest: gossip and the ledger need not verify it again */
    cons_vcache_note (self->vcache, id);
    int rc = WD_OK;
    if (publish) {
        uint64_t now = (uint64_t)zclock_mono ();
        rc = cons_gossip_publish_later (self->gossip, envelope, len, now);
        if (rc == WD_OK) {
            self->published++;
            s_keep (self, envelope, len, id, true);
            if (self->flush_timer < 0) {
                self->flush_timer = zloop_timer (self->loop, 0, 1, s_on_flush, self);
                if (self->flush_timer < 0)
                    wd_fatalx ("zloop_timer");
            }
        }
        s_drain (self, now);
    }
    if (!client)
        return;
    if (rc != WD_OK) {
        s_reply_error (self, client, peer, rc, "publish");
        return;
    }
    if (reply_type == WD_MSG_CTL_MEMBER_REPLY) {
        size_t blen;
        uint8_t *body = node_mesh_encode_member_reply (envelope, len, id, &blen);
        self->reply (client, peer, reply_type, body, blen);
        free (body);
        return;
    }
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, sizeof id);
    size_t blen;
    const uint8_t *body = wd_writer_data (w, &blen);
    self->reply (client, peer, reply_type, body, blen);
    wd_writer_destroy (&w);
}

/* A free pending slot for a signature, or NULL (the error is replied). */
static s_pending_t *
s_pending_take (node_mesh_t *self, void *client, uint32_t peer, uint32_t reply_type, bool publish)
{
    s_pending_t *p = NULL;
    for (size_t i = 0; i < PENDING_MAX && !p; i++)
        if (!self->pending[i].busy)
            p = &self->pending[i];
    if (!p) {
        s_reply_error (self, client, peer, WD_ERR_UNAVAILABLE, "too many requests waiting");
        return NULL;
    }
    *p = (s_pending_t){ .mesh = self,
                        .busy = true,
                        .client = client,
                        .peer = peer,
                        .reply_type = reply_type,
                        .publish = publish };
    return p;
}

/* wardenctl member request|admit|rotate|leave (docs/OPERATIONS.md "Add a
   node", "Rotate a key"): a join-request signed by this node for this chain
   (returned, not gossiped); a join record around a new node's request,
   sealed by this node as its sponsor and gossiped; a rotate record around
   a rotate-request signed by this node's new key (wardenctl signed it with
   the new state directory's keystore), sealed by the current key and
   gossiped; this node's leave record, gossiped. */
static void
s_member_request (node_mesh_t *self, void *client, uint32_t peer, const uint8_t *body, size_t len)
{
    char op[16];
    const uint8_t *request = NULL;
    size_t request_len = 0;
    wd_err_t err = node_mesh_decode_member (body, len, op, &request, &request_len);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "member request");
        return;
    }
    uint8_t *rbody = NULL;
    size_t rlen = 0;
    const char *type = NULL;
    if (strcmp (op, "request") == 0) {
        if (self->is_member) {
            s_reply_error (self, client, peer, CONS_ERR_TX_EXISTS,
                           "member request: this node is already a member");
            return;
        }
        uint8_t cert[WD_CERT_MAX_BYTES + 1];
        int fd = open (self->cert_path, O_RDONLY | O_CLOEXEC);
        ssize_t n = fd >= 0 ? read (fd, cert, sizeof cert) : -1;
        if (fd >= 0)
            close (fd);
        wd_cert_t check;
        if (n <= 0 || (size_t)n >= sizeof cert || wd_cert_open (cert, (size_t)n, &check) != WD_OK ||
            memcmp (check.sign_pk, self->self_id, WD_PUBKEY_LEN) != 0) {
            s_reply_error (self, client, peer, WD_ERR_IO, "member request: node.cert unreadable");
            return;
        }
        rbody = cons_join_request_body (cert, (size_t)n, &rlen);
        type = CONS_JOIN_REQUEST_TYPE;
    } else if (strcmp (op, "admit") == 0) {
        wd_cert_t cert;
        int rc = cons_join_request_open (request, request_len, self->chain, true, &cert);
        if (rc != WD_OK) {
            s_reply_error (self, client, peer, rc, "member admit: the request");
            return;
        }
        if (!self->is_member) {
            s_reply_error (self, client, peer, CONS_ERR_TX_NOT_MEMBER,
                           "member admit: this node is not a member");
            return;
        }
        if (self->ledger &&
            cons_reputation_find (cons_ledger_reputation (self->ledger), cert.sign_pk)) {
            s_reply_error (self, client, peer, CONS_ERR_TX_EXISTS, "member admit");
            return;
        }
        rbody = cons_join_body (request, request_len, &rlen);
        type = CONS_JOIN_TYPE;
    } else if (strcmp (op, "rotate") == 0) {
        wd_cert_t cert;
        uint8_t node[WD_PUBKEY_LEN];
        int rc = cons_rotate_request_open (request, request_len, self->chain, true, &cert, node);
        if (rc != WD_OK) {
            s_reply_error (self, client, peer, rc, "member rotate: the request");
            return;
        }
        if (memcmp (node, self->self_id, WD_PUBKEY_LEN) != 0) {
            s_reply_error (self, client, peer, CONS_ERR_TX_SIGNER,
                           "member rotate: the request names another node");
            return;
        }
        if (!self->is_member) {
            s_reply_error (self, client, peer, CONS_ERR_TX_NOT_MEMBER,
                           "member rotate: this node is not a member");
            return;
        }
        if (strcmp (cert.name, self->self_cert.name) != 0) {
            s_reply_error (self, client, peer, CONS_ERR_TX_NAME,
                           "member rotate: the new certificate has another name");
            return;
        }
        if (self->ledger &&
            cons_reputation_find (cons_ledger_reputation (self->ledger), cert.sign_pk)) {
            s_reply_error (self, client, peer, CONS_ERR_TX_EXISTS, "member rotate");
            return;
        }
        rbody = cons_rotate_body (request, request_len, &rlen);
        type = CONS_ROTATE_TYPE;
    } else if (strcmp (op, "leave") == 0) {
        if (!self->is_member) {
            s_reply_error (self, client, peer, CONS_ERR_TX_NOT_MEMBER,
                           "member leave: this node is not a member");
            return;
        }
        rbody = cons_leave_body (self->self_id, &rlen);
        type = CONS_LEAVE_TYPE;
    } else {
        s_reply_error (self, client, peer, WD_ERR_BAD_VALUE, "member request: unknown op");
        return;
    }
    s_pending_t *p =
        s_pending_take (self, client, peer, WD_MSG_CTL_MEMBER_REPLY, strcmp (op, "request") != 0);
    if (p) {
        wd_log_info ("mesh: sealing a %s record", type);
        node_sign_seal (self->signer, type, self->chain, rbody, rlen, s_sealed, p);
    }
    free (rbody);
}

static void
s_publish (node_mesh_t *self, void *client, uint32_t peer, const uint8_t *body, size_t len)
{
    char text[NODE_MESH_TEXT_MAX + 1];
    wd_err_t err = node_mesh_decode_publish (body, len, text);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "publish request");
        return;
    }
    s_pending_t *p = s_pending_take (self, client, peer, WD_MSG_CTL_MESH_PUBLISH_REPLY, true);
    if (!p)
        return;
    size_t nlen;
    uint8_t *notice = node_mesh_encode_notice (text, (uint64_t)zclock_time (), &nlen);
    node_sign_seal (self->signer, NODE_MESH_NOTICE_TYPE, self->chain, notice, nlen, s_sealed, p);
    free (notice);
}

void
node_mesh_request (node_mesh_t *self, void *client, uint32_t peer, uint32_t type,
                   const uint8_t *body, size_t len)
{
    assert (self && node_mesh_handles (type));
    if (type == WD_MSG_CTL_MESH_PUBLISH) {
        s_publish (self, client, peer, body, len);
        return;
    }
    if (type == WD_MSG_CTL_MEMBER) {
        s_member_request (self, client, peer, body, len);
        return;
    }
    uint64_t start;
    wd_err_t err = node_mesh_decode_start (body, len, &start);
    if (err != WD_OK) {
        s_reply_error (self, client, peer, err, "mesh request");
        return;
    }
    if (type == WD_MSG_CTL_MESH_PEERS)
        s_reply_peers (self, client, peer, start);
    else
        s_reply_records (self, client, peer, start);
}

void
node_mesh_client_gone (node_mesh_t *self, void *client)
{
    if (!self)
        return;
    for (size_t i = 0; i < PENDING_MAX; i++)
        if (self->pending[i].busy && self->pending[i].client == client)
            self->pending[i].client = NULL;
}

/* ---- control bodies ----------------------------------------------------------- */

/* A map is described once, in key order, and both encoded and decoded from
   the description. */
typedef enum { F_UINT, F_INT, F_BOOL, F_STR, F_BIN } s_kind_t;

typedef struct {
    const char *key;
    s_kind_t kind;
    size_t off;
    size_t size;
} s_field_t;

#define FIELD(T, key, kind, member)                                                                \
    {                                                                                              \
        key, kind, offsetof (T, member), sizeof (((T *)0)->member)                                 \
    }

static const s_field_t s_peer_fields[] = {
    FIELD (node_mesh_peer_t, "address", F_STR, address),
    FIELD (node_mesh_peer_t, "banned_for_ms", F_UINT, banned_for_ms),
    FIELD (node_mesh_peer_t, "deaths", F_UINT, deaths),
    FIELD (node_mesh_peer_t, "graylisted", F_BOOL, graylisted),
    FIELD (node_mesh_peer_t, "id", F_BIN, id),
    FIELD (node_mesh_peer_t, "in_mesh", F_BOOL, in_mesh),
    FIELD (node_mesh_peer_t, "incarnation", F_UINT, incarnation),
    FIELD (node_mesh_peer_t, "invalid", F_UINT, invalid),
    FIELD (node_mesh_peer_t, "link", F_STR, link),
    FIELD (node_mesh_peer_t, "msgs_in", F_UINT, msgs_in),
    FIELD (node_mesh_peer_t, "msgs_out", F_UINT, msgs_out),
    FIELD (node_mesh_peer_t, "name", F_STR, name),
    FIELD (node_mesh_peer_t, "records_in", F_UINT, records_in),
    FIELD (node_mesh_peer_t, "rejected", F_UINT, rejected),
    FIELD (node_mesh_peer_t, "rtt_ms", F_INT, rtt_ms),
    FIELD (node_mesh_peer_t, "score", F_INT, score),
    FIELD (node_mesh_peer_t, "self", F_BOOL, self),
    FIELD (node_mesh_peer_t, "since_ms", F_UINT, since_ms),
    FIELD (node_mesh_peer_t, "state", F_STR, state),
    FIELD (node_mesh_peer_t, "suspicions", F_UINT, suspicions),
    { NULL, 0, 0, 0 },
};

static const s_field_t s_summary_fields[] = {
    FIELD (node_mesh_summary_t, "chain", F_BIN, chain),
    FIELD (node_mesh_summary_t, "control_out", F_UINT, control_out),
    FIELD (node_mesh_summary_t, "delivered", F_UINT, delivered),
    FIELD (node_mesh_summary_t, "duplicates", F_UINT, duplicates),
    FIELD (node_mesh_summary_t, "endpoint", F_STR, endpoint),
    FIELD (node_mesh_summary_t, "gossip_msgs_out", F_UINT, gossip_msgs_out),
    FIELD (node_mesh_summary_t, "health", F_UINT, health),
    FIELD (node_mesh_summary_t, "incarnation", F_UINT, incarnation),
    FIELD (node_mesh_summary_t, "published", F_UINT, published),
    FIELD (node_mesh_summary_t, "records_out", F_UINT, records_out),
    FIELD (node_mesh_summary_t, "rejected", F_UINT, rejected),
    FIELD (node_mesh_summary_t, "zap_allowed", F_UINT, zap_allowed),
    FIELD (node_mesh_summary_t, "zap_banned", F_UINT, zap_banned),
    FIELD (node_mesh_summary_t, "zap_unknown", F_UINT, zap_unknown),
    { NULL, 0, 0, 0 },
};

static const s_field_t s_record_fields[] = {
    FIELD (node_mesh_record_t, "from", F_BIN, from),
    FIELD (node_mesh_record_t, "id", F_BIN, id),
    FIELD (node_mesh_record_t, "own", F_BOOL, own),
    FIELD (node_mesh_record_t, "received_ms", F_UINT, received_ms),
    FIELD (node_mesh_record_t, "seq", F_UINT, seq),
    FIELD (node_mesh_record_t, "text", F_STR, text),
    FIELD (node_mesh_record_t, "time_ms", F_UINT, time_ms),
    FIELD (node_mesh_record_t, "type", F_STR, type),
    { NULL, 0, 0, 0 },
};

static void
s_write_fields (wd_writer_t *w, const s_field_t *fields, const void *obj)
{
    size_t n = 0;
    while (fields[n].key)
        n++;
    wd_writer_map (w, n);
    const uint8_t *base = obj;
    for (const s_field_t *f = fields; f->key; f++) {
        const void *p = base + f->off;
        wd_writer_key (w, f->key);
        switch (f->kind) {
            case F_UINT:
                wd_writer_uint (w, *(const uint64_t *)p);
                break;
            case F_INT:
                wd_writer_int (w, *(const int64_t *)p);
                break;
            case F_BOOL:
                wd_writer_bool (w, *(const bool *)p);
                break;
            case F_STR:
                wd_writer_cstr (w, p);
                break;
            case F_BIN:
                wd_writer_bin (w, p, f->size);
                break;
        }
    }
}

static void
s_read_fields (wd_reader_t *r, const s_field_t *fields, void *obj)
{
    size_t count;
    uint8_t *base = obj;
    wd_read_map (r, &count);
    for (const s_field_t *f = fields; f->key; f++) {
        void *p = base + f->off;
        wd_read_key (r, f->key);
        switch (f->kind) {
            case F_UINT:
                wd_read_uint (r, p, UINT64_MAX);
                break;
            case F_INT:
                wd_read_int (r, p, INT64_MIN, INT64_MAX);
                break;
            case F_BOOL:
                wd_read_bool (r, p);
                break;
            case F_STR:
                wd_read_cstr (r, p, f->size);
                break;
            case F_BIN:
                wd_read_bin_fixed (r, p, f->size);
                break;
        }
    }
    wd_read_end (r);
}

/* A page budget: what fits a control message with room for the summary. */
#define PAGE_BUDGET (WD_CHAN_MAX_BODY - 4096)

/* How many of items[0..count) fit the budget (at least one when there is
   one). */
static size_t
s_page_fits (const s_field_t *fields, const void *items, size_t item_size, size_t count)
{
    wd_writer_t *one = wd_writer_new ();
    size_t k = 0, used = 0;
    for (; k < count; k++) {
        wd_writer_reset (one);
        s_write_fields (one, fields, (const uint8_t *)items + k * item_size);
        size_t n;
        (void)wd_writer_data (one, &n);
        if (k > 0 && used + n > PAGE_BUDGET)
            break;
        used += n;
    }
    wd_writer_destroy (&one);
    return k;
}

static void
s_write_items (wd_writer_t *w, const s_field_t *fields, const void *items, size_t item_size,
               size_t k)
{
    wd_writer_array (w, k);
    for (size_t i = 0; i < k; i++)
        s_write_fields (w, fields, (const uint8_t *)items + i * item_size);
}

uint8_t *
node_mesh_encode_peers (const node_mesh_summary_t *summary, const node_mesh_peer_t *peers,
                        size_t count, size_t start, size_t *len)
{
    assert (start <= count);
    size_t k = s_page_fits (s_peer_fields, peers + start, sizeof *peers, count - start);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 3);
    wd_writer_key (w, "more");
    wd_writer_bool (w, start + k < count);
    wd_writer_key (w, "peers");
    s_write_items (w, s_peer_fields, peers + start, sizeof *peers, k);
    wd_writer_key (w, "summary");
    s_write_fields (w, s_summary_fields, summary);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

/* Reads key: [maps] and appends them to *items (of *count). */
static void
s_read_items (wd_reader_t *r, const char *key, const s_field_t *fields, void **items,
              size_t item_size, size_t *count)
{
    size_t rows = 0;
    wd_read_key (r, key);
    if (!wd_read_array (r, &rows))
        return;
    uint8_t *grown = realloc (*items, (*count + rows + 1) * item_size);
    if (!grown)
        abort ();
    memset (grown + *count * item_size, 0, (rows + 1) * item_size);
    *items = grown;
    for (size_t i = 0; i < rows; i++)
        s_read_fields (r, fields, grown + (*count + i) * item_size);
    wd_read_end (r);
    *count += rows; /* zeroed rows when the reader failed: the caller drops them all */
}

wd_err_t
node_mesh_decode_peers (const uint8_t *body, size_t len, node_mesh_summary_t *summary,
                        node_mesh_peer_t **peers, size_t *count, bool *more)
{
    wd_err_t err = wd_codec_check (body, len, WD_CHAN_MAX_BODY, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "more");
    wd_read_bool (&r, more);
    s_read_items (&r, "peers", s_peer_fields, (void **)peers, sizeof **peers, count);
    wd_read_key (&r, "summary");
    s_read_fields (&r, s_summary_fields, summary);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_records (const node_mesh_record_t *records, size_t count, size_t *len)
{
    size_t k = s_page_fits (s_record_fields, records, sizeof *records, count);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "more");
    wd_writer_bool (w, k < count);
    wd_writer_key (w, "records");
    s_write_items (w, s_record_fields, records, sizeof *records, k);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_records (const uint8_t *body, size_t len, node_mesh_record_t **records,
                          size_t *count, bool *more)
{
    wd_err_t err = wd_codec_check (body, len, WD_CHAN_MAX_BODY, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "more");
    wd_read_bool (&r, more);
    s_read_items (&r, "records", s_record_fields, (void **)records, sizeof **records, count);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_start (uint64_t start, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "start");
    wd_writer_uint (w, start);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_start (const uint8_t *body, size_t len, uint64_t *start)
{
    wd_err_t err = wd_codec_check (body, len, 64, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "start");
    wd_read_uint (&r, start, UINT64_MAX);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_publish (const char *text, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "text");
    wd_writer_cstr (w, text);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_publish (const uint8_t *body, size_t len, char text[NODE_MESH_TEXT_MAX + 1])
{
    wd_err_t err = wd_codec_check (body, len, NODE_MESH_TEXT_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "text");
    wd_read_cstr (&r, text, NODE_MESH_TEXT_MAX + 1);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_notice (const char *text, uint64_t time_ms, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "text");
    wd_writer_cstr (w, text);
    wd_writer_key (w, "time");
    wd_writer_uint (w, time_ms);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_notice (const uint8_t *body, size_t len, char text[NODE_MESH_TEXT_MAX + 1],
                         uint64_t *time_ms)
{
    wd_err_t err = wd_codec_check (body, len, NODE_MESH_TEXT_MAX, NULL);
    if (err != WD_OK)
        return err;
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "text");
    wd_read_cstr (&r, text, NODE_MESH_TEXT_MAX + 1);
    wd_read_key (&r, "time");
    wd_read_uint (&r, time_ms, UINT64_MAX);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_hello (const node_mesh_hello_t *hello, size_t *len)
{
    assert (hello && hello->count <= NODE_MESH_HELLO_PEERS);
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "ask");
    wd_writer_bool (w, hello->ask);
    wd_writer_key (w, "endpoint");
    wd_writer_cstr (w, hello->endpoint);
    wd_writer_key (w, "peers");
    wd_writer_array (w, hello->count);
    for (size_t i = 0; i < hello->count; i++) {
        wd_writer_array (w, 2);
        wd_writer_bin (w, hello->peers[i].id, WD_PUBKEY_LEN);
        wd_writer_cstr (w, hello->peers[i].endpoint);
    }
    wd_writer_key (w, "v");
    wd_writer_uint (w, 1);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_hello (const uint8_t *body, size_t len, node_mesh_hello_t *hello)
{
    memset (hello, 0, sizeof *hello);
    if (len > NODE_MESH_HELLO_MAX)
        return WD_ERR_OVERSIZE;
    wd_err_t err = wd_codec_check (body, len, NODE_MESH_ADDRESS_MAX, NULL);
    if (err != WD_OK)
        return err;
    uint64_t v = 0;
    size_t n = 0, k;
    wd_reader_t r;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &k);
    wd_read_key (&r, "ask");
    wd_read_bool (&r, &hello->ask);
    wd_read_key (&r, "endpoint");
    wd_read_cstr (&r, hello->endpoint, sizeof hello->endpoint);
    wd_read_key (&r, "peers");
    if (wd_read_array (&r, &n) && n > NODE_MESH_HELLO_PEERS) {
        memset (hello, 0, sizeof *hello);
        return WD_ERR_OVERSIZE;
    }
    for (size_t i = 0; i < n; i++) {
        /* a pair: reading past the end of a shorter array is our own
           misuse to the reader (asserted), so its length is checked here,
           with the reason wd_read_end gives a longer one */
        if (wd_read_array (&r, &k) && k != 2) {
            memset (hello, 0, sizeof *hello);
            return WD_ERR_BAD_LENGTH;
        }
        wd_read_bin_fixed (&r, hello->peers[i].id, WD_PUBKEY_LEN);
        if (!wd_read_cstr (&r, hello->peers[i].endpoint, sizeof hello->peers[i].endpoint))
            n = i; /* the reader holds the error */
        wd_read_end (&r);
    }
    wd_read_end (&r);
    wd_read_key (&r, "v");
    wd_read_uint (&r, &v, UINT64_MAX);
    wd_read_end (&r);
    err = wd_reader_finish (&r);
    if (err == WD_OK && v != 1)
        err = WD_ERR_BAD_VERSION;
    if (err == WD_OK)
        hello->count = n;
    else
        memset (hello, 0, sizeof *hello);
    return err;
}

uint8_t *
node_mesh_encode_member (const char *op, const uint8_t *request, size_t request_len, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "op");
    wd_writer_cstr (w, op);
    wd_writer_key (w, "request");
    wd_writer_bin (w, request, request_len);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_member (const uint8_t *body, size_t len, char op[16], const uint8_t **request,
                         size_t *request_len)
{
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "op");
    wd_read_cstr (&r, op, 16);
    wd_read_key (&r, "request");
    wd_read_bin (&r, request, request_len, CONS_JOIN_REQUEST_MAX);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}

uint8_t *
node_mesh_encode_member_reply (const uint8_t *envelope, size_t envelope_len, const uint8_t id[32],
                               size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "envelope");
    wd_writer_bin (w, envelope, envelope_len);
    wd_writer_key (w, "id");
    wd_writer_bin (w, id, 32);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

wd_err_t
node_mesh_decode_member_reply (const uint8_t *body, size_t len, const uint8_t **envelope,
                               size_t *envelope_len, uint8_t id[32])
{
    wd_reader_t r;
    size_t n;
    wd_reader_init (&r, body, len);
    wd_read_map (&r, &n);
    wd_read_key (&r, "envelope");
    wd_read_bin (&r, envelope, envelope_len, NODE_MESH_MEMBER_REPLY_MAX);
    wd_read_key (&r, "id");
    wd_read_bin_fixed (&r, id, 32);
    wd_read_end (&r);
    return wd_reader_finish (&r);
}
