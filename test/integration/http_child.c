/*
 * http_child: the program the http endpoint tests (http_*.sh) run under
 * LD_PRELOAD=libxalloc.so.  Standard malloc API only.  Built with
 * -fno-inline and frame pointers so every site is a real call with its
 * own frame, and not linked with -rdynamic: the site functions are static,
 * so the profile must name them from the program's symbol table.
 *
 *   http_child MIB BEAT [SECONDS]
 *     holds MIB MiB live: 60% allocated in site_big, 30% in site_mid,
 *     10% in site_small (mixed sizes 256..4096 bytes); prints
 *     "true: site_big B site_mid B site_small B" and "ready"; then, until
 *     SECONDS (default 120) have passed or stdin reaches EOF, keeps
 *     allocating and freeing small blocks and writes the count of rounds
 *     done into the file BEAT every 20 ms (the "program runs on" check).
 *     With MIB 0 nothing is held.
 *   http_child MIB BEAT SECONDS fork
 *     the same, and after "ready" forks a child that prints "forked PID"
 *     and sleeps SECONDS without allocating (it must not serve, nor keep
 *     the parent's address busy once the parent is gone).
 *   http_child MIB BEAT SECONDS grow
 *     the same, and each round (about every 20 ms) also allocates 64 KiB
 *     in site_grow and keeps it: the one site that grows (delta profiles).
 *   http_child MIB BEAT SECONDS pexit
 *     main starts a thread that allocates for 200 ms, then calls
 *     pthread_exit: the process must end when that thread does, even
 *     though the endpoint's thread is still there.
 */
#include <fcntl.h>
#include <pthread.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <sys/types.h>
#include <unistd.h>

static unsigned rng = 2463534242u;
static unsigned rnd(void) {
	rng ^= rng << 13;
	rng ^= rng >> 17;
	rng ^= rng << 5;
	return rng;
}

static void *site_big(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 1, n);
	return p;
}
static void *site_mid(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 2, n);
	return p;
}
static void *site_small(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 3, n);
	return p;
}

static void *site_grow(size_t n) {
	void *p = malloc(n);
	if (p)
		memset(p, 4, n);
	return p;
}

typedef void *site_fn(size_t);
static size_t fill(site_fn *fn, size_t bytes) {
	size_t done = 0;
	while (done < bytes) {
		size_t n = 256 + rnd() % 3841;
		if (fn(n) == NULL)
			exit(3);
		done += n;
	}
	return done;
}

static double now_s(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *worker(void *arg) {
	double end = now_s() + 0.2;
	while (now_s() < end)
		free(malloc(1000));
	return arg;
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: http_child MIB BEATFILE [SECONDS]\n");
		return 2;
	}
	size_t total = (size_t)atol(argv[1]) << 20;
	double secs = argc > 3 ? atof(argv[3]) : 120;
	size_t a = fill(site_big, total * 6 / 10);
	size_t b = fill(site_mid, total * 3 / 10);
	size_t c = fill(site_small, total / 10);
	printf("true: site_big %zu site_mid %zu site_small %zu\n", a, b, c);
	fflush(stdout);
	if (argc > 4 && strcmp(argv[4], "pexit") == 0) {
		pthread_t t;
		if (pthread_create(&t, NULL, worker, NULL) != 0)
			return 2;
		pthread_exit(NULL);
	}
	if (argc > 4 && strcmp(argv[4], "fork") == 0) {
		pid_t pid = fork();
		if (pid < 0)
			return 2;
		if (pid == 0) {
			printf("forked %d\n", (int)getpid());
			fflush(stdout);
			struct timespec ts = {(time_t)secs, 0};
			nanosleep(&ts, NULL);
			_exit(0);
		}
	}
	printf("ready\n");
	fflush(stdout);
	int beat = open(argv[2], O_WRONLY | O_CREAT | O_TRUNC, 0644);
	if (beat < 0) {
		perror(argv[2]);
		return 2;
	}
	int grow = argc > 4 && strcmp(argv[4], "grow") == 0;
	void *ring[64] = {0};
	unsigned long rounds = 0;
	double end = now_s() + secs;
	while (now_s() < end) {
		for (int i = 0; i < 1000; i++) {
			unsigned k = rnd() % 64;
			free(ring[k]);
			ring[k] = malloc(16 + rnd() % 512);
		}
		if (grow)
			fill(site_grow, 64 << 10);
		rounds++;
		char line[32];
		int n = snprintf(line, sizeof(line), "%lu\n", rounds);
		if (pwrite(beat, line, (size_t)n, 0) != n)
			return 2;
		struct pollfd p = {.fd = 0, .events = POLLIN};
		if (poll(&p, 1, 20) > 0) {
			char buf[64];
			if (read(0, buf, sizeof(buf)) <= 0)
				break;
		}
	}
	printf("rounds %lu\n", rounds);
	return 0;
}
