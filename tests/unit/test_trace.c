/* trace: W3C traceparent parsing, transaction statements, sqlcommenter text, samplers, and the
 * ids a record gets (spans, parents, transactions). */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "config.h"
#include "intern.h"
#include "ring.h"
#include "trace.h"

static const uint8_t zero[16];

static void cfg_default(void)
{
	memset(&dbp_cfg, 0, sizeof dbp_cfg);
	dbp_cfg.sampler = DBP_SAMPLER_PARENT_ON;
	dbp_cfg.sampler_ratio = 1.0;
	dbp_cfg.sampler_bound = UINT64_MAX;
	dbp_cfg.slow_ns = 100000000ull;
	dbp_clock_fp = 1ull << 32; /* one tick, one nanosecond */
}

static const struct dbp_query_ent *q(const char *s)
{
	return dbp_query_get(s, strlen(s));
}

static struct dbp_rec call(const char *sql, uint64_t t0, uint64_t dur)
{
	return (struct dbp_rec){
		.query = q(sql), .t0 = t0, .dur = dur, .db_system = DBP_DB_SQLITE, .kind = DBP_RK_CALL
	};
}

TestSuite(trace, .init = cfg_default);

Test(trace, parses_w3c_traceparent)
{
	struct dbp_trace_parent p;
	cr_assert_eq(dbp_trace_parse_parent(
			     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", &p),
		     0);
	cr_assert(p.valid);
	cr_assert(p.sampled);
	cr_assert_eq(p.trace_id[0], 0x4b);
	cr_assert_eq(p.trace_id[15], 0x36);
	cr_assert_eq(p.span_id[0], 0x00);
	cr_assert_eq(p.span_id[7], 0xb7);
	cr_assert_eq(dbp_trace_parse_parent(
			     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00", &p),
		     0);
	cr_assert_not(p.sampled);
	/* A later version may add fields after a dash. */
	cr_assert_eq(dbp_trace_parse_parent(
			     "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-ever", &p),
		     0);
	const char *bad[] = {
		"",
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0",   /* short */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", /* 00 is exact */
		"00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",  /* uppercase */
		"00-00000000000000000000000000000000-00f067aa0ba902b7-01",  /* zero trace */
		"00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",  /* zero span */
		"ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",  /* version ff */
		"00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
		"00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
	};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		cr_assert_eq(dbp_trace_parse_parent(bad[i], &p), -1, "%s", bad[i]);
		cr_assert_not(p.valid);
	}
}

Test(trace, knows_transaction_statements)
{
	struct {
		const char *sql;
		enum dbp_txn_kind k;
	} cases[] = {
		{ "BEGIN", DBP_TXN_BEGIN },
		{ "begin transaction", DBP_TXN_BEGIN },
		{ "BEGIN IMMEDIATE", DBP_TXN_BEGIN },
		{ "START TRANSACTION READ ONLY", DBP_TXN_BEGIN },
		{ "START SLAVE", DBP_TXN_NONE },
		{ "COMMIT", DBP_TXN_COMMIT },
		{ "commit work", DBP_TXN_COMMIT },
		{ "END", DBP_TXN_COMMIT },
		{ "END TRANSACTION", DBP_TXN_COMMIT },
		{ "ROLLBACK", DBP_TXN_ROLLBACK },
		{ "ABORT", DBP_TXN_ROLLBACK },
		{ "ROLLBACK TO SAVEPOINT a", DBP_TXN_NONE },
		{ "ROLLBACK TO a", DBP_TXN_NONE },
		{ "ROLLBACK WORK TO SAVEPOINT a", DBP_TXN_NONE },
		{ "ROLLBACK TRANSACTION TO a", DBP_TXN_NONE },
		{ "COMMIT PREPARED 'x'", DBP_TXN_NONE },
		{ "ROLLBACK PREPARED 'x'", DBP_TXN_NONE },
		{ "SELECT 1", DBP_TXN_NONE },
		{ "SAVEPOINT a", DBP_TXN_NONE },
		{ "BEGIN NOT ATOMIC SELECT 1; END", DBP_TXN_NONE },
		{ "PREPARE TRANSACTION 'x'", DBP_TXN_COMMIT },
		{ "PREPARE p AS SELECT 1", DBP_TXN_NONE },
		{ "", DBP_TXN_NONE },
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
		cr_assert_eq(dbp_trace_txn_kind(cases[i].sql, strlen(cases[i].sql)), cases[i].k,
			     "%s", cases[i].sql);
	/* Interned entries carry it. */
	cr_assert_eq(q("begin")->txn, DBP_TXN_BEGIN);
	cr_assert_eq(q("/* x */ COMMIT;")->txn, DBP_TXN_COMMIT);
	cr_assert_eq(q("select 1")->txn, DBP_TXN_NONE);
}

static const char TP[] = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

static char *comment(const char *sql, char *buf, size_t cap, int *heap)
{
	size_t n = 0;
	char *out = dbp_trace_comment(sql, strlen(sql), TP, buf, cap, heap, &n);
	if (out)
		cr_assert_eq(n, strlen(out));
	return out;
}

Test(trace, sqlcommenter_text)
{
	char buf[256];
	int heap;
	cr_assert_str_eq(comment("SELECT 1", buf, sizeof buf, &heap),
			 "SELECT 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-"
			 "00f067aa0ba902b7-01'*/");
	cr_assert_not(heap);
	/* Before the trailing ';' and blanks. */
	cr_assert_str_eq(comment("UPDATE t SET a = 1 ;\n", buf, sizeof buf, &heap),
			 "UPDATE t SET a = 1 /*traceparent='00-4bf92f3577b34da6a3ce929d0e0e4736-"
			 "00f067aa0ba902b7-01'*/ ;\n");
	/* Statements with a comment of their own, or only blanks, stay as they are. */
	cr_assert_null(comment("SELECT /*+ hint */ 1", buf, sizeof buf, &heap));
	cr_assert_null(comment("SELECT 1 -- why", buf, sizeof buf, &heap));
	cr_assert_null(comment("SELECT 1 # mysql", buf, sizeof buf, &heap));
	cr_assert_null(comment(" ; ", buf, sizeof buf, &heap));
	cr_assert_null(comment("DO $$ BEGIN END $$", buf, sizeof buf, &heap));
	/* SQL-level PREPARE: the body the server keeps must not name this call. */
	cr_assert_null(comment(" prepare p AS SELECT 1", buf, sizeof buf, &heap));
	cr_assert_not_null(comment("EXECUTE p", buf, sizeof buf, &heap));
	cr_assert_null(comment("SET x = 1; PREPARE p AS SELECT 1", buf, sizeof buf, &heap));
	cr_assert_null(comment("CREATE PROCEDURE p() SELECT 1", buf, sizeof buf, &heap));
	cr_assert_null(comment("alter event e do select 1", buf, sizeof buf, &heap));
	cr_assert_not_null(comment("SELECT 'CREATE'", buf, sizeof buf, &heap));
	/* A length that counted the NUL terminator. */
	size_t n;
	cr_assert_null(dbp_trace_comment("SELECT 1", 9, TP, buf, sizeof buf, &heap, &n));
	/* Comment markers inside strings are not comments. */
	cr_assert_not_null(comment("SELECT '--', \"/*\", `#`", buf, sizeof buf, &heap));
	cr_assert_not_null(comment("SELECT 'it''s -- not'", buf, sizeof buf, &heap));
	/* Too long for the buffer: on the heap. */
	char small[16];
	char *h = comment("SELECT 12345678901234567890", small, sizeof small, &heap);
	cr_assert(heap);
	cr_assert_eq(strncmp(h, "SELECT 12345678901234567890 /*traceparent='", 43), 0);
	free(h);
}

Test(trace, ids_are_random_and_never_zero)
{
	uint64_t a = dbp_trace_rand(), b = dbp_trace_rand();
	cr_assert_neq(a, 0);
	cr_assert_neq(b, 0);
	cr_assert_neq(a, b);
}

Test(trace, always_on_gives_every_call_a_root_span)
{
	struct dbp_rec r = call("SELECT 1", 1000, 10);
	cr_assert_eq(dbp_trace_assign(&r, NULL), 0);
	cr_assert(r.flags & DBP_CALL_SAMPLED);
	cr_assert_neq(memcmp(r.trace_id, zero, 16), 0);
	cr_assert_neq(memcmp(r.span_id, zero, 8), 0);
	cr_assert_eq(memcmp(r.parent_id, zero, 8), 0);
	struct dbp_rec r2 = call("SELECT 1", 2000, 10);
	dbp_trace_assign(&r2, NULL);
	cr_assert_neq(memcmp(r.trace_id, r2.trace_id, 16), 0, "each call its own trace");
}

Test(trace, always_off_keeps_only_slow_and_failed_calls)
{
	dbp_cfg.sampler = DBP_SAMPLER_OFF;
	struct dbp_rec r = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r, NULL);
	cr_assert_not(r.flags & DBP_CALL_SAMPLED);
	cr_assert_eq(memcmp(r.span_id, zero, 8), 0);
	struct dbp_rec slow = call("SELECT 1", 1000, 200000000);
	dbp_trace_assign(&slow, NULL);
	cr_assert_not(slow.flags & DBP_CALL_SAMPLED);
	cr_assert_neq(memcmp(slow.span_id, zero, 8), 0);
	cr_assert_neq(memcmp(slow.trace_id, zero, 16), 0);
	struct dbp_rec failed = call("SELECT 1", 1000, 10);
	failed.flags = DBP_CALL_ERROR;
	dbp_trace_assign(&failed, NULL);
	cr_assert_neq(memcmp(failed.span_id, zero, 8), 0);
}

Test(trace, ratio_sampler_keeps_about_its_share)
{
	dbp_cfg.sampler = DBP_SAMPLER_RATIO;
	dbp_cfg.sampler_ratio = 0.25;
	dbp_cfg.sampler_bound = (uint64_t)(0.25 * 18446744073709551616.0);
	int kept = 0;
	for (int i = 0; i < 20000; i++) {
		struct dbp_rec r = call("SELECT 1", 1000, 10);
		dbp_trace_assign(&r, NULL);
		kept += (r.flags & DBP_CALL_SAMPLED) != 0;
		/* The choice follows the trace id: the same id, the same answer. */
		if (r.flags & DBP_CALL_SAMPLED) {
			uint64_t low = 0;
			for (int k = 8; k < 16; k++)
				low = low << 8 | r.trace_id[k];
			cr_assert_lt(low, dbp_cfg.sampler_bound);
		}
	}
	cr_assert_gt(kept, 4500);
	cr_assert_lt(kept, 5500);
}

Test(trace, a_traceparent_is_every_call_s_parent_and_decides)
{
	dbp_trace_parse_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
			       &dbp_cfg.parent);
	struct dbp_rec r = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r, NULL);
	cr_assert(r.flags & DBP_CALL_SAMPLED);
	cr_assert_eq(memcmp(r.trace_id, dbp_cfg.parent.trace_id, 16), 0);
	cr_assert_eq(memcmp(r.parent_id, dbp_cfg.parent.span_id, 8), 0);
	/* A parent that was not sampled: parent-based samplers follow it. */
	dbp_trace_parse_parent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
			       &dbp_cfg.parent);
	struct dbp_rec r2 = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r2, NULL);
	cr_assert_not(r2.flags & DBP_CALL_SAMPLED);
	cr_assert_eq(memcmp(r2.span_id, zero, 8), 0);
	/* always_on does not. */
	dbp_cfg.sampler = DBP_SAMPLER_ON;
	struct dbp_rec r3 = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r3, NULL);
	cr_assert(r3.flags & DBP_CALL_SAMPLED);
}

Test(trace, a_transaction_is_the_parent_of_its_statements)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	cr_assert_eq(dbp_trace_assign(&b, &tc), 0);
	cr_assert(tc.txn.open);
	struct dbp_rec s = call("UPDATE t SET a = 1", 2000, 10);
	dbp_trace_assign(&s, &tc);
	struct dbp_rec c = call("COMMIT", 3000, 500);
	cr_assert_eq(dbp_trace_assign(&c, &tc), 1);
	cr_assert_not(tc.txn.open);
	const struct dbp_rec *t = dbp_trace_txn_rec();
	cr_assert(t->flags & DBP_CALL_TXN);
	cr_assert_not(t->flags & DBP_CALL_ROLLBACK);
	cr_assert(t->flags & DBP_CALL_SAMPLED);
	cr_assert_eq(t->t0, 1000);
	cr_assert_eq(t->dur, 2500);
	cr_assert_eq(memcmp(t->parent_id, zero, 8), 0);
	/* Every statement, BEGIN and COMMIT included, is a child of the transaction. */
	const struct dbp_rec *kids[] = { &b, &s, &c };
	for (int i = 0; i < 3; i++) {
		cr_assert_eq(memcmp(kids[i]->trace_id, t->trace_id, 16), 0);
		cr_assert_eq(memcmp(kids[i]->parent_id, t->span_id, 8), 0);
		cr_assert_neq(memcmp(kids[i]->span_id, t->span_id, 8), 0);
	}
	/* After it, a statement is a root again. */
	struct dbp_rec after = call("SELECT 1", 4000, 10);
	dbp_trace_assign(&after, &tc);
	cr_assert_eq(memcmp(after.parent_id, zero, 8), 0);
	cr_assert_neq(memcmp(after.trace_id, t->trace_id, 16), 0);
}

Test(trace, a_commit_the_server_rolled_back_ends_in_rollback)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	dbp_trace_assign(&b, &tc);
	struct dbp_rec c = call("COMMIT", 2000, 10);
	c.flags = DBP_CALL_ROLLBACK;
	cr_assert_eq(dbp_trace_assign(&c, &tc), 1);
	cr_assert(dbp_trace_txn_rec()->flags & DBP_CALL_ROLLBACK);
	cr_assert_not(c.flags & DBP_CALL_ROLLBACK, "not a flag of the call on the wire");
}

Test(trace, rollback_and_failed_begin)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	b.flags = DBP_CALL_ERROR; /* a BEGIN that failed opens nothing */
	dbp_trace_assign(&b, &tc);
	cr_assert_not(tc.txn.open);
	struct dbp_rec b2 = call("START TRANSACTION", 1000, 10);
	dbp_trace_assign(&b2, &tc);
	cr_assert(tc.txn.open);
	struct dbp_rec sp = call("ROLLBACK TO SAVEPOINT x", 1500, 10);
	cr_assert_eq(dbp_trace_assign(&sp, &tc), 0);
	cr_assert(tc.txn.open);
	struct dbp_rec r = call("ROLLBACK", 2000, 10);
	cr_assert_eq(dbp_trace_assign(&r, &tc), 1);
	cr_assert(dbp_trace_txn_rec()->flags & DBP_CALL_ROLLBACK);
}

Test(trace, an_unsampled_transaction_is_kept_for_its_slow_statement)
{
	dbp_cfg.sampler = DBP_SAMPLER_OFF;
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	dbp_trace_assign(&b, &tc);
	cr_assert_eq(memcmp(b.span_id, zero, 8), 0);
	struct dbp_rec c0 = call("COMMIT", 1100, 10);
	cr_assert_eq(dbp_trace_assign(&c0, &tc), 0, "nothing kept: no transaction span");

	dbp_trace_assign(&b, &tc);
	struct dbp_rec slow = call("UPDATE t SET a = 1", 2000, 300000000);
	dbp_trace_assign(&slow, &tc);
	cr_assert_neq(memcmp(slow.span_id, zero, 8), 0);
	struct dbp_rec c = call("COMMIT", 400000000, 10);
	cr_assert_eq(dbp_trace_assign(&c, &tc), 1);
	const struct dbp_rec *t = dbp_trace_txn_rec();
	cr_assert_not(t->flags & DBP_CALL_SAMPLED);
	cr_assert_eq(memcmp(slow.parent_id, t->span_id, 8), 0);
}

Test(trace, pre_given_ids_are_the_call_s)
{
	struct dbp_tconn tc = { 0 };
	char tp[56];
	dbp_trace_pre(&tc, &tc.pre, tp);
	cr_assert_eq(strlen(tp), 55);
	cr_assert_eq(strncmp(tp, "00-", 3), 0);
	cr_assert_eq(strcmp(tp + 52, "-01"), 0);
	struct dbp_trace_parent back;
	cr_assert_eq(dbp_trace_parse_parent(tp, &back), 0);
	struct dbp_rec r = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r, &tc);
	cr_assert_eq(memcmp(r.trace_id, back.trace_id, 16), 0);
	cr_assert_eq(memcmp(r.span_id, back.span_id, 8), 0);
	cr_assert_not(tc.pre.valid, "used once");
	struct dbp_rec r2 = call("SELECT 1", 1000, 10);
	dbp_trace_assign(&r2, &tc);
	cr_assert_neq(memcmp(r2.span_id, back.span_id, 8), 0);
}

static struct dbp_rec failed_call(const char *sql, uint8_t system, const char *err)
{
	struct dbp_rec r = call(sql, 5000, 10);
	r.db_system = system;
	r.flags = DBP_CALL_ERROR;
	r.err = dbp_error_get(err, strlen(err));
	return r;
}

Test(trace, a_failed_commit_rolled_back)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	b.db_system = DBP_DB_POSTGRESQL;
	dbp_trace_assign(&b, &tc);
	struct dbp_rec c = failed_call("COMMIT", DBP_DB_POSTGRESQL, "40001");
	cr_assert_eq(dbp_trace_assign(&c, &tc), 1);
	const struct dbp_rec *t = dbp_trace_txn_rec();
	cr_assert(t->flags & DBP_CALL_ROLLBACK);
	cr_assert(t->flags & DBP_CALL_ERROR);
	cr_assert_str_eq(t->err->str, "40001");
	cr_assert_not(tc.txn.open);
}

Test(trace, a_failed_commit_that_left_it_open_keeps_the_transaction_open)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	dbp_trace_assign(&b, &tc);
	struct dbp_rec c = failed_call("COMMIT", DBP_DB_SQLITE, "SQLITE_BUSY");
	c.flags |= DBP_REC_TXN_OPEN; /* the shim asked the connection */
	cr_assert_eq(dbp_trace_assign(&c, &tc), 0);
	cr_assert_not(c.flags & DBP_REC_TXN_OPEN, "not a flag of the wire");
	cr_assert(tc.txn.open);
	cr_assert_eq(memcmp(c.parent_id, tc.txn.span_id, 8), 0);
	struct dbp_rec c2 = call("COMMIT", 9000, 10);
	cr_assert_eq(dbp_trace_assign(&c2, &tc), 1);
	cr_assert_not(dbp_trace_txn_rec()->flags & DBP_CALL_ROLLBACK);
}

Test(trace, mysql_begin_commits_the_open_transaction)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	b.db_system = DBP_DB_MARIADB;
	dbp_trace_assign(&b, &tc);
	uint8_t first[8];
	memcpy(first, tc.txn.span_id, 8);
	struct dbp_rec b2 = call("START TRANSACTION", 2000, 10);
	b2.db_system = DBP_DB_MARIADB;
	cr_assert_eq(dbp_trace_assign(&b2, &tc), 1);
	const struct dbp_rec *t = dbp_trace_txn_rec();
	cr_assert_eq(memcmp(t->span_id, first, 8), 0);
	cr_assert_eq(t->dur, 1000);
	cr_assert(tc.txn.open);
	cr_assert_neq(memcmp(tc.txn.span_id, first, 8), 0);
	cr_assert_eq(memcmp(b2.parent_id, tc.txn.span_id, 8), 0);
	/* PostgreSQL ignores a nested BEGIN: one transaction. */
	struct dbp_tconn pg = { 0 };
	struct dbp_rec p1 = call("BEGIN", 1000, 10), p2 = call("BEGIN", 2000, 10);
	p1.db_system = p2.db_system = DBP_DB_POSTGRESQL;
	dbp_trace_assign(&p1, &pg);
	cr_assert_eq(dbp_trace_assign(&p2, &pg), 0);
	cr_assert_eq(memcmp(p2.parent_id, p1.parent_id, 8), 0);
}

Test(trace, a_connection_gone_rolls_its_transaction_back)
{
	struct dbp_tconn tc = { 0 };
	cr_assert_eq(dbp_trace_conn_gone(&tc), 0);
	struct dbp_rec b = call("BEGIN", 1000, 10);
	dbp_trace_assign(&b, &tc);
	cr_assert_eq(dbp_trace_conn_gone(&tc), 1);
	cr_assert_not(tc.txn.open);
	const struct dbp_rec *t = dbp_trace_txn_rec();
	cr_assert(t->flags & DBP_CALL_ROLLBACK);
	cr_assert_eq(memcmp(t->span_id, b.parent_id, 8), 0);
}

Test(trace, a_comment_s_ids_given_before_mysql_s_implicit_commit)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_rec b = call("BEGIN", 1000, 10);
	b.db_system = DBP_DB_MYSQL;
	dbp_trace_assign(&b, &tc);
	uint8_t old_trace[16], old_parent[8];
	memcpy(old_trace, tc.txn.trace_id, 16);
	memcpy(old_parent, tc.txn.parent_id, 8);
	char tp[56];
	dbp_trace_pre(&tc, &tc.pre, tp); /* while the first transaction is open */
	struct dbp_rec b2 = call("BEGIN", 2000, 10);
	b2.db_system = DBP_DB_MYSQL;
	cr_assert_eq(dbp_trace_assign(&b2, &tc), 1);
	/* The comment named the old trace: the new transaction keeps it, but is no child of the
	 * old one. */
	cr_assert_eq(memcmp(tc.txn.trace_id, old_trace, 16), 0);
	cr_assert_eq(memcmp(tc.txn.parent_id, old_parent, 8), 0);
	cr_assert_eq(memcmp(b2.parent_id, tc.txn.span_id, 8), 0);
}

Test(trace, sqlcomment_make_gives_text_and_ids_together)
{
	struct dbp_tconn tc = { 0 };
	struct dbp_sqlcomment o;
	dbp_sqlcomment_make(&o, NULL, "SELECT 1", SIZE_MAX);
	cr_assert_null(o.text, "no connection state: the text goes as it is");
	cr_assert_not(o.pre.valid);
	dbp_sqlcomment_make(&o, &tc, "SELECT 1", SIZE_MAX);
	cr_assert_not_null(o.text);
	cr_assert(o.pre.valid);
	struct dbp_trace_parent back;
	const char *tp = strstr(o.text, "traceparent='");
	cr_assert_not_null(tp);
	char id[56];
	memcpy(id, tp + 13, 55);
	id[55] = 0;
	cr_assert_eq(dbp_trace_parse_parent(id, &back), 0);
	cr_assert_eq(memcmp(back.span_id, o.pre.span_id, 8), 0, "the text names the ids given");
	dbp_sqlcomment_free(&o);
	cr_assert_null(o.text);
	dbp_sqlcomment_make(&o, &tc, "SELECT 1 -- mine", SIZE_MAX);
	cr_assert_null(o.text);
	cr_assert_not(o.pre.valid, "refused: its ids are no call's");
	char big[3000];
	memset(big, 'x', sizeof big);
	memcpy(big, "SELECT ", 7);
	dbp_sqlcomment_make(&o, &tc, big, sizeof big);
	cr_assert(o.heap);
	cr_assert_eq(o.len, sizeof big + 74); /* the comment and a blank */
	dbp_sqlcomment_free(&o);
}
