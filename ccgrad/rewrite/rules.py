"""Pattern helpers shared by the rule tables (canonicalize.py, stabilize.py, specialize.py):
matching elementwise nodes and constants, predicting an elementwise node's type, and building
replacement nodes with exactly the types the rules intend.

Rules build replacements with `mk(name, *inputs)` rather than the user-facing builders: the
builders re-resolve weak (Python-scalar) constants against the operands they see, and a rule that
drops or reorders operands must not change the dtype of what it rebuilds.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, TensorType, Variable, builder
from ccgrad.ops.elemwise import Elemwise, broadcast_static
from ccgrad.ops.scalar import SCALAR_OPS, ScalarOp, cast_op

_OPS: dict[ScalarOp, Elemwise] = {}


def elemwise_op(sop: ScalarOp | str) -> Elemwise:
    """The (shared) Elemwise op of a scalar op or scalar op name."""
    if isinstance(sop, str):
        sop = SCALAR_OPS[sop]
    op = _OPS.get(sop)
    if op is None:
        op = _OPS[sop] = Elemwise(sop)
    return op


def ew(v: Variable, name: str | None = None) -> Apply | None:
    """v's producer when it is an Elemwise node (of scalar op `name`, if given)."""
    o = v.owner
    if o is None or type(o.op) is not Elemwise:
        return None
    if name is not None and o.op.scalar_op.name != name:
        return None
    return o


def owner_is(v: Variable, cls_name: str) -> Apply | None:
    """v's producer when its op class is named `cls_name` (ops owned by other modules are matched
    by name, so a rule never imports a module that may not exist yet)."""
    o = v.owner
    if o is not None and type(o.op).__name__ == cls_name:
        return o
    return None


def uniform(v: Variable):
    """The value of a constant whose elements are all equal (a Python scalar), else None."""
    if not isinstance(v, Constant) or v.data.size == 0:
        return None
    d = v.data
    first = d.reshape(-1)[0]
    if d.size > 1 and not np.all(d == first):
        return None
    return first.item()


def is_const(v: Variable, value) -> bool:
    """True for a constant whose every element equals `value` (never for NaN)."""
    u = uniform(v)
    return u is not None and u == value


def is_scalar_like(v: Variable) -> bool:
    """True when every static dim is 1 (a broadcast scalar)."""
    return all(s == 1 for s in v.type.shape)


def const(value, dtype: str, ndim: int = 0) -> Constant:
    """A (non-weak) constant of `dtype` with `ndim` broadcastable axes."""
    shape = (1,) * ndim
    return Constant(TensorType(dtype, shape=shape), np.full(shape, value, dtype=dtype))


def pad(v: Variable, ndim: int) -> Variable:
    """v with leading broadcastable axes added up to `ndim`."""
    if v.ndim == ndim:
        return v
    return builder("dimshuffle")(v, ("x",) * (ndim - v.ndim) + tuple(range(v.ndim)))


def elemwise_type(sop: ScalarOp | str, inputs: Sequence[Variable]) -> TensorType | None:
    """The type Elemwise{sop} would give these inputs (same ndim), or None when they clash."""
    if isinstance(sop, str):
        sop = SCALAR_OPS[sop]
    if not inputs or any(v.ndim != inputs[0].ndim for v in inputs):
        return None
    if sop.nin >= 0 and len(inputs) != sop.nin:
        return None
    in_dtypes = [v.dtype for v in inputs]
    try:
        sop.check_inputs(in_dtypes)
        shape = broadcast_static(sop.name, inputs)
    except (TypeError, ValueError):
        return None
    return TensorType(sop.out_dtype(in_dtypes), shape=shape)


def mk(sop: ScalarOp | str, *inputs: Variable) -> Variable:
    """Elemwise{sop}(*inputs) without weak-constant re-resolution; inputs are left-padded."""
    op = elemwise_op(sop)
    ndim = max(v.ndim for v in inputs)
    ins = [pad(v, ndim) for v in inputs]
    t = elemwise_type(op.scalar_op, ins)
    if t is None:
        raise TypeError(f"rewrite built an invalid {op} from {[v.type for v in ins]}")
    return Apply(op, ins, [t]).outputs[0]


def cast(v: Variable, dtype: str) -> Variable:
    """v converted to dtype (v itself when it already has it)."""
    if v.dtype == dtype:
        return v
    return mk(cast_op(dtype), v)


def like(v: Variable, t: TensorType) -> Variable | None:
    """v cast to t's dtype when v's static shape already is t's; None otherwise."""
    if v.ndim != t.ndim or v.type.shape != t.shape:
        return None
    return cast(v, t.dtype)


def keep_type(v: Variable, ref: Variable, t: TensorType) -> Variable | None:
    """v as a replacement of type t: v itself (cast) when its shape is t's, else fill(ref, v)
    when ref supplies the static shape v lost (a free broadcast that also keeps the run-time
    shape check); None when neither works."""
    got = like(v, t)
    if got is not None:
        return got
    v = cast(v, t.dtype)
    if v.ndim == ref.ndim and elemwise_type("second", [ref, v]) == t:
        return mk("second", ref, v)
    return None


def same_axis_lengths(a: Variable, b: Variable, ctx) -> bool:
    """True when a and b (same ndim) provably have equal lengths on every axis: equal static
    lengths, or the same symbolic length once `ctx` (the running Rewriter) has rewritten it."""
    for k in range(a.ndim):
        sa, sb = a.type.shape[k], b.type.shape[k]
        if sa is not None and sa == sb:
            continue
        if ctx.final(builder("shape_i")(a, k)) is not ctx.final(builder("shape_i")(b, k)):
            return False
    return True


def is_float(v: Variable) -> bool:
    return v.dtype in dtypes.FLOATS


def drop_axes(v: Variable, axes: Sequence[int]) -> Variable:
    """v without the (broadcastable) `axes`."""
    keep = tuple(i for i in range(v.ndim) if i not in axes)
    return builder("dimshuffle")(v, keep)


# ---------------------------------------------------------------------------------------------
# products and quotients as factor lists


MAX_SPLIT_DEPTH = 8
MAX_FACTORS = 32


def split_factors(v: Variable, depth: int = MAX_SPLIT_DEPTH, budget: list[int] | None = None
                  ) -> tuple[bool, list[Variable], list[Variable]]:
    """(negated, numerator factors, denominator factors) of a float expression built from
    neg, mul and true_div nodes of v's own dtype: v == (-1)**negated * prod(num) / prod(den)
    in real arithmetic.  Anything else is one factor.  At most MAX_FACTORS nodes are opened
    (deeper structure stays as whole factors), so the cost per call is bounded."""
    if budget is None:
        budget = [MAX_FACTORS]
    o = ew(v)
    if o is None or depth == 0 or v.dtype not in dtypes.FLOATS or budget[0] <= 0:
        return False, [v], []
    budget[0] -= 1
    name = o.op.scalar_op.name
    if name == "neg" and o.inputs[0].dtype == v.dtype:
        neg, num, den = split_factors(o.inputs[0], depth - 1, budget)
        return not neg, num, den
    if name in ("mul", "true_div") and all(np.can_cast(i.dtype, v.dtype, "safe") for i in o.inputs):
        parts = [_split_operand(i, v.dtype, depth - 1, budget) for i in o.inputs]
        if name == "true_div":
            (n1, a1, b1), (n2, a2, b2) = parts
            return n1 ^ n2, a1 + b2, b1 + a2
        neg, num, den = False, [], []
        for n2, a, b in parts:
            neg ^= n2
            num += a
            den += b
        return neg, num, den
    return False, [v], []


def _split_operand(i: Variable, dtype: str, depth: int, budget: list[int]
                   ) -> tuple[bool, list[Variable], list[Variable]]:
    """An operand of a float product: split further when it has the product's dtype, else one
    factor converted (exactly: a safe cast) to that dtype."""
    if i.dtype == dtype:
        return split_factors(i, depth, budget)
    if isinstance(i, Constant):
        return False, [Constant(TensorType(dtype, shape=i.type.shape), i.data.astype(dtype))], []
    return False, [cast(i, dtype)], []


def join_factors(neg: bool, num: list[Variable], den: list[Variable], dtype: str) -> Variable:
    """The expression split_factors describes: -(prod(num) / prod(den))."""
    ndim = max([v.ndim for v in num + den] or [0])
    top = num[0] if len(num) == 1 else (mk("mul", *num) if num else const(1, dtype, ndim))
    if den:
        top = mk("true_div", top, den[0] if len(den) == 1 else mk("mul", *den))
    return mk("neg", top) if neg else top


def remove_one(items: list[Variable], v: Variable) -> list[Variable] | None:
    """items without the first occurrence of v (by identity); None when v is absent."""
    for i, u in enumerate(items):
        if u is v:
            return items[:i] + items[i + 1:]
    return None
