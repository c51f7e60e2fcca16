/* ingest: the Unix socket agents connect to; decodes their frames into the store. */
#ifndef DBPROBE_INGEST_H
#define DBPROBE_INGEST_H

#include <stdint.h>

#include "store.h"

struct dbp_slowlog;

struct dbp_ingest_opts {
	const char *socket_path;
	struct dbp_store *store;
	struct dbp_slowlog *slowlog; /* may be NULL */
};

struct dbp_ingest;

/* What one connection may define: a MODULE, STACK, QUERY or STRING with a new id past these
 * makes its frame malformed, so a hostile agent cannot grow the exporter's memory without
 * bound. Redefining an id already there is allowed. MODULE and STACK: the agent's own limits
 * (agent/stack.c). QUERY and STRING: well above them, an agent process never sends more
 * (agent/intern.c: QUERY_CAP 16384 texts plus "other"; STR_CAP 4096 strings plus 8 "(other)",
 * agent/peer.h: DBP_PEER_MAX 1024 peers). */
#define DBP_CONN_MODULES_MAX 1024
#define DBP_CONN_STACKS_MAX 8192
#define DBP_CONN_QUERIES_MAX 32768
#define DBP_CONN_STRINGS_MAX 16384

/* Binds the socket. A stale socket file is replaced; a live exporter on the path, or a path
 * that is not a socket, is an error (message in err). NULL on error. */
struct dbp_ingest *dbp_ingest_open(const struct dbp_ingest_opts *o, char *err, size_t errlen);
/* Serves until *stop becomes non-zero (checked at least every 200 ms) or stop_fd is readable. */
void dbp_ingest_run(struct dbp_ingest *in, volatile int *stop, int stop_fd);
/* Closes every connection and removes the socket file. */
void dbp_ingest_close(struct dbp_ingest *in);

#endif
