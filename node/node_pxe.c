/*
 * node_pxe: the `pxe` child and `wardend pxe` (see node_pxe.h). One poll
 * loop over a signalfd, the parent and engine channels and the three
 * servers' descriptors; the longest wait is the nearest server deadline
 * or the next status check.
 */
#include "node_pxe.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <seccomp.h>
#include <sodium.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <time.h>
#include <unistd.h>

#include "node_child.h"
#include "node_config.h"
#include "node_proc.h"
#include "pxe_http.h"
#include "pxe_sock.h"
#include "pxe_tftp.h"
#include "wd_cert.h"
#include "wd_codec.h"
#include "wd_hash.h"
#include "wd_log.h"
#include "wd_msg.h"

#define S_STATUS_EVERY_MS 1000
#define S_SOCKETS_WAIT_MS 10000
#define S_ATTEST_PORT     7420 /* the attestation server's documented default port */

/* ---- settings ------------------------------------------------------------------------------ */

static bool
s_ipv4 (const char *text, struct in_addr *out)
{
    return text && inet_pton (AF_INET, text, out) == 1;
}

static bool
s_mac (const char *text, size_t len, uint8_t mac[6])
{
    unsigned v[6];
    char buf[18];
    if (len != 17)
        return false;
    memcpy (buf, text, 17);
    buf[17] = '\0';
    if (sscanf (buf, "%2x:%2x:%2x:%2x:%2x:%2x", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5]) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return true;
}

/* "MAC=IP[=NAME]" separated by blanks or commas. */
static bool
s_hosts (const char *text, node_pxe_settings_t *s, char *why, size_t why_len)
{
    const char *p = text;
    while (*p) {
        while (*p == ' ' || *p == ',' || *p == '\t')
            p++;
        if (!*p)
            break;
        size_t n = strcspn (p, " ,\t");
        char item[128];
        if (n >= sizeof item || s->host_count == PXE_DHCP_HOSTS_MAX) {
            snprintf (why, why_len, "pxe/hosts: too many hosts or an entry too long");
            return false;
        }
        memcpy (item, p, n);
        item[n] = '\0';
        p += n;
        char *eq = strchr (item, '=');
        pxe_dhcp_host_t *h = &s->hosts[s->host_count];
        memset (h, 0, sizeof *h);
        char *name = eq ? strchr (eq + 1, '=') : NULL;
        if (name)
            *name++ = '\0';
        if (!eq || !s_mac (item, (size_t)(eq - item), h->mac) || !s_ipv4 (eq + 1, &h->addr) ||
            (name && strlen (name) >= sizeof h->hostname)) {
            snprintf (why, why_len, "pxe/hosts: '%s' is not MAC=IPV4[=NAME]", item);
            return false;
        }
        if (name)
            snprintf (h->hostname, sizeof h->hostname, "%s", name);
        s->host_count++;
    }
    return true;
}

static bool
s_copy (char *out, size_t size, const char *value)
{
    int n = snprintf (out, size, "%s", value ? value : "");
    return n >= 0 && (size_t)n < size;
}

wd_err_t
node_pxe_settings (const wd_config_t *cfg, node_pxe_settings_t *s, char *why, size_t why_len)
{
    memset (s, 0, sizeof *s);
    s->enable = wd_config_bool (cfg, "pxe/enable");
    s->proxy = strcmp (wd_config_str (cfg, "pxe/mode"), "proxy") == 0;
    s->tftp = wd_config_bool (cfg, "pxe/tftp");
    s->http_port = (uint16_t)wd_config_uint (cfg, "pxe/http_port");
    s->lease_seconds = (uint32_t)(wd_config_uint (cfg, "pxe/lease_time") / 1000);
    const char *v;
    if (!s_copy (s->interface, sizeof s->interface, wd_config_str (cfg, "pxe/interface"))) {
        snprintf (why, why_len, "pxe/interface: longer than %d bytes", IF_NAMESIZE - 1);
        return WD_ERR_CONFIG_VALUE;
    }
    if (!s_copy (s->bios_file, sizeof s->bios_file, wd_config_str (cfg, "pxe/bios_file")) ||
        !s_copy (s->efi_file, sizeof s->efi_file, wd_config_str (cfg, "pxe/efi_file")) ||
        !s_copy (s->script, sizeof s->script, wd_config_str (cfg, "pxe/script"))) {
        snprintf (why, why_len, "pxe/bios_file, efi_file or script: too long");
        return WD_ERR_CONFIG_VALUE;
    }
    const char *state = wd_config_str (cfg, "node/state");
    v = wd_config_str (cfg, "pxe/boot_dir");
    int n1 = v ? snprintf (s->boot_dir, sizeof s->boot_dir, "%s", v)
               : snprintf (s->boot_dir, sizeof s->boot_dir, "%s/boot", state);
    v = wd_config_str (cfg, "pxe/manifest");
    int n2 = v ? snprintf (s->manifest, sizeof s->manifest, "%s", v)
               : snprintf (s->manifest, sizeof s->manifest, "%s/boot.manifest", state);
    int n3 = snprintf (s->lease_file, sizeof s->lease_file, "%s/%s", state, NODE_PXE_LEASE_FILE);
    if (n1 < 0 || n2 < 0 || n3 < 0 || (size_t)n1 >= sizeof s->boot_dir ||
        (size_t)n2 >= sizeof s->manifest || (size_t)n3 >= sizeof s->lease_file) {
        snprintf (why, why_len, "pxe: a path is too long");
        return WD_ERR_CONFIG_VALUE;
    }
    if (!s->enable)
        return WD_OK;

    v = wd_config_str (cfg, "pxe/address");
    if (!s_ipv4 (v, &s->addr)) {
        snprintf (why, why_len,
                  "pxe/address: '%s' is not an IPv4 address (required with pxe/enable)",
                  v ? v : "");
        return WD_ERR_CONFIG_VALUE;
    }
    s_copy (s->address, sizeof s->address, v);
    static const struct {
        const char *key;
        size_t off;
    } addrs[] = {
        { "pxe/netmask", offsetof (node_pxe_settings_t, netmask) },
        { "pxe/router", offsetof (node_pxe_settings_t, router) },
        { "pxe/dns", offsetof (node_pxe_settings_t, dns) },
    };
    for (size_t i = 0; i < sizeof addrs / sizeof addrs[0]; i++) {
        v = wd_config_str (cfg, addrs[i].key);
        if (v && !s_ipv4 (v, (struct in_addr *)((char *)s + addrs[i].off))) {
            snprintf (why, why_len, "%s: '%s' is not an IPv4 address", addrs[i].key, v);
            return WD_ERR_CONFIG_VALUE;
        }
    }
    v = wd_config_str (cfg, "pxe/pool");
    if (v) {
        char first[INET_ADDRSTRLEN], last[INET_ADDRSTRLEN];
        const char *dash = strchr (v, '-');
        size_t fl = dash ? (size_t)(dash - v) : 0;
        if (!dash || fl >= sizeof first || strlen (dash + 1) >= sizeof last) {
            snprintf (why, why_len, "pxe/pool: '%s' is not FIRST-LAST", v);
            return WD_ERR_CONFIG_VALUE;
        }
        memcpy (first, v, fl);
        first[fl] = '\0';
        snprintf (last, sizeof last, "%s", dash + 1);
        if (!s_ipv4 (first, &s->pool_first) || !s_ipv4 (last, &s->pool_last)) {
            snprintf (why, why_len, "pxe/pool: '%s' is not FIRST-LAST", v);
            return WD_ERR_CONFIG_VALUE;
        }
    }
    v = wd_config_str (cfg, "pxe/hosts");
    if (v && !s_hosts (v, s, why, why_len))
        return WD_ERR_CONFIG_VALUE;
    if (!s->proxy && !s->pool_first.s_addr && !s->host_count) {
        snprintf (why, why_len, "pxe: full DHCP mode needs pxe/pool or pxe/hosts");
        return WD_ERR_CONFIG_VALUE;
    }
    /* The boot script names pxe/attest_endpoint, else the attestation
       server's advertised endpoint, else its listening one with a wildcard
       host replaced by our boot link address. */
    v = wd_config_str (cfg, "pxe/attest_endpoint");
    if (!v)
        v = wd_config_str (cfg, "attest/advertise");
    const char *listen = wd_config_str (cfg, "attest/listen");
    const char *port = listen ? strrchr (listen, ':') : NULL;
    int n;
    if (v)
        n = snprintf (s->attest_endpoint, sizeof s->attest_endpoint, "%s", v);
    else if (port && strncmp (listen, "tcp://0.0.0.0:", 14) != 0 &&
             strncmp (listen, "tcp://*:", 8) != 0)
        n = snprintf (s->attest_endpoint, sizeof s->attest_endpoint, "%s", listen);
    else if (port)
        n = snprintf (s->attest_endpoint, sizeof s->attest_endpoint, "tcp://%s%s", s->address,
                      port);
    else
        n = snprintf (s->attest_endpoint, sizeof s->attest_endpoint, "tcp://%s:%d", s->address,
                      S_ATTEST_PORT);
    if (n < 0 || (size_t)n >= sizeof s->attest_endpoint) {
        snprintf (why, why_len, "pxe/attest_endpoint: too long");
        return WD_ERR_CONFIG_VALUE;
    }
    v = wd_config_str (cfg, "pxe/attest_key");
    if (v) {
        if (strlen (v) != 64 || !wd_hex_decode (s->attest_key, sizeof s->attest_key, v)) {
            snprintf (why, why_len, "pxe/attest_key: not 64 hex digits");
            return WD_ERR_CONFIG_VALUE;
        }
        s->has_attest_key = true;
    }
    return WD_OK;
}

int
node_pxe_bind (const node_pxe_settings_t *s, int fds[NODE_PXE_SOCKETS_MAX],
               const char *names[NODE_PXE_SOCKETS_MAX], size_t *count, char *why, size_t why_len)
{
    const char *ifname = s->interface[0] ? s->interface : NULL;
    struct {
        const char *name;
        pxe_sock_kind_t kind;
        const char *addr;
        uint16_t port;
        const char *ifname;
        bool want;
    } plan[NODE_PXE_SOCKETS_MAX] = {
        { "dhcp", PXE_SOCK_UDP_BROADCAST, "0.0.0.0", PXE_DHCP_SERVER_PORT, ifname, true },
        { "proxy", PXE_SOCK_UDP_BROADCAST, "0.0.0.0", PXE_DHCP_PXE_PORT, ifname, s->proxy },
        { "tftp", PXE_SOCK_UDP, s->address, 69, NULL, s->tftp },
        { "http", PXE_SOCK_TCP_LISTEN, s->address, s->http_port, NULL, s->http_port != 0 },
    };
    *count = 0;
    for (size_t i = 0; i < NODE_PXE_SOCKETS_MAX; i++) {
        if (!plan[i].want)
            continue;
        int fd = pxe_sock_bind (plan[i].kind, plan[i].addr, plan[i].port, plan[i].ifname, NULL);
        if (fd < 0) {
            snprintf (why, why_len, "pxe: cannot bind %s on %s:%u%s%s: %s", plan[i].name,
                      plan[i].addr, plan[i].port, plan[i].ifname ? " dev " : "",
                      plan[i].ifname ? plan[i].ifname : "", strerror (errno));
            for (size_t j = 0; j < *count; j++)
                close (fds[j]);
            *count = 0;
            return -1;
        }
        fds[*count] = fd;
        names[*count] = plan[i].name;
        (*count)++;
    }
    return 0;
}

/* ---- message bodies ------------------------------------------------------------------------ */

/* The finished body of a writer, which it destroys. Out of memory is fatal. */
static uint8_t *
s_take (wd_writer_t **w, size_t *len)
{
    uint8_t *body = wd_writer_take (*w, len);
    wd_writer_destroy (w);
    if (!body)
        wd_fatalx ("out of memory");
    return body;
}

uint8_t *
node_pxe_encode_served (const pxe_served_record_t *rec, bool complete, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 12);
    wd_writer_key (w, "approved");
    wd_writer_bool (w, rec->approved);
    wd_writer_key (w, "approved_sha256");
    wd_writer_bin (w, rec->approved_sha256, 32);
    wd_writer_key (w, "bytes");
    wd_writer_uint (w, rec->bytes);
    wd_writer_key (w, "client");
    wd_writer_cstr (w, rec->client);
    wd_writer_key (w, "complete");
    wd_writer_bool (w, complete);
    wd_writer_key (w, "file");
    wd_writer_cstr (w, rec->file);
    wd_writer_key (w, "mac");
    if (rec->has_mac)
        wd_writer_bin (w, rec->mac, 6);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "offset");
    wd_writer_uint (w, rec->offset);
    wd_writer_key (w, "protocol");
    wd_writer_cstr (w, rec->protocol);
    wd_writer_key (w, "sha256");
    wd_writer_bin (w, rec->sha256, 32);
    wd_writer_key (w, "time");
    wd_writer_uint (w, rec->time > 0 ? (uint64_t)rec->time : 0);
    wd_writer_key (w, "whole");
    wd_writer_bool (w, rec->whole);
    return s_take (&w, len);
}

wd_err_t
node_pxe_decode_served (const uint8_t *body, size_t len, pxe_served_record_t *rec, bool *complete)
{
    memset (rec, 0, sizeof *rec);
    wd_reader_t r;
    wd_reader_init (&r, body, len);
    size_t count;
    uint64_t t = 0;
    const uint8_t *mac = NULL;
    size_t mac_len = 0;
    if (wd_read_map (&r, &count) && wd_read_key (&r, "approved") &&
        wd_read_bool (&r, &rec->approved) && wd_read_key (&r, "approved_sha256") &&
        wd_read_bin_fixed (&r, rec->approved_sha256, 32) && wd_read_key (&r, "bytes") &&
        wd_read_uint (&r, &rec->bytes, UINT64_MAX) && wd_read_key (&r, "client") &&
        wd_read_cstr (&r, rec->client, sizeof rec->client) && wd_read_key (&r, "complete") &&
        wd_read_bool (&r, complete) && wd_read_key (&r, "file") &&
        wd_read_cstr (&r, rec->file, sizeof rec->file) && wd_read_key (&r, "mac")) {
        /* nil or bin(6): read the raw value and tell them apart. */
        const uint8_t *raw;
        size_t raw_len;
        if (wd_read_raw (&r, &raw, &raw_len)) {
            if (raw_len == 8 && raw[0] == 0xc4 && raw[1] == 6) {
                mac = raw + 2;
                mac_len = 6;
            } else if (!(raw_len == 1 && raw[0] == 0xc0))
                return WD_ERR_WRONG_TYPE;
        }
        if (wd_read_key (&r, "offset") && wd_read_uint (&r, &rec->offset, UINT64_MAX) &&
            wd_read_key (&r, "protocol") &&
            wd_read_cstr (&r, rec->protocol, sizeof rec->protocol) && wd_read_key (&r, "sha256") &&
            wd_read_bin_fixed (&r, rec->sha256, 32) && wd_read_key (&r, "time") &&
            wd_read_uint (&r, &t, INT64_MAX) && wd_read_key (&r, "whole") &&
            wd_read_bool (&r, &rec->whole))
            wd_read_end (&r);
    }
    wd_err_t err = wd_reader_finish (&r);
    if (err != WD_OK)
        return err;
    if (mac_len == 6) {
        memcpy (rec->mac, mac, 6);
        rec->has_mac = true;
    }
    rec->time = (int64_t)t;
    if (!rec->file[0] || !rec->client[0])
        return WD_ERR_BAD_VALUE;
    return WD_OK;
}

void
node_pxe_measure_name (const pxe_served_record_t *rec, char *out, size_t size)
{
    if (rec->has_mac)
        snprintf (out, size, "%s:%02x-%02x-%02x-%02x-%02x-%02x:%s", NODE_PXE_MEASURE, rec->mac[0],
                  rec->mac[1], rec->mac[2], rec->mac[3], rec->mac[4], rec->mac[5], rec->file);
    else
        snprintf (out, size, "%s:%s:%s", NODE_PXE_MEASURE, rec->client, rec->file);
}

uint8_t *
node_pxe_encode_token (const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *host, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "host");
    wd_writer_str (w, host, strnlen (host, 63));
    wd_writer_key (w, "token");
    wd_writer_bin (w, token, PXE_IMAGES_TOKEN_LEN);
    return s_take (&w, len);
}

wd_err_t
node_pxe_decode_token (const uint8_t *body, size_t len, uint8_t token[PXE_IMAGES_TOKEN_LEN],
                       char host[64])
{
    wd_reader_t r;
    wd_reader_init (&r, body, len);
    size_t count;
    if (wd_read_map (&r, &count) && wd_read_key (&r, "host") && wd_read_cstr (&r, host, 64) &&
        wd_read_key (&r, "token") && wd_read_bin_fixed (&r, token, PXE_IMAGES_TOKEN_LEN))
        wd_read_end (&r);
    return wd_reader_finish (&r);
}

/* ---- seccomp ------------------------------------------------------------------------------- */

#if defined(__SANITIZE_ADDRESS__)
#define S_SANITIZED 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer) || __has_feature(undefined_behavior_sanitizer)
#define S_SANITIZED 1
#endif
#endif

int
node_pxe_seccomp (void)
{
#ifdef S_SANITIZED
    uint32_t deny = SCMP_ACT_ERRNO (EPERM);
#else
    uint32_t deny = SCMP_ACT_KILL_PROCESS;
#endif
    scmp_filter_ctx ctx = seccomp_init (deny);
    if (!ctx)
        return -1;
    /* What the loop, libmicrohttpd, OpenSSL's SHA-256, libsodium's
       randombytes, the lease file and the image re-verification need. */
    static const char *const allowed[] = {
        "read",
        "write",
        "readv",
        "writev",
        "pread64",
        "close",
        "lseek",
        "fstat",
        "newfstatat",
        "statx",
        "openat",
        "openat2",
        "rename",
        "renameat",
        "unlink",
        "unlinkat",
        "fsync",
        "fdatasync",
        "fcntl",
        "ioctl",
        "memfd_create",
        "ftruncate",
        "sendfile",
        "mmap",
        "munmap",
        "mremap",
        "brk",
        "madvise",
        "mprotect",
        "mlock",
        "munlock",
        "poll",
        "ppoll",
        "epoll_create1",
        "epoll_ctl",
        "epoll_wait",
        "epoll_pwait",
        "eventfd2",
        "pipe2",
        "socket",
        "bind",
        "listen",
        "accept4",
        "accept",
        "shutdown",
        "getsockname",
        "getpeername",
        "setsockopt",
        "getsockopt",
        "sendto",
        "sendmsg",
        "sendmmsg",
        "recvfrom",
        "recvmsg",
        "clock_gettime",
        "clock_nanosleep",
        "gettimeofday",
        "time",
        "nanosleep",
        "getrandom",
        "futex",
        "rt_sigprocmask",
        "rt_sigreturn",
        "rt_sigaction",
        "getpid",
        "gettid",
        "exit",
        "exit_group",
        "restart_syscall",
        "uname",
        "sched_yield",
        "sysinfo",
        "getuid",
        "geteuid",
        "getgid",
        "getegid",
        "prlimit64",
        "dup",
        "dup3",
#ifdef S_SANITIZED
        /* AddressSanitizer's and LeakSanitizer's own machinery */
        "clone",
        "clone3",
        "ptrace",
        "wait4",
        "prctl",
        "sigaltstack",

        "readlink",
        "getdents64",
        "getdents",
        "open",
        "stat",
        "lstat",
        "access",
        "faccessat",
        "sched_setaffinity",
        "rt_sigtimedwait",
        "rt_sigsuspend",
        "waitid",
        "process_vm_readv",
        "readlinkat",
        "getppid",
        "sched_getaffinity",
        "kill",
#endif
    };
    int rc = 0;
    for (size_t i = 0; i < sizeof allowed / sizeof allowed[0] && rc == 0; i++) {
        int nr = seccomp_syscall_resolve_name (allowed[i]);
        if (nr == __NR_SCMP_ERROR)
            continue; /* not on this architecture */
        rc = seccomp_rule_add (ctx, SCMP_ACT_ALLOW, nr, 0);
    }
    /* abort() signals itself: let an assertion show as SIGABRT, not SIGSYS. */
    if (rc == 0)
        rc = seccomp_rule_add_array (ctx, SCMP_ACT_ALLOW, SCMP_SYS (tgkill), 1,
                                     &(struct scmp_arg_cmp){ .arg = 0,
                                                             .op = SCMP_CMP_EQ,
                                                             .datum_a = (scmp_datum_t)getpid () });
    if (rc == 0)
        rc = seccomp_load (ctx);
    seccomp_release (ctx);
    return rc == 0 ? 0 : -1;
}

/* ---- the server loop ----------------------------------------------------------------------- */

typedef struct {
    node_pxe_settings_t settings;
    wd_chan_t *parent; /* NULL standalone */
    wd_chan_t *engine; /* NULL until paired, and standalone */
    pxe_images_t *images;
    pxe_dhcp_t *dhcp;
    pxe_tftp_t *tftp;
    pxe_http_t *http;
    bool dirty; /* counters or leases changed since the last status */
    uint64_t next_status_ms;
    uint8_t *last_status;
    size_t last_status_len;
} s_pxe_t;

static void
s_engine_drop (s_pxe_t *self, const char *why)
{
    if (self->engine) {
        wd_chan_destroy (&self->engine);
        wd_log_info ("engine channel closed (%s)", why);
    }
}

static void
s_engine_send (s_pxe_t *self, uint32_t type, const uint8_t *body, size_t len)
{
    if (!self->engine)
        return;
    wd_err_t err = wd_chan_send (self->engine, type, 0, body, len, NULL, 0);
    if (err != WD_OK)
        s_engine_drop (self, wd_strerror (err));
}

/* The MAC of the lease holding addr, from the DHCP server. */
static bool
s_mac_of (const s_pxe_t *self, struct in_addr addr, uint8_t mac[6])
{
    if (!self->dhcp)
        return false;
    pxe_dhcp_lease_t leases[PXE_DHCP_HOSTS_MAX];
    size_t n = pxe_dhcp_leases (self->dhcp, leases, PXE_DHCP_HOSTS_MAX);
    for (size_t i = 0; i < n && i < PXE_DHCP_HOSTS_MAX; i++)
        if (leases[i].addr.s_addr == addr.s_addr) {
            memcpy (mac, leases[i].mac, 6);
            return true;
        }
    return false;
}

static void
s_report (s_pxe_t *self, pxe_served_record_t *rec, struct in_addr addr, bool complete)
{
    rec->has_mac = s_mac_of (self, addr, rec->mac);
    char hex[WD_HASH_HEX_LEN + 1], name[PXE_PATH_MAX + 96];
    wd_hex_encode (hex, rec->sha256, sizeof rec->sha256);
    node_pxe_measure_name (rec, name, sizeof name);
    wd_log_info ("served %s over %s: %llu bytes%s%s sha256 %s", name, rec->protocol,
                 (unsigned long long)rec->bytes, complete ? "" : " (final ack missing)",
                 rec->approved ? "" : " (not from an approved set)", hex);
    size_t len;
    uint8_t *body = node_pxe_encode_served (rec, complete, &len);
    s_engine_send (self, WD_MSG_PXE_SERVED, body, len);
    free (body);
    self->dirty = true;
}

static void
s_tftp_served (void *arg, const pxe_tftp_served_t *sv)
{
    s_pxe_t *self = arg;
    char client[INET_ADDRSTRLEN] = "";
    inet_ntop (AF_INET, &sv->client.sin_addr, client, sizeof client);
    pxe_served_record_t rec;
    pxe_images_record (self->images, "tftp", sv->filename, client, sv->sha256, 0, sv->bytes, true,
                       &rec);
    s_report (self, &rec, sv->client.sin_addr, sv->confirmed);
}

static void
s_http_served (void *arg, const pxe_http_served_t *sv)
{
    s_pxe_t *self = arg;
    pxe_served_record_t rec;
    /* Recorded under the name TFTP and the manifest use: without the '/'. */
    const char *path = sv->path[0] == '/' ? sv->path + 1 : sv->path;
    pxe_images_record (self->images, "http", path, sv->client, sv->sha256, sv->offset, sv->bytes,
                       sv->whole, &rec);
    struct in_addr addr = { 0 };
    if (sv->addr.ss_family == AF_INET)
        addr = ((const struct sockaddr_in *)&sv->addr)->sin_addr;
    s_report (self, &rec, addr, true);
}

/* The host label a boot token is issued for: the reservation's name, else
   the MAC as 52-54-00-12-34-56, else the address (all [A-Za-z0-9.-]). */
static void
s_host_label (const s_pxe_t *self, const char *client, char *out, size_t size)
{
    snprintf (out, size, "%s", client);
    struct in_addr addr;
    if (!self->dhcp || inet_pton (AF_INET, client, &addr) != 1)
        return;
    pxe_dhcp_lease_t leases[PXE_DHCP_HOSTS_MAX];
    size_t n = pxe_dhcp_leases (self->dhcp, leases, PXE_DHCP_HOSTS_MAX);
    for (size_t i = 0; i < n && i < PXE_DHCP_HOSTS_MAX; i++) {
        if (leases[i].addr.s_addr != addr.s_addr)
            continue;
        const uint8_t *m = leases[i].mac;
        snprintf (out, size, "%02x-%02x-%02x-%02x-%02x-%02x", m[0], m[1], m[2], m[3], m[4], m[5]);
        for (size_t h = 0; h < self->settings.host_count; h++)
            if (memcmp (self->settings.hosts[h].mac, m, 6) == 0 &&
                self->settings.hosts[h].hostname[0])
                snprintf (out, size, "%s", self->settings.hosts[h].hostname);
        return;
    }
}

static void
s_token (void *arg, const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *client)
{
    s_pxe_t *self = arg;
    char host[64];
    s_host_label (self, client, host, sizeof host);
    if (!self->engine) {
        wd_log_warnx ("boot token for %s not handed to the engine: no engine channel "
                      "(the host's agent will be refused)",
                      host);
        return;
    }
    size_t len;
    uint8_t *body = node_pxe_encode_token (token, host, &len);
    s_engine_send (self, WD_MSG_PXE_TOKEN, body, len);
    sodium_memzero (body, len);
    free (body);
    wd_log_info ("boot token issued for %s", host);
}

/* A map of counters; names in canonical (sorted) order. */
static void
s_counters (wd_writer_t *w, const char *const *names, const uint64_t *values, size_t n)
{
    wd_writer_map (w, n);
    for (size_t i = 0; i < n; i++) {
        wd_writer_key (w, names[i]);
        wd_writer_uint (w, values[i]);
    }
}

#define S_COUNTERS(w, names, ...)                                                                  \
    do {                                                                                           \
        const uint64_t values_[] = { __VA_ARGS__ };                                                \
        _Static_assert(sizeof names / sizeof names[0] == sizeof values_ / sizeof values_[0],       \
                       "one value per counter name");                                              \
        s_counters (w, names, values_, sizeof values_ / sizeof values_[0]);                        \
    } while (0)

static const char *const s_dhcp_names[] = { "acks",       "declines",  "discovers", "ignored",
                                            "leases",     "malformed", "naks",      "no_address",
                                            "offers",     "received",  "releases",  "requests",
                                            "send_failed" };
static const char *const s_http_names[] = { "aborted",   "active",  "bytes_sent",
                                            "completed", "failed",  "forbidden",
                                            "not_found", "partial", "requests" };
static const char *const s_tftp_names[] = { "active",   "completed",   "duplicate_acks",
                                            "failed",   "malformed",   "refused",
                                            "requests", "retransmits", "unconfirmed" };

/* The PXE_STATUS body (keys in canonical order). */
static uint8_t *
s_status_encode (const s_pxe_t *self, size_t *len)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 7);
    wd_writer_key (w, "address");
    wd_writer_cstr (w, self->settings.address);
    wd_writer_key (w, "dhcp");
    if (self->dhcp) {
        pxe_dhcp_stats_t st;
        pxe_dhcp_stats (self->dhcp, &st);
        S_COUNTERS (w, s_dhcp_names, st.acks, st.declines, st.discovers, st.ignored, st.leases,
                    st.malformed, st.naks, st.no_address, st.offers, st.received, st.releases,
                    st.requests, st.send_failed);
    } else
        wd_writer_nil (w);
    wd_writer_key (w, "http");
    if (self->http) {
        pxe_http_stats_t st;
        pxe_http_stats (self->http, &st);
        S_COUNTERS (w, s_http_names, st.aborted, st.active, st.bytes_sent, st.completed, st.failed,
                    st.forbidden, st.not_found, st.partial, st.requests);
    } else
        wd_writer_nil (w);
    wd_writer_key (w, "images");
    wd_writer_uint (w, self->images ? pxe_images_count (self->images) : 0);
    wd_writer_key (w, "leases");
    pxe_dhcp_lease_t leases[PXE_DHCP_HOSTS_MAX];
    size_t n = self->dhcp ? pxe_dhcp_leases (self->dhcp, leases, PXE_DHCP_HOSTS_MAX) : 0;
    if (n > PXE_DHCP_HOSTS_MAX)
        n = PXE_DHCP_HOSTS_MAX;
    wd_writer_array (w, n);
    for (size_t i = 0; i < n; i++) {
        const pxe_dhcp_lease_t *l = &leases[i];
        char mac[18], addr[INET_ADDRSTRLEN];
        snprintf (mac, sizeof mac, "%02x:%02x:%02x:%02x:%02x:%02x", l->mac[0], l->mac[1], l->mac[2],
                  l->mac[3], l->mac[4], l->mac[5]);
        inet_ntop (AF_INET, &l->addr, addr, sizeof addr);
        wd_writer_map (w, 8);
        wd_writer_key (w, "address");
        wd_writer_cstr (w, addr);
        wd_writer_key (w, "arch");
        wd_writer_uint (w, l->arch);
        wd_writer_key (w, "boot_file");
        wd_writer_cstr (w, l->boot_file);
        wd_writer_key (w, "bound");
        wd_writer_bool (w, l->bound);
        wd_writer_key (w, "expires");
        wd_writer_uint (w, l->expires > 0 ? (uint64_t)l->expires : 0);
        wd_writer_key (w, "ipxe");
        wd_writer_bool (w, l->ipxe);
        wd_writer_key (w, "mac");
        wd_writer_cstr (w, mac);
        wd_writer_key (w, "reserved");
        wd_writer_bool (w, l->reserved);
    }
    wd_writer_key (w, "mode");
    wd_writer_cstr (w, self->settings.proxy ? "proxy" : "full");
    wd_writer_key (w, "tftp");
    if (self->tftp) {
        pxe_tftp_stats_t st;
        pxe_tftp_stats (self->tftp, &st);
        S_COUNTERS (w, s_tftp_names, st.active, st.completed, st.duplicate_acks, st.failed,
                    st.malformed, st.refused, st.requests, st.retransmits, st.unconfirmed);
    } else
        wd_writer_nil (w);
    return s_take (&w, len);
}

/* Sends the status when it differs from the last one sent. */
static void
s_status_maybe (s_pxe_t *self, uint64_t now)
{
    if (now < self->next_status_ms && !self->dirty)
        return;
    self->next_status_ms = now + S_STATUS_EVERY_MS;
    self->dirty = false;
    size_t len;
    uint8_t *body = s_status_encode (self, &len);
    if (self->last_status && len == self->last_status_len &&
        memcmp (body, self->last_status, len) == 0) {
        free (body);
        return;
    }
    free (self->last_status);
    self->last_status = body;
    self->last_status_len = len;
    s_engine_send (self, WD_MSG_PXE_STATUS, body, len);
}

/* A parent message: a new engine channel. Returns false when the parent
   has gone. */
static bool
s_on_parent (s_pxe_t *self)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->parent, &msg);
    if (err == WD_ERR_AGAIN)
        return true;
    if (err == WD_ERR_CLOSED)
        return false;
    if (err != WD_OK)
        wd_fatalx ("parent channel: %s", wd_strerror (err));
    if (msg.type != WD_MSG_PXE_CHANNEL || msg.nfds != 1)
        wd_fatalx ("parent sent an unexpected %s message", wd_msg_name (msg.type));
    s_engine_drop (self, "replaced");
    self->engine = wd_chan_new (msg.fds[0]);
    msg.fds[0] = -1;
    wd_chan_msg_clear (&msg);
    if (!self->engine)
        wd_fatalx ("out of memory");
    wd_log_debug ("new engine channel");
    free (self->last_status); /* the new engine has none: send it again */
    self->last_status = NULL;
    self->dirty = true;
    return true;
}

/* The engine sends nothing today; anything but end-of-file is a bug. */
static void
s_on_engine (s_pxe_t *self)
{
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (self->engine, &msg);
    if (err == WD_ERR_AGAIN)
        return;
    if (err == WD_ERR_CLOSED) {
        s_engine_drop (self, "end of file");
        return;
    }
    if (err != WD_OK)
        wd_fatalx ("engine channel: %s", wd_strerror (err));
    wd_fatalx ("engine sent an unexpected %s message", wd_msg_name (msg.type));
}

static int
s_min_timeout (int a, int b)
{
    if (a < 0)
        return b;
    if (b < 0)
        return a;
    return a < b ? a : b;
}

static void
s_loop (s_pxe_t *self, int sigfd)
{
    bool running = true;
    while (running) {
        struct pollfd fds[6] = {
            { .fd = sigfd, .events = POLLIN },
            { .fd = self->parent ? wd_chan_fd (self->parent) : -1, .events = POLLIN },
            { .fd = self->engine ? wd_chan_fd (self->engine) : -1, .events = POLLIN },
            { .fd = self->dhcp ? pxe_dhcp_fd (self->dhcp) : -1, .events = POLLIN },
            { .fd = self->tftp ? pxe_tftp_fd (self->tftp) : -1, .events = POLLIN },
            { .fd = self->http ? pxe_http_fd (self->http) : -1, .events = POLLIN },
        };
        int timeout = S_STATUS_EVERY_MS;
        if (self->tftp)
            timeout = s_min_timeout (timeout, pxe_tftp_timeout_ms (self->tftp));
        if (self->http)
            timeout = s_min_timeout (timeout, pxe_http_timeout_ms (self->http));
        if (poll (fds, 6, timeout) < 0) {
            if (errno == EINTR)
                continue;
            wd_fatal ("poll");
        }
        struct signalfd_siginfo info;
        if (fds[0].revents && read (sigfd, &info, sizeof info) == (ssize_t)sizeof info &&
            info.ssi_signo != SIGHUP) {
            wd_log_debug ("stopping on signal %u", info.ssi_signo);
            running = false;
        }
        if (self->dhcp && fds[3].revents) {
            int rc = pxe_dhcp_dispatch (self->dhcp);
            if (rc != 0)
                wd_fatalx ("dhcp: %s", pxe_strerror (rc));
            self->dirty = true;
        }
        /* Deadlines are handled on every pass, input or not. */
        if (self->tftp) {
            int rc = pxe_tftp_dispatch (self->tftp);
            if (rc != 0)
                wd_fatalx ("tftp: %s", pxe_strerror (rc));
        }
        if (self->http) {
            int rc = pxe_http_dispatch (self->http);
            if (rc != 0)
                wd_fatalx ("http: %s", pxe_strerror (rc));
        }
        if (self->engine && fds[2].revents)
            s_on_engine (self);
        if (self->parent && fds[1].revents && !s_on_parent (self)) {
            wd_log_info ("parent has gone; stopping");
            running = false;
        }
        s_status_maybe (self, node_proc_now_ms ());
    }
}

/* Where the boot script sends iPXE for the kernel and initrd. */
static void
s_base_url (const node_pxe_settings_t *s, char *out, size_t size)
{
    if (s->http_port == 80)
        snprintf (out, size, "http://%s", s->address);
    else
        snprintf (out, size, "http://%s:%u", s->address, s->http_port);
}

/* The attestation server key for the boot script: pxe/attest_key, or the
   node certificate's curve key. */
static bool
s_attest_key (const wd_config_t *cfg, const node_pxe_settings_t *s, uint8_t key[32])
{
    if (s->has_attest_key) {
        memcpy (key, s->attest_key, 32);
        return true;
    }
    char path[PATH_MAX];
    if (node_path_state (cfg, "node.cert", path, sizeof path) != 0)
        return false;
    FILE *f = fopen (path, "rbe");
    if (!f)
        return false;
    uint8_t buf[WD_CERT_MAX_BYTES + 1];
    size_t len = fread (buf, 1, sizeof buf, f);
    fclose (f);
    wd_cert_t cert;
    if (wd_cert_open (buf, len, &cert) != WD_OK)
        return false;
    memcpy (key, cert.curve_pk, 32);
    return true;
}

/* Builds the servers on the given sockets (taken). Returns NULL on success
   or a reason (static or in why). */
static const char *
s_setup (s_pxe_t *self, const wd_config_t *cfg, int fds[NODE_PXE_SOCKETS_MAX],
         const char *names[NODE_PXE_SOCKETS_MAX], size_t count, char *why, size_t why_len)
{
    const node_pxe_settings_t *s = &self->settings;
    int sock[NODE_PXE_SOCKETS_MAX] = { -1, -1, -1, -1 }; /* dhcp, proxy, tftp, http */
    static const char *const order[NODE_PXE_SOCKETS_MAX] = { "dhcp", "proxy", "tftp", "http" };
    for (size_t i = 0; i < count; i++)
        for (size_t k = 0; k < NODE_PXE_SOCKETS_MAX; k++)
            if (strcmp (names[i], order[k]) == 0 && sock[k] < 0) {
                sock[k] = fds[i];
                fds[i] = -1;
            }
    for (size_t i = 0; i < count; i++)
        if (fds[i] >= 0)
            close (fds[i]);
    const char *fail = NULL;
    int root[3] = { -1, -1, -1 };
    for (int i = 0; i < 3; i++)
        root[i] = open (s->boot_dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (root[0] < 0 || root[1] < 0 || root[2] < 0) {
        snprintf (why, why_len, "boot directory %.300s: %s", s->boot_dir, strerror (errno));
        fail = why;
        goto out;
    }
    self->images = pxe_images_new (root[0], NULL);
    root[0] = -1;
    if (!self->images) {
        fail = "out of memory";
        goto out;
    }
    size_t line = 0;
    int rc = pxe_images_load_manifest (self->images, s->manifest, &line);
    if (rc != 0) {
        snprintf (why, why_len, "manifest %.300s:%zu: %s (%s)", s->manifest, line,
                  pxe_strerror (rc), pxe_err_name (rc));
        fail = why;
        goto out;
    }
    uint8_t key[32];
    if (!s_attest_key (cfg, s, key))
        wd_log_warnx ("no attestation key (node.cert unreadable, pxe/attest_key unset): boot "
                      "scripts are refused");
    else if ((rc = pxe_images_set_attest (self->images, s->attest_endpoint, key)) != 0) {
        snprintf (why, why_len, "pxe/attest_endpoint %s: %s", s->attest_endpoint,
                  pxe_strerror (rc));
        fail = why;
        goto out;
    }
    rc = pxe_images_verify (self->images);
    if (rc != 0) /* keep serving what verified; the rest is refused and logged */
        wd_log_warnx ("image set %s: %s (%s)", s->manifest, pxe_strerror (rc), pxe_err_name (rc));
    pxe_images_set_token_fn (self->images, s_token, self);

    char base_url[PXE_TFTP_URL_MAX + 1], script_url[PXE_DHCP_URL_MAX + 1];
    s_base_url (s, base_url, sizeof base_url);
    snprintf (script_url, sizeof script_url, "%s/%s", base_url, s->script);
    if (sock[0] >= 0) {
        pxe_dhcp_config_t dc = {
            .mode = s->proxy ? PXE_DHCP_MODE_PROXY : PXE_DHCP_MODE_FULL,
            .server_addr = s->addr,
            .ifindex = s->interface[0] ? (int)if_nametoindex (s->interface) : 0,
            .netmask = s->netmask,
            .router = s->router,
            .dns = s->dns,
            .pool_first = s->pool_first,
            .pool_last = s->pool_last,
            .hosts = s->hosts,
            .host_count = s->host_count,
            .lease_seconds = s->lease_seconds,
            .lease_file = s->lease_file,
            .files = { .bios = s->bios_file[0] ? s->bios_file : NULL,
                       .efi_x64 = s->efi_file[0] ? s->efi_file : NULL,
                       .http_x64 = s->http_port ? script_url : NULL,
                       .ipxe = s->http_port ? script_url : s->script },
        };
        int err = 0;
        self->dhcp = pxe_dhcp_new (sock[0], sock[1], &dc, &err);
        sock[0] = sock[1] = -1;
        if (!self->dhcp) {
            snprintf (why, why_len, "dhcp: %s", pxe_strerror (err));
            fail = why;
            goto out;
        }
    }
    if (sock[2] >= 0) {
        int err = 0;
        self->tftp = pxe_tftp_new (sock[2], root[1], NULL, &err);
        sock[2] = root[1] = -1;
        if (!self->tftp) {
            snprintf (why, why_len, "tftp: %s", pxe_strerror (err));
            fail = why;
            goto out;
        }
        pxe_tftp_set_images (self->tftp, self->images, base_url);
        pxe_tftp_set_served (self->tftp, s_tftp_served, self);
    }
    if (sock[3] >= 0) {
        int err = 0;
        self->http = pxe_http_new (sock[3], root[2], self->images, NULL, &err);
        sock[3] = root[2] = -1;
        if (!self->http) {
            snprintf (why, why_len, "http: %s", pxe_strerror (err));
            fail = why;
            goto out;
        }
        pxe_http_set_served (self->http, s_http_served, self);
    }
    wd_log_info ("boot server on %s (%s DHCP%s%s), %zu approved files from %s", s->address,
                 s->proxy ? "proxy" : "full", self->tftp ? ", TFTP" : "",
                 self->http ? ", HTTP" : "", pxe_images_count (self->images), s->boot_dir);
out:
    for (int i = 0; i < NODE_PXE_SOCKETS_MAX; i++)
        if (sock[i] >= 0)
            close (sock[i]);
    for (int i = 0; i < 3; i++)
        if (root[i] >= 0)
            close (root[i]);
    return fail;
}

static void
s_teardown (s_pxe_t *self)
{
    pxe_http_destroy (&self->http);
    pxe_tftp_destroy (&self->tftp);
    pxe_dhcp_destroy (&self->dhcp);
    pxe_images_destroy (&self->images);
    wd_chan_destroy (&self->engine);
    wd_chan_destroy (&self->parent);
    free (self->last_status);
}

/* Waits for the parent's sockets. Exits on failure. */
static size_t
s_receive_sockets (wd_chan_t *parent, int fds[NODE_PXE_SOCKETS_MAX],
                   const char *names[NODE_PXE_SOCKETS_MAX])
{
    struct pollfd pfd = { .fd = wd_chan_fd (parent), .events = POLLIN };
    if (poll (&pfd, 1, S_SOCKETS_WAIT_MS) != 1)
        node_child_fail (parent, WD_ERR_TIMEOUT, "no sockets from the parent");
    wd_chan_msg_t msg;
    wd_err_t err = wd_chan_recv (parent, &msg);
    if (err == WD_ERR_CLOSED)
        exit (0);
    if (err != WD_OK || msg.type != WD_MSG_PXE_SOCKETS)
        wd_fatalx ("parent channel: expected pxe-sockets: %s",
                   err != WD_OK ? wd_strerror (err) : wd_msg_name (msg.type));
    static char keep[NODE_PXE_SOCKETS_MAX][8];
    wd_reader_t r;
    wd_reader_init (&r, msg.body, msg.body_len);
    size_t count = 0, n = 0;
    if (wd_read_map (&r, &count) && wd_read_key (&r, "sockets") && wd_read_array (&r, &n) &&
        n == msg.nfds) {
        for (size_t i = 0; i < n && i < NODE_PXE_SOCKETS_MAX; i++)
            if (!wd_read_cstr (&r, keep[i], sizeof keep[i]))
                break;
        if (wd_read_end (&r))
            wd_read_end (&r);
    }
    err = wd_reader_finish (&r);
    if (err != WD_OK || n != msg.nfds)
        wd_fatalx ("parent sent a bad pxe-sockets message: %s", wd_strerror (err));
    for (size_t i = 0; i < n; i++) {
        fds[i] = msg.fds[i];
        msg.fds[i] = -1;
        names[i] = keep[i];
    }
    wd_chan_msg_clear (&msg);
    return n;
}

int
node_pxe_send_sockets (wd_chan_t *chan, const int *fds, const char *const *names, size_t count)
{
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 1);
    wd_writer_key (w, "sockets");
    wd_writer_array (w, count);
    for (size_t i = 0; i < count; i++)
        wd_writer_cstr (w, names[i]);
    size_t len;
    uint8_t *body = s_take (&w, &len);
    wd_err_t err = wd_chan_send (chan, WD_MSG_PXE_SOCKETS, 0, body, len, fds, count);
    free (body);
    return err;
}

int
node_pxe_main (void)
{
    s_pxe_t self = { 0 };
    wd_config_t *cfg = node_child_start (NODE_PROC_PXE, &self.parent);
    int sigfd = node_child_signalfd ();
    char why[WD_CONFIG_WHY_MAX];
    if (node_pxe_settings (cfg, &self.settings, why, sizeof why) != WD_OK)
        node_child_fail (self.parent, WD_ERR_CONFIG_VALUE, "%s", why);
    int fds[NODE_PXE_SOCKETS_MAX];
    const char *names[NODE_PXE_SOCKETS_MAX];
    size_t count = s_receive_sockets (self.parent, fds, names);
    /* MHD may then use sendfile; a client that hangs up must not kill us. */
    signal (SIGPIPE, SIG_IGN);
    const char *fail = s_setup (&self, cfg, fds, names, count, why, sizeof why);
    if (fail)
        node_child_fail (self.parent, WD_ERR_CONFIG_VALUE, "%s", fail);
    if (node_pxe_seccomp () != 0)
        node_child_fail (self.parent, WD_ERR_IO, "seccomp filter could not be applied");
    if (node_child_send (self.parent, WD_MSG_READY, 0, NULL, 0, NULL, 0))
        s_loop (&self, sigfd);
    s_teardown (&self);
    wd_config_destroy (&cfg);
    close (sigfd);
    return 0;
}

int
node_pxe_standalone (int argc, char **argv)
{
    static const struct option options[] = {
        { "config", required_argument, NULL, 'c' },
        { "log-level", required_argument, NULL, 'l' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    const char *config_path = NODE_CONFIG_DEFAULT_PATH, *log_level = NULL;
    int opt;
    optind = 0;
    while ((opt = getopt_long (argc, argv, "c:l:h", options, NULL)) != -1) {
        switch (opt) {
            case 'c':
                config_path = optarg;
                break;
            case 'l':
                log_level = optarg;
                break;
            case 'h':
                printf ("usage: wardend pxe [-c FILE] [-l LEVEL]\n\n"
                        "Runs only the boot server (DHCP, TFTP, HTTP boot of the approved image\n"
                        "set) from the pxe/* keys of FILE (default %s), with the\n"
                        "same seccomp filter as wardend's pxe process. Served files are logged,\n"
                        "not measured, and boot tokens go to no attestation server.\n"
                        "See wardend(8).\n",
                        NODE_CONFIG_DEFAULT_PATH);
                return 0;
            default:
                return 2;
        }
    }
    if (optind != argc) {
        fprintf (stderr, "wardend pxe: unexpected argument '%s'\n", argv[optind]);
        return 2;
    }
    char why[WD_CONFIG_WHY_MAX];
    wd_config_t *cfg = NULL;
    wd_err_t err = node_config_load (config_path, log_level, &cfg, why, sizeof why);
    s_pxe_t self = { 0 };
    if (err == WD_OK)
        err = node_pxe_settings (cfg, &self.settings, why, sizeof why);
    if (err == WD_OK && !self.settings.enable) {
        snprintf (why, sizeof why, "%s: pxe/enable is not true", config_path);
        err = WD_ERR_CONFIG_VALUE;
    }
    if (err != WD_OK) {
        fprintf (stderr, "wardend pxe: %s\n", why);
        wd_config_destroy (&cfg);
        return 2;
    }
    wd_log_level_t level = WD_LOG_INFO;
    wd_log_level_parse (wd_config_str (cfg, "log/level"), &level);
    wd_log_init ("pxe", level);
    int fds[NODE_PXE_SOCKETS_MAX];
    const char *names[NODE_PXE_SOCKETS_MAX];
    size_t count;
    if (node_pxe_bind (&self.settings, fds, names, &count, why, sizeof why) != 0) {
        fprintf (stderr, "wardend pxe: %s\n", why);
        wd_config_destroy (&cfg);
        return 3;
    }
    int sigfd = node_child_signalfd ();
    signal (SIGPIPE, SIG_IGN);
    int status = 0;
    const char *fail = s_setup (&self, cfg, fds, names, count, why, sizeof why);
    if (fail) {
        fprintf (stderr, "wardend pxe: %s\n", fail);
        status = 3;
    } else if (prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) != 0 || node_pxe_seccomp () != 0) {
        fprintf (stderr, "wardend pxe: seccomp filter could not be applied\n");
        status = 3;
    } else
        s_loop (&self, sigfd);
    s_teardown (&self);
    wd_config_destroy (&cfg);
    close (sigfd);
    return status;
}
