/* ingest: the Unix socket agents connect to; decodes their frames into the store. */
#include "ingest.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "decode.h"
#include "idmap.h"
#include "slowlog.h"
#include "span.h"
#include "spanq.h"

#define MAX_EVENTS 64
#define FRAMES_PER_WAKE 64 /* per connection per wake-up: one busy agent cannot starve others */
#define CACHE_SLOTS 1024

/* What a connection's CALL resolves to, cached by its ids: most calls repeat a few keys. */
struct call_cache {
	uint64_t qid, nsid, errid, srvid;
	uint16_t port, connect;
	uint8_t system, valid;
	struct dbp_stmt *stmt;
	struct dbp_series *series;
};

/* A QUERY this connection defined, its strings UTF-8-clean and NUL-terminated. Copies, not
 * interned: the store interns them only for a statement it keeps (see dbp_store_stmt), so the
 * texts of folded statements go with the connection. */
struct qtext {
	const char *text, *summary; /* in s[] */
	size_t text_len, summary_len;
	char s[];
};

/* A STACK this connection defined. */
struct cstack {
	const struct dbp_callstack *cs; /* NULL when the store keeps no more stacks */
	struct dbp_callframe site;      /* its first frame: the call site */
};

struct conn {
	int fd;
	int hello;
	uint32_t pid;
	const char *service, *exe; /* interned */
	struct dbp_agent *agent;   /* NULL until HELLO */
	struct dbp_idmap queries;  /* id -> struct qtext * */
	struct dbp_idmap strings;  /* (id, kind) -> interned string */
	struct dbp_idmap modules;  /* id -> const struct dbp_objfile * (the store's) */
	struct dbp_idmap stacks;   /* id -> struct cstack * */
	struct call_cache cache[CACHE_SLOTS];
	struct dbp_resource *res; /* for its spans; NULL until HELLO (or out of memory) */
	struct dbp_ingest *in;
};

/* A slow-log line found while a frame is read under the store's lock, written once the lock is
 * released: symbolizing a stack reads files (and with debuginfod, waits on servers), which must
 * not stall every page and the next frames meanwhile. What a line points to needs no lock:
 * interned strings, statements, series, stacks and objfiles live as long as the store. */
struct slow_line {
	const char *exe; /* interned */
	int sock;        /* 1: a socket write (sw); 0: a call (sc, call) */
	union {
		struct {
			struct dbp_slow_call sc; /* sc.call is set when written */
			struct dbp_call call;    /* a copy: the frame buffer is reused */
		};
		struct dbp_slow_write sw;
	};
};

/* CALL and SOCKWRITE records one frame can hold, at most. */
#define SLOW_LINES_MAX (DBP_FRAME_MAX / sizeof(struct dbp_sockwrite))
_Static_assert(sizeof(struct dbp_sockwrite) <= sizeof(struct dbp_call),
	       "SLOW_LINES_MAX counts the shorter record");

struct dbp_ingest {
	int lfd, efd;
	char path[108];
	struct dbp_store *store;
	struct dbp_slowlog *slowlog;
	uint64_t *buf;          /* one frame plus a byte: 8-aligned for in-place record access */
	struct slow_line *slow; /* SLOW_LINES_MAX, the current frame's; NULL without a slow log */
	size_t nslow;
	char host[256];    /* host.name of every span: agents run on this host */
	uint64_t frame_ns; /* CLOCK_MONOTONIC_COARSE when the current frame was read */
};

static uint64_t now_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Prometheus and JSON both need UTF-8: agents send what programs gave them. p[0..len) when it
 * is valid UTF-8 without NUL; else a copy in *copy (the caller frees it) where every byte that
 * is not ASCII, and every NUL, is '?'. NULL when out of memory. */
static const char *utf8_clean(const char *p, size_t len, char **copy)
{
	*copy = NULL;
	size_t i = 0;
	while (i < len) {
		unsigned char c = (unsigned char)p[i];
		size_t n = c < 0x80         ? 1
			   : (c >> 5) == 6  ? 2
			   : (c >> 4) == 14 ? 3
			   : (c >> 3) == 30 ? 4
					    : 0;
		if (!n || i + n > len || !c)
			break;
		size_t k = 1;
		while (k < n && ((unsigned char)p[i + k] >> 6) == 2)
			k++;
		if (k < n)
			break;
		i += n;
	}
	if (i == len)
		return p;
	if (!(*copy = malloc(len)))
		return NULL;
	for (size_t j = 0; j < len; j++) {
		unsigned char c = (unsigned char)p[j];
		(*copy)[j] = c && c < 0x80 ? (char)c : '?';
	}
	return *copy;
}

static const char *intern_utf8(struct dbp_store *s, const char *p, size_t len)
{
	char *copy;
	const char *v = utf8_clean(p, len, &copy);
	const char *r = v ? dbp_store_intern(s, v, len) : "";
	free(copy);
	return r;
}

static int on_hello(void *ctx, const struct dbp_hello *h, struct dbp_str_view exe,
		    struct dbp_str_view service)
{
	struct conn *c = ctx;
	if (c->hello)
		return -1; /* exactly one per connection */
	c->hello = 1;
	c->pid = h->pid;
	c->exe = intern_utf8(c->in->store, exe.p, exe.len);
	c->service = intern_utf8(c->in->store, service.p, service.len);
	if (c->in->store->spans) {
		struct dbp_str_view ts, ra;
		dbp_hello_extra(h, &ts, &ra);
		if (ts.len > 512) /* W3C's limit: longer is not a tracestate, and it goes on every span */
			ts.len = 0;
		char *tsc, *rac;
		const char *tsv = utf8_clean(ts.p, ts.len, &tsc), *rav = utf8_clean(ra.p, ra.len, &rac);
		char tsb[DBP_STRING_MAX + 1];
		if (tsv)
			memcpy(tsb, tsv, ts.len);
		tsb[tsv ? ts.len : 0] = 0;
		c->res = dbp_resource_new(c->service, c->exe, h->pid, c->in->host,
					  ts.len && tsv ? tsb : NULL, rav, rav ? ra.len : 0);
		free(tsc);
		free(rac);
	}
	c->agent = dbp_store_agent_new(c->in->store);
	if (c->agent) {
		c->agent->pid = h->pid;
		c->agent->ppid = h->ppid;
		c->agent->exe = c->exe;
		c->agent->service = c->service;
		c->agent->start_unix_ns = h->start_unix_ns;
		c->agent->connected_unix_ns = now_unix_ns();
	}
	return 0;
}

/* Copies p[0..len) to dst, cleaned as utf8_clean does, and NUL-terminates it. */
static void copy_utf8(char *dst, const char *p, size_t len)
{
	char *copy;
	const char *v = utf8_clean(p, len, &copy);
	if (v)
		memcpy(dst, v, len);
	else /* out of memory: no byte of it is trusted */
		memset(dst, '?', len);
	dst[len] = 0;
	free(copy);
}

static int on_query(void *ctx, const struct dbp_query *q, struct dbp_str_view text,
		    struct dbp_str_view summary)
{
	struct conn *c = ctx;
	if (!c->hello)
		return -1;
	struct qtext *old = dbp_idmap_get(&c->queries, q->id);
	if (!old && c->queries.n + c->queries.has_zero >= DBP_CONN_QUERIES_MAX)
		return -1;
	struct qtext *qt = malloc(sizeof *qt + text.len + 1 + summary.len + 1);
	if (!qt)
		return -1;
	copy_utf8(qt->s, text.p, text.len);
	copy_utf8(qt->s + text.len + 1, summary.p, summary.len);
	qt->text = qt->s;
	qt->text_len = text.len;
	qt->summary = qt->s + text.len + 1;
	qt->summary_len = summary.len;
	if (dbp_idmap_put(&c->queries, q->id, qt) < 0) {
		free(qt);
		return -1;
	}
	free(old); /* replaced: nothing else points to it */
	return 0;
}

static uint64_t string_key(uint64_t id, uint16_t kind)
{
	return id * 8 + kind; /* kinds are 1 to 4: ids of different kinds never collide */
}

static int on_string(void *ctx, const struct dbp_string *s, struct dbp_str_view str)
{
	struct conn *c = ctx;
	if (!c->hello || s->kind < DBP_STR_NAMESPACE || s->kind > DBP_STR_PEER)
		return -1;
	uint64_t key = string_key(s->id, s->kind);
	if (c->strings.n >= DBP_CONN_STRINGS_MAX && !dbp_idmap_get(&c->strings, key))
		return -1; /* keys are never 0: n counts them all */
	const char *v = intern_utf8(c->in->store, str.p, str.len);
	return dbp_idmap_put(&c->strings, key, (void *)v);
}

static int on_module(void *ctx, const struct dbp_module *m, struct dbp_str_view path,
		     struct dbp_str_view build_id)
{
	struct conn *c = ctx;
	struct dbp_store *st = c->in->store;
	if (!c->hello)
		return -1;
	if (c->modules.n >= DBP_CONN_MODULES_MAX && !dbp_idmap_get(&c->modules, m->id))
		return -1; /* ids are nonzero: n counts them all */
	st->records++;
	char *copy;
	const char *p = utf8_clean(path.p, path.len, &copy);
	const struct dbp_objfile *o =
		p ? dbp_store_objfile(st, p, path.len, (const uint8_t *)build_id.p, build_id.len)
		  : &st->other_obj;
	free(copy);
	return dbp_idmap_put(&c->modules, m->id, (void *)o);
}

static int on_stack(void *ctx, const struct dbp_stack *s, const struct dbp_wire_frame *frames)
{
	struct conn *c = ctx;
	struct dbp_store *st = c->in->store;
	if (!c->hello)
		return -1;
	struct cstack *cs = dbp_idmap_get(&c->stacks, s->id);
	if (!cs && c->stacks.n >= DBP_CONN_STACKS_MAX)
		return -1;
	st->records++;
	struct dbp_callframe f[DBP_STACK_MAX];
	for (unsigned i = 0; i < s->nframes; i++) {
		f[i].obj = dbp_idmap_get(&c->modules, frames[i].module_id);
		if (!f[i].obj)
			return -1; /* a module this connection never defined */
		f[i].offset = frames[i].offset;
	}
	if (!cs) {
		cs = malloc(sizeof *cs);
		if (!cs || dbp_idmap_put(&c->stacks, s->id, cs) < 0) {
			free(cs);
			return -1;
		}
	}
	cs->cs = dbp_store_callstack(st, f, s->nframes);
	cs->site = f[0];
	return 0;
}

/* The next slow-log line of this frame, or NULL (never: see SLOW_LINES_MAX). */
static struct slow_line *slow_line(struct dbp_ingest *in)
{
	return in->slow && in->nslow < SLOW_LINES_MAX ? &in->slow[in->nslow++] : NULL;
}

/* Writes the frame's slow-log lines: without the store's lock. */
static void write_slow_lines(struct dbp_ingest *in)
{
	for (size_t i = 0; i < in->nslow; i++) {
		struct slow_line *l = &in->slow[i];
		if (l->sock) {
			dbp_slowlog_write_sock(in->slowlog, &l->sw, l->exe);
		} else {
			l->sc.call = &l->call;
			dbp_slowlog_write(in->slowlog, &l->sc);
		}
	}
	in->nslow = 0;
}

/* Whether an id (8 or 16 bytes, 8-aligned in the record) is set: on every call's path. */
static int nonzero(const uint8_t *p, size_t n)
{
	uint64_t a, b = 0;
	memcpy(&a, p, 8);
	if (n == 16)
		memcpy(&b, p + 8, 8);
	return (a | b) != 0;
}

/* The span of an exported call (one with a span id), into the pipeline. text and summary
 * (NULL: none) are copied; the span is named by the summary, else by `name`. Returns whether
 * one was made: not when it would be dropped at once, or the ids are unusable. */
static int make_span(struct conn *c, const struct dbp_call *call, const char *name,
		      const char *text, const char *summary, const char *ns, const char *server,
		      const char *err, const struct cstack *stack)
{
	struct dbp_store *st = c->in->store;
	/* OTLP requires a trace id; an end before the start (an overflowing duration) is no span
	 * either. A collector that checks would refuse the whole batch, other agents' spans too. */
	if (!nonzero(call->trace_id, 16) ||
	    call->start_unix_ns + call->duration_ns < call->start_unix_ns)
		return 0;
	/* A transaction's span is always made: one per many calls, and the parent of them all. */
	if (!(call->h.flags & DBP_CALL_TXN) && !dbp_spanq_admit(st->spans, c->in->frame_ns))
		return 0; /* it would be dropped at once: not even made */
	size_t tlen = text && *text ? strlen(text) : 0;
	size_t slen = summary && *summary ? strlen(summary) : 0;
	struct dbp_span *sp = dbp_span_new(c->res, (tlen ? tlen + 1 : 0) + (slen ? slen + 1 : 0));
	if (!sp)
		return 0;
	memcpy(sp->trace_id, call->trace_id, 16);
	memcpy(sp->span_id, call->span_id, 8);
	memcpy(sp->parent_span_id, call->parent_span_id, 8);
	sp->start_unix_ns = call->start_unix_ns;
	sp->end_unix_ns = call->start_unix_ns + call->duration_ns;
	sp->db_system = call->db_system;
	sp->kind = call->db_system == DBP_DB_SQLITE ? DBP_SPAN_INTERNAL : DBP_SPAN_CLIENT;
	sp->what = call->h.flags & DBP_CALL_TXN       ? DBP_SPAN_TXN
		   : call->h.flags & DBP_CALL_CONNECT ? DBP_SPAN_CONNECT
						      : DBP_SPAN_CALL;
	sp->error = err != NULL;
	sp->rollback = (call->h.flags & DBP_CALL_ROLLBACK) != 0;
	sp->sampled = (call->h.flags & DBP_CALL_SAMPLED) != 0;
	sp->server_port = call->server_port;
	sp->rows = sp->what == DBP_SPAN_CALL ? call->rows_returned : 0;
	sp->system_name = dbp_db_system_names[call->db_system];
	sp->ns = ns && *ns ? ns : NULL;
	sp->query_text = tlen ? dbp_span_str(sp, text, tlen) : NULL;
	sp->summary = slen ? dbp_span_str(sp, summary, slen) : NULL;
	sp->name = sp->summary ? sp->summary : name;
	sp->server = server && *server ? server : NULL;
	sp->error_type = err;
	sp->stack = stack ? stack->cs : NULL;
	sp->sym = st->sym;
	dbp_spanq_put(st->spans, sp);
	return 1;
}

/* The bucket's latest traced call: what a dashboard follows from a latency bucket. */
static void exemplar(struct dbp_series *se, const struct dbp_call *call)
{
	if (!se->exemplars &&
	    !(se->exemplars = calloc(DBP_PROM_BUCKETS + 1, sizeof *se->exemplars)))
		return;
	struct dbp_exemplar *e = &se->exemplars[dbp_prom_bucket(call->duration_ns)];
	memcpy(e->trace_id, call->trace_id, 16);
	memcpy(e->span_id, call->span_id, 8);
	e->value_s = (double)call->duration_ns / 1e9;
	e->unix_ns = call->start_unix_ns + call->duration_ns;
	e->set = 1;
}

/* A transaction's span: no statistics, only the span. */
static int on_txn(struct conn *c, const struct dbp_call *call)
{
	struct dbp_store *st = c->in->store;
	const char *ns = call->namespace_id ? dbp_idmap_get(&c->strings,
							    string_key(call->namespace_id,
								       DBP_STR_NAMESPACE))
					    : "";
	const char *srv = call->server_id ? dbp_idmap_get(&c->strings, string_key(call->server_id,
										  DBP_STR_SERVER))
					  : "";
	const char *err = call->h.flags & DBP_CALL_ERROR
				  ? dbp_idmap_get(&c->strings,
						  string_key(call->error_id, DBP_STR_ERROR_TYPE))
				  : NULL;
	if (!ns || !srv || !nonzero(call->span_id, 8) ||
	    (call->h.flags & DBP_CALL_ERROR && !err))
		return -1;
	st->records++;
	if (st->spans && c->res)
		make_span(c, call, "transaction", NULL, NULL, ns, srv, err, NULL);
	return 0;
}

static int on_call(void *ctx, const struct dbp_call *call)
{
	struct conn *c = ctx;
	struct dbp_store *st = c->in->store;
	if (!c->hello || call->db_system >= DBP_DB_SYSTEM_COUNT)
		return -1;
	if (call->h.flags & DBP_CALL_TXN)
		return on_txn(c, call);
	const struct cstack *stack = NULL;
	if (call->stack_id && !(stack = dbp_idmap_get(&c->stacks, call->stack_id)))
		return -1; /* a stack this connection never defined */
	uint64_t errid = call->h.flags & DBP_CALL_ERROR ? call->error_id : 0;
	uint16_t connect = call->h.flags & DBP_CALL_CONNECT;
	size_t slot = (size_t)((call->query_id ^ call->namespace_id * 31 ^ errid * 17 ^
				call->server_id * 13 ^ call->server_port) %
			       CACHE_SLOTS);
	struct call_cache *cc = &c->cache[slot];
	if (!(cc->valid && cc->qid == call->query_id && cc->nsid == call->namespace_id &&
	      cc->errid == errid && cc->srvid == call->server_id && cc->port == call->server_port &&
	      cc->connect == connect && cc->system == call->db_system)) {
		struct qtext *qt = connect ? NULL : dbp_idmap_get(&c->queries, call->query_id);
		const char *empty = dbp_store_intern(st, "", 0);
		const char *ns = call->namespace_id
					 ? dbp_idmap_get(&c->strings, string_key(call->namespace_id,
										 DBP_STR_NAMESPACE))
					 : empty;
		const char *srv =
			call->server_id ? dbp_idmap_get(&c->strings,
							string_key(call->server_id, DBP_STR_SERVER))
					: empty;
		const char *err =
			errid ? dbp_idmap_get(&c->strings, string_key(errid, DBP_STR_ERROR_TYPE))
			      : NULL;
		if ((!connect && !qt) || !ns || !srv || (errid && !err))
			return -1; /* an id this connection never defined */
		struct dbp_where w = {
			.service = c->service,
			.ns = ns,
			.server = srv,
			.port = call->server_port,
			.system = call->db_system,
		};
		*cc = (struct call_cache){
			.qid = call->query_id,
			.nsid = call->namespace_id,
			.errid = errid,
			.srvid = call->server_id,
			.port = call->server_port,
			.connect = connect,
			.system = call->db_system,
			.valid = 1,
		};
		if (connect) {
			cc->series = dbp_store_conn_series(st, &w, err);
		} else {
			cc->stmt = dbp_store_stmt(st, &w, call->query_id, qt->text, qt->text_len,
						  qt->summary, qt->summary_len);
			/* The statement's interned summary: "other" for a folded one, whose own
			 * summary stays out of the series (cardinality) and the string table. */
			const char *summary =
				cc->stmt ? cc->stmt->summary
					 : dbp_store_intern(st, qt->summary, qt->summary_len);
			cc->series = dbp_store_series(st, &w, summary, err);
		}
	}
	st->records++;
	dbp_store_observe(cc->stmt, cc->series, call);
	if (nonzero(call->span_id, 8) && st->spans && c->res) {
		struct qtext *qt = connect ? NULL : dbp_idmap_get(&c->queries, call->query_id);
		const struct dbp_where *w = cc->stmt     ? &cc->stmt->w
					    : cc->series ? &cc->series->w
							 : NULL;
		/* An exemplar names a span that exists: one made, for a sampled call. */
		if (make_span(c, call, connect ? "connect" : dbp_db_system_names[call->db_system],
			      qt ? qt->text : NULL, qt ? qt->summary : NULL, w ? w->ns : NULL,
			      w ? w->server : NULL, cc->series ? cc->series->error_type : NULL,
			      stack) &&
		    cc->series && (call->h.flags & DBP_CALL_SAMPLED))
			exemplar(cc->series, call);
	}
	if (connect) {
		if (c->agent)
			c->agent->connects++;
		return 0;
	}
	st->calls++;
	if (c->agent) {
		c->agent->calls++;
		c->agent->errors += errid != 0;
	}
	if (stack && cc->stmt)
		dbp_store_caller(cc->stmt, &stack->site, stack->cs ? stack->cs->id : 0,
				 call->duration_ns);
	if (dbp_slowlog_wants(c->in->slowlog, call) && cc->stmt) {
		struct slow_line *l = slow_line(c->in);
		if (l) {
			l->exe = c->exe;
			l->sock = 0;
			l->sc = (struct dbp_slow_call){
				.service = c->service,
				.exe = c->exe,
				.ns = cc->stmt->w.ns,
				.text = cc->stmt->text,
				.summary = cc->stmt->summary,
				.error_type = cc->series ? cc->series->error_type : NULL,
				.pid = c->pid,
				.stack = stack ? stack->cs : NULL,
				.sym = st->sym,
			};
			l->call = *call;
		}
	}
	return 0;
}

static int on_drops(void *ctx, const struct dbp_drops *d)
{
	struct conn *c = ctx;
	if (!c->hello)
		return -1;
	c->in->store->records++;
	for (int i = 0; i < DBP_DROP_REASON_COUNT; i++) {
		c->in->store->agent_drops[i] += d->count[i];
		if (c->agent)
			c->agent->drops[i] += d->count[i];
	}
	return 0;
}

/* A socket record's peer: a PEER string this connection defined, or NULL. */
static const char *peer_of(struct conn *c, uint64_t peer_id)
{
	return dbp_idmap_get(&c->strings, string_key(peer_id, DBP_STR_PEER));
}

static int on_sock(void *ctx, const struct dbp_sock *r, const struct dbp_sock_err *errs)
{
	struct conn *c = ctx;
	struct dbp_store *st = c->in->store;
	const char *peer = c->hello ? peer_of(c, r->peer_id) : NULL;
	if (!peer)
		return -1;
	st->records++;
	struct dbp_sock_series *se =
		dbp_sockstore_series(&st->socks, c->service, peer, r->direction, r->db_system);
	if (se)
		dbp_sock_series_add(se, r, errs);
	return 0;
}

static int on_sockwrite(void *ctx, const struct dbp_sockwrite *w)
{
	struct conn *c = ctx;
	struct dbp_store *st = c->in->store;
	const char *peer = c->hello ? peer_of(c, w->peer_id) : NULL;
	if (!peer)
		return -1;
	st->records++;
	struct dbp_slow_write sw = {
		.service = c->service,
		.peer = peer,
		.pid = c->pid,
		.tid = w->tid,
		.err_no = w->err_no,
		.direction = w->direction,
		.system = w->db_system,
		.start_unix_ns = w->start_unix_ns,
		.duration_ns = w->duration_ns,
		.bytes = w->bytes,
	};
	dbp_sockstore_slow(&st->socks, &sw);
	struct slow_line *l = dbp_slowlog_wants_write(c->in->slowlog, w) ? slow_line(c->in) : NULL;
	if (l) {
		l->exe = c->exe;
		l->sock = 1;
		l->sw = sw;
	}
	return 0;
}

static int on_hello_counted(void *ctx, const struct dbp_hello *h, struct dbp_str_view exe,
			    struct dbp_str_view service)
{
	struct conn *c = ctx;
	c->in->store->records++;
	return on_hello(ctx, h, exe, service);
}

static int on_query_counted(void *ctx, const struct dbp_query *q, struct dbp_str_view t,
			    struct dbp_str_view s)
{
	struct conn *c = ctx;
	c->in->store->records++;
	return on_query(ctx, q, t, s);
}

static int on_string_counted(void *ctx, const struct dbp_string *s, struct dbp_str_view v)
{
	struct conn *c = ctx;
	c->in->store->records++;
	return on_string(ctx, s, v);
}

static const struct dbp_decode_ops ops = {
	.hello = on_hello_counted,
	.query = on_query_counted,
	.string = on_string_counted,
	.call = on_call,
	.drops = on_drops,
	.sock = on_sock,
	.sockwrite = on_sockwrite,
	.module = on_module,
	.stack = on_stack,
};

/* Frees a value of the queries or stacks map. */
static void conn_free_value(uint64_t id, void *v, void *arg)
{
	(void)id;
	(void)arg;
	free(v);
}

static void conn_close(struct dbp_ingest *in, struct conn *c)
{
	epoll_ctl(in->efd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	pthread_mutex_lock(&in->store->lock);
	in->store->agents_connected--;
	/* The agent's connection goes away, not the record of it (/agents keeps it). The list
	 * may have trimmed it only once disconnected, which happens here, under the lock. */
	if (c->agent)
		c->agent->disconnected_unix_ns = now_unix_ns();
	pthread_mutex_unlock(&in->store->lock);
	dbp_idmap_each(&c->queries, conn_free_value, NULL);
	dbp_idmap_free(&c->queries);
	dbp_idmap_free(&c->strings);
	dbp_idmap_free(&c->modules);
	dbp_idmap_each(&c->stacks, conn_free_value, NULL);
	dbp_idmap_free(&c->stacks);
	if (c->res)
		dbp_resource_unref(c->res);
	free(c);
}

/* Reads what the connection has. Returns -1 when it must be closed. */
static int conn_read(struct dbp_ingest *in, struct conn *c)
{
	for (int i = 0; i < FRAMES_PER_WAKE; i++) {
		/* MSG_TRUNC makes recv report the real size of a datagram larger than the buffer.
		 */
		ssize_t n = recv(c->fd, in->buf, DBP_FRAME_MAX + 8, MSG_DONTWAIT | MSG_TRUNC);
		if (n == 0)
			return -1;
		if (n < 0)
			return errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR ? 0 : -1;
		pthread_mutex_lock(&in->store->lock);
		int bad = 0;
		if ((size_t)n > DBP_FRAME_MAX) {
			in->store->decode_errors[DBP_DECODE_OVERSIZED]++;
			fprintf(stderr,
				"dbprobe-exporter: pid %u sent a %zd-byte frame (limit %u); "
				"connection dropped\n",
				c->pid, n, DBP_FRAME_MAX);
			bad = 1;
		} else {
			const char *why;
			struct timespec ts;
			clock_gettime(CLOCK_MONOTONIC_COARSE, &ts);
			in->frame_ns = (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
			if (dbp_decode_frame(in->buf, (size_t)n, &ops, c, &why) < 0) {
				in->store->decode_errors[DBP_DECODE_MALFORMED]++;
				fprintf(stderr,
					"dbprobe-exporter: malformed frame from pid %u (%s); "
					"connection dropped\n",
					c->pid, why);
				bad = 1;
			}
		}
		pthread_mutex_unlock(&in->store->lock);
		/* Even from a refused frame: its records before the refusal were counted. */
		write_slow_lines(in);
		if (bad)
			return -1;
	}
	return 0;
}

static int path_has_live_listener(const char *path)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return 0;
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	int live = connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0;
	close(fd);
	return live;
}

struct dbp_ingest *dbp_ingest_open(const struct dbp_ingest_opts *o, char *err, size_t errlen)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(o->socket_path) >= sizeof sa.sun_path) {
		snprintf(err, errlen, "socket path %s is longer than %zu bytes", o->socket_path,
			 sizeof sa.sun_path - 1);
		return NULL;
	}
	strcpy(sa.sun_path, o->socket_path);
	struct stat sb;
	if (lstat(o->socket_path, &sb) == 0) {
		if (!S_ISSOCK(sb.st_mode)) {
			snprintf(err, errlen, "%s exists and is not a socket; not touching it",
				 o->socket_path);
			return NULL;
		}
		if (path_has_live_listener(o->socket_path)) {
			snprintf(err, errlen,
				 "another exporter is already listening on %s; stop it first or "
				 "use --socket",
				 o->socket_path);
			return NULL;
		}
		unlink(o->socket_path); /* stale: left by an exporter that died */
	}
	struct dbp_ingest *in = calloc(1, sizeof *in);
	if (!in) {
		snprintf(err, errlen, "out of memory");
		return NULL;
	}
	if (gethostname(in->host, sizeof in->host - 1) != 0)
		strcpy(in->host, "localhost");
	in->buf = aligned_alloc(8, DBP_FRAME_MAX + 8);
	in->lfd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	in->efd = epoll_create1(EPOLL_CLOEXEC);
	if (o->slowlog)
		in->slow = calloc(SLOW_LINES_MAX, sizeof *in->slow);
	if (!in->buf || in->lfd < 0 || in->efd < 0 || (o->slowlog && !in->slow)) {
		snprintf(err, errlen, "cannot create sockets: %s", strerror(errno));
		goto fail;
	}
	/* Agents of every user on the host may connect: the socket is the only door. */
	mode_t old = umask(0);
	int rc = bind(in->lfd, (struct sockaddr *)&sa, sizeof sa);
	umask(old);
	if (rc < 0 || listen(in->lfd, 256) < 0) {
		snprintf(err, errlen, "cannot listen on %s: %s", o->socket_path, strerror(errno));
		goto fail;
	}
	strcpy(in->path, o->socket_path);
	in->store = o->store;
	in->slowlog = o->slowlog;
	struct epoll_event ev = { .events = EPOLLIN, .data.ptr = NULL };
	epoll_ctl(in->efd, EPOLL_CTL_ADD, in->lfd, &ev);
	return in;
fail:
	if (in->lfd >= 0)
		close(in->lfd);
	if (in->efd >= 0)
		close(in->efd);
	free(in->buf);
	free(in->slow);
	free(in);
	return NULL;
}

static void accept_all(struct dbp_ingest *in)
{
	for (;;) {
		int fd = accept4(in->lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0)
			return;
		struct conn *c = calloc(1, sizeof *c);
		if (!c) {
			close(fd);
			continue;
		}
		c->fd = fd;
		c->in = in;
		struct epoll_event ev = { .events = EPOLLIN | EPOLLRDHUP, .data.ptr = c };
		if (epoll_ctl(in->efd, EPOLL_CTL_ADD, fd, &ev) < 0) {
			close(fd);
			free(c);
			continue;
		}
		pthread_mutex_lock(&in->store->lock);
		in->store->agents_connected++;
		in->store->connections_total++;
		pthread_mutex_unlock(&in->store->lock);
	}
}

void dbp_ingest_run(struct dbp_ingest *in, volatile int *stop, int stop_fd)
{
	if (stop_fd >= 0) {
		struct epoll_event ev = { .events = EPOLLIN, .data.ptr = &in->path };
		epoll_ctl(in->efd, EPOLL_CTL_ADD, stop_fd, &ev);
	}
	struct epoll_event evs[MAX_EVENTS];
	while (!*stop) {
		int n = epoll_wait(in->efd, evs, MAX_EVENTS, 200);
		for (int i = 0; i < n; i++) {
			void *p = evs[i].data.ptr;
			if (p == NULL) {
				accept_all(in);
			} else if (p == &in->path) {
				*stop = 1;
			} else {
				struct conn *c = p;
				int rc = conn_read(in, c);
				/* A hang-up is handled after the data: an exiting agent's last
				 * frames still count. recv() reports EOF once they are read. */
				if (rc == 0 &&
				    (evs[i].events & (EPOLLHUP | EPOLLRDHUP | EPOLLERR))) {
					for (int k = 0; k < 4096 && rc == 0; k++)
						rc = conn_read(in, c);
					rc = -1;
				}
				if (rc < 0)
					conn_close(in, c);
			}
		}
	}
}

void dbp_ingest_close(struct dbp_ingest *in)
{
	/* Connections are closed by process exit; the socket file must go now. */
	close(in->lfd);
	close(in->efd);
	unlink(in->path);
	free(in->buf);
	free(in->slow);
	free(in);
}
