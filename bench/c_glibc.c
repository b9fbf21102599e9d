/*
 * c_glibc -- the glibc-simple / glibc-thread pattern (after glibc's
 * benchtests bench-malloc-simple): blocks of one size allocated in a batch
 * and freed half in FIFO, half in LIFO order.
 *
 * Usage: c_glibc [threads=1] [iterations=1000] [seed=1]
 *
 * Each thread (threads=1: the main thread only, no thread is created),
 * `iterations` times, for each batch count n in 4, 25, 100, 400, 1600 and
 * each size in 16, 32, 48, 64, 96, 128, 256 B: mallocs n blocks of that
 * size and stamps them, checks and frees the first half from the oldest
 * up (FIFO), then the second half from the newest down (LIFO).  A
 * corrupted block exits with status 2.
 */
#include <stddef.h>

#include "c_common.h"

static const char *prog = "c_glibc";
static unsigned long long iterations;
static const unsigned counts[] = {4, 25, 100, 400, 1600};
static const unsigned sizes[] = {16, 32, 48, 64, 96, 128, 256};

typedef struct {
	uint64_t seed, sum;
} targ_t;

static void *worker(void *arg) {
	targ_t *t = arg;
	unsigned char *p[1600];
	uint64_t sum = 0, salt = t->seed;
	for (unsigned long long it = 0; it < iterations; it++) {
		for (unsigned c = 0; c < sizeof counts / sizeof counts[0]; c++) {
			for (unsigned s = 0; s < sizeof sizes / sizeof sizes[0]; s++) {
				unsigned n = counts[c], sz = sizes[s];
				for (unsigned i = 0; i < n; i++) {
					p[i] = cmalloc(prog, sz);
					cstamp(p[i], sz, ctag(salt, i));
				}
				for (unsigned i = 0; i < n / 2; i++) {
					if (!ccheck(p[i], sz, ctag(salt, i)))
						cfail(prog, "block corrupted");
					free(p[i]);
				}
				for (unsigned i = n; i-- > n / 2;) {
					if (!ccheck(p[i], sz, ctag(salt, i)))
						cfail(prog, "block corrupted");
					free(p[i]);
				}
				sum += n;
				salt++;
			}
		}
	}
	t->sum = sum;
	return NULL;
}

int main(int argc, char **argv) {
	const char *u = "[threads=1] [iterations=1000] [seed=1]";
	unsigned threads = (unsigned)c_arg(argc, argv, 1, 1, u);
	iterations = c_arg(argc, argv, 2, 1000, u);
	uint64_t seed = c_arg(argc, argv, 3, 1, u);
	if (!threads)
		cfail(prog, "need threads >= 1");
	targ_t *ta = cmalloc(prog, threads * sizeof *ta);
	for (unsigned i = 0; i < threads; i++)
		ta[i].seed = seed * 1000003u + i * 7919u;
	uint64_t sum;
	if (threads == 1) {
		worker(ta);
		sum = ta[0].sum;
	} else
		sum = crun_threads_sum(prog, threads, worker, ta, sizeof *ta, offsetof(targ_t, sum));
	free(ta);
	printf("%llu\n", (unsigned long long)sum);
	return 0;
}
