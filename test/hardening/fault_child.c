/*
 * fault_child: runs under LD_PRELOAD="fault_shim.so libxalloc.so" (see
 * faults.sh).  Modes:
 *   work      a random malloc/realloc/free workload with content checks
 *             (used with pthread_create or madvise failing)
 *   mmapfail  phase 1: allocate normally and free it all; phase 2: every
 *             anonymous mmap fails -- requests that need new memory
 *             (small, large, huge, aligned, realloc growth, calloc) return
 *             NULL with errno ENOMEM, or succeed from memory already held;
 *             live blocks stay intact; phase 3: mmap works again -- the
 *             same requests succeed.
 *   aslimit   RLIMIT_AS: small blocks until ENOMEM, free all, then huge,
 *             aligned and large requests must fit (freed chunks reused).
 *   purgefail (with madvise failing) freed pages stay counted as dirty,
 *             none as purged, malloc_trim returns 0.
 * Exit 0 when every check held; "fault_child: FAIL: ..." otherwise.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#define FAIL(...) \
	do { \
		printf("fault_child: FAIL: " __VA_ARGS__); \
		printf("\n"); \
		exit(1); \
	} while (0)

static unsigned long long rng = 0x2545F4914F6CDD1Dull;
static unsigned long long rnd(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

static double seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Up to iters checked steps; after secs (0: no limit) it stops once
 * min_iters are done, so a loaded machine does less work, never less than
 * min_iters. */
static void work(int iters, int min_iters, double secs) {
	enum { N = 2048 };
	static unsigned char *v[N];
	static size_t sz[N];
	double until = seconds() + secs;
	for (int it = 0; it < iters; it++) {
		if (secs > 0 && it >= min_iters && (it & 1023) == 0 && seconds() > until)
			break;
		int i = (int)(rnd() % N);
		if (v[i]) {
			if (v[i][0] != (unsigned char)i || v[i][sz[i] - 1] != (unsigned char)i)
				FAIL("block %d corrupted", i);
			if (rnd() % 4 == 0) {
				size_t n = 1 + rnd() % 100000;
				unsigned char *q = realloc(v[i], n);
				if (!q)
					FAIL("realloc returned NULL");
				v[i] = q;
				sz[i] = n;
				memset(q, (unsigned char)i, n);
				continue;
			}
			free(v[i]);
			v[i] = NULL;
		} else {
			size_t n = 1 + rnd() % (rnd() % 8 == 0 ? 300000 : 1000);
			v[i] = malloc(n);
			if (!v[i])
				FAIL("malloc(%zu) returned NULL", n);
			sz[i] = n;
			memset(v[i], (unsigned char)i, n);
		}
	}
	for (int i = 0; i < N; i++) {
		free(v[i]);
		v[i] = NULL;
	}
}

/* One request of each kind; returns how many succeeded; failures must be
 * NULL + ENOMEM (posix_memalign: ENOMEM returned). */
static void *held[64];
static int try_all(int phase) {
	int ok = 0, k = 0;
	size_t sizes[] = {24, 3000, 100000, 3 << 20, 64 << 20};
	for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
		errno = 0;
		void *p = malloc(sizes[s]);
		if (p) {
			memset(p, 0x11, sizes[s]);
			held[k++] = p;
			ok++;
		} else if (errno != ENOMEM)
			FAIL("phase %d: malloc(%zu) NULL with errno %d", phase, sizes[s], errno);
		errno = 0;
		p = calloc(1, sizes[s]);
		if (p) {
			held[k++] = p;
			ok++;
		} else if (errno != ENOMEM)
			FAIL("phase %d: calloc NULL with errno %d", phase, errno);
	}
	void *p = NULL;
	int e = posix_memalign(&p, 2 << 20, 5 << 20);
	if (!e) {
		held[k++] = p;
		ok++;
	} else if (e != ENOMEM)
		FAIL("phase %d: posix_memalign %d", phase, e);
	errno = 0;
	p = aligned_alloc(65536, 200000);
	if (p) {
		held[k++] = p;
		ok++;
	} else if (errno != ENOMEM)
		FAIL("phase %d: aligned_alloc errno %d", phase, errno);
	held[k] = NULL;
	return ok;
}
static void free_held(void) {
	for (int i = 0; held[i]; i++) {
		free(held[i]);
		held[i] = NULL;
	}
}

static int mmapfail(void) {
	void (*set)(int) = (void (*)(int))dlsym(RTLD_DEFAULT, "xshim_mmap_fail");
	long (*nfailed)(void) = (long (*)(void))dlsym(RTLD_DEFAULT, "xshim_nfailed");
	if (!set || !nfailed)
		FAIL("fault_shim.so is not preloaded");
	/* phase 1 */
	work(50000, 50000, 0);
	int all = try_all(1);
	free_held();
	if (all != 12)
		FAIL("phase 1: only %d of 12 requests succeeded", all);
	/* live blocks that must survive phase 2 */
	char *keep_small = malloc(100), *keep_large = malloc(200000), *keep_huge = malloc(8 << 20);
	memset(keep_small, 1, 100), memset(keep_large, 2, 200000), memset(keep_huge, 3, 8 << 20);
	/* phase 2 */
	set(1);
	int got = try_all(2);
	/* realloc growth of a huge block needs new address space: NULL keeps it */
	errno = 0;
	char *r = realloc(keep_huge, 256 << 20);
	if (r)
		keep_huge = r;
	else if (errno != ENOMEM)
		FAIL("phase 2: realloc errno %d", errno);
	/* fill what is held until even cached memory runs out */
	void *many[100000];
	int nm = 0;
	while (nm < 100000 && (many[nm] = malloc(4000)) != NULL)
		nm++;
	if (nm == 100000)
		FAIL("phase 2: 400 MB allocated with mmap failing");
	if (errno != ENOMEM)
		FAIL("phase 2: NULL without ENOMEM");
	long nf = nfailed();
	free_held();
	for (int i = 0; i < nm; i++)
		free(many[i]);
	set(0);
	if (nf == 0)
		FAIL("phase 2: no mmap was refused (the shim did not act)");
	/* phase 3 */
	for (int i = 0; i < 100; i++)
		if (keep_small[i] != 1)
			FAIL("live small block changed");
	for (int i = 0; i < 200000; i += 997)
		if (keep_large[i] != 2)
			FAIL("live large block changed");
	for (int i = 0; i < 8 << 20; i += 4093)
		if (keep_huge[i] != 3)
			FAIL("live huge block changed");
	all = try_all(3);
	if (all != 12)
		FAIL("phase 3: only %d of 12 requests succeeded after mmap recovered", all);
	free_held();
	r = realloc(keep_huge, 256 << 20);
	if (!r)
		FAIL("phase 3: realloc to 256 MiB failed");
	free(r), free(keep_small), free(keep_large);
	work(50000, 50000, 0);
	printf("mmapfail ok: phase 2 had %d of 12 kinds + %d small blocks from held memory, %ld mmaps refused\n", got,
	    nm, nf);
	return 0;
}

/* Read VmSize from /proc/self/status (bytes). */
static size_t vmsize(void) {
	FILE *f = fopen("/proc/self/status", "r");
	char line[256];
	size_t kb = 0;
	while (f && fgets(line, sizeof line, f))
		if (sscanf(line, "VmSize: %zu kB", &kb) == 1)
			break;
	if (f)
		fclose(f);
	return kb * 1024;
}

/* Under RLIMIT_AS: fill the space with small blocks until ENOMEM, free
 * them all, then a huge block, a big aligned block and large blocks must
 * fit: the freed chunks have to be given back (unmapped) for address
 * space of another shape. */
static int aslimit(void) {
	struct rlimit rl;
	size_t lim = vmsize() + (96 << 20);
	rl.rlim_cur = rl.rlim_max = lim;
	if (setrlimit(RLIMIT_AS, &rl))
		FAIL("setrlimit");
	static void *v[1 << 22];
	size_t n = 0;
	while (n < (1 << 22) && (v[n] = malloc(48)) != NULL)
		memset(v[n++], 7, 48);
	if (n == (1 << 22))
		FAIL("no ENOMEM after 4M small blocks");
	if (errno != ENOMEM)
		FAIL("NULL without ENOMEM");
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	malloc_trim(0);
	size_t big = 64 << 20;
	char *h = malloc(big);
	if (!h)
		FAIL("after freeing %zu small blocks, malloc(64 MiB) fails (freed chunks not reusable)", n);
	memset(h, 1, big);
	free(h);
	void *a = NULL;
	if (posix_memalign(&a, 4 << 20, 48 << 20))
		FAIL("posix_memalign(4 MiB, 48 MiB) fails after recovery");
	free(a);
	for (int i = 0; i < 30; i++)
		if (!(v[i] = malloc(2 << 20)))
			FAIL("large block %d fails after recovery", i);
	for (int i = 0; i < 30; i++)
		free(v[i]);
	printf("aslimit ok: %zu small blocks, then 64 MiB huge, 48 MiB aligned, 30 x 2 MiB\n", n);
	return 0;
}

/* madvise fails on every call (FAULT_MADVISE=1): a purge releases
 * nothing, so the statistics must say so -- the freed pages are still
 * dirty, no page counts as purged, and malloc_trim reports nothing
 * released. */
static int purgefail(void) {
	int (*ctl)(const char *, void *, size_t *, void *, size_t) =
	    (int (*)(const char *, void *, size_t *, void *, size_t))dlsym(RTLD_DEFAULT, "xallocctl");
	if (!ctl)
		FAIL("xallocctl not found: is libxalloc preloaded?");
	enum { NB = 32, SZ = 256 << 10 };
	static void *v[NB];
	for (int i = 0; i < NB; i++) {
		v[i] = malloc(SZ);
		if (!v[i])
			FAIL("malloc");
		memset(v[i], 1, SZ);
	}
	for (int i = 0; i < NB; i++)
		free(v[i]);
	int trimmed = malloc_trim(0);
	uint64_t epoch = 1, purged;
	size_t dirty, zl = sizeof(size_t), ul = sizeof(uint64_t);
	if (ctl("epoch", NULL, NULL, &epoch, sizeof(epoch)) || ctl("stats.dirty", &dirty, &zl, NULL, 0) ||
	    ctl("stats.arenas.4096.purged", &purged, &ul, NULL, 0))
		FAIL("xallocctl");
	if (purged != 0)
		FAIL("every madvise failed, yet %llu pages are counted as purged", (unsigned long long)purged);
	if (dirty < (size_t)NB * SZ)
		FAIL("stats.dirty %zu < the %d bytes freed and never released", dirty, NB * SZ);
	if (trimmed != 0)
		FAIL("malloc_trim returned %d though madvise failed on every call", trimmed);
	printf("purgefail ok: dirty %zu bytes, 0 pages purged, malloc_trim 0\n", dirty);
	return 0;
}

int main(int argc, char **argv) {
	const char *m = argc > 1 ? argv[1] : "";
	if (!strcmp(m, "work")) {
		/* 400,000 steps (~3 s alone), or at least 50,000 within 20 s */
		work(400000, 50000, 20);
		printf("work ok\n");
		return 0;
	}
	if (!strcmp(m, "mmapfail"))
		return mmapfail();
	if (!strcmp(m, "aslimit"))
		return aslimit();
	if (!strcmp(m, "purgefail"))
		return purgefail();
	fprintf(stderr, "usage: fault_child work|mmapfail|aslimit|purgefail\n");
	return 2;
}
