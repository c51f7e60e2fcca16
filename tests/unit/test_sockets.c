/* test_sockets: socket writes through the exporter: frames sent to a live ingest socket, then
 * the store, /metrics, /sockets, /queries and the slow log. */
#include <criterion/criterion.h>
#include <errno.h>
#include <jansson.h>
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
#include "sockstore.h"
#include "store.h"

static void start(struct exporter *e, unsigned max_fingerprints, int64_t slow_ns)
{
	harness_start(e, max_fingerprints, slow_ns, NULL);
}

static void stop(struct exporter *e)
{
	harness_stop(e);
	fclose(e->slowlog.out);
}

/* ---- frames ---- */

static void hello(struct dbp_frame *f, uint32_t pid, const char *service)
{
	dbp_frame_reset(f);
	cr_assert_eq(dbp_frame_hello(f, pid, 1, 1700000000000000000ull, "/usr/bin/app", 12, service,
				     strlen(service)),
		     0);
}

static void peer(struct dbp_frame *f, uint64_t id, const char *p)
{
	cr_assert_eq(dbp_frame_string(f, id, DBP_STR_PEER, p, strlen(p)), 0);
}

struct err {
	uint32_t err_no;
	uint64_t count;
};

/* A SOCKET record; bucket b gets calls - nfail calls, the last bucket the failed ones. */
static void sock(struct dbp_frame *f, uint64_t peer_id, uint8_t dir, uint8_t sys, uint64_t calls,
		 uint64_t bytes, uint64_t sum_ns, unsigned b, const struct err *errs, unsigned nerr)
{
	struct dbp_sock r = { .peer_id = peer_id,
			      .calls = calls,
			      .bytes = bytes,
			      .sum_ns = sum_ns,
			      .direction = dir,
			      .db_system = sys,
			      .nerr = (uint16_t)nerr };
	struct dbp_sock_err e[DBP_SOCK_ERR_MAX] = { 0 };
	uint64_t failed = 0;
	for (unsigned i = 0; i < nerr; i++) {
		e[i] = (struct dbp_sock_err){ .err_no = errs[i].err_no, .count = errs[i].count };
		failed += errs[i].count;
	}
	r.buckets[b] += calls - failed;
	r.buckets[DBP_SOCK_BUCKETS - 1] += failed;
	cr_assert_eq(dbp_frame_sock(f, &r, e), 0);
}

/* ---- rendering ---- */

static const char *no_arg(const struct dbp_request *r, const char *name)
{
	(void)r;
	(void)name;
	return NULL;
}

/* The page as a NUL-terminated string (free it). */
static char *render(struct exporter *e,
		    void (*fn)(struct dbp_store *, const struct dbp_request *, struct dbp_page *))
{
	struct dbp_request r = { .path = "/", .arg = no_arg };
	struct dbp_page p = { 0 };
	fn(&e->store, &r, &p);
	cr_assert_eq(p.status, 200);
	cr_assert_not(p.body.oom);
	char *s = strndup(p.body.p, p.body.len);
	dbp_buf_free(&p.body);
	cr_assert_not_null(s);
	return s;
}

static json_t *render_json(struct exporter *e,
			   void (*fn)(struct dbp_store *, const struct dbp_request *,
				      struct dbp_page *))
{
	char *s = render(e, fn);
	json_error_t err;
	json_t *doc = json_loads(s, 0, &err);
	cr_assert_not_null(doc, "bad JSON: %s\n%s", err.text, s);
	free(s);
	return doc;
}

/* The text from the line starting with `from` up to (not including) the one starting `to`. */
static char *between(const char *page, const char *from, const char *to)
{
	const char *a = strstr(page, from);
	cr_assert_not_null(a, "no %s in\n%s", from, page);
	const char *b = strstr(a, to);
	cr_assert_not_null(b, "no %s in\n%s", to, page);
	return strndup(a, (size_t)(b - a));
}

/* ---- tests ---- */

#define LBL                                                                                       \
	"service_name=\"checkout\",peer=\"10.0.0.5:5432\",direction=\"outbound\",db_system_name=" \
	"\"postgresql\""

static const char ONE_SERIES[] =
	"# HELP dbprobe_socket_write_bytes_total Bytes written to sockets, by peer and direction, "
	"and by database system when written inside a database call.\n"
	"# TYPE dbprobe_socket_write_bytes_total counter\n"
	"dbprobe_socket_write_bytes_total{" LBL "} 1024\n"
	"# HELP dbprobe_socket_write_calls_total Socket write calls, failed ones included.\n"
	"# TYPE dbprobe_socket_write_calls_total counter\n"
	"dbprobe_socket_write_calls_total{" LBL "} 5\n"
	"# HELP dbprobe_socket_write_errors_total Socket write calls that failed, by errno name "
	"(EAGAIN included).\n"
	"# TYPE dbprobe_socket_write_errors_total counter\n"
	"dbprobe_socket_write_errors_total{" LBL ",error_type=\"EPIPE\"} 2\n"
	"dbprobe_socket_write_errors_total{" LBL ",error_type=\"EAGAIN\"} 1\n"
	"# HELP dbprobe_socket_write_duration_seconds Time spent in socket write calls.\n"
	"# TYPE dbprobe_socket_write_duration_seconds histogram\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"1.024e-06\"} 0\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"2.048e-06\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"4.096e-06\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"8.192e-06\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"1.6384e-05\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"3.2768e-05\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"6.5536e-05\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.000131072\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.000262144\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.000524288\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.001048576\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.002097152\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.004194304\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.008388608\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.016777216\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.033554432\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.067108864\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.134217728\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.268435456\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"0.536870912\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"1.073741824\"} 2\n"
	"dbprobe_socket_write_duration_seconds_bucket{" LBL ",le=\"+Inf\"} 5\n"
	"dbprobe_socket_write_duration_seconds_sum{" LBL "} 2.000003\n"
	"dbprobe_socket_write_duration_seconds_count{" LBL "} 5\n";

Test(sockets, deltas_add_up_across_frames_and_connections)
{
	static struct exporter e;
	static struct dbp_frame f;
	static const struct err epipe = { 32, 1 }, both[] = { { 11, 1 }, { 32, 1 } };

	start(&e, 100, -1);
	int a = agent(&e), b = agent(&e);
	/* Frame 1: 2 writes in bucket 1, one failed with EPIPE (in +Inf). */
	hello(&f, 100, "checkout");
	peer(&f, 7, "10.0.0.5:5432");
	sock(&f, 7, DBP_DIR_OUTBOUND, DBP_DB_POSTGRESQL, 3, 1000, 3000, 1, &epipe, 1);
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 3);
	/* Frame 2, same connection: two more failed (EAGAIN, EPIPE), ~1 s each. */
	dbp_frame_reset(&f);
	sock(&f, 7, DBP_DIR_OUTBOUND, DBP_DB_POSTGRESQL, 2, 24, 2000000000, 1, both, 2);
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 4);
	/* Another process of the service, another id for the same peer: the same series. The
	 * first delta is empty; the records it sends along don't touch the series. */
	hello(&f, 101, "checkout");
	peer(&f, 99, "10.0.0.5:5432");
	sock(&f, 99, DBP_DIR_OUTBOUND, DBP_DB_POSTGRESQL, 0, 0, 0, 0, NULL, 0);
	uint64_t drops[DBP_DROP_REASON_COUNT] = { [DBP_DROP_SOCKET_SLOTS] = 6 };
	cr_assert_eq(dbp_frame_drops(&f, drops), 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.records, 8);
	stop(&e);

	cr_assert_eq(e.store.socks.series.n, 1);
	cr_assert_eq(e.store.socks.npeers, 1);
	cr_assert_eq(e.store.socks.peers_folded, 0);
	cr_assert_eq(e.store.decode_errors[DBP_DECODE_MALFORMED], 0);

	char *page = render(&e, dbp_render_metrics);
	char *block = between(page, "# HELP dbprobe_socket_write_bytes_total",
			      "# HELP dbprobe_socket_peers ");
	cr_assert_str_eq(block, ONE_SERIES);
	cr_assert_not_null(strstr(page, "\ndbprobe_socket_peers 1\n"));
	cr_assert_not_null(strstr(page, "\ndbprobe_socket_peers_folded_total 0\n"));
	cr_assert_not_null(
		strstr(page, "\ndbprobe_agent_drops_total{reason=\"socket_slots\"} 6\n"));
	cr_assert_not_null(strstr(page, "\ndbprobe_records_received_total 8\n"));
	free(block);
	free(page);

	json_t *doc = render_json(&e, dbp_render_sockets);
	cr_assert_eq(json_object_size(doc), 2);
	json_t *socks = json_object_get(doc, "sockets");
	cr_assert_eq(json_array_size(socks), 1);
	json_t *o = json_array_get(socks, 0);
	cr_assert_str_eq(json_string_value(json_object_get(o, "service_name")), "checkout");
	cr_assert_str_eq(json_string_value(json_object_get(o, "peer")), "10.0.0.5:5432");
	cr_assert_str_eq(json_string_value(json_object_get(o, "direction")), "outbound");
	cr_assert_str_eq(json_string_value(json_object_get(o, "db_system_name")), "postgresql");
	cr_assert_eq(json_integer_value(json_object_get(o, "calls")), 5);
	cr_assert_eq(json_integer_value(json_object_get(o, "bytes")), 1024);
	json_t *errs = json_object_get(o, "errors");
	cr_assert_eq(json_object_size(errs), 2);
	cr_assert_eq(json_integer_value(json_object_get(errs, "EPIPE")), 2);
	cr_assert_eq(json_integer_value(json_object_get(errs, "EAGAIN")), 1);
	cr_assert_float_eq(json_real_value(json_object_get(o, "duration_seconds_sum")), 2.000003,
			   1e-12);
	/* The slowest writes are past the last bound. */
	cr_assert(json_is_null(json_object_get(o, "duration_seconds_max_bucket")));
	cr_assert_eq(json_array_size(json_object_get(doc, "slow_writes")), 0);
	json_decref(doc);
	dbp_store_free(&e.store);
}

Test(sockets, peers_past_the_cap_fold_into_other)
{
	static struct exporter e;
	static struct dbp_frame f;
	static const char *const peers[] = { "10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80",
					     "unix:/run/a\"b.sock" };

	start(&e, 2, -1);
	int a = agent(&e), b = agent(&e);
	hello(&f, 1, "web");
	for (uint64_t i = 0; i < 4; i++)
		peer(&f, i + 1, peers[i]);
	for (uint64_t i = 0; i < 4; i++)
		sock(&f, i + 1, DBP_DIR_OUTBOUND, DBP_DB_NONE, 1, 10, 1000, 0, NULL, 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 9);
	/* Again: the folded peers stay folded and are not counted twice. Inbound is another
	 * series of the same peer, not another peer. */
	dbp_frame_reset(&f);
	for (uint64_t i = 0; i < 4; i++)
		sock(&f, i + 1, DBP_DIR_OUTBOUND, DBP_DB_NONE, 1, 10, 1000, 0, NULL, 0);
	sock(&f, 1, DBP_DIR_INBOUND, DBP_DB_NONE, 1, 5, 1000, 0, NULL, 0);
	send_frame(a, &f);
	wait_for(&e, &e.store.records, 14);
	/* The cap is per service: another one keeps its own two. */
	hello(&f, 2, "batch");
	peer(&f, 1, peers[2]);
	peer(&f, 2, peers[3]);
	sock(&f, 1, DBP_DIR_OUTBOUND, DBP_DB_NONE, 1, 1, 1000, 0, NULL, 0);
	sock(&f, 2, DBP_DIR_OUTBOUND, DBP_DB_NONE, 1, 1, 1000, 0, NULL, 0);
	send_frame(b, &f);
	wait_for(&e, &e.store.records, 19);
	stop(&e);

	cr_assert_eq(e.store.socks.npeers, 4);
	cr_assert_eq(e.store.socks.peers_folded, 2);
	char *page = render(&e, dbp_render_metrics);
	cr_assert_not_null(strstr(page, "\ndbprobe_socket_peers 4\n"));
	cr_assert_not_null(strstr(page, "\ndbprobe_socket_peers_folded_total 2\n"));
	static const char *const want[] = {
		"dbprobe_socket_write_calls_total{service_name=\"web\",peer=\"10.0.0.1:80\","
		"direction=\"outbound\",db_system_name=\"\"} 2\n",
		"dbprobe_socket_write_calls_total{service_name=\"web\",peer=\"10.0.0.1:80\","
		"direction=\"inbound\",db_system_name=\"\"} 1\n",
		"dbprobe_socket_write_calls_total{service_name=\"web\",peer=\"10.0.0.2:80\","
		"direction=\"outbound\",db_system_name=\"\"} 2\n",
		"dbprobe_socket_write_bytes_total{service_name=\"web\",peer=\"(other)\","
		"direction=\"outbound\",db_system_name=\"\"} 40\n",
		"dbprobe_socket_write_calls_total{service_name=\"web\",peer=\"(other)\","
		"direction=\"outbound\",db_system_name=\"\"} 4\n",
		"dbprobe_socket_write_calls_total{service_name=\"batch\",peer=\"10.0.0.3:80\","
		"direction=\"outbound\",db_system_name=\"\"} 1\n",
		"dbprobe_socket_write_calls_total{service_name=\"batch\",peer=\"unix:/run/"
		"a\\\"b.sock\","
		"direction=\"outbound\",db_system_name=\"\"} 1\n",
	};
	for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
		cr_assert_not_null(strstr(page, want[i]), "missing %s", want[i]);
	cr_assert_null(strstr(page, "peer=\"10.0.0.3:80\",direction=\"outbound\",db_system_name="
				    "\"\"} 2"));
	cr_assert_eq(e.store.socks.series.n, 6);
	free(page);
	dbp_store_free(&e.store);
}

/* Each frame on a connection of its own, as the first after HELLO; all must be refused. */
Test(sockets, records_naming_no_peer_are_malformed)
{
	static struct exporter e;
	static struct dbp_frame f;
	struct dbp_sockwrite w = { .peer_id = 5, .duration_ns = 1 };

	start(&e, 100, -1);
	for (int k = 0; k < 4; k++) {
		int fd = agent(&e);
		hello(&f, 1, "svc");
		if (k == 1) /* the id names a SERVER string, not a PEER */
			cr_assert_eq(dbp_frame_string(&f, 5, DBP_STR_SERVER, "db", 2), 0);
		if (k < 2)
			sock(&f, 5, DBP_DIR_OUTBOUND, DBP_DB_NONE, 1, 1, 1, 0, NULL, 0);
		else if (k == 2)
			cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
		send_frame(fd, &f);
		if (k == 3) { /* before HELLO */
			dbp_frame_reset(&f);
			peer(&f, 5, "x:1");
			cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
			int fd2 = agent(&e);
			send_frame(fd2, &f);
		}
	}
	wait_for(&e, &e.store.decode_errors[DBP_DECODE_MALFORMED], 4);
	stop(&e);
	cr_assert_eq(e.store.socks.series.n, 0);
	cr_assert_eq(e.store.socks.nslow, 0);
	dbp_store_free(&e.store);
}

Test(sockets, slow_writes_keep_the_last_hundred)
{
	static struct exporter e;
	static struct dbp_frame f;

	start(&e, 100, -1);
	int fd = agent(&e);
	hello(&f, 42, "api");
	peer(&f, 3, "[::1]:8080");
	for (uint32_t i = 0; i < DBP_SLOW_WRITES_KEPT + 5; i++) {
		struct dbp_sockwrite w = {
			.peer_id = 3,
			.start_unix_ns = 1700000000000000000ull + i * 1000000000ull,
			.duration_ns = 250000000 + i,
			.bytes = i % 2 ? 0 : 4096,
			.err_no = i % 2 ? 11 : 0,
			.tid = 1000 + i,
			.direction = DBP_DIR_INBOUND,
			.db_system = DBP_DB_MYSQL,
		};
		cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
	}
	send_frame(fd, &f);
	wait_for(&e, &e.store.records, 2 + DBP_SLOW_WRITES_KEPT + 5);
	stop(&e);

	json_t *doc = render_json(&e, dbp_render_sockets);
	json_t *slow = json_object_get(doc, "slow_writes");
	cr_assert_eq(json_array_size(slow), DBP_SLOW_WRITES_KEPT);
	/* Newest first: the last one sent (i = 104, failed), down to i = 5. */
	json_t *o = json_array_get(slow, 0);
	cr_assert_str_eq(json_string_value(json_object_get(o, "service_name")), "api");
	cr_assert_eq(json_integer_value(json_object_get(o, "pid")), 42);
	cr_assert_eq(json_integer_value(json_object_get(o, "tid")), 1104);
	cr_assert_str_eq(json_string_value(json_object_get(o, "peer")), "[::1]:8080");
	cr_assert_str_eq(json_string_value(json_object_get(o, "direction")), "inbound");
	cr_assert_str_eq(json_string_value(json_object_get(o, "db_system_name")), "mysql");
	cr_assert_str_eq(json_string_value(json_object_get(o, "start_time")),
			 "2023-11-14T22:15:04.000Z");
	cr_assert_float_eq(json_real_value(json_object_get(o, "duration_ms")), 250.000104, 1e-9);
	cr_assert_eq(json_integer_value(json_object_get(o, "bytes")), 4096);
	cr_assert(json_is_null(json_object_get(o, "error_type")));
	o = json_array_get(slow, 1);
	cr_assert_eq(json_integer_value(json_object_get(o, "tid")), 1103);
	cr_assert_str_eq(json_string_value(json_object_get(o, "error_type")), "EAGAIN");
	cr_assert_eq(json_integer_value(json_object_get(o, "bytes")), 0);
	o = json_array_get(slow, DBP_SLOW_WRITES_KEPT - 1);
	cr_assert_eq(json_integer_value(json_object_get(o, "tid")), 1005);
	json_decref(doc);
	/* SOCKWRITE alone makes no series: SOCKET records count the writes. */
	cr_assert_eq(e.store.socks.series.n, 0);
	cr_assert_eq(e.slowlog.written, DBP_SLOW_WRITES_KEPT + 5);
	dbp_store_free(&e.store);
}

Test(sockets, slow_writes_in_the_slow_log)
{
	static struct exporter e;
	static struct dbp_frame f;
	static char line[1024];

	start(&e, 100, 2000000); /* --slow-ms 2: only the second write goes to the log */
	FILE *log = e.slowlog.out;
	int fd = agent(&e);
	hello(&f, 7, "api");
	peer(&f, 3, "unix:/run/x.sock");
	struct dbp_sockwrite w = { .peer_id = 3,
				   .start_unix_ns = 1700000000123456789ull,
				   .duration_ns = 1500000,
				   .bytes = 10,
				   .tid = 9 };
	cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
	w.duration_ns = 2500000;
	w.err_no = 32;
	w.bytes = 0;
	w.db_system = DBP_DB_POSTGRESQL;
	cr_assert_eq(dbp_frame_sockwrite(&f, &w), 0);
	send_frame(fd, &f);
	wait_for(&e, &e.store.records, 4);
	/* Slow-log lines are written once the store lock is released: wait for the line. */
	for (int i = 0; i < 5000 && !__atomic_load_n(&e.slowlog.written, __ATOMIC_ACQUIRE); i++)
		usleep(1000);
	usleep(20000); /* and give a wrong second line the time to show up */
	cr_assert_eq(__atomic_load_n(&e.slowlog.written, __ATOMIC_ACQUIRE), 1);
	rewind(log);
	cr_assert_not_null(fgets(line, sizeof line, log));
	cr_assert_str_eq(line,
			 "{\"kind\":\"socket_write\",\"time\":\"2023-11-14T22:13:20.123456Z\","
			 "\"service\":\"api\",\"pid\":7,\"exe\":\"/usr/bin/app\","
			 "\"peer\":\"unix:/run/x.sock\",\"direction\":\"outbound\","
			 "\"db_system\":\"postgresql\",\"duration_ms\":2.5,\"bytes\":0,"
			 "\"tid\":9,\"error_type\":\"EPIPE\"}\n");
	cr_assert_null(fgets(line, sizeof line, log));
	stop(&e);
	/* Both are kept for /sockets whatever the log's threshold. */
	cr_assert_eq(e.store.socks.nslow, 2);
	dbp_store_free(&e.store);
}

Test(sockets, statements_sum_their_own_writes)
{
	static struct exporter e;
	static struct dbp_frame f;

	start(&e, 100, -1);
	int fd = agent(&e);
	hello(&f, 7, "api");
	cr_assert_eq(dbp_frame_query(&f, 77, 0, "SELECT ?", 8, "SELECT", 6), 0);
	struct dbp_call c = { .query_id = 77,
			      .start_unix_ns = 1700000000000000000ull,
			      .duration_ns = 5000000,
			      .write_bytes = 100,
			      .write_ns = 2000000,
			      .db_system = DBP_DB_POSTGRESQL };
	cr_assert_eq(dbp_frame_call(&f, &c, 0), 0);
	c.write_bytes = 28;
	c.write_ns = 500000;
	cr_assert_eq(dbp_frame_call(&f, &c, 0), 0);
	send_frame(fd, &f);
	wait_for(&e, &e.store.calls, 2);
	stop(&e);

	json_t *doc = render_json(&e, dbp_render_queries);
	json_t *q = json_array_get(json_object_get(doc, "queries"), 0);
	cr_assert_not_null(q);
	cr_assert_eq(json_integer_value(json_object_get(q, "write_bytes")), 128);
	cr_assert_float_eq(json_real_value(json_object_get(q, "write_seconds")), 0.0025, 1e-12);
	json_decref(doc);
	dbp_store_free(&e.store);
}

/* ---- the store alone ---- */

Test(sockets, errno_names)
{
	char buf[16];
	cr_assert_str_eq(dbp_errno_name(32, buf, sizeof buf), "EPIPE");
	cr_assert_str_eq(dbp_errno_name(11, buf, sizeof buf), "EAGAIN");
	cr_assert_str_eq(dbp_errno_name(104, buf, sizeof buf), "ECONNRESET");
	cr_assert_str_eq(dbp_errno_name(4000, buf, sizeof buf), "4000");
	cr_assert_str_eq(dbp_errno_name(0xffffffffu, buf, sizeof buf), "4294967295");
	cr_assert_str_eq(dbp_errno_name(0, buf, sizeof buf), "other");
}

Test(sockets, bucket_bounds)
{
	cr_assert_float_eq(dbp_sock_bound_s(0), 1.024e-6, 1e-18);
	cr_assert_float_eq(dbp_sock_bound_s(DBP_SOCK_BUCKETS - 2), 1.073741824, 1e-15);
}

Test(sockets, distinct_errnos_are_capped_per_series)
{
	struct dbp_sockstore ss;
	dbp_sockstore_init(&ss, 10, "(other)");
	struct dbp_sock_series *se =
		dbp_sockstore_series(&ss, "svc", "p", DBP_DIR_OUTBOUND, DBP_DB_NONE);
	cr_assert_not_null(se);
	cr_assert_eq(dbp_sockstore_series(&ss, "svc", "p", DBP_DIR_OUTBOUND, DBP_DB_NONE), se);
	struct {
		struct dbp_sock r;
		struct dbp_sock_err e[DBP_SOCK_ERR_MAX];
	} rec = { 0 };
	rec.r.nerr = DBP_SOCK_ERR_MAX;
	/* 3 records of 16 distinct errnos each: 48 errnos, 32 kept, 16 shared. */
	for (uint32_t k = 0; k < 3; k++) {
		for (uint32_t i = 0; i < DBP_SOCK_ERR_MAX; i++)
			rec.e[i] = (struct dbp_sock_err){ .err_no = 1000 + k * 16 + i, .count = 2 };
		dbp_sock_series_add(se, &rec.r, rec.e);
	}
	cr_assert_eq(se->nerrs, DBP_SOCK_ERRNOS_MAX + 1);
	cr_assert_eq(se->errs[0].err_no, 1000);
	cr_assert_eq(se->errs[DBP_SOCK_ERRNOS_MAX].err_no, 0);
	cr_assert_eq(se->errs[DBP_SOCK_ERRNOS_MAX].count, 32);
	/* A kept errno still adds up where it is. */
	dbp_sock_series_add(se, &rec.r, rec.e);
	cr_assert_eq(se->errs[DBP_SOCK_ERRNOS_MAX].count, 64);
	rec.e[0].err_no = 1000;
	rec.r.nerr = 1;
	dbp_sock_series_add(se, &rec.r, rec.e);
	cr_assert_eq(se->errs[0].count, 4);
	dbp_sockstore_free(&ss);
}
