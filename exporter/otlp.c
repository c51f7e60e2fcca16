/* otlp: spans -> ExportTraceServiceRequest, packed with the protobuf-c code generated from our
 * own proto/ files (OTLP v1 field numbers). */
#include "otlp.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "symbolize.h"
#include "trace_service.pb-c.h"

typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;
typedef Opentelemetry__Proto__Common__V1__InstrumentationScope Scope;
typedef Opentelemetry__Proto__Resource__V1__Resource Resource;
typedef Opentelemetry__Proto__Trace__V1__ResourceSpans ResourceSpans;
typedef Opentelemetry__Proto__Trace__V1__ScopeSpans ScopeSpans;
typedef Opentelemetry__Proto__Trace__V1__Span Span;
typedef Opentelemetry__Proto__Trace__V1__Status Status;
typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;

#define RES_FIXED_ATTRS 4 /* service.name, process.pid, process.executable.name, host.name */

/* Attribute slots: a run of KeyValue, their AnyValue and the pointer array protobuf-c wants. */
struct kvs {
	KeyValue *kv;
	AnyValue *av;
	KeyValue **ptr;
	size_t n, cap;
};

static int kvs_init(struct kvs *k, size_t cap)
{
	k->kv = malloc(cap * sizeof *k->kv);
	k->av = malloc(cap * sizeof *k->av);
	k->ptr = malloc(cap * sizeof *k->ptr);
	k->n = 0;
	k->cap = cap;
	return k->kv && k->av && k->ptr ? 0 : -1;
}

static void kvs_free(struct kvs *k)
{
	free(k->kv);
	free(k->av);
	free(k->ptr);
}

static AnyValue *kv_add(struct kvs *k, const char *key)
{
	/* The callers counted their slots: never past cap. */
	KeyValue *kv = &k->kv[k->n];
	AnyValue *av = &k->av[k->n];
	*kv = (KeyValue)OPENTELEMETRY__PROTO__COMMON__V1__KEY_VALUE__INIT;
	*av = (AnyValue)OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__INIT;
	kv->key = (char *)key;
	kv->value = av;
	k->ptr[k->n++] = kv;
	return av;
}

static void kv_str(struct kvs *k, const char *key, const char *s)
{
	AnyValue *av = kv_add(k, key);
	av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE;
	av->string_value = (char *)s;
}

static void kv_int(struct kvs *k, const char *key, int64_t i)
{
	AnyValue *av = kv_add(k, key);
	av->value_case = OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE;
	av->int_value = i;
}

static int env_has(const struct dbp_resource *r, const char *key)
{
	for (size_t i = 0; i < r->nattrs; i++)
		if (!strcmp(r->attrs[i].key, key))
			return 1;
	return 0;
}

/* The resource's attributes. service.name is the agent's (which already took OTEL_SERVICE_NAME
 * and OTEL_RESOURCE_ATTRIBUTES into account): the process's own service.name pair never
 * overrides it. Its other pairs win over what we detected (host.name in a container). */
static void resource_attrs(struct kvs *k, const struct dbp_resource *r, char **unknown)
{
	const char *svc = r->service_name;
	if (!svc || !*svc) {
		/* The spec's default: "unknown_service:" + process.executable.name. */
		size_t n = strlen(r->exe) + 17;
		*unknown = malloc(n);
		if (*unknown)
			snprintf(*unknown, n, "unknown_service:%s", r->exe);
		svc = *unknown ? *unknown : "unknown_service";
	}
	kv_str(k, "service.name", svc);
	if (!env_has(r, "process.pid"))
		kv_int(k, "process.pid", r->pid);
	if (*r->exe && !env_has(r, "process.executable.name"))
		kv_str(k, "process.executable.name", r->exe);
	if (*r->host && !env_has(r, "host.name"))
		kv_str(k, "host.name", r->host);
	for (size_t i = 0; i < r->nattrs; i++)
		if (strcmp(r->attrs[i].key, "service.name"))
			kv_str(k, r->attrs[i].key, r->attrs[i].value);
}

static int all_zero(const uint8_t *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i])
			return 0;
	return 1;
}

/* Everything one request is built from, freed together once packed. */
struct batch {
	size_t nres;
	struct dbp_resource **res; /* distinct, first appearance order */
	size_t *res_of;            /* spans[i]'s index in res */
	size_t *count, *first;     /* per resource: spans, index of its first in order */
	ResourceSpans *rs;
	ResourceSpans **rs_ptr;
	Resource *resource;
	ScopeSpans *ss;
	ScopeSpans **ss_ptr; /* one per resource */
	struct kvs *res_kv;
	char **unknown; /* per resource: "unknown_service:..." when allocated */
	Span *sp;
	Span **sp_ptr; /* grouped by resource */
	Status *status;
	struct kvs kv; /* every span's attributes, DBP_SPAN_ATTRS_MAX each */
	struct dbp_sym *code;
	uint8_t *has_code;
};

static void batch_free(struct batch *b)
{
	for (size_t i = 0; b->res_kv && i < b->nres; i++)
		kvs_free(&b->res_kv[i]);
	for (size_t i = 0; b->unknown && i < b->nres; i++)
		free(b->unknown[i]);
	free(b->res);
	free(b->res_of);
	free(b->count);
	free(b->first);
	free(b->rs);
	free(b->rs_ptr);
	free(b->resource);
	free(b->ss);
	free(b->ss_ptr);
	free(b->res_kv);
	free(b->unknown);
	free(b->sp);
	free(b->sp_ptr);
	free(b->status);
	kvs_free(&b->kv);
}

static int pack_into(const Request *req, struct dbp_buf *out)
{
	if (out->oom)
		return -1;
	size_t size =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__get_packed_size(
			req);
	if (out->cap < out->len + size + 1) {
		size_t cap = out->cap ? out->cap : 4096;
		while (cap < out->len + size + 1)
			cap *= 2;
		char *p = realloc(out->p, cap);
		if (!p) {
			out->oom = 1;
			return -1;
		}
		out->p = p;
		out->cap = cap;
	}
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__pack(
		req, (uint8_t *)out->p + out->len);
	out->len += size;
	out->p[out->len] = 0;
	return 0;
}

int dbp_otlp_encode(struct dbp_span *const *spans, size_t n, struct dbp_buf *out)
{
	struct batch b = { 0 };
	Request req =
		OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_REQUEST__INIT;
	Scope scope = OPENTELEMETRY__PROTO__COMMON__V1__INSTRUMENTATION_SCOPE__INIT;
	scope.name = DBP_OTLP_SCOPE;
	scope.version = DBPROBE_VERSION;
	int rc = -1;
	size_t m = n ? n : 1;

	b.res = malloc(m * sizeof *b.res);
	b.res_of = malloc(m * sizeof *b.res_of);
	b.sp = malloc(m * sizeof *b.sp);
	b.sp_ptr = malloc(m * sizeof *b.sp_ptr);
	b.status = malloc(m * sizeof *b.status);
	b.code = malloc(m * sizeof *b.code);
	b.has_code = calloc(m, 1);
	if (kvs_init(&b.kv, m * DBP_SPAN_ATTRS_MAX) < 0 || !b.res || !b.res_of || !b.sp ||
	    !b.sp_ptr || !b.status || !b.code || !b.has_code)
		goto out;

	/* Group by resource: batches hold few processes, a linear search is cheapest. */
	for (size_t i = 0; i < n; i++) {
		size_t r = b.nres;
		/* Consecutive spans mostly share theirs. */
		if (i && spans[i]->res == spans[i - 1]->res)
			r = b.res_of[i - 1];
		else
			for (size_t j = 0; j < b.nres; j++)
				if (b.res[j] == spans[i]->res) {
					r = j;
					break;
				}
		if (r == b.nres)
			b.res[b.nres++] = spans[i]->res;
		b.res_of[i] = r;
	}
	size_t nr = b.nres ? b.nres : 1;
	b.count = calloc(nr, sizeof *b.count);
	b.first = calloc(nr, sizeof *b.first);
	b.rs = malloc(nr * sizeof *b.rs);
	b.rs_ptr = malloc(nr * sizeof *b.rs_ptr);
	b.resource = malloc(nr * sizeof *b.resource);
	b.ss = malloc(nr * sizeof *b.ss);
	b.ss_ptr = malloc(nr * sizeof *b.ss_ptr);
	b.res_kv = calloc(nr, sizeof *b.res_kv);
	b.unknown = calloc(nr, sizeof *b.unknown);
	if (!b.count || !b.first || !b.rs || !b.rs_ptr || !b.resource || !b.ss || !b.ss_ptr ||
	    !b.res_kv || !b.unknown)
		goto out;
	for (size_t i = 0; i < n; i++)
		b.count[b.res_of[i]]++;
	for (size_t r = 1; r < b.nres; r++)
		b.first[r] = b.first[r - 1] + b.count[r - 1];

	for (size_t r = 0; r < b.nres; r++) {
		const struct dbp_resource *res = b.res[r];
		b.resource[r] = (Resource)OPENTELEMETRY__PROTO__RESOURCE__V1__RESOURCE__INIT;
		if (res) {
			if (kvs_init(&b.res_kv[r], RES_FIXED_ATTRS + res->nattrs) < 0)
				goto out;
			resource_attrs(&b.res_kv[r], res, &b.unknown[r]);
			b.resource[r].n_attributes = b.res_kv[r].n;
			b.resource[r].attributes = b.res_kv[r].ptr;
		}
		b.ss[r] = (ScopeSpans)OPENTELEMETRY__PROTO__TRACE__V1__SCOPE_SPANS__INIT;
		b.ss[r].scope = &scope;
		b.ss[r].spans = b.sp_ptr + b.first[r];
		b.ss_ptr[r] = &b.ss[r];
		b.rs[r] = (ResourceSpans)OPENTELEMETRY__PROTO__TRACE__V1__RESOURCE_SPANS__INIT;
		b.rs[r].resource = res ? &b.resource[r] : NULL;
		b.rs[r].n_scope_spans = 1;
		b.rs[r].scope_spans = &b.ss_ptr[r];
		b.rs_ptr[r] = &b.rs[r];
	}

	for (size_t i = 0; i < n; i++) {
		const struct dbp_span *s = spans[i];
		Span *p = &b.sp[i];
		*p = (Span)OPENTELEMETRY__PROTO__TRACE__V1__SPAN__INIT;
		p->trace_id = (ProtobufCBinaryData){ 16, (uint8_t *)s->trace_id };
		p->span_id = (ProtobufCBinaryData){ 8, (uint8_t *)s->span_id };
		if (!all_zero(s->parent_span_id, 8))
			p->parent_span_id =
				(ProtobufCBinaryData){ 8, (uint8_t *)s->parent_span_id };
		if (s->res && s->res->tracestate)
			p->trace_state = (char *)s->res->tracestate;
		/* Bits 0-7: the W3C trace flags, of which only sampled (0x01) is defined. The
		 * is-remote bits (0x100, 0x200) stay 0, the spec's "unknown": whether the parent is
		 * remote depends on where it came from (TRACEPARENT, or a transaction span in the
		 * process), which the span does not tell. */
		p->flags = s->sampled ? 0x01u : 0u;
		p->name = (char *)(s->name && *s->name         ? s->name
				   : s->summary && *s->summary ? s->summary
				   : s->system_name            ? s->system_name
							       : "db");
		p->kind =
			s->kind == DBP_SPAN_INTERNAL
				? OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL
				: OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT;
		p->start_time_unix_nano = s->start_unix_ns;
		p->end_time_unix_nano = s->end_unix_ns;
		if (s->error) {
			Status *st = &b.status[i];
			*st = (Status)OPENTELEMETRY__PROTO__TRACE__V1__STATUS__INIT;
			st->code =
				OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR;
			if (s->error_type)
				st->message = (char *)s->error_type;
			p->status = st;
		}
		if (s->stack && dbp_span_code(s, &b.code[i]) == 0)
			b.has_code[i] = 1;
		struct dbp_span_attr a[DBP_SPAN_ATTRS_MAX];
		size_t na = dbp_span_attrs(s, b.has_code[i] ? &b.code[i] : NULL, a);
		p->attributes = b.kv.ptr + b.kv.n;
		p->n_attributes = na;
		for (size_t j = 0; j < na; j++) {
			if (a[j].s)
				kv_str(&b.kv, a[j].key, a[j].s);
			else
				kv_int(&b.kv, a[j].key, a[j].i);
		}
		size_t r = b.res_of[i];
		b.ss[r].spans[b.ss[r].n_spans++] = p;
	}

	req.n_resource_spans = b.nres;
	req.resource_spans = b.rs_ptr;
	rc = pack_into(&req, out);
out:
	for (size_t i = 0; b.has_code && i < n; i++)
		if (b.has_code[i])
			dbp_sym_release(&b.code[i]);
	free(b.code);
	free(b.has_code);
	batch_free(&b);
	return rc;
}

const struct dbp_span_encoder dbp_otlp_encoder = {
	.name = "otlp",
	.content_type = "application/x-protobuf",
	.encode = dbp_otlp_encode,
};
