/* server/server.h: the state the acceptor (main thread) and the workers share.
 *
 * Set up by main before any worker starts and torn down after they are joined; while the
 * server runs only `live` changes, and it is atomic. */
#ifndef WAKEFUL_SERVER_SERVER_H
#define WAKEFUL_SERVER_SERVER_H

#include <netinet/in.h>
#include <atomic_ops.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "options.h"

struct worker;

struct server {
    const struct server_options *opt; /* the parsed flags (main's, outlives the server) */
    uint64_t max_connections;         /* --max-connections, or the RLIMIT_NOFILE default */
    size_t rec_size;                  /* bytes of one dispatch record (see below) */
    AO_t live;        /* connections accepted and not yet closed */
    AO_t draining;    /* 1 from SIGTERM/SIGINT until exit (for the metrics), else 0 */
    int poke_fd;                      /* eventfd: a close brought `live` back under the
                                         limit (written by workers, read by main) */
    unsigned nworkers;
    struct worker *workers;           /* nworkers of them */
};

/* What the acceptor writes to a worker's pipe: the connection's descriptor, then (only with
 * -v, which prints it) the peer address accept4 gave.  Without -v only the 4-byte fd is
 * written, so a pipe holds 16,384 pending connections instead of 2,048.  Either size is
 * below PIPE_BUF, so every write lands whole and the single reader never sees half a
 * record.  fd DISPATCH_STOP is the shutdown marker. */
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

/* A connection is gone (closed, or never handed over): `live` goes down by one.  Only the
 * close that brings `live` from the limit back under it writes the eventfd, so the main
 * thread, which stopped accepting at the limit, wakes exactly when it may start again.
 * Thread-safe. */
void server_conn_closed(struct server *srv);

#endif
