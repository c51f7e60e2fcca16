/* my_state: what the MySQL/MariaDB shim keeps per connection, statement handle and result set.
 * No client library types: handles are opaque pointers, so the core builds without them. */
#ifndef DBPROBE_MY_STATE_H
#define DBPROBE_MY_STATE_H

#include <stdint.h>

#include "agent.h"
#include "trace.h"
#include "intern.h"
#include "ptrmap.h"
#include "sqlparts.h"

/* A connection (MYSQL *). Used by one thread at a time (the library's rule): not locked. */
struct my_conn {
	struct dbp_ptrmap_val hdr;
	const struct dbp_str_ent *ns, *server; /* where it is connected */
	uint16_t port;
	uint8_t system;   /* DBP_DB_MARIADB or DBP_DB_MYSQL, by the server's version string */
	struct dbp_io io; /* socket writes not yet in a record (agent.h) */
	const struct dbp_target_ent *target; /* cached from the three above; NULL: recompute */
	/* The text query in progress: one part per statement of a multi-statement string. */
	struct dbp_parts parts;
	uint16_t cur;     /* the part whose result comes next */
	uint8_t active;   /* a query was sent and its results are not all in */
	uint8_t awaiting; /* the current part returned a result set not yet read */
	uint8_t folding;  /* the last part's results (a CALL's) are adding up */
	uint64_t t0;      /* start of the current part */
	uint64_t rows;
	uint64_t acc_rows, acc_affected; /* a CALL's results so far, recorded as one */
	const void *use_res;             /* the MYSQL_RES being read row by row, if any */
	struct dbp_tconn tc;             /* its transaction and pre-given span ids (trace.h) */
};

/* A prepared statement (MYSQL_STMT *). */
struct my_stmt {
	struct dbp_ptrmap_val hdr;
	const struct dbp_query_ent *q; /* NULL until prepared (or prepared before we were armed) */
	const void *conn;              /* from mysql_stmt_init; NULL when not seen */
	uint8_t active;                /* executed, result set not all read */
	uint64_t t0, rows;
};

/* A result set read row by row (mysql_use_result): which connection's statement it ends. */
struct my_res {
	struct dbp_ptrmap_val hdr;
	const void *conn;
};

/* Frees what a connection owns and forgets everything but its key (ptrmap values live on). */
static inline void my_conn_clear(struct my_conn *c)
{
	dbp_parts_free(&c->parts);
	struct dbp_ptrmap_val hdr = c->hdr;
	*c = (struct my_conn){ .hdr = hdr };
}

#endif
