/* log: agent diagnostics to stderr. */
#include "log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "config.h"

static void vemit(const char *fmt, va_list ap)
{
	char buf[512];
	int saved = errno;
	int n = snprintf(buf, sizeof buf, "dbprobe[%d]: ", (int)getpid());
	int m = vsnprintf(buf + n, sizeof buf - (size_t)n - 1, fmt, ap);
	if (m < 0)
		m = 0;
	size_t len =
		(size_t)n +
		((size_t)m < sizeof buf - (size_t)n - 1 ? (size_t)m : sizeof buf - (size_t)n - 2);
	buf[len++] = '\n';
	syscall(SYS_write, 2, buf, len);
	errno = saved;
}

void dbp_warn(const char *fmt, ...)
{
	va_list ap;
	va_start(ap, fmt);
	vemit(fmt, ap);
	va_end(ap);
}

void dbp_log(int level, const char *fmt, ...)
{
	if (dbp_cfg.log < level)
		return;
	va_list ap;
	va_start(ap, fmt);
	vemit(fmt, ap);
	va_end(ap);
}
