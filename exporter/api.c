/* api: the JSON endpoints, built with jansson. */
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "render.h"

enum sort_key { SORT_TOTAL, SORT_CALLS, SORT_MEAN, SORT_P99, SORT_ERRORS };

struct row {
	const struct dbp_stmt *st;
	double key;
};

struct collect {
	struct row *rows;
	size_t n, cap;
	enum sort_key sort;
};

static void collect(struct dbp_hnode *n, void *arg)
{
	struct collect *c = arg;
	const struct dbp_stmt *st = (const struct dbp_stmt *)n;
	if (!st->calls)
		return;
	if (c->n == c->cap) {
		size_t cap = c->cap ? c->cap * 2 : 256;
		struct row *r = realloc(c->rows, cap * sizeof *r);
		if (!r)
			return;
		c->rows = r;
		c->cap = cap;
	}
	double k = 0;
	switch (c->sort) {
	case SORT_TOTAL:
		k = (double)st->total_ns;
		break;
	case SORT_CALLS:
		k = (double)st->calls;
		break;
	case SORT_MEAN:
		k = st->mean_ns;
		break;
	case SORT_P99:
		k = dbp_sketch_quantile(&st->sketch, 0.99);
		break;
	case SORT_ERRORS:
		k = (double)st->errors;
		break;
	}
	c->rows[c->n++] = (struct row){ st, k };
}

static int by_key_desc(const void *a, const void *b)
{
	const struct row *x = a, *y = b;
	if (x->key != y->key)
		return x->key < y->key ? 1 : -1;
	/* Ties in a stable, meaningful order: the busier statement first, then the id. */
	if (x->st->calls != y->st->calls)
		return x->st->calls < y->st->calls ? 1 : -1;
	return x->st->fingerprint < y->st->fingerprint ? -1 : 1;
}

static json_t *iso_time(uint64_t unix_ns)
{
	char ts[40];
	time_t secs = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%03uZ", (unsigned)(unix_ns % 1000000000ull / 1000000));
	return json_string(ts);
}

static json_t *stmt_json(const struct dbp_stmt *st)
{
	char fp[20];
	snprintf(fp, sizeof fp, "%016llx", (unsigned long long)st->fingerprint);
	json_t *o = json_object();
	json_object_set_new(o, "fingerprint", json_string(fp));
	json_object_set_new(o, "query", json_string(st->text));
	json_object_set_new(o, "summary", json_string(st->summary));
	json_object_set_new(o, "db_system", json_string(dbp_db_system_names[st->w.system]));
	json_object_set_new(o, "db_namespace", json_string(st->w.ns));
	if (*st->w.server) {
		json_object_set_new(o, "server_address", json_string(st->w.server));
		if (st->w.port)
			json_object_set_new(o, "server_port", json_integer(st->w.port));
	}
	json_object_set_new(o, "service", json_string(st->w.service));
	json_object_set_new(o, "calls", json_integer((json_int_t)st->calls));
	json_object_set_new(o, "errors", json_integer((json_int_t)st->errors));
	json_object_set_new(o, "rows", json_integer((json_int_t)st->rows));
	json_object_set_new(o, "total_ms", json_real((double)st->total_ns / 1e6));
	json_object_set_new(o, "min_ms", json_real((double)st->min_ns / 1e6));
	json_object_set_new(o, "max_ms", json_real((double)st->max_ns / 1e6));
	json_object_set_new(o, "mean_ms", json_real(st->mean_ns / 1e6));
	json_object_set_new(o, "stddev_ms", json_real(dbp_stmt_stddev_ns(st) / 1e6));
	json_object_set_new(o, "write_bytes", json_integer((json_int_t)st->write_bytes));
	json_object_set_new(o, "write_seconds", json_real((double)st->write_ns / 1e9));
	/* Quantiles come from the sketch; clamping to the exact extremes keeps them honest. */
	static const struct {
		const char *name;
		double q;
	} qs[] = { { "p50_ms", 0.5 }, { "p95_ms", 0.95 }, { "p99_ms", 0.99 } };
	for (size_t i = 0; i < sizeof qs / sizeof qs[0]; i++) {
		double v = dbp_sketch_quantile(&st->sketch, qs[i].q);
		if (v < (double)st->min_ns)
			v = (double)st->min_ns;
		if (v > (double)st->max_ns)
			v = (double)st->max_ns;
		json_object_set_new(o, qs[i].name, json_real(v / 1e6));
	}
	json_object_set_new(o, "first_seen", iso_time(st->first_seen_ns));
	json_object_set_new(o, "last_seen", iso_time(st->last_seen_ns));
	return o;
}

/* ---- call sites and stacks: symbolized after the store's lock is released (objfiles and stacks
 * are never freed while the store lives; callers are copied under the lock) ---- */

/* function, file, line, module of one frame. */
static void frame_json(json_t *o, struct dbp_symbolizer *z, const struct dbp_callframe *f)
{
	struct dbp_sym sym;
	if (dbp_sym_lookup(z, f->obj->path, f->obj->build_id, f->obj->build_id_len, f->offset,
			   DBP_SYM_RETURN_ADDRESS, &sym) < 0)
		sym = (struct dbp_sym){ .function = NULL };
	json_object_set_new(o, "function", sym.function ? json_string(sym.function) : json_null());
	json_object_set_new(o, "file", sym.file ? json_string(sym.file) : json_null());
	json_object_set_new(o, "line", sym.line ? json_integer(sym.line) : json_null());
	json_object_set_new(o, "module", json_string(f->obj->path));
	dbp_sym_release(&sym);
}

static int by_calls_desc(const void *a, const void *b)
{
	const struct dbp_caller *x = a, *y = b;
	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	if (x->total_ns != y->total_ns)
		return x->total_ns < y->total_ns ? 1 : -1;
	return x->stack_id < y->stack_id ? -1 : x->stack_id > y->stack_id;
}

/* The call sites of one statement, busiest first; "(other)" folds the sites past the cap. */
static json_t *callers_json(struct dbp_symbolizer *z, struct dbp_caller *v, size_t n)
{
	if (n)
		qsort(v, n, sizeof *v, by_calls_desc);
	json_t *a = json_array();
	for (size_t i = 0; i < n; i++) {
		json_t *o = json_object();
		if (v[i].site.obj) {
			frame_json(o, z, &v[i].site);
		} else {
			json_object_set_new(o, "function", json_string("(other)"));
			json_object_set_new(o, "file", json_null());
			json_object_set_new(o, "line", json_null());
			json_object_set_new(o, "module", json_null());
		}
		json_object_set_new(o, "calls", json_integer((json_int_t)v[i].calls));
		json_object_set_new(o, "total_ms", json_real((double)v[i].total_ns / 1e6));
		json_object_set_new(o, "stack_id",
				    v[i].stack_id ? json_integer(v[i].stack_id) : json_null());
		json_array_append_new(a, o);
	}
	return a;
}

/* A statement's callers, copied under the store's lock; v NULL when it has none. */
struct callers_copy {
	json_t *entry; /* the statement's object, borrowed from the page */
	struct dbp_caller *v;
	size_t n;
};

/* -1 when out of memory. */
static int copy_callers(struct callers_copy *c, json_t *entry, const struct dbp_stmt *st)
{
	c->entry = entry;
	if (!st->callers)
		return 0;
	if (!(c->v = malloc((DBP_CALLERS_MAX + 1) * sizeof *c->v)))
		return -1;
	for (unsigned i = 0; i < st->ncallers; i++)
		c->v[c->n++] = st->callers[i];
	if (st->callers[DBP_CALLERS_MAX].calls)
		c->v[c->n++] = st->callers[DBP_CALLERS_MAX];
	return 0;
}

static void json_page(struct dbp_page *out, json_t *doc)
{
	char *s = json_dumps(doc, JSON_INDENT(2) | JSON_PRESERVE_ORDER);
	json_decref(doc);
	out->content_type = "application/json";
	if (!s) {
		out->status = 500;
		dbp_buf_puts(&out->body, "{\"error\":\"out of memory\"}\n");
		return;
	}
	dbp_buf_puts(&out->body, s);
	dbp_buf_puts(&out->body, "\n");
	free(s);
	out->status = 200;
}

static void bad_request(struct dbp_page *out, const char *msg)
{
	json_t *o = json_pack("{s:s}", "error", msg);
	json_page(out, o);
	out->status = 400;
}

void dbp_render_queries(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	static const char *const names[] = { "total", "calls", "mean", "p99", "errors" };
	struct collect c = { .sort = SORT_TOTAL };
	const char *sort = r->arg(r, "sort"), *limit_s = r->arg(r, "limit");
	if (sort) {
		size_t i;
		for (i = 0; i < sizeof names / sizeof names[0]; i++)
			if (!strcmp(sort, names[i]))
				break;
		if (i == sizeof names / sizeof names[0]) {
			bad_request(out, "sort must be one of total, calls, mean, p99, errors");
			return;
		}
		c.sort = (enum sort_key)i;
	}
	long limit = 100;
	if (limit_s) {
		char *end;
		limit = strtol(limit_s, &end, 10);
		if (!*limit_s || *end || limit < 1 || limit > 100000) {
			bad_request(out, "limit must be a whole number from 1 to 100000");
			return;
		}
	}
	json_t *arr = json_array();
	pthread_mutex_lock(&s->lock);
	dbp_htab_each(&s->stmts, collect, &c);
	if (c.n) /* qsort wants a valid pointer even for 0 elements */
		qsort(c.rows, c.n, sizeof *c.rows, by_key_desc);
	size_t shown = c.n < (size_t)limit ? c.n : (size_t)limit;
	struct callers_copy *cc = shown ? calloc(shown, sizeof *cc) : NULL;
	if (shown && !cc)
		out->body.oom = 1;
	for (size_t i = 0; i < shown; i++) {
		json_t *o = stmt_json(c.rows[i].st);
		if (cc && copy_callers(&cc[i], o, c.rows[i].st) < 0)
			out->body.oom = 1;
		json_array_append_new(arr, o);
	}
	size_t total = c.n;
	pthread_mutex_unlock(&s->lock);
	free(c.rows);
	for (size_t i = 0; cc && i < shown; i++) {
		json_object_set_new(cc[i].entry, "callers", callers_json(s->sym, cc[i].v, cc[i].n));
		free(cc[i].v);
	}
	free(cc);
	json_t *doc = json_object();
	json_object_set_new(doc, "sort", json_string(names[c.sort]));
	json_object_set_new(doc, "total", json_integer((json_int_t)total));
	json_object_set_new(doc, "queries", arr);
	json_page(out, doc);
}

void dbp_render_stack(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	const char *p = r->path + strlen("/stacks/");
	char *end = NULL;
	unsigned long long id = 0;
	if (*p >= '0' && *p <= '9') /* strtoull would take "+3", " 3" and "-3" */
		id = strtoull(p, &end, 10);
	pthread_mutex_lock(&s->lock);
	const struct dbp_callstack *cs = id && !*end ? dbp_store_callstack_get(s, id) : NULL;
	pthread_mutex_unlock(&s->lock);
	if (!cs) {
		json_page(out, json_pack("{s:s}", "error", "no such stack"));
		out->status = 404;
		return;
	}
	json_t *frames = json_array();
	for (uint32_t i = 0; i < cs->nframes; i++) {
		char off[24];
		json_t *o = json_object();
		frame_json(o, s->sym, &cs->frames[i]);
		snprintf(off, sizeof off, "0x%llx", (unsigned long long)cs->frames[i].offset);
		json_object_set_new(o, "offset", json_string(off));
		json_array_append_new(frames, o);
	}
	json_page(out, json_pack("{s:I, s:o}", "id", (json_int_t)cs->id, "frames", frames));
}

void dbp_render_healthz(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	(void)r;
	pthread_mutex_lock(&s->lock);
	json_t *doc =
		json_pack("{s:s, s:I, s:I}", "status", "ok", "agents_connected",
			  (json_int_t)s->agents_connected, "calls_received", (json_int_t)s->calls);
	pthread_mutex_unlock(&s->lock);
	json_page(out, doc);
}

void dbp_render_agents(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	(void)r;
	json_t *arr = json_array();
	pthread_mutex_lock(&s->lock);
	for (const struct dbp_agent *a = s->agents; a; a = a->next) {
		json_t *drops = json_object();
		for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
			json_object_set_new(drops, dbp_drop_reason_names[i],
					    json_integer((json_int_t)a->drops[i]));
		json_t *o =
			json_pack("{s:I, s:I, s:s, s:s, s:b, s:I, s:I, s:I, s:o}", "pid",
				  (json_int_t)a->pid, "ppid", (json_int_t)a->ppid, "exe", a->exe,
				  "service", a->service, "connected", !a->disconnected_unix_ns,
				  "calls", (json_int_t)a->calls, "errors", (json_int_t)a->errors,
				  "connects", (json_int_t)a->connects, "drops", drops);
		if (o) {
			json_object_set_new(o, "started", iso_time(a->start_unix_ns));
			json_array_append_new(arr, o);
		}
	}
	pthread_mutex_unlock(&s->lock);
	json_page(out, json_pack("{s:o}", "agents", arr));
}

/* ---- /sockets ---- */

struct sock_rows {
	const struct dbp_sock_series **v;
	size_t n, cap;
};

static void collect_sock(struct dbp_hnode *n, void *arg)
{
	struct sock_rows *r = arg;
	if (r->n == r->cap) {
		size_t cap = r->cap ? r->cap * 2 : 256;
		const struct dbp_sock_series **v = realloc(r->v, cap * sizeof *v);
		if (!v)
			return;
		r->v = v;
		r->cap = cap;
	}
	r->v[r->n++] = (const struct dbp_sock_series *)n;
}

/* Most time spent first; ties in key order, so the page is stable. */
static int by_time_desc(const void *a, const void *b)
{
	const struct dbp_sock_series *x = *(const struct dbp_sock_series *const *)a;
	const struct dbp_sock_series *y = *(const struct dbp_sock_series *const *)b;
	if (x->sum_ns != y->sum_ns)
		return x->sum_ns < y->sum_ns ? 1 : -1;
	if (x->calls != y->calls)
		return x->calls < y->calls ? 1 : -1;
	int c = strcmp(x->service, y->service);
	if (!c)
		c = strcmp(x->peer, y->peer);
	if (!c)
		c = (int)x->direction - (int)y->direction;
	if (!c)
		c = (int)x->system - (int)y->system;
	return c;
}

static json_t *sock_json(const struct dbp_sock_series *se)
{
	json_t *errs = json_object();
	for (unsigned i = 0; i < se->nerrs; i++) {
		char num[16];
		json_object_set_new(errs, dbp_errno_name(se->errs[i].err_no, num, sizeof num),
				    json_integer((json_int_t)se->errs[i].count));
	}
	json_t *o =
		json_pack("{s:s, s:s, s:s, s:s, s:I, s:I, s:o, s:f}", "service_name", se->service,
			  "peer", se->peer, "direction", dbp_sock_direction_names[se->direction],
			  "db_system_name", dbp_db_system_names[se->system], "calls",
			  (json_int_t)se->calls, "bytes", (json_int_t)se->bytes, "errors", errs,
			  "duration_seconds_sum", (double)se->sum_ns / 1e9);
	if (!o)
		return NULL;
	/* The upper bound of the slowest write's bucket; null when it is past the last bound. */
	for (unsigned i = DBP_SOCK_BUCKETS; i-- > 0;)
		if (se->buckets[i]) {
			json_object_set_new(o, "duration_seconds_max_bucket",
					    i < DBP_SOCK_BUCKETS - 1
						    ? json_real(dbp_sock_bound_s(i))
						    : json_null());
			break;
		}
	return o;
}

static json_t *slow_write_json(const struct dbp_slow_write *w)
{
	char num[16];
	json_t *o = json_pack(
		"{s:s, s:I, s:I, s:s, s:s, s:s, s:o, s:f, s:I, s:o}", "service_name", w->service,
		"pid", (json_int_t)w->pid, "tid", (json_int_t)w->tid, "peer", w->peer, "direction",
		dbp_sock_direction_names[w->direction], "db_system_name",
		dbp_db_system_names[w->system], "start_time", iso_time(w->start_unix_ns),
		"duration_ms", (double)w->duration_ns / 1e6, "bytes", (json_int_t)w->bytes,
		"error_type",
		w->err_no ? json_string(dbp_errno_name(w->err_no, num, sizeof num)) : json_null());
	return o;
}

void dbp_render_sockets(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	(void)r;
	struct sock_rows rows = { 0 };
	json_t *socks = json_array(), *slow = json_array();
	pthread_mutex_lock(&s->lock);
	dbp_htab_each(&s->socks.series, collect_sock, &rows);
	if (rows.n) /* qsort wants a valid pointer even for 0 elements */
		qsort(rows.v, rows.n, sizeof *rows.v, by_time_desc);
	for (size_t i = 0; i < rows.n; i++)
		json_array_append_new(socks, sock_json(rows.v[i]));
	for (unsigned i = 0; i < s->socks.nslow; i++) /* newest first */
		json_array_append_new(slow, slow_write_json(dbp_sockstore_slow_at(&s->socks, i)));
	pthread_mutex_unlock(&s->lock);
	free(rows.v);
	json_page(out, json_pack("{s:o, s:o}", "sockets", socks, "slow_writes", slow));
}

/* ---- /traces: the span pipeline's ring of the latest spans (its own lock, not the store's) */

static json_t *str_or_null(const char *s)
{
	return s ? json_string(s) : json_null();
}

static json_t *hex_json(const uint8_t *p, size_t n)
{
	char hex[33];
	dbp_hex(p, n, hex);
	return json_string(hex);
}

static json_t *resource_json(const struct dbp_resource *res)
{
	json_t *attrs = json_object();
	for (size_t i = 0; i < res->nattrs; i++)
		json_object_set_new(attrs, res->attrs[i].key, str_or_null(res->attrs[i].value));
	return json_pack("{s:o, s:I, s:o, s:o, s:o, s:o}", "service_name",
			 str_or_null(res->service_name), "pid", (json_int_t)res->pid, "exe",
			 str_or_null(res->exe), "host", str_or_null(res->host), "tracestate",
			 str_or_null(res->tracestate), "attributes", attrs);
}

static json_t *span_json(const struct dbp_span *sp)
{
	static const char *const whats[] = { [DBP_SPAN_CALL] = "call",
					     [DBP_SPAN_CONNECT] = "connect",
					     [DBP_SPAN_TXN] = "transaction" };
	static const uint8_t root[8];
	json_t *o = json_object();
	json_object_set_new(o, "trace_id", hex_json(sp->trace_id, sizeof sp->trace_id));
	json_object_set_new(o, "span_id", hex_json(sp->span_id, sizeof sp->span_id));
	json_object_set_new(o, "parent_span_id",
			    memcmp(sp->parent_span_id, root, sizeof root)
				    ? hex_json(sp->parent_span_id, sizeof sp->parent_span_id)
				    : json_string(""));
	json_object_set_new(o, "name", str_or_null(sp->name));
	json_object_set_new(o, "kind",
			    json_string(sp->kind == DBP_SPAN_CLIENT ? "client" : "internal"));
	json_object_set_new(o, "what",
			    json_string(sp->what < sizeof whats / sizeof whats[0] ? whats[sp->what]
										  : "unknown"));
	json_object_set_new(o, "start", iso_time(sp->start_unix_ns));
	json_object_set_new(o, "start_unix_ns", json_integer((json_int_t)sp->start_unix_ns));
	uint64_t dur =
		sp->end_unix_ns > sp->start_unix_ns ? sp->end_unix_ns - sp->start_unix_ns : 0;
	json_object_set_new(o, "duration_ms", json_real((double)dur / 1e6));
	json_object_set_new(o, "status", json_string(sp->error ? "error" : "unset"));
	json_object_set_new(o, "error_type", str_or_null(sp->error_type));
	json_object_set_new(o, "sampled", json_boolean(sp->sampled));
	const char *sys = sp->system_name;
	if (!sys && sp->db_system < DBP_DB_SYSTEM_COUNT)
		sys = dbp_db_system_names[sp->db_system];
	json_object_set_new(o, "db_system", str_or_null(sys));
	json_object_set_new(o, "db_namespace", str_or_null(sp->ns));
	json_object_set_new(o, "query", str_or_null(sp->query_text));
	json_object_set_new(o, "summary", str_or_null(sp->summary));
	if (sp->server && *sp->server) {
		json_object_set_new(o, "server_address", json_string(sp->server));
		if (sp->server_port)
			json_object_set_new(o, "server_port", json_integer(sp->server_port));
	}
	json_object_set_new(o, "rows", json_integer((json_int_t)sp->rows));
	if (sp->what == DBP_SPAN_TXN)
		json_object_set_new(o, "outcome",
				    json_string(sp->rollback ? "rollback" : "commit"));
	struct dbp_sym sym;
	if (dbp_span_code(sp, &sym) == 0) { /* symbolizes: never under the store's lock */
		json_object_set_new(o, "code",
				    json_pack("{s:o, s:o, s:o}", "function",
					      str_or_null(sym.function), "file",
					      str_or_null(sym.file), "line",
					      sym.line ? json_integer(sym.line) : json_null()));
		dbp_sym_release(&sym);
	}
	if (sp->res)
		json_object_set_new(o, "resource", resource_json(sp->res));
	return o;
}

void dbp_render_traces(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	const char *limit_s = r->arg(r, "limit");
	long limit = 100;
	if (limit_s) {
		char *end;
		limit = strtol(limit_s, &end, 10);
		if (!*limit_s || *end || limit < 1 || limit > 1000) {
			bad_request(out, "limit must be a whole number from 1 to 1000");
			return;
		}
	}
	json_t *arr = json_array();
	/* s->spans is set before any thread starts: read without the store's lock. */
	if (s->spans) {
		struct dbp_span **v = malloc((size_t)limit * sizeof *v);
		if (!v) {
			json_decref(arr);
			out->body.oom = 1;
			return;
		}
		size_t n = dbp_spanq_latest(s->spans, v, (size_t)limit);
		for (size_t i = 0; i < n; i++) {
			json_array_append_new(arr, span_json(v[i]));
			dbp_span_unref(v[i]);
		}
		free(v);
	}
	json_page(out, json_pack("{s:o}", "spans", arr));
}
