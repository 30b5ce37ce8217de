"""Issue I.1 — concurrency: many processes build the same functions into one empty cache at once
(with and without the per-key lock), and many threads call (and build) compiled functions.

Pass: 0 failures, 0 wrong results; with the lock each function is compiled exactly once across
all processes (cache.stats() and the workers' own compile counts); without it duplicate compiles
are allowed but exactly one entry is published per function; no temp dir is left behind.
"""

from __future__ import annotations

import os
import threading
import time

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad import cache
from tests.reliability import family
from tests.reliability._support import child_env, entries, last_json, pick, record, spawn_module

N_FUNCTIONS = 50


def _run_builders(root: str, barrier: str, n_procs: int, count: int, lock: str, first: int = 0):
    os.makedirs(barrier)
    env = child_env(root, CCGRAD_LOCK=lock)
    procs = [spawn_module("tests.reliability._workers",
                          ["build", "--first", str(first), "--count", str(count), "--seed", str(i),
                           "--barrier", barrier], env)
             for i in range(n_procs)]
    deadline = time.monotonic() + 300
    while sum(f.startswith("ready-") for f in os.listdir(barrier)) < n_procs:
        dead = [p for p in procs if p.poll() is not None]
        assert not dead, dead[0].communicate()[1][-3000:]
        assert time.monotonic() < deadline, "workers never became ready"
        time.sleep(0.01)
    t0 = time.perf_counter()
    open(os.path.join(barrier, "go"), "w").close()
    outs = [p.communicate(timeout=1800) for p in procs]
    wall = time.perf_counter() - t0
    summaries = []
    for p, (out, err) in zip(procs, outs):
        assert p.returncode == 0, f"worker exit {p.returncode}:\n{err[-3000:]}"
        summaries.append(last_json(out))
    return summaries, wall


def _leftovers(root: str) -> list[str]:
    tmp = os.path.join(root, "tmp")
    return [f for f in os.listdir(tmp) if f.startswith("build-")] if os.path.isdir(tmp) else []


@pytest.mark.parametrize("lock", ["1", "0"])
def test_processes_build_the_same_functions_into_one_empty_cache(tmp_path, lock):
    n_procs = pick(4, 16)
    # Without the lock every process may compile every function; keep the light run short.
    count = N_FUNCTIONS if lock == "1" or n_procs > 4 else pick(16, N_FUNCTIONS)
    root = str(tmp_path / "cache")
    summaries, wall = _run_builders(root, str(tmp_path / "barrier"), n_procs, count, lock)
    errors = [e for s in summaries for e in s["errors"]]
    wrong = [k for s in summaries for k in s["wrong"]]
    bad_loads = [b for s in summaries for b in s["bad_loads"]]
    compiles = sum(s["compiles"] for s in summaries)
    st = cache.stats(root)
    published = entries(root)
    record("concurrency-processes", lock=lock == "1", processes=n_procs, functions=count,
           failures=len(errors), wrong=len(wrong), compiles=compiles, published=len(published),
           builds_logged=st["builds"], wall_s=round(wall, 1))
    assert not errors, errors[:3]
    assert not wrong and all(s["ok"] == count for s in summaries)
    assert not bad_loads, bad_loads[:3]
    assert len(published) == count
    for d in published:
        assert cache._verify(d, os.path.basename(d)) is None, d
    # builds.log has one line per *published* build: exactly one per function, lock or not.
    assert st["builds"] == count and len(st["keys"]) == count and set(st["keys"].values()) == {1}, st
    if lock == "1":
        assert compiles == count, f"{compiles} compiles for {count} functions with the lock on"
    else:
        assert compiles >= count
    assert _leftovers(root) == []
    assert os.listdir(os.path.join(root, "trash")) == []


def _thread_function():
    x, y = T.dmatrix("x"), T.dvector("y")
    i = T.lscalar("i")
    outs = [T.sum(T.exp(T.tanh(x)) * y, axis=1), T.dot(x, y), x[i] * 2 - y, T.max(x * y)]
    return ccgrad.function([x, y, i], outs, mode="c")


def test_threads_call_one_compiled_function(fresh_root):
    f = _thread_function()
    n_threads, n_calls = 8, pick(2000, 10_000)
    rng = np.random.default_rng(0)
    inputs = [(rng.normal(size=(5, 7)), rng.normal(size=7), np.int64(k % 5)) for k in range(32)]
    expected = [f(*a) for a in inputs]
    failures: list[str] = []
    barrier = threading.Barrier(n_threads)

    def worker(t: int) -> None:
        barrier.wait()
        for c in range(n_calls):
            k = (t * 7 + c) % len(inputs)
            got = f(*inputs[k])
            for g, w in zip(got, expected[k]):
                if g.dtype != w.dtype or not np.array_equal(g, w):
                    failures.append(f"thread {t} call {c} input {k}")
                    return

    t0 = time.perf_counter()
    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.perf_counter() - t0
    record("concurrency-threads-call", threads=n_threads, calls_per_thread=n_calls,
           calls=n_threads * n_calls, failures=len(failures), wall_s=round(wall, 2))
    assert not failures, failures[:5]


def test_threads_build_the_same_functions(fresh_root):
    """Threads of one process compile the same functions at once (pymc#7819): each is built
    once, every result is right."""
    n_threads, first, count = 8, 1000, pick(4, 12)
    results: list[str] = []
    barrier = threading.Barrier(n_threads)
    graphs = [[family.graph(k) for k in range(first, first + count)] for _ in range(n_threads)]

    def worker(t: int) -> None:
        barrier.wait()
        order = list(range(count))
        if t % 2:
            order.reverse()
        for j in order:
            ins, out, ref, vals = graphs[t][j]
            try:
                f = ccgrad.function(ins, out, mode="c")
                results.append("ok" if family.check(f, ref, vals) else f"wrong {first + j}")
            except Exception as exc:
                results.append(f"error {first + j}: {exc!r}")

    threads = [threading.Thread(target=worker, args=(t,)) for t in range(n_threads)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    st = cache.stats()
    bad = [r for r in results if r != "ok"]
    record("concurrency-threads-build", threads=n_threads, functions=count, failures=len(bad),
           builds=st["builds"])
    assert not bad, bad[:5]
    assert len(results) == n_threads * count
    assert st["builds"] == count and set(st["keys"].values()) == {1}, st
