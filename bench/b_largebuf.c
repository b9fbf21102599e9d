/*
 * b_largebuf -- buffers of 32 KiB to 1 MiB allocated and freed in a loop,
 * as servers do with I/O and serialisation buffers.
 *
 * Usage: b_largebuf [threads=4] [ops=200000] [min=33000] [max=128000]
 *                   [slots=64] [seed=1] [touch=0]
 *
 * Each thread keeps `slots` buffers.  Per op it picks a random slot, checks
 * and frees the buffer there, mallocs one of a random size in [min, max]
 * bytes and stamps its first 8 and last bytes (two cache lines, not every
 * page: the allocator's own cost shows, not the program's writes).  With
 * touch=1 it also writes one byte in every page of the buffer, as a
 * program that fills its buffers does: the peak RSS then counts every
 * page the allocator keeps for reuse (thread caches, free runs).  So
 * every op frees and allocates a block above 32 KiB, which jemalloc's
 * thread caches (and xalloc's before 2026-12-07) do not hold by default.  A
 * corrupted buffer or a NULL exits with status 2.  Prints a checksum.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "b_largebuf";
static unsigned long long ops, lo, hi, slots, seed, touch;

typedef struct {
	unsigned id;
	uint64_t sum;
} targ_t;

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, seed * 1000003u + t->id);
	cslots_t s;
	cslots_init(prog, &s, slots);
	uint64_t sum = 0;
	for (unsigned long long i = 0; i < ops; i++) {
		size_t k = (size_t)crng_below(&r, slots);
		if (s.p[k])
			sum += cslots_free(prog, &s, k);
		size_t n = (size_t)crng_range(&r, lo, hi);
		unsigned char *b = cmalloc(prog, n);
		cslots_put(&s, k, b, n);
		if (touch)
			for (size_t j = 4096; j + 1 < n; j += 4096)
				b[j] = (unsigned char)j;
	}
	cslots_destroy(prog, &s);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[threads=4] [ops=200000] [min=33000] [max=128000] [slots=64] [seed=1] [touch=0]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 4, usage);
	ops = c_arg(argc, argv, 2, 200000, usage);
	lo = c_arg(argc, argv, 3, 33000, usage);
	hi = c_arg(argc, argv, 4, 128000, usage);
	slots = c_arg(argc, argv, 5, 64, usage);
	seed = c_arg(argc, argv, 6, 1, usage);
	touch = c_arg(argc, argv, 7, 0, usage);
	if (threads == 0 || threads > 256 || lo < 16 || hi < lo || slots == 0) {
		fprintf(stderr, "usage: %s %s\n", argv[0], usage);
		return 64;
	}
	targ_t *ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++)
		ta[i].id = i;
	uint64_t sum = crun_threads_sum(prog, threads, worker, ta, sizeof *ta, offsetof(targ_t, sum));
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
