/* client/options.h: wakeful-client's command line.
 *
 * One struct holds every flag after parsing, already checked and clamped, so that the rest
 * of the program never looks at argv.  See docs/client.md for the flags in words. */
#ifndef WAKEFUL_CLIENT_OPTIONS_H
#define WAKEFUL_CLIENT_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#define CL_VERSION "0.1.0"

/* The largest -n: the latency array takes 8 bytes per request, so 100 million requests
 * is 800 MB, about the most a load generator should quietly allocate. */
#define CL_MAX_REQUESTS 100000000ull

/* The largest -t.  More executor threads than this only adds idle epoll instances. */
#define CL_MAX_THREADS 1024u

/* The largest --payload-bytes (64 MiB): the body is one shared buffer, and the server
 * refuses frames over 64 KiB by default anyway; this bound only keeps a typo cheap. */
#define CL_MAX_PAYLOAD (64u << 20)

/* The largest --timeout-ms: one day. */
#define CL_MAX_TIMEOUT_MS 86400000ull

typedef struct cl_options {
    const char *host;               /* -H as given (a numeric literal, validated) */
    uint16_t port;                  /* -p */
    struct sockaddr_storage addr;   /* host and port, parsed once */
    socklen_t addr_len;             /* the length of addr */
    uint64_t requests;              /* -n, at least 1 */
    uint64_t concurrency;           /* -c, clamped to [1, requests]; default: requests */
    unsigned threads;               /* -t, clamped to [1, concurrency] */
    const char *message;            /* --message, NULL for the book's "Hello, server! {i}" */
    bool payload_set;               /* --payload-bytes was given */
    size_t payload_bytes;           /* --payload-bytes */
    uint64_t timeout_ms;            /* --timeout-ms, 0 for no deadline */
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
 * default (meson's default_port option).  Prints nothing on success. */
cl_parse_result cl_options_parse(cl_options *o, int argc, char **argv, uint16_t default_port);

#endif
