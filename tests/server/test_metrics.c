/* tests/server/test_metrics.c: server/metrics (the exposition format, the histogram) and
 * the request parser of server/metrics_http.
 *
 * The parser gets every request at the very end of a page whose next page is unmapped
 * (picohttpparser's trick): reading one byte past what it was given crashes the test on
 * the spot.  Each request is also fed one byte at a time, and every prefix must say
 * "need more" or the final verdict, never a different one. */
#include <check.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "metrics.h"
#include "metrics_http.h"
#include "../check_run.h"

/* ---- the text buffer and the format ------------------------------------------------- */

START_TEST(test_family_and_samples)
{
    struct mtext t;
    mtext_init(&t);
    metrics_family(&t, "x_total", "counter", "A help with \\ and\na newline.");
    metrics_sample_u64(&t, "x_total", "worker", "1", 42);
    metrics_sample_u64(&t, "x_total", "worker", "a\"b\\c\nd", 0);
    metrics_gauge(&t, "g", "Gauge.", 0.25);
    ck_assert_int_eq(t.oom, 0);
    ck_assert_str_eq(t.buf, "# HELP x_total A help with \\\\ and\\na newline.\n"
                            "# TYPE x_total counter\n"
                            "x_total{worker=\"1\"} 42\n"
                            "x_total{worker=\"a\\\"b\\\\c\\nd\"} 0\n"
                            "# HELP g Gauge.\n"
                            "# TYPE g gauge\n"
                            "g 0.25\n");
    ck_assert_uint_eq(t.len, strlen(t.buf));
    mtext_free(&t);
    ck_assert_ptr_null(t.buf);
}
END_TEST

START_TEST(test_growth)
{
    /* Far past the first allocation, in lines of every length. */
    struct mtext t;
    mtext_init(&t);
    size_t want = 0;
    char line[700];
    for (int i = 0; i < 2000; i++) {
        size_t n = (size_t)(i % 600);
        memset(line, 'a' + i % 26, n);
        line[n] = '\0';
        mtext_printf(&t, "%s\n", line);
        want += n + 1;
    }
    ck_assert_int_eq(t.oom, 0);
    ck_assert_uint_eq(t.len, want);
    ck_assert_uint_eq(strlen(t.buf), want);
    mtext_free(&t);
}
END_TEST

START_TEST(test_doubles)
{
    char b[32];
    metrics_format_double(b, 0.0005);
    ck_assert_str_eq(b, "0.0005");
    metrics_format_double(b, 1.1);
    ck_assert_str_eq(b, "1.1");
    metrics_format_double(b, 10);
    ck_assert_str_eq(b, "10");
    metrics_format_double(b, 0.1 + 0.2); /* needs 17 digits to read back */
    ck_assert_double_eq(strtod(b, NULL), 0.1 + 0.2);
    metrics_format_double(b, INFINITY);
    ck_assert_str_eq(b, "+Inf");
    metrics_format_double(b, -INFINITY);
    ck_assert_str_eq(b, "-Inf");
    metrics_format_double(b, NAN);
    ck_assert_str_eq(b, "NaN");
    metrics_format_double(b, 1796409217.27);
    ck_assert_str_eq(b, "1796409217.27");
}
END_TEST

/* The value of the sample line that starts with `prefix` in text, or -1. */
static double sample(const char *text, const char *prefix)
{
    const char *p = text;
    size_t n = strlen(prefix);
    while ((p = strstr(p, prefix)) != NULL) {
        if ((p == text || p[-1] == '\n') && p[n] == ' ')
            return strtod(p + n + 1, NULL);
        p += n;
    }
    return -1;
}

START_TEST(test_histogram)
{
    struct latency_hist a, b;
    memset(&a, 0, sizeof a);
    memset(&b, 0, sizeof b);
    latency_record(&a, 0);                      /* le 0.0005 */
    latency_record(&a, 500000);                 /* exactly on a bound: le 0.0005 */
    latency_record(&a, 500001);                 /* le 0.001 */
    latency_record(&b, 1050000000ull);          /* 1.05 s: le 1.1 */
    latency_record(&b, 11000000000ull);         /* 11 s: only +Inf */
    const struct latency_hist *hs[] = {&a, &b};

    struct mtext t;
    mtext_init(&t);
    metrics_histogram(&t, "d_seconds", "Durations.", hs, 2);
    ck_assert_int_eq(t.oom, 0);
    ck_assert_ptr_nonnull(strstr(t.buf, "# HELP d_seconds Durations.\n"
                                        "# TYPE d_seconds histogram\n"
                                        "d_seconds_bucket{le=\"0.0005\"} 2\n"
                                        "d_seconds_bucket{le=\"0.001\"} 3\n"));
    ck_assert_double_eq(sample(t.buf, "d_seconds_bucket{le=\"1\"}"), 3);
    ck_assert_double_eq(sample(t.buf, "d_seconds_bucket{le=\"1.1\"}"), 4);
    ck_assert_double_eq(sample(t.buf, "d_seconds_bucket{le=\"10\"}"), 4);
    ck_assert_double_eq(sample(t.buf, "d_seconds_bucket{le=\"+Inf\"}"), 5);
    ck_assert_double_eq(sample(t.buf, "d_seconds_count"), 5);
    ck_assert_double_eq_tol(sample(t.buf, "d_seconds_sum"), 12.051000001, 1e-12);
    /* Cumulative and in order: every bucket line is >= the one before, 16 of them. */
    int lines = 0;
    double prev = 0;
    for (const char *p = strstr(t.buf, "d_seconds_bucket"); p != NULL;
         p = strstr(p + 1, "\nd_seconds_bucket")) {
        const char *v = strchr(p, ' ');
        double x = strtod(v + 1, NULL);
        ck_assert(x >= prev);
        prev = x;
        lines++;
    }
    ck_assert_int_eq(lines, LATENCY_BUCKETS + 1);
    mtext_free(&t);
}
END_TEST

START_TEST(test_process)
{
    metrics_process_init();
    struct mtext t;
    mtext_init(&t);
    metrics_process(&t);
    ck_assert_int_eq(t.oom, 0);
    ck_assert(sample(t.buf, "process_cpu_seconds_total") >= 0);
    ck_assert(sample(t.buf, "process_resident_memory_bytes") > 0);
    ck_assert(sample(t.buf, "process_open_fds") >= 3);
    ck_assert(sample(t.buf, "process_max_fds") > 0);
    double start = sample(t.buf, "process_start_time_seconds");
    double now = (double)time(NULL);
    ck_assert(start > now - 600 && start <= now + 1);
    mtext_free(&t);
}
END_TEST

/* ---- --metrics ADDR:PORT ------------------------------------------------------------- */

START_TEST(test_parse_addr)
{
    struct sockaddr_storage ss;
    socklen_t len;
    ck_assert_int_eq(metrics_parse_addr("127.0.0.1:9100", &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET);
    ck_assert_int_eq(metrics_parse_addr("[::1]:0", &ss, &len), 0);
    ck_assert_int_eq(ss.ss_family, AF_INET6);
    ck_assert_int_eq(metrics_parse_addr("0.0.0.0:65535", &ss, &len), 0);
    const char *bad[] = {"", ":", "127.0.0.1", "127.0.0.1:", ":9100", "::1:9100",
                         "[::1]", "127.0.0.1:65536", "127.0.0.1:-1", "127.0.0.1:9x",
                         "localhost:9100", "[::1:9100", "127.0.0.1:9100 "};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        ck_assert_msg(metrics_parse_addr(bad[i], &ss, &len) == -EINVAL, "'%s'", bad[i]);
}
END_TEST

/* ---- the request parser ---------------------------------------------------------------- */

/* Two pages, the second PROT_NONE. */
static char *guard;
static long page;

static void guard_setup(void)
{
    page = sysconf(_SC_PAGESIZE);
    guard = mmap(NULL, (size_t)page * 4, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
                 -1, 0);
    ck_assert(guard != MAP_FAILED);
    ck_assert_int_eq(mprotect(guard + page * 3, (size_t)page, PROT_NONE), 0);
}

/* Parses the first n bytes of s, placed so that they end where the unmapped page begins. */
static enum metrics_http_verdict parse_n(const char *s, size_t n, size_t max, int *head_only)
{
    ck_assert(n <= (size_t)page * 3);
    char *p = guard + page * 3 - n;
    memcpy(p, s, n);
    return metrics_http_parse(p, n, max, head_only);
}

/* The verdict for the whole of s, after checking that each shorter prefix says "need
 * more" or already that same verdict (an early refusal). */
static enum metrics_http_verdict verdict(const char *s, size_t n, int *head_only)
{
    enum metrics_http_verdict whole = parse_n(s, n, METRICS_HTTP_HEAD_MAX, head_only);
    int ho;
    for (size_t k = 0; k < n; k++) {
        enum metrics_http_verdict v = parse_n(s, k, METRICS_HTTP_HEAD_MAX, &ho);
        ck_assert_msg(v == MH_NEED_MORE || v == whole,
                      "prefix %zu of '%s': %d, whole %d", k, s, (int)v, (int)whole);
    }
    return whole;
}

#define V(s) verdict((s), sizeof(s) - 1, &head_only)

START_TEST(test_parse_good)
{
    guard_setup();
    int head_only;
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n"), MH_METRICS);
    ck_assert_int_eq(head_only, 0);
    /* What Prometheus 2.x sends. */
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nHost: 127.0.0.1:9100\r\n"
                       "User-Agent: Prometheus/2.45.0\r\n"
                       "Accept: application/openmetrics-text;version=1.0.0,"
                       "text/plain;version=0.0.4;q=0.5,*/*;q=0.1\r\n"
                       "Accept-Encoding: gzip\r\n"
                       "X-Prometheus-Scrape-Timeout-Seconds: 10\r\n\r\n"),
                     MH_METRICS);
    ck_assert_int_eq(V("GET /metrics?name[]=x HTTP/1.0\r\n\r\n"), MH_METRICS);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\n\n"), MH_METRICS); /* bare LF */
    ck_assert_int_eq(V("HEAD /metrics HTTP/1.1\r\n\r\n"), MH_METRICS);
    ck_assert_int_eq(head_only, 1);
    ck_assert_int_eq(V("GET / HTTP/1.1\r\n\r\n"), MH_NOT_FOUND);
    ck_assert_int_eq(V("GET /metricsx HTTP/1.1\r\n\r\n"), MH_NOT_FOUND);
    ck_assert_int_eq(V("GET /metrics/ HTTP/1.1\r\n\r\n"), MH_NOT_FOUND);
    ck_assert_int_eq(V("GET http://x/metrics HTTP/1.1\r\n\r\n"), MH_NOT_FOUND);
    ck_assert_int_eq(V("POST /metrics HTTP/1.1\r\nContent-Length: 0\r\n\r\n"),
                     MH_BAD_METHOD);
    ck_assert_int_eq(V("BREW /metrics HTTP/1.1\r\n\r\n"), MH_BAD_METHOD);
    ck_assert_int_eq(V("get /metrics HTTP/1.1\r\n\r\n"), MH_BAD_METHOD); /* case matters */
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nX-Empty:\r\nX-Tab:\ta\tb\r\n\r\n"),
                     MH_METRICS);
    /* Bytes after the head (a body, a pipelined request) are not the parser's business. */
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\n\r\nGARBAGE"), MH_METRICS);
}
END_TEST

START_TEST(test_parse_bad)
{
    guard_setup();
    int head_only;
    ck_assert_int_eq(V("\x16\x03\x01\x02\x00"), MH_BAD_REQUEST); /* a TLS hello */
    ck_assert_int_eq(V("garbage\x01"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics\r\n\r\n"), MH_BAD_REQUEST); /* HTTP/0.9 */
    ck_assert_int_eq(V("GET  /metrics HTTP/1.1\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1 \r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/2.0\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.10\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics http/1.1\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /met\x7frics HTTP/1.1\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /m\xc3\xa9trics HTTP/1.1\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\rX\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nHost : x\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nNo colon\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\n: x\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nA: b\r\n folded\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nA: b\x01\r\n\r\n"), MH_BAD_REQUEST);
    ck_assert_int_eq(V("GET /metrics HTTP/1.1\r\nA: b\rc\r\n\r\n"), MH_BAD_REQUEST);
    /* A NUL in the middle of the request line. */
    static const char nul[] = "GET /me\0trics HTTP/1.1\r\n\r\n";
    ck_assert_int_eq(verdict(nul, sizeof nul - 1, &head_only), MH_BAD_REQUEST);
}
END_TEST

START_TEST(test_parse_limits)
{
    guard_setup();
    int head_only;
    /* A valid head that never ends: need more below max, 400 at max. */
    size_t max = METRICS_HTTP_HEAD_MAX;
    char *big = malloc(max);
    ck_assert_ptr_nonnull(big);
    static const char start[] = "GET /metrics HTTP/1.1\r\nX-Long: ";
    memcpy(big, start, sizeof start - 1);
    memset(big + sizeof start - 1, 'a', max - (sizeof start - 1));
    ck_assert_int_eq(parse_n(big, max - 1, max, &head_only), MH_NEED_MORE);
    ck_assert_int_eq(parse_n(big, max, max, &head_only), MH_BAD_REQUEST);
    /* A request line that never ends. */
    memcpy(big, "GET /", 5);
    memset(big + 5, 'm', max - 5);
    ck_assert_int_eq(parse_n(big, max - 1, max, &head_only), MH_NEED_MORE);
    ck_assert_int_eq(parse_n(big, max, max, &head_only), MH_BAD_REQUEST);
    /* Exactly max bytes that end the head: fine. */
    static const char head[] = "GET /metrics HTTP/1.1\r\nX: ";
    memcpy(big, head, sizeof head - 1);
    memset(big + sizeof head - 1, 'b', max - (sizeof head - 1) - 4);
    memcpy(big + max - 4, "\r\n\r\n", 4);
    ck_assert_int_eq(parse_n(big, max, max, &head_only), MH_METRICS);
    /* Nothing yet. */
    ck_assert_int_eq(parse_n("", 0, max, &head_only), MH_NEED_MORE);
    free(big);
}
END_TEST

static Suite *metrics_suite(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("format");
    tcase_add_test(tc, test_family_and_samples);
    tcase_add_test(tc, test_growth);
    tcase_add_test(tc, test_doubles);
    tcase_add_test(tc, test_histogram);
    tcase_add_test(tc, test_process);
    suite_add_tcase(s, tc);
    tc = tcase_create("http");
    tcase_add_test(tc, test_parse_addr);
    tcase_add_test(tc, test_parse_good);
    tcase_add_test(tc, test_parse_bad);
    tcase_add_test(tc, test_parse_limits);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(metrics_suite());
}
