/* intern: process-wide tables of query texts and short strings. */
#include "intern.h"
#include "trace.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "ring.h"
#include "sqlnorm.h"

#define QUERY_CAP 16384   /* distinct fingerprints per process; then "other" */
#define QUERY_SLOTS 32768 /* open addressing, at most half full */
#define RAW_SLOTS 4096    /* direct-mapped cache of raw texts */
#define RAW_MAX 65536     /* longer raw texts are normalized every time, not cached */
#define STR_CAP 4096
#define STR_SLOTS 8192

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;

static struct dbp_query_ent *queries[QUERY_SLOTS];
static unsigned nqueries;

struct raw_slot {
	uint64_t hash;
	size_t len;
	unsigned flags;
	char *text;
	const struct dbp_query_ent *q;
};
static struct raw_slot raws[RAW_SLOTS];

/* Texts that differ only in their literal values (a program formatting values into its SQL, as
 * psql and pgbench's simple protocol do) miss the raw cache every time. Their shape, the text
 * with digit runs and string contents cut out, finds the entry without normalizing again: two
 * texts of one shape have one token stream but for literal values, hence one fingerprint. */
#define SHAPE_SLOTS 1024
#define SHAPE_MAX 2048 /* longer texts are normalized every time */
struct shape_slot {
	uint64_t hash;
	size_t len;
	unsigned flags;
	char *shape;
	const struct dbp_query_ent *q;
};
static struct shape_slot shapes[SHAPE_SLOTS];

/* Fingerprints folded into "other", so each is counted once whatever the raw cache evicts. */
#define FOLDED_SLOTS 32768
static uint64_t folded[FOLDED_SLOTS];

static struct dbp_str_ent *strs[STR_SLOTS];
static unsigned nstrs;

#define TARGET_CAP 1024
#define TARGET_SLOTS 2048
static struct dbp_target_ent *targets[TARGET_SLOTS];
static unsigned ntargets;

const struct dbp_query_ent dbp_query_none = { .id = 0, .text = "", .summary = "" };

static struct dbp_query_ent other_query = {
	.id = 0x7265687430ull, /* fixed, never a real fingerprint in practice */
	.text = "(other: too many distinct queries)",
	.text_len = sizeof "(other: too many distinct queries)" - 1,
	.summary = "other",
	.summary_len = 5,
};

void dbp_intern_lock(void)
{
	pthread_mutex_lock(&lock);
}

void dbp_intern_unlock(void)
{
	pthread_mutex_unlock(&lock);
}

static char *dup_bytes(const char *s, size_t len)
{
	char *p = malloc(len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = 0;
	}
	return p;
}

/* Finds or adds the entry for a fingerprint; the caller holds the lock. */
static const struct dbp_query_ent *query_add(const struct sqlnorm_info *ni, char *norm,
					     const char *raw, size_t rawlen)
{
	size_t i = ni->fingerprint & (QUERY_SLOTS - 1);
	while (queries[i]) {
		if (queries[i]->id == ni->fingerprint)
			return queries[i];
		i = (i + 1) & (QUERY_SLOTS - 1);
	}
	if (nqueries >= QUERY_CAP) {
		size_t j = ni->fingerprint & (FOLDED_SLOTS - 1), n = 0;
		while (folded[j] && folded[j] != ni->fingerprint && ++n < FOLDED_SLOTS)
			j = (j + 1) & (FOLDED_SLOTS - 1);
		if (n == FOLDED_SLOTS || !folded[j]) { /* new (or the set is full: count anyway) */
			if (n < FOLDED_SLOTS)
				folded[j] = ni->fingerprint;
			dbp_ring_count_drop(DBP_DROP_TEXT_CAP);
		}
		return &other_query;
	}
	struct dbp_query_ent *q = calloc(1, sizeof *q);
	if (!q)
		return &other_query;
	const char *text = norm;
	size_t tlen = ni->len;
	if (dbp_cfg.qtext == DBP_QTEXT_RAW) {
		text = raw;
		tlen = rawlen;
	} else if (dbp_cfg.qtext == DBP_QTEXT_OFF) {
		text = "";
		tlen = 0;
	}
	if (tlen > DBP_TEXT_MAX) {
		tlen = DBP_TEXT_MAX;
		q->flags = DBP_QUERY_TRUNCATED;
	}
	q->id = ni->fingerprint;
	q->txn = (uint8_t)dbp_trace_txn_kind(norm, ni->len);
	q->text = dup_bytes(text, tlen);
	q->text_len = (uint32_t)tlen;
	q->summary = dup_bytes(ni->summary, strlen(ni->summary));
	q->summary_len = (uint16_t)strlen(ni->summary);
	if (!q->text || !q->summary) {
		free((void *)q->text);
		free((void *)q->summary);
		free(q);
		return &other_query;
	}
	queries[i] = q;
	nqueries++;
	return q;
}

static int shape_ident(unsigned char c)
{
	return c == '_' || c >= 0x80 || (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The shape of raw into out (SHAPE_MAX bytes): its length, or -1 when the text holds anything
 * whose lexing depends on more than this scan knows (comments, escapes, dollar quotes and
 * parameters, brackets): those are normalized every time, which is always right. */
static long shape_of(const char *raw, size_t len, char *out)
{
	if (len > SHAPE_MAX)
		return -1;
	size_t n = 0;
	for (size_t i = 0; i < len;) {
		char c = raw[i];
		switch (c) {
		case '$':
		case '\\':
		case '#':
		case '[':
		case 0:
			return -1;
		case '-':
		case '/':
			if (i + 1 < len && raw[i + 1] == (c == '-' ? '-' : '*'))
				return -1;
			out[n++] = c;
			i++;
			break;
		case '\'': /* a string: its content goes, '' inside included */
			out[n++] = '\'';
			for (i++;; i++) {
				if (i >= len)
					return -1;
				if (raw[i] == '\\')
					return -1;
				if (raw[i] == '\'') {
					if (i + 1 < len && raw[i + 1] == '\'') {
						i++;
						continue;
					}
					break;
				}
			}
			out[n++] = '\'';
			i++;
			break;
		case '"':
		case '`': /* a quoted name: kept whole */
			out[n++] = c;
			for (i++;; i++) {
				if (i >= len)
					return -1;
				out[n++] = raw[i];
				if (raw[i] == c)
					break;
			}
			i++;
			break;
		default: {
			/* A number's digits, whatever they are; but not those of a name (t1), of a
			 * numbered placeholder (?1, :1, which the normalizer keeps), or of a token
			 * the digits only begin (0x1F, 1e5, 0b1). */
			size_t j = i;
			while (j < len && raw[j] >= '0' && raw[j] <= '9')
				j++;
			unsigned char prev = i ? (unsigned char)raw[i - 1] : ' ';
			if (j > i && !shape_ident(prev) && prev != '?' && prev != ':' &&
			    prev != '@' && (j == len || !shape_ident((unsigned char)raw[j]))) {
				out[n++] = '0';
				i = j;
			} else if (j > i) {
				memcpy(out + n, raw + i, j - i);
				n += j - i;
				i = j;
			} else {
				out[n++] = c;
				i++;
			}
		}
		}
	}
	return (long)n;
}

const struct dbp_query_ent *dbp_query_get(const char *raw, size_t len)
{
	return dbp_query_get_ex(raw, len, 0);
}

const struct dbp_query_ent *dbp_query_get_ex(const char *raw, size_t len, unsigned flags)
{
	uint64_t h = sqlnorm_hash(raw, len) ^ flags;
	struct raw_slot *rs = &raws[h & (RAW_SLOTS - 1)];
	const struct dbp_query_ent *q;

	pthread_mutex_lock(&lock);
	if (rs->text && rs->hash == h && rs->len == len && rs->flags == flags &&
	    !memcmp(rs->text, raw, len)) {
		q = rs->q;
		pthread_mutex_unlock(&lock);
		return q;
	}
	pthread_mutex_unlock(&lock);

	char shape[SHAPE_MAX];
	long slen = shape_of(raw, len, shape);
	uint64_t sh = slen >= 0 ? sqlnorm_hash(shape, (size_t)slen) ^ flags : 0;
	struct shape_slot *ss = &shapes[sh & (SHAPE_SLOTS - 1)];
	if (slen >= 0) {
		pthread_mutex_lock(&lock);
		if (ss->shape && ss->hash == sh && ss->len == (size_t)slen && ss->flags == flags &&
		    !memcmp(ss->shape, shape, (size_t)slen)) {
			q = ss->q;
			pthread_mutex_unlock(&lock);
			return q;
		}
		pthread_mutex_unlock(&lock);
	}

	/* Normalize outside the lock: it is the slow part, and idempotent. */
	struct sqlnorm_info ni;
	char *norm = sqlnorm_ex(raw, len, flags, &ni);
	if (!norm)
		return &other_query;

	pthread_mutex_lock(&lock);
	q = query_add(&ni, norm, raw, len);
	if (slen >= 0) {
		char *copy = dup_bytes(shape, (size_t)slen);
		if (copy) {
			free(ss->shape);
			*ss = (struct shape_slot){ .hash = sh,
						   .len = (size_t)slen,
						   .flags = flags,
						   .shape = copy,
						   .q = q };
		}
	}
	/* Folded texts are cached too: each is normalized, and counted, once. */
	if (len <= RAW_MAX) {
		char *copy = dup_bytes(raw, len);
		if (copy) {
			free(rs->text);
			rs->text = copy;
			rs->hash = h;
			rs->len = len;
			rs->flags = flags;
			rs->q = q;
		}
	}
	pthread_mutex_unlock(&lock);
	free(norm);
	return q;
}

const struct dbp_str_ent *dbp_str_get(enum dbp_string_kind kind, const char *s, size_t len)
{
	if (len > DBP_STRING_MAX)
		len = DBP_STRING_MAX;
	/* Mixing the kind in keeps "1146" the error apart from "1146" the database. */
	uint64_t id = sqlnorm_hash(s, len) ^ ((uint64_t)kind * 0x9e3779b97f4a7c15ull);
	if (!id)
		id = 1;
	const struct dbp_str_ent *found = NULL;

	pthread_mutex_lock(&lock);
	size_t i = id & (STR_SLOTS - 1);
	while (strs[i]) {
		if (strs[i]->id == id && strs[i]->kind == kind && strs[i]->len == len &&
		    !memcmp(strs[i]->str, s, len)) {
			found = strs[i];
			break;
		}
		i = (i + 1) & (STR_SLOTS - 1);
	}
	if (!found && nstrs >= STR_CAP) {
		/* Full: every new string of a kind shares one "(other)" entry, never NULL (an error
		 * must still read as an error). */
		static struct dbp_str_ent overflow[8];
		struct dbp_str_ent *o = &overflow[kind & 7];
		if (!o->str) {
			o->id = 0x6f7468657200ull + (uint64_t)kind; /* "other" */
			o->kind = (uint16_t)kind;
			o->str = "(other)";
			o->len = 7;
		}
		found = o;
	}
	if (!found && nstrs < STR_CAP) {
		struct dbp_str_ent *e = calloc(1, sizeof *e);
		char *copy = dup_bytes(s, len);
		if (e && copy) {
			e->id = id;
			e->kind = (uint16_t)kind;
			e->len = (uint16_t)len;
			e->str = copy;
			strs[i] = e;
			nstrs++;
			found = e;
		} else {
			free(e);
			free(copy);
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

const struct dbp_target_ent *dbp_target_get(const struct dbp_str_ent *ns,
					    const struct dbp_str_ent *server, uint16_t port)
{
	uint64_t h =
		((ns ? ns->id : 0) * 31 ^ (server ? server->id : 0)) * 0x9e3779b97f4a7c15ull ^ port;
	const struct dbp_target_ent *found = NULL;

	pthread_mutex_lock(&lock);
	size_t i = (h >> 20) & (TARGET_SLOTS - 1);
	while (targets[i]) {
		if (targets[i]->ns == ns && targets[i]->server == server &&
		    targets[i]->port == port) {
			found = targets[i];
			break;
		}
		i = (i + 1) & (TARGET_SLOTS - 1);
	}
	if (!found && ntargets < TARGET_CAP) {
		struct dbp_target_ent *t = calloc(1, sizeof *t);
		if (t) {
			t->ns = ns;
			t->server = server;
			t->port = port;
			targets[i] = t;
			ntargets++;
			found = t;
		}
	}
	pthread_mutex_unlock(&lock);
	return found;
}

const struct dbp_str_ent *dbp_error_get(const char *s, size_t len)
{
	static struct dbp_str_ent fallback = {
		.id = 0x6572726f72ull, .kind = DBP_STR_ERROR_TYPE, .len = 5, .str = "error"
	};
	const struct dbp_str_ent *e = dbp_str_get(DBP_STR_ERROR_TYPE, s, len);
	return e ? e : &fallback;
}
