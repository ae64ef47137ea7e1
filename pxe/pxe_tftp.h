/*
 * pxe_tftp: the read-only TFTP server that PXE ROMs and iPXE fetch their
 * first boot files from (RFC 1350, with option negotiation RFC 2347:
 * blksize RFC 2348, tsize and timeout RFC 2349, windowsize RFC 7440).
 *
 * One server object runs every transfer in a single event loop: it owns an
 * epoll descriptor (pxe_tftp_fd) that the caller adds to its own poll loop
 * or zloop, and does its work in pxe_tftp_dispatch. The listening socket
 * is an already-bound IPv4 UDP socket (in the node it is bound by the root
 * parent and passed to the `pxe` child); each transfer gets its own
 * ephemeral socket (its TID). Files come only from the boot directory,
 * resolved beneath it by pxe_path (no '..', no absolute path, no symlink
 * out of it), or, once an approved image set is attached
 * (pxe_tftp_set_images), only from its verified sealed copies; octet mode
 * only. Every completed transfer is reported to the served
 * callback with the SHA-256 of the bytes actually sent. See the "TFTP"
 * section of docs/PROTOCOL.md for the behaviour on the wire. A server is
 * used from one thread; it never blocks (files are read with pread per
 * block, which is fine for local boot files).
 */
#ifndef PXE_TFTP_H
#define PXE_TFTP_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "pxe_err.h"
#include "pxe_images.h"

#define PXE_TFTP_NAME_MAX    255   /* longest file name accepted */
#define PXE_TFTP_BLKSIZE_MIN 8     /* RFC 2348 */
#define PXE_TFTP_BLKSIZE_MAX 65464 /* RFC 2348 */
#define PXE_TFTP_TIMEOUT_MAX 255   /* RFC 2349, seconds */
#define PXE_TFTP_WINDOW_MAX  65535 /* RFC 7440 */
#define PXE_TFTP_PACKET_MAX  (PXE_TFTP_BLKSIZE_MAX + 4)
#define PXE_TFTP_URL_MAX     127 /* base URL handed to the boot script */

/* TFTP opcodes (RFC 1350, RFC 2347). */
enum {
    PXE_TFTP_RRQ = 1,
    PXE_TFTP_WRQ = 2,
    PXE_TFTP_DATA = 3,
    PXE_TFTP_ACK = 4,
    PXE_TFTP_ERROR = 5,
    PXE_TFTP_OACK = 6,
};

/* TFTP error codes carried in ERROR packets. */
enum {
    PXE_TFTP_EUNDEF = 0,
    PXE_TFTP_ENOTFOUND = 1,
    PXE_TFTP_EACCESS = 2,
    PXE_TFTP_EBADOP = 4,
    PXE_TFTP_EBADID = 5,
    PXE_TFTP_EOPTNEG = 8,
};

/* A parsed read or write request. Options a request did not carry have
   their has_ flag false; unknown options are skipped. filename is the name
   exactly as sent (NUL-terminated, control characters refused). */
typedef struct {
    int opcode; /* PXE_TFTP_RRQ or PXE_TFTP_WRQ */
    char filename[PXE_TFTP_NAME_MAX + 1];
    bool has_blksize, has_tsize, has_timeout, has_windowsize;
    uint32_t blksize;    /* clamped to PXE_TFTP_BLKSIZE_MAX (RFC 2348 lets the server lower it) */
    uint64_t tsize;      /* what the client sent; a server answers with the file size */
    uint32_t timeout;    /* seconds, 1..255 */
    uint32_t windowsize; /* 1..65535 */
} pxe_tftp_request_t;

/* Parses a request packet (RRQ or WRQ, with RFC 2347 options). Mode must be
   octet (netascii and mail are named and refused). Returns 0 or the reason
   (PXE_ERR_TFTP_*); *req is filled only on success. */
int __attribute__ ((warn_unused_result))
pxe_tftp_request_parse (const uint8_t *pkt, size_t len, pxe_tftp_request_t *req);

/* A packet a client sends to a transfer's socket: an ACK (block) or an
   ERROR (code, message borrowed from pkt, possibly not NUL-terminated:
   message_len bytes). */
typedef struct {
    int opcode;
    uint16_t block;
    uint16_t code;
    const char *message;
    size_t message_len;
} pxe_tftp_reply_t;

/* Parses an ACK (exactly 4 bytes) or ERROR packet. Returns 0 or the
   reason. */
int __attribute__ ((warn_unused_result))
pxe_tftp_reply_parse (const uint8_t *pkt, size_t len, pxe_tftp_reply_t *reply);

/* Limits and timing. Zero fields take the defaults shown. */
typedef struct {
    unsigned max_transfers;  /* all clients together; default 512 */
    unsigned max_per_client; /* per client IPv4 address; default 16 */
    unsigned timeout_ms;     /* retransmission timeout without the option; default 1000 */
    unsigned retries;        /* retransmissions before giving up; default 5 */
    size_t max_in_flight;    /* cap on unacknowledged bytes (lowers windowsize); default 128 KiB */
    bool no_openat2;         /* resolve by an O_NOFOLLOW walk (no symlinks at all) instead of
                                openat2 RESOLVE_BENEATH; set by itself when the kernel or a
                                seccomp filter refuses openat2 */
} pxe_tftp_config_t;

/* What a transfer served: every block was sent and the client acknowledged
   all of them (confirmed), or all but the last, after which it fell silent
   (not confirmed: RFC 1350 lets the final ACK be lost, and the client may
   well have the whole file). Borrowed for the duration of the callback. */
typedef struct {
    const char *filename; /* as requested */
    struct sockaddr_in client;
    uint64_t bytes; /* bytes of file data sent */
    uint8_t sha256[32];
    uint32_t blksize;
    uint32_t windowsize;
    bool confirmed; /* the final block's ACK arrived */
    bool approved;  /* served from the approved image set */
} pxe_tftp_served_t;

typedef void (pxe_tftp_served_fn) (void *arg, const pxe_tftp_served_t *served);

/* Counters since the server was created. */
typedef struct {
    uint64_t requests;       /* requests that reached a transfer or a refusal */
    uint64_t malformed;      /* packets rejected by the parsers, on any socket */
    uint64_t refused;        /* well-formed requests refused (write, path, limit, missing) */
    uint64_t completed;      /* transfers whose last block was acknowledged */
    uint64_t unconfirmed;    /* transfers served whole but for the final ACK */
    uint64_t failed;         /* transfers that timed out or that the client aborted */
    uint64_t retransmits;    /* windows resent after a timeout or a client's loss signal */
    uint64_t duplicate_acks; /* ACKs ignored as duplicates */
    uint64_t wrong_tid;      /* packets from another address or port than the transfer's */
    unsigned active;         /* transfers running now */
} pxe_tftp_stats_t;

typedef struct pxe_tftp pxe_tftp_t;

/* Creates a server on sock_fd, a bound IPv4 UDP socket, serving files from
   the directory root_fd. Takes ownership of both descriptors (closed by the
   destructor, and on failure). config may be NULL. Returns NULL and sets
   *err (when err is not NULL) on failure. */
pxe_tftp_t *
pxe_tftp_new (int sock_fd, int root_fd, const pxe_tftp_config_t *config, int *err);

/* Stops every transfer, closes every socket, frees the server, sets
 *self_p to NULL. Safe on NULL. */
void
pxe_tftp_destroy (pxe_tftp_t **self_p);

/* Serves only the approved set images (borrowed: it must outlive the
   server; NULL serves the plain boot directory again): every request goes
   through pxe_images_open, so only verified sealed copies and generated
   boot scripts are sent, and the boot script's {{base_url}} is base_url
   (copied; may be NULL). root_fd is then used for nothing else. */
void
pxe_tftp_set_images (pxe_tftp_t *self, pxe_images_t *images, const char *base_url);

/* Calls fn(arg, served) for every completed transfer. */
void
pxe_tftp_set_served (pxe_tftp_t *self, pxe_tftp_served_fn *fn, void *arg);

/* The descriptor to poll for input (an epoll fd). */
int
pxe_tftp_fd (const pxe_tftp_t *self);

/* Milliseconds until the next retransmission deadline, or -1 when no
   transfer runs: the longest the caller may wait before pxe_tftp_dispatch. */
int
pxe_tftp_timeout_ms (const pxe_tftp_t *self);

/* Handles every waiting packet and every expired deadline without
   blocking. Returns 0, or a negative code on an internal failure of the
   event loop (never because of a client's packets). */
int
pxe_tftp_dispatch (pxe_tftp_t *self);

/* Runs the loop until *stop becomes true (checked at least every 200 ms).
   Returns 0, or the failure of pxe_tftp_dispatch. */
int
pxe_tftp_run (pxe_tftp_t *self, volatile const int *stop);

void
pxe_tftp_stats (const pxe_tftp_t *self, pxe_tftp_stats_t *stats);

/* For tests and standalone use: a UDP socket bound to addr (dotted IPv4)
   and port (0 picks a free one, written to *bound_port when not NULL).
   Returns the descriptor or -1 with errno set. */
int
pxe_tftp_bind (const char *addr, uint16_t port, uint16_t *bound_port);

#endif
