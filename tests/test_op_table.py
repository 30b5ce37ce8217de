"""Every op against an independent numpy expression, and every gradient against finite
differences (see tests/optable.py)."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import ccgrad
from ccgrad import gradient
from ccgrad.graph import Op
from tests.optable import (
    all_cases,
    assert_fd_close,
    build,
    fd_jvp,
    fd_vjp,
    op_keys,
    ref_outputs,
)
from tests.tolerance import assert_close

CASES = all_cases()
GRAD_CASES = [c for c in CASES if c.can_grad()]


def _values(case, seed=0):
    rng = np.random.default_rng(zlib.crc32(case.id.encode()) + seed)
    return [a.make(rng) for a in case.args]


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_reference(case):
    if case.expect_error is not None:
        with pytest.raises(case.expect_error):
            inputs, outs = build(case)
            f = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore")
            f(*_values(case))
        return
    inputs, outs = build(case)
    f = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore", optimize=False)
    values = _values(case)
    got = f(*values)
    want = ref_outputs(case, values)
    assert len(got) == len(want)
    for o, g, w in zip(outs, got, want):
        assert g.dtype.name == o.dtype, f"type rule says {o.dtype}, perform gave {g.dtype}"
        assert g.ndim == o.ndim
        for axis, s in enumerate(o.type.shape):
            assert s is None or g.shape[axis] == s, f"static shape {o.type.shape} vs {g.shape}"
        assert_close(g, w.astype(g.dtype) if w.dtype != g.dtype else w, dtype=g.dtype,
                     rtol=case.rtol, atol=case.atol, what=case.id)


def _grad_setup(case):
    inputs, outs = build(case)
    idx = case.grad_args()
    values = _values(case, seed=1)
    fwd = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore")
    return inputs, outs, idx, values, fwd


def _float_outs(outs):
    return [o for o in outs if o.dtype in ("float32", "float64")]


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_vjp(case):
    inputs, outs, idx, values, fwd = _grad_setup(case)
    rng = np.random.default_rng(7)
    shapes = [np.shape(o) for o in fwd(*values)]
    projs = [rng.uniform(0.5, 1.5, size=s) for s in shapes]
    fouts = _float_outs(outs)
    pvars = [ccgrad.tensor.TensorType("float64", shape=(None,) * o.ndim)(f"p{i}") for i, o in enumerate(outs)]
    cost = sum(ccgrad.tensor.sum(o * p) for o, p in zip(outs, pvars) if o in fouts)
    g = gradient.grad(cost, [inputs[i] for i in idx], disconnected_inputs="ignore")
    gf = ccgrad.function(inputs + pvars, g, mode="py", on_unused_input="ignore")
    analytic = gf(*values, *projs)
    mask = [o in fouts for o in outs]
    numeric = fd_vjp(lambda *v: [np.asarray(r) for r, m in zip(fwd(*v), mask) if m], values, idx,
                     [p for p, m in zip(projs, mask) if m])
    for a, n, i in zip(analytic, numeric, idx):
        assert_fd_close(a, n, case.fd_tol, f"{case.id}: vjp wrt arg {i}")


@pytest.mark.parametrize("case", GRAD_CASES, ids=[c.id for c in GRAD_CASES])
def test_jvp(case):
    inputs, outs, idx, values, fwd = _grad_setup(case)
    rng = np.random.default_rng(8)
    tangents = [rng.uniform(-1, 1, size=values[i].shape) for i in idx]
    fouts = _float_outs(outs)
    tvars = [ccgrad.tensor.TensorType("float64", shape=inputs[i].type.shape)(f"t{i}") for i in idx]
    r = gradient.Rop(fouts, [inputs[i] for i in idx], tvars, disconnected_outputs="ignore")
    rf = ccgrad.function(inputs + tvars, r, mode="py", on_unused_input="ignore")
    analytic = rf(*values, *tangents)
    mask = [o in fouts for o in outs]
    numeric = fd_jvp(lambda *v: [np.asarray(x) for x, m in zip(fwd(*v), mask) if m], values, idx,
                     tangents)
    for a, n in zip(analytic, numeric):
        assert_fd_close(a, n, case.fd_tol, f"{case.id}: jvp")


@pytest.mark.parametrize("case", [c for c in GRAD_CASES if c.second],
                         ids=[c.id for c in GRAD_CASES if c.second])
def test_second_order(case):
    """grad of grad and Rop of grad against finite differences of the gradient."""
    inputs, outs, idx, values, fwd = _grad_setup(case)
    rng = np.random.default_rng(9)
    fouts = _float_outs(outs)
    shapes = [np.shape(o) for o, m in zip(fwd(*values), outs) if m in fouts]
    projs = [rng.uniform(0.5, 1.5, size=s) for s in shapes]
    pconsts = [ccgrad.tensor.constant(p) for p in projs]
    cost = sum(ccgrad.tensor.sum(o * p) for o, p in zip(fouts, pconsts))
    wrt = [inputs[i] for i in idx]
    g = gradient.grad(cost, wrt, disconnected_inputs="ignore")
    gfun = ccgrad.function(inputs, g, mode="py", on_unused_input="ignore")
    # Rop of grad (forward over reverse)
    tangents = [rng.uniform(-1, 1, size=values[i].shape) for i in idx]
    tvars = [ccgrad.tensor.TensorType("float64", shape=w.type.shape)(f"t{i}") for i, w in zip(idx, wrt)]
    hv = gradient.Rop(g, wrt, tvars, disconnected_outputs="ignore")
    hvf = ccgrad.function(inputs + tvars, hv, mode="py", on_unused_input="ignore")
    analytic = hvf(*values, *tangents)
    numeric = fd_jvp(lambda *v: gfun(*v), values, idx, tangents)
    for a, n in zip(analytic, numeric):
        assert_fd_close(a, n, 10 * case.fd_tol, f"{case.id}: Rop of grad")
    # grad of grad (reverse over reverse): d/dx sum(g * w)
    ws = [rng.uniform(0.5, 1.5, size=values[i].shape) for i in idx]
    cost2 = sum(ccgrad.tensor.sum(gi * ccgrad.tensor.constant(w)) for gi, w in zip(g, ws))
    gg = gradient.grad(cost2, wrt, disconnected_inputs="ignore")
    ggf = ccgrad.function(inputs, gg, mode="py", on_unused_input="ignore")
    analytic = ggf(*values)
    numeric = fd_vjp(lambda *v: [np.asarray(x) for x in gfun(*v)], values, idx, ws)
    for a, n in zip(analytic, numeric):
        assert_fd_close(a, n, 10 * case.fd_tol, f"{case.id}: grad of grad")


def _all_op_keys() -> set[str]:
    import ccgrad.ops  # noqa: F401
    from ccgrad.ops.scalar import SCALAR_OPS

    keys = {"scalar:" + name for name in SCALAR_OPS} | {"scalar:cast"}

    def walk(cls):
        for sub in cls.__subclasses__():
            if sub.__module__.startswith("ccgrad.ops") and not getattr(sub, "abstract", False):
                keys.add(sub.__name__)
            walk(sub)

    walk(Op)
    keys.discard("Elemwise")
    return keys


def test_every_op_has_a_case():
    covered = set()
    for case in CASES:
        if case.expect_error is None:
            covered |= op_keys(build(case)[1])
    missing = sorted(_all_op_keys() - covered)
    assert not missing, f"ops without a case in the op table: {missing}"
