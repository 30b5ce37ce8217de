"""Timing and cross-checking of one benchmark entry (one peer's spelling of one workload size).

Method (shared/research/peers-bench.md): the check call doubles as the first warm-up; then warm-up
until >= 0.1 s and >= 2 calls, then samples until ~0.5 s are spent (>= 5 samples, >= 3 for calls
over 0.1 s); calls under 0.2 ms are batched so a sample lasts >= 0.2 ms.  Reported: median and min
per call, the process's CPU time per wall time while sampling, and how many threads did real work
(from /proc per-thread ticks: how a library that ignores the thread settings shows up).  The loop is
`timeit`'s (garbage collection off, no wrapper call around the function).
"""

from __future__ import annotations

import dataclasses
import math
import statistics
import time
import timeit
from collections.abc import Callable
from typing import Any

import numpy as np

RTOL = 1e-8  # max|got - want| / max|want| allowed before a result is a mismatch
WARMUP_S, TARGET_S, SAMPLE_S = 0.1, 0.5, 2e-4


@dataclasses.dataclass
class Prepared:
    """A ready-to-time call: `fn(*args)`, with `sync` applied to its result (JAX's
    block_until_ready) and `check()` giving the value to compare (default: the call itself)."""

    fn: Callable
    args: tuple = ()
    sync: Callable | None = None
    check: Callable[[], Any] | None = None
    note: str = ""

    def call_for_check(self):
        out = self.check() if self.check is not None else self.fn(*self.args)
        if self.sync is not None:
            out = self.sync(out)
        return out


@dataclasses.dataclass
class Result:
    """One cell of the report.  status: ok | mismatch | unsupported | error | skipped | reference-failed."""

    workload: str
    case: str
    peer: str
    variant: str
    status: str
    median: float | None = None  # seconds per call
    min: float | None = None
    samples: int = 0
    number: int = 0  # calls per sample
    build: float | None = None  # seconds to build/compile the callable
    max_rel_err: float | None = None
    message: str = ""
    extra: dict = dataclasses.field(default_factory=dict)

    def to_json(self) -> dict:
        return dataclasses.asdict(self)


def as_arrays(value) -> list[np.ndarray]:
    """Flatten a peer's result (array, scalar, jax array, list/tuple of them) to float64 arrays."""
    if isinstance(value, list | tuple):
        out: list[np.ndarray] = []
        for v in value:
            out.extend(as_arrays(v))
        return out
    arr = np.asarray(value)
    if arr.dtype.kind in "biu":
        arr = arr.astype(np.float64)
    return [arr]


def max_rel_err(got, want) -> tuple[float, str]:
    """Largest relative error over all outputs (normalised by each output's largest |value|),
    or inf with a reason when the structure, shapes or NaN positions differ."""
    g, w = as_arrays(got), as_arrays(want)
    if len(g) != len(w):
        return math.inf, f"{len(g)} outputs, reference has {len(w)}"
    worst = 0.0
    for i, (a, b) in enumerate(zip(g, w)):
        if a.shape != b.shape:
            if a.size == b.size and a.size == 1:
                a = a.reshape(b.shape)
            else:
                return math.inf, f"output {i}: shape {a.shape}, reference {b.shape}"
        if a.size == 0:
            continue
        a = a.astype(np.float64)
        b = b.astype(np.float64)
        if not np.array_equal(np.isnan(a), np.isnan(b)):
            return math.inf, f"output {i}: NaN positions differ"
        fin = np.isfinite(b)
        if not np.array_equal(a[~fin], b[~fin], equal_nan=True):
            return math.inf, f"output {i}: non-finite values differ"
        scale = float(np.max(np.abs(b[fin]))) if fin.any() else 0.0
        err = float(np.max(np.abs(a[fin] - b[fin]))) if fin.any() else 0.0
        rel = err / scale if scale > 0 else err
        worst = max(worst, rel)
    return worst, ""


def _timer(prep: Prepared) -> timeit.Timer:
    names = [f"_a{i}" for i in range(len(prep.args))]
    call = f"_f({', '.join(names)})"
    stmt = f"_s({call})" if prep.sync is not None else call
    env = dict(zip(names, prep.args), _f=prep.fn, _s=prep.sync)
    return timeit.Timer(stmt, globals=env)


def time_call(prep: Prepared, quick: bool = False, target: float = TARGET_S) -> dict:
    """Time prep's call (already called once for the check): median/min seconds per call."""
    timer = _timer(prep)
    if quick:
        t = timer.timeit(1)
        return {"median": t, "min": t, "samples": 1, "number": 1}
    # Warm-up, which also estimates the cost of one call.
    spent, calls, t_one = 0.0, 0, math.inf
    while calls < 2 or spent < WARMUP_S:
        t = timer.timeit(1)
        t_one = min(t_one, t)
        spent += t
        calls += 1
        if t > WARMUP_S:  # a slow call: two warm-up calls are plenty
            break
    number = max(1, math.ceil(SAMPLE_S / max(t_one, 1e-9)))
    min_samples = 3 if t_one > 0.1 else 5
    from benchmarks.threads import busy_threads, thread_ticks

    samples: list[float] = []
    ticks0 = thread_ticks()
    start, cpu0 = time.perf_counter(), time.process_time()
    while len(samples) < min_samples or time.perf_counter() - start < target:
        samples.append(timer.timeit(number) / number)
        if len(samples) > 100000:
            break
    cpu_per_wall = (time.process_time() - cpu0) / max(time.perf_counter() - start, 1e-9)
    return {"median": statistics.median(samples), "min": min(samples), "samples": len(samples),
            "number": number, "cpu_per_wall": cpu_per_wall, "busy_threads": busy_threads(ticks0, thread_ticks())}


def fmt_time(seconds: float | None) -> str:
    """Human time: 836 ns, 10.5 us, 8.27 ms, 1.45 s."""
    if seconds is None or not math.isfinite(seconds):
        return "-"
    if seconds < 1e-6:
        return f"{seconds * 1e9:.0f} ns"
    if seconds < 1e-3:
        return f"{seconds * 1e6:.1f} us"
    if seconds < 1:
        return f"{seconds * 1e3:.2f} ms"
    return f"{seconds:.2f} s"
