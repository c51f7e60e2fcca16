/* badframes: connects to an exporter and sends one bad frame per connection, of each kind the
 * exporter must reject without going down. Usage: badframes SOCKET. Prints what it sent. */
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "frame.h"

static const char *path;

static int conn(void)
{
	int fd = socket(AF_UNIX, SOCK_SEQPACKET, 0);
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	strncpy(sa.sun_path, path, sizeof sa.sun_path - 1);
	if (connect(fd, (struct sockaddr *)&sa, sizeof sa) < 0) {
		perror("connect");
		exit(1);
	}
	return fd;
}

static void send_one(const char *what, const void *buf, size_t len)
{
	int fd = conn();
	ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
	printf("%s: %zu bytes, sent %zd\n", what, len, n);
	/* Wait for the exporter to hang up on us: proof it read and rejected the frame. */
	char c;
	struct timeval tv = { 2, 0 };
	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
	ssize_t r = recv(fd, &c, 1, 0);
	printf("%s: %s\n", what, r == 0 ? "closed by exporter" : "still open");
	close(fd);
}

static void hello(struct dbp_frame *f)
{
	dbp_frame_reset(f);
	dbp_frame_hello(f, 4242, 1, 0, "/bin/bad", 8, "badframes", 9);
}

int main(int argc, char **argv)
{
	if (argc != 2)
		return 2;
	path = argv[1];
	static struct dbp_frame f;

	char garbage[256];
	for (size_t i = 0; i < sizeof garbage; i++)
		garbage[i] = (char)(i * 37 + 11);
	send_one("garbage", garbage, sizeof garbage);

	struct dbp_frame_hdr fh;
	hello(&f);
	memcpy(&fh, f.buf, sizeof fh);
	fh.magic ^= 1;
	memcpy(f.buf, &fh, sizeof fh);
	send_one("bad magic", f.buf, f.len);

	hello(&f);
	memcpy(&fh, f.buf, sizeof fh);
	fh.version = 99;
	memcpy(f.buf, &fh, sizeof fh);
	send_one("bad version", f.buf, f.len);

	hello(&f);
	send_one("truncated record", f.buf, f.len - 8);

	hello(&f);
	/* The HELLO claims a longer executable path than the record holds. */
	uint16_t long_exe = 4000;
	memcpy((char *)f.buf + sizeof(struct dbp_frame_hdr) + offsetof(struct dbp_hello, exe_len),
	       &long_exe, sizeof long_exe);
	send_one("string past record", f.buf, f.len);

	hello(&f);
	struct dbp_call c = { .query_id = 12345, .duration_ns = 1000 };
	dbp_frame_call(&f, &c, 0);
	send_one("undefined query id", f.buf, f.len);

	dbp_frame_reset(&f);
	dbp_frame_call(&f, &c, 0);
	send_one("call before hello", f.buf, f.len);

	size_t big = DBP_FRAME_MAX + 4096;
	char *huge = calloc(1, big);
	hello(&f);
	memcpy(huge, f.buf, f.len);
	send_one("oversized", huge, big);
	free(huge);
	return 0;
}
