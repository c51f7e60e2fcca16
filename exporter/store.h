/* store: statistics per (where, fingerprint), as pg_stat_statements keeps them, the Prometheus
 * series per (where, summary, error type), connection create times per (where, error type),
 * socket writes (sockstore.h), and the exporter's own counters. One lock; ingest holds it per
 * frame, readers per request. */
#ifndef DBPROBE_STORE_H
#define DBPROBE_STORE_H

#include <pthread.h>
#include <stdint.h>

#include "hist.h"
#include "htab.h"
#include "sockstore.h"
#include "wire.h"

/* Where calls ran. Strings are interned (compared by pointer); server is "" for an in-process
 * database, port 0 when there is none. */
struct dbp_where {
	const char *service, *ns, *server;
	uint16_t port;
	uint8_t system;
};

struct dbp_stmt {
	struct dbp_hnode node;
	struct dbp_where w;
	uint64_t fingerprint;
	const char *text;
	const char *summary;
	uint64_t calls, errors, rows;
	uint64_t total_ns, min_ns, max_ns;
	uint64_t write_bytes, write_ns; /* what the calls themselves wrote to sockets */
	double mean_ns, m2;             /* Welford's running mean and sum of squared deviations */
	uint64_t first_seen_ns, last_seen_ns; /* Unix time */
	struct dbp_sketch sketch;
};

/* A histogram: operation durations (summary set) or connection create times (summary NULL). */
struct dbp_series {
	struct dbp_hnode node;
	struct dbp_where w;
	const char *summary, *error_type;       /* interned; error_type NULL on success */
	uint64_t buckets[DBP_PROM_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	uint64_t count;
	double sum_s;
};

/* One agent connection: a process (or a forked child) talking to us. */
struct dbp_agent {
	struct dbp_agent *next;
	uint32_t pid, ppid;
	const char *exe, *service;                        /* interned */
	uint64_t start_unix_ns;                           /* when the agent armed in that process */
	uint64_t connected_unix_ns, disconnected_unix_ns; /* 0 while connected */
	uint64_t calls, errors;
	uint64_t connects; /* connections opened (or attempted) */
	uint64_t drops[DBP_DROP_REASON_COUNT];
};

#define DBP_AGENTS_KEPT 1024 /* disconnected agents remembered for /agents */

enum dbp_decode_error { DBP_DECODE_MALFORMED, DBP_DECODE_OVERSIZED, DBP_DECODE_ERROR_COUNT };

struct dbp_store {
	pthread_mutex_t lock;
	struct dbp_htab stmts, series, conns, strings, folded;
	unsigned max_fingerprints;
	unsigned
		nfingerprints; /* distinct (service, system, ns, fingerprint) keys, "other" aside */
	uint64_t records, calls;
	uint64_t agent_drops[DBP_DROP_REASON_COUNT];
	uint64_t decode_errors[DBP_DECODE_ERROR_COUNT];
	uint64_t folded_fingerprints; /* distinct fingerprints folded into "other" */
	uint64_t agents_connected, connections_total;
	uint64_t start_unix_ns;
	struct dbp_agent *agents; /* newest first */
	unsigned nagents;
	struct dbp_sockstore socks; /* peers per service capped at max_fingerprints too */
};

#define DBP_OTHER_FINGERPRINT 0ull /* never a real fingerprint (sqlnorm never yields 0) */

extern const char *const dbp_db_system_names[DBP_DB_SYSTEM_COUNT];
extern const char *const dbp_drop_reason_names[DBP_DROP_REASON_COUNT];

void dbp_store_init(struct dbp_store *s, unsigned max_fingerprints);
void dbp_store_free(struct dbp_store *s);

/* An interned copy of s[0..len): the same pointer for the same bytes, NUL-terminated. */
const char *dbp_store_intern(struct dbp_store *s, const char *p, size_t len);

/* Find or create. Over the fingerprint cap, new keys land in one "other" entry per `where`
 * and are counted. Never NULL unless out of memory. */
struct dbp_stmt *dbp_store_stmt(struct dbp_store *s, const struct dbp_where *w,
				uint64_t fingerprint, const char *text, const char *summary);
struct dbp_series *dbp_store_series(struct dbp_store *s, const struct dbp_where *w,
				    const char *summary, const char *error_type);
/* The connection create-time histogram for `where` (error_type NULL: connections that opened). */
struct dbp_series *dbp_store_conn_series(struct dbp_store *s, const struct dbp_where *w,
					 const char *error_type);

/* Adds one call to both aggregates (either may be NULL). */
void dbp_store_observe(struct dbp_stmt *st, struct dbp_series *se, const struct dbp_call *c);

/* A new agent entry (newest first); the oldest disconnected ones beyond DBP_AGENTS_KEPT go. */
struct dbp_agent *dbp_store_agent_new(struct dbp_store *s);

double dbp_stmt_stddev_ns(const struct dbp_stmt *st);

#endif
