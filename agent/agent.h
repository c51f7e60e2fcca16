/* agent: lifecycle (not-ready -> running -> stopping) and the per-thread guards every hook uses. */
#ifndef DBPROBE_AGENT_H
#define DBPROBE_AGENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "wire.h"

#define DBP_LIKELY(x) __builtin_expect(!!(x), 1)
#define DBP_UNLIKELY(x) __builtin_expect(!!(x), 0)

enum dbp_state {
	DBP_ST_NOT_READY = 0, /* before init: hooks pass through (and trigger init) */
	DBP_ST_INITIALIZING,  /* one thread is initializing: the others pass through */
	DBP_ST_RUNNING,       /* hooks record */
	DBP_ST_STOPPING,      /* exit flush in progress, or stopped: pass through for good */
	DBP_ST_DISABLED,      /* DBPROBE_DISABLE=1 */
};

/* Shims, as named in DBPROBE_HOOKS. */
enum dbp_shim {
	DBP_SHIM_SQLITE = 1u << 0,
	DBP_SHIM_PQ = 1u << 1,
	DBP_SHIM_MYSQL = 1u << 2,
	DBP_SHIM_NET = 1u << 3, /* socket write statistics */
	DBP_SHIM_ALL = DBP_SHIM_SQLITE | DBP_SHIM_PQ | DBP_SHIM_MYSQL | DBP_SHIM_NET,
};

extern int dbp_state;
extern unsigned dbp_armed_shims;

/* The core is built with -fvisibility=hidden: only the shims' EXPORT wrappers leave the
 * library (and the version script agrees). */

/* initial-exec TLS: no __tls_get_addr call (and no ld.so dependency) on the hot path. */
#define DBP_TLS __thread __attribute__((tls_model("initial-exec")))

/* Inside the agent's own code: blocks re-entry, including from signal handlers. */
extern DBP_TLS unsigned dbp_tls_busy;
/* Depth of intercepted database API calls: only the outermost one is recorded. */
extern DBP_TLS unsigned dbp_tls_depth;

void dbp_init(void);

/* Socket writes made inside a database call: the write hook adds them to the account the shim
 * named (a connection's: a query's bytes may be written by one call and its result read by
 * another), else to the thread's, which lasts until the outermost call returns. The record of
 * the call takes both (dbp_io_take). dbp_tls_io_system labels those writes in the socket
 * statistics. */
struct dbp_io {
	uint64_t bytes, ticks;
};
extern DBP_TLS struct dbp_io dbp_tls_io;
extern DBP_TLS struct dbp_io *dbp_tls_io_sink;
extern DBP_TLS uint8_t dbp_tls_io_system;

static inline void dbp_io_sink(struct dbp_io *acct, uint8_t system)
{
	dbp_tls_io_sink = acct;
	dbp_tls_io_system = system;
}

/* What a record carries: the account's writes and the thread's, both then cleared. */
static inline struct dbp_io dbp_io_take(struct dbp_io *acct)
{
	dbp_tls_busy++; /* a signal handler's write meanwhile must not tear the accounts */
	struct dbp_io io = dbp_tls_io;
	dbp_tls_io = (struct dbp_io){ 0, 0 };
	if (acct) {
		io.bytes += acct->bytes;
		io.ticks += acct->ticks;
		*acct = (struct dbp_io){ 0, 0 };
	}
	dbp_tls_busy--;
	return io;
}

/* Whether a hook of this shim should record: running, armed, outermost, not re-entered.
 * On true the caller owns one API depth level and must call dbp_hook_leave(). */
static inline bool dbp_hook_enter(unsigned shim)
{
	int st = __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE);
	if (DBP_UNLIKELY(st != DBP_ST_RUNNING)) {
		if (st == DBP_ST_NOT_READY)
			dbp_init(); /* a hook ran before our constructor: arm now, record next time
				     */
		return false;
	}
	if (DBP_UNLIKELY(!(dbp_armed_shims & shim) || dbp_tls_busy | dbp_tls_depth))
		return false;
	dbp_tls_depth = 1;
	/* Constant per call site: PostgreSQL, MySQL (a shim that knows better says so). */
	dbp_tls_io_system = shim == DBP_SHIM_PQ      ? DBP_DB_POSTGRESQL
			    : shim == DBP_SHIM_MYSQL ? DBP_DB_MYSQL
						     : DBP_DB_NONE;
	return true;
}

static inline void dbp_hook_leave(void)
{
	dbp_tls_depth = 0;
	dbp_tls_io_sink = NULL;
	dbp_tls_io = (struct dbp_io){ 0, 0 };
}

#endif
