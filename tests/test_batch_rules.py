"""Batch rules (the sixth fact of every op, DESIGN §3): for every op-table case and several
patterns of batched inputs (all of them, and each alone), the graph rebuilt by
`vectorize_graph` equals a Python loop over the batch evaluating the unbatched graph (py mode).

A rule that refuses a pattern (NotImplementedError) fails the test unless the op and pattern
are listed below with a reason: either the result would be ragged (an inherent limit, as in
JAX) or a known gap (reported, xfail).
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import FunctionGraph, TensorType
from ccgrad.vectorize import NotBatchableError, vectorize_graph, vectorize_graph_flags
from tests.optable import all_cases, build, op_keys
from tests.tolerance import assert_close

B = 3  # batch size
CASES = [c for c in all_cases() if c.expect_error is None]
pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered:RuntimeWarning")  # NaN-vs-NaN compares


def _patterns(case) -> list[tuple[int, ...]]:
    n = len(case.args)
    if n == 0:
        return []
    pats = [tuple(range(n))]
    if n > 1:
        pats += [(i,) for i in range(n)]
    return pats


PARAMS = [(c, p, False) for c in CASES for p in _patterns(c)]
IDS = [f"{c.id}-b{''.join(map(str, p))}" for c, p, _ in PARAMS]
# Also every case with all inputs batched along an axis of static length B.
PARAMS += [(c, p[0], True) for c in CASES if (p := _patterns(c))]
IDS += [f"{c.id}-static" for c, p, s in PARAMS[len(IDS):]]


def _slice_field_batched(node, flags, first: int) -> bool:
    """Is a batched index input of this (read or write) subtensor node a slice bound?"""
    from ccgrad.ops.subtensor import _fields

    return any(is_slice and b for (_, is_slice), b in zip(_fields(node.op.spec), flags[first:]))


RAGGED = "the batch elements could have different shapes (a ragged result; JAX refuses it too)"
WRITE_GAP = ("a batched (non-slice) index of a write: not implemented in ccgrad/ops/subtensor.py "
             "(_Inc.batch); expressible as an AdvancedIncSubtensor with an arange over the batch axis")


def _write_refusal(node, flags, exc):
    if _slice_field_batched(node, flags, 2):
        return "a batched slice bound of a write: " + RAGGED, False
    if any(flags[2:]):
        return WRITE_GAP, True
    return None


def _read_refusal(node, flags, exc):
    return ("a batched slice bound: " + RAGGED, False) if _slice_field_batched(node, flags, 1) else None


def _when(pred, reason):
    return lambda node, flags, exc: (reason, False) if pred(flags) else None


def _scan_refusal(node, flags, exc):
    if flags[0]:
        return "a batched number of steps: " + RAGGED, False
    if node.op.as_while and "until" in str(exc):
        return "an `until` condition that depends on batched values stops each batch element at its own step: " + \
            RAGGED, False
    return None


# op class -> refusal(node, flags, exc): None when the rule must work, else (reason, known gap?).
NOT_BATCHABLE = {
    "Alloc": _when(lambda f: any(f[1:]), "a batched target shape: " + RAGGED),
    "Reshape": _when(lambda f: any(f[1:]), "a batched target shape: " + RAGGED),
    "ARange": _when(any, "batched start/stop/step: " + RAGGED),
    "Eye": _when(any, "batched sizes: " + RAGGED),
    "BandedMatrix": _when(lambda f: f[0] or f[1], "batched sizes: " + RAGGED),
    "OneHot": _when(lambda f: f[1], "a batched number of classes: " + RAGGED),
    "Subtensor": _read_refusal,
    "AdvancedSubtensor": _read_refusal,
    "AdvancedSubtensor1": _read_refusal,
    "IncSubtensor": _write_refusal,
    "AdvancedIncSubtensor1": _write_refusal,
    "AdvancedIncSubtensor": _write_refusal,
    "Scan": _scan_refusal,
}


def _values(case, pattern, seed=0):
    """One value per arg: a stack of B draws for batched args, one draw otherwise."""
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + seed)
    vals = []
    for i, a in enumerate(case.args):
        if i in pattern:
            vals.append(np.stack([np.asarray(a.make(rng)) for _ in range(B)]))
        else:
            vals.append(a.make(rng))
    return vals


def _batched_graph(case, pattern, trace=None, static_batch=False):
    inputs, outs = build(case)
    lead = (B if static_batch else None,)
    bvars = {inputs[i]: TensorType(inputs[i].dtype, shape=lead + inputs[i].type.shape)(f"b{i}") for i in pattern}
    new, flags = vectorize_graph_flags(outs, bvars, trace=trace)
    new_inputs = [bvars.get(v, v) for v in inputs]
    return inputs, outs, new_inputs, new, flags


@pytest.mark.parametrize(("case", "pattern", "static_batch"), PARAMS, ids=IDS)
def test_batch_rule(case, pattern, static_batch):
    try:
        inputs, outs, new_inputs, new, flags = _batched_graph(case, pattern, static_batch=static_batch)
    except NotBatchableError as exc:
        name = type(exc.node.op).__name__
        refusal = NOT_BATCHABLE.get(name, lambda node, flags, exc: None)(exc.node, exc.batched, exc)
        if refusal is None:
            raise
        if refusal[1]:
            pytest.xfail(f"{name}: {refusal[0]}")
        return  # an inherent limit, refused as it should be
    # Static shapes survive batching: the trailing axes keep every length the type rule knew.
    for o, n, b in zip(outs, new, flags):
        shape = n.type.shape[1:] if b else n.type.shape
        for axis, (s, t) in enumerate(zip(o.type.shape, shape)):
            assert s is None or s == t, (
                f"{case.id}: output static shape {o.type.shape} became {n.type.shape} (batched={b}) "
                f"-- the batch rule lost the static length of axis {axis}"
            )
    values = _values(case, pattern)
    fb = ccgrad.function(new_inputs, new, mode="py", optimize=False, on_unused_input="ignore")
    got = fb(*values)
    f1 = ccgrad.function(inputs, outs, mode="py", optimize=False, on_unused_input="ignore")
    loop = [f1(*[v[k] if i in pattern else v for i, v in enumerate(values)]) for k in range(B)]
    for j, (o, g, b) in enumerate(zip(outs, got, flags)):
        assert g.dtype.name == o.dtype
        if b:
            want = np.stack([np.asarray(res[j]) for res in loop]) if loop else None
            assert_close(g, want, dtype=o.dtype, what=f"{case.id} output {j}")
        else:
            for res in loop:
                assert_close(g, np.asarray(res[j]), dtype=o.dtype, what=f"{case.id} output {j} (unbatched)")


def test_every_op_batch_rule_is_exercised():
    """Every op of the op table has its batch rule called by some case with some input batched."""
    table: set[str] = set()
    exercised: set[str] = set()
    for case, pattern, _ in PARAMS:
        table |= op_keys(build(case)[1])
        trace: list = []
        try:
            _batched_graph(case, pattern, trace)
        except NotImplementedError:
            pass
        for node, _ in trace:
            exercised |= op_keys(node.outputs)
    missing = sorted(table - exercised)
    assert not missing, f"ops whose batch rule no case exercises: {missing}"


def test_unbatched_subgraph_is_shared():
    x = T.dvector("x")
    w = T.dmatrix("w")
    h = T.tanh(T.dot(w, x))  # does not depend on the batched input
    u = T.dvector("u")
    out = T.dot(u * h, w)
    ub = T.dmatrix("ub")
    new = vectorize_graph(out, {u: ub})
    assert new.ndim == 2
    # h is reused as is, not rebuilt.
    from ccgrad.graph import ancestors

    assert any(v is h for v in ancestors([new]))
    rng = np.random.default_rng(0)
    xv, wv, ubv = rng.normal(size=3), rng.normal(size=(4, 3)), rng.normal(size=(5, 4))
    got = ccgrad.function([x, w, ub], new, mode="py")(xv, wv, ubv)
    assert_close(got, (ubv * np.tanh(wv @ xv)) @ wv)


def test_unbatched_outputs_and_broadcast():
    x = T.dvector("x")
    y = T.dvector("y")
    xb = T.dmatrix("xb")
    a, b = vectorize_graph([x * 2, y + 1], {x: xb})
    assert a.ndim == 2 and b is not None and b.ndim == 1
    a, b = vectorize_graph([x * 2, y + 1], {x: xb}, broadcast_unbatched=True)
    assert b.ndim == 2
    got = ccgrad.function([xb, y], [a, b], mode="py")(np.ones((2, 3)), np.arange(3.0))
    assert_close(got[1], np.tile(np.arange(3.0) + 1, (2, 1)))


def test_bad_replacement_rejected():
    x = T.dvector("x")
    with pytest.raises(ValueError, match="one more"):
        vectorize_graph(x * 2, {x: T.dvector("xb")})
    with pytest.raises(TypeError, match="float32"):
        vectorize_graph(x * 2, {x: T.fmatrix("xb")})


def test_fused_batch_rule():
    """Fused regions (made by the optimizer, so not in the op table) batch like their expansion."""
    from ccgrad.rewrite import optimize

    x = T.dmatrix("x")
    y = T.dvector("y")
    outs = [T.exp(x) * y + 1.0, T.sum(T.exp(x) * y, axis=1), T.sum(x * x)]
    fg = optimize(FunctionGraph([x, y], outs))
    kinds = {type(n.op).__name__ for n in fg.toposort()}
    if "Fused" not in kinds:
        pytest.skip(f"the optimizer made no Fused node here ({sorted(kinds)})")
    rng = np.random.default_rng(3)
    xv, yv = rng.normal(size=(B, 2, 3)), rng.normal(size=(B, 3))
    for pattern in ((0, 1), (0,), (1,)):
        xb, yb = T.tensor3("xb", dtype="float64"), T.dmatrix("yb")
        rep = {}
        if 0 in pattern:
            rep[x] = xb
        if 1 in pattern:
            rep[y] = yb
        new, flags = vectorize_graph_flags(fg.outputs, rep)
        ins = [xb if 0 in pattern else x, yb if 1 in pattern else y]
        got = ccgrad.function(ins, new, mode="py", optimize=False, on_unused_input="ignore")(
            xv if 0 in pattern else xv[0], yv if 1 in pattern else yv[0])
        f1 = ccgrad.function([x, y], outs, mode="py", optimize=False)
        loop = [f1(xv[k] if 0 in pattern else xv[0], yv[k] if 1 in pattern else yv[0]) for k in range(B)]
        for j, (g, b) in enumerate(zip(got, flags)):
            want = np.stack([r[j] for r in loop]) if b else loop[0][j]
            assert_close(g, want, what=f"Fused output {j}, pattern {pattern}")
