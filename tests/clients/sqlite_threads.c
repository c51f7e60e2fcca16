/* sqlite_threads: T threads, each inserting and reading back N rows on its own connection.
 * Usage: sqlite_threads DBFILE THREADS N. Exact workload: T*N inserts, T*N point selects that
 * succeed, plus the attempts SQLite refused with SQLITE_BUSY (retried, and reported, since
 * each is a failed call of its own). */
#include <pthread.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>

static const char *path;
static int n;
static long busy_ins, busy_sel;

/* Steps until SQLite stops answering BUSY; counts the refusals. */
static int step(sqlite3_stmt *st, long *busy)
{
	int rc;
	while ((rc = sqlite3_step(st)) == SQLITE_BUSY || (rc & 0xff) == SQLITE_BUSY) {
		__atomic_add_fetch(busy, 1, __ATOMIC_RELAXED);
		sqlite3_reset(st);
	}
	return rc;
}

static void *worker(void *arg)
{
	long id = (long)arg;
	sqlite3 *db;
	sqlite3_stmt *ins, *sel;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return (void *)1;
	sqlite3_busy_timeout(db, 10000);
	sqlite3_prepare_v2(db, "INSERT INTO kv(thread, i, v) VALUES (?, ?, ?)", -1, &ins, NULL);
	sqlite3_prepare_v2(db, "SELECT v FROM kv WHERE thread = ? AND i = ?", -1, &sel, NULL);
	long bad = 0;
	for (int i = 0; i < n; i++) {
		sqlite3_bind_int(ins, 1, (int)id);
		sqlite3_bind_int(ins, 2, i);
		sqlite3_bind_int(ins, 3, i * 7);
		if (step(ins, &busy_ins) != SQLITE_DONE)
			bad++;
		sqlite3_reset(ins);
		sqlite3_bind_int(sel, 1, (int)id);
		sqlite3_bind_int(sel, 2, i);
		if (step(sel, &busy_sel) != SQLITE_ROW || sqlite3_column_int(sel, 0) != i * 7)
			bad++;
		sqlite3_reset(sel);
	}
	sqlite3_finalize(ins);
	sqlite3_finalize(sel);
	sqlite3_close(db);
	return (void *)bad;
}

int main(int argc, char **argv)
{
	if (argc != 4) {
		fprintf(stderr, "usage: %s DBFILE THREADS N\n", argv[0]);
		return 2;
	}
	path = argv[1];
	int threads = atoi(argv[2]);
	n = atoi(argv[3]);
	sqlite3 *db;
	if (sqlite3_open(path, &db) != SQLITE_OK)
		return 1;
	/* WAL lets readers and the writer overlap; the busy timeout serializes writers. */
	sqlite3_exec(db,
		     "PRAGMA journal_mode=WAL; CREATE TABLE kv(thread INT, i INT, v INT);"
		     "CREATE INDEX kv_ti ON kv(thread, i);",
		     NULL, NULL, NULL);
	sqlite3_close(db);
	pthread_t t[64];
	if (threads > 64)
		threads = 64;
	for (long i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, worker, (void *)i);
	long bad = 0;
	for (int i = 0; i < threads; i++) {
		void *r;
		pthread_join(t[i], &r);
		bad += (long)r;
	}
	printf("threads=%d n=%d failures=%ld busy_inserts=%ld busy_selects=%ld\n", threads, n, bad,
	       busy_ins, busy_sel);
	return bad != 0;
}
