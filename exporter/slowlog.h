/* slowlog: slow calls (with their stacks, symbolized) and slow socket writes as JSON lines, one
 * object per line. */
#ifndef DBPROBE_SLOWLOG_H
#define DBPROBE_SLOWLOG_H

#include <stdint.h>
#include <stdio.h>

#include "store.h"

struct dbp_slowlog {
	FILE *out;
	int64_t threshold_ns; /* -1: follow the agent's DBPROBE_SLOW_MS flag */
	uint64_t written;
};

struct dbp_slow_call {
	const char *service, *exe, *ns, *text, *summary, *error_type; /* error_type may be NULL */
	uint32_t pid;
	const struct dbp_call *call;
	const struct dbp_callstack *stack; /* NULL: none; else symbolized into "stack" */
	struct dbp_symbolizer *sym;        /* NULL: frames as module+offset */
};

/* Whether this call goes to the log. */
int dbp_slowlog_wants(const struct dbp_slowlog *l, const struct dbp_call *c);
/* Call it without the store's lock: symbolizing reads files, and the line may block on out. */
void dbp_slowlog_write(struct dbp_slowlog *l, const struct dbp_slow_call *sc);

/* The same for a socket write the agent found slow; its line has "kind":"socket_write". An
 * exporter threshold can only raise the agent's: the agent sends no faster writes. */
int dbp_slowlog_wants_write(const struct dbp_slowlog *l, const struct dbp_sockwrite *w);
void dbp_slowlog_write_sock(struct dbp_slowlog *l, const struct dbp_slow_write *sw,
			    const char *exe);

#endif
