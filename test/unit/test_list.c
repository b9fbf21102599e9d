/*
 * src/list.h against a model: random pushes, appends and removals on a few
 * lists of one pool of elements, each step checked against an array that
 * holds what every list must contain, in order; and the invariants the
 * header states (zero is empty / unlinked, first->prev is the last,
 * removal clears the link).
 */
#include <criterion/criterion.h>
#include <stdlib.h>
#include <string.h>

#include "internal.h"
#include "xt.h"
#include "xt_rnd.h"

typedef struct {
	int id;
	xa_link_t link;
	int pad;
} elem_t;

#define NELEM 64
#define NLIST 3

typedef struct {
	xa_list_t l;
	int ids[NELEM]; /* the model: ids in list order */
	int n;
} model_t;

static void check(const model_t *m, const elem_t *pool) {
	const elem_t *e = XA_LIST_FIRST(&m->l, elem_t, link);
	cr_assert_eq(xa_list_empty(&m->l), m->n == 0);
	for (int i = 0; i < m->n; i++) {
		cr_assert_not_null(e, "list ends after %d of %d", i, m->n);
		cr_assert_eq(e->id, m->ids[i], "position %d: %d, model %d", i, e->id, m->ids[i]);
		cr_assert(xa_link_linked(&e->link));
		if (i > 0)
			cr_assert_eq(e->link.prev, &pool[m->ids[i - 1]].link, "prev of position %d", i);
		e = XA_LIST_NEXT(e, elem_t, link);
	}
	cr_assert_null(e, "list longer than the model (%d)", m->n);
	if (m->n) {
		cr_assert_eq(xa_list_last(&m->l), &pool[m->ids[m->n - 1]].link);
		cr_assert_eq(m->l.first->prev, xa_list_last(&m->l), "first->prev is not the last");
	} else {
		cr_assert_null(xa_list_last(&m->l));
	}
}

TestSuite(list, .timeout = 60);

Test(list, zero_is_empty_and_unlinked) {
	static xa_list_t l;
	static elem_t e;
	cr_assert(xa_list_empty(&l));
	cr_assert_null(xa_list_first(&l));
	cr_assert_null(xa_list_last(&l));
	cr_assert_null(XA_LIST_FIRST(&l, elem_t, link), "an empty list's entry is not NULL");
	cr_assert(!xa_link_linked(&e.link));
	xa_list_append(&l, &e.link);
	cr_assert(xa_link_linked(&e.link));
	cr_assert_eq(XA_LIST_FIRST(&l, elem_t, link), &e);
	cr_assert_eq(e.link.prev, &e.link, "a lone element is its own last");
	cr_assert_null(e.link.next);
	xa_list_remove(&l, &e.link);
	cr_assert(xa_list_empty(&l));
	cr_assert_null(e.link.next);
	cr_assert_null(e.link.prev);
}

Test(list, push_append_remove_against_a_model) {
	static elem_t pool[NELEM];
	static model_t m[NLIST];
	int where[NELEM]; /* list of each element, -1: none */
	for (int i = 0; i < NELEM; i++) {
		pool[i].id = i;
		where[i] = -1;
	}
	uint64_t r = 12;
	for (int step = 0; step < 200000; step++) {
		int i = (int)(rnd_next(&r) % NELEM);
		unsigned op = (unsigned)(rnd_next(&r) % 3);
		if (where[i] < 0) {
			int li = (int)(rnd_next(&r) % NLIST);
			model_t *md = &m[li];
			if (op == 0) { /* push */
				memmove(md->ids + 1, md->ids, (size_t)md->n * sizeof(int));
				md->ids[0] = i;
				xa_list_push(&md->l, &pool[i].link);
			} else {
				md->ids[md->n] = i;
				xa_list_append(&md->l, &pool[i].link);
			}
			md->n++;
			where[i] = li;
			check(md, pool);
		} else {
			model_t *md = &m[where[i]];
			int k = 0;
			while (md->ids[k] != i)
				k++;
			memmove(md->ids + k, md->ids + k + 1, (size_t)(md->n - k - 1) * sizeof(int));
			md->n--;
			xa_list_remove(&md->l, &pool[i].link);
			cr_assert_null(pool[i].link.next);
			cr_assert_null(pool[i].link.prev);
			where[i] = -1;
			check(md, pool);
		}
	}
	for (int li = 0; li < NLIST; li++)
		check(&m[li], pool);
}

Test(list, removal_while_walking) {
	static elem_t pool[NELEM];
	static xa_list_t l;
	for (int i = 0; i < NELEM; i++) {
		pool[i].id = i;
		xa_list_append(&l, &pool[i].link);
	}
	/* remove every odd one, taking the next element first */
	for (elem_t *e = XA_LIST_FIRST(&l, elem_t, link), *n; e; e = n) {
		n = XA_LIST_NEXT(e, elem_t, link);
		if (e->id & 1)
			xa_list_remove(&l, &e->link);
	}
	int k = 0;
	for (elem_t *e = XA_LIST_FIRST(&l, elem_t, link); e; e = XA_LIST_NEXT(e, elem_t, link), k += 2)
		cr_assert_eq(e->id, k);
	cr_assert_eq(k, NELEM);
	cr_assert_eq(xa_list_last(&l), &pool[NELEM - 2].link);
}
