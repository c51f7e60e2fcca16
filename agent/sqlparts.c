/* sqlparts: splitting a string of SQL into the statements a server runs, one part each. */
#include "sqlparts.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "sqlnorm.h"

#define MAX_PARTS 4096 /* statements told apart in one string; the rest is one last part */

static int is_space(char ch)
{
	return ch == ' ' || ch == '\t' || ch == '\n' || ch == '\r' || ch == '\f' || ch == '\v';
}

size_t dbp_sql_skip_blank(const char *s, size_t len, size_t i)
{
	for (;;) {
		while (i < len && is_space(s[i]))
			i++;
		if (i + 1 < len && s[i] == '-' && s[i + 1] == '-') {
			while (i < len && s[i] != '\n')
				i++;
		} else if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
			unsigned depth = 0;
			while (i < len) {
				if (i + 1 < len && s[i] == '/' && s[i + 1] == '*') {
					depth++;
					i += 2;
				} else if (i + 1 < len && s[i] == '*' && s[i + 1] == '/') {
					i += 2;
					if (--depth == 0)
						break;
				} else {
					i++;
				}
			}
		} else {
			return i;
		}
	}
}

int dbp_sql_blank(const char *s, size_t len)
{
	size_t i = dbp_sql_skip_blank(s, len, 0);
	while (i < len && s[i] == ';')
		i = dbp_sql_skip_blank(s, len, i + 1);
	return i >= len;
}

static int is_word(unsigned char c)
{
	return c == '_' || c == '$' || c >= 0x80 || (c >= '0' && c <= '9') ||
	       ((c | 0x20) >= 'a' && (c | 0x20) <= 'z');
}

/* The word at s[i..j) is kw (lower case). */
static int word_is(const char *s, size_t i, size_t j, const char *kw)
{
	return j - i == strlen(kw) && !strncasecmp(s + i, kw, j - i);
}

/* Past a quoted run opened at s[i] by q; backslash escapes too when esc. */
static size_t skip_quoted(const char *s, size_t len, size_t i, char q, int esc)
{
	for (i++; i < len; i++) {
		if (esc && s[i] == '\\') {
			i++;
		} else if (s[i] == q) {
			if (i + 1 < len && s[i + 1] == q)
				i++; /* doubled: one quote character */
			else
				return i + 1;
		}
	}
	return len;
}

size_t dbp_sql_stmt_len(const char *s, size_t len, enum dbp_dialect d)
{
	int pg = d == DBP_DIALECT_PG;
	unsigned parens = 0, atomic = 0, words = 0;
	int create = 0, routine = 0;
	size_t prev_word_i = 0, prev_word_j = 0;
	for (size_t i = 0; i < len;) {
		char c = s[i];
		if (c == '\'') {
			/* PostgreSQL's E'...' takes backslash escapes; MySQL's strings always do.
			 */
			int esc = !pg || (i > 0 && (s[i - 1] | 0x20) == 'e' &&
					  (i < 2 || !is_word((unsigned char)s[i - 2])));
			i = skip_quoted(s, len, i, c, esc);
		} else if (c == '"') {
			i = skip_quoted(s, len, i, c, !pg);
		} else if (c == '`' && !pg) {
			i = skip_quoted(s, len, i, c, 0);
		} else if ((c == '-' && i + 1 < len && s[i + 1] == '-') || (c == '#' && !pg)) {
			while (i < len && s[i] != '\n')
				i++;
		} else if (c == '/' && i + 1 < len && s[i + 1] == '*') {
			if (pg) {
				i = dbp_sql_skip_blank(s, len, i);
			} else {
				const char *e = i + 2 < len
							? memmem(s + i + 2, len - i - 2, "*/", 2)
							: NULL;
				i = e ? (size_t)(e - s) + 2 : len;
			}
		} else if (c == '$' && pg && (i == 0 || !is_word((unsigned char)s[i - 1]))) {
			/* $tag$ ... $tag$ (a $1 parameter opens nothing) */
			size_t j = i + 1;
			while (j < len && s[j] != '$' && is_word((unsigned char)s[j]) &&
			       !(j == i + 1 && s[j] >= '0' && s[j] <= '9'))
				j++;
			if (j < len && s[j] == '$') {
				const char *e = j + 1 < len ? memmem(s + j + 1, len - j - 1, s + i,
								     j + 1 - i)
							    : NULL;
				i = e ? (size_t)(e - s) + (j + 1 - i) : len;
			} else {
				i++;
			}
		} else if (c == '(') {
			parens++;
			i++;
		} else if (c == ')') {
			parens -= parens > 0;
			i++;
		} else if (c == ';') {
			if (!parens && !atomic)
				return i + 1;
			i++;
		} else if (is_word((unsigned char)c)) {
			size_t j = i;
			while (j < len && is_word((unsigned char)s[j]))
				j++;
			/* A body holds statements of its own: PostgreSQL's BEGIN ATOMIC ... END;
			 * MySQL's BEGIN ... END, only in a routine (CREATE PROCEDURE, FUNCTION,
			 * TRIGGER, EVENT) or an anonymous BEGIN NOT ATOMIC block: elsewhere BEGIN
			 * starts a transaction (XA BEGIN too) or is a name. Inside, CASE ... END
			 * nests (END CASE closes it); END IF, LOOP, WHILE, REPEAT and FOR close
			 * constructs that opened nothing here. */
			size_t k = dbp_sql_skip_blank(s, len, j), kend = k;
			while (kend < len && is_word((unsigned char)s[kend]))
				kend++;
			int first = !words++;
			if (!pg && first && word_is(s, i, j, "create"))
				create = 1;
			else if (!pg && create &&
				 (word_is(s, i, j, "procedure") || word_is(s, i, j, "function") ||
				  word_is(s, i, j, "trigger") || word_is(s, i, j, "event")))
				routine = 1;
			if (pg && word_is(s, i, j, "atomic") &&
			    word_is(s, prev_word_i, prev_word_j, "begin")) {
				atomic++;
			} else if (!pg && word_is(s, i, j, "begin") &&
				   (routine || (first && word_is(s, k, kend, "not")))) {
				routine = 1;
				atomic++;
			} else if (atomic && word_is(s, i, j, "case") &&
				   !word_is(s, prev_word_i, prev_word_j, "end")) {
				atomic++;
			} else if (atomic && word_is(s, i, j, "end")) {
				if (pg ||
				    !(word_is(s, k, kend, "if") || word_is(s, k, kend, "loop") ||
				      word_is(s, k, kend, "while") ||
				      word_is(s, k, kend, "repeat") || word_is(s, k, kend, "for")))
					atomic--;
			}
			prev_word_i = i;
			prev_word_j = j;
			i = j;
		} else {
			i++;
		}
	}
	return len;
}

static void part_set(struct dbp_part *pt, const char *s, size_t len, enum dbp_dialect d,
		     dbp_part_note_fn note)
{
	pt->q = dbp_query_get_ex(s, len, d == DBP_DIALECT_PG ? SQLNORM_PG : 0);
	if (note)
		note(pt, s, len);
}

void dbp_parts_free(struct dbp_parts *ps)
{
	if (ps->many) {
		for (unsigned i = 0; i < ps->n; i++)
			free(ps->many[i].name);
		free(ps->many);
	} else {
		free(ps->one.name);
	}
	memset(ps, 0, sizeof *ps);
}

int dbp_parts_set(struct dbp_parts *ps, const char *sql, size_t len, int split,
		  enum dbp_dialect dialect, dbp_part_note_fn note)
{
	ps->n = 1;
	/* Most strings hold one statement, with no ';' or one at the very end: no lexing. */
	const char *semi = split ? memchr(sql, ';', len) : NULL;
	size_t rest = semi ? (size_t)(semi - sql) + 1 : len;
	while (rest < len && is_space(sql[rest]))
		rest++;
	if (!semi || rest == len) {
		part_set(&ps->one, sql, len, dialect, note);
		return 0;
	}
	size_t off = 0, n = 0, cap = 0;
	struct dbp_part *parts = NULL;
	while (off < len) {
		size_t k = n + 1 >= MAX_PARTS ? len - off
					      : dbp_sql_stmt_len(sql + off, len - off, dialect);
		if (!k)
			break;
		if (!dbp_sql_blank(sql + off, k)) {
			if (n == cap) {
				cap = cap ? cap * 2 : 4;
				struct dbp_part *np = realloc(parts, cap * sizeof *np);
				if (!np) {
					for (size_t j = 0; j < n; j++)
						free(parts[j].name);
					free(parts);
					return -1;
				}
				parts = np;
			}
			memset(&parts[n], 0, sizeof parts[n]);
			part_set(&parts[n], sql + off, k, dialect, note);
			n++;
		}
		off += k;
	}
	if (n <= 1) {
		/* One statement and a stray ';': kept inline. */
		if (n == 1)
			ps->one = parts[0];
		else
			part_set(&ps->one, sql, len, dialect, note);
		free(parts);
		return 0;
	}
	ps->many = parts;
	ps->n = (uint16_t)n;
	return 0;
}

void dbp_note_mysql_use(struct dbp_part *pt, const char *s, size_t len)
{
	size_t i = dbp_sql_skip_blank(s, len, 0);
	if (i + 3 >= len || strncasecmp(s + i, "use", 3) != 0 || is_word((unsigned char)s[i + 3]))
		return;
	i = dbp_sql_skip_blank(s, len, i + 3);
	size_t start = i, end;
	if (i < len && s[i] == '`') { /* `quoted` (`` is one backtick: rare enough to keep) */
		start = ++i;
		while (i < len && s[i] != '`')
			i++;
		end = i;
	} else {
		while (i < len && is_word((unsigned char)s[i]))
			i++;
		end = i;
	}
	if (end > start && (pt->name = strndup(s + start, end - start)))
		pt->op = DBP_PART_USE;
}
