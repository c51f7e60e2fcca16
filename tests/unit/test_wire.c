/* test_wire: agent frames (agent/frame.c) decoded by the exporter (exporter/decode.c). */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "decode.h"
#include "frame.h"

/* ---- a recorder for what the decoder hands out ---- */

#define MAX_GOT 8192 /* a 64 KiB frame holds at most 8192 records of 8 bytes */

struct got {
	uint16_t type;
	const void *rec;
	struct dbp_str_view a, b; /* exe/service, text/summary, string, a SOCKET's errors,
				   * path/build-id, a STACK's frames */
};

struct seen {
	const char *base; /* the frame, to check every view stays inside its record */
	size_t len;
	int refuse_at; /* index of the callback that returns -1, or -1 */
	size_t n;
	struct got *g;
};

/* [p, p + n) lies inside [lo, hi). */
static int inside(const void *p, size_t n, const void *lo, const void *hi)
{
	const char *c = p;
	return c >= (const char *)lo && c <= (const char *)hi &&
	       n <= (size_t)((const char *)hi - c);
}

/* Every record handed out lies in the frame, is 8-aligned, and its views lie in its tail. */
static int note(struct seen *s, uint16_t type, const void *rec, size_t fixed, struct dbp_str_view a,
		struct dbp_str_view b)
{
	const struct dbp_rec_hdr *h = rec;

	cr_assert_eq((uintptr_t)rec % 8, 0, "record not 8-aligned");
	cr_assert(inside(rec, sizeof *h, s->base, s->base + s->len), "record outside the frame");
	cr_assert(inside(rec, h->len, s->base, s->base + s->len), "record runs past the frame");
	cr_assert_eq(h->type, type);
	cr_assert_geq(h->len, fixed);
	const char *tail = (const char *)rec + fixed, *end = (const char *)rec + h->len;
	if (a.len)
		cr_assert(inside(a.p, a.len, tail, end), "view runs past its record");
	if (b.len)
		cr_assert(inside(b.p, b.len, tail, end), "view runs past its record");
	cr_assert_lt(s->n, MAX_GOT);
	s->g[s->n] = (struct got){ type, rec, a, b };
	return (int)s->n++ == s->refuse_at ? -1 : 0;
}

static const struct dbp_str_view none = { NULL, 0 };

static int on_hello(void *ctx, const struct dbp_hello *h, struct dbp_str_view exe,
		    struct dbp_str_view service)
{
	return note(ctx, DBP_REC_HELLO, h, sizeof *h, exe, service);
}

static int on_query(void *ctx, const struct dbp_query *q, struct dbp_str_view text,
		    struct dbp_str_view summary)
{
	return note(ctx, DBP_REC_QUERY, q, sizeof *q, text, summary);
}

static int on_string(void *ctx, const struct dbp_string *s, struct dbp_str_view str)
{
	return note(ctx, DBP_REC_STRING, s, sizeof *s, str, none);
}

static int on_call(void *ctx, const struct dbp_call *c)
{
	return note(ctx, DBP_REC_CALL, c, sizeof *c, none, none);
}

static int on_drops(void *ctx, const struct dbp_drops *d)
{
	return note(ctx, DBP_REC_DROPS, d, sizeof *d, none, none);
}

static int on_sock(void *ctx, const struct dbp_sock *r, const struct dbp_sock_err *errs)
{
	cr_assert_eq((const void *)errs, (const void *)(r + 1), "errors not right after SOCKET");
	struct dbp_str_view e = { (const char *)errs, r->nerr * sizeof *errs };
	return note(ctx, DBP_REC_SOCKET, r, sizeof *r, e, none);
}

static int on_sockwrite(void *ctx, const struct dbp_sockwrite *w)
{
	return note(ctx, DBP_REC_SOCKWRITE, w, sizeof *w, none, none);
}

static int on_module(void *ctx, const struct dbp_module *m, struct dbp_str_view path,
		     struct dbp_str_view build_id)
{
	return note(ctx, DBP_REC_MODULE, m, sizeof *m, path, build_id);
}

static int on_stack(void *ctx, const struct dbp_stack *r, const struct dbp_wire_frame *frames)
{
	cr_assert_eq((const void *)frames, (const void *)(r + 1), "frames not right after STACK");
	struct dbp_str_view f = { (const char *)frames, r->nframes * sizeof *frames };
	return note(ctx, DBP_REC_STACK, r, sizeof *r, f, none);
}

static const struct dbp_decode_ops ops = {
	.hello = on_hello,
	.query = on_query,
	.string = on_string,
	.call = on_call,
	.drops = on_drops,
	.sock = on_sock,
	.sockwrite = on_sockwrite,
	.module = on_module,
	.stack = on_stack,
};

static void seen_init(struct seen *s, const void *buf, size_t len)
{
	if (!s->g) {
		s->g = calloc(MAX_GOT, sizeof *s->g);
		cr_assert_not_null(s->g);
	}
	s->base = buf;
	s->len = len;
	s->refuse_at = -1;
	s->n = 0;
}

static void seen_free(struct seen *s)
{
	free(s->g);
	s->g = NULL;
}

static int decode(const void *buf, size_t len, struct seen *s, const char **why)
{
	seen_init(s, buf, len);
	return dbp_decode_frame(buf, len, &ops, s, why);
}

/* A heap copy of exactly len bytes (malloc is 16-aligned), so ASan sees any read past len. */
static void *exact_copy(const void *p, size_t len)
{
	void *c = malloc(len ? len : 1);
	cr_assert_not_null(c);
	memcpy(c, p, len);
	return c;
}

/* Decodes a copy of buf[0..len) and expects a rejection with this reason and no callback. */
static void expect_reject(const void *buf, size_t len, const char *reason)
{
	struct seen s = { 0 };
	const char *why = NULL;
	void *c = exact_copy(buf, len);

	cr_assert_eq(decode(c, len, &s, &why), -1, "accepted; expected: %s", reason);
	cr_assert_not_null(why);
	cr_assert_str_eq(why, reason);
	cr_assert_eq(s.n, 0, "a rejected frame reached a callback");
	free(c);
	seen_free(&s);
}

/* ---- a sample frame: one record of each type, strings of odd lengths ---- */

static const char EXE[] = "/usr/bin/python3.11";           /* 19 bytes */
static const char SVC[] = "checkout";                      /* 8 bytes */
static const char TEXT[] = "SELECT * FROM t WHERE id = ?"; /* 28 bytes */
static const char SUMMARY[] = "SELECT t";                  /* 8 bytes */
static const char NS[] = "/var/lib/app/main.db";           /* 20 bytes */
static const char ERR[] = "SQLITE_CONSTRAINT_UNIQUE";      /* 24 bytes */
static const char PEER[] = "[2001:db8::1]:5432";           /* 18 bytes */

/* A module: a 39-byte path and a 20-byte build-id. */
static const char MODPATH[] = "/usr/lib/x86_64-linux-gnu/libpq.so.5.15";
static const uint8_t BUILD_ID[20] = { 0xde, 0xad, 0xbe, 0xef, 1,  2,  3,  4,  5,  6,
				      7,    8,    9,    10,   11, 12, 13, 14, 15, 0xff };

#define QID 0xfeedfacecafebeefull
#define NSID 0x8000000000000007ull
#define ERRID 8ull
#define PEERID 0xffffffffffffffffull
#define MODID 0x8000000000000001ull
#define STACKID 0xfffffffffffffffeull
#define NREC 12
#define LAST (NREC - 1) /* DROPS */

/* Three frames: two in MODID, one in a module id the decoder never resolves. */
static const struct dbp_wire_frame FRAMES[3] = {
	{ .module_id = MODID, .offset = 0x1234 },
	{ .module_id = MODID, .offset = 0xffffffffffffffffull },
	{ .module_id = 42, .offset = 0 },
};

static const uint64_t DROPS[DBP_DROP_REASON_COUNT] = { 1, 0xffffffffffffffffull,
						       3, 0x123456789abcdefull,
						       0, 6 };

/* 5 calls: 2 in the first bucket, 1 in bucket 9, 2 past the last bound; 2 failed. */
static struct dbp_sock sock_a(void)
{
	struct dbp_sock r = {
		.peer_id = PEERID,
		.calls = 5,
		.bytes = 0x100000000ull,
		.sum_ns = 5000000123ull,
		.direction = DBP_DIR_INBOUND,
		.db_system = DBP_DB_POSTGRESQL,
		.nerr = 2,
	};
	r.buckets[0] = 2;
	r.buckets[9] = 1;
	r.buckets[DBP_SOCK_BUCKETS - 1] = 2;
	return r;
}

static const struct dbp_sock_err SOCK_ERRS[2] = {
	{ .err_no = 32 /* EPIPE */, .count = 1 },
	{ .err_no = 0xffffffffu, .count = 1 },
};

static struct dbp_sockwrite sockwrite_a(void)
{
	struct dbp_sockwrite w = {
		.peer_id = PEERID,
		.start_unix_ns = 1700000000987654321ull,
		.duration_ns = 0xffffffffffffffffull,
		.bytes = 0,
		.err_no = 11, /* EAGAIN */
		.tid = 0xfffffffeu,
		.direction = DBP_DIR_OUTBOUND,
		.db_system = DBP_DB_NONE,
	};
	return w;
}

static struct dbp_call call_a(void)
{
	struct dbp_call c = {
		.query_id = QID,
		.namespace_id = NSID,
		.error_id = 0,
		.start_unix_ns = 1700000000123456789ull,
		.duration_ns = 1234567,
		.rows_returned = 42,
		.rows_affected = 0,
		.tid = 4243,
		.db_system = DBP_DB_SQLITE,
	};
	return c;
}

static struct dbp_call call_b(void)
{
	struct dbp_call c = {
		.query_id = QID,
		.namespace_id = 0,
		.error_id = ERRID,
		.start_unix_ns = 0xfffffffffffffff0ull,
		.duration_ns = 0xffffffffffffffffull,
		.rows_returned = 0,
		.rows_affected = 0x100000000ull,
		.tid = 0xffffffffu,
		.db_system = DBP_DB_MARIADB,
		.server_id = 0xfedcba9876543210ull,
		.server_port = 65535,
		.stack_id = STACKID,
		.trace_id = { 0x4b, 0xf9, 0x2f, 0x35, 0x77, 0xb3, 0x4d, 0xa6, 0xa3, 0xce, 0x92, 0x9d,
			      0x0e, 0x0e, 0x47, 0x36 },
		.span_id = { 0, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7 },
		.parent_span_id = { 1, 2, 3, 4, 5, 6, 7, 0xff },
	};
	return c;
}

/* Builds the sample frame; ends[k] is the frame length after k records (ends[0] = header). */
static void build_sample(struct dbp_frame *f, uint32_t ends[NREC + 1])
{
	struct dbp_call a = call_a(), b = call_b();
	int k = 0;

	dbp_frame_reset(f);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_hello(f, 4242, 1, 1700000000000000001ull, EXE, strlen(EXE), SVC,
				     strlen(SVC)),
		     0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_query(f, QID, DBP_QUERY_TRUNCATED, TEXT, strlen(TEXT), SUMMARY,
				     strlen(SUMMARY)),
		     0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_string(f, NSID, DBP_STR_NAMESPACE, NS, strlen(NS)), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_string(f, ERRID, DBP_STR_ERROR_TYPE, ERR, strlen(ERR)), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_call(f, &a, 0), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_call(f, &b, DBP_CALL_ERROR | DBP_CALL_SLOW), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_string(f, PEERID, DBP_STR_PEER, PEER, strlen(PEER)), 0);
	ends[k++] = f->len;
	struct dbp_sock so = sock_a();
	cr_assert_eq(dbp_frame_sock(f, &so, SOCK_ERRS), 0);
	ends[k++] = f->len;
	struct dbp_sockwrite w = sockwrite_a();
	cr_assert_eq(dbp_frame_sockwrite(f, &w), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_module(f, MODID, 0x7f0000000000ull, MODPATH, strlen(MODPATH),
				      BUILD_ID, sizeof BUILD_ID),
		     0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_stack(f, STACKID, FRAMES, 3), 0);
	ends[k++] = f->len;
	cr_assert_eq(dbp_frame_drops(f, DROPS), 0);
	ends[k++] = f->len;
}

static void view_is(struct dbp_str_view v, const char *want)
{
	cr_assert_eq(v.len, strlen(want));
	cr_assert_eq(memcmp(v.p, want, v.len), 0, "view differs from %s", want);
}

static void call_is(const struct dbp_call *got, const struct dbp_call *want, uint16_t flags)
{
	cr_assert_eq(got->h.type, DBP_REC_CALL);
	cr_assert_eq(got->h.flags, flags);
	cr_assert_eq(got->h.len, sizeof(struct dbp_call));
	cr_assert_eq(got->query_id, want->query_id);
	cr_assert_eq(got->namespace_id, want->namespace_id);
	cr_assert_eq(got->error_id, want->error_id);
	cr_assert_eq(got->start_unix_ns, want->start_unix_ns);
	cr_assert_eq(got->duration_ns, want->duration_ns);
	cr_assert_eq(got->rows_returned, want->rows_returned);
	cr_assert_eq(got->rows_affected, want->rows_affected);
	cr_assert_eq(got->tid, want->tid);
	cr_assert_eq(got->db_system, want->db_system);
	cr_assert_eq(got->server_id, want->server_id);
	cr_assert_eq(got->server_port, want->server_port);
	cr_assert_eq(got->write_bytes, want->write_bytes);
	cr_assert_eq(got->write_ns, want->write_ns);
	cr_assert_eq(got->stack_id, want->stack_id);
	cr_assert_eq(memcmp(got->trace_id, want->trace_id, 16), 0);
	cr_assert_eq(memcmp(got->span_id, want->span_id, 8), 0);
	cr_assert_eq(memcmp(got->parent_span_id, want->parent_span_id, 8), 0);
	cr_assert_eq(got->reserved, 0);
}

/* The first `upto` records of the sample, as decoded. */
static void check_sample(const struct seen *s, size_t upto)
{
	struct dbp_call a = call_a(), b = call_b();

	cr_assert_eq(s->n, upto);
	if (upto > 0) {
		const struct dbp_hello *h = s->g[0].rec;
		cr_assert_eq(s->g[0].type, DBP_REC_HELLO);
		cr_assert_eq(h->h.flags, 0);
		cr_assert_eq(h->h.len, dbp_pad8(sizeof *h + 19 + 8));
		cr_assert_eq(h->h.len, 64);
		cr_assert_eq(h->pid, 4242);
		cr_assert_eq(h->ppid, 1);
		cr_assert_eq(h->start_unix_ns, 1700000000000000001ull);
		cr_assert_eq(h->exe_len, 19);
		cr_assert_eq(h->service_len, 8);
		cr_assert_eq(h->tracestate_len, 0);
		cr_assert_eq(h->resource_len, 0);
		view_is(s->g[0].a, EXE);
		view_is(s->g[0].b, SVC);
	}
	if (upto > 1) {
		const struct dbp_query *q = s->g[1].rec;
		cr_assert_eq(s->g[1].type, DBP_REC_QUERY);
		cr_assert_eq(q->h.flags, DBP_QUERY_TRUNCATED);
		cr_assert_eq(q->h.len, 64); /* 24 + 28 + 8 = 60, padded */
		cr_assert_eq(q->id, QID);
		cr_assert_eq(q->text_len, 28);
		cr_assert_eq(q->summary_len, 8);
		cr_assert_eq(q->reserved, 0);
		view_is(s->g[1].a, TEXT);
		view_is(s->g[1].b, SUMMARY);
	}
	if (upto > 2) {
		const struct dbp_string *r = s->g[2].rec;
		cr_assert_eq(s->g[2].type, DBP_REC_STRING);
		cr_assert_eq(r->h.flags, 0);
		cr_assert_eq(r->h.len, 48); /* 24 + 20 = 44, padded */
		cr_assert_eq(r->id, NSID);
		cr_assert_eq(r->kind, DBP_STR_NAMESPACE);
		cr_assert_eq(r->len, 20);
		cr_assert_eq(r->reserved, 0);
		view_is(s->g[2].a, NS);
	}
	if (upto > 3) {
		const struct dbp_string *r = s->g[3].rec;
		cr_assert_eq(s->g[3].type, DBP_REC_STRING);
		cr_assert_eq(r->h.len, 48); /* 24 + 24, no padding */
		cr_assert_eq(r->id, ERRID);
		cr_assert_eq(r->kind, DBP_STR_ERROR_TYPE);
		cr_assert_eq(r->len, 24);
		view_is(s->g[3].a, ERR);
	}
	if (upto > 4) {
		cr_assert_eq(s->g[4].type, DBP_REC_CALL);
		call_is(s->g[4].rec, &a, 0);
	}
	if (upto > 5) {
		cr_assert_eq(s->g[5].type, DBP_REC_CALL);
		call_is(s->g[5].rec, &b, DBP_CALL_ERROR | DBP_CALL_SLOW);
	}
	if (upto > 6) {
		const struct dbp_string *r = s->g[6].rec;
		cr_assert_eq(s->g[6].type, DBP_REC_STRING);
		cr_assert_eq(r->h.len, 48); /* 24 + 18 = 42, padded */
		cr_assert_eq(r->id, PEERID);
		cr_assert_eq(r->kind, DBP_STR_PEER);
		view_is(s->g[6].a, PEER);
	}
	if (upto > 7) {
		const struct dbp_sock *r = s->g[7].rec;
		struct dbp_sock want = sock_a();
		cr_assert_eq(s->g[7].type, DBP_REC_SOCKET);
		cr_assert_eq(r->h.flags, 0);
		cr_assert_eq(r->h.len, sizeof *r + 2 * sizeof(struct dbp_sock_err));
		cr_assert_eq(r->h.len, 256);
		cr_assert_eq(r->peer_id, PEERID);
		cr_assert_eq(r->calls, want.calls);
		cr_assert_eq(r->bytes, want.bytes);
		cr_assert_eq(r->sum_ns, want.sum_ns);
		for (int i = 0; i < DBP_SOCK_BUCKETS; i++)
			cr_assert_eq(r->buckets[i], want.buckets[i], "bucket %d", i);
		cr_assert_eq(r->direction, DBP_DIR_INBOUND);
		cr_assert_eq(r->db_system, DBP_DB_POSTGRESQL);
		cr_assert_eq(r->nerr, 2);
		cr_assert_eq(s->g[7].a.len, sizeof SOCK_ERRS);
		cr_assert_eq(memcmp(s->g[7].a.p, SOCK_ERRS, sizeof SOCK_ERRS), 0);
	}
	if (upto > 8) {
		const struct dbp_sockwrite *r = s->g[8].rec;
		struct dbp_sockwrite want = sockwrite_a();
		cr_assert_eq(s->g[8].type, DBP_REC_SOCKWRITE);
		cr_assert_eq(r->h.len, sizeof *r);
		cr_assert_eq(r->peer_id, PEERID);
		cr_assert_eq(r->start_unix_ns, want.start_unix_ns);
		cr_assert_eq(r->duration_ns, want.duration_ns);
		cr_assert_eq(r->bytes, 0);
		cr_assert_eq(r->err_no, 11);
		cr_assert_eq(r->tid, want.tid);
		cr_assert_eq(r->direction, DBP_DIR_OUTBOUND);
		cr_assert_eq(r->db_system, DBP_DB_NONE);
	}
	if (upto > 9) {
		const struct dbp_module *m = s->g[9].rec;
		cr_assert_eq(s->g[9].type, DBP_REC_MODULE);
		cr_assert_eq(m->h.flags, 0);
		cr_assert_eq(m->h.len, 96); /* 32 + 39 + 20 = 91, padded */
		cr_assert_eq(m->id, MODID);
		cr_assert_eq(m->base, 0x7f0000000000ull);
		cr_assert_eq(m->path_len, 39);
		cr_assert_eq(m->build_id_len, 20);
		cr_assert_eq(m->reserved, 0);
		view_is(s->g[9].a, MODPATH);
		cr_assert_eq(s->g[9].b.len, sizeof BUILD_ID);
		cr_assert_eq(memcmp(s->g[9].b.p, BUILD_ID, sizeof BUILD_ID), 0);
	}
	if (upto > 10) {
		const struct dbp_stack *r = s->g[10].rec;
		cr_assert_eq(s->g[10].type, DBP_REC_STACK);
		cr_assert_eq(r->h.flags, 0);
		cr_assert_eq(r->h.len, 24 + 3 * 16);
		cr_assert_eq(r->id, STACKID);
		cr_assert_eq(r->nframes, 3);
		cr_assert_eq(s->g[10].a.len, sizeof FRAMES);
		cr_assert_eq(memcmp(s->g[10].a.p, FRAMES, sizeof FRAMES), 0);
	}
	if (upto > 11) {
		const struct dbp_drops *d = s->g[11].rec;
		cr_assert_eq(s->g[11].type, DBP_REC_DROPS);
		cr_assert_eq(d->h.flags, 0);
		cr_assert_eq(d->h.len, sizeof(struct dbp_drops));
		for (int i = 0; i < DBP_DROP_REASON_COUNT; i++)
			cr_assert_eq(d->count[i], DROPS[i], "count[%d]", i);
	}
}

/* Offset of record k of the sample frame. */
static uint32_t rec_off(const uint32_t ends[NREC + 1], int k)
{
	return ends[k];
}

/* ---- round trip ---- */

Test(wire, struct_sizes_are_multiples_of_8)
{
	cr_assert_eq(sizeof(struct dbp_frame_hdr), 8);
	cr_assert_eq(sizeof(struct dbp_rec_hdr), 8);
	cr_assert_eq(sizeof(struct dbp_hello), 32);
	cr_assert_eq(sizeof(struct dbp_query), 24);
	cr_assert_eq(sizeof(struct dbp_string), 24);
	cr_assert_eq(sizeof(struct dbp_call), 136);
	cr_assert_eq(sizeof(struct dbp_drops), 8 + 8 * DBP_DROP_REASON_COUNT);
	cr_assert_eq(sizeof(struct dbp_sock), 224);
	cr_assert_eq(sizeof(struct dbp_sock_err), 16);
	cr_assert_eq(sizeof(struct dbp_sockwrite), 56);
	cr_assert_eq(sizeof(struct dbp_module), 32);
	cr_assert_eq(sizeof(struct dbp_stack), 24);
	cr_assert_eq(sizeof(struct dbp_wire_frame), 16);
}

Test(wire, reset_writes_header_only)
{
	struct dbp_frame f;
	struct dbp_frame_hdr fh;
	struct seen s = { 0 };
	const char *why = "unset";

	memset(&f, 0xa5, sizeof f);
	dbp_frame_reset(&f);
	cr_assert_eq(f.len, 8);
	cr_assert_eq(f.ncalls, 0);
	cr_assert(dbp_frame_empty(&f));
	cr_assert_eq(dbp_frame_room(&f), DBP_FRAME_MAX - 8);
	memcpy(&fh, f.buf, sizeof fh);
	cr_assert_eq(fh.magic, DBP_WIRE_MAGIC);
	cr_assert_eq(fh.version, DBP_WIRE_VERSION);
	cr_assert_eq(fh.flags, 0);
	cr_assert_eq(memcmp(f.buf, "DBP1", 4), 0);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_null(why);
	cr_assert_eq(s.n, 0);
	seen_free(&s);
}

Test(wire, round_trip_every_field)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };
	const char *why = "unset";

	build_sample(&f, ends);
	cr_assert_eq(f.len, 8 + 64 + 64 + 48 + 48 + 136 + 136 + 48 + 256 + 56 + 96 + 72 +
				    sizeof(struct dbp_drops));
	cr_assert_eq(f.ncalls, 2);
	cr_assert_not(dbp_frame_empty(&f));
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_null(why);
	check_sample(&s, NREC);
	/* Views point into the frame itself, in record order. */
	cr_assert_eq((const char *)s.g[0].rec, (const char *)f.buf + rec_off(ends, 0));
	cr_assert_eq((const char *)s.g[LAST].rec, (const char *)f.buf + rec_off(ends, LAST));
	seen_free(&s);
}

Test(wire, padding_is_zeroed)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];

	memset(&f, 0xa5, sizeof f);
	build_sample(&f, ends);
	const char *b = (const char *)f.buf;
	/* hello: 32 + 19 + 8 = 59 -> 5 bytes of padding */
	for (uint32_t i = ends[0] + 59; i < ends[1]; i++)
		cr_assert_eq(b[i], 0, "hello padding byte %u", i);
	/* query: 24 + 28 + 8 = 60 -> 4 bytes */
	for (uint32_t i = ends[1] + 60; i < ends[2]; i++)
		cr_assert_eq(b[i], 0, "query padding byte %u", i);
	/* namespace string: 24 + 20 = 44 -> 4 bytes */
	for (uint32_t i = ends[2] + 44; i < ends[3]; i++)
		cr_assert_eq(b[i], 0, "string padding byte %u", i);
}

Test(wire, empty_strings_round_trip)
{
	static struct dbp_frame f;
	struct seen s = { 0 };
	const char *why;

	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_hello(&f, 0, 0, 0, "", 0, "", 0), 0);
	cr_assert_eq(dbp_frame_query(&f, 0, 0, "", 0, "", 0), 0);
	cr_assert_eq(dbp_frame_string(&f, 0, 0, "", 0), 0);
	cr_assert_eq(f.len, 8 + 32 + 24 + 24);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.g[0].a.len, 0);
	cr_assert_eq(s.g[0].b.len, 0);
	cr_assert_eq(s.g[1].a.len, 0);
	cr_assert_eq(s.g[1].b.len, 0);
	cr_assert_eq(s.g[2].a.len, 0);
	cr_assert_eq(((const struct dbp_query *)s.g[1].rec)->id, 0);
	seen_free(&s);
}

Test(wire, longest_texts_round_trip)
{
	static struct dbp_frame f;
	static char text[DBP_TEXT_MAX + 1], exe[DBP_STRING_MAX + 100], svc[DBP_STRING_MAX];
	struct seen s = { 0 };
	const char *why;

	for (size_t i = 0; i < sizeof text; i++)
		text[i] = (char)('a' + i % 26);
	for (size_t i = 0; i < sizeof exe; i++)
		exe[i] = (char)('A' + i % 26);
	memset(svc, 's', sizeof svc);
	dbp_frame_reset(&f);
	/* exe over DBP_STRING_MAX is cut to it; a service of exactly DBP_STRING_MAX is kept. */
	cr_assert_eq(dbp_frame_hello(&f, 1, 2, 3, exe, sizeof exe, svc, sizeof svc), 0);
	cr_assert_eq(dbp_frame_query(&f, 9, 0, text, DBP_TEXT_MAX, "S", 1), 0);
	/* Over the limit: refused, frame unchanged. */
	uint32_t len = f.len;
	cr_assert_eq(dbp_frame_query(&f, 10, 0, text, DBP_TEXT_MAX + 1, "S", 1), -1);
	cr_assert_eq(dbp_frame_string(&f, 11, DBP_STR_NAMESPACE, svc, DBP_STRING_MAX + 1), -1);
	cr_assert_eq(f.len, len);
	cr_assert_eq(dbp_frame_string(&f, 12, DBP_STR_NAMESPACE, svc, DBP_STRING_MAX), 0);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 3);
	cr_assert_eq(s.g[0].a.len, DBP_STRING_MAX);
	cr_assert_eq(memcmp(s.g[0].a.p, exe, DBP_STRING_MAX), 0);
	cr_assert_eq(s.g[0].b.len, DBP_STRING_MAX);
	cr_assert_eq(memcmp(s.g[0].b.p, svc, DBP_STRING_MAX), 0);
	cr_assert_eq(s.g[1].a.len, DBP_TEXT_MAX);
	cr_assert_eq(memcmp(s.g[1].a.p, text, DBP_TEXT_MAX), 0);
	cr_assert_eq(s.g[1].b.len, 1);
	cr_assert_eq(s.g[1].b.p[0], 'S');
	cr_assert_eq(((const struct dbp_string *)s.g[2].rec)->id, 12);
	cr_assert_eq(s.g[2].a.len, DBP_STRING_MAX);
	seen_free(&s);
}

/* ---- capacity ---- */

Test(wire, full_frame_of_calls)
{
	static struct dbp_frame f;
	struct seen s = { 0 };
	const char *why;
	struct dbp_call c = call_a();
	uint32_t n = 0;

	dbp_frame_reset(&f);
	for (;;) {
		c.rows_returned = n;
		c.tid = n * 7;
		if (dbp_frame_call(&f, &c, (uint16_t)(n & 3)) < 0)
			break;
		n++;
	}
	const uint32_t want = (DBP_FRAME_MAX - 8) / sizeof(struct dbp_call);
	cr_assert_eq(n, want);
	cr_assert_eq(n, 481); /* (65536 - 8) / 136 */
	cr_assert_eq(f.ncalls, n);
	cr_assert_eq(f.len, 8 + n * sizeof(struct dbp_call));
	cr_assert_lt(dbp_frame_room(&f), sizeof(struct dbp_call));
	/* 112 bytes are left: a string of 80 takes 104 of them. */
	cr_assert_eq(dbp_frame_room(&f), 112);
	char eighty[80];
	memset(eighty, 'x', sizeof eighty);
	cr_assert_eq(dbp_frame_string(&f, 9, DBP_STR_NAMESPACE, eighty, sizeof eighty), 0);
	/* 8 bytes are left: no record but a bare header fits. */
	cr_assert_eq(dbp_frame_room(&f), 8);

	/* Every appender refuses, and the frame stays exactly as it was. */
	uint32_t len = f.len;
	uint64_t last[sizeof(struct dbp_call) / 8];
	memcpy(last, (const char *)f.buf + len - sizeof last, sizeof last);
	struct dbp_sock so = sock_a();
	struct dbp_sockwrite w = sockwrite_a();
	cr_assert_eq(dbp_frame_call(&f, &c, 0), -1);
	cr_assert_eq(dbp_frame_drops(&f, DROPS), -1);
	cr_assert_eq(dbp_frame_string(&f, 1, DBP_STR_NAMESPACE, "x", 1), -1);
	cr_assert_eq(dbp_frame_query(&f, 1, 0, "x", 1, "", 0), -1);
	cr_assert_eq(dbp_frame_hello(&f, 1, 1, 1, "", 0, "", 0), -1);
	cr_assert_eq(dbp_frame_sock(&f, &so, SOCK_ERRS), -1);
	cr_assert_eq(dbp_frame_sockwrite(&f, &w), -1);
	cr_assert_eq(dbp_frame_module(&f, 1, 0, "", 0, BUILD_ID, 0), -1);
	cr_assert_eq(dbp_frame_stack(&f, 1, FRAMES, 1), -1);
	cr_assert_eq(f.len, len);
	cr_assert_eq(f.ncalls, n);
	cr_assert_eq(memcmp(last, (const char *)f.buf + len - sizeof last, sizeof last), 0);

	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, n + 1);
	for (uint32_t i = 0; i < n; i++) {
		const struct dbp_call *g = s.g[i].rec;
		cr_assert_eq(g->rows_returned, i);
		cr_assert_eq(g->tid, i * 7);
		cr_assert_eq(g->h.flags, i & 3);
	}
	seen_free(&s);
}

Test(wire, record_that_exactly_fills_the_frame)
{
	static struct dbp_frame f;
	static char text[DBP_TEXT_MAX];
	struct seen s = { 0 };
	const char *why;

	memset(text, 'q', sizeof text);
	dbp_frame_reset(&f);
	/* 7 queries of 24 + 8192 + 968 = 9184 bytes: 8 + 7 * 9184 = 64296; room 1240. */
	for (int i = 0; i < 7; i++)
		cr_assert_eq(dbp_frame_query(&f, (uint64_t)i + 1, 0, text, DBP_TEXT_MAX, text, 968),
			     0);
	cr_assert_eq(f.len, 64296);
	cr_assert_eq(dbp_frame_query_size(DBP_TEXT_MAX, 968), 9184);
	cr_assert_eq(dbp_frame_string_size(1240 - 24), 1240);
	cr_assert_eq(dbp_frame_string(&f, 99, DBP_STR_NAMESPACE, text, 1240 - 24 + 1), -1);
	cr_assert_eq(f.len, 64296);
	cr_assert_eq(dbp_frame_string(&f, 99, DBP_STR_NAMESPACE, text, 1240 - 24), 0);
	cr_assert_eq(f.len, DBP_FRAME_MAX);
	cr_assert_eq(dbp_frame_room(&f), 0);
	cr_assert_eq(f.ncalls, 0);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 8);
	cr_assert_eq(s.g[7].a.len, 1216);
	seen_free(&s);
}

/* ---- truncation ---- */

Test(wire, every_prefix_is_rejected_or_cut_on_a_boundary)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };

	build_sample(&f, ends);
	for (uint32_t len = 0; len < f.len; len++) {
		void *c = exact_copy(f.buf, len);
		const char *why = "unset";
		int rc = decode(c, len, &s, &why);
		int k = -1;
		for (int i = 0; i <= NREC; i++)
			if (ends[i] == len)
				k = i;
		if (k >= 0) {
			cr_assert_eq(rc, 0, "cut at boundary %u rejected: %s", len, why);
			cr_assert_null(why);
			check_sample(&s, (size_t)k);
		} else {
			cr_assert_eq(rc, -1, "cut at %u accepted", len);
			cr_assert_not_null(why);
			cr_assert_eq(s.n, 0, "cut at %u reached a callback", len);
			if (len < 8)
				cr_assert_str_eq(why, "frame shorter than its header");
			else
				cr_assert(!strcmp(why, "truncated record header") ||
						  !strcmp(why, "bad record length"),
					  "cut at %u: %s", len, why);
		}
		free(c);
	}
	seen_free(&s);
}

/* ---- malformed records ---- */

static void set_rec_len(struct dbp_frame *f, uint32_t off, uint32_t len)
{
	struct dbp_rec_hdr h;
	memcpy(&h, (char *)f->buf + off, sizeof h);
	h.len = len;
	memcpy((char *)f->buf + off, &h, sizeof h);
}

Test(wire, record_len_not_multiple_of_8)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];

	for (uint32_t delta = 1; delta < 8; delta++) {
		build_sample(&f, ends);
		set_rec_len(&f, ends[4], sizeof(struct dbp_call) - delta); /* first CALL */
		expect_reject(f.buf, f.len, "bad record length");
		build_sample(&f, ends);
		set_rec_len(&f, ends[4], sizeof(struct dbp_call) + delta);
		expect_reject(f.buf, f.len, "bad record length");
	}
}

Test(wire, record_len_smaller_than_header)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];

	/* 0 would never advance; 4 would leave the next header misaligned. */
	uint32_t lens[] = { 0, 4 };
	for (size_t i = 0; i < sizeof lens / sizeof lens[0]; i++) {
		build_sample(&f, ends);
		set_rec_len(&f, ends[0], lens[i]);
		expect_reject(f.buf, f.len, "bad record length");
		build_sample(&f, ends);
		set_rec_len(&f, ends[LAST], lens[i]); /* the last record */
		expect_reject(f.buf, f.len, "bad record length");
	}
}

Test(wire, record_shorter_than_its_type)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	/* Each known type with a length of 8 (header only) and one of 16: both under its size. */
	const int recs[] = { 0, 1, 2, 4, 7, 8, 9, 10, LAST };
	for (size_t i = 0; i < sizeof recs / sizeof recs[0]; i++) {
		for (uint32_t len = 8; len <= 16; len += 8) {
			build_sample(&f, ends);
			int k = recs[i];
			/* Shrink record k and turn the freed bytes into an unknown record, so the
			 * frame's structure stays valid apart from the short record. */
			uint32_t whole = ends[k + 1] - ends[k];
			set_rec_len(&f, ends[k], len);
			struct dbp_rec_hdr filler = { .type = 0x7777,
						      .flags = 0,
						      .len = whole - len };
			memcpy((char *)f.buf + ends[k] + len, &filler, sizeof filler);
			expect_reject(f.buf, f.len, "record shorter than its type");
		}
	}
}

Test(wire, record_len_past_the_frame)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];

	build_sample(&f, ends);
	set_rec_len(&f, ends[LAST],
		    sizeof(struct dbp_drops) + 8); /* DROPS is last: 8 past the end */
	expect_reject(f.buf, f.len, "bad record length");
	build_sample(&f, ends);
	set_rec_len(&f, ends[0], f.len - 8 + 8); /* hello claiming the whole frame and more */
	expect_reject(f.buf, f.len, "bad record length");
	build_sample(&f, ends);
	set_rec_len(&f, ends[0], 0xfffffff8u); /* near UINT32_MAX: no wrap-around */
	expect_reject(f.buf, f.len, "bad record length");
	/* Claiming exactly the rest of the frame is structurally valid. */
	build_sample(&f, ends);
	set_rec_len(&f, ends[0], f.len - 8);
	struct seen s = { 0 };
	const char *why;
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.g[0].type, DBP_REC_HELLO);
	view_is(s.g[0].a, EXE);
	seen_free(&s);
}

Test(wire, hello_strings_past_the_record)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct dbp_hello h;

	/* 64-byte record, 32 bytes of tail: 19 + 8 = 27 fit; 19 + 13 = 32 fit exactly. */
	build_sample(&f, ends);
	memcpy(&h, (char *)f.buf + ends[0], sizeof h);
	h.service_len = 13;
	memcpy((char *)f.buf + ends[0], &h, sizeof h);
	struct seen s = { 0 };
	const char *why;
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.g[0].b.len, 13);
	seen_free(&s);

	h.service_len = 14;
	memcpy((char *)f.buf + ends[0], &h, sizeof h);
	expect_reject(f.buf, f.len, "record strings run past its end");
	h.service_len = 8;
	h.exe_len = 0xffff; /* over DBP_STRING_MAX: refused before the record length is consulted */
	memcpy((char *)f.buf + ends[0], &h, sizeof h);
	expect_reject(f.buf, f.len, "hello string over the limit");
	h.exe_len = DBP_STRING_MAX;
	h.service_len = DBP_STRING_MAX; /* within the limit, far past the record */
	memcpy((char *)f.buf + ends[0], &h, sizeof h);
	expect_reject(f.buf, f.len, "record strings run past its end");
}

Test(wire, query_strings_past_the_record)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct dbp_query q;

	/* 64-byte record, 40 bytes of tail: 28 + 8 = 36; 28 + 12 = 40 fits exactly. */
	build_sample(&f, ends);
	memcpy(&q, (char *)f.buf + ends[1], sizeof q);
	q.summary_len = 13;
	memcpy((char *)f.buf + ends[1], &q, sizeof q);
	expect_reject(f.buf, f.len, "record strings run past its end");
	q.summary_len = 12;
	memcpy((char *)f.buf + ends[1], &q, sizeof q);
	struct seen s = { 0 };
	const char *why;
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.g[1].b.len, 12);
	seen_free(&s);
	q.summary_len = 0;
	q.text_len = 41;
	memcpy((char *)f.buf + ends[1], &q, sizeof q);
	expect_reject(f.buf, f.len, "record strings run past its end");
	q.text_len = DBP_TEXT_MAX; /* allowed as a length, but the record is too short */
	memcpy((char *)f.buf + ends[1], &q, sizeof q);
	expect_reject(f.buf, f.len, "record strings run past its end");
}

Test(wire, string_len_past_the_record)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct dbp_string r;

	/* The error-type string fills its 48 bytes exactly: one more byte runs past. */
	build_sample(&f, ends);
	memcpy(&r, (char *)f.buf + ends[3], sizeof r);
	cr_assert_eq(r.len, 24);
	r.len = 25;
	memcpy((char *)f.buf + ends[3], &r, sizeof r);
	expect_reject(f.buf, f.len, "record strings run past its end");
	r.len = DBP_STRING_MAX;
	memcpy((char *)f.buf + ends[3], &r, sizeof r);
	expect_reject(f.buf, f.len, "record strings run past its end");
	r.len = DBP_STRING_MAX + 1;
	memcpy((char *)f.buf + ends[3], &r, sizeof r);
	expect_reject(f.buf, f.len, "string over the limit");
}

Test(wire, query_text_over_the_limit)
{
	static struct dbp_frame f;
	static char text[DBP_TEXT_MAX];
	struct dbp_query q;
	struct seen s = { 0 };
	const char *why;

	memset(text, 't', sizeof text);
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_query(&f, 5, 0, text, DBP_TEXT_MAX, "summary!", 8), 0);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.g[0].a.len, DBP_TEXT_MAX);
	view_is(s.g[0].b, "summary!");
	seen_free(&s);
	/* Same record, one byte moved from summary to text: fits the record, over the limit. */
	memcpy(&q, (char *)f.buf + 8, sizeof q);
	q.text_len = DBP_TEXT_MAX + 1;
	q.summary_len = 7;
	memcpy((char *)f.buf + 8, &q, sizeof q);
	expect_reject(f.buf, f.len, "query text over the limit");
	q.text_len = 0xffffffffu;
	q.summary_len = 0;
	memcpy((char *)f.buf + 8, &q, sizeof q);
	expect_reject(f.buf, f.len, "query text over the limit");
}

/* ---- socket records ---- */

/* A frame of one SOCKET record (at offset 8): nerr errors of count 1 (errnos 1, 2, ...), as
 * many calls in bucket 3. */
static void one_sock(struct dbp_frame *f, unsigned nerr)
{
	struct dbp_sock r = { .peer_id = 7, .calls = nerr, .nerr = (uint16_t)nerr };
	struct dbp_sock_err errs[DBP_SOCK_ERR_MAX];
	r.buckets[3] = nerr;
	for (unsigned i = 0; i < nerr; i++)
		errs[i] = (struct dbp_sock_err){ .err_no = i + 1, .count = 1 };
	dbp_frame_reset(f);
	cr_assert_eq(dbp_frame_sock(f, &r, errs), 0);
	cr_assert_eq(f->len, 8 + sizeof r + nerr * sizeof(struct dbp_sock_err));
}

static struct dbp_sock *sock_at(struct dbp_frame *f)
{
	return (struct dbp_sock *)((char *)f->buf + 8);
}

static struct dbp_sock_err *sock_errs(struct dbp_frame *f)
{
	return (struct dbp_sock_err *)(sock_at(f) + 1);
}

static void expect_accept(const void *buf, size_t len, size_t nrec)
{
	struct seen s = { 0 };
	const char *why = "unset";
	void *c = exact_copy(buf, len);

	cr_assert_eq(decode(c, len, &s, &why), 0, "rejected: %s", why);
	cr_assert_null(why);
	cr_assert_eq(s.n, nrec);
	free(c);
	seen_free(&s);
}

Test(wire, socket_errors_up_to_the_limit)
{
	static struct dbp_frame f;
	struct seen s = { 0 };
	const char *why;

	one_sock(&f, DBP_SOCK_ERR_MAX);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.g[0].a.len, DBP_SOCK_ERR_MAX * sizeof(struct dbp_sock_err));
	cr_assert_eq(((const struct dbp_sock_err *)s.g[0].a.p)[DBP_SOCK_ERR_MAX - 1].err_no,
		     DBP_SOCK_ERR_MAX);
	seen_free(&s);
	/* One more is refused before the record length is consulted. */
	sock_at(&f)->nerr = DBP_SOCK_ERR_MAX + 1;
	expect_reject(f.buf, f.len, "socket errors over the limit");
	sock_at(&f)->nerr = 0xffff;
	expect_reject(f.buf, f.len, "socket errors over the limit");
	/* No errors, no calls: an empty delta is fine. */
	one_sock(&f, 0);
	expect_accept(f.buf, f.len, 1);
}

Test(wire, socket_errors_past_the_record)
{
	static struct dbp_frame f;

	one_sock(&f, 2);
	sock_at(&f)->nerr = 3;
	sock_at(&f)->calls = 3;
	sock_at(&f)->buckets[3] = 3;
	expect_reject(f.buf, f.len, "socket errors run past its end");
	/* A record longer than its errors need is accepted: lengths are a floor. */
	one_sock(&f, 2);
	memset((char *)f.buf + f.len, 0, 16);
	sock_at(&f)->h.len += 16;
	f.len += 16;
	expect_accept(f.buf, f.len, 1);
	/* And a SOCKET cut short of its fixed part is refused as such. */
	one_sock(&f, 0);
	set_rec_len(&f, 8, sizeof(struct dbp_sock) - 8);
	expect_reject(f.buf, f.len - 8, "record shorter than its type");
}

Test(wire, socket_direction_and_system)
{
	static struct dbp_frame f;
	struct dbp_sockwrite w = sockwrite_a();

	for (uint8_t sys = 0; sys < DBP_DB_SYSTEM_COUNT; sys++)
		for (uint8_t dir = 0; dir <= DBP_DIR_INBOUND; dir++) {
			one_sock(&f, 1);
			sock_at(&f)->direction = dir;
			sock_at(&f)->db_system = sys;
			expect_accept(f.buf, f.len, 1);
			w.direction = dir;
			w.db_system = sys;
			dbp_frame_reset(&f);
			cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
			expect_accept(f.buf, f.len, 1);
		}
	const uint8_t bad_dirs[] = { 2, 0x80, 0xff }, bad_systems[] = { DBP_DB_SYSTEM_COUNT, 0xff };
	struct dbp_sockwrite *wr = (struct dbp_sockwrite *)((char *)f.buf + 8);
	for (size_t i = 0; i < sizeof bad_dirs; i++) {
		one_sock(&f, 1);
		sock_at(&f)->direction = bad_dirs[i];
		expect_reject(f.buf, f.len, "bad socket direction");
		w = sockwrite_a();
		w.direction = bad_dirs[i];
		dbp_frame_reset(&f);
		cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
		cr_assert_eq(wr->direction, bad_dirs[i]);
		expect_reject(f.buf, f.len, "bad socket direction");
	}
	for (size_t i = 0; i < sizeof bad_systems; i++) {
		one_sock(&f, 1);
		sock_at(&f)->db_system = bad_systems[i];
		expect_reject(f.buf, f.len, "bad database system");
		w = sockwrite_a();
		w.db_system = bad_systems[i];
		dbp_frame_reset(&f);
		cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
		expect_reject(f.buf, f.len, "bad database system");
	}
}

Test(wire, socket_counts_add_up)
{
	static struct dbp_frame f;

	/* Buckets must hold every call, no more. */
	one_sock(&f, 2);
	sock_at(&f)->calls = 3;
	expect_reject(f.buf, f.len, "socket counts do not add up");
	sock_at(&f)->calls = 1;
	expect_reject(f.buf, f.len, "socket counts do not add up");
	/* Calls that succeeded are fine; more errors than calls are not. */
	one_sock(&f, 2);
	sock_at(&f)->calls = 5;
	sock_at(&f)->buckets[DBP_SOCK_BUCKETS - 1] = 3;
	expect_accept(f.buf, f.len, 1);
	sock_errs(&f)[1].count = 4;
	expect_accept(f.buf, f.len, 1);
	sock_errs(&f)[1].count = 5;
	expect_reject(f.buf, f.len, "socket counts do not add up");
	/* Sums that wrap around are caught, not compared. */
	one_sock(&f, 0);
	sock_at(&f)->calls = 1;
	sock_at(&f)->buckets[0] = UINT64_MAX;
	sock_at(&f)->buckets[1] = 2;
	expect_reject(f.buf, f.len, "socket counts do not add up");
	one_sock(&f, 2);
	sock_errs(&f)[0].count = UINT64_MAX;
	sock_errs(&f)[1].count = 3; /* wraps to 2 == calls */
	expect_reject(f.buf, f.len, "socket counts do not add up");
	/* An errno is never 0 on the wire. */
	one_sock(&f, 2);
	sock_errs(&f)[1].err_no = 0;
	expect_reject(f.buf, f.len, "socket error without an errno");
}

/* ---- module and stack records ---- */

static struct dbp_module *module_at(struct dbp_frame *f)
{
	return (struct dbp_module *)((char *)f->buf + 8);
}

static struct dbp_stack *stack_at(struct dbp_frame *f)
{
	return (struct dbp_stack *)((char *)f->buf + 8);
}

Test(wire, module_lengths_and_id)
{
	static struct dbp_frame f;
	static char path[DBP_STRING_MAX];
	uint8_t bid[DBP_BUILD_ID_MAX];
	struct seen s = { 0 };
	const char *why;

	memset(path, 'p', sizeof path);
	memset(bid, 0xb1, sizeof bid);
	/* Both at their limits: accepted, views exact. */
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_module(&f, 1, 0, path, DBP_STRING_MAX, bid, DBP_BUILD_ID_MAX), 0);
	cr_assert_eq(f.len, 8 + dbp_frame_module_size(DBP_STRING_MAX, DBP_BUILD_ID_MAX));
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.g[0].a.len, DBP_STRING_MAX);
	cr_assert_eq(s.g[0].b.len, DBP_BUILD_ID_MAX);
	cr_assert_eq(s.g[0].b.p, s.g[0].a.p + DBP_STRING_MAX);
	seen_free(&s);
	/* An anonymous module without a build-id is well formed (the exporter decides). */
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_module(&f, 2, 0, "", 0, bid, 0), 0);
	cr_assert_eq(f.len, 8 + 32);
	expect_accept(f.buf, f.len, 1);

	/* Over the limits: refused before the record length is consulted. */
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_module(&f, 3, 0, path, 16, bid, 20), 0);
	module_at(&f)->path_len = DBP_STRING_MAX + 1;
	expect_reject(f.buf, f.len, "module path over the limit");
	module_at(&f)->path_len = 0xffff;
	expect_reject(f.buf, f.len, "module path over the limit");
	module_at(&f)->path_len = 16;
	module_at(&f)->build_id_len = DBP_BUILD_ID_MAX + 1;
	expect_reject(f.buf, f.len, "build-id over the limit");
	module_at(&f)->build_id_len = 0xffff;
	expect_reject(f.buf, f.len, "build-id over the limit");
	/* 32 + 16 + 20 = 68 in a 72-byte record: 4 bytes of padding to spare, not 5. */
	module_at(&f)->build_id_len = 24;
	expect_accept(f.buf, f.len, 1);
	module_at(&f)->build_id_len = 25;
	expect_reject(f.buf, f.len, "record strings run past its end");
	module_at(&f)->build_id_len = 20;
	module_at(&f)->path_len = 21;
	expect_reject(f.buf, f.len, "record strings run past its end");
	module_at(&f)->path_len = 16;
	module_at(&f)->id = 0;
	expect_reject(f.buf, f.len, "module id 0");
	module_at(&f)->id = UINT64_MAX;
	expect_accept(f.buf, f.len, 1);
	/* A MODULE cut short of its fixed part. */
	set_rec_len(&f, 8, 24);
	expect_reject(f.buf, 8 + 24, "record shorter than its type");
}

Test(wire, stack_frame_count_and_id)
{
	static struct dbp_frame f;
	struct dbp_wire_frame fr[DBP_STACK_MAX];
	struct seen s = { 0 };
	const char *why;

	for (unsigned i = 0; i < DBP_STACK_MAX; i++)
		fr[i] = (struct dbp_wire_frame){ .module_id = i + 1, .offset = 0x1000 + i };
	/* The most frames a STACK may hold: accepted, frames exact. */
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_stack(&f, 9, fr, DBP_STACK_MAX), 0);
	cr_assert_eq(f.len, 8 + 24 + DBP_STACK_MAX * 16);
	cr_assert_eq(dbp_frame_stack_size(DBP_STACK_MAX), 24 + DBP_STACK_MAX * 16);
	cr_assert_eq(decode(f.buf, f.len, &s, &why), 0);
	cr_assert_eq(s.n, 1);
	cr_assert_eq(s.g[0].a.len, sizeof fr);
	cr_assert_eq(memcmp(s.g[0].a.p, fr, sizeof fr), 0);
	seen_free(&s);
	/* The builder refuses what the decoder would. */
	cr_assert_eq(dbp_frame_stack(&f, 9, fr, 0), -1);
	cr_assert_eq(dbp_frame_stack(&f, 9, fr, DBP_STACK_MAX + 1), -1);

	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_stack(&f, 9, fr, 2), 0);
	cr_assert_eq(f.len, 8 + 24 + 32);
	stack_at(&f)->nframes = 0;
	expect_reject(f.buf, f.len, "stack frame count out of range");
	stack_at(&f)->nframes = DBP_STACK_MAX + 1;
	expect_reject(f.buf, f.len, "stack frame count out of range");
	stack_at(&f)->nframes = 0xffff;
	expect_reject(f.buf, f.len, "stack frame count out of range");
	/* Fewer frames than the record holds is fine (lengths are a floor); more is not. */
	stack_at(&f)->nframes = 1;
	expect_accept(f.buf, f.len, 1);
	stack_at(&f)->nframes = 3;
	expect_reject(f.buf, f.len, "stack frames run past its end");
	stack_at(&f)->nframes = DBP_STACK_MAX;
	expect_reject(f.buf, f.len, "stack frames run past its end");
	stack_at(&f)->nframes = 2;
	stack_at(&f)->id = 0;
	expect_reject(f.buf, f.len, "stack id 0");
	/* A STACK cut short of its fixed part. */
	stack_at(&f)->id = 9;
	set_rec_len(&f, 8, 16);
	expect_reject(f.buf, 8 + 16, "record shorter than its type");
}

/* A CALL's stack id and a frame's module id are the exporter's to resolve: the decoder passes
 * any value, 0 included. */
Test(wire, stack_ids_in_calls_are_not_resolved_here)
{
	static struct dbp_frame f;
	struct dbp_call c = call_a();
	const uint64_t ids[] = { 0, 1, UINT64_MAX };

	for (size_t i = 0; i < sizeof ids / sizeof ids[0]; i++) {
		struct dbp_wire_frame fr = { .module_id = ids[i], .offset = ids[i] };
		c.stack_id = ids[i];
		dbp_frame_reset(&f);
		cr_assert_eq(dbp_frame_call(&f, &c, 0), 0);
		cr_assert_eq(dbp_frame_stack(&f, 5, &fr, 1), 0);
		expect_accept(f.buf, f.len, 2);
	}
}

/* ---- frame header ---- */

Test(wire, bad_magic)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	const uint32_t magics[] = { 0, DBP_WIRE_MAGIC ^ 1, DBP_WIRE_MAGIC ^ 0x80000000u,
				    __builtin_bswap32(DBP_WIRE_MAGIC) };

	for (size_t i = 0; i < sizeof magics / sizeof magics[0]; i++) {
		build_sample(&f, ends);
		memcpy(f.buf, &magics[i], 4);
		expect_reject(f.buf, f.len, "bad magic");
		expect_reject(f.buf, 8, "bad magic");
	}
}

Test(wire, bad_version)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	const uint16_t versions[] = { 0,     1,     DBP_WIRE_VERSION - 1, DBP_WIRE_VERSION + 1,
				      0x100, 0xffff };

	for (size_t i = 0; i < sizeof versions / sizeof versions[0]; i++) {
		build_sample(&f, ends);
		memcpy((char *)f.buf + 4, &versions[i], 2);
		expect_reject(f.buf, f.len, "unsupported protocol version");
	}
}

Test(wire, frame_over_the_limit)
{
	static struct dbp_frame f;
	struct dbp_call c = call_a();
	const size_t big = DBP_FRAME_MAX + 8;
	char *buf = malloc(big);
	struct seen s = { 0 };
	const char *why;

	cr_assert_not_null(buf);
	dbp_frame_reset(&f);
	while (dbp_frame_call(&f, &c, 0) == 0)
		;
	cr_assert_eq(f.len, 8 + 481 * sizeof(struct dbp_call));
	uint32_t rest = DBP_FRAME_MAX - f.len; /* 8 */
	memset(buf, 0, big);
	memcpy(buf, f.buf, f.len);
	/* An unknown record filling the rest makes exactly DBP_FRAME_MAX: accepted. */
	struct dbp_rec_hdr pad = { .type = 0x4242, .flags = 0, .len = rest };
	memcpy(buf + f.len, &pad, sizeof pad);
	cr_assert_eq(decode(buf, DBP_FRAME_MAX, &s, &why), 0);
	cr_assert_eq(s.n, 481);
	/* 8 bytes more makes DBP_FRAME_MAX + 8: rejected though well formed. */
	pad.len = rest + 8;
	memcpy(buf + f.len, &pad, sizeof pad);
	expect_reject(buf, big, "frame over the size limit");
	expect_reject(buf, DBP_FRAME_MAX + 1, "frame over the size limit");
	seen_free(&s);
	free(buf);
}

Test(wire, misaligned_buffer)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };
	const char *why;

	build_sample(&f, ends);
	char *buf = malloc(f.len + 8);
	cr_assert_not_null(buf);
	for (size_t shift = 1; shift < 8; shift++) {
		memcpy(buf + shift, f.buf, f.len);
		cr_assert_eq(decode(buf + shift, f.len, &s, &why), -1, "shift %zu", shift);
		cr_assert_str_eq(why, "misaligned buffer");
		cr_assert_eq(s.n, 0);
	}
	memcpy(buf, f.buf, f.len);
	cr_assert_eq(decode(buf, f.len, &s, &why), 0);
	check_sample(&s, NREC);
	free(buf);
	seen_free(&s);
}

/* ---- callbacks and unknown types ---- */

Test(wire, callback_refusal_rejects_the_frame)
{
	static struct dbp_frame f;
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };

	build_sample(&f, ends);
	for (int k = 0; k < NREC; k++) {
		const char *why = NULL;
		seen_init(&s, f.buf, f.len);
		s.refuse_at = k;
		cr_assert_eq(dbp_decode_frame(f.buf, f.len, &ops, &s, &why), -1, "refuse at %d", k);
		cr_assert_str_eq(why, "record refused");
		/* Records up to the refusing one were delivered, none after it. */
		cr_assert_eq(s.n, (size_t)k + 1);
		check_sample(&s, (size_t)k + 1);
	}
	seen_free(&s);
}

Test(wire, unknown_record_types_are_skipped)
{
	static struct dbp_frame f, g;
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };
	const char *why;

	/* Rebuild the sample with an unknown record between every pair of known ones. */
	build_sample(&f, ends);
	dbp_frame_reset(&g);
	const uint16_t types[NREC + 1] = { 0,    10, 99, 0x8000, 0xffff, 11, 1000,
					   5000, 10, 12, 0x7fff, 13,     0 };
	for (int k = 0; k <= NREC; k++) {
		struct dbp_rec_hdr u = { .type = types[k],
					 .flags = 0xffff,
					 .len = 8 + 8 * (uint32_t)k };
		char *p = (char *)g.buf + g.len;
		memset(p, 0xee, u.len);
		memcpy(p, &u, sizeof u);
		g.len += u.len;
		if (k < NREC) {
			memcpy((char *)g.buf + g.len, (char *)f.buf + ends[k],
			       ends[k + 1] - ends[k]);
			g.len += ends[k + 1] - ends[k];
		}
	}
	cr_assert_eq(decode(g.buf, g.len, &s, &why), 0);
	cr_assert_null(why);
	check_sample(&s, NREC);
	seen_free(&s);

	/* An unknown type is still held to the length rules. */
	struct dbp_rec_hdr u = { .type = 99, .flags = 0, .len = 12 };
	memcpy((char *)g.buf + 8, &u, sizeof u);
	expect_reject(g.buf, g.len, "bad record length");
}

/* ---- garbage ---- */

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* A frame of records with plausible headers and random bodies: it often passes the
 * structural checks, so the callbacks see hostile string lengths. */
static size_t random_records(char *buf, size_t cap)
{
	struct dbp_frame_hdr fh = { .magic = DBP_WIRE_MAGIC, .version = DBP_WIRE_VERSION };
	size_t len = sizeof fh;
	memcpy(buf, &fh, sizeof fh);
	int nrec = (int)(rnd() % 8);
	for (int i = 0; i < nrec; i++) {
		uint32_t rl = (uint32_t)(8 * (1 + rnd() % 24));
		if (rnd() % 16 == 0)
			rl = (uint32_t)rnd(); /* any length at all */
		if (len + 8 > cap)
			break;
		struct dbp_rec_hdr h = { .type = (uint16_t)(rnd() % 11),
					 .flags = (uint16_t)rnd(),
					 .len = rl };
		memcpy(buf + len, &h, sizeof h);
		size_t body = rl >= 8 && rl - 8 <= cap - len - 8 ? rl - 8 : 0;
		for (size_t j = 0; j < body; j++) {
			uint64_t r = rnd();
			/* Mostly small bytes, so 16/32-bit lengths are often near the truth. */
			buf[len + 8 + j] = (char)(r % 4 ? r % 48 : r >> 8);
		}
		len += 8 + body;
	}
	return len;
}

Test(wire, random_garbage_never_crashes)
{
	static struct dbp_frame f;
	static char scratch[4096];
	uint32_t ends[NREC + 1];
	struct seen s = { 0 };
	unsigned accepted = 0, rejected = 0, delivered = 0;

	rng_state = 0x9e3779b97f4a7c15ull;
	build_sample(&f, ends);
	for (int iter = 0; iter < 6000; iter++) {
		size_t len;
		switch (iter % 3) {
		case 0: /* random bytes, usually behind a valid header */
			len = rnd() % 600;
			for (size_t j = 0; j < len; j++)
				scratch[j] = (char)rnd();
			if (len >= 8 && rnd() % 4) {
				struct dbp_frame_hdr fh = { .magic = DBP_WIRE_MAGIC,
							    .version = DBP_WIRE_VERSION };
				memcpy(scratch, &fh, sizeof fh);
			}
			break;
		case 1: /* the sample frame with a few bytes changed and maybe cut */
			len = f.len;
			memcpy(scratch, f.buf, len);
			for (int m = 1 + (int)(rnd() % 6); m > 0; m--) {
				size_t at = 8 + rnd() % (len - 8);
				scratch[at] = (char)(rnd() % 3 ? scratch[at] ^ (1 << (rnd() % 8))
							       : (char)rnd());
			}
			if (rnd() % 4 == 0)
				len = rnd() % (len + 1);
			break;
		default:
			len = random_records(scratch, sizeof scratch);
			break;
		}
		void *c = exact_copy(scratch, len);
		const char *why = "unset";
		int rc = decode(c, len, &s, &why);
		if (rc == 0) {
			cr_assert_null(why);
			accepted++;
			delivered += (unsigned)s.n;
		} else {
			cr_assert_eq(rc, -1);
			cr_assert_not_null(why);
			cr_assert_eq(s.n, 0, "a rejected frame reached a callback (%s)", why);
			rejected++;
		}
		free(c);
	}
	/* The generator is deterministic; these show both paths were exercised. */
	cr_assert_gt(accepted, 500);
	cr_assert_gt(rejected, 500);
	cr_assert_gt(delivered, 500);
	seen_free(&s);
}
