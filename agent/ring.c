/* ring: per-thread single-producer/single-consumer record buffers, drained by the sender. */
#include "ring.h"

#include <errno.h>
#include <linux/futex.h>
#include <pthread.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "agent.h"
#include "config.h"

uint32_t dbp_ring_wake_word;

/* (struct dbp_ring *)-1: this thread's ring was retired by its TLS destructor; later hooks on
 * the dying thread drop instead of touching freed memory. */
#define RING_RETIRED ((struct dbp_ring *)-1)
static DBP_TLS struct dbp_ring *tls_ring;

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dbp_ring *rings;
static pthread_key_t ring_key;
static uint64_t global_drops[DBP_DROP_REASON_COUNT];
/* Buffer-full drops of rings already freed, not yet reported. */
static uint64_t freed_full_drops;

static void ring_thread_exit(void *p)
{
	struct dbp_ring *r = p;
	tls_ring = RING_RETIRED;
	__atomic_store_n(&r->dead, 1, __ATOMIC_RELEASE);
}

void dbp_ring_init(void)
{
	pthread_key_create(&ring_key, ring_thread_exit);
}

void dbp_ring_lock(void)
{
	pthread_mutex_lock(&list_lock);
}

void dbp_ring_unlock(void)
{
	pthread_mutex_unlock(&list_lock);
}

static struct dbp_ring *ring_new(void)
{
	size_t n = 1;
	while (n * 2 * sizeof(struct dbp_rec) <= dbp_cfg.buffer_bytes)
		n *= 2;
	size_t bytes = sizeof(struct dbp_ring) + n * sizeof(struct dbp_rec);
	/* mmap, not malloc: the host's heap (and any allocator it interposes) stays untouched. */
	struct dbp_ring *r =
		mmap(NULL, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (r == MAP_FAILED)
		return NULL;
	r->mask = (uint32_t)(n - 1);
	r->tid = (uint32_t)syscall(SYS_gettid);
	r->map_bytes = bytes;
	pthread_mutex_lock(&list_lock);
	r->next = rings;
	rings = r;
	pthread_mutex_unlock(&list_lock);
	pthread_setspecific(ring_key, r);
	return r;
}

static void wake_sender(void)
{
	__atomic_add_fetch(&dbp_ring_wake_word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &dbp_ring_wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
}

void dbp_ring_push(const struct dbp_rec *rec)
{
	struct dbp_ring *r = tls_ring;
	dbp_tls_busy++;
	if (DBP_UNLIKELY(!r)) {
		int saved = errno;
		r = tls_ring = ring_new();
		errno = saved;
		if (!r) {
			tls_ring = RING_RETIRED;
			r = RING_RETIRED;
		}
	}
	if (DBP_UNLIKELY(r == RING_RETIRED)) {
		dbp_ring_count_drop(DBP_DROP_BUFFER_FULL);
		dbp_tls_busy--;
		return;
	}
	uint64_t h = r->head;
	if (DBP_UNLIKELY(h - r->cached_tail > r->mask)) {
		r->cached_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
		if (h - r->cached_tail > r->mask) {
			__atomic_store_n(&r->full_drops, r->full_drops + 1, __ATOMIC_RELAXED);
			dbp_tls_busy--;
			return;
		}
	}
	r->recs[h & r->mask] = *rec;
	__atomic_store_n(&r->head, h + 1, __ATOMIC_RELEASE);
	/* Every half ring, nudge the sender: one syscall per thousands of records. */
	if (DBP_UNLIKELY(((h + 1) & (r->mask >> 1)) == 0)) {
		int saved = errno;
		wake_sender();
		errno = saved;
	}
	dbp_tls_busy--;
}

void dbp_ring_count_drop(enum dbp_drop_reason why)
{
	__atomic_add_fetch(&global_drops[why], 1, __ATOMIC_RELAXED);
}

int dbp_ring_drain(dbp_ring_fn fn, void *arg)
{
	int stopped = 0;
	pthread_mutex_lock(&list_lock);
	struct dbp_ring **pp = &rings;
	while (*pp) {
		struct dbp_ring *r = *pp;
		int dead = __atomic_load_n(&r->dead, __ATOMIC_ACQUIRE);
		uint64_t t = r->tail, h = __atomic_load_n(&r->head, __ATOMIC_ACQUIRE);
		while (!stopped && t != h) {
			if (fn(&r->recs[t & r->mask], r->tid, arg) < 0)
				stopped = 1;
			else
				t++;
		}
		__atomic_store_n(&r->tail, t, __ATOMIC_RELEASE);
		if (dead && t == h) {
			*pp = r->next;
			freed_full_drops += __atomic_load_n(&r->full_drops, __ATOMIC_RELAXED);
			munmap(r, r->map_bytes);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&list_lock);
	return stopped ? -1 : 0;
}

/* Buffer-full drops are counted per ring without atomics on the producer side; the consumer
 * turns them into deltas by remembering what it already reported per ring. */
static uint64_t reported_full;

int dbp_ring_take_drops(uint64_t out[DBP_DROP_REASON_COUNT])
{
	int any = 0;
	pthread_mutex_lock(&list_lock);
	uint64_t full = freed_full_drops;
	for (struct dbp_ring *r = rings; r; r = r->next)
		full += __atomic_load_n(&r->full_drops, __ATOMIC_RELAXED);
	pthread_mutex_unlock(&list_lock);
	for (int i = 0; i < DBP_DROP_REASON_COUNT; i++) {
		out[i] = __atomic_exchange_n(&global_drops[i], 0, __ATOMIC_RELAXED);
		if (i == DBP_DROP_BUFFER_FULL && full > reported_full) {
			out[i] += full - reported_full;
			reported_full = full;
		}
		any |= out[i] != 0;
	}
	return any;
}

void dbp_ring_return_drops(const uint64_t in[DBP_DROP_REASON_COUNT])
{
	for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
		if (in[i])
			__atomic_add_fetch(&global_drops[i], in[i], __ATOMIC_RELAXED);
}

void dbp_ring_reset_child(void)
{
	/* Only the forking thread survives in the child. Its ring is emptied; the others belong
	 * to threads that do not exist here, so they are retired right away. */
	struct dbp_ring *own = tls_ring == RING_RETIRED ? NULL : tls_ring;
	struct dbp_ring **pp = &rings;
	while (*pp) {
		struct dbp_ring *r = *pp;
		if (r == own) {
			r->tail = r->head;
			r->full_drops = 0;
			r->tid = (uint32_t)syscall(SYS_gettid);
			pp = &r->next;
			continue;
		}
		*pp = r->next;
		munmap(r, r->map_bytes);
	}
	memset(global_drops, 0, sizeof global_drops);
	freed_full_drops = 0;
	reported_full = 0;
	dbp_ring_wake_word = 0;
}
