/* trace: span identity for every recorded call. W3C trace context in (TRACEPARENT /
 * TRACESTATE at start) and out (sqlcommenter), OTEL_TRACES_SAMPLER, transactions as parent
 * spans, and the per-thread id generator. The exporter turns the ids into spans. */
#ifndef DBPROBE_TRACE_H
#define DBPROBE_TRACE_H

#include <stddef.h>
#include <stdint.h>

struct dbp_rec;
struct dbp_query_ent;

enum dbp_sampler {
	DBP_SAMPLER_PARENT_ON = 0, /* parentbased_always_on: OpenTelemetry's default */
	DBP_SAMPLER_PARENT_OFF,
	DBP_SAMPLER_PARENT_RATIO,
	DBP_SAMPLER_ON,
	DBP_SAMPLER_OFF,
	DBP_SAMPLER_RATIO,
};

/* What a statement does to its connection's transaction (dbp_query_ent.txn). */
enum dbp_txn_kind { DBP_TXN_NONE = 0, DBP_TXN_BEGIN, DBP_TXN_COMMIT, DBP_TXN_ROLLBACK };

/* The W3C parent handed to the process (TRACEPARENT), parsed by config. */
struct dbp_trace_parent {
	uint8_t trace_id[16], span_id[8];
	uint8_t sampled; /* trace-flags bit 0 */
	uint8_t valid;
};

/* A connection's open transaction: its statements are children of the transaction's span. */
struct dbp_txn {
	uint8_t trace_id[16], span_id[8], parent_id[8];
	uint64_t t0; /* ticks at BEGIN's start */
	const struct dbp_target_ent *target; /* where it runs: the transaction record's */
	uint8_t system;                      /* enum dbp_db_system */
	uint8_t open;    /* between a BEGIN that succeeded and COMMIT / ROLLBACK */
	uint8_t sampled; /* the sampler's choice for the whole transaction */
	uint8_t kept;    /* a child was exported anyway (slow, failed): so is the transaction */
};

/* Ids given out before the call (sqlcommenter puts them in the statement): the record of that
 * call takes them instead of fresh ones. */
struct dbp_tpre {
	uint8_t trace_id[16], span_id[8], parent_id[8];
	uint8_t sampled;
	uint8_t valid;
};

/* Per connection, in each shim's connection state. Zeroed: no transaction, nothing given. */
struct dbp_tconn {
	struct dbp_txn txn;
	struct dbp_tpre pre;
};

/* Gives the CALL record its trace id, span id and parent when it will be exported (sampled,
 * or slow, or failed; else the ids stay zero), keeps tc's transaction, and sets
 * DBP_CALL_SAMPLED in rec->flags. Returns 1 when the call closed a transaction whose span is
 * to be exported: the caller then pushes dbp_trace_txn_rec(). tc may be NULL (no transaction
 * tracking). Inside the agent (dbp_tls_busy held). */
int dbp_trace_assign(struct dbp_rec *rec, struct dbp_tconn *tc);
/* The transaction record the last dbp_trace_assign that returned 1 made, on this thread. */
const struct dbp_rec *dbp_trace_txn_rec(void);

/* The connection goes away (closed, reset) with tc's transaction open: the server rolls it
 * back. Returns 1 when that transaction's span is to be exported: the caller then pushes
 * dbp_trace_txn_rec(). Closes it either way. Inside the agent (dbp_tls_busy held). */
int dbp_trace_conn_gone(struct dbp_tconn *tc);

/* Ids for a call about to run on connection tc (in its transaction, if one is open) into *out,
 * and their traceparent "00-<trace>-<span>-<flags>" (55 characters and a NUL) into tp. The
 * shim hands *out to the call's record by putting it in tc->pre just before that record is
 * made (and clears it if the record cannot be made). */
void dbp_trace_pre(const struct dbp_tconn *tc, struct dbp_tpre *out, char tp[56]);

/* A statement on its way to a server under DBPROBE_SQLCOMMENT: the text sent (a commented
 * copy, or NULL: the program's own goes as it is) and the ids it carries. */
struct dbp_sqlcomment {
	char *text;
	size_t len;
	int heap; /* text is malloc'd (longer than buf) */
	struct dbp_tpre pre;
	char buf[1024];
};

/* Fills o for sql[0..len) (len SIZE_MAX: NUL-terminated) sent on the connection whose state is
 * tc (NULL: untracked, or DBPROBE_SQLCOMMENT off: nothing is added). Keeps errno. */
void dbp_sqlcomment_make(struct dbp_sqlcomment *o, const struct dbp_tconn *tc, const char *sql,
			 size_t len);
/* Frees o's copy, if any. Keeps errno. */
void dbp_sqlcomment_free(struct dbp_sqlcomment *o);

/* The sqlcommenter text of sql[0..len): the statement with the comment
 * "/\*traceparent='...'*\/" before any trailing ';' and blanks, or NULL when it must stay as
 * it is (it has a comment already, or is empty, or memory is short). The result is in buf when
 * it fits in cap, else malloc'd (*heap set: the caller frees it). *out_len: its length. */
char *dbp_trace_comment(const char *sql, size_t len, const char traceparent[56], char *buf,
			size_t cap, int *heap, size_t *out_len);

/* Whether sql (a statement's normalized text) opens or closes a transaction. */
enum dbp_txn_kind dbp_trace_txn_kind(const char *norm, size_t len);

/* "00-<32 hex>-<16 hex>-<2 hex>" (version 00; a later version's longer form is accepted as
 * the spec asks). 0, or -1 when malformed or an all-zero id. */
int dbp_trace_parse_parent(const char *s, struct dbp_trace_parent *out);

/* A nonzero 64-bit random number from this thread's generator (seeded from getrandom). */
uint64_t dbp_trace_rand(void);

/* In a forked child: the generator must not repeat the parent's ids. */
void dbp_trace_reset_child(void);

#endif
