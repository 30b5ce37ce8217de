"""Canonical rules about broadcasting, layout and shapes (part of the canonicalize phase):
fill/alloc elimination and sinking, dimshuffle composition, reductions of broadcasts, symbolic
shapes through infer_shape, subtensor of alloc/fill/join, reshape of reshape.

A fill or alloc only broadcasts a value; every rule here either removes it where the other
operands already imply the shape, or moves it toward the outputs (and past layout changes)
where it meets such operands.  Shapes are resolved symbolically so `x.shape` of an elementwise
result becomes x's own shape and the computation it came from becomes dead code.
"""

from __future__ import annotations

import numpy as np

from ccgrad import dtypes
from ccgrad.graph import Apply, Constant, TensorType, Variable, builder
from ccgrad.ops.reduce import Reduce
from ccgrad.rewrite.engine import Rewriter, rule
from ccgrad.rewrite.rules import cast, drop_axes, elemwise_type, ew, like, mk, owner_is, pad, same_axis_lengths


@rule("remove_specify_shape_like", "SpecifyShapeLike")
def remove_specify_shape_like(node: Apply, ctx: Rewriter):
    """specify_shape_like(x, ref) -> x when x's shape provably equals ref's (statically or as
    the same symbolic expression); otherwise the run-time check (and `ref`) stays."""
    x, ref = node.inputs
    return x if same_axis_lengths(x, ref, ctx) else None


# ---------------------------------------------------------------------------------------------
# fill / alloc


def _broadcast_value(v: Variable) -> Variable | None:
    """The value of a fill/alloc (padded to its ndim): what it broadcasts."""
    o = ew(v, "second")
    if o is not None:
        return o.inputs[1]
    o = owner_is(v, "Alloc")
    if o is not None:
        return pad(o.inputs[0], v.ndim)
    return None


@rule("fill_to_value", "second")
def fill_to_value(node: Apply, ctx: Rewriter):
    """fill(a, b) -> b when b already has the result's type (a's shape is implied)."""
    b = node.inputs[1]
    return b if b.type == node.outputs[0].type else None


@rule("alloc_to_value", "Alloc")
def alloc_to_value(node: Apply, ctx: Rewriter):
    """alloc(v, *shape) -> v when v already has the result's type."""
    v = node.inputs[0]
    return v if v.type == node.outputs[0].type else None


@rule("fill_cut", "Elemwise")
def fill_cut(node: Apply, ctx: Rewriter):
    """op(..., fill(a, b), ...) -> op(..., b, ...) when the other operands imply a's shape
    (same result type); for fill's own shape operand, any operand keeping the type will do."""
    sop = node.op.scalar_op
    t = node.outputs[0].type
    for k, v in enumerate(node.inputs):
        value = _broadcast_value(v)
        if value is None:
            continue
        ins = list(node.inputs)
        ins[k] = value
        if elemwise_type(sop, ins) == t:
            return mk(sop, *ins)
    if sop.name == "second":
        m = node.inputs[0]
        o = ew(m)
        if o is not None:
            for u in o.inputs:
                if elemwise_type(sop, [u, node.inputs[1]]) == t:
                    return mk(sop, u, node.inputs[1])
    return None


@rule("fill_sink", "Elemwise")
def fill_sink(node: Apply, ctx: Rewriter):
    """op(..., fill(a, b), ...) -> fill(a, op(..., b, ...)): broadcasts move toward the outputs,
    where they meet operands that imply their shape (fill_cut) or stay as one final fill."""
    sop = node.op.scalar_op
    if sop.name == "second":
        return None
    t = node.outputs[0].type
    for k, v in enumerate(node.inputs):
        o = ew(v, "second")
        if o is None:
            continue
        ins = list(node.inputs)
        ins[k] = o.inputs[1]
        inner_t = elemwise_type(sop, ins)
        if inner_t is None:
            continue
        inner = mk(sop, *ins)
        if elemwise_type("second", [o.inputs[0], inner]) == t:
            return mk("second", o.inputs[0], inner)
    return None


@rule("fill_model_to_alloc", "second")
def fill_model_to_alloc(node: Apply, ctx: Rewriter):
    """fill(m, v) -> alloc(v, *m.shape) when m is computed by a non-elementwise op: only m's
    shape is needed, and shape rules resolve it without computing m."""
    m, v = node.inputs
    if m.owner is None or type(m.owner.op).__name__ == "Elemwise":
        return None
    if v.broadcastable == node.outputs[0].broadcastable:
        return None  # no broadcasting: the fill only asserts the shape, and fuses for free
    dims = [builder("shape_i")(next(i for i in (m, v) if i.type.shape[k] != 1), k)
            if node.outputs[0].type.shape[k] != 1 else 1 for k in range(m.ndim)]
    return builder("alloc")(v, *dims)


@rule("alloc_sink", "Elemwise")
def alloc_sink(node: Apply, ctx: Rewriter):
    """op(alloc(v, *d), c...) -> alloc(op(v, c...), *d) when the other operands are broadcast
    scalars: the op then runs once per value of v instead of once per element."""
    sop = node.op.scalar_op
    t = node.outputs[0].type
    k = next((i for i, v in enumerate(node.inputs) if owner_is(v, "Alloc") is not None), None)
    if k is None or sop.name == "second":
        return None
    if not all(i == k or all(s == 1 for s in v.type.shape) for i, v in enumerate(node.inputs)):
        return None
    a = node.inputs[k].owner
    ins = list(node.inputs)
    ins[k] = pad(a.inputs[0], t.ndim)
    if elemwise_type(sop, ins) is None:
        return None
    res = builder("alloc")(mk(sop, *ins), *a.inputs[1:])
    return res if res.type == t else None


@rule("dimshuffle_of_broadcast", "DimShuffle")
def dimshuffle_of_broadcast(node: Apply, ctx: Rewriter):
    """dimshuffle(fill(m, v)) -> fill(dimshuffle(m), dimshuffle(v)) and dimshuffle(alloc(v, *d))
    -> alloc(dimshuffle(v), *d'): broadcasts move past layout changes toward their consumers,
    where fill_cut can drop them.  Elementwise ops on broadcast scalars move the same way (so
    dimshuffles of constants meet and fold)."""
    x = node.inputs[0]
    order = node.op.new_order
    ds = builder("dimshuffle")
    o = ew(x, "second")
    if o is None and ew(x) is not None and all(s == 1 for s in x.type.shape):
        o = x.owner  # an elementwise op on broadcast scalars: as cheap to move as a fill
    if o is not None:
        return mk(o.op.scalar_op, *[ds(i, order) for i in o.inputs])
    o = owner_is(x, "Alloc")
    if o is None:
        return None
    v = pad(o.inputs[0], x.ndim)
    if any(v.type.shape[i] != 1 for i in node.op.drop):
        return None
    one = Constant(TensorType("int64", shape=()), 1)
    dims = [one if k == "x" else o.inputs[1 + k] for k in order]
    return builder("alloc")(ds(v, order), *dims)


@rule("reduce_broadcast_axes", "Reduce")
def reduce_broadcast_axes(node: Apply, ctx: Rewriter):
    """Reducing an axis of static length 1 is dropping it: sum(x, axis=0) of a (1, n) x is
    x[0] (cast to the reduction's dtype)."""
    op = node.op
    x = node.inputs[0]
    ones = [a for a in op.axis if x.type.shape[a] == 1]
    if not ones:
        return None
    out = node.outputs[0]
    y = drop_axes(x, ones)
    rest = tuple(a - sum(1 for b in ones if b < a) for a in op.axis if a not in ones)
    if rest:
        y = Reduce(op.kind, rest).make_node(y).outputs[0]
    return like(cast(y, out.dtype), out.type)


@rule("sum_of_fill", "Reduce")
def sum_of_fill(node: Apply, ctx: Rewriter):
    """sum(fill(a, v), axes) -> alloc(v * n, kept dims) when v is constant along the reduced
    axes (n = number of reduced elements); max/min of such a fill is v itself.
    (An empty reduced axis then gives alloc(v*0) for sum -- NaN if v is inf -- and no error for
    max/min.)"""
    op = node.op
    if op.kind not in ("sum", "max", "min"):
        return None
    x = node.inputs[0]
    value = _broadcast_value(x)
    if value is None or any(value.type.shape[a] != 1 for a in op.axis):
        return None
    out = node.outputs[0]
    v = cast(drop_axes(value, op.axis), out.dtype)
    if op.kind == "sum":
        n = None
        for a in op.axis:
            d = builder("shape_i")(x, a)
            n = d if n is None else mk("mul", n, d)
        v = mk("mul", v, cast(n, out.dtype)) if n is not None else v
    kept = [builder("shape_i")(x, a) for a in range(x.ndim) if a not in op.axis]
    res = builder("alloc")(v, *kept) if kept else v
    return res if res.type == out.type else None


# ---------------------------------------------------------------------------------------------
# dimshuffle and shapes


@rule("dimshuffle_dimshuffle", "DimShuffle")
def dimshuffle_dimshuffle(node: Apply, ctx: Rewriter):
    """dimshuffle(dimshuffle(x, p), q) -> dimshuffle(x, p∘q) (nothing when it is the identity)."""
    inner = owner_is(node.inputs[0], "DimShuffle")
    if inner is None:
        return None
    p = inner.op.new_order
    q = node.op.new_order
    composed = tuple("x" if o == "x" else p[o] for o in q)
    return builder("dimshuffle")(inner.inputs[0], composed)


_SAME_SHAPE_OPS = ("GradientBlock", "SpecifyShapeLike")


@rule("shape_i_resolve", "ShapeI")
def shape_i_resolve(node: Apply, ctx: Rewriter):
    """x.shape[i] in terms of the graph's inputs: a constant when static, else walked down
    through elementwise ops (an operand not broadcast on that axis), dimshuffles and shape-keeping
    ops, then one step of the producer's infer_shape."""
    v, k = node.inputs[0], node.op.i
    one = TensorType("int64", shape=())
    while True:
        s = v.type.shape[k]
        if s is not None:
            return Constant(one, s)
        o = v.owner
        if o is None:
            break
        name = type(o.op).__name__
        if name == "Elemwise":
            v = next(i for i in o.inputs if i.type.shape[k] != 1)
        elif name == "DimShuffle":
            k = o.op.new_order[k]
            v = o.inputs[0]
        elif name in _SAME_SHAPE_OPS:
            v = o.inputs[-1] if name == "SpecifyShapeLike" else o.inputs[0]
        else:
            try:
                in_shapes = [tuple(builder("shape_i")(i, a) for a in range(i.ndim)) for i in o.inputs]
                d = o.op.infer_shape(o, in_shapes)[v.index][k]
            except NotImplementedError:
                break
            if isinstance(d, int | np.integer):
                return Constant(one, int(d))
            if d.ndim != 0 or d.dtype not in dtypes.INTS:
                break
            return cast(d, "int64")
    if v is node.inputs[0]:
        return None
    return builder("shape_i")(v, k)


@rule("shape_resolve", "Shape")
def shape_resolve(node: Apply, ctx: Rewriter):
    """x.shape -> a constant when x's static shape is known; else the shape of an operand of
    x's producer with the same broadcast pattern (elementwise ops, shape-keeping ops)."""
    v = node.inputs[0]
    out = node.outputs[0]
    if None not in v.type.shape:
        return Constant(out.type, np.array(v.type.shape, dtype="int64"))
    pattern = v.broadcastable
    u = v
    while u.owner is not None:
        o = u.owner
        name = type(o.op).__name__
        if name == "Elemwise":
            nxt = next((i for i in o.inputs if i.broadcastable == pattern), None)
        elif name in _SAME_SHAPE_OPS:
            nxt = o.inputs[-1] if name == "SpecifyShapeLike" else o.inputs[0]
        else:
            nxt = None
        if nxt is None:
            break
        u = nxt
    return builder("shape")(u) if u is not v else None


# ---------------------------------------------------------------------------------------------
# indexing and reshaping


@rule("subtensor_of_broadcast", "Subtensor")
def subtensor_of_broadcast(node: Apply, ctx: Rewriter):
    """fill(m, v)[idx] -> fill(m[idx], v') and alloc(v, *d)[idx] -> alloc(v', *d') when v is
    constant along every indexed axis: indexing a broadcast only changes its shape.  (An
    out-of-range constant index on such an axis then no longer raises.)"""
    x, *idx = node.inputs
    spec = node.op.spec
    value = _broadcast_value(x)
    if value is None or any(value.type.shape[k] != 1 for k in range(len(spec))):
        return None
    dropped = [k for k, e in enumerate(spec) if not isinstance(e, tuple)]
    v = drop_axes(value, dropped)
    o = ew(x, "second")
    if o is not None:
        return mk("second", type(node.op)(spec).make_node(o.inputs[0], *idx).outputs[0], v)
    a = x.owner
    dims = node.op.infer_shape(node, [tuple(cast(d, "int64") for d in a.inputs[1:])] + [()] * len(idx))[0]
    return builder("alloc")(v, *dims)


@rule("subtensor_of_join", "Subtensor")
def subtensor_of_join(node: Apply, ctx: Rewriter):
    """join(axis, a, b, ...)[..., k, ...] -> the one input holding the constant index k (or the
    constant slice), re-based; the whole input when the slice covers exactly it.  Needs the
    inputs' static lengths along the join axis."""
    x, *idx = node.inputs
    j = owner_is(x, "Join")
    spec = node.op.spec
    if j is None or len(spec) <= j.op.axis or any(e != (None, None, None) for e in spec[: j.op.axis]):
        return None
    axis = j.op.axis
    lengths = [t.type.shape[axis] for t in j.inputs]
    if None in lengths:
        return None
    total = sum(lengths)
    e = spec[axis]
    if isinstance(e, int):
        if not -total <= e < total:
            return None  # out of range: the run-time IndexError stays
        lo = e % total
        hi = lo + 1
    elif isinstance(e, tuple) and e[2] is None and all(isinstance(b, int | type(None)) for b in e[:2]):
        lo, hi, _ = slice(e[0], e[1]).indices(total)
        if hi <= lo:
            return None
    else:
        return None
    start = 0
    for t, n in zip(j.inputs, lengths):
        if start <= lo and hi <= start + n:
            if isinstance(e, int):
                new = lo - start
            else:
                new = (lo - start or None, None if hi - start == n else hi - start, None)
            new_spec = spec[:axis] + (new,) + spec[axis + 1:]
            while new_spec and new_spec[-1] == (None, None, None):
                new_spec = new_spec[:-1]
            if not new_spec:
                return t
            return type(node.op)(new_spec).make_node(t, *idx).outputs[0]
        start += n
    return None


@rule("reshape_reshape", "Reshape")
def reshape_reshape(node: Apply, ctx: Rewriter):
    """reshape(reshape(x, s1), s2) -> reshape(x, s2): same elements, same order."""
    inner = owner_is(node.inputs[0], "Reshape")
    if inner is None:
        return None
    return type(node.op)(node.op.ndim).make_node(inner.inputs[0], *node.inputs[1:]).outputs[0]


@rule("reshape_to_own_shape", "Reshape")
def reshape_to_own_shape(node: Apply, ctx: Rewriter):
    """reshape(x, x.shape) -> x when every target entry is provably x's length on that axis."""
    x, *dims = node.inputs
    if x.ndim != len(dims):
        return None
    for k, d in enumerate(dims):
        if ctx.final(cast(d, "int64")) is not ctx.final(builder("shape_i")(x, k)):
            return None
    return x


LAYOUT_RULES = [
    remove_specify_shape_like,
    fill_to_value,
    alloc_to_value,
    fill_cut,
    fill_model_to_alloc,
    fill_sink,
    alloc_sink,
    reduce_broadcast_axes,
    sum_of_fill,
    dimshuffle_dimshuffle,
    dimshuffle_of_broadcast,
    shape_i_resolve,
    shape_resolve,
    subtensor_of_broadcast,
    subtensor_of_join,
    reshape_reshape,
    reshape_to_own_shape,
]
