/* sqlite_exec: sqlite3_exec scripts whose statements are known, against a database file that
 * already has a schema (so SQLite loads it internally inside prepare).
 * Usage: sqlite_exec DBFILE. Prints what each exec returned and the rows its callback saw. */
#include <sqlite3.h>
#include <stdio.h>
#include <string.h>

static int rows_seen;

static int count_rows(void *arg, int n, char **vals, char **names)
{
	(void)arg;
	(void)n;
	(void)vals;
	(void)names;
	rows_seen++;
	return 0;
}

static int stop_after_two(void *arg, int n, char **vals, char **names)
{
	(void)arg;
	(void)n;
	(void)vals;
	(void)names;
	return ++rows_seen >= 2;
}

static void exec(sqlite3 *db, const char *sql, sqlite3_callback cb)
{
	char *err = NULL;
	rows_seen = 0;
	int rc = sqlite3_exec(db, sql, cb, NULL, &err);
	printf("rc=%d errcode=%d rows=%d err=%s\n", rc, sqlite3_extended_errcode(db), rows_seen,
	       err ? err : "-");
	sqlite3_free(err);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	sqlite3 *db;
	/* Phase 1: a schema, written through a first connection. */
	sqlite3_open(argv[1], &db);
	exec(db,
	     "CREATE TABLE items(id INTEGER PRIMARY KEY, name TEXT UNIQUE, qty INT);"
	     "CREATE TABLE audit(item INT);"
	     "CREATE TRIGGER items_audit AFTER INSERT ON items BEGIN "
	     "INSERT INTO audit VALUES (new.id); END;",
	     NULL);
	sqlite3_close(db);

	/* Phase 2: a new connection loads that schema inside its first prepare. */
	sqlite3_open(argv[1], &db);
	/* 5 statements, one an empty piece and one a comment: 3 inserts, 1 select, 1 update. */
	exec(db,
	     "INSERT INTO items(name, qty) VALUES ('a', 1); ;"
	     "INSERT INTO items(name, qty) VALUES ('b', 2);"
	     "/* just a comment */"
	     "INSERT INTO items(name, qty) VALUES ('c', 3);"
	     "SELECT * FROM items;"
	     "UPDATE items SET qty = qty + 1 WHERE qty >= 2",
	     count_rows);
	/* Fails at run time (UNIQUE) in its second statement; the third never runs. */
	exec(db,
	     "SELECT count(*) FROM audit;"
	     "INSERT INTO items(name, qty) VALUES ('a', 9);"
	     "DELETE FROM items",
	     count_rows);
	/* Fails to prepare its second statement (missing table). */
	exec(db,
	     "SELECT name FROM items WHERE id = 1; SELECT * FROM no_such_table; DELETE FROM items",
	     count_rows);
	/* The callback stops it after two rows. */
	exec(db, "SELECT name FROM items ORDER BY id", stop_after_two);
	/* A callback-less exec. */
	exec(db, "DELETE FROM audit", NULL);
	sqlite3_close(db);
	return 0;
}
