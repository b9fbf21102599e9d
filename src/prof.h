/*
 * prof.h -- what the profiler's files (prof.c, prof_dump.c) share.  The
 * rest of the library sees only the prof section of internal.h.
 *
 * Records
 *   stack   one per distinct call stack (hash table prof_g.stacks).  Its
 *           counters are raw sample counts and sampled bytes, split into
 *           PROF_NSB size buckets (see prof_bucket) so that a dump can give
 *           pprof one line per bucket: pprof scales a line by its average
 *           object size, which is exact only when the sizes in a line are
 *           alike.
 *   object  one per live sampled allocation (hash table prof_g.objs, keyed
 *           by address): its stack, usable size, time and thread.
 * Both tables live in base memory and grow by allocating a larger table
 * from base (the old one is abandoned: base never frees; the waste is at
 * most the size of the final table and is counted in the metadata).
 *
 * Locking: prof_g.lock protects both tables, the counters and the dump
 * sequence.  Order: prof lock before tsd, bins, arenas, base (src/README).
 * Nothing holds it while unwinding a stack or while allocating user memory.
 */
#ifndef XA_PROF_H
#define XA_PROF_H

#define PROF_NFRAMES 64
#define PROF_NSB 16  /* size buckets of the stack counters */
#define PROF_NAGE 5  /* age buckets of the reports */

typedef struct {
	uint64_t n, bytes;
} prof_cnt_t;

typedef struct prof_stack_s {
	uint64_t hash;
	uint32_t nframes;
	uint32_t id; /* creation order, for the reports */
	prof_cnt_t live[PROF_NSB], accum[PROF_NSB];
	/* scratch filled by a dump or report, under the lock */
	double est_bytes, est_n;          /* unbiased live estimate */
	double age_bytes[PROF_NAGE];      /* estimated live bytes by age */
	uint32_t last_tid;                /* thread of the newest live sample */
	uintptr_t frames[];               /* return addresses, innermost first */
} prof_stack_t;

typedef struct {
	uintptr_t addr; /* 0 = empty slot */
	prof_stack_t *stack;
	uint64_t size;
	uint64_t time_ns;
	uint32_t tid;
} prof_obj_t;

typedef struct {
	xa_mutex_t lock;
	prof_stack_t **stacks; /* open addressing, power-of-two capacity */
	size_t stacks_cap, nstacks;
	prof_obj_t *objs;      /* open addressing, linear probing */
	size_t objs_cap, nobjs;
	unsigned lg_sample;    /* of the samples in the tables */
	uint64_t nsamples;     /* since start or reset */
	uint64_t meta_bytes;   /* base memory taken by the profiler */
	uint64_t seq;          /* dump sequence number */
	uint64_t iseq, useq, pseq; /* interval, gdump and peak sequence numbers */
	uint64_t ndumps;
	uint64_t start_ns;
} prof_global_t;

extern prof_global_t prof_g;
extern _Atomic uint64_t prof_time_ns; /* spent sampling, freeing, dumping */

/* Size bucket of a sampled object: everything below T/16 together (the
 * scaling is nearly linear there), then one bucket per doubling. */
XA_INLINE unsigned prof_bucket(uint64_t size, unsigned lg_sample) {
	unsigned b = 0;
	uint64_t lim = lg_sample >= 4 ? (uint64_t)1 << (lg_sample - 4) : 1;
	while (size >= lim && b < PROF_NSB - 1) {
		b++;
		if (lim > (UINT64_MAX >> 1))
			break;
		lim <<= 1;
	}
	return b;
}

/* 1 - exp(-x) for x >= 0, and -log(u) for u in (0, 1]: no libm. */
double xa_prof_one_minus_exp_neg(double x);
double xa_prof_neg_log(double u);

/* prof_dump.c */
/* Fill every stack's estimate and age scratch from the live objects
 * (prof_g.lock held). */
void prof_estimate_locked(uint64_t now);
/* Write a heap profile to path in the prof_format format (lock NOT held).
 * Returns 0 or an errno. */
int prof_dump_write(const char *path);
/* The same to an open file: pprof (profile.proto; a delta over seconds
 * when > 0) or legacy text. */
int prof_dump_fd(int fd, bool pprof, unsigned seconds);
/* prof_pprof.c: the profile.proto encoding to fd (lock NOT held); with
 * seconds > 0, the change over that many seconds (sleeps meanwhile).
 * Returns true on error (errno set). */
bool prof_pprof_write(int fd, unsigned seconds);
/* Build the file name <prefix>.<pid>.<seq>[.<kind><n>].heap. */
void prof_dump_name(char *buf, size_t n, char kind);
/* The built-in report of live sampled objects to fd (lock NOT held). */
void prof_report(int fd, const char *title, unsigned top);

#endif
