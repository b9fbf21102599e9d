/*
 * c_cfrac -- cfrac pattern: bignum arithmetic where every intermediate
 * result is a fresh small heap block, freed soon after.
 *
 * Usage: c_cfrac [steps=20000] [numbers=6] [seed=1]
 *
 * For each of `numbers` odd composites N (about 100 bits, from the seed) it
 * expands sqrt(N) as a continued fraction for `steps` steps, the way the
 * continued-fraction factoring method walks it:
 *     P' = a Q - P,   Q' = (N - P'^2) / Q,   a' = (a0 + P') / Q'
 * and keeps the convergent numerator A = a A1 + A2 (mod N).  Each Q is
 * trial-divided by a small factor base.  Every step checks the identity
 * A1^2 == (-1)^i Q (mod N), so a corrupted block shows as a wrong number.
 * Numbers are immutable: each operation mallocs its result (8..40 bytes),
 * and operands are freed as soon as they are dead -- a long stream of
 * small, short-lived allocations of a few sizes.
 *
 * Prints "<smooth Q count> <checksum>".  A failed check exits with status 2.
 */
#include "c_common.h"

static const char *prog = "c_cfrac";

typedef struct {
	unsigned n;   /* limbs in use; 0 means zero */
	uint32_t d[]; /* little-endian 32-bit limbs */
} bn_t;

static bn_t *bn_new(unsigned cap) {
	bn_t *r = cmalloc(prog, sizeof(bn_t) + (cap ? cap : 1) * sizeof(uint32_t));
	r->n = 0;
	return r;
}

static void bn_trim(bn_t *r) {
	while (r->n && !r->d[r->n - 1])
		r->n--;
}

static bn_t *bn_u64(uint64_t v) {
	bn_t *r = bn_new(2);
	r->d[0] = (uint32_t)v;
	r->d[1] = (uint32_t)(v >> 32);
	r->n = 2;
	bn_trim(r);
	return r;
}

static bn_t *bn_copy(const bn_t *a) {
	bn_t *r = bn_new(a->n);
	r->n = a->n;
	memcpy(r->d, a->d, a->n * sizeof(uint32_t));
	return r;
}

static int bn_cmp(const bn_t *a, const bn_t *b) {
	if (a->n != b->n)
		return a->n < b->n ? -1 : 1;
	for (unsigned i = a->n; i-- > 0;)
		if (a->d[i] != b->d[i])
			return a->d[i] < b->d[i] ? -1 : 1;
	return 0;
}

static bn_t *bn_add(const bn_t *a, const bn_t *b) {
	unsigned n = a->n > b->n ? a->n : b->n;
	bn_t *r = bn_new(n + 1);
	uint64_t c = 0;
	for (unsigned i = 0; i < n; i++) {
		c += (uint64_t)(i < a->n ? a->d[i] : 0) + (i < b->n ? b->d[i] : 0);
		r->d[i] = (uint32_t)c;
		c >>= 32;
	}
	r->d[n] = (uint32_t)c;
	r->n = n + 1;
	bn_trim(r);
	return r;
}

/* a - b, requires a >= b */
static bn_t *bn_sub(const bn_t *a, const bn_t *b) {
	bn_t *r = bn_new(a->n);
	int64_t c = 0;
	for (unsigned i = 0; i < a->n; i++) {
		c += (int64_t)a->d[i] - (i < b->n ? b->d[i] : 0);
		r->d[i] = (uint32_t)c;
		c = c < 0 ? -1 : 0;
	}
	if (c)
		cfail(prog, "bn_sub underflow (corrupted number)");
	r->n = a->n;
	bn_trim(r);
	return r;
}

static bn_t *bn_mul(const bn_t *a, const bn_t *b) {
	bn_t *r = bn_new(a->n + b->n);
	memset(r->d, 0, (a->n + b->n) * sizeof(uint32_t));
	for (unsigned i = 0; i < a->n; i++) {
		uint64_t c = 0;
		for (unsigned j = 0; j < b->n; j++) {
			c += (uint64_t)a->d[i] * b->d[j] + r->d[i + j];
			r->d[i + j] = (uint32_t)c;
			c >>= 32;
		}
		r->d[i + b->n] = (uint32_t)c;
	}
	r->n = a->n + b->n;
	bn_trim(r);
	return r;
}

static unsigned bn_bits(const bn_t *a) {
	if (!a->n)
		return 0;
	unsigned b = 32 * (a->n - 1);
	for (uint32_t t = a->d[a->n - 1]; t; t >>= 1)
		b++;
	return b;
}

static bn_t *bn_shl(const bn_t *a, unsigned s) {
	unsigned w = s / 32, b = s % 32;
	bn_t *r = bn_new(a->n + w + 1);
	memset(r->d, 0, (a->n + w + 1) * sizeof(uint32_t));
	for (unsigned i = 0; i < a->n; i++) {
		uint64_t v = (uint64_t)a->d[i] << b;
		r->d[i + w] |= (uint32_t)v;
		r->d[i + w + 1] |= (uint32_t)(v >> 32);
	}
	r->n = a->n + w + 1;
	bn_trim(r);
	return r;
}

/* q = a / b, *rem = a % b (b != 0): shift-and-subtract, each partial
 * remainder a new block, as a naive bignum package would do it. */
static bn_t *bn_divmod(const bn_t *a, const bn_t *b, bn_t **rem) {
	if (!b->n)
		cfail(prog, "division by zero (corrupted number)");
	bn_t *r = bn_copy(a);
	unsigned qb = bn_bits(a) >= bn_bits(b) ? bn_bits(a) - bn_bits(b) + 1 : 0;
	bn_t *q = bn_new(qb / 32 + 1);
	memset(q->d, 0, (qb / 32 + 1) * sizeof(uint32_t));
	q->n = qb / 32 + 1;
	for (unsigned s = qb; s-- > 0;) {
		bn_t *t = bn_shl(b, s);
		if (bn_cmp(r, t) >= 0) {
			bn_t *r2 = bn_sub(r, t);
			free(r);
			r = r2;
			q->d[s / 32] |= 1u << (s % 32);
		}
		free(t);
	}
	bn_trim(q);
	if (rem)
		*rem = r;
	else
		free(r);
	return q;
}

static bn_t *bn_mod(const bn_t *a, const bn_t *m) {
	bn_t *r;
	free(bn_divmod(a, m, &r));
	return r;
}

/* a / d for a small d, remainder in *rem */
static bn_t *bn_div_small(const bn_t *a, uint32_t d, uint32_t *rem) {
	bn_t *q = bn_new(a->n);
	uint64_t r = 0;
	for (unsigned i = a->n; i-- > 0;) {
		r = (r << 32) | a->d[i];
		q->d[i] = (uint32_t)(r / d);
		r %= d;
	}
	q->n = a->n;
	bn_trim(q);
	*rem = (uint32_t)r;
	return q;
}

static bn_t *bn_isqrt(const bn_t *n) {
	/* Newton from above: x = (x + n/x) / 2 until it stops decreasing */
	bn_t *x = bn_new(1);
	x->n = 1;
	x->d[0] = 1;
	bn_t *t = bn_shl(x, (bn_bits(n) + 1) / 2 + 1);
	free(x);
	x = t;
	for (;;) {
		bn_t *q = bn_divmod(n, x, NULL);
		bn_t *s = bn_add(x, q);
		uint32_t rr;
		bn_t *y = bn_div_small(s, 2, &rr);
		free(q);
		free(s);
		if (bn_cmp(y, x) >= 0) {
			free(y);
			return x;
		}
		free(x);
		x = y;
	}
}

static uint64_t bn_hash(const bn_t *a, uint64_t h) {
	for (unsigned i = 0; i < a->n; i++)
		h = ctag(h, a->d[i]);
	return h;
}

static const uint32_t base[] = {2, 3, 5, 7, 11, 13, 17, 19, 23, 29, 31, 37, 41, 43, 47, 53, 59, 61, 67, 71, 73, 79, 83,
    89, 97};

/* Is q smooth over the factor base?  Divides it down, one block per step. */
static int smooth(const bn_t *q) {
	bn_t *x = bn_copy(q);
	for (unsigned k = 0; k < sizeof base / sizeof base[0]; k++) {
		for (;;) {
			uint32_t r;
			bn_t *y = bn_div_small(x, base[k], &r);
			if (r) {
				free(y);
				break;
			}
			free(x);
			x = y;
		}
	}
	int ok = x->n == 1 && x->d[0] == 1;
	free(x);
	return ok;
}

int main(int argc, char **argv) {
	const char *u = "[steps=20000] [numbers=6] [seed=1]";
	unsigned long long steps = c_arg(argc, argv, 1, 20000, u);
	unsigned long long numbers = c_arg(argc, argv, 2, 6, u);
	crng_t rng;
	crng_seed(&rng, c_arg(argc, argv, 3, 1, u));
	uint64_t sum = 0;
	unsigned long long nsmooth = 0;

	for (unsigned long long k = 0; k < numbers; k++) {
		/* N = p * q with two random odd ~50-bit factors (not a square) */
		bn_t *f1 = bn_u64((crng_next(&rng) >> 14) | 1 | (1ull << 49));
		bn_t *f2 = bn_u64((crng_next(&rng) >> 14) | 1 | (1ull << 48));
		bn_t *N = bn_mul(f1, f2);
		free(f1);
		free(f2);
		bn_t *a0 = bn_isqrt(N);
		bn_t *P = bn_u64(0), *Q = bn_u64(1), *a = bn_copy(a0);
		bn_t *A2 = bn_u64(1), *A1 = bn_mod(a0, N); /* A_{-1}, A_0 */
		{
			bn_t *sq = bn_mul(a0, a0);
			if (!bn_cmp(sq, N))
				cfail(prog, "N is a square");
			bn_t *Q1 = bn_sub(N, sq);
			free(sq);
			free(Q);
			Q = Q1; /* Q_1 = N - a0^2 */
			free(P);
			P = bn_copy(a0); /* P_1 = a0 */
			bn_t *s = bn_add(a0, P);
			free(a);
			a = bn_divmod(s, Q, NULL);
			free(s);
		}
		for (unsigned long long i = 1; i <= steps; i++) {
			/* identity: A_{i-1}^2 == (-1)^i Q_i (mod N) */
			bn_t *sq = bn_mul(A1, A1);
			bn_t *lhs = bn_mod(sq, N);
			free(sq);
			bn_t *qm = bn_mod(Q, N);
			bn_t *rhs = (i & 1) && qm->n ? bn_sub(N, qm) : bn_copy(qm);
			free(qm);
			if (bn_cmp(lhs, rhs))
				cfail(prog, "convergent identity failed (corrupted number)");
			free(lhs);
			free(rhs);
			if (smooth(Q))
				nsmooth++;
			sum = bn_hash(Q, sum);
			/* A_i = a_i A_{i-1} + A_{i-2} mod N */
			bn_t *t = bn_mul(a, A1);
			bn_t *t2 = bn_add(t, A2);
			free(t);
			free(A2);
			A2 = A1;
			A1 = bn_mod(t2, N);
			free(t2);
			/* P' = a Q - P ; Q' = (N - P'^2) / Q ; a' = (a0 + P') / Q' */
			bn_t *aq = bn_mul(a, Q);
			bn_t *P2 = bn_sub(aq, P);
			free(aq);
			free(P);
			P = P2;
			bn_t *pp = bn_mul(P, P);
			bn_t *num = bn_sub(N, pp);
			free(pp);
			bn_t *rem;
			bn_t *Q2 = bn_divmod(num, Q, &rem);
			free(num);
			if (rem->n)
				cfail(prog, "Q division not exact (corrupted number)");
			free(rem);
			free(Q);
			Q = Q2;
			bn_t *s = bn_add(a0, P);
			free(a);
			a = bn_divmod(s, Q, NULL);
			free(s);
		}
		free(N);
		free(a0);
		free(P);
		free(Q);
		free(a);
		free(A1);
		free(A2);
	}
	printf("%llu %016llx\n", nsmooth, (unsigned long long)sum);
	return 0;
}
