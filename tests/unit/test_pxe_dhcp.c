/*
 * Unit tests for pxe_dhcp: the packet parser with the exact reason for
 * each malformed case (lengths, op, htype, cookie, truncated options,
 * missing END, option overload, option lengths, message types), option
 * overload and RFC 3396 concatenation, iPXE detection, the builder
 * round-tripped through the parser, boot file selection by architecture,
 * and the server driven packet by packet over loopback from this process
 * (DISCOVER/OFFER/REQUEST/ACK for a reservation and the pool, NAKs,
 * RELEASE, DECLINE, INFORM, pool exhaustion, drops counted per reason,
 * leases persisted and reloaded, ProxyDHCP on 67 and 4011).
 */
#include <arpa/inet.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pxe_dhcp.h"
#include "test_support.h"

/* ---- building requests ------------------------------------------------------------------- */

typedef struct {
    uint8_t b[1600];
    size_t n;
} s_pkt_t;

static const uint8_t s_uuid[17] = { 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16 };

static void
s_begin (s_pkt_t *p, uint8_t op, uint8_t mac_last, uint32_t xid)
{
    memset (p, 0, sizeof *p);
    p->b[0] = op;
    p->b[1] = 1;
    p->b[2] = 6;
    p->b[4] = (uint8_t)(xid >> 24);
    p->b[5] = (uint8_t)(xid >> 16);
    p->b[6] = (uint8_t)(xid >> 8);
    p->b[7] = (uint8_t)xid;
    p->b[10] = 0x80; /* broadcast flag: replies go to config.broadcast */
    const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, mac_last };
    memcpy (p->b + 28, mac, 6);
    p->b[236] = 0x63;
    p->b[237] = 0x82;
    p->b[238] = 0x53;
    p->b[239] = 0x63;
    p->n = 240;
}

static void
s_opt (s_pkt_t *p, uint8_t code, const void *v, size_t len)
{
    p->b[p->n++] = code;
    p->b[p->n++] = (uint8_t)len;
    memcpy (p->b + p->n, v, len);
    p->n += len;
}

static void
s_opt_u8 (s_pkt_t *p, uint8_t code, uint8_t v)
{
    s_opt (p, code, &v, 1);
}

static void
s_opt_addr (s_pkt_t *p, uint8_t code, const char *a)
{
    struct in_addr ia;
    assert_int_equal (inet_pton (AF_INET, a, &ia), 1);
    s_opt (p, code, &ia.s_addr, 4);
}

static void
s_end (s_pkt_t *p)
{
    p->b[p->n++] = 255;
}

static void
s_set_ciaddr (s_pkt_t *p, const char *a)
{
    struct in_addr ia;
    assert_int_equal (inet_pton (AF_INET, a, &ia), 1);
    memcpy (p->b + 12, &ia.s_addr, 4);
}

/* A PXE ROM's DISCOVER: 53, 60 PXEClient, 93 arch, 94, 97. */
static void
s_pxe_discover (s_pkt_t *p, uint8_t mac_last, uint16_t arch)
{
    s_begin (p, 1, mac_last, 0x1000u + mac_last);
    s_opt_u8 (p, 53, 1);
    s_opt (p, 60, "PXEClient:Arch:00000:UNDI:002001", 32);
    uint8_t a[2] = { (uint8_t)(arch >> 8), (uint8_t)arch };
    s_opt (p, 93, a, 2);
    s_opt (p, 94, "\x01\x02\x01", 3);
    s_opt (p, 97, s_uuid, 17);
}

static int
s_parse (const s_pkt_t *p, pxe_dhcp_packet_t *out)
{
    return pxe_dhcp_parse (p->b, p->n, out);
}

static pxe_dhcp_packet_t s_pk; /* large: keep off the stack */

static bool
s_addr_is (struct in_addr a, const char *dotted)
{
    char buf[INET_ADDRSTRLEN];
    inet_ntop (AF_INET, &a, buf, sizeof buf);
    return strcmp (buf, dotted) == 0;
}

/* The value of an option as a NUL-terminated string (static buffer). */
static const char *
s_opt_str (const pxe_dhcp_packet_t *p, uint8_t code)
{
    static char buf[600];
    size_t len;
    const uint8_t *v = pxe_dhcp_option (p, code, &len);
    if (!v)
        return NULL;
    memcpy (buf, v, len);
    buf[len] = '\0';
    return buf;
}

/* ---- parser ------------------------------------------------------------------------------ */

static void
test_parse_pxe_discover (void **state)
{
    (void)state;
    s_pkt_t p;
    s_pxe_discover (&p, 1, 7);
    s_end (&p);
    assert_int_equal (s_parse (&p, &s_pk), 0);
    assert_int_equal (s_pk.op, 1);
    assert_int_equal (s_pk.xid, 0x1001);
    assert_int_equal (s_pk.flags, 0x8000);
    assert_int_equal (s_pk.message_type, PXE_DHCP_DISCOVER);
    assert_true (s_pk.pxe_client);
    assert_false (s_pk.http_client);
    assert_false (s_pk.ipxe);
    assert_true (s_pk.has_arch);
    assert_int_equal (s_pk.arch, 7);
    assert_true (s_pk.has_uuid);
    assert_memory_equal (s_pk.uuid, s_uuid, 17);
    assert_int_equal (s_pk.chaddr[5], 1);
    size_t len;
    assert_non_null (pxe_dhcp_option (&s_pk, 94, &len));
    assert_int_equal (len, 3);
    assert_null (pxe_dhcp_option (&s_pk, 66, &len));
}

static void
test_parse_rejects (void **state)
{
    (void)state;
    s_pkt_t p;
    s_pxe_discover (&p, 1, 0);
    s_end (&p);
    pxe_dhcp_packet_t *out = &s_pk;

    assert_int_equal (pxe_dhcp_parse (p.b, 239, out), PXE_ERR_DHCP_SHORT);
    assert_int_equal (pxe_dhcp_parse (p.b, 0, out), PXE_ERR_DHCP_SHORT);
    assert_int_equal (pxe_dhcp_parse (p.b, PXE_DHCP_PACKET_MAX + 1, out), PXE_ERR_DHCP_LONG);

    s_pkt_t q = p;
    q.b[0] = 3;
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_OP);
    q = p;
    q.b[1] = 6; /* IEEE 802 */
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_HTYPE);
    q = p;
    q.b[2] = 16;
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_HTYPE);
    q = p;
    q.b[239] = 0x64;
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_COOKIE);

    /* Cookie only: options area empty, so no END. */
    assert_int_equal (pxe_dhcp_parse (p.b, 240, out), PXE_ERR_DHCP_NO_END);
    /* Options cut before END. */
    assert_int_equal (pxe_dhcp_parse (p.b, p.n - 1, out), PXE_ERR_DHCP_NO_END);
    /* The last option's value cut short. */
    assert_int_equal (pxe_dhcp_parse (p.b, p.n - 3, out), PXE_ERR_DHCP_OPTION_TRUNCATED);
    /* A code with no length byte. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 1);
    q.b[q.n++] = 60;
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_OPTION_TRUNCATED);
    /* A length running past the packet. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 1);
    q.b[q.n++] = 60;
    q.b[q.n++] = 200;
    q.b[q.n++] = 'P';
    s_end (&q);
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_OPTION_TRUNCATED);
}

static void
test_parse_option_lengths (void **state)
{
    (void)state;
    pxe_dhcp_packet_t *out = &s_pk;
    s_pkt_t q;
    static const struct {
        uint8_t code;
        uint8_t len;
    } bad[] = { { 53, 2 }, { 50, 3 }, { 54, 5 },  { 51, 2 }, { 57, 1 }, { 1, 3 },
                { 61, 1 }, { 94, 2 }, { 97, 16 }, { 93, 3 }, { 93, 0 } };
    uint8_t zeros[32] = { 0 };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_begin (&q, 1, 1, 1);
        if (bad[i].code != 53)
            s_opt_u8 (&q, 53, 1);
        s_opt (&q, bad[i].code, zeros, bad[i].len);
        s_end (&q);
        assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_OPTION_LENGTH);
    }
    /* 97 with a type other than 0. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 1);
    uint8_t uuid[17];
    memcpy (uuid, s_uuid, 17);
    uuid[0] = 1;
    s_opt (&q, 97, uuid, 17);
    s_end (&q);
    assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_OPTION_LENGTH);
    /* Message types outside 1..8. */
    for (int t = 0; t < 256; t += 9) {
        s_begin (&q, 1, 1, 1);
        s_opt_u8 (&q, 53, (uint8_t)t);
        s_end (&q);
        assert_int_equal (s_parse (&q, out), PXE_ERR_DHCP_MESSAGE_TYPE);
    }
    /* No option 53 at all: BOOTP, parsed with message_type 0. */
    s_begin (&q, 1, 1, 1);
    s_end (&q);
    assert_int_equal (s_parse (&q, out), 0);
    assert_int_equal (out->message_type, 0);
}

static void
test_parse_overload (void **state)
{
    (void)state;
    pxe_dhcp_packet_t *out = &s_pk;
    s_pkt_t q;
    /* 52 = 3: file then sname hold options; 77 is split over all three
       fields and comes out concatenated in field order. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 3);
    s_opt_u8 (&q, 52, 3);
    s_opt (&q, 77, "iP", 2);
    s_end (&q);
    uint8_t file[] = { 77, 1, 'X', 67, 4, 'b', 'o', 'o', 't', 255 };
    memcpy (q.b + 108, file, sizeof file);
    uint8_t sname[] = { 0, 0, 77, 1, 'E', 66, 3, 't', 'f', 't', 255 };
    memcpy (q.b + 44, sname, sizeof sname);
    assert_int_equal (s_parse (&q, out), 0);
    assert_int_equal (out->overload, 3);
    assert_string_equal (s_opt_str (out, 77), "iPXE");
    assert_true (out->ipxe);
    assert_string_equal (s_opt_str (out, 67), "boot");
    assert_string_equal (s_opt_str (out, 66), "tft");
    assert_string_equal (out->file, "");
    assert_string_equal (out->sname, "");

    /* The file field without END. */
    s_pkt_t r = q;
    memset (r.b + 108, 0, 128);
    r.b[108] = 67;
    r.b[109] = 1;
    r.b[110] = 'x';
    assert_int_equal (s_parse (&r, out), PXE_ERR_DHCP_NO_END);
    /* An option running past the end of the sname field. */
    r = q;
    r.b[44 + 62] = 66;
    r.b[44 + 63] = 5;
    memset (r.b + 44, 0, 62);
    assert_int_equal (s_parse (&r, out), PXE_ERR_DHCP_OPTION_TRUNCATED);

    /* 52 malformed: wrong length, value 0 or 4, twice, inside file. */
    static const uint8_t bad[][6] = {
        { 52, 2, 1, 0, 255, 0 },
        { 52, 1, 0, 255, 0, 0 },
        { 52, 1, 4, 255, 0, 0 },
        { 52, 1, 1, 52, 1, 1 },
    };
    for (size_t i = 0; i < 4; i++) {
        s_begin (&r, 1, 1, 1);
        s_opt_u8 (&r, 53, 1);
        memcpy (r.b + r.n, bad[i], 6);
        r.n += 6;
        s_end (&r);
        memset (r.b + 108, 255, 1);
        memset (r.b + 44, 255, 1);
        assert_int_equal (s_parse (&r, out), PXE_ERR_DHCP_OVERLOAD);
    }
    s_begin (&r, 1, 1, 1);
    s_opt_u8 (&r, 53, 1);
    s_opt_u8 (&r, 52, 1);
    s_end (&r);
    uint8_t nested[] = { 52, 1, 2, 255 };
    memcpy (r.b + 108, nested, sizeof nested);
    assert_int_equal (s_parse (&r, out), PXE_ERR_DHCP_OVERLOAD);

    /* Without overload, file and sname are plain strings. */
    s_begin (&r, 1, 1, 1);
    s_opt_u8 (&r, 53, 1);
    s_end (&r);
    memcpy (r.b + 108, "pxelinux.0", 10);
    memcpy (r.b + 44, "server", 6);
    assert_int_equal (s_parse (&r, out), 0);
    assert_string_equal (out->file, "pxelinux.0");
    assert_string_equal (out->sname, "server");
    assert_int_equal (out->overload, 0);
}

static void
test_parse_ipxe_and_padding (void **state)
{
    (void)state;
    pxe_dhcp_packet_t *out = &s_pk;
    s_pkt_t q;
    /* RFC 3004 form of the user class, pads before and junk after END. */
    s_begin (&q, 1, 1, 1);
    q.b[q.n++] = 0;
    q.b[q.n++] = 0;
    s_opt_u8 (&q, 53, 1);
    s_opt (&q, 77,
           "\x03"
           "abc"
           "\x04"
           "iPXE",
           9);
    s_end (&q);
    memcpy (q.b + q.n, "\x42\xff\x01", 3); /* never read */
    q.n += 3;
    assert_int_equal (s_parse (&q, out), 0);
    assert_true (out->ipxe);
    /* Option 175 alone. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 1);
    s_opt (&q, 175, "\x13\x01\x01", 3);
    s_end (&q);
    assert_int_equal (s_parse (&q, out), 0);
    assert_true (out->ipxe);
    /* Something else in 77; HTTP boot vendor class. */
    s_begin (&q, 1, 1, 1);
    s_opt_u8 (&q, 53, 1);
    s_opt (&q, 77, "iPXF", 4);
    s_opt (&q, 60, "HTTPClient:Arch:00016:UNDI:003001", 33);
    s_end (&q);
    assert_int_equal (s_parse (&q, out), 0);
    assert_false (out->ipxe);
    assert_true (out->http_client);
    assert_false (out->pxe_client);
}

/* ---- builder ----------------------------------------------------------------------------- */

static void
test_build_round_trip (void **state)
{
    (void)state;
    pxe_dhcp_reply_t r;
    memset (&r, 0, sizeof r);
    r.message_type = PXE_DHCP_OFFER;
    r.xid = 0xdeadbeef;
    r.flags = 0x8000;
    inet_pton (AF_INET, "10.9.0.50", &r.yiaddr);
    inet_pton (AF_INET, "10.9.0.1", &r.siaddr);
    inet_pton (AF_INET, "10.9.0.1", &r.server_id);
    inet_pton (AF_INET, "255.255.255.0", &r.subnet_mask);
    inet_pton (AF_INET, "10.9.0.254", &r.router);
    r.chaddr[0] = 0x52;
    r.chaddr[5] = 7;
    r.lease_time = 3600;
    r.hostname = "host1";
    r.vendor_class = "PXEClient";
    r.tftp_server = "10.9.0.1";
    r.boot_file = "undionly.kpxe";
    r.pxe_vendor = true;
    r.has_uuid = true;
    memcpy (r.uuid, s_uuid, 17);
    uint8_t out[PXE_DHCP_PACKET_MAX];
    size_t len = 0;
    assert_int_equal (pxe_dhcp_build (&r, out, sizeof out, &len), 0);
    assert_true (len >= 300 && len <= 576);
    pxe_dhcp_packet_t *p = &s_pk;
    assert_int_equal (pxe_dhcp_parse (out, len, p), 0);
    assert_int_equal (p->op, PXE_DHCP_BOOTREPLY);
    assert_int_equal (p->xid, 0xdeadbeef);
    assert_int_equal (p->flags, 0x8000);
    assert_int_equal (p->message_type, PXE_DHCP_OFFER);
    assert_true (s_addr_is (p->yiaddr, "10.9.0.50"));
    assert_true (s_addr_is (p->siaddr, "10.9.0.1"));
    assert_true (p->has_server_id && s_addr_is (p->server_id, "10.9.0.1"));
    assert_true (p->has_lease_time);
    assert_int_equal (p->lease_time, 3600);
    assert_memory_equal (p->chaddr, r.chaddr, 16);
    assert_string_equal (p->file, "undionly.kpxe");
    assert_string_equal (p->sname, "10.9.0.1");
    assert_string_equal (s_opt_str (p, 67), "undionly.kpxe");
    assert_string_equal (s_opt_str (p, 66), "10.9.0.1");
    assert_string_equal (s_opt_str (p, 60), "PXEClient");
    assert_string_equal (s_opt_str (p, 12), "host1");
    size_t vlen;
    const uint8_t *v = pxe_dhcp_option (p, 43, &vlen);
    assert_non_null (v);
    assert_int_equal (vlen, 4);
    assert_memory_equal (v, "\x06\x01\x08\xff", 4);
    v = pxe_dhcp_option (p, 58, &vlen);
    assert_non_null (v);
    assert_memory_equal (v, "\x00\x00\x07\x08", 4); /* 1800 */
    v = pxe_dhcp_option (p, 59, &vlen);
    assert_memory_equal (v, "\x00\x00\x0c\x4e", 4); /* 3150 */
    assert_true (p->has_uuid);
    assert_memory_equal (p->uuid, s_uuid, 17);
    v = pxe_dhcp_option (p, 1, &vlen);
    assert_memory_equal (v, "\xff\xff\xff\x00", 4);
    v = pxe_dhcp_option (p, 3, &vlen);
    assert_memory_equal (v, "\x0a\x09\x00\xfe", 4);
    assert_null (pxe_dhcp_option (p, 6, NULL));  /* dns 0: left out */
    assert_null (pxe_dhcp_option (p, 56, NULL)); /* no message */
    /* 53 and 54 come first. */
    assert_int_equal (out[240], 53);
    assert_int_equal (out[243], 54);

    /* A value over 255 bytes is split (RFC 3396) and joined again; a long
       file name stays out of the 128-byte file field. */
    char url[301];
    memset (url, 'u', 300);
    url[300] = '\0';
    r.boot_file = url;
    r.max_size = 1500;
    assert_int_equal (pxe_dhcp_build (&r, out, sizeof out, &len), 0);
    assert_int_equal (pxe_dhcp_parse (out, len, p), 0);
    assert_string_equal (s_opt_str (p, 67), url);
    assert_string_equal (p->file, "");
    /* At 576 bytes it no longer fits with everything else. */
    char big[256];
    memset (big, 'h', 250);
    big[250] = '\0';
    r.hostname = big;
    r.max_size = 0;
    assert_int_equal (pxe_dhcp_build (&r, out, sizeof out, &len), PXE_ERR_DHCP_NO_SPACE);
}

static void
test_boot_file_choice (void **state)
{
    (void)state;
    pxe_dhcp_files_t f = { .bios = "undionly.kpxe",
                           .efi_x64 = "ipxe.efi",
                           .efi_arm64 = "ipxe-arm64.efi",
                           .http_x64 = "http://10.0.0.1/ipxe.efi",
                           .http_arm64 = "",
                           .ipxe = "http://10.0.0.1/boot.ipxe" };
    pxe_dhcp_packet_t *p = &s_pk;
    memset (p, 0, sizeof *p);
    const char *vc = "x";
    assert_null (pxe_dhcp_boot_file (&f, p, &vc)); /* not a PXE client */
    assert_null (vc);
    p->pxe_client = true;
    assert_string_equal (pxe_dhcp_boot_file (&f, p, &vc), "undionly.kpxe"); /* no 93: BIOS */
    assert_string_equal (vc, "PXEClient");
    p->has_arch = true;
    static const struct {
        uint16_t arch;
        const char *file;
    } cases[] = { { 0, "undionly.kpxe" },
                  { 7, "ipxe.efi" },
                  { 9, "ipxe.efi" },
                  { 11, "ipxe-arm64.efi" },
                  { 6, NULL },
                  { 19, NULL },
                  { 16, "http://10.0.0.1/ipxe.efi" } };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        p->arch = cases[i].arch;
        const char *got = pxe_dhcp_boot_file (&f, p, NULL);
        if (cases[i].file)
            assert_string_equal (got, cases[i].file);
        else
            assert_null (got);
    }
    p->ipxe = true;
    p->arch = 0;
    assert_string_equal (pxe_dhcp_boot_file (&f, p, &vc), "http://10.0.0.1/boot.ipxe");
    p->pxe_client = false;
    p->http_client = true;
    p->ipxe = false;
    p->arch = 16;
    assert_string_equal (pxe_dhcp_boot_file (&f, p, &vc), "http://10.0.0.1/ipxe.efi");
    assert_string_equal (vc, "HTTPClient");
}

/* ---- the server over loopback ------------------------------------------------------------ */

typedef struct {
    pxe_dhcp_t *server;
    int client;       /* bound to 0.0.0.0:cport, gets every reply */
    uint16_t port;    /* server's "67" */
    uint16_t pxeport; /* server's "4011" */
    char lease_file[256];
    pxe_dhcp_config_t config;
    pxe_dhcp_host_t host;
    uint8_t reply[PXE_DHCP_PACKET_MAX + 1];
} s_env_t;

static void
s_env_config (s_env_t *e, pxe_dhcp_mode_t mode)
{
    memset (&e->config, 0, sizeof e->config);
    e->config.mode = mode;
    inet_pton (AF_INET, "127.0.0.1", &e->config.server_addr);
    inet_pton (AF_INET, "255.0.0.0", &e->config.netmask);
    inet_pton (AF_INET, "127.0.0.254", &e->config.router);
    inet_pton (AF_INET, "127.0.0.100", &e->config.pool_first);
    inet_pton (AF_INET, "127.0.0.102", &e->config.pool_last);
    inet_pton (AF_INET, "127.0.0.1", &e->config.broadcast);
    memset (&e->host, 0, sizeof e->host);
    const uint8_t mac[6] = { 0x52, 0x54, 0x00, 0x00, 0x00, 0x01 };
    memcpy (e->host.mac, mac, 6);
    inet_pton (AF_INET, "127.0.0.50", &e->host.addr);
    snprintf (e->host.hostname, sizeof e->host.hostname, "compute1");
    e->config.hosts = &e->host;
    e->config.host_count = 1;
    e->config.lease_seconds = 600;
    e->config.lease_file = e->lease_file;
    e->config.files.bios = "undionly.kpxe";
    e->config.files.efi_x64 = "ipxe.efi";
    e->config.files.ipxe = "http://127.0.0.1:8080/boot.ipxe";
}

static void
s_env_start (s_env_t *e)
{
    int sock = pxe_dhcp_bind ("127.0.0.1", 0, NULL, &e->port);
    assert_true (sock >= 0);
    int psock = pxe_dhcp_bind ("127.0.0.1", 0, NULL, &e->pxeport);
    assert_true (psock >= 0);
    int err = 0;
    e->server = pxe_dhcp_new (sock, psock, &e->config, &err);
    assert_int_equal (err, 0);
    assert_non_null (e->server);
}

static s_env_t *
s_env_new (pxe_dhcp_mode_t mode, const char *lease_name)
{
    s_env_t *e = calloc (1, sizeof *e);
    assert_non_null (e);
    snprintf (e->lease_file, sizeof e->lease_file, "%s/%s", test_tmpdir (), lease_name);
    unlink (e->lease_file);
    uint16_t cport;
    e->client = pxe_dhcp_bind ("0.0.0.0", 0, NULL, &cport);
    assert_true (e->client >= 0);
    s_env_config (e, mode);
    e->config.client_port = cport;
    s_env_start (e);
    return e;
}

static void
s_env_free (s_env_t **e_p)
{
    s_env_t *e = *e_p;
    pxe_dhcp_destroy (&e->server);
    close (e->client);
    free (e);
    *e_p = NULL;
}

/* Sends p to the server's port, lets it answer, and parses the reply into
   s_pk. Returns the reply's length, 0 when there was none. */
static size_t
s_exchange_to (s_env_t *e, const s_pkt_t *p, uint16_t port)
{
    struct sockaddr_in to = { .sin_family = AF_INET, .sin_port = htons (port) };
    inet_pton (AF_INET, "127.0.0.1", &to.sin_addr);
    assert_int_equal (sendto (e->client, p->b, p->n, 0, (struct sockaddr *)&to, sizeof to),
                      (ssize_t)p->n);
    assert_int_equal (pxe_dhcp_dispatch (e->server), 0);
    ssize_t r = recv (e->client, e->reply, sizeof e->reply, MSG_DONTWAIT);
    if (r <= 0)
        return 0;
    assert_int_equal (pxe_dhcp_parse (e->reply, (size_t)r, &s_pk), 0);
    assert_int_equal (s_pk.op, PXE_DHCP_BOOTREPLY);
    return (size_t)r;
}

static size_t
s_exchange (s_env_t *e, const s_pkt_t *p)
{
    return s_exchange_to (e, p, e->port);
}

/* DISCOVER then REQUEST (SELECTING) for mac_last; returns the address. */
static struct in_addr
s_dora (s_env_t *e, uint8_t mac_last, uint16_t arch)
{
    s_pkt_t p;
    s_pxe_discover (&p, mac_last, arch);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_OFFER);
    struct in_addr offered = s_pk.yiaddr;
    s_pxe_discover (&p, mac_last, arch);
    p.b[242] = 3; /* 53's value: REQUEST */
    s_opt_addr (&p, 54, "127.0.0.1");
    s_opt (&p, 50, &offered.s_addr, 4);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_ACK);
    assert_int_equal (s_pk.yiaddr.s_addr, offered.s_addr);
    return offered;
}

static char *
s_slurp (const char *path)
{
    FILE *f = fopen (path, "r");
    if (!f)
        return NULL;
    static char buf[4096];
    size_t n = fread (buf, 1, sizeof buf - 1, f);
    fclose (f);
    buf[n] = '\0';
    return buf;
}

static void
test_server_reservation (void **state)
{
    (void)state;
    s_env_t *e = s_env_new (PXE_DHCP_MODE_FULL, "leases1");
    s_pkt_t p;
    s_pxe_discover (&p, 1, 0);
    s_opt_u8 (&p, 57, 0); /* too short: 57 must be 2 bytes */
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);

    s_pxe_discover (&p, 1, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_OFFER);
    assert_int_equal (s_pk.xid, 0x1001);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.50"));
    assert_true (s_addr_is (s_pk.siaddr, "127.0.0.1"));
    assert_true (s_addr_is (s_pk.server_id, "127.0.0.1"));
    assert_int_equal (s_pk.lease_time, 600);
    assert_string_equal (s_opt_str (&s_pk, 67), "undionly.kpxe");
    assert_string_equal (s_pk.file, "undionly.kpxe");
    assert_string_equal (s_opt_str (&s_pk, 66), "127.0.0.1");
    assert_string_equal (s_opt_str (&s_pk, 60), "PXEClient");
    assert_string_equal (s_opt_str (&s_pk, 12), "compute1");
    assert_memory_equal (pxe_dhcp_option (&s_pk, 43, NULL), "\x06\x01\x08\xff", 4);
    assert_memory_equal (s_pk.uuid, s_uuid, 17);
    assert_memory_equal (pxe_dhcp_option (&s_pk, 1, NULL), "\xff\x00\x00\x00", 4);

    struct in_addr a = s_dora (e, 1, 0);
    assert_true (s_addr_is (a, "127.0.0.50"));
    char *leases = s_slurp (e->lease_file);
    assert_non_null (leases);
    assert_non_null (strstr (leases, "52:54:00:00:00:01 127.0.0.50 "));

    /* INIT-REBOOT for a pool address while holding a reservation: NAK. */
    s_begin (&p, 1, 1, 77);
    s_opt_u8 (&p, 53, 3);
    s_opt_addr (&p, 50, "127.0.0.100");
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_NAK);
    assert_int_equal (s_pk.yiaddr.s_addr, 0);
    assert_non_null (pxe_dhcp_option (&s_pk, 56, NULL));
    /* RENEWING with ciaddr: ACK. */
    s_begin (&p, 1, 1, 78);
    s_set_ciaddr (&p, "127.0.0.50");
    s_opt_u8 (&p, 53, 3);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_ACK);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.50"));
    assert_true (s_addr_is (s_pk.ciaddr, "127.0.0.50"));
    /* Not a PXE client: address but no boot options. */
    assert_null (pxe_dhcp_option (&s_pk, 67, NULL));
    assert_null (pxe_dhcp_option (&s_pk, 43, NULL));

    pxe_dhcp_lease_t l[4];
    assert_int_equal (pxe_dhcp_leases (e->server, l, 4), 1);
    assert_true (l[0].bound && l[0].reserved);
    assert_true (s_addr_is (l[0].addr, "127.0.0.50"));

    /* RELEASE removes it from memory and from the file. */
    s_begin (&p, 1, 1, 79);
    s_set_ciaddr (&p, "127.0.0.50");
    s_opt_u8 (&p, 53, 7);
    s_opt_addr (&p, 54, "127.0.0.1");
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);
    assert_int_equal (pxe_dhcp_leases (e->server, l, 4), 0);
    leases = s_slurp (e->lease_file);
    assert_null (strstr (leases, "127.0.0.50"));

    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (e->server, &st);
    assert_int_equal (st.malformed, 1);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_OPTION_LENGTH)], 1);
    assert_int_equal (st.offers, 2);
    assert_int_equal (st.acks, 2);
    assert_int_equal (st.naks, 1);
    assert_int_equal (st.releases, 1);
    assert_int_equal (st.leases, 0);
    s_env_free (&e);
}

static void
test_server_pool (void **state)
{
    (void)state;
    s_env_t *e = s_env_new (PXE_DHCP_MODE_FULL, "leases2");
    struct in_addr a = s_dora (e, 0x10, 7);
    assert_true (s_addr_is (a, "127.0.0.100"));
    assert_string_equal (s_opt_str (&s_pk, 67), "ipxe.efi");

    /* iPXE on the same machine gets the same address and the script. */
    s_pkt_t p;
    s_pxe_discover (&p, 0x10, 7);
    s_opt (&p, 77, "iPXE", 4);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.100"));
    assert_string_equal (s_opt_str (&s_pk, 67), "http://127.0.0.1:8080/boot.ipxe");
    assert_string_equal (s_pk.file, "http://127.0.0.1:8080/boot.ipxe");

    /* SELECTING with a different address than offered: NAK. */
    s_begin (&p, 1, 0x10, 5);
    s_opt_u8 (&p, 53, 3);
    s_opt_addr (&p, 54, "127.0.0.1");
    s_opt_addr (&p, 50, "127.0.0.101");
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_NAK);
    /* Another server chosen: silence, and the offer is withdrawn. */
    s_pxe_discover (&p, 0x11, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.101"));
    s_begin (&p, 1, 0x11, 6);
    s_opt_u8 (&p, 53, 3);
    s_opt_addr (&p, 54, "127.0.0.9");
    s_opt_addr (&p, 50, "127.0.0.101");
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);

    /* The pool fills: .101 (free again), .102, then nothing. */
    s_pxe_discover (&p, 0x12, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.101"));
    s_pxe_discover (&p, 0x13, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.102"));
    s_pxe_discover (&p, 0x14, 0);
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);

    /* INIT-REBOOT for an address held by another client: NAK; for the
       reservation of another MAC: NAK. */
    s_begin (&p, 1, 0x14, 7);
    s_opt_u8 (&p, 53, 3);
    s_opt_addr (&p, 50, "127.0.0.100");
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_NAK);
    s_begin (&p, 1, 0x14, 8);
    s_opt_u8 (&p, 53, 3);
    s_opt_addr (&p, 50, "127.0.0.50");
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_NAK);

    /* DECLINE parks the address: owned by nobody, not offered. */
    s_begin (&p, 1, 0x10, 9);
    s_opt_u8 (&p, 53, 4);
    s_opt_addr (&p, 50, "127.0.0.100");
    s_opt_addr (&p, 54, "127.0.0.1");
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);
    s_pxe_discover (&p, 0x10, 7);
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0); /* .100 parked, .101/.102 offered to others */

    /* INFORM: an ACK without address or lease time, to ciaddr. */
    s_begin (&p, 1, 0x20, 10);
    s_set_ciaddr (&p, "127.0.0.7");
    s_opt_u8 (&p, 53, 8);
    s_opt (&p, 60, "PXEClient", 9);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_ACK);
    assert_int_equal (s_pk.yiaddr.s_addr, 0);
    assert_false (s_pk.has_lease_time);
    assert_string_equal (s_opt_str (&s_pk, 67), "undionly.kpxe");

    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (e->server, &st);
    assert_int_equal (st.no_address, 2);
    assert_int_equal (st.declines, 1);
    assert_int_equal (st.informs, 1);
    assert_int_equal (st.ignored, 1);
    assert_int_equal (st.naks, 3);
    assert_int_equal (st.malformed, 0);
    s_env_free (&e);
}

static void
test_server_drops (void **state)
{
    (void)state;
    s_env_t *e = s_env_new (PXE_DHCP_MODE_FULL, "leases3");
    s_pkt_t p;
    s_pxe_discover (&p, 2, 0);
    s_end (&p);
    s_pkt_t q = p;
    q.b[238] = 0;
    assert_int_equal (s_exchange (e, &q), 0);
    q = p;
    q.n = 100;
    assert_int_equal (s_exchange (e, &q), 0);
    q = p;
    q.n--; /* END cut */
    assert_int_equal (s_exchange (e, &q), 0);
    q = p;
    q.b[0] = 2; /* a BOOTREPLY sent to the server */
    assert_int_equal (s_exchange (e, &q), 0);
    s_begin (&q, 1, 2, 1); /* BOOTP */
    s_end (&q);
    assert_int_equal (s_exchange (e, &q), 0);
    s_begin (&q, 1, 2, 1); /* a server's message type */
    s_opt_u8 (&q, 53, PXE_DHCP_ACK);
    s_end (&q);
    assert_int_equal (s_exchange (e, &q), 0);
    q = p;
    q.n = sizeof q.b; /* longer than PXE_DHCP_PACKET_MAX */
    assert_int_equal (s_exchange (e, &q), 0);

    /* The server still answers a good packet. */
    assert_true (s_exchange (e, &p) > 0);
    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (e->server, &st);
    assert_int_equal (st.received, 8);
    assert_int_equal (st.malformed, 7);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_COOKIE)], 1);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_SHORT)], 1);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_NO_END)], 1);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_OP)], 1);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_MESSAGE_TYPE)], 2);
    assert_int_equal (st.drops[PXE_DHCP_DROP_INDEX (PXE_ERR_DHCP_LONG)], 1);
    assert_int_equal (st.offers, 1);
    s_env_free (&e);
}

static void
test_server_persistence (void **state)
{
    (void)state;
    s_env_t *e = s_env_new (PXE_DHCP_MODE_FULL, "leases4");
    struct in_addr a = s_dora (e, 0x30, 0);
    assert_true (s_addr_is (a, "127.0.0.100"));
    pxe_dhcp_destroy (&e->server);
    /* A lease for an address this configuration no longer has, an expired
       one and a good one are in the file; only the good ones survive. */
    FILE *f = fopen (e->lease_file, "a");
    assert_non_null (f);
    fprintf (f, "52:54:00:00:00:31 127.0.0.200 %lld\n", (long long)time (NULL) + 100);
    fprintf (f, "52:54:00:00:00:32 127.0.0.101 %lld\n", (long long)time (NULL) - 1);
    fclose (f);
    s_env_start (e);
    pxe_dhcp_lease_t l[4];
    assert_int_equal (pxe_dhcp_leases (e->server, l, 4), 1);
    assert_true (s_addr_is (l[0].addr, "127.0.0.100"));
    assert_int_equal (l[0].mac[5], 0x30);
    assert_true (l[0].bound);
    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (e->server, &st);
    assert_int_equal (st.leases, 1);
    /* Someone else asking for .100 gets another address. */
    s_pkt_t p;
    s_pxe_discover (&p, 0x33, 0);
    s_opt_addr (&p, 50, "127.0.0.100");
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.101"));
    /* The owner gets it back. */
    s_pxe_discover (&p, 0x30, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_true (s_addr_is (s_pk.yiaddr, "127.0.0.100"));

    /* A malformed file: started empty, the file kept aside as .bad. */
    pxe_dhcp_destroy (&e->server);
    f = fopen (e->lease_file, "w");
    assert_non_null (f);
    fprintf (f, "52:54:00:00:00:30 127.0.0.100 soon\n");
    fclose (f);
    s_env_start (e);
    assert_int_equal (pxe_dhcp_leases (e->server, l, 4), 0);
    char bad[300];
    snprintf (bad, sizeof bad, "%s.bad", e->lease_file);
    struct stat sb;
    assert_int_equal (stat (bad, &sb), 0);
    s_env_free (&e);
}

static void
test_server_proxy (void **state)
{
    (void)state;
    s_env_t *e = s_env_new (PXE_DHCP_MODE_PROXY, "leases5");
    s_pkt_t p;
    s_pxe_discover (&p, 0x40, 0);
    s_end (&p);
    assert_true (s_exchange (e, &p) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_OFFER);
    assert_int_equal (s_pk.yiaddr.s_addr, 0);
    assert_true (s_addr_is (s_pk.siaddr, "127.0.0.1"));
    assert_true (s_addr_is (s_pk.server_id, "127.0.0.1"));
    assert_false (s_pk.has_lease_time);
    assert_null (pxe_dhcp_option (&s_pk, 1, NULL));
    assert_string_equal (s_opt_str (&s_pk, 60), "PXEClient");
    assert_string_equal (s_opt_str (&s_pk, 67), "undionly.kpxe");
    assert_memory_equal (pxe_dhcp_option (&s_pk, 43, NULL), "\x06\x01\x08\xff", 4);
    assert_memory_equal (s_pk.uuid, s_uuid, 17);

    /* Not a PXE client, and a REQUEST on 67: the real server's business. */
    s_begin (&p, 1, 0x41, 1);
    s_opt_u8 (&p, 53, 1);
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);
    s_pxe_discover (&p, 0x40, 0);
    p.b[242] = 3;
    s_end (&p);
    assert_int_equal (s_exchange (e, &p), 0);

    /* Port 4011: a REQUEST from the address the client has; the ACK goes
       back to its source port. */
    s_pxe_discover (&p, 0x40, 7);
    p.b[242] = 3;
    s_set_ciaddr (&p, "127.0.0.1");
    s_end (&p);
    assert_true (s_exchange_to (e, &p, e->pxeport) > 0);
    assert_int_equal (s_pk.message_type, PXE_DHCP_ACK);
    assert_true (s_addr_is (s_pk.ciaddr, "127.0.0.1"));
    assert_int_equal (s_pk.yiaddr.s_addr, 0);
    assert_string_equal (s_opt_str (&s_pk, 67), "ipxe.efi");
    assert_string_equal (s_opt_str (&s_pk, 60), "PXEClient");

    pxe_dhcp_stats_t st;
    pxe_dhcp_stats (e->server, &st);
    assert_int_equal (st.offers, 1);
    assert_int_equal (st.acks, 1);
    assert_int_equal (st.ignored, 2);
    s_env_free (&e);
}

static void
test_server_config (void **state)
{
    (void)state;
    s_env_t e;
    memset (&e, 0, sizeof e);
    int err;
    struct {
        const char *field;
        const char *value;
    } bad[] = {
        { "pool_first", "10.0.0.1" }, { "pool_last", "127.0.0.90" }, { "netmask", "0.0.0.0" },
        { "server_addr", "0.0.0.0" }, { "host", "10.1.1.1" },        { "host", "127.0.0.1" },
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        s_env_config (&e, PXE_DHCP_MODE_FULL);
        e.config.lease_file = NULL;
        struct in_addr *a = NULL;
        if (!strcmp (bad[i].field, "pool_first"))
            a = &e.config.pool_first;
        else if (!strcmp (bad[i].field, "pool_last"))
            a = &e.config.pool_last;
        else if (!strcmp (bad[i].field, "netmask"))
            a = &e.config.netmask;
        else if (!strcmp (bad[i].field, "server_addr"))
            a = &e.config.server_addr;
        else
            a = &e.host.addr;
        inet_pton (AF_INET, bad[i].value, a);
        int sock = pxe_dhcp_bind ("127.0.0.1", 0, NULL, NULL);
        assert_true (sock >= 0);
        err = 0;
        assert_null (pxe_dhcp_new (sock, -1, &e.config, &err));
        assert_int_equal (err, PXE_ERR_DHCP_CONFIG);
    }
    /* A TCP socket is not a DHCP socket. */
    s_env_config (&e, PXE_DHCP_MODE_FULL);
    e.config.lease_file = NULL;
    int tcp = socket (AF_INET, SOCK_STREAM, 0);
    assert_true (tcp >= 0);
    assert_null (pxe_dhcp_new (tcp, -1, &e.config, &err));
    assert_int_equal (err, PXE_ERR_DHCP_ADDRESS);
    /* A file name longer than an option can carry. */
    char longname[300];
    memset (longname, 'x', 299);
    longname[299] = '\0';
    e.config.files.bios = longname;
    int sock = pxe_dhcp_bind ("127.0.0.1", 0, NULL, NULL);
    assert_null (pxe_dhcp_new (sock, -1, &e.config, &err));
    assert_int_equal (err, PXE_ERR_DHCP_CONFIG);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_parse_pxe_discover),
        cmocka_unit_test (test_parse_rejects),
        cmocka_unit_test (test_parse_option_lengths),
        cmocka_unit_test (test_parse_overload),
        cmocka_unit_test (test_parse_ipxe_and_padding),
        cmocka_unit_test (test_build_round_trip),
        cmocka_unit_test (test_boot_file_choice),
        cmocka_unit_test (test_server_reservation),
        cmocka_unit_test (test_server_pool),
        cmocka_unit_test (test_server_drops),
        cmocka_unit_test (test_server_persistence),
        cmocka_unit_test (test_server_proxy),
        cmocka_unit_test (test_server_config),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
