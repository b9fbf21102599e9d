/*
 * list.h -- intrusive doubly-linked lists: every list of descriptors in
 * the allocator (bin slabs, free runs by size, the decay list, pool blocks,
 * live huge blocks and cached ones, profiled slabs, the thread registry).
 *
 * Owns: nothing but the link manipulation.  An element embeds one
 * xa_link_t per list it can be on; the list itself is one pointer
 * (xa_list_t).  Nothing here allocates, locks or calls out, so a list may
 * be used under any lock, in base memory, in a fork child.
 *
 * Invariants
 *  - The all-zero xa_list_t is the empty list, and the all-zero xa_link_t
 *    is "on no list": lists and links in static, base or pool memory (all
 *    zeroed) need no set-up.
 *  - A link is on a list iff its prev is non-NULL.  The first element's
 *    prev is the LAST element (itself when alone), so appending and
 *    reading the last element are O(1) with a one-word head; the last
 *    element's next is NULL, so walking `next` from the first visits every
 *    element once, in list order, and ends at NULL.
 *  - Removal clears both pointers of the removed link.  Inserting a link
 *    that is on a list, or removing one that is not, breaks the list:
 *    debug builds assert against both.
 *
 * Locking: none; the owner's lock guards the list and every link on it.
 * Included through types.h (internal.h), whose xa_assert it uses.
 *
 * Use: embed `xa_link_t link;`, keep `xa_list_t l;`, and get from a link
 * back to its element with XA_LIST_ENTRY (NULL stays NULL):
 *     for (xa_run_t *r = XA_LIST_FIRST(&l, xa_run_t, link); r;
 *          r = XA_LIST_NEXT(r, xa_run_t, link))
 * A loop that removes the element it stands on takes the next one first.
 */
#ifndef XA_LIST_H
#define XA_LIST_H

#include <stdbool.h>
#include <stddef.h>

typedef struct xa_link_s {
	struct xa_link_s *next, *prev;
} xa_link_t;

typedef struct {
	xa_link_t *first;
} xa_list_t;

/* The element that holds link k as its member `member`; NULL for NULL. */
static inline void *xa_list_entry_(xa_link_t *k, size_t off) { return k ? (void *)((char *)k - off) : NULL; }
#define XA_LIST_ENTRY(k, type, member) ((type *)xa_list_entry_((k), offsetof(type, member)))
#define XA_LIST_FIRST(l, type, member) XA_LIST_ENTRY(xa_list_first(l), type, member)
#define XA_LIST_NEXT(e, type, member) XA_LIST_ENTRY((e)->member.next, type, member)

static inline bool xa_list_empty(const xa_list_t *l) { return l->first == NULL; }
static inline xa_link_t *xa_list_first(const xa_list_t *l) { return l->first; }
static inline xa_link_t *xa_list_last(const xa_list_t *l) { return l->first ? l->first->prev : NULL; }
static inline bool xa_link_linked(const xa_link_t *k) { return k->prev != NULL; }
/* "On no list", for a link whose storage held something else before (a
 * union member) or was copied from a linked one. */
static inline void xa_link_init(xa_link_t *k) { k->next = k->prev = NULL; }

/* Insert k (on no list) first. */
static inline void xa_list_push(xa_list_t *l, xa_link_t *k) {
	xa_assert(!xa_link_linked(k));
	xa_link_t *f = l->first;
	k->next = f;
	if (f) {
		k->prev = f->prev;
		f->prev = k;
	} else {
		k->prev = k;
	}
	l->first = k;
}

/* Insert k (on no list) last. */
static inline void xa_list_append(xa_list_t *l, xa_link_t *k) {
	xa_assert(!xa_link_linked(k));
	xa_link_t *f = l->first;
	k->next = NULL;
	if (f) {
		k->prev = f->prev;
		f->prev->next = k;
		f->prev = k;
	} else {
		k->prev = k;
		l->first = k;
	}
}

/* Take k (on l) off l. */
static inline void xa_list_remove(xa_list_t *l, xa_link_t *k) {
	xa_assert(xa_link_linked(k) && l->first != NULL);
	xa_link_t *f = l->first;
	if (k == f) {
		l->first = k->next;
		if (k->next)
			k->next->prev = k->prev;
	} else {
		k->prev->next = k->next;
		if (k->next)
			k->next->prev = k->prev;
		else
			f->prev = k->prev; /* k was last */
	}
	k->next = k->prev = NULL;
}

/* The element holding old was copied to new (old's link copied into new,
 * as is); make list l refer to new instead.  l must be the list old is on
 * (it is read only when old is its first or last element).  A new that is
 * on no list is left alone.  (Descriptor compaction, pages.c.) */
static inline void xa_list_moved(xa_list_t *l, const xa_link_t *old, xa_link_t *nw) {
	if (!xa_link_linked(nw))
		return;
	xa_assert(l->first != NULL);
	if (l->first == old)
		l->first = nw;
	else
		nw->prev->next = nw;
	if (nw->next)
		nw->next->prev = nw;
	else
		l->first->prev = nw; /* old was last (alone: nw->prev = nw) */
}

#endif
