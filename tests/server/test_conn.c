/* tests/server/test_conn.c: handle_client (server/conn.c) on its host interface, over a
 * socketpair, without threads, pipes or workers: the test is the host.
 *
 * Each case spawns one connection on a fresh executor and runs the executor until the
 * connection's task is done, then checks what the peer end received and what was counted:
 * a good frame, a bad one, one too large, a silent peer, a connection dropped unfinished,
 * and the lingering close (input past the frame). */
#include <check.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/executor.h>
#include "conn.h"
#include "options.h"
#include "../check_run.h"

#define REPLY "Hello, client!"

/* recv(2), counted: this definition comes before libc's for the whole test binary (conn.c
 * is linked in statically), so the tests can see how many system calls a connection makes
 * on its socket.  recv_fd: the descriptor counted, -1 for none. */
static int recv_fd = -1;
static int recv_calls;

ssize_t recv(int fd, void *buf, size_t len, int flags)
{
    static ssize_t (*real)(int, void *, size_t, int);
    if (real == NULL)
        *(void **)&real = dlsym(RTLD_NEXT, "recv");
    if (fd == recv_fd)
        recv_calls++;
    return real(fd, buf, len, flags);
}

static uint8_t scratch[64 * 1024];
static struct conn_counters counters;
static int closed_calls;

static void on_closed(struct conn_host *h)
{
    (void)h;
    closed_calls++;
}

/* A host like a worker's: one executor, the scratch buffer, the counters. */
static void host_setup(struct conn_host *h, struct server_options *opt, wk_executor **ex)
{
    memset(opt, 0, sizeof *opt);
    opt->workers = 1;
    opt->sleep_ms = 0;
    opt->max_frame = 1000;
    opt->read_timeout_ms = 10000;
    opt->drain_ms = 1000;
    opt->verbosity = VERBOSITY_QUIET;
    memset(&counters, 0, sizeof counters);
    closed_calls = 0;
    ck_assert_int_eq(wk_executor_new(ex), 0);
    memset(h, 0, sizeof *h);
    h->id = 1;
    h->ex = *ex;
    h->opt = opt;
    h->scratch = scratch;
    h->scratch_size = sizeof scratch;
    h->counters = &counters;
    h->closed = on_closed;
    conn_host_enter(h);
}

/* The server's end non-blocking, as accept4 gives it; the test's end blocking. */
static void pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv), 0);
    int fl = fcntl(sv[0], F_GETFL);
    ck_assert_int_ge(fl, 0);
    ck_assert_int_eq(fcntl(sv[0], F_SETFL, fl | O_NONBLOCK), 0);
}

static size_t frame(uint8_t *out, uint32_t f1, uint16_t f2, const char *text, uint32_t n)
{
    out[0] = (uint8_t)f1;
    out[1] = (uint8_t)(f1 >> 8);
    out[2] = (uint8_t)(f1 >> 16);
    out[3] = (uint8_t)(f1 >> 24);
    out[4] = (uint8_t)f2;
    out[5] = (uint8_t)(f2 >> 8);
    out[6] = (uint8_t)n;
    out[7] = (uint8_t)(n >> 8);
    out[8] = (uint8_t)(n >> 16);
    out[9] = (uint8_t)(n >> 24);
    size_t len = strlen(text);
    memcpy(out + 10, text, len);
    return 10 + len;
}

/* Everything the server end sent until EOF (the test's end is blocking; the server end
 * is closed by then, so this cannot hang). */
static size_t read_all(int fd, char *buf, size_t cap)
{
    size_t got = 0;
    for (;;) {
        ssize_t r = read(fd, buf + got, cap - got);
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    return got;
}

static uint64_t load(const AO_t *c)
{
    return AO_load(c);
}

/* Runs the executor until the connection's task is done; returns the elapsed ms. */
static uint64_t run(wk_executor *ex)
{
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_executor_run(ex), 0);
    ck_assert_uint_eq(wk_executor_task_count(ex), 0);
    return (wk_now_ns() - t0) / WK_NSEC_PER_MSEC;
}

/* One connection's test: the host, its executor, and the socketpair (sv[0] the server's
 * end, given to conn_spawn; sv[1] the peer's). */
struct rig {
    struct conn_host h;
    struct server_options opt;
    wk_executor *ex;
    int sv[2];
};

static void rig_open(struct rig *r)
{
    host_setup(&r->h, &r->opt, &r->ex);
    pair(r->sv);
}

/* The peer writes a frame of field3 text, declaring declared bytes (more than text holds:
 * a frame cut short; more than --max-frame: one refused at its header). */
static void peer_sends_frame(struct rig *r, const char *text, uint32_t declared)
{
    uint8_t buf[64];
    size_t n = frame(buf, 1, 1, text, declared);
    ck_assert_int_eq(write(r->sv[1], buf, n), (ssize_t)n);
}

/* The peer end reads exactly the reply, then EOF. */
static void expect_reply_then_eof(struct rig *r)
{
    char got[64];
    size_t len = read_all(r->sv[1], got, sizeof got);
    ck_assert_uint_eq(len, strlen(REPLY));
    ck_assert(memcmp(got, REPLY, len) == 0);
}

/* The peer end reads EOF at once: closed without a reply. */
static void expect_eof_only(struct rig *r)
{
    char got[64];
    ck_assert_uint_eq(read_all(r->sv[1], got, sizeof got), 0);
}

/* The connection reported its one close; then the peer end and the executor go. */
static void rig_close(struct rig *r)
{
    ck_assert_int_eq(closed_calls, 1);
    close(r->sv[1]);
    wk_executor_free(r->ex);
}

/* One good frame with --sleep-ms sleep_ms: the reply then EOF, counted, and exactly
 * recv_want recv calls on the socket. */
static void good_request(unsigned sleep_ms, int recv_want)
{
    struct rig r;
    rig_open(&r);
    r.opt.sleep_ms = sleep_ms;
    peer_sends_frame(&r, "Hello, server! 1", 16);

    recv_fd = r.sv[0];
    recv_calls = 0;
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    ck_assert_uint_eq(load(&counters.connections), 1);
    uint64_t ms = run(r.ex);
    ck_assert_int_eq(recv_calls, recv_want);
    recv_fd = -1;

    ck_assert_uint_lt(ms, 1000); /* no linger: nothing was left unread */
    expect_reply_then_eof(&r);
    ck_assert_uint_eq(load(&counters.replies), 1);
    ck_assert_uint_eq(load(&counters.bad_frames) + load(&counters.timeouts) +
                          load(&counters.resets), 0);
    rig_close(&r);
}

/* The frame's read is the only recv: it emptied the socket and the reply went out in the
 * same poll, so the close needs no look for unread input (unread_input in conn.c). */
START_TEST(good_frame_gets_the_reply_then_eof)
{
    good_request(0, 1);
}
END_TEST

START_TEST(bad_frame_closes_without_a_reply)
{
    struct rig r;
    rig_open(&r);
    peer_sends_frame(&r, "ok \xc3\x28", 5); /* a lead byte, then ASCII */
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    run(r.ex);

    expect_eof_only(&r);
    ck_assert_uint_eq(load(&counters.bad_frames), 1);
    ck_assert_uint_eq(load(&counters.replies), 0);
    rig_close(&r);
}
END_TEST

START_TEST(too_large_frame_closes_without_a_reply)
{
    struct rig r;
    rig_open(&r);
    peer_sends_frame(&r, "", 1001); /* --max-frame 1000 + 1: refused at the header */
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    run(r.ex);

    expect_eof_only(&r);
    ck_assert_uint_eq(load(&counters.bad_frames), 1);
    rig_close(&r);
}
END_TEST

START_TEST(silent_peer_times_out)
{
    struct rig r;
    rig_open(&r);
    r.opt.read_timeout_ms = 150;
    peer_sends_frame(&r, "Hello", 16); /* 11 of 16 bytes: then nothing */
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    uint64_t ms = run(r.ex);

    ck_assert_uint_ge(ms, 150);
    ck_assert_uint_lt(ms, 2000);
    expect_eof_only(&r);
    ck_assert_uint_eq(load(&counters.timeouts), 1);
    ck_assert_uint_eq(load(&counters.replies), 0);
    rig_close(&r);
}
END_TEST

START_TEST(dropped_unfinished_reports_the_close)
{
    struct rig r;
    rig_open(&r);
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    ck_assert_int_eq(wk_executor_run_one(r.ex), 1); /* reads nothing, waits */
    ck_assert_int_eq(closed_calls, 0);
    wk_executor_free(r.ex);                          /* the drain deadline's cancel */
    ck_assert_int_eq(closed_calls, 1);
    expect_eof_only(&r);
    close(r.sv[1]);
}
END_TEST

/* With --sleep-ms the peer had time to send more: one non-blocking recv looks for unread
 * input before the close (the lingering close's whole cost for a peer that sent nothing
 * more), finds none, and the close is a plain one. */
START_TEST(after_a_sleep_the_close_looks_for_unread_input)
{
    good_request(20, 2); /* the frame's recv, then the look */
}
END_TEST

/* Bytes sent past the frame: the reply, then a lingering close that reads them away; the
 * peer's EOF ends the linger at once. */
START_TEST(extra_input_lingers_until_the_peer_closes)
{
    struct rig r;
    rig_open(&r);
    uint8_t buf[64 + 4096];
    size_t n = frame(buf, 1, 1, "Hello, server! 1", 16);
    memset(buf + n, 'x', 4096); /* read with the frame: the decoder sees them */
    ck_assert_int_eq(write(r.sv[1], buf, n + 4096), (ssize_t)(n + 4096));
    ck_assert_int_eq(shutdown(r.sv[1], SHUT_WR), 0);
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    uint64_t ms = run(r.ex);

    ck_assert_uint_lt(ms, 1000); /* ended by the peer's EOF, not by the 2 s bound */
    expect_reply_then_eof(&r);
    ck_assert_uint_eq(load(&counters.replies), 1);
    rig_close(&r);
}
END_TEST

/* A peer that sent more and never closes: the reply and the server's FIN arrive at once
 * (shutdown(SHUT_WR)); the socket itself is closed when the linger's 2 s are up. */
START_TEST(linger_is_bounded)
{
    struct rig r;
    rig_open(&r);
    r.opt.sleep_ms = 50;
    peer_sends_frame(&r, "Hello, server! 1", 16);
    ck_assert_int_eq(conn_spawn(r.sv[0], NULL), 0);
    ck_assert_int_eq(wk_executor_run_one(r.ex), 1); /* reads the frame, goes to sleep */
    ck_assert_int_eq(write(r.sv[1], "more", 4), 4);  /* during the sleep: found after the reply */
    uint64_t ms = run(r.ex);

    ck_assert_uint_ge(ms, 2000);
    ck_assert_uint_lt(ms, 4000);
    expect_reply_then_eof(&r);
    ck_assert_uint_eq(load(&counters.replies), 1);
    rig_close(&r);
}
END_TEST

static Suite *conn_suite(void)
{
    Suite *s = suite_create("conn");
    TCase *tc = tcase_create("handle_client");
    tcase_set_timeout(tc, 10);
    tcase_add_test(tc, good_frame_gets_the_reply_then_eof);
    tcase_add_test(tc, bad_frame_closes_without_a_reply);
    tcase_add_test(tc, too_large_frame_closes_without_a_reply);
    tcase_add_test(tc, silent_peer_times_out);
    tcase_add_test(tc, dropped_unfinished_reports_the_close);
    tcase_add_test(tc, after_a_sleep_the_close_looks_for_unread_input);
    tcase_add_test(tc, extra_input_lingers_until_the_peer_closes);
    tcase_add_test(tc, linger_is_bounded);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return check_run(conn_suite());
}
