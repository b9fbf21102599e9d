/*
 * b_prof: the heap profiler's accuracy workload (bench/prof_accuracy.py).
 *
 *   b_prof [total_MiB=200] [seed=1]
 *
 * Three call sites hold 60%, 30% and 10% of total_MiB live, in mixed sizes
 * (by count: 60% 16 B-1 KiB, 35% 2-32 KiB, 5% 100 KiB-1 MiB), and a fourth,
 * transient site allocates as much again and frees everything.  Blocks are
 * stamped and checked before exit.  Output, one line per site:
 *   <name> <address of the function> <true live usable bytes>
 * so the runner can attribute the dump's stacks (first frame: a return
 * address inside the site) without a symboliser.
 */
#define _GNU_SOURCE
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static uint64_t rng;
static uint32_t rnd(void) {
	rng = rng * 6364136223846793005ull + 1442695040888963407ull;
	return (uint32_t)(rng >> 33);
}

static size_t mixed_size(void) {
	uint32_t r = rnd() % 100;
	if (r < 60)
		return 16 + rnd() % 1009;
	if (r < 95)
		return 2048 + rnd() % 30721;
	return 102400 + rnd() % 946177;
}

typedef struct {
	void **p;
	size_t n, cap;
} list_t;

static void push(list_t *l, void *p) {
	if (l->n == l->cap) {
		l->cap = l->cap ? l->cap * 2 : 1024;
		l->p = realloc(l->p, l->cap * sizeof(void *));
		if (!l->p)
			exit(2);
	}
	l->p[l->n++] = p;
}

static void stamp(void *p, size_t n) { memset(p, (int)(n & 0xff), n < 32 ? n : 32); }

__attribute__((noinline)) void *site_a(size_t n) {
	void *p = malloc(n);
	if (p)
		stamp(p, n);
	return p;
}
__attribute__((noinline)) void *site_b(size_t n) {
	void *p = malloc(n);
	if (p)
		stamp(p, n);
	return p;
}
__attribute__((noinline)) void *site_c(size_t n) {
	void *p = malloc(n);
	if (p)
		stamp(p, n);
	return p;
}
__attribute__((noinline)) void *site_transient(size_t n) {
	void *p = malloc(n);
	if (p)
		stamp(p, n);
	return p;
}

static size_t fill(void *(*fn)(size_t), size_t bytes, list_t *l) {
	size_t got = 0;
	while (got < bytes) {
		size_t n = mixed_size();
		void *p = fn(n);
		if (!p) {
			fprintf(stderr, "b_prof: malloc(%zu) failed\n", n);
			exit(2);
		}
		push(l, p);
		got += malloc_usable_size(p);
	}
	return got;
}

int main(int argc, char **argv) {
	size_t total = (size_t)(argc > 1 ? atol(argv[1]) : 200) << 20;
	rng = argc > 2 ? (uint64_t)atoll(argv[2]) : 1;
	list_t la = {0}, lb = {0}, lc = {0}, lt = {0};
	size_t a = 0, b = 0, c = 0;
	/* interleave the sites so no site sees only one phase of the heap */
	for (int round = 0; round < 10; round++) {
		a += fill(site_a, total * 6 / 100, &la);
		fill(site_transient, total / 10, &lt);
		b += fill(site_b, total * 3 / 100, &lb);
		c += fill(site_c, total / 100, &lc);
		for (size_t i = 0; i < lt.n; i++)
			free(lt.p[i]);
		lt.n = 0;
	}
	list_t *ls[3] = {&la, &lb, &lc};
	for (int k = 0; k < 3; k++)
		for (size_t i = 0; i < ls[k]->n; i++) {
			unsigned char *p = ls[k]->p[i];
			size_t n = malloc_usable_size(p);
			(void)n;
			if (p[0] != p[1]) {
				fprintf(stderr, "b_prof: corrupted block\n");
				return 2;
			}
		}
	printf("site_a %p %zu\nsite_b %p %zu\nsite_c %p %zu\nsite_transient %p 0\n", (void *)site_a, a, (void *)site_b,
	    b, (void *)site_c, c, (void *)site_transient);
	fflush(stdout);
	return 0;
}
