/*
 * bench_store: capsule store throughput (capsule_store) against the plain
 * file operations that bound it, measured in the same run on the same
 * bytes in the same directory:
 *
 *   put  = capsule_store_begin / write in 64 KiB steps / commit (SHA-256
 *          while writing, fsync, rename, directory fsync)
 *   vs     write in 64 KiB steps + fsync of a plain file;
 *   get  = capsule_store_get_fd (a full SHA-256 pass over the file) + read
 *          in 64 KiB steps
 *   vs     read in 64 KiB steps of the plain file;
 *   and    SHA-256 (libcrypto, as the store uses) over the buffer alone,
 *          which bounds both: every byte is hashed once on put and once
 *          on get.
 *
 * Reads come from the page cache on both sides (the bench does not drop
 * caches on a shared machine), so the get ratio shows the cost of the
 * integrity re-check. Every answer is checked: the store's id must be the
 * SHA-256 of the buffer and every byte read back (on both sides) must match
 * it, or the run fails (exit 1). Nothing asserts on timing.
 *
 * Exit codes: 0 ok, 1 wrong answers, 2 usage, 3 internal error.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <openssl/evp.h>
#include <sodium.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "bench_support.h"
#include "capsule_store.h"
#include "wd_hash.h"

#define S_STEP       (64 * 1024)
#define S_ROUNDS_MAX 25
#define S_EXIT_BAD   1
#define S_EXIT_USAGE 2

typedef enum { S_PUT, S_WRITE, S_GET, S_READ, S_HASH, S_OPS } s_op_t;
static const char *const s_op_names[S_OPS] = { "store put", "write+fsync", "store get", "read",
                                               "sha256 alone" };

typedef struct {
    const char *dir;
    capsule_store_t *store;
    uint8_t *data;
    size_t size;
    uint8_t id[32];
    uint8_t *chunk;
    unsigned long failures;
} s_bench_t;

/* Reads fd to its end in 64 KiB steps, comparing with the buffer. */
static void
s_read_check (s_bench_t *self, int fd)
{
    size_t off = 0;
    for (;;) {
        ssize_t n = read (fd, self->chunk, S_STEP);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            break;
        if (off + (size_t)n > self->size || memcmp (self->chunk, self->data + off, (size_t)n) != 0)
            self->failures++;
        off += (size_t)n;
    }
    if (off != self->size)
        self->failures++;
}

static void
s_write_steps (s_bench_t *self, int fd)
{
    for (size_t off = 0; off < self->size; off += S_STEP) {
        size_t n = self->size - off < S_STEP ? self->size - off : S_STEP;
        if (write (fd, self->data + off, n) != (ssize_t)n)
            self->failures++;
    }
}

/* One operation; returns its duration in seconds. */
static double
s_run (s_bench_t *self, s_op_t op)
{
    char path[4200];
    snprintf (path, sizeof path, "%s/plain", self->dir);
    double t0 = bench_now ();
    switch (op) {
        case S_PUT: {
            capsule_store_writer_t *w;
            if (capsule_store_begin (self->store, &w) != WD_OK) {
                self->failures++;
                break;
            }
            for (size_t off = 0; off < self->size; off += S_STEP) {
                size_t n = self->size - off < S_STEP ? self->size - off : S_STEP;
                if (capsule_store_write (w, self->data + off, n) != WD_OK)
                    self->failures++;
            }
            uint8_t id[32];
            if (capsule_store_commit (&w, self->id, id) != WD_OK || memcmp (id, self->id, 32) != 0)
                self->failures++;
            break;
        }
        case S_WRITE: {
            int fd = open (path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
            if (fd < 0) {
                self->failures++;
                break;
            }
            s_write_steps (self, fd);
            if (fsync (fd) != 0)
                self->failures++;
            close (fd);
            break;
        }
        case S_GET: {
            int fd;
            if (capsule_store_get_fd (self->store, self->id, &fd, NULL) != WD_OK) {
                self->failures++;
                break;
            }
            s_read_check (self, fd);
            close (fd);
            break;
        }
        case S_READ: {
            int fd = open (path, O_RDONLY | O_CLOEXEC);
            if (fd < 0) {
                self->failures++;
                break;
            }
            s_read_check (self, fd);
            close (fd);
            break;
        }
        case S_HASH: {
            uint8_t id[32];
            if (EVP_Digest (self->data, self->size, id, NULL, EVP_sha256 (), NULL) != 1 ||
                memcmp (id, self->id, 32) != 0)
                self->failures++;
            break;
        }
        case S_OPS:
            break;
    }
    double t = bench_now () - t0;
    /* Undo outside the timing: the next put must write again. */
    if (op == S_GET && capsule_store_remove (self->store, self->id) != WD_OK)
        self->failures++;
    if (op == S_READ)
        (void)unlink (path);
    return t;
}

static void
s_usage (FILE *out)
{
    fprintf (out, "Usage: bench_store [--size MIB] [--rounds N] [--dir DIR]\n"
                  "  --size MIB   capsule size in MiB (default 256)\n"
                  "  --rounds N   rounds of put/write/get/read, median counts (default 3)\n"
                  "  --dir DIR    where to make the store (default /var/tmp)\n");
}

int
main (int argc, char **argv)
{
    double size_mib = 256;
    int rounds = 3;
    const char *parent = "/var/tmp";
    static const struct option options[] = {
        { "size", required_argument, NULL, 's' },
        { "rounds", required_argument, NULL, 'r' },
        { "dir", required_argument, NULL, 'd' },
        { "help", no_argument, NULL, 'h' },
        { NULL, 0, NULL, 0 },
    };
    for (int c; (c = getopt_long (argc, argv, "", options, NULL)) != -1;) {
        char *end = NULL;
        switch (c) {
            case 's':
                size_mib = strtod (optarg, &end);
                if (*end || size_mib <= 0 || size_mib > 65536) {
                    fprintf (stderr, "bench_store: bad value for --size: %s\n", optarg);
                    return S_EXIT_USAGE;
                }
                break;
            case 'r':
                rounds = (int)strtol (optarg, &end, 10);
                if (*end || rounds < 1 || rounds > S_ROUNDS_MAX) {
                    fprintf (stderr, "bench_store: bad value for --rounds: %s\n", optarg);
                    return S_EXIT_USAGE;
                }
                break;
            case 'd':
                parent = optarg;
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

    s_bench_t self = { .size = (size_t)(size_mib * 1024 * 1024) };
    char dir[4096];
    snprintf (dir, sizeof dir, "%s/bench-store-XXXXXX", parent);
    if (!mkdtemp (dir)) {
        fprintf (stderr, "bench_store: mkdtemp %s: %s\n", dir, strerror (errno));
        return BENCH_EXIT_INTERNAL;
    }
    self.dir = dir;
    char store_dir[4200];
    snprintf (store_dir, sizeof store_dir, "%s/capsules", dir);
    char why[256] = "";
    if (capsule_store_open (store_dir, 0, &self.store, why, sizeof why) != WD_OK) {
        fprintf (stderr, "bench_store: %s\n", why);
        return BENCH_EXIT_INTERNAL;
    }
    self.data = bench_alloc (self.size);
    self.chunk = bench_alloc (S_STEP);
    randombytes_buf (self.data, self.size);
    wd_hash_sha256 (self.id, self.data, self.size);

    double times[S_OPS][S_ROUNDS_MAX];
    for (int r = 0; r < rounds; r++)
        for (s_op_t op = 0; op < S_OPS; op++)
            times[op][r] = s_run (&self, op);

    double mibps[S_OPS];
    double mib = (double)self.size / (1024.0 * 1024.0);
    printf ("bench_store: %d round(s), %.1f MiB capsule, 64 KiB steps, median round, in %s\n",
            rounds, mib, parent);
    for (s_op_t op = 0; op < S_OPS; op++) {
        bench_sort (times[op], (size_t)rounds);
        double med = bench_quantile (times[op], (size_t)rounds, 0.5);
        mibps[op] = med > 0 ? mib / med : 0;
        printf ("  %-12s %9.1f MiB/s  %8.3f s\n", s_op_names[op], mibps[op], med);
    }
    double put_ratio = mibps[S_WRITE] > 0 ? mibps[S_PUT] / mibps[S_WRITE] : 0;
    double get_ratio = mibps[S_READ] > 0 ? mibps[S_GET] / mibps[S_READ] : 0;
    printf (
        "  put runs at %.2fx of write+fsync; get (with its SHA-256 re-check) at %.2fx of read\n",
        put_ratio, get_ratio);
    printf ("bench_store put_mibps=%.1f write_mibps=%.1f get_mibps=%.1f read_mibps=%.1f "
            "sha256_mibps=%.1f put_ratio=%.3f get_ratio=%.3f\n",
            mibps[S_PUT], mibps[S_WRITE], mibps[S_GET], mibps[S_READ], mibps[S_HASH], put_ratio,
            get_ratio);

    capsule_store_close (&self.store);
    char qdir[4300];
    snprintf (qdir, sizeof qdir, "%s/quarantine", store_dir);
    (void)rmdir (qdir);
    (void)rmdir (store_dir);
    (void)rmdir (dir);
    free (self.data);
    free (self.chunk);
    if (self.failures) {
        fprintf (stderr, "bench_store: %lu wrong answers\n", self.failures);
        return S_EXIT_BAD;
    }
    return 0;
}
