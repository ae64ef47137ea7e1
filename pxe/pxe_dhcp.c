/*
 * pxe_dhcp: DHCPv4 and ProxyDHCP server for the boot link (see pxe_dhcp.h
 * and "DHCP and ProxyDHCP" in docs/PROTOCOL.md).
 *
 * Leases live in a table of slots, one per address the server can hand
 * out: the pool's addresses first, then one per reservation. A slot is
 * free when unused or expired; an offer holds it for S_OFFER_HOLD seconds,
 * an ACK binds it for the lease time, a DECLINE parks it (no owner) for
 * S_DECLINE_HOLD seconds. Only bound leases are written to the lease file,
 * rewritten whole (temp file, fsync, rename, fsync of the directory) after
 * every change. The server is authoritative on its link: a REQUEST for an
 * address it would not give that client is NAKed at once.
 */

#include "pxe_dhcp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <net/if.h>
#include <net/if_arp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pxe_sock.h"
#include "wd_log.h"

#define S_DEFAULT_LEASE  3600
#define S_OFFER_HOLD     60
#define S_DECLINE_HOLD   600
#define S_POOL_MAX       4096
#define S_BOOTP_MIN      300 /* old BOOTP relays and ROMs want at least this */
#define S_DRAIN          64
#define S_LOG_PER_SECOND 10
#define S_FLAG_BROADCAST 0x8000

/* ---- packet parsing ------------------------------------------------------------------------ */

static uint32_t
s_get32 (const uint8_t *p)
{
    return ((uint32_t)p[0] << 24) | ((uint32_t)p[1] << 16) | ((uint32_t)p[2] << 8) | p[3];
}

static uint16_t
s_get16 (const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void
s_put32 (uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)(v >> 24);
    p[1] = (uint8_t)(v >> 16);
    p[2] = (uint8_t)(v >> 8);
    p[3] = (uint8_t)v;
}

static void
s_put16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

static bool
s_has (const pxe_dhcp_packet_t *pkt, uint8_t code)
{
    return (pkt->opt_present[code >> 3] >> (code & 7)) & 1;
}

typedef struct {
    uint8_t code;
    uint16_t off, len; /* in the packet */
} s_segment_t;

/* Scans one field that holds options (the options area, or file/sname
   under overload) and appends its segments. Only the options area may carry
   option 52. */
static int
s_scan (const uint8_t *buf, size_t start, size_t end, bool main_field, s_segment_t *segs,
        size_t *nsegs, uint8_t *overload)
{
    size_t i = start;
    while (i < end) {
        uint8_t code = buf[i];
        if (code == PXE_DHCP_OPT_PAD) {
            i++;
            continue;
        }
        if (code == PXE_DHCP_OPT_END)
            return 0; /* what follows END is padding, not read */
        if (i + 1 >= end)
            return PXE_ERR_DHCP_OPTION_TRUNCATED;
        size_t olen = buf[i + 1];
        if (i + 2 + olen > end)
            return PXE_ERR_DHCP_OPTION_TRUNCATED;
        if (code == PXE_DHCP_OPT_OVERLOAD) {
            if (!main_field || *overload || olen != 1 || buf[i + 2] < 1 || buf[i + 2] > 3)
                return PXE_ERR_DHCP_OVERLOAD;
            *overload = buf[i + 2];
        }
        segs[*nsegs].code = code;
        segs[*nsegs].off = (uint16_t)(i + 2);
        segs[*nsegs].len = (uint16_t)olen;
        (*nsegs)++;
        i += 2 + olen;
    }
    return PXE_ERR_DHCP_NO_END;
}

/* Option 77 holds "iPXE": either raw (what iPXE sends) or as one RFC 3004
   length-prefixed instance. */
static bool
s_user_class_ipxe (const uint8_t *v, size_t len)
{
    if (len == 4 && memcmp (v, "iPXE", 4) == 0)
        return true;
    size_t i = 0;
    while (i < len) {
        size_t l = v[i];
        if (i + 1 + l > len)
            return false;
        if (l == 4 && memcmp (v + i + 1, "iPXE", 4) == 0)
            return true;
        i += 1 + l;
    }
    return false;
}

static bool
s_prefix (const uint8_t *v, size_t len, const char *prefix)
{
    size_t n = strlen (prefix);
    return v && len >= n && memcmp (v, prefix, n) == 0;
}

const uint8_t *
pxe_dhcp_option (const pxe_dhcp_packet_t *pkt, uint8_t code, size_t *len)
{
    assert (pkt);
    if (!s_has (pkt, code))
        return NULL;
    if (len)
        *len = pkt->opt_len[code];
    return pkt->data + pkt->opt_off[code];
}

/* Length rules of the options this server reads. */
static int
s_check_lengths (const pxe_dhcp_packet_t *p)
{
    static const struct {
        uint8_t code;
        uint8_t min, max;
    } rules[] = {
        { PXE_DHCP_OPT_SUBNET_MASK, 4, 4 }, { PXE_DHCP_OPT_REQUESTED_IP, 4, 4 },
        { PXE_DHCP_OPT_LEASE_TIME, 4, 4 },  { PXE_DHCP_OPT_MESSAGE_TYPE, 1, 1 },
        { PXE_DHCP_OPT_SERVER_ID, 4, 4 },   { PXE_DHCP_OPT_MAX_SIZE, 2, 2 },
        { PXE_DHCP_OPT_CLIENT_ID, 2, 255 }, { PXE_DHCP_OPT_CLIENT_NDI, 3, 3 },
        { PXE_DHCP_OPT_UUID, 17, 17 },      { PXE_DHCP_OPT_CLIENT_ARCH, 2, 254 },
    };
    for (size_t i = 0; i < sizeof rules / sizeof rules[0]; i++) {
        size_t len;
        if (pxe_dhcp_option (p, rules[i].code, &len) && (len < rules[i].min || len > rules[i].max))
            return PXE_ERR_DHCP_OPTION_LENGTH;
    }
    size_t len;
    if (pxe_dhcp_option (p, PXE_DHCP_OPT_CLIENT_ARCH, &len) && len % 2)
        return PXE_ERR_DHCP_OPTION_LENGTH;
    const uint8_t *uuid = pxe_dhcp_option (p, PXE_DHCP_OPT_UUID, &len);
    if (uuid && uuid[0] != 0) /* type 0: a 16-byte UUID follows */
        return PXE_ERR_DHCP_OPTION_LENGTH;
    return 0;
}

int
pxe_dhcp_parse (const uint8_t *buf, size_t len, pxe_dhcp_packet_t *out)
{
    assert (buf || len == 0);
    assert (out);
    if (len < PXE_DHCP_MIN_LEN)
        return PXE_ERR_DHCP_SHORT;
    if (len > PXE_DHCP_PACKET_MAX)
        return PXE_ERR_DHCP_LONG;
    if (buf[0] != PXE_DHCP_BOOTREQUEST && buf[0] != PXE_DHCP_BOOTREPLY)
        return PXE_ERR_DHCP_OP;
    if (buf[1] != 1 || buf[2] != 6)
        return PXE_ERR_DHCP_HTYPE;
    if (s_get32 (buf + PXE_DHCP_FIXED_LEN) != PXE_DHCP_MAGIC)
        return PXE_ERR_DHCP_COOKIE;

    /* Every option takes at least 2 bytes: this many segments at most. */
    s_segment_t segs[PXE_DHCP_PACKET_MAX / 2];
    size_t nsegs = 0;
    uint8_t overload = 0;
    int rc = s_scan (buf, PXE_DHCP_MIN_LEN, len, true, segs, &nsegs, &overload);
    if (rc)
        return rc;
    /* RFC 2131 §4.1 and RFC 3396: options field, then file, then sname. */
    if ((overload & 1) && (rc = s_scan (buf, 108, 236, false, segs, &nsegs, &overload)) != 0)
        return rc;
    if ((overload & 2) && (rc = s_scan (buf, 44, 108, false, segs, &nsegs, &overload)) != 0)
        return rc;

    pxe_dhcp_packet_t *p = calloc (1, sizeof *p);
    if (!p)
        return WD_ERR_NOMEM;
    p->op = buf[0];
    p->htype = buf[1];
    p->hlen = buf[2];
    p->hops = buf[3];
    p->xid = s_get32 (buf + 4);
    p->secs = s_get16 (buf + 8);
    p->flags = s_get16 (buf + 10);
    memcpy (&p->ciaddr, buf + 12, 4);
    memcpy (&p->yiaddr, buf + 16, 4);
    memcpy (&p->siaddr, buf + 20, 4);
    memcpy (&p->giaddr, buf + 24, 4);
    memcpy (p->chaddr, buf + 28, 16);
    if (!(overload & 2))
        memcpy (p->sname, buf + 44, 64);
    if (!(overload & 1))
        memcpy (p->file, buf + 108, 128);
    p->overload = overload;

    /* Concatenate each code's segments in order: totals, offsets, copy. */
    size_t total[256] = { 0 }, cursor[256];
    for (size_t i = 0; i < nsegs; i++) {
        total[segs[i].code] += segs[i].len;
        p->opt_present[segs[i].code >> 3] |= (uint8_t)(1u << (segs[i].code & 7));
    }
    size_t at = 0;
    for (unsigned c = 0; c < 256; c++) {
        p->opt_off[c] = (uint16_t)at;
        p->opt_len[c] = (uint16_t)total[c];
        cursor[c] = at;
        at += total[c];
    }
    for (size_t i = 0; i < nsegs; i++) {
        memcpy (p->data + cursor[segs[i].code], buf + segs[i].off, segs[i].len);
        cursor[segs[i].code] += segs[i].len;
    }
    p->data_len = at;

    rc = s_check_lengths (p);
    if (rc)
        goto out;
    size_t olen;
    const uint8_t *v;
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_MESSAGE_TYPE, NULL)) != NULL) {
        if (v[0] < PXE_DHCP_DISCOVER || v[0] > PXE_DHCP_INFORM) {
            rc = PXE_ERR_DHCP_MESSAGE_TYPE;
            goto out;
        }
        p->message_type = v[0];
    }
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_REQUESTED_IP, NULL)) != NULL) {
        p->has_requested_ip = true;
        memcpy (&p->requested_ip, v, 4);
    }
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_SERVER_ID, NULL)) != NULL) {
        p->has_server_id = true;
        memcpy (&p->server_id, v, 4);
    }
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_LEASE_TIME, NULL)) != NULL) {
        p->has_lease_time = true;
        p->lease_time = s_get32 (v);
    }
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_MAX_SIZE, NULL)) != NULL)
        p->max_size = s_get16 (v);
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_CLIENT_ARCH, NULL)) != NULL) {
        p->has_arch = true;
        p->arch = s_get16 (v);
    }
    if ((v = pxe_dhcp_option (p, PXE_DHCP_OPT_UUID, NULL)) != NULL) {
        p->has_uuid = true;
        memcpy (p->uuid, v, 17);
    }
    v = pxe_dhcp_option (p, PXE_DHCP_OPT_VENDOR_CLASS, &olen);
    p->pxe_client = s_prefix (v, v ? olen : 0, "PXEClient");
    p->http_client = s_prefix (v, v ? olen : 0, "HTTPClient");
    v = pxe_dhcp_option (p, PXE_DHCP_OPT_USER_CLASS, &olen);
    p->ipxe = (v && s_user_class_ipxe (v, olen)) || s_has (p, PXE_DHCP_OPT_IPXE);
    *out = *p;
out:
    free (p);
    return rc;
}

/* ---- building replies ---------------------------------------------------------------------- */

/* Appends an option, split in 255-byte pieces (RFC 3396); keeps one byte
   for END below limit. */
static int
s_put_opt (uint8_t *out, size_t *pos, size_t limit, uint8_t code, const void *val, size_t vlen)
{
    const uint8_t *v = val;
    do {
        size_t n = vlen > 255 ? 255 : vlen;
        if (*pos + 2 + n + 1 > limit)
            return PXE_ERR_DHCP_NO_SPACE;
        out[(*pos)++] = code;
        out[(*pos)++] = (uint8_t)n;
        if (n)
            memcpy (out + *pos, v, n);
        *pos += n;
        v += n;
        vlen -= n;
    } while (vlen);
    return 0;
}

static int
s_put_addr (uint8_t *out, size_t *pos, size_t limit, uint8_t code, struct in_addr a)
{
    if (a.s_addr == 0)
        return 0;
    return s_put_opt (out, pos, limit, code, &a.s_addr, 4);
}

static int
s_put_u32 (uint8_t *out, size_t *pos, size_t limit, uint8_t code, uint32_t v)
{
    uint8_t b[4];
    s_put32 (b, v);
    return s_put_opt (out, pos, limit, code, b, 4);
}

static int
s_put_str (uint8_t *out, size_t *pos, size_t limit, uint8_t code, const char *s)
{
    if (!s || !*s)
        return 0;
    return s_put_opt (out, pos, limit, code, s, strlen (s));
}

int
pxe_dhcp_build (const pxe_dhcp_reply_t *r, uint8_t *out, size_t cap, size_t *len)
{
    assert (r);
    assert (out);
    assert (len);
    size_t limit = r->max_size < PXE_DHCP_REPLY_MIN ? PXE_DHCP_REPLY_MIN : r->max_size;
    if (limit > PXE_DHCP_PACKET_MAX)
        limit = PXE_DHCP_PACKET_MAX;
    if (limit > cap)
        limit = cap;
    if (limit < PXE_DHCP_MIN_LEN + 1)
        return PXE_ERR_DHCP_NO_SPACE;
    memset (out, 0, limit);
    out[0] = PXE_DHCP_BOOTREPLY;
    out[1] = 1;
    out[2] = 6;
    s_put32 (out + 4, r->xid);
    s_put16 (out + 10, r->flags);
    memcpy (out + 12, &r->ciaddr, 4);
    memcpy (out + 16, &r->yiaddr, 4);
    memcpy (out + 20, &r->siaddr, 4);
    memcpy (out + 24, &r->giaddr, 4);
    memcpy (out + 28, r->chaddr, 16);
    if (r->tftp_server && strlen (r->tftp_server) < 64)
        memcpy (out + 44, r->tftp_server, strlen (r->tftp_server));
    if (r->boot_file && strlen (r->boot_file) < 128)
        memcpy (out + 108, r->boot_file, strlen (r->boot_file));
    s_put32 (out + PXE_DHCP_FIXED_LEN, PXE_DHCP_MAGIC);

    size_t pos = PXE_DHCP_MIN_LEN;
    int rc = 0;
    uint8_t mt = r->message_type;
    rc = rc ? rc : s_put_opt (out, &pos, limit, PXE_DHCP_OPT_MESSAGE_TYPE, &mt, 1);
    rc = rc ? rc : s_put_addr (out, &pos, limit, PXE_DHCP_OPT_SERVER_ID, r->server_id);
    rc = rc ? rc : s_put_addr (out, &pos, limit, PXE_DHCP_OPT_SUBNET_MASK, r->subnet_mask);
    rc = rc ? rc : s_put_addr (out, &pos, limit, PXE_DHCP_OPT_ROUTER, r->router);
    rc = rc ? rc : s_put_addr (out, &pos, limit, PXE_DHCP_OPT_DNS, r->dns);
    rc = rc ? rc : s_put_str (out, &pos, limit, PXE_DHCP_OPT_HOSTNAME, r->hostname);
    if (r->pxe_vendor) {
        /* Sub-option 6, PXE_DISCOVERY_CONTROL, bit 3: boot the file named
           in this offer at once, without boot server discovery and without
           waiting for ProxyDHCP offers. */
        static const uint8_t vendor[] = { 6, 1, 0x08, 255 };
        rc = rc ? rc : s_put_opt (out, &pos, limit, PXE_DHCP_OPT_VENDOR, vendor, sizeof vendor);
    }
    if (r->lease_time) {
        rc = rc ? rc : s_put_u32 (out, &pos, limit, PXE_DHCP_OPT_LEASE_TIME, r->lease_time);
    }
    rc = rc ? rc : s_put_str (out, &pos, limit, PXE_DHCP_OPT_MESSAGE, r->message);
    if (r->lease_time) {
        rc = rc ? rc : s_put_u32 (out, &pos, limit, PXE_DHCP_OPT_T1, r->lease_time / 2);
        rc = rc ? rc
                : s_put_u32 (out, &pos, limit, PXE_DHCP_OPT_T2,
                             (uint32_t)((uint64_t)r->lease_time * 7 / 8));
    }
    rc = rc ? rc : s_put_str (out, &pos, limit, PXE_DHCP_OPT_VENDOR_CLASS, r->vendor_class);
    rc = rc ? rc : s_put_str (out, &pos, limit, PXE_DHCP_OPT_TFTP_SERVER, r->tftp_server);
    rc = rc ? rc : s_put_str (out, &pos, limit, PXE_DHCP_OPT_BOOTFILE, r->boot_file);
    if (r->has_uuid)
        rc = rc ? rc : s_put_opt (out, &pos, limit, PXE_DHCP_OPT_UUID, r->uuid, 17);
    if (rc)
        return rc;
    out[pos++] = PXE_DHCP_OPT_END;
    if (pos < S_BOOTP_MIN && limit >= S_BOOTP_MIN)
        pos = S_BOOTP_MIN; /* zero padding, already there */
    *len = pos;
    return 0;
}

/* ---- boot file selection ------------------------------------------------------------------ */

static const char *
s_nonempty (const char *s)
{
    return s && *s ? s : NULL;
}

const char *
pxe_dhcp_boot_file (const pxe_dhcp_files_t *files, const pxe_dhcp_packet_t *pkt,
                    const char **vendor_class)
{
    assert (files);
    assert (pkt);
    if (vendor_class)
        *vendor_class = pkt->http_client ? "HTTPClient" : pkt->pxe_client ? "PXEClient" : NULL;
    if (pkt->ipxe)
        return s_nonempty (files->ipxe);
    if (!pkt->pxe_client && !pkt->http_client)
        return NULL;
    /* Option 93 is mandatory for PXE 2.1 clients; a ROM without it is BIOS. */
    switch (pkt->has_arch ? pkt->arch : PXE_DHCP_ARCH_BIOS) {
        case PXE_DHCP_ARCH_BIOS:
            return s_nonempty (files->bios);
        case PXE_DHCP_ARCH_EFI_X64:
        case PXE_DHCP_ARCH_EFI_BC:
            return s_nonempty (files->efi_x64);
        case PXE_DHCP_ARCH_EFI_ARM64:
            return s_nonempty (files->efi_arm64);
        case PXE_DHCP_ARCH_HTTP_X64:
            return s_nonempty (files->http_x64);
        case PXE_DHCP_ARCH_HTTP_ARM64:
            return s_nonempty (files->http_arm64);
        default:
            return NULL;
    }
}

/* ---- the server ---------------------------------------------------------------------------- */

typedef struct {
    bool used;
    bool bound;
    bool unusable; /* a pool address taken by a reservation or by the server */
    uint8_t mac[6];
    time_t expires;
    uint16_t arch;
    bool ipxe;
    const char *boot_file; /* points into the server's copied file names */
} s_slot_t;

struct pxe_dhcp {
    int sock;     /* port 67 */
    int pxe_sock; /* port 4011, or -1 */
    int epfd;
    pxe_dhcp_config_t config;
    char *strings[8]; /* owned copies behind config's pointers */
    pxe_dhcp_host_t hosts[PXE_DHCP_HOSTS_MAX];
    char tftp_server[INET_ADDRSTRLEN];
    uint32_t pool_first; /* host order */
    size_t pool_size;
    s_slot_t *slots; /* pool_size + host_count */
    size_t nslots;
    pxe_dhcp_stats_t stats;
    time_t log_second;
    unsigned log_count;
    uint8_t rx[PXE_DHCP_PACKET_MAX + 1];
    uint8_t tx[PXE_DHCP_PACKET_MAX];
};

static void
s_log (pxe_dhcp_t *self, const char *fmt, ...) WD_PRINTF (2, 3);

static void
s_log (pxe_dhcp_t *self, const char *fmt, ...)
{
    time_t now = time (NULL);
    if (now != self->log_second) {
        self->log_second = now;
        self->log_count = 0;
    }
    if (self->log_count++ >= S_LOG_PER_SECOND)
        return;
    char line[256];
    va_list ap;
    va_start (ap, fmt);
    vsnprintf (line, sizeof line, fmt, ap);
    va_end (ap);
    wd_log_info ("dhcp: %s", line);
}

static const char *
s_mac_str (const uint8_t *mac, char buf[18])
{
    snprintf (buf, 18, "%02x:%02x:%02x:%02x:%02x:%02x", mac[0], mac[1], mac[2], mac[3], mac[4],
              mac[5]);
    return buf;
}

static struct in_addr
s_slot_addr (const pxe_dhcp_t *self, size_t i)
{
    struct in_addr a;
    if (i < self->pool_size)
        a.s_addr = htonl (self->pool_first + (uint32_t)i);
    else
        a = self->hosts[i - self->pool_size].addr;
    return a;
}

static bool
s_all_zero_mac (const uint8_t *mac)
{
    static const uint8_t zero[6];
    return memcmp (mac, zero, 6) == 0;
}

static bool
s_slot_free (const s_slot_t *s, time_t now)
{
    return !s->used || s->expires <= now;
}

static ssize_t
s_host_index (const pxe_dhcp_t *self, const uint8_t *mac)
{
    for (size_t i = 0; i < self->config.host_count; i++)
        if (memcmp (self->hosts[i].mac, mac, 6) == 0)
            return (ssize_t)i;
    return -1;
}

/* The slot of an address: a reservation's own slot, or a pool slot; -1 for
   addresses this server does not hand out. */
static ssize_t
s_slot_by_addr (const pxe_dhcp_t *self, struct in_addr a)
{
    for (size_t i = 0; i < self->config.host_count; i++)
        if (self->hosts[i].addr.s_addr == a.s_addr)
            return (ssize_t)(self->pool_size + i);
    uint32_t h = ntohl (a.s_addr);
    if (self->pool_size && h >= self->pool_first && h - self->pool_first < self->pool_size)
        return (ssize_t)(h - self->pool_first);
    return -1;
}

/* The pool slot that currently belongs (or last belonged) to mac. */
static ssize_t
s_slot_by_mac (const pxe_dhcp_t *self, const uint8_t *mac)
{
    for (size_t i = 0; i < self->pool_size; i++)
        if (self->slots[i].used && memcmp (self->slots[i].mac, mac, 6) == 0)
            return (ssize_t)i;
    return -1;
}

static bool
s_pool_slot_usable_by (const pxe_dhcp_t *self, size_t i, const uint8_t *mac, time_t now)
{
    const s_slot_t *s = &self->slots[i];
    if (i >= self->pool_size || s->unusable)
        return false;
    return s_slot_free (s, now) || memcmp (s->mac, mac, 6) == 0;
}

/* The slot to offer mac: its reservation, its current pool slot, the
   requested address when free, a never used address, the longest expired
   one. -1 when the pool is exhausted or there is no pool. */
static ssize_t
s_choose (const pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, time_t now)
{
    ssize_t h = s_host_index (self, req->chaddr);
    if (h >= 0)
        return (ssize_t)self->pool_size + h;
    ssize_t i = s_slot_by_mac (self, req->chaddr);
    if (i >= 0 && !self->slots[i].unusable)
        return i;
    if (req->has_requested_ip) {
        i = s_slot_by_addr (self, req->requested_ip);
        if (i >= 0 && s_pool_slot_usable_by (self, (size_t)i, req->chaddr, now))
            return i;
    }
    ssize_t best = -1;
    for (size_t k = 0; k < self->pool_size; k++) {
        const s_slot_t *s = &self->slots[k];
        if (s->unusable || !s_slot_free (s, now))
            continue;
        if (!s->used)
            return (ssize_t)k;
        if (best < 0 || s->expires < self->slots[best].expires)
            best = (ssize_t)k;
    }
    return best;
}

/* ---- lease file ---------------------------------------------------------------------------- */

static int
s_fsync_dir (const char *path)
{
    char dir[4096];
    size_t n = strlen (path);
    if (n >= sizeof dir)
        return -1;
    memcpy (dir, path, n + 1);
    char *slash = strrchr (dir, '/');
    if (!slash)
        memcpy (dir, ".", 2);
    else if (slash == dir)
        dir[1] = '\0';
    else
        *slash = '\0';
    int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    int rc = fsync (fd);
    close (fd);
    return rc;
}

/* Writes every bound, unexpired lease: "MAC ADDR EXPIRES" per line. */
static void
s_leases_save (pxe_dhcp_t *self)
{
    const char *path = self->config.lease_file;
    if (!path)
        return;
    char tmp[4096];
    if (snprintf (tmp, sizeof tmp, "%s.tmp", path) >= (int)sizeof tmp)
        goto out_fail;
    int fd = open (tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        goto out_fail;
    FILE *f = fdopen (fd, "w");
    if (!f) {
        close (fd);
        goto out_unlink;
    }
    fprintf (f, "# warden pxe_dhcp leases v1: MAC ADDRESS EXPIRES (unix seconds)\n");
    time_t now = time (NULL);
    for (size_t i = 0; i < self->nslots; i++) {
        const s_slot_t *s = &self->slots[i];
        if (!s->used || !s->bound || s->expires <= now)
            continue;
        char mac[18], ip[INET_ADDRSTRLEN];
        struct in_addr a = s_slot_addr (self, i);
        inet_ntop (AF_INET, &a, ip, sizeof ip);
        fprintf (f, "%s %s %lld\n", s_mac_str (s->mac, mac), ip, (long long)s->expires);
    }
    bool ok = fflush (f) == 0 && fsync (fileno (f)) == 0;
    if (fclose (f) != 0 || !ok)
        goto out_unlink;
    if (rename (tmp, path) < 0)
        goto out_unlink;
    s_fsync_dir (path);
    self->stats.lease_writes++;
    return;
out_unlink:
    unlink (tmp);
out_fail:
    self->stats.lease_write_failed++;
    wd_log_warn ("dhcp: cannot write lease file %s", path);
}

static bool
s_parse_mac (const char *s, uint8_t mac[6])
{
    unsigned v[6];
    char tail;
    if (strlen (s) != 17 || sscanf (s, "%2x:%2x:%2x:%2x:%2x:%2x%c", &v[0], &v[1], &v[2], &v[3],
                                    &v[4], &v[5], &tail) != 6)
        return false;
    for (int i = 0; i < 6; i++)
        mac[i] = (uint8_t)v[i];
    return true;
}

/* Loads the lease file. Leases for addresses this configuration no longer
   hands out to that MAC, and expired ones, are skipped. */
static int
s_leases_load (pxe_dhcp_t *self)
{
    FILE *f = fopen (self->config.lease_file, "re");
    if (!f)
        return errno == ENOENT ? 0 : WD_ERR_IO;
    char line[256];
    int rc = 0;
    time_t now = time (NULL);
    while (fgets (line, sizeof line, f)) {
        size_t n = strlen (line);
        if (n == 0 || line[n - 1] != '\n') {
            rc = PXE_ERR_DHCP_LEASE_FILE;
            break;
        }
        if (line[0] == '#')
            continue;
        char mac_s[32], ip_s[32], exp_s[32], extra[2];
        uint8_t mac[6];
        struct in_addr a;
        if (sscanf (line, "%31s %31s %31s %1s", mac_s, ip_s, exp_s, extra) != 3 ||
            !s_parse_mac (mac_s, mac) || inet_pton (AF_INET, ip_s, &a) != 1) {
            rc = PXE_ERR_DHCP_LEASE_FILE;
            break;
        }
        char *end;
        errno = 0;
        long long exp = strtoll (exp_s, &end, 10);
        if (errno || *end || exp < 0) {
            rc = PXE_ERR_DHCP_LEASE_FILE;
            break;
        }
        if ((time_t)exp <= now)
            continue;
        ssize_t i = s_slot_by_addr (self, a);
        if (i < 0)
            continue;
        if ((size_t)i >= self->pool_size) {
            if (memcmp (self->hosts[(size_t)i - self->pool_size].mac, mac, 6) != 0)
                continue;
        } else if (self->slots[i].unusable || s_host_index (self, mac) >= 0)
            continue;
        s_slot_t *s = &self->slots[i];
        s->used = s->bound = true;
        memcpy (s->mac, mac, 6);
        s->expires = (time_t)exp;
        s->arch = 0xffff;
    }
    fclose (f);
    if (rc)
        for (size_t i = 0; i < self->nslots; i++)
            self->slots[i].used = self->slots[i].bound = false;
    return rc;
}

/* ---- answering ----------------------------------------------------------------------------- */

/* How a packet arrived. */
typedef struct {
    struct sockaddr_in from;
    int ifindex;
    bool pxe_port;
} s_rx_t;

static int
s_sendto (pxe_dhcp_t *self, int sock, const uint8_t *buf, size_t len, struct in_addr to,
          uint16_t port, int ifindex)
{
    struct sockaddr_in dst = { .sin_family = AF_INET, .sin_port = htons (port), .sin_addr = to };
    union {
        char buf[CMSG_SPACE (sizeof (struct in_pktinfo))];
        struct cmsghdr align;
    } ctl;
    memset (&ctl, 0, sizeof ctl);
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr msg = {
        .msg_name = &dst, .msg_namelen = sizeof dst, .msg_iov = &iov, .msg_iovlen = 1
    };
    if (ifindex > 0) {
        /* Out of the interface the request came in on, from our address. */
        msg.msg_control = ctl.buf;
        msg.msg_controllen = sizeof ctl.buf;
        struct cmsghdr *c = CMSG_FIRSTHDR (&msg);
        c->cmsg_level = IPPROTO_IP;
        c->cmsg_type = IP_PKTINFO;
        c->cmsg_len = CMSG_LEN (sizeof (struct in_pktinfo));
        struct in_pktinfo pi = { .ipi_ifindex = ifindex, .ipi_spec_dst = self->config.server_addr };
        memcpy (CMSG_DATA (c), &pi, sizeof pi);
    }
    if (sendmsg (sock, &msg, 0) < 0) {
        self->stats.send_failed++;
        return -1;
    }
    return 0;
}

/* RFC 2131 §4.1: unicast to a client that has no address yet needs its
   hardware address in the ARP cache. Needs CAP_NET_ADMIN; without it the
   reply is broadcast, which every client accepts. */
static bool
s_arp_set (pxe_dhcp_t *self, struct in_addr ip, const uint8_t *mac, int ifindex)
{
    struct arpreq req;
    memset (&req, 0, sizeof req);
    struct sockaddr_in *pa = (struct sockaddr_in *)&req.arp_pa;
    pa->sin_family = AF_INET;
    pa->sin_addr = ip;
    req.arp_ha.sa_family = ARPHRD_ETHER;
    memcpy (req.arp_ha.sa_data, mac, 6);
    req.arp_flags = ATF_COM;
    if (ifindex <= 0 || !if_indextoname ((unsigned)ifindex, req.arp_dev))
        return false;
    return ioctl (self->sock, SIOCSARP, &req) == 0;
}

static void
s_send_reply (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx,
              pxe_dhcp_reply_t *reply)
{
    reply->max_size = req->max_size;
    size_t len;
    int rc = pxe_dhcp_build (reply, self->tx, sizeof self->tx, &len);
    if (rc) {
        char mac[18];
        s_log (self, "reply to %s: %s", s_mac_str (req->chaddr, mac), pxe_strerror (rc));
        self->stats.send_failed++;
        return;
    }
    uint16_t cport = self->config.client_port;
    int sent;
    if (rx->pxe_port)
        sent = s_sendto (self, self->pxe_sock, self->tx, len, rx->from.sin_addr,
                         ntohs (rx->from.sin_port), rx->ifindex);
    else if (req->giaddr.s_addr)
        sent = s_sendto (self, self->sock, self->tx, len, req->giaddr, PXE_DHCP_SERVER_PORT, 0);
    else if (reply->message_type == PXE_DHCP_NAK)
        sent =
            s_sendto (self, self->sock, self->tx, len, self->config.broadcast, cport, rx->ifindex);
    else if (req->ciaddr.s_addr)
        sent = s_sendto (self, self->sock, self->tx, len, req->ciaddr, cport, rx->ifindex);
    else if (!(req->flags & S_FLAG_BROADCAST) && reply->yiaddr.s_addr &&
             s_arp_set (self, reply->yiaddr, req->chaddr, rx->ifindex))
        sent = s_sendto (self, self->sock, self->tx, len, reply->yiaddr, cport, rx->ifindex);
    else
        sent =
            s_sendto (self, self->sock, self->tx, len, self->config.broadcast, cport, rx->ifindex);
    if (sent == 0) {
        if (reply->message_type == PXE_DHCP_OFFER)
            self->stats.offers++;
        else if (reply->message_type == PXE_DHCP_ACK)
            self->stats.acks++;
        else
            self->stats.naks++;
    }
}

static void
s_reply_init (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, uint8_t type, pxe_dhcp_reply_t *r)
{
    memset (r, 0, sizeof *r);
    r->message_type = type;
    r->xid = req->xid;
    r->flags = req->flags;
    r->giaddr = req->giaddr;
    memcpy (r->chaddr, req->chaddr, 16);
    r->server_id = self->config.server_addr;
}

/* Adds the boot options for a PXE, HTTP boot or iPXE client. */
static const char *
s_add_boot (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, pxe_dhcp_reply_t *r)
{
    const char *vc = NULL;
    const char *file = pxe_dhcp_boot_file (&self->config.files, req, &vc);
    r->vendor_class = vc;
    if (req->has_uuid && vc) {
        r->has_uuid = true;
        memcpy (r->uuid, req->uuid, 17);
    }
    if (!file)
        return NULL;
    r->siaddr = self->config.server_addr;
    r->boot_file = file;
    r->tftp_server = self->config.tftp_server;
    r->pxe_vendor = vc && strcmp (vc, "PXEClient") == 0;
    return file;
}

static void
s_add_lease (pxe_dhcp_t *self, size_t slot, pxe_dhcp_reply_t *r)
{
    r->yiaddr = s_slot_addr (self, slot);
    r->lease_time = self->config.lease_seconds;
    r->subnet_mask = self->config.netmask;
    r->router = self->config.router;
    r->dns = self->config.dns;
    if (slot >= self->pool_size)
        r->hostname = self->hosts[slot - self->pool_size].hostname;
}

static void
s_note_client (s_slot_t *s, const pxe_dhcp_packet_t *req, const char *file)
{
    s->arch = req->has_arch ? req->arch : 0xffff;
    s->ipxe = req->ipxe;
    s->boot_file = file;
}

static void
s_nak (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx, const char *why)
{
    char mac[18], ip[INET_ADDRSTRLEN];
    struct in_addr want = req->has_requested_ip ? req->requested_ip : req->ciaddr;
    inet_ntop (AF_INET, &want, ip, sizeof ip);
    s_log (self, "NAK %s to %s: %s", ip, s_mac_str (req->chaddr, mac), why);
    pxe_dhcp_reply_t r;
    s_reply_init (self, req, PXE_DHCP_NAK, &r);
    r.message = why;
    s_send_reply (self, req, rx, &r);
}

static void
s_on_discover (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx)
{
    pxe_dhcp_reply_t r;
    s_reply_init (self, req, PXE_DHCP_OFFER, &r);
    if (self->config.mode == PXE_DHCP_MODE_PROXY) {
        /* A ProxyDHCP offer: no address, only the boot file. */
        if (!s_add_boot (self, req, &r)) {
            self->stats.ignored++;
            return;
        }
        if (!r.vendor_class) { /* iPXE without option 60 */
            r.vendor_class = "PXEClient";
            r.pxe_vendor = true;
        }
        s_send_reply (self, req, rx, &r);
        return;
    }
    time_t now = time (NULL);
    ssize_t i = s_choose (self, req, now);
    if (i < 0) {
        char mac[18];
        if (self->pool_size) {
            self->stats.no_address++;
            s_log (self, "no free address for %s", s_mac_str (req->chaddr, mac));
        } else
            self->stats.ignored++;
        return;
    }
    s_slot_t *s = &self->slots[i];
    if (!(s->used && s->bound && s->expires > now && memcmp (s->mac, req->chaddr, 6) == 0)) {
        s->used = true;
        s->bound = false;
        memcpy (s->mac, req->chaddr, 6);
        s->expires = now + S_OFFER_HOLD;
    }
    s_add_lease (self, (size_t)i, &r);
    s_note_client (s, req, s_add_boot (self, req, &r));
    s_send_reply (self, req, rx, &r);
}

static void
s_ack_slot (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx, size_t i)
{
    s_slot_t *s = &self->slots[i];
    s->used = s->bound = true;
    memcpy (s->mac, req->chaddr, 6);
    s->expires = time (NULL) + self->config.lease_seconds;
    pxe_dhcp_reply_t r;
    s_reply_init (self, req, PXE_DHCP_ACK, &r);
    r.ciaddr = req->ciaddr;
    s_add_lease (self, i, &r);
    s_note_client (s, req, s_add_boot (self, req, &r));
    s_leases_save (self);
    s_send_reply (self, req, rx, &r);
}

static void
s_on_request (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx)
{
    if (self->config.mode == PXE_DHCP_MODE_PROXY) {
        self->stats.ignored++; /* the link's DHCP server answers it */
        return;
    }
    time_t now = time (NULL);
    ssize_t h = s_host_index (self, req->chaddr);
    if (req->has_server_id) {
        /* SELECTING: the client picked an offer. */
        ssize_t i = h >= 0 ? (ssize_t)self->pool_size + h : s_slot_by_mac (self, req->chaddr);
        if (req->server_id.s_addr != self->config.server_addr.s_addr) {
            if (i >= 0 && !self->slots[i].bound)
                self->slots[i].used = false; /* our offer was turned down */
            self->stats.ignored++;
            return;
        }
        if (!req->has_requested_ip || i < 0 ||
            s_slot_addr (self, (size_t)i).s_addr != req->requested_ip.s_addr) {
            s_nak (self, req, rx, "address not offered to this client");
            return;
        }
        s_ack_slot (self, req, rx, (size_t)i);
        return;
    }
    /* INIT-REBOOT (requested address, no ciaddr), RENEWING/REBINDING (ciaddr). */
    struct in_addr want = req->has_requested_ip ? req->requested_ip : req->ciaddr;
    if (want.s_addr == 0) {
        self->stats.ignored++;
        return;
    }
    ssize_t i = s_slot_by_addr (self, want);
    bool ok;
    if (h >= 0)
        ok = i == (ssize_t)self->pool_size + h;
    else
        ok = i >= 0 && s_pool_slot_usable_by (self, (size_t)i, req->chaddr, now);
    if (!ok) {
        s_nak (self, req, rx, "address not valid for this client on this link");
        return;
    }
    s_ack_slot (self, req, rx, (size_t)i);
}

/* The slot that mac holds at address a, or -1. */
static ssize_t
s_owned_slot (const pxe_dhcp_t *self, const uint8_t *mac, struct in_addr a)
{
    ssize_t i = s_slot_by_addr (self, a);
    if (i < 0 || !self->slots[i].used || memcmp (self->slots[i].mac, mac, 6) != 0)
        return -1;
    return i;
}

static void
s_on_release (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req)
{
    ssize_t i = s_owned_slot (self, req->chaddr, req->ciaddr);
    if (self->config.mode == PXE_DHCP_MODE_PROXY || i < 0 ||
        (req->has_server_id && req->server_id.s_addr != self->config.server_addr.s_addr)) {
        self->stats.ignored++;
        return;
    }
    self->slots[i].used = self->slots[i].bound = false;
    s_leases_save (self);
}

static void
s_on_decline (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req)
{
    ssize_t i = req->has_requested_ip ? s_owned_slot (self, req->chaddr, req->requested_ip) : -1;
    if (self->config.mode == PXE_DHCP_MODE_PROXY || i < 0 ||
        (req->has_server_id && req->server_id.s_addr != self->config.server_addr.s_addr)) {
        self->stats.ignored++;
        return;
    }
    char mac[18], ip[INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &req->requested_ip, ip, sizeof ip);
    wd_log_warnx ("dhcp: %s declined %s: another device uses it", s_mac_str (req->chaddr, mac), ip);
    s_slot_t *s = &self->slots[i];
    s->bound = false;
    if ((size_t)i < self->pool_size) {
        /* Park the address, owned by nobody, for a while. */
        memset (s->mac, 0, 6);
        s->used = true;
        s->expires = time (NULL) + S_DECLINE_HOLD;
    } else
        s->used = false;
    s_leases_save (self);
}

static void
s_on_inform (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx)
{
    pxe_dhcp_reply_t r;
    s_reply_init (self, req, PXE_DHCP_ACK, &r);
    r.ciaddr = req->ciaddr;
    if (self->config.mode == PXE_DHCP_MODE_FULL) {
        r.subnet_mask = self->config.netmask;
        r.router = self->config.router;
        r.dns = self->config.dns;
    }
    s_add_boot (self, req, &r);
    s_send_reply (self, req, rx, &r);
}

/* Port 4011: a PXE client asks the boot server (us) for its boot file,
   from the address it already has. */
static void
s_on_pxe_port (pxe_dhcp_t *self, const pxe_dhcp_packet_t *req, const s_rx_t *rx)
{
    if (req->message_type != PXE_DHCP_REQUEST && req->message_type != PXE_DHCP_INFORM) {
        self->stats.ignored++;
        return;
    }
    pxe_dhcp_reply_t r;
    s_reply_init (self, req, PXE_DHCP_ACK, &r);
    r.ciaddr = req->ciaddr;
    if (!s_add_boot (self, req, &r)) {
        self->stats.ignored++;
        return;
    }
    if (!r.vendor_class) {
        r.vendor_class = "PXEClient";
        r.pxe_vendor = true;
    }
    s_send_reply (self, req, rx, &r);
}

static void
s_drop (pxe_dhcp_t *self, const s_rx_t *rx, int rc)
{
    self->stats.malformed++;
    int k = PXE_DHCP_DROP_INDEX (rc);
    if (k >= 0 && k < PXE_DHCP_DROP_COUNT)
        self->stats.drops[k]++;
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop (AF_INET, &rx->from.sin_addr, ip, sizeof ip);
    s_log (self, "dropped packet from %s:%u: %s (%s)", ip, ntohs (rx->from.sin_port),
           pxe_strerror (rc), pxe_err_name (rc));
}

static void
s_handle (pxe_dhcp_t *self, size_t len, const s_rx_t *rx)
{
    self->stats.received++;
    pxe_dhcp_packet_t *req = malloc (sizeof *req);
    if (!req)
        return;
    int rc = pxe_dhcp_parse (self->rx, len, req);
    if (rc == 0 && req->op != PXE_DHCP_BOOTREQUEST)
        rc = PXE_ERR_DHCP_OP;
    if (rc == 0) {
        switch (req->message_type) {
            case PXE_DHCP_DISCOVER:
            case PXE_DHCP_REQUEST:
            case PXE_DHCP_DECLINE:
            case PXE_DHCP_RELEASE:
            case PXE_DHCP_INFORM:
                break;
            default: /* BOOTP, or a server's message type */
                rc = PXE_ERR_DHCP_MESSAGE_TYPE;
        }
    }
    if (rc) {
        s_drop (self, rx, rc);
        goto out;
    }
    if (self->config.ifindex && rx->ifindex != self->config.ifindex) {
        self->stats.wrong_interface++;
        goto out;
    }
    switch (req->message_type) {
        case PXE_DHCP_DISCOVER:
            self->stats.discovers++;
            break;
        case PXE_DHCP_REQUEST:
            self->stats.requests++;
            break;
        case PXE_DHCP_DECLINE:
            self->stats.declines++;
            break;
        case PXE_DHCP_RELEASE:
            self->stats.releases++;
            break;
        default:
            self->stats.informs++;
    }
    if (rx->pxe_port)
        s_on_pxe_port (self, req, rx);
    else if (req->message_type == PXE_DHCP_DISCOVER)
        s_on_discover (self, req, rx);
    else if (req->message_type == PXE_DHCP_REQUEST)
        s_on_request (self, req, rx);
    else if (req->message_type == PXE_DHCP_RELEASE)
        s_on_release (self, req);
    else if (req->message_type == PXE_DHCP_DECLINE)
        s_on_decline (self, req);
    else
        s_on_inform (self, req, rx);
out:
    free (req);
}

static void
s_readable (pxe_dhcp_t *self, int sock, bool pxe_port)
{
    for (int n = 0; n < S_DRAIN; n++) {
        s_rx_t rx = { .pxe_port = pxe_port };
        union {
            char buf[CMSG_SPACE (sizeof (struct in_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { .iov_base = self->rx, .iov_len = sizeof self->rx };
        struct msghdr msg = { .msg_name = &rx.from,
                              .msg_namelen = sizeof rx.from,
                              .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        ssize_t r = recvmsg (sock, &msg, 0);
        if (r < 0)
            return;
        if (msg.msg_namelen != sizeof rx.from || rx.from.sin_family != AF_INET)
            continue;
        for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo pi;
                memcpy (&pi, CMSG_DATA (c), sizeof pi);
                rx.ifindex = pi.ipi_ifindex;
            }
        /* A datagram longer than the buffer is cut: the parser sees more
           than PXE_DHCP_PACKET_MAX bytes and names it. */
        size_t len = (msg.msg_flags & MSG_TRUNC) ? sizeof self->rx : (size_t)r;
        s_handle (self, len, &rx);
    }
}

/* ---- life cycle ---------------------------------------------------------------------------- */

static char *
s_keep (pxe_dhcp_t *self, const char *s, size_t max, int *rc)
{
    if (!s)
        return NULL;
    if (strlen (s) > max) {
        *rc = PXE_ERR_DHCP_CONFIG;
        return NULL;
    }
    for (size_t i = 0; i < sizeof self->strings / sizeof self->strings[0]; i++)
        if (!self->strings[i]) {
            self->strings[i] = strdup (s);
            if (!self->strings[i])
                *rc = WD_ERR_NOMEM;
            return self->strings[i];
        }
    assert (!"too many strings");
    return NULL;
}

static bool
s_in_subnet (const pxe_dhcp_config_t *c, struct in_addr a)
{
    return a.s_addr != 0 &&
           (a.s_addr & c->netmask.s_addr) == (c->server_addr.s_addr & c->netmask.s_addr);
}

static int
s_configure (pxe_dhcp_t *self, const pxe_dhcp_config_t *config)
{
    pxe_dhcp_config_t *c = &self->config;
    *c = *config;
    if (!c->lease_seconds)
        c->lease_seconds = S_DEFAULT_LEASE;
    if (!c->broadcast.s_addr)
        c->broadcast.s_addr = htonl (INADDR_BROADCAST);
    if (!c->client_port)
        c->client_port = PXE_DHCP_CLIENT_PORT;
    if (c->server_addr.s_addr == 0 || c->host_count > PXE_DHCP_HOSTS_MAX ||
        (c->host_count && !c->hosts))
        return PXE_ERR_DHCP_CONFIG;
    int rc = 0;
    c->files.bios = s_keep (self, config->files.bios, PXE_DHCP_URL_MAX, &rc);
    c->files.efi_x64 = s_keep (self, config->files.efi_x64, PXE_DHCP_URL_MAX, &rc);
    c->files.efi_arm64 = s_keep (self, config->files.efi_arm64, PXE_DHCP_URL_MAX, &rc);
    c->files.http_x64 = s_keep (self, config->files.http_x64, PXE_DHCP_URL_MAX, &rc);
    c->files.http_arm64 = s_keep (self, config->files.http_arm64, PXE_DHCP_URL_MAX, &rc);
    c->files.ipxe = s_keep (self, config->files.ipxe, PXE_DHCP_URL_MAX, &rc);
    c->lease_file = s_keep (self, config->lease_file, 4000, &rc);
    if (config->tftp_server)
        c->tftp_server = s_keep (self, config->tftp_server, PXE_DHCP_URL_MAX, &rc);
    else {
        inet_ntop (AF_INET, &c->server_addr, self->tftp_server, sizeof self->tftp_server);
        c->tftp_server = self->tftp_server;
    }
    if (rc)
        return rc;
    c->hosts = NULL;
    if (c->host_count)
        memcpy (self->hosts, config->hosts, c->host_count * sizeof *self->hosts);
    if (c->mode == PXE_DHCP_MODE_PROXY) {
        c->host_count = 0;
        return 0;
    }
    if (c->netmask.s_addr == 0)
        return PXE_ERR_DHCP_CONFIG;
    for (size_t i = 0; i < c->host_count; i++) {
        self->hosts[i].hostname[sizeof self->hosts[i].hostname - 1] = '\0';
        if (!s_in_subnet (c, self->hosts[i].addr) ||
            self->hosts[i].addr.s_addr == c->server_addr.s_addr)
            return PXE_ERR_DHCP_CONFIG;
        for (size_t j = 0; j < i; j++)
            if (memcmp (self->hosts[i].mac, self->hosts[j].mac, 6) == 0 ||
                self->hosts[i].addr.s_addr == self->hosts[j].addr.s_addr)
                return PXE_ERR_DHCP_CONFIG;
    }
    if (c->pool_first.s_addr || c->pool_last.s_addr) {
        uint32_t first = ntohl (c->pool_first.s_addr), last = ntohl (c->pool_last.s_addr);
        if (!s_in_subnet (c, c->pool_first) || !s_in_subnet (c, c->pool_last) || first > last ||
            last - first >= S_POOL_MAX)
            return PXE_ERR_DHCP_CONFIG;
        self->pool_first = first;
        self->pool_size = last - first + 1;
    }
    self->nslots = self->pool_size + c->host_count;
    self->slots = calloc (self->nslots ? self->nslots : 1, sizeof *self->slots);
    if (!self->slots)
        return WD_ERR_NOMEM;
    for (size_t i = 0; i < self->pool_size; i++) {
        struct in_addr a = s_slot_addr (self, i);
        self->slots[i].unusable = a.s_addr == c->server_addr.s_addr;
        for (size_t h = 0; h < c->host_count; h++)
            if (self->hosts[h].addr.s_addr == a.s_addr)
                self->slots[i].unusable = true;
    }
    return 0;
}

pxe_dhcp_t *
pxe_dhcp_new (int sock67, int pxe_sock, const pxe_dhcp_config_t *config, int *err)
{
    assert (config);
    int rc = WD_ERR_NOMEM;
    pxe_dhcp_t *self = calloc (1, sizeof *self);
    if (!self) {
        close (sock67);
        if (pxe_sock >= 0)
            close (pxe_sock);
        goto out_err;
    }
    self->sock = sock67;
    self->pxe_sock = pxe_sock;
    self->epfd = -1;
    rc = s_configure (self, config);
    if (rc)
        goto out_free;

    int socks[2] = { sock67, pxe_sock };
    for (int k = 0; k < 2; k++) {
        if (socks[k] < 0)
            continue;
        int type = 0, one = 1;
        struct sockaddr_in local;
        socklen_t tlen = sizeof type, llen = sizeof local;
        rc = PXE_ERR_DHCP_ADDRESS;
        if (getsockopt (socks[k], SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM ||
            getsockname (socks[k], (struct sockaddr *)&local, &llen) < 0 || llen != sizeof local ||
            local.sin_family != AF_INET)
            goto out_free;
        rc = WD_ERR_IO;
        int fl = fcntl (socks[k], F_GETFL);
        if (setsockopt (socks[k], IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0 ||
            setsockopt (socks[k], SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0 || fl < 0 ||
            fcntl (socks[k], F_SETFL, fl | O_NONBLOCK) < 0)
            goto out_free;
    }
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.u32 = 0 };
    if (self->epfd < 0 || epoll_ctl (self->epfd, EPOLL_CTL_ADD, sock67, &ev) < 0)
        goto out_free;
    ev.data.u32 = 1;
    if (pxe_sock >= 0 && epoll_ctl (self->epfd, EPOLL_CTL_ADD, pxe_sock, &ev) < 0)
        goto out_free;

    if (self->config.lease_file && self->config.mode == PXE_DHCP_MODE_FULL) {
        int lrc = s_leases_load (self);
        if (lrc) {
            char bad[4096];
            wd_log_warnx ("dhcp: lease file %s: %s; starting without leases",
                          self->config.lease_file, pxe_strerror (lrc));
            if (lrc == PXE_ERR_DHCP_LEASE_FILE &&
                snprintf (bad, sizeof bad, "%s.bad", self->config.lease_file) < (int)sizeof bad)
                rename (self->config.lease_file, bad);
        }
    }
    return self;

out_free:
    pxe_dhcp_destroy (&self);
out_err:
    if (err)
        *err = rc;
    return NULL;
}

void
pxe_dhcp_destroy (pxe_dhcp_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pxe_dhcp_t *self = *self_p;
        if (self->epfd >= 0)
            close (self->epfd);
        close (self->sock);
        if (self->pxe_sock >= 0)
            close (self->pxe_sock);
        for (size_t i = 0; i < sizeof self->strings / sizeof self->strings[0]; i++)
            free (self->strings[i]);
        free (self->slots);
        free (self);
        *self_p = NULL;
    }
}

int
pxe_dhcp_fd (const pxe_dhcp_t *self)
{
    assert (self);
    return self->epfd;
}

static int
s_dispatch (pxe_dhcp_t *self, int wait_ms)
{
    struct epoll_event evs[2];
    int n = epoll_wait (self->epfd, evs, 2, wait_ms);
    if (n < 0 && errno != EINTR)
        return WD_ERR_IO;
    for (int i = 0; i < n; i++) {
        if (evs[i].data.u32 == 0)
            s_readable (self, self->sock, false);
        else
            s_readable (self, self->pxe_sock, true);
    }
    return 0;
}

int
pxe_dhcp_dispatch (pxe_dhcp_t *self)
{
    assert (self);
    return s_dispatch (self, 0);
}

int
pxe_dhcp_run (pxe_dhcp_t *self, volatile const int *stop)
{
    assert (self);
    assert (stop);
    while (!*stop) {
        int rc = s_dispatch (self, 200);
        if (rc)
            return rc;
    }
    return 0;
}

void
pxe_dhcp_stats (const pxe_dhcp_t *self, pxe_dhcp_stats_t *stats)
{
    assert (self);
    assert (stats);
    *stats = self->stats;
    time_t now = time (NULL);
    stats->leases = 0;
    for (size_t i = 0; i < self->nslots; i++)
        if (self->slots[i].used && self->slots[i].bound && self->slots[i].expires > now)
            stats->leases++;
}

size_t
pxe_dhcp_leases (const pxe_dhcp_t *self, pxe_dhcp_lease_t *out, size_t max)
{
    assert (self);
    assert (out || max == 0);
    time_t now = time (NULL);
    size_t n = 0;
    for (size_t i = 0; i < self->nslots; i++) {
        const s_slot_t *s = &self->slots[i];
        if (!s->used || s->expires <= now || s_all_zero_mac (s->mac))
            continue;
        if (n < max) {
            pxe_dhcp_lease_t *l = &out[n];
            memset (l, 0, sizeof *l);
            memcpy (l->mac, s->mac, 6);
            l->addr = s_slot_addr (self, i);
            l->expires = s->expires;
            l->bound = s->bound;
            l->reserved = i >= self->pool_size;
            l->arch = s->arch;
            l->ipxe = s->ipxe;
            if (s->boot_file)
                snprintf (l->boot_file, sizeof l->boot_file, "%s", s->boot_file);
        }
        n++;
    }
    return n;
}

int
pxe_dhcp_bind (const char *addr, uint16_t port, const char *ifname, uint16_t *bound_port)
{
    return pxe_sock_bind (PXE_SOCK_UDP_BROADCAST, addr, port, ifname, bound_port);
}
