/*
 * b_trim -- a program that calls malloc_trim(0) every few operations, as
 * stress-ng's malloc stressor does and as some servers do after every
 * request to keep glibc's heap small.
 *
 * Usage: b_trim [ops=2000000] [trim_every=8] [slots=4096] [max=65536]
 *               [seed=1] [threads=1]
 *
 * Each thread keeps `slots` slots.  Per op it picks a random slot: a
 * used slot's block is checked and freed, an empty one gets a block of a
 * random size in [1, max] bytes, stamped at both ends and written once per
 * 4 KiB page in between (a program uses what it allocates, so released
 * pages fault in again).  Every `trim_every` ops the thread calls
 * malloc_trim(0); 0 means never.  So about half the slots are used: the
 * heap holds slots/2 blocks of 32 KiB on average, 64 MiB per thread with
 * the defaults.  A corrupted block or a NULL exits with status 2.  Prints
 * a checksum.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stddef.h>

#include "c_common.h"

static const char *prog = "b_trim";
static unsigned long long ops, trim_every, slots, maxsz, seed;

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
	for (unsigned long long i = 1; i <= ops; i++) {
		size_t k = (size_t)crng_below(&r, slots);
		if (s.p[k]) {
			sum += cslots_free(prog, &s, k);
		} else {
			size_t n = (size_t)crng_range(&r, 1, maxsz);
			unsigned char *b = cmalloc(prog, n);
			for (size_t j = 4096; j + 1 < n; j += 4096)
				b[j] = (unsigned char)j;
			cslots_put(&s, k, b, n);
		}
		if (trim_every && i % trim_every == 0)
			(void)malloc_trim(0);
	}
	cslots_destroy(prog, &s);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[ops=2000000] [trim_every=8] [slots=4096] [max=65536] [seed=1] [threads=1]";
	ops = c_arg(argc, argv, 1, 2000000, usage);
	trim_every = c_arg(argc, argv, 2, 8, usage);
	slots = c_arg(argc, argv, 3, 4096, usage);
	maxsz = c_arg(argc, argv, 4, 65536, usage);
	seed = c_arg(argc, argv, 5, 1, usage);
	unsigned threads = (unsigned)c_arg(argc, argv, 6, 1, usage);
	if (threads == 0 || threads > 256 || slots == 0 || maxsz == 0) {
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
