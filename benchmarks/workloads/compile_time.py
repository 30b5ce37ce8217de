"""Compile time in fresh processes: `import` time, cold (empty cache dir) and warm (same dir again)
time from after the import to the first result (graph build + function() + first call), and the
in-process repeat of function() on the same graph.  Logistic gradient on 1000 elements; the MLP
gradient too in a full run.  Each probe is `python -m benchmarks.compile_probe` with its own cache
directory (CCGRAD_CACHE_DIR / PYTENSOR_FLAGS=base_compiledir / jax_compilation_cache_dir)."""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks.graphs import MLP_ARGS
from benchmarks.measure import RTOL, Result, max_rel_err
from benchmarks.workloads import Case, Workload
from benchmarks.workloads.elementwise import np_logistic_grad
from benchmarks.workloads.models import _mlp_inputs, np_mlp_grad

ROOT = Path(__file__).resolve().parents[2]
NAME = "compile"
PROBE_TIMEOUT = 600


def _graphs(quick: bool) -> list[dict]:
    x = np.linspace(-3.0, 3.0, 1000)
    out = [{"label": "logistic 1e3", "graph": "logistic", "inputs": {"x": x}, "arg_names": ["x"],
            "ref": np_logistic_grad(x), "reps": 1 if quick else 3}]
    if not quick:
        inp = _mlp_inputs({"sizes": (256, 784, 256, 10)})
        out.append({"label": "MLP 256x784x256x10", "graph": "mlp", "inputs": inp, "arg_names": list(MLP_ARGS),
                    "ref": np_mlp_grad(*(inp[k] for k in MLP_ARGS)), "reps": 1})
    return out


def _probe(peer: str, g: dict, inputs_path: str, cache: str, out_path: str, repeat: int) -> dict:
    env = dict(os.environ)
    env["CCGRAD_CACHE_DIR"] = os.path.join(cache, "ccgrad")
    env["PYTENSOR_FLAGS"] = f"base_compiledir={os.path.join(cache, 'pytensor')}"
    env["NUMBA_CACHE_DIR"] = os.path.join(cache, "numba")
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    spec = {"peer": peer, "graph": g["graph"], "inputs": inputs_path, "arg_names": g["arg_names"],
            "out": out_path, "jax_cache": os.path.join(cache, "jax"), "repeat": repeat}
    t = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "benchmarks.compile_probe", json.dumps(spec)], env=env,
                          cwd=str(ROOT), capture_output=True, text=True, timeout=PROBE_TIMEOUT)
    wall = time.perf_counter() - t
    if proc.returncode != 0:
        tail = [ln for ln in proc.stderr.strip().splitlines() if ln.strip()]
        raise RuntimeError(tail[-1] if tail else f"probe exited with {proc.returncode}")
    res = json.loads(proc.stdout.strip().splitlines()[-1])
    res["wall"] = wall
    with np.load(out_path) as data:
        res["value"] = [data[k] for k in sorted(data.files, key=lambda s: int(s.split("_")[1]))]
    return res


def _summary(values: list[float]) -> dict:
    return {"median": statistics.median(values), "min": min(values), "samples": len(values)} if values else {}


def _compile_bytecode() -> None:
    """Write ccgrad's .pyc files first, as `pip install` does for the peers (and for ccgrad from
    a wheel): an editable checkout run with PYTHONDONTWRITEBYTECODE=1 would otherwise compile
    every module from source on each import (~150 ms instead of ~75)."""
    import compileall

    compileall.compile_dir(str(ROOT / "ccgrad"), quiet=1)


def run(quick: bool, groups: list[str], emit) -> None:
    """Probe every peer on every graph; emit one Result per (phase, peer)."""
    peers = ["ccgrad"]
    _compile_bytecode()
    if "pytensor" in groups:
        peers += ["pytensor_c", "pytensor"]
    if "jax" in groups:
        peers.append("jax")
    with tempfile.TemporaryDirectory(prefix="ccgrad-bench-compile-") as tmp:
        for gi, g in enumerate(_graphs(quick)):
            inputs_path = os.path.join(tmp, f"inputs_{g['graph']}.npz")
            np.savez(inputs_path, **g["inputs"])
            for peer in peers:
                _probe_peer(peer, g, gi == 0, inputs_path, tmp, emit)


def _probe_peer(peer: str, g: dict, with_import: bool, inputs_path: str, tmp: str, emit) -> None:
    times: dict[str, list[float]] = {"import": [], "cold": [], "warm": [], "repeat": []}
    worst, why, walls = 0.0, "", []
    status, message = "ok", ""
    try:
        for _ in range(g["reps"]):
            cache = tempfile.mkdtemp(dir=tmp)  # fresh and empty: 0700
            out_path = os.path.join(cache, "out.npz")
            for phase in ("cold", "warm"):
                repeat = 5 if phase == "warm" and peer != "jax" else 0
                r = _probe(peer, g, inputs_path, cache, out_path, repeat)
                times["import"].append(r["import"])
                times[phase].append(r["first"])
                times["repeat"] += r["repeat"]
                walls.append(r["wall"])
                err, reason = max_rel_err(r["value"], g["ref"])
                if err > worst:
                    worst, why = err, reason
    except Exception as exc:  # a failing probe is a cell, never a crash
        status = "unsupported" if peer == "ccgrad" else "error"
        message = f"{type(exc).__name__}: {str(exc).strip()[:300]}"
    if status == "ok" and worst > RTOL:
        status, message = "mismatch", why or f"max rel err {worst:.2e} > {RTOL:g}"
    rows = [("import", "import"), (f"cold: {g['label']}", "cold"), (f"warm: {g['label']}", "warm"),
            (f"repeat function(): {g['label']}", "repeat")]
    for case, key in rows:
        if key == "import" and not with_import:
            continue
        if key == "repeat" and peer == "jax":
            continue
        timed = _summary(times[key]) if status == "ok" else {}
        emit(Result(NAME, case, peer, "fresh process" if key != "repeat" else "same process", status,
                    max_rel_err=worst if status != "error" else None, message=message,
                    extra={"process_wall": statistics.median(walls)} if walls and key == "cold" else {},
                    **timed))


def compile_time() -> Workload:
    return Workload(
        name=NAME,
        title="Compile time (fresh processes, separate cache dirs): import, cold and warm time to first result",
        cases=[Case("logistic 1e3", {}, quick=True), Case("MLP 256x784x256x10", {})],
        custom=run,
    )
