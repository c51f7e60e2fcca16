/* net_client: socket writes of known sizes through every hooked call, for the net shim's tests.
 * It runs its own servers (one thread that only reads, unless a server is told to answer) and
 * prints the ports and paths it used, and what it could only count as it went, as key=value
 * lines on stdout; then "net_client: ok" and exit 0, or the failed step on stderr and exit 1.
 * Every write whose size the test expects must go through whole: a short one is a failure.
 * Usage: net_client MODE ARG...
 *   peers DIR           write, writev, send, sendto, sendmsg, sendmmsg to TCP on 127.0.0.1 and
 *                       ::1, a Unix stream socket and connected UDP (6 calls, 7833 bytes a
 *                       round); unconnected UDP with destinations; files, a pipe and /dev/null
 *                       (never recorded); two servers that answer (inbound writes)
 *   reuse DIR           descriptor numbers that change meaning: close, dup2, dup3, F_DUPFD,
 *                       close_range, dup, fclose of an fdopen'ed socket
 *   daemon DIR HOW [MS] MS milliseconds (300) after its first writes, closes every descriptor
 *                       from 3 up (HOW: range = close_range, loop = close() 3..1024, raw = the
 *                       close_range system call) and works on
 *   signal DIR WHERE [N] N (200000) writes of 64 bytes while a 1 ms SIGALRM handler writes 32
 *                       bytes each time (WHERE: same socket, other socket, or none: no handler)
 *   errors DIR          EPIPE (Unix and TCP), EAGAIN, ECONNREFUSED (UDP)
 *   http-sink PORTFILE  one HTTP request on 127.0.0.1 (port written to PORTFILE), its body read
 *                       and answered 200; prints headers=N and body=N (run it without the
 *                       agent) */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/time.h>
#include <sys/uio.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

static char payload[1 << 16]; /* what every write sends: 'x' bytes */

static __attribute__((noreturn)) void die(const char *what)
{
	fprintf(stderr, "net_client: %s: %s\n", what, strerror(errno));
	exit(1);
}

/* The call returned exactly want, or the run is void. */
static void must(ssize_t rc, size_t want, const char *what)
{
	if (rc != (ssize_t)want) {
		if (rc >= 0)
			errno = 0;
		fprintf(stderr, "net_client: %s returned %zd, not %zu: %s\n", what, rc, want,
			strerror(errno));
		exit(1);
	}
}

/* The call failed with exactly err. */
static void must_fail(ssize_t rc, int err, const char *what)
{
	if (rc != -1 || errno != err) {
		fprintf(stderr, "net_client: %s returned %zd (%s), not -1 (%s)\n", what, rc,
			rc < 0 ? strerror(errno) : "no error", strerror(err));
		exit(1);
	}
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, ms % 1000 * 1000000L };
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* ---- servers: one thread reads everything sent to them ----------------------------------- */

enum on_accept {
	ACC_READ,  /* read until the client closes */
	ACC_CLOSE, /* close at once: the client's writes then fail */
	ACC_HOLD,  /* keep it open, never read: the client's buffers fill */
};

struct srv {
	int fd;              /* listening or datagram socket */
	int dgram;           /* a datagram socket: its datagrams are read */
	enum on_accept mode; /* for stream listeners */
	size_t reply;        /* written back with write() on each accepted connection */
	size_t reply_v;      /* then with writev() in two pieces (the first 100 bytes) */
	uint64_t got;        /* bytes received, all connections together (atomic) */
	unsigned accepted;   /* connections accepted (atomic) */
};

#define MAX_SRV 16
#define MAX_CONN 64

static struct srv srvs[MAX_SRV];
static int nsrv;
static int stop_pipe[2];
static pthread_t sink_tid;

static struct srv *srv_new(int fd, int dgram, enum on_accept mode)
{
	if (nsrv == MAX_SRV) {
		errno = 0;
		die("too many servers");
	}
	struct srv *s = &srvs[nsrv++];
	*s = (struct srv){ .fd = fd, .dgram = dgram, .mode = mode };
	return s;
}

/* A socket bound to a loopback ephemeral port: listening (stream) or receiving (datagram). */
static int bind_loopback(int family, int type)
{
	struct sockaddr_storage ss = { .ss_family = (sa_family_t)family };
	socklen_t len;
	if (family == AF_INET) {
		struct sockaddr_in *in = (struct sockaddr_in *)&ss;
		in->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof *in;
	} else {
		((struct sockaddr_in6 *)&ss)->sin6_addr = in6addr_loopback;
		len = sizeof(struct sockaddr_in6);
	}
	int fd = socket(family, type | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&ss, len) != 0)
		die("bind loopback");
	if (type == SOCK_STREAM && listen(fd, 16) != 0)
		die("listen");
	if (type == SOCK_DGRAM) {
		int big = 1 << 20; /* every datagram a test sends fits, unread */
		setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &big, sizeof big);
	}
	return fd;
}

static struct srv *srv_inet(int family, int type, enum on_accept mode)
{
	return srv_new(bind_loopback(family, type), type == SOCK_DGRAM, mode);
}

static struct srv *srv_unix(const char *dir, const char *name, enum on_accept mode)
{
	struct sockaddr_un un = { .sun_family = AF_UNIX };
	if ((size_t)snprintf(un.sun_path, sizeof un.sun_path, "%s/%s", dir, name) >=
	    sizeof un.sun_path) {
		errno = ENAMETOOLONG;
		die(dir);
	}
	unlink(un.sun_path);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0 || bind(fd, (struct sockaddr *)&un, sizeof un) != 0 || listen(fd, 16) != 0)
		die(un.sun_path);
	return srv_new(fd, 0, mode);
}

static socklen_t addr_of(int fd, struct sockaddr_storage *ss)
{
	socklen_t len = sizeof *ss;
	if (getsockname(fd, (struct sockaddr *)ss, &len) != 0)
		die("getsockname");
	return len;
}

static unsigned port_of(int fd)
{
	struct sockaddr_storage ss;
	addr_of(fd, &ss);
	return ntohs(ss.ss_family == AF_INET ? ((struct sockaddr_in *)&ss)->sin_port
					     : ((struct sockaddr_in6 *)&ss)->sin6_port);
}

/* A Unix socket's path, in the caller's buffer (two in one printf need two). */
static const char *path_of(int fd, char *path, size_t cap)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(fd, &ss);
	size_t n = len - offsetof(struct sockaddr_un, sun_path);
	n = strnlen(((struct sockaddr_un *)&ss)->sun_path, n < cap - 1 ? n : cap - 1);
	memcpy(path, ((struct sockaddr_un *)&ss)->sun_path, n);
	path[n] = 0;
	return path;
}

/* A client socket connected to the server socket fd (stream or datagram alike). */
static int dial_fd(int fd, int type)
{
	struct sockaddr_storage ss;
	socklen_t len = addr_of(fd, &ss);
	int c = socket(ss.ss_family, type, 0);
	if (c < 0 || connect(c, (struct sockaddr *)&ss, len) != 0)
		die("connect");
	return c;
}

static int dial(const struct srv *s)
{
	return dial_fd(s->fd, s->dgram ? SOCK_DGRAM : SOCK_STREAM);
}

/* dial(), then wait until the server thread has accepted: its accept() takes a number too,
 * and a case that counts on numbers must not race with it. */
static int dial_accepted(struct srv *s)
{
	unsigned before = __atomic_load_n(&s->accepted, __ATOMIC_ACQUIRE);
	int fd = dial(s);
	for (int i = 0; __atomic_load_n(&s->accepted, __ATOMIC_ACQUIRE) == before; i++) {
		if (i == 10000) {
			errno = 0;
			die("the server never accepted");
		}
		usleep(1000);
	}
	return fd;
}

static void answer(const struct srv *s, int c)
{
	if (s->reply)
		must(write(c, payload, s->reply), s->reply, "server write");
	if (s->reply_v) {
		struct iovec v[2] = { { payload, 100 }, { payload, s->reply_v - 100 } };
		must(writev(c, v, 2), s->reply_v, "server writev");
	}
}

static void *sink_main(void *arg)
{
	(void)arg;
	struct pollfd pfd[1 + MAX_SRV + MAX_CONN];
	int conn[MAX_CONN], owner[MAX_CONN], nconn = 0;
	int held[MAX_CONN], nheld = 0;
	static char rbuf[1 << 16];
	for (;;) {
		int n = 0;
		pfd[n++] = (struct pollfd){ .fd = stop_pipe[0], .events = POLLIN };
		for (int i = 0; i < nsrv; i++)
			pfd[n++] = (struct pollfd){ .fd = srvs[i].fd, .events = POLLIN };
		for (int i = 0; i < nconn; i++)
			pfd[n++] = (struct pollfd){ .fd = conn[i], .events = POLLIN };
		if (poll(pfd, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			die("poll");
		}
		if (pfd[0].revents)
			break;
		int polled = nconn;
		for (int i = 0; i < nsrv; i++) {
			struct srv *s = &srvs[i];
			if (!pfd[1 + i].revents)
				continue;
			if (s->dgram) {
				ssize_t r = recv(s->fd, rbuf, sizeof rbuf, MSG_DONTWAIT);
				if (r > 0)
					__atomic_add_fetch(&s->got, (uint64_t)r, __ATOMIC_RELAXED);
				continue;
			}
			/* Both accept calls are hooked: one server each way. */
			int c = i % 2 ? accept4(s->fd, NULL, NULL, SOCK_CLOEXEC)
				      : accept(s->fd, NULL, NULL);
			if (c < 0)
				die("accept");
			__atomic_add_fetch(&s->accepted, 1, __ATOMIC_RELEASE);
			answer(s, c);
			if (s->mode == ACC_CLOSE) {
				close(c);
			} else if (s->mode == ACC_HOLD && nheld < MAX_CONN) {
				held[nheld++] = c;
			} else if (nconn < MAX_CONN) {
				conn[nconn] = c;
				owner[nconn++] = i;
			} else {
				errno = 0;
				die("too many connections");
			}
		}
		/* Connections accepted just now were not polled: only the first `polled`. */
		for (int i = 0; i < polled; i++) {
			if (!pfd[1 + nsrv + i].revents)
				continue;
			ssize_t r = read(conn[i], rbuf, sizeof rbuf);
			if (r > 0) {
				__atomic_add_fetch(&srvs[owner[i]].got, (uint64_t)r,
						   __ATOMIC_RELAXED);
			} else {
				/* Closed by the client: kept open until the end, so no number is
				 * freed behind the back of a case that counts on numbers. */
				if (nheld < MAX_CONN)
					held[nheld++] = conn[i];
				else
					close(conn[i]);
				conn[i] = -1;
			}
		}
		int kept = 0;
		for (int i = 0; i < nconn; i++)
			if (conn[i] >= 0) {
				owner[kept] = owner[i];
				conn[kept++] = conn[i];
			}
		nconn = kept;
	}
	for (int i = 0; i < nconn; i++)
		close(conn[i]);
	for (int i = 0; i < nheld; i++)
		close(held[i]);
	return NULL;
}

/* The sink thread takes no signals: a SIGALRM handler must run on the writing thread. */
static void sink_start(void)
{
	if (pipe2(stop_pipe, O_CLOEXEC) != 0)
		die("pipe");
	sigset_t all, old;
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = pthread_create(&sink_tid, NULL, sink_main, NULL);
	if (errno)
		die("pthread_create");
	pthread_sigmask(SIG_SETMASK, &old, NULL);
}

static void sink_stop(void)
{
	must(write(stop_pipe[1], "x", 1), 1, "write to the stop pipe");
	pthread_join(sink_tid, NULL);
	close(stop_pipe[0]);
	close(stop_pipe[1]);
}

/* Until s has received want bytes (10 s at most). */
static void await_got(const struct srv *s, uint64_t want, const char *what)
{
	uint64_t got = 0;
	for (int i = 0; i < 10000; i++) {
		got = __atomic_load_n(&s->got, __ATOMIC_RELAXED);
		if (got >= want)
			break;
		sleep_ms(1);
	}
	if (got != want) {
		fprintf(stderr, "net_client: %s received %llu bytes, not %llu\n", what,
			(unsigned long long)got, (unsigned long long)want);
		exit(1);
	}
}

static void read_n(int fd, size_t n, const char *what)
{
	static char rbuf[4096];
	while (n) {
		ssize_t r = read(fd, rbuf, n < sizeof rbuf ? n : sizeof rbuf);
		if (r <= 0)
			die(what);
		n -= (size_t)r;
	}
}

/* ---- peers ------------------------------------------------------------------------------ */

#define ROUND_BYTES 7833 /* of six() */

/* One round: each of the six calls once, on a connected socket (sendto and sendmsg without a
 * destination). 1000 + 600 + 2000 + 3000 + 900 + (111 + 222) bytes. */
static void six(int fd)
{
	struct iovec v[3] = { { payload, 100 }, { payload, 200 }, { payload, 300 } };
	must(write(fd, payload, 1000), 1000, "write");
	must(writev(fd, v, 3), 600, "writev");
	must(send(fd, payload, 2000, 0), 2000, "send");
	must(sendto(fd, payload, 3000, 0, NULL, 0), 3000, "sendto");
	struct iovec m[2] = { { payload, 400 }, { payload, 500 } };
	struct msghdr msg = { .msg_iov = m, .msg_iovlen = 2 };
	must(sendmsg(fd, &msg, 0), 900, "sendmsg");
	struct iovec a = { payload, 111 }, b = { payload, 222 };
	struct mmsghdr mm[2] = { { .msg_hdr = { .msg_iov = &a, .msg_iovlen = 1 } },
				 { .msg_hdr = { .msg_iov = &b, .msg_iovlen = 1 } } };
	if (sendmmsg(fd, mm, 2, 0) != 2 || mm[0].msg_len != 111 || mm[1].msg_len != 222)
		die("sendmmsg");
}

/* Writes that are not to sockets: /dev/null, a pipe, a regular file. send-family calls on
 * them fail with ENOTSOCK, and are not socket writes either. */
static void not_sockets(const char *dir)
{
	struct iovec v[2] = { { payload, 10 }, { payload, 20 } };
	int fd = open("/dev/null", O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		die("/dev/null");
	must(write(fd, payload, 4096), 4096, "write /dev/null");
	must(writev(fd, v, 2), 30, "writev /dev/null");
	close(fd);

	int p[2];
	if (pipe(p) != 0)
		die("pipe");
	must(write(p[1], payload, 100), 100, "write pipe");
	must(writev(p[1], v, 2), 30, "writev pipe");
	must_fail(send(p[1], payload, 5, 0), ENOTSOCK, "send on a pipe");
	read_n(p[0], 130, "read pipe");
	close(p[0]);
	close(p[1]);

	char path[4096];
	snprintf(path, sizeof path, "%s/plain.file", dir);
	fd = open(path, O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	if (fd < 0)
		die(path);
	must(write(fd, payload, 5000), 5000, "write file");
	must(writev(fd, v, 2), 30, "writev file");
	struct msghdr msg = { .msg_iov = v, .msg_iovlen = 2 };
	must_fail(sendmsg(fd, &msg, 0), ENOTSOCK, "sendmsg on a file");
	must_fail(sendto(fd, payload, 5, 0, NULL, 0), ENOTSOCK, "sendto on a file");
	close(fd);
}

static int mode_peers(const char *dir)
{
	struct srv *t4 = srv_inet(AF_INET, SOCK_STREAM, ACC_READ);
	struct srv *t6 = srv_inet(AF_INET6, SOCK_STREAM, ACC_READ);
	struct srv *un = srv_unix(dir, "s.sock", ACC_READ);
	struct srv *uc = srv_inet(AF_INET, SOCK_DGRAM, ACC_READ);  /* connected UDP */
	struct srv *uv = srv_inet(AF_INET, SOCK_DGRAM, ACC_READ);  /* unconnected UDP's target */
	struct srv *uw = srv_inet(AF_INET, SOCK_DGRAM, ACC_READ);  /* sendmmsg's second target */
	struct srv *u6 = srv_inet(AF_INET6, SOCK_DGRAM, ACC_READ); /* unconnected over IPv6 */
	struct srv *i4 = srv_inet(AF_INET, SOCK_STREAM, ACC_READ); /* answers: inbound writes */
	struct srv *iu = srv_unix(dir, "in.sock", ACC_READ);
	i4->reply = 777;
	iu->reply = 555;
	iu->reply_v = 145;
	sink_start();

	/* Connected sockets: TCP 1 round, TCP over IPv6 2, Unix 3, connected UDP 4. */
	const struct {
		struct srv *s;
		int rounds;
	} conns[] = { { t4, 1 }, { t6, 2 }, { un, 3 }, { uc, 4 } };
	for (size_t i = 0; i < sizeof conns / sizeof conns[0]; i++) {
		int fd = dial(conns[i].s);
		for (int r = 0; r < conns[i].rounds; r++)
			six(fd);
		close(fd);
	}

	/* Unconnected UDP: each call names its destination; sendmmsg's first one is its peer. */
	struct sockaddr_storage v, w, v6;
	socklen_t vl = addr_of(uv->fd, &v), wl = addr_of(uw->fd, &w), v6l = addr_of(u6->fd, &v6);
	int u = socket(AF_INET, SOCK_DGRAM, 0);
	if (u < 0)
		die("socket");
	must(sendto(u, payload, 300, 0, (struct sockaddr *)&v, vl), 300, "sendto udp");
	struct iovec m[2] = { { payload, 40 }, { payload, 60 } };
	struct msghdr msg = { .msg_name = &v, .msg_namelen = vl, .msg_iov = m, .msg_iovlen = 2 };
	must(sendmsg(u, &msg, 0), 100, "sendmsg udp");
	struct iovec a = { payload, 25 }, b = { payload, 35 };
	struct mmsghdr mm[2] = {
		{ .msg_hdr = { .msg_name = &v,
			       .msg_namelen = vl,
			       .msg_iov = &a,
			       .msg_iovlen = 1 } },
		{ .msg_hdr = { .msg_name = &w,
			       .msg_namelen = wl,
			       .msg_iov = &b,
			       .msg_iovlen = 1 } },
	};
	if (sendmmsg(u, mm, 2, 0) != 2)
		die("sendmmsg udp");
	close(u);
	u = socket(AF_INET6, SOCK_DGRAM, 0);
	if (u < 0)
		die("socket");
	must(sendto(u, payload, 123, 0, (struct sockaddr *)&v6, v6l), 123, "sendto udp6");
	close(u);

	not_sockets(dir);

	/* The servers that answer: their writes are inbound. */
	int c = dial(i4);
	read_n(c, 777, "inbound tcp answer");
	close(c);
	c = dial(iu);
	read_n(c, 700, "inbound unix answer");
	close(c);

	await_got(t4, ROUND_BYTES, "tcp4 server");
	await_got(t6, 2 * ROUND_BYTES, "tcp6 server");
	await_got(un, 3 * ROUND_BYTES, "unix server");
	await_got(uc, 4 * ROUND_BYTES, "udp server");
	await_got(uv, 300 + 100 + 25, "unconnected udp server");
	await_got(uw, 35, "sendmmsg's second server");
	await_got(u6, 123, "udp6 server");
	sink_stop();

	char p1[128], p2[128];
	printf("tcp4_port=%u\ntcp6_port=%u\nunix_path=%s\n", port_of(t4->fd), port_of(t6->fd),
	       path_of(un->fd, p1, sizeof p1));
	printf("udp_port=%u\nudpv_port=%u\nudpw_port=%u\nudp6_port=%u\n", port_of(uc->fd),
	       port_of(uv->fd), port_of(uw->fd), port_of(u6->fd));
	printf("in4_port=%u\ninu_path=%s\n", port_of(i4->fd), path_of(iu->fd, p2, sizeof p2));
	return 0;
}

/* ---- reuse ------------------------------------------------------------------------------ */

static int open_file(const char *dir, const char *name)
{
	char path[4096];
	snprintf(path, sizeof path, "%s/%s", dir, name);
	int fd = open(path, O_CREAT | O_TRUNC | O_WRONLY, 0600);
	if (fd < 0)
		die(path);
	return fd;
}

static void same_number(int got, int want, const char *what)
{
	if (got != want) {
		fprintf(stderr, "net_client: %s got fd %d, not the reused %d\n", what, got, want);
		exit(1);
	}
}

/* Each case has its own server, so each case is its own peer: unix:DIR/<case>.sock. File
 * writes are 1000 bytes and more; socket writes are less. */
static int mode_reuse(const char *dir)
{
	static const char *const names[] = { "a", "b", "c", "d", "e", "f", "g", "h" };
	struct srv *s[8];
	char sock[16];
	for (int i = 0; i < 8; i++) {
		snprintf(sock, sizeof sock, "%s.sock", names[i]);
		s[i] = srv_unix(dir, sock, ACC_READ);
	}
	sink_start();
	struct iovec v[2] = { { payload, 1000 }, { payload, 1500 } };

	/* a: close() a socket; a file opens on its number. */
	int fd = dial_accepted(s[0]);
	must(write(fd, payload, 100), 100, "a: write");
	/* The first write starts the agent's sender, whose own socket takes the lowest free
	 * number when it connects: let it, before the cases count on numbers coming back. */
	usleep(300000);
	close(fd);
	int f = open_file(dir, "a.file");
	same_number(f, fd, "a: the file");
	must(write(f, payload, 1001), 1001, "a: write file");
	must(writev(f, v, 2), 2500, "a: writev file");
	close(f);

	/* b: dup2() a file over a socket. */
	fd = dial_accepted(s[1]);
	must(write(fd, payload, 200), 200, "b: write");
	f = open_file(dir, "b.file");
	if (dup2(f, fd) != fd)
		die("b: dup2");
	must(write(fd, payload, 2002), 2002, "b: write file through the old number");
	close(fd);
	close(f);

	/* c: dup3() a file over a socket. */
	fd = dial_accepted(s[2]);
	must(send(fd, payload, 300, 0), 300, "c: send");
	f = open_file(dir, "c.file");
	if (dup3(f, fd, O_CLOEXEC) != fd)
		die("c: dup3");
	must(write(fd, payload, 3003), 3003, "c: write file through the old number");
	close(fd);
	close(f);

	/* d: F_DUPFD_CLOEXEC copies a socket: the copy writes to the same peer, also once the
	 * original is closed. */
	fd = dial_accepted(s[3]);
	int d = fcntl(fd, F_DUPFD_CLOEXEC, 200);
	if (d < 200)
		die("d: F_DUPFD_CLOEXEC");
	must(write(d, payload, 400), 400, "d: write the copy");
	close(fd);
	must(write(d, payload, 40), 40, "d: write the copy after the close");
	int d2 = fcntl(d, F_DUPFD, 300);
	if (d2 < 300)
		die("d: F_DUPFD");
	must(write(d2, payload, 4), 4, "d: write the copy's copy");
	close(d);
	close(d2);

	/* e: close_range() a socket; a file opens on its number. */
	fd = dial_accepted(s[4]);
	must(write(fd, payload, 500), 500, "e: write");
	if (close_range((unsigned)fd, (unsigned)fd, 0) != 0)
		die("e: close_range");
	f = open_file(dir, "e.file");
	same_number(f, fd, "e: the file");
	must(write(f, payload, 5005), 5005, "e: write file");
	close(f);

	/* f: a file's number (cached as "not a socket") is reused by a socket. */
	f = open_file(dir, "f.file");
	must(write(f, payload, 6006), 6006, "f: write file");
	close(f);
	fd = dial_accepted(s[5]);
	same_number(fd, f, "f: the socket");
	must(write(fd, payload, 600), 600, "f: write");
	close(fd);

	/* g: a file's number (cached as "not a socket") taken over by dup2() of a socket; freed
	 * again by close(), taken by dup() of the socket (dup itself is not hooked). */
	int g = dial_accepted(s[6]);
	f = open_file(dir, "g.file");
	must(write(f, payload, 7007), 7007, "g: write file");
	if (dup2(g, f) != f)
		die("g: dup2");
	must(write(f, payload, 700), 700, "g: write the socket through the file's number");
	close(f);
	d = dup(g);
	same_number(d, f, "g: the dup");
	must(write(d, payload, 70), 70, "g: write the dup");
	close(d);
	close(g);

	/* h: fclose() of an fdopen()ed socket closes it inside libc; a file opens on its number. */
	fd = dial_accepted(s[7]);
	must(write(fd, payload, 800), 800, "h: write");
	FILE *fp = fdopen(fd, "w");
	if (!fp)
		die("h: fdopen");
	fclose(fp);
	f = open_file(dir, "h.file");
	same_number(f, fd, "h: the file");
	must(write(f, payload, 8008), 8008, "h: write file");
	close(f);

	await_got(s[0], 100, "a server");
	await_got(s[1], 200, "b server");
	await_got(s[2], 300, "c server");
	await_got(s[3], 444, "d server");
	await_got(s[4], 500, "e server");
	await_got(s[5], 600, "f server");
	await_got(s[6], 770, "g server");
	await_got(s[7], 800, "h server");
	sink_stop();
	return 0;
}

/* ---- daemon ----------------------------------------------------------------------------- */

/* A new UDP receiver, and count datagrams of size bytes sent to it with send() on a
 * connected socket. Returns the receiver, to be drained. */
static int udp_burst(int count, size_t size, unsigned *port)
{
	int rx = bind_loopback(AF_INET, SOCK_DGRAM);
	int tx = dial_fd(rx, SOCK_DGRAM);
	for (int i = 0; i < count; i++)
		must(send(tx, payload, size, 0), size, "send udp");
	*port = port_of(rx);
	close(tx);
	return rx;
}

static void drain_udp(int rx, int count, size_t size)
{
	char rbuf[2048];
	struct pollfd p = { .fd = rx, .events = POLLIN };
	for (int i = 0; i < count; i++) {
		if (poll(&p, 1, 10000) != 1)
			die("a datagram is missing");
		must(recv(rx, rbuf, sizeof rbuf, MSG_DONTWAIT), size, "recv udp");
	}
	if (recv(rx, rbuf, sizeof rbuf, MSG_DONTWAIT) != -1)
		die("a datagram too many");
}

static int mode_daemon(const char *dir, const char *how, long pause_ms)
{
	unsigned p1, p2, p3;
	/* Before: writes that start the agent's sender, which then connects to the exporter. */
	int rx1 = udp_burst(10, 100, &p1);
	drain_udp(rx1, 10, 100);
	sleep_ms(pause_ms);

	if (!strcmp(how, "range")) {
		if (close_range(3, ~0U, 0) != 0)
			die("close_range");
	} else if (!strcmp(how, "loop")) {
		for (int fd = 3; fd <= 1024; fd++)
			close(fd);
	} else if (!strcmp(how, "raw")) {
		if (syscall(SYS_close_range, 3, ~0U, 0) != 0)
			die("close_range system call");
	} else {
		fprintf(stderr, "net_client: daemon: HOW is range, loop or raw\n");
		return 2;
	}
	if (fcntl(rx1, F_GETFD) != -1)
		die("a descriptor survived");

	/* After: a file on the lowest number (maybe the agent's old one), then more writes, a
	 * pause past the agent's periodic shipping, and more. */
	int f = open_file(dir, "daemon.file");
	must(write(f, payload, 1234), 1234, "write file");
	int rx2 = udp_burst(20, 50, &p2);
	drain_udp(rx2, 20, 50);
	sleep_ms(1300);
	int rx3 = udp_burst(30, 10, &p3);
	drain_udp(rx3, 30, 10);
	must(write(f, payload, 766), 766, "write file");
	struct stat st;
	if (fstat(f, &st) != 0 || st.st_size != 2000)
		die("the file holds something else than ours");
	close(f);
	printf("before_port=%u\nafter_port=%u\nlater_port=%u\n", p1, p2, p3);
	return 0;
}

/* ---- signal ----------------------------------------------------------------------------- */

#define SIG_SIZE 64
#define HANDLER_SIZE 32

static int handler_fd;
static volatile uint64_t handler_calls, handler_bytes, handler_failed;

static void on_alarm(int sig)
{
	(void)sig;
	int saved = errno;
	ssize_t n = write(handler_fd, payload, HANDLER_SIZE);
	handler_calls++;
	if (n > 0)
		handler_bytes += (uint64_t)n;
	else
		handler_failed++;
	errno = saved;
}

static int mode_signal(const char *dir, const char *where, long writes)
{
	int same = !strcmp(where, "same"), none = !strcmp(where, "none");
	if (!same && !none && strcmp(where, "other")) {
		fprintf(stderr, "net_client: signal: WHERE is same, other or none\n");
		return 2;
	}
	struct srv *main_srv = srv_unix(dir, "main.sock", ACC_READ);
	struct srv *alarm_srv = srv_unix(dir, "alarm.sock", ACC_READ);
	sink_start();
	int fd = dial(main_srv);
	int afd = dial(alarm_srv);
	handler_fd = same ? fd : afd;

	struct sigaction sa = { .sa_handler = on_alarm, .sa_flags = SA_RESTART };
	sigemptyset(&sa.sa_mask);
	if (sigaction(SIGALRM, &sa, NULL) != 0)
		die("sigaction");
	struct itimerval it = { { 0, 1000 }, { 0, 1000 } };
	if (!none && setitimer(ITIMER_REAL, &it, NULL) != 0)
		die("setitimer");

	/* A write the handler interrupts may come back short or with EINTR: the rest is written
	 * by another call, and every call is counted. */
	uint64_t calls = 0, bytes = 0, eintr = 0;
	for (long i = 0; i < writes; i++) {
		size_t done = 0;
		while (done < SIG_SIZE) {
			ssize_t n = write(fd, payload, SIG_SIZE - done);
			calls++;
			if (n < 0 && errno == EINTR) {
				eintr++;
				continue;
			}
			if (n <= 0)
				die("write");
			done += (size_t)n;
			bytes += (uint64_t)n;
		}
	}
	struct itimerval off = { { 0, 0 }, { 0, 0 } };
	setitimer(ITIMER_REAL, &off, NULL);
	sigset_t alrm;
	sigemptyset(&alrm);
	sigaddset(&alrm, SIGALRM);
	sigprocmask(SIG_BLOCK, &alrm, NULL);

	close(fd);
	close(afd);
	if (same) {
		await_got(main_srv, bytes + handler_bytes, "the consumer");
	} else {
		await_got(main_srv, bytes, "the consumer");
		await_got(alarm_srv, handler_bytes, "the handler's consumer");
	}
	sink_stop();
	char p1[128], p2[128];
	printf("main_path=%s\nalarm_path=%s\n", path_of(main_srv->fd, p1, sizeof p1),
	       path_of(alarm_srv->fd, p2, sizeof p2));
	printf("main_calls=%llu\nmain_bytes=%llu\nmain_eintr=%llu\n", (unsigned long long)calls,
	       (unsigned long long)bytes, (unsigned long long)eintr);
	printf("handler_calls=%llu\nhandler_bytes=%llu\nhandler_failed=%llu\n",
	       (unsigned long long)handler_calls, (unsigned long long)handler_bytes,
	       (unsigned long long)handler_failed);
	return 0;
}

/* ---- errors ----------------------------------------------------------------------------- */

/* Until the server's close of fd is seen (end of file). */
static void await_eof(int fd)
{
	char c;
	struct pollfd p = { .fd = fd, .events = POLLIN };
	if (poll(&p, 1, 10000) != 1 || read(fd, &c, 1) != 0)
		die("the server did not close");
}

static int mode_errors(const char *dir)
{
	struct srv *ep = srv_unix(dir, "epipe.sock", ACC_CLOSE);
	struct srv *tp = srv_inet(AF_INET, SOCK_STREAM, ACC_CLOSE);
	struct srv *full = srv_unix(dir, "full.sock", ACC_HOLD);
	sink_start();

	/* EPIPE on a Unix stream socket: every write after the other end closed. 3 sends with
	 * MSG_NOSIGNAL, then with SIGPIPE ignored a write, a writev, a sendto, a sendmsg. */
	int fd = dial(ep);
	await_eof(fd);
	for (int i = 0; i < 3; i++)
		must_fail(send(fd, payload, 10, MSG_NOSIGNAL), EPIPE, "send after close");
	signal(SIGPIPE, SIG_IGN);
	struct iovec v[2] = { { payload, 10 }, { payload, 20 } };
	struct msghdr msg = { .msg_iov = v, .msg_iovlen = 2 };
	must_fail(write(fd, payload, 10), EPIPE, "write after close");
	must_fail(writev(fd, v, 2), EPIPE, "writev after close");
	must_fail(sendto(fd, payload, 10, 0, NULL, 0), EPIPE, "sendto after close");
	must_fail(sendmsg(fd, &msg, 0), EPIPE, "sendmsg after close");
	close(fd);

	/* TCP: the first writes after the close may still go out (the reset comes back later):
	 * counted as they come, until 3 have failed. */
	uint64_t tcp_ok = 0, tcp_bytes = 0, tcp_epipe = 0, tcp_reset = 0;
	fd = dial(tp);
	await_eof(fd);
	for (int i = 0; i < 1000 && tcp_epipe + tcp_reset < 3; i++) {
		ssize_t n = send(fd, payload, 100, MSG_NOSIGNAL);
		if (n >= 0) {
			tcp_ok++;
			tcp_bytes += (uint64_t)n;
		} else if (errno == EPIPE) {
			tcp_epipe++;
		} else if (errno == ECONNRESET) {
			tcp_reset++;
		} else {
			die("tcp send after close");
		}
		if (n >= 0)
			sleep_ms(10); /* time for the reset */
	}
	close(fd);

	/* EAGAIN: a non-blocking socket whose server never reads, filled up; then 2 sends, a
	 * write and a writev that find it full. */
	uint64_t full_ok = 0, full_bytes = 0;
	fd = dial(full);
	if (fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
		die("O_NONBLOCK");
	for (;;) {
		ssize_t n = send(fd, payload, 4096, 0);
		if (n < 0 && errno == EAGAIN)
			break;
		if (n <= 0)
			die("filling");
		full_ok++;
		full_bytes += (uint64_t)n;
	}
	must_fail(send(fd, payload, 4096, 0), EAGAIN, "send when full");
	must_fail(send(fd, payload, 4096, MSG_DONTWAIT), EAGAIN, "send when full");
	must_fail(write(fd, payload, 4096), EAGAIN, "write when full");
	must_fail(writev(fd, v, 2), EAGAIN, "writev when full");
	close(fd);

	/* ECONNREFUSED: connected UDP to a port nobody listens on any more. The first send
	 * goes; the port unreachable answer fails a later one. */
	int gone = bind_loopback(AF_INET, SOCK_DGRAM);
	int u = dial_fd(gone, SOCK_DGRAM);
	unsigned gone_port = port_of(gone);
	close(gone);
	uint64_t udp_ok = 0, udp_refused = 0;
	for (int i = 0; i < 100 && !udp_refused; i++) {
		ssize_t n = send(u, payload, 50, 0);
		if (n == 50)
			udp_ok++;
		else if (n < 0 && errno == ECONNREFUSED)
			udp_refused++;
		else
			die("udp send");
		sleep_ms(5);
	}
	close(u);
	sink_stop();

	char p1[128], p2[128];
	printf("epipe_path=%s\n", path_of(ep->fd, p1, sizeof p1));
	printf("tcp_port=%u\ntcp_ok=%llu\ntcp_bytes=%llu\ntcp_epipe=%llu\ntcp_reset=%llu\n",
	       port_of(tp->fd), (unsigned long long)tcp_ok, (unsigned long long)tcp_bytes,
	       (unsigned long long)tcp_epipe, (unsigned long long)tcp_reset);
	printf("full_path=%s\nfull_ok=%llu\nfull_bytes=%llu\n", path_of(full->fd, p2, sizeof p2),
	       (unsigned long long)full_ok, (unsigned long long)full_bytes);
	printf("udp_port=%u\nudp_ok=%llu\nudp_refused=%llu\n", gone_port,
	       (unsigned long long)udp_ok, (unsigned long long)udp_refused);
	return 0;
}

/* ---- http-sink -------------------------------------------------------------------------- */

static int mode_http_sink(const char *portfile)
{
	struct srv *s = srv_inet(AF_INET, SOCK_STREAM, ACC_READ);
	char tmp[4096];
	snprintf(tmp, sizeof tmp, "%s.tmp", portfile);
	FILE *pf = fopen(tmp, "w");
	if (!pf || fprintf(pf, "%u\n", port_of(s->fd)) < 0 || fclose(pf) != 0 ||
	    rename(tmp, portfile) != 0)
		die(portfile);
	int c = accept(s->fd, NULL, NULL);
	if (c < 0)
		die("accept");

	static char head[65536];
	size_t have = 0;
	char *end = NULL;
	while (!end) {
		if (have == sizeof head - 1) {
			errno = 0;
			die("headers too long");
		}
		ssize_t n = read(c, head + have, sizeof head - 1 - have);
		if (n <= 0)
			die("read headers");
		have += (size_t)n;
		head[have] = 0;
		end = strstr(head, "\r\n\r\n");
	}
	size_t hlen = (size_t)(end + 4 - head);
	const char *cl = strcasestr(head, "\r\ncontent-length:");
	size_t want = cl ? strtoul(cl + 17, NULL, 10) : 0;
	/* curl asks before sending a large body. */
	if (strcasestr(head, "\r\nexpect: 100-continue")) {
		static const char go[] = "HTTP/1.1 100 Continue\r\n\r\n";
		must(write(c, go, sizeof go - 1), sizeof go - 1, "write 100 Continue");
	}
	size_t body = have - hlen;
	while (body < want) {
		ssize_t n = read(c, head, sizeof head);
		if (n <= 0)
			die("read body");
		body += (size_t)n;
	}
	static const char ok[] =
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
	must(write(c, ok, sizeof ok - 1), sizeof ok - 1, "write response");
	close(c);
	printf("headers=%zu\nbody=%zu\n", hlen, body);
	return 0;
}

int main(int argc, char **argv)
{
	memset(payload, 'x', sizeof payload);
	setvbuf(stdout, NULL, _IOFBF, 0); /* one write at exit, after the servers are gone */
	int rc = 2;
	if (argc == 3 && !strcmp(argv[1], "peers"))
		rc = mode_peers(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "reuse"))
		rc = mode_reuse(argv[2]);
	else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "daemon"))
		rc = mode_daemon(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 300);
	else if ((argc == 4 || argc == 5) && !strcmp(argv[1], "signal"))
		rc = mode_signal(argv[2], argv[3], argc == 5 ? atol(argv[4]) : 200000);
	else if (argc == 3 && !strcmp(argv[1], "errors"))
		rc = mode_errors(argv[2]);
	else if (argc == 3 && !strcmp(argv[1], "http-sink"))
		rc = mode_http_sink(argv[2]);
	else
		fprintf(stderr,
			"usage: %s peers|reuse|errors DIR | daemon DIR range|loop|raw | "
			"signal DIR same|other | http-sink PORTFILE\n",
			argv[0]);
	if (rc == 0)
		printf("net_client: ok\n");
	return rc;
}
