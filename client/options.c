/* client/options.c: see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include <wakeful/tcp.h>

enum {
    OPT_MESSAGE = 256,
    OPT_PAYLOAD,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_VERSION,
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"requests", required_argument, NULL, 'n'},
    {"concurrency", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"payload-bytes", required_argument, NULL, OPT_PAYLOAD},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The leading ':' makes getopt report a missing value as ':' instead of '?'. */
static const char short_options[] = ":H:p:n:c:t:vqh";

static void print_usage(FILE *out, uint16_t default_port)
{
    fprintf(out,
            "usage: wakeful-client [options]\n"
            "\n"
            "The book's load generator: N requests, each one connection that sends one Data\n"
            "frame and reads the reply until EOF; at most C in flight at once.\n"
            "\n"
            "  -H, --host ADDR        server address, IPv4 or IPv6 literal (default 127.0.0.1)\n"
            "  -p, --port P           server port (default %u)\n"
            "  -n, --requests N       requests to make (default 4000, at most %llu)\n"
            "  -c, --concurrency C    requests in flight at once (default N: all at once)\n"
            "  -t, --threads T        executor threads, requests spread evenly (default 1)\n"
            "      --message TEXT     field3 of every request (default \"Hello, server! {i}\")\n"
            "      --payload-bytes B  instead, a field3 of B ASCII bytes\n"
            "      --timeout-ms MS    per request, connect to EOF; 0 for none (default 30000)\n"
            "      --json             print the summary as one JSON object on stdout\n"
            "  -v, --verbose          print every reply as the book does (\"Result: ...\")\n"
            "  -q, --quiet            print no summary and no progress line\n"
            "  -h, --help             print this help and exit\n"
            "      --version          print the version and exit\n"
            "\n"
            "Exit status: 0 when every request got exactly \"Hello, client!\", 1 when any\n"
            "failed, 2 for a bad flag or a concurrency that cannot fit in the descriptors.\n",
            (unsigned)default_port, (unsigned long long)CL_MAX_REQUESTS);
}

/* The name a flag is shown with in messages: the long name when there is one. */
static const char *flag_name(int val)
{
    for (const struct option *lo = long_options; lo->name != NULL; lo++)
        if (lo->val == val)
            return lo->name;
    return "?";
}

/* Prints "wakeful-client: REASON" and the usage on stderr; returns CL_PARSE_BAD. */
__attribute__((format(printf, 2, 3)))
static cl_parse_result bad(uint16_t default_port, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fputs("wakeful-client: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputs("\n\n", stderr);
    va_end(ap);
    print_usage(stderr, default_port);
    return CL_PARSE_BAD;
}

/* Parses the value of flag `val` as an integer in [min, max]. */
static int parse_number(int val, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
                        uint16_t default_port)
{
    int rc = cli_parse_u64(arg, min, max, out);
    if (rc == 0)
        return 0;
    if (rc == -ERANGE)
        bad(default_port, "--%s: %s is out of range (%llu..%llu)", flag_name(val), arg,
            (unsigned long long)min, (unsigned long long)max);
    else
        bad(default_port, "--%s: '%s' is not a number", flag_name(val), arg);
    return -1;
}

cl_parse_result cl_options_parse(cl_options *o, int argc, char **argv, uint16_t default_port)
{
    memset(o, 0, sizeof *o);
    o->host = "127.0.0.1";
    o->port = default_port;
    o->requests = 4000;
    o->threads = 1;
    o->timeout_ms = 30000;

    uint64_t v, concurrency = 0, threads = 1;
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (c) {
        case 'H':
            o->host = optarg;
            break;
        case 'p':
            if (parse_number(c, optarg, 1, 65535, &v, default_port) < 0)
                return CL_PARSE_BAD;
            o->port = (uint16_t)v;
            break;
        case 'n':
            if (parse_number(c, optarg, 1, CL_MAX_REQUESTS, &o->requests, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case 'c':
            if (parse_number(c, optarg, 1, CL_MAX_REQUESTS, &concurrency, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case 't':
            if (parse_number(c, optarg, 1, CL_MAX_THREADS, &threads, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case OPT_MESSAGE:
            o->message = optarg;
            break;
        case OPT_PAYLOAD:
            if (parse_number(c, optarg, 0, CL_MAX_PAYLOAD, &v, default_port) < 0)
                return CL_PARSE_BAD;
            o->payload_set = true;
            o->payload_bytes = (size_t)v;
            break;
        case OPT_TIMEOUT:
            if (parse_number(c, optarg, 0, CL_MAX_TIMEOUT_MS, &o->timeout_ms, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case OPT_JSON:
            o->json = true;
            break;
        case 'v':
            o->verbose = true;
            break;
        case 'q':
            o->quiet = true;
            break;
        case 'h':
            print_usage(stdout, default_port);
            return CL_PARSE_EXIT_OK;
        case OPT_VERSION:
            printf("wakeful-client %s\n", CL_VERSION);
            return CL_PARSE_EXIT_OK;
        case ':': {
            char name[64];
            if (optopt > 0 && optopt < 256 && strchr(short_options, optopt) != NULL &&
                optopt != ':')
                snprintf(name, sizeof name, "-%c", optopt);
            else
                snprintf(name, sizeof name, "--%s", flag_name(optopt));
            return bad(default_port, "%s needs a value", name);
        }
        default: /* '?' */
            if (optopt > 0 && optopt < 256) {
                char name[3] = {'-', (char)optopt, '\0'};
                return bad(default_port, "unknown flag '%s'", name);
            }
            return bad(default_port, "unknown flag '%s'", argv[optind - 1]);
        }
    }
    if (optind < argc)
        return bad(default_port, "unexpected argument '%s'", argv[optind]);
    if (o->message != NULL && o->payload_set)
        return bad(default_port, "--message and --payload-bytes cannot be combined");
    if (o->verbose && o->quiet)
        return bad(default_port, "--verbose and --quiet cannot be combined");
    if (wk_sockaddr_parse(o->host, o->port, &o->addr, &o->addr_len) != 0)
        return bad(default_port, "--host: '%s' is not an IPv4 or IPv6 address", o->host);

    /* More lanes than requests would only idle, and a thread without a lane would hold
     * requests nobody sends: clamp both, the way the summary then reports them. */
    o->concurrency = concurrency == 0 || concurrency > o->requests ? o->requests : concurrency;
    o->threads = (unsigned)(threads > o->concurrency ? o->concurrency : threads);
    return CL_PARSE_RUN;
}
