/* server/acceptor.c: see acceptor.h.
 *
 * The listener is level-triggered: a batch that stops at its bound leaves the rest to the
 * next epoll_wait, which returns at once.  It leaves the epoll set (and the loop sleeps)
 * in two cases:
 *  - --max-connections reached: until a worker's close brings the count back under it
 *    (the eventfd); the new connections wait in the listen backlog meanwhile;
 *  - accept failed with EMFILE/ENFILE (or ENOBUFS/ENOMEM): for 10 ms, doubling up to
 *    100 ms while it keeps failing (the epoll_wait timeout).  Descriptors come back when
 *    connections close; until then the pending connections wait in the backlog.  The
 *    alternative, libuv's reserve descriptor (close a spare, accept, close at once, reopen
 *    the spare), drops the connection instead; waiting keeps it, at the price of up to
 *    100 ms of delay, and never spins either way. */
#include "acceptor.h"

#include <errno.h>
#include <poll.h>
#include <string.h>
#include <sys/epoll.h>
#include <unistd.h>

#include <wakeful/clock.h>

#include "log.h"
#include "notify.h"

/* Accepts per readiness: bounds the time between two looks at the other descriptors (the
 * signalfd among them).  Also one dispatch batch. */
#define ACCEPT_BATCH DISPATCH_BATCH_MAX
#define PAUSE_MIN_MS 10u
#define PAUSE_MAX_MS 100u

/* epoll data: the listener, the limit's eventfd, or watch i as TAG_WATCH + i. */
enum { TAG_LISTENER = 1, TAG_POKE, TAG_WATCH };

/* Counts one event: the acceptor is the only writer, others may read. */
static void count(AO_t *c)
{
    AO_store(c, AO_load(c) + 1);
}

static int epoll_add(int epfd, int fd, uint32_t tag)
{
    struct epoll_event ev;
    memset(&ev, 0, sizeof ev);
    ev.events = EPOLLIN;
    ev.data.u32 = tag;
    return epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &ev) == 0 ? 0 : -errno;
}

/* Puts the listener in the epoll set or takes it out, as the pauses say. */
static void listener_sync(struct acceptor *a)
{
    int want = a->lfd >= 0 && !a->full && a->pause_until == 0;
    if (want == a->in_epoll)
        return;
    if (want) {
        if (epoll_add(a->epfd, a->lfd, TAG_LISTENER) < 0)
            return; /* stays out; the next sync tries again */
    } else {
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
    }
    a->in_epoll = want;
}

int acceptor_init(struct acceptor *a, const struct server_options *opt, struct dispatch *d,
                  struct conn_limit *limit, int lfd)
{
    memset(a, 0, sizeof *a);
    a->opt = opt;
    a->dispatch = d;
    a->limit = limit;
    a->lfd = lfd;
    a->backoff_ms = PAUSE_MIN_MS;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0)
        return -errno;
    int r = epoll_add(a->epfd, limit->poke_fd, TAG_POKE);
    if (r == 0)
        listener_sync(a);
    if (r == 0 && !a->in_epoll)
        r = -EINVAL;
    return r;
}

int acceptor_watch(struct acceptor *a, int fd, acceptor_fn fn, void *arg)
{
    if (a->nwatches == ACCEPTOR_WATCH_MAX)
        return -ENOSPC;
    int r = epoll_add(a->epfd, fd, TAG_WATCH + a->nwatches);
    if (r < 0)
        return r;
    a->watches[a->nwatches++] = (struct acceptor_watch){.fd = fd, .fn = fn, .arg = arg};
    return 0;
}

void acceptor_watch_pause(struct acceptor *a, int fd, unsigned ms)
{
    for (unsigned i = 0; i < a->nwatches; i++) {
        struct acceptor_watch *w = &a->watches[i];
        if (w->fd != fd || w->resume_at != 0)
            continue;
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, fd, NULL);
        w->resume_at = wk_now_ns() + (uint64_t)ms * WK_NSEC_PER_MSEC;
        return;
    }
}

/* Puts back the watches whose pause is over (one that cannot be put back, for lack of
 * memory, tries again PAUSE_MAX_MS later). */
static void resume_watches(struct acceptor *a, uint64_t now)
{
    for (unsigned i = 0; i < a->nwatches; i++) {
        struct acceptor_watch *w = &a->watches[i];
        if (w->resume_at == 0 || now < w->resume_at)
            continue;
        w->resume_at = epoll_add(a->epfd, w->fd, TAG_WATCH + i) == 0
                           ? 0
                           : now + PAUSE_MAX_MS * WK_NSEC_PER_MSEC;
    }
}

void acceptor_set_timer(struct acceptor *a, uint64_t at, acceptor_fn fn, void *arg)
{
    a->timer_at = at;
    a->timer_fn = fn;
    a->timer_arg = arg;
}

void acceptor_quit(struct acceptor *a)
{
    a->quit = 1;
}

/* Closes the listening socket: the kernel refuses new connections from now on (and resets
 * those it had not queued yet; with SO_REUSEPORT and net.ipv4.tcp_migrate_req=1 it hands
 * them to a sibling instead).  While closing, tells the owner. */
static void close_listener(struct acceptor *a)
{
    if (a->lfd < 0)
        return;
    if (a->in_epoll)
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
    a->in_epoll = 0;
    close(a->lfd);
    a->lfd = -1;
    if (a->closing && a->closed_fn != NULL)
        a->closed_fn(a->closed_arg);
}

/* The kernel has no connection queued for us: poll says the listener is not readable. */
static int queue_empty(const struct acceptor *a)
{
    struct pollfd pfd = {.fd = a->lfd, .events = POLLIN};
    int r;
    do
        r = poll(&pfd, 1, 0);
    while (r < 0 && errno == EINTR);
    return r == 0;
}

/* accept4 failed for lack of descriptors or memory: stop accepting for a while. */
static void pause_for_fds(struct acceptor *a, int err)
{
    if (a->backoff_ms == PAUSE_MIN_MS && a->opt->verbosity >= VERBOSITY_NORMAL)
        log_line(LOG_LEVEL_WARN, LOG_NO_WORKER, LOG_NO_CONN,
                 "accept: %s; pausing accepts (%u..%u ms) until descriptors are free",
                 strerror(err), PAUSE_MIN_MS, PAUSE_MAX_MS);
    count(&a->fd_pauses);
    a->pause_until = wk_now_ns() + a->backoff_ms * WK_NSEC_PER_MSEC;
    a->backoff_ms = a->backoff_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : a->backoff_ms * 2;
    listener_sync(a);
}

/* Accepts up to ACCEPT_BATCH connections and hands them out.  Returns 1 when accept4
 * answered EAGAIN (the kernel's queue is empty), else 0. */
static int accept_batch(struct acceptor *a)
{
    struct dispatch_rec recs[ACCEPT_BATCH];
    size_t n = 0;
    int empty = 0;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (limit_full(a->limit)) {
            /* Workers poke the eventfd when a close crosses back under the limit. */
            a->full = 1;
            count(&a->limit_pauses);
            listener_sync(a);
            goto flush;
        }
        struct sockaddr_storage peer;
        socklen_t peer_len = sizeof peer;
        int fd = accept4(a->lfd, (struct sockaddr *)&peer, &peer_len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            switch (errno) {
            case EAGAIN:
#if EWOULDBLOCK != EAGAIN
            case EWOULDBLOCK:
#endif
                empty = 1;
                goto flush;
            case EMFILE:
            case ENFILE:
            case ENOBUFS:
            case ENOMEM:
                pause_for_fds(a, errno);
                goto flush;
            case EINTR:
            case ECONNABORTED:
            /* accept(2): Linux passes errors already pending on the new connection to
             * accept; they concern that connection only, the next one may be fine. */
            case EPROTO:
            case EPERM:
            case ENETDOWN:
            case ENOPROTOOPT:
            case EHOSTDOWN:
            case ENONET:
            case EHOSTUNREACH:
            case EOPNOTSUPP:
            case ENETUNREACH:
                continue;
            default:
                /* Unexpected: back off like EMFILE rather than risk spinning on it. */
                pause_for_fds(a, errno);
                goto flush;
            }
        }
        a->backoff_ms = PAUSE_MIN_MS;
        count(&a->accepted);
        limit_take(a->limit);
        dispatch_rec_fill(a->dispatch, &recs[n++], fd, &peer, peer_len);
    }
flush:;
    /* Every pipe full: those connections were closed; their slots come back. */
    size_t dropped = dispatch_batch(a->dispatch, recs, n);
    for (size_t i = 0; i < dropped; i++) {
        count(&a->dropped);
        limit_release(a->limit);
    }
    return empty;
}

/* Closing: close the listener as soon as the kernel's queue is known empty, or at the
 * deadline.  Called after every change that may tell: a batch, a slot freed, a pause over.
 * At the limit the queue is looked at without accepting (poll), so a full server with
 * nothing queued closes at once instead of waiting for a slot. */
static void closing_step(struct acceptor *a)
{
    if (!a->closing || a->lfd < 0)
        return;
    if (wk_now_ns() >= a->close_deadline) {
        close_listener(a);
        return;
    }
    if (a->pause_until != 0)
        return; /* out of descriptors: try again when the pause is over */
    if (a->full) {
        if (queue_empty(a))
            close_listener(a);
        return;
    }
    /* Accept now rather than wait for readiness: an empty queue never becomes readable. */
    if (accept_batch(a))
        close_listener(a);
    else if (a->full && queue_empty(a))
        close_listener(a);
}

void acceptor_close_when_empty(struct acceptor *a, uint64_t deadline, acceptor_fn closed_fn,
                               void *arg)
{
    if (a->closing)
        return;
    a->closing = 1;
    a->close_deadline = deadline;
    a->closed_fn = closed_fn;
    a->closed_arg = arg;
    if (a->lfd < 0) {
        if (closed_fn != NULL)
            closed_fn(arg);
        return;
    }
    closing_step(a);
}

void acceptor_report(const struct acceptor *a, FILE *out)
{
    fprintf(out,
            "acceptor: accepted %llu, dropped %llu (every pipe full), open now %llu of %llu, "
            "pauses %llu at the limit + %llu out of descriptors\n",
            (unsigned long long)AO_load(&a->accepted), (unsigned long long)AO_load(&a->dropped),
            (unsigned long long)limit_live(a->limit), (unsigned long long)a->limit->max,
            (unsigned long long)AO_load(&a->limit_pauses),
            (unsigned long long)AO_load(&a->fd_pauses));
    fflush(out);
}

void acceptor_set_watchdog(struct acceptor *a, uint64_t interval_ns)
{
    a->watchdog_ns = interval_ns;
    a->watchdog_next = interval_ns ? wk_now_ns() : 0;
}

/* The epoll_wait timeout in ms for the nearest of: the EMFILE pause's end, the owner's
 * timer, the closing deadline, the next watchdog heartbeat, a paused watch's end; -1 for
 * none.  Rounded up: waking a little early would only wait again. */
static int next_timeout(const struct acceptor *a, uint64_t now)
{
    uint64_t at = 0;
    if (a->pause_until != 0)
        at = a->pause_until;
    if (a->timer_at != 0 && (at == 0 || a->timer_at < at))
        at = a->timer_at;
    if (a->closing && a->lfd >= 0 && (at == 0 || a->close_deadline < at))
        at = a->close_deadline;
    if (a->watchdog_ns != 0 && (at == 0 || a->watchdog_next < at))
        at = a->watchdog_next;
    for (unsigned i = 0; i < a->nwatches; i++)
        if (a->watches[i].resume_at != 0 && (at == 0 || a->watches[i].resume_at < at))
            at = a->watches[i].resume_at;
    if (at == 0)
        return -1;
    if (at <= now)
        return 0;
    uint64_t ms = (at - now + WK_NSEC_PER_MSEC - 1) / WK_NSEC_PER_MSEC;
    return ms > 1000000 ? 1000000 : (int)ms;
}

int acceptor_run(struct acceptor *a)
{
    struct epoll_event evs[8];

    while (!a->quit) {
        uint64_t now = wk_now_ns();
        if (a->pause_until != 0 && now >= a->pause_until) {
            a->pause_until = 0;
            listener_sync(a);
            closing_step(a);
        }
        resume_watches(a, now);
        if (a->timer_at != 0 && now >= a->timer_at) {
            a->timer_at = 0;
            a->timer_fn(a->timer_arg);
            continue;
        }
        if (a->closing && a->lfd >= 0 && now >= a->close_deadline) {
            close_listener(a);
            continue;
        }
        if (a->watchdog_ns != 0 && now >= a->watchdog_next) {
            /* A lost datagram (-EAGAIN) is made up for by the next one, half an interval
             * later. */
            notify_send("WATCHDOG=1");
            a->watchdog_next = now + a->watchdog_ns;
        }
        int n = epoll_wait(a->epfd, evs, (int)(sizeof evs / sizeof evs[0]),
                           next_timeout(a, now));
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n && !a->quit; i++) {
            uint32_t tag = evs[i].data.u32;
            if (tag == TAG_LISTENER) {
                if (!a->in_epoll)
                    continue; /* taken out by an earlier event of this batch */
                int empty = accept_batch(a);
                if (a->closing && (empty || (a->full && queue_empty(a))))
                    close_listener(a);
            } else if (tag == TAG_POKE) {
                limit_clear_poke(a->limit);
                if (a->full && !limit_full(a->limit)) {
                    a->full = 0;
                    listener_sync(a);
                    closing_step(a);
                }
            } else if (tag >= TAG_WATCH && tag < TAG_WATCH + a->nwatches) {
                struct acceptor_watch *w = &a->watches[tag - TAG_WATCH];
                if (w->resume_at == 0) /* not paused by an earlier event of this batch */
                    w->fn(w->arg);
            }
        }
    }
    return 0;
}

void acceptor_free(struct acceptor *a)
{
    a->closing = 0; /* no callback from here */
    close_listener(a);
    if (a->epfd >= 0)
        close(a->epfd);
    a->epfd = -1;
}
