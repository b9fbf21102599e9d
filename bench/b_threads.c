/*
 * b_threads -- thread scalability of small-object churn.
 *
 * Usage: b_threads [threads] [ops_per_thread] [live_per_thread] [seed]
 *
 * Each thread fills a private live set of `live_per_thread` blocks
 * (16..512 bytes), then `ops_per_thread` times picks a random live block,
 * checks and frees it and replaces it with a new one.  The work per thread
 * is fixed, so with perfect scaling the run time stays constant while the
 * thread count is <= the number of cores.  All threads start together
 * (barrier).  A corrupted block or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

static _Thread_local void *volatile sink; /* per thread: no shared cache line */
static unsigned long long ops, live;
static uint64_t seed;
static pthread_barrier_t start;

static void fail(const char *what, unsigned id, size_t n, const void *p) {
	fprintf(stderr, "b_threads: %s (thread %u, size %zu, ptr %p)\n", what, id, n, p);
	exit(2);
}

static void *worker(void *arg) {
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (id + 1) * 0xD1B54A32D192ED03ull;
	if (!s)
		s = 1;
	unsigned char **p = malloc(live * sizeof *p);
	uint16_t *n = malloc(live * sizeof *n);
	if (!p || !n)
		fail("malloc of live set failed", id, 0, NULL);
	uint64_t salt = (uint64_t)id << 40;
	pthread_barrier_wait(&start);
	for (size_t i = 0; i < live; i++) {
		size_t sz = 16 + (size_t)(c_rnd(&s) % 497);
		p[i] = malloc(sz);
		if (!p[i])
			fail("malloc returned NULL", id, sz, NULL);
		c_stamp(p[i], sz, c_tag(sz, salt + i));
		n[i] = (uint16_t)sz;
	}
	for (unsigned long long k = 0; k < ops; k++) {
		uint64_t x = c_rnd(&s);
		size_t i = (size_t)(x % live);
		if (!c_stamp_ok(p[i], n[i], c_tag(n[i], salt + i)))
			fail("block corrupted", id, n[i], p[i]);
		free(p[i]);
		size_t sz = 16 + (size_t)((x >> 32) % 497);
		unsigned char *q = malloc(sz);
		if (!q)
			fail("malloc returned NULL", id, sz, NULL);
		sink = q;
		c_stamp(q, sz, c_tag(sz, salt + i));
		p[i] = q;
		n[i] = (uint16_t)sz;
	}
	for (size_t i = 0; i < live; i++) {
		if (!c_stamp_ok(p[i], n[i], c_tag(n[i], salt + i)))
			fail("block corrupted at final check", id, n[i], p[i]);
		free(p[i]);
	}
	free(p);
	free(n);
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[threads] [ops_per_thread] [live_per_thread] [seed]";
	unsigned nt = (unsigned)c_arg(argc, argv, 1, 1, usage);
	ops = c_arg(argc, argv, 2, 12000000, usage);
	live = c_arg(argc, argv, 3, 2000, usage);
	seed = c_arg(argc, argv, 4, 1, usage);
	if (!nt || !live) {
		fprintf(stderr, "b_threads: threads and live_per_thread must be > 0\n");
		return 64;
	}
	pthread_barrier_init(&start, NULL, nt);
	crun_indexed("b_threads", nt, worker);
	pthread_barrier_destroy(&start);
	return 0;
}
