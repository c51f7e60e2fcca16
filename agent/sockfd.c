/* sockfd: the per-descriptor kind cache behind the write hooks. */
#include "sockfd.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <unistd.h>

#include "agent.h"
#include "peer.h"
#include "process.h"

uint32_t dbp_sockfd_tab[DBP_SOCKFD_MAX];
/* One past the highest number ever cached: close_range(3, ~0) walks only this far. */
static int hi_water;

/* In a vfork child (or anything else sharing our memory under another pid) the table is the
 * parent's. Asked only when a socket entry would change: a system call. */
static int ours(void)
{
	uint32_t pid = dbp_process()->pid;
	return !pid || (uint32_t)syscall(SYS_getpid) == pid;
}

static void raise_hi_water(int fd)
{
	int hw = __atomic_load_n(&hi_water, __ATOMIC_RELAXED);
	while (fd >= hw && !__atomic_compare_exchange_n(&hi_water, &hw, fd + 1, 1, __ATOMIC_RELAXED,
							__ATOMIC_RELAXED))
		;
}

void dbp_sockfd_set(int fd, uint32_t e)
{
	if ((unsigned)fd >= DBP_SOCKFD_MAX)
		return;
	uint32_t old = __atomic_load_n(&dbp_sockfd_tab[fd], __ATOMIC_RELAXED);
	if (old == e || ((old | e) & DBP_FD_SOCKET && !ours()))
		return;
	raise_hi_water(fd);
	__atomic_store_n(&dbp_sockfd_tab[fd], e, __ATOMIC_RELAXED);
}

static void note(int fd, uint32_t e)
{
	dbp_sockfd_set(fd, e);
}

void dbp_sockfd_copy(int from, int to)
{
	/* A number past the table is unknown, not "not a socket". */
	dbp_sockfd_set(to, (unsigned)from < DBP_SOCKFD_MAX ? dbp_sockfd_get(from) : DBP_FD_UNKNOWN);
}

void dbp_sockfd_forget(int lo, int hi)
{
	int top = __atomic_load_n(&hi_water, __ATOMIC_RELAXED);
	if (lo < 0)
		lo = 0;
	if (hi >= top)
		hi = top - 1;
	int mine = -1; /* asked once, and only if a socket entry is in the range */
	for (int fd = lo; fd <= hi; fd++) {
		uint32_t e = __atomic_load_n(&dbp_sockfd_tab[fd], __ATOMIC_RELAXED);
		if (!e) /* reading keeps untouched pages unallocated */
			continue;
		if (e & DBP_FD_SOCKET && mine < 0)
			mine = ours();
		if (!(e & DBP_FD_SOCKET) || mine)
			__atomic_store_n(&dbp_sockfd_tab[fd], DBP_FD_UNKNOWN, __ATOMIC_RELAXED);
	}
}

/* A port below Linux's default ephemeral range (32768): one a server chose. */
static int service_port(const struct sockaddr *sa)
{
	unsigned p = sa->sa_family == AF_INET ? ntohs(((const struct sockaddr_in *)sa)->sin_port)
		     : sa->sa_family == AF_INET6
			     ? ntohs(((const struct sockaddr_in6 *)sa)->sin6_port)
			     : 0;
	return p && p < 32768;
}

/* Whether this end looks like the accepted one of a TCP connection: its port is not
 * ephemeral and the other end's is (Linux's default range starts at 32768). A socket we
 * saw accepted or connected never needs the guess. */
static int looks_inbound(const struct sockaddr *local, const struct sockaddr *remote)
{
	unsigned lp, rp;
	if (local->sa_family == AF_INET) {
		lp = ntohs(((const struct sockaddr_in *)local)->sin_port);
		rp = ntohs(((const struct sockaddr_in *)remote)->sin_port);
	} else if (local->sa_family == AF_INET6) {
		lp = ntohs(((const struct sockaddr_in6 *)local)->sin6_port);
		rp = ntohs(((const struct sockaddr_in6 *)remote)->sin6_port);
	} else {
		return 0;
	}
	return lp < 32768 && rp >= 32768;
}

static uint32_t entry(uint32_t flags, uint32_t peer)
{
	return DBP_FD_SOCKET | flags | peer << 16;
}

uint32_t dbp_sockfd_classify(int fd)
{
	int saved = errno;
	int type = 0;
	socklen_t tl = sizeof type;
	uint32_t e = DBP_FD_UNKNOWN;
	struct sockaddr_storage local, remote;
	socklen_t ll = sizeof local, rl = sizeof remote;
	if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &tl) != 0) {
		if (errno == ENOTSOCK)
			e = DBP_FD_OTHER;
		goto out; /* EBADF: nothing to cache */
	}
	if (getsockname(fd, (struct sockaddr *)&local, &ll) != 0 ||
	    (local.ss_family != AF_INET && local.ss_family != AF_INET6 &&
	     local.ss_family != AF_UNIX)) {
		e = DBP_FD_OTHER;
		goto out;
	}
	if (getpeername(fd, (struct sockaddr *)&remote, &rl) != 0) {
		/* Unconnected. A stream socket cannot write yet (connect() will name its peer).
		 * A datagram one bound to a service port or a path is a server answering its
		 * clients: named by that port, inbound, like an accepted connection (one series,
		 * not one per client). Any other names its destination per call. */
		if (type == SOCK_STREAM)
			goto out;
		uint32_t local_peer = 0;
		if (local.ss_family == AF_UNIX)
			local_peer = ll > offsetof(struct sockaddr_un, sun_path) + 1
					     ? dbp_peer_of((struct sockaddr *)&local, ll, 1)
					     : 0;
		else if (service_port((struct sockaddr *)&local))
			local_peer = dbp_peer_of((struct sockaddr *)&local, ll, 1);
		e = local_peer ? entry(DBP_FD_INBOUND, local_peer) : entry(DBP_FD_UNCONN, 0);
		goto out;
	}
	uint32_t peer;
	if (local.ss_family == AF_UNIX) {
		/* The accepting end of a Unix socket has an unnamed peer: name it by our path. */
		int unnamed = rl <= offsetof(struct sockaddr_un, sun_path);
		int pair = unnamed && ll <= offsetof(struct sockaddr_un, sun_path);
		if (pair) /* neither end has a name: socketpair() */
			peer = dbp_peer_get("unix:socketpair", 15);
		else
			peer = unnamed ? dbp_peer_of((struct sockaddr *)&local, ll, 1)
				       : dbp_peer_of((struct sockaddr *)&remote, rl, 0);
		e = entry(unnamed && !pair ? DBP_FD_INBOUND : 0, peer);
	} else if (looks_inbound((struct sockaddr *)&local, (struct sockaddr *)&remote)) {
		e = entry(DBP_FD_INBOUND, dbp_peer_of((struct sockaddr *)&local, ll, 1));
	} else {
		e = entry(0, dbp_peer_of((struct sockaddr *)&remote, rl, 0));
	}
	if (!DBP_FD_PEER(e))
		e = DBP_FD_OTHER;
out:
	if (e != DBP_FD_UNKNOWN)
		note(fd, e);
	errno = saved;
	return e;
}

uint32_t dbp_sockfd_resolve(int fd, uint32_t e)
{
	if (e == DBP_FD_UNKNOWN || !(e & DBP_FD_INBOUND))
		return dbp_sockfd_classify(fd);
	int saved = errno;
	struct sockaddr_storage local;
	socklen_t ll = sizeof local;
	uint32_t peer = getsockname(fd, (struct sockaddr *)&local, &ll) == 0
				? dbp_peer_of((struct sockaddr *)&local, ll, 1)
				: 0;
	/* No name we can give (an address family we do not record): passed over from now on. */
	note(fd, e = peer ? entry(DBP_FD_INBOUND, peer) : DBP_FD_OTHER);
	errno = saved;
	return e;
}

void dbp_sockfd_created(int fd, int inbound)
{
	/* Peer 0: learned at the first write (getsockname for an inbound one); a new socket's
	 * kind is learned then too (a datagram socket may yet be bound to a service port). */
	note(fd, inbound ? entry(DBP_FD_INBOUND, 0) : DBP_FD_UNKNOWN);
}

void dbp_sockfd_connected(int fd, const struct sockaddr *sa, socklen_t len)
{
	/* Not running (disabled, stopped): no names are made, the first write finds out. */
	if (sa->sa_family == AF_UNSPEC ||
	    __atomic_load_n(&dbp_state, __ATOMIC_ACQUIRE) != DBP_ST_RUNNING) {
		note(fd, DBP_FD_UNKNOWN); /* AF_UNSPEC dissolves a datagram association */
		return;
	}
	uint32_t peer = dbp_peer_of(sa, len, 0);
	note(fd, peer ? entry(0, peer) : DBP_FD_OTHER); /* a family we do not record: passed over */
}
