/* bench_stack: SQLite point selects issued DEPTH frames deep, in ns per statement. Usage:
 * bench_stack DEPTH N. scripts/bench runs it with DBPROBE_STACKS=all and =off: the difference
 * is what capturing (and interning) one stack of that depth costs. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static sqlite3_stmt *st;

static void run(long n)
{
	for (long i = 0; i < n; i++) {
		sqlite3_bind_int(st, 1, (int)(i % 100));
		if (sqlite3_step(st) != SQLITE_ROW)
			exit(1);
		sqlite3_reset(st);
	}
}

/* One frame per level; the volatile keeps the compiler from folding the recursion. */
static __attribute__((noinline)) double deep(int depth, long n)
{
	volatile int guard = depth;
	if (guard > 1)
		return deep(depth - 1, n) + 0.0 * guard;
	run(n / 10); /* warm up: the unwinder's caches, the agent's tables */
	double t0 = now_ns();
	run(n);
	return (now_ns() - t0) / (double)n;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int depth = atoi(argv[1]);
	long n = atol(argv[2]);
	sqlite3 *db;
	if (sqlite3_open(":memory:", &db) ||
	    sqlite3_exec(db, "CREATE TABLE t(k INTEGER PRIMARY KEY, v TEXT)", NULL, NULL, NULL))
		return 1;
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	for (int i = 0; i < 100; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "INSERT INTO t VALUES (%d, 'x')", i);
		sqlite3_exec(db, sql, NULL, NULL, NULL);
	}
	sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	if (sqlite3_prepare_v2(db, "SELECT v FROM t WHERE k = ?", -1, &st, NULL))
		return 1;
	printf("%.1f\n", deep(depth > 0 ? depth : 1, n));
	sqlite3_finalize(st);
	sqlite3_close(db);
	return 0;
}
