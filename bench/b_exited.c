/*
 * b_exited -- what a burst of threads leaves resident after they exit.
 *
 * Usage: b_exited [threads=200] [idle_seconds=3] [blocks=2000]
 *
 * `threads` threads run at once; each, three times over, allocates
 * `blocks` blocks of one size and frees them, for sizes 16, 64, ...,
 * 1024 B (the pattern that makes a thread cache grow), then waits on a
 * barrier until all are done, and exits.  The main thread joins them,
 * then makes no allocator call for `idle_seconds` and reads its RSS
 * again.  Prints three lines: "start_kb", "exited_kb" (right after the
 * joins), "idle_kb" (after the idle time), from /proc/self/statm.
 * A thread pool that grew for a peak of load and shrank again.
 */
#include "c_common.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *prog = "b_exited";
static unsigned long long nblocks;
static pthread_barrier_t bar;

static long rss_kb(void) {
	FILE *f = fopen("/proc/self/statm", "r");
	long a = 0, b = 0;
	if (f == NULL || fscanf(f, "%ld %ld", &a, &b) != 2)
		cfail(prog, "cannot read /proc/self/statm");
	fclose(f);
	return b * (sysconf(_SC_PAGESIZE) / 1024);
}

static void *worker(void *arg) {
	void **p = arg;
	for (int r = 0; r < 3; r++)
		for (size_t s = 16; s <= 1024; s += 48) {
			for (unsigned long long i = 0; i < nblocks; i++) {
				p[i] = cmalloc(prog, s);
				((unsigned char *)p[i])[s - 1] = (unsigned char)i;
			}
			for (unsigned long long i = 0; i < nblocks; i++) {
				if (((unsigned char *)p[i])[s - 1] != (unsigned char)i)
					cfail(prog, "block corrupted");
				free(p[i]);
			}
		}
	pthread_barrier_wait(&bar);
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "b_exited [threads] [idle_seconds] [blocks]";
	unsigned n = (unsigned)c_arg(argc, argv, 1, 200, usage);
	unsigned idle = (unsigned)c_arg(argc, argv, 2, 3, usage);
	nblocks = c_arg(argc, argv, 3, 2000, usage);
	if (n == 0 || nblocks == 0)
		cfail(prog, "threads and blocks must be >= 1");
	pthread_t *th = cmalloc(prog, n * sizeof(*th));
	void ***arrays = cmalloc(prog, n * sizeof(*arrays));
	for (unsigned i = 0; i < n; i++)
		arrays[i] = cmalloc(prog, nblocks * sizeof(void *));
	long start = rss_kb();
	pthread_barrier_init(&bar, NULL, n);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 256 << 10);
	for (unsigned i = 0; i < n; i++)
		if (pthread_create(&th[i], &attr, worker, arrays[i]) != 0)
			cfail(prog, "pthread_create failed");
	for (unsigned i = 0; i < n; i++)
		pthread_join(th[i], NULL);
	long exited = rss_kb();
	struct timespec ts = {(time_t)idle, 0};
	while (nanosleep(&ts, &ts) != 0)
		;
	long after = rss_kb();
	printf("start_kb %ld\nexited_kb %ld\nidle_kb %ld\n", start, exited, after);
	for (unsigned i = 0; i < n; i++)
		free(arrays[i]);
	free(arrays);
	free(th);
	return 0;
}
