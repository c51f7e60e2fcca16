/* ring: per-thread single-producer/single-consumer record buffers, drained by the sender. */
#ifndef DBPROBE_RING_H
#define DBPROBE_RING_H

#include <stddef.h>
#include <stdint.h>

#include "agent.h"
#include "intern.h"
#include "stack.h"
#include "trace.h"
#include "wire.h"

/* A shim's word to the trace code, never on the wire: the statement (a COMMIT that failed)
 * left its connection's transaction open, as SQLite does after SQLITE_BUSY or a deferred
 * foreign key. */
#define DBP_REC_TXN_OPEN 0x80

enum dbp_rec_kind {
	DBP_RK_CALL = 0,      /* a database call (or connection) */
	DBP_RK_SOCKWRITE = 1, /* one slow socket write: peer, err_no, io_bytes, dur */
};

/* A call as the application thread leaves it: raw ticks and pointers, no encoding. The sender
 * turns it into a wire record; the hot path only copies two cache lines. A shim filling a slot
 * in place sets every field up to io_ticks, and stack. */
struct dbp_rec {
	const struct dbp_query_ent *query; /* &dbp_query_none for a connection */
	const struct dbp_target_ent *target;
	const struct dbp_str_ent *err; /* NULL: success */
	uint64_t t0;                   /* ticks at start */
	uint64_t dur;                  /* ticks */
	uint64_t rows;
	uint64_t affected;
	uint8_t db_system;
	uint8_t flags; /* DBP_CALL_*; a call's DBP_CALL_ROLLBACK: its COMMIT was rolled back;
			* DBP_REC_TXN_OPEN: its failed COMMIT left the transaction open */
	uint8_t kind;  /* enum dbp_rec_kind */
	uint8_t direction;
	uint32_t err_no;
	uint64_t io_bytes; /* socket bytes written inside the call (a SOCKWRITE's own) */
	uint64_t io_ticks;
	uint32_t peer; /* SOCKWRITE: a dbp_peer index */
	uint32_t reserved0;
	const struct dbp_stack_ent *stack; /* NULL: none captured */
	uint8_t trace_id[16], span_id[8], parent_id[8]; /* set at commit (trace.h) */
};

struct dbp_ring {
	/* Producer's cache line: the hot path touches nothing else of the ring. */
	uint64_t head;        /* written by the producer only */
	uint64_t cached_tail; /* the producer's last look at tail: re-read only when full */
	uint64_t full_drops;  /* producer-side count, read by the consumer */
	uint32_t mask;
	uint32_t tid;
	char pad0[32];
	/* Consumer's cache line. */
	uint64_t tail; /* written by the consumer only */
	char pad1[56];
	int dead;                  /* the owning thread exited: drain, then free */
	struct dbp_sockstat *sock; /* the thread's socket write counters, from its first write */
	struct dbp_ring *next;
	size_t map_bytes;
	struct dbp_rec recs[] __attribute__((aligned(64))); /* a record never straddles two lines */
};

_Static_assert(sizeof(struct dbp_rec) == 128, "one record, two cache lines");

/* A thread's ring; DBP_RING_RETIRED once its TLS destructor ran: later hooks on the dying thread
 * drop instead of touching freed memory. */
#define DBP_RING_RETIRED ((struct dbp_ring *)-1)
extern DBP_TLS struct dbp_ring *dbp_tls_ring;

/* The first use on a thread (maps its ring, starts the sender), a full ring (counts a drop,
 * returns NULL), a retired one (NULL). */
struct dbp_rec *dbp_ring_reserve_slow(void);
void dbp_ring_wake(void);

/* Two-step push: reserve a slot, fill it in place, commit. Never blocks. From reserve to
 * commit the thread counts as inside the agent (dbp_tls_busy): a signal handler's hooked
 * call meanwhile (a write, say) passes through instead of taking a slot of its own. */
static inline struct dbp_rec *dbp_ring_reserve(void)
{
	dbp_tls_busy++;
	struct dbp_ring *r = dbp_tls_ring;
	if (__builtin_expect(r != NULL && r != DBP_RING_RETIRED, 1) &&
	    __builtin_expect(r->head - r->cached_tail <= r->mask, 1))
		return &r->recs[r->head & r->mask];
	struct dbp_rec *rec = dbp_ring_reserve_slow();
	if (!rec)
		dbp_tls_busy--;
	return rec;
}

/* reserve + copy + commit, for records built elsewhere. */
void dbp_ring_push_tc(const struct dbp_rec *r, struct dbp_tconn *tc);

/* Commits the reserved record. For a call of connection tc (NULL: none tracked), the trace
 * ids (trace.h) and the stack are decided here, after the real call returned. */
static inline void dbp_ring_commit_tc(struct dbp_tconn *tc)
{
	struct dbp_ring *r = dbp_tls_ring;
	struct dbp_rec *rec = &r->recs[r->head & r->mask];
	int txn_done = 0;
	if (rec->kind == DBP_RK_CALL && !(rec->flags & DBP_CALL_TXN)) {
		txn_done = dbp_trace_assign(rec, tc);
		/* Who made the call, when it is worth knowing (stack.h): the hook's caller's
		 * frames are still on this thread's stack. */
		rec->stack = !(rec->flags & DBP_CALL_CONNECT)
				     ? dbp_stack_for(rec->query, rec->flags & DBP_CALL_ERROR,
						     rec->flags & DBP_CALL_SAMPLED, rec->dur,
						     rec->t0 + rec->dur)
				     : NULL;
	} else {
		rec->stack = NULL;
	}
	uint64_t h = r->head + 1;
	__atomic_store_n(&r->head, h, __ATOMIC_RELEASE);
	/* The sender read the slots ahead on its own core, so their lines are shared there:
	 * asking for ownership now keeps the later write from stalling the program's stores. */
	/* A record is two lines: both are asked for. */
#if defined(__x86_64__)
	__asm__ volatile("prefetchw %0" : : "m"(r->recs[(h + 8) & r->mask]));
	__asm__ volatile("prefetchw %0" : : "m"(((const char *)&r->recs[(h + 8) & r->mask])[64]));
#else
	__builtin_prefetch(&r->recs[(h + 8) & r->mask], 1, 3);
	__builtin_prefetch((const char *)&r->recs[(h + 8) & r->mask] + 64, 1, 3);
#endif
	/* Every half ring, nudge the sender: one syscall per thousands of records. */
	if (__builtin_expect((h & (r->mask >> 1)) == 0, 0))
		dbp_ring_wake();
	if (__builtin_expect(txn_done, 0))
		dbp_ring_push_tc(dbp_trace_txn_rec(), NULL);
	dbp_tls_busy--;
}

static inline void dbp_ring_commit(void)
{
	dbp_ring_commit_tc(NULL);
}

/* A connection goes away (closed, reset): a transaction still open there was rolled back by
 * the server, and its span (if exported) is recorded. Call from inside a hook that records. */
static inline void dbp_ring_conn_gone(struct dbp_tconn *tc)
{
	if (DBP_UNLIKELY(tc->txn.open) && dbp_trace_conn_gone(tc))
		dbp_ring_push_tc(dbp_trace_txn_rec(), NULL);
}

/* This thread's ring, mapped on first use; NULL once retired or out of memory. */
struct dbp_ring *dbp_ring_mine(void);

static inline void dbp_ring_push(const struct dbp_rec *r)
{
	dbp_ring_push_tc(r, NULL);
}

/* Process-wide drop counters for reasons outside a ring (atomic adds). */
void dbp_ring_count_drop(enum dbp_drop_reason why);
void dbp_ring_count_drops(enum dbp_drop_reason why, uint64_t n);

/* Consumer side (sender thread, or the exit flush, under the sender's lock). Hands fn every
 * queued record in contiguous runs, oldest first per ring; fn returns how many of the n it
 * consumed, and fewer than n stops the drain (the rest stays queued). Returns -1 when
 * stopped, 0 when every ring was emptied. */
typedef size_t (*dbp_ring_fn)(const struct dbp_rec *recs, size_t n, uint32_t tid, void *arg);
int dbp_ring_drain(dbp_ring_fn fn, void *arg);
/* Folds every thread's socket write counters into the totals (sockstat.h). */
void dbp_ring_collect_sockets(void);
/* Discards everything queued, counting it under `why` (no exporter: nothing is read). */
void dbp_ring_discard(enum dbp_drop_reason why);
/* Adds the drops counted since the previous call into out[]; returns whether any. */
int dbp_ring_take_drops(uint64_t out[DBP_DROP_REASON_COUNT]);
/* Undoes dbp_ring_take_drops when the report could not be sent. */
void dbp_ring_return_drops(const uint64_t in[DBP_DROP_REASON_COUNT]);

/* Sender wake-up: a futex word producers bump when a ring passes half full. */
extern uint32_t dbp_ring_wake_word;

void dbp_ring_init(void);
void dbp_ring_lock(void);
void dbp_ring_unlock(void);
/* In a forked child: the parent's queued records and counts are not the child's. */
void dbp_ring_reset_child(void);

#endif
