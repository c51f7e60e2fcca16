/* intern: process-wide tables of query texts and short strings, referred to by id on the wire. */
#ifndef DBPROBE_INTERN_H
#define DBPROBE_INTERN_H

#include <stddef.h>
#include <stdint.h>

#include "wire.h"

/* Entries are immortal: records in flight keep plain pointers to them. */
struct dbp_query_ent {
	uint64_t id;       /* fingerprint of the normalized text */
	uint32_t sent_gen; /* connection generation on which it was last sent (sender only) */
	uint32_t text_len;
	uint16_t summary_len;
	uint16_t flags;  /* DBP_QUERY_TRUNCATED */
	uint32_t stacks; /* stacks captured for it (the sampled policy's first calls) */
	uint8_t txn;     /* enum dbp_txn_kind (trace.h): BEGIN, COMMIT, ROLLBACK or none */
	const char *text;
	const char *summary;
};

struct dbp_str_ent {
	uint64_t id;
	uint32_t sent_gen;
	uint16_t kind; /* enum dbp_string_kind */
	uint16_t len;
	const char *str;
};

/* Where calls go: the namespace (database, file) and, for a server, its address and port.
 * sent_gen covers both strings: the sender defines them together. */
struct dbp_target_ent {
	uint32_t sent_gen;
	uint16_t port;
	const struct dbp_str_ent *ns;     /* NULL when unknown */
	const struct dbp_str_ent *server; /* NULL: in-process (SQLite) */
};

/* A connection record's query: id 0, never defined on the wire. */
extern const struct dbp_query_ent dbp_query_none;

/* The query entry for a raw SQL text: normalized on first sight, then found by a cache of raw
 * texts. Never NULL (out of memory or over the cap gives the shared
 * "other" entry). */
const struct dbp_query_ent *dbp_query_get(const char *raw, size_t len);
/* The same, normalized with a dialect's rules (SQLNORM_* flags). */
const struct dbp_query_ent *dbp_query_get_ex(const char *raw, size_t len, unsigned flags);
/* Never NULL but out of memory: past the cap, new strings share an "(other)" entry per kind. */
const struct dbp_str_ent *dbp_str_get(enum dbp_string_kind kind, const char *s, size_t len);
/* An error type: never NULL, so a failed call always reads as one. */
const struct dbp_str_ent *dbp_error_get(const char *s, size_t len);
/* The immortal entry for (ns, server, port); NULL only when out of memory or over the cap. */
const struct dbp_target_ent *dbp_target_get(const struct dbp_str_ent *ns,
					    const struct dbp_str_ent *server, uint16_t port);

/* Fork handling: the tables are locked across fork() so a child never inherits a held lock. */
void dbp_intern_lock(void);
void dbp_intern_unlock(void);

#endif
