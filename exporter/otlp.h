/* otlp: a batch of spans as the body of an OTLP/HTTP export request (protobuf). */
#ifndef DBPROBE_OTLP_H
#define DBPROBE_OTLP_H

#include <stddef.h>

#include "buf.h"
#include "span.h"
#include "spanq.h"

#define DBP_OTLP_SCOPE "dbprobe" /* InstrumentationScope.name; its version is DBPROBE_VERSION */

/* Appends an ExportTraceServiceRequest holding spans[0..n) to out: one ResourceSpans per
 * resource (in the order they first appear), each with one ScopeSpans. 0, or -1 when out of
 * memory. */
int dbp_otlp_encode(struct dbp_span *const *spans, size_t n, struct dbp_buf *out);

extern const struct dbp_span_encoder dbp_otlp_encoder; /* "application/x-protobuf" */

#endif
