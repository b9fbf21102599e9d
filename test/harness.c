/*
 * harness.c -- running other programs from the Criterion tests (see
 * harness.h).  Output goes to unlinked temporary files rather than pipes,
 * so a child that writes a lot never blocks on a full pipe while we wait
 * for it; the child runs in its own process group, which is killed as a
 * whole at the deadline and after the child ends (a grandchild left
 * behind by a fork test never outlives the test).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void) {
	struct timespec ts;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Defaults when run by hand from the build tree, relative to test/ there
 * (this program is in test/unit or test/integration); make check sets
 * every one of them explicitly (Makefile.am, AM_TESTS_ENVIRONMENT). */
static const struct {
	const char *var, *rel;
} defaults[] = {
    {"XALLOC_LIB", "../src/.libs/libxalloc.so"},
    {"XALLOC_LAUNCHER", "../xalloc"},
    {"XCHILD", "integration/xchild"},
    {"XFORK", "integration/xfork"},
    {"XRELEASE", "integration/xrelease"},
    {"XREMOTE", "integration/remote_child"},
    {"XDLMOD", "integration/.libs/dlmod.so"},
    {"CXX_PROG", "integration/cxx_prog"},
    {"CALLOC_CHILD", "integration/calloc_child"},
    {"MISUSE_CHILD", "integration/misuse_child"},
    {"PROF_CHILD", "integration/prof_child"},
    {"CTL_NAMES", "unit/ctl_names"},
};

static const char *default_path(const char *var) {
	static char buf[sizeof defaults / sizeof defaults[0]][4096];
	char exe[3900];
	ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
	if (n <= 0)
		return NULL;
	exe[n] = 0;
	/* up from test/<dir>/[.libs/]program to test/ */
	for (int up = 0; up < 2; up++) {
		char *slash = strrchr(exe, '/');
		if (!slash)
			return NULL;
		*slash = 0;
		if (up == 0 && strlen(exe) >= 6 && strcmp(exe + strlen(exe) - 6, "/.libs") == 0)
			exe[strlen(exe) - 6] = 0;
	}
	for (size_t i = 0; i < sizeof defaults / sizeof defaults[0]; i++)
		if (strcmp(var, defaults[i].var) == 0) {
			snprintf(buf[i], sizeof buf[i], "%s/%s", exe, defaults[i].rel);
			return buf[i];
		}
	return NULL;
}

const char *env_path(const char *var) {
	const char *v = getenv(var);
	if (!v || !*v)
		v = default_path(var);
	cr_assert(v && *v, "%s is not set (make check sets it; see test/README)", var);
	cr_assert(access(v, R_OK) == 0, "%s=%s: %s", var, v, strerror(errno));
	return v;
}

static int tmpfd(void) {
	char path[] = "/tmp/xalloc-test-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
	unlink(path);
	return fd;
}

static char *slurp(int fd) {
	struct stat st;
	cr_assert_eq(fstat(fd, &st), 0);
	size_t n = (size_t)st.st_size;
	char *s = malloc(n + 1);
	cr_assert_not_null(s);
	size_t got = 0;
	while (got < n) {
		ssize_t r = pread(fd, s + got, n - got, (off_t)got);
		if (r <= 0)
			break;
		got += (size_t)r;
	}
	s[got] = 0;
	close(fd);
	return s;
}

/* Does environment entry e set the variable named by name (up to '=')? */
static int env_is(const char *e, const char *name) {
	size_t n = strcspn(name, "=");
	return strncmp(e, name, n) == 0 && e[n] == '=';
}

static int env_dropped(const char *e, const struct xrun_opt *o) {
	if (env_is(e, "LD_PRELOAD") || env_is(e, "XALLOC_CONF") || env_is(e, "XCHILD_EXPECT"))
		return 1;
	for (size_t i = 0; o->env && o->env[i]; i++)
		if (env_is(e, o->env[i]))
			return 1;
	return 0;
}

void xrun_spawn(struct xrun *r, const struct xrun_opt *o, const char *const *argv) {
	memset(r, 0, sizeof *r);
	int timeout_s = o->timeout_s > 0 ? o->timeout_s : 60;
	const char *lib = o->preload || o->expect ? env_path("XALLOC_LIB") : NULL;
	const char *name = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	/* description for messages */
	size_t w = o->conf ? (size_t)snprintf(r->what, sizeof r->what, "XALLOC_CONF=%.60s%s %s", o->conf,
				 strlen(o->conf) > 60 ? "..." : "", name)
			   : (size_t)snprintf(r->what, sizeof r->what, "%s", name);
	for (int i = 1; argv[i] && w < sizeof r->what; i++)
		w += (size_t)snprintf(r->what + w, sizeof r->what - w, " %s", argv[i]);

	/* environment: ours minus what is set or unset here, then the settings */
	size_t n = 0, nextra = 0;
	while (environ[n])
		n++;
	while (o->env && o->env[nextra])
		nextra++;
	char **envp = calloc(n + nextra + 4, sizeof *envp);
	cr_assert_not_null(envp);
	size_t k = 0;
	for (size_t i = 0; i < n; i++)
		if (!env_dropped(environ[i], o))
			envp[k++] = environ[i];
	char *pre = NULL, *exp = NULL, *cnf = NULL;
	if (o->preload) {
		cr_assert(asprintf(&pre, "LD_PRELOAD=%s", lib) > 0);
		envp[k++] = pre;
	}
	if (o->expect) {
		const char *base = strrchr(lib, '/');
		cr_assert(asprintf(&exp, "XCHILD_EXPECT=%s", base ? base + 1 : lib) > 0);
		envp[k++] = exp;
	}
	if (o->conf) {
		cr_assert(asprintf(&cnf, "XALLOC_CONF=%s", o->conf) > 0);
		envp[k++] = cnf;
	}
	for (size_t i = 0; i < nextra; i++)
		if (strchr(o->env[i], '='))
			envp[k++] = (char *)o->env[i];
	envp[k] = NULL;

	int in;
	if (o->input) {
		in = tmpfd();
		size_t len = strlen(o->input);
		cr_assert(write(in, o->input, len) == (ssize_t)len, "write: %s", strerror(errno));
		cr_assert(lseek(in, 0, SEEK_SET) == 0);
	} else {
		in = open("/dev/null", O_RDONLY);
		cr_assert_geq(in, 0, "/dev/null: %s", strerror(errno));
	}
	int out = tmpfd(), err = tmpfd();
	fflush(stdout);
	fflush(stderr);
	double t0 = now();
	pid_t pid = fork();
	cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
	if (pid == 0) {
		setpgid(0, 0);
		dup2(in, 0);
		dup2(out, 1);
		dup2(err, 2);
		execvpe(argv[0], (char *const *)argv, envp);
		dprintf(2, "exec %s: %s\n", argv[0], strerror(errno));
		_exit(127);
	}
	setpgid(pid, pid);
	close(in);
	double until = t0 + timeout_s;
	for (;;) {
		pid_t got = waitpid(pid, &r->status, WNOHANG);
		if (got == pid)
			break;
		cr_assert(got == 0 || errno == EINTR, "waitpid: %s", strerror(errno));
		if (now() > until) {
			kill(-pid, SIGKILL);
			kill(pid, SIGKILL);
			waitpid(pid, &r->status, 0);
			r->timed_out = 1;
			break;
		}
		struct timespec ts = {0, 5 * 1000 * 1000};
		nanosleep(&ts, NULL);
	}
	/* reap any grandchildren left in the group (fork tests) */
	kill(-pid, SIGKILL);
	r->secs = now() - t0;
	r->out = slurp(out);
	r->err = slurp(err);
	free(pre);
	free(exp);
	free(cnf);
	free(envp);
	cr_log_info("%s: %.2fs, status 0x%x; stdout: %.2000s", r->what, r->secs, (unsigned)r->status, r->out);
}

int xrun_sh(struct xrun *r, int timeout_s, const char *fmt, ...) {
	char *cmd = NULL;
	va_list ap;
	va_start(ap, fmt);
	cr_assert(vasprintf(&cmd, fmt, ap) >= 0);
	va_end(ap);
	const char *argv[] = {"/bin/sh", "-c", cmd, NULL};
	struct xrun_opt o = {.timeout_s = timeout_s};
	xrun_spawn(r, &o, argv);
	snprintf(r->what, sizeof r->what, "sh -c '%.230s'", cmd);
	free(cmd);
	return xrun_code(r);
}

void xrun_argv(struct xrun *r, const char *conf, int timeout_s, const char *const *argv) {
	xrun_prog_argv(r, "XCHILD", conf, timeout_s, argv);
}

void xrun_prog_argv(struct xrun *r, const char *var, const char *conf, int timeout_s, const char *const *argv) {
	const char *prog = env_path(var);
	cr_assert(access(prog, X_OK) == 0, "%s=%s is not executable", var, prog);
	size_t argc = 0;
	while (argv[argc])
		argc++;
	const char **av = calloc(argc + 2, sizeof *av);
	cr_assert_not_null(av);
	av[0] = prog;
	memcpy(av + 1, argv, argc * sizeof *av);
	struct xrun_opt o = {.preload = 1, .expect = 1, .conf = conf, .timeout_s = timeout_s};
	xrun_spawn(r, &o, av);
	free(av);
}

void xrun_free(struct xrun *r) {
	free(r->out);
	free(r->err);
	r->out = r->err = NULL;
}

int xrun_code(const struct xrun *r) {
	if (WIFEXITED(r->status))
		return WEXITSTATUS(r->status);
	return WIFSIGNALED(r->status) ? 128 + WTERMSIG(r->status) : 128;
}

const char *xrun_describe(const struct xrun *r, char *buf, size_t n) {
	if (r->timed_out)
		snprintf(buf, n, "still running after %.0f s and killed", r->secs);
	else if (WIFEXITED(r->status))
		snprintf(buf, n, "exit status %d", WEXITSTATUS(r->status));
	else if (WIFSIGNALED(r->status))
		snprintf(buf, n, "killed by signal %d (%s)", WTERMSIG(r->status), strsignal(WTERMSIG(r->status)));
	else
		snprintf(buf, n, "status 0x%x", (unsigned)r->status);
	return buf;
}

void xrun_assert_ok(const struct xrun *r) {
	cr_assert(!r->timed_out, "%s: still running after %.0fs (deadlock?) and killed.\nstdout:\n%s\nstderr:\n%s",
	    r->what, r->secs, r->out, r->err);
	cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 99),
	    "%s: LD_PRELOAD of XALLOC_LIB did not take effect:\n%s", r->what, r->err);
	cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 127), "%s: exec failed: %s", r->what, r->err);
	char why[128];
	cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0, "%s: %s after %.2fs\nstdout:\n%s\nstderr:\n%s",
	    r->what, xrun_describe(r, why, sizeof why), r->secs, r->out, r->err);
}

void xrun_assert_signal(const struct xrun *r, int sig) {
	cr_assert(!r->timed_out, "%s: still running after %.0fs and killed", r->what, r->secs);
	cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 99),
	    "%s: LD_PRELOAD of XALLOC_LIB did not take effect:\n%s", r->what, r->err);
	char why[128];
	cr_assert(WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig,
	    "%s: expected death by signal %d (%s), got %s\nstdout:\n%s\nstderr:\n%s", r->what, sig, strsignal(sig),
	    xrun_describe(r, why, sizeof why), r->out, r->err);
}

int count_lines(const char *s) {
	int n = 0;
	for (const char *p = s; *p; p++)
		if (*p == '\n')
			n++;
	if (*s && s[strlen(s) - 1] != '\n')
		n++;
	return n;
}

const char *nth_line(const char *s, int n, char *buf, size_t bufsz) {
	const char *p = s;
	for (int i = 0; i < n && p; i++) {
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	if (!p || !*p) {
		buf[0] = 0;
		return buf;
	}
	size_t len = strcspn(p, "\n");
	if (len >= bufsz)
		len = bufsz - 1;
	memcpy(buf, p, len);
	buf[len] = 0;
	return buf;
}
