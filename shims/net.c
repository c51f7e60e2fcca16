/* net shim: socket hooks. Writes to sockets are timed and counted per peer (agent/sockstat.c);
 * a write to anything else costs one load from the descriptor kind cache (agent/sockfd.c),
 * which the socket/accept/connect/fcntl hooks here and the close/dup hooks in fd.c keep right.
 * A connection the program opens itself (not inside a client library call we already hook) is
 * also followed by its bytes: if it speaks the MySQL protocol, its statements are recorded
 * (agent/mywire.c). */
/* fcntl and fcntl64 are both hooked by their own names: the build's 64-bit file offsets would
 * otherwise redirect the declaration of one to the other (a no-op for the types on LP64). */
#undef _FILE_OFFSET_BITS
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdarg.h>
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
#include "config.h"
#include "fdwatch.h"
#include "intern.h"
#include "hook.h"
#include "resolve.h"
#include "peer.h"
#include "ring.h"
#include "sockfd.h"
#include "sockstat.h"

#define REAL_FUNCS(X)                                                                    \
	X(int, connect, (int, const struct sockaddr *, socklen_t))                       \
	X(ssize_t, read, (int, void *, size_t))                                          \
	X(ssize_t, recv, (int, void *, size_t, int))                                     \
	X(ssize_t, readv, (int, const struct iovec *, int))                              \
	X(ssize_t, recvfrom, (int, void *, size_t, int, struct sockaddr *, socklen_t *)) \
	X(ssize_t, recvmsg, (int, struct msghdr *, int))                                 \
	X(int, socket, (int, int, int))                                                  \
	X(int, socketpair, (int, int, int, int[2]))                                      \
	X(int, accept, (int, struct sockaddr *, socklen_t *))                            \
	X(int, accept4, (int, struct sockaddr *, socklen_t *, int))                      \
	X(int, fcntl, (int, int, ...))                                                   \
	X(int, fcntl64, (int, int, ...))

REAL_FUNCS(DBP_REAL_DECLARE)

/* The writes' real functions are never NULL: each starts as a stub that finds libc's and
 * calls it, so the hot path has no check for "not resolved yet". (On machines that flush
 * branch predictors at every system call, each branch on the way costs a few nanoseconds.) */
#define HOT_STUB(ret, name, params, args, fallback)                           \
	static ret name##_stub params;                                        \
	static ret(*real_##name) params = name##_stub;                        \
	static ret name##_stub params                                         \
	{                                                                     \
		void *f = dbp_resolve(#name, NULL);                           \
		if (!f)                                                       \
			return (ret)(fallback);                               \
		__atomic_store_n((void **)&real_##name, f, __ATOMIC_RELAXED); \
		return real_##name args;                                      \
	}

HOT_STUB(ssize_t, write, (int fd, const void *b, size_t n), (fd, b, n),
	 syscall(SYS_write, fd, b, n))
HOT_STUB(ssize_t, send, (int fd, const void *b, size_t n, int fl), (fd, b, n, fl),
	 syscall(SYS_sendto, fd, b, n, fl, NULL, 0))
HOT_STUB(ssize_t, writev, (int fd, const struct iovec *v, int c), (fd, v, c),
	 syscall(SYS_writev, fd, v, c))
HOT_STUB(ssize_t, sendto,
	 (int fd, const void *b, size_t n, int fl, const struct sockaddr *a, socklen_t l),
	 (fd, b, n, fl, a, l), syscall(SYS_sendto, fd, b, n, fl, a, l))
HOT_STUB(ssize_t, sendmsg, (int fd, const struct msghdr *m, int fl), (fd, m, fl),
	 syscall(SYS_sendmsg, fd, m, fl))
HOT_STUB(int, sendmmsg, (int fd, struct mmsghdr *v, unsigned c, int fl), (fd, v, c, fl),
	 syscall(SYS_sendmmsg, fd, v, c, fl))

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
	r->kind = DBP_RK_CALL;
	r->io_bytes = r->io_ticks = 0; /* not counted per statement on followed connections */
	dbp_ring_commit_tc(&e->tc);
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

/* ---- socket writes ---------------------------------------------------------------------- */

struct wr {
	uint64_t t0;
	uint32_t peer;
	uint8_t dir;
};

/* Before a write on a descriptor that is, or may be, a socket: whether to time it. `to` is
 * the call's destination (sendto, sendmsg): the peer of an unconnected datagram socket. */
static int wr_begin(int fd, uint32_t e, const struct sockaddr *to, socklen_t tolen, struct wr *w)
{
	if (__atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_RUNNING ||
	    !(dbp_armed_shims & DBP_SHIM_NET) || dbp_tls_busy)
		return 0;
	dbp_tls_busy++;
	if (e == DBP_FD_UNKNOWN || (!(e & DBP_FD_UNCONN) && !DBP_FD_PEER(e)))
		e = dbp_sockfd_resolve(fd, e); /* once per descriptor */
	w->peer = DBP_FD_PEER(e);
	w->dir = e & DBP_FD_INBOUND ? DBP_DIR_INBOUND : DBP_DIR_OUTBOUND;
	if (e & DBP_FD_UNCONN && to)
		w->peer = dbp_peer_of(to, tolen, 0);
	dbp_tls_busy--;
	if (!(e & DBP_FD_SOCKET) || !w->peer)
		return 0;
	w->t0 = dbp_ticks();
	return 1;
}

static void slow_write(const struct wr *w, unsigned sys, int err, uint64_t bytes, uint64_t dt)
{
	struct dbp_rec *r = dbp_ring_reserve();
	if (!r)
		return;
	*r = (struct dbp_rec){
		.query = &dbp_query_none,
		.t0 = w->t0,
		.dur = dt,
		.db_system = (uint8_t)sys,
		.kind = DBP_RK_SOCKWRITE,
		.direction = w->dir,
		.err_no = (uint32_t)err,
		.io_bytes = bytes,
		.peer = w->peer,
	};
	dbp_ring_commit();
}

/* After it: counts it for its peer, and for the database call it was made in, if any. */
static void wr_end(int fd, const struct wr *w, ssize_t rc)
{
	uint64_t dt = dbp_ticks() - w->t0;
	int saved = errno, err = rc < 0 ? errno : 0;
	uint64_t bytes = rc > 0 ? (uint64_t)rc : 0;
	dbp_tls_busy++;
	unsigned sys = DBP_DB_NONE;
	if (dbp_tls_depth) {
		struct dbp_io *io = dbp_tls_io_sink ? dbp_tls_io_sink : &dbp_tls_io;
		io->bytes += bytes;
		io->ticks += dt;
		sys = dbp_tls_io_system;
	} else {
		const struct dbp_fdwatch *f = dbp_fdwatch_get(fd);
		if (DBP_UNLIKELY(f != NULL))
			sys = f->w.system; /* a MySQL connection we follow by its bytes */
	}
	uint64_t ns = dbp_ticks_ns(dt);
	dbp_sockstat_count(w->peer, w->dir, sys, err, bytes, ns);
	if (DBP_UNLIKELY(ns >= dbp_cfg.slow_ns))
		slow_write(w, sys, err, bytes, dt);
	dbp_tls_busy--;
	errno = saved;
}

/* The short path: a connected socket whose peer is known, written outside any database call
 * and any hook of ours. Few branches: where the system call flushes the branch predictors (some
 * hypervisors, some mitigations), each costs nanoseconds on every write. */
static inline int short_path(uint32_t e)
{
	return (DBP_FD_PEER(e) != 0) & !(e & (DBP_FD_UNCONN | DBP_FD_FOLLOWED)) &
	       (__atomic_load_n(&dbp_state, __ATOMIC_RELAXED) == DBP_ST_RUNNING) &
	       ((dbp_armed_shims & DBP_SHIM_NET) != 0) & ((dbp_tls_busy | dbp_tls_depth) == 0);
}

static __attribute__((noinline)) void short_rare(uint32_t e, ssize_t rc, uint64_t t0)
{
	struct wr w = { .t0 = t0, .peer = DBP_FD_PEER(e), .dir = (e & DBP_FD_INBOUND) != 0 };
	wr_end(-1, &w, rc);
}

static inline __attribute__((always_inline)) void short_count(uint32_t e, ssize_t rc, uint64_t t0)
{
	uint64_t dt = dbp_ticks() - t0;
	uint64_t ns = dbp_ticks_ns(dt);
	if (DBP_UNLIKELY(rc < 0) | DBP_UNLIKELY(ns >= dbp_cfg.slow_ns)) {
		short_rare(e, rc, t0); /* errno, a slow record: the general path */
		return;
	}
	/* A signal handler's write meanwhile sees busy and passes uncounted. */
	dbp_tls_busy++;
	__asm__ volatile("" ::: "memory");
	dbp_sockstat_count(DBP_FD_PEER(e), (e & DBP_FD_INBOUND) != 0, DBP_DB_NONE, 0, (uint64_t)rc,
			   ns);
	__asm__ volatile("" ::: "memory");
	dbp_tls_busy--;
}

/* The whole cost of a write to anything but a socket: one load, one branch, the real call. */
#define PASS_IF_NOT_SOCKET(name, fd, ...)                    \
	do {                                                 \
		if (DBP_LIKELY(dbp_sockfd_pass(fd)))         \
			return real_##name(fd, __VA_ARGS__); \
	} while (0)

/* A hook's body past the kind check: the short path, or the general one. */
#define SOCKET_WRITE(ret, name, fd, to, tolen, ...)             \
	do {                                                    \
		uint32_t e_ = dbp_sockfd_get(fd);               \
		if (DBP_LIKELY(short_path(e_))) {               \
			uint64_t t0_ = dbp_ticks();             \
			ret rc_ = real_##name(fd, __VA_ARGS__); \
			short_count(e_, (ssize_t)rc_, t0_);     \
			return rc_;                             \
		}                                               \
		if (e_ == DBP_FD_OTHER)                         \
			return real_##name(fd, __VA_ARGS__);    \
		unframed(fd);                                   \
		struct wr w_;                                   \
		if (!wr_begin(fd, e_, to, tolen, &w_))          \
			return real_##name(fd, __VA_ARGS__);    \
		ret rc_ = real_##name(fd, __VA_ARGS__);         \
		wr_end(fd, &w_, (ssize_t)rc_);                  \
		return rc_;                                     \
	} while (0)

/* ---- hooks ------------------------------------------------------------------------------- */

DBP_EXPORT int connect(int fd, const struct sockaddr *sa, socklen_t len)
{
	if (!REAL(connect))
		return (int)syscall(SYS_connect, fd, sa, len);
	/* Only the program's own connections are followed by their bytes: those a hooked client
	 * library opens (inside its connect call, at depth) are recorded by their API. */
	int watch = sa && (unsigned)fd < DBP_FDWATCH_MAX && dbp_hook_enter(DBP_SHIM_MYSQL);
	uint64_t t0 = watch ? dbp_ticks() : 0;
	if (watch)
		dbp_hook_leave();
	int rc = real_connect(fd, sa, len);
	if (sa && (rc == 0 || errno == EINPROGRESS)) {
		int saved = errno;
		dbp_tls_busy++; /* it may name a peer: a handler's write must not wait on us */
		dbp_sockfd_connected(fd, sa, len);
		dbp_tls_busy--;
		if (watch && dbp_hook_enter(DBP_SHIM_MYSQL)) {
			follow(fd, sa, len, t0);
			if (dbp_fdwatch_get(fd)) /* its writes take the path that reads them */
				dbp_sockfd_set(fd, dbp_sockfd_get(fd) | DBP_FD_FOLLOWED);
			dbp_hook_leave();
		}
		errno = saved;
	}
	return rc;
}

DBP_EXPORT int socket(int domain, int type, int proto)
{
	if (!REAL(socket))
		return (int)syscall(SYS_socket, domain, type, proto);
	int fd = real_socket(domain, type, proto);
	if (fd >= 0) {
		if (domain == AF_INET || domain == AF_INET6 || domain == AF_UNIX)
			dbp_sockfd_created(fd, 0);
		else
			dbp_sockfd_set(fd, DBP_FD_OTHER);
	}
	return fd;
}

/* Each end's peer is the other, unnamed: both are named "unix:" and counted as inbound. */
DBP_EXPORT int socketpair(int domain, int type, int proto, int sv[2])
{
	if (!REAL(socketpair))
		return (int)syscall(SYS_socketpair, domain, type, proto, sv);
	int rc = real_socketpair(domain, type, proto, sv);
	if (rc == 0) {
		uint32_t e = domain == AF_UNIX ? DBP_FD_UNKNOWN : DBP_FD_OTHER;
		dbp_sockfd_set(sv[0], e);
		dbp_sockfd_set(sv[1], e);
	}
	return rc;
}

DBP_EXPORT int accept(int fd, struct sockaddr *sa, socklen_t *len)
{
	if (!REAL(accept))
		return (int)syscall(SYS_accept, fd, sa, len);
	int c = real_accept(fd, sa, len);
	if (c >= 0)
		dbp_sockfd_created(c, 1);
	return c;
}

DBP_EXPORT int accept4(int fd, struct sockaddr *sa, socklen_t *len, int flags)
{
	if (!REAL(accept4))
		return (int)syscall(SYS_accept4, fd, sa, len, flags);
	int c = real_accept4(fd, sa, len, flags);
	if (c >= 0)
		dbp_sockfd_created(c, 1);
	return c;
}

/* fcntl's third argument is an int or a pointer: passed on as the widest of them. */
static int fcntl_common(int (*real)(int, int, ...), int fd, int cmd, void *arg)
{
	int rc = real ? real(fd, cmd, arg) : (int)syscall(SYS_fcntl, fd, cmd, arg);
	if (rc >= 0 && (cmd == F_DUPFD || cmd == F_DUPFD_CLOEXEC))
		dbp_sockfd_copy(fd, rc); /* a copy: the same kind, the same peer */
	return rc;
}

DBP_EXPORT int fcntl(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL(fcntl), fd, cmd, arg);
}

DBP_EXPORT int fcntl64(int fd, int cmd, ...)
{
	va_list ap;
	va_start(ap, cmd);
	void *arg = va_arg(ap, void *);
	va_end(ap);
	return fcntl_common(REAL(fcntl64), fd, cmd, arg);
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

/* write() and send() on a descriptor followed by its bytes (mywire), or not yet classified. */
static __attribute__((noinline)) ssize_t write_slow(int fd, const void *buf, size_t n, int flags,
						    int is_send, uint32_t e)
{
	struct wr w;
	int timed = wr_begin(fd, e, NULL, 0, &w);
	struct dbp_fdwatch *f = dbp_fdwatch_get(fd);
	uint64_t t = f ? dbp_ticks() : 0;
	ssize_t rc = is_send ? real_send(fd, buf, n, flags) : real_write(fd, buf, n);
	if (timed)
		wr_end(fd, &w, rc);
	if (f)
		moved(fd, f, buf, rc, 1, t);
	return rc;
}

static __attribute__((noinline)) ssize_t write_first(int fd, const void *buf, size_t n)
{
	uint32_t e = dbp_sockfd_get(fd);
	if (DBP_LIKELY(short_path(e))) {
		uint64_t t0 = dbp_ticks();
		ssize_t rc = real_write(fd, buf, n);
		short_count(e, rc, t0);
		return rc;
	}
	if (e == DBP_FD_OTHER)
		return real_write(fd, buf, n);
	return write_slow(fd, buf, n, 0, 0, e);
}

DBP_EXPORT ssize_t write(int fd, const void *buf, size_t n)
{
	PASS_IF_NOT_SOCKET(write, fd, buf, n);
	return write_first(fd, buf, n);
}

DBP_EXPORT ssize_t send(int fd, const void *buf, size_t n, int flags)
{
	PASS_IF_NOT_SOCKET(send, fd, buf, n, flags);
	uint32_t e = dbp_sockfd_get(fd);
	if (DBP_LIKELY(short_path(e))) {
		uint64_t t0 = dbp_ticks();
		ssize_t rc = real_send(fd, buf, n, flags);
		short_count(e, rc, t0);
		return rc;
	}
	if (e == DBP_FD_OTHER)
		return real_send(fd, buf, n, flags);
	return write_slow(fd, buf, n, flags, 1, e);
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
	PASS_IF_NOT_SOCKET(writev, fd, iov, cnt);
	SOCKET_WRITE(ssize_t, writev, fd, NULL, 0, iov, cnt);
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
	PASS_IF_NOT_SOCKET(sendto, fd, buf, n, flags, sa, len);
	SOCKET_WRITE(ssize_t, sendto, fd, sa, len, buf, n, flags, sa, len);
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
	PASS_IF_NOT_SOCKET(sendmsg, fd, msg, flags);
	if (!msg)
		return real_sendmsg(fd, msg, flags);
	SOCKET_WRITE(ssize_t, sendmsg, fd, msg->msg_name, msg->msg_namelen, msg, flags);
}

/* One call however many messages it carries (calls count system calls); its bytes are those
 * of the messages sent, its peer the first message's destination on an unconnected socket. */
/* The bytes of the messages sendmmsg() sent (its result counts messages). */
static ssize_t mmsg_bytes(const struct mmsghdr *vec, int sent)
{
	ssize_t bytes = 0;
	for (int i = 0; i < sent; i++)
		bytes += vec[i].msg_len;
	return sent < 0 ? sent : bytes;
}

DBP_EXPORT int sendmmsg(int fd, struct mmsghdr *vec, unsigned cnt, int flags)
{
	PASS_IF_NOT_SOCKET(sendmmsg, fd, vec, cnt, flags);
	uint32_t e = dbp_sockfd_get(fd);
	if (e == DBP_FD_OTHER || !vec || !cnt)
		return real_sendmmsg(fd, vec, cnt, flags);
	unframed(fd);
	struct wr w;
	if (!wr_begin(fd, e, vec[0].msg_hdr.msg_name, vec[0].msg_hdr.msg_namelen, &w))
		return real_sendmmsg(fd, vec, cnt, flags);
	int rc = real_sendmmsg(fd, vec, cnt, flags);
	wr_end(fd, &w, mmsg_bytes(vec, rc));
	return rc;
}
