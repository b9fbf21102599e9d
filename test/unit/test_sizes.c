/*
 * Size sweep without knowing the size-class table:
 *  - every size 1..4096, then every 8th size up to 70000, then a geometric
 *    progression up to 64 MiB, and every power of two +-1 up to 64 MiB;
 *  - for every size n tried, also usable(n) - 1, usable(n), usable(n) + 1,
 *    i.e. the class boundary that n fell into, +-1.
 * For each: usable >= n, 16-byte alignment, every usable byte writable,
 * usable(usable(n)) == usable(n), usable monotonic non-decreasing in n, and
 * bounded internal waste.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "util.h"

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(sizes, .timeout = 120);

#define TOP (64 * MiB)

static size_t *sizes;
static size_t nsizes, capsizes;

static void add(size_t n) {
	if (n == 0 || n > TOP + 1)
		return;
	if (nsizes == capsizes) {
		capsizes = capsizes ? capsizes * 2 : 16384;
		sizes = realloc(sizes, capsizes * sizeof *sizes);
		cr_assert_not_null(sizes);
	}
	sizes[nsizes++] = n;
}

static int cmp_size(const void *a, const void *b) {
	size_t x = *(const size_t *)a, y = *(const size_t *)b;
	return x < y ? -1 : x > y;
}

static void base_sizes(void) {
	nsizes = 0;
	for (size_t n = 1; n <= 4096; n++)
		add(n);
	for (size_t n = 4096 + 8; n <= 70000; n += 8)
		add(n);
	for (double d = 70000; d <= (double)TOP; d *= 1.13)
		add((size_t)d);
	for (int l = 0; l <= 26; l++) {
		size_t p = (size_t)1 << l;
		add(p - 1);
		add(p);
		add(p + 1);
	}
}

static void sort_unique(void) {
	qsort(sizes, nsizes, sizeof *sizes, cmp_size);
	size_t j = 0;
	for (size_t i = 0; i < nsizes; i++)
		if (j == 0 || sizes[j - 1] != sizes[i])
			sizes[j++] = sizes[i];
	nsizes = j;
}

/* Allocate n, check and return the usable size. */
static size_t probe(size_t n) {
	unsigned char *p = xt_malloc(n);
	cr_assert_not_null(p, "malloc(%zu) returned NULL", n);
	cr_assert(is_aligned(p, MIN_ALIGN), "malloc(%zu) = %p not aligned to 16", n, (void *)p);
	size_t u = xt_malloc_usable_size(p);
	cr_assert_geq(u, n, "malloc(%zu): usable size %zu < requested", n, u);
	/* every usable byte is ours to write */
	memset(p, 0xA5, u);
	cr_assert_eq(p[0], 0xA5);
	cr_assert_eq(p[u - 1], 0xA5);
	cr_assert_eq(xt_malloc_usable_size(p), u, "usable size of %zu changed after writing it", n);
	xt_free(p);
	return u;
}

static size_t waste_bound(size_t n) {
	/* <= 25% internal waste (+16) for small sizes; page rounding allowed
     * above 16 KiB. */
	if (n <= 16 * KiB)
		return n + n / 4 + 16;
	return n + n / 4 + 4096;
}

Test(sizes, usable_size_sweep, .timeout = 120) {
	base_sizes();
	/* add each class boundary +-1 */
	size_t nbase = nsizes;
	for (size_t i = 0; i < nbase; i++) {
		size_t u = probe(sizes[i]);
		add(u - 1);
		add(u);
		add(u + 1);
	}
	sort_unique();
	cr_log_info("size sweep: %zu distinct sizes", nsizes);

	size_t prev_n = 0, prev_u = 0;
	for (size_t i = 0; i < nsizes; i++) {
		size_t n = sizes[i];
		size_t u = probe(n);
		cr_assert_leq(u, waste_bound(n), "malloc(%zu): usable size %zu wastes more than 25%%", n, u);
		cr_assert_geq(u, prev_u, "usable size not monotonic: usable(%zu) = %zu but usable(%zu) = %zu", prev_n,
		    prev_u, n, u);
		size_t uu = probe(u);
		cr_assert_eq(uu, u, "usable(%zu) = %zu but usable(%zu) = %zu (class boundary not stable)", n, u, u, uu);
		prev_n = n;
		prev_u = u;
	}
	free(sizes);
	sizes = NULL;
	nsizes = capsizes = 0;
}

Test(sizes, usable_size_is_deterministic) {
	/* The same request gives the same usable size whether or not other
     * blocks are live. */
	const size_t n[] = {1, 17, 100, 1000, 3000, 5000, 20000, 100000, 1 * MiB + 1, 5 * MiB + 3};
	size_t ref[sizeof n / sizeof n[0]];
	for (size_t k = 0; k < sizeof n / sizeof n[0]; k++)
		ref[k] = probe(n[k]);
	void *hold[200];
	for (int i = 0; i < 200; i++) {
		hold[i] = xt_malloc((size_t)(i * 97 % 6000 + 1));
		cr_assert_not_null(hold[i]);
	}
	for (size_t k = 0; k < sizeof n / sizeof n[0]; k++)
		cr_assert_eq(probe(n[k]), ref[k], "usable(%zu) differs with other blocks live", n[k]);
	for (int i = 0; i < 200; i++)
		xt_free(hold[i]);
}

Test(sizes, all_small_sizes_live_at_once) {
	/* One live block for every size 1..4096 (and every 64th up to 64 KiB),
     * each filled over its whole usable size with its own pattern: any two
     * blocks that overlap, or a usable size that overstates the block,
     * shows up as a corrupted pattern. */
	enum { N = 4096 + 960 };
	static unsigned char *p[N];
	static size_t u[N];
	for (int i = 0; i < N; i++) {
		size_t n = i < 4096 ? (size_t)i + 1 : 4096 + (size_t)(i - 4095) * 64;
		p[i] = xt_malloc(n);
		cr_assert_not_null(p[i]);
		u[i] = xt_malloc_usable_size(p[i]);
		cr_assert_geq(u[i], n);
		pat_fill(p[i], u[i], (unsigned)i);
	}
	for (int i = 0; i < N; i++) {
		size_t bad = pat_check(p[i], u[i], (unsigned)i);
		cr_assert_eq(bad, (size_t)-1, "block %d (%p, usable %zu) overwritten at byte %zu", i, (void *)p[i],
		    u[i], bad);
	}
	for (int i = 0; i < N; i += 2)
		xt_free(p[i]);
	/* reallocate into the holes and check again */
	for (int i = 0; i < N; i += 2) {
		size_t n = i < 4096 ? (size_t)i + 1 : 4096 + (size_t)(i - 4095) * 64;
		p[i] = xt_malloc(n);
		cr_assert_not_null(p[i]);
		u[i] = xt_malloc_usable_size(p[i]);
		pat_fill(p[i], u[i], (unsigned)i + 7);
	}
	for (int i = 0; i < N; i++) {
		size_t bad = pat_check(p[i], u[i], (unsigned)i + ((i & 1) ? 0 : 7));
		cr_assert_eq(bad, (size_t)-1, "block %d overwritten at byte %zu after reuse", i, bad);
		xt_free(p[i]);
	}
}
