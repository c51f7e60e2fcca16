/* libpq shim: the libpq hook table and wrappers. One record per statement result. */
#include <errno.h>
#include <libpq-fe.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "clock.h"
#include "intern.h"
#include "pq_state.h"
#include "ptrmap.h"
#include "hook.h"
#include "resolve.h"
#include "ring.h"
#include "trace.h"
#include "sqlnorm.h"

/* ---- the real functions ---------------------------------------------------------------- */

static const char *const sonames[] = { "libpq.so.5", "libpq.so", NULL };

/* PostgreSQL 17's; declared here so older headers build. */
int PQsendPipelineSync(PGconn *conn);
int PQsendClosePrepared(PGconn *conn, const char *name);
int PQsendClosePortal(PGconn *conn, const char *name);
PGresult *PQclosePrepared(PGconn *conn, const char *name);
PGresult *PQclosePortal(PGconn *conn, const char *name);

#define REAL_FUNCS(X)                                                                          \
	X(PGconn *, PQconnectdb, (const char *))                                               \
	X(PGconn *, PQconnectdbParams, (const char *const *, const char *const *, int))        \
	X(PGconn *, PQsetdbLogin,                                                              \
	  (const char *, const char *, const char *, const char *, const char *, const char *, \
	   const char *))                                                                      \
	X(PGconn *, PQconnectStart, (const char *))                                            \
	X(PGconn *, PQconnectStartParams, (const char *const *, const char *const *, int))     \
	X(PostgresPollingStatusType, PQconnectPoll, (PGconn *))                                \
	X(void, PQreset, (PGconn *))                                                           \
	X(int, PQresetStart, (PGconn *))                                                       \
	X(PostgresPollingStatusType, PQresetPoll, (PGconn *))                                  \
	X(void, PQfinish, (PGconn *))                                                          \
	X(PGresult *, PQexec, (PGconn *, const char *))                                        \
	X(PGresult *, PQexecParams,                                                            \
	  (PGconn *, const char *, int, const Oid *, const char *const *, const int *,         \
	   const int *, int))                                                                  \
	X(PGresult *, PQprepare, (PGconn *, const char *, const char *, int, const Oid *))     \
	X(PGresult *, PQexecPrepared,                                                          \
	  (PGconn *, const char *, int, const char *const *, const int *, const int *, int))   \
	X(PGresult *, PQdescribePrepared, (PGconn *, const char *))                            \
	X(PGresult *, PQdescribePortal, (PGconn *, const char *))                              \
	X(int, PQsendQuery, (PGconn *, const char *))                                          \
	X(int, PQsendQueryParams,                                                              \
	  (PGconn *, const char *, int, const Oid *, const char *const *, const int *,         \
	   const int *, int))                                                                  \
	X(int, PQsendPrepare, (PGconn *, const char *, const char *, int, const Oid *))        \
	X(int, PQsendQueryPrepared,                                                            \
	  (PGconn *, const char *, int, const char *const *, const int *, const int *, int))   \
	X(int, PQsendDescribePrepared, (PGconn *, const char *))                               \
	X(int, PQsendDescribePortal, (PGconn *, const char *))                                 \
	X(PGresult *, PQgetResult, (PGconn *))                                                 \
	X(int, PQpipelineSync, (PGconn *))                                                     \
	X(int, PQsendPipelineSync, (PGconn *))                                                 \
	X(int, PQsendClosePrepared, (PGconn *, const char *))                                  \
	X(int, PQsendClosePortal, (PGconn *, const char *))                                    \
	X(PGresult *, PQclosePrepared, (PGconn *, const char *))                               \
	X(PGresult *, PQclosePortal, (PGconn *, const char *))                                 \
	X(int, PQsetClientEncoding, (PGconn *, const char *))                                  \
	X(ExecStatusType, PQresultStatus, (const PGresult *))                                  \
	X(int, PQntuples, (const PGresult *))                                                  \
	X(char *, PQcmdTuples, (PGresult *))                                                   \
	X(char *, PQcmdStatus, (PGresult *))                                                   \
	X(char *, PQresultErrorField, (const PGresult *, int))                                 \
	X(char *, PQdb, (const PGconn *))                                                      \
	X(char *, PQhost, (const PGconn *))                                                    \
	X(char *, PQport, (const PGconn *))                                                    \
	X(ConnStatusType, PQstatus, (const PGconn *))                                          \
	X(PGpipelineStatus, PQpipelineStatus, (const PGconn *))

REAL_FUNCS(DBP_REAL_DECLARE)

DBP_REAL_RESOLVER(REAL_FUNCS, sonames)

/* ---- per-connection state -------------------------------------------------------------- */

static struct dbp_ptrmap conns = DBP_PTRMAP_INIT(struct pq_conn);

static DBP_TLS PGconn *tls_last_conn;
static DBP_TLS struct pq_conn *tls_last_ci;

/* A synchronous call in progress on this thread: libpq runs it through its own exported
 * PQsend* and PQgetResult (through the PLT), whose hooks then see the protocol events. */
struct sync_call {
	PGconn *conn;
	int sent; /* the inner send was seen and queued */
	int got;  /* an inner PQgetResult was seen */
};
static DBP_TLS struct sync_call *tls_sync;

static const struct dbp_target_ent *target_of(PGconn *conn)
{
	const char *db = DBP_HAVE(PQdb) ? real_PQdb(conn) : NULL;
	const char *host = DBP_HAVE(PQhost) ? real_PQhost(conn) : NULL;
	const char *port = DBP_HAVE(PQport) ? real_PQport(conn) : NULL;
	const struct dbp_str_ent *ns = db ? dbp_str_get(DBP_STR_NAMESPACE, db, strlen(db)) : NULL;
	const struct dbp_str_ent *srv =
		host && *host ? dbp_str_get(DBP_STR_SERVER, host, strlen(host)) : NULL;
	long p = port ? strtol(port, NULL, 10) : 0;
	return dbp_target_get(ns, srv, (uint16_t)(p > 0 && p < 65536 ? p : 0));
}

static struct pq_conn *conn_get(PGconn *conn)
{
	struct pq_conn *ci = tls_last_ci;
	if (DBP_LIKELY(tls_last_conn == conn && ci && ci->hdr.key == conn))
		return ci;
	/* Connected before we were armed: learned now, never reset if it merely moved tables. */
	ci = dbp_ptrmap_get_or_put(&conns, conn);
	tls_last_conn = conn;
	tls_last_ci = ci;
	return ci;
}

/* The connection's target, learned once it is up (a multi-host string settles on one). */
static const struct dbp_target_ent *conn_target(struct pq_conn *ci)
{
	if (DBP_UNLIKELY(!ci->target))
		ci->target = target_of((PGconn *)ci->hdr.key);
	return ci->target;
}

static void flush_held(struct pq_conn *ci);

static void conn_forget(PGconn *conn)
{
	if (!conn || __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) == DBP_ST_NOT_READY)
		return;
	int saved = errno;
	struct pq_conn *ci = dbp_ptrmap_get(&conns, conn);
	if (ci) {
		if (dbp_hook_enter(DBP_SHIM_PQ)) {
			flush_held(ci);
			dbp_ring_conn_gone(&ci->tc);
			dbp_hook_leave();
		}
		pq_conn_clear(ci);
		dbp_ptrmap_del(&conns, conn);
	}
	tls_last_conn = NULL;
	errno = saved;
}

/* ---- records ----------------------------------------------------------------------------- */

static const struct dbp_str_ent *err_str(const char *s)
{
	return dbp_error_get(s, strlen(s));
}

/* error.type of a failed result: the SQLSTATE, or a class of our own when libpq made the error
 * up itself (a lost connection, a protocol violation) and there is none. */
static const struct dbp_str_ent *result_error(PGconn *conn, const PGresult *res)
{
	const char *state = res && DBP_HAVE(PQresultErrorField)
				    ? real_PQresultErrorField(res, PG_DIAG_SQLSTATE)
				    : NULL;
	if (state && *state)
		return err_str(state);
	if (DBP_HAVE(PQstatus) && real_PQstatus(conn) == CONNECTION_BAD)
		return err_str("connection_error");
	return err_str("client_error");
}

static uint64_t cmd_tuples(PGresult *res)
{
	const char *s = DBP_HAVE(PQcmdTuples) ? real_PQcmdTuples(res) : NULL;
	return s && *s ? strtoull(s, NULL, 10) : 0;
}

static void emit(struct pq_conn *ci, const struct dbp_query_ent *q, uint64_t t0, uint64_t t1,
		 const struct pq_stats *st)
{
	struct dbp_rec *r = dbp_ring_reserve();
	if (!r) {
		ci->tc.pre.valid = 0; /* no record: the ids must not go to the next one */
		return;
	}
	r->query = q;
	r->target = conn_target(ci);
	r->err = st->err;
	r->t0 = t0;
	r->dur = t1 > t0 ? t1 - t0 : 0;
	r->rows = st->rows;
	r->affected = st->affected;
	r->db_system = DBP_DB_POSTGRESQL;
	r->flags = (uint8_t)((st->err ? DBP_CALL_ERROR : 0) | (st->rolled_back ? DBP_CALL_ROLLBACK : 0));
	r->kind = DBP_RK_CALL;
	struct dbp_io io = dbp_io_take(&ci->io);
	r->io_bytes = io.bytes;
	r->io_ticks = io.ticks;
	dbp_ring_commit_tc(&ci->tc);
}

static void emit_connect(struct pq_conn *ci, uint64_t t0, int ok)
{
	/* Where it went (or tried to): known from the options even when the attempt failed. */
	ci->target = NULL;
	struct dbp_rec r = {
		.query = &dbp_query_none,
		.target = conn_target(ci),
		.err = ok ? NULL
			  : err_str("08006"), /* connection_failure: libpq keeps no SQLSTATE */
		.t0 = t0,
		.db_system = DBP_DB_POSTGRESQL,
		.flags = DBP_CALL_CONNECT | (ok ? 0 : DBP_CALL_ERROR),
	};
	r.dur = dbp_ticks() - t0;
	if (!ok)
		ci->target = NULL; /* the next attempt may reach another host */
	struct dbp_io io = dbp_io_take(&ci->io);
	r.io_bytes = io.bytes;
	r.io_ticks = io.ticks;
	dbp_ring_push(&r);
}

/* ---- protocol events ----------------------------------------------------------------------- */

/* A statement's part of the stats from one result. */
static void add_result(PGconn *conn, struct pq_pend *p, PGresult *res, ExecStatusType s)
{
	switch (s) {
	case PGRES_TUPLES_OK:
		p->st.rows += DBP_HAVE(PQntuples) ? (uint64_t)real_PQntuples(res) : 0;
		break;
	case PGRES_COMMAND_OK: {
		/* COMMIT of a transaction that failed: the server rolled it back, and says so. */
		const char *tag = DBP_HAVE(PQcmdStatus) ? real_PQcmdStatus(res) : NULL;
		if (tag && !strcmp(tag, "ROLLBACK"))
			p->st.rolled_back = 1;
		uint64_t n = cmd_tuples(res);
		/* COPY ... TO STDOUT's count is rows returned; every other count is affected. */
		if (p->copy == PGRES_COPY_OUT)
			p->st.rows += n;
		else
			p->st.affected += n;
		break;
	}
	case PGRES_PIPELINE_ABORTED:
		/* Queued behind a failure in the same pipeline: it never ran. */
		p->st.err = err_str("pipeline_aborted");
		break;
	case PGRES_BAD_RESPONSE:
	case PGRES_FATAL_ERROR:
		p->st.err = result_error(conn, res);
		break;
	default:
		break;
	}
}

/* A statement finished: its record, and what it does to the prepared-statement map. */
static void part_done(struct pq_conn *ci, struct pq_pend *p, uint64_t t1)
{
	struct dbp_part *pt = dbp_parts_at(&p->parts, p->cur);
	const struct dbp_query_ent *q = pt->q;
	if (pt->op == PQ_OP_EXECUTE) {
		const struct dbp_query_ent *body = pq_prep_get(ci, pt->name);
		if (body)
			q = body;
	} else if (!p->st.err) {
		if (pt->op == PQ_OP_PREPARE)
			pq_prep_put(ci, pt->name, pt->body);
		else if (pt->op == PQ_OP_DEALLOCATE)
			pq_prep_del(ci, pt->name);
	}
	if (p->pre.valid) { /* the first part: the statement that carried the comment */
		ci->tc.pre = p->pre;
		p->pre.valid = 0;
	}
	emit(ci, q, p->t0, t1, &p->st);
	p->t0 = t1;
	p->st = (struct pq_stats){ 0 };
	p->copy = 0;
	p->cur++;
}

/* A statement's final result came at held_t1: the statement ended there. libpq's NULL after
 * it only confirms that nothing follows, and a program may take it much later, or never (it
 * may finish the connection after the last result it wanted). */
static void end_held(struct pq_conn *ci, struct pq_pend *p)
{
	if (p->held && p->cur < p->parts.n)
		part_done(ci, p, p->held_t1);
	p->held = 0;
}

/* Calls that will see no more results (the connection is finished, reset, or its queue is
 * cleared): the statements whose final results did come are recorded. */
static void flush_held(struct pq_conn *ci)
{
	for (unsigned i = 0; i < ci->qlen; i++) {
		struct pq_pend *p = &ci->queue[(ci->qhead + i) % ci->qcap];
		if (p->kind == PQ_QUERY)
			end_held(ci, p);
	}
}

/* A prepare that failed (or that a pipeline skipped): the name keeps what it had. */
static void prepare_undo(struct pq_conn *ci, struct pq_pend *p)
{
	struct dbp_part *pt = dbp_parts_at(&p->parts, 0);
	/* A prepare of the same name queued behind this one took this text for the name's old
	 * meaning: the old meaning is the one before this. */
	for (unsigned i = 1; i < ci->qlen; i++) {
		struct pq_pend *later = &ci->queue[(ci->qhead + i) % ci->qcap];
		struct dbp_part *lp = dbp_parts_at(&later->parts, 0);
		if (later->kind == PQ_PREPARE && lp->body == pt->q && lp->name && pt->name &&
		    !strcmp(lp->name, pt->name))
			lp->body = pt->body;
	}
	if (pq_prep_get(ci, pt->name) != pt->q)
		return; /* a later prepare of the name took over: it decides */
	if (pt->body)   /* the statement it named before */
		pq_prep_put(ci, pt->name, pt->body);
	else
		pq_prep_del(ci, pt->name);
}

/* What PQgetResult returned, matched against the oldest call still waiting for results. */
static void on_result(PGconn *conn, PGresult *res, uint64_t t1)
{
	struct pq_conn *ci = conn_get(conn);
	if (!ci || !ci->qlen)
		return;
	struct pq_pend *p = pq_queue_head(ci);
	if (!res) {
		/* The end of one call's results (in a pipeline: of one queued call). */
		if (p->kind == PQ_SYNC)
			return; /* a sync point ends with its own result, never with NULL */
		if (p->kind == PQ_QUERY)
			end_held(ci, p);
		pq_queue_pop(ci);
		return;
	}
	ExecStatusType s = DBP_HAVE(PQresultStatus) ? real_PQresultStatus(res) : PGRES_FATAL_ERROR;
	if (s == PGRES_PIPELINE_SYNC) {
		/* Its sync point, and whatever is queued before it (calls whose results we did not
		 * see): the pipeline is back in step either way. */
		for (unsigned n = ci->qlen; n--;) {
			struct pq_pend *h = pq_queue_head(ci);
			int sync = h->kind == PQ_SYNC;
			if (h->kind == PQ_QUERY)
				end_held(ci, h);
			pq_queue_pop(ci);
			if (sync)
				break;
		}
		return;
	}
	int partial = s == PGRES_COPY_IN || s == PGRES_COPY_OUT || s == PGRES_COPY_BOTH ||
		      s == PGRES_SINGLE_TUPLE || s == 12 /* PG 17's PGRES_TUPLES_CHUNK */;
	switch (p->kind) {
	case PQ_QUERY:
		/* Any result after a statement's final one belongs to the next statement. */
		end_held(ci, p);
		if (p->cur >= p->parts.n)
			return; /* more results than statements we split: nothing to pin them on */
		if (partial) {
			if (s == PGRES_SINGLE_TUPLE || s == 12)
				p->st.rows +=
					DBP_HAVE(PQntuples) ? (uint64_t)real_PQntuples(res) : 0;
			else
				p->copy = (uint8_t)s; /* it runs on until the copy's final result */
			return;
		}
		add_result(conn, p, res, s);
		p->held = 1;
		p->held_t1 = t1;
		break;
	case PQ_PREPARE:
		if (s == PGRES_FATAL_ERROR || s == PGRES_BAD_RESPONSE) {
			/* A failed prepare is one failed call: that is where syntax errors show. */
			struct pq_stats st = { .err = result_error(conn, res) };
			prepare_undo(ci, p);
			emit(ci, dbp_parts_at(&p->parts, 0)->q, p->t0, t1, &st);
		} else if (s == PGRES_PIPELINE_ABORTED) {
			prepare_undo(ci, p);
		}
		break;
	case PQ_CLOSE:
		if (s == PGRES_COMMAND_OK)
			pq_prep_del(ci, p->parts.one.name);
		break;
	default:
		break;
	}
}

/* A call was sent: it waits in the connection's queue for its results. */
static struct pq_pend *on_send(PGconn *conn, enum pq_kind kind, uint64_t t0)
{
	struct pq_conn *ci = conn_get(conn);
	if (!ci)
		return NULL;
	/* Outside a pipeline a send finds the queue empty, unless we missed results (taken by a
	 * path we do not see): those calls are over, whatever they did. Not for a synchronous
	 * describe or close, queued before libpq drains what is pending. */
	if (ci->qlen && kind != PQ_SYNC && kind != PQ_DESCRIBE && kind != PQ_CLOSE &&
	    DBP_HAVE(PQpipelineStatus) && real_PQpipelineStatus(conn) == PQ_PIPELINE_OFF) {
		flush_held(ci);
		pq_queue_clear(ci);
	}
	struct pq_pend *p = pq_queue_push(ci);
	if (p) {
		p->kind = (uint8_t)kind;
		p->t0 = t0;
	}
	return p;
}

/* ---- hook entry ------------------------------------------------------------------------------ */

/* Records when this is the program's own call (outer), or libpq's inner call on behalf of a
 * synchronous call we are timing on the same connection. */
static inline int pq_enter(PGconn *conn, int *outer)
{
	if (dbp_hook_enter(DBP_SHIM_PQ)) {
		*outer = 1;
		/* The connection's account: PQsendQuery writes what PQgetResult later records. */
		struct pq_conn *ci = conn_get(conn);
		if (ci)
			dbp_io_sink(&ci->io, DBP_DB_POSTGRESQL);
		return 1;
	}
	*outer = 0;
	struct sync_call *sc = tls_sync;
	return sc && sc->conn == conn && !dbp_tls_busy;
}

static inline void pq_leave(int outer)
{
	if (outer)
		dbp_hook_leave();
}

/* ---- connections --------------------------------------------------------------------------- */

static void connected(PGconn *conn, uint64_t t0)
{
	if (!conn)
		return; /* out of memory in libpq: nothing to attach the attempt to */
	int saved = errno;
	struct pq_conn *ci = dbp_ptrmap_get(&conns, conn);
	if (ci) {
		flush_held(ci);
		dbp_ring_conn_gone(&ci->tc); /* a reset: the server ended the old session */
		pq_conn_clear(ci);
	} else {
		ci = dbp_ptrmap_put(&conns, conn);
	}
	tls_last_conn = NULL;
	if (ci)
		emit_connect(ci, t0, DBP_HAVE(PQstatus) && real_PQstatus(conn) == CONNECTION_OK);
	errno = saved;
}

#define CONNECT_SYNC(name, ...)                          \
	do {                                             \
		DBP_REAL(name, NULL);                    \
		if (!dbp_hook_enter(DBP_SHIM_PQ))        \
			return real_##name(__VA_ARGS__); \
		uint64_t t0 = dbp_ticks();               \
		PGconn *conn = real_##name(__VA_ARGS__); \
		connected(conn, t0);                     \
		dbp_hook_leave();                        \
		return conn;                             \
	} while (0)

DBP_EXPORT PGconn *PQconnectdb(const char *conninfo)
{
	CONNECT_SYNC(PQconnectdb, conninfo);
}

DBP_EXPORT PGconn *PQconnectdbParams(const char *const *keywords, const char *const *values,
				     int expand_dbname)
{
	CONNECT_SYNC(PQconnectdbParams, keywords, values, expand_dbname);
}

DBP_EXPORT PGconn *PQsetdbLogin(const char *host, const char *port, const char *options,
				const char *tty, const char *db, const char *user, const char *pwd)
{
	CONNECT_SYNC(PQsetdbLogin, host, port, options, tty, db, user, pwd);
}

/* Non-blocking connects: timed from the start to the poll that settles them. */
static void connect_started(PGconn *conn, uint64_t t0)
{
	if (!conn)
		return;
	int saved = errno;
	struct pq_conn *ci = dbp_ptrmap_get(&conns, conn);
	if (ci) {
		flush_held(ci);
		dbp_ring_conn_gone(&ci->tc); /* a reset: the server ended the old session */
		pq_conn_clear(ci);
	} else {
		ci = dbp_ptrmap_put(&conns, conn);
	}
	tls_last_conn = NULL;
	if (ci) {
		ci->connect_t0 = t0;
		ci->connecting = 1;
		/* A bad option fails at once: no poll will come. */
		if (DBP_HAVE(PQstatus) && real_PQstatus(conn) == CONNECTION_BAD) {
			ci->connecting = 0;
			emit_connect(ci, t0, 0);
		}
	}
	errno = saved;
}

static void connect_polled(PGconn *conn, PostgresPollingStatusType st)
{
	if (st != PGRES_POLLING_OK && st != PGRES_POLLING_FAILED)
		return;
	int saved = errno;
	struct pq_conn *ci = dbp_ptrmap_get(&conns, conn);
	if (ci && ci->connecting) {
		ci->connecting = 0;
		emit_connect(ci, ci->connect_t0, st == PGRES_POLLING_OK);
	}
	errno = saved;
}

DBP_EXPORT PGconn *PQconnectStart(const char *conninfo)
{
	DBP_REAL(PQconnectStart, NULL);
	if (!dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQconnectStart(conninfo);
	uint64_t t0 = dbp_ticks();
	PGconn *conn = real_PQconnectStart(conninfo);
	connect_started(conn, t0);
	dbp_hook_leave();
	return conn;
}

DBP_EXPORT PGconn *PQconnectStartParams(const char *const *keywords, const char *const *values,
					int expand_dbname)
{
	DBP_REAL(PQconnectStartParams, NULL);
	if (!dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQconnectStartParams(keywords, values, expand_dbname);
	uint64_t t0 = dbp_ticks();
	PGconn *conn = real_PQconnectStartParams(keywords, values, expand_dbname);
	connect_started(conn, t0);
	dbp_hook_leave();
	return conn;
}

/* PQconnectPoll and PQresetPoll: a non-blocking connect settles in one of them. */
static PostgresPollingStatusType poll_hook(PGconn *conn,
					   PostgresPollingStatusType (*real)(PGconn *))
{
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real(conn);
	PostgresPollingStatusType st = real(conn);
	connect_polled(conn, st);
	dbp_hook_leave();
	return st;
}

DBP_EXPORT PostgresPollingStatusType PQconnectPoll(PGconn *conn)
{
	DBP_REAL(PQconnectPoll, PGRES_POLLING_FAILED);
	return poll_hook(conn, real_PQconnectPoll);
}

DBP_EXPORT void PQreset(PGconn *conn)
{
	DBP_REAL(PQreset, );
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ)) {
		real_PQreset(conn);
		return;
	}
	uint64_t t0 = dbp_ticks();
	real_PQreset(conn);
	/* A new session: the old one's prepared statements and pending calls are gone. */
	connected(conn, t0);
	dbp_hook_leave();
}

DBP_EXPORT int PQresetStart(PGconn *conn)
{
	DBP_REAL(PQresetStart, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQresetStart(conn);
	uint64_t t0 = dbp_ticks();
	int rc = real_PQresetStart(conn);
	if (rc)
		connect_started(conn, t0);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT PostgresPollingStatusType PQresetPoll(PGconn *conn)
{
	DBP_REAL(PQresetPoll, PGRES_POLLING_FAILED);
	return poll_hook(conn, real_PQresetPoll);
}

DBP_EXPORT void PQfinish(PGconn *conn)
{
	DBP_REAL(PQfinish, );
	/* Forgotten first: once freed, the address can be another thread's new connection. */
	conn_forget(conn);
	/* Its Terminate message is the connection's traffic too (socket statistics). */
	if (conn && dbp_hook_enter(DBP_SHIM_PQ)) {
		real_PQfinish(conn);
		dbp_hook_leave();
		return;
	}
	real_PQfinish(conn);
}

/* ---- sending ----------------------------------------------------------------------------- */

/* A simple-protocol string: one part per statement, SQL-level PREPARE/EXECUTE noted. */
static void send_query(PGconn *conn, const char *sql, uint64_t t0, int split,
		       const struct dbp_tpre *pre)
{
	int saved = errno;
	struct pq_pend *p = on_send(conn, PQ_QUERY, t0);
	if (p && pq_pend_set_sql(p, sql, strlen(sql), split) < 0) {
		pq_queue_drop_tail(conn_get(conn));
		p = NULL;
	}
	if (p && pre) /* the ids the text carried (sqlcommenter): its first statement's */
		p->pre = *pre;
	/* The extended protocol parses the text into the unnamed statement (what a later
	 * PQexecPrepared(conn, "") runs); a simple query destroys that statement. */
	struct pq_conn *ci = conn_get(conn);
	if (ci && !split && p)
		pq_prep_put(ci, "", p->parts.one.q);
	else if (ci && ci->nprep)
		pq_prep_del(ci, "");
	errno = saved;
}

/* DBPROBE_SQLCOMMENT, for simple-protocol text only (never a prepared statement): the
 * connection's state the comment's ids come from, NULL when nothing is added. */
static const struct dbp_tconn *comment_tc(PGconn *conn)
{
	if (DBP_LIKELY(!dbp_cfg.sqlcomment))
		return NULL;
	int saved = errno; /* a first sight allocates */
	struct pq_conn *ci = conn_get(conn);
	errno = saved;
	return ci ? &ci->tc : NULL;
}

DBP_EXPORT int PQsendQuery(PGconn *conn, const char *sql)
{
	DBP_REAL(PQsendQuery, 0);
	int outer;
	if (!conn || !sql || !pq_enter(conn, &outer))
		return real_PQsendQuery(conn, sql);
	struct dbp_sqlcomment o;
	dbp_sqlcomment_make(&o, comment_tc(conn), sql, SIZE_MAX);
	uint64_t t0 = dbp_ticks();
	int ok = real_PQsendQuery(conn, o.text ? o.text : sql);
	dbp_sqlcomment_free(&o);
	if (ok) {
		/* The record keeps the program's own text; the ids wait in the call's queue. */
		send_query(conn, sql, t0, 1, &o.pre);
		if (!outer)
			tls_sync->sent = 1;
	}
	pq_leave(outer);
	return ok;
}

DBP_EXPORT int PQsendQueryParams(PGconn *conn, const char *sql, int n, const Oid *types,
				 const char *const *values, const int *lengths, const int *formats,
				 int result_format)
{
	DBP_REAL(PQsendQueryParams, 0);
	int outer;
	if (!conn || !sql || !pq_enter(conn, &outer))
		return real_PQsendQueryParams(conn, sql, n, types, values, lengths, formats,
					      result_format);
	uint64_t t0 = dbp_ticks();
	int ok = real_PQsendQueryParams(conn, sql, n, types, values, lengths, formats,
					result_format);
	if (ok) {
		/* The extended protocol takes exactly one statement. */
		send_query(conn, sql, t0, 0, NULL);
		if (!outer)
			tls_sync->sent = 1;
	}
	pq_leave(outer);
	return ok;
}

static void send_prepare(PGconn *conn, const char *name, const char *sql, uint64_t t0)
{
	int saved = errno;
	struct pq_conn *ci = conn_get(conn);
	struct pq_pend *p = on_send(conn, PQ_PREPARE, t0);
	if (p && pq_pend_set_prepare(p, name ? name : "", sql) < 0) {
		pq_queue_drop_tail(ci);
		p = NULL;
	}
	/* Mapped now: executions queued behind it in a pipeline already name it. What the name
	 * meant before is kept, for a prepare that fails (the old statement then stands). */
	if (p) {
		p->parts.one.body = pq_prep_get(ci, p->parts.one.name);
		pq_prep_put(ci, p->parts.one.name, p->parts.one.q);
	}
	errno = saved;
}

DBP_EXPORT int PQsendPrepare(PGconn *conn, const char *name, const char *sql, int n,
			     const Oid *types)
{
	DBP_REAL(PQsendPrepare, 0);
	int outer;
	if (!conn || !sql || !pq_enter(conn, &outer))
		return real_PQsendPrepare(conn, name, sql, n, types);
	uint64_t t0 = dbp_ticks();
	int ok = real_PQsendPrepare(conn, name, sql, n, types);
	if (ok) {
		send_prepare(conn, name, sql, t0);
		if (!outer)
			tls_sync->sent = 1;
	}
	pq_leave(outer);
	return ok;
}

static void send_exec_prepared(PGconn *conn, const char *name, uint64_t t0)
{
	int saved = errno;
	struct pq_conn *ci = conn_get(conn);
	struct pq_pend *p = on_send(conn, PQ_QUERY, t0);
	if (p && pq_pend_set_exec(p, ci, name ? name : "") < 0)
		pq_queue_drop_tail(ci);
	errno = saved;
}

DBP_EXPORT int PQsendQueryPrepared(PGconn *conn, const char *name, int n, const char *const *values,
				   const int *lengths, const int *formats, int result_format)
{
	DBP_REAL(PQsendQueryPrepared, 0);
	int outer;
	if (!conn || !pq_enter(conn, &outer))
		return real_PQsendQueryPrepared(conn, name, n, values, lengths, formats,
						result_format);
	uint64_t t0 = dbp_ticks();
	int ok = real_PQsendQueryPrepared(conn, name, n, values, lengths, formats, result_format);
	if (ok) {
		send_exec_prepared(conn, name, t0);
		if (!outer)
			tls_sync->sent = 1;
	}
	pq_leave(outer);
	return ok;
}

/* Describes fetch metadata, run no statement, and are not recorded; they are queued so that
 * their results are not taken for another call's. */
static int send_describe(PGconn *conn, int ok)
{
	if (ok) {
		int saved = errno;
		on_send(conn, PQ_DESCRIBE, 0);
		errno = saved;
	}
	return ok;
}

DBP_EXPORT int PQsendDescribePrepared(PGconn *conn, const char *name)
{
	DBP_REAL(PQsendDescribePrepared, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsendDescribePrepared(conn, name);
	int ok = send_describe(conn, real_PQsendDescribePrepared(conn, name));
	dbp_hook_leave();
	return ok;
}

DBP_EXPORT int PQsendDescribePortal(PGconn *conn, const char *name)
{
	DBP_REAL(PQsendDescribePortal, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsendDescribePortal(conn, name);
	int ok = send_describe(conn, real_PQsendDescribePortal(conn, name));
	dbp_hook_leave();
	return ok;
}

static int send_close(PGconn *conn, const char *name, int ok)
{
	if (ok) {
		int saved = errno;
		struct pq_pend *p = on_send(conn, PQ_CLOSE, 0);
		if (p && !(p->parts.one.name = strdup(name ? name : "")))
			p->kind = PQ_DESCRIBE;
		errno = saved;
	}
	return ok;
}

DBP_EXPORT int PQsendClosePrepared(PGconn *conn, const char *name)
{
	DBP_REAL(PQsendClosePrepared, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsendClosePrepared(conn, name);
	int ok = send_close(conn, name, real_PQsendClosePrepared(conn, name));
	dbp_hook_leave();
	return ok;
}

DBP_EXPORT int PQsendClosePortal(PGconn *conn, const char *name)
{
	DBP_REAL(PQsendClosePortal, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsendClosePortal(conn, name);
	int ok = send_describe(conn, real_PQsendClosePortal(conn, name));
	dbp_hook_leave();
	return ok;
}

static int send_sync(PGconn *conn, int ok)
{
	if (ok) {
		int saved = errno;
		on_send(conn, PQ_SYNC, 0);
		errno = saved;
	}
	return ok;
}

DBP_EXPORT int PQpipelineSync(PGconn *conn)
{
	DBP_REAL(PQpipelineSync, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQpipelineSync(conn);
	int ok = send_sync(conn, real_PQpipelineSync(conn));
	dbp_hook_leave();
	return ok;
}

DBP_EXPORT int PQsendPipelineSync(PGconn *conn)
{
	DBP_REAL(PQsendPipelineSync, 0);
	if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsendPipelineSync(conn);
	int ok = send_sync(conn, real_PQsendPipelineSync(conn));
	dbp_hook_leave();
	return ok;
}

/* ---- results ----------------------------------------------------------------------------- */

DBP_EXPORT PGresult *PQgetResult(PGconn *conn)
{
	DBP_REAL(PQgetResult, NULL);
	int outer;
	if (!conn || !pq_enter(conn, &outer))
		return real_PQgetResult(conn);
	PGresult *res = real_PQgetResult(conn);
	uint64_t t1 = dbp_ticks();
	int saved = errno;
	if (!outer)
		tls_sync->got = 1;
	on_result(conn, res, t1);
	errno = saved;
	pq_leave(outer);
	return res;
}

/* ---- synchronous calls ---------------------------------------------------------------------- */

/* When libpq's inner send was not seen (a libpq that binds its own calls directly, or a send
 * that failed), the call is recorded whole from what it returned. */
static void sync_fallback(PGconn *conn, const struct dbp_query_ent *q, PGresult *res, uint64_t t0)
{
	int saved = errno;
	struct pq_conn *ci = conn_get(conn);
	if (ci) {
		struct pq_pend p = { .kind = PQ_QUERY };
		ExecStatusType s = res && DBP_HAVE(PQresultStatus) ? real_PQresultStatus(res)
								   : PGRES_FATAL_ERROR;
		if (res)
			add_result(conn, &p, res, s);
		else
			p.st.err = result_error(conn, NULL);
		emit(ci, q, t0, dbp_ticks(), &p.st);
	}
	errno = saved;
}

#define SYNC_CALL(name, query_expr, ...)                          \
	do {                                                      \
		DBP_REAL(name, NULL);                             \
		if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))        \
			return real_##name(__VA_ARGS__);          \
		struct sync_call sc = { .conn = conn };           \
		uint64_t t0 = dbp_ticks();                        \
		tls_sync = &sc;                                   \
		PGresult *res = real_##name(__VA_ARGS__);         \
		tls_sync = NULL;                                  \
		if (!sc.sent)                                     \
			sync_fallback(conn, query_expr, res, t0); \
		dbp_hook_leave();                                 \
		return res;                                       \
	} while (0)

static const struct dbp_query_ent *text_query(const char *sql)
{
	return dbp_query_get_ex(sql ? sql : "", sql ? strlen(sql) : 0, SQLNORM_PG);
}

static const struct dbp_query_ent *prepared_query(PGconn *conn, const char *name)
{
	struct pq_conn *ci = conn_get(conn);
	const struct dbp_query_ent *q = ci ? pq_prep_get(ci, name ? name : "") : NULL;
	return q ? q : pq_exec_name_query(name ? name : "");
}

DBP_EXPORT PGresult *PQexec(PGconn *conn, const char *sql)
{
	SYNC_CALL(PQexec, text_query(sql), conn, sql);
}

DBP_EXPORT PGresult *PQexecParams(PGconn *conn, const char *sql, int n, const Oid *types,
				  const char *const *values, const int *lengths, const int *formats,
				  int result_format)
{
	SYNC_CALL(PQexecParams, text_query(sql), conn, sql, n, types, values, lengths, formats,
		  result_format);
}

DBP_EXPORT PGresult *PQexecPrepared(PGconn *conn, const char *name, int n,
				    const char *const *values, const int *lengths,
				    const int *formats, int result_format)
{
	SYNC_CALL(PQexecPrepared, prepared_query(conn, name), conn, name, n, values, lengths,
		  formats, result_format);
}

/* Prepare: recorded only when it fails (see on_result), and mapped when it succeeds. */
DBP_EXPORT PGresult *PQprepare(PGconn *conn, const char *name, const char *sql, int n,
			       const Oid *types)
{
	DBP_REAL(PQprepare, NULL);
	if (!conn || !sql || !dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQprepare(conn, name, sql, n, types);
	struct sync_call sc = { .conn = conn };
	uint64_t t0 = dbp_ticks();
	tls_sync = &sc;
	PGresult *res = real_PQprepare(conn, name, sql, n, types);
	tls_sync = NULL;
	if (!sc.sent) {
		ExecStatusType s = res && DBP_HAVE(PQresultStatus) ? real_PQresultStatus(res)
								   : PGRES_FATAL_ERROR;
		if (s == PGRES_COMMAND_OK) {
			int saved = errno;
			struct pq_conn *ci = conn_get(conn);
			if (ci)
				pq_prep_put(ci, name ? name : "", text_query(sql));
			errno = saved;
		} else {
			sync_fallback(conn, text_query(sql), res, t0);
		}
	}
	dbp_hook_leave();
	return res;
}

/* libpq sends a describe (or close) through a function of its own, past our hooks: it is
 * queued here, so that the results the inner PQgetResult sees are matched to it. Not in a
 * pipeline, where libpq refuses synchronous calls; and taken back if no result was seen. */
static PGresult *sync_meta(PGconn *conn, enum pq_kind kind, const char *name,
			   PGresult *(*real)(PGconn *, const char *))
{
	struct sync_call sc = { .conn = conn };
	int saved = errno;
	struct pq_pend *p = NULL;
	if (DBP_HAVE(PQpipelineStatus) && real_PQpipelineStatus(conn) == PQ_PIPELINE_OFF) {
		p = on_send(conn, kind, 0);
		if (p && kind == PQ_CLOSE && !(p->parts.one.name = strdup(name ? name : "")))
			p->kind = PQ_DESCRIBE; /* no name to forget: still consumes its results */
	}
	errno = saved;
	tls_sync = &sc;
	PGresult *res = real(conn, name);
	tls_sync = NULL;
	if (p && !sc.got) {
		saved = errno;
		struct pq_conn *ci = conn_get(conn);
		if (ci && ci->qlen && ci->queue[(ci->qhead + ci->qlen - 1) % ci->qcap].kind == kind)
			pq_queue_drop_tail(ci);
		errno = saved;
	}
	return res;
}

#define SYNC_META(name, kind)                                            \
	do {                                                             \
		DBP_REAL(name, NULL);                                    \
		if (!conn || !dbp_hook_enter(DBP_SHIM_PQ))               \
			return real_##name(conn, arg);                   \
		PGresult *res = sync_meta(conn, kind, arg, real_##name); \
		dbp_hook_leave();                                        \
		return res;                                              \
	} while (0)

DBP_EXPORT PGresult *PQdescribePrepared(PGconn *conn, const char *arg)
{
	SYNC_META(PQdescribePrepared, PQ_DESCRIBE);
}

DBP_EXPORT PGresult *PQdescribePortal(PGconn *conn, const char *arg)
{
	SYNC_META(PQdescribePortal, PQ_DESCRIBE);
}

/* PostgreSQL 17's closes: a prepared statement closed is a name forgotten. */
DBP_EXPORT PGresult *PQclosePrepared(PGconn *conn, const char *arg)
{
	SYNC_META(PQclosePrepared, PQ_CLOSE);
}

DBP_EXPORT PGresult *PQclosePortal(PGconn *conn, const char *arg)
{
	SYNC_META(PQclosePortal, PQ_DESCRIBE);
}

/* libpq runs a SET of its own through PQexec: that is not the program's statement. */
DBP_EXPORT int PQsetClientEncoding(PGconn *conn, const char *encoding)
{
	DBP_REAL(PQsetClientEncoding, -1);
	if (!dbp_hook_enter(DBP_SHIM_PQ))
		return real_PQsetClientEncoding(conn, encoding);
	int rc = real_PQsetClientEncoding(conn, encoding);
	dbp_hook_leave();
	return rc;
}
