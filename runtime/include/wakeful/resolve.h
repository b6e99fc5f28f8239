/* wakeful/resolve.h: host names to socket addresses (getaddrinfo, wrapped).
 *
 * BLOCKING: a lookup that goes to DNS can take seconds (the resolver's timeouts and
 * retries).  Call wk_resolve before starting the executor (resolving a command line
 * argument in main, say) or on a thread of your own, never inside a future's poll, where it
 * would stall every task of the executor.  It is thread-safe.
 *
 * Fast paths, with no lookup at all: IPv4 and IPv6 literals ("127.0.0.1", "::1", "[::1]"),
 * and, as RFC 6761 asks of resolver libraries, "localhost" and names under ".localhost"
 * (127.0.0.1, then ::1: IPv4 first, as its loopback exists on every Linux host while ::1 is
 * missing where IPv6 is disabled) and names under ".invalid" (-ENXIO at once).
 *
 * Errors are negative errno values, like the rest of the library (wk_strerror names them);
 * getaddrinfo's EAI_* codes are mapped:
 *   -ENXIO            the name has no address (of that family): EAI_NONAME, EAI_NODATA,
 *                     EAI_ADDRFAMILY ("No such device or address")
 *   -EAGAIN           temporary failure: the name server did not answer (EAI_AGAIN); try later
 *   -EIO              the name server failed for good (EAI_FAIL), or an unknown EAI_ code
 *   -ENOMEM           EAI_MEMORY
 *   -EAFNOSUPPORT     family is not AF_UNSPEC, AF_INET or AF_INET6 (EAI_FAMILY)
 *   -ESOCKTNOSUPPORT  socktype is not supported (EAI_SOCKTYPE)
 *   -EINVAL           a NULL or empty host, cap 0 (and EAI_BADFLAGS, EAI_SERVICE)
 *   -ENAMETOOLONG     EAI_OVERFLOW
 *   -errno            EAI_SYSTEM: the system error behind it */
#ifndef WAKEFUL_RESOLVE_H
#define WAKEFUL_RESOLVE_H

#include "export.h"

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

WK_BEGIN_DECLS

/* One resolved address, ready for connect() or bind() (or wk_tcp_connect_init and
 * wk_tcp_listen): the address with its port, and its length. */
typedef struct wk_address {
    struct sockaddr_storage addr;
    socklen_t len;
} wk_address;

/* Resolves host into at most cap addresses with the given port, in getaddrinfo's order
 * (the preferred first: try them in turn, as a client connecting should), stored in
 * out[0..].  family: AF_UNSPEC (0) for both, or AF_INET / AF_INET6 for one.  socktype:
 * SOCK_STREAM or SOCK_DGRAM; 0 is taken as SOCK_STREAM, so that each address comes once.
 * Returns how many addresses it stored (at least 1; addresses beyond cap are left out), or
 * a negative errno value (above).  Blocking: see the top of this header. */
WK_API int wk_resolve(const char *host, uint16_t port, int family, int socktype,
                      wk_address *out, size_t cap);

WK_END_DECLS

#endif
