/* prom: GET /metrics in the Prometheus text exposition format (version 0.0.4), or in
 * OpenMetrics 1.0 text, with exemplars, when the scraper's Accept header asks for it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "render.h"

#define CT_TEXT "text/plain; version=0.0.4; charset=utf-8"
#define CT_OPENMETRICS "application/openmetrics-text; version=1.0.0; charset=utf-8"

/* The exposition being written: the two formats share everything but the family metadata,
 * le rendering, exemplars and the final "# EOF". */
struct expo {
	struct dbp_buf *b;
	int om; /* OpenMetrics 1.0 */
};

enum mtype { COUNTER, GAUGE, HISTOGRAM };

/* ---- content negotiation ---- */

/* a[0..n) equals the NUL-terminated s, ignoring case. */
static int token_is(const char *a, size_t n, const char *s)
{
	return strlen(s) == n && !strncasecmp(a, s, n);
}

static const char *skip_ows(const char *p)
{
	while (*p == ' ' || *p == '\t')
		p++;
	return p;
}

/* Past a token: up to a separator or white space. */
static const char *token_end(const char *p)
{
	while (*p && !strchr(";,= \t", *p))
		p++;
	return p;
}

/* One media range of an Accept header: "type/subtype;q=0.5;version=1.0.0". */
struct media_range {
	const char *type, *ver; /* ver NULL: no version parameter */
	size_t type_len, ver_len;
	double q; /* -1: malformed */
};

/* Parses the range starting at p; returns where the next one starts. */
static const char *media_range(const char *p, struct media_range *m)
{
	*m = (struct media_range){ .type = skip_ows(p), .q = 1 };
	p = token_end(m->type);
	m->type_len = (size_t)(p - m->type);
	for (p = skip_ows(p); *p == ';'; p = skip_ows(p)) {
		const char *name = skip_ows(p + 1), *val;
		p = token_end(name);
		size_t name_len = (size_t)(p - name), val_len = 0;
		p = skip_ows(p);
		if (*p != '=')
			continue;
		val = skip_ows(p + 1);
		if (*val == '"') { /* a quoted string; escapes do not matter to us */
			for (p = ++val; *p && *p != '"'; p++)
				;
			val_len = (size_t)(p - val);
			if (*p)
				p++;
		} else {
			p = token_end(val);
			val_len = (size_t)(p - val);
		}
		if (token_is(name, name_len, "q")) {
			char qs[16], *end;
			m->q = -1;
			if (val_len && val_len < sizeof qs) {
				memcpy(qs, val, val_len);
				qs[val_len] = 0;
				double q = strtod(qs, &end);
				if (!*end && q >= 0 && q <= 1)
					m->q = q;
			}
		} else if (token_is(name, name_len, "version")) {
			m->ver = val;
			m->ver_len = val_len;
		}
	}
	while (*p && *p != ',') /* junk up to the next range */
		p++;
	return *p ? p + 1 : p;
}

/* 1 when the Accept header prefers OpenMetrics, as Prometheus's client libraries negotiate
 * (client_golang's expfmt.NegotiateIncludingOpenMetrics): of the media ranges we serve,
 * application/openmetrics-text (version 1.0.0, 0.0.1 or none: 0.0.1 is the same text) and
 * text/plain (version 0.0.4 or none), the one with the highest q wins, the first listed on a
 * tie; q=0 refuses. Wildcards, other types, no header: the 0.0.4 text, the default (RFC 9110
 * 12.5.1 lets a server ignore what it cannot satisfy rather than answer 406). */
static int wants_openmetrics(const char *accept)
{
	double best_q = 0;
	int best_om = 0;
	for (const char *p = accept; p && *p;) {
		struct media_range m;
		p = media_range(p, &m);
		if (m.q <= best_q)
			continue;
		const char *v = m.ver;
		size_t vn = m.ver_len;
		if (token_is(m.type, m.type_len, "application/openmetrics-text") &&
		    (!v || token_is(v, vn, "1.0.0") || token_is(v, vn, "0.0.1"))) {
			best_q = m.q;
			best_om = 1;
		} else if (token_is(m.type, m.type_len, "text/plain") &&
			   (!v || token_is(v, vn, "0.0.4"))) {
			best_q = m.q;
			best_om = 0;
		}
	}
	return best_om;
}

/* ---- writing ---- */

/* Label values (and OpenMetrics HELP text) escape backslash, double quote and newline. The
 * 0.0.4 HELP text escapes only backslash and newline: a \" there would be shown as is. */
static void escaped(struct dbp_buf *b, const char *v, int quote)
{
	const char *run = v;
	for (const char *p = v; *p; p++) {
		const char *esc;
		if (*p == '\\')
			esc = "\\\\";
		else if (*p == '\n')
			esc = "\\n";
		else if (*p == '"' && quote)
			esc = "\\\"";
		else
			continue;
		dbp_buf_put(b, run, (size_t)(p - run));
		dbp_buf_puts(b, esc);
		run = p + 1;
	}
	dbp_buf_puts(b, run);
}

static void label(struct dbp_buf *b, const char *name, const char *v, int *first)
{
	dbp_buf_puts(b, *first ? "{" : ",");
	*first = 0;
	dbp_buf_puts(b, name);
	dbp_buf_puts(b, "=\"");
	escaped(b, v, 1);
	dbp_buf_puts(b, "\"");
}

static int ends_with(const char *s, size_t n, const char *suffix)
{
	size_t k = strlen(suffix);
	return n >= k && !memcmp(s + n - k, suffix, k);
}

/* A family's metadata. name is the 0.0.4 one: counters end in _total. OpenMetrics names a
 * counter family without it (its samples keep it), orders TYPE, UNIT, HELP, and gives a UNIT
 * only when the family name ends with "_" and the unit (OpenMetrics 1.0, "MetricFamily
 * metadata"). */
static void family(const struct expo *x, const char *name, enum mtype type, const char *help)
{
	static const char *const types[] = {
		[COUNTER] = "counter", [GAUGE] = "gauge", [HISTOGRAM] = "histogram"
	};
	struct dbp_buf *b = x->b;
	if (!x->om) {
		dbp_buf_printf(b, "# HELP %s ", name);
		escaped(b, help, 0);
		dbp_buf_printf(b, "\n# TYPE %s %s\n", name, types[type]);
		return;
	}
	size_t n = strlen(name);
	if (type == COUNTER && ends_with(name, n, "_total"))
		n -= strlen("_total");
	int len = (int)n;
	dbp_buf_printf(b, "# TYPE %.*s %s\n", len, name, types[type]);
	static const char *const units[] = { "seconds", "bytes" };
	for (size_t i = 0; i < sizeof units / sizeof units[0]; i++) {
		size_t k = strlen(units[i]);
		if (ends_with(name, n, units[i]) && n > k && name[n - k - 1] == '_')
			dbp_buf_printf(b, "# UNIT %.*s %s\n", len, name, units[i]);
	}
	dbp_buf_printf(b, "# HELP %.*s ", len, name);
	escaped(b, help, 1);
	dbp_buf_puts(b, "\n");
}

/* A bucket bound as the le label value. OpenMetrics wants its canonical numbers (1.0 in
 * "Canonical Numbers"): Go's shortest %g with ".0" appended to integers; C's %g is the same
 * for bounds of at most 6 significant digits, and %.17g keeps any other exact. The 0.0.4 text
 * keeps what it always had (%g): changing le would start new series. */
static void le_str(const struct expo *x, double bound, const char *fmt, char *out, size_t len)
{
	snprintf(out, len, fmt, bound);
	if (!x->om)
		return;
	if (strtod(out, NULL) != bound)
		snprintf(out, len, "%.17g", bound);
	if (!strpbrk(out, ".eEnN")) /* not 1e-06, inf or nan */
		strncat(out, ".0", len - strlen(out) - 1);
}

/* " # {trace_id=...,span_id=...} value timestamp" (OpenMetrics 1.0, "Exemplars"): the label
 * set is 63 characters, under the 128 allowed. */
static void exemplar(struct dbp_buf *b, const struct dbp_exemplar *ex)
{
	static const char hex[] = "0123456789abcdef";
	char tid[33], sid[17];
	for (unsigned i = 0; i < 16; i++) {
		tid[2 * i] = hex[ex->trace_id[i] >> 4];
		tid[2 * i + 1] = hex[ex->trace_id[i] & 15];
	}
	tid[32] = 0;
	for (unsigned i = 0; i < 8; i++) {
		sid[2 * i] = hex[ex->span_id[i] >> 4];
		sid[2 * i + 1] = hex[ex->span_id[i] & 15];
	}
	sid[16] = 0;
	/* 12 digits: a duration exact to the nanosecond up to 999 s. The timestamp in fixed
	 * point: the spec asks not to use exponents where the precision matters. */
	dbp_buf_printf(b, " # {trace_id=\"%s\",span_id=\"%s\"} %.12g %llu.%09llu", tid, sid,
		       ex->value_s, (unsigned long long)(ex->unix_ns / 1000000000ull),
		       (unsigned long long)(ex->unix_ns % 1000000000ull));
}

static void series_labels(struct dbp_buf *b, const struct dbp_series *se, const char *le)
{
	int first = 1;
	label(b, "service_name", se->w.service, &first);
	label(b, "db_system_name", dbp_db_system_names[se->w.system], &first);
	label(b, "db_namespace", se->w.ns, &first);
	/* OTel's server.address and server.port: only where there is a server. */
	if (*se->w.server) {
		label(b, "server_address", se->w.server, &first);
		if (se->w.port) { /* none for a MySQL Unix socket */
			char port[8];
			snprintf(port, sizeof port, "%u", se->w.port);
			label(b, "server_port", port, &first);
		}
	}
	if (se->summary)
		label(b, "db_query_summary", se->summary, &first);
	if (se->error_type)
		label(b, "error_type", se->error_type, &first);
	if (le)
		label(b, "le", le, &first);
	dbp_buf_puts(b, "}");
}

struct series_out {
	const struct expo *x;
	const char *name;
};

static void write_series(struct dbp_hnode *n, void *arg)
{
	const struct series_out *o = arg;
	struct dbp_buf *b = o->x->b;
	const struct dbp_series *se = (const struct dbp_series *)n;
	uint64_t cum = 0;
	char le[32];
	for (unsigned i = 0; i <= DBP_PROM_BUCKETS; i++) {
		cum += se->buckets[i];
		if (i < DBP_PROM_BUCKETS)
			le_str(o->x, dbp_prom_bounds[i], "%g", le, sizeof le);
		else
			strcpy(le, "+Inf");
		dbp_buf_printf(b, "%s_bucket", o->name);
		series_labels(b, se, le);
		dbp_buf_printf(b, " %llu", (unsigned long long)cum);
		/* The exemplar of bucket i lies in (bound[i-1], bound[i]], so on the cumulative
		 * line of le = bound[i]. Never in 0.0.4: its parsers reject the syntax. */
		if (o->x->om && se->exemplars && se->exemplars[i].set)
			exemplar(b, &se->exemplars[i]);
		dbp_buf_puts(b, "\n");
	}
	dbp_buf_printf(b, "%s_sum", o->name);
	series_labels(b, se, NULL);
	dbp_buf_printf(b, " %.9g\n", se->sum_s);
	dbp_buf_printf(b, "%s_count", o->name);
	series_labels(b, se, NULL);
	dbp_buf_printf(b, " %llu\n", (unsigned long long)se->count);
}

/* Socket write series: le and error_type only where given. db_system_name is "" outside
 * database calls (the table's entry for DBP_DB_NONE). */
static void sock_labels(struct dbp_buf *b, const struct dbp_sock_series *se, const char *error_type,
			const char *le)
{
	int first = 1;
	label(b, "service_name", se->service, &first);
	label(b, "peer", se->peer, &first);
	label(b, "direction", dbp_sock_direction_names[se->direction], &first);
	label(b, "db_system_name", dbp_db_system_names[se->system], &first);
	if (error_type)
		label(b, "error_type", error_type, &first);
	if (le)
		label(b, "le", le, &first);
	dbp_buf_puts(b, "}");
}

/* Socket write metrics are rendered one family at a time: a family's lines must be together. */
enum sock_family { SOCK_BYTES, SOCK_CALLS, SOCK_ERRORS, SOCK_DURATION };

struct sock_out {
	const struct expo *x;
	enum sock_family fam;
};

static void write_sock_duration(const struct expo *x, const struct dbp_sock_series *se)
{
	static const char name[] = "dbprobe_socket_write_duration_seconds";
	struct dbp_buf *b = x->b;
	uint64_t cum = 0;
	char le[32];
	for (unsigned i = 0; i < DBP_SOCK_BUCKETS; i++) {
		cum += se->buckets[i];
		if (i < DBP_SOCK_BUCKETS - 1) /* 1.024e-06 .. 1.073741824: exact in 10 digits */
			le_str(x, dbp_sock_bound_s(i), "%.10g", le, sizeof le);
		else
			strcpy(le, "+Inf");
		dbp_buf_printf(b, "%s_bucket", name);
		sock_labels(b, se, NULL, le);
		dbp_buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	dbp_buf_printf(b, "%s_sum", name);
	sock_labels(b, se, NULL, NULL);
	dbp_buf_printf(b, " %.9g\n", (double)se->sum_ns / 1e9);
	dbp_buf_printf(b, "%s_count", name);
	sock_labels(b, se, NULL, NULL);
	dbp_buf_printf(b, " %llu\n", (unsigned long long)se->calls);
}

static void write_sock(struct dbp_hnode *n, void *arg)
{
	const struct sock_out *o = arg;
	struct dbp_buf *b = o->x->b;
	const struct dbp_sock_series *se = (const struct dbp_sock_series *)n;
	switch (o->fam) {
	case SOCK_BYTES:
		dbp_buf_puts(b, "dbprobe_socket_write_bytes_total");
		sock_labels(b, se, NULL, NULL);
		dbp_buf_printf(b, " %llu\n", (unsigned long long)se->bytes);
		break;
	case SOCK_CALLS:
		dbp_buf_puts(b, "dbprobe_socket_write_calls_total");
		sock_labels(b, se, NULL, NULL);
		dbp_buf_printf(b, " %llu\n", (unsigned long long)se->calls);
		break;
	case SOCK_ERRORS:
		for (unsigned i = 0; i < se->nerrs; i++) {
			char num[16];
			dbp_buf_puts(b, "dbprobe_socket_write_errors_total");
			sock_labels(b, se, dbp_errno_name(se->errs[i].err_no, num, sizeof num),
				    NULL);
			dbp_buf_printf(b, " %llu\n", (unsigned long long)se->errs[i].count);
		}
		break;
	case SOCK_DURATION:
		write_sock_duration(o->x, se);
		break;
	}
}

static void write_sockets(const struct expo *x, struct dbp_sockstore *ss)
{
	static const struct {
		const char *name;
		enum mtype type;
		const char *help;
	} fams[] = {
		[SOCK_BYTES] = { "dbprobe_socket_write_bytes_total", COUNTER,
				 "Bytes written to sockets, by peer and direction, and by database "
				 "system when written inside a database call." },
		[SOCK_CALLS] = { "dbprobe_socket_write_calls_total", COUNTER,
				 "Socket write calls, failed ones included." },
		[SOCK_ERRORS] = { "dbprobe_socket_write_errors_total", COUNTER,
				  "Socket write calls that failed, by errno name (EAGAIN "
				  "included)." },
		[SOCK_DURATION] = { "dbprobe_socket_write_duration_seconds", HISTOGRAM,
				    "Time spent in socket write calls." },
	};
	struct dbp_buf *b = x->b;
	for (unsigned f = 0; f < sizeof fams / sizeof fams[0]; f++) {
		family(x, fams[f].name, fams[f].type, fams[f].help);
		struct sock_out o = { x, (enum sock_family)f };
		dbp_htab_each(&ss->series, write_sock, &o);
	}
	family(x, "dbprobe_socket_peers", GAUGE,
	       "Distinct (service, peer) pairs tracked (the cap aside).");
	dbp_buf_printf(b, "dbprobe_socket_peers %u\n", ss->npeers);
	family(x, "dbprobe_socket_peers_folded_total", COUNTER,
	       "Distinct (service, peer) pairs folded into peer \"(other)\" over the cap.");
	dbp_buf_printf(b, "dbprobe_socket_peers_folded_total %llu\n",
		       (unsigned long long)ss->peers_folded);
}

/* The span pipeline's counters (spanq.h): read from its own lock, never under the store's. */
static void write_spans(const struct expo *x, const struct dbp_spanq_stats *st)
{
	struct dbp_buf *b = x->b;
	family(x, "dbprobe_spans_received_total", COUNTER,
	       "Spans made from agents' calls and handed to the span pipeline.");
	dbp_buf_printf(b, "dbprobe_spans_received_total %llu\n", (unsigned long long)st->received);
	family(x, "dbprobe_spans_exported_total", COUNTER, "Spans the collector accepted.");
	dbp_buf_printf(b, "dbprobe_spans_exported_total %llu\n", (unsigned long long)st->exported);
	family(x, "dbprobe_spans_dropped_total", COUNTER,
	       "Spans never delivered, by reason: queue_full (the queue was full), rejected (the "
	       "collector refused them), retries_exhausted, shutdown (still queued at exit), "
	       "out_of_memory (a batch could not be encoded).");
	for (int i = 0; i < DBP_SPAN_DROP_COUNT; i++)
		dbp_buf_printf(b, "dbprobe_spans_dropped_total{reason=\"%s\"} %llu\n",
			       dbp_span_drop_names[i], (unsigned long long)st->dropped[i]);
	family(x, "dbprobe_span_export_requests_total", COUNTER,
	       "Export requests sent to the collector, retries included.");
	dbp_buf_printf(b, "dbprobe_span_export_requests_total %llu\n",
		       (unsigned long long)st->requests);
	family(x, "dbprobe_span_export_retries_total", COUNTER,
	       "Export requests that were retries of a failed one.");
	dbp_buf_printf(b, "dbprobe_span_export_retries_total %llu\n",
		       (unsigned long long)st->retries);
	family(x, "dbprobe_spans_queued", GAUGE,
	       "Spans waiting to be exported, the batch being sent or waiting for a retry "
	       "included.");
	dbp_buf_printf(b, "dbprobe_spans_queued %llu\n", (unsigned long long)st->queued);
}

static const char *const decode_reasons[DBP_DECODE_ERROR_COUNT] = {
	[DBP_DECODE_MALFORMED] = "malformed",
	[DBP_DECODE_OVERSIZED] = "oversized",
};

void dbp_render_metrics(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	struct dbp_buf *b = &out->body;
	const struct expo ex = { b, wants_openmetrics(r->header ? r->header(r, "Accept") : NULL) };
	const struct expo *x = &ex;
	out->content_type = x->om ? CT_OPENMETRICS : CT_TEXT;
	out->vary = "Accept";
	/* s->spans is set before any thread starts: read without the store's lock. */
	struct dbp_spanq_stats spans;
	if (s->spans)
		dbp_spanq_stats(s->spans, &spans);

	pthread_mutex_lock(&s->lock);
	family(x, "db_client_operation_duration_seconds", HISTOGRAM,
	       "Duration of database client operations, as seen in the calling process.");
	struct series_out ops = { x, "db_client_operation_duration_seconds" };
	dbp_htab_each(&s->series, write_series, &ops);
	family(x, "db_client_connection_create_time_seconds", HISTOGRAM,
	       "Time to open a database connection, as seen in the calling process.");
	struct series_out conns = { x, "db_client_connection_create_time_seconds" };
	dbp_htab_each(&s->conns, write_series, &conns);
	write_sockets(x, &s->socks);

	family(x, "dbprobe_agents_connected", GAUGE, "Agents connected right now.");
	dbp_buf_printf(b, "dbprobe_agents_connected %llu\n",
		       (unsigned long long)s->agents_connected);
	family(x, "dbprobe_agent_connections_total", COUNTER,
	       "Agent connections accepted since the exporter started.");
	dbp_buf_printf(b, "dbprobe_agent_connections_total %llu\n",
		       (unsigned long long)s->connections_total);
	family(x, "dbprobe_records_received_total", COUNTER,
	       "Wire records decoded from agents (calls, texts, handshakes, drop reports).");
	dbp_buf_printf(b, "dbprobe_records_received_total %llu\n", (unsigned long long)s->records);
	family(x, "dbprobe_calls_received_total", COUNTER, "Database calls received from agents.");
	dbp_buf_printf(b, "dbprobe_calls_received_total %llu\n", (unsigned long long)s->calls);
	family(x, "dbprobe_agent_drops_total", COUNTER,
	       "Records agents dropped instead of blocking the program, by reason.");
	for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
		dbp_buf_printf(b, "dbprobe_agent_drops_total{reason=\"%s\"} %llu\n",
			       dbp_drop_reason_names[i], (unsigned long long)s->agent_drops[i]);
	family(x, "dbprobe_decode_errors_total", COUNTER,
	       "Frames rejected (their connection closed), by reason.");
	for (int i = 0; i < DBP_DECODE_ERROR_COUNT; i++)
		dbp_buf_printf(b, "dbprobe_decode_errors_total{reason=\"%s\"} %llu\n",
			       decode_reasons[i], (unsigned long long)s->decode_errors[i]);
	family(x, "dbprobe_fingerprints", GAUGE, "Distinct statements tracked (the cap aside).");
	dbp_buf_printf(b, "dbprobe_fingerprints %u\n", s->nfingerprints);
	family(x, "dbprobe_fingerprints_folded_total", COUNTER,
	       "Distinct fingerprints folded into the \"other\" entry over the cap.");
	dbp_buf_printf(b, "dbprobe_fingerprints_folded_total %llu\n",
		       (unsigned long long)s->folded_fingerprints);
	family(x, "dbprobe_stacks", GAUGE, "Distinct call-site stacks kept (/stacks/<id>).");
	dbp_buf_printf(b, "dbprobe_stacks %u\n", s->nstacks);
	family(x, "dbprobe_stacks_dropped_total", COUNTER,
	       "Stacks agents defined that were not kept, over the cap (their calls still count "
	       "per call site).");
	dbp_buf_printf(b, "dbprobe_stacks_dropped_total %llu\n",
		       (unsigned long long)s->stacks_dropped);
	family(x, "dbprobe_exporter_start_time_seconds", GAUGE, "Unix time the exporter started.");
	dbp_buf_printf(b, "dbprobe_exporter_start_time_seconds %.3f\n",
		       (double)s->start_unix_ns / 1e9);
	pthread_mutex_unlock(&s->lock);

	if (s->spans)
		write_spans(x, &spans);
	if (x->om)
		dbp_buf_puts(b, "# EOF\n");
	out->status = 200;
}
