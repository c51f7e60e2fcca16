/* zipkin: spans -> Zipkin v2 JSON (zipkin-api's Span: ids in hex, times in microseconds, tags
 * as strings), built with jansson. */
#include "zipkin.h"

#include <arpa/inet.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>

#include "otlp.h"
#include "symbolize.h"

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Sets key to a string: strings reaching here are valid UTF-8, but a refusal (NULL) only loses
 * that one field. */
static void set_str(json_t *o, const char *key, const char *s)
{
	if (s)
		json_object_set_new(o, key, json_string(s));
}

static void set_hex(json_t *o, const char *key, const uint8_t *p, size_t n)
{
	char hex[33];
	dbp_hex(p, n, hex);
	json_object_set_new(o, key, json_string(hex));
}

/* remoteEndpoint: the server's address when it is an IP literal (a host name has no field of
 * its own: it stays in the server.address tag), and its port. NULL when neither. */
static json_t *remote_endpoint(const struct dbp_span *sp)
{
	if (!sp->server || !*sp->server)
		return NULL;
	json_t *e = json_object();
	if (!e)
		return NULL;
	char ip[64];
	const char *s = sp->server;
	size_t len = strlen(s);
	if (len >= 2 && s[0] == '[' && s[len - 1] == ']') { /* "[::1]" */
		s++;
		len -= 2;
	}
	if (len < sizeof ip) {
		memcpy(ip, s, len);
		ip[len] = 0;
		unsigned char a[16];
		if (inet_pton(AF_INET, ip, a) == 1)
			set_str(e, "ipv4", ip);
		else if (inet_pton(AF_INET6, ip, a) == 1)
			set_str(e, "ipv6", ip);
	}
	if (sp->server_port)
		json_object_set_new(e, "port", json_integer(sp->server_port));
	if (!json_object_size(e)) {
		json_decref(e);
		return NULL;
	}
	return e;
}

static json_t *span_json(const struct dbp_span *sp)
{
	json_t *o = json_object();
	if (!o)
		return NULL;
	set_hex(o, "traceId", sp->trace_id, 16);
	set_hex(o, "id", sp->span_id, 8);
	if (!all_zero(sp->parent_span_id, 8))
		set_hex(o, "parentId", sp->parent_span_id, 8);
	set_str(o, "name",
		sp->name && *sp->name         ? sp->name
		: sp->summary && *sp->summary ? sp->summary
		: sp->system_name             ? sp->system_name
					      : "db");
	if (sp->kind == DBP_SPAN_CLIENT)
		set_str(o, "kind", "CLIENT");
	/* Microseconds; Zipkin wants a duration of at least 1 and rounds shorter ones up. */
	uint64_t dur =
		sp->end_unix_ns > sp->start_unix_ns ? sp->end_unix_ns - sp->start_unix_ns : 0;
	json_object_set_new(o, "timestamp", json_integer((json_int_t)(sp->start_unix_ns / 1000)));
	json_object_set_new(o, "duration",
			    json_integer((json_int_t)(dur ? (dur + 999) / 1000 : 1)));
	if (sp->res) {
		json_t *le = json_object();
		const char *svc = sp->res->service_name;
		char unknown[300];
		if (!svc || !*svc) {
			snprintf(unknown, sizeof unknown, "unknown_service:%s", sp->res->exe);
			svc = unknown;
		}
		set_str(le, "serviceName", svc);
		json_object_set_new(o, "localEndpoint", le);
	}
	json_t *re = remote_endpoint(sp);
	if (re)
		json_object_set_new(o, "remoteEndpoint", re);

	struct dbp_sym code;
	int has_code = sp->stack && dbp_span_code(sp, &code) == 0;
	struct dbp_span_attr a[DBP_SPAN_ATTRS_MAX];
	size_t na = dbp_span_attrs(sp, has_code ? &code : NULL, a);
	json_t *tags = json_object();
	for (size_t i = 0; i < na; i++) {
		if (a[i].s) {
			set_str(tags, a[i].key, a[i].s);
		} else {
			char num[24];
			snprintf(num, sizeof num, "%" PRId64, a[i].i);
			set_str(tags, a[i].key, num);
		}
	}
	if (has_code)
		dbp_sym_release(&code);
	/* OpenTelemetry's mapping to Zipkin: the status as otel.status_code, the failure in the
	 * "error" tag (Zipkin's marker of a failed span), the scope as otel.scope.*. */
	if (sp->error) {
		set_str(tags, "otel.status_code", "ERROR");
		set_str(tags, "error",
			sp->error_type && *sp->error_type ? sp->error_type : "error");
	}
	set_str(tags, "otel.scope.name", DBP_OTLP_SCOPE);
	set_str(tags, "otel.scope.version", DBPROBE_VERSION);
	json_object_set_new(o, "tags", tags);
	return o;
}

static int dump_cb(const char *p, size_t n, void *arg)
{
	struct dbp_buf *b = arg;
	dbp_buf_put(b, p, n);
	return b->oom ? -1 : 0;
}

int dbp_zipkin_encode(struct dbp_span *const *spans, size_t n, struct dbp_buf *out)
{
	json_t *arr = json_array();
	if (!arr)
		return -1;
	for (size_t i = 0; i < n; i++) {
		json_t *o = span_json(spans[i]);
		if (!o || json_array_append_new(arr, o) < 0) {
			json_decref(arr);
			return -1;
		}
	}
	int rc = json_dump_callback(arr, dump_cb, out, JSON_COMPACT);
	json_decref(arr);
	return rc < 0 || out->oom ? -1 : 0;
}

const struct dbp_span_encoder dbp_zipkin_encoder = {
	.name = "zipkin",
	.content_type = "application/json",
	.encode = dbp_zipkin_encode,
};
