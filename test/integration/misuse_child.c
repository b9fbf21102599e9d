/*
 * misuse_child: one heap misuse per mode, run by test_misuse under
 * LD_PRELOAD of libxalloc.so.  Each misuse mode must be stopped by the
 * allocator (one "xalloc: ..." line, SIGABRT); if the misuse returns, the
 * mode prints "survived" and exits 3 so the test fails.  The "overflow"
 * mode ("overflow:MAX:MIN:SECS": steps, below) is the opposite: it smashes
 * neighbouring objects and must go on allocating correctly (exit 0).
 *
 * Plain C, standard API only; built with -fno-builtin so the compiler
 * keeps every call.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <malloc.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

static char global_buf[256] __attribute__((aligned(64)));

/* Keep the compiler from reasoning about pointers we hand to free. */
static void *launder(void *p) {
	__asm__ volatile("" : "+r"(p));
	return p;
}

static void say(const char *s) {
	fputs(s, stdout);
	fflush(stdout);
}

/* Free n objects of size sz: fills the thread cache bin past its capacity,
 * so it is flushed to the slabs at least once. */
static void churn(size_t sz, int n) {
	void **v = calloc((size_t)n, sizeof *v);
	for (int i = 0; i < n; i++)
		v[i] = malloc(sz);
	for (int i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

static unsigned long long rng = 88172645463325252ull;
static unsigned long long next_rand(void) {
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

#define CHUNK ((uintptr_t)4 << 20)

/* Overflow one object far into its neighbours (staying inside its 4 MiB
 * chunk, which is always mapped), then check the heap still works. */
static double seconds(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Up to max_steps steps of the checked workload; once min_steps are done,
 * it stops at secs seconds, so a slow (loaded) machine does less work but
 * never less than min_steps. */
static int overflow(int max_steps, int min_steps, double secs) {
	enum { N = 4096 };
	static void *v[N];
	static size_t sz[N];
	for (int i = 0; i < N; i++) {
		sz[i] = i % 3 == 0 ? 48 : i % 3 == 1 ? 200 : 20000;
		v[i] = malloc(sz[i]);
		if (!v[i])
			return 10;
	}
	/* Smash 256 KiB (or to the end of the chunk) after a few objects. */
	for (int k = 0; k < 6; k++) {
		char *p = v[N / 2 + k * 7];
		uintptr_t end = ((uintptr_t)p | (CHUNK - 1)) + 1;
		size_t len = end - (uintptr_t)p;
		if (len > 256 << 10)
			len = 256 << 10;
		memset(p, 0xff - k, len);
	}
	for (int i = 0; i < N; i++)
		free(v[i]);
	/* Now a random workload with content checks. */
	for (int i = 0; i < N; i++)
		v[i] = NULL;
	double until = seconds() + secs;
	int it;
	for (it = 0; it < max_steps; it++) {
		if (it >= min_steps && (it & 1023) == 0 && seconds() > until)
			break;
		int i = (int)(next_rand() % N);
		if (v[i]) {
			unsigned char *p = v[i];
			unsigned char c = (unsigned char)i;
			if (p[0] != c || p[sz[i] - 1] != c || p[sz[i] / 2] != c) {
				printf("overflow: object %d corrupted\n", i);
				return 11;
			}
			free(p);
			v[i] = NULL;
		} else {
			size_t s = 1 + next_rand() % (next_rand() % 4 == 0 ? 70000 : 600);
			unsigned char *p = malloc(s);
			if (!p)
				return 12;
			memset(p, (unsigned char)i, s);
			v[i] = p;
			sz[i] = s;
		}
	}
	for (int i = 0; i < N; i++)
		free(v[i]);
	printf("overflow ok (%d steps)\n", it);
	fflush(stdout);
	return 0;
}

int main(int argc, char **argv) {
	if (argc < 2) {
		fprintf(stderr, "usage: misuse_child MODE\n");
		return 2;
	}
	const char *m = argv[1];
	int local = 0;
	char *p;

	/* Warm up: the first calls start the background thread, whose own
     * small allocations could otherwise reuse the pages freed below and
     * turn a double free into a free of someone else's live block.  The
     * "-fresh" modes skip it: the allocator itself must keep the start of
     * that thread from reusing a block being freed. */
	if (!strstr(m, "-fresh")) {
		free(malloc(1 << 20));
		free(malloc(64));
		usleep(10000);
	}

	/* "overflow[:MAX[:MIN[:SECS]]]": MAX steps (default 60,000: each of
     * the 4096 slots is reused ~15 times), or fewer but at least MIN
     * (default MAX) when SECS (default 10) run out */
	if (!strncmp(m, "overflow", 8) && (m[8] == '\0' || m[8] == ':')) {
		int max = 60000, min = -1;
		double secs = 10;
		if (m[8] == ':')
			sscanf(m + 9, "%d:%d:%lf", &max, &min, &secs);
		return overflow(max, min < 0 ? max : min, secs);
	}
	if (!strcmp(m, "double-small")) { /* free(p); free(p): cache fast path */
		p = malloc(48);
		free(p);
		free(launder(p));
	} else if (!strcmp(m, "double-small-later")) { /* a repeat deeper in the cache: at flush */
		char *a = malloc(48), *b = malloc(48);
		free(a);
		free(b);
		free(launder(a));
		say("queued\n");
		churn(48, 20000);
	} else if (!strcmp(m, "double-large")) { /* cached large class */
		p = malloc(20000);
		free(p);
		free(launder(p));
	} else if (!strcmp(m, "double-large-uncached")) { /* 1 MiB: never cached */
		p = malloc(1 << 20);
		free(p);
		free(launder(p));
	} else if (!strcmp(m, "double-large-fresh")) { /* first free of the process */
		p = malloc(1 << 20);
		free(p);
		free(launder(p));
	} else if (!strcmp(m, "double-huge")) {
		p = malloc(64 << 20);
		free(p);
		free(launder(p));
	} else if (!strcmp(m, "stack")) {
		free(launder(&local));
	} else if (!strcmp(m, "global")) {
		free(launder(global_buf));
	} else if (!strcmp(m, "mmap")) {
		p = mmap(NULL, 1 << 16, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		free(launder(p + 4096));
	} else if (!strcmp(m, "glibc")) { /* another allocator's block */
		/* The preloaded library comes first in the global scope; look the
         * name up in libc's own scope to get glibc's malloc. */
		void *libc = dlopen("libc.so.6", RTLD_NOW | RTLD_NOLOAD);
		void *(*libc_malloc)(size_t) = libc ? (void *(*)(size_t))dlsym(libc, "malloc") : NULL;
		if (!libc_malloc || libc_malloc == (void *(*)(size_t))dlsym(RTLD_DEFAULT, "malloc")) {
			say("cannot find glibc's malloc\n");
			return 4;
		}
		p = libc_malloc(64);
		free(launder(p));
	} else if (!strcmp(m, "interior-small")) {
		p = malloc(48);
		free(launder(p + 16));
	} else if (!strcmp(m, "interior-small-256")) { /* would be cached, then handed out */
		p = malloc(256);
		free(launder(p + 16));
		char *q = malloc(256);
		printf("q - p = %ld\n", (long)(q - p));
	} else if (!strcmp(m, "interior-slab-page")) { /* 16-aligned, a page into a 5-page slab */
		void *v[64];
		for (int i = 0; i < 64; i++)
			v[i] = malloc(80);
		p = v[60];
		free(launder(p + 4096 + 16));
	} else if (!strcmp(m, "interior-small-later")) { /* 16-aligned, not a region start */
		p = malloc(48);
		free(launder(p + 16));
		say("queued\n");
		churn(48, 20000);
	} else if (!strcmp(m, "interior-large")) {
		p = malloc(20000);
		free(launder(p + 4096));
	} else if (!strcmp(m, "interior-large-16")) {
		p = malloc(20000);
		free(launder(p + 16));
	} else if (!strcmp(m, "interior-huge")) {
		p = malloc(64 << 20);
		free(launder(p + 16));
	} else if (!strcmp(m, "misaligned-small")) {
		p = malloc(48);
		free(launder(p + 1));
	} else if (!strcmp(m, "misaligned-large")) {
		p = malloc(20000);
		free(launder(p + 8));
	} else if (!strcmp(m, "realloc-stack")) {
		p = realloc(launder(&local), 100);
	} else if (!strcmp(m, "realloc-interior")) {
		p = malloc(100);
		p = realloc(launder(p + 32), 1000);
	} else if (!strcmp(m, "usable-stack")) {
		printf("%zu\n", malloc_usable_size(launder(&local)));
	} else {
		fprintf(stderr, "misuse_child: unknown mode %s\n", m);
		return 2;
	}
	say("survived\n");
	return 3;
}
