/* test_otlp: spans and resources (span.c), the OTLP and Zipkin encoders decoded back (protobuf-c's
 * generated unpack, jansson), the push queue's configuration from the environment, and the
 * queue itself against a receiver in this process (libmicrohttpd) and an unreachable one. */
#include <arpa/inet.h>
#include <criterion/criterion.h>
#include <criterion/redirect.h>
#include <dlfcn.h>
#include <elf.h>
#include <jansson.h>
#include <link.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <zlib.h>

#include "buf.h"
#include "otlp.h"
#include "span.h"
#include "spanq.h"
#include "store.h"
#include "symbolize.h"
#include "trace_service.pb-c.h"
#include "zipkin.h"

typedef Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceRequest Request;
typedef Opentelemetry__Proto__Trace__V1__Span PSpan;
typedef Opentelemetry__Proto__Common__V1__KeyValue KeyValue;
typedef Opentelemetry__Proto__Common__V1__AnyValue AnyValue;

/* ---- helpers ---- */

static struct dbp_span *make_span(struct dbp_resource *res, uint8_t id, const char *name)
{
	struct dbp_span *sp = dbp_span_new(res, 64);
	cr_assert_not_null(sp);
	for (int i = 0; i < 16; i++)
		sp->trace_id[i] = (uint8_t)(0xa0 + i);
	memset(sp->span_id, id, 8);
	sp->start_unix_ns = 1700000000123456789ull;
	sp->end_unix_ns = sp->start_unix_ns + 2500000; /* 2.5 ms */
	sp->kind = DBP_SPAN_CLIENT;
	sp->db_system = 0;
	sp->name = dbp_span_str(sp, name, strlen(name));
	sp->system_name = "postgresql";
	sp->ns = "shop";
	sp->query_text = "SELECT * FROM items WHERE id = $1";
	sp->summary = "SELECT items";
	sp->server = "10.1.2.3";
	sp->server_port = 5432;
	sp->rows = 7;
	return sp;
}

static const AnyValue *attr(KeyValue **kv, size_t n, const char *key)
{
	const AnyValue *found = NULL;
	for (size_t i = 0; i < n; i++) {
		if (!strcmp(kv[i]->key, key)) {
			cr_assert_null(found, "attribute %s twice", key);
			found = kv[i]->value;
		}
	}
	return found;
}

static void assert_str_attr(KeyValue **kv, size_t n, const char *key, const char *want)
{
	const AnyValue *v = attr(kv, n, key);
	cr_assert_not_null(v, "no attribute %s", key);
	cr_assert_eq(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_STRING_VALUE,
		     "%s is not a string", key);
	cr_assert_str_eq(v->string_value, want, "%s", key);
}

static void assert_int_attr(KeyValue **kv, size_t n, const char *key, int64_t want)
{
	const AnyValue *v = attr(kv, n, key);
	cr_assert_not_null(v, "no attribute %s", key);
	cr_assert_eq(v->value_case, OPENTELEMETRY__PROTO__COMMON__V1__ANY_VALUE__VALUE_INT_VALUE,
		     "%s is not an int", key);
	cr_assert_eq(v->int_value, want, "%s: %lld", key, (long long)v->int_value);
}

static uint64_t now_ms(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* ---- spans and resources ---- */

Test(span, refcounts_and_strings)
{
	struct dbp_resource *r = dbp_resource_new("svc", "/usr/bin/app", 42, "h1", NULL, NULL, 0);
	cr_assert_not_null(r);
	cr_assert_eq(r->refs, 1);
	struct dbp_span *sp = dbp_span_new(r, 8);
	cr_assert_eq(r->refs, 2);
	cr_assert_eq(sp->refs, 1);
	const char *a = dbp_span_str(sp, "abc", 3);
	const char *b = dbp_span_str(sp, "wxyz", 3);
	cr_assert_str_eq(a, "abc");
	cr_assert_str_eq(b, "wxy");
	cr_assert_null(dbp_span_str(sp, "x", 1), "past the room counted");
	dbp_span_ref(sp);
	dbp_span_unref(sp);
	cr_assert_eq(sp->refs, 1);
	dbp_span_unref(sp);
	cr_assert_eq(r->refs, 1);
	dbp_resource_unref(r);
	char hex[17];
	dbp_hex((const uint8_t *)"\x01\xab\xff\x00\x10\x20\x30\x7f", 8, hex);
	cr_assert_str_eq(hex, "01abff001020307f");
}

Test(span, resource_attributes)
{
	const char *env = " a=1, b = x%20y ,bad,=v,c=%zz,d=%E2%82%AC,e=%ff,,f=%,a=2, g = ";
	struct dbp_resource *r =
		dbp_resource_new("svc", "/opt/x/bin/worker", 7, "host1", "k=v", env, strlen(env));
	cr_assert_not_null(r);
	cr_assert_str_eq(r->service_name, "svc");
	cr_assert_str_eq(r->exe, "worker");
	cr_assert_str_eq(r->host, "host1");
	cr_assert_str_eq(r->tracestate, "k=v");
	cr_assert_eq(r->pid, 7);
	/* a (last value wins), b decoded, d a euro sign, g empty; bad, =v, %zz, %ff (not
	 * UTF-8) and a lone % skipped. */
	cr_assert_eq(r->nattrs, 4, "%zu attributes", r->nattrs);
	cr_assert_str_eq(r->attrs[0].key, "a");
	cr_assert_str_eq(r->attrs[0].value, "2");
	cr_assert_str_eq(r->attrs[1].key, "b");
	cr_assert_str_eq(r->attrs[1].value, "x y");
	cr_assert_str_eq(r->attrs[2].key, "d");
	cr_assert_str_eq(r->attrs[2].value, "\xe2\x82\xac");
	cr_assert_str_eq(r->attrs[3].key, "g");
	cr_assert_str_eq(r->attrs[3].value, "");
	dbp_resource_unref(r);

	/* Not NUL-terminated: only attrs_len bytes count. */
	r = dbp_resource_new(NULL, NULL, 1, NULL, "", "k=v,zzz", 3);
	cr_assert_eq(r->nattrs, 1);
	cr_assert_str_eq(r->attrs[0].value, "v");
	cr_assert_str_eq(r->service_name, "");
	cr_assert_str_eq(r->exe, "");
	cr_assert_null(r->tracestate);
	dbp_resource_unref(r);
}

/* ---- the code location: this very file's function, symbolized ---- */

static struct {
	uint8_t id[64];
	size_t len;
	uintptr_t base;
} self_elf;

static int find_self(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size, (void)arg;
	/* The first object is the executable. */
	self_elf.base = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *nh = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *nh;
			const char *desc = name + ((nh->n_namesz + 3) & ~3u);
			if (nh->n_type == NT_GNU_BUILD_ID && nh->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && nh->n_descsz <= sizeof self_elf.id) {
				memcpy(self_elf.id, desc, nh->n_descsz);
				self_elf.len = nh->n_descsz;
			}
			p = desc + ((nh->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

__attribute__((noinline)) void otlp_test_caller(void)
{
	__asm__ volatile("");
}

/* One span per flavour, in two resources. */
struct fixture {
	struct dbp_resource *r1, *r2;
	struct dbp_span *sp[4];
	struct dbp_objfile obj;
	struct dbp_callstack *stack;
	struct dbp_symbolizer *sym;
	char exe[4096];
};

static void fixture_make(struct fixture *f)
{
	memset(f, 0, sizeof *f);
	const char *env = "service.name=ignored,deployment.environment.name=prod,host.name=h-env";
	f->r1 = dbp_resource_new("checkout", "/usr/bin/checkout", 4242, "host-a", "vendor=1", env,
				 strlen(env));
	f->r2 = dbp_resource_new("", "/usr/local/bin/batch", 77, "host-a", NULL, NULL, 0);
	/* 0: a call with a parent and a stack; 1: a failed call (root); 2: a transaction rolled
	 * back (r2); 3: a connect, INTERNAL-kind and local (r1 again, after r2). */
	f->sp[0] = make_span(f->r1, 1, "SELECT items");
	memset(f->sp[0]->parent_span_id, 0x99, 8);
	f->sp[0]->sampled = 1; /* the others were kept for being slow or failed */
	f->sp[1] = make_span(f->r1, 2, "INSERT orders");
	f->sp[1]->error = 1;
	f->sp[1]->error_type = "23505";
	f->sp[2] = make_span(f->r2, 3, "transaction");
	f->sp[2]->what = DBP_SPAN_TXN;
	f->sp[2]->rollback = 1;
	f->sp[2]->server = "::1";
	f->sp[3] = make_span(f->r1, 4, "connect");
	f->sp[3]->what = DBP_SPAN_CONNECT;
	f->sp[3]->kind = DBP_SPAN_INTERNAL;
	f->sp[3]->server = NULL;
	f->sp[3]->server_port = 0;
	f->sp[3]->query_text = NULL;

	dl_iterate_phdr(find_self, NULL);
	ssize_t n = readlink("/proc/self/exe", f->exe, sizeof f->exe - 1);
	cr_assert_gt(n, 0);
	f->exe[n] = 0;
	f->obj.path = f->exe;
	f->obj.path_len = (size_t)n;
	f->obj.build_id_len = (uint16_t)self_elf.len;
	memcpy(f->obj.build_id, self_elf.id, self_elf.len);
	f->stack = calloc(1, sizeof *f->stack + sizeof(struct dbp_callframe));
	f->stack->nframes = 1;
	f->stack->frames[0].obj = &f->obj;
	/* A return address inside the function: the lookup takes the byte before. */
	f->stack->frames[0].offset = (uintptr_t)otlp_test_caller + 1 - self_elf.base;
	f->sym = dbp_symbolizer_new(NULL);
	f->sp[0]->stack = f->stack;
	f->sp[0]->sym = f->sym;
}

static void fixture_free(struct fixture *f)
{
	for (int i = 0; i < 4; i++)
		dbp_span_unref(f->sp[i]);
	dbp_resource_unref(f->r1);
	dbp_resource_unref(f->r2);
	dbp_symbolizer_free(f->sym);
	free(f->stack);
}

Test(span, code_location)
{
	struct fixture f;
	fixture_make(&f);
	struct dbp_sym s;
	cr_assert_eq(dbp_span_code(f.sp[0], &s), 0);
	cr_assert_str_eq(s.function, "otlp_test_caller");
	dbp_sym_release(&s);
	cr_assert_eq(dbp_span_code(f.sp[1], &s), -1, "no stack, no location");
	fixture_free(&f);
}

/* ---- OTLP ---- */

Test(otlp, round_trip)
{
	struct fixture f;
	fixture_make(&f);
	struct dbp_buf b = { 0 };
	dbp_buf_puts(&b, "X"); /* appends: what was there stays */
	cr_assert_eq(dbp_otlp_encode(f.sp, 4, &b), 0);
	Request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, b.len - 1, (const uint8_t *)b.p + 1);
	cr_assert_not_null(req, "the body does not decode");

	cr_assert_eq(req->n_resource_spans, 2);
	/* r1 first (first seen), with spans 0, 1, 3 in order; r2 with span 2. */
	Opentelemetry__Proto__Trace__V1__ResourceSpans *rs = req->resource_spans[0];
	KeyValue **ra = rs->resource->attributes;
	size_t rn = rs->resource->n_attributes;
	assert_str_attr(ra, rn, "service.name", "checkout");
	assert_int_attr(ra, rn, "process.pid", 4242);
	assert_str_attr(ra, rn, "process.executable.name", "checkout");
	assert_str_attr(ra, rn, "host.name", "h-env");
	assert_str_attr(ra, rn, "deployment.environment.name", "prod");
	cr_assert_eq(rn, 5);
	cr_assert_eq(rs->n_scope_spans, 1);
	Opentelemetry__Proto__Trace__V1__ScopeSpans *ss = rs->scope_spans[0];
	cr_assert_str_eq(ss->scope->name, "dbprobe");
	cr_assert_str_eq(ss->scope->version, DBPROBE_VERSION);
	cr_assert_eq(ss->n_spans, 3);

	PSpan *p = ss->spans[0];
	cr_assert_eq(p->trace_id.len, 16);
	cr_assert_arr_eq(p->trace_id.data, f.sp[0]->trace_id, 16);
	cr_assert_eq(p->span_id.len, 8);
	cr_assert_arr_eq(p->span_id.data, f.sp[0]->span_id, 8);
	cr_assert_eq(p->parent_span_id.len, 8);
	cr_assert_arr_eq(p->parent_span_id.data, f.sp[0]->parent_span_id, 8);
	cr_assert_str_eq(p->trace_state, "vendor=1");
	cr_assert_eq(p->flags, 0x01, "W3C sampled, is-remote unknown: %#x", p->flags);
	cr_assert_str_eq(p->name, "SELECT items");
	cr_assert_eq(p->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_CLIENT);
	cr_assert_eq(p->start_time_unix_nano, 1700000000123456789ull);
	cr_assert_eq(p->end_time_unix_nano, 1700000000123456789ull + 2500000);
	cr_assert_null(p->status);
	assert_str_attr(p->attributes, p->n_attributes, "db.system.name", "postgresql");
	assert_str_attr(p->attributes, p->n_attributes, "db.namespace", "shop");
	assert_str_attr(p->attributes, p->n_attributes, "db.query.text",
			"SELECT * FROM items WHERE id = $1");
	assert_str_attr(p->attributes, p->n_attributes, "db.query.summary", "SELECT items");
	assert_str_attr(p->attributes, p->n_attributes, "server.address", "10.1.2.3");
	assert_int_attr(p->attributes, p->n_attributes, "server.port", 5432);
	assert_int_attr(p->attributes, p->n_attributes, "db.response.returned_rows", 7);
	assert_str_attr(p->attributes, p->n_attributes, "code.function.name", "otlp_test_caller");
	const AnyValue *file = attr(p->attributes, p->n_attributes, "code.file.path");
	if (file) { /* with debug info (the default build type has it) */
		const char *s = file->string_value;
		cr_assert(strlen(s) > 11 && !strcmp(s + strlen(s) - 11, "test_otlp.c"), "%s", s);
		cr_assert_not_null(attr(p->attributes, p->n_attributes, "code.line.number"));
	}
	cr_assert_null(attr(p->attributes, p->n_attributes, "error.type"));
	cr_assert_null(attr(p->attributes, p->n_attributes, "db.transaction.outcome"));
	cr_assert_eq(p->n_attributes, file ? 10 : 8);

	p = ss->spans[1]; /* failed, root */
	cr_assert_arr_eq(p->span_id.data, f.sp[1]->span_id, 8);
	cr_assert_eq(p->parent_span_id.len, 0, "a root has no parent span id");
	cr_assert_eq(p->flags, 0, "not sampled: %#x", p->flags);
	cr_assert_not_null(p->status);
	cr_assert_eq(p->status->code,
		     OPENTELEMETRY__PROTO__TRACE__V1__STATUS__STATUS_CODE__STATUS_CODE_ERROR);
	cr_assert_str_eq(p->status->message, "23505");
	assert_str_attr(p->attributes, p->n_attributes, "error.type", "23505");
	assert_str_attr(p->attributes, p->n_attributes, "db.response.status_code", "23505");
	cr_assert_null(attr(p->attributes, p->n_attributes, "code.function.name"));

	p = ss->spans[2]; /* connect */
	cr_assert_str_eq(p->name, "connect");
	cr_assert_eq(p->kind, OPENTELEMETRY__PROTO__TRACE__V1__SPAN__SPAN_KIND__SPAN_KIND_INTERNAL);
	cr_assert_null(attr(p->attributes, p->n_attributes, "server.address"));
	cr_assert_null(attr(p->attributes, p->n_attributes, "server.port"));
	cr_assert_null(attr(p->attributes, p->n_attributes, "db.query.text"));
	cr_assert_null(attr(p->attributes, p->n_attributes, "db.response.returned_rows"));

	rs = req->resource_spans[1];
	ra = rs->resource->attributes;
	rn = rs->resource->n_attributes;
	assert_str_attr(ra, rn, "service.name", "unknown_service:batch");
	assert_int_attr(ra, rn, "process.pid", 77);
	assert_str_attr(ra, rn, "host.name", "host-a");
	cr_assert_eq(rs->scope_spans[0]->n_spans, 1);
	p = rs->scope_spans[0]->spans[0];
	cr_assert_str_eq(p->trace_state, "");
	assert_str_attr(p->attributes, p->n_attributes, "db.transaction.outcome", "rollback");
	assert_str_attr(p->attributes, p->n_attributes, "server.address", "::1");
	cr_assert_null(attr(p->attributes, p->n_attributes, "db.response.returned_rows"));

	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
	dbp_buf_free(&b);

	/* An empty batch is an empty request, and "commit" for a committed transaction. */
	f.sp[2]->rollback = 0;
	cr_assert_eq(dbp_otlp_encode(f.sp + 2, 1, &b), 0);
	req = opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
		NULL, b.len, (const uint8_t *)b.p);
	p = req->resource_spans[0]->scope_spans[0]->spans[0];
	assert_str_attr(p->attributes, p->n_attributes, "db.transaction.outcome", "commit");
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
	dbp_buf_free(&b);
	cr_assert_eq(dbp_otlp_encode(NULL, 0, &b), 0);
	cr_assert_eq(b.len, 0);
	dbp_buf_free(&b);
	fixture_free(&f);
}

/* ---- Zipkin ---- */

Test(zipkin, round_trip)
{
	struct fixture f;
	fixture_make(&f);
	struct dbp_buf b = { 0 };
	cr_assert_eq(dbp_zipkin_encode(f.sp, 4, &b), 0);
	json_error_t je;
	json_t *arr = json_loadb(b.p, b.len, 0, &je);
	cr_assert_not_null(arr, "%s", je.text);
	cr_assert(json_is_array(arr));
	cr_assert_eq(json_array_size(arr), 4);

	json_t *o = json_array_get(arr, 0);
	cr_assert_str_eq(json_string_value(json_object_get(o, "traceId")),
			 "a0a1a2a3a4a5a6a7a8a9aaabacadaeaf");
	cr_assert_str_eq(json_string_value(json_object_get(o, "id")), "0101010101010101");
	cr_assert_str_eq(json_string_value(json_object_get(o, "parentId")), "9999999999999999");
	cr_assert_str_eq(json_string_value(json_object_get(o, "name")), "SELECT items");
	cr_assert_str_eq(json_string_value(json_object_get(o, "kind")), "CLIENT");
	cr_assert_eq(json_integer_value(json_object_get(o, "timestamp")), 1700000000123456);
	cr_assert_eq(json_integer_value(json_object_get(o, "duration")), 2500);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "localEndpoint"),
							   "serviceName")),
			 "checkout");
	json_t *re = json_object_get(o, "remoteEndpoint");
	cr_assert_str_eq(json_string_value(json_object_get(re, "ipv4")), "10.1.2.3");
	cr_assert_eq(json_integer_value(json_object_get(re, "port")), 5432);
	cr_assert_null(json_object_get(re, "ipv6"));
	json_t *tags = json_object_get(o, "tags");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.system.name")), "postgresql");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.namespace")), "shop");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.query.text")),
			 "SELECT * FROM items WHERE id = $1");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.query.summary")),
			 "SELECT items");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "server.address")), "10.1.2.3");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "server.port")), "5432");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.response.returned_rows")),
			 "7");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "code.function.name")),
			 "otlp_test_caller");
	cr_assert_null(json_object_get(tags, "error"));

	o = json_array_get(arr, 1);
	cr_assert_null(json_object_get(o, "parentId"), "a root has no parentId");
	tags = json_object_get(o, "tags");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "error")), "23505");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "error.type")), "23505");

	o = json_array_get(arr, 2);
	cr_assert_str_eq(json_string_value(json_object_get(json_object_get(o, "localEndpoint"),
							   "serviceName")),
			 "unknown_service:batch");
	re = json_object_get(o, "remoteEndpoint");
	cr_assert_str_eq(json_string_value(json_object_get(re, "ipv6")), "::1");
	tags = json_object_get(o, "tags");
	cr_assert_str_eq(json_string_value(json_object_get(tags, "db.transaction.outcome")),
			 "rollback");

	o = json_array_get(arr, 3);
	cr_assert_null(json_object_get(o, "kind"), "INTERNAL has no Zipkin kind");
	cr_assert_null(json_object_get(o, "remoteEndpoint"));
	json_decref(arr);
	dbp_buf_free(&b);
	fixture_free(&f);
}

/* ---- configuration ---- */

static void clear_env(void)
{
	static const char *const vars[] = {
		"OTEL_EXPORTER_OTLP_ENDPOINT",    "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT",
		"OTEL_EXPORTER_OTLP_HEADERS",     "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
		"OTEL_EXPORTER_OTLP_COMPRESSION", "OTEL_EXPORTER_OTLP_TRACES_COMPRESSION",
		"OTEL_EXPORTER_OTLP_TIMEOUT",     "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
		"OTEL_EXPORTER_OTLP_PROTOCOL",    "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL",
		"OTEL_BSP_MAX_QUEUE_SIZE",        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
		"OTEL_BSP_SCHEDULE_DELAY",        "DBPROBE_OTLP_RETRY_MS",
	};
	for (size_t i = 0; i < sizeof vars / sizeof vars[0]; i++)
		unsetenv(vars[i]);
}

Test(config, defaults)
{
	clear_env();
	struct dbp_spanq_cfg c;
	cr_assert_eq(dbp_spanq_config(&c, NULL), 0);
	cr_assert_eq(c.format, DBP_FMT_NONE);
	cr_assert_null(c.endpoint);
	cr_assert_null(c.headers);
	cr_assert_eq(c.gzip, 0);
	cr_assert_eq(c.timeout_ms, 10000);
	cr_assert_eq(c.queue_max, 2048);
	cr_assert_eq(c.batch_max, 512);
	cr_assert_eq(c.delay_ms, 5000);
	cr_assert_eq(c.retries, 5);
	cr_assert_eq(c.backoff_ms, 1000);
	cr_assert_eq(c.backoff_max_ms, 32000);
	cr_assert_eq(c.flush_ms, 5000);
	cr_assert_eq(c.latest, 1000);
	dbp_spanq_cfg_free(&c);
}

Test(config, endpoints)
{
	clear_env();
	struct dbp_spanq_cfg c;
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318", 1);
	dbp_spanq_config(&c, NULL);
	cr_assert_eq(c.format, DBP_FMT_OTLP);
	cr_assert_str_eq(c.endpoint, "http://collector:4318/v1/traces");
	dbp_spanq_cfg_free(&c);

	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://collector:4318/base/", 1);
	dbp_spanq_config(&c, NULL);
	cr_assert_str_eq(c.endpoint, "http://collector:4318/base/v1/traces");
	dbp_spanq_cfg_free(&c);

	/* The signal-specific one wins, used as it is. */
	setenv("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "https://t.example/custom", 1);
	dbp_spanq_config(&c, NULL);
	cr_assert_str_eq(c.endpoint, "https://t.example/custom");
	dbp_spanq_cfg_free(&c);

	/* --zipkin-endpoint wins over OTLP. */
	dbp_spanq_config(&c, "http://zipkin:9411/api/v2/spans");
	cr_assert_eq(c.format, DBP_FMT_ZIPKIN);
	cr_assert_str_eq(c.endpoint, "http://zipkin:9411/api/v2/spans");
	dbp_spanq_cfg_free(&c);
}

Test(config, headers_and_values)
{
	clear_env();
	struct dbp_spanq_cfg c;
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "ignored=1", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_HEADERS",
	       "api-key = secret%3Dx ,Authorization=Basic%20dXNlcjpwYXNz,x-empty=", 1);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "gzip", 1);
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "2500", 1);
	setenv("OTEL_EXPORTER_OTLP_TRACES_TIMEOUT", "1500", 1);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "100", 1);
	setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "10", 1);
	setenv("OTEL_BSP_SCHEDULE_DELAY", "250", 1);
	setenv("DBPROBE_OTLP_RETRY_MS", "5", 1);
	dbp_spanq_config(&c, NULL);
	cr_assert_not_null(c.headers);
	cr_assert_str_eq(c.headers[0], "api-key: secret=x");
	cr_assert_str_eq(c.headers[1], "Authorization: Basic dXNlcjpwYXNz");
	cr_assert_str_eq(c.headers[2], "x-empty;");
	cr_assert_null(c.headers[3]);
	cr_assert_eq(c.gzip, 1);
	cr_assert_eq(c.timeout_ms, 1500);
	cr_assert_eq(c.queue_max, 100);
	cr_assert_eq(c.batch_max, 10);
	cr_assert_eq(c.delay_ms, 250);
	cr_assert_eq(c.backoff_ms, 5);
	dbp_spanq_cfg_free(&c);
}

Test(config, bad_values, .init = cr_redirect_stderr)
{
	clear_env();
	struct dbp_spanq_cfg c;
	setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://c:4318", 1);
	setenv("OTEL_BSP_MAX_QUEUE_SIZE", "abc", 1);
	setenv("OTEL_BSP_MAX_EXPORT_BATCH_SIZE", "5000", 1); /* more than the queue */
	setenv("OTEL_EXPORTER_OTLP_TIMEOUT", "-3", 1);
	setenv("OTEL_EXPORTER_OTLP_COMPRESSION", "brotli", 1);
	setenv("OTEL_EXPORTER_OTLP_HEADERS", "good=1,bad header=2,novalue,x=%0d%0aInjected: 1", 1);
	dbp_spanq_config(&c, NULL);
	cr_assert_eq(c.queue_max, 2048);
	cr_assert_eq(c.batch_max, 512);
	cr_assert_eq(c.timeout_ms, 10000);
	cr_assert_eq(c.gzip, 0);
	cr_assert_str_eq(c.headers[0], "good: 1");
	cr_assert_null(c.headers[1]);
	dbp_spanq_cfg_free(&c);
	fflush(stderr);
	cr_assert_stderr_eq_str(
		"dbprobe-exporter: OTEL_EXPORTER_OTLP_HEADERS: 3 malformed entries skipped (want "
		"name=value,... with values percent-encoded)\n"
		"dbprobe-exporter: OTEL_EXPORTER_OTLP_COMPRESSION='brotli' is not gzip or none; "
		"using none\n"
		"dbprobe-exporter: OTEL_EXPORTER_OTLP_TIMEOUT='-3' is not a whole number from 1 to "
		"3600000; using 10000\n"
		"dbprobe-exporter: OTEL_BSP_MAX_QUEUE_SIZE='abc' is not a whole number from 1 to "
		"16777216; using 2048\n"
		"dbprobe-exporter: OTEL_BSP_MAX_EXPORT_BATCH_SIZE='5000' is not a whole number "
		"from 1 "
		"to 2048; using 512\n");
}

/* ---- the queue ---- */

static struct dbp_spanq_cfg base_cfg(enum dbp_span_format fmt, const char *endpoint)
{
	return (struct dbp_spanq_cfg){
		.format = fmt,
		.endpoint = (char *)endpoint,
		.timeout_ms = 2000,
		.queue_max = 64,
		.batch_max = 8,
		.delay_ms = 20,
		.retries = 2,
		.backoff_ms = 5,
		.backoff_max_ms = 20,
		.flush_ms = 2000,
		.latest = 16,
	};
}

static uint64_t all_dropped(const struct dbp_spanq_stats *s)
{
	uint64_t n = 0;
	for (int i = 0; i < DBP_SPAN_DROP_COUNT; i++)
		n += s->dropped[i];
	return n;
}

Test(spanq, none_keeps_latest_only)
{
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_NONE, NULL);
	c.latest = 4;
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	struct dbp_span *keep = NULL;
	for (int i = 1; i <= 10; i++) {
		struct dbp_span *sp = make_span(r, (uint8_t)i, "q");
		if (i == 1) {
			keep = sp;
			dbp_span_ref(keep);
		}
		dbp_spanq_put(q, sp);
	}
	cr_assert_eq(keep->refs, 1, "the queue let go of an evicted span");
	dbp_span_unref(keep);
	struct dbp_spanq_stats st;
	dbp_spanq_stats(q, &st);
	cr_assert_eq(st.format, DBP_FMT_NONE);
	cr_assert_eq(st.received, 10);
	cr_assert_eq(st.exported, 0);
	cr_assert_eq(all_dropped(&st), 0, "no collector: nothing counts as lost");
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.requests, 0);
	struct dbp_span *out[8];
	size_t n = dbp_spanq_latest(q, out, 8);
	cr_assert_eq(n, 4);
	for (size_t i = 0; i < n; i++) {
		cr_assert_eq(out[i]->span_id[0], 10 - i, "newest first");
		cr_assert_eq(out[i]->refs, 2);
	}
	n = dbp_spanq_latest(q, out + 4, 2);
	cr_assert_eq(n, 2);
	cr_assert_eq(out[4]->span_id[0], 10);
	dbp_spanq_stop(q);
	for (size_t i = 0; i < 6; i++) {
		cr_assert_eq(out[i]->refs, i < 2 ? 2 : 1);
		dbp_span_unref(out[i]);
	}
	dbp_resource_unref(r);
}

static int closed_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof sa;
	cr_assert_eq(bind(fd, (struct sockaddr *)&sa, sizeof sa), 0);
	getsockname(fd, (struct sockaddr *)&sa, &len);
	close(fd); /* nobody listens there now: connections are refused */
	return ntohs(sa.sin_port);
}

Test(spanq, unreachable_counts_every_span, .init = cr_redirect_stderr)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", closed_port());
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.queue_max = 16;
	c.batch_max = 4;
	c.backoff_ms = 50; /* the thread is stuck on one batch while the puts run */
	c.backoff_max_ms = 100;
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < 200; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	struct dbp_spanq_stats st;
	dbp_spanq_stats(q, &st);
	cr_assert_eq(st.received, 200);
	cr_assert_geq(st.dropped[DBP_SPAN_DROP_QUEUE_FULL], 200 - 16 - 4 * 2,
		      "a receiver that stays down loses at most the queue: %llu",
		      (unsigned long long)st.dropped[DBP_SPAN_DROP_QUEUE_FULL]);
	/* Every batch: 1 + 2 retries, then dropped; wait for the queue to drain. */
	uint64_t t0 = now_ms();
	do {
		usleep(10000);
		dbp_spanq_stats(q, &st);
	} while ((st.queued || st.received != all_dropped(&st)) && now_ms() - t0 < 10000);
	cr_assert_eq(st.queued, 0);
	cr_assert_eq(st.exported, 0);
	cr_assert_eq(st.received, all_dropped(&st));
	uint64_t batches = st.dropped[DBP_SPAN_DROP_RETRIES] / 4;
	cr_assert_gt(batches, 0);
	cr_assert_eq(st.dropped[DBP_SPAN_DROP_RETRIES] % 4, 0);
	cr_assert_eq(st.requests, batches * 3);
	cr_assert_eq(st.retries, batches * 2);
	dbp_spanq_stop(q);
	dbp_resource_unref(r);
}

Test(spanq, stop_cuts_retries_short, .init = cr_redirect_stderr)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", closed_port());
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.backoff_ms = c.backoff_max_ms = 60000; /* a retry would wait a minute */
	c.retries = 5;
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < 20; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	usleep(100000); /* the first batch has failed once and waits */
	uint64_t t0 = now_ms();
	struct dbp_span *held[16];
	size_t nheld = dbp_spanq_latest(q, held, 16);
	dbp_spanq_stop(q);
	cr_assert_lt(now_ms() - t0, 3000, "stop waited for the backoff");
	cr_assert_eq(nheld, 16);
	cr_assert_eq(r->refs, 1 + 16, "only the spans held here are left");
	for (size_t i = 0; i < nheld; i++) {
		cr_assert_eq(held[i]->refs, 1, "a reference leaked");
		dbp_span_unref(held[i]);
	}
	cr_assert_eq(r->refs, 1);
	dbp_resource_unref(r);
}

/* Every span put is exported, dropped or queued (the batch in flight included). */
static void assert_adds_up(const struct dbp_spanq_stats *st)
{
	cr_assert_eq(st->received, st->exported + all_dropped(st) + st->queued,
		     "received %llu != exported %llu + dropped %llu + queued %llu",
		     (unsigned long long)st->received, (unsigned long long)st->exported,
		     (unsigned long long)all_dropped(st), (unsigned long long)st->queued);
}

Test(spanq, drop_reasons)
{
	cr_assert_str_eq(dbp_span_drop_names[DBP_SPAN_DROP_OOM], "out_of_memory");
	for (int i = 0; i < DBP_SPAN_DROP_COUNT; i++) {
		cr_assert_not_null(dbp_span_drop_names[i], "reason %d has no name", i);
		for (int j = 0; j < i; j++)
			cr_assert_str_neq(dbp_span_drop_names[i], dbp_span_drop_names[j]);
	}
}

Test(spanq, outage_counts_the_batch_in_flight, .init = cr_redirect_stderr)
{
	char url[64];
	snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/traces", closed_port());
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.queue_max = 16;
	c.batch_max = 4;
	c.delay_ms = 60000; /* only a full batch goes */
	c.retries = 5;
	c.backoff_ms = c.backoff_max_ms = 60000; /* the first batch waits a minute to retry */
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	struct dbp_spanq_stats st;
	for (int i = 0; i < 4; i++) {
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
		dbp_spanq_stats(q, &st);
		assert_adds_up(&st);
	}
	/* The batch is taken, fails (connection refused) and waits: still counted, as queued. */
	uint64_t t0 = now_ms();
	do {
		dbp_spanq_stats(q, &st);
		assert_adds_up(&st);
		cr_assert_eq(st.queued, 4, "the batch in flight is not queued: %llu",
			     (unsigned long long)st.queued);
		usleep(1000);
	} while (!st.requests && now_ms() - t0 < 5000);
	cr_assert_eq(st.requests, 1);
	cr_assert_eq(all_dropped(&st), 0);
	/* Then the queue fills behind it and overflows. */
	for (int i = 0; i < 30; i++) {
		dbp_spanq_put(q, make_span(r, (uint8_t)(4 + i), "q"));
		dbp_spanq_stats(q, &st);
		assert_adds_up(&st);
	}
	cr_assert_eq(st.received, 34);
	cr_assert_eq(st.queued, 16 + 4);
	cr_assert_eq(st.dropped[DBP_SPAN_DROP_QUEUE_FULL], 34 - 20);
	cr_assert_eq(st.exported, 0);
	usleep(50000);
	dbp_spanq_stats(q, &st);
	assert_adds_up(&st);
	cr_assert_eq(st.queued, 20);
	cr_assert_eq(st.requests, 1, "retried before the backoff");
	dbp_spanq_stop(q);
	cr_assert_eq(r->refs, 1, "spans leaked");
	dbp_resource_unref(r);
}

/* ---- a receiver ---- */

struct recv {
	struct MHD_Daemon *d;
	pthread_mutex_t lock;
	int statuses[16]; /* answers in turn; 0: 200 from then on */
	int nstatus, next;
	const char *retry_after;
	int slow_first_ms; /* the first answer comes this late */
	long rejected;     /* partial_success.rejected_spans in a 200 */
	int requests;
	uint64_t spans;    /* decoded from the bodies accepted */
	char encoding[32]; /* Content-Encoding of the last request */
	char ctype[64];
	char apikey[64];
};

struct upload {
	struct dbp_buf body;
};

static uint64_t count_spans(const char *p, size_t n)
{
	Request *req =
		opentelemetry__proto__collector__trace__v1__export_trace_service_request__unpack(
			NULL, n, (const uint8_t *)p);
	cr_assert_not_null(req);
	uint64_t k = 0;
	for (size_t i = 0; i < req->n_resource_spans; i++)
		for (size_t j = 0; j < req->resource_spans[i]->n_scope_spans; j++)
			k += req->resource_spans[i]->scope_spans[j]->n_spans;
	opentelemetry__proto__collector__trace__v1__export_trace_service_request__free_unpacked(
		req, NULL);
	return k;
}

static void gunzip(const struct dbp_buf *in, struct dbp_buf *out)
{
	z_stream z = { 0 };
	cr_assert_eq(inflateInit2(&z, 15 + 16), Z_OK);
	z.next_in = (Bytef *)in->p;
	z.avail_in = (uInt)in->len;
	unsigned char chunk[4096];
	int rc;
	do {
		z.next_out = chunk;
		z.avail_out = sizeof chunk;
		rc = inflate(&z, Z_NO_FLUSH);
		cr_assert(rc == Z_OK || rc == Z_STREAM_END, "inflate: %d", rc);
		dbp_buf_put(out, (const char *)chunk, sizeof chunk - z.avail_out);
	} while (rc != Z_STREAM_END);
	inflateEnd(&z);
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	struct recv *rv = cls;
	(void)url, (void)method, (void)version;
	struct upload *u = *state;
	if (!u) {
		*state = calloc(1, sizeof *u);
		return MHD_YES;
	}
	if (*size) {
		dbp_buf_put(&u->body, data, *size);
		*size = 0;
		return MHD_YES;
	}
	pthread_mutex_lock(&rv->lock);
	if (!rv->requests && rv->slow_first_ms) {
		pthread_mutex_unlock(&rv->lock);
		usleep((useconds_t)rv->slow_first_ms * 1000);
		pthread_mutex_lock(&rv->lock);
	}
	const char *v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Encoding");
	snprintf(rv->encoding, sizeof rv->encoding, "%s", v ? v : "");
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Type");
	snprintf(rv->ctype, sizeof rv->ctype, "%s", v ? v : "");
	v = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "api-key");
	snprintf(rv->apikey, sizeof rv->apikey, "%s", v ? v : "");
	rv->requests++;
	int status = rv->next < rv->nstatus ? rv->statuses[rv->next++] : 200;
	struct dbp_buf resp = { 0 };
	if (status == 200) {
		struct dbp_buf plain = { 0 };
		if (!strcmp(rv->encoding, "gzip"))
			gunzip(&u->body, &plain);
		else
			dbp_buf_put(&plain, u->body.p ? u->body.p : "", u->body.len);
		rv->spans += count_spans(plain.p, plain.len);
		dbp_buf_free(&plain);
		if (rv->rejected) {
			Opentelemetry__Proto__Collector__Trace__V1__ExportTracePartialSuccess ps =
				OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_PARTIAL_SUCCESS__INIT;
			Opentelemetry__Proto__Collector__Trace__V1__ExportTraceServiceResponse r =
				OPENTELEMETRY__PROTO__COLLECTOR__TRACE__V1__EXPORT_TRACE_SERVICE_RESPONSE__INIT;
			ps.rejected_spans = rv->rejected;
			ps.error_message = "too old";
			r.partial_success = &ps;
			uint8_t out[256];
			size_t n =
				opentelemetry__proto__collector__trace__v1__export_trace_service_response__pack(
					&r, out);
			dbp_buf_put(&resp, (const char *)out, n);
		}
	}
	pthread_mutex_unlock(&rv->lock);
	struct MHD_Response *r = MHD_create_response_from_buffer(
		resp.len, resp.p ? resp.p : (char *)"", MHD_RESPMEM_MUST_COPY);
	MHD_add_response_header(r, "Content-Type", "application/x-protobuf");
	if (status != 200 && rv->retry_after)
		MHD_add_response_header(r, "Retry-After", rv->retry_after);
	enum MHD_Result rc = MHD_queue_response(conn, (unsigned)status, r);
	MHD_destroy_response(r);
	dbp_buf_free(&resp);
	return rc;
}

static void on_done(void *cls, struct MHD_Connection *conn, void **state,
		    enum MHD_RequestTerminationCode why)
{
	(void)cls, (void)conn, (void)why;
	struct upload *u = *state;
	if (u) {
		dbp_buf_free(&u->body);
		free(u);
	}
	*state = NULL;
}

static void recv_start(struct recv *rv, char *url, size_t urllen)
{
	pthread_mutex_init(&rv->lock, NULL);
	rv->d = MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_ERROR_LOG, 0, NULL, NULL,
				 on_request, rv, MHD_OPTION_NOTIFY_COMPLETED, on_done, rv,
				 MHD_OPTION_SOCK_ADDR,
				 &(struct sockaddr_in){ .sin_family = AF_INET,
							.sin_addr.s_addr = htonl(INADDR_LOOPBACK) },
				 MHD_OPTION_END);
	cr_assert_not_null(rv->d);
	const union MHD_DaemonInfo *di = MHD_get_daemon_info(rv->d, MHD_DAEMON_INFO_BIND_PORT);
	snprintf(url, urllen, "http://127.0.0.1:%u/v1/traces", di->port);
}

static struct dbp_spanq_stats push_and_stop(struct dbp_spanq_cfg *c, int nspans)
{
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < nspans; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	struct dbp_spanq_stats st;
	uint64_t t0 = now_ms();
	do {
		usleep(5000);
		dbp_spanq_stats(q, &st);
	} while (st.exported + all_dropped(&st) < st.received && now_ms() - t0 < 10000);
	dbp_spanq_stop(q);
	cr_assert_eq(r->refs, 1, "spans leaked");
	dbp_resource_unref(r);
	return st;
}

Test(spanq, exports_gzip_with_headers)
{
	struct recv rv = { 0 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	char *headers[] = { "api-key: s3cret", NULL };
	c.headers = headers;
	c.gzip = 1;
	struct dbp_spanq_stats st = push_and_stop(&c, 50);
	cr_assert_eq(st.exported, 50);
	cr_assert_eq(all_dropped(&st), 0);
	cr_assert_eq(rv.spans, 50);
	cr_assert_eq(st.requests, (uint64_t)rv.requests);
	cr_assert_geq(st.requests, 50 / 8);
	cr_assert_str_eq(rv.encoding, "gzip");
	cr_assert_str_eq(rv.ctype, "application/x-protobuf");
	cr_assert_str_eq(rv.apikey, "s3cret");
	MHD_stop_daemon(rv.d);
}

Test(spanq, retries_then_exports, .init = cr_redirect_stderr)
{
	struct recv rv = { .statuses = { 503, 429 }, .nstatus = 2, .retry_after = "0" };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.batch_max = 10; /* one batch: full, never due before */
	c.delay_ms = 60000;
	c.backoff_ms = c.backoff_max_ms = 60000; /* only Retry-After: 0 makes this test quick */
	uint64_t t0 = now_ms();
	struct dbp_spanq_stats st = push_and_stop(&c, 10);
	cr_assert_lt(now_ms() - t0, 5000, "Retry-After was not honoured");
	cr_assert_eq(st.exported, 10);
	cr_assert_eq(st.requests, 3);
	cr_assert_eq(st.retries, 2);
	cr_assert_eq(rv.spans, 10);
	MHD_stop_daemon(rv.d);
}

Test(spanq, rejected_and_partial, .init = cr_redirect_stderr)
{
	struct recv rv = { .statuses = { 400 }, .nstatus = 1 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.batch_max = 5; /* one batch per push_and_stop */
	c.delay_ms = 60000;
	/* The first batch refused outright (never retried), the second half-refused. */
	rv.rejected = 2;
	struct dbp_spanq_stats st = push_and_stop(&c, 5);
	cr_assert_eq(st.dropped[DBP_SPAN_DROP_REJECTED], 5);
	cr_assert_eq(st.requests, 1);
	st = push_and_stop(&c, 5);
	cr_assert_eq(st.exported, 3);
	cr_assert_eq(st.dropped[DBP_SPAN_DROP_REJECTED], 2);
	MHD_stop_daemon(rv.d);
}

Test(spanq, retries_exhausted, .init = cr_redirect_stderr)
{
	struct recv rv = { .statuses = { 503, 503, 503, 503 }, .nstatus = 4 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.batch_max = 5; /* one batch per push_and_stop */
	c.delay_ms = 60000;
	struct dbp_spanq_stats st = push_and_stop(&c, 5);
	cr_assert_eq(st.dropped[DBP_SPAN_DROP_RETRIES], 5);
	cr_assert_eq(st.requests, 3);
	cr_assert_eq(st.retries, 2);
	MHD_stop_daemon(rv.d);
}

Test(spanq, flush_at_stop)
{
	struct recv rv = { 0 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.delay_ms = 60000; /* nothing is due before stop */
	c.batch_max = 1000;
	c.queue_max = 1000;
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < 30; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	usleep(50000);
	struct dbp_spanq_stats st;
	dbp_spanq_stats(q, &st);
	cr_assert_eq(st.queued, 30);
	cr_assert_eq(st.requests, 0);
	dbp_spanq_stop(q);
	cr_assert_eq(rv.spans, 30);
	cr_assert_eq(r->refs, 1);
	dbp_resource_unref(r);
	MHD_stop_daemon(rv.d);
}

/* A batch waiting for a retry at stop gets one more attempt, within the flush. */
Test(spanq, stop_retries_a_waiting_batch_once, .init = cr_redirect_stderr)
{
	struct recv rv = { .statuses = { 503 }, .nstatus = 1 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.batch_max = 10; /* one batch: full, never due before */
	c.delay_ms = 60000;
	c.retries = 5;
	c.backoff_ms = c.backoff_max_ms = 60000; /* a retry would wait a minute */
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < 10; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	struct dbp_spanq_stats st;
	uint64_t t0 = now_ms();
	do {
		usleep(2000);
		dbp_spanq_stats(q, &st);
	} while (!st.requests && now_ms() - t0 < 5000);
	cr_assert_eq(st.requests, 1);
	cr_assert_eq(st.queued, 10, "the batch waiting for its retry is queued");
	t0 = now_ms();
	dbp_spanq_stop(q);
	cr_assert_lt(now_ms() - t0, 3000, "stop waited for the backoff");
	cr_assert_eq(rv.requests, 2);
	cr_assert_eq(rv.spans, 10, "the last attempt at stop did not deliver");
	cr_assert_eq(r->refs, 1);
	dbp_resource_unref(r);
	MHD_stop_daemon(rv.d);
}

/* A request in flight at stop that fails retryably is tried once more, within the flush. */
Test(spanq, stop_retries_a_failed_request_once, .init = cr_redirect_stderr)
{
	struct recv rv = { .statuses = { 503 }, .nstatus = 1, .slow_first_ms = 300 };
	char url[64];
	recv_start(&rv, url, sizeof url);
	struct dbp_spanq_cfg c = base_cfg(DBP_FMT_OTLP, url);
	c.batch_max = 10;
	c.delay_ms = 60000;
	c.retries = 5;
	c.backoff_ms = c.backoff_max_ms = 60000;
	char err[128];
	struct dbp_spanq *q = dbp_spanq_start(&c, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	struct dbp_resource *r = dbp_resource_new("s", "/x", 1, "h", NULL, NULL, 0);
	for (int i = 0; i < 10; i++)
		dbp_spanq_put(q, make_span(r, (uint8_t)i, "q"));
	usleep(100000); /* the first request waits for its (slow) answer */
	struct dbp_spanq_stats st;
	dbp_spanq_stats(q, &st);
	cr_assert_eq(st.requests, 0);
	cr_assert_eq(st.queued, 10);
	uint64_t t0 = now_ms();
	dbp_spanq_stop(q);
	cr_assert_lt(now_ms() - t0, 3000);
	/* 503 in flight as stop came, then one more attempt, which delivers. */
	cr_assert_eq(rv.requests, 2);
	cr_assert_eq(rv.spans, 10, "the last attempt at stop did not deliver");
	cr_assert_eq(r->refs, 1);
	dbp_resource_unref(r);
	MHD_stop_daemon(rv.d);
}
