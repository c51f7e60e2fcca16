/* buf: a growable output buffer for rendered pages. */
#ifndef DBPROBE_BUF_H
#define DBPROBE_BUF_H

#include <stddef.h>

struct dbp_buf {
	char *p;
	size_t len, cap;
	int oom; /* a failed allocation: the page is incomplete and must not be served */
};

void dbp_buf_put(struct dbp_buf *b, const char *s, size_t n);
void dbp_buf_puts(struct dbp_buf *b, const char *s);
void dbp_buf_printf(struct dbp_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void dbp_buf_free(struct dbp_buf *b);

#endif
