/* runtime/io.c: see io.h. */
#include "internal.h"

#include <errno.h>
#include <unistd.h>

void wk_io_init(wk_io *io, int fd)
{
    io->fd = fd;
    io->registered = 0;
    io->ex = NULL;
    io->reader.data = io->writer.data = NULL;
    io->reader.vtable = io->writer.vtable = NULL;
}

int wk_io_wait(wk_io *io, wk_context *cx, uint32_t direction)
{
    if (!cx->executor || io->fd < 0)
        return -EINVAL;
    if (!io->registered) {
        /* Edge-triggered, both directions, once: later waits cost no syscall.  Arming reports
         * readiness that already exists, so nothing between our EAGAIN and here is lost. */
        int err = wk__reactor_arm(cx->executor->reactor, io->fd,
                                  WK__REACTOR_READ | WK__REACTOR_WRITE | WK__REACTOR_EDGE, io);
        if (err < 0)
            return err;
        io->registered = 1;
        io->ex = cx->executor;
    }
    wk_waker_store(direction == WK_IO_WRITE ? &io->writer : &io->reader, cx->waker);
    return 0;
}

void wk__io_ready(wk_io *io, uint32_t events)
{
    /* The waker is consumed: an event for a direction nobody waits on wakes nobody, and the
     * slot being empty tells a future that readiness came (see connect in tcp.c). */
    if (events & WK__REACTOR_READ)
        wk_waker_wake(&io->reader);
    if (events & WK__REACTOR_WRITE)
        wk_waker_wake(&io->writer);
}

int wk_io_close(wk_io *io)
{
    if (!io)
        return 0;
    wk_waker_drop(&io->reader);
    wk_waker_drop(&io->writer);
    int r = 0;
    if (io->fd >= 0) {
        /* Closing the only descriptor of the socket takes it out of the reactor.  No retry
         * on EINTR: Linux has released the descriptor already. */
        if (close(io->fd) < 0 && errno != EINTR)
            r = -errno;
        io->fd = -1;
    }
    io->registered = 0;
    io->ex = NULL;
    return r;
}

int wk_io_release(wk_io *io)
{
    if (!io)
        return -1;
    wk_waker_drop(&io->reader);
    wk_waker_drop(&io->writer);
    int fd = io->fd;
    if (io->registered && fd >= 0)
        wk__reactor_disarm(io->ex->reactor, fd);
    io->fd = -1;
    io->registered = 0;
    io->ex = NULL;
    return fd;
}
