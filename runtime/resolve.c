/* runtime/resolve.c: see resolve.h. */
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <string.h>
#include <strings.h>

#include <wakeful/resolve.h>
#include <wakeful/tcp.h>

/* getaddrinfo's own codes, as the negative errno values the rest of the library uses. */
static int map_eai(int eai, int saved_errno)
{
    switch (eai) {
    case EAI_NONAME:
#ifdef EAI_NODATA
    case EAI_NODATA:
#endif
#ifdef EAI_ADDRFAMILY
    case EAI_ADDRFAMILY:
#endif
        return -ENXIO;
    case EAI_AGAIN:
        return -EAGAIN;
    case EAI_MEMORY:
        return -ENOMEM;
    case EAI_FAMILY:
        return -EAFNOSUPPORT;
    case EAI_SOCKTYPE:
        return -ESOCKTNOSUPPORT;
    case EAI_BADFLAGS:
    case EAI_SERVICE:
        return -EINVAL;
    case EAI_OVERFLOW:
        return -ENAMETOOLONG;
    case EAI_SYSTEM:
        return saved_errno > 0 ? -saved_errno : -EIO;
    case EAI_FAIL:
    default:
        return -EIO;
    }
}

/* Whether name is suffix itself or ends with "." suffix, ignoring case and one trailing
 * dot (the fully qualified form). */
static int in_domain(const char *name, const char *suffix)
{
    size_t n = strlen(name), k = strlen(suffix);
    if (n > 0 && name[n - 1] == '.')
        n--;
    if (n < k || strncasecmp(name + n - k, suffix, k) != 0)
        return 0;
    return n == k || name[n - k - 1] == '.';
}

static int family_ok(int family, int af)
{
    return family == AF_UNSPEC || family == af;
}

int wk_resolve(const char *host, uint16_t port, int family, int socktype, wk_address *out,
               size_t cap)
{
    if (!host || !*host || !out || cap == 0)
        return -EINVAL;
    if (family != AF_UNSPEC && family != AF_INET && family != AF_INET6)
        return -EAFNOSUPPORT;
    if (socktype == 0)
        socktype = SOCK_STREAM;

    /* A literal: no lookup. */
    if (wk_sockaddr_parse(host, port, &out[0].addr, &out[0].len) == 0)
        return family_ok(family, out[0].addr.ss_family) ? 1 : -ENXIO;

    /* RFC 6761 section 6.3: localhost is loopback, answered without asking anyone. */
    if (in_domain(host, "localhost")) {
        int n = 0;
        if (family_ok(family, AF_INET) && (size_t)n < cap &&
            wk_sockaddr_parse("127.0.0.1", port, &out[n].addr, &out[n].len) == 0)
            n++;
        if (family_ok(family, AF_INET6) && (size_t)n < cap &&
            wk_sockaddr_parse("::1", port, &out[n].addr, &out[n].len) == 0)
            n++;
        return n;
    }
    /* RFC 6761 section 6.4: names under .invalid never exist; do not ask the network. */
    if (in_domain(host, "invalid"))
        return -ENXIO;

    struct addrinfo hints;
    memset(&hints, 0, sizeof hints);
    hints.ai_family = family;
    hints.ai_socktype = socktype;
    struct addrinfo *list = NULL;
    int eai = getaddrinfo(host, NULL, &hints, &list);
    int saved_errno = errno;
    if (eai != 0)
        return map_eai(eai, saved_errno);
    int n = 0;
    for (struct addrinfo *ai = list; ai && (size_t)n < cap; ai = ai->ai_next) {
        if (ai->ai_family != AF_INET && ai->ai_family != AF_INET6)
            continue;
        if (ai->ai_addrlen > sizeof out[n].addr)
            continue;
        memset(&out[n].addr, 0, sizeof out[n].addr);
        memcpy(&out[n].addr, ai->ai_addr, ai->ai_addrlen);
        out[n].len = (socklen_t)ai->ai_addrlen;
        /* No service was given, so the port is ours to set. */
        if (ai->ai_family == AF_INET)
            ((struct sockaddr_in *)&out[n].addr)->sin_port = htons(port);
        else
            ((struct sockaddr_in6 *)&out[n].addr)->sin6_port = htons(port);
        n++;
    }
    freeaddrinfo(list);
    return n > 0 ? n : -ENXIO;
}
