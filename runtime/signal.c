/* runtime/signal.c: the signal future over a signalfd.  See signal.h for why the program,
 * not the library, blocks the signal. */
#include "internal.h"

#include <errno.h>
#include <signal.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include <wakeful/signal.h>

static void signal_close(wk_signal *s)
{
    if (s->open) {
        wk_io_close(&s->io);
        s->open = 0;
    }
}

static wk_poll signal_done(wk_signal *s, int result)
{
    signal_close(s);
    s->result = result;
    return WK_READY;
}

/* Opens the signalfd: 0 or -errno. */
static int signal_open(wk_signal *s)
{
    sigset_t set, blocked;
    sigemptyset(&set);
    if (sigaddset(&set, s->signo) < 0)
        return -EINVAL;
    /* An unblocked signal goes to its handler or default action, never to the signalfd:
     * waiting on it would wait forever (or the process would be gone).  Say so now. */
    if (pthread_sigmask(SIG_BLOCK, NULL, &blocked) != 0 || sigismember(&blocked, s->signo) != 1)
        return -EINVAL;
    int fd = signalfd(-1, &set, SFD_NONBLOCK | SFD_CLOEXEC);
    if (fd < 0)
        return -errno;
    wk_io_init(&s->io, fd);
    s->open = 1;
    return 0;
}

static wk_poll signal_poll(wk_future *f, wk_context *cx)
{
    wk_signal *s = (wk_signal *)f;
    if (!cx->executor)
        return signal_done(s, -EINVAL);
    if (!s->open) {
        int r = signal_open(s);
        if (r < 0)
            return signal_done(s, r);
    }
    for (;;) {
        struct signalfd_siginfo info;
        ssize_t n = read(s->io.fd, &info, sizeof info);
        int err = n < 0 ? errno : 0;
        if (n == (ssize_t)sizeof info)
            return signal_done(s, (int)info.ssi_signo);
        if (err == EINTR)
            continue;
        if (err == EAGAIN) {
            /* Not yet, or another future on the same signal read it first: wait again. */
            int r = wk_io_wait(&s->io, cx, WK_IO_READ);
            return r == 0 ? WK_PENDING : signal_done(s, r);
        }
        return signal_done(s, n < 0 ? -err : -EIO);
    }
}

static void signal_drop(wk_future *f)
{
    signal_close((wk_signal *)f);
}

void wk_signal_init(wk_signal *s, int signo)
{
    s->base.poll = signal_poll;
    s->base.drop = signal_drop;
    s->signo = signo;
    s->open = 0;
    wk_io_init(&s->io, -1);
    s->result = 0;
}

int wk_signal_block(const int *signos, size_t n)
{
    sigset_t set;
    sigemptyset(&set);
    for (size_t i = 0; i < n; i++) {
        if (sigaddset(&set, signos[i]) < 0)
            return -EINVAL;
    }
    int r = pthread_sigmask(SIG_BLOCK, &set, NULL);
    return r == 0 ? 0 : -r;
}
