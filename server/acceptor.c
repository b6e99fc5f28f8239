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
#include <signal.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/errors.h>
#include <wakeful/executor.h>
#include "worker.h"

/* Accepts per readiness: bounds the time between two looks at the signalfd. */
#define ACCEPT_BATCH 64
#define PAUSE_MIN_MS 10u
#define PAUSE_MAX_MS 100u

enum { TAG_LISTENER = 1, TAG_SIGNAL, TAG_POKE };

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

int acceptor_init(struct acceptor *a, struct server *srv, int lfd, int sigfd)
{
    memset(a, 0, sizeof *a);
    a->srv = srv;
    a->lfd = lfd;
    a->sigfd = sigfd;
    a->backoff_ms = PAUSE_MIN_MS;
    a->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (a->epfd < 0)
        return -errno;
    int r = epoll_add(a->epfd, sigfd, TAG_SIGNAL);
    if (r == 0)
        r = epoll_add(a->epfd, srv->poke_fd, TAG_POKE);
    if (r == 0)
        listener_sync(a);
    if (r == 0 && !a->in_epoll)
        r = -EINVAL;
    return r;
}

/* Fills rec for fd (and, with -v, its peer). */
static void make_rec(const struct server *srv, struct dispatch_rec *rec, int fd,
                     const struct sockaddr_storage *peer, socklen_t peer_len)
{
    rec->fd = fd;
    if (srv->rec_size > DISPATCH_REC_SHORT) {
        memset(&rec->peer, 0, sizeof rec->peer);
        rec->peer_len = peer_len < sizeof rec->peer ? peer_len : (uint32_t)sizeof rec->peer;
        memcpy(&rec->peer, peer, rec->peer_len);
    }
}

/* Writes n records, packed, to worker i's pipe in one write; 1 when they went in.  The
 * batch is at most ACCEPT_BATCH records, below PIPE_BUF, so the write is all or nothing. */
static int pipe_put(const struct server *srv, unsigned i, const void *recs, size_t n)
{
    ssize_t r;
    do
        r = write(srv->workers[i].pipe_wr, recs, n * srv->rec_size);
    while (r < 0 && errno == EINTR);
    return r == (ssize_t)(n * srv->rec_size);
}

/* Hands one connection to the next worker round-robin.  A worker whose pipe is full is
 * skipped (it is behind; waiting for it would stall every other worker); when every pipe is
 * full the connection is closed and counted. */
static void dispatch_one(struct acceptor *a, const struct dispatch_rec *rec)
{
    struct server *srv = a->srv;
    for (unsigned k = 0; k < srv->nworkers; k++) {
        unsigned i = (a->next + k) % srv->nworkers;
        if (pipe_put(srv, i, rec, 1)) {
            a->next = (i + 1) % srv->nworkers;
            /* After the write (DESIGN-NOTES §1): a worker that parked before seeing it
             * is woken here; one that is in epoll sees its pipe readable. */
            wk_executor_unpark(srv->workers[i].ex);
            return;
        }
    }
    close(rec->fd);
    a->dropped++;
    server_conn_closed(srv);
}

/* Dispatches a batch of accepted connections round-robin, as dispatch_one would one by one,
 * but with one pipe write and one unpark check per worker instead of one per connection:
 * under a burst, that is what lets a worker take a dozen connections per wake-up.  Worker
 * k of the round (counting from a->next) gets records k, k + N, k + 2N ...; a worker whose
 * pipe turns out to be full gets none, and its records go one by one to the next ones. */
static void dispatch_batch(struct acceptor *a, const struct dispatch_rec *recs, size_t n)
{
    struct server *srv = a->srv;
    unsigned nw = srv->nworkers;
    unsigned first = a->next;
    unsigned char packed[ACCEPT_BATCH * sizeof(struct dispatch_rec)];

    if (n == 0)
        return;
    a->next = (unsigned)((first + n) % nw);
    for (unsigned k = 0; k < nw && k < n; k++) {
        unsigned i = (first + k) % nw;
        size_t m = 0;
        for (size_t j = k; j < n; j += nw)
            memcpy(packed + m++ * srv->rec_size, &recs[j], srv->rec_size);
        if (pipe_put(srv, i, packed, m)) {
            wk_executor_unpark(srv->workers[i].ex);
            continue;
        }
        for (size_t j = k; j < n; j += nw)
            dispatch_one(a, &recs[j]);
    }
}

/* accept4 failed for lack of descriptors or memory: stop accepting for a while. */
static void pause_for_fds(struct acceptor *a, int err)
{
    if (a->backoff_ms == PAUSE_MIN_MS && a->srv->opt->verbosity >= VERBOSITY_NORMAL)
        fprintf(stderr, "wakeful-server: accept: %s; pausing accepts (%u..%u ms) until "
                        "descriptors are free\n",
                strerror(err), PAUSE_MIN_MS, PAUSE_MAX_MS);
    a->fd_pauses++;
    a->pause_until = wk_now_ns() + a->backoff_ms * WK_NSEC_PER_MSEC;
    a->backoff_ms = a->backoff_ms * 2 > PAUSE_MAX_MS ? PAUSE_MAX_MS : a->backoff_ms * 2;
    listener_sync(a);
}

static void accept_batch(struct acceptor *a)
{
    struct server *srv = a->srv;
    struct dispatch_rec recs[ACCEPT_BATCH];
    size_t n = 0;

    for (int i = 0; i < ACCEPT_BATCH; i++) {
        if (AO_load_acquire(&srv->live) >= srv->max_connections) {
            /* Workers poke the eventfd when a close crosses back under the limit. */
            a->full = 1;
            a->limit_pauses++;
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
        a->accepted++;
        AO_fetch_and_add1_full(&srv->live);
        make_rec(srv, &recs[n++], fd, &peer, peer_len);
    }
flush:
    dispatch_batch(a, recs, n);
}

static void report(const struct acceptor *a)
{
    fprintf(stderr, "wakeful-server: counters\n");
    workers_report(a->srv, stderr, 1);
    acceptor_report(a, stderr);
}

void acceptor_report(const struct acceptor *a, FILE *out)
{
    const struct server *srv = a->srv;
    fprintf(out,
            "acceptor: accepted %llu, dropped %llu (every pipe full), open now %llu of %llu, "
            "pauses %llu at the limit + %llu out of descriptors\n",
            (unsigned long long)a->accepted, (unsigned long long)a->dropped,
            (unsigned long long)AO_load(&srv->live),
            (unsigned long long)srv->max_connections, (unsigned long long)a->limit_pauses,
            (unsigned long long)a->fd_pauses);
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
            case TAG_POKE: {
                uint64_t count;
                ssize_t r = read(a->srv->poke_fd, &count, sizeof count);
                (void)r;
                if (a->full && AO_load_acquire(&a->srv->live) <
                                   a->srv->max_connections) {
                    a->full = 0;
                    listener_sync(a);
                }
                break;
            }
            case TAG_SIGNAL: {
                struct signalfd_siginfo si;
                while (read(a->sigfd, &si, sizeof si) == (ssize_t)sizeof si) {
                    if (si.ssi_signo == SIGUSR1)
                        report(a);
                    else
                        return (int)si.ssi_signo;
                }
                break;
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
    if (a->sigfd >= 0)
        close(a->sigfd);
    a->epfd = a->sigfd = -1;
}
