/* bench_write: the cost of write(2) on descriptors the agent does not follow, in ns per call.
 * Usage: bench_write null|unix N. Prints "<ns per call>". null: 1 byte to /dev/null; unix:
 * 1 byte into a connected Unix stream socket that a second thread drains. Run with and without
 * the agent preloaded; scripts/bench alternates the two and reports the difference. */
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static void *drain(void *arg)
{
	int fd = *(int *)arg;
	char buf[65536];
	while (read(fd, buf, sizeof buf) > 0)
		;
	return NULL;
}

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	int fd, sv[2] = { -1, -1 };
	pthread_t t;
	if (!strcmp(argv[1], "null")) {
		fd = open("/dev/null", O_WRONLY);
	} else {
		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0)
			return 1;
		fd = sv[0];
		pthread_create(&t, NULL, drain, &sv[1]);
	}
	if (fd < 0)
		return 1;
	for (long i = 0; i < n / 10; i++) /* warm up */
		if (write(fd, "x", 1) != 1)
			return 1;
	double t0 = now_ns();
	for (long i = 0; i < n; i++)
		if (write(fd, "x", 1) != 1)
			return 1;
	double t1 = now_ns();
	printf("%.1f\n", (t1 - t0) / (double)n);
	if (sv[0] >= 0) {
		shutdown(sv[0], SHUT_WR);
		pthread_join(t, NULL);
	}
	return 0;
}
