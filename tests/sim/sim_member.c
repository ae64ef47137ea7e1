/*
 * sim_member: a deterministic simulation of the membership protocol
 * (consensus/cons_member.h). N real cons_member machines exchange their
 * bodies over a virtual network with delay and loss, driven by a small
 * event queue of its own (sim_world.c belongs to the agreement simulator).
 * Everything, the network included, draws from one PRNG seeded per run, so
 * a seed replays exactly.
 *
 * Scenarios (each checked over --seeds runs):
 *   crash    N nodes, 3 crash at once: every live node declares each of them
 *            dead within --bound ms of the crash; no live node is ever
 *            declared dead.
 *   loss     no crash, --loss packet loss over a long run: no live node is
 *            ever declared dead; suspicions are counted and reported.
 *   slow     one node's inputs are delayed 300-900 ms (a loaded CPU): no
 *            other node is ever declared dead (Lifeguard's local health).
 *   restart  a node crashes, is declared dead everywhere, and comes back as
 *            a new instance (even seeds: incarnation 0, it must refute its
 *            death; odd seeds: a higher incarnation): alive again everywhere.
 *   refute   a false suspicion of a live node is injected: it refutes with a
 *            higher incarnation and is never declared dead.
 *
 * Figures printed: detection time p50/p99, false positives (live nodes
 * declared dead), suspicions of live nodes, messages and bytes per node per
 * second. Exit codes: 0 every run passed, 1 a check failed, 2 usage.
 */
#include <getopt.h>
#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cons_member.h"
#include "wd_err.h"
#include "wd_rand.h"

#define S_NODES_MAX 64

typedef enum { S_EV_DELIVER = 1, S_EV_TICK, S_EV_SLOW_TICK } s_ev_kind_t;

typedef struct {
    uint64_t at;
    uint64_t order;
    s_ev_kind_t kind;
    int node, from;
    bool delayed; /* already held back by the slow node's load */
    uint8_t *body;
    size_t len;
} s_ev_t;

typedef struct {
    cons_member_t *m;
    bool up;
    bool slow;
    uint64_t tick_at;
    uint64_t crashed_at;
    uint64_t sent, bytes;
} s_node_t;

typedef struct {
    const char *scenario;
    int nodes;
    double loss;
    uint64_t duration_ms;
    uint64_t bound_ms;
    bool health_off;
    bool verbose;
    uint32_t alpha, beta, k; /* suspicion parameters; 0: the module's defaults */
    uint32_t probe_ms, timeout_ms;
} s_opts_t;

typedef struct {
    /* per run */
    wd_rand_t rng;
    s_ev_t *heap;
    size_t heap_len, heap_cap;
    uint64_t order;
    s_node_t node[S_NODES_MAX];
    uint8_t ids[S_NODES_MAX][CONS_MEMBER_ID_LEN];
    int n;
    uint64_t seed;
    const s_opts_t *opts;
    /* view[o][s]: what observer o last said of subject s */
    cons_member_state_t view[S_NODES_MAX][S_NODES_MAX];
    uint64_t view_inc[S_NODES_MAX][S_NODES_MAX];
    uint64_t dead_at[S_NODES_MAX][S_NODES_MAX];
    /* checks and figures */
    int failures;
    uint64_t false_dead;      /* live, healthy subjects declared dead */
    uint64_t slow_dead;       /* the slow node declared dead */
    uint64_t live_suspicions; /* suspect events about live nodes */
} s_sim_t;

/* Figures over all runs of a scenario. */
typedef struct {
    uint64_t *detect;
    size_t detect_len, detect_cap;
    uint64_t false_dead, slow_dead, live_suspicions;
    uint64_t msgs, bytes, node_seconds;
    uint64_t accusations, refutations;
    uint64_t health_max_seen;
    int failed_runs, runs;
} s_figures_t;

/* ---- randomness and the event queue ---------------------------------- */

static uint64_t
s_uniform (s_sim_t *sim, uint64_t lo, uint64_t hi)
{
    return lo + wd_rand_next (&sim->rng) % (hi - lo + 1);
}

static bool
s_chance (s_sim_t *sim, double p)
{
    return (double)(wd_rand_next (&sim->rng) >> 11) / (double)(UINT64_C (1) << 53) < p;
}

static bool
s_before (const s_ev_t *a, const s_ev_t *b)
{
    return a->at < b->at || (a->at == b->at && a->order < b->order);
}

static void
s_push (s_sim_t *sim, s_ev_t ev)
{
    if (sim->heap_len == sim->heap_cap) {
        sim->heap_cap = sim->heap_cap ? sim->heap_cap * 2 : 1024;
        sim->heap = realloc (sim->heap, sim->heap_cap * sizeof *sim->heap);
        if (!sim->heap)
            abort ();
    }
    ev.order = sim->order++;
    size_t i = sim->heap_len++;
    while (i > 0 && s_before (&ev, &sim->heap[(i - 1) / 2])) {
        sim->heap[i] = sim->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    sim->heap[i] = ev;
}

static s_ev_t
s_pop (s_sim_t *sim)
{
    s_ev_t top = sim->heap[0];
    s_ev_t last = sim->heap[--sim->heap_len];
    size_t i = 0;
    for (;;) {
        size_t c = 2 * i + 1;
        if (c >= sim->heap_len)
            break;
        if (c + 1 < sim->heap_len && s_before (&sim->heap[c + 1], &sim->heap[c]))
            c++;
        if (!s_before (&sim->heap[c], &last))
            break;
        sim->heap[i] = sim->heap[c];
        i = c;
    }
    if (sim->heap_len > 0)
        sim->heap[i] = last;
    return top;
}

/* ---- nodes ------------------------------------------------------------- */

static int
s_index (const s_sim_t *sim, const uint8_t *id)
{
    for (int i = 0; i < sim->n; i++)
        if (memcmp (sim->ids[i], id, CONS_MEMBER_ID_LEN) == 0)
            return i;
    abort ();
}

static void
s_fail (s_sim_t *sim, const char *what, int observer, int subject, uint64_t at)
{
    sim->failures++;
    if (sim->failures <= 5)
        fprintf (stderr, "FAIL seed %" PRIu64 ": %s (observer %d, subject %d, t=%" PRIu64 " ms)\n",
                 sim->seed, what, observer, subject, at);
}

static void
s_start (s_sim_t *sim, int i, uint64_t incarnation, uint64_t now)
{
    cons_member_config_t cfg = { 0 };
    cfg.self = sim->ids[i];
    cfg.members = &sim->ids[0][0];
    cfg.count = (size_t)sim->n;
    cfg.seed = wd_rand_next (&sim->rng);
    cfg.incarnation = incarnation;
    cfg.health_off = sim->opts->health_off;
    cfg.suspicion_mult = sim->opts->alpha;
    cfg.suspicion_max_mult = sim->opts->beta;
    cfg.confirmations = sim->opts->k;
    cfg.probe_ms = sim->opts->probe_ms;
    cfg.probe_timeout_ms = sim->opts->timeout_ms;
    s_node_t *node = &sim->node[i];
    if (cons_member_new (&cfg, &node->m) != WD_OK)
        abort ();
    node->up = true;
    node->tick_at = now;
    for (int s = 0; s < sim->n; s++) {
        sim->view[i][s] = CONS_MEMBER_ALIVE;
        sim->view_inc[i][s] = 0;
    }
    s_push (sim, (s_ev_t){ .at = now, .kind = S_EV_TICK, .node = i });
}

static void
s_crash (s_sim_t *sim, int i, uint64_t now)
{
    cons_member_destroy (&sim->node[i].m);
    sim->node[i].up = false;
    sim->node[i].crashed_at = now;
}

/* Carries out node i's outputs and schedules its next tick. */
static void
s_drain (s_sim_t *sim, int i, uint64_t now)
{
    s_node_t *node = &sim->node[i];
    cons_member_output_t out;
    while (cons_member_poll (node->m, &out)) {
        int peer = s_index (sim, out.peer);
        if (out.kind == CONS_MEMBER_OUT_SEND) {
            node->sent++;
            node->bytes += out.len;
            if (s_chance (sim, sim->opts->loss))
                continue;
            uint8_t *copy = malloc (out.len);
            if (!copy)
                abort ();
            memcpy (copy, out.body, out.len);
            s_push (sim, (s_ev_t){ .at = now + s_uniform (sim, 1, 20),
                                   .kind = S_EV_DELIVER,
                                   .node = peer,
                                   .from = i,
                                   .body = copy,
                                   .len = out.len });
            continue;
        }
        /* An event: observer i says subject peer changed state. */
        sim->view[i][peer] = out.state;
        sim->view_inc[i][peer] = out.incarnation;
        const s_node_t *subject = &sim->node[peer];
        if (out.state == CONS_MEMBER_SUSPECT && subject->up)
            sim->live_suspicions++;
        if (out.state == CONS_MEMBER_DEAD) {
            sim->dead_at[i][peer] = out.at_ms;
            if (subject->up && subject->slow)
                sim->slow_dead++;
            else if (subject->up) {
                sim->false_dead++;
                s_fail (sim, "a live node was declared dead", i, peer, out.at_ms);
            }
        }
        if (sim->opts->verbose)
            fprintf (stderr, "%8" PRIu64 " node %2d: %2d %s inc %" PRIu64 "\n", out.at_ms, i, peer,
                     cons_member_state_name (out.state), out.incarnation);
    }
    uint64_t d = cons_member_next_deadline (node->m);
    if (d != UINT64_MAX && d != node->tick_at) {
        node->tick_at = d < now ? now : d;
        s_push (sim, (s_ev_t){ .at = node->tick_at, .kind = S_EV_TICK, .node = i });
    }
}

/* Runs events until virtual time `until`. */
static void
s_run (s_sim_t *sim, uint64_t until)
{
    while (sim->heap_len > 0 && sim->heap[0].at <= until) {
        s_ev_t ev = s_pop (sim);
        s_node_t *node = &sim->node[ev.node];
        if (!node->up) {
            free (ev.body);
            continue;
        }
        if (ev.kind == S_EV_TICK && ev.at != node->tick_at)
            continue; /* superseded */
        if (node->slow && !ev.delayed) {
            /* A loaded node handles every input late. */
            ev.delayed = true;
            ev.at += s_uniform (sim, 300, 900);
            if (ev.kind == S_EV_TICK) {
                ev.kind = S_EV_SLOW_TICK;
                node->tick_at = UINT64_MAX - 1; /* re-armed after the tick */
            }
            s_push (sim, ev);
            continue;
        }
        if (ev.kind == S_EV_DELIVER) {
            int rc = cons_member_receive (node->m, ev.at, sim->ids[ev.from], ev.body, ev.len);
            (void)rc; /* late acks are CONS_ERR_STALE; counted by the machine */
            free (ev.body);
        } else {
            node->tick_at = UINT64_MAX;
            cons_member_tick (node->m, ev.at);
            if (cons_member_next_deadline (node->m) <= ev.at)
                s_fail (sim, "a tick left a deadline that is already due", ev.node, -1, ev.at);
        }
        s_drain (sim, ev.node, ev.at);
    }
}

static void
s_sim_init (s_sim_t *sim, const s_opts_t *opts, uint64_t seed)
{
    memset (sim, 0, sizeof *sim);
    sim->opts = opts;
    sim->seed = seed;
    sim->rng = wd_rand_seeded (seed * UINT64_C (0x2545f4914f6cdd1d) + 7);
    sim->n = opts->nodes;
    for (int i = 0; i < sim->n; i++)
        for (int b = 0; b < CONS_MEMBER_ID_LEN; b++)
            sim->ids[i][b] = (uint8_t)wd_rand_next (&sim->rng);
    for (int i = 0; i < sim->n; i++)
        s_start (sim, i, 0, 0);
}

static void
s_sim_fini (s_sim_t *sim, s_figures_t *fig, uint64_t duration)
{
    for (int i = 0; i < sim->n; i++) {
        if (sim->node[i].m) {
            cons_member_stats_t st;
            cons_member_stats (sim->node[i].m, &st);
            fig->accusations += st.accusations;
            fig->refutations += st.refutations;
        }
        fig->msgs += sim->node[i].sent;
        fig->bytes += sim->node[i].bytes;
        cons_member_destroy (&sim->node[i].m);
    }
    fig->node_seconds += (uint64_t)sim->n * duration / 1000;
    while (sim->heap_len > 0) {
        s_ev_t ev = s_pop (sim);
        free (ev.body);
    }
    free (sim->heap);
    fig->false_dead += sim->false_dead;
    fig->slow_dead += sim->slow_dead;
    fig->live_suspicions += sim->live_suspicions;
    fig->runs++;
    if (sim->failures)
        fig->failed_runs++;
}

static void
s_detect_add (s_figures_t *fig, uint64_t ms)
{
    if (fig->detect_len == fig->detect_cap) {
        fig->detect_cap = fig->detect_cap ? fig->detect_cap * 2 : 256;
        fig->detect = realloc (fig->detect, fig->detect_cap * sizeof *fig->detect);
        if (!fig->detect)
            abort ();
    }
    fig->detect[fig->detect_len++] = ms;
}

static void
s_health_seen (s_sim_t *sim, s_figures_t *fig, uint64_t until)
{
    /* Sample every node's health once per 100 ms of virtual time. */
    uint64_t t = sim->heap_len ? sim->heap[0].at : until;
    for (; t <= until; t += 100) {
        s_run (sim, t);
        for (int i = 0; i < sim->n; i++)
            if (sim->node[i].m && cons_member_health (sim->node[i].m) > fig->health_max_seen)
                fig->health_max_seen = cons_member_health (sim->node[i].m);
    }
}

/* ---- scenarios ---------------------------------------------------------- */

static void
s_crash_run (s_sim_t *sim, s_figures_t *fig)
{
    const uint64_t crash_at = 10000;
    s_run (sim, crash_at);
    int crashed[3];
    for (int k = 0; k < 3; k++) {
        int c;
        bool again;
        do {
            c = (int)s_uniform (sim, 0, (uint64_t)sim->n - 1);
            again = false;
            for (int j = 0; j < k; j++)
                again |= crashed[j] == c;
        } while (again);
        crashed[k] = c;
        s_crash (sim, c, crash_at);
    }
    uint64_t end = crash_at + sim->opts->duration_ms;
    s_run (sim, end);
    for (int o = 0; o < sim->n; o++) {
        if (!sim->node[o].up)
            continue;
        for (int k = 0; k < 3; k++) {
            int c = crashed[k];
            if (sim->view[o][c] != CONS_MEMBER_DEAD) {
                s_fail (sim, "a crashed node was never declared dead", o, c, end);
                continue;
            }
            uint64_t t = sim->dead_at[o][c] - crash_at;
            s_detect_add (fig, t);
            if (t > sim->opts->bound_ms)
                s_fail (sim, "a crashed node was declared dead too late", o, c, sim->dead_at[o][c]);
        }
    }
    s_sim_fini (sim, fig, end);
}

static void
s_loss_run (s_sim_t *sim, s_figures_t *fig)
{
    s_health_seen (sim, fig, sim->opts->duration_ms);
    s_sim_fini (sim, fig, sim->opts->duration_ms);
}

static void
s_slow_run (s_sim_t *sim, s_figures_t *fig)
{
    int slow = (int)s_uniform (sim, 0, (uint64_t)sim->n - 1);
    sim->node[slow].slow = true;
    s_run (sim, 0);
    uint64_t until = sim->opts->duration_ms;
    s_run (sim, until);
    fig->health_max_seen += cons_member_health (sim->node[slow].m);
    s_sim_fini (sim, fig, until);
}

static void
s_restart_run (s_sim_t *sim, s_figures_t *fig)
{
    int x = (int)s_uniform (sim, 0, (uint64_t)sim->n - 1);
    const uint64_t crash_at = 5000, restart_at = 25000;
    s_run (sim, crash_at);
    s_crash (sim, x, crash_at);
    s_run (sim, restart_at);
    for (int o = 0; o < sim->n; o++)
        if (o != x && sim->view[o][x] != CONS_MEMBER_DEAD)
            s_fail (sim, "crashed node not dead everywhere before its restart", o, x, restart_at);
    uint64_t inc = (sim->seed & 1) ? 1000 + s_uniform (sim, 0, 1000) : 0;
    s_start (sim, x, inc, restart_at);
    uint64_t end = restart_at + sim->opts->duration_ms;
    /* Find when the last observer sees x alive again. */
    uint64_t all_alive = 0;
    for (uint64_t t = restart_at; t <= end && !all_alive; t += 50) {
        s_run (sim, t);
        bool all = true;
        for (int o = 0; o < sim->n; o++)
            all &= o == x || sim->view[o][x] == CONS_MEMBER_ALIVE;
        if (all)
            all_alive = t;
    }
    s_run (sim, end);
    if (!all_alive)
        s_fail (sim, "restarted node is not alive everywhere", -1, x, end);
    else
        s_detect_add (fig, all_alive - restart_at);
    for (int o = 0; o < sim->n; o++)
        if (o != x && sim->view[o][x] != CONS_MEMBER_ALIVE)
            s_fail (sim, "restarted node did not stay alive", o, x, end);
    s_sim_fini (sim, fig, end);
}

static void
s_refute_run (s_sim_t *sim, s_figures_t *fig)
{
    int x = (int)s_uniform (sim, 0, (uint64_t)sim->n - 1);
    int y = (x + 1) % sim->n;
    const uint64_t at = 5000;
    s_run (sim, at);
    /* y tells three nodes that it suspects x (as if a probe had failed). */
    cons_member_msg_t msg = { 0 };
    msg.type = CONS_MEMBER_PUSH;
    msg.count = 1;
    msg.updates[0] = (cons_member_update_t){
        .state = CONS_MEMBER_SUSPECT, .id = sim->ids[x], .incarnation = 0, .by = sim->ids[y]
    };
    size_t len;
    uint8_t *body = cons_member_msg_encode (&msg, &len);
    for (int k = 0, o = 0; k < 3 && o < sim->n; o++) {
        if (o == x || o == y)
            continue;
        if (cons_member_receive (sim->node[o].m, at, sim->ids[y], body, len) != WD_OK)
            s_fail (sim, "injected suspicion refused", o, x, at);
        s_drain (sim, o, at);
        k++;
    }
    free (body);
    uint64_t end = at + sim->opts->duration_ms;
    s_run (sim, end);
    uint64_t inc = cons_member_incarnation (sim->node[x].m);
    if (inc == 0)
        s_fail (sim, "suspected node did not refute", x, x, end);
    for (int o = 0; o < sim->n; o++) {
        if (o == x)
            continue;
        if (sim->view[o][x] != CONS_MEMBER_ALIVE)
            s_fail (sim, "refuted node not alive everywhere", o, x, end);
        cons_member_info_t info;
        if (!cons_member_find (sim->node[o].m, sim->ids[x], &info) || info.incarnation == 0)
            s_fail (sim, "refutation did not reach every node", o, x, end);
    }
    s_sim_fini (sim, fig, end);
}

/* ---- main -------------------------------------------------------------- */

static int
s_cmp_u64 (const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return x < y ? -1 : x > y;
}

static uint64_t
s_pct (const s_figures_t *fig, unsigned p)
{
    if (fig->detect_len == 0)
        return 0;
    size_t i = (fig->detect_len * p + 99) / 100;
    return fig->detect[i > 0 ? i - 1 : 0];
}

static void
s_usage (FILE *out, const char *prog)
{
    fprintf (
        out,
        "usage: %s --scenario crash|loss|slow|restart|refute [options]\n"
        "  --seeds N        runs (default 10)\n"
        "  --first S        first seed (default 0)\n"
        "  --nodes N        nodes (default 16, at most %d)\n"
        "  --loss P         packet loss probability (default: 0.01; loss 0.02)\n"
        "  --duration MS    virtual time after the scenario's event (default per scenario)\n"
        "  --bound MS       crash: detection bound (default 5000)\n"
        "  --health-off     plain SWIM timers (no local health), for comparison\n"
        "  --alpha A --beta B --k K  suspicion parameters (default: the module's)\n"
        "  --probe MS --timeout MS   protocol period and probe timeout (default: the module's)\n"
        "  --trace          print every membership event\n"
        "  --help\n",
        prog, S_NODES_MAX);
}

int
main (int argc, char **argv)
{
    s_opts_t opts = { .nodes = 16, .loss = -1, .bound_ms = 5000 };
    uint64_t seeds = 10, first = 0;
    static const struct option longopts[] = {
        { "scenario", required_argument, NULL, 's' }, { "seeds", required_argument, NULL, 'n' },
        { "first", required_argument, NULL, 'f' },    { "nodes", required_argument, NULL, 'N' },
        { "loss", required_argument, NULL, 'l' },     { "duration", required_argument, NULL, 'd' },
        { "bound", required_argument, NULL, 'b' },    { "health-off", no_argument, NULL, 'H' },
        { "trace", no_argument, NULL, 't' },          { "help", no_argument, NULL, 'h' },
        { "alpha", required_argument, NULL, 'A' },    { "beta", required_argument, NULL, 'B' },
        { "k", required_argument, NULL, 'K' },        { "probe", required_argument, NULL, 'P' },
        { "timeout", required_argument, NULL, 'T' },  { NULL, 0, NULL, 0 },
    };
    int c;
    char *end;
    while ((c = getopt_long (argc, argv, "", longopts, NULL)) != -1) {
        switch (c) {
            case 's':
                opts.scenario = optarg;
                break;
            case 'n':
                seeds = strtoull (optarg, &end, 10);
                break;
            case 'f':
                first = strtoull (optarg, &end, 10);
                break;
            case 'N':
                opts.nodes = (int)strtol (optarg, &end, 10);
                break;
            case 'l':
                opts.loss = strtod (optarg, &end);
                break;
            case 'd':
                opts.duration_ms = strtoull (optarg, &end, 10);
                break;
            case 'b':
                opts.bound_ms = strtoull (optarg, &end, 10);
                break;
            case 'A':
                opts.alpha = (uint32_t)strtoul (optarg, &end, 10);
                break;
            case 'B':
                opts.beta = (uint32_t)strtoul (optarg, &end, 10);
                break;
            case 'K':
                opts.k = (uint32_t)strtoul (optarg, &end, 10);
                break;
            case 'P':
                opts.probe_ms = (uint32_t)strtoul (optarg, &end, 10);
                break;
            case 'T':
                opts.timeout_ms = (uint32_t)strtoul (optarg, &end, 10);
                break;
            case 'H':
                opts.health_off = true;
                break;
            case 't':
                opts.verbose = true;
                break;
            case 'h':
                s_usage (stdout, argv[0]);
                return 0;
            default:
                s_usage (stderr, argv[0]);
                return 2;
        }
    }
    void (*run) (s_sim_t *, s_figures_t *) = NULL;
    uint64_t duration = 0;
    double loss = 0.01;
    if (!opts.scenario) {
    } else if (strcmp (opts.scenario, "crash") == 0) {
        run = s_crash_run;
        duration = 15000;
    } else if (strcmp (opts.scenario, "loss") == 0) {
        run = s_loss_run;
        duration = 300000;
        loss = 0.02;
    } else if (strcmp (opts.scenario, "slow") == 0) {
        run = s_slow_run;
        duration = 120000;
    } else if (strcmp (opts.scenario, "restart") == 0) {
        run = s_restart_run;
        duration = 20000;
    } else if (strcmp (opts.scenario, "refute") == 0) {
        run = s_refute_run;
        duration = 20000;
    }
    if (!run || optind != argc || opts.nodes < 5 || opts.nodes > S_NODES_MAX || opts.loss > 0.5) {
        s_usage (stderr, argv[0]);
        return 2;
    }
    if (opts.loss < 0)
        opts.loss = loss;
    if (!opts.duration_ms)
        opts.duration_ms = duration;

    s_figures_t fig = { 0 };
    static s_sim_t sim; /* large: the views */
    for (uint64_t s = first; s < first + seeds; s++) {
        s_sim_init (&sim, &opts, s);
        run (&sim, &fig);
        if (sim.failures)
            fprintf (stderr, "replay: %s --scenario %s --first %" PRIu64 " --seeds 1\n", argv[0],
                     opts.scenario, s);
    }
    if (fig.detect_len > 0)
        qsort (fig.detect, fig.detect_len, sizeof *fig.detect, s_cmp_u64);
    double ns = fig.node_seconds ? (double)fig.node_seconds : 1;
    printf ("sim_member %s: %d runs, N=%d, loss %.3f, %s\n", opts.scenario, fig.runs, opts.nodes,
            opts.loss, opts.health_off ? "no local health" : "Lifeguard");
    if (strcmp (opts.scenario, "crash") == 0)
        printf ("  dead declared after crash (every live observer): p50 %" PRIu64
                " ms, p99 %" PRIu64 " ms, max %" PRIu64 " ms (bound %" PRIu64 ")\n",
                s_pct (&fig, 50), s_pct (&fig, 99), s_pct (&fig, 100), opts.bound_ms);
    if (strcmp (opts.scenario, "restart") == 0)
        printf ("  alive everywhere after restart: p50 %" PRIu64 " ms, p99 %" PRIu64
                " ms, max %" PRIu64 " ms\n",
                s_pct (&fig, 50), s_pct (&fig, 99), s_pct (&fig, 100));
    printf ("  live nodes declared dead: %" PRIu64 "; suspicions of live nodes: %" PRIu64
            " (%.3f per node-hour); accusations %" PRIu64 ", refutations %" PRIu64 "\n",
            fig.false_dead, fig.live_suspicions, (double)fig.live_suspicions * 3600.0 / ns,
            fig.accusations, fig.refutations);
    if (strcmp (opts.scenario, "slow") == 0)
        printf ("  slow node declared dead: %" PRIu64 " times; its health at the end (sum) %" PRIu64
                "\n",
                fig.slow_dead, fig.health_max_seen);
    if (strcmp (opts.scenario, "loss") == 0)
        printf ("  highest local health seen: %" PRIu64 "\n", fig.health_max_seen);
    printf ("  messages per node per second: %.2f (%.0f bytes)\n", (double)fig.msgs / ns,
            (double)fig.bytes / ns);
    printf ("  %s: %d of %d runs failed\n", fig.failed_runs ? "FAIL" : "ok", fig.failed_runs,
            fig.runs);
    free (fig.detect);
    return fig.failed_runs ? 1 : 0;
}
