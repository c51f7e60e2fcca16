/* ptrmap: handle pointer -> per-handle state, lock-free reads, locked writes. */
#include "ptrmap.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "log.h"

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
	const void **keys = __atomic_load_n(&m->keys, __ATOMIC_ACQUIRE);
	if (!keys)
		return NULL;
	for (size_t i = slot_of(key), n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		const void *k = __atomic_load_n(&keys[i], __ATOMIC_ACQUIRE);
		if (k == key) {
			struct dbp_ptrmap_val *v = __atomic_load_n(&m->vals[i], __ATOMIC_ACQUIRE);
			return v && v->key == key ? v : NULL;
		}
		if (!k)
			return NULL;
	}
	return NULL;
}

static int map_alloc(struct dbp_ptrmap *m)
{
	void *k = mmap(NULL, SLOTS * sizeof(void *), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	void *v = mmap(NULL, SLOTS * sizeof(void *), PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (k == MAP_FAILED || v == MAP_FAILED) {
		if (k != MAP_FAILED)
			munmap(k, SLOTS * sizeof(void *));
		if (v != MAP_FAILED)
			munmap(v, SLOTS * sizeof(void *));
		return -1;
	}
	m->vals = v;
	__atomic_store_n(&m->keys, (const void **)k, __ATOMIC_RELEASE);
	pthread_mutex_lock(&maps_lock);
	if (nmaps < MAX_MAPS)
		maps[nmaps++] = m;
	pthread_mutex_unlock(&maps_lock);
	return 0;
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

void *dbp_ptrmap_put(struct dbp_ptrmap *m, const void *key)
{
	struct dbp_ptrmap_val *v = NULL;
	pthread_mutex_lock(&m->lock);
	if (!m->keys && map_alloc(m) < 0)
		goto out;
	size_t reuse = SLOTS, i = slot_of(key);
	for (size_t n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
		const void *k = m->keys[i];
		if (k == key) {
			v = m->vals[i];
			memset((char *)v + sizeof *v, 0, m->value_size - sizeof *v);
			goto out;
		}
		if (k == TOMB && reuse == SLOTS)
			reuse = i;
		if (!k)
			break;
	}
	if (reuse == SLOTS) {
		if (m->used >= MAX_USED) {
			if (!m->full_logged++)
				dbp_log(1, "more than %u live handles: new ones are not tracked",
					MAX_USED);
			goto out;
		}
		reuse = i;
		m->used++;
	}
	v = val_alloc(m);
	if (!v)
		goto out;
	memset(v, 0, m->value_size);
	v->key = key;
	__atomic_store_n(&m->vals[reuse], v, __ATOMIC_RELEASE);
	__atomic_store_n(&m->keys[reuse], key, __ATOMIC_RELEASE);
out:
	pthread_mutex_unlock(&m->lock);
	return v;
}

void dbp_ptrmap_del(struct dbp_ptrmap *m, const void *key)
{
	pthread_mutex_lock(&m->lock);
	if (m->keys) {
		size_t i = slot_of(key);
		for (size_t n = 0; n < SLOTS; i = (i + 1) & (SLOTS - 1), n++) {
			const void *k = m->keys[i];
			if (!k)
				break;
			if (k == key) {
				struct dbp_ptrmap_val *v = m->vals[i];
				__atomic_store_n(&m->keys[i], TOMB, __ATOMIC_RELEASE);
				__atomic_store_n(&v->key, NULL, __ATOMIC_RELEASE);
				v->next_free = m->free_list;
				m->free_list = v;
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
