/* server/metrics.c: see metrics.h. */
#include "metrics.h"

#include <dirent.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

/* ---- the text buffer ---------------------------------------------------------------- */

void mtext_init(struct mtext *t)
{
    memset(t, 0, sizeof *t);
}

void mtext_free(struct mtext *t)
{
    free(t->buf);
    mtext_init(t);
}

/* Makes room for n more bytes and the NUL; 0, or -1 (oom set) when it cannot. */
static int reserve(struct mtext *t, size_t n)
{
    if (t->oom)
        return -1;
    if (t->len + n + 1 <= t->cap)
        return 0;
    size_t cap = t->cap ? t->cap : 4096; /* a render is 5-10 KiB with a few workers */
    while (cap < t->len + n + 1) {
        if (cap > SIZE_MAX / 2) {
            t->oom = 1;
            return -1;
        }
        cap *= 2;
    }
    char *p = realloc(t->buf, cap);
    if (p == NULL) {
        t->oom = 1;
        return -1;
    }
    t->buf = p;
    t->cap = cap;
    return 0;
}

void mtext_append(struct mtext *t, const char *s, size_t n)
{
    if (reserve(t, n) < 0)
        return;
    memcpy(t->buf + t->len, s, n);
    t->len += n;
    t->buf[t->len] = '\0';
}

void mtext_printf(struct mtext *t, const char *fmt, ...)
{
    va_list ap;
    /* One try in what is left (most lines fit), then once more with the exact room. */
    for (int attempt = 0; attempt < 2; attempt++) {
        if (reserve(t, attempt == 0 ? 128 : 0) < 0)
            return;
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->buf + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->buf[t->len] = '\0';
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        t->buf[t->len] = '\0';
        if (reserve(t, (size_t)n) < 0)
            return;
    }
}

/* ---- the exposition format ----------------------------------------------------------- */

/* Appends s with backslash and newline escaped, and double quote too when quote is set
 * (label values); the format's only escapes. */
static void append_escaped(struct mtext *t, const char *s, int quote)
{
    const char *run = s;
    for (; *s != '\0'; s++) {
        const char *esc = NULL;
        if (*s == '\\')
            esc = "\\\\";
        else if (*s == '\n')
            esc = "\\n";
        else if (*s == '"' && quote)
            esc = "\\\"";
        if (esc == NULL)
            continue;
        mtext_append(t, run, (size_t)(s - run));
        mtext_append(t, esc, 2);
        run = s + 1;
    }
    mtext_append(t, run, (size_t)(s - run));
}

void metrics_family(struct mtext *t, const char *name, const char *type, const char *help)
{
    mtext_printf(t, "# HELP %s ", name);
    append_escaped(t, help, 0);
    mtext_printf(t, "\n# TYPE %s %s\n", name, type);
}

void metrics_format_double(char buf[32], double v)
{
    if (isnan(v)) {
        strcpy(buf, "NaN");
    } else if (isinf(v)) {
        strcpy(buf, v > 0 ? "+Inf" : "-Inf");
    } else {
        /* The shortest of 15..17 significant digits that reads back as v. */
        for (int prec = 15; prec <= 17; prec++) {
            snprintf(buf, 32, "%.*g", prec, v);
            if (strtod(buf, NULL) == v)
                break;
        }
    }
}

static void sample_head(struct mtext *t, const char *name, const char *key, const char *label)
{
    mtext_append(t, name, strlen(name));
    if (key != NULL) {
        mtext_printf(t, "{%s=\"", key);
        append_escaped(t, label, 1);
        mtext_append(t, "\"}", 2);
    }
}

void metrics_sample_u64(struct mtext *t, const char *name, const char *key,
                        const char *label, uint64_t v)
{
    sample_head(t, name, key, label);
    mtext_printf(t, " %llu\n", (unsigned long long)v);
}

void metrics_sample_double(struct mtext *t, const char *name, const char *key,
                           const char *label, double v)
{
    char num[32];
    metrics_format_double(num, v);
    sample_head(t, name, key, label);
    mtext_printf(t, " %s\n", num);
}

void metrics_counter(struct mtext *t, const char *name, const char *help, uint64_t v)
{
    metrics_family(t, name, "counter", help);
    metrics_sample_u64(t, name, NULL, NULL, v);
}

void metrics_gauge(struct mtext *t, const char *name, const char *help, double v)
{
    metrics_family(t, name, "gauge", help);
    metrics_sample_double(t, name, NULL, NULL, v);
}

/* ---- the duration histogram --------------------------------------------------------- */

const double latency_bounds_s[LATENCY_BUCKETS] = {
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 1.1, 2.5, 5, 10,
};

void metrics_histogram(struct mtext *t, const char *name, const char *help,
                       const struct latency_hist *const *hists, size_t n)
{
    uint64_t counts[LATENCY_BUCKETS + 1] = {0};
    uint64_t sum_ns = 0;
    for (size_t k = 0; k < n; k++) {
        for (size_t i = 0; i <= LATENCY_BUCKETS; i++)
            counts[i] += AO_load(&hists[k]->bucket[i]);
        sum_ns += AO_load(&hists[k]->sum_ns);
    }

    metrics_family(t, name, "histogram", help);
    char sample[128];
    snprintf(sample, sizeof sample, "%s_bucket", name);
    uint64_t cumulative = 0;
    for (size_t i = 0; i <= LATENCY_BUCKETS; i++) {
        char le[32];
        cumulative += counts[i];
        if (i < LATENCY_BUCKETS)
            metrics_format_double(le, latency_bounds_s[i]);
        else
            strcpy(le, "+Inf");
        metrics_sample_u64(t, sample, "le", le, cumulative);
    }
    snprintf(sample, sizeof sample, "%s_sum", name);
    metrics_sample_double(t, sample, NULL, NULL, (double)sum_ns / 1e9);
    snprintf(sample, sizeof sample, "%s_count", name);
    metrics_sample_u64(t, sample, NULL, NULL, cumulative);
}

/* ---- process figures ------------------------------------------------------------------ */

/* Seconds since the epoch when the process started; 0 before metrics_process_init. */
static double start_time_s;

/* The kernel's start time of this process: /proc/self/stat field 22 (clock ticks after
 * boot) plus /proc/stat's btime (the boot time, seconds since the epoch), as Prometheus's
 * Python and Go clients compute it.  0 when either cannot be read. */
static double kernel_start_time(void)
{
    double start = 0;
    unsigned long long ticks = 0, btime = 0;
    FILE *f = fopen("/proc/self/stat", "re");
    if (f != NULL) {
        char line[1024];
        if (fgets(line, sizeof line, f) != NULL) {
            /* The command name (field 2) may hold spaces and ')': fields 3.. follow the
             * last ')'.  Field 22 is the 20th after it. */
            char *p = strrchr(line, ')');
            if (p != NULL) {
                p++;
                for (int field = 3; field < 22 && p != NULL; field++)
                    p = strchr(p + 1, ' ');
                if (p != NULL)
                    ticks = strtoull(p + 1, NULL, 10);
            }
        }
        fclose(f);
    }
    f = fopen("/proc/stat", "re");
    if (f != NULL) {
        char line[256];
        while (fgets(line, sizeof line, f) != NULL) {
            if (sscanf(line, "btime %llu", &btime) == 1)
                break;
        }
        fclose(f);
    }
    long hz = sysconf(_SC_CLK_TCK);
    if (ticks > 0 && btime > 0 && hz > 0)
        start = (double)btime + (double)ticks / (double)hz;
    return start;
}

void metrics_process_init(void)
{
    start_time_s = kernel_start_time();
    if (start_time_s == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        start_time_s = (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
    }
}

/* Entries of /proc/self/fd, less the one opendir holds; -1 when it cannot be read. */
static long open_fds(void)
{
    DIR *d = opendir("/proc/self/fd");
    if (d == NULL)
        return -1;
    long n = 0;
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (e->d_name[0] != '.')
            n++;
    }
    closedir(d);
    return n > 0 ? n - 1 : 0;
}

void metrics_process(struct mtext *t)
{
    struct timespec ts;
    /* Every thread's user and system time, as getrusage(RUSAGE_SELF) would add them up,
     * in one vDSO-less system call. */
    if (clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts) == 0) {
        metrics_family(t, "process_cpu_seconds_total", "counter",
                       "Total user and system CPU time spent in seconds.");
        metrics_sample_double(t, "process_cpu_seconds_total", NULL, NULL,
                              (double)ts.tv_sec + (double)ts.tv_nsec / 1e9);
    }

    FILE *f = fopen("/proc/self/statm", "re");
    if (f != NULL) {
        unsigned long long size_pages, resident_pages;
        long page = sysconf(_SC_PAGESIZE);
        if (fscanf(f, "%llu %llu", &size_pages, &resident_pages) == 2 && page > 0) {
            metrics_gauge(t, "process_virtual_memory_bytes", "Virtual memory size in bytes.",
                          (double)size_pages * (double)page);
            metrics_gauge(t, "process_resident_memory_bytes",
                          "Resident memory size in bytes.",
                          (double)resident_pages * (double)page);
        }
        fclose(f);
    }

    long fds = open_fds();
    if (fds >= 0)
        metrics_gauge(t, "process_open_fds", "Number of open file descriptors.", (double)fds);
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
        metrics_gauge(t, "process_max_fds", "Maximum number of open file descriptors.",
                      rl.rlim_cur == RLIM_INFINITY ? INFINITY : (double)rl.rlim_cur);

    if (start_time_s == 0)
        start_time_s = kernel_start_time();
    if (start_time_s > 0)
        metrics_gauge(t, "process_start_time_seconds",
                      "Start time of the process since unix epoch in seconds.", start_time_s);
}
