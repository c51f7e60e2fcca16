/* resolve: finds the real function behind one of our hooks. */
#ifndef DBPROBE_RESOLVE_H
#define DBPROBE_RESOLVE_H

/* The next definition of name after ours (RTLD_NEXT); failing that, the one in an already
 * loaded library among sonames (NULL-terminated), which catches libraries dlopen'ed with
 * RTLD_LOCAL (Python's _sqlite3 module, plugins). NULL when neither has it. */
void *dbp_resolve(const char *name, const char *const *sonames);

#endif
