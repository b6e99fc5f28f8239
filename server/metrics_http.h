/* server/metrics_http.h: the /metrics endpoint, a small HTTP/1.1 server on its own thread.
 *
 * Which executor serves it: a dedicated thread ("wk-metrics") that drives a wakeful
 * executor of its own, wk_block_on of an accept loop that spawns one task per connection.
 * Not the acceptor's loop (a plain epoll loop that must never wait on a slow scraper, and
 * whose latency is the server's), not a worker's executor (a scrape would then be served
 * between the worker's connections and could hold up their replies): a scrape, however slow
 * its client, costs the server's threads nothing but the relaxed loads of the render.  The
 * thread sleeps in epoll when nobody scrapes.
 *
 * What it answers (one request per connection; every response says `Connection: close`):
 *  - `GET /metrics` (a query string, `/metrics?...`, is ignored): 200, `Content-Type:
 *    text/plain; version=0.0.4; charset=utf-8`, the body the render callback wrote;
 *    `HEAD /metrics`: the same head, no body;
 *  - any other path: 404; another method: 405 with `Allow: GET, HEAD`;
 *  - a malformed request line or header, or a head over METRICS_HTTP_HEAD_MAX bytes: 400,
 *    then close.
 * Limits, so that no client can hold it up or run it out of memory:
 *  - METRICS_HTTP_MAX_CONNS connections at once; past it a new connection is closed at
 *    once (and counted);
 *  - an absolute deadline, METRICS_HTTP_DEADLINE_MS from the accept, for the whole
 *    exchange: a silent or trickling client is closed when it passes;
 *  - a head of at most METRICS_HTTP_HEAD_MAX bytes; a body is never read.
 * After the response the socket's write side is shut down and what the client still sends
 * is read and discarded until it closes (or the deadline), so that unread input never
 * turns the close into a reset that could destroy the response in the client's kernel. */
#ifndef WAKEFUL_SERVER_METRICS_HTTP_H
#define WAKEFUL_SERVER_METRICS_HTTP_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "metrics.h"

/* Connections served at once: a Prometheus server scrapes one at a time; 16 leaves room
 * for several scrapers and a curl or two, and bounds the thread's memory (a head buffer
 * and a rendered body each, about 20 KiB) to a few hundred KiB. */
#define METRICS_HTTP_MAX_CONNS 16
/* The whole exchange, from the accept: a scrape on loopback takes a millisecond;
 * Prometheus's default scrape timeout is 10 s, its typical one a few seconds. */
#define METRICS_HTTP_DEADLINE_MS 5000
/* The request head (request line and headers): Prometheus sends about 300 bytes; 8 KiB is
 * what nginx's large_client_header_buffers allows per line, and more than any scraper. */
#define METRICS_HTTP_HEAD_MAX 8192

/* Writes the exposition text into out (empty, owned by the caller).  Runs on the metrics
 * thread, once per scrape: it must not block, and may read the server's counters only
 * with atomic loads (never a lock a worker holds). */
typedef void (*metrics_render_fn)(void *arg, struct mtext *out);

struct metrics_http;

/* Parses "ADDR:PORT" as --metrics takes it: an IPv4 literal ("127.0.0.1:9100") or an IPv6
 * literal in brackets ("[::1]:0"); the port 0..65535 (0: the kernel picks one).  Returns 0
 * or -EINVAL. */
int metrics_parse_addr(const char *spec, struct sockaddr_storage *addr, socklen_t *len);

/* Binds and listens on addr (SO_REUSEADDR, no TCP_DEFER_ACCEPT), creates the executor and
 * starts the thread, which from then on answers scrapes by calling render(arg, ...).  The
 * caller's signal mask is inherited: block the process's signals before.  Returns 0 and
 * *out, or -errno (nothing left behind). */
int metrics_http_start(struct metrics_http **out, const struct sockaddr *addr, socklen_t len,
                       metrics_render_fn render, void *arg);

/* The address listened on, with the real port, as "127.0.0.1:PORT" or "[::1]:PORT"
 * (buf: at least 64 bytes). */
void metrics_http_address(const struct metrics_http *m, char *buf, size_t size);

/* Stops the thread (an eventfd its accept loop watches), joins it (its executor drops the
 * connections still open, which closes them), closes the listener and frees m.  NULL-safe.
 * Not thread-safe: one caller, once. */
void metrics_http_stop(struct metrics_http *m);

/* ---- the request parser (exposed for the unit test) --------------------------------- */

enum metrics_http_verdict {
    MH_NEED_MORE = 0,   /* the head is not complete, and nothing is wrong so far */
    MH_METRICS,         /* GET or HEAD /metrics: 200 */
    MH_NOT_FOUND,       /* GET or HEAD, another path: 404 */
    MH_BAD_METHOD,      /* a well-formed request with another method: 405 */
    MH_BAD_REQUEST,     /* malformed, not HTTP/1.x, or the head is over max: 400 */
};

/* Looks at the first len bytes a client sent (len <= max).  The head ends at the first
 * empty line (CRLF CRLF; a bare LF is taken as a line end too, as RFC 9112 section 2.2
 * allows).  A request line that is already wrong when its first bytes are in is refused
 * at once, before the head is complete, so that garbage gets its 400 without waiting for
 * the deadline.  *head_only is set for HEAD.  Pure: thread-safe. */
enum metrics_http_verdict metrics_http_parse(const char *buf, size_t len, size_t max,
                                             int *head_only);

#endif
