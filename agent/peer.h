/* peer: the process's table of socket peers ("10.0.0.5:5432", "[::1]:80", "unix:/run/x.sock",
 * ":8080" for an inbound port), by small index. Lookups take no lock and inserts no memory
 * from the heap, so a write hook may name a peer even from a signal handler. */
#ifndef DBPROBE_PEER_H
#define DBPROBE_PEER_H

#include <stddef.h>
#include <stdint.h>
#include <sys/socket.h>

#include "intern.h"

#define DBP_PEER_MAX 1024 /* distinct peers per process; more share "(other)" */
#define DBP_PEER_NAME 120 /* longest name kept: "unix:" + a full sun_path fits */
#define DBP_PEER_OTHER 1  /* the index of "(other)" */

/* The index of name (1..DBP_PEER_MAX-1), inserting it if new. */
uint32_t dbp_peer_get(const char *name, size_t len);
/* The peer sa names: outbound "addr:port", or inbound (":port", "unix:/path"). 0 when the
 * family is not one we record. */
uint32_t dbp_peer_of(const struct sockaddr *sa, socklen_t len, int inbound);
/* The interned string (kind DBP_STR_PEER) of an index, for the sender. */
const struct dbp_str_ent *dbp_peer_str(uint32_t idx);

/* Formats sa as dbp_peer_of names it; returns the length, 0 for a family we do not record. */
size_t dbp_peer_format(char *out, size_t cap, const struct sockaddr *sa, socklen_t len,
		       int inbound);

/* Fork handling. */
void dbp_peer_lock(void);
void dbp_peer_unlock(void);

#endif
