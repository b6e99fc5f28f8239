/* server/limit.c: see limit.h. */
#include "limit.h"

#include <errno.h>
#include <sys/eventfd.h>
#include <unistd.h>

int limit_init(struct conn_limit *l, uint64_t max)
{
    l->max = max;
    AO_store(&l->live, 0);
    l->poke_fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    return l->poke_fd < 0 ? -errno : 0;
}

void limit_free(struct conn_limit *l)
{
    if (l->poke_fd >= 0)
        close(l->poke_fd);
    l->poke_fd = -1;
}

void limit_release(struct conn_limit *l)
{
    AO_t before = AO_fetch_and_sub1_full(&l->live);
    if (before == l->max) {
        uint64_t one = 1;
        /* EAGAIN only when the counter is about to overflow: already readable then. */
        ssize_t r = write(l->poke_fd, &one, sizeof one);
        (void)r;
    }
}

void limit_clear_poke(struct conn_limit *l)
{
    uint64_t count;
    ssize_t r = read(l->poke_fd, &count, sizeof count);
    (void)r; /* EAGAIN: another read emptied it already */
}
