/* fd shim: descriptor lifecycle hooks. The program's close/dup2/dup3/close_range do exactly
 * what it asked; if they name the agent's own socket, it is moved out of the way first, so a
 * program that closes every descriptor never cuts the agent off, and a number it reuses never
 * receives the agent's bytes. They, and the calls that hand out new descriptors (open, pipe,
 * dup, eventfd), also keep the write hooks' kind cache right (agent/sockfd.h): a number closed
 * where we cannot see it (fclose, a raw system call) is known again when it comes back. */
/* open and open64 (and the rest) are hooked by their own names: the build's 64-bit file offsets
 * would otherwise redirect one declaration to the other (a no-op for the types on LP64). */
#undef _FILE_OFFSET_BITS
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/eventfd.h>
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
	return real_close(fd);
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
		dbp_sockfd_copy(oldfd, newfd);
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
		dbp_sockfd_copy(oldfd, newfd);
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

/* ---- calls that hand out descriptors: never sockets ------------------------------------------ */

#define NOT_A_SOCKET(fd) dbp_sockfd_set(fd, DBP_FD_OTHER)

/* open's mode is only there with O_CREAT or O_TMPFILE. */
#define OPEN_MODE(flags, last)                                     \
	mode_t mode = 0;                                           \
	if ((flags)&O_CREAT || ((flags)&O_TMPFILE) == O_TMPFILE) { \
		va_list ap;                                        \
		va_start(ap, last);                                \
		mode = (mode_t)va_arg(ap, int);                    \
		va_end(ap);                                        \
	}

#define RESOLVE(name)                          \
	(DBP_LIKELY(real_##name) ? real_##name \
				 : (*(void **)&real_##name = dbp_resolve(#name, NULL)))

static int (*real_open)(const char *, int, ...);
static int (*real_open64)(const char *, int, ...);
static int (*real_openat)(int, const char *, int, ...);
static int (*real_openat64)(int, const char *, int, ...);
static int (*real_creat)(const char *, mode_t);
static int (*real_creat64)(const char *, mode_t);
static int (*real_pipe)(int[2]);
static int (*real_pipe2)(int[2], int);
static int (*real_dup)(int);
static int (*real_eventfd)(unsigned, int);

static int opened(int fd)
{
	if (fd >= 0)
		NOT_A_SOCKET(fd);
	return fd;
}

DBP_EXPORT int open(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return opened(RESOLVE(open) ? real_open(path, flags, mode)
				    : (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

DBP_EXPORT int open64(const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return opened(RESOLVE(open64) ? real_open64(path, flags, mode)
				      : (int)syscall(SYS_openat, AT_FDCWD, path, flags, mode));
}

DBP_EXPORT int openat(int dir, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return opened(RESOLVE(openat) ? real_openat(dir, path, flags, mode)
				      : (int)syscall(SYS_openat, dir, path, flags, mode));
}

DBP_EXPORT int openat64(int dir, const char *path, int flags, ...)
{
	OPEN_MODE(flags, flags);
	return opened(RESOLVE(openat64) ? real_openat64(dir, path, flags, mode)
					: (int)syscall(SYS_openat, dir, path, flags, mode));
}

DBP_EXPORT int creat(const char *path, mode_t mode)
{
	return opened(RESOLVE(creat) ? real_creat(path, mode)
				     : (int)syscall(SYS_openat, AT_FDCWD, path,
						    O_CREAT | O_WRONLY | O_TRUNC, mode));
}

DBP_EXPORT int creat64(const char *path, mode_t mode)
{
	return opened(RESOLVE(creat64) ? real_creat64(path, mode)
				       : (int)syscall(SYS_openat, AT_FDCWD, path,
						      O_CREAT | O_WRONLY | O_TRUNC, mode));
}

DBP_EXPORT int pipe(int fds[2])
{
	int rc = RESOLVE(pipe) ? real_pipe(fds) : (int)syscall(SYS_pipe2, fds, 0);
	if (rc == 0) {
		NOT_A_SOCKET(fds[0]);
		NOT_A_SOCKET(fds[1]);
	}
	return rc;
}

DBP_EXPORT int pipe2(int fds[2], int flags)
{
	int rc = RESOLVE(pipe2) ? real_pipe2(fds, flags) : (int)syscall(SYS_pipe2, fds, flags);
	if (rc == 0) {
		NOT_A_SOCKET(fds[0]);
		NOT_A_SOCKET(fds[1]);
	}
	return rc;
}

DBP_EXPORT int dup(int fd)
{
	int rc = RESOLVE(dup) ? real_dup(fd) : (int)syscall(SYS_dup, fd);
	if (rc >= 0)
		dbp_sockfd_copy(fd, rc); /* a copy: the same kind, the same peer */
	return rc;
}

DBP_EXPORT int eventfd(unsigned count, int flags)
{
	return opened(RESOLVE(eventfd) ? real_eventfd(count, flags)
				       : (int)syscall(SYS_eventfd2, count, flags));
}
