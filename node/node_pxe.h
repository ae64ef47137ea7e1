/*
 * node_pxe: the `pxe` child of wardend (DESIGN.md §4, §7; issue 5), the
 * boot server of the node's compute host. It runs pxe_dhcp, pxe_tftp and
 * pxe_http in one poll loop over the approved image set (pxe_images).
 *
 * The root parent binds the privileged sockets from the `pxe/...` keys
 * (node_pxe_bind) and passes them in WD_MSG_PXE_SOCKETS; the child opens
 * the boot directory read-only, loads and verifies the manifest, ignores
 * SIGPIPE (so libmicrohttpd may use sendfile), then applies its seccomp
 * filter (node_pxe_seccomp) before it reads a single packet. Over its
 * channel to the engine (WD_MSG_PXE_CHANNEL, like the keys channel) it
 * sends one WD_MSG_PXE_SERVED per completed transfer (the engine appends
 * it to the measurement log as `pxe:<client>:<file>`), one WD_MSG_PXE_TOKEN
 * per boot token issued (the engine's attestation server redeems it), and
 * WD_MSG_PXE_STATUS (counters and leases) whenever those changed, at most
 * once a second; the engine keeps the last status and the last served
 * records for `wardenctl pxe`.
 *
 * `wardend pxe -c FILE` runs the same loop standalone for operators who
 * want only the boot server: it binds its own sockets, applies the same
 * filter, and logs served records instead of sending them. See "PXE
 * child" in docs/PROTOCOL.md and docs/OPERATIONS.md.
 */
#ifndef NODE_PXE_H
#define NODE_PXE_H

#include <limits.h>
#include <net/if.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pxe_dhcp.h"
#include "pxe_images.h"
#include "wd_chan.h"
#include "wd_config.h"
#include "wd_err.h"

#define NODE_PXE_SOCKETS_MAX 4  /* dhcp, proxy, tftp, http */
#define NODE_PXE_SERVED_KEEP 32 /* served records the engine keeps for wardenctl */
#define NODE_PXE_LEASE_FILE  "dhcp.leases"
#define NODE_PXE_MEASURE     "pxe" /* measurement names: pxe:<client>:<file> */

/* The `pxe/...` keys, checked and resolved. */
typedef struct {
    bool enable;
    char interface[IF_NAMESIZE]; /* "" : any */
    char address[INET_ADDRSTRLEN];
    struct in_addr addr;
    bool proxy;
    struct in_addr netmask, router, dns, pool_first, pool_last;
    pxe_dhcp_host_t hosts[PXE_DHCP_HOSTS_MAX];
    size_t host_count;
    uint32_t lease_seconds;
    char boot_dir[PATH_MAX];
    char manifest[PATH_MAX];
    char lease_file[PATH_MAX];
    bool tftp;
    uint16_t http_port; /* 0: no HTTP boot */
    char bios_file[PXE_DHCP_NAME_MAX + 1];
    char efi_file[PXE_DHCP_NAME_MAX + 1];
    char script[PXE_DHCP_NAME_MAX + 1];
    char attest_endpoint[PXE_IMAGES_ENDPOINT_MAX + 1];
    bool has_attest_key; /* pxe/attest_key; else the node certificate's curve key */
    uint8_t attest_key[32];
} node_pxe_settings_t;

/* Reads and checks the `pxe/...` keys (only when pxe/enable is true are the
   required ones required). Returns WD_OK or WD_ERR_CONFIG_VALUE with a
   reason in why. */
wd_err_t __attribute__ ((warn_unused_result))
node_pxe_settings (const wd_config_t *cfg, node_pxe_settings_t *out, char *why, size_t why_len);

/* Binds the sockets the settings ask for (needs root for ports below
   1024): DHCP 67 (and 4011 in proxy mode) on 0.0.0.0 bound to the
   interface, TFTP 69 and HTTP on the server address. fds and names get
   up to NODE_PXE_SOCKETS_MAX descriptors and their names ("dhcp",
   "proxy", "tftp", "http"); *count how many. Returns 0, or -1 with a
   reason in why (every descriptor already opened is closed). */
int
node_pxe_bind (const node_pxe_settings_t *s, int fds[NODE_PXE_SOCKETS_MAX],
               const char *names[NODE_PXE_SOCKETS_MAX], size_t *count, char *why, size_t why_len);

/* Sends WD_MSG_PXE_SOCKETS {sockets: names} with the descriptors (they
   stay open in the caller). Returns WD_OK or the wd_chan_send failure. */
int
node_pxe_send_sockets (wd_chan_t *chan, const int *fds, const char *const *names, size_t count);

/* Applies the `pxe` child's seccomp filter (libseccomp) to the calling
   process: only the system calls its loop needs; anything else kills the
   process (SIGSYS) — in sanitizer builds it fails with EPERM instead, so
   the sanitizers' own machinery can still report. Returns 0 or -1. */
int
node_pxe_seccomp (void);

/* The child: "wardend --child pxe". Returns the exit status. */
int
node_pxe_main (void);

/* "wardend pxe [-c FILE] [-l LEVEL]": the boot server alone. */
int
node_pxe_standalone (int argc, char **argv);

/* WD_MSG_PXE_SERVED bodies: {approved, approved_sha256, bytes, client,
   complete, file, mac (bin(6) or nil), offset, protocol, sha256, time,
   whole}. complete: TFTP's final ACK arrived, or HTTP sent the whole
   response. The encoder returns a malloc'ed body. */
uint8_t *
node_pxe_encode_served (const pxe_served_record_t *rec, bool complete, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_pxe_decode_served (const uint8_t *body, size_t len, pxe_served_record_t *rec, bool *complete);

/* The measurement-log name of a served record: "pxe:<mac or address>:<file>". */
void
node_pxe_measure_name (const pxe_served_record_t *rec, char *out, size_t size);

/* WD_MSG_PXE_TOKEN bodies: {host: str (at most 63 bytes), token: bin(32)}. */
uint8_t *
node_pxe_encode_token (const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *host, size_t *len);
wd_err_t __attribute__ ((warn_unused_result))
node_pxe_decode_token (const uint8_t *body, size_t len, uint8_t token[PXE_IMAGES_TOKEN_LEN],
                       char host[64]);

#endif
