/* pq_loop: the cost of one small prepared statement, for comparing runs with and without the
 * agent. Usage: pq_loop CONNINFO N
 * Prints "pq_loop: N calls, X ns/call, T thread-cpu ns/call, P process-cpu ns/call", timing only
 * the N executions (not connect or prepare). Wall time includes the server's round trip, whose
 * jitter (a microsecond or more) hides small costs; the CPU times are this process's own work
 * (thread: the calling thread; process: every thread, an agent's sender included). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static __attribute__((noreturn)) void fail(PGconn *conn, const char *what)
{
	fprintf(stderr, "pq_loop: %s: %s", what, conn ? PQerrorMessage(conn) : "out of memory\n");
	exit(1);
}

static long long now_ns(clockid_t clk)
{
	struct timespec ts;
	clock_gettime(clk, &ts);
	return ts.tv_sec * 1000000000LL + ts.tv_nsec;
}

int main(int argc, char **argv)
{
	long n = argc == 3 ? strtol(argv[2], NULL, 10) : 0;
	if (n <= 0) {
		fprintf(stderr, "usage: pq_loop CONNINFO N (N > 0)\n");
		return 2;
	}
	PGconn *conn = PQconnectdb(argv[1]);
	if (!conn || PQstatus(conn) != CONNECTION_OK)
		fail(conn, "connect");
	PGresult *res = PQprepare(conn, "loop", "SELECT $1::int", 1, NULL);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		fail(conn, "prepare");
	PQclear(res);

	const char *values[1] = { "1" };
	long long start = now_ns(CLOCK_MONOTONIC);
	long long tcpu = now_ns(CLOCK_THREAD_CPUTIME_ID), pcpu = now_ns(CLOCK_PROCESS_CPUTIME_ID);
	for (long i = 0; i < n; i++) {
		res = PQexecPrepared(conn, "loop", 1, values, NULL, NULL, 0);
		/* only the status: reading the value would time more than the call */
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail(conn, "execute");
		PQclear(res);
	}
	long long elapsed = now_ns(CLOCK_MONOTONIC) - start;
	tcpu = now_ns(CLOCK_THREAD_CPUTIME_ID) - tcpu;
	pcpu = now_ns(CLOCK_PROCESS_CPUTIME_ID) - pcpu;

	printf("pq_loop: %ld calls, %lld ns/call, %lld thread-cpu ns/call, %lld process-cpu "
	       "ns/call\n",
	       n, elapsed / n, tcpu / n, pcpu / n);
	PQfinish(conn);
	return 0;
}
