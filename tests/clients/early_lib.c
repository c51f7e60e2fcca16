/* early_lib: a library whose constructor runs SQLite before the program's main(), possibly
 * before the agent's own constructor: hooks must pass through or record, never crash. */
#include <sqlite3.h>
#include <stdio.h>

int early_result = -1;

__attribute__((constructor)) static void early(void)
{
	sqlite3 *db;
	sqlite3_stmt *st;
	if (sqlite3_open(":memory:", &db) != SQLITE_OK)
		return;
	if (sqlite3_prepare_v2(db, "SELECT 40 + 2 AS early", -1, &st, NULL) == SQLITE_OK) {
		if (sqlite3_step(st) == SQLITE_ROW)
			early_result = sqlite3_column_int(st, 0);
		sqlite3_finalize(st);
	}
	sqlite3_close(db);
}
