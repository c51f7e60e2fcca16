/* sqlparts: a string of SQL as the server will run it: one part per statement, each with its
 * query entry. Client libraries send several statements in one string (libpq's simple protocol,
 * MySQL's multi-statements) and answer with one result each. */
#ifndef DBPROBE_SQLPARTS_H
#define DBPROBE_SQLPARTS_H

#include <stddef.h>
#include <stdint.h>

#include "intern.h"

struct dbp_part {
	const struct dbp_query_ent *q;
	/* The caller's: PostgreSQL's SQL PREPARE body, or what a prepared name meant before */
	const struct dbp_query_ent *body;
	char *name; /* owned */
	uint8_t op;
};

struct dbp_parts {
	uint16_t n;
	struct dbp_part one;   /* the common case, no allocation */
	struct dbp_part *many; /* owned; NULL when n <= 1 */
};

/* Whose rules split statements: quotes, comments, escapes, and compound bodies differ. */
enum dbp_dialect {
	DBP_DIALECT_PG,    /* E'' escapes, $$ quotes, nested comments, BEGIN ATOMIC ... END */
	DBP_DIALECT_MYSQL, /* backslash escapes, backticks, # comments */
};

/* Length of the first statement of s[0..len), its ';' included (all of it when none ends it).
 * A ';' inside quotes, comments, parentheses or a function body does not end a statement. */
size_t dbp_sql_stmt_len(const char *s, size_t len, enum dbp_dialect d);

/* Called on each part once its q is set, to read more of its text. */
typedef void (*dbp_part_note_fn)(struct dbp_part *pt, const char *s, size_t len);

/* A note for MySQL strings: `USE db` gets op DBP_PART_USE and the database in name. */
#define DBP_PART_USE 16
void dbp_note_mysql_use(struct dbp_part *pt, const char *s, size_t len);

/* Splits sql into parts (split 0: one part, whatever it holds). Empty statements are no parts;
 * an empty string is one part (servers answer it). Returns 0, or -1 when out of memory. */
int dbp_parts_set(struct dbp_parts *ps, const char *sql, size_t len, int split,
		  enum dbp_dialect dialect, dbp_part_note_fn note);
void dbp_parts_free(struct dbp_parts *ps);

static inline struct dbp_part *dbp_parts_at(struct dbp_parts *ps, unsigned i)
{
	return ps->many ? &ps->many[i] : &ps->one;
}

/* Whether s[0..len) holds only blanks, comments and semicolons. */
int dbp_sql_blank(const char *s, size_t len);
/* Past whitespace and comments from i (PostgreSQL's block comments nest; MySQL's don't, and
 * never contain another opener in practice). */
size_t dbp_sql_skip_blank(const char *s, size_t len, size_t i);

#endif
