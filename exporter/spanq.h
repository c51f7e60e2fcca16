/* spanq: the span pipeline. A bounded queue ingest puts finished spans into, one thread that
 * batches them (by size and interval) and pushes each batch with libcurl in the configured
 * format (OTLP/HTTP protobuf, or Zipkin v2 JSON), retrying what the collector asks to be
 * retried, and a ring of the latest spans for GET /traces. Never blocks ingest: a full queue
 * drops, and every dropped span is counted by reason. */
#ifndef DBPROBE_SPANQ_H
#define DBPROBE_SPANQ_H

#include <stddef.h>
#include <stdint.h>

#include "span.h"

enum dbp_span_drop {
	DBP_SPAN_DROP_QUEUE_FULL = 0, /* "queue_full": the queue was full when the span came */
	DBP_SPAN_DROP_REJECTED,       /* "rejected": the collector refused the batch (4xx) */
	DBP_SPAN_DROP_RETRIES,        /* "retries_exhausted": still failing after the retries */
	DBP_SPAN_DROP_SHUTDOWN,       /* "shutdown": still queued when the flush at stop ended */
	DBP_SPAN_DROP_OOM,            /* "out_of_memory": a batch could not be encoded */
	DBP_SPAN_DROP_COUNT
};

extern const char *const dbp_span_drop_names[DBP_SPAN_DROP_COUNT];

enum dbp_span_format {
	DBP_FMT_NONE = 0,   /* no collector: spans only reach GET /traces */
	DBP_FMT_OTLP = 1,   /* OTLP/HTTP, protobuf body */
	DBP_FMT_ZIPKIN = 2, /* Zipkin v2 JSON */
};

struct dbp_buf;

/* An output format (behind this table so that adding one touches no caller): encode appends
 * one request body holding spans[0..n) to out and returns 0, or -1 when out of memory (out may
 * then hold part of it). */
struct dbp_span_encoder {
	const char *name;         /* "otlp", "zipkin" */
	const char *content_type; /* of the body, for the POST */
	int (*encode)(struct dbp_span *const *spans, size_t n, struct dbp_buf *out);
};

/* The encoder of a format; NULL for DBP_FMT_NONE. */
const struct dbp_span_encoder *dbp_span_encoder_get(enum dbp_span_format format);

/* Where and how spans go; dbp_spanq_config fills it from the environment. */
struct dbp_spanq_cfg {
	enum dbp_span_format format;
	char *endpoint;      /* full URL (for OTLP: .../v1/traces) */
	char **headers;      /* "Name: value" lines for curl, NULL-terminated; may be NULL */
	int gzip;            /* OTEL_EXPORTER_OTLP_COMPRESSION=gzip */
	long timeout_ms;     /* per request: OTEL_EXPORTER_OTLP_TIMEOUT (default 10000) */
	unsigned queue_max;  /* OTEL_BSP_MAX_QUEUE_SIZE (default 2048) */
	unsigned batch_max;  /* OTEL_BSP_MAX_EXPORT_BATCH_SIZE (default 512) */
	long delay_ms;       /* OTEL_BSP_SCHEDULE_DELAY: the longest a span waits (default 5000) */
	unsigned retries;    /* attempts after the first for a retryable failure (default 5) */
	long backoff_ms;     /* first backoff (default 1000), doubled each time, jittered */
	long backoff_max_ms; /* (default 32000); a Retry-After is honoured up to this too */
	long flush_ms;       /* how long the flush at stop may take (default 5000) */
	unsigned latest;     /* spans kept for /traces (default 1000) */
};

/* Fills cfg from OTEL_EXPORTER_OTLP_TRACES_ENDPOINT, or OTEL_EXPORTER_OTLP_ENDPOINT +
 * "/v1/traces", OTEL_EXPORTER_OTLP_(TRACES_)HEADERS, _COMPRESSION, _TIMEOUT, OTEL_BSP_*; a
 * zipkin_endpoint (--zipkin-endpoint) wins over OTLP. A bad value: one warning on stderr
 * naming the variable and the default used. Returns 0, -1 only when out of memory. */
int dbp_spanq_config(struct dbp_spanq_cfg *cfg, const char *zipkin_endpoint);
void dbp_spanq_cfg_free(struct dbp_spanq_cfg *cfg);

struct dbp_spanq;

/* Starts the push thread (none for DBP_FMT_NONE). Copies what it needs of cfg. NULL with a
 * message in err when it cannot start. */
struct dbp_spanq *dbp_spanq_start(const struct dbp_spanq_cfg *cfg, char *err, size_t errlen);

/* Whether a span made now would be kept: the ingest thread asks before it builds one, so a
 * flood of calls costs no span that would be dropped at once. With a collector: no when the
 * queue is full (the span is counted as received and dropped: queue_full). Without one: at
 * most DBP_SPANQ_LATEST_RATE a second (bursts of the ring's size) are made for /traces, which
 * then holds the latest of a sample. One thread at a time may ask. */
#define DBP_SPANQ_LATEST_RATE 10000
/* now: CLOCK_MONOTONIC_COARSE ns (a caller deciding for a whole frame reads it once). */
int dbp_spanq_admit(struct dbp_spanq *q, uint64_t now);

/* Takes the caller's reference. Never blocks on the network: a full queue drops the span (the
 * /traces ring still keeps it). Thread-safe. */
void dbp_spanq_put(struct dbp_spanq *q, struct dbp_span *sp);

/* Up to limit of the latest spans, newest first, each with a reference for the caller. */
size_t dbp_spanq_latest(struct dbp_spanq *q, struct dbp_span **out, size_t limit);

/* With a collector, every span put is in exactly one place, at every moment (the counters are
 * read together, under the queue's lock):
 *     received == exported + dropped[0] + ... + dropped[DBP_SPAN_DROP_COUNT - 1] + queued
 * With none (DBP_FMT_NONE), received still counts the spans made (kept only for /traces) but
 * none is exported, dropped or queued: the identity does not apply. */
struct dbp_spanq_stats {
	uint64_t received; /* spans put */
	uint64_t exported; /* spans the collector accepted */
	uint64_t dropped[DBP_SPAN_DROP_COUNT];
	uint64_t requests; /* HTTP requests made, retries included */
	uint64_t retries;  /* of which retries */
	uint64_t queued;   /* spans not yet exported nor dropped: those in the queue plus the batch
			    * taken out of it, being sent or waiting for a retry */
	enum dbp_span_format format;
};
void dbp_spanq_stats(struct dbp_spanq *q, struct dbp_spanq_stats *out);

/* Flushes what is queued (within cfg->flush_ms; the rest is counted as shutdown), stops the
 * thread, frees everything. A batch waiting for a retry, or whose request fails retryably as
 * stop comes, gets one more attempt if the flush has time left (as does every batch sent during
 * the flush: at least one attempt after stop, none past its deadline). */
void dbp_spanq_stop(struct dbp_spanq *q);

#endif
