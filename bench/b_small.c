/*
 * b_small -- single-thread small-object malloc/free (16..256 bytes).
 *
 * Usage: b_small [pair_iters] [batch_rounds] [seed]
 *
 *   Phase 1, LIFO pairs: pair_iters times, malloc A, malloc B, stamp both,
 *            check both, free B, free A.
 *   Phase 2, batches: batch_rounds times, malloc 1000 blocks, fill each
 *            completely, then check and free all of them (allocation order
 *            on even rounds, reverse order on odd rounds).
 *
 * Sizes are uniform random in 16..256.  Every block is checked before it
 * is freed; a mismatch (or a NULL from malloc) exits with status 2.
 * Prints nothing on success.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

#define BATCH 1000

static void *volatile sink; /* keeps the compiler from eliding malloc/free */
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static void fail(const char *what, uint64_t i, size_t n, const void *p) {
	fprintf(stderr, "b_small: %s (iteration %llu, size %zu, ptr %p)\n", what, (unsigned long long)i, n, p);
	exit(2);
}

static inline void *xmalloc(size_t n, uint64_t i) {
	void *p = malloc(n);
	if (!p)
		fail("malloc returned NULL", i, n, NULL);
	sink = p;
	return p;
}

int main(int argc, char **argv) {
	const char *usage = "[pair_iters] [batch_rounds] [seed]";
	uint64_t pairs = c_arg(argc, argv, 1, 6000000, usage);
	uint64_t rounds = c_arg(argc, argv, 2, 6000, usage);
	uint64_t seed = c_arg(argc, argv, 3, 1, usage);
	rng ^= seed * 0xD1B54A32D192ED03ull;
	if (!rng)
		rng = 1;

	/* Phase 1: LIFO pairs */
	for (uint64_t i = 0; i < pairs; i++) {
		uint64_t r = c_rnd(&rng);
		size_t na = 16 + (size_t)(r % 241);
		size_t nb = 16 + (size_t)((r >> 32) % 241);
		unsigned char *a = xmalloc(na, i);
		uint64_t ha = c_tag(na, i);
		c_stamp(a, na, ha);
		unsigned char *b = xmalloc(nb, i);
		uint64_t hb = c_tag(nb, ~i);
		c_stamp(b, nb, hb);
		if (!c_stamp_ok(b, nb, hb))
			fail("pair block B corrupted", i, nb, b);
		free(b);
		if (!c_stamp_ok(a, na, ha))
			fail("pair block A corrupted", i, na, a);
		free(a);
	}

	/* Phase 2: batches of 1000 */
	static unsigned char *ptr[BATCH];
	static uint16_t len[BATCH];
	for (uint64_t r = 0; r < rounds; r++) {
		for (int j = 0; j < BATCH; j++) {
			size_t n = 16 + (size_t)(c_rnd(&rng) % 241);
			unsigned char *p = xmalloc(n, r);
			memset(p, (int)((j + r) & 0xff), n);
			c_stamp(p, n, c_tag(n, (uint64_t)j));
			ptr[j] = p;
			len[j] = (uint16_t)n;
		}
		for (int k = 0; k < BATCH; k++) {
			int j = (r & 1) ? BATCH - 1 - k : k;
			size_t n = len[j];
			unsigned char *p = ptr[j];
			if (!c_stamp_ok(p, n, c_tag(n, (uint64_t)j)) || p[8] != (unsigned char)((j + r) & 0xff) ||
			    p[n / 2] != (unsigned char)((j + r) & 0xff))
				fail("batch block corrupted", r, n, p);
			free(p);
		}
	}
	return 0;
}
