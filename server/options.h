/* server/options.h: wakeful-server's command line.
 *
 * Parsing only: nothing here opens a socket or touches a limit.  The values are checked
 * against their ranges here, so that a wrong flag is refused (exit 2) before anything
 * starts. */
#ifndef WAKEFUL_SERVER_OPTIONS_H
#define WAKEFUL_SERVER_OPTIONS_H

#include <stdint.h>
#include <stdio.h>

#define SERVER_MAX_WORKERS 256u

/* How much the server says: -q / (default) / -v; the last flag given wins. */
enum server_verbosity {
    VERBOSITY_QUIET = -1,  /* the listening line, SIGUSR1 reports and errors only */
    VERBOSITY_NORMAL = 0,  /* plus warnings and the shutdown summary */
    VERBOSITY_VERBOSE = 1, /* plus one line per connection event (the book's printouts) */
};

struct server_options {
    unsigned workers;          /* worker threads, 1..SERVER_MAX_WORKERS */
    const char *bind;          /* IPv4 or IPv6 literal (points into argv or a literal) */
    uint16_t port;             /* 0: the kernel picks one */
    uint64_t sleep_ms;         /* simulated work per request; 0: none */
    uint32_t max_frame;        /* largest field3 accepted, in bytes */
    uint64_t read_timeout_ms;  /* budget for the whole frame (and for the reply) */
    uint64_t max_connections;  /* 0: not given, derive it from RLIMIT_NOFILE */
    uint64_t drain_ms;         /* how long shutdown waits for requests in flight */
    uint64_t defer_accept_ms;  /* TCP_DEFER_ACCEPT on the listener; 0: off */
    uint64_t drain_grace_ms;   /* on SIGTERM, keep accepting this long first; 0: none */
    int agent_port;            /* HAProxy agent-check port on the -b address; -1: off */
    int reuseport;             /* SO_REUSEPORT on the listener */
    int verbosity;             /* an enum server_verbosity */
    const char *metrics;       /* --metrics ADDR:PORT (points into argv); NULL: off */
};

/* What options_parse decided. */
enum options_result {
    OPTIONS_RUN = 0,   /* *opt is filled in: start the server */
    OPTIONS_EXIT_OK,   /* --help or --version was printed to stdout: exit 0 */
    OPTIONS_EXIT_USAGE /* a one-line reason and the usage went to stderr: exit 2 */
};

/* Parses argv into *opt (defaults first).  Uses getopt_long, so call it once. */
enum options_result options_parse(int argc, char **argv, struct server_options *opt);

/* Prints the usage and the flag reference to f. */
void options_usage(FILE *f);

#endif
