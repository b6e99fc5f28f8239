/* client/report.c: see report.h. */
#include "report.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <wakeful/errors.h>
#include "send_data.h"
#include <wakeful/tcp.h>

cl_kind cl_classify(int result)
{
    switch (result) {
    case 0:
        return CL_KIND_OK;
    case -ECONNREFUSED:
        return CL_KIND_REFUSED;
    case -ECONNRESET:
    case -EPIPE:
    case CL_E_NO_REPLY:
        return CL_KIND_RESET;
    case -ETIMEDOUT:
        return CL_KIND_TIMED_OUT;
    case CL_E_WRONG_REPLY:
        return CL_KIND_WRONG_REPLY;
    default:
        return CL_KIND_OTHER;
    }
}

const char *cl_kind_key(cl_kind k)
{
    static const char *const keys[CL_KIND_COUNT] = {
        [CL_KIND_OK] = "ok",
        [CL_KIND_REFUSED] = "refused",
        [CL_KIND_RESET] = "reset",
        [CL_KIND_TIMED_OUT] = "timed_out",
        [CL_KIND_WRONG_REPLY] = "wrong_reply",
        [CL_KIND_OTHER] = "other",
    };
    return (unsigned)k < CL_KIND_COUNT ? keys[k] : "other";
}

const char *cl_result_text(int result)
{
    switch (result) {
    case 0:
        return CL_REPLY;
    case CL_E_WRONG_REPLY:
        return "wrong reply";
    case CL_E_NO_REPLY:
        return "connection closed without a reply";
    case CL_E_NOT_RUN:
        return "not run";
    default:
        return wk_strerror(result);
    }
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

/* Nearest-rank percentile (the same definition as tokio-load's, so the two compare):
 * the smallest value with at least p% of the values at or below it. */
static uint64_t percentile(const uint64_t *sorted, uint64_t n, unsigned p)
{
    uint64_t rank = (p * n + 99) / 100;
    if (rank < 1)
        rank = 1;
    if (rank > n)
        rank = n;
    return sorted[rank - 1];
}

void cl_summary_latency(cl_summary *s, uint64_t *lat, uint64_t n)
{
    uint64_t m = 0;
    double sum = 0;
    for (uint64_t i = 0; i < n; i++) {
        if (lat[i] != 0) {
            sum += (double)lat[i];
            lat[m++] = lat[i];
        }
    }
    if (m == 0) {
        s->lat_min_ns = s->lat_p50_ns = s->lat_p90_ns = s->lat_p99_ns = s->lat_max_ns = 0;
        s->lat_mean_ns = 0;
        return;
    }
    qsort(lat, (size_t)m, sizeof *lat, cmp_u64);
    s->lat_min_ns = lat[0];
    s->lat_p50_ns = percentile(lat, m, 50);
    s->lat_p90_ns = percentile(lat, m, 90);
    s->lat_p99_ns = percentile(lat, m, 99);
    s->lat_max_ns = lat[m - 1];
    s->lat_mean_ns = sum / (double)m;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double rate(const cl_summary *s)
{
    return s->wall_ns > 0 ? (double)s->ok / ((double)s->wall_ns / 1e9) : 0.0;
}

void cl_report_text(FILE *out, const cl_options *o, const cl_summary *s)
{
    char addr[64];
    wk_sockaddr_format((const struct sockaddr *)&o->addr, addr, sizeof addr);
    fprintf(out, "requests   %llu to %s (concurrency %llu, %u thread%s)\n",
            (unsigned long long)s->requests, addr, (unsigned long long)s->concurrency,
            s->threads, s->threads == 1 ? "" : "s");
    fprintf(out, "ok         %llu\n", (unsigned long long)s->ok);
    fprintf(out,
            "failed     %llu (refused %llu, reset %llu, timed out %llu, wrong reply %llu, "
            "other %llu)\n",
            (unsigned long long)s->failed, (unsigned long long)s->kinds[CL_KIND_REFUSED],
            (unsigned long long)s->kinds[CL_KIND_RESET],
            (unsigned long long)s->kinds[CL_KIND_TIMED_OUT],
            (unsigned long long)s->kinds[CL_KIND_WRONG_REPLY],
            (unsigned long long)s->kinds[CL_KIND_OTHER]);
    fprintf(out, "wall time  %.3f s\n", (double)s->wall_ns / 1e9);
    fprintf(out, "rate       %.1f requests/s\n", rate(s));
    if (s->ok > 0)
        fprintf(out,
                "latency    min %.1f ms, p50 %.1f ms, p90 %.1f ms, p99 %.1f ms, max %.1f ms\n",
                ms(s->lat_min_ns), ms(s->lat_p50_ns), ms(s->lat_p90_ns), ms(s->lat_p99_ns),
                ms(s->lat_max_ns));
    else
        fprintf(out, "latency    n/a (no request succeeded)\n");
}

/* Writes s as a JSON string (quotes, backslashes and control bytes escaped). */
static void json_string(FILE *out, const char *s)
{
    fputc('"', out);
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\')
            fprintf(out, "\\%c", *p);
        else if (*p < 0x20)
            fprintf(out, "\\u%04x", *p);
        else
            fputc(*p, out);
    }
    fputc('"', out);
}

void cl_report_json(FILE *out, const cl_options *o, const cl_summary *s)
{
    fprintf(out, "{\"requests\":%llu,\"ok\":%llu,\"failed\":%llu,\"failures\":{",
            (unsigned long long)s->requests, (unsigned long long)s->ok,
            (unsigned long long)s->failed);
    for (int k = CL_KIND_OK + 1; k < CL_KIND_COUNT; k++)
        fprintf(out, "%s\"%s\":%llu", k == CL_KIND_OK + 1 ? "" : ",",
                cl_kind_key((cl_kind)k), (unsigned long long)s->kinds[k]);
    fprintf(out, "},\"wall_s\":%.6f,\"rps\":%.1f,\"latency_ms\":", (double)s->wall_ns / 1e9,
            rate(s));
    if (s->ok > 0)
        fprintf(out, "{\"min\":%.3f,\"p50\":%.3f,\"p90\":%.3f,\"p99\":%.3f,\"max\":%.3f,"
                     "\"mean\":%.3f}",
                ms(s->lat_min_ns), ms(s->lat_p50_ns), ms(s->lat_p90_ns), ms(s->lat_p99_ns),
                ms(s->lat_max_ns), s->lat_mean_ns / 1e6);
    else
        fputs("{\"min\":null,\"p50\":null,\"p90\":null,\"p99\":null,\"max\":null,"
              "\"mean\":null}",
              out);
    fputs(",\"host\":", out);
    json_string(out, o->host);
    fprintf(out, ",\"port\":%u,\"concurrency\":%llu,\"threads\":%u,\"timeout_ms\":%llu",
            (unsigned)o->port, (unsigned long long)s->concurrency, s->threads,
            (unsigned long long)o->timeout_ms);
    fprintf(out, ",\"cpu_s\":{\"user\":%.3f,\"sys\":%.3f}", s->cpu_user_s, s->cpu_sys_s);
    fprintf(out,
            ",\"executor\":{\"polls\":%llu,\"wakes_local\":%llu,\"wakes_remote\":%llu,"
            "\"epoll_waits\":%llu,\"parks\":%llu,\"busy_s\":%.3f,\"idle_s\":%.3f}}\n",
            (unsigned long long)s->exec.polls, (unsigned long long)s->exec.wakes_local,
            (unsigned long long)s->exec.wakes_remote, (unsigned long long)s->exec.epoll_waits,
            (unsigned long long)s->exec.parks, (double)s->exec.busy_ns / 1e9,
            (double)s->exec.idle_ns / 1e9);
}
