/* stack: who called the database. The program's call stack at a database call, captured with
 * libunwind (loaded privately on first need: as a dependency of a preloaded library its
 * _Unwind_* and backtrace would replace the host's), as (module, offset) frames, interned. */
#ifndef DBPROBE_STACK_H
#define DBPROBE_STACK_H

#include <stdint.h>

#include "intern.h"

/* A loaded object. Immortal: a stack in flight may name one long unloaded. */
struct dbp_module_ent {
	uint64_t id;       /* per process, from 1 */
	uint64_t base;     /* load bias */
	uint64_t lo, hi;   /* address range of its loaded segments */
	uint32_t sent_gen; /* sender only */
	uint16_t path_len;
	uint16_t build_id_len;
	uint8_t skip;  /* the agent or a database client library: not the caller */
	uint8_t live;  /* loaded, as of the last scan of the loaded objects */
	unsigned scan; /* the last scan that found it */
	uint8_t build_id[64];
	char path[]; /* whole, NUL-terminated; path_len is what goes on the wire */
};

struct dbp_stack_frame {
	const struct dbp_module_ent *mod;
	uint64_t offset;
};

/* An interned stack, innermost frame (the caller of the database API) first. Immortal. */
struct dbp_stack_ent {
	uint64_t id; /* per process, from 1 */
	uint64_t hash;
	uint32_t sent_gen; /* sender only */
	uint16_t nframes;
	struct dbp_stack_ent *next; /* hash chain */
	struct dbp_stack_frame f[];
};

enum dbp_stacks_mode { DBP_STACKS_SAMPLED = 0, DBP_STACKS_OFF, DBP_STACKS_ALL };

/* The stack of the current call if it is worth one (DBPROBE_STACKS): always with "all"; with
 * "sampled" when the call failed or was slow, or was sampled for a trace (each at a bounded
 * rate per process), for the first calls of each statement, and then at a bounded rate. NULL
 * otherwise, or when stacks are unavailable. Called from a hook after the real call returned,
 * inside the agent (dbp_tls_busy held). */
const struct dbp_stack_ent *dbp_stack_for(const struct dbp_query_ent *q, int failed,
					  int traced, uint64_t dur_ticks, uint64_t end_ticks);

/* The capture itself, policy aside (the bench measures it). */
const struct dbp_stack_ent *dbp_stack_capture(void);

/* Fork handling. */
void dbp_stack_lock(void);
void dbp_stack_unlock(void);

#endif
