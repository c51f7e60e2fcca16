/* test_idmap: 64-bit id -> pointer map: put, get, replace, id 0, growth, each. */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdlib.h>

#include "idmap.h"

/* Distinct, non-null pointers standing for values; never dereferenced. */
static char pool[4];
#define VAL(k) ((void *)(pool + (k)))

Test(idmap, empty_map)
{
	struct dbp_idmap m = { 0 };

	cr_assert_null(dbp_idmap_get(&m, 1));
	cr_assert_null(dbp_idmap_get(&m, 0));
	cr_assert_null(dbp_idmap_get(&m, UINT64_MAX));
	dbp_idmap_free(&m);
	cr_assert_null(m.keys);
	cr_assert_eq(m.cap, 0);
}

Test(idmap, put_get_replace)
{
	struct dbp_idmap m = { 0 };

	cr_assert_eq(dbp_idmap_put(&m, 42, VAL(0)), 0);
	cr_assert_eq(dbp_idmap_put(&m, UINT64_MAX, VAL(1)), 0);
	cr_assert_eq(dbp_idmap_put(&m, 0x8000000000000000ull, VAL(2)), 0);
	cr_assert_eq(m.n, 3);
	cr_assert_eq(dbp_idmap_get(&m, 42), VAL(0));
	cr_assert_eq(dbp_idmap_get(&m, UINT64_MAX), VAL(1));
	cr_assert_eq(dbp_idmap_get(&m, 0x8000000000000000ull), VAL(2));
	cr_assert_null(dbp_idmap_get(&m, 43));
	cr_assert_null(dbp_idmap_get(&m, 0));

	/* Replacing keeps the count and changes only that entry. */
	cr_assert_eq(dbp_idmap_put(&m, 42, VAL(3)), 0);
	cr_assert_eq(m.n, 3);
	cr_assert_eq(dbp_idmap_get(&m, 42), VAL(3));
	cr_assert_eq(dbp_idmap_get(&m, UINT64_MAX), VAL(1));
	cr_assert_eq(dbp_idmap_put(&m, 42, NULL), 0);
	cr_assert_eq(m.n, 3);
	cr_assert_null(dbp_idmap_get(&m, 42));
	dbp_idmap_free(&m);
	cr_assert_eq(m.n, 0);
	cr_assert_null(dbp_idmap_get(&m, UINT64_MAX));
}

Test(idmap, id_zero)
{
	struct dbp_idmap m = { 0 };

	cr_assert_eq(dbp_idmap_put(&m, 0, VAL(1)), 0);
	cr_assert_eq(dbp_idmap_get(&m, 0), VAL(1));
	cr_assert_null(dbp_idmap_get(&m, 1), "id 0 must not leak into other ids");
	cr_assert_eq(dbp_idmap_put(&m, 0, VAL(2)), 0);
	cr_assert_eq(dbp_idmap_get(&m, 0), VAL(2));
	cr_assert_eq(dbp_idmap_put(&m, 7, VAL(3)), 0);
	cr_assert_eq(dbp_idmap_get(&m, 0), VAL(2));
	cr_assert_eq(dbp_idmap_get(&m, 7), VAL(3));
	dbp_idmap_free(&m);
	cr_assert_null(dbp_idmap_get(&m, 0), "free forgets id 0");
}

/* The value stored for id: its own bits, so every entry is checkable. */
static void *val_of(uint64_t id)
{
	return (void *)(uintptr_t)(id * 2 + 1);
}

#define BIG 100000

/* Ids of three shapes: sequential, spread by a multiply, and ones that share low bits. */
static uint64_t id_at(size_t i)
{
	switch (i % 3) {
	case 0:
		return i + 1;
	case 1:
		return (i + 1) * 0x9e3779b97f4a7c15ull | 1;
	default:
		return (uint64_t)(i + 1) << 32;
	}
}

struct tally {
	size_t calls;
	size_t zero_calls;
	uint64_t key_sum, key_xor;
	int bad_value;
};

static void count(uint64_t id, void *v, void *arg)
{
	struct tally *t = arg;
	t->calls++;
	if (!id)
		t->zero_calls++;
	t->key_sum += id;
	t->key_xor ^= id * 0xff51afd7ed558ccdull;
	if (id && v != val_of(id))
		t->bad_value = 1;
}

Test(idmap, growth_to_100k)
{
	struct dbp_idmap m = { 0 };
	uint64_t sum = 0, x = 0;

	for (size_t i = 0; i < BIG; i++) {
		uint64_t id = id_at(i);
		cr_assert_neq(id, 0);
		cr_assert_eq(dbp_idmap_put(&m, id, val_of(id)), 0);
		sum += id;
		x ^= id * 0xff51afd7ed558ccdull;
		/* Earlier entries survive each growth. */
		if ((i & (i + 1)) == 0)
			for (size_t j = 0; j <= i; j++)
				cr_assert_eq(dbp_idmap_get(&m, id_at(j)), val_of(id_at(j)),
					     "lost %zu after %zu puts", j, i + 1);
	}
	cr_assert_eq(m.n, BIG);
	cr_assert_geq(m.cap, 2 * BIG, "load factor stays at most 1/2");
	cr_assert_eq(m.cap & (m.cap - 1), 0, "capacity is a power of two");
	for (size_t i = 0; i < BIG; i++)
		cr_assert_eq(dbp_idmap_get(&m, id_at(i)), val_of(id_at(i)), "entry %zu", i);
	/* Ids never put are absent. */
	for (size_t i = BIG; i < BIG + 3000; i++)
		cr_assert_null(dbp_idmap_get(&m, id_at(i)), "phantom %zu", i);

	/* Replacing every other entry keeps n and the others. */
	for (size_t i = 0; i < BIG; i += 2)
		cr_assert_eq(dbp_idmap_put(&m, id_at(i), VAL(0)), 0);
	cr_assert_eq(m.n, BIG);
	for (size_t i = 0; i < BIG; i++)
		cr_assert_eq(dbp_idmap_get(&m, id_at(i)), i % 2 ? val_of(id_at(i)) : VAL(0));
	for (size_t i = 0; i < BIG; i += 2)
		cr_assert_eq(dbp_idmap_put(&m, id_at(i), val_of(id_at(i))), 0);

	/* each visits every entry once, id 0 included. */
	struct tally t = { 0 };
	dbp_idmap_each(&m, count, &t);
	cr_assert_eq(t.calls, BIG);
	cr_assert_eq(t.zero_calls, 0);
	cr_assert_eq(t.key_sum, sum);
	cr_assert_eq(t.key_xor, x);
	cr_assert_not(t.bad_value);

	cr_assert_eq(dbp_idmap_put(&m, 0, VAL(2)), 0);
	cr_assert_eq(m.n, BIG, "id 0 is kept apart from the table");
	t = (struct tally){ 0 };
	dbp_idmap_each(&m, count, &t);
	cr_assert_eq(t.calls, BIG + 1);
	cr_assert_eq(t.zero_calls, 1);
	cr_assert_eq(t.key_sum, sum);
	cr_assert_eq(t.key_xor, x);
	dbp_idmap_free(&m);
}

Test(idmap, each_on_empty_and_zero_only)
{
	struct dbp_idmap m = { 0 };
	struct tally t = { 0 };

	dbp_idmap_each(&m, count, &t);
	cr_assert_eq(t.calls, 0);
	dbp_idmap_put(&m, 0, VAL(1));
	dbp_idmap_each(&m, count, &t);
	cr_assert_eq(t.calls, 1);
	cr_assert_eq(t.zero_calls, 1);
	dbp_idmap_free(&m);
}
