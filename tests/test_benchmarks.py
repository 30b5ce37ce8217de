"""The benchmark suite cannot rot: a wrong ccgrad result is reported as a mismatch (never timed),
a ccgrad failure is an "unsupported" cell (never a crash), and `python -m benchmarks --quick` runs
a cheap workload end to end."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import ccgrad
from benchmarks.measure import max_rel_err
from benchmarks.run import run_workload
from benchmarks.workloads import registry

ROOT = Path(__file__).resolve().parent.parent


def _by_peer(results):
    return {(r.peer, r.variant): r for r in results}


def test_wrong_ccgrad_result_is_reported_as_mismatch(monkeypatch):
    real = ccgrad.function

    def wrong_function(*args, **kwargs):
        f = real(*args, **kwargs)
        return lambda *a: np.asarray(f(*a)) * 1.001  # a 0.1 % error

    monkeypatch.setattr(ccgrad, "function", wrong_function)
    results = run_workload(registry()["logistic_grad"], quick=True, groups=["numpy"])
    cells = _by_peer(results)
    bad = cells[("ccgrad", "grad")]
    assert bad.status == "mismatch"
    assert bad.median is None and bad.samples == 0  # not timed
    assert bad.max_rel_err > 1e-4
    assert cells[("numpy", "hand")].status == "ok"


def test_ccgrad_failure_is_an_unsupported_cell(monkeypatch):
    def broken(*args, **kwargs):
        raise NotImplementedError("no C emission for SomeOp")

    monkeypatch.setattr(ccgrad, "function", broken)
    results = run_workload(registry()["call_overhead"], quick=True, groups=["numpy"])
    mine = [r for r in results if r.peer == "ccgrad"]
    assert mine and all(r.status == "unsupported" for r in mine)
    assert "NotImplementedError: no C emission for SomeOp" in mine[0].message
    assert all(r.status == "ok" for r in results if r.peer == "numpy")


def test_max_rel_err_catches_structure_and_nan_differences():
    a = np.array([1.0, 2.0, np.nan])
    assert max_rel_err(a, a)[0] == 0.0
    assert max_rel_err(np.array([1.0, 2.0, 3.0]), a)[0] == np.inf
    assert max_rel_err([a], [a, a])[0] == np.inf
    assert max_rel_err(np.ones(3), np.ones(4))[0] == np.inf
    assert max_rel_err(np.array(2.0), np.array([2.0]))[0] == 0.0
    assert abs(max_rel_err(np.array([1.0, 4.0]), np.array([1.0, 4.4]))[0] - 0.4 / 4.4) < 1e-12


def test_quick_run_of_one_workload(tmp_path):
    out = tmp_path / "quick.json"
    cmd = [sys.executable, "-m", "benchmarks", "--quick", "--only", "call_overhead", "--peers", "numpy",
           "--no-scripts", "--json", str(out), "--plot", str(tmp_path / "quick.png")]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "### call_overhead" in proc.stdout
    data = json.loads(out.read_text())
    assert data["meta"]["threads"]["expected"] == 1
    cells = {(r["case"], r["peer"], r["variant"]): r for r in data["results"]}
    assert cells[("scalar", "numpy", "hand: 2*x")]["status"] == "ok"
    ours = [r for r in data["results"] if r["peer"] == "ccgrad"]
    assert len(ours) == 4  # scalar/vec3 x checks on/trust_input
    assert all(r["status"] in ("ok", "unsupported") for r in ours), ours
    assert not [r for r in data["results"] if r["status"] in ("mismatch", "crashed")]


@pytest.mark.parametrize("name", sorted(registry()))
def test_every_workload_has_a_quick_case(name):
    wl = registry()[name]
    assert wl.selected_cases(quick=True)
    assert wl.entries is not None or wl.custom is not None


def test_a_dying_workload_process_is_a_crashed_row_not_a_crash():
    from benchmarks.run import run_isolated

    messages = []
    results, _ = run_isolated("no_such_workload", True, ["numpy"], 1, 120, messages.append)
    assert [r.status for r in results] == ["crashed"]
    assert "KeyError" in results[0].message and messages
