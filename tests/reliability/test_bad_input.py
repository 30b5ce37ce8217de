"""Issue I.5 — bad input: compiled functions fed wrong, awkward and hostile arguments (1,000
calls light, 8,000 stress) give the reference result or a clear exception, never crash, hang or
modify their inputs.  The fuzzer runs in child processes; a crash or hang is recorded with the
call that caused it and the run resumes after it (`make asan` runs the same fuzzer under
AddressSanitizer and UBSan: scripts/asan.sh)."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from tests.reliability._support import REPO, child_env, last_json, pick, record, run_module


def run_fuzzer(calls: int, seed: int, env: dict, log: str, extra: list[str] = (), max_restarts: int = 10):
    """Run the fuzzer over calls [0, calls), resuming after crashes; returns (summary, crashes).
    A crash or hang at call i is recorded; calls before it are replayed for their counts."""
    start, crashes = 0, []
    total = {"calls": 0, "results": 0, "clear_errors": 0, "failures": 0, "reference_quirks": 0, "first_failures": [],
             "exceptions": {}, "mutations": {}}

    def run(first: int, stop: int):
        return run_module("tests.reliability.fuzz_inputs",
                          ["--calls", str(stop), "--start", str(first), "--seed", str(seed), "--log", log, *extra],
                          env, timeout=7200)

    def add(s: dict) -> None:
        for k in ("calls", "results", "clear_errors", "failures", "reference_quirks"):
            total[k] += s[k]
        total["first_failures"] += s["first_failures"]
        for k in ("exceptions", "mutations"):
            for name, n in s[k].items():
                total[k][name] = total[k].get(name, 0) + n

    while start < calls:
        r = run(start, calls)
        if r.returncode == 0:
            add(last_json(r.stdout))
            break
        lines = []
        if os.path.exists(log):
            with open(log) as fh:
                lines = fh.read().splitlines()
        if not lines:  # died before its first call: nothing to resume
            crashes.append(f"exit {r.returncode} before call {start}:\n{r.stderr[-3000:]}")
            break
        last = lines[-1]
        idx = int(last.split()[1])
        kind = "hang" if "Timeout (" in r.stderr else f"exit {r.returncode}"
        from tests.reliability.asan_run import excerpt

        crashes.append(f"{kind}: {last[:400]}\n{excerpt(r.stderr)}")
        total["calls"] += 1
        if idx > start:
            again = run(start, idx)
            if again.returncode == 0:
                add(last_json(again.stdout))
        start = idx + 1
        if len(crashes) > max_restarts:
            break
    return total, crashes


def test_fuzz_compiled_functions_with_bad_inputs(tmp_path):
    calls = pick(1000, 8000)
    summary, crashes = run_fuzzer(calls, seed=pick(0, 11), env=child_env(None), log=str(tmp_path / "fuzz.log"))
    record("bad-input", calls=summary["calls"], results=summary["results"], clear_errors=summary["clear_errors"],
           failures=summary["failures"], crashes_or_hangs=len(crashes), exceptions=summary["exceptions"],
           reference_quirks=summary["reference_quirks"],
           mutation_kinds=len(summary["mutations"]))
    assert not crashes, "\n\n".join(crashes[:3])
    assert summary["calls"] >= calls
    assert summary["failures"] == 0, "\n".join(summary["first_failures"][:10])


def test_empty_result_with_a_huge_outer_axis_returns_at_once():
    """x * y for x of shape (2**40, 0) (a zero-stride view) and y of shape (0,): the result is
    empty and numpy returns it in microseconds; the generated loop nest must not iterate the
    outer axis 2**40 times (it takes about an hour)."""
    code = textwrap.dedent("""
        import time, numpy as np, ccgrad, ccgrad.tensor as T
        x, y = T.dmatrix('x'), T.dvector('y')
        f = ccgrad.function([x, y], [x * y, T.exp(x) + 1], mode='c')
        a = np.lib.stride_tricks.as_strided(np.ones((1, 1)), shape=(2**40, 0), strides=(0, 0))
        t0 = time.perf_counter()
        r = f(a, np.ones(0))
        assert r[0].shape == (2**40, 0) and r[1].shape == (2**40, 0)
        print(time.perf_counter() - t0)
    """)
    try:
        r = subprocess.run([sys.executable, "-c", code], cwd=REPO, env=child_env(None), capture_output=True,
                           text=True, timeout=30)
    except subprocess.TimeoutExpired:
        raise AssertionError("an empty elementwise result with a 2**40-long outer axis took > 30 s "
                             "(the loop nest runs its outer loop although the inner axis is empty)") from None
    assert r.returncode == 0, r.stderr[-2000:]
    assert float(r.stdout.split()[-1]) < 1.0


def test_one_hot_with_a_negative_number_of_classes_fails_in_both_modes():
    """to_one_hot(iv, n) with n < 0: C raises ValueError; the reference evaluator must too (it
    returned an empty (0, 0) array when iv is empty: found by the fuzzer, seed 11 call 1651)."""
    iv, n = T.lvector("iv"), T.lscalar("n")
    for mode in ("c", "py"):
        f = ccgrad.function([iv, n], T.to_one_hot(iv, n), mode=mode)
        with pytest.raises(ValueError, match="negative"):
            f(np.zeros(0, dtype=np.int64), -1000)
