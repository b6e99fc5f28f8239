/* client/send_data.c: see send_data.h. */
#include "send_data.h"

#include <assert.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include <wakeful/clock.h>
#include <wakeful/coro.h>
#include "data.h"

#include <netinet/in.h>
#include <unistd.h>

/* ---- cl_send_data ---------------------------------------------------------------------- */

/* Safe at any point: before the first poll, mid-request (cancellation) and after READY. */
static void sd_drop(wk_future *f)
{
    cl_send_data *d = (cl_send_data *)f;
    wk_future_drop_step(&d->step); /* the step in flight (its timer, its waker clones) */
    wk_io_close(&d->io);
}

static void put_le32(uint8_t *p, uint32_t v)
{
    p[0] = (uint8_t)v;
    p[1] = (uint8_t)(v >> 8);
    p[2] = (uint8_t)(v >> 16);
    p[3] = (uint8_t)(v >> 24);
}

static wk_poll send_data_poll(wk_future *f, wk_context *cx);

/* True when init could not fit field3 inline and wrote the header alone. */
static int sd_body_shared(const cl_send_data *d)
{
    return d->target->body != NULL && d->target->body_len > 0 && d->frame_len == DL_HEADER_SIZE;
}

void cl_send_data_init(cl_send_data *d, cl_target *target, uint64_t index,
                       uint64_t deadline)
{
    /* The union and the two buffers are left as they are: zeroing 440 bytes per request
     * would be wasted work, each step's init sets the member it uses, and reply_len says
     * how much of reply[] is meaningful. */
    d->base.poll = send_data_poll;
    d->base.drop = sd_drop;
    d->co = 0;
    d->step = NULL;
    d->target = target;
    d->index = index;
    d->attempt = 0;
    d->deadline = deadline;
    wk_io_init(&d->io, -1);
    d->reply_len = 0;
    d->result = 0;

    dl_data msg = {
        .field1 = (uint32_t)index,
        .field2 = (uint16_t)index,
    };
    char text[CL_INLINE_FRAME];
    if (target->body == NULL) {
        int n = snprintf(text, sizeof text, "Hello, server! %llu", (unsigned long long)index);
        msg.field3 = (uint8_t *)text;
        msg.field3_len = (uint32_t)n;
    } else {
        msg.field3 = (uint8_t *)target->body;
        msg.field3_len = (uint32_t)target->body_len;
    }

    long n = dl_serialize(&msg, d->frame, sizeof d->frame);
    if (n >= 0) {
        d->frame_len = (uint32_t)n;
    } else {
        /* field3 does not fit inline: serialise the header alone (an empty field3), then
         * patch in the real length; the body goes out from the shared buffer. */
        dl_data head = msg;
        head.field3_len = 0;
        head.field3 = NULL;
        long h = dl_serialize(&head, d->frame, sizeof d->frame);
        assert(h == DL_HEADER_SIZE);
        (void)h;
        put_le32(d->frame + 6, msg.field3_len); /* the length field follows u32 + u16 */
        d->frame_len = DL_HEADER_SIZE;
    }
}

/* A connect error after which the target's next address is worth a try: nobody listens
 * on this one, or it cannot be reached from here (an IPv6 address without IPv6). */
static int sd_try_next(int result)
{
    return result == -ECONNREFUSED || result == -ENETUNREACH || result == -EHOSTUNREACH ||
           result == -EAFNOSUPPORT || result == -EADDRNOTAVAIL;
}

/* --bind: the connect of wk_tcp_connect_start_init, with a bind to a source address of
 * the same family in between.  IP_BIND_ADDRESS_NO_PORT lets the kernel choose the port at
 * connect time, per destination, as it does without a bind: each source address then
 * adds a whole ephemeral range.  Returns 0 (connected or under way) or -errno. */
static int sd_connect_bound(cl_send_data *d, const cl_addr *to)
{
    const cl_target *t = d->target;
    const cl_addr *from = NULL;
    for (unsigned i = 0; i < t->nbinds && from == NULL; i++) {
        const cl_addr *b = &t->binds[(d->index + i) % t->nbinds];
        if (b->sa.ss_family == to->sa.ss_family)
            from = b;
    }
    int fd = socket(to->sa.ss_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int err = 0;
    if (from != NULL) {
        int one = 1;
        (void)setsockopt(fd, IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, &one, sizeof one);
        if (bind(fd, (const struct sockaddr *)&from->sa, from->len) < 0)
            err = -errno;
    }
    if (err == 0 && connect(fd, (const struct sockaddr *)&to->sa, to->len) < 0 &&
        errno != EINPROGRESS && errno != EINTR)
        err = -errno;
    if (err < 0) {
        close(fd);
        return err;
    }
    wk_io_init(&d->io, fd);
    return 0;
}

static wk_poll send_data_poll(wk_future *f, wk_context *cx)
{
    cl_send_data *d = (cl_send_data *)f;
    WK_CO_BEGIN(d->co);

    /* let stream = TcpStream::connect(addr): a non-blocking connect here, which does not wait
     * for the handshake: the send below waits for it if it must, and reports a refusal.
     * One address after the other, starting with the one that answered last. */
    d->ai = (unsigned)AO_load(&d->target->preferred) % d->target->naddrs;
    for (;;) {
        if (d->target->nbinds > 0) {
            d->result = sd_connect_bound(d, &d->target->addrs[d->ai]);
        } else {
            wk_tcp_connect_start_init(&d->u.connect, &d->io,
                                      (const struct sockaddr *)&d->target->addrs[d->ai].sa,
                                      d->target->addrs[d->ai].len, d->deadline);
            WK_CO_AWAIT_STEP(d->co, d->step, &d->u.connect, cx);
            d->result = d->u.connect.result;
        }

        /* TcpSender { stream, buffer: message.serialize()? }.await?  A field3 too large for
         * the inline frame goes out from the shared body, behind the inline header, in one
         * sendmsg. */
        if (d->result == 0) {
            if (!sd_body_shared(d))
                wk_tcp_send_all_init(&d->u.send, &d->io, d->frame, d->frame_len, d->deadline);
            else
                wk_tcp_send_all_pair_init(&d->u.send, &d->io, d->frame, d->frame_len,
                                          d->target->body, d->target->body_len,
                                          d->deadline);
            WK_CO_AWAIT_STEP(d->co, d->step, &d->u.send, cx);
            d->result = d->u.send.result;
        }
        if (d->result == 0 || !sd_try_next(d->result) || ++d->attempt >= d->target->naddrs)
            break;
        wk_io_close(&d->io);
        d->ai = (d->ai + 1) % d->target->naddrs;
    }
    if (d->result < 0)
        goto done;
    if (d->attempt > 0)
        AO_store(&d->target->preferred, d->ai);

    /* The reply cannot be there yet: wait for it without a receive that would find nothing
     * (the socket is registered with the reactor only now, unless the send had to wait). */
    wk_tcp_wait_init(&d->u.wait, &d->io, WK_IO_READ, d->deadline);
    WK_CO_AWAIT_STEP(d->co, d->step, &d->u.wait, cx);
    d->result = d->u.wait.result;
    if (d->result < 0)
        goto done;

    /* TcpReceiver { stream, buffer }.await?: everything until the server closes. */
    wk_tcp_recv_to_eof_init(&d->u.recv, &d->io, d->reply, sizeof d->reply, d->deadline);
    WK_CO_AWAIT_STEP(d->co, d->step, &d->u.recv, cx);
    if (d->u.recv.result == -EMSGSIZE) {
        d->reply_len = (uint32_t)sizeof d->reply;
        d->result = CL_E_WRONG_REPLY;
    } else if (d->u.recv.result < 0) {
        d->reply_len = (uint32_t)d->u.recv.got;
        d->result = (int)d->u.recv.result;
    } else {
        d->reply_len = (uint32_t)d->u.recv.result;
        if (d->reply_len == CL_REPLY_LEN && memcmp(d->reply, CL_REPLY, CL_REPLY_LEN) == 0)
            d->result = 0;
        else if (d->reply_len == 0)
            d->result = CL_E_NO_REPLY;
        else
            d->result = CL_E_WRONG_REPLY;
    }

done:
    /* Close now, not at drop: a finished request must not hold a descriptor while its lane
     * records it (or while 3,999 others finish). */
    wk_io_close(&d->io);
    WK_CO_END(d->co);
}
