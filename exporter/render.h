/* render: the pages the exporter serves, behind one table the HTTP layer dispatches on. */
#ifndef DBPROBE_RENDER_H
#define DBPROBE_RENDER_H

#include "buf.h"
#include "store.h"

struct dbp_request {
	const char *path;
	/* Query-string argument, or NULL. */
	const char *(*arg)(const struct dbp_request *r, const char *name);
	/* Request header (name case-insensitive), or NULL. The accessor itself may be NULL: a
	 * request without headers (as unit tests build them). */
	const char *(*header)(const struct dbp_request *r, const char *name);
	void *impl;
};

struct dbp_page {
	int status;               /* HTTP status */
	const char *content_type; /* static */
	const char *vary;         /* static, or NULL: the Vary header (content negotiated on) */
	struct dbp_buf body;
};

struct dbp_route {
	const char *path;
	void (*render)(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
	int prefix; /* path is a prefix: "/stacks/" serves "/stacks/3" (r->path is the whole) */
};

/* Implemented in prom.c and api.c. */
/* GET /metrics: OpenMetrics 1.0 (with exemplars) when the Accept header asks for it, else the
 * Prometheus text format 0.0.4. */
void dbp_render_metrics(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
void dbp_render_queries(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
void dbp_render_sockets(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
void dbp_render_agents(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
/* GET /stacks/<id>: one interned stack, symbolized; 404 JSON for an unknown id. */
void dbp_render_stack(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
/* GET /traces?limit=N: the latest spans, newest first (default 100, at most 1000). */
void dbp_render_traces(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);
void dbp_render_healthz(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out);

#endif
