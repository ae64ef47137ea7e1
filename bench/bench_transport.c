/*
 * bench_transport: small messages between two cons_transport instances on
 * loopback (CURVE, ZAP, the version/channel frame, per-peer counters)
 * against the raw bound measured in the same run: plain libzmq DEALER ->
 * ROUTER pairs without CURVE carrying the same frames, each side in its own
 * context like the transport's.
 *
 * Two measurements per implementation, in interleaved rounds so drift hits
 * both alike:
 *
 *   throughput  A sends --messages frames to B with at most --window in
 *               flight; messages per second
 *   latency     A sends one frame, B's receive handler sends it straight
 *               back, A takes it; --pings round trips, p50 and p99
 *
 * Every answer is checked: bodies carry a sequence number and a pattern,
 * each received body must be the next one expected and intact, every sent
 * message must arrive, and the transport's own counters must agree with
 * what was sent and received. Any wrong or missing answer fails the run
 * (exit 1). Nothing asserts on timing.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <errno.h>
#include <getopt.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zmq.h>

#include "bench_support.h"
#include "cons_transport.h"
#include "wd_bytes.h"

#define S_EXIT_BAD    1
#define S_EXIT_USAGE  2
#define S_EXIT_INTERN 3
#define S_BODY_MAX    4096
#define S_WAIT_S      10.0 /* give up on a message after this long */

typedef enum { S_RAW, S_CURVE, S_IMPLS } s_impl_t;
static const char *const s_impl_names[S_IMPLS] = { "raw zmq", "cons_transport" };

typedef struct {
    unsigned long messages;
    unsigned long pings;
    unsigned long window;
    size_t size;
    unsigned rounds;
} s_options_t;

typedef struct s_bench s_bench_t;

/* One side's receive state. */
typedef struct {
    s_bench_t *bench;
    int side;        /* 0 = A, 1 = B */
    uint64_t expect; /* next sequence number */
    uint64_t received;
} s_side_t;

struct s_bench {
    s_impl_t impl;
    bool echo; /* latency: B sends every message back */
    size_t size;
    uint64_t bad;
    s_side_t sides[2];
    /* cons_transport */
    wd_cert_t certs[2];
    uint8_t *curve_sk[2]; /* sodium_malloc */
    cons_transport_t *t[2];
    /* raw */
    void *ctx[2];
    void *router[2];
    void *dealer[2]; /* dealer[i] connects to router[1 - i] */
    /* figures */
    double tput_time[S_IMPLS];
    uint64_t tput_msgs[S_IMPLS];
    double *rtt[S_IMPLS]; /* seconds, all rounds */
    size_t rtt_count[S_IMPLS];
};

static void
s_fill (uint8_t *body, size_t size, uint64_t seq)
{
    wd_put_be (body, seq, 8);
    for (size_t i = 8; i < size; i++)
        body[i] = (uint8_t)(seq + i);
}

static bool
s_check (const uint8_t *body, size_t size, size_t want, uint64_t seq)
{
    if (size != want || wd_get_be (body, 8) != seq)
        return false;
    for (size_t i = 8; i < size; i++)
        if (body[i] != (uint8_t)(seq + i))
            return false;
    return true;
}

static int
s_send (s_bench_t *self, int from, const uint8_t *body, size_t len);

/* Both implementations deliver here. */
static void
s_deliver (s_side_t *side, const uint8_t *body, size_t len)
{
    s_bench_t *self = side->bench;
    if (!s_check (body, len, self->size, side->expect))
        self->bad++;
    side->expect++;
    side->received++;
    if (self->echo && side->side == 1 && s_send (self, 1, body, len) != 0)
        self->bad++; /* a window of one never fills a queue */
}

/* ---- cons_transport -------------------------------------------------------- */

static void
s_on_recv (void *arg, const uint8_t from[WD_PUBKEY_LEN], uint8_t channel, const uint8_t *body,
           size_t body_len)
{
    s_side_t *side = arg;
    s_bench_t *self = side->bench;
    if (channel != CONS_CHANNEL_GOSSIP ||
        memcmp (from, self->certs[1 - side->side].sign_pk, WD_PUBKEY_LEN) != 0)
        self->bad++;
    s_deliver (side, body, body_len);
}

static int
s_curve_open (s_bench_t *self)
{
    for (int i = 0; i < 2; i++) {
        uint8_t sk[crypto_sign_SECRETKEYBYTES];
        wd_cert_t *cert = &self->certs[i];
        *cert = (wd_cert_t){ .created = 1 };
        snprintf (cert->name, sizeof cert->name, "bench-%d", i);
        snprintf (cert->key_protection, sizeof cert->key_protection, "software");
        crypto_sign_keypair (cert->sign_pk, sk);
        sodium_memzero (sk, sizeof sk);
        randombytes_buf (cert->vrf_pk, sizeof cert->vrf_pk);
        self->curve_sk[i] = sodium_malloc (32);
        if (!self->curve_sk[i])
            return -1;
        randombytes_buf (self->curve_sk[i], 32);
        crypto_scalarmult_base (cert->curve_pk, self->curve_sk[i]);
    }
    for (int i = 0; i < 2; i++) {
        cons_transport_config_t config = {
            .self = &self->certs[i],
            .curve_sk = self->curve_sk[i],
            .certs = self->certs,
            .cert_count = 2,
            .bind = "tcp://127.0.0.1:*",
            .sndhwm = 100000,
            .on_recv = s_on_recv,
            .on_recv_arg = &self->sides[i],
        };
        self->t[i] = cons_transport_new (&config);
        if (!self->t[i])
            return -1;
    }
    for (int i = 0; i < 2; i++)
        if (cons_transport_set_endpoint (self->t[i], self->certs[1 - i].sign_pk,
                                         cons_transport_endpoint (self->t[1 - i])) != 0)
            return -1;
    return 0;
}

/* ---- raw libzmq ---------------------------------------------------------------- */

static int
s_raw_open (s_bench_t *self)
{
    char endpoint[2][256];
    int zero = 0, hwm = 100000;
    for (int i = 0; i < 2; i++) {
        self->ctx[i] = zmq_ctx_new ();
        if (!self->ctx[i] || !(self->router[i] = zmq_socket (self->ctx[i], ZMQ_ROUTER)))
            return -1;
        size_t len = sizeof endpoint[i];
        zmq_setsockopt (self->router[i], ZMQ_LINGER, &zero, sizeof zero);
        if (zmq_bind (self->router[i], "tcp://127.0.0.1:*") != 0 ||
            zmq_getsockopt (self->router[i], ZMQ_LAST_ENDPOINT, endpoint[i], &len) != 0)
            return -1;
    }
    for (int i = 0; i < 2; i++) {
        self->dealer[i] = zmq_socket (self->ctx[i], ZMQ_DEALER);
        if (!self->dealer[i])
            return -1;
        zmq_setsockopt (self->dealer[i], ZMQ_LINGER, &zero, sizeof zero);
        zmq_setsockopt (self->dealer[i], ZMQ_SNDHWM, &hwm, sizeof hwm);
        if (zmq_connect (self->dealer[i], endpoint[1 - i]) != 0)
            return -1;
    }
    return 0;
}

/* Reads what router[side] has, through the same frame decoder. */
static void
s_raw_poll (s_bench_t *self, int side, int timeout_ms)
{
    zmq_pollitem_t item = { .socket = self->router[side], .events = ZMQ_POLLIN };
    if (zmq_poll (&item, 1, timeout_ms) <= 0)
        return;
    for (int n = 0; n < 256; n++) {
        zmq_msg_t id, frame;
        zmq_msg_init (&id);
        if (zmq_msg_recv (&id, self->router[side], ZMQ_DONTWAIT) < 0) {
            zmq_msg_close (&id);
            break;
        }
        zmq_msg_close (&id);
        zmq_msg_init (&frame);
        if (zmq_msg_recv (&frame, self->router[side], 0) >= 0) {
            uint8_t channel;
            const uint8_t *body;
            size_t body_len;
            if (cons_transport_frame_decode (zmq_msg_data (&frame), zmq_msg_size (&frame),
                                             CONS_TRANSPORT_MAX_FRAME, &channel, &body,
                                             &body_len) != 0)
                self->bad++;
            else
                s_deliver (&self->sides[side], body, body_len);
        }
        zmq_msg_close (&frame);
    }
}

/* ---- both ------------------------------------------------------------------------ */

/* 0, or -1 when the queue is full. */
static int
s_send (s_bench_t *self, int from, const uint8_t *body, size_t len)
{
    if (self->impl == S_CURVE)
        return cons_transport_send (self->t[from], self->certs[1 - from].sign_pk,
                                    CONS_CHANNEL_GOSSIP, body, len) == 0
                   ? 0
                   : -1;
    uint8_t frame[2 + S_BODY_MAX];
    frame[0] = CONS_TRANSPORT_VERSION;
    frame[1] = CONS_CHANNEL_GOSSIP;
    memcpy (frame + 2, body, len);
    return zmq_send (self->dealer[from], frame, len + 2, ZMQ_DONTWAIT) < 0 ? -1 : 0;
}

static void
s_poll (s_bench_t *self, int side, int timeout_ms)
{
    if (self->impl == S_CURVE)
        cons_transport_poll (self->t[side], timeout_ms);
    else
        s_raw_poll (self, side, timeout_ms);
}

static void
s_reset (s_bench_t *self)
{
    for (int i = 0; i < 2; i++)
        self->sides[i] = (s_side_t){ .bench = self, .side = i };
}

/* Polls until side has received want messages; false after S_WAIT_S. */
static bool
s_wait (s_bench_t *self, int side, uint64_t want)
{
    double deadline = bench_now () + S_WAIT_S;
    while (self->sides[side].received < want) {
        s_poll (self, side, 0);
        if (self->echo)
            s_poll (self, 1 - side, 0);
        if (bench_now () > deadline)
            return false;
    }
    return true;
}

/* One ping-pong, used to wait for both connections. */
static bool
s_warm (s_bench_t *self)
{
    uint8_t body[S_BODY_MAX];
    s_reset (self);
    self->echo = true;
    s_fill (body, self->size, 0);
    if (s_send (self, 0, body, self->size) != 0)
        return false;
    bool ok = s_wait (self, 0, 1);
    self->echo = false;
    return ok;
}

static bool
s_throughput (s_bench_t *self, const s_options_t *opt)
{
    uint8_t body[S_BODY_MAX];
    s_reset (self);
    uint64_t sent = 0;
    double start = bench_now (), last_progress = start;
    while (self->sides[1].received < opt->messages) {
        while (sent < opt->messages && sent - self->sides[1].received < opt->window) {
            s_fill (body, self->size, sent);
            if (s_send (self, 0, body, self->size) != 0)
                break;
            sent++;
        }
        uint64_t before = self->sides[1].received;
        s_poll (self, 1, 1);
        double now = bench_now ();
        if (self->sides[1].received != before)
            last_progress = now;
        else if (now - last_progress > S_WAIT_S)
            return false;
    }
    self->tput_time[self->impl] += bench_now () - start;
    self->tput_msgs[self->impl] += opt->messages;
    return true;
}

static bool
s_latency (s_bench_t *self, const s_options_t *opt)
{
    uint8_t body[S_BODY_MAX];
    s_reset (self);
    self->echo = true;
    for (uint64_t i = 0; i < opt->pings; i++) {
        s_fill (body, self->size, i);
        double start = bench_now ();
        if (s_send (self, 0, body, self->size) != 0 || !s_wait (self, 0, i + 1)) {
            self->echo = false;
            return false;
        }
        self->rtt[self->impl][self->rtt_count[self->impl]++] = bench_now () - start;
    }
    self->echo = false;
    return true;
}

static int
s_compare_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double
s_quantile (double *v, size_t n, double q)
{
    if (n == 0)
        return 0;
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i];
}

/* The transport's counters must match what the bench did. */
static bool
s_counters_ok (s_bench_t *self, uint64_t a_out, uint64_t b_in)
{
    cons_transport_peer_t pa, pb;
    if (cons_transport_peers (self->t[0], &pa, 1) != 1 ||
        cons_transport_peers (self->t[1], &pb, 1) != 1)
        return false;
    return pa.msgs_out == a_out && pb.msgs_in == b_in && pa.drops == 0 && pb.rejected == 0 &&
           pb.bytes_in == b_in * self->size;
}

static void
s_usage (FILE *out)
{
    fprintf (out,
             "usage: bench_transport [--messages N] [--pings N] [--window N] [--size B]\n"
             "                       [--rounds N]\n"
             "\n"
             "Small messages between two cons_transport instances on loopback (CURVE)\n"
             "against plain ZeroMQ DEALER/ROUTER without CURVE, in the same run.\n"
             "\n"
             "  --messages N  messages per throughput round (default 200000)\n"
             "  --pings N     round trips per latency round (default 5000)\n"
             "  --window N    messages in flight for throughput (default 1000)\n"
             "  --size B      body bytes, 8..%d (default 64)\n"
             "  --rounds N    interleaved rounds, 1..20 (default 3)\n"
             "  -h, --help    show this help\n"
             "\n"
             "The last line is for scripts: bench_transport raw_msgs=... ratio_msgs=...\n"
             "Exit status: 0 ok, 1 a message was wrong or missing, 2 usage, 3 internal error.\n",
             S_BODY_MAX);
}

static bool
s_parse_count (const char *text, unsigned long min, unsigned long max, unsigned long *out)
{
    char *end;
    errno = 0;
    unsigned long n = strtoul (text, &end, 10);
    if (errno != 0 || end == text || *end != '\0' || text[0] == '-' || n < min || n > max)
        return false;
    *out = n;
    return true;
}

static int
s_parse_args (int argc, char **argv, s_options_t *opt)
{
    static const struct option options[] = {
        { "messages", required_argument, NULL, 'm' },
        { "pings", required_argument, NULL, 'p' },
        { "window", required_argument, NULL, 'w' },
        { "size", required_argument, NULL, 's' },
        { "rounds", required_argument, NULL, 'r' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    *opt =
        (s_options_t){ .messages = 200000, .pings = 5000, .window = 1000, .size = 64, .rounds = 3 };
    unsigned long value;
    int c;
    while ((c = getopt_long (argc, argv, "h", options, NULL)) != -1) {
        bool ok = true;
        switch (c) {
            case 'm':
                ok = s_parse_count (optarg, 1, 100000000, &opt->messages);
                break;
            case 'p':
                ok = s_parse_count (optarg, 1, 10000000, &opt->pings);
                break;
            case 'w':
                ok = s_parse_count (optarg, 1, 50000, &opt->window);
                break;
            case 's':
                ok = s_parse_count (optarg, 8, S_BODY_MAX, &value);
                opt->size = value;
                break;
            case 'r':
                ok = s_parse_count (optarg, 1, 20, &value);
                opt->rounds = (unsigned)value;
                break;
            case 'h':
                s_usage (stdout);
                exit (0);
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
        if (!ok) {
            fprintf (stderr, "bench_transport: bad value for --%s\n",
                     c == 'm'   ? "messages"
                     : c == 'p' ? "pings"
                     : c == 'w' ? "window"
                     : c == 's' ? "size"
                                : "rounds");
            return S_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    return 0;
}

int
main (int argc, char **argv)
{
    s_options_t opt;
    int status = s_parse_args (argc, argv, &opt);
    if (status != 0)
        return status;
    if (sodium_init () < 0)
        return S_EXIT_INTERN;
    s_bench_t *self = bench_alloc (sizeof *self);
    self->size = opt.size;
    for (int i = 0; i < S_IMPLS; i++)
        self->rtt[i] = bench_alloc (opt.pings * opt.rounds * sizeof (double));

    status = S_EXIT_INTERN;
    if (s_curve_open (self) != 0 || s_raw_open (self) != 0) {
        fprintf (stderr, "bench_transport: cannot set up the sockets\n");
        goto out_cleanup;
    }
    for (int i = 0; i < S_IMPLS; i++) {
        self->impl = (s_impl_t)i;
        if (!s_warm (self)) {
            fprintf (stderr, "bench_transport: %s: no connection\n", s_impl_names[i]);
            status = S_EXIT_BAD;
            goto out_cleanup;
        }
    }
    printf ("bench_transport: %lu messages and %lu round trips of %zu-byte bodies per round, "
            "%u rounds, window %lu\n",
            opt.messages, opt.pings, opt.size, opt.rounds, opt.window);
    fflush (stdout);

    uint64_t curve_out = 1, curve_in = 1; /* the warm-up ping A -> B */
    status = S_EXIT_BAD;
    for (unsigned r = 0; r < opt.rounds; r++)
        for (int i = 0; i < S_IMPLS; i++) {
            self->impl = (s_impl_t)i;
            if (!s_throughput (self, &opt) || !s_latency (self, &opt)) {
                fprintf (stderr, "bench_transport: %s: messages went missing\n", s_impl_names[i]);
                goto out_cleanup;
            }
            if (i == S_CURVE) {
                curve_out += opt.messages + opt.pings;
                curve_in += opt.messages + opt.pings;
            }
        }
    if (!s_counters_ok (self, curve_out, curve_in)) {
        fprintf (stderr, "bench_transport: the transport's counters disagree with the bench\n");
        self->bad++;
    }

    double rate[S_IMPLS], p50[S_IMPLS], p99[S_IMPLS];
    printf ("\n%-16s %14s %12s %12s\n", "", "messages/s", "rtt p50 us", "rtt p99 us");
    for (int i = 0; i < S_IMPLS; i++) {
        qsort (self->rtt[i], self->rtt_count[i], sizeof (double), s_compare_double);
        rate[i] = (double)self->tput_msgs[i] / self->tput_time[i];
        p50[i] = 1e6 * s_quantile (self->rtt[i], self->rtt_count[i], 0.50);
        p99[i] = 1e6 * s_quantile (self->rtt[i], self->rtt_count[i], 0.99);
        printf ("%-16s %14.0f %12.1f %12.1f\n", s_impl_names[i], rate[i], p50[i], p99[i]);
    }
    printf ("ratio (transport/raw): throughput %.3f, rtt p50 %.3f\n", rate[S_CURVE] / rate[S_RAW],
            p50[S_CURVE] / p50[S_RAW]);
    printf ("wrong or missing answers: %llu\n\n", (unsigned long long)self->bad);
    printf ("bench_transport raw_msgs=%.0f curve_msgs=%.0f ratio_msgs=%.3f raw_rtt_us=%.1f "
            "curve_rtt_us=%.1f ratio_rtt=%.3f size=%zu bad=%llu\n",
            rate[S_RAW], rate[S_CURVE], rate[S_CURVE] / rate[S_RAW], p50[S_RAW], p50[S_CURVE],
            p50[S_CURVE] / p50[S_RAW], opt.size, (unsigned long long)self->bad);
    status = self->bad == 0 ? 0 : S_EXIT_BAD;

out_cleanup:
    for (int i = 0; i < 2; i++) {
        cons_transport_destroy (&self->t[i]);
        sodium_free (self->curve_sk[i]);
        if (self->dealer[i])
            zmq_close (self->dealer[i]);
        if (self->router[i])
            zmq_close (self->router[i]);
    }
    for (int i = 0; i < 2; i++)
        if (self->ctx[i])
            zmq_ctx_term (self->ctx[i]);
    for (int i = 0; i < S_IMPLS; i++)
        free (self->rtt[i]);
    free (self);
    return status;
}
