/*
 * tree.h -- an intrusive ordered set (treap), for huge.c's cache of freed
 * mappings.
 *
 * Owns: nothing but the algorithm.  A node (xa_tnode_t) is embedded in its
 * owner (a chunk descriptor, which lives in base memory): inserting and
 * removing never allocate, so the tree may be used under any lock.
 *
 * Keys: a node's key is the pair (hi, lo), compared as unsigned integers,
 * hi first.  Keys in one tree must be distinct (huge.c puts the address in
 * lo or hi).  A node's key must not change while it is in a tree: remove
 * it, change the key, insert it again.
 *
 * Shape: a treap.  Every node has a priority, a bijective hash of its
 * address (no random state, nothing to seed, the same after fork), and the
 * tree is a binary search tree by key and a max-heap by priority; so its
 * shape is that of a search tree built by inserting in random order:
 * expected depth O(log n) (about 2.5 log2 n), whatever the order of the
 * insertions.  Insert, remove, ceil and floor are O(depth) and iterative
 * (no recursion, a fixed small stack).
 *
 * Locking: none; the owner's lock protects the tree.
 */
#ifndef XA_TREE_H
#define XA_TREE_H

#include <stddef.h>
#include <stdint.h>

typedef struct xa_tnode_s {
	struct xa_tnode_s *left, *right;
	uint64_t hi, lo; /* the key */
} xa_tnode_t;

typedef struct {
	xa_tnode_t *root;
	size_t n;
} xa_tree_t;

/* A bijective mix of the node's address (murmur3's finaliser). */
static inline uint64_t xa_tree_prio(const xa_tnode_t *n) {
	uint64_t x = (uint64_t)(uintptr_t)n;
	x ^= x >> 33;
	x *= 0xff51afd7ed558ccdULL;
	x ^= x >> 33;
	x *= 0xc4ceb9fe1a85ec53ULL;
	x ^= x >> 33;
	return x;
}

/* Key of n below (hi, lo)? */
static inline int xa_tree_below(const xa_tnode_t *n, uint64_t hi, uint64_t lo) {
	return n->hi < hi || (n->hi == hi && n->lo < lo);
}

/* Split t into the nodes below (hi, lo) (*l) and the others (*r). */
static inline void xa_tree_split(xa_tnode_t *t, uint64_t hi, uint64_t lo, xa_tnode_t **l, xa_tnode_t **r) {
	while (t) {
		if (xa_tree_below(t, hi, lo)) {
			*l = t;
			l = &t->right;
			t = t->right;
		} else {
			*r = t;
			r = &t->left;
			t = t->left;
		}
	}
	*l = *r = NULL;
}

/* Join a and b, every key of a below every key of b. */
static inline xa_tnode_t *xa_tree_join(xa_tnode_t *a, xa_tnode_t *b) {
	xa_tnode_t *root = NULL, **p = &root;
	while (a && b) {
		if (xa_tree_prio(a) > xa_tree_prio(b)) {
			*p = a;
			p = &a->right;
			a = a->right;
		} else {
			*p = b;
			p = &b->left;
			b = b->left;
		}
	}
	*p = a ? a : b;
	return root;
}

/* Insert n, whose key (n->hi, n->lo) is set and not in t. */
static inline void xa_tree_insert(xa_tree_t *t, xa_tnode_t *n) {
	xa_tnode_t **p = &t->root;
	uint64_t pr = xa_tree_prio(n);
	while (*p && xa_tree_prio(*p) > pr)
		p = xa_tree_below(*p, n->hi, n->lo) ? &(*p)->right : &(*p)->left;
	xa_tree_split(*p, n->hi, n->lo, &n->left, &n->right);
	*p = n;
	t->n++;
}

/* Remove n, which is in t. */
static inline void xa_tree_remove(xa_tree_t *t, xa_tnode_t *n) {
	xa_tnode_t **p = &t->root;
	while (*p != n)
		p = xa_tree_below(*p, n->hi, n->lo) ? &(*p)->right : &(*p)->left;
	*p = xa_tree_join(n->left, n->right);
	n->left = n->right = NULL;
	t->n--;
}

/* The node with the least key >= (hi, lo), or NULL. */
static inline xa_tnode_t *xa_tree_ceil(const xa_tree_t *t, uint64_t hi, uint64_t lo) {
	xa_tnode_t *best = NULL;
	for (xa_tnode_t *c = t->root; c;) {
		if (xa_tree_below(c, hi, lo)) {
			c = c->right;
		} else {
			best = c;
			c = c->left;
		}
	}
	return best;
}

/* The node with the greatest key <= (hi, lo), or NULL. */
static inline xa_tnode_t *xa_tree_floor(const xa_tree_t *t, uint64_t hi, uint64_t lo) {
	xa_tnode_t *best = NULL;
	for (xa_tnode_t *c = t->root; c;) {
		if (c->hi < hi || (c->hi == hi && c->lo <= lo)) {
			best = c;
			c = c->right;
		} else {
			c = c->left;
		}
	}
	return best;
}

/* The node after n in key order, or NULL. */
static inline xa_tnode_t *xa_tree_next(const xa_tree_t *t, const xa_tnode_t *n) {
	if (n->lo != UINT64_MAX)
		return xa_tree_ceil(t, n->hi, n->lo + 1);
	return n->hi == UINT64_MAX ? NULL : xa_tree_ceil(t, n->hi + 1, 0);
}

#endif
