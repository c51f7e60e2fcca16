/* config: the DBPROBE_* / OTEL_* environment, parsed once at start-up. */
#ifndef DBPROBE_CONFIG_H
#define DBPROBE_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

enum dbp_qtext { DBP_QTEXT_NORMALIZED = 0, DBP_QTEXT_RAW, DBP_QTEXT_OFF };

struct dbp_config {
	int disabled;          /* DBPROBE_DISABLE=1 */
	unsigned shims;        /* DBPROBE_HOOKS, mask of enum dbp_shim */
	enum dbp_qtext qtext;  /* DBPROBE_QUERY_TEXT */
	uint64_t slow_ns;      /* DBPROBE_SLOW_MS */
	int log;               /* DBPROBE_LOG: 0 off, 1 info, 2 debug */
	size_t buffer_bytes;   /* DBPROBE_BUFFER_KB: per-thread record buffer */
	int stacks;            /* DBPROBE_STACKS: enum dbp_stacks_mode (stack.h) */
	int stack_depth;       /* DBPROBE_STACK_DEPTH: frames kept, 1..DBP_STACK_MAX */
	char socket_path[108]; /* DBPROBE_SOCKET (sun_path size) */
	char service[256];     /* OTEL_SERVICE_NAME, default the executable's name */
	/* Traces. */
	int sampler;            /* OTEL_TRACES_SAMPLER: enum dbp_sampler */
	double sampler_ratio;   /* OTEL_TRACES_SAMPLER_ARG for the ratio samplers */
	uint64_t sampler_bound; /* sampler_ratio * 2^64 (UINT64_MAX: every trace) */
	int sqlcomment;         /* DBPROBE_SQLCOMMENT=1 */
	struct dbp_trace_parent parent; /* TRACEPARENT */
	char tracestate[520];           /* TRACESTATE (W3C: at most 512 characters) */
	char resource_attrs[2048];      /* OTEL_RESOURCE_ATTRIBUTES, passed on to the exporter */
};

#define DBP_DEFAULT_SOCKET "/tmp/dbprobe.sock"
#define DBP_DEFAULT_SLOW_MS 100
#define DBP_DEFAULT_STACK_DEPTH 32
#define DBP_DEFAULT_BUFFER_KB 512 /* 4096 records of 128 bytes */

extern struct dbp_config dbp_cfg;

/* Fills cfg from getenv_fn (getenv in the agent; a table in tests). Bad values print one
 * warning each to stderr naming the variable and the default used. */
void dbp_config_load(struct dbp_config *cfg, const char *(*getenv_fn)(const char *));

#endif
