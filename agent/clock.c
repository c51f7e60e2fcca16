/* clock: TSC calibration against CLOCK_MONOTONIC, done by the sender thread, never by hooks. */
#include "clock.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int dbp_clock_use_tsc;

static uint64_t base_ticks, base_mono, base_unix;
/* ns per tick, 32.32 fixed point: no floating point in the agent, no libm. */
uint64_t dbp_clock_fp = 1ull << 32;

static uint64_t mono_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

uint64_t dbp_unix_ns(void)
{
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* The ns-per-tick ratio until the sender measures it, from the rate the CPU reports (the TSC
 * ticks at the nominal rate where it is invariant): durations counted before the first
 * calibration land in the right histogram buckets. 0 when not found. */
static uint64_t fp_from_mhz(const char *cpuinfo)
{
	const char *p = strstr(cpuinfo, "\ncpu MHz");
	p = p ? strchr(p, ':') : NULL;
	if (!p)
		return 0;
	double mhz = strtod(p + 1, NULL);
	if (!(mhz > 100 && mhz < 100000))
		return 0;
	return (uint64_t)(1000.0 / mhz * 4294967296.0);
}

static uint64_t fp_estimate;

/* The TSC is only a clock when the CPU says it ticks at a constant rate through sleep states. */
static int tsc_is_invariant(void)
{
#if defined(__x86_64__)
	char buf[8192];
	int fd = open("/proc/cpuinfo", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	ssize_t n = read(fd, buf, sizeof buf - 1);
	close(fd);
	if (n <= 0)
		return 0;
	buf[n] = 0;
	fp_estimate = fp_from_mhz(buf);
	char *flags = strstr(buf, "\nflags");
	if (!flags)
		return 0;
	char *eol = strchr(flags + 1, '\n');
	if (eol)
		*eol = 0;
	return strstr(flags, " constant_tsc") && strstr(flags, " nonstop_tsc");
#else
	return 0;
#endif
}

/* When the ratio was last refined (CLOCK_MONOTONIC ns; 0: never in this process). */
static uint64_t refined_mono;

void dbp_clock_init(void)
{
	static int probed;
	int first = !probed;
	if (!probed) {
		dbp_clock_use_tsc = tsc_is_invariant();
		probed = 1;
	}
	base_unix = dbp_unix_ns();
	base_mono = mono_ns();
	base_ticks = dbp_ticks();
	refined_mono = 0; /* a forked child calibrates against its own reference first */
	/* No calibration here: it waits a millisecond, and this runs in the constructor and in
	 * every forked child (which keeps its parent's ratio: the same TSC). The sender
	 * calibrates before it converts anything. */
	if (first)
		dbp_clock_fp = dbp_clock_use_tsc && fp_estimate ? fp_estimate : 1ull << 32;
}

void dbp_clock_calibrate(void)
{
	if (!dbp_clock_use_tsc)
		return;
	uint64_t mono = mono_ns(), ticks = dbp_ticks();
	/* Refined at most every 2 s: each refinement moves where every earlier tick lands a
	 * little, and records converted in different batches (a transaction's and its BEGIN's)
	 * should read the same tick as the same nanosecond. */
	if (refined_mono && mono - refined_mono < 2000000000ull)
		return;
	/* Spin until a millisecond has passed since the reference: the ratio is then good to
	 * about 1e-5. Only the first calibration of a process can wait, and only on the sender
	 * thread or at exit. */
	while (mono - base_mono < 1000000) {
		mono = mono_ns();
		ticks = dbp_ticks();
	}
	uint64_t dt = ticks - base_ticks, dm = mono - base_mono;
	if (dt == 0)
		return;
	uint64_t fp = (uint64_t)(((unsigned __int128)dm << 32) / dt);
	__atomic_store_n(&dbp_clock_fp, fp, __ATOMIC_RELAXED);
	refined_mono = mono;
}

void dbp_clock_snapshot(struct dbp_clock_snap *s)
{
	s->tsc = dbp_clock_use_tsc;
	s->ns_per_tick_fp = __atomic_load_n(&dbp_clock_fp, __ATOMIC_RELAXED);
	/* Without the TSC, ticks are CLOCK_MONOTONIC ns: unix = base_unix + (ticks - base_mono). */
	s->base_ticks = s->tsc ? base_ticks : base_mono;
	s->base_unix = base_unix;
}
