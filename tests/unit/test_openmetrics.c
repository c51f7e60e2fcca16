/* test_openmetrics: /metrics in OpenMetrics 1.0 (content negotiation, family metadata, exemplars,
 * # EOF) and in the 0.0.4 text, the span pipeline's metrics, and GET /traces; all rendered from
 * a store built by hand. */
#include <criterion/criterion.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "render.h"
#include "span.h"
#include "spanq.h"
#include "store.h"

/* ---- requests ---- */

struct req {
	struct dbp_request r;
	const char *accept, *limit;
};

static const char *req_arg(const struct dbp_request *r, const char *name)
{
	return !strcmp(name, "limit") ? ((const struct req *)r)->limit : NULL;
}

static const char *req_header(const struct dbp_request *r, const char *name)
{
	return !strcasecmp(name, "accept") ? ((const struct req *)r)->accept : NULL;
}

struct page {
	int status;
	const char *content_type;
	char *body;
};

static struct page get(struct dbp_store *s,
		       void (*fn)(struct dbp_store *, const struct dbp_request *,
				  struct dbp_page *),
		       const char *accept, const char *limit)
{
	struct req q = { .r = { .path = "/", .arg = req_arg, .header = req_header },
			 .accept = accept,
			 .limit = limit };
	struct dbp_page p = { 0 };
	fn(s, &q.r, &p);
	cr_assert_not(p.body.oom);
	struct page out = { p.status, p.content_type, strndup(p.body.p, p.body.len) };
	dbp_buf_free(&p.body);
	cr_assert_not_null(out.body);
	return out;
}

#define PROMETHEUS_ACCEPT                                                                        \
	"application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;" \
	"q=0.75,text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
#define CT_OM "application/openmetrics-text; version=1.0.0; charset=utf-8"
#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"

/* ---- a store with two histograms carrying exemplars ---- */

static const char *intern(struct dbp_store *s, const char *v)
{
	return dbp_store_intern(s, v, strlen(v));
}

static void fill(uint8_t *p, size_t n, uint8_t first)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (uint8_t)(first + i);
}

static void build_store(struct dbp_store *s)
{
	dbp_store_init(s, 100);
	/* A service name that needs escaping: quote, backslash, newline. */
	struct dbp_where w = { .service = intern(s, "shop \"eu\\1\"\nx"),
			       .ns = intern(s, "orders"),
			       .server = intern(s, "db.local"),
			       .port = 5432,
			       .system = DBP_DB_POSTGRESQL };
	struct dbp_series *se = dbp_store_series(s, &w, intern(s, "SELECT items"), NULL);
	cr_assert_not_null(se);
	se->buckets[9] = 2;  /* (0.0005, 0.001] */
	se->buckets[18] = 1; /* (0.5, 1] */
	se->buckets[DBP_PROM_BUCKETS] = 1;
	se->count = 4;
	se->sum_s = 12.5;
	se->exemplars = calloc(DBP_PROM_BUCKETS + 1, sizeof *se->exemplars);
	cr_assert_not_null(se->exemplars);
	struct dbp_exemplar *ex = &se->exemplars[9];
	fill(ex->trace_id, 16, 0xa0);
	fill(ex->span_id, 8, 0x01);
	ex->value_s = 0.000734;
	ex->unix_ns = 1700000000123456789ull;
	ex->set = 1;
	ex = &se->exemplars[DBP_PROM_BUCKETS]; /* +Inf */
	fill(ex->trace_id, 16, 0x10);
	fill(ex->span_id, 8, 0xf0);
	ex->value_s = 11.25;
	ex->unix_ns = 1700000001000000000ull;
	ex->set = 1;

	struct dbp_series *cs = dbp_store_conn_series(s, &w, NULL);
	cr_assert_not_null(cs);
	cs->buckets[12] = 1; /* (0.005, 0.01] */
	cs->count = 1;
	cs->sum_s = 0.006;
	cs->exemplars = calloc(DBP_PROM_BUCKETS + 1, sizeof *cs->exemplars);
	cr_assert_not_null(cs->exemplars);
	ex = &cs->exemplars[12];
	fill(ex->trace_id, 16, 0x00);
	fill(ex->span_id, 8, 0x08);
	ex->value_s = 0.006;
	ex->unix_ns = 1700000002000000000ull;
	ex->set = 1;
	s->calls = 4;
	s->connections_total = 2;
}

/* ---- a line-by-line OpenMetrics 1.0 checker (the parts we emit) ---- */

struct fam {
	char name[128], type[16];
	int has_unit, has_help;
};

static int is_name_char(char c, int first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
	       (!first && c >= '0' && c <= '9');
}

/* A label set at p: {name="escaped",...}; returns past it. */
static const char *check_labels(const char *p, const char *line)
{
	cr_assert_eq(*p, '{', "labels expected: %s", line);
	p++;
	while (*p != '}') {
		cr_assert(is_name_char(*p, 1) && *p != ':', "label name: %s", line);
		while (is_name_char(*p, 0) && *p != ':')
			p++;
		cr_assert(p[0] == '=' && p[1] == '"', "label =\": %s", line);
		for (p += 2; *p != '"'; p++) {
			cr_assert(*p && *p != '\n', "unterminated label value: %s", line);
			if (*p == '\\') {
				p++;
				cr_assert(*p == '\\' || *p == '"' || *p == 'n', "escape: %s", line);
			}
		}
		p++;
		if (*p == ',')
			p++;
		else
			cr_assert_eq(*p, '}', "label separator: %s", line);
	}
	return p + 1;
}

/* A number up to a space or the end; returns past it. */
static const char *check_number(const char *p, const char *line)
{
	char *end;
	strtod(p, &end);
	cr_assert(end != p && (*end == ' ' || !*end), "number: %s", line);
	return end;
}

static int has_suffix(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* Checks the whole exposition; returns the number of exemplars seen. */
static unsigned check_openmetrics(const char *text)
{
	static struct fam fams[128];
	unsigned nfams = 0, exemplars = 0;
	struct fam *cur = NULL;
	size_t len = strlen(text);
	cr_assert(len >= 6 && !strcmp(text + len - 6, "# EOF\n"), "no final # EOF");
	char *copy = strdup(text), *save = NULL;
	for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (!strcmp(line, "# EOF")) {
			cr_assert_eq(line + 6, copy + len, "# EOF before the end");
			break;
		}
		char kw[8], name[128], rest[512];
		if (line[0] == '#') {
			cr_assert_eq(sscanf(line, "# %7s %127s %511[^\n]", kw, name, rest), 3,
				     "metadata: %s", line);
			if (!cur || strcmp(cur->name, name)) {
				for (unsigned i = 0; i < nfams; i++)
					cr_assert_str_neq(fams[i].name, name, "family twice: %s",
							  name);
				cr_assert_lt(nfams, 128);
				cur = &fams[nfams++];
				snprintf(cur->name, sizeof cur->name, "%s", name);
			}
			if (!strcmp(kw, "TYPE")) {
				cr_assert_eq(cur->type[0], 0, "TYPE twice: %s", name);
				cr_assert(!cur->has_unit && !cur->has_help, "TYPE not first: %s",
					  name);
				snprintf(cur->type, sizeof cur->type, "%.15s", rest);
				cr_assert(!strcmp(rest, "counter") || !strcmp(rest, "gauge") ||
						  !strcmp(rest, "histogram") ||
						  !strcmp(rest, "info"),
					  "type: %s", line);
				cr_assert_not(has_suffix(name, strlen(name), "_total"),
					      "a family named _total: %s", line);
			} else if (!strcmp(kw, "UNIT")) {
				cr_assert_not(cur->has_unit || cur->has_help, "UNIT: %s", line);
				char want[520];
				snprintf(want, sizeof want, "_%s", rest);
				cr_assert(has_suffix(name, strlen(name), want),
					  "unit not the name's suffix: %s", line);
				cur->has_unit = 1;
			} else {
				cr_assert_str_eq(kw, "HELP", "metadata: %s", line);
				cr_assert_not(cur->has_help, "HELP twice: %s", line);
				for (const char *p = rest; *p; p++) {
					cr_assert_neq(*p, '"', "unescaped quote in HELP: %s", line);
					if (*p == '\\')
						cr_assert(*++p && strchr("\\\"n", *p), "%s", line);
				}
				cur->has_help = 1;
			}
			continue;
		}
		/* A sample: it belongs to the current family, with its type's suffix. */
		cr_assert_not_null(cur, "sample before any family: %s", line);
		const char *p = line;
		cr_assert(is_name_char(*p, 1), "sample name: %s", line);
		while (is_name_char(*p, 0))
			p++;
		size_t n = (size_t)(p - line), fn = strlen(cur->name);
		cr_assert(n >= fn && !memcmp(line, cur->name, fn), "%s outside family %s", line,
			  cur->name);
		const char *suffix = line + fn;
		size_t sn = n - fn;
		if (!strcmp(cur->type, "counter"))
			cr_assert(sn == 6 && !memcmp(suffix, "_total", 6), "counter: %s", line);
		else if (!strcmp(cur->type, "histogram"))
			cr_assert((sn == 7 && !memcmp(suffix, "_bucket", 7)) ||
					  (sn == 4 && !memcmp(suffix, "_sum", 4)) ||
					  (sn == 6 && !memcmp(suffix, "_count", 6)),
				  "histogram: %s", line);
		else if (!strcmp(cur->type, "info"))
			cr_assert(sn == 5 && !memcmp(suffix, "_info", 5), "info: %s", line);
		else
			cr_assert_eq(sn, 0, "gauge: %s", line);
		if (*p == '{')
			p = check_labels(p, line);
		cr_assert_eq(*p, ' ', "space before the value: %s", line);
		p = check_number(p + 1, line);
		if (!*p)
			continue;
		cr_assert(!strncmp(p, " # ", 3), "exemplar: %s", line);
		cr_assert(!strcmp(cur->type, "counter") ||
				  (!strcmp(cur->type, "histogram") && sn == 7),
			  "exemplar on a %s sample: %s", cur->type, line);
		p = check_labels(p + 3, line);
		cr_assert_eq(*p, ' ', "exemplar value: %s", line);
		p = check_number(p + 1, line);
		if (*p)
			p = check_number(p + 1, line);
		cr_assert_eq(*p, 0, "after the exemplar: %s", line);
		exemplars++;
	}
	free(copy);
	return exemplars;
}

/* The one line starting with prefix. */
static char *line_of(const char *text, const char *prefix)
{
	const char *p = text;
	for (;;) {
		cr_assert_not_null(p, "no line %s in\n%s", prefix, text);
		if (!strncmp(p, prefix, strlen(prefix)))
			break;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	const char *e = strchr(p, '\n');
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

#define OPS "db_client_operation_duration_seconds"
#define CONNS "db_client_connection_create_time_seconds"
#define LBL                                                                                     \
	"service_name=\"shop \\\"eu\\\\1\\\"\\nx\",db_system_name=\"postgresql\",db_namespace=" \
	"\"orders\",server_address=\"db.local\",server_port=\"5432\""

/* ---- tests ---- */

Test(openmetrics, negotiation_follows_prometheus)
{
	static const struct {
		const char *accept;
		int om;
	} cases[] = {
		{ NULL, 0 },
		{ "", 0 },
		{ "*/*", 0 },
		{ "text/plain", 0 },
		{ PROMETHEUS_ACCEPT, 1 },
		/* Prometheus 2.x without OpenMetrics scraping, and its old versions. */
		{ "text/plain;version=0.0.4;q=1,*/*;q=0.1", 0 },
		{ "application/openmetrics-text", 1 },
		{ "Application/OpenMetrics-Text ; Version=\"1.0.0\"", 1 },
		{ "application/openmetrics-text;version=0.0.1", 1 },
		{ "application/openmetrics-text;version=2.0.0", 0 },
		{ "application/openmetrics-text;q=0", 0 },
		{ "application/openmetrics-text;q=0.2, text/plain;q=0.5", 0 },
		{ "text/plain;version=0.0.4;q=0.3, application/openmetrics-text;q=0.4", 1 },
		{ "application/openmetrics-text;q=0.5,text/plain;q=0.5", 1 }, /* tie: the first */
		{ "text/plain;q=0.5,application/openmetrics-text;q=0.5", 0 },
		{ "text/plain;version=0.0.5,application/openmetrics-text;q=0.1", 1 },
		{ "application/openmetrics-text;q=bad,text/plain", 0 },
		{ "application/json, application/openmetrics-text;q=0.01", 1 },
		{ ";;,=,application/openmetrics-text;q=\"0.9\";foo", 1 },
	};
	struct dbp_store s;
	dbp_store_init(&s, 10);
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		struct page p = get(&s, dbp_render_metrics, cases[i].accept, NULL);
		cr_assert_eq(p.status, 200);
		cr_assert_str_eq(p.content_type, cases[i].om ? CT_OM : CT_TEXT, "Accept: %s",
				 cases[i].accept ? cases[i].accept : "(none)");
		size_t n = strlen(p.body);
		cr_assert_eq(n >= 6 && !strcmp(p.body + n - 6, "# EOF\n"), cases[i].om);
		free(p.body);
	}
	/* A request without a header accessor (as other tests build them): the 0.0.4 text. */
	struct dbp_request r = { .path = "/metrics", .arg = req_arg };
	struct dbp_page pg = { 0 };
	dbp_render_metrics(&s, &r, &pg);
	cr_assert_str_eq(pg.content_type, CT_TEXT);
	dbp_buf_free(&pg.body);
	dbp_store_free(&s);
}

Test(openmetrics, families_exemplars_and_eof)
{
	struct dbp_store s;
	build_store(&s);
	struct page p = get(&s, dbp_render_metrics, PROMETHEUS_ACCEPT, NULL);
	cr_assert_eq(p.status, 200);
	cr_assert_str_eq(p.content_type, CT_OM);
	cr_assert_eq(check_openmetrics(p.body), 3, "%s", p.body);

	/* Metadata: TYPE, UNIT, HELP; counters without _total, samples with it. */
	cr_assert_not_null(strstr(p.body,
				  "# TYPE " OPS " histogram\n# UNIT " OPS " seconds\n"
				  "# HELP " OPS " Duration of database client operations, as "
				  "seen in the calling process.\n" OPS "_bucket{"));
	cr_assert_not_null(strstr(p.body, "# TYPE dbprobe_agent_connections counter\n"
					  "# HELP dbprobe_agent_connections Agent connections "
					  "accepted since the exporter started.\n"
					  "dbprobe_agent_connections_total 2\n"));
	cr_assert_not_null(strstr(p.body, "# TYPE dbprobe_socket_write_bytes counter\n"
					  "# UNIT dbprobe_socket_write_bytes bytes\n"));
	cr_assert_not_null(strstr(p.body, "# TYPE dbprobe_exporter_start_time_seconds gauge\n"
					  "# UNIT dbprobe_exporter_start_time_seconds seconds\n"));
	cr_assert_not_null(strstr(p.body, "# TYPE dbprobe_calls_received counter\n"
					  "# HELP dbprobe_calls_received Database calls received "
					  "from agents.\ndbprobe_calls_received_total 4\n"));
	cr_assert_null(strstr(p.body, "# UNIT dbprobe_agent"));
	/* HELP escapes quotes in OpenMetrics. */
	cr_assert_not_null(strstr(p.body, "# HELP dbprobe_fingerprints_folded Distinct "
					  "fingerprints folded into the \\\"other\\\" entry over "
					  "the cap.\n"));
	/* No span metrics without a span pipeline. */
	cr_assert_null(strstr(p.body, "dbprobe_spans"));

	/* Buckets: cumulative, canonical le, the exemplar on its own bucket's line. */
	char *l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\","
				      "le=\"0.0005\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"0.0005\"} "
				"0");
	free(l);
	l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"0.001\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"0.001\"} 2 "
				"# {trace_id=\"a0a1a2a3a4a5a6a7a8a9aaabacadaeaf\",span_id="
				"\"0102030405060708\"} 0.000734 1700000000.123456789");
	free(l);
	l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"1.0\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"1.0\"} 3");
	free(l);
	l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"10.0\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"10.0\"} 3");
	free(l);
	l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"+Inf\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"+Inf\"} 4 "
				"# {trace_id=\"101112131415161718191a1b1c1d1e1f\",span_id="
				"\"f0f1f2f3f4f5f6f7\"} 11.25 1700000001.000000000");
	free(l);
	l = line_of(p.body, OPS "_count{");
	cr_assert_str_eq(l, OPS "_count{" LBL ",db_query_summary=\"SELECT items\"} 4");
	free(l);
	l = line_of(p.body, CONNS "_bucket{" LBL ",le=\"0.01\"}");
	cr_assert_str_eq(l, CONNS "_bucket{" LBL ",le=\"0.01\"} 1 # {trace_id=\"000102030405060708"
				  "090a0b0c0d0e0f\",span_id=\"08090a0b0c0d0e0f\"} 0.006 "
				  "1700000002.000000000");
	free(l);
	free(p.body);
	dbp_store_free(&s);
}

Test(openmetrics, text_format_is_unchanged)
{
	struct dbp_store s;
	build_store(&s);
	struct page p = get(&s, dbp_render_metrics, "text/plain;version=0.0.4;q=1,*/*;q=0.1", NULL);
	cr_assert_str_eq(p.content_type, CT_TEXT);
	cr_assert_null(strstr(p.body, "# EOF"));
	cr_assert_null(strstr(p.body, " # {"), "an exemplar in 0.0.4:\n%s", p.body);
	cr_assert_null(strstr(p.body, "# UNIT"));
	cr_assert_not_null(strstr(p.body, "# HELP dbprobe_agent_connections_total Agent "
					  "connections accepted since the exporter started.\n"
					  "# TYPE dbprobe_agent_connections_total counter\n"
					  "dbprobe_agent_connections_total 2\n"));
	cr_assert_not_null(strstr(p.body, "folded into the \"other\" entry"));
	char *l =
		line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"1\"}");
	cr_assert_str_eq(l, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"1\"} 3");
	free(l);
	l = line_of(p.body, OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"0.001\"}");
	cr_assert_str_eq(l,
			 OPS "_bucket{" LBL ",db_query_summary=\"SELECT items\",le=\"0.001\"} 2");
	free(l);
	free(p.body);
	dbp_store_free(&s);
}

/* ---- the span pipeline ---- */

static struct dbp_spanq *pipeline(void)
{
	struct dbp_spanq_cfg cfg = { .format = DBP_FMT_NONE,
				     .timeout_ms = 1000,
				     .queue_max = 64,
				     .batch_max = 16,
				     .delay_ms = 100,
				     .backoff_ms = 10,
				     .backoff_max_ms = 100,
				     .flush_ms = 100,
				     .latest = 8 };
	char err[256] = "";
	struct dbp_spanq *q = dbp_spanq_start(&cfg, err, sizeof err);
	cr_assert_not_null(q, "%s", err);
	return q;
}

static struct dbp_span *span(struct dbp_resource *res, uint8_t id, const char *name)
{
	struct dbp_span *sp = dbp_span_new(res, strlen(name) + 1);
	cr_assert_not_null(sp);
	fill(sp->trace_id, 16, 0x40);
	fill(sp->span_id, 8, id);
	sp->name = dbp_span_str(sp, name, strlen(name));
	sp->start_unix_ns = 1700000000000000000ull + id * 1000000ull;
	sp->end_unix_ns = sp->start_unix_ns + 2500000; /* 2.5 ms */
	sp->kind = DBP_SPAN_CLIENT;
	sp->what = DBP_SPAN_CALL;
	sp->db_system = DBP_DB_POSTGRESQL;
	sp->system_name = "postgresql";
	sp->ns = "orders";
	sp->query_text = "SELECT * FROM items WHERE id = $1";
	sp->summary = "SELECT items";
	sp->server = "db.local";
	sp->server_port = 5432;
	sp->rows = 3;
	sp->sampled = 1;
	return sp;
}

Test(openmetrics, span_pipeline_metrics_in_both_formats)
{
	struct dbp_store s;
	dbp_store_init(&s, 10);
	s.spans = pipeline();
	struct dbp_resource *res =
		dbp_resource_new("checkout", "/usr/bin/app", 42, "host1", NULL, NULL, 0);
	cr_assert_not_null(res);
	for (uint8_t i = 1; i <= 3; i++)
		dbp_spanq_put(s.spans, span(res, i, "SELECT items"));
	dbp_resource_unref(res);

	struct page om = get(&s, dbp_render_metrics, PROMETHEUS_ACCEPT, NULL);
	check_openmetrics(om.body);
	cr_assert_not_null(strstr(om.body, "# TYPE dbprobe_spans_received counter\n"));
	cr_assert_not_null(strstr(om.body, "\ndbprobe_spans_received_total 3\n"));
	cr_assert_not_null(strstr(om.body, "# TYPE dbprobe_spans_queued gauge\n"));
	struct page txt = get(&s, dbp_render_metrics, NULL, NULL);
	cr_assert_not_null(strstr(txt.body, "# TYPE dbprobe_spans_received_total counter\n"
					    "dbprobe_spans_received_total 3\n"));
	static const char *const names[] = {
		"dbprobe_spans_exported_total ",
		"dbprobe_spans_dropped_total{reason=\"queue_full\"} ",
		"dbprobe_spans_dropped_total{reason=\"rejected\"} ",
		"dbprobe_spans_dropped_total{reason=\"retries_exhausted\"} ",
		"dbprobe_spans_dropped_total{reason=\"shutdown\"} ",
		"dbprobe_span_export_requests_total ",
		"dbprobe_span_export_retries_total ",
		"dbprobe_spans_queued ",
	};
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
		free(line_of(om.body, names[i]));
		free(line_of(txt.body, names[i]));
	}
	free(om.body);
	free(txt.body);
	dbp_spanq_stop(s.spans);
	s.spans = NULL;
	dbp_store_free(&s);
}

/* ---- GET /traces ---- */

static json_t *get_json(struct dbp_store *s, const char *limit, int status)
{
	struct page p = get(s, dbp_render_traces, NULL, limit);
	cr_assert_eq(p.status, status, "limit=%s: %d\n%s", limit, p.status, p.body);
	cr_assert_str_eq(p.content_type, "application/json");
	json_error_t err;
	json_t *doc = json_loads(p.body, 0, &err);
	cr_assert_not_null(doc, "bad JSON: %s\n%s", err.text, p.body);
	free(p.body);
	return doc;
}

Test(traces, without_a_pipeline_and_bad_limits)
{
	struct dbp_store s;
	dbp_store_init(&s, 10);
	json_t *doc = get_json(&s, NULL, 200);
	cr_assert(json_is_array(json_object_get(doc, "spans")));
	cr_assert_eq(json_array_size(json_object_get(doc, "spans")), 0);
	json_decref(doc);
	static const char *const bad[] = { "0", "1001", "-1", "abc", "", "5x", "99999999999999" };
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		doc = get_json(&s, bad[i], 400);
		cr_assert(json_is_string(json_object_get(doc, "error")));
		json_decref(doc);
	}
	json_decref(get_json(&s, "1000", 200));
	dbp_store_free(&s);
}

Test(traces, latest_spans_newest_first)
{
	struct dbp_store s;
	dbp_store_init(&s, 10);
	s.spans = pipeline();
	static const char attrs[] = "deployment.environment=prod,team=db";
	struct dbp_resource *res = dbp_resource_new("checkout", "/usr/bin/app", 42, "host1",
						    "vendor=x", attrs, sizeof attrs - 1);
	cr_assert_not_null(res);
	struct dbp_span *a = span(res, 1, "SELECT items");
	dbp_spanq_put(s.spans, a);
	struct dbp_span *b = span(res, 2, "transaction");
	b->what = DBP_SPAN_TXN;
	b->kind = DBP_SPAN_INTERNAL;
	b->rollback = 1;
	b->error = 1;
	b->error_type = "40001";
	b->sampled = 0;
	b->server = NULL;
	b->server_port = 0;
	b->query_text = NULL;
	fill(b->parent_span_id, 8, 0x77);
	dbp_spanq_put(s.spans, b);
	dbp_resource_unref(res);

	json_t *doc = get_json(&s, NULL, 200);
	json_t *spans = json_object_get(doc, "spans");
	cr_assert_eq(json_array_size(spans), 2);
	json_t *t = json_array_get(spans, 0), *c = json_array_get(spans, 1);
	cr_assert_str_eq(json_string_value(json_object_get(t, "name")), "transaction");
	cr_assert_str_eq(json_string_value(json_object_get(t, "kind")), "internal");
	cr_assert_str_eq(json_string_value(json_object_get(t, "what")), "transaction");
	cr_assert_str_eq(json_string_value(json_object_get(t, "outcome")), "rollback");
	cr_assert_str_eq(json_string_value(json_object_get(t, "status")), "error");
	cr_assert_str_eq(json_string_value(json_object_get(t, "error_type")), "40001");
	cr_assert(json_is_false(json_object_get(t, "sampled")));
	cr_assert(json_is_null(json_object_get(t, "query")));
	cr_assert_null(json_object_get(t, "server_address"));
	cr_assert_str_eq(json_string_value(json_object_get(t, "parent_span_id")),
			 "7778797a7b7c7d7e");

	cr_assert_str_eq(json_string_value(json_object_get(c, "trace_id")),
			 "404142434445464748494a4b4c4d4e4f");
	cr_assert_str_eq(json_string_value(json_object_get(c, "span_id")), "0102030405060708");
	cr_assert_str_eq(json_string_value(json_object_get(c, "parent_span_id")), "");
	cr_assert_str_eq(json_string_value(json_object_get(c, "kind")), "client");
	cr_assert_str_eq(json_string_value(json_object_get(c, "what")), "call");
	cr_assert_null(json_object_get(c, "outcome"));
	cr_assert_str_eq(json_string_value(json_object_get(c, "status")), "unset");
	cr_assert(json_is_null(json_object_get(c, "error_type")));
	cr_assert(json_is_true(json_object_get(c, "sampled")));
	cr_assert_str_eq(json_string_value(json_object_get(c, "start")),
			 "2023-11-14T22:13:20.001Z");
	cr_assert_eq(json_integer_value(json_object_get(c, "start_unix_ns")),
		     1700000000001000000ll);
	cr_assert_float_eq(json_real_value(json_object_get(c, "duration_ms")), 2.5, 1e-9);
	cr_assert_str_eq(json_string_value(json_object_get(c, "db_system")), "postgresql");
	cr_assert_str_eq(json_string_value(json_object_get(c, "db_namespace")), "orders");
	cr_assert_str_eq(json_string_value(json_object_get(c, "query")),
			 "SELECT * FROM items WHERE id = $1");
	cr_assert_str_eq(json_string_value(json_object_get(c, "summary")), "SELECT items");
	cr_assert_str_eq(json_string_value(json_object_get(c, "server_address")), "db.local");
	cr_assert_eq(json_integer_value(json_object_get(c, "server_port")), 5432);
	cr_assert_eq(json_integer_value(json_object_get(c, "rows")), 3);
	cr_assert_null(json_object_get(c, "code")); /* no stack */
	json_t *r = json_object_get(c, "resource");
	cr_assert_str_eq(json_string_value(json_object_get(r, "service_name")), "checkout");
	cr_assert_eq(json_integer_value(json_object_get(r, "pid")), 42);
	cr_assert_str_eq(json_string_value(json_object_get(r, "exe")), "app");
	cr_assert_str_eq(json_string_value(json_object_get(r, "host")), "host1");
	cr_assert_str_eq(json_string_value(json_object_get(r, "tracestate")), "vendor=x");
	json_t *at = json_object_get(r, "attributes");
	cr_assert_str_eq(json_string_value(json_object_get(at, "deployment.environment")), "prod");
	cr_assert_str_eq(json_string_value(json_object_get(at, "team")), "db");
	json_decref(doc);

	doc = get_json(&s, "1", 200);
	cr_assert_eq(json_array_size(json_object_get(doc, "spans")), 1);
	json_decref(doc);
	dbp_spanq_stop(s.spans);
	s.spans = NULL;
	dbp_store_free(&s);
}
