/* intern: query entries found by raw text and by shape (texts differing only in literal values)
 * must be exactly the entries normalization gives. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "intern.h"
#include "sqlnorm.h"

static const struct dbp_query_ent *get(const char *s)
{
	return dbp_query_get(s, strlen(s));
}

static uint64_t fp(const char *s)
{
	struct sqlnorm_info ni;
	free(sqlnorm(s, strlen(s), &ni));
	return ni.fingerprint;
}

Test(intern, same_text_same_entry)
{
	cr_assert_eq(get("SELECT a FROM t WHERE id = 1"), get("SELECT a FROM t WHERE id = 1"));
}

Test(intern, texts_of_one_shape_share_the_normalized_entry)
{
	const char *a[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = 12345",
		"UPDATE t SET name = 'it''s' WHERE id IN (1, 2, 3)",
		"INSERT INTO t1 (a, b) VALUES (-5, 'x'), (6, 'y')",
		"SELECT \"col 1\", x FROM t WHERE v > 1.5",
	};
	const char *b[] = {
		"SELECT abalance FROM pgbench_accounts WHERE aid = 9",
		"UPDATE t SET name = '' WHERE id IN (7, 8, 9)",
		"INSERT INTO t1 (a, b) VALUES (-77, 'zz'), (0, '')",
		"SELECT \"col 1\", x FROM t WHERE v > 22.75",
	};
	for (size_t i = 0; i < sizeof a / sizeof a[0]; i++) {
		const struct dbp_query_ent *qa = get(a[i]), *qb = get(b[i]);
		cr_assert_eq(qa, qb, "%s / %s", a[i], b[i]);
		cr_assert_eq(qb->id, fp(b[i]), "the shape hit is what normalizing gives");
	}
}

Test(intern, digits_inside_names_are_not_literals)
{
	const struct dbp_query_ent *q1 = get("SELECT * FROM t1 WHERE a = 1");
	const struct dbp_query_ent *q2 = get("SELECT * FROM t2 WHERE a = 1");
	cr_assert_neq(q1, q2);
	cr_assert_eq(q2->id, fp("SELECT * FROM t2 WHERE a = 1"));
	const struct dbp_query_ent *c1 = get("SELECT \"c1\" FROM t");
	const struct dbp_query_ent *c2 = get("SELECT \"c2\" FROM t");
	cr_assert_neq(c1, c2, "quoted names are kept whole");
}

Test(intern, texts_the_shape_cannot_read_are_normalized_every_time)
{
	/* Comments, escapes, dollar quotes, parameters: each still gets its own right entry. */
	const char *s[] = {
		"SELECT 1 -- it's",
		"SELECT 2 /* ' */",
		"SELECT E'a\\'b', 3",
		"SELECT $$x'$$, 4",
		"SELECT a FROM t WHERE id = $1",
		"SELECT arr[1] FROM t",
		"SELECT 'unterminated",
	};
	for (size_t i = 0; i < sizeof s / sizeof s[0]; i++)
		cr_assert_eq(get(s[i])->id, fp(s[i]), "%s", s[i]);
}

Test(intern, many_values_one_entry)
{
	char buf[128];
	const struct dbp_query_ent *first = get("SELECT v FROM kv WHERE k = 'k0' AND n = 0");
	for (int i = 1; i < 5000; i++) {
		snprintf(buf, sizeof buf, "SELECT v FROM kv WHERE k = 'k%d' AND n = %d", i, i * 31);
		cr_assert_eq(get(buf), first);
	}
}

Test(intern, placeholders_and_prefixed_numbers_keep_their_digits)
{
	/* Pairs whose fingerprints differ: a shared shape must never hand one the other's entry. */
	const char *pairs[][2] = {
		{ "INSERT INTO t(a, b) VALUES (?1, ?2)", "INSERT INTO t(a, b) VALUES (?2, ?1)" },
		{ "UPDATE t SET a = ?1 WHERE id = ?2", "UPDATE t SET a = ?3 WHERE id = ?4" },
		{ "SELECT a FROM t WHERE a = :1", "SELECT a FROM t WHERE a = :2" },
		{ "SELECT 0x1F", "SELECT 1x1F" },
		{ "SELECT 0b1 FROM t", "SELECT 5b1 FROM t" },
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		const struct dbp_query_ent *a = get(pairs[i][0]), *b = get(pairs[i][1]);
		cr_assert_eq(a->id, fp(pairs[i][0]), "%s", pairs[i][0]);
		cr_assert_eq(b->id, fp(pairs[i][1]), "%s", pairs[i][1]);
	}
}

Test(intern, a_full_string_table_still_names_errors)
{
	char buf[32];
	for (int i = 0; i < 5000; i++) {
		snprintf(buf, sizeof buf, "ns-%d", i);
		cr_assert_not_null(dbp_str_get(DBP_STR_NAMESPACE, buf, strlen(buf)));
	}
	const struct dbp_str_ent *e = dbp_error_get("42P01", 5);
	cr_assert_not_null(e);
	cr_assert_eq(e->kind, DBP_STR_ERROR_TYPE);
}

Test(intern, postgres_texts_keep_hash_operators)
{
	const char *s = "SELECT 5 # 3";
	cr_assert_str_eq(dbp_query_get_ex(s, strlen(s), SQLNORM_PG)->text, "SELECT ? # ?");
	cr_assert_str_eq(dbp_query_get(s, strlen(s))->text, "SELECT ?", "MySQL's # comment");
	const char *j = "SELECT doc #- '{a}' FROM t";
	cr_assert_str_eq(dbp_query_get_ex(j, strlen(j), SQLNORM_PG)->text,
			 "SELECT doc #- ? FROM t");
}
