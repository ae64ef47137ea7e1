/*
 * Unit tests for pxe_tftp: the request and reply parsers with their exact
 * rejection reasons, path confinement, and the server driven packet by
 * packet over loopback from this process (OACK contents, duplicate ACKs,
 * windows and rollback, block-number rollover, wrong TIDs, refusals,
 * limits, retransmission and give-up, the served-image measurement).
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <sodium.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pxe_tftp.h"
#include "test_support.h"

/* ---- parsers ----------------------------------------------------------------------------- */

/* Builds a request from NUL-separated pieces: s_req(buf, opcode, "name",
   "octet", "blksize", "1432", NULL). */
static size_t
s_req (uint8_t *buf, int opcode, ...)
{
    va_list ap;
    va_start (ap, opcode);
    buf[0] = 0;
    buf[1] = (uint8_t)opcode;
    size_t at = 2;
    const char *s;
    while ((s = va_arg (ap, const char *))) {
        size_t n = strlen (s);
        memcpy (buf + at, s, n + 1);
        at += n + 1;
    }
    va_end (ap);
    return at;
}

static void
test_request_valid (void **state)
{
    (void)state;
    uint8_t b[512];
    pxe_tftp_request_t r;
    size_t n = s_req (b, PXE_TFTP_RRQ, "/boot/ipxe.efi", "OCTET", "blksize", "1432", "TSize", "0",
                      "windowsize", "4", "timeout", "3", "multicast", "", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), 0);
    assert_int_equal (r.opcode, PXE_TFTP_RRQ);
    assert_string_equal (r.filename, "/boot/ipxe.efi");
    assert_true (r.has_blksize && r.has_tsize && r.has_windowsize && r.has_timeout);
    assert_int_equal (r.blksize, 1432);
    assert_int_equal (r.tsize, 0);
    assert_int_equal (r.windowsize, 4);
    assert_int_equal (r.timeout, 3);

    /* No options; trailing NUL padding tolerated; blksize clamped. */
    n = s_req (b, PXE_TFTP_WRQ, "x", "octet", NULL);
    b[n++] = 0;
    b[n++] = 0;
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), 0);
    assert_int_equal (r.opcode, PXE_TFTP_WRQ);
    assert_false (r.has_blksize || r.has_tsize || r.has_windowsize || r.has_timeout);
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "blksize", "99999", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), 0);
    assert_int_equal (r.blksize, PXE_TFTP_BLKSIZE_MAX);
}

static void
test_request_rejects (void **state)
{
    (void)state;
    uint8_t b[600] = { 0 };
    pxe_tftp_request_t r;
    size_t n;
    assert_int_equal (pxe_tftp_request_parse (b, 0, &r), PXE_ERR_TFTP_SHORT);
    b[0] = 0;
    assert_int_equal (pxe_tftp_request_parse (b, 1, &r), PXE_ERR_TFTP_SHORT);
    n = s_req (b, PXE_TFTP_DATA, "x", "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_OPCODE);
    n = s_req (b, 9, "x", "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_OPCODE);
    n = s_req (b, PXE_TFTP_RRQ, "x", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n - 1, &r), PXE_ERR_TFTP_UNTERMINATED);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_UNTERMINATED); /* no mode */
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n - 1, &r), PXE_ERR_TFTP_UNTERMINATED);
    n = s_req (b, PXE_TFTP_RRQ, "", "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_FILENAME);
    n = s_req (b, PXE_TFTP_RRQ, "a\nb", "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_FILENAME);
    char longname[PXE_TFTP_NAME_MAX + 2];
    memset (longname, 'a', sizeof longname - 1);
    longname[sizeof longname - 1] = '\0';
    n = s_req (b, PXE_TFTP_RRQ, longname, "octet", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_FILENAME);
    n = s_req (b, PXE_TFTP_RRQ, "x", "binary", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_MODE);
    n = s_req (b, PXE_TFTP_RRQ, "x", "", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_MODE);
    n = s_req (b, PXE_TFTP_RRQ, "x", "netascii", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_NETASCII);
    n = s_req (b, PXE_TFTP_RRQ, "x", "Mail", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_NETASCII);

    static const struct {
        const char *name, *value;
        int want;
    } opts[] = {
        { "blksize", "abc", PXE_ERR_TFTP_OPTION_VALUE },
        { "blksize", "", PXE_ERR_TFTP_OPTION_VALUE },
        { "blksize", "-1", PXE_ERR_TFTP_OPTION_VALUE },
        { "blksize", "+512", PXE_ERR_TFTP_OPTION_VALUE },
        { "blksize", " 512", PXE_ERR_TFTP_OPTION_VALUE },
        { "tsize", "18446744073709551616", PXE_ERR_TFTP_OPTION_VALUE },
        { "tsize", "000000000000000000001", PXE_ERR_TFTP_OPTION_VALUE },
        { "blksize", "7", PXE_ERR_TFTP_OPTION_RANGE },
        { "timeout", "0", PXE_ERR_TFTP_OPTION_RANGE },
        { "timeout", "256", PXE_ERR_TFTP_OPTION_RANGE },
        { "windowsize", "0", PXE_ERR_TFTP_OPTION_RANGE },
        { "windowsize", "65536", PXE_ERR_TFTP_OPTION_RANGE },
    };
    for (size_t i = 0; i < sizeof opts / sizeof opts[0]; i++) {
        n = s_req (b, PXE_TFTP_RRQ, "x", "octet", opts[i].name, opts[i].value, NULL);
        assert_int_equal (pxe_tftp_request_parse (b, n, &r), opts[i].want);
    }
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "tsize", "18446744073709551615", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), 0);
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "blksize", "512", "BLKSIZE", "1024", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_OPTION_DUPLICATE);
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "blksize", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n, &r), PXE_ERR_TFTP_OPTION_PAIR);
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "blksize", "512", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n - 1, &r), PXE_ERR_TFTP_UNTERMINATED);
    n = s_req (b, PXE_TFTP_RRQ, "x", "octet", "blk", NULL);
    assert_int_equal (pxe_tftp_request_parse (b, n - 1, &r), PXE_ERR_TFTP_UNTERMINATED);
}

static void
test_reply_parse (void **state)
{
    (void)state;
    pxe_tftp_reply_t r;
    const uint8_t ack[] = { 0, 4, 0xff, 0xfe, 0 };
    assert_int_equal (pxe_tftp_reply_parse (ack, 4, &r), 0);
    assert_int_equal (r.opcode, PXE_TFTP_ACK);
    assert_int_equal (r.block, 0xfffe);
    assert_int_equal (pxe_tftp_reply_parse (ack, 3, &r), PXE_ERR_TFTP_LENGTH);
    assert_int_equal (pxe_tftp_reply_parse (ack, 5, &r), PXE_ERR_TFTP_LENGTH);
    assert_int_equal (pxe_tftp_reply_parse (ack, 1, &r), PXE_ERR_TFTP_SHORT);
    const uint8_t err[] = { 0, 5, 0, 8, 'n', 'o', 0 };
    assert_int_equal (pxe_tftp_reply_parse (err, sizeof err, &r), 0);
    assert_int_equal (r.code, 8);
    assert_int_equal (r.message_len, 2);
    assert_int_equal (pxe_tftp_reply_parse (err, 6, &r), 0); /* unterminated message: tolerated */
    assert_int_equal (r.message_len, 2);
    assert_int_equal (pxe_tftp_reply_parse (err, 3, &r), PXE_ERR_TFTP_LENGTH);
    const uint8_t data[] = { 0, 3, 0, 1 };
    assert_int_equal (pxe_tftp_reply_parse (data, 4, &r), PXE_ERR_TFTP_OPCODE);
    const uint8_t rrq[] = { 0, 1, 'x', 0 };
    assert_int_equal (pxe_tftp_reply_parse (rrq, 4, &r), PXE_ERR_TFTP_OPCODE);
}

static void
test_path_check (void **state)
{
    (void)state;
    char out[64];
    assert_int_equal (pxe_path_check ("/ipxe.efi", out, sizeof out), 0);
    assert_string_equal (out, "ipxe.efi");
    assert_int_equal (pxe_path_check ("boot/..x/a..", out, sizeof out), 0);
    assert_string_equal (out, "boot/..x/a..");
    assert_int_equal (pxe_path_check ("//etc/passwd", out, sizeof out), PXE_ERR_PATH_ABSOLUTE);
    assert_int_equal (pxe_path_check ("../x", out, sizeof out), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_path_check ("/../x", out, sizeof out), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_path_check ("a/../b", out, sizeof out), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_path_check ("a//..", out, sizeof out), PXE_ERR_PATH_DOTDOT);
    assert_int_equal (pxe_path_check ("/", out, sizeof out), PXE_ERR_PATH_NAME);
    assert_int_equal (pxe_path_check ("abcdefgh", out, 8), PXE_ERR_PATH_NAME);
    assert_string_equal (pxe_err_name (PXE_ERR_PATH_DOTDOT), "PXE_ERR_PATH_DOTDOT");
    assert_string_equal (pxe_err_name (WD_ERR_IO), "WD_ERR_IO");
}

/* ---- the server over loopback -------------------------------------------------------------- */

#define S_FILE_LEN 1000
#define S_ROLL_BLK 8
#define S_ROLL_LEN (65537 * S_ROLL_BLK + 3) /* last block is index 65538, wire number 2 */

typedef struct {
    pxe_tftp_t *server;
    struct sockaddr_in addr; /* the server's port */
    int client;              /* the test's client socket */
    struct sockaddr_in tid;  /* the transfer's port, learnt from its first packet */
    uint8_t file[S_FILE_LEN];
    int served;
    pxe_tftp_served_t last;
    char last_name[PXE_TFTP_NAME_MAX + 1];
} s_fix_t;

static void
s_on_served (void *arg, const pxe_tftp_served_t *served)
{
    s_fix_t *f = arg;
    f->served++;
    f->last = *served;
    snprintf (f->last_name, sizeof f->last_name, "%s", served->filename);
    f->last.filename = f->last_name;
}

static void
s_write_file (const char *dir, const char *name, const uint8_t *data, size_t len)
{
    char path[1024];
    snprintf (path, sizeof path, "%s/%s", dir, name);
    FILE *fp = fopen (path, "wb");
    assert_non_null (fp);
    assert_int_equal (fwrite (data, 1, len, fp), len);
    assert_int_equal (fclose (fp), 0);
}

static int
s_client_socket (void)
{
    int fd = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    assert_true (fd >= 0);
    struct sockaddr_in me = { .sin_family = AF_INET, .sin_addr.s_addr = htonl (INADDR_LOOPBACK) };
    assert_int_equal (bind (fd, (struct sockaddr *)&me, sizeof me), 0);
    int big = 4 << 20;
    setsockopt (fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
    return fd;
}

static s_fix_t *
s_fix_new (const pxe_tftp_config_t *config)
{
    static bool made;
    const char *dir = test_tmpdir ();
    char root[512];
    snprintf (root, sizeof root, "%s/root", dir);
    if (!made) {
        made = true;
        assert_int_equal (mkdir (root, 0755), 0);
        char sub[600];
        snprintf (sub, sizeof sub, "%s/sub", root);
        assert_int_equal (mkdir (sub, 0755), 0);
        uint8_t secret[] = "outside";
        s_write_file (dir, "outside", secret, sizeof secret);
        char link[600];
        snprintf (link, sizeof link, "%s/esc", root);
        assert_int_equal (symlink ("../outside", link), 0);
        snprintf (link, sizeof link, "%s/abs", root);
        char target[600];
        snprintf (target, sizeof target, "%s/outside", dir);
        assert_int_equal (symlink (target, link), 0);
        snprintf (link, sizeof link, "%s/sub/in", root);
        assert_int_equal (symlink ("../f", link), 0);
    }
    s_fix_t *f = calloc (1, sizeof *f);
    assert_non_null (f);
    for (size_t i = 0; i < S_FILE_LEN; i++)
        f->file[i] = (uint8_t)(i * 7 + 3);
    s_write_file (root, "f", f->file, S_FILE_LEN);
    uint16_t port;
    int sock = pxe_tftp_bind ("127.0.0.1", 0, &port);
    assert_true (sock >= 0);
    int root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (root_fd >= 0);
    int err = 0;
    f->server = pxe_tftp_new (sock, root_fd, config, &err);
    assert_non_null (f->server);
    pxe_tftp_set_served (f->server, s_on_served, f);
    f->addr.sin_family = AF_INET;
    f->addr.sin_port = htons (port);
    f->addr.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    f->client = s_client_socket ();
    return f;
}

static void
s_fix_destroy (s_fix_t **f_p)
{
    s_fix_t *f = *f_p;
    pxe_tftp_destroy (&f->server);
    assert_null (f->server);
    close (f->client);
    free (f);
    *f_p = NULL;
}

static void
s_send (int fd, const struct sockaddr_in *to, const uint8_t *p, size_t n)
{
    assert_int_equal (sendto (fd, p, n, 0, (const struct sockaddr *)to, sizeof *to), (ssize_t)n);
}

static void
s_ack (s_fix_t *f, uint16_t block)
{
    uint8_t p[4] = { 0, PXE_TFTP_ACK, (uint8_t)(block >> 8), (uint8_t)block };
    s_send (f->client, &f->tid, p, 4);
    assert_int_equal (pxe_tftp_dispatch (f->server), 0);
}

/* Receives one waiting packet (the server already ran); -1 when none. */
static ssize_t
s_recv (int fd, uint8_t *buf, size_t len, struct sockaddr_in *from)
{
    struct sockaddr_in tmp;
    socklen_t flen = sizeof tmp;
    ssize_t r = recvfrom (fd, buf, len, MSG_DONTWAIT, (struct sockaddr *)&tmp, &flen);
    if (r >= 0 && from)
        *from = tmp;
    return r;
}

/* Sends a request and runs the server once. */
static void
s_request (s_fix_t *f, const uint8_t *p, size_t n)
{
    s_send (f->client, &f->addr, p, n);
    assert_int_equal (pxe_tftp_dispatch (f->server), 0);
}

/* Expects an ERROR packet with this code. */
static void
s_expect_error (s_fix_t *f, uint16_t code)
{
    uint8_t b[600];
    ssize_t r = s_recv (f->client, b, sizeof b, NULL);
    assert_true (r >= 5);
    assert_int_equal (b[1], PXE_TFTP_ERROR);
    assert_int_equal ((b[2] << 8) | b[3], code);
    assert_int_equal (b[r - 1], 0);
}

static void
test_server_lockstep (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (NULL);
    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "f", "octet", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    assert_int_equal (r, 4 + 512);
    assert_int_equal (b[1], PXE_TFTP_DATA);
    assert_int_equal (b[3], 1);
    assert_memory_equal (b + 4, f->file, 512);
    assert_int_not_equal (f->tid.sin_port, f->addr.sin_port); /* a fresh TID */

    /* A packet from another port gets error 5 and leaves the transfer alone. */
    int stranger = s_client_socket ();
    uint8_t ack1[4] = { 0, PXE_TFTP_ACK, 0, 1 };
    s_send (stranger, &f->tid, ack1, 4);
    assert_int_equal (pxe_tftp_dispatch (f->server), 0);
    r = s_recv (stranger, b, sizeof b, NULL);
    assert_true (r >= 4);
    assert_int_equal (b[1], PXE_TFTP_ERROR);
    assert_int_equal (b[3], PXE_TFTP_EBADID);
    close (stranger);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);

    /* Malformed reply: counted and ignored. */
    uint8_t junk[3] = { 0, PXE_TFTP_ACK, 0 };
    s_send (f->client, &f->tid, junk, 3);
    assert_int_equal (pxe_tftp_dispatch (f->server), 0);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);

    s_ack (f, 1);
    r = s_recv (f->client, b, sizeof b, NULL);
    assert_int_equal (r, 4 + S_FILE_LEN - 512);
    assert_int_equal (b[3], 2);
    assert_memory_equal (b + 4, f->file + 512, S_FILE_LEN - 512);
    /* Duplicate ACK 1: never a retransmission (Sorcerer's Apprentice). */
    s_ack (f, 1);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);
    assert_int_equal (f->served, 0);
    s_ack (f, 2);
    assert_int_equal (f->served, 1);
    assert_true (f->last.confirmed);
    uint8_t want[32];
    crypto_hash_sha256 (want, f->file, S_FILE_LEN);
    assert_memory_equal (f->last.sha256, want, 32);
    assert_int_equal (f->last.bytes, S_FILE_LEN);
    assert_string_equal (f->last.filename, "f");
    assert_int_equal (f->last.blksize, 512);

    pxe_tftp_stats_t st;
    pxe_tftp_stats (f->server, &st);
    assert_int_equal (st.completed, 1);
    assert_int_equal (st.duplicate_acks, 1);
    assert_int_equal (st.wrong_tid, 1);
    assert_int_equal (st.malformed, 1);
    assert_int_equal (st.retransmits, 0);
    assert_int_equal (st.active, 0);
    assert_int_equal (pxe_tftp_timeout_ms (f->server), -1);
    s_fix_destroy (&f);
}

/* Expects exactly DATA blocks first..last of the 100-byte-block transfer
   of the test file, and nothing after them. */
static void
s_expect_window (s_fix_t *f, int first, int last)
{
    uint8_t b[600];
    for (int i = first; i <= last; i++) {
        assert_int_equal (s_recv (f->client, b, sizeof b, NULL), 104);
        assert_int_equal (b[1], PXE_TFTP_DATA);
        assert_int_equal (b[3], i);
        assert_memory_equal (b + 4, f->file + (i - 1) * 100, 100);
    }
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);
}

static void
test_server_options_window (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (NULL);
    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "/sub/in", "octet", "blksize", "100", "tsize", "0",
                      "windowsize", "4", "unknown", "1", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    static const char oack[] = "\0\6blksize\000100\0tsize\0001000\0windowsize\0004";
    assert_int_equal (r, sizeof oack);
    assert_memory_equal (b, oack, sizeof oack);
    s_ack (f, 0);
    s_expect_window (f, 1, 4);
    /* Partial ACK: the receiver lost block 3; the window restarts there. */
    s_ack (f, 2);
    s_expect_window (f, 3, 6);
    /* Duplicate ACK 2 with a window: one rollback, then no more. */
    s_ack (f, 2);
    s_expect_window (f, 3, 6);
    s_ack (f, 2);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);
    s_ack (f, 6);
    s_expect_window (f, 7, 10);
    s_ack (f, 10);
    r = s_recv (f->client, b, sizeof b, NULL);
    assert_int_equal (r, 4); /* the empty last block of an exact multiple */
    assert_int_equal (b[3], 11);
    s_ack (f, 11);
    assert_int_equal (f->served, 1);
    assert_int_equal (f->last.windowsize, 4);
    uint8_t want[32];
    crypto_hash_sha256 (want, f->file, S_FILE_LEN);
    assert_memory_equal (f->last.sha256, want, 32);
    s_fix_destroy (&f);
}

static void
test_server_rollover (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (NULL);
    uint8_t *data = malloc (S_ROLL_LEN), *got = malloc (S_ROLL_LEN);
    assert_non_null (data);
    assert_non_null (got);
    randombytes_buf (data, S_ROLL_LEN);
    char root[512];
    snprintf (root, sizeof root, "%s/root", test_tmpdir ());
    s_write_file (root, "roll", data, S_ROLL_LEN);

    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "roll", "octet", "blksize", "8", "windowsize", "128", NULL);
    s_request (f, b, n);
    assert_true (s_recv (f->client, b, sizeof b, &f->tid) > 0);
    assert_int_equal (b[1], PXE_TFTP_OACK);
    s_ack (f, 0);
    uint64_t next = 1;
    size_t have = 0;
    while (f->served == 0) {
        ssize_t r;
        uint16_t last = 0;
        int got_any = 0;
        while ((r = s_recv (f->client, b, sizeof b, NULL)) >= 0) {
            assert_int_equal (b[1], PXE_TFTP_DATA);
            uint16_t wire = (uint16_t)((b[2] << 8) | b[3]);
            assert_int_equal (wire, (uint16_t)next);
            memcpy (got + have, b + 4, (size_t)r - 4);
            have += (size_t)r - 4;
            last = wire;
            next++;
            got_any = 1;
        }
        assert_true (got_any);
        s_ack (f, last);
    }
    assert_int_equal (next - 1, 65538);
    assert_int_equal (have, S_ROLL_LEN);
    assert_memory_equal (got, data, S_ROLL_LEN);
    uint8_t want[32];
    crypto_hash_sha256 (want, data, S_ROLL_LEN);
    assert_memory_equal (f->last.sha256, want, 32);
    free (data);
    free (got);
    s_fix_destroy (&f);
}

static void
test_server_refusals (void **state)
{
    (void)state;
    pxe_tftp_config_t config = { .max_per_client = 1 };
    for (int walk = 0; walk < 2; walk++) {
        config.no_openat2 = walk;
        s_fix_t *f = s_fix_new (&config);
        uint8_t b[600];
        size_t n;
        n = s_req (b, PXE_TFTP_WRQ, "f", "octet", NULL);
        s_request (f, b, n);
        s_expect_error (f, PXE_TFTP_EACCESS);
        static const struct {
            const char *name;
            uint16_t code;
        } cases[] = {
            { "esc", PXE_TFTP_EACCESS },           { "abs", PXE_TFTP_EACCESS },
            { "../outside", PXE_TFTP_EACCESS },    { "//etc/passwd", PXE_TFTP_EACCESS },
            { "sub", PXE_TFTP_EACCESS },           { "missing", PXE_TFTP_ENOTFOUND },
            { "/etc/passwd", PXE_TFTP_ENOTFOUND },
        };
        for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
            n = s_req (b, PXE_TFTP_RRQ, cases[i].name, "octet", NULL);
            s_request (f, b, n);
            s_expect_error (f, cases[i].code);
        }
        /* A symlink inside the boot directory: followed by openat2, refused by the walk. */
        n = s_req (b, PXE_TFTP_RRQ, "sub/in", "octet", NULL);
        s_request (f, b, n);
        if (walk)
            s_expect_error (f, PXE_TFTP_EACCESS);
        else {
            assert_int_equal (s_recv (f->client, b, sizeof b, NULL), 4 + 512);
            assert_int_equal (b[1], PXE_TFTP_DATA);
        }
        n = s_req (b, PXE_TFTP_RRQ, "f", "netascii", NULL);
        s_request (f, b, n);
        s_expect_error (f, PXE_TFTP_EUNDEF);
        n = s_req (b, PXE_TFTP_RRQ, "f", "octet", "blksize", "2", NULL);
        s_request (f, b, n);
        s_expect_error (f, PXE_TFTP_EOPTNEG);
        n = s_req (b, PXE_TFTP_RRQ, "f", "octet", "blksize", NULL);
        s_request (f, b, n);
        s_expect_error (f, PXE_TFTP_EBADOP);
        /* Stray ACK on the server port: dropped silently. */
        uint8_t ack[4] = { 0, PXE_TFTP_ACK, 0, 1 };
        s_request (f, ack, 4);
        assert_int_equal (s_recv (f->client, b, sizeof b, NULL), -1);

        pxe_tftp_stats_t st;
        pxe_tftp_stats (f->server, &st);
        assert_int_equal (st.malformed, 4);
        if (!walk) {
            /* One transfer (sub/in) runs: this client is at its limit. */
            assert_int_equal (st.active, 1);
            n = s_req (b, PXE_TFTP_RRQ, "f", "octet", NULL);
            s_request (f, b, n);
            s_expect_error (f, PXE_TFTP_EUNDEF);
        }
        s_fix_destroy (&f);
    }
}

static void
s_count_token (void *arg, const uint8_t token[PXE_IMAGES_TOKEN_LEN], const char *client)
{
    (void)token;
    assert_string_equal (client, "127.0.0.1");
    (*(int *)arg)++;
}

/* With an approved image set attached, only its verified copies and the
   generated boot script are served. */
static void
test_server_images (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (NULL);
    char root[512];
    snprintf (root, sizeof root, "%s/root", test_tmpdir ());
    static const uint8_t g[] = "changed after approval";
    static const char script[] = "#!ipxe\nchain {{base_url}}/f {{token}}\n";
    s_write_file (root, "g", g, sizeof g);
    s_write_file (root, "s.ipxe", (const uint8_t *)script, strlen (script));
    int root_fd = open (root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (root_fd >= 0);
    pxe_images_t *images = pxe_images_new (root_fd, NULL);
    assert_non_null (images);
    uint8_t digest[32], key[32] = { 1 };
    crypto_hash_sha256 (digest, f->file, S_FILE_LEN);
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_KERNEL, "f", digest), 0);
    crypto_hash_sha256 (digest, (const uint8_t *)"approved", 8);
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_INITRD, "g", digest), 0);
    crypto_hash_sha256 (digest, (const uint8_t *)script, strlen (script));
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_SCRIPT, "s.ipxe", digest), 0);
    assert_int_equal (pxe_images_set_attest (images, "tcp://10.0.0.1:7420", key), 0);
    int tokens = 0;
    pxe_images_set_token_fn (images, s_count_token, &tokens);
    pxe_tftp_set_images (f->server, images, "http://10.0.0.1:8080");

    /* The approved file: its bytes, reported as approved. */
    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "/f", "octet", NULL);
    s_request (f, b, n);
    assert_int_equal (s_recv (f->client, b, sizeof b, &f->tid), 4 + 512);
    assert_memory_equal (b + 4, f->file, 512);
    s_ack (f, 1);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), 4 + S_FILE_LEN - 512);
    s_ack (f, 2);
    assert_int_equal (f->served, 1);
    assert_true (f->last.approved);
    crypto_hash_sha256 (digest, f->file, S_FILE_LEN);
    assert_memory_equal (f->last.sha256, digest, 32);

    /* Unapproved (it exists), mismatching, and missing-from-the-set names. */
    static const char *const refused[] = { "sub/in", "g", "missing" };
    for (size_t i = 0; i < 3; i++) {
        n = s_req (b, PXE_TFTP_RRQ, refused[i], "octet", NULL);
        s_request (f, b, n);
        s_expect_error (f, PXE_TFTP_EACCESS);
    }

    /* The boot script: generated, with a fresh token per request. */
    n = s_req (b, PXE_TFTP_RRQ, "s.ipxe", "octet", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    const char *want = "#!ipxe\nchain http://10.0.0.1:8080/f ";
    assert_int_equal (r, 4 + strlen (want) + 64 + 1);
    assert_memory_equal (b + 4, want, strlen (want));
    assert_int_equal (tokens, 1);
    s_ack (f, 1);
    assert_int_equal (f->served, 2);
    assert_true (f->last.approved);
    crypto_hash_sha256 (digest, b + 4, (size_t)r - 4);
    assert_memory_equal (f->last.sha256, digest, 32);

    pxe_tftp_stats_t st;
    pxe_tftp_stats (f->server, &st);
    assert_int_equal (st.completed, 2);
    assert_int_equal (st.refused, 3);
    s_fix_destroy (&f);
    pxe_images_destroy (&images);
}

static void
test_server_probe_and_empty (void **state)
{
    (void)state;
    s_fix_t *f = s_fix_new (NULL);
    char root[512];
    snprintf (root, sizeof root, "%s/root", test_tmpdir ());
    s_write_file (root, "empty", (const uint8_t *)"", 0);
    /* EDK2's size probe: OACK with the size, then the client aborts with error 8. */
    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "f", "octet", "tsize", "0", "blksize", "1468", "windowsize",
                      "4", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    static const char oack[] = "\0\6blksize\0001468\0tsize\0001000\0windowsize\0004";
    assert_int_equal (r, sizeof oack);
    assert_memory_equal (b, oack, sizeof oack);
    uint8_t abort8[] = { 0, PXE_TFTP_ERROR, 0, 8, 'p', 'r', 'o', 'b', 'e', 0 };
    s_send (f->client, &f->tid, abort8, sizeof abort8);
    assert_int_equal (pxe_tftp_dispatch (f->server), 0);
    pxe_tftp_stats_t st;
    pxe_tftp_stats (f->server, &st);
    assert_int_equal (st.failed, 1);
    assert_int_equal (st.active, 0);
    assert_int_equal (f->served, 0);

    /* An empty file: tsize 0 is left out of the OACK (curl rejects it), so
       a tsize-only request gets DATA 1 (empty) at once. */
    n = s_req (b, PXE_TFTP_RRQ, "empty", "octet", "tsize", "0", NULL);
    s_request (f, b, n);
    r = s_recv (f->client, b, sizeof b, &f->tid);
    assert_int_equal (r, 4);
    assert_int_equal (b[1], PXE_TFTP_DATA);
    assert_int_equal (b[3], 1);
    s_ack (f, 1);
    assert_int_equal (f->served, 1);
    assert_int_equal (f->last.bytes, 0);
    uint8_t want[32];
    crypto_hash_sha256 (want, (const uint8_t *)"", 0);
    assert_memory_equal (f->last.sha256, want, 32);
    s_fix_destroy (&f);
}

static void
test_server_timeout (void **state)
{
    (void)state;
    pxe_tftp_config_t config = { .timeout_ms = 20, .retries = 2 };
    s_fix_t *f = s_fix_new (&config);
    uint8_t b[600];
    size_t n = s_req (b, PXE_TFTP_RRQ, "f", "octet", NULL);
    s_request (f, b, n);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), 4 + 512);
    int resent = 0;
    pxe_tftp_stats_t st;
    for (int spins = 0; spins < 200; spins++) {
        usleep (5000);
        assert_int_equal (pxe_tftp_dispatch (f->server), 0);
        while (s_recv (f->client, b, sizeof b, NULL) == 4 + 512) {
            assert_int_equal (b[3], 1);
            resent++;
        }
        pxe_tftp_stats (f->server, &st);
        if (st.failed)
            break;
    }
    assert_int_equal (resent, 2);
    assert_int_equal (st.failed, 1);
    assert_int_equal (st.active, 0);
    assert_int_equal (f->served, 0);
    s_fix_destroy (&f);
}

/* Lets the server's retries run out while the client stays silent, then
   checks that the whole file was reported served but unconfirmed, with the
   digest of all of it, and counted so. */
static void
s_expect_unconfirmed (s_fix_t *f)
{
    uint8_t b[2000];
    for (int spins = 0; spins < 200 && f->served == 0; spins++) {
        usleep (5000);
        assert_int_equal (pxe_tftp_dispatch (f->server), 0);
        while (s_recv (f->client, b, sizeof b, NULL) > 0)
            ;
    }
    pxe_tftp_stats_t st;
    pxe_tftp_stats (f->server, &st);
    assert_int_equal (f->served, 1);
    assert_false (f->last.confirmed);
    assert_int_equal (f->last.bytes, S_FILE_LEN);
    uint8_t want[32];
    crypto_hash_sha256 (want, f->file, S_FILE_LEN);
    assert_memory_equal (f->last.sha256, want, 32);
    assert_int_equal (st.unconfirmed, 1);
    assert_int_equal (st.completed, 0);
    assert_int_equal (st.failed, 0);
    assert_int_equal (st.active, 0);
}

/* The client takes the only block and never acknowledges it: the whole file
   was sent, so the transfer is reported as served but unconfirmed, with its
   digest, instead of failed. */
static void
test_server_final_ack_lost (void **state)
{
    (void)state;
    pxe_tftp_config_t config = { .timeout_ms = 20, .retries = 2 };
    s_fix_t *f = s_fix_new (&config);
    uint8_t b[2000];
    size_t n = s_req (b, PXE_TFTP_RRQ, "f", "octet", "blksize", "1468", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    assert_true (r > 4 && b[1] == PXE_TFTP_OACK);
    s_ack (f, 0);
    assert_int_equal (s_recv (f->client, b, sizeof b, NULL), 4 + S_FILE_LEN);
    s_expect_unconfirmed (f);
    s_fix_destroy (&f);
}

/* The same with a window (RFC 7440): the client acknowledges the first two
   windows, takes the last one (blocks 9, 10 and the empty 11) and its final
   ACK is lost. Only that ACK is missing, so the transfer is served but
   unconfirmed, not failed (lossy runs of scenario.tftp_clients counted such
   a transfer as failed). */
static void
test_server_final_window_ack_lost (void **state)
{
    (void)state;
    pxe_tftp_config_t config = { .timeout_ms = 20, .retries = 2 };
    s_fix_t *f = s_fix_new (&config);
    uint8_t b[2000];
    size_t n = s_req (b, PXE_TFTP_RRQ, "f", "octet", "blksize", "100", "windowsize", "4", NULL);
    s_request (f, b, n);
    ssize_t r = s_recv (f->client, b, sizeof b, &f->tid);
    assert_true (r > 4 && b[1] == PXE_TFTP_OACK);
    for (uint16_t acked = 0; acked <= 8; acked += 4) {
        s_ack (f, acked);
        int got = 0;
        while (s_recv (f->client, b, sizeof b, NULL) >= 4)
            got++;
        assert_int_equal (got, acked < 8 ? 4 : 3);
    }
    s_expect_unconfirmed (f);
    s_fix_destroy (&f);
}

static void
test_new_rejects_stream_socket (void **state)
{
    (void)state;
    int tcp = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int root = open ("/", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    int err = 0;
    pxe_tftp_t *server = pxe_tftp_new (tcp, root, NULL, &err);
    assert_null (server);
    assert_int_equal (err, PXE_ERR_TFTP_ADDRESS);
    pxe_tftp_destroy (&server);
}

int
main (void)
{
    if (sodium_init () < 0)
        return 1;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_request_valid),
        cmocka_unit_test (test_request_rejects),
        cmocka_unit_test (test_reply_parse),
        cmocka_unit_test (test_path_check),
        cmocka_unit_test (test_server_images),
        cmocka_unit_test (test_server_lockstep),
        cmocka_unit_test (test_server_options_window),
        cmocka_unit_test (test_server_rollover),
        cmocka_unit_test (test_server_refusals),
        cmocka_unit_test (test_server_probe_and_empty),
        cmocka_unit_test (test_server_timeout),
        cmocka_unit_test (test_server_final_ack_lost),
        cmocka_unit_test (test_server_final_window_ack_lost),
        cmocka_unit_test (test_new_rejects_stream_socket),
    };
    return cmocka_run_group_tests (tests, NULL, test_tmpdir_teardown);
}
