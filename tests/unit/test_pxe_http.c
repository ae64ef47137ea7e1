/*
 * Unit tests for pxe_http: the Range parser with its exact reasons, the
 * status each refusal maps to, and the server driven over loopback from
 * this thread (raw HTTP requests, so nothing is normalised by a client):
 * whole files, ranges with their Content-Range and the served digest, HEAD,
 * 404/403/405/416 with the reason in X-Warden-Reason, path escapes ('..',
 * '%2e%2e', symlinks out), an approved image set (unapproved file, file
 * changed after verification), per-client connection limits, a download
 * the client abandons, and the socket checks of pxe_http_new.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "pxe_http.h"
#include "test_support.h"
#include "wd_hash.h"

/* ---- Range ------------------------------------------------------------------------------- */

static void
test_range_parse (void **state)
{
    (void)state;
    static const struct {
        const char *value;
        uint64_t size;
        int want;
        bool partial;
        uint64_t offset, length;
    } cases[] = {
        { "bytes=0-0", 100, 0, true, 0, 1 },
        { "bytes=10-19", 100, 0, true, 10, 10 },
        { "Bytes = 10-19 ", 100, 0, true, 10, 10 },
        { "bytes=90-", 100, 0, true, 90, 10 },
        { "bytes=90-1000", 100, 0, true, 90, 10 },
        { "bytes=99-99", 100, 0, true, 99, 1 },
        { "bytes=-10", 100, 0, true, 90, 10 },
        { "bytes=-1000", 100, 0, true, 0, 100 },
        { "bytes=0-9999999999999999999", 100, 0, true, 0, 100 },
        { "items=0-5", 100, 0, false, 0, 100 },
        { "", 100, 0, false, 0, 100 },
        { "bytes=0-1,5-6", 100, PXE_ERR_HTTP_RANGE_MULTIPLE, false, 0, 0 },
        { "bytes=0-1, 5-6", 100, PXE_ERR_HTTP_RANGE_MULTIPLE, false, 0, 0 },
        { "bytes=100-", 100, PXE_ERR_HTTP_RANGE_UNSATISFIABLE, false, 0, 0 },
        { "bytes=100-200", 100, PXE_ERR_HTTP_RANGE_UNSATISFIABLE, false, 0, 0 },
        { "bytes=0-0", 0, PXE_ERR_HTTP_RANGE_UNSATISFIABLE, false, 0, 0 },
        { "bytes=-5", 0, PXE_ERR_HTTP_RANGE_UNSATISFIABLE, false, 0, 0 },
        { "bytes=-0", 100, PXE_ERR_HTTP_RANGE_UNSATISFIABLE, false, 0, 0 },
        { "bytes=5-2", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=-", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=a-b", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=+1-2", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=1-2x", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=1--2", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
        { "bytes=12345678901234567890-", 100, PXE_ERR_HTTP_RANGE_SYNTAX, false, 0, 0 },
    };
    for (size_t i = 0; i < sizeof cases / sizeof *cases; i++) {
        uint64_t off = 77, len = 77;
        bool partial = true;
        int rc = pxe_http_range_parse (cases[i].value, cases[i].size, &off, &len, &partial);
        if (rc != cases[i].want)
            fail_msg ("'%s': %s, want %s", cases[i].value, pxe_err_name (rc),
                      pxe_err_name (cases[i].want));
        assert_int_equal (partial, cases[i].partial);
        if (rc == 0) {
            assert_int_equal (off, cases[i].offset);
            assert_int_equal (len, cases[i].length);
        }
    }
}

static void
test_status_for (void **state)
{
    (void)state;
    assert_int_equal (pxe_http_status_for (PXE_ERR_PATH_NOT_FOUND), 404);
    assert_int_equal (pxe_http_status_for (PXE_ERR_IMAGE_MISSING), 404);
    assert_int_equal (pxe_http_status_for (PXE_ERR_PATH_DOTDOT), 403);
    assert_int_equal (pxe_http_status_for (PXE_ERR_PATH_ESCAPE), 403);
    assert_int_equal (pxe_http_status_for (PXE_ERR_IMAGE_UNAPPROVED), 403);
    assert_int_equal (pxe_http_status_for (PXE_ERR_IMAGE_DIGEST), 403);
    assert_int_equal (pxe_http_status_for (PXE_ERR_HTTP_METHOD), 405);
    assert_int_equal (pxe_http_status_for (PXE_ERR_HTTP_RANGE_SYNTAX), 416);
    assert_int_equal (pxe_http_status_for (PXE_ERR_HTTP_RANGE_UNSATISFIABLE), 416);
    assert_int_equal (pxe_http_status_for (PXE_ERR_IMAGE_NO_ATTEST), 503);
    assert_int_equal (pxe_http_status_for (WD_ERR_IO), 500);
}

/* ---- a server on loopback ---------------------------------------------------------------- */

#define S_BIG (3 * 1024 * 1024 + 17)

static char s_root[512];
static uint8_t *s_big;

typedef struct {
    int count;
    pxe_http_served_t last;
    char path[300];
} s_served_log_t;

static void
s_on_served (void *arg, const pxe_http_served_t *served)
{
    s_served_log_t *log = arg;
    log->count++;
    log->last = *served;
    snprintf (log->path, sizeof log->path, "%s", served->path);
    log->last.path = log->path;
    log->last.client = NULL;
}

static void
s_make_root (void)
{
    if (s_big)
        return;
    snprintf (s_root, sizeof s_root, "%s/root", test_tmpdir ());
    assert_int_equal (mkdir (s_root, 0755), 0);
    char sub[600], outside[600], link[600];
    snprintf (sub, sizeof sub, "%s/sub", s_root);
    assert_int_equal (mkdir (sub, 0755), 0);
    s_big = malloc (S_BIG);
    for (size_t i = 0; i < S_BIG; i++)
        s_big[i] = (uint8_t)((i * 2654435761u) >> 13);
    test_write_file (s_root, "big", s_big, S_BIG);
    test_write_file (s_root, "small", "hello, host\n", 12);
    test_write_file (s_root, "empty", "", 0);
    test_write_file (test_tmpdir (), "outside", "not for the host\n", 17);
    snprintf (outside, sizeof outside, "%s/outside", test_tmpdir ());
    snprintf (link, sizeof link, "%s/abs", s_root);
    assert_int_equal (symlink (outside, link), 0);
    snprintf (link, sizeof link, "%s/rel", s_root);
    assert_int_equal (symlink ("../outside", link), 0);
    snprintf (link, sizeof link, "%s/sub/inside", s_root);
    assert_int_equal (symlink ("../small", link), 0);
}

typedef struct {
    pxe_http_t *server;
    pxe_images_t *images;
    uint16_t port;
    s_served_log_t served;
} s_fixture_t;

static void
s_start (s_fixture_t *fx, pxe_images_t *images, const pxe_http_config_t *config)
{
    s_make_root ();
    memset (fx, 0, sizeof *fx);
    int sock = pxe_http_bind ("127.0.0.1", 0, &fx->port);
    assert_true (sock >= 0);
    int root = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_true (root >= 0);
    int err = 0;
    fx->images = images;
    fx->server = pxe_http_new (sock, root, images, config, &err);
    assert_non_null (fx->server);
    pxe_http_set_served (fx->server, s_on_served, &fx->served);
}

static void
s_stop (s_fixture_t *fx)
{
    pxe_http_destroy (&fx->server);
    assert_null (fx->server);
    pxe_images_destroy (&fx->images);
}

static int
s_connect (uint16_t port)
{
    int fd = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sin = { .sin_family = AF_INET, .sin_port = htons (port) };
    sin.sin_addr.s_addr = htonl (INADDR_LOOPBACK);
    assert_int_equal (connect (fd, (struct sockaddr *)&sin, sizeof sin), 0);
    int fl = fcntl (fd, F_GETFL);
    assert_int_equal (fcntl (fd, F_SETFL, fl | O_NONBLOCK), 0);
    return fd;
}

/* Runs the server until fd has something to read or is closed. */
static void
s_pump_until_readable (s_fixture_t *fx, int fd)
{
    for (int i = 0; i < 2000; i++) {
        assert_int_equal (pxe_http_dispatch (fx->server), 0);
        struct pollfd p[2] = { { .fd = fd, .events = POLLIN },
                               { .fd = pxe_http_fd (fx->server), .events = POLLIN } };
        if (poll (p, 2, 5) > 0 && (p[0].revents & (POLLIN | POLLHUP | POLLERR)))
            return;
    }
    fail_msg ("no answer from the server");
}

typedef struct {
    int status;
    char headers[2048];
    uint8_t *body;
    size_t body_len;
} s_response_t;

/* Sends a raw request (Connection: close is added) and reads the whole
   response. */
static void
s_fetch (s_fixture_t *fx, const char *method, const char *target, const char *extra,
         s_response_t *resp)
{
    int fd = s_connect (fx->port);
    char req[1024];
    int n =
        snprintf (req, sizeof req, "%s %s HTTP/1.1\r\nHost: test\r\n%sConnection: close\r\n\r\n",
                  method, target, extra ? extra : "");
    assert_int_equal (send (fd, req, (size_t)n, 0), n);
    size_t cap = S_BIG + 4096, len = 0;
    uint8_t *buf = malloc (cap);
    for (;;) {
        s_pump_until_readable (fx, fd);
        ssize_t r = recv (fd, buf + len, cap - len, 0);
        if (r < 0 && (errno == EAGAIN || errno == EINTR))
            continue;
        assert_true (r >= 0);
        if (r == 0)
            break;
        len += (size_t)r;
        assert_true (len < cap);
    }
    close (fd);
    /* Let MHD see the close and run the completion callback. */
    for (int i = 0; i < 5; i++)
        assert_int_equal (pxe_http_dispatch (fx->server), 0);
    memset (resp, 0, sizeof *resp);
    uint8_t *end = memmem (buf, len, "\r\n\r\n", 4);
    assert_non_null (end);
    size_t hlen = (size_t)(end - buf);
    assert_true (hlen < sizeof resp->headers);
    memcpy (resp->headers, buf, hlen);
    assert_int_equal (sscanf (resp->headers, "HTTP/1.1 %d", &resp->status), 1);
    resp->body_len = len - hlen - 4;
    resp->body = malloc (resp->body_len + 1);
    memcpy (resp->body, end + 4, resp->body_len);
    free (buf);
}

static void
s_response_free (s_response_t *resp)
{
    free (resp->body);
    resp->body = NULL;
}

/* The value of header name in resp, or "" (static storage). */
static const char *
s_header (const s_response_t *resp, const char *name)
{
    static char value[256];
    value[0] = '\0';
    size_t nlen = strlen (name);
    const char *p = resp->headers;
    while ((p = strstr (p, "\r\n"))) {
        p += 2;
        if (strncasecmp (p, name, nlen) == 0 && p[nlen] == ':') {
            const char *v = p + nlen + 1;
            while (*v == ' ')
                v++;
            size_t vlen = strcspn (v, "\r");
            snprintf (value, sizeof value, "%.*s", (int)vlen, v);
            break;
        }
    }
    return value;
}

static void
s_expect_refusal (s_fixture_t *fx, const char *method, const char *target, const char *extra,
                  int status, int reason)
{
    s_response_t r;
    s_fetch (fx, method, target, extra, &r);
    if (r.status != status || strcmp (s_header (&r, "X-Warden-Reason"), pxe_err_name (reason)))
        fail_msg ("%s %s: %d %s, want %d %s", method, target, r.status,
                  s_header (&r, "X-Warden-Reason"), status, pxe_err_name (reason));
    assert_null (memmem (r.body, r.body_len, "not for the host", 16));
    s_response_free (&r);
}

static void
test_plain_files (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, NULL, NULL);
    s_response_t r;
    s_fetch (&fx, "GET", "/big", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_int_equal (r.body_len, S_BIG);
    assert_memory_equal (r.body, s_big, S_BIG);
    assert_string_equal (s_header (&r, "Accept-Ranges"), "bytes");
    s_response_free (&r);
    uint8_t sha[32];
    wd_hash_sha256 (sha, s_big, S_BIG);
    assert_int_equal (fx.served.count, 1);
    assert_string_equal (fx.served.last.path, "/big");
    assert_int_equal (fx.served.last.status, 200);
    assert_int_equal (fx.served.last.bytes, S_BIG);
    assert_true (fx.served.last.whole);
    assert_false (fx.served.last.approved);
    assert_memory_equal (fx.served.last.sha256, sha, 32);
    assert_int_equal (fx.served.last.addr.ss_family, AF_INET);

    /* A range: 206, Content-Range, and the digest of just those bytes. */
    s_fetch (&fx, "GET", "/big", "Range: bytes=1000-1999\r\n", &r);
    assert_int_equal (r.status, 206);
    assert_string_equal (s_header (&r, "Content-Range"), "bytes 1000-1999/3145745");
    assert_int_equal (r.body_len, 1000);
    assert_memory_equal (r.body, s_big + 1000, 1000);
    s_response_free (&r);
    wd_hash_sha256 (sha, s_big + 1000, 1000);
    assert_int_equal (fx.served.count, 2);
    assert_int_equal (fx.served.last.offset, 1000);
    assert_int_equal (fx.served.last.bytes, 1000);
    assert_false (fx.served.last.whole);
    assert_memory_equal (fx.served.last.sha256, sha, 32);

    /* Suffix range, and a range that covers the whole file. */
    s_fetch (&fx, "GET", "/small", "Range: bytes=-6\r\n", &r);
    assert_int_equal (r.status, 206);
    assert_int_equal (r.body_len, 6);
    assert_memory_equal (r.body, " host\n", 6);
    s_response_free (&r);
    s_fetch (&fx, "GET", "/small", "Range: bytes=0-\r\n", &r);
    assert_int_equal (r.status, 206);
    assert_true (fx.served.last.whole);
    s_response_free (&r);
    /* If-Range and several ranges: the whole file, 200. */
    s_fetch (&fx, "GET", "/small", "Range: bytes=0-1\r\nIf-Range: \"x\"\r\n", &r);
    assert_int_equal (r.status, 200);
    assert_int_equal (r.body_len, 12);
    s_response_free (&r);
    s_fetch (&fx, "GET", "/small", "Range: bytes=0-1,4-5\r\n", &r);
    assert_int_equal (r.status, 200);
    assert_int_equal (r.body_len, 12);
    s_response_free (&r);

    /* Empty file, a symlink inside the boot directory. */
    s_fetch (&fx, "GET", "/empty", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_int_equal (r.body_len, 0);
    s_response_free (&r);
    wd_hash_sha256 (sha, "", 0);
    assert_memory_equal (fx.served.last.sha256, sha, 32);
    s_fetch (&fx, "GET", "/sub/inside", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_memory_equal (r.body, "hello, host\n", 12);
    s_response_free (&r);

    /* HEAD: the length, no body, nothing reported as served. */
    int before = fx.served.count;
    s_fetch (&fx, "HEAD", "/big", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_header (&r, "Content-Length"), "3145745");
    assert_int_equal (r.body_len, 0);
    s_response_free (&r);
    assert_int_equal (fx.served.count, before);

    pxe_http_stats_t st;
    pxe_http_stats (fx.server, &st);
    assert_int_equal (st.head, 1);
    assert_int_equal (st.partial, 3);
    assert_int_equal (st.completed, (uint64_t)fx.served.count);
    s_stop (&fx);
}

static void
test_refusals (void **state)
{
    (void)state;
    s_fixture_t fx;
    s_start (&fx, NULL, NULL);
    s_expect_refusal (&fx, "GET", "/nothere", NULL, 404, PXE_ERR_PATH_NOT_FOUND);
    s_expect_refusal (&fx, "GET", "/", NULL, 404, PXE_ERR_PATH_NAME);
    s_expect_refusal (&fx, "GET", "/../outside", NULL, 403, PXE_ERR_PATH_DOTDOT);
    s_expect_refusal (&fx, "GET", "/sub/../../outside", NULL, 403, PXE_ERR_PATH_DOTDOT);
    s_expect_refusal (&fx, "GET", "/%2e%2e/outside", NULL, 403, PXE_ERR_PATH_DOTDOT);
    s_expect_refusal (&fx, "GET", "/sub/%2E%2E%2f..%2Foutside", NULL, 403, PXE_ERR_PATH_DOTDOT);
    s_expect_refusal (&fx, "GET", "//etc/passwd", NULL, 403, PXE_ERR_PATH_ABSOLUTE);
    s_expect_refusal (&fx, "GET", "/abs", NULL, 403, PXE_ERR_PATH_ESCAPE);
    s_expect_refusal (&fx, "GET", "/rel", NULL, 403, PXE_ERR_PATH_ESCAPE);
    s_expect_refusal (&fx, "GET", "/sub", NULL, 403, PXE_ERR_PATH_NOT_REGULAR);
    s_expect_refusal (&fx, "GET", "/sm%01all", NULL, 404, PXE_ERR_PATH_NAME);
    s_expect_refusal (&fx, "POST", "/small", "Content-Length: 3\r\n", 405, PXE_ERR_HTTP_METHOD);
    s_expect_refusal (&fx, "DELETE", "/small", NULL, 405, PXE_ERR_HTTP_METHOD);
    s_expect_refusal (&fx, "GET", "/big", "Range: bytes=3145745-\r\n", 416,
                      PXE_ERR_HTTP_RANGE_UNSATISFIABLE);
    s_expect_refusal (&fx, "GET", "/big", "Range: bytes=9-3\r\n", 416, PXE_ERR_HTTP_RANGE_SYNTAX);
    s_response_t r;
    s_fetch (&fx, "GET", "/big", "Range: bytes=99999999-\r\n", &r);
    assert_string_equal (s_header (&r, "Content-Range"), "bytes */3145745");
    s_response_free (&r);
    s_fetch (&fx, "PUT", "/small", NULL, &r);
    assert_string_equal (s_header (&r, "Allow"), "GET, HEAD");
    s_response_free (&r);
    pxe_http_stats_t st;
    pxe_http_stats (fx.server, &st);
    assert_int_equal (st.not_found, 3);
    assert_int_equal (st.forbidden, 8);
    assert_int_equal (st.bad_method, 3);
    assert_int_equal (st.bad_range, 3);
    assert_int_equal (fx.served.count, 0);
    s_stop (&fx);
}

static void
test_image_set (void **state)
{
    (void)state;
    s_make_root ();
    int fd = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    pxe_images_t *images = pxe_images_new (fd, NULL);
    static const char tmpl[] = "#!ipxe\nkernel {{base_url}}/{{kernel}} {{cmdline}}\n";
    test_write_file (s_root, "boot.ipxe", tmpl, strlen (tmpl));
    uint8_t sha[32], key[32] = { 1, 2, 3 };
    wd_hash_sha256 (sha, tmpl, strlen (tmpl));
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_SCRIPT, "boot.ipxe", sha), 0);
    wd_hash_sha256 (sha, s_big, S_BIG);
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_KERNEL, "big", sha), 0);
    wd_hash_sha256 (sha, "hello, host\n", 12);
    assert_int_equal (pxe_images_approve (images, PXE_IMAGE_INITRD, "small", sha), 0);
    assert_int_equal (pxe_images_set_attest (images, "tcp://127.0.0.1:7070", key), 0);
    assert_int_equal (pxe_images_verify (images), 0);
    s_fixture_t fx;
    s_start (&fx, images, NULL);

    s_response_t r;
    s_fetch (&fx, "GET", "/big", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_int_equal (r.body_len, S_BIG);
    assert_memory_equal (r.body, s_big, S_BIG);
    s_response_free (&r);
    wd_hash_sha256 (sha, s_big, S_BIG);
    assert_true (fx.served.last.approved && fx.served.last.whole);
    assert_memory_equal (fx.served.last.sha256, sha, 32);
    s_fetch (&fx, "GET", "/big", "Range: bytes=-100\r\n", &r);
    assert_int_equal (r.status, 206);
    assert_memory_equal (r.body, s_big + S_BIG - 100, 100);
    s_response_free (&r);
    wd_hash_sha256 (sha, s_big + S_BIG - 100, 100);
    assert_memory_equal (fx.served.last.sha256, sha, 32);

    s_fetch (&fx, "GET", "/boot.ipxe", NULL, &r);
    assert_int_equal (r.status, 200);
    assert_string_equal (s_header (&r, "Cache-Control"), "no-store");
    char want[200];
    snprintf (want, sizeof want, "#!ipxe\nkernel http://127.0.0.1:%u/big warden.server=", fx.port);
    assert_memory_equal (r.body, want, strlen (want));
    wd_hash_sha256 (sha, r.body, r.body_len);
    assert_memory_equal (fx.served.last.sha256, sha, 32);
    s_response_free (&r);

    s_expect_refusal (&fx, "GET", "/empty", NULL, 403, PXE_ERR_IMAGE_UNAPPROVED);
    s_expect_refusal (&fx, "GET", "/%2e%2e/outside", NULL, 403, PXE_ERR_PATH_DOTDOT);
    /* Changed on disk after verification: refused, whole or in part. */
    test_write_file (s_root, "small", "HELLO, host\n", 12);
    s_expect_refusal (&fx, "GET", "/small", NULL, 403, PXE_ERR_IMAGE_DIGEST);
    s_expect_refusal (&fx, "HEAD", "/small", "Range: bytes=0-0\r\n", 403, PXE_ERR_IMAGE_DIGEST);
    test_write_file (s_root, "small", "hello, host\n", 12);
    s_fetch (&fx, "GET", "/small", NULL, &r);
    assert_int_equal (r.status, 200);
    s_response_free (&r);
    s_stop (&fx);
}

static void
test_limits_and_abort (void **state)
{
    (void)state;
    pxe_http_config_t config = { .max_per_client = 1 };
    s_fixture_t fx;
    s_start (&fx, NULL, &config);
    /* One connection held open: a second one from the same address is
       closed without an answer. */
    int a = s_connect (fx.port);
    for (int i = 0; i < 5; i++)
        assert_int_equal (pxe_http_dispatch (fx.server), 0);
    int b = s_connect (fx.port);
    const char req[] = "GET /small HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal (send (b, req, sizeof req - 1, MSG_NOSIGNAL), (ssize_t)sizeof req - 1);
    s_pump_until_readable (&fx, b);
    char buf[4096];
    ssize_t n = recv (b, buf, sizeof buf, 0);
    assert_true (n <= 0);
    close (b);
    pxe_http_stats_t st;
    pxe_http_stats (fx.server, &st);
    assert_int_equal (st.active, 1);

    /* A download the client abandons is counted, not reported. */
    int rcv = 4096;
    assert_int_equal (setsockopt (a, SOL_SOCKET, SO_RCVBUF, &rcv, sizeof rcv), 0);
    const char big[] = "GET /big HTTP/1.1\r\nHost: t\r\n\r\n";
    assert_int_equal (send (a, big, sizeof big - 1, 0), (ssize_t)sizeof big - 1);
    s_pump_until_readable (&fx, a);
    assert_true (recv (a, buf, sizeof buf, 0) > 0);
    struct linger lg = { .l_onoff = 1, .l_linger = 0 };
    setsockopt (a, SOL_SOCKET, SO_LINGER, &lg, sizeof lg); /* RST */
    close (a);
    for (int i = 0; i < 400 && (st.aborted == 0 || st.active); i++) {
        assert_int_equal (pxe_http_dispatch (fx.server), 0);
        struct pollfd p = { .fd = pxe_http_fd (fx.server), .events = POLLIN };
        (void)poll (&p, 1, 5);
        pxe_http_stats (fx.server, &st);
    }
    assert_int_equal (st.aborted, 1);
    assert_int_equal (st.completed, 0);
    assert_int_equal (st.active, 0);
    assert_int_equal (fx.served.count, 0);
    s_stop (&fx);
}

static void
test_new_checks_socket (void **state)
{
    (void)state;
    s_make_root ();
    int err = 0;
    int udp = socket (AF_INET, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    int root = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    assert_null (pxe_http_new (udp, root, NULL, NULL, &err));
    assert_int_equal (err, PXE_ERR_HTTP_SOCKET);
    int tcp = socket (AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* not listening */
    root = open (s_root, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    err = 0;
    assert_null (pxe_http_new (tcp, root, NULL, NULL, &err));
    assert_int_equal (err, PXE_ERR_HTTP_SOCKET);
    /* Both descriptors were closed on failure. */
    assert_int_equal (fcntl (tcp, F_GETFD), -1);
    assert_int_equal (fcntl (root, F_GETFD), -1);
    assert_int_equal (pxe_http_bind ("not-an-address", 0, NULL), -1);
    assert_int_equal (errno, EINVAL);
    pxe_http_t *none = NULL;
    pxe_http_destroy (&none);
}

static int
s_teardown (void **state)
{
    free (s_big);
    s_big = NULL;
    return test_tmpdir_teardown (state);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test (test_range_parse),       cmocka_unit_test (test_status_for),
        cmocka_unit_test (test_plain_files),       cmocka_unit_test (test_refusals),
        cmocka_unit_test (test_image_set),         cmocka_unit_test (test_limits_and_abort),
        cmocka_unit_test (test_new_checks_socket),
    };
    return cmocka_run_group_tests (tests, NULL, s_teardown);
}
