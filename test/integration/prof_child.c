/*
 * prof_child: the program test_prof.c runs under LD_PRELOAD=libxalloc.so.
 * Standard malloc API, plus xallocctl found with dlsym (so the program also
 * runs, without the ctl modes, on other allocators).  Built with
 * -fno-builtin -fno-inline so every site is a real call with its own frame.
 *
 *   sites MIB         three sites holding 60/30/10% of MIB MiB in mixed
 *                     sizes, a transient site that frees everything; prints
 *                     the true bytes per site; holds them until exit
 *   threads DIR N     4 threads allocate while main writes N dumps via
 *                     prof.dump into DIR
 *   fork DIR N        2 threads allocate; N forks, each child allocates and
 *                     dumps to DIR/child.<i>.heap
 *   grow STEPS        STEPS x (allocate 8 MiB, sleep 300 ms)
 *   active DIR        prof.active := true at run time, allocate, dump to
 *                     DIR/active.heap, print prof.stats.*
 *   diff DIR          dump DIR/a.heap after site_a grew, DIR/b.heap after
 *                     site_b grew (for google-pprof --base)
 */
#include <dlfcn.h>
#include <malloc.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#define CHILD_NAME "prof_child"
#include "child.h"

typedef int ctl_fn(const char *, void *, size_t *, void *, size_t);
static ctl_fn *ctl;

static void need_ctl(void) {
	ctl = (ctl_fn *)dlsym(RTLD_DEFAULT, "xallocctl");
	if (ctl == NULL) {
		fprintf(stderr, "prof_child: no xallocctl\n");
		exit(2);
	}
}

static int dump_to(const char *path) { return ctl("prof.dump", NULL, NULL, &path, sizeof(path)); }

static uint64_t stat_u64(const char *name) {
	uint64_t v = 0;
	size_t len = sizeof(v);
	if (ctl(name, &v, &len, NULL, 0) != 0) {
		fprintf(stderr, "prof_child: %s failed\n", name);
		exit(2);
	}
	return v;
}

static uint32_t rng = 12345;
static uint32_t rnd(void) {
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

/* mixed sizes: 60% of calls 16-1000 B, 35% 2-32 KiB, 5% 100 KiB-1 MiB */
static size_t mixed_size(void) {
	uint32_t r = rnd() % 100;
	if (r < 60)
		return 16 + rnd() % 985;
	if (r < 95)
		return 2048 + rnd() % 30720;
	return 102400 + rnd() % 946176;
}

static void *site_a(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 0xa, n < 64 ? n : 64);
	return p;
}
static void *site_b(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 0xb, n < 64 ? n : 64);
	return p;
}
static void *site_c(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 0xc, n < 64 ? n : 64);
	return p;
}
static void transient(size_t total) {
	for (size_t done = 0; done < total;) {
		size_t n = mixed_size();
		void *p = malloc(n);
		memset(p, 1, 16);
		free(p);
		done += n;
	}
}

typedef void *site_fn(size_t);
static size_t fill(site_fn *fn, size_t bytes) {
	size_t got = 0;
	while (got < bytes) {
		void *p = fn(mixed_size());
		got += malloc_usable_size(p);
	}
	return got;
}

static int mode_sites(size_t mib) {
	size_t total = mib << 20;
	size_t a = fill(site_a, total * 6 / 10);
	transient(total);
	size_t b = fill(site_b, total * 3 / 10);
	size_t c = fill(site_c, total / 10);
	printf("true: site_a %zu site_b %zu site_c %zu\n", a, b, c);
	return 0;
}

static volatile int stop;
static void *churn(void *arg) {
	uint32_t s = (uint32_t)(uintptr_t)arg * 7919 + 1;
	void *slots[256] = {0};
	while (!stop) {
		s = s * 1103515245 + 12345;
		unsigned i = (s >> 8) % 256;
		free(slots[i]);
		slots[i] = malloc(16 + (s >> 4) % 40000);
	}
	for (int i = 0; i < 256; i++)
		free(slots[i]);
	return NULL;
}

static int mode_threads(const char *dir, int n) {
	need_ctl();
	pthread_t th[4];
	for (long i = 0; i < 4; i++)
		pthread_create(&th[i], NULL, churn, (void *)i);
	int ok = 0;
	for (int i = 0; i < n; i++) {
		char path[512];
		snprintf(path, sizeof(path), "%s/t.%d.heap", dir, i);
		ok += dump_to(path) == 0;
		usleep(20000);
	}
	stop = 1;
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	printf("dumps: %d\n", ok);
	return ok == n ? 0 : 1;
}

static int mode_fork(const char *dir, int n) {
	need_ctl();
	pthread_t th[2];
	for (long i = 0; i < 2; i++)
		pthread_create(&th[i], NULL, churn, (void *)i);
	int ok = 0;
	for (int i = 0; i < n; i++) {
		pid_t pid = fork();
		if (pid == 0) {
			void *keep[2000];
			for (int j = 0; j < 2000; j++)
				keep[j] = site_a(1000 + j * 10);
			char path[512];
			snprintf(path, sizeof(path), "%s/child.%d.heap", dir, i);
			int r = dump_to(path);
			for (int j = 0; j < 2000; j++)
				free(keep[j]);
			_exit(r == 0 ? 0 : 3);
		}
		if (pid < 0)
			fail("fork: %s", strerror(errno));
		int st = wait_deadline(pid, 30);
		if (st != -1 && WIFEXITED(st) && WEXITSTATUS(st) == 0)
			ok++;
		else
			fprintf(stderr, "prof_child: fork child %d: %s\n", i, describe(st));
	}
	stop = 1;
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	printf("fork: %d children ok\n", ok);
	return ok == n ? 0 : 1;
}

static int mode_grow(int steps) {
	for (int i = 0; i < steps; i++) {
		fill(site_a, 8 << 20);
		usleep(300000);
	}
	return 0;
}

static int mode_active(const char *dir) {
	need_ctl();
	bool on = true, old = true;
	size_t len = sizeof(old);
	if (ctl("prof.active", &old, &len, &on, sizeof(on)) != 0 || old) {
		fprintf(stderr, "prof_child: prof.active write failed or was already on\n");
		return 1;
	}
	fill(site_b, 64 << 20);
	char path[512];
	snprintf(path, sizeof(path), "%s/active.heap", dir);
	int r = dump_to(path);
	printf("dump %d nsamples %llu nstacks %llu metadata %llu ndumps %llu\n", r,
	    (unsigned long long)stat_u64("prof.stats.nsamples"), (unsigned long long)stat_u64("prof.stats.nstacks"),
	    (unsigned long long)stat_u64("prof.stats.metadata"), (unsigned long long)stat_u64("prof.stats.ndumps"));
	return r;
}

static int mode_diff(const char *dir) {
	need_ctl();
	char path[512];
	fill(site_a, 20 << 20);
	snprintf(path, sizeof(path), "%s/a.heap", dir);
	if (dump_to(path))
		return 1;
	fill(site_b, 40 << 20);
	snprintf(path, sizeof(path), "%s/b.heap", dir);
	return dump_to(path) ? 1 : 0;
}

int main(int argc, char **argv) {
	if (argc >= 3 && strcmp(argv[1], "sites") == 0)
		return mode_sites((size_t)atol(argv[2]));
	if (argc >= 4 && strcmp(argv[1], "threads") == 0)
		return mode_threads(argv[2], atoi(argv[3]));
	if (argc >= 4 && strcmp(argv[1], "fork") == 0)
		return mode_fork(argv[2], atoi(argv[3]));
	if (argc >= 3 && strcmp(argv[1], "grow") == 0)
		return mode_grow(atoi(argv[2]));
	if (argc >= 3 && strcmp(argv[1], "active") == 0)
		return mode_active(argv[2]);
	if (argc >= 3 && strcmp(argv[1], "diff") == 0)
		return mode_diff(argv[2]);
	fprintf(stderr,
	    "usage: prof_child sites MIB | threads DIR N | fork DIR N | grow STEPS | active DIR | diff DIR\n");
	return 2;
}
