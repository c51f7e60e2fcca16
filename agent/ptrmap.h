/* ptrmap: handle pointer -> per-handle state (sqlite3_stmt*, sqlite3*), read without locks. */
#ifndef DBPROBE_PTRMAP_H
#define DBPROBE_PTRMAP_H

#include <pthread.h>
#include <stddef.h>

/* Values are type-stable: a removed value goes to a free list and is never freed, so a reader
 * holding a stale pointer reads a valid object whose `key` no longer matches. Every value
 * struct starts with this header. */
struct dbp_ptrmap_val {
	const void *key;
	struct dbp_ptrmap_val *next_free;
};

struct dbp_ptrmap_table {
	const void **keys; /* NULL empty, TOMB removed */
	struct dbp_ptrmap_val **vals;
};

struct dbp_ptrmap {
	size_t value_size;
	pthread_mutex_t lock; /* writers only */
	int registered;       /* in the fork list: taken before lock ever is */
	/* Two tables: when removed entries pile up, the live ones move to the other table and
	 * the old one is zeroed, so a reader still probing it finds nothing rather than garbage. */
	struct dbp_ptrmap_table tables[2];
	int cur;
	struct dbp_ptrmap_val *free_list;
	unsigned used;  /* live + tombstones in the current table */
	unsigned tombs; /* tombstones in the current table */
	unsigned full_logged;
};

#define DBP_PTRMAP_INIT(type)                                                 \
	{                                                                     \
		.value_size = sizeof(type), .lock = PTHREAD_MUTEX_INITIALIZER \
	}

/* The value for key, or NULL. Lock-free. */
void *dbp_ptrmap_get(struct dbp_ptrmap *m, const void *key);
/* The value for key, created zeroed if absent (an existing one is zeroed too: a handle
 * address that comes back belongs to a new object). NULL when the map is full of live
 * handles (counted as a drop) or out of memory. */
void *dbp_ptrmap_put(struct dbp_ptrmap *m, const void *key);
/* The value for key, created zeroed if absent but never touched if present: for state learned
 * lazily, where a lock-free get can miss an entry that is moving between tables. */
void *dbp_ptrmap_get_or_put(struct dbp_ptrmap *m, const void *key);
void dbp_ptrmap_del(struct dbp_ptrmap *m, const void *key);

/* Fork handling for every map ever used. */
void dbp_ptrmap_lock_all(void);
void dbp_ptrmap_unlock_all(void);

#endif
