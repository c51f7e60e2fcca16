/* pq_state: per-connection call queue and prepared-statement map for the libpq shim. */
#include "pq_state.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlnorm.h"
#include "sqlparts.h"

/* ---- the queue ------------------------------------------------------------------------------ */

static void pend_free(struct pq_pend *p)
{
	dbp_parts_free(&p->parts);
}

struct pq_pend *pq_queue_push(struct pq_conn *c)
{
	if (c->qlen == c->qcap) {
		unsigned cap = c->qcap ? c->qcap * 2 : 4;
		struct pq_pend *q = malloc(cap * sizeof *q);
		if (!q)
			return NULL;
		/* Unwrapped into the new array, oldest first. */
		for (unsigned i = 0; i < c->qlen; i++)
			q[i] = c->queue[(c->qhead + i) % c->qcap];
		free(c->queue);
		c->queue = q;
		c->qcap = cap;
		c->qhead = 0;
	}
	struct pq_pend *p = &c->queue[(c->qhead + c->qlen) % c->qcap];
	c->qlen++;
	memset(p, 0, sizeof *p);
	return p;
}

struct pq_pend *pq_queue_head(struct pq_conn *c)
{
	return c->qlen ? &c->queue[c->qhead] : NULL;
}

void pq_queue_pop(struct pq_conn *c)
{
	if (!c->qlen)
		return;
	pend_free(&c->queue[c->qhead]);
	c->qhead = (c->qhead + 1) % c->qcap;
	c->qlen--;
}

void pq_queue_drop_tail(struct pq_conn *c)
{
	if (!c || !c->qlen)
		return;
	c->qlen--;
	pend_free(&c->queue[(c->qhead + c->qlen) % c->qcap]);
}

void pq_queue_clear(struct pq_conn *c)
{
	while (c->qlen)
		pq_queue_pop(c);
}

void pq_conn_clear(struct pq_conn *c)
{
	pq_queue_clear(c);
	free(c->queue);
	pq_prep_del(c, NULL);
	free(c->preps);
	struct dbp_ptrmap_val hdr = c->hdr;
	memset(c, 0, sizeof *c);
	c->hdr = hdr;
}

/* ---- SQL-level prepared statements ---------------------------------------------------------- */

static int is_ident(unsigned char ch)
{
	return ch == '_' || ch == '$' || ch >= 0x80 || (ch >= '0' && ch <= '9') ||
	       ((ch | 0x20) >= 'a' && (ch | 0x20) <= 'z');
}

#define skip_blank dbp_sql_skip_blank

/* The keyword kw (lower case) at s[i], as a whole word. */
static int keyword(const char *s, size_t len, size_t i, const char *kw)
{
	size_t n = strlen(kw);
	if (i + n > len || strncasecmp(s + i, kw, n) != 0)
		return 0;
	return i + n == len || !is_ident((unsigned char)s[i + n]);
}

/* An identifier at s[*i]: "quoted" as written ("" is one quote), or folded to lower case as the
 * server folds it. NULL when there is none. */
static char *identifier(const char *s, size_t len, size_t *i)
{
	size_t p = *i;
	char *out;
	size_t n = 0;
	if (p < len && s[p] == '"') {
		out = malloc(len - p);
		if (!out)
			return NULL;
		for (p++; p < len; p++) {
			if (s[p] == '"') {
				if (p + 1 < len && s[p + 1] == '"') {
					out[n++] = '"';
					p++;
					continue;
				}
				break;
			}
			out[n++] = s[p];
		}
		if (p >= len) {
			free(out);
			return NULL;
		}
		p++;
	} else {
		if (p >= len || !is_ident((unsigned char)s[p]) || (s[p] >= '0' && s[p] <= '9') ||
		    s[p] == '$')
			return NULL;
		size_t start = p;
		while (p < len && is_ident((unsigned char)s[p]))
			p++;
		out = malloc(p - start + 1);
		if (!out)
			return NULL;
		for (size_t k = start; k < p; k++)
			out[n++] = s[k] >= 'A' && s[k] <= 'Z' ? (char)(s[k] | 0x20) : s[k];
	}
	out[n] = 0;
	*i = p;
	return out;
}

int pq_sql_command(const char *s, size_t len, char **name, size_t *body_off, size_t *body_len)
{
	size_t i = skip_blank(s, len, 0);
	*name = NULL;
	if (i >= len)
		return PQ_OP_NONE;
	char c0 = (char)(s[i] | 0x20);
	if (c0 == 'p' && keyword(s, len, i, "prepare")) {
		/* PREPARE name [ ( type [, ...] ) ] AS statement */
		i = skip_blank(s, len, i + 7);
		char *id = identifier(s, len, &i);
		if (!id)
			return PQ_OP_NONE;
		i = skip_blank(s, len, i);
		if (i < len && s[i] == '(') {
			unsigned depth = 0;
			for (; i < len; i++) {
				if (s[i] == '(')
					depth++;
				else if (s[i] == ')' && --depth == 0)
					break;
			}
			i = skip_blank(s, len, i + 1);
		}
		if (!keyword(s, len, i, "as")) {
			free(id);
			return PQ_OP_NONE;
		}
		i = skip_blank(s, len, i + 2);
		*name = id;
		*body_off = i;
		*body_len = len - i;
		return PQ_OP_PREPARE;
	}
	if (c0 == 'e' && keyword(s, len, i, "execute")) {
		i = skip_blank(s, len, i + 7);
		*name = identifier(s, len, &i);
		return *name ? PQ_OP_EXECUTE : PQ_OP_NONE;
	}
	if (c0 == 'd' && keyword(s, len, i, "discard")) {
		/* DISCARD ALL deallocates every prepared statement of the session. */
		i = skip_blank(s, len, i + 7);
		return keyword(s, len, i, "all") ? PQ_OP_DEALLOCATE : PQ_OP_NONE;
	}
	if (c0 == 'd' && keyword(s, len, i, "deallocate")) {
		i = skip_blank(s, len, i + 10);
		if (keyword(s, len, i, "prepare"))
			i = skip_blank(s, len, i + 7);
		if (keyword(s, len, i, "all"))
			return PQ_OP_DEALLOCATE; /* name NULL: all */
		*name = identifier(s, len, &i);
		return *name ? PQ_OP_DEALLOCATE : PQ_OP_NONE;
	}
	return PQ_OP_NONE;
}

/* ---- filling a queued call ------------------------------------------------------------------- */

/* SQL-level PREPARE / EXECUTE / DEALLOCATE: what the statement does to the prepared names. */
static void note_sql_command(struct dbp_part *pt, const char *s, size_t len)
{
	size_t off = 0, blen = 0;
	/* Only statements starting with one of the three words are read further. */
	size_t i = skip_blank(s, len, 0);
	if (i < len) {
		char c0 = (char)(s[i] | 0x20);
		if (c0 == 'p' || c0 == 'e' || c0 == 'd') {
			pt->op = (uint8_t)pq_sql_command(s, len, &pt->name, &off, &blen);
			if (pt->op == PQ_OP_PREPARE)
				pt->body = dbp_query_get_ex(s + off, blen, SQLNORM_PG);
		}
	}
}

int pq_pend_set_sql(struct pq_pend *p, const char *sql, size_t len, int split)
{
	return dbp_parts_set(&p->parts, sql, len, split, DBP_DIALECT_PG, note_sql_command);
}

int pq_pend_set_prepare(struct pq_pend *p, const char *name, const char *sql)
{
	p->parts.n = 1;
	p->parts.one.name = strdup(name);
	if (!p->parts.one.name)
		return -1;
	p->parts.one.q = dbp_query_get_ex(sql, strlen(sql), SQLNORM_PG);
	return 0;
}

int pq_pend_set_exec(struct pq_pend *p, struct pq_conn *c, const char *name)
{
	p->parts.n = 1;
	p->parts.one.q = pq_prep_get(c, name);
	if (!p->parts.one.q)
		p->parts.one.q = pq_exec_name_query(name);
	return 0;
}

const struct dbp_query_ent *pq_exec_name_query(const char *name)
{
	char buf[128];
	size_t n = strlen(name);
	if (n > sizeof buf - 9)
		n = sizeof buf - 9;
	memcpy(buf, "EXECUTE ", 8);
	memcpy(buf + 8, name, n);
	return dbp_query_get_ex(buf, 8 + n, SQLNORM_PG);
}

/* ---- prepared statements by name --------------------------------------------------------- */

static uint64_t name_hash(const char *name)
{
	uint64_t h = sqlnorm_hash(name, strlen(name));
	return h ? h : 1;
}

static struct pq_prep *prep_find(struct pq_conn *c, const char *name, uint64_t h)
{
	if (!c->prepcap)
		return NULL;
	for (unsigned i = (unsigned)h & (c->prepcap - 1);; i = (i + 1) & (c->prepcap - 1)) {
		struct pq_prep *e = &c->preps[i];
		if (!e->hash)
			return NULL;
		if (e->hash == h && e->name && !strcmp(e->name, name))
			return e;
	}
}

const struct dbp_query_ent *pq_prep_get(struct pq_conn *c, const char *name)
{
	struct pq_prep *e = prep_find(c, name, name_hash(name));
	return e ? e->q : NULL;
}

static void prep_insert(struct pq_prep *tab, unsigned cap, uint64_t h, char *name,
			const struct dbp_query_ent *q)
{
	unsigned i = (unsigned)h & (cap - 1);
	while (tab[i].hash)
		i = (i + 1) & (cap - 1);
	tab[i] = (struct pq_prep){ .hash = h, .name = name, .q = q };
}

void pq_prep_put(struct pq_conn *c, const char *name, const struct dbp_query_ent *q)
{
	uint64_t h = name_hash(name);
	struct pq_prep *e = prep_find(c, name, h);
	if (e) {
		e->q = q;
		return;
	}
	/* Removed entries stay as name-less tombstones (probes walk past them), so the table is
	 * rebuilt from the live ones when it grows. */
	if ((c->nprep + 1) * 2 > c->prepcap) {
		unsigned live = 0;
		for (unsigned i = 0; i < c->prepcap; i++)
			live += c->preps[i].name != NULL;
		unsigned cap = 16;
		while ((live + 1) * 2 > cap)
			cap *= 2;
		struct pq_prep *tab = calloc(cap, sizeof *tab);
		if (!tab)
			return;
		for (unsigned i = 0; i < c->prepcap; i++)
			if (c->preps[i].name)
				prep_insert(tab, cap, c->preps[i].hash, c->preps[i].name,
					    c->preps[i].q);
		free(c->preps);
		c->preps = tab;
		c->prepcap = cap;
		c->nprep = live;
	}
	char *copy = strdup(name);
	if (!copy)
		return;
	prep_insert(c->preps, c->prepcap, h, copy, q);
	c->nprep++;
}

void pq_prep_del(struct pq_conn *c, const char *name)
{
	if (!name) {
		for (unsigned i = 0; i < c->prepcap; i++)
			free(c->preps[i].name);
		if (c->preps)
			memset(c->preps, 0, c->prepcap * sizeof *c->preps);
		c->nprep = 0;
		return;
	}
	struct pq_prep *e = prep_find(c, name, name_hash(name));
	if (e) {
		free(e->name);
		e->name = NULL; /* a tombstone: hash kept so probes go on */
		e->q = NULL;
	}
}

void pq_prep_del_if(struct pq_conn *c, const char *name, const struct dbp_query_ent *q)
{
	if (pq_prep_get(c, name) == q)
		pq_prep_del(c, name);
}
