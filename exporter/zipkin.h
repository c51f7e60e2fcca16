/* zipkin: a batch of spans as a Zipkin v2 JSON array (POST /api/v2/spans). */
#ifndef DBPROBE_ZIPKIN_H
#define DBPROBE_ZIPKIN_H

#include <stddef.h>

#include "buf.h"
#include "span.h"
#include "spanq.h"

/* Appends the JSON array of spans[0..n) to out. 0, or -1 when out of memory. */
int dbp_zipkin_encode(struct dbp_span *const *spans, size_t n, struct dbp_buf *out);

extern const struct dbp_span_encoder dbp_zipkin_encoder; /* "application/json" */

#endif
