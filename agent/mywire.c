/* mywire: the MySQL protocol read from a connection's bytes (see mywire.h). */
#include "mywire.h"

#include <stdlib.h>
#include <string.h>

#include "wire.h"

enum phase {
	MW_GREETING = 0, /* the server speaks first: a protocol-10 greeting */
	MW_RESPONSE,     /* the client's handshake response */
	MW_AUTH,         /* authentication exchanges, until the server's OK */
	MW_COMMAND,      /* one command, its response, the next command */
	MW_OFF,          /* not MySQL, or not readable */
};

enum cmd { CMD_NONE = 0, CMD_INIT_DB = 0x02, CMD_QUERY = 0x03, CMD_IGNORE = 0xff };
enum rstate { R_FIRST = 0, R_COLS, R_COLS_EOF, R_ROWS, R_DONE };

#define CLIENT_CONNECT_WITH_DB 0x8u
#define CLIENT_COMPRESS 0x20u
#define CLIENT_PROTOCOL_41 0x200u
#define CLIENT_SSL 0x800u
#define CLIENT_SECURE_CONNECTION 0x8000u
#define CLIENT_LENENC_AUTH 0x200000u
#define CLIENT_DEPRECATE_EOF 0x1000000u
#define SERVER_MORE_RESULTS 0x8u
#define BIG_PACKET 0xffffffu

void mywire_init(struct mywire *w, mywire_emit_fn emit)
{
	memset(w, 0, sizeof *w);
	w->emit = emit;
}

void mywire_free(struct mywire *w)
{
	free(w->buf);
	free(w->pending_db);
	dbp_parts_free(&w->parts);
	w->buf = NULL;
	w->pending_db = NULL;
	w->phase = MW_OFF;
}

/* A length-encoded integer at p[0..n): its value, advancing *i; 0 when cut short. */
static uint64_t lenenc(const uint8_t *p, uint32_t n, uint32_t *i)
{
	if (*i >= n)
		return 0;
	uint8_t b = p[(*i)++];
	unsigned k = b < 0xfb ? 0 : b == 0xfc ? 2 : b == 0xfd ? 3 : b == 0xfe ? 8 : 0;
	if (b < 0xfb)
		return b;
	if (!k || *i + k > n)
		return 0;
	uint64_t v = 0;
	for (unsigned j = 0; j < k; j++)
		v |= (uint64_t)p[*i + j] << (8 * j);
	*i += k;
	return v;
}

/* The status flags of an OK packet (0x00 or, ending rows, 0xfe) kept in head. */
static unsigned ok_status(const struct mywire *w, uint64_t *affected)
{
	uint32_t i = 1, n = w->in.nhead < sizeof w->head ? w->in.nhead : sizeof w->head;
	uint64_t a = lenenc(w->head, n, &i);
	lenenc(w->head, n, &i); /* last insert id */
	if (affected)
		*affected = a;
	return i + 2 <= n ? (unsigned)(w->head[i] | w->head[i + 1] << 8) : 0;
}

/* The statement running ended at now. */
static void part_done(struct mywire *w, uint64_t rows, uint64_t affected, unsigned err,
		      uint64_t now, int more)
{
	/* Results beyond the string's last statement (a CALL's result sets and status) add up
	 * into that statement's one record. */
	if (!err && more && w->cur + 1 >= w->parts.n) {
		w->acc_rows += rows;
		w->acc_affected += affected;
		w->rows = 0;
		return;
	}
	rows += w->acc_rows;
	affected += w->acc_affected;
	w->acc_rows = w->acc_affected = 0;
	if (w->parts.n) {
		struct dbp_part *pt = dbp_parts_at(&w->parts, w->cur);
		if (w->emit)
			w->emit(w, pt->q, w->t0, now, rows, affected, err);
		if (!err && pt->op == DBP_PART_USE) /* USE db: what follows runs there */
			w->ns = dbp_str_get(DBP_STR_NAMESPACE, pt->name, strlen(pt->name));
	}
	w->t0 = now;
	w->rows = 0;
	if (w->cur + 1 < w->parts.n)
		w->cur++;
}

static void response(struct mywire *w, uint32_t len, uint64_t now)
{
	const uint8_t *h = w->head;
	uint32_t n = w->in.nhead;
	if (!n) /* no response packet is empty */
		return;
	if (w->cmd == CMD_INIT_DB) {
		if (h[0] == 0x00 && w->pending_db)
			w->ns = dbp_str_get(DBP_STR_NAMESPACE, w->pending_db,
					    strlen(w->pending_db));
		w->cmd = CMD_NONE;
		return;
	}
	if (w->cmd != CMD_QUERY)
		return;
	uint64_t affected = 0;
	switch (w->rstate) {
	case R_FIRST:
		if (h[0] == 0x00) {
			unsigned st = ok_status(w, &affected);
			part_done(w, 0, affected, 0, now, st & SERVER_MORE_RESULTS);
			w->rstate = st & SERVER_MORE_RESULTS ? R_FIRST : R_DONE;
		} else if (h[0] == 0xff) {
			part_done(w, 0, 0, n >= 3 ? (unsigned)(h[1] | h[2] << 8) : 2000, now, 0);
			w->rstate = R_DONE;
		} else if (h[0] == 0xfb) { /* LOCAL INFILE: the rest is the file's transfer */
			part_done(w, 0, 0, 0, now, 0);
			w->rstate = R_DONE;
		} else {
			uint32_t i = 0;
			w->cols_left = lenenc(h, n, &i);
			w->rows = 0;
			w->rstate = w->cols_left ? R_COLS : R_DONE;
		}
		break;
	case R_COLS:
		if (--w->cols_left == 0)
			w->rstate = w->caps & CLIENT_DEPRECATE_EOF ? R_ROWS : R_COLS_EOF;
		break;
	case R_COLS_EOF:
		w->rstate = R_ROWS;
		break;
	case R_ROWS:
		/* A row never starts with 0xfe unless it is 16 MiB long: a short one ends rows. */
		if (h[0] == 0xfe && (w->caps & CLIENT_DEPRECATE_EOF ? len < BIG_PACKET : len < 9)) {
			unsigned st = w->caps & CLIENT_DEPRECATE_EOF
					      ? ok_status(w, NULL)
					      : (n >= 5 ? (unsigned)(h[3] | h[4] << 8) : 0);
			part_done(w, w->rows, 0, 0, now, st & SERVER_MORE_RESULTS);
			w->rstate = st & SERVER_MORE_RESULTS ? R_FIRST : R_DONE;
		} else if (h[0] == 0xff) {
			part_done(w, w->rows, 0, n >= 3 ? (unsigned)(h[1] | h[2] << 8) : 2000, now,
				  0);
			w->rstate = R_DONE;
		} else {
			w->rows++;
		}
		break;
	default:
		break;
	}
}

static void server_packet(struct mywire *w, uint8_t seq, uint32_t len, uint64_t now)
{
	const uint8_t *h = w->head;
	uint32_t n = w->in.nhead;
	switch (w->phase) {
	case MW_GREETING: {
		/* Protocol 10, then the version, NUL-terminated and printable. */
		uint32_t i = 1;
		while (i < n && h[i] >= 0x20 && h[i] < 0x7f)
			i++;
		if (seq != 0 || n < 3 || h[0] != 10 || i >= n || h[i] != 0 || i < 3) {
			w->phase = MW_OFF;
			return;
		}
		w->system = memmem(h + 1, i - 1, "MariaDB", 7) ? DBP_DB_MARIADB : DBP_DB_MYSQL;
		w->phase = MW_RESPONSE;
		return;
	}
	case MW_RESPONSE:
		w->phase = MW_OFF; /* the server spoke out of turn */
		return;
	case MW_AUTH:
		if (n && h[0] == 0x00)
			w->phase = MW_COMMAND;
		else if (n && h[0] == 0xff)
			w->phase = MW_OFF;
		return; /* auth switch (0xfe) and more data (0x01) go on */
	case MW_COMMAND:
		response(w, len, now);
		return;
	default:
		return;
	}
}

/* The handshake response: capabilities, and the database the connection starts in. */
static void handshake_response(struct mywire *w, uint8_t seq, uint32_t len)
{
	const uint8_t *b = (const uint8_t *)w->buf;
	uint32_t n = w->out.nhead;
	if (seq != 1 || n < 32) {
		w->phase = MW_OFF;
		return;
	}
	w->caps =
		(uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
	/* TLS from here (an SSL request is the first 32 bytes alone), or compressed packets. */
	if ((w->caps & CLIENT_SSL && len == 32) || w->caps & CLIENT_COMPRESS ||
	    !(w->caps & CLIENT_PROTOCOL_41)) {
		w->phase = MW_OFF;
		return;
	}
	w->phase = MW_AUTH;
	if (!(w->caps & CLIENT_CONNECT_WITH_DB))
		return;
	uint32_t i = 32;
	while (i < n && b[i]) /* user */
		i++;
	i++;
	if (w->caps & CLIENT_LENENC_AUTH) {
		uint64_t a = lenenc(b, n, &i);
		i = a > n ? n : i + (uint32_t)a;
	} else if (w->caps & CLIENT_SECURE_CONNECTION) {
		i = i < n ? i + 1 + b[i] : n;
	} else {
		while (i < n && b[i])
			i++;
		i++;
	}
	if (i >= n)
		return;
	uint32_t start = i;
	while (i < n && b[i])
		i++;
	if (i > start)
		w->ns = dbp_str_get(DBP_STR_NAMESPACE, (const char *)b + start, i - start);
}

static void client_packet(struct mywire *w, uint8_t seq, uint32_t len, uint64_t now)
{
	const char *b = w->buf;
	uint32_t n = w->out.nhead;
	switch (w->phase) {
	case MW_GREETING:
		w->phase = MW_OFF; /* the client spoke first: not MySQL */
		return;
	case MW_RESPONSE:
		handshake_response(w, seq, len);
		return;
	case MW_COMMAND:
		break;
	default:
		return;
	}
	if (seq != 0 || !n)
		return; /* a LOCAL INFILE transfer, or a packet we cannot place */
	/* A new command: whatever the last one left unread is over. */
	if (w->cmd == CMD_QUERY && w->rstate != R_DONE)
		part_done(w, w->rows, 0, 0, now, 0);
	w->cmd = CMD_IGNORE;
	w->rstate = R_FIRST;
	if (b[0] == CMD_QUERY) {
		dbp_parts_free(&w->parts);
		w->cur = 0;
		w->acc_rows = w->acc_affected = 0;
		w->t0 = now;
		w->rows = 0;
		if (dbp_parts_set(&w->parts, b + 1, n - 1, 1, DBP_DIALECT_MYSQL,
				  dbp_note_mysql_use) == 0)
			w->cmd = CMD_QUERY;
	} else if (b[0] == CMD_INIT_DB) {
		free(w->pending_db);
		w->pending_db = strndup(b + 1, n - 1);
		w->cmd = CMD_INIT_DB;
	}
}

/* Frames one side's bytes into packets; keep holds each packet's first keepcap bytes. */
static void feed(struct mywire *w, struct mywire_stream *s, int out, const uint8_t *p, size_t n,
		 uint64_t now)
{
	if (__atomic_load_n(&w->abandoned, __ATOMIC_RELAXED))
		w->phase = MW_OFF;
	if (out && w->phase == MW_GREETING && n) {
		w->phase = MW_OFF; /* the client spoke first: not MySQL */
		return;
	}
	while (n && w->phase != MW_OFF) {
		if (s->nhdr < 4) {
			s->hdr[s->nhdr++] = *p++;
			n--;
			if (s->nhdr < 4)
				continue;
			s->len = (uint32_t)s->hdr[0] | (uint32_t)s->hdr[1] << 8 |
				 (uint32_t)s->hdr[2] << 16;
			s->left = s->len;
			s->nhead = 0;
			/* A greeting is the first packet, short: anything else is not MySQL, and
			 * waiting for megabytes of it would only cost memory. */
			if (!out && w->phase == MW_GREETING &&
			    (s->hdr[3] != 0 || s->len < 3 || s->len > 1024)) {
				w->phase = MW_OFF;
				return;
			}
			if (out && !s->cont) {
				uint32_t want = s->len < MYWIRE_TEXT_MAX ? s->len : MYWIRE_TEXT_MAX;
				if (want > w->bufcap) {
					char *nb = realloc(w->buf, want);
					if (!nb) {
						w->phase = MW_OFF;
						return;
					}
					w->buf = nb;
					w->bufcap = want;
				}
			}
		} else {
			size_t k = n < s->left ? n : s->left;
			uint8_t *keep = out ? (uint8_t *)w->buf : w->head;
			uint32_t cap = out ? w->bufcap : (uint32_t)sizeof w->head;
			if (!s->cont && s->nhead < cap) {
				size_t c = k < cap - s->nhead ? k : cap - s->nhead;
				memcpy(keep + s->nhead, p, c);
				s->nhead += (uint32_t)c;
			}
			p += k;
			n -= k;
			s->left -= (uint32_t)k;
		}
		if (s->nhdr == 4 && s->left == 0) {
			int cont = s->cont;
			s->cont = s->len == BIG_PACKET; /* the next packet carries on this one */
			s->nhdr = 0;
			if (!cont) {
				if (out)
					client_packet(w, s->hdr[3], s->len, now);
				else
					server_packet(w, s->hdr[3], s->len, now);
			}
		}
	}
}

int mywire_out(struct mywire *w, const void *buf, size_t n, uint64_t now)
{
	feed(w, &w->out, 1, buf, n, now);
	return w->phase == MW_OFF ? -1 : 0;
}

int mywire_in(struct mywire *w, const void *buf, size_t n, uint64_t now)
{
	feed(w, &w->in, 0, buf, n, now);
	return w->phase == MW_OFF ? -1 : 0;
}

int mywire_ready(const struct mywire *w)
{
	return w->phase == MW_COMMAND;
}

void mywire_abandon(struct mywire *w)
{
	/* A flag of its own, not the phase: a feed running on another thread would overwrite
	 * the phase. */
	__atomic_store_n(&w->abandoned, 1, __ATOMIC_RELAXED);
}
