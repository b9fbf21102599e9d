/*
 * Every row of src/options.def given garbage: empty values, words, huge
 * numbers, negative numbers, repeated keys, very long strings.  The rule:
 * the program (xchild conf: threads allocating and checking) always runs to
 * the end, every stderr line is a "xalloc: XALLOC_CONF: " warning, and a
 * value of the wrong type for a numeric/boolean/enum option gives exactly
 * one warning naming that option.  The option list is read from the
 * sources, so a new row is covered without touching this file.
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "harness.h"

#define PREFIX "xalloc: XALLOC_CONF: "
#define MAXOPT 128

static char names[MAXOPT][64], types[MAXOPT][16];
static int nopt;

static void load_options(void) {
	const char *src = getenv("TEST_SRCDIR");
	char path[4096];
	snprintf(path, sizeof path, "%s/../src/options.def", src ? src : "..");
	FILE *f = fopen(path, "r");
	cr_assert(f, "cannot open %s (TEST_SRCDIR)", path);
	char line[4096];
	nopt = 0;
	while (fgets(line, sizeof line, f)) {
		if (strncmp(line, "XA_OPT(", 7) != 0)
			continue;
		cr_assert(nopt < MAXOPT);
		cr_assert(sscanf(line + 7, "%63[a-z_0-9], %15[A-Z]", names[nopt], types[nopt]) == 2, "bad row: %s",
		    line);
		nopt++;
	}
	fclose(f);
	cr_assert(nopt >= 20, "only %d options read from %s", nopt, path);
}

/* Run xchild conf with conf; require completion and warnings only. */
static void run_ok(const char *conf, struct xrun *r) {
	XRUN(r, conf, 60, "conf");
	xrun_assert_ok(r);
	cr_assert(strstr(r->out, "conf ok"), "XALLOC_CONF=%.80s: program did not finish: %s", conf, r->out);
	char line[8192];
	for (int i = 0, n = count_lines(r->err); i < n; i++) {
		nth_line(r->err, i, line, sizeof line);
		cr_assert(strncmp(line, PREFIX, strlen(PREFIX)) == 0, "XALLOC_CONF=%.80s: stray stderr line: %.300s",
		    conf, line);
	}
}

/* Each option alone with a word: a numeric, boolean or enum option warns
 * exactly once and names itself; a string option takes it silently or
 * warns; the program always finishes. */
Test(conf_garbage, each_option_with_a_word, .timeout = 300) {
	load_options();
	for (int i = 0; i < nopt; i++) {
		char conf[128];
		snprintf(conf, sizeof conf, "%s:zzz", names[i]);
		struct xrun r;
		run_ok(conf, &r);
		if (strcmp(types[i], "STRING") != 0) {
			cr_assert_eq(count_lines(r.err), 1, "XALLOC_CONF=%s: want one warning, got:\n%.2000s", conf,
			    r.err);
			cr_assert(strstr(r.err, names[i]), "XALLOC_CONF=%s: warning does not name %s: %s", conf,
			    names[i], r.err);
		}
		xrun_free(&r);
	}
}

/* Every option at once with the same garbage value: at most one warning
 * per item, the program finishes. */
Test(conf_garbage, all_options_each_garbage_value, .timeout = 300) {
	load_options();
	/* nopt (33) * 3 KiB stays below the 128 KiB limit of one environment
	 * string (4 KiB did until the 32nd option) */
	static char longv[3001];
	memset(longv, 'A', sizeof longv - 1);
	const char *values[] = {"", "-1", "-99999999999999999999", "18446744073709551616",
	    "99999999999999999999999999999", "0x10", "1e9", "%", "50%%", "1:2", "true false", "\x01\x7f\xff", longv};
	size_t cap = (size_t)MAXOPT * (sizeof longv + 80);
	char *conf = malloc(cap);
	for (unsigned v = 0; v < sizeof values / sizeof values[0]; v++) {
		size_t len = 0;
		for (int i = 0; i < nopt; i++)
			len += (size_t)snprintf(conf + len, cap - len, "%s%s:%s", i ? "," : "", names[i], values[v]);
		struct xrun r;
		run_ok(conf, &r);
		cr_assert(count_lines(r.err) <= nopt, "value '%.20s': more warnings than items:\n%.3000s", values[v],
		    r.err);
		xrun_free(&r);
	}
	free(conf);
}

Test(conf_garbage, repeated_keys_and_everything_at_once, .timeout = 300) {
	load_options();
	/* every option three times: garbage, then a huge number, then empty */
	size_t cap = 1 << 16, len = 0;
	char *conf = malloc(cap);
	conf[0] = 0;
	for (int i = 0; i < nopt; i++)
		len += (size_t)snprintf(conf + len, cap - len, "%s%s:zzz,%s:99999999999999999999,%s:", len ? "," : "",
		    names[i], names[i], names[i]);
	struct xrun r;
	run_ok(conf, &r);
	cr_assert(count_lines(r.err) <= 3 * nopt, "more warnings than items:\n%.3000s", r.err);
	xrun_free(&r);
	/* a valid value repeated: the last one wins silently */
	XRUN(&r, "narenas:1,narenas:2,narenas:3,tcache:false,tcache:true", 60, "conf");
	xrun_assert_ok(&r);
	cr_assert_str_empty(r.err, "%s", r.err);
	xrun_free(&r);
	/* a 100,000-character item list */
	len = 0;
	while (len + 16 < cap)
		len += (size_t)snprintf(conf + len, cap - len, "tcache:true,");
	run_ok(conf, &r);
	xrun_free(&r);
	free(conf);
}
