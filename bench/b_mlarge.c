/*
 * b_mlarge.c -- big blocks allocated, touched and freed in a loop.
 *
 *   b_mlarge [iterations=400] [live=4] [min_MiB=5] [max_MiB=25] [seed=1]
 *
 * Each iteration mallocs a block of a random size between min_MiB and
 * max_MiB, writes one byte per 4 KiB page and a stamp at both ends, and
 * frees the oldest of the `live` blocks kept (checking its stamps).  Every
 * reuse of a big block either finds its pages still there or faults them
 * in again, and either keeps the address space or maps it anew: the cost
 * the allocator's handling of big blocks decides.  Prints nothing; exits
 * with status 2 on a corrupted stamp or a NULL.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

static uint64_t rng = 1;

typedef struct {
	unsigned char *p;
	size_t size;
	uint64_t stamp;
} block_t;

static void check(const block_t *b) {
	uint64_t h, t;
	memcpy(&h, b->p, sizeof h);
	memcpy(&t, b->p + b->size - sizeof t, sizeof t);
	if (h != b->stamp || t != ~b->stamp) {
		fprintf(stderr, "b_mlarge: corrupted block of %zu bytes\n", b->size);
		exit(2);
	}
}

int main(int argc, char **argv) {
	const char *usage = "[iterations=400] [live=4] [min_MiB=5] [max_MiB=25] [seed=1]";
	long iters = (long)c_arg(argc, argv, 1, 400, usage), live = (long)c_arg(argc, argv, 2, 4, usage);
	size_t lo = (size_t)c_arg(argc, argv, 3, 5, usage) << 20, hi = (size_t)c_arg(argc, argv, 4, 25, usage) << 20;
	rng = (uint64_t)c_arg(argc, argv, 5, 1, usage) * 0x9e3779b97f4a7c15u | 1;
	if (hi < lo)
		hi = lo;
	block_t *ring = calloc((size_t)live, sizeof *ring);
	for (long i = 0; i < iters; i++) {
		block_t *b = &ring[i % live];
		if (b->p) {
			check(b);
			free(b->p);
		}
		b->size = lo + (size_t)(c_xorshift(&rng) % (hi - lo + 1));
		b->p = malloc(b->size);
		if (b->p == NULL) {
			fprintf(stderr, "b_mlarge: malloc(%zu) returned NULL\n", b->size);
			return 2;
		}
		for (size_t off = 0; off < b->size; off += 4096)
			b->p[off] = (unsigned char)off;
		b->stamp = c_xorshift(&rng);
		uint64_t t = ~b->stamp;
		memcpy(b->p, &b->stamp, sizeof b->stamp);
		memcpy(b->p + b->size - sizeof t, &t, sizeof t);
	}
	for (long i = 0; i < live; i++)
		if (ring[i].p) {
			check(&ring[i]);
			free(ring[i].p);
		}
	free(ring);
	return 0;
}
