/* server/conn.h: handle_client, one connection's life as a task on a worker's executor. */
#ifndef WAKEFUL_SERVER_CONN_H
#define WAKEFUL_SERVER_CONN_H

#include <sys/socket.h>

#include "worker.h"

/* Spawns handle_client for the connected, non-blocking socket fd on w's executor, from w's
 * thread.  Takes ownership of fd: on failure it is closed and the connection counted as
 * gone.  peer is the address accept4 gave (only with -v, which prints it; NULL otherwise).
 * Returns 0 or -ENOMEM. */
int conn_spawn(struct worker *w, int fd, const struct sockaddr *peer);

#endif
