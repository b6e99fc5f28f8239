/* runtime/examples/sleeps.c: ten thousand concurrent sleeps on one executor.
 *
 *     sleeps [TASKS [MS]]     (defaults: 10000 tasks, each sleeping 1000 ms)
 *
 * Every task sleeps once and counts itself done; all the sleeps overlap, so the whole run
 * takes about MS, not TASKS x MS.  The executor keeps the sleeps in its timer heap (the
 * heap nodes live in the tasks: nothing is allocated per sleep) and waits in epoll until the
 * nearest deadline, so the thread is idle while they sleep. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <wakeful/wakeful.h>

typedef struct sleeper {
    wk_future base;
    wk_sleep sleep;
    uint64_t deadline;  /* when the sleep may end at the earliest */
    long *done;         /* tasks finished */
    long *early;        /* tasks that woke before their deadline (must stay 0) */
} sleeper;

static wk_poll sleeper_poll(wk_future *f, wk_context *cx)
{
    sleeper *s = (sleeper *)f;
    if (wk_future_poll(&s->sleep.base, cx) == WK_PENDING)
        return WK_PENDING;
    if (wk_now_ns() < s->deadline)
        (*s->early)++;
    (*s->done)++;
    return WK_READY;
}

static void sleeper_drop(wk_future *f)
{
    wk_future_drop(&((sleeper *)f)->sleep.base);
}

int main(int argc, char **argv)
{
    long tasks = argc > 1 ? strtol(argv[1], NULL, 10) : 10000;
    long ms = argc > 2 ? strtol(argv[2], NULL, 10) : 1000;
    if (tasks < 0 || ms < 0) {
        fprintf(stderr, "usage: sleeps [TASKS [MS]]\n");
        return 2;
    }
    wk_executor *ex;
    int err = wk_executor_new(&ex);
    if (err < 0) {
        fprintf(stderr, "sleeps: %s\n", wk_strerror(err));
        return 1;
    }
    long done = 0, early = 0;
    uint64_t start = wk_now_ns();
    for (long i = 0; i < tasks; i++) {
        sleeper s;
        memset(&s, 0, sizeof s);
        s.base.poll = sleeper_poll;
        s.base.drop = sleeper_drop;
        /* Absolute deadlines, all the same: every task sleeps until start + ms. */
        wk_sleep_until_init(&s.sleep, start + (uint64_t)ms * WK_NSEC_PER_MSEC);
        s.deadline = start + (uint64_t)ms * WK_NSEC_PER_MSEC;
        s.done = &done;
        s.early = &early;
        if ((err = WK_SPAWN_DETACHED(ex, sleeper, &s)) < 0) {
            fprintf(stderr, "sleeps: spawn: %s\n", wk_strerror(err));
            wk_executor_free(ex);
            return 1;
        }
    }
    printf("%zu tasks spawned, each sleeping %ld ms\n", wk_executor_task_count(ex), ms);
    if ((err = wk_executor_run(ex)) < 0) {
        fprintf(stderr, "sleeps: %s\n", wk_strerror(err));
        wk_executor_free(ex);
        return 1;
    }
    double took = (double)(wk_now_ns() - start) / 1e9;
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    printf("%ld of %ld tasks done in %.3f s (%ld woke early); spawned %llu, completed %llu, "
           "polls %llu, epoll waits %llu, tasks left %zu\n",
           done, tasks, took, early, (unsigned long long)st.spawned,
           (unsigned long long)st.completed, (unsigned long long)st.polls,
           (unsigned long long)st.epoll_waits, wk_executor_task_count(ex));
    wk_executor_free(ex);
    return done == tasks && early == 0 ? 0 : 1;
}
