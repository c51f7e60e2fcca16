/* slowlog: slow calls and slow socket writes as JSON lines. */
#include "slowlog.h"

#include <jansson.h>
#include <stdlib.h>
#include <time.h>

int dbp_slowlog_wants(const struct dbp_slowlog *l, const struct dbp_call *c)
{
	if (!l || !l->out)
		return 0;
	if (l->threshold_ns < 0)
		return (c->h.flags & DBP_CALL_SLOW) != 0;
	return c->duration_ns >= (uint64_t)l->threshold_ns;
}

int dbp_slowlog_wants_write(const struct dbp_slowlog *l, const struct dbp_sockwrite *w)
{
	if (!l || !l->out)
		return 0;
	return l->threshold_ns < 0 || w->duration_ns >= (uint64_t)l->threshold_ns;
}

/* ISO 8601 UTC with microseconds. */
static void iso_time(char *ts, size_t len, uint64_t unix_ns)
{
	time_t secs = (time_t)(unix_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(ts, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, len - n, ".%06uZ", (unsigned)(unix_ns % 1000000000ull / 1000));
}

/* Writes o as one line and releases it. */
static void put_line(struct dbp_slowlog *l, json_t *o)
{
	if (!o)
		return;
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fprintf(l->out, "%s\n", line);
		fflush(l->out);
		free(line);
		l->written++;
	}
	json_decref(o);
}

/* ["function (file:line)", ...], innermost first; "function" alone when the source is unknown.
 * Symbolized here, on the ingest thread but outside the store's lock: the symbolizer caches, so
 * a stack costs its lookups once. */
static json_t *stack_json(struct dbp_symbolizer *z, const struct dbp_callstack *cs)
{
	json_t *a = json_array();
	for (uint32_t i = 0; i < cs->nframes; i++) {
		const struct dbp_callframe *f = &cs->frames[i];
		struct dbp_sym sym;
		char *s = NULL;
		if (dbp_sym_lookup(z, f->obj->path, f->obj->build_id, f->obj->build_id_len,
				   f->offset, DBP_SYM_RETURN_ADDRESS, &sym) == 0) {
			int rc = sym.file && sym.line ? asprintf(&s, "%s (%s:%u)", sym.function,
								 sym.file, sym.line)
				 : sym.file ? asprintf(&s, "%s (%s)", sym.function, sym.file)
					    : asprintf(&s, "%s", sym.function);
			if (rc < 0)
				s = NULL;
			dbp_sym_release(&sym);
		}
		json_array_append_new(a, json_string(s ? s : "?"));
		free(s);
	}
	return a;
}

void dbp_slowlog_write(struct dbp_slowlog *l, const struct dbp_slow_call *sc)
{
	const struct dbp_call *c = sc->call;
	char ts[40];
	iso_time(ts, sizeof ts, c->start_unix_ns);
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:I}",
			      "time", ts, "service", sc->service, "pid", (json_int_t)sc->pid, "exe",
			      sc->exe, "db_system", dbp_db_system_names[c->db_system],
			      "db_namespace", sc->ns, "query", sc->text, "summary", sc->summary,
			      "duration_ms", (double)c->duration_ns / 1e6, "rows_returned",
			      (json_int_t)c->rows_returned, "rows_affected",
			      (json_int_t)c->rows_affected, "tid", (json_int_t)c->tid);
	if (o && sc->error_type)
		json_object_set_new(o, "error_type", json_string(sc->error_type));
	if (o && sc->stack)
		json_object_set_new(o, "stack", stack_json(sc->sym, sc->stack));
	put_line(l, o);
}

void dbp_slowlog_write_sock(struct dbp_slowlog *l, const struct dbp_slow_write *sw, const char *exe)
{
	char ts[40], num[16];
	iso_time(ts, sizeof ts, sw->start_unix_ns);
	json_t *o = json_pack(
		"{s:s, s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:f, s:I, s:I}", "kind", "socket_write",
		"time", ts, "service", sw->service, "pid", (json_int_t)sw->pid, "exe", exe, "peer",
		sw->peer, "direction", dbp_sock_direction_names[sw->direction], "db_system",
		dbp_db_system_names[sw->system], "duration_ms", (double)sw->duration_ns / 1e6,
		"bytes", (json_int_t)sw->bytes, "tid", (json_int_t)sw->tid);
	if (o && sw->err_no)
		json_object_set_new(o, "error_type",
				    json_string(dbp_errno_name(sw->err_no, num, sizeof num)));
	put_line(l, o);
}
