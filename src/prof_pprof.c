/*
 * prof_pprof.c -- the heap profile in pprof's protobuf format
 * (profile.proto of github.com/google/pprof), the format `go tool pprof`
 * reads natively, with function names in it so that no binary is needed.
 *
 * Owns: the encoder only; the data comes from the profiler's tables
 * (prof.h) through a snapshot.
 *
 * The wire format used here is small: a message is a sequence of fields,
 * each a key varint (field number << 3 | wire type) followed by a varint
 * (type 0) or a length varint and that many bytes (type 2: strings, nested
 * messages, packed repeated numbers).  The top-level Profile message has
 * no length prefix, so it is written as a stream, field after field, and
 * repeated fields may interleave: a string is appended to string_table
 * (field 6) the first time it is needed, and its index is its rank among
 * the field-6 entries (index 0 is the empty string).  Nested messages are
 * small (a Sample holds at most PROF_NFRAMES location ids) and are built in
 * a stack buffer before their length is written.
 *
 * What is written (field numbers from profile.proto):
 *   Profile   1 sample_type: ValueType{1 type, 2 unit} x2: inuse_objects/
 *               count, inuse_space/bytes;  2 sample;  3 mapping;
 *             4 location;  5 function;  6 string_table;  9 time_nanos;
 *             11 period_type {space, bytes};  12 period (2^lg_sample);
 *             14 default_sample_type (inuse_space); 10 duration_nanos
 *               for a delta profile
 *   Sample    1 location_id (packed, innermost first), 2 value (packed):
 *               the unbiased estimates of live objects and bytes of one
 *               call stack (prof.c: each sample of s bytes stands for
 *               1/p(s) objects), so pprof shows them unscaled
 *   Location  1 id, 2 mapping_id, 3 address (the return address), 4 line:
 *               Line{1 function_id}
 *   Function  1 id, 2 name, 3 system_name, 4 filename (the module)
 *   Mapping   1 id, 2 memory_start (the module's load address), 3
 *               memory_limit (past its highest sampled address), 5 filename,
 *               7 has_functions (so pprof does not try to symbolise)
 * A delta profile (seconds > 0, the endpoint's ?seconds=N) holds, per
 * stack, the change of the estimates over that time (negative where live
 * bytes went down): two snapshots of every stack, N seconds apart, keyed
 * by the stack record, which is never freed.
 * Names come from dladdr (the dynamic symbols), else from the .symtab
 * section of the module's file (static functions of a program that is not
 * stripped), else "module+0xoffset"; every Mapping has has_functions, so
 * pprof never asks for symbols (go tool pprof would POST to
 * /debug/pprof/symbol, which the endpoint does not serve).
 *
 * Locking and memory: prof_g.lock is held only while the live stacks are
 * copied into a snapshot (anonymous mappings from the os layer); it is
 * dropped before dladdr (the loader lock comes first, see prof_dump.c) and
 * before anything is written.  Every table here is an os mapping, unmapped
 * at the end: nothing comes from malloc.
 */
#include "internal.h"
#include "prof.h"

#include <dlfcn.h>
#include <elf.h>
#include <time.h>
#include <unistd.h>

/* ---- growable buffers in anonymous mappings ------------------------------ */

typedef struct {
	uint8_t *p;
	size_t len, cap;
} gbuf_t;

/* Room for need more bytes; true on error. */
static bool g_reserve(gbuf_t *g, size_t need) {
	if (g->len + need <= g->cap)
		return false;
	size_t cap = XA_MAX(g->cap * 2, PAGE_CEIL(g->len + need));
	void *p = g->cap ? xa_os_remap(g->p, g->cap, cap, PAGE) : xa_os_map(cap, PAGE);
	if (p == NULL)
		return true;
	g->p = p;
	g->cap = cap;
	return false;
}

static void g_free(gbuf_t *g) {
	if (g->cap)
		xa_os_unmap(g->p, g->cap);
	g->p = NULL;
	g->len = g->cap = 0;
}

/* ---- the output stream and the message builder --------------------------- */

typedef struct {
	int fd;
	bool err;
	size_t len;
	uint8_t buf[8192];
} out_t;

static void out_flush(out_t *o) {
	size_t off = 0;
	while (off < o->len && !o->err) {
		ssize_t r = write(o->fd, o->buf + off, o->len - off);
		if (r < 0 && errno == EINTR)
			continue;
		if (r <= 0)
			o->err = true;
		else
			off += (size_t)r;
	}
	o->len = 0;
}

static void out_bytes(out_t *o, const void *p, size_t n) {
	const uint8_t *b = p;
	while (n && !o->err) {
		if (o->len == sizeof(o->buf))
			out_flush(o);
		size_t k = XA_MIN(n, sizeof(o->buf) - o->len);
		memcpy(o->buf + o->len, b, k);
		o->len += k;
		b += k;
		n -= k;
	}
}

/* A nested message being built (a stack buffer; too small = dropped). */
typedef struct {
	size_t len;
	bool over;
	uint8_t b[PROF_NFRAMES * 10 + 128];
} msg_t;

static size_t varint(uint8_t *d, uint64_t v) {
	size_t n = 0;
	while (v >= 0x80) {
		d[n++] = (uint8_t)(v | 0x80);
		v >>= 7;
	}
	d[n++] = (uint8_t)v;
	return n;
}

static void m_raw(msg_t *m, const void *p, size_t n) {
	if (m->over || m->len + n > sizeof(m->b)) {
		m->over = true;
		return;
	}
	memcpy(m->b + m->len, p, n);
	m->len += n;
}

static void m_varint(msg_t *m, uint64_t v) {
	uint8_t d[10];
	m_raw(m, d, varint(d, v));
}

/* field of wire type 0 (int64, uint64, bool) */
static void m_num(msg_t *m, unsigned field, uint64_t v) {
	m_varint(m, (uint64_t)field << 3);
	m_varint(m, v);
}

/* field of wire type 2 from bytes */
static void m_len(msg_t *m, unsigned field, const void *p, size_t n) {
	m_varint(m, (uint64_t)field << 3 | 2);
	m_varint(m, n);
	m_raw(m, p, n);
}

/* A top-level field of wire type 2 (a string or a built message). */
static void out_field(out_t *o, unsigned field, const void *p, size_t n) {
	uint8_t d[20];
	size_t k = varint(d, (uint64_t)field << 3 | 2);
	k += varint(d + k, n);
	out_bytes(o, d, k);
	out_bytes(o, p, n);
}

static void out_num(out_t *o, unsigned field, uint64_t v) {
	uint8_t d[20];
	size_t k = varint(d, (uint64_t)field << 3);
	k += varint(d + k, v);
	out_bytes(o, d, k);
}

/* ---- the string table ------------------------------------------------------ */

/* Interned strings: an open-addressing table of (hash, offset of the copy
 * in arena, index) -- the copy keeps a name valid even if its module is
 * unloaded while the profile is written. */
typedef struct {
	uint64_t hash;
	uint32_t off, len;
	uint32_t index; /* in string_table; 0 = empty slot (index 0 is "") */
} str_slot_t;

typedef struct {
	out_t *out;
	gbuf_t slots, arena;
	size_t cap;   /* slots, a power of two */
	uint32_t n;   /* strings written, "" included */
	bool err;
} strtab_t;

static uint64_t str_hash(const char *s, size_t n) {
	uint64_t h = 1469598103934665603ull; /* FNV-1a */
	for (size_t i = 0; i < n; i++)
		h = (h ^ (uint8_t)s[i]) * 1099511628211ull;
	return h;
}

static bool strtab_grow(strtab_t *t) {
	size_t ncap = t->cap ? t->cap * 2 : 256;
	gbuf_t ns = {0};
	if (g_reserve(&ns, ncap * sizeof(str_slot_t)))
		return true;
	str_slot_t *o = (str_slot_t *)t->slots.p, *d = (str_slot_t *)ns.p;
	for (size_t i = 0; i < t->cap; i++) {
		if (o[i].index == 0)
			continue;
		size_t j = o[i].hash & (ncap - 1);
		while (d[j].index)
			j = (j + 1) & (ncap - 1);
		d[j] = o[i];
	}
	g_free(&t->slots);
	t->slots = ns;
	t->cap = ncap;
	return false;
}

/* The index of s in the string table, writing it the first time. */
static uint32_t str_index(strtab_t *t, const char *s, size_t n) {
	if (n == 0)
		return 0;
	if (n > 4096)
		n = 4096;
	if (t->err || ((t->n + 1) * 2 > t->cap && strtab_grow(t))) {
		t->err = true;
		return 0;
	}
	uint64_t h = str_hash(s, n);
	str_slot_t *sl = (str_slot_t *)t->slots.p;
	size_t j = h & (t->cap - 1);
	for (; sl[j].index; j = (j + 1) & (t->cap - 1))
		if (sl[j].hash == h && sl[j].len == n && memcmp(t->arena.p + sl[j].off, s, n) == 0)
			return sl[j].index;
	if (g_reserve(&t->arena, n)) {
		t->err = true;
		return 0;
	}
	memcpy(t->arena.p + t->arena.len, s, n);
	sl[j] = (str_slot_t){h, (uint32_t)t->arena.len, (uint32_t)n, t->n};
	t->arena.len += n;
	out_field(t->out, 6, s, n);
	return t->n++;
}

static uint32_t str_c(strtab_t *t, const char *s) { return str_index(t, s, strlen(s)); }

/* ---- the snapshot of the live stacks ------------------------------------- */

typedef struct {
	double n, bytes;    /* unbiased estimates */
	const void *key;    /* the stack record (never freed: an identity) */
	uint32_t nframes, pad;
	uintptr_t frames[]; /* innermost first */
} rec_t;

#define REC_SIZE(nf) (sizeof(rec_t) + (size_t)(nf) * sizeof(uintptr_t))

/* Copy every stack with live samples (all: every stack) into g; *nframes:
 * the frame total.  True on error (out of memory). */
static bool snapshot(gbuf_t *g, size_t *nframes, unsigned *lg, bool all) {
	for (;;) {
		size_t need = 0, have = g->cap;
		xa_mutex_lock(&prof_g.lock);
		prof_estimate_locked(xa_now_ns());
		*lg = prof_g.lg_sample;
		for (size_t i = 0; i < prof_g.stacks_cap; i++) {
			prof_stack_t *s = prof_g.stacks[i];
			if (s && (all || s->est_n > 0))
				need += REC_SIZE(s->nframes);
		}
		if (need <= have) {
			g->len = 0;
			*nframes = 0;
			for (size_t i = 0; i < prof_g.stacks_cap; i++) {
				prof_stack_t *s = prof_g.stacks[i];
				if (s == NULL || (!all && s->est_n <= 0))
					continue;
				rec_t *r = (rec_t *)(g->p + g->len);
				r->n = s->est_n;
				r->bytes = s->est_bytes;
				r->key = s;
				r->nframes = s->nframes;
				memcpy(r->frames, s->frames, s->nframes * sizeof(uintptr_t));
				g->len += REC_SIZE(s->nframes);
				*nframes += s->nframes;
			}
			prof_g.ndumps++;
			xa_mutex_unlock(&prof_g.lock);
			return false;
		}
		xa_mutex_unlock(&prof_g.lock);
		/* map outside the lock, with room for stacks added meanwhile */
		if (g_reserve(g, need + need / 4 + PAGE))
			return true;
	}
}

/* ---- locations, functions, mappings -------------------------------------- */

typedef struct {
	uintptr_t addr;
	uint32_t id; /* 0 = empty */
} loc_slot_t;

#define MAX_MAPPINGS 128

typedef struct {
	uintptr_t base, limit;
	uint32_t file;
	bool elf_tried;     /* its file was looked at for a symbol table */
	const uint8_t *elf; /* the file, mapped, or NULL */
	size_t elf_size;
} mapping_t;

/* The function containing address a of the module loaded at base, from
 * the .symtab section of its file (a program or library not stripped),
 * or NULL.  Every offset is checked against the file size: the file may
 * be anything. */
static const char *elf_lookup(const uint8_t *f, size_t n, uintptr_t base, uintptr_t a) {
	if (n < sizeof(Elf64_Ehdr) || memcmp(f, ELFMAG, SELFMAG) != 0 || f[EI_CLASS] != ELFCLASS64)
		return NULL;
	const Elf64_Ehdr *eh = (const void *)f;
	if (eh->e_shentsize != sizeof(Elf64_Shdr) || eh->e_shoff > n ||
	    eh->e_shnum > (n - eh->e_shoff) / sizeof(Elf64_Shdr))
		return NULL;
	const Elf64_Shdr *sh = (const void *)(f + eh->e_shoff);
	/* a position-independent module's symbols are relative to its base */
	uint64_t off = eh->e_type == ET_DYN ? a - base : a;
	for (unsigned i = 0; i < eh->e_shnum; i++) {
		if (sh[i].sh_type != SHT_SYMTAB || sh[i].sh_link >= eh->e_shnum)
			continue;
		const Elf64_Shdr *ss = &sh[i], *str = &sh[ss->sh_link];
		if (ss->sh_offset > n || ss->sh_size > n - ss->sh_offset || str->sh_offset > n ||
		    str->sh_size > n - str->sh_offset || ss->sh_entsize != sizeof(Elf64_Sym))
			return NULL;
		const Elf64_Sym *sym = (const void *)(f + ss->sh_offset);
		const char *strs = (const char *)(f + str->sh_offset);
		for (size_t k = 0; k < ss->sh_size / sizeof(Elf64_Sym); k++) {
			const Elf64_Sym *y = &sym[k];
			if (ELF64_ST_TYPE(y->st_info) != STT_FUNC || y->st_shndx == SHN_UNDEF || y->st_name >= str->sh_size)
				continue;
			if (off >= y->st_value && off - y->st_value < (y->st_size ? y->st_size : 1) &&
			    memchr(strs + y->st_name, 0, str->sh_size - y->st_name))
				return strs + y->st_name;
		}
	}
	return NULL;
}

static int64_t round_i64(double v) { return v < 0 ? -(int64_t)(-v + 0.5) : (int64_t)(v + 0.5); }

#define REC_NEXT(g, off) ((off) + REC_SIZE(((rec_t *)((g)->p + (off)))->nframes))

/* The delta profile: what each stack gained (or lost) over `seconds`.
 * Two snapshots of every stack, `seconds` apart, no lock held in between;
 * the second's values become the differences.  True on error. */
static bool snapshot_delta(gbuf_t *snap, size_t *nframes, unsigned *lg, unsigned seconds) {
	gbuf_t base = {0}, idx = {0};
	size_t bf;
	unsigned blg;
	bool err = true;
	if (snapshot(&base, &bf, &blg, true))
		return true;
	struct timespec ts = {(time_t)seconds, 0};
	while (nanosleep(&ts, &ts) != 0)
		;
	if (snapshot(snap, nframes, lg, true))
		goto out;
	/* index of the first snapshot: key -> offset + 1 */
	size_t nrec = 0, cap = 64;
	for (size_t off = 0; off < base.len; off = REC_NEXT(&base, off))
		nrec++;
	while (cap < nrec * 2)
		cap *= 2;
	if (g_reserve(&idx, cap * sizeof(loc_slot_t)))
		goto out;
	loc_slot_t *ix = (loc_slot_t *)idx.p;
	for (size_t off = 0; off < base.len; off = REC_NEXT(&base, off)) {
		uintptr_t k = (uintptr_t)((rec_t *)(base.p + off))->key;
		size_t j = (k * 0x9e3779b97f4a7c15ull >> 17) & (cap - 1);
		while (ix[j].id)
			j = (j + 1) & (cap - 1);
		ix[j] = (loc_slot_t){k, (uint32_t)off + 1};
	}
	for (size_t off = 0; off < snap->len; off = REC_NEXT(snap, off)) {
		rec_t *r = (rec_t *)(snap->p + off);
		uintptr_t k = (uintptr_t)r->key;
		size_t j = (k * 0x9e3779b97f4a7c15ull >> 17) & (cap - 1);
		while (ix[j].id && ix[j].addr != k)
			j = (j + 1) & (cap - 1);
		if (ix[j].id) {
			const rec_t *b = (const rec_t *)(base.p + ix[j].id - 1);
			r->n -= b->n;
			r->bytes -= b->bytes;
		}
	}
	err = false;
out:
	g_free(&base);
	g_free(&idx);
	return err;
}

bool prof_pprof_write(int fd, unsigned seconds) {
	gbuf_t snap = {0}, locs = {0}, addrs = {0}, fids = {0};
	out_t *o = NULL;
	gbuf_t og = {0};
	bool err = true;
	size_t nframes = 0;
	unsigned lg = 0;
	mapping_t maps[MAX_MAPPINGS];
	unsigned nmaps = 0;
	/* The output buffer is larger than a thread stack should carry. */
	if (g_reserve(&og, sizeof(out_t)))
		return true;
	o = (out_t *)og.p;
	o->fd = fd;
	strtab_t st = {.out = o, .n = 1};
	if (seconds ? snapshot_delta(&snap, &nframes, &lg, seconds) : snapshot(&snap, &nframes, &lg, false))
		goto done;

	/* location ids: one per distinct return address, in order of use */
	size_t lcap = 64;
	while (lcap < nframes * 2)
		lcap *= 2;
	if (g_reserve(&locs, lcap * sizeof(loc_slot_t)) || g_reserve(&addrs, (nframes + 1) * sizeof(uintptr_t)))
		goto done;
	loc_slot_t *ls = (loc_slot_t *)locs.p;
	uintptr_t *addr = (uintptr_t *)addrs.p;
	uint32_t nlocs = 0;

	out_field(o, 6, "", 0); /* string_table[0] */
	msg_t m;
	uint32_t s_objects = str_c(&st, "inuse_objects"), s_count = str_c(&st, "count");
	uint32_t s_space = str_c(&st, "inuse_space"), s_bytes = str_c(&st, "bytes");
	m.len = 0, m.over = false;
	m_num(&m, 1, s_objects);
	m_num(&m, 2, s_count);
	out_field(o, 1, m.b, m.len);
	m.len = 0;
	m_num(&m, 1, s_space);
	m_num(&m, 2, s_bytes);
	out_field(o, 1, m.b, m.len);

	for (size_t off = 0; off < snap.len; off = REC_NEXT(&snap, off)) {
		rec_t *r = (rec_t *)(snap.p + off);
		int64_t vn = round_i64(r->n), vb = round_i64(r->bytes);
		if (vn == 0 && vb == 0)
			continue; /* (a delta profile's unchanged stacks) */
		uint8_t ids[PROF_NFRAMES * 10];
		size_t il = 0;
		for (uint32_t f = 0; f < r->nframes && f < PROF_NFRAMES; f++) {
			uintptr_t a = r->frames[f];
			size_t j = (a * 0x9e3779b97f4a7c15ull >> 17) & (lcap - 1);
			while (ls[j].id && ls[j].addr != a)
				j = (j + 1) & (lcap - 1);
			if (ls[j].id == 0) {
				ls[j].addr = a;
				ls[j].id = ++nlocs;
				addr[nlocs - 1] = a;
			}
			il += varint(ids + il, ls[j].id);
		}
		uint8_t vals[24]; /* two varints, negative ones take 10 bytes */
		size_t vl = varint(vals, (uint64_t)vn);
		vl += varint(vals + vl, (uint64_t)vb);
		m.len = 0, m.over = false;
		m_len(&m, 1, ids, il);
		m_len(&m, 2, vals, vl);
		if (!m.over)
			out_field(o, 2, m.b, m.len);
	}
	g_free(&snap);
	g_free(&locs);

	/* Symbolise with no lock of ours held.  Function ids: by name (the
	 * string index), so that the sites of one function merge. */
	uint32_t nfuncs = 0;
	for (uint32_t i = 0; i < nlocs && !o->err && !st.err; i++) {
		uintptr_t a = addr[i];
		Dl_info info;
		const char *fname = NULL, *sname = NULL;
		uintptr_t base = 0;
		/* a return address: look up the call instruction before it */
		if (dladdr((void *)(a - 1), &info) && info.dli_fname) {
			/* the main program is named by its argv[0] */
			fname = info.dli_fname[0] == '/' ? info.dli_fname : "/proc/self/exe";
			base = (uintptr_t)info.dli_fbase;
			sname = info.dli_sname;
		}
		uint32_t s_file = fname ? str_c(&st, fname) : 0;
		mapping_t *mp = NULL;
		if (fname) {
			for (unsigned k = 0; k < nmaps && !mp; k++)
				if (maps[k].base == base)
					mp = &maps[k];
			if (mp == NULL && nmaps < MAX_MAPPINGS) {
				mp = &maps[nmaps++];
				*mp = (mapping_t){.base = base, .limit = a + 1, .file = s_file};
			}
			if (mp && mp->limit <= a)
				mp->limit = a + 1;
		}
		/* Not a dynamic symbol: the module's own symbol table, if it
		 * has one; else "module+0xoffset". */
		if ((sname == NULL || sname[0] == '\0') && mp) {
			if (!mp->elf_tried) {
				mp->elf_tried = true;
				mp->elf = xa_os_map_file(fname, &mp->elf_size);
			}
			if (mp->elf)
				sname = elf_lookup(mp->elf, mp->elf_size, base, a - 1);
		}
		char alt[96];
		if (sname == NULL || sname[0] == '\0') {
			const char *mod = fname ? strrchr(fname, '/') : NULL;
			mod = mod ? mod + 1 : "?";
			xa_snprintf(alt, sizeof(alt), "%.60s+0x%lx", mod, (unsigned long)(a - base));
			sname = alt;
		}
		uint32_t s_name = str_c(&st, sname);
		if (st.err)
			break;
		/* fids: function id by string index (grown as strings come) */
		if (g_reserve(&fids, ((size_t)s_name + 1) * sizeof(uint32_t)))
			goto done;
		uint32_t *fid = (uint32_t *)fids.p;
		if (fid[s_name] == 0) {
			fid[s_name] = ++nfuncs;
			m.len = 0, m.over = false;
			m_num(&m, 1, nfuncs);
			m_num(&m, 2, s_name);
			m_num(&m, 3, s_name);
			if (s_file)
				m_num(&m, 4, s_file);
			out_field(o, 5, m.b, m.len);
		}
		uint8_t line[12];
		size_t ll = 0;
		line[ll++] = 1 << 3; /* Line.function_id */
		ll += varint(line + ll, fid[s_name]);
		m.len = 0, m.over = false;
		m_num(&m, 1, i + 1);
		if (mp)
			m_num(&m, 2, (uint64_t)(mp - maps) + 1);
		m_num(&m, 3, a);
		m_len(&m, 4, line, ll);
		out_field(o, 4, m.b, m.len);
	}
	for (unsigned k = 0; k < nmaps; k++) {
		m.len = 0, m.over = false;
		m_num(&m, 1, k + 1);
		m_num(&m, 2, maps[k].base);
		m_num(&m, 3, maps[k].limit);
		m_num(&m, 4, 0);
		m_num(&m, 5, maps[k].file);
		m_num(&m, 7, 1);
		out_field(o, 3, m.b, m.len);
	}
	struct timespec ts;
	clock_gettime(CLOCK_REALTIME, &ts);
	out_num(o, 9, (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec);
	if (seconds)
		out_num(o, 10, (uint64_t)seconds * 1000000000u); /* duration_nanos */
	m.len = 0, m.over = false;
	m_num(&m, 1, str_c(&st, "space"));
	m_num(&m, 2, s_bytes);
	out_field(o, 11, m.b, m.len);
	out_num(o, 12, (uint64_t)1 << lg);
	out_num(o, 14, s_space);
	out_flush(o);
	err = o->err || st.err;
done:;
	int e = err ? (errno ? errno : ENOMEM) : 0;
	g_free(&snap);
	g_free(&locs);
	g_free(&addrs);
	g_free(&fids);
	g_free(&st.slots);
	g_free(&st.arena);
	g_free(&og);
	for (unsigned k = 0; k < nmaps; k++)
		if (maps[k].elf)
			xa_os_unmap((void *)maps[k].elf, maps[k].elf_size);
	errno = e;
	return err;
}
