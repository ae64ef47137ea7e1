/*
 * wd_chan: the framed SOCK_SEQPACKET channel between Warden's processes.
 * The frame and the contract are in wd_chan.h. One sendmsg carries the
 * 12-byte header, the body and any descriptors; one recvmsg gets them back
 * whole into a buffer each channel allocates once, and every received frame
 * is validated (sizes, header, canonical body) before the caller sees it.
 * A rejected frame never leaks a descriptor into the receiving process.
 *
 * Linux behaviour this relies on (checked on 6.x): a frame larger than the
 * receive buffer sets MSG_TRUNC and its tail is discarded, so a buffer of
 * exactly one maximal frame detects every oversize one; a control buffer too
 * small for the descriptors sent sets MSG_CTRUNC, installs what fits and
 * closes the rest in the kernel; recvmsg returns 0 both at end of file and for
 * a zero-length frame (told apart with poll, see s_zero_length); sendmsg
 * fails with EMSGSIZE above SO_SNDBUF - 32 bytes (212960 with the default
 * 212992), far above our largest frame.
 */
#include "wd_chan.h"
#include "wd_bytes.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "wd_codec.h"

#define CHAN_FRAME_MAX (WD_CHAN_HEADER_LEN + WD_CHAN_MAX_BODY)
/* Room for more descriptors than a frame may carry, so that an over-limit
   frame arrives as such (and its descriptors can be closed) rather than as
   a truncated one. Beyond this, MSG_CTRUNC reports it and the kernel closes
   what did not fit. */
#define CHAN_RECV_FDS (WD_CHAN_MAX_FDS + 1)
#define CHAN_BACKLOG  16

struct wd_chan {
    int fd;
    uint8_t *buf; /* one maximal frame, reused by every wd_chan_recv */
};

/* Closes a descriptor without disturbing errno. */
static void
s_close (int fd)
{
    int saved = errno;
    close (fd);
    errno = saved;
}

/* Removes a file without disturbing errno. */
static void
s_unlink (const char *path)
{
    int saved = errno;
    unlink (path);
    errno = saved;
}

/* Empties a message: no body, no descriptors, every slot -1. */
static void
s_msg_init (wd_chan_msg_t *msg)
{
    memset (msg, 0, sizeof *msg);
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++)
        msg->fds[i] = -1;
}

/* Fills addr for path, which must be non-empty and fit sun_path with its NUL
   (ENAMETOOLONG otherwise; Linux would accept 108 bytes unterminated, but
   then path could not be used as a C string to unlink or stat it). */
static int
s_sockaddr (struct sockaddr_un *addr, const char *path)
{
    size_t len = strlen (path);
    memset (addr, 0, sizeof *addr);
    addr->sun_family = AF_UNIX;
    if (len == 0) {
        errno = EINVAL; /* an empty path would mean autobind */
        return -1;
    }
    if (len >= sizeof addr->sun_path) {
        errno = ENAMETOOLONG;
        return -1;
    }
    memcpy (addr->sun_path, path, len + 1);
    return 0;
}

int
wd_chan_socketpair (int fds[2])
{
    assert (fds);
    return socketpair (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds);
}

wd_chan_t *
wd_chan_new (int fd)
{
    assert (fd >= 0);
    wd_chan_t *self = calloc (1, sizeof *self);
    if (!self)
        goto out_close;
    self->buf = malloc (CHAN_FRAME_MAX);
    if (!self->buf)
        goto out_free;
    self->fd = fd;
    return self;

out_free:
    free (self);
out_close:
    s_close (fd);
    errno = ENOMEM;
    return NULL;
}

void
wd_chan_destroy (wd_chan_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        wd_chan_t *self = *self_p;
        close (self->fd);
        free (self->buf);
        free (self);
        *self_p = NULL;
    }
}

int
wd_chan_fd (const wd_chan_t *self)
{
    assert (self);
    return self->fd;
}

/* Waits until fd is writable. The contract says wd_chan_send blocks while the
   socket buffer is full, also when the caller made the descriptor
   non-blocking for its receive side. */
static void
s_wait_writable (int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLOUT };
    while (poll (&pfd, 1, -1) < 0 && errno == EINTR)
        ;
}

wd_err_t
wd_chan_send (wd_chan_t *self, uint32_t type, uint32_t peer, const void *body, size_t len,
              const int *fds, size_t nfds)
{
    assert (self);
    assert (body || len == 0);
    assert (fds || nfds == 0);
    if (len > WD_CHAN_MAX_BODY)
        return WD_ERR_FRAME_SIZE;
    if (nfds > WD_CHAN_MAX_FDS)
        return WD_ERR_FDS;

    uint8_t header[WD_CHAN_HEADER_LEN];
    wd_put_be (header, type, 4);
    wd_put_be (header + 4, (uint32_t)len, 4);
    wd_put_be (header + 8, peer, 4);
    struct iovec iov[2] = { { .iov_base = header, .iov_len = sizeof header },
                            { .iov_base = (void *)body, .iov_len = len } };
    struct msghdr mh = { .msg_iov = iov, .msg_iovlen = len > 0 ? 2 : 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * WD_CHAN_MAX_FDS)];
    } control;
    if (nfds > 0) {
        memset (&control, 0, sizeof control);
        mh.msg_control = control.buf;
        mh.msg_controllen = CMSG_SPACE (sizeof (int) * nfds);
        struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh);
        cmsg->cmsg_level = SOL_SOCKET;
        cmsg->cmsg_type = SCM_RIGHTS;
        cmsg->cmsg_len = CMSG_LEN (sizeof (int) * nfds);
        memcpy (CMSG_DATA (cmsg), fds, sizeof (int) * nfds);
    }

    for (;;) {
        ssize_t n = sendmsg (self->fd, &mh, MSG_NOSIGNAL);
        if (n >= 0) {
            /* SOCK_SEQPACKET sends are atomic: all or an error. */
            if ((size_t)n != sizeof header + len) {
                errno = EIO;
                return WD_ERR_IO;
            }
            return WD_OK;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            s_wait_writable (self->fd);
            continue;
        }
        if (errno == EPIPE || errno == ECONNRESET)
            return WD_ERR_CLOSED;
        if (errno == EMSGSIZE)
            return WD_ERR_FRAME_SIZE; /* only when SO_SNDBUF was shrunk below a frame */
        return WD_ERR_IO;
    }
}

/* recvmsg returned 0 bytes and no descriptors: end of file, or a peer that
   sent a zero-length frame, which Linux delivers and which is malformed here.
   At end of file the socket polls as hung up; after a consumed empty frame
   from a live peer it does not. (A peer that sends an empty frame and then
   closes reads as closed, which is also true.) */
static wd_err_t
s_zero_length (int fd)
{
    struct pollfd pfd = { .fd = fd, .events = POLLRDHUP };
    int rc;
    while ((rc = poll (&pfd, 1, 0)) < 0 && errno == EINTR)
        ;
    if (rc > 0 && (pfd.revents & (POLLHUP | POLLRDHUP)))
        return WD_ERR_CLOSED;
    return WD_ERR_FRAME;
}

wd_err_t
wd_chan_recv (wd_chan_t *self, wd_chan_msg_t *msg)
{
    assert (self);
    assert (msg);
    s_msg_init (msg);

    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * CHAN_RECV_FDS)];
    } control;
    struct iovec iov = { .iov_base = self->buf, .iov_len = CHAN_FRAME_MAX };
    struct msghdr mh = { .msg_iov = &iov,
                         .msg_iovlen = 1,
                         .msg_control = control.buf,
                         .msg_controllen = sizeof control.buf };
    ssize_t n;
    while ((n = recvmsg (self->fd, &mh, MSG_CMSG_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (n < 0) {
        if (errno == EAGAIN || errno == EWOULDBLOCK)
            return WD_ERR_AGAIN;
        if (errno == ECONNRESET) /* peer closed with our frames unread */
            return WD_ERR_CLOSED;
        return WD_ERR_IO;
    }

    /* Take every descriptor that arrived before judging the frame, so that
       each rejection below can close them all. The control buffer bounds
       how many can have been installed. */
    int got[sizeof control.buf / sizeof (int)];
    size_t ngot = 0;
    bool foreign = false;
    for (struct cmsghdr *cmsg = CMSG_FIRSTHDR (&mh); cmsg; cmsg = CMSG_NXTHDR (&mh, cmsg)) {
        if (cmsg->cmsg_level != SOL_SOCKET || cmsg->cmsg_type != SCM_RIGHTS) {
            foreign = true; /* we never ask for credentials or security labels */
            continue;
        }
        size_t count = (cmsg->cmsg_len - CMSG_LEN (0)) / sizeof (int);
        for (size_t i = 0; i < count; i++) {
            int fd;
            memcpy (&fd, CMSG_DATA (cmsg) + i * sizeof (int), sizeof fd);
            if (ngot < sizeof got / sizeof got[0])
                got[ngot++] = fd;
            else
                close (fd); /* cannot happen: the kernel filled our buffer */
        }
    }

    wd_err_t err;
    const uint8_t *body = NULL;
    size_t body_len = 0;
    if (n == 0 && ngot == 0 && !foreign && !(mh.msg_flags & MSG_CTRUNC))
        err = s_zero_length (self->fd);
    else if (mh.msg_flags & MSG_TRUNC)
        err = WD_ERR_FRAME_SIZE;
    else if ((mh.msg_flags & MSG_CTRUNC) || ngot > WD_CHAN_MAX_FDS)
        err = WD_ERR_FDS;
    else if (foreign)
        err = WD_ERR_FRAME;
    else
        err = wd_chan_frame_parse (self->buf, (size_t)n, &msg->type, &msg->peer, &body, &body_len);
    if (err == WD_OK && body_len > 0) {
        msg->body = malloc (body_len);
        if (msg->body) {
            memcpy (msg->body, body, body_len);
            msg->body_len = body_len;
        } else
            err = WD_ERR_NOMEM;
    }
    if (err != WD_OK) {
        for (size_t i = 0; i < ngot; i++)
            close (got[i]);
        s_msg_init (msg);
        return err;
    }
    memcpy (msg->fds, got, ngot * sizeof (int));
    msg->nfds = ngot;
    return WD_OK;
}

void
wd_chan_msg_clear (wd_chan_msg_t *msg)
{
    assert (msg);
    /* Only the first nfds slots are descriptors: a zero-initialised message
       must not close descriptor 0. */
    assert (msg->nfds <= WD_CHAN_MAX_FDS);
    free (msg->body);
    for (size_t i = 0; i < msg->nfds; i++)
        if (msg->fds[i] >= 0)
            close (msg->fds[i]);
    s_msg_init (msg);
}

wd_err_t
wd_chan_frame_parse (const uint8_t *buf, size_t len, uint32_t *type, uint32_t *peer,
                     const uint8_t **body, size_t *body_len)
{
    assert (buf || len == 0);
    assert (type && peer && body && body_len);
    if (len < WD_CHAN_HEADER_LEN)
        return WD_ERR_FRAME;
    /* Too large is a fact of the bytes, whatever the header claims. */
    size_t blen = len - WD_CHAN_HEADER_LEN;
    if (blen > WD_CHAN_MAX_BODY)
        return WD_ERR_FRAME_SIZE;
    if ((uint32_t)wd_get_be (buf + 4, 4) != blen)
        return WD_ERR_FRAME;
    const uint8_t *b = buf + WD_CHAN_HEADER_LEN;
    if (blen > 0) {
        wd_err_t err = wd_codec_check (b, blen, WD_CHAN_MAX_BODY, NULL);
        if (err != WD_OK)
            return err;
    }
    *type = (uint32_t)wd_get_be (buf, 4);
    *peer = (uint32_t)wd_get_be (buf + 8, 4);
    *body = b;
    *body_len = blen;
    return WD_OK;
}

/* Makes way for a new socket at addr: nothing there is fine; a socket file
   nobody listens on any more is removed; a live socket (EADDRINUSE) or any
   other kind of file (EEXIST) is left alone and fails the call. Liveness is
   probed with a non-blocking connect, which a live listener sees as a
   connection closed at once. */
static int
s_remove_stale (const struct sockaddr_un *addr)
{
    struct stat st;
    if (lstat (addr->sun_path, &st) < 0)
        return errno == ENOENT ? 0 : -1;
    if (!S_ISSOCK (st.st_mode)) {
        errno = EEXIST;
        return -1;
    }
    int probe = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (probe < 0)
        return -1;
    int rc = connect (probe, (const struct sockaddr *)addr, sizeof *addr);
    int probe_errno = errno;
    close (probe);
    if (rc == 0 || probe_errno == EAGAIN || probe_errno == EPROTOTYPE) {
        /* accepted, backlog full, or a live socket of another type */
        errno = EADDRINUSE;
        return -1;
    }
    if (probe_errno != ECONNREFUSED && probe_errno != ENOENT) {
        errno = probe_errno;
        return -1;
    }
    if (unlink (addr->sun_path) < 0 && errno != ENOENT)
        return -1;
    return 0;
}

int
wd_chan_listen (const char *path, mode_t mode)
{
    assert (path);
    assert ((mode & ~(mode_t)0777) == 0);
    struct sockaddr_un addr;
    if (s_sockaddr (&addr, path) < 0 || s_remove_stale (&addr) < 0)
        return -1;
    int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
    if (fd < 0)
        return -1;
    /* Linux creates the socket file with the socket inode's mode less the
       umask. Narrowing the inode first means the file is never more open
       than mode, without touching the process-wide umask; chmod then adds
       back any bits the umask took away. */
    if (fchmod (fd, mode) < 0)
        goto out_close;
    if (bind (fd, (const struct sockaddr *)&addr, sizeof addr) < 0)
        goto out_close;
    if (chmod (addr.sun_path, mode) < 0 || listen (fd, CHAN_BACKLOG) < 0)
        goto out_unlink;
    return fd;

out_unlink:
    s_unlink (addr.sun_path);
out_close:
    s_close (fd);
    return -1;
}

/* Accepted channels are blocking, like socketpair ends (Linux's accept4 does
   not inherit O_NONBLOCK from the listener): request/response code such as
   wardenctl's server side can call wd_chan_recv directly, and the engine,
   which polls first, may set O_NONBLOCK itself. */
wd_chan_t *
wd_chan_accept (int listen_fd, uid_t *uid, gid_t *gid, pid_t *pid)
{
    int fd;
    while ((fd = accept4 (listen_fd, NULL, NULL, SOCK_CLOEXEC)) < 0 && errno == EINTR)
        ;
    if (fd < 0)
        return NULL;
    struct ucred cred;
    socklen_t len = sizeof cred;
    if (getsockopt (fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0 || len != sizeof cred) {
        if (len != sizeof cred)
            errno = EPROTO;
        s_close (fd);
        return NULL;
    }
    wd_chan_t *self = wd_chan_new (fd);
    if (!self)
        return NULL;
    if (uid)
        *uid = cred.uid;
    if (gid)
        *gid = cred.gid;
    if (pid)
        *pid = cred.pid;
    return self;
}

wd_chan_t *
wd_chan_connect (const char *path)
{
    assert (path);
    struct sockaddr_un addr;
    if (s_sockaddr (&addr, path) < 0)
        return NULL;
    int fd = socket (AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return NULL;
    /* An interrupted AF_UNIX connect leaves the socket unconnected, so it
       can simply be tried again. */
    while (connect (fd, (const struct sockaddr *)&addr, sizeof addr) < 0) {
        if (errno != EINTR) {
            s_close (fd);
            return NULL;
        }
    }
    return wd_chan_new (fd);
}
