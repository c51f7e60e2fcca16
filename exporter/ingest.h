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

/* Binds the socket. A stale socket file is replaced; a live exporter on the path, or a path
 * that is not a socket, is an error (message in err). NULL on error. */
struct dbp_ingest *dbp_ingest_open(const struct dbp_ingest_opts *o, char *err, size_t errlen);
/* Serves until *stop becomes non-zero (checked at least every 200 ms) or stop_fd is readable. */
void dbp_ingest_run(struct dbp_ingest *in, volatile int *stop, int stop_fd);
/* Closes every connection and removes the socket file. */
void dbp_ingest_close(struct dbp_ingest *in);

#endif
