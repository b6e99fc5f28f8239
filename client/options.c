/* client/options.c: see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "units.h"
#include <wakeful/clock.h>
#include <wakeful/tcp.h>

enum {
    OPT_MESSAGE = 256,
    OPT_PAYLOAD,
    OPT_TIMEOUT,
    OPT_JSON,
    OPT_VERSION,
    OPT_BIND,
    OPT_HISTOGRAM,
};

static const struct option long_options[] = {
    {"host", required_argument, NULL, 'H'},
    {"port", required_argument, NULL, 'p'},
    {"requests", required_argument, NULL, 'n'},
    {"duration", required_argument, NULL, 'd'},
    {"rate", required_argument, NULL, 'R'},
    {"concurrency", required_argument, NULL, 'c'},
    {"threads", required_argument, NULL, 't'},
    {"bind", required_argument, NULL, OPT_BIND},
    {"message", required_argument, NULL, OPT_MESSAGE},
    {"payload-bytes", required_argument, NULL, OPT_PAYLOAD},
    {"timeout-ms", required_argument, NULL, OPT_TIMEOUT},
    {"histogram", required_argument, NULL, OPT_HISTOGRAM},
    {"json", no_argument, NULL, OPT_JSON},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {NULL, 0, NULL, 0},
};

/* The leading ':' makes getopt report a missing value as ':' instead of '?'. */
static const char short_options[] = ":H:p:n:d:R:c:t:vqh";

static void print_usage(FILE *out, uint16_t default_port)
{
    fprintf(out,
            "usage: wakeful-client [options]\n"
            "\n"
            "The book's load generator: requests, each one connection that sends one Data\n"
            "frame and reads the reply until EOF.  A run is N requests (-n), or as many as\n"
            "fit in a duration (-d); closed loop (C in flight, each sent when one ends) or,\n"
            "with -R, open loop: request k is due at start + k/R and sent then, and its\n"
            "latency counts from that due time (corrected for coordinated omission).\n"
            "\n"
            "  -H, --host HOST[:PORT]  server, a name or an IP literal ([::1]:PORT for IPv6);\n"
            "                          repeat it or write HOST:PORT,HOST:PORT for several,\n"
            "                          used round-robin (default 127.0.0.1)\n"
            "  -p, --port P            port of the targets written without one (default %u)\n"
            "  -n, --requests N        requests to make: 4000, 10k, 1M (default 4000 without -d)\n"
            "  -d, --duration D        issue requests for D: 500ms, 30s, 5m (bare: seconds),\n"
            "                          then wait for those in flight (at most --timeout-ms)\n"
            "  -R, --rate R            open loop at R requests/s (20000, 20k), with -d or -n\n"
            "  -c, --concurrency C     requests in flight at most (default: N with -n alone,\n"
            "                          %u with -d, rate x timeout with -R)\n"
            "  -t, --threads T         executor threads sharing the work (default: one per\n"
            "                          CPU, at most %u; here %u)\n"
            "      --bind ADDR[,ADDR]  source addresses for the connections, round-robin\n"
            "      --message TEXT      field3 of every request (default \"Hello, server! {i}\")\n"
            "      --payload-bytes B   instead, a field3 of B ASCII bytes\n"
            "      --timeout-ms MS     per request, connect to EOF; 0 for none (default 30000)\n"
            "      --histogram FILE    write the latency histogram (HdrHistogram .hgrm text;\n"
            "                          with -R the corrected one)\n"
            "      --json              print the summary as one JSON object on stdout\n"
            "  -v, --verbose           print every reply as the book does (\"Result: ...\"),\n"
            "                          in request order with -n, as they end with -d or -R\n"
            "  -q, --quiet             print no summary and no progress line\n"
            "  -h, --help              print this help and exit\n"
            "      --version           print the version and exit\n"
            "\n"
            "Example, a constant rate for 10 s:  wakeful-client -R 2000 -d 10s -c 500\n"
            "\n"
            "Ctrl-C stops issuing, waits up to 1 s for the requests in flight and prints the\n"
            "summary so far; a second Ctrl-C quits at once.\n"
            "Exit status: 0 when every request got exactly \"Hello, client!\", 1 when any\n"
            "failed, 2 for a bad flag, an unknown host or a concurrency that cannot fit in\n"
            "the descriptors, 130 when interrupted.\n",
            (unsigned)default_port, (unsigned)CL_DEFAULT_DURATION_CONCURRENCY,
            (unsigned)CL_MAX_DEFAULT_THREADS, cl_default_threads());
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

/* Parses the value of flag `val` with parse, in [min, max]; not_a says what a bad value is
 * not, for the error line. */
static int parse_flag_value(int val, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
                            uint16_t default_port,
                            int (*parse)(const char *, uint64_t, uint64_t, uint64_t *),
                            const char *not_a)
{
    int rc = parse(arg, min, max, out);
    if (rc == 0)
        return 0;
    if (rc == -ERANGE)
        bad(default_port, "--%s: %s is out of range (%llu..%llu)", flag_name(val), arg,
            (unsigned long long)min, (unsigned long long)max);
    else
        bad(default_port, "--%s: '%s' is not %s", flag_name(val), arg, not_a);
    return -1;
}

/* A plain integer (flags in -ms, ports). */
static int parse_number(int val, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
                        uint16_t default_port)
{
    return parse_flag_value(val, arg, min, max, out, default_port, cli_parse_u64, "a number");
}

/* A count with an optional k/M/G suffix. */
static int parse_count(int val, const char *arg, uint64_t min, uint64_t max, uint64_t *out,
                       uint16_t default_port)
{
    return parse_flag_value(val, arg, min, max, out, default_port, cl_parse_count,
                            "a count (a whole number with an optional k, M or G: 10k, 1M)");
}

/* Adds the targets of one -H value (comma-separated) to o. */
static int add_targets(cl_options *o, const char *arg, uint16_t default_port)
{
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char spec[300];
        if (len >= sizeof spec) {
            bad(default_port, "--host: '%.*s...' is too long", 40, p);
            return -1;
        }
        memcpy(spec, p, len);
        spec[len] = '\0';
        if (o->ntargets == CL_MAX_TARGETS) {
            bad(default_port, "--host: at most %d targets", CL_MAX_TARGETS);
            return -1;
        }
        cl_target_spec *t = &o->targets[o->ntargets];
        memset(t, 0, sizeof *t);
        if (cl_split_host_port(spec, t->host, sizeof t->host, &t->port, &t->has_port) < 0) {
            bad(default_port,
                "--host: '%s' is not HOST, HOST:PORT or [IPV6]:PORT (port 1..65535)", spec);
            return -1;
        }
        o->ntargets++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

/* Parses --bind ADDR[,ADDR...]: numeric addresses, port 0 (the kernel picks it). */
static int add_binds(cl_options *o, const char *arg, uint16_t default_port)
{
    const char *p = arg;
    for (;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma != NULL ? (size_t)(comma - p) : strlen(p);
        char a[64];
        if (o->nbinds == CL_MAX_BINDS) {
            bad(default_port, "--bind: at most %d addresses", CL_MAX_BINDS);
            return -1;
        }
        cl_addr *b = &o->binds[o->nbinds];
        if (len >= sizeof a) {
            bad(default_port, "--bind: '%.*s...' is not an IP address", 40, p);
            return -1;
        }
        memcpy(a, p, len);
        a[len] = '\0';
        /* [::1] is accepted as well as ::1. */
        char *lit = a;
        if (a[0] == '[' && len > 2 && a[len - 1] == ']') {
            a[len - 1] = '\0';
            lit = a + 1;
        }
        if (wk_sockaddr_parse(lit, 0, &b->sa, &b->len) != 0) {
            bad(default_port, "--bind: '%s' is not an IPv4 or IPv6 address", a);
            return -1;
        }
        o->nbinds++;
        if (comma == NULL)
            return 0;
        p = comma + 1;
    }
}

unsigned cl_default_threads(void)
{
    long n = sysconf(_SC_NPROCESSORS_ONLN);
    if (n < 1)
        return 1;
    return n > (long)CL_MAX_DEFAULT_THREADS ? CL_MAX_DEFAULT_THREADS : (unsigned)n;
}

cl_parse_result cl_options_parse(cl_options *o, int argc, char **argv, uint16_t default_port)
{
    memset(o, 0, sizeof *o);
    o->port = default_port;
    o->requests = 4000;
    o->threads = 1;
    o->timeout_ms = 30000;

    uint64_t v, concurrency = 0, threads = cl_default_threads();
    opterr = 0;
    optind = 1;
    int c;
    while ((c = getopt_long(argc, argv, short_options, long_options, NULL)) != -1) {
        switch (c) {
        case 'H':
            if (add_targets(o, optarg, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case 'p':
            if (parse_number(c, optarg, 1, 65535, &v, default_port) < 0)
                return CL_PARSE_BAD;
            o->port = (uint16_t)v;
            break;
        case 'n':
            if (parse_count(c, optarg, 1, CL_MAX_REQUESTS, &o->requests, default_port) < 0)
                return CL_PARSE_BAD;
            o->requests_set = true;
            break;
        case 'd': {
            int rc = cl_parse_duration(optarg, 1000000ull, CL_MAX_DURATION_NS, &o->duration_ns);
            if (rc == -ERANGE)
                return bad(default_port, "--duration: %s is out of range (1ms..7 days)", optarg);
            if (rc < 0)
                return bad(default_port,
                           "--duration: '%s' is not a duration (500ms, 30s, 2m, 1h; a bare "
                           "number is seconds)",
                           optarg);
            break;
        }
        case 'R':
            if (parse_count(c, optarg, 1, CL_MAX_RATE, &o->rate, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case 'c':
            if (parse_count(c, optarg, 1, CL_MAX_REQUESTS, &concurrency, default_port) < 0)
                return CL_PARSE_BAD;
            o->concurrency_set = true;
            break;
        case 't':
            if (parse_count(c, optarg, 1, CL_MAX_THREADS, &threads, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case OPT_BIND:
            if (add_binds(o, optarg, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case OPT_MESSAGE:
            o->message = optarg;
            break;
        case OPT_PAYLOAD:
            if (parse_count(c, optarg, 0, CL_MAX_PAYLOAD, &v, default_port) < 0)
                return CL_PARSE_BAD;
            o->payload_set = true;
            o->payload_bytes = (size_t)v;
            break;
        case OPT_TIMEOUT:
            if (parse_number(c, optarg, 0, CL_MAX_TIMEOUT_MS, &o->timeout_ms, default_port) < 0)
                return CL_PARSE_BAD;
            break;
        case OPT_HISTOGRAM:
            o->histogram = optarg;
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
    if (o->rate > 0 && !o->requests_set && o->duration_ns == 0)
        return bad(default_port, "--rate needs --duration or --requests (how long to run)");
    if (o->histogram != NULL && o->histogram[0] == '\0')
        return bad(default_port, "--histogram needs a file name");
    if (o->ntargets == 0) {
        o->ntargets = 1;
        snprintf(o->targets[0].host, sizeof o->targets[0].host, "127.0.0.1");
    }
    for (unsigned i = 0; i < o->ntargets; i++)
        if (!o->targets[i].has_port)
            o->targets[i].port = o->port;
    o->host = o->targets[0].host;
    o->port = o->targets[0].port;

    /* -d alone is bounded by time only. */
    if (o->duration_ns > 0 && !o->requests_set)
        o->requests = UINT64_MAX;
    if (o->verbose && o->requests_set && o->duration_ns == 0 && o->rate == 0 &&
        o->requests > CL_MAX_VERBOSE)
        return bad(default_port, "-v keeps every result of a -n run: at most %llu requests",
                   (unsigned long long)CL_MAX_VERBOSE);

    /* The concurrency: -c as given; else N for -n alone (the book: all at once), a fixed
     * number for a closed loop bounded by time, and for -R enough for every request of a
     * timeout's worth of the schedule (main lowers that one to what the descriptors allow). */
    if (concurrency == 0) {
        if (o->rate > 0) {
            uint64_t t = o->timeout_ms > 0 ? o->timeout_ms : CL_MAX_TIMEOUT_MS;
            concurrency = o->rate * t / 1000;
            if (concurrency < 1)
                concurrency = 1;
        } else if (o->duration_ns > 0) {
            concurrency = CL_DEFAULT_DURATION_CONCURRENCY;
        } else {
            concurrency = o->requests;
        }
    }
    /* More lanes than requests would only idle, and a thread without a lane would hold
     * requests nobody sends: clamp both, the way the summary then reports them. */
    o->concurrency = concurrency > o->requests ? o->requests : concurrency;
    o->threads = (unsigned)(threads > o->concurrency ? o->concurrency : threads);
    return CL_PARSE_RUN;
}

/* Binds a throwaway socket to each --bind address, so that an address this machine does
 * not have is said before the run (and EADDRNOTAVAIL during the run means what the summary
 * says it means: out of local ports). */
static int check_binds(const cl_options *o)
{
    for (unsigned i = 0; i < o->nbinds; i++) {
        const cl_addr *b = &o->binds[i];
        int fd = socket(b->sa.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
        int err = fd < 0 ? errno : 0;
        if (fd >= 0 && bind(fd, (const struct sockaddr *)&b->sa, b->len) < 0)
            err = errno;
        if (fd >= 0)
            close(fd);
        if (err != 0) {
            char a[64];
            wk_sockaddr_format((const struct sockaddr *)&b->sa, a, sizeof a);
            fprintf(stderr, "wakeful-client: --bind: cannot use %s: %s%s\n", a, strerror(err),
                    err == EADDRNOTAVAIL ? " (not an address of this machine)" : "");
            return -1;
        }
    }
    return 0;
}

int cl_options_resolve(cl_options *o)
{
    if (check_binds(o) < 0)
        return -1;
    uint64_t start = wk_now_ns();
    for (unsigned i = 0; i < o->ntargets; i++) {
        cl_target_spec *t = &o->targets[i];
        uint64_t spent_ms = (wk_now_ns() - start) / 1000000u;
        uint64_t left = spent_ms < CL_RESOLVE_TIMEOUT_MS ? CL_RESOLVE_TIMEOUT_MS - spent_ms : 0;
        char why[128];
        int rc = cl_resolve(t->host, t->port, t->addrs, CL_MAX_ADDRS, &t->naddrs, left, why,
                            sizeof why);
        if (rc == 0)
            continue;
        if (rc == -ETIMEDOUT)
            fprintf(stderr, "wakeful-client: cannot resolve host '%s': no answer within %u ms\n",
                    t->host, (unsigned)CL_RESOLVE_TIMEOUT_MS);
        else if (rc == -ENOENT)
            fprintf(stderr, "wakeful-client: cannot resolve host '%s': %s\n", t->host, why);
        else
            fprintf(stderr, "wakeful-client: cannot resolve host '%s': %s\n", t->host,
                    strerror(-rc));
        return -1;
    }
    return 0;
}
