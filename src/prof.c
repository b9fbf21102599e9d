/*
 * prof.c -- sampled heap profiling: the sampler, the placement of sampled
 * objects, the stack and object tables, and the run-time controls.
 * (Dumps and reports: prof_dump.c; shared declarations: prof.h.)
 *
 * Sampling.  Each thread draws the allocated-byte count of its next sample
 * point, prof_next = allocated + X with X ~ Exp(mean T = 2^lg_sample), and
 * keeps next_event <= prof_next, so the fast path's one existing compare
 * (`allocated + size < next_event`) covers it: with profiling off or at its
 * default rate the fast path does no extra work.  The allocation whose
 * bytes cross prof_next is sampled, and the next point is drawn from its
 * end.  The points form a Poisson process of rate 1/T over allocated bytes
 * (the exponential is memoryless, so restarting after a sampled allocation
 * changes nothing), hence an allocation of s bytes is sampled with
 * probability p(s) = 1 - exp(-s/T), independently of everything else.  An
 * unbiased estimate of a site's bytes is the sum over its samples of
 * s / p(s) (and of objects, 1 / p(s)); pprof applies the same formula to
 * each line of a dump using the line's average size (its "heap_v2"
 * scaling), which is why dumps split a site's counts by size (prof.h).
 * The relative standard error of a site holding B bytes in objects much
 * smaller than T is about 1 / sqrt(B / T): 200 MiB at T = 512 KiB is ~400
 * samples, +-5%; at T = 16 KiB, ~12800 samples, +-0.9%.
 *
 * -log(u) and exp() are computed here (no libm).  The PRNG is a per-thread
 * xorshift64*.
 *
 * Placement.  A sampled object must be found again on free without a
 * lookup on every free: its pclass byte is PCLASS_SAMPLED, larger than any
 * cache bin index, so the free fast path falls into free_impl, which sees
 * run->sampled (or desc->sampled for huge) and calls xa_prof_free_sampled.
 * Small samples share "profiled slabs": per arena and class, slabs whose
 * pages all carry PCLASS_SAMPLED, kept in bins of their own (pbins), so a
 * sampled 16-byte object costs 16 bytes, not a page.  A sampled large run
 * has run->sampled and PCLASS_SAMPLED on its first page; a huge mapping has
 * desc->sampled.
 *
 * Locking: prof_g.lock (tables); one lock per profiled bin (like a bin
 * lock: taken before the arena lock, never with prof_g.lock held).  No lock
 * is held while unwinding: _Unwind_Backtrace may call malloc the first time
 * (libgcc, dl_iterate_phdr); tsd->in_prof stops that call from being
 * sampled in turn.
 */
#include "internal.h"
#include "prof.h"

#include <link.h>
#include <unwind.h>

prof_global_t prof_g = {.lock = XA_MUTEX_INITIALIZER};
_Atomic uint32_t xa_prof_epoch = 1;
_Atomic uint64_t prof_time_ns;
static _Atomic bool prof_active;
static _Atomic bool prof_gdump;
static _Atomic unsigned prof_lg_sample = 19;

/* interval and gdump triggers */
static _Atomic uint64_t prof_acc_bytes;  /* bytes allocated, event granularity */
static _Atomic uint64_t prof_acc_next;   /* next interval dump at this count */
static _Atomic uint64_t gdump_check_ns;  /* next time to look at the total */
static _Atomic uint64_t gdump_hwm;       /* live bytes at the last gdump */
static _Atomic uint64_t gdump_last_ns;
#define GDUMP_CHECK_NS 10000000ull  /* look at most every 10 ms */
#define GDUMP_MIN_NS 250000000ull   /* dump at most every 250 ms */

/* ---- maths without libm ---------------------------------------------- */

double xa_prof_neg_log(double u) {
	/* u = m * 2^e, m in [sqrt(1/2), sqrt(2)); log m = 2 atanh(s),
	 * s = (m-1)/(m+1), |s| < 0.172: eight odd terms reach 1e-15. */
	if (!(u > 0))
		return 745.0;
	union {
		double d;
		uint64_t u;
	} v = {.d = u};
	int e = (int)((v.u >> 52) & 0x7ff) - 1023;
	v.u = (v.u & ~((uint64_t)0x7ff << 52)) | ((uint64_t)1023 << 52);
	double m = v.d;
	if (m > 1.4142135623730951) {
		m *= 0.5;
		e++;
	}
	double s = (m - 1) / (m + 1), s2 = s * s, term = s, sum = 0;
	for (int k = 1; k <= 17; k += 2) {
		sum += term / k;
		term *= s2;
	}
	double ln = 2 * sum + e * 0.6931471805599453;
	return -ln;
}

static double exp_neg(double x) {
	/* e^-x = 2^-n e^-r, r = x - n ln2 in [0, ln2): Taylor to 1e-17. */
	if (x > 700)
		return 0;
	int n = (int)(x / 0.6931471805599453);
	double r = x - n * 0.6931471805599453, term = 1, sum = 1;
	for (int k = 1; k <= 20; k++) {
		term *= -r / k;
		sum += term;
	}
	while (n-- > 0)
		sum *= 0.5;
	return sum;
}

double xa_prof_one_minus_exp_neg(double x) {
	if (x < 0.5) { /* series, no cancellation */
		double term = x, sum = x;
		for (int k = 2; k <= 24; k++) {
			term *= -x / k;
			sum += term;
		}
		return sum;
	}
	return 1 - exp_neg(x);
}

static uint64_t prng_next(xa_tsd_t *t) {
	uint64_t x = t->prof_prng;
	if (x == 0) /* seed: thread, address, time */
		x = ((uint64_t)t->tid << 32) ^ (uintptr_t)t ^ xa_now_ns() ^ 0x9e3779b97f4a7c15ull;
	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	t->prof_prng = x;
	return x * 0x2545f4914f6cdd1dull;
}

/* Bytes to the next sample point: Exp(mean 2^lg), at least 1. */
static uint64_t draw_interval(xa_tsd_t *t) {
	unsigned lg = atomic_load_explicit(&prof_lg_sample, memory_order_relaxed);
	double u = (double)((prng_next(t) >> 11) + 1) * (1.0 / 9007199254740992.0);
	double x = xa_prof_neg_log(u) * (double)((uint64_t)1 << lg);
	if (x >= 4.0e18)
		return (uint64_t)4e18;
	return (uint64_t)x + 1;
}

/* ---- thread state and events ------------------------------------------ */

static bool thread_samples(xa_tsd_t *t) {
	return atomic_load_explicit(&prof_active, memory_order_relaxed) && !t->prof_off;
}

void xa_prof_thread_sync(xa_tsd_t *t) {
	t->prof_epoch = atomic_load_explicit(&xa_prof_epoch, memory_order_relaxed);
	t->prof_next = thread_samples(t) ? t->allocated + draw_interval(t) : UINT64_MAX;
	if (t->prof_next < t->next_event) {
		t->prof_gc_next = t->next_event;
		t->next_event = t->prof_next;
	}
}

void xa_prof_boot(void) {
	if (!config_prof)
		return;
	atomic_store(&prof_lg_sample, (unsigned)xa_opt.lg_prof_sample);
	prof_g.lg_sample = (unsigned)xa_opt.lg_prof_sample;
	prof_g.start_ns = xa_now_ns();
	atomic_store(&prof_gdump, xa_opt.prof_gdump);
	atomic_store(&prof_active, xa_opt.prof && xa_opt.prof_active);
	if (xa_opt.lg_prof_interval >= 0)
		atomic_store(&prof_acc_next, (uint64_t)1 << xa_opt.lg_prof_interval);
}

void xa_prof_thread_init(xa_tsd_t *t) {
	t->prof_acc = t->allocated;
	xa_prof_thread_sync(t);
}

static void prof_bump_epoch(void) { atomic_fetch_add(&xa_prof_epoch, 1); }

static void dump_auto(char kind);

void xa_prof_event(xa_tsd_t *t) {
	t->prof_gc_next = t->next_event; /* alloc_event just set the GC point */
	if (t->prof_epoch != atomic_load_explicit(&xa_prof_epoch, memory_order_relaxed)) {
		xa_prof_thread_sync(t);
	} else if (t->allocated >= t->prof_next) {
		/* The point passed without a sample (in-place realloc, or an
		 * allocation made by the profiler itself): draw again. */
		t->prof_next = t->allocated + draw_interval(t);
	}
	if (t->prof_next < t->next_event)
		t->next_event = t->prof_next;
	if (t->in_prof || !atomic_load_explicit(&prof_active, memory_order_relaxed))
		return;
	if (xa_opt.lg_prof_interval >= 0) {
		uint64_t d = t->allocated - t->prof_acc;
		t->prof_acc = t->allocated;
		uint64_t acc = atomic_fetch_add(&prof_acc_bytes, d) + d;
		uint64_t next = atomic_load(&prof_acc_next);
		if (acc >= next) {
			uint64_t step = (uint64_t)1 << xa_opt.lg_prof_interval;
			uint64_t nn = next + step;
			if (nn <= acc) /* fell far behind: one dump, then catch up */
				nn = acc - acc % step + step;
			if (atomic_compare_exchange_strong(&prof_acc_next, &next, nn))
				dump_auto('i');
		}
	}
	if (atomic_load_explicit(&prof_gdump, memory_order_relaxed)) {
		uint64_t now = xa_now_ns();
		uint64_t chk = atomic_load(&gdump_check_ns);
		if (now >= chk && atomic_compare_exchange_strong(&gdump_check_ns, &chk, now + GDUMP_CHECK_NS)) {
			uint64_t a, d, c;
			xa_tsd_totals(&a, &d, &c);
			uint64_t live = a > d ? a - d : 0;
			if (live > atomic_load(&gdump_hwm) && now >= atomic_load(&gdump_last_ns) + GDUMP_MIN_NS) {
				atomic_store(&gdump_hwm, live);
				atomic_store(&gdump_last_ns, now);
				dump_auto('u');
			}
		}
	}
}

/* ---- profiled slabs ---------------------------------------------------- */

typedef struct {
	xa_mutex_t lock;
	xa_list_t avail; /* slabs with a free region (their link) */
	size_t nslabs;
} pbin_t;

static pbin_t *_Atomic pbins[XA_MAX_ARENAS];
static xa_mutex_t pbins_lock = XA_MUTEX_INITIALIZER;
static _Atomic uint64_t pslab_bytes;

static pbin_t *pbins_get(xa_arena_t *a) {
	pbin_t *p = atomic_load_explicit(&pbins[a->ind], memory_order_acquire);
	if (p)
		return p;
	bool created = false;
	xa_mutex_lock(&pbins_lock);
	p = pbins[a->ind];
	if (p == NULL) {
		p = xa_base_alloc(SC_NSMALL * sizeof(pbin_t));
		if (p) {
			for (unsigned i = 0; i < SC_NSMALL; i++)
				xa_mutex_init(&p[i].lock);
			atomic_store_explicit(&pbins[a->ind], p, memory_order_release);
			created = true;
		}
	}
	xa_mutex_unlock(&pbins_lock);
	if (created) {
		xa_mutex_lock(&prof_g.lock);
		prof_g.meta_bytes += SC_NSMALL * sizeof(pbin_t);
		xa_mutex_unlock(&prof_g.lock);
	}
	return p;
}

static void pbin_push(pbin_t *b, xa_run_t *r) { xa_list_push(&b->avail, &r->link); }
static void pbin_remove(pbin_t *b, xa_run_t *r) { xa_list_remove(&b->avail, &r->link); }

/* pbin lock held */
static xa_run_t *pslab_new(xa_arena_t *a, unsigned cls) {
	xa_run_t *r = xa_slab_new(a, cls, PCLASS_SAMPLED);
	if (r)
		atomic_fetch_add(&pslab_bytes, (uint64_t)r->npages * PAGE);
	return r;
}

static void *pslab_alloc(xa_arena_t *a, unsigned cls, bool zero) {
	pbin_t *bins = pbins_get(a);
	if (bins == NULL)
		return NULL;
	pbin_t *b = &bins[cls];
	xa_mutex_lock(&b->lock);
	xa_run_t *r = XA_LIST_FIRST(&b->avail, xa_run_t, link);
	if (r == NULL) {
		r = pslab_new(a, cls);
		if (r == NULL) {
			xa_mutex_unlock(&b->lock);
			return NULL;
		}
		b->nslabs++;
		pbin_push(b, r);
	}
	unsigned w = r->hint;
	while (r->bitmap[w] == 0)
		w++;
	unsigned bit = (unsigned)__builtin_ctzll(r->bitmap[w]);
	r->bitmap[w] &= r->bitmap[w] - 1;
	r->hint = (uint16_t)w;
	if (--r->nfree == 0)
		pbin_remove(b, r);
	void *p = (void *)(r->addr + ((size_t)w * 64 + bit) * xa_sc[cls].size);
	xa_mutex_unlock(&b->lock);
	if (zero)
		memset(p, 0, xa_sc[cls].size);
	return p;
}

static void pslab_free(xa_chunk_t *c, xa_run_t *r, void *ptr) {
	xa_arena_t *a = c->arena;
	unsigned cls = r->cls;
	pbin_t *b = &atomic_load_explicit(&pbins[a->ind], memory_order_acquire)[cls];
	size_t off = (uintptr_t)ptr - r->addr;
	unsigned idx = xa_sc_region_index(cls, off);
	xa_check((size_t)idx * xa_sc[cls].size == off && idx < r->nregs, "free of invalid pointer", ptr, 0);
	uint64_t bit = (uint64_t)1 << (idx % 64);
	xa_run_t *release = NULL;
	xa_mutex_lock(&b->lock);
	if (r->bitmap[idx / 64] & bit) {
		xa_mutex_unlock(&b->lock);
		xa_fatal("double free of", ptr, xa_sc[cls].size);
	}
	r->bitmap[idx / 64] |= bit;
	if (idx / 64 < r->hint)
		r->hint = (uint16_t)(idx / 64);
	if (r->nfree++ == 0)
		pbin_push(b, r);
	/* Keep one empty slab per bin; give back the others. */
	if (r->nfree == r->nregs && b->nslabs > 1) {
		pbin_remove(b, r);
		b->nslabs--;
		release = r;
	}
	xa_mutex_unlock(&b->lock);
	if (release) {
		atomic_fetch_sub(&pslab_bytes, (uint64_t)release->npages * PAGE);
		xa_mutex_lock(&a->lock);
		release->sampled = 0;
		xa_pages_free(a, release);
		xa_mutex_unlock(&a->lock);
		xa_background_kick();
	}
}

/* ---- stack capture ------------------------------------------------------ */

typedef struct {
	uintptr_t *frames;
	unsigned n, max;
} bt_state_t;

/* Our own code's address range: frames inside it are skipped, so a stack
 * starts at the caller of malloc (or operator new).  The static test build
 * lives inside the test program: there nothing is skipped. */
static uintptr_t self_lo, self_hi;
static bool self_known;

static int self_phdr_cb(struct dl_phdr_info *info, size_t size, void *arg) {
	uintptr_t me = (uintptr_t)arg;
	for (unsigned i = 0; i < info->dlpi_phnum; i++) {
		const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
		if (ph->p_type != PT_LOAD || !(ph->p_flags & PF_X))
			continue;
		uintptr_t lo = info->dlpi_addr + ph->p_vaddr, hi = lo + ph->p_memsz;
		if (me >= lo && me < hi) {
			self_lo = lo;
			self_hi = hi;
			return 1;
		}
	}
	return 0;
}

static _Unwind_Reason_Code bt_cb(struct _Unwind_Context *ctx, void *arg) {
	bt_state_t *s = arg;
	uintptr_t ip = _Unwind_GetIP(ctx);
	if (ip == 0)
		return _URC_END_OF_STACK;
	if (s->n == 0 && ip >= self_lo && ip < self_hi)
		return _URC_NO_REASON; /* still inside xalloc */
	s->frames[s->n++] = ip;
	return s->n == s->max ? _URC_END_OF_STACK : _URC_NO_REASON;
}

extern void *__libc_stack_end; /* ld.so: top of the main thread's stack */

/*
 * The frame-pointer walk reads two words per frame, so it must only read
 * memory that is surely mapped: the stack between our own frame and the
 * top of the stack we run on.  A thread's stack ends at its thread
 * descriptor (glibc puts struct pthread at the top of the stack block, also
 * for user-supplied stacks); the main thread's at __libc_stack_end.  On any
 * other stack (sigaltstack) there is no safe bound: use libgcc.  Frames are
 * accepted only while they climb (each saved frame pointer above the last)
 * and stay inside the bounds, so a frame pointer clobbered by code built
 * without them ends the walk instead of faulting.
 */
static uintptr_t stack_top(uintptr_t fp) {
	uintptr_t self = (uintptr_t)pthread_self();
	if (fp < self && self - fp < ((uintptr_t)1 << 30))
		return self;
	uintptr_t top = (uintptr_t)__libc_stack_end;
	if (fp < top && top - fp < ((uintptr_t)1 << 30))
		return top;
	return 0;
}

static XA_NOINLINE unsigned fp_walk(uintptr_t *frames, unsigned max) {
	uintptr_t fp = (uintptr_t)__builtin_frame_address(0);
	uintptr_t hi = stack_top(fp);
	if (hi == 0)
		return UINT_MAX;
	unsigned n = 0;
	while (n < max && (fp & 7) == 0 && fp + 2 * sizeof(uintptr_t) <= hi) {
		uintptr_t next = ((const uintptr_t *)fp)[0], ret = ((const uintptr_t *)fp)[1];
		if (ret < PAGE)
			break;
		if (n > 0 || ret < self_lo || ret >= self_hi)
			frames[n++] = ret;
		if (next <= fp)
			break;
		fp = next;
	}
	return n;
}

static unsigned backtrace_capture(uintptr_t *frames, unsigned max) {
	if (!self_known) {
		if (!config_test)
			dl_iterate_phdr(self_phdr_cb, (void *)(uintptr_t)&backtrace_capture);
		self_known = true;
	}
	if (xa_opt.prof_unwind == 0) {
		unsigned n = fp_walk(frames, max);
		if (n != UINT_MAX)
			return n;
	}
	bt_state_t s = {frames, 0, max};
	_Unwind_Backtrace(bt_cb, &s);
	return s.n;
}

/* ---- tables (prof_g.lock held) ------------------------------------------ */

static uint64_t hash_frames(const uintptr_t *f, unsigned n) {
	uint64_t h = 0xcbf29ce484222325ull ^ n;
	for (unsigned i = 0; i < n; i++) {
		h ^= f[i];
		h *= 0x100000001b3ull;
		h ^= h >> 29;
	}
	return h ? h : 1;
}

static uint64_t hash_addr(uintptr_t a) {
	uint64_t h = (uint64_t)a * 0x9e3779b97f4a7c15ull;
	return h ^ (h >> 31);
}

static void *meta_alloc(size_t size) {
	void *p = xa_base_alloc(size);
	if (p)
		prof_g.meta_bytes += (size + 15) & ~(size_t)15;
	return p;
}

static bool stacks_grow(void) {
	size_t ncap = prof_g.stacks_cap ? prof_g.stacks_cap * 2 : 1024;
	prof_stack_t **n = meta_alloc(ncap * sizeof(*n));
	if (n == NULL)
		return true;
	for (size_t i = 0; i < prof_g.stacks_cap; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s == NULL)
			continue;
		size_t j = s->hash & (ncap - 1);
		while (n[j])
			j = (j + 1) & (ncap - 1);
		n[j] = s;
	}
	prof_g.stacks = n;
	prof_g.stacks_cap = ncap;
	return false;
}

static prof_stack_t *stack_intern(const uintptr_t *f, unsigned nf) {
	if ((prof_g.nstacks + 1) * 4 > prof_g.stacks_cap * 3 && stacks_grow())
		return NULL;
	uint64_t h = hash_frames(f, nf);
	size_t mask = prof_g.stacks_cap - 1, j = h & mask;
	for (prof_stack_t *s; (s = prof_g.stacks[j]) != NULL; j = (j + 1) & mask)
		if (s->hash == h && s->nframes == nf && memcmp(s->frames, f, nf * sizeof(*f)) == 0)
			return s;
	prof_stack_t *s = meta_alloc(sizeof(*s) + nf * sizeof(*f));
	if (s == NULL)
		return NULL;
	s->hash = h;
	s->nframes = nf;
	s->id = (uint32_t)prof_g.nstacks;
	memcpy(s->frames, f, nf * sizeof(*f));
	prof_g.stacks[j] = s;
	prof_g.nstacks++;
	return s;
}

static bool objs_grow(void) {
	size_t ncap = prof_g.objs_cap ? prof_g.objs_cap * 2 : 4096;
	prof_obj_t *n = meta_alloc(ncap * sizeof(*n));
	if (n == NULL)
		return true;
	for (size_t i = 0; i < prof_g.objs_cap; i++) {
		prof_obj_t *o = &prof_g.objs[i];
		if (o->addr == 0)
			continue;
		size_t j = hash_addr(o->addr) & (ncap - 1);
		while (n[j].addr)
			j = (j + 1) & (ncap - 1);
		n[j] = *o;
	}
	prof_g.objs = n;
	prof_g.objs_cap = ncap;
	return false;
}

static prof_obj_t *obj_find(uintptr_t a) {
	if (prof_g.objs_cap == 0)
		return NULL;
	size_t mask = prof_g.objs_cap - 1;
	for (size_t j = hash_addr(a) & mask; prof_g.objs[j].addr; j = (j + 1) & mask)
		if (prof_g.objs[j].addr == a)
			return &prof_g.objs[j];
	return NULL;
}

/* Linear probing with backward-shift deletion (no tombstones). */
static void obj_delete(prof_obj_t *o) {
	size_t mask = prof_g.objs_cap - 1, i = (size_t)(o - prof_g.objs), j = i;
	for (;;) {
		j = (j + 1) & mask;
		if (prof_g.objs[j].addr == 0)
			break;
		size_t home = hash_addr(prof_g.objs[j].addr) & mask;
		/* Move j into the hole at i unless its home lies in (i, j]. */
		if ((j > i && (home <= i || home > j)) || (j < i && home <= i && home > j)) {
			prof_g.objs[i] = prof_g.objs[j];
			i = j;
		}
	}
	memset(&prof_g.objs[i], 0, sizeof(prof_g.objs[i]));
	prof_g.nobjs--;
}

static void stack_count(prof_stack_t *s, uint64_t size, bool add) {
	prof_cnt_t *c = &s->live[prof_bucket(size, prof_g.lg_sample)];
	if (add) {
		c->n++;
		c->bytes += size;
		c = &s->accum[prof_bucket(size, prof_g.lg_sample)];
		c->n++;
		c->bytes += size;
	} else {
		c->n--;
		c->bytes -= size;
	}
}

/* ---- sampled allocation and free ----------------------------------------- */

void *xa_prof_alloc(xa_tsd_t *t, size_t usize, unsigned cls, size_t align, bool zero) {
	uint64_t t0 = xa_now_ns();
	t->in_prof = 1;
	/* The next point first, so allocations made below see a valid one.
	 * next_event goes back to the GC point (or the new sampling point):
	 * a sample does not run the cache GC. */
	t->prof_next = t->allocated + usize + draw_interval(t);
	t->next_event = XA_MIN(t->prof_gc_next, t->prof_next);
	void *p;
	if (cls < SC_NSMALL) {
		p = pslab_alloc(t->arena, cls, zero);
	} else if (cls != SC_HUGE) {
		p = xa_arena_malloc_large(t->arena, usize, align, zero);
		if (p) {
			xa_chunk_t *c = xa_pagemap_lookup((uintptr_t)p);
			size_t pg = ((uintptr_t)p - c->addr) >> LG_PAGE;
			xa_chunk_run(c, pg)->sampled = 1;
			c->pclass[pg] = PCLASS_SAMPLED;
		}
	} else {
		p = xa_huge_malloc(usize, align, zero);
		if (p)
			xa_pagemap_lookup((uintptr_t)p)->sampled = 1;
	}
	if (p == NULL) {
		t->in_prof = 0;
		return NULL;
	}
	uintptr_t frames[PROF_NFRAMES];
	unsigned nf = backtrace_capture(frames, PROF_NFRAMES);
	uint64_t now = t0;
	xa_mutex_lock(&prof_g.lock);
	prof_stack_t *s = stack_intern(frames, nf);
	if (s && ((prof_g.nobjs + 1) * 4 <= prof_g.objs_cap * 3 || !objs_grow())) {
		size_t mask = prof_g.objs_cap - 1, j = hash_addr((uintptr_t)p) & mask;
		while (prof_g.objs[j].addr)
			j = (j + 1) & mask;
		prof_g.objs[j] = (prof_obj_t){(uintptr_t)p, s, usize, now, (uint32_t)t->tid};
		prof_g.nobjs++;
		prof_g.nsamples++;
		stack_count(s, usize, true);
	}
	xa_mutex_unlock(&prof_g.lock);
	t->in_prof = 0;
	atomic_fetch_add_explicit(&prof_time_ns, xa_now_ns() - t0, memory_order_relaxed);
	return p;
}

static void obj_forget(void *ptr) {
	xa_mutex_lock(&prof_g.lock);
	prof_obj_t *o = obj_find((uintptr_t)ptr);
	if (o) {
		stack_count(o->stack, o->size, false);
		obj_delete(o);
	}
	xa_mutex_unlock(&prof_g.lock);
}

void xa_prof_free_sampled(xa_chunk_t *c, xa_run_t *r, void *ptr, size_t usize) {
	uint64_t t0 = xa_now_ns();
	obj_forget(ptr); /* absent after prof.reset: nothing to do */
	if (r == NULL) {
		c->sampled = 0;
	} else if (r->kind == RUN_SLAB) {
		pslab_free(c, r, ptr);
	} else {
		r->sampled = 0;
		xa_arena_free_large(c, r);
	}
	atomic_fetch_add_explicit(&prof_time_ns, xa_now_ns() - t0, memory_order_relaxed);
}

void xa_prof_moved(void *old, void *ptr, size_t usize) {
	xa_mutex_lock(&prof_g.lock);
	prof_obj_t *o = obj_find((uintptr_t)old);
	if (o) {
		prof_obj_t copy = *o;
		stack_count(copy.stack, copy.size, false);
		obj_delete(o);
		/* the moved object keeps its stack and time; no new sample */
		copy.addr = (uintptr_t)ptr;
		copy.size = usize;
		size_t mask = prof_g.objs_cap - 1, j = hash_addr(copy.addr) & mask;
		while (prof_g.objs[j].addr)
			j = (j + 1) & mask;
		prof_g.objs[j] = copy;
		prof_g.nobjs++;
		prof_cnt_t *lc = &copy.stack->live[prof_bucket(usize, prof_g.lg_sample)];
		lc->n++;
		lc->bytes += usize;
	}
	xa_mutex_unlock(&prof_g.lock);
}

void xa_prof_resized(xa_chunk_t *c, xa_run_t *r, size_t usize) {
	c->pclass[(r->addr - c->addr) >> LG_PAGE] = PCLASS_SAMPLED;
	xa_prof_moved((void *)r->addr, (void *)r->addr, usize);
}

/* ---- controls ------------------------------------------------------------ */

bool xa_prof_active_get(void) { return config_prof && atomic_load(&prof_active); }

int xa_prof_active_set(bool on) {
	if (!config_prof)
		return on ? ENOENT : 0;
	if (atomic_exchange(&prof_active, on) != on)
		prof_bump_epoch();
	return 0;
}

bool xa_prof_thread_active_get(void) { return config_prof && !xa_tsd_tls.prof_off; }

int xa_prof_thread_active_set(bool on) {
	if (!config_prof)
		return on ? ENOENT : 0;
	xa_tsd_t *t = xa_tsd_boot();
	t->prof_off = !on;
	if (t->state == TSD_NOMINAL) {
		t->prof_epoch = 0; /* resync at the next allocation */
		t->next_event = t->allocated;
	}
	return 0;
}

unsigned xa_prof_lg_sample_get(void) { return atomic_load(&prof_lg_sample); }

uint64_t xa_prof_interval_get(void) {
	return xa_opt.lg_prof_interval >= 0 ? (uint64_t)1 << xa_opt.lg_prof_interval : 0;
}

bool xa_prof_gdump_get(void) { return atomic_load(&prof_gdump); }

int xa_prof_gdump_set(bool on) {
	if (!config_prof)
		return on ? ENOENT : 0;
	atomic_store(&prof_gdump, on);
	return 0;
}

int xa_prof_reset(int lg) {
	if (!config_prof)
		return ENOENT;
	if (lg >= 0 && !xa_opt_accepts(XA_OPTI_lg_prof_sample, lg))
		return EINVAL;
	xa_mutex_lock(&prof_g.lock);
	for (size_t i = 0; i < prof_g.stacks_cap; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s) {
			memset(s->live, 0, sizeof(s->live));
			memset(s->accum, 0, sizeof(s->accum));
		}
	}
	if (prof_g.objs)
		memset(prof_g.objs, 0, prof_g.objs_cap * sizeof(*prof_g.objs));
	prof_g.nobjs = 0;
	prof_g.nsamples = 0;
	if (lg >= 0) {
		prof_g.lg_sample = (unsigned)lg;
		atomic_store(&prof_lg_sample, (unsigned)lg);
	}
	xa_mutex_unlock(&prof_g.lock);
	prof_bump_epoch();
	return 0;
}

void xa_prof_stats(xa_prof_stats_t *st) {
	memset(st, 0, sizeof(*st));
	if (!config_prof)
		return;
	xa_mutex_lock(&prof_g.lock);
	st->nsamples = prof_g.nsamples;
	st->nlive = prof_g.nobjs;
	st->nstacks = prof_g.nstacks;
	st->meta_bytes = prof_g.meta_bytes;
	st->ndumps = prof_g.ndumps;
	xa_mutex_unlock(&prof_g.lock);
	st->slab_bytes = atomic_load(&pslab_bytes);
	st->time_ns = atomic_load(&prof_time_ns);
}

/* ---- dumps on events and at exit ------------------------------------------ */

static void dump_auto(char kind) {
	char path[XA_OPT_STRLEN + 64];
	xa_tsd_t *t = &xa_tsd_tls;
	uint8_t was = t->in_prof;
	t->in_prof = 1;
	prof_dump_name(path, sizeof(path), kind);
	prof_dump_write(path);
	t->in_prof = was;
}

void xa_prof_dump_peak(void) {
	if (!config_prof || !atomic_load_explicit(&prof_active, memory_order_relaxed))
		return;
	dump_auto('p');
}

int xa_prof_dump(const char *path) {
	if (!config_prof)
		return ENOENT;
	char buf[XA_OPT_STRLEN + 64];
	if (path == NULL) {
		prof_dump_name(buf, sizeof(buf), 0);
		path = buf;
	}
	xa_tsd_t *t = &xa_tsd_tls;
	uint8_t was = t->in_prof;
	t->in_prof = 1;
	int r = prof_dump_write(path);
	t->in_prof = was;
	return r;
}

int xa_prof_dump_fd(int fd, bool pprof, unsigned seconds) {
	if (!config_prof || (!xa_opt.prof && prof_g.nsamples == 0))
		return ENOENT;
	xa_tsd_t *t = &xa_tsd_tls;
	uint8_t was = t->in_prof;
	t->in_prof = 1;
	int r = prof_dump_fd(fd, pprof, seconds);
	t->in_prof = was;
	return r;
}

void xa_prof_atexit(void) {
	/* (with prof:false, only if sampling was switched on at run time) */
	if (!config_prof || (!xa_opt.prof && prof_g.nsamples == 0))
		return;
	if (xa_opt.prof_final)
		dump_auto('f');
	if (xa_opt.prof_leak)
		prof_report(2, "prof_leak: sampled objects still live at exit", 20);
}

/* ---- fork ------------------------------------------------------------------ */

enum { PB_LOCK, PB_UNLOCK, PB_INIT };

/* Apply one operation to the lock of every profiled-slab bin. */
static void pbins_each(int op) {
	unsigned n = atomic_load(&xa_narenas_created);
	for (unsigned i = 0; i < n; i++) {
		pbin_t *p = pbins[i];
		for (unsigned j = 0; p && j < SC_NSMALL; j++) {
			if (op == PB_LOCK)
				xa_mutex_lock(&p[j].lock);
			else if (op == PB_UNLOCK)
				xa_mutex_unlock(&p[j].lock);
			else
				xa_mutex_init(&p[j].lock);
		}
	}
}

void xa_prof_prefork(void) {
	if (!config_prof)
		return;
	xa_mutex_lock(&prof_g.lock);
	xa_mutex_lock(&pbins_lock);
	pbins_each(PB_LOCK);
}

void xa_prof_postfork_parent(void) {
	if (!config_prof)
		return;
	pbins_each(PB_UNLOCK);
	xa_mutex_unlock(&pbins_lock);
	xa_mutex_unlock(&prof_g.lock);
}

void xa_prof_postfork_child(void) {
	if (!config_prof)
		return;
	pbins_each(PB_INIT);
	xa_mutex_init(&pbins_lock);
	xa_mutex_init(&prof_g.lock);
}
