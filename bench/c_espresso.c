/*
 * c_espresso -- espresso pattern: two-level logic minimisation style set
 * manipulation, with many small cube blocks and covers grown by realloc.
 *
 * Usage: c_espresso [problems=80] [cubes=10] [seed=1]
 *
 * A cube over V boolean variables is a bit vector with two bits per
 * variable (01 = x', 10 = x, 11 = x absent); a cover is a list of cubes
 * (a sum of products).  For each of `problems` random covers F (V from 12
 * to 44, `cubes` cubes of 2..6 literals) the program computes the
 * complement of F with the unate recursive paradigm, as espresso does:
 * pick the most binate variable, cofactor F both ways (new covers, new
 * cubes), complement each half recursively, AND the halves with x and x'
 * and merge them, dropping cubes contained in others.  Then it
 * complements the complement again.  Every cube is its own malloc'd block
 * (4..12 bytes plus a header) and every cover's array grows with realloc,
 * so the program mixes many small short-lived blocks with realloc.
 *
 * Checks: 256 random minterms per problem must be in exactly one of F and
 * its complement, and in F iff in the double complement.  A failure exits
 * with status 2.  Prints "<total complement cubes> <checksum>".
 */
#include "c_common.h"

static const char *prog = "c_espresso";

static unsigned W;  /* 32-bit words per cube for the current problem */
static unsigned NV; /* variables in the current problem */

typedef uint32_t cube_t; /* a cube is a malloc'd cube_t[W] */

typedef struct {
	cube_t **c;
	size_t n, cap;
} cover_t;

static cube_t *cube_new(void) { return cmalloc(prog, W * sizeof(cube_t)); }

static cube_t *cube_universe(void) {
	cube_t *c = cube_new();
	for (unsigned w = 0; w < W; w++)
		c[w] = 0xFFFFFFFFu;
	if (NV % 16)
		c[W - 1] = (1u << (2 * (NV % 16))) - 1;
	return c;
}

static cube_t *cube_dup(const cube_t *a) {
	cube_t *c = cube_new();
	memcpy(c, a, W * sizeof(cube_t));
	return c;
}

static unsigned var_get(const cube_t *c, unsigned v) { return (c[v / 16] >> (2 * (v % 16))) & 3u; }

static void var_set(cube_t *c, unsigned v, unsigned val) {
	c[v / 16] = (c[v / 16] & ~(3u << (2 * (v % 16)))) | (val << (2 * (v % 16)));
}

static int cube_contains(const cube_t *a, const cube_t *b) {
	for (unsigned w = 0; w < W; w++)
		if ((a[w] & b[w]) != b[w])
			return 0;
	return 1;
}

static int cube_is_universe(const cube_t *c) {
	for (unsigned v = 0; v < NV; v++)
		if (var_get(c, v) != 3)
			return 0;
	return 1;
}

static void cover_init(cover_t *f) {
	f->c = NULL;
	f->n = f->cap = 0;
}

static void cover_add(cover_t *f, cube_t *c) {
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 4;
		cube_t **nc = realloc(f->c, cap * sizeof *nc);
		if (!nc)
			cfail(prog, "realloc returned NULL");
		f->c = nc;
		f->cap = cap;
	}
	f->c[f->n++] = c;
}

static void cover_free(cover_t *f) {
	for (size_t i = 0; i < f->n; i++)
		free(f->c[i]);
	free(f->c);
	cover_init(f);
}

/* Cofactor of f with respect to variable v taking value val (1 = x'
 * i.e. code 01, 2 = x i.e. code 10): new cover of new cubes. */
static cover_t cofactor(const cover_t *f, unsigned v, unsigned val) {
	cover_t r;
	cover_init(&r);
	for (size_t i = 0; i < f->n; i++) {
		if (!(var_get(f->c[i], v) & val))
			continue;
		cube_t *c = cube_dup(f->c[i]);
		var_set(c, v, 3);
		cover_add(&r, c);
	}
	return r;
}

/* Single-cube containment: drop every cube contained in another one. */
static void cover_scc(cover_t *f) {
	size_t k = 0;
	for (size_t i = 0; i < f->n; i++) {
		int dead = 0;
		for (size_t j = 0; j < f->n && !dead; j++) {
			if (j == i || !f->c[j])
				continue;
			if (cube_contains(f->c[j], f->c[i]) && (!cube_contains(f->c[i], f->c[j]) || j < i))
				dead = 1;
		}
		if (dead) {
			free(f->c[i]);
			f->c[i] = NULL;
		}
	}
	for (size_t i = 0; i < f->n; i++)
		if (f->c[i])
			f->c[k++] = f->c[i];
	f->n = k;
	if (k && k < f->cap / 4) { /* give back what a shrunken cover does not need */
		cube_t **nc = realloc(f->c, k * 2 * sizeof *nc);
		if (!nc)
			cfail(prog, "realloc returned NULL");
		f->c = nc;
		f->cap = k * 2;
	}
}

static cover_t complement(const cover_t *f) {
	cover_t r;
	cover_init(&r);
	if (f->n == 0) {
		cover_add(&r, cube_universe());
		return r;
	}
	for (size_t i = 0; i < f->n; i++)
		if (cube_is_universe(f->c[i]))
			return r;
	if (f->n == 1) { /* De Morgan: one cube per literal, negated */
		for (unsigned v = 0; v < NV; v++) {
			unsigned x = var_get(f->c[0], v);
			if (x == 3)
				continue;
			cube_t *c = cube_universe();
			var_set(c, v, x ^ 3);
			cover_add(&r, c);
		}
		return r;
	}
	/* most binate variable: most cubes depending on it, both phases */
	unsigned best = NV, bestn = 0;
	for (unsigned v = 0; v < NV; v++) {
		unsigned n0 = 0, n1 = 0;
		for (size_t i = 0; i < f->n; i++) {
			unsigned x = var_get(f->c[i], v);
			n0 += x == 1;
			n1 += x == 2;
		}
		unsigned score = (n0 + n1) * 2 + (n0 && n1);
		if (n0 + n1 && score > bestn) {
			bestn = score;
			best = v;
		}
	}
	if (best == NV)
		cfail(prog, "no splitting variable (corrupted cover)");
	for (unsigned val = 1; val <= 2; val++) {
		cover_t fx = cofactor(f, best, val);
		cover_t cx = complement(&fx);
		cover_free(&fx);
		for (size_t i = 0; i < cx.n; i++) {
			var_set(cx.c[i], best, val);
			cover_add(&r, cx.c[i]);
		}
		free(cx.c);
	}
	/* a cube present in both halves loses the literal (x a + x' a = a) */
	for (size_t i = 0; i < r.n; i++) {
		if (!r.c[i] || var_get(r.c[i], best) != 1)
			continue;
		for (size_t j = 0; j < r.n; j++) {
			if (!r.c[j] || var_get(r.c[j], best) != 2)
				continue;
			var_set(r.c[j], best, 1);
			int same = !memcmp(r.c[i], r.c[j], W * sizeof(cube_t));
			var_set(r.c[j], best, 2);
			if (same) {
				var_set(r.c[i], best, 3);
				free(r.c[j]);
				r.c[j] = NULL;
				break;
			}
		}
	}
	size_t k = 0;
	for (size_t i = 0; i < r.n; i++)
		if (r.c[i])
			r.c[k++] = r.c[i];
	r.n = k;
	cover_scc(&r);
	return r;
}

static int in_cover(const cover_t *f, const cube_t *m) {
	for (size_t i = 0; i < f->n; i++)
		if (cube_contains(f->c[i], m))
			return 1;
	return 0;
}

int main(int argc, char **argv) {
	const char *u = "[problems=80] [cubes=10] [seed=1]";
	unsigned long long problems = c_arg(argc, argv, 1, 80, u);
	unsigned long long ncubes = c_arg(argc, argv, 2, 10, u);
	crng_t rng;
	crng_seed(&rng, c_arg(argc, argv, 3, 1, u));
	uint64_t sum = 0, total = 0;

	for (unsigned long long p = 0; p < problems; p++) {
		NV = 12 + (unsigned)crng_below(&rng, 33);
		W = (NV + 15) / 16;
		cover_t f;
		cover_init(&f);
		for (unsigned long long i = 0; i < ncubes; i++) {
			cube_t *c = cube_universe();
			unsigned lits = 2 + (unsigned)crng_below(&rng, 5);
			for (unsigned l = 0; l < lits; l++)
				var_set(c, (unsigned)crng_below(&rng, NV), 1 + (unsigned)crng_below(&rng, 2));
			cover_add(&f, c);
		}
		cover_t c1 = complement(&f);
		cover_t c2 = complement(&c1);
		total += c1.n;
		for (unsigned t = 0; t < 256; t++) {
			cube_t *m = cube_new();
			for (unsigned v = 0; v < NV; v++)
				var_set(m, v, 1 + (unsigned)crng_below(&rng, 2));
			if (NV % 16)
				m[W - 1] &= (1u << (2 * (NV % 16))) - 1;
			int a = in_cover(&f, m), b = in_cover(&c1, m), c = in_cover(&c2, m);
			if (a == b || a != c)
				cfail(prog, "complement is wrong (corrupted cube or cover)");
			sum = ctag(sum, (uint64_t)a);
			free(m);
		}
		sum = ctag(sum, c1.n * 1000003u + c2.n);
		cover_free(&f);
		cover_free(&c1);
		cover_free(&c2);
	}
	printf("%llu %016llx\n", (unsigned long long)total, (unsigned long long)sum);
	return 0;
}
