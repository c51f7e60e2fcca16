/* stack_plugin: a shared object loaded with dlopen() by stack_callers (mode plugin). Its own
 * function plugin_lookup() runs the statement, so the stacks' first frame is in this object,
 * on the line of the marker comment; built with -g -O0 like the program. Built twice: the
 * second build (stack_plugin2.so, STACK_PLUGIN_SHIFT) has more code before plugin_lookup, so
 * an offset into one build is other code in the other. */
#include <sqlite3.h>
#include <stddef.h>

#define NOINLINE __attribute__((noinline))

static const char PLUGIN_SQL[] = "UPDATE plugin_items SET n = n + 1 WHERE id = ?";

#ifdef STACK_PLUGIN_SHIFT
/* Never called: it moves what follows further into .text. */
__attribute__((visibility("default"))) int stack_plugin_shift(int n)
{
	volatile int acc = 0;
	for (int i = 0; i < n; i++) {
		acc += i * 3;
		acc ^= acc >> 2;
		acc += acc << 1;
		acc -= i;
		acc ^= 0x5a5a;
		acc += acc / 7;
		acc -= acc % 5;
		acc ^= acc << 3;
	}
	return acc;
}
#endif

static NOINLINE int plugin_lookup(sqlite3 *db, sqlite3_stmt *st, int i)
{
	sqlite3_bind_int(st, 1, i % 2 + 1);
	int rc = sqlite3_step(st); /* CALL_PLUGIN */
	sqlite3_reset(st);
	return rc == SQLITE_DONE && sqlite3_changes(db) == 1;
}

/* Runs the statement N times; returns how many updated their row, -1 when SQLite failed. */
__attribute__((visibility("default"))) int stack_plugin_run(int n)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	int done = -1;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		goto out;
	if (sqlite3_exec(db,
			 "CREATE TABLE plugin_items(id INTEGER PRIMARY KEY, n INT);"
			 "INSERT INTO plugin_items VALUES (1, 0), (2, 0);",
			 NULL, NULL, NULL) != SQLITE_OK)
		goto out;
	if (sqlite3_prepare_v2(db, PLUGIN_SQL, -1, &st, NULL) != SQLITE_OK)
		goto out;
	done = 0;
	for (int i = 0; i < n; i++)
		done += plugin_lookup(db, st, i);
	sqlite3_finalize(st);
out:
	sqlite3_close(db);
	return done;
}
