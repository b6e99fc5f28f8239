/* server/conn.c: handle_client, the book's `async fn handle_client` as a coroutine future.
 *
 *     async fn handle_client(stream) {
 *         let message = read_frame(&stream).await?;   // bounded: --max-frame, --read-timeout-ms
 *         println!("received message: {:?}", message); // with -v
 *         Sleep::new(sleep_ms).await;
 *         stream.write_all(b"Hello, client!").await?;
 *     }                                                // drop closes the socket
 *
 * Size matters: the server is meant to hold 15,000 connections in a few megabytes, so the
 * struct below is what one connection costs besides the task header and the kernel's
 * socket.  The three steps never overlap, so their state shares one union; the read goes
 * into the worker's scratch buffer (never held across an await); field3 is freed as soon
 * as it has been printed; the peer's address is kept only with -v, and the accept time only
 * with --metrics, as a tail appended to the struct at spawn time. */
#include "conn.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/clock.h>
#include <wakeful/coro.h>
#include "data.h"
#include "debug_str.h"
#include "log.h"
#include <wakeful/errors.h>
#include <wakeful/executor.h>
#include <wakeful/io.h>
#include <wakeful/tcp.h>
#include <wakeful/timer.h>

#define REPLY "Hello, client!"
#define REPLY_LEN (sizeof REPLY - 1)

/* Reads of the scratch buffer per poll: 4 x 64 KiB covers a default maximal frame twice
 * over; a peer sending more than that in one go yields to the worker's other connections
 * instead of monopolising the thread. */
#define READS_PER_POLL 4

/* The lingering close (nginx's lingering_close): after the reply, a peer that sent more
 * than its frame has its input read and discarded, after our FIN, until it closes, for at
 * most this long (nginx: lingering_time 30 s in all, lingering_timeout 5 s per wait; one
 * short bound serves both here, as our peers are load generators and proxies that close
 * at once once they have the reply).  Reads are still READS_PER_POLL per poll. */
#define LINGER_MS 2000

/* Bytes of the -v peer text (wk_sockaddr_format wants at least 64). */
#define PEER_TEXT_SIZE 64

/* Which member of the union is live, and whether the socket is still open. */
enum conn_phase {
    PH_NONE = 0, /* zero-filled: owns nothing (a zeroed future must be inert) */
    PH_READ,     /* u.rd: the decoder (maybe holding a partial field3) and its timer */
    PH_IDLE,     /* between steps: socket open, union unused */
    PH_SLEEP,    /* u.sleep */
    PH_SEND,     /* u.send */
    PH_LINGER,   /* u.linger: replied, write side shut down, discarding the peer's input */
    PH_DONE,     /* socket closed, connection counted: nothing left to release */
};

/* How a connection ended, for the counters. */
enum conn_end {
    END_REPLY,
    END_BAD_FRAME,
    END_TIMEOUT,
    END_RESET,
    END_LINGERED, /* after a reply already counted: nothing more to count or print */
};

struct conn {
    wk_future base;     /* first: the executor polls and drops through it */
    int co;             /* coroutine resume point (coro.h) */
    uint8_t phase;      /* an enum conn_phase */
    uint8_t extra;      /* the peer sent bytes past its frame: linger before the close */
    wk_io io;           /* the socket, registered with the worker's reactor on first EAGAIN */
    union {
        struct {
            dl_decoder dec;     /* the incremental decoder, bounded by --max-frame */
            uint64_t deadline;  /* accept time + --read-timeout-ms, absolute */
            wk_timer timer;     /* armed at the deadline while waiting for bytes */
        } rd;
        wk_sleep sleep;         /* --sleep-ms */
        wk_tcp_send_all send;   /* the reply */
        struct {
            uint64_t deadline;  /* reply + LINGER_MS, absolute */
            wk_timer timer;     /* armed at the deadline while waiting for input */
        } linger;
    } u;
    /* Appended at spawn time, only when used (see conn_peer, count_reply): first, when
     * the host is timed (--metrics), when conn_spawn ran (8 bytes, CLOCK_MONOTONIC ns, for
     * the accept-to-reply histogram: no member of the union can keep it, since the send's
     * state fills the union); then, with -v, the peer as text (PEER_TEXT_SIZE bytes). */
    unsigned char tail[];
};

/* Bytes of the tail before the peer text: the accept time, when the host is timed. */
static size_t tail_time_size(const struct conn_host *h)
{
    return h->timed ? sizeof(uint64_t) : 0;
}

/* The -v peer text in c's tail. */
static char *conn_peer(struct conn *c, const struct conn_host *h)
{
    return (char *)c->tail + tail_time_size(h);
}


/* The host of this thread's connections (conn_host_enter). */
static _Thread_local struct conn_host *current_host;

void conn_host_enter(struct conn_host *h)
{
    current_host = h;
}

static int verbose(const struct conn_host *h)
{
    return h->opt->verbosity >= VERBOSITY_VERBOSE;
}

/* Releases what the current phase holds (not the socket). */
static void conn_release_phase(struct conn *c)
{
    switch (c->phase) {
    case PH_READ:
        wk_timer_disarm(&c->u.rd.timer);
        dl_decoder_free(&c->u.rd.dec);
        break;
    case PH_SLEEP:
        wk_future_drop(&c->u.sleep.base);
        break;
    case PH_SEND:
        wk_future_drop(&c->u.send.base);
        break;
    case PH_LINGER:
        wk_timer_disarm(&c->u.linger.timer);
        break;
    default:
        break;
    }
    if (c->phase != PH_NONE && c->phase != PH_DONE)
        c->phase = PH_IDLE;
}

/* The reply is sent: count it, and, when the host is timed, record how long it took from
 * conn_spawn (the one clock read a reply costs the metrics). */
static void count_reply(struct conn *c, struct conn_host *h)
{
    if (h->timed) {
        uint64_t t_accept;
        memcpy(&t_accept, c->tail, sizeof t_accept);
        latency_record(&h->counters->latency, wk_now_ns() - t_accept);
    }
    conn_count(&h->counters->replies);
}

/* Ends the connection: counts it, releases the phase, closes the socket.  Counted before the
 * close, so a peer that has seen its EOF and then asks for the counters (SIGUSR1) finds its
 * request in them. */
static void conn_finish(struct conn *c, struct conn_host *h, enum conn_end how, const char *why)
{
    if (c->phase == PH_NONE || c->phase == PH_DONE)
        return;
    bool replied = how == END_REPLY || how == END_LINGERED;
    switch (how) {
    case END_REPLY:
        count_reply(c, h);
        break;
    case END_BAD_FRAME:
        conn_count(&h->counters->bad_frames);
        break;
    case END_TIMEOUT:
        conn_count(&h->counters->timeouts);
        break;
    case END_RESET:
        conn_count(&h->counters->resets);
        break;
    case END_LINGERED: /* counted as a reply before the linger began */
        break;
    }
    conn_release_phase(c);
    wk_io_close(&c->io);
    c->phase = PH_DONE;
    h->closed(h);
    if (!replied && verbose(h))
        printf("worker %u: %s: %s, closed without a reply\n", h->id, conn_peer(c, h), why);
}

/* Prints field3 as Rust's {:?} prints a String (see debug_str.h).  Called with stdout
 * locked. */
static void print_debug_str(const uint8_t *s, uint32_t len)
{
    debug_str_write(stdout, s, len);
}

/* The frame is complete: stop its timer, print it (-v), free it. */
static void frame_done(struct conn *c, struct conn_host *h)
{
    dl_data msg;
    dl_decoder_take(&c->u.rd.dec, &msg);
    conn_release_phase(c);
    if (verbose(h)) {
        flockfile(stdout);
        printf("received message: Data { field1: %u, field2: %u, field3: ",
               (unsigned)msg.field1, (unsigned)msg.field2);
        print_debug_str(msg.field3, msg.field3_len);
        fputs_unlocked(" }\n", stdout);
        funlockfile(stdout);
    }
    dl_data_free(&msg);
}

/* Step 1: read exactly one frame.  READY with phase PH_IDLE when the frame is in (and
 * already printed and freed), READY with phase PH_DONE when the connection failed (counted,
 * logged, closed); PENDING while waiting for bytes or the read deadline.  *drained: the
 * recv that completed the frame came back short, so nothing was left unread then. */
static wk_poll read_frame(struct conn *c, struct conn_host *h, wk_context *cx, bool *drained)
{
    for (int i = 0; i < READS_PER_POLL; i++) {
        ssize_t n = recv(c->io.fd, h->scratch, h->scratch_size, 0);
        if (n > 0) {
            if ((size_t)n > h->scratch_touched)
                h->scratch_touched = (size_t)n;
            /* Bytes past the frame are never read as a request (one per connection), but
             * they are unread input at the close: noted, for the lingering close. */
            size_t used = 0;
            int st = dl_decoder_feed(&c->u.rd.dec, h->scratch, (size_t)n, &used, NULL);
            if (st == DL_DECODE_COMPLETE) {
                c->extra = used < (size_t)n;
                /* A short read leaves nothing behind: tcp_recvmsg copies until the queue
                 * (and backlog) is empty or the buffer full.  See unread_input. */
                *drained = (size_t)n < h->scratch_size;
                frame_done(c, h);
                return WK_READY;
            }
            if (st < 0) {
                conn_finish(c, h, END_BAD_FRAME, dl_strerror(st));
                return WK_READY;
            }
            continue;
        }
        if (n == 0) {
            int st = dl_decoder_finish(&c->u.rd.dec);
            if (st == DL_OK)
                conn_finish(c, h, END_RESET, "closed before sending anything");
            else
                conn_finish(c, h, END_BAD_FRAME, dl_strerror(st));
            return WK_READY;
        }
        int e = errno;
        if (e == EINTR)
            continue;
        if (e != EAGAIN && e != EWOULDBLOCK) {
            conn_finish(c, h, END_RESET, wk_strerror(-e));
            return WK_READY;
        }
        /* Nothing to read now: wait for bytes or the deadline, whichever comes first. */
        if (wk_now_ns() >= c->u.rd.deadline) {
            conn_finish(c, h, END_TIMEOUT, "no whole frame before the read timeout");
            return WK_READY;
        }
        int r = wk_io_wait(&c->io, cx, WK_IO_READ);
        if (r == 0)
            r = wk_timer_arm(&c->u.rd.timer, cx, c->u.rd.deadline);
        if (r < 0) {
            conn_finish(c, h, END_RESET, wk_strerror(r));
            return WK_READY;
        }
        return WK_PENDING;
    }
    /* The read budget is spent and bytes keep coming: let the others run first. */
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

/* After the reply: is there input the peer sent that nobody read?  Closing a socket with
 * unread input sends a reset instead of a FIN, and a peer whose stack processes the reset
 * first loses the reply.  One non-blocking recv: the only extra syscall a connection that
 * sent nothing more costs.  None when the decoder already saw bytes past the frame (the
 * close lingers), and none when the recv that completed the frame emptied the socket in
 * this same poll (conn_poll's `drained`: the reply went out without a wait, so only the
 * microseconds of one send have passed since).  That second rule is nginx's (its read
 * event is "not ready" after a short read, and it lingers only when ready); it keeps W2's
 * CPU per request where it was before the lingering close (BENCHMARKS.md).  What it gives
 * up: bytes that arrive in those microseconds still turn the close into a reset.  A
 * connection that slept or waited always gets the recv.  The bytes read are discarded. */
static int unread_input(struct conn *c, struct conn_host *h)
{
    ssize_t n;
    do
        n = recv(c->io.fd, h->scratch, h->scratch_size, MSG_DONTWAIT);
    while (n < 0 && errno == EINTR);
    if (n > 0 && (size_t)n > h->scratch_touched)
        h->scratch_touched = (size_t)n;
    return n > 0; /* 0: the peer closed its side, nothing can be left; < 0: nothing now */
}

/* The lingering close: with our write side already shut down (the reply and our FIN are
 * on their way), read and discard until the peer closes (EOF), fails, or LINGER_MS have
 * passed; READY then, and the caller closes.  PENDING while waiting for input. */
static wk_poll linger(struct conn *c, struct conn_host *h, wk_context *cx)
{
    for (int i = 0; i < READS_PER_POLL; i++) {
        ssize_t n = recv(c->io.fd, h->scratch, h->scratch_size, 0);
        if (n > 0) {
            if ((size_t)n > h->scratch_touched)
                h->scratch_touched = (size_t)n;
            continue;
        }
        if (n == 0)
            return WK_READY;
        if (errno == EINTR)
            continue;
        if (errno != EAGAIN && errno != EWOULDBLOCK)
            return WK_READY;
        if (wk_now_ns() >= c->u.linger.deadline)
            return WK_READY;
        if (wk_io_wait(&c->io, cx, WK_IO_READ) < 0 ||
            wk_timer_arm(&c->u.linger.timer, cx, c->u.linger.deadline) < 0)
            return WK_READY;
        return WK_PENDING;
    }
    /* The read budget is spent and bytes keep coming: let the others run first. */
    wk_waker_wake_by_ref(cx->waker);
    return WK_PENDING;
}

static wk_poll conn_poll(wk_future *f, wk_context *cx)
{
    struct conn *c = (struct conn *)f;
    struct conn_host *h = current_host;
    const struct server_options *opt = h->opt;
    /* Set by a read_frame that completes in this poll; a poll after a wait starts false. */
    bool drained = false;

    WK_CO_BEGIN(c->co);

    /* let message = read_frame(&stream).await; */
    WK_CO_AWAIT_POLL(c->co, read_frame(c, h, cx, &drained));
    if (c->phase == PH_DONE)
        WK_CO_RETURN(c->co);

    /* Sleep::new(sleep_ms).await; */
    if (opt->sleep_ms > 0) {
        drained = false; /* input may come during the sleep */
        c->phase = PH_SLEEP;
        wk_sleep_init(&c->u.sleep, opt->sleep_ms * WK_NSEC_PER_MSEC);
        WK_CO_AWAIT(c->co, &c->u.sleep, cx);
        if (c->u.sleep.result < 0) {
            conn_finish(c, h, END_RESET, wk_strerror(c->u.sleep.result));
            WK_CO_RETURN(c->co);
        }
        conn_release_phase(c);
    }

    /* stream.write_all(b"Hello, client!").await; */
    c->phase = PH_SEND;
    wk_tcp_send_all_init(&c->u.send, &c->io, REPLY, REPLY_LEN,
                         wk_deadline_in_ms(opt->read_timeout_ms));
    WK_CO_AWAIT(c->co, &c->u.send, cx);
    if (c->u.send.result < 0) {
        int r = c->u.send.result;
        conn_finish(c, h, r == -ETIMEDOUT ? END_TIMEOUT : END_RESET, wk_strerror(r));
        WK_CO_RETURN(c->co);
    }
    conn_release_phase(c);

    /* The close: a lingering one when the peer left input unread (see unread_input). */
    if (!c->extra && (drained || !unread_input(c, h))) {
        conn_finish(c, h, END_REPLY, NULL);
        WK_CO_RETURN(c->co);
    }
    count_reply(c, h); /* replied: whatever the linger does, it counts */
    shutdown(c->io.fd, SHUT_WR);
    c->phase = PH_LINGER;
    c->u.linger.deadline = wk_deadline_in_ms(LINGER_MS);
    wk_timer_init(&c->u.linger.timer);
    WK_CO_AWAIT_POLL(c->co, linger(c, h, cx));
    conn_finish(c, h, END_LINGERED, NULL);

    WK_CO_END(c->co);
}

/* Dropped unfinished: the executor was freed at the drain deadline.  Closes the socket. */
static void conn_drop(wk_future *f)
{
    struct conn *c = (struct conn *)f;
    if (c->phase == PH_NONE || c->phase == PH_DONE)
        return;
    struct conn_host *h = current_host;
    conn_release_phase(c);
    wk_io_close(&c->io);
    c->phase = PH_DONE;
    h->closed(h);
}

int conn_spawn(int fd, const struct sockaddr *peer)
{
    struct conn_host *h = current_host;
    /* The future is built here and copied into the task by wk_spawn.  The union gives the
     * tail its room (a struct with a flexible array member may sit in a union). */
    union {
        struct conn c;
        unsigned char room[sizeof(struct conn) + sizeof(uint64_t) + PEER_TEXT_SIZE];
    } u;
    struct conn *c = &u.c;
    size_t size = sizeof(struct conn);

    memset(c, 0, sizeof(struct conn));
    c->base.poll = conn_poll;
    c->base.drop = conn_drop;
    c->co = 0;
    c->phase = PH_READ;
    wk_io_init(&c->io, fd);
    dl_decoder_init(&c->u.rd.dec, h->opt->max_frame);
    uint64_t now = wk_now_ns();
    c->u.rd.deadline = now + h->opt->read_timeout_ms * WK_NSEC_PER_MSEC;
    if (h->timed) {
        memcpy(c->tail, &now, sizeof now);
        size += sizeof now;
    }
    if (peer != NULL) {
        wk_sockaddr_format(peer, conn_peer(c, h), PEER_TEXT_SIZE);
        size += PEER_TEXT_SIZE;
    }

    int r = wk_spawn(h->ex, &c->base, size, 0, 0, NULL);
    if (r < 0) {
        dl_decoder_free(&c->u.rd.dec);
        close(fd);
        /* The id the connection would have had: the host's count, plus one. */
        log_line(LOG_LEVEL_ERROR, (int)h->id, AO_load(&h->counters->connections) + 1,
                 "cannot start a connection: %s; closed it", wk_strerror(r));
        return r;
    }
    conn_count(&h->counters->connections);
    if (peer != NULL)
        printf("worker %u received connection from %s\n", h->id, conn_peer(c, h));
    return 0;
}
