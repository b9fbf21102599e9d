/*
 * fuzz_alloc.c -- libFuzzer harness for xalloc.
 *
 * The input is a program for a small machine with 64 slots.  Each op is
 * decoded from a few bytes: malloc / calloc / realloc / memalign /
 * posix_memalign / aligned_alloc / free / free_sized / usable-size check /
 * thread-cache churn, on a slot, with a size drawn from the input (mostly
 * small, sometimes large or huge, sometimes near a class boundary).  A
 * shadow model keeps each live block's requested size and a seed; every
 * block is filled with a pattern derived from the seed, and the whole
 * pattern is checked before each free/realloc and at the end of the input
 * (so overlapping blocks, lost contents, a realloc that does not copy, or
 * calloc memory that is not zero are found).  Alignment and
 * usable size >= requested size are checked on every result.
 *
 * The allocator under test is the prefixed build (xt_malloc, ...): the
 * fuzzer and the sanitizer keep their own malloc.  test/fuzz/run.sh builds
 * it with clang -fsanitize=fuzzer-no-link (coverage of the allocator) and
 * runs a bounded session.
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "xt.h"

#define NSLOTS 64

struct slot {
	unsigned char *p;
	size_t size;
	size_t align;
	uint32_t seed;
};

static struct slot slots[NSLOTS];

static void die(const char *what, size_t a, size_t b) {
	fprintf(stderr, "fuzz_alloc: %s (%zu, %zu)\n", what, a, b);
	abort();
}

static unsigned char pat(uint32_t seed, size_t i) {
	return (unsigned char)((seed * 2654435761u + (uint32_t)i * 40503u) >> 13);
}

static void fill(struct slot *s, size_t from) {
	for (size_t i = from; i < s->size; i++)
		s->p[i] = pat(s->seed, i);
}

static void check(const struct slot *s, size_t upto) {
	for (size_t i = 0; i < upto; i++)
		if (s->p[i] != pat(s->seed, i))
			die("content lost", i, s->size);
}

static void check_new(const struct slot *s) {
	if (s->p == NULL)
		return;
	size_t a = s->align > 16 ? s->align : 16;
	if ((uintptr_t)s->p % a != 0)
		die("misaligned result", (uintptr_t)s->p, a);
	size_t us = xt_malloc_usable_size(s->p);
	if (us < s->size)
		die("usable size below request", us, s->size);
}

static void release(struct slot *s, int sized) {
	if (!s->p)
		return;
	check(s, s->size);
	if (sized)
		xt_free_sized(s->p, s->size);
	else
		xt_free(s->p);
	s->p = NULL;
}

/* Input cursor. */
struct in {
	const uint8_t *d;
	size_t n, i;
};

static unsigned get8(struct in *in) { return in->i < in->n ? in->d[in->i++] : 0; }

static size_t get_size(struct in *in) {
	unsigned k = get8(in);
	unsigned lo = get8(in) | get8(in) << 8;
	switch (k & 7) {
	case 0:
	case 1:
	case 2:
	case 3:
		return lo % 512; /* small, incl. 0 */
	case 4:
		return lo % 16385; /* up to the small limit */
	case 5:
		return 16384 + (size_t)lo * 8; /* large runs */
	case 6: {
		size_t s = (size_t)1 << (4 + (k >> 3) % 20); /* around powers of two */
		return s + (lo % 33) - 16;
	}
	default:
		if ((k >> 3) % 8 == 0)
			return (size_t)4 << 20 | lo; /* huge (> 4 MiB), rarely */
		return lo % 4096;
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
	struct in in = {data, size, 0};
	uint32_t seed = 1;
	while (in.i < in.n) {
		unsigned op = get8(&in);
		struct slot *s = &slots[get8(&in) % NSLOTS];
		seed++;
		switch (op % 12) {
		case 0:
		case 1:
		case 2: { /* malloc */
			release(s, 0);
			size_t n = get_size(&in);
			s->p = xt_malloc(n);
			if (!s->p)
				die("malloc failed", n, 0);
			s->size = n, s->align = 0, s->seed = seed;
			check_new(s);
			fill(s, 0);
			break;
		}
		case 3: { /* calloc */
			release(s, 0);
			size_t n = get_size(&in), m = 1 + get8(&in) % 4;
			s->p = xt_calloc(m, n / m);
			if (!s->p)
				die("calloc failed", n, m);
			s->size = (n / m) * m, s->align = 0, s->seed = seed;
			check_new(s);
			for (size_t i = 0; i < s->size; i++)
				if (s->p[i])
					die("calloc memory not zero", i, s->size);
			fill(s, 0);
			break;
		}
		case 4:
		case 5: { /* realloc (also from NULL and to 0) */
			size_t n = get_size(&in);
			if (s->p)
				check(s, s->size);
			if (n == 0 && s->p) {
				if (xt_realloc(s->p, 0) != NULL)
					die("realloc(p, 0) returned non-NULL", 0, 0);
				s->p = NULL;
				break;
			}
			unsigned char *q = xt_realloc(s->p, n);
			if (!q)
				die("realloc failed", n, 0);
			size_t keep = s->p ? (s->size < n ? s->size : n) : 0;
			if (!s->p)
				s->seed = seed;
			s->p = q, s->align = 0;
			size_t old = s->size;
			s->size = n;
			check(s, keep);
			fill(s, keep < old ? keep : old);
			check_new(s);
			break;
		}
		case 6: { /* posix_memalign / aligned_alloc / memalign */
			release(s, 0);
			size_t a = (size_t)1 << (get8(&in) % 23); /* 1 B .. 4 MiB */
			size_t n = get_size(&in);
			unsigned how = get8(&in) % 3;
			void *p = NULL;
			if (how == 0) {
				if (a < sizeof(void *))
					a = sizeof(void *);
				int e = xt_posix_memalign(&p, a, n);
				if (e)
					die("posix_memalign failed", a, n);
			} else if (how == 1) {
				p = xt_aligned_alloc(a, n);
			} else {
				p = xt_memalign(a, n);
			}
			if (!p)
				die("aligned allocation failed", a, n);
			s->p = p, s->size = n, s->align = a, s->seed = seed;
			check_new(s);
			fill(s, 0);
			break;
		}
		case 7:
		case 8:
		case 9:
			release(s, op & 1);
			break;
		case 10: /* usable size: whole usable area is writable and ours */
			if (s->p) {
				size_t us = xt_malloc_usable_size(s->p);
				if (us < s->size)
					die("usable size shrank", us, s->size);
				memset(s->p + s->size, 0xee, us - s->size);
				check(s, s->size);
			}
			break;
		default: { /* churn one class: fills and flushes the thread cache */
			size_t n = get_size(&in) % 2048 + 1;
			void *v[300];
			unsigned k = 1 + get8(&in) % 300;
			for (unsigned i = 0; i < k; i++)
				if (!(v[i] = xt_malloc(n)))
					die("churn malloc failed", n, i);
			for (unsigned i = 0; i < k; i++)
				xt_free(v[k - 1 - i]);
			break;
		}
		}
	}
	/* End of input: check and free everything (no state leaks across
     * inputs, so a crash reproduces from its input alone). */
	for (unsigned i = 0; i < NSLOTS; i++)
		release(&slots[i], 0);
	return 0;
}
