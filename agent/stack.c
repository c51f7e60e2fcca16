/* stack: capture, module table, interning and the capture policy. */
#include "stack.h"

#include <dlfcn.h>
#include <elf.h>
#include <errno.h>
#include <limits.h>
#include <link.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"
#include "clock.h"
#include "config.h"
#include "log.h"
#include "process.h"

#define MODULES_MAX 1024
#define STACKS_MAX 8192              /* distinct stacks per process; then none (counted nowhere) */
#define STACK_SLOTS 4096             /* hash chains */
#define FIRST_PER_QUERY 8            /* sampled: the first calls of each statement */
#define RATE_PER_SECOND 50           /* sampled: then at most this many a second, process-wide */
#define RAW_MAX (DBP_STACK_MAX + 64) /* frames read before skipping ours and the client's */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

/* ---- libunwind, private ------------------------------------------------------------------ */

static int (*unw_backtrace_fn)(void **, int);
static int unwind_state; /* 0 not tried, 2 loading, 1 loaded, -1 unavailable */

/* RTLD_LOCAL: its _Unwind_* and backtrace stay out of the program's symbol lookups. One thread
 * loads it, holding none of our locks (dlopen takes the loader's: a library constructor making
 * a database call on another thread meanwhile must not wait on us); the others skip their
 * capture until it is there. */
static int unwind_load(void)
{
	int st = __atomic_load_n(&unwind_state, __ATOMIC_ACQUIRE);
	if (DBP_LIKELY(st == 1))
		return 1;
	if (st || !__atomic_compare_exchange_n(&unwind_state, &st, 2, 0, __ATOMIC_ACQ_REL,
					       __ATOMIC_ACQUIRE))
		return 0;
	int saved = errno;
	void *h = dlopen("libunwind.so.8", RTLD_LAZY | RTLD_LOCAL);
	void *f = h ? dlsym(h, "unw_backtrace") : NULL;
	if (f) {
		/* Per-thread caches: its global cache lock would be held across a fork by any
		 * thread caught unwinding, and the child's first capture would wait forever. */
		void *policy = dlsym(h, "_ULx86_64_set_caching_policy");
		void *as = dlsym(h, "_ULx86_64_local_addr_space");
		if (policy && as)
			((int (*)(void *, int))policy)(*(void **)as, 2 /* UNW_CACHE_PER_THREAD */);
		*(void **)&unw_backtrace_fn = f;
		__atomic_store_n(&unwind_state, 1, __ATOMIC_RELEASE);
	} else {
		dbp_warn("libunwind.so.8 not loadable (%s): no call-site stacks",
			 h ? "no unw_backtrace" : dlerror());
		__atomic_store_n(&unwind_state, -1, __ATOMIC_RELEASE);
	}
	errno = saved;
	return f != NULL;
}

/* ---- modules ------------------------------------------------------------------------------ */

static struct dbp_module_ent *mods[MODULES_MAX];
static unsigned nmods;

/* Database client libraries: their frames are the API's inside, not its caller. */
static int client_library(const char *path)
{
	const char *b = strrchr(path, '/');
	b = b ? b + 1 : path;
	static const char *const names[] = { "libsqlite3.so", "libpq.so", "libmariadb.so",
					     "libmysqlclient.so" };
	for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
		if (!strncmp(b, names[i], strlen(names[i])))
			return 1;
	return 0;
}

static void build_id_of(const struct dl_phdr_info *info, struct dbp_module_ent *m)
{
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr);
		const char *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const ElfW(Nhdr) *)p;
			const char *name = p + sizeof *n;
			const char *desc = name + ((n->n_namesz + 3) & ~3u);
			const char *next = desc + ((n->n_descsz + 3) & ~3u);
			if (next > end)
				break;
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    !memcmp(name, "GNU", 4) && n->n_descsz <= sizeof m->build_id) {
				memcpy(m->build_id, desc, n->n_descsz);
				m->build_id_len = (uint16_t)n->n_descsz;
				return;
			}
			p = next;
		}
	}
}

static unsigned scan_no;        /* under the lock */
static char abs_path[PATH_MAX]; /* under the lock: no 4 KB on a hook's stack */

static int scan_one(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	(void)arg;
	uint64_t lo = UINT64_MAX, hi = 0;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD)
			continue;
		uint64_t a = info->dlpi_addr + ph->p_vaddr;
		if (a < lo)
			lo = a;
		if (a + ph->p_memsz > hi)
			hi = a + ph->p_memsz;
	}
	if (lo >= hi)
		return 0;
	/* The main program has an empty name: its path is /proc/self/exe's. A library opened
	 * by a relative path is named as it was opened: made absolute here, the exporter
	 * cannot know the program's working directory. */
	const char *path =
		info->dlpi_name && *info->dlpi_name ? info->dlpi_name : dbp_process()->exe;
	if (path[0] != '/' && strcmp(path, "linux-vdso.so.1") && realpath(path, abs_path))
		path = abs_path;
	for (unsigned i = 0; i < nmods; i++) {
		struct dbp_module_ent *m = mods[i];
		if (m->base == info->dlpi_addr && m->lo == lo && m->hi == hi &&
		    !strcmp(m->path, path)) {
			m->scan = scan_no;
			return 0;
		}
	}
	if (nmods >= MODULES_MAX)
		return 0;
	size_t n = strlen(path);
	struct dbp_module_ent *m = calloc(1, sizeof *m + n + 1);
	if (!m)
		return 0;
	m->id = nmods + 1;
	m->base = info->dlpi_addr;
	m->lo = lo;
	m->hi = hi;
	memcpy(m->path, path, n + 1);
	m->path_len = (uint16_t)(n < DBP_STRING_MAX ? n : DBP_STRING_MAX);
	build_id_of(info, m);
	m->skip = client_library(m->path) || (lo <= (uint64_t)(uintptr_t)&dbp_stack_capture &&
					      (uint64_t)(uintptr_t)&dbp_stack_capture < hi);
	m->scan = scan_no;
	__atomic_store_n(&m->live, 1, __ATOMIC_RELEASE);
	__atomic_store_n(&mods[nmods], m, __ATOMIC_RELEASE);
	__atomic_store_n(&nmods, nmods + 1, __ATOMIC_RELEASE);
	return 0;
}

/* glibc counts objects loaded and unloaded (dlpi_adds, dlpi_subs): read from the first
 * object only, they tell whether anything changed since the last scan. A library unloaded and
 * another loaded over its addresses would otherwise keep the old one's name. */
static unsigned long long seen_adds, seen_subs;

static int counts_of(struct dl_phdr_info *info, size_t size, void *arg)
{
	unsigned long long *c = arg;
	if (size >= offsetof(struct dl_phdr_info, dlpi_subs) + sizeof info->dlpi_subs) {
		c[0] = info->dlpi_adds;
		c[1] = info->dlpi_subs;
	}
	return 1; /* the first object is enough */
}

/* Under the lock: the loaded objects as they are now. Modules a scan no longer finds are
 * marked gone only after it: a capture meanwhile on another thread still finds the others. */
static void rescan(const unsigned long long c[2])
{
	scan_no++;
	dl_iterate_phdr(scan_one, NULL);
	for (unsigned i = 0; i < nmods; i++)
		if (mods[i]->scan != scan_no)
			__atomic_store_n(&mods[i]->live, 0, __ATOMIC_RELEASE);
	__atomic_store_n(&seen_adds, c[0], __ATOMIC_RELEASE);
	__atomic_store_n(&seen_subs, c[1], __ATOMIC_RELEASE);
}

/* Before a capture: whether the table is current (rescanned if objects came or went). 0 when
 * another thread is scanning: a hook never waits, it goes without a stack. */
static int modules_fresh(void)
{
	unsigned long long c[2] = { 0, 0 };
	dl_iterate_phdr(counts_of, c);
	if (c[0] == __atomic_load_n(&seen_adds, __ATOMIC_ACQUIRE) &&
	    c[1] == __atomic_load_n(&seen_subs, __ATOMIC_ACQUIRE))
		return 1;
	if (pthread_mutex_trylock(&lock))
		return 0;
	rescan(c);
	pthread_mutex_unlock(&lock);
	return 1;
}

static const struct dbp_module_ent *module_of(uint64_t pc)
{
	unsigned n = __atomic_load_n(&nmods, __ATOMIC_ACQUIRE);
	for (unsigned i = n; i-- > 0;) { /* newest first: a range reused after dlclose */
		const struct dbp_module_ent *m = __atomic_load_n(&mods[i], __ATOMIC_ACQUIRE);
		if (__atomic_load_n(&m->live, __ATOMIC_ACQUIRE) && pc >= m->lo && pc < m->hi)
			return m;
	}
	return NULL;
}

/* ---- interning --------------------------------------------------------------------------- */

static struct dbp_stack_ent *chains[STACK_SLOTS];
static unsigned nstacks;

static uint64_t hash_frames(const struct dbp_stack_frame *f, unsigned n)
{
	uint64_t h = 1469598103934665603ull;
	for (unsigned i = 0; i < n; i++) {
		h = (h ^ f[i].mod->id) * 1099511628211ull;
		h = (h ^ f[i].offset) * 1099511628211ull;
	}
	return h ? h : 1;
}

static const struct dbp_stack_ent *intern(const struct dbp_stack_frame *f, unsigned n)
{
	uint64_t h = hash_frames(f, n);
	struct dbp_stack_ent **slot = &chains[h % STACK_SLOTS];
	for (struct dbp_stack_ent *s = __atomic_load_n(slot, __ATOMIC_ACQUIRE); s; s = s->next)
		if (s->hash == h && s->nframes == n && !memcmp(s->f, f, n * sizeof *f))
			return s;
	if (__atomic_load_n(&nstacks, __ATOMIC_RELAXED) >= STACKS_MAX ||
	    pthread_mutex_trylock(&lock))
		return NULL; /* full, or another thread inserting: this call goes without */
	struct dbp_stack_ent *s;
	for (s = *slot; s; s = s->next)
		if (s->hash == h && s->nframes == n && !memcmp(s->f, f, n * sizeof *f))
			break;
	if (!s && nstacks < STACKS_MAX && (s = calloc(1, sizeof *s + n * sizeof *f))) {
		s->id = nstacks + 1;
		__atomic_store_n(&nstacks, nstacks + 1, __ATOMIC_RELAXED);
		s->hash = h;
		s->nframes = (uint16_t)n;
		memcpy(s->f, f, n * sizeof *f);
		s->next = *slot;
		__atomic_store_n(slot, s, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	return s;
}

/* ---- capture ------------------------------------------------------------------------------ */

const struct dbp_stack_ent *dbp_stack_capture(void)
{
	if (!unwind_load() || !modules_fresh())
		return NULL;
	void *raw[RAW_MAX];
	int depth = dbp_cfg.stack_depth;
	int got = unw_backtrace_fn(raw, depth + 64 < RAW_MAX ? depth + 64 : RAW_MAX);
	struct dbp_stack_frame f[DBP_STACK_MAX];
	unsigned n = 0;
	int caller_seen = 0;
	for (int i = 0; i < got && n < (unsigned)depth; i++) {
		uint64_t pc = (uint64_t)(uintptr_t)raw[i];
		const struct dbp_module_ent *m = module_of(pc);
		/* Code no loaded object owns (JIT code; a module the full table could not take):
		 * the stack ends there, so its first frame is never the wrong function. */
		if (!m)
			break;
		/* Our frames and the client library's come first; the program's after them. A
		 * callback from the library into the program (sqlite3_exec's) is the program's. */
		if (!caller_seen && m->skip)
			continue;
		caller_seen = 1;
		f[n].mod = m;
		f[n].offset = pc - m->base;
		n++;
	}
	return n ? intern(f, n) : NULL;
}

/* Rate limits, in ticks (the record's own end time: no clock read), without a lock: the
 * generic cell rate algorithm on one word, the time the bucket would be empty again. */
struct rate {
	uint64_t tat;
	uint64_t interval, interval_fp; /* interval in ticks, for the ratio it was made with */
	unsigned per_second, burst;
};

static int rate_allows(struct rate *r, uint64_t now)
{
	uint64_t fp = __atomic_load_n(&dbp_clock_fp, __ATOMIC_RELAXED);
	if (DBP_UNLIKELY(fp != __atomic_load_n(&r->interval_fp, __ATOMIC_RELAXED))) {
		uint64_t ns = 1000000000ull / r->per_second;
		__atomic_store_n(&r->interval,
				 (uint64_t)(((unsigned __int128)ns << 32) / (fp ? fp : 1)),
				 __ATOMIC_RELAXED);
		__atomic_store_n(&r->interval_fp, fp, __ATOMIC_RELAXED);
	}
	uint64_t iv = __atomic_load_n(&r->interval, __ATOMIC_RELAXED);
	uint64_t tat = __atomic_load_n(&r->tat, __ATOMIC_RELAXED);
	for (;;) {
		uint64_t slack = (uint64_t)(r->burst - 1) * iv; /* burst calls may pass at once */
		if (tat > now + slack)
			return 0;
		if (__atomic_compare_exchange_n(&r->tat, &tat, (tat > now ? tat : now) + iv, 0,
						__ATOMIC_RELAXED, __ATOMIC_RELAXED))
			return 1;
	}
}

/* Beyond the first calls of a statement: a trickle of the rest. */
static struct rate sampled_rate = { .per_second = RATE_PER_SECOND, .burst = 1 };
/* Failed and slow calls: every one, but a loop of failures (retries, constraint violations)
 * pays for a bounded number of captures a second. */
static struct rate notable_rate = { .per_second = 1000, .burst = 256 };
/* Calls sampled for a trace: their spans' code locations. At 100% sampling every call asks,
 * so the budget is what a capture a call would cost: 200 a second is a few hundred
 * microseconds of a second (the first calls of each statement have theirs anyway). */
static struct rate traced_rate = { .per_second = 200, .burst = 64 };

const struct dbp_stack_ent *dbp_stack_for(const struct dbp_query_ent *q, int failed,
					  int traced, uint64_t dur_ticks, uint64_t end_ticks)
{
	switch (dbp_cfg.stacks) {
	case DBP_STACKS_OFF:
		return NULL;
	case DBP_STACKS_ALL:
		break;
	default:
		if (failed || dbp_ticks_ns(dur_ticks) >= dbp_cfg.slow_ns) {
			if (rate_allows(&notable_rate, end_ticks))
				break;
			return NULL;
		}
		/* A span's code location: at 100% sampling every call is traced, so these have a
		 * budget of their own. */
		if (traced && rate_allows(&traced_rate, end_ticks))
			break;
		if (q && q->id && __atomic_load_n(&q->stacks, __ATOMIC_RELAXED) < FIRST_PER_QUERY &&
		    __atomic_fetch_add(&((struct dbp_query_ent *)q)->stacks, 1, __ATOMIC_RELAXED) <
			    FIRST_PER_QUERY)
			break;
		if (rate_allows(&sampled_rate, end_ticks))
			break;
		return NULL;
	}
	if (__atomic_load_n(&unwind_state, __ATOMIC_RELAXED) < 0)
		return NULL;
	int saved = errno;
	const struct dbp_stack_ent *s = dbp_stack_capture();
	errno = saved;
	return s;
}

void dbp_stack_lock(void)
{
	pthread_mutex_lock(&lock);
}

void dbp_stack_unlock(void)
{
	pthread_mutex_unlock(&lock);
}
