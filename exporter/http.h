/* http: serves the render table over HTTP with libmicrohttpd (its own thread). */
#ifndef DBPROBE_HTTP_H
#define DBPROBE_HTTP_H

#include <stddef.h>

#include "store.h"

struct dbp_http;

/* listen is HOST:PORT ("127.0.0.1:9464", "[::1]:9464", ":9464" for every address). */
struct dbp_http *dbp_http_start(const char *listen, struct dbp_store *s, char *err, size_t errlen);
void dbp_http_stop(struct dbp_http *h);

#endif
