/* tests/runtime/test_select.c: wk_select.  The first child to finish wins and the others
 * are dropped exactly once (counting futures count it); the winner is not dropped; children
 * are polled in rotation (or in order when biased); sleep against sleep, a receive against a
 * sleep over a socketpair (the "read or time out" case), and a select inside a coroutine. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"
#include "counting_waker.h"
#include "internal.h"

/* ---- a counting child: READY at its ready_at-th poll (never when 0), wakes itself ---- */
typedef struct counter {
    wk_future base;
    int id;
    int ready_at;
    int polls;
    int drops;
    int *log;     /* when set, the child's id is appended at every poll */
    int *log_len;
} counter;

static wk_poll counter_poll(wk_future *f, wk_context *cx)
{
    counter *c = (counter *)f;
    c->polls++;
    if (c->log)
        c->log[(*c->log_len)++] = c->id;
    if (c->ready_at && c->polls >= c->ready_at)
        return WK_READY;
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

static void counter_drop(wk_future *f)
{
    ((counter *)f)->drops++;
}

static counter make_counter(int id, int ready_at)
{
    counter c = {{counter_poll, counter_drop}, id, ready_at, 0, 0, NULL, NULL};
    return c;
}

START_TEST(first_ready_wins_losers_dropped_once)
{
    counter c[3] = {make_counter(0, 5), make_counter(1, 3), make_counter(2, 0)};
    wk_future *kids[3] = {&c[0].base, &c[1].base, &c[2].base};
    wk_select s;
    wk_select_init(&s, kids, 3);
    waker_counts wc = {0};
    wk_waker w = counting_waker(&wc);
    wk_context cx = {&w, NULL};
    int polls = 0;
    while (wk_future_poll(&s.base, &cx) == WK_PENDING)
        polls++;
    ck_assert_int_eq(polls, 2);
    ck_assert_int_eq(s.which, 1);
    ck_assert_int_eq(c[0].drops, 1);
    ck_assert_int_eq(c[1].drops, 0); /* the winner is the caller's */
    ck_assert_int_eq(c[2].drops, 1);
    /* All polled in every round until the winner answered. */
    ck_assert_int_eq(c[1].polls, 3);
    ck_assert_int_ge(c[0].polls, 2);
    ck_assert_int_ge(c[2].polls, 2);
    wk_future_drop(&s.base); /* finished: drops nothing more */
    ck_assert_int_eq(c[0].drops, 1);
    ck_assert_int_eq(c[1].drops, 0);
    ck_assert_int_eq(c[2].drops, 1);
}
END_TEST

START_TEST(drop_unfinished_drops_every_child_once)
{
    counter a = make_counter(0, 0), b = make_counter(1, 0);
    wk_select s;
    wk_select2_init(&s, &a.base, &b.base);
    waker_counts wc = {0};
    wk_waker w = counting_waker(&wc);
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_PENDING);
    wk_future_drop(&s.base);
    wk_future_drop(&s.base);
    ck_assert_int_eq(a.drops, 1);
    ck_assert_int_eq(b.drops, 1);
}
END_TEST

START_TEST(rotation_and_biased_order)
{
    int log[9], len = 0;
    counter c[3] = {make_counter(0, 0), make_counter(1, 0), make_counter(2, 0)};
    for (int i = 0; i < 3; i++) {
        c[i].log = log;
        c[i].log_len = &len;
    }
    wk_future *kids[3] = {&c[0].base, &c[1].base, &c[2].base};
    waker_counts wc = {0};
    wk_waker w = counting_waker(&wc);
    wk_context cx = {&w, NULL};

    wk_select s;
    wk_select_init(&s, kids, 3);
    for (int round = 0; round < 3; round++)
        ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_PENDING);
    const int rotated[9] = {0, 1, 2, 1, 2, 0, 2, 0, 1};
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(log[i], rotated[i]);
    wk_future_drop(&s.base);

    len = 0;
    wk_select_init(&s, kids, 3);
    s.biased = 1;
    for (int round = 0; round < 3; round++)
        ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_PENDING);
    for (int i = 0; i < 9; i++)
        ck_assert_int_eq(log[i], i % 3);
    wk_future_drop(&s.base);
}
END_TEST

START_TEST(biased_first_listed_wins_a_tie)
{
    counter a = make_counter(0, 1), b = make_counter(1, 1);
    wk_select s;
    wk_select2_init(&s, &a.base, &b.base);
    s.biased = 1;
    waker_counts wc = {0};
    wk_waker w = counting_waker(&wc);
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_READY);
    ck_assert_int_eq(s.which, 0);
    ck_assert_int_eq(b.polls, 0); /* never polled, still dropped */
    ck_assert_int_eq(b.drops, 1);
    ck_assert_int_eq(a.drops, 0);
}
END_TEST

START_TEST(no_children_is_ready_at_once)
{
    wk_select s;
    wk_select_init(&s, NULL, 0);
    waker_counts wc = {0};
    wk_waker w = counting_waker(&wc);
    wk_context cx = {&w, NULL};
    ck_assert_int_eq(wk_future_poll(&s.base, &cx), WK_READY);
    ck_assert_int_eq(s.which, -1);
}
END_TEST

/* ---- sleep against sleep, on an executor ---- */
START_TEST(sleep_vs_sleep)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    wk_sleep slow, fast;
    wk_sleep_init(&slow, 500 * WK_NSEC_PER_MSEC);
    wk_sleep_init(&fast, 20 * WK_NSEC_PER_MSEC);
    wk_select s;
    wk_select2_init(&s, &slow.base, &fast.base);
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    uint64_t took = wk_now_ns() - t0;
    ck_assert_int_eq(s.which, 1);
    ck_assert_int_eq(fast.result, 0);
    ck_assert_uint_ge(took, 20 * WK_NSEC_PER_MSEC);
    ck_assert_uint_lt(took, 500 * WK_NSEC_PER_MSEC);
    ck_assert_uint_eq(ex->timers.count, 0); /* the slow sleep left the heap when dropped */
    wk_executor_free(ex);
}
END_TEST

/* ---- read or time out, over a socketpair ---- */
static void nonblocking_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

START_TEST(recv_vs_sleep_times_out)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[0]);
    uint8_t buf[8];
    wk_tcp_recv_some recv;
    wk_tcp_recv_some_init(&recv, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    wk_sleep sleep;
    wk_sleep_init(&sleep, 30 * WK_NSEC_PER_MSEC);
    wk_select s;
    wk_select2_init(&s, &recv.base, &sleep.base);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.which, 1); /* nobody wrote: timed out */
    ck_assert_uint_eq(ex->timers.count, 0);

    /* The wk_io stays usable: now data is there and the receive wins at once. */
    ck_assert_int_eq(write(sv[1], "hello", 5), 5);
    wk_tcp_recv_some_init(&recv, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    wk_sleep_init(&sleep, 3600 * WK_NSEC_PER_SEC);
    wk_select2_init(&s, &recv.base, &sleep.base);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.which, 0);
    ck_assert_int_eq(recv.result, 5);
    ck_assert_int_eq(memcmp(buf, "hello", 5), 0);
    ck_assert_uint_eq(ex->timers.count, 0); /* the hour-long sleep was dropped */
    wk_future_drop(&recv.base);
    wk_io_close(&io);
    close(sv[1]);
    wk_executor_free(ex);
}
END_TEST

/* ---- a select inside a coroutine task: wait for a line, printing "tick" on each timeout,
 * as a tokio::select! loop would ---- */
typedef struct ticker {
    wk_future base;
    int co;
    wk_io io;
    wk_tcp_recv_some recv;
    wk_sleep tick;
    wk_select sel;
    uint8_t buf[16];
    int ticks;
    long result; /* bytes received, or -errno */
} ticker;

static wk_poll ticker_poll(wk_future *f, wk_context *cx)
{
    ticker *t = (ticker *)f;
    WK_CO_BEGIN(t->co);
    for (;;) {
        wk_tcp_recv_some_init(&t->recv, &t->io, t->buf, sizeof t->buf, WK_DEADLINE_NEVER);
        wk_sleep_init(&t->tick, 10 * WK_NSEC_PER_MSEC);
        wk_select2_init(&t->sel, &t->recv.base, &t->tick.base);
        WK_CO_AWAIT(t->co, &t->sel, cx);
        if (t->sel.which == 0)
            break;
        t->ticks++;
    }
    t->result = (long)t->recv.result;
    wk_future_drop(&t->recv.base);
    wk_io_close(&t->io);
    WK_CO_END(t->co);
}

static void ticker_drop(wk_future *f)
{
    ticker *t = (ticker *)f;
    if (t->co != 0 && t->co != WK_CO_DONE)
        wk_future_drop(&t->sel.base);
    wk_io_close(&t->io);
}

static ticker make_ticker(int fd)
{
    ticker t;
    memset(&t, 0, sizeof t);
    t.base.poll = ticker_poll;
    t.base.drop = ticker_drop;
    wk_io_init(&t.io, fd);
    return t;
}

/* Writes its bytes after a delay. */
typedef struct late_writer {
    wk_future base;
    int co;
    int fd;
    wk_sleep sleep;
    int result;
} late_writer;

static wk_poll late_writer_poll(wk_future *f, wk_context *cx)
{
    late_writer *w = (late_writer *)f;
    WK_CO_BEGIN(w->co);
    wk_sleep_init(&w->sleep, 55 * WK_NSEC_PER_MSEC);
    WK_CO_AWAIT(w->co, &w->sleep, cx);
    w->result = (int)write(w->fd, "ping", 4);
    WK_CO_END(w->co);
}

static void late_writer_drop(wk_future *f)
{
    wk_future_drop(&((late_writer *)f)->sleep.base);
}

START_TEST(select_inside_a_coroutine)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    ticker t = make_ticker(sv[0]);
    late_writer w;
    memset(&w, 0, sizeof w);
    w.base.poll = late_writer_poll;
    w.base.drop = late_writer_drop;
    w.fd = sv[1];
    wk_task *ht, *hw;
    ck_assert_int_eq(WK_SPAWN(ex, ticker, &t, result, &ht), 0);
    ck_assert_int_eq(WK_SPAWN(ex, late_writer, &w, result, &hw), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    long got = 0;
    int wrote = 0;
    ck_assert_int_eq(wk_join_try(ht, &got), 0);
    ck_assert_int_eq(wk_join_try(hw, &wrote), 0);
    ck_assert_int_eq(wrote, 4);
    ck_assert_int_eq(got, 4);
    ck_assert_uint_eq(ex->timers.count, 0);
    close(sv[1]);
    wk_executor_free(ex);
}
END_TEST

START_TEST(select_inside_aborted_coroutine_drops_children)
{
    /* Aborting a task parked in a select drops the select, which drops both children:
     * the sleep leaves the heap and the socket (closed by the task's drop) is gone. */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    ticker t = make_ticker(sv[0]);
    wk_task *h;
    ck_assert_int_eq(WK_SPAWN(ex, ticker, &t, result, &h), 0);
    ck_assert_int_eq(wk_executor_run_one(ex), 1);
    ck_assert_uint_eq(ex->timers.count, 1);
    ck_assert_int_eq(wk_task_abort(h), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_uint_eq(ex->timers.count, 0);
    ck_assert_int_eq(wk_join_try(h, NULL), -ECANCELED);
    close(sv[1]);
    wk_executor_free(ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("select");
    TCase *tc = tcase_create("select");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, first_ready_wins_losers_dropped_once);
    tcase_add_test(tc, drop_unfinished_drops_every_child_once);
    tcase_add_test(tc, rotation_and_biased_order);
    tcase_add_test(tc, biased_first_listed_wins_a_tie);
    tcase_add_test(tc, no_children_is_ready_at_once);
    tcase_add_test(tc, sleep_vs_sleep);
    tcase_add_test(tc, recv_vs_sleep_times_out);
    tcase_add_test(tc, select_inside_a_coroutine);
    tcase_add_test(tc, select_inside_aborted_coroutine_drops_children);
    suite_add_tcase(s, tc);
    return check_run(s);
}
