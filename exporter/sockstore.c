/* sockstore: socket writes per (service, peer, direction, database system). */
#include "sockstore.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const char *const dbp_sock_direction_names[2] = {
	[DBP_DIR_OUTBOUND] = "outbound",
	[DBP_DIR_INBOUND] = "inbound",
};

/* A (service, peer) pair seen; folded ones map to the service's "(other)" series. */
struct peer {
	struct dbp_hnode node;
	const char *service, *peer;
	int folded;
};

/* How many peers a service keeps. */
struct service {
	struct dbp_hnode node;
	const char *service;
	unsigned npeers;
};

void dbp_sockstore_init(struct dbp_sockstore *ss, unsigned max_peers, const char *other)
{
	memset(ss, 0, sizeof *ss);
	ss->max_peers = max_peers;
	ss->other = other;
}

static void free_series(struct dbp_hnode *n, void *arg)
{
	(void)arg;
	free(((struct dbp_sock_series *)n)->errs);
	free(n);
}

void dbp_sockstore_free(struct dbp_sockstore *ss)
{
	dbp_htab_each(&ss->series, free_series, NULL);
	free(ss->series.b);
	dbp_htab_free(&ss->peers);
	dbp_htab_free(&ss->services);
	memset(ss, 0, sizeof *ss);
}

static struct service *service_get(struct dbp_sockstore *ss, const char *service)
{
	uint64_t h = dbp_hash_mix(2, (uintptr_t)service);
	for (struct dbp_hnode *n = dbp_htab_first(&ss->services, h); n; n = n->next) {
		struct service *sv = (struct service *)n;
		if (n->hash == h && sv->service == service)
			return sv;
	}
	struct service *sv = calloc(1, sizeof *sv);
	if (!sv)
		return NULL;
	sv->node.hash = h;
	sv->service = service;
	if (dbp_htab_add(&ss->services, &sv->node) < 0) {
		free(sv);
		return NULL;
	}
	return sv;
}

/* The peer a series is kept under: peer itself, or other once the service is at its cap. */
static const char *kept_peer(struct dbp_sockstore *ss, const char *service, const char *peer)
{
	if (peer == ss->other)
		return peer;
	uint64_t h = dbp_hash_mix(dbp_hash_mix(3, (uintptr_t)service), (uintptr_t)peer);
	for (struct dbp_hnode *n = dbp_htab_first(&ss->peers, h); n; n = n->next) {
		struct peer *p = (struct peer *)n;
		if (n->hash == h && p->service == service && p->peer == peer)
			return p->folded ? ss->other : peer;
	}
	struct service *sv = service_get(ss, service);
	struct peer *p = calloc(1, sizeof *p);
	if (!sv || !p) {
		free(p);
		return NULL;
	}
	p->node.hash = h;
	p->service = service;
	p->peer = peer;
	p->folded = sv->npeers >= ss->max_peers;
	if (dbp_htab_add(&ss->peers, &p->node) < 0) {
		free(p);
		return NULL;
	}
	if (p->folded) {
		ss->peers_folded++;
		return ss->other;
	}
	sv->npeers++;
	ss->npeers++;
	return peer;
}

struct dbp_sock_series *dbp_sockstore_series(struct dbp_sockstore *ss, const char *service,
					     const char *peer, uint8_t direction, uint8_t system)
{
	peer = kept_peer(ss, service, peer);
	if (!peer)
		return NULL;
	uint64_t h = dbp_hash_mix(
		dbp_hash_mix(dbp_hash_mix(dbp_hash_mix(4, (uintptr_t)service), (uintptr_t)peer),
			     direction),
		system);
	for (struct dbp_hnode *n = dbp_htab_first(&ss->series, h); n; n = n->next) {
		struct dbp_sock_series *se = (struct dbp_sock_series *)n;
		if (n->hash == h && se->service == service && se->peer == peer &&
		    se->direction == direction && se->system == system)
			return se;
	}
	struct dbp_sock_series *se = calloc(1, sizeof *se);
	if (!se)
		return NULL;
	se->node.hash = h;
	se->service = service;
	se->peer = peer;
	se->direction = direction;
	se->system = system;
	if (dbp_htab_add(&ss->series, &se->node) < 0) {
		free(se);
		return NULL;
	}
	return se;
}

static void add_error(struct dbp_sock_series *se, uint32_t err_no, uint64_t count)
{
	for (unsigned i = 0; i < se->nerrs; i++)
		if (se->errs[i].err_no == err_no) {
			se->errs[i].count += count;
			return;
		}
	/* An agent could name any number of errnos: past the cap they share one entry. */
	if (se->nerrs >= DBP_SOCK_ERRNOS_MAX && err_no) {
		add_error(se, 0, count);
		return;
	}
	struct dbp_sock_errcount *e = realloc(se->errs, (se->nerrs + 1) * sizeof *e);
	if (!e)
		return;
	se->errs = e;
	se->errs[se->nerrs++] = (struct dbp_sock_errcount){ err_no, count };
}

void dbp_sock_series_add(struct dbp_sock_series *se, const struct dbp_sock *r,
			 const struct dbp_sock_err *errs)
{
	se->calls += r->calls;
	se->bytes += r->bytes;
	se->sum_ns += r->sum_ns;
	for (unsigned i = 0; i < DBP_SOCK_BUCKETS; i++)
		se->buckets[i] += r->buckets[i];
	for (unsigned i = 0; i < r->nerr; i++)
		if (errs[i].count)
			add_error(se, errs[i].err_no, errs[i].count);
}

void dbp_sockstore_slow(struct dbp_sockstore *ss, const struct dbp_slow_write *w)
{
	ss->slow[ss->slow_next] = *w;
	ss->slow_next = (ss->slow_next + 1) % DBP_SLOW_WRITES_KEPT;
	if (ss->nslow < DBP_SLOW_WRITES_KEPT)
		ss->nslow++;
}

const struct dbp_slow_write *dbp_sockstore_slow_at(const struct dbp_sockstore *ss, unsigned i)
{
	return &ss->slow[(ss->slow_next + DBP_SLOW_WRITES_KEPT - 1 - i) % DBP_SLOW_WRITES_KEPT];
}

double dbp_sock_bound_s(unsigned i)
{
	return (double)(DBP_SOCK_BUCKET0_NS << i) / 1e9;
}

const char *dbp_errno_name(uint32_t err_no, char *buf, size_t len)
{
	if (!err_no)
		return "other";
	const char *name = err_no <= 0x7fffffff ? strerrorname_np((int)err_no) : NULL;
	if (name)
		return name;
	snprintf(buf, len, "%u", err_no);
	return buf;
}
