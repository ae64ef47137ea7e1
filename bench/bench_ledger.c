/*
 * bench_ledger: the agreement in real wardend processes on loopback (issue
 * 8). For each cluster size N it makes N nodes with `wardenctl init`, one
 * genesis (`wardenctl genesis create`, chain parameters from --param), a
 * mesh/peers list naming everyone, starts N wardend processes (each in its
 * own process group) and waits until every node sees every other alive and
 * runs its agreement. Then two phases, both publishing notice records
 * round-robin from every node over the control socket
 * (WD_MSG_CTL_MESH_PUBLISH, pipelined: the reply carries the record id):
 *
 *   latency:    --latency-records notices at --latency-rate per second;
 *   throughput: --records notices as fast as the nodes take them (at most
 *               --window requests outstanding per node).
 *
 * Meanwhile the bench polls every node's ledger (<state>/ledger.db, SQLite
 * read-only) for its tip and stamps each height with the time this node was
 * seen to commit it (poll resolution about 1 ms). At the end it maps every
 * record id to its height in every ledger.
 *
 * Figures: commit latency (publish request sent -> the record's block is in
 * the ledger) at the origin node and at the last node, p50 and p99, against
 * the goal of 50 ms at N = 4; certified records per second (first publish ->
 * every record in every ledger) against the goal of 2,000 at N = 7; the
 * driver's own height latency (`wardenctl agree status`); and transport
 * messages per decision (WD_MSG_CTL_MESH_PEERS counters before and after,
 * gossip messages shown apart) next to Tendermint's bound N + 2N(N-1).
 * With --idle SECONDS, first an idle phase: no records for that long, the
 * empty blocks committed and the CPU time of every node's processes
 * (/proc) are reported (agree_idle_ms paces an idle chain).
 * The answers checked (all the ctest smoke test checks) are that every
 * record is committed in every ledger and that the ledgers hold the same
 * block at every height.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <sqlite3.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cluster.h"
#include "bench_support.h"
#include "node_agree.h"
#include "node_mesh.h"
#include "wd_chan.h"
#include "wd_codec.h"
#include "wd_msg.h"

#define NODES_MAX  64
#define PARAMS_MAX 16
#define ID_LEN     32

typedef struct {
    bench_cluster_node_t *cn; /* dir, pid, port, chan (synchronous requests) */
    wd_chan_t *pub;           /* pipelined publish requests */
    int outstanding;          /* publish requests without a reply */
    sqlite3 *db;              /* ledger.db, read-only */
    sqlite3_stmt *tip_stmt;
    uint64_t tip;      /* last tip seen */
    double *commit_at; /* [height]: when this node was seen to hold it */
    size_t commit_cap;
    uint64_t base_tip; /* tip before the first record */
} s_node_t;

typedef struct {
    uint8_t id[ID_LEN];
    int origin;
    double sent, acked_at;
    bool acked, retry; /* retry: refused (WD_MSG_ERROR), to be sent again */
} s_record_t;

static const char *s_wardend = BENCH_WARDEND_PATH;
static const char *s_wardenctl = BENCH_WARDENCTL_PATH;
static const char *s_params[PARAMS_MAX];
static int s_param_count;
static double s_idle_seconds;                /* --idle: length of the idle phase, 0: none */
static int s_refused;                        /* publish requests refused, sent again */
static char s_refusal[WD_MSG_ERROR_MAX + 1]; /* the first refusal */

static bool
s_agree_status (s_node_t *node, node_agree_status_t *st)
{
    wd_chan_msg_t reply;
    if (!bench_cluster_request (node->cn, WD_MSG_CTL_AGREE_STATUS, NULL, 0,
                                WD_MSG_CTL_AGREE_STATUS_REPLY, &reply))
        return false;
    wd_err_t err = node_agree_decode_status (reply.body, reply.body_len, st);
    wd_chan_msg_clear (&reply);
    return err == WD_OK;
}

/* The summary, the sum of msgs_out over every peer and how many are alive. */
static bool
s_peers (s_node_t *node, node_mesh_summary_t *summary, uint64_t *msgs_out, size_t *alive)
{
    node_mesh_peer_t *peers;
    size_t count;
    if (!bench_cluster_peers (node->cn, summary, &peers, &count))
        return false;
    *msgs_out = 0;
    *alive = 0;
    for (size_t k = 0; k < count; k++) {
        *msgs_out += peers[k].msgs_out;
        *alive += strcmp (peers[k].state, "alive") == 0;
    }
    free (peers);
    return true;
}

typedef struct {
    uint64_t transport_out, gossip_out;
} s_counts_t;

static s_counts_t
s_counts (s_node_t *nodes, int n)
{
    s_counts_t c = { 0 };
    for (int i = 0; i < n; i++) {
        node_mesh_summary_t s;
        uint64_t out;
        size_t alive;
        if (!s_peers (&nodes[i], &s, &out, &alive))
            bench_cluster_die ("node %s does not answer", nodes[i].cn->dir);
        c.transport_out += out;
        c.gossip_out += s.gossip_msgs_out;
    }
    return c;
}

/* ---- the ledgers -------------------------------------------------------- */

static void
s_db_open (s_node_t *node)
{
    char uri[PATH_MAX + 64];
    snprintf (uri, sizeof uri, "file:%s/ledger.db?mode=ro", node->cn->dir);
    if (sqlite3_open_v2 (uri, &node->db, SQLITE_OPEN_READONLY | SQLITE_OPEN_URI, NULL) != SQLITE_OK)
        bench_cluster_die ("cannot open %s/ledger.db", node->cn->dir);
    sqlite3_busy_timeout (node->db, 5000);
    if (sqlite3_prepare_v2 (node->db, "SELECT coalesce(max(height), 0) FROM blocks", -1,
                            &node->tip_stmt, NULL) != SQLITE_OK)
        bench_cluster_die ("%s/ledger.db: %s", node->cn->dir, sqlite3_errmsg (node->db));
}

static uint64_t
s_db_tip (s_node_t *node)
{
    uint64_t tip = node->tip;
    if (sqlite3_step (node->tip_stmt) == SQLITE_ROW)
        tip = (uint64_t)sqlite3_column_int64 (node->tip_stmt, 0);
    sqlite3_reset (node->tip_stmt);
    return tip;
}

/* Reads node's tip and stamps every new height with now. */
static void
s_poll_tip (s_node_t *node)
{
    uint64_t tip = s_db_tip (node);
    if (tip <= node->tip)
        return;
    if (tip + 1 > node->commit_cap) {
        size_t cap = (tip + 1) * 2;
        node->commit_at = realloc (node->commit_at, cap * sizeof *node->commit_at);
        if (!node->commit_at)
            bench_cluster_die ("%s", "out of memory");
        node->commit_cap = cap;
    }
    double now = bench_now ();
    for (uint64_t h = node->tip + 1; h <= tip; h++)
        node->commit_at[h] = now;
    node->tip = tip;
}

static int
s_cmp_id (const void *a, const void *b)
{
    return memcmp (a, b, ID_LEN);
}

/* Every record's height in node's ledger (0: not there). */
static void
s_db_heights (s_node_t *node, const s_record_t *recs, int count, uint64_t *height)
{
    sqlite3_stmt *st;
    if (sqlite3_prepare_v2 (node->db, "SELECT id, height FROM records WHERE type = 'notice'", -1,
                            &st, NULL) != SQLITE_OK)
        bench_cluster_die ("%s/ledger.db: %s", node->cn->dir, sqlite3_errmsg (node->db));
    size_t cap = 1024, used = 0;
    uint8_t *rows = bench_alloc (cap * (ID_LEN + 8));
    while (sqlite3_step (st) == SQLITE_ROW) {
        if (sqlite3_column_bytes (st, 0) != ID_LEN)
            continue;
        if (used == cap) {
            cap *= 2;
            rows = realloc (rows, cap * (ID_LEN + 8));
            if (!rows)
                bench_cluster_die ("%s", "out of memory");
        }
        memcpy (rows + used * (ID_LEN + 8), sqlite3_column_blob (st, 0), ID_LEN);
        uint64_t h = (uint64_t)sqlite3_column_int64 (st, 1);
        memcpy (rows + used * (ID_LEN + 8) + ID_LEN, &h, 8);
        used++;
    }
    sqlite3_finalize (st);
    qsort (rows, used, ID_LEN + 8, s_cmp_id);
    for (int r = 0; r < count; r++) {
        const uint8_t *hit = bsearch (recs[r].id, rows, used, ID_LEN + 8, s_cmp_id);
        height[r] = 0;
        if (hit)
            memcpy (&height[r], hit + ID_LEN, 8);
    }
    free (rows);
}

/* Whether every ledger holds the same block id at every height up to the
   lowest tip; *common gets that tip. */
static bool
s_same_ledgers (s_node_t *nodes, int n, uint64_t *common)
{
    uint64_t low = UINT64_MAX;
    for (int i = 0; i < n; i++) {
        uint64_t t = s_db_tip (&nodes[i]);
        low = t < low ? t : low;
    }
    *common = low;
    uint8_t (*ids)[ID_LEN] = bench_alloc ((size_t)(low + 1) * ID_LEN);
    bool same = true;
    for (int i = 0; i < n && same; i++) {
        sqlite3_stmt *st;
        if (sqlite3_prepare_v2 (nodes[i].db,
                                "SELECT height, id FROM blocks WHERE height <= ? ORDER BY height",
                                -1, &st, NULL) != SQLITE_OK)
            bench_cluster_die ("%s/ledger.db: %s", nodes[i].cn->dir, sqlite3_errmsg (nodes[i].db));
        sqlite3_bind_int64 (st, 1, (sqlite3_int64)low);
        uint64_t expect = 1;
        while (same && sqlite3_step (st) == SQLITE_ROW) {
            uint64_t h = (uint64_t)sqlite3_column_int64 (st, 0);
            const void *id = sqlite3_column_blob (st, 1);
            if (h != expect++ || sqlite3_column_bytes (st, 1) != ID_LEN)
                same = false;
            else if (i == 0)
                memcpy (ids[h], id, ID_LEN);
            else if (memcmp (ids[h], id, ID_LEN) != 0)
                same = false;
        }
        sqlite3_finalize (st);
        if (same && expect != low + 1)
            same = false;
        if (!same)
            printf ("ledger of %s differs (at height %llu)\n", nodes[i].cn->dir,
                    (unsigned long long)(expect - 1));
    }
    free (ids);
    return same;
}

/* ---- publishing --------------------------------------------------------- */

static void
s_publish_send (s_node_t *node, int r, s_record_t *rec)
{
    if (!node->pub && !(node->pub = bench_cluster_connect (node->cn)))
        bench_cluster_die ("cannot connect to %s", node->cn->dir);
    char text[32];
    snprintf (text, sizeof text, "bench-%d", r);
    size_t len;
    uint8_t *body = node_mesh_encode_publish (text, &len);
    rec->sent = bench_now ();
    if (wd_chan_send (node->pub, WD_MSG_CTL_MESH_PUBLISH, (uint32_t)r, body, len, NULL, 0) != WD_OK)
        bench_cluster_die ("publish at %s failed", node->cn->dir);
    free (body);
    node->outstanding++;
}

/* Takes the publish replies waiting at node (none: returns at once). */
static void
s_publish_drain (s_node_t *node, s_record_t *recs, int count)
{
    while (node->pub && node->outstanding > 0) {
        struct pollfd pfd = { .fd = wd_chan_fd (node->pub), .events = POLLIN };
        if (poll (&pfd, 1, 0) != 1)
            return;
        wd_chan_msg_t reply;
        if (wd_chan_recv (node->pub, &reply) != WD_OK)
            bench_cluster_die ("publish reply from %s", node->cn->dir);
        int r = (int)reply.peer;
        int code;
        char why[WD_MSG_ERROR_MAX + 1];
        if (reply.type == WD_MSG_ERROR && r >= 0 && r < count &&
            wd_msg_decode_error (reply.body, reply.body_len, &code, why) == WD_OK) {
            if (!s_refused++)
                memcpy (s_refusal, why, sizeof why);
            recs[r].retry = true;
            node->outstanding--;
            wd_chan_msg_clear (&reply);
            continue;
        }
        wd_reader_t rd;
        size_t fields;
        wd_reader_init (&rd, reply.body, reply.body_len);
        if (reply.type != WD_MSG_CTL_MESH_PUBLISH_REPLY || r < 0 || r >= count ||
            !wd_read_map (&rd, &fields) || fields != 1 || !wd_read_key (&rd, "id") ||
            !wd_read_bin_fixed (&rd, recs[r].id, ID_LEN) || !wd_read_end (&rd) ||
            wd_reader_finish (&rd) != WD_OK)
            bench_cluster_die ("bad publish reply (%s) from %s", wd_msg_name (reply.type),
                               node->cn->dir);
        recs[r].acked = true;
        recs[r].acked_at = bench_now ();
        node->outstanding--;
        wd_chan_msg_clear (&reply);
    }
}

static void
s_poll_all (s_node_t *nodes, int n, s_record_t *recs, int count)
{
    for (int i = 0; i < n; i++) {
        s_publish_drain (&nodes[i], recs, count);
        s_poll_tip (&nodes[i]);
    }
}

/* Committed records (of recs[first..first+count)) at node. */
static int
s_committed (s_node_t *node, const s_record_t *recs, int count, uint64_t *height)
{
    s_db_heights (node, recs, count, height);
    int c = 0;
    for (int r = 0; r < count; r++)
        c += height[r] != 0;
    return c;
}

typedef struct {
    double first_sent, last_sent, all_done;
    int missing;
} s_phase_t;

/* Publishes recs[0..count) round-robin at rate (0: as fast as window
   allows), polling the ledgers, until every ledger holds every record or
   wait_s passed. */
static s_phase_t
s_phase (s_node_t *nodes, int n, s_record_t *recs, int count, double rate, int window,
         double wait_s)
{
    s_phase_t ph = { 0 };
    uint64_t *height = bench_alloc ((size_t)count * sizeof *height);
    double start = bench_now ();
    ph.first_sent = start;
    int next = 0;
    while (next < count) {
        s_node_t *node = &nodes[next % n];
        double due = rate > 0 ? start + next / rate : 0;
        if (bench_now () >= due && node->outstanding < window) {
            recs[next].origin = next % n;
            s_publish_send (node, next, &recs[next]);
            next++;
            continue;
        }
        s_poll_all (nodes, n, recs, count);
        usleep (rate > 0 ? 500 : 100);
    }
    ph.last_sent = bench_now ();
    /* Replies (sending refused requests again), then every record in every
       ledger. */
    double wait0 = bench_now (), last_check = 0;
    for (;;) {
        s_poll_all (nodes, n, recs, count);
        for (int r = 0; r < count; r++)
            if (recs[r].retry && nodes[recs[r].origin].outstanding < window) {
                recs[r].retry = false;
                s_publish_send (&nodes[recs[r].origin], r, &recs[r]);
            }
        double now = bench_now ();
        if (now - wait0 > wait_s)
            break;
        if (now - last_check > 0.05) {
            last_check = now;
            bool acked = true;
            for (int r = 0; r < count && acked; r++)
                acked = recs[r].acked;
            int done = 0;
            for (int i = 0; acked && i < n; i++)
                done += s_committed (&nodes[i], recs, count, height) == count;
            if (done == n)
                break;
        }
        usleep (500);
    }
    ph.missing = 0;
    for (int i = 0; i < n; i++)
        ph.missing += count - s_committed (&nodes[i], recs, count, height);
    free (height);
    return ph;
}

/* ---- figures ------------------------------------------------------------ */

typedef struct {
    double origin_p50, origin_p99, last_p50, last_p99, all_done;
} s_latency_t;

/* Commit latency of recs[0..count) at the origin and at the last node (ms);
   all_done: when the last record reached the last ledger. */
static s_latency_t
s_latency (s_node_t *nodes, int n, const s_record_t *recs, int count)
{
    double *origin = bench_alloc ((size_t)count * sizeof *origin);
    double *last = bench_alloc ((size_t)count * sizeof *last);
    uint64_t *height = bench_alloc ((size_t)count * sizeof *height);
    s_latency_t l = { 0 };
    for (int i = 0; i < n; i++) {
        s_db_heights (&nodes[i], recs, count, height);
        for (int r = 0; r < count; r++) {
            if (!height[r] || height[r] > nodes[i].tip)
                continue;
            double at = nodes[i].commit_at[height[r]];
            double ms = (at - recs[r].sent) * 1000;
            ms = ms < 0 ? 0 : ms;
            if (recs[r].origin == i)
                origin[r] = ms;
            last[r] = ms > last[r] ? ms : last[r];
            l.all_done = at > l.all_done ? at : l.all_done;
        }
    }
    bench_sort (origin, (size_t)count);
    bench_sort (last, (size_t)count);
    l.origin_p50 = bench_quantile (origin, (size_t)count, 0.50);
    l.origin_p99 = bench_quantile (origin, (size_t)count, 0.99);
    l.last_p50 = bench_quantile (last, (size_t)count, 0.50);
    l.last_p99 = bench_quantile (last, (size_t)count, 0.99);
    free (origin);
    free (last);
    free (height);
    return l;
}

/* ---- one cluster -------------------------------------------------------- */

/* Every node answers, sees all n alive and runs its agreement as a
   validator. */
static bool
s_cluster_ready (s_node_t *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        node_mesh_summary_t summary;
        uint64_t out;
        size_t alive;
        if (!s_peers (&nodes[i], &summary, &out, &alive) || alive != (size_t)n)
            return false;
        node_agree_status_t st;
        if (!s_agree_status (&nodes[i], &st) || !st.running || !st.validator)
            return false;
    }
    return true;
}

static void
s_cluster_stop (s_node_t *nodes, bench_cluster_node_t *cluster, int n)
{
    for (int i = 0; i < n; i++) {
        wd_chan_destroy (&nodes[i].pub);
        if (nodes[i].tip_stmt)
            sqlite3_finalize (nodes[i].tip_stmt);
        if (nodes[i].db)
            sqlite3_close (nodes[i].db);
        free (nodes[i].commit_at);
    }
    bench_cluster_stop (cluster, n);
}

/* One cluster of n nodes: returns 0 when every record is in every ledger
   and the ledgers agree. */
static int
s_bench (int n, int lat_records, double lat_rate, int records, int window)
{
    char root[] = "/tmp/warden-bench-ledger-XXXXXX";
    if (!mkdtemp (root))
        bench_cluster_die ("mkdtemp: %s", strerror (errno));
    bench_cluster_node_t *cluster = bench_alloc ((size_t)n * sizeof *cluster);
    s_node_t *nodes = bench_alloc ((size_t)n * sizeof *nodes);
    for (int i = 0; i < n; i++)
        nodes[i].cn = &cluster[i];
    bench_cluster_config_t config = { .wardend = s_wardend,
                                      .wardenctl = s_wardenctl,
                                      .params = s_params,
                                      .param_count = s_param_count,
                                      .records_keep = lat_records + records + 64 };
    bench_cluster_start (cluster, n, root, &config);
    double t0 = bench_now ();
    while (!s_cluster_ready (nodes, n)) {
        if (bench_now () - t0 > 60)
            bench_cluster_die ("the cluster of %d did not come up within 60 s (logs in %s)", n,
                               root);
        usleep (100 * 1000);
    }
    for (int i = 0; i < n; i++) {
        s_db_open (&nodes[i]);
        s_poll_tip (&nodes[i]);
        nodes[i].base_tip = nodes[i].tip;
    }
    if (s_idle_seconds > 0) {
        /* the cluster just came up: let its first heights settle */
        usleep (1000 * 1000);
        s_poll_tip (&nodes[0]);
        uint64_t tip0 = nodes[0].tip;
        double cpu0 = 0, cpu1 = 0, start = bench_now ();
        for (int i = 0; i < n; i++)
            cpu0 += bench_cluster_cpu (&cluster[i]);
        usleep ((useconds_t)(s_idle_seconds * 1e6));
        for (int i = 0; i < n; i++)
            cpu1 += bench_cluster_cpu (&cluster[i]);
        double span = bench_now () - start;
        s_poll_tip (&nodes[0]);
        printf ("N=%-3d idle, %.0f s without records: %.2f empty blocks/s; CPU of the %d nodes "
                "%.1f%% of one core (%.2f%% per node)\n",
                n, span, (double)(nodes[0].tip - tip0) / span, n, 100 * (cpu1 - cpu0) / span,
                100 * (cpu1 - cpu0) / span / n);
        fflush (stdout);
        for (int i = 0; i < n; i++) {
            s_poll_tip (&nodes[i]);
            nodes[i].base_tip = nodes[i].tip;
        }
    }
    s_counts_t before = s_counts (nodes, n);

    int failed = 0;
    s_record_t *lrecs = bench_alloc ((size_t)(lat_records ? lat_records : 1) * sizeof *lrecs);
    s_latency_t lat = { 0 };
    if (lat_records > 0) {
        s_phase_t ph = s_phase (nodes, n, lrecs, lat_records, lat_rate, 1 << 30, 30);
        lat = s_latency (nodes, n, lrecs, lat_records);
        failed |= ph.missing != 0;
        printf ("N=%-3d commit latency, %d records at %.0f/s: at the origin p50 %.1f ms, p99 %.1f "
                "ms; at the last node p50 %.1f ms, p99 %.1f ms",
                n, lat_records, lat_rate, lat.origin_p50, lat.origin_p99, lat.last_p50,
                lat.last_p99);
        if (n == 4)
            printf ("; goal p50 < 50 ms at N=4: ratio %.2f", lat.origin_p50 / 50.0);
        printf ("%s\n", ph.missing ? "" : "; every record in every ledger");
        if (ph.missing)
            printf ("N=%-3d FAIL: %d (record, ledger) pairs missing\n", n, ph.missing);
        fflush (stdout);
    }

    s_record_t *recs = bench_alloc ((size_t)(records ? records : 1) * sizeof *recs);
    double rps = 0, pub_rate = 0;
    s_latency_t tl = { 0 };
    if (records > 0) {
        s_phase_t ph = s_phase (nodes, n, recs, records, 0, window, 60);
        tl = s_latency (nodes, n, recs, records);
        failed |= ph.missing != 0;
        double span = tl.all_done - ph.first_sent;
        rps = span > 0 ? records / span : 0;
        double last_ack = ph.first_sent;
        for (int r = 0; r < records; r++)
            last_ack = recs[r].acked_at > last_ack ? recs[r].acked_at : last_ack;
        pub_rate = last_ack > ph.first_sent ? records / (last_ack - ph.first_sent) : 0;
        printf ("N=%-3d throughput, %d records (window %d per node): publishes acknowledged at "
                "%.0f/s; %.0f "
                "certified records/s in every ledger (%.2f s); latency at the last node p50 %.0f "
                "ms, p99 %.0f ms",
                n, records, window, pub_rate, rps, span, tl.last_p50, tl.last_p99);
        if (n == 7)
            printf ("; goal >= 2000/s at N=7: ratio %.2f", rps / 2000.0);
        printf ("%s\n", ph.missing ? "" : "; every record in every ledger");
        if (ph.missing)
            printf ("N=%-3d FAIL: %d (record, ledger) pairs missing\n", n, ph.missing);
        if (s_refused)
            printf ("N=%-3d %d publish requests refused and sent again (first: %s)\n", n, s_refused,
                    s_refusal);
        s_refused = 0;
        fflush (stdout);
    }

    /* Messages per decision over both phases. */
    s_counts_t after = s_counts (nodes, n);
    for (int i = 0; i < n; i++)
        s_poll_tip (&nodes[i]);
    uint64_t decisions = nodes[0].tip - nodes[0].base_tip;
    double d = decisions ? (double)decisions : 1;
    double transport = (double)(after.transport_out - before.transport_out) / d;
    double gossip = (double)(after.gossip_out - before.gossip_out) / d;
    double bound = n + 2.0 * n * (n - 1);
    double h50 = 0, h99 = 0;
    for (int i = 0; i < n; i++) {
        node_agree_status_t st;
        if (s_agree_status (&nodes[i], &st)) {
            h50 += (double)st.latency_p50 / n;
            h99 += (double)st.latency_p99 / n;
        }
    }
    printf ("N=%-3d %llu decisions: %.1f transport messages per decision, of which %.1f gossip "
            "(records), so %.1f agreement + sync + membership; Tendermint bound N+2N(N-1) = "
            "%.0f, ratio %.2f; driver height latency p50 %.0f ms, p99 %.0f ms (mean over nodes)\n",
            n, (unsigned long long)decisions, transport, gossip, transport - gossip, bound,
            (transport - gossip) / bound, h50, h99);
    uint64_t common;
    bool same = s_same_ledgers (nodes, n, &common);
    printf ("N=%-3d ledgers %s over %llu blocks\n", n, same ? "identical" : "DIFFER",
            (unsigned long long)common);
    failed |= !same;
    printf ("ledger n=%d lat_p50_ms=%.1f lat_p99_ms=%.1f lat_last_p50_ms=%.1f "
            "lat_last_p99_ms=%.1f records_per_s=%.0f publish_per_s=%.0f msgs_per_decision=%.1f "
            "agree_msgs_per_decision=%.1f bound=%.0f ok=%d\n",
            n, lat.origin_p50, lat.origin_p99, lat.last_p50, lat.last_p99, rps, pub_rate, transport,
            transport - gossip, bound, !failed);
    fflush (stdout);

    s_cluster_stop (nodes, cluster, n);
    if (!failed) {
        char *rm[] = { "/bin/rm", "-rf", root, NULL };
        bench_cluster_run (rm);
    } else
        printf ("N=%-3d logs kept in %s\n", n, root);
    free (nodes);
    free (cluster);
    free (lrecs);
    free (recs);
    return failed;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "sizes", required_argument, NULL, 's' },
        { "latency-records", required_argument, NULL, 'l' },
        { "latency-rate", required_argument, NULL, 'L' },
        { "records", required_argument, NULL, 'r' },
        { "window", required_argument, NULL, 'w' },
        { "idle", required_argument, NULL, 'i' },
        { "param", required_argument, NULL, 'p' },
        { "wardend", required_argument, NULL, 'd' },
        { "wardenctl", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *sizes = "4,7,16";
    int lat_records = 200, records = 5000, window = 64;
    double lat_rate = 20;
    int opt;
    while ((opt = getopt_long (argc, argv, "s:l:L:r:w:i:p:d:c:h", options, NULL)) != -1) {
        switch (opt) {
            case 's':
                sizes = optarg;
                break;
            case 'l':
                lat_records = atoi (optarg);
                break;
            case 'L':
                lat_rate = atof (optarg);
                break;
            case 'r':
                records = atoi (optarg);
                break;
            case 'w':
                window = atoi (optarg);
                break;
            case 'i':
                s_idle_seconds = atof (optarg);
                break;
            case 'p':
                if (s_param_count == PARAMS_MAX) {
                    fprintf (stderr, "bench_ledger: at most %d --param\n", PARAMS_MAX);
                    return 2;
                }
                s_params[s_param_count++] = optarg;
                break;
            case 'd':
                s_wardend = optarg;
                break;
            case 'c':
                s_wardenctl = optarg;
                break;
            default:
                fprintf (stderr, "usage: bench_ledger [--sizes 4,7,16] [--latency-records 200]\n"
                                 "                    [--latency-rate 20] [--records 5000] "
                                 "[--window 64] [--idle 0]\n"
                                 "                    [--param NAME=VALUE ...] [--wardend PATH]\n"
                                 "                    [--wardenctl PATH]\n");
                return opt == 'h' ? 0 : 2;
        }
    }
    if (lat_records < 0 || records < 0 || (lat_records + records < 1 && s_idle_seconds <= 0) ||
        lat_rate <= 0 || window < 1 || s_idle_seconds < 0)
        return 2;
    bench_cluster_init ("bench_ledger");
    if (sodium_init () < 0)
        return BENCH_EXIT_INTERNAL;
    signal (SIGPIPE, SIG_IGN);
    int failed = 0;
    char *list = strdup (sizes);
    char *save = NULL;
    for (char *tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
        int n = atoi (tok);
        if (n < 2 || n > NODES_MAX) {
            fprintf (stderr, "bench_ledger: sizes are 2..%d\n", NODES_MAX);
            return 2;
        }
        failed |= s_bench (n, lat_records, lat_rate, records, window);
    }
    free (list);
    return failed;
}
