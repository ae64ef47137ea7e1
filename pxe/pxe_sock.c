/*
 * pxe_sock: bound IPv4 sockets for the boot servers (see pxe_sock.h).
 */
#include "pxe_sock.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

int
pxe_sock_bind (pxe_sock_kind_t kind, const char *addr, uint16_t port, const char *ifname,
               uint16_t *bound_port)
{
    assert (addr);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
    if (inet_pton (AF_INET, addr, &sin.sin_addr) != 1) {
        errno = EINVAL;
        return -1;
    }
    int type = kind == PXE_SOCK_TCP_LISTEN ? SOCK_STREAM : SOCK_DGRAM;
    int fd = socket (AF_INET, type | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    int one = 1;
    socklen_t slen = sizeof sin;
    if (setsockopt (fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        (kind == PXE_SOCK_UDP_BROADCAST &&
         setsockopt (fd, SOL_SOCKET, SO_BROADCAST, &one, sizeof one) < 0) ||
        (ifname &&
         setsockopt (fd, SOL_SOCKET, SO_BINDTODEVICE, ifname, (socklen_t)strlen (ifname)) < 0) ||
        bind (fd, (struct sockaddr *)&sin, sizeof sin) < 0 ||
        (kind == PXE_SOCK_TCP_LISTEN && listen (fd, 128) < 0) ||
        getsockname (fd, (struct sockaddr *)&sin, &slen) < 0) {
        int e = errno;
        close (fd);
        errno = e;
        return -1;
    }
    if (bound_port)
        *bound_port = ntohs (sin.sin_port);
    return fd;
}
