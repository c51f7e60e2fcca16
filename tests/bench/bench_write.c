/* bench_write: what the agent adds to write(2), measured side by side in one process.
 * Usage: bench_write null|unix|tcp N. null: 1 byte to /dev/null; unix: 1 byte into a connected
 * Unix stream socket; tcp: the same over loopback TCP. The sockets are drained by this thread
 * between timed blocks: a reader running alongside would make the writer's cost depend on how
 * the two contend for the socket's lock, which the agent's few nanoseconds shift.
 * Blocks of calls alternate between write() as the program calls it (through the agent when it
 * is preloaded) and libc's own write found inside libc (never through the agent), called
 * through a pointer in memory as the program's own PLT would. Prints
 * "<libc ns> <hooked ns> <added ns>": medians over blocks, the last the median of the per-block
 * differences (neighbouring blocks see the same machine). Without the agent, added is the
 * method's own noise. */
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define BLOCK 100 /* fits a socket's send buffer: no write blocks */

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* Reads what the timed block wrote (n bytes) back out of the socket. */
static int drain(int fd, size_t n)
{
	char buf[65536];
	while (n) {
		ssize_t r = read(fd, buf, n < sizeof buf ? n : sizeof buf);
		if (r <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return x < y ? -1 : x > y;
}

/* The q-th quantile (0..1) of v, sorted in place. */
static double quantile(double *v, size_t n, double q)
{
	qsort(v, n, sizeof *v, cmp);
	return v[(size_t)(q * (double)(n - 1))];
}

static int tcp_pair(int sv[2])
{
	int l = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t len = sizeof a;
	if (l < 0 || bind(l, (struct sockaddr *)&a, sizeof a) || listen(l, 1) ||
	    getsockname(l, (struct sockaddr *)&a, &len))
		return -1;
	sv[0] = socket(AF_INET, SOCK_STREAM, 0);
	if (sv[0] < 0 || connect(sv[0], (struct sockaddr *)&a, sizeof a))
		return -1;
	sv[1] = accept(l, NULL, NULL);
	close(l);
	return sv[1] < 0 ? -1 : 0;
}

/* Read from memory at each call, like the PLT's GOT slot: the fair baseline for a call. */
static ssize_t (*volatile libc_write)(int, const void *, size_t);

int main(int argc, char **argv)
{
	if (argc != 3)
		return 2;
	long n = atol(argv[2]);
	int fd, sv[2] = { -1, -1 };
	void *libc = dlopen("libc.so.6", RTLD_LAZY | RTLD_NOLOAD);
	libc_write = libc ? (ssize_t(*)(int, const void *, size_t))dlsym(libc, "write") : NULL;
	if (!libc_write)
		return 1;
	if (!strcmp(argv[1], "null")) {
		fd = open("/dev/null", O_WRONLY);
	} else {
		if (!strcmp(argv[1], "tcp") ? tcp_pair(sv)
					    : socketpair(AF_UNIX, SOCK_STREAM, 0, sv))
			return 1;
		fd = sv[0];
		int big = 4 << 20;
		setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &big, sizeof big);
		setsockopt(sv[1], SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	}
	if (fd < 0)
		return 1;
	for (long i = 0; i < n / 10; i++) { /* warm up */
		if (write(fd, "x", 1) != 1 || libc_write(fd, "x", 1) != 1)
			return 1;
		if (sv[1] >= 0 && i % 50 == 49 && drain(sv[1], 100))
			return 1;
	}
	size_t blocks = (size_t)(n / BLOCK / 2);
	if (blocks < 1)
		blocks = 1;
	double *plain = calloc(blocks, sizeof *plain), *hooked = calloc(blocks, sizeof *hooked);
	double *diff = calloc(blocks, sizeof *diff);
	for (size_t b = 0; b < blocks; b++) {
		for (int pass = 0; pass < 2; pass++) {
			int via_hook = (int)(b & 1) ^ pass; /* alternate which goes first */
			double t0 = now_ns();
			if (via_hook) {
				for (int i = 0; i < BLOCK; i++)
					if (write(fd, "x", 1) != 1)
						return 1;
			} else {
				for (int i = 0; i < BLOCK; i++)
					if (libc_write(fd, "x", 1) != 1)
						return 1;
			}
			double per = (now_ns() - t0) / BLOCK;
			if (sv[1] >= 0 && drain(sv[1], BLOCK))
				return 1;
			*(via_hook ? &hooked[b] : &plain[b]) = per;
		}
		diff[b] = hooked[b] - plain[b];
	}
	/* A block runs in a fraction of a millisecond: the low quantile is the call's cost with
	 * the least interference (other tenants, interrupts), which is what the hook adds to. */
	double q = getenv("BENCH_Q") ? atof(getenv("BENCH_Q")) : 0.1;
	printf("%.1f %.1f %.1f\n", quantile(plain, blocks, q), quantile(hooked, blocks, q),
	       quantile(diff, blocks, 0.5));
	return 0;
}
