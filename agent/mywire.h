/* mywire: the MySQL client/server protocol, read from a connection's bytes. For programs that
 * carry their own copy of the client library (Debian's `mariadb` and `mysqldump` link it
 * statically), where no symbol can be interposed: the socket calls still go through libc. It
 * follows the handshake to the command phase, then times COM_QUERY (one call per statement
 * result), counts rows and reads OK/ERR packets. Pure: bytes in, records out (through a
 * callback), no I/O, so it is tested on recorded conversations. */
#ifndef DBPROBE_MYWIRE_H
#define DBPROBE_MYWIRE_H

#include <stddef.h>
#include <stdint.h>

#include "intern.h"
#include "sqlparts.h"

#define MYWIRE_TEXT_MAX 65536 /* a longer statement is read up to here */

/* One side's stream: packet framing (3-byte length, sequence number, payload). */
struct mywire_stream {
	uint8_t hdr[4];
	uint8_t nhdr;
	uint8_t cont;   /* this packet continues a 16 MiB one: not a packet of its own */
	uint32_t len;   /* payload length of the packet being read */
	uint32_t left;  /* its bytes still to come */
	uint32_t nhead; /* bytes of its payload kept in head/buf */
};

struct mywire;

/* A statement finished. err is the server's error number (0: success). */
typedef void (*mywire_emit_fn)(struct mywire *w, const struct dbp_query_ent *q, uint64_t t0,
			       uint64_t t1, uint64_t rows, uint64_t affected, unsigned err);

struct mywire {
	mywire_emit_fn emit;
	uint8_t phase;     /* enum in mywire.c */
	uint8_t system;    /* DBP_DB_MARIADB or DBP_DB_MYSQL, from the server's greeting */
	uint8_t cmd;       /* the command whose response is being read */
	uint8_t rstate;    /* where in that response */
	uint8_t abandoned; /* set from anywhere (mywire_abandon): the next feed lets go */
	uint32_t caps;     /* the client's capability flags */
	struct mywire_stream in, out;
	uint8_t head[96]; /* the server packet's first bytes: all that is ever read of it */
	char *buf;        /* the client packet being sent (commands, the handshake response) */
	uint32_t bufcap;
	uint64_t cols_left, rows;
	uint64_t acc_rows, acc_affected; /* a CALL's results so far, recorded as one */
	uint64_t t0;                     /* start of the current statement */
	struct dbp_parts parts;
	uint16_t cur;
	char *pending_db;             /* COM_INIT_DB's name, until the server says OK */
	const struct dbp_str_ent *ns; /* the current database: handshake, then COM_INIT_DB */
};

/* A new connection, before any byte: the server greets first. */
void mywire_init(struct mywire *w, mywire_emit_fn emit);
void mywire_free(struct mywire *w);
/* Bytes the client sent / received at time now. Return 0 while the connection is followed,
 * -1 once it is not MySQL (or not readable: TLS, compression): then nothing more to feed. */
int mywire_out(struct mywire *w, const void *buf, size_t n, uint64_t now);
int mywire_in(struct mywire *w, const void *buf, size_t n, uint64_t now);
/* Whether the handshake is over (the server accepted the client). */
int mywire_ready(const struct mywire *w);
/* Stops following, from anywhere (a signal handler too): the next feed returns -1. */
void mywire_abandon(struct mywire *w);

#endif
