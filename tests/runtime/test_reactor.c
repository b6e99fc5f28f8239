/* tests/runtime/test_reactor.c: the reactor interface (runtime/reactor.h) on its own, as a
 * second backend would have to pass it: tags handed back, level and edge interest, a
 * notify from another thread ending a blocking wait, disarm, and more ready descriptors
 * than one wait reports.  Every blocking wait here has a timeout, so a lost wake-up fails
 * the test instead of hanging it. */
#include <check.h>
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include "reactor.h"
#include "../check_run.h"

static wk__reactor_event fired[WK__REACTOR_EVENTS];

static wk__reactor *new_reactor(void)
{
    wk__reactor *r = NULL;
    ck_assert_int_eq(wk__reactor_create(&r), 0);
    ck_assert_ptr_nonnull(r);
    return r;
}

START_TEST(create_free_name)
{
    wk__reactor *r = new_reactor();
    ck_assert_str_eq(wk__reactor_name(), "epoll");
    /* Nothing armed, nothing notified: a non-blocking wait reports nothing. */
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);
    wk__reactor_free(r);
    wk__reactor_free(NULL);
}
END_TEST

/* Level-triggered read interest (a wake-up descriptor): reported while readable. */
START_TEST(level_read_reports_tag_until_drained)
{
    wk__reactor *r = new_reactor();
    int p[2];
    char tag;
    ck_assert_int_eq(pipe(p), 0);
    ck_assert_int_eq(wk__reactor_arm(r, p[0], WK__REACTOR_READ, &tag), 0);
    ck_assert_int_eq(wk__reactor_arm(r, p[0], WK__REACTOR_READ, &tag), -EEXIST);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);

    ck_assert_int_eq(write(p[1], "x", 1), 1);
    for (int i = 0; i < 2; i++) { /* level: again and again until read */
        ck_assert_int_eq(wk__reactor_wait(r, fired, 1000), 1);
        ck_assert_ptr_eq(fired[0].tag, &tag);
        ck_assert_uint_eq(fired[0].events, WK__REACTOR_READ);
    }
    char c;
    ck_assert_int_eq(read(p[0], &c, 1), 1);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);

    /* The writer goes away: the reader must wake up (to read EOF). */
    close(p[1]);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 1000), 1);
    ck_assert_uint_eq(fired[0].events & WK__REACTOR_READ, WK__REACTOR_READ);

    ck_assert_int_eq(wk__reactor_disarm(r, p[0]), 0);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);
    ck_assert_int_eq(wk__reactor_disarm(r, p[0]), -ENOENT);
    ck_assert_int_eq(wk__reactor_arm(r, -1, WK__REACTOR_READ, &tag), -EBADF);
    close(p[0]);
    wk__reactor_free(r);
}
END_TEST

/* Edge-triggered, both directions (a wk_io): each change reported once. */
START_TEST(edge_both_directions_once_per_change)
{
    wk__reactor *r = new_reactor();
    int sv[2];
    char tag;
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv), 0);
    const uint32_t both = WK__REACTOR_READ | WK__REACTOR_WRITE | WK__REACTOR_EDGE;
    ck_assert_int_eq(wk__reactor_arm(r, sv[0], both, &tag), 0);
    /* Readiness that exists when armed (writable) is reported, once. */
    ck_assert_int_eq(wk__reactor_wait(r, fired, 1000), 1);
    ck_assert_ptr_eq(fired[0].tag, &tag);
    ck_assert_uint_eq(fired[0].events, WK__REACTOR_WRITE);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);

    ck_assert_int_eq(write(sv[1], "ab", 2), 2);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 1000), 1);
    ck_assert_ptr_eq(fired[0].tag, &tag);
    ck_assert_uint_eq(fired[0].events & WK__REACTOR_READ, WK__REACTOR_READ);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0); /* unread, but no new edge */

    /* The peer closes: a reader and a writer both wake to find it. */
    close(sv[1]);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 1000), 1);
    ck_assert_uint_eq(fired[0].events, WK__REACTOR_READ | WK__REACTOR_WRITE);

    /* Closing the only descriptor takes it out with no disarm. */
    close(sv[0]);
    ck_assert_int_eq(wk__reactor_wait(r, fired, 0), 0);
    wk__reactor_free(r);
}
END_TEST

/* ---- notify ---- */

static void *notify_later(void *arg)
{
    usleep(20 * 1000);
    wk__reactor_notify(arg);
    return NULL;
}

START_TEST(notify_ends_a_blocking_wait_and_is_consumed)
{
    wk__reactor *r = new_reactor();

    /* From another thread, while the wait blocks with no limit.  If the notify were lost
     * the test would hang: Check's timeout then fails it. */
    pthread_t th;
    ck_assert_int_eq(pthread_create(&th, NULL, notify_later, r), 0);
    ck_assert_int_eq(wk__reactor_wait(r, fired, -1), 0);
    pthread_join(th, NULL);

    /* Before the wait: the next wait returns at once.  Several count as one and are not
     * reported as events; once consumed, a wait runs to its timeout again. */
    wk__reactor_notify(r);
    wk__reactor_notify(r);
    wk__reactor_notify(r);
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk__reactor_wait(r, fired, 5000), 0);
    ck_assert_uint_lt(wk_now_ns() - t0, 2000 * WK_NSEC_PER_MSEC);
    t0 = wk_now_ns();
    ck_assert_int_eq(wk__reactor_wait(r, fired, 50), 0);
    ck_assert_uint_ge(wk_now_ns() - t0, 45 * WK_NSEC_PER_MSEC);
    wk__reactor_free(r);
}
END_TEST

/* More ready descriptors than one wait reports: the rest come with the next waits. */
#define MANY (WK__REACTOR_EVENTS + 44)

START_TEST(more_ready_than_one_wait_reports)
{
    wk__reactor *r = new_reactor();
    static int fds[MANY][2];
    static char tags[MANY];
    static int seen[MANY];
    memset(seen, 0, sizeof seen);
    for (int i = 0; i < MANY; i++) {
        ck_assert_int_eq(pipe(fds[i]), 0);
        ck_assert_int_eq(write(fds[i][1], "x", 1), 1);
        ck_assert_int_eq(wk__reactor_arm(r, fds[i][0], WK__REACTOR_READ | WK__REACTOR_EDGE,
                                         &tags[i]),
                         0);
    }
    int total = 0;
    for (int pass = 0; pass < 3; pass++) {
        int n = wk__reactor_wait(r, fired, 0);
        ck_assert_int_ge(n, 0);
        ck_assert_int_le(n, WK__REACTOR_EVENTS);
        for (int i = 0; i < n; i++) {
            int k = (int)((char *)fired[i].tag - tags);
            ck_assert_int_ge(k, 0);
            ck_assert_int_lt(k, MANY);
            ck_assert_int_eq(seen[k], 0); /* edge: each once */
            seen[k] = 1;
        }
        total += n;
    }
    ck_assert_int_eq(total, MANY);
    for (int i = 0; i < MANY; i++) {
        close(fds[i][0]);
        close(fds[i][1]);
    }
    wk__reactor_free(r);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("reactor");
    TCase *tc = tcase_create("reactor");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, create_free_name);
    tcase_add_test(tc, level_read_reports_tag_until_drained);
    tcase_add_test(tc, edge_both_directions_once_per_change);
    tcase_add_test(tc, notify_ends_a_blocking_wait_and_is_consumed);
    tcase_add_test(tc, more_ready_than_one_wait_reports);
    suite_add_tcase(s, tc);
    return check_run(s);
}
