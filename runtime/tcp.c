/* runtime/tcp.c: TCP futures.  Each poll tries its syscall first and waits only on EAGAIN;
 * the per-operation deadline is a timer armed beside the readiness wait. */
#include "internal.h"

#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <wakeful/tcp.h>

static void op_init(wk_tcp_op *op, wk_io *io, uint64_t deadline)
{
    op->io = io;
    op->deadline = deadline;
    wk_timer_init(&op->timer);
}

/* After EAGAIN: arranges the wake (readiness, or the deadline) and answers 0, or answers
 * the error that ends the operation (-ETIMEDOUT once the deadline has passed). */
static int op_block(wk_tcp_op *op, wk_context *cx, uint32_t direction)
{
    if (!cx->executor)
        return -EINVAL;
    if (op->deadline != WK_DEADLINE_NEVER && cx->executor->now >= op->deadline)
        return -ETIMEDOUT;
    int r = wk_io_wait(op->io, cx, direction);
    if (r == 0 && op->deadline != WK_DEADLINE_NEVER)
        r = wk_timer_arm(&op->timer, cx, op->deadline);
    return r;
}

/* op_drop finds the wk_tcp_op at the same offset in every TCP future. */
#define SAME_OP_OFFSET(type) _Static_assert(offsetof(type, op) == offsetof(wk_tcp_send_all, op), #type)
SAME_OP_OFFSET(wk_tcp_connect);
SAME_OP_OFFSET(wk_tcp_accept);
SAME_OP_OFFSET(wk_tcp_recv_some);
SAME_OP_OFFSET(wk_tcp_recv_exact);
SAME_OP_OFFSET(wk_tcp_recv_to_eof);
SAME_OP_OFFSET(wk_tcp_wait);

static void op_drop(wk_future *f)
{
    /* Every TCP future keeps its wk_tcp_op right after the base. */
    wk_tcp_op *op = (wk_tcp_op *)((char *)f + offsetof(wk_tcp_send_all, op));
    wk_timer_disarm(&op->timer);
}

/* A dead peer is one error, whichever way it showed up. */
static int peer_error(int err)
{
    return err == EPIPE ? -ECONNRESET : -err;
}

/* ---- connect ---- */

static wk_poll connect_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_connect *c = (wk_tcp_connect *)f;
    wk_io *io = c->op.io;
    int err;
    if (!c->started) {
        c->started = 1;
        int fd = socket(c->addr.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            c->result = -errno;
            return WK_READY;
        }
        wk_io_init(io, fd);
        if (connect(fd, (struct sockaddr *)&c->addr, c->addr_len) == 0) {
            c->result = 0;
            return WK_READY;
        }
        /* EINTR: the connection goes on in the background, as with EINPROGRESS. */
        if (errno != EINPROGRESS && errno != EINTR) {
            err = -errno;
            goto fail;
        }
        if (c->early) {
            c->result = 0;
            return WK_READY;
        }
    } else if (!wk_waker_is_set(&io->writer)) {
        /* Readiness consumed the writer waker: the attempt has finished, one way or the
         * other, and SO_ERROR says which. */
        socklen_t len = sizeof err;
        if (getsockopt(io->fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0) {
            err = -errno;
            goto fail;
        }
        if (err != 0) {
            err = -err;
            goto fail;
        }
        wk_timer_disarm(&c->op.timer);
        c->result = 0;
        return WK_READY;
    }
    err = op_block(&c->op, cx, WK_IO_WRITE);
    if (err == 0)
        return WK_PENDING;
fail:
    wk_timer_disarm(&c->op.timer);
    wk_io_close(io);
    c->result = err;
    return WK_READY;
}

static void connect_drop(wk_future *f)
{
    wk_tcp_connect *c = (wk_tcp_connect *)f;
    wk_timer_disarm(&c->op.timer);
    if (c->started && c->result == 1) /* unfinished: the half-made socket is ours */
        wk_io_close(c->op.io);
}

void wk_tcp_connect_init(wk_tcp_connect *c, wk_io *io, const struct sockaddr *addr,
                         socklen_t len, uint64_t deadline)
{
    c->base.poll = connect_poll;
    c->base.drop = connect_drop;
    op_init(&c->op, io, deadline);
    wk_io_init(io, -1);
    if (len > sizeof c->addr)
        len = sizeof c->addr;
    memset(&c->addr, 0, sizeof c->addr);
    memcpy(&c->addr, addr, len);
    c->addr_len = len;
    c->started = 0;
    c->early = 0;
    c->result = 1; /* 1 = not finished; READY sets 0 or -errno */
}

void wk_tcp_connect_start_init(wk_tcp_connect *c, wk_io *io, const struct sockaddr *addr,
                               socklen_t len, uint64_t deadline)
{
    wk_tcp_connect_init(c, io, addr, len, deadline);
    c->early = 1;
}

/* ---- wait ---- */

static wk_poll wait_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_wait *w = (wk_tcp_wait *)f;
    wk_io *io = w->op.io;
    if (!w->waiting) {
        if (io->registered) {
            w->result = 0;
            return WK_READY;
        }
        w->waiting = 1;
    } else {
        /* Readiness consumed the waker; anything else (the deadline timer, a stray wake)
         * leaves it in place. */
        wk_waker *slot = w->direction == WK_IO_WRITE ? &io->writer : &io->reader;
        if (!wk_waker_is_set(slot)) {
            wk_timer_disarm(&w->op.timer);
            w->result = 0;
            return WK_READY;
        }
    }
    int r = op_block(&w->op, cx, w->direction);
    if (r == 0)
        return WK_PENDING;
    wk_timer_disarm(&w->op.timer);
    w->result = r;
    return WK_READY;
}

void wk_tcp_wait_init(wk_tcp_wait *w, wk_io *io, uint32_t direction, uint64_t deadline)
{
    w->base.poll = wait_poll;
    w->base.drop = op_drop;
    op_init(&w->op, io, deadline);
    w->direction = direction;
    w->waiting = 0;
    w->result = 0;
}

/* ---- accept ---- */

/* Most connections aborted before accept that one poll skips before it yields. */
#define ACCEPT_RETRIES 64

static wk_poll accept_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_accept *a = (wk_tcp_accept *)f;
    int done = 0;
    for (int i = 0; i < ACCEPT_RETRIES && !done; i++) {
        struct sockaddr_storage ss;
        socklen_t len = sizeof ss;
        int fd = accept4(a->op.io->fd, (struct sockaddr *)(a->peer ? a->peer : &ss), &len,
                         SOCK_NONBLOCK | SOCK_CLOEXEC);
        done = 1;
        if (fd >= 0) {
            a->result = fd;
            break;
        }
        if (errno == EINTR || errno == ECONNABORTED) {
            done = 0;
            continue;
        }
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = op_block(&a->op, cx, WK_IO_READ);
            if (r == 0)
                return WK_PENDING;
            a->result = r;
            break;
        }
        a->result = -errno;
    }
    if (!done) { /* only aborted connections: try again after the other tasks ran */
        wk_waker_wake_by_ref(cx->waker);
        return WK_PENDING;
    }
    wk_timer_disarm(&a->op.timer);
    return WK_READY;
}

void wk_tcp_accept_init(wk_tcp_accept *a, wk_io *listener, struct sockaddr_storage *peer,
                        uint64_t deadline)
{
    a->base.poll = accept_poll;
    a->base.drop = op_drop;
    op_init(&a->op, listener, deadline);
    a->peer = peer;
    a->result = 1;
}

/* ---- send-all ---- */

/* Sends per poll before yielding: a multi-megabyte payload to a fast reader could
 * otherwise keep the thread from every other task until it is all out. */
#define SENDS_PER_POLL 16

/* One send of what is left of the two pieces: bytes sent, or -1 with errno set. */
static ssize_t send_rest(wk_tcp_send_all *s)
{
    if (s->sent >= s->len)
        return send(s->op.io->fd, s->buf2 + (s->sent - s->len), s->len2 - (s->sent - s->len),
                    MSG_NOSIGNAL);
    if (s->len2 == 0)
        return send(s->op.io->fd, s->buf + s->sent, s->len - s->sent, MSG_NOSIGNAL);
    struct iovec iov[2] = {
        {(void *)(s->buf + s->sent), s->len - s->sent},
        {(void *)s->buf2, s->len2},
    };
    struct msghdr msg = {.msg_iov = iov, .msg_iovlen = 2};
    return sendmsg(s->op.io->fd, &msg, MSG_NOSIGNAL);
}

static wk_poll send_all_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_send_all *s = (wk_tcp_send_all *)f;
    for (int calls = 0; s->sent < s->len + s->len2; calls++) {
        if (calls == SENDS_PER_POLL) {
            wk_waker_wake_by_ref(cx->waker); /* the rest after the other tasks */
            return WK_PENDING;
        }
        ssize_t n = send_rest(s);
        if (n >= 0) {
            s->sent += (size_t)n;
            continue;
        }
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = op_block(&s->op, cx, WK_IO_WRITE);
            if (r == 0)
                return WK_PENDING;
            s->result = r;
        } else {
            s->result = peer_error(errno);
        }
        wk_timer_disarm(&s->op.timer);
        return WK_READY;
    }
    wk_timer_disarm(&s->op.timer);
    s->result = 0;
    return WK_READY;
}

void wk_tcp_send_all_pair_init(wk_tcp_send_all *s, wk_io *io, const void *buf, size_t len,
                               const void *buf2, size_t len2, uint64_t deadline)
{
    s->base.poll = send_all_poll;
    s->base.drop = op_drop;
    op_init(&s->op, io, deadline);
    s->buf = buf;
    s->len = len;
    s->buf2 = buf2;
    s->len2 = buf2 ? len2 : 0;
    s->sent = 0;
    s->result = 0;
}

void wk_tcp_send_all_init(wk_tcp_send_all *s, wk_io *io, const void *buf, size_t len,
                          uint64_t deadline)
{
    wk_tcp_send_all_pair_init(s, io, buf, len, NULL, 0, deadline);
}

void wk_tcp_send_all2_init(wk_tcp_send_all *s, wk_io *io, const void *buf, size_t len,
                           const void *buf2, size_t len2, uint64_t deadline)
{
    wk_tcp_send_all_pair_init(s, io, buf, len, buf2, len2, deadline);
}

/* ---- receive ---- */

/* One read: bytes (0 at EOF), a negative errno, or RECV_PENDING once the wait is armed. */
#define RECV_PENDING (-(1 << 30))

static ssize_t recv_once(wk_tcp_op *op, wk_context *cx, void *buf, size_t cap)
{
    for (;;) {
        ssize_t n = recv(op->io->fd, buf, cap, 0);
        if (n >= 0)
            return n;
        if (errno == EINTR)
            continue;
        if (errno == EAGAIN || errno == EWOULDBLOCK) {
            int r = op_block(op, cx, WK_IO_READ);
            return r == 0 ? RECV_PENDING : r;
        }
        return peer_error(errno);
    }
}

static wk_poll recv_some_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_recv_some *r = (wk_tcp_recv_some *)f;
    ssize_t n = recv_once(&r->op, cx, r->buf, r->cap);
    if (n == RECV_PENDING)
        return WK_PENDING;
    wk_timer_disarm(&r->op.timer);
    r->result = n;
    return WK_READY;
}

void wk_tcp_recv_some_init(wk_tcp_recv_some *r, wk_io *io, void *buf, size_t cap,
                           uint64_t deadline)
{
    r->base.poll = recv_some_poll;
    r->base.drop = op_drop;
    op_init(&r->op, io, deadline);
    r->buf = buf;
    r->cap = cap;
    r->result = 0;
}

static wk_poll recv_exact_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_recv_exact *r = (wk_tcp_recv_exact *)f;
    while (r->got < r->len) {
        ssize_t n = recv_once(&r->op, cx, r->buf + r->got, r->len - r->got);
        if (n == RECV_PENDING)
            return WK_PENDING;
        if (n <= 0) {
            r->result = n == 0 ? -EPIPE : n;
            wk_timer_disarm(&r->op.timer);
            return WK_READY;
        }
        r->got += (size_t)n;
    }
    wk_timer_disarm(&r->op.timer);
    r->result = (ssize_t)r->got;
    return WK_READY;
}

void wk_tcp_recv_exact_init(wk_tcp_recv_exact *r, wk_io *io, void *buf, size_t n,
                            uint64_t deadline)
{
    r->base.poll = recv_exact_poll;
    r->base.drop = op_drop;
    op_init(&r->op, io, deadline);
    r->buf = buf;
    r->len = n;
    r->got = 0;
    r->result = 0;
}

static wk_poll recv_to_eof_poll(wk_future *f, wk_context *cx)
{
    wk_tcp_recv_to_eof *r = (wk_tcp_recv_to_eof *)f;
    for (;;) {
        /* With the buffer full, read one byte more: EOF means the reply fit exactly. */
        uint8_t probe;
        int full = r->got == r->cap;
        ssize_t n = full ? recv_once(&r->op, cx, &probe, 1)
                         : recv_once(&r->op, cx, r->buf + r->got, r->cap - r->got);
        if (n == RECV_PENDING)
            return WK_PENDING;
        if (n > 0 && !full) {
            r->got += (size_t)n;
            continue;
        }
        r->result = n == 0 ? (ssize_t)r->got : n < 0 ? n : -EMSGSIZE;
        wk_timer_disarm(&r->op.timer);
        return WK_READY;
    }
}

void wk_tcp_recv_to_eof_init(wk_tcp_recv_to_eof *r, wk_io *io, void *buf, size_t cap,
                             uint64_t deadline)
{
    r->base.poll = recv_to_eof_poll;
    r->base.drop = op_drop;
    op_init(&r->op, io, deadline);
    r->buf = buf;
    r->cap = cap;
    r->got = 0;
    r->result = 0;
}
