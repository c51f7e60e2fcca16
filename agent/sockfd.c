/* sockfd: the per-descriptor kind cache behind the write hooks. */
#include "sockfd.h"

#include <errno.h>
#include <netinet/in.h>
#include <sys/un.h>

#include "peer.h"

uint32_t dbp_sockfd_tab[DBP_SOCKFD_MAX];
/* One past the highest number ever cached: close_range(3, ~0) walks only this far. */
static int hi_water;

static void note(int fd, uint32_t e)
{
	if ((unsigned)fd >= DBP_SOCKFD_MAX)
		return;
	if (fd >= __atomic_load_n(&hi_water, __ATOMIC_RELAXED))
		__atomic_store_n(&hi_water, fd + 1, __ATOMIC_RELAXED);
	dbp_sockfd_set(fd, e);
}

void dbp_sockfd_forget(int lo, int hi)
{
	int top = __atomic_load_n(&hi_water, __ATOMIC_RELAXED);
	if (lo < 0)
		lo = 0;
	if (hi >= top)
		hi = top - 1;
	for (int fd = lo; fd <= hi; fd++)
		if (dbp_sockfd_tab[fd]) /* reading keeps untouched pages unallocated */
			dbp_sockfd_set(fd, DBP_FD_UNKNOWN);
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
		/* Unconnected: a datagram socket names its destination per call; a stream one
		 * cannot write yet (connect() will tell us its peer). */
		e = type == SOCK_DGRAM ? entry(DBP_FD_UNCONN, 0) : DBP_FD_UNKNOWN;
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
	if (peer)
		note(fd, e = entry(DBP_FD_INBOUND, peer));
	errno = saved;
	return e;
}

void dbp_sockfd_created(int fd, int type, int inbound)
{
	/* Peer 0: learned at the first write (getsockname for an inbound one). */
	type &= ~(SOCK_NONBLOCK | SOCK_CLOEXEC);
	note(fd, inbound              ? entry(DBP_FD_INBOUND, 0)
		 : type == SOCK_DGRAM ? entry(DBP_FD_UNCONN, 0)
				      : DBP_FD_UNKNOWN);
}

void dbp_sockfd_connected(int fd, const struct sockaddr *sa, socklen_t len)
{
	uint32_t peer = sa->sa_family == AF_UNSPEC ? 0 : dbp_peer_of(sa, len, 0);
	/* AF_UNSPEC dissolves a datagram socket's association; a family we do not record
	 * makes the descriptor one we pass over. */
	note(fd, sa->sa_family == AF_UNSPEC ? DBP_FD_UNKNOWN
		 : peer                     ? entry(0, peer)
					    : DBP_FD_OTHER);
}
