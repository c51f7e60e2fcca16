/* htab: the chained hash table the stores share. Nodes are embedded in their owners (first
 * member) and carry their hash; the caller compares keys. */
#ifndef DBPROBE_HTAB_H
#define DBPROBE_HTAB_H

#include <stddef.h>
#include <stdint.h>

struct dbp_hnode {
	struct dbp_hnode *next;
	uint64_t hash;
};

struct dbp_htab {
	struct dbp_hnode **b;
	size_t nb, n;
};

/* Adds n (n->hash set). -1 only when the table has no buckets and cannot get any: n is not
 * added and stays the caller's. */
int dbp_htab_add(struct dbp_htab *t, struct dbp_hnode *n);
/* The chain that nodes of hash h are on (compare n->hash and the key). */
struct dbp_hnode *dbp_htab_first(const struct dbp_htab *t, uint64_t h);
/* Calls fn on every node; fn may free the node it is given. */
void dbp_htab_each(struct dbp_htab *t, void (*fn)(struct dbp_hnode *, void *), void *arg);
/* Frees every node with free() and the buckets. */
void dbp_htab_free(struct dbp_htab *t);

uint64_t dbp_hash_mix(uint64_t h, uint64_t v);
uint64_t dbp_hash_bytes(const char *p, size_t len);

#endif
