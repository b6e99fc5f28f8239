/* client/resolve.h: the targets of a run, from -H/-p to socket addresses.
 *
 * A target is written HOST, HOST:PORT, [IPV6]:PORT or a bare IPv6 literal (whose colons
 * are its own, so it takes -p's port).  HOST may be a name: it is looked up once, before
 * the run, with the runtime's wk_resolve (getaddrinfo) in a helper thread that the caller
 * waits for at most a given time (wk_resolve blocks and takes no deadline; a resolver that
 * hangs must not hang the client).  The addresses are kept in getaddrinfo's order, at most
 * CL_MAX_ADDRS of them, and each request tries them in that order (send_data.c). */
#ifndef WAKEFUL_CLIENT_RESOLVE_H
#define WAKEFUL_CLIENT_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

/* Addresses kept per target: a name with more than this (a round-robin DNS name) still
 * works, its first four are tried. */
#define CL_MAX_ADDRS 4

/* One socket address. */
typedef struct cl_addr {
    struct sockaddr_storage sa; /* the address and port */
    socklen_t len;              /* its length */
} cl_addr;

/* Splits spec into host and port: "h" (has_port false), "h:80", "[::1]:80", "::1" (a
 * bare IPv6 literal, has_port false), "[::1]" (has_port false).  host gets the name
 * without brackets.  Returns 0, -EINVAL (empty host, bad port) or -ENAMETOOLONG. */
int cl_split_host_port(const char *spec, char *host, size_t host_size, uint16_t *port,
                       bool *has_port);

/* Resolves host (a literal or a name) with port into out[0..*n), in getaddrinfo's order,
 * TCP only, waiting at most timeout_ms for the lookup.  Returns 0, or -ENOENT (no such
 * host, or the lookup failed; why goes to why[]), -ETIMEDOUT (the lookup took longer), -ENOMEM, -EAGAIN (no
 * helper thread).  Thread-safe. */
int cl_resolve(const char *host, uint16_t port, cl_addr *out, unsigned max, unsigned *n,
               uint64_t timeout_ms, char *why, size_t why_size);

#endif
