/*
 * b_mixed -- single-thread mixed sizes 8 B .. 32 KiB, random free order.
 *
 * Usage: b_mixed [ops] [window] [seed]
 *
 * A window of `window` slots is filled, then `ops` times a random slot is
 * checked and freed and replaced by a new block.  Sizes are log-distributed
 * and mostly small:
 *     60%   8 ..   127 B
 *     25% 128 ..  1023 B
 *     10%   1 ..     8 KiB
 *      5%   8 ..    32 KiB
 * (within a class: a power-of-two octave chosen uniformly, then a uniform
 * size inside the octave).  One block in eight is obtained with calloc and
 * checked to be zero.  Every block is stamped (header word + last byte) and
 * checked before it is freed; a mismatch exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

static void *volatile sink;
static uint64_t rng = 0x9E3779B97F4A7C15ull;

static void fail(const char *what, uint64_t i, size_t n, const void *p) {
	fprintf(stderr, "b_mixed: %s (op %llu, size %zu, ptr %p)\n", what, (unsigned long long)i, n, p);
	exit(2);
}

static inline size_t pick_size(void) {
	uint64_t r = c_rnd(&rng);
	unsigned c = (unsigned)(r % 100);
	unsigned lo, span; /* octaves lo .. lo+span-1 */
	if (c < 60) {
		lo = 3;
		span = 4; /* 8 .. 127 */
	} else if (c < 85) {
		lo = 7;
		span = 3; /* 128 .. 1023 */
	} else if (c < 95) {
		lo = 10;
		span = 3; /* 1 K .. 8 K-1 */
	} else {
		lo = 13;
		span = 2; /* 8 K .. 32 K-1 */
	}
	unsigned e = lo + (unsigned)((r >> 8) % span);
	size_t n = ((size_t)1 << e) + (size_t)((r >> 20) & (((uint64_t)1 << e) - 1));
	return n;
}

static int zero_ok(const unsigned char *p, size_t n) {
	if (n <= 512) {
		for (size_t i = 0; i < n; i++)
			if (p[i])
				return 0;
		return 1;
	}
	for (size_t i = 0; i < n; i += 61)
		if (p[i])
			return 0;
	return p[n - 1] == 0 && p[n / 2] == 0;
}

struct slot {
	unsigned char *p;
	uint32_t n;
};

static inline void fill(struct slot *s, uint64_t i) {
	size_t n = pick_size();
	unsigned char *p;
	if ((c_rnd(&rng) & 7) == 0) {
		p = calloc(1, n);
		if (!p)
			fail("calloc returned NULL", i, n, NULL);
		if (!zero_ok(p, n))
			fail("calloc memory not zeroed", i, n, p);
	} else {
		p = malloc(n);
		if (!p)
			fail("malloc returned NULL", i, n, NULL);
	}
	sink = p;
	c_stamp(p, n, c_tag(n, (uintptr_t)s));
	s->p = p;
	s->n = (uint32_t)n;
}

static inline void drop(struct slot *s, uint64_t i) {
	if (!c_stamp_ok(s->p, s->n, c_tag(s->n, (uintptr_t)s)))
		fail("block corrupted", i, s->n, s->p);
	free(s->p);
	s->p = NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[ops] [window] [seed]";
	uint64_t ops = c_arg(argc, argv, 1, 6000000, usage);
	size_t window = (size_t)c_arg(argc, argv, 2, 20000, usage);
	uint64_t seed = c_arg(argc, argv, 3, 1, usage);
	rng ^= seed * 0xD1B54A32D192ED03ull;
	if (!rng)
		rng = 1;
	if (window == 0)
		window = 1;

	struct slot *w = calloc(window, sizeof *w);
	if (!w)
		fail("calloc of window failed", 0, window * sizeof *w, NULL);
	for (size_t k = 0; k < window; k++)
		fill(&w[k], 0);
	for (uint64_t i = 0; i < ops; i++) {
		struct slot *s = &w[c_rnd(&rng) % window];
		drop(s, i);
		fill(s, i);
	}
	for (size_t k = 0; k < window; k++)
		drop(&w[k], ops);
	free(w);
	return 0;
}
