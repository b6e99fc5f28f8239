/* server/dispatch.h: the hand-off of accepted connections from the acceptor to the workers.
 *
 * One non-blocking pipe per worker ("lane"): the acceptor thread is the only writer of
 * every lane, each worker the only reader of its own.  A record is the connection's
 * descriptor (and, with -v, the peer address); a record whose fd is DISPATCH_STOP is the
 * shutdown marker, the last thing a lane carries.  After a write the writer unparks the
 * lane's executor (docs/design.md#park: hand over first, read the parked flag second), so a
 * worker parked with no task wakes, and one waiting in epoll sees its pipe readable (the
 * read end is one of its executor's wake-up descriptors).
 *
 * The writer never blocks: a full pipe means that worker is behind, and the record goes to
 * the next lane; when every pipe is full the connection is closed and reported as dropped.
 * Only the shutdown marker waits for room (dispatch_stop), since it must not be lost. */
#ifndef WAKEFUL_SERVER_DISPATCH_H
#define WAKEFUL_SERVER_DISPATCH_H

#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include <wakeful/executor.h>

/* What goes through a pipe: the connection's descriptor, then (only with -v, which prints
 * it) the peer address accept4 gave.  Without -v only the 4-byte fd is written, so a pipe
 * holds 16,384 pending connections instead of 2,048.  Either size is below PIPE_BUF, so
 * every write lands whole and the single reader never sees half a record. */
struct dispatch_rec {
    int32_t fd;
    uint32_t peer_len;
    union {
        struct sockaddr sa;
        struct sockaddr_in in;
        struct sockaddr_in6 in6;
    } peer;
};
#define DISPATCH_REC_SHORT sizeof(int32_t)
#define DISPATCH_STOP (-1)

/* Records one dispatch_batch call takes at most: the acceptor's accept batch.  Also what
 * keeps a batch's write to one lane below PIPE_BUF (64 x 36 bytes), so it is all or
 * nothing. */
#define DISPATCH_BATCH_MAX 64

/* One worker's pipe. */
struct dispatch_lane {
    int rd;                 /* read end: the worker's (owned by the dispatch) */
    int wr;                 /* write end: the acceptor's (owned by the dispatch) */
    wk_executor *ex;        /* unparked after each write; NULL until the worker has one */
};

struct dispatch {
    size_t rec_size;        /* bytes of one record: DISPATCH_REC_SHORT, or the whole struct */
    unsigned nlanes;
    struct dispatch_lane *lanes;
    unsigned next;          /* writer's round-robin cursor: the lane the next record tries */
};

/* Makes n pipes (pipe2 O_NONBLOCK | O_CLOEXEC); with_peer selects the long records.
 * Returns 0 or -errno (everything undone). */
int dispatch_init(struct dispatch *d, unsigned n, int with_peer);

/* Closes the pipes.  After every reader and the writer are done with them. */
void dispatch_free(struct dispatch *d);

/* Tells the writer which executor to unpark after writing to lane i.  Call before the
 * writer's first use (the workers' startup handshake orders it). */
static inline void dispatch_set_executor(struct dispatch *d, unsigned i, wk_executor *ex)
{
    d->lanes[i].ex = ex;
}

/* Fills *rec for the accepted fd (and its peer, when the records carry one). */
void dispatch_rec_fill(const struct dispatch *d, struct dispatch_rec *rec, int fd,
                       const struct sockaddr_storage *peer, socklen_t peer_len);

/* Writer (one thread).  Hands n <= DISPATCH_BATCH_MAX records out round-robin, with one
 * pipe write and one unpark per lane instead of one per connection: under a burst, that is
 * what lets a worker take a dozen connections per wake-up.  Lane k of the round (counting
 * from the cursor) gets records k, k + N, k + 2N ...; a lane whose pipe turns out to be
 * full gets none, and its records go one by one to the next lanes.  A record no lane could
 * take has its descriptor closed.  Returns how many were closed so (the caller counts
 * them and gives their slots back). */
size_t dispatch_batch(struct dispatch *d, const struct dispatch_rec *recs, size_t n);

/* Writer.  Writes the shutdown marker to lane i after everything already written, waiting
 * (at most 10 s) for room when the pipe is full, then unparks the lane's executor.  Returns
 * 0 or -errno (-ETIMEDOUT: the worker is stuck). */
int dispatch_stop(struct dispatch *d, unsigned i);

/* Reader (lane i's worker).  Called for each connection read from the pipe. */
typedef void (*dispatch_take_fn)(void *arg, int fd, const struct sockaddr *peer);

/* Reader.  Takes up to 4 reads of 64 records from lane i and calls take for each (peer is
 * NULL without -v): at most 256 new connections between two executor turns, so a flood
 * of new ones cannot starve those already running (the pipe is level-triggered: what is
 * left wakes the next turn at once).  Returns 1 when the shutdown marker was read (nothing
 * follows it; the caller does not read the lane again), else 0; *more is set when the
 * bound was reached before the pipe was empty. */
int dispatch_read(struct dispatch *d, unsigned i, dispatch_take_fn take, void *arg,
                  int *more);

#endif
