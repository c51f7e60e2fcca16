/* test_hist: sketch quantiles against exact ones, and the Prometheus bucket bounds. */
#include <criterion/criterion.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "hist.h"

static uint64_t rng_state;

static uint64_t rnd(void)
{
	/* xorshift64* */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

/* Uniform in [0, 1). */
static double rnd01(void)
{
	return (double)(rnd() >> 11) / 9007199254740992.0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
	return (x > y) - (x < y);
}

static const double QS[] = { 0,   0.001, 0.01, 0.1,   0.25,  0.5,    0.75,
			     0.9, 0.95,  0.99, 0.995, 0.999, 0.9999, 1 };

/* The sketch's nearest-rank definition (hist.c): 0-based rank round(q * (n - 1)). */
static uint64_t exact_quantile(const uint64_t *sorted, size_t n, double q)
{
	return sorted[(size_t)(q * (double)(n - 1) + 0.5)];
}

/* Adds v[0..n) in the given order, then checks every quantile of QS within 1%. */
static void check_sketch(uint64_t *v, size_t n, const char *what)
{
	struct dbp_sketch s = { 0 };

	for (size_t i = 0; i < n; i++)
		dbp_sketch_add(&s, v[i]);
	cr_assert_eq(s.total, n, "%s", what);
	qsort(v, n, sizeof *v, cmp_u64);
	for (size_t i = 0; i < sizeof QS / sizeof QS[0]; i++) {
		double want = (double)exact_quantile(v, n, QS[i]);
		double got = dbp_sketch_quantile(&s, QS[i]);
		if (want == 0)
			cr_assert_eq(got, 0.0, "%s q=%g: got %g, want 0", what, QS[i], got);
		else
			cr_assert_leq(fabs(got - want) / want, 0.01,
				      "%s q=%g: got %.17g, want %.17g", what, QS[i], got, want);
	}
	dbp_sketch_free(&s);
	cr_assert_null(s.counts);
	cr_assert_eq(s.total, 0);
	cr_assert_eq(s.n, 0);
}

#define N 20000

Test(hist, uniform_1us_to_10ms)
{
	uint64_t *v = malloc(N * sizeof *v);
	cr_assert_not_null(v);
	rng_state = 1;
	for (size_t i = 0; i < N; i++)
		v[i] = 1000 + rnd() % (10000000 - 1000 + 1);
	check_sketch(v, N, "uniform");
	free(v);
}

Test(hist, log_uniform_100ns_to_10s)
{
	uint64_t *v = malloc(N * sizeof *v);
	cr_assert_not_null(v);
	rng_state = 2;
	for (size_t i = 0; i < N; i++)
		v[i] = (uint64_t)llround(exp(log(100.0) + rnd01() * (log(1e10) - log(100.0))));
	check_sketch(v, N, "log-uniform");
	free(v);
}

Test(hist, constant)
{
	const uint64_t values[] = { 1, 2, 3, 999, 1000, 12345, 1000000007ull, 86400000000000ull };
	uint64_t *v = malloc(1000 * sizeof *v);
	cr_assert_not_null(v);
	for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
		for (size_t i = 0; i < 1000; i++)
			v[i] = values[k];
		check_sketch(v, 1000, "constant");
	}
	free(v);
}

Test(hist, bimodal_two_points)
{
	/* 700 fast calls then 300 slow ones: rank 699 is the last fast one. */
	uint64_t v[1000];
	struct dbp_sketch s = { 0 };

	for (size_t i = 0; i < 1000; i++)
		v[i] = i < 700 ? 1000 : 500000000;
	for (size_t i = 0; i < 1000; i++)
		dbp_sketch_add(&s, v[(i * 7) % 1000]); /* interleaved order */
	check_sketch(v, 1000, "bimodal");
	/* rank(q) = round(q * 999): 0.7 -> 699 (fast), 0.7006 -> 700 (slow). */
	double fast = dbp_sketch_quantile(&s, 0.7), slow = dbp_sketch_quantile(&s, 0.7006);
	cr_assert_leq(fabs(fast - 1000) / 1000, 0.01, "got %g", fast);
	cr_assert_leq(fabs(slow - 5e8) / 5e8, 0.01, "got %g", slow);
	dbp_sketch_free(&s);
}

Test(hist, single_value)
{
	const uint64_t values[] = { 1, 7, 1000, 123456789, UINT64_MAX };
	for (size_t k = 0; k < sizeof values / sizeof values[0]; k++) {
		struct dbp_sketch s = { 0 };
		dbp_sketch_add(&s, values[k]);
		cr_assert_eq(s.total, 1);
		for (size_t i = 0; i < sizeof QS / sizeof QS[0]; i++) {
			double got = dbp_sketch_quantile(&s, QS[i]), want = (double)values[k];
			cr_assert_leq(fabs(got - want) / want, 0.01, "v=%llu q=%g got %.17g",
				      (unsigned long long)values[k], QS[i], got);
		}
		dbp_sketch_free(&s);
	}
}

Test(hist, zeros)
{
	struct dbp_sketch s = { 0 };
	for (int i = 0; i < 100; i++)
		dbp_sketch_add(&s, 0);
	cr_assert_eq(s.total, 100);
	cr_assert_eq(s.zeros, 100);
	cr_assert_null(s.counts, "zeros need no buckets");
	for (size_t i = 0; i < sizeof QS / sizeof QS[0]; i++)
		cr_assert_eq(dbp_sketch_quantile(&s, QS[i]), 0.0, "q=%g", QS[i]);
	dbp_sketch_free(&s);
}

Test(hist, zeros_mixed_with_values)
{
	/* 250 zeros then 750 values from 1 ns to 1 ms, shuffled: quantiles below 0.25 are 0. */
	uint64_t v[1000];
	rng_state = 3;
	for (size_t i = 0; i < 1000; i++)
		v[i] = i < 250 ? 0 : 1 + rnd() % 1000000;
	for (size_t i = 999; i > 0; i--) {
		size_t j = rnd() % (i + 1);
		uint64_t t = v[i];
		v[i] = v[j];
		v[j] = t;
	}
	check_sketch(v, 1000, "zeros+values");
	struct dbp_sketch s = { 0 };
	for (size_t i = 0; i < 1000; i++)
		dbp_sketch_add(&s, v[i]);
	/* v is sorted now. rank round(0.2497 * 999) = 249 is the last zero; 250 is not. */
	cr_assert_eq(v[249], 0);
	cr_assert_gt(v[250], 0);
	cr_assert_eq(dbp_sketch_quantile(&s, 0.2497), 0.0);
	cr_assert_gt(dbp_sketch_quantile(&s, 0.2505), 0.0);
	cr_assert_eq(s.zeros, 250);
	dbp_sketch_free(&s);
}

Test(hist, wide_range_grows_both_ways)
{
	/* Descending, then ascending past the first value: the window grows on both sides. */
	uint64_t v[200];
	size_t n = 0;
	for (uint64_t x = 1000000; x >= 1; x /= 3)
		v[n++] = x;
	for (uint64_t x = 2000000; n < 200 && x < UINT64_MAX / 5; x *= 5)
		v[n++] = x;
	v[n++] = UINT64_MAX;
	check_sketch(v, n, "wide");
}

Test(hist, empty_and_clamped_q)
{
	struct dbp_sketch s = { 0 };
	cr_assert_eq(dbp_sketch_quantile(&s, 0.5), 0.0);
	cr_assert_eq(dbp_sketch_quantile(&s, 0), 0.0);
	cr_assert_eq(dbp_sketch_quantile(&s, 1), 0.0);
	dbp_sketch_add(&s, 1000);
	dbp_sketch_add(&s, 1000000);
	/* q < 0 acts as 0 and q > 1 as 1. */
	cr_assert_eq(dbp_sketch_quantile(&s, -3), dbp_sketch_quantile(&s, 0));
	cr_assert_eq(dbp_sketch_quantile(&s, 7), dbp_sketch_quantile(&s, 1));
	cr_assert_leq(fabs(dbp_sketch_quantile(&s, -3) - 1e3) / 1e3, 0.01);
	cr_assert_leq(fabs(dbp_sketch_quantile(&s, 7) - 1e6) / 1e6, 0.01);
	dbp_sketch_free(&s);
}

/* ---- Prometheus buckets ---- */

static const uint64_t BOUNDS_NS[DBP_PROM_BUCKETS] = {
	1000ull,       2500ull,       5000ull,       10000ull,       25000ull,     50000ull,
	100000ull,     250000ull,     500000ull,     1000000ull,     2500000ull,   5000000ull,
	10000000ull,   25000000ull,   50000000ull,   100000000ull,   250000000ull, 500000000ull,
	1000000000ull, 2500000000ull, 5000000000ull, 10000000000ull,
};

Test(hist, prom_bounds_table)
{
	cr_assert_eq(DBP_PROM_BUCKETS, 22);
	for (unsigned i = 0; i < DBP_PROM_BUCKETS; i++)
		cr_assert_eq(llround(dbp_prom_bounds[i] * 1e9), (long long)BOUNDS_NS[i], "bound %u",
			     i);
	cr_assert_eq(dbp_prom_bounds[0], 1e-6);
	cr_assert_eq(dbp_prom_bounds[DBP_PROM_BUCKETS - 1], 10.0);
}

Test(hist, prom_bucket_le_semantics)
{
	cr_assert_eq(dbp_prom_bucket(0), 0);
	cr_assert_eq(dbp_prom_bucket(1), 0);
	for (unsigned i = 0; i < DBP_PROM_BUCKETS; i++) {
		cr_assert_eq(dbp_prom_bucket(BOUNDS_NS[i]), i, "exactly on bound %u", i);
		cr_assert_eq(dbp_prom_bucket(BOUNDS_NS[i] - 1), i, "just under bound %u", i);
		cr_assert_eq(dbp_prom_bucket(BOUNDS_NS[i] + 1), i + 1, "just over bound %u", i);
		if (i > 0) {
			uint64_t mid = (BOUNDS_NS[i - 1] + BOUNDS_NS[i]) / 2;
			cr_assert_eq(dbp_prom_bucket(mid), i, "between bounds %u and %u", i - 1, i);
		}
	}
	cr_assert_eq(dbp_prom_bucket(10000000000ull), DBP_PROM_BUCKETS - 1);
	cr_assert_eq(dbp_prom_bucket(10000000001ull), DBP_PROM_BUCKETS);
	cr_assert_eq(dbp_prom_bucket(UINT64_MAX), DBP_PROM_BUCKETS);
}
