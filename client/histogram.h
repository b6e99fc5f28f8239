/* client/histogram.h: a fixed-memory latency histogram with HdrHistogram's layout.
 *
 * Values are nanoseconds.  Log-linear buckets keep 3 significant decimal digits over the
 * whole range: bucket b (b >= 1) covers [1024 << b, 2048 << b) in 1024 steps of 1 << b ns,
 * bucket 0 covers [0, 2048) in steps of 1 ns.  A value v is therefore counted in a slot
 * [lo, hi] with v - lo <= v / 1024 (under 0.1 %), and values below 2048 ns exactly.  This
 * is HdrHistogram's layout for lowest discernible value 1 ns, highest trackable value
 * 1 hour and 3 significant digits (2048 sub-buckets, 32 buckets).
 *
 * Memory: one flat array of HIST_COUNTS_LEN (33,792) uint64_t counts, 270,336 bytes
 * (264 KiB), allocated by hist_init and never again: recording, merging and reading
 * allocate nothing.  A lowest discernible value of 1 us would save a quarter of that
 * (192 KiB) but count everything under 1 ms in steps of 512 ns, i.e. lose the 3 digits
 * for the sub-millisecond latencies a loopback server has.
 *
 * Values above HIST_HIGHEST_NS (1 hour) are counted as HIST_HIGHEST_NS (in the top
 * bucket) and also in hist_overflow(), so a caller can say that the top is clamped.
 *
 * Reported values, one rule so that
 *     min <= p50 <= p75 <= p90 <= p99 <= p99.9 <= p99.99 <= max
 * always holds, whatever was recorded:
 *   - hist_min and hist_max are the exact smallest and largest values recorded (after
 *     clamping to HIST_HIGHEST_NS);
 *   - hist_value_at_percentile(p), 0 < p < 100, takes the nearest-rank sample (the
 *     ceil(p/100 * count)-th smallest) and reports the highest value of its slot, as
 *     HdrHistogram does, but never more than hist_max; p <= 0 gives hist_min and
 *     p >= 100 gives hist_max.
 * A slot's highest value is at least every value counted in it, so a percentile is never
 * below the true one, never below min, and exceeds the true one by less than 0.1 %.
 * Clamping to max keeps the order (the minimum of two nondecreasing functions is
 * nondecreasing) and means a single-value histogram reports that value everywhere.
 * hist_mean and hist_stdev are computed from the exact values (Welford's recurrence),
 * not from slots.
 *
 * Thread safety: none.  Each thread records into its own hist; hist_merge adds them up
 * at the end. */
#ifndef WAKEFUL_CLIENT_HISTOGRAM_H
#define WAKEFUL_CLIENT_HISTOGRAM_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

/* The layout's constants.  3 significant digits need 2 * 10^3 distinguishable steps per
 * doubling, rounded up to a power of two: 2048 sub-buckets, of which the top half is new
 * in every bucket after the first.  32 buckets reach 2048 << 31 ns (about 73 minutes),
 * the first power-of-two bucket boundary above one hour. */
#define HIST_SIGNIFICANT_DIGITS 3
#define HIST_SUB_BUCKET_COUNT 2048
#define HIST_SUB_BUCKET_HALF_COUNT 1024
#define HIST_BUCKET_COUNT 32
#define HIST_COUNTS_LEN ((HIST_BUCKET_COUNT + 1) * HIST_SUB_BUCKET_HALF_COUNT)
#define HIST_HIGHEST_NS UINT64_C(3600000000000)

/* One histogram.  Fields are private to histogram.c; read them through the functions. */
typedef struct hist {
    uint64_t *counts;   /* HIST_COUNTS_LEN slots, owned; NULL before hist_init and after hist_free */
    uint64_t total;     /* sum of counts */
    uint64_t min;       /* exact smallest value recorded; UINT64_MAX while empty */
    uint64_t max;       /* exact largest value recorded; 0 while empty */
    uint64_t overflow;  /* values recorded above HIST_HIGHEST_NS (counted as that) */
    double mean;        /* running mean of the values recorded (Welford) */
    double m2;          /* running sum of squared deviations from the mean (Welford) */
} hist;

/* Allocates h's counts (zeroed) and empties it.  Returns 0, or -ENOMEM with h left with
 * counts == NULL (hist_free on it is harmless).  The only allocation h ever makes. */
int hist_init(hist *h);

/* Frees h's counts.  h may be re-initialised afterwards; freeing twice is harmless. */
void hist_free(hist *h);

/* Empties h, keeping its memory. */
void hist_reset(hist *h);

/* Records one value / n equal values.  Values above HIST_HIGHEST_NS count as it and in
 * hist_overflow.  n == 0 records nothing.  O(1), no allocation, no system call. */
void hist_record(hist *h, uint64_t value_ns);
void hist_record_n(hist *h, uint64_t value_ns, uint64_t n);

/* Adds src's values into dst (src unchanged): afterwards dst answers as if every value
 * had been recorded into it (mean and stdev equal up to rounding). */
void hist_merge(hist *dst, const hist *src);

/* The number of values recorded, and how many of them were above HIST_HIGHEST_NS. */
uint64_t hist_count(const hist *h);
uint64_t hist_overflow(const hist *h);

/* Exact extremes (see the rule above); 0 when h is empty. */
uint64_t hist_min(const hist *h);
uint64_t hist_max(const hist *h);

/* Mean and population standard deviation in ns; 0 when h is empty. */
double hist_mean(const hist *h);
double hist_stdev(const hist *h);

/* The value at percentile pct (0..100, e.g. 99.9) by the rule above; 0 when h is empty. */
uint64_t hist_value_at_percentile(const hist *h, double pct);

/* The slot that value_ns is counted in: its lowest and highest value (both inclusive).
 * Exposed for tests and for callers that print the precision. */
uint64_t hist_lowest_equivalent(uint64_t value_ns);
uint64_t hist_highest_equivalent(uint64_t value_ns);

/* Bytes h holds, struct and counts: a constant once initialised. */
size_t hist_memory_bytes(const hist *h);

/* Writes h's percentile distribution to f in HdrHistogram's text format (.hgrm), the
 * output of its Java outputPercentileDistribution(f, 5, unit_scale): a header, one row
 * per percentile tick (5 per halving of the distance to 100 %), a 100 % row, and the
 * Mean/StdDeviation, Max/Total count, Buckets/SubBuckets footer.  Values are divided by
 * unit_scale (1e6 prints nanoseconds as milliseconds).  Row values follow the rule above
 * (a slot's highest value, at most max) and the footer's Max is hist_max, so the file
 * agrees with what hist_value_at_percentile and hist_max report.  Otherwise the text is
 * Java's for the same values, character for character, but Mean and StdDeviation, which
 * Java computes from slot midpoints and we from the values.  Returns 0, -EINVAL for
 * a unit_scale that is not positive, or -EIO when a write fails.  Does not close f. */
int hist_write_hgrm(const hist *h, FILE *f, double unit_scale);

#endif
