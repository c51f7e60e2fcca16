/* htab: the chained hash table the stores share. */
#include "htab.h"

#include <stdlib.h>

uint64_t dbp_hash_mix(uint64_t h, uint64_t v)
{
	h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
	h *= 0xff51afd7ed558ccdull;
	return h ^ (h >> 32);
}

uint64_t dbp_hash_bytes(const char *p, size_t len)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)p[i]) * 1099511628211ull;
	return h;
}

static void grow(struct dbp_htab *t)
{
	size_t nb = t->nb ? t->nb * 2 : 256;
	struct dbp_hnode **b = calloc(nb, sizeof *b);
	if (!b)
		return;
	for (size_t i = 0; i < t->nb; i++) {
		struct dbp_hnode *n = t->b[i];
		while (n) {
			struct dbp_hnode *next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
			n = next;
		}
	}
	free(t->b);
	t->b = b;
	t->nb = nb;
}

int dbp_htab_add(struct dbp_htab *t, struct dbp_hnode *n)
{
	if (t->n >= t->nb)
		grow(t); /* a failed grow keeps the old buckets: chains just get longer */
	if (!t->nb)
		return -1;
	n->next = t->b[n->hash & (t->nb - 1)];
	t->b[n->hash & (t->nb - 1)] = n;
	t->n++;
	return 0;
}

struct dbp_hnode *dbp_htab_first(const struct dbp_htab *t, uint64_t h)
{
	return t->nb ? t->b[h & (t->nb - 1)] : NULL;
}

void dbp_htab_each(struct dbp_htab *t, void (*fn)(struct dbp_hnode *, void *), void *arg)
{
	for (size_t i = 0; i < t->nb; i++)
		for (struct dbp_hnode *n = t->b[i], *next; n; n = next) {
			next = n->next;
			fn(n, arg);
		}
}

static void free_node(struct dbp_hnode *n, void *arg)
{
	(void)arg;
	free(n);
}

void dbp_htab_free(struct dbp_htab *t)
{
	dbp_htab_each(t, free_node, NULL);
	free(t->b);
	t->b = NULL;
	t->nb = t->n = 0;
}
