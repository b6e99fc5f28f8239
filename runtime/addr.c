/* runtime/addr.c: address literals and listening sockets. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <wakeful/tcp.h>

int wk_sockaddr_parse(const char *host, uint16_t port, struct sockaddr_storage *addr,
                      socklen_t *len)
{
    memset(addr, 0, sizeof *addr);
    struct sockaddr_in *v4 = (struct sockaddr_in *)addr;
    if (inet_pton(AF_INET, host, &v4->sin_addr) == 1) {
        v4->sin_family = AF_INET;
        v4->sin_port = htons(port);
        *len = sizeof *v4;
        return 0;
    }
    /* IPv6, with or without the brackets of the "[::1]:80" notation. */
    char buf[INET6_ADDRSTRLEN + 2];
    size_t n = strlen(host);
    if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
        if (n - 2 >= sizeof buf)
            return -EINVAL;
        memcpy(buf, host + 1, n - 2);
        buf[n - 2] = '\0';
        host = buf;
    }
    struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)addr;
    if (inet_pton(AF_INET6, host, &v6->sin6_addr) == 1) {
        v6->sin6_family = AF_INET6;
        v6->sin6_port = htons(port);
        *len = sizeof *v6;
        return 0;
    }
    return -EINVAL;
}

void wk_sockaddr_format(const struct sockaddr *addr, char *buf, size_t size)
{
    char ip[INET6_ADDRSTRLEN];
    if (addr->sa_family == AF_INET) {
        const struct sockaddr_in *v4 = (const struct sockaddr_in *)addr;
        inet_ntop(AF_INET, &v4->sin_addr, ip, sizeof ip);
        snprintf(buf, size, "%s:%u", ip, ntohs(v4->sin_port));
    } else if (addr->sa_family == AF_INET6) {
        const struct sockaddr_in6 *v6 = (const struct sockaddr_in6 *)addr;
        inet_ntop(AF_INET6, &v6->sin6_addr, ip, sizeof ip);
        snprintf(buf, size, "[%s]:%u", ip, ntohs(v6->sin6_port));
    } else {
        snprintf(buf, size, "(unknown address family %d)", addr->sa_family);
    }
}

int wk_tcp_listen(const struct sockaddr *addr, socklen_t len, int backlog)
{
    int fd = socket(addr->sa_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    int one = 1;
    if (setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
        bind(fd, addr, len) < 0 || listen(fd, backlog) < 0) {
        int err = -errno;
        close(fd);
        return err;
    }
    return fd;
}
