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

unsigned cl_error_slot(int result)
{
    switch (result) {
    case CL_E_WRONG_REPLY:
        return CL_ERRNO_SLOTS;
    case CL_E_NO_REPLY:
        return CL_ERRNO_SLOTS + 1;
    case CL_E_NOT_RUN:
        return CL_ERRNO_SLOTS + 2;
    default:
        /* Anything outside errno's range would be a bug elsewhere: count it as EIO's
         * neighbour 0, shown as "unknown error", rather than index out of bounds. */
        return result < 0 && result > -CL_ERRNO_SLOTS ? (unsigned)-result : 0;
    }
}

int cl_slot_result(unsigned slot)
{
    switch (slot) {
    case CL_ERRNO_SLOTS:
        return CL_E_WRONG_REPLY;
    case CL_ERRNO_SLOTS + 1:
        return CL_E_NO_REPLY;
    case CL_ERRNO_SLOTS + 2:
        return CL_E_NOT_RUN;
    default:
        return -(int)slot;
    }
}

/* The errno name of a result ("ECONNREFUSED"), or NULL for our own results. */
static const char *result_name(int result)
{
    if (result >= 0 || result <= -CL_ERRNO_SLOTS)
        return NULL;
    return strerrorname_np(-result);
}

/* What to do about a cause, or NULL.  Running out of local ports is the one a load
 * generator meets: name it and say how to widen the space. */
static const char *result_hint(int result)
{
    if (result == -EADDRNOTAVAIL)
        return "out of local ports: spread the connections over more source addresses "
               "with --bind ADDR,ADDR,... or widen net.ipv4.ip_local_port_range";
    return NULL;
}

/* The causes with a count, most frequent first (ties: lower slot first), the first max of
 * them in slots[].  Returns how many causes there are (maybe more than max). */
static unsigned top_errors(const cl_summary *s, unsigned *slots, unsigned max)
{
    unsigned n = 0, total = 0;
    if (s->errors == NULL)
        return 0;
    for (unsigned e = 0; e < CL_ERROR_SLOTS; e++) {
        if (s->errors[e] == 0)
            continue;
        total++;
        /* Insertion into the sorted prefix; max is small. */
        unsigned i = n < max ? n++ : max;
        while (i > 0 && s->errors[slots[i - 1]] < s->errors[e]) {
            if (i < max)
                slots[i] = slots[i - 1];
            i--;
        }
        if (i < max)
            slots[i] = e;
    }
    (void)n;
    return total;
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static double rate(const cl_summary *s)
{
    return s->wall_ns > 0 ? (double)s->ok / ((double)s->wall_ns / 1e9) : 0.0;
}

/* The percentiles shown, with their JSON keys and text labels. */
static const struct {
    double pct;
    const char *key;
    const char *label;
} PCTS[] = {
    {50, "p50", "p50"},       {75, "p75", "p75"},          {90, "p90", "p90"},
    {99, "p99", "p99"},       {99.9, "p99_9", "p99.9"},    {99.99, "p99_99", "p99.99"},
};
#define NPCTS (sizeof PCTS / sizeof PCTS[0])

/* Milliseconds with three significant digits or more. */
static void text_ms(FILE *out, const char *label, double v)
{
    fprintf(out, "%s %.*f ms", label, v < 10 ? 3 : v < 100 ? 2 : 1, v);
}

static void text_latency(FILE *out, const char *head, const hist *h, const char *tail)
{
    if (hist_count(h) == 0) {
        fprintf(out, "%sn/a (no request succeeded)\n", head);
        return;
    }
    fputs(head, out);
    text_ms(out, "min", ms(hist_min(h)));
    text_ms(out, ", mean", hist_mean(h) / 1e6);
    text_ms(out, ", stdev", hist_stdev(h) / 1e6);
    for (unsigned i = 0; i < NPCTS; i++) {
        char label[16];
        snprintf(label, sizeof label, ", %s", PCTS[i].label);
        text_ms(out, label, ms(hist_value_at_percentile(h, PCTS[i].pct)));
    }
    text_ms(out, ", max", ms(hist_max(h)));
    fprintf(out, "%s\n", tail);
}

/* A target as "host:port" ("[v6]:port" when the host is an IPv6 literal). */
static void target_name(const cl_target_spec *t, char *buf, size_t size)
{
    if (strchr(t->host, ':') != NULL)
        snprintf(buf, size, "[%s]:%u", t->host, (unsigned)t->port);
    else
        snprintf(buf, size, "%s:%u", t->host, (unsigned)t->port);
}

void cl_report_text(FILE *out, const cl_options *o, const cl_summary *s)
{
    char addr[300];
    if (o->ntargets == 1)
        target_name(&o->targets[0], addr, sizeof addr);
    else
        snprintf(addr, sizeof addr, "%u targets", o->ntargets);
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
    /* The causes behind the kinds, most frequent first: ten at most. */
    unsigned slots[10];
    unsigned n = top_errors(s, slots, 10);
    for (unsigned i = 0; i < n && i < 10; i++) {
        int r = cl_slot_result(slots[i]);
        char text[128];
        snprintf(text, sizeof text, "%s", cl_result_text(r));
        if (text[0] >= 'A' && text[0] <= 'Z' && !(text[1] >= 'A' && text[1] <= 'Z'))
            text[0] = (char)(text[0] - 'A' + 'a');
        const char *name = result_name(r), *hint = result_hint(r);
        fprintf(out, "           %s: %llu", text, (unsigned long long)s->errors[slots[i]]);
        if (name != NULL)
            fprintf(out, " (%s%s%s)", name, hint != NULL ? ": " : "", hint != NULL ? hint : "");
        fputc('\n', out);
    }
    if (n > 10)
        fprintf(out, "           (%u more causes in --json)\n", n - 10);
    if (o->ntargets > 1)
        for (unsigned t = 0; t < o->ntargets; t++) {
            target_name(&o->targets[t], addr, sizeof addr);
            fprintf(out, "target     %s: ok %llu, failed %llu\n", addr,
                    (unsigned long long)s->target_counts[t][0],
                    (unsigned long long)s->target_counts[t][1]);
        }
    fprintf(out, "wall time  %.3f s\n", (double)s->wall_ns / 1e9);
    fprintf(out, "rate       %.1f requests/s\n", rate(s));
    if (cl_open_loop(o)) {
        fprintf(out, "schedule   %llu requests/s: achieved %.1f requests/s\n",
                (unsigned long long)o->rate, s->achieved_rps);
        if (s->fell_behind)
            fprintf(out,
                    "behind     the client fell behind its schedule: a request went out up "
                    "to %.1f ms after its due time (-c %llu full, or the client short of CPU)\n",
                    ms(s->behind_ns), (unsigned long long)s->concurrency);
        text_latency(out, "latency    ", s->latency, " (corrected: from each due time)");
        text_latency(out, "uncorrected ", s->latency_uncorrected, " (from each actual send)");
    } else {
        text_latency(out, "latency    ", s->latency, "");
    }
    if (s->interrupted)
        fprintf(out, "interrupted by Ctrl-C after %.3f s: the requests that ended are above "
                     "(%llu still in flight were dropped)\n",
                (double)s->wall_ns / 1e9, (unsigned long long)s->abandoned);
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

static void json_latency(FILE *out, const hist *h)
{
    if (hist_count(h) == 0) {
        fputs("{\"min\":null,\"mean\":null,\"stdev\":null", out);
        for (unsigned i = 0; i < NPCTS; i++)
            fprintf(out, ",\"%s\":null", PCTS[i].key);
        fputs(",\"max\":null}", out);
        return;
    }
    fprintf(out, "{\"min\":%.3f,\"mean\":%.3f,\"stdev\":%.3f", ms(hist_min(h)),
            hist_mean(h) / 1e6, hist_stdev(h) / 1e6);
    for (unsigned i = 0; i < NPCTS; i++)
        fprintf(out, ",\"%s\":%.3f", PCTS[i].key, ms(hist_value_at_percentile(h, PCTS[i].pct)));
    fprintf(out, ",\"max\":%.3f}", ms(hist_max(h)));
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
    json_latency(out, s->latency);
    if (s->latency_uncorrected != NULL) {
        fputs(",\"latency_uncorrected_ms\":", out);
        json_latency(out, s->latency_uncorrected);
    }
    fputs(",\"host\":", out);
    json_string(out, o->host);
    fprintf(out, ",\"port\":%u,\"concurrency\":%llu,\"threads\":%u,\"timeout_ms\":%llu",
            (unsigned)o->port, (unsigned long long)s->concurrency, s->threads,
            (unsigned long long)o->timeout_ms);
    if (o->duration_ns > 0)
        fprintf(out, ",\"duration_s\":%.3f", (double)o->duration_ns / 1e9);
    else
        fputs(",\"duration_s\":null", out);
    if (cl_open_loop(o))
        fprintf(out, ",\"target_rps\":%llu,\"achieved_rps\":%.1f,\"behind_ms\":%.3f,"
                     "\"fell_behind\":%s",
                (unsigned long long)o->rate, s->achieved_rps, ms(s->behind_ns),
                s->fell_behind ? "true" : "false");
    else
        fprintf(out, ",\"target_rps\":null,\"achieved_rps\":%.1f,\"behind_ms\":null,"
                     "\"fell_behind\":false",
                s->achieved_rps);
    fprintf(out, ",\"interrupted\":%s,\"abandoned\":%llu", s->interrupted ? "true" : "false",
            (unsigned long long)s->abandoned);
    fputs(",\"targets\":[", out);
    for (unsigned t = 0; t < o->ntargets; t++) {
        fputs(t == 0 ? "{\"host\":" : ",{\"host\":", out);
        json_string(out, o->targets[t].host);
        fprintf(out, ",\"port\":%u,\"requests\":%llu,\"ok\":%llu,\"failed\":%llu}",
                (unsigned)o->targets[t].port,
                (unsigned long long)(s->target_counts[t][0] + s->target_counts[t][1]),
                (unsigned long long)s->target_counts[t][0],
                (unsigned long long)s->target_counts[t][1]);
    }
    fputs("],\"errors\":[", out);
    unsigned slots[64];
    unsigned n = top_errors(s, slots, 64);
    for (unsigned i = 0; i < n && i < 64; i++) {
        int r = cl_slot_result(slots[i]);
        const char *name = result_name(r), *hint = result_hint(r);
        fputs(i == 0 ? "{\"errno\":" : ",{\"errno\":", out);
        if (name != NULL)
            json_string(out, name);
        else
            fputs("null", out);
        fputs(",\"message\":", out);
        json_string(out, cl_result_text(r));
        fprintf(out, ",\"count\":%llu,\"kind\":\"%s\"", (unsigned long long)s->errors[slots[i]],
                cl_kind_key(cl_classify(r)));
        if (hint != NULL) {
            fputs(",\"hint\":", out);
            json_string(out, hint);
        }
        fputc('}', out);
    }
    fputc(']', out);
    fprintf(out, ",\"cpu_s\":{\"user\":%.3f,\"sys\":%.3f},\"max_rss_kb\":%llu", s->cpu_user_s,
            s->cpu_sys_s, (unsigned long long)s->max_rss_kb);
    fprintf(out,
            ",\"executor\":{\"polls\":%llu,\"wakes_local\":%llu,\"wakes_remote\":%llu,"
            "\"epoll_waits\":%llu,\"parks\":%llu,\"busy_s\":%.3f,\"idle_s\":%.3f}}\n",
            (unsigned long long)s->exec.polls, (unsigned long long)s->exec.wakes_local,
            (unsigned long long)s->exec.wakes_remote, (unsigned long long)s->exec.epoll_waits,
            (unsigned long long)s->exec.parks, (double)s->exec.busy_ns / 1e9,
            (double)s->exec.idle_ns / 1e9);
}
