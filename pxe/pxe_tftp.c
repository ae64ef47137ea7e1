/*
 * pxe_tftp: read-only TFTP server for PXE boot (see pxe_tftp.h and the
 * "TFTP" section of docs/PROTOCOL.md).
 *
 * Every transfer is an s_xfer_t with its own ephemeral UDP socket, all
 * registered in one epoll set. Blocks are counted with 64-bit indexes
 * internally (block n of the file is index n, sent on the wire as n mod
 * 65536), so files of any size roll over the 16-bit block number as iPXE,
 * curl and atftp expect (block 65535 is followed by block 0). A transfer
 * sends up to `window` blocks past the last acknowledged one; an ACK moves
 * the window, a partial ACK rolls back to the block after it, a timeout
 * resends from there. A duplicate ACK never triggers a resend with window 1
 * (the Sorcerer's Apprentice fix of RFC 1350's successors); with a larger
 * window the first duplicate after progress is the receiver's loss signal
 * (RFC 7440 §4) and rolls back once.
 */

#include "pxe_tftp.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "pxe_path.h"
#include "pxe_sock.h"
#include "wd_log.h"

#define S_DEFAULT_MAX_TRANSFERS  512
#define S_DEFAULT_MAX_PER_CLIENT 16
#define S_DEFAULT_TIMEOUT_MS     1000
#define S_DEFAULT_RETRIES        5
#define S_DEFAULT_IN_FLIGHT      (128 * 1024)
#define S_RX_MAX                 2048 /* requests, ACKs and ERRORs are far shorter */
#define S_OACK_MAX               128
#define S_EVENTS                 64
#define S_DRAIN                  64 /* requests read from the server port per wakeup */
#define S_LOG_PER_SECOND         10

typedef struct s_xfer s_xfer_t;
struct s_xfer {
    pxe_tftp_t *server;
    s_xfer_t *next;
    int sock;
    int file_fd;   /* the file or its sealed copy, read with pread; or -1 */
    uint8_t *data; /* a generated boot script (owned), or NULL */
    bool approved; /* from the approved image set */
    bool dead;
    struct sockaddr_in peer;
    char filename[PXE_TFTP_NAME_MAX + 1];
    uint64_t size;       /* file size at open; never more is sent */
    uint32_t blksize;    /* negotiated */
    uint32_t window;     /* negotiated */
    uint64_t last_block; /* index of the final, short (maybe empty) block */
    uint64_t acked;      /* highest index the client acknowledged */
    uint64_t sent;       /* highest index sent so far */
    uint64_t hashed;     /* blocks fed into sha so far (in order, first send) */
    bool oack_pending;   /* OACK sent, ACK 0 not yet seen */
    bool rolled_back;    /* loss signal already answered since the last progress */
    unsigned tries;
    unsigned timeout_ms;
    int64_t deadline_ms;
    EVP_MD_CTX *sha; /* OpenSSL's SHA-256 uses SHA-NI/ARMv8 instructions: 6x libsodium's */
    size_t oack_len;
    uint8_t oack[S_OACK_MAX];
    uint8_t *buf; /* 4 + blksize */
};

struct pxe_tftp {
    int sock;
    int root_fd;
    int epfd;
    pxe_images_t *images; /* borrowed; NULL: the plain boot directory */
    char base_url[PXE_TFTP_URL_MAX + 1];
    bool pktinfo; /* listening on INADDR_ANY: learn each request's local address */
    struct sockaddr_in local;
    pxe_tftp_config_t config;
    pxe_tftp_served_fn *served_fn;
    void *served_arg;
    s_xfer_t *xfers;
    pxe_tftp_stats_t stats;
    time_t log_second;
    unsigned log_count;
    uint8_t rx[S_RX_MAX];
};

/* ---- packet parsing ------------------------------------------------------------------------ */

static uint16_t
s_get16 (const uint8_t *p)
{
    return (uint16_t)((p[0] << 8) | p[1]);
}

static void
s_put16 (uint8_t *p, uint16_t v)
{
    p[0] = (uint8_t)(v >> 8);
    p[1] = (uint8_t)v;
}

/* A NUL-terminated string starting at pkt[*pos]; advances *pos past the
   NUL. Returns NULL when there is no NUL before len. */
static const char *
s_take_string (const uint8_t *pkt, size_t len, size_t *pos, size_t *slen)
{
    if (*pos >= len)
        return NULL;
    const uint8_t *nul = memchr (pkt + *pos, 0, len - *pos);
    if (!nul)
        return NULL;
    const char *s = (const char *)pkt + *pos;
    *slen = (size_t)(nul - (pkt + *pos));
    *pos += *slen + 1;
    return s;
}

/* Strict unsigned decimal: 1..20 digits, no sign, no space, no overflow. */
static int
s_parse_number (const char *s, size_t slen, uint64_t *value)
{
    if (slen == 0 || slen > 20)
        return PXE_ERR_TFTP_OPTION_VALUE;
    uint64_t v = 0;
    for (size_t i = 0; i < slen; i++) {
        if (s[i] < '0' || s[i] > '9')
            return PXE_ERR_TFTP_OPTION_VALUE;
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10)
            return PXE_ERR_TFTP_OPTION_VALUE;
        v = v * 10 + d;
    }
    *value = v;
    return 0;
}

static bool
s_all_zero (const uint8_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (p[i])
            return false;
    return true;
}

int
pxe_tftp_request_parse (const uint8_t *pkt, size_t len, pxe_tftp_request_t *req)
{
    assert (pkt || len == 0);
    assert (req);
    if (len < 2)
        return PXE_ERR_TFTP_SHORT;
    pxe_tftp_request_t r;
    memset (&r, 0, sizeof r);
    r.opcode = s_get16 (pkt);
    if (r.opcode != PXE_TFTP_RRQ && r.opcode != PXE_TFTP_WRQ)
        return PXE_ERR_TFTP_OPCODE;

    size_t pos = 2, slen;
    const char *name = s_take_string (pkt, len, &pos, &slen);
    if (!name)
        return PXE_ERR_TFTP_UNTERMINATED;
    if (slen == 0 || slen > PXE_TFTP_NAME_MAX)
        return PXE_ERR_TFTP_FILENAME;
    for (size_t i = 0; i < slen; i++)
        if ((uint8_t)name[i] < 0x20 || (uint8_t)name[i] == 0x7f)
            return PXE_ERR_TFTP_FILENAME;
    memcpy (r.filename, name, slen);
    r.filename[slen] = '\0';

    const char *mode = s_take_string (pkt, len, &pos, &slen);
    if (!mode)
        return PXE_ERR_TFTP_UNTERMINATED;
    if (slen == 5 && strncasecmp (mode, "octet", 5) == 0)
        ;
    else if ((slen == 8 && strncasecmp (mode, "netascii", 8) == 0) ||
             (slen == 4 && strncasecmp (mode, "mail", 4) == 0))
        return PXE_ERR_TFTP_NETASCII;
    else
        return PXE_ERR_TFTP_MODE;

    /* RFC 2347 options: name NUL value NUL pairs. Trailing NUL padding
       after the last pair is tolerated. */
    while (pos < len) {
        if (s_all_zero (pkt + pos, len - pos))
            break;
        size_t nlen, vlen;
        const char *opt = s_take_string (pkt, len, &pos, &nlen);
        if (!opt)
            return PXE_ERR_TFTP_UNTERMINATED;
        if (pos >= len)
            return PXE_ERR_TFTP_OPTION_PAIR;
        const char *val = s_take_string (pkt, len, &pos, &vlen);
        if (!val)
            return PXE_ERR_TFTP_UNTERMINATED;
        bool *has = NULL;
        if (nlen == 7 && strncasecmp (opt, "blksize", 7) == 0)
            has = &r.has_blksize;
        else if (nlen == 5 && strncasecmp (opt, "tsize", 5) == 0)
            has = &r.has_tsize;
        else if (nlen == 7 && strncasecmp (opt, "timeout", 7) == 0)
            has = &r.has_timeout;
        else if (nlen == 10 && strncasecmp (opt, "windowsize", 10) == 0)
            has = &r.has_windowsize;
        else
            continue; /* unknown options are ignored (RFC 2347) */
        if (*has)
            return PXE_ERR_TFTP_OPTION_DUPLICATE;
        *has = true;
        uint64_t v;
        int rc = s_parse_number (val, vlen, &v);
        if (rc)
            return rc;
        if (has == &r.has_blksize) {
            if (v < PXE_TFTP_BLKSIZE_MIN)
                return PXE_ERR_TFTP_OPTION_RANGE;
            r.blksize = v > PXE_TFTP_BLKSIZE_MAX ? PXE_TFTP_BLKSIZE_MAX : (uint32_t)v;
        } else if (has == &r.has_tsize)
            r.tsize = v;
        else if (has == &r.has_timeout) {
            if (v < 1 || v > PXE_TFTP_TIMEOUT_MAX)
                return PXE_ERR_TFTP_OPTION_RANGE;
            r.timeout = (uint32_t)v;
        } else {
            if (v < 1 || v > PXE_TFTP_WINDOW_MAX)
                return PXE_ERR_TFTP_OPTION_RANGE;
            r.windowsize = (uint32_t)v;
        }
    }
    *req = r;
    return 0;
}

int
pxe_tftp_reply_parse (const uint8_t *pkt, size_t len, pxe_tftp_reply_t *reply)
{
    assert (pkt || len == 0);
    assert (reply);
    if (len < 2)
        return PXE_ERR_TFTP_SHORT;
    pxe_tftp_reply_t r;
    memset (&r, 0, sizeof r);
    r.opcode = s_get16 (pkt);
    if (r.opcode == PXE_TFTP_ACK) {
        if (len != 4)
            return PXE_ERR_TFTP_LENGTH;
        r.block = s_get16 (pkt + 2);
    } else if (r.opcode == PXE_TFTP_ERROR) {
        if (len < 4)
            return PXE_ERR_TFTP_LENGTH;
        r.code = s_get16 (pkt + 2);
        r.message = (const char *)pkt + 4;
        const uint8_t *nul = memchr (pkt + 4, 0, len - 4);
        r.message_len = nul ? (size_t)(nul - (pkt + 4)) : len - 4;
    } else
        return PXE_ERR_TFTP_OPCODE;
    *reply = r;
    return 0;
}

/* ---- the server ------------------------------------------------------------------------------ */

static int64_t
s_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void
s_log_reject (pxe_tftp_t *self, const struct sockaddr_in *from, const char *what, int rc)
{
    time_t now = time (NULL);
    if (now != self->log_second) {
        self->log_second = now;
        self->log_count = 0;
    }
    if (self->log_count++ >= S_LOG_PER_SECOND)
        return;
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop (AF_INET, &from->sin_addr, ip, sizeof ip);
    wd_log_info ("tftp: %s from %s:%u: %s (%s)", what, ip, ntohs (from->sin_port),
                 pxe_strerror (rc), pxe_err_name (rc));
}

static void
s_send_error (int sock, const struct sockaddr_in *to, uint16_t code, const char *msg)
{
    uint8_t pkt[128];
    size_t mlen = strlen (msg);
    if (mlen > sizeof pkt - 5)
        mlen = sizeof pkt - 5;
    s_put16 (pkt, PXE_TFTP_ERROR);
    s_put16 (pkt + 2, code);
    memcpy (pkt + 4, msg, mlen);
    pkt[4 + mlen] = 0;
    /* Best effort: a lost error packet only costs the client a timeout. */
    (void)!sendto (sock, pkt, 5 + mlen, 0, (const struct sockaddr *)to, sizeof *to);
}

static void
s_xfer_kill (s_xfer_t *x)
{
    if (x->dead)
        return;
    x->dead = true;
    x->server->stats.active--;
    epoll_ctl (x->server->epfd, EPOLL_CTL_DEL, x->sock, NULL);
}

static void
s_xfer_free (s_xfer_t *x)
{
    if (x->sock >= 0)
        close (x->sock);
    if (x->file_fd >= 0)
        close (x->file_fd);
    free (x->data);
    EVP_MD_CTX_free (x->sha);
    free (x->buf);
    free (x);
}

static void
s_xfer_fail (s_xfer_t *x, const char *why)
{
    char ip[INET_ADDRSTRLEN] = "?";
    inet_ntop (AF_INET, &x->peer.sin_addr, ip, sizeof ip);
    wd_log_info ("tftp: %s to %s:%u failed after %llu of %llu bytes: %s", x->filename, ip,
                 ntohs (x->peer.sin_port), (unsigned long long)(x->acked * x->blksize),
                 (unsigned long long)x->size, why);
    x->server->stats.failed++;
    s_xfer_kill (x);
}

static void
s_arm (s_xfer_t *x)
{
    x->deadline_ms = s_now_ms () + x->timeout_ms;
}

/* Sends block index i (1-based, 64-bit); hashes it when it is sent for the
   first time. Returns false when the transfer had to be abandoned. */
static bool
s_send_block (s_xfer_t *x, uint64_t i)
{
    uint64_t off = (i - 1) * x->blksize;
    size_t n =
        off >= x->size ? 0 : (size_t)(x->size - off < x->blksize ? x->size - off : x->blksize);
    s_put16 (x->buf, PXE_TFTP_DATA);
    s_put16 (x->buf + 2, (uint16_t)i);
    size_t got = 0;
    if (x->data) {
        memcpy (x->buf + 4, x->data + off, n);
        got = n;
    }
    while (got < n) {
        ssize_t r = pread (x->file_fd, x->buf + 4 + got, n - got, (off_t)(off + got));
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0) {
            s_send_error (x->sock, &x->peer, PXE_TFTP_EUNDEF, "file changed while serving");
            s_xfer_fail (x, "file shrank or could not be read");
            return false;
        }
        got += (size_t)r;
    }
    if (i == x->hashed + 1) {
        if (EVP_DigestUpdate (x->sha, x->buf + 4, n) != 1) {
            s_send_error (x->sock, &x->peer, PXE_TFTP_EUNDEF, "internal error");
            s_xfer_fail (x, "digest failed");
            return false;
        }
        x->hashed = i;
    }
    if (sendto (x->sock, x->buf, 4 + n, 0, (struct sockaddr *)&x->peer, sizeof x->peer) < 0 &&
        errno != EAGAIN && errno != ENOBUFS && errno != EINTR) {
        s_xfer_fail (x, "send failed");
        return false;
    }
    if (i > x->sent)
        x->sent = i;
    return true;
}

/* Sends blocks from index `from` up to the end of the window. */
static void
s_send_window (s_xfer_t *x, uint64_t from)
{
    uint64_t end = x->acked + x->window;
    if (end > x->last_block)
        end = x->last_block;
    for (uint64_t i = from; i <= end; i++)
        if (!s_send_block (x, i))
            return;
    s_arm (x);
}

/* Reports what the transfer served; confirmed when the final ACK came. */
static void
s_xfer_complete (s_xfer_t *x, bool confirmed)
{
    pxe_tftp_t *self = x->server;
    pxe_tftp_served_t served;
    memset (&served, 0, sizeof served);
    served.filename = x->filename;
    served.client = x->peer;
    served.bytes = x->size;
    served.blksize = x->blksize;
    served.windowsize = x->window;
    served.confirmed = confirmed;
    served.approved = x->approved;
    if (EVP_DigestFinal_ex (x->sha, served.sha256, NULL) != 1) {
        s_xfer_fail (x, "digest failed");
        return;
    }
    if (confirmed)
        self->stats.completed++;
    else
        self->stats.unconfirmed++;
    if (self->served_fn)
        self->served_fn (self->served_arg, &served);
    s_xfer_kill (x);
}

static void
s_xfer_on_ack (s_xfer_t *x, uint16_t block)
{
    pxe_tftp_t *self = x->server;
    if (x->oack_pending) {
        if (block != 0) {
            self->stats.duplicate_acks++;
            return;
        }
        x->oack_pending = false;
        x->tries = 0;
        s_send_window (x, 1);
        return;
    }
    uint16_t d = (uint16_t)(block - (uint16_t)x->acked);
    if (d == 0) {
        self->stats.duplicate_acks++;
        /* Window 1: never resend on a duplicate (Sorcerer's Apprentice).
           Larger windows: the first duplicate after progress is the
           receiver's loss signal (RFC 7440); answer it once. */
        if (x->window > 1 && x->sent > x->acked && !x->rolled_back) {
            x->rolled_back = true;
            self->stats.retransmits++;
            s_send_window (x, x->acked + 1);
        }
        return;
    }
    if (d > x->sent - x->acked) {
        self->stats.duplicate_acks++; /* an old ACK from before the last progress */
        return;
    }
    x->acked += d;
    x->tries = 0;
    x->rolled_back = false;
    if (x->acked == x->last_block) {
        s_xfer_complete (x, true);
        return;
    }
    if (x->acked < x->sent)
        self->stats.retransmits++; /* partial window: the receiver lost the block after it */
    s_send_window (x, x->acked + 1);
}

static void
s_xfer_on_timeout (s_xfer_t *x)
{
    if (++x->tries > x->server->config.retries) {
        /* Everything was sent and all but the final window acknowledged
           (with windowsize 1: all but the final block): the file was
           served, only the client's last ACK is missing. */
        if (!x->oack_pending && x->sent == x->last_block && x->last_block - x->acked <= x->window)
            s_xfer_complete (x, false);
        else
            s_xfer_fail (x, "client stopped answering");
        return;
    }
    x->server->stats.retransmits++;
    if (x->oack_pending) {
        (void)!sendto (x->sock, x->oack, x->oack_len, 0, (struct sockaddr *)&x->peer,
                       sizeof x->peer);
        s_arm (x);
    } else
        s_send_window (x, x->acked + 1);
}

static void
s_xfer_readable (s_xfer_t *x)
{
    /* One packet per wakeup: the epoll set is level-triggered, so the next
       one is read on the next pass, and a lock-step transfer saves the
       recvfrom that would only say EAGAIN. */
    pxe_tftp_t *self = x->server;
    struct sockaddr_in from;
    socklen_t flen = sizeof from;
    ssize_t r =
        recvfrom (x->sock, self->rx, sizeof self->rx, MSG_TRUNC, (struct sockaddr *)&from, &flen);
    if (r < 0)
        return;
    if (flen != sizeof from || from.sin_family != AF_INET ||
        from.sin_addr.s_addr != x->peer.sin_addr.s_addr || from.sin_port != x->peer.sin_port) {
        self->stats.wrong_tid++;
        s_send_error (x->sock, &from, PXE_TFTP_EBADID, "unknown transfer ID");
        return;
    }
    pxe_tftp_reply_t reply;
    int rc = (size_t)r > sizeof self->rx ? PXE_ERR_TFTP_LENGTH
                                         : pxe_tftp_reply_parse (self->rx, (size_t)r, &reply);
    if (rc) {
        self->stats.malformed++;
        s_log_reject (self, &from, "malformed reply", rc);
        return;
    }
    if (reply.opcode == PXE_TFTP_ERROR) {
        char why[80];
        snprintf (why, sizeof why, "client sent error %u: %.*s", reply.code,
                  (int)(reply.message_len > 60 ? 60 : reply.message_len), reply.message);
        for (char *p = why; *p; p++)
            if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
                *p = '?';
        s_xfer_fail (x, why);
        return;
    }
    s_xfer_on_ack (x, reply.block);
}

static unsigned
s_count_client (const pxe_tftp_t *self, in_addr_t addr)
{
    unsigned n = 0;
    for (const s_xfer_t *x = self->xfers; x; x = x->next)
        if (!x->dead && x->peer.sin_addr.s_addr == addr)
            n++;
    return n;
}

static size_t
s_oack_put (uint8_t *p, size_t at, const char *name, uint64_t value)
{
    int n =
        snprintf ((char *)p + at, S_OACK_MAX - at, "%s%c%llu", name, 0, (unsigned long long)value);
    return at + (size_t)n + 1;
}

/* Starts a transfer for a parsed read request whose file is open (file_fd)
   or generated (data, size bytes). Takes ownership of file_fd and data. */
static int
s_xfer_start (pxe_tftp_t *self, const pxe_tftp_request_t *req, const struct sockaddr_in *peer,
              const struct in_addr *local, int file_fd, uint8_t *data, uint64_t size, bool approved)
{
    s_xfer_t *x = calloc (1, sizeof *x);
    if (!x) {
        if (file_fd >= 0)
            close (file_fd);
        free (data);
        return WD_ERR_NOMEM;
    }
    x->server = self;
    x->file_fd = file_fd;
    x->data = data;
    x->approved = approved;
    x->peer = *peer;
    snprintf (x->filename, sizeof x->filename, "%s", req->filename);
    x->size = size;
    x->blksize = req->has_blksize ? req->blksize : 512;
    x->window = 1;
    if (req->has_windowsize) {
        size_t cap = self->config.max_in_flight / x->blksize;
        x->window = req->windowsize < cap ? req->windowsize : (cap ? (uint32_t)cap : 1);
    }
    x->timeout_ms = req->has_timeout ? req->timeout * 1000 : self->config.timeout_ms;
    x->last_block = size / x->blksize + 1;
    x->sha = EVP_MD_CTX_new ();
    x->buf = malloc (4 + (size_t)x->blksize);
    x->sock = socket (AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr = *local };
    int rc = WD_ERR_NOMEM;
    if (!x->buf || !x->sha || EVP_DigestInit_ex (x->sha, EVP_sha256 (), NULL) != 1)
        goto out_free;
    rc = WD_ERR_IO;
    if (x->sock < 0 || bind (x->sock, (struct sockaddr *)&me, sizeof me) < 0)
        goto out_free;
    int sndbuf = (int)(self->config.max_in_flight + 2 * PXE_TFTP_PACKET_MAX);
    (void)setsockopt (x->sock, SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = x };
    if (epoll_ctl (self->epfd, EPOLL_CTL_ADD, x->sock, &ev) < 0) {
        rc = WD_ERR_IO;
        goto out_free;
    }
    x->next = self->xfers;
    self->xfers = x;
    self->stats.active++;

    /* tsize 0 is left out of the OACK: curl (7.88) aborts on it as
       "invalid tsize". An OACK with nothing in it is not sent at all
       (RFC 2347: the transfer then starts as in RFC 1350). */
    bool tsize = req->has_tsize && size > 0;
    if (req->has_blksize || tsize || req->has_timeout || req->has_windowsize) {
        s_put16 (x->oack, PXE_TFTP_OACK);
        size_t at = 2;
        if (req->has_blksize)
            at = s_oack_put (x->oack, at, "blksize", x->blksize);
        if (tsize)
            at = s_oack_put (x->oack, at, "tsize", size);
        if (req->has_timeout)
            at = s_oack_put (x->oack, at, "timeout", req->timeout);
        if (req->has_windowsize)
            at = s_oack_put (x->oack, at, "windowsize", x->window);
        x->oack_len = at;
        x->oack_pending = true;
        (void)!sendto (x->sock, x->oack, x->oack_len, 0, (struct sockaddr *)&x->peer,
                       sizeof x->peer);
        s_arm (x);
    } else
        s_send_window (x, 1);
    return 0;

out_free:
    s_xfer_free (x);
    return rc;
}

static void
s_refuse (pxe_tftp_t *self, const struct sockaddr_in *from, int rc)
{
    uint16_t code = PXE_TFTP_EACCESS;
    if (rc == PXE_ERR_PATH_NOT_FOUND || rc == PXE_ERR_PATH_NAME || rc == PXE_ERR_IMAGE_MISSING)
        code = PXE_TFTP_ENOTFOUND;
    else if (rc == PXE_ERR_TFTP_OPTION_RANGE)
        code = PXE_TFTP_EOPTNEG;
    else if (rc == PXE_ERR_TFTP_LIMIT || rc == PXE_ERR_TFTP_NETASCII || rc == WD_ERR_NOMEM ||
             rc == WD_ERR_IO)
        code = PXE_TFTP_EUNDEF;
    else if (rc >= PXE_ERR_TFTP_SHORT && rc <= PXE_ERR_TFTP_LENGTH)
        code = PXE_TFTP_EBADOP; /* a malformed request */
    s_send_error (self->sock, from, code, pxe_strerror (rc));
}

static void
s_handle_request (pxe_tftp_t *self, size_t len, const struct sockaddr_in *from,
                  const struct in_addr *local)
{
    pxe_tftp_request_t req;
    int rc =
        len > sizeof self->rx ? PXE_ERR_TFTP_LENGTH : pxe_tftp_request_parse (self->rx, len, &req);
    if (rc) {
        self->stats.malformed++;
        s_log_reject (self, from, "malformed request", rc);
        /* Never answer stray DATA/ACK/ERROR/OACK on the server port: an
           error in reply to an error could loop between two servers. */
        if (rc != PXE_ERR_TFTP_OPCODE && rc != PXE_ERR_TFTP_SHORT)
            s_refuse (self, from, rc);
        return;
    }
    self->stats.requests++;
    char path[PXE_PATH_MAX + 1];
    int fd = -1;
    uint8_t *data = NULL;
    uint64_t size = 0;
    struct stat st;
    if (req.opcode == PXE_TFTP_WRQ)
        rc = PXE_ERR_TFTP_WRITE;
    else if (self->stats.active >= self->config.max_transfers ||
             s_count_client (self, from->sin_addr.s_addr) >= self->config.max_per_client)
        rc = PXE_ERR_TFTP_LIMIT;
    else if (self->images) {
        /* Only the approved set, from its sealed copies. */
        char client[INET_ADDRSTRLEN] = "";
        inet_ntop (AF_INET, &from->sin_addr, client, sizeof client);
        pxe_image_file_t file;
        rc = pxe_images_open (self->images, req.filename, client,
                              self->base_url[0] ? self->base_url : NULL, &file);
        if (rc == 0) {
            fd = file.fd;
            data = file.data;
            size = file.size;
            file.fd = -1;
            file.data = NULL;
            pxe_images_file_release (&file);
        }
    } else if ((rc = pxe_path_check (req.filename, path, sizeof path)) == 0 &&
               (rc = pxe_path_open (self->root_fd, path, &self->config.no_openat2, &fd, &st)) == 0)
        size = (uint64_t)st.st_size;
    if (rc == 0)
        rc = s_xfer_start (self, &req, from, local, fd, data, size, self->images != NULL);
    if (rc) {
        self->stats.refused++;
        s_log_reject (self, from, req.filename, rc);
        s_refuse (self, from, rc);
    }
}

static void
s_server_readable (pxe_tftp_t *self)
{
    for (int n = 0; n < S_DRAIN; n++) {
        struct sockaddr_in from;
        union {
            char buf[CMSG_SPACE (sizeof (struct in_pktinfo))];
            struct cmsghdr align;
        } ctl;
        struct iovec iov = { .iov_base = self->rx, .iov_len = sizeof self->rx };
        struct msghdr msg = { .msg_name = &from,
                              .msg_namelen = sizeof from,
                              .msg_iov = &iov,
                              .msg_iovlen = 1,
                              .msg_control = ctl.buf,
                              .msg_controllen = sizeof ctl.buf };
        ssize_t r = recvmsg (self->sock, &msg, 0);
        if (r < 0)
            return;
        if (msg.msg_namelen != sizeof from || from.sin_family != AF_INET)
            continue;
        struct in_addr local = self->local.sin_addr;
        if (self->pktinfo)
            for (struct cmsghdr *c = CMSG_FIRSTHDR (&msg); c; c = CMSG_NXTHDR (&msg, c))
                if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                    struct in_pktinfo pi;
                    memcpy (&pi, CMSG_DATA (c), sizeof pi);
                    local = pi.ipi_spec_dst;
                }
        size_t len = (msg.msg_flags & MSG_TRUNC) ? sizeof self->rx + 1 : (size_t)r;
        s_handle_request (self, len, &from, &local);
    }
}

pxe_tftp_t *
pxe_tftp_new (int sock_fd, int root_fd, const pxe_tftp_config_t *config, int *err)
{
    int rc = WD_ERR_NOMEM;
    pxe_tftp_t *self = calloc (1, sizeof *self);
    if (!self)
        goto out_close;
    self->sock = sock_fd;
    self->root_fd = root_fd;
    self->epfd = -1;
    if (config)
        self->config = *config;
    if (!self->config.max_transfers)
        self->config.max_transfers = S_DEFAULT_MAX_TRANSFERS;
    if (!self->config.max_per_client)
        self->config.max_per_client = S_DEFAULT_MAX_PER_CLIENT;
    if (!self->config.timeout_ms)
        self->config.timeout_ms = S_DEFAULT_TIMEOUT_MS;
    if (!self->config.retries)
        self->config.retries = S_DEFAULT_RETRIES;
    if (!self->config.max_in_flight)
        self->config.max_in_flight = S_DEFAULT_IN_FLIGHT;

    int type = 0;
    socklen_t tlen = sizeof type, llen = sizeof self->local;
    rc = PXE_ERR_TFTP_ADDRESS;
    if (getsockopt (sock_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_DGRAM ||
        getsockname (sock_fd, (struct sockaddr *)&self->local, &llen) < 0 ||
        llen != sizeof self->local || self->local.sin_family != AF_INET)
        goto out_free;
    rc = WD_ERR_IO;
    int one = 1;
    if (self->local.sin_addr.s_addr == htonl (INADDR_ANY)) {
        if (setsockopt (sock_fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) < 0)
            goto out_free;
        self->pktinfo = true;
    }
    int fl = fcntl (sock_fd, F_GETFL);
    if (fl < 0 || fcntl (sock_fd, F_SETFL, fl | O_NONBLOCK) < 0)
        goto out_free;
    self->epfd = epoll_create1 (EPOLL_CLOEXEC);
    struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
    if (self->epfd < 0 || epoll_ctl (self->epfd, EPOLL_CTL_ADD, sock_fd, &ev) < 0)
        goto out_free;
    return self;

out_free:
    pxe_tftp_destroy (&self);
    if (err)
        *err = rc;
    return NULL;
out_close:
    close (sock_fd);
    close (root_fd);
    if (err)
        *err = rc;
    return NULL;
}

void
pxe_tftp_destroy (pxe_tftp_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pxe_tftp_t *self = *self_p;
        while (self->xfers) {
            s_xfer_t *x = self->xfers;
            self->xfers = x->next;
            s_xfer_free (x);
        }
        if (self->epfd >= 0)
            close (self->epfd);
        close (self->sock);
        close (self->root_fd);
        free (self);
        *self_p = NULL;
    }
}

void
pxe_tftp_set_images (pxe_tftp_t *self, pxe_images_t *images, const char *base_url)
{
    assert (self);
    self->images = images;
    snprintf (self->base_url, sizeof self->base_url, "%s", base_url ? base_url : "");
}

void
pxe_tftp_set_served (pxe_tftp_t *self, pxe_tftp_served_fn *fn, void *arg)
{
    assert (self);
    self->served_fn = fn;
    self->served_arg = arg;
}

int
pxe_tftp_fd (const pxe_tftp_t *self)
{
    assert (self);
    return self->epfd;
}

int
pxe_tftp_timeout_ms (const pxe_tftp_t *self)
{
    assert (self);
    int64_t now = s_now_ms (), best = -1;
    for (const s_xfer_t *x = self->xfers; x; x = x->next) {
        if (x->dead)
            continue;
        int64_t left = x->deadline_ms > now ? x->deadline_ms - now : 0;
        if (best < 0 || left < best)
            best = left;
    }
    return best > 60000 ? 60000 : (int)best;
}

static void
s_reap (pxe_tftp_t *self)
{
    s_xfer_t **pp = &self->xfers;
    while (*pp) {
        s_xfer_t *x = *pp;
        if (x->dead) {
            *pp = x->next;
            s_xfer_free (x);
        } else
            pp = &x->next;
    }
}

static int
s_dispatch (pxe_tftp_t *self, int wait_ms)
{
    struct epoll_event evs[S_EVENTS];
    int n = epoll_wait (self->epfd, evs, S_EVENTS, wait_ms);
    if (n < 0 && errno != EINTR)
        return WD_ERR_IO;
    for (int i = 0; i < n; i++) {
        s_xfer_t *x = evs[i].data.ptr;
        if (!x)
            s_server_readable (self);
        else if (!x->dead)
            s_xfer_readable (x);
    }
    int64_t now = s_now_ms ();
    for (s_xfer_t *x = self->xfers; x; x = x->next)
        if (!x->dead && x->deadline_ms <= now)
            s_xfer_on_timeout (x);
    s_reap (self);
    return 0;
}

int
pxe_tftp_dispatch (pxe_tftp_t *self)
{
    assert (self);
    return s_dispatch (self, 0);
}

int
pxe_tftp_run (pxe_tftp_t *self, volatile const int *stop)
{
    assert (self);
    assert (stop);
    while (!*stop) {
        int t = pxe_tftp_timeout_ms (self);
        if (t < 0 || t > 200)
            t = 200;
        int rc = s_dispatch (self, t);
        if (rc)
            return rc;
    }
    return 0;
}

void
pxe_tftp_stats (const pxe_tftp_t *self, pxe_tftp_stats_t *stats)
{
    assert (self);
    assert (stats);
    *stats = self->stats;
}

int
pxe_tftp_bind (const char *addr, uint16_t port, uint16_t *bound_port)
{
    return pxe_sock_bind (PXE_SOCK_UDP, addr, port, NULL, bound_port);
}
