/*
 * node_notify: a small sd_notify client. The protocol is a stable interface
 * of the service manager (a datagram to $NOTIFY_SOCKET; a leading '@' names
 * an abstract socket), so it is spoken directly rather than through
 * libsystemd.
 */
#include "node_notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int
node_notify (const char *state)
{
    const char *path = getenv ("NOTIFY_SOCKET");
    if (!path || !path[0])
        return 0;
    size_t path_len = strlen (path);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    if ((path[0] != '/' && path[0] != '@') || path_len >= sizeof addr.sun_path) {
        errno = EINVAL;
        return -1;
    }
    memcpy (addr.sun_path, path, path_len);
    if (path[0] == '@')
        addr.sun_path[0] = '\0';
    socklen_t addr_len = (socklen_t)(offsetof (struct sockaddr_un, sun_path) + path_len);

    int fd = socket (AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    ssize_t n =
        sendto (fd, state, strlen (state), MSG_NOSIGNAL, (struct sockaddr *)&addr, addr_len);
    int saved = errno;
    close (fd);
    errno = saved;
    return n < 0 ? -1 : 0;
}

uint64_t
node_notify_watchdog_ms (void)
{
    const char *usec = getenv ("WATCHDOG_USEC");
    if (!usec)
        return 0;
    const char *pid = getenv ("WATCHDOG_PID");
    if (pid) {
        char *end;
        errno = 0;
        long value = strtol (pid, &end, 10);
        if (errno || *end || value != (long)getpid ())
            return 0;
    }
    char *end;
    errno = 0;
    unsigned long long value = strtoull (usec, &end, 10);
    if (errno || *end || value == 0)
        return 0;
    return value / 1000 ? value / 1000 : 1;
}
