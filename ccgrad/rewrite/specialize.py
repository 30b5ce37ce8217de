"""The specialize phase: replace general operations by cheaper equivalents once the graph is
canonical and stable -- constant powers by multiplications and square roots, division by a
constant by multiplication with its reciprocal.  Results agree with the general forms to
rounding (a few ulps), except at the documented edge values (x = -inf for x ** 0.5).
"""

from __future__ import annotations

import weakref

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, FunctionGraph, TensorType, Variable, ancestors
from ccgrad.rewrite.canonicalize import constant_fold, neg_neg
from ccgrad.rewrite.engine import Phase, Rewriter, rule
from ccgrad.rewrite.rules import cast, const, like, mk, uniform
from ccgrad.rewrite.scatter import SCATTER_RULES

MAX_MUL_POWER = 8  # x ** n for integer 2 <= |n| <= 8 becomes multiplications


def _power(x: Variable, n: int) -> Variable:
    """x ** n (n >= 1) by repeated squaring: x**4 = (x*x)*(x*x) with the square shared."""
    if n == 1:
        return x
    half = _power(x, n // 2)
    sq = mk("mul", half, half)
    return mk("mul", sq, x) if n % 2 else sq


@rule("pow_specialize", "pow")
def pow_specialize(node: Apply, ctx: Rewriter):
    """x ** c for a constant c: 2 -> x*x, small integers -> multiplications (by squaring),
    0.5 -> sqrt(x), -0.5 -> 1/sqrt(x), -1 -> 1/x, -n -> 1/x**n (floats only for negative c).
    Edge values: (-inf) ** 0.5 is inf but sqrt(-inf) is NaN; (-0.0) ** 0.5 is 0.0, sqrt gives
    -0.0."""
    x, y = node.inputs
    t = node.outputs[0].type
    c = uniform(y)
    if c is None or isinstance(c, bool):
        return None
    if x.type.shape != t.shape:
        return None  # the constant contributes to the broadcast shape
    xc = cast(x, t.dtype)
    is_float = t.dtype in dtypes.FLOATS
    if float(c).is_integer():
        n = int(c)
        if 1 <= abs(n) <= MAX_MUL_POWER and (n > 0 or is_float):
            p = _power(xc, abs(n))
            return like(p if n > 0 else mk("true_div", const(1, t.dtype, t.ndim), p), t)
        return None
    if not is_float:
        return None
    if c == 0.5:
        return like(mk("sqrt", xc), t)
    if c == -0.5:
        return like(mk("true_div", const(1, t.dtype, t.ndim), mk("sqrt", xc)), t)
    return None


@rule("div_by_constant", "true_div")
def div_by_constant(node: Apply, ctx: Rewriter):
    """a / c -> a * (1/c) for a float constant c whose reciprocal is a normal number (so no
    overflow or denormal appears; the product differs from the quotient by at most an ulp)."""
    a, c = node.inputs
    out = node.outputs[0]
    if out.dtype not in dtypes.FLOATS or not isinstance(c, Constant) or isinstance(a, Constant):
        return None
    data = c.data.astype(out.dtype)
    with np.errstate(all="ignore"):
        inv = np.true_divide(np.ones((), out.dtype), data)
    tiny = np.finfo(out.dtype).tiny
    if data.size == 0 or not np.all(np.isfinite(inv)) or not np.all(np.abs(inv) >= tiny):
        return None
    rc = Constant(TensorType(out.dtype, shape=c.type.shape), inv)
    return like(mk("mul", cast(a, out.dtype), rc), out.type)


_OPTIMIZED_LOOPS: weakref.WeakSet = weakref.WeakSet()  # Scan ops whose inner graph is optimized


@rule("optimize_scan_inner", "Scan")
def optimize_scan_inner(node: Apply, ctx: Rewriter):
    """A Scan's inner graph goes through the whole pipeline (fusion included) once, and the
    non-sequences it no longer reads are dropped from the node (so their outer computation
    becomes dead code)."""
    op = node.op
    if op in _OPTIMIZED_LOOPS:
        return None
    from ccgrad.rewrite import optimize

    fg = optimize(op.fgraph)
    used = {id(v) for v in ancestors(fg.outputs, stop=fg.inputs)}
    first_ns = op.n_seqs + op.n_taps
    keep = [k for k in range(len(fg.inputs)) if k < first_ns or id(fg.inputs[k]) in used]
    outer_keep = [0] + [1 + op.n_seqs + op.n_carries + (k - first_ns) if k >= first_ns else None
                        for k in keep]
    outer = list(node.inputs[: 1 + op.n_seqs + op.n_carries])
    outer += [node.inputs[j] for j in outer_keep[1:] if j is not None]
    extra = {"keep_last": op.keep_last} if hasattr(op, "keep_last") else {}
    new_op = type(op)(FunctionGraph([fg.inputs[k] for k in keep], fg.outputs), op.n_seqs, op.carry_taps,
                      op.n_nit, op.as_while, op.truncate_gradient, op.name, **extra)
    _OPTIMIZED_LOOPS.add(new_op)
    if new_op == op and len(outer) == len(node.inputs):
        _OPTIMIZED_LOOPS.add(op)
        return None
    return new_op.make_node(*outer).outputs


# the scatter rules run here, once canonicalize has flattened every sum
SPECIALIZE_RULES = [constant_fold, neg_neg, pow_specialize, div_by_constant, *SCATTER_RULES, optimize_scan_inner]

SPECIALIZE = Phase("specialize", SPECIALIZE_RULES)
