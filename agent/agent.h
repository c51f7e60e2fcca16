/* agent: lifecycle (not-ready -> running -> stopping) and the per-thread guards every hook uses. */
#ifndef DBPROBE_AGENT_H
#define DBPROBE_AGENT_H

#include <stdbool.h>
#include <stdint.h>

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
	DBP_SHIM_ALL = DBP_SHIM_SQLITE | DBP_SHIM_PQ | DBP_SHIM_MYSQL,
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
	return true;
}

static inline void dbp_hook_leave(void)
{
	dbp_tls_depth = 0;
}

#endif
