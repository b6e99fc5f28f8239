/* server/server_metrics.c: see server_metrics.h. */
#include "server_metrics.h"

#include <stdio.h>

#include "server.h"
#include "worker.h"

#ifndef WK_SERVER_VERSION
#define WK_SERVER_VERSION "0.1.0"
#endif

/* Which per-worker counter a family shows. */
enum per_worker {
    PW_CONNECTIONS,
    PW_REPLIES,
    PW_BAD_FRAMES,
    PW_TIMEOUTS,
    PW_RESETS,
    PW_PARKS,
};

static uint64_t worker_value(const struct worker *w, enum per_worker which)
{
    const struct conn_counters *k = &w->counters;
    switch (which) {
    case PW_CONNECTIONS:
        return AO_load(&k->connections);
    case PW_REPLIES:
        return AO_load(&k->replies);
    case PW_BAD_FRAMES:
        return AO_load(&k->bad_frames);
    case PW_TIMEOUTS:
        return AO_load(&k->timeouts);
    case PW_RESETS:
        return AO_load(&k->resets);
    case PW_PARKS:
        return AO_load(&w->parks);
    }
    return 0;
}

/* A counter family with one sample per worker, labelled worker="N" (1-based, as the
 * SIGUSR1 report numbers them). */
static void per_worker(struct mtext *t, const struct worker_pool *p, const char *name,
                       const char *help, enum per_worker which)
{
    metrics_family(t, name, "counter", help);
    for (unsigned i = 0; i < p->n; i++) {
        char id[16];
        snprintf(id, sizeof id, "%u", p->w[i].host.id);
        metrics_sample_u64(t, name, "worker", id, worker_value(&p->w[i], which));
    }
}

void server_metrics_render(void *arg, struct mtext *t)
{
    const struct server *srv = arg;
    const struct acceptor *acc = &srv->acceptor;
    const struct worker_pool *p = &srv->workers;

    metrics_family(t, "wakeful_build_info", "gauge",
                   "Always 1; the version of wakeful-server in a label.");
    metrics_sample_u64(t, "wakeful_build_info", "version", WK_SERVER_VERSION, 1);
    metrics_counter(t, "wakeful_accepted_total", "Connections accepted.",
                    AO_load(&acc->accepted));
    metrics_counter(t, "wakeful_dropped_total",
                    "Connections closed at once because every worker's pipe was full.",
                    AO_load(&acc->dropped));
    metrics_gauge(t, "wakeful_open_connections", "Connections accepted and not yet closed.",
                  (double)limit_live(&srv->limit));
    metrics_gauge(t, "wakeful_max_connections",
                  "The --max-connections limit: at it, the server stops accepting.",
                  (double)srv->limit.max);
    metrics_gauge(t, "wakeful_draining",
                  "1 from SIGTERM or SIGINT (its grace period included) until exit, else 0.",
                  (double)server_draining(srv));
    /* One sample per phase of server.h, 1 for the current one. */
    static const char *const phases[] = {"up", "grace", "closing", "draining", "done"};
    enum server_phase ph = server_phase(srv);
    metrics_family(t, "wakeful_shutdown_phase", "gauge",
                   "1 for the phase the server is in (up; after SIGTERM grace, closing, "
                   "draining; done), 0 for the others.");
    for (unsigned i = 0; i < sizeof phases / sizeof phases[0]; i++)
        metrics_sample_u64(t, "wakeful_shutdown_phase", "phase", phases[i],
                           (unsigned)ph == i);
    per_worker(t, p, "wakeful_connections_total", "Connections a worker took.",
               PW_CONNECTIONS);
    per_worker(t, p, "wakeful_replies_total", "Requests answered with a reply.",
               PW_REPLIES);
    per_worker(t, p, "wakeful_bad_frames_total",
               "Connections closed without a reply for a bad frame (too large, invalid "
               "UTF-8, cut short).", PW_BAD_FRAMES);
    per_worker(t, p, "wakeful_timeouts_total",
               "Connections closed without a reply: no whole frame (or reply) in time.",
               PW_TIMEOUTS);
    per_worker(t, p, "wakeful_resets_total",
               "Connections closed without a reply: reset, vanished, or a socket error.",
               PW_RESETS);
    per_worker(t, p, "wakeful_parks_total",
               "Times a worker had no connection left and went to park.", PW_PARKS);

    const struct latency_hist *hists[SERVER_MAX_WORKERS];
    unsigned n = p->n < SERVER_MAX_WORKERS ? p->n : SERVER_MAX_WORKERS;
    for (unsigned i = 0; i < n; i++)
        hists[i] = &p->w[i].counters.latency;
    metrics_histogram(t, "wakeful_request_duration_seconds",
                      "From the worker taking the connection (microseconds after the "
                      "accept) to the reply sent, for requests answered.",
                      hists, n);

    metrics_process(t);
}
