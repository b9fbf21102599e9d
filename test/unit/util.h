/*
 * Small helpers shared by the unit tests (header only, static inline).
 */
#ifndef XALLOC_TEST_UNIT_UTIL_H
#define XALLOC_TEST_UNIT_UTIL_H

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <unistd.h>

#include "xt.h"
#include "xt_rnd.h"

#define KiB ((size_t)1024)
#define MiB ((size_t)1024 * 1024)

/* A growing string for xalloc_stats_print's write callback (glibc's
 * realloc: the callback may allocate). */
struct sbuf {
	char *p;
	size_t n;
};
static inline void sb_write(void *o, const char *s) {
	struct sbuf *b = o;
	size_t l = strlen(s);
	b->p = realloc(b->p, b->n + l + 1);
	memcpy(b->p + b->n, s, l + 1);
	b->n += l;
}

/* The size of a value of a ctl type as xa_ctl_names names it: 0 for
 * "void" (an action), SIZE_MAX for a type it does not know. */
static inline size_t ctl_type_size(const char *t) {
	static const struct {
		const char *name;
		size_t size;
	} types[] = {
	    {"void", 0},
	    {"bool", sizeof(bool)},
	    {"unsigned", sizeof(unsigned)},
	    {"size_t", sizeof(size_t)},
	    {"uint64_t", sizeof(uint64_t)},
	    {"ssize_t", sizeof(ssize_t)},
	    {"const char *", sizeof(const char *)},
	};
	for (size_t i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcmp(t, types[i].name) == 0)
			return types[i].size;
	return SIZE_MAX;
}

/* Every pointer xalloc returns is aligned to at least this. */
#define MIN_ALIGN 16

static inline bool is_aligned(const void *p, size_t a) { return ((uintptr_t)p & (a - 1)) == 0; }

static inline size_t page_size(void) { return (size_t)sysconf(_SC_PAGESIZE); }

/* Byte i of a block at p holding n bytes, tagged with a seed. */
static inline uint8_t pat_byte(const void *p, size_t n, size_t i, unsigned seed) {
	uintptr_t a = (uintptr_t)p;
	return (uint8_t)((a >> 4) ^ (a >> 12) ^ (n * 131u) ^ (i * 7u) ^ (i >> 8) ^ seed);
}

static inline void pat_fill(void *p, size_t n, unsigned seed) {
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pat_byte(p, n, i, seed);
}

/* Pattern keyed on the original address, so it survives a moving realloc. */
static inline void pat_fill_at(void *p, const void *key, size_t n, unsigned seed) {
	uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		b[i] = pat_byte(key, 0, i, seed);
}

/* Returns the index of the first wrong byte, or (size_t)-1 if all match. */
static inline size_t pat_check_at(const void *p, const void *key, size_t n, unsigned seed) {
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat_byte(key, 0, i, seed))
			return i;
	return (size_t)-1;
}

static inline size_t pat_check(const void *p, size_t n, unsigned seed) {
	const uint8_t *b = p;
	for (size_t i = 0; i < n; i++)
		if (b[i] != pat_byte(p, n, i, seed))
			return i;
	return (size_t)-1;
}

/* Index of the first byte != c in b[0..n), or (size_t)-1. */
static inline size_t first_not(const void *b, int c, size_t n) {
	const uint8_t *p = b;
	for (size_t i = 0; i < n; i++)
		if (p[i] != (uint8_t)c)
			return i;
	return (size_t)-1;
}


#endif
