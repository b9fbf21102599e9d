/*
 * c_cache_scratch -- cache-scratch pattern: passive false sharing.
 *
 * Usage: c_cache_scratch [threads=2] [iterations=4000] [writes=20000]
 *                        [objsize=8]
 *
 * The main thread allocates one `objsize`-byte object per worker, back to
 * back (so they likely share cache lines) and hands one to each worker.
 * Each worker frees the object it was given, then `iterations` times
 * mallocs an object of the same size, writes each of its bytes `writes`
 * times over, and frees it.  An allocator that hands a freed object back
 * to the thread that freed it (rather than to the thread that allocated
 * it) makes the workers write to shared cache lines.  The object must
 * still hold what the thread wrote before it is freed, or the program
 * exits with status 2.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "c_cache_scratch";
static unsigned long long iterations, writes, objsize;

typedef struct {
	unsigned char *given;
	uint64_t sum;
} targ_t;

static void *worker(void *arg) {
	targ_t *t = arg;
	free(t->given);
	for (unsigned long long i = 0; i < iterations; i++) {
		volatile unsigned char *p = cmalloc(prog, objsize);
		for (unsigned long long w = 0; w < writes; w++)
			for (size_t j = 0; j < objsize; j++)
				p[j] = (unsigned char)(w + j);
		for (size_t j = 0; j < objsize; j++)
			if (p[j] != (unsigned char)(writes - 1 + j))
				cfail(prog, "object changed under its owner");
		t->sum += p[0];
		free((void *)p);
	}
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=2] [iterations=4000] [writes=20000] [objsize=8]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 2, u);
	iterations = c_arg(argc, argv, 2, 4000, u);
	writes = c_arg(argc, argv, 3, 20000, u);
	objsize = c_arg(argc, argv, 4, 8, u);
	if (!threads || !objsize || !writes)
		cfail(prog, "need threads, writes and objsize >= 1");
	targ_t *ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++) {
		ta[i].given = cmalloc(prog, objsize);
		memset(ta[i].given, 0, objsize);
		ta[i].sum = 0;
	}
	uint64_t sum = crun_threads_sum(prog, threads, worker, ta, sizeof *ta, offsetof(targ_t, sum));
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
