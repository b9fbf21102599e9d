/*
 * b_threads128 -- per-thread memory overhead of the allocator.
 *
 * Usage: b_threads128 [threads] [stack_KiB] [alloc_bytes]
 *        defaults:      128        256          1024
 *
 * The main thread makes one malloc/free (so the allocator is initialised),
 * reads VmSize/VmRSS from /proc/self/status, then starts `threads` threads
 * with a stack of exactly `stack_KiB` (guard size 0, so the stack mapping is
 * exactly that big).  Each thread mallocs `alloc_bytes`, fills it, and waits
 * on a barrier; when all are alive the main thread reads VmSize/VmRSS again.
 * Then the threads check and free their block and exit.
 *
 * Prints one line:  "<va_added_bytes> <rss_added_bytes>"
 * where va_added = VmSize delta - threads * stack size (may be negative if
 * the allocator unmapped something) and rss_added = VmRSS delta (this still
 * includes the few touched pages of each thread stack; run with
 * alloc_bytes = 0 for a no-malloc baseline).
 * A corrupted block or a failure exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "c_common.h"

static _Thread_local void *volatile sink; /* per thread: no shared cache line */
static pthread_barrier_t alive, go;
static size_t alloc_bytes;

static void read_status(long long *vm_kb, long long *rss_kb) {
	char buf[8192];
	int fd = open("/proc/self/status", O_RDONLY);
	if (fd < 0) {
		perror("b_threads128: /proc/self/status");
		exit(2);
	}
	ssize_t n = 0, r;
	while (n < (ssize_t)sizeof buf - 1 && (r = read(fd, buf + n, sizeof buf - 1 - n)) > 0)
		n += r;
	close(fd);
	buf[n < 0 ? 0 : n] = 0;
	*vm_kb = *rss_kb = -1;
	for (char *line = buf; line && *line;) {
		if (!strncmp(line, "VmSize:", 7))
			*vm_kb = strtoll(line + 7, NULL, 10);
		else if (!strncmp(line, "VmRSS:", 6))
			*rss_kb = strtoll(line + 6, NULL, 10);
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	if (*vm_kb < 0 || *rss_kb < 0) {
		fprintf(stderr, "b_threads128: cannot parse /proc/self/status\n");
		exit(2);
	}
}

static void *worker(void *arg) {
	unsigned id = (unsigned)(uintptr_t)arg;
	unsigned char *p = NULL;
	if (alloc_bytes) {
		p = malloc(alloc_bytes);
		if (!p) {
			fprintf(stderr, "b_threads128: malloc(%zu) returned NULL in thread %u\n", alloc_bytes, id);
			exit(2);
		}
		sink = p;
		memset(p, (int)(id & 0xff), alloc_bytes);
	}
	pthread_barrier_wait(&alive);
	pthread_barrier_wait(&go);
	if (p) {
		for (size_t i = 0; i < alloc_bytes; i += 97)
			if (p[i] != (unsigned char)(id & 0xff)) {
				fprintf(stderr, "b_threads128: block of thread %u corrupted at %zu (%p)\n", id, i,
				    (void *)p);
				exit(2);
			}
		if (p[alloc_bytes - 1] != (unsigned char)(id & 0xff)) {
			fprintf(stderr, "b_threads128: block of thread %u corrupted at end\n", id);
			exit(2);
		}
		free(p);
	}
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[threads] [stack_KiB] [alloc_bytes]";
	unsigned nt = (unsigned)c_arg(argc, argv, 1, 128, usage);
	size_t stack = (size_t)c_arg(argc, argv, 2, 256, usage) << 10;
	alloc_bytes = (size_t)c_arg(argc, argv, 3, 1024, usage);
	if (!nt || stack < 64 * 1024) {
		fprintf(stderr, "b_threads128: need threads > 0 and stack >= 64 KiB\n");
		return 64;
	}

	pthread_t *th = malloc(nt * sizeof *th);
	void *warm = malloc(alloc_bytes ? alloc_bytes : 16);
	if (!th || !warm) {
		fprintf(stderr, "b_threads128: malloc failed in main\n");
		return 2;
	}
	sink = warm;
	free(warm);
	pthread_attr_t attr;
	pthread_attr_init(&attr);
	if (pthread_attr_setstacksize(&attr, stack) || pthread_attr_setguardsize(&attr, 0)) {
		fprintf(stderr, "b_threads128: cannot set stack/guard size\n");
		return 2;
	}
	pthread_barrier_init(&alive, NULL, nt + 1);
	pthread_barrier_init(&go, NULL, nt + 1);

	long long vm0, rss0, vm1, rss1;
	read_status(&vm0, &rss0);
	for (unsigned i = 0; i < nt; i++) {
		int e = pthread_create(&th[i], &attr, worker, (void *)(uintptr_t)i);
		if (e) {
			fprintf(stderr, "b_threads128: pthread_create #%u failed: %s\n", i, strerror(e));
			return 2;
		}
	}
	pthread_barrier_wait(&alive);
	read_status(&vm1, &rss1);
	pthread_barrier_wait(&go);
	for (unsigned i = 0; i < nt; i++)
		pthread_join(th[i], NULL);

	long long va_added = (vm1 - vm0) * 1024 - (long long)nt * (long long)stack;
	long long rss_added = (rss1 - rss0) * 1024;
	printf("%lld %lld\n", va_added, rss_added);
	free(th);
	return 0;
}
