/*
 * conf.h -- options: the table from options.def, the parsed values, the
 * XALLOC_CONF parser.
 */
#ifndef XA_CONF_H
#define XA_CONF_H

#define XA_OPT_STRLEN 256
enum {
	XA_OPT_T_BOOL,
	XA_OPT_T_INT,
	XA_OPT_T_UNSIGNED,
	XA_OPT_T_SIZE,
	XA_OPT_T_SLACK,
	XA_OPT_T_ENUM,
	XA_OPT_T_STRING
};
#define XA_OPT_FIELD_BOOL(n) bool n;
#define XA_OPT_FIELD_INT(n) int64_t n;
#define XA_OPT_FIELD_UNSIGNED(n) uint64_t n;
#define XA_OPT_FIELD_SIZE(n) uint64_t n;
#define XA_OPT_FIELD_SLACK(n) uint64_t n;
#define XA_OPT_FIELD_ENUM(n) unsigned n;
#define XA_OPT_FIELD_STRING(n) char n[XA_OPT_STRLEN];

typedef struct xa_opts_s {
#define XA_OPT(name, type, def, min, max, choices, doc) XA_OPT_FIELD_##type(name)
#include "options.def"
#undef XA_OPT
} xa_opts_t;

/* The position of each option's row: xa_opt_table[XA_OPTI_decay_ms]. */
enum {
#define XA_OPT(name, type, def, min, max, choices, doc) XA_OPTI_##name,
#include "options.def"
#undef XA_OPT
	XA_OPTI_COUNT
};

typedef struct {
	const char *name;
	int type;
	size_t offset;
	int64_t min;
	uint64_t max;
	const char *choices; /* ENUM: "a|b" */
	const char *doc;
} xa_opt_desc_t;

/* SLACK values: a percentage is stored with this bit set. */
#define XA_SLACK_PCT ((uint64_t)1 << 63)
enum { XA_PURGE_DONTNEED = 0, XA_PURGE_FREE = 1 };
enum { XA_PROF_FORMAT_LEGACY = 0, XA_PROF_FORMAT_PPROF = 1 };

extern const xa_opt_desc_t xa_opt_table[];
extern const unsigned xa_opt_count;
/* The start-up values: xa_conf_init (conf.c) fills xa_opt_values once,
 * and nothing writes them afterwards, so opt.* always shows them.
 * Settings that change at run time live as atomics with their owners and
 * start from these: decay.c (arenas.decay_ms, purge_policy), arena.c (each
 * arena's decay_ms; the arena limit that mallopt(M_ARENA_MAX) sets),
 * background.c (the thread's switch), prof.c (prof.active, prof.gdump,
 * the sampling rate of prof.reset).  Every other file reads the options
 * through xa_opt, a const view of the same object (no indirection): a
 * write through it does not compile. */
extern xa_opts_t xa_opt_values;
#define xa_opt (*(const xa_opts_t *)&xa_opt_values)

void xa_conf_defaults(xa_opts_t *o);
/* Parse "k:v,k:v" into o, warning once per bad item as
 * "xalloc: <src>: ...".  Returns the number of bad items. */
unsigned xa_conf_parse(xa_opts_t *o, const char *src, const char *s);
/* Read xalloc_conf and XALLOC_CONF (not in AT_SECURE processes) into xa_opt. */
void xa_conf_init(void);
/* Enum choice name (for printing). */
const char *xa_opt_enum_name(const xa_opt_desc_t *d, unsigned v, char *buf, size_t n);
/* Run-time settings that are also options (arenas.decay_ms, purge policy,
 * prof.reset's lg_sample) are validated by the option's own row, so the
 * ranges and names are defined once, in options.def:
 * is v within the row's range; the index of ENUM choice s, or -1; the name
 * of ENUM choice v, as a string that lives as long as the process ("?"
 * past the last choice). */
bool xa_opt_accepts(unsigned opti, int64_t v);
int xa_opt_choice_index(unsigned opti, const char *s);
const char *xa_opt_choice_name(unsigned opti, unsigned v);
/* Format an option's current value. */
void xa_opt_format(const xa_opts_t *o, const xa_opt_desc_t *d, char *buf, size_t n);

#endif
