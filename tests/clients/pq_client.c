/* pq_client: a fixed libpq workload that goes through every way libpq can send a statement,
 * so a test can assert exactly what the agent recorded. Usage: pq_client CONNINFO
 * It prints "pq_client: ok" at the end and exits 0, or names the failed step on stderr and
 * exits 1. It drops and recreates its table first, so it can run again on the same database.
 *
 * Statement executions per distinct text (PQprepare and PQsendPrepare only prepare: not counted;
 * prepared executions count under the text they were prepared with):
 *   DROP TABLE IF EXISTS pqc_items                                          1  PQexec
 *   CREATE TABLE pqc_items (id int primary key, name text)                  1  PQexec
 *   INSERT INTO pqc_items (id, name) VALUES ($1, $2)                        5  PQexecParams
 *   SELECT name FROM pqc_items WHERE id = $1                                7  PQexecPrepared
 *   SELECT id FROM pqc_items WHERE id <= $1                                 1  PQsendQueryParams
 *   SELECT count(*) FROM pqc_items                                          1  PQsendQuery
 *   UPDATE pqc_items SET name = $1 WHERE id = $2                            2  PQsendQueryPrepared
 *   SELECT 1 + $1::int                                                      1  pipeline
 *   INSERT INTO pqc_items (id, name) VALUES ($1, 'piped')                   1  pipeline
 *   SELECT count(*) FROM pqc_items WHERE name = $1                          1  pipeline
 *   COPY pqc_items (id, name) FROM STDIN                                    1  PQexec, 4 rows in
 *   COPY (SELECT id, name FROM pqc_items ORDER BY id) TO STDOUT             1  PQexec, 10 rows out
 *   BEGIN                                                                   1  PQexec
 *   SELECT * FROM pqc_missing_table                                         1  fails: 42P01
 *   SELECT 1                                                                1  fails: 25P02
 *   ROLLBACK                                                                1  PQexec
 *   SELECT 'a' AS side                                                      3  PQexec, connection A
 *   SELECT 'b' AS side                                                      3  PQexec, connection B
 *   SELECT pg_sleep(0.01), 'a2'                                             1  PQsendQuery, A
 *   SELECT 'b2'                                                             1  PQexec, B
 *   SELECT 1; SELECT 2, 3; UPDATE pqc_items SET name = 'm' WHERE id <= 2    1  PQsendQuery, one
 *                                                       string, three results (the last updates 2)
 *   SELECT 'c'                                                              1  PQexec, connection C
 * Section l, on connection D (PQsetdbLogin, keyword values from the conninfo):
 *   SELECT name FROM pqc_items WHERE id = $1    (+2, via pqc_d: describes around it count nothing)
 *   SELECT id FROM pqc_items ORDER BY id        1  PQsendQuery in single-row mode, 10 rows
 *   SELECT 1/$1::int                            1  pipeline, fails: 22012
 *   SELECT 2 + $1::int                          1  pipeline, after the failure: never runs
 *                                                  (PGRES_PIPELINE_ABORTED)
 *   EXECUTE pqc_d                               1  PQexecPrepared after PQreset: the name died
 *                                                  with the session, fails: 26000
 * In all 37 executions of 22 texts, 2 of them failed (before section l). Prepared: pqc_get
 * (PQprepare) and pqc_upd (PQsendPrepare), both on connection A. Connections: A by PQconnectdb, B
 * by PQconnectdbParams (expand_dbname), C by PQconnectStart + PQconnectPoll; all three finished. */
#include <libpq-fe.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A broken server or a lost wakeup must fail the test, not hang it. */
#define WAIT_MS 10000

/* libpq's messages usually end with a newline, but not always (and some are empty). */
static __attribute__((noreturn)) void die(const char *what, const char *why, const char *msg)
{
	size_t len = strlen(msg);
	fprintf(stderr, "pq_client: %s: %s%s%s", what, why, len ? msg : "(no error message)",
		len && msg[len - 1] == '\n' ? "" : "\n");
	exit(1);
}

static __attribute__((noreturn)) void fail(PGconn *conn, const char *what)
{
	die(what, "", conn ? PQerrorMessage(conn) : "out of memory");
}

static __attribute__((noreturn)) void fail_res(PGresult *res, const char *what, const char *why)
{
	char buf[128];
	snprintf(buf, sizeof(buf), "%s (status %s): ", why, PQresStatus(PQresultStatus(res)));
	die(what, buf, PQresultErrorMessage(res));
}

/* Fails unless RES is there with status WANT; a NULL result means the connection failed. */
static PGresult *check(PGconn *conn, PGresult *res, ExecStatusType want, const char *what)
{
	if (!res)
		fail(conn, what);
	if (PQresultStatus(res) != want)
		fail_res(res, what, "unexpected status");
	return res;
}

static PGresult *exec_ok(PGconn *conn, const char *sql, ExecStatusType want)
{
	return check(conn, PQexec(conn, sql), want, sql);
}

static void expect_value(PGresult *res, int row, int col, const char *want, const char *what)
{
	if (PQntuples(res) <= row || PQnfields(res) <= col)
		fail_res(res, what, "result too small");
	if (strcmp(PQgetvalue(res, row, col), want) != 0)
		fail_res(res, what, "unexpected value");
}

static void expect_rows(PGresult *res, int want, const char *what)
{
	if (PQntuples(res) != want)
		fail_res(res, what, "unexpected row count");
}

static void expect_cmd_tuples(PGresult *res, const char *want, const char *what)
{
	if (strcmp(PQcmdTuples(res), want) != 0)
		fail_res(res, what, "unexpected affected row count");
}

/* A query's results end with NULL; anything more means we lost count of what was sent. */
static void expect_end(PGconn *conn, const char *what)
{
	PGresult *res = PQgetResult(conn);
	if (res)
		fail_res(res, what, "extra result");
}

static void expect_sqlstate(PGconn *conn, const char *sql, const char *state)
{
	PGresult *res = PQexec(conn, sql);
	if (!res)
		fail(conn, sql);
	if (PQresultStatus(res) != PGRES_FATAL_ERROR)
		fail_res(res, sql, "should have failed");
	const char *got = PQresultErrorField(res, PG_DIAG_SQLSTATE);
	if (!got || strcmp(got, state) != 0) {
		fprintf(stderr, "pq_client: %s: SQLSTATE %s, expected %s\n", sql,
			got ? got : "none", state);
		exit(1);
	}
	PQclear(res);
}

static void wait_socket(PGconn *conn, short events, short *revents, const char *what)
{
	struct pollfd p = { .fd = PQsocket(conn), .events = events };
	if (p.fd < 0)
		fail(conn, what);
	int n = poll(&p, 1, WAIT_MS);
	if (n < 0) {
		perror("pq_client: poll");
		exit(1);
	}
	if (n == 0) {
		fprintf(stderr, "pq_client: %s: timed out waiting for the server\n", what);
		exit(1);
	}
	if (revents)
		*revents = p.revents;
}

/* The sequence libpq documents for a non-blocking connection: a read-ready socket may be the
 * server answering while we still send, and its input must be consumed or it may never
 * drain ours. */
static void flush_all(PGconn *conn, const char *what)
{
	int r;
	while ((r = PQflush(conn)) != 0) {
		if (r < 0)
			fail(conn, what);
		short revents;
		wait_socket(conn, POLLIN | POLLOUT, &revents, what);
		if ((revents & POLLIN) && !PQconsumeInput(conn))
			fail(conn, what);
	}
}

/* PQgetResult on a busy connection would block, even in non-blocking mode. */
static PGresult *next_result(PGconn *conn, const char *what)
{
	while (PQisBusy(conn)) {
		wait_socket(conn, POLLIN, NULL, what);
		if (!PQconsumeInput(conn))
			fail(conn, what);
	}
	return PQgetResult(conn);
}

static void async_end(PGconn *conn, const char *what)
{
	PGresult *res = next_result(conn, what);
	if (res)
		fail_res(res, what, "extra result");
}

static void quiet_notice(void *arg, const char *message)
{
	(void)arg;
	(void)message;
}

/* a. A fresh table, so that a second run sees the same rows as the first. */
static void setup(PGconn *a)
{
	PQclear(exec_ok(a, "DROP TABLE IF EXISTS pqc_items", PGRES_COMMAND_OK));
	PQclear(exec_ok(a, "CREATE TABLE pqc_items (id int primary key, name text)",
			PGRES_COMMAND_OK));
}

/* b. Parameters sent apart from the text: one text, five executions. */
static void insert_params(PGconn *a)
{
	const char *sql = "INSERT INTO pqc_items (id, name) VALUES ($1, $2)";
	for (int i = 1; i <= 5; i++) {
		char id[16], name[16];
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "item%d", i);
		const char *values[2] = { id, name };
		PGresult *res = check(a, PQexecParams(a, sql, 2, NULL, values, NULL, NULL, 0),
				      PGRES_COMMAND_OK, sql);
		expect_cmd_tuples(res, "1", sql);
		PQclear(res);
	}
}

/* c. PQexecPrepared carries only the name: the text must come from the earlier PQprepare. */
static void prepared(PGconn *a)
{
	const char *sql = "SELECT name FROM pqc_items WHERE id = $1";
	PQclear(check(a, PQprepare(a, "pqc_get", sql, 1, NULL), PGRES_COMMAND_OK,
		      "prepare pqc_get"));
	for (int i = 1; i <= 7; i++) {
		char id[16], name[16];
		snprintf(id, sizeof(id), "%d", i);
		snprintf(name, sizeof(name), "item%d", i);
		const char *values[1] = { id };
		PGresult *res = check(a, PQexecPrepared(a, "pqc_get", 1, values, NULL, NULL, 0),
				      PGRES_TUPLES_OK, sql);
		expect_rows(res, i <= 5 ? 1 : 0, sql);
		if (i <= 5)
			expect_value(res, 0, 0, name, sql);
		PQclear(res);
	}
}

/* d. Sending and reading are separate calls here, and the results arrive through
 * PQconsumeInput: the agent has to tie them back to the statement that was sent. */
static void async_queries(PGconn *a)
{
	if (PQsetnonblocking(a, 1) != 0)
		fail(a, "PQsetnonblocking(1)");

	const char *sql = "SELECT id FROM pqc_items WHERE id <= $1";
	const char *three[1] = { "3" };
	if (!PQsendQueryParams(a, sql, 1, NULL, three, NULL, NULL, 0))
		fail(a, sql);
	flush_all(a, sql);
	PGresult *res = check(a, next_result(a, sql), PGRES_TUPLES_OK, sql);
	expect_rows(res, 3, sql);
	PQclear(res);
	async_end(a, sql);

	sql = "SELECT count(*) FROM pqc_items";
	if (!PQsendQuery(a, sql))
		fail(a, sql);
	flush_all(a, sql);
	res = check(a, next_result(a, sql), PGRES_TUPLES_OK, sql);
	expect_value(res, 0, 0, "5", sql);
	PQclear(res);
	async_end(a, sql);

	sql = "UPDATE pqc_items SET name = $1 WHERE id = $2";
	if (!PQsendPrepare(a, "pqc_upd", sql, 2, NULL))
		fail(a, "send prepare pqc_upd");
	flush_all(a, "send prepare pqc_upd");
	PQclear(check(a, next_result(a, sql), PGRES_COMMAND_OK, "send prepare pqc_upd"));
	async_end(a, "send prepare pqc_upd");
	for (int i = 4; i <= 5; i++) {
		char id[16];
		snprintf(id, sizeof(id), "%d", i);
		const char *values[2] = { "renamed", id };
		if (!PQsendQueryPrepared(a, "pqc_upd", 2, values, NULL, NULL, 0))
			fail(a, sql);
		flush_all(a, sql);
		res = check(a, next_result(a, sql), PGRES_COMMAND_OK, sql);
		expect_cmd_tuples(res, "1", sql);
		PQclear(res);
		async_end(a, sql);
	}

	if (PQsetnonblocking(a, 0) != 0)
		fail(a, "PQsetnonblocking(0)");
}

/* e. Three statements in flight at once: their results come back in order, each ended by a
 * NULL, and the sync point brings a result of its own that belongs to no statement. */
static void pipeline(PGconn *a)
{
	const char *add = "SELECT 1 + $1::int";
	const char *ins = "INSERT INTO pqc_items (id, name) VALUES ($1, 'piped')";
	const char *cnt = "SELECT count(*) FROM pqc_items WHERE name = $1";
	const char *v41[1] = { "41" }, *v100[1] = { "100" }, *vpiped[1] = { "piped" };

	if (!PQenterPipelineMode(a))
		fail(a, "PQenterPipelineMode");
	if (!PQsendQueryParams(a, add, 1, NULL, v41, NULL, NULL, 0))
		fail(a, add);
	if (!PQsendQueryParams(a, ins, 1, NULL, v100, NULL, NULL, 0))
		fail(a, ins);
	if (!PQsendQueryParams(a, cnt, 1, NULL, vpiped, NULL, NULL, 0))
		fail(a, cnt);
	if (!PQpipelineSync(a))
		fail(a, "PQpipelineSync");

	PGresult *res = check(a, PQgetResult(a), PGRES_TUPLES_OK, add);
	expect_value(res, 0, 0, "42", add);
	PQclear(res);
	expect_end(a, add);

	res = check(a, PQgetResult(a), PGRES_COMMAND_OK, ins);
	expect_cmd_tuples(res, "1", ins);
	PQclear(res);
	expect_end(a, ins);

	res = check(a, PQgetResult(a), PGRES_TUPLES_OK, cnt);
	expect_value(res, 0, 0, "1", cnt);
	PQclear(res);
	expect_end(a, cnt);

	PQclear(check(a, PQgetResult(a), PGRES_PIPELINE_SYNC, "pipeline sync"));
	if (!PQexitPipelineMode(a))
		fail(a, "PQexitPipelineMode");
}

/* f. COPY: the statement's result comes only after the data, through other calls. */
static void copy_both_ways(PGconn *a)
{
	const char *in = "COPY pqc_items (id, name) FROM STDIN";
	PQclear(exec_ok(a, in, PGRES_COPY_IN));
	for (int i = 200; i <= 203; i++) {
		char line[64];
		int len = snprintf(line, sizeof(line), "%d\tcopied%d\n", i, i);
		if (PQputCopyData(a, line, len) != 1)
			fail(a, "PQputCopyData");
	}
	if (PQputCopyEnd(a, NULL) != 1)
		fail(a, "PQputCopyEnd");
	PGresult *res = check(a, PQgetResult(a), PGRES_COMMAND_OK, in);
	expect_cmd_tuples(res, "4", in);
	PQclear(res);
	expect_end(a, in);

	const char *out = "COPY (SELECT id, name FROM pqc_items ORDER BY id) TO STDOUT";
	PQclear(exec_ok(a, out, PGRES_COPY_OUT));
	int rows = 0, n;
	char *buf;
	while ((n = PQgetCopyData(a, &buf, 0)) > 0) {
		rows++;
		PQfreemem(buf);
	}
	if (n != -1)
		fail(a, "PQgetCopyData");
	PQclear(check(a, PQgetResult(a), PGRES_COMMAND_OK, out));
	expect_end(a, out);
	/* 5 inserted with parameters, 1 in the pipeline, 4 copied in */
	if (rows != 10) {
		fprintf(stderr, "pq_client: %s: %d rows, expected 10\n", out, rows);
		exit(1);
	}
}

/* g. An error, then a statement refused only because of it: both must be recorded as failed. */
static void failed_transaction(PGconn *a)
{
	PQclear(exec_ok(a, "BEGIN", PGRES_COMMAND_OK));
	expect_sqlstate(a, "SELECT * FROM pqc_missing_table", "42P01");
	expect_sqlstate(a, "SELECT 1", "25P02");
	PQclear(exec_ok(a, "ROLLBACK", PGRES_COMMAND_OK));
}

/* h. Two connections used alternately by one thread, and one of them left with a statement
 * running while the other executes: nothing may be attributed to the wrong connection. */
static PGconn *two_connections(PGconn *a, const char *conninfo)
{
	/* expand_dbname lets the whole connection string stand in for dbname */
	const char *const keys[] = { "dbname", NULL };
	const char *const values[] = { conninfo, NULL };
	PGconn *b = PQconnectdbParams(keys, values, 1);
	if (!b || PQstatus(b) != CONNECTION_OK)
		fail(b, "connect B (PQconnectdbParams)");
	PQsetNoticeProcessor(b, quiet_notice, NULL);

	for (int i = 0; i < 3; i++) {
		PGresult *res = exec_ok(a, "SELECT 'a' AS side", PGRES_TUPLES_OK);
		expect_value(res, 0, 0, "a", "SELECT 'a' AS side");
		PQclear(res);
		res = exec_ok(b, "SELECT 'b' AS side", PGRES_TUPLES_OK);
		expect_value(res, 0, 0, "b", "SELECT 'b' AS side");
		PQclear(res);
	}

	const char *slow = "SELECT pg_sleep(0.01), 'a2'";
	if (!PQsendQuery(a, slow))
		fail(a, slow);
	PGresult *res = exec_ok(b, "SELECT 'b2'", PGRES_TUPLES_OK);
	expect_value(res, 0, 0, "b2", "SELECT 'b2'");
	PQclear(res);
	res = check(a, PQgetResult(a), PGRES_TUPLES_OK, slow);
	expect_value(res, 0, 1, "a2", slow);
	PQclear(res);
	expect_end(a, slow);
	return b;
}

/* i. One simple-protocol string holding three statements: three results, then NULL. */
static void multi_statement(PGconn *a)
{
	const char *sql = "SELECT 1; SELECT 2, 3; UPDATE pqc_items SET name = 'm' WHERE id <= 2";
	if (!PQsendQuery(a, sql))
		fail(a, sql);
	PGresult *res = check(a, PQgetResult(a), PGRES_TUPLES_OK, "SELECT 1 (multi)");
	expect_value(res, 0, 0, "1", "SELECT 1 (multi)");
	PQclear(res);
	res = check(a, PQgetResult(a), PGRES_TUPLES_OK, "SELECT 2, 3 (multi)");
	expect_value(res, 0, 0, "2", "SELECT 2, 3 (multi)");
	expect_value(res, 0, 1, "3", "SELECT 2, 3 (multi)");
	PQclear(res);
	res = check(a, PQgetResult(a), PGRES_COMMAND_OK, "UPDATE (multi)");
	expect_cmd_tuples(res, "2", "UPDATE (multi)");
	PQclear(res);
	expect_end(a, sql);
}

/* j. A connection made step by step, the way event loops do; the socket may change between
 * steps (another address tried), so it is looked up again each time. */
static void connect_async(const char *conninfo)
{
	PGconn *c = PQconnectStart(conninfo);
	if (!c || PQstatus(c) == CONNECTION_BAD)
		fail(c, "connect C (PQconnectStart)");
	PostgresPollingStatusType st = PGRES_POLLING_WRITING;
	while (st != PGRES_POLLING_OK) {
		if (st == PGRES_POLLING_FAILED)
			fail(c, "connect C (PQconnectPoll)");
		if (st == PGRES_POLLING_READING)
			wait_socket(c, POLLIN, NULL, "connect C");
		else if (st == PGRES_POLLING_WRITING)
			wait_socket(c, POLLOUT, NULL, "connect C");
		st = PQconnectPoll(c);
	}
	PGresult *res = exec_ok(c, "SELECT 'c'", PGRES_TUPLES_OK);
	expect_value(res, 0, 0, "c", "SELECT 'c'");
	PQclear(res);
	PQfinish(c);
}

/* l. The rest of the API on connection D: an old-style connect, describes (sync and async)
 * that must not be taken for executions, single-row mode, a pipeline with a failure and the
 * query it aborts, and a reset, after which the session's prepared names are gone. */
static void the_rest(const char *conninfo)
{
	PQconninfoOption *opts = PQconninfoParse(conninfo, NULL);
	const char *host = NULL, *port = NULL, *user = NULL, *db = NULL;
	for (PQconninfoOption *o = opts; o && o->keyword; o++) {
		if (!strcmp(o->keyword, "host"))
			host = o->val;
		else if (!strcmp(o->keyword, "port"))
			port = o->val;
		else if (!strcmp(o->keyword, "user"))
			user = o->val;
		else if (!strcmp(o->keyword, "dbname"))
			db = o->val;
	}
	PGconn *d = PQsetdbLogin(host, port, NULL, NULL, db, user, NULL);
	PQconninfoFree(opts);
	if (!d || PQstatus(d) != CONNECTION_OK)
		fail(d, "connect D (PQsetdbLogin)");

	const char *sql = "SELECT name FROM pqc_items WHERE id = $1";
	PQclear(check(d, PQprepare(d, "pqc_d", sql, 1, NULL), PGRES_COMMAND_OK, "prepare pqc_d"));
	PQclear(check(d, PQdescribePrepared(d, "pqc_d"), PGRES_COMMAND_OK, "describe pqc_d"));
	const char *one[1] = { "1" };
	PGresult *res = check(d, PQexecPrepared(d, "pqc_d", 1, one, NULL, NULL, 0), PGRES_TUPLES_OK,
			      "execute pqc_d");
	expect_rows(res, 1, "execute pqc_d");
	PQclear(res);
	if (!PQsendDescribePrepared(d, "pqc_d"))
		fail(d, "send describe pqc_d");
	PQclear(check(d, PQgetResult(d), PGRES_COMMAND_OK, "describe pqc_d (async)"));
	expect_end(d, "describe pqc_d (async)");
	res = check(d, PQexecPrepared(d, "pqc_d", 1, one, NULL, NULL, 0), PGRES_TUPLES_OK,
		    "execute pqc_d again");
	PQclear(res);

	const char *rows = "SELECT id FROM pqc_items ORDER BY id";
	if (!PQsendQuery(d, rows) || !PQsetSingleRowMode(d))
		fail(d, rows);
	int n = 0;
	while ((res = PQgetResult(d))) {
		if (PQresultStatus(res) == PGRES_SINGLE_TUPLE)
			n++;
		else
			check(d, res, PGRES_TUPLES_OK, rows);
		PQclear(res);
	}
	if (n != 10) {
		fprintf(stderr, "pq_client: single-row mode: %d rows, expected 10\n", n);
		exit(1);
	}

	if (!PQenterPipelineMode(d))
		fail(d, "enter pipeline (D)");
	const char *zero[1] = { "0" };
	if (!PQsendQueryParams(d, "SELECT 1/$1::int", 1, NULL, zero, NULL, NULL, 0) ||
	    !PQsendQueryParams(d, "SELECT 2 + $1::int", 1, NULL, one, NULL, NULL, 0) ||
	    !PQpipelineSync(d))
		fail(d, "queue pipeline (D)");
	res = PQgetResult(d);
	if (!res || PQresultStatus(res) != PGRES_FATAL_ERROR ||
	    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "22012") != 0)
		fail_res(res, "SELECT 1/0", "should have failed with 22012");
	PQclear(res);
	expect_end(d, "SELECT 1/0");
	PQclear(check(d, PQgetResult(d), PGRES_PIPELINE_ABORTED, "aborted query"));
	expect_end(d, "aborted query");
	PQclear(check(d, PQgetResult(d), PGRES_PIPELINE_SYNC, "sync (D)"));
	if (!PQexitPipelineMode(d))
		fail(d, "exit pipeline (D)");

	PQreset(d);
	if (PQstatus(d) != CONNECTION_OK)
		fail(d, "reset D");
	res = PQexecPrepared(d, "pqc_d", 1, one, NULL, NULL, 0);
	if (!res || PQresultStatus(res) != PGRES_FATAL_ERROR ||
	    strcmp(PQresultErrorField(res, PG_DIAG_SQLSTATE), "26000") != 0)
		fail_res(res, "execute pqc_d after reset", "should have failed with 26000");
	PQclear(res);
	PQfinish(d);
}

int main(int argc, char **argv)
{
	if (argc != 2) {
		fprintf(stderr, "usage: pq_client CONNINFO\n");
		return 2;
	}
	PGconn *a = PQconnectdb(argv[1]);
	if (!a || PQstatus(a) != CONNECTION_OK)
		fail(a, "connect A (PQconnectdb)");
	/* DROP ... IF EXISTS notices only on the first run: keep both runs' output the same */
	PQsetNoticeProcessor(a, quiet_notice, NULL);

	setup(a);
	insert_params(a);
	prepared(a);
	async_queries(a);
	pipeline(a);
	copy_both_ways(a);
	failed_transaction(a);
	PGconn *b = two_connections(a, argv[1]);
	multi_statement(a);
	connect_async(argv[1]);
	the_rest(argv[1]);

	/* k. A still holds its prepared statements pqc_get and pqc_upd when it is finished */
	PQfinish(a);
	PQfinish(b);
	printf("pq_client: ok\n");
	return 0;
}
