"""Differential checks of one random batch (randgraph.py): the compiled C function against the
*unoptimized* graph in the reference evaluator, derivatives against central finite differences,
and exact AD identities.  Returns counts and mismatch descriptions instead of raising, so a run
reports every mismatch it finds."""

from __future__ import annotations

import numpy as np

import ccgrad
from ccgrad.evaluate import evaluate
from ccgrad.graph import FunctionGraph
from tests.reliability.randgraph import Batch

EPS = 1e-6
FD_TOL = 1e-5  # abs and rel, as the op table (tests/optable.py)
RTOL = {"float64": 1e-10, "float32": 1e-5}


def _graph_scale(batch: Batch, gi: int) -> float:
    """Largest |value| among the reference graph's intermediates for graph gi (DESIGN §8: errors of
    reassociated results are measured against the magnitude of the terms)."""
    outs = list(batch.graphs[gi].outputs.values())
    fg = FunctionGraph(batch.inputs, outs)
    allv = [o for n in fg.toposort() for o in n.outputs]
    with np.errstate(all="ignore"):
        got = evaluate(allv, dict(zip(batch.inputs, batch.values))) if allv else []
    big = 1.0
    for g in got:
        g = np.asarray(g)
        if g.dtype.kind == "f" and g.size:
            fin = g[np.isfinite(g)]
            if fin.size:
                big = max(big, float(np.max(np.abs(fin))))
    return big


def _value_mismatch(got: np.ndarray, want: np.ndarray, rtol: float, scale: float) -> str | None:
    got, want = np.asarray(got), np.asarray(want)
    if got.shape != want.shape or got.dtype != want.dtype:
        return f"{got.dtype}{got.shape} vs reference {want.dtype}{want.shape}"
    if not np.array_equal(np.isnan(got), np.isnan(want)):
        return "NaN positions differ"
    fin = np.isfinite(want)
    if not np.array_equal(got[~fin & ~np.isnan(want)], want[~fin & ~np.isnan(want)]):
        return "inf positions differ"
    err = np.abs(got[fin].astype(np.float64) - want[fin].astype(np.float64))
    if err.size and float(err.max()) > rtol * scale:
        return f"max error {float(err.max()):.3g} > {rtol:g} x scale {scale:.3g}"
    return None


def _fd_mismatch(analytic, numeric) -> str | None:
    a = np.asarray(analytic, dtype=np.float64)
    n = np.asarray(numeric, dtype=np.float64)
    if a.shape != n.shape:
        return f"shape {a.shape} vs finite differences {n.shape}"
    if not (np.all(np.isfinite(a)) and np.all(np.isfinite(n))):
        return None if np.array_equal(a, n) else "non-finite derivative"
    abs_err = np.abs(a - n)
    rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-8)
    bad = (abs_err > FD_TOL) & (rel_err > FD_TOL)
    if np.any(bad):
        k = int(np.argmax(np.where(bad, abs_err, 0)))
        return f"analytic {a.reshape(-1)[k]!r} vs numeric {n.reshape(-1)[k]!r}"
    return None


def check_batch(batch: Batch, fd: bool = True) -> dict:
    """Compile the batch in C, compare; returns {'checks': n, 'mismatches': [...], ...}."""
    fc = ccgrad.function(batch.inputs, batch.outputs, mode="c", on_unused_input="ignore")
    fr = ccgrad.function(batch.inputs, batch.outputs, mode="py", optimize=False, on_unused_input="ignore")
    with np.errstate(all="ignore"):
        got = fc(*batch.values)
        want = fr(*batch.values)
    rtol = RTOL[batch.dtype]
    mismatches: list[str] = []
    checks = 0
    scales = {gi: _graph_scale(batch, gi) for gi in range(len(batch.graphs))}
    by_graph: dict[int, dict[str, np.ndarray]] = {}
    for (gi, name), g, w in zip(batch.labels, got, want):
        checks += 1
        by_graph.setdefault(gi, {})[name] = g
        problem = _value_mismatch(g, w, rtol, scales[gi])
        if problem:
            mismatches.append(f"graph {gi} {batch.graphs[gi].desc} {name}: C vs reference: {problem}")
    if not fd or batch.dtype != "float64":
        return {"checks": checks, "mismatches": mismatches, "graphs": len(batch.graphs)}
    # Central differences along the batch's directions d (the Rop/HVP tangents).
    plus = [x + EPS * d for x, d in zip(batch.values, batch.directions)]
    minus = [x - EPS * d for x, d in zip(batch.values, batch.directions)]
    with np.errstate(all="ignore"):
        hi, lo = fc(*plus), fc(*minus)
    at = {lab: (h, low) for lab, h, low in zip(batch.labels, hi, lo)}
    for gi, g in enumerate(batch.graphs):
        outs = by_graph[gi]
        d = batch.directions

        def fdiff(name):
            h, low = at[(gi, name)]
            return (np.asarray(h, np.float64) - np.asarray(low, np.float64)) / (2 * EPS)

        def report(what, problem):
            if problem:
                mismatches.append(f"graph {gi} {g.desc} {what}: {problem}")

        # grad . d  vs  d cost along d
        directional = sum(float(np.sum(outs[f"grad{i}"] * d[i])) for i in g.wrt)
        report("grad vs FD", _fd_mismatch(directional, fdiff("cost")))
        # Rop(e, d)  vs  d e along d
        report("Rop vs FD", _fd_mismatch(outs["rop"], fdiff("value")))
        # HVP = Rop(grad, d)  vs  d grad along d
        for i in g.wrt:
            report(f"HVP[{i}] vs FD of grad", _fd_mismatch(outs[f"hvp{i}"], fdiff(f"grad{i}")))
        # <U, Rop(e, d)> == sum_i <Lop_i(U), d_i>  (exact identity)
        lhs = float(np.sum(g.lop_point * outs["rop"]))
        rhs = sum(float(np.sum(outs[f"lop{i}"] * d[i])) for i in g.wrt)
        tol = 1e-9 * (1 + abs(lhs) + scales[gi])
        if abs(lhs - rhs) > tol:
            mismatches.append(f"graph {gi} {g.desc}: <U, Rop> {lhs!r} != sum <Lop, d> {rhs!r}")
        if "hess2" in outs:
            H = np.asarray(outs["hess2"])
            if not np.allclose(H, H.T, rtol=1e-9, atol=1e-9 * scales[gi]):
                mismatches.append(f"graph {gi} {g.desc}: Hessian not symmetric")
            hv = H @ d[2]
            # with other inputs in wrt, the HVP also has cross terms: compare only for v alone
            if g.wrt == [2] and not np.allclose(hv, outs["hvp2"], rtol=1e-8, atol=1e-9 * scales[gi]):
                mismatches.append(f"graph {gi} {g.desc}: Hessian @ d != HVP")
        checks += 4 + len(g.wrt) + (2 if "hess2" in outs else 0)
    return {"checks": checks, "mismatches": mismatches, "graphs": len(batch.graphs)}
