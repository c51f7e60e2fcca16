/* sockstat: socket writes counted per thread without atomics or locks on the hot path, and
 * folded by the sender into per-(peer, direction, system) totals it ships every second. */
#ifndef DBPROBE_SOCKSTAT_H
#define DBPROBE_SOCKSTAT_H

#include <stdint.h>

#include "agent.h"
#include "clock.h"
#include "wire.h"

struct dbp_sockstat; /* one thread's counters, hung off its ring */

/* One (peer, direction, system, errno) key's counters. Written by the owning thread only
 * (relaxed stores), read by the sender (relaxed loads): counters only grow, so the sender ships
 * differences from what it saw last. Buckets are 32 bits and wrap: differences are taken
 * modulo 2^32, and the sender looks every second. */
struct dbp_sock_slot {
	uint32_t key; /* 0: free */
	uint32_t pad;
	uint64_t bytes, ns; /* calls are the buckets' sum */
	uint32_t buckets[DBP_SOCK_BUCKETS];
	uint32_t pad2[4];
};

#define DBP_SOCK_KEY(peer, dir, sys, err)                                                 \
	(0x80000000u | (uint32_t)(peer) | (uint32_t)(dir) << 16 | (uint32_t)(sys) << 17 | \
	 (uint32_t)(err) << 20)

/* The slot this thread counted last: a program writes to the same peer again and again. */
struct dbp_sock_last {
	struct dbp_sock_slot *slot;
	uint32_t key;
};
extern DBP_TLS struct dbp_sock_last dbp_tls_sock_last;

/* Counts one write made by this thread. The caller holds dbp_tls_busy: a signal handler's
 * write on this thread meanwhile passes through uncounted. err is the call's errno, 0 when it
 * succeeded; ns its duration. */
void dbp_sockstat_add(uint32_t peer, unsigned dir, unsigned sys, int err, uint64_t bytes,
		      uint64_t ns);

/* One key's growth since it was last shipped. */
struct dbp_sock_total {
	uint32_t peer;
	uint8_t dir, sys;
	uint16_t nerr;
	uint64_t calls, bytes, sum_ns;
	uint64_t buckets[DBP_SOCK_BUCKETS];
	struct dbp_sock_err errs[DBP_SOCK_ERR_MAX];
};

/* Sender side, under the ring list lock: folds a thread's growth since the previous look into
 * the totals; free releases a dead thread's counters (collect them first). */
void dbp_sockstat_collect(struct dbp_sockstat *t);
void dbp_sockstat_free(struct dbp_sockstat *t);
/* Hands every non-empty total to fn; a total fn takes (returns 0) is cleared, and -1 stops. */
void dbp_sockstat_take(int (*fn)(const struct dbp_sock_total *, void *), void *arg);
/* Forgets the totals. */
void dbp_sockstat_clear(void);
/* In a forked child: the totals, and this thread's pointer into its freed counters. */
void dbp_sockstat_reset_child(void);

/* The bucket of a duration: the first i with ns <= DBP_SOCK_BUCKET0_NS << i, the last one
 * for anything longer. */
static inline unsigned dbp_sock_bucket(uint64_t ns)
{
	uint64_t x = ns ? (ns - 1) >> 10 : 0;
	unsigned b = x ? 64u - (unsigned)__builtin_clzll(x) : 0;
	return b < DBP_SOCK_BUCKETS - 1 ? b : DBP_SOCK_BUCKETS - 1;
}

#define DBP_SOCK_BUMP(field, by) __atomic_store_n(&(field), (field) + (by), __ATOMIC_RELAXED)

static inline void dbp_sock_slot_bump(struct dbp_sock_slot *s, uint64_t bytes, uint64_t ns)
{
	DBP_SOCK_BUMP(s->bytes, bytes);
	DBP_SOCK_BUMP(s->ns, ns);
	DBP_SOCK_BUMP(s->buckets[dbp_sock_bucket(ns)], 1);
}

/* The common count: the key this thread counted last. The caller holds dbp_tls_busy. */
static inline void dbp_sockstat_count(uint32_t peer, unsigned dir, unsigned sys, int err,
				      uint64_t bytes, uint64_t ns)
{
	uint32_t key = DBP_SOCK_KEY(peer, dir, sys, (uint32_t)err);
	struct dbp_sock_last last = dbp_tls_sock_last;
	if (DBP_LIKELY(last.key == key))
		dbp_sock_slot_bump(last.slot, bytes, ns);
	else
		dbp_sockstat_add(peer, dir, sys, err, bytes, ns);
}

#endif
