/* peer: socket peer names, interned without locks on lookup and without malloc. */
#include "peer.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/un.h>

struct peer {
	struct dbp_str_ent ent;
	char name[DBP_PEER_NAME];
};

#define SLOTS (DBP_PEER_MAX * 2) /* open addressing, never more than half full */

static struct peer peers[DBP_PEER_MAX];
static uint16_t slots[SLOTS]; /* peer index, 0 empty; published with release */
static uint32_t npeers = 2;   /* 0 is "none", 1 is "(other)" */
static int insert_lock;       /* a spin lock: held for a copy, never across a call */

static inline void dbp_cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
	__builtin_ia32_pause();
#endif
}

void dbp_peer_lock(void)
{
	while (__atomic_exchange_n(&insert_lock, 1, __ATOMIC_ACQUIRE))
		dbp_cpu_relax();
}

void dbp_peer_unlock(void)
{
	__atomic_store_n(&insert_lock, 0, __ATOMIC_RELEASE);
}

static uint64_t hash(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;
	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static void fill(uint32_t idx, const char *name, size_t len)
{
	struct peer *p = &peers[idx];
	memcpy(p->name, name, len);
	p->name[len] = 0;
	p->ent.id = idx; /* ids are per kind: the index is unique and small */
	p->ent.kind = DBP_STR_PEER;
	p->ent.len = (uint16_t)len;
	p->ent.str = p->name;
}

static uint32_t other(void)
{
	if (!peers[DBP_PEER_OTHER].ent.str)
		fill(DBP_PEER_OTHER, "(other)", 7); /* same bytes each time: a race is harmless */
	return DBP_PEER_OTHER;
}

uint32_t dbp_peer_get(const char *name, size_t len)
{
	if (len >= DBP_PEER_NAME)
		len = DBP_PEER_NAME - 1;
	uint64_t h = hash(name, len);
	for (int locked = 0;; locked = 1) {
		size_t i = h % SLOTS;
		for (;;) {
			uint32_t idx = __atomic_load_n(&slots[i], __ATOMIC_ACQUIRE);
			if (!idx)
				break;
			const struct peer *p = &peers[idx];
			if (p->ent.len == len && !memcmp(p->name, name, len)) {
				if (locked)
					__atomic_store_n(&insert_lock, 0, __ATOMIC_RELEASE);
				return idx;
			}
			i = (i + 1) % SLOTS;
		}
		if (locked) {
			uint32_t idx = npeers < DBP_PEER_MAX ? npeers++ : 0;
			if (idx) {
				fill(idx, name, len);
				__atomic_store_n(&slots[i], (uint16_t)idx, __ATOMIC_RELEASE);
			}
			__atomic_store_n(&insert_lock, 0, __ATOMIC_RELEASE);
			return idx ? idx : other();
		}
		/* Not there: look again under the lock, a racing thread may just have added it. */
		while (__atomic_exchange_n(&insert_lock, 1, __ATOMIC_ACQUIRE))
			dbp_cpu_relax();
	}
}

const struct dbp_str_ent *dbp_peer_str(uint32_t idx)
{
	return idx && idx < DBP_PEER_MAX && peers[idx].ent.str ? &peers[idx].ent : NULL;
}

static size_t put(char *out, size_t at, size_t cap, const char *s, size_t n)
{
	if (at + n >= cap)
		n = at < cap - 1 ? cap - 1 - at : 0;
	memcpy(out + at, s, n);
	return at + n;
}

static size_t put_port(char *out, size_t at, size_t cap, unsigned port)
{
	char d[8];
	int n = 0;
	do
		d[7 - n++] = (char)('0' + port % 10);
	while ((port /= 10) && n < 7);
	d[7 - n] = ':';
	return put(out, at, cap, d + 7 - n, (size_t)n + 1);
}

size_t dbp_peer_format(char *out, size_t cap, const struct sockaddr *sa, socklen_t len, int inbound)
{
	size_t at = 0;
	char addr[INET6_ADDRSTRLEN];
	if (!sa || cap < 8)
		return 0;
	switch (sa->sa_family) {
	case AF_INET: {
		const struct sockaddr_in *in = (const void *)sa;
		if (len < sizeof *in)
			return 0;
		if (!inbound) {
			inet_ntop(AF_INET, &in->sin_addr, addr, sizeof addr);
			at = put(out, at, cap, addr, strlen(addr));
		}
		at = put_port(out, at, cap, ntohs(in->sin_port));
		break;
	}
	case AF_INET6: {
		const struct sockaddr_in6 *in6 = (const void *)sa;
		if (len < sizeof *in6)
			return 0;
		if (!inbound) {
			inet_ntop(AF_INET6, &in6->sin6_addr, addr, sizeof addr);
			at = put(out, at, cap, "[", 1);
			at = put(out, at, cap, addr, strlen(addr));
			at = put(out, at, cap, "]", 1);
		}
		at = put_port(out, at, cap, ntohs(in6->sin6_port));
		break;
	}
	case AF_UNIX: {
		const struct sockaddr_un *un = (const void *)sa;
		size_t off = offsetof(struct sockaddr_un, sun_path);
		size_t n = len > off ? len - off : 0;
		if (n > sizeof un->sun_path)
			n = sizeof un->sun_path;
		at = put(out, at, cap, "unix:", 5);
		if (n && un->sun_path[0] == 0) { /* abstract: shown as @name */
			at = put(out, at, cap, "@", 1);
			at = put(out, at, cap, un->sun_path + 1, strnlen(un->sun_path + 1, n - 1));
		} else {
			at = put(out, at, cap, un->sun_path, strnlen(un->sun_path, n));
		}
		break;
	}
	default:
		return 0;
	}
	out[at] = 0;
	return at;
}

uint32_t dbp_peer_of(const struct sockaddr *sa, socklen_t len, int inbound)
{
	char name[DBP_PEER_NAME];
	size_t n = dbp_peer_format(name, sizeof name, sa, len, inbound);
	return n ? dbp_peer_get(name, n) : 0;
}
