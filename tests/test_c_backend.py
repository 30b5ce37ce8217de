"""Every op-table case through the C backend, against the numpy reference evaluator.

One compiled function per case computes the case's outputs and, for differentiable float64
cases, a vector-Jacobian and a Jacobian-vector product, so gradients run in C too.  Each
function is called on C-contiguous, Fortran-order, strided and reversed copies of its inputs.
"""

from __future__ import annotations

import zlib

import numpy as np
import pytest

import ccgrad
from ccgrad import gradient
from ccgrad.graph import TensorType
from tests.optable import all_cases, build, relayout
from tests.tolerance import assert_close

CASES = [c for c in all_cases() if c.expect_error is None]


def _graph(case):
    inputs, outs = build(case)
    extra_in, extra_out = [], []
    if case.can_grad():
        idx = case.grad_args()
        fouts = [o for o in outs if o.dtype in ("float32", "float64")]
        projs = [TensorType(o.dtype, shape=(None,) * o.ndim)(f"proj{i}") for i, o in enumerate(fouts)]
        cost = sum(ccgrad.tensor.sum(o * p) for o, p in zip(fouts, projs))
        wrt = [inputs[i] for i in idx]
        extra_out += gradient.grad(cost, wrt, disconnected_inputs="ignore")
        tans = [TensorType("float64", shape=inputs[i].type.shape)(f"tan{i}") for i in idx]
        extra_out += gradient.Rop(fouts, wrt, tans, disconnected_outputs="ignore")
        extra_in = projs + tans
    return inputs + extra_in, outs + extra_out, len(inputs), outs


def _values(case, inputs, n_case_inputs, case_outs, rng):
    vals = [a.make(rng) for a in case.args]
    fwd = ccgrad.function(inputs[:n_case_inputs], case_outs, mode="py", on_unused_input="ignore")
    outs = fwd(*vals)
    outs = [o for o in outs if o.dtype in (np.float32, np.float64)]
    for v in inputs[n_case_inputs:]:
        if v.name.startswith("proj"):
            shape = outs[int(v.name[4:])].shape
        else:
            shape = vals[int(v.name[3:])].shape
        vals.append(rng.uniform(0.5, 1.5, size=shape).astype(v.dtype))
    return vals


@pytest.mark.parametrize("case", CASES, ids=[c.id for c in CASES])
def test_case_in_c(case):
    inputs, outs, n, case_outs = _graph(case)
    rng = np.random.default_rng(zlib.crc32(case.id.encode()))
    vals = _values(case, inputs, n, case_outs, rng)
    ref = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore", optimize=False)
    want = ref(*vals)
    for optimize in (False, True):
        f = ccgrad.function(inputs, outs, mode="c", on_unused_input="ignore", optimize=optimize)
        for layout in ("c", "f", "strided", "reversed"):
            args = [relayout(np.asarray(v), layout) for v in vals]
            got = f(*args)
            for k, (g, w) in enumerate(zip(got, want)):
                assert g.dtype == w.dtype, f"output {k}: C dtype {g.dtype}, reference {w.dtype}"
                scale = None
                if g.dtype.kind == "f" and (optimize or k >= len(case_outs)):
                    # reassociated sums: measure the error against the size of the terms
                    scale = np.maximum(np.abs(w), 1.0)
                assert_close(g, w, dtype=w.dtype, scale=scale, rtol=case.rtol, atol=case.atol,
                             what=f"{case.id} output {k} (optimize={optimize}, layout={layout})")
