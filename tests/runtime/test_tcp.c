/* tests/runtime/test_tcp.c: the TCP futures over socketpairs and loopback. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/wakeful.h>
#include "../check_run.h"

#define PAYLOAD (16u << 20) /* 16 MiB: far more than a socket buffer, so writes are partial */

static void nonblocking_pair(int sv[2])
{
    ck_assert_int_eq(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, sv), 0);
}

/* A sender and a receiver task over one pair, on one executor. */
typedef struct sender {
    wk_future base;
    int co;
    wk_io io;
    wk_tcp_send_all send;
    const uint8_t *buf;
    size_t len;
    const uint8_t *buf2; /* optional second piece */
    size_t len2;
    int result;
} sender;

static wk_poll sender_poll(wk_future *f, wk_context *cx)
{
    sender *s = (sender *)f;
    WK_CO_BEGIN(s->co);
    wk_tcp_send_all_pair_init(&s->send, &s->io, s->buf, s->len, s->buf2, s->len2,
                              WK_DEADLINE_NEVER);
    WK_CO_AWAIT(s->co, &s->send, cx);
    s->result = s->send.result;
    wk_io_close(&s->io); /* EOF for the receiver */
    WK_CO_END(s->co);
}

static void sender_drop(wk_future *f)
{
    sender *s = (sender *)f;
    wk_future_drop(&s->send.base);
    wk_io_close(&s->io);
}

typedef struct receiver {
    wk_future base;
    int co;
    wk_io io;
    wk_tcp_recv_to_eof recv;
    uint8_t *buf;
    size_t cap;
    long result;
} receiver;

static wk_poll receiver_poll(wk_future *f, wk_context *cx)
{
    receiver *r = (receiver *)f;
    WK_CO_BEGIN(r->co);
    wk_tcp_recv_to_eof_init(&r->recv, &r->io, r->buf, r->cap, WK_DEADLINE_NEVER);
    WK_CO_AWAIT(r->co, &r->recv, cx);
    r->result = (long)r->recv.result;
    wk_io_close(&r->io);
    WK_CO_END(r->co);
}

static void receiver_drop(wk_future *f)
{
    receiver *r = (receiver *)f;
    wk_future_drop(&r->recv.base);
    wk_io_close(&r->io);
}

/* Sends head (and body, when not NULL) from one end of a fresh non-blocking pair and
 * receives to EOF into in[0..cap) at the other, two tasks on ex; returns the receiver's
 * result and checks that the sender's was 0. */
static long send_and_receive(wk_executor *ex, const uint8_t *head, size_t head_len,
                             const uint8_t *body, size_t body_len, uint8_t *in, size_t cap)
{
    int sv[2];
    nonblocking_pair(sv);
    sender s = {.base = {sender_poll, sender_drop}, .buf = head, .len = head_len,
                .buf2 = body, .len2 = body_len};
    wk_io_init(&s.io, sv[0]);
    receiver r = {.base = {receiver_poll, receiver_drop}, .buf = in, .cap = cap};
    wk_io_init(&r.io, sv[1]);
    wk_task *hs, *hr;
    ck_assert_int_eq(WK_SPAWN(ex, sender, &s, result, &hs), 0);
    ck_assert_int_eq(WK_SPAWN(ex, receiver, &r, result, &hr), 0);
    ck_assert_int_eq(wk_executor_run(ex), 0);
    int sent = -1;
    long got = -1;
    ck_assert_int_eq(wk_join_try(hs, &sent), 0);
    ck_assert_int_eq(wk_join_try(hr, &got), 0);
    ck_assert_int_eq(sent, 0);
    return got;
}

START_TEST(send_all_16mib_and_eof)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    uint8_t *out = malloc(PAYLOAD), *in = malloc(PAYLOAD + 1);
    for (size_t i = 0; i < PAYLOAD; i++)
        out[i] = (uint8_t)(i * 2654435761u >> 24);
    long got = send_and_receive(ex, out, PAYLOAD, NULL, 0, in, PAYLOAD + 1);
    ck_assert_int_eq(got, (long)PAYLOAD);
    ck_assert(memcmp(in, out, PAYLOAD) == 0);
    wk_executor_stats st;
    wk_executor_get_stats(ex, &st);
    ck_assert_uint_gt(st.polls, 4); /* it really waited: the payload did not fit at once */
    free(out);
    free(in);
    wk_executor_free(ex);
}
END_TEST

START_TEST(send_all_two_pieces)
{
    /* A header and a 16 MiB body as one stream: partial writes inside either piece. */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    uint8_t head[10] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10};
    uint8_t *body = malloc(PAYLOAD), *in = malloc(PAYLOAD + 11);
    for (size_t i = 0; i < PAYLOAD; i++)
        body[i] = (uint8_t)(i * 2654435761u >> 24);
    long got = send_and_receive(ex, head, sizeof head, body, PAYLOAD, in, PAYLOAD + 11);
    ck_assert_int_eq(got, (long)(PAYLOAD + sizeof head));
    ck_assert(memcmp(in, head, sizeof head) == 0);
    ck_assert(memcmp(in + sizeof head, body, PAYLOAD) == 0);
    free(body);
    free(in);
    wk_executor_free(ex);
}
END_TEST

START_TEST(recv_to_eof_cap_exceeded)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    ck_assert_int_eq(write(sv[0], "Hello, client!!", 15), 15);
    close(sv[0]);
    uint8_t buf[14];
    wk_io io;
    wk_io_init(&io, sv[1]);
    wk_tcp_recv_to_eof r;
    wk_tcp_recv_to_eof_init(&r, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &r.base), 0);
    ck_assert_int_eq(r.result, -EMSGSIZE);
    /* Exactly the capacity is fine. */
    wk_io_close(&io);
    nonblocking_pair(sv);
    ck_assert_int_eq(write(sv[0], "Hello, client!", 14), 14);
    close(sv[0]);
    wk_io_init(&io, sv[1]);
    wk_tcp_recv_to_eof_init(&r, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &r.base), 0);
    ck_assert_int_eq(r.result, 14);
    ck_assert(memcmp(buf, "Hello, client!", 14) == 0);
    wk_io_close(&io);
    wk_executor_free(ex);
}
END_TEST

START_TEST(recv_exact_and_some)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[1]);
    ck_assert_int_eq(write(sv[0], "abcdefgh", 8), 8);
    uint8_t buf[16];
    wk_tcp_recv_exact e;
    wk_tcp_recv_exact_init(&e, &io, buf, 5, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &e.base), 0);
    ck_assert_int_eq(e.result, 5);
    wk_tcp_recv_some s;
    wk_tcp_recv_some_init(&s, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, 3);
    ck_assert(memcmp(buf, "fgh", 3) == 0);
    /* The peer closes with 2 of 4 bytes sent: recv_exact reports EPIPE. */
    ck_assert_int_eq(write(sv[0], "xy", 2), 2);
    close(sv[0]);
    wk_tcp_recv_exact_init(&e, &io, buf, 4, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &e.base), 0);
    ck_assert_int_eq(e.result, -EPIPE);
    wk_tcp_recv_some_init(&s, &io, buf, sizeof buf, WK_DEADLINE_NEVER);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, 0); /* EOF */
    wk_io_close(&io);
    wk_executor_free(ex);
}
END_TEST

START_TEST(recv_times_out)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[1]);
    uint8_t buf[4];
    wk_tcp_recv_some s;
    uint64_t deadline = wk_deadline_in_ms(50);
    wk_tcp_recv_some_init(&s, &io, buf, sizeof buf, deadline);
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, -ETIMEDOUT);
    ck_assert_uint_ge(wk_now_ns(), deadline);
    /* The wk_io stays usable after a timed-out operation. */
    ck_assert_int_eq(write(sv[0], "ok", 2), 2);
    wk_tcp_recv_some_init(&s, &io, buf, sizeof buf, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, 2);
    wk_io_close(&io);
    close(sv[0]);
    wk_executor_free(ex);
}
END_TEST

/* A TCP peer that resets: RST instead of FIN, by SO_LINGER 0. */
static void reset_close(int fd)
{
    struct linger lg = {1, 0};
    setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    close(fd);
}

/* Loopback listener on port 0; returns its fd and fills addr. */
static int loopback_listener(struct sockaddr_storage *addr, socklen_t *len)
{
    ck_assert_int_eq(wk_sockaddr_parse("127.0.0.1", 0, addr, len), 0);
    int fd = wk_tcp_listen((struct sockaddr *)addr, *len, 16);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)addr, len), 0);
    return fd;
}

START_TEST(connect_accept_and_reset)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    struct sockaddr_storage addr;
    socklen_t len;
    wk_io listener;
    wk_io_init(&listener, loopback_listener(&addr, &len));

    wk_io client;
    wk_tcp_connect c;
    wk_tcp_connect_init(&c, &client, (struct sockaddr *)&addr, len, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &c.base), 0);
    ck_assert_int_eq(c.result, 0);
    ck_assert_int_ge(client.fd, 0);

    struct sockaddr_storage peer;
    wk_tcp_accept a;
    wk_tcp_accept_init(&a, &listener, &peer, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &a.base), 0);
    ck_assert_int_ge(a.result, 0);
    char text[64];
    wk_sockaddr_format((struct sockaddr *)&peer, text, sizeof text);
    ck_assert_msg(strncmp(text, "127.0.0.1:", 10) == 0, "peer %s", text);

    /* The server side resets; the client's receive reports it as an error. */
    reset_close(a.result);
    uint8_t buf[8];
    wk_tcp_recv_some r;
    wk_tcp_recv_some_init(&r, &client, buf, sizeof buf, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &r.base), 0);
    ck_assert_int_eq(r.result, -ECONNRESET);
    /* Sending to it: an error (ECONNRESET or EPIPE folded into it), never SIGPIPE. */
    wk_tcp_send_all s;
    wk_tcp_send_all_init(&s, &client, "x", 1, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
    ck_assert_int_eq(s.result, -ECONNRESET);
    wk_io_close(&client);
    wk_io_close(&listener);
    wk_executor_free(ex);
}
END_TEST

START_TEST(connect_refused)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    /* Bind a port, close it: nobody listens there now. */
    struct sockaddr_storage addr;
    socklen_t len;
    close(loopback_listener(&addr, &len));
    wk_io client;
    wk_tcp_connect c;
    wk_tcp_connect_init(&c, &client, (struct sockaddr *)&addr, len, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &c.base), 0);
    ck_assert_int_eq(c.result, -ECONNREFUSED);
    ck_assert_int_eq(client.fd, -1); /* the failed socket was closed */
    wk_executor_free(ex);
}
END_TEST

START_TEST(connect_start_reports_refusal_at_send)
{
    /* The early connect is READY at once; the refusal surfaces at the first send. */
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    struct sockaddr_storage addr;
    socklen_t len;
    close(loopback_listener(&addr, &len));
    wk_io client;
    wk_tcp_connect c;
    wk_tcp_connect_start_init(&c, &client, (struct sockaddr *)&addr, len, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &c.base), 0);
    if (c.result == 0) {
        wk_tcp_send_all s;
        wk_tcp_send_all_init(&s, &client, "hello", 5, wk_deadline_in_ms(5000));
        ck_assert_int_eq(wk_block_on(ex, &s.base), 0);
        ck_assert_int_eq(s.result, -ECONNREFUSED);
    } else {
        ck_assert_int_eq(c.result, -ECONNREFUSED); /* refused at once: also fine */
    }
    wk_io_close(&client);
    wk_executor_free(ex);
}
END_TEST

START_TEST(wait_registers_then_wakes_or_times_out)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    int sv[2];
    nonblocking_pair(sv);
    wk_io io;
    wk_io_init(&io, sv[1]);
    /* Nothing comes: the wait ends at its deadline, having registered the descriptor. */
    wk_tcp_wait w;
    uint64_t deadline = wk_deadline_in_ms(30);
    wk_tcp_wait_init(&w, &io, WK_IO_READ, deadline);
    ck_assert_int_eq(wk_block_on(ex, &w.base), 0);
    ck_assert_int_eq(w.result, -ETIMEDOUT);
    ck_assert_uint_ge(wk_now_ns(), deadline);
    ck_assert_int_eq(io.registered, 1);
    wk_io_close(&io);
    /* A fresh descriptor with bytes already waiting: the registration reports them. */
    nonblocking_pair(sv);
    wk_io_init(&io, sv[1]);
    ck_assert_int_eq(write(sv[0], "x", 1), 1);
    wk_tcp_wait_init(&w, &io, WK_IO_READ, wk_deadline_in_ms(5000));
    uint64_t t0 = wk_now_ns();
    ck_assert_int_eq(wk_block_on(ex, &w.base), 0);
    ck_assert_int_eq(w.result, 0);
    ck_assert_uint_lt(wk_now_ns() - t0, 4000 * WK_NSEC_PER_MSEC);
    wk_io_close(&io);
    close(sv[0]);
    wk_executor_free(ex);
}
END_TEST

START_TEST(connect_ipv6_loopback)
{
    wk_executor *ex;
    ck_assert_int_eq(wk_executor_new(&ex), 0);
    struct sockaddr_storage addr;
    socklen_t len;
    ck_assert_int_eq(wk_sockaddr_parse("[::1]", 0, &addr, &len), 0);
    int lfd = wk_tcp_listen((struct sockaddr *)&addr, len, 4);
    if (lfd == -EADDRNOTAVAIL || lfd == -EAFNOSUPPORT) {
        /* No IPv6 on this machine: nothing to test here. */
        wk_executor_free(ex);
        return;
    }
    ck_assert_int_ge(lfd, 0);
    ck_assert_int_eq(getsockname(lfd, (struct sockaddr *)&addr, &len), 0);
    wk_io client;
    wk_tcp_connect c;
    wk_tcp_connect_init(&c, &client, (struct sockaddr *)&addr, len, wk_deadline_in_ms(5000));
    ck_assert_int_eq(wk_block_on(ex, &c.base), 0);
    ck_assert_int_eq(c.result, 0);
    char text[64];
    wk_sockaddr_format((struct sockaddr *)&addr, text, sizeof text);
    ck_assert_msg(strncmp(text, "[::1]:", 6) == 0, "%s", text);
    wk_io_close(&client);
    close(lfd);
    wk_executor_free(ex);
}
END_TEST

START_TEST(address_parsing)
{
    struct sockaddr_storage a;
    socklen_t len;
    ck_assert_int_eq(wk_sockaddr_parse("127.0.0.1", 80, &a, &len), 0);
    ck_assert_int_eq(a.ss_family, AF_INET);
    ck_assert_int_eq(wk_sockaddr_parse("::1", 80, &a, &len), 0);
    ck_assert_int_eq(a.ss_family, AF_INET6);
    ck_assert_int_eq(wk_sockaddr_parse("localhost", 80, &a, &len), -EINVAL);
    ck_assert_int_eq(wk_sockaddr_parse("1.2.3", 80, &a, &len), -EINVAL);
    ck_assert_int_eq(wk_sockaddr_parse("[::1", 80, &a, &len), -EINVAL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("tcp");
    TCase *tc = tcase_create("tcp");
    tcase_set_timeout(tc, 100);
    tcase_add_test(tc, send_all_16mib_and_eof);
    tcase_add_test(tc, send_all_two_pieces);
    tcase_add_test(tc, recv_to_eof_cap_exceeded);
    tcase_add_test(tc, recv_exact_and_some);
    tcase_add_test(tc, recv_times_out);
    tcase_add_test(tc, connect_accept_and_reset);
    tcase_add_test(tc, connect_refused);
    tcase_add_test(tc, connect_ipv6_loopback);
    tcase_add_test(tc, connect_start_reports_refusal_at_send);
    tcase_add_test(tc, wait_registers_then_wakes_or_times_out);
    tcase_add_test(tc, address_parsing);
    suite_add_tcase(s, tc);
    return check_run(s);
}
