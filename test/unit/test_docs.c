/*
 * The manual pages say what the code does:
 *  - one type per option: OPTIONS, the opt.* entry and the ctl tree give
 *    the same C type, and a variable of that type reads the value;
 *  - the JSON layout described under xalloc_stats_print is the real one;
 *  - the EXAMPLES program compiles, links with -lxalloc and runs;
 *  - mallopt: what the page says about M_PERTURB is what it does;
 *  - xalloc(1) documents every option of `xalloc --help` and renders
 *    without groff warnings.
 * Tests needing a missing tool (cc, groff) are skipped, and the program
 * then exits 77 (xt_skip.h).
 */
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "harness.h"
#include "util.h"
#include "xt_skip.h"

int xallocctl(const char *name, void *oldp, size_t *oldlenp, void *newp, size_t newlen);
void xalloc_stats_print(void (*write_cb)(void *, const char *), void *cbopaque, const char *opts);
void xa_ctl_names(void (*fn)(void *, const char *, const char *, const char *, const char *), void *arg);

TestSuite(docs, .timeout = 120);

static char *read_file(const char *rel) {
	const char *src = getenv("TEST_SRCDIR");
	cr_assert_not_null(src, "TEST_SRCDIR unset");
	char path[4096];
	snprintf(path, sizeof(path), "%s/../%s", src, rel);
	FILE *f = fopen(path, "r");
	cr_assert_not_null(f, "%s", path);
	char *buf = malloc(1 << 20);
	size_t n = fread(buf, 1, (1 << 20) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* Run a shell command line (the harness, 120 s deadline); its stdout (the
 * commands merge stderr with 2>&1 where they need it) into out, cut to n
 * bytes; returns the exit status. */
static int sh(const char *cmd, char *out, size_t n) {
	struct xrun r;
	int code = xrun_sh(&r, 120, "%s", cmd);
	cr_assert(!r.timed_out, "%s: still running after %.0f s", cmd, r.secs);
	snprintf(out, n, "%s", r.out);
	xrun_free(&r);
	return code;
}

/* ---- one type per option ---------------------------------------------- */

struct optname {
	char name[64], type[16];
};
static struct optname opts[64];
static int nopts;

static void collect_opt(void *arg, const char *n, const char *t, const char *rw, const char *doc) {
	(void)arg, (void)rw, (void)doc;
	if (strncmp(n, "opt.", 4) != 0)
		return;
	cr_assert_lt(nopts, 64);
	snprintf(opts[nopts].name, sizeof(opts[0].name), "%s", n + 4);
	snprintf(opts[nopts].type, sizeof(opts[0].type), "%s", t);
	nopts++;
}

Test(docs, one_type_per_option) {
	xt_free(xt_malloc(1));
	xa_ctl_names(collect_opt, NULL);
	cr_assert_gt(nopts, 10);
	char *man = read_file("man/xalloc.3");
	for (int i = 0; i < nopts; i++) {
		const char *n = opts[i].name, *t = opts[i].type;
		char want[160];
		/* OPTIONS: .BR name " (\fITYPE\fR, default ...)" */
		snprintf(want, sizeof(want), "\n.BR %s \" (\\fI%s\\fR, ", n, t);
		cr_expect_not_null(strstr(man, want), "OPTIONS does not give %s the type %s of opt.%s", n, t, n);
		/* CONTROL NAMESPACE: .B "opt.name" (\fITYPE\fR, r-) */
		snprintf(want, sizeof(want), ".B \"opt.%s\" (\\fI%s\\fR, r-)", n, t);
		cr_expect_not_null(strstr(man, want), "the ctl entry of opt.%s does not say %s", n, t);
		/* and a variable of that type reads it */
		char name[80];
		snprintf(name, sizeof(name), "opt.%s", n);
		union {
			bool b;
			unsigned u;
			size_t z;
			ssize_t s;
			const char *str;
		} v;
		size_t l = ctl_type_size(t);
		cr_assert(l != 0 && l != SIZE_MAX, "unexpected option type %s", t);
		cr_expect_eq(xallocctl(name, &v, &l, NULL, 0), 0, "%s read as %s", name, t);
	}
	/* the sentence that used to be repeated on every opt.* entry */
	cr_expect_null(strstr(man, "ENUM"), "the man page still says ENUM (an internal word)");
	free(man);
}

/* ---- JSON layout ------------------------------------------------------- */


/* The keys of the objects at nesting depth `depth` (1 = the outermost
 * object's members), as "\"k1\" \"k2\" ..." in order. */
static void json_keys_at(const char *j, int depth, char *out, size_t n) {
	int d = 0;
	size_t k = 0;
	out[0] = '\0';
	for (const char *p = j; *p; p++) {
		if (*p == '"') {
			const char *q = p + 1;
			while (*q && *q != '"')
				q += *q == '\\' ? 2 : 1;
			const char *after = q + 1;
			while (*after == ' ' || *after == '\n')
				after++;
			if (d == depth && *after == ':' && k + (size_t)(q - p) + 3 < n)
				k += (size_t)snprintf(out + k, n - k, "%s%.*s", k ? " " : "", (int)(q - p + 1), p);
			p = q;
		} else if (*p == '{' || *p == '[') {
			d++;
		} else if (*p == '}' || *p == ']') {
			d--;
		}
	}
}

Test(docs, json_layout_is_the_real_one) {
	char *man = read_file("man/xalloc.3");
	/* "JSON: one object {"xalloc": {"version", "config", "opt", "stats"}};" */
	const char *a = strstr(man, "JSON: one object {\"xalloc\": {");
	cr_assert_not_null(a, "the man page does not describe the JSON object");
	a += strlen("JSON: one object {\"xalloc\": {");
	const char *e = strstr(a, "}}");
	cr_assert_not_null(e);
	char documented[256] = "";
	size_t k = 0;
	for (const char *p = a; p < e && k + 1 < sizeof(documented); p++) {
		char c = *p == '\n' ? ' ' : *p;
		if (c != ',' && !(c == ' ' && (k == 0 || documented[k - 1] == ' ')))
			documented[k++] = c;
	}
	documented[k] = '\0';
	struct sbuf b = {0};
	xalloc_stats_print(sb_write, &b, "J");
	char top[4096], xa[4096];
	json_keys_at(b.p, 1, top, sizeof(top));
	cr_assert_str_eq(top, "\"xalloc\"");
	json_keys_at(b.p, 2, xa, sizeof(xa));
	cr_assert_str_eq(xa, documented, "the man page says the JSON holds {%s}, the output holds {%s}", documented,
	    xa);
	/* every other quoted member the paragraph names is in the output */
	const char *end = strstr(a, "\n.TP");
	cr_assert_not_null(end);
	for (const char *p = e; p < end; p++) {
		if (*p != '"')
			continue;
		const char *q = strchr(p + 1, '"');
		cr_assert(q && q < end);
		char key[64];
		snprintf(key, sizeof(key), "%.*s:", (int)(q - p + 1), p);
		if (strchr(key, ' ') == NULL && strchr(key, '.') == NULL)
			cr_expect_not_null(strstr(b.p, key),
			    "the man page names %s in the JSON output; it is not there", key);
		p = q;
	}
	free(b.p);
	free(man);
}

/* ---- EXAMPLES compiles and runs ------------------------------------------- */

Test(docs, examples_compile_and_run) {
	XT_REQUIRE("cc", "gcc");
	const char *lib = getenv("XALLOC_LIB"); /* <build>/src/.libs/libxalloc.so */
	cr_assert_not_null(lib, "XALLOC_LIB unset");
	char build[4096];
	snprintf(build, sizeof(build), "%s", lib);
	char *cut = strstr(build, "/src/.libs/");
	cr_assert_not_null(cut, "XALLOC_LIB=%s is not in a build tree", lib);
	*cut = '\0';
	char *man = read_file("man/xalloc.3");
	const char *a = strstr(man, "\n.SH EXAMPLES\n");
	cr_assert_not_null(a, "no EXAMPLES section");
	a = strstr(a, "\n.nf\n");
	cr_assert_not_null(a);
	a += 5;
	const char *e = strstr(a, "\n.fi\n");
	cr_assert_not_null(e);
	char dir[] = "/tmp/xalloc-example-XXXXXX";
	cr_assert_not_null(mkdtemp(dir));
	char path[4200];
	snprintf(path, sizeof(path), "%s/example.c", dir);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	/* roff escapes used in the section: \e is a backslash, \- a minus */
	for (const char *p = a; p <= e; p++) {
		if (p[0] == '\\' && p[1] == 'e')
			fputc('\\', f), p++;
		else if (p[0] == '\\' && p[1] == '-')
			fputc('-', f), p++;
		else
			fputc(*p, f);
	}
	fclose(f);
	const char *src = getenv("TEST_SRCDIR");
	char cmd[16384], out[16384];
	snprintf(cmd, sizeof(cmd),
	    "cc -std=c11 -Wall -Werror -I'%s/include' -I'%s/../include' -o '%s/example' '%s' -L'%s/src/.libs' -lxalloc "
	    "-Wl,-rpath,'%s/src/.libs' 2>&1",
	    build, src, dir, path, build, build);
	int rc = sh(cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "the EXAMPLES program does not compile:\n%s\n%s", cmd, out);
	snprintf(cmd, sizeof(cmd), "'%s/example' 2>/dev/null", dir);
	rc = sh(cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "the EXAMPLES program exited %d: %s", rc, out);
	cr_assert(strncmp(out, "live ", 5) == 0, "unexpected output: %s", out);
	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	cr_assert_eq(sh(cmd, out, sizeof(out)), 0, "%s: %s", cmd, out);
	free(man);
}

/* ---- mallopt ------------------------------------------------------------ */

Test(docs, mallopt_perturb_as_documented) {
	char *man = read_file("man/xalloc.3");
	cr_assert_not_null(strstr(man, "\\fBM_PERTURB\\fR included"), "the man page does not say what M_PERTURB does");
	/* documented: 0, nothing changed (no fill) */
	cr_assert_eq(xt_mallopt(M_PERTURB, 0x42), 0);
	free(man);
}

/* ---- xalloc(1) ------------------------------------------------------------ */

Test(docs, launcher_man_page) {
	XT_REQUIRE("groff", "groff-base");
	const char *src = getenv("TEST_SRCDIR");
	const char *launcher = getenv("XALLOC_LAUNCHER");
	cr_assert(src && launcher, "TEST_SRCDIR and XALLOC_LAUNCHER must be set");
	char cmd[8192], out[8192];
	snprintf(cmd, sizeof(cmd), "groff -man -ww -z '%s/../man/xalloc.1' 2>&1", src);
	int rc = sh(cmd, out, sizeof(out));
	cr_assert_eq(rc, 0, "groff failed: %s", out);
	cr_assert_str_empty(out, "groff warnings on xalloc.1:\n%s", out);
	char *man = read_file("man/xalloc.1");
	snprintf(cmd, sizeof(cmd), "'%s' --help", launcher);
	rc = sh(cmd, out, sizeof(out));
	cr_assert_eq(rc, 0);
	int n = 0;
	for (char *p = out; (p = strstr(p, "  --")) != NULL; p += 4) {
		char opt[64], roff[128];
		sscanf(p + 2, "%63[a-z-]", opt);
		/* --stats-file -> \-\-stats\-file */
		size_t k = 0;
		for (const char *c = opt; *c && k + 3 < sizeof(roff); c++) {
			if (*c == '-')
				roff[k++] = '\\';
			roff[k++] = *c;
		}
		roff[k] = '\0';
		cr_expect_not_null(strstr(man, roff), "xalloc(1) does not document %s (%s)", opt, roff);
		n++;
	}
	cr_assert_geq(n, 6, "only %d options in xalloc --help:\n%s", n, out);
	free(man);
}
