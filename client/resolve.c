/* client/resolve.c: see resolve.h. */
#include "resolve.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <wakeful/errors.h>
#include <wakeful/resolve.h>
#include <wakeful/tcp.h>

int cl_split_host_port(const char *spec, char *host, size_t host_size, uint16_t *port,
                       bool *has_port)
{
    const char *h = spec, *p = NULL;
    size_t hlen;
    if (spec[0] == '[') {
        const char *close = strchr(spec, ']');
        if (close == NULL)
            return -EINVAL;
        h = spec + 1;
        hlen = (size_t)(close - h);
        if (close[1] == ':')
            p = close + 2;
        else if (close[1] != '\0')
            return -EINVAL;
    } else {
        const char *colon = strchr(spec, ':');
        if (colon != NULL && strchr(colon + 1, ':') == NULL) {
            hlen = (size_t)(colon - spec);
            p = colon + 1;
        } else {
            hlen = strlen(spec); /* no colon, or an IPv6 literal's own colons */
        }
    }
    if (hlen == 0)
        return -EINVAL;
    if (hlen >= host_size)
        return -ENAMETOOLONG;
    memcpy(host, h, hlen);
    host[hlen] = '\0';
    *has_port = p != NULL;
    if (p != NULL) {
        char *end;
        if (*p < '0' || *p > '9')
            return -EINVAL;
        errno = 0;
        unsigned long v = strtoul(p, &end, 10);
        if (*end != '\0' || errno != 0 || v < 1 || v > 65535)
            return -EINVAL;
        *port = (uint16_t)v;
    }
    return 0;
}

/* One lookup, shared by the caller and the helper thread; the last of the two to let go
 * frees it, so a caller that gave up (timeout) leaves the thread nothing dangling. */
typedef struct lookup {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;           /* 2 while both hold it */
    bool done;          /* the thread has answered */
    int rc;             /* wk_resolve's result: a count or -errno */
    wk_address res[CL_MAX_ADDRS];
    char host[256];
    uint16_t port;
} lookup;

static void lookup_release(lookup *q)
{
    pthread_mutex_lock(&q->lock);
    int left = --q->refs;
    pthread_mutex_unlock(&q->lock);
    if (left > 0)
        return;
    pthread_cond_destroy(&q->cond);
    pthread_mutex_destroy(&q->lock);
    free(q);
}

static void *lookup_main(void *arg)
{
    lookup *q = arg;
    wk_address res[CL_MAX_ADDRS];
    int rc = wk_resolve(q->host, q->port, AF_UNSPEC, SOCK_STREAM, res, CL_MAX_ADDRS);
    pthread_mutex_lock(&q->lock);
    q->rc = rc;
    if (rc > 0)
        memcpy(q->res, res, (size_t)rc * sizeof res[0]);
    q->done = true;
    pthread_cond_signal(&q->cond);
    pthread_mutex_unlock(&q->lock);
    lookup_release(q);
    return NULL;
}

int cl_resolve(const char *host, uint16_t port, cl_addr *out, unsigned max, unsigned *n,
               uint64_t timeout_ms, char *why, size_t why_size)
{
    *n = 0;
    if (why_size > 0)
        why[0] = '\0';
    /* A literal needs no thread. */
    if (max > 0 && wk_sockaddr_parse(host, port, &out[0].sa, &out[0].len) == 0) {
        *n = 1;
        return 0;
    }
    if (strlen(host) >= sizeof ((lookup *)0)->host)
        return -ENOENT;
    lookup *q = calloc(1, sizeof *q);
    if (q == NULL)
        return -ENOMEM;
    pthread_mutex_init(&q->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&q->cond, &attr);
    pthread_condattr_destroy(&attr);
    q->refs = 2;
    snprintf(q->host, sizeof q->host, "%s", host);
    q->port = port;

    pthread_t t;
    if (pthread_create(&t, NULL, lookup_main, q) != 0) {
        q->refs = 1;
        lookup_release(q);
        return -EAGAIN;
    }
    pthread_detach(t);

    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += (time_t)(timeout_ms / 1000);
    ts.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    int rc = 0;
    pthread_mutex_lock(&q->lock);
    while (!q->done)
        if (pthread_cond_timedwait(&q->cond, &q->lock, &ts) == ETIMEDOUT)
            break;
    if (!q->done) {
        rc = -ETIMEDOUT;
    } else if (q->rc < 0) {
        if (q->rc == -ENXIO)
            snprintf(why, why_size, "no such host");
        else if (q->rc == -EAGAIN)
            snprintf(why, why_size, "the name server did not answer");
        else
            snprintf(why, why_size, "%s", wk_strerror(q->rc));
        rc = -ENOENT;
    } else {
        for (int i = 0; i < q->rc && *n < max; i++) {
            memset(&out[*n].sa, 0, sizeof out[*n].sa);
            memcpy(&out[*n].sa, &q->res[i].addr, q->res[i].len);
            out[*n].len = q->res[i].len;
            (*n)++;
        }
    }
    pthread_mutex_unlock(&q->lock);
    lookup_release(q);
    return rc;
}
