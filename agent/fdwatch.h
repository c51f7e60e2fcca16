/* fdwatch: connections the agent follows by their bytes (see mywire.h), by descriptor. */
#ifndef DBPROBE_FDWATCH_H
#define DBPROBE_FDWATCH_H

#include <stdint.h>

#include "intern.h"
#include "mywire.h"
#include "trace.h"

#define DBP_FDWATCH_MAX 65536 /* descriptors above are never followed */

struct dbp_fdwatch {
	struct mywire w;
	/* Where connect() went: kept raw, interned only once the connection turns out to be
	 * MySQL (a program's thousand UDP sockets must not fill the agent's string table). */
	char addr[112];
	const struct dbp_str_ent *server;
	uint16_t port;
	uint32_t in_use; /* a hook is reading or writing w: forget waits for it */
	struct dbp_tconn tc; /* its transaction (trace.h) */
	struct dbp_fdwatch *next_free;
};

extern struct dbp_fdwatch *dbp_fdwatch_tab[DBP_FDWATCH_MAX];
extern unsigned dbp_fdwatch_live; /* entries in the table: 0 in almost every program */

/* The entry following fd, or NULL: the read and write hooks' only cost for every other fd. */
static inline struct dbp_fdwatch *dbp_fdwatch_get(int fd)
{
	return (unsigned)fd < DBP_FDWATCH_MAX
		       ? __atomic_load_n(&dbp_fdwatch_tab[fd], __ATOMIC_ACQUIRE)
		       : NULL;
}

/* Starts following fd (replacing whatever followed that number). NULL when out of memory. */
struct dbp_fdwatch *dbp_fdwatch_add(int fd, mywire_emit_fn emit);
/* Stops following descriptors lo..hi. Entries are recycled, never freed, and their buffers are
 * released only once no hook is using them. Not from a signal handler (it takes a lock). */
void dbp_fdwatch_forget(int lo, int hi);

/* Stops following fd only if e still follows it (not a newer entry for the same number). */
void dbp_fdwatch_forget_entry(int fd, struct dbp_fdwatch *e);

/* A hook's exclusive use of an entry: 0 when another thread has it (two threads on one socket:
 * the stream cannot be read in order, so the caller lets the connection go). */
static inline int dbp_fdwatch_claim(struct dbp_fdwatch *e)
{
	return !__atomic_exchange_n(&e->in_use, 1, __ATOMIC_ACQUIRE);
}

static inline void dbp_fdwatch_release(struct dbp_fdwatch *e)
{
	__atomic_store_n(&e->in_use, 0, __ATOMIC_RELEASE);
}

/* Whether any of lo..hi is followed, without locking. */
int dbp_fdwatch_any(int lo, int hi);

/* Fork handling. */
/* In a forked child (one thread, the lock held): the connections' transactions are the
 * parent's. */
void dbp_fdwatch_reset_child(void);
void dbp_fdwatch_lock(void);
void dbp_fdwatch_unlock(void);

#endif
