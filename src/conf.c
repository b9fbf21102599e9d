/*
 * conf.c -- parsing XALLOC_CONF and the xalloc_conf global.
 *
 * Owns: the option table built from options.def and the start-up values
 * (xa_opt_values, read by every other file through the const view xa_opt:
 * see conf.h).  Runs once during bootstrap, before any other thread can
 * allocate; reads the environment directly (no getenv during libc
 * start-up), and ignores XALLOC_CONF in AT_SECURE (setuid/setgid)
 * processes.  Every bad item gives exactly one line on stderr and keeps the
 * default; with abort_conf:true the process aborts after the warnings.
 *
 * Locking: none (single-threaded bootstrap; the values never change after).
 */
#include "internal.h"

#include <stdlib.h>

xa_opts_t xa_opt_values; /* written only by xa_conf_init (conf.h) */

const xa_opt_desc_t xa_opt_table[] = {
#define XA_OPT(name, type, def, min, max, choices, doc) \
	{#name, XA_OPT_T_##type, offsetof(xa_opts_t, name), (int64_t)(min), (uint64_t)(max), choices, doc},
#include "options.def"
#undef XA_OPT
};
const unsigned xa_opt_count = XA_ARRAY_LEN(xa_opt_table);

/* The optional conf string a program links in (weak: may be absent). */
extern const char *XA_SYM(xalloc_conf) __attribute__((weak));

#define XA_OPT_SET_BOOL(o, n, v) (o)->n = (v);
#define XA_OPT_SET_INT(o, n, v) (o)->n = (v);
#define XA_OPT_SET_UNSIGNED(o, n, v) (o)->n = (v);
#define XA_OPT_SET_SIZE(o, n, v) (o)->n = (v);
#define XA_OPT_SET_SLACK(o, n, v) (o)->n = (v);
#define XA_OPT_SET_ENUM(o, n, v) (o)->n = (v);
#define XA_OPT_SET_STRING(o, n, v) xa_snprintf((o)->n, XA_OPT_STRLEN, "%s", (v));

void xa_conf_defaults(xa_opts_t *o) {
	memset(o, 0, sizeof(*o));
#define XA_OPT(name, type, def, min, max, choices, doc) XA_OPT_SET_##type(o, name, def)
#include "options.def"
#undef XA_OPT
}

static bool conf_match_enum(const char *choices, const char *v, size_t vl, unsigned *out) {
	unsigned idx = 0;
	const char *p = choices;
	while (*p) {
		const char *e = p;
		while (*e && *e != '|')
			e++;
		if ((size_t)(e - p) == vl && strncmp(p, v, vl) == 0) {
			*out = idx;
			return true;
		}
		idx++;
		p = *e ? e + 1 : e;
	}
	return false;
}

const char *xa_opt_enum_name(const xa_opt_desc_t *d, unsigned v, char *buf, size_t n) {
	const char *p = d->choices;
	for (unsigned i = 0; *p; i++) {
		const char *e = p;
		while (*e && *e != '|')
			e++;
		if (i == v) {
			xa_snprintf(buf, n, "%.*s", (int)(e - p), p);
			return buf;
		}
		p = *e ? e + 1 : e;
	}
	xa_snprintf(buf, n, "%u", v);
	return buf;
}

void xa_opt_format(const xa_opts_t *o, const xa_opt_desc_t *d, char *buf, size_t n) {
	const char *base = (const char *)o + d->offset;
	switch (d->type) {
	case XA_OPT_T_BOOL:
		xa_snprintf(buf, n, "%s", *(const bool *)base ? "true" : "false");
		break;
	case XA_OPT_T_INT:
		xa_snprintf(buf, n, "%lld", (long long)*(const int64_t *)base);
		break;
	case XA_OPT_T_UNSIGNED:
	case XA_OPT_T_SIZE:
		xa_snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)base);
		break;
	case XA_OPT_T_SLACK: {
		uint64_t v = *(const uint64_t *)base;
		if (v & XA_SLACK_PCT)
			xa_snprintf(buf, n, "%llu%%", (unsigned long long)(v & ~XA_SLACK_PCT));
		else
			xa_snprintf(buf, n, "%llu", (unsigned long long)v);
		break;
	}
	case XA_OPT_T_ENUM:
		xa_opt_enum_name(d, *(const unsigned *)base, buf, n);
		break;
	case XA_OPT_T_STRING:
		xa_snprintf(buf, n, "%s", base);
		break;
	}
}

bool xa_opt_accepts(unsigned opti, int64_t v) {
	const xa_opt_desc_t *d = &xa_opt_table[opti];
	return v >= d->min && (v < 0 || (uint64_t)v <= d->max);
}

int xa_opt_choice_index(unsigned opti, const char *s) {
	unsigned i;
	const char *choices = xa_opt_table[opti].choices;
	return choices != NULL && conf_match_enum(choices, s, strlen(s), &i) ? (int)i : -1;
}

/* The ENUM rows' choices, '|' turned into NUL: filled by xa_conf_init
 * (bootstrap, one thread) and read-only afterwards. */
static char conf_choices[XA_OPTI_COUNT][64];

static void conf_choices_init(void) {
	for (unsigned i = 0; i < XA_OPTI_COUNT; i++) {
		if (xa_opt_table[i].type != XA_OPT_T_ENUM)
			continue;
		xa_snprintf(conf_choices[i], sizeof(conf_choices[i]), "%s", xa_opt_table[i].choices);
		for (char *p = conf_choices[i]; *p; p++)
			if (*p == '|')
				*p = '\0';
	}
}

const char *xa_opt_choice_name(unsigned opti, unsigned v) {
	const char *p = conf_choices[opti], *end = p + strlen(xa_opt_table[opti].choices ? xa_opt_table[opti].choices : "");
	for (unsigned i = 0; i < v && p < end; i++)
		p += strlen(p) + 1;
	return p < end ? p : "?";
}

/* Parse one value; returns true on error. */
static bool conf_set(xa_opts_t *o, const xa_opt_desc_t *d, const char *v, size_t vl) {
	char *base = (char *)o + d->offset;
	int64_t i;
	uint64_t u;
	switch (d->type) {
	case XA_OPT_T_BOOL:
		if (vl == 4 && strncmp(v, "true", 4) == 0)
			*(bool *)base = true;
		else if (vl == 5 && strncmp(v, "false", 5) == 0)
			*(bool *)base = false;
		else
			return true;
		return false;
	case XA_OPT_T_INT:
		if (xa_parse_int(v, vl, &i) || i < d->min || (i > 0 && (uint64_t)i > d->max))
			return true;
		*(int64_t *)base = i;
		return false;
	case XA_OPT_T_UNSIGNED:
		if (vl && v[0] == '-')
			return true;
		if (xa_parse_int(v, vl, &i) || i < d->min || (uint64_t)i > d->max)
			return true;
		*(uint64_t *)base = (uint64_t)i;
		return false;
	case XA_OPT_T_SIZE:
		if (xa_parse_size(v, vl, &u) || u > d->max)
			return true;
		*(uint64_t *)base = u;
		return false;
	case XA_OPT_T_SLACK:
		if (vl > 1 && v[vl - 1] == '%') {
			if (xa_parse_size(v, vl - 1, &u) || u > 100000)
				return true;
			*(uint64_t *)base = u | XA_SLACK_PCT;
			return false;
		}
		if (xa_parse_size(v, vl, &u) || (u & XA_SLACK_PCT))
			return true;
		*(uint64_t *)base = u;
		return false;
	case XA_OPT_T_ENUM: {
		unsigned e;
		if (!conf_match_enum(d->choices, v, vl, &e))
			return true;
		*(unsigned *)base = e;
		return false;
	}
	case XA_OPT_T_STRING:
		if (vl >= XA_OPT_STRLEN)
			return true;
		memcpy(base, v, vl);
		base[vl] = '\0';
		return false;
	}
	return true;
}

/* What a rejected value should have been, for the warning line. */
static const char *conf_valid(const xa_opt_desc_t *d, char *buf, size_t n) {
	switch (d->type) {
	case XA_OPT_T_BOOL:
		return "true or false";
	case XA_OPT_T_INT:
		xa_snprintf(buf, n, "%lld to %llu", (long long)d->min, (unsigned long long)d->max);
		return buf;
	case XA_OPT_T_UNSIGNED:
		xa_snprintf(buf, n, "%lld to %llu", (long long)d->min, (unsigned long long)d->max);
		return buf;
	case XA_OPT_T_SIZE:
		xa_snprintf(buf, n, "0 to %llu bytes, suffixes K M G T", (unsigned long long)d->max);
		return buf;
	case XA_OPT_T_SLACK:
		return "a size (suffixes K M G T) or a percentage P% of live bytes";
	case XA_OPT_T_ENUM: {
		size_t k = 0;
		for (const char *p = d->choices; *p && k + 4 < n; p++) {
			if (*p == '|') {
				memcpy(buf + k, " or ", 4);
				k += 4;
			} else {
				buf[k++] = *p;
			}
		}
		buf[k] = '\0';
		return buf;
	}
	case XA_OPT_T_STRING:
		xa_snprintf(buf, n, "up to %d bytes", XA_OPT_STRLEN - 1);
		return buf;
	}
	return "?";
}

/* Show at most 64 bytes of a user string in a message. */
#define SHOW(p, l) (int)((l) > 64 ? 64 : (l)), (p), ((l) > 64 ? "..." : "")

unsigned xa_conf_parse(xa_opts_t *o, const char *src, const char *s) {
	unsigned bad = 0;
	const char *p = s;
	while (*p) {
		const char *item = p;
		while (*p && *p != ',')
			p++;
		size_t il = (size_t)(p - item);
		if (*p == ',')
			p++;
		if (il == 0)
			continue; /* empty items (",,") are skipped */
		const char *colon = memchr(item, ':', il);
		if (colon == NULL) {
			xa_message("%s: malformed option '%.*s%s' (expected key:value) ignored", src, SHOW(item, il));
			bad++;
			continue;
		}
		size_t kl = (size_t)(colon - item);
		const char *v = colon + 1;
		size_t vl = il - kl - 1;
		const xa_opt_desc_t *d = NULL;
		for (unsigned i = 0; i < xa_opt_count; i++) {
			if (strlen(xa_opt_table[i].name) == kl && strncmp(xa_opt_table[i].name, item, kl) == 0) {
				d = &xa_opt_table[i];
				break;
			}
		}
		if (d == NULL) {
			xa_message("%s: unknown option '%.*s%s' ignored", src, SHOW(item, kl));
			bad++;
			continue;
		}
		if (conf_set(o, d, v, vl)) {
			char vb[64];
			xa_message("%s: invalid value '%.*s%s' for option '%s' ignored (valid: %s)", src, SHOW(v, vl),
			    d->name, conf_valid(d, vb, sizeof(vb)));
			bad++;
		}
	}
	return bad;
}

static const char *conf_env(const char *name) {
	char **env = xa_os_environ();
	if (env == NULL)
		return NULL;
	size_t nl = strlen(name);
	for (; *env; env++)
		if (strncmp(*env, name, nl) == 0 && (*env)[nl] == '=')
			return *env + nl + 1;
	return NULL;
}

void xa_conf_init(void) {
	conf_choices_init();
	xa_conf_defaults(&xa_opt_values);
	unsigned bad = 0;
	if (&XA_SYM(xalloc_conf) != NULL && XA_SYM(xalloc_conf) != NULL)
		bad += xa_conf_parse(&xa_opt_values, "xalloc_conf", XA_SYM(xalloc_conf));
	if (!xa_os_secure()) {
		const char *env = conf_env("XALLOC_CONF");
		if (env)
			bad += xa_conf_parse(&xa_opt_values, "XALLOC_CONF", env);
		xa_idle_test_hold_init(conf_env("XALLOC_TEST_IDLE_HOLD"));
	}
	/* Profiling options that do nothing without prof:true: say so once
	 * rather than silently writing no profile. */
	if (!xa_opt.prof && (xa_opt.prof_final || xa_opt.prof_leak || xa_opt.prof_gdump || xa_opt.lg_prof_interval >= 0))
		xa_message("%s%s%s%sneed%s prof:true; ignored", xa_opt.prof_final ? "prof_final " : "",
		    xa_opt.prof_leak ? "prof_leak " : "", xa_opt.prof_gdump ? "prof_gdump " : "",
		    xa_opt.lg_prof_interval >= 0 ? "lg_prof_interval " : "",
		    (xa_opt.prof_final + xa_opt.prof_leak + xa_opt.prof_gdump + (xa_opt.lg_prof_interval >= 0)) > 1 ? "" : "s");
	if (bad && xa_opt.abort_conf) {
		xa_message("aborting: invalid configuration (abort_conf:true)");
		xa_os_abort();
	}
}
