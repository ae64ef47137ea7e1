/*
 * bench_support: what every bench in bench/ shares: a monotonic clock and
 * an allocator that ends the run (exit status 3, "internal error") when
 * memory runs out, so a bench never reports figures from a half-built
 * input.
 */
#ifndef BENCH_SUPPORT_H
#define BENCH_SUPPORT_H

#include <stddef.h>

#define BENCH_EXIT_INTERNAL 3

/* Seconds on CLOCK_MONOTONIC. */
double
bench_now (void);

/* size zeroed bytes (at least one); prints "<program>: out of memory" and
   exits with BENCH_EXIT_INTERNAL when there are none. */
void *
bench_alloc (size_t size);

#endif
