/*
 * b_resize -- realloc of small blocks picked at random among many.
 *
 * Usage: b_resize [steps=10000000] [blocks=4096] [max_size=2048] [seed=1]
 *
 * `blocks` blocks start at 16 bytes.  Each step picks one at random and
 * resizes it with realloc to a random size of 16..max_size bytes (so most
 * resizes move the block to another size class and copy it), then checks
 * the bytes that were kept (the stamp's first 8 bytes and, for a block that
 * did not shrink below its old size, the old last byte) and stamps the new
 * size.  The pattern of a table of strings or small vectors edited in
 * place.  A corrupted block exits with status 2; prints a checksum.
 */
#include "c_common.h"

static const char *prog = "b_resize";

int main(int argc, char **argv) {
	const char *usage = "b_resize [steps] [blocks] [max_size] [seed]";
	unsigned long long steps = c_arg(argc, argv, 1, 10000000, usage);
	unsigned long long nblocks = c_arg(argc, argv, 2, 4096, usage);
	unsigned long long max = c_arg(argc, argv, 3, 2048, usage);
	unsigned long long seed = c_arg(argc, argv, 4, 1, usage);
	if (nblocks == 0 || max < 16)
		cfail(prog, "blocks must be >= 1 and max_size >= 16");
	unsigned char **p = cmalloc(prog, nblocks * sizeof(*p));
	size_t *len = cmalloc(prog, nblocks * sizeof(*len));
	uint64_t *tag = cmalloc(prog, nblocks * sizeof(*tag));
	crng_t r;
	crng_seed(&r, seed);
	for (size_t i = 0; i < nblocks; i++) {
		len[i] = 16;
		tag[i] = ctag(i, seed);
		p[i] = cmalloc(prog, 16);
		cstamp(p[i], 16, tag[i]);
	}
	uint64_t sum = 0;
	for (unsigned long long s = 0; s < steps; s++) {
		size_t k = (size_t)crng_below(&r, nblocks);
		size_t n = (size_t)crng_range(&r, 16, max);
		unsigned char *q = realloc(p[k], n);
		if (q == NULL)
			cfail(prog, "realloc returned NULL");
		/* kept: the first 8 bytes always (n >= 16), the old last byte
		 * when the block did not shrink */
		uint64_t g;
		memcpy(&g, q, 8);
		if (g != tag[k] || (n >= len[k] && !ccheck(q, len[k], tag[k])))
			cfail(prog, "block corrupted");
		tag[k] = ctag(tag[k], n);
		cstamp(q, n, tag[k]);
		p[k] = q;
		len[k] = n;
		sum += (uintptr_t)q >> 4 & 0xff;
	}
	for (size_t i = 0; i < nblocks; i++) {
		if (!ccheck(p[i], len[i], tag[i]))
			cfail(prog, "block corrupted");
		free(p[i]);
	}
	free(p);
	free(len);
	free(tag);
	printf("b_resize: %llu steps, checksum %llu\n", steps, (unsigned long long)sum);
	return 0;
}
