/*
 * bench_support: the clock, allocator and test files shared by the
 * benches.
 */
#include "bench_support.h"

#include <errno.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <time.h>

double
bench_now (void)
{
    struct timespec ts;
    clock_gettime (CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void *
bench_alloc (size_t size)
{
    void *p = calloc (1, size ? size : 1);
    if (!p) {
        fprintf (stderr, "%s: out of memory\n", program_invocation_short_name);
        exit (BENCH_EXIT_INTERNAL);
    }
    return p;
}

int
bench_write_random (const char *path, size_t len, uint8_t digest[32])
{
    FILE *fp = fopen (path, "wb");
    if (!fp)
        return -1;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    static uint8_t buf[1 << 16];
    for (size_t done = 0; done < len;) {
        size_t n = len - done < sizeof buf ? len - done : sizeof buf;
        randombytes_buf (buf, n);
        crypto_hash_sha256_update (&st, buf, n);
        if (fwrite (buf, 1, n, fp) != n) {
            fclose (fp);
            return -1;
        }
        done += n;
    }
    crypto_hash_sha256_final (&st, digest);
    return fclose (fp) == 0 && chmod (path, 0644) == 0 ? 0 : -1;
}

bool
bench_file_matches (const char *path, const uint8_t want[32])
{
    FILE *fp = fopen (path, "rb");
    if (!fp)
        return false;
    crypto_hash_sha256_state st;
    crypto_hash_sha256_init (&st);
    static uint8_t buf[1 << 16];
    size_t n;
    while ((n = fread (buf, 1, sizeof buf, fp)) > 0)
        crypto_hash_sha256_update (&st, buf, n);
    fclose (fp);
    uint8_t got[32];
    crypto_hash_sha256_final (&st, got);
    return sodium_memcmp (got, want, 32) == 0;
}

static int
s_cmp_double (const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

void
bench_sort (double *values, size_t n)
{
    qsort (values, n, sizeof *values, s_cmp_double);
}

double
bench_quantile (const double *sorted, size_t n, double p)
{
    if (n == 0)
        return 0;
    double rank = p * (double)n; /* rounded up, without libm */
    size_t i = (size_t)rank;
    i += (double)i < rank;
    i = i ? i - 1 : 0;
    return sorted[i < n ? i : n - 1];
}
