/* server/agent.c: see agent.h. */
#include "agent.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <wakeful/tcp.h>

/* Connections answered per readiness: HAProxy checks every few seconds per server, so more
 * than a handful at once is a flood; the rest wait for the next pass of the loop (the
 * listener is level-triggered) and the acceptor's other descriptors come first. */
#define AGENT_BATCH 16

/* A small backlog is plenty for the same reason. */
#define AGENT_BACKLOG 64

int agent_open(struct agent *ag, struct sockaddr_storage *addr, socklen_t *addr_len,
               agent_status_fn status, void *arg)
{
    ag->status = status;
    ag->arg = arg;
    ag->served = 0;
    ag->spare_fd = -1;
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
            return; /* EAGAIN (or out of memory: the next readiness tries again) */
        }
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
