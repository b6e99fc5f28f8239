/* server/agent.c: see agent.h. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/tcp.h>

#include "acceptor.h"
#include "log.h"

/* Connections answered per readiness: HAProxy checks every few seconds per server, so more
 * than a handful at once is a flood; the rest wait for the next pass of the loop (the
 * listener is level-triggered) and the acceptor's other descriptors come first. */
#define AGENT_BATCH 16

/* A small backlog is plenty for the same reason. */
#define AGENT_BACKLOG 64

/* The pause after a failed accept, as the main listener's (acceptor.c). */
#define AGENT_PAUSE_MIN_MS 10u
#define AGENT_PAUSE_MAX_MS 100u

int agent_open(struct agent *ag, struct sockaddr_storage *addr, socklen_t *addr_len,
               agent_status_fn status, void *arg)
{
    ag->status = status;
    ag->arg = arg;
    ag->served = 0;
    ag->spare_fd = -1;
    ag->acceptor = NULL;
    ag->backoff_ms = AGENT_PAUSE_MIN_MS;
    ag->pauses = 0;
    /* wk_tcp_listen: non-blocking, SO_REUSEADDR, and nothing else. */
    ag->lfd = wk_tcp_listen((struct sockaddr *)addr, *addr_len, AGENT_BACKLOG);
    if (ag->lfd < 0)
        return ag->lfd;
    ag->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    *addr_len = sizeof *addr;
    if (ag->spare_fd < 0 || getsockname(ag->lfd, (struct sockaddr *)addr, addr_len) != 0) {
        int err = -errno;
        agent_close(ag);
        return err;
    }
    return 0;
}

void agent_serve(void *arg)
{
    struct agent *ag = arg;
    /* A reserve lost to another thread's open while it was given up: take one again. */
    if (ag->spare_fd == -1 && ag->lfd >= 0)
        ag->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    for (int i = 0; i < AGENT_BATCH && ag->lfd >= 0; i++) {
        int fd = accept4(ag->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0 && (errno == EMFILE || errno == ENFILE) && ag->spare_fd >= 0) {
            /* libuv's reserve-descriptor trick: the listener is level-triggered, so leaving
             * the connection queued would wake the loop again at once, and again.  Give the
             * reserve up, answer with its slot, take it back (nothing else opens
             * descriptors on this thread in between, so the slot is still free). */
            close(ag->spare_fd);
            fd = accept4(ag->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
            ag->spare_fd = -2; /* reopened below */
        }
        if (fd < 0) {
            int e = errno;
            if (ag->spare_fd == -2)
                ag->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
            if (e == EINTR || e == ECONNABORTED)
                continue;
            if (e != EAGAIN && e != EWOULDBLOCK && ag->acceptor != NULL) {
                /* Out of memory or descriptors with no reserve left: the connection stays
                 * queued and the listener readable, so leave it alone for a while. */
                if (ag->backoff_ms == AGENT_PAUSE_MIN_MS)
                    log_line(LOG_LEVEL_WARN, LOG_NO_WORKER, LOG_NO_CONN,
                             "agent: accept: %s; pausing the agent port (%u..%u ms)",
                             strerror(e), AGENT_PAUSE_MIN_MS, AGENT_PAUSE_MAX_MS);
                acceptor_watch_pause(ag->acceptor, ag->lfd, ag->backoff_ms);
                ag->backoff_ms = ag->backoff_ms * 2 > AGENT_PAUSE_MAX_MS ? AGENT_PAUSE_MAX_MS
                                                                       : ag->backoff_ms * 2;
                ag->pauses++;
            }
            return;
        }
        ag->backoff_ms = AGENT_PAUSE_MIN_MS;
        const char *line = ag->status(ag->arg);
        /* A fresh socket's send buffer takes a few bytes whole; a peer that is already
         * gone costs an error, which changes nothing here. */
        ssize_t r = send(fd, line, strlen(line), MSG_NOSIGNAL | MSG_DONTWAIT);
        (void)r;
        /* Whatever HAProxy sent (agent-send) must not sit unread at close, or the close
         * becomes a reset that may destroy the line: read what is there now (one
         * non-blocking read), then close. */
        char sink[256];
        r = recv(fd, sink, sizeof sink, MSG_DONTWAIT);
        (void)r;
        close(fd);
        ag->served++;
        if (ag->spare_fd == -2)
            ag->spare_fd = open("/dev/null", O_RDONLY | O_CLOEXEC);
    }
}

void agent_close(struct agent *ag)
{
    if (ag->lfd >= 0)
        close(ag->lfd);
    if (ag->spare_fd >= 0)
        close(ag->spare_fd);
    ag->lfd = ag->spare_fd = -1;
}
