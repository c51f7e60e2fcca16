/* wire.h: the agent -> exporter protocol. The one definition both sides compile against. */
#ifndef DBPROBE_WIRE_H
#define DBPROBE_WIRE_H

#include <stdint.h>

/*
 * Transport: a SOCK_SEQPACKET Unix socket, so the kernel keeps message boundaries and one send()
 * is one frame; a frame is never split or merged, which keeps the exporter's parser stateless.
 *
 * Byte order and layout: agent and exporter always run on the same host, so every integer is in
 * host byte order with natural alignment. Every record is length-prefixed and its length is a
 * multiple of 8, so the record after it stays aligned. Variable-length strings follow a record's
 * fixed part, back to back, unterminated; the lengths are in the fixed part.
 *
 * Interning: texts (normalized queries, namespaces, error names) are sent once per connection in
 * a QUERY or STRING record and referred to afterwards by a 64-bit id. An id is only meaningful
 * within the connection that defined it. A CALL that names an id not yet defined on its
 * connection is malformed.
 *
 * A connection starts with exactly one HELLO record; anything else first is malformed.
 * The exporter rejects (closes and counts) any frame whose magic, version or lengths are wrong.
 */

#define DBP_WIRE_MAGIC 0x31504244u /* "DBP1" read as a little-endian u32 */
#define DBP_WIRE_VERSION 5u /* 5: trace context (CALL ids, HELLO tracestate and resource) */
#define DBP_FRAME_MAX 65536u       /* bytes in one frame, header included */
#define DBP_TEXT_MAX 8192u   /* longest query text sent; longer ones are cut (flag TRUNCATED) */
#define DBP_STRING_MAX 4096u /* longest namespace, error name, path or service name */

struct dbp_frame_hdr {
	uint32_t magic;   /* DBP_WIRE_MAGIC */
	uint16_t version; /* DBP_WIRE_VERSION */
	uint16_t flags;   /* reserved, 0 */
};

struct dbp_rec_hdr {
	uint16_t type;  /* enum dbp_rec_type */
	uint16_t flags; /* per type */
	uint32_t len;   /* whole record including this header; multiple of 8 */
};

enum dbp_rec_type {
	DBP_REC_HELLO = 1,
	DBP_REC_QUERY = 2,
	DBP_REC_STRING = 3,
	DBP_REC_CALL = 4,
	DBP_REC_DROPS = 5,
	DBP_REC_SOCKET = 6,    /* socket writes aggregated per peer since the previous one */
	DBP_REC_SOCKWRITE = 7, /* one socket write slower than DBPROBE_SLOW_MS */
	DBP_REC_MODULE = 8,    /* a loaded object (executable, library) frames refer to */
	DBP_REC_STACK = 9,     /* a call-site stack, interned */
};

/* Who is talking. Followed by exe (exe_len bytes), service (service_len bytes), the W3C
 * tracestate handed to the process (tracestate_len, <= 512) and its OTEL_RESOURCE_ATTRIBUTES
 * (resource_len, as given: "k=v,k=v" percent-encoded). */
struct dbp_hello {
	struct dbp_rec_hdr h;
	uint32_t pid;
	uint32_t ppid;
	uint64_t
		start_unix_ns; /* when the agent armed in this process (after fork: in the child) */
	uint16_t exe_len;
	uint16_t service_len;
	uint16_t tracestate_len;
	uint16_t resource_len;
};

#define DBP_QUERY_TRUNCATED 0x1 /* h.flags: the text was cut at DBP_TEXT_MAX */

/* A query text. id is the fingerprint of the normalized text. Followed by text then summary. */
struct dbp_query {
	struct dbp_rec_hdr h;
	uint64_t id;
	uint32_t text_len;
	uint16_t summary_len;
	uint16_t reserved;
};

enum dbp_string_kind {
	DBP_STR_NAMESPACE = 1,  /* db.namespace: SQLite file, database name */
	DBP_STR_ERROR_TYPE = 2, /* error.type: SQLITE_CONSTRAINT_UNIQUE, 42P01, 1146 */
	DBP_STR_SERVER = 3,     /* server.address: host name, IP, or a Unix socket directory */
	DBP_STR_PEER = 4, /* a socket's peer: "10.0.0.5:5432", "[::1]:80", "unix:/run/x", ":8080" */
};

/* An interned string. Followed by len bytes. */
struct dbp_string {
	struct dbp_rec_hdr h;
	uint64_t id;
	uint16_t kind; /* enum dbp_string_kind */
	uint16_t len;
	uint32_t reserved;
};

enum dbp_db_system {
	DBP_DB_NONE = 0,
	DBP_DB_SQLITE = 1,
	DBP_DB_POSTGRESQL = 2,
	DBP_DB_MYSQL = 3,
	DBP_DB_MARIADB = 4,
	DBP_DB_SYSTEM_COUNT
};

#define DBP_CALL_ERROR 0x1 /* h.flags: the call failed; error_id names the error type */
#define DBP_CALL_SLOW 0x2  /* h.flags: slower than the agent's DBPROBE_SLOW_MS */
/* h.flags: not a statement but a connection being opened: query_id is 0, the duration is the
 * connection's create time, rows are 0. With DBP_CALL_ERROR, the attempt failed. */
#define DBP_CALL_CONNECT 0x4
/* h.flags: the trace sampler chose this call (its span is exported for that); a call with a
 * span_id that is not sampled is exported for being slow or failed. */
#define DBP_CALL_SAMPLED 0x8
/* h.flags: not a call but a transaction's span, from its BEGIN's start to its COMMIT's (or
 * ROLLBACK's: DBP_CALL_ROLLBACK) end; query_id, error_id, rows, stack are 0. Statements of the
 * transaction name its span_id as their parent. Counted in no statistics. */
#define DBP_CALL_TXN 0x10
#define DBP_CALL_ROLLBACK 0x20

/* One database call (a statement execution, or a statement that failed to prepare). */
struct dbp_call {
	struct dbp_rec_hdr h;
	uint64_t query_id;     /* a QUERY id defined on this connection */
	uint64_t namespace_id; /* a STRING id (kind NAMESPACE), or 0 when unknown */
	uint64_t error_id;     /* a STRING id (kind ERROR_TYPE) when DBP_CALL_ERROR, else 0 */
	uint64_t start_unix_ns;
	uint64_t duration_ns;
	uint64_t rows_returned;
	uint64_t rows_affected;
	uint64_t server_id;   /* a STRING id (kind SERVER), or 0: an in-process database */
	uint64_t write_bytes; /* bytes the call itself wrote to sockets */
	uint64_t write_ns;    /* time spent in those writes */
	uint64_t stack_id;    /* a STACK id defined on this connection, or 0: none captured */
	/* The call's span: span_id all zero when it is not exported (neither sampled, nor slow,
	 * nor failed). parent_span_id all zero: a root. Bytes in W3C order (as hex reads). */
	uint8_t trace_id[16];
	uint8_t span_id[8];
	uint8_t parent_span_id[8];
	uint32_t tid;
	uint8_t db_system; /* enum dbp_db_system */
	uint8_t reserved;
	uint16_t server_port; /* server.port, 0 when none (Unix socket paths keep theirs) */
};

enum dbp_drop_reason {
	DBP_DROP_BUFFER_FULL = 0, /* a thread's buffer was full: the sender could not keep up */
	DBP_DROP_NO_EXPORTER = 1, /* nothing was listening on the socket */
	DBP_DROP_SEND_FAILED = 2, /* the connection broke with records in flight */
	DBP_DROP_TEXT_CAP = 3,    /* too many distinct query texts: folded into one "other" entry */
	DBP_DROP_UNTRACKED = 4,   /* too many live statement handles to keep state for */
	DBP_DROP_SOCKET_SLOTS =
		5, /* socket writes of a (peer, system, errno) a thread had no slot for */
	DBP_DROP_REASON_COUNT
};

enum dbp_sock_direction {
	DBP_DIR_OUTBOUND = 0, /* a connection the program opened, or a datagram it sent */
	DBP_DIR_INBOUND = 1,  /* a connection it accepted: the peer is the local listening port */
};

/* Write durations are bucketed by powers of two: bucket i < DBP_SOCK_BUCKETS - 1 counts
 * durations <= DBP_SOCK_BUCKET0_NS << i (1.024 us .. 1.07 s), the last one everything above. */
#define DBP_SOCK_BUCKETS 22
#define DBP_SOCK_BUCKET0_NS 1024ull

/* Socket writes to one peer, in one direction, under one database system (DBP_DB_NONE outside
 * database calls), since the previous SOCKET record for the same key on this connection.
 * Followed by nerr struct dbp_sock_err. A call that failed counts in calls, sum_ns and the
 * buckets, and once in the errors of its errno (EAGAIN too: the exporter keeps it apart). */
struct dbp_sock {
	struct dbp_rec_hdr h;
	uint64_t peer_id; /* a STRING id (kind PEER) */
	uint64_t calls;
	uint64_t bytes; /* written by the calls that succeeded */
	uint64_t sum_ns;
	uint64_t buckets[DBP_SOCK_BUCKETS]; /* per bucket, not cumulative */
	uint8_t direction;                  /* enum dbp_sock_direction */
	uint8_t db_system;                  /* enum dbp_db_system */
	uint16_t nerr;
	uint32_t reserved;
};

struct dbp_sock_err {
	uint32_t err_no; /* errno, never 0 */
	uint32_t reserved;
	uint64_t count;
};

#define DBP_SOCK_ERR_MAX 16 /* distinct errnos in one SOCKET record; more are not sent */

/* One socket write slower than DBPROBE_SLOW_MS (it is counted in SOCKET records too). */
struct dbp_sockwrite {
	struct dbp_rec_hdr h;
	uint64_t peer_id;
	uint64_t start_unix_ns;
	uint64_t duration_ns;
	uint64_t bytes;  /* written; 0 when it failed */
	uint32_t err_no; /* 0: it succeeded */
	uint32_t tid;
	uint8_t direction;
	uint8_t db_system;
	uint8_t reserved[6];
};

/* A loaded object, defined once per connection before the first STACK that names it. A
 * library loaded again at another address (dlclose, dlopen) is a new module with a new id.
 * Followed by path (path_len bytes) then the GNU build-id (build_id_len bytes, may be 0). */
struct dbp_module {
	struct dbp_rec_hdr h;
	uint64_t id;   /* nonzero */
	uint64_t base; /* load bias: a frame's offset is its address minus this */
	uint16_t path_len;
	uint16_t build_id_len; /* <= DBP_BUILD_ID_MAX */
	uint32_t reserved;
};

#define DBP_BUILD_ID_MAX 64
#define DBP_STACK_MAX 128 /* frames in one STACK */

/* One frame: a return address, as an offset into its module (the ELF virtual address for a
 * shared object or PIE; the absolute address for a fixed executable). The call instruction is
 * the byte before: symbolize offset - 1. */
struct dbp_wire_frame {
	uint64_t module_id; /* a MODULE id defined on this connection */
	uint64_t offset;
};

/* A call-site stack, innermost frame (the database API's caller) first, defined once per
 * connection before the first CALL that names it. Followed by nframes struct dbp_wire_frame. */
struct dbp_stack {
	struct dbp_rec_hdr h;
	uint64_t id;      /* nonzero */
	uint16_t nframes; /* 1..DBP_STACK_MAX */
	uint16_t reserved[3];
};

/* Records dropped since the previous DROPS record this process managed to send. */
struct dbp_drops {
	struct dbp_rec_hdr h;
	uint64_t count[DBP_DROP_REASON_COUNT];
};

/* Records are padded to a multiple of 8 bytes. */
static inline uint32_t dbp_pad8(uint32_t n)
{
	return (n + 7u) & ~7u;
}

#endif
