/* pq_state: what the libpq shim keeps per connection: the calls waiting for their results, and
 * prepared statements' texts by name. No libpq types here: the core builds without its headers. */
#ifndef DBPROBE_PQ_STATE_H
#define DBPROBE_PQ_STATE_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "intern.h"
#include "ptrmap.h"
#include "sqlparts.h"
#include "trace.h"

enum pq_kind {
	PQ_QUERY = 1, /* statements: a simple-protocol string (one part each), or one extended */
	PQ_PREPARE,   /* a protocol-level prepare: recorded only if it fails */
	PQ_DESCRIBE,  /* metadata only: its results are consumed, nothing is recorded */
	PQ_SYNC,      /* a pipeline sync point: ends with a PGRES_PIPELINE_SYNC result */
	PQ_CLOSE,     /* closing a prepared statement (PostgreSQL 17): its name goes */
};

/* What a statement does to the connection's prepared statements, by its SQL. */
enum pq_op {
	PQ_OP_NONE = 0,
	PQ_OP_PREPARE,    /* PREPARE name AS body: maps name -> body once it succeeds */
	PQ_OP_EXECUTE,    /* EXECUTE name: recorded under the prepared text */
	PQ_OP_DEALLOCATE, /* DEALLOCATE name (name NULL: ALL) */
};

struct pq_stats {
	uint64_t rows, affected;
	const struct dbp_str_ent *err; /* NULL: success */
	uint8_t rolled_back;           /* the server answered ROLLBACK (a COMMIT of a failed one) */
};

/* One sent call waiting for its results. */
struct pq_pend {
	uint8_t kind;     /* enum pq_kind */
	uint8_t copy;     /* a COPY is in progress: its libpq status (COPY_IN, COPY_OUT) */
	uint8_t held;     /* the current part has its final result; it ends at the next event */
	uint16_t cur;     /* the part running */
	uint64_t t0;      /* start of the current part */
	uint64_t held_t1; /* when the held part's result came */
	struct pq_stats st;
	struct dbp_parts parts; /* op, name, body: see enum pq_op */
	struct dbp_tpre pre;    /* span ids the text carried (DBPROBE_SQLCOMMENT): its first part's */
};

struct pq_prep {
	uint64_t hash; /* 0: empty slot */
	char *name;
	const struct dbp_query_ent *q;
};

/* A connection's state (a ptrmap value: type-stable, so pq_conn_clear frees what it owns). A
 * PGconn is used by one thread at a time (libpq's rule), so none of this is locked. */
struct pq_conn {
	struct dbp_ptrmap_val hdr; /* first: the map's view of every value */
	struct dbp_io io;          /* socket writes not yet in a record (agent.h) */
	const struct dbp_target_ent *target;
	struct pq_pend *queue;
	unsigned qhead, qlen, qcap;
	struct pq_prep *preps;
	unsigned nprep, prepcap;
	uint64_t connect_t0;
	int connecting;
	struct dbp_tconn tc; /* its transaction and pre-given span ids (trace.h) */
};

void pq_conn_clear(struct pq_conn *c);

/* The queue of calls waiting for results (pipelines queue many). */
struct pq_pend *pq_queue_push(struct pq_conn *c); /* zeroed; NULL when out of memory */
struct pq_pend *pq_queue_head(struct pq_conn *c);
void pq_queue_pop(struct pq_conn *c);
void pq_queue_drop_tail(struct pq_conn *c);
void pq_queue_clear(struct pq_conn *c);

/* Fill a queued call; each returns 0, or -1 when out of memory (drop it). With split, a string
 * becomes one part per statement, as the server will run them. */
int pq_pend_set_sql(struct pq_pend *p, const char *sql, size_t len, int split);
int pq_pend_set_prepare(struct pq_pend *p, const char *name, const char *sql);
int pq_pend_set_exec(struct pq_pend *p, struct pq_conn *c, const char *name);

/* Prepared statements by name, per connection. */
const struct dbp_query_ent *pq_prep_get(struct pq_conn *c, const char *name);
void pq_prep_put(struct pq_conn *c, const char *name, const struct dbp_query_ent *q);
void pq_prep_del(struct pq_conn *c, const char *name); /* NULL: all */
/* Removes name only while it still maps to q. */
void pq_prep_del_if(struct pq_conn *c, const char *name, const struct dbp_query_ent *q);

/* A statement prepared where we could not see it: known by its name only. */
const struct dbp_query_ent *pq_exec_name_query(const char *name);

/* SQL-level PREPARE / EXECUTE / DEALLOCATE in one statement's text. Returns the op; for
 * anything but PQ_OP_NONE, *name (malloc'ed, case-folded unless quoted; NULL for DEALLOCATE
 * ALL) and, for PREPARE, the body's span. Exposed for the unit tests. */
int pq_sql_command(const char *s, size_t len, char **name, size_t *body_off, size_t *body_len);

#endif
