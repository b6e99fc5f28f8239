/* client/report.h: what a request's result means, and the run's summary (text or JSON).
 *
 * Failure kinds (docs/client.md):
 *   refused      the connect was refused (-ECONNREFUSED): nobody listens there;
 *   reset        the connection died: reset by the server (-ECONNRESET, -EPIPE) or closed
 *                by it before a single byte of reply (CL_E_NO_REPLY);
 *   timed_out    the request's deadline passed (-ETIMEDOUT), connect to EOF;
 *   wrong_reply  the server answered and closed, but not with exactly "Hello, client!";
 *   other        anything else (-EMFILE, -EADDRNOTAVAIL, -ENETUNREACH, ...). */
#ifndef WAKEFUL_CLIENT_REPORT_H
#define WAKEFUL_CLIENT_REPORT_H

#include <stdint.h>
#include <stdio.h>

#include <wakeful/executor.h>
#include "errors.h"
#include "options.h"

typedef enum cl_kind {
    CL_KIND_OK = 0,
    CL_KIND_REFUSED,
    CL_KIND_RESET,
    CL_KIND_TIMED_OUT,
    CL_KIND_WRONG_REPLY,
    CL_KIND_OTHER,
    CL_KIND_COUNT,
} cl_kind;

/* The kind of a cl_send_data result (CL_E_NOT_RUN, a request that never ran: other). */
cl_kind cl_classify(int result);

/* The JSON key of a failure kind ("refused", "timed_out", ...). */
const char *cl_kind_key(cl_kind k);

/* A result in words for -v's "Error: ..." lines; never NULL, thread-safe. */
const char *cl_result_text(int result);

/* Everything the summary shows, merged from every thread. */
typedef struct cl_summary {
    uint64_t requests;                /* requests made (-n) */
    uint64_t ok;                      /* requests that got exactly the reply */
    uint64_t failed;                  /* requests - ok */
    uint64_t kinds[CL_KIND_COUNT];    /* requests by kind; kinds[CL_KIND_OK] == ok */
    uint64_t wall_ns;                 /* first connect to last EOF, roughly: see load.h */
    uint64_t lat_min_ns, lat_p50_ns, lat_p90_ns, lat_p99_ns, lat_max_ns; /* over ok only */
    double lat_mean_ns;               /* over ok only */
    double cpu_user_s, cpu_sys_s;     /* the whole process, from getrusage */
    unsigned threads;                 /* executor threads used */
    uint64_t concurrency;             /* lanes used */
    wk_executor_stats exec;           /* summed over the threads */
} cl_summary;

/* Fills the latency fields of *s from lat[0..n): nanoseconds per request, 0 for a request
 * that did not succeed.  Sorts (and compacts) lat in place: it is garbage afterwards. */
void cl_summary_latency(cl_summary *s, uint64_t *lat, uint64_t n);

/* The human summary. */
void cl_report_text(FILE *out, const cl_options *o, const cl_summary *s);

/* The summary as one JSON object on one line. */
void cl_report_json(FILE *out, const cl_options *o, const cl_summary *s);

#endif
