/* server/agent.h: HAProxy's agent-check, served from the acceptor's loop.
 *
 * HAProxy (configuration manual, "agent-check") connects to the agent port and reads one
 * line of words delimited by spaces, tabs or commas, ended by '\r' and/or '\n': among
 * them the operational states "up", "down" (also "stopped", "fail") and the administrative
 * ones "ready", "drain", "maint".  The agent speaks first and HAProxy sends nothing unless
 * configured to ("agent-send").  Here: accept, write the line, close; nothing waits. */
#ifndef WAKEFUL_SERVER_AGENT_H
#define WAKEFUL_SERVER_AGENT_H

#include <stdint.h>
#include <sys/socket.h>

/* The line to answer now: "up ready\n", "drain\n" or "down\n" (a string literal). */
typedef const char *(*agent_status_fn)(void *arg);

struct acceptor;

struct agent {
    int lfd;                      /* the agent's listening socket (owned; -1 when off) */
    int spare_fd;                 /* a reserve descriptor (/dev/null) given up to accept
                                     when the process is out of descriptors (owned) */
    agent_status_fn status;
    void *arg;
    uint64_t served;              /* connections answered */
    struct acceptor *acceptor;    /* the loop that watches lfd (borrowed; set by the owner
                                     before the first agent_serve) */
    unsigned backoff_ms;          /* the next pause when accept fails: 10 ms, doubling up
                                     to 100 ms while it keeps failing */
    uint64_t pauses;              /* times accept failed for lack of memory or descriptors
                                     and the listener was left alone for a while */
};

/* Listens on addr (non-blocking, SO_REUSEADDR so that a restart binds at once, never
 * TCP_DEFER_ACCEPT: the agent speaks first, HAProxy waits for it).  *addr receives the
 * real address (the port 0 asked for).  Returns 0 or -errno. */
int agent_open(struct agent *ag, struct sockaddr_storage *addr, socklen_t *addr_len,
               agent_status_fn status, void *arg);

/* The listener is readable: accept at most 16 connections, answer each with one
 * non-blocking write of the status line, close.  Never blocks; out of descriptors, it
 * answers all the same, with the reserve descriptor's slot.  When accept fails all the
 * same (no reserve left, ENOMEM, ENOBUFS), it pauses its watch (acceptor_watch_pause) for
 * 10 ms, doubling up to 100 ms, as the main listener pauses: the connections wait in the
 * backlog, and the level-triggered listener does not spin the loop.  For acceptor_watch. */
void agent_serve(void *arg);

/* Closes the listener. */
void agent_close(struct agent *ag);

#endif
