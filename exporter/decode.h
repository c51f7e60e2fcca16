/* decode: validates a wire frame (agent/wire.h) and hands out its records. Trusts nothing. */
#ifndef DBPROBE_DECODE_H
#define DBPROBE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Views into the frame buffer: valid until the buffer is reused. Strings are not terminated. */
struct dbp_str_view {
	const char *p;
	size_t len;
};

struct dbp_decode_ops {
	int (*hello)(void *ctx, const struct dbp_hello *h, struct dbp_str_view exe,
		     struct dbp_str_view service);
	int (*query)(void *ctx, const struct dbp_query *q, struct dbp_str_view text,
		     struct dbp_str_view summary);
	int (*string)(void *ctx, const struct dbp_string *s, struct dbp_str_view str);
	int (*call)(void *ctx, const struct dbp_call *c);
	int (*drops)(void *ctx, const struct dbp_drops *d);
	/* errs: the record's s->nerr error counts, right after it. */
	int (*sock)(void *ctx, const struct dbp_sock *s, const struct dbp_sock_err *errs);
	int (*sockwrite)(void *ctx, const struct dbp_sockwrite *w);
	/* build_id: raw bytes, m->build_id_len of them (0: the module has none). */
	int (*module)(void *ctx, const struct dbp_module *m, struct dbp_str_view path,
		      struct dbp_str_view build_id);
	/* frames: the record's s->nframes frames, right after it. */
	int (*stack)(void *ctx, const struct dbp_stack *s, const struct dbp_wire_frame *frames);
};

/* A HELLO's tracestate and resource attributes (after exe and service), as decode checked them:
 * only for a record handed to the hello callback. */
static inline void dbp_hello_extra(const struct dbp_hello *h, struct dbp_str_view *tracestate,
				   struct dbp_str_view *resource)
{
	const char *s = (const char *)(h + 1) + h->exe_len + h->service_len;
	*tracestate = (struct dbp_str_view){ s, h->tracestate_len };
	*resource = (struct dbp_str_view){ s + h->tracestate_len, h->resource_len };
}

/* Walks every record of buf[0..len). Each callback returns 0 to go on, -1 to reject the frame.
 * Returns 0, or -1 with a static reason in *why (bad magic, truncated record, ...). The frame is
 * checked whole before any callback runs, so a rejected frame has no partial effect, except
 * where a callback itself rejects. Records of unknown types are skipped (newer agents), and so
 * are records whose callback is NULL. Besides lengths, the checks cover what needs no state:
 * enum values of SOCKET and SOCKWRITE, a SOCKET's counts adding up, nonzero MODULE and STACK
 * ids, a STACK's frame count (1..DBP_STACK_MAX). Ids named by other records are the callbacks'
 * to resolve. */
int dbp_decode_frame(const void *buf, size_t len, const struct dbp_decode_ops *ops, void *ctx,
		     const char **why);

#endif
