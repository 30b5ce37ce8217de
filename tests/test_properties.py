"""Property test: random elementwise/reduction expressions agree with numpy.

Hypothesis draws a recipe of 1-6 steps over four inputs (vector, matrix, row, column; float32 or
float64): unary and binary elementwise ops, Python-scalar operands, broadcasting, `T.sum` /
`T.mean` over an axis or all axes, and `.T`.  Each step is applied twice, once to graph
Variables and once to numpy arrays with numpy's own functions, so the numpy side is an
independent evaluation (never an op's `perform`).  The graph is run in py mode, optimized and
not, and compared with numpy in value, dtype and shape.  Domains are kept safe (log of |a|+1,
division by |b|+1, ...) so every value stays finite.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import ccgrad
import ccgrad.tensor as T
from ccgrad.graph import TensorType, Variable
from tests.tolerance import assert_close

R, N = 3, 4  # matrix rows and columns: different, so only static-1 dims broadcast

INPUTS = {  # name: (static shape, runtime shape)
    "x": ((None,), (N,)),
    "m": ((None, None), (R, N)),
    "row": ((1, None), (1, N)),
    "col": ((None, 1), (R, 1)),
}

# Each step: (graph version, numpy version).  Lambdas shared by both sides are plain Python
# arithmetic, which numpy evaluates natively on arrays.
UNARY = {
    "neg": (lambda v: -v, np.negative),
    "abs": (abs, np.abs),
    "sin": (T.sin, np.sin),
    "cos": (T.cos, np.cos),
    "tanh": (T.tanh, np.tanh),
    "arctan": (T.arctan, np.arctan),
    "sigmoid": (T.sigmoid, lambda v: 1 / (1 + np.exp(-v))),
    "softplus": (T.softplus, lambda v: np.logaddexp(0, v)),
    "log_abs1": (lambda v: T.log(abs(v) + 1), lambda v: np.log(np.abs(v) + 1)),
    "log1p_abs": (lambda v: T.log1p(abs(v)), lambda v: np.log(np.abs(v) + 1)),
    "sqrt_abs": (lambda v: T.sqrt(abs(v) + 0.25), lambda v: np.sqrt(np.abs(v) + 0.25)),
    "exp_sin": (lambda v: T.exp(T.sin(v)), lambda v: np.exp(np.sin(v))),
    "expm1_tanh": (lambda v: T.expm1(T.tanh(v)), lambda v: np.exp(np.tanh(v)) - 1),
    "sqr": (T.sqr, lambda v: v * v),
    "clip": (lambda v: T.clip(v, -0.5, 0.5), lambda v: np.clip(v, -0.5, 0.5)),
    "relu": (lambda v: T.maximum(v, 0), lambda v: np.where(v > 0, v, 0 * v)),
    "erf_tanh": (lambda v: T.tanh(T.erf(v)), lambda v: np.tanh(_erf(v))),
}

SCALAR = [  # Python scalars on either side, applied identically to Variables and arrays
    lambda v: v * 0.5,
    lambda v: 0.5 * v,
    lambda v: v + 3,
    lambda v: 2.0 - v,
    lambda v: v / 4,
    lambda v: 1.0 / (abs(v) + 1),
    lambda v: v**2,
    lambda v: v**3,
    lambda v: 3 * v,
    lambda v: v - 1,
    lambda v: (abs(v) + 0.5) ** 1.5,
    lambda v: 2 ** (v * 0.25),
]

BINARY = {
    "add": (lambda a, b: a + b, lambda a, b: a + b),
    "sub": (lambda a, b: a - b, lambda a, b: a - b),
    "mul": (lambda a, b: a * b, lambda a, b: a * b),
    "div": (lambda a, b: a / (abs(b) + 1), lambda a, b: a / (np.abs(b) + 1)),
    "maximum": (T.maximum, np.maximum),
    "minimum": (T.minimum, np.minimum),
    "arctan2": (lambda a, b: T.arctan2(a, abs(b) + 0.5), lambda a, b: np.arctan2(a, np.abs(b) + 0.5)),
    "switch_max": (lambda a, b: T.switch(a > b, a, b), lambda a, b: np.where(a > b, a, b)),
    "hypot1": (lambda a, b: T.sqrt(a * a + b * b + 1), lambda a, b: np.sqrt(np.square(a) + np.square(b) + 1)),
}


def _erf(v):
    """numpy has no erf: Python's math.erf element by element, in the input's dtype."""
    arr = np.asarray(v)
    out = np.array([math.erf(float(e)) for e in arr.ravel()], dtype="float64").reshape(arr.shape)
    return out.astype(arr.dtype)


class Node:
    """One value of the recipe on both sides: graph Variable and numpy array."""

    __slots__ = ("arr", "var")

    def __init__(self, var: Variable, arr):
        self.var = var
        self.arr = np.asarray(arr)


def _static(node: Node) -> tuple:
    return node.var.type.shape


def compatible(a: Node, b: Node) -> bool:
    """Broadcastable under Theano's rule: unequal lengths only where one side has static 1."""
    nd = max(a.arr.ndim, b.arr.ndim)
    sa = (1,) * (nd - a.arr.ndim) + _static(a)
    sb = (1,) * (nd - b.arr.ndim) + _static(b)
    la = (1,) * (nd - a.arr.ndim) + a.arr.shape
    lb = (1,) * (nd - b.arr.ndim) + b.arr.shape
    for x, y, s, t in zip(la, lb, sa, sb):
        if x == y:
            continue
        if not ((x == 1 and s == 1) or (y == 1 and t == 1)):
            return False
    return True


def build(data) -> tuple[list[Variable], list[np.ndarray], Node, list[Node]]:
    """Draw inputs and a recipe; return graph inputs, their values, the result and all nodes."""
    rng = np.random.default_rng(data.draw(st.integers(0, 2**20), label="seed"))
    inputs, values, pool = [], [], []
    for name, (static, shape) in INPUTS.items():
        dtype = data.draw(st.sampled_from(["float64", "float32"]), label=f"dtype {name}")
        var = TensorType(dtype, shape=static)(name)
        val = rng.uniform(-1, 1, size=shape).astype(dtype)
        inputs.append(var)
        values.append(val)
        pool.append(Node(var, val))
    n_ops = data.draw(st.sampled_from([1, 2, 3, 4, 5, 6]), label="n_ops")
    for step in range(n_ops):
        kind = data.draw(st.sampled_from(["unary", "scalar", "binary", "binary", "reduce", "transpose"]), label="kind")
        # Mostly build on the previous step, so the result is a tree of several ops.
        chain = step > 0 and data.draw(st.sampled_from([True, True, False]), label="chain")
        a = pool[-1] if chain else data.draw(st.sampled_from(pool), label="a")
        with np.errstate(all="ignore"):
            if kind == "unary":
                name = data.draw(st.sampled_from(sorted(UNARY)), label="unary")
                tf, nf = UNARY[name]
                new = Node(tf(a.var), nf(a.arr))
            elif kind == "scalar":
                f = data.draw(st.sampled_from(SCALAR), label="scalar")
                new = Node(f(a.var), f(a.arr))
            elif kind == "binary":
                b = data.draw(st.sampled_from([p for p in pool if compatible(a, p)]), label="b")
                name = data.draw(st.sampled_from(sorted(BINARY)), label="binary")
                tf, nf = BINARY[name]
                if data.draw(st.booleans(), label="swap"):
                    a, b = b, a
                new = Node(tf(a.var, b.var), nf(a.arr, b.arr))
            elif kind == "reduce":
                how = data.draw(st.sampled_from(["sum", "mean"]), label="reduce")
                axes = [None] + list(range(a.arr.ndim)) + ([-1] if a.arr.ndim else [])
                axis = data.draw(st.sampled_from(axes), label="axis")
                tf = T.sum if how == "sum" else T.mean
                nf = np.sum if how == "sum" else np.mean
                new = Node(tf(a.var, axis=axis), nf(a.arr, axis=axis))
            else:
                new = Node(a.var.T, a.arr.T)
        pool.append(new)
    return inputs, values, pool[-1], pool


@settings(max_examples=100, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_random_expressions_match_numpy(data):
    inputs, values, out, pool = build(data)
    want = out.arr
    assert np.all(np.isfinite(want)), "the recipe left the safe domain"
    assert out.var.dtype == want.dtype.name, f"type rule {out.var.dtype}, numpy {want.dtype}"
    assert out.var.ndim == want.ndim
    # Rewrites may reassociate: measure errors against the largest intermediate magnitude.
    scale = max(float(np.sum(np.abs(p.arr.astype("float64")))) for p in pool)
    for optimize in (False, True):
        f = ccgrad.function(inputs, out.var, mode="py", on_unused_input="ignore", optimize=optimize)
        got = np.asarray(f(*values))
        assert got.dtype == want.dtype, f"optimize={optimize}: got {got.dtype}, numpy {want.dtype}"
        for axis, s in enumerate(out.var.type.shape):
            assert s is None or got.shape[axis] == s
        assert_close(got, want, scale=np.maximum(np.abs(want), scale), what=f"optimize={optimize}")
