/*
 * tsd.c -- thread state: the TLS block, its set-up, the thread-exit hook
 * and the registry of live threads.
 *
 * The TLS block (xa_tsd_tls) is zero for a new thread, except the bins'
 * heads (the static no-stack slot, tcache.h), which the fast paths read as
 * "empty cache, event due": the first allocation lands in the slow path,
 * which calls xa_tsd_boot.  Boot binds an arena, registers the
 * destructor (pthread_setspecific may itself call calloc: that nested call
 * sees TSD_INITIALIZING and is served without a cache), and sets up the
 * cache.  At thread exit the destructor flushes the cache back to the
 * arenas, returns the stack block and folds the thread's counters into the
 * exited totals; any later allocation by that thread (other destructors)
 * runs in TSD_PURGATORY: no cache, nothing to leak.
 *
 * Locking: tsd_lock protects the registry and the exited totals.
 */
#include "internal.h"
#include "http.h"

/* Every bin starts without a stack (tcache.h, xa_cbin_t): its head is
 * XA_NOCACHE_HEAD, so the checked free fast path misses on it. */
__thread xa_tsd_t xa_tsd_tls __attribute__((tls_model("initial-exec"))) = {
    .nocache = {[0 ... 1] = {.head = XA_NOCACHE_HEAD}},
    .bins = {[0 ... SC_NCLASSES - 1] = {.head = XA_NOCACHE_HEAD}},
};

static xa_mutex_t tsd_lock = XA_MUTEX_INITIALIZER;
static xa_list_t tsd_list; /* the registry */
static size_t tsd_nlive;
static uint64_t exited_allocated, exited_deallocated;
static pthread_key_t tsd_key;
static bool tsd_key_ok;

static void tsd_unlink_locked(xa_tsd_t *t) {
	if (xa_link_linked(&t->link))
		xa_list_remove(&tsd_list, &t->link);
	tsd_nlive--;
}

static void tsd_dtor(void *arg) {
	xa_tsd_t *t = arg;
	if (t->state != TSD_NOMINAL)
		return;
	xa_tsd_enter(t);
	xa_tcache_destroy(t);
	xa_peak_publish(t);
	xa_mutex_lock(&tsd_lock);
	tsd_unlink_locked(t);
	exited_allocated += t->allocated;
	exited_deallocated += t->deallocated;
	xa_mutex_unlock(&tsd_lock);
	XA_RELAXED_STORE(t->allocated, 0);
	XA_RELAXED_STORE(t->deallocated, 0);
	t->peak_pub = 0;
	xa_arena_thread_leave(t->arena, t->fill_slot);
	t->arena = xa_arena_get(0, true);
	t->state = TSD_PURGATORY;
	t->next_event = 0;
	xa_tsd_leave(t);
	xa_background_thread_exited();
	xa_http_thread_exited();
}

bool xa_tsd_key_create(void) {
	tsd_key_ok = pthread_key_create(&tsd_key, tsd_dtor) == 0;
	return !tsd_key_ok;
}

/* Counters of threads without a registered state go straight to the totals. */
void xa_tsd_count_unregistered(uint64_t alloc, uint64_t dealloc) {
	xa_mutex_lock(&tsd_lock);
	exited_allocated += alloc;
	exited_deallocated += dealloc;
	xa_mutex_unlock(&tsd_lock);
	xa_peak_unregistered(alloc, dealloc);
}

xa_tsd_t *xa_tsd_boot(void) {
	xa_tsd_t *t = &xa_tsd_tls;
	if (likely(t->state == TSD_NOMINAL))
		return t;
	if (t->state == TSD_UNINIT) {
		t->state = TSD_INITIALIZING;
		/* not inside a fast path (a zero mark would equal a zero
		 * counter and read as busy to the idle reclaimer) */
		t->amark = t->dmark = XA_MARK_NONE;
		t->tid = xa_os_gettid();
		t->arena = xa_arena_choose(&t->fill_slot);
		if (t->arena == NULL)
			t->arena = xa_arena_get(0, true);
		if (tsd_key_ok)
			pthread_setspecific(tsd_key, t);
		xa_tcache_init(t);
		xa_mutex_lock(&tsd_lock);
		xa_list_push(&tsd_list, &t->link);
		tsd_nlive++;
		if (xa_idle_stop_active())
			xa_idle_claim_newborn(t); /* waits in its first xa_tsd_enter */
		xa_mutex_unlock(&tsd_lock);
		t->next_event = t->allocated + TCACHE_GC_INTERVAL;
		if (config_prof)
			xa_prof_thread_init(t);
		t->state = TSD_NOMINAL;
		return t;
	}
	if (t->arena == NULL)
		t->arena = xa_arena_get(0, true);
	return t;
}

void xa_tsd_totals(uint64_t *allocated, uint64_t *deallocated, uint64_t *tcache_bytes) {
	xa_mutex_lock(&tsd_lock);
	uint64_t a = exited_allocated, d = exited_deallocated, c = 0;
	for (xa_tsd_t *t = XA_LIST_FIRST(&tsd_list, xa_tsd_t, link); t; t = XA_LIST_NEXT(t, xa_tsd_t, link)) {
		a += XA_RELAXED_LOAD(t->allocated);
		d += XA_RELAXED_LOAD(t->deallocated);
		c += xa_tcache_bytes(t);
	}
	xa_mutex_unlock(&tsd_lock);
	*allocated = a;
	*deallocated = d;
	*tcache_bytes = c;
}

void xa_tsd_foreach(void (*fn)(xa_tsd_t *, void *), void *arg) {
	xa_mutex_lock(&tsd_lock);
	for (xa_tsd_t *t = XA_LIST_FIRST(&tsd_list, xa_tsd_t, link); t; t = XA_LIST_NEXT(t, xa_tsd_t, link))
		fn(t, arg);
	xa_mutex_unlock(&tsd_lock);
}

size_t xa_tsd_count(void) {
	xa_mutex_lock(&tsd_lock);
	size_t n = tsd_nlive;
	xa_mutex_unlock(&tsd_lock);
	return n;
}

void xa_tsd_prefork(void) { xa_mutex_lock(&tsd_lock); }
void xa_tsd_postfork_parent(void) { xa_mutex_unlock(&tsd_lock); }
void xa_tsd_postfork_child(void) {
	xa_mutex_init(&tsd_lock);
	/* Only the forking thread survives; fold the others into the totals.
	 * Objects in their caches stay allocated (as in every allocator). */
	xa_tsd_t *self = &xa_tsd_tls;
	xa_tsd_t *t = XA_LIST_FIRST(&tsd_list, xa_tsd_t, link);
	while (t) {
		xa_tsd_t *n = XA_LIST_NEXT(t, xa_tsd_t, link);
		if (t != self) {
			exited_allocated += t->allocated;
			exited_deallocated += t->deallocated;
			tsd_unlink_locked(t);
		}
		t = n;
	}
	if (self->state == TSD_NOMINAL && self->arena)
		xa_arena_thread_rebind(self->arena, self->fill_slot);
}
