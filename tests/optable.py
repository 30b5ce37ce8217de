"""The table-driven op test: data structures and checks shared by every case module.

A Case builds a graph from symbolic inputs and gives an *independent* numpy expression for the
expected value (never the op's own `perform`).  The checks:

- reference: py-mode output equals the numpy expression; the type rule's dtype, ndim and
  broadcastable pattern equal those of the actual output;
- vjp: grad of a random projection of the output agrees with central finite differences;
- jvp: Rop along a random direction agrees with a central finite difference;
- second order: grad of grad and Rop of grad agree with finite differences of the gradient.

Gradient checks run for float64 cases with grad=True, at points the case keeps away from kinks.
"""

from __future__ import annotations

import dataclasses
import importlib
from collections.abc import Callable, Sequence

import numpy as np

import ccgrad
from ccgrad.graph import TensorType, Variable, toposort

CASE_MODULES = ("elemwise", "shape", "subtensor", "arrays", "reduce", "linalg", "nnet", "gradops", "scan",
                "fused")


@dataclasses.dataclass
class Arg:
    """One input: dtype, runtime shape, static shape (None entries = unknown), value range."""

    dtype: str = "float64"
    shape: tuple = (3,)
    static: tuple | None = None  # default: unknown lengths except where shape says 1? no: all None
    low: float = -2.0
    high: float = 2.0
    value: object = None  # explicit value (array-like) instead of random draws
    layout: str = "c"  # 'c' | 'f' (Fortran) | 'strided' (every 2nd) | 'reversed' (negative step)
    name: str | None = None

    def var(self, i: int) -> Variable:
        static = self.static if self.static is not None else (None,) * len(self.shape)
        return TensorType(self.dtype, shape=static)(self.name or f"x{i}")

    def make(self, rng: np.random.Generator) -> np.ndarray:
        if self.value is not None:
            arr = np.array(self.value, dtype=self.dtype)
        elif self.dtype == "bool":
            arr = rng.random(self.shape) < 0.5
        elif np.dtype(self.dtype).kind in "iu":
            arr = rng.integers(int(self.low), int(self.high) + 1, size=self.shape).astype(self.dtype)
        else:
            arr = rng.uniform(self.low, self.high, size=self.shape).astype(self.dtype)
        return relayout(arr, self.layout)


def relayout(arr: np.ndarray, layout: str) -> np.ndarray:
    """The same values in a non-C memory layout (the C backend must handle each)."""
    if arr.ndim == 0:
        return np.array(arr)
    if layout == "c":
        return np.ascontiguousarray(arr)
    if layout == "f":
        return np.asfortranarray(arr)
    if layout == "strided":
        big = np.zeros(tuple(2 * s for s in arr.shape), dtype=arr.dtype)
        view = big[tuple(slice(None, None, 2) for _ in arr.shape)]
        view[...] = arr
        return view
    if layout == "reversed":
        big = np.ascontiguousarray(arr[tuple(slice(None, None, -1) for _ in arr.shape)])
        return big[tuple(slice(None, None, -1) for _ in arr.shape)]
    raise ValueError(layout)


@dataclasses.dataclass
class Case:
    """One row of the op table."""

    id: str
    build: Callable[..., Variable | Sequence[Variable]]
    args: list[Arg]
    ref: Callable[..., object]
    grad: bool = True  # run the finite-difference checks (float64 only)
    second: bool = True  # also second derivatives
    wrt: tuple[int, ...] | None = None  # which args to differentiate (default: all float args)
    rtol: float | None = None
    atol: float | None = None
    fd_tol: float = 1e-5  # finite-difference tolerance (abs and rel)
    expect_error: type | None = None  # the build or evaluation must raise this

    def grad_args(self) -> list[int]:
        if self.wrt is not None:
            return list(self.wrt)
        return [i for i, a in enumerate(self.args) if a.dtype == "float64"]

    def can_grad(self) -> bool:
        return (self.grad and self.expect_error is None and bool(self.grad_args())
                and all(self.args[i].dtype == "float64" for i in self.grad_args()))


def all_cases() -> list[Case]:
    cases: list[Case] = []
    for mod in CASE_MODULES:
        m = importlib.import_module(f"tests.cases.{mod}_cases")
        cases.extend(m.CASES)
    ids = [c.id for c in cases]
    dup = {i for i in ids if ids.count(i) > 1}
    assert not dup, f"duplicate case ids: {sorted(dup)}"
    return cases


def build(case: Case) -> tuple[list[Variable], list[Variable]]:
    inputs = [a.var(i) for i, a in enumerate(case.args)]
    out = case.build(*inputs)
    outs = list(out) if isinstance(out, list | tuple) else [out]
    return inputs, [ccgrad.tensor.as_tensor_variable(o) for o in outs]


def op_keys(outputs: Sequence[Variable]) -> set[str]:
    """Names of the ops in a graph: Elemwise nodes by scalar op, others by class name."""
    from ccgrad.ops.elemwise import Elemwise

    keys = set()
    for node in toposort(list(outputs)):
        if isinstance(node.op, Elemwise):
            keys.add("scalar:" + node.op.scalar_op.name)
        else:
            keys.add(type(node.op).__name__)
    return keys


def ref_outputs(case: Case, values: list[np.ndarray]) -> list[np.ndarray]:
    r = case.ref(*[np.array(v, copy=True) for v in values])
    return [np.asarray(x) for x in (r if isinstance(r, list | tuple) else [r])]


# ---------------------------------------------------------------------------------------------
# finite differences


def _eval(fn, values):
    out = fn(*values)
    return [np.asarray(o, dtype="float64") for o in (out if isinstance(out, list) else [out])]


def fd_vjp(fn, values, idx, proj, eps=1e-6):
    """d/dx_i sum(out * proj) by central differences, for each i in idx."""
    res = []
    for i in idx:
        g = np.zeros(values[i].shape)
        flat = g.reshape(-1)
        for k in range(values[i].size):
            hi = [np.array(v, copy=True) for v in values]
            lo = [np.array(v, copy=True) for v in values]
            hi[i].flat[k] += eps
            lo[i].flat[k] -= eps
            fh = sum(float(np.sum(o * p)) for o, p in zip(_eval(fn, hi), proj))
            fl = sum(float(np.sum(o * p)) for o, p in zip(_eval(fn, lo), proj))
            flat[k] = (fh - fl) / (2 * eps)
        res.append(g)
    return res


def fd_jvp(fn, values, idx, tangents, eps=1e-6):
    hi = [np.array(v, copy=True) for v in values]
    lo = [np.array(v, copy=True) for v in values]
    for i, t in zip(idx, tangents):
        hi[i] = hi[i] + eps * t
        lo[i] = lo[i] - eps * t
    return [(h - low) / (2 * eps) for h, low in zip(_eval(fn, hi), _eval(fn, lo))]


def assert_fd_close(analytic, numeric, tol, what):
    a = np.asarray(analytic, dtype="float64")
    n = np.asarray(numeric, dtype="float64")
    assert a.shape == n.shape, f"{what}: shape {a.shape} != {n.shape}"
    if a.size == 0:
        return
    abs_err = np.abs(a - n)
    rel_err = abs_err / np.maximum(np.abs(a) + np.abs(n), 1e-12)
    bad = (abs_err > tol) & (rel_err > tol)
    bad |= ~np.isfinite(a) & np.isfinite(n)
    assert not np.any(bad), (
        f"{what}: max abs err {abs_err.max():.3g}, max rel err {rel_err[bad].max():.3g}\n"
        f"analytic={a}\nnumeric={n}"
    )
