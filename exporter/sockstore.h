/* sockstore: socket writes per (service, peer, direction, database system), with errors per
 * errno, and the latest slow writes in a ring. Lives in the store, under its lock. */
#ifndef DBPROBE_SOCKSTORE_H
#define DBPROBE_SOCKSTORE_H

#include <stddef.h>
#include <stdint.h>

#include "htab.h"
#include "wire.h"

#define DBP_SOCK_ERRNOS_MAX 32   /* distinct errnos kept per series; later ones count under 0 */
#define DBP_SLOW_WRITES_KEPT 100 /* slow writes remembered for /sockets */

struct dbp_sock_errcount {
	uint32_t err_no; /* 0: errnos beyond DBP_SOCK_ERRNOS_MAX (the wire never sends 0) */
	uint64_t count;
};

struct dbp_sock_series {
	struct dbp_hnode node;
	const char *service, *peer; /* interned; peer may be the store's "(other)" */
	uint8_t direction;          /* enum dbp_sock_direction */
	uint8_t system;             /* enum dbp_db_system */
	uint64_t calls, bytes, sum_ns;
	uint64_t buckets[DBP_SOCK_BUCKETS]; /* per bucket, not cumulative; the last is +Inf */
	unsigned nerrs;
	struct dbp_sock_errcount *errs; /* in order of first appearance */
};

/* One write slower than the agent's threshold (a SOCKWRITE record). */
struct dbp_slow_write {
	const char *service, *peer; /* interned; the real peer, even when its series is folded */
	uint32_t pid, tid;
	uint32_t err_no; /* 0: it succeeded */
	uint8_t direction, system;
	uint64_t start_unix_ns, duration_ns, bytes;
};

struct dbp_sockstore {
	struct dbp_htab series;
	struct dbp_htab peers;    /* (service, peer) pairs seen: kept, or folded into other */
	struct dbp_htab services; /* service -> how many peers it keeps */
	unsigned max_peers;       /* per service */
	const char *other;        /* the peer that new ones fold into over the cap */
	unsigned npeers;          /* (service, peer) pairs kept */
	uint64_t peers_folded;    /* (service, peer) pairs folded into other */
	struct dbp_slow_write slow[DBP_SLOW_WRITES_KEPT]; /* a ring, slow[slow_next] is next */
	unsigned slow_next, nslow;
};

/* "outbound", "inbound", indexed by enum dbp_sock_direction. */
extern const char *const dbp_sock_direction_names[2];

/* other: an interned "(other)", the peer of folded series. */
void dbp_sockstore_init(struct dbp_sockstore *ss, unsigned max_peers, const char *other);
void dbp_sockstore_free(struct dbp_sockstore *ss);

/* Find or create. A service's peers beyond max_peers land in its "(other)" series and are
 * counted once each. NULL only when out of memory. direction and system are the caller's to
 * check (decode does). */
struct dbp_sock_series *dbp_sockstore_series(struct dbp_sockstore *ss, const char *service,
					     const char *peer, uint8_t direction, uint8_t system);
/* Adds one SOCKET record's deltas; errs are its r->nerr error counts. */
void dbp_sock_series_add(struct dbp_sock_series *se, const struct dbp_sock *r,
			 const struct dbp_sock_err *errs);

void dbp_sockstore_slow(struct dbp_sockstore *ss, const struct dbp_slow_write *w);
/* The i-th newest slow write, for i < ss->nslow. */
const struct dbp_slow_write *dbp_sockstore_slow_at(const struct dbp_sockstore *ss, unsigned i);

/* Bucket i's upper bound in seconds, for i < DBP_SOCK_BUCKETS - 1 (the last is +Inf). */
double dbp_sock_bound_s(unsigned i);

/* An errno's symbolic name ("EPIPE", "EAGAIN"), its number as text when glibc has no name,
 * "other" for 0 (the series' overflow entry). buf holds the text when one is made. */
const char *dbp_errno_name(uint32_t err_no, char *buf, size_t len);

#endif
