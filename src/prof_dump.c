/*
 * prof_dump.c -- heap profile files and the built-in report.
 *
 * File formats: prof_format:pprof gives profile.proto (prof_pprof.c); the
 * default, legacy, the pprof heap profile text as gperftools' heap
 * profiler writes it, so google-pprof and jeprof read it unchanged:
 *
 *   heap profile: <live n>: <live bytes> [<total n>: <total bytes>] @ heap_v2/<T>
 *   <n>: <bytes> [<n>: <bytes>] @ 0x<return address> ...   (innermost first)
 *   # <comment: estimated live bytes of the site, by age>
 *   ...
 *   MAPPED_LIBRARIES:
 *   <a copy of /proc/self/maps>
 *
 * Counts are raw samples ("live": sampled objects not freed; "total":
 * every sample since start or prof.reset); "heap_v2/T" tells pprof that
 * they come from Poisson sampling with mean interval T bytes, and pprof
 * multiplies each line by 1 / (1 - exp(-avg/T)), avg = bytes / n of the
 * line.  A site has one line per size bucket (prof.h) so that avg is
 * representative; pprof adds lines with the same stack.  Lines starting
 * with '#' are ignored by both tools: they carry the age breakdown.
 *
 * No malloc: lines go through the buffered writer of util.c (a stack
 * buffer, xa_fd_sink) to a file or, for the http endpoint, to an
 * in-memory file (never a socket: see http.c).
 *
 * Locking: prof_g.lock is held while the tables are walked, never while
 * symbolising (dladdr takes the loader lock, which a thread sampling inside
 * dlopen holds before it takes ours) nor while copying the memory map
 * (xa_os_copy_maps).
 */
#include "internal.h"
#include "prof.h"

#include <dlfcn.h>
#include <unistd.h>

static const uint64_t age_limit_s[PROF_NAGE - 1] = {1, 10, 60, 600};
static const char *const age_name[PROF_NAGE] = {"<1s", "1-10s", "10-60s", "1-10min", ">10min"};

/* Fill every stack's estimate and age scratch from the live objects. */
void prof_estimate_locked(uint64_t now) {
	double T = (double)((uint64_t)1 << prof_g.lg_sample);
	for (size_t i = 0; i < prof_g.stacks_cap; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s) {
			s->est_bytes = s->est_n = 0;
			memset(s->age_bytes, 0, sizeof(s->age_bytes));
		}
	}
	for (size_t i = 0; i < prof_g.objs_cap; i++) {
		prof_obj_t *o = &prof_g.objs[i];
		if (o->addr == 0)
			continue;
		/* Each sample stands for 1/p(s) objects of its size. */
		double w = 1.0 / xa_prof_one_minus_exp_neg((double)o->size / T);
		prof_stack_t *s = o->stack;
		s->est_bytes += w * (double)o->size;
		s->est_n += w;
		uint64_t age = now > o->time_ns ? (now - o->time_ns) / 1000000000u : 0;
		unsigned b = 0;
		while (b < PROF_NAGE - 1 && age >= age_limit_s[b])
			b++;
		s->age_bytes[b] += w * (double)o->size;
		s->last_tid = o->tid;
	}
}

void prof_dump_name(char *buf, size_t n, char kind) {
	uint64_t seq = __atomic_fetch_add(&prof_g.seq, 1, __ATOMIC_RELAXED);
	int pid = (int)getpid();
	char pre[XA_OPT_STRLEN + 32];
	xa_report_expand_prefix(pre, sizeof(pre));
	if (kind == 'i')
		xa_snprintf(buf, n, "%s.%d.%llu.i%llu.heap", pre, pid, (unsigned long long)seq,
		    (unsigned long long)__atomic_fetch_add(&prof_g.iseq, 1, __ATOMIC_RELAXED));
	else if (kind == 'u')
		xa_snprintf(buf, n, "%s.%d.%llu.u%llu.heap", pre, pid, (unsigned long long)seq,
		    (unsigned long long)__atomic_fetch_add(&prof_g.useq, 1, __ATOMIC_RELAXED));
	else if (kind == 'p')
		xa_snprintf(buf, n, "%s.%d.%llu.p%llu.heap", pre, pid, (unsigned long long)seq,
		    (unsigned long long)__atomic_fetch_add(&prof_g.pseq, 1, __ATOMIC_RELAXED));
	else if (kind == 'f')
		xa_snprintf(buf, n, "%s.%d.%llu.f.heap", pre, pid, (unsigned long long)seq);
	else
		xa_snprintf(buf, n, "%s.%d.%llu.heap", pre, pid, (unsigned long long)seq);
	/* profile.proto files: <name>.heap.pb */
	if (xa_opt.prof_format == XA_PROF_FORMAT_PPROF) {
		size_t l = strlen(buf);
		if (l + 4 <= n)
			memcpy(buf + l, ".pb", 4);
	}
}

static _Atomic bool dump_error_reported;

static void dump_error(const char *path, bool creating, int err) {
	char eb[24];
	if (!atomic_exchange(&dump_error_reported, true))
		xa_message("heap profile %s: cannot %s: %s; profiling continues", path, creating ? "create" : "write",
		    xa_strerror(err, eb, sizeof(eb)));
}

/* The legacy text profile to fd.  Returns true on a write error. */
static bool dump_legacy_fd(int fd) {
	xa_fd_sink_t out = {.fd = fd};
	xa_writer_t w = {.sink = xa_fd_sink, .opaque = &out};
	xa_mutex_lock(&prof_g.lock);
	prof_estimate_locked(xa_now_ns());
	prof_cnt_t live = {0, 0}, acc = {0, 0};
	for (size_t i = 0; i < prof_g.stacks_cap; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s == NULL)
			continue;
		for (unsigned b = 0; b < PROF_NSB; b++) {
			live.n += s->live[b].n;
			live.bytes += s->live[b].bytes;
			acc.n += s->accum[b].n;
			acc.bytes += s->accum[b].bytes;
		}
	}
	xa_wprintf(&w, "heap profile: %llu: %llu [%llu: %llu] @ heap_v2/%llu\n", (unsigned long long)live.n,
	    (unsigned long long)live.bytes, (unsigned long long)acc.n, (unsigned long long)acc.bytes,
	    (unsigned long long)1 << prof_g.lg_sample);
	for (size_t i = 0; i < prof_g.stacks_cap && !out.err; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s == NULL)
			continue;
		bool any = false;
		for (unsigned b = 0; b < PROF_NSB; b++) {
			if (s->live[b].n == 0 && s->accum[b].n == 0)
				continue;
			any = true;
			xa_wprintf(&w, "%llu: %llu [%llu: %llu] @", (unsigned long long)s->live[b].n,
			    (unsigned long long)s->live[b].bytes, (unsigned long long)s->accum[b].n,
			    (unsigned long long)s->accum[b].bytes);
			for (unsigned f = 0; f < s->nframes; f++)
				xa_wprintf(&w, " 0x%lx", (unsigned long)s->frames[f]);
			xa_wprintf(&w, "\n");
		}
		if (any && s->est_n > 0) {
			xa_wprintf(&w, "# site %u: est. live %llu bytes in %llu objects; by age:", s->id,
			    (unsigned long long)s->est_bytes, (unsigned long long)s->est_n);
			for (unsigned a = 0; a < PROF_NAGE; a++)
				xa_wprintf(&w, " %s %llu", age_name[a], (unsigned long long)s->age_bytes[a]);
			xa_wprintf(&w, "; newest sample from thread %u\n", s->last_tid);
		}
	}
	prof_g.ndumps++;
	xa_mutex_unlock(&prof_g.lock);
	xa_wprintf(&w, "\nMAPPED_LIBRARIES:\n");
	xa_wflush(&w);
	if (!out.err && xa_os_copy_maps(fd))
		out.err = true;
	return out.err;
}

int prof_dump_fd(int fd, bool pprof, unsigned seconds) {
	uint64_t t0 = xa_now_ns();
	errno = 0;
	bool err = pprof ? prof_pprof_write(fd, seconds) : dump_legacy_fd(fd);
	atomic_fetch_add_explicit(&prof_time_ns, xa_now_ns() - t0, memory_order_relaxed);
	return err ? (errno ? errno : EIO) : 0;
}

int prof_dump_write(const char *path) {
	int fd = xa_os_create_file(path);
	if (fd < 0) {
		int e = errno;
		dump_error(path, true, e);
		return e ? e : EIO;
	}
	int e = prof_dump_fd(fd, xa_opt.prof_format == XA_PROF_FORMAT_PPROF, 0);
	if (close(fd) != 0 && !e)
		e = errno ? errno : EIO;
	if (e)
		dump_error(path, false, e);
	return e;
}

/* ---- the built-in report --------------------------------------------------- */

#define REPORT_TOP_MAX 20
#define REPORT_FRAMES 6

typedef struct {
	double est_bytes, est_n;
	double age_bytes[PROF_NAGE];
	unsigned nframes;
	uintptr_t frames[REPORT_FRAMES];
} site_t;

static void symbolise(uintptr_t ip, char *buf, size_t n) {
	Dl_info info;
	/* a return address: look up the call instruction before it */
	if (dladdr((void *)(ip - 1), &info) && info.dli_fname) {
		const char *mod = info.dli_fname, *sl = strrchr(mod, '/');
		if (sl)
			mod = sl + 1;
		if (info.dli_sname && info.dli_saddr)
			xa_snprintf(buf, n, "%s+0x%lx (%s)", info.dli_sname,
			    (unsigned long)(ip - (uintptr_t)info.dli_saddr), mod);
		else
			xa_snprintf(buf, n, "%s+0x%lx", mod[0] ? mod : "?",
			    (unsigned long)(ip - (uintptr_t)info.dli_fbase));
		return;
	}
	xa_snprintf(buf, n, "0x%lx", (unsigned long)ip);
}

void prof_report(int fd, const char *title, unsigned top) {
	site_t sites[REPORT_TOP_MAX];
	unsigned nsites = 0, nstacks_live = 0;
	double tot_bytes = 0, tot_n = 0;
	if (top > REPORT_TOP_MAX)
		top = REPORT_TOP_MAX;
	xa_mutex_lock(&prof_g.lock);
	prof_estimate_locked(xa_now_ns());
	uint64_t nobjs = prof_g.nobjs;
	unsigned lg = prof_g.lg_sample;
	for (size_t i = 0; i < prof_g.stacks_cap; i++) {
		prof_stack_t *s = prof_g.stacks[i];
		if (s == NULL || s->est_n == 0)
			continue;
		nstacks_live++;
		tot_bytes += s->est_bytes;
		tot_n += s->est_n;
		/* insertion into the top list, largest first */
		unsigned pos = nsites;
		while (pos > 0 && sites[pos - 1].est_bytes < s->est_bytes)
			pos--;
		if (pos >= top)
			continue;
		if (nsites < top)
			nsites++;
		memmove(&sites[pos + 1], &sites[pos], (nsites - 1 - pos) * sizeof(site_t));
		site_t *d = &sites[pos];
		d->est_bytes = s->est_bytes;
		d->est_n = s->est_n;
		memcpy(d->age_bytes, s->age_bytes, sizeof(d->age_bytes));
		d->nframes = XA_MIN(s->nframes, (uint32_t)REPORT_FRAMES);
		memcpy(d->frames, s->frames, d->nframes * sizeof(uintptr_t));
	}
	xa_mutex_unlock(&prof_g.lock);

	xa_fd_sink_t out = {.fd = fd};
	xa_writer_t w = {.sink = xa_fd_sink, .opaque = &out};
	char b1[32], b2[32];
	xa_wprintf(&w, "xalloc: %s: %llu samples, est. %s in %llu objects at %u sites (lg_prof_sample %u)\n", title,
	    (unsigned long long)nobjs, xa_fmt_bytes(b1, sizeof(b1), (uint64_t)tot_bytes),
	    (unsigned long long)tot_n, nstacks_live, lg);
	for (unsigned i = 0; i < nsites && !out.err; i++) {
		site_t *s = &sites[i];
		unsigned pct10 = tot_bytes > 0 ? (unsigned)(s->est_bytes * 1000 / tot_bytes + 0.5) : 0;
		xa_wprintf(&w, "xalloc:   #%u est. %s (%u.%u%%) in %llu objects; by age:", i + 1,
		    xa_fmt_bytes(b1, sizeof(b1), (uint64_t)s->est_bytes), pct10 / 10, pct10 % 10,
		    (unsigned long long)(s->est_n + 0.5));
		for (unsigned a = 0; a < PROF_NAGE; a++)
			if (s->age_bytes[a] >= 1)
				xa_wprintf(&w, " %s %s", age_name[a], xa_fmt_bytes(b2, sizeof(b2), (uint64_t)s->age_bytes[a]));
		xa_wprintf(&w, "\n");
		xa_wflush(&w); /* symbolising takes the loader lock: no lock of ours held */
		xa_wprintf(&w, "xalloc:      at");
		for (unsigned f = 0; f < s->nframes; f++) {
			char sym[256];
			symbolise(s->frames[f], sym, sizeof(sym));
			xa_wprintf(&w, "%s %s", f ? " <-" : "", sym);
		}
		xa_wprintf(&w, "\n");
	}
	xa_wflush(&w);
}
