/* decode: validates a wire frame and hands out its records. */
#include "decode.h"

#include <string.h>

/* The fixed part of each known record type, and how long its variable tail says it is. */
static int check_record(const struct dbp_rec_hdr *h, const char *p, const char **why)
{
	size_t fixed = 0, tail = 0;
	switch (h->type) {
	case DBP_REC_HELLO: {
		const struct dbp_hello *r = (const void *)p;
		fixed = sizeof *r;
		if (h->len >= fixed) {
			if (r->exe_len > DBP_STRING_MAX || r->service_len > DBP_STRING_MAX) {
				*why = "hello string over the limit";
				return -1;
			}
			tail = (size_t)r->exe_len + r->service_len;
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
	default:
		return 0;
	}
	if (h->len < fixed) {
		*why = "record shorter than its type";
		return -1;
	}
	if (fixed + tail > h->len) {
		*why = "record strings run past its end";
		return -1;
	}
	return 0;
}

static int walk(const char *buf, size_t len, const struct dbp_decode_ops *ops, void *ctx,
		const char **why, int deliver)
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
		if (!deliver) {
			if (check_record(&h, p, why) < 0)
				return -1;
		} else {
			int rc = 0;
			switch (h.type) {
			case DBP_REC_HELLO: {
				const struct dbp_hello *r = (const void *)p;
				const char *s = (const char *)(r + 1);
				rc = ops->hello(
					ctx, r, (struct dbp_str_view){ s, r->exe_len },
					(struct dbp_str_view){ s + r->exe_len, r->service_len });
				break;
			}
			case DBP_REC_QUERY: {
				const struct dbp_query *r = (const void *)p;
				const char *s = (const char *)(r + 1);
				rc = ops->query(
					ctx, r, (struct dbp_str_view){ s, r->text_len },
					(struct dbp_str_view){ s + r->text_len, r->summary_len });
				break;
			}
			case DBP_REC_STRING: {
				const struct dbp_string *r = (const void *)p;
				rc = ops->string(
					ctx, r,
					(struct dbp_str_view){ (const char *)(r + 1), r->len });
				break;
			}
			case DBP_REC_CALL:
				rc = ops->call(ctx, (const void *)p);
				break;
			case DBP_REC_DROPS:
				rc = ops->drops(ctx, (const void *)p);
				break;
			}
			if (rc < 0) {
				*why = "record refused";
				return -1;
			}
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
