/*
 * bench_cluster: the cluster of real wardend processes on loopback that
 * bench_gossip and bench_ledger measure. It makes N nodes with `wardenctl
 * init`, one genesis (`wardenctl genesis create`), a mesh config naming
 * everyone on free loopback ports, starts N wardend processes (each in its
 * own process group, stderr to <dir>/wardend.log) and stops them; requests
 * go over each node's control socket. Fatal errors name the bench and kill
 * the cluster that is running, so a failed bench leaves no wardend behind.
 */
#ifndef BENCH_CLUSTER_H
#define BENCH_CLUSTER_H

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "node_mesh.h"
#include "wd_chan.h"

typedef struct {
    char dir[PATH_MAX]; /* <root>/n<i>: state, conf.d, control.sock, logs */
    pid_t pid;          /* wardend, leader of its process group; 0: not started */
    int port;           /* mesh listen port on 127.0.0.1 */
    wd_chan_t *chan;    /* control socket of bench_cluster_request, or NULL */
} bench_cluster_node_t;

typedef struct {
    const char *wardend;       /* path of the daemon */
    const char *wardenctl;     /* path of the control tool */
    const char *const *params; /* NAME=VALUE, each a `genesis create --param` */
    int param_count;
    int records_keep; /* the mesh's records_keep */
} bench_cluster_config_t;

/* Names the bench in fatal errors ("<name>: ..."); call before anything
   else here. name is borrowed and must outlive the run. */
void
bench_cluster_init (const char *name);

/* Prints "<name>: " and the message on stderr, kills (SIGKILL) the process
   groups of the cluster being started or running, and exits with
   BENCH_EXIT_INTERNAL. */
void __attribute__ ((format (printf, 1, 2), noreturn)) bench_cluster_die (const char *fmt, ...);

/* Runs argv (argv[0] a path) to completion with standard output discarded;
   its exit status, 128 when it did not exit. */
int
bench_cluster_run (char *const argv[]);

/* Makes n nodes in root (an existing directory) and starts their wardend
   processes; fills nodes[0..n) (zeroed by the caller). Dies on failure. It
   does not wait for the nodes to come up. */
void
bench_cluster_start (bench_cluster_node_t *nodes, int n, const char *root,
                     const bench_cluster_config_t *config);

/* Closes every node's chan and stops every started wardend: SIGTERM to its
   process group, SIGKILL after 5 s. */
void
bench_cluster_stop (bench_cluster_node_t *nodes, int n);

/* CPU seconds (user + system) used so far by the live processes of node's
   process group (wardend and its children), from /proc; 0 when it is not
   running. */
double
bench_cluster_cpu (const bench_cluster_node_t *node);

/* A new connection to node's control socket, or NULL. Caller owns it. */
wd_chan_t *
bench_cluster_connect (const bench_cluster_node_t *node);

/* One request to node over node->chan (connected on first use, dropped on
   failure) and its reply of want_type, waited for 10 s; false on any
   failure. On true the caller owns *reply (wd_chan_msg_clear). */
bool
bench_cluster_request (bench_cluster_node_t *node, uint32_t type, const uint8_t *body, size_t len,
                       uint32_t want_type, wd_chan_msg_t *reply);

/* node's mesh summary and every peer (WD_MSG_CTL_MESH_PEERS, all pages).
   On true the caller frees *peers; on false *peers is NULL. */
bool
bench_cluster_peers (bench_cluster_node_t *node, node_mesh_summary_t *summary,
                     node_mesh_peer_t **peers, size_t *count);

#endif
