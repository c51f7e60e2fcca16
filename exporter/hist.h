/* hist: latency histograms. A log-bucketed sketch for quantiles (relative error <= 1%) and
 * the fixed Prometheus buckets from 1 us to 10 s. */
#ifndef DBPROBE_HIST_H
#define DBPROBE_HIST_H

#include <stdint.h>

/* Bucket i holds values in (g^(i-1), g^i] ns with g = 1.02: any value in it is within 1% of the
 * bucket's representative 2 g^i / (g + 1). The counts live in a window of buckets that grows as
 * values land outside it, so a statement whose latencies span two decades costs ~1 KiB. */
struct dbp_sketch {
	int32_t lo; /* index of counts[0] */
	uint32_t n; /* buckets in the window */
	uint32_t *counts;
	uint64_t total;
	uint64_t zeros; /* values of 0 ns */
};

void dbp_sketch_add(struct dbp_sketch *s, uint64_t ns);
/* q in [0, 1]; 0 when empty. */
double dbp_sketch_quantile(const struct dbp_sketch *s, double q);
void dbp_sketch_free(struct dbp_sketch *s);

#define DBP_PROM_BUCKETS 22
extern const double dbp_prom_bounds[DBP_PROM_BUCKETS]; /* seconds: 1e-6 .. 10 */
/* Index of the first bound >= ns (DBP_PROM_BUCKETS: only +Inf). */
unsigned dbp_prom_bucket(uint64_t ns);

#endif
