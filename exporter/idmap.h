/* idmap: 64-bit id -> pointer, for the ids an agent defines on its connection. */
#ifndef DBPROBE_IDMAP_H
#define DBPROBE_IDMAP_H

#include <stddef.h>
#include <stdint.h>

struct dbp_idmap {
	uint64_t *keys; /* 0 marks an empty slot, so id 0 is stored as a separate entry */
	void **vals;
	size_t cap, n;
	void *zero_val;
	int has_zero;
};

void *dbp_idmap_get(const struct dbp_idmap *m, uint64_t id);
/* Inserts or replaces; -1 when out of memory. */
int dbp_idmap_put(struct dbp_idmap *m, uint64_t id, void *v);
void dbp_idmap_each(struct dbp_idmap *m, void (*fn)(uint64_t, void *, void *), void *arg);
void dbp_idmap_free(struct dbp_idmap *m);

#endif
