/* ingest_harness: an exporter's ingest on a temporary socket, served by a thread, for unit
 * tests that send it real frames (test_sockets, test_stacks). Static functions: each test
 * binary includes it once. */
#ifndef DBPROBE_INGEST_HARNESS_H
#define DBPROBE_INGEST_HARNESS_H

#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"
#include "ingest.h"
#include "slowlog.h"
#include "store.h"

struct exporter {
	struct dbp_store store;
	struct dbp_slowlog slowlog;
	struct dbp_ingest *in;
	pthread_t th;
	int stopfd[2];
	volatile int stop;
	char dir[64], path[108];
};

static void *harness_serve(void *arg)
{
	struct exporter *e = arg;
	dbp_ingest_run(e->in, &e->stop, e->stopfd[0]);
	return NULL;
}

/* slow_ns: the slow log's threshold (--slow-ms), -1 to follow the agents; out NULL: the slow
 * log goes to a temporary file. */
static void harness_start(struct exporter *e, unsigned max_fingerprints, int64_t slow_ns, FILE *out)
{
	char err[256];
	memset(e, 0, sizeof *e);
	dbp_store_init(&e->store, max_fingerprints);
	e->slowlog.out = out ? out : tmpfile();
	e->slowlog.threshold_ns = slow_ns;
	cr_assert_not_null(e->slowlog.out);
	strcpy(e->dir, "/tmp/dbp-test-XXXXXX");
	cr_assert_not_null(mkdtemp(e->dir));
	snprintf(e->path, sizeof e->path, "%s/s.sock", e->dir);
	struct dbp_ingest_opts o = { .socket_path = e->path,
				     .store = &e->store,
				     .slowlog = &e->slowlog };
	e->in = dbp_ingest_open(&o, err, sizeof err);
	cr_assert_not_null(e->in, "%s", err);
	cr_assert_eq(pipe(e->stopfd), 0);
	cr_assert_eq(pthread_create(&e->th, NULL, harness_serve, e), 0);
}

/* The slow log stays open: a test may read it afterwards. The ingest leaves connections to
 * process exit; the store is only read from here on. */
static void harness_stop(struct exporter *e)
{
	cr_assert_eq(write(e->stopfd[1], "x", 1), 1);
	pthread_join(e->th, NULL);
	dbp_ingest_close(e->in);
	close(e->stopfd[0]);
	close(e->stopfd[1]);
	rmdir(e->dir);
}

static int agent(struct exporter *e)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	cr_assert_geq(fd, 0);
	strcpy(sa.sun_path, e->path);
	cr_assert_eq(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0, "%s", strerror(errno));
	return fd;
}

static void send_frame(int fd, const struct dbp_frame *f)
{
	cr_assert_eq(send(fd, f->buf, f->len, 0), (ssize_t)f->len, "%s", strerror(errno));
}

/* Waits (5 s at most) until *counter, read under the store lock, reaches want. */
static void wait_for(struct exporter *e, const uint64_t *counter, uint64_t want)
{
	uint64_t v = 0;
	for (int i = 0; i < 5000; i++) {
		pthread_mutex_lock(&e->store.lock);
		v = *counter;
		pthread_mutex_unlock(&e->store.lock);
		if (v >= want)
			break;
		usleep(1000);
	}
	cr_assert_eq(v, want, "waited for %llu, have %llu", (unsigned long long)want,
		     (unsigned long long)v);
}

#endif
