/*
 * Unit tests for the PCR intake framing (pcr_signer_frame) over a real
 * pseudo-terminal pair: the instrument side writes frames into the master,
 * the node side reads the slave opened by capsule_pcr_serial_open (raw
 * mode, read-only). Gaps, duplicates, corrupted data and headers,
 * truncation followed by a good frame, noise, oversize frames and a stream
 * that stops mid-frame are each reported with their exact code; good
 * frames arrive byte for byte; nothing ever comes back to the master.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pty.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include <cmocka.h>

#include "capsule_err.h"
#include "pcr_signer.h"
#include "pcr_signer_frame.h"
#include "test_support.h"

#define S_EVENTS_MAX 64

typedef struct {
    int code;
    uint64_t seq;
    char name[256];
    uint8_t *data;
    size_t len;
    uint64_t gap_first, gap_last;
} s_event_t;

static s_event_t s_events[S_EVENTS_MAX];
static size_t s_nevents;

static void
s_on_event (void *arg, const capsule_pcr_frame_event_t *ev)
{
    (void)arg;
    assert_true (s_nevents < S_EVENTS_MAX);
    s_event_t *e = &s_events[s_nevents++];
    memset (e, 0, sizeof *e);
    e->code = ev->code;
    e->seq = ev->seq;
    e->gap_first = ev->gap_first;
    e->gap_last = ev->gap_last;
    if (ev->code == 0) {
        snprintf (e->name, sizeof e->name, "%s", ev->name);
        e->data = malloc (ev->data_len + 1);
        memcpy (e->data, ev->data, ev->data_len);
        e->len = ev->data_len;
        uint8_t h[32];
        crypto_hash_sha256 (h, ev->data, ev->data_len);
        assert_memory_equal (h, ev->sha256, 32);
    }
}

static void
s_reset (void)
{
    for (size_t i = 0; i < s_nevents; i++)
        free (s_events[i].data);
    s_nevents = 0;
}

static int
s_setup (void **state)
{
    (void)state;
    return sodium_init () < 0 ? -1 : 0;
}

static int
s_test_setup (void **state)
{
    (void)state;
    s_reset ();
    return 0;
}

static uint8_t *
s_frame (uint64_t seq, const char *name, const char *data, size_t *len)
{
    uint8_t *f = capsule_pcr_frame_encode (seq, name, (const uint8_t *)data, strlen (data), len);
    assert_non_null (f);
    return f;
}

/* The pty pair: master (instrument side), slave opened the node's way. */
typedef struct {
    int master, slave_keep, node;
} s_pty_t;

static void
s_pty_open (s_pty_t *p, unsigned baud)
{
    char name[128], why[256];
    assert_int_equal (openpty (&p->master, &p->slave_keep, name, NULL, NULL), 0);
    p->node = capsule_pcr_serial_open (name, baud, why, sizeof why);
    if (p->node < 0)
        fail_msg ("%s", why);
    struct termios tio;
    assert_int_equal (tcgetattr (p->node, &tio), 0);
    assert_int_equal (tio.c_lflag & (ECHO | ICANON), 0);
    assert_int_equal (cfgetispeed (&tio), baud == 9600 ? B9600 : B115200);
    int fl = fcntl (p->master, F_GETFL);
    fcntl (p->master, F_SETFL, fl | O_NONBLOCK);
}

static void
s_pty_close (s_pty_t *p)
{
    close (p->node);
    close (p->slave_keep);
    close (p->master);
}

/* Writes buf into the master while draining the node side into dec, until
   everything written has been read. */
static void
s_transfer (s_pty_t *p, capsule_pcr_frame_dec_t *dec, const uint8_t *buf, size_t len)
{
    size_t sent = 0, got = 0;
    uint8_t chunk[4096];
    while (got < len) {
        if (sent < len) {
            size_t n = len - sent < 1000 ? len - sent : 1000;
            ssize_t w = write (p->master, buf + sent, n);
            if (w > 0)
                sent += (size_t)w;
        }
        struct pollfd pfd = { .fd = p->node, .events = POLLIN };
        int rc = poll (&pfd, 1, 2000);
        assert_true (rc >= 0);
        if (rc == 0)
            fail_msg ("pty stalled after %zu of %zu bytes", got, len);
        ssize_t r = read (p->node, chunk, sizeof chunk);
        if (r > 0) {
            capsule_pcr_frame_dec_push (dec, chunk, (size_t)r);
            got += (size_t)r;
        }
    }
    /* one-way: nothing was echoed or answered */
    uint8_t back[16];
    assert_int_equal (read (p->master, back, sizeof back), -1);
    assert_int_equal (errno, EAGAIN);
}

/* A growable byte string for building streams. */
typedef struct {
    uint8_t *p;
    size_t len;
} s_buf_t;

static void
s_cat (s_buf_t *b, const void *data, size_t len)
{
    b->p = realloc (b->p, b->len + len + 1);
    memcpy (b->p + b->len, data, len);
    b->len += len;
}

static void
s_cat_frame (s_buf_t *b, uint64_t seq, const char *name, const char *data)
{
    size_t len;
    uint8_t *f = s_frame (seq, name, data, &len);
    s_cat (b, f, len);
    free (f);
}

static void
test_frames_over_pty (void **state)
{
    (void)state;
    s_pty_t p;
    s_pty_open (&p, 115200);
    capsule_pcr_frame_dec_t *dec = capsule_pcr_frame_dec_new (1 << 20, false, 0, s_on_event, NULL);
    /* binary data with every byte value, CR/LF and ^C/^S/^Q: raw mode must
       pass them untouched */
    char big[3000];
    for (size_t i = 0; i < sizeof big - 1; i++)
        big[i] = (char)(i % 255 + 1);
    big[sizeof big - 1] = '\0';
    s_buf_t b = { 0 };
    s_cat_frame (&b, 1, "run-1.txt", "* Instrument Type = sds7500fast\r\n");
    s_cat_frame (&b, 2, "run-2.bin", big);
    s_cat_frame (&b, 2, "run-2.bin", big);     /* duplicate */
    s_cat_frame (&b, 5, "run-5.txt", "fifth"); /* gap: 3 and 4 missing */
    s_cat (&b, "line noise", 10);              /* noise between frames */
    size_t flen;
    uint8_t *bad = s_frame (6, "run-6.txt", "sixth result", &flen);
    bad[flen - 1] ^= 0x20; /* data corrupted */
    s_cat (&b, bad, flen);
    free (bad);
    bad = s_frame (7, "run-7.txt", "seventh result, long enough", &flen);
    s_cat (&b, bad, flen - 10); /* the sender gave up mid-file... */
    free (bad);
    s_cat_frame (&b, 8, "run-8.txt", "eighth"); /* ...and went on */
    bad = s_frame (9, "run-9.txt", "ninth", &flen);
    bad[30] ^= 0x01; /* a corrupted header: resynchronise */
    s_cat (&b, bad, flen);
    free (bad);
    s_cat_frame (&b, 10, "run-10.txt", "tenth");
    s_transfer (&p, dec, b.p, b.len);

    static const int want[] = { 0,
                                0,
                                CAPSULE_ERR_FRAME_DUPLICATE,
                                CAPSULE_ERR_FRAME_GAP,
                                0,
                                CAPSULE_ERR_FRAME_NOISE,
                                CAPSULE_ERR_FRAME_DIGEST,
                                CAPSULE_ERR_FRAME_TRUNCATED,
                                CAPSULE_ERR_FRAME_GAP,
                                0,
                                CAPSULE_ERR_FRAME_HEADER };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (i >= s_nevents || s_events[i].code != want[i])
            fail_msg ("event %zu: %s, wanted %s", i,
                      i < s_nevents ? capsule_err_name (s_events[i].code) : "none",
                      capsule_err_name (want[i]));
    assert_string_equal (s_events[0].name, "run-1.txt");
    assert_int_equal (s_events[1].len, sizeof big - 1);
    assert_memory_equal (s_events[1].data, big, sizeof big - 1);
    assert_int_equal (s_events[2].seq, 2);
    assert_int_equal (s_events[3].gap_first, 3);
    assert_int_equal (s_events[3].gap_last, 4);
    assert_int_equal (s_events[4].seq, 5);
    assert_int_equal (s_events[6].seq, 6);
    assert_int_equal (s_events[7].seq, 7);
    assert_int_equal (s_events[8].gap_first, 6);
    assert_string_equal (s_events[9].name, "run-8.txt");
    /* after the damaged header: HEADER/NOISE reports, the gap, frame 10 */
    s_event_t *last = &s_events[s_nevents - 1];
    assert_int_equal (last->code, 0);
    assert_int_equal (last->seq, 10);
    assert_int_equal (s_events[s_nevents - 2].code, CAPSULE_ERR_FRAME_GAP);
    assert_int_equal (s_events[s_nevents - 2].gap_first, 9);
    for (size_t i = 10; i + 2 < s_nevents; i++)
        assert_true (s_events[i].code == CAPSULE_ERR_FRAME_HEADER ||
                     s_events[i].code == CAPSULE_ERR_FRAME_NOISE);
    assert_int_equal (capsule_pcr_frame_dec_pending (dec), 0);
    s_reset ();

    /* a sender that stops mid-frame: reported when the line goes idle */
    bad = s_frame (11, "run-11.txt", "eleventh", &flen);
    s_transfer (&p, dec, bad, flen - 3);
    free (bad);
    assert_int_equal (s_nevents, 0);
    capsule_pcr_frame_dec_flush (dec);
    assert_int_equal (s_nevents, 1);
    assert_int_equal (s_events[0].code, CAPSULE_ERR_FRAME_TRUNCATED);
    assert_int_equal (s_events[0].seq, 11);
    s_reset ();
    free (b.p);
    capsule_pcr_frame_dec_destroy (&dec);
    s_pty_close (&p);
}

static void
test_frame_limits (void **state)
{
    (void)state;
    /* continuing a channel: the log's last sequence number */
    capsule_pcr_frame_dec_t *dec = capsule_pcr_frame_dec_new (16, true, 41, s_on_event, NULL);
    s_buf_t b = { 0 };
    s_cat_frame (&b, 41, "old.txt", "x");                 /* duplicate of the log */
    s_cat_frame (&b, 42, "big.txt", "seventeen bytes!!"); /* oversize */
    s_cat_frame (&b, 43, "..", "x");                      /* bad name */
    s_cat_frame (&b, 44, "a/b", "x");                     /* bad name */
    s_cat_frame (&b, 45, "ok.txt", "");                   /* empty file: fine */
    for (size_t i = 0; i < b.len; i++)                    /* one byte at a time */
        capsule_pcr_frame_dec_push (dec, b.p + i, 1);
    capsule_pcr_frame_dec_flush (dec);
    static const int want[] = { CAPSULE_ERR_FRAME_DUPLICATE,
                                CAPSULE_ERR_FRAME_OVERSIZE,
                                CAPSULE_ERR_FRAME_NOISE,
                                CAPSULE_ERR_FRAME_NAME,
                                CAPSULE_ERR_FRAME_NAME,
                                CAPSULE_ERR_FRAME_GAP,
                                0 };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        if (i >= s_nevents || s_events[i].code != want[i])
            fail_msg ("event %zu: %s, wanted %s", i,
                      i < s_nevents ? capsule_err_name (s_events[i].code) : "none",
                      capsule_err_name (want[i]));
    assert_int_equal (s_nevents, sizeof want / sizeof want[0]);
    assert_int_equal (s_events[6].len, 0);
    s_reset ();
    free (b.p);
    capsule_pcr_frame_dec_destroy (&dec);

    /* the byte-exact layout of docs/PROTOCOL.md */
    size_t len;
    uint8_t *f = s_frame (0x0102030405060708ULL, "a.txt", "hi", &len);
    assert_int_equal (len, 55 + 5 + 2);
    assert_memory_equal (f, "WPCR\x01\x01\x02\x03\x04\x05\x06\x07\x08\x00\x05\x00\x00\x00\x02", 19);
    uint8_t h[32];
    crypto_hash_sha256 (h, (const uint8_t *)"hi", 2);
    assert_memory_equal (f + 19, h, 32);
    crypto_hash_sha256 (h, f, 51);
    assert_memory_equal (f + 51, h, 4);
    assert_memory_equal (f + 55, "a.txthi", 7);
    free (f);
    assert_null (capsule_pcr_frame_encode (1, "", (const uint8_t *)"", 0, &len));

    char why[128];
    assert_int_equal (capsule_pcr_serial_open ("/dev/null", 12345, why, sizeof why), -1);
    assert_int_equal (capsule_pcr_serial_open ("/nonexistent/tty", 9600, why, sizeof why), -1);
}

static void
test_slow_baud (void **state)
{
    (void)state;
    s_pty_t p;
    s_pty_open (&p, 9600);
    capsule_pcr_frame_dec_t *dec = capsule_pcr_frame_dec_new (1024, false, 0, s_on_event, NULL);
    size_t len;
    uint8_t *f = s_frame (1, "x.txt", "payload", &len);
    s_transfer (&p, dec, f, len);
    assert_int_equal (s_nevents, 1);
    assert_int_equal (s_events[0].code, 0);
    free (f);
    s_reset ();
    capsule_pcr_frame_dec_destroy (&dec);
    s_pty_close (&p);
}

int
main (void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup (test_frames_over_pty, s_test_setup),
        cmocka_unit_test_setup (test_frame_limits, s_test_setup),
        cmocka_unit_test_setup (test_slow_baud, s_test_setup),
    };
    return cmocka_run_group_tests (tests, s_setup, NULL);
}
