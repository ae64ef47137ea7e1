/*
 * wd_chan: the framed channel between Warden's processes (DESIGN.md §4).
 *
 * A channel is an AF_UNIX SOCK_SEQPACKET socket: the kernel keeps frame
 * boundaries, so one sendmsg is one frame and one recvmsg returns it whole,
 * with any file descriptors it carries (SCM_RIGHTS). The same framing serves
 * the socketpairs between wardend's processes and the control socket that
 * wardenctl connects to.
 *
 * Frame (docs/PROTOCOL.md "Channel frames"): a 12-byte header of three
 * big-endian u32 {type, len, peer} followed by len bytes of body, which is
 * empty or one canonical msgpack value. `type` names the message (wd_msg.h),
 * `peer` is a sender-chosen tag that replies echo (a request id). Bodies are
 * at most WD_CHAN_MAX_BODY bytes; bulk data travels as a passed descriptor.
 */
#ifndef WD_CHAN_H
#define WD_CHAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "wd_err.h"

#define WD_CHAN_HEADER_LEN 12
#define WD_CHAN_MAX_BODY   (64 * 1024)
#define WD_CHAN_MAX_FDS    4

/* One received frame. The receiver owns body (free) and fds (close);
   wd_chan_msg_clear releases whatever is left. Set a descriptor to -1 to
   take it. */
typedef struct {
    uint32_t type;
    uint32_t peer;
    uint8_t *body;
    size_t body_len;
    int fds[WD_CHAN_MAX_FDS];
    size_t nfds;
} wd_chan_msg_t;

typedef struct wd_chan wd_chan_t;

/* Creates a connected SOCK_SEQPACKET pair with close-on-exec set. Returns 0,
   or -1 with errno. */
int
wd_chan_socketpair (int fds[2]);

/* Wraps a connected SOCK_SEQPACKET descriptor; takes ownership of fd (closed
   by wd_chan_destroy). Returns NULL on out-of-memory (fd is then closed). */
wd_chan_t *
wd_chan_new (int fd);

/* Closes the descriptor and frees the channel; sets *self_p to NULL. Safe on
   NULL. */
void
wd_chan_destroy (wd_chan_t **self_p);

/* The descriptor, for poll(2). Borrowed. */
int
wd_chan_fd (const wd_chan_t *self);

/* Sends one frame: header, body (len bytes, may be 0; must be canonical
   msgpack when not empty — asserted in debug builds of the caller's own
   encoder, not here) and up to WD_CHAN_MAX_FDS descriptors, which stay open
   in the sender. Blocks while the socket buffer is full. Returns WD_OK,
   WD_ERR_FRAME_SIZE, WD_ERR_FDS, WD_ERR_CLOSED (peer gone) or WD_ERR_IO
   (errno set). */
wd_err_t
wd_chan_send (wd_chan_t *self, uint32_t type, uint32_t peer, const void *body, size_t len,
              const int *fds, size_t nfds);

/* Receives one frame into *msg (cleared first). Blocks unless the descriptor
   is non-blocking, in which case WD_ERR_AGAIN means no frame is waiting.
   Rejections (every received descriptor is closed first):
   WD_ERR_CLOSED (end of file), WD_ERR_FRAME (shorter than the header, or len
   disagrees with the frame size, or control data other than SCM_RIGHTS),
   WD_ERR_FRAME_SIZE (larger than the limit), WD_ERR_FDS (too many
   descriptors), or the wd_codec_check reason for a body that is not one
   canonical msgpack value. */
wd_err_t __attribute__ ((warn_unused_result)) wd_chan_recv (wd_chan_t *self, wd_chan_msg_t *msg);

/* Frees the body and closes every descriptor still >= 0. Safe to call twice. */
void
wd_chan_msg_clear (wd_chan_msg_t *msg);

/* Parses a frame's bytes (header + body) without touching a socket: the
   validation wd_chan_recv applies, exposed for fuzzing and tests. *body
   points into buf. */
wd_err_t __attribute__ ((warn_unused_result))
wd_chan_frame_parse (const uint8_t *buf, size_t len, uint32_t *type, uint32_t *peer,
                     const uint8_t **body, size_t *body_len);

/* Binds and listens on a SOCK_SEQPACKET socket at path with the given mode,
   replacing a stale socket file (never any other kind of file). Returns the
   listening descriptor (close-on-exec, non-blocking), or -1 with errno. */
int
wd_chan_listen (const char *path, mode_t mode);

/* Accepts one connection; *uid, *gid and *pid get the peer's credentials
   (SO_PEERCRED). Returns the new channel, or NULL with errno (EAGAIN when
   nothing is pending). */
wd_chan_t *
wd_chan_accept (int listen_fd, uid_t *uid, gid_t *gid, pid_t *pid);

/* Connects to a listening channel socket. Returns NULL with errno. */
wd_chan_t *
wd_chan_connect (const char *path);

#endif
