/* sockstat: per-thread socket write counters and the sender's totals. */
#include "sockstat.h"

#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "ring.h"

#define SLOTS 256 /* (peer, direction, system, errno) keys one thread can count */
#define TOTALS 512

struct seen {
	uint64_t bytes, ns;
	uint32_t buckets[DBP_SOCK_BUCKETS];
};

struct dbp_sockstat {
	struct dbp_sock_slot slots[SLOTS];
	struct seen seen[SLOTS];
	uint32_t used; /* slots taken (the thread's own count) */
};

#define KEY DBP_SOCK_KEY
#define KEY_PEER(k) ((k)&0xffffu)
#define KEY_DIR(k) (((k) >> 16) & 1u)
#define KEY_SYS(k) (((k) >> 17) & 7u)
#define KEY_ERR(k) (((k) >> 20) & 0x7ffu)

static struct dbp_sockstat *mine(void)
{
	struct dbp_ring *r = dbp_ring_mine();
	if (!r)
		return NULL;
	struct dbp_sockstat *t = __atomic_load_n(&r->sock, __ATOMIC_RELAXED);
	if (DBP_LIKELY(t))
		return t;
	t = mmap(NULL, sizeof *t, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t == MAP_FAILED)
		return NULL;
	__atomic_store_n(&r->sock, t, __ATOMIC_RELEASE);
	return t;
}

static struct dbp_sock_slot *slot_of(struct dbp_sockstat *t, uint32_t key)
{
	uint32_t i = (key * 2654435761u) >> 24; /* SLOTS == 256 */
	for (;; i = (i + 1) & (SLOTS - 1)) {
		struct dbp_sock_slot *s = &t->slots[i];
		if (s->key == key)
			break;
		if (!s->key) {
			if (t->used >= SLOTS * 3 / 4)
				return NULL;
			t->used++;
			__atomic_store_n(&s->key, key, __ATOMIC_RELEASE);
			break;
		}
	}
	dbp_tls_sock_last = (struct dbp_sock_last){ &t->slots[i], key };
	return &t->slots[i];
}

DBP_TLS struct dbp_sock_last dbp_tls_sock_last;

void dbp_sockstat_add(uint32_t peer, unsigned dir, unsigned sys, int err, uint64_t bytes,
		      uint64_t ns)
{
	int saved = errno; /* a first write maps this thread's counters */
	struct dbp_sockstat *t = mine();
	errno = saved;
	if (!t)
		return;
	if (err < 0 || err > 0x7ff)
		err = 0x7ff;
	struct dbp_sock_slot *s = slot_of(t, KEY(peer, dir & 1u, sys & 7u, (uint32_t)err));
	if (!s) {
		dbp_ring_count_drop(DBP_DROP_SOCKET_SLOTS);
		return;
	}
	dbp_sock_slot_bump(s, bytes, ns);
}

/* ---- sender side ------------------------------------------------------------------------- */

static struct dbp_sock_total totals[TOTALS];
static uint32_t total_keys[TOTALS]; /* KEY with err 0; 0: free */
static unsigned ntotals;

static struct dbp_sock_total *total_of(uint32_t key)
{
	uint32_t k = key & ~(0x7ffu << 20);
	uint32_t i = (k * 2654435761u) % TOTALS;
	for (unsigned n = 0; n < TOTALS; n++, i = (i + 1) % TOTALS) {
		if (total_keys[i] == k)
			return &totals[i];
		if (!total_keys[i]) {
			if (ntotals >= TOTALS * 3 / 4)
				return NULL;
			ntotals++;
			total_keys[i] = k;
			struct dbp_sock_total *t = &totals[i];
			memset(t, 0, sizeof *t);
			t->peer = KEY_PEER(k);
			t->dir = (uint8_t)KEY_DIR(k);
			t->sys = (uint8_t)KEY_SYS(k);
			return t;
		}
	}
	return NULL;
}

static void add_err(struct dbp_sock_total *t, uint32_t err, uint64_t n)
{
	for (unsigned i = 0; i < t->nerr; i++)
		if (t->errs[i].err_no == err) {
			t->errs[i].count += n;
			return;
		}
	if (t->nerr < DBP_SOCK_ERR_MAX)
		t->errs[t->nerr++] = (struct dbp_sock_err){ .err_no = err, .count = n };
}

void dbp_sockstat_collect(struct dbp_sockstat *st)
{
	for (unsigned i = 0; i < SLOTS; i++) {
		const struct dbp_sock_slot *s = &st->slots[i];
		uint32_t key = __atomic_load_n(&s->key, __ATOMIC_ACQUIRE);
		if (!key)
			continue;
		/* The writer bumps calls, bytes, ns and a bucket one after the other, and we may
		 * look in between: calls are counted from the buckets, so a record's histogram
		 * always adds up to its calls (bytes and time catch up at the next look). */
		struct seen *seen = &st->seen[i];
		uint32_t now[DBP_SOCK_BUCKETS];
		uint64_t calls = 0;
		for (unsigned b = 0; b < DBP_SOCK_BUCKETS; b++) {
			now[b] = __atomic_load_n(&s->buckets[b], __ATOMIC_RELAXED);
			calls += (uint32_t)(now[b] - seen->buckets[b]);
		}
		if (!calls)
			continue;
		struct dbp_sock_total *t = total_of(key);
		if (!t) {
			dbp_ring_count_drops(DBP_DROP_SOCKET_SLOTS, calls);
			memcpy(seen->buckets, now, sizeof now);
			continue;
		}
		uint64_t bytes = __atomic_load_n(&s->bytes, __ATOMIC_RELAXED);
		uint64_t ns = __atomic_load_n(&s->ns, __ATOMIC_RELAXED);
		t->calls += calls;
		t->bytes += bytes - seen->bytes;
		t->sum_ns += ns - seen->ns;
		if (KEY_ERR(key))
			add_err(t, KEY_ERR(key), calls);
		for (unsigned b = 0; b < DBP_SOCK_BUCKETS; b++)
			t->buckets[b] += (uint32_t)(now[b] - seen->buckets[b]);
		memcpy(seen->buckets, now, sizeof now);
		seen->bytes = bytes;
		seen->ns = ns;
	}
}

void dbp_sockstat_free(struct dbp_sockstat *t)
{
	munmap(t, sizeof *t);
}

void dbp_sockstat_take(int (*fn)(const struct dbp_sock_total *, void *), void *arg)
{
	for (unsigned i = 0; i < TOTALS; i++) {
		if (!total_keys[i] || !totals[i].calls)
			continue;
		if (fn(&totals[i], arg) < 0)
			return; /* the rest waits for the next look */
		struct dbp_sock_total *t = &totals[i];
		uint32_t peer = t->peer;
		uint8_t dir = t->dir, sys = t->sys;
		memset(t, 0, sizeof *t);
		t->peer = peer;
		t->dir = dir;
		t->sys = sys;
	}
	/* All shipped: the keys go too, so peers seen once (a UDP client per datagram, a
	 * connection long closed) never fill the table. They come back at the next write. */
	dbp_sockstat_clear();
}

void dbp_sockstat_reset_child(void)
{
	dbp_tls_sock_last = (struct dbp_sock_last){ NULL, 0 }; /* its table is gone */
	dbp_sockstat_clear();
}

void dbp_sockstat_clear(void)
{
	memset(total_keys, 0, sizeof total_keys);
	ntotals = 0;
}
