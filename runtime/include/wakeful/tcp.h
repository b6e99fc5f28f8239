/* wakeful/tcp.h: TCP futures over wk_io, and address helpers.
 *
 * Every operation is a future: init it, await it (WK_CO_AWAIT, or poll it by hand), read its
 * `result`.  All of them retry on EINTR, wait for readiness on EAGAIN (never spin), send with
 * MSG_NOSIGNAL (a vanished peer is -ECONNRESET, never SIGPIPE) and take an absolute deadline
 * (WK_DEADLINE_NEVER for none): past it they answer -ETIMEDOUT.  Buffers and the wk_io are
 * borrowed and must outlive the future.  Dropping an unfinished one leaves the wk_io usable
 * (its registration stays with the wk_io, not with the operation). */
#ifndef WAKEFUL_TCP_H
#define WAKEFUL_TCP_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "clock.h"
#include "io.h"
#include "timer.h"

WK_BEGIN_DECLS

/* Parses an IPv4 or IPv6 literal (no names, no lookup) and a port into *addr.
 * Returns 0 or -EINVAL. */
WK_API int wk_sockaddr_parse(const char *host, uint16_t port, struct sockaddr_storage *addr,
                             socklen_t *len);

/* Formats an address as "1.2.3.4:80" or "[::1]:80" into buf (at least 64 bytes). */
WK_API void wk_sockaddr_format(const struct sockaddr *addr, char *buf, size_t size);

/* Makes a non-blocking, close-on-exec listening socket bound to addr (SO_REUSEADDR on),
 * with the given backlog.  Returns the descriptor or -errno. */
WK_API int wk_tcp_listen(const struct sockaddr *addr, socklen_t len, int backlog);

/* Shared by the operations below: the deadline and its timer. */
typedef struct wk_tcp_op {
    wk_io *io;
    uint64_t deadline;
    wk_timer timer;
} wk_tcp_op;

/* connect: io must be initialised with fd -1; on success it owns the connected socket.
 * result: 0 or -errno (-ECONNREFUSED, -ETIMEDOUT, ...). */
typedef struct wk_tcp_connect {
    wk_future base;
    wk_tcp_op op;
    struct sockaddr_storage addr;
    socklen_t addr_len;
    int started;
    int early;    /* READY once the attempt is under way (wk_tcp_connect_start_init) */
    int result;
} wk_tcp_connect;
WK_API void wk_tcp_connect_init(wk_tcp_connect *c, wk_io *io, const struct sockaddr *addr,
                                socklen_t len, uint64_t deadline);

/* As wk_tcp_connect_init, but READY (result 0) as soon as the attempt is under way, without
 * waiting for the handshake: the first send or receive then waits for it and reports its
 * outcome (-ECONNREFUSED ...).  Saves a readiness round trip and a getsockopt per connection
 * where the caller's next step is a send anyway (on loopback the handshake is usually done
 * before connect returns).  Errors found at once (no route, no descriptor) still end it. */
WK_API void wk_tcp_connect_start_init(wk_tcp_connect *c, wk_io *io, const struct sockaddr *addr,
                                      socklen_t len, uint64_t deadline);

/* wait: READY when io becomes ready for `direction`, or at the deadline (result -ETIMEDOUT).
 * On a wk_io not yet registered with the reactor it registers it and waits, without trying
 * any syscall first (epoll reports readiness that already exists): use it before a receive
 * that is known to wait, such as a reply to a request just sent.  On a registered wk_io it
 * answers READY at once (a readiness edge may already have come and gone: just try).
 * result: 0 or -errno. */
typedef struct wk_tcp_wait {
    wk_future base;
    wk_tcp_op op;
    uint32_t direction;
    int waiting;
    int result;
} wk_tcp_wait;
WK_API void wk_tcp_wait_init(wk_tcp_wait *w, wk_io *io, uint32_t direction, uint64_t deadline);

/* accept: result is the new non-blocking, close-on-exec descriptor, or -errno (-EMFILE and
 * -ENFILE are returned, not waited on: the caller decides how to back off).  peer receives
 * the peer's address when not NULL. */
typedef struct wk_tcp_accept {
    wk_future base;
    wk_tcp_op op;
    struct sockaddr_storage *peer;
    int result;
} wk_tcp_accept;
WK_API void wk_tcp_accept_init(wk_tcp_accept *a, wk_io *listener, struct sockaddr_storage *peer,
                               uint64_t deadline);

/* send-all: writes every byte, across partial writes.  result: 0 or -errno.
 * wk_tcp_send_all_pair_init sends a pair of buffers, buf then buf2, as one stream (a header
 * and a body kept apart, say), with sendmsg and two iovecs: no copy into one buffer, no
 * second send that Nagle's algorithm could hold back until the first is acknowledged.
 * buf2 may be NULL (then len2 is ignored and it is wk_tcp_send_all_init). */
typedef struct wk_tcp_send_all {
    wk_future base;
    wk_tcp_op op;
    const uint8_t *buf;    /* the first piece */
    size_t len;
    const uint8_t *buf2;   /* the second piece, NULL when there is none */
    size_t len2;
    size_t sent;           /* bytes of both pieces sent so far */
    int result;
} wk_tcp_send_all;
WK_API void wk_tcp_send_all_init(wk_tcp_send_all *s, wk_io *io, const void *buf, size_t len,
                                 uint64_t deadline);
WK_API void wk_tcp_send_all_pair_init(wk_tcp_send_all *s, wk_io *io, const void *buf,
                                      size_t len, const void *buf2, size_t len2,
                                      uint64_t deadline);

/* The name before 1.0: the same function.  Kept (and exported) so that code and binaries
 * built against it keep working; it will go at the next major version. */
WK_API WK_DEPRECATED("renamed wk_tcp_send_all_pair_init")
void wk_tcp_send_all2_init(wk_tcp_send_all *s, wk_io *io, const void *buf, size_t len,
                           const void *buf2, size_t len2, uint64_t deadline);

/* receive-some: one successful read of at most cap bytes.  result: bytes read, 0 at EOF,
 * or -errno. */
typedef struct wk_tcp_recv_some {
    wk_future base;
    wk_tcp_op op;
    uint8_t *buf;
    size_t cap;
    ssize_t result;
} wk_tcp_recv_some;
WK_API void wk_tcp_recv_some_init(wk_tcp_recv_some *r, wk_io *io, void *buf, size_t cap,
                                  uint64_t deadline);

/* receive-exactly-N: result: n, or -EPIPE when the peer closed first, or -errno. */
typedef struct wk_tcp_recv_exact {
    wk_future base;
    wk_tcp_op op;
    uint8_t *buf;
    size_t len;
    size_t got;
    ssize_t result;
} wk_tcp_recv_exact;
WK_API void wk_tcp_recv_exact_init(wk_tcp_recv_exact *r, wk_io *io, void *buf, size_t n,
                                   uint64_t deadline);

/* receive-until-EOF (the book's TcpReceiver), into a caller's buffer of cap bytes.
 * result: the number of bytes before EOF, -EMSGSIZE when the peer sent more than cap, or
 * -errno. */
typedef struct wk_tcp_recv_to_eof {
    wk_future base;
    wk_tcp_op op;
    uint8_t *buf;
    size_t cap;
    size_t got;
    ssize_t result;
} wk_tcp_recv_to_eof;
WK_API void wk_tcp_recv_to_eof_init(wk_tcp_recv_to_eof *r, wk_io *io, void *buf, size_t cap,
                                    uint64_t deadline);

WK_END_DECLS

#endif
