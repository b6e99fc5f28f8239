/* client/options.h: wakeful-client's command line.
 *
 * One struct holds every flag after parsing, already checked and clamped, so that the rest
 * of the program never looks at argv.  Names in -H are split here and looked up by
 * cl_options_resolve (main calls it before the run).  See docs/client.md for the flags in
 * words. */
#ifndef WAKEFUL_CLIENT_OPTIONS_H
#define WAKEFUL_CLIENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "resolve.h"

#define CL_VERSION "0.1.0"

/* The largest -n.  Latency takes fixed memory (histogram.h) whatever the count; only -v
 * keeps one result per request under -n (4 bytes each), bounded by CL_MAX_VERBOSE. */
#define CL_MAX_REQUESTS 1000000000000ull

/* The largest -n with -v: its per-request results take 4 bytes each (400 MB here). */
#define CL_MAX_VERBOSE 100000000ull

/* The largest -t.  More executor threads than this only adds idle epoll instances. */
#define CL_MAX_THREADS 1024u

/* The largest --payload-bytes (64 MiB): the body is one shared buffer, and the server
 * refuses frames over 64 KiB by default anyway; this bound only keeps a typo cheap. */
#define CL_MAX_PAYLOAD (64u << 20)

/* The largest --timeout-ms: one day. */
#define CL_MAX_TIMEOUT_MS 86400000ull

/* The largest -d: one week; the longest -R: a billion requests a second. */
#define CL_MAX_DURATION_NS (7ull * 86400 * 1000000000ull)
#define CL_MAX_RATE 1000000000ull

/* Targets (-H) and source addresses (--bind) a run may have: the round-robin is per
 * request, so more than a few dozen only adds bookkeeping to the summary. */
#define CL_MAX_TARGETS 32
#define CL_MAX_BINDS 64

/* -t's default is one executor thread per online CPU, at most this many.  Measured on the
 * 2-vCPU machine of BENCHMARKS.md, where the loader shares the CPUs with the server: two
 * threads beat one in the book's run (median wall 1.160 s against 1.187 s, 35 alternating
 * rounds; one thread won in 2 of the 5 series, on the busiest machine) and in W2 (23,600
 * against 15,000-20,000 requests/s), because the client's cost is kernel time
 * (the loopback handshake and delivery run in the sending thread) that a second thread
 * spreads over the second CPU.  The cap keeps a large machine from starting dozens of
 * executors for a run of a few thousand requests; -t goes up to CL_MAX_THREADS. */
#define CL_MAX_DEFAULT_THREADS 8u

/* The concurrency of a -d run without -c and without -R (a closed loop needs one). */
#define CL_DEFAULT_DURATION_CONCURRENCY 64

/* How long the names of -H may take to resolve, all of them together. */
#define CL_RESOLVE_TIMEOUT_MS 5000

/* One -H target: as written, then resolved. */
typedef struct cl_target_spec {
    char host[256];               /* the host without brackets or port */
    uint16_t port;                /* its port, or -p's */
    bool has_port;                /* the port was written with the host */
    cl_addr addrs[CL_MAX_ADDRS];  /* resolved addresses, getaddrinfo's order */
    unsigned naddrs;              /* 0 until cl_options_resolve */
} cl_target_spec;

typedef struct cl_options {
    const char *host;               /* the first target's host, as the JSON shows it */
    uint16_t port;                  /* the first target's port */
    cl_target_spec targets[CL_MAX_TARGETS]; /* -H, in order; at least one */
    unsigned ntargets;
    cl_addr binds[CL_MAX_BINDS];    /* --bind source addresses (port 0) */
    unsigned nbinds;
    bool requests_set;              /* -n was given (else -d bounds the run, or the default) */
    uint64_t requests;              /* -n, at least 1; UINT64_MAX when only -d bounds it */
    uint64_t duration_ns;           /* -d, 0 for none */
    uint64_t rate;                  /* -R, requests per second, 0 for a closed loop */
    bool concurrency_set;           /* -c was given */
    uint64_t concurrency;           /* -c after clamping (see cl_options_parse) */
    unsigned threads;               /* -t (default cl_default_threads()), clamped to
                                       [1, concurrency] */
    const char *message;            /* --message, NULL for the book's "Hello, server! {i}" */
    bool payload_set;               /* --payload-bytes was given */
    size_t payload_bytes;           /* --payload-bytes */
    uint64_t timeout_ms;            /* --timeout-ms, 0 for no deadline */
    const char *histogram;          /* --histogram FILE, or NULL */
    bool json;                      /* --json */
    bool verbose;                   /* -v */
    bool quiet;                     /* -q */
} cl_options;

/* What cl_options_parse decided. */
typedef enum cl_parse_result {
    CL_PARSE_RUN = 0,      /* *o is filled in: go */
    CL_PARSE_EXIT_OK = 1,  /* --help or --version was printed on stdout: exit 0 */
    CL_PARSE_BAD = 2,      /* a one-line reason and the usage went to stderr: exit 2 */
} cl_parse_result;

/* Parses argv into *o (defaults for what is not given).  default_port is the build's
 * default (meson's default_port option).  Prints nothing on success.  Under -R without
 * -c, o->concurrency is rate x timeout (at least 1), which main then clamps to the
 * descriptors the process may open. */
cl_parse_result cl_options_parse(cl_options *o, int argc, char **argv, uint16_t default_port);

/* -t's default: the online CPUs, between 1 and CL_MAX_DEFAULT_THREADS. */
unsigned cl_default_threads(void);

/* Checks that every --bind address can be bound here, then resolves every target (names
 * within CL_RESOLVE_TIMEOUT_MS in all).  Returns 0, or prints why not ("wakeful-client:
 * cannot resolve host 'NAME': WHY") on stderr and returns -1 (exit 2). */
int cl_options_resolve(cl_options *o);

/* True when requests are issued on a schedule (-R). */
static inline bool cl_open_loop(const cl_options *o)
{
    return o->rate > 0;
}

#endif
