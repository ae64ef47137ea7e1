/*
 * Unit tests for wd_chan: frames and descriptors round-trip over a
 * socketpair, every rejection has its exact code and leaks no descriptor
 * (frames are forged with raw sendmsg on the peer socket), end of file,
 * non-blocking and closed-peer behaviour, and the listen/accept/connect path
 * on a socket file in a temporary directory.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "test_support.h"
#include "wd_bytes.h"
#include "wd_chan.h"
#include "wd_codec.h"

/* A connected pair: a channel and the raw peer descriptor. */
typedef struct {
    wd_chan_t *chan;
    int raw;
} pair_t;

static pair_t
s_pair (void)
{
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    pair_t p = { wd_chan_new (sv[0]), sv[1] };
    assert_non_null (p.chan);
    return p;
}

static void
s_pair_close (pair_t *p)
{
    wd_chan_destroy (&p->chan);
    assert_null (p->chan);
    if (p->raw >= 0)
        close (p->raw);
    p->raw = -1;
}

static size_t
s_count_fds (void)
{
    DIR *dir = opendir ("/proc/self/fd");
    assert_non_null (dir);
    size_t count = 0;
    while (readdir (dir))
        count++;
    closedir (dir);
    return count;
}

static void
s_header (uint8_t *buf, uint32_t type, uint32_t len, uint32_t peer)
{
    wd_put_be (buf, type, 4);
    wd_put_be (buf + 4, len, 4);
    wd_put_be (buf + 8, peer, 4);
}

/* Sends bytes as one datagram with up to 32 descriptors, bypassing wd_chan. */
static void
s_raw_send (int fd, const void *buf, size_t len, const int *fds, size_t nfds)
{
    assert_true (nfds <= 32);
    struct iovec iov = { .iov_base = (void *)buf, .iov_len = len };
    struct msghdr mh = { .msg_iov = &iov, .msg_iovlen = 1 };
    union {
        struct cmsghdr align;
        char buf[CMSG_SPACE (sizeof (int) * 32)];
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
    assert_int_equal (sendmsg (fd, &mh, MSG_NOSIGNAL), (ssize_t)len);
}

static void
s_assert_cleared (const wd_chan_msg_t *msg)
{
    assert_null (msg->body);
    assert_int_equal (msg->body_len, 0);
    assert_int_equal (msg->nfds, 0);
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++)
        assert_int_equal (msg->fds[i], -1);
}

/* Forges a frame on the raw side carrying nfds fresh descriptors (closed
   here after sending) and requires recv to reject it with expected, with no
   descriptor left behind. */
static void
s_expect_rejected (pair_t *p, const void *frame, size_t len, size_t nfds, wd_err_t expected)
{
    size_t before = s_count_fds ();
    int fds[32];
    assert_true (nfds <= 32);
    for (size_t i = 0; i < nfds; i++) {
        fds[i] = open ("/dev/null", O_RDONLY | O_CLOEXEC);
        assert_true (fds[i] >= 0);
    }
    s_raw_send (p->raw, frame, len, fds, nfds);
    for (size_t i = 0; i < nfds; i++)
        close (fds[i]);
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (p->chan, &msg), expected);
    s_assert_cleared (&msg);
    assert_int_equal (s_count_fds (), before);
}

/* The channel still delivers a good frame after a rejection. */
static void
s_expect_still_works (pair_t *p)
{
    uint8_t frame[WD_CHAN_HEADER_LEN + 1];
    s_header (frame, 9, 1, 10);
    frame[WD_CHAN_HEADER_LEN] = 0xc0; /* nil */
    s_raw_send (p->raw, frame, sizeof frame, NULL, 0);
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (p->chan, &msg), WD_OK);
    assert_int_equal (msg.type, 9);
    assert_int_equal (msg.peer, 10);
    assert_int_equal (msg.body_len, 1);
    wd_chan_msg_clear (&msg);
}

static void
test_round_trip (void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    assert_true (fcntl (sv[0], F_GETFD) & FD_CLOEXEC);
    assert_true (fcntl (sv[1], F_GETFD) & FD_CLOEXEC);
    int type;
    socklen_t len = sizeof type;
    assert_int_equal (getsockopt (sv[0], SOL_SOCKET, SO_TYPE, &type, &len), 0);
    assert_int_equal (type, SOCK_SEQPACKET);
    wd_chan_t *a = wd_chan_new (sv[0]);
    wd_chan_t *b = wd_chan_new (sv[1]);
    assert_int_equal (wd_chan_fd (a), sv[0]);

    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 2);
    wd_writer_key (w, "a");
    wd_writer_uint (w, 1);
    wd_writer_key (w, "b");
    wd_writer_cstr (w, "x");
    size_t body_len;
    const uint8_t *body = wd_writer_data (w, &body_len);
    assert_int_equal (wd_chan_send (a, 0x01020304, 0xdeadbeef, body, body_len, NULL, 0), WD_OK);

    /* the bytes on the wire: big-endian header, then the body */
    uint8_t wire[64];
    ssize_t n = recv (sv[1], wire, sizeof wire, MSG_PEEK);
    assert_int_equal (n, WD_CHAN_HEADER_LEN + body_len);
    const uint8_t header[] = { 1, 2, 3, 4, 0, 0, 0, (uint8_t)body_len, 0xde, 0xad, 0xbe, 0xef };
    assert_memory_equal (wire, header, sizeof header);

    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (b, &msg), WD_OK);
    assert_int_equal (msg.type, 0x01020304);
    assert_int_equal (msg.peer, 0xdeadbeef);
    assert_int_equal (msg.body_len, body_len);
    assert_memory_equal (msg.body, body, body_len);
    assert_int_equal (msg.nfds, 0);
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++)
        assert_int_equal (msg.fds[i], -1);
    wd_chan_msg_clear (&msg);
    s_assert_cleared (&msg);
    wd_chan_msg_clear (&msg); /* safe twice */

    /* and back the other way */
    assert_int_equal (wd_chan_send (b, 5, 6, body, body_len, NULL, 0), WD_OK);
    assert_int_equal (wd_chan_recv (a, &msg), WD_OK);
    assert_int_equal (msg.type, 5);
    assert_int_equal (msg.peer, 6);
    wd_chan_msg_clear (&msg);

    wd_writer_destroy (&w);
    wd_chan_destroy (&a);
    wd_chan_destroy (&b);
    assert_null (a);
    wd_chan_destroy (&a);                          /* safe on NULL */
    assert_int_equal (fcntl (sv[0], F_GETFD), -1); /* destroy closed it */
}

static void
test_empty_body (void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    wd_chan_t *a = wd_chan_new (sv[0]);
    wd_chan_t *b = wd_chan_new (sv[1]);
    assert_int_equal (wd_chan_send (a, 42, 0, NULL, 0, NULL, 0), WD_OK);
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (b, &msg), WD_OK);
    assert_int_equal (msg.type, 42);
    assert_int_equal (msg.peer, 0);
    assert_null (msg.body);
    assert_int_equal (msg.body_len, 0);
    wd_chan_msg_clear (&msg);
    wd_chan_destroy (&a);
    wd_chan_destroy (&b);

    /* a zero-initialised message owns nothing: clearing it leaves fd 0 */
    int fd0 = fcntl (0, F_GETFD);
    wd_chan_msg_t zero = { 0 };
    wd_chan_msg_clear (&zero);
    assert_int_equal (fcntl (0, F_GETFD), fd0);
}

static void
test_size_limits (void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    wd_chan_t *a = wd_chan_new (sv[0]);
    wd_chan_t *b = wd_chan_new (sv[1]);

    /* the largest legal body: one bin16 filling WD_CHAN_MAX_BODY */
    uint8_t *body = calloc (1, WD_CHAN_MAX_BODY + 1);
    assert_non_null (body);
    size_t data_len = WD_CHAN_MAX_BODY - 3;
    body[0] = 0xc5;
    body[1] = (uint8_t)(data_len >> 8);
    body[2] = (uint8_t)data_len;
    for (size_t i = 0; i < data_len; i++)
        body[3 + i] = (uint8_t)i;
    assert_int_equal (wd_codec_check (body, WD_CHAN_MAX_BODY, WD_CHAN_MAX_BODY, NULL), WD_OK);
    assert_int_equal (wd_chan_send (a, 1, 2, body, WD_CHAN_MAX_BODY, NULL, 0), WD_OK);
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (b, &msg), WD_OK);
    assert_int_equal (msg.body_len, WD_CHAN_MAX_BODY);
    assert_memory_equal (msg.body, body, WD_CHAN_MAX_BODY);
    wd_chan_msg_clear (&msg);

    /* refused by the sender, nothing sent */
    assert_int_equal (wd_chan_send (a, 1, 2, body, WD_CHAN_MAX_BODY + 1, NULL, 0),
                      WD_ERR_FRAME_SIZE);
    int fds[WD_CHAN_MAX_FDS + 1] = { 0, 0, 0, 0, 0 };
    assert_int_equal (wd_chan_send (a, 1, 2, NULL, 0, fds, WD_CHAN_MAX_FDS + 1), WD_ERR_FDS);
    assert_int_equal (fcntl (sv[1], F_SETFL, O_NONBLOCK), 0);
    assert_int_equal (wd_chan_recv (b, &msg), WD_ERR_AGAIN);

    /* a socket buffer shrunk below one frame: EMSGSIZE, reported as size */
    int small = 4096;
    assert_int_equal (setsockopt (sv[0], SOL_SOCKET, SO_SNDBUF, &small, sizeof small), 0);
    assert_int_equal (wd_chan_send (a, 1, 2, body, WD_CHAN_MAX_BODY, NULL, 0), WD_ERR_FRAME_SIZE);

    free (body);
    wd_chan_destroy (&a);
    wd_chan_destroy (&b);
}

static void
test_passes_fds (void **state)
{
    (void)state;
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    wd_chan_t *a = wd_chan_new (sv[0]);
    wd_chan_t *b = wd_chan_new (sv[1]);
    int pipefd[2];
    assert_int_equal (pipe (pipefd), 0);
    int extra[3];
    for (size_t i = 0; i < 3; i++)
        extra[i] = open ("/dev/null", O_RDONLY);
    int fds[WD_CHAN_MAX_FDS] = { pipefd[1], extra[0], extra[1], extra[2] };
    const uint8_t body[] = { 0x93, 1, 2, 3 };

    assert_int_equal (wd_chan_send (a, 3, 4, body, sizeof body, fds, WD_CHAN_MAX_FDS), WD_OK);
    /* the sender keeps its descriptors */
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++)
        assert_int_not_equal (fcntl (fds[i], F_GETFD), -1);

    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (b, &msg), WD_OK);
    assert_int_equal (msg.type, 3);
    assert_int_equal (msg.peer, 4);
    assert_int_equal (msg.body_len, sizeof body);
    assert_memory_equal (msg.body, body, sizeof body);
    assert_int_equal (msg.nfds, WD_CHAN_MAX_FDS);
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++) {
        assert_true (msg.fds[i] >= 0);
        assert_int_not_equal (msg.fds[i], fds[i]);
        assert_true (fcntl (msg.fds[i], F_GETFD) & FD_CLOEXEC); /* MSG_CMSG_CLOEXEC */
    }

    /* the passed write end really is the pipe */
    assert_int_equal (write (msg.fds[0], "via", 3), 3);
    assert_int_equal (write (pipefd[1], "+own", 4), 4);
    char got[8];
    assert_int_equal (read (pipefd[0], got, sizeof got), 7);
    assert_memory_equal (got, "via+own", 7);

    /* taking a descriptor: set it to -1 and clear leaves it open */
    int taken = msg.fds[1];
    msg.fds[1] = -1;
    int closed[WD_CHAN_MAX_FDS] = { msg.fds[0], -1, msg.fds[2], msg.fds[3] };
    wd_chan_msg_clear (&msg);
    assert_int_not_equal (fcntl (taken, F_GETFD), -1);
    for (size_t i = 0; i < WD_CHAN_MAX_FDS; i++)
        if (closed[i] >= 0)
            assert_int_equal (fcntl (closed[i], F_GETFD), -1);
    close (taken);

    close (pipefd[0]);
    close (pipefd[1]);
    for (size_t i = 0; i < 3; i++)
        close (extra[i]);
    wd_chan_destroy (&a);
    wd_chan_destroy (&b);
}

static void
test_rejections (void **state)
{
    (void)state;
    pair_t p = s_pair ();
    uint8_t frame[64];

    /* shorter than the header, with and without descriptors */
    s_header (frame, 1, 0, 2);
    s_expect_rejected (&p, frame, 5, 0, WD_ERR_FRAME);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN - 1, 2, WD_ERR_FRAME);

    /* len disagrees with the frame size, both ways */
    s_header (frame, 1, 3, 2);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN, 1, WD_ERR_FRAME);
    s_header (frame, 1, 1, 2);
    frame[12] = 0x01;
    frame[13] = 0x02;
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN + 2, 1, WD_ERR_FRAME);
    s_header (frame, 1, WD_CHAN_MAX_BODY + 1, 2);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN + 2, 0, WD_ERR_FRAME);

    /* too many descriptors: one over (all arrive), and far over (MSG_CTRUNC) */
    s_header (frame, 1, 0, 2);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN, WD_CHAN_MAX_FDS + 1, WD_ERR_FDS);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN, 20, WD_ERR_FDS);

    /* bodies that are not one canonical msgpack value */
    const uint8_t unsorted[] = { 0x82, 0xa1, 'b', 0x01, 0xa1, 'a', 0x02 };
    s_header (frame, 1, sizeof unsorted, 2);
    memcpy (frame + WD_CHAN_HEADER_LEN, unsorted, sizeof unsorted);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN + sizeof unsorted, 2, WD_ERR_KEYS_UNSORTED);
    const uint8_t trailing[] = { 0x01, 0x02 };
    s_header (frame, 1, sizeof trailing, 2);
    memcpy (frame + WD_CHAN_HEADER_LEN, trailing, sizeof trailing);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN + sizeof trailing, 0, WD_ERR_TRAILING);
    const uint8_t wide_int[] = { 0xcc, 0x05 }; /* 5 as uint8: not shortest */
    s_header (frame, 1, sizeof wide_int, 2);
    memcpy (frame + WD_CHAN_HEADER_LEN, wide_int, sizeof wide_int);
    s_expect_rejected (&p, frame, WD_CHAN_HEADER_LEN + sizeof wide_int, 0, WD_ERR_INT_NONCANONICAL);

    /* a zero-length frame from a live peer is malformed, not end of file */
    s_expect_rejected (&p, frame, 0, 0, WD_ERR_FRAME);
    s_expect_still_works (&p);

    s_pair_close (&p);
}

/* One byte over the largest frame: the receive buffer holds exactly one
   maximal frame, so the kernel truncates and flags this one. The default
   SO_SNDBUF (212992, frames up to 212960 bytes) lets the raw side send it. */
static void
test_rejects_oversize_frame (void **state)
{
    (void)state;
    pair_t p = s_pair ();
    size_t len = WD_CHAN_HEADER_LEN + WD_CHAN_MAX_BODY + 1;
    uint8_t *frame = calloc (1, len);
    assert_non_null (frame);
    s_header (frame, 1, WD_CHAN_MAX_BODY + 1, 2);
    s_expect_rejected (&p, frame, len, 0, WD_ERR_FRAME_SIZE);
    s_expect_rejected (&p, frame, len, 3, WD_ERR_FRAME_SIZE);
    /* the truncated tail was discarded with the frame */
    s_expect_still_works (&p);
    free (frame);
    s_pair_close (&p);
}

static void
test_end_of_file (void **state)
{
    (void)state;
    pair_t p = s_pair ();
    uint8_t frame[WD_CHAN_HEADER_LEN];
    s_header (frame, 1, 0, 2);
    s_raw_send (p.raw, frame, sizeof frame, NULL, 0);
    close (p.raw);
    p.raw = -1;
    wd_chan_msg_t msg;
    /* a frame queued before the close is still delivered */
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_OK);
    wd_chan_msg_clear (&msg);
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_CLOSED);
    s_assert_cleared (&msg);
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_CLOSED);
    s_pair_close (&p);

    /* shutdown for writing is end of file too */
    p = s_pair ();
    assert_int_equal (shutdown (p.raw, SHUT_WR), 0);
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_CLOSED);
    s_pair_close (&p);

    /* a peer that closed with our frames unread: ECONNRESET, also closed */
    p = s_pair ();
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_OK);
    close (p.raw);
    p.raw = -1;
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_CLOSED);
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_CLOSED);
    s_pair_close (&p);
}

static void
test_nonblocking_empty (void **state)
{
    (void)state;
    pair_t p = s_pair ();
    int fd = wd_chan_fd (p.chan);
    assert_int_equal (fcntl (fd, F_SETFL, fcntl (fd, F_GETFL) | O_NONBLOCK), 0);
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_AGAIN);
    s_assert_cleared (&msg);
    s_expect_still_works (&p);
    assert_int_equal (wd_chan_recv (p.chan, &msg), WD_ERR_AGAIN);
    s_pair_close (&p);
}

/* SIGPIPE's default action would kill the test program: reaching the
   asserts is the proof that MSG_NOSIGNAL is used. */
static void
test_send_to_closed_peer (void **state)
{
    (void)state;
    pair_t p = s_pair ();
    close (p.raw);
    p.raw = -1;
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_ERR_CLOSED);
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_ERR_CLOSED);
    s_pair_close (&p);

    /* the peer closed with frames of ours unread: ECONNRESET first */
    p = s_pair ();
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_OK);
    close (p.raw);
    p.raw = -1;
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_ERR_CLOSED);
    assert_int_equal (wd_chan_send (p.chan, 1, 2, NULL, 0, NULL, 0), WD_ERR_CLOSED);
    s_pair_close (&p);
}

/* The contract says send blocks while the peer's queue is full, also on a
   descriptor made non-blocking: a child drains the queue late, and every
   send must still succeed in order. */
static void
test_send_waits_when_full (void **state)
{
    (void)state;
    enum { FRAMES = 200 };
    int sv[2];
    assert_int_equal (wd_chan_socketpair (sv), 0);
    pid_t child = fork ();
    assert_true (child >= 0);
    if (child == 0) {
        close (sv[0]);
        wd_chan_t *b = wd_chan_new (sv[1]);
        usleep (200 * 1000);
        for (uint32_t i = 0; i < FRAMES; i++) {
            wd_chan_msg_t msg;
            if (wd_chan_recv (b, &msg) != WD_OK || msg.peer != i)
                _exit (1);
            wd_chan_msg_clear (&msg);
        }
        _exit (0);
    }
    close (sv[1]);
    wd_chan_t *a = wd_chan_new (sv[0]);
    assert_int_equal (fcntl (sv[0], F_SETFL, O_NONBLOCK), 0);
    /* 200 frames of 4 KiB are far more than the default SO_SNDBUF holds */
    static uint8_t body[1 + 2 + 4096] = { 0xc5, 0x10, 0x00 }; /* bin16 of 4096 bytes */
    for (uint32_t i = 0; i < FRAMES; i++)
        assert_int_equal (wd_chan_send (a, 1, i, body, sizeof body, NULL, 0), WD_OK);
    int status;
    assert_int_equal (waitpid (child, &status, 0), child);
    assert_true (WIFEXITED (status));
    assert_int_equal (WEXITSTATUS (status), 0);
    wd_chan_destroy (&a);
}

static void
s_path (char *buf, size_t size, const char *name)
{
    int n = snprintf (buf, size, "%s/%s", test_tmpdir (), name);
    assert_true (n > 0 && (size_t)n < size);
}

static void
test_listen_accept_connect (void **state)
{
    (void)state;
    char path[256];
    s_path (path, sizeof path, "ctl.sock");
    mode_t old_mask = umask (022); /* would strip group write without the chmod */
    int lfd = wd_chan_listen (path, 0660);
    umask (old_mask);
    assert_true (lfd >= 0);
    struct stat st;
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISSOCK (st.st_mode));
    assert_int_equal (st.st_mode & 07777, 0660);
    assert_true (fcntl (lfd, F_GETFL) & O_NONBLOCK);
    assert_true (fcntl (lfd, F_GETFD) & FD_CLOEXEC);

    uid_t uid = (uid_t)-1;
    gid_t gid = (gid_t)-1;
    pid_t pid = -1;
    errno = 0;
    assert_null (wd_chan_accept (lfd, &uid, &gid, &pid));
    assert_int_equal (errno, EAGAIN);

    wd_chan_t *client = wd_chan_connect (path);
    assert_non_null (client);
    assert_true (fcntl (wd_chan_fd (client), F_GETFD) & FD_CLOEXEC);
    wd_chan_t *server = wd_chan_accept (lfd, &uid, &gid, &pid);
    assert_non_null (server);
    assert_int_equal (uid, getuid ());
    assert_int_equal (gid, getgid ());
    assert_int_equal (pid, getpid ());
    int sfd = wd_chan_fd (server);
    assert_false (fcntl (sfd, F_GETFL) & O_NONBLOCK); /* accepted channels block */
    assert_true (fcntl (sfd, F_GETFD) & FD_CLOEXEC);

    const uint8_t body[] = { 0xa2, 'h', 'i' };
    wd_chan_msg_t msg;
    assert_int_equal (wd_chan_send (client, 7, 8, body, sizeof body, NULL, 0), WD_OK);
    assert_int_equal (wd_chan_recv (server, &msg), WD_OK);
    assert_int_equal (msg.type, 7);
    assert_memory_equal (msg.body, body, sizeof body);
    wd_chan_msg_clear (&msg);
    assert_int_equal (wd_chan_send (server, 9, 8, NULL, 0, NULL, 0), WD_OK);
    assert_int_equal (wd_chan_recv (client, &msg), WD_OK);
    assert_int_equal (msg.type, 9);
    wd_chan_msg_clear (&msg);

    wd_chan_destroy (&client);
    assert_int_equal (wd_chan_recv (server, &msg), WD_ERR_CLOSED);
    wd_chan_destroy (&server);
    close (lfd);

    /* another mode, and NULL credential pointers */
    s_path (path, sizeof path, "private.sock");
    lfd = wd_chan_listen (path, 0600);
    assert_true (lfd >= 0);
    assert_int_equal (lstat (path, &st), 0);
    assert_int_equal (st.st_mode & 07777, 0600);
    client = wd_chan_connect (path);
    assert_non_null (client);
    server = wd_chan_accept (lfd, NULL, NULL, NULL);
    assert_non_null (server);
    wd_chan_destroy (&client);
    wd_chan_destroy (&server);
    close (lfd);
}

static void
test_listen_replaces_only_stale_sockets (void **state)
{
    (void)state;
    char path[256];
    struct stat st;

    /* a socket file left by a process that is gone */
    s_path (path, sizeof path, "stale.sock");
    int s = socket (AF_UNIX, SOCK_SEQPACKET, 0);
    struct sockaddr_un addr = { .sun_family = AF_UNIX };
    memcpy (addr.sun_path, path, strlen (path) + 1);
    assert_int_equal (bind (s, (struct sockaddr *)&addr, sizeof addr), 0);
    close (s);
    errno = 0;
    assert_null (wd_chan_connect (path));
    assert_int_equal (errno, ECONNREFUSED);
    int lfd = wd_chan_listen (path, 0660);
    assert_true (lfd >= 0);
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISSOCK (st.st_mode));

    /* a socket somebody still listens on is not stale */
    errno = 0;
    assert_int_equal (wd_chan_listen (path, 0660), -1);
    assert_int_equal (errno, EADDRINUSE);
    /* the probe that found it alive is the first connection in the backlog,
       already closed; the listener still serves new clients */
    wd_chan_msg_t msg;
    wd_chan_t *server = wd_chan_accept (lfd, NULL, NULL, NULL);
    assert_non_null (server);
    assert_int_equal (wd_chan_recv (server, &msg), WD_ERR_CLOSED);
    wd_chan_destroy (&server);
    wd_chan_t *client = wd_chan_connect (path);
    assert_non_null (client);
    server = wd_chan_accept (lfd, NULL, NULL, NULL);
    assert_non_null (server);
    assert_int_equal (wd_chan_send (client, 1, 1, NULL, 0, NULL, 0), WD_OK);
    assert_int_equal (wd_chan_recv (server, &msg), WD_OK);
    wd_chan_msg_clear (&msg);
    wd_chan_destroy (&server);
    wd_chan_destroy (&client);
    close (lfd);

    /* never any other kind of file */
    s_path (path, sizeof path, "regular");
    FILE *f = fopen (path, "w");
    assert_non_null (f);
    fputs ("keep me", f);
    fclose (f);
    errno = 0;
    assert_int_equal (wd_chan_listen (path, 0660), -1);
    assert_int_equal (errno, EEXIST);
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISREG (st.st_mode));
    assert_int_equal (st.st_size, 7);

    s_path (path, sizeof path, "dir");
    assert_int_equal (mkdir (path, 0700), 0);
    errno = 0;
    assert_int_equal (wd_chan_listen (path, 0660), -1);
    assert_int_equal (errno, EEXIST);

    s_path (path, sizeof path, "link");
    assert_int_equal (symlink ("regular", path), 0);
    errno = 0;
    assert_int_equal (wd_chan_listen (path, 0660), -1);
    assert_int_equal (errno, EEXIST);
    assert_int_equal (lstat (path, &st), 0);
    assert_true (S_ISLNK (st.st_mode));

    /* a path that does not fit sun_path */
    char long_path[sizeof addr.sun_path + 8];
    memset (long_path, 'a', sizeof long_path - 1);
    long_path[0] = '/';
    long_path[sizeof long_path - 1] = '\0';
    errno = 0;
    assert_int_equal (wd_chan_listen (long_path, 0660), -1);
    assert_int_equal (errno, ENAMETOOLONG);
    errno = 0;
    assert_null (wd_chan_connect (long_path));
    assert_int_equal (errno, ENAMETOOLONG);

    s_path (path, sizeof path, "nobody.sock");
    errno = 0;
    assert_null (wd_chan_connect (path));
    assert_int_equal (errno, ENOENT);
}

static void
test_frame_parse (void **state)
{
    (void)state;
    uint32_t type = 0, peer = 0;
    const uint8_t *body = NULL;
    size_t body_len = 99;
    uint8_t frame[WD_CHAN_HEADER_LEN + 4];
    s_header (frame, 0xa0b0c0d0, 1, 0x01020304);
    frame[12] = 0x7f;
    assert_int_equal (wd_chan_frame_parse (frame, 13, &type, &peer, &body, &body_len), WD_OK);
    assert_int_equal (type, 0xa0b0c0d0);
    assert_int_equal (peer, 0x01020304);
    assert_ptr_equal (body, frame + WD_CHAN_HEADER_LEN);
    assert_int_equal (body_len, 1);

    s_header (frame, 1, 0, 2);
    assert_int_equal (wd_chan_frame_parse (frame, 12, &type, &peer, &body, &body_len), WD_OK);
    assert_int_equal (body_len, 0);
    assert_int_equal (wd_chan_frame_parse (NULL, 0, &type, &peer, &body, &body_len), WD_ERR_FRAME);
    assert_int_equal (wd_chan_frame_parse (frame, 11, &type, &peer, &body, &body_len),
                      WD_ERR_FRAME);
    assert_int_equal (wd_chan_frame_parse (frame, 13, &type, &peer, &body, &body_len),
                      WD_ERR_FRAME);
    s_header (frame, 1, 0xffffffff, 2);
    assert_int_equal (wd_chan_frame_parse (frame, 12, &type, &peer, &body, &body_len),
                      WD_ERR_FRAME);
    s_header (frame, 1, 1, 2);
    frame[12] = 0xc1; /* never used */
    assert_int_equal (wd_chan_frame_parse (frame, 13, &type, &peer, &body, &body_len),
                      WD_ERR_BAD_TYPE);

    /* too large, whether or not the header agrees */
    size_t len = WD_CHAN_HEADER_LEN + WD_CHAN_MAX_BODY + 1;
    uint8_t *big = calloc (1, len);
    assert_non_null (big);
    s_header (big, 1, WD_CHAN_MAX_BODY + 1, 2);
    assert_int_equal (wd_chan_frame_parse (big, len, &type, &peer, &body, &body_len),
                      WD_ERR_FRAME_SIZE);
    s_header (big, 1, 3, 2);
    assert_int_equal (wd_chan_frame_parse (big, len, &type, &peer, &body, &body_len),
                      WD_ERR_FRAME_SIZE);
    free (big);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_round_trip),
        cmocka_unit_test (test_empty_body),
        cmocka_unit_test (test_size_limits),
        cmocka_unit_test (test_passes_fds),
        cmocka_unit_test (test_rejections),
        cmocka_unit_test (test_rejects_oversize_frame),
        cmocka_unit_test (test_end_of_file),
        cmocka_unit_test (test_nonblocking_empty),
        cmocka_unit_test (test_send_to_closed_peer),
        cmocka_unit_test (test_send_waits_when_full),
        cmocka_unit_test (test_listen_accept_connect),
        cmocka_unit_test (test_listen_replaces_only_stale_sockets),
        cmocka_unit_test (test_frame_parse),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
