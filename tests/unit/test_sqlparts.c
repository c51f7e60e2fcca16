/* sqlparts: statements split as each server splits them. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "sqlparts.h"

/* The statements of s, as lengths of successive pieces. */
static unsigned split(const char *s, enum dbp_dialect d, size_t *lens, unsigned max)
{
	size_t off = 0, len = strlen(s);
	unsigned n = 0;
	while (off < len && n < max) {
		size_t k = dbp_sql_stmt_len(s + off, len - off, d);
		lens[n++] = k;
		off += k;
	}
	return n;
}

static void expect_first(const char *s, enum dbp_dialect d, const char *first)
{
	size_t lens[8];
	cr_assert_geq(split(s, d, lens, 8), 1);
	cr_assert_eq(lens[0], strlen(first), "%s: first statement is %.*s", s, (int)lens[0], s);
	cr_assert_eq(strncmp(s, first, lens[0]), 0);
}

Test(sqlparts, postgres_rules)
{
	expect_first("SELECT '{\"a\":1}'::jsonb #- '{a}'; SELECT 2", DBP_DIALECT_PG,
		     "SELECT '{\"a\":1}'::jsonb #- '{a}';");
	expect_first("SELECT 5 # 3; SELECT 'second'", DBP_DIALECT_PG, "SELECT 5 # 3;");
	expect_first("SELECT E'it\\'s;'; SELECT 1", DBP_DIALECT_PG, "SELECT E'it\\'s;';");
	expect_first("SELECT 'a\\'; SELECT 1", DBP_DIALECT_PG, "SELECT 'a\\';");
	expect_first("SELECT $x$ ; $x$, $1; SELECT 2", DBP_DIALECT_PG, "SELECT $x$ ; $x$, $1;");
	expect_first("SELECT /* a /* nested ; */ still ; */ 1; SELECT 2", DBP_DIALECT_PG,
		     "SELECT /* a /* nested ; */ still ; */ 1;");
	expect_first("CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b); SELECT 1",
		     DBP_DIALECT_PG,
		     "CREATE RULE r AS ON INSERT TO t DO ALSO (NOTIFY a; NOTIFY b);");
	const char *fn = "CREATE FUNCTION f() RETURNS int LANGUAGE sql BEGIN ATOMIC SELECT 1; "
			 "SELECT CASE WHEN true THEN 2 END; END;";
	char buf[256];
	snprintf(buf, sizeof buf, "%s SELECT 'a', 'b'", fn);
	expect_first(buf, DBP_DIALECT_PG, fn);
}

Test(sqlparts, mysql_rules)
{
	expect_first("SELECT 'a\\';b'; SELECT 1", DBP_DIALECT_MYSQL, "SELECT 'a\\';b';");
	expect_first("SELECT \"x;\" # c;\n; SELECT 1", DBP_DIALECT_MYSQL, "SELECT \"x;\" # c;\n;");
	expect_first("SELECT `we;ird` FROM t; SELECT 1", DBP_DIALECT_MYSQL,
		     "SELECT `we;ird` FROM t;");
	expect_first("SELECT 1 /* ; */; SELECT 2", DBP_DIALECT_MYSQL, "SELECT 1 /* ; */;");
	expect_first("BEGIN; SELECT 1", DBP_DIALECT_MYSQL, "BEGIN;");
	expect_first("BEGIN WORK; SELECT 1", DBP_DIALECT_MYSQL, "BEGIN WORK;");
	const char *proc = "CREATE PROCEDURE p() BEGIN DECLARE x INT; IF x THEN SELECT 1; END IF; "
			   "SET x = CASE WHEN 1 THEN 2 END; SELECT x; END;";
	char buf[256];
	snprintf(buf, sizeof buf, "%s CALL p()", proc);
	expect_first(buf, DBP_DIALECT_MYSQL, proc);
	const char *cases = "CREATE PROCEDURE p() BEGIN CASE 1 WHEN 1 THEN SELECT 1; END CASE; "
			    "FOR i IN 1..2 DO SELECT i; END FOR; END;";
	snprintf(buf, sizeof buf, "%s SELECT 20", cases);
	expect_first(buf, DBP_DIALECT_MYSQL, cases);
	const char *anon = "BEGIN NOT ATOMIC SELECT 1; SELECT 2; END;";
	snprintf(buf, sizeof buf, "%s SELECT 3", anon);
	expect_first(buf, DBP_DIALECT_MYSQL, anon);
	/* Elsewhere BEGIN is a transaction or a name. */
	expect_first("SELECT begin FROM t; SELECT 5", DBP_DIALECT_MYSQL, "SELECT begin FROM t;");
	expect_first("XA BEGIN 'x'; SELECT 6", DBP_DIALECT_MYSQL, "XA BEGIN 'x';");
	expect_first("SELECT CASE WHEN a THEN 1 END; SELECT 7", DBP_DIALECT_MYSQL,
		     "SELECT CASE WHEN a THEN 1 END;");
}

Test(sqlparts, parts_skip_empty_statements)
{
	struct dbp_parts ps = { 0 };
	const char *s = "SELECT 1; ; -- nothing\n; SELECT 5 # 3; SELECT 6\n";
	cr_assert_eq(dbp_parts_set(&ps, s, strlen(s), 1, DBP_DIALECT_PG, NULL), 0);
	cr_assert_eq(ps.n, 3);
	dbp_parts_free(&ps);
	cr_assert_eq(dbp_parts_set(&ps, s, strlen(s), 1, DBP_DIALECT_MYSQL, NULL), 0);
	cr_assert_eq(ps.n, 2, "in MySQL, # comments out the rest of the line");
	dbp_parts_free(&ps);
}
