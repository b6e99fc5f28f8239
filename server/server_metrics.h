/* server/server_metrics.h: what wakeful-server's /metrics says (see metrics_http.h for
 * how it is served).
 *
 * The render reads the counters the acceptor and the workers keep anyway, each with a
 * relaxed atomic load: no lock, nothing a worker waits for.  A scrape is therefore a
 * snapshot of independent counters, not of one instant (a reply may show in
 * wakeful_replies_total and not yet in the histogram); every counter only grows. */
#ifndef WAKEFUL_SERVER_SERVER_METRICS_H
#define WAKEFUL_SERVER_SERVER_METRICS_H

#include "metrics.h"

/* A metrics_render_fn (metrics_http.h): arg is the struct server, which must stay
 * allocated, from server_start to server_free, while the metrics thread runs (main stops
 * the thread after server_run, before server_free). */
void server_metrics_render(void *arg, struct mtext *out);

#endif
