/*
 * c_larson -- larson server pattern: worker threads replace random blocks
 * of one shared array, so most blocks are freed by a thread other than
 * the one that allocated them.
 *
 * Usage: c_larson [threads=4] [slots=8000] [ops=1500000] [seed=1]
 *
 * The main thread fills `slots` slots with blocks of 16..512 B.  Each
 * worker then performs `ops` replacements: pick a random slot, malloc and
 * stamp a new block, swap it into the slot atomically, check and free the
 * block it took out (usually allocated by another thread).  The main
 * thread checks and frees what is left.  A corrupted block exits with
 * status 2.  Prints a checksum.
 */
#include <stdatomic.h>

#include <stddef.h>

#include "c_common.h"

static const char *prog = "c_larson";
static unsigned long long nslots, nops;
static _Atomic(unsigned char *) *slot;

typedef struct {
	uint64_t seed, sum;
} targ_t;

/* header of every block: its size and a tag derived from it */
static unsigned char *make(crng_t *r) {
	uint32_t n = (uint32_t)crng_range(r, 16, 512);
	unsigned char *p = cmalloc(prog, n);
	memcpy(p + 8, &n, 4);
	cstamp(p, n, ctag(n, (uintptr_t)p));
	return p;
}

static uint32_t check(unsigned char *p) {
	uint32_t n;
	memcpy(&n, p + 8, 4);
	if (n < 16 || n > 512 || !ccheck(p, n, ctag(n, (uintptr_t)p)))
		cfail(prog, "block corrupted");
	return n;
}

static void *worker(void *arg) {
	targ_t *t = arg;
	crng_t r;
	crng_seed(&r, t->seed);
	uint64_t sum = 0;
	for (unsigned long long k = 0; k < nops; k++) {
		unsigned char *p = make(&r);
		unsigned char *old = atomic_exchange_explicit(&slot[crng_below(&r, nslots)], p, memory_order_acq_rel);
		sum += check(old);
		free(old);
	}
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=4] [slots=8000] [ops=1500000] [seed=1]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 4, u);
	nslots = c_arg(argc, argv, 2, 8000, u);
	nops = c_arg(argc, argv, 3, 1500000, u);
	uint64_t seed = c_arg(argc, argv, 4, 1, u);
	if (!threads || !nslots)
		cfail(prog, "need threads >= 1 and slots >= 1");
	crng_t r;
	crng_seed(&r, seed);
	slot = cmalloc(prog, nslots * sizeof *slot);
	for (size_t i = 0; i < nslots; i++)
		atomic_init(&slot[i], make(&r));
	targ_t *a = cmalloc(prog, threads * sizeof *a);
	for (unsigned i = 0; i < threads; i++)
		a[i].seed = seed * 1000 + i + 1;
	uint64_t sum = crun_threads_sum(prog, threads, worker, a, sizeof *a, offsetof(targ_t, sum));
	for (size_t i = 0; i < nslots; i++) {
		unsigned char *p = atomic_load(&slot[i]);
		sum += check(p);
		free(p);
	}
	free(slot);
	free(a);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
