/*
 * b_launch -- exec helper used by run.py / release.py (not a benchmark).
 *
 * Usage: b_launch RESULT_FD PRELOAD|- program [args...]
 *
 * Why: Linux keeps the peak RSS of the pre-exec image in ru_maxrss, so a
 * program forked directly from the Python runner would report at least the
 * interpreter's ~10 MiB.  This tiny helper forks from a ~1 MiB image, execs
 * `program` with LD_PRELOAD=PRELOAD (unset when PRELOAD is "-"), waits with
 * wait4 and writes one line to RESULT_FD:
 *
 *     exit <code> maxrss_kb <n> wall_ns <n>
 *     signal <signo> maxrss_kb <n> wall_ns <n>
 *
 * SIGTERM/SIGINT sent to the helper are turned into SIGKILL for the
 * program (the runner's timeout), which is then reaped and reported as
 * usual.  The helper itself never runs under the preloaded allocator.  Its exit
 * status is 0 when the line was written, 125 on a usage/system error and
 * 127 if the program could not be executed.
 */
#define _POSIX_C_SOURCE 200809L
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

/* wait4 is a BSD/GNU interface not declared under plain POSIX feature macros */
extern pid_t wait4(pid_t pid, int *status, int options, struct rusage *rusage);

static volatile sig_atomic_t child_pid;

static void on_term(int sig) {
	(void)sig;
	if (child_pid > 0)
		kill((pid_t)child_pid, SIGKILL);
}

int main(int argc, char **argv) {
	if (argc < 4) {
		fprintf(stderr, "usage: %s RESULT_FD PRELOAD|- program [args...]\n", argv[0]);
		return 125;
	}
	int rfd = atoi(argv[1]);
	if (rfd < 3 || fcntl(rfd, F_SETFD, FD_CLOEXEC) < 0) {
		fprintf(stderr, "b_launch: bad result fd %s\n", argv[1]);
		return 125;
	}
	struct sigaction sa;
	memset(&sa, 0, sizeof sa);
	sa.sa_handler = on_term;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGTERM, &sa, NULL);
	sigaction(SIGINT, &sa, NULL);
	struct timespec t0, t1;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	pid_t pid = fork();
	if (pid < 0) {
		perror("b_launch: fork");
		return 125;
	}
	if (pid == 0) {
		if (strcmp(argv[2], "-") == 0)
			unsetenv("LD_PRELOAD");
		else
			setenv("LD_PRELOAD", argv[2], 1);
		execv(argv[3], argv + 3); /* exec resets the caught signals */
		fprintf(stderr, "b_launch: cannot execute %s: %s\n", argv[3], strerror(errno));
		_exit(127);
	}
	child_pid = pid;
	int status;
	struct rusage ru;
	pid_t r;
	do
		r = wait4(pid, &status, 0, &ru);
	while (r < 0 && errno == EINTR);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	if (r < 0) {
		perror("b_launch: wait4");
		return 125;
	}
	long long ns = (long long)(t1.tv_sec - t0.tv_sec) * 1000000000LL + (t1.tv_nsec - t0.tv_nsec);
	/* CPU time (user + system) of the benchmark: unlike wall time it does
     * not grow when other work on the machine takes the cores */
	long long cpu = ((long long)ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000000000LL +
	    ((long long)ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) * 1000LL;
	char line[200];
	int n;
	if (WIFSIGNALED(status))
		n = snprintf(line, sizeof line, "signal %d maxrss_kb %ld wall_ns %lld cpu_ns %lld\n", WTERMSIG(status),
		    ru.ru_maxrss, ns, cpu);
	else
		n = snprintf(line, sizeof line, "exit %d maxrss_kb %ld wall_ns %lld cpu_ns %lld\n", WEXITSTATUS(status),
		    ru.ru_maxrss, ns, cpu);
	if (write(rfd, line, (size_t)n) != n)
		return 125;
	return 0;
}
