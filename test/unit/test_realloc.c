/*
 * realloc: grow, shrink, in place and moving, realloc(NULL, n),
 * realloc(p, 0), failing reallocs.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "util.h"

#define XA_TEST_MIN(a, b) ((a) < (b) ? (a) : (b))

int xallocctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(realloc, .timeout = 120);

static const size_t sizes[] = {
    1,
    7,
    8,
    15,
    16,
    17,
    31,
    33,
    100,
    255,
    257,
    1000,
    1024,
    2047,
    4095,
    4096,
    4097,
    8000,
    16 * 1024,
    16 * 1024 + 1,
    20000,
    65535,
    70000,
    131073,
    300000,
    1024 * 1024 - 1,
    1024 * 1024 + 3,
    2 * 1024 * 1024 + 1,
    5 * 1024 * 1024 + 17,
};
#define NSIZES (sizeof sizes / sizeof sizes[0])

Test(realloc, null_pointer_is_malloc) {
	for (size_t k = 0; k < NSIZES; k++) {
		void *p = xt_realloc(NULL, sizes[k]);
		cr_assert_not_null(p, "realloc(NULL, %zu)", sizes[k]);
		cr_assert(is_aligned(p, MIN_ALIGN));
		size_t u = xt_malloc_usable_size(p);
		cr_assert_geq(u, sizes[k]);
		memset(p, 0x21, u);
		xt_free(p);
	}
	void *a = xt_realloc(NULL, 0), *b = xt_realloc(NULL, 0);
	cr_assert_not_null(a, "realloc(NULL, 0) must behave as malloc(0)");
	cr_assert_not_null(b);
	cr_assert_neq(a, b);
	xt_free(a);
	xt_free(b);
}

Test(realloc, every_size_pair_preserves_content, .timeout = 60) {
	for (size_t i = 0; i < NSIZES; i++)
		for (size_t j = 0; j < NSIZES; j++) {
			size_t a = sizes[i], b = sizes[j];
			unsigned char *p = xt_malloc(a);
			cr_assert_not_null(p);
			/* a neighbour, so that growing in place is not always possible */
			void *nb = xt_malloc(a);
			cr_assert_not_null(nb);
			pat_fill_at(p, p, a, (unsigned)i);
			void *key = p;
			unsigned char *q = xt_realloc(p, b);
			cr_assert_not_null(q, "realloc(%zu -> %zu)", a, b);
			cr_assert(is_aligned(q, MIN_ALIGN));
			size_t m = a < b ? a : b;
			size_t bad = pat_check_at(q, key, m, (unsigned)i);
			cr_assert_eq(bad, (size_t)-1, "realloc %zu -> %zu (%p -> %p): byte %zu of %zu lost", a, b, key,
			    (void *)q, bad, m);
			size_t u = xt_malloc_usable_size(q);
			cr_assert_geq(u, b, "realloc %zu -> %zu: usable %zu", a, b, u);
			memset(q, 0x42, u);
			xt_free(q);
			xt_free(nb);
		}
}

Test(realloc, grow_by_one_byte) {
	void *key = NULL;
	unsigned char *p = xt_realloc(NULL, 1);
	cr_assert_not_null(p);
	key = p;
	pat_fill_at(p, key, 1, 3);
	for (size_t n = 2; n <= 9000; n++) {
		p = xt_realloc(p, n);
		cr_assert_not_null(p, "realloc to %zu", n);
		p[n - 1] = pat_byte(key, 0, n - 1, 3);
		size_t bad = pat_check_at(p, key, n, 3);
		cr_assert_eq(bad, (size_t)-1, "growing to %zu bytes lost byte %zu", n, bad);
	}
	for (size_t n = 9000; n >= 1; n--) {
		p = xt_realloc(p, n);
		cr_assert_not_null(p, "realloc to %zu", n);
		size_t bad = pat_check_at(p, key, n, 3);
		cr_assert_eq(bad, (size_t)-1, "shrinking to %zu bytes lost byte %zu", n, bad);
	}
	xt_free(p);
}

Test(realloc, grow_and_shrink_by_doubling, .timeout = 60) {
	unsigned char *p = xt_malloc(1);
	cr_assert_not_null(p);
	void *key = p;
	size_t n = 1;
	pat_fill_at(p, key, n, 5);
	while (n < 64 * MiB) {
		size_t m = n * 2 + (n & 1); /* odd and even sizes */
		p = xt_realloc(p, m);
		cr_assert_not_null(p, "realloc %zu -> %zu", n, m);
		size_t bad = pat_check_at(p, key, n, 5);
		cr_assert_eq(bad, (size_t)-1, "realloc %zu -> %zu lost byte %zu", n, m, bad);
		cr_assert_geq(xt_malloc_usable_size(p), m);
		pat_fill_at(p, key, m, 5);
		n = m;
	}
	while (n > 1) {
		size_t m = n / 3;
		if (m == 0)
			m = 1;
		p = xt_realloc(p, m);
		cr_assert_not_null(p, "realloc %zu -> %zu", n, m);
		size_t bad = pat_check_at(p, key, m, 5);
		cr_assert_eq(bad, (size_t)-1, "realloc %zu -> %zu lost byte %zu", n, m, bad);
		cr_assert_geq(xt_malloc_usable_size(p), m);
		n = m;
	}
	xt_free(p);
}

Test(realloc, moving_when_neighbour_is_live) {
	/* Fill a run of equal-sized blocks, then grow each one a lot: the
     * neighbours are live, so these must move, and keep their bytes. */
	enum { N = 64 };
	const size_t base[] = {48, 400, 3000, 20000, 200000};
	for (size_t k = 0; k < sizeof base / sizeof base[0]; k++) {
		unsigned char *p[N];
		void *key[N];
		for (int i = 0; i < N; i++) {
			p[i] = xt_malloc(base[k]);
			cr_assert_not_null(p[i]);
			key[i] = p[i];
			pat_fill_at(p[i], key[i], base[k], (unsigned)i);
		}
		for (int i = 0; i < N; i += 2) {
			p[i] = xt_realloc(p[i], base[k] * 5 + 3);
			cr_assert_not_null(p[i]);
			size_t bad = pat_check_at(p[i], key[i], base[k], (unsigned)i);
			cr_assert_eq(bad, (size_t)-1, "moving realloc of %zu -> %zu lost byte %zu", base[k],
			    base[k] * 5 + 3, bad);
		}
		for (int i = 1; i < N; i += 2) {
			size_t bad = pat_check_at(p[i], key[i], base[k], (unsigned)i);
			cr_assert_eq(bad, (size_t)-1, "neighbour %d (%zu bytes) corrupted by realloc at byte %zu", i,
			    base[k], bad);
		}
		for (int i = 0; i < N; i++)
			xt_free(p[i]);
	}
}

Test(realloc, within_usable_size_stays_in_place) {
	for (size_t k = 0; k < NSIZES; k++) {
		unsigned char *p = xt_malloc(sizes[k]);
		cr_assert_not_null(p);
		size_t u = xt_malloc_usable_size(p);
		pat_fill_at(p, p, sizes[k], 11);
		void *key = p;
		void *q = xt_realloc(p, sizes[k]);
		cr_assert_eq(q, key, "realloc(p, same size %zu) moved the block", sizes[k]);
		q = xt_realloc(q, u);
		cr_assert_eq(q, key, "realloc(p of %zu, usable size %zu) moved the block", sizes[k], u);
		cr_assert_eq(pat_check_at(q, key, sizes[k], 11), (size_t)-1);
		xt_free(q);
	}
}

/* Small blocks resized to small sizes (the fast-path realloc, alloc.c):
 * a shrink to no less than half of the block keeps it, a smaller one or a
 * growth past the class moves it with its contents, and the thread's byte
 * counters follow the usable sizes exactly. */
Test(realloc, small_resize_rule_and_byte_counts) {
	static const size_t from[] = {48, 128, 256, 640, 1024, 2048, 4096};
	for (size_t k = 0; k < sizeof from / sizeof from[0]; k++) {
		size_t s = from[k];
		unsigned char *p = xt_malloc(s);
		cr_assert_not_null(p);
		size_t u = xt_malloc_usable_size(p);
		cr_assert_eq(u, s, "%zu is a class size", s);
		pat_fill_at(p, p, s, 17);
		void *key = p;
		uint64_t ta0, td0, ta1, td1;
		size_t l = sizeof(uint64_t);
		/* keep: half of the block plus one byte */
		cr_assert_eq(xallocctl("thread.allocated", &ta0, &l, NULL, 0), 0);
		cr_assert_eq(xallocctl("thread.deallocated", &td0, &l, NULL, 0), 0);
		void *q = xt_realloc(p, s / 2 + 1);
		cr_assert_eq(q, key, "realloc(%zu-byte block, %zu) moved it", s, s / 2 + 1);
		cr_assert_eq(xallocctl("thread.allocated", &ta1, &l, NULL, 0), 0);
		cr_assert_eq(xallocctl("thread.deallocated", &td1, &l, NULL, 0), 0);
		cr_assert_eq(ta1 - ta0, 0, "an in-place realloc counted an allocation");
		cr_assert_eq(td1 - td0, 0, "an in-place realloc counted a free");
		/* move down: a quarter */
		unsigned char *r = xt_realloc(q, s / 4);
		cr_assert_not_null(r);
		cr_assert_neq(r, key, "realloc(%zu-byte block, %zu) kept it", s, s / 4);
		cr_assert_eq(pat_check_at(r, key, s / 4, 17), (size_t)-1, "%zu -> %zu lost data", s, s / 4);
		size_t ru = xt_malloc_usable_size(r);
		cr_assert_eq(xallocctl("thread.allocated", &ta0, &l, NULL, 0), 0);
		cr_assert_eq(xallocctl("thread.deallocated", &td0, &l, NULL, 0), 0);
		cr_assert_eq(ta0 - ta1, ru, "allocated moved by %llu, new usable size %zu",
		    (unsigned long long)(ta0 - ta1), ru);
		cr_assert_eq(td0 - td1, u, "deallocated moved by %llu, old usable size %zu",
		    (unsigned long long)(td0 - td1), u);
		/* move up, past the class, still a small size */
		size_t up = XA_TEST_MIN(2 * s + 1, (size_t)4096);
		if (up <= ru)
			up = ru + 1;
		unsigned char *w = xt_realloc(r, up);
		cr_assert_not_null(w);
		cr_assert_eq(pat_check_at(w, key, s / 4, 17), (size_t)-1, "%zu -> %zu lost data", s / 4, up);
		cr_assert_geq(xt_malloc_usable_size(w), up);
		xt_free(w);
	}
}

Test(realloc, shrink_then_regrow_large) {
	/* A large block shrunk to half and grown back keeps its first half. */
	const size_t big[] = {256 * KiB, 1 * MiB, 8 * MiB, 32 * MiB};
	for (size_t k = 0; k < sizeof big / sizeof big[0]; k++) {
		unsigned char *p = xt_malloc(big[k]);
		cr_assert_not_null(p);
		void *key = p;
		pat_fill_at(p, key, big[k], 13);
		p = xt_realloc(p, big[k] / 2);
		cr_assert_not_null(p);
		cr_assert_eq(pat_check_at(p, key, big[k] / 2, 13), (size_t)-1, "shrink of %zu lost data", big[k]);
		void *other = xt_malloc(big[k] / 4); /* may take the freed tail */
		cr_assert_not_null(other);
		memset(other, 0xEE, big[k] / 4);
		p = xt_realloc(p, big[k]);
		cr_assert_not_null(p);
		cr_assert_eq(pat_check_at(p, key, big[k] / 2, 13), (size_t)-1, "regrow of %zu lost data", big[k]);
		cr_assert_eq(first_not(other, 0xEE, big[k] / 4), (size_t)-1, "regrow overwrote another block");
		memset(p, 0x10, big[k]);
		xt_free(other);
		xt_free(p);
	}
}

Test(realloc, zero_size_frees_and_returns_null) {
	void *p = xt_malloc(100);
	cr_assert_not_null(p);
	void *r = xt_realloc(p, 0);
	cr_assert_null(r, "realloc(p, 0) returned %p; glibc frees p and returns NULL", r);

	/* The memory is released: doing it many times does not grow the heap. */
	size_t before = xt_mallinfo2().uordblks;
	for (int i = 0; i < 3000; i++) {
		p = xt_malloc(1 * MiB);
		cr_assert_not_null(p);
		memset(p, 1, 4096);
		r = xt_realloc(p, 0);
		cr_assert_null(r);
	}
	for (int i = 0; i < 100000; i++) {
		p = xt_malloc(64);
		cr_assert_not_null(p);
		r = xt_realloc(p, 0);
		cr_assert_null(r);
	}
	size_t after = xt_mallinfo2().uordblks;
	cr_assert_leq(after, before + 4 * MiB, "realloc(p, 0) leaks: uordblks %zu -> %zu", before, after);
	/* and the heap is usable */
	p = xt_malloc(1 * MiB);
	cr_assert_not_null(p);
	memset(p, 2, 1 * MiB);
	xt_free(p);
}

Test(realloc, failure_keeps_old_block) {
	const size_t huge[] = {SIZE_MAX, SIZE_MAX - 1, SIZE_MAX - 4096, SIZE_MAX / 2, (size_t)PTRDIFF_MAX + 1,
	    SIZE_MAX / 2 + 4 * MiB};
	const size_t old[] = {1, 24, 1000, 5000, 70000, 1 * MiB, 9 * MiB};
	for (size_t k = 0; k < sizeof old / sizeof old[0]; k++) {
		unsigned char *p = xt_malloc(old[k]);
		cr_assert_not_null(p);
		pat_fill(p, old[k], 17);
		size_t u = xt_malloc_usable_size(p);
		for (size_t h = 0; h < sizeof huge / sizeof huge[0]; h++) {
			errno = 0;
			void *q = xt_realloc(p, huge[h]);
			cr_assert_null(q, "realloc(%zu-byte block, %zu) = %p", old[k], huge[h], q);
			cr_assert_eq(errno, ENOMEM, "realloc(%zu-byte block, %zu): errno %d", old[k], huge[h], errno);
			size_t bad = pat_check(p, old[k], 17);
			cr_assert_eq(bad, (size_t)-1, "failed realloc(%zu -> %zu) changed byte %zu", old[k], huge[h],
			    bad);
			cr_assert_eq(xt_malloc_usable_size(p), u);
		}
		/* the old block is still a normal live block */
		p = xt_realloc(p, old[k] + 100);
		cr_assert_not_null(p);
		xt_free(p);
	}
}

Test(realloc, aligned_and_calloc_blocks) {
	unsigned char *p = xt_memalign(4096, 5000);
	cr_assert_not_null(p);
	void *key = p;
	pat_fill_at(p, key, 5000, 19);
	p = xt_realloc(p, 100000);
	cr_assert_not_null(p);
	cr_assert_eq(pat_check_at(p, key, 5000, 19), (size_t)-1);
	p = xt_realloc(p, 10);
	cr_assert_not_null(p);
	cr_assert_eq(pat_check_at(p, key, 10, 19), (size_t)-1);
	xt_free(p);

	void *a = NULL;
	cr_assert_eq(xt_posix_memalign(&a, 1 * MiB, 3000), 0);
	key = a;
	pat_fill_at(a, key, 3000, 23);
	a = xt_realloc(a, 3 * MiB);
	cr_assert_not_null(a);
	cr_assert_eq(pat_check_at(a, key, 3000, 23), (size_t)-1);
	xt_free(a);

	unsigned char *c = xt_calloc(100, 100);
	cr_assert_not_null(c);
	c = xt_realloc(c, 20000);
	cr_assert_not_null(c);
	cr_assert_eq(first_not(c, 0, 10000), (size_t)-1, "calloc'd bytes changed by realloc");
	xt_free(c);
}
