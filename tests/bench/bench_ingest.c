/* bench_ingest: how many call records per second one exporter ingests, without loss.
 * Usage: bench_ingest SOCKET RECORDS [CONNECTIONS]. Sends RECORDS calls as full frames with
 * blocking sends (the socket's back-pressure, as an agent sees it), spread over CONNECTIONS
 * (default 1), and prints "<records sent> <seconds>" once every send returned. The caller
 * then checks the exporter counted exactly RECORDS calls. */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "frame.h"

static const char *path;
static long per_conn;

static double now_s(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int with_spans; /* every call carries span ids (sampled) */

static void *blast(void *arg)
{
	long id = (long)arg;
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		exit(1);
	}
	static __thread struct dbp_frame f;
	dbp_frame_reset(&f);
	dbp_frame_hello(&f, (uint32_t)(100000 + id), 1, 0, "/bench", 6, "bench", 5);
	/* 16 statements over 2 namespaces: a realistic spread of keys. */
	for (uint64_t q = 1; q <= 16; q++) {
		char text[64];
		int n = snprintf(text, sizeof text, "SELECT v FROM t%llu WHERE id = ?",
				 (unsigned long long)q);
		dbp_frame_query(&f, q, 0, text, (size_t)n, "SELECT t", 8);
	}
	dbp_frame_string(&f, 1001, DBP_STR_NAMESPACE, "/db/a", 5);
	dbp_frame_string(&f, 1002, DBP_STR_NAMESPACE, "/db/b", 5);
	send(fd, f.buf, f.len, 0);
	uint64_t x = 88172645463325252ull + (uint64_t)id;
	long sent = 0;
	while (sent < per_conn) {
		dbp_frame_reset(&f);
		while (sent < per_conn) {
			x ^= x << 13;
			x ^= x >> 7;
			x ^= x << 17;
			struct dbp_call c = {
				.query_id = x % 16 + 1,
				.namespace_id = 1001 + (x >> 8) % 2,
				.start_unix_ns = 1700000000000000000ull + (uint64_t)sent * 1000,
				.duration_ns = 500 + (x >> 16) % 2000000,
				.rows_returned = 1,
				.tid = 1,
				.db_system = DBP_DB_SQLITE,
			};
			if (with_spans) { /* as OpenTelemetry's default sampler has it: every call */
				uint64_t hi = x * 0x9e3779b97f4a7c15ull, lo = ~x, sp = x | 1;
				memcpy(c.trace_id, &hi, 8);
				memcpy(c.trace_id + 8, &lo, 8);
				memcpy(c.span_id, &sp, 8);
			}
			if (dbp_frame_call(&f, &c, with_spans ? DBP_CALL_SAMPLED : 0) < 0)
				break;
			sent++;
		}
		if (send(fd, f.buf, f.len, 0) != (ssize_t)f.len) {
			perror("send");
			exit(1);
		}
	}
	close(fd);
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	path = argv[1];
	long total = atol(argv[2]);
	int conns = argc > 3 ? atoi(argv[3]) : 1;
	with_spans = argc > 4 && !strcmp(argv[4], "spans");
	per_conn = total / conns;
	pthread_t t[64];
	double t0 = now_s();
	for (long i = 0; i < conns && i < 64; i++)
		pthread_create(&t[i], NULL, blast, (void *)i);
	for (int i = 0; i < conns && i < 64; i++)
		pthread_join(t[i], NULL);
	printf("%ld %.6f\n", per_conn * conns, now_s() - t0);
	return 0;
}
