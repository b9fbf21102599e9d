/*
 * Statistics output of real programs and the `xalloc` launcher:
 * stats_print:true at exit (stderr, stats_file), the launcher's options,
 * its choice of library, and that the program it runs really gets xalloc.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"

TestSuite(stats_exit, .timeout = 120);
TestSuite(launcher, .timeout = 120);

/* Run a shell command line (the harness: nothing preloaded, 60 s
 * deadline); its stdout (the commands merge stderr with 2>&1 where they
 * need it) into a malloc'd string; returns the exit status. */
static int sh(const char *cmd, char **out) {
	struct xrun r;
	int code = xrun_sh(&r, 60, "%s", cmd);
	cr_assert(!r.timed_out, "%s: still running after %.0f s", cmd, r.secs);
	*out = r.out;
	free(r.err);
	return code;
}

static const char *launcher(void) { return env_path("XALLOC_LAUNCHER"); }

Test(stats_exit, stats_print_at_exit_to_stderr) {
	struct xrun r;
	XRUN(&r, "stats_print:true", 60, "whoami");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.err, "Where the memory is"), "stderr: %.2000s", r.err);
	cr_assert(strstr(r.err, "verdict: "), "stderr: %.2000s", r.err);
	cr_assert(strstr(r.err, "--- end of xalloc statistics ---"));
	xrun_free(&r);
	/* off by default */
	XRUN(&r, NULL, 60, "whoami");
	xrun_assert_ok(&r);
	cr_assert_null(strstr(r.err, "xalloc statistics"));
	xrun_free(&r);
}

Test(stats_exit, stats_file_created_once_0600) {
	char path[] = "/tmp/xalloc-stats-XXXXXX";
	int fd = mkstemp(path);
	cr_assert_geq(fd, 0);
	close(fd);
	unlink(path);
	char conf[256];
	snprintf(conf, sizeof(conf), "stats_print:true,stats_file:%s", path);
	struct xrun r;
	XRUN(&r, conf, 60, "whoami");
	xrun_assert_ok(&r);
	cr_assert_null(strstr(r.err, "xalloc statistics"), "went to stderr: %.500s", r.err);
	xrun_free(&r);
	struct stat st;
	cr_assert_eq(stat(path, &st), 0, "%s not created", path);
	cr_assert_eq(st.st_mode & 0777, 0600);
	cr_assert_gt(st.st_size, 100);
	/* exists (another process of a wrapper took it): never overwritten;
     * the report goes to <path>.<pid>, silently */
	XRUN(&r, conf, 60, "whoami");
	xrun_assert_ok(&r);
	cr_assert_null(strstr(r.err, "Where the memory is"), "%.500s", r.err);
	xrun_free(&r);
	struct stat st2;
	cr_assert_eq(stat(path, &st2), 0);
	cr_assert_eq(st2.st_size, st.st_size);
	char cmd[512], *out;
	snprintf(cmd, sizeof(cmd), "ls %s.[0-9]*", path);
	cr_assert_eq(sh(cmd, &out), 0, "no %s.<pid>: %s", path, out);
	free(out);
	snprintf(cmd, sizeof(cmd), "rm -f %s %s.[0-9]*", path, path);
	cr_assert_eq(sh(cmd, &out), 0, "%s: %s", cmd, out);
	free(out);
}

/* stats_file that cannot be created: one line saying why in words (the
 * allocator cannot call strerror), then the report on stderr. */
static void expect_create_error(const char *path, const char *why) {
	char conf[512];
	snprintf(conf, sizeof(conf), "stats_print:true,stats_file:%s", path);
	struct xrun r;
	XRUN(&r, conf, 60, "whoami");
	xrun_assert_ok(&r);
	char want[600];
	snprintf(want, sizeof(want), "xalloc: stats_file: cannot create %s: %s; printing to stderr\n", path, why);
	cr_assert(strstr(r.err, want), "stats_file %s: want the line\n%sgot:\n%.600s", path, want, r.err);
	cr_assert(strstr(r.err, "Where the memory is"), "the report did not go to stderr");
	xrun_free(&r);
}

Test(stats_exit, stats_file_errors_in_words) {
	char dir[] = "/tmp/xalloc-stats-dir-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[256];
	snprintf(path, sizeof(path), "%s/exists", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fclose(f);
	/* an existing file: the report goes to <path>.<pid> (stats_file_created_once_0600) */
	snprintf(path, sizeof(path), "%s/no/such/dir/file", dir);
	expect_create_error(path, "no such directory");
	/* permission denied: a read-only directory stops only non-root; /sys
     * refuses new files even to root */
	if (geteuid() != 0) {
		char ro[256];
		snprintf(ro, sizeof(ro), "%s/ro", dir);
		cr_assert_eq(mkdir(ro, 0500), 0);
		snprintf(path, sizeof(path), "%s/file", ro);
		expect_create_error(path, "permission denied");
		rmdir(ro);
	} else if (access("/sys/kernel", F_OK) == 0) {
		expect_create_error("/sys/xalloc-stats-test", "permission denied");
	}
	snprintf(path, sizeof(path), "%s/exists", dir);
	unlink(path);
	rmdir(dir);
}

Test(launcher, help_and_version) {
	char cmd[4096], *out;
	snprintf(cmd, sizeof(cmd), "'%s' --help 2>&1", launcher());
	cr_assert_eq(sh(cmd, &out), 0);
	cr_assert(strstr(out, "Usage: xalloc"), "%s", out);
	cr_assert(strstr(out, "--stats"));
	free(out);
	snprintf(cmd, sizeof(cmd), "'%s' --version 2>&1", launcher());
	cr_assert_eq(sh(cmd, &out), 0);
	cr_assert(strncmp(out, "xalloc ", 7) == 0, "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "'%s' --bogus -- true 2>&1", launcher());
	cr_assert_neq(sh(cmd, &out), 0);
	free(out);
	snprintf(cmd, sizeof(cmd), "'%s' 2>&1", launcher());
	cr_assert_neq(sh(cmd, &out), 0, "no program must fail");
	free(out);
}

Test(launcher, chooses_library) {
	char cmd[4096], *out;
	/* XALLOC_LIB wins */
	snprintf(cmd, sizeof(cmd), "XALLOC_LIB=/bin/sh '%s' --print-lib", launcher());
	cr_assert_eq(sh(cmd, &out), 0);
	cr_assert_str_eq(out, "/bin/sh\n");
	free(out);
	/* without it: the build-tree library next to the script */
	snprintf(cmd, sizeof(cmd), "env -u XALLOC_LIB '%s' --print-lib", launcher());
	cr_assert_eq(sh(cmd, &out), 0);
	cr_assert(strstr(out, "/src/.libs/libxalloc.so\n"), "%s", out);
	free(out);
	snprintf(cmd, sizeof(cmd), "env XALLOC_LIB=/nonexistent '%s' -- true 2>&1", launcher());
	cr_assert_eq(sh(cmd, &out), 127);
	cr_assert(strstr(out, "cannot find"), "%s", out);
	free(out);
}

Test(launcher, runs_program_under_xalloc_with_stats) {
	char cmd[4096], *out;
	/* xchild exits 99 unless malloc comes from libxalloc */
	snprintf(cmd, sizeof(cmd), "env -u LD_PRELOAD XCHILD_EXPECT=libxalloc '%s' --stats -- '%s' whoami 2>&1",
	    launcher(), env_path("XCHILD"));
	cr_assert_eq(sh(cmd, &out), 0, "%s", out);
	cr_assert(strstr(out, "libxalloc"), "%s", out);
	cr_assert(strstr(out, "Where the memory is"), "%s", out);
	free(out);
	/* arguments pass through untouched; --conf adds options; exit status kept */
	snprintf(cmd, sizeof(cmd), "'%s' --conf decay_ms:0 -- sh -c 'echo \"$0 $1|$XALLOC_CONF\"; exit 3' 'a b' c 2>&1",
	    launcher());
	cr_assert_eq(sh(cmd, &out), 3, "%s", out);
	cr_assert_str_eq(out, "a b c|decay_ms:0\n");
	free(out);
	/* an existing XALLOC_CONF is kept, ours added after it */
	snprintf(cmd, sizeof(cmd), "XALLOC_CONF=tcache:false '%s' --stats -- sh -c 'echo $XALLOC_CONF' 2>/dev/null",
	    launcher());
	cr_assert_eq(sh(cmd, &out), 0);
	cr_assert_str_eq(out, "tcache:false,stats_print:true\n");
	free(out);
}
