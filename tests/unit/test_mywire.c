/* mywire: the MySQL protocol read from bytes, on hand-built conversations, fed whole and one
 * byte at a time (sockets split packets anywhere). */
#include <criterion/criterion.h>
#include <stdio.h>
#include <string.h>

#include "mywire.h"
#include "wire.h"

struct call {
	char text[128];
	uint64_t rows, affected;
	unsigned err;
	uint64_t t0, t1;
};
static struct call calls[16];
static unsigned ncalls;

static void on_emit(struct mywire *w, const struct dbp_query_ent *q, uint64_t t0, uint64_t t1,
		    uint64_t rows, uint64_t affected, unsigned err)
{
	(void)w;
	cr_assert_lt(ncalls, 16);
	struct call *c = &calls[ncalls++];
	snprintf(c->text, sizeof c->text, "%.*s", (int)q->text_len, q->text);
	c->rows = rows;
	c->affected = affected;
	c->err = err;
	c->t0 = t0;
	c->t1 = t1;
}

/* A packet: header then payload. */
static size_t pkt(uint8_t *out, uint8_t seq, const void *payload, size_t n)
{
	out[0] = (uint8_t)n;
	out[1] = (uint8_t)(n >> 8);
	out[2] = (uint8_t)(n >> 16);
	out[3] = seq;
	memcpy(out + 4, payload, n);
	return n + 4;
}

static int byte_by_byte;

static int feed(struct mywire *w, int out, const uint8_t *b, size_t n, uint64_t now)
{
	int rc = 0;
	if (!byte_by_byte)
		return out ? mywire_out(w, b, n, now) : mywire_in(w, b, n, now);
	for (size_t i = 0; i < n && rc == 0; i++)
		rc = out ? mywire_out(w, b + i, 1, now) : mywire_in(w, b + i, 1, now);
	return rc;
}

#define CAPS_41 (0x200u | 0x8000u | 0x8u) /* protocol 41, secure connection, with db */

/* Greeting, handshake response naming db, OK: a connection in the command phase. */
static void connect_to(struct mywire *w, uint32_t caps, const char *db)
{
	uint8_t b[256], p[128];
	size_t n = 0;
	p[n++] = 10;
	memcpy(p + n, "10.11.19-MariaDB", 17);
	n += 17;
	memset(p + n, 'x', 20); /* thread id, scramble, flags: never read */
	n += 20;
	cr_assert_eq(feed(w, 0, b, pkt(b, 0, p, n), 1), 0);
	n = 0;
	memcpy(p, &caps, 4);
	memset(p + 4, 0, 28);
	n = 32;
	memcpy(p + n, "user", 5);
	n += 5;
	p[n++] = 3; /* auth response, 3 bytes */
	memcpy(p + n, "abc", 3);
	n += 3;
	memcpy(p + n, db, strlen(db) + 1);
	n += strlen(db) + 1;
	cr_assert_eq(feed(w, 1, b, pkt(b, 1, p, n), 2), 0);
	const uint8_t ok[] = { 0x00, 0, 0, 2, 0, 0, 0 };
	cr_assert_eq(feed(w, 0, b, pkt(b, 2, ok, sizeof ok), 3), 0);
	cr_assert(mywire_ready(w));
}

static void query(struct mywire *w, const char *sql, uint64_t now)
{
	uint8_t b[512], p[256];
	p[0] = 0x03;
	memcpy(p + 1, sql, strlen(sql));
	cr_assert_eq(feed(w, 1, b, pkt(b, 0, p, strlen(sql) + 1), now), 0);
}

/* A result set of one column and `rows` rows, then its end with status flags. */
static void result_set(struct mywire *w, unsigned rows, int deprecate_eof, uint16_t status,
		       uint8_t *seq, uint64_t now)
{
	uint8_t b[4096];
	size_t n = 0;
	const uint8_t one = 1;
	n += pkt(b + n, (*seq)++, &one, 1);
	const uint8_t coldef[] = { 3, 'd', 'e', 'f', 0, 0, 0, 1, 'a', 1, 'a', 0x0c };
	n += pkt(b + n, (*seq)++, coldef, sizeof coldef);
	const uint8_t eof[] = { 0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8) };
	if (!deprecate_eof)
		n += pkt(b + n, (*seq)++, eof, sizeof eof);
	for (unsigned r = 0; r < rows; r++) {
		const uint8_t row[] = { 2, 'h', 'i' };
		n += pkt(b + n, (*seq)++, row, sizeof row);
	}
	if (deprecate_eof) {
		const uint8_t end[] = { 0xfe, 0, 0, (uint8_t)status, (uint8_t)(status >> 8), 0, 0 };
		n += pkt(b + n, (*seq)++, end, sizeof end);
	} else {
		n += pkt(b + n, (*seq)++, eof, sizeof eof);
	}
	cr_assert_eq(feed(w, 0, b, n, now), 0);
}

static void conversation(void)
{
	struct mywire w;
	ncalls = 0;
	mywire_init(&w, on_emit);
	connect_to(&w, CAPS_41, "shop");
	cr_assert_eq(w.system, DBP_DB_MARIADB);
	cr_assert_str_eq(w.ns->str, "shop");

	uint8_t seq = 1, b[64];
	query(&w, "SELECT a FROM t WHERE id < 4", 10);
	result_set(&w, 3, 0, 0x2, &seq, 20);
	cr_assert_eq(ncalls, 1);
	cr_assert_str_eq(calls[0].text, "SELECT a FROM t WHERE id < ?");
	cr_assert_eq(calls[0].rows, 3);
	cr_assert_eq(calls[0].t0, 10);
	cr_assert_eq(calls[0].t1, 20);

	query(&w, "UPDATE t SET a = 1", 30);
	const uint8_t ok[] = { 0x00, 7, 0, 2, 0, 0, 0 };
	cr_assert_eq(feed(&w, 0, b, pkt(b, 1, ok, sizeof ok), 35), 0);
	cr_assert_eq(ncalls, 2);
	cr_assert_eq(calls[1].affected, 7);

	query(&w, "SELECT * FROM missing", 40);
	const uint8_t err[] = { 0xff, 0x7a, 0x04, '#', '4', '2', 'S', '0', '2', 'x' };
	cr_assert_eq(feed(&w, 0, b, pkt(b, 1, err, sizeof err), 41), 0);
	cr_assert_eq(ncalls, 3);
	cr_assert_eq(calls[2].err, 1146);

	/* Several statements, several results, MORE_RESULTS (0x8) on all but the last. */
	query(&w, "SELECT 1; DELETE FROM t WHERE a > 2; SELECT a FROM t", 50);
	seq = 1;
	result_set(&w, 1, 0, 0x8 | 0x2, &seq, 51);
	const uint8_t ok_more[] = { 0x00, 2, 0, 0x0a, 0, 0, 0 };
	cr_assert_eq(feed(&w, 0, b, pkt(b, seq++, ok_more, sizeof ok_more), 52), 0);
	result_set(&w, 4, 0, 0x2, &seq, 53);
	cr_assert_eq(ncalls, 6);
	cr_assert_str_eq(calls[3].text, "SELECT ?");
	cr_assert_str_eq(calls[4].text, "DELETE FROM t WHERE a > ?");
	cr_assert_eq(calls[4].affected, 2);
	cr_assert_str_eq(calls[5].text, "SELECT a FROM t");
	cr_assert_eq(calls[5].rows, 4);
	cr_assert_eq(calls[5].t0, 52, "each statement starts where the one before ended");

	/* COM_INIT_DB moves the namespace once the server agrees. */
	const uint8_t init[] = { 0x02, 'o', 't', 'h', 'e', 'r' };
	cr_assert_eq(feed(&w, 1, b, pkt(b, 0, init, sizeof init), 60), 0);
	cr_assert_str_eq(w.ns->str, "shop");
	cr_assert_eq(feed(&w, 0, b, pkt(b, 1, ok, sizeof ok), 61), 0);
	cr_assert_str_eq(w.ns->str, "other");
	cr_assert_eq(ncalls, 6, "USE is not a statement");
	mywire_free(&w);
}

Test(mywire, a_whole_conversation)
{
	byte_by_byte = 0;
	conversation();
}

Test(mywire, the_same_fed_one_byte_at_a_time)
{
	byte_by_byte = 1;
	conversation();
}

Test(mywire, deprecate_eof_results)
{
	struct mywire w;
	ncalls = 0;
	byte_by_byte = 0;
	mywire_init(&w, on_emit);
	connect_to(&w, CAPS_41 | 0x1000000u, "db");
	uint8_t seq = 1;
	query(&w, "SELECT a FROM t", 1);
	result_set(&w, 5, 1, 0x2, &seq, 2);
	cr_assert_eq(ncalls, 1);
	cr_assert_eq(calls[0].rows, 5);
	mywire_free(&w);
}

Test(mywire, not_mysql_lets_go)
{
	struct mywire w;
	byte_by_byte = 0;
	mywire_init(&w, on_emit);
	cr_assert_eq(mywire_out(&w, "GET / HTTP/1.1\r\n\r\n", 18, 1), -1, "the client spoke first");
	mywire_free(&w);
	mywire_init(&w, on_emit);
	cr_assert_eq(mywire_in(&w, "HTTP/1.1 200 OK\r\n", 17, 1), -1);
	mywire_free(&w);
	mywire_init(&w, on_emit);
	const uint8_t pg[] = { 0, 0, 0, 8, 4, 0xd2, 0x16, 0x2f }; /* PostgreSQL's SSLRequest */
	cr_assert_eq(mywire_out(&w, pg, sizeof pg, 1), -1, "PostgreSQL's client speaks first");
	mywire_free(&w);
	mywire_init(&w, on_emit);
	const uint8_t big[] = { 0xff, 0xff, 0x0f, 0 }; /* a 1 MiB "greeting" */
	cr_assert_eq(mywire_in(&w, big, sizeof big, 1), -1, "no waiting for megabytes");
	mywire_free(&w);
}

Test(mywire, tls_and_compression_let_go)
{
	struct mywire w;
	uint8_t b[64], p[32] = { 0 };
	byte_by_byte = 0;
	mywire_init(&w, on_emit);
	uint8_t greet[40] = { 10, '8', '.', '0', 0 };
	cr_assert_eq(mywire_in(&w, b, pkt(b, 0, greet, sizeof greet), 1), 0);
	uint32_t caps = CAPS_41 | 0x800u; /* SSL request: 32 bytes, then TLS */
	memcpy(p, &caps, 4);
	cr_assert_eq(mywire_out(&w, b, pkt(b, 1, p, 32), 2), -1);
	cr_assert_eq(w.system, DBP_DB_MYSQL);
	mywire_free(&w);
}

Test(mywire, unread_result_ends_at_the_next_command)
{
	struct mywire w;
	uint8_t b[64];
	ncalls = 0;
	byte_by_byte = 0;
	mywire_init(&w, on_emit);
	connect_to(&w, CAPS_41, "db");
	query(&w, "SELECT a FROM t", 1);
	const uint8_t one = 1;
	cr_assert_eq(mywire_in(&w, b, pkt(b, 1, &one, 1), 2), 0);
	const uint8_t quit = 0x01;
	cr_assert_eq(mywire_out(&w, b, pkt(b, 0, &quit, 1), 3), 0);
	cr_assert_eq(ncalls, 1, "the query the client gave up on is still one call");
	mywire_free(&w);
}

Test(mywire, hostile_bytes_never_read_out_of_bounds)
{
	/* Random greetings and responses: whatever happens, no crash and no call from nothing. */
	uint8_t junk[4096];
	uint32_t x = 12345;
	for (int round = 0; round < 200; round++) {
		struct mywire w;
		ncalls = 0;
		mywire_init(&w, on_emit);
		if (round % 2)
			connect_to(&w, CAPS_41 | (round % 4 ? 0x1000000u : 0), "db");
		for (size_t i = 0; i < sizeof junk; i++) {
			x = x * 1103515245 + 12345;
			junk[i] = (uint8_t)(x >> 16);
		}
		mywire_in(&w, junk, sizeof junk, 5);
		mywire_out(&w, junk, sizeof junk / 2, 6);
		mywire_in(&w, junk + 100, sizeof junk - 100, 7);
		mywire_free(&w);
	}
}

Test(mywire, an_abandoned_connection_lets_go_at_the_next_bytes)
{
	/* What a signal handler or a writev on the same descriptor does: the stream is out of
	 * step from there, so the next feed must let go rather than misread it. */
	struct mywire w;
	ncalls = 0;
	byte_by_byte = 0;
	mywire_init(&w, on_emit);
	connect_to(&w, CAPS_41, "db");
	mywire_abandon(&w);
	uint8_t b[64], p[16] = { 0x03, 'S', 'E', 'L', 'E', 'C', 'T', ' ', '1' };
	cr_assert_eq(mywire_out(&w, b, pkt(b, 0, p, 9), 5), -1);
	cr_assert_eq(ncalls, 0);
	mywire_free(&w);
}
