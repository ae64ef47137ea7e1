/*
 * pxe_http: the read-only HTTP/1.1 server iPXE fetches its boot script,
 * kernel and initrd from (much faster than TFTP). Built on libmicrohttpd
 * (MHD) so no HTTP parsing is hand-written here: MHD parses requests and
 * writes responses; this class decides what to answer (GET and HEAD only,
 * one byte range, paths confined to the boot directory, or only the
 * verified copies of an approved image set).
 *
 * Event loop: MHD runs in its "external epoll" mode (MHD_USE_EPOLL without
 * an internal thread). MHD owns one epoll descriptor (pxe_http_fd) that
 * the caller adds to its own poll loop or zloop next to pxe_tftp_fd and
 * the DHCP socket, polled for POLLIN (an epoll_wait on it would consume
 * MHD's edge-triggered events); when it is readable, or when
 * pxe_http_timeout_ms has passed, the caller calls pxe_http_dispatch,
 * which never blocks. This fits the `pxe` child: one thread, one loop,
 * every server inside it, no locking, and a seccomp filter that need not
 * allow clone(). MHD's internal thread would have added a second thread
 * touching the image set and the served callback, and locks for both.
 *
 * The listening socket is a bound, listening TCP socket (in the node it is
 * bound by the root parent and passed to the `pxe` child); pxe_http_bind
 * makes one for tests and standalone use. A process that ignores SIGPIPE
 * before pxe_http_new (the `pxe` child must) lets MHD send sealed copies
 * with sendfile; otherwise MHD copies them through its buffers (the same
 * bytes, slower).
 *
 * Without an image set, files are read from the boot directory (pxe_path
 * rules) and hashed as they are handed to MHD; with one (pxe_images), only
 * approved files are served, from their sealed verified copies, and the
 * boot script is generated per request. Every GET whose response MHD
 * finished sending is reported to the served callback with the SHA-256 of
 * the bytes sent. See "HTTP boot and approved images" in
 * docs/PROTOCOL.md.
 */
#ifndef PXE_HTTP_H
#define PXE_HTTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "pxe_err.h"
#include "pxe_images.h"
#include "pxe_path.h"

/* Parses the value of a Range header for a file of `size` bytes
   (RFC 9110 §14). Returns:
   - 0 and *partial true: serve bytes [*offset, *offset + *length) as 206;
   - 0 and *partial false: the header names another unit than bytes and
     is ignored (serve the whole file, 200);
   - PXE_ERR_HTTP_RANGE_MULTIPLE: more than one range (serve 200 whole);
   - PXE_ERR_HTTP_RANGE_SYNTAX: a malformed bytes range (416);
   - PXE_ERR_HTTP_RANGE_UNSATISFIABLE: first byte at or past the end, or
     an empty suffix (416).
   Accepted forms: "bytes=FIRST-LAST" (LAST past the end is clamped),
   "bytes=FIRST-", "bytes=-SUFFIX" (more than the file: the whole file),
   unit in any case, blanks around the range; numbers of 1..19 digits. */
int __attribute__ ((warn_unused_result))
pxe_http_range_parse (const char *value, uint64_t size, uint64_t *offset, uint64_t *length,
                      bool *partial);

/* The HTTP status a refusal reason is answered with (403, 404, 405, 416,
   500, 503). */
int
pxe_http_status_for (int reason);

/* Limits. Zero fields take the defaults shown. */
typedef struct {
    unsigned max_connections; /* all clients together; default 256 */
    unsigned max_per_client;  /* per client address; default 16 */
    unsigned timeout_s;       /* idle connection timeout; default 30 */
} pxe_http_config_t;

/* What a completed GET sent. Borrowed for the duration of the callback. */
typedef struct {
    const char *path;             /* as requested (decoded by MHD) */
    const char *client;           /* address as text */
    struct sockaddr_storage addr; /* the client's address and port */
    int status;                   /* 200 or 206 */
    uint64_t offset;              /* first byte sent */
    uint64_t bytes;               /* bytes of content sent */
    uint64_t size;                /* size of the whole file */
    uint8_t sha256[32];           /* of the bytes actually sent */
    bool whole;                   /* the whole file was sent (offset 0, bytes == size) */
    bool approved;                /* served from the approved image set */
} pxe_http_served_t;

typedef void (pxe_http_served_fn) (void *arg, const pxe_http_served_t *served);

/* Counters since the server was created. */
typedef struct {
    uint64_t requests;   /* requests answered */
    uint64_t ok;         /* 200 */
    uint64_t partial;    /* 206 */
    uint64_t head;       /* HEAD requests among those */
    uint64_t not_found;  /* 404 */
    uint64_t forbidden;  /* 403: escapes, unapproved or mismatching files */
    uint64_t bad_method; /* 405 */
    uint64_t bad_range;  /* 416 */
    uint64_t failed;     /* 500, 503 */
    uint64_t completed;  /* GET responses MHD finished sending */
    uint64_t aborted;    /* GET responses cut short (client gone, timeout) */
    uint64_t bytes_sent; /* content bytes of completed responses */
    unsigned active;     /* open connections now */
} pxe_http_stats_t;

typedef struct pxe_http pxe_http_t;

/* Creates a server on sock_fd (a bound, listening TCP socket) serving the
   directory root_fd, or only images when it is not NULL (borrowed: it
   must outlive the server; root_fd is then used for nothing else). Takes
   ownership of both descriptors (closed by the destructor, and on
   failure). config may be NULL. Returns NULL and sets *err (when not
   NULL) to PXE_ERR_HTTP_SOCKET, PXE_ERR_HTTP_DAEMON or WD_ERR_NOMEM. */
pxe_http_t *
pxe_http_new (int sock_fd, int root_fd, pxe_images_t *images, const pxe_http_config_t *config,
              int *err);

/* Closes every connection, stops MHD, frees the server, sets *self_p to
   NULL. Safe on NULL. */
void
pxe_http_destroy (pxe_http_t **self_p);

/* Calls fn(arg, served) for every completed GET. */
void
pxe_http_set_served (pxe_http_t *self, pxe_http_served_fn *fn, void *arg);

/* The descriptor to poll for input (MHD's epoll fd). */
int
pxe_http_fd (const pxe_http_t *self);

/* Milliseconds until MHD needs pxe_http_dispatch without input (a
   connection timeout, buffered work), or -1 for none. */
int
pxe_http_timeout_ms (const pxe_http_t *self);

/* Does all pending work without blocking. Returns 0 or
   PXE_ERR_HTTP_DAEMON. */
int
pxe_http_dispatch (pxe_http_t *self);

/* Runs the loop until *stop becomes true (checked at least every 200 ms).
   Returns 0 or the failure of pxe_http_dispatch. */
int
pxe_http_run (pxe_http_t *self, volatile const int *stop);

void
pxe_http_stats (const pxe_http_t *self, pxe_http_stats_t *stats);

/* For tests and standalone use: a listening TCP socket bound to addr
   (dotted IPv4) and port (0 picks a free one, written to *bound_port
   when not NULL). Returns the descriptor or -1 with errno set. */
int
pxe_http_bind (const char *addr, uint16_t port, uint16_t *bound_port);

#endif
