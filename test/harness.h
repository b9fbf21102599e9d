/*
 * harness.h -- the one way the Criterion test programs (unit/ and
 * integration/) run another program: fork + exec with a chosen
 * environment and arguments, stdout and stderr captured into strings,
 * stdin from a given text (or /dev/null), the exit status or signal, and a
 * deadline after which the child's whole process group is killed, so a
 * deadlock fails the test instead of hanging it.  The Criterion process
 * itself is never preloaded.
 *
 * Three entry points, from general to specific:
 *   xrun_spawn()  any program (argv[0]: a path, or a name looked up on
 *                 PATH) with the options of struct xrun_opt;
 *   xrun_sh()     a /bin/sh command line (pipes, redirections, globs),
 *                 nothing preloaded;
 *   XRUN()/XRUN_PROG()  a test child (xchild, or the program an
 *                 environment variable names) under LD_PRELOAD=$XALLOC_LIB
 *                 with XCHILD_EXPECT set, so that a preload that silently
 *                 did not happen fails (exit 99).
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

/* How xrun_spawn runs a program.  The child gets this process's
 * environment without LD_PRELOAD, XALLOC_CONF and XCHILD_EXPECT, then the
 * settings below.  Zero fields are the defaults. */
struct xrun_opt {
	int preload;            /* LD_PRELOAD=$XALLOC_LIB */
	int expect;             /* XCHILD_EXPECT=<the library's file name> */
	const char *conf;       /* XALLOC_CONF, or NULL for unset */
	const char *const *env; /* NULL-terminated: "NAME=value" sets, "NAME" unsets */
	const char *input;      /* stdin contents, or NULL for /dev/null */
	int timeout_s;          /* deadline; 0 is 60 s */
};

/* Run argv (NULL-terminated; argv[0] a path, or a name found on PATH). */
void xrun_spawn(struct xrun *r, const struct xrun_opt *o, const char *const *argv);

/* Run `/bin/sh -c CMD` (printf-formatted), nothing preloaded; returns
 * xrun_code(r).  Free r with xrun_free. */
int xrun_sh(struct xrun *r, int timeout_s, const char *fmt, ...) __attribute__((format(printf, 3, 4)));

/* conf: the XALLOC_CONF value, or NULL to leave it unset.
 * argv: NULL-terminated, argv[0] is the xchild mode. */
void xrun_argv(struct xrun *r, const char *conf, int timeout_s, const char *const *argv);
#define XRUN(r, conf, timeout_s, ...) \
	do { \
		const char *xrun_args_[] = {__VA_ARGS__, NULL}; \
		xrun_argv((r), (conf), (timeout_s), xrun_args_); \
	} while (0)
/* The same for another program: var names the environment variable that
 * holds its path (XFORK, ...); argv[0] is its first argument. */
void xrun_prog_argv(struct xrun *r, const char *var, const char *conf, int timeout_s, const char *const *argv);
#define XRUN_PROG(r, var, conf, timeout_s, ...) \
	do { \
		const char *xrun_args_[] = {__VA_ARGS__, NULL}; \
		xrun_prog_argv((r), (var), (conf), (timeout_s), xrun_args_); \
	} while (0)
void xrun_free(struct xrun *r);

/* The exit status; 128 + the signal for a child killed by one (as the
 * shell says it; a child killed at the deadline: 137). */
int xrun_code(const struct xrun *r);
/* A status in words: "exit status 3", "killed by signal 6 (Aborted)",
 * "still running after 30 s and killed". */
const char *xrun_describe(const struct xrun *r, char *buf, size_t n);

/* Criterion assertion: the child exited with status 0 (prints its output if not). */
void xrun_assert_ok(const struct xrun *r);
/* Criterion assertion: the child was killed by signal sig. */
void xrun_assert_signal(const struct xrun *r, int sig);

/* Number of lines in s; the n-th line (0-based) copied into buf. */
int count_lines(const char *s);
const char *nth_line(const char *s, int n, char *buf, size_t bufsz);

/* Path from an environment variable that must name an existing file
 * (make check sets them; run by hand, the build tree's path is the
 * default). */
const char *env_path(const char *var);

#endif
