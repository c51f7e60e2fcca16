/* decode: validates a wire frame and hands out its records. */
#include "decode.h"

#include <string.h>

static int bad(const char **why, const char *reason)
{
	*why = reason;
	return -1;
}

/* Direction and database system: enums the exporter indexes tables with. */
static int check_sock_key(uint8_t direction, uint8_t system, const char **why)
{
	if (direction > DBP_DIR_INBOUND)
		return bad(why, "bad socket direction");
	if (system >= DBP_DB_SYSTEM_COUNT)
		return bad(why, "bad database system");
	return 0;
}

/* A SOCKET's fixed part and errors: every call lands in one bucket and fails at most once, so
 * the buckets add up to calls and the errors to no more (sums checked for overflow). */
static int check_sock(const struct dbp_sock *r, const char **why)
{
	if (check_sock_key(r->direction, r->db_system, why) < 0)
		return -1;
	uint64_t sum = 0;
	for (unsigned i = 0; i < DBP_SOCK_BUCKETS; i++)
		if (__builtin_add_overflow(sum, r->buckets[i], &sum))
			return bad(why, "socket counts do not add up");
	if (sum != r->calls)
		return bad(why, "socket counts do not add up");
	const struct dbp_sock_err *e = (const void *)(r + 1);
	sum = 0;
	for (unsigned i = 0; i < r->nerr; i++) {
		if (!e[i].err_no)
			return bad(why, "socket error without an errno");
		if (__builtin_add_overflow(sum, e[i].count, &sum))
			return bad(why, "socket counts do not add up");
	}
	if (sum > r->calls)
		return bad(why, "socket counts do not add up");
	return 0;
}

/* The fixed part of each known record type, and how long its variable tail says it is. */
static int check_record(const struct dbp_rec_hdr *h, const char *p, const char **why)
{
	size_t fixed = 0, tail = 0;
	switch (h->type) {
	case DBP_REC_HELLO: {
		const struct dbp_hello *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->exe_len > DBP_STRING_MAX || r->service_len > DBP_STRING_MAX ||
			    r->tracestate_len > DBP_STRING_MAX ||
			    r->resource_len > DBP_STRING_MAX) {
				*why = "hello string over the limit";
				return -1;
			}
			tail = (size_t)r->exe_len + r->service_len + r->tracestate_len +
			       r->resource_len;
		}
		break;
	}
	case DBP_REC_QUERY: {
		const struct dbp_query *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->text_len > DBP_TEXT_MAX) {
				*why = "query text over the limit";
				return -1;
			}
			tail = (size_t)r->text_len + r->summary_len;
		}
		break;
	}
	case DBP_REC_STRING: {
		const struct dbp_string *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->len > DBP_STRING_MAX) {
				*why = "string over the limit";
				return -1;
			}
			tail = r->len;
		}
		break;
	}
	case DBP_REC_CALL:
		fixed = sizeof(struct dbp_call);
		break;
	case DBP_REC_DROPS:
		fixed = sizeof(struct dbp_drops);
		break;
	case DBP_REC_SOCKET: {
		const struct dbp_sock *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->nerr > DBP_SOCK_ERR_MAX)
				return bad(why, "socket errors over the limit");
			tail = (size_t)r->nerr * sizeof(struct dbp_sock_err);
		}
		break;
	}
	case DBP_REC_SOCKWRITE:
		fixed = sizeof(struct dbp_sockwrite);
		break;
	case DBP_REC_MODULE: {
		const struct dbp_module *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->path_len > DBP_STRING_MAX)
				return bad(why, "module path over the limit");
			if (r->build_id_len > DBP_BUILD_ID_MAX)
				return bad(why, "build-id over the limit");
			if (!r->id)
				return bad(why, "module id 0");
			tail = (size_t)r->path_len + r->build_id_len;
		}
		break;
	}
	case DBP_REC_STACK: {
		const struct dbp_stack *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (!r->nframes || r->nframes > DBP_STACK_MAX)
				return bad(why, "stack frame count out of range");
			if (!r->id)
				return bad(why, "stack id 0");
			tail = (size_t)r->nframes * sizeof(struct dbp_wire_frame);
		}
		break;
	}
	default:
		return 0;
	}
	if (h->len < fixed)
		return bad(why, "record shorter than its type");
	if (fixed + tail > h->len)
		return bad(why, h->type == DBP_REC_SOCKET  ? "socket errors run past its end"
				: h->type == DBP_REC_STACK ? "stack frames run past its end"
							   : "record strings run past its end");
	/* Fields beyond lengths, now that the whole record is known to be there. */
	if (h->type == DBP_REC_SOCKET)
		return check_sock((const void *)p, why);
	if (h->type == DBP_REC_SOCKWRITE) {
		const struct dbp_sockwrite *r = (const void *)p;
		return check_sock_key(r->direction, r->db_system, why);
	}
	return 0;
}

/* Hands one checked record to its callback; 0 when it has none. */
static int deliver(const struct dbp_rec_hdr *h, const char *p, const struct dbp_decode_ops *ops,
		   void *ctx)
{
	switch (h->type) {
	case DBP_REC_HELLO: {
		const struct dbp_hello *r = (const void *)p;
		const char *s = (const char *)(r + 1);
		if (!ops->hello)
			return 0;
		return ops->hello(ctx, r, (struct dbp_str_view){ s, r->exe_len },
				  (struct dbp_str_view){ s + r->exe_len, r->service_len });
	}
	case DBP_REC_QUERY: {
		const struct dbp_query *r = (const void *)p;
		const char *s = (const char *)(r + 1);
		if (!ops->query)
			return 0;
		return ops->query(ctx, r, (struct dbp_str_view){ s, r->text_len },
				  (struct dbp_str_view){ s + r->text_len, r->summary_len });
	}
	case DBP_REC_STRING: {
		const struct dbp_string *r = (const void *)p;
		if (!ops->string)
			return 0;
		return ops->string(ctx, r, (struct dbp_str_view){ (const char *)(r + 1), r->len });
	}
	case DBP_REC_CALL:
		return ops->call ? ops->call(ctx, (const void *)p) : 0;
	case DBP_REC_DROPS:
		return ops->drops ? ops->drops(ctx, (const void *)p) : 0;
	case DBP_REC_SOCKET: {
		const struct dbp_sock *r = (const void *)p;
		return ops->sock ? ops->sock(ctx, r, (const void *)(r + 1)) : 0;
	}
	case DBP_REC_SOCKWRITE:
		return ops->sockwrite ? ops->sockwrite(ctx, (const void *)p) : 0;
	case DBP_REC_MODULE: {
		const struct dbp_module *r = (const void *)p;
		const char *s = (const char *)(r + 1);
		if (!ops->module)
			return 0;
		return ops->module(ctx, r, (struct dbp_str_view){ s, r->path_len },
				   (struct dbp_str_view){ s + r->path_len, r->build_id_len });
	}
	case DBP_REC_STACK: {
		const struct dbp_stack *r = (const void *)p;
		return ops->stack ? ops->stack(ctx, r, (const void *)(r + 1)) : 0;
	}
	}
	return 0;
}

static int walk(const char *buf, size_t len, const struct dbp_decode_ops *ops, void *ctx,
		const char **why, int delivering)
{
	size_t off = sizeof(struct dbp_frame_hdr);
	while (off < len) {
		struct dbp_rec_hdr h;
		if (len - off < sizeof h) {
			*why = "truncated record header";
			return -1;
		}
		memcpy(&h, buf + off, sizeof h);
		if (h.len < sizeof h || h.len % 8 || h.len > len - off) {
			*why = "bad record length";
			return -1;
		}
		const char *p = buf + off;
		if (!delivering) {
			if (check_record(&h, p, why) < 0)
				return -1;
		} else if (deliver(&h, p, ops, ctx) < 0) {
			*why = "record refused";
			return -1;
		}
		off += h.len;
	}
	return 0;
}

int dbp_decode_frame(const void *buf, size_t len, const struct dbp_decode_ops *ops, void *ctx,
		     const char **why)
{
	struct dbp_frame_hdr fh;
	*why = NULL;
	/* Records are read in place through struct pointers: the buffer must be 8-aligned. */
	if ((uintptr_t)buf % 8) {
		*why = "misaligned buffer";
		return -1;
	}
	if (len < sizeof fh) {
		*why = "frame shorter than its header";
		return -1;
	}
	if (len > DBP_FRAME_MAX) {
		*why = "frame over the size limit";
		return -1;
	}
	memcpy(&fh, buf, sizeof fh);
	if (fh.magic != DBP_WIRE_MAGIC) {
		*why = "bad magic";
		return -1;
	}
	if (fh.version != DBP_WIRE_VERSION) {
		*why = "unsupported protocol version";
		return -1;
	}
	if (walk(buf, len, ops, ctx, why, 0) < 0)
		return -1;
	return walk(buf, len, ops, ctx, why, 1);
}
