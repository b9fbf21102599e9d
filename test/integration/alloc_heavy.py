#!/usr/bin/env python3
"""Allocation-heavy, multithreaded, deterministic workload.

Run by programs.sh with and without LD_PRELOAD of xalloc; the output must be
identical.  Threads build dicts, lists, strings, bytes, tuples and sets, with
big objects (above any mmap threshold) mixed in, objects handed between
threads through a queue, and json/re/zlib/sqlite3 in between.
"""
import hashlib
import json
import queue
import random
import re
import sqlite3
import sys
import threading
import zlib

NTHREADS = 4
ROUNDS = int(sys.argv[1]) if len(sys.argv) > 1 else 25

handoff = queue.Queue(maxsize=64)
results = [None] * NTHREADS


def digest(obj):
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()[:16]


def worker(tid):
    rng = random.Random(1000 + tid)
    h = hashlib.sha256()
    total = 0
    for rnd in range(ROUNDS):
        d = {}
        for i in range(3000):
            k = "key-%d-%d" % (rng.randrange(800), tid)
            d.setdefault(k, []).append(rng.randrange(10**6))
        lst = [str(x) * rng.randrange(1, 8) for x in range(2000)]
        joined = ",".join(lst)
        parts = joined.split(",")
        assert parts == lst
        words = re.findall(r"\d{3,}", joined)
        big = bytearray(rng.randrange(200_000, 2_000_000))
        big[::4096] = b"x" * len(big[::4096])
        comp = zlib.compress(bytes(big[:100_000]) + joined.encode())
        s = {w for w in words[:5000]}
        tup = tuple(sorted(s))
        nested = [[{"a": i, "b": [i] * (i % 7)} for i in range(50)] for _ in range(20)]
        h.update(digest(d).encode())
        h.update(str(len(words)).encode())
        h.update(str(len(comp)).encode())
        h.update(str(tup[:10]).encode())
        h.update(digest(nested).encode())
        total += len(big) + len(joined)
        # hand objects to another thread, take someone else's
        try:
            handoff.put_nowait((tid, rnd, lst[:500], dict(list(d.items())[:50])))
        except queue.Full:
            pass
        try:
            other = handoff.get_nowait()
            del other
        except queue.Empty:
            pass
        del d, lst, joined, parts, words, big, comp, s, tup, nested
    results[tid] = (h.hexdigest()[:32], total)


def sqlite_part():
    con = sqlite3.connect(":memory:")
    con.execute("create table t (id integer primary key, k text, v real)")
    con.executemany("insert into t (k, v) values (?, ?)",
                    (("k%d" % (i % 97), i * 0.5) for i in range(20000)))
    con.execute("create index tk on t(k)")
    rows = con.execute("select k, count(*), sum(v) from t group by k order by k").fetchall()
    con.close()
    return digest(rows), len(rows)


def main():
    threads = [threading.Thread(target=worker, args=(i,)) for i in range(NTHREADS)]
    for t in threads:
        t.start()
    sq = sqlite_part()
    for t in threads:
        t.join()
    for i, r in enumerate(results):
        print("thread %d: %s %d" % (i, r[0], r[1]))
    print("sqlite3 module: %s %d" % sq)
    # a single big dict of strings at the end
    big = {("%08d" % i): ("v" * (i % 50)) for i in range(300_000)}
    print("bigdict: %d %s" % (len(big), hashlib.sha256("".join(big.values()).encode()).hexdigest()[:16]))


if __name__ == "__main__":
    main()
