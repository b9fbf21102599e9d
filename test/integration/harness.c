#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include "harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

extern char **environ;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* Defaults when run by hand from the build tree: paths next to this test
 * program (test/integration/) -- make check sets all of them explicitly. */
static const char *default_path(const char *var)
{
    static char buf[5][4096];
    static const char *const vars[5] = {"XALLOC_LIB", "XCHILD", "XDLMOD", "CXX_PROG", "XFORK"};
    static const char *const rel[5] = {"/../../src/.libs/libxalloc.so", "/xchild", "/.libs/dlmod.so", "/cxx_prog",
                                       "/xfork"};
    char exe[4000];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return NULL;
    exe[n] = 0;
    char *slash = strrchr(exe, '/');
    if (!slash)
        return NULL;
    *slash = 0;
    for (int i = 0; i < 5; i++)
        if (strcmp(var, vars[i]) == 0) {
            snprintf(buf[i], sizeof buf[i], "%s%s", exe, rel[i]);
            return buf[i];
        }
    return NULL;
}

const char *env_path(const char *var)
{
    const char *v = getenv(var);
    if (!v || !*v)
        v = default_path(var);
    cr_assert(v && *v, "%s is not set (make check sets it; see test/README)", var);
    cr_assert(access(v, R_OK) == 0, "%s=%s: %s", var, v, strerror(errno));
    return v;
}

static int tmpfd(void)
{
    char path[] = "/tmp/xalloc-test-XXXXXX";
    int fd = mkstemp(path);
    cr_assert_geq(fd, 0, "mkstemp: %s", strerror(errno));
    unlink(path);
    return fd;
}

static char *slurp(int fd)
{
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

static int env_skip(const char *e)
{
    return strncmp(e, "LD_PRELOAD=", 11) == 0 || strncmp(e, "XALLOC_CONF=", 12) == 0 ||
           strncmp(e, "XCHILD_EXPECT=", 14) == 0;
}

void xrun_argv(struct xrun *r, const char *conf, int timeout_s, const char *const *argv)
{
    xrun_prog_argv(r, "XCHILD", conf, timeout_s, argv);
}

void xrun_prog_argv(struct xrun *r, const char *var, const char *conf, int timeout_s, const char *const *argv)
{
    memset(r, 0, sizeof *r);
    const char *lib = env_path("XALLOC_LIB");
    const char *xchild = env_path(var);
    cr_assert(access(xchild, X_OK) == 0, "%s=%s is not executable", var, xchild);
    const char *name = strrchr(xchild, '/') ? strrchr(xchild, '/') + 1 : xchild;

    /* description for messages */
    size_t w = conf ? (size_t)snprintf(r->what, sizeof r->what, "XALLOC_CONF=%.60s%s %s", conf,
                                       strlen(conf) > 60 ? "..." : "", name)
                    : (size_t)snprintf(r->what, sizeof r->what, "%s", name);
    for (int i = 0; argv[i] && w < sizeof r->what; i++)
        w += (size_t)snprintf(r->what + w, sizeof r->what - w, " %s", argv[i]);

    /* environment: ours, minus LD_PRELOAD/XALLOC_CONF, plus the preload */
    size_t n = 0;
    while (environ[n])
        n++;
    char **envp = calloc(n + 4, sizeof *envp);
    cr_assert_not_null(envp);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (!env_skip(environ[i]))
            envp[k++] = environ[i];
    char *pre = NULL, *exp = NULL, *cnf = NULL;
    cr_assert(asprintf(&pre, "LD_PRELOAD=%s", lib) > 0);
    const char *base = strrchr(lib, '/');
    cr_assert(asprintf(&exp, "XCHILD_EXPECT=%s", base ? base + 1 : lib) > 0);
    envp[k++] = pre;
    envp[k++] = exp;
    if (conf) {
        cr_assert(asprintf(&cnf, "XALLOC_CONF=%s", conf) > 0);
        envp[k++] = cnf;
    }
    envp[k] = NULL;

    size_t argc = 0;
    while (argv[argc])
        argc++;
    char **av = calloc(argc + 2, sizeof *av);
    cr_assert_not_null(av);
    av[0] = (char *)xchild;
    for (size_t i = 0; i < argc; i++)
        av[i + 1] = (char *)argv[i];

    int out = tmpfd(), err = tmpfd();
    fflush(stdout);
    fflush(stderr);
    double t0 = now();
    pid_t pid = fork();
    cr_assert_geq(pid, 0, "fork: %s", strerror(errno));
    if (pid == 0) {
        setpgid(0, 0);
        dup2(out, 1);
        dup2(err, 2);
        execve(xchild, av, envp);
        _exit(127);
    }
    setpgid(pid, pid);
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
    /* reap any grandchildren left in the group (fork mode) */
    kill(-pid, SIGKILL);
    r->secs = now() - t0;
    r->out = slurp(out);
    r->err = slurp(err);
    free(pre);
    free(exp);
    free(cnf);
    free(envp);
    free(av);
    cr_log_info("%s: %.2fs, status 0x%x; stdout: %s", r->what, r->secs, (unsigned)r->status, r->out);
}

void xrun_free(struct xrun *r)
{
    free(r->out);
    free(r->err);
    r->out = r->err = NULL;
}

void xrun_assert_ok(const struct xrun *r)
{
    cr_assert(!r->timed_out, "%s: still running after %.0fs (deadlock?) and killed.\nstdout:\n%s\nstderr:\n%s",
              r->what, r->secs, r->out, r->err);
    cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 99),
              "%s: LD_PRELOAD of XALLOC_LIB did not take effect:\n%s", r->what, r->err);
    cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 127), "%s: exec failed", r->what);
    cr_assert(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 0,
              "%s: %s %d after %.2fs\nstdout:\n%s\nstderr:\n%s", r->what,
              WIFEXITED(r->status) ? "exit status" : "killed by signal",
              WIFEXITED(r->status) ? WEXITSTATUS(r->status) : WTERMSIG(r->status), r->secs, r->out, r->err);
}

void xrun_assert_signal(const struct xrun *r, int sig)
{
    cr_assert(!r->timed_out, "%s: still running after %.0fs and killed", r->what, r->secs);
    cr_assert(!(WIFEXITED(r->status) && WEXITSTATUS(r->status) == 99),
              "%s: LD_PRELOAD of XALLOC_LIB did not take effect:\n%s", r->what, r->err);
    cr_assert(WIFSIGNALED(r->status) && WTERMSIG(r->status) == sig,
              "%s: expected death by signal %d (%s), got %s %d\nstdout:\n%s\nstderr:\n%s", r->what, sig,
              strsignal(sig), WIFEXITED(r->status) ? "exit status" : "signal",
              WIFEXITED(r->status) ? WEXITSTATUS(r->status) : WTERMSIG(r->status), r->out, r->err);
}

int count_lines(const char *s)
{
    int n = 0;
    for (const char *p = s; *p; p++)
        if (*p == '\n')
            n++;
    if (*s && s[strlen(s) - 1] != '\n')
        n++;
    return n;
}

const char *nth_line(const char *s, int n, char *buf, size_t bufsz)
{
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
