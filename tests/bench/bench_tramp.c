/* bench_tramp: an interposer that does nothing but pass write() on, preloaded by scripts/bench
 * next to the agent: what any LD_PRELOAD hook costs on this machine, the floor for the agent's
 * figure (on some virtual machines each system call flushes caches and branch predictors, and
 * even this costs nanoseconds). */
#include <dlfcn.h>
#include <sys/types.h>
#include <unistd.h>

static ssize_t (*real_write)(int, const void *, size_t);

__attribute__((constructor)) static void init(void)
{
	real_write = (ssize_t(*)(int, const void *, size_t))dlsym(RTLD_NEXT, "write");
}

ssize_t write(int fd, const void *buf, size_t n)
{
	return real_write(fd, buf, n);
}
