/*
 * c_malloc_large -- malloc-large pattern: blocks of 5..25 MiB allocated,
 * touched and freed in a loop.
 *
 * Usage: c_malloc_large [iterations=400] [slots=4] [seed=1]
 *
 * `slots` slots, initially empty.  Each iteration picks a random slot,
 * checks and frees its block, then mallocs a new block of 5..25 MiB
 * (random, not page-aligned) and writes one byte in every 4 KiB page
 * plus a tag at both ends, so every page is faulted in.  A corrupted
 * block exits with status 2.
 */
#include "c_common.h"

static const char *prog = "c_malloc_large";

int main(int argc, char **argv) {
	const char *u = "[iterations=400] [slots=4] [seed=1]";
	unsigned long long iterations = c_arg(argc, argv, 1, 400, u);
	unsigned long long nslots = c_arg(argc, argv, 2, 4, u);
	crng_t r;
	crng_seed(&r, c_arg(argc, argv, 3, 1, u));
	if (!nslots)
		cfail(prog, "need slots >= 1");
	unsigned char **p = cmalloc(prog, nslots * sizeof *p);
	size_t *n = cmalloc(prog, nslots * sizeof *n);
	memset(p, 0, nslots * sizeof *p);
	uint64_t sum = 0;
	for (unsigned long long it = 0; it <= iterations; it++) {
		size_t s = it < iterations ? (size_t)crng_below(&r, nslots) : 0;
		for (size_t k = it < iterations ? s : 0; k < (it < iterations ? s + 1 : nslots); k++) {
			if (!p[k])
				continue;
			if (!ccheck(p[k], n[k], ctag(n[k], (uintptr_t)p[k])) || p[k][n[k] / 2] != (unsigned char)n[k])
				cfail(prog, "block corrupted");
			sum += n[k];
			free(p[k]);
			p[k] = NULL;
		}
		if (it == iterations)
			break;
		n[s] = (size_t)crng_range(&r, 5u << 20, 25u << 20);
		p[s] = cmalloc(prog, n[s]);
		for (size_t off = 0; off < n[s]; off += 4096)
			p[s][off] = (unsigned char)off;
		p[s][n[s] / 2] = (unsigned char)n[s];
		cstamp(p[s], n[s], ctag(n[s], (uintptr_t)p[s]));
	}
	free(p);
	free(n);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
