"""The canonicalize phase: constant folding, algebraic identities, flattened and sorted add/mul
chains, fill/alloc elimination, dimshuffle composition, symbolic shapes, removal of
gradient-only ops.  CSE, constant merging and dead-code removal come from the driver itself
(ccgrad.rewrite.engine).

Rules that do NOT fire, on purpose (documented so nobody "fixes" them):
- `x/x -> 1` and `x-x -> 0`: wrong for x = 0 / inf / NaN;
- `x*0 -> 0` for floats: wrong for inf and NaN;
- `x // 1 -> x` for floats: it is floor(x);
- flattening `a + (b + c)` when the inner sum has a narrower dtype (integer overflow would move);
- neg pulled out of a division or product when the operand's dtype is narrower than the result
  (`-(-128)` wraps in int8).
"""

from __future__ import annotations

import math

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, TensorType, Variable
from ccgrad.rewrite.engine import Phase, Rewriter, rule
from ccgrad.rewrite.layout import LAYOUT_RULES
from ccgrad.rewrite.rules import (
    cast,
    elemwise_type,
    ew,
    is_const,
    like,
    mk,
    uniform,
)

MAX_FOLD_SIZE = 100_000  # never fold to a constant bigger than this many elements
NO_FOLD = frozenset({"Scan"})  # ops that are never evaluated at optimization time
MAX_ARITY = 32  # flattening stops at this many operands (long sums stay chunked: linear cost)

# ---------------------------------------------------------------------------------------------
# constants


@rule("constant_fold", "*")
def constant_fold(node: Apply, ctx: Rewriter):
    """An op applied to constants becomes the constant it computes (through `perform`), unless
    the result is large or only a broadcast of small inputs (those stay lazy, e.g. alloc)."""
    if not node.inputs or not all(isinstance(i, Constant) for i in node.inputs):
        return None
    if type(node.op).__name__ in NO_FOLD or not getattr(node.op, "constant_fold", True):
        return None
    in_size = sum(int(i.data.size) for i in node.inputs)
    sizes = _out_sizes(node)
    if sizes is None or any(s > MAX_FOLD_SIZE or (s > 64 and s > 16 * in_size) for s in sizes):
        return None
    try:
        with np.errstate(all="ignore"):
            results = node.op.perform(node, [i.data for i in node.inputs])
    except Exception:  # the error belongs to run time, where it is reported
        return None
    out = []
    for o, r in zip(node.outputs, results):
        r = np.asarray(r)
        if r.dtype.name != o.dtype or r.ndim != o.ndim:
            return None
        if any(s is not None and s != d for s, d in zip(o.type.shape, r.shape)):
            return None
        out.append(Constant(o.type, r))
    return out


def _out_sizes(node: Apply) -> list[int] | None:
    """Element counts of the node's outputs, from static shapes or infer_shape; None if unknown."""
    if all(None not in o.type.shape for o in node.outputs):
        return [math.prod(o.type.shape) for o in node.outputs]
    one = TensorType("int64", shape=())
    in_shapes = [tuple(Constant(one, d) for d in i.data.shape) for i in node.inputs]
    try:
        shapes = node.op.infer_shape(node, in_shapes)
        from ccgrad.evaluate import evaluate

        sizes = []
        for shp in shapes:
            dims = [d if isinstance(d, int | np.integer) else evaluate([d], {})[0] for d in shp]
            sizes.append(math.prod(int(d) for d in dims))
        return sizes
    except Exception:  # unknown sizes: do not fold
        return None


# ---------------------------------------------------------------------------------------------
# ops that only matter to gradients or checks


@rule("remove_gradient_block", "GradientBlock")
def remove_gradient_block(node: Apply, ctx: Rewriter):
    """zero_grad / disconnected_grad / consider_constant are the identity once grads exist."""
    return node.inputs[0]


_CONVERTS_TO_RESULT = frozenset({"add", "sub", "mul", "true_div", "maximum", "minimum"})


@rule("constant_to_result_dtype", "Elemwise")
def constant_to_result_dtype(node: Apply, ctx: Rewriter):
    """A constant operand of an arithmetic op gets the op's result dtype when that holds its
    value exactly: the op converts its operands to that dtype anyway, and `1 - s` built from
    an int8 1 and from a float 1.0 become one node."""
    sop = node.op.scalar_op
    out = node.outputs[0]
    if sop.name not in _CONVERTS_TO_RESULT or sop.out_dtype([out.dtype]) != out.dtype or out.dtype == "bool":
        return None
    ins = list(node.inputs)
    changed = False
    for k, v in enumerate(ins):
        if isinstance(v, Constant) and v.dtype != out.dtype and np.can_cast(v.dtype, out.dtype, "safe"):
            ins[k] = Constant(TensorType(out.dtype, shape=v.type.shape), v.data.astype(out.dtype))
            changed = True
    if not changed or elemwise_type(sop, ins) != out.type:
        return None
    return mk(sop, *ins)


@rule("remove_identity", "identity")
def remove_identity(node: Apply, ctx: Rewriter):
    """copy(x) -> x (compiled functions never return aliases of their inputs anyway)."""
    return like(node.inputs[0], node.outputs[0].type)


# ---------------------------------------------------------------------------------------------
# add / mul chains


def _assoc(node: Apply, ctx: Rewriter):
    """Flatten nested add (mul) of the same dtype, combine constants into one placed first,
    drop the identity constant, sort the other operands by a stable rank (so a*b and b*a merge).
    mul: a constant -1 becomes a neg."""
    sop = node.op.scalar_op
    out = node.outputs[0]
    terms: list[Variable] = []
    changed = False
    for k, v in enumerate(node.inputs):
        o = ew(v, sop.name)
        if o is not None and v.dtype == out.dtype and len(terms) + len(o.inputs) + len(node.inputs) - k <= MAX_ARITY:
            terms.extend(o.inputs)
            changed = True
        else:
            terms.append(v)
    consts = [t for t in terms if isinstance(t, Constant)]
    rest = [t for t in terms if not isinstance(t, Constant)]
    c: Variable | None = None
    if len(consts) > 1:
        c = _combine(sop.name, consts, out.dtype)
        if c is None:  # combining would overflow or underflow: keep them as operands
            rest = consts + rest
        else:
            changed = True
    elif consts:
        c = consts[0]
    if c is not None and rest and is_const(c, sop.identity):
        got = _without(sop, rest, out.type)
        if got is not None:
            return got
    if c is not None and rest and sop.name == "mul" and is_const(c, -1) and out.dtype != "bool":
        inner = _without(sop, rest, out.type)
        if inner is not None and out.dtype in dtypes.FLOATS + ("int8", "int16", "int32", "int64"):
            return mk("neg", inner)
    ranked = sorted(rest, key=ctx.rank)
    new_inputs = ([c] if c is not None else []) + ranked
    if not changed and all(a is b for a, b in zip(new_inputs, node.inputs)):
        return None
    if len(new_inputs) == 1:
        return like(new_inputs[0], out.type)
    return mk(sop, *new_inputs)


def _combine(name: str, consts: list[Constant], dtype: str) -> Constant | None:
    """The constants added (multiplied) together in the result dtype; None for floats when the
    combined value overflows or underflows to 0 although the parts did not (integers wrap the
    same way in any order)."""
    np_fn = np.add if name == "add" else np.multiply
    with np.errstate(all="ignore"):
        parts = [k.data.astype(dtype) for k in consts]
        data = parts[0]
        for p in parts[1:]:
            data = np_fn(data, p)
    if dtype in dtypes.FLOATS and all(np.all(np.isfinite(p)) for p in parts):
        if not np.all(np.isfinite(data)):
            return None
        if name == "mul" and all(np.all(p != 0) for p in parts) and np.any(data == 0):
            return None
    return Constant(TensorType(dtype, shape=data.shape), data)


def _without(sop, rest: list[Variable], t: TensorType) -> Variable | None:
    """op(*rest) if it has type t (up to a cast of a single operand), else None."""
    if len(rest) == 1:
        return like(rest[0], t)
    if elemwise_type(sop, rest) == t:
        return mk(sop, *rest)
    return None


canon_add = rule("flatten_sort_add", "add")(_assoc)
canon_mul = rule("flatten_sort_mul", "mul")(_assoc)


@rule("mul_neg", "mul")
def mul_neg(node: Apply, ctx: Rewriter):
    """a * (-b) -> -(a * b): negations move out of products (and cancel in pairs)."""
    out = node.outputs[0]
    for k, v in enumerate(node.inputs):
        o = ew(v, "neg")
        if o is not None and v.dtype == out.dtype:
            ins = list(node.inputs)
            ins[k] = o.inputs[0]
            return mk("neg", mk("mul", *ins))
    return None


@rule("mul_div", "mul")
def mul_div(node: Apply, ctx: Rewriter):
    """a * (b / c) -> (a * b) / c for floats: divisions move to the top of a product, so
    gradient expressions such as gz * (1 / y) read gz / y and patterns see one fraction.
    (Rounding differs by an ulp; a * b can overflow only where it exceeds the float range.)"""
    out = node.outputs[0]
    if out.dtype not in dtypes.FLOATS:
        return None
    for k, v in enumerate(node.inputs):
        o = ew(v, "true_div")
        if o is not None and v.dtype == out.dtype:
            ins = list(node.inputs)
            ins[k] = o.inputs[0]
            num = mk("mul", *ins)
            if num.dtype != out.dtype:
                return None
            return mk("true_div", num, o.inputs[1])
    return None


# ---------------------------------------------------------------------------------------------
# sub / neg / div / pow identities


@rule("sub_zero", "sub")
def sub_zero(node: Apply, ctx: Rewriter):
    """x - 0 -> x;  0 - x -> -x."""
    a, b = node.inputs
    t = node.outputs[0].type
    if is_const(b, 0):
        got = like(a, t)
        if got is not None:
            return got
    if is_const(a, 0) and elemwise_type("neg", [cast(b, t.dtype)]) == t:
        return mk("neg", cast(b, t.dtype))
    return None


@rule("neg_neg", "neg")
def neg_neg(node: Apply, ctx: Rewriter):
    """-(-x) -> x."""
    o = ew(node.inputs[0], "neg")
    if o is not None:
        return like(o.inputs[0], node.outputs[0].type)
    return None


@rule("neg_into_const", "neg")
def neg_into_const(node: Apply, ctx: Rewriter):
    """-(c * x) -> (-c) * x  and  -(c / x) -> (-c) / x for a constant c that the result dtype
    holds exactly (the product is computed in that dtype anyway)."""
    v = node.inputs[0]
    out = node.outputs[0]
    for name in ("mul", "true_div"):
        o = ew(v, name)
        if o is None:
            continue
        k = next((i for i, u in enumerate(o.inputs) if isinstance(u, Constant)), None)
        if k is None or (name == "true_div" and k != 0):
            continue
        c = o.inputs[k]
        if not np.can_cast(c.dtype, out.dtype, "safe"):
            continue
        with np.errstate(all="ignore"):
            neg = Constant(TensorType(out.dtype, shape=c.type.shape), np.negative(c.data.astype(out.dtype)))
        return mk(name, neg, *[u for i, u in enumerate(o.inputs) if i != k])
    return None


@rule("div_neg", "true_div")
def div_neg(node: Apply, ctx: Rewriter):
    """(-a) / b -> -(a / b)  and  a / (-b) -> -(a / b), for float operands."""
    a, b = node.inputs
    out = node.outputs[0]
    for k, v in enumerate((a, b)):
        o = ew(v, "neg")
        if o is not None and v.dtype == out.dtype:
            ins = [a, b]
            ins[k] = o.inputs[0]
            return mk("neg", mk("true_div", *ins))
    return None


@rule("div_one", "true_div")
def div_one(node: Apply, ctx: Rewriter):
    """x / 1 -> x (cast to the division's float dtype: exact)."""
    a, b = node.inputs
    if is_const(b, 1):
        return like(a, node.outputs[0].type)
    return None


@rule("int_div_one", "int_div")
def int_div_one(node: Apply, ctx: Rewriter):
    """x // 1 -> x for integers (for floats it is floor(x): untouched)."""
    a, b = node.inputs
    if node.outputs[0].dtype in dtypes.FLOATS or not is_const(b, 1):
        return None
    return like(a, node.outputs[0].type)


def _nonneg(v: Variable) -> bool:
    """True for integer expressions that are never negative: shapes, sums and products of them."""
    if isinstance(v, Constant):
        return v.dtype != "bool" and bool(np.all(v.data >= 0))
    o = v.owner
    if o is None or v.dtype in dtypes.FLOATS:
        return False
    if type(o.op).__name__ == "ShapeI":
        return True
    e = ew(v)
    if e is not None and e.op.scalar_op.name in ("add", "mul", "maximum", "cast"):
        return all(_nonneg(i) for i in e.inputs) and v.dtype != "bool"
    return False


@rule("max_of_nonneg", "maximum")
def max_of_nonneg(node: Apply, ctx: Rewriter):
    """maximum(n, 0) -> n when n is a shape expression (never negative)."""
    a, b = node.inputs
    t = node.outputs[0].type
    for u, c in ((a, b), (b, a)):
        if is_const(c, 0) and _nonneg(u):
            got = like(u, t)
            if got is not None:
                return got
    return None


@rule("pow_one_zero", "pow")
def pow_one_zero(node: Apply, ctx: Rewriter):
    """x ** 1 -> x;  x ** 0 -> fill(x, 1) (also for x = 0, inf, NaN: numpy gives 1)."""
    x, y = node.inputs
    t = node.outputs[0].type
    if is_const(y, 1):
        return like(x, t)
    if is_const(y, 0):
        return mk("second", x, Constant(TensorType(t.dtype, shape=y.type.shape), np.ones(y.data.shape, t.dtype)))
    return None


@rule("switch_const", "switch")
def switch_const(node: Apply, ctx: Rewriter):
    """switch(True, a, b) -> a;  switch(False, a, b) -> b (when the type is unchanged)."""
    c, a, b = node.inputs
    u = uniform(c)
    if u is None:
        return None
    return like(a if u else b, node.outputs[0].type)


@rule("cast_cast", "cast")
def cast_cast(node: Apply, ctx: Rewriter):
    """cast(cast(x, a), b) -> cast(x, b) when x -> a loses nothing."""
    o = ew(node.inputs[0], "cast")
    if o is None:
        return None
    x = o.inputs[0]
    if not np.can_cast(x.dtype, node.inputs[0].dtype, "safe"):
        return None
    return cast(x, node.outputs[0].dtype)


CANONICALIZE_RULES = [
    constant_fold,
    remove_gradient_block,
    remove_identity,
    constant_to_result_dtype,
    *LAYOUT_RULES[:7],  # fill / alloc, before the algebra sees the broadcasts
    canon_add,
    canon_mul,
    mul_neg,
    mul_div,
    sub_zero,
    neg_neg,
    neg_into_const,
    div_neg,
    div_one,
    int_div_one,
    max_of_nonneg,
    pow_one_zero,
    switch_const,
    cast_cast,
    *LAYOUT_RULES[7:],
]

CANONICALIZE = Phase("canonicalize", CANONICALIZE_RULES)
