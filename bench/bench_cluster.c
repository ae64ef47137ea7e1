/*
 * bench_cluster: making, starting, asking and stopping a cluster of real
 * wardend processes on loopback for the benches that measure one
 * (bench_gossip, bench_ledger). See bench_cluster.h.
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sodium.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <arpa/inet.h>
#include <dirent.h>
#include <unistd.h>

#include "bench_cluster.h"
#include "bench_support.h"
#include "wd_msg.h"

#define TIMEOUT_MS 10000

static const char *s_name = "bench";
static bench_cluster_node_t *s_running; /* the cluster bench_cluster_die stops */
static int s_running_n;

void
bench_cluster_init (const char *name)
{
    s_name = name;
}

void
bench_cluster_die (const char *fmt, ...)
{
    va_list ap;
    va_start (ap, fmt);
    fprintf (stderr, "%s: ", s_name);
    vfprintf (stderr, fmt, ap);
    fputc ('\n', stderr);
    va_end (ap);
    for (int i = 0; i < s_running_n; i++)
        if (s_running[i].pid > 0)
            kill (-s_running[i].pid, SIGKILL);
    exit (BENCH_EXIT_INTERNAL);
}

int
bench_cluster_run (char *const argv[])
{
    pid_t pid = fork ();
    if (pid < 0)
        bench_cluster_die ("fork: %s", strerror (errno));
    if (pid == 0) {
        int null = open ("/dev/null", O_WRONLY);
        if (null >= 0)
            dup2 (null, STDOUT_FILENO);
        execv (argv[0], argv);
        _exit (127);
    }
    int status;
    while (waitpid (pid, &status, 0) < 0 && errno == EINTR)
        ;
    return WIFEXITED (status) ? WEXITSTATUS (status) : 128;
}

static bool
s_port_free (int port)
{
    int fd = socket (AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons ((uint16_t)port) };
    a.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    bool ok = fd >= 0 && bind (fd, (struct sockaddr *)&a, sizeof a) == 0;
    if (fd >= 0)
        close (fd);
    return ok;
}

static int
s_port_base (int n)
{
    for (int tries = 0; tries < 200; tries++) {
        int base = 20000 + (int)randombytes_uniform (12000 - (uint32_t)n); /* below 32768 */
        bool ok = true;
        for (int i = 0; i < n && ok; i++)
            ok = s_port_free (base + i);
        if (ok)
            return base;
    }
    bench_cluster_die ("%s", "no free ports");
}

static void
s_copy_file (const char *from, const char *to)
{
    FILE *in = fopen (from, "rb"), *out = fopen (to, "wb");
    if (!in || !out)
        bench_cluster_die ("cannot copy %s", from);
    char buf[8192];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, in)) > 0)
        fwrite (buf, 1, n, out);
    fclose (in);
    if (fclose (out) != 0)
        bench_cluster_die ("cannot write %s", to);
}

/* `wardenctl init` for every node, then one genesis naming them all. */
static void
s_init_nodes (bench_cluster_node_t *nodes, int n, const char *root, const char *genesis,
              const bench_cluster_config_t *config)
{
    int base = s_port_base (n);
    char **gargv = bench_alloc ((size_t)(2 * n + 2 * config->param_count + 8) * sizeof *gargv);
    char (*certs)[PATH_MAX] = bench_alloc ((size_t)n * PATH_MAX);
    int ga = 0;
    gargv[ga++] = (char *)config->wardenctl;
    gargv[ga++] = "genesis";
    gargv[ga++] = "create";
    gargv[ga++] = "--name";
    gargv[ga++] = "bench";
    for (int i = 0; i < n; i++) {
        bench_cluster_node_t *node = &nodes[i];
        node->port = base + i;
        snprintf (node->dir, sizeof node->dir, "%s/n%d", root, i);
        char name[16];
        snprintf (name, sizeof name, "n%d", i);
        char *argv[] = {
            (char *)config->wardenctl, "init", "--state", node->dir, "--name", name, NULL
        };
        if (bench_cluster_run (argv) != 0)
            bench_cluster_die ("wardenctl init %s failed", node->dir);
        snprintf (certs[i], PATH_MAX, "%s/node.cert", node->dir);
        gargv[ga++] = "--node";
        gargv[ga++] = certs[i];
    }
    for (int k = 0; k < config->param_count; k++) {
        gargv[ga++] = "--param";
        gargv[ga++] = (char *)config->params[k];
    }
    gargv[ga++] = "--out";
    gargv[ga++] = (char *)genesis;
    gargv[ga] = NULL;
    if (bench_cluster_run (gargv) != 0)
        bench_cluster_die ("%s", "wardenctl genesis create failed");
    free (gargv);
    free (certs);
}

/* Every node's genesis copy and conf.d/50-mesh.conf (all n as peers). */
static void
s_configure_nodes (bench_cluster_node_t *nodes, int n, const char *genesis, int records_keep)
{
    char peers[4096] = "";
    for (int i = 0; i < n; i++) {
        size_t used = strlen (peers);
        snprintf (peers + used, sizeof peers - used, "%sn%d=tcp://127.0.0.1:%d", i ? " " : "", i,
                  nodes[i].port);
    }
    for (int i = 0; i < n; i++) {
        char path[PATH_MAX + 64];
        snprintf (path, sizeof path, "%s/genesis", nodes[i].dir);
        s_copy_file (genesis, path);
        snprintf (path, sizeof path, "%s/conf.d", nodes[i].dir);
        mkdir (path, 0700);
        snprintf (path, sizeof path, "%s/conf.d/50-mesh.conf", nodes[i].dir);
        FILE *f = fopen (path, "w");
        if (!f)
            bench_cluster_die ("cannot write %s", path);
        fprintf (f,
                 "mesh\n    listen = \"tcp://127.0.0.1:%d\"\n    peers = \"%s\"\n"
                 "    records_keep = \"%d\"\n",
                 nodes[i].port, peers, records_keep);
        fclose (f);
    }
}

void
bench_cluster_start (bench_cluster_node_t *nodes, int n, const char *root,
                     const bench_cluster_config_t *config)
{
    char genesis[PATH_MAX];
    snprintf (genesis, sizeof genesis, "%s/genesis", root);
    s_init_nodes (nodes, n, root, genesis, config);
    s_configure_nodes (nodes, n, genesis, config->records_keep);
    for (int i = 0; i < n; i++) {
        pid_t pid = fork ();
        if (pid < 0)
            bench_cluster_die ("fork: %s", strerror (errno));
        if (pid == 0) {
            setsid ();
            char conf[PATH_MAX + 16], log[PATH_MAX + 16];
            snprintf (conf, sizeof conf, "%s/warden.conf", nodes[i].dir);
            snprintf (log, sizeof log, "%s/wardend.log", nodes[i].dir);
            int fd = open (log, O_WRONLY | O_CREAT | O_APPEND, 0600);
            if (fd >= 0)
                dup2 (fd, STDERR_FILENO);
            execl (config->wardend, config->wardend, "-c", conf, "-l", "warning", (char *)NULL);
            _exit (127);
        }
        nodes[i].pid = pid;
        s_running = nodes;
        s_running_n = i + 1;
    }
}

void
bench_cluster_stop (bench_cluster_node_t *nodes, int n)
{
    s_running_n = 0;
    for (int i = 0; i < n; i++) {
        wd_chan_destroy (&nodes[i].chan);
        if (nodes[i].pid > 0)
            kill (-nodes[i].pid, SIGTERM);
    }
    for (int i = 0; i < n; i++) {
        if (nodes[i].pid <= 0)
            continue;
        int status;
        double k0 = bench_now ();
        while (waitpid (nodes[i].pid, &status, WNOHANG) == 0) {
            if (bench_now () - k0 > 5) {
                kill (-nodes[i].pid, SIGKILL);
                waitpid (nodes[i].pid, &status, 0);
                break;
            }
            usleep (20 * 1000);
        }
    }
}

wd_chan_t *
bench_cluster_connect (const bench_cluster_node_t *node)
{
    char path[PATH_MAX + 16];
    snprintf (path, sizeof path, "%s/control.sock", node->dir);
    return wd_chan_connect (path);
}

bool
bench_cluster_request (bench_cluster_node_t *node, uint32_t type, const uint8_t *body, size_t len,
                       uint32_t want_type, wd_chan_msg_t *reply)
{
    if (!node->chan && !(node->chan = bench_cluster_connect (node)))
        return false;
    struct pollfd pfd = { .fd = wd_chan_fd (node->chan), .events = POLLIN };
    wd_err_t err = wd_chan_send (node->chan, type, 1, body, len, NULL, 0);
    if (err == WD_OK)
        err = poll (&pfd, 1, TIMEOUT_MS) == 1 ? wd_chan_recv (node->chan, reply) : WD_ERR_TIMEOUT;
    if (err != WD_OK) {
        wd_chan_destroy (&node->chan);
        return false;
    }
    if (reply->type != want_type) {
        wd_chan_msg_clear (reply);
        return false;
    }
    return true;
}

bool
bench_cluster_peers (bench_cluster_node_t *node, node_mesh_summary_t *summary,
                     node_mesh_peer_t **peers, size_t *count)
{
    *peers = NULL;
    *count = 0;
    bool more = true;
    while (more) {
        size_t len;
        uint8_t *body = node_mesh_encode_start (*count, &len);
        wd_chan_msg_t reply;
        bool ok = bench_cluster_request (node, WD_MSG_CTL_MESH_PEERS, body, len,
                                         WD_MSG_CTL_MESH_PEERS_REPLY, &reply);
        free (body);
        wd_err_t err = WD_OK;
        if (ok) {
            err = node_mesh_decode_peers (reply.body, reply.body_len, summary, peers, count, &more);
            wd_chan_msg_clear (&reply);
        }
        if (!ok || err != WD_OK) {
            free (*peers);
            *peers = NULL;
            *count = 0;
            return false;
        }
    }
    return true;
}

double
bench_cluster_cpu (const bench_cluster_node_t *node)
{
    if (node->pid <= 0)
        return 0;
    DIR *proc = opendir ("/proc");
    if (!proc)
        return 0;
    long tick = sysconf (_SC_CLK_TCK);
    unsigned long long ticks = 0;
    struct dirent *e;
    while ((e = readdir (proc))) {
        if (e->d_name[0] < '1' || e->d_name[0] > '9')
            continue;
        char path[PATH_MAX], buf[1024];
        snprintf (path, sizeof path, "/proc/%s/stat", e->d_name);
        FILE *f = fopen (path, "r");
        if (!f)
            continue;
        size_t got = fread (buf, 1, sizeof buf - 1, f);
        fclose (f);
        buf[got] = '\0';
        /* after "pid (comm) ": state ppid pgrp ... utime(14) stime(15) */
        const char *at = strrchr (buf, ')');
        int pgrp;
        unsigned long long utime, stime;
        if (at &&
            sscanf (at + 2, "%*c %*d %d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &pgrp, &utime,
                    &stime) == 3 &&
            pgrp == node->pid)
            ticks += utime + stime;
    }
    closedir (proc);
    return tick > 0 ? (double)ticks / (double)tick : 0;
}
