/*
 * b_aligned -- aligned allocations churned at random: buffers aligned for
 * DMA or SIMD, arenas aligned to their size, page-aligned I/O buffers.
 *
 * Usage: b_aligned [ops=2000000] [align=65536] [max=100000] [slots=4096]
 *                  [seed=1]
 *
 * Per op a random slot's block is checked and freed, or an empty slot gets
 * aligned_alloc(align, n) with n random in [1, max], checked for its
 * alignment and stamped at both ends.  About half the slots are used.  A
 * misaligned or corrupted block, or a NULL, exits with status 2.  Prints a
 * checksum.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "b_aligned";

int main(int argc, char **argv) {
	const char *usage = "[ops=2000000] [align=65536] [max=100000] [slots=4096] [seed=1]";
	unsigned long long ops = c_arg(argc, argv, 1, 2000000, usage);
	unsigned long long align = c_arg(argc, argv, 2, 65536, usage);
	unsigned long long maxsz = c_arg(argc, argv, 3, 100000, usage);
	unsigned long long slots = c_arg(argc, argv, 4, 4096, usage);
	unsigned long long seed = c_arg(argc, argv, 5, 1, usage);
	if (align == 0 || (align & (align - 1)) || maxsz == 0 || slots == 0) {
		fprintf(stderr, "usage: %s %s (align a power of two)\n", argv[0], usage);
		return 64;
	}
	crng_t r;
	crng_seed(&r, seed);
	cslots_t s;
	cslots_init(prog, &s, slots);
	uint64_t sum = 0;
	for (unsigned long long i = 0; i < ops; i++) {
		size_t k = (size_t)crng_below(&r, slots);
		if (s.p[k]) {
			sum += cslots_free(prog, &s, k);
			continue;
		}
		size_t n = (size_t)crng_range(&r, 1, maxsz);
		unsigned char *b = aligned_alloc(align, n);
		if (b == NULL)
			cfail(prog, "aligned_alloc returned NULL");
		if ((uintptr_t)b & (align - 1))
			cfail(prog, "misaligned block");
		cslots_put(&s, k, b, n);
	}
	cslots_destroy(prog, &s);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
