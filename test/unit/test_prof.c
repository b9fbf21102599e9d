/*
 * test_prof.c -- the heap profiler, in-process (test build: xt_malloc).
 *
 * Criterion runs every test in its own process, so each starts with a
 * fresh profiler.  Profiling is switched on through the same functions
 * prof.active and prof.reset call.  The sampling tests compare the count
 * of samples with its expectation n * (1 - exp(-size / T)) within about
 * five standard deviations, so a wrong rate (or a biased draw) fails while
 * an unlucky run essentially never does.
 */
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "internal.h"
#include "prof.h"
#include "xt.h"

static xa_prof_stats_t stats(void) {
	xa_prof_stats_t st;
	xa_prof_stats(&st);
	return st;
}

/* Start sampling at mean 2^lg bytes on this thread now (a thread picks the
 * change up at its next allocation event: force one). */
static void prof_on(int lg) {
	void *p = xt_malloc(1); /* boot */
	xt_free(p);
	if (!config_prof) { /* --disable-prof: the controls must refuse */
		cr_assert_eq(xa_prof_active_set(true), ENOENT);
		cr_assert_eq(xa_prof_dump("/dev/null"), ENOENT);
		cr_skip_test("profiling compiled out (--disable-prof)");
	}
	cr_assert_eq(xa_prof_reset(lg), 0);
	cr_assert_eq(xa_prof_active_set(true), 0);
	cr_assert_eq(xa_prof_thread_active_set(true), 0);
}

static bool is_sampled(void *p) {
	xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p);
	if (c->kind != CHUNK_ARENA)
		return c->sampled;
	return PCLASS_OF(c->pclass[((uintptr_t)p - c->addr) >> LG_PAGE]) == PCLASS_SAMPLED;
}

Test(prof_math, neg_log_and_exp_match_libm) {
	for (double u = 1e-300; u <= 1.0; u *= 1.7) {
		double want = -log(u), got = xa_prof_neg_log(u);
		cr_assert(fabs(got - want) <= 1e-12 * (1 + want), "u=%g got %.17g want %.17g", u, got, want);
	}
	cr_assert_eq(xa_prof_neg_log(1.0), 0.0);
	for (double x = 1e-9; x < 800; x *= 1.3) {
		double want = -expm1(-x), got = xa_prof_one_minus_exp_neg(x);
		cr_assert(fabs(got - want) <= 1e-13 * want, "x=%g got %.17g want %.17g", x, got, want);
	}
}

Test(prof_math, size_buckets_are_monotonic) {
	unsigned last = 0;
	for (uint64_t s = 1; s < ((uint64_t)1 << 40); s = s * 5 / 4 + 1) {
		unsigned b = prof_bucket(s, 19);
		cr_assert(b >= last && b < PROF_NSB);
		last = b;
	}
	cr_assert_eq(prof_bucket(1000, 19), 0);    /* < T/16 */
	cr_assert_eq(prof_bucket(32768, 19), 1);   /* T/16 */
	cr_assert_eq(prof_bucket(1 << 19, 19), 5); /* T */
}

Test(prof, off_by_default_takes_no_samples) {
	for (int i = 0; i < 100000; i++)
		xt_free(xt_malloc(512));
	cr_assert_eq(stats().nsamples, 0);
	cr_assert(!xa_prof_active_get());
}

static void sample_rate_case(size_t size, size_t n, int lg) {
	prof_on(lg);
	uint64_t before = stats().nsamples;
	for (size_t i = 0; i < n; i++)
		xt_free(xt_malloc(size));
	double p = -expm1(-(double)xt_malloc_usable_size(xt_malloc(size)) / (double)(1 << lg));
	double want = p * (double)n, sd = sqrt(want * (1 - p));
	double got = (double)(stats().nsamples - before);
	cr_log_info("size %zu: %.0f samples, expected %.1f +- %.1f", size, got, want, sd);
	cr_assert(fabs(got - want) <= 5 * sd + 2, "size %zu: %.0f samples, expected %.1f +- %.1f", size, got, want, sd);
}

Test(prof, sampling_rate_small) { sample_rate_case(256, 400000, 14); }
Test(prof, sampling_rate_medium) { sample_rate_case(3000, 100000, 16); }
Test(prof, sampling_rate_large) { sample_rate_case(100000, 4000, 18); }

Test(prof, free_removes_the_sample) {
	prof_on(10);
	enum { N = 300 };
	void *p[N];
	for (int i = 0; i < N; i++)
		p[i] = xt_malloc(64 << 10); /* p = 1 - e^-64: always sampled */
	xa_prof_stats_t st = stats();
	cr_assert_eq(st.nlive, N, "nlive %llu", (unsigned long long)st.nlive);
	for (int i = 0; i < N; i++) {
		cr_assert(is_sampled(p[i]));
		xt_free(p[i]);
	}
	st = stats();
	cr_assert_eq(st.nlive, 0);
	cr_assert_geq(st.nsamples, N);
}

Test(prof, sampled_small_objects_share_slabs) {
	prof_on(0); /* every allocation */
	enum { N = 2000 };
	static void *p[N];
	for (int i = 0; i < N; i++) {
		p[i] = xt_malloc(32);
		memset(p[i], i, 32);
	}
	xa_prof_stats_t st = stats();
	cr_assert_geq(st.nlive, N - 5);
	/* 2000 x 32 B = 62.5 KiB of objects: a page per sample would be 8 MiB */
	cr_assert_leq(st.slab_bytes, 128 << 10, "slab bytes %llu", (unsigned long long)st.slab_bytes);
	int sampled = 0;
	for (int i = 0; i < N; i++) {
		sampled += is_sampled(p[i]);
		cr_assert_eq(xt_malloc_usable_size(p[i]), 32);
		for (int j = i + 1; j < N && j < i + 3; j++)
			cr_assert_neq(p[i], p[j]);
	}
	cr_assert_geq(sampled, N - 5);
	for (int i = 0; i < N; i++) {
		unsigned char *c = p[i];
		cr_assert(c[0] == (unsigned char)i && c[31] == (unsigned char)i);
		xt_free(p[i]);
	}
	cr_assert_eq(stats().nlive, 0);
}

Test(prof, realloc_and_aligned_sampled_objects) {
	prof_on(0);
	/* small -> small, small -> large -> huge -> large -> freed */
	char *p = xt_malloc(40);
	cr_assert(is_sampled(p));
	memset(p, 7, 40);
	size_t sizes[] = {48, 20000, 300000, 6 << 20, 40 << 20, 100000, 24};
	size_t have = 40;
	for (unsigned i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		p = xt_realloc(p, sizes[i]);
		cr_assert_not_null(p);
		for (size_t j = 0; j < XA_MIN(have, sizes[i]); j += 7)
			cr_assert_eq(p[j], 7, "size %zu byte %zu", sizes[i], j);
		cr_assert_geq(xt_malloc_usable_size(p), sizes[i]);
		memset(p, 7, sizes[i]);
		have = sizes[i];
	}
	xt_free(p);
	cr_assert_eq(stats().nlive, 0);
	/* large resized in place (or moved): still sampled, counted once */
	for (size_t sz = 100000; sz <= 400000; sz += 50000) {
		p = sz == 100000 ? xt_malloc(sz) : xt_realloc(p, sz);
		cr_assert(is_sampled(p), "size %zu", sz);
		cr_assert_eq(stats().nlive, 1);
	}
	p = xt_realloc(p, 150000); /* shrink */
	cr_assert(is_sampled(p));
	xt_free(p);
	cr_assert_eq(stats().nlive, 0);
	for (size_t a = 32; a <= (8 << 20); a *= 4) {
		void *q;
		cr_assert_eq(xt_posix_memalign(&q, a, a + 8), 0);
		cr_assert_eq((uintptr_t)q % a, 0);
		cr_assert(is_sampled(q));
		xt_free(q);
	}
	cr_assert_eq(stats().nlive, 0);
}

Test(prof, reset_forgets_samples_and_sets_the_rate) {
	prof_on(10);
	void *p[100];
	for (int i = 0; i < 100; i++)
		p[i] = xt_malloc(100000);
	cr_assert_eq(stats().nlive, 100);
	cr_assert_eq(xa_prof_reset(17), 0);
	cr_assert_eq(xa_prof_lg_sample_get(), 17);
	xa_prof_stats_t st = stats();
	cr_assert_eq(st.nlive, 0);
	cr_assert_eq(st.nsamples, 0);
	for (int i = 0; i < 100; i++) /* still sampled memory: frees must work */
		xt_free(p[i]);
	cr_assert_eq(stats().nlive, 0);
	cr_assert_eq(xa_prof_reset(41), EINVAL);
}

Test(prof, thread_active_false_stops_sampling) {
	prof_on(12);
	cr_assert_eq(xa_prof_thread_active_set(false), 0);
	cr_assert(!xa_prof_thread_active_get());
	for (int i = 0; i < 100000; i++)
		xt_free(xt_malloc(1000));
	cr_assert_eq(stats().nsamples, 0);
	cr_assert_eq(xa_prof_thread_active_set(true), 0);
	for (int i = 0; i < 100000; i++)
		xt_free(xt_malloc(1000));
	cr_assert_gt(stats().nsamples, 100);
}

Test(prof, active_false_stops_sampling) {
	prof_on(12);
	cr_assert_eq(xa_prof_active_set(false), 0);
	for (int i = 0; i < 100000; i++)
		xt_free(xt_malloc(1000));
	cr_assert_eq(stats().nsamples, 0);
}

static char *slurp(const char *path) {
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	static char buf[1 << 20];
	size_t n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = 0;
	fclose(f);
	return buf;
}

Test(prof, dump_is_a_pprof_heap_profile) {
	prof_on(12);
	void *keep[1000];
	for (int i = 0; i < 1000; i++)
		keep[i] = xt_malloc(4000);
	char path[128];
	snprintf(path, sizeof(path), "/tmp/xa_prof_unit.%d.heap", (int)getpid());
	unlink(path);
	cr_assert_eq(xa_prof_dump(path), 0);
	char *s = slurp(path);
	unsigned long long n1, b1, n2, b2, per;
	cr_assert_eq(sscanf(s, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu", &n1, &b1, &n2, &b2, &per), 5,
	    "header: %.100s", s);
	cr_assert_eq(per, 4096);
	cr_assert_eq(n1, stats().nlive);
	cr_assert(n1 > 500 && n1 <= 1000, "%llu", n1);
	cr_assert_eq(b1, n1 * 4096); /* usable size of 4000 */
	cr_assert_geq(n2, n1);
	/* sum of the stack lines equals the header */
	unsigned long long sn = 0, sb = 0;
	int lines = 0;
	for (char *l = strchr(s, '\n') + 1; *l && strncmp(l, "MAPPED_LIBRARIES:", 17); l = strchr(l, '\n') + 1) {
		unsigned long long a, b, c, d;
		if (sscanf(l, "%llu: %llu [%llu: %llu] @ 0x", &a, &b, &c, &d) == 4) {
			sn += a;
			sb += b;
			lines++;
		} else {
			cr_assert(l[0] == '#' || l[0] == '\n', "bad line: %.80s", l);
		}
	}
	cr_assert_eq(sn, n1);
	cr_assert_eq(sb, b1);
	cr_assert_geq(lines, 1);
	cr_assert_not_null(strstr(s, "\nMAPPED_LIBRARIES:\n"));
	cr_assert_not_null(strstr(s, "[stack]"), "maps copied");
	cr_assert_eq(stats().ndumps, 1);
	/* the file exists now: O_EXCL refuses it, the error is returned */
	cr_assert_eq(xa_prof_dump(path), EEXIST);
	unlink(path);
	for (int i = 0; i < 1000; i++)
		xt_free(keep[i]);
}

Test(prof, stats_count_metadata_and_time) {
	prof_on(10);
	for (int i = 0; i < 20000; i++)
		xt_free(xt_malloc(2000));
	xa_prof_stats_t st = stats();
	cr_assert_gt(st.nsamples, 1000);
	cr_assert_geq(st.nstacks, 1);
	cr_assert_gt(st.meta_bytes, 0);
	cr_assert_gt(st.time_ns, 0);
}
