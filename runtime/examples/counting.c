/* runtime/examples/counting.c: the book's first run of its executor.  Two CountingFutures
 * on one executor, driven by a second thread; the main thread joins the first one.
 * Each future wakes itself and answers PENDING until its fourth poll, so the executor polls
 * it exactly four times: it polls only what was woken. */
#include <pthread.h>
#include <stdio.h>

#include <wakeful/wakeful.h>

typedef struct counting_future {
    wk_future base;
    int count;
} counting_future;

static wk_poll counting_poll(wk_future *f, wk_context *cx)
{
    counting_future *c = (counting_future *)f;
    c->count += 1;
    if (c->count == 4) {
        printf("CountingFuture is done!\n");
        return WK_READY;
    }
    wk_waker_wake_by_ref(cx->waker);
    printf("CountingFuture is not done yet! %d\n", c->count);
    return WK_PENDING;
}

static void counting_init(counting_future *c)
{
    c->base.poll = counting_poll;
    c->base.drop = NULL;
    c->count = 0;
}

static void *drive(void *arg)
{
    /* The book loops on executor.poll() forever; run() returns once no task is left. */
    wk_executor_run(arg);
    return NULL;
}

int main(void)
{
    wk_executor *ex;
    int err = wk_executor_new(&ex);
    if (err < 0) {
        fprintf(stderr, "counting: cannot create an executor: %s\n", wk_strerror(err));
        return 1;
    }
    counting_future counter, counter_two;
    counting_init(&counter);
    counting_init(&counter_two);
    wk_task *handle;
    if (WK_SPAWN(ex, counting_future, &counter, count, &handle) < 0 ||
        WK_SPAWN_DETACHED(ex, counting_future, &counter_two) < 0) {
        fprintf(stderr, "counting: out of memory\n");
        return 1;
    }
    pthread_t thread;
    if (pthread_create(&thread, NULL, drive, ex) != 0) {
        fprintf(stderr, "counting: cannot start a thread\n");
        return 1;
    }
    int result = 0;
    wk_join_blocking(handle, &result);
    printf("Result: %d\n", result);
    pthread_join(thread, NULL);
    wk_executor_free(ex);
    return 0;
}
