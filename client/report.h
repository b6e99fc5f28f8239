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

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include <wakeful/executor.h>
#include "histogram.h"
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

/* Causes of failure counted one by one: a slot per errno value (below 4096 on Linux), then
 * our own results (CL_E_WRONG_REPLY, CL_E_NO_REPLY, CL_E_NOT_RUN). */
#define CL_ERRNO_SLOTS 4096
#define CL_ERROR_SLOTS (CL_ERRNO_SLOTS + 3)

/* The slot of a failed request's result (never 0), and back. */
unsigned cl_error_slot(int result);
int cl_slot_result(unsigned slot);

/* Everything the summary shows, merged from every thread. */
typedef struct cl_summary {
    uint64_t requests;                /* requests that ended (-n's count when none was cut) */
    uint64_t ok;                      /* requests that got exactly the reply */
    uint64_t failed;                  /* requests - ok */
    uint64_t kinds[CL_KIND_COUNT];    /* requests by kind; kinds[CL_KIND_OK] == ok */
    uint64_t wall_ns;                 /* first connect to last EOF, roughly: see load.h */
    const hist *latency;              /* ok requests (corrected under -R); borrowed */
    const hist *latency_uncorrected;  /* under -R, from the actual send; else NULL */
    const uint64_t *errors;           /* [CL_ERROR_SLOTS] failed requests by cause; borrowed */
    uint64_t target_counts[CL_MAX_TARGETS][2]; /* per target: ok, failed */
    unsigned ntargets;
    double achieved_rps;              /* requests started per second (see load.c) */
    uint64_t behind_ns;               /* under -R: the latest a request went out */
    bool fell_behind;                 /* under -R: behind_ns is more than timer slack */
    bool interrupted;                 /* Ctrl-C */
    uint64_t abandoned;               /* started but dropped when the grace after Ctrl-C ran out */
    double cpu_user_s, cpu_sys_s;     /* the whole process, from getrusage */
    uint64_t max_rss_kb;              /* the process's peak resident set (VmHWM), KiB */
    unsigned threads;                 /* executor threads used */
    uint64_t concurrency;             /* lanes used (under -R: the cap on requests in flight) */
    wk_executor_stats exec;           /* summed over the threads */
} cl_summary;

/* The human summary. */
void cl_report_text(FILE *out, const cl_options *o, const cl_summary *s);

/* The summary as one JSON object on one line. */
void cl_report_json(FILE *out, const cl_options *o, const cl_summary *s);

#endif
