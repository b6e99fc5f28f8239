/* tests/server/test_agent.c: the agent port (server/agent.c) served from the acceptor's loop
 * (server/acceptor.c), without workers: the test owns the loop and stops it with the
 * acceptor's timer.
 *
 * A healthy answer; then accept failing for lack of descriptors with no reserve left (the
 * soft RLIMIT_NOFILE lowered to the lowest free descriptor, so that nothing can be opened):
 * the agent pauses its watch (10 ms, doubling up to 100 ms) instead of spinning the
 * level-triggered loop, and answers the queued connection once descriptors are back. */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/tcp.h>
#include "acceptor.h"
#include "agent.h"
#include "dispatch.h"
#include "limit.h"
#include "options.h"
#include "../check_run.h"

static const char *status_up(void *arg)
{
    (void)arg;
    return "up ready\n";
}

static unsigned serve_calls;

/* agent_serve, counted: how often the loop called it. */
static void counting_serve(void *arg)
{
    serve_calls++;
    agent_serve(arg);
}

static void quit(void *arg)
{
    acceptor_quit(arg);
}

struct rig {
    struct server_options opt;
    struct dispatch dispatch;
    struct conn_limit limit;
    struct acceptor acceptor;
    struct agent agent;
    struct sockaddr_storage agent_addr;
    socklen_t agent_len;
};

static void loopback(struct sockaddr_storage *ss, socklen_t *len)
{
    memset(ss, 0, sizeof *ss);
    struct sockaddr_in *sin = (struct sockaddr_in *)ss;
    sin->sin_family = AF_INET;
    sin->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sin->sin_port = 0;
    *len = sizeof *sin;
}

static void rig_setup(struct rig *r)
{
    memset(r, 0, sizeof *r);
    r->opt.workers = 1;
    r->opt.verbosity = VERBOSITY_QUIET;
    ck_assert_int_eq(dispatch_init(&r->dispatch, 1, 0), 0);
    ck_assert_int_eq(limit_init(&r->limit, 1000), 0);
    struct sockaddr_storage ss;
    socklen_t len;
    loopback(&ss, &len);
    int lfd = wk_tcp_listen((struct sockaddr *)&ss, len, 16);
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(acceptor_init(&r->acceptor, &r->opt, &r->dispatch, &r->limit, lfd), 0);
    loopback(&r->agent_addr, &r->agent_len);
    ck_assert_int_eq(agent_open(&r->agent, &r->agent_addr, &r->agent_len, status_up, NULL), 0);
    r->agent.acceptor = &r->acceptor;
    ck_assert_int_eq(acceptor_watch(&r->acceptor, r->agent.lfd, counting_serve, &r->agent), 0);
    serve_calls = 0;
}

static void rig_free(struct rig *r)
{
    agent_close(&r->agent);
    acceptor_free(&r->acceptor);
    limit_free(&r->limit);
    dispatch_free(&r->dispatch);
}

/* Runs the acceptor's loop for ms milliseconds. */
static void run_for(struct rig *r, unsigned ms)
{
    r->acceptor.quit = 0;
    acceptor_set_timer(&r->acceptor, wk_now_ns() + (uint64_t)ms * WK_NSEC_PER_MSEC, quit,
                       &r->acceptor);
    ck_assert_int_eq(acceptor_run(&r->acceptor), 0);
}

/* A blocking client connected to the agent port (the connection waits in its backlog). */
static int agent_client(const struct rig *r)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert_int_ge(fd, 0);
    struct timeval tv = {.tv_sec = 5};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ck_assert_int_eq(connect(fd, (const struct sockaddr *)&r->agent_addr, r->agent_len), 0);
    return fd;
}

/* Everything the agent sent until EOF (bounded by the receive timeout). */
static size_t read_line(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t n = recv(fd, buf + got, cap - 1 - got, 0);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    buf[got] = '\0';
    return got;
}

START_TEST(answers_one_line_then_eof)
{
    struct rig r;
    rig_setup(&r);
    int c = agent_client(&r);
    run_for(&r, 100);
    char line[64];
    read_line(c, line, sizeof line);
    ck_assert_str_eq(line, "up ready\n");
    ck_assert_uint_eq(r.agent.served, 1);
    ck_assert_uint_eq(r.agent.pauses, 0);
    close(c);
    rig_free(&r);
}
END_TEST

START_TEST(out_of_descriptors_pauses_instead_of_spinning)
{
    struct rig r;
    rig_setup(&r);
    int c = agent_client(&r);

    /* No reserve, and no descriptor to open: every descriptor below the lowest free one
     * is in use, so a soft limit there leaves none. */
    close(r.agent.spare_fd);
    r.agent.spare_fd = -1;
    int lowest = dup(0);
    ck_assert_int_ge(lowest, 0);
    close(lowest);
    struct rlimit saved, low;
    ck_assert_int_eq(getrlimit(RLIMIT_NOFILE, &saved), 0);
    low = saved;
    low.rlim_cur = (rlim_t)lowest;
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &low), 0);
    int probe = dup(0);
    int probe_errno = errno;

    /* 300 ms: pauses of 10, 20, 40, 80, 100 ms cover it in five or six calls; a listener
     * left in the level-triggered set would be served thousands of times. */
    run_for(&r, 300);
    ck_assert_int_eq(setrlimit(RLIMIT_NOFILE, &saved), 0);
    ck_assert_int_eq(probe, -1);
    ck_assert_int_eq(probe_errno, EMFILE);
    ck_assert_uint_eq(r.agent.served, 0);
    ck_assert_uint_ge(r.agent.pauses, 3);
    ck_assert_uint_le(serve_calls, 12);

    /* Descriptors are back: the watch resumes when its pause is over (at most 100 ms),
     * the queued connection gets its line, and the reserve is taken again. */
    unsigned before = serve_calls;
    run_for(&r, 300);
    char line[64];
    read_line(c, line, sizeof line);
    ck_assert_str_eq(line, "up ready\n");
    ck_assert_uint_eq(r.agent.served, 1);
    ck_assert_uint_le(serve_calls - before, 3);
    ck_assert_int_ge(r.agent.spare_fd, 0);
    close(c);
    rig_free(&r);
}
END_TEST

static Suite *agent_suite(void)
{
    Suite *s = suite_create("agent");
    TCase *tc = tcase_create("agent");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, answers_one_line_then_eof);
    tcase_add_test(tc, out_of_descriptors_pauses_instead_of_spinning);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(agent_suite());
}
