/*
 * sim_gossip: a deterministic simulator of the gossip (consensus/cons_gossip)
 * — N real instances, real Ed25519-signed envelopes, a virtual clock and a
 * virtual network with delay and loss, partitions and cut links; a run is a
 * pure function of its seed. It drives the machines exactly as wardend's
 * driver will (MESH.md): every SEND goes on the network, DELIVER goes to
 * the node's record log, BAN makes the node's "transport" drop the peer,
 * and membership changes are passed on with cons_gossip_set_peers.
 *
 * Scenarios (--scenario):
 *   spread     records published at random nodes on a lossy network: every
 *              record must reach every node, with at most N·D record
 *              copies sent per record; prints dissemination latency p50/p99
 *              (ms and heartbeats), hops p50/p99 and copies per record.
 *   byzantine  as spread, plus one node that also injects records with bad
 *              signatures and records signed by unknown keys: every honest
 *              node must graylist then ban it, none may deliver any of its
 *              bad records, and every honest record still reaches everyone.
 *   partition  the network splits in two halves for 10 s (membership drops
 *              the other side after 2 s, and brings it back 1 s after the
 *              heal); records published on both sides before, during and
 *              after must reach everyone after the heal (IHAVE/IWANT and
 *              catch-up).
 *   linkdrop   every link of one node is cut for 2 s while others publish
 *              (membership does not notice); after the links come back the
 *              node must get every record, and it must have asked by IWANT.
 *
 * Exit codes: 0 every check passed, 1 a check failed, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_gossip.h"
#include "sim_heap.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_rand.h"

#define S_D           6 /* the mesh degree, for the N·D bound */
#define S_NODES_MAX   64
#define S_RECORDS_MAX 1024

typedef enum { EV_MSG = 1, EV_TICK, EV_PUBLISH, EV_ACTION } s_ev_kind_t;

typedef struct {
    uint64_t t; /* when it is due */
    s_ev_kind_t kind;
    int from, to; /* EV_MSG: nodes; EV_TICK/EV_PUBLISH: to is the node */
    int arg;      /* EV_PUBLISH: record; EV_ACTION: action */
    uint8_t *body;
    size_t len;
} s_ev_t;

typedef struct {
    uint8_t *bytes;
    size_t len;
    uint8_t id[32];
    int author; /* node index */
    bool bad;   /* injected by the byzantine node: must reach nobody */
    uint64_t published;
    uint64_t copies; /* copies sent in PUBLISH and CATCHUP_RSP bodies */
} s_rec_t;

typedef struct {
    uint8_t pk[32], sk[64];
    cons_gossip_t *g;
    uint64_t got_at[S_RECORDS_MAX]; /* 0: not yet; else time + 1 */
    int hops[S_RECORDS_MAX];
    uint64_t banned_until[S_NODES_MAX];
    bool graylisted_seen[S_NODES_MAX], banned_seen[S_NODES_MAX];
    uint64_t iwant_sent;
} s_node_t;

enum { ACT_SPLIT = 1, ACT_FORGET_OTHER_SIDE, ACT_HEAL, ACT_REMEMBER_ALL, ACT_CUT, ACT_UNCUT };

typedef struct {
    wd_rand_t rng;
    int n;
    s_node_t nodes[S_NODES_MAX];
    s_rec_t recs[S_RECORDS_MAX];
    int rec_count;
    sim_heap_t queue;
    uint64_t now;
    uint32_t loss_ppm, delay_min, delay_max;
    bool split;
    int cut; /* node whose links are cut, or -1 */
    int byz; /* byzantine node, or -1 */
    uint8_t chain[32];
    uint8_t unknown_pk[32], unknown_sk[64];
    uint64_t msgs, control;
    uint64_t honest_penalties; /* broken promises and late GRAFTs of honest nodes */
    int failures;
    bool verbose;
} s_world_t;

static s_world_t W;

static uint64_t
s_range (uint64_t lo, uint64_t hi)
{
    return lo + wd_rand_next (&W.rng) % (hi - lo + 1);
}

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf (stderr, "FAIL: " __VA_ARGS__);                                                    \
        fputc ('\n', stderr);                                                                      \
        W.failures++;                                                                              \
    } while (0)

/* ---- the event queue (sim_heap.h) ---------------------------------------- */

static void
s_push (s_ev_t ev)
{
    s_ev_t *e = malloc (sizeof *e);
    if (!e)
        abort ();
    *e = ev;
    sim_heap_push (&W.queue, e->t, e);
}

static s_ev_t *
s_pop (void)
{
    return sim_heap_pop (&W.queue);
}

/* ---- nodes ----------------------------------------------------------------- */

static int
s_node_of (const uint8_t pk[32])
{
    for (int i = 0; i < W.n; i++)
        if (memcmp (W.nodes[i].pk, pk, 32) == 0)
            return i;
    return -1;
}

static int
s_rec_of (const uint8_t id[32])
{
    for (int i = 0; i < W.rec_count; i++)
        if (memcmp (W.recs[i].id, id, 32) == 0)
            return i;
    return -1;
}

/* Known senders: the N nodes (the genesis certificates, in wardend). */
static int
s_accept (void *ctx, const wd_envelope_t *env, const uint8_t *record, size_t len)
{
    (void)ctx;
    (void)record;
    (void)len;
    return s_node_of (env->from) >= 0 ? WD_OK : CONS_ERR_GOSSIP_UNKNOWN_SENDER;
}

static int
s_sign (void *ctx, const uint8_t digest[WD_DIGEST_LEN], uint8_t sig[WD_SIG_LEN])
{
    crypto_sign_detached (sig, NULL, digest, WD_DIGEST_LEN, ctx);
    return 0;
}

/* Makes record number W.rec_count, signed by pk/sk; corrupt: flip a bit of
   the signature. */
static int
s_make_record (int author, const uint8_t *pk, const uint8_t *sk, bool corrupt)
{
    if (W.rec_count == S_RECORDS_MAX)
        abort ();
    int idx = W.rec_count++;
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "n");
    wd_writer_uint (w, (uint64_t)idx);
    wd_writer_key (w, "pad");
    uint8_t pad[64];
    memset (pad, idx & 0xff, sizeof pad);
    wd_writer_bin (w, pad, sizeof pad);
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    s_rec_t *r = &W.recs[idx];
    memset (r, 0, sizeof *r);
    if (wd_envelope_seal ("sim.record", W.chain, pk, body, body_len, s_sign, (void *)sk, &r->bytes,
                          &r->len) != WD_OK)
        abort ();
    wd_writer_destroy (&w);
    if (corrupt) {
        wd_envelope_t env;
        if (wd_envelope_decode (r->bytes, r->len, &env) != WD_OK)
            abort ();
        env.sig[idx % 64] ^= 0x10;
        uint8_t *old = r->bytes; /* env.body points into it */
        wd_envelope_encode (&env, &r->bytes, &r->len);
        free (old);
    }
    wd_envelope_id (r->id, r->bytes, r->len);
    r->author = author;
    r->bad = corrupt || author < 0;
    return idx;
}

static bool
s_link_up (int a, int b)
{
    if (W.cut >= 0 && (a == W.cut || b == W.cut))
        return false;
    if (W.split && (a < W.n / 2) != (b < W.n / 2))
        return false;
    /* A node's transport drops a peer it has banned, both ways. */
    if (W.nodes[a].banned_until[b] > W.now || W.nodes[b].banned_until[a] > W.now)
        return false;
    return true;
}

static void
s_send (int from, int to, const uint8_t *body, size_t len)
{
    W.msgs++;
    cons_gossip_msg_t msg;
    if (cons_gossip_msg_decode (body, len, 1 << 20, &msg) != WD_OK) {
        FAIL ("node %d sent a body that does not decode", from);
        return;
    }
    if (msg.kind == CONS_GOSSIP_PUBLISH || msg.kind == CONS_GOSSIP_CATCHUP_RSP) {
        for (size_t i = 0; i < msg.record_count; i++) {
            uint8_t id[32];
            wd_envelope_id (id, msg.records[i], msg.record_lens[i]);
            int r = s_rec_of (id);
            if (r < 0 || W.recs[r].bad) {
                FAIL ("node %d forwarded a record that is not an honest one", from);
                continue;
            }
            W.recs[r].copies++;
        }
    } else
        W.control++;
    if (msg.kind == CONS_GOSSIP_IWANT)
        W.nodes[from].iwant_sent++;
    if (!s_link_up (from, to) || wd_rand_next (&W.rng) % 1000000 < W.loss_ppm)
        return;
    uint8_t *copy = malloc (len);
    if (!copy)
        abort ();
    memcpy (copy, body, len);
    s_push ((s_ev_t){ .t = W.now + s_range (W.delay_min, W.delay_max),
                      .kind = EV_MSG,
                      .from = from,
                      .to = to,
                      .body = copy,
                      .len = len });
}

static void
s_outputs (int i)
{
    s_node_t *nd = &W.nodes[i];
    cons_gossip_output_t o;
    while (cons_gossip_output (nd->g, &o)) {
        int peer = s_node_of (o.peer);
        if (peer < 0 || peer == i) {
            FAIL ("node %d: output for a node that is not a peer", i);
            continue;
        }
        switch (o.kind) {
            case CONS_GOSSIP_OUT_SEND:
                s_send (i, peer, o.data, o.len);
                break;
            case CONS_GOSSIP_OUT_DELIVER: {
                int r = s_rec_of (o.id);
                if (r < 0 || W.recs[r].bad) {
                    FAIL ("node %d delivered a record that is not an honest one", i);
                    break;
                }
                if (nd->got_at[r]) {
                    FAIL ("node %d delivered record %d twice", i, r);
                    break;
                }
                nd->got_at[r] = W.now + 1;
                int src_hops = W.nodes[peer].hops[r];
                nd->hops[r] = src_hops + 1;
                break;
            }
            case CONS_GOSSIP_OUT_GRAYLIST:
                nd->graylisted_seen[peer] = true;
                if (W.verbose)
                    fprintf (stderr, "%6" PRIu64 " node %d graylists %d (score %" PRId64 ")\n",
                             W.now, i, peer, o.score);
                break;
            case CONS_GOSSIP_OUT_BAN:
                if (!nd->graylisted_seen[peer])
                    FAIL ("node %d banned %d without graylisting it first", i, peer);
                nd->banned_seen[peer] = true;
                nd->banned_until[peer] = o.until_ms;
                if (W.verbose)
                    fprintf (stderr, "%6" PRIu64 " node %d bans %d (score %" PRId64 ")\n", W.now, i,
                             peer, o.score);
                break;
            case CONS_GOSSIP_OUT_PENALTY:
                /* Loss can break an honest IWANT promise or make an honest
                   GRAFT arrive after a PRUNE was lost; nothing else may
                   ever be held against an honest node. */
                if (o.reason == CONS_ERR_GOSSIP_PROMISE || o.reason == CONS_ERR_GOSSIP_BACKOFF)
                    W.honest_penalties += peer != W.byz;
                else if (peer != W.byz)
                    FAIL ("node %d blamed honest node %d: %s", i, peer, cons_err_name (o.reason));
                break;
            default:
                break;
        }
    }
}

/* Membership: node i's peer set is every node it can reach by the rules of
   the scenario (all of them, or its own side). */
static void
s_set_peers (int i, bool own_side_only)
{
    uint8_t ids[S_NODES_MAX][32];
    size_t n = 0;
    for (int j = 0; j < W.n; j++)
        if (j != i && (!own_side_only || (i < W.n / 2) == (j < W.n / 2)))
            memcpy (ids[n++], W.nodes[j].pk, 32);
    if (cons_gossip_set_peers (W.nodes[i].g, (const uint8_t (*)[32])ids, n, W.now) != WD_OK)
        FAIL ("node %d: set_peers failed", i);
    s_outputs (i);
}

static void
s_inject_bad (void)
{
    /* The byzantine node sends two bad records to every peer it still
       reaches: one with a corrupted signature under its own key, one
       signed by a key no one knows. */
    int a = s_make_record (W.byz, W.nodes[W.byz].pk, W.nodes[W.byz].sk, true);
    int b = s_make_record (-1, W.unknown_pk, W.unknown_sk, false);
    W.recs[a].published = W.recs[b].published = W.now;
    for (int k = 0; k < 2; k++) {
        s_rec_t *r = &W.recs[k ? b : a];
        cons_gossip_msg_t m;
        memset (&m, 0, sizeof m);
        m.kind = CONS_GOSSIP_PUBLISH;
        m.record_count = 1;
        m.records[0] = r->bytes;
        m.record_lens[0] = r->len;
        size_t len;
        uint8_t *body = cons_gossip_msg_encode (&m, &len);
        for (int j = 0; j < W.n; j++) {
            if (j == W.byz || !s_link_up (W.byz, j))
                continue;
            uint8_t *copy = malloc (len);
            memcpy (copy, body, len);
            s_push ((s_ev_t){ .t = W.now + s_range (W.delay_min, W.delay_max),
                              .kind = EV_MSG,
                              .from = W.byz,
                              .to = j,
                              .body = copy,
                              .len = len });
        }
        free (body);
    }
}

static void
s_action (int act)
{
    switch (act) {
        case ACT_SPLIT:
            W.split = true;
            break;
        case ACT_FORGET_OTHER_SIDE:
            for (int i = 0; i < W.n; i++)
                s_set_peers (i, true);
            break;
        case ACT_HEAL:
            W.split = false;
            break;
        case ACT_REMEMBER_ALL:
            for (int i = 0; i < W.n; i++)
                s_set_peers (i, false);
            break;
        case ACT_CUT:
            W.cut = 3;
            break;
        case ACT_UNCUT:
            W.cut = -1;
            break;
        default:
            abort ();
    }
}

/* ---- a run ------------------------------------------------------------------- */

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t
s_pct (uint64_t *v, size_t n, unsigned pct)
{
    if (!n)
        return 0;
    qsort (v, n, sizeof *v, s_cmp_u64);
    size_t k = (n * pct + 99) / 100;
    return v[k ? k - 1 : 0];
}

typedef struct {
    const char *scenario;
    int nodes;
    int records;
    uint64_t seed;
    uint32_t loss_ppm;
    bool verbose;
} s_opts_t;

static int
s_run (const s_opts_t *opt)
{
    memset (&W, 0, sizeof W);
    W.rng = wd_rand_seeded (opt->seed * 0x2545f4914f6cdd1dULL + 1);
    W.n = opt->nodes;
    W.cut = W.byz = -1;
    W.loss_ppm = opt->loss_ppm;
    W.delay_min = 5;
    W.delay_max = 40;
    W.verbose = opt->verbose;
    memset (W.chain, 0xc4, sizeof W.chain);
    bool byz = strcmp (opt->scenario, "byzantine") == 0;
    bool part = strcmp (opt->scenario, "partition") == 0;
    bool drop = strcmp (opt->scenario, "linkdrop") == 0;
    if (!byz && !part && !drop && strcmp (opt->scenario, "spread") != 0) {
        fprintf (stderr, "unknown scenario %s\n", opt->scenario);
        return 2;
    }
    if (byz)
        W.byz = W.n - 1;
    for (int i = 0; i < W.n; i++) {
        uint8_t seed[32];
        for (int k = 0; k < 32; k++)
            seed[k] = (uint8_t)wd_rand_next (&W.rng);
        crypto_sign_seed_keypair (W.nodes[i].pk, W.nodes[i].sk, seed);
        for (int r = 0; r < S_RECORDS_MAX; r++)
            W.nodes[i].hops[r] = 0;
    }
    uint8_t useed[32];
    for (int k = 0; k < 32; k++)
        useed[k] = (uint8_t)wd_rand_next (&W.rng);
    crypto_sign_seed_keypair (W.unknown_pk, W.unknown_sk, useed);
    for (int i = 0; i < W.n; i++) {
        cons_gossip_config_t c;
        memset (&c, 0, sizeof c);
        memcpy (c.chain, W.chain, 32);
        memcpy (c.self, W.nodes[i].pk, 32);
        c.seed = wd_rand_next (&W.rng);
        c.start_ms = s_range (0, 999); /* heartbeats are not in step */
        c.accept = s_accept;
        if (cons_gossip_new (&c, &W.nodes[i].g) != WD_OK)
            abort ();
        s_set_peers (i, false);
        s_push (
            (s_ev_t){ .t = cons_gossip_next_deadline (W.nodes[i].g), .kind = EV_TICK, .to = i });
    }
    /* Records: honest authors, publication times by scenario. */
    uint64_t pub_lo = 2000, pub_hi = 22000, end = 45000;
    if (part) {
        s_push ((s_ev_t){ .t = 5000, .kind = EV_ACTION, .arg = ACT_SPLIT });
        s_push ((s_ev_t){ .t = 7000, .kind = EV_ACTION, .arg = ACT_FORGET_OTHER_SIDE });
        s_push ((s_ev_t){ .t = 15000, .kind = EV_ACTION, .arg = ACT_HEAL });
        s_push ((s_ev_t){ .t = 16000, .kind = EV_ACTION, .arg = ACT_REMEMBER_ALL });
    }
    if (drop) {
        s_push ((s_ev_t){ .t = 5000, .kind = EV_ACTION, .arg = ACT_CUT });
        s_push ((s_ev_t){ .t = 7000, .kind = EV_ACTION, .arg = ACT_UNCUT });
        pub_lo = 5000;
        pub_hi = 6500;
        end = 20000;
    }
    for (int k = 0; k < opt->records; k++) {
        int author;
        do
            author = (int)s_range (0, (uint64_t)W.n - 1);
        while (author == W.byz || (drop && author == 3));
        int r = s_make_record (author, W.nodes[author].pk, W.nodes[author].sk, false);
        W.recs[r].published = s_range (pub_lo, pub_hi);
        s_push ((s_ev_t){ .t = W.recs[r].published, .kind = EV_PUBLISH, .to = author, .arg = r });
    }
    uint64_t next_bad = byz ? 1500 : UINT64_MAX;
    uint64_t drop_iwant_before = 0;
    for (s_ev_t *e = NULL; W.queue.n && W.queue.entries[0].t <= end; free (e)) {
        e = s_pop ();
        while (next_bad <= e->t && next_bad < 30000) {
            W.now = next_bad;
            s_inject_bad ();
            next_bad += 250;
        }
        W.now = e->t;
        switch (e->kind) {
            case EV_MSG:
                (void)cons_gossip_input (W.nodes[e->to].g, W.nodes[e->from].pk, e->body, e->len,
                                         W.now);
                free (e->body);
                s_outputs (e->to);
                break;
            case EV_TICK:
                cons_gossip_tick (W.nodes[e->to].g, W.now);
                s_outputs (e->to);
                s_push ((s_ev_t){ .t = cons_gossip_next_deadline (W.nodes[e->to].g),
                                  .kind = EV_TICK,
                                  .to = e->to });
                break;
            case EV_PUBLISH: {
                s_rec_t *r = &W.recs[e->arg];
                if (cons_gossip_publish (W.nodes[e->to].g, r->bytes, r->len, W.now) != WD_OK)
                    FAIL ("node %d could not publish record %d", e->to, e->arg);
                W.nodes[e->to].got_at[e->arg] = W.now + 1;
                W.nodes[e->to].hops[e->arg] = 0;
                s_outputs (e->to);
                break;
            }
            case EV_ACTION:
                s_action (e->arg);
                if (e->arg == ACT_UNCUT)
                    drop_iwant_before = W.nodes[3].iwant_sent;
                break;
        }
    }
    while (W.queue.n) {
        s_ev_t *e = s_pop ();
        free (e->body);
        free (e);
    }

    /* Checks and figures. */
    static uint64_t lat[S_NODES_MAX * S_RECORDS_MAX], hops[S_NODES_MAX * S_RECORDS_MAX];
    size_t nl = 0;
    uint64_t copies = 0;
    int honest = 0, missing = 0;
    for (int r = 0; r < W.rec_count; r++) {
        if (W.recs[r].bad)
            continue;
        honest++;
        copies += W.recs[r].copies;
        for (int i = 0; i < W.n; i++) {
            if (i == W.byz)
                continue;
            if (!W.nodes[i].got_at[r]) {
                if (missing++ < 5)
                    FAIL ("record %d (author %d) never reached node %d", r, W.recs[r].author, i);
                continue;
            }
            if (i == W.recs[r].author)
                continue;
            lat[nl] = W.nodes[i].got_at[r] - 1 - W.recs[r].published;
            hops[nl++] = (uint64_t)W.nodes[i].hops[r];
        }
    }
    if (missing > 5)
        FAIL ("%d deliveries missing in all", missing);
    double per = honest ? (double)copies / honest : 0;
    double bound = (double)W.n * S_D;
    if (strcmp (opt->scenario, "spread") == 0 && per > bound)
        FAIL ("%.1f record copies per record, above N*D = %.0f", per, bound);
    if (byz)
        for (int i = 0; i < W.n; i++)
            if (i != W.byz && !W.nodes[i].banned_seen[W.byz])
                FAIL ("node %d never banned the byzantine node %d", i, W.byz);
    if (drop && W.nodes[3].iwant_sent <= drop_iwant_before)
        FAIL ("node 3 did not ask by IWANT after its links came back");
    uint64_t l50 = s_pct (lat, nl, 50), l99 = s_pct (lat, nl, 99);
    uint64_t h50 = s_pct (hops, nl, 50), h99 = s_pct (hops, nl, 99);
    printf ("gossip %-9s n=%-2d seed=%" PRIu64 " records=%d loss=%.1f%% latency_ms p50=%" PRIu64
            " p99=%" PRIu64 " heartbeats p50=%.2f p99=%.2f hops p50=%" PRIu64 " p99=%" PRIu64
            " copies/record=%.1f N*D=%.0f ratio=%.2f control/record=%.1f honest_penalties=%" PRIu64
            " %s\n",
            opt->scenario, W.n, opt->seed, honest, opt->loss_ppm / 10000.0, l50, l99, l50 / 1000.0,
            l99 / 1000.0, h50, h99, per, bound, per / bound,
            honest ? (double)W.control / honest : 0.0, W.honest_penalties,
            W.failures ? "FAIL" : "ok");
    for (int i = 0; i < W.n; i++)
        cons_gossip_destroy (&W.nodes[i].g);
    for (int r = 0; r < W.rec_count; r++)
        free (W.recs[r].bytes);
    sim_heap_fini (&W.queue);
    return W.failures ? 1 : 0;
}

int
main (int argc, char **argv)
{
    s_opts_t opt = {
        .scenario = "spread", .nodes = 16, .records = 100, .seed = 1, .loss_ppm = 10000
    };
    int seeds = 1;
    static const struct option longs[] = { { "scenario", required_argument, NULL, 's' },
                                           { "nodes", required_argument, NULL, 'n' },
                                           { "records", required_argument, NULL, 'r' },
                                           { "seed", required_argument, NULL, 'S' },
                                           { "seeds", required_argument, NULL, 'k' },
                                           { "loss", required_argument, NULL, 'l' },
                                           { "verbose", no_argument, NULL, 'v' },
                                           { "help", no_argument, NULL, 'h' },
                                           { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", longs, NULL)) != -1) {
        switch (c) {
            case 's':
                opt.scenario = optarg;
                break;
            case 'n':
                opt.nodes = (int)strtol (optarg, NULL, 10);
                break;
            case 'r':
                opt.records = (int)strtol (optarg, NULL, 10);
                break;
            case 'S':
                opt.seed = strtoull (optarg, NULL, 10);
                break;
            case 'k':
                seeds = (int)strtol (optarg, NULL, 10);
                break;
            case 'l':
                opt.loss_ppm = (uint32_t)(strtod (optarg, NULL) * 10000);
                break;
            case 'v':
                opt.verbose = true;
                break;
            case 'h':
                printf ("usage: %s [--scenario spread|byzantine|partition|linkdrop] [--nodes N]\n"
                        "       [--records R] [--seed S] [--seeds K] [--loss PERCENT] "
                        "[--verbose]\n",
                        argv[0]);
                return 0;
            default:
                return 2;
        }
    }
    if (opt.nodes < 4 || opt.nodes > S_NODES_MAX || opt.records < 1 || opt.records > 400 ||
        seeds < 1 || opt.loss_ppm > 500000) {
        fprintf (stderr, "%s: options out of range (--help)\n", argv[0]);
        return 2;
    }
    if (sodium_init () < 0)
        return 1;
    int rc = 0;
    for (int k = 0; k < seeds; k++, opt.seed++) {
        int r = s_run (&opt);
        if (r)
            rc = r;
    }
    return rc;
}
