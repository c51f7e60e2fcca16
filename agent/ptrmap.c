/* ptrmap: handle pointer -> per-handle state, lock-free reads, locked writes. */
#include "ptrmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"
#include "ring.h"

#define SLOTS (1u << 17) /* pages are touched only as used: ~2 MiB reserved, little resident */
#define MAX_USED (SLOTS / 4 * 3)
#define TOMB ((const void *)1)
#define MAX_MAPS 8

static struct dbp_ptrmap *maps[MAX_MAPS];
static unsigned nmaps;
static pthread_mutex_t maps_lock = PTHREAD_MUTEX_INITIALIZER;

static size_t slot_of(const void *key)
{
	uint64_t x = (uintptr_t)key;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdull;
	x ^= x >> 29;
	return (size_t)x & (SLOTS - 1);
}

void *dbp_ptrmap_get(struct dbp_ptrmap *m, const void *key)
{
	struct dbp_ptrmap_table *t = &m->tables[__atomic_load_n(&m->cur, __ATOMIC_ACQUIRE)];
	const void **keys = __atomic_load_n(&t->keys, __ATOMIC_ACQUIRE);
	if (!keys)
		return NULL;
	for (size_t i = slot_of(key), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		const void *k = __atomic_load_n(&keys[i], __ATOMIC_ACQUIRE);
		if (k == key) {
			struct dbp_ptrmap_val *v = __atomic_load_n(&t->vals[i], __ATOMIC_ACQUIRE);
			return v && __atomic_load_n(&v->key, __ATOMIC_ACQUIRE) == key ? v : NULL;
		}
		if (!k)
			return NULL;
	}
	return NULL;
}

static void *map_area(void)
{
	void *p = mmap(NULL, SLOTS * sizeof(void *), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static int table_alloc(struct dbp_ptrmap_table *t)
{
	if (t->keys)
		return 0;
	void *k = map_area(), *v = map_area();
	if (!k || !v) {
		if (k)
			munmap(k, SLOTS * sizeof(void *));
		if (v)
			munmap(v, SLOTS * sizeof(void *));
		return -1;
	}
	t->vals = v;
	__atomic_store_n(&t->keys, (const void **)k, __ATOMIC_RELEASE);
	return 0;
}

/* The fork handlers must know a map before its lock is ever taken. */
static void map_register(struct dbp_ptrmap *m)
{
	pthread_mutex_lock(&maps_lock);
	if (!m->registered && nmaps < MAX_MAPS) {
		maps[nmaps++] = m;
		__atomic_store_n(&m->registered, 1, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&maps_lock);
}

static struct dbp_ptrmap_val *val_alloc(struct dbp_ptrmap *m)
{
	struct dbp_ptrmap_val *v = m->free_list;
	if (v) {
		m->free_list = v->next_free;
		return v;
	}
	return malloc(m->value_size);
}

/* Inserts into t at the first free slot of key's chain; the caller checked key is absent. */
static void table_insert(struct dbp_ptrmap_table *t, const void *key, struct dbp_ptrmap_val *v)
{
	size_t i = slot_of(key);
	while (t->keys[i] && t->keys[i] != TOMB)
		i = (i + 1) & (SLOTS - 1);
	__atomic_store_n(&t->vals[i], v, __ATOMIC_RELEASE);
	__atomic_store_n(&t->keys[i], key, __ATOMIC_RELEASE);
}

/* Tombstones are only ever reused, never cleared in place (readers probe without locks):
 * when they pile up, the live entries move to the other table. */
static int rehash(struct dbp_ptrmap *m)
{
	struct dbp_ptrmap_table *old = &m->tables[m->cur], *nt = &m->tables[!m->cur];
	if (table_alloc(nt) < 0)
		return -1;
	unsigned live = 0;
	for (size_t i = 0; i < SLOTS; i++) {
		const void *k = old->keys[i];
		if (k && k != TOMB) {
			table_insert(nt, k, old->vals[i]);
			live++;
		}
	}
	__atomic_store_n(&m->cur, !m->cur, __ATOMIC_RELEASE);
	/* A reader still in the old table now reads zeros: "absent", never a wrong value. */
	madvise(old->keys, SLOTS * sizeof(void *), MADV_DONTNEED);
	madvise(old->vals, SLOTS * sizeof(void *), MADV_DONTNEED);
	m->used = live;
	m->tombs = 0;
	return 0;
}

static void *put(struct dbp_ptrmap *m, const void *key, int fresh)
{
	struct dbp_ptrmap_val *v = NULL;
	if (!__atomic_load_n(&m->registered, __ATOMIC_ACQUIRE))
		map_register(m);
	pthread_mutex_lock(&m->lock);
	struct dbp_ptrmap_table *t = &m->tables[m->cur];
	if (table_alloc(t) < 0)
		goto out;
	size_t reuse = SLOTS, i = slot_of(key);
	for (size_t n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		const void *k = t->keys[i];
		if (k == key) {
			v = t->vals[i];
			if (fresh)
				memset((char *)v + sizeof *v, 0, m->value_size - sizeof *v);
			goto out;
		}
		if (k == TOMB && reuse == SLOTS)
			reuse = i;
		if (!k)
			break;
	}
	if (reuse == SLOTS && m->used >= MAX_USED) {
		if (m->tombs > m->used / 4 && rehash(m) == 0) {
			pthread_mutex_unlock(&m->lock);
			return put(m, key, fresh);
		}
		if (!m->full_logged++)
			dbp_log(1, "more than %u live handles: new ones are not tracked", MAX_USED);
		dbp_ring_count_drop(DBP_DROP_UNTRACKED);
		goto out;
	}
	v = val_alloc(m);
	if (!v)
		goto out;
	memset(v, 0, m->value_size);
	v->key = key;
	if (reuse == SLOTS) {
		reuse = i;
		m->used++;
	} else {
		m->tombs--;
	}
	__atomic_store_n(&t->vals[reuse], v, __ATOMIC_RELEASE);
	__atomic_store_n(&t->keys[reuse], key, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&m->lock);
	return v;
}

void *dbp_ptrmap_put(struct dbp_ptrmap *m, const void *key)
{
	return put(m, key, 1);
}

void *dbp_ptrmap_get_or_put(struct dbp_ptrmap *m, const void *key)
{
	void *v = dbp_ptrmap_get(m, key);
	return v ? v : put(m, key, 0);
}

void dbp_ptrmap_del(struct dbp_ptrmap *m, const void *key)
{
	if (!__atomic_load_n(&m->registered, __ATOMIC_ACQUIRE))
		return; /* never written: nothing to delete */
	pthread_mutex_lock(&m->lock);
	struct dbp_ptrmap_table *t = &m->tables[m->cur];
	if (t->keys) {
		size_t i = slot_of(key);
		for (size_t n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
			const void *k = t->keys[i];
			if (!k)
				break;
			if (k == key) {
				struct dbp_ptrmap_val *v = t->vals[i];
				__atomic_store_n(&t->keys[i], TOMB, __ATOMIC_RELEASE);
				__atomic_store_n(&v->key, NULL, __ATOMIC_RELEASE);
				v->next_free = m->free_list;
				m->free_list = v;
				m->tombs++;
				break;
			}
		}
	}
	pthread_mutex_unlock(&m->lock);
}

void dbp_ptrmap_lock_all(void)
{
	pthread_mutex_lock(&maps_lock);
	for (unsigned i = 0; i < nmaps; i++)
		pthread_mutex_lock(&maps[i]->lock);
}

void dbp_ptrmap_unlock_all(void)
{
	for (unsigned i = nmaps; i-- > 0;)
		pthread_mutex_unlock(&maps[i]->lock);
	pthread_mutex_unlock(&maps_lock);
}
