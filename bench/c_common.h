/*
 * c_common.h -- shared bits of the benchmark programs (bench/b_*.c and the
 * classic patterns bench/c_*.c): a PRNG (seeded, or on a bare state word),
 * positional-argument parsing with a usage line, a failure exit, thread
 * start/join (and the sum of the threads' results), and stamp/check pairs
 * for block contents.
 *
 * Header-only (static inline) so that each c_*.c still builds on its own
 * with `cc -pthread -O2 c_x.c` (bench/benchcommon.py's fallback build).
 * The programs use the allocator only through malloc/free/realloc/calloc.
 */
#ifndef C_COMMON_H
#define C_COMMON_H

#ifndef _POSIX_C_SOURCE
#define _POSIX_C_SOURCE 200809L
#endif
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* xorshift64* : small, fast, and the same sequence on every libc. */
typedef struct {
	uint64_t s;
} crng_t;

static inline void crng_seed(crng_t *r, uint64_t seed) {
	r->s = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
	if (!r->s)
		r->s = 1;
}

static inline uint64_t crng_next(crng_t *r) {
	uint64_t x = r->s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	r->s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* The same step on a bare state word (non-zero), for programs that keep
 * one state per thread or per object. */
static inline uint64_t c_rnd(uint64_t *s) {
	uint64_t x = *s;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*s = x;
	return x * 0x2545F4914F6CDD1Dull;
}

/* Marsaglia's plain xorshift64 (13, 7, 17) on a bare state word (non-zero):
 * the sequence b_calloc and b_mlarge were measured with. */
static inline uint64_t c_xorshift(uint64_t *s) {
	uint64_t x = *s;
	x ^= x << 13;
	x ^= x >> 7;
	x ^= x << 17;
	*s = x;
	return x;
}

/* Uniform in [0, n) (n > 0); the modulo bias is irrelevant here. */
static inline uint64_t crng_below(crng_t *r, uint64_t n) { return crng_next(r) % n; }

/* Uniform in [lo, hi]. */
static inline uint64_t crng_range(crng_t *r, uint64_t lo, uint64_t hi) { return lo + crng_next(r) % (hi - lo + 1); }

static inline void cfail(const char *prog, const char *what) {
	fprintf(stderr, "%s: %s\n", prog, what);
	exit(2);
}

static inline void *cmalloc(const char *prog, size_t n) {
	void *p = malloc(n);
	if (!p)
		cfail(prog, "malloc returned NULL");
	return p;
}

/* Positional argument i (1-based) as an unsigned number, or def when it is
 * absent; a malformed one, or "-h", prints `usage` and exits 64. */
static inline unsigned long long c_arg(int argc, char **argv, int i, unsigned long long def, const char *usage) {
	if (argc > 1 && (!strcmp(argv[1], "-h") || !strcmp(argv[1], "--help"))) {
		fprintf(stderr, "usage: %s %s\n", argv[0], usage);
		exit(64);
	}
	if (argc <= i)
		return def;
	char *end;
	unsigned long long v = strtoull(argv[i], &end, 0);
	if (*end || end == argv[i]) {
		fprintf(stderr, "usage: %s %s\n", argv[0], usage);
		exit(64);
	}
	return v;
}

/* A block of n >= 1 bytes carries a tag in its first byte(s) and its last
 * byte, so a block handed out twice or overwritten is noticed on free. */
static inline void cstamp(unsigned char *p, size_t n, uint64_t tag) {
	if (n >= 8)
		memcpy(p, &tag, 8);
	else
		p[0] = (unsigned char)tag;
	p[n - 1] = (unsigned char)(tag >> 40) ^ 0x5A;
}

static inline int ccheck(const unsigned char *p, size_t n, uint64_t tag) {
	if (n >= 8) {
		uint64_t g;
		memcpy(&g, p, 8);
		if (g != tag)
			return 0;
	} else if (p[0] != (unsigned char)tag) {
		return 0;
	}
	return p[n - 1] == ((unsigned char)(tag >> 40) ^ 0x5A);
}

static inline uint64_t ctag(uint64_t a, uint64_t b) {
	uint64_t h = a * 0xBF58476D1CE4E5B9ull ^ (b + 0x94D049BB133111EBull);
	h ^= h >> 31;
	return h * 0x9E3779B97F4A7C15ull;
}

/* The b_*.c programs' tag of a block of n bytes with key k, and its stamp:
 * the tag in the first 8 bytes (n >= 8) and, for n > 8, a byte derived
 * from it in the last one. */
static inline uint64_t c_tag(size_t n, uint64_t k) {
	uint64_t h = (uint64_t)n * 0x9E3779B97F4A7C15ull ^ (k + 0x632BE59BD9B4E019ull);
	h ^= h >> 29;
	return h * 0xBF58476D1CE4E5B9ull;
}

static inline void c_stamp(unsigned char *p, size_t n, uint64_t h) {
	memcpy(p, &h, 8);
	if (n > 8)
		p[n - 1] = (unsigned char)(h >> 56) ^ 0xA5;
}

static inline int c_stamp_ok(const unsigned char *p, size_t n, uint64_t h) {
	uint64_t g;
	memcpy(&g, p, 8);
	return g == h && (n <= 8 || p[n - 1] == ((unsigned char)(h >> 56) ^ 0xA5));
}

/* The b_*.c programs' slots: up to `slots` live blocks (NULL: an empty
 * slot) and their sizes, each block stamped with c_tag(size, address). */
typedef struct {
	unsigned char **p;
	size_t *n;
	size_t slots;
} cslots_t;

static inline void cslots_init(const char *prog, cslots_t *s, size_t slots) {
	s->p = cmalloc(prog, slots * sizeof *s->p);
	s->n = cmalloc(prog, slots * sizeof *s->n);
	memset(s->p, 0, slots * sizeof *s->p);
	s->slots = slots;
}

/* Put block b of n bytes in empty slot k, stamped. */
static inline void cslots_put(cslots_t *s, size_t k, unsigned char *b, size_t n) {
	s->p[k] = b;
	s->n[k] = n;
	c_stamp(b, n, c_tag(n, (uintptr_t)b));
}

/* Check and free slot k's block (the slot must hold one); returns its size. */
static inline size_t cslots_free(const char *prog, cslots_t *s, size_t k) {
	size_t n = s->n[k];
	if (!c_stamp_ok(s->p[k], n, c_tag(n, (uintptr_t)s->p[k])))
		cfail(prog, "block corrupted");
	free(s->p[k]);
	s->p[k] = NULL;
	return n;
}

/* Check and free every block, then the slot arrays. */
static inline void cslots_destroy(const char *prog, cslots_t *s) {
	for (size_t k = 0; k < s->slots; k++)
		if (s->p[k])
			cslots_free(prog, s, k);
	free(s->p);
	free(s->n);
}

/* Run fn(args + i * argsize) on n threads, i = 0..n-1, and join them all. */
static inline void crun_threads(const char *prog, unsigned n, void *(*fn)(void *), void *args, size_t argsize) {
	pthread_t *t = cmalloc(prog, n * sizeof *t);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (char *)args + i * argsize))
			cfail(prog, "pthread_create failed");
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/* Run fn((void *)i) on n threads, i = 0..n-1, and join them all. */
static inline void crun_indexed(const char *prog, unsigned n, void *(*fn)(void *)) {
	pthread_t *t = cmalloc(prog, n * sizeof *t);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&t[i], NULL, fn, (void *)(uintptr_t)i))
			cfail(prog, "pthread_create failed");
	for (unsigned i = 0; i < n; i++)
		pthread_join(t[i], NULL);
	free(t);
}

/* crun_threads, then the sum of the uint64_t at offset `off` of each
 * thread's argument (what each thread computed, e.g. offsetof(targ_t, sum)). */
static inline uint64_t crun_threads_sum(const char *prog, unsigned n, void *(*fn)(void *), void *args, size_t argsize,
    size_t off) {
	crun_threads(prog, n, fn, args, argsize);
	uint64_t sum = 0;
	for (unsigned i = 0; i < n; i++) {
		uint64_t v;
		memcpy(&v, (char *)args + i * argsize + off, sizeof v);
		sum += v;
	}
	return sum;
}

#endif
