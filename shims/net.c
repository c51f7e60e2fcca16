/* net shim: socket I/O hooks. A connection the program opens itself (not inside a client
 * library call we already hook) is followed by its bytes: if it turns out to speak the MySQL
 * protocol, its statements are recorded (agent/mywire.c). Every other descriptor costs one
 * table lookup per call. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "clock.h"
#include "fdwatch.h"
#include "intern.h"
#include "hook.h"
#include "resolve.h"
#include "ring.h"

#define REAL_FUNCS(X)                                                                            \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                               \
	X(ssize_t, read, (int, void *, size_t))                                                  \
	X(ssize_t, write, (int, const void *, size_t))                                           \
	X(ssize_t, recv, (int, void *, size_t, int))                                             \
	X(ssize_t, send, (int, const void *, size_t, int))                                       \
	X(ssize_t, readv, (int, const struct iovec *, int))                                      \
	X(ssize_t, writev, (int, const struct iovec *, int))                                     \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *))         \
	X(ssize_t, sendto, (int, const void *, size_t, int, const struct sockaddr *, socklen_t)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                                         \
	X(ssize_t, sendmsg, (int, const struct msghdr *, int))

REAL_FUNCS(DBP_REAL_DECLARE)

/* libc's own: resolved on first use, which can come before our constructor (any library's
 * constructor may write). A libc without one (never seen) makes the raw system call. */
#define REAL(name)               \
	(DBP_LIKELY(real_##name) \
		 ? real_##name   \
		 : (*(void **)&real_##name = dbp_resolve(#name, NULL), real_##name))

/* ---- records ------------------------------------------------------------------------------- */

static void emit(struct mywire *w, const struct dbp_query_ent *q, uint64_t t0, uint64_t t1,
		 uint64_t rows, uint64_t affected, unsigned err)
{
	struct dbp_fdwatch *e = (struct dbp_fdwatch *)w; /* w is its first member */
	const struct dbp_str_ent *es = NULL;
	if (err) {
		char buf[16];
		int n = snprintf(buf, sizeof buf, "%u", err);
		es = dbp_error_get(buf, (size_t)n);
	}
	struct dbp_rec *r = dbp_ring_reserve();
	if (!r)
		return;
	r->query = q;
	r->target = dbp_target_get(w->ns, e->server, e->port);
	r->err = es;
	r->t0 = t0;
	r->dur = t1 > t0 ? t1 - t0 : 0;
	r->rows = rows;
	r->affected = affected;
	r->db_system = w->system;
	r->flags = es ? DBP_CALL_ERROR : 0;
	dbp_ring_commit();
}

/* When the handshake completes: the connection's create time, from connect(). Only now is
 * its address worth a string. */
static void connected(struct dbp_fdwatch *e, uint64_t t1)
{
	e->server = dbp_str_get(DBP_STR_SERVER, e->addr, strlen(e->addr));
	struct dbp_rec r = {
		.query = &dbp_query_none,
		.target = dbp_target_get(e->w.ns, e->server, e->port),
		.t0 = e->w.t0,
		.dur = t1 > e->w.t0 ? t1 - e->w.t0 : 0,
		.db_system = e->w.system,
		.flags = DBP_CALL_CONNECT,
	};
	dbp_ring_push(&r);
}

/* ---- following a connection ------------------------------------------------------------------ */

static void follow(int fd, const struct sockaddr *sa, socklen_t len, uint64_t t0)
{
	char addr[112];
	uint16_t port = 0;
	if (sa->sa_family == AF_UNIX && len > offsetof(struct sockaddr_un, sun_path)) {
		const struct sockaddr_un *un = (const struct sockaddr_un *)sa;
		size_t n = len - offsetof(struct sockaddr_un, sun_path);
		if (n > sizeof un->sun_path)
			n = sizeof un->sun_path;
		if (n && un->sun_path[0] == 0) { /* abstract: shown as @name */
			addr[0] = '@';
			n = n - 1 < sizeof addr - 2 ? n - 1 : sizeof addr - 2;
			memcpy(addr + 1, un->sun_path + 1, n);
			addr[n + 1] = 0;
		} else {
			n = strnlen(un->sun_path, n < sizeof addr - 1 ? n : sizeof addr - 1);
			memcpy(addr, un->sun_path, n);
			addr[n] = 0;
		}
	} else if (sa->sa_family == AF_INET && len >= sizeof(struct sockaddr_in)) {
		const struct sockaddr_in *in = (const struct sockaddr_in *)sa;
		inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
		port = ntohs(in->sin_port);
	} else if (sa->sa_family == AF_INET6 && len >= sizeof(struct sockaddr_in6)) {
		const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)sa;
		inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
		port = ntohs(in6->sin6_port);
	} else {
		return;
	}
	struct dbp_fdwatch *e = dbp_fdwatch_add(fd, emit);
	if (e) {
		memcpy(e->addr, addr, sizeof addr);
		e->port = port;
		e->w.t0 = t0;
	}
}

/* Bytes moved on a followed descriptor. A descriptor that stops being MySQL is let go. */
static void moved(int fd, struct dbp_fdwatch *e, const void *buf, ssize_t n, int out, uint64_t t)
{
	/* The entry was looked up before a call that may have blocked: it must still be this
	 * descriptor's, and no other thread may be reading into it (one stream, one reader). */
	if (n <= 0 || dbp_fdwatch_get(fd) != e)
		return;
	if (!dbp_hook_enter(DBP_SHIM_MYSQL)) {
		/* Bytes we cannot read now (a signal handler's, or the agent's own): the stream
		 * would be out of step from here on. */
		mywire_abandon(&e->w);
		return;
	}
	int saved = errno;
	if (!dbp_fdwatch_claim(e)) {
		mywire_abandon(&e->w);
	} else if (dbp_fdwatch_get(fd) != e) {
		dbp_fdwatch_release(e); /* forgotten (and maybe reused) between look-up and claim */
	} else {
		int ready = mywire_ready(&e->w);
		int rc = out ? mywire_out(&e->w, buf, (size_t)n, t)
			     : mywire_in(&e->w, buf, (size_t)n, t);
		if (rc == 0 && !ready && mywire_ready(&e->w))
			connected(e, t);
		dbp_fdwatch_release(e);
		if (rc < 0)
			dbp_fdwatch_forget_entry(fd, e);
	}
	errno = saved;
	dbp_hook_leave();
}

/* Data that moved some way we do not frame (vectors, messages): let the descriptor go. */
static void unframed(int fd)
{
	struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
	if (DBP_UNLIKELY(e != NULL))
		mywire_abandon(&e->w);
}

/* ---- hooks ------------------------------------------------------------------------------- */

DBP_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!REAL(connect))
		return (int)syscall(SYS_connect, fd, sa, len);
	/* Only the program's own connections: those a hooked client library opens (inside its
	 * connect call, at depth) are recorded by their API. */
	if (!sa || (unsigned)fd >= DBP_FDWATCH_MAX || !dbp_hook_enter(DBP_SHIM_MYSQL))
		return real_connect(fd, sa, len);
	uint64_t t0 = dbp_ticks();
	dbp_hook_leave();
	int rc = real_connect(fd, sa, len);
	if (rc == 0 || errno == EINPROGRESS) {
		int saved = errno;
		if (dbp_hook_enter(DBP_SHIM_MYSQL)) {
			follow(fd, sa, len, t0);
			dbp_hook_leave();
		}
		errno = saved;
	}
	return rc;
}

DBP_EXPORT ssize_t read(int fd, void *buf, size_t n)
{
	if (!REAL(read))
		return syscall(SYS_read, fd, buf, n);
	struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
	if (DBP_LIKELY(!e))
		return real_read(fd, buf, n);
	ssize_t rc = real_read(fd, buf, n);
	moved(fd, e, buf, rc, 0, dbp_ticks());
	return rc;
}

DBP_EXPORT ssize_t recv(int fd, void *buf, size_t n, int flags)
{
	if (!REAL(recv))
		return syscall(SYS_recvfrom, fd, buf, n, flags, NULL, NULL);
	struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
	if (DBP_LIKELY(!e) || flags & MSG_PEEK) /* peeked bytes come again */
		return real_recv(fd, buf, n, flags);
	ssize_t rc = real_recv(fd, buf, n, flags);
	moved(fd, e, buf, rc, 0, dbp_ticks());
	return rc;
}

DBP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	if (!REAL(write))
		return syscall(SYS_write, fd, buf, n);
	struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
	if (DBP_LIKELY(!e))
		return real_write(fd, buf, n);
	uint64_t t = dbp_ticks();
	ssize_t rc = real_write(fd, buf, n);
	moved(fd, e, buf, rc, 1, t);
	return rc;
}

DBP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	if (!REAL(send))
		return syscall(SYS_sendto, fd, buf, n, flags, NULL, 0);
	struct dbp_fdwatch *e = dbp_fdwatch_get(fd);
	if (DBP_LIKELY(!e))
		return real_send(fd, buf, n, flags);
	uint64_t t = dbp_ticks();
	ssize_t rc = real_send(fd, buf, n, flags);
	moved(fd, e, buf, rc, 1, t);
	return rc;
}

DBP_EXPORT ssize_t readv(int fd, const struct iovec *iov, int cnt)
{
	if (!REAL(readv))
		return syscall(SYS_readv, fd, iov, cnt);
	unframed(fd);
	return real_readv(fd, iov, cnt);
}

DBP_EXPORT ssize_t writev(int fd, const struct iovec *iov, int cnt)
{
	if (!REAL(writev))
		return syscall(SYS_writev, fd, iov, cnt);
	unframed(fd);
	return real_writev(fd, iov, cnt);
}

DBP_EXPORT ssize_t recvfrom(int fd, void *buf, size_t n, int flags, struct sockaddr *sa,
			    socklen_t *len)
{
	if (!REAL(recvfrom))
		return syscall(SYS_recvfrom, fd, buf, n, flags, sa, len);
	unframed(fd);
	return real_recvfrom(fd, buf, n, flags, sa, len);
}

DBP_EXPORT ssize_t sendto(int fd, const void *buf, size_t n, int flags, const struct sockaddr *sa,
			  socklen_t len)
{
	if (!REAL(sendto))
		return syscall(SYS_sendto, fd, buf, n, flags, sa, len);
	unframed(fd);
	return real_sendto(fd, buf, n, flags, sa, len);
}

DBP_EXPORT ssize_t recvmsg(int fd, struct msghdr *msg, int flags)
{
	if (!REAL(recvmsg))
		return syscall(SYS_recvmsg, fd, msg, flags);
	unframed(fd);
	return real_recvmsg(fd, msg, flags);
}

DBP_EXPORT ssize_t sendmsg(int fd, const struct msghdr *msg, int flags)
{
	if (!REAL(sendmsg))
		return syscall(SYS_sendmsg, fd, msg, flags);
	unframed(fd);
	return real_sendmsg(fd, msg, flags);
}
