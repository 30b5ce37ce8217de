"""Running workloads: in-process (build, cross-check, time each entry) and isolated (one child
process per workload, results streamed as JSON lines, so a crash or hang costs one workload's
remaining cells, never the run)."""

from __future__ import annotations

import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchmarks.measure import RTOL, Result, max_rel_err, time_call

ROOT = Path(__file__).resolve().parent.parent


def _short(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0][:240] if text else ''}".rstrip(": ")


def run_spec(workload: str, case: str, spec, reference, quick: bool) -> tuple[Result, object]:
    """Build, check against `reference` (None: this is the reference) and time one entry."""
    fail = "unsupported" if spec.peer == "ccgrad" else "error"
    res = Result(workload, case, spec.peer, spec.variant, "ok")
    try:
        t = time.perf_counter()
        prep = spec.build()
        res.build = time.perf_counter() - t
        value = prep.call_for_check()
    except Exception as exc:  # every failure is a cell in the table
        res.status, res.message = fail, _short(exc)
        return res, None
    if reference is not None:
        err, why = max_rel_err(value, reference)
        res.max_rel_err = err
        if err > RTOL:
            res.status = "mismatch"
            res.message = why or f"max rel err {err:.2e} > {RTOL:g} (not timed)"
            return res, value
    else:
        res.max_rel_err = 0.0
    try:
        timing = time_call(prep, quick=quick)
    except Exception as exc:
        res.status, res.message = fail, "while timing: " + _short(exc)
        return res, value
    res.median, res.min = timing["median"], timing["min"]
    res.samples, res.number = timing["samples"], timing["number"]
    if "cpu_per_wall" in timing:
        res.extra["cpu_per_wall"] = round(timing["cpu_per_wall"], 2)
        res.extra["busy_threads"] = timing["busy_threads"]
    return res, value


def run_workload(wl, quick: bool, groups: list[str], emit: Callable[[Result], None] | None = None) -> list[Result]:
    """Run every selected case of `wl` in this process; numpy's entry is the reference."""
    results: list[Result] = []

    def out(r: Result) -> None:
        results.append(r)
        if emit is not None:
            emit(r)

    if wl.custom is not None:
        wl.custom(quick, groups, out)
        return results
    for case in wl.selected_cases(quick):
        inputs = wl.inputs(case.params)
        specs = wl.entries(case.params, inputs, groups)
        reference = None
        for spec in specs:
            if reference is None and spec.peer != "numpy":
                out(Result(wl.name, case.label, spec.peer, spec.variant, "skipped",
                           message="no numpy reference to check against"))
                continue
            res, value = run_spec(wl.name, case.label, spec, reference, quick)
            if reference is None:
                if res.status != "ok":
                    res.status = "reference-failed"
                else:
                    reference = value
            out(res)
            del value
            gc.collect()
        del inputs, specs, reference
        gc.collect()
    return results


# ---------------------------------------------------------------------------- isolation


def child_main(name: str, out_path: str, quick: bool, groups: list[str], threads: int) -> int:
    """Entry point of a workload's child process (env already configured by __main__)."""
    from benchmarks import threads as thr
    from benchmarks.workloads import registry

    with open(out_path, "a", encoding="utf-8") as fh:
        def emit(obj: dict) -> None:
            fh.write(json.dumps(obj) + "\n")
            fh.flush()

        emit({"kind": "threads", "report": thr.verify(threads), "loadavg": os.getloadavg()})
        wl = registry()[name]
        run_workload(wl, quick, groups, lambda r: emit({"kind": "result", **r.to_json()}))
        emit({"kind": "threads_after", "report": thr.verify(threads), "loadavg": os.getloadavg()})
    return 0


def run_isolated(name: str, quick: bool, groups: list[str], threads: int, timeout: float,
                 log: Callable[[str], None]) -> tuple[list[Result], dict]:
    """Run one workload in a child process; return its results and its thread reports."""
    fd, path = tempfile.mkstemp(prefix=f"bench-{name}-", suffix=".jsonl")
    os.close(fd)
    cmd = [sys.executable, "-m", "benchmarks", "--_child", name, "--_out", path, "--threads", str(threads),
           "--peers", ",".join(groups)] + (["--quick"] if quick else [])
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    proc = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, start_new_session=True)
    problem = ""
    try:
        output, _ = proc.communicate(timeout=timeout)
        if proc.returncode != 0:
            code = proc.returncode
            what = f"signal {-code}" if code < 0 else f"exit code {code}"
            tail = [ln for ln in (output or "").splitlines() if ln.strip()][-3:]
            problem = f"child process died ({what}): {' | '.join(tail)[:300]}"
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        problem = f"timeout after {timeout:.0f} s"
    results, meta = [], {}
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            try:
                obj = json.loads(line)
            except json.JSONDecodeError:
                continue
            kind = obj.pop("kind")
            if kind == "result":
                results.append(Result(**obj))
            else:
                meta[kind] = obj
    os.unlink(path)
    if problem:
        log(f"  {name}: {problem}")
        results.append(Result(name, "(rest of workload)", "ccgrad", "-", "crashed", message=problem))
    return results, meta
