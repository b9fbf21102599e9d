/*
 * tsan_stress: the multithreaded workload run under ThreadSanitizer by
 * test/hardening/tsan.sh, against the prefixed allocator (xt_malloc, ...)
 * built with clang -fsanitize=thread.  Threads allocate, hand blocks to
 * other threads through a locked ring (cross-thread frees), realloc, use
 * aligned allocations, exit with full caches and are replaced, while one
 * thread reads the statistics (mallinfo2, malloc_stats_print-free
 * counters) and calls malloc_trim, and (with trim) another asks for
 * descriptor compactions (stops of the world: the threads sleep now and
 * then so that some succeed).  Content is checked before each free.
 * Exit 0 when done; TSan reports make tsan.sh fail.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "xalloc.h"
#include "xt.h"

static void nap_us(long us) {
	struct timespec ts = {0, us * 1000};
	nanosleep(&ts, NULL);
}

#define RING 1024
static void *ring[RING];
static size_t ring_sz[RING];
static unsigned ring_head, ring_n;
static pthread_mutex_t ring_lock = PTHREAD_MUTEX_INITIALIZER;
static int stop, trim = 1;

static void stamp(unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i += 64)
		p[i] = (unsigned char)(n + i);
	if (n && (n - 1) % 64 != 0)
		p[n - 1] = (unsigned char)n;
}
static void verify(unsigned char *p, size_t n) {
	for (size_t i = 0; i < n; i += 64)
		if (p[i] != (unsigned char)(n + i))
			goto bad;
	if (n && (n - 1) % 64 != 0 && p[n - 1] != (unsigned char)n)
		goto bad;
	return;
bad:
	fprintf(stderr, "tsan_stress: corrupted block %p (%zu)\n", (void *)p, n);
	abort();
}

static void *worker(void *arg) {
	uint64_t x = (uintptr_t)arg * 0x9e3779b97f4a7c15ull + 1;
	void *mine[64] = {0};
	size_t msz[64];
	for (int it = 0; it < 30000; it++) {
		if (trim && it % 256 == 255)
			nap_us(2000); /* idle now and then: world stops can happen */
		x ^= x << 13, x ^= x >> 7, x ^= x << 17;
		unsigned k = x % 64;
		size_t n = (x >> 8) % (x % 16 == 0 ? 40000 : 600) + 1;
		if (mine[k]) {
			verify(mine[k], msz[k]);
			if (x % 5 == 0) {
				unsigned char *q = xt_realloc(mine[k], n);
				size_t keep = msz[k] < n ? msz[k] : n;
				(void)keep;
				mine[k] = q;
				msz[k] = n;
				stamp(q, n);
				continue;
			}
			/* give it to another thread */
			pthread_mutex_lock(&ring_lock);
			if (ring_n < RING) {
				unsigned slot = (ring_head + ring_n++) % RING;
				ring[slot] = mine[k];
				ring_sz[slot] = msz[k];
				mine[k] = NULL;
			}
			pthread_mutex_unlock(&ring_lock);
			if (mine[k]) {
				xt_free(mine[k]);
				mine[k] = NULL;
			}
		} else {
			void *p = NULL;
			if (x % 11 == 0) {
				if (xt_posix_memalign(&p, (size_t)64 << (x % 6), n))
					p = NULL;
			} else {
				p = xt_malloc(n);
			}
			if (!p)
				abort();
			stamp(p, n);
			mine[k] = p;
			msz[k] = n;
		}
		/* take one from the ring and free it here */
		void *q = NULL;
		size_t qn = 0;
		pthread_mutex_lock(&ring_lock);
		if (ring_n) {
			q = ring[ring_head];
			qn = ring_sz[ring_head];
			ring_head = (ring_head + 1) % RING;
			ring_n--;
		}
		pthread_mutex_unlock(&ring_lock);
		if (q) {
			verify(q, qn);
			xt_free(q);
		}
	}
	/* exit with a full cache and some blocks still owned: free half */
	for (int k = 0; k < 64; k += 2)
		if (mine[k])
			xt_free(mine[k]);
	for (int k = 1; k < 64; k += 2)
		if (mine[k]) {
			pthread_mutex_lock(&ring_lock);
			if (ring_n < RING) {
				unsigned slot = (ring_head + ring_n++) % RING;
				ring[slot] = mine[k];
				ring_sz[slot] = msz[k];
				mine[k] = NULL;
			}
			pthread_mutex_unlock(&ring_lock);
			if (mine[k])
				xt_free(mine[k]);
		}
	return NULL;
}

static void *reader(void *arg) {
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		struct mallinfo2 mi = xt_mallinfo2();
		(void)mi;
		if (trim)
			xt_malloc_trim(0);
		nap_us(200);
	}
	return NULL;
}

static void *compactor(void *arg) {
	(void)arg;
	while (!__atomic_load_n(&stop, __ATOMIC_RELAXED)) {
		xallocctl("compact", NULL, NULL, NULL, 0);
		nap_us(3000);
	}
	return NULL;
}

int main(int argc, char **argv) {
	int rounds = argc > 1 ? atoi(argv[1]) : 6, nthr = argc > 2 ? atoi(argv[2]) : 4;
	trim = argc > 3 ? atoi(argv[3]) : 1; /* 0: no malloc_trim (no idle reclaim from the reader) */
	pthread_t r, c;
	pthread_create(&r, NULL, reader, NULL);
	/* with trim: a burst's survivors, for the compactions to move (their
	 * descriptors sparse over the pool); checked and freed at the end */
	enum { FRAG = 16384 };
	static unsigned char *frag[FRAG];
	for (int i = 0; trim && i < FRAG; i++) {
		if (!(frag[i] = xt_malloc(20000)))
			abort();
		frag[i][0] = (unsigned char)i;
	}
	for (int i = 0; trim && i < FRAG; i++)
		if (i % 16) {
			xt_free(frag[i]);
			frag[i] = NULL;
		}
	if (trim)
		pthread_create(&c, NULL, compactor, NULL);
	for (int round = 0; round < rounds; round++) {
		pthread_t t[64];
		for (int i = 0; i < nthr; i++)
			pthread_create(&t[i], NULL, worker, (void *)(uintptr_t)(round * nthr + i + 1));
		for (int i = 0; i < nthr; i++)
			pthread_join(t[i], NULL);
	}
	__atomic_store_n(&stop, 1, __ATOMIC_RELAXED);
	pthread_join(r, NULL);
	if (trim)
		pthread_join(c, NULL);
	uint64_t epoch = 1, passes = 0, moved = 0;
	size_t len = sizeof passes;
	xallocctl("epoch", NULL, NULL, &epoch, sizeof epoch);
	xallocctl("stats.compact.passes", &passes, &len, NULL, 0);
	len = sizeof moved;
	xallocctl("stats.compact.moved", &moved, &len, NULL, 0);
	printf("tsan_stress: %llu compaction passes, %llu descriptors moved\n", (unsigned long long)passes,
	    (unsigned long long)moved);
	for (int i = 0; i < FRAG; i++)
		if (frag[i]) {
			if (frag[i][0] != (unsigned char)i || xt_malloc_usable_size(frag[i]) < 20000)
				abort();
			xt_free(frag[i]);
		}
	while (ring_n) {
		verify(ring[ring_head], ring_sz[ring_head]);
		xt_free(ring[ring_head]);
		ring_head = (ring_head + 1) % RING;
		ring_n--;
	}
	printf("tsan_stress ok\n");
	return 0;
}
