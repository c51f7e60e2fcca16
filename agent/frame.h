/* frame: builds wire frames (see wire.h); pure functions, shared by the sender and the tests. */
#ifndef DBPROBE_FRAME_H
#define DBPROBE_FRAME_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

struct dbp_frame {
	uint32_t len;    /* bytes used, header included */
	uint32_t ncalls; /* CALL records in it: what a failed send loses */
	uint64_t buf[DBP_FRAME_MAX / 8];
};

void dbp_frame_reset(struct dbp_frame *f);
/* Whether the frame holds any record. */
int dbp_frame_empty(const struct dbp_frame *f);

/* Sizes of records, to check room before appending a group that must stay together. */
uint32_t dbp_frame_query_size(size_t text_len, size_t summary_len);
uint32_t dbp_frame_string_size(size_t len);
uint32_t dbp_frame_room(const struct dbp_frame *f);

/* Each returns 0, or -1 when the record does not fit (the frame is unchanged). */
int dbp_frame_hello(struct dbp_frame *f, uint32_t pid, uint32_t ppid, uint64_t start_unix_ns,
		    const char *exe, size_t exe_len, const char *service, size_t service_len);
/* The same with the process's trace state and resource attributes (cut at DBP_STRING_MAX). */
int dbp_frame_hello_ex(struct dbp_frame *f, uint32_t pid, uint32_t ppid, uint64_t start_unix_ns,
		       const char *exe, size_t exe_len, const char *service, size_t service_len,
		       const char *tracestate, size_t tracestate_len, const char *resource,
		       size_t resource_len);
int dbp_frame_query(struct dbp_frame *f, uint64_t id, uint16_t flags, const char *text,
		    size_t text_len, const char *summary, size_t summary_len);
int dbp_frame_string(struct dbp_frame *f, uint64_t id, uint16_t kind, const char *s, size_t len);
/* A CALL record appended in place, header set and counted in ncalls; the caller fills the rest
 * (the sender's inner loop writes straight into the frame). NULL when it does not fit. */
static inline struct dbp_call *dbp_frame_call_slot(struct dbp_frame *f, uint16_t flags)
{
	if (sizeof(struct dbp_call) > DBP_FRAME_MAX - f->len)
		return NULL;
	struct dbp_call *c = (struct dbp_call *)((char *)f->buf + f->len);
	c->h = (struct dbp_rec_hdr){ .type = DBP_REC_CALL, .flags = flags, .len = sizeof *c };
	f->len += sizeof *c;
	f->ncalls++;
	return c;
}

/* c->h is filled in here; the caller sets h.flags through the flags argument. */
int dbp_frame_call(struct dbp_frame *f, struct dbp_call *c, uint16_t flags);
uint32_t dbp_frame_sock_size(unsigned nerr);
/* A SOCKET record: s's header is ignored, errs holds s->nerr entries. */
int dbp_frame_sock(struct dbp_frame *f, const struct dbp_sock *s, const struct dbp_sock_err *errs);
int dbp_frame_sockwrite(struct dbp_frame *f, const struct dbp_sockwrite *w);
uint32_t dbp_frame_module_size(size_t path_len, size_t build_id_len);
int dbp_frame_module(struct dbp_frame *f, uint64_t id, uint64_t base, const char *path,
		     size_t path_len, const uint8_t *build_id, size_t build_id_len);
uint32_t dbp_frame_stack_size(unsigned nframes);
int dbp_frame_stack(struct dbp_frame *f, uint64_t id, const struct dbp_wire_frame *frames,
		    unsigned nframes);
int dbp_frame_drops(struct dbp_frame *f, const uint64_t count[DBP_DROP_REASON_COUNT]);

#endif
