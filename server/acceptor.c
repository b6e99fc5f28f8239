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
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <wakeful/clock.h>

/* Accepts per readiness: bounds the time between two looks at the other descriptors (the
 * signalfd among them).  Also one dispatch batch. */
#define ACCEPT_BATCH DISPATCH_BATCH_MAX
#define PAUSE_MIN_MS 10u
#define PAUSE_MAX_MS 100u

enum { TAG_LISTENER = 1, TAG_WATCH, TAG_POKE, TAG_STOP };

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
                  struct conn_limit *limit, int lfd, int watch_fd, acceptor_watch_fn watch_fn,
                  void *watch_arg)
{
    memset(a, 0, sizeof *a);
    a->opt = opt;
    a->dispatch = d;
    a->limit = limit;
    a->lfd = lfd;
    a->watch_fd = watch_fd;
    a->watch_fn = watch_fn;
    a->watch_arg = watch_arg;
    a->backoff_ms = PAUSE_MIN_MS;
    a->stop_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->stop_fd < 0 || a->epfd < 0)
        return -errno;
    int r = epoll_add(a->epfd, a->stop_fd, TAG_STOP);
    if (r == 0)
        r = epoll_add(a->epfd, limit->poke_fd, TAG_POKE);
    if (r == 0 && watch_fd >= 0)
        r = epoll_add(a->epfd, watch_fd, TAG_WATCH);
    if (r == 0)
        listener_sync(a);
    if (r == 0 && !a->in_epoll)
        r = -EINVAL;
    return r;
}

void acceptor_request_stop(struct acceptor *a)
{
    uint64_t one = 1;
    ssize_t r = write(a->stop_fd, &one, sizeof one);
    (void)r; /* EAGAIN only when the counter is about to overflow: readable already */
}

/* accept4 failed for lack of descriptors or memory: stop accepting for a while. */
static void pause_for_fds(struct acceptor *a, int err)
{
    if (a->backoff_ms == PAUSE_MIN_MS && a->opt->verbosity >= VERBOSITY_NORMAL)
        fprintf(stderr, "wakeful-server: accept: %s; pausing accepts (%u..%u ms) until "
                        "descriptors are free\n",
                strerror(err), PAUSE_MIN_MS, PAUSE_MAX_MS);
    count(&a->fd_pauses);
    a->pause_until = wk_now_ns() + a->backoff_ms * WK_NSEC_PER_MSEC;
    a->backoff_ms = a->backoff_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : a->backoff_ms * 2;
    listener_sync(a);
}

static void accept_batch(struct acceptor *a)
{
    struct dispatch_rec recs[ACCEPT_BATCH];
    size_t n = 0;

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

int acceptor_run(struct acceptor *a)
{
    struct epoll_event evs[4];

    for (;;) {
        int timeout = -1;
        if (a->pause_until != 0) {
            uint64_t now = wk_now_ns();
            if (now >= a->pause_until) {
                a->pause_until = 0;
                listener_sync(a);
            } else {
                /* Rounded up: waking a little early would only pause again. */
                timeout = (int)((a->pause_until - now + WK_NSEC_PER_MSEC - 1) /
                                WK_NSEC_PER_MSEC);
            }
        }
        int n = epoll_wait(a->epfd, evs, (int)(sizeof evs / sizeof evs[0]), timeout);
        if (n < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        for (int i = 0; i < n; i++) {
            switch (evs[i].data.u32) {
            case TAG_LISTENER:
                if (a->in_epoll)
                    accept_batch(a);
                break;
            case TAG_POKE:
                limit_clear_poke(a->limit);
                if (a->full && !limit_full(a->limit)) {
                    a->full = 0;
                    listener_sync(a);
                }
                break;
            case TAG_WATCH:
                a->watch_fn(a->watch_arg);
                break;
            case TAG_STOP: {
                uint64_t count;
                ssize_t r = read(a->stop_fd, &count, sizeof count);
                (void)r;
                return 0;
            }
            default:
                break;
            }
        }
    }
}

void acceptor_stop_listening(struct acceptor *a)
{
    if (a->lfd < 0)
        return;
    if (a->in_epoll)
        epoll_ctl(a->epfd, EPOLL_CTL_DEL, a->lfd, NULL);
    a->in_epoll = 0;
    close(a->lfd);
    a->lfd = -1;
}

void acceptor_free(struct acceptor *a)
{
    acceptor_stop_listening(a);
    if (a->epfd >= 0)
        close(a->epfd);
    if (a->stop_fd >= 0)
        close(a->stop_fd);
    a->epfd = a->stop_fd = -1;
}
