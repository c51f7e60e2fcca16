/* store: statistics per statement, Prometheus series, the exporter's counters. */
#include "store.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const dbp_db_system_names[DBP_DB_SYSTEM_COUNT] = {
	[DBP_DB_NONE] = "",       [DBP_DB_SQLITE] = "sqlite",   [DBP_DB_POSTGRESQL] = "postgresql",
	[DBP_DB_MYSQL] = "mysql", [DBP_DB_MARIADB] = "mariadb",
};

const char *const dbp_drop_reason_names[DBP_DROP_REASON_COUNT] = {
	[DBP_DROP_BUFFER_FULL] = "buffer_full", [DBP_DROP_NO_EXPORTER] = "no_exporter",
	[DBP_DROP_SEND_FAILED] = "send_failed", [DBP_DROP_TEXT_CAP] = "text_cap",
	[DBP_DROP_UNTRACKED] = "untracked",     [DBP_DROP_SOCKET_SLOTS] = "socket_slots",
};

static uint64_t mix(uint64_t h, uint64_t v)
{
	return dbp_hash_mix(h, v);
}

void dbp_store_init(struct dbp_store *s, unsigned max_fingerprints)
{
	memset(s, 0, sizeof *s);
	pthread_mutex_init(&s->lock, NULL);
	s->max_fingerprints = max_fingerprints;
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	s->start_unix_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
	dbp_sockstore_init(&s->socks, max_fingerprints, dbp_store_intern(s, "(other)", 7));
	s->other_obj.path = dbp_store_intern(s, "(other)", 7);
	s->other_obj.path_len = 7;
	/* NULL (out of memory) leaves every frame as module+offset: see api.c. */
	s->sym = dbp_symbolizer_new(NULL);
}

static void free_stmt(struct dbp_hnode *n, void *arg)
{
	(void)arg;
	dbp_sketch_free(&((struct dbp_stmt *)n)->sketch);
	free(((struct dbp_stmt *)n)->callers);
	free(n);
}

static void free_series(struct dbp_hnode *n, void *arg)
{
	(void)arg;
	free(((struct dbp_series *)n)->exemplars);
}

void dbp_store_free(struct dbp_store *s)
{
	dbp_sockstore_free(&s->socks);
	dbp_htab_each(&s->stmts, free_stmt, NULL);
	free(s->stmts.b);
	dbp_htab_each(&s->series, free_series, NULL);
	dbp_htab_free(&s->series);
	dbp_htab_each(&s->conns, free_series, NULL);
	dbp_htab_free(&s->conns);
	dbp_htab_free(&s->strings);
	dbp_htab_free(&s->folded);
	dbp_htab_free(&s->objfiles);
	dbp_htab_free(&s->stacks);
	free(s->stack_ids);
	dbp_symbolizer_free(s->sym);
	while (s->agents) {
		struct dbp_agent *a = s->agents;
		s->agents = a->next;
		free(a);
	}
	pthread_mutex_destroy(&s->lock);
}

struct istr {
	struct dbp_hnode node;
	size_t len;
	char s[];
};

const char *dbp_store_intern(struct dbp_store *s, const char *p, size_t len)
{
	uint64_t h = dbp_hash_bytes(p, len);
	for (struct dbp_hnode *n = dbp_htab_first(&s->strings, h); n; n = n->next) {
		struct istr *is = (struct istr *)n;
		if (n->hash == h && is->len == len && !memcmp(is->s, p, len))
			return is->s;
	}
	struct istr *is = malloc(sizeof *is + len + 1);
	if (!is)
		return "";
	is->node.hash = h;
	is->len = len;
	memcpy(is->s, p, len);
	is->s[len] = 0;
	dbp_htab_add(&s->strings, &is->node);
	return is->s;
}

static uint64_t where_hash(uint64_t seed, const struct dbp_where *w)
{
	return mix(mix(mix(mix(mix(seed, (uintptr_t)w->service), w->system), (uintptr_t)w->ns),
		       (uintptr_t)w->server),
		   w->port);
}

static int where_eq(const struct dbp_where *a, const struct dbp_where *b)
{
	return a->service == b->service && a->ns == b->ns && a->server == b->server &&
	       a->port == b->port && a->system == b->system;
}

static struct dbp_stmt *stmt_find(struct dbp_store *s, uint64_t h, const struct dbp_where *w,
				  uint64_t fp)
{
	for (struct dbp_hnode *n = dbp_htab_first(&s->stmts, h); n; n = n->next) {
		struct dbp_stmt *st = (struct dbp_stmt *)n;
		if (n->hash == h && st->fingerprint == fp && where_eq(&st->w, w))
			return st;
	}
	return NULL;
}

static void note_folded(struct dbp_store *s, uint64_t fp)
{
	uint64_t h = mix(0, fp);
	for (struct dbp_hnode *n = dbp_htab_first(&s->folded, h); n; n = n->next)
		if (n->hash == h)
			return;
	struct dbp_hnode *n = calloc(1, sizeof *n);
	if (!n)
		return;
	n->hash = h;
	dbp_htab_add(&s->folded, n);
	s->folded_fingerprints++;
}

struct dbp_stmt *dbp_store_stmt(struct dbp_store *s, const struct dbp_where *w, uint64_t fp,
				const char *text, size_t text_len, const char *summary,
				size_t summary_len)
{
	uint64_t h = mix(where_hash(0, w), fp);
	struct dbp_stmt *st = stmt_find(s, h, w, fp);
	if (st)
		return st;
	/* Folded before anything is interned: past the cap, a flood of distinct texts must not
	 * grow the string table. */
	if (s->nfingerprints >= s->max_fingerprints && fp != DBP_OTHER_FINGERPRINT) {
		note_folded(s, fp);
		return dbp_store_stmt(s, w, DBP_OTHER_FINGERPRINT, "(other)", 7, "other", 5);
	}
	st = calloc(1, sizeof *st);
	if (!st)
		return NULL;
	st->node.hash = h;
	st->w = *w;
	st->fingerprint = fp;
	st->text = dbp_store_intern(s, text, text_len);
	st->summary = dbp_store_intern(s, summary, summary_len);
	st->min_ns = UINT64_MAX;
	dbp_htab_add(&s->stmts, &st->node);
	if (fp != DBP_OTHER_FINGERPRINT)
		s->nfingerprints++;
	return st;
}

static struct dbp_series *series_get(struct dbp_htab *t, const struct dbp_where *w,
				     const char *summary, const char *err)
{
	uint64_t h = mix(mix(where_hash(1, w), (uintptr_t)summary), (uintptr_t)err);
	for (struct dbp_hnode *n = dbp_htab_first(t, h); n; n = n->next) {
		struct dbp_series *se = (struct dbp_series *)n;
		if (n->hash == h && where_eq(&se->w, w) && se->summary == summary &&
		    se->error_type == err)
			return se;
	}
	struct dbp_series *se = calloc(1, sizeof *se);
	if (!se)
		return NULL;
	se->node.hash = h;
	se->w = *w;
	se->summary = summary;
	se->error_type = err;
	dbp_htab_add(t, &se->node);
	return se;
}

struct dbp_series *dbp_store_series(struct dbp_store *s, const struct dbp_where *w,
				    const char *summary, const char *err)
{
	return series_get(&s->series, w, summary, err);
}

struct dbp_series *dbp_store_conn_series(struct dbp_store *s, const struct dbp_where *w,
					 const char *err)
{
	return series_get(&s->conns, w, NULL, err);
}

void dbp_store_observe(struct dbp_stmt *st, struct dbp_series *se, const struct dbp_call *c)
{
	uint64_t d = c->duration_ns;
	if (st) {
		st->calls++;
		if (c->h.flags & DBP_CALL_ERROR)
			st->errors++;
		/* pg_stat_statements' rows: retrieved or affected. */
		st->rows += c->rows_returned + c->rows_affected;
		st->total_ns += d;
		st->write_bytes += c->write_bytes;
		st->write_ns += c->write_ns;
		if (d < st->min_ns)
			st->min_ns = d;
		if (d > st->max_ns)
			st->max_ns = d;
		double delta = (double)d - st->mean_ns;
		st->mean_ns += delta / (double)st->calls;
		st->m2 += delta * ((double)d - st->mean_ns);
		if (!st->first_seen_ns || c->start_unix_ns < st->first_seen_ns)
			st->first_seen_ns = c->start_unix_ns;
		if (c->start_unix_ns + d > st->last_seen_ns)
			st->last_seen_ns = c->start_unix_ns + d;
		dbp_sketch_add(&st->sketch, d);
	}
	if (se) {
		se->buckets[dbp_prom_bucket(d)]++;
		se->count++;
		se->sum_s += (double)d / 1e9;
	}
}

struct dbp_agent *dbp_store_agent_new(struct dbp_store *s)
{
	struct dbp_agent *a = calloc(1, sizeof *a);
	if (!a)
		return NULL;
	a->next = s->agents;
	s->agents = a;
	s->nagents++;
	/* Trim: keep connected ones always, disconnected ones up to the cap. */
	unsigned kept = 0;
	for (struct dbp_agent **pp = &s->agents; *pp;) {
		struct dbp_agent *x = *pp;
		if (x->disconnected_unix_ns && ++kept > DBP_AGENTS_KEPT) {
			*pp = x->next;
			free(x);
			s->nagents--;
			continue;
		}
		pp = &x->next;
	}
	return a;
}

double dbp_stmt_stddev_ns(const struct dbp_stmt *st)
{
	return st->calls ? sqrt(st->m2 / (double)st->calls) : 0;
}

/* ---- call stacks ---- */

const struct dbp_objfile *dbp_store_objfile(struct dbp_store *s, const char *path, size_t len,
					    const uint8_t *bid, size_t bid_len)
{
	if (bid_len > DBP_BUILD_ID_MAX)
		return &s->other_obj;
	/* Looked up by content, interned only once it is kept: past the cap a flood of distinct
	 * paths must not grow the string table. */
	uint64_t h = mix(dbp_hash_bytes(path, len), dbp_hash_bytes((const char *)bid, bid_len));
	for (struct dbp_hnode *n = dbp_htab_first(&s->objfiles, h); n; n = n->next) {
		struct dbp_objfile *o = (struct dbp_objfile *)n;
		if (n->hash == h && o->path_len == len && !memcmp(o->path, path, len) &&
		    o->build_id_len == bid_len && (!bid_len || !memcmp(o->build_id, bid, bid_len)))
			return o;
	}
	if (s->nobjfiles >= DBP_OBJFILES_MAX)
		return &s->other_obj;
	const char *p = dbp_store_intern(s, path, len);
	if (len && !*p) /* out of memory */
		return &s->other_obj;
	struct dbp_objfile *o = calloc(1, sizeof *o);
	if (!o)
		return &s->other_obj;
	o->node.hash = h;
	o->path = p;
	o->path_len = len;
	o->build_id_len = (uint16_t)bid_len;
	if (bid_len) /* bid may be NULL then */
		memcpy(o->build_id, bid, bid_len);
	if (dbp_htab_add(&s->objfiles, &o->node) < 0) {
		free(o);
		return &s->other_obj;
	}
	s->nobjfiles++;
	return o;
}

static uint64_t frames_hash(const struct dbp_callframe *f, unsigned n)
{
	uint64_t h = n;
	for (unsigned i = 0; i < n; i++)
		h = mix(mix(h, (uintptr_t)f[i].obj), f[i].offset);
	return h;
}

const struct dbp_callstack *dbp_store_callstack(struct dbp_store *s, const struct dbp_callframe *f,
						unsigned n)
{
	uint64_t h = frames_hash(f, n);
	for (struct dbp_hnode *x = dbp_htab_first(&s->stacks, h); x; x = x->next) {
		struct dbp_callstack *cs = (struct dbp_callstack *)x;
		if (x->hash == h && cs->nframes == n && !memcmp(cs->frames, f, n * sizeof *f))
			return cs;
	}
	if (s->nstacks >= DBP_STACKS_MAX) {
		s->stacks_dropped++;
		return NULL;
	}
	if (s->nstacks == s->stacks_cap) {
		uint32_t cap = s->stacks_cap ? s->stacks_cap * 2 : 64;
		struct dbp_callstack **v = realloc(s->stack_ids, cap * sizeof *v);
		if (!v)
			return NULL;
		s->stack_ids = v;
		s->stacks_cap = cap;
	}
	struct dbp_callstack *cs = malloc(sizeof *cs + n * sizeof *f);
	if (!cs)
		return NULL;
	cs->node.hash = h;
	cs->id = s->nstacks + 1;
	cs->nframes = n;
	memcpy(cs->frames, f, n * sizeof *f);
	if (dbp_htab_add(&s->stacks, &cs->node) < 0) {
		free(cs);
		return NULL;
	}
	s->stack_ids[s->nstacks++] = cs;
	return cs;
}

const struct dbp_callstack *dbp_store_callstack_get(const struct dbp_store *s, uint64_t id)
{
	return id >= 1 && id <= s->nstacks ? s->stack_ids[id - 1] : NULL;
}

void dbp_store_caller(struct dbp_stmt *st, const struct dbp_callframe *site, uint32_t stack_id,
		      uint64_t duration_ns)
{
	if (!st->callers && !(st->callers = calloc(DBP_CALLERS_MAX + 1, sizeof *st->callers)))
		return;
	struct dbp_caller *c = NULL;
	for (unsigned i = 0; i < st->ncallers && !c; i++)
		if (st->callers[i].site.obj == site->obj &&
		    st->callers[i].site.offset == site->offset)
			c = &st->callers[i];
	if (!c) {
		c = &st->callers[st->ncallers < DBP_CALLERS_MAX ? st->ncallers++ : DBP_CALLERS_MAX];
		if (c != &st->callers[DBP_CALLERS_MAX])
			c->site = *site;
	}
	if (!c->stack_id)
		c->stack_id = stack_id;
	c->calls++;
	c->total_ns += duration_ns;
}
