/* sqlnorm: one-pass SQL lexer producing normalized text, fingerprint and db.query.summary. */
#include "sqlnorm.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

/* ---- hash ------------------------------------------------------------------------------------ */

#define H_SEED 0x243f6a8885a308d3ull /* digits of pi: arbitrary, but nothing up the sleeve */
#define H_K1 0x3c6ef372fe94f82bull   /* whitening keeps an all-zero block from zeroing a product */
#define H_K2 0xa54ff53a5f1d36f1ull
#define H_LEN                                                                                   \
	0x9e3779b97f4a7c15ull      /* odd, so distinct lengths stay distinct after the multiply \
				    */
#define H_M1 0xbf58476d1ce4e5b9ull /* finalizer multipliers with well-spread bits */
#define H_M2 0x94d049bb133111ebull

static inline uint64_t load64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	/* Fingerprints leave the process, so they must not depend on the host's byte order. */
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint64_t load32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

/* Full 64x64->128 product folded back to 64 bits: every input bit reaches most output bits. */
static inline uint64_t fold_mul(uint64_t a, uint64_t b)
{
#ifdef __SIZEOF_INT128__
	unsigned __int128 p = (unsigned __int128)a * b;

	return (uint64_t)p ^ (uint64_t)(p >> 64);
#else
	uint64_t al = (uint32_t)a, ah = a >> 32, bl = (uint32_t)b, bh = b >> 32;
	uint64_t ll = al * bl, lh = al * bh, hl = ah * bl, hh = ah * bh;
	uint64_t mid = (ll >> 32) + (uint32_t)lh + (uint32_t)hl;

	return ((mid << 32) | (uint32_t)ll) ^ (hh + (lh >> 32) + (hl >> 32) + (mid >> 32));
#endif
}

/* The products do not depend on the running state, so the multiplies of successive blocks
 * overlap in the pipeline; only the cheap rotate-and-add is serial. Keeping the state out of
 * the product also means a block whose product happens to be zero cannot erase the past. */
static inline uint64_t absorb(uint64_t acc, uint64_t a, uint64_t b)
{
	return ((acc << 23) | (acc >> 41)) + fold_mul(a ^ H_K1, b ^ H_K2);
}

uint64_t sqlnorm_hash(const void *data, size_t len)
{
	const unsigned char *p = data;
	uint64_t acc = H_SEED, a, b, h;
	size_t n = len;

	if (len > 16) {
		for (; n > 16; p += 16, n -= 16)
			acc = absorb(acc, load64(p), load64(p + 8));
		/* The last block overlaps the one before instead of being padded: no byte loop. */
		a = load64(p + n - 16);
		b = load64(p + n - 8);
	} else if (len >= 8) {
		a = load64(p);
		b = load64(p + len - 8);
	} else if (len >= 4) {
		a = load32(p);
		b = load32(p + len - 4);
	} else if (len > 0) {
		a = (uint64_t)p[0] << 16 | (uint64_t)p[len / 2] << 8 | p[len - 1];
		b = 0;
	} else {
		a = b = 0;
	}
	acc = absorb(acc, a, b);

	/* Bijective avalanche, so the only collisions are those of the absorbed state. */
	h = acc ^ (uint64_t)len * H_LEN;
	h ^= h >> 31;
	h *= H_M1;
	h ^= h >> 29;
	h *= H_M2;
	h ^= h >> 32;
	return h ? h : H_SEED; /* 0 means "none" to our callers */
}

/* ---- keywords -------------------------------------------------------------------------------- */

enum {
	KW_VALUE = 1, /* an operand like NULL: in "NULL -1" the minus is an operator */
	KW_FUNC = 2,  /* called like a function: CAST(x AS t), no space before the parenthesis */
	KW_START = 4, /* an operation only as a statement's first word: SET in UPDATE is not one */
};

/* What an operation word contributes to the summary, and what it expects after it. */
enum sum_op {
	OP_NONE,
	OP_SELECT,
	OP_INSERT, /* INSERT, REPLACE, UPSERT: one target after INTO */
	OP_UPDATE,
	OP_DELETE,
	OP_MERGE,
	OP_DEFINE, /* CREATE, ALTER: object word, then its name */
	OP_DROP,   /* object word, then a list of names */
	OP_LIST,   /* TRUNCATE, LOCK, VACUUM, ANALYZE: a list of tables */
	OP_NAMED,  /* PRAGMA, CALL, USE, COPY: one name */
	OP_GRANT,  /* the privileges it lists (SELECT, INSERT, ...) are not operations */
	OP_PLAIN,  /* just the word: BEGIN, COMMIT, SET, SHOW, ... */
};

struct keyword {
	const char *name;
	unsigned char flags;
	unsigned char op;
};

#define KW_MAXLEN 17 /* CURRENT_TIMESTAMP */

/* Sorted in strcmp order: looked up by binary search. */
static const struct keyword keywords[] = {
	{ "ABORT", 0, OP_NONE },
	{ "ADD", 0, OP_NONE },
	{ "AFTER", 0, OP_NONE },
	{ "ALL", 0, OP_NONE },
	{ "ALTER", KW_START, OP_DEFINE },
	{ "ANALYZE", KW_START, OP_LIST },
	{ "AND", 0, OP_NONE },
	{ "ANY", KW_FUNC, OP_NONE },
	{ "ARRAY", KW_FUNC, OP_NONE },
	{ "AS", 0, OP_NONE },
	{ "ASC", 0, OP_NONE },
	{ "BEFORE", 0, OP_NONE },
	{ "BEGIN", KW_START, OP_PLAIN },
	{ "BETWEEN", 0, OP_NONE },
	{ "BOTH", 0, OP_NONE },
	{ "BY", 0, OP_NONE },
	{ "CALL", KW_START, OP_NAMED },
	{ "CASCADE", 0, OP_NONE },
	{ "CASE", 0, OP_NONE },
	{ "CAST", KW_FUNC, OP_NONE },
	{ "CHECK", 0, OP_NONE },
	{ "COALESCE", KW_FUNC, OP_NONE },
	{ "COLLATE", 0, OP_NONE },
	{ "COLUMN", 0, OP_NONE },
	{ "COMMIT", KW_START, OP_PLAIN },
	{ "CONCURRENTLY", 0, OP_NONE },
	{ "CONFLICT", 0, OP_NONE },
	{ "CONSTRAINT", 0, OP_NONE },
	{ "COPY", KW_START, OP_NAMED },
	{ "CREATE", KW_START, OP_DEFINE },
	{ "CROSS", 0, OP_NONE },
	{ "CURRENT_DATE", KW_VALUE, OP_NONE },
	{ "CURRENT_TIME", KW_VALUE, OP_NONE },
	{ "CURRENT_TIMESTAMP", KW_VALUE, OP_NONE },
	{ "CURRENT_USER", KW_VALUE, OP_NONE },
	{ "DATABASE", 0, OP_NONE },
	{ "DEALLOCATE", KW_START, OP_PLAIN },
	{ "DEFAULT", 0, OP_NONE },
	{ "DEFERRED", 0, OP_NONE },
	{ "DELETE", 0, OP_DELETE },
	{ "DESC", 0, OP_NONE },
	{ "DISTINCT", 0, OP_NONE },
	{ "DO", KW_START, OP_PLAIN },
	{ "DROP", KW_START, OP_DROP },
	{ "DUPLICATE", 0, OP_NONE },
	{ "EACH", 0, OP_NONE },
	{ "ELSE", 0, OP_NONE },
	{ "END", KW_VALUE, OP_NONE },
	{ "ESCAPE", 0, OP_NONE },
	{ "EXCEPT", 0, OP_NONE },
	{ "EXCLUSIVE", 0, OP_NONE },
	{ "EXECUTE", KW_START, OP_PLAIN },
	{ "EXISTS", 0, OP_NONE },
	{ "EXPLAIN", KW_START, OP_PLAIN },
	{ "EXTRACT", KW_FUNC, OP_NONE },
	{ "FALSE", KW_VALUE, OP_NONE },
	{ "FETCH", 0, OP_NONE },
	{ "FILTER", 0, OP_NONE },
	{ "FIRST", 0, OP_NONE },
	{ "FOLLOWING", 0, OP_NONE },
	{ "FOR", 0, OP_NONE },
	{ "FOREIGN", 0, OP_NONE },
	{ "FROM", 0, OP_NONE },
	{ "FULL", 0, OP_NONE },
	{ "FUNCTION", 0, OP_NONE },
	{ "GRANT", KW_START, OP_GRANT },
	{ "GREATEST", KW_FUNC, OP_NONE },
	{ "GROUP", 0, OP_NONE },
	{ "HAVING", 0, OP_NONE },
	{ "IF", KW_FUNC, OP_NONE },
	{ "IGNORE", 0, OP_NONE },
	{ "ILIKE", 0, OP_NONE },
	{ "IMMEDIATE", 0, OP_NONE },
	{ "IN", 0, OP_NONE },
	{ "INDEX", 0, OP_NONE },
	{ "INNER", 0, OP_NONE },
	{ "INSERT", 0, OP_INSERT },
	{ "INSTEAD", 0, OP_NONE },
	{ "INTERSECT", 0, OP_NONE },
	{ "INTERVAL", 0, OP_NONE },
	{ "INTO", 0, OP_NONE },
	{ "IS", 0, OP_NONE },
	{ "ISNULL", 0, OP_NONE },
	{ "JOIN", 0, OP_NONE },
	{ "KEY", 0, OP_NONE },
	{ "LAST", 0, OP_NONE },
	{ "LATERAL", 0, OP_NONE },
	{ "LEADING", 0, OP_NONE },
	{ "LEAST", KW_FUNC, OP_NONE },
	{ "LEFT", KW_FUNC, OP_NONE },
	{ "LIKE", 0, OP_NONE },
	{ "LIMIT", 0, OP_NONE },
	{ "LISTEN", KW_START, OP_PLAIN },
	{ "LOCAL", 0, OP_NONE },
	{ "LOCALTIME", KW_VALUE, OP_NONE },
	{ "LOCALTIMESTAMP", KW_VALUE, OP_NONE },
	{ "LOCK", KW_START, OP_LIST },
	{ "MATCHED", 0, OP_NONE },
	{ "MATERIALIZED", 0, OP_NONE },
	{ "MERGE", 0, OP_MERGE },
	{ "NATURAL", 0, OP_NONE },
	{ "NEXT", 0, OP_NONE },
	{ "NO", 0, OP_NONE },
	{ "NOT", 0, OP_NONE },
	{ "NOTHING", 0, OP_NONE },
	{ "NOTIFY", KW_START, OP_PLAIN },
	{ "NOTNULL", 0, OP_NONE },
	{ "NOWAIT", 0, OP_NONE },
	{ "NULL", KW_VALUE, OP_NONE },
	{ "NULLIF", KW_FUNC, OP_NONE },
	{ "NULLS", 0, OP_NONE },
	{ "OF", 0, OP_NONE },
	{ "OFFSET", 0, OP_NONE },
	{ "ON", 0, OP_NONE },
	{ "ONLY", 0, OP_NONE },
	{ "OR", 0, OP_NONE },
	{ "ORDER", 0, OP_NONE },
	{ "OUTER", 0, OP_NONE },
	{ "OVER", 0, OP_NONE },
	{ "PARTITION", 0, OP_NONE },
	{ "PRAGMA", KW_START, OP_NAMED },
	{ "PRECEDING", 0, OP_NONE },
	{ "PREPARE", KW_START, OP_PLAIN },
	{ "PRIMARY", 0, OP_NONE },
	{ "PROCEDURE", 0, OP_NONE },
	{ "RECURSIVE", 0, OP_NONE },
	{ "REFERENCES", 0, OP_NONE },
	{ "RELEASE", KW_START, OP_PLAIN },
	{ "RENAME", 0, OP_NONE },
	{ "REPLACE", KW_FUNC | KW_START, OP_INSERT },
	{ "RESTRICT", 0, OP_NONE },
	{ "RETURNING", 0, OP_NONE },
	{ "REVOKE", KW_START, OP_GRANT },
	{ "RIGHT", KW_FUNC, OP_NONE },
	{ "ROLLBACK", KW_START, OP_PLAIN },
	{ "ROW", KW_FUNC, OP_NONE },
	{ "ROWS", 0, OP_NONE },
	{ "SAVEPOINT", KW_START, OP_PLAIN },
	{ "SCHEMA", 0, OP_NONE },
	{ "SELECT", 0, OP_SELECT },
	{ "SEQUENCE", 0, OP_NONE },
	{ "SESSION_USER", KW_VALUE, OP_NONE },
	{ "SET", KW_START, OP_PLAIN },
	{ "SHARE", 0, OP_NONE },
	{ "SHOW", KW_START, OP_PLAIN },
	{ "SIMILAR", 0, OP_NONE },
	{ "SOME", KW_FUNC, OP_NONE },
	{ "START", KW_START, OP_PLAIN },
	{ "TABLE", 0, OP_NONE },
	{ "TEMP", 0, OP_NONE },
	{ "TEMPORARY", 0, OP_NONE },
	{ "THEN", 0, OP_NONE },
	{ "TIES", 0, OP_NONE },
	{ "TO", 0, OP_NONE },
	{ "TRAILING", 0, OP_NONE },
	{ "TRANSACTION", 0, OP_NONE },
	{ "TRIGGER", 0, OP_NONE },
	{ "TRUE", KW_VALUE, OP_NONE },
	{ "TRUNCATE", KW_START, OP_LIST },
	{ "UNBOUNDED", 0, OP_NONE },
	{ "UNION", 0, OP_NONE },
	{ "UNIQUE", 0, OP_NONE },
	{ "UNLOGGED", 0, OP_NONE },
	{ "UPDATE", 0, OP_UPDATE },
	{ "UPSERT", KW_START, OP_INSERT },
	{ "USE", KW_START, OP_NAMED },
	{ "USING", 0, OP_NONE },
	{ "VACUUM", KW_START, OP_LIST },
	{ "VALUES", 0, OP_NONE },
	{ "VIEW", 0, OP_NONE },
	{ "WHEN", 0, OP_NONE },
	{ "WHERE", 0, OP_NONE },
	{ "WINDOW", 0, OP_NONE },
	{ "WITH", 0, OP_NONE },
	{ "WITHIN", 0, OP_NONE },
	{ "WITHOUT", 0, OP_NONE },
	{ "WORK", 0, OP_NONE },
};

static inline unsigned char ascii_upper(unsigned char c)
{
	return c >= 'a' && c <= 'z' ? (unsigned char)(c - 'a' + 'A') : c;
}

static inline unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

static int keyword_cmp(const void *key, const void *ent)
{
	return strcmp(key, ((const struct keyword *)ent)->name);
}

static const struct keyword *keyword_find(const char *w, size_t n)
{
	char up[KW_MAXLEN + 1];
	size_t i;

	if (n > KW_MAXLEN)
		return NULL;
	for (i = 0; i < n; i++)
		up[i] = (char)ascii_upper((unsigned char)w[i]);
	up[n] = '\0';
	return bsearch(up, keywords, sizeof keywords / sizeof keywords[0], sizeof keywords[0],
		       keyword_cmp);
}

static bool kw_is(const struct keyword *kw, const char *name)
{
	return kw && strcmp(kw->name, name) == 0;
}

/* Case-insensitive: does the word w[0..n) equal one of the upper-case words of a NULL-ended
 * list? Used for context words that are not all keywords (LOW_PRIORITY, TABLES, ...). */
static bool word_in(const char *w, size_t n, const char *const *list)
{
	for (; *list; list++) {
		const char *l = *list;
		size_t i;

		for (i = 0; i < n && l[i]; i++)
			if (ascii_upper((unsigned char)w[i]) != (unsigned char)l[i])
				break;
		if (i == n && l[i] == '\0')
			return true;
	}
	return false;
}

/* ---- lexer ----------------------------------------------------------------------------------- */

enum tok_type {
	T_END,     /* end of input; as the previous token: nothing yet */
	T_WORD,    /* unquoted identifier or keyword */
	T_QIDENT,  /* "quoted" or `backticked` identifier, kept verbatim */
	T_LITERAL, /* string, number, bit/hex string, dollar-quoted body: all become ? */
	T_PARAM,   /* $1, ?, ?1, :name, @name */
	T_OP,
	T_LPAREN,
	T_RPAREN,
	T_LBRACKET,
	T_RBRACKET,
	T_COMMA,
	T_SEMI,
	T_DOT,
	T_CAST, /* :: */
};

struct token {
	enum tok_type type;
	const struct keyword *kw; /* a T_WORD read as a keyword in this position, else NULL */
	size_t start, len;
};

struct lexer {
	const char *s;
	size_t len, pos;
	enum tok_type prev;
	bool prev_operand; /* decides whether "-1" is a literal or an operator and a literal */
	bool hash_op;      /* PostgreSQL: '#' is an operator (xor, #-), never a comment */
};

static inline bool is_digit(unsigned char c)
{
	return c >= '0' && c <= '9';
}

static inline bool is_hex(unsigned char c)
{
	return is_digit(c) || ((c | 0x20) >= 'a' && (c | 0x20) <= 'f');
}

/* Bytes >= 0x80 are letters, so UTF-8 identifiers lex as words, as in PostgreSQL and MySQL. */
static inline bool is_ident_start(unsigned char c)
{
	return ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') || c == '_' || c >= 0x80;
}

static inline bool is_ident_char(unsigned char c)
{
	return is_ident_start(c) || is_digit(c) || c == '$';
}

static bool is_op_char(unsigned char c)
{
	switch (c) {
	case '+':
	case '-':
	case '*':
	case '/':
	case '<':
	case '>':
	case '=':
	case '~':
	case '!':
	case '%':
	case '^':
	case '&':
	case '|':
	case '@':
	case '#':
		return true;
	default:
		return false;
	}
}

/* "#>" and "#>>" are PostgreSQL json operators; any other '#' opens a MySQL line comment,
 * unless the text is known to be PostgreSQL's. */
static bool comment_starts(const struct lexer *lx, char c, char next)
{
	return (c == '-' && next == '-') || (c == '/' && next == '*') ||
	       (c == '#' && next != '>' && !lx->hash_op);
}

static inline char byte_at(const struct lexer *lx, size_t p)
{
	return p < lx->len ? lx->s[p] : '\0';
}

static size_t skip_line(const struct lexer *lx, size_t p)
{
	const char *nl = memchr(lx->s + p, '\n', lx->len - p);

	return nl ? (size_t)(nl - lx->s) + 1 : lx->len;
}

/* Comments nest, as in PostgreSQL; an unterminated one runs to the end of the input. */
static size_t skip_block_comment(const struct lexer *lx, size_t p)
{
	size_t depth = 0;

	while (p < lx->len) {
		char c = lx->s[p], next = byte_at(lx, p + 1);

		if (c == '/' && next == '*') {
			depth++;
			p += 2;
		} else if (c == '*' && next == '/') {
			p += 2;
			if (--depth == 0)
				return p;
		} else {
			p++;
		}
	}
	return lx->len;
}

/* Control bytes, NUL included, count as blanks: they must not end up in a C string. */
static size_t skip_ignored(const struct lexer *lx, size_t p)
{
	while (p < lx->len) {
		unsigned char c = (unsigned char)lx->s[p];
		char next = byte_at(lx, p + 1);

		if (c <= ' ')
			p++;
		else if (c == '/' && next == '*')
			p = skip_block_comment(lx, p);
		else if (comment_starts(lx, (char)c, next))
			p = skip_line(lx, p);
		else
			break;
	}
	return p;
}

/* p is just past the opening quote; a doubled quote is an escaped one. Returns the position
 * past the closing quote, or len when there is none. */
static size_t scan_quoted(const struct lexer *lx, size_t p, char quote, bool backslash)
{
	while (p < lx->len) {
		char c = lx->s[p];

		if (backslash && c == '\\') {
			p += 2;
		} else if (c == quote) {
			if (byte_at(lx, p + 1) != quote)
				return p + 1;
			p += 2;
		} else {
			p++;
		}
	}
	return lx->len;
}

/* Length of a "$tag$" or "$$" opener at p, or 0 when the '$' opens nothing. */
static size_t dollar_tag_len(const struct lexer *lx, size_t p)
{
	size_t q = p + 1;

	if (q < lx->len && lx->s[q] != '$') {
		if (!is_ident_start((unsigned char)lx->s[q]))
			return 0;
		while (q < lx->len && lx->s[q] != '$' && is_ident_char((unsigned char)lx->s[q]))
			q++;
	}
	return q < lx->len && lx->s[q] == '$' ? q + 1 - p : 0;
}

/* Finds the closing copy of the tag s[tag..tag+n). Linear: the tag holds no '$' between its two
 * ends, so each candidate comparison stops at the next '$' of the body at the latest. */
static size_t skip_dollar_body(const struct lexer *lx, size_t p, size_t tag, size_t n)
{
	while (p < lx->len) {
		const char *d = memchr(lx->s + p, '$', lx->len - p);
		size_t q, i;

		if (!d)
			break;
		q = (size_t)(d - lx->s);
		for (i = 1; i < n && q + i < lx->len && lx->s[q + i] == lx->s[tag + i]; i++)
			;
		if (i == n)
			return q + n;
		p = q + 1;
	}
	return lx->len;
}

/* Integers, decimals (1.5, .5, 5.), exponents and 0x/0b literals. */
static size_t scan_number(const struct lexer *lx, size_t p)
{
	const char *s = lx->s;
	char x = (char)(byte_at(lx, p + 1) | 0x20);

	if (s[p] == '0' && x == 'x' && is_hex((unsigned char)byte_at(lx, p + 2))) {
		for (p += 2; p < lx->len && is_hex((unsigned char)s[p]); p++)
			;
		return p;
	}
	if (s[p] == '0' && x == 'b' && (byte_at(lx, p + 2) == '0' || byte_at(lx, p + 2) == '1')) {
		for (p += 2; p < lx->len && (s[p] == '0' || s[p] == '1'); p++)
			;
		return p;
	}
	while (p < lx->len && is_digit((unsigned char)s[p]))
		p++;
	if (p < lx->len && s[p] == '.')
		for (p++; p < lx->len && is_digit((unsigned char)s[p]); p++)
			;
	if ((byte_at(lx, p) | 0x20) == 'e') {
		size_t q = p + 1;

		if (byte_at(lx, q) == '+' || byte_at(lx, q) == '-')
			q++;
		if (is_digit((unsigned char)byte_at(lx, q)))
			for (p = q; p < lx->len && is_digit((unsigned char)s[p]); p++)
				;
	}
	return p;
}

/* A run of operator characters. As in PostgreSQL, a multi-character operator never ends in '+'
 * or '-', so "a=-1" is "=" and "-1"; unlike it we apply this to every operator ("!=-1" too). */
static size_t scan_operator(const struct lexer *lx, size_t p)
{
	size_t start = p;

	while (p < lx->len && is_op_char((unsigned char)lx->s[p])) {
		if (p > start && comment_starts(lx, lx->s[p], byte_at(lx, p + 1)))
			break;
		p++;
	}
	/* One of PostgreSQL's exceptions kept: jsonb's #- (an operator holding '#' may end in
	 * '-'); "!=-1" still reads as != and -1, as people mean it. */
	if (memchr(lx->s + start, '#', p - start))
		return p;
	while (p - start > 1 && (lx->s[p - 1] == '+' || lx->s[p - 1] == '-'))
		p--;
	return p;
}

static size_t scan_word(const struct lexer *lx, size_t p)
{
	while (p < lx->len && is_ident_char((unsigned char)lx->s[p]))
		p++;
	return p;
}

static size_t scan_digits(const struct lexer *lx, size_t p)
{
	while (p < lx->len && is_digit((unsigned char)lx->s[p]))
		p++;
	return p;
}

static void lexer_init(struct lexer *lx, const char *s, size_t len)
{
	lx->s = s;
	lx->len = len;
	lx->pos = 0;
	lx->prev = T_END;
	lx->prev_operand = false;
	lx->hash_op = false;
}

/* Reads the next significant token; comments and blanks are skipped. */
static void lex_next(struct lexer *lx, struct token *t)
{
	const char *s = lx->s;
	size_t p = skip_ignored(lx, lx->pos), end = p + 1;
	enum tok_type type = T_OP;
	unsigned char c;
	char next;

	t->kw = NULL;
	t->start = p;
	if (p >= lx->len) {
		t->type = T_END;
		t->len = 0;
		lx->pos = lx->len;
		return;
	}
	c = (unsigned char)s[p];
	next = byte_at(lx, p + 1);

	switch (c) {
	case '\'':
		type = T_LITERAL;
		end = scan_quoted(lx, p + 1, '\'', false);
		break;
	case '"':
	case '`':
		type = T_QIDENT;
		end = scan_quoted(lx, p + 1, (char)c, false);
		break;
	case '(':
		type = T_LPAREN;
		break;
	case ')':
		type = T_RPAREN;
		break;
	case '[':
		type = T_LBRACKET;
		break;
	case ']':
		type = T_RBRACKET;
		break;
	case ',':
		type = T_COMMA;
		break;
	case ';':
		type = T_SEMI;
		break;
	case '.':
		if (is_digit((unsigned char)next)) {
			type = T_LITERAL;
			end = scan_number(lx, p);
		} else {
			type = T_DOT;
		}
		break;
	case '-':
		/* Part of the literal only where no operand precedes: "a -1" subtracts. */
		if (!lx->prev_operand &&
		    (is_digit((unsigned char)next) ||
		     (next == '.' && is_digit((unsigned char)byte_at(lx, p + 2))))) {
			type = T_LITERAL;
			end = scan_number(lx, p + 1);
		} else {
			end = scan_operator(lx, p);
		}
		break;
	case '$':
		if (is_digit((unsigned char)next)) {
			type = T_PARAM;
			end = scan_digits(lx, p + 1);
		} else {
			size_t n = dollar_tag_len(lx, p);

			if (n) {
				type = T_LITERAL;
				end = skip_dollar_body(lx, p + n, p, n);
			}
		}
		break;
	case '?':
		type = T_PARAM;
		end = scan_digits(lx, p + 1);
		break;
	case ':':
		if (next == ':') {
			type = T_CAST;
			end = p + 2;
		} else if (!lx->prev_operand &&
			   (is_ident_start((unsigned char)next) || is_digit((unsigned char)next))) {
			/* After an operand it is an array slice bound (a[lo:hi]), not a name. */
			type = T_PARAM;
			end = scan_word(lx, p + 1);
		} else if (next == '=') {
			end = p + 2;
		}
		break;
	case '@':
		if (next == '@' && is_ident_start((unsigned char)byte_at(lx, p + 2))) {
			type = T_WORD; /* @@session.x: a system variable, kept as a word */
			end = scan_word(lx, p + 2);
		} else if (is_ident_start((unsigned char)next)) {
			type = T_PARAM;
			end = scan_word(lx, p + 1);
		} else {
			end = scan_operator(lx, p);
		}
		break;
	default:
		if (is_digit(c)) {
			type = T_LITERAL;
			end = scan_number(lx, p);
		} else if (is_ident_start(c)) {
			unsigned char lc = c | 0x20;

			if (next == '\'' && (lc == 'e' || lc == 'x' || lc == 'b' || lc == 'n')) {
				/* Only E'' strings treat backslash as an escape (E'it\'s'). */
				type = T_LITERAL;
				end = scan_quoted(lx, p + 2, '\'', lc == 'e');
			} else {
				type = T_WORD;
				end = scan_word(lx, p);
				/* Around a dot it names something: t.order, order.id. */
				if (lx->prev != T_DOT && byte_at(lx, end) != '.')
					t->kw = keyword_find(s + p, end - p);
			}
		} else if (is_op_char(c)) {
			end = scan_operator(lx, p);
		}
		break;
	}

	t->type = type;
	t->len = end - p;
	lx->pos = end;
	lx->prev = type;
	switch (type) {
	case T_WORD:
		lx->prev_operand = !t->kw || (t->kw->flags & KW_VALUE);
		break;
	case T_QIDENT:
	case T_LITERAL:
	case T_PARAM:
	case T_RPAREN:
	case T_RBRACKET:
		lx->prev_operand = true;
		break;
	default:
		lx->prev_operand = false;
		break;
	}
}

size_t sqlnorm_stmt_len(const char *sql, size_t len)
{
	struct lexer lx;
	struct token t;

	lexer_init(&lx, sql, len);
	do {
		lex_next(&lx, &t);
		if (t.type == T_SEMI)
			return t.start + 1;
	} while (t.type != T_END);
	return len;
}

/* ---- summary --------------------------------------------------------------------------------- */

/* Parenthesis levels tracked for the summary; deeper ones are still counted but not read. */
#define SUM_LEVELS 32

enum sum_state {
	SS_NONE,
	SS_OBJECT,   /* after CREATE/ALTER/DROP: modifiers, then the object word */
	SS_TABLE,    /* a table (or other name) may come next */
	SS_NAME,     /* inside a possibly qualified name */
	SS_NAME_DOT, /* a qualified name, just after its dot */
	SS_AFTER,    /* after a name: an alias, or ',' for the next one */
};

enum sum_clause {
	SC_FROM,   /* FROM, JOIN, USING: a list; a name and '(' is a function, not a table */
	SC_UPDATE, /* UPDATE's targets: a list */
	SC_INTO,   /* a single target */
	SC_NAME,   /* a single name */
	SC_LIST,   /* a list of names */
};

struct sum_level {
	unsigned char op, state, clause;
};

struct summary {
	char text[SQLNORM_SUMMARY_MAX];
	size_t len;
	bool full;     /* once a part did not fit, later ones must not either: order matters */
	bool at_start; /* the next token is a statement's first */
	bool in_grant;
	size_t depth;
	struct sum_level lv[SUM_LEVELS];
	char name[SQLNORM_SUMMARY_MAX];
	size_t name_len;
	bool name_bad;     /* too long for the summary */
	struct token prev; /* T_END at a statement's start */
	const char *src;
};

static const char *const object_modifiers[] = {
	"OR",     "REPLACE", "TEMP",    "TEMPORARY", "UNIQUE",  "MATERIALIZED", "UNLOGGED",
	"GLOBAL", "LOCAL",   "VIRTUAL", "RECURSIVE", "FOREIGN", NULL,
};

/* Words between an operation or clause and its table: INSERT OR IGNORE INTO, FROM ONLY t,
 * DROP TABLE IF EXISTS t, VACUUM FULL ANALYZE t, LOCK TABLES t. */
static const char *const table_skip[] = {
	"INTO",  "IGNORE",  "OR",      "REPLACE",      "ROLLBACK",      "ABORT",
	"FAIL",  "ONLY",    "LATERAL", "LOW_PRIORITY", "HIGH_PRIORITY", "DELAYED",
	"QUICK", "TABLE",   "TABLES",  "IF",           "NOT",           "EXISTS",
	"FULL",  "VERBOSE", "FREEZE",  "ANALYZE",      "CONCURRENTLY",  NULL,
};

/* After these, INSERT/UPDATE/DELETE/SELECT are not operations being performed: ON DELETE
 * CASCADE, FOR UPDATE, ON DUPLICATE KEY UPDATE, DO UPDATE, AFTER INSERT OR UPDATE OF,
 * THEN UPDATE (MERGE arms are part of the MERGE), FOR EACH ... */
static const char *const dml_blockers[] = {
	"ON", "FOR", "KEY", "DO", "BEFORE", "AFTER", "OF", "OR", "THEN", "INSTEAD", "EACH", NULL,
};

static void summary_reset_statement(struct summary *sm)
{
	sm->at_start = true;
	sm->in_grant = false;
	sm->depth = 0;
	memset(&sm->lv[0], 0, sizeof sm->lv[0]);
}

static void summary_init(struct summary *sm, const char *src)
{
	sm->len = 0;
	sm->text[0] = '\0';
	sm->full = false;
	sm->prev.type = T_END;
	sm->src = src;
	summary_reset_statement(sm);
}

static void summary_add(struct summary *sm, const char *w, size_t n, bool upper)
{
	size_t i, at;

	if (sm->full)
		return;
	if (sm->len + (sm->len ? 1 : 0) + n > SQLNORM_SUMMARY_MAX - 1) {
		sm->full = true;
		return;
	}
	if (sm->len)
		sm->text[sm->len++] = ' ';
	at = sm->len;
	for (i = 0; i < n; i++)
		sm->text[at + i] = upper ? (char)ascii_upper((unsigned char)w[i]) : w[i];
	sm->len += n;
	sm->text[sm->len] = '\0';
}

static void name_add(struct summary *sm, const char *w, size_t n)
{
	size_t i;

	if (sm->name_bad || n > sizeof sm->name - 1 - sm->name_len) {
		sm->name_bad = true;
		return;
	}
	for (i = 0; i < n; i++)
		sm->name[sm->name_len + i] = w[i] ? w[i] : '?'; /* a NUL inside "quotes" */
	sm->name_len += n;
}

static bool prev_word_in(const struct summary *sm, const char *const *list)
{
	return sm->prev.type == T_WORD && word_in(sm->src + sm->prev.start, sm->prev.len, list);
}

static bool op_is_dml(unsigned char op)
{
	return op == OP_SELECT || op == OP_INSERT || op == OP_UPDATE || op == OP_DELETE ||
	       op == OP_MERGE;
}

static void start_table(struct sum_level *lv, enum sum_clause clause)
{
	lv->state = SS_TABLE;
	lv->clause = (unsigned char)clause;
}

/* An operation word, or a clause word that introduces tables. */
static void summary_word(struct summary *sm, struct sum_level *lv, const struct token *t)
{
	const struct keyword *kw = t->kw;

	if (kw->op != OP_NONE) {
		bool is_op = kw->flags & KW_START
				     ? sm->at_start
				     : !sm->in_grant && !prev_word_in(sm, dml_blockers);

		if (!is_op)
			return;
		summary_add(sm, kw->name, strlen(kw->name), false);
		if (!lv)
			return;
		lv->op = kw->op;
		lv->state = SS_NONE;
		switch (kw->op) {
		case OP_INSERT:
			start_table(lv, SC_INTO);
			break;
		case OP_UPDATE:
			start_table(lv, SC_UPDATE);
			break;
		case OP_DEFINE:
		case OP_DROP:
			lv->state = SS_OBJECT;
			break;
		case OP_LIST:
			start_table(lv, SC_LIST);
			break;
		case OP_NAMED:
			start_table(lv, SC_NAME);
			break;
		case OP_GRANT:
			sm->in_grant = true;
			break;
		default:
			break;
		}
		return;
	}
	if (!lv)
		return;
	if (kw_is(kw, "FROM")) {
		static const char *const distinct[] = { "DISTINCT", NULL };

		/* IS DISTINCT FROM compares; in EXTRACT(x FROM d) the level has no operation. */
		if (op_is_dml(lv->op) && !prev_word_in(sm, distinct))
			start_table(lv, SC_FROM);
	} else if (kw_is(kw, "JOIN")) {
		if (op_is_dml(lv->op))
			start_table(lv, SC_FROM);
	} else if (kw_is(kw, "INTO")) {
		if (lv->op == OP_INSERT || lv->op == OP_MERGE)
			start_table(lv, SC_INTO);
	} else if (kw_is(kw, "USING")) {
		if (lv->op == OP_MERGE || lv->op == OP_DELETE)
			start_table(lv, SC_FROM);
	}
}

static void name_end(struct summary *sm, struct sum_level *lv, const struct token *t)
{
	/* FROM generate_series(1, 3): a function, not a table. */
	bool keep = lv->state == SS_NAME && !sm->name_bad &&
		    !(t->type == T_LPAREN && lv->clause == SC_FROM);

	if (keep)
		summary_add(sm, sm->name, sm->name_len, false);
	lv->state = lv->clause == SC_INTO || lv->clause == SC_NAME ? SS_NONE : SS_AFTER;
}

static void summary_level(struct summary *sm, struct sum_level *lv, const struct token *t)
{
	bool word = t->type == T_WORD;
	bool ident = (word && !t->kw) || t->type == T_QIDENT;
	const char *w = word || ident ? sm->src + t->start : NULL;

	/* A finished name hands the token that ended it to the next state: loops at most twice. */
	for (;;) {
		switch (lv->state) {
		case SS_OBJECT:
			if (word) {
				if (!word_in(w, t->len, object_modifiers)) {
					summary_add(sm, w, t->len, true);
					start_table(lv, lv->op == OP_DROP ? SC_LIST : SC_NAME);
				}
				return;
			}
			lv->state = SS_NONE;
			break;
		case SS_TABLE:
			if (word && word_in(w, t->len, table_skip))
				return;
			if (ident) {
				sm->name_len = 0;
				sm->name_bad = false;
				name_add(sm, w, t->len);
				lv->state = SS_NAME;
				return;
			}
			if (t->type == T_LPAREN) {
				/* A subquery or (a JOIN b): read in a level of its own. */
				lv->state = SS_AFTER;
				return;
			}
			lv->state = SS_NONE;
			break;
		case SS_NAME:
			if (t->type == T_DOT) {
				name_add(sm, ".", 1);
				lv->state = SS_NAME_DOT;
				return;
			}
			name_end(sm, lv, t);
			continue;
		case SS_NAME_DOT:
			if (word || t->type == T_QIDENT) {
				name_add(sm, w, t->len);
				lv->state = SS_NAME;
				return;
			}
			name_end(sm, lv, t);
			continue;
		case SS_AFTER:
			if (t->type == T_COMMA) {
				lv->state = SS_TABLE;
				return;
			}
			/* An alias, AS, or the arguments of a table function. */
			if (ident || t->type == T_LPAREN || kw_is(t->kw, "AS"))
				return;
			lv->state = SS_NONE;
			break;
		default:
			break;
		}
		break;
	}
	if (word && t->kw)
		summary_word(sm, lv, t);
}

static void summary_token(struct summary *sm, const struct token *t)
{
	struct sum_level *lv = sm->depth < SUM_LEVELS ? &sm->lv[sm->depth] : NULL;
	bool sub_table = lv && lv->state == SS_TABLE && t->type == T_LPAREN;
	unsigned char inherit = lv ? lv->op : OP_NONE;

	if (t->type == T_END || t->type == T_SEMI) {
		if (lv)
			summary_level(sm, lv, t); /* completes a name the input ends with */
		summary_reset_statement(sm);
		sm->prev.type = T_END;
		return;
	}
	if (lv)
		summary_level(sm, lv, t);
	if (t->type == T_LPAREN) {
		sm->depth++;
		if (sm->depth < SUM_LEVELS) {
			/* Only a parenthesis where a table was expected continues the clause
			 * inside: FROM (a JOIN b). Elsewhere, as in EXTRACT(YEAR FROM d), FROM
			 * introduces no table. */
			sm->lv[sm->depth].op = sub_table ? inherit : OP_NONE;
			sm->lv[sm->depth].state = SS_NONE;
			sm->lv[sm->depth].clause = SC_FROM;
		}
	} else if (t->type == T_RPAREN && sm->depth > 0) {
		sm->depth--;
	}
	sm->at_start = false;
	sm->prev = *t;
}

/* ---- normalized text ------------------------------------------------------------------------- */

enum { V_OFF, V_FIRST, V_AFTER, V_COMMA, V_ROW };

/* The text is built twice in step: as shown (keywords upper-cased, words as written) and as
 * hashed (unquoted words lower-cased). Both always have the same length, so a position is valid
 * in both, and rows or lists can be cut from both at once. */
struct norm {
	char *out, *fold;
	size_t len, cap;
	bool oom;
	enum tok_type prev;
	const struct keyword *prev_kw;
	size_t depth;
	bool semi_pending;
	struct {
		bool on, want_literal;
		size_t count, start; /* literals so far; position just after the '(' */
	} in;
	struct {
		int state;
		size_t depth;            /* parenthesis depth outside the rows */
		size_t first, first_end; /* the first row, "(" to ")" */
		size_t last, last_end;   /* the last row kept */
		size_t row, comma;       /* the current row; where the ", " before it starts */
	} values;
};

enum fold_mode { FOLD_SAME, FOLD_LOWER, FOLD_NUL };

static bool norm_reserve(struct norm *nm, size_t n)
{
	size_t cap;
	char *out, *fold;

	if (nm->oom)
		return false;
	if (nm->cap - nm->len > n)
		return true;
	if (n > (SIZE_MAX - nm->len) / 4) {
		nm->oom = true;
		return false;
	}
	cap = nm->cap * 2 > nm->len + n + 1 ? nm->cap * 2 : nm->len + n + 1;
	out = realloc(nm->out, cap);
	if (out)
		nm->out = out;
	fold = out ? realloc(nm->fold, cap) : NULL;
	if (fold)
		nm->fold = fold;
	if (!out || !fold) {
		nm->oom = true;
		return false;
	}
	nm->cap = cap;
	return true;
}

static void put(struct norm *nm, const char *text, size_t n, enum fold_mode mode)
{
	char *o, *f;
	size_t i;

	if (!norm_reserve(nm, n))
		return;
	o = nm->out + nm->len;
	f = nm->fold + nm->len;
	switch (mode) {
	case FOLD_SAME:
		memcpy(o, text, n);
		memcpy(f, text, n);
		break;
	case FOLD_LOWER:
		memcpy(o, text, n);
		for (i = 0; i < n; i++)
			f[i] = (char)ascii_lower((unsigned char)text[i]);
		break;
	case FOLD_NUL:
		/* A quoted identifier may hold a NUL; the text we return is a C string. */
		for (i = 0; i < n; i++)
			o[i] = f[i] = text[i] ? text[i] : '?';
		break;
	}
	nm->len += n;
}

static bool prev_is_name(const struct norm *nm)
{
	return nm->prev == T_QIDENT ||
	       (nm->prev == T_WORD && (!nm->prev_kw || (nm->prev_kw->flags & KW_FUNC)));
}

/* Spacing depends on token types only, never on the input's blanks, so "a=1" and "a = 1"
 * normalize alike. */
static bool need_space(const struct norm *nm, enum tok_type type)
{
	switch (nm->prev) {
	case T_END:
	case T_LPAREN:
	case T_LBRACKET:
	case T_DOT:
	case T_CAST:
		return false;
	default:
		break;
	}
	switch (type) {
	case T_RPAREN:
	case T_RBRACKET:
	case T_COMMA:
	case T_SEMI:
	case T_DOT:
	case T_CAST:
		return false;
	case T_LPAREN:
		return !prev_is_name(nm); /* count(*), but IN (?) and VALUES (?) */
	case T_LBRACKET:
		return !(prev_is_name(nm) || nm->prev == T_RPAREN || nm->prev == T_RBRACKET ||
			 nm->prev == T_PARAM);
	default:
		return true;
	}
}

static void put_token(struct norm *nm, const char *src, const struct token *t)
{
	const char *w = src + t->start;

	switch (t->type) {
	case T_LITERAL:
		put(nm, "?", 1, FOLD_SAME);
		break;
	case T_WORD:
		if (t->kw)
			put(nm, t->kw->name, strlen(t->kw->name), FOLD_LOWER);
		else
			put(nm, w, t->len, FOLD_LOWER);
		break;
	case T_QIDENT:
		put(nm, w, t->len, FOLD_NUL);
		break;
	default:
		put(nm, w, t->len, FOLD_SAME);
		break;
	}
}

/* IN (1, 2, 3) becomes IN (?): only a list made of nothing but literals. */
static void in_list_before(struct norm *nm, enum tok_type type)
{
	if (!nm->in.on)
		return;
	if (type == T_LITERAL && nm->in.want_literal) {
		nm->in.want_literal = false;
		nm->in.count++;
		return;
	}
	if (type == T_COMMA && !nm->in.want_literal) {
		nm->in.want_literal = true;
		return;
	}
	if (type == T_RPAREN && !nm->in.want_literal && nm->in.count > 1) {
		nm->len = nm->in.start;
		put(nm, "?", 1, FOLD_SAME);
	}
	nm->in.on = false;
}

static void values_before(struct norm *nm, enum tok_type type)
{
	if (nm->values.state == V_AFTER) {
		if (type == T_COMMA && nm->depth == nm->values.depth) {
			nm->values.comma = nm->len;
			nm->values.state = V_COMMA;
		} else {
			nm->values.state = V_OFF;
		}
	} else if (nm->values.state == V_COMMA && type != T_LPAREN) {
		nm->values.state = V_OFF;
	}
}

static bool same_row(const struct norm *nm, size_t a, size_t a_end, size_t b, size_t b_end)
{
	return a_end - a == b_end - b && memcmp(nm->fold + a, nm->fold + b, a_end - a) == 0;
}

/* VALUES (1, 'a'), (2, 'b') becomes VALUES (?, ?). A row is dropped when it normalizes like the
 * first row or like the last row kept, so alternating shapes (A, B, A, B) end as "A, B"; other
 * rows are kept. Remembering two rows keeps this linear and its memory constant. */
static void values_after_close(struct norm *nm)
{
	if (nm->depth != nm->values.depth)
		return;
	if (nm->values.state == V_FIRST) {
		nm->values.first_end = nm->len;
		nm->values.last = nm->values.first;
		nm->values.last_end = nm->len;
		nm->values.state = V_AFTER;
	} else if (nm->values.state == V_ROW) {
		size_t row = nm->values.row, end = nm->len;

		if (same_row(nm, row, end, nm->values.first, nm->values.first_end) ||
		    same_row(nm, row, end, nm->values.last, nm->values.last_end)) {
			nm->len = nm->values.comma;
		} else {
			nm->values.last = row;
			nm->values.last_end = end;
		}
		nm->values.state = V_AFTER;
	}
}

static void emit_semicolon(struct norm *nm)
{
	put(nm, ";", 1, FOLD_SAME);
	nm->prev = T_SEMI;
	nm->prev_kw = NULL;
	nm->depth = 0;
	nm->in.on = false;
	nm->values.state = V_OFF;
	nm->semi_pending = false;
}

static void norm_token(struct norm *nm, const char *src, const struct token *t)
{
	bool space;
	size_t at;

	if (t->type == T_SEMI) {
		/* Written only once another token follows: a final ';' and empty statements leave
		 * no trace, so "SELECT 1;" and "SELECT 1" share a fingerprint. */
		if (nm->prev != T_END && nm->prev != T_SEMI)
			nm->semi_pending = true;
		return;
	}
	if (nm->semi_pending)
		emit_semicolon(nm);

	space = need_space(nm, t->type);
	in_list_before(nm, t->type);
	values_before(nm, t->type);
	if (space)
		put(nm, " ", 1, FOLD_SAME);
	at = nm->len;
	put_token(nm, src, t);

	if (t->type == T_LPAREN) {
		if (kw_is(nm->prev_kw, "IN")) {
			nm->in.on = true;
			nm->in.want_literal = true;
			nm->in.count = 0;
			nm->in.start = nm->len;
		}
		if (nm->values.state == V_COMMA) {
			nm->values.row = at;
			nm->values.state = V_ROW;
		} else if (kw_is(nm->prev_kw, "VALUES")) {
			nm->values.state = V_FIRST;
			nm->values.depth = nm->depth;
			nm->values.first = at;
		}
		nm->depth++;
	} else if (t->type == T_RPAREN) {
		if (nm->depth > 0)
			nm->depth--;
		values_after_close(nm);
	}
	nm->prev = t->type;
	nm->prev_kw = t->type == T_WORD ? t->kw : NULL;
}

char *sqlnorm(const char *sql, size_t len, struct sqlnorm_info *info)
{
	return sqlnorm_ex(sql, len, 0, info);
}

char *sqlnorm_ex(const char *sql, size_t len, unsigned flags, struct sqlnorm_info *info)
{
	struct norm nm = { 0 };
	struct summary sm;
	struct lexer lx;
	struct token t;
	uint64_t fingerprint;
	char *small;

	if (len > SIZE_MAX / 4)
		return NULL;
	/* Room for the usual case, where the text shrinks or grows a little; grown on demand. */
	nm.cap = len + 64;
	nm.out = malloc(nm.cap);
	nm.fold = malloc(nm.cap);
	if (!nm.out || !nm.fold)
		goto oom;
	nm.prev = T_END;

	lexer_init(&lx, sql, len);
	lx.hash_op = flags & SQLNORM_PG;
	summary_init(&sm, sql);
	do {
		lex_next(&lx, &t);
		summary_token(&sm, &t);
		if (t.type != T_END)
			norm_token(&nm, sql, &t);
	} while (t.type != T_END && !nm.oom);
	if (nm.oom)
		goto oom;

	fingerprint = sqlnorm_hash(nm.fold, nm.len);
	free(nm.fold);
	nm.out[nm.len] = '\0';
	small = realloc(nm.out, nm.len + 1); /* the caller keeps it for the process's lifetime */
	if (small)
		nm.out = small;
	if (info) {
		info->fingerprint = fingerprint;
		info->len = nm.len;
		memcpy(info->summary, sm.text, sm.len + 1);
	}
	return nm.out;

oom:
	free(nm.out);
	free(nm.fold);
	return NULL;
}
