/*
 * b_larson -- larson-style server simulation.
 *
 * Usage: b_larson [threads] [slots] [rounds] [generations] [seed]
 *
 * `threads` independent chains run concurrently.  Each chain owns an array
 * of `slots` blocks.  A thread of the chain performs `rounds` replacements
 * (pick a random slot, check and free its block, malloc a new block of
 * random size 8..1024 and stamp it), then creates a NEW detached thread,
 * hands it the array and exits.  The successor therefore frees blocks that
 * were allocated by a thread that no longer exists.  After `generations`
 * threads per chain, the main thread checks and frees whatever is left.
 * A corrupted block or a NULL from malloc exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

static _Thread_local void *volatile sink; /* per thread: no shared cache line */

static unsigned long long nslots, nrounds, ngens;

static pthread_mutex_t done_mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t done_cv = PTHREAD_COND_INITIALIZER;
static unsigned chains_done;
static pthread_attr_t detached;

struct chain {
	unsigned char **slot;
	uint32_t *size;
	uint64_t rng;
	unsigned long long gen;
	unsigned id;
};

static void fail(const char *what, const struct chain *c, size_t n, const void *p) {
	fprintf(stderr, "b_larson: %s (chain %u, generation %llu, size %zu, ptr %p)\n", what, c->id, c->gen, n, p);
	exit(2);
}

static void *worker(void *arg) {
	struct chain *c = arg;
	uint64_t rng = c->rng; /* local copy: no false sharing between chains */
	for (unsigned long long r = 0; r < nrounds; r++) {
		uint64_t x = c_rnd(&rng);
		size_t i = (size_t)(x % nslots);
		unsigned char *p = c->slot[i];
		if (p) {
			size_t n = c->size[i];
			if (!c_stamp_ok(p, n, c_tag(n, i)))
				fail("block corrupted", c, n, p);
			free(p);
		}
		size_t n = 8 + (size_t)((x >> 32) % 1017);
		p = malloc(n);
		if (!p)
			fail("malloc returned NULL", c, n, NULL);
		sink = p;
		c_stamp(p, n, c_tag(n, i));
		c->slot[i] = p;
		c->size[i] = (uint32_t)n;
	}
	c->rng = rng;
	c->gen++;
	if (c->gen < ngens) {
		pthread_t t;
		int e = pthread_create(&t, &detached, worker, c);
		if (e) {
			fprintf(stderr, "b_larson: pthread_create failed: %s\n", strerror(e));
			exit(2);
		}
	} else {
		pthread_mutex_lock(&done_mu);
		chains_done++;
		pthread_cond_signal(&done_cv);
		pthread_mutex_unlock(&done_mu);
	}
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[threads] [slots] [rounds] [generations] [seed]";
	unsigned nthreads = (unsigned)c_arg(argc, argv, 1, 2, usage);
	nslots = c_arg(argc, argv, 2, 1000, usage);
	nrounds = c_arg(argc, argv, 3, 30000, usage);
	ngens = c_arg(argc, argv, 4, 600, usage);
	uint64_t seed = c_arg(argc, argv, 5, 1, usage);
	if (nthreads == 0 || nslots == 0 || ngens == 0) {
		fprintf(stderr, "b_larson: threads, slots and generations must be > 0\n");
		return 64;
	}

	pthread_attr_init(&detached);
	pthread_attr_setdetachstate(&detached, PTHREAD_CREATE_DETACHED);

	struct chain *ch = calloc(nthreads, sizeof *ch);
	if (!ch)
		return 2;
	for (unsigned t = 0; t < nthreads; t++) {
		ch[t].slot = calloc(nslots, sizeof *ch[t].slot);
		ch[t].size = calloc(nslots, sizeof *ch[t].size);
		if (!ch[t].slot || !ch[t].size) {
			fprintf(stderr, "b_larson: cannot allocate slot arrays\n");
			return 2;
		}
		ch[t].rng = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (t + 1) * 0xD1B54A32D192ED03ull;
		if (!ch[t].rng)
			ch[t].rng = 1;
		ch[t].id = t;
	}
	for (unsigned t = 0; t < nthreads; t++) {
		pthread_t th;
		int e = pthread_create(&th, &detached, worker, &ch[t]);
		if (e) {
			fprintf(stderr, "b_larson: pthread_create failed: %s\n", strerror(e));
			return 2;
		}
	}
	pthread_mutex_lock(&done_mu);
	while (chains_done < nthreads)
		pthread_cond_wait(&done_cv, &done_mu);
	pthread_mutex_unlock(&done_mu);

	/* the main thread frees what the last generation left behind */
	for (unsigned t = 0; t < nthreads; t++) {
		for (size_t i = 0; i < nslots; i++) {
			unsigned char *p = ch[t].slot[i];
			if (!p)
				continue;
			size_t n = ch[t].size[i];
			if (!c_stamp_ok(p, n, c_tag(n, i)))
				fail("block corrupted at final check", &ch[t], n, p);
			free(p);
		}
		free(ch[t].slot);
		free(ch[t].size);
	}
	free(ch);
	return 0;
}
