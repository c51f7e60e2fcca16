/* span: one finished span as ingest builds it from an agent's CALL record, and the resource
 * (process) it belongs to. Shared by the push pipeline (spanq.h), its encoders (OTLP, Zipkin)
 * and the /traces page. Spans and resources are reference-counted: the queue, the batch being
 * sent and the /traces ring each hold their own reference. */
#ifndef DBPROBE_SPAN_H
#define DBPROBE_SPAN_H

#include <stddef.h>
#include <stdint.h>

struct dbp_callstack;
struct dbp_symbolizer;

/* One attribute of OTEL_RESOURCE_ATTRIBUTES ("k1=v1,k2=v2"), percent-decoded. */
struct dbp_kv {
	const char *key, *value;
};

/* The process an agent runs in: OpenTelemetry's resource. Immutable once made. */
struct dbp_resource {
	int refs; /* atomic */
	/* The ingest thread writes refs for every span; encoders read the rest: apart. */
	char refs_line[60];
	const char *service_name;
	const char *exe;  /* process.executable.name: the basename */
	const char *host; /* host.name: the exporter's (agents are on the same host) */
	uint32_t pid;
	const char *tracestate; /* TRACESTATE handed to the process, or NULL */
	size_t nattrs;
	struct dbp_kv *attrs; /* OTEL_RESOURCE_ATTRIBUTES of the process, as sent by the agent */
};

enum dbp_span_kind {
	DBP_SPAN_INTERNAL = 1, /* as OTLP numbers them */
	DBP_SPAN_CLIENT = 3,
};

/* What the span stands for. */
enum dbp_span_what {
	DBP_SPAN_CALL = 0,    /* a statement execution */
	DBP_SPAN_CONNECT = 1, /* a connection attempt */
	DBP_SPAN_TXN = 2,     /* a transaction: BEGIN's start to COMMIT / ROLLBACK's end */
};

struct dbp_span {
	int refs; /* atomic */
	struct dbp_resource *res;
	uint8_t trace_id[16], span_id[8], parent_span_id[8]; /* parent all zero: a root */
	uint64_t start_unix_ns, end_unix_ns;
	uint8_t kind;      /* enum dbp_span_kind */
	uint8_t what;      /* enum dbp_span_what */
	uint8_t db_system; /* enum dbp_db_system (wire.h) */
	uint8_t error;     /* status ERROR: error_type says why */
	uint8_t rollback;  /* DBP_SPAN_TXN: ended by ROLLBACK (else COMMIT) */
	uint8_t sampled;   /* chosen by the sampler (else kept for being slow or failed) */
	uint16_t server_port; /* 0: none */
	uint64_t rows;        /* db.response.returned_rows */
	/* Strings: NUL-terminated, valid UTF-8. Immortal (the store's interned ones) or inside
	 * this span's own allocation; NULL when absent. */
	const char *name;        /* the query summary; "connect", "transaction" */
	const char *system_name; /* db.system.name: "sqlite", "postgresql", "mysql", "mariadb" */
	const char *ns;          /* db.namespace */
	const char *query_text;  /* db.query.text, normalized; NULL with DBPROBE_QUERY_TEXT=off */
	const char *summary;     /* db.query.summary */
	const char *server;      /* server.address */
	const char *error_type;  /* error.type, and db.response.status_code for a server error */
	/* Code location (code.function.name, code.file.path, code.line.number) comes from the
	 * stack's first frame, symbolized when encoded: NULL when none was captured. */
	const struct dbp_callstack *stack;
	struct dbp_symbolizer *sym;
};

/* A new span with room for `extra` more bytes after it (for copied strings: dbp_span_str). The
 * span holds one reference, and takes one on res. NULL when out of memory. */
struct dbp_span *dbp_span_new(struct dbp_resource *res, size_t extra);
/* Copies s[0..len) into the span's extra room (NUL-terminated); the caller counted len + 1. */
const char *dbp_span_str(struct dbp_span *sp, const char *s, size_t len);
void dbp_span_ref(struct dbp_span *sp);
void dbp_span_unref(struct dbp_span *sp);
/* dbp_span_unref of each, the resources' references given back once per run of spans that
 * share one: the push thread frees a batch without an atomic per span on the line the ingest
 * thread is taking references on. */
void dbp_span_unref_all(struct dbp_span *const *v, size_t n);

/* A resource: strings are copied into its own allocation. attrs_env is the process's
 * OTEL_RESOURCE_ATTRIBUTES (may be NULL); host is this exporter's host name. One reference. */
struct dbp_resource *dbp_resource_new(const char *service_name, const char *exe_path,
				      uint32_t pid, const char *host, const char *tracestate,
				      const char *attrs_env, size_t attrs_len);
void dbp_resource_ref(struct dbp_resource *r);
void dbp_resource_unref(struct dbp_resource *r);

/* The code location of a span with a stack: 0 and *out filled (release with
 * dbp_sym_release), or -1 when it has none. */
struct dbp_sym;
int dbp_span_code(const struct dbp_span *sp, struct dbp_sym *out);

/* Lowercase hex of n bytes into out (2n + 1 bytes with the NUL). */
void dbp_hex(const uint8_t *p, size_t n, char *out);

/* One span attribute as the encoders write it (OTel database semantic conventions): a string,
 * or an integer when s is NULL. */
struct dbp_span_attr {
	const char *key;
	const char *s;
	int64_t i;
};
#define DBP_SPAN_ATTRS_MAX 16
/* The attributes of sp into out[DBP_SPAN_ATTRS_MAX], in a fixed order; code (may be NULL) is
 * what dbp_span_code gave. Strings point into sp, code or constants. Returns how many. */
size_t dbp_span_attrs(const struct dbp_span *sp, const struct dbp_sym *code,
		      struct dbp_span_attr *out);

/* Parses a list in OTEL_RESOURCE_ATTRIBUTES' syntax (also OTEL_EXPORTER_OTLP_HEADERS'): W3C
 * Baggage without properties, "k1=v1,k2=v2", spaces around keys and values trimmed, values
 * percent-decoded. Calls fn for each well-formed entry: key not NUL-terminated, value decoded
 * and NUL-terminated in scratch memory valid during the call; fn returns 0, or -1 to stop (out
 * of memory). Malformed entries (no '=', an empty key, a bad %-escape, bytes that are not UTF-8
 * or a NUL once decoded) are skipped and counted: returns their number, or -1 when out of
 * memory or fn stopped. s may be NULL. */
int dbp_kv_parse(const char *s, size_t len,
		 int (*fn)(const char *key, size_t klen, const char *value, size_t vlen, void *arg),
		 void *arg);

#endif
