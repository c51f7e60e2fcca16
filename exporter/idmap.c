/* idmap: 64-bit id -> pointer, open addressing. */
#include "idmap.h"

#include <stdlib.h>

static size_t slot(uint64_t id, size_t cap)
{
	id ^= id >> 31;
	id *= 0x9e3779b97f4a7c15ull;
	return (size_t)(id >> 17) & (cap - 1);
}

void *dbp_idmap_get(const struct dbp_idmap *m, uint64_t id)
{
	if (!id)
		return m->has_zero ? m->zero_val : NULL;
	if (!m->cap)
		return NULL;
	for (size_t i = slot(id, m->cap);; i = (i + 1) & (m->cap - 1)) {
		if (m->keys[i] == id)
			return m->vals[i];
		if (!m->keys[i])
			return NULL;
	}
}

static int grow(struct dbp_idmap *m)
{
	size_t cap = m->cap ? m->cap * 2 : 64;
	uint64_t *k = calloc(cap, sizeof *k);
	void **v = calloc(cap, sizeof *v);
	if (!k || !v) {
		free(k);
		free(v);
		return -1;
	}
	for (size_t i = 0; i < m->cap; i++) {
		if (!m->keys[i])
			continue;
		size_t j = slot(m->keys[i], cap);
		while (k[j])
			j = (j + 1) & (cap - 1);
		k[j] = m->keys[i];
		v[j] = m->vals[i];
	}
	free(m->keys);
	free(m->vals);
	m->keys = k;
	m->vals = v;
	m->cap = cap;
	return 0;
}

int dbp_idmap_put(struct dbp_idmap *m, uint64_t id, void *v)
{
	if (!id) {
		m->zero_val = v;
		m->has_zero = 1;
		return 0;
	}
	if ((m->n + 1) * 2 > m->cap && grow(m) < 0)
		return -1;
	size_t i = slot(id, m->cap);
	while (m->keys[i] && m->keys[i] != id)
		i = (i + 1) & (m->cap - 1);
	if (!m->keys[i])
		m->n++;
	m->keys[i] = id;
	m->vals[i] = v;
	return 0;
}

void dbp_idmap_each(struct dbp_idmap *m, void (*fn)(uint64_t, void *, void *), void *arg)
{
	if (m->has_zero)
		fn(0, m->zero_val, arg);
	for (size_t i = 0; i < m->cap; i++)
		if (m->keys[i])
			fn(m->keys[i], m->vals[i], arg);
}

void dbp_idmap_free(struct dbp_idmap *m)
{
	free(m->keys);
	free(m->vals);
	*m = (struct dbp_idmap){ 0 };
}
