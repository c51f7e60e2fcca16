/* sqlparts: splitting a string of SQL into the statements a server runs, one part each. */
#include "sqlparts.h"

#include <stdlib.h>
#include <string.h>

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

static void part_set(struct dbp_part *pt, const char *s, size_t len, dbp_part_note_fn note)
{
	pt->q = dbp_query_get(s, len);
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
		  dbp_part_note_fn note)
{
	ps->n = 1;
	/* Most strings hold one statement, with no ';' or one at the very end: no lexing. */
	const char *semi = split ? memchr(sql, ';', len) : NULL;
	size_t rest = semi ? (size_t)(semi - sql) + 1 : len;
	while (rest < len && is_space(sql[rest]))
		rest++;
	if (!semi || rest == len) {
		part_set(&ps->one, sql, len, note);
		return 0;
	}
	size_t off = 0, n = 0, cap = 0;
	struct dbp_part *parts = NULL;
	while (off < len) {
		size_t k = n + 1 >= MAX_PARTS ? len - off : sqlnorm_stmt_len(sql + off, len - off);
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
			part_set(&parts[n], sql + off, k, note);
			n++;
		}
		off += k;
	}
	if (n <= 1) {
		/* One statement and a stray ';': kept inline. */
		if (n == 1)
			ps->one = parts[0];
		else
			part_set(&ps->one, sql, len, note);
		free(parts);
		return 0;
	}
	ps->many = parts;
	ps->n = (uint16_t)n;
	return 0;
}
