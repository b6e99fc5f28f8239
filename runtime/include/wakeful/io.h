/* wakeful/io.h: a descriptor registered with the executor's reactor (epoll).
 *
 * A wk_io owns a non-blocking descriptor.  The first time an operation finds it not ready
 * (EAGAIN), wk_io_wait adds it to the executor's epoll set, edge-triggered for both
 * directions, once for its whole life; readiness then wakes exactly the task waiting on
 * that direction.  Operations always try the syscall first and wait only on EAGAIN, so a
 * spurious wake costs one syscall and nothing else.
 *
 * Lifetime: the wk_io must stay at one address while registered (it is the epoll data
 * pointer): keep it inside the task's future.  wk_io_close closes the descriptor, which
 * removes it from epoll; wk_io_release gives the descriptor back to the caller without
 * closing it, out of the epoll set.  Both drop the stored wakers.  Single-threaded: only the
 * thread driving the executor touches a wk_io. */
#ifndef WAKEFUL_IO_H
#define WAKEFUL_IO_H

#include "export.h"

#include <stdint.h>

#include "future.h"

WK_BEGIN_DECLS

#define WK_IO_READ 1u
#define WK_IO_WRITE 2u

typedef struct wk_io {
    int fd;                      /* the descriptor, -1 when none */
    uint32_t registered;         /* 1 once in the executor's epoll set */
    struct wk_executor *ex;      /* the executor whose epoll set holds it */
    wk_waker reader;             /* woken when readable (or on error / hang-up) */
    wk_waker writer;             /* woken when writable (or on error / hang-up) */
} wk_io;

/* Takes ownership of fd, which must be non-blocking.  Never fails, never allocates. */
WK_API void wk_io_init(wk_io *io, int fd);

/* Arranges for cx's task to be woken when io becomes ready for `direction` (WK_IO_READ or
 * WK_IO_WRITE): call it after the operation answered EAGAIN, then return WK_PENDING.
 * Returns 0, -EINVAL without an executor in cx, or -errno from epoll_ctl. */
WK_API int wk_io_wait(wk_io *io, wk_context *cx, uint32_t direction);

/* Closes the descriptor (which leaves the epoll set) and drops the wakers.  NULL-safe,
 * idempotent.  Returns 0 or -errno from close (the descriptor is gone either way). */
WK_API int wk_io_close(wk_io *io);

/* Gives the descriptor back without closing it: takes it out of the executor's epoll set
 * (if it was in), drops the stored wakers, leaves io empty (fd -1, as after wk_io_close)
 * and returns the descriptor, which the caller now owns (and must close), or -1 when io
 * held none.  NULL-safe.  The descriptor stays non-blocking.
 *
 * For handing a socket to something that is not this executor: another executor (another
 * thread: release it here, send the number over, wk_io_init it there), a blocking library,
 * a child process.  Call it on the thread driving the executor, with no operation of io in
 * flight (drop them first: their wakers would otherwise wait on a descriptor nobody
 * watches).  Returns the descriptor even if epoll_ctl failed (it cannot for a descriptor
 * this wk_io registered and that is still open). */
WK_API int wk_io_release(wk_io *io);

WK_END_DECLS

#endif
