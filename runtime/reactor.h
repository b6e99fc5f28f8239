/* runtime/reactor.h: the reactor, the one part of the runtime that knows the OS poller.
 * Internal: not installed, not for users.
 *
 * The executor (executor.c) decides when to wait and for how long; the reactor waits.  It
 * holds the poller's instance (epoll on Linux: reactor_epoll.c) and a wake-up channel that
 * other threads use to end a wait (an eventfd there).  Everything above this interface
 * speaks in tags and in the two readiness bits below, so a second backend (kqueue,
 * io_uring) is one new file that implements these seven functions, chosen in meson.build.
 *
 * A tag is the caller's pointer, handed back with each event for the descriptor it was
 * armed with: a wk_io (io.c), or the executor's wakeup_tag (wk_executor_add_wakeup_fd).
 * The reactor never looks behind it.
 *
 * Threads: one thread at a time drives a reactor (the thread that drives its executor);
 * every function is for that thread, except wk__reactor_notify, which is for any thread,
 * at any time between create and free, including while the driver waits.
 *
 * Errors are negative errno values, read right after the syscall that failed. */
#ifndef WAKEFUL_REACTOR_H
#define WAKEFUL_REACTOR_H

#include <stdint.h>

typedef struct wk__reactor wk__reactor;

/* Interest (wk__reactor_arm) and readiness (wk__reactor_event.events).
 * READ, as readiness, also means "the peer closed its side, or the descriptor failed":
 * anything a reader must wake up for (a read then says which).  WRITE likewise covers a
 * hang-up or an error, so a writer wakes to find the failure.  EDGE is interest only:
 * report a descriptor when it becomes ready, not for as long as it stays ready. */
#define WK__REACTOR_READ 0x1u
#define WK__REACTOR_WRITE 0x2u
#define WK__REACTOR_EDGE 0x4u

/* Most events one wait reports.  The rest stay queued in the kernel for the next wait,
 * which the executor makes after at most one pass of ready tasks, so a burst of readiness
 * is delayed by a pass, never lost.  The cost is memory per executor: the backend's own
 * buffer (3 KiB for epoll) and the caller's fired array (4 KiB), one page more than when
 * epoll's buffer was the executor's; dispatching from inside the wait would save that
 * page, at the price of the executor's order (wait, read the clock, then wake tasks). */
#define WK__REACTOR_EVENTS 256

/* One ready descriptor, as wk__reactor_wait reports it. */
typedef struct wk__reactor_event {
    void *tag;       /* the tag the descriptor was armed with */
    uint32_t events; /* WK__REACTOR_READ and/or WK__REACTOR_WRITE */
} wk__reactor_event;

/* Creates a reactor: the poller's instance and the wake-up channel, both close-on-exec,
 * the channel already armed.  Allocates one block (the backend's state, including its
 * event buffer).  Never blocks.  Any thread: the one that drives the reactor later need not
 * be the one that created it.  Returns 0 and stores the reactor in *out, or -errno
 * (nothing is left open or allocated then). */
int wk__reactor_create(wk__reactor **out);

/* Closes the wake-up channel and the poller's instance and frees the reactor.  The
 * descriptors still armed are not closed (they belong to their callers) but leave the set
 * with it.  NULL-safe.  Never blocks.  The driver's thread, once no thread waits or can
 * still notify (a late notify would write to a closed, perhaps reused, descriptor). */
void wk__reactor_free(wk__reactor *r);

/* Adds fd to the set with interest (WK__REACTOR_READ / _WRITE / _EDGE) and tag, which every
 * event for fd carries from then on.  Readiness that exists already is reported by the
 * next wait, so a caller that saw EAGAIN and then arms loses nothing in between.  A
 * descriptor is armed once (its interest does not change later); arming one that is in the
 * set already fails with -EEXIST.  Never blocks.  The driver's thread (epoll would take it
 * from any thread; a backend with a submission queue, io_uring's, would not).  Returns 0
 * or -errno. */
int wk__reactor_arm(wk__reactor *r, int fd, uint32_t interest, void *tag);

/* Takes fd out of the set, for a descriptor that stays open but leaves this reactor
 * (wk_io_release).  Closing the only descriptor of an open file takes it out as well, with
 * no call here: that is what wk_io_close relies on (a dup'ed descriptor would keep it in,
 * with epoll).  Never blocks.  The driver's thread.  Returns 0 or -errno (-ENOENT: fd was
 * not in the set). */
int wk__reactor_disarm(wk__reactor *r, int fd);

/* Waits until a descriptor is ready, a notify arrives, or timeout_ms passes (-1: no limit,
 * 0: do not block, only collect), then stores up to WK__REACTOR_EVENTS ready descriptors in
 * fired.  Blocks for up to timeout_ms.  The driver's thread, one wait at a time.  A notify
 * ends the wait and is consumed here (the channel is drained): it is not reported as an
 * event.  Returns how many events it stored (0: the timeout passed, only a notify came, or
 * a signal interrupted the wait, which the caller treats as a spurious wake-up), or -errno
 * when the poller failed. */
int wk__reactor_wait(wk__reactor *r, wk__reactor_event fired[WK__REACTOR_EVENTS],
                     int timeout_ms);

/* Ends the current or the next wait of r.  Any thread, at any time between create and
 * free, while the driver waits or not; it only writes the wake-up channel, so it is
 * async-signal-safe too.  Notifies that arrive before a wait collects them count as one.
 * Never blocks; returns nothing (a full channel already means "wake up"). */
void wk__reactor_notify(wk__reactor *r);

/* The backend's name ("epoll"): a static string, for messages and tests.  Any thread. */
const char *wk__reactor_name(void);

#endif
