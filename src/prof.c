/*
 * prof.c -- sampled heap profiling.  (Being written: see issue 5.)
 */
#include "internal.h"

void xa_prof_sample_event(xa_tsd_t *tsd, void *ptr, size_t usize) { (void)tsd; (void)ptr; (void)usize; }
void xa_prof_free_sampled(void *ptr, size_t usize) { (void)ptr; (void)usize; }
void xa_prof_atexit(void) {}
void xa_prof_prefork(void) {}
void xa_prof_postfork_parent(void) {}
void xa_prof_postfork_child(void) {}
