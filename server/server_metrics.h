/* server/server_metrics.h: what wakeful-server's /metrics says (see metrics_http.h for
 * how it is served).
 *
 * The render reads the counters the acceptor and the workers keep anyway, each with a
 * relaxed atomic load: no lock, nothing a worker waits for.  A scrape is therefore a
 * snapshot of independent counters, not of one instant (a reply may show in
 * wakeful_replies_total and not yet in the histogram); every counter only grows. */
#ifndef WAKEFUL_SERVER_SERVER_METRICS_H
#define WAKEFUL_SERVER_SERVER_METRICS_H

#include "acceptor.h"
#include "metrics.h"
#include "server.h"

/* The render's argument: where the counters are.  Both must outlive the metrics thread
 * (main stops it before it frees the workers). */
struct server_metrics_src {
    const struct server *srv;
    const struct acceptor *acc;
};

/* A metrics_render_fn: arg is a struct server_metrics_src. */
void server_metrics_render(void *arg, struct mtext *out);

#endif
