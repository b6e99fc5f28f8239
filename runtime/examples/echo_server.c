/* runtime/examples/echo_server.c: a TCP echo server on one executor, stopped by SIGINT.
 *
 *     echo_server [PORT [HOST]]     (PORT 0, the default, lets the kernel choose one;
 *                                    HOST defaults to 127.0.0.1 and may be a name)
 *
 * Prints "listening on ADDRESS" once it accepts connections.  Each connection is a task that
 * reads at most BUF_SIZE bytes, writes them all back, and only then reads again, until EOF
 * or an error: a peer that sends without reading fills its own receive buffer, our send
 * waits, we stop reading, and TCP's flow control holds the peer back.  So the memory of a
 * connection is its task (one allocation of about BUF_SIZE bytes), whatever its peer does.
 *
 * Stopping: SIGINT and SIGTERM are blocked in main before anything else (so they reach the
 * signal futures instead of killing the process), and main runs
 *
 *     select(SIGINT, SIGTERM, the accept loop)
 *
 * on the executor.  When a signal wins, the accept loop has been dropped; freeing the
 * executor drops the connection tasks still open (each drop closes its socket), and main
 * returns 0.  Everything is freed: valgrind finds nothing (tests/runtime/test_examples.py). */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/wakeful.h>

/* Bytes read before they are echoed: big enough for few syscalls per megabyte, small enough
 * that ten thousand connections fit in 160 MB. */
#define BUF_SIZE 16384

/* The listen backlog: a burst of connections (the tests open 200 at once) waits in the
 * kernel while the accept loop takes them. */
#define BACKLOG 1024

/* How long the accept loop pauses when the process is out of descriptors, so that it does
 * not spin on EMFILE while connections close. */
#define EMFILE_PAUSE_MS 100

/* ---- one connection ---- */
typedef struct conn {
    wk_future base;
    int co;
    wk_io io;                     /* the accepted socket, owned */
    union {                       /* one operation at a time */
        wk_tcp_recv_some recv;
        wk_tcp_send_all send;
    } op;
    size_t *open;                 /* the server's count of open connections */
    ssize_t n;                    /* bytes in buf */
    int result;                   /* 0 at EOF, or the -errno that ended it */
    uint8_t buf[BUF_SIZE];
} conn;

static wk_poll conn_poll(wk_future *f, wk_context *cx)
{
    conn *c = (conn *)f;
    WK_CO_BEGIN(c->co);
    for (;;) {
        wk_tcp_recv_some_init(&c->op.recv, &c->io, c->buf, sizeof c->buf, WK_DEADLINE_NEVER);
        WK_CO_AWAIT(c->co, &c->op.recv, cx);
        c->n = c->op.recv.result;
        if (c->n <= 0) {
            c->result = (int)c->n; /* 0: EOF; -ECONNRESET: the peer reset */
            break;
        }
        wk_tcp_send_all_init(&c->op.send, &c->io, c->buf, (size_t)c->n, WK_DEADLINE_NEVER);
        WK_CO_AWAIT(c->co, &c->op.send, cx);
        if ((c->result = c->op.send.result) < 0)
            break;
    }
    WK_CO_END(c->co);
}

/* Called once, after READY or when the task is dropped unfinished (at shutdown). */
static void conn_drop(wk_future *f)
{
    conn *c = (conn *)f;
    if (c->co != 0 && c->co != WK_CO_DONE)
        wk_future_drop(&c->op.recv.base); /* both operations start with their wk_future */
    wk_io_close(&c->io);
    if (c->open) {
        (*c->open)--;
        c->open = NULL;
    }
}

/* ---- the accept loop: READY only on an error it cannot ride out ---- */
typedef struct server {
    wk_future base;
    int co;
    wk_io *listener;              /* borrowed from main */
    wk_tcp_accept accept;
    wk_sleep pause;
    size_t open;                  /* connections open now */
    size_t accepted;              /* connections accepted in all */
    int result;
} server;

/* Spawns a connection task for fd; closes fd when it cannot. */
static void spawn_conn(server *s, wk_executor *ex, int fd)
{
    /* The task copies the future, so build it here (not yet polled: no pointer into
     * itself) and let wk_spawn copy it. */
    static conn proto; /* 16 KiB: not on the stack, and zero-filled */
    conn *c = &proto;
    memset(c, 0, offsetof(conn, buf));
    c->base.poll = conn_poll;
    c->base.drop = conn_drop;
    wk_io_init(&c->io, fd);
    c->open = &s->open;
    if (WK_SPAWN_DETACHED(ex, conn, c) < 0) {
        close(fd);
        return;
    }
    s->open++;
    s->accepted++;
}

static wk_poll server_poll(wk_future *f, wk_context *cx)
{
    server *s = (server *)f;
    WK_CO_BEGIN(s->co);
    for (;;) {
        wk_tcp_accept_init(&s->accept, s->listener, NULL, WK_DEADLINE_NEVER);
        WK_CO_AWAIT(s->co, &s->accept, cx);
        if (s->accept.result >= 0) {
            spawn_conn(s, cx->executor, s->accept.result);
            continue;
        }
        if (s->accept.result != -EMFILE && s->accept.result != -ENFILE &&
            s->accept.result != -ENOBUFS && s->accept.result != -ENOMEM) {
            s->result = s->accept.result;
            break;
        }
        wk_sleep_init(&s->pause, EMFILE_PAUSE_MS * WK_NSEC_PER_MSEC);
        WK_CO_AWAIT(s->co, &s->pause, cx);
    }
    WK_CO_END(s->co);
}

static void server_drop(wk_future *f)
{
    server *s = (server *)f;
    wk_future_drop(&s->accept.base);
    wk_future_drop(&s->pause.base);
}

int main(int argc, char **argv)
{
    /* First, before any thread exists: the signals we stop on go to the signalfds. */
    int stop_signals[] = {SIGINT, SIGTERM};
    wk_signal_block(stop_signals, 2);

    unsigned long port = argc > 1 ? strtoul(argv[1], NULL, 10) : 0;
    const char *host = argc > 2 ? argv[2] : "127.0.0.1";
    if (port > 65535) {
        fprintf(stderr, "usage: echo_server [PORT [HOST]]\n");
        return 2;
    }
    /* Blocking, so before the executor runs. */
    wk_address addr;
    int err = wk_resolve(host, (uint16_t)port, AF_UNSPEC, SOCK_STREAM, &addr, 1);
    if (err < 0) {
        fprintf(stderr, "echo_server: %s: %s\n", host, wk_strerror(err));
        return 1;
    }
    int fd = wk_tcp_listen((struct sockaddr *)&addr.addr, addr.len, BACKLOG);
    if (fd < 0) {
        fprintf(stderr, "echo_server: listen: %s\n", wk_strerror(fd));
        return 1;
    }
    addr.len = sizeof addr.addr;
    getsockname(fd, (struct sockaddr *)&addr.addr, &addr.len); /* the port the kernel chose */
    char name[80];
    wk_sockaddr_format((struct sockaddr *)&addr.addr, name, sizeof name);
    printf("listening on %s\n", name);
    fflush(stdout);

    wk_executor *ex;
    if ((err = wk_executor_new(&ex)) < 0) {
        fprintf(stderr, "echo_server: %s\n", wk_strerror(err));
        close(fd);
        return 1;
    }
    wk_io listener;
    wk_io_init(&listener, fd);

    /* main's futures live here and are polled in place by wk_block_on (not copied), so
     * the select may point at them. */
    server srv;
    memset(&srv, 0, sizeof srv);
    srv.base.poll = server_poll;
    srv.base.drop = server_drop;
    srv.listener = &listener;
    wk_signal sigint, sigterm;
    wk_signal_init(&sigint, SIGINT);
    wk_signal_init(&sigterm, SIGTERM);
    wk_future *racers[] = {&sigint.base, &sigterm.base, &srv.base};
    wk_select sel;
    wk_select_init(&sel, racers, 3);
    sel.biased = 1; /* a signal wins a tie with the accept loop */

    err = wk_block_on(ex, &sel.base);
    int status = 0;
    if (err < 0) {
        fprintf(stderr, "echo_server: %s\n", wk_strerror(err));
        status = 1;
    } else if (sel.which == 2) {
        fprintf(stderr, "echo_server: accept: %s\n", wk_strerror(srv.result));
        status = 1;
    } else {
        wk_signal *got = sel.which == 0 ? &sigint : &sigterm;
        if (got->result < 0) {
            fprintf(stderr, "echo_server: signal: %s\n", wk_strerror(got->result));
            status = 1;
        } else {
            printf("%s: stopping, %zu connections open, %zu accepted\n",
                   got->result == SIGINT ? "SIGINT" : "SIGTERM", srv.open, srv.accepted);
        }
    }
    wk_future_drop(&sel.base); /* the losers are dropped already; harmless */
    wk_future_drop(racers[sel.which < 0 ? 0 : sel.which]); /* and the winner, ours */
    wk_executor_free(ex); /* drops the connections still open: their sockets close */
    wk_io_close(&listener);
    fflush(stdout);
    return status;
}
