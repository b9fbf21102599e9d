/*
 * b_instr: the thread-cache hit paths, for instruction counting
 * (bench/instr.py runs it under callgrind at two lengths and divides the
 * difference by the extra pairs, so start-up and warm-up cancel out).
 *
 *   b_instr MODE N      MODE: pairs | batch
 *
 * pairs: N times p = malloc(size); free(p), sizes cycling through a fixed
 *        mix of small sizes (16..512 B);
 * batch: N/64 rounds of 64 mallocs of the mixed sizes, then 64 frees in
 *        the same order (deep enough to use a bin, shallow enough to stay
 *        within every allocator's cache).
 * A warm-up round of each kind runs first, so the caches are filled.
 * Prints the checksum of the pointers (keeps the calls alive).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const unsigned short sizes[16] = {16, 24, 32, 48, 64, 96, 128, 40, 200, 256, 80, 512, 16, 112, 160, 64};

static uintptr_t pairs(long n) {
	uintptr_t sum = 0;
	for (long i = 0; i < n; i++) {
		void *p = malloc(sizes[i & 15]);
		sum += (uintptr_t)p;
		free(p);
	}
	return sum;
}

static uintptr_t batch(long n) {
	void *v[64];
	uintptr_t sum = 0;
	for (long r = 0; r < n / 64; r++) {
		for (int i = 0; i < 64; i++)
			v[i] = malloc(sizes[i & 15]);
		for (int i = 0; i < 64; i++) {
			sum += (uintptr_t)v[i];
			free(v[i]);
		}
	}
	return sum;
}

int main(int argc, char **argv) {
	if (argc != 3 || (strcmp(argv[1], "pairs") && strcmp(argv[1], "batch"))) {
		fprintf(stderr, "usage: b_instr pairs|batch N\n");
		return 2;
	}
	long n = atol(argv[2]);
	uintptr_t sum = pairs(4096) + batch(4096); /* warm-up */
	sum += !strcmp(argv[1], "pairs") ? pairs(n) : batch(n);
	printf("%lx\n", (unsigned long)(sum & 0xffff));
	return 0;
}
