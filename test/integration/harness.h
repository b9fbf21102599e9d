/*
 * harness: run xchild (or another program) in a child process under
 * LD_PRELOAD=$XALLOC_LIB, capture its stdout/stderr, enforce a deadline.
 * The Criterion test process itself is never preloaded.
 */
#ifndef XALLOC_TEST_HARNESS_H
#define XALLOC_TEST_HARNESS_H

#include <stddef.h>

struct xrun {
    int status;    /* from waitpid */
    int timed_out; /* killed at the deadline */
    double secs;   /* wall time */
    char *out;     /* stdout, NUL-terminated */
    char *err;     /* stderr, NUL-terminated */
    char what[256];
};

/* conf: the XALLOC_CONF value, or NULL to leave it unset.
 * argv: NULL-terminated, argv[0] is the xchild mode. */
void xrun_argv(struct xrun *r, const char *conf, int timeout_s, const char *const *argv);
#define XRUN(r, conf, timeout_s, ...)                                                                                \
    do {                                                                                                             \
        const char *xrun_args_[] = {__VA_ARGS__, NULL};                                                              \
        xrun_argv((r), (conf), (timeout_s), xrun_args_);                                                             \
    } while (0)
/* The same for another program: var names the environment variable that
 * holds its path (XFORK, ...); argv[0] is its first argument. */
void xrun_prog_argv(struct xrun *r, const char *var, const char *conf, int timeout_s, const char *const *argv);
#define XRUN_PROG(r, var, conf, timeout_s, ...)                                                                      \
    do {                                                                                                             \
        const char *xrun_args_[] = {__VA_ARGS__, NULL};                                                              \
        xrun_prog_argv((r), (var), (conf), (timeout_s), xrun_args_);                                                 \
    } while (0)
void xrun_free(struct xrun *r);

/* Criterion assertion: the child exited with status 0 (prints its output if not). */
void xrun_assert_ok(const struct xrun *r);
/* Criterion assertion: the child was killed by signal sig. */
void xrun_assert_signal(const struct xrun *r, int sig);

/* Number of lines in s; the n-th line (0-based) copied into buf. */
int count_lines(const char *s);
const char *nth_line(const char *s, int n, char *buf, size_t bufsz);

/* Path from an environment variable that must name an existing file. */
const char *env_path(const char *var);

#endif
