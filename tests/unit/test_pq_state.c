/* pq_state: SQL-level PREPARE/EXECUTE/DEALLOCATE parsing, statement splitting, the per-connection
 * queue and prepared-statement map. */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pq_state.h"

struct cmd {
	int op;
	char *name;
	size_t off, len;
};

static struct cmd parse(const char *s)
{
	struct cmd c = { 0 };
	c.op = pq_sql_command(s, strlen(s), &c.name, &c.off, &c.len);
	return c;
}

Test(pq_sql, prepare_with_types_and_body)
{
	const char *s =
		"  /* c */ PREPARE Get_Item (int, text) AS SELECT name FROM t WHERE id = $1";
	struct cmd c = parse(s);
	cr_assert_eq(c.op, PQ_OP_PREPARE);
	cr_assert_str_eq(c.name, "get_item", "unquoted names fold to lower case");
	cr_assert_eq(strncmp(s + c.off, "SELECT name FROM t WHERE id = $1", c.len), 0);
	cr_assert_eq(c.len, strlen("SELECT name FROM t WHERE id = $1"));
	free(c.name);
}

Test(pq_sql, prepare_quoted_name_keeps_case_and_quotes)
{
	struct cmd c = parse("prepare \"My \"\"Q\"\"\" as select 1");
	cr_assert_eq(c.op, PQ_OP_PREPARE);
	cr_assert_str_eq(c.name, "My \"Q\"");
	free(c.name);
}

Test(pq_sql, prepare_without_as_is_not_a_prepare)
{
	struct cmd c = parse("PREPARE foo SELECT 1");
	cr_assert_eq(c.op, PQ_OP_NONE);
	cr_assert_null(c.name);
	c = parse("PREPARE TRANSACTION 'x'"); /* two-phase commit: AS never comes */
	cr_assert_eq(c.op, PQ_OP_NONE);
}

Test(pq_sql, execute_and_deallocate)
{
	struct cmd c = parse("-- run it\nEXECUTE get_item(3)");
	cr_assert_eq(c.op, PQ_OP_EXECUTE);
	cr_assert_str_eq(c.name, "get_item");
	free(c.name);
	c = parse("DEALLOCATE PREPARE Get_Item");
	cr_assert_eq(c.op, PQ_OP_DEALLOCATE);
	cr_assert_str_eq(c.name, "get_item");
	free(c.name);
	c = parse("deallocate all");
	cr_assert_eq(c.op, PQ_OP_DEALLOCATE);
	cr_assert_null(c.name, "ALL: every name");
}

Test(pq_sql, words_that_only_start_alike)
{
	cr_assert_eq(parse("PREPARED_X").op, PQ_OP_NONE);
	cr_assert_eq(parse("executes").op, PQ_OP_NONE);
	cr_assert_eq(parse("SELECT 1").op, PQ_OP_NONE);
	cr_assert_eq(parse("").op, PQ_OP_NONE);
	cr_assert_eq(parse("/* unterminated").op, PQ_OP_NONE);
	cr_assert_eq(parse("EXECUTE").op, PQ_OP_NONE);
	cr_assert_eq(parse("EXECUTE \"unterminated").op, PQ_OP_NONE);
}

Test(pq_split, one_part_per_statement_like_the_server)
{
	struct pq_pend p = { 0 };
	const char *s = "SELECT 1; SELECT ';' ; ; /* ; */ UPDATE t SET a = $$;$$;  ";
	cr_assert_eq(pq_pend_set_sql(&p, s, strlen(s), 1), 0);
	cr_assert_eq(p.parts.n, 3, "empty statements and quoted ';' are no statements");
	cr_assert_str_eq(dbp_parts_at(&p.parts, 0)->q->summary, "SELECT");
	cr_assert_str_eq(dbp_parts_at(&p.parts, 2)->q->summary, "UPDATE t");
	struct pq_conn c = { 0 };
	*pq_queue_push(&c) = p;
	pq_queue_pop(&c); /* frees the parts */
	pq_conn_clear(&c);
}

Test(pq_split, a_trailing_semicolon_keeps_one_inline_part)
{
	struct pq_pend p = { 0 };
	cr_assert_eq(pq_pend_set_sql(&p, "SELECT 1;", 9, 1), 0);
	cr_assert_eq(p.parts.n, 1);
	cr_assert_null(p.parts.many);
	cr_assert_eq(pq_pend_set_sql(&(struct pq_pend){ 0 }, "", 0, 1), 0,
		     "empty string: one part");
}

Test(pq_split, the_extended_protocol_is_never_split)
{
	struct pq_pend p = { 0 };
	const char *s = "SELECT 1; SELECT 2";
	cr_assert_eq(pq_pend_set_sql(&p, s, strlen(s), 0), 0);
	cr_assert_eq(p.parts.n, 1);
}

Test(pq_split, sql_prepare_notes_the_body)
{
	struct pq_pend p = { 0 };
	const char *s = "PREPARE q1 AS SELECT * FROM t WHERE id = $1; EXECUTE q1(5)";
	cr_assert_eq(pq_pend_set_sql(&p, s, strlen(s), 1), 0);
	cr_assert_eq(p.parts.n, 2);
	struct dbp_part *a = dbp_parts_at(&p.parts, 0), *b = dbp_parts_at(&p.parts, 1);
	cr_assert_eq(a->op, PQ_OP_PREPARE);
	cr_assert_str_eq(a->name, "q1");
	cr_assert_str_eq(a->body->text, "SELECT * FROM t WHERE id = $1");
	cr_assert_eq(b->op, PQ_OP_EXECUTE);
	cr_assert_str_eq(b->name, "q1");
	struct pq_conn c = { 0 };
	*pq_queue_push(&c) = p;
	pq_conn_clear(&c);
}

Test(pq_queue, fifo_across_growth_and_wraparound)
{
	struct pq_conn c = { 0 };
	unsigned next_in = 0, next_out = 0;
	for (int round = 0; round < 50; round++) {
		for (int i = 0; i < round % 7 + 1; i++) {
			struct pq_pend *p = pq_queue_push(&c);
			cr_assert_not_null(p);
			p->t0 = next_in++;
		}
		for (int i = 0; i < round % 5 + 1 && c.qlen; i++) {
			cr_assert_eq(pq_queue_head(&c)->t0, next_out++, "oldest first");
			pq_queue_pop(&c);
		}
	}
	cr_assert_eq(c.qlen, next_in - next_out);
	pq_queue_drop_tail(&c);
	cr_assert_eq(c.qlen, next_in - next_out - 1);
	pq_conn_clear(&c);
	cr_assert_eq(c.qlen, 0);
	cr_assert_null(pq_queue_head(&c));
}

Test(pq_prep, names_map_to_texts_per_connection)
{
	struct pq_conn c = { 0 }, other = { 0 };
	char name[32];
	const struct dbp_query_ent *q[300];
	for (int i = 0; i < 300; i++) {
		char sql[64];
		snprintf(sql, sizeof sql, "SELECT c%d FROM t", i);
		q[i] = dbp_query_get(sql, strlen(sql));
		snprintf(name, sizeof name, "s%d", i);
		pq_prep_put(&c, name, q[i]);
	}
	pq_prep_put(&c, "", q[7]); /* the unnamed statement is a name too */
	for (int i = 0; i < 300; i++) {
		snprintf(name, sizeof name, "s%d", i);
		cr_assert_eq(pq_prep_get(&c, name), q[i]);
	}
	cr_assert_eq(pq_prep_get(&c, ""), q[7]);
	cr_assert_null(pq_prep_get(&other, "s1"), "another connection has its own names");
	pq_prep_del(&c, "s5");
	cr_assert_null(pq_prep_get(&c, "s5"));
	cr_assert_eq(pq_prep_get(&c, "s6"), q[6], "a removed name does not hide the next");
	pq_prep_del_if(&c, "s6", q[1]);
	cr_assert_eq(pq_prep_get(&c, "s6"), q[6], "only removed while it maps to that text");
	pq_prep_put(&c, "s5", q[2]);
	cr_assert_eq(pq_prep_get(&c, "s5"), q[2], "a name prepared again");
	pq_prep_del(&c, NULL);
	cr_assert_null(pq_prep_get(&c, "s9"));
	pq_prep_put(&c, "s9", q[9]);
	cr_assert_eq(pq_prep_get(&c, "s9"), q[9], "usable after DEALLOCATE ALL");
	pq_conn_clear(&c);
}

Test(pq_prep, churn_of_names_keeps_the_table_small)
{
	struct pq_conn c = { 0 };
	const struct dbp_query_ent *q = dbp_query_get("SELECT 1", 8);
	char name[32];
	/* pgbench-like clients prepare and deallocate names forever: tombstones must not grow
	 * the table without bound. */
	for (int i = 0; i < 100000; i++) {
		snprintf(name, sizeof name, "n%d", i);
		pq_prep_put(&c, name, q);
		pq_prep_del(&c, name);
	}
	cr_assert_leq(c.prepcap, 64);
	pq_conn_clear(&c);
}
