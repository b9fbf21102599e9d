/*
 * c_alloc_test -- alloc-test pattern: random sizes, random-order frees,
 * several threads, each on its own blocks.
 *
 * Usage: c_alloc_test [threads=4] [rounds=2500] [slots=2000] [seed=1]
 *
 * Each thread owns `slots` slots.  A round fills every empty slot with a
 * new block (70% 16..128 B, 25% 129..1024 B, 5% 1..16 KiB; each stamped),
 * then checks and frees a random half of the slots in a random order.
 * At the end every block left is checked and freed.  A corrupted block
 * exits with status 2.  Prints a checksum.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "c_alloc_test";
static unsigned long long rounds, nslots;

typedef struct {
	uint64_t seed, sum;
} targ_t;

static size_t pick_size(crng_t *r) {
	uint64_t x = crng_below(r, 100);
	if (x < 70)
		return crng_range(r, 16, 128);
	if (x < 95)
		return crng_range(r, 129, 1024);
	return crng_range(r, 1025, 16384);
}

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	unsigned char **p = cmalloc(prog, nslots * sizeof *p);
	uint32_t *n = cmalloc(prog, nslots * sizeof *n);
	uint32_t *order = cmalloc(prog, nslots * sizeof *order);
	memset(p, 0, nslots * sizeof *p);
	for (size_t i = 0; i < nslots; i++)
		order[i] = (uint32_t)i;
	uint64_t sum = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		for (size_t i = 0; i < nslots; i++) {
			if (p[i])
				continue;
			n[i] = (uint32_t)pick_size(&r);
			p[i] = cmalloc(prog, n[i]);
			cstamp(p[i], n[i], ctag(n[i], (uintptr_t)&p[i]));
		}
		/* a random half, in random order (partial Fisher-Yates) */
		for (size_t i = 0; i < nslots / 2; i++) {
			size_t j = i + (size_t)crng_below(&r, nslots - i);
			uint32_t s = order[i];
			order[i] = order[j];
			order[j] = s;
			s = order[i];
			if (!ccheck(p[s], n[s], ctag(n[s], (uintptr_t)&p[s])))
				cfail(prog, "block corrupted");
			sum += n[s];
			free(p[s]);
			p[s] = NULL;
		}
	}
	for (size_t i = 0; i < nslots; i++) {
		if (p[i] && !ccheck(p[i], n[i], ctag(n[i], (uintptr_t)&p[i])))
			cfail(prog, "block corrupted at the end");
		free(p[i]);
	}
	free(p);
	free(n);
	free(order);
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=4] [rounds=2500] [slots=2000] [seed=1]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 4, u);
	rounds = c_arg(argc, argv, 2, 2500, u);
	nslots = c_arg(argc, argv, 3, 2000, u);
	uint64_t seed = c_arg(argc, argv, 4, 1, u);
	if (!threads || nslots < 2)
		cfail(prog, "need threads >= 1 and slots >= 2");
	targ_t *a = cmalloc(prog, threads * sizeof *a);
	for (unsigned i = 0; i < threads; i++)
		a[i].seed = seed * 1000 + i;
	uint64_t sum = crun_threads_sum(prog, threads, worker, a, sizeof *a, offsetof(targ_t, sum));
	free(a);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
