/*
 * node_mesh: the engine's mesh component (issue 6; docs/ARCHITECTURE.md
 * "The mesh in the engine"). It wires the three mesh modules onto the
 * engine's zloop: cons_transport (CURVE ZeroMQ, the node's X25519 key from
 * <state>/keys/curve.key, the genesis certificates as the admitted set,
 * static peer endpoints from mesh/peers, optional zbeacon discovery),
 * cons_member (SWIM + Lifeguard) and cons_gossip (records), each pure state
 * machine driven by real timers on zclock_mono milliseconds. Membership
 * events set gossip's peer set (alive and suspect members); gossip bans go
 * to the transport; delivered records are kept in memory (the last
 * mesh/records_keep) for `wardenctl mesh records` — the ledger will consume
 * them later.
 *
 * Observers (mesh/observers, docs/PROTOCOL.md "Observers"): read-only
 * parties admitted by CURVE key; one that subscribes on channel 6 gets every
 * record kept here and every block the ledger (node_mesh_set_ledger) commits.
 *
 * The mesh runs when the node has a genesis and mesh/listen is set. It
 * answers three control requests (docs/PROTOCOL.md "Control socket", "Mesh
 * requests"): the peer table, the delivered records, and publishing a
 * `notice` record sealed by the keys process through node_sign.
 *
 * The control bodies are encoded and decoded here too (node_mesh_peer_t and
 * friends), so wardenctl reads exactly what the engine writes.
 */
#ifndef NODE_MESH_H
#define NODE_MESH_H

#include <czmq.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "node_sign.h"
#include "wd_cert.h"
#include "wd_config.h"
#include "wd_err.h"

typedef struct node_mesh node_mesh_t;
struct cons_ledger;

#define NODE_MESH_NOTICE_TYPE      "notice"
#define NODE_MESH_TEXT_MAX         1024 /* bytes of a notice's text */
#define NODE_MESH_ADDRESS_MAX      255
#define NODE_MESH_STATE_MAX        15
#define NODE_MESH_RECORDS_MAX      65536 /* mesh/records_keep, at most */
#define NODE_MESH_PEERS_REPLY_MAX  (8 << 20)
#define NODE_MESH_MEMBER_REPLY_MAX 4096 /* bytes of a sealed member record */

/* Sends a reply to the control client the request came from (client is
   the engine's opaque handle, peer the request's peer field). */
typedef void (node_mesh_reply_fn) (void *client, uint32_t peer, uint32_t type, const uint8_t *body,
                                   size_t len);

/* Starts the mesh on loop when the configuration asks for it. Returns
   WD_OK with *out NULL when the mesh is not configured (mesh/listen unset,
   or no genesis file: logged), WD_OK with *out the running mesh, or an
   error with why (unreadable key, node not in the genesis and no
   mesh/bootstrap to join through the ledger, a peer name the genesis does
   not know, bind failure). A node outside the genesis starts with the
   genesis nodes admitted and waits for the ledger to admit it. */
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_new (zloop_t *loop, const wd_config_t *cfg, const wd_cert_t *self_cert,
               node_sign_t *signer, node_mesh_reply_fn *reply, node_mesh_t **out, char *why,
               size_t why_len);

/* Leaves the group (a LEFT announcement is queued, but the sockets close at
   once), detaches from the loop and frees everything; the CURVE secret is
   wiped. Safe on NULL. */
void
node_mesh_destroy (node_mesh_t **self_p);

/* True for the control request types the mesh answers. */
bool
node_mesh_handles (uint32_t type);

/* Handles one control request; the reply goes through the reply callback,
   now or (publish) when the keys process has signed. */
void
node_mesh_request (node_mesh_t *self, void *client, uint32_t peer, uint32_t type,
                   const uint8_t *body, size_t len);

/* The client has gone: replies still pending for it are dropped. Safe on a
   NULL mesh. */
void
node_mesh_client_gone (node_mesh_t *self, void *client);

/* ---- the agreement's hooks (node_agree) ------------------------------------ */

/* A message on CONS_CHANNEL_AGREE or CONS_CHANNEL_SYNC from an
   authenticated peer; body borrowed for the call. */
typedef void (node_mesh_channel_fn) (void *arg, const uint8_t from[WD_PUBKEY_LEN], uint8_t channel,
                                     const uint8_t *body, size_t len);
/* A record this node published or gossip delivered (verified, accepted);
   record borrowed for the call. */
typedef void (node_mesh_record_fn) (void *arg, const uint8_t *record, size_t len);

/* Routes channels 3 and 4 and every kept record to the agreement (NULL
   functions: not routed). */
void
node_mesh_set_agree_hooks (node_mesh_t *self, node_mesh_channel_fn *on_channel,
                           node_mesh_record_fn *on_record, void *arg);

/* Routes channel 5 (CONS_CHANNEL_CAPSULE) to node_capsule (NULL: dropped). */
void
node_mesh_set_capsule_hook (node_mesh_t *self, node_mesh_channel_fn *on_channel, void *arg);

/* Queues body for peer `to` on channel (cons_transport_send's codes). */
int
node_mesh_send (node_mesh_t *self, const uint8_t to[WD_PUBKEY_LEN], uint8_t channel,
                const uint8_t *body, size_t len);

/* Gossips a record this node has sealed (an envelope of the chain), like a
   published notice: kept, and passed to the record hook. cons_gossip_publish's
   codes. */
int
node_mesh_publish_record (node_mesh_t *self, const uint8_t *envelope, size_t len);

/* The ledger whose committed blocks go to subscribed observers and whose
   members the mesh admits (borrowed; NULL: none; node_mesh_ledger_changed
   runs at once). Safe on a NULL mesh. */
void
node_mesh_set_ledger (node_mesh_t *self, struct cons_ledger *ledger);

/* The admitted nodes (docs/PROTOCOL.md "Membership transactions"): the
   genesis nodes until a ledger is set, then the ledger's members plus the
   nodes that left but are still in the validator set of the next height.
   They are the transport's known certificates (its ZAP allowlist), the
   membership's members and gossip's senders. Ascending sign_pk; borrowed
   until the next node_mesh_ledger_changed. */
size_t
node_mesh_node_count (const node_mesh_t *self);
const wd_cert_t *
node_mesh_node (const node_mesh_t *self, size_t index);
/* The admitted node with sign_pk id, or NULL. Borrowed like node_mesh_node. */
const wd_cert_t *
node_mesh_find_node (const node_mesh_t *self, const uint8_t id[WD_PUBKEY_LEN]);
/* Whether this node is among the admitted (false on a joining node until
   its join is committed, and after its leave has taken effect). */
bool
node_mesh_is_member (const node_mesh_t *self);

/* Re-reads the admitted set from the ledger (node_mesh_set_ledger's): call
   after every commit; cheap when nothing changed. When it changed, the
   transport's certificates, the membership and gossip's peers follow, and
   mesh/bootstrap names not known before are tried again. Safe on NULL. */
void
node_mesh_ledger_changed (node_mesh_t *self);

/* The genesis the mesh runs on (borrowed, lives as long as the mesh). */
const struct wd_genesis *
node_mesh_genesis (const node_mesh_t *self);

/* The mesh's cache of envelope ids whose signature verified (borrowed,
   lives as long as the mesh): gossip fills it, node_agree hands it to its
   ledger so that a record is verified once per process. */
struct cons_vcache *
node_mesh_vcache (node_mesh_t *self);

/* ---- control bodies (wardenctl <-> engine) ------------------------------ */

/* One member as `wardenctl peers` shows it. */
typedef struct {
    uint8_t id[WD_PUBKEY_LEN];
    char name[WD_CERT_NAME_MAX + 1];
    char address[NODE_MESH_ADDRESS_MAX + 1]; /* TCP endpoint, "" when unknown */
    char state[NODE_MESH_STATE_MAX + 1];     /* membership: alive, suspect, dead, left */
    char link[NODE_MESH_STATE_MAX + 1];      /* transport: idle, connecting, up, refused, banned */
    bool self;
    bool in_mesh;    /* in gossip's mesh */
    bool graylisted; /* gossip ignores it */
    uint64_t incarnation;
    uint64_t since_ms;      /* Unix ms of the last state change, 0: none yet */
    int64_t score;          /* gossip peer score */
    int64_t rtt_ms;         /* last direct probe's round trip, -1: none */
    uint64_t msgs_in;       /* transport messages accepted from it */
    uint64_t msgs_out;      /* transport messages queued to it */
    uint64_t records_in;    /* record copies it sent */
    uint64_t rejected;      /* its frames refused by the transport */
    uint64_t invalid;       /* gossip faults blamed on it */
    uint64_t banned_for_ms; /* remaining ban, 0: not banned */
    uint64_t suspicions;    /* times this node saw it become suspect */
    uint64_t deaths;        /* times this node saw it become dead */
} node_mesh_peer_t;

/* Node-wide figures that come with the peer table. */
typedef struct {
    uint8_t chain[WD_CHAIN_ID_LEN];
    char endpoint[NODE_MESH_ADDRESS_MAX + 1];
    uint64_t incarnation;
    uint64_t health;          /* Lifeguard local health multiplier */
    uint64_t zap_allowed;     /* handshakes admitted */
    uint64_t zap_unknown;     /* handshakes refused: key of no known certificate */
    uint64_t zap_banned;      /* handshakes refused: banned peer */
    uint64_t rejected;        /* frames refused by the transport */
    uint64_t published;       /* own records published */
    uint64_t delivered;       /* records delivered from peers */
    uint64_t duplicates;      /* record copies already seen */
    uint64_t gossip_msgs_out; /* gossip messages sent */
    uint64_t records_out;     /* record copies sent */
    uint64_t control_out;     /* IHAVE, IWANT, GRAFT, PRUNE, CATCHUP sent */
} node_mesh_summary_t;

/* One record as `wardenctl mesh records` shows it. */
typedef struct {
    uint8_t id[32];
    uint8_t from[WD_PUBKEY_LEN];
    char type[WD_ENVELOPE_TYPE_MAX + 1];
    char text[NODE_MESH_TEXT_MAX + 1]; /* a notice's text, "" for other types */
    uint64_t time_ms;                  /* a notice's time (Unix ms), 0 for others */
    uint64_t received_ms;              /* Unix ms when this node got it */
    bool own;                          /* published here */
    uint64_t seq;                      /* this node's running number of kept records, from 1 */
} node_mesh_record_t;

/* Replies travel in pages that fit a control message (WD_CHAN_MAX_BODY):
   a request {start: uint} asks for the page that begins at peer index
   `start` (peers) or at the first kept record whose seq is at least `start`
   (records); the reply says whether more follow. */
uint8_t *
node_mesh_encode_start (uint64_t start, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_start (const uint8_t *body, size_t len, uint64_t *start);

/* {more: bool, peers: [map], summary: map}: the peers from index start on,
   as many as fit. The encoder returns a malloc'ed body. The decoder
   fills *summary and appends the page's peers to the malloc'ed array
   *peers of *count (start both at NULL and 0; caller frees). */
uint8_t *
node_mesh_encode_peers (const node_mesh_summary_t *summary, const node_mesh_peer_t *peers,
                        size_t count, size_t start, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_peers (const uint8_t *body, size_t len, node_mesh_summary_t *summary,
                        node_mesh_peer_t **peers, size_t *count, bool *more);

/* {more: bool, records: [map]}, oldest first, as many of records[0..count)
   as fit; the decoder appends like node_mesh_decode_peers. */
uint8_t *
node_mesh_encode_records (const node_mesh_record_t *records, size_t count, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_records (const uint8_t *body, size_t len, node_mesh_record_t **records,
                          size_t *count, bool *more);

/* {text: str}: a publish request; {id: bin(32)}: its reply. */
uint8_t *
node_mesh_encode_publish (const char *text, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_publish (const uint8_t *body, size_t len, char text[NODE_MESH_TEXT_MAX + 1]);

/* ---- hello (transport channel 7, CONS_CHANNEL_HELLO; docs/PROTOCOL.md
   "Membership transactions") ---------------------------------------------- */

#define NODE_MESH_HELLO_PEERS 64 /* endpoints of others in one hello, at most */
#define NODE_MESH_HELLO_MAX                                                                        \
    (NODE_MESH_HELLO_PEERS * (WD_PUBKEY_LEN + NODE_MESH_ADDRESS_MAX + 8) + 512)

typedef struct {
    uint8_t id[WD_PUBKEY_LEN];
    char endpoint[NODE_MESH_ADDRESS_MAX + 1];
} node_mesh_hello_peer_t;

/* {ask: bool, endpoint: str, peers: [[id: bin(32), endpoint: str], ...], v: 1}:
   where the sender listens ("" when it has none to tell), the endpoints it
   knows of other admitted nodes, and whether it asks for a hello back. The
   codec does not judge the values (ids it does not admit, endpoints that
   are not tcp://): the receiver ignores those. */
typedef struct {
    bool ask;
    char endpoint[NODE_MESH_ADDRESS_MAX + 1];
    size_t count; /* peers[0..count), at most NODE_MESH_HELLO_PEERS */
    node_mesh_hello_peer_t peers[NODE_MESH_HELLO_PEERS];
} node_mesh_hello_t;

/* The hello's canonical bytes (caller frees). */
uint8_t *
node_mesh_encode_hello (const node_mesh_hello_t *hello, size_t *len);

/* Decodes a hello: more than NODE_MESH_HELLO_MAX bytes or more than
   NODE_MESH_HELLO_PEERS peers WD_ERR_OVERSIZE; wd_codec_check's reasons
   (a string longer than NODE_MESH_ADDRESS_MAX: WD_ERR_OVERSIZE); the
   schema's reasons (a missing, extra or misordered key, a wrong type; a
   peer id not 32 bytes or a peer not a pair: WD_ERR_BAD_LENGTH); v != 1
   WD_ERR_BAD_VERSION.
   *hello is zeroed on failure. */
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_hello (const uint8_t *body, size_t len, node_mesh_hello_t *hello);

/* {op: str, request: bin}: a member request (WD_MSG_CTL_MEMBER); op is
   "request" (this node's join-request, returned), "admit" (request: a
   join-request envelope; this node seals and gossips the join record),
   "rotate" (request: a rotate-request envelope signed by this node's new
   key; this node seals the rotate record with its current key and gossips
   it) or "leave" (this node's leave record); request is empty but for
   admit and rotate. The
   reply {envelope: bin, id: bin(32)} holds the sealed envelope. The
   decoders borrow from body. */
uint8_t *
node_mesh_encode_member (const char *op, const uint8_t *request, size_t request_len, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_member (const uint8_t *body, size_t len, char op[16], const uint8_t **request,
                         size_t *request_len);
uint8_t *
node_mesh_encode_member_reply (const uint8_t *envelope, size_t envelope_len, const uint8_t id[32],
                               size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_member_reply (const uint8_t *body, size_t len, const uint8_t **envelope,
                               size_t *envelope_len, uint8_t id[32]);

/* The notice record's body {text: str, time: uint} (Unix ms). */
uint8_t *
node_mesh_encode_notice (const char *text, uint64_t time_ms, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_mesh_decode_notice (const uint8_t *body, size_t len, char text[NODE_MESH_TEXT_MAX + 1],
                         uint64_t *time_ms);

#endif
