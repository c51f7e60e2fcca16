/* fdwatch: the table of followed descriptors. */
#include "fdwatch.h"

#include <pthread.h>
#include <sched.h>
#include <stdlib.h>

#include "agent.h"
#include "ring.h"

struct dbp_fdwatch *dbp_fdwatch_tab[DBP_FDWATCH_MAX];

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct dbp_fdwatch *free_list;
unsigned dbp_fdwatch_live;

struct dbp_fdwatch *dbp_fdwatch_add(int fd, mywire_emit_fn emit)
{
	if ((unsigned)fd >= DBP_FDWATCH_MAX)
		return NULL;
	dbp_fdwatch_forget(fd, fd);
	pthread_mutex_lock(&lock);
	struct dbp_fdwatch *e = free_list;
	if (e)
		free_list = e->next_free;
	else
		e = malloc(sizeof *e);
	if (e) {
		mywire_init(&e->w, emit);
		e->addr[0] = 0;
		e->server = NULL;
		e->port = 0;
		e->in_use = 0;
		e->tc = (struct dbp_tconn){ 0 };
		e->next_free = NULL;
		dbp_fdwatch_live++;
		__atomic_store_n(&dbp_fdwatch_tab[fd], e, __ATOMIC_RELEASE);
	}
	pthread_mutex_unlock(&lock);
	return e;
}

/* Connections closed with a transaction open: recorded once the lock is released (a record
 * may take the ring's lock, which fork handling takes before ours). */
struct gone {
	struct dbp_tconn tc[8];
	int n;
};

static void note_gone(struct gone *g, const struct dbp_fdwatch *e)
{
	if (e->tc.txn.open && g->n < 8)
		g->tc[g->n++] = e->tc;
}

/* The server rolled those transactions back: their spans, if they are exported. Our callers
 * never run inside a record being made (a signal handler's close only abandons entries). */
static void record_gone(struct gone *g)
{
	if (!g->n || __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_RUNNING)
		return;
	for (int i = 0; i < g->n; i++)
		dbp_ring_conn_gone(&g->tc[i]);
}

/* Takes e out of use; the caller holds the lock and has cleared its slot. A transaction
 * still open there goes into g, read once the entry is ours (no hook is inside it). */
static void retire(struct dbp_fdwatch *e, struct gone *g)
{
	/* A hook on another thread may be inside w (it looked the entry up before a blocking
	 * read): its use is short and never blocks, so wait it out. If it never ends (a fork
	 * child of a thread that was mid-read), the entry is leaked rather than reused. */
	int spins = 0;
	while (!dbp_fdwatch_claim(e) && ++spins < 10000)
		sched_yield();
	dbp_fdwatch_live--;
	if (spins >= 10000)
		return;
	note_gone(g, e);
	mywire_free(&e->w);
	dbp_fdwatch_release(e);
	e->next_free = free_list;
	free_list = e;
}

void dbp_fdwatch_forget(int lo, int hi)
{
	if (lo < 0)
		lo = 0;
	if (hi >= DBP_FDWATCH_MAX)
		hi = DBP_FDWATCH_MAX - 1;
	if (!__atomic_load_n(&dbp_fdwatch_live, __ATOMIC_RELAXED) || lo > hi)
		return;
	struct gone g = { .n = 0 };
	pthread_mutex_lock(&lock);
	for (int fd = lo; fd <= hi && dbp_fdwatch_live; fd++) {
		struct dbp_fdwatch *e = dbp_fdwatch_tab[fd];
		if (!e)
			continue;
		__atomic_store_n(&dbp_fdwatch_tab[fd], NULL, __ATOMIC_RELEASE);
		retire(e, &g);
	}
	pthread_mutex_unlock(&lock);
	record_gone(&g);
}

void dbp_fdwatch_forget_entry(int fd, struct dbp_fdwatch *e)
{
	if ((unsigned)fd >= DBP_FDWATCH_MAX)
		return;
	struct gone g = { .n = 0 };
	pthread_mutex_lock(&lock);
	if (dbp_fdwatch_tab[fd] == e) {
		__atomic_store_n(&dbp_fdwatch_tab[fd], NULL, __ATOMIC_RELEASE);
		retire(e, &g);
	}
	pthread_mutex_unlock(&lock);
	record_gone(&g);
}

void dbp_fdwatch_reset_child(void)
{
	/* The parent still holds those connections: closing the child's copies rolls nothing
	 * back on the server. (No walk in the usual program, which follows nothing.) */
	for (int fd = 0; dbp_fdwatch_live && fd < DBP_FDWATCH_MAX; fd++)
		if (dbp_fdwatch_tab[fd])
			dbp_fdwatch_tab[fd]->tc = (struct dbp_tconn){ 0 };
}

void dbp_fdwatch_lock(void)
{
	pthread_mutex_lock(&lock);
}

void dbp_fdwatch_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

int dbp_fdwatch_any(int lo, int hi)
{
	if (!__atomic_load_n(&dbp_fdwatch_live, __ATOMIC_RELAXED))
		return 0;
	if (lo < 0)
		lo = 0;
	if (hi >= DBP_FDWATCH_MAX)
		hi = DBP_FDWATCH_MAX - 1;
	for (int fd = lo; fd <= hi; fd++)
		if (__atomic_load_n(&dbp_fdwatch_tab[fd], __ATOMIC_RELAXED))
			return 1;
	return 0;
}
