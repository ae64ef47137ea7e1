/*
 * bench_support: the clock and allocator shared by the benches.
 */
#include "bench_support.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
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
