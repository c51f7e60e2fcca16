/* log: agent diagnostics to stderr, written with raw syscalls (our own write hook stays blind). */
#ifndef DBPROBE_LOG_H
#define DBPROBE_LOG_H

/* Always printed: configuration warnings. */
void dbp_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
/* Printed when DBPROBE_LOG asks for it (level 1 info, 2 debug). */
void dbp_log(int level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

#endif
