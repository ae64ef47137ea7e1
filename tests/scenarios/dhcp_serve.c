/*
 * dhcp_serve: a test-only DHCP/ProxyDHCP server around pxe_dhcp, for the
 * real-client scenario (dhcp_clients.sh, run inside a network namespace).
 * It binds 0.0.0.0:PORT on --iface (and 0.0.0.0:PXE-PORT for ProxyDHCP
 * boot server requests), prints "ready" on standard output, serves until
 * SIGTERM or SIGINT, and writes its counters and leases to --stats on
 * SIGUSR1 and when it stops (one "name value" per line: received, offers,
 * drop.PXE_ERR_DHCP_COOKIE, ...; then "lease MAC ADDR bound|offered
 * BOOTFILE"). Not installed: the node runs pxe_dhcp inside its `pxe` child.
 *
 * Usage: dhcp_serve --iface IF --addr A --netmask M [--pool A-B]
 *                   [--host MAC=ADDR[=NAME]]... [--lease-file F] [--lease-seconds N]
 *                   [--proxy] [--bios F] [--efi F] [--arm64 F] [--http URL] [--ipxe URL]
 *                   [--port 67] [--pxe-port 4011|0] [--stats FILE]
 */
#include <arpa/inet.h>
#include <getopt.h>
#include <net/if.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "pxe_dhcp.h"
#include "wd_log.h"

static volatile int s_stop;
static volatile int s_dump;
static volatile int s_wake; /* either: makes pxe_dhcp_run return */

static void
s_on_signal (int sig)
{
    if (sig == SIGUSR1)
        s_dump = 1;
    else
        s_stop = 1;
    s_wake = 1;
}

static void
s_usage_exit (const char *why)
{
    fprintf (stderr, "dhcp_serve: %s\n", why);
    exit (2);
}

static struct in_addr
s_addr (const char *s)
{
    struct in_addr a;
    if (inet_pton (AF_INET, s, &a) != 1)
        s_usage_exit ("bad IPv4 address");
    return a;
}

static unsigned
s_number (const char *s)
{
    char *end;
    unsigned long v = strtoul (s, &end, 10);
    if (*s == '\0' || *end != '\0' || v > 0xffffffffu)
        s_usage_exit ("bad number");
    return (unsigned)v;
}

static void
s_host (const char *arg, pxe_dhcp_host_t *h)
{
    char buf[128];
    snprintf (buf, sizeof buf, "%s", arg);
    char *ip = strchr (buf, '=');
    if (!ip)
        s_usage_exit ("--host MAC=ADDR[=NAME]");
    *ip++ = '\0';
    char *name = strchr (ip, '=');
    if (name)
        *name++ = '\0';
    unsigned m[6];
    if (sscanf (buf, "%x:%x:%x:%x:%x:%x", &m[0], &m[1], &m[2], &m[3], &m[4], &m[5]) != 6)
        s_usage_exit ("bad MAC");
    for (int i = 0; i < 6; i++)
        h->mac[i] = (uint8_t)m[i];
    h->addr = s_addr (ip);
    if (name)
        snprintf (h->hostname, sizeof h->hostname, "%s", name);
}

static void
s_write_stats (pxe_dhcp_t *server, const char *path)
{
    if (!path)
        return;
    char tmp[4096];
    snprintf (tmp, sizeof tmp, "%s.tmp", path);
    FILE *f = fopen (tmp, "w");
    if (!f)
        return;
    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (server, &st);
    fprintf (f,
             "received %llu\nmalformed %llu\ndiscovers %llu\nrequests %llu\ndeclines %llu\n"
             "releases %llu\ninforms %llu\noffers %llu\nacks %llu\nnaks %llu\nignored %llu\n"
             "no_address %llu\nwrong_interface %llu\nsend_failed %llu\nlease_writes %llu\n"
             "leases %u\n",
             (unsigned long long)st.received, (unsigned long long)st.malformed,
             (unsigned long long)st.discovers, (unsigned long long)st.requests,
             (unsigned long long)st.declines, (unsigned long long)st.releases,
             (unsigned long long)st.informs, (unsigned long long)st.offers,
             (unsigned long long)st.acks, (unsigned long long)st.naks,
             (unsigned long long)st.ignored, (unsigned long long)st.no_address,
             (unsigned long long)st.wrong_interface, (unsigned long long)st.send_failed,
             (unsigned long long)st.lease_writes, st.leases);
    for (int k = 0; k < PXE_DHCP_DROP_COUNT; k++)
        fprintf (f, "drop.%s %llu\n", pxe_err_name (PXE_ERR_DHCP_SHORT + k),
                 (unsigned long long)st.drops[k]);
    pxe_dhcp_lease_t leases[64];
    size_t n = pxe_dhcp_leases (server, leases, 64);
    for (size_t i = 0; i < n && i < 64; i++) {
        char ip[INET_ADDRSTRLEN];
        inet_ntop (AF_INET, &leases[i].addr, ip, sizeof ip);
        const uint8_t *m = leases[i].mac;
        fprintf (f, "lease %02x:%02x:%02x:%02x:%02x:%02x %s %s %s\n", m[0], m[1], m[2], m[3], m[4],
                 m[5], ip, leases[i].bound ? "bound" : "offered",
                 leases[i].boot_file[0] ? leases[i].boot_file : "-");
    }
    fclose (f);
    rename (tmp, path);
}

int
main (int argc, char **argv)
{
    const char *iface = NULL, *stats_path = NULL;
    unsigned port = PXE_DHCP_SERVER_PORT, pxe_port = PXE_DHCP_PXE_PORT;
    pxe_dhcp_config_t config = { 0 };
    static pxe_dhcp_host_t hosts[PXE_DHCP_HOSTS_MAX];
    static const struct option opts[] = {
        { "iface", required_argument, NULL, 'i' },
        { "addr", required_argument, NULL, 'a' },
        { "netmask", required_argument, NULL, 'm' },
        { "router", required_argument, NULL, 'R' },
        { "pool", required_argument, NULL, 'P' },
        { "host", required_argument, NULL, 'H' },
        { "lease-file", required_argument, NULL, 'l' },
        { "lease-seconds", required_argument, NULL, 'L' },
        { "proxy", no_argument, NULL, 'x' },
        { "bios", required_argument, NULL, 'b' },
        { "efi", required_argument, NULL, 'e' },
        { "arm64", required_argument, NULL, 'r' },
        { "http", required_argument, NULL, 'w' },
        { "ipxe", required_argument, NULL, 'I' },
        { "port", required_argument, NULL, 'p' },
        { "pxe-port", required_argument, NULL, 'q' },
        { "stats", required_argument, NULL, 's' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        switch (c) {
            case 'i':
                iface = optarg;
                break;
            case 'a':
                config.server_addr = s_addr (optarg);
                break;
            case 'm':
                config.netmask = s_addr (optarg);
                break;
            case 'R':
                config.router = s_addr (optarg);
                break;
            case 'P': {
                char buf[64];
                snprintf (buf, sizeof buf, "%s", optarg);
                char *dash = strchr (buf, '-');
                if (!dash)
                    s_usage_exit ("--pool FIRST-LAST");
                *dash = '\0';
                config.pool_first = s_addr (buf);
                config.pool_last = s_addr (dash + 1);
                break;
            }
            case 'H':
                if (config.host_count == PXE_DHCP_HOSTS_MAX)
                    s_usage_exit ("too many hosts");
                s_host (optarg, &hosts[config.host_count++]);
                break;
            case 'l':
                config.lease_file = optarg;
                break;
            case 'L':
                config.lease_seconds = s_number (optarg);
                break;
            case 'x':
                config.mode = PXE_DHCP_MODE_PROXY;
                break;
            case 'b':
                config.files.bios = optarg;
                break;
            case 'e':
                config.files.efi_x64 = optarg;
                break;
            case 'r':
                config.files.efi_arm64 = optarg;
                break;
            case 'w':
                config.files.http_x64 = optarg;
                break;
            case 'I':
                config.files.ipxe = optarg;
                break;
            case 'p':
                port = s_number (optarg);
                break;
            case 'q':
                pxe_port = s_number (optarg);
                break;
            case 's':
                stats_path = optarg;
                break;
            case 'h':
                printf ("usage: dhcp_serve --iface IF --addr A --netmask M [--pool A-B] "
                        "[--host MAC=ADDR[=NAME]]... [--lease-file F] [--lease-seconds N] "
                        "[--proxy] [--bios F] [--efi F] [--arm64 F] [--http URL] [--ipxe URL] "
                        "[--port N] [--pxe-port N] [--stats FILE]\n");
                return 0;
            default:
                return 2;
        }
    }
    if (!iface)
        s_usage_exit ("--iface is required");
    config.hosts = hosts;
    config.ifindex = (int)if_nametoindex (iface);
    if (!config.ifindex)
        wd_fatal ("interface %s", iface);
    wd_log_init ("dhcp", WD_LOG_INFO);
    int sock = pxe_dhcp_bind ("0.0.0.0", (uint16_t)port, iface, NULL);
    if (sock < 0)
        wd_fatal ("bind 0.0.0.0:%u on %s", port, iface);
    int psock = -1;
    if (pxe_port) {
        psock = pxe_dhcp_bind ("0.0.0.0", (uint16_t)pxe_port, iface, NULL);
        if (psock < 0)
            wd_fatal ("bind 0.0.0.0:%u on %s", pxe_port, iface);
    }
    int err = 0;
    pxe_dhcp_t *server = pxe_dhcp_new (sock, psock, &config, &err);
    if (!server)
        wd_fatalx ("pxe_dhcp_new: %s", pxe_strerror (err));
    struct sigaction sa = { .sa_handler = s_on_signal };
    sigaction (SIGTERM, &sa, NULL);
    sigaction (SIGINT, &sa, NULL);
    sigaction (SIGUSR1, &sa, NULL);
    printf ("ready\n");
    fflush (stdout);
    int rc = 0;
    while (!s_stop) {
        rc = pxe_dhcp_run (server, &s_wake);
        s_wake = 0;
        if (rc)
            break;
        if (s_dump) {
            s_dump = 0;
            s_write_stats (server, stats_path);
        }
    }
    s_write_stats (server, stats_path);
    pxe_dhcp_destroy (&server);
    return rc ? 3 : 0;
}
