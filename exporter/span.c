/* span: reference-counted spans and resources, OTEL_RESOURCE_ATTRIBUTES, code locations. */
#include "span.h"

#include <stdlib.h>
#include <string.h>

#include "store.h"
#include "symbolize.h"

/* A span and the room for its copied strings; callers only see the span. */
struct span_alloc {
	struct dbp_span sp; /* first: a span pointer is the allocation's */
	size_t cap, used;   /* of room */
	char room[];
};

struct dbp_span *dbp_span_new(struct dbp_resource *res, size_t extra)
{
	struct span_alloc *a = malloc(sizeof *a + extra);
	if (!a)
		return NULL;
	memset(&a->sp, 0, sizeof a->sp);
	a->cap = extra;
	a->used = 0;
	a->sp.refs = 1;
	a->sp.kind = DBP_SPAN_CLIENT;
	if (res)
		dbp_resource_ref(res);
	a->sp.res = res;
	return &a->sp;
}

const char *dbp_span_str(struct dbp_span *sp, const char *s, size_t len)
{
	struct span_alloc *a = (struct span_alloc *)sp;
	if (a->cap - a->used < len + 1)
		return NULL; /* the caller counted wrong: absent rather than overflowing */
	char *p = a->room + a->used;
	memcpy(p, s, len);
	p[len] = 0;
	a->used += len + 1;
	return p;
}

void dbp_span_ref(struct dbp_span *sp)
{
	__atomic_add_fetch(&sp->refs, 1, __ATOMIC_RELAXED);
}

void dbp_span_unref(struct dbp_span *sp)
{
	if (!sp || __atomic_sub_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL))
		return;
	if (sp->res)
		dbp_resource_unref(sp->res);
	free(sp);
}

void dbp_span_unref_all(struct dbp_span *const *v, size_t n)
{
	struct dbp_resource *res = NULL;
	int owed = 0;
	for (size_t i = 0; i < n; i++) {
		struct dbp_span *sp = v[i];
		if (!sp || __atomic_sub_fetch(&sp->refs, 1, __ATOMIC_ACQ_REL))
			continue;
		if (sp->res != res) {
			if (res && __atomic_sub_fetch(&res->refs, owed, __ATOMIC_ACQ_REL) == 0)
				free(res);
			res = sp->res;
			owed = 0;
		}
		owed++;
		free(sp);
	}
	if (res && __atomic_sub_fetch(&res->refs, owed, __ATOMIC_ACQ_REL) == 0)
		free(res);
}

void dbp_resource_ref(struct dbp_resource *r)
{
	__atomic_add_fetch(&r->refs, 1, __ATOMIC_RELAXED);
}

void dbp_resource_unref(struct dbp_resource *r)
{
	if (r && !__atomic_sub_fetch(&r->refs, 1, __ATOMIC_ACQ_REL))
		free(r);
}

/* ---- "k1=v1,k2=v2" ---- */

/* Strict UTF-8 (no overlongs, no surrogates, nothing past U+10FFFF, no NUL): OTLP strings must
 * be valid UTF-8 and a receiver may refuse the whole request over one bad attribute. */
static int utf8_valid(const unsigned char *p, size_t n)
{
	size_t i = 0;
	while (i < n) {
		unsigned c = p[i];
		if (c == 0)
			return 0;
		if (c < 0x80) {
			i++;
			continue;
		}
		size_t k;
		unsigned min;
		uint32_t cp;
		if (c >= 0xc2 && c <= 0xdf)
			k = 1, min = 0x80, cp = c & 0x1f;
		else if (c >= 0xe0 && c <= 0xef)
			k = 2, min = 0x800, cp = c & 0x0f;
		else if (c >= 0xf0 && c <= 0xf4)
			k = 3, min = 0x10000, cp = c & 0x07;
		else
			return 0;
		if (n - i <= k)
			return 0;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return 0;
			cp = cp << 6 | (p[i + j] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return 0;
		i += k + 1;
	}
	return 1;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static int is_space(char c)
{
	return c == ' ' || c == '\t';
}

int dbp_kv_parse(const char *s, size_t len,
		 int (*fn)(const char *key, size_t klen, const char *value, size_t vlen, void *arg),
		 void *arg)
{
	if (!s)
		return 0;
	char *scratch = malloc(len + 1);
	if (!scratch)
		return -1;
	int bad = 0;
	size_t i = 0;
	while (i <= len) {
		size_t end = i;
		while (end < len && s[end] != ',')
			end++;
		const char *e = s + i, *eend = s + end;
		i = end + 1;
		while (e < eend && is_space(*e))
			e++;
		while (eend > e && is_space(eend[-1]))
			eend--;
		if (e == eend)
			continue; /* "a=1,,b=2", a trailing comma: nothing there, nothing wrong */
		const char *eq = memchr(e, '=', (size_t)(eend - e));
		if (!eq) {
			bad++;
			continue;
		}
		const char *k = e, *kend = eq, *v = eq + 1, *vend = eend;
		while (kend > k && is_space(kend[-1]))
			kend--;
		while (v < vend && is_space(*v))
			v++;
		if (k == kend || !utf8_valid((const unsigned char *)k, (size_t)(kend - k))) {
			bad++;
			continue;
		}
		/* Values are percent-encoded (the spec's W3C Baggage value encoding). */
		size_t n = 0;
		int ok = 1;
		for (const char *p = v; p < vend; p++) {
			if (*p != '%') {
				scratch[n++] = *p;
				continue;
			}
			int hi = vend - p >= 3 ? hexval(p[1]) : -1;
			int lo = hi >= 0 ? hexval(p[2]) : -1;
			if (lo < 0) { /* "%", "%4", "%zz": not an escape */
				ok = 0;
				break;
			}
			scratch[n++] = (char)(hi << 4 | lo);
			p += 2;
		}
		if (!ok || !utf8_valid((const unsigned char *)scratch, n)) {
			bad++;
			continue;
		}
		scratch[n] = 0;
		if (fn(k, (size_t)(kend - k), scratch, n, arg) < 0) {
			free(scratch);
			return -1;
		}
	}
	free(scratch);
	return bad;
}

/* ---- resources ---- */

struct res_fill {
	struct dbp_resource *r;
	char *next; /* the string room's free part */
};

static char *put_str(char **next, const char *s, size_t n)
{
	char *p = *next;
	memcpy(p, s, n);
	p[n] = 0;
	*next += n + 1;
	return p;
}

static int res_attr(const char *key, size_t klen, const char *value, size_t vlen, void *arg)
{
	struct res_fill *f = arg;
	struct dbp_resource *r = f->r;
	const char *v = put_str(&f->next, value, vlen);
	/* A key given twice: the last one counts, as for any later setting. */
	for (size_t i = 0; i < r->nattrs; i++) {
		if (strlen(r->attrs[i].key) == klen && !memcmp(r->attrs[i].key, key, klen)) {
			r->attrs[i].value = v;
			return 0;
		}
	}
	r->attrs[r->nattrs].key = put_str(&f->next, key, klen);
	r->attrs[r->nattrs].value = v;
	r->nattrs++;
	return 0;
}

struct dbp_resource *dbp_resource_new(const char *service_name, const char *exe_path, uint32_t pid,
				      const char *host, const char *tracestate,
				      const char *attrs_env, size_t attrs_len)
{
	if (!service_name)
		service_name = "";
	if (!exe_path)
		exe_path = "";
	if (!host)
		host = "";
	if (tracestate && !*tracestate)
		tracestate = NULL;
	if (!attrs_env)
		attrs_len = 0;
	const char *exe = strrchr(exe_path, '/');
	exe = exe ? exe + 1 : exe_path;
	size_t maxn = attrs_len ? 1 : 0;
	for (size_t i = 0; i < attrs_len; i++)
		maxn += attrs_env[i] == ',';
	size_t sn = strlen(service_name), en = strlen(exe), hn = strlen(host);
	size_t tn = tracestate ? strlen(tracestate) : 0;
	/* Every entry's key and value fit in the text they came from, plus two NULs. */
	size_t room = sn + en + hn + tn + 4 + attrs_len + 2 * maxn;
	struct dbp_resource *r = malloc(sizeof *r + maxn * sizeof(struct dbp_kv) + room);
	if (!r)
		return NULL;
	memset(r, 0, sizeof *r);
	r->refs = 1;
	r->pid = pid;
	r->attrs = (struct dbp_kv *)(r + 1);
	struct res_fill f = { .r = r, .next = (char *)(r->attrs + maxn) };
	r->service_name = put_str(&f.next, service_name, sn);
	r->exe = put_str(&f.next, exe, en);
	r->host = put_str(&f.next, host, hn);
	r->tracestate = tracestate ? put_str(&f.next, tracestate, tn) : NULL;
	/* Malformed entries are skipped (the agent warned the process about them already). */
	if (dbp_kv_parse(attrs_env, attrs_len, res_attr, &f) < 0) {
		free(r);
		return NULL;
	}
	return r;
}

/* ---- code locations ---- */

int dbp_span_code(const struct dbp_span *sp, struct dbp_sym *out)
{
	if (!sp->stack || !sp->stack->nframes)
		return -1;
	const struct dbp_callframe *f = &sp->stack->frames[0];
	/* "(other)", the store's module past its cap, names nothing; nor does a relative path
	 * (the symbolizer never opens one: it was relative to the program's directory). */
	if (!f->obj || !f->obj->path || f->obj->path[0] != '/')
		return -1;
	if (dbp_sym_lookup(sp->sym, f->obj->path, f->obj->build_id, f->obj->build_id_len, f->offset,
			   DBP_SYM_RETURN_ADDRESS, out) < 0)
		return -1;
	return 0;
}

void dbp_hex(const uint8_t *p, size_t n, char *out)
{
	static const char digits[] = "0123456789abcdef";
	for (size_t i = 0; i < n; i++) {
		out[2 * i] = digits[p[i] >> 4];
		out[2 * i + 1] = digits[p[i] & 15];
	}
	out[2 * n] = 0;
}

/* ---- attributes ---- */

static void attr_s(struct dbp_span_attr *out, size_t *n, const char *key, const char *s)
{
	if (s && *s)
		out[(*n)++] = (struct dbp_span_attr){ .key = key, .s = s };
}

static void attr_i(struct dbp_span_attr *out, size_t *n, const char *key, int64_t i)
{
	out[(*n)++] = (struct dbp_span_attr){ .key = key, .i = i };
}

size_t dbp_span_attrs(const struct dbp_span *sp, const struct dbp_sym *code,
		      struct dbp_span_attr *out)
{
	size_t n = 0;
	attr_s(out, &n, "db.system.name", sp->system_name);
	attr_s(out, &n, "db.namespace", sp->ns);
	attr_s(out, &n, "db.query.text", sp->query_text);
	attr_s(out, &n, "db.query.summary", sp->summary);
	if (sp->server && *sp->server) {
		attr_s(out, &n, "server.address", sp->server);
		if (sp->server_port)
			attr_i(out, &n, "server.port", sp->server_port);
	}
	if (sp->error) {
		const char *et = sp->error_type && *sp->error_type ? sp->error_type : "_OTHER";
		attr_s(out, &n, "error.type", et);
		/* The agent's fallback "error" is no code the database gave: it stays out of
		 * db.response.status_code (SQLSTATE, MySQL error numbers, SQLite result codes). */
		if (strcmp(et, "error") && strcmp(et, "_OTHER"))
			attr_s(out, &n, "db.response.status_code", et);
	}
	if (sp->what == DBP_SPAN_CALL)
		attr_i(out, &n, "db.response.returned_rows", (int64_t)sp->rows);
	if (sp->what == DBP_SPAN_TXN)
		attr_s(out, &n, "db.transaction.outcome", sp->rollback ? "rollback" : "commit");
	if (code) {
		attr_s(out, &n, "code.function.name", code->function);
		attr_s(out, &n, "code.file.path", code->file);
		if (code->line)
			attr_i(out, &n, "code.line.number", code->line);
	}
	return n;
}
