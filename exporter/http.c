/* http: serves the render table over HTTP with libmicrohttpd. */
#include "http.h"

#include <microhttpd.h>
#include <netdb.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "render.h"

struct dbp_http {
	struct MHD_Daemon *d;
	struct dbp_store *store;
};

static const struct dbp_route routes[] = {
	{ "/metrics", dbp_render_metrics, 0 }, { "/queries", dbp_render_queries, 0 },
	{ "/sockets", dbp_render_sockets, 0 }, { "/agents", dbp_render_agents, 0 },
	{ "/healthz", dbp_render_healthz, 0 }, { "/stacks/", dbp_render_stack, 1 },
	{ "/traces", dbp_render_traces, 0 },
};

static const char *req_arg(const struct dbp_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->impl, MHD_GET_ARGUMENT_KIND, name);
}

/* libmicrohttpd compares header names case-insensitively (RFC 9110 5.1). */
static const char *req_header(const struct dbp_request *r, const char *name)
{
	return MHD_lookup_connection_value(r->impl, MHD_HEADER_KIND, name);
}

static enum MHD_Result reply(struct MHD_Connection *conn, struct dbp_page *page)
{
	struct MHD_Response *resp = MHD_create_response_from_buffer(
		page->body.len, page->body.p ? page->body.p : (char *)"", MHD_RESPMEM_MUST_COPY);
	if (!resp)
		return MHD_NO;
	MHD_add_response_header(resp, "Content-Type", page->content_type);
	if (page->vary)
		MHD_add_response_header(resp, "Vary", page->vary);
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)page->status, resp);
	MHD_destroy_response(resp);
	return rc;
}

static enum MHD_Result handle(void *cls, struct MHD_Connection *conn, const char *url,
			      const char *method, const char *version, const char *upload,
			      size_t *upload_size, void **state)
{
	(void)version;
	(void)upload;
	(void)upload_size;
	(void)state;
	struct dbp_http *h = cls;
	struct dbp_page page = { .status = 404, .content_type = "text/plain; charset=utf-8" };
	if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		page.status = 405;
		dbp_buf_puts(&page.body, "only GET is served\n");
	} else {
		size_t i;
		for (i = 0; i < sizeof routes / sizeof routes[0]; i++)
			if (routes[i].prefix ? !strncmp(url, routes[i].path, strlen(routes[i].path))
					     : !strcmp(url, routes[i].path))
				break;
		if (i < sizeof routes / sizeof routes[0]) {
			struct dbp_request r = {
				.path = url, .arg = req_arg, .header = req_header, .impl = conn
			};
			routes[i].render(h->store, &r, &page);
			if (page.body.oom) {
				dbp_buf_free(&page.body);
				page.status = 500;
				page.content_type = "text/plain; charset=utf-8";
				dbp_buf_puts(&page.body, "out of memory\n");
			}
		} else {
			dbp_buf_puts(&page.body, "not found; try /metrics, /queries, /sockets, "
						 "/agents, /stacks/<id>, /traces or /healthz\n");
		}
	}
	enum MHD_Result rc = reply(conn, &page);
	dbp_buf_free(&page.body);
	return rc;
}

struct dbp_http *dbp_http_start(const char *listen, struct dbp_store *s, char *err, size_t errlen)
{
	char host[256];
	const char *colon = strrchr(listen, ':');
	if (!colon || !colon[1]) {
		snprintf(err, errlen, "listen address '%s' is not HOST:PORT", listen);
		return NULL;
	}
	size_t hl = (size_t)(colon - listen);
	if (hl >= sizeof host) {
		snprintf(err, errlen, "listen host in '%s' is too long", listen);
		return NULL;
	}
	memcpy(host, listen, hl);
	host[hl] = 0;
	if (hl >= 2 && host[0] == '[' && host[hl - 1] == ']') { /* [::1]:9464 */
		memmove(host, host + 1, hl - 2);
		host[hl - 2] = 0;
	}
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM,
				  .ai_flags = AI_PASSIVE | AI_NUMERICSERV };
	struct addrinfo *ai = NULL;
	int gai = getaddrinfo(host[0] ? host : NULL, colon + 1, &hints, &ai);
	if (gai) {
		snprintf(err, errlen, "cannot resolve listen address '%s': %s", listen,
			 gai_strerror(gai));
		return NULL;
	}
	struct dbp_http *h = calloc(1, sizeof *h);
	if (!h) {
		freeaddrinfo(ai);
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	h->store = s;
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG;
	if (ai->ai_family == AF_INET6)
		flags |= MHD_USE_IPv6;
	in_port_t port = 0; /* the address carries it; MHD wants a value anyway */
	h->d = MHD_start_daemon(flags, port, NULL, NULL, handle, h, MHD_OPTION_SOCK_ADDR,
				ai->ai_addr, MHD_OPTION_CONNECTION_TIMEOUT, 30u,
				MHD_OPTION_CONNECTION_LIMIT, 256u, MHD_OPTION_END);
	freeaddrinfo(ai);
	if (!h->d) {
		snprintf(err, errlen, "cannot serve HTTP on %s (address in use?)", listen);
		free(h);
		return NULL;
	}
	return h;
}

void dbp_http_stop(struct dbp_http *h)
{
	if (!h)
		return;
	MHD_stop_daemon(h->d);
	free(h);
}
