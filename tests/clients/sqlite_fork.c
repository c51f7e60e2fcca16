/* sqlite_fork: the parent runs statements before and after fork(); the child runs its own.
 * Usage: sqlite_fork N. Parent: N "parent_before" + N "parent_after" selects; child: N+2
 * "child" selects. Prints both pids so a test can match them against the exporter's agents. */
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void run(sqlite3 *db, const char *sql, int times)
{
	sqlite3_stmt *st;
	sqlite3_prepare_v2(db, sql, -1, &st, NULL);
	for (int i = 0; i < times; i++) {
		while (sqlite3_step(st) == SQLITE_ROW)
			;
		sqlite3_reset(st);
	}
	sqlite3_finalize(st);
}

int main(int argc, char **argv)
{
	int n = argc > 1 ? atoi(argv[1]) : 3;
	sqlite3 *db;
	sqlite3_open(":memory:", &db);
	run(db, "SELECT 1 AS parent_before", n);
	fflush(stdout);
	pid_t child = fork();
	if (child == 0) {
		run(db, "SELECT 1 AS child", n + 2);
		sqlite3_close(db);
		exit(0);
	}
	int status;
	waitpid(child, &status, 0);
	run(db, "SELECT 1 AS parent_after", n);
	sqlite3_close(db);
	printf("parent=%d child=%d child_status=%d\n", (int)getpid(), (int)child, status);
	return 0;
}
