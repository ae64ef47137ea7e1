/*
 * pxe_sock: the one helper that makes the boot servers' listening sockets
 * (DHCP on 67 and 4011, TFTP on 69, HTTP boot). In the node the root
 * parent calls it and passes the descriptors to the `pxe` child; tests
 * and standalone programs call it directly (pxe_dhcp_bind, pxe_tftp_bind
 * and pxe_http_bind are thin wrappers kept for them).
 */
#ifndef PXE_SOCK_H
#define PXE_SOCK_H

#include <stdint.h>

typedef enum {
    PXE_SOCK_UDP,           /* SO_REUSEADDR */
    PXE_SOCK_UDP_BROADCAST, /* SO_REUSEADDR and SO_BROADCAST (DHCP) */
    PXE_SOCK_TCP_LISTEN,    /* SO_REUSEADDR, listening (backlog 128) */
} pxe_sock_kind_t;

/* An IPv4 socket of the given kind bound to addr (dotted IPv4) and port
   (0 picks a free one, written to *bound_port when not NULL) and, when
   ifname is not NULL, to that device (SO_BINDTODEVICE). Blocking and
   close-on-exec; the servers set what else they need. Returns the
   descriptor or -1 with errno set (EINVAL for a malformed address). */
int
pxe_sock_bind (pxe_sock_kind_t kind, const char *addr, uint16_t port, const char *ifname,
               uint16_t *bound_port);

#endif
