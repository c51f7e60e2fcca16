/* sqlite_exit_thread: a worker thread runs N statements then calls exit() while the main
 * thread is still blocked; the agent's exit flush must deliver them all. Usage: N. */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

static int n;

static void *worker(void *arg)
{
	(void)arg;
	sqlite3 *db;
	sqlite3_stmt *st;
	sqlite3_open(":memory:", &db);
	sqlite3_prepare_v2(db, "SELECT 1 AS from_worker", -1, &st, NULL);
	for (int i = 0; i < n; i++) {
		sqlite3_step(st);
		sqlite3_reset(st);
	}
	printf("worker ran %d\n", n);
	fflush(stdout);
	exit(7); /* from this thread, statements still queued */
}

int main(int argc, char **argv)
{
	n = argc > 1 ? atoi(argv[1]) : 1000;
	pthread_t t;
	pthread_create(&t, NULL, worker, NULL);
	for (;;)
		pause();
}
