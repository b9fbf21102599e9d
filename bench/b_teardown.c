/*
 * b_teardown -- a large structure torn down in random order.
 *
 * Usage: b_teardown [objects] [rounds] [min_size] [max_size] [seed]
 *        defaults:  1000000     5        16         128       1
 *
 * Each round allocates `objects` blocks (sizes uniform random in
 * min_size..max_size), stamping each (first word and last byte), as a
 * program builds the nodes of a big container; then shuffles the pointer
 * array and checks and frees every block in that order, as a program
 * destroys a hash table or a tree whose nodes sit all over the heap.  The
 * frees reach the allocator in an order unrelated to the addresses, so a
 * thread cache that returns them in batches meets a different slab at
 * almost every object.
 *
 * Prints one line: "<malloc_phase_seconds> <free_phase_seconds> <checksum>"
 * (CPU time of the calling thread, summed over the rounds).
 * A corrupted block or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_common.h"

static double cpu_seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

int main(int argc, char **argv) {
	const char *u = "[objects=1000000] [rounds=5] [min_size=16] [max_size=128] [seed=1]";
	size_t n = (size_t)c_arg(argc, argv, 1, 1000000, u);
	unsigned long long rounds = c_arg(argc, argv, 2, 5, u);
	size_t lo = (size_t)c_arg(argc, argv, 3, 16, u);
	size_t hi = (size_t)c_arg(argc, argv, 4, 128, u);
	crng_t rng;
	crng_seed(&rng, c_arg(argc, argv, 5, 1, u));
	if (n == 0 || lo < 9 || hi < lo) {
		fprintf(stderr, "b_teardown: need objects >= 1 and 9 <= min_size <= max_size\n");
		return 64;
	}
	unsigned char **v = malloc(n * sizeof *v);
	size_t *len = malloc(n * sizeof *len);
	if (!v || !len) {
		fprintf(stderr, "b_teardown: out of memory for the pointer array\n");
		return 2;
	}
	double tm = 0, tf = 0;
	uint64_t sum = 0;
	for (unsigned long long r = 0; r < rounds; r++) {
		double t0 = cpu_seconds();
		for (size_t i = 0; i < n; i++) {
			size_t k = (size_t)crng_range(&rng, lo, hi);
			unsigned char *p = malloc(k);
			if (!p) {
				fprintf(stderr, "b_teardown: malloc(%zu) returned NULL\n", k);
				return 2;
			}
			uint64_t tag = ctag(k, (uintptr_t)p);
			memcpy(p, &tag, 8);
			p[k - 1] = (unsigned char)(tag >> 56);
			v[i] = p;
			len[i] = k;
		}
		double t1 = cpu_seconds();
		for (size_t i = n - 1; i > 0; i--) {
			size_t j = (size_t)crng_below(&rng, i + 1);
			unsigned char *tp = v[i];
			size_t tl = len[i];
			v[i] = v[j];
			len[i] = len[j];
			v[j] = tp;
			len[j] = tl;
		}
		double t2 = cpu_seconds();
		for (size_t i = 0; i < n; i++) {
			unsigned char *p = v[i];
			uint64_t tag = ctag(len[i], (uintptr_t)p), g;
			memcpy(&g, p, 8);
			if (g != tag || p[len[i] - 1] != (unsigned char)(tag >> 56)) {
				fprintf(stderr, "b_teardown: block %p corrupted\n", (void *)p);
				return 2;
			}
			sum += g & 0xff;
			free(p);
		}
		double t3 = cpu_seconds();
		tm += t1 - t0;
		tf += t3 - t2;
	}
	free(v);
	free(len);
	printf("%.3f %.3f %llu\n", tm, tf, (unsigned long long)sum);
	return 0;
}
