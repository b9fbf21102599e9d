/*
 * child.h -- helpers shared by the programs the integration tests run under
 * the preload (xchild.c, xfork.c): failing with one line, the clock, a
 * PRNG, and waiting for a grandchild with a deadline.  Header only (static
 * functions); plain C and the standard malloc API only.
 *
 * Define CHILD_NAME ("xchild") before including: it prefixes every
 * "NAME: FAIL: ..." line.
 */
#ifndef XALLOC_TEST_CHILD_H
#define XALLOC_TEST_CHILD_H

#include <errno.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "xt_rnd.h"

#ifndef CHILD_NAME
#error "define CHILD_NAME before including child.h"
#endif

/* "NAME: FAIL: <formatted>" on stderr and exit 1.  write(2) directly:
 * stdio may need the allocator that just failed. */
static void fail(const char *fmt, ...) __attribute__((noreturn, format(printf, 1, 2), unused));
static void fail(const char *fmt, ...) {
	char buf[1024];
	va_list ap;
	va_start(ap, fmt);
	int n = vsnprintf(buf, sizeof buf - 1, fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if (n > (int)sizeof buf - 2)
		n = (int)sizeof buf - 2;
	buf[n++] = '\n';
	fflush(stdout);
	(void)!write(2, CHILD_NAME ": FAIL: ", sizeof(CHILD_NAME ": FAIL: ") - 1);
	(void)!write(2, buf, (size_t)n);
	_exit(1);
}

static inline double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static inline void sleep_us(long us) {
	struct timespec ts = {us / 1000000, (us % 1000000) * 1000L};
	while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
		;
}

/* Wait for pid up to secs; on a hang kill it and return -1, else the
 * waitpid status. */
static inline int wait_deadline(pid_t pid, double secs) {
	double until = now() + secs;
	int st = 0;
	for (;;) {
		pid_t w = waitpid(pid, &st, WNOHANG);
		if (w == pid)
			return st;
		if (w < 0 && errno != EINTR)
			fail("waitpid: %s", strerror(errno));
		if (now() > until) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return -1;
		}
		sleep_us(500);
	}
}

/* A status of wait_deadline in words. */
static inline const char *describe(int st) {
	static char buf[64];
	if (st == -1)
		return "hung (killed at the deadline)";
	if (WIFEXITED(st))
		snprintf(buf, sizeof buf, "exit status %d", WEXITSTATUS(st));
	else
		snprintf(buf, sizeof buf, "killed by signal %d", WTERMSIG(st));
	return buf;
}

#endif
