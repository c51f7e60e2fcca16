/* clock: cheap timestamps on the hot path, converted to nanoseconds off it. */
#ifndef DBPROBE_CLOCK_H
#define DBPROBE_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int dbp_clock_use_tsc;

/* A timestamp in ticks: the TSC where it is invariant (10 ns here against 25 ns for
 * clock_gettime, and a statement is timed twice), CLOCK_MONOTONIC nanoseconds elsewhere. */
static inline uint64_t dbp_ticks(void)
{
#if defined(__x86_64__)
	if (__builtin_expect(dbp_clock_use_tsc, 1)) {
		uint32_t lo, hi;
		__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
		return ((uint64_t)hi << 32) | lo;
	}
#endif
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* ns per tick, 32.32 fixed point (1.0 without the TSC); refreshed by the sender. */
extern uint64_t dbp_clock_fp;

/* A duration in ticks as nanoseconds, on the hot path. */
static inline uint64_t dbp_ticks_ns(uint64_t ticks)
{
	uint64_t fp = __atomic_load_n(&dbp_clock_fp, __ATOMIC_RELAXED);
	return (uint64_t)(((unsigned __int128)ticks * fp) >> 32);
}

/* Takes the reference point; decides TSC or not. Called once at init (and again in a child). */
void dbp_clock_init(void);
/* Refreshes the ticks->ns ratio against CLOCK_MONOTONIC; called by the sender each cycle. */
void dbp_clock_calibrate(void);
uint64_t dbp_unix_ns(void);

/* The conversion parameters, read once per batch so the per-record conversion is two
 * multiplications. */
struct dbp_clock_snap {
	int tsc;
	uint64_t ns_per_tick_fp; /* 32.32 */
	uint64_t base_ticks, base_unix;
};

void dbp_clock_snapshot(struct dbp_clock_snap *s);

static inline uint64_t dbp_clock_ns(const struct dbp_clock_snap *s, uint64_t ticks)
{
	if (!s->tsc)
		return ticks;
	return (uint64_t)(((unsigned __int128)ticks * s->ns_per_tick_fp) >> 32);
}

static inline uint64_t dbp_clock_unix_ns(const struct dbp_clock_snap *s, uint64_t ticks)
{
	return s->base_unix + dbp_clock_ns(s, ticks - s->base_ticks);
}

#endif
