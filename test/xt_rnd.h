/*
 * xt_rnd.h -- the tests' PRNG (unit/util.h and integration/child.h):
 * xorshift64*, the same sequence on every machine.  *s must not be 0.
 */
#ifndef XT_RND_H
#define XT_RND_H

#include <stdint.h>

static inline uint64_t rnd_next(uint64_t *s) {
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1DULL;
}

#endif
