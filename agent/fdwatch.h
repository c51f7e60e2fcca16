/* fdwatch: connections the agent follows by their bytes (see mywire.h), by descriptor. */
#ifndef DBPROBE_FDWATCH_H
#define DBPROBE_FDWATCH_H

#include <stdint.h>

#include "intern.h"
#include "mywire.h"

#define DBP_FDWATCH_MAX 65536 /* descriptors above are never followed */

struct dbp_fdwatch {
	struct mywire w;
	const struct dbp_str_ent *server; /* where connect() went */
	uint16_t port;
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
/* Stops following descriptors lo..hi. Entries are recycled, never freed: a thread still inside
 * a hook with one reads a valid (idle) object. */
void dbp_fdwatch_forget(int lo, int hi);

/* Fork handling. */
void dbp_fdwatch_lock(void);
void dbp_fdwatch_unlock(void);

#endif
