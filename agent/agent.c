/* agent: lifecycle (not-ready -> running -> stopping), fork handling, exit flush. */
#include "agent.h"

#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

#include "clock.h"
#include "config.h"
#include "fdwatch.h"
#include "intern.h"
#include "log.h"
#include "peer.h"
#include "process.h"
#include "ptrmap.h"
#include "ring.h"
#include "trace.h"
#include "sender.h"
#include "stack.h"

int dbp_state = DBP_ST_NOT_READY;
unsigned dbp_armed_shims;
DBP_TLS unsigned dbp_tls_busy;
DBP_TLS unsigned dbp_tls_depth;
DBP_TLS struct dbp_io dbp_tls_io;
DBP_TLS struct dbp_io *dbp_tls_io_sink;
DBP_TLS uint8_t dbp_tls_io_system;

#define EXIT_FLUSH_MS 500 /* the longest an exiting program waits for a slow exporter */

static struct dbp_process proc;

const struct dbp_process *dbp_process(void)
{
	return &proc;
}

static void process_fill(void)
{
	proc.pid = (uint32_t)getpid();
	proc.ppid = (uint32_t)getppid();
	proc.start_unix_ns = dbp_unix_ns();
}

static const char *env_get(const char *name)
{
	return getenv(name);
}

/* Our locks are taken across fork() in a fixed order, so the child never inherits one that a
 * thread which does not exist there was holding. */
static void fork_prepare(void)
{
	dbp_tls_busy++;
	dbp_sender_lock();
	dbp_ring_lock();
	dbp_intern_lock();
	dbp_ptrmap_lock_all();
	dbp_fdwatch_lock();
	dbp_peer_lock();
	dbp_stack_lock();
}

static void fork_parent(void)
{
	dbp_stack_unlock();
	dbp_peer_unlock();
	dbp_fdwatch_unlock();
	dbp_ptrmap_unlock_all();
	dbp_intern_unlock();
	dbp_ring_unlock();
	dbp_sender_unlock();
	dbp_tls_busy--;
}

static void fork_child(void)
{
	dbp_stack_unlock();
	dbp_peer_unlock();
	dbp_fdwatch_reset_child();
	dbp_fdwatch_unlock();
	dbp_ptrmap_unlock_all();
	dbp_intern_unlock();
	dbp_ring_unlock();
	dbp_sender_unlock();
	if (__atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) == DBP_ST_RUNNING) {
		/* Silent until re-armed: nothing recorded before this point is the child's. */
		__atomic_store_n(&dbp_state, DBP_ST_INITIALIZING, __ATOMIC_RELEASE);
		dbp_ring_reset_child();
		dbp_sender_reset_child();
		dbp_trace_reset_child();
		process_fill();
		dbp_clock_init();
		__atomic_store_n(&dbp_state, DBP_ST_RUNNING, __ATOMIC_RELEASE);
	}
	dbp_tls_busy--;
}

void dbp_init(void)
{
	int expect = DBP_ST_NOT_READY;
	if (!__atomic_compare_exchange_n(&dbp_state, &expect, DBP_ST_INITIALIZING, 0,
					 __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
		return;
	int saved = errno;
	dbp_tls_busy++;
	dbp_config_load(&dbp_cfg, env_get);
	if (dbp_cfg.disabled) {
		__atomic_store_n(&dbp_state, DBP_ST_DISABLED, __ATOMIC_RELEASE);
		dbp_tls_busy--;
		errno = saved;
		return;
	}
	ssize_t n = readlink("/proc/self/exe", proc.exe, sizeof proc.exe - 1);
	proc.exe[n > 0 ? n : 0] = 0;
	process_fill();
	dbp_clock_init();
	dbp_ring_init();
	pthread_atfork(fork_prepare, fork_parent, fork_child);
	dbp_armed_shims = dbp_cfg.shims;
	dbp_log(1, "armed in %s (service %s, socket %s)", proc.exe, dbp_cfg.service,
		dbp_cfg.socket_path);
	__atomic_store_n(&dbp_state, DBP_ST_RUNNING, __ATOMIC_RELEASE);
	dbp_tls_busy--;
	errno = saved;
}

__attribute__((constructor)) static void agent_ctor(void)
{
	dbp_init();
}

/* Runs at exit() from any thread (and at dlclose), after the program's atexit handlers. */
__attribute__((destructor)) static void agent_dtor(void)
{
	int expect = DBP_ST_RUNNING;
	if (!__atomic_compare_exchange_n(&dbp_state, &expect, DBP_ST_STOPPING, 0, __ATOMIC_ACQ_REL,
					 __ATOMIC_ACQUIRE))
		return;
	int saved = errno;
	dbp_tls_busy++;
	if (dbp_sender_started()) /* a program that recorded nothing never connects */
		dbp_sender_flush(EXIT_FLUSH_MS);
	dbp_tls_busy--;
	errno = saved;
}
