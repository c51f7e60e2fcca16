/* clock: cheap timestamps on the hot path, converted to nanoseconds off it. */
#ifndef DBPROBE_CLOCK_H
#define DBPROBE_CLOCK_H

#include <stdint.h>
#include <time.h>

extern int dbp_clock_use_tsc __attribute__((visibility("hidden")));

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

/* Takes the reference point; decides TSC or not. Called once at init (and again in a child). */
void dbp_clock_init(void) __attribute__((visibility("hidden")));
/* Refreshes the ticks->ns ratio against CLOCK_MONOTONIC; called by the sender each cycle. */
void dbp_clock_calibrate(void) __attribute__((visibility("hidden")));
/* Duration in ticks -> ns; ticks -> Unix time in ns. */
uint64_t dbp_ticks_to_ns(uint64_t ticks) __attribute__((visibility("hidden")));
uint64_t dbp_ticks_to_unix_ns(uint64_t ticks) __attribute__((visibility("hidden")));
uint64_t dbp_unix_ns(void) __attribute__((visibility("hidden")));

#endif
