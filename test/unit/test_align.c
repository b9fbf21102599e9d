/*
 * posix_memalign, aligned_alloc, memalign: every power-of-two alignment from
 * 1 B to 1 MiB (and a few larger), with valid and invalid arguments.
 */
#include <criterion/criterion.h>
#include <stdlib.h>

#include "util.h"

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(posix_memalign, .timeout = 120);
TestSuite(aligned_alloc, .timeout = 120);
TestSuite(memalign, .timeout = 120);
TestSuite(aligned, .timeout = 120);

#define MAX_ALIGN_LOG2 20 /* 1 MiB */

/* Sizes tried for alignment a. */
static size_t align_sizes(size_t a, size_t *out) {
	size_t n = 0;
	out[n++] = 1;
	out[n++] = 8;
	out[n++] = 100;
	out[n++] = 4097;
	out[n++] = 70000;
	if (a > 1)
		out[n++] = a - 1;
	out[n++] = a;
	out[n++] = a + 1;
	out[n++] = 3 * a;
	out[n++] = 3 * a / 2 + 5;
	return n;
}

enum { REPS = 4 }; /* live blocks per (alignment, size), so they are not all at one spot */

static void check_block(const char *fn, void *p, size_t a, size_t n) {
	size_t want = a < MIN_ALIGN ? MIN_ALIGN : a;
	cr_assert_not_null(p, "%s(align %zu, size %zu) returned NULL", fn, a, n);
	cr_assert(is_aligned(p, want), "%s(align %zu, size %zu) = %p not aligned to %zu", fn, a, n, p, want);
	size_t u = xt_malloc_usable_size(p);
	cr_assert_geq(u, n, "%s(align %zu, size %zu): usable size %zu", fn, a, n, u);
	memset(p, 0xC3, u);
}

Test(posix_memalign, valid_alignments, .timeout = 60) {
	size_t sz[16];
	for (int l = 3; l <= MAX_ALIGN_LOG2 + 2; l++) { /* 8 B .. 4 MiB */
		size_t a = (size_t)1 << l;
		size_t ns = align_sizes(a, sz);
		void *keep[16][REPS];
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				void *p = (void *)0x1;
				int rc = xt_posix_memalign(&p, a, sz[k]);
				cr_assert_eq(rc, 0, "posix_memalign(align %zu, size %zu) = %d", a, sz[k], rc);
				check_block("posix_memalign", p, a, sz[k]);
				keep[k][r] = p;
			}
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				cr_assert_eq(first_not(keep[k][r], 0xC3, sz[k]), (size_t)-1,
				    "overlapping aligned blocks");
				xt_free(keep[k][r]);
			}
	}
}

Test(posix_memalign, size_zero) {
	void *p = (void *)0x1;
	int rc = xt_posix_memalign(&p, 64, 0);
	cr_assert_eq(rc, 0);
	/* POSIX allows NULL or a unique pointer; glibc returns a pointer. */
	if (p != NULL)
		cr_assert(is_aligned(p, 64), "posix_memalign(64, 0) = %p", p);
	xt_free(p);
}

Test(posix_memalign, invalid_alignment_is_einval_and_memptr_untouched) {
	const size_t bad[] = {0, 1, 2, 4, 3, 5, 12, 24, 40, 48, 100, 4097, 3 * 4096, (1u << 20) + 8, SIZE_MAX,
	    SIZE_MAX / 2};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		void *sentinel = (void *)(uintptr_t)0xdeadbee0;
		void *p = sentinel;
		int rc = xt_posix_memalign(&p, bad[i], 64);
		cr_assert_eq(rc, EINVAL, "posix_memalign(align %zu) = %d, want EINVAL", bad[i], rc);
		cr_assert_eq(p, sentinel, "posix_memalign(align %zu) changed *memptr to %p on failure", bad[i], p);
	}
}

Test(posix_memalign, impossible_is_enomem_and_memptr_untouched) {
	const size_t cases[][2] = {
	    {16, SIZE_MAX},
	    {64, SIZE_MAX - 4096},
	    {4096, (size_t)PTRDIFF_MAX + 1},
	    {1u << 20, SIZE_MAX - (1u << 19)},
	    {(size_t)1 << 62, 1},
	    {(size_t)1 << 63, 16},
	};
	for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
		void *sentinel = (void *)(uintptr_t)0xdeadbee0;
		void *p = sentinel;
		int rc = xt_posix_memalign(&p, cases[i][0], cases[i][1]);
		cr_assert_eq(rc, ENOMEM, "posix_memalign(align %zu, size %zu) = %d, want ENOMEM", cases[i][0],
		    cases[i][1], rc);
		cr_assert_eq(p, sentinel, "posix_memalign changed *memptr on failure");
	}
}

Test(aligned_alloc, valid_alignments, .timeout = 60) {
	size_t sz[16];
	for (int l = 0; l <= MAX_ALIGN_LOG2 + 2; l++) { /* 1 B .. 4 MiB */
		size_t a = (size_t)1 << l;
		size_t ns = align_sizes(a, sz);
		void *keep[16][REPS];
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				errno = 0;
				void *p = xt_aligned_alloc(a, sz[k]);
				check_block("aligned_alloc", p, a, sz[k]);
				keep[k][r] = p;
			}
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				cr_assert_eq(first_not(keep[k][r], 0xC3, sz[k]), (size_t)-1,
				    "overlapping aligned blocks");
				if (r & 1)
					xt_free_aligned_sized(keep[k][r], a, sz[k]);
				else
					xt_free(keep[k][r]);
			}
	}
}

Test(aligned_alloc, non_power_of_two_is_einval) {
	const size_t bad[] = {0, 3, 5, 6, 7, 12, 24, 48, 100, 1000, 4097, 3 * 4096, (1u << 20) + 1, SIZE_MAX};
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *p = xt_aligned_alloc(bad[i], 96);
		cr_assert_null(p, "aligned_alloc(%zu, 96) = %p, want NULL (glibc 2.38 semantics)", bad[i], p);
		cr_assert_eq(errno, EINVAL, "aligned_alloc(%zu, 96): errno %d, want EINVAL", bad[i], errno);
	}
}

Test(aligned_alloc, impossible_is_enomem) {
	errno = 0;
	cr_assert_null(xt_aligned_alloc(64, SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(xt_aligned_alloc(4096, SIZE_MAX - 4096));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(xt_aligned_alloc((size_t)1 << 62, 64));
	cr_assert_eq(errno, ENOMEM);
}

Test(memalign, valid_alignments, .timeout = 60) {
	size_t sz[16];
	for (int l = 0; l <= MAX_ALIGN_LOG2 + 2; l++) {
		size_t a = (size_t)1 << l;
		size_t ns = align_sizes(a, sz);
		void *keep[16][REPS];
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				void *p = xt_memalign(a, sz[k]);
				check_block("memalign", p, a, sz[k]);
				keep[k][r] = p;
			}
		for (size_t k = 0; k < ns; k++)
			for (int r = 0; r < REPS; r++) {
				cr_assert_eq(first_not(keep[k][r], 0xC3, sz[k]), (size_t)-1,
				    "overlapping aligned blocks");
				xt_free(keep[k][r]);
			}
	}
}

static size_t next_pow2(size_t a) {
	size_t p = 1;
	while (p < a)
		p <<= 1;
	return p;
}

Test(memalign, non_power_of_two) {
	/* glibc rounds the alignment up to the next power of two; returning
     * NULL with EINVAL is also accepted, but the behaviour must be one of
     * the two, and the same for every such alignment. */
	const size_t bad[] = {3, 5, 12, 24, 48, 100, 1000, 3000, 4097, 3 * 4096, 100000};
	int rounded = 0, refused = 0;
	for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
		errno = 0;
		void *p = xt_memalign(bad[i], 200);
		if (p == NULL) {
			cr_assert_eq(errno, EINVAL, "memalign(%zu, 200) = NULL with errno %d", bad[i], errno);
			refused++;
		} else {
			size_t want = next_pow2(bad[i]);
			cr_assert(is_aligned(p, want), "memalign(%zu, 200) = %p, not aligned to %zu", bad[i], p, want);
			cr_assert_geq(xt_malloc_usable_size(p), 200);
			memset(p, 1, 200);
			xt_free(p);
			rounded++;
		}
	}
	cr_assert(rounded == 0 || refused == 0, "memalign: %d non-power-of-two alignments rounded up, %d refused",
	    rounded, refused);
	cr_log_info("memalign with a non-power-of-two alignment: %s",
	    rounded ? "rounds up to the next power of two (glibc behaviour)" : "NULL + EINVAL");
}

Test(memalign, alignment_zero_is_malloc) {
	errno = 0;
	void *p = xt_memalign(0, 100);
	/* glibc treats an alignment below the minimum as malloc */
	cr_assert_not_null(p, "memalign(0, 100) returned NULL (errno %d)", errno);
	cr_assert(is_aligned(p, MIN_ALIGN));
	cr_assert_geq(xt_malloc_usable_size(p), 100);
	xt_free(p);
}

Test(memalign, impossible_is_enomem) {
	errno = 0;
	cr_assert_null(xt_memalign(64, SIZE_MAX));
	cr_assert_eq(errno, ENOMEM);
	errno = 0;
	cr_assert_null(xt_memalign(1u << 20, SIZE_MAX - 8192));
	cr_assert_eq(errno, ENOMEM);
}

/*
 * Every small aligned request (align 32 B .. 4 KiB, size 0 .. 16 KiB; the
 * ones the cache serves, xa_tcache_aligned) through all three calls: an
 * aligned block whose usable size holds the request, is a multiple of the
 * alignment (the class's every region is aligned) and is less than twice
 * the request rounded up to the alignment (the smallest such class: a
 * power of two always qualifies).  Blocks stay live in groups of 8, so a
 * region handed out twice would show as overlapping stamps.
 */
Test(aligned, every_small_request_gets_an_aligned_class, .timeout = 120) {
	for (unsigned l = 5; l <= 12; l++) {
		size_t a = (size_t)1 << l;
		for (size_t n = 0; n <= 16384; n += (n < 1100 ? 1 : 61)) {
			void *keep[8];
			for (int k = 0; k < 8; k++) {
				void *p = NULL;
				if (k % 3 == 0)
					cr_assert_eq(xt_posix_memalign(&p, a, n), 0);
				else if (k % 3 == 1)
					p = xt_aligned_alloc(a, n);
				else
					p = xt_memalign(a, n);
				check_block("aligned", p, a, n);
				size_t u = xt_malloc_usable_size(p), want = n ? (n + a - 1) & ~(a - 1) : a;
				cr_assert_eq(u % a, 0, "align %zu, size %zu: usable %zu not a multiple", a, n, u);
				cr_assert_lt(u, 2 * want, "align %zu, size %zu: usable %zu", a, n, u);
				memset(p, k + 1, n);
				keep[k] = p;
			}
			for (int k = 0; k < 8; k++) {
				cr_assert_eq(first_not(keep[k], (unsigned char)(k + 1), n), (size_t)-1,
				    "align %zu, size %zu: overlapping blocks", a, n);
				xt_free(keep[k]);
			}
		}
	}
}

Test(aligned, many_live_large_alignments) {
	/* Many blocks at 64 KiB .. 1 MiB alignment live at once, all distinct
     * and intact: catches bookkeeping errors in the aligned split path. */
	enum { N = 48 };
	void *p[N];
	size_t a[N], n[N];
	for (int i = 0; i < N; i++) {
		a[i] = (size_t)1 << (16 + i % 5);
		n[i] = (size_t)(i % 3 == 0 ? 100 : i % 3 == 1 ? a[i] : 3 * a[i] + 1);
		int rc = xt_posix_memalign(&p[i], a[i], n[i]);
		cr_assert_eq(rc, 0);
		cr_assert(is_aligned(p[i], a[i]));
		pat_fill(p[i], n[i], (unsigned)i);
	}
	for (int i = 0; i < N; i++) {
		cr_assert_eq(pat_check(p[i], n[i], (unsigned)i), (size_t)-1, "aligned block %d corrupted", i);
		xt_free(p[i]);
	}
}

Test(aligned, size_zero) {
	/* glibc returns a unique, freeable, aligned pointer for size 0 */
	const size_t aligns[] = {16, 64, 4096, 1u << 20};
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++) {
		void *a = xt_aligned_alloc(aligns[i], 0);
		void *m = xt_memalign(aligns[i], 0);
		cr_assert_not_null(a, "aligned_alloc(%zu, 0)", aligns[i]);
		cr_assert_not_null(m, "memalign(%zu, 0)", aligns[i]);
		cr_assert_neq(a, m);
		cr_assert(is_aligned(a, aligns[i]) && is_aligned(m, aligns[i]));
		xt_free(a);
		xt_free(m);
	}
}

Test(aligned, alignment_above_chunk_sizes, .timeout = 60) {
	/* alignments of 8 and 16 MiB, with tiny and multi-megabyte sizes */
	const size_t aligns[] = {8 * MiB, 16 * MiB, 32 * MiB};
	const size_t sizes[] = {1, 4096, 5 * MiB + 1, 20 * MiB};
	for (size_t i = 0; i < sizeof aligns / sizeof aligns[0]; i++)
		for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
			void *p = NULL, *q = NULL;
			cr_assert_eq(xt_posix_memalign(&p, aligns[i], sizes[k]), 0, "posix_memalign(%zu, %zu)",
			    aligns[i], sizes[k]);
			q = xt_aligned_alloc(aligns[i], sizes[k]);
			check_block("posix_memalign", p, aligns[i], sizes[k]);
			check_block("aligned_alloc", q, aligns[i], sizes[k]);
			cr_assert_eq(first_not(p, 0xC3, sizes[k]), (size_t)-1);
			void *r = xt_realloc(q, sizes[k] * 2 + 1);
			cr_assert_not_null(r);
			cr_assert_eq(first_not(r, 0xC3, sizes[k]), (size_t)-1,
			    "realloc of an %zu-aligned block lost data", aligns[i]);
			xt_free(p);
			xt_free(r);
		}
}

/*
 * An aligned large request takes a free run that holds it aligned, not
 * only a run of size + alignment - 1 pages (2026-12-07, bench/README.md
 * "Aligned large runs"): 32 blocks of 256 KiB aligned to 256 KiB (above
 * tcache_max, so their frees go straight back to the page runs), every
 * other one freed, leave 16 free runs of exactly 64 pages at aligned
 * addresses between live blocks.  16 new such requests take exactly those
 * addresses.  Before, each needed a free run of 127 pages and took fresh
 * space, so the 16 holes stayed (in aligned_alloc(64 KiB, 1..100 KB) in
 * a loop: 95 MB of RSS against 14, and 20 us a call searching the holes).
 */
Test(aligned, large_requests_reuse_aligned_holes) {
	enum { N = 32, SZ = 256 << 10 };
	void *p[N], *q[N / 2];
	for (int i = 0; i < N; i++) {
		p[i] = xt_aligned_alloc(SZ, SZ);
		cr_assert_not_null(p[i]);
		cr_assert(is_aligned(p[i], SZ));
		*(volatile char *)p[i] = 1;
	}
	for (int i = 0; i < N; i += 2)
		xt_free(p[i]);
	int reused = 0;
	for (int j = 0; j < N / 2; j++) {
		q[j] = xt_aligned_alloc(SZ, SZ);
		cr_assert_not_null(q[j]);
		cr_assert(is_aligned(q[j], SZ));
		for (int i = 0; i < N; i += 2)
			reused += q[j] == p[i];
	}
	cr_assert_eq(reused, N / 2, "%d of %d aligned requests reused the aligned holes", reused, N / 2);
	for (int j = 0; j < N / 2; j++)
		xt_free(q[j]);
	for (int i = 1; i < N; i += 2)
		xt_free(p[i]);
}

/*
 * An aligned large request takes a block from the thread's cache when the
 * one on top of its class's bin is aligned (2026-12-07): a program that
 * allocates all its buffers aligned gets back the blocks it freed, with no
 * arena lock (b_aligned 1000000: 0.26 s -> 0.13 s).  A block that is not
 * aligned is left in the cache.  Before, aligned requests never took from
 * the cache, so the second request below got another block.
 */
Test(aligned, cached_aligned_block_is_reused) {
	enum { SZ = 64 << 10 };
	void *p = xt_aligned_alloc(SZ, SZ);
	cr_assert_not_null(p);
	cr_assert(is_aligned(p, SZ));
	xt_free(p);
	void *q = xt_aligned_alloc(SZ, SZ);
	cr_assert_eq(q, p, "the cached aligned block %p was not reused (got %p)", p, q);
	/* a cached block that is not aligned to the request stays cached:
	 * 64 KiB blocks carved one after another alternate between 128 KiB
	 * boundaries and the middles */
	void *m = NULL;
	void *keep[64];
	int nk = 0;
	while (nk < 64) {
		m = xt_malloc(SZ);
		cr_assert_not_null(m);
		if (!is_aligned(m, 2 * SZ))
			break;
		keep[nk++] = m;
	}
	cr_assert(!is_aligned(m, 2 * SZ), "64 blocks of 64 KiB in a row were all 128 KiB-aligned");
	xt_free(m);
	void *r = xt_aligned_alloc(2 * SZ, SZ);
	cr_assert_not_null(r);
	cr_assert(is_aligned(r, 2 * SZ), "%p is not aligned to 128 KiB", r);
	cr_assert_eq(xt_malloc(SZ), m, "the unaligned block did not stay cached for malloc");
	xt_free(m);
	xt_free(r);
	xt_free(q);
	for (int i = 0; i < nk; i++)
		xt_free(keep[i]);
}
