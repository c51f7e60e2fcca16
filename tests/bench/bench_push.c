/* bench_push: how many spans per second the exporter's push pipeline (spanq: queue, batching,
 * encoding, libcurl) delivers to a collector. A receiver runs in this process (libmicrohttpd:
 * 200 to POST /v1/traces once the body is read, nothing decoded), so the figure is ours, not
 * a collector's. Usage: bench_push [SPANS] [otlp|zipkin] [gzip]. Puts SPANS (default 500000)
 * realistic spans as fast as the queue takes them (waiting, never dropping: throughput, not
 * loss), and prints "<spans/s> <exported> <seconds> <requests>" once the receiver has them all.
 * Exits 1 unless every span was exported. bench_push --sink PORTFILE: only the receiver, on
 * an ephemeral port written to PORTFILE, until SIGTERM (a local collector for other benches);
 * prints "<requests> <bytes>" then. */
#include <arpa/inet.h>
#include <microhttpd.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "span.h"
#include "spanq.h"

static unsigned long long bytes_received, posts;

static enum MHD_Result on_request(void *cls, struct MHD_Connection *conn, const char *url,
				  const char *method, const char *version, const char *data,
				  size_t *size, void **state)
{
	static int marker;
	(void)cls, (void)version, (void)data;
	if (!*state) {
		*state = &marker;
		return MHD_YES;
	}
	if (*size) {
		bytes_received += *size;
		*size = 0;
		return MHD_YES;
	}
	unsigned status = !strcmp(method, "POST") && (!strcmp(url, "/v1/traces") ||
						      !strcmp(url, "/api/v2/spans"))
				  ? 200
				  : 404;
	posts++;
	struct MHD_Response *r =
		MHD_create_response_from_buffer(0, (char *)"", MHD_RESPMEM_PERSISTENT);
	enum MHD_Result rc = MHD_queue_response(conn, status, r);
	MHD_destroy_response(r);
	return rc;
}

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What ingest makes of real traffic: 16 statements over two databases, a few failures, a
 * parent span (the program's TRACEPARENT) for most. Strings are immortal, as the store's
 * interned ones are. */
static const char *const texts[16][2] = {
	{ "SELECT id, name, price FROM items WHERE id = $1", "SELECT items" },
	{ "SELECT * FROM orders WHERE customer_id = $1 ORDER BY created_at DESC LIMIT $2",
	  "SELECT orders" },
	{ "INSERT INTO orders (customer_id, total, created_at) VALUES ($1, $2, now())",
	  "INSERT orders" },
	{ "UPDATE stock SET quantity = quantity - $1 WHERE item_id = $2", "UPDATE stock" },
	{ "SELECT c.id, c.email FROM customers c JOIN orders o ON o.customer_id = c.id WHERE "
	  "o.id = $1",
	  "SELECT customers orders" },
	{ "DELETE FROM sessions WHERE expires_at < now()", "DELETE sessions" },
	{ "SELECT count(*) FROM events WHERE kind = $1 AND at > $2", "SELECT events" },
	{ "INSERT INTO events (kind, at, payload) VALUES ($1, $2, $3)", "INSERT events" },
	{ "SELECT v FROM settings WHERE k = $1", "SELECT settings" },
	{ "UPDATE customers SET last_seen = now() WHERE id = $1", "UPDATE customers" },
	{ "SELECT id FROM carts WHERE session_id = $1 FOR UPDATE", "SELECT carts" },
	{ "INSERT INTO cart_items (cart_id, item_id, qty) VALUES ($1, $2, $3)",
	  "INSERT cart_items" },
	{ "SELECT i.id, i.name FROM items i WHERE i.category = $1 AND i.price < $2",
	  "SELECT items" },
	{ "UPDATE orders SET status = $1 WHERE id = $2", "UPDATE orders" },
	{ "SELECT 1", "SELECT" },
	{ "SELECT sum(total) FROM orders WHERE created_at > $1", "SELECT orders" },
};

/* The receiver on a loopback ephemeral port, or NULL (said on stderr). */
static struct MHD_Daemon *receiver(unsigned *port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET,
				  .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	struct MHD_Daemon *d =
		MHD_start_daemon(MHD_USE_INTERNAL_POLLING_THREAD, 0, NULL, NULL, on_request, NULL,
				 MHD_OPTION_SOCK_ADDR, &sa, MHD_OPTION_END);
	if (!d) {
		fprintf(stderr, "bench_push: cannot start the receiver\n");
		return NULL;
	}
	*port = MHD_get_daemon_info(d, MHD_DAEMON_INFO_BIND_PORT)->port;
	return d;
}

static int sink(const char *portfile)
{
	sigset_t term;
	sigemptyset(&term);
	sigaddset(&term, SIGTERM);
	sigaddset(&term, SIGINT);
	pthread_sigmask(SIG_BLOCK, &term, NULL); /* the receiver's thread inherits the mask */
	unsigned port;
	struct MHD_Daemon *d = receiver(&port);
	if (!d)
		return 1;
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
	FILE *f = fopen(tmp, "w");
	if (!f || fprintf(f, "%u\n", port) < 0 || fclose(f) != 0 || rename(tmp, portfile) != 0) {
		fprintf(stderr, "bench_push: cannot write %s\n", portfile);
		return 1;
	}
	int sig;
	sigwait(&term, &sig);
	MHD_stop_daemon(d);
	printf("%llu %llu\n", posts, bytes_received);
	return 0;
}

int main(int argc, char **argv)
{
	if (argc == 3 && !strcmp(argv[1], "--sink"))
		return sink(argv[2]);
	long n = argc > 1 ? atol(argv[1]) : 500000;
	int zipkin = argc > 2 && !strcmp(argv[2], "zipkin");
	int gzip = argc > 3 && !strcmp(argv[3], "gzip");
	if (n <= 0) {
		fprintf(stderr, "usage: bench_push [SPANS] [otlp|zipkin] [gzip]\n");
		return 2;
	}
	unsigned port;
	struct MHD_Daemon *d = receiver(&port);
	if (!d)
		return 1;
	char url[80];
	snprintf(url, sizeof url, "http://127.0.0.1:%u%s", port,
		 zipkin ? "/api/v2/spans" : "/v1/traces");

	struct dbp_spanq_cfg cfg = {
		.format = zipkin ? DBP_FMT_ZIPKIN : DBP_FMT_OTLP,
		.endpoint = url,
		.gzip = gzip,
		.timeout_ms = 10000,
		.queue_max = 8192,
		.batch_max = 512,
		.delay_ms = 200,
		.retries = 5,
		.backoff_ms = 100,
		.backoff_max_ms = 1000,
		.flush_ms = 10000,
		.latest = 1000,
	};
	char err[256];
	struct dbp_spanq *q = dbp_spanq_start(&cfg, err, sizeof err);
	if (!q) {
		fprintf(stderr, "bench_push: %s\n", err);
		return 1;
	}
	const char *env = "deployment.environment.name=bench,service.version=1.4.2";
	struct dbp_resource *res[2] = {
		dbp_resource_new("checkout", "/usr/bin/checkout", 4242, "bench-host", "vendor=abc",
				 env, strlen(env)),
		dbp_resource_new("billing", "/usr/bin/billing", 4343, "bench-host", NULL, env,
				 strlen(env)),
	};

	double t0 = now_s();
	uint64_t x = 88172645463325252ull;
	struct dbp_spanq_stats st;
	for (long i = 0; i < n; i++) {
		/* Never let put drop: wait while the queue is nearly full. */
		if (!(i & 63)) {
			for (;;) {
				dbp_spanq_stats(q, &st);
				if (st.queued + 64 <= cfg.queue_max)
					break;
				usleep(50);
			}
		}
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		struct dbp_span *sp = dbp_span_new(res[x >> 63], 0);
		if (!sp)
			return 1;
		memcpy(sp->trace_id, &x, 8);
		memcpy(sp->trace_id + 8, &i, 8);
		uint64_t sid = x * 0x9e3779b97f4a7c15ull;
		memcpy(sp->span_id, &sid, 8);
		if (x % 4)
			memcpy(sp->parent_span_id, &x, 8);
		sp->start_unix_ns = 1700000000000000000ull + (uint64_t)i * 1000;
		sp->end_unix_ns = sp->start_unix_ns + 50000 + (x >> 20) % 5000000;
		sp->kind = DBP_SPAN_CLIENT;
		sp->what = DBP_SPAN_CALL;
		sp->system_name = "postgresql";
		sp->ns = x & 16 ? "shop" : "analytics";
		sp->query_text = texts[x % 16][0];
		sp->summary = sp->name = texts[x % 16][1];
		sp->server = "10.0.3.17";
		sp->server_port = 5432;
		sp->rows = (x >> 8) % 100;
		sp->sampled = 1;
		if (x % 97 == 0) {
			sp->error = 1;
			sp->error_type = "40001";
		}
		dbp_spanq_put(q, sp);
	}
	for (;;) {
		dbp_spanq_stats(q, &st);
		uint64_t lost = 0;
		for (int i = 0; i < DBP_SPAN_DROP_COUNT; i++)
			lost += st.dropped[i];
		if (st.exported + lost >= (uint64_t)n)
			break;
		usleep(200);
	}
	double secs = now_s() - t0;
	dbp_spanq_stop(q);
	MHD_stop_daemon(d);
	dbp_resource_unref(res[0]);
	dbp_resource_unref(res[1]);
	printf("%.0f %llu %.3f %llu %llu\n", (double)st.exported / secs,
	       (unsigned long long)st.exported, secs, (unsigned long long)st.requests,
	       bytes_received);
	return st.exported == (uint64_t)n ? 0 : 1;
}
