/* server/limit.h: the open-connection count and --max-connections.
 *
 * One counter, two sides.  The acceptor takes a slot for every connection it accepts
 * (limit_take, on its own thread); whoever closes a connection gives it back
 * (limit_release, from any thread: workers, or the acceptor when it drops one).  At the
 * limit the acceptor stops accepting; only the release that brings the count from the
 * limit back under it writes an eventfd, so the acceptor, which sleeps in epoll on that
 * descriptor, wakes exactly when it may accept again and no other close costs a syscall. */
#ifndef WAKEFUL_SERVER_LIMIT_H
#define WAKEFUL_SERVER_LIMIT_H

#include <atomic_ops.h>
#include <stdint.h>

struct conn_limit {
    uint64_t max;   /* --max-connections, or the RLIMIT_NOFILE default; fixed once set */
    AO_t live;      /* connections accepted and not yet closed */
    int poke_fd;    /* eventfd: a release brought `live` back under `max` (owned) */
};

/* Creates the eventfd.  Returns 0 or -errno. */
int limit_init(struct conn_limit *l, uint64_t max);

/* Closes the eventfd. */
void limit_free(struct conn_limit *l);

/* Room for one more connection?  The acceptor asks before each accept4.  Any thread. */
static inline int limit_full(const struct conn_limit *l)
{
    return AO_load_acquire(&l->live) >= l->max;
}

/* An accepted connection takes a slot.  Any thread (the acceptor's, in practice). */
static inline void limit_take(struct conn_limit *l)
{
    AO_fetch_and_add1_full(&l->live);
}

/* A connection is gone (closed, or never handed over): gives its slot back, and pokes the
 * eventfd when that brought the count back under the limit.  Thread-safe. */
void limit_release(struct conn_limit *l);

/* Connections open now.  Any thread. */
static inline uint64_t limit_live(const struct conn_limit *l)
{
    return AO_load(&l->live);
}

/* Empties the eventfd after the acceptor saw it readable. */
void limit_clear_poke(struct conn_limit *l);

#endif
