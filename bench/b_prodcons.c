/*
 * b_prodcons -- producer/consumer: memory allocated in one thread, freed
 * in another.
 *
 * Usage: b_prodcons [messages] [producers] [consumers] [queue_cap] [batch] [seed]
 *                   [min=16] [max=512]
 *
 * Producers malloc messages of random size min..max, fill them (header with
 * sequence number, size and checksum; payload with a byte pattern, or,
 * above 512 bytes, one byte of it per 4 KiB page and the bytes the
 * consumer samples, as a program fills a buffer it received) and push
 * them through a bounded mutex/condvar ring queue (up to `batch` messages
 * per lock acquisition).  Consumers pop them, verify header, payload
 * samples and checksum, and free them.  At the end the number of messages
 * and the sum of sequence numbers seen by consumers must match what the
 * producers sent.  Any mismatch exits with status 2.
 */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "c_common.h"

struct msg {
	uint64_t seq;
	uint32_t size;
	uint32_t check;
	unsigned char payload[];
};

static void **ring;
static size_t cap, head, count;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static unsigned producers_left;
static unsigned batch;

static unsigned long long total_msgs;
static size_t lo = 16, hi = 512; /* message sizes */
static unsigned nprod;
static uint64_t seed;

static pthread_mutex_t stat_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned long long recv_count, recv_seqsum;

static inline uint32_t check_of(uint64_t seq, uint32_t size) {
	uint64_t h = seq * 0x9E3779B97F4A7C15ull ^ size * 0xBF58476D1CE4E5B9ull;
	h ^= h >> 31;
	return (uint32_t)h;
}

static void fail(const char *what, uint64_t seq, size_t n, const void *p) {
	fprintf(stderr, "b_prodcons: %s (seq %llu, size %zu, ptr %p)\n", what, (unsigned long long)seq, n, p);
	exit(2);
}

static void push(void **items, size_t n) {
	pthread_mutex_lock(&mu);
	while (n) {
		while (count == cap)
			pthread_cond_wait(&not_full, &mu);
		int was_empty = count == 0;
		while (n && count < cap) {
			ring[(head + count) % cap] = *items++;
			count++;
			n--;
		}
		if (was_empty)
			pthread_cond_broadcast(&not_empty);
	}
	pthread_mutex_unlock(&mu);
}

/* returns number popped, 0 when all producers are done and queue is empty */
static size_t pop(void **items, size_t max) {
	pthread_mutex_lock(&mu);
	while (count == 0 && producers_left)
		pthread_cond_wait(&not_empty, &mu);
	int was_full = count == cap;
	size_t n = 0;
	while (n < max && count) {
		items[n++] = ring[head];
		head = (head + 1) % cap;
		count--;
	}
	if (was_full && n)
		pthread_cond_broadcast(&not_full);
	pthread_mutex_unlock(&mu);
	return n;
}

static void *producer(void *arg) {
	unsigned id = (unsigned)(uintptr_t)arg;
	uint64_t s = (seed + 1) * 0x9E3779B97F4A7C15ull ^ (id + 1) * 0xD1B54A32D192ED03ull;
	if (!s)
		s = 1;
	void **buf = malloc(batch * sizeof *buf);
	if (!buf)
		fail("malloc of batch buffer failed", 0, 0, NULL);
	size_t nb = 0;
	/* producer id takes messages id, id + nprod, id + 2*nprod, ... */
	for (unsigned long long seq = id; seq < total_msgs; seq += nprod) {
		size_t n = lo + (size_t)(c_rnd(&s) % (hi - lo + 1));
		struct msg *m = malloc(n);
		if (!m)
			fail("malloc returned NULL", seq, n, NULL);
		m->seq = seq;
		m->size = (uint32_t)n;
		m->check = check_of(seq, (uint32_t)n);
		size_t pl = n - sizeof *m;
		if (n <= 512) {
			memset(m->payload, (int)(seq & 0xff), pl);
		} else {
			for (size_t j = 0; j < pl; j += 4096)
				m->payload[j] = (unsigned char)seq;
			m->payload[pl / 2] = m->payload[pl - 1] = (unsigned char)seq;
		}
		buf[nb++] = m;
		if (nb == batch) {
			push(buf, nb);
			nb = 0;
		}
	}
	if (nb)
		push(buf, nb);
	free(buf);
	pthread_mutex_lock(&mu);
	if (--producers_left == 0)
		pthread_cond_broadcast(&not_empty);
	pthread_mutex_unlock(&mu);
	return NULL;
}

static void *consumer(void *arg) {
	(void)arg;
	void **buf = malloc(batch * sizeof *buf);
	if (!buf)
		fail("malloc of batch buffer failed", 0, 0, NULL);
	unsigned long long cnt = 0, sum = 0;
	size_t n;
	while ((n = pop(buf, batch)) != 0) {
		for (size_t i = 0; i < n; i++) {
			struct msg *m = buf[i];
			uint32_t sz = m->size;
			if (sz < lo || sz > hi || m->check != check_of(m->seq, sz))
				fail("message header corrupted", m->seq, sz, m);
			unsigned char b = (unsigned char)(m->seq & 0xff);
			size_t pl = sz - sizeof *m;
			if (pl && (m->payload[0] != b || m->payload[pl - 1] != b || m->payload[pl / 2] != b))
				fail("message payload corrupted", m->seq, sz, m);
			cnt++;
			sum += m->seq;
			free(m);
		}
	}
	free(buf);
	pthread_mutex_lock(&stat_mu);
	recv_count += cnt;
	recv_seqsum += sum;
	pthread_mutex_unlock(&stat_mu);
	return NULL;
}

int main(int argc, char **argv) {
	const char *usage = "[messages] [producers] [consumers] [queue_cap] [batch] [seed] [min=16] [max=512]";
	total_msgs = c_arg(argc, argv, 1, 4000000, usage);
	nprod = (unsigned)c_arg(argc, argv, 2, 1, usage);
	unsigned ncons = (unsigned)c_arg(argc, argv, 3, 1, usage);
	cap = (size_t)c_arg(argc, argv, 4, 1024, usage);
	batch = (unsigned)c_arg(argc, argv, 5, 32, usage);
	seed = c_arg(argc, argv, 6, 1, usage);
	lo = (size_t)c_arg(argc, argv, 7, 16, usage);
	hi = (size_t)c_arg(argc, argv, 8, 512, usage);
	if (lo < 16 || hi < lo || hi > UINT32_MAX) {
		fprintf(stderr, "usage: %s %s (16 <= min <= max)\n", argv[0], usage);
		return 64;
	}
	if (!nprod || !ncons || !cap || !batch) {
		fprintf(stderr, "b_prodcons: all counts must be > 0\n");
		return 64;
	}
	ring = malloc(cap * sizeof *ring);
	pthread_t *th = malloc((nprod + ncons) * sizeof *th);
	if (!ring || !th)
		return 2;
	producers_left = nprod;
	for (unsigned i = 0; i < ncons; i++)
		if (pthread_create(&th[nprod + i], NULL, consumer, NULL))
			fail("pthread_create failed", 0, 0, NULL);
	for (unsigned i = 0; i < nprod; i++)
		if (pthread_create(&th[i], NULL, producer, (void *)(uintptr_t)i))
			fail("pthread_create failed", 0, 0, NULL);
	for (unsigned i = 0; i < nprod + ncons; i++)
		pthread_join(th[i], NULL);

	unsigned long long want_sum = total_msgs ? (total_msgs - 1) * total_msgs / 2 : 0; /* fits for < 2^32 msgs */
	if (recv_count != total_msgs || recv_seqsum != want_sum) {
		fprintf(stderr,
		    "b_prodcons: lost/duplicated messages: got %llu (sum %llu), "
		    "want %llu (sum %llu)\n",
		    recv_count, recv_seqsum, total_msgs, want_sum);
		return 2;
	}
	free(th);
	free(ring);
	return 0;
}
