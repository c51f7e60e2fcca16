/* stack_callers: one statement run from two functions in known proportions, so a test can
 * assert which callers the agent's call-site stacks name, how often, and at which line.
 * Built with -g -O0 and noinline callers: each is its own function, called straight from main,
 * and each database call is on the line of its marker comment (the tests grep the markers).
 *
 * Usage:
 *   stack_callers sqlite          SQLite :memory:: report_daily() runs the UPDATE 30 times,
 *                                 report_weekly() 10 times (sqlite3_step), audit_exec() another
 *                                 statement 5 times (sqlite3_exec)
 *   stack_callers pg CONNINFO     PostgreSQL: report_daily() 30 and report_weekly() 10
 *                                 executions of one statement (PQexecParams)
 *   stack_callers plugin PATH...  dlopen()s each PATH (stack_plugin.so, stack_plugin2.so) in
 *                                 turn: its own functions run 7 statements, then it is
 *                                 dlclose()d; says when a later one was loaded at the first
 *                                 one's address
 *   stack_callers sampled         SQLite: hot_loop() runs one UPDATE 100 times in a row (and
 *                                 prints how long that took), missing_table() fails to
 *                                 prepare a SELECT from a missing table 20 times
 * Every mode prints what it did, deterministic but for hot_loop_us, and exits 0, or names the
 * failed step on stderr and exits 1. */
#include <dlfcn.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DAILY 30
#define WEEKLY 10
#define AUDITS 5
#define HOT 100
#define MISSING 20

#define NOINLINE __attribute__((noinline))

static const char SQLITE_SQL[] = "UPDATE stack_items SET hits = hits + 1 WHERE id = ?";
static const char PG_SQL[] = "SELECT $1::int + 1 AS stack_probe";
static const char AUDIT_SQL[] = "UPDATE stack_audit SET n = n + 1";
static const char MISSING_SQL[] = "SELECT * FROM stack_missing";

/* Either backend: the callers below run one statement on whichever is open. */
struct conn {
	sqlite3 *db;
	sqlite3_stmt *st; /* SQLITE_SQL, prepared once */
	PGconn *pg;
};

static __attribute__((noreturn)) void die(const char *what, const char *msg)
{
	size_t len = strlen(msg);
	fprintf(stderr, "stack_callers: %s: %s%s", what, msg,
		len && msg[len - 1] == '\n' ? "" : "\n");
	exit(1);
}

static void sqlite_ok(sqlite3 *db, int rc, const char *what)
{
	if (rc != SQLITE_OK && rc != SQLITE_DONE)
		die(what, sqlite3_errmsg(db));
}

static void sqlite_open(struct conn *c)
{
	if (sqlite3_open(":memory:", &c->db) != SQLITE_OK)
		die("sqlite3_open", c->db ? sqlite3_errmsg(c->db) : "out of memory");
	sqlite_ok(c->db,
		  sqlite3_exec(c->db,
			       "CREATE TABLE stack_items(id INTEGER PRIMARY KEY, hits INT);"
			       "INSERT INTO stack_items VALUES (1, 0), (2, 0), (3, 0);"
			       "CREATE TABLE stack_audit(n INT);"
			       "INSERT INTO stack_audit VALUES (0);",
			       NULL, NULL, NULL),
		  "schema");
	sqlite_ok(c->db, sqlite3_prepare_v2(c->db, SQLITE_SQL, -1, &c->st, NULL), SQLITE_SQL);
}

/* The sum of the hits: every UPDATE above touched one row. */
static int sqlite_hits(struct conn *c)
{
	sqlite3_stmt *st;
	sqlite_ok(c->db,
		  sqlite3_prepare_v2(c->db, "SELECT sum(hits) FROM stack_items", -1, &st, NULL),
		  "sum");
	int n = sqlite3_step(st) == SQLITE_ROW ? sqlite3_column_int(st, 0) : -1;
	sqlite3_finalize(st);
	return n;
}

/* A PostgreSQL result: the statement adds 1 to its parameter. */
static int pg_result(struct conn *c, PGresult *r, int want)
{
	if (!r)
		die(PG_SQL, PQerrorMessage(c->pg));
	if (PQresultStatus(r) != PGRES_TUPLES_OK)
		die(PG_SQL, PQresultErrorMessage(r));
	int ok = PQntuples(r) == 1 && atoi(PQgetvalue(r, 0, 0)) == want;
	PQclear(r);
	return ok;
}

/* The two callers: the same statement, each call on its marker's line. */
static NOINLINE int report_daily(struct conn *c)
{
	int done = 0;
	for (int i = 0; i < DAILY; i++) {
		if (c->pg) {
			char arg[16];
			const char *v[1] = { arg };
			snprintf(arg, sizeof arg, "%d", i);
			PGresult *r;
			r = PQexecParams(c->pg, PG_SQL, 1, NULL, v, NULL, NULL, 0); /* PG_DAILY */
			done += pg_result(c, r, i + 1);
		} else {
			sqlite3_bind_int(c->st, 1, i % 3 + 1);
			int rc = sqlite3_step(c->st); /* CALL_DAILY */
			sqlite_ok(c->db, rc, "daily");
			sqlite3_reset(c->st);
			done += sqlite3_changes(c->db);
		}
	}
	return done;
}

static NOINLINE int report_weekly(struct conn *c)
{
	int done = 0;
	for (int i = 0; i < WEEKLY; i++) {
		if (c->pg) {
			char arg[16];
			const char *v[1] = { arg };
			snprintf(arg, sizeof arg, "%d", 100 + i);
			PGresult *r;
			r = PQexecParams(c->pg, PG_SQL, 1, NULL, v, NULL, NULL, 0); /* PG_WEEKLY */
			done += pg_result(c, r, 101 + i);
		} else {
			sqlite3_bind_int(c->st, 1, i % 3 + 1);
			int rc = sqlite3_step(c->st); /* CALL_WEEKLY */
			sqlite_ok(c->db, rc, "weekly");
			sqlite3_reset(c->st);
			done += sqlite3_changes(c->db);
		}
	}
	return done;
}

/* sqlite3_exec runs its statement inside libsqlite3: the caller is still this function. */
static NOINLINE int audit_exec(struct conn *c)
{
	for (int i = 0; i < AUDITS; i++) {
		int rc = sqlite3_exec(c->db, AUDIT_SQL, NULL, NULL, NULL); /* CALL_AUDIT */
		sqlite_ok(c->db, rc, "audit");
	}
	return AUDITS;
}

static void pg_open(struct conn *c, const char *conninfo)
{
	c->pg = PQconnectdb(conninfo);
	if (!c->pg || PQstatus(c->pg) != CONNECTION_OK)
		die("connect", c->pg ? PQerrorMessage(c->pg) : "out of memory");
}

/* The plugin's entry point runs its statements from its own functions. Returns where the
 * plugin was loaded: a copy loaded after it was closed often lands at the same address. */
static NOINLINE void *run_plugin(const char *path)
{
	void *h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h)
		die("dlopen", dlerror());
	int (*run)(int) = (int (*)(int))dlsym(h, "stack_plugin_run");
	if (!run)
		die("dlsym", dlerror());
	int n = run(7);
	Dl_info info;
	void *base = dladdr((void *)run, &info) ? info.dli_fbase : NULL;
	/* Unloaded before the program exits: its stacks must still name it. */
	dlclose(h);
	printf("plugin: ran=%d\n", n);
	if (n != 7)
		exit(1);
	return base;
}

static NOINLINE double hot_loop(struct conn *c)
{
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (int i = 0; i < HOT; i++) {
		sqlite3_bind_int(c->st, 1, i % 3 + 1);
		int rc = sqlite3_step(c->st); /* CALL_HOT */
		sqlite_ok(c->db, rc, "hot");
		sqlite3_reset(c->st);
	}
	clock_gettime(CLOCK_MONOTONIC, &t1);
	return (t1.tv_sec - t0.tv_sec) * 1e6 + (t1.tv_nsec - t0.tv_nsec) / 1e3;
}

static NOINLINE int missing_table(struct conn *c)
{
	int failed = 0;
	for (int i = 0; i < MISSING; i++) {
		sqlite3_stmt *st = NULL;
		int rc = sqlite3_prepare_v2(c->db, MISSING_SQL, -1, &st, NULL); /* CALL_MISSING */
		failed += rc == SQLITE_ERROR;
		sqlite3_finalize(st);
	}
	return failed;
}

static int run_sampled(void)
{
	struct conn c = { 0 };
	sqlite_open(&c);
	double us = hot_loop(&c);
	int failed = missing_table(&c);
	printf("sampled: hot=%d hits=%d failed=%d\n", HOT, sqlite_hits(&c), failed);
	printf("hot_loop_us=%.0f\n", us);
	sqlite3_finalize(c.st);
	sqlite3_close(c.db);
	return 0;
}

/* The callers are called from main itself: their stacks' second frame is main. */
int main(int argc, char **argv)
{
	struct conn c = { 0 };
	if (argc == 2 && !strcmp(argv[1], "sqlite")) {
		sqlite_open(&c);
	} else if (argc == 3 && !strcmp(argv[1], "pg")) {
		pg_open(&c, argv[2]);
	} else if (argc >= 3 && !strcmp(argv[1], "plugin")) {
		void *first = run_plugin(argv[2]);
		for (int i = 3; i < argc; i++)
			if (run_plugin(argv[i]) == first)
				printf("plugin: %s reused the address of the first\n", argv[i]);
		return 0;
	} else if (argc == 2 && !strcmp(argv[1], "sampled")) {
		return run_sampled();
	} else {
		fprintf(stderr,
			"usage: stack_callers sqlite | pg CONNINFO | plugin PATH... | sampled\n");
		return 2;
	}
	int daily = report_daily(&c);
	int weekly = report_weekly(&c);
	if (c.pg) {
		printf("pg: daily=%d weekly=%d\n", daily, weekly);
		PQfinish(c.pg);
		return 0;
	}
	int audits = audit_exec(&c);
	printf("sqlite: daily=%d weekly=%d audits=%d hits=%d\n", daily, weekly, audits,
	       sqlite_hits(&c));
	sqlite3_finalize(c.st);
	sqlite3_close(c.db);
	return 0;
}
