/* server/options.c: see options.h. */
#include "options.h"

#include <errno.h>
#include <getopt.h>
#include <string.h>
#include <sys/socket.h>

#include "cli.h"
#include "metrics_http.h"
#include <wakeful/tcp.h>

#ifndef WK_DEFAULT_PORT
#define WK_DEFAULT_PORT 7878
#endif
#ifndef WK_SERVER_VERSION
#define WK_SERVER_VERSION "0.1.0"
#endif

/* Upper bounds for the millisecond flags: a day is far past any sensible value and keeps
 * every deadline computation (ms * 10^6 + now) far from overflowing 64 bits. */
#define MS_MAX 86400000ull
/* field3 is at most this large: the decoder allocates it whole, so 1 GiB is already a
 * generous ceiling for one connection. */
#define MAX_FRAME_MAX (1ull << 30)
/* --max-connections: RLIMIT_NOFILE cannot usefully exceed this (fs.nr_open's ceiling). */
#define MAX_CONNECTIONS_MAX (1ull << 30)
/* TCP_DEFER_ACCEPT counts whole seconds of SYN-ACK retransmissions: an hour is plenty. */
#define DEFER_ACCEPT_MS_MAX 3600000ull

enum {
    OPT_SLEEP_MS = 256, /* long-only flags: values outside the char range */
    OPT_MAX_FRAME,
    OPT_READ_TIMEOUT_MS,
    OPT_MAX_CONNECTIONS,
    OPT_DRAIN_MS,
    OPT_DEFER_ACCEPT_MS,
    OPT_DRAIN_GRACE_MS,
    OPT_AGENT_PORT,
    OPT_REUSEPORT,
    OPT_VERSION,
    OPT_METRICS,
};

static const struct option long_options[] = {
    {"workers", required_argument, NULL, 'w'},
    {"bind", required_argument, NULL, 'b'},
    {"port", required_argument, NULL, 'p'},
    {"sleep-ms", required_argument, NULL, OPT_SLEEP_MS},
    {"max-frame", required_argument, NULL, OPT_MAX_FRAME},
    {"read-timeout-ms", required_argument, NULL, OPT_READ_TIMEOUT_MS},
    {"max-connections", required_argument, NULL, OPT_MAX_CONNECTIONS},
    {"drain-ms", required_argument, NULL, OPT_DRAIN_MS},
    {"defer-accept-ms", required_argument, NULL, OPT_DEFER_ACCEPT_MS},
    {"drain-grace-ms", required_argument, NULL, OPT_DRAIN_GRACE_MS},
    {"agent-port", required_argument, NULL, OPT_AGENT_PORT},
    {"reuseport", no_argument, NULL, OPT_REUSEPORT},
    {"verbose", no_argument, NULL, 'v'},
    {"quiet", no_argument, NULL, 'q'},
    {"help", no_argument, NULL, 'h'},
    {"version", no_argument, NULL, OPT_VERSION},
    {"metrics", required_argument, NULL, OPT_METRICS},
    {NULL, 0, NULL, 0},
};

void options_usage(FILE *f)
{
    fprintf(f,
        "usage: wakeful-server [OPTIONS]\n"
        "\n"
        "Accepts TCP connections and hands them round-robin to N worker threads, each running\n"
        "its own wakeful executor.  Per connection: read one Data frame, sleep --sleep-ms,\n"
        "answer \"Hello, client!\", close.  A bad frame, a timeout or a reset closes the\n"
        "connection without a reply.\n"
        "\n"
        "options:\n"
        "  -w, --workers N           worker threads, 1..%u (default 3)\n"
        "  -b, --bind ADDR           IPv4 or IPv6 literal to listen on (default 127.0.0.1)\n"
        "  -p, --port P              TCP port; 0 picks a free one (default %d)\n"
        "      --sleep-ms MS         simulated work per request, asleep in the runtime;\n"
        "                            0 means none (default 1000)\n"
        "      --max-frame BYTES     largest field3 accepted; a longer length field closes\n"
        "                            the connection at once (default 65536)\n"
        "      --read-timeout-ms MS  a peer that has not sent its whole frame this long after\n"
        "                            it was accepted is closed; the reply gets the same budget\n"
        "                            (default 10000, at least 1)\n"
        "      --max-connections N   connections open at once (default: the RLIMIT_NOFILE soft\n"
        "                            limit, after raising it to the hard limit, minus a reserve\n"
        "                            of 64 + 5 per worker descriptors for the server's own use).\n"
        "                            At the limit the server stops accepting; new connections\n"
        "                            wait in the listen backlog until one closes.\n"
        "      --drain-grace-ms MS   on SIGINT/SIGTERM, first go on accepting for MS while the\n"
        "                            agent port answers \"drain\", so that a load balancer stops\n"
        "                            sending before the listener closes (default 0)\n"
        "      --drain-ms MS         after the grace period, the bound on the rest of the\n"
        "                            shutdown: accepting what is already queued, then the\n"
        "                            requests in flight; what is left is cut off (default 5000)\n"
        "      --agent-port P        answer HAProxy's agent-check on port P of the -b address\n"
        "                            (0 picks a free one): one line per connection, \"up ready\",\n"
        "                            \"drain\" from SIGTERM until the listener closes, then\n"
        "                            \"down\" (default: off)\n"
        "      --reuseport           SO_REUSEPORT on the listener: several servers share the\n"
        "                            port and the kernel spreads connections among them; with\n"
        "                            sysctl net.ipv4.tcp_migrate_req=1 the connections queued\n"
        "                            at a stopping one move to a sibling\n"
        "      --defer-accept-ms MS  let the kernel hold a new connection until its first\n"
        "                            bytes arrive, for at most about MS (TCP_DEFER_ACCEPT,\n"
        "                            whole seconds, rounded up): the server then accepts,\n"
        "                            reads and answers in one wake-up.  A peer that sends\n"
        "                            nothing is accepted when it runs out and then gets\n"
        "                            --read-timeout-ms.  0 turns it off (default 1000)\n",
        SERVER_MAX_WORKERS, WK_DEFAULT_PORT);
    /* In pieces: C11 compilers need only take string literals of 4095 bytes. */
    fputs(
        "      --metrics ADDR:PORT   serve Prometheus metrics over HTTP at\n"
        "                            http://ADDR:PORT/metrics (IPv6 in brackets: [::1]:9100;\n"
        "                            port 0 picks a free one), from a thread of its own\n"
        "                            (default: off)\n"
        "  -v, --verbose             one line per connection event (accepted, message, error)\n"
        "                            on stdout, as in the book\n"
        "  -q, --quiet               no warnings and no shutdown summary\n"
        "  -h, --help                this text\n"
        "      --version             the version\n"
        "\n"
        "At start the server raises its RLIMIT_NOFILE soft limit to the hard limit and prints\n"
        "\"listening on HOST:PORT (N workers)\", with the real port, then with --metrics\n"
        "\"metrics on HOST:PORT\", then with --agent-port \"agent on HOST:PORT\", all in one\n"
        "write.  The listen backlog is the system maximum (net.core.somaxconn).\n"
        "\n"
        "Out of descriptors (accept fails with EMFILE or ENFILE): the server stops accepting\n"
        "for 10 ms, doubling up to 100 ms while it persists, then tries again; the waiting\n"
        "connections stay in the listen backlog, nothing spins and nothing is dropped.\n"
        "\n"
        "A reply is followed by a lingering close when the client sent more than its frame:\n"
        "the server shuts down its sending side and reads and discards for at most 2 s until\n"
        "the client closes, so that unread input never turns the close into a reset.\n"
        "\n"
        "signals:\n"
        "  SIGUSR1, SIGHUP  print per-worker counters and executor statistics to stderr\n"
        "  SIGINT, SIGTERM  after --drain-grace-ms, accept what is queued (with TCP_DEFER_ACCEPT\n"
        "                   a connection whose bytes have not arrived is not queued yet: it\n"
        "                   is reset, or moved to a --reuseport sibling), close the listener,\n"
        "                   let requests in flight finish (all within --drain-ms), print a\n"
        "                   per-worker summary to stderr, exit 0.  A second one during the\n"
        "                   grace period ends it at once; later it changes nothing\n"
        "  SIGPIPE          ignored\n"
        "\n"
        "systemd: with $NOTIFY_SOCKET set (Type=notify), the server sends READY=1 once it is\n"
        "listening, STOPPING=1 on SIGINT/SIGTERM, STATUS= lines, and WATCHDOG=1 every half\n"
        "of $WATCHDOG_USEC when that is set (WatchdogSec=).  Diagnostics on stderr carry an\n"
        "RFC 3339 UTC time, a level, and the worker and connection where there is one (no\n"
        "time under journald: $JOURNAL_STREAM).\n",
        f);
}

/* A wrong flag or value: one line saying why ("wakeful-server: WHAT 'ARG'..."), then the
 * usage, on stderr. */
static enum options_result refuse(const char *what, const char *arg, const char *why)
{
    fprintf(stderr, "wakeful-server: %s '%s'%s\n\n", what, arg, why);
    options_usage(stderr);
    return OPTIONS_EXIT_USAGE;
}

/* Parses a numeric flag value in [min, max]; prints the refusal itself on failure. */
static int number(const char *flag, const char *value, uint64_t min, uint64_t max,
                  uint64_t *out)
{
    int r = cli_parse_u64(value, min, max, out);
    if (r == 0)
        return 0;
    char range[64];
    snprintf(range, sizeof range, "%llu..%llu", (unsigned long long)min,
             (unsigned long long)max);
    fprintf(stderr, "wakeful-server: %s: '%s' is %s (expected %s)\n\n", flag, value,
            r == -ERANGE ? "out of range" : "not a number", range);
    options_usage(stderr);
    return -1;
}

enum options_result options_parse(int argc, char **argv, struct server_options *opt)
{
    opt->workers = 3;
    opt->bind = "127.0.0.1";
    opt->port = WK_DEFAULT_PORT;
    opt->sleep_ms = 1000;
    opt->max_frame = 65536;
    opt->read_timeout_ms = 10000;
    opt->max_connections = 0;
    opt->drain_ms = 5000;
    opt->defer_accept_ms = 1000;
    opt->drain_grace_ms = 0;
    opt->agent_port = -1;
    opt->reuseport = 0;
    opt->verbosity = VERBOSITY_NORMAL;
    opt->metrics = NULL;

    opterr = 0; /* our own one-line messages, not getopt's */
    for (;;) {
        int longindex = -1;
        int c = getopt_long(argc, argv, ":w:b:p:vqh", long_options, &longindex);
        if (c == -1)
            break;
        uint64_t v;
        switch (c) {
        case 'w':
            if (number("--workers", optarg, 1, SERVER_MAX_WORKERS, &v) < 0)
                return OPTIONS_EXIT_USAGE;
            opt->workers = (unsigned)v;
            break;
        case 'b': {
            struct sockaddr_storage ss;
            socklen_t len;
            if (wk_sockaddr_parse(optarg, 0, &ss, &len) != 0)
                return refuse("--bind:", optarg, " is not an IPv4 or IPv6 literal");
            opt->bind = optarg;
            break;
        }
        case 'p':
            if (number("--port", optarg, 0, 65535, &v) < 0)
                return OPTIONS_EXIT_USAGE;
            opt->port = (uint16_t)v;
            break;
        case OPT_SLEEP_MS:
            if (number("--sleep-ms", optarg, 0, MS_MAX, &opt->sleep_ms) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_MAX_FRAME:
            if (number("--max-frame", optarg, 0, MAX_FRAME_MAX, &v) < 0)
                return OPTIONS_EXIT_USAGE;
            opt->max_frame = (uint32_t)v;
            break;
        case OPT_READ_TIMEOUT_MS:
            if (number("--read-timeout-ms", optarg, 1, MS_MAX, &opt->read_timeout_ms) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_MAX_CONNECTIONS:
            if (number("--max-connections", optarg, 1, MAX_CONNECTIONS_MAX,
                       &opt->max_connections) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_DRAIN_MS:
            if (number("--drain-ms", optarg, 0, MS_MAX, &opt->drain_ms) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_DEFER_ACCEPT_MS:
            if (number("--defer-accept-ms", optarg, 0, DEFER_ACCEPT_MS_MAX,
                       &opt->defer_accept_ms) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_DRAIN_GRACE_MS:
            if (number("--drain-grace-ms", optarg, 0, MS_MAX, &opt->drain_grace_ms) < 0)
                return OPTIONS_EXIT_USAGE;
            break;
        case OPT_AGENT_PORT:
            if (number("--agent-port", optarg, 0, 65535, &v) < 0)
                return OPTIONS_EXIT_USAGE;
            opt->agent_port = (int)v;
            break;
        case OPT_REUSEPORT:
            opt->reuseport = 1;
            break;
        case OPT_METRICS: {
            struct sockaddr_storage ss;
            socklen_t len;
            if (metrics_parse_addr(optarg, &ss, &len) != 0)
                return refuse("--metrics:", optarg,
                              " is not ADDR:PORT (an IPv4 literal, or IPv6 in brackets: "
                              "127.0.0.1:9100, [::1]:0)");
            opt->metrics = optarg;
            break;
        }
        case 'v':
            opt->verbosity = VERBOSITY_VERBOSE;
            break;
        case 'q':
            opt->verbosity = VERBOSITY_QUIET;
            break;
        case 'h':
            options_usage(stdout);
            return OPTIONS_EXIT_OK;
        case OPT_VERSION:
            printf("wakeful-server %s\n", WK_SERVER_VERSION);
            return OPTIONS_EXIT_OK;
        case ':':
            /* A flag without its value: argv[optind - 1] is the flag as written. */
            return refuse("option", argv[optind - 1], " needs a value");
        default: {
            /* '?': unknown.  For a long flag optopt is 0 and the word is in argv. */
            char shortflag[3] = {'-', (char)optopt, '\0'};
            return refuse("unknown option", optopt ? shortflag : argv[optind - 1], "");
        }
        }
    }
    if (optind < argc)
        return refuse("unexpected argument", argv[optind], "");
    return OPTIONS_RUN;
}
