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
#include "sender.h"
#include "sockstat.h"

uint32_t dbp_ring_wake_word;

DBP_TLS struct dbp_ring *dbp_tls_ring;

static pthread_mutex_t list_lock = PTHREAD_MUTEX_INITIALIZER;
static struct dbp_ring *rings;
static pthread_key_t ring_key;
static uint64_t global_drops[DBP_DROP_REASON_COUNT];
/* Buffer-full drops of rings already freed, not yet reported. */
static uint64_t freed_full_drops;

static void ring_thread_exit(void *p)
{
	struct dbp_ring *r = p;
	dbp_tls_ring = DBP_RING_RETIRED;
	/* A later destructor's write must not count into counters the sender is about to free. */
	dbp_tls_sock_last = (struct dbp_sock_last){ NULL, 0 };
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

void dbp_ring_wake(void)
{
	int saved = errno;
	dbp_sender_ensure(); /* retries a sender that failed to start */
	__atomic_add_fetch(&dbp_ring_wake_word, 1, __ATOMIC_RELEASE);
	syscall(SYS_futex, &dbp_ring_wake_word, FUTEX_WAKE_PRIVATE, 1, NULL, NULL, 0);
	errno = saved;
}

struct dbp_ring *dbp_ring_mine(void)
{
	struct dbp_ring *r = dbp_tls_ring;
	if (DBP_LIKELY(r != NULL && r != DBP_RING_RETIRED))
		return r;
	if (r == DBP_RING_RETIRED)
		return NULL;
	int saved = errno;
	r = dbp_tls_ring = ring_new();
	if (!r)
		dbp_tls_ring = DBP_RING_RETIRED;
	else
		dbp_sender_ensure();
	errno = saved;
	return r;
}

struct dbp_rec *dbp_ring_reserve_slow(void)
{
	struct dbp_ring *r = dbp_tls_ring;
	if (!r) {
		int saved = errno;
		r = dbp_tls_ring = ring_new();
		if (!r)
			dbp_tls_ring = DBP_RING_RETIRED;
		else
			dbp_sender_ensure(); /* the first record of a thread: cheap when running */
		errno = saved;
		if (!r) {
			dbp_ring_count_drop(DBP_DROP_BUFFER_FULL);
			return NULL;
		}
	}
	if (r == DBP_RING_RETIRED) {
		dbp_ring_count_drop(DBP_DROP_BUFFER_FULL);
		return NULL;
	}
	r->cached_tail = __atomic_load_n(&r->tail, __ATOMIC_ACQUIRE);
	if (r->head - r->cached_tail > r->mask) {
		__atomic_store_n(&r->full_drops, r->full_drops + 1, __ATOMIC_RELAXED);
		return NULL;
	}
	return &r->recs[r->head & r->mask];
}

void dbp_ring_push_tc(const struct dbp_rec *rec, struct dbp_tconn *tc)
{
	struct dbp_rec *slot = dbp_ring_reserve();
	if (slot) {
		*slot = *rec;
		dbp_ring_commit_tc(tc);
	}
}

void dbp_ring_count_drop(enum dbp_drop_reason why)
{
	__atomic_add_fetch(&global_drops[why], 1, __ATOMIC_RELAXED);
}

void dbp_ring_count_drops(enum dbp_drop_reason why, uint64_t n)
{
	__atomic_add_fetch(&global_drops[why], n, __ATOMIC_RELAXED);
}

void dbp_ring_collect_sockets(void)
{
	pthread_mutex_lock(&list_lock);
	for (struct dbp_ring *r = rings; r; r = r->next) {
		struct dbp_sockstat *st = __atomic_load_n(&r->sock, __ATOMIC_ACQUIRE);
		if (st)
			dbp_sockstat_collect(st);
	}
	pthread_mutex_unlock(&list_lock);
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
			/* Up to the end of the buffer, then from its start. */
			size_t off = t & r->mask;
			size_t run = h - t < (r->mask + 1) - off ? h - t : (r->mask + 1) - off;
			size_t used = fn(&r->recs[off], run, r->tid, arg);
			t += used;
			if (used < run)
				stopped = 1;
		}
		__atomic_store_n(&r->tail, t, __ATOMIC_RELEASE);
		if (dead && t == h) {
			*pp = r->next;
			struct dbp_sockstat *st = __atomic_load_n(&r->sock, __ATOMIC_ACQUIRE);
			if (st) { /* its last writes are counted before the counters go */
				dbp_sockstat_collect(st);
				dbp_sockstat_free(st);
			}
			freed_full_drops += __atomic_load_n(&r->full_drops, __ATOMIC_RELAXED);
			munmap(r, r->map_bytes);
			continue;
		}
		pp = &r->next;
	}
	pthread_mutex_unlock(&list_lock);
	return stopped ? -1 : 0;
}

/* Consumes a run without reading it: the records' cache lines stay on the producer's core. */
static size_t count_run(const struct dbp_rec *recs, size_t n, uint32_t tid, void *arg)
{
	(void)recs;
	(void)tid;
	*(uint64_t *)arg += n;
	return n;
}

void dbp_ring_discard(enum dbp_drop_reason why)
{
	uint64_t n = 0;
	dbp_ring_drain(count_run, &n);
	if (n)
		dbp_ring_count_drops(why, n);
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
	/* Only the forking thread survives in the child, and none of the queued records are the
	 * child's. Every ring goes; the next record takes the slow path, which maps a new ring
	 * and starts the child's own sender. */
	while (rings) {
		struct dbp_ring *r = rings;
		rings = r->next;
		if (r->sock)
			dbp_sockstat_free(r->sock);
		munmap(r, r->map_bytes);
	}
	dbp_tls_ring = NULL;
	pthread_setspecific(ring_key, NULL); /* its destructor must not touch the unmapped ring */
	dbp_sockstat_reset_child();
	memset(global_drops, 0, sizeof global_drops);
	freed_full_drops = 0;
	reported_full = 0;
	dbp_ring_wake_word = 0;
}
