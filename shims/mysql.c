/* mysql shim: the MySQL/MariaDB client API hook table and wrappers, by symbol name, so one
 * libagent.so serves programs linked with libmariadb or with MySQL's libmysqlclient. One record
 * per statement execution. */
#include <errno.h>
#include <mysql.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "config.h"
#include "clock.h"
#include "intern.h"
#include "my_state.h"
#include "ptrmap.h"
#include "hook.h"
#include "resolve.h"
#include "ring.h"
#include "trace.h"

/* ---- the real functions ---------------------------------------------------------------- */

static const char *const sonames[] = { "libmariadb.so.3", "libmysqlclient.so.21",
				       "libmysqlclient.so.18", "libmariadbclient.so.18", NULL };

/* MariaDB's one-round-trip prepare + execute; declared here so MySQL's headers build too. */
int STDCALL mariadb_stmt_execute_direct(MYSQL_STMT *stmt, const char *q, size_t len);

#define REAL_FUNCS(X)                                                                      \
	X(MYSQL *, mysql_real_connect,                                                     \
	  (MYSQL *, const char *, const char *, const char *, const char *, unsigned int,  \
	   const char *, unsigned long))                                                   \
	X(void, mysql_close, (MYSQL *))                                                    \
	X(int, mysql_select_db, (MYSQL *, const char *))                                   \
	X(my_bool, mysql_change_user, (MYSQL *, const char *, const char *, const char *)) \
	X(int, mysql_query, (MYSQL *, const char *))                                       \
	X(int, mysql_real_query, (MYSQL *, const char *, unsigned long))                   \
	X(int, mysql_send_query, (MYSQL *, const char *, unsigned long))                   \
	X(my_bool, mysql_read_query_result, (MYSQL *))                                     \
	X(MYSQL_RES *, mysql_store_result, (MYSQL *))                                      \
	X(MYSQL_RES *, mysql_use_result, (MYSQL *))                                        \
	X(MYSQL_ROW, mysql_fetch_row, (MYSQL_RES *))                                       \
	X(void, mysql_free_result, (MYSQL_RES *))                                          \
	X(int, mysql_next_result, (MYSQL *))                                               \
	X(MYSQL_STMT *, mysql_stmt_init, (MYSQL *))                                        \
	X(int, mysql_stmt_prepare, (MYSQL_STMT *, const char *, unsigned long))            \
	X(int, mysql_stmt_execute, (MYSQL_STMT *))                                         \
	X(int, mariadb_stmt_execute_direct, (MYSQL_STMT *, const char *, size_t))          \
	X(int, mysql_stmt_store_result, (MYSQL_STMT *))                                    \
	X(int, mysql_stmt_fetch, (MYSQL_STMT *))                                           \
	X(my_bool, mysql_stmt_free_result, (MYSQL_STMT *))                                 \
	X(my_bool, mysql_stmt_reset, (MYSQL_STMT *))                                       \
	X(my_bool, mysql_stmt_close, (MYSQL_STMT *))                                       \
	X(unsigned int, mysql_field_count, (MYSQL *))                                      \
	X(my_ulonglong, mysql_affected_rows, (MYSQL *))                                    \
	X(my_ulonglong, mysql_num_rows, (MYSQL_RES *))                                     \
	X(my_bool, mysql_more_results, (MYSQL *))                                          \
	X(unsigned int, mysql_errno, (MYSQL *))                                            \
	X(char *, mysql_get_server_info, (MYSQL *))                                        \
	X(unsigned int, mysql_stmt_errno, (MYSQL_STMT *))                                  \
	X(unsigned int, mysql_stmt_field_count, (MYSQL_STMT *))                            \
	X(unsigned long long, mysql_stmt_affected_rows, (MYSQL_STMT *))                    \
	X(unsigned long long, mysql_stmt_num_rows, (MYSQL_STMT *))

REAL_FUNCS(DBP_REAL_DECLARE)

DBP_REAL_RESOLVER(REAL_FUNCS, sonames)

/* ---- state ------------------------------------------------------------------------------- */

static struct dbp_ptrmap conns = DBP_PTRMAP_INIT(struct my_conn);
static struct dbp_ptrmap stmts = DBP_PTRMAP_INIT(struct my_stmt);
static struct dbp_ptrmap results = DBP_PTRMAP_INIT(struct my_res);

/* Result sets being read row by row, process-wide: while there are none, mysql_fetch_row (a
 * call per row) looks nothing up. */
static unsigned long use_results;

static DBP_TLS MYSQL *tls_last_conn;
static DBP_TLS struct my_conn *tls_last_ci;
static DBP_TLS MYSQL_STMT *tls_last_stmt;
static DBP_TLS struct my_stmt *tls_last_si;

static struct my_conn *conn_get(MYSQL *m)
{
	struct my_conn *ci = tls_last_ci;
	if (DBP_LIKELY(tls_last_conn == m && ci && ci->hdr.key == m))
		return ci;
	/* Connected before we were armed: where to is unknown. Never reset if it merely moved
	 * between tables (a lock-free get can miss it then). */
	ci = dbp_ptrmap_get_or_put(&conns, m);
	if (ci && !ci->system)
		ci->system = DBP_DB_MYSQL;
	tls_last_conn = m;
	tls_last_ci = ci;
	return ci;
}

static struct my_stmt *stmt_get(MYSQL_STMT *st)
{
	struct my_stmt *si = tls_last_si;
	if (DBP_LIKELY(tls_last_stmt == st && si && si->hdr.key == st))
		return si;
	si = dbp_ptrmap_get_or_put(&stmts, st);
	tls_last_stmt = st;
	tls_last_si = si;
	return si;
}

static struct my_conn *stmt_conn(struct my_stmt *si);

/* dbp_hook_enter, and the connection's account for the socket writes the call makes: a
 * query's bytes go out in one call (mysql_real_query) and its record is made in another. */
static inline bool my_enter(MYSQL *m)
{
	if (!dbp_hook_enter(DBP_SHIM_MYSQL))
		return false;
	struct my_conn *ci = conn_get(m);
	if (ci)
		dbp_io_sink(&ci->io, ci->system);
	return true;
}

static inline bool my_stmt_enter(MYSQL_STMT *st)
{
	if (!dbp_hook_enter(DBP_SHIM_MYSQL))
		return false;
	struct my_stmt *si = stmt_get(st);
	struct my_conn *ci = si ? stmt_conn(si) : NULL;
	if (ci)
		dbp_io_sink(&ci->io, ci->system);
	return true;
}

static const struct dbp_target_ent *conn_target(struct my_conn *ci)
{
	if (!ci->target)
		ci->target = dbp_target_get(ci->ns, ci->server, ci->port);
	return ci->target;
}

static void set_namespace(struct my_conn *ci, const char *db)
{
	ci->ns = dbp_str_get(DBP_STR_NAMESPACE, db ? db : "", db ? strlen(db) : 0);
	ci->target = NULL;
}

/* error.type: the server's (or client library's) error number, 1146 or 2013. */
static const struct dbp_str_ent *error_num(unsigned n)
{
	char buf[16];
	int len = snprintf(buf, sizeof buf, "%u", n ? n : 2000 /* CR_UNKNOWN_ERROR */);
	return dbp_error_get(buf, (size_t)len);
}

static const struct dbp_str_ent *conn_error(MYSQL *m)
{
	return error_num(DBP_HAVE(mysql_errno) ? real_mysql_errno(m) : 0);
}

static void emit(struct my_conn *ci, const struct dbp_query_ent *q, uint64_t t0, uint64_t t1,
		 uint64_t rows, uint64_t affected, const struct dbp_str_ent *err)
{
	struct dbp_rec *r = dbp_ring_reserve();
	if (!r) {
		if (ci) /* no record: the ids must not go to the next one */
			ci->tc.pre.valid = 0;
		return;
	}
	r->query = q;
	r->target = ci ? conn_target(ci) : NULL;
	r->err = err;
	r->t0 = t0;
	r->dur = t1 > t0 ? t1 - t0 : 0;
	r->rows = rows;
	r->affected = affected;
	r->db_system = ci ? ci->system : DBP_DB_MYSQL;
	r->flags = err ? DBP_CALL_ERROR : 0;
	r->kind = DBP_RK_CALL;
	struct dbp_io io = dbp_io_take(ci ? &ci->io : NULL);
	r->io_bytes = io.bytes;
	r->io_ticks = io.ticks;
	dbp_ring_commit_tc(ci ? &ci->tc : NULL);
}

/* ---- text queries -------------------------------------------------------------------------- */

static const struct dbp_query_ent *part_query(struct my_conn *ci)
{
	return dbp_parts_at(&ci->parts, ci->cur < ci->parts.n ? ci->cur : ci->parts.n - 1)->q;
}

/* The current statement ended: its record, and the next one's clock starts. Results beyond
 * the last statement of the string (a CALL's result sets, then its status) add up into that
 * statement's one record, made at the last of them. */
static void part_emit(struct my_conn *ci, uint64_t rows, uint64_t affected,
		      const struct dbp_str_ent *err);

static void part_done(struct my_conn *ci, uint64_t rows, uint64_t affected,
		      const struct dbp_str_ent *err)
{
	MYSQL *m = (MYSQL *)ci->hdr.key;
	if (!err && ci->cur + 1 >= ci->parts.n && DBP_HAVE(mysql_more_results) &&
	    real_mysql_more_results(m)) {
		ci->acc_rows += rows;
		ci->acc_affected += affected;
		ci->folding = 1;
		ci->awaiting = 0;
		ci->rows = 0;
		return;
	}
	part_emit(ci, rows, affected, err);
}

/* The statement's record, with whatever folded into it. */
static void part_emit(struct my_conn *ci, uint64_t rows, uint64_t affected,
		      const struct dbp_str_ent *err)
{
	rows += ci->acc_rows;
	affected += ci->acc_affected;
	ci->acc_rows = ci->acc_affected = 0;
	ci->folding = 0;
	uint64_t t1 = dbp_ticks();
	emit(ci, part_query(ci), ci->t0, t1, rows, affected, err);
	struct dbp_part *pt = dbp_parts_at(&ci->parts, ci->cur < ci->parts.n ? ci->cur : 0);
	if (!err && pt->op == DBP_PART_USE) /* USE db: what follows runs there */
		set_namespace(ci, pt->name);
	ci->t0 = t1;
	ci->awaiting = 0;
	ci->rows = 0;
	if (ci->cur + 1 < ci->parts.n)
		ci->cur++;
}

static void query_end(struct my_conn *ci)
{
	ci->active = 0;
	ci->awaiting = 0;
	ci->folding = 0;
	ci->acc_rows = ci->acc_affected = 0;
	ci->use_res = NULL;
}

/* A statement's results are all in: its record; the query is over unless more follow. */
static void statement_over(MYSQL *m, struct my_conn *ci, uint64_t rows, uint64_t affected,
			   const struct dbp_str_ent *err)
{
	part_done(ci, rows, affected, err);
	if (!(DBP_HAVE(mysql_more_results) && real_mysql_more_results(m)))
		query_end(ci);
}

/* A statement's result is ready (the query returned, or mysql_next_result moved on): a
 * statement without a result set is over; one with rows waits for them to be read. */
static void result_ready(MYSQL *m, struct my_conn *ci)
{
	unsigned fields = DBP_HAVE(mysql_field_count) ? real_mysql_field_count(m) : 0;
	if (fields) {
		ci->awaiting = 1;
		ci->rows = 0;
		return;
	}
	uint64_t affected = DBP_HAVE(mysql_affected_rows) ? real_mysql_affected_rows(m) : 0;
	statement_over(m, ci, 0, affected == (uint64_t)-1 ? 0 : affected, NULL);
}

/* A statement still unread when the next query goes out: it ended, with what was read. */
static void abandon(struct my_conn *ci)
{
	/* A CALL whose final status was never read is recorded with the results it gave. */
	if (ci->active && (ci->awaiting || ci->folding))
		part_emit(ci, ci->rows, 0, NULL);
	query_end(ci);
}

static void query_start(MYSQL *m, const char *q, size_t len, uint64_t t0)
{
	int saved = errno;
	struct my_conn *ci = conn_get(m);
	if (ci) {
		abandon(ci);
		dbp_parts_free(&ci->parts);
		if (dbp_parts_set(&ci->parts, q, len, 1, DBP_DIALECT_MYSQL, dbp_note_mysql_use) ==
		    0) {
			ci->active = 1;
			ci->cur = 0;
			ci->t0 = t0;
		}
	}
	errno = saved;
}

/* The first statement's response arrived (rc: the call's own result, 0 on success). */
static void query_answered(MYSQL *m, int failed)
{
	int saved = errno;
	struct my_conn *ci = conn_get(m);
	if (ci && ci->active) {
		if (failed) {
			part_done(ci, 0, 0, conn_error(m));
			query_end(ci);
		} else {
			result_ready(m, ci);
		}
	}
	errno = saved;
}

/* libmariadb takes a length of (unsigned long)-1 as "NUL-terminated". */
static size_t text_len(const char *q, unsigned long len)
{
	return len == (unsigned long)-1 ? strlen(q) : len;
}

/* DBPROBE_SQLCOMMENT: the connection's state the comment's ids come from, NULL when nothing
 * is added. The record keeps the program's own text. */
static const struct dbp_tconn *comment_tc(MYSQL *m)
{
	if (DBP_LIKELY(!dbp_cfg.sqlcomment))
		return NULL;
	int saved = errno; /* a first sight allocates */
	struct my_conn *ci = conn_get(m);
	errno = saved;
	return ci ? &ci->tc : NULL;
}

/* The statement now in progress carried pre's ids: its first record takes them. Set only
 * after query_start, which may first record an earlier statement left unread. */
static void pre_give(MYSQL *m, const struct dbp_tpre *pre)
{
	if (DBP_LIKELY(!pre->valid))
		return;
	struct my_conn *ci = conn_get(m);
	if (ci && ci->active)
		ci->tc.pre = *pre;
}

/* The statement left: its bookkeeping, under the program's own text. */
static void query_sent(MYSQL *m, const char *q, size_t n, uint64_t t0, struct dbp_sqlcomment *o)
{
	dbp_sqlcomment_free(o);
	query_start(m, q, n, t0);
	pre_give(m, &o->pre);
}

static int real_query(MYSQL *m, const char *q, unsigned long len, int plain)
{
	size_t n = plain ? strlen(q) : text_len(q, len);
	struct dbp_sqlcomment o;
	dbp_sqlcomment_make(&o, comment_tc(m), q, n);
	uint64_t t0 = dbp_ticks();
	int rc = !o.text ? (plain ? real_mysql_query(m, q) : real_mysql_real_query(m, q, len))
		 : plain ? real_mysql_query(m, o.text)
			 : real_mysql_real_query(m, o.text, (unsigned long)o.len);
	query_sent(m, q, n, t0, &o);
	query_answered(m, rc != 0);
	return rc;
}

DBP_EXPORT int STDCALL mysql_query(MYSQL *m, const char *q)
{
	DBP_REAL(mysql_query, 1);
	if (!m || !q || !my_enter(m))
		return real_mysql_query(m, q);
	int rc = real_query(m, q, 0, 1);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int STDCALL mysql_real_query(MYSQL *m, const char *q, unsigned long len)
{
	DBP_REAL(mysql_real_query, 1);
	if (!m || !q || !my_enter(m))
		return real_mysql_real_query(m, q, len);
	int rc = real_query(m, q, len, 0);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int STDCALL mysql_send_query(MYSQL *m, const char *q, unsigned long len)
{
	DBP_REAL(mysql_send_query, 1);
	if (!m || !q || !my_enter(m))
		return real_mysql_send_query(m, q, len);
	size_t n = text_len(q, len);
	struct dbp_sqlcomment o;
	dbp_sqlcomment_make(&o, comment_tc(m), q, n);
	uint64_t t0 = dbp_ticks();
	int rc = o.text ? real_mysql_send_query(m, o.text, (unsigned long)o.len)
			: real_mysql_send_query(m, q, len);
	query_sent(m, q, n, t0, &o);
	if (rc != 0) /* it never left: that is the call's failure */
		query_answered(m, 1);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT my_bool STDCALL mysql_read_query_result(MYSQL *m)
{
	DBP_REAL(mysql_read_query_result, 1);
	if (!m || !my_enter(m))
		return real_mysql_read_query_result(m);
	my_bool rc = real_mysql_read_query_result(m);
	query_answered(m, rc != 0);
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT MYSQL_RES *STDCALL mysql_store_result(MYSQL *m)
{
	DBP_REAL(mysql_store_result, NULL);
	if (!m || !my_enter(m))
		return real_mysql_store_result(m);
	MYSQL_RES *res = real_mysql_store_result(m);
	int saved = errno;
	struct my_conn *ci = conn_get(m);
	if (ci && ci->active && ci->awaiting) {
		if (res)
			statement_over(m, ci,
				       DBP_HAVE(mysql_num_rows) ? real_mysql_num_rows(res) : 0, 0,
				       NULL);
		else
			statement_over(m, ci, 0, 0, conn_error(m));
	}
	errno = saved;
	dbp_hook_leave();
	return res;
}

DBP_EXPORT MYSQL_RES *STDCALL mysql_use_result(MYSQL *m)
{
	DBP_REAL(mysql_use_result, NULL);
	if (!m || !my_enter(m))
		return real_mysql_use_result(m);
	MYSQL_RES *res = real_mysql_use_result(m);
	int saved = errno;
	struct my_conn *ci = conn_get(m);
	if (ci && ci->active && ci->awaiting) {
		struct my_res *ri = res ? dbp_ptrmap_put(&results, res) : NULL;
		if (ri) {
			ri->conn = m;
			ci->use_res = res;
			ci->rows = 0;
			__atomic_add_fetch(&use_results, 1, __ATOMIC_RELAXED);
		} else if (!res) {
			part_done(ci, 0, 0, conn_error(m));
			query_end(ci);
		}
	}
	errno = saved;
	dbp_hook_leave();
	return res;
}

/* A row-by-row result ended (last row read, or freed): its statement's record. */
static void use_result_end(MYSQL_RES *res, int read_all)
{
	struct my_res *ri = dbp_ptrmap_get(&results, res);
	if (!ri)
		return;
	MYSQL *m = (MYSQL *)ri->conn;
	dbp_ptrmap_del(&results, res);
	__atomic_sub_fetch(&use_results, 1, __ATOMIC_RELAXED);
	struct my_conn *ci = conn_get(m);
	if (!ci || ci->use_res != res)
		return;
	ci->use_res = NULL;
	unsigned e = read_all && DBP_HAVE(mysql_errno) ? real_mysql_errno(m) : 0;
	statement_over(m, ci, ci->rows, 0, e ? error_num(e) : NULL);
}

DBP_EXPORT MYSQL_ROW STDCALL mysql_fetch_row(MYSQL_RES *res)
{
	DBP_REAL(mysql_fetch_row, NULL);
	if (DBP_LIKELY(!__atomic_load_n(&use_results, __ATOMIC_RELAXED)) || !res ||
	    !dbp_hook_enter(DBP_SHIM_MYSQL))
		return real_mysql_fetch_row(res);
	MYSQL_ROW row = real_mysql_fetch_row(res);
	int saved = errno;
	struct my_res *ri = dbp_ptrmap_get(&results, res);
	if (ri) {
		struct my_conn *ci = conn_get((MYSQL *)ri->conn);
		if (row && ci)
			ci->rows++;
		else if (!row)
			use_result_end(res, 1);
	}
	errno = saved;
	dbp_hook_leave();
	return row;
}

DBP_EXPORT void STDCALL mysql_free_result(MYSQL_RES *res)
{
	DBP_REAL(mysql_free_result, );
	/* Before the real free: the address may then be another result's. */
	if (res && __atomic_load_n(&use_results, __ATOMIC_RELAXED) &&
	    dbp_hook_enter(DBP_SHIM_MYSQL)) {
		int saved = errno;
		use_result_end(res, 0);
		errno = saved;
		dbp_hook_leave();
	}
	real_mysql_free_result(res);
}

DBP_EXPORT int STDCALL mysql_next_result(MYSQL *m)
{
	DBP_REAL(mysql_next_result, -1);
	if (!m || !my_enter(m))
		return real_mysql_next_result(m);
	int rc = real_mysql_next_result(m);
	int saved = errno;
	struct my_conn *ci = conn_get(m);
	/* 2014, commands out of sync: the program's call failed (its result is unread), not the
	 * next statement; everything stays as it was. */
	if (rc > 0 && DBP_HAVE(mysql_errno) && real_mysql_errno(m) == 2014)
		ci = NULL;
	if (ci && ci->active) {
		if (ci->awaiting) /* moved on without reading: what was read is the record */
			part_done(ci, ci->rows, 0, NULL);
		if (rc == 0)
			result_ready(m, ci);
		else if (rc > 0) {
			part_done(ci, 0, 0, conn_error(m));
			query_end(ci);
		} else {
			query_end(ci);
		}
	}
	errno = saved;
	dbp_hook_leave();
	return rc;
}

/* ---- connections ---------------------------------------------------------------------------- */

DBP_EXPORT MYSQL *STDCALL mysql_real_connect(MYSQL *m, const char *host, const char *user,
					     const char *passwd, const char *db, unsigned int port,
					     const char *unix_socket, unsigned long flags)
{
	DBP_REAL(mysql_real_connect, NULL);
	if (!m || !dbp_hook_enter(DBP_SHIM_MYSQL))
		return real_mysql_real_connect(m, host, user, passwd, db, port, unix_socket, flags);
	uint64_t t0 = dbp_ticks();
	MYSQL *ret = real_mysql_real_connect(m, host, user, passwd, db, port, unix_socket, flags);
	uint64_t t1 = dbp_ticks();
	int saved = errno;
	struct my_conn *ci = dbp_ptrmap_get(&conns, m);
	if (ci)
		my_conn_clear(ci);
	else
		ci = dbp_ptrmap_put(&conns, m);
	tls_last_conn = NULL;
	if (ci) {
		/* A local connection goes through the Unix socket, whose path is the address. */
		int local = !host || !strcmp(host, "localhost");
		const char *addr = host;
		if (local)
			addr = unix_socket ? unix_socket : getenv("MYSQL_UNIX_PORT");
		if (!addr)
			addr = "localhost";
		ci->server = dbp_str_get(DBP_STR_SERVER, addr, strlen(addr));
		ci->port = (uint16_t)(local ? 0 : port ? port : 3306);
		set_namespace(ci, db);
		const char *ver = ret && DBP_HAVE(mysql_get_server_info)
					  ? real_mysql_get_server_info(m)
					  : NULL;
		ci->system = ver && strstr(ver, "MariaDB") ? DBP_DB_MARIADB : DBP_DB_MYSQL;
		struct dbp_rec r = {
			.query = &dbp_query_none,
			.target = conn_target(ci),
			.err = ret ? NULL : conn_error(m),
			.t0 = t0,
			.dur = t1 - t0,
			.db_system = ci->system,
			.flags = DBP_CALL_CONNECT | (ret ? 0 : DBP_CALL_ERROR),
		};
		struct dbp_io io = dbp_io_take(NULL);
		r.io_bytes = io.bytes;
		r.io_ticks = io.ticks;
		dbp_ring_push(&r);
	}
	errno = saved;
	dbp_hook_leave();
	return ret;
}

DBP_EXPORT int STDCALL mysql_select_db(MYSQL *m, const char *db)
{
	DBP_REAL(mysql_select_db, 1);
	if (!m || !my_enter(m))
		return real_mysql_select_db(m, db);
	int rc = real_mysql_select_db(m, db);
	if (rc == 0) {
		int saved = errno;
		struct my_conn *ci = conn_get(m);
		if (ci)
			set_namespace(ci, db);
		errno = saved;
	}
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT my_bool STDCALL mysql_change_user(MYSQL *m, const char *user, const char *passwd,
					     const char *db)
{
	DBP_REAL(mysql_change_user, 1);
	if (!m || !dbp_hook_enter(DBP_SHIM_MYSQL))
		return real_mysql_change_user(m, user, passwd, db);
	my_bool rc = real_mysql_change_user(m, user, passwd, db);
	if (rc == 0) {
		int saved = errno;
		struct my_conn *ci = conn_get(m);
		if (ci)
			set_namespace(ci, db);
		errno = saved;
	}
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT void STDCALL mysql_close(MYSQL *m)
{
	DBP_REAL(mysql_close, );
	/* Forgotten first: once freed, the address can be another thread's new connection. A
	 * close inside the library's own call (auto-reconnect closes and reopens the same handle)
	 * is not the program's: the handle lives on. */
	uint8_t sys = DBP_DB_MYSQL;
	if (m && !dbp_tls_depth &&
	    __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_NOT_READY) {
		int saved = errno;
		struct my_conn *ci = dbp_ptrmap_get(&conns, m);
		if (ci && ((ci->active && (ci->awaiting || ci->folding)) || ci->tc.txn.open) &&
		    dbp_hook_enter(DBP_SHIM_MYSQL)) {
			if (ci->active && (ci->awaiting || ci->folding))
				abandon(ci); /* closed with a statement's results unread */
			dbp_ring_conn_gone(&ci->tc);
			dbp_hook_leave();
		}
		if (ci) {
			sys = ci->system;
			if (ci->use_res) {
				dbp_ptrmap_del(&results, ci->use_res);
				__atomic_sub_fetch(&use_results, 1, __ATOMIC_RELAXED);
			}
			my_conn_clear(ci);
			dbp_ptrmap_del(&conns, m);
		}
		tls_last_conn = NULL;
		errno = saved;
	}
	/* Its COM_QUIT is the connection's traffic too (socket statistics). */
	if (m && dbp_hook_enter(DBP_SHIM_MYSQL)) {
		dbp_io_sink(NULL, sys);
		real_mysql_close(m);
		dbp_hook_leave();
		return;
	}
	real_mysql_close(m);
}

/* ---- prepared statements ------------------------------------------------------------------- */

static const struct dbp_str_ent *stmt_error(MYSQL_STMT *st)
{
	return error_num(DBP_HAVE(mysql_stmt_errno) ? real_mysql_stmt_errno(st) : 0);
}

static struct my_conn *stmt_conn(struct my_stmt *si)
{
	return si->conn ? conn_get((MYSQL *)si->conn) : NULL;
}

/* An execution ends: all rows read, an error, or the program moved on. */
static void stmt_done(struct my_stmt *si, uint64_t rows, uint64_t affected,
		      const struct dbp_str_ent *err)
{
	si->active = 0;
	if (!si->q)
		return; /* prepared before we were armed: its text is unknown */
	emit(stmt_conn(si), si->q, si->t0, dbp_ticks(), rows, affected, err);
}

DBP_EXPORT MYSQL_STMT *STDCALL mysql_stmt_init(MYSQL *m)
{
	DBP_REAL(mysql_stmt_init, NULL);
	if (!m || !dbp_hook_enter(DBP_SHIM_MYSQL))
		return real_mysql_stmt_init(m);
	MYSQL_STMT *st = real_mysql_stmt_init(m);
	if (st) {
		int saved = errno;
		struct my_stmt *si = dbp_ptrmap_put(&stmts, st);
		if (si)
			si->conn = m;
		tls_last_stmt = NULL;
		errno = saved;
	}
	dbp_hook_leave();
	return st;
}

DBP_EXPORT int STDCALL mysql_stmt_prepare(MYSQL_STMT *st, const char *q, unsigned long len)
{
	DBP_REAL(mysql_stmt_prepare, 1);
	if (!st || !q || !my_stmt_enter(st))
		return real_mysql_stmt_prepare(st, q, len);
	uint64_t t0 = dbp_ticks();
	int rc = real_mysql_stmt_prepare(st, q, len);
	int saved = errno;
	struct my_stmt *si = stmt_get(st);
	if (si) {
		si->active = 0;
		si->q = dbp_query_get(q, text_len(q, len));
		/* A failed prepare is one failed call: that is where syntax errors show. */
		if (rc != 0) {
			si->t0 = t0;
			stmt_done(si, 0, 0, stmt_error(st));
			si->q = NULL;
		}
	}
	errno = saved;
	dbp_hook_leave();
	return rc;
}

static void stmt_executed(MYSQL_STMT *st, struct my_stmt *si, int rc)
{
	if (rc != 0) {
		stmt_done(si, 0, 0, stmt_error(st));
		return;
	}
	unsigned fields = DBP_HAVE(mysql_stmt_field_count) ? real_mysql_stmt_field_count(st) : 0;
	if (fields) {
		si->active = 1; /* rows come through store_result / fetch */
		si->rows = 0;
		return;
	}
	uint64_t affected =
		DBP_HAVE(mysql_stmt_affected_rows) ? real_mysql_stmt_affected_rows(st) : 0;
	stmt_done(si, 0, affected == (uint64_t)-1 ? 0 : affected, NULL);
}

DBP_EXPORT int STDCALL mysql_stmt_execute(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_execute, 1);
	if (!st || !my_stmt_enter(st))
		return real_mysql_stmt_execute(st);
	struct my_stmt *si = stmt_get(st);
	if (si && si->active) {
		int saved = errno;
		stmt_done(si, si->rows, 0, NULL); /* the previous execution's rows end here */
		errno = saved;
	}
	uint64_t t0 = dbp_ticks();
	int rc = real_mysql_stmt_execute(st);
	if (si) {
		int saved = errno;
		si->t0 = t0;
		stmt_executed(st, si, rc);
		errno = saved;
	}
	dbp_hook_leave();
	return rc;
}

/* It prepares and executes in one round trip, calling mysql_stmt_execute itself (at depth,
 * so not recorded twice): the text is set before, the execution timed around the whole. */
DBP_EXPORT int STDCALL mariadb_stmt_execute_direct(MYSQL_STMT *st, const char *q, size_t len)
{
	DBP_REAL(mariadb_stmt_execute_direct, 1);
	if (!st || !q || !my_stmt_enter(st))
		return real_mariadb_stmt_execute_direct(st, q, len);
	struct my_stmt *si = stmt_get(st);
	if (si) {
		int saved = errno;
		if (si->active)
			stmt_done(si, si->rows, 0, NULL);
		/* (size_t)-1: a NUL-terminated text, as MariaDB allows */
		si->q = dbp_query_get(q, len == (size_t)-1 ? strlen(q) : len);
		errno = saved;
	}
	uint64_t t0 = dbp_ticks();
	int rc = real_mariadb_stmt_execute_direct(st, q, len);
	if (si) {
		int saved = errno;
		si->t0 = t0;
		stmt_executed(st, si, rc);
		errno = saved;
	}
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int STDCALL mysql_stmt_store_result(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_store_result, 1);
	if (!st || !my_stmt_enter(st))
		return real_mysql_stmt_store_result(st);
	int rc = real_mysql_stmt_store_result(st);
	int saved = errno;
	struct my_stmt *si = stmt_get(st);
	if (si && si->active) {
		if (rc == 0)
			stmt_done(si,
				  DBP_HAVE(mysql_stmt_num_rows) ? real_mysql_stmt_num_rows(st) : 0,
				  0, NULL);
		else
			stmt_done(si, 0, 0, stmt_error(st));
	}
	errno = saved;
	dbp_hook_leave();
	return rc;
}

DBP_EXPORT int STDCALL mysql_stmt_fetch(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_fetch, 1);
	if (!st || !my_stmt_enter(st))
		return real_mysql_stmt_fetch(st);
	int rc = real_mysql_stmt_fetch(st);
	struct my_stmt *si = stmt_get(st);
	if (si && si->active) {
		int saved = errno;
		if (rc == 0 || rc == MYSQL_DATA_TRUNCATED)
			si->rows++;
		else if (rc == MYSQL_NO_DATA)
			stmt_done(si, si->rows, 0, NULL);
		else
			stmt_done(si, si->rows, 0, stmt_error(st));
		errno = saved;
	}
	dbp_hook_leave();
	return rc;
}

/* Freeing, resetting or closing a statement with rows unread ends its execution there. */
static void stmt_settle(MYSQL_STMT *st, int forget)
{
	if (__atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) == DBP_ST_NOT_READY)
		return;
	int saved = errno;
	struct my_stmt *si = tls_last_stmt == st && tls_last_si && tls_last_si->hdr.key == st
				     ? tls_last_si
				     : dbp_ptrmap_get(&stmts, st);
	if (si && si->active && dbp_hook_enter(DBP_SHIM_MYSQL)) {
		stmt_done(si, si->rows, 0, NULL);
		dbp_hook_leave();
	}
	if (si && forget) {
		dbp_ptrmap_del(&stmts, st);
		tls_last_stmt = NULL;
	}
	errno = saved;
}

DBP_EXPORT my_bool STDCALL mysql_stmt_free_result(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_free_result, 1);
	if (st && !dbp_tls_depth)
		stmt_settle(st, 0);
	return real_mysql_stmt_free_result(st);
}

DBP_EXPORT my_bool STDCALL mysql_stmt_reset(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_reset, 1);
	if (st && !dbp_tls_depth)
		stmt_settle(st, 0);
	return real_mysql_stmt_reset(st);
}

DBP_EXPORT my_bool STDCALL mysql_stmt_close(MYSQL_STMT *st)
{
	DBP_REAL(mysql_stmt_close, 1);
	/* Forgotten first, whatever the depth: the address will be reused. */
	if (st)
		stmt_settle(st, 1);
	return real_mysql_stmt_close(st);
}
