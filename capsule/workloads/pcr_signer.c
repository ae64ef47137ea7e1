/*
 * pcr_signer: statements about received files, and the plumbing of the
 * intake channels (serial line, drop directory).
 */
#include "pcr_signer.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#include "capsule_verify.h"
#include "wd_codec.h"
#include "wd_hash.h"

void
capsule_pcr_time (char out[32], uint64_t ms)
{
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r (&t, &tm);
    char base[24];
    strftime (base, sizeof base, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf (out, 32, "%s.%03uZ", base, (unsigned)(ms % 1000));
}

uint64_t
capsule_pcr_now_ms (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_REALTIME, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

uint8_t *
capsule_pcr_statement (const capsule_pcr_result_t *r, const capsule_pcr_meta_t *meta, size_t *len)
{
    char hex[WD_HASH_HEX_LEN + 1], when[32];
    wd_writer_t *w = wd_writer_new ();
    wd_writer_map (w, 4);
    wd_writer_key (w, "_type");
    wd_writer_cstr (w, CAPSULE_STATEMENT_TYPE);
    wd_writer_key (w, "predicate");
    wd_writer_map (w, 9);
    wd_writer_key (w, "channel");
    wd_writer_cstr (w, r->channel);
    wd_writer_key (w, "instrument");
    capsule_pcr_meta_write (w, meta);
    wd_writer_key (w, "key_protection");
    wd_writer_cstr (w, r->key_protection);
    wd_writer_key (w, "node");
    wd_writer_cstr (w, r->node);
    wd_writer_key (w, "node_id");
    wd_writer_cstr (w, wd_hex_encode (hex, r->node_id, 32));
    wd_writer_key (w, "parser");
    wd_writer_cstr (w, CAPSULE_PCR_PARSER);
    wd_writer_key (w, "received");
    capsule_pcr_time (when, r->received_ms);
    wd_writer_cstr (w, when);
    wd_writer_key (w, "seq");
    if (r->has_seq)
        wd_writer_uint (w, r->seq);
    else
        wd_writer_nil (w);
    wd_writer_key (w, "size");
    wd_writer_uint (w, r->size);
    wd_writer_key (w, "predicateType");
    wd_writer_cstr (w, CAPSULE_PREDICATE_TYPE);
    wd_writer_key (w, "subject");
    wd_writer_array (w, 1);
    wd_writer_map (w, 2);
    wd_writer_key (w, "digest");
    wd_writer_map (w, 1);
    wd_writer_key (w, "sha256");
    wd_writer_cstr (w, wd_hex_encode (hex, r->sha256, 32));
    wd_writer_key (w, "name");
    wd_writer_cstr (w, r->name);
    uint8_t *out = wd_writer_take (w, len);
    wd_writer_destroy (&w);
    return out;
}

static const struct {
    unsigned baud;
    speed_t speed;
} s_speeds[] = {
    { 1200, B1200 },       { 2400, B2400 },       { 4800, B4800 },     { 9600, B9600 },
    { 19200, B19200 },     { 38400, B38400 },     { 57600, B57600 },   { 115200, B115200 },
    { 230400, B230400 },   { 460800, B460800 },   { 921600, B921600 }, { 1000000, B1000000 },
    { 2000000, B2000000 }, { 4000000, B4000000 },
};

static bool
s_speed (unsigned baud, speed_t *speed)
{
    for (size_t i = 0; i < sizeof s_speeds / sizeof s_speeds[0]; i++)
        if (s_speeds[i].baud == baud) {
            *speed = s_speeds[i].speed;
            return true;
        }
    return false;
}

bool
capsule_pcr_baud_valid (unsigned baud)
{
    speed_t s;
    return s_speed (baud, &s);
}

int
capsule_pcr_serial_open (const char *path, unsigned baud, char *why, size_t why_len)
{
    speed_t speed;
    if (!s_speed (baud, &speed)) {
        snprintf (why, why_len, "%u baud is not a supported speed", baud);
        return -1;
    }
    int fd = open (path, O_RDONLY | O_NOCTTY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) {
        snprintf (why, why_len, "%s: %s", path, strerror (errno));
        return -1;
    }
    if (isatty (fd)) {
        struct termios tio;
        if (tcgetattr (fd, &tio) != 0) {
            snprintf (why, why_len, "%s: tcgetattr: %s", path, strerror (errno));
            close (fd);
            return -1;
        }
        cfmakeraw (&tio); /* also clears ECHO: a terminal must not answer back */
        tio.c_cflag |= CLOCAL | CREAD;
        tio.c_cflag &= ~(tcflag_t)CRTSCTS;
        tio.c_iflag &= ~(tcflag_t)(IXON | IXOFF | IXANY); /* no XON/XOFF sent back either */
        tio.c_cc[VMIN] = 1;
        tio.c_cc[VTIME] = 0;
        if (cfsetispeed (&tio, speed) != 0 || cfsetospeed (&tio, speed) != 0 ||
            tcsetattr (fd, TCSANOW, &tio) != 0) {
            snprintf (why, why_len, "%s: cannot set raw mode at %u baud: %s", path, baud,
                      strerror (errno));
            close (fd);
            return -1;
        }
    }
    return fd;
}

int
capsule_pcr_dir_read (int dirfd, const char *name, size_t max, uint64_t settle_ms, uint8_t **data,
                      size_t *len)
{
    *data = NULL;
    *len = 0;
    int fd = openat (dirfd, name, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0)
        return errno == ELOOP ? 0 : -1;
    struct stat st;
    if (fstat (fd, &st) != 0) {
        int e = errno;
        close (fd);
        errno = e;
        return -1;
    }
    uint64_t changed = (uint64_t)st.st_mtim.tv_sec * 1000 + (uint64_t)st.st_mtim.tv_nsec / 1000000;
    if (!S_ISREG (st.st_mode) || changed + settle_ms > capsule_pcr_now_ms ()) {
        close (fd);
        return 0;
    }
    if ((uint64_t)st.st_size > max) {
        close (fd);
        return -2;
    }
    size_t size = (size_t)st.st_size;
    uint8_t *buf = malloc (size ? size : 1);
    if (!buf)
        abort ();
    size_t got = 0;
    while (got < size) {
        ssize_t n = read (fd, buf + got, size - got);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close (fd);
    if (got != size) { /* changed under us: try again later */
        free (buf);
        return 0;
    }
    *data = buf;
    *len = size;
    return 1;
}
