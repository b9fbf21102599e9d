/*
 * b_hugechurn: the allocation pattern of stress-ng's malloc stressor
 * (stress-ng 0.15, `--malloc 2 --malloc-bytes 256M`: 128 MiB per worker),
 * replayed for a fixed number of steps so that runs are comparable on a
 * loaded machine: 65 536 slots; each step picks a random slot and frees its
 * block or allocates one of a random size below 128 MiB (1/32 calloc, 3/32
 * memalign with 8..1024-byte alignment, else malloc), writes its first
 * word, and calls malloc_trim(0) one step in eight.  About 32 000 blocks are
 * live in the steady state: thousands of big blocks, mostly untouched.
 *
 *   b_hugechurn [steps]      (default 200000)
 *
 * Prints "time_ms T peak_rss_kb R" with T the process's CPU time (user +
 * sys: the work is mostly system calls and page faults), and "ops N".
 */
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>

static uint64_t state = 0x9e3779b97f4a7c15ull;

static uint64_t next(void) { /* xorshift64 */
	state ^= state << 13;
	state ^= state >> 7;
	state ^= state << 17;
	return state;
}

int main(int argc, char **argv) {
	long steps = argc > 1 ? atol(argv[1]) : 200000;
	const size_t nslots = 65536, maxbytes = (size_t)128 << 20;
	void **slot = calloc(nslots, sizeof(void *));
	if (slot == NULL)
		return 1;
	long ops = 0;
	for (long k = 0; k < steps; k++) {
		uint32_t r = (uint32_t)next();
		size_t i = r % nslots;
		unsigned kind = (r >> 14) & 0x1f;
		if (slot[i]) {
			free(slot[i]);
			slot[i] = NULL;
			ops++;
		} else if ((r >> 12) != 0) {
			size_t len = next() % maxbytes;
			if (len < sizeof(void *))
				len = sizeof(void *);
			if (kind == 0) {
				size_t n = ((r >> 15) % 17) + 1;
				slot[i] = calloc(n, len / n);
			} else if (kind <= 3) {
				slot[i] = memalign((size_t)1 << (3 + (i & 7)), len);
			} else {
				slot[i] = malloc(len);
			}
			if (slot[i]) {
				*(void **)slot[i] = slot[i];
				ops++;
			}
		}
		if ((r & 7) == 0)
			malloc_trim(0);
	}
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	double ms = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1e3 + (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e3;
	printf("ops %ld\ntime_ms %.1f peak_rss_kb %ld\n", ops, ms, ru.ru_maxrss);
	for (size_t i = 0; i < nslots; i++)
		free(slot[i]);
	free(slot);
	return 0;
}
