/* test_stacks: call-site stacks through the exporter: MODULE, STACK and CALL records sent to a
 * live ingest socket, then the store's interning and callers, /queries, /stacks/<id> and the
 * slow log. One module is this test binary, so its frames symbolize for real. */
#include <criterion/criterion.h>
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <link.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "ingest.h"
#include "ingest_harness.h"
#include "render.h"
#include "slowlog.h"
#include "store.h"

static void start_with(struct exporter *e, FILE *out)
{
	harness_start(e, 100, -1, out); /* the agent's slow flag decides */
}

static void start(struct exporter *e)
{
	start_with(e, NULL);
}

static void stop(struct exporter *e)
{
	harness_stop(e);
}

/* ---- this binary as a module: a real call site ---- */

struct self {
	char exe[512];
	uintptr_t bias;
	uint8_t build_id[64];
	size_t build_id_len;
	uint64_t site;      /* a return address in site_caller, as an offset */
	unsigned site_line; /* the line of that call */
};

static int self_object(struct dl_phdr_info *info, size_t size, void *arg)
{
	(void)size;
	struct self *me = arg;
	me->bias = info->dlpi_addr;
	for (int i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_NOTE)
			continue;
		const char *p = (const char *)(info->dlpi_addr + ph->p_vaddr),
			   *end = p + ph->p_memsz;
		while (p + sizeof(ElfW(Nhdr)) <= end) {
			const ElfW(Nhdr) *n = (const void *)p;
			const char *desc = (const char *)(n + 1) + ((n->n_namesz + 3) & ~3u);
			if (n->n_type == NT_GNU_BUILD_ID && n->n_namesz == 4 &&
			    n->n_descsz <= sizeof me->build_id) {
				memcpy(me->build_id, desc, n->n_descsz);
				me->build_id_len = n->n_descsz;
			}
			p = desc + ((n->n_descsz + 3) & ~3u);
		}
	}
	return 1;
}

static volatile int sink;

__attribute__((noinline)) static uintptr_t return_address(void)
{
	sink++;
	return (uintptr_t)__builtin_return_address(0);
}

__attribute__((noinline)) static uintptr_t site_caller(unsigned *line)
{
	*line = __LINE__ + 1;
	uintptr_t ret = return_address();
	sink++;
	return ret;
}

static void self_init(struct self *me)
{
	memset(me, 0, sizeof *me);
	dl_iterate_phdr(self_object, me);
	ssize_t n = readlink("/proc/self/exe", me->exe, sizeof me->exe - 1);
	cr_assert_gt(n, 0);
	me->exe[n] = 0;
	me->site = site_caller(&me->site_line) - me->bias;
}

/* ---- frames ---- */

#define QID 77
#define SELF 1 /* module ids on the first connection */
#define GONE 2

static const char GONE_PATH[] = "/nonexistent/bin/app";
static const uint8_t GONE_ID[4] = { 0xca, 0xfe, 0xf0, 0x0d };

static void hello(struct dbp_frame *f, uint32_t pid)
{
	dbp_frame_reset(f);
	cr_assert_eq(
		dbp_frame_hello(f, pid, 1, 1700000000000000000ull, "/usr/bin/app", 12, "api", 3),
		0);
	cr_assert_eq(dbp_frame_query(f, QID, 0, "SELECT ?", 8, "SELECT", 6), 0);
}

static void modules(struct dbp_frame *f, const struct self *me, uint64_t self_id, uint64_t gone_id)
{
	cr_assert_eq(dbp_frame_module(f, self_id, me->bias, me->exe, strlen(me->exe), me->build_id,
				      me->build_id_len),
		     0);
	cr_assert_eq(dbp_frame_module(f, gone_id, 0x400000, GONE_PATH, strlen(GONE_PATH), GONE_ID,
				      sizeof GONE_ID),
		     0);
}

static void stack2(struct dbp_frame *f, uint64_t id, uint64_t m0, uint64_t o0, uint64_t m1,
		   uint64_t o1)
{
	struct dbp_wire_frame fr[2] = { { m0, o0 }, { m1, o1 } };
	cr_assert_eq(dbp_frame_stack(f, id, fr, 2), 0);
}

static void call(struct dbp_frame *f, uint64_t stack_id, uint64_t duration_ns, uint16_t flags)
{
	struct dbp_call c = { .query_id = QID,
			      .start_unix_ns = 1700000000000000000ull,
			      .duration_ns = duration_ns,
			      .stack_id = stack_id,
			      .tid = 5,
			      .db_system = DBP_DB_SQLITE };
	cr_assert_eq(dbp_frame_call(f, &c, flags), 0);
}

/* ---- rendering ---- */

static const char *no_arg(const struct dbp_request *r, const char *name)
{
	(void)r;
	(void)name;
	return NULL;
}

static json_t *render_json(struct exporter *e,
			   void (*fn)(struct dbp_store *, const struct dbp_request *,
				      struct dbp_page *),
			   const char *path, int status)
{
	struct dbp_request r = { .path = path, .arg = no_arg };
	struct dbp_page p = { 0 };
	fn(&e->store, &r, &p);
	cr_assert_eq(p.status, status, "%s: status %d", path, p.status);
	cr_assert_not(p.body.oom);
	cr_assert_str_eq(p.content_type, "application/json");
	char *s = strndup(p.body.p, p.body.len);
	dbp_buf_free(&p.body);
	json_error_t err;
	json_t *doc = json_loads(s, 0, &err);
	cr_assert_not_null(doc, "bad JSON: %s\n%s", err.text, s);
	free(s);
	return doc;
}

static json_t *callers_of_first_query(struct exporter *e)
{
	json_t *doc = render_json(e, dbp_render_queries, "/queries", 200);
	json_t *q = json_array_get(json_object_get(doc, "queries"), 0);
	cr_assert_not_null(q);
	json_t *callers = json_incref(json_object_get(q, "callers"));
	cr_assert(json_is_array(callers));
	json_decref(doc);
	return callers;
}

static const char *str(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_string(v), "%s is not a string", key);
	return json_string_value(v);
}

static long long num(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert(json_is_integer(v), "%s is not an integer", key);
	return json_integer_value(v);
}

static void is_null(json_t *o, const char *key)
{
	json_t *v = json_object_get(o, key);
	cr_assert_not_null(v, "no %s", key);
	cr_assert(json_is_null(v), "%s is not null", key);
}

static int ends_with(const char *s, const char *suffix)
{
	size_t n = strlen(s), k = strlen(suffix);
	return n >= k && !strcmp(s + n - k, suffix);
}

static const char SRC[] = "/tests/unit/test_stacks.c";

/* ---- tests ---- */

Test(stacks, callers_aggregate_per_call_site_across_frames_and_agents)
{
	static struct exporter e;
	static struct dbp_frame f;
	struct self me;
	self_init(&me);
	cr_assert_gt(me.build_id_len, 0);

	start(&e);
	int a = agent(&e);
	/* Frame 1: modules, two stacks through the same call site (this binary), one through a
	 * file that is gone; 3 + 2 + 1 calls with stacks, 1 without. */
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	stack2(&f, 100, SELF, me.site, GONE, 0x100);
	stack2(&f, 101, SELF, me.site, GONE, 0x200);
	struct dbp_wire_frame gone_only = { GONE, 0x300 };
	cr_assert_eq(dbp_frame_stack(&f, 102, &gone_only, 1), 0);
	for (int i = 0; i < 3; i++)
		call(&f, 100, 1000000, 0);
	send_frame(a, &f);
	/* Frame 2: calls naming stacks the first frame defined. */
	dbp_frame_reset(&f);
	call(&f, 101, 2000000, 0);
	call(&f, 101, 2000000, 0);
	call(&f, 102, 500000, 0);
	call(&f, 0, 9000000, 0);
	send_frame(a, &f);
	/* Another agent: its own ids, the same stack as 100 by content, and one more call. */
	int b = agent(&e);
	hello(&f, 11);
	modules(&f, &me, 7, 8);
	stack2(&f, 5, 7, me.site, 8, 0x100);
	call(&f, 5, 1000000, 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.calls, 8);
	stop(&e);

	/* Three distinct stacks, interned across agents, numbered from 1 in order of arrival. */
	cr_assert_eq(e.store.nstacks, 3);
	cr_assert_eq(e.store.nobjfiles, 2);
	const struct dbp_callstack *s1 = dbp_store_callstack_get(&e.store, 1);
	cr_assert_not_null(s1);
	cr_assert_eq(s1->nframes, 2);
	cr_assert_str_eq(s1->frames[0].obj->path, me.exe);
	cr_assert_eq(s1->frames[1].offset, 0x100);
	cr_assert_null(dbp_store_callstack_get(&e.store, 0));
	cr_assert_null(dbp_store_callstack_get(&e.store, 4));

	json_t *callers = callers_of_first_query(&e);
	cr_assert_eq(json_array_size(callers), 2);
	json_t *c0 = json_array_get(callers, 0), *c1 = json_array_get(callers, 1);
	/* The busiest site first: this binary's, 3 + 2 + 1 calls, symbolized. */
	cr_assert_str_eq(str(c0, "function"), "site_caller");
	cr_assert(ends_with(str(c0, "file"), SRC), "file %s", str(c0, "file"));
	cr_assert_eq(num(c0, "line"), me.site_line);
	cr_assert_str_eq(str(c0, "module"), me.exe);
	cr_assert_eq(num(c0, "calls"), 6);
	cr_assert_float_eq(json_real_value(json_object_get(c0, "total_ms")), 8.0, 1e-9);
	cr_assert_eq(num(c0, "stack_id"), 1); /* the first stack seen through it */
	/* A file that is gone: its offset, no source. */
	cr_assert_str_eq(str(c1, "function"), "app+0x300");
	is_null(c1, "file");
	is_null(c1, "line");
	cr_assert_str_eq(str(c1, "module"), GONE_PATH);
	cr_assert_eq(num(c1, "calls"), 1);
	cr_assert_float_eq(json_real_value(json_object_get(c1, "total_ms")), 0.5, 1e-9);
	cr_assert_eq(num(c1, "stack_id"), 3);
	cr_assert_eq(json_object_size(c0), 7);
	json_decref(callers);

	/* The statement itself counts every call, with a stack or not. */
	json_t *doc = render_json(&e, dbp_render_queries, "/queries", 200);
	json_t *q = json_array_get(json_object_get(doc, "queries"), 0);
	cr_assert_eq(num(q, "calls"), 8);
	json_decref(doc);
	/* A statement never called with a stack has an empty list. */
	static struct dbp_store s;
	dbp_store_init(&s, 10);
	struct dbp_where w = { .service = "svc", .ns = "", .server = "" };
	struct dbp_call c = { .duration_ns = 1 };
	dbp_store_observe(dbp_store_stmt(&s, &w, 1, "q", 1, "q", 1), NULL, &c);
	struct dbp_request r = { .path = "/queries", .arg = no_arg };
	struct dbp_page p = { 0 };
	dbp_render_queries(&s, &r, &p);
	cr_assert_not_null(strstr(p.body.p, "\"callers\": []"), "%.*s", (int)p.body.len, p.body.p);
	dbp_buf_free(&p.body);
	dbp_store_free(&s);
	dbp_store_free(&e.store);
}

Test(stacks, stack_page)
{
	static struct exporter e;
	static struct dbp_frame f;
	struct self me;
	self_init(&me);

	start(&e);
	int a = agent(&e);
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	stack2(&f, 100, SELF, me.site, GONE, 0xabc);
	call(&f, 100, 1000, 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.calls, 1);
	stop(&e);

	json_t *doc = render_json(&e, dbp_render_stack, "/stacks/1", 200);
	cr_assert_eq(json_object_size(doc), 2);
	cr_assert_eq(num(doc, "id"), 1);
	json_t *frames = json_object_get(doc, "frames");
	cr_assert_eq(json_array_size(frames), 2);
	json_t *f0 = json_array_get(frames, 0), *f1 = json_array_get(frames, 1);
	cr_assert_eq(json_object_size(f0), 5);
	cr_assert_str_eq(str(f0, "function"), "site_caller");
	cr_assert(ends_with(str(f0, "file"), SRC));
	cr_assert_eq(num(f0, "line"), me.site_line);
	cr_assert_str_eq(str(f0, "module"), me.exe);
	char off[32];
	snprintf(off, sizeof off, "0x%llx", (unsigned long long)me.site);
	cr_assert_str_eq(str(f0, "offset"), off);
	cr_assert_str_eq(str(f1, "function"), "app+0xabc");
	is_null(f1, "file");
	is_null(f1, "line");
	cr_assert_str_eq(str(f1, "module"), GONE_PATH);
	cr_assert_str_eq(str(f1, "offset"), "0xabc");
	json_decref(doc);

	const char *unknown[] = { "/stacks/2",  "/stacks/0",   "/stacks/",
				  "/stacks/1x", "/stacks/+1",  "/stacks/-1",
				  "/stacks/ 1", "/stacks/1/2", "/stacks/99999999999999999999",
				  "/stacks/01x" };
	for (size_t i = 0; i < sizeof unknown / sizeof unknown[0]; i++) {
		doc = render_json(&e, dbp_render_stack, unknown[i], 404);
		cr_assert_str_eq(str(doc, "error"), "no such stack");
		json_decref(doc);
	}
	/* Leading zeros are still the number. */
	doc = render_json(&e, dbp_render_stack, "/stacks/01", 200);
	cr_assert_eq(num(doc, "id"), 1);
	json_decref(doc);
	dbp_store_free(&e.store);
}

Test(stacks, call_sites_past_the_cap_fold_into_other)
{
	static struct exporter e;
	static struct dbp_frame f;
	struct self me;
	self_init(&me);

	start(&e);
	int a = agent(&e);
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	/* 20 sites in the gone file: site i gets 20 - i calls. The first 16 keep their own. */
	unsigned ncalls = 0;
	for (unsigned i = 0; i < 20; i++) {
		struct dbp_wire_frame fr = { GONE, 0x1000 + i };
		cr_assert_eq(dbp_frame_stack(&f, 200 + i, &fr, 1), 0);
		for (unsigned k = 0; k < 20 - i; k++, ncalls++)
			call(&f, 200 + i, 1000, 0);
	}
	send_frame(a, &f);
	wait_for(&e, &e.store.calls, ncalls);
	stop(&e);

	json_t *callers = callers_of_first_query(&e);
	cr_assert_eq(json_array_size(callers), DBP_CALLERS_MAX + 1);
	long long prev = 1 << 30, sum = 0;
	int other = -1;
	for (size_t i = 0; i < json_array_size(callers); i++) {
		json_t *c = json_array_get(callers, i);
		long long n = num(c, "calls");
		cr_assert_leq(n, prev, "not sorted by calls");
		prev = n;
		sum += n;
		if (!strcmp(str(c, "function"), "(other)")) {
			other = (int)i;
			is_null(c, "module");
			is_null(c, "file");
			is_null(c, "line");
			/* Sites 16..19: 4 + 3 + 2 + 1 calls; the first of them is its stack. */
			cr_assert_eq(n, 10);
			cr_assert_eq(num(c, "stack_id"), 17);
		}
	}
	cr_assert_eq(sum, ncalls);
	cr_assert_geq(other, 0, "no (other) site");
	cr_assert_str_eq(str(json_array_get(callers, 0), "function"), "app+0x1000");
	json_decref(callers);
	dbp_store_free(&e.store);
}

Test(stacks, undefined_ids_are_malformed)
{
	static struct exporter e;
	static struct dbp_frame f;
	struct self me;
	self_init(&me);

	start(&e);
	/* A STACK naming a module never defined on its connection (the other one defined it). */
	int a = agent(&e), b = agent(&e);
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	send_frame(a, &f);
	hello(&f, 11);
	stack2(&f, 100, SELF, 0x10, 3, 0x20);
	send_frame(b, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 1);
	/* A CALL naming a stack never defined. */
	int c = agent(&e);
	hello(&f, 12);
	call(&f, 100, 1000, 0);
	send_frame(c, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 2);
	/* MODULE or STACK before HELLO. */
	int d = agent(&e);
	dbp_frame_reset(&f);
	modules(&f, &me, SELF, GONE);
	send_frame(d, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 3);
	/* Redefining a stack id replaces it: calls after count under the new site. */
	int g = agent(&e);
	hello(&f, 13);
	modules(&f, &me, SELF, GONE);
	stack2(&f, 100, GONE, 0x10, GONE, 0x20);
	call(&f, 100, 1000, 0);
	stack2(&f, 100, GONE, 0x30, GONE, 0x20);
	call(&f, 100, 1000, 0);
	send_frame(g, &f);
	wait_for(&e, &e.store.calls, 2);
	stop(&e);
	cr_assert_eq(e.store.decode_errors[DBP_DECODE_MALFORMED], 3);
	json_t *callers = callers_of_first_query(&e);
	cr_assert_eq(json_array_size(callers), 2);
	json_decref(callers);
	dbp_store_free(&e.store);
}

Test(stacks, slow_calls_log_their_stack)
{
	static struct exporter e;
	static struct dbp_frame f;
	static char line[4096];
	struct self me;
	self_init(&me);

	start(&e);
	int a = agent(&e);
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	stack2(&f, 100, SELF, me.site, GONE, 0x100);
	call(&f, 100, 150000000, DBP_CALL_SLOW);
	call(&f, 0, 150000000, DBP_CALL_SLOW);
	send_frame(a, &f);
	wait_for(&e, &e.store.calls, 2);
	stop(&e);
	cr_assert_eq(e.slowlog.written, 2);
	rewind(e.slowlog.out);

	cr_assert_not_null(fgets(line, sizeof line, e.slowlog.out));
	json_error_t err;
	json_t *o = json_loads(line, 0, &err);
	cr_assert_not_null(o, "%s: %s", err.text, line);
	json_t *stack = json_object_get(o, "stack");
	cr_assert_eq(json_array_size(stack), 2);
	char want[600];
	snprintf(want, sizeof want, "site_caller (%s:%u)", SRC, me.site_line);
	const char *f0 = json_string_value(json_array_get(stack, 0));
	cr_assert_not_null(f0);
	cr_assert(strstr(f0, "site_caller (/") == f0 &&
			  ends_with(f0, want + strlen("site_caller (")),
		  "%s", f0);
	cr_assert_str_eq(json_string_value(json_array_get(stack, 1)), "app+0x100");
	json_decref(o);
	/* The call without a stack has no "stack". */
	cr_assert_not_null(fgets(line, sizeof line, e.slowlog.out));
	o = json_loads(line, 0, &err);
	cr_assert_not_null(o);
	cr_assert_null(json_object_get(o, "stack"));
	json_decref(o);
	fclose(e.slowlog.out);
	/* Only the call with a stack counts in callers. */
	json_t *callers = callers_of_first_query(&e);
	cr_assert_eq(json_array_size(callers), 1);
	cr_assert_eq(num(json_array_get(callers, 0), "calls"), 1);
	json_decref(callers);
	dbp_store_free(&e.store);
}

Test(stacks, slow_log_is_written_outside_the_store_lock, .timeout = 30)
{
	static struct exporter e;
	static struct dbp_frame f;
	static char filler[4096], got[sizeof filler + 4096];
	struct self me;
	self_init(&me);

	/* A slow log that blocks: a full pipe. Symbolizing a stack may take as long (files to read,
	 * a debuginfod server to wait on); either way the store must stay available meanwhile. */
	int p[2];
	cr_assert_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	fcntl(p[1], F_SETPIPE_SZ, (int)sizeof filler);
	memset(filler, 'x', sizeof filler);
	size_t filled = 0;
	ssize_t n;
	while ((n = write(p[1], filler, sizeof filler)) > 0)
		filled += (size_t)n;
	cr_assert_eq(errno, EAGAIN);
	cr_assert_leq(filled, sizeof filler);
	cr_assert_eq(fcntl(p[1], F_SETFL, 0), 0); /* the slow log's writes now block */
	FILE *out = fdopen(p[1], "w");
	cr_assert_not_null(out);

	start_with(&e, out);
	int a = agent(&e);
	hello(&f, 10);
	modules(&f, &me, SELF, GONE);
	stack2(&f, 100, SELF, me.site, GONE, 0x100);
	call(&f, 100, 150000000, DBP_CALL_SLOW);
	send_frame(a, &f);
	/* The call is counted, then its line blocks: the lock must not be held meanwhile. */
	uint64_t calls = 0;
	for (int i = 0; i < 5000 && calls < 1; i++) {
		if (pthread_mutex_trylock(&e.store.lock) == 0) {
			calls = e.store.calls;
			pthread_mutex_unlock(&e.store.lock);
		}
		if (calls < 1)
			usleep(1000);
	}
	cr_assert_eq(calls, 1, "the store's lock was held while the slow log blocked");
	usleep(100000); /* the line is being written into the full pipe by now */
	for (int i = 0; i < 50; i++) {
		cr_assert_eq(pthread_mutex_trylock(&e.store.lock), 0,
			     "the store's lock was held while the slow log blocked");
		pthread_mutex_unlock(&e.store.lock);
		usleep(1000);
	}
	/* Drain the pipe: the filler, then the line, whole and in its usual form. */
	cr_assert_eq(fcntl(p[0], F_SETFL, 0), 0);
	size_t have = 0;
	while (have < sizeof got - 1 && !(have > filled && got[have - 1] == '\n')) {
		n = read(p[0], got + have, sizeof got - 1 - have);
		cr_assert_gt(n, 0);
		have += (size_t)n;
	}
	got[have] = 0;
	stop(&e);
	cr_assert_eq(e.slowlog.written, 1);
	json_error_t err;
	json_t *o = json_loads(got + filled, 0, &err);
	cr_assert_not_null(o, "%s: %s", err.text, got + filled);
	cr_assert_str_eq(json_string_value(json_object_get(o, "query")), "SELECT ?");
	json_t *stack = json_object_get(o, "stack");
	cr_assert_eq(json_array_size(stack), 2);
	const char *f0 = json_string_value(json_array_get(stack, 0));
	cr_assert_not_null(f0);
	cr_assert(strstr(f0, "site_caller (/") == f0, "%s", f0);
	cr_assert_str_eq(json_string_value(json_array_get(stack, 1)), "app+0x100");
	json_decref(o);
	fclose(out);
	close(p[0]);
	dbp_store_free(&e.store);
}

/* Appends a record with add; when the frame is full, sends it and starts another. */
#define ADD_OR_SEND(fd, f, add)                 \
	do {                                    \
		if ((add) < 0) {                \
			send_frame(fd, f);      \
			dbp_frame_reset(f);     \
			cr_assert_eq((add), 0); \
		}                               \
	} while (0)

/* Waits (5 s at most) for the exporter to close the connection. */
static void expect_closed(int fd)
{
	struct pollfd pfd = { .fd = fd, .events = POLLIN };
	cr_assert_eq(poll(&pfd, 1, 5000), 1, "the connection is still open");
	char b;
	cr_assert_eq(recv(fd, &b, 1, 0), 0, "the connection is still open");
	close(fd);
}

Test(stacks, modules_and_stacks_per_connection_are_capped)
{
	static struct exporter e;
	static struct dbp_frame f;
	char path[32];
	start(&e);

	/* MODULE: the cap's worth of ids, then one already defined (allowed), then a new one. */
	int a = agent(&e);
	hello(&f, 10); /* HELLO and QUERY: 2 records */
	for (unsigned id = 1; id <= DBP_CONN_MODULES_MAX; id++) {
		int len = snprintf(path, sizeof path, "/m/%u", id);
		ADD_OR_SEND(a, &f, dbp_frame_module(&f, id, 0, path, (size_t)len, NULL, 0));
	}
	cr_assert_eq(dbp_frame_module(&f, 1, 0, "/m/1", 4, NULL, 0), 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 2 + DBP_CONN_MODULES_MAX + 1);
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_module(&f, DBP_CONN_MODULES_MAX + 1, 0, "/m/x", 4, NULL, 0), 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 1);
	expect_closed(a);
	pthread_mutex_lock(&e.store.lock);
	cr_assert_eq(e.store.nobjfiles, DBP_CONN_MODULES_MAX);
	uint64_t records = e.store.records;
	pthread_mutex_unlock(&e.store.lock);

	/* STACK: the same. */
	int b = agent(&e);
	hello(&f, 11);
	cr_assert_eq(dbp_frame_module(&f, 1, 0, "/m/1", 4, NULL, 0), 0);
	for (unsigned id = 1; id <= DBP_CONN_STACKS_MAX; id++) {
		struct dbp_wire_frame fr = { 1, id };
		ADD_OR_SEND(b, &f, dbp_frame_stack(&f, id, &fr, 1));
	}
	struct dbp_wire_frame fr = { 1, 7 };
	cr_assert_eq(dbp_frame_stack(&f, DBP_CONN_STACKS_MAX, &fr, 1), 0);
	call(&f, DBP_CONN_STACKS_MAX, 1000, 0); /* the redefinition holds */
	send_frame(b, &f);
	wait_for(&e, &e.store.calls, 1);
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_stack(&f, DBP_CONN_STACKS_MAX + 1, &fr, 1), 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 2);
	expect_closed(b);
	stop(&e);
	cr_assert_eq(e.store.records, records + 3 + DBP_CONN_STACKS_MAX + 2);
	cr_assert_eq(e.store.nobjfiles, DBP_CONN_MODULES_MAX); /* "/m/1" again */
	cr_assert_eq(e.store.nstacks, DBP_CONN_STACKS_MAX);    /* offset 7 was one of them */
	json_t *callers = callers_of_first_query(&e);
	cr_assert_eq(json_array_size(callers), 1);
	cr_assert_str_eq(str(json_array_get(callers, 0), "function"), "1+0x7");
	json_decref(callers);
	dbp_store_free(&e.store);
}

Test(stacks, queries_and_strings_per_connection_are_capped)
{
	static struct exporter e;
	static struct dbp_frame f;
	char text[32];
	start(&e);

	/* QUERY: the cap's worth of ids (QID among them), then QID redefined (allowed) and called,
	 * then a new id. Texts wait on the connection: none reaches the string table uncalled. */
	int a = agent(&e);
	hello(&f, 10); /* HELLO and QUERY QID */
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 2);
	pthread_mutex_lock(&e.store.lock);
	size_t nstrings = e.store.strings.n;
	pthread_mutex_unlock(&e.store.lock);
	dbp_frame_reset(&f);
	for (unsigned id = 1000; id < 1000 + DBP_CONN_QUERIES_MAX - 1; id++) {
		int len = snprintf(text, sizeof text, "SELECT %u", id);
		ADD_OR_SEND(a, &f, dbp_frame_query(&f, id, 0, text, (size_t)len, "SELECT", 6));
	}
	cr_assert_eq(dbp_frame_query(&f, QID, 0, "SELECT 2", 8, "SELECT t", 8), 0);
	call(&f, 0, 1000, 0); /* the redefinition holds */
	send_frame(a, &f);
	wait_for(&e, &e.store.calls, 1);
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_query(&f, 999, 0, "SELECT x", 8, "SELECT", 6), 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 1);
	expect_closed(a);
	pthread_mutex_lock(&e.store.lock);
	/* The called statement's text and summary, and the "" of its where. */
	cr_assert_leq(e.store.strings.n, nstrings + 3);
	pthread_mutex_unlock(&e.store.lock);

	/* STRING: the same; the cap counts (id, kind) pairs. */
	int b = agent(&e);
	hello(&f, 11);
	for (unsigned id = 1; id <= DBP_CONN_STRINGS_MAX; id++) {
		int len = snprintf(text, sizeof text, "db%u", id);
		ADD_OR_SEND(b, &f, dbp_frame_string(&f, id, DBP_STR_NAMESPACE, text, (size_t)len));
	}
	cr_assert_eq(dbp_frame_string(&f, 1, DBP_STR_NAMESPACE, "main", 4), 0);
	struct dbp_call c = { .query_id = QID,
			      .namespace_id = 1,
			      .start_unix_ns = 1700000000000000000ull,
			      .duration_ns = 1000,
			      .db_system = DBP_DB_SQLITE };
	cr_assert_eq(dbp_frame_call(&f, &c, 0), 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.calls, 2);
	dbp_frame_reset(&f);
	cr_assert_eq(dbp_frame_string(&f, 1, DBP_STR_SERVER, "db:5432", 7), 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 2);
	expect_closed(b);
	stop(&e);

	json_t *doc = render_json(&e, dbp_render_queries, "/queries", 200);
	json_t *qs = json_object_get(doc, "queries");
	cr_assert_eq(json_array_size(qs), 2); /* one per namespace */
	for (size_t i = 0; i < 2; i++) {
		json_t *q = json_array_get(qs, i);
		/* The first connection's redefinition; the second's hello() text, "main" its
		 * redefined namespace. */
		int first = !*str(q, "db_namespace");
		cr_assert_str_eq(str(q, "query"), first ? "SELECT 2" : "SELECT ?");
		cr_assert_str_eq(str(q, "summary"), first ? "SELECT t" : "SELECT");
		if (!first)
			cr_assert_str_eq(str(q, "db_namespace"), "main");
	}
	json_decref(doc);
	dbp_store_free(&e.store);
}

/* ---- the store alone ---- */

Test(stacks, store_interns_by_content)
{
	static struct dbp_store s;
	dbp_store_init(&s, 10);
	const uint8_t id1[3] = { 1, 2, 3 }, id2[3] = { 1, 2, 4 };
	const struct dbp_objfile *a = dbp_store_objfile(&s, "/lib/a.so", 9, id1, 3);
	cr_assert_eq(dbp_store_objfile(&s, "/lib/a.so", 9, id1, 3), a);
	const struct dbp_objfile *b = dbp_store_objfile(&s, "/lib/a.so", 9, id2, 3);
	const struct dbp_objfile *c = dbp_store_objfile(&s, "/lib/a.so", 9, NULL, 0);
	cr_assert_neq(a, b);
	cr_assert_neq(a, c);
	cr_assert_neq(b, c);
	cr_assert_eq(s.nobjfiles, 3);

	struct dbp_callframe f[3] = { { a, 1 }, { b, 2 }, { c, 3 } };
	const struct dbp_callstack *s1 = dbp_store_callstack(&s, f, 3);
	const struct dbp_callstack *s2 = dbp_store_callstack(&s, f, 2); /* a prefix: another */
	cr_assert_eq(dbp_store_callstack(&s, f, 3), s1);
	f[1].obj = a; /* same offsets, another module */
	const struct dbp_callstack *s3 = dbp_store_callstack(&s, f, 3);
	cr_assert_eq(s1->id, 1);
	cr_assert_eq(s2->id, 2);
	cr_assert_eq(s3->id, 3);
	cr_assert_eq(dbp_store_callstack_get(&s, 2), s2);

	/* Callers: the same first frame is one site whatever follows; the first stack stays. */
	struct dbp_where w = { .service = "svc", .ns = "", .server = "" };
	struct dbp_stmt *st = dbp_store_stmt(&s, &w, 42, "q", 1, "q", 1);
	dbp_store_caller(st, &s1->frames[0], s1->id, 10);
	dbp_store_caller(st, &s3->frames[0], s3->id, 20);
	dbp_store_caller(st, &s3->frames[0], 0, 30);
	cr_assert_eq(st->ncallers, 1);
	cr_assert_eq(st->callers[0].calls, 3);
	cr_assert_eq(st->callers[0].total_ns, 60);
	cr_assert_eq(st->callers[0].stack_id, 1);
	/* A site first seen without a kept stack takes the next one it is given. */
	struct dbp_callframe other = { b, 9 };
	dbp_store_caller(st, &other, 0, 1);
	dbp_store_caller(st, &other, 2, 1);
	cr_assert_eq(st->ncallers, 2);
	cr_assert_eq(st->callers[1].stack_id, 2);
	dbp_store_free(&s);
}

Test(stacks, store_caps)
{
	static struct dbp_store s;
	char path[32];
	dbp_store_init(&s, 10);
	/* Modules past the cap all become "(other)", never a wrong one. */
	const struct dbp_objfile *first = NULL;
	for (unsigned i = 0; i < DBP_OBJFILES_MAX; i++) {
		int n = snprintf(path, sizeof path, "/lib/m%u.so", i);
		const struct dbp_objfile *o = dbp_store_objfile(&s, path, (size_t)n, NULL, 0);
		cr_assert_neq(o, &s.other_obj);
		if (!first)
			first = o;
	}
	cr_assert_eq(dbp_store_objfile(&s, "/lib/new.so", 11, NULL, 0), &s.other_obj);
	cr_assert_eq(dbp_store_objfile(&s, "/lib/m0.so", 10, NULL, 0), first); /* still found */
	cr_assert_str_eq(s.other_obj.path, "(other)");
	/* Past the cap, new paths are not interned: the string table stays as it is. */
	size_t nstrings = s.strings.n;
	for (unsigned i = 0; i < 1000; i++) {
		int n = snprintf(path, sizeof path, "/flood/%u.so", i);
		cr_assert_eq(dbp_store_objfile(&s, path, (size_t)n, NULL, 0), &s.other_obj);
	}
	cr_assert_eq(s.strings.n, nstrings);
	/* Found by content, not by pointer: a copy of a kept path, not NUL-terminated. */
	char copy[16];
	memcpy(copy, "/lib/m0.soXYZ", 13);
	cr_assert_eq(dbp_store_objfile(&s, copy, 10, NULL, 0), first);
	/* Stacks past the cap are not kept, and counted; the kept ones still resolve. */
	for (unsigned i = 0; i < DBP_STACKS_MAX; i++) {
		struct dbp_callframe f = { first, i };
		const struct dbp_callstack *cs = dbp_store_callstack(&s, &f, 1);
		cr_assert_not_null(cs);
		cr_assert_eq(cs->id, i + 1);
	}
	struct dbp_callframe f = { first, DBP_STACKS_MAX };
	cr_assert_null(dbp_store_callstack(&s, &f, 1));
	cr_assert_eq(s.stacks_dropped, 1);
	f.offset = 7;
	cr_assert_eq(dbp_store_callstack(&s, &f, 1)->id, 8);
	cr_assert_eq(dbp_store_callstack_get(&s, DBP_STACKS_MAX)->frames[0].offset,
		     DBP_STACKS_MAX - 1);
	cr_assert_null(dbp_store_callstack_get(&s, DBP_STACKS_MAX + 1));
	dbp_store_free(&s);
}

Test(stacks, folded_statements_intern_no_text)
{
	static struct dbp_store s;
	char text[32];
	dbp_store_init(&s, 2);
	struct dbp_where w = { .service = "svc", .ns = "", .server = "" };
	struct dbp_stmt *a = dbp_store_stmt(&s, &w, 1, "SELECT 1", 8, "SELECT", 6);
	cr_assert_str_eq(a->text, "SELECT 1");
	cr_assert_eq(a->text, dbp_store_intern(&s, "SELECT 1", 8));
	cr_assert_not_null(dbp_store_stmt(&s, &w, 2, "SELECT 2", 8, "SELECT", 6));
	struct dbp_stmt *other = dbp_store_stmt(&s, &w, 3, "SELECT 3", 8, "SELECT", 6);
	cr_assert_eq(other->fingerprint, DBP_OTHER_FINGERPRINT);
	cr_assert_str_eq(other->text, "(other)");
	cr_assert_str_eq(other->summary, "other");
	/* Past the cap, new texts and summaries are not interned: the string table stays. */
	size_t nstrings = s.strings.n;
	for (unsigned i = 4; i < 1000; i++) {
		int n = snprintf(text, sizeof text, "SELECT %u", i);
		cr_assert_eq(dbp_store_stmt(&s, &w, i, text, (size_t)n, text, (size_t)n), other);
	}
	cr_assert_eq(s.strings.n, nstrings);
	cr_assert_eq(s.folded_fingerprints, 997);
	cr_assert_eq(dbp_store_stmt(&s, &w, 1, "SELECT x", 8, "S", 1), a); /* kept: found */
	cr_assert_str_eq(a->text, "SELECT 1");
	dbp_store_free(&s);
}
