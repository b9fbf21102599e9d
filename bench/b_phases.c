/*
 * b_phases -- sh6bench's pattern, timed phase by phase (an analysis tool).
 *
 * Usage: b_phases [threads] [rounds] [batch] [replay_reads] [seed]
 *        defaults:  4         200      20000   0              1
 *
 * Each thread, `rounds` times: allocates `batch` blocks of mixed small
 * sizes (9..1000 B, 3 in 4 under 201 B) and stamps each (size word, last
 * byte) -- phase "alloc"; checks, frees and reallocates every other block
 * -- "realloc"; reads every block in reverse order -- "read"; frees every
 * block in reverse order -- "free".  The phases are timed separately with
 * the thread's CPU clock, so an allocator's cost in the frees (a thread
 * cache that overflows and flushes) shows apart from its cost in the
 * mallocs and in the program's own first touches of the blocks it gets.
 *
 * With replay_reads > 0 the blocks of every thread's last round are kept,
 * and after the threads are joined the main thread makes replay_reads reads
 * of a random block's first byte, timed: the cost of the layout alone (how
 * the allocator placed the blocks), with no allocator call in the loop.
 *
 * Also counted, untimed, in the last round's alloc phase: of the pairs of
 * successive blocks of one size class (by malloc_usable_size) a thread
 * got, the fraction that are neighbours in memory ("adjacent") -- how well
 * the allocator hands a class's blocks out in address order once the
 * rounds have churned its caches.
 *
 * Prints one line: "alloc S realloc S read S free S replay S adjacent F"
 * (CPU seconds summed over the threads; replay 0 without replay_reads).
 * A corrupted block or a NULL from malloc exits with status 2.
 */
#define _GNU_SOURCE /* malloc_usable_size */
#include <malloc.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "c_common.h"

#define MAXT 64

static const char *prog = "b_phases";
static unsigned nthreads;
static unsigned long long rounds, replay;
static size_t batch;
static uint64_t seed;
static double phase[MAXT][4];
static unsigned char **kept[MAXT];
static _Atomic uint64_t checksum;
/* the last round's alloc phase: pairs of successive same-size-class blocks
 * of a thread, and how many of them are neighbours in memory */
static _Atomic uint64_t npairs, nadjacent;

#define MAXUSABLE 4096

/* Successive allocations of one size class in the last round's alloc
 * phase (p[0..n) in allocation order): how many follow their predecessor
 * of the class directly in memory, one block up or down.  The usable size
 * stands for the class. */
static void count_adjacent(unsigned char **p, size_t n) {
	static _Thread_local uintptr_t last[MAXUSABLE + 1];
	memset(last, 0, sizeof last);
	uint64_t pairs = 0, adj = 0;
	for (size_t i = 0; i < n; i++) {
		size_t u = malloc_usable_size(p[i]);
		if (u > MAXUSABLE)
			continue;
		uintptr_t a = (uintptr_t)p[i];
		if (last[u]) {
			pairs++;
			adj += a - last[u] == u || last[u] - a == u;
		}
		last[u] = a;
	}
	atomic_fetch_add(&npairs, pairs);
	atomic_fetch_add(&nadjacent, adj);
}

static double cpu_seconds(int clock) {
	struct timespec ts;
	clock_gettime(clock, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static size_t size_at(crng_t *r) {
	return crng_below(r, 8) < 6 ? (size_t)crng_range(r, 9, 200) : (size_t)crng_range(r, 201, 1000);
}

static unsigned char *make(crng_t *r) {
	size_t n = size_at(r);
	unsigned char *p = cmalloc(prog, n);
	uint64_t t = ctag(n, (uintptr_t)p);
	uint32_t n32 = (uint32_t)n;
	memcpy(p, &n32, 4);
	memcpy(p + 4, &t, 4);
	p[n - 1] = (unsigned char)(t >> 40);
	return p;
}

static uint64_t check(const unsigned char *p) {
	uint32_t n, h;
	memcpy(&n, p, 4);
	memcpy(&h, p + 4, 4);
	uint64_t t = ctag(n, (uintptr_t)p);
	if (n < 9 || n > 1000 || h != (uint32_t)t || p[n - 1] != (unsigned char)(t >> 40))
		cfail(prog, "block corrupted");
	return n;
}

static void *worker(void *arg) {
	unsigned id = (unsigned)(uintptr_t)arg;
	crng_t r;
	crng_seed(&r, seed * 1000 + id);
	unsigned char **p = cmalloc(prog, batch * sizeof *p);
	uint64_t sum = 0;
	for (unsigned long long k = 0; k < rounds; k++) {
		double t0 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = 0; i < batch; i++)
			p[i] = make(&r);
		double t1 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		phase[id][0] += t1 - t0;
		if (k + 1 == rounds) { /* not timed */
			count_adjacent(p, batch);
			t1 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		}
		for (size_t i = 0; i < batch; i += 2) {
			sum += check(p[i]);
			free(p[i]);
			p[i] = make(&r);
		}
		double t2 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		for (size_t i = batch; i-- > 0;)
			sum += check(p[i]);
		double t3 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		if (replay && k + 1 == rounds) {
			kept[id] = p; /* the main thread reads and frees them */
			p = NULL;
		} else {
			for (size_t i = batch; i-- > 0;)
				free(p[i]);
		}
		double t4 = cpu_seconds(CLOCK_THREAD_CPUTIME_ID);
		phase[id][1] += t2 - t1;
		phase[id][2] += t3 - t2;
		phase[id][3] += t4 - t3;
		if (!p)
			break;
	}
	free(p);
	atomic_fetch_add(&checksum, sum);
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=4] [rounds=200] [batch=20000] [replay_reads=0] [seed=1]";
	nthreads = (unsigned)c_arg(argc, argv, 1, 4, u);
	rounds = c_arg(argc, argv, 2, 200, u);
	batch = (size_t)c_arg(argc, argv, 3, 20000, u);
	replay = c_arg(argc, argv, 4, 0, u);
	seed = c_arg(argc, argv, 5, 1, u);
	if (nthreads == 0 || nthreads > MAXT || rounds == 0 || batch < 2)
		cfail(prog, "need 1..64 threads, rounds >= 1 and batch >= 2");
	crun_indexed(prog, nthreads, worker);
	double s[4] = {0};
	for (unsigned i = 0; i < nthreads; i++)
		for (int j = 0; j < 4; j++)
			s[j] += phase[i][j];
	double tr = 0;
	if (replay) {
		crng_t r;
		crng_seed(&r, seed);
		uint64_t sum = 0;
		double t0 = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID);
		for (unsigned long long k = 0; k < replay; k++) {
			uint64_t x = crng_below(&r, (uint64_t)nthreads * batch);
			sum += *(volatile unsigned char *)kept[x / batch][x % batch];
		}
		tr = cpu_seconds(CLOCK_PROCESS_CPUTIME_ID) - t0;
		for (unsigned i = 0; i < nthreads; i++) {
			for (size_t j = 0; j < batch; j++) {
				check(kept[i][j]);
				free(kept[i][j]);
			}
			free(kept[i]);
		}
		atomic_fetch_add(&checksum, sum);
	}
	uint64_t pairs = atomic_load(&npairs);
	printf("alloc %.3f realloc %.3f read %.3f free %.3f replay %.3f adjacent %.2f\n", s[0], s[1], s[2], s[3], tr,
	    pairs ? (double)atomic_load(&nadjacent) / (double)pairs : 0.0);
	return atomic_load(&checksum) == 0 ? 2 : 0;
}
