/* client/main.c: wakeful-client, the book's load generator on wakeful's runtime.
 *
 * Parses the flags, resolves the targets, makes sure the concurrency fits in the
 * descriptors the process may open, runs the load (load.h), shows a progress line while it
 * runs (on a terminal only) and prints the summary.  Exit status: 0 when every request got
 * exactly "Hello, client!", 1 when any failed (or the run could not start), 2 for a bad
 * flag, an unknown host or a concurrency that cannot fit, 130 after Ctrl-C (it wins over 1).
 *
 * Ctrl-C: the handler only counts and, the second time, exits; the main thread, which is
 * the only one that takes SIGINT (the workers block it), sees the count between its waits
 * (at most PROGRESS_INTERVAL_NS apart) and stops the run: no new request, up to
 * INTERRUPT_GRACE_NS for those in flight, then the summary of what ran. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "cli.h"
#include "histogram.h"
#include <wakeful/clock.h>
#include <wakeful/errors.h>
#include "load.h"
#include "options.h"
#include "report.h"

#ifndef WK_DEFAULT_PORT
#define WK_DEFAULT_PORT 7878
#endif

/* The progress line is redrawn at most this often: ten times a second.  The main thread
 * also looks for Ctrl-C this often. */
#define PROGRESS_INTERVAL_NS (100 * WK_NSEC_PER_MSEC)

/* After Ctrl-C, how long the requests in flight may still finish. */
#define INTERRUPT_GRACE_NS WK_NSEC_PER_SEC

/* The exit status of a run stopped by Ctrl-C: 128 + SIGINT, as a shell reports it. */
#define EXIT_INTERRUPTED 130

/* SIGINTs received.  The handler is the only writer. */
static volatile sig_atomic_t interrupts;

static void on_sigint(int sig)
{
    (void)sig;
    if (interrupts > 0)
        _exit(EXIT_INTERRUPTED); /* the second: at once, nothing printed */
    interrupts = 1;
}

/* Descriptors the process needs besides one socket per request in flight: stdin, stdout
 * and stderr, then per executor thread its epoll instance and its eventfd (counted as 4,
 * should the runtime ever add a timer or a pipe), and a margin for the C library. */
static uint64_t reserved_descriptors(unsigned threads)
{
    return 3 + 4 * (uint64_t)threads + 16;
}

/* Raises RLIMIT_NOFILE's soft limit to the hard one, then checks that the concurrency asked
 * for fits.  Returns 0, or prints why not (naming the limit and the largest -c that fits)
 * and returns -1: better than failing thousands of requests with EMFILE. */
static int check_descriptors(cl_options *o)
{
    rlim_t soft = cli_raise_nofile_limit();
    if (soft == RLIM_INFINITY)
        return 0;
    uint64_t reserve = reserved_descriptors(o->threads);
    if (o->concurrency + reserve <= (uint64_t)soft)
        return 0;
    /* -R's default (rate x timeout) is a ceiling, not a request: it never stops a run
     * from starting.  Lower it to what fits (a client that then falls behind says so). */
    if (cl_open_loop(o) && !o->concurrency_set && (uint64_t)soft > reserve) {
        o->concurrency = (uint64_t)soft - reserve;
        if (o->threads > o->concurrency)
            o->threads = (unsigned)o->concurrency;
        return 0;
    }
    struct rlimit rl = {0, 0};
    getrlimit(RLIMIT_NOFILE, &rl);
    uint64_t max_c = (uint64_t)soft > reserve ? (uint64_t)soft - reserve : 0;
    fprintf(stderr,
            "wakeful-client: concurrency %llu needs %llu descriptors (one per request in "
            "flight, plus %llu), but RLIMIT_NOFILE allows %llu (hard limit %llu); use -c %llu "
            "or less, or raise the hard limit (ulimit -Hn, as root)\n",
            (unsigned long long)o->concurrency, (unsigned long long)(o->concurrency + reserve),
            (unsigned long long)reserve, (unsigned long long)soft,
            (unsigned long long)(rl.rlim_max == RLIM_INFINITY ? soft : rl.rlim_max),
            (unsigned long long)max_c);
    return -1;
}

/* Waits for the run to end, redrawing a progress line on stderr ten times a second when
 * show is true (stderr is a terminal), and erasing it at the end.  The main thread sleeps
 * on a condition variable between redraws: it never spins.  Handles the first Ctrl-C. */
static void wait_for_run(cl_load *l, bool show)
{
    bool drawn = false;
    uint64_t stop_ns = 0;
    bool aborted = false;
    while (!cl_load_wait(l, PROGRESS_INTERVAL_NS)) {
        if (interrupts > 0 && stop_ns == 0) {
            stop_ns = wk_now_ns();
            cl_load_stop(l, false);
        } else if (stop_ns != 0 && !aborted && wk_now_ns() - stop_ns >= INTERRUPT_GRACE_NS) {
            aborted = true;
            cl_load_stop(l, true);
        }
        if (!show)
            continue;
        uint64_t done, failed;
        cl_load_progress(l, &done, &failed);
        if (l->opt->requests != UINT64_MAX)
            fprintf(stderr, "\r%llu/%llu requests done, %llu failed, %.1f s\033[K",
                    (unsigned long long)done, (unsigned long long)l->opt->requests,
                    (unsigned long long)failed, (double)(wk_now_ns() - l->start_ns) / 1e9);
        else
            fprintf(stderr, "\r%llu requests done, %llu failed, %.1f of %.1f s\033[K",
                    (unsigned long long)done, (unsigned long long)failed,
                    (double)(wk_now_ns() - l->start_ns) / 1e9,
                    (double)l->opt->duration_ns / 1e9);
        fflush(stderr);
        drawn = true;
    }
    if (drawn) {
        fputs("\r\033[K", stderr);
        fflush(stderr);
    }
}

/* --histogram FILE: the latency histogram (corrected under -R) as .hgrm text, in ms.
 * Returns 0 or -1 (said on stderr). */
static int write_histogram(const char *path, const hist *h)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        fprintf(stderr, "wakeful-client: --histogram: cannot write %s: %s\n", path,
                strerror(errno));
        return -1;
    }
    int rc = hist_write_hgrm(h, f, 1e6);
    if (fclose(f) != 0 && rc == 0)
        rc = -EIO;
    if (rc < 0) {
        fprintf(stderr, "wakeful-client: --histogram: writing %s: %s\n", path, wk_strerror(rc));
        return -1;
    }
    return 0;
}

/* -v: every request's outcome in request order, as the book's loop over its handles. */
static void print_results(FILE *out, const cl_load *l)
{
    for (uint64_t i = 0; i < l->opt->requests; i++) {
        int r = l->results[i];
        if (r == 0)
            fprintf(out, "Result: %s\n", cl_result_text(r));
        else
            fprintf(out, "Error: %s\n", cl_result_text(r));
    }
}

int main(int argc, char **argv)
{
    cl_options o;
    switch (cl_options_parse(&o, argc, argv, (uint16_t)WK_DEFAULT_PORT)) {
    case CL_PARSE_RUN:
        break;
    case CL_PARSE_EXIT_OK:
        return 0;
    default:
        return 2;
    }

    if (cl_options_resolve(&o) < 0)
        return 2;

    /* Sends use MSG_NOSIGNAL; this is for stdout, should it be a closed pipe. */
    signal(SIGPIPE, SIG_IGN);

    if (check_descriptors(&o) < 0)
        return 2;

    /* -v's lines go where they cannot spoil the JSON. */
    FILE *vout = o.json ? stderr : stdout;
    cl_load load;
    if (cl_load_init(&load, &o, vout) < 0) {
        fprintf(stderr, "wakeful-client: out of memory for the run\n");
        return 1;
    }

    if (o.verbose) {
        fputs("Waiting for result...\n", vout);
        fflush(vout);
    }

    /* Ctrl-C: only the main thread takes SIGINT.  The workers inherit a mask that blocks
     * it; the main thread unblocks it once they are started. */
    sigset_t sigint, old_mask;
    sigemptyset(&sigint);
    sigaddset(&sigint, SIGINT);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    pthread_sigmask(SIG_BLOCK, &sigint, &old_mask);
    int rc = cl_load_start(&load);
    pthread_sigmask(SIG_SETMASK, &old_mask, NULL);
    if (rc < 0)
        fprintf(stderr, "wakeful-client: cannot start a thread: %s\n", wk_strerror(rc));
    wait_for_run(&load, rc == 0 && !o.quiet && isatty(STDERR_FILENO));

    cl_summary s;
    rc = cl_load_finish(&load, &s);
    if (rc < 0)
        fprintf(stderr, "wakeful-client: executor: %s\n", wk_strerror(rc));
    if (o.verbose && load.results != NULL)
        print_results(vout, &load);

    if (o.json)
        cl_report_json(stdout, &o, &s);
    else if (!o.quiet)
        cl_report_text(stdout, &o, &s);
    fflush(stdout);
    int status = s.failed == 0 ? 0 : 1;
    if (o.histogram != NULL && write_histogram(o.histogram, s.latency) < 0)
        status = 1;
    if (s.interrupted)
        status = EXIT_INTERRUPTED;

    cl_load_free(&load);
    return status;
}
