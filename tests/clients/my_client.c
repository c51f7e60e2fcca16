/* my_client: a fixed MySQL/MariaDB client workload that goes through every way the classic
 * client API can send a statement, so a test can assert exactly what the agent recorded.
 * Usage: my_client SOCKET_PATH USER DB
 * It prints "my_client: ok" at the end and exits 0, or names the failed step on stderr and
 * exits 1. It drops and recreates its table first, so it can run again on the same database.
 * Only the classic API is used: it builds against libmariadb and MySQL's libmysqlclient alike.
 *
 * Statement executions per distinct text (mysql_stmt_prepare only prepares: not counted;
 * prepared executions count under the text they were prepared with; mysql_select_db sends no
 * statement text and mysql_stmt_reset executes nothing: neither is counted):
 *   DROP TABLE IF EXISTS myc_items                                          1  mysql_query
 *   CREATE TABLE myc_items (id INT PRIMARY KEY, name VARCHAR(32), qty INT)  1  mysql_query
 *   INSERT INTO myc_items VALUES (1, 'a', 10)                               1  mysql_real_query
 *   INSERT INTO myc_items VALUES (2, 'b', 20)                               1  mysql_real_query
 *   INSERT INTO myc_items VALUES (3, 'c', 30)                               1  mysql_real_query
 *   INSERT INTO myc_items VALUES (4, 'd', 40)                               1  mysql_real_query
 *   INSERT INTO myc_items VALUES (5, 'e', 50)                               1  mysql_real_query
 *   INSERT INTO myc_items VALUES (6, 'f', 60)                               1  mysql_real_query
 *   SELECT id, name FROM myc_items WHERE id <= 4                            1  store_result, 4 rows
 *   SELECT id, name FROM myc_items WHERE id <= 5                            1  store_result, 5 rows
 *   SELECT id, name FROM myc_items WHERE id <= 6                            1  store_result, 6 rows
 *   SELECT name FROM myc_items ORDER BY id                                  2  use_result: 6 rows
 *                                                       read, then 2 of 6 read and the rest freed
 *   SELECT name, qty FROM myc_items WHERE id = ?                            5  mysql_stmt_execute
 *   UPDATE myc_items SET qty = qty + ? WHERE id = ?                         3  mysql_stmt_execute,
 *                                                       a mysql_stmt_reset after the first
 *   SELECT COUNT(*) FROM myc_items                                          1  mysql_send_query +
 *                                                       mysql_read_query_result
 *   SELECT * FROM myc_missing                                               1  fails: 1146 42S02
 *   INSERT INTO myc_items VALUES (?, 'dup', 0)                              1  mysql_stmt_execute,
 *                                                       fails: 1062 23000
 *   SELECT 1                                                                1  multi-statement
 *   UPDATE myc_items SET qty = 0 WHERE id <= 2                              1  multi-statement,
 *                                                       no result set, updates 2
 *   SELECT name FROM myc_items WHERE id = 3                                 1  multi-statement
 *         (the three above are one mysql_query string, joined by "; "; the server's general
 *         log shows that string as a single Query line)
 *   CREATE DATABASE IF NOT EXISTS dbprobe_other                             1  mysql_query
 *   SELECT DATABASE()                                                       1  mysql_query, in
 *                                                       dbprobe_other (after mysql_select_db)
 *   SELECT 'a' AS side                                                      3  mysql_query, A
 *   SELECT 'b' AS side                                                      3  mysql_query, B
 * In all 35 executions of 24 texts, 2 of them failed. Prepared on connection A: the SELECT
 * (5 executions), the UPDATE (3) and the duplicate INSERT (1), all three closed before the
 * end. Connections: A with CLIENT_MULTI_STATEMENTS, B without; both closed by mysql_close. */
#include <mysql.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char *sock_path, *user, *db;

/* Names the failed step and exits 1; the only way this program reports a problem. */
static void die(const char *what, const char *fmt, ...)
	__attribute__((noreturn, format(printf, 2, 3)));

static void die(const char *what, const char *fmt, ...)
{
	va_list ap;
	fprintf(stderr, "my_client: %s: ", what);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* The error number and SQLSTATE identify a failure better than the text, so all three go out. */
static __attribute__((noreturn)) void fail(MYSQL *m, const char *what)
{
	if (!m)
		die(what, "out of memory");
	die(what, "error %u (%s): %s", mysql_errno(m), mysql_sqlstate(m), mysql_error(m));
}

static __attribute__((noreturn)) void fail_stmt(MYSQL_STMT *s, const char *what)
{
	die(what, "error %u (%s): %s", mysql_stmt_errno(s), mysql_stmt_sqlstate(s),
	    mysql_stmt_error(s));
}

static void expect_error(unsigned int err, const char *state, unsigned int want_err,
			 const char *want_state, const char *what)
{
	if (err != want_err || strcmp(state, want_state) != 0)
		die(what, "error %u (%s), expected %u (%s)", err, state, want_err, want_state);
}

static MYSQL *connect_to(unsigned long flags, const char *what)
{
	MYSQL *m = mysql_init(NULL);
	if (!m)
		fail(NULL, what);
	if (!mysql_real_connect(m, NULL, user, NULL, db, 0, sock_path, flags))
		fail(m, what);
	return m;
}

static void query_ok(MYSQL *m, const char *sql)
{
	if (mysql_query(m, sql) != 0)
		fail(m, sql);
}

/* A NULL from mysql_store_result is an error only when the statement had columns to send. */
static MYSQL_RES *store_ok(MYSQL *m, const char *what)
{
	MYSQL_RES *res = mysql_store_result(m);
	if (!res)
		fail(m, what);
	return res;
}

static void expect_num_rows(MYSQL_RES *res, unsigned long long want, const char *what)
{
	unsigned long long got = mysql_num_rows(res);
	if (got != want)
		die(what, "%llu rows, expected %llu", got, want);
}

static void expect_affected(unsigned long long got, unsigned long long want, const char *what)
{
	if (got != want)
		die(what, "%llu rows affected, expected %llu", got, want);
}

static void expect_value(MYSQL_ROW row, unsigned int col, const char *want, const char *what)
{
	if (!row[col] || strcmp(row[col], want) != 0)
		die(what, "column %u is '%s', expected '%s'", col, row[col] ? row[col] : "NULL",
		    want);
}

/* A stored result with one row of one value, freed here. */
static void expect_single(MYSQL *m, const char *want, const char *what)
{
	MYSQL_RES *res = store_ok(m, what);
	expect_num_rows(res, 1, what);
	MYSQL_ROW row = mysql_fetch_row(res);
	if (!row)
		fail(m, what);
	expect_value(row, 0, want, what);
	mysql_free_result(res);
}

/* a. A fresh table, so that a second run sees the same rows as the first. */
static void setup(MYSQL *a)
{
	query_ok(a, "DROP TABLE IF EXISTS myc_items");
	query_ok(a, "CREATE TABLE myc_items (id INT PRIMARY KEY, name VARCHAR(32), qty INT)");
}

/* b. mysql_real_query takes a length, not a terminated string: the agent must not read past
 * it. Literals differ in every text, so six texts share one shape. */
static void text_inserts(MYSQL *a)
{
	for (int i = 1; i <= 6; i++) {
		char sql[64];
		int len = snprintf(sql, sizeof(sql), "INSERT INTO myc_items VALUES (%d, '%c', %d)",
				   i, 'a' + i - 1, 10 * i);
		if (mysql_real_query(a, sql, len) != 0)
			fail(a, sql);
		expect_affected(mysql_affected_rows(a), 1, sql);
	}
}

/* c. The whole result comes in with mysql_store_result, after the statement call returned. */
static void store_results(MYSQL *a)
{
	for (int limit = 4; limit <= 6; limit++) {
		char sql[64];
		snprintf(sql, sizeof(sql), "SELECT id, name FROM myc_items WHERE id <= %d", limit);
		query_ok(a, sql);
		MYSQL_RES *res = store_ok(a, sql);
		expect_num_rows(res, limit, sql);
		int n = 0;
		MYSQL_ROW row;
		while ((row = mysql_fetch_row(res))) {
			if (!row[0] || !row[1])
				die(sql, "NULL in row %d", n + 1);
			n++;
		}
		if (n != limit)
			die(sql, "fetched %d rows, expected %d", n, limit);
		mysql_free_result(res);
	}
}

/* d. With mysql_use_result the rows stay on the wire until fetched: the statement is still
 * reading its result after mysql_query returned. Freeing a result read only in part makes the
 * client read and drop the rest; the connection must be usable afterwards. */
static void use_results(MYSQL *a)
{
	const char *sql = "SELECT name FROM myc_items ORDER BY id";
	const char *names[] = { "a", "b", "c", "d", "e", "f" };

	query_ok(a, sql);
	MYSQL_RES *res = mysql_use_result(a);
	if (!res)
		fail(a, sql);
	int n = 0;
	MYSQL_ROW row;
	while ((row = mysql_fetch_row(res))) {
		if (n >= 6)
			die(sql, "more than 6 rows");
		expect_value(row, 0, names[n], sql);
		n++;
	}
	if (mysql_errno(a) != 0)
		fail(a, sql);
	if (n != 6)
		die(sql, "fetched %d rows, expected 6", n);
	mysql_free_result(res);

	query_ok(a, sql);
	res = mysql_use_result(a);
	if (!res)
		fail(a, sql);
	for (n = 0; n < 2; n++) {
		row = mysql_fetch_row(res);
		if (!row)
			fail(a, "use_result, partial read");
		expect_value(row, 0, names[n], "use_result, partial read");
	}
	mysql_free_result(res);
	if (mysql_errno(a) != 0)
		fail(a, "free a partly read result");
}

static void bind_int(MYSQL_BIND *b, int *value)
{
	memset(b, 0, sizeof(*b));
	b->buffer_type = MYSQL_TYPE_LONG;
	b->buffer = value;
}

static MYSQL_STMT *prepare_ok(MYSQL *a, const char *sql, unsigned long params)
{
	MYSQL_STMT *s = mysql_stmt_init(a);
	if (!s)
		fail(a, "mysql_stmt_init");
	if (mysql_stmt_prepare(s, sql, strlen(sql)) != 0)
		fail_stmt(s, sql);
	if (mysql_stmt_param_count(s) != params)
		die(sql, "%lu parameters, expected %lu", mysql_stmt_param_count(s), params);
	return s;
}

/* e. The execute call carries only a statement handle and the bound values: the text must
 * come from the earlier mysql_stmt_prepare. A reset between executions is not an execution. */
static void prepared(MYSQL *a)
{
	const char *sql = "SELECT name, qty FROM myc_items WHERE id = ?";
	MYSQL_STMT *get = prepare_ok(a, sql, 1);
	int id, qty;
	char name[64];
	unsigned long name_len;
	MYSQL_BIND param, out[2];
	bind_int(&param, &id);
	if (mysql_stmt_bind_param(get, &param))
		fail_stmt(get, sql);
	bind_int(&out[1], &qty);
	memset(&out[0], 0, sizeof(out[0]));
	out[0].buffer_type = MYSQL_TYPE_STRING;
	out[0].buffer = name;
	out[0].buffer_length = sizeof(name);
	out[0].length = &name_len;

	for (id = 1; id <= 5; id++) {
		if (mysql_stmt_execute(get) != 0)
			fail_stmt(get, sql);
		if (mysql_stmt_bind_result(get, out) || mysql_stmt_store_result(get) != 0)
			fail_stmt(get, sql);
		int n = 0, r;
		while ((r = mysql_stmt_fetch(get)) == 0) {
			char want[2] = { (char)('a' + id - 1), '\0' };
			if (name_len != 1 || memcmp(name, want, 1) != 0 || qty != 10 * id)
				die(sql, "id %d: got ('%.*s', %d), expected ('%s', %d)", id,
				    (int)(name_len < sizeof(name) ? name_len : sizeof(name)), name,
				    qty, want, 10 * id);
			n++;
		}
		if (r != MYSQL_NO_DATA)
			fail_stmt(get, sql);
		if (n != 1)
			die(sql, "id %d: %d rows, expected 1", id, n);
		if (mysql_stmt_free_result(get))
			fail_stmt(get, sql);
	}

	sql = "UPDATE myc_items SET qty = qty + ? WHERE id = ?";
	MYSQL_STMT *upd = prepare_ok(a, sql, 2);
	int add = 100;
	MYSQL_BIND params[2];
	bind_int(&params[0], &add);
	bind_int(&params[1], &id);
	if (mysql_stmt_bind_param(upd, params))
		fail_stmt(upd, sql);
	for (id = 4; id <= 6; id++) {
		if (mysql_stmt_execute(upd) != 0)
			fail_stmt(upd, sql);
		expect_affected(mysql_stmt_affected_rows(upd), 1, sql);
		/* the bindings survive a reset: the next execution sends the same buffers */
		if (id == 4 && mysql_stmt_reset(upd))
			fail_stmt(upd, "mysql_stmt_reset");
	}

	if (mysql_stmt_close(get))
		fail(a, "close the SELECT statement");
	if (mysql_stmt_close(upd))
		fail(a, "close the UPDATE statement");
}

/* f. Sending and reading are separate calls: the statement ends in mysql_read_query_result,
 * not in the call that sent it. */
static void send_then_read(MYSQL *a)
{
	const char *sql = "SELECT COUNT(*) FROM myc_items";
	if (mysql_send_query(a, sql, strlen(sql)) != 0)
		fail(a, sql);
	if (mysql_read_query_result(a))
		fail(a, sql);
	expect_single(a, "6", sql);
}

/* g. A statement refused by the server and a prepared statement whose execution fails (the
 * prepare itself succeeds): both must be recorded as failed, with the server's error. */
static void failures(MYSQL *a)
{
	const char *sql = "SELECT * FROM myc_missing";
	if (mysql_query(a, sql) == 0)
		die(sql, "should have failed");
	expect_error(mysql_errno(a), mysql_sqlstate(a), 1146, "42S02", sql);

	sql = "INSERT INTO myc_items VALUES (?, 'dup', 0)";
	MYSQL_STMT *dup = prepare_ok(a, sql, 1);
	int id = 1;
	MYSQL_BIND param;
	bind_int(&param, &id);
	if (mysql_stmt_bind_param(dup, &param))
		fail_stmt(dup, sql);
	if (mysql_stmt_execute(dup) == 0)
		die(sql, "should have failed");
	expect_error(mysql_stmt_errno(dup), mysql_stmt_sqlstate(dup), 1062, "23000", sql);
	if (mysql_stmt_close(dup))
		fail(a, "close the INSERT statement");
}

/* h. One string, three statements, three results: one call to mysql_query starts them all and
 * mysql_next_result runs to the next. The UPDATE in the middle has no result set. */
static void multi_statement(MYSQL *a)
{
	const char *sql = "SELECT 1; UPDATE myc_items SET qty = 0 WHERE id <= 2; "
			  "SELECT name FROM myc_items WHERE id = 3";
	query_ok(a, sql);
	int n = 0, status;
	do {
		n++;
		if (n == 1) {
			expect_single(a, "1", "SELECT 1 (multi)");
		} else if (n == 2) {
			if (mysql_store_result(a) || mysql_field_count(a) != 0)
				die("UPDATE (multi)", "has a result set");
			expect_affected(mysql_affected_rows(a), 2, "UPDATE (multi)");
		} else if (n == 3) {
			expect_single(a, "c", "SELECT name (multi)");
		} else {
			die(sql, "more than 3 results");
		}
		status = mysql_next_result(a);
		if (status > 0)
			fail(a, sql);
	} while (status == 0);
	if (n != 3)
		die(sql, "%d results, expected 3", n);
}

/* i. The current database changes under the connection without a statement: a SELECT in
 * between must see the other one. */
static void other_database(MYSQL *a)
{
	query_ok(a, "CREATE DATABASE IF NOT EXISTS dbprobe_other");
	if (mysql_select_db(a, "dbprobe_other") != 0)
		fail(a, "mysql_select_db(dbprobe_other)");
	query_ok(a, "SELECT DATABASE()");
	expect_single(a, "dbprobe_other", "SELECT DATABASE()");
	if (mysql_select_db(a, db) != 0)
		fail(a, "mysql_select_db back");
}

/* j. Two connections used alternately by one thread: nothing may be attributed to the wrong
 * connection. */
static MYSQL *two_connections(MYSQL *a)
{
	MYSQL *b = connect_to(0, "connect B");
	for (int i = 0; i < 3; i++) {
		query_ok(a, "SELECT 'a' AS side");
		expect_single(a, "a", "SELECT 'a' AS side");
		query_ok(b, "SELECT 'b' AS side");
		expect_single(b, "b", "SELECT 'b' AS side");
	}
	return b;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: my_client SOCKET_PATH USER DB\n");
		return 2;
	}
	sock_path = argv[1];
	user = argv[2];
	db = argv[3];

	MYSQL *a = connect_to(CLIENT_MULTI_STATEMENTS, "connect A");
	setup(a);
	text_inserts(a);
	store_results(a);
	use_results(a);
	prepared(a);
	send_then_read(a);
	failures(a);
	multi_statement(a);
	other_database(a);
	MYSQL *b = two_connections(a);

	/* k. Both connections end here, with no statement left open on either */
	mysql_close(a);
	mysql_close(b);
	/* frees what the first mysql_init set up for the whole library, so valgrind sees no leak */
	mysql_library_end();
	printf("my_client: ok\n");
	return 0;
}
