/*
 * node_notify: the service manager notification protocol (sd_notify): one
 * datagram of "KEY=VALUE" lines to the AF_UNIX socket named by
 * $NOTIFY_SOCKET. wardend reports READY=1 when its children serve,
 * WATCHDOG=1 while the engine answers pings, and STOPPING=1 on shutdown.
 * Without $NOTIFY_SOCKET every call does nothing.
 */
#ifndef NODE_NOTIFY_H
#define NODE_NOTIFY_H

#include <stdint.h>

/* Sends state ("READY=1\nSTATUS=serving"). Returns 0 when sent or when no
   manager listens, -1 with errno when sending failed. */
int
node_notify (const char *state);

/* The watchdog interval the manager asked for, in milliseconds, or 0 when
   none was asked for (or it was meant for another process). */
uint64_t
node_notify_watchdog_ms (void);

#endif
