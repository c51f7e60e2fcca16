/* bench_sqlite: per-statement cost of the two commonest SQLite calls, in ns.
 * Usage: bench_sqlite point|insert N. Prints "<ns per statement>". Run with and without the
 * agent preloaded; scripts/bench alternates the two and reports the difference. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	int point = !strcmp(argv[1], "point");
	long n = atol(argv[2]);
	sqlite3 *db;
	sqlite3_stmt *st;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "CREATE TABLE t(id INTEGER PRIMARY KEY, v INT)", NULL, NULL, NULL);
	sqlite3_exec(db, "BEGIN", NULL, NULL, NULL);
	long rows = point ? 10000 : 0;
	sqlite3_prepare_v2(db, "INSERT INTO t(id, v) VALUES (?, ?)", -1, &st, NULL);
	for (long i = 1; i <= rows; i++) {
		sqlite3_bind_int64(st, 1, i);
		sqlite3_bind_int64(st, 2, i * 3);
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	if (point) {
		sqlite3_finalize(st);
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
		sqlite3_prepare_v2(db, "SELECT v FROM t WHERE id = ?", -1, &st, NULL);
	}
	long long check = 0;
	double t0 = now_ns();
	for (long i = 0; i < n; i++) {
		if (point) {
			/* A point lookup reads its row and resets: the usual shape in C programs.
			 */
			sqlite3_bind_int64(st, 1, i % rows + 1);
			if (sqlite3_step(st) == SQLITE_ROW)
				check += sqlite3_column_int64(st, 0);
		} else {
			sqlite3_bind_int64(st, 1, rows + i + 1);
			sqlite3_bind_int64(st, 2, i);
			check += sqlite3_step(st);
		}
		sqlite3_reset(st);
	}
	double t1 = now_ns();
	sqlite3_finalize(st);
	if (!point)
		sqlite3_exec(db, "COMMIT", NULL, NULL, NULL);
	sqlite3_close(db);
	printf("%.1f\n", (t1 - t0) / (double)n);
	fprintf(stderr, "check %lld\n", check);
	return 0;
}
