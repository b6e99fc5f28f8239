/* server/metrics.h: the Prometheus text exposition format (version 0.0.4), written by hand.
 *
 * Three things, none of which knows about sockets:
 *  - `struct mtext`, a growable text buffer and the writers of the format's lines:
 *    "# HELP" and "# TYPE" for a family, then its samples, with label values and help
 *    text escaped as the format says (backslash, double quote in label values, newline);
 *  - `struct latency_hist`, a histogram of durations for one writer thread (a worker),
 *    cheap on the hot path: a bounded scan of 14 bounds and three plain stores, no locked
 *    instruction; any thread may read it, and the render sums the workers' histograms;
 *  - the process_* figures Prometheus's client libraries export on Linux, from the
 *    kernel's own counters (CPU time, RSS, open descriptors, the descriptor limit, the
 *    start time).
 *
 * The format (https://prometheus.io/docs/instrumenting/exposition_formats/): one sample per
 * line, `name{label="value",...} value`; every family's samples follow its HELP and TYPE
 * lines without another family in between; a histogram is cumulative `_bucket{le="..."}`
 * samples ending with `le="+Inf"`, which must equal `_count`, then `_sum` and `_count`; the
 * text is UTF-8 and its last line ends with a newline. */
#ifndef WAKEFUL_SERVER_METRICS_H
#define WAKEFUL_SERVER_METRICS_H

#include <atomic_ops.h>
#include <stddef.h>
#include <stdint.h>

/* ---- the text buffer ---------------------------------------------------------------- */

/* A growable buffer.  When an allocation fails the buffer stops growing and `oom` is set;
 * the writers below then do nothing, so a render can be written straight through and
 * checked once at the end. */
struct mtext {
    char *buf;   /* len bytes of text, NUL-terminated when buf is not NULL (owned) */
    size_t len;
    size_t cap;
    int oom;     /* an allocation failed: the text is incomplete */
};

/* An empty buffer that owns nothing yet. */
void mtext_init(struct mtext *t);

/* Frees the buffer; t is empty again. */
void mtext_free(struct mtext *t);

/* Appends formatted text. */
void mtext_printf(struct mtext *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Appends n bytes. */
void mtext_append(struct mtext *t, const char *s, size_t n);

/* ---- the exposition format ----------------------------------------------------------- */

/* "# HELP name help\n# TYPE name type\n".  name must be a valid metric name
 * ([a-zA-Z_:][a-zA-Z0-9_:]*, the caller's literal); help is escaped (backslash, newline);
 * type is "counter", "gauge", "histogram" or "untyped". */
void metrics_family(struct mtext *t, const char *name, const char *type, const char *help);

/* One sample, `name value\n`, or `name{key="value"} value\n` when key is not NULL (value
 * escaped: backslash, double quote, newline). */
void metrics_sample_u64(struct mtext *t, const char *name, const char *key,
                        const char *label, uint64_t v);
void metrics_sample_double(struct mtext *t, const char *name, const char *key,
                           const char *label, double v);

/* A whole family of one unlabelled sample: HELP, TYPE, the sample. */
void metrics_counter(struct mtext *t, const char *name, const char *help, uint64_t v);
void metrics_gauge(struct mtext *t, const char *name, const char *help, double v);

/* Writes a double the way the format reads it: "+Inf", "-Inf", "NaN", or the shortest
 * decimal text that reads back as the same value (%.17g at most).  buf: 32 bytes. */
void metrics_format_double(char buf[32], double v);

/* ---- the duration histogram --------------------------------------------------------- */

/* The upper bounds, in seconds, of the histogram's finite buckets: from half a millisecond
 * (a reply with --sleep-ms 0 on an idle machine) to 10 s (the default --read-timeout-ms;
 * anything slower waited for a slow peer), about three buckets per decade, and 1.1 s right
 * above the default --sleep-ms 1000, so that the book's default workload has a bucket
 * that separates "on time" from "late". */
#define LATENCY_BUCKETS 15
extern const double latency_bounds_s[LATENCY_BUCKETS];

/* One writer (the worker that owns it), any reader.  Each bucket counts the observations
 * that fell in it alone (not cumulative: one store per observation); the render
 * accumulates.  Each field is written with a plain load and store (no locked instruction:
 * there is one writer) and read with a relaxed load, so a reader may see an observation's
 * bucket before its sum: the render takes `_count` from the buckets it read, so +Inf and
 * `_count` always agree, and `_sum` may lag by the observations being written. */
struct latency_hist {
    AO_t bucket[LATENCY_BUCKETS + 1]; /* the last one: above every bound (+Inf) */
    AO_t sum_ns;                      /* total of the observations, nanoseconds */
};

/* The bounds in nanoseconds, for the hot path's integer compare. */
extern const uint64_t latency_bounds_ns[LATENCY_BUCKETS];

/* Records one duration.  The writer's thread only.  Inline, with the bounds as constants,
 * so that conn.c needs nothing else from metrics.c: a linear scan, at most 15 compares on
 * one cache line, cheaper than a logarithm, and short requests (the common case) stop
 * early; then a plain load and store each (single writer, as conn_count). */
static inline void latency_record(struct latency_hist *h, uint64_t ns)
{
    static const uint64_t b[LATENCY_BUCKETS] = {
        500000ull,     1000000ull,    2500000ull,    5000000ull,    10000000ull,
        25000000ull,   50000000ull,   100000000ull,  250000000ull,  500000000ull,
        1000000000ull, 1100000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
    };
    unsigned i = 0;
    while (i < LATENCY_BUCKETS && ns > b[i])
        i++;
    AO_store(&h->bucket[i], AO_load(&h->bucket[i]) + 1);
    AO_store(&h->sum_ns, AO_load(&h->sum_ns) + (AO_t)ns);
}

/* Writes a histogram family `name` (HELP, TYPE, the buckets, _sum in seconds, _count),
 * summing the n histograms hists[0..n) (one per worker), read with relaxed loads. */
void metrics_histogram(struct mtext *t, const char *name, const char *help,
                       const struct latency_hist *const *hists, size_t n);

/* ---- process figures ------------------------------------------------------------------ */

/* Remembers the process's start time (CLOCK_REALTIME) for process_start_time_seconds.
 * Call once from main, early; before it the start time reported is the kernel's (from
 * /proc/self/stat), which is what it falls back to anyway. */
void metrics_process_init(void);

/* The families process_cpu_seconds_total, process_resident_memory_bytes,
 * process_virtual_memory_bytes, process_open_fds, process_max_fds and
 * process_start_time_seconds, as Prometheus's client libraries name them.  A figure the
 * kernel would not give is left out.  Counting open descriptors reads /proc/self/fd: with
 * 15,000 connections open that is 15,000 directory entries, about a millisecond, on the
 * metrics thread. */
void metrics_process(struct mtext *t);

#endif
