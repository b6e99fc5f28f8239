/* runtime/reactor_epoll.c: the reactor on Linux's epoll, with an eventfd as the wake-up
 * channel.  See reactor.h for the contract; this file is the only one in the runtime that
 * includes the epoll and eventfd headers. */
#include "reactor.h"

#include <errno.h>
#include <stdlib.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <unistd.h>

struct wk__reactor {
    int epfd; /* the epoll instance */
    int evfd; /* eventfd, level-triggered in the set: wk__reactor_notify writes it, the
               * wait that sees it readable reads it back to zero */
    struct epoll_event events[WK__REACTOR_EVENTS]; /* epoll_wait's output, one wait's worth */
};

/* The eventfd's epoll data pointer: the reactor's own address, which no caller's tag can
 * be (a tag is the caller's object, the reactor is ours). */
#define NOTIFY_TAG(r) ((void *)(r))

int wk__reactor_create(wk__reactor **out)
{
    wk__reactor *r = malloc(sizeof *r);
    if (!r)
        return -ENOMEM;
    r->epfd = epoll_create1(EPOLL_CLOEXEC);
    if (r->epfd < 0) {
        int err = -errno;
        free(r);
        return err;
    }
    r->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (r->evfd < 0) {
        int err = -errno;
        close(r->epfd);
        free(r);
        return err;
    }
    struct epoll_event ev = {.events = EPOLLIN, .data.ptr = NOTIFY_TAG(r)};
    if (epoll_ctl(r->epfd, EPOLL_CTL_ADD, r->evfd, &ev) < 0) {
        int err = -errno;
        close(r->evfd);
        close(r->epfd);
        free(r);
        return err;
    }
    *out = r;
    return 0;
}

void wk__reactor_free(wk__reactor *r)
{
    if (!r)
        return;
    close(r->evfd);
    close(r->epfd);
    free(r);
}

int wk__reactor_arm(wk__reactor *r, int fd, uint32_t interest, void *tag)
{
    struct epoll_event ev = {.events = 0, .data.ptr = tag};
    if (interest & WK__REACTOR_READ)
        ev.events |= EPOLLIN;
    if (interest & WK__REACTOR_WRITE)
        ev.events |= EPOLLOUT;
    if (interest & WK__REACTOR_EDGE) {
        /* Edge-triggered readers (the wk_io sockets) have always asked for EPOLLRDHUP too;
         * the level-triggered wake-up descriptors never did, and they still do not.  It
         * changes no wake-up: a peer's shutdown makes the socket readable (EPOLLIN) as
         * well, so a backend without such a flag loses nothing. */
        ev.events |= EPOLLET;
        if (interest & WK__REACTOR_READ)
            ev.events |= EPOLLRDHUP;
    }
    return epoll_ctl(r->epfd, EPOLL_CTL_ADD, fd, &ev) < 0 ? -errno : 0;
}

int wk__reactor_disarm(wk__reactor *r, int fd)
{
    return epoll_ctl(r->epfd, EPOLL_CTL_DEL, fd, NULL) < 0 ? -errno : 0;
}

/* Reads the eventfd back to zero.  EAGAIN (already zero: another wait drained it) is
 * fine; nothing else can fail on a valid eventfd with an 8-byte buffer. */
static void drain_notify(wk__reactor *r)
{
    uint64_t v;
    ssize_t n;
    do {
        n = read(r->evfd, &v, sizeof v);
    } while (n < 0 && errno == EINTR);
}

int wk__reactor_wait(wk__reactor *r, wk__reactor_event fired[WK__REACTOR_EVENTS],
                     int timeout_ms)
{
    int n = epoll_wait(r->epfd, r->events, WK__REACTOR_EVENTS, timeout_ms);
    if (n < 0)
        return errno == EINTR ? 0 : -errno;
    int count = 0;
    for (int i = 0; i < n; i++) {
        void *tag = r->events[i].data.ptr;
        uint32_t e = r->events[i].events;
        if (tag == NOTIFY_TAG(r)) {
            drain_notify(r);
            continue;
        }
        /* What wakes a reader and what wakes a writer: a hang-up or an error wakes both,
         * and the read or write that follows reports it. */
        uint32_t ready = 0;
        if (e & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            ready |= WK__REACTOR_READ;
        if (e & (EPOLLOUT | EPOLLHUP | EPOLLERR))
            ready |= WK__REACTOR_WRITE;
        fired[count].tag = tag;
        fired[count].events = ready;
        count++;
    }
    return count;
}

void wk__reactor_notify(wk__reactor *r)
{
    uint64_t one = 1;
    ssize_t n;
    do {
        n = write(r->evfd, &one, sizeof one);
    } while (n < 0 && errno == EINTR);
    /* EAGAIN means the counter is already non-zero: the waiter will wake anyway. */
}

const char *wk__reactor_name(void)
{
    return "epoll";
}
