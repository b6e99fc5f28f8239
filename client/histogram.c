/* client/histogram.c: see histogram.h.
 *
 * The index arithmetic is HdrHistogram's, specialised to a unit of 1 ns: a value's
 * bucket is how many bits it has above the 11 a sub-bucket index holds, its sub-bucket
 * is the value shifted right by that, and each bucket after the first adds only its top
 * 1024 sub-buckets to the flat array (the bottom half would repeat the previous bucket at
 * half the resolution). */
#include "histogram.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

/* log2 of HIST_SUB_BUCKET_HALF_COUNT. */
#define HALF_COUNT_MAGNITUDE 10
/* The bits a sub-bucket index holds: 2048 - 1. */
#define SUB_BUCKET_MASK ((uint64_t)HIST_SUB_BUCKET_COUNT - 1)

_Static_assert(HIST_SUB_BUCKET_HALF_COUNT == 1 << HALF_COUNT_MAGNITUDE, "half count is 2^10");
_Static_assert(HIST_SUB_BUCKET_COUNT == 2 * HIST_SUB_BUCKET_HALF_COUNT, "a bucket doubles");
/* 3 digits need 2 * 10^3 steps per doubling (a value just under 2000 * step must still
 * have its own slot). */
_Static_assert(HIST_SUB_BUCKET_COUNT >= 2000, "3 significant digits");
/* The last bucket must reach past the highest trackable value... */
_Static_assert(((uint64_t)HIST_SUB_BUCKET_COUNT << (HIST_BUCKET_COUNT - 1)) > HIST_HIGHEST_NS,
               "the top bucket holds an hour");
/* ...and one bucket fewer must not, or the array is larger than it needs to be. */
_Static_assert(((uint64_t)HIST_SUB_BUCKET_COUNT << (HIST_BUCKET_COUNT - 2)) <= HIST_HIGHEST_NS,
               "no spare bucket");

static uint64_t clamp_value(uint64_t v)
{
    return v > HIST_HIGHEST_NS ? HIST_HIGHEST_NS : v;
}

/* The bucket of v (v <= HIST_HIGHEST_NS): 0 for v < 2048, else the number of bits of v
 * beyond 11.  The OR keeps the argument of clz nonzero and puts every v < 2048 in bucket 0. */
static unsigned bucket_of(uint64_t v)
{
    return (unsigned)(64 - __builtin_clzll(v | SUB_BUCKET_MASK)) - (HALF_COUNT_MAGNITUDE + 1);
}

static size_t index_of(uint64_t v)
{
    unsigned b = bucket_of(v);
    uint64_t sub = v >> b; /* 1024..2047, or 0..2047 in bucket 0 */
    return ((size_t)(b + 1) << HALF_COUNT_MAGNITUDE) + (size_t)sub - HIST_SUB_BUCKET_HALF_COUNT;
}

/* The bucket and sub-bucket of slot i, the inverse of index_of. */
static void split_index(size_t i, unsigned *bucket, uint64_t *sub)
{
    size_t b = i >> HALF_COUNT_MAGNITUDE;
    uint64_t s = (i & (HIST_SUB_BUCKET_HALF_COUNT - 1)) + HIST_SUB_BUCKET_HALF_COUNT;
    if (b == 0) { /* the first bucket's bottom half */
        s -= HIST_SUB_BUCKET_HALF_COUNT;
        b = 1;
    }
    *bucket = (unsigned)(b - 1);
    *sub = s;
}

static uint64_t lowest_at(size_t i)
{
    unsigned b;
    uint64_t s;
    split_index(i, &b, &s);
    return s << b;
}

static uint64_t highest_at(size_t i)
{
    unsigned b;
    uint64_t s;
    split_index(i, &b, &s);
    return (s << b) + ((uint64_t)1 << b) - 1;
}

uint64_t hist_lowest_equivalent(uint64_t value_ns)
{
    return lowest_at(index_of(clamp_value(value_ns)));
}

uint64_t hist_highest_equivalent(uint64_t value_ns)
{
    return highest_at(index_of(clamp_value(value_ns)));
}

void hist_reset(hist *h)
{
    memset(h->counts, 0, HIST_COUNTS_LEN * sizeof h->counts[0]);
    h->total = 0;
    h->min = UINT64_MAX;
    h->max = 0;
    h->overflow = 0;
    h->mean = 0;
    h->m2 = 0;
}

int hist_init(hist *h)
{
    h->counts = calloc(HIST_COUNTS_LEN, sizeof h->counts[0]);
    if (h->counts == NULL)
        return -ENOMEM;
    hist_reset(h);
    return 0;
}

void hist_free(hist *h)
{
    free(h->counts);
    h->counts = NULL;
}

size_t hist_memory_bytes(const hist *h)
{
    return sizeof *h + (h->counts != NULL ? HIST_COUNTS_LEN * sizeof h->counts[0] : 0);
}

void hist_record_n(hist *h, uint64_t value_ns, uint64_t n)
{
    if (n == 0)
        return;
    uint64_t v = value_ns;
    if (v > HIST_HIGHEST_NS) {
        v = HIST_HIGHEST_NS;
        h->overflow += n;
    }
    h->counts[index_of(v)] += n;
    if (v < h->min)
        h->min = v;
    if (v > h->max)
        h->max = v;
    /* Welford's update weighted by n: no sum of squares, so no cancellation when the
     * values are large and close together (a million requests near 1 s each). */
    h->total += n;
    double x = (double)v;
    double delta = x - h->mean;
    h->mean += delta * ((double)n / (double)h->total);
    h->m2 += delta * (x - h->mean) * (double)n;
}

void hist_record(hist *h, uint64_t value_ns)
{
    hist_record_n(h, value_ns, 1);
}

void hist_merge(hist *dst, const hist *src)
{
    if (src->total == 0)
        return;
    /* Only the occupied range: most of the array is empty in a real run. */
    size_t first = index_of(src->min), last = index_of(src->max);
    for (size_t i = first; i <= last; i++)
        dst->counts[i] += src->counts[i];
    if (src->min < dst->min)
        dst->min = src->min;
    if (src->max > dst->max)
        dst->max = src->max;
    dst->overflow += src->overflow;
    /* Chan, Golub and LeVeque's pairwise combination of two Welford states. */
    double na = (double)dst->total, nb = (double)src->total;
    double n = na + nb;
    double delta = src->mean - dst->mean;
    dst->mean += delta * (nb / n);
    dst->m2 += src->m2 + delta * delta * (na * nb / n);
    dst->total += src->total;
}

uint64_t hist_count(const hist *h)
{
    return h->total;
}

uint64_t hist_overflow(const hist *h)
{
    return h->overflow;
}

uint64_t hist_min(const hist *h)
{
    return h->total == 0 ? 0 : h->min;
}

uint64_t hist_max(const hist *h)
{
    return h->max;
}

double hist_mean(const hist *h)
{
    if (h->total == 0)
        return 0;
    /* Rounding can carry the running mean a hair outside the values it averages. */
    double m = h->mean;
    if (m < (double)h->min)
        m = (double)h->min;
    if (m > (double)h->max)
        m = (double)h->max;
    return m;
}

double hist_stdev(const hist *h)
{
    return h->total == 0 ? 0 : sqrt(h->m2 / (double)h->total);
}

/* A slot's reported value: its highest value, but never above the exact max, which lies
 * in the last occupied slot (see the rule in histogram.h). */
static uint64_t reported_at(const hist *h, size_t i)
{
    uint64_t v = highest_at(i);
    return v < h->max ? v : h->max;
}

uint64_t hist_value_at_percentile(const hist *h, double pct)
{
    if (h->total == 0)
        return 0;
    if (!(pct > 0)) /* NaN too */
        return h->min;
    if (pct >= 100)
        return h->max;
    /* The nearest rank, ceil(pct/100 * total).  Stepping pct down by one ulp first, as
     * HdrHistogram's Java code does, keeps a product that should be an integer but came
     * out a hair above it from rounding up to the next rank. */
    double want = ceil(nextafter(pct, -INFINITY) / 100.0 * (double)h->total);
    uint64_t rank = want < 1 ? 1 : want >= (double)h->total ? h->total : (uint64_t)want;
    size_t last = index_of(h->max);
    uint64_t seen = 0;
    for (size_t i = index_of(h->min); i <= last; i++) {
        seen += h->counts[i];
        if (seen >= rank)
            return reported_at(h, i);
    }
    return h->max; /* unreachable while total is the sum of counts */
}

/* The next percentile tick after `level`, HdrHistogram's PercentileIterator: ticks_per_half
 * equal steps in [0, 50), as many again in [50, 75), in [75, 87.5) and so on, so the rows
 * crowd towards 100 % where the tail is.  Same operations, same doubles as the Java code,
 * so the levels printed match its output digit for digit. */
static double next_level(double level, int ticks_per_half)
{
    long halvings = (long)(log(100.0 / (100.0 - level)) / log(2)) + 1;
    double ticks = (double)ticks_per_half * pow(2, (double)halvings);
    return level + 100.0 / ticks;
}

/* The percentile column's number for tick `level` (in percent), so that "%.12f" prints
 * what Java's Formatter prints.  Java rounds the shortest decimal form of level / 100 half
 * up, where printf rounds the binary value to nearest; they differ where that decimal form
 * ends in a 5 at the 13th place (level 99.97802734375: Java 0.999780273438, printf
 * ...437).  A level is a sum of steps 20 / 2^k, a binary fraction mant * 2^e with mant odd,
 * so level * 10^10 = mant * 5^10 * 2^(e + 10) is an odd number of halves, that tie,
 * exactly when e == -11; then a tenth of the last printed digit tips it up, as Java does. */
static double percentile_column(double level)
{
    double p = level / 100.0;
    int e;
    double m = frexp(level, &e);
    if (m == 0)
        return p;
    uint64_t mant = (uint64_t)ldexp(m, 53);
    e -= 53;
    while ((mant & 1) == 0) {
        mant >>= 1;
        e++;
    }
    return e == -11 ? p + 1e-13 : p;
}

int hist_write_hgrm(const hist *h, FILE *f, double unit_scale)
{
    if (!(unit_scale > 0))
        return -EINVAL;
    /* HdrHistogram's format strings (Java AbstractHistogram.outputPercentileDistribution,
     * plain text), with its significant-digit count (3) in the value columns. */
    if (fprintf(f, "%12s %14s %10s %14s\n\n", "Value", "Percentile", "TotalCount",
                "1/(1-Percentile)") < 0)
        return -EIO;

    if (h->total > 0) {
        const int ticks_per_half = 5;
        double level = 0;
        uint64_t seen = 0;
        size_t i = index_of(h->min), last = index_of(h->max);
        /* Every tick reached inside a slot gets a row at that slot's value; a slot can
         * cross several ticks (a big count, or the first row at 0 %). */
        for (; i <= last; i++) {
            if (h->counts[i] == 0)
                continue;
            seen += h->counts[i];
            double reached = 100.0 * (double)seen / (double)h->total;
            while (reached >= level) {
                double p = level / 100.0;
                if (fprintf(f, "%12.3f %2.12f %10" PRIu64 " %14.2f\n",
                            (double)reported_at(h, i) / unit_scale, percentile_column(level),
                            seen, 1.0 / (1.0 - p)) < 0)
                    return -EIO;
                level = next_level(level, ticks_per_half);
                if (seen == h->total)
                    break;
            }
            if (seen == h->total)
                break;
        }
        /* The closing 100 % row, without the infinite last column, as HdrHistogram ends. */
        if (fprintf(f, "%12.3f %2.12f %10" PRIu64 "\n", (double)h->max / unit_scale, 1.0,
                    h->total) < 0)
            return -EIO;
    }

    if (fprintf(f, "#[Mean    = %12.3f, StdDeviation   = %12.3f]\n", hist_mean(h) / unit_scale,
                hist_stdev(h) / unit_scale) < 0 ||
        fprintf(f, "#[Max     = %12.3f, Total count    = %12" PRIu64 "]\n",
                (double)hist_max(h) / unit_scale, h->total) < 0 ||
        fprintf(f, "#[Buckets = %12d, SubBuckets     = %12d]\n", HIST_BUCKET_COUNT,
                HIST_SUB_BUCKET_COUNT) < 0)
        return -EIO;
    if (fflush(f) != 0 || ferror(f))
        return -EIO;
    return 0;
}
