/* server/notify.c: sd_notify by hand (see notify.h).
 *
 * The datagram goes out with MSG_DONTWAIT: the only way a datagram send on AF_UNIX can
 * block is a receiver whose queue is full, and a server that hangs at startup because
 * its supervisor is slow is worse than a lost STATUS line.  MSG_NOSIGNAL as on every
 * send in wakeful: no send may raise SIGPIPE, whatever the socket.  The socket is made
 * per call, not kept: there are a few notifications per run, and a kept descriptor would
 * need an owner shared by every thread that notifies. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

int notify_send(const char *state)
{
    if (state == NULL)
        return -EINVAL;
    const char *where = getenv("NOTIFY_SOCKET");
    if (where == NULL || where[0] == '\0')
        return 0;
    if (where[0] != '/' && where[0] != '@')
        return -EAFNOSUPPORT;

    struct sockaddr_un sa;
    memset(&sa, 0, sizeof sa);
    sa.sun_family = AF_UNIX;
    size_t n = strlen(where);
    /* A path needs room for its NUL; an abstract name has none and may fill sun_path. */
    if (where[0] == '/' ? n >= sizeof sa.sun_path : n > sizeof sa.sun_path)
        return -ENAMETOOLONG;
    memcpy(sa.sun_path, where, n);
    if (where[0] == '@')
        sa.sun_path[0] = '\0'; /* abstract: the address length, not a NUL, ends the name */
    socklen_t salen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);

    int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    ssize_t r;
    do
        r = sendto(fd, state, strlen(state), MSG_DONTWAIT | MSG_NOSIGNAL,
                   (const struct sockaddr *)&sa, salen);
    while (r < 0 && errno == EINTR);
    int err = r < 0 ? errno : 0;
    close(fd);
    return err ? -err : 1;
}

/* Parses a whole decimal number into *v: digits only, no sign, no blank, no overflow. */
static int parse_u64(const char *s, uint64_t *v)
{
    if (s == NULL || *s == '\0')
        return -EINVAL;
    uint64_t x = 0;
    for (; *s; s++) {
        if (*s < '0' || *s > '9')
            return -EINVAL;
        unsigned d = (unsigned)(*s - '0');
        if (x > (UINT64_MAX - d) / 10)
            return -ERANGE;
        x = x * 10 + d;
    }
    *v = x;
    return 0;
}

uint64_t notify_watchdog_usec(void)
{
    uint64_t usec, pid;
    if (parse_u64(getenv("WATCHDOG_USEC"), &usec) < 0 || usec == 0)
        return 0;
    const char *p = getenv("WATCHDOG_PID");
    if (p != NULL && (parse_u64(p, &pid) < 0 || pid != (uint64_t)getpid()))
        return 0;
    return usec;
}
