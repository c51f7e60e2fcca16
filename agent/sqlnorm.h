/* sqlnorm: SQL normalization, fingerprinting and summaries (OpenTelemetry db.query.summary). */
#ifndef DBPROBE_SQLNORM_H
#define DBPROBE_SQLNORM_H

#include <stddef.h>
#include <stdint.h>

#define SQLNORM_SUMMARY_MAX 256 /* OTel caps db.query.summary at 255 characters */

struct sqlnorm_info {
	uint64_t fingerprint; /* hash of the normalized token stream, words case-folded */
	size_t len;           /* strlen of the returned text */
	char summary[SQLNORM_SUMMARY_MAX]; /* "SELECT users", "INSERT orders", NUL-terminated */
};

/* Normalizes sql[0..len) (NUL bytes inside are ordinary characters, never a terminator).
 * Returns a malloc'd NUL-terminated normalized text, or NULL when out of memory. info may be
 * NULL; its fingerprint is never 0. Literals become ?, comments go, keywords are upper-cased,
 * IN lists of literals and repeated VALUES rows collapse to one. */
char *sqlnorm(const char *sql, size_t len, struct sqlnorm_info *info);
/* The same with the dialect's rules where they differ. */
#define SQLNORM_PG 0x1u /* PostgreSQL: '#' is an operator (xor, #-), not a MySQL comment */
char *sqlnorm_ex(const char *sql, size_t len, unsigned flags, struct sqlnorm_info *info);

/* Length of the first statement of sql[0..len): up to and including the first ';' that is not
 * inside a string, identifier, comment or dollar-quoted body; len when there is none. */
size_t sqlnorm_stmt_len(const char *sql, size_t len);

/* 64-bit hash of arbitrary bytes (used for the raw-text cache and interned strings); never 0,
 * and the same on every host whatever its byte order. */
uint64_t sqlnorm_hash(const void *data, size_t len);

#endif
