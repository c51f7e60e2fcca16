/* sqlite_phases: a steady workload in phases with pauses, for tests that start or kill the
 * exporter while it runs. Usage: sqlite_phases PHASES PER_PHASE PAUSE_MS.
 * Its output depends only on its arguments, so runs with and without the agent compare. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	if (argc != 4)
		return 2;
	int phases = atoi(argv[1]), per = atoi(argv[2]), pause_ms = atoi(argv[3]);
	sqlite3 *db;
	sqlite3_stmt *ins, *sum;
	sqlite3_open(":memory:", &db);
	sqlite3_exec(db, "CREATE TABLE n(v INT)", NULL, NULL, NULL);
	sqlite3_prepare_v2(db, "INSERT INTO n VALUES (?)", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "SELECT sum(v) FROM n", -1, &sum, NULL);
	long long total = 0;
	for (int p = 0; p < phases; p++) {
		for (int i = 0; i < per; i++) {
			sqlite3_bind_int(ins, 1, p * per + i);
			sqlite3_step(ins);
			sqlite3_reset(ins);
		}
		sqlite3_step(sum);
		total = sqlite3_column_int64(sum, 0);
		sqlite3_reset(sum);
		printf("phase %d sum %lld\n", p, total);
		fflush(stdout);
		struct timespec ts = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
		nanosleep(&ts, NULL);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(sum);
	sqlite3_close(db);
	return total % 7 == 3 ? 3 : 0; /* a non-trivial exit code to compare */
}
