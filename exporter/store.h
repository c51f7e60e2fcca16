/* store: statistics per (where, fingerprint), as pg_stat_statements keeps them, with their call
 * sites, the Prometheus series per (where, summary, error type), connection create times per
 * (where, error type), socket writes (sockstore.h), the call stacks agents sent (interned across
 * agents), and the exporter's own counters. One lock; ingest holds it per frame, readers per
 * request. */
#ifndef DBPROBE_STORE_H
#define DBPROBE_STORE_H

#include <pthread.h>
#include <stdint.h>

#include "hist.h"
#include "htab.h"
#include "sockstore.h"
#include "spanq.h"
#include "symbolize.h"
#include "wire.h"

/* A loaded object as stack frames name it, interned across agents by (path, build-id). */
struct dbp_objfile {
	struct dbp_hnode node;
	const char *path; /* interned */
	size_t path_len;
	uint16_t build_id_len;
	uint8_t build_id[DBP_BUILD_ID_MAX];
};

struct dbp_callframe {
	const struct dbp_objfile *obj;
	uint64_t offset; /* a return address in obj, as the agent sent it */
};

/* A call stack, interned across agents by content; never freed while the store lives, so a
 * pointer stays valid after the lock is released. */
struct dbp_callstack {
	struct dbp_hnode node;
	uint32_t id; /* global, from 1: /stacks/<id> */
	uint32_t nframes;
	struct dbp_callframe frames[]; /* innermost (the database API's caller) first */
};

/* The calls of a statement made from one call site: the first frame of their stacks, the
 * program's function that called the database API. */
struct dbp_caller {
	struct dbp_callframe site; /* site.obj NULL: "(other)", the sites past the cap */
	uint64_t calls, total_ns;
	uint32_t stack_id; /* a stack seen through this site (the first one), 0: none kept */
};

#define DBP_CALLERS_MAX 16    /* call sites per statement; more fold into "(other)" */
#define DBP_STACKS_MAX 65536  /* distinct stacks kept; more still count in callers */
#define DBP_OBJFILES_MAX 4096 /* distinct (path, build-id); more name nothing ("(other)") */

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
	/* Calls that carried a stack, per call site: NULL until the first one, then
	 * DBP_CALLERS_MAX sites followed by "(other)". */
	struct dbp_caller *callers;
	unsigned ncallers; /* sites in use, "(other)" aside */
};

/* The latest sampled call that fell in a bucket: OpenMetrics exemplars link a latency bucket to
 * its trace. */
struct dbp_exemplar {
	uint8_t trace_id[16], span_id[8];
	uint8_t set;
	double value_s;
	uint64_t unix_ns;
};

/* A histogram: operation durations (summary set) or connection create times (summary NULL). */
struct dbp_series {
	struct dbp_hnode node;
	struct dbp_where w;
	const char *summary, *error_type;       /* interned; error_type NULL on success */
	uint64_t buckets[DBP_PROM_BUCKETS + 1]; /* per bucket, not cumulative; last is +Inf */
	uint64_t count;
	double sum_s;
	struct dbp_exemplar *exemplars; /* DBP_PROM_BUCKETS + 1, per bucket; NULL until the first */
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
	struct dbp_htab objfiles, stacks;
	unsigned nobjfiles;
	struct dbp_objfile other_obj;     /* what modules past DBP_OBJFILES_MAX become */
	struct dbp_callstack **stack_ids; /* stack_ids[id - 1] */
	uint32_t nstacks, stacks_cap;
	uint64_t stacks_dropped;    /* distinct stacks not kept (DBP_STACKS_MAX), counted per agent
				     * definition */
	struct dbp_symbolizer *sym; /* its own lock: pages symbolize after releasing ours */
	struct dbp_spanq *spans;    /* its own lock; set before any thread starts, may be NULL */
};

#define DBP_OTHER_FINGERPRINT 0ull /* never a real fingerprint (sqlnorm never yields 0) */

extern const char *const dbp_db_system_names[DBP_DB_SYSTEM_COUNT];
extern const char *const dbp_drop_reason_names[DBP_DROP_REASON_COUNT];

void dbp_store_init(struct dbp_store *s, unsigned max_fingerprints);
void dbp_store_free(struct dbp_store *s);

/* An interned copy of s[0..len): the same pointer for the same bytes, NUL-terminated. */
const char *dbp_store_intern(struct dbp_store *s, const char *p, size_t len);

/* Find or create. Over the fingerprint cap, new keys land in one "other" entry per `where`
 * and are counted. text[0..text_len) and summary[0..summary_len) are interned only for a
 * statement created: folded ones cannot grow the string table. Never NULL unless out of
 * memory. */
struct dbp_stmt *dbp_store_stmt(struct dbp_store *s, const struct dbp_where *w,
				uint64_t fingerprint, const char *text, size_t text_len,
				const char *summary, size_t summary_len);
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

/* The interned module for (path, build-id): &s->other_obj past DBP_OBJFILES_MAX or when out of
 * memory. path should be valid UTF-8 (it reaches JSON) and must hold no NUL. Past the cap, a new
 * path is not interned either: agents cannot grow the string table through modules. */
const struct dbp_objfile *dbp_store_objfile(struct dbp_store *s, const char *path, size_t len,
					    const uint8_t *build_id, size_t build_id_len);
/* The interned stack of these n (1..DBP_STACK_MAX) frames; NULL past DBP_STACKS_MAX (counted
 * in stacks_dropped) or when out of memory. */
const struct dbp_callstack *dbp_store_callstack(struct dbp_store *s,
						const struct dbp_callframe *frames, unsigned n);
/* A stack by its global id, or NULL. */
const struct dbp_callstack *dbp_store_callstack_get(const struct dbp_store *s, uint64_t id);
/* Counts a call made from site (a stack's first frame) with stack_id (0: not kept). */
void dbp_store_caller(struct dbp_stmt *st, const struct dbp_callframe *site, uint32_t stack_id,
		      uint64_t duration_ns);

#endif
