/*
 * calloc_child -- run under LD_PRELOAD by test_calloc.c.  Standard malloc
 * API only, so it runs against any allocator (and fails against the
 * library before known-zero tracking and big-block reuse).
 *
 *   calloc_child zero       calloc after free of a dirty block of the same
 *                           (and of nearby) sizes, small to 100 MiB, after
 *                           splits, shrinking reallocs, malloc_trim and a
 *                           wait past decay; every byte must read zero
 *   calloc_child sparse     calloc(64 MiB), touch one byte per 64 KiB, free;
 *                           5 times: prints the largest RSS growth (KiB)
 *   calloc_child reuse N    N cycles of malloc/free of 5..25 MiB blocks;
 *                           prints the mmap and munmap calls made (this
 *                           program defines mmap and munmap, so the
 *                           allocator's calls come here first)
 *   calloc_child large N    malloc-large: 4 slots of 5..25 MiB blocks, each
 *                           step frees a random slot's block and mallocs a
 *                           new one, writing every page; N steps after 20
 *                           to warm up; prints the page faults of the N
 *                           steps, the pages written and the peak RSS
 *
 * Exit 0 when every check passed; "calloc_child: FAIL: ..." and exit 1
 * otherwise.
 */
#include <dlfcn.h>
#include <malloc.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

static volatile long n_mmap, n_munmap;

/* Interpose the allocator's memory mappings (the dynamic linker finds the
 * executable's definitions first); go to the kernel directly. */
void *mmap(void *addr, size_t len, int prot, int flags, int fd, off_t off) {
	n_mmap++;
	return (void *)syscall(SYS_mmap, addr, len, prot, flags, fd, off);
}

int munmap(void *addr, size_t len) {
	n_munmap++;
	return (int)syscall(SYS_munmap, addr, len);
}

static void fail(const char *fmt, ...) {
	va_list ap;
	va_start(ap, fmt);
	fprintf(stderr, "calloc_child: FAIL: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(1);
}

static long rss_kib(void) {
	FILE *f = fopen("/proc/self/statm", "r");
	long size = 0, res = 0;
	if (f == NULL || fscanf(f, "%ld %ld", &size, &res) != 2)
		fail("cannot read /proc/self/statm");
	fclose(f);
	return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static unsigned long nchecked;

/* Every byte of p[0..n) must be zero. */
static void check_zero(const unsigned char *p, size_t n, const char *what, size_t dirty_size) {
	if (p == NULL)
		fail("%s: calloc(%zu) returned NULL", what, n);
	size_t i = 0;
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, p + i, 8);
		if (w)
			break;
	}
	for (; i < n; i++)
		if (p[i])
			fail("%s: calloc(%zu) after a dirty block of %zu: byte %zu is 0x%02x", what, n, dirty_size, i,
			    p[i]);
	nchecked++;
}

/* A dirty block of size bytes: every byte written (dense) or one per page
 * (sparse: the block is then mostly absent, so calloc's kernel path runs). */
static void *dirty(size_t size, int sparse) {
	unsigned char *p = malloc(size);
	if (p == NULL)
		fail("malloc(%zu) returned NULL", size);
	if (sparse) {
		for (size_t i = 0; i < size; i += 65536)
			p[i] = 0xa5;
		p[size - 1] = 0xa5;
	} else {
		memset(p, 0xa5, size);
	}
	return p;
}

static void cycle(size_t dirty_size, size_t calloc_size, int sparse, const char *what) {
	free(dirty(dirty_size, sparse));
	unsigned char *q = calloc(1, calloc_size);
	check_zero(q, calloc_size, what, dirty_size);
	/* leave it dirty for the next round */
	memset(q, 0x5a, calloc_size);
	free(q);
}

static const size_t sizes[] = {
    1, 100, 1000, 4096, 16384,                                  /* small */
    20000, 65536, 300000, 1 << 20, 4u << 20,                    /* large */
    (4u << 20) + 4096, 5u << 20, 8u << 20, 64u << 20, 72u << 20 /* huge (72: above the
	                                              dirty-cache entry limit) */
};
#define NSIZES (sizeof(sizes) / sizeof(sizes[0]))

static int mode_zero(void) {
	for (int sparse = 0; sparse < 2; sparse++) {
		for (size_t i = 0; i < NSIZES; i++) {
			size_t s = sizes[i];
			cycle(s, s, sparse, "same size");
			if (s > (8u << 20)) {
				/* the biggest: fewer rounds (their cost is bandwidth) */
				cycle(s, s - 4096, !sparse, "a page smaller");
				continue;
			}
			cycle(s, s, sparse, "same size again");
			if (s > 4096) {
				cycle(s, s - 4096, sparse, "a page smaller");
				cycle(s, s / 2 + 1, sparse, "half");
				cycle(s / 2, s, sparse, "double");
			}
		}
	}
	/* A big dirty block split for a smaller one, the rest reused next. */
	free(dirty(48u << 20, 0));
	unsigned char *a = calloc(1, 9u << 20);
	check_zero(a, 9u << 20, "front of a split", 48u << 20);
	unsigned char *b = calloc(1, 30u << 20);
	check_zero(b, 30u << 20, "rest of a split", 48u << 20);
	free(a);
	free(b);
	/* A huge block shrunk by realloc keeps old bytes past its new size in
	 * its mapping: a calloc that reuses the mapping must clear them. */
	unsigned char *r = dirty(20u << 20, 0);
	r = realloc(r, 9u << 20);
	if (r == NULL)
		fail("realloc shrink returned NULL");
	free(r);
	unsigned char *c = calloc(1, 11u << 20);
	check_zero(c, 11u << 20, "after a shrinking realloc", 20u << 20);
	/* Grow a calloc'd block: the old part stays zero. */
	c = realloc(c, 30u << 20);
	if (c == NULL)
		fail("realloc grow returned NULL");
	check_zero(c, 11u << 20, "calloc'd part after realloc grow", 0);
	free(c);
	/* Released memory (retained or lazy, by conf), then reused. */
	for (size_t i = 0; i < NSIZES; i++) {
		free(dirty(sizes[i], 0));
		malloc_trim(0);
		unsigned char *q = calloc(1, sizes[i]);
		check_zero(q, sizes[i], "after malloc_trim", sizes[i]);
		free(q);
	}
	/* Past the decay time of a short decay_ms (the test sets decay_ms:1). */
	for (size_t i = 0; i < NSIZES; i++) {
		free(dirty(sizes[i], i & 1));
		struct timespec ts = {0, 20 * 1000 * 1000};
		nanosleep(&ts, NULL);
		unsigned char *q = calloc(1, sizes[i]);
		check_zero(q, sizes[i], "after waiting", sizes[i]);
		free(q);
	}
	/* Many live blocks of mixed sizes freed and callocated again. */
	void *live[64];
	for (int k = 0; k < 64; k++)
		live[k] = dirty(sizes[k % NSIZES] / (1 + k % 3) + 16, k & 1);
	for (int k = 0; k < 64; k++)
		free(live[k]);
	for (int k = 0; k < 64; k++) {
		size_t s = sizes[(k * 7) % NSIZES] / (1 + k % 2) + 16;
		live[k] = calloc(1, s);
		check_zero(live[k], s, "mixed", 0);
	}
	for (int k = 0; k < 64; k++)
		free(live[k]);
	printf("zero: %lu callocs checked\n", nchecked);
	return 0;
}

static int mode_sparse(void) {
	const size_t size = 64u << 20;
	long r0 = rss_kib(), worst = 0;
	for (int round = 0; round < 5; round++) {
		unsigned char *p = calloc(1, size);
		if (p == NULL)
			fail("calloc(64 MiB) returned NULL");
		for (size_t i = 0; i < size; i += 65536) {
			if (p[i])
				fail("calloc memory not zero at %zu", i);
			p[i] = 1;
		}
		long grow = rss_kib() - r0;
		if (grow > worst)
			worst = grow;
		free(p);
	}
	printf("sparse: rss growth %ld KiB\n", worst);
	return 0;
}

/* 400 callocs of 100 000 bytes (a class the thread cache keeps), first
 * and last byte read and one written: the pages in between must not
 * become resident (a cache miss must not memset fresh pages). */
static int mode_midsparse(void) {
	enum { N = 400, SZ = 100000 };
	static unsigned char *p[N];
	long r0 = rss_kib();
	for (int i = 0; i < N; i++) {
		p[i] = calloc(1, SZ);
		if (p[i] == NULL)
			fail("calloc(%d) returned NULL", SZ);
		if (p[i][0] || p[i][SZ - 1])
			fail("calloc memory not zero in block %d", i);
		p[i][0] = 1;
	}
	long grow = rss_kib() - r0;
	for (int i = 0; i < N; i++)
		free(p[i]);
	printf("midsparse: rss growth %ld KiB\n", grow);
	return 0;
}

static int mode_reuse(long n) {
	uint64_t x = 88172645463325252u;
	free(malloc(30u << 20)); /* warm up: the first mapping */
	long m0 = n_mmap, u0 = n_munmap;
	for (long i = 0; i < n; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		size_t size = (5u << 20) + (size_t)(x % (20u << 20));
		unsigned char *p = malloc(size);
		if (p == NULL)
			fail("malloc(%zu) returned NULL", size);
		p[0] = p[size - 1] = 1;
		free(p);
	}
	printf("reuse: %ld cycles, mmap %ld munmap %ld\n", n, n_mmap - m0, n_munmap - u0);
	return 0;
}

static int mode_large(long n) {
	enum { SLOTS = 4, WARM = 20 };
	unsigned char *p[SLOTS] = {0};
	size_t size[SLOTS] = {0};
	uint64_t x = 88172645463325252u;
	long faults = 0, pages = 0;
	for (long i = 0; i < WARM + n; i++) {
		struct rusage r0, r1;
		if (i == WARM)
			getrusage(RUSAGE_SELF, &r0);
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		unsigned s = (unsigned)(x % SLOTS);
		if (p[s] && (p[s][0] != (unsigned char)size[s] || p[s][size[s] - 1] != (unsigned char)(size[s] >> 8)))
			fail("block of %zu bytes corrupted", size[s]);
		free(p[s]);
		size[s] = (5u << 20) + (size_t)((x >> 8) % (20u << 20));
		if ((p[s] = malloc(size[s])) == NULL)
			fail("malloc(%zu) returned NULL", size[s]);
		for (size_t off = 0; off < size[s]; off += 4096)
			p[s][off] = 1;
		p[s][0] = (unsigned char)size[s];
		p[s][size[s] - 1] = (unsigned char)(size[s] >> 8);
		if (i >= WARM)
			pages += (long)((size[s] + 4095) / 4096);
		if (i == WARM + n - 1) {
			getrusage(RUSAGE_SELF, &r1);
			faults = r1.ru_minflt + r1.ru_majflt - r0.ru_minflt - r0.ru_majflt;
		}
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	for (unsigned s = 0; s < SLOTS; s++)
		free(p[s]);
	printf("large: %ld steps, faults %ld pages %ld peak_rss_kib %ld\n", n, faults, pages, ru.ru_maxrss);
	return 0;
}

/* The harness sets XCHILD_EXPECT to the preloaded library's file name:
 * malloc must come from it, or nothing here tests xalloc. */
static void check_preload(void) {
	const char *want = getenv("XCHILD_EXPECT");
	if (want == NULL)
		return;
	Dl_info info;
	void *(*volatile m)(size_t) = malloc;
	if (dladdr((void *)m, &info) == 0 || info.dli_fname == NULL || strstr(info.dli_fname, want) == NULL) {
		fprintf(stderr, "calloc_child: malloc is not from %s\n", want);
		exit(99);
	}
}

int main(int argc, char **argv) {
	check_preload();
	if (argc >= 2 && !strcmp(argv[1], "zero"))
		return mode_zero();
	if (argc >= 2 && !strcmp(argv[1], "sparse"))
		return mode_sparse();
	if (argc >= 2 && !strcmp(argv[1], "midsparse"))
		return mode_midsparse();
	if (argc >= 3 && !strcmp(argv[1], "reuse"))
		return mode_reuse(atol(argv[2]));
	if (argc >= 3 && !strcmp(argv[1], "large"))
		return mode_large(atol(argv[2]));
	fprintf(stderr, "usage: calloc_child zero | sparse | reuse N | large N\n");
	return 2;
}
