/* resolve: finds the real function behind one of our hooks. */
#include "resolve.h"

#include <dlfcn.h>
#include <errno.h>

void *dbp_resolve(const char *name, const char *const *sonames)
{
	int saved = errno;
	void *p = dlsym(RTLD_NEXT, name);
	for (; !p && sonames && *sonames; sonames++) {
		void *h = dlopen(*sonames, RTLD_LAZY | RTLD_NOLOAD);
		if (h) {
			p = dlsym(h, name);
			dlclose(h); /* RTLD_NOLOAD took a reference; give it back */
		}
	}
	errno = saved;
	return p;
}
