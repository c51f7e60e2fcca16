/* ptrmap: handle pointer -> per-handle state (sqlite3_stmt*, sqlite3*), read without locks. */
#ifndef DBPROBE_PTRMAP_H
#define DBPROBE_PTRMAP_H

#include <pthread.h>
#include <stddef.h>

/* Values are type-stable: a removed value goes to a free list and is never unmapped, so a
 * reader holding a stale pointer reads a valid object whose `key` no longer matches. Every
 * value struct starts with this header. */
struct dbp_ptrmap_val {
	const void *key;
	struct dbp_ptrmap_val *next_free;
};

struct dbp_ptrmap {
	size_t value_size;
	pthread_mutex_t lock; /* writers only */
	const void **keys;    /* DBP_PTRMAP_SLOTS, lazily mapped; NULL empty, TOMB removed */
	struct dbp_ptrmap_val **vals;
	struct dbp_ptrmap_val *free_list;
	unsigned used; /* live + tombstones */
	unsigned full_logged;
};

#define DBP_PTRMAP_INIT(type)                                                 \
	{                                                                     \
		.value_size = sizeof(type), .lock = PTHREAD_MUTEX_INITIALIZER \
	}

/* The value for key, or NULL. Lock-free. */
void *dbp_ptrmap_get(struct dbp_ptrmap *m, const void *key);
/* The value for key, created zeroed if absent (an existing one is zeroed too: a handle
 * address that comes back belongs to a new object). NULL when the map is full. */
void *dbp_ptrmap_put(struct dbp_ptrmap *m, const void *key);
void dbp_ptrmap_del(struct dbp_ptrmap *m, const void *key);

/* Fork handling for every map ever used. */
void dbp_ptrmap_lock_all(void);
void dbp_ptrmap_unlock_all(void);

#endif
