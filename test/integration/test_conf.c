/*
 * XALLOC_CONF parsing, seen from outside: warnings on stderr, exactly one
 * line per bad item, the program keeps working (exit 0), abort_conf turns a
 * bad item into SIGABRT, valid settings print nothing.
 *
 * Decision (lead): empty items (",,,") are skipped silently.
 */
#include <criterion/criterion.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PREFIX "xalloc: XALLOC_CONF: "

static void run_conf(struct xrun *r, const char *conf) { XRUN(r, conf, 60, "conf"); }

/* One warning line starting with `start` and containing `name`. */
static void expect_one_warning(const char *conf, const char *start, const char *name) {
	struct xrun r;
	run_conf(&r, conf);
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "conf ok"), "XALLOC_CONF=%.60s: program did not finish its work: %s", conf, r.out);
	int n = count_lines(r.err);
	cr_assert_eq(n, 1, "XALLOC_CONF=%.60s: %d lines on stderr, want exactly 1:\n%.2000s", conf, n, r.err);
	char line[4096];
	nth_line(r.err, 0, line, sizeof line);
	cr_assert(strncmp(line, start, strlen(start)) == 0, "XALLOC_CONF=%.60s: warning does not start with '%s': %s",
	    conf, start, line);
	if (name)
		cr_assert(strstr(line, name), "XALLOC_CONF=%.60s: warning does not name '%s': %s", conf, name, line);
	xrun_free(&r);
}

static void expect_silence(const char *conf) {
	struct xrun r;
	run_conf(&r, conf);
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "conf ok"), "XALLOC_CONF=%s: %s", conf, r.out);
	cr_assert_str_empty(r.err, "XALLOC_CONF=%s: expected no stderr output, got:\n%s", conf, r.err);
	xrun_free(&r);
}

Test(conf, unknown_option_exact_message, .timeout = 60) {
	struct xrun r;
	run_conf(&r, "foo:1");
	xrun_assert_ok(&r);
	cr_assert(strstr(r.out, "conf ok"));
	cr_assert_str_eq(r.err, "xalloc: XALLOC_CONF: unknown option 'foo' ignored\n",
	    "XALLOC_CONF=foo:1: stderr is:\n%s", r.err);
	xrun_free(&r);
}

Test(conf, two_unknown_options_two_lines, .timeout = 60) {
	struct xrun r;
	run_conf(&r, "foo:1,bar:2");
	xrun_assert_ok(&r);
	cr_assert_str_eq(r.err,
	    "xalloc: XALLOC_CONF: unknown option 'foo' ignored\n"
	    "xalloc: XALLOC_CONF: unknown option 'bar' ignored\n",
	    "stderr is:\n%s", r.err);
	xrun_free(&r);
}

Test(conf, invalid_values_name_the_option, .timeout = 120) {
	expect_one_warning("narenas:abc", PREFIX "invalid value", "narenas");
	expect_one_warning("narenas:-1", PREFIX "invalid value", "narenas");
	expect_one_warning("tcache:maybe", PREFIX "invalid value", "tcache");
	expect_one_warning("tcache_max:zz", PREFIX "invalid value", "tcache_max");
}

/* A rejected value: the line says what would have been accepted. */
Test(conf, invalid_values_name_the_valid_range, .timeout = 120) {
	expect_one_warning("narenas:abc", PREFIX "invalid value 'abc' for option 'narenas' ignored (valid: 0 to 256)",
	    NULL);
	expect_one_warning("decay_ms:-5", PREFIX "invalid value", "(valid: -1 to 3600000)");
	expect_one_warning("purge:fast", PREFIX "invalid value", "(valid: dontneed or free)");
	expect_one_warning("tcache:maybe", PREFIX "invalid value", "(valid: true or false)");
	expect_one_warning("tcache_max:9G", PREFIX "invalid value", "(valid: 0 to 4194304 bytes");
	expect_one_warning("lg_prof_sample:41", PREFIX "invalid value", "(valid: 0 to 40)");
}

/* Profiling outputs without prof:true would silently never appear. */
Test(conf, prof_outputs_without_prof_warn_once, .timeout = 120) {
	expect_one_warning("prof_final:true", "xalloc: prof_final needs prof:true; ignored", NULL);
	expect_one_warning("prof_leak:true", "xalloc: prof_leak needs prof:true; ignored", NULL);
	expect_one_warning("prof_final:true,prof_leak:true", "xalloc: prof_final prof_leak need prof:true", NULL);
	expect_silence("prof:false,prof_final:false");
}

Test(conf, malformed_items_warn_once, .timeout = 120) {
	expect_one_warning("narenas", PREFIX, NULL);
	expect_one_warning("a:b:c", PREFIX, NULL);
}

Test(conf, very_long_strings, .timeout = 120) {
	enum { LEN = 10000 };
	char *s = malloc(LEN + 16);
	cr_assert_not_null(s);
	/* a 10,000-character item without a colon */
	memset(s, 'x', LEN);
	s[LEN] = 0;
	expect_one_warning(s, PREFIX, NULL);
	/* a 10,000-character option name */
	memset(s, 'k', LEN - 2);
	strcpy(s + LEN - 2, ":1");
	expect_one_warning(s, PREFIX, NULL);
	/* a known option with a 10,000-character number */
	strcpy(s, "narenas:");
	memset(s + 8, '9', LEN - 8);
	s[LEN] = 0;
	expect_one_warning(s, PREFIX "invalid value", "narenas");
	free(s);
}

Test(conf, empty_items_are_skipped_silently, .timeout = 60) {
	expect_silence(",,,");
	expect_silence("");
	expect_silence("narenas:1,,tcache:false,");
}

Test(conf, valid_settings_print_nothing, .timeout = 60) {
	expect_silence("narenas:1,tcache:false,tcache_max:1024");
	expect_silence("tcache:true");
	expect_silence("narenas:4");
}

Test(conf, abort_conf_aborts_after_the_warning, .timeout = 60) {
	struct xrun r;
	run_conf(&r, "abort_conf:true,foo:1");
	xrun_assert_signal(&r, SIGABRT);
	cr_assert(strstr(r.err, "xalloc: XALLOC_CONF: unknown option 'foo'"),
	    "abort_conf: the warning line was not printed before the abort; stderr:\n%s", r.err);
	cr_assert_eq(r.out[0], 0, "the program ran (stdout: %s) though the configuration should abort", r.out);
	xrun_free(&r);
}
