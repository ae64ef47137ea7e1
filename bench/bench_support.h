/*
 * bench_support: what every bench in bench/ shares: a monotonic clock and
 * an allocator that ends the run (exit status 3, "internal error") when
 * memory runs out, so a bench never reports figures from a half-built
 * input.
 */
#ifndef BENCH_SUPPORT_H
#define BENCH_SUPPORT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define BENCH_EXIT_INTERNAL 3

/* Seconds on CLOCK_MONOTONIC. */
double
bench_now (void);

/* size zeroed bytes (at least one); prints "<program>: out of memory" and
   exits with BENCH_EXIT_INTERNAL when there are none. */
void *
bench_alloc (size_t size);

/* Writes len random bytes (randombytes_buf) to path, mode 0644; digest
   gets their SHA-256. Returns 0, or -1 with errno set. */
int
bench_write_random (const char *path, size_t len, uint8_t digest[32]);

/* Whether the file at path exists and its SHA-256 is want. */
bool
bench_file_matches (const char *path, const uint8_t want[32]);

/* Sorts n values in ascending order, in place. */
void
bench_sort (double *values, size_t n);

/* The nearest-rank p-quantile (0 < p <= 1) of n sorted values; 0 when n is
   0. */
double
bench_quantile (const double *sorted, size_t n, double p);

#endif
