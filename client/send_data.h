/* client/send_data.h: one request, the book's `async fn send_data`, as a coroutine future.
 *
 *     async fn send_data(field1: u32, field2: u16, field3: String) -> io::Result<String> {
 *         let stream = TcpStream::connect("127.0.0.1:7878")?;      // here: non-blocking
 *         TcpSender { stream, buffer: Data { .. }.serialize()? }.await?;
 *         String::from_utf8(TcpReceiver { stream, buffer }.await?)
 *     }
 *
 * Unlike the book's, every step waits in the executor's epoll instead of blocking or being
 * re-polled, and the three steps share one absolute deadline.  The future owns its socket
 * and closes it before it answers READY, so a finished request holds no descriptor.
 *
 * Memory: the future is a few hundred bytes and allocates nothing.  The frame is serialised
 * into an inline buffer when it fits (the book's frames take 29 bytes); a larger field3
 * (--payload-bytes, a long --message) is sent straight from the caller's shared read-only
 * buffer, behind an inline header, with one sendmsg of two pieces. */
#ifndef WAKEFUL_CLIENT_SEND_DATA_H
#define WAKEFUL_CLIENT_SEND_DATA_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include <atomic_ops.h>

#include <wakeful/future.h>
#include <wakeful/io.h>
#include <wakeful/tcp.h>
#include <wakeful/timer.h>

#include "errors.h" /* CL_E_*: results of our own, beside the runtime's -errno values */
#include "resolve.h"

/* The reply every request must get, byte for byte, before the server closes. */
#define CL_REPLY "Hello, client!"
#define CL_REPLY_LEN 14

/* Room for the reply: anything longer than this is a wrong reply anyway, and 32 bytes keep
 * the future small (recv-to-EOF answers -EMSGSIZE past it). */
#define CL_REPLY_CAP 32

/* Inline frame buffer: the 10-byte header plus a field3 of up to 54 bytes ("Hello, server!
 * 18446744073709551615" is 35).  A larger field3 stays in the shared buffer. */
#define CL_INLINE_FRAME 64

/* What every request to one target shares: read-only once the run starts (but for
 * `preferred`, a hint any thread may overwrite), so any number of threads read it without
 * locks. */
typedef struct cl_target {
    const cl_addr *addrs;         /* the server's addresses, in getaddrinfo's order (borrowed) */
    unsigned naddrs;              /* at least 1 */
    AO_t preferred;               /* the address the last successful connect used: requests
                                     start there, then try the others in order */
    const cl_addr *binds;         /* --bind source addresses (borrowed), or NULL */
    unsigned nbinds;              /* how many */
    const uint8_t *body;          /* field3 of every request, NULL for the book's text */
    size_t body_len;              /* the length of body */
    uint64_t timeout_ns;          /* per request, connect to EOF; 0 for none */
} cl_target;

/* The request.  Output: result, and the reply bytes in reply[0..reply_len). */
typedef struct cl_send_data {
    wk_future base;
    int co;                    /* the coroutine's resume point (coro.h) */
    wk_future *step;           /* the member of `u` in flight, NULL when none: for drop */
    cl_target *target;         /* borrowed, shared by every request to it */
    uint64_t index;            /* the request's number (picks its --bind address) */
    unsigned attempt;          /* addresses tried so far */
    unsigned ai;               /* the address being tried */
    uint64_t deadline;         /* absolute, shared by connect, send and receive */
    wk_io io;                  /* the socket, owned; closed before READY */
    union {
        wk_tcp_connect connect;
        wk_tcp_send_all send;   /* the frame, or its header inline and field3 from target->body */
        wk_tcp_wait wait;       /* for the reply to start arriving */
        wk_tcp_recv_to_eof recv;
    } u;                       /* the step in progress: one at a time, so they share room */
    uint32_t frame_len;        /* bytes of frame[] to send */
    uint8_t frame[CL_INLINE_FRAME]; /* the serialised frame, or only its header */
    uint8_t reply[CL_REPLY_CAP];    /* what the server sent before EOF */
    uint32_t reply_len;        /* bytes in reply[] */
    int result;                /* 0: got exactly CL_REPLY; else -errno or CL_E_* */
} cl_send_data;

/* Prepares request number `index`: field1 = index, field2 = index as u16, field3 the
 * target's body or the book's "Hello, server! {index}".  Nothing happens until the first
 * poll.  A connect refused or unreachable on one of the target's addresses moves on to
 * the next (as a client of getaddrinfo's list does).  deadline is absolute (WK_DEADLINE_NEVER for none).  target is borrowed and must
 * outlive the future.  Never fails, never allocates. */
void cl_send_data_init(cl_send_data *d, cl_target *target, uint64_t index,
                       uint64_t deadline);

#endif
