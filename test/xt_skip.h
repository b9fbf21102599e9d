/*
 * xt_skip.h -- a Criterion main() for test programs some of whose tests
 * need an outside tool (promtool, groff, cc, python3, google-pprof).
 *
 * A test calls XT_REQUIRE("promtool", "prometheus") first: when the
 * command is missing, the test is skipped with one line naming it.  The
 * program then exits 77 (automake's SKIP) if nothing failed but a test was
 * skipped, so a missing tool is never counted as a pass; a failure still
 * exits 1.  Tests left out by --filter are not skips.
 *
 * Include it in exactly one file of the program, after criterion.h.
 */
#ifndef XT_SKIP_H
#define XT_SKIP_H

#include <criterion/criterion.h>
#include <criterion/hooks.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static size_t xt_nskipped;

ReportHook(POST_TEST)(struct criterion_test_stats *ts) {
	/* cr_skip_test sets a message; a test filtered out has none */
	if (ts->test_status == CR_STATUS_SKIPPED && ts->message && ts->message[0]) {
		fprintf(stderr, "SKIP: %s::%s: %s\n", ts->test->category, ts->test->name, ts->message);
		xt_nskipped++;
	}
}

/* Is cmd an executable file in a directory of $PATH?  (Looked up here
 * rather than by a shell: no child process.) */
static int xt_on_path(const char *cmd) {
	const char *path = getenv("PATH");
	for (const char *d = path ? path : "/usr/bin:/bin"; *d;) {
		size_t n = strcspn(d, ":");
		char buf[4096];
		snprintf(buf, sizeof buf, "%.*s/%s", n ? (int)n : 1, n ? d : ".", cmd);
		if (access(buf, X_OK) == 0)
			return 1;
		d += n + (d[n] == ':');
	}
	return 0;
}

/* Skip the calling test when `cmd` is not on PATH (pkg: the Debian package). */
#define XT_REQUIRE(cmd, pkg) \
	do { \
		if (!xt_on_path(cmd)) \
			cr_skip_test("%s missing (apt-get install %s)", cmd, pkg); \
	} while (0)

int main(int argc, char *argv[]) {
	struct criterion_test_set *tests = criterion_initialize();
	int result = 0;
	if (criterion_handle_args(argc, argv, true))
		result = !criterion_run_all_tests(tests);
	criterion_finalize(tests);
	if (result == 0 && xt_nskipped > 0)
		return 77;
	return result;
}

#endif
