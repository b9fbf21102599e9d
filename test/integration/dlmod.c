/*
 * dlmod: a tiny module that xchild dlopen()s under LD_PRELOAD of the library.
 * It allocates in its constructor (so the allocator is entered from a
 * dlopen'ed object's initialiser), and frees in its destructor.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define CTOR_N 12345
#define NKEEP 16

static unsigned char *ctor_block;
static void *ctor_keep[NKEEP];
static int ctor_state; /* 1 ok, <0 failed */

static unsigned char pat(size_t i) { return (unsigned char)(i * 7 + 3); }

__attribute__((constructor)) static void dlmod_ctor(void) {
	ctor_block = malloc(CTOR_N);
	if (!ctor_block) {
		ctor_state = -1;
		return;
	}
	for (size_t i = 0; i < CTOR_N; i++)
		ctor_block[i] = pat(i);
	for (int i = 0; i < NKEEP; i++) {
		ctor_keep[i] = calloc(1, (size_t)(1) << (i + 4)); /* 16 B .. 512 KiB */
		if (!ctor_keep[i]) {
			ctor_state = -2;
			return;
		}
	}
	ctor_state = 1;
}

__attribute__((destructor)) static void dlmod_dtor(void) {
	free(ctor_block);
	ctor_block = NULL;
	for (int i = 0; i < NKEEP; i++) {
		free(ctor_keep[i]);
		ctor_keep[i] = NULL;
	}
}

/* 0 if everything allocated in the constructor is intact, else a code. */
int dlmod_check(void) {
	if (ctor_state != 1)
		return 10 - ctor_state;
	for (size_t i = 0; i < CTOR_N; i++)
		if (ctor_block[i] != pat(i))
			return 2;
	for (int i = 0; i < NKEEP; i++) {
		const unsigned char *b = ctor_keep[i];
		for (size_t j = 0; j < ((size_t)1 << (i + 4)); j++)
			if (b[j])
				return 3;
	}
	unsigned char *p = realloc(ctor_block, 5 * CTOR_N);
	if (!p)
		return 4;
	for (size_t i = 0; i < CTOR_N; i++)
		if (p[i] != pat(i))
			return 5;
	ctor_block = p;
	/* some ordinary work */
	void *v[64] = {0};
	for (int i = 0; i < 20000; i++) {
		int k = (i * 31) % 64;
		free(v[k]);
		v[k] = malloc((size_t)(i % 5000) + 1);
		if (!v[k])
			return 6;
		memset(v[k], i, (size_t)(i % 5000) + 1);
	}
	for (int k = 0; k < 64; k++)
		free(v[k]);
	return 0;
}

void *dlmod_alloc(size_t n) { return malloc(n); }

void dlmod_free(void *p) { free(p); }

/* The file that this module's malloc binds to. */
const char *dlmod_malloc_owner(void) {
	Dl_info info;
	void *(*volatile m)(size_t) = malloc;
	if (!dladdr((void *)m, &info) || !info.dli_fname)
		return "?";
	return info.dli_fname;
}
