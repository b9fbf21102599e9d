/*
 * Quick multithreaded checks of the test build (the long stress runs are in
 * test/integration, against the real library under LD_PRELOAD).
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>

#include "util.h"

/* A hang (deadlock) fails the test instead of stalling make check. */
TestSuite(threads, .timeout = 120);

/* 40,000 operations per thread (~2 s of CPU in all, with every byte of
 * every block patterned and checked): enough for thousands of cross-thread
 * frees per thread, and far inside the deadline on a loaded machine. */
enum { SLOTS = 1024, THREADS = 4, OPS = 40000 };

static _Atomic(unsigned char *) slot[SLOTS];
static atomic_int failures;

/* Block layout: first 8 bytes hold the requested size (n >= 16). */
static unsigned char *make_block(size_t n, unsigned seed) {
	unsigned char *p = xt_malloc(n);
	if (!p)
		return NULL;
	memcpy(p, &n, sizeof n);
	pat_fill(p + 8, n - 8, seed);
	return p;
}

static int check_block(unsigned char *p, unsigned seed) {
	size_t n;
	memcpy(&n, p, sizeof n);
	if (n < 16 || n > 2 * MiB)
		return 0;
	if (xt_malloc_usable_size(p) < n)
		return 0;
	return pat_check(p + 8, n - 8, seed) == (size_t)-1;
}

static void *worker(void *arg) {
	uint64_t seed = 0x9e3779b97f4a7c15ULL * ((uintptr_t)arg + 1);
	for (int i = 0; i < OPS; i++) {
		uint64_t r = rnd_next(&seed);
		size_t n = (r % 100 < 90) ? 16 + r % 240 : (r % 100 < 99) ? 16 + r % 32768 : 16 + r % (1 * MiB);
		unsigned char *p = make_block(n, 0x5a);
		if (!p) {
			atomic_fetch_add(&failures, 1);
			return NULL;
		}
		unsigned char *old = atomic_exchange(&slot[(r >> 32) % SLOTS], p);
		if (old) {
			if (!check_block(old, 0x5a))
				atomic_fetch_add(&failures, 1);
			xt_free(old);
		}
	}
	return NULL;
}

Test(threads, cross_thread_free, .timeout = 60) {
	pthread_t t[THREADS];
	for (long i = 0; i < THREADS; i++)
		cr_assert_eq(pthread_create(&t[i], NULL, worker, (void *)i), 0);
	for (int i = 0; i < THREADS; i++)
		pthread_join(t[i], NULL);
	cr_assert_eq(atomic_load(&failures), 0, "%d corrupted blocks or failed allocations", atomic_load(&failures));
	/* the main thread frees what the (now exited) workers left */
	for (int i = 0; i < SLOTS; i++) {
		unsigned char *p = atomic_exchange(&slot[i], NULL);
		if (p) {
			cr_assert(check_block(p, 0x5a), "slot %d corrupted", i);
			xt_free(p);
		}
	}
}

static void *short_lived(void *arg) {
	void **out = arg;
	/* leave some blocks in this thread's caches, hand others to main */
	for (int i = 0; i < 64; i++) {
		void *p = xt_malloc((size_t)(16 + i * 40));
		if (!p)
			return (void *)1;
		memset(p, i, (size_t)(16 + i * 40));
		if (i % 4 == 0)
			out[i / 4] = p;
		else
			xt_free(p);
	}
	return NULL;
}

Test(threads, thread_exit_releases_caches, .timeout = 60) {
	size_t before = 0;
	for (int round = 0; round < 2000; round++) {
		void *out[16] = {0};
		pthread_t t;
		void *ret;
		cr_assert_eq(pthread_create(&t, NULL, short_lived, out), 0);
		pthread_join(t, &ret);
		cr_assert_null(ret);
		for (int i = 0; i < 16; i++) {
			cr_assert_not_null(out[i]);
			cr_assert_eq(first_not(out[i], i * 4, (size_t)(16 + i * 4 * 40)), (size_t)-1);
			xt_free(out[i]);
		}
		if (round == 100)
			before = xt_mallinfo2().uordblks;
	}
	size_t after = xt_mallinfo2().uordblks;
	cr_assert_leq(after, before + 2 * MiB, "2000 short-lived threads: uordblks %zu -> %zu", before, after);
}
