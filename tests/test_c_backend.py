"""Every op-table case through the C backend, against the numpy reference evaluator.

Each case contributes its outputs and, for differentiable float64 cases, a vector-Jacobian and
a Jacobian-vector product, so gradients run in C too.  Cases are batched: one compiled function
holds ~30 cases (unoptimized graph, then optimized graph), called on C-contiguous,
Fortran-order, strided and reversed copies of its inputs.  A batch that fails to build is
retried case by case, so a failure always names its case.
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
BATCH = 30
BATCHES = [CASES[i: i + BATCH] for i in range(0, len(CASES), BATCH)]
LAYOUTS = ("c", "f", "strided", "reversed")


class Prepared:
    """One case's graph (outputs + gradient products) and its input values."""

    def __init__(self, case):
        self.case = case
        inputs, outs = build(case)
        self.n_case_outs = len(outs)
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
        self.inputs = inputs + extra_in
        self.outputs = outs + extra_out
        rng = np.random.default_rng(zlib.crc32(case.id.encode()))
        vals = [a.make(rng) for a in case.args]
        if extra_in:
            fwd = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore")
            got = fwd(*vals)
            fouts_v = [o for o in got if o.dtype in (np.float32, np.float64)]
            for v in extra_in:
                shape = fouts_v[int(v.name[4:])].shape if v.name.startswith("proj") else vals[int(v.name[3:])].shape
                vals.append(rng.uniform(0.5, 1.5, size=shape).astype(v.dtype))
        self.values = vals


def _check(preps: list[Prepared]) -> None:
    inputs = [v for p in preps for v in p.inputs]
    outputs = [o for p in preps for o in p.outputs]
    values = [v for p in preps for v in p.values]
    ref = ccgrad.function(inputs, outputs, mode="py", on_unused_input="ignore", optimize=False)
    want = ref(*values)
    for optimize in (False, True):
        f = ccgrad.function(inputs, outputs, mode="c", on_unused_input="ignore", optimize=optimize)
        for layout in LAYOUTS:
            got = f(*[relayout(np.asarray(v), layout) for v in values])
            k = 0
            for p in preps:
                for i in range(len(p.outputs)):
                    g, w = got[k], want[k]
                    k += 1
                    what = f"{p.case.id} output {i} (optimize={optimize}, layout={layout})"
                    assert g.dtype == w.dtype, f"{what}: C dtype {g.dtype}, reference {w.dtype}"
                    scale = None
                    if g.dtype.kind == "f" and (optimize or i >= p.n_case_outs):
                        # reassociated sums: measure the error against the size of the terms
                        scale = np.maximum(np.abs(w), 1.0)
                    assert_close(g, w, dtype=w.dtype, scale=scale, rtol=p.case.rtol, atol=p.case.atol, what=what)


@pytest.mark.parametrize("batch", BATCHES, ids=[f"{b[0].id}..{b[-1].id}" for b in BATCHES])
def test_cases_in_c(batch):
    preps = [Prepared(c) for c in batch]
    try:
        _check(preps)
    except Exception:
        # find the guilty case(s): run each alone, reporting the first failure with its id
        for p in preps:
            _check([p])
        raise
