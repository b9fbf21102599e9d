#!/usr/bin/env python3
"""Allocation-heavy Python workload for the decay_ms:0 comparison (decay0.py).

  py_churn.py [iterations=20000] [threads=2]

Each thread keeps 64 slots and, `iterations` times, replaces a random slot
with a new object whose buffer lives in malloc memory, not in Python's
small-object arenas: bytes of 600 B..120 KB, lists of 100..12000 ints,
dicts of 10..2000 entries, or strings of 600 B..60 KB.  The replaced object
is freed at once, so the allocator sees a steady stream of medium-sized
mallocs and frees from several threads.  Deterministic (seeded); prints a
checksum.
"""
import random
import sys
import threading

N = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
T = int(sys.argv[2]) if len(sys.argv) > 2 else 2
sums = [0] * T


def work(tid):
    rng = random.Random(tid)
    keep = [None] * 64
    total = 0
    for _ in range(N):
        k = rng.randrange(64)
        c = rng.randrange(4)
        if c == 0:
            keep[k] = bytes(rng.randrange(600, 120000))
        elif c == 1:
            keep[k] = [j for j in range(rng.randrange(100, 12000))]
        elif c == 2:
            keep[k] = {j: j for j in range(rng.randrange(10, 2000))}
        else:
            keep[k] = "x" * rng.randrange(600, 60000)
        total += len(keep[k])
    sums[tid] = total


threads = [threading.Thread(target=work, args=(t,)) for t in range(T)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print(sum(sums))
