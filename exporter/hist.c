/* hist: latency histograms. */
#include "hist.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define GAMMA 1.02
#define INV_LOG_GAMMA 50.4983497918439 /* 1 / ln(GAMMA) */

static int32_t index_of(uint64_t ns)
{
	return (int32_t)ceil(log((double)ns) * INV_LOG_GAMMA);
}

/* A value that cannot be stored (out of memory) is not counted at all, so that quantiles
 * stay those of the values held. */
void dbp_sketch_add(struct dbp_sketch *s, uint64_t ns)
{
	if (ns == 0) {
		s->zeros++;
		s->total++;
		return;
	}
	int32_t i = index_of(ns);
	if (!s->counts) {
		s->n = 64;
		s->lo = i - 32;
		s->counts = calloc(s->n, sizeof *s->counts);
		if (!s->counts) {
			s->n = 0;
			return;
		}
	} else if (i < s->lo || i >= s->lo + (int32_t)s->n) {
		/* Grow to cover i with some slack on that side. */
		int32_t nlo = i < s->lo ? i - 16 : s->lo;
		int32_t nhi = i >= s->lo + (int32_t)s->n ? i + 17 : s->lo + (int32_t)s->n;
		uint32_t nn = (uint32_t)(nhi - nlo);
		uint32_t *c = calloc(nn, sizeof *c);
		if (!c)
			return;
		memcpy(c + (s->lo - nlo), s->counts, s->n * sizeof *c);
		free(s->counts);
		s->counts = c;
		s->lo = nlo;
		s->n = nn;
	}
	s->counts[i - s->lo]++;
	s->total++;
}

double dbp_sketch_quantile(const struct dbp_sketch *s, double q)
{
	if (!s->total)
		return 0;
	if (q < 0)
		q = 0;
	if (q > 1)
		q = 1;
	/* The rank of the q-quantile, 0-based, as the nearest-rank method defines it. */
	uint64_t rank = (uint64_t)(q * (double)(s->total - 1) + 0.5);
	if (rank < s->zeros)
		return 0;
	uint64_t seen = s->zeros;
	for (uint32_t j = 0; j < s->n; j++) {
		seen += s->counts[j];
		if (seen > rank)
			return 2.0 * pow(GAMMA, s->lo + (int32_t)j) / (GAMMA + 1.0);
	}
	return s->n ? 2.0 * pow(GAMMA, s->lo + (int32_t)s->n - 1) / (GAMMA + 1.0) : 0;
}

void dbp_sketch_free(struct dbp_sketch *s)
{
	free(s->counts);
	memset(s, 0, sizeof *s);
}

const double dbp_prom_bounds[DBP_PROM_BUCKETS] = {
	1e-6, 2.5e-6, 5e-6,   1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4, 5e-4, 1e-3, 2.5e-3,
	5e-3, 1e-2,   2.5e-2, 5e-2, 0.1,    0.25, 0.5,  1,      2.5,  5,    10,
};

static const uint64_t bounds_ns[DBP_PROM_BUCKETS] = {
	1000,       2500,        5000,        10000,        25000,     50000,
	100000,     250000,      500000,      1000000,      2500000,   5000000,
	10000000,   25000000,    50000000,    100000000,    250000000, 500000000,
	1000000000, 2500000000u, 5000000000u, 10000000000u,
};

unsigned dbp_prom_bucket(uint64_t ns)
{
	unsigned lo = 0, hi = DBP_PROM_BUCKETS;
	while (lo < hi) {
		unsigned mid = (lo + hi) / 2;
		if (bounds_ns[mid] >= ns)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}
