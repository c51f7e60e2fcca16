/* fd shim: descriptor lifecycle hooks. The program's close/dup2/dup3/close_range do exactly
 * what it asked; if they name the agent's own socket, it is moved out of the way first, so a
 * program that closes every descriptor never cuts the agent off, and a number it reuses never
 * receives the agent's bytes. */
#include <errno.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef CLOSE_RANGE_CLOEXEC
#define CLOSE_RANGE_CLOEXEC (1U << 2)
#endif

#include "agent.h"
#include "fdwatch.h"
#include "process.h"
#include "hook.h"
#include "resolve.h"
#include "sender.h"
#include "sockfd.h"

static int (*real_close)(int);
static int (*real_dup2)(int, int);
static int (*real_dup3)(int, int, int);
static int (*real_close_range)(unsigned, unsigned, int);

/* Only while running: before init and after the exit flush there is no socket to guard. */
static int guarded(int lo, int hi)
{
	int s = __atomic_load_n(&dbp_sender_sock, __ATOMIC_ACQUIRE);
	return DBP_UNLIKELY(s >= lo && s <= hi && s >= 0) && !dbp_tls_busy &&
	       __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) == DBP_ST_RUNNING;
}

/* A followed connection's number is about to mean something else. From a signal handler (or
 * the agent itself) the table's lock is off limits: the entry is only abandoned then. */
static void unfollow(int lo, int hi)
{
	/* Lock-free first: almost every close names a descriptor nobody follows. */
	if (DBP_LIKELY(!dbp_fdwatch_any(lo, hi)))
		return;
	/* In a vfork child (shared memory, its own descriptors) the table is the parent's. */
	if ((uint32_t)syscall(SYS_getpid) != dbp_process()->pid)
		return;
	int saved = errno;
	if (dbp_tls_busy || dbp_tls_depth) {
		/* A signal handler, or the agent itself: the table's lock is off limits. */
		for (int fd = lo; fd <= hi && fd < DBP_FDWATCH_MAX; fd++) {
			struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
			if (e)
				mywire_abandon(&e->w);
		}
	} else {
		dbp_tls_busy++; /* a handler's close meanwhile only abandons */
		dbp_fdwatch_forget(lo, hi);
		dbp_tls_busy--;
	}
	errno = saved;
}

static void vacate(int lo, int hi)
{
	int saved = errno;
	/* A vfork child shares our memory but not our descriptor table: moving "our" socket there
	 * would leave the parent holding a number that is not its socket. Hands off. */
	if ((uint32_t)syscall(SYS_getpid) != dbp_process()->pid) {
		errno = saved;
		return;
	}
	dbp_tls_busy++;
	dbp_sender_vacate(lo, hi);
	dbp_tls_busy--;
	errno = saved;
}

DBP_EXPORT int close(int fd)
{
	if (DBP_UNLIKELY(!real_close) && !(real_close = dbp_resolve("close", NULL)))
		return (int)syscall(SYS_close, fd);
	if (guarded(fd, fd))
		vacate(fd, fd);
	unfollow(fd, fd);
	dbp_sockfd_forget(fd, fd);
	int rc = real_close(fd);
	/* Again after: a write racing with the close may have classified it meanwhile. */
	if (rc == 0)
		dbp_sockfd_forget(fd, fd);
	return rc;
}

DBP_EXPORT int dup2(int oldfd, int newfd)
{
	if (DBP_UNLIKELY(!real_dup2) && !(real_dup2 = dbp_resolve("dup2", NULL)))
		return (int)syscall(SYS_dup2, oldfd, newfd);
	if (oldfd != newfd && guarded(newfd, newfd))
		vacate(newfd, newfd);
	if (oldfd != newfd)
		unfollow(newfd, newfd);
	int rc = real_dup2(oldfd, newfd);
	if (rc >= 0 && oldfd != newfd)
		dbp_sockfd_set(newfd, dbp_sockfd_get(oldfd));
	return rc;
}

DBP_EXPORT int dup3(int oldfd, int newfd, int flags)
{
	if (DBP_UNLIKELY(!real_dup3) && !(real_dup3 = dbp_resolve("dup3", NULL)))
		return (int)syscall(SYS_dup3, oldfd, newfd, flags);
	if (oldfd != newfd && guarded(newfd, newfd))
		vacate(newfd, newfd);
	if (oldfd != newfd)
		unfollow(newfd, newfd);
	int rc = real_dup3(oldfd, newfd, flags);
	if (rc >= 0)
		dbp_sockfd_set(newfd, dbp_sockfd_get(oldfd));
	return rc;
}

DBP_EXPORT int close_range(unsigned first, unsigned last, int flags)
{
	if (DBP_UNLIKELY(!real_close_range) &&
	    !(real_close_range = dbp_resolve("close_range", NULL)))
		return (int)syscall(SYS_close_range, first, last, flags);
	int hi = last > 0x7fffffffu ? 0x7fffffff : (int)last;
	if (first <= 0x7fffffffu && guarded((int)first, hi))
		vacate((int)first, hi);
	if (first <= 0x7fffffffu && !(flags & CLOSE_RANGE_CLOEXEC)) /* CLOEXEC closes nothing now */
		unfollow((int)first, hi);
	int rc = real_close_range(first, last, flags);
	if (rc == 0 && first <= 0x7fffffffu && !(flags & CLOSE_RANGE_CLOEXEC))
		dbp_sockfd_forget((int)first, hi);
	return rc;
}
