/* sqlite_early: linked with early_lib, whose constructor queried SQLite before main(). */
#include <sqlite3.h>
#include <stdio.h>

extern int early_result;

int main(void)
{
	sqlite3 *db;
	sqlite3_open(":memory:", &db);
	int rc = sqlite3_exec(db, "SELECT 1 AS from_main", NULL, NULL, NULL);
	sqlite3_close(db);
	printf("early=%d main=%d\n", early_result, rc);
	return 0;
}
