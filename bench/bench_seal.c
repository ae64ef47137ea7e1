/*
 * bench_seal: capsule seal and open throughput (capsule_seal.h) against raw
 * crypto_secretstream push and pull over the same bytes in the same run.
 *
 *   seal       = capsule_seal_buf (wraps, 64 KiB chunks, both SHA-256
 *                passes, signature) writing to /dev/null
 *   vs push    = secretstream push of the same 64 KiB chunks, each written
 *                to /dev/null;
 *   verify     = capsule_parse (canonical checks, both SHA-256 passes,
 *                signature) of the sealed capsule in memory
 *   open       = capsule_unwrap + capsule_open_buf to /dev/null
 *   vs pull    = secretstream pull of the raw pushed stream to /dev/null.
 *
 * The ratios printed are seal/push, open/pull and (verify+open)/pull in
 * throughput. Answers are checked outside the timings: the capsule id is
 * SHA-256 of the bytes, the capsule opens to the plaintext, and the raw
 * stream pulls back to it; a wrong answer exits 1. Nothing asserts on
 * timing.
 *
 * With --dir DIR the bench instead runs the file path once on --size MiB
 * (plaintext file → capsule_seal_fd → capsule_parse_fd → capsule_open_fd →
 * file, digests compared) and prints the peak RSS, which shows that memory
 * stays constant whatever the size.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "bench_support.h"
#include "capsule_err.h"
#include "capsule_seal.h"

#define S_CHUNK      CAPSULE_CHUNK
#define S_ABYTES     crypto_secretstream_xchacha20poly1305_ABYTES
#define S_EXIT_BAD   1
#define S_EXIT_USAGE 2

static uint8_t s_chain[32], s_owner_pk[32], s_owner_sk[64], s_curve_pk[32], s_curve_sk[32];

static void
s_write_all (int fd, const uint8_t *p, size_t n)
{
    while (n > 0) {
        ssize_t w = write (fd, p, n);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            perror ("bench_seal: write");
            exit (BENCH_EXIT_INTERNAL);
        }
        p += w;
        n -= (size_t)w;
    }
}

static capsule_seal_params_t
s_params (void)
{
    capsule_seal_params_t p = {
        .kind = CAPSULE_KIND_DATA,
        .chain = s_chain,
        .owner_sk = s_owner_sk,
        .recipients = (const uint8_t (*)[32])s_curve_pk,
        .n_recipients = 1,
    };
    return p;
}

/* Raw push of plain into ct (chunk layout as a capsule's), each chunk also
   written to out. */
static void
s_push (const uint8_t key[32], const uint8_t *plain, size_t n, uint8_t *ct, uint8_t header[24],
        int out)
{
    crypto_secretstream_xchacha20poly1305_state st;
    crypto_secretstream_xchacha20poly1305_init_push (&st, header, key);
    size_t off = 0, ct_off = 0;
    do {
        size_t m = n - off < S_CHUNK ? n - off : S_CHUNK;
        unsigned char tag = off + m == n ? crypto_secretstream_xchacha20poly1305_TAG_FINAL : 0;
        crypto_secretstream_xchacha20poly1305_push (&st, ct + ct_off, NULL, plain + off, m, NULL, 0,
                                                    tag);
        s_write_all (out, ct + ct_off, m + S_ABYTES);
        off += m;
        ct_off += m + S_ABYTES;
    } while (off < n);
}

/* Raw pull; returns the number of chunks that failed or were out of
   place. */
static unsigned long
s_pull (const uint8_t key[32], const uint8_t header[24], const uint8_t *ct, size_t ct_len,
        uint8_t *chunk, int out)
{
    crypto_secretstream_xchacha20poly1305_state st;
    if (crypto_secretstream_xchacha20poly1305_init_pull (&st, header, key) != 0)
        return 1;
    unsigned long bad = 0;
    for (size_t off = 0; off < ct_len;) {
        size_t m = ct_len - off < S_CHUNK + S_ABYTES ? ct_len - off : S_CHUNK + S_ABYTES;
        unsigned long long got;
        unsigned char tag;
        if (crypto_secretstream_xchacha20poly1305_pull (&st, chunk, &got, &tag, ct + off, m, NULL,
                                                        0) != 0)
            bad++;
        else
            s_write_all (out, chunk, (size_t)got);
        off += m;
    }
    return bad;
}

static double
s_mbps (size_t bytes, double seconds)
{
    return seconds > 0 ? (double)bytes / 1e6 / seconds : 0;
}

static long
s_peak_rss_kib (void)
{
    struct rusage ru;
    getrusage (RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

static int
s_run_memory (size_t size, int rounds)
{
    int devnull = open ("/dev/null", O_WRONLY | O_CLOEXEC);
    if (devnull < 0) {
        perror ("bench_seal: /dev/null");
        return BENCH_EXIT_INTERNAL;
    }
    uint8_t *plain = bench_alloc (size);
    randombytes_buf (plain, size);
    size_t ct_len = (size_t)capsule_ciphertext_len (size);
    uint8_t *raw = bench_alloc (ct_len);
    uint8_t *chunk = bench_alloc (S_CHUNK);
    uint8_t raw_key[32], raw_header[24];
    crypto_secretstream_xchacha20poly1305_keygen (raw_key);
    capsule_seal_params_t params = s_params ();
    capsule_header_t *h = bench_alloc (sizeof *h);
    unsigned long failures = 0;

    /* Answers first, untimed. */
    uint8_t *cap = NULL, id[32], want_id[32];
    size_t cap_len = 0;
    if (capsule_seal_mem (&params, plain, size, &cap, &cap_len, id) != 0)
        return BENCH_EXIT_INTERNAL;
    crypto_hash_sha256 (want_id, cap, cap_len);
    if (memcmp (id, want_id, 32) != 0)
        failures++;
    capsule_key_t *key = NULL;
    uint8_t *back = NULL;
    size_t back_len = 0;
    if (capsule_parse (cap, cap_len, s_chain, 0, h) != 0 ||
        capsule_unwrap (h, s_curve_pk, s_curve_sk, &key) != 0 ||
        capsule_open_mem (h, cap, cap_len, key, &back, &back_len) != 0 || back_len != size ||
        memcmp (back, plain, size) != 0)
        failures++;
    free (back);
    capsule_key_destroy (&key);

    double best[5] = { 1e30, 1e30, 1e30, 1e30, 1e30 }; /* seal push verify open pull */
    for (int r = 0; r < rounds; r++) {
        double t0 = bench_now ();
        if (capsule_seal_buf (&params, plain, size, devnull, id) != 0)
            failures++;
        double t1 = bench_now ();
        s_push (raw_key, plain, size, raw, raw_header, devnull);
        double t2 = bench_now ();
        if (capsule_parse (cap, cap_len, s_chain, 0, h) != 0)
            failures++;
        double t3 = bench_now ();
        if (capsule_unwrap (h, s_curve_pk, s_curve_sk, &key) != 0 ||
            capsule_open_buf (h, cap, cap_len, key, devnull) != 0)
            failures++;
        capsule_key_destroy (&key);
        double t4 = bench_now ();
        failures += s_pull (raw_key, raw_header, raw, ct_len, chunk, devnull);
        double t5 = bench_now ();
        double t[5] = { t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4 };
        for (int i = 0; i < 5; i++)
            if (t[i] < best[i])
                best[i] = t[i];
    }
    /* The raw stream must pull back to the plaintext too. */
    crypto_secretstream_xchacha20poly1305_state st;
    if (crypto_secretstream_xchacha20poly1305_init_pull (&st, raw_header, raw_key) != 0)
        failures++;
    for (size_t off = 0, p = 0; off < ct_len;) {
        size_t m = ct_len - off < S_CHUNK + S_ABYTES ? ct_len - off : S_CHUNK + S_ABYTES;
        unsigned long long got;
        if (crypto_secretstream_xchacha20poly1305_pull (&st, chunk, &got, NULL, raw + off, m, NULL,
                                                        0) != 0 ||
            memcmp (chunk, plain + p, (size_t)got) != 0)
            failures++;
        off += m;
        p += (size_t)got;
    }

    const char *names[5] = { "seal", "raw push", "verify", "open", "raw pull" };
    printf ("bench_seal: %zu MiB, best of %d rounds, output to /dev/null\n", size >> 20, rounds);
    for (int i = 0; i < 5; i++)
        printf ("  %-10s %9.1f MB/s  (%.3f s)\n", names[i], s_mbps (size, best[i]), best[i]);
    printf ("  ratio seal/push          %.2f\n", best[1] / best[0]);
    printf ("  ratio open/pull          %.2f\n", best[4] / best[3]);
    printf ("  ratio verify+open/pull   %.2f\n", best[4] / (best[2] + best[3]));
    printf ("  peak RSS %ld KiB (buffers: plaintext, raw stream and capsule in memory)\n",
            s_peak_rss_kib ());
    printf ("  answers: %s\n", failures ? "WRONG" : "ok");
    free (cap);
    free (h);
    free (chunk);
    free (raw);
    free (plain);
    close (devnull);
    return failures ? S_EXIT_BAD : 0;
}

/* Writes size random bytes to path in 1 MiB steps; digest gets their
   SHA-256. */
static int
s_make_file (const char *path, size_t size, uint8_t digest[32])
{
    int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    uint8_t *block = bench_alloc (1 << 20);
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init (&hs);
    for (size_t off = 0; off < size; off += 1 << 20) {
        size_t m = size - off < (1 << 20) ? size - off : (1 << 20);
        randombytes_buf (block, m);
        crypto_hash_sha256_update (&hs, block, m);
        s_write_all (fd, block, m);
    }
    crypto_hash_sha256_final (&hs, digest);
    free (block);
    return close (fd);
}

static int
s_file_digest (const char *path, uint8_t digest[32])
{
    int fd = open (path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    uint8_t *block = bench_alloc (1 << 20);
    crypto_hash_sha256_state hs;
    crypto_hash_sha256_init (&hs);
    ssize_t n;
    while ((n = read (fd, block, 1 << 20)) > 0)
        crypto_hash_sha256_update (&hs, block, (size_t)n);
    crypto_hash_sha256_final (&hs, digest);
    free (block);
    close (fd);
    return n < 0 ? -1 : 0;
}

static int
s_run_files (const char *dir, size_t size)
{
    char plain[4096], cap[4096], out[4096];
    snprintf (plain, sizeof plain, "%s/bench-seal.plain", dir);
    snprintf (cap, sizeof cap, "%s/bench-seal.capsule", dir);
    snprintf (out, sizeof out, "%s/bench-seal.out", dir);
    uint8_t want[32], got[32], id[32];
    if (s_make_file (plain, size, want) != 0) {
        perror ("bench_seal: plaintext file");
        return BENCH_EXIT_INTERNAL;
    }
    long rss_before = s_peak_rss_kib ();
    capsule_seal_params_t params = s_params ();
    int in = open (plain, O_RDONLY | O_CLOEXEC);
    int cfd = open (cap, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    int ofd = open (out, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (in < 0 || cfd < 0 || ofd < 0) {
        perror ("bench_seal: open");
        return BENCH_EXIT_INTERNAL;
    }
    capsule_header_t *h = bench_alloc (sizeof *h);
    capsule_key_t *key = NULL;
    int rc;
    double t0 = bench_now ();
    rc = capsule_seal_fd (&params, in, cfd, id);
    double t1 = bench_now ();
    if (rc == 0)
        rc = capsule_parse_fd (cfd, s_chain, 0, h);
    double t2 = bench_now ();
    if (rc == 0)
        rc = capsule_unwrap (h, s_curve_pk, s_curve_sk, &key);
    if (rc == 0)
        rc = capsule_open_fd (h, cfd, key, ofd);
    double t3 = bench_now ();
    capsule_key_destroy (&key);
    close (in);
    close (cfd);
    close (ofd);
    int bad = rc != 0 || s_file_digest (out, got) != 0 || memcmp (want, got, 32) != 0 ||
              memcmp (id, h->id, 32) != 0;
    if (rc != 0)
        fprintf (stderr, "bench_seal: %s\n", capsule_strerror (rc));
    printf ("bench_seal: files in %s, %zu MiB\n", dir, size >> 20);
    printf ("  seal_fd   %9.1f MB/s  (%.3f s)\n", s_mbps (size, t1 - t0), t1 - t0);
    printf ("  parse_fd  %9.1f MB/s  (%.3f s)\n", s_mbps (size, t2 - t1), t2 - t1);
    printf ("  open_fd   %9.1f MB/s  (%.3f s)\n", s_mbps (size, t3 - t2), t3 - t2);
    printf ("  peak RSS %ld KiB (%ld KiB before sealing)\n", s_peak_rss_kib (), rss_before);
    printf ("  answers: %s\n", bad ? "WRONG" : "ok");
    unlink (plain);
    unlink (cap);
    unlink (out);
    free (h);
    return bad ? S_EXIT_BAD : 0;
}

static void
s_usage (FILE *f)
{
    fprintf (f, "usage: bench_seal [--size MIB] [--rounds N] [--dir DIR]\n"
                "  --size MIB   payload size (default 256)\n"
                "  --rounds N   timed rounds, best kept (default 3)\n"
                "  --dir DIR    run the file path once in DIR and print peak RSS\n");
}

int
main (int argc, char **argv)
{
    size_t mib = 256;
    int rounds = 3;
    const char *dir = NULL;
    static const struct option opts[] = { { "size", required_argument, NULL, 's' },
                                          { "rounds", required_argument, NULL, 'r' },
                                          { "dir", required_argument, NULL, 'd' },
                                          { "help", no_argument, NULL, 'h' },
                                          { NULL, 0, NULL, 0 } };
    int c;
    while ((c = getopt_long (argc, argv, "", opts, NULL)) != -1) {
        char *end;
        switch (c) {
            case 's':
                mib = strtoul (optarg, &end, 10);
                if (*end || mib == 0 || mib > 4000) {
                    s_usage (stderr);
                    return S_EXIT_USAGE;
                }
                break;
            case 'r':
                rounds = (int)strtol (optarg, &end, 10);
                if (*end || rounds < 1 || rounds > 100) {
                    s_usage (stderr);
                    return S_EXIT_USAGE;
                }
                break;
            case 'd':
                dir = optarg;
                break;
            case 'h':
                s_usage (stdout);
                return 0;
            default:
                s_usage (stderr);
                return S_EXIT_USAGE;
        }
    }
    if (optind != argc) {
        s_usage (stderr);
        return S_EXIT_USAGE;
    }
    if (sodium_init () < 0)
        return BENCH_EXIT_INTERNAL;
    memset (s_chain, 0x5c, sizeof s_chain);
    crypto_sign_keypair (s_owner_pk, s_owner_sk);
    crypto_box_keypair (s_curve_pk, s_curve_sk);
    size_t size = mib << 20;
    if (dir)
        return s_run_files (dir, size);
    return s_run_memory (size, rounds);
}
