/*
 * bench_gossip: record dissemination through real wardend processes on
 * loopback (issue 6). For each cluster size N it makes N nodes with
 * `wardenctl init`, one genesis (`wardenctl genesis create`), a mesh/peers
 * list naming everyone, starts N wardend processes (each in its own process
 * group), waits until every node sees every other alive, then publishes
 * --records notice records round-robin from every node at --rate per second
 * over the control socket (WD_MSG_CTL_MESH_PUBLISH: sealed by the origin's
 * keys process) and collects every node's delivered records
 * (WD_MSG_CTL_MESH_RECORDS) and gossip counters (WD_MSG_CTL_MESH_PEERS).
 *
 * Figures: dissemination latency (received_ms at a node minus the notice's
 * time at its origin: one host, one clock) over every (record, node) pair
 * and over each record's last node, p50 and p99; record copies sent per
 * record, against the bound N·D (D = 6, or N − 1 in a full mesh when
 * N <= 12) measured as a ratio in the same run; and every gossip message
 * per record (control included). The answer checked (and all the ctest
 * smoke test checks) is that every record reached every node.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <signal.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "bench_cluster.h"
#include "bench_support.h"
#include "node_mesh.h"
#include "wd_chan.h"
#include "wd_msg.h"

#define NODES_MAX 64

static const char *s_wardend = BENCH_WARDEND_PATH;
static const char *s_wardenctl = BENCH_WARDENCTL_PATH;

static bool
s_records (bench_cluster_node_t *node, node_mesh_record_t **records, size_t *count)
{
    *records = NULL;
    *count = 0;
    bool more = true;
    while (more) {
        size_t len, before = *count;
        uint8_t *body = node_mesh_encode_start (*count ? (*records)[*count - 1].seq + 1 : 0, &len);
        wd_chan_msg_t reply;
        bool ok = bench_cluster_request (node, WD_MSG_CTL_MESH_RECORDS, body, len,
                                         WD_MSG_CTL_MESH_RECORDS_REPLY, &reply);
        free (body);
        if (!ok)
            return false;
        wd_err_t err = node_mesh_decode_records (reply.body, reply.body_len, records, count, &more);
        wd_chan_msg_clear (&reply);
        if (err != WD_OK || (more && *count == before))
            return false;
    }
    return true;
}

/* Every node answers and sees all n alive. */
static bool
s_all_alive (bench_cluster_node_t *nodes, int n)
{
    for (int i = 0; i < n; i++) {
        node_mesh_summary_t summary;
        node_mesh_peer_t *peers;
        size_t count;
        if (!bench_cluster_peers (&nodes[i], &summary, &peers, &count))
            return false;
        size_t alive = 0;
        for (size_t k = 0; k < count; k++)
            alive += strcmp (peers[k].state, "alive") == 0;
        free (peers);
        if (alive != (size_t)n)
            return false;
    }
    return true;
}

typedef struct {
    uint64_t records_out, msgs_out, control_out;
} s_counts_t;

static s_counts_t
s_counts (bench_cluster_node_t *nodes, int n)
{
    s_counts_t c = { 0 };
    for (int i = 0; i < n; i++) {
        node_mesh_summary_t s;
        node_mesh_peer_t *peers;
        size_t count;
        if (!bench_cluster_peers (&nodes[i], &s, &peers, &count))
            bench_cluster_die ("node %s does not answer", nodes[i].dir);
        free (peers);
        c.records_out += s.records_out;
        c.msgs_out += s.gossip_msgs_out;
        c.control_out += s.control_out;
    }
    return c;
}

/* One cluster of n nodes: returns 0 when every record reached every node. */
static int
s_bench (int n, int records, double rate)
{
    char root[] = "/tmp/warden-bench-gossip-XXXXXX";
    if (!mkdtemp (root))
        bench_cluster_die ("mkdtemp: %s", strerror (errno));
    bench_cluster_node_t *nodes = bench_alloc ((size_t)n * sizeof *nodes);
    bench_cluster_config_t config = { .wardend = s_wardend,
                                      .wardenctl = s_wardenctl,
                                      .records_keep = records + 64 };
    bench_cluster_start (nodes, n, root, &config);
    double t0 = bench_now ();
    while (!s_all_alive (nodes, n)) {
        if (bench_now () - t0 > 30)
            bench_cluster_die ("%s", "the cluster did not come up within 30 s");
        usleep (100 * 1000);
    }
    s_counts_t before = s_counts (nodes, n);

    /* Publish round-robin from every node at the given rate. */
    double start = bench_now ();
    for (int r = 0; r < records; r++) {
        double due = start + r / rate;
        double now = bench_now ();
        if (due > now)
            usleep ((useconds_t)((due - now) * 1e6));
        char text[32];
        snprintf (text, sizeof text, "b%d", r);
        size_t len;
        uint8_t *body = node_mesh_encode_publish (text, &len);
        wd_chan_msg_t reply;
        if (!bench_cluster_request (&nodes[r % n], WD_MSG_CTL_MESH_PUBLISH, body, len,
                                    WD_MSG_CTL_MESH_PUBLISH_REPLY, &reply))
            bench_cluster_die ("publish at %s failed", nodes[r % n].dir);
        wd_chan_msg_clear (&reply);
        free (body);
    }
    /* Wait until every node holds every record (or 30 s). */
    size_t pairs = (size_t)records * (size_t)(n - 1), got = 0;
    double *lat = bench_alloc (pairs * sizeof *lat);
    double *last = bench_alloc ((size_t)records * sizeof *last);
    int complete = 0;
    double wait0 = bench_now ();
    while (bench_now () - wait0 < 30) {
        complete = 0;
        for (int i = 0; i < n; i++) {
            node_mesh_summary_t s;
            node_mesh_peer_t *p;
            size_t count;
            if (!bench_cluster_peers (&nodes[i], &s, &p, &count))
                bench_cluster_die ("node %s does not answer", nodes[i].dir);
            free (p);
            complete += s.delivered + s.published >= (uint64_t)records;
        }
        if (complete == n)
            break;
        usleep (200 * 1000);
    }
    s_counts_t after = s_counts (nodes, n);
    uint64_t *origin_time = bench_alloc ((size_t)records * sizeof *origin_time);
    size_t *reached = bench_alloc ((size_t)records * sizeof *reached);
    for (int i = 0; i < n; i++) {
        node_mesh_record_t *recs;
        size_t count;
        if (!s_records (&nodes[i], &recs, &count))
            bench_cluster_die ("records of %s", nodes[i].dir);
        for (size_t k = 0; k < count; k++) {
            int r;
            if (sscanf (recs[k].text, "b%d", &r) != 1 || r < 0 || r >= records)
                continue;
            reached[r]++;
            origin_time[r] = recs[k].time_ms;
            if (recs[k].own)
                continue;
            double l = recs[k].received_ms > recs[k].time_ms
                           ? (double)(recs[k].received_ms - recs[k].time_ms)
                           : 0;
            if (got < pairs)
                lat[got++] = l;
            if (l > last[r])
                last[r] = l;
        }
        free (recs);
    }
    int missing = 0;
    for (int r = 0; r < records; r++)
        missing += reached[r] != (size_t)n;
    bench_sort (lat, got);
    bench_sort (last, (size_t)records);
    int d = n - 1 <= 11 ? n - 1 : 6;
    double copies = (double)(after.records_out - before.records_out) / records;
    double msgs = (double)(after.msgs_out - before.msgs_out) / records;
    printf ("N=%-3d records %d at %.0f/s: latency p50 %.0f ms, p99 %.0f ms (last node: p50 %.0f, "
            "p99 %.0f ms); per record %.1f copies sent, N*D = %d, ratio %.2f; %.1f gossip "
            "messages (control included)%s\n",
            n, records, rate, bench_quantile (lat, got, 0.50), bench_quantile (lat, got, 0.99),
            bench_quantile (last, (size_t)records, 0.50),
            bench_quantile (last, (size_t)records, 0.99), copies, n * d, copies / (n * d), msgs,
            missing ? "" : "; every record reached every node");
    if (missing)
        printf ("N=%-3d FAIL: %d of %d records did not reach every node\n", n, missing, records);
    fflush (stdout);

    bench_cluster_stop (nodes, n);
    char *rm[] = { "/bin/rm", "-rf", root, NULL };
    bench_cluster_run (rm);
    free (nodes);
    free (lat);
    free (last);
    free (origin_time);
    free (reached);
    return missing ? 1 : 0;
}

int
main (int argc, char **argv)
{
    static const struct option options[] = {
        { "sizes", required_argument, NULL, 's' },
        { "records", required_argument, NULL, 'r' },
        { "rate", required_argument, NULL, 'R' },
        { "wardend", required_argument, NULL, 'd' },
        { "wardenctl", required_argument, NULL, 'c' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *sizes = "8,16,32";
    int records = 1000;
    double rate = 250;
    int opt;
    while ((opt = getopt_long (argc, argv, "s:r:R:d:c:h", options, NULL)) != -1) {
        switch (opt) {
            case 's':
                sizes = optarg;
                break;
            case 'r':
                records = atoi (optarg);
                break;
            case 'R':
                rate = atof (optarg);
                break;
            case 'd':
                s_wardend = optarg;
                break;
            case 'c':
                s_wardenctl = optarg;
                break;
            default:
                fprintf (stderr,
                         "usage: bench_gossip [--sizes 8,16,32] [--records 1000] [--rate 250]\n"
                         "                    [--wardend PATH] [--wardenctl PATH]\n");
                return opt == 'h' ? 0 : 2;
        }
    }
    if (records < 1 || rate <= 0)
        return 2;
    bench_cluster_init ("bench_gossip");
    if (sodium_init () < 0)
        return BENCH_EXIT_INTERNAL;
    signal (SIGPIPE, SIG_IGN);
    int failed = 0;
    char *list = strdup (sizes);
    char *save = NULL;
    for (char *tok = strtok_r (list, ",", &save); tok; tok = strtok_r (NULL, ",", &save)) {
        int n = atoi (tok);
        if (n < 2 || n > NODES_MAX) {
            fprintf (stderr, "bench_gossip: sizes are 2..%d\n", NODES_MAX);
            return 2;
        }
        failed |= s_bench (n, records, rate);
    }
    free (list);
    return failed;
}
