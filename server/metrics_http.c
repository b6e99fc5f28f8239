/* server/metrics_http.c: see metrics_http.h.
 *
 * The thread runs wk_block_on(accept loop).  The accept loop is a hand-written future over
 * two descriptors, the listener and the stop eventfd, both edge-triggered wk_io: each poll
 * reads the eventfd (READY when written), accepts up to ACCEPT_BATCH connections and
 * spawns a task for each, and waits on both only after both answered EAGAIN.  A connection
 * task is a coroutine: read the head (wk_tcp_recv_some, against the connection's absolute
 * deadline), parse it, render, send head and body in one sendmsg
 * (wk_tcp_send_all_pair), shut down the write side, read and discard until EOF, close. */
#include "metrics_http.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <sys/socket.h>
#include <unistd.h>

#include "cli.h"
#include "log.h"
#include <wakeful/errors.h>
#include <wakeful/clock.h>
#include <wakeful/coro.h>
#include <wakeful/executor.h>
#include <wakeful/io.h>
#include <wakeful/tcp.h>
#include <wakeful/timer.h>

/* Accepts per poll of the accept loop: with at most METRICS_HTTP_MAX_CONNS served, more
 * than that per pass would only be closed; the rest waits for the next pass. */
#define ACCEPT_BATCH 16
/* After EMFILE/ENFILE (the server's connections have the descriptors), the accept loop
 * waits this long before it tries again: the pending scrapes wait in the backlog. */
#define ACCEPT_PAUSE_MS 100
/* The listen backlog: a handful of scrapers, and connections over the cap are closed at
 * once anyway. */
#define LISTEN_BACKLOG 64
/* Bytes read and discarded after the response while waiting for the client's EOF: a client
 * that keeps sending is cut off past this (or the deadline). */
#define LINGER_MAX (64u * 1024u)

#define CONTENT_TYPE_METRICS "text/plain; version=0.0.4; charset=utf-8"

struct metrics_http {
    int lfd;                     /* the listener (owned) */
    int stop_fd;                 /* eventfd: written by metrics_http_stop (owned) */
    wk_executor *ex;             /* made by start, driven and freed by the thread */
    pthread_t thread;
    metrics_render_fn render;
    void *render_arg;
    struct sockaddr_storage addr; /* listened on, with the real port */
    /* The thread's own (the accept loop and the connection tasks run on it alone): */
    unsigned live;               /* connection tasks alive, <= METRICS_HTTP_MAX_CONNS */
    uint64_t connections;        /* accepted and served */
    uint64_t rejected;           /* closed at once: over the cap */
    uint64_t timeouts;           /* closed at the deadline before a whole head came */
    uint64_t bad_requests;       /* answered 400 */
};

/* ---- the request parser -------------------------------------------------------------- */

/* RFC 9110 section 5.6.2: tchar. */
static int is_tchar(unsigned char c)
{
    if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
        return 1;
    return c != '\0' && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* A byte that may stand in a request-target: visible ASCII (RFC 3986's characters are a
 * subset; the path is compared, not decoded). */
static int is_vchar(unsigned char c)
{
    return c > 0x20 && c < 0x7f;
}

/* Checks a prefix of the request line (no line end in it): every byte so far fits
 * "METHOD SP TARGET SP HTTP/d.d".  1 when it may still be valid. */
static int request_line_prefix_ok(const char *s, size_t n)
{
    int part = 0; /* 0 method, 1 target, 2 version */
    size_t start = 0;
    static const char version[] = "HTTP/1.";
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == ' ') {
            if (i == start || part == 2)
                return 0;
            part++;
            start = i + 1;
            continue;
        }
        if (part == 0 && !is_tchar(c))
            return 0;
        if (part == 1 && !is_vchar(c))
            return 0;
        if (part == 2) {
            size_t k = i - start;
            if (k < sizeof version - 1 ? c != (unsigned char)version[k]
                                       : (k > sizeof version - 1 || c < '0' || c > '9'))
                return 0;
        }
    }
    return 1;
}

/* The length of the line starting at s (up to its LF, which is not counted, nor a CR
 * before it), or -1 when there is no LF in [s, end). */
static long line_len(const char *s, const char *end, const char **next)
{
    const char *lf = memchr(s, '\n', (size_t)(end - s));
    if (lf == NULL)
        return -1;
    *next = lf + 1;
    const char *e = lf;
    if (e > s && e[-1] == '\r')
        e--;
    return e - s;
}

/* A header field line, RFC 9112 section 5: a token, a colon right after it (whitespace
 * before the colon is refused, as section 5.1 says), then a value of visible characters,
 * spaces and tabs (obs-text, bytes 0x80-0xFF, allowed).  A line starting with whitespace
 * (obsolete line folding) is refused, as section 5.2 allows. */
static int header_line_ok(const char *s, size_t n)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)s[i]))
        i++;
    if (i == 0 || i == n || s[i] != ':')
        return 0;
    for (i++; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c < 0x20 && c != '\t')
            return 0;
        if (c == 0x7f)
            return 0;
    }
    return 1;
}

enum metrics_http_verdict metrics_http_parse(const char *buf, size_t len, size_t max,
                                             int *head_only)
{
    const char *end = buf + len;
    const char *p;
    *head_only = 0;

    long n = line_len(buf, end, &p);
    if (n < 0) {
        /* The request line is not complete: refuse it now if it is already wrong. */
        size_t have = len;
        if (have > 0 && buf[have - 1] == '\r')
            have--;
        if (!request_line_prefix_ok(buf, have) || memchr(buf, '\r', have) != NULL)
            return MH_BAD_REQUEST;
        return len >= max ? MH_BAD_REQUEST : MH_NEED_MORE;
    }
    if (!request_line_prefix_ok(buf, (size_t)n) || memchr(buf, '\r', (size_t)n) != NULL)
        return MH_BAD_REQUEST;
    /* Complete: exactly two spaces and a whole version ("HTTP/1.x" is 8 bytes). */
    const char *sp1 = memchr(buf, ' ', (size_t)n);
    const char *sp2 = sp1 ? memchr(sp1 + 1, ' ', (size_t)(buf + n - sp1 - 1)) : NULL;
    if (sp1 == NULL || sp2 == NULL || buf + n - (sp2 + 1) != 8)
        return MH_BAD_REQUEST;

    /* The headers, up to the empty line. */
    for (;;) {
        const char *next;
        long hn = line_len(p, end, &next);
        if (hn < 0)
            return len >= max ? MH_BAD_REQUEST : MH_NEED_MORE;
        if (hn == 0)
            break;
        if (!header_line_ok(p, (size_t)hn) || memchr(p, '\r', (size_t)hn) != NULL)
            return MH_BAD_REQUEST;
        p = next;
    }

    size_t mlen = (size_t)(sp1 - buf);
    const char *target = sp1 + 1;
    size_t tlen = (size_t)(sp2 - target);
    int known = 0;
    if (mlen == 3 && memcmp(buf, "GET", 3) == 0)
        known = 1;
    else if (mlen == 4 && memcmp(buf, "HEAD", 4) == 0)
        known = *head_only = 1;
    if (!known)
        return MH_BAD_METHOD;
    static const char path[] = "/metrics";
    size_t plen = sizeof path - 1;
    if (tlen >= plen && memcmp(target, path, plen) == 0 &&
        (tlen == plen || target[plen] == '?'))
        return MH_METRICS;
    return MH_NOT_FOUND;
}

int metrics_parse_addr(const char *spec, struct sockaddr_storage *addr, socklen_t *len)
{
    const char *colon = strrchr(spec, ':');
    if (colon == NULL || colon == spec || colon[1] == '\0')
        return -EINVAL;
    size_t hlen = (size_t)(colon - spec);
    char host[64];
    if (hlen >= sizeof host)
        return -EINVAL;
    memcpy(host, spec, hlen);
    host[hlen] = '\0';
    /* An IPv6 literal must come in brackets: "::1:9100" is ambiguous. */
    if (strchr(host, ':') != NULL && host[0] != '[')
        return -EINVAL;
    uint64_t port;
    if (cli_parse_u64(colon + 1, 0, 65535, &port) != 0)
        return -EINVAL;
    return wk_sockaddr_parse(host, (uint16_t)port, addr, len) == 0 ? 0 : -EINVAL;
}

/* ---- one connection ------------------------------------------------------------------ */

/* Which member of the union is live. */
enum mconn_phase { MC_NONE, MC_RECV, MC_SEND };

struct mconn {
    wk_future base;
    int co;
    int phase;                 /* an enum mconn_phase */
    struct metrics_http *m;
    wk_io io;                  /* the socket */
    uint64_t deadline;         /* accept + METRICS_HTTP_DEADLINE_MS, absolute */
    char *head;                /* METRICS_HTTP_HEAD_MAX bytes, malloc'd at spawn (owned) */
    size_t len;                /* bytes of head received */
    size_t discarded;          /* bytes read after the response */
    struct mtext body;         /* the response body (owned) */
    char status[256];          /* the response's status line and headers */
    union {
        wk_tcp_recv_some recv;
        wk_tcp_send_all send;
    } u;
};

static void mconn_phase_end(struct mconn *c)
{
    if (c->phase == MC_RECV)
        wk_future_drop(&c->u.recv.base);
    else if (c->phase == MC_SEND)
        wk_future_drop(&c->u.send.base);
    c->phase = MC_NONE;
}

/* Releases everything; the connection is gone.  Idempotent (io.fd -1 afterwards). */
static void mconn_close(struct mconn *c)
{
    if (c->io.fd < 0)
        return;
    mconn_phase_end(c);
    wk_io_close(&c->io);
    free(c->head);
    c->head = NULL;
    mtext_free(&c->body);
    c->m->live--;
}

static void mconn_drop(wk_future *f)
{
    mconn_close((struct mconn *)f);
}

/* Builds the status line and headers into c->status, the body into c->body. */
static void mconn_respond(struct mconn *c, enum metrics_http_verdict v, int head_only)
{
    const char *status, *type = "text/plain; charset=utf-8", *extra = "";
    switch (v) {
    case MH_METRICS:
        status = "200 OK";
        type = CONTENT_TYPE_METRICS;
        c->m->render(c->m->render_arg, &c->body);
        if (!c->body.oom) {
            /* The endpoint's own figures, after the server's. */
            metrics_counter(&c->body, "wakeful_metrics_connections_total",
                            "Connections to this metrics endpoint, served.",
                            c->m->connections);
            metrics_counter(&c->body, "wakeful_metrics_rejected_total",
                            "Connections to this metrics endpoint closed at once: too many "
                            "open.", c->m->rejected);
            metrics_counter(&c->body, "wakeful_metrics_timeouts_total",
                            "Connections to this metrics endpoint closed at the deadline "
                            "before a whole request came.", c->m->timeouts);
            metrics_counter(&c->body, "wakeful_metrics_bad_requests_total",
                            "Requests to this metrics endpoint answered 400.",
                            c->m->bad_requests);
        }
        if (c->body.oom) {
            mtext_free(&c->body);
            status = "500 Internal Server Error";
            type = "text/plain; charset=utf-8";
            mtext_printf(&c->body, "out of memory\n");
        }
        break;
    case MH_NOT_FOUND:
        status = "404 Not Found";
        mtext_printf(&c->body, "not found: the metrics are at /metrics\n");
        break;
    case MH_BAD_METHOD:
        status = "405 Method Not Allowed";
        extra = "Allow: GET, HEAD\r\n";
        mtext_printf(&c->body, "method not allowed\n");
        break;
    default:
        status = "400 Bad Request";
        c->m->bad_requests++;
        mtext_printf(&c->body, "bad request\n");
        break;
    }
    snprintf(c->status, sizeof c->status,
             "HTTP/1.1 %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n%s"
             "Connection: close\r\n\r\n",
             status, type, c->body.len, extra);
    if (head_only)
        mtext_free(&c->body);
}

static wk_poll mconn_poll(wk_future *f, wk_context *cx)
{
    struct mconn *c = (struct mconn *)f;
    enum metrics_http_verdict v = MH_NEED_MORE;
    int head_only = 0;

    WK_CO_BEGIN(c->co);

    /* The head, before the deadline. */
    for (;;) {
        c->phase = MC_RECV;
        wk_tcp_recv_some_init(&c->u.recv, &c->io, c->head + c->len,
                              METRICS_HTTP_HEAD_MAX - c->len, c->deadline);
        WK_CO_AWAIT(c->co, &c->u.recv, cx);
        mconn_phase_end(c);
        if (c->u.recv.result <= 0) {
            /* EOF, reset or the deadline: nobody to answer. */
            if (c->u.recv.result == -ETIMEDOUT)
                c->m->timeouts++;
            mconn_close(c);
            WK_CO_RETURN(c->co);
        }
        c->len += (size_t)c->u.recv.result;
        v = metrics_http_parse(c->head, c->len, METRICS_HTTP_HEAD_MAX, &head_only);
        if (v != MH_NEED_MORE)
            break;
    }

    mconn_respond(c, v, head_only);
    c->phase = MC_SEND;
    wk_tcp_send_all_pair_init(&c->u.send, &c->io, c->status, strlen(c->status),
                          c->body.len ? c->body.buf : NULL, c->body.len, c->deadline);
    WK_CO_AWAIT(c->co, &c->u.send, cx);
    mconn_phase_end(c);
    if (c->u.send.result < 0) {
        mconn_close(c);
        WK_CO_RETURN(c->co);
    }
    mtext_free(&c->body);

    /* Lingering close: end our side, then read what the client still sends until it
     * closes, so the close never meets unread input (which would make it a reset). */
    shutdown(c->io.fd, SHUT_WR);
    while (c->discarded < LINGER_MAX) {
        c->phase = MC_RECV;
        wk_tcp_recv_some_init(&c->u.recv, &c->io, c->head, METRICS_HTTP_HEAD_MAX,
                              c->deadline);
        WK_CO_AWAIT(c->co, &c->u.recv, cx);
        mconn_phase_end(c);
        if (c->u.recv.result <= 0)
            break;
        c->discarded += (size_t)c->u.recv.result;
    }
    mconn_close(c);

    WK_CO_END(c->co);
}

/* Spawns the task for an accepted connection; on failure closes it. */
static void mconn_spawn(struct metrics_http *m, wk_executor *ex, int fd)
{
    struct mconn c;
    memset(&c, 0, sizeof c);
    c.base.poll = mconn_poll;
    c.base.drop = mconn_drop;
    c.m = m;
    wk_io_init(&c.io, fd);
    c.deadline = wk_deadline_in_ms(METRICS_HTTP_DEADLINE_MS);
    mtext_init(&c.body);
    c.head = malloc(METRICS_HTTP_HEAD_MAX);
    if (c.head == NULL || WK_SPAWN_DETACHED(ex, struct mconn, &c) < 0) {
        free(c.head);
        close(fd);
        return;
    }
    m->live++;
    m->connections++;
}

/* ---- the accept loop ----------------------------------------------------------------- */

struct accept_loop {
    wk_future base;
    struct metrics_http *m;
    wk_executor *ex;
    wk_io listener;            /* m->lfd, released (not closed) at the end */
    wk_io stop;                /* m->stop_fd, likewise */
    wk_timer pause;            /* armed while accepts are paused for EMFILE */
    uint64_t pause_until;      /* 0: not paused */
};

static wk_poll accept_loop_poll(wk_future *f, wk_context *cx)
{
    struct accept_loop *a = (struct accept_loop *)f;
    struct metrics_http *m = a->m;

    uint64_t count;
    if (read(a->stop.fd, &count, sizeof count) == (ssize_t)sizeof count)
        return WK_READY;

    if (a->pause_until != 0) {
        if (wk_now_ns() < a->pause_until) {
            int r = wk_timer_arm(&a->pause, cx, a->pause_until);
            if (r == 0)
                r = wk_io_wait(&a->stop, cx, WK_IO_READ);
            return r == 0 ? WK_PENDING : WK_READY;
        }
        a->pause_until = 0;
        wk_timer_disarm(&a->pause);
    }

    int drained = 0;
    for (int i = 0; i < ACCEPT_BATCH && !drained; i++) {
        int fd = accept4(a->listener.fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            int e = errno;
            if (e == EAGAIN || e == EWOULDBLOCK) {
                drained = 1;
                break;
            }
            if (e == EINTR || e == ECONNABORTED || e == EPROTO)
                continue;
            /* EMFILE, ENFILE, ENOBUFS, ENOMEM or worse: try again later, never spin. */
            a->pause_until = wk_deadline_in_ms(ACCEPT_PAUSE_MS);
            wk_waker_wake_by_ref(cx->waker);
            return WK_PENDING;
        }
        if (m->live >= METRICS_HTTP_MAX_CONNS) {
            close(fd);
            m->rejected++;
            continue;
        }
        mconn_spawn(m, a->ex, fd);
    }
    if (!drained) {
        /* The batch is spent before accept4 said EAGAIN, so no new edge may come: let the
         * connections run, and come back after them. */
        wk_waker_wake_by_ref(cx->waker);
        return WK_PENDING;
    }
    int r = wk_io_wait(&a->listener, cx, WK_IO_READ);
    if (r == 0)
        r = wk_io_wait(&a->stop, cx, WK_IO_READ);
    /* Registration failing (ENOMEM from epoll_ctl) leaves no way to be woken: stop
     * serving rather than hang or spin. */
    return r == 0 ? WK_PENDING : WK_READY;
}

static void *metrics_thread(void *arg)
{
    struct metrics_http *m = arg;
    struct accept_loop a;
    memset(&a, 0, sizeof a);
    a.base.poll = accept_loop_poll;
    a.m = m;
    a.ex = m->ex;
    wk_io_init(&a.listener, m->lfd);
    wk_io_init(&a.stop, m->stop_fd);
    wk_timer_init(&a.pause);

    int r = wk_block_on(m->ex, &a.base);
    if (r < 0)
        log_line(LOG_LEVEL_ERROR, LOG_NO_WORKER, LOG_NO_CONN,
                 "metrics: the executor failed (%s); no more scrapes are answered",
                 wk_strerror(r));
    wk_timer_disarm(&a.pause);
    wk_io_release(&a.listener);
    wk_io_release(&a.stop);
    /* Drops the connections still open (closing them). */
    wk_executor_free(m->ex);
    m->ex = NULL;
    return NULL;
}

int metrics_http_start(struct metrics_http **out, const struct sockaddr *addr, socklen_t len,
                       metrics_render_fn render, void *arg)
{
    struct metrics_http *m = calloc(1, sizeof *m);
    if (m == NULL)
        return -ENOMEM;
    m->render = render;
    m->render_arg = arg;
    m->stop_fd = -1;
    int r;
    m->lfd = wk_tcp_listen(addr, len, LISTEN_BACKLOG);
    if (m->lfd < 0) {
        r = m->lfd;
        goto fail;
    }
    socklen_t alen = sizeof m->addr;
    if (getsockname(m->lfd, (struct sockaddr *)&m->addr, &alen) != 0) {
        r = -errno;
        goto fail;
    }
    m->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (m->stop_fd < 0) {
        r = -errno;
        goto fail;
    }
    r = wk_executor_new(&m->ex);
    if (r < 0)
        goto fail;
    r = -pthread_create(&m->thread, NULL, metrics_thread, m);
    if (r < 0) {
        wk_executor_free(m->ex);
        goto fail;
    }
    pthread_setname_np(m->thread, "wk-metrics");
    *out = m;
    return 0;

fail:
    if (m->lfd >= 0)
        close(m->lfd);
    if (m->stop_fd >= 0)
        close(m->stop_fd);
    free(m);
    return r;
}

void metrics_http_address(const struct metrics_http *m, char *buf, size_t size)
{
    wk_sockaddr_format((const struct sockaddr *)&m->addr, buf, size);
}

void metrics_http_stop(struct metrics_http *m)
{
    if (m == NULL)
        return;
    uint64_t one = 1;
    ssize_t w = write(m->stop_fd, &one, sizeof one);
    (void)w; /* EAGAIN only when the counter would overflow: readable anyway */
    pthread_join(m->thread, NULL);
    close(m->lfd);
    close(m->stop_fd);
    free(m);
}
