/* tests/client/test_histogram.c: client/histogram.c against exact sorted percentiles, its
 * ordering rule, merging, its fixed memory and its .hgrm output read back.
 *
 * Data come from a fixed-seed generator, so a failure reproduces; the seeds and sizes are
 * in the tests. */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "histogram.h"
#include "../check_run.h"

/* ---- allocation hook: counts (and on request fails) malloc, calloc and realloc ----
 * Linked with -Wl,--wrap=malloc,--wrap=calloc,--wrap=realloc (tests/client/meson.build),
 * so histogram.c's calls land here.  Check's fork mode gives each test its own copy.
 * Volatile: the compiler assumes malloc touches no variable of ours, and would otherwise
 * keep a counter's value across a call that changed it. */
static volatile struct {
    int armed;
    int fail_next;
    long calls;
    size_t last_size;
} alloc;

#ifdef HIST_TEST_ALLOC_HOOK
void *__real_malloc(size_t size);
void *__real_calloc(size_t n, size_t size);
void *__real_realloc(void *p, size_t size);
void *__wrap_malloc(size_t size);
void *__wrap_calloc(size_t n, size_t size);
void *__wrap_realloc(void *p, size_t size);

static int count_alloc(size_t size)
{
    if (!alloc.armed)
        return 0;
    alloc.calls++;
    alloc.last_size = size;
    if (alloc.fail_next) {
        alloc.fail_next = 0;
        return 1;
    }
    return 0;
}

void *__wrap_malloc(size_t size)
{
    return count_alloc(size) ? NULL : __real_malloc(size);
}

void *__wrap_calloc(size_t n, size_t size)
{
    return count_alloc(n * size) ? NULL : __real_calloc(n, size);
}

void *__wrap_realloc(void *p, size_t size)
{
    return count_alloc(size) ? NULL : __real_realloc(p, size);
}
#endif

/* ---- data ---- */

/* xorshift64*: small, fast, and the same sequence everywhere. */
static uint64_t rng_state;

static void rng_seed(uint64_t s)
{
    rng_state = s * UINT64_C(0x9E3779B97F4A7C15) + 1;
}

static uint64_t rng_next(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * UINT64_C(2685821657736338717);
}

/* Uniform in (0, 1]: never 0, so -log() is finite. */
static double rng_unit(void)
{
    return ((double)(rng_next() >> 11) + 1.0) / 9007199254740992.0;
}

static uint64_t rng_range(uint64_t lo, uint64_t hi)
{
    return lo + rng_next() % (hi - lo + 1);
}

static uint64_t clamp_ns(uint64_t v)
{
    return v > HIST_HIGHEST_NS ? HIST_HIGHEST_NS : v;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* The exact nearest-rank percentile of sorted[0..n), values clamped as the histogram
 * clamps them: the ceil(pct/100 * n)-th smallest. */
static uint64_t exact_percentile(const uint64_t *sorted, size_t n, double pct)
{
    if (pct <= 0)
        return clamp_ns(sorted[0]);
    if (pct >= 100)
        return clamp_ns(sorted[n - 1]);
    double want = ceil(nextafter(pct, -INFINITY) / 100.0 * (double)n);
    size_t rank = want < 1 ? 1 : want > (double)n ? n : (size_t)want;
    return clamp_ns(sorted[rank - 1]);
}

static const double PCTS[] = {0,    0.1,  1,    10,   25,    50,     75,     90,
                              95,   99,   99.5, 99.9, 99.99, 99.999, 99.9999, 100};
#define NPCTS (sizeof PCTS / sizeof PCTS[0])

/* Records values[0..n) into h (which must be empty), then checks every percentile of
 * PCTS, min, max, mean and stdev against the exact figures.  Sorts values. */
static void check_against_exact(hist *h, uint64_t *values, size_t n)
{
    long double sum = 0;
    for (size_t i = 0; i < n; i++) {
        hist_record(h, values[i]);
        sum += clamp_ns(values[i]);
    }
    qsort(values, n, sizeof values[0], cmp_u64);
    long double mean = sum / n, sq = 0;
    for (size_t i = 0; i < n; i++) {
        long double d = clamp_ns(values[i]) - mean;
        sq += d * d;
    }
    double stdev = (double)sqrtl(sq / n);

    ck_assert_uint_eq(hist_count(h), n);
    ck_assert_uint_eq(hist_min(h), clamp_ns(values[0]));
    ck_assert_uint_eq(hist_max(h), clamp_ns(values[n - 1]));
    for (size_t k = 0; k < NPCTS; k++) {
        uint64_t want = exact_percentile(values, n, PCTS[k]);
        uint64_t got = hist_value_at_percentile(h, PCTS[k]);
        /* Never below the true value, and above it by less than 3 significant digits
         * allow: 0.1 % (the layout gives 1/1024 of the value, exact below 2048 ns). */
        ck_assert_msg(got >= want && (double)(got - want) <= (double)want / 1000.0,
                      "p%g: histogram %" PRIu64 " ns, exact %" PRIu64 " ns", PCTS[k], got, want);
    }
    /* Doubles hold values near the hour to about 1e-3 ns, whatever the spread. */
    double slack = 1e-12 * (double)clamp_ns(values[n - 1]) + 1e-9;
    ck_assert_msg(fabs(hist_mean(h) - (double)mean) <= 1e-9 * (double)mean + slack,
                  "mean %.6f, exact %.6Lf", hist_mean(h), mean);
    ck_assert_msg(fabs(hist_stdev(h) - stdev) <= 1e-6 * stdev + 1e3 * slack, "stdev %.6f, exact %.6f",
                  hist_stdev(h), stdev);
}

/* min <= p50 <= p75 <= p90 <= p99 <= p99.9 <= p99.99 <= max, and every percentile of PCTS
 * in order between min and max. */
static void check_chain(const hist *h)
{
    static const double chain[] = {50, 75, 90, 99, 99.9, 99.99};
    uint64_t prev = hist_min(h);
    for (size_t k = 0; k < sizeof chain / sizeof chain[0]; k++) {
        uint64_t v = hist_value_at_percentile(h, chain[k]);
        ck_assert_msg(prev <= v, "p%g = %" PRIu64 " below the previous %" PRIu64, chain[k], v, prev);
        prev = v;
    }
    ck_assert_msg(prev <= hist_max(h), "p99.99 = %" PRIu64 " above max %" PRIu64, prev, hist_max(h));
    prev = hist_min(h);
    for (size_t k = 0; k < NPCTS; k++) {
        uint64_t v = hist_value_at_percentile(h, PCTS[k]);
        ck_assert_msg(prev <= v && v <= hist_max(h), "p%g = %" PRIu64 " out of order", PCTS[k], v);
        prev = v;
    }
    ck_assert_uint_eq(hist_value_at_percentile(h, 0), hist_min(h));
    ck_assert_uint_eq(hist_value_at_percentile(h, 100), hist_max(h));
    ck_assert(hist_mean(h) >= (double)hist_min(h) && hist_mean(h) <= (double)hist_max(h));
}

/* ---- layout ---- */

/* Walks every slot from 0 ns to the hour, slot by slot: each starts where the previous
 * ended, is no wider than 1/1024 of its lowest value (1 ns below 2048 ns), and recording
 * each slot's lowest value once fills the first slots of the array exactly once each:
 * the index arithmetic is a bijection onto the array's start, and nothing lands outside. */
START_TEST(layout_slots_cover_the_range)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    uint64_t v = 0;
    size_t slots = 0;
    for (;;) {
        uint64_t lo = hist_lowest_equivalent(v), hi = hist_highest_equivalent(v);
        ck_assert_uint_eq(lo, v);
        ck_assert_uint_ge(hi, lo);
        uint64_t width = hi - lo + 1;
        ck_assert_msg(width <= (lo < 2048 ? 1 : lo / 1024), "slot at %" PRIu64 " is %" PRIu64 " wide",
                      lo, width);
        ck_assert_uint_eq(hist_lowest_equivalent(hi), lo);
        hist_record(&h, lo);
        slots++;
        if (hi >= HIST_HIGHEST_NS)
            break;
        v = hi + 1;
    }
    ck_assert_uint_le(slots, HIST_COUNTS_LEN);
    for (size_t i = 0; i < HIST_COUNTS_LEN; i++)
        ck_assert_msg(h.counts[i] == (i < slots ? 1u : 0u), "slot %zu holds %" PRIu64, i, h.counts[i]);
    /* The top bucket is the last one: the array has no bucket to spare. */
    ck_assert_uint_gt(slots, HIST_COUNTS_LEN - HIST_SUB_BUCKET_HALF_COUNT);
    hist_free(&h);
}
END_TEST

/* ---- precision against exact percentiles ---- */

START_TEST(uniform_within_three_digits)
{
    const size_t n = 1000000;
    uint64_t *values = malloc(n * sizeof *values);
    ck_assert_ptr_nonnull(values);
    rng_seed(1);
    for (size_t i = 0; i < n; i++)
        values[i] = rng_range(1000, 100000000); /* 1 us .. 100 ms */
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    check_against_exact(&h, values, n);
    check_chain(&h);
    hist_free(&h);
    free(values);
}
END_TEST

/* Exponential around 2 ms with a Pareto tail in 1 % of the values: a latency's shape,
 * with values from a few ns (exact region) to seconds. */
START_TEST(exponential_within_three_digits)
{
    const size_t n = 1000000;
    uint64_t *values = malloc(n * sizeof *values);
    ck_assert_ptr_nonnull(values);
    rng_seed(2);
    for (size_t i = 0; i < n; i++) {
        double x = -2e6 * log(rng_unit());
        if (rng_next() % 100 == 0)
            x = 5e6 * pow(rng_unit(), -1.0 / 1.5); /* Pareto, alpha 1.5, from 5 ms */
        values[i] = (uint64_t)x;
    }
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    check_against_exact(&h, values, n);
    check_chain(&h);
    hist_free(&h);
    free(values);
}
END_TEST

/* The nearest-rank rule on a set small enough to do by hand. */
START_TEST(nearest_rank_by_hand)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    for (uint64_t v = 1; v <= 4; v++)
        hist_record(&h, v * 500); /* exact: below 2048 ns every ns has its own slot */
    ck_assert_uint_eq(hist_value_at_percentile(&h, 0), 500);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 25), 500);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 25.01), 1000);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 50), 1000);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 75), 1500);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 99.99), 2000);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 100), 2000);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 250), 2000);
    ck_assert_uint_eq(hist_value_at_percentile(&h, -1), 500);
    ck_assert_uint_eq(hist_value_at_percentile(&h, NAN), 500);
    /* Whole percentiles of 100 values are ranks exactly, although some products such as
     * 7 / 100.0 * 100 come out a hair above the integer (7.000000000000001). */
    hist_reset(&h);
    for (uint64_t v = 1; v <= 100; v++)
        hist_record(&h, v * 10);
    for (int pct = 1; pct < 100; pct++)
        ck_assert_msg(hist_value_at_percentile(&h, pct) == (uint64_t)pct * 10, "p%d = %" PRIu64,
                      pct, hist_value_at_percentile(&h, pct));
    hist_reset(&h);
    for (uint64_t v = 1; v <= 4; v++)
        hist_record(&h, v * 500);
    /* Above 2048 ns a slot is wider than 1 ns: the highest value of the slot is reported
     * (3001 for 3000, whose slot is [3000, 3001]), but never more than the max. */
    hist_record(&h, 3000);
    hist_record(&h, 3000);
    hist_record(&h, 5000);
    ck_assert_uint_eq(hist_highest_equivalent(3000), 3001);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 70), 3001);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 99), 5000);
    ck_assert_uint_eq(hist_highest_equivalent(5000), 5003);
    hist_free(&h);
}
END_TEST

/* ---- the ordering chain ---- */

START_TEST(chain_single_values)
{
    static const uint64_t singles[] = {
        0, 1, 999, 1000, 2047, 2048, 2049, 1000000, 1234567, 999999999,
        HIST_HIGHEST_NS - 1, HIST_HIGHEST_NS, HIST_HIGHEST_NS + 1, 2 * HIST_HIGHEST_NS, UINT64_MAX,
    };
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    for (size_t i = 0; i < sizeof singles / sizeof singles[0]; i++) {
        hist_reset(&h);
        hist_record(&h, singles[i]);
        uint64_t want = clamp_ns(singles[i]);
        /* One value: it is the min, the max, every percentile and the mean. */
        ck_assert_uint_eq(hist_min(&h), want);
        ck_assert_uint_eq(hist_max(&h), want);
        for (size_t k = 0; k < NPCTS; k++)
            ck_assert_uint_eq(hist_value_at_percentile(&h, PCTS[k]), want);
        ck_assert(hist_mean(&h) == (double)want);
        ck_assert(hist_stdev(&h) == 0);
        ck_assert_uint_eq(hist_overflow(&h), singles[i] > HIST_HIGHEST_NS ? 1 : 0);
        check_chain(&h);
    }
    hist_free(&h);
}
END_TEST

START_TEST(chain_two_values)
{
    static const uint64_t v[] = {0, 1, 1000, 1001, 2048, 1000000, 1000001, 1000999,
                                 HIST_HIGHEST_NS - 1, HIST_HIGHEST_NS, UINT64_MAX};
    const size_t nv = sizeof v / sizeof v[0];
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    for (size_t i = 0; i < nv; i++)
        for (size_t j = 0; j < nv; j++) {
            hist_reset(&h);
            hist_record(&h, v[i]);
            hist_record(&h, v[j]);
            check_chain(&h);
            uint64_t lo = clamp_ns(v[i] < v[j] ? v[i] : v[j]), hi = clamp_ns(v[i] < v[j] ? v[j] : v[i]);
            ck_assert_uint_eq(hist_min(&h), lo);
            ck_assert_uint_eq(hist_max(&h), hi);
            /* p50 is the smaller value's slot, reported no higher than the max. */
            uint64_t p50 = hist_value_at_percentile(&h, 50);
            ck_assert(p50 >= lo && p50 <= hist_highest_equivalent(lo) && p50 <= hi);
            ck_assert_uint_eq(hist_value_at_percentile(&h, 50.1), hi);
        }
    hist_free(&h);
}
END_TEST

/* Many random sets of random size and shape, each checked for the chain and against the
 * exact percentiles; the shapes put values at 1 us, at the hour and beyond. */
START_TEST(chain_random_sets)
{
    enum { SETS = 3000, MAX_N = 400 };
    uint64_t values[MAX_N];
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    rng_seed(3);
    for (int s = 0; s < SETS; s++) {
        size_t n = (size_t)rng_range(1, MAX_N);
        int shape = s % 6;
        uint64_t base = rng_range(0, HIST_HIGHEST_NS);
        for (size_t i = 0; i < n; i++) {
            switch (shape) {
            case 0: /* log-uniform from 1 ns to about 2 h */
                values[i] = (uint64_t)exp(rng_unit() * log(7.2e12));
                break;
            case 1: /* one value repeated, anywhere */
                values[i] = base;
                break;
            case 2: /* two values */
                values[i] = rng_next() & 1 ? 1000 : base;
                break;
            case 3: /* clustered inside a few slots */
                values[i] = base + rng_range(0, base / 500);
                break;
            case 4: /* the edges: 1 us, around the hour, beyond it */
                values[i] = (uint64_t[]){1000, HIST_HIGHEST_NS - 1, HIST_HIGHEST_NS,
                                         HIST_HIGHEST_NS + 1, UINT64_MAX}[rng_next() % 5];
                break;
            default: /* anything at all */
                values[i] = rng_next() >> (rng_next() % 64);
                break;
            }
        }
        hist_reset(&h);
        uint64_t over = 0;
        for (size_t i = 0; i < n; i++)
            over += values[i] > HIST_HIGHEST_NS;
        check_against_exact(&h, values, n);
        check_chain(&h);
        ck_assert_uint_eq(hist_overflow(&h), over);
    }
    hist_free(&h);
}
END_TEST

START_TEST(overflow_counts_in_the_top_slot)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    hist_record(&h, 5000000);
    hist_record(&h, HIST_HIGHEST_NS + 1);
    hist_record(&h, UINT64_MAX);
    hist_record_n(&h, 3 * HIST_HIGHEST_NS, 2);
    ck_assert_uint_eq(hist_count(&h), 5);
    ck_assert_uint_eq(hist_overflow(&h), 4);
    ck_assert_uint_eq(hist_max(&h), HIST_HIGHEST_NS);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 50), HIST_HIGHEST_NS);
    ck_assert_uint_eq(hist_value_at_percentile(&h, 20), hist_highest_equivalent(5000000));
    hist_free(&h);
}
END_TEST

/* ---- record_n and merge ---- */

static void assert_same(const hist *a, const hist *b)
{
    ck_assert(memcmp(a->counts, b->counts, HIST_COUNTS_LEN * sizeof a->counts[0]) == 0);
    ck_assert_uint_eq(hist_count(a), hist_count(b));
    ck_assert_uint_eq(hist_min(a), hist_min(b));
    ck_assert_uint_eq(hist_max(a), hist_max(b));
    ck_assert_uint_eq(hist_overflow(a), hist_overflow(b));
    for (size_t k = 0; k < NPCTS; k++)
        ck_assert_uint_eq(hist_value_at_percentile(a, PCTS[k]), hist_value_at_percentile(b, PCTS[k]));
    ck_assert(fabs(hist_mean(a) - hist_mean(b)) <= 1e-9 * hist_mean(b) + 1e-9);
    ck_assert(fabs(hist_stdev(a) - hist_stdev(b)) <= 1e-9 * hist_stdev(b) + 1e-6);
}

START_TEST(record_n_equals_n_records)
{
    hist a, b;
    ck_assert_int_eq(hist_init(&a), 0);
    ck_assert_int_eq(hist_init(&b), 0);
    rng_seed(4);
    for (int i = 0; i < 2000; i++) {
        uint64_t v = rng_next() >> (rng_next() % 64), n = rng_range(0, 20);
        hist_record_n(&a, v, n);
        for (uint64_t k = 0; k < n; k++)
            hist_record(&b, v);
    }
    assert_same(&a, &b);
    hist_free(&a);
    hist_free(&b);
}
END_TEST

/* Four "threads" record their share; merged into an empty histogram they equal one
 * histogram that recorded everything.  Merging an empty one changes nothing. */
START_TEST(merge_equals_recording_all_in_one)
{
    enum { PARTS = 4 };
    hist part[PARTS], all, merged, empty;
    for (int p = 0; p < PARTS; p++)
        ck_assert_int_eq(hist_init(&part[p]), 0);
    ck_assert_int_eq(hist_init(&all), 0);
    ck_assert_int_eq(hist_init(&merged), 0);
    ck_assert_int_eq(hist_init(&empty), 0);
    rng_seed(5);
    for (int i = 0; i < 200000; i++) {
        /* Each part its own range, so min and max come from different parts. */
        int p = (int)(rng_next() % PARTS);
        uint64_t v = (uint64_t)(-1e5 * (p + 1) * log(rng_unit()));
        if (i % 10007 == 0)
            v = HIST_HIGHEST_NS + (uint64_t)i; /* a few overflows, in whichever part */
        hist_record(&part[p], v);
        hist_record(&all, v);
    }
    hist_merge(&merged, &empty);
    ck_assert_uint_eq(hist_count(&merged), 0);
    for (int p = 0; p < PARTS; p++) {
        hist_merge(&merged, &part[p]);
        hist_merge(&merged, &empty);
    }
    assert_same(&merged, &all);
    /* The sources are unchanged: merging again doubles every count. */
    ck_assert_uint_eq(hist_count(&part[0]) + hist_count(&part[1]) + hist_count(&part[2]) +
                          hist_count(&part[3]),
                      hist_count(&all));
    hist_merge(&merged, &all);
    ck_assert_uint_eq(hist_count(&merged), 2 * hist_count(&all));
    ck_assert_uint_eq(hist_value_at_percentile(&merged, 99.9), hist_value_at_percentile(&all, 99.9));
    for (int p = 0; p < PARTS; p++)
        hist_free(&part[p]);
    hist_free(&all);
    hist_free(&merged);
    hist_free(&empty);
}
END_TEST

/* ---- fixed memory ---- */

START_TEST(memory_is_fixed)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    size_t bytes = hist_memory_bytes(&h);
    ck_assert_uint_eq(bytes, sizeof h + 270336); /* the figure histogram.h gives */
    rng_seed(6);
    for (int i = 0; i < 100000; i++)
        hist_record(&h, rng_next() >> (rng_next() % 64));
    ck_assert_uint_eq(hist_memory_bytes(&h), bytes);
    hist_free(&h);
    hist_free(&h); /* twice is harmless */
    ck_assert_ptr_null(h.counts);
}
END_TEST

#ifdef HIST_TEST_ALLOC_HOOK
/* hist_init allocates once, the counts; recording, merging and reading never do. */
START_TEST(no_allocation_after_init)
{
    /* No ck_assert while armed: Check's own bookkeeping allocates. */
    hist a, b;
    alloc.armed = 1;
    int rc = hist_init(&a);
    long init_calls = alloc.calls;
    size_t init_size = alloc.last_size;
    alloc.armed = 0;
    ck_assert_int_eq(rc, 0);
    ck_assert_int_eq(init_calls, 1);
    ck_assert_uint_eq(init_size, HIST_COUNTS_LEN * sizeof(uint64_t));
    ck_assert_int_eq(hist_init(&b), 0);
    /* The hook is live: a call from here is seen too, so a zero below means none. */
    alloc.calls = 0;
    alloc.armed = 1;
    void *volatile probe = malloc(16); /* volatile: the compiler may not drop the pair */
    free(probe);
    long probe_calls = alloc.calls;
    alloc.armed = 0;
    ck_assert_int_eq(probe_calls, 1);
    alloc.calls = 0;
    alloc.armed = 1;
    rng_seed(7);
    uint64_t sink = 0;
    for (int i = 0; i < 100000; i++) {
        hist_record(&a, rng_next() >> (rng_next() % 64));
        hist_record_n(&b, rng_next() >> 30, 3);
    }
    hist_merge(&a, &b);
    for (size_t k = 0; k < NPCTS; k++)
        sink += hist_value_at_percentile(&a, PCTS[k]);
    sink += hist_min(&a) + hist_max(&a) + (uint64_t)hist_mean(&a) + (uint64_t)hist_stdev(&a);
    hist_reset(&b);
    alloc.armed = 0;
    ck_assert_int_eq(alloc.calls, 0);
    ck_assert_uint_gt(sink, 0);
    hist_free(&a);
    hist_free(&b);
}
END_TEST

START_TEST(init_reports_enomem)
{
    hist h;
    alloc.armed = 1;
    alloc.fail_next = 1;
    int rc = hist_init(&h);
    alloc.armed = 0;
    ck_assert_int_eq(rc, -ENOMEM);
    ck_assert_ptr_null(h.counts);
    hist_free(&h);
}
END_TEST
#endif

/* ---- the .hgrm output ---- */

static const char HGRM_HEADER[] = "       Value     Percentile TotalCount 1/(1-Percentile)\n";

/* Writes h as .hgrm into a temporary file and returns its text (caller frees). */
static char *hgrm_text(const hist *h, double unit_scale)
{
    FILE *f = tmpfile();
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(hist_write_hgrm(h, f, unit_scale), 0);
    long len = ftell(f);
    ck_assert_int_gt(len, 0);
    char *text = malloc((size_t)len + 1);
    ck_assert_ptr_nonnull(text);
    rewind(f);
    ck_assert_uint_eq(fread(text, 1, (size_t)len, f), (size_t)len);
    text[len] = '\0';
    fclose(f);
    return text;
}

/* HdrHistogram's own output for one value: checked character by character, so that the
 * widths and precisions are its format strings'. */
START_TEST(hgrm_single_value_exact_text)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    hist_record(&h, 1000000); /* 1 ms */
    char *text = hgrm_text(&h, 1e6);
    static const char want[] =
        "       Value     Percentile TotalCount 1/(1-Percentile)\n"
        "\n"
        "       1.000 0.000000000000          1           1.00\n"
        "       1.000 1.000000000000          1\n"
        "#[Mean    =        1.000, StdDeviation   =        0.000]\n"
        "#[Max     =        1.000, Total count    =            1]\n"
        "#[Buckets =           32, SubBuckets     =         2048]\n";
    ck_assert_str_eq(text, want);
    free(text);
    hist_free(&h);
}
END_TEST

START_TEST(hgrm_empty)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    char *text = hgrm_text(&h, 1e6);
    static const char want[] =
        "       Value     Percentile TotalCount 1/(1-Percentile)\n"
        "\n"
        "#[Mean    =        0.000, StdDeviation   =        0.000]\n"
        "#[Max     =        0.000, Total count    =            0]\n"
        "#[Buckets =           32, SubBuckets     =         2048]\n";
    ck_assert_str_eq(text, want);
    free(text);
    hist_free(&h);
}
END_TEST

START_TEST(hgrm_errors)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    hist_record(&h, 1000);
    FILE *ro = fopen("/dev/null", "r"); /* every write to it fails */
    ck_assert_ptr_nonnull(ro);
    ck_assert_int_eq(hist_write_hgrm(&h, ro, 1e6), -EIO);
    ck_assert_int_eq(hist_write_hgrm(&h, ro, 0), -EINVAL);
    ck_assert_int_eq(hist_write_hgrm(&h, ro, NAN), -EINVAL);
    fclose(ro);
    hist_free(&h);
}
END_TEST

/* The output of HdrHistogram's Java code (org.HdrHistogram.Histogram(1, 3600e9, 3),
 * recordValue of each value, outputPercentileDistribution(out, 5, 1e6)) for the same
 * values, line for line but the Mean line (Java averages slot midpoints, we the values).
 * The last value is the highest of its slot, where Java's max rule and ours agree. */
START_TEST(hgrm_matches_hdrhistogram_java)
{
    static const char *const java[] = {
        "       Value     Percentile TotalCount 1/(1-Percentile)\n",
        "\n",
        "       0.001 0.000000000000          1           1.00\n",
        "       0.100 0.100000000000         10           1.11\n",
        "       0.400 0.200000000000         20           1.25\n",
        "       0.900 0.300000000000         30           1.43\n",
        "       1.601 0.400000000000         40           1.67\n",
        "       2.501 0.500000000000         50           2.00\n",
        "       3.027 0.550000000000         55           2.22\n",
        "       3.600 0.600000000000         60           2.50\n",
        "       4.227 0.650000000000         65           2.86\n",
        "       4.903 0.700000000000         70           3.33\n",
        "       5.628 0.750000000000         75           4.00\n",
        "       6.087 0.775000000000         78           4.44\n",
        "       6.402 0.800000000000         80           5.00\n",
        "       6.889 0.825000000000         83           5.71\n",
        "       7.225 0.850000000000         85           6.67\n",
        "       7.746 0.875000000000         88           8.00\n",
        "       7.922 0.887500000000         89           8.89\n",
        "       8.102 0.900000000000         90          10.00\n",
        "       8.471 0.912500000000         92          11.43\n",
        "       8.651 0.925000000000         93          13.33\n",
        "       8.839 0.937500000000         94          16.00\n",
        "       9.028 0.943750000000         95          17.78\n",
        "       9.028 0.950000000000         95          20.00\n",
        "       9.224 0.956250000000         96          22.86\n",
        "       9.413 0.962500000000         97          26.67\n",
        "       9.413 0.968750000000         97          32.00\n",
        "       9.609 0.971875000000         98          35.56\n",
        "       9.609 0.975000000000         98          40.00\n",
        "       9.609 0.978125000000         98          45.71\n",
        "       9.806 0.981250000000         99          53.33\n",
        "       9.806 0.984375000000         99          64.00\n",
        "       9.806 0.985937500000         99          71.11\n",
        "       9.806 0.987500000000         99          80.00\n",
        "       9.806 0.989062500000         99          91.43\n",
        "      10.002 0.990625000000        100         106.67\n",
        "      10.002 1.000000000000        100\n",
        "#[Mean    =        3.383, StdDeviation   =        3.009]\n",
        "#[Max     =       10.002, Total count    =          100]\n",
        "#[Buckets =           32, SubBuckets     =         2048]\n",
    };
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    for (uint64_t i = 1; i < 100; i++)
        hist_record(&h, i * i * 1000 + i);
    hist_record(&h, 10002431);
    ck_assert_uint_eq(hist_highest_equivalent(10002431), 10002431);
    char *text = hgrm_text(&h, 1e6);
    char *line = text;
    for (size_t k = 0; k < sizeof java / sizeof java[0]; k++) {
        char *end = strchr(line, '\n');
        ck_assert_msg(end != NULL, "output ends before line %zu: %s", k, java[k]);
        *end = '\0';
        if (strncmp(java[k], "#[Mean", 6) != 0)
            ck_assert_msg(strncmp(line, java[k], strlen(java[k]) - 1) == 0 &&
                              strlen(line) == strlen(java[k]) - 1,
                          "line %zu:\n  ours: %s\n  Java: %s", k, line, java[k]);
        line = end + 1;
    }
    ck_assert_str_eq(line, "");
    free(text);
    hist_free(&h);
}
END_TEST

/* Java rounds a tie in the percentile column up where printf rounds to even: the tick at
 * 99.97802734375 % prints as 0.999780273438, as in Java's output. */
START_TEST(hgrm_percentile_ties_round_up)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    /* 5,002 values, the last two far apart, so the rows go on past 99.978 %. */
    for (uint64_t v = 1; v <= 5000; v++)
        hist_record(&h, v * 1000);
    hist_record(&h, 1000000000);
    hist_record(&h, 2000000000);
    char *text = hgrm_text(&h, 1e6);
    ck_assert_ptr_nonnull(strstr(text, " 0.999780273438 "));
    ck_assert_ptr_null(strstr(text, " 0.999780273437 "));
    free(text);
    hist_free(&h);
}
END_TEST

/* A large histogram written and read back: the header, then rows whose values never go
 * down, whose percentiles climb to exactly 1.0 on the HdrHistogram ticks (0, 10, ... 50,
 * 55, ... 75, 77.5 ...), whose TotalCount climbs to the count, whose last column is
 * 1/(1-p); then the footer with the histogram's own figures. */
START_TEST(hgrm_parses_back)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    rng_seed(8);
    for (int i = 0; i < 500000; i++)
        hist_record(&h, (uint64_t)(-3e6 * log(rng_unit())) + 20000);
    char *text = hgrm_text(&h, 1e6);

    ck_assert_int_eq(strncmp(text, HGRM_HEADER, strlen(HGRM_HEADER)), 0);
    char *line = text + strlen(HGRM_HEADER);
    ck_assert_int_eq(*line, '\n');
    line++;

    static const double first_ticks[] = {0, .1, .2, .3, .4, .5, .55, .6, .65, .7, .75, .775};
    double prev_value = -1, prev_pct = -1, last_value = 0, last_pct = 0;
    uint64_t prev_count = 0, last_count = 0;
    int rows = 0, last_row_seen = 0;
    while (*line != '#') {
        char *end = strchr(line, '\n');
        ck_assert_ptr_nonnull(end);
        *end = '\0';
        ck_assert_msg(!last_row_seen, "a row after the 100 %% row: %s", line);
        double value, pct, inv;
        uint64_t count;
        int fields = sscanf(line, "%lf %lf %" SCNu64 " %lf", &value, &pct, &count, &inv);
        if (fields == 3) { /* the closing 100 % row */
            ck_assert(pct == 1.0);
            ck_assert_uint_eq(strlen(line), 12 + 1 + 14 + 1 + 10);
            last_row_seen = 1;
        } else {
            ck_assert_msg(fields == 4, "row %d: %s", rows, line);
            ck_assert_uint_eq(strlen(line), 12 + 1 + 14 + 1 + 10 + 1 + 14);
            /* p has 12 decimals, so 1/(1-p) from it is off by up to inv^2 * 5e-13. */
            ck_assert_msg(fabs(inv - 1.0 / (1.0 - pct)) <= 0.005 + inv * inv * 1e-12, "row %d: %s", rows, line);
        }
        ck_assert_msg(value >= prev_value, "row %d: value went down: %s", rows, line);
        ck_assert_msg(pct > prev_pct, "row %d: percentile did not climb: %s", rows, line);
        ck_assert_msg(count >= prev_count, "row %d: count went down: %s", rows, line);
        if ((size_t)rows < sizeof first_ticks / sizeof first_ticks[0])
            ck_assert_msg(fabs(pct - first_ticks[rows]) < 1e-12, "row %d: tick %s", rows, line);
        prev_value = last_value = value;
        prev_pct = last_pct = pct;
        prev_count = last_count = count;
        rows++;
        line = end + 1;
    }
    ck_assert(last_row_seen);
    ck_assert(last_pct == 1.0);
    ck_assert_uint_eq(last_count, hist_count(&h));
    ck_assert(fabs(last_value - (double)hist_max(&h) / 1e6) <= 0.0005);
    ck_assert_int_gt(rows, 50);

    double mean, sd, max;
    uint64_t total;
    int buckets, subs, used = 0;
    ck_assert_int_eq(sscanf(line, "#[Mean    = %lf, StdDeviation   = %lf]\n%n", &mean, &sd, &used), 2);
    ck_assert_int_gt(used, 0);
    line += used;
    used = 0;
    ck_assert_int_eq(sscanf(line, "#[Max     = %lf, Total count    = %" SCNu64 "]\n%n", &max, &total, &used), 2);
    ck_assert_int_gt(used, 0);
    line += used;
    used = 0;
    ck_assert_int_eq(sscanf(line, "#[Buckets = %d, SubBuckets     = %d]\n%n", &buckets, &subs, &used), 2);
    ck_assert_int_gt(used, 0);
    ck_assert_int_eq(line[used], '\0');
    ck_assert(fabs(mean - hist_mean(&h) / 1e6) <= 0.0005);
    ck_assert(fabs(sd - hist_stdev(&h) / 1e6) <= 0.0005);
    ck_assert(fabs(max - (double)hist_max(&h) / 1e6) <= 0.0005);
    ck_assert(fabs(mean - 3.02) < 0.05 && fabs(sd - 3.0) < 0.05); /* the data's own shape */
    ck_assert_uint_eq(total, hist_count(&h));
    ck_assert_int_eq(buckets, HIST_BUCKET_COUNT);
    ck_assert_int_eq(subs, HIST_SUB_BUCKET_COUNT);
    free(text);
    hist_free(&h);
}
END_TEST

/* Each row's value is what hist_value_at_percentile reports at that row's percentile
 * (rows and percentile queries follow one rule). */
START_TEST(hgrm_rows_agree_with_percentiles)
{
    hist h;
    ck_assert_int_eq(hist_init(&h), 0);
    rng_seed(9);
    for (int i = 0; i < 10000; i++)
        hist_record(&h, rng_range(1000, 50000000));
    char *text = hgrm_text(&h, 1.0); /* nanoseconds: the values print exactly */
    char *line = strchr(strchr(text, '\n') + 1, '\n') + 1;
    int rows = 0;
    while (*line != '#') {
        double value, pct;
        ck_assert_int_ge(sscanf(line, "%lf %lf", &value, &pct), 2);
        /* Row 0 is the first slot's value, HdrHistogram's 0 % row; the rest are ranks.
         * The percentile column is rounded to 12 decimals, so the row's true level lies
         * within a hair of it, and the value between the percentiles on either side. */
        if (rows > 0) {
            uint64_t below = hist_value_at_percentile(&h, pct * 100 - 1e-9);
            uint64_t above = hist_value_at_percentile(&h, pct * 100 + 1e-9);
            ck_assert_msg(below <= (uint64_t)value && (uint64_t)value <= above,
                          "row %d: %.0f not in [%" PRIu64 ", %" PRIu64 "]", rows, value, below, above);
        }
        line = strchr(line, '\n') + 1;
        rows++;
    }
    free(text);
    hist_free(&h);
}
END_TEST

static Suite *histogram_suite(void)
{
    Suite *s = suite_create("histogram");
    TCase *tc = tcase_create("histogram");
    /* The million-value sets sort in about a second; a slow sanitizer build needs more. */
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, layout_slots_cover_the_range);
    tcase_add_test(tc, uniform_within_three_digits);
    tcase_add_test(tc, exponential_within_three_digits);
    tcase_add_test(tc, nearest_rank_by_hand);
    tcase_add_test(tc, chain_single_values);
    tcase_add_test(tc, chain_two_values);
    tcase_add_test(tc, chain_random_sets);
    tcase_add_test(tc, overflow_counts_in_the_top_slot);
    tcase_add_test(tc, record_n_equals_n_records);
    tcase_add_test(tc, merge_equals_recording_all_in_one);
    tcase_add_test(tc, memory_is_fixed);
#ifdef HIST_TEST_ALLOC_HOOK
    tcase_add_test(tc, no_allocation_after_init);
    tcase_add_test(tc, init_reports_enomem);
#endif
    tcase_add_test(tc, hgrm_single_value_exact_text);
    tcase_add_test(tc, hgrm_empty);
    tcase_add_test(tc, hgrm_errors);
    tcase_add_test(tc, hgrm_matches_hdrhistogram_java);
    tcase_add_test(tc, hgrm_percentile_ties_round_up);
    tcase_add_test(tc, hgrm_parses_back);
    tcase_add_test(tc, hgrm_rows_agree_with_percentiles);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(histogram_suite());
}
