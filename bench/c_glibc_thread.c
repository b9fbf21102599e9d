/*
 * c_glibc_thread -- the glibc-thread pattern (after glibc's benchtests
 * bench-malloc-thread): each thread replaces random blocks of a small
 * working set with blocks of random sizes, most of them small.
 *
 * Usage: c_glibc_thread [threads=4] [iterations=20000000] [seed=1] [round=1]
 *
 * Each thread keeps 1024 slots.  Per iteration it picks a slot at random,
 * checks and frees the block there and allocates a new one, stamped, of a
 * size drawn from an inverse-square distribution on [4, 32768] bytes
 * (density proportional to 1/s^2: half the blocks are under 8 bytes, one
 * in 64 above 256, one in 1000 above 4 KiB).  The sizes come from a table
 * of 8192 draws made before the loop, so the loop is malloc, free and the
 * stamps.  A corrupted block exits with status 2.  Prints a checksum.
 *
 * round (a power of two up to 4096, default 1): every size is rounded up
 * to a multiple of it.  With 64 or 128, in an allocator whose size classes
 * are multiples of it from there on (xalloc's, jemalloc's), two blocks
 * never share a cache line (64) or a pair of lines (128) (bench/README.md,
 * "glibc-thread: threads that share an arena").
 */
#include <stddef.h>

#include "c_common.h"

#define WSET 1024
#define NSIZES 8192
#define SIZE_MIN 4.0
#define SIZE_MAX_ 32768.0

static const char *prog = "c_glibc_thread";
static unsigned long long iterations;
static size_t round_to = 1;

typedef struct {
	uint64_t seed, sum;
} targ_t;

/* Stamps: the tag's low byte first, its next byte last (cstamp's 8-byte
 * tag would overlap the last byte of an 8-byte block, a common size here). */
static void stamp(unsigned char *p, size_t n, uint64_t tag) {
	p[0] = (unsigned char)tag;
	p[n - 1] = (unsigned char)(tag >> 8) ^ 0x5A;
}

static int stamp_ok(const unsigned char *p, size_t n, uint64_t tag) {
	return p[0] == (unsigned char)tag && p[n - 1] == ((unsigned char)(tag >> 8) ^ 0x5A);
}

/* Inverse of the distribution function of the density c / s^2 on [lo, hi]:
 * F(s) = (1/lo - 1/s) / (1/lo - 1/hi), so s = 1 / (1/lo - u (1/lo - 1/hi)). */
static size_t draw_size(crng_t *r) {
	double u = (double)(crng_next(r) >> 11) / (double)(1ull << 53);
	double s = 1.0 / (1.0 / SIZE_MIN - u * (1.0 / SIZE_MIN - 1.0 / SIZE_MAX_));
	size_t n = (size_t)s;
	return n < (size_t)SIZE_MIN ? (size_t)SIZE_MIN : n > (size_t)SIZE_MAX_ ? (size_t)SIZE_MAX_ : n;
}

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	unsigned char **slot = cmalloc(prog, WSET * sizeof *slot);
	size_t *len = cmalloc(prog, WSET * sizeof *len);
	uint64_t *tag = cmalloc(prog, WSET * sizeof *tag);
	uint32_t *sizes = cmalloc(prog, NSIZES * sizeof *sizes);
	for (unsigned i = 0; i < NSIZES; i++)
		sizes[i] = (uint32_t)draw_size(&r);
	for (unsigned i = 0; i < WSET; i++)
		slot[i] = NULL;
	uint64_t sum = 0;
	for (unsigned long long it = 0; it < iterations; it++) {
		uint64_t x = crng_next(&r);
		unsigned i = (unsigned)(x % WSET);
		if (slot[i]) {
			if (!stamp_ok(slot[i], len[i], tag[i]))
				cfail(prog, "block corrupted");
			free(slot[i]);
		}
		size_t n = (sizes[(x >> 32) % NSIZES] + round_to - 1) & ~(size_t)(round_to - 1);
		slot[i] = cmalloc(prog, n);
		len[i] = n;
		tag[i] = ctag(x, it);
		stamp(slot[i], n, tag[i]);
		sum += n;
	}
	for (unsigned i = 0; i < WSET; i++) {
		if (slot[i] && !stamp_ok(slot[i], len[i], tag[i]))
			cfail(prog, "block corrupted");
		free(slot[i]);
	}
	free(sizes);
	free(tag);
	free(len);
	free(slot);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=4] [iterations=20000000] [seed=1] [round=1]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 4, u);
	iterations = c_arg(argc, argv, 2, 20000000, u);
	uint64_t seed = c_arg(argc, argv, 3, 1, u);
	round_to = (size_t)c_arg(argc, argv, 4, 1, u);
	if (round_to == 0 || (round_to & (round_to - 1)) || round_to > 4096)
		cfail(prog, "round must be a power of two up to 4096");
	if (!threads)
		cfail(prog, "need threads >= 1");
	targ_t *ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++)
		ta[i].seed = seed * 1000003u + i * 7919u;
	uint64_t sum = crun_threads_sum(prog, threads, worker, ta, sizeof *ta, offsetof(targ_t, sum));
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
