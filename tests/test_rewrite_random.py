"""Property test: random graphs (elementwise, reductions, dimshuffles, the patterns the rules
look for) and their gradients evaluate to the same values after optimization as the
*unoptimized* graph in mode="py", within the tolerance policy (errors measured against the
largest intermediate magnitude, since rewrites reassociate and refactor)."""

from __future__ import annotations

import numpy as np
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import ccgrad
import ccgrad.tensor as T
from ccgrad.evaluate import evaluate
from ccgrad.graph import FunctionGraph
from ccgrad.printing import debugprint
from ccgrad.rewrite import optimize
from tests.test_rewrite_util import keys, strict_rewrites  # noqa: F401
from tests.tolerance import assert_close

SHAPES = {"a": (3, 4), "r": (1, 4), "c": (3, 1), "s": ()}


def _inputs(dtype: str):
    return [
        T.TensorType(dtype, shape=(None, None))("a"),
        T.TensorType(dtype, shape=(1, None))("r"),
        T.TensorType(dtype, shape=(None, 1))("c"),
        T.TensorType(dtype, shape=())("s"),
    ]


def _keep(v, f):
    """f(v) for 2-d v, v itself for scalars (axis-based ops)."""
    return f(v) if v.ndim == 2 else v


UNARY = {
    "neg": lambda u: -u,
    "exp_tanh": lambda u: T.exp(T.tanh(u)),
    "tanh": T.tanh,
    "sigmoid_naive": lambda u: 1 / (1 + T.exp(-u)),
    "sigmoid": T.nnet.sigmoid,
    "softplus_naive": lambda u: T.log(1 + T.exp(u)),
    "log_sigmoid": lambda u: T.log(T.nnet.sigmoid(u)),
    "log1p_naive": lambda u: T.log(1 + abs(u)),
    "expm1_naive": lambda u: T.exp(T.tanh(u)) - 1,
    "sqr": lambda u: u**2,
    "cube": lambda u: u**3,
    "sqrt": lambda u: (abs(u) + 0.5) ** 0.5,
    "recip": lambda u: (1 + u * u) ** -1,
    "div_const": lambda u: u / 4.0,
    "div_three": lambda u: u / 3.0,
    "times_one": lambda u: u * 1,
    "plus_zero": lambda u: 0 + u,
    "minus_zero": lambda u: u - 0,
    "pow_one": lambda u: u**1,
    "pow_zero": lambda u: u**0,
    "neg_neg": lambda u: -(-u),
    "fill": lambda u: T.fill(u, 1.5),
    "zeros_like_plus": lambda u: T.zeros_like(u) + u,
    "ones_like_times": lambda u: T.ones_like(u) * u,
    "zero_grad": T.zero_grad,
    "sum_all": T.sum,
    "mean_rows": lambda u: _keep(u, lambda w: T.mean(w, axis=0, keepdims=True)),
    "sum_cols": lambda u: _keep(u, lambda w: T.sum(w, axis=1, keepdims=True)),
    "max_cols": lambda u: _keep(u, lambda w: T.max(w, axis=1, keepdims=True)),
    "logsumexp": lambda u: _keep(u, lambda w: T.log(T.sum(T.exp(w), axis=1, keepdims=True))),
    "softmax": lambda u: _keep(u, T.nnet.softmax),
    "softmax_naive": lambda u: _keep(u, lambda w: T.exp(w) / T.sum(T.exp(w), axis=1, keepdims=True)),
    "log_softmax": lambda u: _keep(u, lambda w: T.log(T.nnet.softmax(w))),
    "double_transpose": lambda u: u.T.T,
    "join_slices": lambda u: _keep(u, lambda w: T.join(0, w[:1], w[1:])),
    "reshape_roundtrip": lambda u: _keep(u, lambda w: T.reshape(T.flatten(w), (w.shape[0], w.shape[1]))),
    "alloc_times": lambda u: _keep(u, lambda w: T.alloc(T.constant(1.5), w.shape[0], w.shape[1]) * w),
    "row_of_fill": lambda u: _keep(u, lambda w: T.fill(w, 0.5)[0].dimshuffle("x", 0) * w),
}

BINARY = {
    "add": lambda u, v: u + v,
    "sub": lambda u, v: u - v,
    "mul": lambda u, v: u * v,
    "div": lambda u, v: u / (1 + v * v),
    "mul_neg": lambda u, v: u * -v,
    "div_neg": lambda u, v: -u / (2 + abs(v)),
    "mul_div": lambda u, v: u * (v / (1.5 + T.tanh(u))),
    "maximum": T.maximum,
    "switch": lambda u, v: T.switch(u > v, u, v),
    "transpose_mul": lambda u, v: (u.T * v.T).T,
    "fill_by": lambda u, v: T.fill(u, v),
    "commuted": lambda u, v: u * v - v * u + u,
}


@st.composite
def programs(draw):
    n = draw(st.integers(1, 6))
    prog = []
    for k in range(n):
        if draw(st.booleans()):
            prog.append(("u", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, 3 + k))))
        else:
            prog.append(("b", draw(st.sampled_from(sorted(BINARY))), draw(st.integers(0, 3 + k)),
                         draw(st.integers(0, 3 + k))))
    return prog


def build(prog, dtype: str):
    inputs = _inputs(dtype)
    pool = list(inputs)
    for step in prog:
        if step[0] == "u":
            pool.append(UNARY[step[1]](pool[step[2]]))
        else:
            pool.append(BINARY[step[1]](pool[step[2]], pool[step[3]]))
    return inputs, pool[-1]


def _values(inputs, seed: int):
    rng = np.random.default_rng(seed)
    return [rng.uniform(-2, 2, size=SHAPES[v.name]).astype(v.dtype) for v in inputs]


def _scale(outputs, inputs, vals) -> float | None:
    """Largest |value| among the reference graph's intermediates; None if one is not finite."""
    fg = FunctionGraph(inputs, outputs)
    allv = [o for n in fg.toposort() for o in n.outputs]
    with np.errstate(all="ignore"):
        got = evaluate(allv, dict(zip(inputs, vals))) if allv else []
    big = 1.0
    for g in got:
        if g.dtype.kind == "f":
            if not np.all(np.isfinite(g)):
                return None
            if g.size:
                big = max(big, float(np.max(np.abs(g))))
    return big


def _check(prog, dtype: str, seed: int, with_grad: bool, uniform: bool = False):
    inputs, out = build(prog, dtype)
    outs = [out]
    if with_grad and out.dtype == dtype:
        proj = np.linspace(0.5, 1.5, int(np.prod(SHAPES["a"]))).reshape(SHAPES["a"]).astype(dtype)
        if uniform or out.ndim != 2:
            cost = T.sum(out * 1.25)  # a uniform cotangent: exercises the fill/alloc rules
        else:
            cost = T.sum(out * T.constant(proj))
        outs += T.grad(cost, inputs, disconnected_inputs="ignore")
    vals = _values(inputs, seed)
    scale = _scale(outs, inputs, vals)
    assume(scale is not None)
    ref = ccgrad.function(inputs, outs, mode="py", optimize=False, on_unused_input="ignore")
    got_f = ccgrad.function(inputs, outs, mode="py", on_unused_input="ignore")
    for o, n in zip(ref.maker.fgraph.outputs, got_f.maker.fgraph.outputs):
        assert n.type == o.type
    assert not {"GradientBlock", "identity"} & set(keys(got_f.maker.fgraph.outputs))
    with np.errstate(all="ignore"):
        want = ref(*vals)
        got = got_f(*vals)
    rtol = 1e-10 if dtype == "float64" else 1e-5
    for w, g, o in zip(want, got, outs):
        assert g.dtype == w.dtype and g.shape == w.shape
        assert_close(g, w, dtype=dtype, scale=scale, rtol=rtol, atol=rtol * 1e-2, what=str(prog))


@settings(max_examples=120, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(), st.integers(0, 2**16), st.booleans())
def test_random_graphs_and_gradients_float64(prog, seed, uniform):
    _check(prog, "float64", seed, with_grad=True, uniform=uniform)


@settings(max_examples=40, deadline=None, derandomize=True,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(programs(), st.integers(0, 2**16))
def test_random_graphs_float32(prog, seed):
    _check(prog, "float32", seed, with_grad=True)


@settings(max_examples=25, deadline=None, derandomize=True)
@given(programs())
def test_random_graphs_optimize_deterministically(prog):
    inputs, out = build(prog, "float64")
    g = T.grad(T.sum(out), inputs, disconnected_inputs="ignore") if out.ndim else [out]
    fg = FunctionGraph(inputs, [out, *g])
    first = debugprint(optimize(fg).outputs, file="str")
    second = debugprint(optimize(fg).outputs, file="str")
    assert first == second
