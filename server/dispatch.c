/* server/dispatch.c: see dispatch.h. */
#include "dispatch.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <wakeful/clock.h>

#include "log.h"

/* Records taken from a pipe per read(), and reads per dispatch_read: see dispatch.h. */
#define READ_BATCH 64
#define READS_PER_CALL 4

/* How long dispatch_stop waits for room in a pipe.  A pipe is only full while its worker
 * is busy draining it, so this is never reached unless the worker is stuck. */
#define STOP_WRITE_TIMEOUT_MS 10000

int dispatch_init(struct dispatch *d, unsigned n, int with_peer)
{
    memset(d, 0, sizeof *d);
    d->rec_size = with_peer ? sizeof(struct dispatch_rec) : DISPATCH_REC_SHORT;
    d->lanes = calloc(n, sizeof *d->lanes);
    if (d->lanes == NULL)
        return -ENOMEM;
    for (unsigned i = 0; i < n; i++)
        d->lanes[i].rd = d->lanes[i].wr = -1;
    d->nlanes = n;
    for (unsigned i = 0; i < n; i++) {
        int p[2];
        if (pipe2(p, O_NONBLOCK | O_CLOEXEC) != 0) {
            int err = -errno;
            dispatch_free(d);
            return err;
        }
        d->lanes[i].rd = p[0];
        d->lanes[i].wr = p[1];
    }
    return 0;
}

void dispatch_free(struct dispatch *d)
{
    for (unsigned i = 0; i < d->nlanes; i++) {
        if (d->lanes[i].rd >= 0)
            close(d->lanes[i].rd);
        if (d->lanes[i].wr >= 0)
            close(d->lanes[i].wr);
    }
    free(d->lanes);
    d->lanes = NULL;
    d->nlanes = 0;
}

void dispatch_rec_fill(const struct dispatch *d, struct dispatch_rec *rec, int fd,
                       const struct sockaddr_storage *peer, socklen_t peer_len)
{
    rec->fd = fd;
    if (d->rec_size > DISPATCH_REC_SHORT) {
        memset(&rec->peer, 0, sizeof rec->peer);
        rec->peer_len = peer_len < sizeof rec->peer ? peer_len : (uint32_t)sizeof rec->peer;
        memcpy(&rec->peer, peer, rec->peer_len);
    }
}

/* Writes n packed records to lane i in one write; 1 when they went in, and then unparks
 * the lane's executor (after the write: a worker that parked before seeing it is woken
 * here; one that is in epoll sees its pipe readable).  n * rec_size is below PIPE_BUF, so
 * the write is all or nothing. */
static int lane_put(struct dispatch *d, unsigned i, const void *recs, size_t n)
{
    ssize_t r;
    do
        r = write(d->lanes[i].wr, recs, n * d->rec_size);
    while (r < 0 && errno == EINTR);
    if (r != (ssize_t)(n * d->rec_size))
        return 0;
    if (d->lanes[i].ex != NULL)
        wk_executor_unpark(d->lanes[i].ex);
    return 1;
}

/* One record to the next lane round-robin, skipping full pipes; 0 when none took it (the
 * descriptor is closed then). */
static int put_one(struct dispatch *d, const struct dispatch_rec *rec)
{
    for (unsigned k = 0; k < d->nlanes; k++) {
        unsigned i = (d->next + k) % d->nlanes;
        if (lane_put(d, i, rec, 1)) {
            d->next = (i + 1) % d->nlanes;
            return 1;
        }
    }
    close(rec->fd);
    return 0;
}

size_t dispatch_batch(struct dispatch *d, const struct dispatch_rec *recs, size_t n)
{
    unsigned nl = d->nlanes;
    unsigned first = d->next;
    unsigned char packed[DISPATCH_BATCH_MAX * sizeof(struct dispatch_rec)];
    size_t dropped = 0;

    if (n == 0)
        return 0;
    d->next = (unsigned)((first + n) % nl);
    for (unsigned k = 0; k < nl && k < n; k++) {
        unsigned i = (first + k) % nl;
        size_t m = 0;
        for (size_t j = k; j < n; j += nl)
            memcpy(packed + m++ * d->rec_size, &recs[j], d->rec_size);
        if (lane_put(d, i, packed, m))
            continue;
        for (size_t j = k; j < n; j += nl)
            dropped += !put_one(d, &recs[j]);
    }
    return dropped;
}

int dispatch_stop(struct dispatch *d, unsigned i)
{
    struct dispatch_rec rec;
    memset(&rec, 0, sizeof rec);
    rec.fd = DISPATCH_STOP;
    uint64_t deadline = wk_deadline_in_ms(STOP_WRITE_TIMEOUT_MS);
    for (;;) {
        ssize_t r = write(d->lanes[i].wr, &rec, d->rec_size);
        if (r == (ssize_t)d->rec_size)
            break;
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0 && errno != EAGAIN)
            return -errno;
        uint64_t now = wk_now_ns();
        if (now >= deadline)
            return -ETIMEDOUT;
        struct pollfd pfd = {.fd = d->lanes[i].wr, .events = POLLOUT};
        poll(&pfd, 1, (int)((deadline - now) / WK_NSEC_PER_MSEC) + 1);
    }
    if (d->lanes[i].ex != NULL)
        wk_executor_unpark(d->lanes[i].ex);
    return 0;
}

/* Reads the rest of a record the kernel split (it never should: writes below PIPE_BUF are
 * atomic and reads here ask for whole records, but the reader does not rely on it).  The
 * missing bytes were written in the same write() as the ones already read, so they are in
 * the pipe now. */
static ssize_t read_rest(int fd, unsigned char *p, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = read(fd, p + got, n - got);
        if (r > 0)
            got += (size_t)r;
        else if (r < 0 && errno == EINTR)
            continue;
        else
            return -1;
    }
    return (ssize_t)got;
}

int dispatch_read(struct dispatch *d, unsigned i, dispatch_take_fn take, void *arg,
                  int *more)
{
    const size_t rs = d->rec_size;
    const int rd = d->lanes[i].rd;
    unsigned char buf[READ_BATCH * sizeof(struct dispatch_rec)];

    *more = 0;
    for (int pass = 0; pass < READS_PER_CALL; pass++) {
        ssize_t n = read(rd, buf, READ_BATCH * rs);
        if (n < 0) {
            if (errno == EINTR) {
                pass--;
                continue;
            }
            if (errno != EAGAIN)
                log_line(LOG_LEVEL_ERROR, (int)i + 1, LOG_NO_CONN, "reading its pipe: %s",
                         strerror(errno));
            return 0;
        }
        if (n == 0)
            return 1; /* the write end is gone: nothing more will come */
        size_t part = (size_t)n % rs;
        if (part != 0) {
            if (read_rest(rd, buf + n, rs - part) < 0)
                return 0;
            n += (ssize_t)(rs - part);
        }
        for (size_t off = 0; off < (size_t)n; off += rs) {
            struct dispatch_rec rec;
            memcpy(&rec, buf + off, rs);
            if (rec.fd == DISPATCH_STOP)
                return 1;
            take(arg, rec.fd, rs > DISPATCH_REC_SHORT ? &rec.peer.sa : NULL);
        }
        if ((size_t)n < READ_BATCH * rs)
            return 0; /* a short read: the pipe was empty */
    }
    *more = 1;
    return 0;
}
