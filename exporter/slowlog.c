/* slowlog: slow calls as JSON lines. */
#include "slowlog.h"

#include <jansson.h>
#include <time.h>

int dbp_slowlog_wants(const struct dbp_slowlog *l, const struct dbp_call *c)
{
	if (!l || !l->out)
		return 0;
	if (l->threshold_ns < 0)
		return (c->h.flags & DBP_CALL_SLOW) != 0;
	return c->duration_ns >= (uint64_t)l->threshold_ns;
}

void dbp_slowlog_write(struct dbp_slowlog *l, const struct dbp_slow_call *sc)
{
	const struct dbp_call *c = sc->call;
	char ts[40];
	time_t secs = (time_t)(c->start_unix_ns / 1000000000ull);
	struct tm tm;
	gmtime_r(&secs, &tm);
	size_t n = strftime(ts, sizeof ts, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(ts + n, sizeof ts - n, ".%06uZ",
		 (unsigned)(c->start_unix_ns % 1000000000ull / 1000));
	json_t *o = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s, s:s, s:f, s:I, s:I, s:I}",
			      "time", ts, "service", sc->service, "pid", (json_int_t)sc->pid, "exe",
			      sc->exe, "db_system", dbp_db_system_names[c->db_system],
			      "db_namespace", sc->ns, "query", sc->text, "summary", sc->summary,
			      "duration_ms", (double)c->duration_ns / 1e6, "rows_returned",
			      (json_int_t)c->rows_returned, "rows_affected",
			      (json_int_t)c->rows_affected, "tid", (json_int_t)c->tid);
	if (!o)
		return;
	if (sc->error_type)
		json_object_set_new(o, "error_type", json_string(sc->error_type));
	char *line = json_dumps(o, JSON_COMPACT | JSON_PRESERVE_ORDER);
	if (line) {
		fprintf(l->out, "%s\n", line);
		fflush(l->out);
		free(line);
		l->written++;
	}
	json_decref(o);
}
