/* trace: span identity for every recorded call (see trace.h). */
#include "trace.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "ring.h"

/* ---- ids ---------------------------------------------------------------------------------- */

/* wyrand: one multiply per 64 bits, passes BigCrush; ids need to be unpredictable enough not
 * to collide, not to be secret. Seeded per thread from getrandom on first use. */
static DBP_TLS uint64_t rng_state;
static DBP_TLS uint8_t rng_seeded;

static void rng_seed(void)
{
	uint64_t s = 0;
	int saved = errno;
	/* GRND_NONBLOCK: early in boot the pool may not be ready, and we never wait. */
	if (getrandom(&s, sizeof s, GRND_NONBLOCK) != (ssize_t)sizeof s) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		s = (uint64_t)ts.tv_nsec * 0x9e3779b97f4a7c15ull ^ (uint64_t)ts.tv_sec ^
		    (uint64_t)syscall(SYS_gettid) << 32 ^ (uint64_t)(uintptr_t)&rng_state;
	}
	errno = saved;
	rng_state = s;
	rng_seeded = 1;
}

uint64_t dbp_trace_rand(void)
{
	if (DBP_UNLIKELY(!rng_seeded))
		rng_seed();
	for (;;) {
		rng_state += 0xa0761d6478bd642full;
		__uint128_t m = (__uint128_t)rng_state * (rng_state ^ 0xe7037ed1a0b428dbull);
		uint64_t r = (uint64_t)(m >> 64) ^ (uint64_t)m;
		if (DBP_LIKELY(r != 0))
			return r;
	}
}

void dbp_trace_reset_child(void)
{
	rng_seeded = 0; /* only the forking thread lives on: its next id reseeds */
}

static void new_id(uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i += 8) {
		uint64_t r = dbp_trace_rand();
		memcpy(out + i, &r, 8);
	}
}

static int is_zero(const uint8_t *p, size_t n)
{
	uint8_t acc = 0;
	for (size_t i = 0; i < n; i++)
		acc |= p[i];
	return acc == 0;
}

/* ---- sampling ------------------------------------------------------------------------------ */

/* TraceIdRatioBased: the trace id's last 8 bytes, read big-endian as the spec's hex reads,
 * under ratio * 2^64. The same trace id gets the same answer in every process. */
static int ratio_samples(const uint8_t trace_id[16])
{
	uint64_t x = 0;
	for (int i = 8; i < 16; i++)
		x = x << 8 | trace_id[i];
	return x < dbp_cfg.sampler_bound || dbp_cfg.sampler_bound == UINT64_MAX;
}

/* The sampler's choice for a new trace (or a child of the process's parent). */
static int decide(const uint8_t trace_id[16], const struct dbp_trace_parent *parent)
{
	switch (dbp_cfg.sampler) {
	case DBP_SAMPLER_ON:
		return 1;
	case DBP_SAMPLER_OFF:
		return 0;
	case DBP_SAMPLER_RATIO:
		return ratio_samples(trace_id);
	default: /* parent-based: a remote parent decides; without one, the root sampler */
		if (parent)
			return parent->sampled;
		if (dbp_cfg.sampler == DBP_SAMPLER_PARENT_RATIO)
			return ratio_samples(trace_id);
		return dbp_cfg.sampler == DBP_SAMPLER_PARENT_ON;
	}
}

/* Whether the sampler's choice can depend on the trace id (so one must exist first). */
static int needs_trace_id(void)
{
	return dbp_cfg.sampler == DBP_SAMPLER_RATIO ||
	       (dbp_cfg.sampler == DBP_SAMPLER_PARENT_RATIO && !dbp_cfg.parent.valid);
}

/* A root for a call outside any transaction: the process's parent's trace, or a new one. */
static int root(uint8_t trace_id[16], uint8_t parent_id[8])
{
	const struct dbp_trace_parent *p = dbp_cfg.parent.valid ? &dbp_cfg.parent : NULL;
	if (p) {
		memcpy(trace_id, p->trace_id, 16);
		memcpy(parent_id, p->span_id, 8);
	} else {
		new_id(trace_id, 16);
		memset(parent_id, 0, 8);
	}
	return decide(trace_id, p);
}

/* ---- records ------------------------------------------------------------------------------- */

static DBP_TLS struct dbp_rec txn_rec;

const struct dbp_rec *dbp_trace_txn_rec(void)
{
	return &txn_rec;
}

/* Closes t, ending at end (ticks): 1 when its span is to be exported (txn_rec made). */
static int txn_close(struct dbp_txn *t, uint64_t end, int rollback,
		     const struct dbp_str_ent *err)
{
	t->open = 0;
	if (!t->sampled && !t->kept)
		return 0;
	txn_rec = (struct dbp_rec){
		.query = &dbp_query_none,
		.target = t->target,
		.err = err,
		.t0 = t->t0,
		.dur = end > t->t0 ? end - t->t0 : 0,
		.db_system = t->system,
		.flags = (uint8_t)(DBP_CALL_TXN | (t->sampled ? DBP_CALL_SAMPLED : 0) |
				   (rollback ? DBP_CALL_ROLLBACK : 0) | (err ? DBP_CALL_ERROR : 0)),
		.kind = DBP_RK_CALL,
	};
	memcpy(txn_rec.trace_id, t->trace_id, 16);
	memcpy(txn_rec.span_id, t->span_id, 8);
	memcpy(txn_rec.parent_id, t->parent_id, 8);
	return 1;
}

int dbp_trace_conn_gone(struct dbp_tconn *tc)
{
	if (!tc || !tc->txn.open)
		return 0;
	tc->pre.valid = 0;
	return txn_close(&tc->txn, dbp_ticks(), 1, NULL);
}

int dbp_trace_assign(struct dbp_rec *rec, struct dbp_tconn *tc)
{
	int notable = (rec->flags & (DBP_CALL_ERROR | DBP_CALL_SLOW)) != 0 ||
		      dbp_ticks_ns(rec->dur) >= dbp_cfg.slow_ns;
	int connect = (rec->flags & DBP_CALL_CONNECT) != 0;
	enum dbp_txn_kind kind = connect || !rec->query ? DBP_TXN_NONE : rec->query->txn;
	/* A shim's word that the server rolled back what the statement committed: a COMMIT of
	 * a PostgreSQL transaction that had failed. */
	if (rec->flags & DBP_CALL_ROLLBACK) {
		if (kind == DBP_TXN_COMMIT)
			kind = DBP_TXN_ROLLBACK;
		rec->flags &= (uint8_t)~DBP_CALL_ROLLBACK;
	}
	struct dbp_txn *t = tc && !connect ? &tc->txn : NULL;
	uint8_t trace_id[16], parent_id[8];
	int sampled, have_trace = 1, closed = 0;
	int failed = (rec->flags & DBP_CALL_ERROR) != 0;

	if (rec->flags & DBP_REC_TXN_OPEN) {
		if (kind == DBP_TXN_COMMIT && failed)
			kind = DBP_TXN_NONE; /* still open: the program may COMMIT again */
		rec->flags &= (uint8_t)~DBP_REC_TXN_OPEN;
	}
	/* MySQL commits an open transaction when a new one begins (PostgreSQL and SQLite refuse
	 * or ignore a nested BEGIN). */
	uint8_t outer_parent[8]; /* of a transaction a MySQL BEGIN closes: the next one's too */
	if (kind == DBP_TXN_BEGIN && t && t->open && !failed &&
	    (rec->db_system == DBP_DB_MYSQL || rec->db_system == DBP_DB_MARIADB)) {
		memcpy(outer_parent, t->parent_id, 8);
		closed = txn_close(t, rec->t0, 0, NULL) | 2;
	}

	if (tc && tc->pre.valid && !connect) {
		/* The ids the statement carried to the server: the span must match them. */
		memcpy(trace_id, tc->pre.trace_id, 16);
		memcpy(parent_id, tc->pre.parent_id, 8);
		sampled = tc->pre.sampled;
		/* Given while the transaction this BEGIN just closed was open: the comment named
		 * that trace (kept), but the new transaction is no child of the old one. */
		if (closed)
			memcpy(parent_id, outer_parent, 8);
	} else if (t && t->open) {
		memcpy(trace_id, t->trace_id, 16);
		memcpy(parent_id, t->span_id, 8);
		sampled = t->sampled;
	} else if (!needs_trace_id() && !(kind == DBP_TXN_BEGIN && t)) {
		/* The common case: the choice needs no id, so ids are made only when kept. */
		sampled = dbp_cfg.parent.valid ? decide(NULL, &dbp_cfg.parent) : decide(NULL, NULL);
		have_trace = 0;
	} else {
		sampled = root(trace_id, parent_id);
	}

	if (kind == DBP_TXN_BEGIN && t && !t->open && !failed) {
		if (!have_trace) {
			sampled = root(trace_id, parent_id);
			have_trace = 1;
		}
		memcpy(t->trace_id, trace_id, 16);
		memcpy(t->parent_id, parent_id, 8);
		new_id(t->span_id, 8);
		t->t0 = rec->t0;
		t->target = rec->target;
		t->system = rec->db_system;
		t->sampled = (uint8_t)sampled;
		t->kept = 0;
		t->open = 1;
		memcpy(parent_id, t->span_id, 8); /* BEGIN is the transaction's first child */
	}

	if (sampled)
		rec->flags |= DBP_CALL_SAMPLED;
	if (sampled || notable) {
		if (!have_trace)
			root(trace_id, parent_id);
		memcpy(rec->trace_id, trace_id, 16);
		memcpy(rec->parent_id, parent_id, 8);
		if (tc && tc->pre.valid && !connect)
			memcpy(rec->span_id, tc->pre.span_id, 8);
		else
			new_id(rec->span_id, 8);
		if (t && t->open && !sampled)
			t->kept = 1;
	} else {
		memset(rec->trace_id, 0, 32); /* trace_id, span_id, parent_id: no span */
	}
	if (tc && !connect)
		tc->pre.valid = 0;

	if ((kind == DBP_TXN_COMMIT || kind == DBP_TXN_ROLLBACK) && t && t->open)
		/* A COMMIT that failed ended in a rollback (PostgreSQL's serialization failures
		 * and deferred constraints, MySQL's deadlocks; a shim says when it did not): the
		 * transaction's span says so, with the error. */
		return txn_close(t, rec->t0 + rec->dur, kind == DBP_TXN_ROLLBACK || failed,
				 kind == DBP_TXN_COMMIT && failed ? rec->err : NULL);
	return closed & 1;
}

void dbp_trace_pre(const struct dbp_tconn *tc, struct dbp_tpre *p, char out[56])
{
	if (tc->txn.open) {
		memcpy(p->trace_id, tc->txn.trace_id, 16);
		memcpy(p->parent_id, tc->txn.span_id, 8);
		p->sampled = tc->txn.sampled;
	} else {
		p->sampled = (uint8_t)root(p->trace_id, p->parent_id);
	}
	new_id(p->span_id, 8);
	p->valid = 1;
	static const char hex[] = "0123456789abcdef";
	char *o = out;
	*o++ = '0';
	*o++ = '0';
	*o++ = '-';
	for (int i = 0; i < 16; i++) {
		*o++ = hex[p->trace_id[i] >> 4];
		*o++ = hex[p->trace_id[i] & 15];
	}
	*o++ = '-';
	for (int i = 0; i < 8; i++) {
		*o++ = hex[p->span_id[i] >> 4];
		*o++ = hex[p->span_id[i] & 15];
	}
	*o++ = '-';
	*o++ = '0';
	*o++ = p->sampled ? '1' : '0';
	*o = 0;
}

/* ---- sqlcommenter ------------------------------------------------------------------------- */

/* Whether a statement starting at s[i] begins with a word that keeps its text on the server:
 * PREPARE (the body every EXECUTE runs), CREATE/ALTER (a routine's, trigger's or event's body
 * is stored as written). */
static int keeps_text(const char *s, size_t len, size_t i);

/* Whether sqlcommenter may touch the text: no comment of its own outside quotes (the program's
 * comment may be a hint the server reads), no NUL (a length that counted the terminator: MySQL
 * reads a NUL before our comment as a syntax error), no dollar quote (a PostgreSQL body may hide
 * anything), and no statement whose text the server keeps. */
static int comment_allowed(const char *s, size_t len)
{
	char quote = 0;
	int at_start = 1;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];
		if (!c)
			return 0;
		if (quote) {
			if (c == quote)
				quote = 0;
			else if (c == '\\' && quote != '"' && i + 1 < len)
				i++; /* MySQL's and E'' strings' escapes; harmless elsewhere */
			continue;
		}
		if (at_start && c != ' ' && c != '\t' && c != '\n' && c != '\r' && c != ';') {
			if (keeps_text(s, len, i))
				return 0;
			at_start = 0;
		}
		if (c == '\'' || c == '"' || c == '`')
			quote = c;
		else if (c == ';')
			at_start = 1;
		else if ((c == '/' && i + 1 < len && s[i + 1] == '*') ||
			 (c == '-' && i + 1 < len && s[i + 1] == '-') || c == '#' || c == '$')
			return 0; /* '#': a MySQL comment (a PostgreSQL operator: we stay away) */
	}
	return 1;
}

static size_t word(const char *s, size_t len, size_t *i, char w[16]);

static int keeps_text(const char *s, size_t len, size_t i)
{
	char w[16];
	return word(s, len, &i, w) &&
	       (!strcmp(w, "PREPARE") || !strcmp(w, "CREATE") || !strcmp(w, "ALTER"));
}

char *dbp_trace_comment(const char *sql, size_t len, const char traceparent[56], char *buf,
			size_t cap, int *heap, size_t *out_len)
{
	*heap = 0;
	if (!sql || !comment_allowed(sql, len))
		return NULL;
	/* The comment goes before the trailing ';' and blanks: after them, a server without
	 * multi-statements would read a second, empty statement. */
	size_t end = len;
	while (end && (sql[end - 1] == ';' || sql[end - 1] == ' ' || sql[end - 1] == '\t' ||
		       sql[end - 1] == '\n' || sql[end - 1] == '\r'))
		end--;
	if (!end)
		return NULL;
	static const char pre[] = " /*traceparent='", post[] = "'*/";
	size_t add = sizeof pre - 1 + 55 + sizeof post - 1;
	size_t n = len + add;
	char *out = buf;
	if (n + 1 > cap) {
		out = malloc(n + 1);
		if (!out)
			return NULL;
		*heap = 1;
	}
	memcpy(out, sql, end);
	memcpy(out + end, pre, sizeof pre - 1);
	memcpy(out + end + sizeof pre - 1, traceparent, 55);
	memcpy(out + end + sizeof pre - 1 + 55, post, sizeof post - 1);
	memcpy(out + end + add, sql + end, len - end);
	out[n] = 0;
	*out_len = n;
	return out;
}

void dbp_sqlcomment_make(struct dbp_sqlcomment *o, const struct dbp_tconn *tc, const char *sql,
			 size_t len)
{
	o->text = NULL;
	o->heap = 0;
	o->pre.valid = 0;
	if (!tc)
		return;
	int saved = errno;
	char tp[56];
	dbp_trace_pre(tc, &o->pre, tp);
	o->text = dbp_trace_comment(sql, len == SIZE_MAX ? strlen(sql) : len, tp, o->buf,
				    sizeof o->buf, &o->heap, &o->len);
	if (!o->text)
		o->pre.valid = 0; /* the text goes as it is: its ids are no one's */
	errno = saved;
}

void dbp_sqlcomment_free(struct dbp_sqlcomment *o)
{
	if (o->text && o->heap) {
		int saved = errno;
		free(o->text);
		errno = saved;
	}
	o->text = NULL;
}

/* ---- text ---------------------------------------------------------------------------------- */

/* The next word of s[*i..len) (letters only), upper-cased into w; its length (0: none). */
static size_t word(const char *s, size_t len, size_t *i, char w[16])
{
	while (*i < len && (s[*i] == ' ' || s[*i] == '\t' || s[*i] == '\n' || s[*i] == '\r'))
		(*i)++;
	size_t n = 0;
	while (*i < len && ((s[*i] >= 'a' && s[*i] <= 'z') || (s[*i] >= 'A' && s[*i] <= 'Z'))) {
		if (n < 15)
			w[n++] = (char)(s[*i] & ~0x20);
		(*i)++;
	}
	w[n] = 0;
	return n;
}

enum dbp_txn_kind dbp_trace_txn_kind(const char *s, size_t len)
{
	char w1[16], w2[16];
	size_t i = 0;
	if (!word(s, len, &i, w1))
		return DBP_TXN_NONE;
	word(s, len, &i, w2);
	if (!strcmp(w1, "BEGIN")) /* BEGIN [WORK|TRANSACTION|DEFERRED|IMMEDIATE|...] */
		return !strcmp(w2, "NOT") ? DBP_TXN_NONE : DBP_TXN_BEGIN; /* MariaDB's NOT ATOMIC */
	/* PostgreSQL's two-phase PREPARE TRANSACTION: the session's transaction ends there. */
	if (!strcmp(w1, "PREPARE") && !strcmp(w2, "TRANSACTION"))
		return DBP_TXN_COMMIT;
	if (!strcmp(w1, "START"))
		return !strcmp(w2, "TRANSACTION") ? DBP_TXN_BEGIN : DBP_TXN_NONE;
	/* Two-phase commit's COMMIT PREPARED / ROLLBACK PREPARED finish another transaction. */
	if (!strcmp(w2, "PREPARED"))
		return DBP_TXN_NONE;
	if (!strcmp(w1, "COMMIT") || !strcmp(w1, "END"))
		return DBP_TXN_COMMIT;
	if (!strcmp(w1, "ROLLBACK") || !strcmp(w1, "ABORT")) {
		/* ROLLBACK [WORK|TRANSACTION] TO [SAVEPOINT] x keeps the transaction open. */
		char w3[16];
		if (!strcmp(w2, "TO"))
			return DBP_TXN_NONE;
		if ((!strcmp(w2, "WORK") || !strcmp(w2, "TRANSACTION")) && word(s, len, &i, w3) &&
		    !strcmp(w3, "TO"))
			return DBP_TXN_NONE;
		return DBP_TXN_ROLLBACK;
	}
	return DBP_TXN_NONE;
}

static int hexval(char c)
{
	return c >= '0' && c <= '9' ? c - '0' : c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

static int unhex(const char *s, uint8_t *out, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		int hi = hexval(s[2 * i]), lo = hexval(s[2 * i + 1]);
		if (hi < 0 || lo < 0)
			return -1;
		out[i] = (uint8_t)(hi << 4 | lo);
	}
	return 0;
}

int dbp_trace_parse_parent(const char *s, struct dbp_trace_parent *out)
{
	memset(out, 0, sizeof *out);
	size_t len = strlen(s);
	uint8_t version, flags;
	/* W3C: lowercase hex only; version ff is invalid; version 00 is exactly 55 characters,
	 * a later version may append "-..." fields, which we ignore. */
	if (len < 55 || s[2] != '-' || s[35] != '-' || s[52] != '-' || unhex(s, &version, 1) ||
	    version == 0xff || (version == 0 && len != 55) || (len > 55 && s[55] != '-') ||
	    unhex(s + 3, out->trace_id, 16) || unhex(s + 36, out->span_id, 8) ||
	    unhex(s + 53, &flags, 1) || is_zero(out->trace_id, 16) || is_zero(out->span_id, 8)) {
		memset(out, 0, sizeof *out);
		return -1;
	}
	out->sampled = flags & 1;
	out->valid = 1;
	return 0;
}
