/* hook: what every shim's hook table is made of. A shim lists its real functions once in an
 * X-macro, REAL_FUNCS(X) with X(ret, name, args), then:
 *   REAL_FUNCS(DBP_REAL_DECLARE)        one typed pointer per function
 *   DBP_REAL_RESOLVER(REAL_FUNCS, sonames)  resolve_all(): all at once, from the first hook
 *                                        that runs (constructor or not); a library loaded later
 *                                        by dlopen is picked up by the next call that finds
 *                                        its pointer still NULL
 *   DBP_REAL(name, fail)                in a hook: the real function, or return fail when it
 *                                        is nowhere (the library's own error value) */
#ifndef DBPROBE_HOOK_H
#define DBPROBE_HOOK_H

#include "agent.h"
#include "resolve.h"

#define DBP_EXPORT __attribute__((visibility("default")))

#define DBP_REAL_DECLARE(ret, name, args) static ret(*real_##name) args;

#define DBP_REAL_RESOLVE_ONE(ret, name, args) \
	if (!real_##name)                     \
		*(void **)&real_##name = dbp_resolve(#name, dbp_sonames);

#define DBP_REAL_RESOLVER(table, sonames_)                 \
	static void resolve_all(void)                      \
	{                                                  \
		const char *const *dbp_sonames = sonames_; \
		table(DBP_REAL_RESOLVE_ONE)                \
	}

#define DBP_REAL(name, fail)                      \
	do {                                      \
		if (DBP_UNLIKELY(!real_##name)) { \
			resolve_all();            \
			if (!real_##name)         \
				return fail;      \
		}                                 \
	} while (0)

/* The helpers a shim calls (not hooks) are resolved with them: a library without one (never
 * seen) costs that detail, not a crash. */
#define DBP_HAVE(name) (real_##name != NULL)

#endif
