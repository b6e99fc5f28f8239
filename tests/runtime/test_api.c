/* tests/runtime/test_api.c: public names settled for 1.0: wk_io_release (a descriptor
 * handed back to the caller, out of the epoll set), and the deprecated pre-1.0 names, each
 * used once with its warning silenced here, still working. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"

static void nonblocking_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

static int fd_is_open(int fd)
{
    return fcntl(fd, F_GETFD) != -1;
}

/* ---- wk_io_release ---- */

START_TEST(release_unregistered)
{
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[1]);
    ck_assert_int_eq(wk_io_release(&io), sv[1]);
    ck_assert_int_eq(io.fd, -1);
    ck_assert_int_eq(wk_io_close(&io), 0); /* owns nothing now: closes nothing */
    ck_assert(fd_is_open(sv[1]));
    ck_assert_int_eq(wk_io_release(&io), -1); /* a second release gives nothing */
    close(sv[0]);
    close(sv[1]);
}
END_TEST

/* Registers io with the executor (a wait that times out), then releases it. */
typedef struct wait_then_release {
    wk_future base;
    int co;
    wk_io *io;
    wk_tcp_wait wait;
    int wait_result;
    int released;        /* output: what wk_io_release returned */
} wait_then_release;

static wk_poll wait_then_release_poll(wk_future *f, wk_context *cx)
{
    wait_then_release *s = (wait_then_release *)f;
    WK_CO_BEGIN(s->co);
    wk_tcp_wait_init(&s->wait, s->io, WK_IO_READ, wk_deadline_in_ms(20));
    WK_CO_AWAIT(s->co, &s->wait, cx);
    s->wait_result = s->wait.result;
    wk_future_drop(&s->wait.base);
    s->released = wk_io_release(s->io);
    WK_CO_END(s->co);
}

START_TEST(release_registered_leaves_the_epoll_set)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[1]);

    wait_then_release s;
    memset(&s, 0, sizeof s);
    s.base.poll = wait_then_release_poll;
    s.io = &io;
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.wait_result, -ETIMEDOUT); /* it did wait: it was registered */
    ck_assert_int_eq(s.released, sv[1]);
    ck_assert_int_eq(io.fd, -1);
    ck_assert_int_eq(io.registered, 0);
    ck_assert(fd_is_open(sv[1]));

    /* Out of the epoll set: registering the descriptor again (a new wk_io, the same
     * executor) succeeds instead of failing with EEXIST, and readiness reaches the new one. */
    ck_assert_int_eq(write(sv[0], "x", 1), 1);
    wk_io again;
    wk_io_init(&again, sv[1]);
    wk_tcp_wait w;
    wk_tcp_wait_init(&w, &again, WK_IO_READ, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &w.base), 0);
    ck_assert_int_eq(w.result, 0);
    char c;
    ck_assert_int_eq(read(sv[1], &c, 1), 1);
    wk_future_drop(&w.base);

    /* A peer event after the release reaches nobody (the old wk_io is gone from epoll):
     * nothing to observe but that the executor stays sound. */
    ck_assert_int_eq(wk_io_close(&again), 0);
    ck_assert(!fd_is_open(sv[1]));
    close(sv[0]);
    wk_executor_free(ex);
}
END_TEST

/* ---- the deprecated names ---- */

START_TEST(send_all2_still_works)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[0]);
    wk_tcp_send_all s;
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wdeprecated-declarations"
    wk_tcp_send_all2_init(&s, &io, "head", 4, "body", 4, WK_DEADLINE_NEVER);
#pragma GCC diagnostic pop
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, 0);
    char buf[16];
    ck_assert_int_eq(read(sv[1], buf, sizeof buf), 8);
    ck_assert(memcmp(buf, "headbody", 8) == 0);
    wk_future_drop(&s.base);
    wk_io_close(&io);
    close(sv[1]);
    wk_executor_free(ex);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("api");
    TCase *tc = tcase_create("api");
    tcase_add_test(tc, release_unregistered);
    tcase_add_test(tc, release_registered_leaves_the_epoll_set);
    tcase_add_test(tc, send_all2_still_works);
    suite_add_tcase(s, tc);
    return check_run(s);
}
