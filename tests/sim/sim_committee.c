/*
 * sim_committee: a deterministic simulation of verifier committees
 * (consensus/cons_committee, the committee rules of cons_reputation and
 * cons_ledger; docs/PROTOCOL.md "Verifier committees").
 *
 * N nodes of the test chain (tests/unit/cons_test_chain.h), each running
 * its own cons_committee tracker and its own real cons_ledger (SQLite in a
 * temporary directory). Nodes publish evidence records (good or bad: the
 * simulator is the oracle of what an appraisal finds); every node that
 * holds an evidence record draws its sortition claim with its real VRF key
 * and, when selected, gossips a committee verdict; when its tracker says a
 * record is escalated, every validator that has not voted gossips an
 * escalation verdict. Some nodes lie (they accept bad evidence and reject
 * good evidence). Evidence and verdicts travel over a virtual network that
 * delays (reorders), drops and duplicates each copy; nodes re-send their
 * own records until a committed block decides them, as the gossip's repair
 * would. Every block interval the next proposer (round robin) fills a block
 * with cons_committee_propose; every node's ledger must accept it
 * (cons_ledger_check_block), then every ledger appends it with a
 * certificate from all validators and every tracker is told what was
 * committed. Agreement itself is not simulated (sim_agree does that).
 *
 * A run is a pure function of its seed (one PRNG, a virtual clock, events
 * ordered by time and sequence number). Checked:
 *   - every proposal is accepted by every node's ledger, and every append
 *     succeeds;
 *   - at the end all ledgers have the same tip and reputation hash, every
 *     tracker agrees with the chain on every record (decided or not, and
 *     how), and cons_ledger_verify_all replays node 0's chain;
 *   - no good evidence is rejected; bad evidence is certified only when at
 *     least two liars gave committee ACCEPTs (impossible with one liar);
 *   - no honest node ever misses (its verdicts agree with every outcome);
 *     every liar that voted on a decided record has misses;
 *   - with liveness (the default): good evidence with two honest committee
 *     ACCEPTs or an escalation is certified, and bad evidence that an
 *     honest verifier saw is rejected through escalation. That needs the
 *     honest validators other than the subject to hold more than 2/3 of the
 *     weight of all validators other than the subject: one liar among
 *     seven with equal weights (epoch_blocks large, so the genesis weights
 *     hold). --no-liveness drops this check for the runs with two liars or
 *     reputation-driven weights (where a rejected node also leaves the
 *     set), which print how many records stayed undecided.
 *
 *   sim_committee --seeds 4                         the ctest run
 *   sim_committee --seed 3 --trace                  replay one seed
 *
 * Exit codes: 0 every check passed, 1 a check failed, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cons_committee.h"
#include "cons_ledger.h"
#include "cons_test_chain.h"
#include "sim_heap.h"
#include "wd_rand.h"
#include "wd_vrf.h"

#define S_NODES_MAX             TCHAIN_NODES_MAX
#define S_EVIDENCE_MAX          64
#define S_OWN_MAX               (2 * S_EVIDENCE_MAX)
#define S_BLOCK_MS              500   /* one block per interval */
#define S_RESEND_MS             700   /* a node re-sends its undecided records */
#define S_PUBLISH_MS            400   /* mean gap between evidence records */
#define S_SETTLE_MS             30000 /* after the last evidence */
#define S_SETTLE_NO_LIVENESS_MS 6000  /* when undecided records may stay */
#define S_BLOCK_RECS            64

typedef enum { EV_MSG = 1, EV_PUBLISH, EV_BLOCK, EV_RESEND } s_ev_kind_t;

typedef struct {
    uint64_t t; /* when it is due */
    s_ev_kind_t kind;
    int to, arg; /* EV_MSG: arg 1 evidence, 0 verdict; EV_PUBLISH: evidence */
    uint8_t *body;
    size_t len;
} s_ev_t;

typedef struct {
    uint8_t *bytes;
    size_t len;
    uint8_t id[32];
    int attester;
    bool good;
    int honest_committee, honest_accepts, liar_accepts; /* committee verdicts sent */
    bool any_reject;                                    /* a committee REJECT was sent */
} s_evid_t;

typedef struct {
    int ev; /* evidence index */
    uint8_t *bytes;
    size_t len;
    bool evidence;
} s_own_t;

typedef struct {
    cons_ledger_t *ledger;
    cons_committee_t *cm;
    wd_vrf_key_t *vrf;
    bool liar;
    bool has_ev[S_EVIDENCE_MAX];
    uint8_t voted[S_EVIDENCE_MAX]; /* 0, 1 committee, 2 escalation */
    bool drawn[S_EVIDENCE_MAX];
    s_own_t own[S_OWN_MAX];
    int own_count;
} s_node_t;

typedef struct {
    unsigned nodes, liars, evidence;
    uint64_t epoch_blocks;
    unsigned loss_pct;
    bool liveness, trace, quiet;
} s_opts_t;

typedef struct {
    s_opts_t o;
    wd_rand_t rng;
    tchain_t t;
    char dir[256];
    s_node_t nodes[S_NODES_MAX];
    s_evid_t ev[S_EVIDENCE_MAX];
    int ev_count;
    cons_committee_epoch_t ep; /* the committee epoch every node holds */
    cons_validator_t ep_set[S_NODES_MAX];
    sim_heap_t queue;
    uint64_t now, end;
    uint64_t tau;
    /* figures */
    uint64_t msgs, lost, blocks, records, claims, refused[8];
    int failures;
} s_world_t;

static s_world_t W;

#define FAIL(...)                                                                                  \
    do {                                                                                           \
        fprintf (stderr, "FAIL: t=%" PRIu64 " ms: ", W.now);                                       \
        fprintf (stderr, __VA_ARGS__);                                                             \
        fputc ('\n', stderr);                                                                      \
        W.failures++;                                                                              \
    } while (0)

#define TRACE(...)                                                                                 \
    do {                                                                                           \
        if (W.o.trace) {                                                                           \
            fprintf (stderr, "%8" PRIu64 " ", W.now);                                              \
            fprintf (stderr, __VA_ARGS__);                                                         \
            fputc ('\n', stderr);                                                                  \
        }                                                                                          \
    } while (0)

static uint64_t
s_below (uint64_t n)
{
    return wd_rand_below (&W.rng, n);
}

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

/* ---- the network ------------------------------------------------------- */

/* One copy from a node to another: lost, or delivered after 5-400 ms
   (so copies overtake each other), sometimes twice. */
static void
s_send (int to, const uint8_t *bytes, size_t len, bool evidence)
{
    W.msgs++;
    if (s_below (100) < W.o.loss_pct) {
        W.lost++;
        return;
    }
    int copies = s_below (100) < 5 ? 2 : 1;
    for (int k = 0; k < copies; k++) {
        uint8_t *copy = malloc (len);
        if (!copy)
            abort ();
        memcpy (copy, bytes, len);
        s_push ((s_ev_t){ .t = W.now + 5 + s_below (396),
                          .kind = EV_MSG,
                          .to = to,
                          .arg = evidence,
                          .body = copy,
                          .len = len });
    }
}

static void
s_broadcast (int from, const uint8_t *bytes, size_t len, bool evidence)
{
    for (unsigned j = 0; j < W.o.nodes; j++)
        if ((int)j != from)
            s_send ((int)j, bytes, len, evidence);
}

static void
s_own (int i, int ev, const uint8_t *bytes, size_t len, bool evidence)
{
    s_node_t *n = &W.nodes[i];
    if (n->own_count == S_OWN_MAX)
        abort ();
    s_own_t *o = &n->own[n->own_count++];
    o->ev = ev;
    o->evidence = evidence;
    o->len = len;
    o->bytes = malloc (len);
    if (!o->bytes)
        abort ();
    memcpy (o->bytes, bytes, len);
}

/* ---- nodes --------------------------------------------------------------- */

static bool
s_validator (int i)
{
    for (size_t k = 0; k < W.ep.count; k++)
        if (memcmp (W.ep.validators[k].pk, W.t.pk[i], 32) == 0)
            return true;
    return false;
}

/* Node i gives its verdict on evidence k: a committee verdict with claim,
   or an escalation verdict (claim NULL). */
static void
s_vote (int i, int k, const cons_sortition_claim_t *claim)
{
    s_node_t *n = &W.nodes[i];
    s_evid_t *e = &W.ev[k];
    bool pass = e->good != n->liar;
    size_t len;
    uint8_t *v = tchain_cverdict (&W.t, (size_t)i, e->id, (size_t)e->attester, pass, W.ep.epoch,
                                  claim, &len);
    int err = cons_committee_add_verdict (n->cm, v, len, W.now);
    if (err != WD_OK)
        FAIL ("node %d: its own %s verdict on evidence %d: %s", i,
              claim ? "committee" : "escalation", k, cons_strerror (err));
    n->voted[k] = claim ? 1 : 2;
    if (claim) {
        if (!n->liar) {
            e->honest_committee++;
            e->honest_accepts += pass;
        } else
            e->liar_accepts += pass;
        if (!pass)
            e->any_reject = true;
    }
    TRACE ("node %d%s votes %s on evidence %d (%s, %s)", i, n->liar ? " (liar)" : "",
           pass ? "ACCEPT" : "REJECT", k, e->good ? "good" : "bad",
           claim ? "committee" : "escalation");
    s_broadcast (i, v, len, false);
    s_own (i, k, v, len, false);
    free (v);
}

/* What node i does about what it now knows: draw its sortition for
   evidence it holds (a committee verdict when selected), and give an
   escalation verdict on escalated records it has not voted on. */
static void
s_act (int i)
{
    s_node_t *n = &W.nodes[i];
    for (int k = 0; k < W.ev_count; k++) {
        s_evid_t *e = &W.ev[k];
        if (!n->has_ev[k] || e->attester == i || n->voted[k])
            continue;
        cons_committee_status_t st;
        if (cons_committee_status (n->cm, e->id, &st) != WD_OK || st.chain_decided ||
            st.state == CONS_COMMITTEE_CERTIFIED || st.state == CONS_COMMITTEE_REJECTED)
            continue;
        if (!n->drawn[k]) {
            n->drawn[k] = true;
            cons_sortition_input_t in;
            cons_sortition_claim_t claim;
            cons_committee_input (W.t.chain, &W.ep, e->id, W.t.pk[i], W.tau, &in);
            if (in.weight > 0) {
                W.claims++;
                if (cons_sortition_prove (&in, wd_vrf_prove_fn_key, n->vrf, &claim) != WD_OK)
                    abort ();
                if (claim.count > 0) {
                    s_vote (i, k, &claim);
                    continue;
                }
            }
        }
        if (st.state == CONS_COMMITTEE_ESCALATED && s_validator (i))
            s_vote (i, k, NULL);
    }
}

/* The answers a node may give to a record an honest or lying node sent:
   kept, or refused for a reason the protocol expects under reordering,
   duplication and re-sending. Anything else is a failure. */
static void
s_count_refusal (int i, int err, const char *what)
{
    switch (err) {
        case WD_OK:
            W.refused[0]++;
            break;
        case CONS_ERR_DUPLICATE:
        case CONS_ERR_COMMITTEE_TWICE:
            W.refused[1]++;
            break;
        case CONS_ERR_COMMITTEE_DECIDED:
            W.refused[2]++;
            break;
        case CONS_ERR_COMMITTEE_NOT_ESCALATED: /* the REJECT has not arrived yet */
            W.refused[3]++;
            break;
        case CONS_ERR_COMMITTEE_EPOCH:   /* from an epoch this node no longer keeps */
        case CONS_ERR_UNKNOWN_VALIDATOR: /* an escalation verdict whose signer has
                                            left the set (contraindicated) since */
            W.refused[4]++;
            break;
        default:
            FAIL ("node %d refused %s: %s", i, what, cons_strerror (err));
    }
}

static int
s_evidence_of (const uint8_t id[32])
{
    for (int k = 0; k < W.ev_count; k++)
        if (memcmp (W.ev[k].id, id, 32) == 0)
            return k;
    return -1;
}

static void
s_deliver (int i, const uint8_t *bytes, size_t len, bool evidence)
{
    s_node_t *n = &W.nodes[i];
    if (evidence) {
        uint8_t id[32];
        wd_envelope_id (id, bytes, len);
        int k = s_evidence_of (id);
        if (k < 0)
            abort ();
        int err = cons_committee_add_evidence (n->cm, bytes, len, W.now);
        s_count_refusal (i, err, "evidence");
        n->has_ev[k] = true;
    } else
        s_count_refusal (i, cons_committee_add_verdict (n->cm, bytes, len, W.now), "a verdict");
    s_act (i);
}

/* Re-sends node i's own records whose evidence no committed block has
   decided yet (its tracker's view). */
static void
s_resend (int i)
{
    s_node_t *n = &W.nodes[i];
    for (int o = 0; o < n->own_count; o++) {
        cons_committee_status_t st;
        if (cons_committee_status (n->cm, W.ev[n->own[o].ev].id, &st) == WD_OK && !st.chain_decided)
            s_broadcast (i, n->own[o].bytes, n->own[o].len, n->own[o].evidence);
    }
}

static void
s_publish (int k)
{
    s_evid_t *e = &W.ev[k];
    s_node_t *n = &W.nodes[e->attester];
    TRACE ("node %d publishes evidence %d (%s)", e->attester, k, e->good ? "good" : "bad");
    int err = cons_committee_add_evidence (n->cm, e->bytes, e->len, W.now);
    if (err != WD_OK)
        FAIL ("node %d: its own evidence %d: %s", e->attester, k, cons_strerror (err));
    n->has_ev[k] = true;
    s_broadcast (e->attester, e->bytes, e->len, true);
    s_own (e->attester, k, e->bytes, e->len, true);
}

/* ---- blocks ------------------------------------------------------------- */

/* Takes every node's tracker outputs (for the trace). */
static void
s_drain (int i)
{
    cons_committee_out_t o;
    while (cons_committee_next (W.nodes[i].cm, &o))
        TRACE ("node %d: evidence %d %s", i, s_evidence_of (o.evidence),
               o.kind == CONS_COMMITTEE_OUT_ESCALATED   ? "escalated"
               : o.kind == CONS_COMMITTEE_OUT_CERTIFIED ? "certified"
               : o.kind == CONS_COMMITTEE_OUT_REJECTED  ? "rejected"
                                                        : "expired");
}

/* After the first block of epoch e is committed: every node holds e. */
static void
s_new_epoch (uint64_t h)
{
    cons_ledger_t *l = W.nodes[0].ledger;
    const cons_validator_t *set;
    size_t count;
    if (cons_ledger_validators (l, h, &set, &count) != WD_OK || count > S_NODES_MAX)
        abort ();
    memcpy (W.ep_set, set, count * sizeof *set);
    W.ep.epoch = (h - 1) / W.o.epoch_blocks;
    W.ep.height = h;
    cons_ledger_tip (l, NULL, W.ep.seed, NULL);
    W.ep.validators = W.ep_set;
    W.ep.count = count;
    for (unsigned i = 0; i < W.o.nodes; i++)
        if (cons_committee_set_epoch (W.nodes[i].cm, &W.ep) != WD_OK)
            abort ();
    TRACE ("epoch %" PRIu64 " from height %" PRIu64 " (%zu validators)", W.ep.epoch, h, count);
}

static void
s_block (void)
{
    cons_ledger_t *l0 = W.nodes[0].ledger;
    uint64_t h = cons_ledger_height (l0) + 1;
    const cons_validator_t *set;
    size_t count;
    if (cons_ledger_validators (l0, h, &set, &count) != WD_OK)
        abort ();
    int p = tchain_index (&W.t, set[h % count].pk);
    s_node_t *pn = &W.nodes[p];
    cons_bytes_t recs[S_BLOCK_RECS];
    size_t n = cons_committee_propose (pn->cm, h, recs, S_BLOCK_RECS, 1 << 20);
    uint8_t *block;
    size_t len;
    if (cons_ledger_propose (pn->ledger, 1700000000000 + W.now, W.t.pk[p], NULL, recs, n, &block,
                             &len) != WD_OK)
        abort ();
    for (unsigned j = 0; j < W.o.nodes; j++) {
        int err = cons_ledger_check_block (W.nodes[j].ledger, block, len);
        if (err != WD_OK) {
            FAIL ("node %u's ledger refuses node %d's proposal at height %" PRIu64
                  " (%zu records): %s",
                  j, p, h, n, cons_strerror (err));
            free (block);
            return; /* a real cluster would not commit it */
        }
    }
    size_t cert_len;
    uint8_t *cert = tchain_cert (&W.t, set, count, h, block, len, 0, &cert_len);
    for (unsigned j = 0; j < W.o.nodes; j++) {
        int err = cons_ledger_append (W.nodes[j].ledger, block, len, cert, cert_len);
        if (err != WD_OK)
            FAIL ("node %u cannot append height %" PRIu64 ": %s", j, h, cons_strerror (err));
    }
    free (cert);
    W.blocks++;
    W.records += n;
    TRACE ("height %" PRIu64 " by node %d: %zu records", h, p, n);
    cons_block_t b;
    if (cons_block_decode (block, len, SIZE_MAX, &b) != WD_OK)
        abort ();
    for (unsigned j = 0; j < W.o.nodes; j++)
        for (size_t r = 0; r < b.record_count; r++)
            cons_committee_committed (W.nodes[j].cm, h, b.records[r].data, b.records[r].len);
    cons_block_release (&b);
    free (block);
    if ((h - 1) % W.o.epoch_blocks == 0)
        s_new_epoch (h);
    for (unsigned j = 0; j < W.o.nodes; j++) {
        cons_committee_tick (W.nodes[j].cm, W.now);
        s_drain ((int)j);
        s_act ((int)j);
    }
}

/* ---- a run --------------------------------------------------------------- */

static bool
s_settled (void)
{
    for (int k = 0; k < W.ev_count; k++) {
        cons_committee_status_t st;
        if (cons_committee_status (W.nodes[0].cm, W.ev[k].id, &st) != WD_OK || !st.chain_decided)
            return false;
    }
    return true;
}

/* The final checks (see the file comment). */
static void
s_check_end (uint64_t seed, unsigned *undecided)
{
    uint8_t tip0[32], rep0[32];
    cons_ledger_tip (W.nodes[0].ledger, tip0, NULL, NULL);
    cons_reputation_hash (cons_ledger_reputation (W.nodes[0].ledger), rep0);
    for (unsigned j = 1; j < W.o.nodes; j++) {
        uint8_t tip[32], rep[32];
        cons_ledger_tip (W.nodes[j].ledger, tip, NULL, NULL);
        cons_reputation_hash (cons_ledger_reputation (W.nodes[j].ledger), rep);
        if (memcmp (tip, tip0, 32) != 0 || memcmp (rep, rep0, 32) != 0)
            FAIL ("node %u's ledger differs from node 0's", j);
    }
    uint64_t bad_height;
    char why[256] = "";
    int err = cons_ledger_verify_all (W.nodes[0].ledger, &bad_height, why, sizeof why);
    if (err != WD_OK)
        FAIL ("verify_all: %s (height %" PRIu64 ": %s)", cons_strerror (err), bad_height, why);

    *undecided = 0;
    for (int k = 0; k < W.ev_count; k++) {
        s_evid_t *e = &W.ev[k];
        cons_committee_status_t st0;
        bool known0 = cons_committee_status (W.nodes[0].cm, e->id, &st0) == WD_OK;
        bool decided = known0 && st0.chain_decided;
        cons_committee_state_t state = decided ? st0.state : CONS_COMMITTEE_OPEN;
        for (unsigned j = 1; j < W.o.nodes; j++) {
            cons_committee_status_t st;
            bool known = cons_committee_status (W.nodes[j].cm, e->id, &st) == WD_OK;
            bool decided_j = known && st.chain_decided;
            if (decided_j != decided || (decided && st.state != st0.state))
                FAIL ("seed %" PRIu64 ": node %u and node 0 disagree on evidence %d (node 0: %s%s, "
                      "node %u: %s%s)",
                      seed, j, k, cons_committee_state_name (st0.state),
                      st0.chain_decided ? " by the chain" : "", j,
                      known ? cons_committee_state_name (st.state) : "unknown",
                      known && st.chain_decided ? " by the chain" : "");
        }
        if (!decided)
            (*undecided)++;
        if (e->good && state == CONS_COMMITTEE_REJECTED)
            FAIL ("seed %" PRIu64 ": good evidence %d was rejected", seed, k);
        if (!e->good && state == CONS_COMMITTEE_CERTIFIED && e->liar_accepts < 2)
            FAIL ("seed %" PRIu64 ": bad evidence %d certified with %d liar ACCEPTs", seed, k,
                  e->liar_accepts);
        if (!W.o.liveness)
            continue;
        if (e->good && (e->honest_accepts >= 2 || e->any_reject) &&
            state != CONS_COMMITTEE_CERTIFIED)
            FAIL ("seed %" PRIu64 ": good evidence %d (%d honest ACCEPTs%s) is %s", seed, k,
                  e->honest_accepts, e->any_reject ? ", escalated" : "",
                  decided ? cons_committee_state_name (state) : "undecided");
        if (!e->good && e->honest_committee > 0 &&
            (state != CONS_COMMITTEE_REJECTED || !st0.chain_decided))
            FAIL ("seed %" PRIu64 ": bad evidence %d seen by %d honest verifiers is %s", seed, k,
                  e->honest_committee, decided ? cons_committee_state_name (state) : "undecided");
    }

    /* verifier accuracy: honest nodes never miss; a liar that voted on a
       decided record does */
    const cons_reputation_t *rep = cons_ledger_reputation (W.nodes[0].ledger);
    for (unsigned i = 0; i < W.o.nodes; i++) {
        const cons_rep_entry_t *re = cons_reputation_entry (rep, i);
        bool voted_decided = false;
        for (int k = 0; k < W.ev_count; k++) {
            cons_committee_status_t st;
            if (W.nodes[i].voted[k] &&
                cons_committee_status (W.nodes[0].cm, W.ev[k].id, &st) == WD_OK && st.chain_decided)
                voted_decided = true;
        }
        if (!W.nodes[i].liar && re->misses > 0)
            FAIL ("seed %" PRIu64 ": honest node %u has %" PRIu64 " misses", seed, i, re->misses);
        if (W.nodes[i].liar && voted_decided && W.o.liveness && re->misses == 0)
            FAIL ("seed %" PRIu64 ": liar %u has no misses", seed, i);
    }
}

static int
s_run (uint64_t seed, const s_opts_t *o)
{
    memset (&W, 0, sizeof W);
    W.o = *o;
    W.rng = wd_rand_seeded (seed * 0x9e3779b97f4a7c15ull + 1);
    tchain_init (&W.t, o->nodes, 0, o->epoch_blocks, 1);
    W.tau = wd_genesis_param (W.t.genesis, "verifiers");
    /* the ledgers' fsyncs dominate a run on disk: memory (/dev/shm) when
       there is one, as the durability of SQLite is not what is tested */
    const char *tmp = getenv ("SIM_COMMITTEE_DIR");
    if (!tmp || !*tmp)
        tmp = access ("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
    snprintf (W.dir, sizeof W.dir, "%s/sim_committee.XXXXXX", tmp);
    if (!mkdtemp (W.dir)) {
        perror ("mkdtemp");
        exit (3);
    }
    /* the liars: o->liars distinct nodes drawn from the seed */
    for (unsigned k = 0; k < o->liars;) {
        int i = (int)s_below (o->nodes);
        if (!W.nodes[i].liar) {
            W.nodes[i].liar = true;
            k++;
        }
    }
    for (unsigned i = 0; i < o->nodes; i++) {
        s_node_t *n = &W.nodes[i];
        char path[512], why[256];
        snprintf (path, sizeof path, "%s/ledger-%u.db", W.dir, i);
        if (cons_ledger_open (path, W.t.genesis, CONS_LEDGER_READ_WRITE, &n->ledger, why,
                              sizeof why) != WD_OK) {
            fprintf (stderr, "ledger: %s\n", why);
            exit (3);
        }
        cons_committee_config_t cfg = { .genesis = W.t.genesis, .tau = W.tau };
        memcpy (cfg.chain, W.t.chain, 32);
        n->cm = cons_committee_new (&cfg);
        n->vrf = wd_vrf_key_new (W.t.vrf_seed[i]);
        if (!n->cm || !n->vrf)
            abort ();
        s_push ((s_ev_t){ .t = 100 + i * (S_RESEND_MS / o->nodes), .kind = EV_RESEND, .to = i });
    }
    /* the evidence plan: a third of it bad, from random attesters */
    uint64_t t = 2 * S_BLOCK_MS;
    for (unsigned k = 0; k < o->evidence; k++) {
        s_evid_t *e = &W.ev[k];
        e->attester = (int)s_below (o->nodes);
        e->good = s_below (3) != 0;
        e->bytes = tchain_evidence (&W.t, (size_t)e->attester, seed * 1000 + k, &e->len);
        wd_envelope_id (e->id, e->bytes, e->len);
        t += 1 + s_below (2 * S_PUBLISH_MS);
        s_push ((s_ev_t){ .t = t, .kind = EV_PUBLISH, .arg = (int)k });
    }
    W.ev_count = (int)o->evidence;
    W.end = t + (o->liveness ? S_SETTLE_MS : S_SETTLE_NO_LIVENESS_MS);
    s_push ((s_ev_t){ .t = S_BLOCK_MS, .kind = EV_BLOCK });

    s_ev_t *ev;
    while ((ev = s_pop ())) {
        W.now = ev->t;
        bool stop = W.now > W.end || W.failures > 0;
        if (!stop) {
            switch (ev->kind) {
                case EV_MSG:
                    s_deliver (ev->to, ev->body, ev->len, ev->arg);
                    break;
                case EV_PUBLISH:
                    s_publish (ev->arg);
                    break;
                case EV_BLOCK:
                    s_block ();
                    if (W.now < t || !s_settled ())
                        s_push ((s_ev_t){ .t = W.now + S_BLOCK_MS, .kind = EV_BLOCK });
                    break;
                case EV_RESEND:
                    s_resend (ev->to);
                    s_push ((s_ev_t){ .t = W.now + S_RESEND_MS, .kind = EV_RESEND, .to = ev->to });
                    break;
            }
        }
        bool was_block = ev->kind == EV_BLOCK;
        free (ev->body);
        free (ev);
        if (stop || (was_block && W.now >= t && s_settled ()))
            break;
    }
    while ((ev = s_pop ())) {
        free (ev->body);
        free (ev);
    }
    sim_heap_fini (&W.queue);

    unsigned undecided = 0;
    if (W.failures == 0)
        s_check_end (seed, &undecided);
    unsigned liars_mask = 0;
    for (unsigned i = 0; i < o->nodes; i++)
        liars_mask |= (unsigned)W.nodes[i].liar << i;
    if (!o->quiet || W.failures)
        printf ("seed %" PRIu64 ": %s: %u nodes (liars 0x%x), %u evidence, %" PRIu64
                " blocks, %" PRIu64 " records, %u undecided, %" PRIu64 " ms; %" PRIu64
                " copies sent (%" PRIu64 " lost), %" PRIu64 " claims drawn; refused: %" PRIu64
                " duplicate, %" PRIu64 " decided, %" PRIu64 " not escalated yet, %" PRIu64
                " old epoch\n",
                seed, W.failures ? "FAIL" : "ok", o->nodes, liars_mask, o->evidence, W.blocks,
                W.records, undecided, W.now, W.msgs, W.lost, W.claims, W.refused[1], W.refused[2],
                W.refused[3], W.refused[4]);
    for (unsigned i = 0; i < o->nodes; i++) {
        s_node_t *n = &W.nodes[i];
        cons_ledger_destroy (&n->ledger);
        cons_committee_destroy (&n->cm);
        wd_vrf_key_destroy (&n->vrf);
        for (int k = 0; k < n->own_count; k++)
            free (n->own[k].bytes);
        char path[512];
        static const char *const suffix[] = { "", "-wal", "-shm" };
        for (int s = 0; s < 3; s++) {
            snprintf (path, sizeof path, "%s/ledger-%u.db%s", W.dir, i, suffix[s]);
            unlink (path);
        }
    }
    rmdir (W.dir);
    for (int k = 0; k < W.ev_count; k++)
        free (W.ev[k].bytes);
    tchain_fini (&W.t);
    return W.failures ? 1 : 0;
}

static void
s_usage (FILE *out, const char *prog)
{
    fprintf (out,
             "usage: %s [options]\n"
             "  --seeds N          run N seeds (default 4)\n"
             "  --first S          first seed (default 0)\n"
             "  --seed S           run only seed S\n"
             "  --nodes N          nodes (default 7, 4..%d)\n"
             "  --liars K          lying verifiers (default 1)\n"
             "  --evidence E       evidence records per run (default 12, at most %d)\n"
             "  --epoch-blocks B   blocks per epoch (default 1000: genesis weights throughout)\n"
             "  --loss P           percent of copies lost (default 20)\n"
             "  --no-liveness      check agreement and safety only\n"
             "  --trace            print every event to stderr\n"
             "  --quiet            print only failures and the summary\n"
             "  --help\n",
             prog, S_NODES_MAX, S_EVIDENCE_MAX);
}

static bool
s_parse_u64 (const char *s, uint64_t *out)
{
    char *end;
    if (!s || !*s || *s == '-')
        return false;
    unsigned long long v = strtoull (s, &end, 10);
    if (*end != '\0')
        return false;
    *out = v;
    return true;
}

int
main (int argc, char **argv)
{
    enum {
        O_SEEDS = 1,
        O_FIRST,
        O_SEED,
        O_NODES,
        O_LIARS,
        O_EVIDENCE,
        O_EPOCH,
        O_LOSS,
        O_NO_LIVE,
        O_TRACE,
        O_QUIET,
        O_HELP
    };
    static const struct option longopts[] = {
        { "seeds", required_argument, NULL, O_SEEDS },
        { "first", required_argument, NULL, O_FIRST },
        { "seed", required_argument, NULL, O_SEED },
        { "nodes", required_argument, NULL, O_NODES },
        { "liars", required_argument, NULL, O_LIARS },
        { "evidence", required_argument, NULL, O_EVIDENCE },
        { "epoch-blocks", required_argument, NULL, O_EPOCH },
        { "loss", required_argument, NULL, O_LOSS },
        { "no-liveness", no_argument, NULL, O_NO_LIVE },
        { "trace", no_argument, NULL, O_TRACE },
        { "quiet", no_argument, NULL, O_QUIET },
        { "help", no_argument, NULL, O_HELP },
        { NULL, 0, NULL, 0 },
    };
    s_opts_t o = { .nodes = 7,
                   .liars = 1,
                   .evidence = 12,
                   .epoch_blocks = 1000,
                   .loss_pct = 20,
                   .liveness = true };
    uint64_t seeds = 4, first = 0, v;
    int c;
    while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
            case O_SEEDS:
                if (!s_parse_u64 (optarg, &seeds) || seeds == 0)
                    goto usage;
                break;
            case O_FIRST:
                if (!s_parse_u64 (optarg, &first))
                    goto usage;
                break;
            case O_SEED:
                if (!s_parse_u64 (optarg, &first))
                    goto usage;
                seeds = 1;
                break;
            case O_NODES:
                if (!s_parse_u64 (optarg, &v) || v < 4 || v > S_NODES_MAX)
                    goto usage;
                o.nodes = (unsigned)v;
                break;
            case O_LIARS:
                if (!s_parse_u64 (optarg, &v) || v > 16)
                    goto usage;
                o.liars = (unsigned)v;
                break;
            case O_EVIDENCE:
                if (!s_parse_u64 (optarg, &v) || v == 0 || v > S_EVIDENCE_MAX)
                    goto usage;
                o.evidence = (unsigned)v;
                break;
            case O_EPOCH:
                if (!s_parse_u64 (optarg, &v) || v < 2 || v > 1000000)
                    goto usage;
                o.epoch_blocks = v;
                break;
            case O_LOSS:
                if (!s_parse_u64 (optarg, &v) || v > 90)
                    goto usage;
                o.loss_pct = (unsigned)v;
                break;
            case O_NO_LIVE:
                o.liveness = false;
                break;
            case O_TRACE:
                o.trace = true;
                break;
            case O_QUIET:
                o.quiet = true;
                break;
            case O_HELP:
                s_usage (stdout, argv[0]);
                return 0;
            default:
                goto usage;
        }
    }
    if (optind != argc || o.liars >= o.nodes)
        goto usage;
    if (sodium_init () < 0)
        return 3;
    uint64_t failed = 0;
    for (uint64_t seed = first; seed < first + seeds; seed++)
        if (s_run (seed, &o) != 0) {
            failed++;
            printf ("  replay: %s --seed %" PRIu64 " --nodes %u --liars %u --evidence %u "
                    "--epoch-blocks %" PRIu64 " --loss %u%s --trace\n",
                    argv[0], seed, o.nodes, o.liars, o.evidence, o.epoch_blocks, o.loss_pct,
                    o.liveness ? "" : " --no-liveness");
        }
    printf ("%" PRIu64 " seeds (%" PRIu64 "..%" PRIu64 "), %" PRIu64 " failed\n", seeds, first,
            first + seeds - 1, failed);
    return failed ? 1 : 0;

usage:
    s_usage (stderr, argv[0]);
    return 2;
}
