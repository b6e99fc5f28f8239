/* tests/runtime/test_signal.c: wk_signal.  A blocked SIGUSR1 sent to the process or to the
 * executor's thread completes the future with SIGUSR1; one delivery completes one of two
 * waiting futures; select(signal, sleep) with no signal lets the sleep win and gives the
 * signalfd back; an unblocked or invalid signal is -EINVAL, not a silent wait.  Check runs
 * each test in its own process, so the masks set here stay in the test. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"
#include "helpers.h"

typedef struct waiter {
    wk_future base;
    wk_signal sig;
    int result;
} waiter;

static wk_poll waiter_poll(wk_future *f, wk_context *cx)
{
    waiter *w = (waiter *)f;
    if (wk_future_poll(&w->sig.base, cx) == WK_PENDING)
        return WK_PENDING;
    w->result = w->sig.result;
    return WK_READY;
}

static void waiter_drop(wk_future *f)
{
    wk_future_drop(&((waiter *)f)->sig.base);
}

static waiter make_waiter(int signo)
{
    waiter w;
    memset(&w, 0, sizeof w);
    w.base.poll = waiter_poll;
    w.base.drop = waiter_drop;
    wk_signal_init(&w.sig, signo);
    return w;
}

static void block_sigusr(void)
{
    int signos[] = {SIGUSR1, SIGUSR2};
    ck_assert_int_eq(wk_signal_block(signos, 2), 0);
}

START_TEST(kill_process_completes_task)
{
    block_sigusr();
    int before = open_fd_count();
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int with_ex = open_fd_count();
    waiter w = make_waiter(SIGUSR1);
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, waiter, &w, result, &h), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    ck_assert_int_eq(open_fd_count(), with_ex + 1); /* the signalfd, while it waits */
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    int out = 0;
    ck_assert_int_eq(wk_join_try(h, &out), 0);
    ck_assert_int_eq(out, SIGUSR1);
    ck_assert_int_eq(open_fd_count(), with_ex); /* closed once READY */
    wk_executor_free(ex);
    ck_assert_int_eq(open_fd_count(), before);
}
END_TEST

static void *run_executor(void *arg)
{
    wk_executor_run(arg);
    return NULL;
}

START_TEST(pthread_kill_reaches_waiting_executor)
{
    block_sigusr(); /* before the thread exists: it inherits the mask */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    waiter w = make_waiter(SIGUSR1);
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, waiter, &w, result, &h), 0);
    pthread_t thread;
    ck_assert_int_eq(pthread_create(&thread, NULL, run_executor, ex), 0);
    wait_until_executor_waits(ex);
    ck_assert_int_eq(pthread_kill(thread, SIGUSR1), 0);
    int out = 0;
    ck_assert_int_eq(wk_join_blocking(h, &out), 0);
    ck_assert_int_eq(out, SIGUSR1);
    pthread_join(thread, NULL);
    wk_executor_free(ex);
}
END_TEST

/* Runs the executor for about ms milliseconds (a root sleep), whatever the tasks do. */
static void run_for(wk_executor *ex, unsigned ms)
{
    wk_sleep s;
    wk_sleep_init(&s, ms * WK_NSEC_PER_MSEC);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
}

START_TEST(one_delivery_completes_one_future)
{
    block_sigusr();
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    waiter a = make_waiter(SIGUSR1), b = make_waiter(SIGUSR1);
    wk_task *ha, *hb;
    ck_assert_int_eq(WK_SPAWN(ex, waiter, &a, result, &ha), 0);
    ck_assert_int_eq(WK_SPAWN(ex, waiter, &b, result, &hb), 0);
    run_for(ex, 10);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    run_for(ex, 50);
    ck_assert_uint_eq(wk_executor_task_count(ex), 1);
    ck_assert_int_eq(kill(getpid(), SIGUSR1), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    int ra = 0, rb = 0;
    ck_assert_int_eq(wk_join_try(ha, &ra), 0);
    ck_assert_int_eq(wk_join_try(hb, &rb), 0);
    ck_assert_int_eq(ra, SIGUSR1);
    ck_assert_int_eq(rb, SIGUSR1);
    wk_executor_free(ex);
}
END_TEST

START_TEST(select_signal_vs_sleep_closes_signalfd)
{
    block_sigusr();
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int before = open_fd_count();
    wk_signal sig;
    wk_signal_init(&sig, SIGUSR1);
    wk_sleep sleep;
    wk_sleep_init(&sleep, 30 * WK_NSEC_PER_MSEC);
    wk_select s;
    wk_select2_init(&s, &sig.base, &sleep.base);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.which, 1);
    ck_assert_int_eq(sig.open, 0);
    ck_assert_int_eq(open_fd_count(), before); /* the signalfd was closed by the drop */
    wk_executor_free(ex);
}
END_TEST

START_TEST(select_signal_wins)
{
    block_sigusr();
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    ck_assert_int_eq(kill(getpid(), SIGUSR2), 0); /* pending before anyone waits: kept */
    wk_signal sig;
    wk_signal_init(&sig, SIGUSR2);
    wk_sleep sleep;
    wk_sleep_init(&sleep, 3600 * WK_NSEC_PER_SEC);
    wk_select s;
    wk_select2_init(&s, &sleep.base, &sig.base);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.which, 1);
    ck_assert_int_eq(sig.result, SIGUSR2);
    ck_assert_uint_eq(ex->timers.count, 0);
    wk_executor_free(ex);
}
END_TEST

START_TEST(unblocked_or_invalid_signal_is_einval)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR2);
    ck_assert_int_eq(pthread_sigmask(SIG_UNBLOCK, &set, NULL), 0);
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int before = open_fd_count();
    wk_signal sig;
    wk_signal_init(&sig, SIGUSR2);
    ck_assert_int_eq(wk_block_on(ex, &sig.base), 0);
    ck_assert_int_eq(sig.result, -EINVAL);
    wk_signal_init(&sig, 100000);
    ck_assert_int_eq(wk_block_on(ex, &sig.base), 0);
    ck_assert_int_eq(sig.result, -EINVAL);
    ck_assert_int_eq(open_fd_count(), before);
    int bad[] = {SIGUSR1, 100000};
    ck_assert_int_eq(wk_signal_block(bad, 2), -EINVAL);
    wk_executor_free(ex);
}
END_TEST

START_TEST(zero_filled_signal_is_inert)
{
    wk_signal sig;
    wk_signal_init(&sig, SIGUSR1);
    wk_future_drop(&sig.base); /* never polled: nothing to close */
    /* Zero-filled but for its drop function: its io.fd is 0, which must stay open. */
    int null_fd = open("/dev/null", O_RDONLY);
    ck_assert_int_ge(null_fd, 0);
    ck_assert_int_eq(dup2(null_fd, 0), 0);
    close(null_fd);
    wk_signal zero;
    memset(&zero, 0, sizeof zero);
    zero.base.drop = sig.base.drop;
    wk_future_drop(&zero.base);
    ck_assert_int_ne(fcntl(0, F_GETFD), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("signal");
    TCase *tc = tcase_create("signal");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, kill_process_completes_task);
    tcase_add_test(tc, pthread_kill_reaches_waiting_executor);
    tcase_add_test(tc, one_delivery_completes_one_future);
    tcase_add_test(tc, select_signal_vs_sleep_closes_signalfd);
    tcase_add_test(tc, select_signal_wins);
    tcase_add_test(tc, unblocked_or_invalid_signal_is_einval);
    tcase_add_test(tc, zero_filled_signal_is_inert);
    suite_add_tcase(s, tc);
    return check_run(s);
}
