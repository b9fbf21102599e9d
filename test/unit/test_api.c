/*
 * Unit tests of the basic entry points of the test build (xt_ prefix):
 * malloc, free, calloc, reallocarray, valloc, pvalloc, free_sized,
 * free_aligned_sized, malloc_usable_size.
 *
 * realloc: test_realloc.c; aligned allocation: test_align.c; the size sweep:
 * test_sizes.c; malloc_trim/mallopt/mallinfo/malloc_stats: test_info.c.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "util.h"

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(malloc, .timeout = 120);
TestSuite(calloc, .timeout = 120);
TestSuite(reallocarray, .timeout = 120);
TestSuite(valloc, .timeout = 120);
TestSuite(pvalloc, .timeout = 120);
TestSuite(free_sized, .timeout = 120);

static int cmp_ptr(const void *a, const void *b) {
	uintptr_t x = *(const uintptr_t *)a, y = *(const uintptr_t *)b;
	return x < y ? -1 : x > y;
}

/* ------------------------------------------------------------------ malloc */

Test(malloc, zero_returns_unique_freeable_pointers) {
	enum { N = 512 };
	void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = xt_malloc(0);
		cr_assert_not_null(p[i], "malloc(0) #%d returned NULL", i);
		cr_assert(is_aligned(p[i], MIN_ALIGN), "malloc(0) = %p not 16-aligned", p[i]);
	}
	void *s[N];
	memcpy(s, p, sizeof s);
	qsort(s, N, sizeof s[0], cmp_ptr);
	for (int i = 1; i < N; i++)
		cr_assert_neq(s[i - 1], s[i], "malloc(0) returned %p twice", s[i]);
	/* Also distinct from live malloc(1) blocks. */
	void *q = xt_malloc(1);
	cr_assert_not_null(q);
	for (int i = 0; i < N; i++)
		cr_assert_neq(p[i], q);
	xt_free(q);
	for (int i = 0; i < N; i++)
		xt_free(p[i]);
	/* And the heap still works after freeing them. */
	for (int i = 0; i < N; i++) {
		p[i] = xt_malloc(0);
		cr_assert_not_null(p[i]);
	}
	for (int i = 0; i < N; i++)
		xt_free(p[i]);
}

Test(malloc, one_byte) {
	for (int i = 0; i < 1000; i++) {
		unsigned char *p = xt_malloc(1);
		cr_assert_not_null(p);
		cr_assert(is_aligned(p, MIN_ALIGN), "malloc(1) = %p", (void *)p);
		cr_assert_geq(xt_malloc_usable_size(p), 1);
		p[0] = 0x5a;
		cr_assert_eq(p[0], 0x5a);
		xt_free(p);
	}
}

Test(malloc, every_result_aligned_to_16) {
	enum { N = 4000 };
	static void *p[N];
	uint64_t seed = 0x1234567;
	for (int i = 0; i < N; i++) {
		size_t n;
		if (i < 2048)
			n = (size_t)i + 1;
		else if (i < 3800)
			n = 1 + rnd_next(&seed) % (64 * KiB);
		else
			n = 1 + rnd_next(&seed) % (2 * MiB);
		p[i] = xt_malloc(n);
		cr_assert_not_null(p[i], "malloc(%zu)", n);
		cr_assert(is_aligned(p[i], MIN_ALIGN), "malloc(%zu) = %p not aligned to 16", n, p[i]);
	}
	for (int i = 0; i < N; i++)
		xt_free(p[i]);
}

Test(malloc, live_blocks_do_not_overlap) {
	enum { N = 3000 };
	static void *p[N];
	static size_t n[N];
	uint64_t seed = 42;
	for (int i = 0; i < N; i++) {
		uint64_t r = rnd_next(&seed);
		n[i] = (r % 10 < 8) ? 1 + r % 512 : (r % 10 < 9) ? 1 + r % (64 * KiB) : 1 + r % (1 * MiB);
		p[i] = xt_malloc(n[i]);
		cr_assert_not_null(p[i]);
		pat_fill(p[i], n[i], 1);
		/* free some, so that later allocations reuse their space */
		if (i % 7 == 3) {
			int j = (int)(r % (uint64_t)(i + 1));
			if (p[j]) {
				cr_assert_eq(pat_check(p[j], n[j], 1), (size_t)-1, "block %d corrupted", j);
				xt_free(p[j]);
				p[j] = NULL;
			}
		}
	}
	for (int i = 0; i < N; i++) {
		if (!p[i])
			continue;
		size_t bad = pat_check(p[i], n[i], 1);
		cr_assert_eq(bad, (size_t)-1, "block %d (%p, %zu bytes) corrupted at byte %zu", i, p[i], n[i], bad);
		xt_free(p[i]);
	}
}

Test(malloc, impossible_sizes_fail_with_enomem) {
	const size_t sizes[] = {
	    SIZE_MAX,
	    SIZE_MAX - 1,
	    SIZE_MAX - 4096,
	    SIZE_MAX - 4 * MiB,
	    (size_t)PTRDIFF_MAX + 1,
	    (size_t)PTRDIFF_MAX,
	    SIZE_MAX / 2 + 4096,
	};
	for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
		errno = 0;
		void *p = xt_malloc(sizes[i]);
		cr_assert_null(p, "malloc(%zu) returned %p", sizes[i], p);
		cr_assert_eq(errno, ENOMEM, "malloc(%zu): errno %d, want ENOMEM", sizes[i], errno);
	}
	/* still works afterwards */
	void *p = xt_malloc(100);
	cr_assert_not_null(p);
	xt_free(p);
}

Test(malloc, free_null_is_a_noop) {
	xt_free(NULL);
	xt_free_sized(NULL, 0);
	xt_free_sized(NULL, 100);
	xt_free_aligned_sized(NULL, 64, 0);
	void *p = xt_malloc(32);
	cr_assert_not_null(p);
	xt_free(p);
}

Test(malloc, usable_size_of_null_is_zero) { cr_assert_eq(xt_malloc_usable_size(NULL), 0); }

Test(malloc, freed_memory_is_reused) {
	/* Allocating and freeing the same size many times must not grow the
     * footprint: the counters in mallinfo2 stay flat. */
	const size_t sizes[] = {16, 100, 1000, 5000, 40000, 300 * KiB, 3 * MiB};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t before = xt_mallinfo2().uordblks;
		for (int i = 0; i < 20000; i++) {
			void *p = xt_malloc(sizes[k]);
			cr_assert_not_null(p);
			((char *)p)[sizes[k] - 1] = 1;
			xt_free(p);
		}
		size_t after = xt_mallinfo2().uordblks;
		cr_assert_leq(after, before + 4 * MiB, "malloc/free of %zu bytes x20000: uordblks %zu -> %zu", sizes[k],
		    before, after);
	}
}

/* ------------------------------------------------------------------ calloc */

static void calloc_reuse(const size_t *sizes, size_t nsizes, int rounds, int batch) {
	void **p = calloc((size_t)batch, sizeof *p);
	cr_assert_not_null(p);
	for (int r = 0; r < rounds; r++) {
		for (size_t k = 0; k < nsizes; k++) {
			size_t n = sizes[k];
			for (int i = 0; i < batch; i++) {
				p[i] = xt_malloc(n);
				cr_assert_not_null(p[i]);
				memset(p[i], 0xAA, xt_malloc_usable_size(p[i]));
			}
			for (int i = 0; i < batch; i++)
				xt_free(p[i]);
			for (int i = 0; i < batch; i++) {
				/* split the size into nmemb * size in different ways */
				size_t nmemb = (i & 1) ? n : 1, sz = (i & 1) ? 1 : n;
				p[i] = xt_calloc(nmemb, sz);
				cr_assert_not_null(p[i], "calloc(%zu, %zu)", nmemb, sz);
				size_t bad = first_not(p[i], 0, n);
				cr_assert_eq(bad, (size_t)-1,
				    "round %d: calloc(%zu, %zu) = %p: byte %zu is 0x%02x, not 0", r, nmemb, sz, p[i],
				    bad, ((unsigned char *)p[i])[bad == (size_t)-1 ? 0 : bad]);
			}
			for (int i = 0; i < batch; i++) {
				memset(p[i], 0xAA, n);
				xt_free(p[i]);
			}
		}
	}
	free(p);
}

Test(calloc, zeroes_reused_small_memory) {
	const size_t sizes[] = {1, 8, 15, 16, 17, 24, 32, 48, 64, 100, 128, 200, 256, 500, 512, 1000, 1024, 2000, 2048,
	    3000, 4096, 5000, 8192, 10000};
	calloc_reuse(sizes, sizeof sizes / sizeof sizes[0], 20, 64);
}

Test(calloc, zeroes_reused_large_memory, .timeout = 60) {
	const size_t sizes[] = {16 * KiB + 1, 40000, 64 * KiB, 100000, 256 * KiB, 1 * MiB, 1 * MiB + 1, 3 * MiB,
	    8 * MiB, 20 * MiB + 7};
	calloc_reuse(sizes, sizeof sizes / sizeof sizes[0], 4, 4);
}

Test(calloc, zero_sizes_give_freeable_pointers) {
	void *a = xt_calloc(0, 0), *b = xt_calloc(0, 16), *c = xt_calloc(16, 0);
	cr_assert_not_null(a);
	cr_assert_not_null(b);
	cr_assert_not_null(c);
	cr_assert(a != b && b != c && a != c);
	xt_free(a);
	xt_free(b);
	xt_free(c);
}

Test(calloc, overflow_fails_with_enomem) {
	const size_t pairs[][2] = {
	    {SIZE_MAX, 2},
	    {2, SIZE_MAX},
	    {SIZE_MAX / 2 + 1, 2},
	    {(size_t)1 << 33, (size_t)1 << 31},
	    {(size_t)1 << 32, (size_t)1 << 32},
	    {SIZE_MAX, SIZE_MAX},
	    {65537, SIZE_MAX / 65536},
	};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		errno = 0;
		void *p = xt_calloc(pairs[i][0], pairs[i][1]);
		cr_assert_null(p, "calloc(%zu, %zu) = %p", pairs[i][0], pairs[i][1], p);
		cr_assert_eq(errno, ENOMEM, "calloc(%zu, %zu): errno %d", pairs[i][0], pairs[i][1], errno);
	}
	/* Products that do not overflow but are impossible. */
	errno = 0;
	cr_assert_null(xt_calloc(1, SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(xt_calloc(SIZE_MAX / 2, 1));
	cr_assert_eq(errno, ENOMEM);
}

Test(calloc, usable_size_covers_product) {
	const size_t pairs[][2] = {{1, 1}, {3, 5}, {7, 13}, {100, 100}, {4096, 3}, {1000, 1000}, {3, 1 * MiB}};
	for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
		size_t n = pairs[i][0] * pairs[i][1];
		unsigned char *p = xt_calloc(pairs[i][0], pairs[i][1]);
		cr_assert_not_null(p);
		cr_assert(is_aligned(p, MIN_ALIGN));
		cr_assert_geq(xt_malloc_usable_size(p), n);
		cr_assert_eq(first_not(p, 0, n), (size_t)-1, "calloc(%zu, %zu) not zeroed", pairs[i][0], pairs[i][1]);
		memset(p, 0x11, xt_malloc_usable_size(p));
		xt_free(p);
	}
}

/* ------------------------------------------------------------ reallocarray */

Test(reallocarray, behaves_like_realloc) {
	int *a = xt_reallocarray(NULL, 10, sizeof(int));
	cr_assert_not_null(a);
	cr_assert_geq(xt_malloc_usable_size(a), 10 * sizeof(int));
	for (int i = 0; i < 10; i++)
		a[i] = i * 3 + 1;
	a = xt_reallocarray(a, 100000, sizeof(int));
	cr_assert_not_null(a);
	for (int i = 0; i < 10; i++)
		cr_assert_eq(a[i], i * 3 + 1, "element %d lost on grow", i);
	for (int i = 10; i < 100000; i++)
		a[i] = i * 3 + 1;
	a = xt_reallocarray(a, 5, sizeof(int));
	cr_assert_not_null(a);
	for (int i = 0; i < 5; i++)
		cr_assert_eq(a[i], i * 3 + 1, "element %d lost on shrink", i);
	xt_free(a);
}

Test(reallocarray, overflow_fails_with_enomem_and_keeps_block) {
	errno = 0;
	cr_assert_null(xt_reallocarray(NULL, SIZE_MAX / 2 + 1, 2));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(xt_reallocarray(NULL, (size_t)1 << 33, (size_t)1 << 31));
	cr_assert_eq(errno, ENOMEM);

	const size_t sizes[] = {24, 3000, 200 * KiB, 3 * MiB};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		void *p = xt_malloc(sizes[k]);
		cr_assert_not_null(p);
		pat_fill(p, sizes[k], 9);
		size_t u = xt_malloc_usable_size(p);
		errno = 0;
		void *q = xt_reallocarray(p, 3, SIZE_MAX / 2);
		cr_assert_null(q);
		cr_assert_eq(errno, ENOMEM);
		cr_assert_eq(pat_check(p, sizes[k], 9), (size_t)-1, "block of %zu changed by failed reallocarray",
		    sizes[k]);
		cr_assert_eq(xt_malloc_usable_size(p), u);
		xt_free(p);
	}
}

/* ---------------------------------------------------------- valloc/pvalloc */

Test(valloc, page_aligned) {
	size_t pg = page_size();
	const size_t sizes[] = {0, 1, 15, 16, 100, 4095, 4096, 4097, 10000, 65536, 1 * MiB + 5};
	void *keep[sizeof sizes / sizeof sizes[0]][3];
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		for (int j = 0; j < 3; j++) {
			void *p = xt_valloc(sizes[k]);
			cr_assert_not_null(p, "valloc(%zu)", sizes[k]);
			cr_assert(is_aligned(p, pg), "valloc(%zu) = %p not page aligned", sizes[k], p);
			cr_assert_geq(xt_malloc_usable_size(p), sizes[k]);
			memset(p, 0x77, xt_malloc_usable_size(p));
			keep[k][j] = p;
		}
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++)
		for (int j = 0; j < 3; j++)
			xt_free(keep[k][j]);
	errno = 0;
	cr_assert_null(xt_valloc(SIZE_MAX - 100));
	cr_assert_eq(errno, ENOMEM);
}

Test(pvalloc, page_aligned_and_rounded_up) {
	size_t pg = page_size();
	const size_t sizes[] = {1, 15, 100, 4095, 4096, 4097, 10000, 65535, 1 * MiB + 5};
	for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
		size_t want = (sizes[k] + pg - 1) / pg * pg;
		void *p = xt_pvalloc(sizes[k]);
		cr_assert_not_null(p, "pvalloc(%zu)", sizes[k]);
		cr_assert(is_aligned(p, pg), "pvalloc(%zu) = %p", sizes[k], p);
		size_t u = xt_malloc_usable_size(p);
		cr_assert_geq(u, want, "pvalloc(%zu): usable %zu < %zu", sizes[k], u, want);
		memset(p, 0x66, u);
		xt_free(p);
	}
	/* pvalloc(0) allocates one page (glibc) */
	void *p = xt_pvalloc(0);
	cr_assert_not_null(p);
	cr_assert(is_aligned(p, pg));
	cr_assert_geq(xt_malloc_usable_size(p), pg, "pvalloc(0) usable %zu", xt_malloc_usable_size(p));
	xt_free(p);
	/* rounding up overflows */
	errno = 0;
	cr_assert_null(xt_pvalloc(SIZE_MAX - pg + 2));
	cr_assert_eq(errno, ENOMEM);
}

/* ------------------------------------------------- free_sized & co (C23) */

Test(free_sized, releases_memory) {
	enum { N = 32 };
	void *p[N];
	const size_t big = 4 * MiB;
	/* small sizes: many rounds must not grow the footprint */
	size_t before = xt_mallinfo2().uordblks;
	for (int r = 0; r < 2000; r++) {
		for (int i = 0; i < N; i++) {
			size_t n = (size_t)(i * 37 + 1);
			p[i] = xt_malloc(n);
			cr_assert_not_null(p[i]);
			memset(p[i], i, n);
		}
		for (int i = 0; i < N; i++)
			xt_free_sized(p[i], (size_t)(i * 37 + 1));
	}
	cr_assert_leq(xt_mallinfo2().uordblks, before + 2 * MiB);

	/* large: counters go up by >= 128 MiB and back down */
	before = xt_mallinfo2().uordblks;
	for (int i = 0; i < N; i++) {
		p[i] = xt_malloc(big + (size_t)i);
		cr_assert_not_null(p[i]);
		memset(p[i], 1, 4096);
	}
	size_t mid = xt_mallinfo2().uordblks;
	cr_assert_geq(mid, before + N * big, "uordblks %zu -> %zu after %d x 4 MiB", before, mid, N);
	for (int i = 0; i < N; i++)
		xt_free_sized(p[i], big + (size_t)i);
	size_t after = xt_mallinfo2().uordblks;
	cr_assert_leq(after + (N - 2) * big, mid, "free_sized of %d x 4 MiB: uordblks %zu -> %zu", N, mid, after);

	/* calloc'd and realloc'd blocks too, with their requested size */
	void *c = xt_calloc(10, 10);
	cr_assert_not_null(c);
	xt_free_sized(c, 100);
	void *r = xt_realloc(NULL, 1000);
	cr_assert_not_null(r);
	r = xt_realloc(r, 5000);
	cr_assert_not_null(r);
	xt_free_sized(r, 5000);
}

Test(free_sized, aligned_sized_releases_memory) {
	enum { N = 32 };
	void *p[N];
	const size_t aligns[] = {16, 64, 4096, 65536, 1 * MiB};
	for (size_t k = 0; k < sizeof aligns / sizeof aligns[0]; k++) {
		size_t a = aligns[k];
		for (int r = 0; r < 50; r++) {
			for (int i = 0; i < N; i++) {
				size_t n = a * (size_t)(1 + i % 3);
				p[i] = xt_aligned_alloc(a, n);
				cr_assert_not_null(p[i], "aligned_alloc(%zu, %zu)", a, n);
				cr_assert(is_aligned(p[i], a));
				memset(p[i], 0x3c, n);
			}
			for (int i = 0; i < N; i++)
				xt_free_aligned_sized(p[i], a, a * (size_t)(1 + i % 3));
		}
	}
	size_t before = xt_mallinfo2().uordblks;
	for (int i = 0; i < N; i++) {
		p[i] = xt_aligned_alloc(1 * MiB, 4 * MiB);
		cr_assert_not_null(p[i]);
	}
	size_t mid = xt_mallinfo2().uordblks;
	cr_assert_geq(mid, before + N * 4 * MiB);
	for (int i = 0; i < N; i++)
		xt_free_aligned_sized(p[i], 1 * MiB, 4 * MiB);
	size_t after = xt_mallinfo2().uordblks;
	cr_assert_leq(after + (N - 2) * 4 * MiB, mid, "free_aligned_sized: uordblks %zu -> %zu", mid, after);
}
