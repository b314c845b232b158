/* Timing and percentiles shared by the C benchmarks (tilebench, pngsweep). */
#ifndef LAGEBILD_BENCH_UTIL_H
#define LAGEBILD_BENCH_UTIL_H

#include <math.h>
#include <stddef.h>
#include <time.h>

static inline double now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static inline int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* Percentile p (0..100) of n sorted values, linear interpolation. */
static inline double percentile(const double *sorted, size_t n, double p)
{
    if (n == 0)
        return NAN;
    double r = p / 100.0 * (double)(n - 1);
    size_t i = (size_t)floor(r);
    if (i + 1 >= n)
        return sorted[n - 1];
    return sorted[i] + (r - (double)i) * (sorted[i + 1] - sorted[i]);
}

#endif
