/* tests/runtime/test_park.c: wakes that cross threads, and parking without lost wake-ups.
 * A lost wake-up shows up as a hang, so every wait here is bounded and fails the test when
 * it runs out, instead of relying on timing. */
#include <atomic_ops.h>
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"

/* Waits on a semaphore for at most 10 s; returns 0, or -1 on timeout. */
static int sem_wait_bounded(sem_t *s)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += 10;
    int r;
    do {
        r = sem_timedwait(s, &ts);
    } while (r < 0 && errno == EINTR);
    return r;
}

/* ---- a task woken from another thread while its executor waits in epoll ---- */
typedef struct pingpong {
    wk_future base;
    pthread_mutex_t mutex;
    wk_waker waker;    /* the task's waker, handed to the other thread */
    AO_t rounds_seen;  /* rounds the other thread completed */
    long polls;
    long rounds;       /* stop after this many */
    sem_t *to_thread;
} pingpong;

static wk_poll pingpong_poll(wk_future *f, wk_context *cx)
{
    pingpong *p = *(pingpong **)((char *)f + sizeof(wk_future));
    p->polls++;
    if ((long)AO_load_full(&p->rounds_seen) >= p->rounds)
        return WK_READY;
    pthread_mutex_lock(&p->mutex);
    wk_waker_store(&p->waker, cx->waker);
    pthread_mutex_unlock(&p->mutex);
    sem_post(p->to_thread); /* your turn: wake me */
    return WK_PENDING;
}

typedef struct pingpong_task {
    wk_future base;
    pingpong *p;
} pingpong_task;

static void *waker_thread(void *arg)
{
    pingpong *p = arg;
    for (long i = 0; i < p->rounds; i++) {
        if (sem_wait_bounded(p->to_thread) < 0)
            return (void *)1; /* the task never asked again: a lost wake */
        AO_store_full(&p->rounds_seen, (AO_t)(i + 1));
        pthread_mutex_lock(&p->mutex);
        wk_waker_wake_by_ref(&p->waker);
        pthread_mutex_unlock(&p->mutex);
    }
    return NULL;
}

START_TEST(remote_wake_reaches_epoll_waiter)
{
    enum { ROUNDS = 100000 };
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    sem_t to_thread;
    sem_init(&to_thread, 0, 0);
    pingpong p = {.rounds = ROUNDS, .to_thread = &to_thread};
    pthread_mutex_init(&p.mutex, NULL);
    pingpong_task t = {{pingpong_poll, NULL}, &p};
    ck_assert_int_eq(WK_SPAWN_DETACHED(ex, pingpong_task, &t), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, waker_thread, &p), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0); /* waits in epoll between wakes */
    void *failed;
    pthread_join(thread, &failed);
    ck_assert_ptr_null(failed);
    ck_assert_int_eq(p.polls, ROUNDS + 1);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    /* Wakes that found the task mid-poll only marked it; either way one wake, one poll. */
    ck_assert_uint_gt(st.wakes_remote, 0);
    ck_assert_uint_le(st.wakes_remote, ROUNDS);
    ck_assert_uint_gt(st.epoll_waits, 0);
    wk_waker_drop(&p.waker);
    wk_executor_free(ex);
    sem_destroy(&to_thread);
}
END_TEST

/* ---- parking: a driver like the server's worker, fed through an eventfd ---- */
typedef struct parked_worker {
    wk_executor *ex;
    int efd;              /* the hand-off channel, a wake-up descriptor of the executor */
    long cycles;
    sem_t ack;            /* the worker took one item */
    long received;
    int failed;
} parked_worker;

static void *worker_main(void *arg)
{
    parked_worker *w = arg;
    while (w->received < w->cycles) {
        int r = wk_executor_turn(w->ex, WK_TURN_WAIT | WK_TURN_PARK);
        if (r < 0) {
            w->failed = 1;
            break;
        }
        uint64_t v;
        /* A non-blocking read: an item may be there whatever the turn reported. */
        if (read(w->efd, &v, sizeof v) == (ssize_t)sizeof v) {
            for (uint64_t i = 0; i < v; i++) {
                w->received++;
                sem_post(&w->ack);
            }
        }
    }
    return NULL;
}

START_TEST(park_unpark_stress)
{
    /* A million hand-offs.  Each one races the worker's way into park: the producer hands
     * over (eventfd write) and then unparks; the worker raises its flag and then takes a last
     * look.  If either side's order were wrong, some hand-off would be left beside a parked
     * worker and sem_wait_bounded would fail after 10 s. */
    long cycles = 1000000;
    const char *env = getenv("WK_PARK_STRESS_CYCLES"); /* sanitizer runs may lower it */
    if (env)
        cycles = atol(env);
    parked_worker w = {.cycles = cycles};
    ck_assert_int_eq(wk_executor_new(&w.ex), 0);
    w.efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    ck_assert_int_ge(w.efd, 0);
    ck_assert_int_eq(wk_executor_add_wakeup_fd(w.ex, w.efd), 0);
    sem_init(&w.ack, 0, 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, worker_main, &w), 0);
    long unparked = 0;
    for (long i = 0; i < cycles; i++) {
        uint64_t one = 1;
        ck_assert_int_eq(write(w.efd, &one, sizeof one), (ssize_t)sizeof one);
        unparked += wk_executor_unpark(w.ex);
        ck_assert_msg(sem_wait_bounded(&w.ack) == 0, "hand-off %ld lost (worker parked)", i);
    }
    pthread_join(thread, NULL);
    ck_assert_int_eq(w.failed, 0);
    ck_assert_int_eq(w.received, cycles);
    wk_executor_stats st;
    wk_executor_get_stats(w.ex, &st);
    /* The test is only worth something if the worker really parked, many times. */
    ck_assert_uint_gt(st.parks, (uint64_t)cycles / 100);
    ck_assert_int_gt(unparked, 0);
    close(w.efd);
    sem_destroy(&w.ack);
    wk_executor_free(w.ex);
}
END_TEST

/* ---- a parked executor, woken by unpark alone ---- */

/* Keeps unparking ex until a call finds its thread parked (it may not have parked yet):
 * at most 10 s, then the test fails. */
static void unpark_once_parked(wk_executor *ex)
{
    int done = 0;
    for (int i = 0; i < 10000 && !done; i++) {
        done = wk_executor_unpark(ex);
        if (!done)
            usleep(1000);
    }
    ck_assert_msg(done, "the thread never parked");
}
static void *park_once(void *arg)
{
    wk_executor *ex = arg;
    /* No task, no timer, no descriptor: this parks until unparked. */
    return (void *)(intptr_t)wk_executor_turn(ex, WK_TURN_WAIT | WK_TURN_PARK);
}

START_TEST(unpark_wakes_parked_thread)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, park_once, ex), 0);
    unpark_once_parked(ex);
    void *r;
    pthread_join(thread, &r);
    ck_assert_int_eq((int)(intptr_t)r, WK_TURN_UNPARKED);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_eq(st.parks, 1);
    wk_executor_free(ex);
}
END_TEST

/* ---- the park hook: runs before each park; work it creates cancels the park ---- */
typedef struct flag_task {
    wk_future base;
    int *ran;
} flag_task;

static wk_poll flag_task_poll(wk_future *f, wk_context *cx)
{
    (void)cx;
    (*((flag_task *)f)->ran)++;
    return WK_READY;
}

typedef struct hook_state {
    wk_executor *ex;
    int calls;
    int task_ran;
} hook_state;

static void spawning_hook(void *arg)
{
    hook_state *h = arg;
    /* The first time, hand the executor work: it must not park then. */
    if (h->calls++ == 0) {
        flag_task t = {{flag_task_poll, NULL}, &h->task_ran};
        ck_assert_int_eq(WK_SPAWN_DETACHED(h->ex, flag_task, &t), 0);
    }
}

static void *turn_twice(void *arg)
{
    hook_state *h = arg;
    int first = wk_executor_turn(h->ex, WK_TURN_WAIT | WK_TURN_PARK);
    if (first != 0 || h->calls != 1 || h->task_ran != 0)
        return (void *)(intptr_t)-1000; /* parked, or the hook ran twice, or the task ran */
    /* Runs the task the hook spawned; then, empty again, calls the hook and parks. */
    return (void *)(intptr_t)wk_executor_turn(h->ex, WK_TURN_WAIT | WK_TURN_PARK);
}

START_TEST(park_hook_runs_before_parking)
{
    hook_state h = {0};
    ck_assert_int_eq(wk_executor_new(&h.ex), 0);
    wk_executor_on_park(h.ex, spawning_hook, &h);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, turn_twice, &h), 0);
    unpark_once_parked(h.ex);
    void *r;
    pthread_join(thread, &r);
    ck_assert_int_eq((int)(intptr_t)r, WK_TURN_UNPARKED);
    ck_assert_int_eq(h.calls, 2);
    ck_assert_int_eq(h.task_ran, 1);
    wk_executor_stats st;
    wk_executor_get_stats(h.ex, &st);
    ck_assert_uint_eq(st.parks, 1); /* the first turn did not park */

    /* Removed, it is not called again. */
    wk_executor_on_park(h.ex, NULL, NULL);
    ck_assert_int_eq(pthread_create(&thread, NULL, park_once, h.ex), 0);
    unpark_once_parked(h.ex);
    pthread_join(thread, &r);
    ck_assert_int_eq(h.calls, 2);
    wk_executor_free(h.ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("park");
    TCase *tc = tcase_create("park");
    tcase_set_timeout(tc, 220);
    tcase_add_test(tc, remote_wake_reaches_epoll_waiter);
    tcase_add_test(tc, unpark_wakes_parked_thread);
    tcase_add_test(tc, park_hook_runs_before_parking);
    tcase_add_test(tc, park_unpark_stress);
    suite_add_tcase(s, tc);
    return check_run(s);
}
