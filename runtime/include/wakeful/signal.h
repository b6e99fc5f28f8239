/* wakeful/signal.h: await a signal (SIGINT, SIGTERM, SIGHUP ...) as a future.
 *
 *   !!! Block the signal in EVERY thread before creating any thread. !!!
 *
 * The future reads the signal from a signalfd, which sees only signals that are blocked:
 * an unblocked signal goes to its handler or its default action (SIGINT and SIGTERM end
 * the process) and never reaches the future.  A process-directed signal (kill, Ctrl-C) is
 * delivered to any one thread that does not block it, so it must be blocked in all of
 * them, and only the program can do that: the library does not own the program's threads
 * and installs nothing process-wide.  Threads inherit the mask of the thread that creates
 * them, so block first thing in main, before the first pthread_create (including threads
 * that libraries start for you):
 *
 *     int stop[] = {SIGINT, SIGTERM};
 *     wk_signal_block(stop, 2);               // or, by hand:
 *     // sigset_t set; sigemptyset(&set); sigaddset(&set, SIGINT); sigaddset(&set, SIGTERM);
 *     // pthread_sigmask(SIG_BLOCK, &set, NULL);   (sigprocmask in a one-thread program)
 *
 * Then, in a coroutine ("serve until SIGINT", with select.h):
 *
 *     wk_signal_init(&s->sig, SIGINT);
 *     wk_select2_init(&s->sel, &s->server.base, &s->sig.base);
 *     WK_CO_AWAIT(s->co, &s->sel, cx);        // which == 1: s->sig.result is SIGINT
 *
 * One delivery completes one waiting future: a signal is consumed by the first read, and
 * other futures waiting on the same signal keep waiting (they are woken, find nothing and
 * wait again).  Signals of one kind that arrive while none is being read merge into one,
 * as the kernel keeps one pending instance of a standard signal.  A signal sent to one
 * thread (pthread_kill) reaches a future only on that thread's executor.
 *
 * One signalfd per future, not one per executor: the descriptor is opened at the first poll
 * and closed when the future is READY or dropped, so a future costs nothing until it waits,
 * the executor needs no table of signals, and a select that drops the signal future gives
 * its descriptor back at once.  A program waits on a handful of signals, so a descriptor
 * each is cheap.  The library keeps no global state for signals. */
#ifndef WAKEFUL_SIGNAL_H
#define WAKEFUL_SIGNAL_H

#include "export.h"

#include <stddef.h>

#include "future.h"
#include "io.h"

WK_BEGIN_DECLS

/* READY when signo arrives.  result: the signal number, or -errno: -EINVAL when signo is not
 * a valid signal, when it is not blocked in the thread that polls it (it would never reach
 * the future: see above), or without an executor; -EMFILE etc. from signalfd. */
typedef struct wk_signal {
    wk_future base;
    int signo;   /* the signal awaited */
    int open;    /* 1 while io holds the signalfd (so a zero-filled future is inert) */
    wk_io io;    /* the signalfd, registered with the executor's reactor */
    int result;  /* the output */
} wk_signal;

/* Never fails and opens nothing: the signalfd is made at the first poll. */
WK_API void wk_signal_init(wk_signal *s, int signo);

/* Blocks the n signals in signos in the calling thread (pthread_sigmask SIG_BLOCK): call it
 * in main before creating any thread, so that every thread inherits the mask.  Returns 0, or
 * -EINVAL when a number is not a valid signal (nothing is blocked then). */
WK_API int wk_signal_block(const int *signos, size_t n);

WK_END_DECLS

#endif
