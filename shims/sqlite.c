/* sqlite shim: the sqlite3 hook table and wrappers. One record per statement execution. */
#include <errno.h>
#include <sqlite3.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "intern.h"
#include "ptrmap.h"
#include "hook.h"
#include "resolve.h"
#include "ring.h"
#include "trace.h"
#include "sqlite_errors.h"
#include "sqlnorm.h"

/* ---- the real functions ---------------------------------------------------------------- */

static const char *const sonames[] = { "libsqlite3.so.0", "libsqlite3.so", NULL };

#define REAL_FUNCS(X)                                                                              \
	X(int, sqlite3_open, (const char *, sqlite3 **))                                           \
	X(int, sqlite3_open16, (const void *, sqlite3 **))                                         \
	X(int, sqlite3_open_v2, (const char *, sqlite3 **, int, const char *))                     \
	X(int, sqlite3_prepare, (sqlite3 *, const char *, int, sqlite3_stmt **, const char **))    \
	X(int, sqlite3_prepare_v2, (sqlite3 *, const char *, int, sqlite3_stmt **, const char **)) \
	X(int, sqlite3_prepare_v3,                                                                 \
	  (sqlite3 *, const char *, int, unsigned, sqlite3_stmt **, const char **))                \
	X(int, sqlite3_prepare16, (sqlite3 *, const void *, int, sqlite3_stmt **, const void **))  \
	X(int, sqlite3_prepare16_v2,                                                               \
	  (sqlite3 *, const void *, int, sqlite3_stmt **, const void **))                          \
	X(int, sqlite3_prepare16_v3,                                                               \
	  (sqlite3 *, const void *, int, unsigned, sqlite3_stmt **, const void **))                \
	X(int, sqlite3_step, (sqlite3_stmt *))                                                     \
	X(int, sqlite3_reset, (sqlite3_stmt *))                                                    \
	X(int, sqlite3_finalize, (sqlite3_stmt *))                                                 \
	X(int, sqlite3_exec, (sqlite3 *, const char *, sqlite3_callback, void *, char **))         \
	X(int, sqlite3_close, (sqlite3 *))                                                         \
	X(int, sqlite3_close_v2, (sqlite3 *))                                                      \
	X(int, sqlite3_trace_v2,                                                                   \
	  (sqlite3 *, unsigned, int (*)(unsigned, void *, void *, void *), void *))                \
	X(void *, sqlite3_trace, (sqlite3 *, void (*)(void *, const char *), void *))              \
	X(void *, sqlite3_profile,                                                                 \
	  (sqlite3 *, void (*)(void *, const char *, sqlite3_uint64), void *))                     \
	X(const char *, sqlite3_sql, (sqlite3_stmt *))                                             \
	X(sqlite3 *, sqlite3_db_handle, (sqlite3_stmt *))                                          \
	X(const char *, sqlite3_db_filename, (sqlite3 *, const char *))                            \
	X(int, sqlite3_stmt_readonly, (sqlite3_stmt *))                                            \
	X(int, sqlite3_changes, (sqlite3 *))                                                       \
	X(int, sqlite3_get_autocommit, (sqlite3 *))                                                \
	X(int, sqlite3_extended_errcode, (sqlite3 *))

REAL_FUNCS(DBP_REAL_DECLARE)

DBP_REAL_RESOLVER(REAL_FUNCS, sonames)

/* ---- per-connection and per-statement state -------------------------------------------- */

struct db_info {
	struct dbp_ptrmap_val hdr;
	const struct dbp_target_ent *ns;
	int app_traces; /* the program installed a trace or profile callback of its own */
	struct dbp_tconn tc; /* its transaction (trace.h) */
};

struct stmt_info {
	struct dbp_ptrmap_val hdr;
	const struct dbp_query_ent *query;
	const struct dbp_target_ent *ns;
	sqlite3 *db;
	struct db_info *dbi; /* db's (type-stable: checked by key before use), or NULL */
	uint64_t t0;
	uint64_t rows;
	int active;   /* between the first step and DONE / error / reset / finalize */
	int readonly; /* sqlite3_changes() is stale after a read-only statement */
};

static struct dbp_ptrmap dbs = DBP_PTRMAP_INIT(struct db_info);
static struct dbp_ptrmap stmts = DBP_PTRMAP_INIT(struct stmt_info);

/* The statement a thread used last: a loop over one statement never probes the map. */
static DBP_TLS sqlite3_stmt *tls_last_stmt;
static DBP_TLS struct stmt_info *tls_last_info;

static const struct dbp_target_ent *namespace_of(sqlite3 *db)
{
	if (!db) /* a failed open the program ignored: SQLite answers MISUSE, we must not crash */
		return NULL;
	struct db_info *di = dbp_ptrmap_get(&dbs, db);
	if (di && di->ns)
		return di->ns;
	const char *file = real_sqlite3_db_filename ? real_sqlite3_db_filename(db, "main") : NULL;
	/* SQLite reports in-memory and temporary databases with an empty file name. */
	if (!file || !*file)
		file = ":memory:";
	const struct dbp_target_ent *ns =
		dbp_target_get(dbp_str_get(DBP_STR_NAMESPACE, file, strlen(file)), NULL, 0);
	if (!di)
		di = dbp_ptrmap_put(&dbs, db);
	if (di)
		di->ns = ns;
	return ns;
}

/* The connection's transaction state, or NULL when it has none we track. */
static struct dbp_tconn *tconn_of(sqlite3 *db)
{
	struct db_info *di = db ? dbp_ptrmap_get(&dbs, db) : NULL;
	return di ? &di->tc : NULL;
}

/* A failed COMMIT may leave the transaction open (SQLITE_BUSY, a deferred foreign key): the
 * connection says whether it did. */
static uint8_t txn_left_open(const struct dbp_query_ent *q, sqlite3 *db)
{
	return q && q->txn == DBP_TXN_COMMIT && db && real_sqlite3_get_autocommit &&
			       !real_sqlite3_get_autocommit(db)
		       ? DBP_REC_TXN_OPEN
		       : 0;
}

static const struct dbp_str_ent *error_of(sqlite3 *db, int rc)
{
	int ext = real_sqlite3_extended_errcode && db ? real_sqlite3_extended_errcode(db) : rc;
	/* The connection's code can be from another thread's call; the one we were handed wins. */
	if ((ext & 0xff) != (rc & 0xff))
		ext = rc;
	const char *name = dbp_sqlite_error_name(ext);
	return dbp_error_get(name, strlen(name));
}

static struct stmt_info *stmt_track(sqlite3_stmt *st)
{
	const char *sql = real_sqlite3_sql ? real_sqlite3_sql(st) : NULL;
	sqlite3 *db = real_sqlite3_db_handle ? real_sqlite3_db_handle(st) : NULL;
	if (!sql || !db)
		return NULL;
	struct stmt_info *si = dbp_ptrmap_put(&stmts, st);
	if (!si)
		return NULL;
	si->query = dbp_query_get(sql, strlen(sql));
	si->ns = namespace_of(db);
	si->db = db;
	si->dbi = dbp_ptrmap_get(&dbs, db);
	si->readonly = real_sqlite3_stmt_readonly ? real_sqlite3_stmt_readonly(st) : 1;
	return si;
}

static struct stmt_info *stmt_find(sqlite3_stmt *st)
{
	struct stmt_info *si = tls_last_info;
	if (DBP_LIKELY(tls_last_stmt == st && si && si->hdr.key == st))
		return si;
	si = dbp_ptrmap_get(&stmts, st);
	if (!si) { /* prepared before we were armed, or by a path we do not see */
		int saved = errno;
		si = stmt_track(st);
		errno = saved;
	}
	tls_last_stmt = st;
	tls_last_info = si;
	return si;
}

static void stmt_finish(struct stmt_info *si, int rc)
{
	uint64_t t1 = dbp_ticks();
	si->active = 0;
	struct dbp_rec *r = dbp_ring_reserve();
	if (!r)
		return;
	r->query = si->query;
	r->target = si->ns;
	r->err = NULL;
	r->t0 = si->t0;
	r->dur = t1 - si->t0;
	r->rows = si->rows;
	r->affected = 0;
	r->db_system = DBP_DB_SQLITE;
	r->flags = 0;
	r->kind = DBP_RK_CALL;
	r->io_bytes = r->io_ticks = 0;
	if (rc == SQLITE_DONE || rc == SQLITE_OK) {
		if (!si->readonly && real_sqlite3_changes)
			r->affected = (uint64_t)real_sqlite3_changes(si->db);
	} else {
		int saved = errno;
		r->flags = DBP_CALL_ERROR | txn_left_open(si->query, si->db);
		r->err = error_of(si->db, rc);
		errno = saved;
	}
	struct db_info *di = si->dbi;
	dbp_ring_commit_tc(di && di->hdr.key == si->db ? &di->tc : NULL);
}

/* A statement that failed to prepare is one failed call: that is where SQLite reports most
 * mistakes (syntax, missing table). Its text is the first statement of the input. */
static void prepare_failed(sqlite3 *db, const char *sql, size_t len, int rc, uint64_t t0)
{
	uint64_t t1 = dbp_ticks();
	int saved = errno;
	len = sqlnorm_stmt_len(sql, len);
	struct dbp_rec r = {
		.query = dbp_query_get(sql, len),
		.target = namespace_of(db),
		.err = error_of(db, rc),
		.t0 = t0,
		.dur = t1 - t0,
		.db_system = DBP_DB_SQLITE,
		.flags = DBP_CALL_ERROR,
	};
	dbp_ring_push_tc(&r, tconn_of(db));
	errno = saved;
}

static size_t utf8_len(const char *sql, int nbyte)
{
	return nbyte < 0 ? strlen(sql) : strnlen(sql, (size_t)nbyte);
}

/* UTF-16 input is narrowed for the failed-prepare text only (non-ASCII becomes '?'): a
 * successful prepare is read back in UTF-8 through sqlite3_sql(). */
static size_t narrow16(const void *sql, int nbyte, char *out, size_t cap)
{
	const uint16_t *s = sql;
	size_t max = nbyte < 0 ? SIZE_MAX : (size_t)nbyte / 2, n = 0;
	for (; n < max && n < cap && s[n]; n++)
		out[n] = s[n] < 0x80 ? (char)s[n] : '?';
	return n;
}

/* ---- hooks ----------------------------------------------------------------------------- */

static void after_open(int rc, sqlite3 **pdb)
{
	if (rc == SQLITE_OK && pdb && *pdb) {
		int saved = errno;
		/* A new connection at an address an old one had: nothing of the old one applies. */
		struct db_info *di = dbp_ptrmap_put(&dbs, *pdb);
		if (di)
			di->ns = NULL;
		namespace_of(*pdb);
		errno = saved;
	}
}

DBP_EXPORT int sqlite3_open(const char *file, sqlite3 **pdb)
{
	DBP_REAL(sqlite3_open, SQLITE_ERROR);
	if (!dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_open(file, pdb);
	int rc = real_sqlite3_open(file, pdb);
	after_open(rc, pdb);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int sqlite3_open16(const void *file, sqlite3 **pdb)
{
	DBP_REAL(sqlite3_open16, SQLITE_ERROR);
	if (!dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_open16(file, pdb);
	int rc = real_sqlite3_open16(file, pdb);
	after_open(rc, pdb);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int sqlite3_open_v2(const char *file, sqlite3 **pdb, int flags, const char *vfs)
{
	DBP_REAL(sqlite3_open_v2, SQLITE_ERROR);
	if (!dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_open_v2(file, pdb, flags, vfs);
	int rc = real_sqlite3_open_v2(file, pdb, flags, vfs);
	after_open(rc, pdb);
	dbp_hook_leave();
	return rc;
}

static void after_prepare(sqlite3 *db, int rc, sqlite3_stmt **pst, const char *sql8, size_t len8,
			  uint64_t t0)
{
	if (rc == SQLITE_OK) {
		if (pst && *pst) { /* NULL: the input was only whitespace or comments */
			int saved = errno;
			stmt_track(*pst);
			errno = saved;
		}
	} else if (sql8) {
		prepare_failed(db, sql8, len8, rc, t0);
	}
}

#define PREPARE8(name, ...)                                                          \
	do {                                                                         \
		DBP_REAL(name, SQLITE_ERROR);                                        \
		if (!dbp_hook_enter(DBP_SHIM_SQLITE))                                \
			return real_##name(__VA_ARGS__);                             \
		uint64_t t0 = dbp_ticks();                                           \
		int rc = real_##name(__VA_ARGS__);                                   \
		after_prepare(db, rc, pst, sql, sql ? utf8_len(sql, nbyte) : 0, t0); \
		dbp_hook_leave();                                                    \
		return rc;                                                           \
	} while (0)

#define PREPARE16(name, ...)                                                                   \
	do {                                                                                   \
		DBP_REAL(name, SQLITE_ERROR);                                                  \
		if (!dbp_hook_enter(DBP_SHIM_SQLITE))                                          \
			return real_##name(__VA_ARGS__);                                       \
		uint64_t t0 = dbp_ticks();                                                     \
		int rc = real_##name(__VA_ARGS__);                                             \
		char buf[1024];                                                                \
		size_t n = rc != SQLITE_OK && sql ? narrow16(sql, nbyte, buf, sizeof buf) : 0; \
		after_prepare(db, rc, pst, sql ? buf : NULL, n, t0);                           \
		dbp_hook_leave();                                                              \
		return rc;                                                                     \
	} while (0)

DBP_EXPORT int sqlite3_prepare(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **pst,
			       const char **tail)
{
	PREPARE8(sqlite3_prepare, db, sql, nbyte, pst, tail);
}

DBP_EXPORT int sqlite3_prepare_v2(sqlite3 *db, const char *sql, int nbyte, sqlite3_stmt **pst,
				  const char **tail)
{
	PREPARE8(sqlite3_prepare_v2, db, sql, nbyte, pst, tail);
}

DBP_EXPORT int sqlite3_prepare_v3(sqlite3 *db, const char *sql, int nbyte, unsigned flags,
				  sqlite3_stmt **pst, const char **tail)
{
	PREPARE8(sqlite3_prepare_v3, db, sql, nbyte, flags, pst, tail);
}

DBP_EXPORT int sqlite3_prepare16(sqlite3 *db, const void *sql, int nbyte, sqlite3_stmt **pst,
				 const void **tail)
{
	PREPARE16(sqlite3_prepare16, db, sql, nbyte, pst, tail);
}

DBP_EXPORT int sqlite3_prepare16_v2(sqlite3 *db, const void *sql, int nbyte, sqlite3_stmt **pst,
				    const void **tail)
{
	PREPARE16(sqlite3_prepare16_v2, db, sql, nbyte, pst, tail);
}

DBP_EXPORT int sqlite3_prepare16_v3(sqlite3 *db, const void *sql, int nbyte, unsigned flags,
				    sqlite3_stmt **pst, const void **tail)
{
	PREPARE16(sqlite3_prepare16_v3, db, sql, nbyte, flags, pst, tail);
}

DBP_EXPORT int sqlite3_step(sqlite3_stmt *st)
{
	DBP_REAL(sqlite3_step, SQLITE_MISUSE);
	if (!st || !dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_step(st);
	struct stmt_info *si = stmt_find(st);
	if (DBP_UNLIKELY(!si)) {
		dbp_hook_leave();
		return real_sqlite3_step(st);
	}
	if (!si->active) {
		si->active = 1;
		si->rows = 0;
		si->t0 = dbp_ticks();
	}
	int rc = real_sqlite3_step(st);
	if (rc == SQLITE_ROW)
		si->rows++;
	else
		stmt_finish(si, rc);
	dbp_hook_leave();
	return rc;
}

/* Reset or finalize before SQLITE_DONE ends an execution the program chose to stop early
 * (a point lookup reads one row and resets): that is a successful call. */
DBP_EXPORT int sqlite3_reset(sqlite3_stmt *st)
{
	DBP_REAL(sqlite3_reset, SQLITE_MISUSE);
	if (!st || !dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_reset(st);
	struct stmt_info *si = stmt_find(st);
	if (si && si->active)
		stmt_finish(si, SQLITE_OK);
	int rc = real_sqlite3_reset(st);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int sqlite3_finalize(sqlite3_stmt *st)
{
	DBP_REAL(sqlite3_finalize, SQLITE_MISUSE);
	if (!st || !dbp_hook_enter(DBP_SHIM_SQLITE)) {
		/* Still forget it: the address will be reused for another statement. */
		if (st && __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_NOT_READY)
			dbp_ptrmap_del(&stmts, st);
		return real_sqlite3_finalize(st);
	}
	struct stmt_info *si = stmt_find(st);
	if (si && si->active)
		stmt_finish(si, SQLITE_OK);
	int saved = errno;
	dbp_ptrmap_del(&stmts, st);
	tls_last_stmt = NULL;
	errno = saved;
	int rc = real_sqlite3_finalize(st);
	dbp_hook_leave();
	return rc;
}

/* Forgets db; a transaction it has open is copied to *open (returns 1): the caller records
 * it as rolled back once the connection is really closed. */
static int forget_db(sqlite3 *db, struct dbp_tconn *open)
{
	int had = 0;
	if (db && __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_NOT_READY) {
		int saved = errno;
		struct db_info *di = dbp_ptrmap_get(&dbs, db);
		if (di && di->tc.txn.open) {
			*open = di->tc;
			had = 1;
		}
		dbp_ptrmap_del(&dbs, db);
		errno = saved;
	}
	return had;
}

/* Closing rolled back the transaction that was open. */
static void txn_gone(struct dbp_tconn *tc)
{
	int saved = errno;
	if (dbp_hook_enter(DBP_SHIM_SQLITE)) {
		dbp_ring_conn_gone(tc);
		dbp_hook_leave();
	}
	errno = saved;
}

DBP_EXPORT int sqlite3_close(sqlite3 *db)
{
	DBP_REAL(sqlite3_close, SQLITE_MISUSE);
	/* Forgotten first: once closed, the address can be another thread's new connection. A
	 * close that fails (SQLITE_BUSY) leaves a connection we simply learn again, its
	 * transaction still open. */
	struct dbp_tconn open;
	int had = forget_db(db, &open);
	int rc = real_sqlite3_close(db);
	if (had && rc == SQLITE_OK)
		txn_gone(&open);
	return rc;
}

DBP_EXPORT int sqlite3_close_v2(sqlite3 *db)
{
	DBP_REAL(sqlite3_close_v2, SQLITE_MISUSE);
	struct dbp_tconn open;
	int had = forget_db(db, &open); /* the handle is a zombie from here on, whatever the result */
	int rc = real_sqlite3_close_v2(db);
	if (had)
		txn_gone(&open);
	return rc;
}

/* ---- tracing: sqlite3_exec runs its statements inside libsqlite3, past our hooks ----------- */

/* The program's own trace callbacks are noted so that exec never takes their place. */
static void note_app_trace(sqlite3 *db, int bit, int on)
{
	/* Noted even before the agent is armed: exec must never replace a callback the program
	 * installed early. */
	if (!db || __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) == DBP_ST_DISABLED)
		return;
	int saved = errno;
	struct db_info *di = dbp_ptrmap_get(&dbs, db);
	if (!di)
		di = dbp_ptrmap_put(&dbs, db);
	if (di)
		di->app_traces = on ? di->app_traces | bit : di->app_traces & ~bit;
	errno = saved;
}

DBP_EXPORT int sqlite3_trace_v2(sqlite3 *db, unsigned mask,
				int (*cb)(unsigned, void *, void *, void *), void *ctx)
{
	DBP_REAL(sqlite3_trace_v2, SQLITE_MISUSE);
	/* trace_v2 replaces the legacy trace and profile callbacks too. */
	note_app_trace(db, 7, 0);
	note_app_trace(db, 1, mask && cb);
	return real_sqlite3_trace_v2(db, mask, cb, ctx);
}

DBP_EXPORT void *sqlite3_trace(sqlite3 *db, void (*cb)(void *, const char *), void *ctx)
{
	DBP_REAL(sqlite3_trace, NULL);
	note_app_trace(db, 7, 0);
	note_app_trace(db, 2, cb != NULL);
	return real_sqlite3_trace(db, cb, ctx);
}

DBP_EXPORT void *sqlite3_profile(sqlite3 *db, void (*cb)(void *, const char *, sqlite3_uint64),
				 void *ctx)
{
	DBP_REAL(sqlite3_profile, NULL);
	note_app_trace(db, 4, cb != NULL);
	return real_sqlite3_profile(db, cb, ctx);
}

/* One sqlite3_exec in progress on this thread. Statements are seen through SQLITE_TRACE_STMT
 * (first step), _ROW and _PROFILE (completion, also on error or finalize). */
struct exec_ctx {
	sqlite3 *db;
	const char *sql;
	sqlite3_callback app_cb;
	void *app_arg;
	int in_app_cb;     /* statements the program runs from its callback are its own */
	sqlite3_stmt *cur; /* statement between STMT and PROFILE */
	uint64_t t0, rows;
	struct dbp_rec done; /* last completed statement, success not yet known */
	int have_done;
	unsigned completed; /* statements that reached PROFILE */
	uint64_t t_start;
};

static DBP_TLS struct exec_ctx *tls_exec;

static void exec_emit_done(struct exec_ctx *x, int rc)
{
	if (!x->have_done)
		return;
	if (rc != SQLITE_OK) {
		x->done.flags = DBP_CALL_ERROR | txn_left_open(x->done.query, x->db);
		x->done.err = error_of(x->db, rc);
		x->done.affected = 0;
	}
	dbp_ring_push_tc(&x->done, tconn_of(x->db));
	x->have_done = 0;
}

static int exec_trace(unsigned type, void *ctx, void *p, void *xarg)
{
	struct exec_ctx *x = ctx;
	/* Another thread's statement on a shared connection, traced before our exec took the
	 * connection's mutex or after it let go: that thread's own hooks record it. */
	if (tls_exec != x || x->in_app_cb)
		return 0;
	sqlite3_stmt *st = p;
	(void)xarg;
	if (type == SQLITE_TRACE_STMT) {
		/* The statement already running: a trigger's sub-program, or a re-prepare after a
		 * schema change. Either way part of the same call. */
		if (st == x->cur)
			return 0;
		exec_emit_done(x, SQLITE_OK); /* a next statement started: the last one succeeded */
		x->cur = st;
		x->rows = 0;
		x->t0 = dbp_ticks();
	} else if (type == SQLITE_TRACE_ROW) {
		if (st == x->cur)
			x->rows++;
	} else if (type == SQLITE_TRACE_PROFILE && st == x->cur) {
		uint64_t t1 = dbp_ticks();
		const char *sql = real_sqlite3_sql ? real_sqlite3_sql(st) : NULL;
		x->done = (struct dbp_rec){
			.query = dbp_query_get(sql ? sql : "", sql ? strlen(sql) : 0),
			.target = namespace_of(x->db),
			.t0 = x->t0,
			.dur = t1 - x->t0,
			.rows = x->rows,
			.db_system = DBP_DB_SQLITE,
		};
		if (real_sqlite3_stmt_readonly && !real_sqlite3_stmt_readonly(st) &&
		    real_sqlite3_changes)
			x->done.affected = (uint64_t)real_sqlite3_changes(x->db);
		x->have_done = 1;
		x->cur = NULL;
		x->completed++;
	}
	return 0;
}

static int exec_row(void *arg, int n, char **vals, char **names)
{
	struct exec_ctx *x = arg;
	/* The callback is the program's code: what it runs is recorded as its own calls. */
	unsigned depth = dbp_tls_depth;
	struct exec_ctx *outer = tls_exec;
	x->in_app_cb = 1;
	dbp_tls_depth = 0;
	int rc = x->app_cb(x->app_arg, n, vals, names);
	dbp_tls_depth = depth;
	tls_exec = outer;
	x->in_app_cb = 0;
	return rc;
}

/* The k-th (0-based) non-empty statement of the script, as SQLite would split it. */
static const char *nth_statement(const char *sql, unsigned k, size_t *len)
{
	size_t total = strlen(sql), off = 0;
	while (off < total) {
		size_t n = sqlnorm_stmt_len(sql + off, total - off);
		struct sqlnorm_info ni;
		char *norm = sqlnorm(sql + off, n, &ni);
		int empty = norm && (ni.len == 0 || (ni.len == 1 && norm[0] == ';'));
		free(norm);
		if (!empty) {
			if (k == 0) {
				*len = n;
				return sql + off;
			}
			k--;
		}
		off += n;
	}
	return NULL;
}

/* exec stops at the first error. Three cases: a statement started and never completed (the
 * callback aborted it, or it failed where exec finalizes it without a PROFILE event); the last
 * completed statement failed; or the next one failed to prepare (no trace event at all). A
 * prepare error is almost always plain SQLITE_ERROR (syntax, missing table), which a finished
 * statement rarely returns, so that code with a statement left in the script means the latter. */
static void exec_settle(struct exec_ctx *x, int rc, uint64_t t_end)
{
	if (rc == SQLITE_OK) {
		exec_emit_done(x, SQLITE_OK);
		return;
	}
	size_t len = 0;
	const char *failed = NULL;
	uint64_t t0 = x->have_done ? x->done.t0 + x->done.dur : x->t_start;
	uint64_t rows = 0;
	if (x->cur) {
		/* Its handle may be finalized already: the text comes from the script. */
		failed = nth_statement(x->sql, x->completed, &len);
		t0 = x->t0;
		rows = x->rows;
	} else if ((rc & 0xff) == SQLITE_ERROR || !x->have_done) {
		failed = nth_statement(x->sql, x->completed, &len);
	}
	if (!failed) {
		exec_emit_done(x, rc);
		return;
	}
	exec_emit_done(x, SQLITE_OK);
	struct dbp_rec r = {
		.query = dbp_query_get(failed, len),
		.target = namespace_of(x->db),
		.err = error_of(x->db, rc),
		.t0 = t0 < t_end ? t0 : t_end,
		.rows = rows,
		.db_system = DBP_DB_SQLITE,
	};
	r.flags = DBP_CALL_ERROR | txn_left_open(r.query, x->db);
	r.dur = t_end - r.t0;
	dbp_ring_push_tc(&r, tconn_of(x->db));
}

DBP_EXPORT int sqlite3_exec(sqlite3 *db, const char *sql, sqlite3_callback cb, void *arg,
			    char **errmsg)
{
	DBP_REAL(sqlite3_exec, SQLITE_ERROR);
	if (!db || !sql || !dbp_hook_enter(DBP_SHIM_SQLITE))
		return real_sqlite3_exec(db, sql, cb, arg, errmsg);
	struct db_info *di = dbp_ptrmap_get(&dbs, db);
	if (tls_exec || (di && di->app_traces) || !real_sqlite3_trace_v2) {
		/* Tracing is the program's (or an outer exec's): the script is one call. */
		uint64_t t0 = dbp_ticks();
		int rc = real_sqlite3_exec(db, sql, cb, arg, errmsg);
		uint64_t t1 = dbp_ticks();
		int saved = errno;
		struct dbp_rec r = {
			.query = dbp_query_get(sql, strlen(sql)),
			.target = namespace_of(db),
			.t0 = t0,
			.dur = t1 - t0,
			.db_system = DBP_DB_SQLITE,
		};
		if (rc != SQLITE_OK) {
			r.flags = DBP_CALL_ERROR;
			r.err = error_of(db, rc);
		}
		dbp_ring_push_tc(&r, tconn_of(db));
		errno = saved;
		dbp_hook_leave();
		return rc;
	}
	struct exec_ctx x = {
		.db = db, .sql = sql, .app_cb = cb, .app_arg = arg, .t_start = dbp_ticks()
	};
	tls_exec = &x;
	real_sqlite3_trace_v2(db, SQLITE_TRACE_STMT | SQLITE_TRACE_ROW | SQLITE_TRACE_PROFILE,
			      exec_trace, &x);
	int rc = real_sqlite3_exec(db, sql, cb ? exec_row : NULL, cb ? &x : NULL, errmsg);
	uint64_t t_end = dbp_ticks();
	int saved = errno;
	/* If the program's callback installed a trace of its own meanwhile, it replaced ours:
	 * leave it be. */
	di = dbp_ptrmap_get(&dbs, db);
	if (!(di && di->app_traces))
		real_sqlite3_trace_v2(db, 0, NULL, NULL);
	tls_exec = NULL;
	exec_settle(&x, rc, t_end);
	errno = saved;
	dbp_hook_leave();
	return rc;
}
