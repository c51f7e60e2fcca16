/* frame: builds wire frames (see wire.h). */
#include "frame.h"

#include <string.h>

void dbp_frame_reset(struct dbp_frame *f)
{
	struct dbp_frame_hdr fh = { .magic = DBP_WIRE_MAGIC, .version = DBP_WIRE_VERSION };
	memcpy(f->buf, &fh, sizeof fh);
	f->len = sizeof fh;
	f->ncalls = 0;
}

int dbp_frame_empty(const struct dbp_frame *f)
{
	return f->len <= sizeof(struct dbp_frame_hdr);
}

uint32_t dbp_frame_room(const struct dbp_frame *f)
{
	return DBP_FRAME_MAX - f->len;
}

uint32_t dbp_frame_query_size(size_t text_len, size_t summary_len)
{
	return dbp_pad8((uint32_t)(sizeof(struct dbp_query) + text_len + summary_len));
}

uint32_t dbp_frame_string_size(size_t len)
{
	return dbp_pad8((uint32_t)(sizeof(struct dbp_string) + len));
}

/* Reserves a zeroed record of fixed part `fixed` plus `extra` bytes; NULL when it won't fit. */
static void *reserve(struct dbp_frame *f, uint16_t type, uint16_t flags, size_t fixed, size_t extra)
{
	if (fixed + extra > DBP_FRAME_MAX)
		return NULL;
	uint32_t len = dbp_pad8((uint32_t)(fixed + extra));
	if (len > dbp_frame_room(f))
		return NULL;
	char *p = (char *)f->buf + f->len;
	memset(p, 0, len);
	struct dbp_rec_hdr h = { .type = type, .flags = flags, .len = len };
	memcpy(p, &h, sizeof h);
	f->len += len;
	return p;
}

int dbp_frame_hello(struct dbp_frame *f, uint32_t pid, uint32_t ppid, uint64_t start_unix_ns,
		    const char *exe, size_t exe_len, const char *service, size_t service_len)
{
	return dbp_frame_hello_ex(f, pid, ppid, start_unix_ns, exe, exe_len, service, service_len,
				  "", 0, "", 0);
}

int dbp_frame_hello_ex(struct dbp_frame *f, uint32_t pid, uint32_t ppid, uint64_t start_unix_ns,
		       const char *exe, size_t exe_len, const char *service, size_t service_len,
		       const char *tracestate, size_t tracestate_len, const char *resource,
		       size_t resource_len)
{
	if (exe_len > DBP_STRING_MAX)
		exe_len = DBP_STRING_MAX;
	if (service_len > DBP_STRING_MAX)
		service_len = DBP_STRING_MAX;
	if (tracestate_len > DBP_STRING_MAX)
		tracestate_len = DBP_STRING_MAX;
	if (resource_len > DBP_STRING_MAX)
		resource_len = DBP_STRING_MAX;
	struct dbp_hello *r = reserve(f, DBP_REC_HELLO, 0, sizeof *r,
				      exe_len + service_len + tracestate_len + resource_len);
	if (!r)
		return -1;
	r->pid = pid;
	r->ppid = ppid;
	r->start_unix_ns = start_unix_ns;
	r->exe_len = (uint16_t)exe_len;
	r->service_len = (uint16_t)service_len;
	r->tracestate_len = (uint16_t)tracestate_len;
	r->resource_len = (uint16_t)resource_len;
	char *p = (char *)(r + 1);
	memcpy(p, exe, exe_len);
	memcpy(p + exe_len, service, service_len);
	memcpy(p + exe_len + service_len, tracestate, tracestate_len);
	memcpy(p + exe_len + service_len + tracestate_len, resource, resource_len);
	return 0;
}

int dbp_frame_query(struct dbp_frame *f, uint64_t id, uint16_t flags, const char *text,
		    size_t text_len, const char *summary, size_t summary_len)
{
	if (text_len > DBP_TEXT_MAX)
		return -1;
	if (summary_len > UINT16_MAX)
		summary_len = UINT16_MAX;
	struct dbp_query *r = reserve(f, DBP_REC_QUERY, flags, sizeof *r, text_len + summary_len);
	if (!r)
		return -1;
	r->id = id;
	r->text_len = (uint32_t)text_len;
	r->summary_len = (uint16_t)summary_len;
	memcpy((char *)(r + 1), text, text_len);
	memcpy((char *)(r + 1) + text_len, summary, summary_len);
	return 0;
}

int dbp_frame_string(struct dbp_frame *f, uint64_t id, uint16_t kind, const char *s, size_t len)
{
	if (len > DBP_STRING_MAX)
		return -1;
	struct dbp_string *r = reserve(f, DBP_REC_STRING, 0, sizeof *r, len);
	if (!r)
		return -1;
	r->id = id;
	r->kind = kind;
	r->len = (uint16_t)len;
	memcpy((char *)(r + 1), s, len);
	return 0;
}

int dbp_frame_call(struct dbp_frame *f, struct dbp_call *c, uint16_t flags)
{
	struct dbp_call *slot = dbp_frame_call_slot(f, flags);
	if (!slot)
		return -1;
	c->h = slot->h;
	*slot = *c;
	return 0;
}

int dbp_frame_drops(struct dbp_frame *f, const uint64_t count[DBP_DROP_REASON_COUNT])
{
	struct dbp_drops *r = reserve(f, DBP_REC_DROPS, 0, sizeof *r, 0);
	if (!r)
		return -1;
	memcpy(r->count, count, sizeof r->count);
	return 0;
}

uint32_t dbp_frame_sock_size(unsigned nerr)
{
	return dbp_pad8((uint32_t)(sizeof(struct dbp_sock) + nerr * sizeof(struct dbp_sock_err)));
}

int dbp_frame_sock(struct dbp_frame *f, const struct dbp_sock *s, const struct dbp_sock_err *errs)
{
	if (s->nerr > DBP_SOCK_ERR_MAX)
		return -1;
	size_t extra = s->nerr * sizeof *errs;
	struct dbp_sock *r = reserve(f, DBP_REC_SOCKET, 0, sizeof *r, extra);
	if (!r)
		return -1;
	struct dbp_rec_hdr h = r->h;
	*r = *s;
	r->h = h;
	memcpy(r + 1, errs, extra);
	return 0;
}

int dbp_frame_sockwrite(struct dbp_frame *f, const struct dbp_sockwrite *w)
{
	struct dbp_sockwrite *r = reserve(f, DBP_REC_SOCKWRITE, 0, sizeof *r, 0);
	if (!r)
		return -1;
	struct dbp_rec_hdr h = r->h;
	*r = *w;
	r->h = h;
	return 0;
}

uint32_t dbp_frame_module_size(size_t path_len, size_t build_id_len)
{
	return dbp_pad8((uint32_t)(sizeof(struct dbp_module) + path_len + build_id_len));
}

int dbp_frame_module(struct dbp_frame *f, uint64_t id, uint64_t base, const char *path,
		     size_t path_len, const uint8_t *build_id, size_t build_id_len)
{
	if (path_len > DBP_STRING_MAX || build_id_len > DBP_BUILD_ID_MAX)
		return -1;
	struct dbp_module *r = reserve(f, DBP_REC_MODULE, 0, sizeof *r, path_len + build_id_len);
	if (!r)
		return -1;
	r->id = id;
	r->base = base;
	r->path_len = (uint16_t)path_len;
	r->build_id_len = (uint16_t)build_id_len;
	memcpy((char *)(r + 1), path, path_len);
	if (build_id_len)
		memcpy((char *)(r + 1) + path_len, build_id, build_id_len);
	return 0;
}

uint32_t dbp_frame_stack_size(unsigned nframes)
{
	return dbp_pad8(
		(uint32_t)(sizeof(struct dbp_stack) + nframes * sizeof(struct dbp_wire_frame)));
}

int dbp_frame_stack(struct dbp_frame *f, uint64_t id, const struct dbp_wire_frame *frames,
		    unsigned nframes)
{
	if (!nframes || nframes > DBP_STACK_MAX)
		return -1;
	struct dbp_stack *r = reserve(f, DBP_REC_STACK, 0, sizeof *r, nframes * sizeof *frames);
	if (!r)
		return -1;
	r->id = id;
	r->nframes = (uint16_t)nframes;
	memcpy(r + 1, frames, nframes * sizeof *frames);
	return 0;
}
