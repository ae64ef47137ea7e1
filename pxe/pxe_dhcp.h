/*
 * pxe_dhcp: the DHCPv4 server (RFC 2131/2132) of the dedicated boot link
 * between a node and its compute host, and a ProxyDHCP mode (PXE spec,
 * RFC 4578) for links that already have a DHCP server.
 *
 * Two layers. The packet parser and builder are pure functions (no I/O, no
 * clock): pxe_dhcp_parse validates a packet strictly and collects its
 * options (option overload and RFC 3396 split options included);
 * pxe_dhcp_build writes a reply. The server (pxe_dhcp_t) takes an already
 * bound UDP socket on port 67 (in the node, bound by the root parent and
 * passed to the `pxe` child) and optionally one on port 4011 for PXE boot
 * server requests, and works in pxe_dhcp_dispatch from the caller's poll
 * loop or zloop, like pxe_tftp. Full mode hands out addresses: static
 * reservations by MAC, then a pool; bound leases are persisted atomically to
 * a lease file and reloaded at start. Proxy mode hands out no address, only
 * the boot file. PXE clients (option 60 "PXEClient"/"HTTPClient") get
 * options 60, 66, 67, 43 (discovery control: boot the file at once) and 97
 * (their UUID back), with a boot file chosen by client architecture (option
 * 93); iPXE (user class "iPXE" or option 175) gets the boot script URL
 * instead. See "DHCP and ProxyDHCP" in docs/PROTOCOL.md.
 */
#ifndef PXE_DHCP_H
#define PXE_DHCP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "pxe_err.h"

#define PXE_DHCP_SERVER_PORT 67
#define PXE_DHCP_CLIENT_PORT 68
#define PXE_DHCP_PXE_PORT    4011
#define PXE_DHCP_FIXED_LEN   236 /* op .. file, before the magic cookie */
#define PXE_DHCP_MIN_LEN     240 /* fixed header + magic cookie */
#define PXE_DHCP_PACKET_MAX  1500
#define PXE_DHCP_REPLY_MIN   576 /* RFC 2131: every client accepts this much */
#define PXE_DHCP_MAGIC       0x63825363u
#define PXE_DHCP_NAME_MAX    127 /* boot file names; the BOOTP file field holds 127 + NUL */
#define PXE_DHCP_URL_MAX     255 /* one DHCP option carries at most 255 bytes */
#define PXE_DHCP_HOSTS_MAX   64

/* BOOTP op codes. */
enum { PXE_DHCP_BOOTREQUEST = 1, PXE_DHCP_BOOTREPLY = 2 };

/* DHCP message types (option 53). */
enum {
    PXE_DHCP_DISCOVER = 1,
    PXE_DHCP_OFFER = 2,
    PXE_DHCP_REQUEST = 3,
    PXE_DHCP_DECLINE = 4,
    PXE_DHCP_ACK = 5,
    PXE_DHCP_NAK = 6,
    PXE_DHCP_RELEASE = 7,
    PXE_DHCP_INFORM = 8,
};

/* Option codes this module reads or writes. */
enum {
    PXE_DHCP_OPT_PAD = 0,
    PXE_DHCP_OPT_SUBNET_MASK = 1,
    PXE_DHCP_OPT_ROUTER = 3,
    PXE_DHCP_OPT_DNS = 6,
    PXE_DHCP_OPT_HOSTNAME = 12,
    PXE_DHCP_OPT_REQUESTED_IP = 50,
    PXE_DHCP_OPT_LEASE_TIME = 51,
    PXE_DHCP_OPT_OVERLOAD = 52,
    PXE_DHCP_OPT_MESSAGE_TYPE = 53,
    PXE_DHCP_OPT_SERVER_ID = 54,
    PXE_DHCP_OPT_PARAMS = 55,
    PXE_DHCP_OPT_MESSAGE = 56,
    PXE_DHCP_OPT_MAX_SIZE = 57,
    PXE_DHCP_OPT_T1 = 58,
    PXE_DHCP_OPT_T2 = 59,
    PXE_DHCP_OPT_VENDOR_CLASS = 60,
    PXE_DHCP_OPT_CLIENT_ID = 61,
    PXE_DHCP_OPT_TFTP_SERVER = 66,
    PXE_DHCP_OPT_BOOTFILE = 67,
    PXE_DHCP_OPT_USER_CLASS = 77,
    PXE_DHCP_OPT_CLIENT_ARCH = 93,
    PXE_DHCP_OPT_CLIENT_NDI = 94,
    PXE_DHCP_OPT_UUID = 97,
    PXE_DHCP_OPT_VENDOR = 43,
    PXE_DHCP_OPT_IPXE = 175,
    PXE_DHCP_OPT_END = 255,
};

/* Client system architectures (option 93, RFC 4578 and the IANA registry). */
enum {
    PXE_DHCP_ARCH_BIOS = 0,
    PXE_DHCP_ARCH_EFI_IA32 = 6,
    PXE_DHCP_ARCH_EFI_X64 = 7,
    PXE_DHCP_ARCH_EFI_BC = 9, /* EFI byte code; x64 firmware sends it by mistake */
    PXE_DHCP_ARCH_EFI_ARM64 = 11,
    PXE_DHCP_ARCH_HTTP_X64 = 16,
    PXE_DHCP_ARCH_HTTP_ARM64 = 19,
};

/* A parsed packet. Every option's value is collected in data: an option
   that appears more than once (and in the sname/file fields under option
   overload) is concatenated in order (RFC 3396). The fixed-header fields
   are in host order except the addresses (network order). sname and file
   are the raw fields; when overloaded they held options and are zeroed
   here. */
typedef struct {
    uint8_t op, htype, hlen, hops;
    uint32_t xid;
    uint16_t secs, flags;
    struct in_addr ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    char sname[65]; /* NUL-terminated copies */
    char file[129];
    uint8_t overload; /* option 52's value, 0 when absent */
    /* Options, by code. */
    uint16_t opt_off[256];
    uint16_t opt_len[256];
    uint8_t opt_present[32]; /* bit set */
    uint8_t data[PXE_DHCP_PACKET_MAX];
    size_t data_len;
    /* Derived from the options (valid after a successful parse). */
    uint8_t message_type;  /* 53; 0 for BOOTP (no option 53) */
    bool has_requested_ip; /* 50 */
    struct in_addr requested_ip;
    bool has_server_id; /* 54 */
    struct in_addr server_id;
    bool has_lease_time; /* 51 */
    uint32_t lease_time;
    uint16_t max_size; /* 57, 0 when absent */
    bool has_arch;     /* 93: the first architecture listed */
    uint16_t arch;
    bool has_uuid; /* 97: type 0 + 16 bytes */
    uint8_t uuid[17];
    bool pxe_client;  /* 60 starts with "PXEClient" */
    bool http_client; /* 60 starts with "HTTPClient" */
    bool ipxe;        /* 77 holds "iPXE" or 175 is present */
} pxe_dhcp_packet_t;

/* Parses and validates a BOOTP/DHCP packet of either op. Returns 0 or the
   reason (PXE_ERR_DHCP_*): shorter than 240 bytes, longer than
   PXE_DHCP_PACKET_MAX, op not 1/2, htype/hlen not Ethernet, wrong magic
   cookie, an option running past its field, no END in a field that holds
   options, option 52 malformed or outside the options field, a known option
   of the wrong length (53, 50, 54, 51, 57, 93, 94, 97, 61, 52), a message
   type outside 1..8. *pkt is filled only on success. */
int __attribute__ ((warn_unused_result))
pxe_dhcp_parse (const uint8_t *buf, size_t len, pxe_dhcp_packet_t *pkt);

/* Option code's collected value, or NULL when the packet did not carry it
   (*len gets its length; an option may be present with length 0). */
const uint8_t *
pxe_dhcp_option (const pxe_dhcp_packet_t *pkt, uint8_t code, size_t *len);

/* A reply to build. Zero addresses and empty strings are left out. Options
   are written in ascending code order (53 and 54 first), each option value
   longer than 255 bytes split in several (RFC 3396); the boot file and
   server name also go in the BOOTP file/sname fields when they fit. */
typedef struct {
    uint8_t message_type; /* OFFER, ACK or NAK */
    uint32_t xid;
    uint16_t flags; /* copied from the request */
    struct in_addr ciaddr, yiaddr, siaddr, giaddr;
    uint8_t chaddr[16];
    struct in_addr server_id;
    uint32_t lease_time; /* 0: options 51, 58, 59 left out */
    struct in_addr subnet_mask, router, dns;
    const char *hostname;     /* 12 */
    const char *vendor_class; /* 60: "PXEClient" or "HTTPClient" */
    const char *tftp_server;  /* 66 and sname */
    const char *boot_file;    /* 67 and file */
    bool pxe_vendor;          /* 43 with sub-option 6 (discovery control) = 8, then END */
    bool has_uuid;            /* 97 copied from the request */
    uint8_t uuid[17];
    const char *message; /* 56, for NAKs */
    size_t max_size;     /* whole packet; below PXE_DHCP_REPLY_MIN means that */
} pxe_dhcp_reply_t;

/* Writes the reply into out (cap bytes, at least reply->max_size or 576).
   Returns 0 and sets *len, or PXE_ERR_DHCP_NO_SPACE. */
int __attribute__ ((warn_unused_result))
pxe_dhcp_build (const pxe_dhcp_reply_t *reply, uint8_t *out, size_t cap, size_t *len);

/* Server modes. */
typedef enum {
    PXE_DHCP_MODE_FULL = 0, /* addresses, leases and boot options */
    PXE_DHCP_MODE_PROXY,    /* boot options only; another server gives addresses */
} pxe_dhcp_mode_t;

/* A static reservation. */
typedef struct {
    uint8_t mac[6];
    struct in_addr addr;
    char hostname[64]; /* option 12, may be empty */
} pxe_dhcp_host_t;

/* Boot files by client kind. A legacy PXE ROM gets the iPXE binary for its
   architecture over TFTP; iPXE gets the script URL; UEFI HTTP boot clients
   get a URL. NULL or empty: that kind gets no boot file. */
typedef struct {
    const char *bios;       /* arch 0, e.g. "undionly.kpxe" */
    const char *efi_x64;    /* arch 7 and 9, e.g. "ipxe.efi" */
    const char *efi_arm64;  /* arch 11, e.g. "ipxe-arm64.efi" */
    const char *http_x64;   /* arch 16: a URL */
    const char *http_arm64; /* arch 19: a URL */
    const char *ipxe;       /* iPXE: the boot script URL, e.g. "http://10.0.0.1/boot.ipxe" */
} pxe_dhcp_files_t;

typedef struct {
    pxe_dhcp_mode_t mode;
    struct in_addr server_addr; /* ours on the boot link: server id, siaddr, 66 (required) */
    int ifindex;                /* answer only packets received on it; 0: any */
    /* Full mode. */
    struct in_addr netmask;               /* required in full mode */
    struct in_addr router, dns;           /* 0: not sent */
    struct in_addr pool_first, pool_last; /* 0: reservations only */
    const pxe_dhcp_host_t *hosts;         /* copied */
    size_t host_count;
    uint32_t lease_seconds; /* default 3600 */
    const char *lease_file; /* copied; NULL: leases are not persisted */
    /* Boot. */
    pxe_dhcp_files_t files;  /* copied */
    const char *tftp_server; /* option 66; default server_addr in dotted form */
    /* Where replies go; defaults for the real link, changed by tests. */
    struct in_addr broadcast; /* default 255.255.255.255 */
    uint16_t client_port;     /* default 68 */
} pxe_dhcp_config_t;

/* The boot file this server gives a client, or NULL (not a PXE/HTTP/iPXE
   client, or an architecture without a file). *vendor_class gets the
   option 60 to send back ("PXEClient", "HTTPClient") or NULL. Pure. */
const char *
pxe_dhcp_boot_file (const pxe_dhcp_files_t *files, const pxe_dhcp_packet_t *pkt,
                    const char **vendor_class);

/* A lease as reported by pxe_dhcp_leases. */
typedef struct {
    uint8_t mac[6];
    struct in_addr addr;
    time_t expires;                       /* wall clock */
    bool bound;                           /* acknowledged (false: offered, not yet requested) */
    bool reserved;                        /* a static reservation */
    uint16_t arch;                        /* last option 93 seen, 0xffff unknown */
    bool ipxe;                            /* last request came from iPXE */
    char boot_file[PXE_DHCP_URL_MAX + 1]; /* last boot file given */
} pxe_dhcp_lease_t;

/* Counters since the server was created. drops[] counts malformed packets
   by reason: index code - PXE_ERR_DHCP_SHORT (see PXE_DHCP_DROP_INDEX). */
#define PXE_DHCP_DROP_INDEX(code) ((code)-PXE_ERR_DHCP_SHORT)
#define PXE_DHCP_DROP_COUNT       (PXE_ERR_DHCP_MESSAGE_TYPE - PXE_ERR_DHCP_SHORT + 1)
typedef struct {
    uint64_t received;  /* packets read, on any socket */
    uint64_t malformed; /* dropped by the parser (sum of drops[]) */
    uint64_t drops[PXE_DHCP_DROP_COUNT];
    uint64_t discovers, requests, declines, releases, informs;
    uint64_t offers, acks, naks;
    uint64_t ignored;         /* well-formed but not ours to answer (other server chosen, not
                                 PXE in proxy mode, unknown MAC without a pool, BOOTP) */
    uint64_t no_address;      /* pool exhausted */
    uint64_t wrong_interface; /* arrived on another interface than config.ifindex */
    uint64_t send_failed;
    uint64_t lease_writes, lease_write_failed;
    unsigned leases; /* bound leases now */
} pxe_dhcp_stats_t;

typedef struct pxe_dhcp pxe_dhcp_t;

/* Creates a server on sock67 (a bound IPv4 UDP socket, normally 0.0.0.0:67
   on the boot interface) and, when pxe_sock >= 0, on a second one for PXE
   boot server requests (port 4011). Takes ownership of both descriptors
   (closed by the destructor, and on failure). Loads config->lease_file when
   it exists; a malformed file is logged, kept as FILE.bad, and the server
   starts with no leases. Returns NULL and sets *err (when not NULL):
   PXE_ERR_DHCP_ADDRESS, PXE_ERR_DHCP_CONFIG (no server address, full mode
   without netmask, pool outside the server's subnet or reversed, more than
   PXE_DHCP_HOSTS_MAX hosts, a file name too long), WD_ERR_NOMEM, WD_ERR_IO. */
pxe_dhcp_t *
pxe_dhcp_new (int sock67, int pxe_sock, const pxe_dhcp_config_t *config, int *err);

/* Closes the sockets and frees the server; sets *self_p to NULL. Safe on
   NULL. Leases are already on disk. */
void
pxe_dhcp_destroy (pxe_dhcp_t **self_p);

/* The descriptor to poll for input (an epoll fd over both sockets). */
int
pxe_dhcp_fd (const pxe_dhcp_t *self);

/* Handles every waiting packet without blocking. Returns 0, or a negative
   code on an internal failure of the event loop (never because of a
   client's packets). */
int
pxe_dhcp_dispatch (pxe_dhcp_t *self);

/* Runs the loop until *stop becomes true (checked at least every 200 ms). */
int
pxe_dhcp_run (pxe_dhcp_t *self, volatile const int *stop);

void
pxe_dhcp_stats (const pxe_dhcp_t *self, pxe_dhcp_stats_t *stats);

/* Copies up to max current leases (offered and bound, unexpired, and every
   reservation that was answered) into out; returns how many exist. */
size_t
pxe_dhcp_leases (const pxe_dhcp_t *self, pxe_dhcp_lease_t *out, size_t max);

/* For tests and standalone use: a UDP socket with SO_REUSEADDR and
   SO_BROADCAST, bound to addr:port (0 picks a free port, written to
   *bound_port when not NULL) and, when ifname is not NULL, to that device
   (SO_BINDTODEVICE). Returns the descriptor or -1 with errno set. */
int
pxe_dhcp_bind (const char *addr, uint16_t port, const char *ifname, uint16_t *bound_port);

#endif
