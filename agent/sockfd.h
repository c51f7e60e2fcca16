/* sockfd: what each descriptor is, as far as the write hooks care, cached per number. A write
 * to anything but a socket must cost one load and one compare, so the answer is kept here and
 * kept right by the hooks that create, copy and close descriptors. */
#ifndef DBPROBE_SOCKFD_H
#define DBPROBE_SOCKFD_H

#include <stdint.h>
#include <sys/socket.h>

#define DBP_SOCKFD_MAX 65536 /* descriptors above are never recorded */

/* An entry: 0 unknown (classified on the next write), DBP_FD_OTHER, or DBP_FD_SOCKET with
 * flags and the peer's index (dbp_peer) in the high half; peer 0 is not known yet. */
#define DBP_FD_UNKNOWN 0u
#define DBP_FD_OTHER 1u /* not a socket, or one we do not record (netlink, ...) */
#define DBP_FD_SOCKET 2u
#define DBP_FD_INBOUND 4u /* accepted: the peer is the local listening address */
#define DBP_FD_UNCONN 8u  /* a datagram socket with no peer: each call names its destination */
#define DBP_FD_FOLLOWED                                                           \
	16u /* maybe followed by its bytes (fdwatch.h): writes take the long path \
	     */
#define DBP_FD_PEER(e) ((e) >> 16)

extern uint32_t dbp_sockfd_tab[DBP_SOCKFD_MAX];

/* The write hooks' first look: whether fd is certainly not a socket. One load, no range check
 * (a number past the table reads another's entry: "not a socket" passes it through unrecorded,
 * as numbers past the table always are; anything else takes the checked path). */
static inline int dbp_sockfd_pass(int fd)
{
	return __atomic_load_n(&dbp_sockfd_tab[(unsigned)fd & (DBP_SOCKFD_MAX - 1)],
			       __ATOMIC_RELAXED) == DBP_FD_OTHER;
}

static inline uint32_t dbp_sockfd_get(int fd)
{
	return (unsigned)fd < DBP_SOCKFD_MAX
		       ? __atomic_load_n(&dbp_sockfd_tab[fd], __ATOMIC_RELAXED)
		       : DBP_FD_OTHER;
}

/* Sets fd's entry. Every store goes through here: it keeps the walk of close_range() bounded,
 * and a vfork child (the parent's memory, its own descriptors) never changes a socket entry
 * of the parent's. */
void dbp_sockfd_set(int fd, uint32_t e);
/* dup2/dup3/F_DUPFD/dup: `to` is now what `from` is. */
void dbp_sockfd_copy(int from, int to);

/* Descriptors lo..hi were closed (or are about to mean something else). */
void dbp_sockfd_forget(int lo, int hi);
/* What fd is, asked of the kernel and cached (not cached when fd is not open). Fills the peer
 * of a connected socket: the one slow step of a descriptor's first write. */
uint32_t dbp_sockfd_classify(int fd);
/* The entry with its peer filled in (classify, or the local address of an accepted one). */
uint32_t dbp_sockfd_resolve(int fd, uint32_t e);
/* A socket created by socket()/accept(): its kind now, its peer at its first write. */
void dbp_sockfd_created(int fd, int inbound);
/* connect() went through (or is in progress) to sa. */
void dbp_sockfd_connected(int fd, const struct sockaddr *sa, socklen_t len);

#endif
