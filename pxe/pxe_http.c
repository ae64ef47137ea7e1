/*
 * pxe_http: read-only HTTP boot server on libmicrohttpd (see pxe_http.h and
 * "HTTP boot and approved images" in docs/PROTOCOL.md).
 *
 * Every request is answered from the access handler's second call, once
 * the whole request is in (a GET or HEAD body is discarded; other methods
 * are refused at once). A request's state (s_req_t) lives in MHD's
 * per-request pointer until the completion callback, which reports what a
 * finished GET sent. Three kinds of body:
 *   - a sealed verified copy from pxe_images: an fd response (MHD sends it
 *     with sendfile); its bytes cannot change, so the digest of what is
 *     sent is the approved digest for the whole file, or is computed from
 *     the copy for a range before the response is queued;
 *   - the generated boot script: a buffer response, hashed before queuing;
 *   - a plain file from the boot directory (no image set): a callback
 *     response that preads the file and hashes each block as it hands it
 *     to MHD, never past the size seen at open (a file that shrinks ends
 *     the response with an error).
 */
#include "pxe_http.h"

#include <arpa/inet.h>
#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <microhttpd.h>
#include <openssl/evp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "wd_hash.h"
#include "pxe_sock.h"
#include "wd_log.h"

#define S_DEFAULT_MAX_CONNECTIONS 256
#define S_DEFAULT_MAX_PER_CLIENT  16
#define S_DEFAULT_TIMEOUT_S       30
#define S_BLOCK                   (64 * 1024)  /* callback response block */
#define S_CONNECTION_MEMORY       (128 * 1024) /* per connection: MHD's buffers (default 32 KiB) */
#define S_HASH_CHUNK              (256 * 1024)
#define S_LOG_PER_SECOND          10

typedef struct {
    pxe_http_t *server;
    char path[PXE_PATH_MAX + 2];
    char client[64];
    struct sockaddr_storage addr;
    bool answered; /* a response is queued */
    bool report;   /* a GET with a body: report it when MHD finishes */
    bool approved;
    int status;
    uint64_t offset, length, size;
    uint8_t sha256[32]; /* known up front (images, script) */
    /* Plain files: read and hashed as MHD asks for blocks. */
    int fd;
    EVP_MD_CTX *sha;
    uint64_t hashed; /* bytes handed to MHD so far */
    bool read_error;
} s_req_t;

struct pxe_http {
    struct MHD_Daemon *daemon;
    int root_fd;
    bool no_openat2;
    pxe_images_t *images;
    pxe_http_config_t config;
    pxe_http_served_fn *served_fn;
    void *served_arg;
    pxe_http_stats_t stats;
    time_t log_second;
    unsigned log_count;
};

/* ---- Range ------------------------------------------------------------------------------- */

static bool
s_digit (char c)
{
    return c >= '0' && c <= '9';
}

/* 1..19 decimal digits at *p; advances *p. */
static bool
s_number (const char **p, uint64_t *v)
{
    uint64_t n = 0;
    int digits = 0;
    while (s_digit (**p)) {
        if (++digits > 19)
            return false;
        n = n * 10 + (uint64_t)(**p - '0');
        (*p)++;
    }
    *v = n;
    return digits > 0;
}

static const char *
s_skip_blanks (const char *p)
{
    while (*p == ' ' || *p == '\t')
        p++;
    return p;
}

int
pxe_http_range_parse (const char *value, uint64_t size, uint64_t *offset, uint64_t *length,
                      bool *partial)
{
    assert (value && offset && length && partial);
    *partial = false;
    const char *p = s_skip_blanks (value);
    const char *eq = strchr (p, '=');
    size_t ulen = eq ? (size_t)(eq - p) : 0;
    while (ulen && (p[ulen - 1] == ' ' || p[ulen - 1] == '\t'))
        ulen--;
    if (!eq || ulen != 5 || strncasecmp (p, "bytes", 5) != 0) {
        /* Another unit (RFC 9110 §14.2: ignore what we do not know), or no
           unit at all: an "=" missing is malformed only if it says bytes. */
        if (!eq && strncasecmp (p, "bytes", 5) == 0)
            return PXE_ERR_HTTP_RANGE_SYNTAX;
        *offset = 0;
        *length = size;
        return 0;
    }
    p = s_skip_blanks (eq + 1);
    if (strchr (p, ','))
        return PXE_ERR_HTTP_RANGE_MULTIPLE;
    uint64_t first = 0, last = 0;
    bool has_first = s_digit (*p);
    if (has_first && !s_number (&p, &first))
        return PXE_ERR_HTTP_RANGE_SYNTAX;
    if (*p != '-')
        return PXE_ERR_HTTP_RANGE_SYNTAX;
    p++;
    bool has_last = s_digit (*p);
    if (has_last && !s_number (&p, &last))
        return PXE_ERR_HTTP_RANGE_SYNTAX;
    if (*s_skip_blanks (p) != '\0' || (!has_first && !has_last))
        return PXE_ERR_HTTP_RANGE_SYNTAX;
    if (!has_first) { /* suffix: the last `last` bytes */
        if (last == 0 || size == 0)
            return PXE_ERR_HTTP_RANGE_UNSATISFIABLE;
        *offset = last >= size ? 0 : size - last;
        *length = size - *offset;
        *partial = true;
        return 0;
    }
    if (has_last && last < first)
        return PXE_ERR_HTTP_RANGE_SYNTAX;
    if (first >= size)
        return PXE_ERR_HTTP_RANGE_UNSATISFIABLE;
    if (!has_last || last >= size)
        last = size - 1;
    *offset = first;
    *length = last - first + 1;
    *partial = true;
    return 0;
}

int
pxe_http_status_for (int reason)
{
    switch (reason) {
        case PXE_ERR_PATH_NAME:
        case PXE_ERR_PATH_NOT_FOUND:
        case PXE_ERR_IMAGE_MISSING:
            return MHD_HTTP_NOT_FOUND;
        case PXE_ERR_PATH_ABSOLUTE:
        case PXE_ERR_PATH_DOTDOT:
        case PXE_ERR_PATH_ESCAPE:
        case PXE_ERR_PATH_NOT_REGULAR:
        case PXE_ERR_IMAGE_UNAPPROVED:
        case PXE_ERR_IMAGE_DIGEST:
        case PXE_ERR_IMAGE_TOO_LARGE:
        case PXE_ERR_IMAGE_TEMPLATE:
            return MHD_HTTP_FORBIDDEN;
        case PXE_ERR_HTTP_METHOD:
            return MHD_HTTP_METHOD_NOT_ALLOWED;
        case PXE_ERR_HTTP_RANGE_SYNTAX:
        case PXE_ERR_HTTP_RANGE_UNSATISFIABLE:
            return MHD_HTTP_RANGE_NOT_SATISFIABLE;
        case PXE_ERR_IMAGE_NO_ATTEST:
            return MHD_HTTP_SERVICE_UNAVAILABLE;
        default:
            return MHD_HTTP_INTERNAL_SERVER_ERROR;
    }
}

/* ---- helpers ----------------------------------------------------------------------------- */

static void
s_log_reject (pxe_http_t *self, const s_req_t *req, int rc)
{
    time_t now = time (NULL);
    if (now != self->log_second) {
        self->log_second = now;
        self->log_count = 0;
    }
    if (self->log_count++ >= S_LOG_PER_SECOND)
        return;
    char path[80];
    size_t i = 0;
    for (; req->path[i] && i + 1 < sizeof path; i++)
        path[i] = ((unsigned char)req->path[i] < 0x20 || req->path[i] == 0x7f) ? '?' : req->path[i];
    path[i] = '\0';
    wd_log_info ("http: %s from %s: %s (%s)", path, req->client, pxe_strerror (rc),
                 pxe_err_name (rc));
}

static void
s_addr_text (const struct sockaddr *sa, char *out, size_t len)
{
    snprintf (out, len, "?");
    if (!sa)
        return;
    if (sa->sa_family == AF_INET)
        inet_ntop (AF_INET, &((const struct sockaddr_in *)sa)->sin_addr, out, (socklen_t)len);
    else if (sa->sa_family == AF_INET6)
        inet_ntop (AF_INET6, &((const struct sockaddr_in6 *)sa)->sin6_addr, out, (socklen_t)len);
}

/* "http://ADDR:PORT" of the local end of the connection (for the boot
   script's {{base_url}}). */
static void
s_base_url (struct MHD_Connection *conn, char *out, size_t len)
{
    out[0] = '\0';
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    if (!ci || getsockname (ci->connect_fd, (struct sockaddr *)&ss, &slen) < 0)
        return;
    char host[INET6_ADDRSTRLEN];
    s_addr_text ((struct sockaddr *)&ss, host, sizeof host);
    if (ss.ss_family == AF_INET6)
        snprintf (out, len, "http://[%s]:%u", host,
                  ntohs (((struct sockaddr_in6 *)&ss)->sin6_port));
    else
        snprintf (out, len, "http://%s:%u", host, ntohs (((struct sockaddr_in *)&ss)->sin_port));
}

static void
s_req_free (s_req_t *req)
{
    if (!req)
        return;
    if (req->fd >= 0)
        close (req->fd);
    EVP_MD_CTX_free (req->sha);
    free (req);
}

static enum MHD_Result
s_queue (struct MHD_Connection *conn, int status, struct MHD_Response *resp)
{
    if (!resp)
        return MHD_NO;
    enum MHD_Result r = MHD_queue_response (conn, (unsigned)status, resp);
    MHD_destroy_response (resp);
    return r;
}

static void
s_count_status (pxe_http_t *self, int status)
{
    switch (status) {
        case MHD_HTTP_OK:
            self->stats.ok++;
            break;
        case MHD_HTTP_PARTIAL_CONTENT:
            self->stats.partial++;
            break;
        case MHD_HTTP_NOT_FOUND:
            self->stats.not_found++;
            break;
        case MHD_HTTP_FORBIDDEN:
            self->stats.forbidden++;
            break;
        case MHD_HTTP_METHOD_NOT_ALLOWED:
            self->stats.bad_method++;
            break;
        case MHD_HTTP_RANGE_NOT_SATISFIABLE:
            self->stats.bad_range++;
            break;
        default:
            self->stats.failed++;
            break;
    }
}

/* A refusal: status for the reason, a one-line text body naming it, and
   the reason's identifier in X-Warden-Reason (tests and operators read
   it). size is the file size for a 416's Content-Range. */
static enum MHD_Result
s_refuse (pxe_http_t *self, struct MHD_Connection *conn, s_req_t *req, int rc, uint64_t size)
{
    int status = pxe_http_status_for (rc);
    s_count_status (self, status);
    s_log_reject (self, req, rc);
    char body[256];
    int n =
        snprintf (body, sizeof body, "%d %s (%s)\n", status, pxe_strerror (rc), pxe_err_name (rc));
    struct MHD_Response *resp =
        MHD_create_response_from_buffer ((size_t)n, body, MHD_RESPMEM_MUST_COPY);
    if (!resp)
        return MHD_NO;
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
    MHD_add_response_header (resp, "X-Warden-Reason", pxe_err_name (rc));
    if (status == MHD_HTTP_METHOD_NOT_ALLOWED)
        MHD_add_response_header (resp, MHD_HTTP_HEADER_ALLOW, "GET, HEAD");
    if (status == MHD_HTTP_RANGE_NOT_SATISFIABLE) {
        char cr[48];
        snprintf (cr, sizeof cr, "bytes */%" PRIu64, size);
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
    return s_queue (conn, status, resp);
}

/* SHA-256 of [offset, offset + length) of fd, read with pread. */
static int
s_hash_range (int fd, uint64_t offset, uint64_t length, uint8_t out[32])
{
    EVP_MD_CTX *sha = EVP_MD_CTX_new ();
    uint8_t *buf = malloc (S_HASH_CHUNK);
    int rc = WD_ERR_NOMEM;
    if (!sha || !buf || EVP_DigestInit_ex (sha, EVP_sha256 (), NULL) != 1)
        goto out;
    rc = WD_ERR_IO;
    while (length) {
        size_t want = length < S_HASH_CHUNK ? (size_t)length : S_HASH_CHUNK;
        ssize_t r = pread (fd, buf, want, (off_t)offset);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0 || EVP_DigestUpdate (sha, buf, (size_t)r) != 1)
            goto out;
        offset += (uint64_t)r;
        length -= (uint64_t)r;
    }
    rc = EVP_DigestFinal_ex (sha, out, NULL) == 1 ? 0 : WD_ERR_IO;
out:
    free (buf);
    EVP_MD_CTX_free (sha);
    return rc;
}

/* MHD's content reader for plain files: pos counts from the start of the
   response body, which is the range start in the file. */
static ssize_t
s_read_plain (void *cls, uint64_t pos, char *buf, size_t max)
{
    s_req_t *req = cls;
    if (pos != req->hashed || pos >= req->length)
        return MHD_CONTENT_READER_END_WITH_ERROR; /* MHD reads strictly in order */
    uint64_t left = req->length - pos;
    size_t want = left < max ? (size_t)left : max;
    ssize_t r;
    do
        r = pread (req->fd, buf, want, (off_t)(req->offset + pos));
    while (r < 0 && errno == EINTR);
    if (r <= 0 || EVP_DigestUpdate (req->sha, buf, (size_t)r) != 1) {
        req->read_error = true; /* the file shrank under us, or I/O failed */
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    req->hashed += (uint64_t)r;
    return r;
}

/* Adds the headers every file response carries. */
static void
s_file_headers (struct MHD_Response *resp, const s_req_t *req, bool script)
{
    MHD_add_response_header (resp, MHD_HTTP_HEADER_ACCEPT_RANGES, "bytes");
    MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_TYPE,
                             script ? "text/plain; charset=utf-8" : "application/octet-stream");
    if (script) /* it carries a one-time boot token */
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CACHE_CONTROL, "no-store");
    if (req->status == MHD_HTTP_PARTIAL_CONTENT) {
        char cr[80];
        snprintf (cr, sizeof cr, "bytes %" PRIu64 "-%" PRIu64 "/%" PRIu64, req->offset,
                  req->offset + req->length - 1, req->size);
        MHD_add_response_header (resp, MHD_HTTP_HEADER_CONTENT_RANGE, cr);
    }
}

/* Works out the range to send; returns 0 or a refusal reason. */
static int
s_pick_range (struct MHD_Connection *conn, s_req_t *req)
{
    req->offset = 0;
    req->length = req->size;
    req->status = MHD_HTTP_OK;
    const char *range = MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "Range");
    /* If-Range: no validators are sent, so the condition never holds and
       the whole file is the right answer (RFC 9110 §13.1.5). */
    if (!range || MHD_lookup_connection_value (conn, MHD_HEADER_KIND, "If-Range"))
        return 0;
    bool partial;
    uint64_t off, len;
    int rc = pxe_http_range_parse (range, req->size, &off, &len, &partial);
    if (rc == PXE_ERR_HTTP_RANGE_MULTIPLE)
        return 0;
    if (rc)
        return rc;
    if (partial) {
        req->offset = off;
        req->length = len;
        req->status = MHD_HTTP_PARTIAL_CONTENT;
    }
    return 0;
}

static enum MHD_Result
s_answer_image (pxe_http_t *self, struct MHD_Connection *conn, s_req_t *req, bool head)
{
    char base[96];
    s_base_url (conn, base, sizeof base);
    pxe_image_file_t file;
    int rc = pxe_images_open (self->images, req->path, req->client, base, &file);
    if (rc)
        return s_refuse (self, conn, req, rc, 0);
    bool script = file.role == PXE_IMAGE_SCRIPT;
    req->size = file.size;
    req->approved = true;
    rc = s_pick_range (conn, req);
    if (rc) {
        pxe_images_file_release (&file);
        return s_refuse (self, conn, req, rc, req->size);
    }
    bool whole = req->offset == 0 && req->length == req->size;
    if (whole)
        memcpy (req->sha256, file.sha256, 32);
    else if (!head && script)
        wd_hash_sha256 (req->sha256, file.data + req->offset, (size_t)req->length);
    else if (!head && (rc = s_hash_range (file.fd, req->offset, req->length, req->sha256)) != 0) {
        pxe_images_file_release (&file);
        return s_refuse (self, conn, req, rc, req->size);
    }
    struct MHD_Response *resp;
    if (script)
        resp = MHD_create_response_from_buffer ((size_t)req->length, file.data + req->offset,
                                                MHD_RESPMEM_MUST_COPY);
    else {
        /* MHD takes the descriptor and sends from it with sendfile. */
        resp = MHD_create_response_from_fd_at_offset64 (req->length, file.fd, req->offset);
        if (resp)
            file.fd = -1;
    }
    pxe_images_file_release (&file);
    if (!resp)
        return MHD_NO;
    s_file_headers (resp, req, script);
    s_count_status (self, req->status);
    req->report = !head;
    return s_queue (conn, req->status, resp);
}

static enum MHD_Result
s_answer_plain (pxe_http_t *self, struct MHD_Connection *conn, s_req_t *req, bool head)
{
    char path[PXE_PATH_MAX + 1];
    struct stat st;
    int rc = pxe_path_check (req->path, path, sizeof path);
    if (rc == 0)
        rc = pxe_path_open (self->root_fd, path, &self->no_openat2, &req->fd, &st);
    if (rc)
        return s_refuse (self, conn, req, rc, 0);
    req->size = (uint64_t)st.st_size;
    rc = s_pick_range (conn, req);
    if (rc)
        return s_refuse (self, conn, req, rc, req->size);
    req->sha = EVP_MD_CTX_new ();
    if (!req->sha || EVP_DigestInit_ex (req->sha, EVP_sha256 (), NULL) != 1)
        return s_refuse (self, conn, req, WD_ERR_NOMEM, 0);
    struct MHD_Response *resp;
    if (req->length == 0 || head) {
        /* HEAD: MHD sends the headers only, but it takes the body length
           from the response, so an empty body would say 0: use a reader
           that is never called. */
        resp =
            head ? MHD_create_response_from_callback (req->length, S_BLOCK, s_read_plain, req, NULL)
                 : MHD_create_response_from_buffer (0, (void *)"", MHD_RESPMEM_PERSISTENT);
    } else
        resp = MHD_create_response_from_callback (req->length, S_BLOCK, s_read_plain, req, NULL);
    if (!resp)
        return MHD_NO;
    s_file_headers (resp, req, false);
    s_count_status (self, req->status);
    req->report = !head;
    return s_queue (conn, req->status, resp);
}

static enum MHD_Result
s_handler (void *cls, struct MHD_Connection *conn, const char *url, const char *method,
           const char *version, const char *upload_data, size_t *upload_data_size, void **con_cls)
{
    (void)version;
    (void)upload_data;
    pxe_http_t *self = cls;
    if (*con_cls) {
        s_req_t *req = *con_cls;
        if (*upload_data_size || req->answered) {
            *upload_data_size = 0; /* a body on a GET or HEAD: discarded */
            return MHD_YES;
        }
        /* The whole request is in: answer it. Answering from the first
           call (headers only) would make MHD close the connection after
           the response, as it cannot know the request had no body. */
        req->answered = true;
        bool head = strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;
        if (url && strlen (url) > PXE_PATH_MAX + 1)
            return s_refuse (self, conn, req, PXE_ERR_PATH_NAME, 0);
        return self->images ? s_answer_image (self, conn, req, head)
                            : s_answer_plain (self, conn, req, head);
    }
    s_req_t *req = calloc (1, sizeof *req);
    if (!req)
        return MHD_NO;
    req->server = self;
    req->fd = -1;
    *con_cls = req;
    snprintf (req->path, sizeof req->path, "%s", url ? url : "");
    const union MHD_ConnectionInfo *ci =
        MHD_get_connection_info (conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    if (ci && ci->client_addr) {
        const struct sockaddr *sa = ci->client_addr;
        size_t alen =
            sa->sa_family == AF_INET6 ? sizeof (struct sockaddr_in6) : sizeof (struct sockaddr_in);
        memcpy (&req->addr, sa, alen);
        s_addr_text (sa, req->client, sizeof req->client);
    } else
        snprintf (req->client, sizeof req->client, "?");
    self->stats.requests++;
    bool head = strcmp (method, MHD_HTTP_METHOD_HEAD) == 0;
    if (!head && strcmp (method, MHD_HTTP_METHOD_GET) != 0)
        return s_refuse (self, conn, req, PXE_ERR_HTTP_METHOD, 0);
    if (head)
        self->stats.head++;
    return MHD_YES;
}

static void
s_completed (void *cls, struct MHD_Connection *conn, void **con_cls,
             enum MHD_RequestTerminationCode toe)
{
    (void)conn;
    pxe_http_t *self = cls;
    s_req_t *req = *con_cls;
    *con_cls = NULL;
    if (!req)
        return;
    if (req->report) {
        bool ok = toe == MHD_REQUEST_TERMINATED_COMPLETED_OK && !req->read_error;
        if (ok && req->sha) {
            ok =
                req->hashed == req->length && EVP_DigestFinal_ex (req->sha, req->sha256, NULL) == 1;
        }
        if (ok) {
            self->stats.completed++;
            self->stats.bytes_sent += req->length;
            if (self->served_fn) {
                pxe_http_served_t served;
                memset (&served, 0, sizeof served);
                served.path = req->path;
                served.client = req->client;
                served.addr = req->addr;
                served.status = req->status;
                served.offset = req->offset;
                served.bytes = req->length;
                served.size = req->size;
                memcpy (served.sha256, req->sha256, 32);
                served.whole = req->offset == 0 && req->length == req->size;
                served.approved = req->approved;
                self->served_fn (self->served_arg, &served);
            }
        } else {
            self->stats.aborted++;
            wd_log_info ("http: %s to %s cut short after %" PRIu64 " of %" PRIu64 " bytes",
                         req->path, req->client, req->hashed, req->length);
        }
    }
    s_req_free (req);
}

static void
s_connection (void *cls, struct MHD_Connection *conn, void **socket_context,
              enum MHD_ConnectionNotificationCode toe)
{
    (void)conn;
    (void)socket_context;
    pxe_http_t *self = cls;
    if (toe == MHD_CONNECTION_NOTIFY_STARTED)
        self->stats.active++;
    else if (self->stats.active)
        self->stats.active--;
}

static void __attribute__ ((format (printf, 2, 0)))
s_mhd_log (void *cls, const char *fmt, va_list ap)
{
    (void)cls;
    char line[256];
    vsnprintf (line, sizeof line, fmt, ap);
    size_t n = strlen (line);
    while (n && (line[n - 1] == '\n' || line[n - 1] == '\r'))
        line[--n] = '\0';
    wd_log_debug ("http: libmicrohttpd: %s", line);
}

/* ---- the server ------------------------------------------------------------------------------ */

pxe_http_t *
pxe_http_new (int sock_fd, int root_fd, pxe_images_t *images, const pxe_http_config_t *config,
              int *err)
{
    int rc = WD_ERR_NOMEM;
    pxe_http_t *self = calloc (1, sizeof *self);
    if (!self)
        goto out_close;
    self->root_fd = root_fd;
    self->images = images;
    if (config)
        self->config = *config;
    if (!self->config.max_connections)
        self->config.max_connections = S_DEFAULT_MAX_CONNECTIONS;
    if (!self->config.max_per_client)
        self->config.max_per_client = S_DEFAULT_MAX_PER_CLIENT;
    if (!self->config.timeout_s)
        self->config.timeout_s = S_DEFAULT_TIMEOUT_S;

    int type = 0, listening = 0;
    socklen_t tlen = sizeof type, llen = sizeof listening;
    struct sockaddr_storage ss;
    socklen_t slen = sizeof ss;
    rc = PXE_ERR_HTTP_SOCKET;
    if (getsockopt (sock_fd, SOL_SOCKET, SO_TYPE, &type, &tlen) < 0 || type != SOCK_STREAM ||
        getsockopt (sock_fd, SOL_SOCKET, SO_ACCEPTCONN, &listening, &llen) < 0 || !listening ||
        getsockname (sock_fd, (struct sockaddr *)&ss, &slen) < 0 ||
        (ss.ss_family != AF_INET && ss.ss_family != AF_INET6)) {
        free (self);
        goto out_close;
    }
    /* MHD uses sendfile only when it may raise SIGPIPE: the caller
       ignoring SIGPIPE (the pxe child does) is that promise. */
    struct sigaction sa;
    int sigpipe_ignored = sigaction (SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
    unsigned flags = MHD_USE_EPOLL | MHD_USE_ERROR_LOG | MHD_USE_TURBO;
    if (ss.ss_family == AF_INET6)
        flags |= MHD_USE_IPv6;
    self->daemon = MHD_start_daemon (
        flags, 0, NULL, NULL, s_handler, self, MHD_OPTION_EXTERNAL_LOGGER, s_mhd_log, self,
        MHD_OPTION_LISTEN_SOCKET, sock_fd, MHD_OPTION_CONNECTION_LIMIT,
        self->config.max_connections, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        self->config.max_per_client, MHD_OPTION_CONNECTION_TIMEOUT, self->config.timeout_s,
        MHD_OPTION_NOTIFY_COMPLETED, s_completed, self, MHD_OPTION_NOTIFY_CONNECTION, s_connection,
        self, MHD_OPTION_CONNECTION_MEMORY_LIMIT, (size_t)S_CONNECTION_MEMORY,
        MHD_OPTION_SIGPIPE_HANDLED_BY_APP, sigpipe_ignored, MHD_OPTION_END);
    if (!self->daemon) {
        rc = PXE_ERR_HTTP_DAEMON;
        free (self);
        goto out_close;
    }
    return self;

out_close:
    close (sock_fd);
    close (root_fd);
    if (err)
        *err = rc;
    return NULL;
}

void
pxe_http_destroy (pxe_http_t **self_p)
{
    assert (self_p);
    if (*self_p) {
        pxe_http_t *self = *self_p;
        MHD_socket sock = MHD_quiesce_daemon (self->daemon);
        MHD_stop_daemon (self->daemon);
        if (sock != MHD_INVALID_SOCKET)
            close (sock);
        close (self->root_fd);
        free (self);
        *self_p = NULL;
    }
}

void
pxe_http_set_served (pxe_http_t *self, pxe_http_served_fn *fn, void *arg)
{
    assert (self);
    self->served_fn = fn;
    self->served_arg = arg;
}

int
pxe_http_fd (const pxe_http_t *self)
{
    assert (self);
    const union MHD_DaemonInfo *di = MHD_get_daemon_info (self->daemon, MHD_DAEMON_INFO_EPOLL_FD);
    return di ? di->epoll_fd : -1;
}

int
pxe_http_timeout_ms (const pxe_http_t *self)
{
    assert (self);
    MHD_UNSIGNED_LONG_LONG t;
    if (MHD_get_timeout (self->daemon, &t) != MHD_YES)
        return -1;
    return t > 60000 ? 60000 : (int)t;
}

int
pxe_http_dispatch (pxe_http_t *self)
{
    assert (self);
    return MHD_run (self->daemon) == MHD_YES ? 0 : PXE_ERR_HTTP_DAEMON;
}

int
pxe_http_run (pxe_http_t *self, volatile const int *stop)
{
    assert (self && stop);
    int epfd = pxe_http_fd (self);
    if (epfd < 0)
        return PXE_ERR_HTTP_DAEMON;
    while (!*stop) {
        int t = pxe_http_timeout_ms (self);
        if (t < 0 || t > 200)
            t = 200;
        /* poll, not epoll_wait: waiting on MHD's epoll set would consume
           its edge-triggered events before MHD_run sees them. */
        struct pollfd pfd = { .fd = epfd, .events = POLLIN };
        if (poll (&pfd, 1, t) < 0 && errno != EINTR)
            return PXE_ERR_HTTP_DAEMON;
        int rc = pxe_http_dispatch (self);
        if (rc)
            return rc;
    }
    return 0;
}

void
pxe_http_stats (const pxe_http_t *self, pxe_http_stats_t *stats)
{
    assert (self && stats);
    *stats = self->stats;
}

int
pxe_http_bind (const char *addr, uint16_t port, uint16_t *bound_port)
{
    return pxe_sock_bind (PXE_SOCK_TCP_LISTEN, addr, port, NULL, bound_port);
}
