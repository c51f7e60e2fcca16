/* pq_loop: the cost of one small prepared statement, for comparing runs with and without the
 * agent. Usage: pq_loop CONNINFO N
 * Prints "pq_loop: N calls, X ns/call", timing only the N executions (not connect or prepare). */
#include <libpq-fe.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static __attribute__((noreturn)) void fail(PGconn *conn, const char *what)
{
	fprintf(stderr, "pq_loop: %s: %s", what, conn ? PQerrorMessage(conn) : "out of memory\n");
	exit(1);
}

static long long now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
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
	long long start = now_ns();
	for (long i = 0; i < n; i++) {
		res = PQexecPrepared(conn, "loop", 1, values, NULL, NULL, 0);
		/* only the status: reading the value would time more than the call */
		if (PQresultStatus(res) != PGRES_TUPLES_OK)
			fail(conn, "execute");
		PQclear(res);
	}
	long long elapsed = now_ns() - start;

	printf("pq_loop: %ld calls, %lld ns/call\n", n, elapsed / n);
	PQfinish(conn);
	return 0;
}
