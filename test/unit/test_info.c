/*
 * malloc_trim, mallopt, mallinfo, mallinfo2, malloc_stats.
 */
#include <criterion/criterion.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>

#include "util.h"

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(malloc_trim, .timeout = 120);
TestSuite(mallopt, .timeout = 120);
TestSuite(mallinfo2, .timeout = 120);
TestSuite(mallinfo, .timeout = 120);
TestSuite(malloc_stats, .timeout = 120);

Test(malloc_trim, returns_0_or_1_and_keeps_live_memory) {
	enum { N = 2000 };
	static void *p[N];
	static size_t n[N];
	uint64_t seed = 77;
	for (int i = 0; i < N; i++) {
		uint64_t r = rnd_next(&seed);
		n[i] = (i % 50 == 0) ? 1 * MiB + r % (3 * MiB) : 1 + r % 20000;
		p[i] = xt_malloc(n[i]);
		cr_assert_not_null(p[i]);
		pat_fill(p[i], n[i], 31);
	}
	/* free two thirds, leaving live blocks scattered among free space */
	for (int i = 0; i < N; i++)
		if (i % 3 != 0) {
			xt_free(p[i]);
			p[i] = NULL;
		}
	int rc = xt_malloc_trim(0);
	cr_assert(rc == 0 || rc == 1, "malloc_trim(0) = %d", rc);
	rc = xt_malloc_trim(1 * MiB);
	cr_assert(rc == 0 || rc == 1, "malloc_trim(1 MiB) = %d", rc);
	for (int i = 0; i < N; i++)
		if (p[i]) {
			size_t bad = pat_check(p[i], n[i], 31);
			cr_assert_eq(bad, (size_t)-1, "malloc_trim damaged live block %d (%zu bytes) at byte %zu", i,
			    n[i], bad);
		}
	/* memory still works, including reusing what was trimmed */
	for (int i = 0; i < N; i++)
		if (!p[i]) {
			p[i] = xt_malloc(n[i]);
			cr_assert_not_null(p[i]);
			pat_fill(p[i], n[i], 32);
		}
	for (int i = 0; i < N; i++) {
		size_t bad = pat_check(p[i], n[i], i % 3 ? 32 : 31);
		cr_assert_eq(bad, (size_t)-1, "block %d corrupted after trim and reuse", i);
		xt_free(p[i]);
	}
	rc = xt_malloc_trim(0);
	cr_assert(rc == 0 || rc == 1, "malloc_trim(0) = %d", rc);
	void *q = xt_calloc(1, 8 * MiB);
	cr_assert_not_null(q);
	cr_assert_eq(first_not(q, 0, 8 * MiB), (size_t)-1, "calloc after malloc_trim not zeroed");
	xt_free(q);
}

Test(mallopt, unknown_parameter_returns_0) {
	cr_assert_eq(xt_mallopt(12345, 1), 0);
	cr_assert_eq(xt_mallopt(-12345, 1), 0);
	cr_assert_eq(xt_mallopt(999, 0), 0);
}

Test(mallopt, known_parameters_do_not_break_anything) {
	const int params[][2] = {
	    {M_ARENA_MAX, 4},
	    {M_ARENA_MAX, 1},
	    {M_ARENA_TEST, 2},
	    {M_MMAP_THRESHOLD, 256 * 1024},
	    {M_TRIM_THRESHOLD, 1024 * 1024},
	    {M_TOP_PAD, 0},
	    {M_MXFAST, 64},
	    {M_MMAP_MAX, 65536},
	    {M_CHECK_ACTION, 0},
	    {M_PERTURB, 0},
	};
	for (size_t i = 0; i < sizeof params / sizeof params[0]; i++) {
		int rc = xt_mallopt(params[i][0], params[i][1]);
		cr_assert(rc == 0 || rc == 1, "mallopt(%d, %d) = %d", params[i][0], params[i][1], rc);
		void *p = xt_malloc(1000 + i * 100000);
		cr_assert_not_null(p);
		memset(p, 1, 1000 + i * 100000);
		xt_free(p);
	}
}

Test(mallinfo2, uordblks_counts_xalloc_allocations) {
	struct mallinfo2 a = xt_mallinfo2();
	char *p = xt_malloc(1 * MiB);
	cr_assert_not_null(p);
	memset(p, 1, 1 * MiB);
	struct mallinfo2 b = xt_mallinfo2();
	cr_assert_geq(b.uordblks, a.uordblks + 1 * MiB, "uordblks %zu -> %zu after malloc(1 MiB)", a.uordblks,
	    b.uordblks);
	/* small allocations are counted too */
	enum { N = 4096 };
	static void *s[N];
	for (int i = 0; i < N; i++) {
		s[i] = xt_malloc(256);
		cr_assert_not_null(s[i]);
	}
	struct mallinfo2 c = xt_mallinfo2();
	cr_assert_geq(c.uordblks, b.uordblks + (N - 128) * 256, "uordblks %zu -> %zu after %d x malloc(256)",
	    b.uordblks, c.uordblks, N);
	for (int i = 0; i < N; i++)
		xt_free(s[i]);
	xt_free(p);
}

Test(mallinfo2, uordblks_drops_after_free) {
	enum { N = 16 };
	void *p[N];
	struct mallinfo2 a = xt_mallinfo2();
	for (int i = 0; i < N; i++) {
		p[i] = xt_malloc(4 * MiB);
		cr_assert_not_null(p[i]);
		memset(p[i], 2, 4096);
	}
	struct mallinfo2 b = xt_mallinfo2();
	cr_assert_geq(b.uordblks, a.uordblks + N * 4 * MiB);
	for (int i = 0; i < N; i++)
		xt_free(p[i]);
	struct mallinfo2 c = xt_mallinfo2();
	cr_assert_leq(c.uordblks + (N - 1) * 4 * MiB, b.uordblks, "uordblks %zu -> %zu after freeing 64 MiB",
	    b.uordblks, c.uordblks);
}

Test(mallinfo, int_version_grows_too) {
	struct mallinfo a = xt_mallinfo();
	void *p = xt_malloc(1 * MiB);
	cr_assert_not_null(p);
	struct mallinfo b = xt_mallinfo();
	cr_assert_geq((long long)b.uordblks, (long long)a.uordblks + (long long)MiB, "mallinfo().uordblks %d -> %d",
	    a.uordblks, b.uordblks);
	xt_free(p);
}

Test(malloc_stats, writes_to_stderr) {
	void *p = xt_malloc(12345);
	cr_assert_not_null(p);
	char path[] = "/tmp/xt_stats_XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	unlink(path);
	fflush(stderr);
	int saved = dup(2);
	cr_assert_geq(saved, 0);
	cr_assert_eq(dup2(fd, 2), 2);
	xt_malloc_stats();
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	cr_assert_gt(st.st_size, 0, "malloc_stats() wrote nothing to stderr");
	char buf[256] = {0};
	ssize_t r = pread(fd, buf, sizeof buf - 1, 0);
	cr_assert_gt(r, 0);
	int digits = 0;
	for (ssize_t i = 0; i < r; i++)
		digits += buf[i] >= '0' && buf[i] <= '9';
	cr_assert_gt(digits, 0, "malloc_stats() output has no numbers: %s", buf);
	close(fd);
	xt_free(p);
}
