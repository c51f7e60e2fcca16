/* sqlite_errors: SQLite result codes as their C names, for error.type. */
#ifndef DBPROBE_SQLITE_ERRORS_H
#define DBPROBE_SQLITE_ERRORS_H

/* "SQLITE_CONSTRAINT_UNIQUE" for 2067; an unknown extended code gives its primary's name. */
const char *dbp_sqlite_error_name(int code);

#endif
