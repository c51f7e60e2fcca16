/* prom: GET /metrics in the Prometheus text exposition format (version 0.0.4). */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "render.h"

/* Label values escape backslash, double quote and newline; nothing else. */
static void label(struct dbp_buf *b, const char *name, const char *v, int *first)
{
	dbp_buf_puts(b, *first ? "{" : ",");
	*first = 0;
	dbp_buf_puts(b, name);
	dbp_buf_puts(b, "=\"");
	for (const char *p = v; *p; p++) {
		if (*p == '\\')
			dbp_buf_puts(b, "\\\\");
		else if (*p == '"')
			dbp_buf_puts(b, "\\\"");
		else if (*p == '\n')
			dbp_buf_puts(b, "\\n");
		else
			dbp_buf_put(b, p, 1);
	}
	dbp_buf_puts(b, "\"");
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
	struct dbp_buf *b;
	const char *name;
};

static void write_series(struct dbp_hnode *n, void *arg)
{
	const struct series_out *o = arg;
	struct dbp_buf *b = o->b;
	const struct dbp_series *se = (const struct dbp_series *)n;
	uint64_t cum = 0;
	char le[32];
	for (unsigned i = 0; i <= DBP_PROM_BUCKETS; i++) {
		cum += se->buckets[i];
		if (i < DBP_PROM_BUCKETS)
			snprintf(le, sizeof le, "%g", dbp_prom_bounds[i]);
		else
			strcpy(le, "+Inf");
		dbp_buf_printf(b, "%s_bucket", o->name);
		series_labels(b, se, le);
		dbp_buf_printf(b, " %llu\n", (unsigned long long)cum);
	}
	dbp_buf_printf(b, "%s_sum", o->name);
	series_labels(b, se, NULL);
	dbp_buf_printf(b, " %.9g\n", se->sum_s);
	dbp_buf_printf(b, "%s_count", o->name);
	series_labels(b, se, NULL);
	dbp_buf_printf(b, " %llu\n", (unsigned long long)se->count);
}

static void family(struct dbp_buf *b, const char *name, const char *type, const char *help)
{
	dbp_buf_printf(b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
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
	struct dbp_buf *b;
	enum sock_family fam;
};

static void write_sock_duration(struct dbp_buf *b, const struct dbp_sock_series *se)
{
	static const char name[] = "dbprobe_socket_write_duration_seconds";
	uint64_t cum = 0;
	char le[32];
	for (unsigned i = 0; i < DBP_SOCK_BUCKETS; i++) {
		cum += se->buckets[i];
		if (i < DBP_SOCK_BUCKETS - 1) /* 1.024e-06 .. 1.073741824: exact in 10 digits */
			snprintf(le, sizeof le, "%.10g", dbp_sock_bound_s(i));
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
	struct dbp_buf *b = o->b;
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
		write_sock_duration(b, se);
		break;
	}
}

static void write_sockets(struct dbp_buf *b, struct dbp_sockstore *ss)
{
	static const struct {
		const char *name, *type, *help;
	} fams[] = {
		[SOCK_BYTES] = { "dbprobe_socket_write_bytes_total", "counter",
				 "Bytes written to sockets, by peer and direction, and by database "
				 "system when written inside a database call." },
		[SOCK_CALLS] = { "dbprobe_socket_write_calls_total", "counter",
				 "Socket write calls, failed ones included." },
		[SOCK_ERRORS] = { "dbprobe_socket_write_errors_total", "counter",
				  "Socket write calls that failed, by errno name (EAGAIN "
				  "included)." },
		[SOCK_DURATION] = { "dbprobe_socket_write_duration_seconds", "histogram",
				    "Time spent in socket write calls." },
	};
	for (unsigned f = 0; f < sizeof fams / sizeof fams[0]; f++) {
		family(b, fams[f].name, fams[f].type, fams[f].help);
		struct sock_out o = { b, (enum sock_family)f };
		dbp_htab_each(&ss->series, write_sock, &o);
	}
	family(b, "dbprobe_socket_peers", "gauge",
	       "Distinct (service, peer) pairs tracked (the cap aside).");
	dbp_buf_printf(b, "dbprobe_socket_peers %u\n", ss->npeers);
	family(b, "dbprobe_socket_peers_folded_total", "counter",
	       "Distinct (service, peer) pairs folded into peer \"(other)\" over the cap.");
	dbp_buf_printf(b, "dbprobe_socket_peers_folded_total %llu\n",
		       (unsigned long long)ss->peers_folded);
}

static const char *const decode_reasons[DBP_DECODE_ERROR_COUNT] = {
	[DBP_DECODE_MALFORMED] = "malformed",
	[DBP_DECODE_OVERSIZED] = "oversized",
};

void dbp_render_metrics(struct dbp_store *s, const struct dbp_request *r, struct dbp_page *out)
{
	(void)r;
	struct dbp_buf *b = &out->body;
	out->content_type = "text/plain; version=0.0.4; charset=utf-8";
	pthread_mutex_lock(&s->lock);
	family(b, "db_client_operation_duration_seconds", "histogram",
	       "Duration of database client operations, as seen in the calling process.");
	struct series_out ops = { b, "db_client_operation_duration_seconds" };
	dbp_htab_each(&s->series, write_series, &ops);
	family(b, "db_client_connection_create_time_seconds", "histogram",
	       "Time to open a database connection, as seen in the calling process.");
	struct series_out conns = { b, "db_client_connection_create_time_seconds" };
	dbp_htab_each(&s->conns, write_series, &conns);
	write_sockets(b, &s->socks);

	family(b, "dbprobe_agents_connected", "gauge", "Agents connected right now.");
	dbp_buf_printf(b, "dbprobe_agents_connected %llu\n",
		       (unsigned long long)s->agents_connected);
	family(b, "dbprobe_agent_connections_total", "counter",
	       "Agent connections accepted since the exporter started.");
	dbp_buf_printf(b, "dbprobe_agent_connections_total %llu\n",
		       (unsigned long long)s->connections_total);
	family(b, "dbprobe_records_received_total", "counter",
	       "Wire records decoded from agents (calls, texts, handshakes, drop reports).");
	dbp_buf_printf(b, "dbprobe_records_received_total %llu\n", (unsigned long long)s->records);
	family(b, "dbprobe_calls_received_total", "counter",
	       "Database calls received from agents.");
	dbp_buf_printf(b, "dbprobe_calls_received_total %llu\n", (unsigned long long)s->calls);
	family(b, "dbprobe_agent_drops_total", "counter",
	       "Records agents dropped instead of blocking the program, by reason.");
	for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
		dbp_buf_printf(b, "dbprobe_agent_drops_total{reason=\"%s\"} %llu\n",
			       dbp_drop_reason_names[i], (unsigned long long)s->agent_drops[i]);
	family(b, "dbprobe_decode_errors_total", "counter",
	       "Frames rejected (their connection closed), by reason.");
	for (int i = 0; i < DBP_DECODE_ERROR_COUNT; i++)
		dbp_buf_printf(b, "dbprobe_decode_errors_total{reason=\"%s\"} %llu\n",
			       decode_reasons[i], (unsigned long long)s->decode_errors[i]);
	family(b, "dbprobe_fingerprints", "gauge", "Distinct statements tracked (the cap aside).");
	dbp_buf_printf(b, "dbprobe_fingerprints %u\n", s->nfingerprints);
	family(b, "dbprobe_fingerprints_folded_total", "counter",
	       "Distinct fingerprints folded into the \"other\" entry over the cap.");
	dbp_buf_printf(b, "dbprobe_fingerprints_folded_total %llu\n",
		       (unsigned long long)s->folded_fingerprints);
	family(b, "dbprobe_stacks", "gauge", "Distinct call-site stacks kept (/stacks/<id>).");
	dbp_buf_printf(b, "dbprobe_stacks %u\n", s->nstacks);
	family(b, "dbprobe_stacks_dropped_total", "counter",
	       "Stacks agents defined that were not kept, over the cap (their calls still count "
	       "per call site).");
	dbp_buf_printf(b, "dbprobe_stacks_dropped_total %llu\n",
		       (unsigned long long)s->stacks_dropped);
	family(b, "dbprobe_exporter_start_time_seconds", "gauge",
	       "Unix time the exporter started.");
	dbp_buf_printf(b, "dbprobe_exporter_start_time_seconds %.3f\n",
		       (double)s->start_unix_ns / 1e9);
	pthread_mutex_unlock(&s->lock);
	out->status = 200;
}
