/* pq_edge: libpq usages that once fooled the agent, one mode each, so a test can assert what
 * was recorded. Usage: pq_edge MODE CONNINFO; prints "pq_edge: ok" and exits 0, or names the
 * failed step and exits 1. Modes:
 *   strings     4200 failed connections to distinct sockets (the agent's string table fills),
 *               then a failing prepare and a failing query: both still read as errors
 *   held        a COPY ended without taking libpq's final NULL, then the connection finished;
 *               a query whose NULL is taken only 300 ms later
 *   reprepare   a name prepared again with a failing text (42P05, then a syntax error): the
 *               executions keep the first text
 *   describe    a describe refused in a pipeline, then pipelines of 1, 2 and 3 queries; a
 *               describe while an async query's NULL is pending
 *   split       '#' as an operator, BEGIN ATOMIC bodies, single-row mode and COPY inside
 *               multi-statement strings
 *   unnamed     the unnamed statement replaced by PQexecParams; DISCARD ALL
 *   encoding    PQsetClientEncoding (libpq runs a SET of its own) */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static __attribute__((noreturn)) void fail(PGconn *c, const char *what)
{
	fprintf(stderr, "pq_edge: %s: %s", what, c ? PQerrorMessage(c) : "no connection\n");
	exit(1);
}

static void quiet(void *arg, const char *msg)
{
	(void)arg;
	(void)msg;
}

static PGconn *connect_or_die(const char *conninfo)
{
	PGconn *c = PQconnectdb(conninfo);
	if (PQstatus(c) != CONNECTION_OK)
		fail(c, "connect");
	PQsetNoticeProcessor(c, quiet, NULL);
	return c;
}

/* Runs sql, expecting status want (and SQLSTATE state when it fails). */
static void run(PGconn *c, const char *sql, ExecStatusType want, const char *state)
{
	PGresult *r = PQexec(c, sql);
	if (PQresultStatus(r) != want)
		fail(c, sql);
	if (state && strcmp(PQresultErrorField(r, PG_DIAG_SQLSTATE), state) != 0)
		fail(c, sql);
	PQclear(r);
}

static void drain(PGconn *c, const char *what)
{
	PGresult *r;
	while ((r = PQgetResult(c))) {
		if (PQresultStatus(r) == PGRES_FATAL_ERROR)
			fail(c, what);
		PQclear(r);
	}
}

static void strings(const char *conninfo)
{
	char ci[128];
	for (int i = 0; i < 4200; i++) {
		snprintf(ci, sizeof ci, "host=/nonexistent/d%d dbname=db%d connect_timeout=1", i,
			 i);
		PQfinish(PQconnectdb(ci));
	}
	PGconn *c = connect_or_die(conninfo);
	PGresult *r = PQprepare(c, "edge_s", "SELEC 1", 0, NULL);
	if (PQresultStatus(r) != PGRES_FATAL_ERROR)
		fail(c, "prepare should fail");
	PQclear(r);
	run(c, "SELECT * FROM edge_no_such_table", PGRES_FATAL_ERROR, "42P01");
	PQfinish(c);
}

static void held(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	run(c, "DROP TABLE IF EXISTS edge_copy", PGRES_COMMAND_OK, NULL);
	run(c, "CREATE TABLE edge_copy (a int)", PGRES_COMMAND_OK, NULL);
	run(c, "COPY edge_copy FROM STDIN", PGRES_COPY_IN, NULL);
	if (PQputCopyData(c, "1\n2\n3\n", 6) != 1 || PQputCopyEnd(c, NULL) != 1)
		fail(c, "copy data");
	PGresult *r = PQgetResult(c); /* COMMAND_OK "COPY 3"; its NULL is never taken */
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, "copy end");
	PQclear(r);
	PQfinish(c);

	c = connect_or_die(conninfo);
	if (!PQsendQuery(c, "SELECT 'late null'"))
		fail(c, "send");
	r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		fail(c, "late null");
	PQclear(r);
	usleep(300000); /* the program thinks; the statement is long over */
	if (PQgetResult(c))
		fail(c, "late null: extra result");
	PQfinish(c);
}

static void reprepare(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	PGresult *r = PQprepare(c, "edge_p", "SELECT 111", 0, NULL);
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, "prepare");
	PQclear(r);
	const char *again[] = { "SELECT 222, 333", "SELEC 222" }; /* 42P05, then 42601 */
	for (int k = 0; k < 2; k++) {
		PQclear(PQprepare(c, "edge_p", again[k], 0, NULL));
		for (int i = 0; i < 3; i++) {
			r = PQexecPrepared(c, "edge_p", 0, NULL, NULL, NULL, 0);
			if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 1)
				fail(c, "execute edge_p");
			PQclear(r);
		}
	}
	PQfinish(c);
}

static void pipeline_of(PGconn *c, int n, const char *sql)
{
	if (!PQenterPipelineMode(c))
		fail(c, "enter pipeline");
	for (int i = 0; i < n; i++)
		if (!PQsendQueryParams(c, sql, 0, NULL, NULL, NULL, NULL, 0))
			fail(c, sql);
	if (!PQpipelineSync(c))
		fail(c, "sync");
	for (int i = 0; i < n; i++) {
		PGresult *r = PQgetResult(c);
		if (PQresultStatus(r) != PGRES_TUPLES_OK)
			fail(c, sql);
		PQclear(r);
		if (PQgetResult(c))
			fail(c, "extra result");
	}
	PGresult *r = PQgetResult(c);
	if (PQresultStatus(r) != PGRES_PIPELINE_SYNC)
		fail(c, "no sync");
	PQclear(r);
	if (!PQexitPipelineMode(c))
		fail(c, "exit pipeline");
}

static void describe(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	PQclear(PQprepare(c, "edge_d", "SELECT 1", 0, NULL));
	if (!PQenterPipelineMode(c))
		fail(c, "enter pipeline");
	PGresult *r = PQdescribePrepared(c, "edge_d"); /* refused: synchronous in a pipeline */
	if (r && PQresultStatus(r) != PGRES_FATAL_ERROR)
		fail(c, "describe in a pipeline should be refused");
	PQclear(r);
	if (!PQexitPipelineMode(c))
		fail(c, "exit pipeline");
	pipeline_of(c, 1, "SELECT 'pipe a'");
	pipeline_of(c, 2, "SELECT 'pipe b', 2");
	pipeline_of(c, 3, "SELECT 'pipe c', 3, 3");

	if (!PQsendQuery(c, "SELECT 42"))
		fail(c, "send");
	r = PQgetResult(c); /* its NULL stays pending: PQdescribePrepared drains it */
	PQclear(r);
	r = PQdescribePrepared(c, "edge_d");
	if (PQresultStatus(r) != PGRES_COMMAND_OK)
		fail(c, "describe");
	PQclear(r);
	PQfinish(c);
}

static void split(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	run(c, "DROP TABLE IF EXISTS edge_rv", PGRES_COMMAND_OK, NULL);
	run(c, "CREATE TABLE edge_rv AS SELECT g FROM generate_series(1, 5) g", PGRES_COMMAND_OK,
	    NULL);
	const char *multi[] = {
		"SELECT 5 # 3; SELECT 'after xor'",
		"CREATE OR REPLACE FUNCTION edge_f() RETURNS int LANGUAGE sql BEGIN ATOMIC "
		"SELECT 1; SELECT 2; END; SELECT 'after', 'atomic', g FROM generate_series(1, 3) g",
		"SELECT 1; COPY edge_rv TO STDOUT",
	};
	for (int i = 0; i < 3; i++) {
		if (!PQsendQuery(c, multi[i]))
			fail(c, multi[i]);
		PGresult *r;
		while ((r = PQgetResult(c))) {
			if (PQresultStatus(r) == PGRES_COPY_OUT) {
				char *row;
				while (PQgetCopyData(c, &row, 0) > 0)
					PQfreemem(row);
			} else if (PQresultStatus(r) == PGRES_FATAL_ERROR) {
				fail(c, multi[i]);
			}
			PQclear(r);
		}
	}
	const char *single = "SELECT 'one'; SELECT 'many', g FROM generate_series(1, 5) g";
	if (!PQsendQuery(c, single) || !PQsetSingleRowMode(c))
		fail(c, single);
	drain(c, single);
	PQfinish(c);
}

static void unnamed(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	PQclear(PQprepare(c, "", "SELECT 111", 0, NULL));
	PGresult *r = PQexecParams(c, "SELECT 'x', 'y'", 0, NULL, NULL, NULL, NULL, 0);
	PQclear(r);
	/* The unnamed statement now holds SELECT 'x', 'y': executing it runs that. */
	r = PQexecPrepared(c, "", 0, NULL, NULL, NULL, 0);
	if (PQresultStatus(r) != PGRES_TUPLES_OK || PQnfields(r) != 2)
		fail(c, "execute unnamed");
	PQclear(r);
	run(c, "PREPARE edge_u AS SELECT 7", PGRES_COMMAND_OK, NULL);
	run(c, "DISCARD ALL", PGRES_COMMAND_OK, NULL);
	run(c, "EXECUTE edge_u", PGRES_FATAL_ERROR, "26000");
	PQfinish(c);
}

static void encoding(const char *conninfo)
{
	PGconn *c = connect_or_die(conninfo);
	if (PQsetClientEncoding(c, "LATIN1") != 0)
		fail(c, "set encoding");
	run(c, "SELECT 'after encoding'", PGRES_TUPLES_OK, NULL);
	PQfinish(c);
}

int main(int argc, char **argv)
{
	static const struct {
		const char *name;
		void (*fn)(const char *);
	} modes[] = {
		{ "strings", strings },   { "held", held },   { "reprepare", reprepare },
		{ "describe", describe }, { "split", split }, { "unnamed", unnamed },
		{ "encoding", encoding },
	};
	for (size_t i = 0; argc == 3 && i < sizeof modes / sizeof modes[0]; i++) {
		if (!strcmp(argv[1], modes[i].name)) {
			modes[i].fn(argv[2]);
			printf("pq_edge: ok\n");
			return 0;
		}
	}
	fprintf(stderr, "usage: pq_edge strings|held|reprepare|describe|split|unnamed|encoding "
			"CONNINFO\n");
	return 2;
}
